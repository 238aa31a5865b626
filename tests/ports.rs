//! free_port: a port for an outside process to bind, and why test servers never need it.

use std::net::{Ipv4Addr, TcpListener};

use tonic_testkit::server::free_port;
use tonic_testkit::{TestServer, Transport};
use tonic_testkit_support::{Probe, ProbeClient};

mod common;

#[test]
fn a_free_port_can_be_bound_by_the_process_it_is_handed_to() {
    let port = free_port();

    // Stands in for the outside process binding the port it was told to use.
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port));

    assert_ne!(port, 0);
    assert_eq!(listener.unwrap().local_addr().unwrap().port(), port);
}

#[tokio::test]
async fn a_tcp_test_server_keeps_its_port_while_it_runs() {
    let server = TestServer::builder()
        .transport(Transport::Tcp)
        .add_service(Probe::new().server())
        .start()
        .await;
    let addr = server.local_addr().unwrap();

    // The kernel chose the port and the server holds it: nobody else can bind it.
    let taken = TcpListener::bind(addr);
    let mut client = server.client(ProbeClient::new);

    assert_eq!(taken.unwrap_err().kind(), std::io::ErrorKind::AddrInUse);
    client
        .unary(common::probe("still mine", 0))
        .await
        .expect("the server still answers on its port");
    server.shutdown().await;
}
