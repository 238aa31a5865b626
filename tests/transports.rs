//! Round trips over every transport: all four RPC shapes, several channels and reconnects,
//! concurrency, the TCP address, and what a real server hop does to a request (extensions,
//! peer address, deadline) in every transport, direct included.

use std::time::Duration;

use rstest::rstest;
use tokio_stream::StreamExt;
use tonic::{Code, Request};
use tonic_testkit::{TestChannel, TestServer, Transport};
use tonic_testkit_support::{ClientMarker, Probe, ProbeClient, ProbeRequest};

fn probe(text: &str, count: u32) -> ProbeRequest {
    ProbeRequest { text: text.to_owned(), count }
}

async fn start(transport: Transport) -> (TestServer, ProbeClient<TestChannel>) {
    let server =
        TestServer::builder().transport(transport).add_service(Probe::new().server()).start().await;
    let client = server.client(ProbeClient::new);
    (server, client)
}

#[rstest]
#[tokio::test]
async fn all_four_rpc_shapes_round_trip(
    #[values(Transport::Direct, Transport::Memory, Transport::Tcp)] transport: Transport,
) {
    let (server, mut client) = start(transport).await;

    let unary = client.unary(probe("one", 0)).await.unwrap().into_inner();
    let sent = tokio_stream::iter([probe("a", 0), probe("b", 0), probe("c", 0)]);
    let gathered = client.client_stream(sent).await.unwrap().into_inner();
    let replies: Vec<_> = client
        .server_stream(probe("", 3))
        .await
        .unwrap()
        .into_inner()
        .map(|reply| reply.unwrap().text)
        .collect()
        .await;
    let echoes: Vec<_> = client
        .bidi(tokio_stream::iter([probe("x", 0), probe("y", 0)]))
        .await
        .unwrap()
        .into_inner()
        .map(|reply| reply.unwrap())
        .map(|reply| (reply.text, reply.index))
        .collect()
        .await;

    assert_eq!(unary.text, "one", "{transport}");
    assert_eq!((gathered.text.as_str(), gathered.index), ("a,b,c", 3), "{transport}");
    assert_eq!(replies, ["reply 0", "reply 1", "reply 2"], "{transport}");
    assert_eq!(echoes, [("x".to_owned(), 0), ("y".to_owned(), 1)], "{transport}");
    server.shutdown().await;
}

#[rstest]
#[tokio::test]
async fn client_request_extensions_do_not_reach_the_handler(
    #[values(Transport::Direct, Transport::Memory, Transport::Tcp)] transport: Transport,
) {
    let (server, mut client) = start(transport).await;
    let mut request = Request::new(probe("marker", 0));
    request.extensions_mut().insert(ClientMarker);

    let reply = client.unary(request).await.unwrap().into_inner();

    assert_eq!(reply.text, "marker absent", "{transport}");
    server.shutdown().await;
}

#[rstest]
#[tokio::test]
async fn handlers_see_a_loopback_peer_address(
    #[values(Transport::Direct, Transport::Memory, Transport::Tcp)] transport: Transport,
) {
    let (server, mut client) = start(transport).await;

    let peer = client.unary(probe("peer", 0)).await.unwrap().into_inner().text;
    let local = client.unary(probe("local", 0)).await.unwrap().into_inner().text;

    assert!(peer.starts_with("Some(127.0.0.1:"), "{transport}: remote_addr() was {peer}");
    let expected_local = match server.local_addr() {
        Some(addr) => format!("Some({addr})"),
        None => "Some(127.0.0.1:50051)".to_owned(),
    };
    assert_eq!(local, expected_local, "{transport}");
    server.shutdown().await;
}

#[rstest]
#[tokio::test(start_paused = true)]
async fn an_expired_deadline_is_cancelled_as_a_tonic_server_does(
    #[values(Transport::Direct, Transport::Memory, Transport::Tcp)] transport: Transport,
) {
    let (server, mut client) = start(transport).await;
    let mut request = Request::new(probe("sleep:200", 0));
    request.set_timeout(Duration::from_millis(50));

    let status = client.unary(request).await.unwrap_err();

    assert_eq!(status.code(), Code::Cancelled, "{transport}: {status:?}");
    assert_eq!(status.message(), "Timeout expired", "{transport}");
    server.shutdown().await;
}

#[rstest]
#[tokio::test(start_paused = true)]
async fn a_deadline_that_is_met_lets_the_call_finish(
    #[values(Transport::Direct, Transport::Memory, Transport::Tcp)] transport: Transport,
) {
    let (server, mut client) = start(transport).await;
    let mut request = Request::new(probe("sleep:20", 0));
    request.set_timeout(Duration::from_millis(50));

    let reply = client.unary(request).await.unwrap().into_inner();

    assert_eq!(reply.text, "slept 20 ms", "{transport}");
    server.shutdown().await;
}

#[rstest]
#[tokio::test]
async fn an_unknown_method_is_unimplemented(
    #[values(Transport::Direct, Transport::Memory, Transport::Tcp)] transport: Transport,
) {
    let server = TestServer::builder()
        .transport(transport)
        .add_service(tonic_testkit_examples_free_service())
        .start()
        .await;
    let mut client = server.client(ProbeClient::new);

    let status = client.unary(probe("x", 0)).await.unwrap_err();

    assert_eq!(status.code(), Code::Unimplemented, "{transport}: {status:?}");
    server.shutdown().await;
}

/// A server without the probe service: any router-accepted service will do.
fn tonic_testkit_examples_free_service() -> impl Clone
+ Send
+ Sync
+ 'static
+ tonic::server::NamedService
+ tower::Service<
    http::Request<tonic::body::Body>,
    Response = http::Response<tonic::body::Body>,
    Error = std::convert::Infallible,
    Future: Send + 'static,
> {
    #[derive(Clone)]
    struct Other;
    impl tonic::server::NamedService for Other {
        const NAME: &'static str = "other.Other";
    }
    impl tower::Service<http::Request<tonic::body::Body>> for Other {
        type Response = http::Response<tonic::body::Body>;
        type Error = std::convert::Infallible;
        type Future = std::future::Ready<Result<Self::Response, Self::Error>>;
        fn poll_ready(
            &mut self,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Self::Error>> {
            std::task::Poll::Ready(Ok(()))
        }
        fn call(&mut self, _: http::Request<tonic::body::Body>) -> Self::Future {
            std::future::ready(Ok(tonic::Status::internal("other").into_http()))
        }
    }
    Other
}
