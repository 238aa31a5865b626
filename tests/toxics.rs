//! Connection toxics: latency, jitter, bandwidth, resets and black holes on the bytes of memory
//! and TCP connections, each pinned on the paused tokio clock; and their refusal over Direct,
//! which has no connections.

mod common;

use std::time::Duration;

use common::http2_transports;
use common::{TRANSPORT_ERROR, peer, probe, serve, with_timeout};
use prost::Message;
use rstest::rstest;
use rstest_reuse::apply;
use tokio::time::{Instant, sleep, timeout};
use tonic::Code;
use tonic_testkit::{Faults, Transport, assert_status, collect};
use tonic_testkit_support::{ProbeClient, ProbeRequest};

#[test]
#[should_panic(expected = "ConnectionToxics::bandwidth(0) would pass nothing: for a connection \
that swallows bytes use .black_hole()")]
fn a_bandwidth_of_zero_is_rejected() {
    Faults::new().connections().bandwidth(0);
}

#[tokio::test]
#[should_panic(expected = "Faults::connections acts on connections, and this Faults is attached \
to a Transport::Direct server, which has none: run the test over Transport::Memory or \
Transport::Tcp")]
async fn connections_with_a_direct_server_attached_panics() {
    let faults = Faults::new();
    let (_server, _client) = serve(&faults, Transport::Direct).await;

    faults.connections().latency(Duration::from_millis(10));
}

#[apply(http2_transports)]
#[tokio::test(start_paused = true)]
async fn upstream_and_downstream_latency_add_up_and_clear_removes_them(transport: Transport) {
    let faults = Faults::new();
    let (server, mut client) = serve(&faults, transport).await;
    client.unary(probe("a", 0)).await.unwrap(); // connect first

    faults.connections().upstream().latency(Duration::from_millis(30));
    faults.connections().downstream().latency(Duration::from_millis(20));
    let started = Instant::now();
    client.unary(probe("a", 0)).await.unwrap();
    let slowed = started.elapsed();
    faults.clear();
    let started = Instant::now();
    client.unary(probe("a", 0)).await.unwrap();

    assert_eq!(slowed, Duration::from_millis(50), "over {transport}");
    assert_eq!(started.elapsed(), Duration::ZERO, "over {transport}");
    assert_eq!(server.calls()[1].duration(), Some(Duration::ZERO), "over {transport}");
    server.shutdown().await;
}

/// The durations of five unary calls on an open connection with latency and jitter both ways.
async fn jittered_calls(transport: Transport, seed: u64) -> Vec<Duration> {
    let faults = Faults::with_seed(seed);
    let (server, mut client) = serve(&faults, transport).await;
    client.unary(probe("a", 0)).await.unwrap(); // connect first
    faults.connections().latency(Duration::from_millis(10)).jitter(Duration::from_millis(40));
    let mut durations = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        client.unary(probe("a", 0)).await.unwrap();
        durations.push(started.elapsed());
    }
    server.shutdown().await;
    durations
}

#[apply(http2_transports)]
#[tokio::test(start_paused = true)]
async fn jitter_stays_within_its_bounds_and_repeats_for_the_same_seed(transport: Transport) {
    let first = jittered_calls(transport, 3).await;
    let second = jittered_calls(transport, 3).await;

    assert_eq!(first, second, "over {transport}");
    // 10 ms each way, plus up to 40 ms of jitter each way.
    let bounds = Duration::from_millis(20)..=Duration::from_millis(100);
    assert!(first.iter().all(|duration| bounds.contains(duration)), "{transport}: {first:?}");
    assert!(first.iter().any(|duration| *duration != first[0]), "{transport}: {first:?}");
}

#[apply(http2_transports)]
#[tokio::test(start_paused = true)]
async fn bandwidth_paces_a_stream_by_its_size(transport: Transport) {
    let faults = Faults::new();
    let (server, mut client) = serve(&faults, transport).await;
    client.unary(probe("a", 0)).await.unwrap(); // connect first
    faults.connections().downstream().bandwidth(1_000);
    let started = Instant::now();

    let stream = client.server_stream(probe("tick", 100)).await.unwrap().into_inner();
    let outcome = collect(stream).await;

    let elapsed = started.elapsed();
    // Each gRPC message is a 5-byte prefix and the encoded reply: 1,688 bytes in all, 1.688 s at
    // 1,000 bytes a second. HTTP/2 adds frame headers and the HPACK-encoded response headers and
    // trailers; their size varies by a few dozen bytes (hyper's `date` header follows the real
    // clock, and is sent in full or as an index depending on whether the second changed), so the
    // time is pinned to within 100 bytes' worth.
    let payload: usize = outcome.messages().iter().map(|reply| 5 + reply.encoded_len()).sum();
    assert_eq!((outcome.messages().len(), payload), (100, 1_688), "over {transport}");
    let fastest = Duration::from_millis(1_688);
    let slowest = Duration::from_millis(1_788);
    assert!((fastest..=slowest).contains(&elapsed), "over {transport}: {elapsed:?}");
    server.shutdown().await;
}

#[apply(http2_transports)]
#[tokio::test(start_paused = true)]
async fn reset_after_bytes_breaks_the_call_and_the_next_call_reconnects(transport: Transport) {
    let faults = Faults::new();
    let (server, mut client) = serve(&faults, transport).await;
    let before = peer(&mut client).await;
    // Any answer's first bytes (an HTTP/2 frame header is 9 bytes, its payload more) pass 10.
    faults.connections().downstream().reset_after_bytes(10);

    let reset = client.unary(probe("a", 0)).await;
    faults.clear();
    let after = peer(&mut client).await;

    assert_status!(reset, Code::Unknown, TRANSPORT_ERROR);
    assert_ne!(before, after, "over {transport}: the next call used the reset connection");
    server.shutdown().await;
}

#[apply(http2_transports)]
#[tokio::test(start_paused = true)]
async fn reset_after_breaks_a_call_when_the_connection_reaches_that_age(transport: Transport) {
    let faults = Faults::new();
    let (server, mut client) = serve(&faults, transport).await;
    faults.connections().reset_after(Duration::from_millis(100));
    let started = Instant::now();

    // The connection opens with this call, which the probe never answers.
    let reset = client.unary(probe("hang", 0)).await;
    let elapsed = started.elapsed();
    faults.clear();
    let answered = client.unary(probe("a", 0)).await;

    assert_status!(reset, Code::Unknown, TRANSPORT_ERROR);
    assert_eq!(elapsed, Duration::from_millis(100), "over {transport}");
    assert_eq!(answered.unwrap().into_inner().text, "a", "over {transport}");
    let call = &server.calls()[0];
    assert_status!(call.status().unwrap(), Code::Cancelled; "{transport}");
    server.shutdown().await;
}

#[apply(http2_transports)]
#[tokio::test(start_paused = true)]
async fn a_black_hole_swallows_a_call_until_its_deadline(transport: Transport) {
    let faults = Faults::new();
    let (server, mut client) = serve(&faults, transport).await;
    client.unary(probe("a", 0)).await.unwrap(); // connect first
    faults.connections().black_hole();
    let started = Instant::now();

    let swallowed = client.unary(with_timeout("a", Duration::from_millis(100))).await;
    let elapsed = started.elapsed();
    faults.clear();
    // A new channel: the black-holed connection is reset when the black hole is lifted (see
    // a_lifted_black_hole_resets_the_connection_it_swallowed_from).
    let mut fresh = server.client(ProbeClient::new);
    let answered = fresh.unary(probe("b", 0)).await;

    assert_status!(swallowed, Code::Cancelled, "Timeout expired");
    assert_eq!(elapsed, Duration::from_millis(100), "over {transport}");
    assert_eq!(answered.unwrap().into_inner().text, "b", "over {transport}");
    // The swallowed call never reached the services.
    let texts: Vec<String> =
        server.calls().iter().map(|call| call.request::<ProbeRequest>(0).text).collect();
    assert_eq!(texts, ["a", "b"], "over {transport}");
    server.shutdown().await;
}

/// An hour of tokio time: on the paused clock, as long as a test can wait for nothing.
const AN_HOUR: Duration = Duration::from_secs(3_600);

#[apply(http2_transports)]
#[tokio::test(start_paused = true)]
async fn a_latency_for_good_holds_the_answer_instead_of_breaking_the_connection(
    transport: Transport,
) {
    let faults = Faults::new();
    let (server, mut client) = serve(&faults, transport).await;
    client.unary(probe("a", 0)).await.unwrap(); // connect first
    faults.connections().downstream().latency(Duration::MAX);
    let started = Instant::now();

    let held = timeout(AN_HOUR, client.unary(probe("b", 0))).await;

    assert!(held.is_err(), "over {transport}: the answer was not held: {held:?}");
    assert_eq!(started.elapsed(), AN_HOUR, "over {transport}");
    // The call reached the service; only its answer is held.
    assert_eq!(server.calls()[1].request::<ProbeRequest>(0).text, "b", "over {transport}");
    server.shutdown().await;
}

#[apply(http2_transports)]
#[tokio::test(start_paused = true)]
async fn a_jitter_for_good_holds_the_answer_instead_of_breaking_the_connection(
    transport: Transport,
) {
    let faults = Faults::with_seed(1);
    let (server, mut client) = serve(&faults, transport).await;
    client.unary(probe("a", 0)).await.unwrap(); // connect first
    faults.connections().downstream().jitter(Duration::MAX);
    let started = Instant::now();

    let held = timeout(AN_HOUR, client.unary(probe("b", 0))).await;

    assert!(held.is_err(), "over {transport}: the answer was not held: {held:?}");
    assert_eq!(started.elapsed(), AN_HOUR, "over {transport}");
    server.shutdown().await;
}

#[apply(http2_transports)]
#[tokio::test(start_paused = true)]
async fn reset_after_for_good_never_resets_the_connection(transport: Transport) {
    let faults = Faults::new();
    let (server, mut client) = serve(&faults, transport).await;
    faults.connections().reset_after(Duration::MAX);

    let before = peer(&mut client).await;
    sleep(AN_HOUR).await;
    let after = peer(&mut client).await;

    assert_eq!(before, after, "over {transport}: the connection was reset");
    server.shutdown().await;
}

#[tokio::test]
#[should_panic(expected = "Faults with connection toxics were attached to a Transport::Direct \
server, which has no connections: run the test over Transport::Memory or Transport::Tcp, or clear \
the toxics")]
async fn toxics_on_a_direct_server_panic_at_start() {
    let faults = Faults::new();
    faults.connections().latency(Duration::from_millis(10));

    let _server = serve(&faults, Transport::Direct).await;
}

#[apply(http2_transports)]
#[tokio::test(start_paused = true)]
async fn a_reset_timer_set_on_an_idle_connection_runs_from_the_connections_start(
    transport: Transport,
) {
    let faults = Faults::new();
    let (server, mut client) = serve(&faults, transport).await;
    let before = peer(&mut client).await;

    // Set at the connection's 80 ms mark, the toxic wakes the idle connection and resets it at
    // its 100 ms mark, quietly; counted from when it was set, it would not act before the
    // clear at 110 ms.
    sleep(Duration::from_millis(80)).await;
    faults.connections().reset_after(Duration::from_millis(100));
    sleep(Duration::from_millis(30)).await;
    faults.clear();
    let after = peer(&mut client).await;

    assert_ne!(before, after, "a new connection over {transport}");
    server.shutdown().await;
}

#[apply(http2_transports)]
#[tokio::test(start_paused = true)]
async fn a_lifted_black_hole_resets_the_connection_it_swallowed_from(transport: Transport) {
    let faults = Faults::new();
    let (server, mut client) = serve(&faults, transport).await;
    let before = peer(&mut client).await;
    faults.connections().black_hole();
    client.unary(with_timeout("a", Duration::from_millis(100))).await.unwrap_err();

    faults.clear();
    // The call already on its way meets the reset; the channel then reconnects.
    let lost = client.unary(probe("b", 0)).await;
    let after = peer(&mut client).await;

    // What a tonic client reports for a call on a connection reset under it.
    match transport {
        Transport::Memory => assert_status!(lost, Code::Cancelled, "operation was canceled"),
        _ => assert_status!(lost, Code::Unknown, TRANSPORT_ERROR),
    };
    assert_ne!(before, after, "a new connection over {transport}");
    server.shutdown().await;
}
