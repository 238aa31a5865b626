//! `collect`: a response stream read to its end, its first error, a limit or a timeout, from a
//! handler called directly and from a client over every transport.

mod common;

use std::time::Duration;

use common::{every_transport, http2_transports};
use common::{probe, start};
use rstest::rstest;
use rstest_reuse::apply;
use tonic::{Code, Status};
use tonic_testkit::{
    StreamOutcome, TestRequest, Transport, assert_metadata, assert_status, collect,
};
use tonic_testkit_support::{Probe, ProbeReply, ProbeService, ReplyStream};

fn texts(outcome: &StreamOutcome<ProbeReply>) -> Vec<&str> {
    outcome.messages().iter().map(|reply| reply.text.as_str()).collect()
}

async fn handler_stream(text: &str, count: u32) -> ReplyStream {
    let request = TestRequest::new(probe(text, count));
    Probe::new().server_stream(request.into()).await.unwrap().into_inner()
}

/// The panic message of a task that panicked.
async fn panic_of(task: tokio::task::JoinHandle<()>) -> String {
    let payload = task.await.expect_err("the task should have panicked").into_panic();
    match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => payload.downcast::<&str>().map(|m| m.to_string()).unwrap(),
    }
}

#[tokio::test]
async fn a_handler_stream_is_collected_to_its_ok_end() {
    let stream = handler_stream("tick", 3).await;

    let outcome = collect(stream).await;

    assert_eq!(texts(&outcome), ["reply 0", "reply 1", "reply 2"]);
    assert_status!(outcome, Code::Ok, "");
}

#[apply(every_transport)]
#[tokio::test]
async fn a_client_stream_is_collected_to_its_ok_end(transport: Transport) {
    let (server, mut client) = start(transport).await;
    let stream = client.server_stream(probe("tick", 3)).await.unwrap().into_inner();

    let outcome = collect(stream).await;

    assert_eq!(texts(&outcome), ["reply 0", "reply 1", "reply 2"], "over {transport}");
    assert_eq!(outcome.status().code(), Code::Ok, "over {transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn the_first_error_ends_the_outcome_with_its_status_and_trailers(transport: Transport) {
    let (server, mut client) = start(transport).await;
    let stream = client.server_stream(probe("fail-at:2", 5)).await.unwrap().into_inner();

    let outcome = collect(stream).await;

    assert_eq!(texts(&outcome), ["reply 0", "reply 1"], "over {transport}");
    assert_status!(outcome, Code::Aborted, "failed at reply 2");
    assert_metadata!(outcome, "x-failed-at", "2");
    server.shutdown().await;
}

#[tokio::test]
async fn items_after_an_error_are_not_collected() {
    let reply = |index| Ok(ProbeReply { text: format!("reply {index}"), index });
    let items = [reply(0), Err(Status::data_loss("lost")), reply(1)];

    let outcome = collect(tokio_stream::iter(items)).await;

    assert_eq!(texts(&outcome), ["reply 0"]);
    assert_status!(outcome, Code::DataLoss, "lost");
}

#[tokio::test]
async fn a_limit_stops_an_endless_handler_stream_and_drops_it() {
    let probe_service = Probe::new();
    let request = TestRequest::new(probe("endless", 10));
    let stream = probe_service.server_stream(request.into()).await.unwrap().into_inner();

    let outcome = collect(stream).limit(4).await;

    assert_eq!(texts(&outcome), ["reply 0", "reply 1", "reply 2", "reply 3"]);
    assert!(outcome.end().is_none(), "a limited outcome has no end: {outcome:?}");
    assert_eq!(probe_service.dropped_hangs(), 1, "the rest of the stream was dropped");
}

#[apply(every_transport)]
#[tokio::test]
async fn a_limit_stops_an_endless_client_stream(transport: Transport) {
    let (server, mut client) = start(transport).await;
    let stream = client.server_stream(probe("endless", 10)).await.unwrap().into_inner();

    let outcome = collect(stream).limit(2).await;

    assert_eq!(texts(&outcome), ["reply 0", "reply 1"], "over {transport}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_stream_that_ends_before_the_limit_is_collected_to_its_end() {
    let stream = handler_stream("tick", 2).await;

    let outcome = collect(stream).limit(5).await;

    assert_eq!(texts(&outcome), ["reply 0", "reply 1"]);
    assert_status!(outcome, Code::Ok);
}

#[tokio::test]
#[should_panic(
    expected = "the stream was collected with `.limit(1)` and stopped before it ended, so it has \
                no status; use `.end()`, or collect it without a limit"
)]
async fn the_status_of_a_limited_outcome_is_a_clear_panic() {
    let stream = handler_stream("endless", 3).await;

    let outcome = collect(stream).limit(1).await;

    outcome.status();
}

#[tokio::test(start_paused = true)]
#[should_panic(
    expected = "did not end within 2s (tokio time); it sent 3 messages, the last: ProbeReply { \
                text: \"reply 2\", index: 2 }.\nIf the stream never ends by design, collect a \
                fixed number of messages with `.limit(n)`; if it is slow, allow it more time \
                with `.timeout(..)`."
)]
async fn a_stream_that_never_ends_fails_within_the_timeout() {
    let stream = handler_stream("endless", 3).await;

    collect(stream).timeout(Duration::from_secs(2)).await;
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn an_endless_client_stream_fails_with_the_place_it_was_collected(transport: Transport) {
    let (server, mut client) = start(transport).await;
    let stream = client.server_stream(probe("endless", 0)).await.unwrap().into_inner();
    let line = line!() + 1;
    let task = tokio::spawn(async move { drop(collect(stream).await) });

    let message = panic_of(task).await;

    let expected = format!(
        "tonic-testkit: the response stream collected at tests/collect.rs:{line}:47 did not end \
         within 10s (tokio time); it sent no message."
    );
    assert!(message.starts_with(&expected), "over {transport}: {message}");
    server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_slow_stream_within_the_timeout_is_collected() {
    let slow = tokio_stream::StreamExt::throttle(
        tokio_stream::iter((0..3).map(|index| Ok(ProbeReply { text: String::new(), index }))),
        Duration::from_secs(4),
    );

    let outcome = collect(slow).timeout(Duration::from_secs(60)).await;

    let indexes: Vec<u32> = outcome.messages().iter().map(|reply| reply.index).collect();
    assert_eq!(indexes, [0, 1, 2]);
}

#[tokio::test]
async fn into_messages_gives_the_messages_in_order() {
    let stream = handler_stream("tick", 2).await;

    let messages = collect(stream).await.into_messages();

    assert_eq!(messages, [probe_reply("reply 0", 0), probe_reply("reply 1", 1)]);
}

fn probe_reply(text: &str, index: u32) -> ProbeReply {
    ProbeReply { text: text.to_owned(), index }
}

#[apply(http2_transports)]
#[tokio::test]
async fn a_client_stream_that_ends_ok_keeps_the_trailers_the_server_sent(transport: Transport) {
    let (server, mut client) = start(transport).await;
    let stream = client.server_stream(probe("tick", 1)).await.unwrap().into_inner();

    let outcome = collect(stream).await;

    assert_status!(outcome, Code::Ok);
    assert_metadata!(outcome, "grpc-status", "0");
    server.shutdown().await;
}
