//! rstest fixtures: sync and async fixtures that build a server and client, the crate's
//! `transport` fixture, and one test body run over every transport with `#[values]`.

mod common;

use common::every_transport;
use rstest::{fixture, rstest};
use rstest_reuse::apply;
use tonic_testkit::fixtures::transport;
use tonic_testkit::{TestChannel, TestServer, Transport};
use tonic_testkit_support::{Probe, ProbeClient, ProbeRequest};

#[fixture]
fn probe() -> Probe {
    Probe::new()
}

#[fixture]
async fn server(transport: Transport, probe: Probe) -> TestServer {
    TestServer::builder().transport(transport).add_service(probe.server()).start().await
}

/// A sync fixture: a configured builder that a test can extend before starting it.
#[fixture]
fn builder(probe: Probe) -> tonic_testkit::TestServerBuilder {
    TestServer::builder().add_service(probe.server())
}

/// An async fixture that hands out the server and a ready client.
#[fixture]
async fn connected(#[future] server: TestServer) -> (TestServer, ProbeClient<TestChannel>) {
    let server = server.await;
    let client = server.client(ProbeClient::new);
    (server, client)
}

fn hello() -> ProbeRequest {
    ProbeRequest { text: "hello".to_owned(), count: 0 }
}

#[rstest]
fn the_transport_fixture_follows_the_environment(transport: Transport) {
    assert_eq!(transport, Transport::from_env());
}

#[rstest]
#[tokio::test]
async fn a_future_fixture_is_awaited_in_the_body(#[future] server: TestServer) {
    let server = server.await;
    let mut client = server.client(ProbeClient::new);

    let reply = client.unary(hello()).await.unwrap().into_inner();

    assert_eq!(reply.text, "hello");
    assert_eq!(server.transport(), Transport::from_env());
    server.shutdown().await;
}

#[rstest]
#[tokio::test]
#[awt]
async fn awt_awaits_the_fixture_before_the_body(#[future] server: TestServer) {
    let mut client: ProbeClient<TestChannel> = server.client(ProbeClient::new);

    let reply = client.unary(hello()).await.unwrap().into_inner();

    assert_eq!(reply.text, "hello");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn one_body_runs_over_every_transport(transport: Transport, probe: Probe) {
    let server = server(transport, probe).await;
    let mut client = server.client(ProbeClient::new);

    let reply = client.unary(hello()).await.unwrap().into_inner();

    assert_eq!(reply.text, "hello", "{transport}");
    assert_eq!(server.transport(), transport);
    server.shutdown().await;
}

#[rstest]
#[tokio::test]
async fn a_sync_fixture_hands_a_builder_to_extend(builder: tonic_testkit::TestServerBuilder) {
    let server = builder.transport(Transport::Direct).start().await;
    let mut client = server.client(ProbeClient::new);

    let reply = client.unary(hello()).await.unwrap().into_inner();

    assert_eq!((reply.text.as_str(), server.transport()), ("hello", Transport::Direct));
    server.shutdown().await;
}

#[rstest]
#[tokio::test]
#[awt]
async fn an_async_fixture_hands_a_server_and_a_ready_client(
    #[future] connected: (TestServer, ProbeClient<TestChannel>),
) {
    let (server, mut client) = connected;

    let reply = client.unary(hello()).await.unwrap().into_inner();

    assert_eq!(reply.text, "hello");
    server.shutdown().await;
}
