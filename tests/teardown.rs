//! Teardown: bounded graceful shutdown, nothing of the server left after it, clear errors for
//! calls after it, and clear panics for misuse.

use std::time::Duration;

use common::{BODY_BROKEN, every_transport, http2_transports, in_process_transports};
use rstest::rstest;
use rstest_reuse::apply;
use tokio::time::Instant;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_testkit::server::DEFAULT_GRACE_PERIOD;
use tonic_testkit::{TestChannel, TestServer, Transport};
mod common;

use common::probe;
use tonic_testkit_support::{Probe, ProbeClient, ProbeReply, ProbeRequest};

/// The start of a late call's message (tests/misuse.rs pins it whole).
const SHUT_DOWN: &str = "tonic-testkit: the test server was shut down, so this call cannot";

/// Opens a bidi call and waits for the answer to its first message, so the call is known to be
/// running in the server. The call stays open until the returned sender is dropped.
async fn open_bidi(
    client: &mut ProbeClient<TestChannel>,
    first: &str,
) -> (tokio::sync::mpsc::Sender<ProbeRequest>, tonic::Streaming<ProbeReply>) {
    let (sender, requests) = tokio::sync::mpsc::channel(4);
    sender.send(probe(first, 0)).await.unwrap();
    let mut replies = client
        .bidi(tokio_stream::wrappers::ReceiverStream::new(requests))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(replies.next().await.unwrap().unwrap().text, first);
    (sender, replies)
}

async fn start(transport: Transport, probe: &Probe) -> TestServer {
    TestServer::builder().transport(transport).add_service(probe.server()).start().await
}

#[apply(http2_transports)]
#[tokio::test(start_paused = true)]
async fn shutdown_aborts_a_stuck_handler_after_the_grace_period(transport: Transport) {
    let service = Probe::new();
    let server = start(transport, &service).await;
    let mut client = server.client(ProbeClient::new);
    let call = tokio::spawn(async move { client.unary(probe("hang", 0)).await });
    service.hangs_started(1).await;
    let began = Instant::now();

    server.shutdown().await;

    assert_eq!(began.elapsed(), DEFAULT_GRACE_PERIOD, "{transport}");
    assert_eq!(service.dropped_hangs(), 1, "{transport}: the handler outlived shutdown()");
    // As when a real server dies mid-call: the connection breaks under the call.
    let status = call.await.unwrap().unwrap_err();
    assert_eq!(
        (status.code(), status.message()),
        (Code::Unknown, "transport error"),
        "{transport}"
    );
}

#[apply(http2_transports)]
#[tokio::test(start_paused = true)]
async fn shutdown_closes_an_open_bidi_stream_after_the_grace_period(transport: Transport) {
    let service = Probe::new();
    let server = TestServer::builder()
        .transport(transport)
        .add_service(service.server())
        .grace_period(Duration::from_millis(250))
        .start()
        .await;
    let mut client = server.client(ProbeClient::new);
    let (sender, mut replies) = open_bidi(&mut client, "first").await;
    let began = Instant::now();

    server.shutdown().await;

    assert_eq!(began.elapsed(), Duration::from_millis(250), "{transport}");
    assert_eq!(service.dropped_hangs(), 1, "{transport}: the bidi stream outlived shutdown()");
    let end = replies.next().await;
    assert!(matches!(end, Some(Err(_))), "{transport}: the client stream ended with {end:?}");
    drop(sender);
}

#[apply(http2_transports)]
#[tokio::test(start_paused = true)]
async fn shutdown_lets_a_call_in_progress_finish_within_the_grace_period(transport: Transport) {
    let service = Probe::new();
    let server = start(transport, &service).await;
    let mut client = server.client(ProbeClient::new);
    // A bidi call that has answered is known to be in the server; then the slow call starts on
    // the same connection and the test yields until the bidi stream is confirmed.
    let (sender, mut replies) = open_bidi(&mut client, "open").await;
    let mut slow_client = client.clone();
    let slow = tokio::spawn(async move { slow_client.unary(probe("sleep:300", 0)).await });
    sender.send(probe("after slow call", 0)).await.unwrap();
    assert_eq!(replies.next().await.unwrap().unwrap().text, "after slow call");
    drop(sender); // the bidi call ends; only the slow call is left
    assert!(replies.next().await.is_none());
    let began = Instant::now();

    server.shutdown().await;

    // Graceful: shutdown returns as soon as the slow call is done, not at the end of the grace.
    assert_eq!(slow.await.unwrap().unwrap().into_inner().text, "slept 300 ms", "{transport}");
    assert!(began.elapsed() < DEFAULT_GRACE_PERIOD, "{transport}: waited {:?}", began.elapsed());
}

#[apply(every_transport)]
#[tokio::test]
async fn calls_after_shutdown_are_unavailable_and_say_why(transport: Transport) {
    let server = start(transport, &Probe::new()).await;
    let mut used = server.client(ProbeClient::new);
    used.unary(probe("warm", 0)).await.unwrap();
    let mut unused = server.client(ProbeClient::new);

    server.shutdown().await;

    // At the first try: a channel that made calls answers for the server it knows is gone,
    // before its connection has seen the server go.
    for client in [&mut used, &mut unused] {
        let status = client.unary(probe("late", 0)).await.unwrap_err();
        assert_eq!(status.code(), Code::Unavailable, "{transport}: {status:?}");
        assert!(status.message().starts_with(SHUT_DOWN), "{transport}: {status:?}");
    }
}

#[tokio::test]
async fn the_tcp_port_is_closed_after_shutdown() {
    let server = start(Transport::Tcp, &Probe::new()).await;
    let addr = server.local_addr().unwrap();

    server.shutdown().await;

    let refused = tokio::net::TcpStream::connect(addr).await.unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
}

#[apply(every_transport)]
#[tokio::test]
async fn dropping_the_server_shuts_it_down(transport: Transport) {
    let service = Probe::new();
    let server = start(transport, &service).await;
    let mut used = server.client(ProbeClient::new);
    used.unary(probe("warm", 0)).await.unwrap();
    let mut unused = server.client(ProbeClient::new);

    drop(server);

    for client in [&mut used, &mut unused] {
        let status = client.unary(probe("late", 0)).await.unwrap_err();
        assert_eq!(status.code(), Code::Unavailable, "{transport}: {status:?}");
        assert!(status.message().starts_with(SHUT_DOWN), "{transport}: {status:?}");
    }
}

/// A current-thread runtime, as a test makes one by hand.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// How long the tests below wait for a `shutdown()` whose grace period is 50 ms before they
/// call it hung: a bound on a hang, far above what the shutdown takes.
const HUNG: Duration = Duration::from_secs(10);

#[apply(http2_transports)]
fn shutdown_from_another_runtime_returns_while_the_servers_runtime_is_idle(transport: Transport) {
    // The server's runtime made a call, then stopped being driven: its tasks cannot run.
    let idle = runtime();
    let server = idle.block_on(async {
        let server = TestServer::builder()
            .transport(transport)
            .add_service(Probe::new().server())
            .grace_period(Duration::from_millis(50))
            .start()
            .await;
        server.client(ProbeClient::new).unary(probe("a", 0)).await.unwrap();
        server
    });

    let done = runtime().block_on(async { tokio::time::timeout(HUNG, server.shutdown()).await });

    assert!(done.is_ok(), "{transport}: shutdown() had not returned after {HUNG:?}");
}

#[test]
fn shutdown_returns_with_a_channel_made_on_another_runtime_that_went_idle() {
    let server_runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let server = server_runtime.block_on(
        TestServer::builder()
            .transport(Transport::Memory)
            .add_service(Probe::new().server())
            .grace_period(Duration::from_millis(50))
            .start(),
    );
    // The channel's own tasks stay on this runtime, which is not driven once the call is done.
    runtime().block_on(async {
        server.client(ProbeClient::new).unary(probe("a", 0)).await.unwrap();
    });

    let done =
        server_runtime.block_on(async { tokio::time::timeout(HUNG, server.shutdown()).await });

    assert!(done.is_ok(), "shutdown() had not returned after {HUNG:?}");
}

// Not over TCP: its listener's task runs on the server's runtime, which must be driven to
// accept a connection.
#[apply(in_process_transports)]
fn calls_from_another_runtime_leave_no_task_on_the_servers_runtime(transport: Transport) {
    let server_runtime = runtime();
    let server = server_runtime.block_on(start(transport, &Probe::new()));
    let before = server_runtime.metrics().num_alive_tasks();

    runtime().block_on(async {
        let mut client = server.client(ProbeClient::new);
        for _ in 0..100 {
            client.unary(probe("a", 0)).await.unwrap();
        }
    });

    let after = server_runtime.metrics().num_alive_tasks();
    assert_eq!(after, before, "{transport}: tasks left on the server's runtime");
    server_runtime.block_on(server.shutdown());
}

#[tokio::test]
#[should_panic(expected = "TestServer::shutdown() was called twice; the server was already shut \
down by the first call. Call it once, at the end of the test (dropping the server also shuts it \
down).")]
async fn shutdown_twice_panics() {
    let server = start(Transport::Memory, &Probe::new()).await;
    server.shutdown().await;

    server.shutdown().await;
}

#[tokio::test]
#[should_panic(expected = "TestServer::builder() was started with no services: add the service \
under test with .add_service(..) (or a Stub with .add_stub(..)) before .start()")]
async fn starting_without_services_panics() {
    let _server = TestServer::builder().start().await;
}

#[test]
#[should_panic(expected = "the service probe.Probe was added to this TestServer twice; add each \
service once (one instance serves every call to it)")]
fn adding_a_service_twice_panics() {
    let probe = Probe::new();
    let _builder = TestServer::builder().add_service(probe.server()).add_service(probe.server());
}

#[tokio::test]
async fn shutdown_cuts_off_a_direct_call_in_progress() {
    let service = Probe::new();
    let server = start(Transport::Direct, &service).await;
    let mut client = server.client(ProbeClient::new);
    let call = tokio::spawn(async move { client.unary(probe("hang", 0)).await });
    service.hangs_started(1).await;

    server.shutdown().await;

    // The call runs in the test's task; it ends there, as a wire call ends when its server dies.
    let status = call.await.unwrap().unwrap_err();
    assert_eq!((status.code(), status.message()), (Code::Unknown, "transport error"));
    assert_eq!(service.dropped_hangs(), 1);
}

#[tokio::test]
async fn shutdown_cuts_off_an_open_direct_bidi_stream() {
    let service = Probe::new();
    let server = start(Transport::Direct, &service).await;
    let mut client = server.client(ProbeClient::new);
    let (sender, mut replies) = open_bidi(&mut client, "first").await;

    server.shutdown().await;

    // What a tonic client reads when its server dies in the middle of a response stream.
    let status = replies.next().await.unwrap().unwrap_err();
    assert_eq!((status.code(), status.message()), (Code::Unknown, BODY_BROKEN));
    assert_eq!(service.dropped_hangs(), 1, "the bidi handler's stream was not dropped");
    drop(sender);
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn shutdown_ends_a_call_whose_client_dropped_its_response_after_the_grace_period(
    transport: Transport,
) {
    let service = Probe::new();
    let server = TestServer::builder()
        .transport(transport)
        .add_service(service.server())
        .grace_period(Duration::from_millis(250))
        .start()
        .await;
    let mut client = server.client(ProbeClient::new);
    let (sender, replies) = open_bidi(&mut client, "first").await;
    // The request stream stays open, so the call goes on in the server.
    drop(replies);
    let began = Instant::now();

    server.shutdown().await;

    assert_eq!(began.elapsed(), Duration::from_millis(250), "{transport}");
    assert_eq!(service.dropped_hangs(), 1, "{transport}: the bidi stream outlived shutdown()");
    assert_eq!(server.calls()[0].code(), Some(Code::Cancelled), "{transport}");
    let closed = tokio::time::timeout(Duration::from_secs(10), sender.closed()).await;
    assert!(closed.is_ok(), "{transport}: the client's request stream outlived shutdown()");
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn shutdown_reports_a_panic_of_a_call_whose_client_dropped_its_response(
    transport: Transport,
) {
    let service = Probe::new();
    let server = start(transport, &service).await;
    let mut client = server.client(ProbeClient::new);
    let (sender, replies) = open_bidi(&mut client, "first").await;
    drop(replies);
    sender.send(probe("panic:boom", 0)).await.unwrap();
    server.wait_for_ended_calls(1).await;

    let shutdown = tokio::spawn(async move { server.shutdown().await }).await;

    let payload = shutdown.expect_err("shutdown must fail the test").into_panic();
    assert_eq!(
        common::panic_text(payload),
        "tonic-testkit: the test server caught a panic:
  - the response stream of /probe.Probe/Bidi panicked: boom (the client was answered INTERNAL)
Fix the code that panicked; if the test provokes a handler panic on purpose, take it with \
`server.take_panics()` and assert on it.
The server saw 1 call:
  1. /probe.Probe/Bidi: Internal \"the response stream of /probe.Probe/Bidi panicked: boom\", 2 \
requests (19 bytes), 1 response (7 bytes)",
        "{transport}"
    );
    drop(sender);
}
