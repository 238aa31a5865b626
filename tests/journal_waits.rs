//! Waiting for calls to end (grpcio's `rpc.termination()` and `rpc.cancelled()`): woken by the
//! journal as each call ends, never by polling, and bounded on the tokio clock, on every
//! transport.

mod common;

use std::{
    future::IntoFuture,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll, Wake, Waker},
    time::Duration,
};

use common::every_transport;
use common::{probe, start};
use rstest::rstest;
use rstest_reuse::apply;
use tokio::time::Instant;
use tonic::{Code, Request};
use tonic_testkit::{TestServer, Transport, assert_status};
use tonic_testkit_support::{Probe, ProbeClient, ProbeReply};

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn a_wait_for_ended_calls_returns_as_the_last_of_them_ends(transport: Transport) {
    let (server, client) = start(transport).await;
    for ms in [200, 100] {
        let mut client = client.clone();
        tokio::spawn(async move { client.unary(probe(&format!("sleep:{ms}"), 0)).await });
    }
    let started = Instant::now();

    let calls = server.wait_for_ended_calls(2).await;

    assert_eq!(started.elapsed(), Duration::from_millis(200), "{transport}");
    let texts: Vec<String> = calls.iter().map(|call| call.response::<ProbeReply>(0).text).collect();
    assert_eq!(texts, ["slept 200 ms", "slept 100 ms"], "{transport}");
    assert!(calls.iter().all(|call| call.code() == Some(Code::Ok)), "{transport}");
    server.shutdown().await;
}

/// Counts the wakes of the task it wakes.
#[derive(Default)]
struct Wakes(AtomicUsize);

impl Wake for Wakes {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn a_wait_is_woken_by_the_end_of_a_call_and_by_nothing_before(transport: Transport) {
    let (server, mut client) = start(transport).await;
    let call = tokio::spawn(async move { client.unary(probe("sleep:100", 0)).await });
    let wakes = Arc::new(Wakes::default());
    let waker = Waker::from(wakes.clone());
    let mut wait = server.wait_for_ended_calls(1).into_future();

    let first = wait.as_mut().poll(&mut Context::from_waker(&waker));
    tokio::time::sleep(Duration::from_millis(99)).await;
    let woken_while_running = wakes.0.load(Ordering::SeqCst);
    call.await.unwrap().unwrap();

    assert!(first.is_pending(), "{transport}");
    assert_eq!(woken_while_running, 0, "{transport}: nothing wakes the wait while calls run");
    assert_eq!(wakes.0.load(Ordering::SeqCst), 1, "{transport}: the call's end woke it");
    let Poll::Ready(calls) = wait.as_mut().poll(&mut Context::from_waker(&waker)) else {
        panic!("{transport}: the wait must be over once the call has ended");
    };
    assert_eq!(calls.len(), 1, "{transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn a_wait_that_does_not_end_fails_with_the_calls_still_running(transport: Transport) {
    let (server, mut client) = start(transport).await;
    client.unary(probe("done", 0)).await.unwrap();
    tokio::spawn(async move { client.unary(probe("hang", 0)).await });
    let server = Arc::new(server);
    let started = Instant::now();

    let wait = {
        let server = server.clone();
        tokio::spawn(async move { server.wait_for_ended_calls(2).await })
    };
    let line = line!() - 2;

    let payload = wait.await.expect_err("the wait must fail the test").into_panic();
    assert_eq!(started.elapsed(), tonic_testkit::journal::DEFAULT_WAIT_TIMEOUT, "{transport}");
    assert_eq!(
        common::panic_text(payload),
        format!(
            "tonic-testkit: server.wait_for_ended_calls(2) at tests/journal_waits.rs:{line}:42 \
             waited 10s (tokio time) for 2 calls to end; 1 ended, and 1 is still running. End \
             the calls the test leaves open (drop a call's future or response stream, close its \
             request stream), wait for fewer, or allow more time with `.timeout(..)`.
The server saw 2 calls:
  1. /probe.Probe/Unary: Ok, 1 request (6 bytes), 1 response (6 bytes)
  2. /probe.Probe/Unary: still running, 1 request (6 bytes), 0 responses"
        ),
        "{transport}"
    );
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn a_wait_for_cancelled_calls_returns_once_the_client_went_away_and_the_handler_was_dropped(
    transport: Transport,
) {
    let probe_service = Probe::new();
    let server = TestServer::builder()
        .transport(transport)
        .add_service(probe_service.server())
        .start()
        .await;
    let mut client = server.client(ProbeClient::new);
    let unary = {
        let mut client = client.clone();
        tokio::spawn(async move { client.unary(probe("hang", 0)).await })
    };
    // One reply, then the stream stays open.
    let mut replies = client.server_stream(probe("endless", 1)).await.unwrap().into_inner();
    replies.message().await.unwrap().unwrap();
    probe_service.hangs_started(2).await;

    unary.abort();
    drop(replies);
    let cancelled = server.wait_for_cancelled_calls(2).await;

    let mut methods: Vec<&str> = cancelled.iter().map(|call| call.method()).collect();
    methods.sort_unstable();
    assert_eq!(methods, ["/probe.Probe/ServerStream", "/probe.Probe/Unary"], "{transport}");
    for call in &cancelled {
        assert_status!(call.status().unwrap(), Code::Cancelled; "{transport}");
    }
    assert_eq!(probe_service.dropped_hangs(), 2, "{transport}: both handlers were dropped");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn a_call_past_its_deadline_is_not_cancelled_by_its_client(transport: Transport) {
    let (server, mut client) = start(transport).await;
    let mut request = Request::new(probe("hang", 0));
    request.set_timeout(Duration::from_millis(50));
    let _ = client.unary(request).await;
    let server = Arc::new(server);

    let wait = {
        let server = server.clone();
        tokio::spawn(async move {
            server.wait_for_cancelled_calls(1).timeout(Duration::from_secs(1)).await
        })
    };
    let line = line!() - 3;

    let payload = wait.await.expect_err("the wait must fail the test").into_panic();
    assert_eq!(
        common::panic_text(payload),
        format!(
            "tonic-testkit: server.wait_for_cancelled_calls(1) at \
             tests/journal_waits.rs:{line}:20 waited 1s (tokio time) for 1 call to be cancelled \
             by the client; 0 were, and 0 are still running. A call is cancelled by its client \
             when the client drops it (its future or its response stream) before it ends: drop \
             it, or allow more time with `.timeout(..)`.
The server saw 1 call:
  1. /probe.Probe/Unary: Cancelled \"Timeout expired\", 1 request (6 bytes), 0 responses"
        ),
        "{transport}"
    );
    server.shutdown().await;
}

#[tokio::test]
#[should_panic(expected = "tonic-testkit: server.wait_for_ended_calls(2) can never return: the \
                           journal keeps 1 calls, and a wait counts the calls it keeps; raise \
                           it with `TestServerBuilder::journal_limit(n)`")]
async fn a_wait_for_more_calls_than_the_journal_keeps_fails_at_once() {
    let server = TestServer::builder()
        .transport(Transport::Memory)
        .add_service(Probe::new().server())
        .journal_limit(1)
        .start()
        .await;

    let _wait = server.wait_for_ended_calls(2);
}

#[tokio::test]
async fn a_wait_for_calls_that_already_ended_returns_at_once() {
    let (server, mut client) = start(Transport::Direct).await;
    client.unary(probe("a", 0)).await.unwrap();
    client.unary(probe("b", 0)).await.unwrap();

    let calls = server.wait_for_ended_calls(1).await;

    assert_eq!(calls.len(), 2, "every call that ended, not only the first");
    assert!(server.wait_for_cancelled_calls(0).await.is_empty());
    server.shutdown().await;
}
