//! Round trips over every transport: all four RPC shapes, several channels and reconnects,
//! concurrency, the TCP address, and what a real server hop does to a request (extensions,
//! peer address, deadline) in every transport, direct included.

use std::time::Duration;

use common::{every_transport, http2_transports, in_process_transports};
use rstest::rstest;
use rstest_reuse::apply;
use tokio_stream::StreamExt;
use tonic::{Code, Request};
use tonic_testkit::{TestChannel, TestServer, Transport};
mod common;

use common::{probe, start};
use tonic_testkit_support::{ClientMarker, Probe, ProbeClient};

#[apply(every_transport)]
#[tokio::test]
async fn all_four_rpc_shapes_round_trip(transport: Transport) {
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

#[apply(every_transport)]
#[tokio::test]
async fn client_request_extensions_do_not_reach_the_handler(transport: Transport) {
    let (server, mut client) = start(transport).await;
    let mut request = Request::new(probe("marker", 0));
    request.extensions_mut().insert(ClientMarker);

    let reply = client.unary(request).await.unwrap().into_inner();

    assert_eq!(reply.text, "marker absent", "{transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn handlers_see_a_loopback_peer_address(transport: Transport) {
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

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn an_expired_deadline_is_cancelled_as_a_tonic_server_does(transport: Transport) {
    let (server, mut client) = start(transport).await;
    let mut request = Request::new(probe("sleep:200", 0));
    request.set_timeout(Duration::from_millis(50));

    let status = client.unary(request).await.unwrap_err();

    assert_eq!(status.code(), Code::Cancelled, "{transport}: {status:?}");
    assert_eq!(status.message(), "Timeout expired", "{transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn a_deadline_that_is_met_lets_the_call_finish(transport: Transport) {
    let (server, mut client) = start(transport).await;
    let mut request = Request::new(probe("sleep:20", 0));
    request.set_timeout(Duration::from_millis(50));

    let reply = client.unary(request).await.unwrap().into_inner();

    assert_eq!(reply.text, "slept 20 ms", "{transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn an_unknown_method_is_unimplemented(transport: Transport) {
    let server = TestServer::builder()
        .transport(transport)
        .add_service(a_service_other_than_probe())
        .start()
        .await;
    let mut client = server.client(ProbeClient::new);

    let status = client.unary(probe("x", 0)).await.unwrap_err();

    assert_eq!(status.code(), Code::Unimplemented, "{transport}: {status:?}");
    server.shutdown().await;
}

/// A server without the probe service: any router-accepted service will do.
fn a_service_other_than_probe() -> impl Clone
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

#[apply(every_transport)]
#[tokio::test]
async fn each_channel_gets_its_own_connection(transport: Transport) {
    let (server, mut first) = start(transport).await;
    let mut second = server.client(ProbeClient::new);
    let mut first_clone = first.clone();

    let a = first.unary(probe("peer", 0)).await.unwrap().into_inner().text;
    let b = second.unary(probe("peer", 0)).await.unwrap().into_inner().text;
    let a_again = first_clone.unary(probe("peer", 0)).await.unwrap().into_inner().text;

    assert_ne!(a, b, "{transport}: two channels share a peer address");
    assert_eq!(a, a_again, "{transport}: clones of one channel should share its connection");
    server.shutdown().await;
}

#[apply(http2_transports)]
#[tokio::test]
async fn a_channel_reconnects_after_its_connection_is_dropped(transport: Transport) {
    let (server, mut client) = start(transport).await;
    let before = client.unary(probe("peer", 0)).await.unwrap().into_inner().text;

    assert_eq!(server.drop_connections(), 1, "{transport}");
    // The first call may be the one that finds the old connection gone; the next reconnects.
    let after = match client.unary(probe("peer", 0)).await {
        Ok(reply) => reply.into_inner().text,
        Err(_) => client.unary(probe("peer", 0)).await.unwrap().into_inner().text,
    };

    assert_ne!(before, after, "{transport}: the call after the drop used the old connection");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_calls_on_one_channel_all_succeed(transport: Transport) {
    let (server, client) = start(transport).await;
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..500 {
        let mut client = client.clone();
        calls.spawn(async move { client.unary(probe(&format!("call {i}"), 0)).await });
    }

    let mut texts: Vec<_> =
        calls.join_all().await.into_iter().map(|reply| reply.unwrap().into_inner().text).collect();

    texts.sort_by_key(|text| text[5..].parse::<u32>().unwrap());
    let expected: Vec<_> = (0..500).map(|i| format!("call {i}")).collect();
    assert_eq!(texts, expected, "{transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_servers_start_concurrently(transport: Transport) {
    let mut servers = tokio::task::JoinSet::new();
    for i in 0..200 {
        servers.spawn(async move {
            let (server, mut client) = start(transport).await;
            let reply = client.unary(probe(&format!("server {i}"), 0)).await;
            server.shutdown().await;
            reply.map(|reply| reply.into_inner().text)
        });
    }

    let results = servers.join_all().await;

    let failures: Vec<_> = results.iter().filter(|result| result.is_err()).collect();
    assert!(failures.is_empty(), "{transport}: {} of 200 failed: {failures:?}", failures.len());
    let mut texts: Vec<_> = results.into_iter().map(Result::unwrap).collect();
    texts.sort();
    texts.dedup();
    assert_eq!(texts.len(), 200, "{transport}: each server answered its own call");
}

#[tokio::test]
async fn a_tcp_server_is_reachable_from_a_plain_tonic_client_at_its_real_address() {
    let (server, _) = start(Transport::Tcp).await;
    let addr = server.local_addr().unwrap();
    let uri = server.uri().unwrap();

    let mut outside = ProbeClient::connect(uri.to_string()).await.unwrap();
    let reply = outside.unary(probe("local", 0)).await.unwrap().into_inner();

    assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");
    assert_eq!(uri.to_string(), format!("http://{addr}/"));
    assert_eq!(reply.text, format!("Some({addr})"));
    server.shutdown().await;
}

#[apply(in_process_transports)]
#[tokio::test]
async fn in_process_transports_have_no_address(transport: Transport) {
    let (server, _) = start(transport).await;

    assert_eq!((server.local_addr(), server.uri()), (None, None), "{transport}");
    assert_eq!(server.transport(), transport);
}

#[test]
fn servers_and_channels_can_move_into_spawned_tasks() {
    fn send_sync_static<T: Send + Sync + 'static>() {}
    send_sync_static::<TestServer>();
    send_sync_static::<TestChannel>();
    send_sync_static::<ProbeClient<TestChannel>>();
}

/// What a layer reads of a request: the URI's scheme and authority, and the headers a tonic
/// channel sets.
type Seen = (Option<String>, Option<String>, Vec<Option<String>>);

async fn seen_by_a_layer(transport: Transport, user_agent: Option<&str>) -> Seen {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let record = seen.clone();
    let layer = tower::layer::layer_fn(move |service| {
        let record = record.clone();
        tower::util::MapRequest::new(service, move |request: http::Request<tonic::body::Body>| {
            let header = |name: &str| {
                let value = request.headers().get(name);
                value.map(|value| value.to_str().unwrap().to_owned())
            };
            let headers = ["user-agent", "te", "content-type"].map(header).to_vec();
            let uri = request.uri();
            let origin =
                (uri.scheme_str().map(str::to_owned), uri.authority().map(|a| a.to_string()));
            *record.lock().unwrap() = Some((origin.0, origin.1, headers));
            request
        })
    });
    let server = TestServer::builder()
        .transport(transport)
        .add_service(Probe::new().server())
        .layer(layer)
        .start()
        .await;
    let mut request = Request::new(probe("a", 0));
    if let Some(agent) = user_agent {
        request.metadata_mut().insert("user-agent", agent.parse().unwrap());
    }
    server.client(ProbeClient::new).unary(request).await.unwrap();
    server.shutdown().await;
    let seen = seen.lock().unwrap().take();
    seen.expect("the layer saw the call")
}

#[rstest]
#[tokio::test]
async fn a_layer_sees_over_direct_the_request_a_tonic_channel_sends_over_memory(
    #[values(None, Some("orders-app/2.1"))] user_agent: Option<&str>,
) {
    let direct = seen_by_a_layer(Transport::Direct, user_agent).await;
    let memory = seen_by_a_layer(Transport::Memory, user_agent).await;
    let tcp = seen_by_a_layer(Transport::Tcp, user_agent).await;

    assert_eq!(direct, memory);
    assert_eq!(tcp.2, memory.2, "TCP's headers");
    assert_eq!(tcp.0, memory.0, "TCP's scheme");
    let agent = match user_agent {
        Some(own) => format!("{own} tonic/0.14.9"),
        None => "tonic/0.14.9".to_owned(),
    };
    let expected =
        vec![Some(agent), Some("trailers".to_owned()), Some("application/grpc".to_owned())];
    assert_eq!(memory, (Some("http".to_owned()), Some("localhost".to_owned()), expected));
}
