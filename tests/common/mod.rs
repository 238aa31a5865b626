//! Helpers shared by the integration tests.

#![allow(dead_code)] // each test file uses its own subset

use tonic_testkit::{TestChannel, TestServer, Transport};
use tonic_testkit_support::{Probe, ProbeClient, ProbeRequest};

/// A probe request; the text chooses what the probe service does.
pub fn probe(text: &str, count: u32) -> ProbeRequest {
    ProbeRequest { text: text.to_owned(), count }
}

/// A server for a fresh probe over `transport`, and a client.
pub async fn start(transport: Transport) -> (TestServer, ProbeClient<TestChannel>) {
    let server =
        TestServer::builder().transport(transport).add_service(Probe::new().server()).start().await;
    let client = server.client(ProbeClient::new);
    (server, client)
}
