//! The call journal: what every call carried and how it ended, on every transport.

mod common;

use std::time::Duration;

use common::{every_transport, http2_transports};
use common::{probe, start};
use rstest::rstest;
use rstest_reuse::apply;
use tonic::{Code, Request};
use tonic_testkit::{TestChannel, TestServer, Transport, assert_metadata, assert_status};
use tonic_testkit_support::{Probe, ProbeClient, ProbeReply, ProbeRequest};

const UNARY: &str = "/probe.Probe/Unary";

#[apply(every_transport)]
#[tokio::test]
async fn a_unary_call_is_recorded_with_its_metadata_message_and_status(transport: Transport) {
    let (server, mut client) = start(transport).await;
    let mut request = Request::new(probe("hello", 0));
    request.metadata_mut().insert("x-tenant", "acme".parse().unwrap());

    client.unary(request).await.unwrap();

    let calls = server.calls();
    assert_eq!(calls.len(), 1, "over {transport}");
    let call = &calls[0];
    assert_eq!(call.method(), UNARY);
    assert_metadata!(call.metadata(), "x-tenant", "acme");
    assert_eq!(call.requests::<ProbeRequest>(), [probe("hello", 0)], "over {transport}");
    assert_eq!((call.code(), call.response_count()), (Some(Code::Ok), 1), "over {transport}");
    assert!(call.duration().is_some());
    server.shutdown().await;
}

/// Long streams come in chunks of many messages each (tonic batches what is ready), which
/// the journal copies a chunk at a time: every message must still be kept whole and in order.
#[apply(every_transport)]
#[tokio::test]
async fn every_message_of_long_streams_is_kept_in_order(transport: Transport) {
    let (server, mut client) = start(transport).await;
    let requests: Vec<ProbeRequest> =
        (0..5_000).map(|n| probe(&format!("request {n}"), n)).collect();

    client.client_stream(tokio_stream::iter(requests.clone())).await.unwrap();
    let replies = client.server_stream(probe("", 10_000)).await.unwrap().into_inner();
    let replies = tonic_testkit::collect(replies).await.into_messages();

    let client_stream = &server.calls_to("/probe.Probe/ClientStream")[0];
    assert_eq!(client_stream.requests::<ProbeRequest>(), requests, "over {transport}");
    let server_stream = &server.calls_to("/probe.Probe/ServerStream")[0];
    assert_eq!(replies.len(), 10_000, "over {transport}");
    assert_eq!(server_stream.responses::<ProbeReply>(), replies, "over {transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn streaming_calls_record_every_request_and_count_every_response(transport: Transport) {
    let (server, mut client) = start(transport).await;
    let messages = vec![probe("a", 0), probe("b", 0), probe("c", 0)];

    client.client_stream(tokio_stream::iter(messages.clone())).await.unwrap();
    let replies = client.server_stream(probe("tick", 4)).await.unwrap().into_inner();
    tonic_testkit::collect(replies).await;
    let replies = client.bidi(tokio_stream::iter(messages.clone())).await.unwrap().into_inner();
    tonic_testkit::collect(replies).await;

    let client_stream = &server.calls_to("/probe.Probe/ClientStream")[0];
    assert_eq!(client_stream.requests::<ProbeRequest>(), messages, "over {transport}");
    assert_eq!(client_stream.response_count(), 1);
    let server_stream = &server.calls_to("/probe.Probe/ServerStream")[0];
    assert_eq!((server_stream.request_count(), server_stream.response_count()), (1, 4));
    assert_eq!(server_stream.code(), Some(Code::Ok), "over {transport}");
    let bidi = &server.calls_to("/probe.Probe/Bidi")[0];
    assert_eq!((bidi.request_count(), bidi.response_count()), (3, 3), "over {transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn a_running_stream_shows_every_response_sent_so_far(transport: Transport) {
    let (server, mut client) = start(transport).await;
    let (requests, outbox) = tokio::sync::mpsc::unbounded_channel();
    let outbox = tokio_stream::wrappers::UnboundedReceiverStream::new(outbox);
    let mut replies = client.bidi(outbox).await.unwrap().into_inner();

    // The bidi handler answers each request with one reply, so the server has sent exactly as
    // many responses as the client has read.
    for sent in 1..=4 {
        requests.send(probe("ping", 0)).unwrap();
        replies.message().await.unwrap().expect("a reply to each request");
        let call = &server.calls()[0];
        assert_eq!((call.response_count(), call.code()), (sent, None), "over {transport}");
    }
    drop(requests);
    assert_eq!(replies.message().await.unwrap(), None);
    assert_eq!(server.calls()[0].response_count(), 4, "over {transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn an_error_status_is_recorded_with_its_trailers(transport: Transport) {
    let (server, mut client) = start(transport).await;

    let replies = client.server_stream(probe("fail-at:1", 3)).await.unwrap().into_inner();
    tonic_testkit::collect(replies).await;

    let call = &server.calls()[0];
    let status = call.status().expect("the call ended");
    assert_status!(status, Code::Aborted, "failed at reply 1");
    assert_metadata!(status, "x-failed-at", "1");
    assert_eq!(call.response_count(), 1, "over {transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn an_expired_deadline_is_recorded_with_the_duration_on_the_tokio_clock(
    transport: Transport,
) {
    let (server, mut client) = start(transport).await;
    let mut request = Request::new(probe("sleep:500", 0));
    request.set_timeout(Duration::from_millis(50));

    let _ = client.unary(request).await;
    server.shutdown().await; // the client gives up at the deadline too; let the server finish

    let call = &server.calls()[0];
    assert_status!(call.status().unwrap(), Code::Cancelled, "Timeout expired");
    assert_eq!(call.duration(), Some(Duration::from_millis(50)), "over {transport}");
}

#[apply(every_transport)]
#[tokio::test]
async fn a_call_in_progress_has_no_status_yet(transport: Transport) {
    let probe_service = Probe::new();
    let server = TestServer::builder()
        .transport(transport)
        .add_service(probe_service.server())
        .start()
        .await;
    let mut client = server.client(ProbeClient::new);
    let call = tokio::spawn(async move { client.unary(probe("hang", 0)).await });
    probe_service.hangs_started(1).await;

    let calls = server.calls();

    assert_eq!((calls[0].status().map(|s| s.code()), calls[0].duration()), (None, None));
    server.shutdown().await;
    let _ = call.await;
}

#[tokio::test]
async fn a_direct_call_dropped_by_its_client_is_recorded_as_cancelled() {
    let probe_service = Probe::new();
    let server = TestServer::builder()
        .transport(Transport::Direct)
        .add_service(probe_service.server())
        .start()
        .await;
    let mut client = server.client(ProbeClient::new);

    let outcome = tokio::time::timeout(Duration::ZERO, client.unary(probe("hang", 0))).await;

    assert!(outcome.is_err());
    assert_status!(
        server.calls()[0].status().unwrap(),
        Code::Cancelled,
        "the call was cancelled before it ended (the client went away)"
    );
}

#[apply(http2_transports)]
#[tokio::test]
async fn a_handler_panic_is_recorded_as_internal(transport: Transport) {
    let (server, mut client) = start(transport).await;

    let _ = client.unary(probe("panic:boom", 0)).await;

    assert_status!(
        server.calls()[0].status().unwrap(),
        Code::Internal,
        "the handler for /probe.Probe/Unary panicked: boom"
    );
    server.take_panics();
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_methods_are_recorded_as_unimplemented() {
    let (server, _client) = start(Transport::Memory).await;
    let mut grpc = tonic::client::Grpc::new(server.channel());
    grpc.ready().await.unwrap();
    let path = http::uri::PathAndQuery::from_static("/probe.Probe/Missing");
    let codec = tonic_prost::ProstCodec::<ProbeRequest, ProbeReply>::default();

    let result = grpc.unary(Request::new(probe("x", 0)), path, codec).await;

    assert_status!(result, Code::Unimplemented);
    assert_eq!(server.calls()[0].method(), "/probe.Probe/Missing");
    assert_eq!(server.calls()[0].code(), Some(Code::Unimplemented));
    server.shutdown().await;
}

#[tokio::test]
#[should_panic(expected = "The server saw 1 call:
  1. /probe.Probe/Unary: Internal \"the handler for /probe.Probe/Unary panicked: boom\", 1 \
request (12 bytes), 0 responses
  ... and 2 later calls the journal did not keep: it keeps 1 calls; raise it with \
`TestServerBuilder::journal_limit(n)`.")]
async fn failure_messages_list_the_journal_and_what_it_did_not_keep() {
    let server = TestServer::builder()
        .transport(Transport::Memory)
        .add_service(Probe::new().server())
        .journal_limit(1)
        .start()
        .await;
    let mut client = server.client(ProbeClient::new);

    let _ = client.unary(probe("panic:boom", 0)).await;
    client.unary(probe("a", 0)).await.unwrap();
    client.unary(probe("b", 0)).await.unwrap();

    server.shutdown().await;
}

#[tokio::test]
async fn a_journal_limit_of_zero_records_nothing() {
    let server = TestServer::builder()
        .transport(Transport::Memory)
        .add_service(Probe::new().server())
        .journal_limit(0)
        .start()
        .await;
    let mut client = server.client(ProbeClient::new);

    client.unary(probe("a", 0)).await.unwrap();

    assert!(server.calls().is_empty());
    server.shutdown().await;
}

#[tokio::test]
#[should_panic(expected = "tonic-testkit: /probe.Probe/Unary has 1 request messages, so there \
                           is no message 1 (messages count from 0)")]
async fn asking_for_a_request_message_that_did_not_arrive_is_a_clear_panic() {
    let (server, mut client) = start(Transport::Memory).await;
    client.unary(probe("a", 0)).await.unwrap();

    server.calls()[0].request::<ProbeRequest>(1);
}

#[tokio::test]
#[should_panic(expected = "tonic-testkit: request message 0 of /probe.Probe/Unary does not \
                           decode as prost_types::protobuf::Timestamp: ")]
async fn decoding_a_request_as_the_wrong_type_is_a_clear_panic() {
    let (server, mut client) = start(Transport::Memory).await;
    client.unary(probe("not a timestamp", 0)).await.unwrap();

    server.calls()[0].request::<prost_types::Timestamp>(0);
}

#[tokio::test]
#[should_panic(expected = "TestServer::calls_to: \"Unary\" is not a gRPC method path: use the \
                           full path \"/package.Service/Method\"")]
async fn calls_to_rejects_a_method_without_its_full_path() {
    let (server, _client) = start(Transport::Memory).await;

    server.calls_to("Unary");
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn a_call_past_its_deadline_ends_cancelled_in_the_journal_on_every_transport(
    transport: Transport,
) {
    let stub = tonic_testkit::Stub::new();
    let slow = tonic_testkit::Reply::message(ProbeReply::default()).delay(Duration::from_secs(1));
    stub.on(UNARY).reply(slow);
    let server = TestServer::builder().transport(transport).add_stub(&stub).start().await;

    let status = server
        .client(ProbeClient::new)
        .unary(common::with_timeout("slow", Duration::from_millis(50)))
        .await
        .unwrap_err();

    // Read as soon as the client has its answer: over the wire the client's own timer may
    // answer before the server's has fired, and the journal must already agree.
    let call = &server.calls()[0];
    assert_eq!((status.code(), status.message()), (Code::Cancelled, "Timeout expired"));
    let ended = call.status().map(|status| (status.code(), status.message()));
    assert_eq!(ended, Some((Code::Cancelled, "Timeout expired")), "{transport}");
    assert_eq!(call.duration(), Some(Duration::from_millis(50)), "{transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn a_stream_answered_before_its_deadline_runs_on_past_it_in_the_journal(
    transport: Transport,
) {
    let (server, mut client) = start(transport).await;
    let (sender, requests) = tokio::sync::mpsc::channel(4);
    sender.send(probe("first", 0)).await.unwrap();
    let mut request = Request::new(tokio_stream::wrappers::ReceiverStream::new(requests));
    request.set_timeout(Duration::from_millis(50));
    let mut replies = client.bidi(request).await.unwrap().into_inner();
    assert_eq!(replies.message().await.unwrap().unwrap().text, "first");

    // As on tonic's server, the deadline holds until the response headers, not after.
    tokio::time::sleep(Duration::from_millis(100)).await;

    assert_eq!(server.calls()[0].code(), None, "{transport}: the stream still runs");
    drop(sender);
    assert_eq!(replies.message().await.unwrap(), None);
    assert_eq!(server.calls()[0].code(), Some(Code::Ok), "{transport}");
    server.shutdown().await;
}

/// Each of these encodes to 7 bytes: a journal that keeps 10 keeps the first only.
fn seven_bytes(text: &str) -> ProbeRequest {
    assert_eq!(text.len(), 5);
    probe(text, 0)
}

async fn start_keeping(
    transport: Transport,
    bytes: usize,
) -> (TestServer, ProbeClient<TestChannel>) {
    let server = TestServer::builder()
        .transport(transport)
        .add_service(Probe::new().server())
        .journal_byte_limit(bytes)
        .start()
        .await;
    let client = server.client(ProbeClient::new);
    (server, client)
}

#[apply(every_transport)]
#[tokio::test]
async fn past_its_byte_limit_the_journal_counts_messages_without_keeping_them(
    transport: Transport,
) {
    let (server, mut client) = start_keeping(transport, 10).await;
    let messages = ["first", "other", "third"].map(seven_bytes);

    client.client_stream(tokio_stream::iter(messages)).await.unwrap();
    client.unary(seven_bytes("later")).await.unwrap();

    let calls = server.calls();
    let counts: Vec<usize> = calls.iter().map(|call| call.request_count()).collect();
    assert_eq!(counts, [3, 1], "{transport}");
    assert_eq!(calls[0].request::<ProbeRequest>(0).text, "first", "{transport}");
    let unkept = std::panic::AssertUnwindSafe(|| calls[1].request::<ProbeRequest>(0));
    let unkept = std::panic::catch_unwind(unkept).unwrap_err();
    assert_eq!(
        common::panic_text(unkept),
        "tonic-testkit: /probe.Probe/Unary has 1 request messages, and the journal kept the \
         first 0 of them: the others came past its byte limit, so they were counted and not \
         kept; raise it with `TestServerBuilder::journal_byte_limit(bytes)` to read message 0",
        "{transport}"
    );
    server.shutdown().await;
}

#[tokio::test]
#[should_panic(expected = "The server saw 2 calls:
  1. /probe.Probe/ClientStream: Ok, 3 requests (21 bytes), 1 response (21 bytes)
  2. /probe.Probe/Unary: Internal \"the handler for /probe.Probe/Unary panicked: boom\", 1 \
request (12 bytes), 0 responses
  ... and 3 request messages and 1 response message the journal counted and did not keep: it \
keeps 10 bytes of messages; raise it with `TestServerBuilder::journal_byte_limit(bytes)`.")]
async fn a_report_says_how_many_messages_the_journal_did_not_keep() {
    let (server, mut client) = start_keeping(Transport::Memory, 10).await;
    let messages = ["first", "other", "third"].map(seven_bytes);
    client.client_stream(tokio_stream::iter(messages)).await.unwrap();

    let _ = client.unary(probe("panic:boom", 0)).await;

    server.shutdown().await;
}

/// The names of a metadata map's entries, in order.
fn names(metadata: &tonic::metadata::MetadataMap) -> Vec<String> {
    metadata.clone().into_headers().keys().map(|name| name.to_string()).collect()
}

#[apply(every_transport)]
#[tokio::test]
async fn every_shape_records_the_messages_it_sent_back_and_their_sizes_both_ways(
    transport: Transport,
) {
    let (server, mut client) = start(transport).await;
    let messages = vec![probe("a", 0), probe("bb", 0)];

    let unary = client.unary(probe("hello", 0)).await.unwrap().into_inner();
    let streamed = client.server_stream(probe("tick", 2)).await.unwrap().into_inner();
    let streamed = tonic_testkit::collect(streamed).await.into_messages();
    let counted = client.client_stream(tokio_stream::iter(messages.clone())).await.unwrap();
    let echoed = client.bidi(tokio_stream::iter(messages)).await.unwrap().into_inner();
    let echoed = tonic_testkit::collect(echoed).await.into_messages();

    let calls = server.calls();
    assert_eq!(calls[0].responses::<ProbeReply>(), [unary], "{transport}");
    assert_eq!(calls[1].responses::<ProbeReply>(), streamed, "{transport}");
    assert_eq!(calls[2].responses::<ProbeReply>(), [counted.into_inner()], "{transport}");
    assert_eq!(calls[3].responses::<ProbeReply>(), echoed, "{transport}");
    let sizes = |call: &tonic_testkit::journal::Call| {
        let requests = (0..call.request_count()).map(|i| call.request_size(i)).collect();
        let responses = (0..call.response_count()).map(|i| call.response_size(i)).collect();
        (requests, responses)
    };
    // Protobuf sends a string as a tag, a length and its bytes, and leaves out a zero index.
    let expected: [(Vec<usize>, Vec<usize>); 4] = [
        (vec![7], vec![7]),
        (vec![8], vec![9, 11]),
        (vec![3, 4], vec![8]),
        (vec![3, 4], vec![3, 6]),
    ];
    assert_eq!(calls.iter().map(sizes).collect::<Vec<_>>(), expected, "{transport}");
    assert!(!calls[1].response_compressed(1), "{transport}");
    server.shutdown().await;
}

/// A service that sets response metadata: `x-shard` on every answer, and trailers on the
/// statuses it fails with (unary: `fail` before any response; server stream: after `count`
/// replies).
struct Annotating;

#[tonic::async_trait]
impl tonic_testkit_support::ProbeService for Annotating {
    async fn unary(
        &self,
        request: Request<ProbeRequest>,
    ) -> Result<tonic::Response<ProbeReply>, tonic::Status> {
        let text = request.into_inner().text;
        if text == "fail" {
            let mut trailers = tonic::metadata::MetadataMap::new();
            trailers.insert("x-reason", "asked to".parse().unwrap());
            let status = tonic::Status::with_metadata(Code::FailedPrecondition, "no", trailers);
            return Err(status);
        }
        let mut response = tonic::Response::new(ProbeReply { text, index: 0 });
        response.metadata_mut().insert("x-shard", "3".parse().unwrap());
        Ok(response)
    }

    async fn server_stream(
        &self,
        request: Request<ProbeRequest>,
    ) -> Result<tonic::Response<tonic_testkit::mock::BoxStream<ProbeReply>>, tonic::Status> {
        let count = request.into_inner().count;
        let mut trailers = tonic::metadata::MetadataMap::new();
        trailers.insert("x-sent", count.to_string().parse().unwrap());
        let end = tonic::Status::with_metadata(Code::Aborted, "enough", trailers);
        let replies = (0..count).map(|index| Ok(ProbeReply { text: "r".into(), index }));
        let stream = tokio_stream::iter(replies.chain([Err(end)]));
        let mut response =
            tonic::Response::new(Box::pin(stream) as tonic_testkit::mock::BoxStream<_>);
        response.metadata_mut().insert("x-shard", "3".parse().unwrap());
        Ok(response)
    }
}

async fn start_annotating(transport: Transport) -> (TestServer, ProbeClient<TestChannel>) {
    let service = tonic_testkit_support::ProbeServer::new(Annotating);
    let server = TestServer::builder().transport(transport).add_service(service).start().await;
    let client = server.client(ProbeClient::new);
    (server, client)
}

#[apply(every_transport)]
#[tokio::test]
async fn the_response_headers_and_trailers_are_those_the_handler_set(transport: Transport) {
    let (server, mut client) = start_annotating(transport).await;

    let reply = client.unary(probe("hi", 0)).await.unwrap();
    let stream = client.server_stream(probe("", 2)).await.unwrap();
    let outcome = tonic_testkit::collect(stream.into_inner()).await;

    assert_metadata!(reply, "x-shard", "3");
    assert_metadata!(outcome, "x-sent", "2");
    let calls = server.calls();
    let (unary, streamed) = (&calls[0], &calls[1]);
    assert_eq!(names(unary.response_headers()), ["x-shard", "content-type"], "{transport}");
    assert_metadata!(unary.response_headers(), "x-shard", "3");
    assert_eq!(names(unary.trailers()), ["grpc-status"], "{transport}");
    assert_metadata!(unary.trailers(), "grpc-status", "0");
    assert_eq!(names(streamed.response_headers()), ["x-shard", "content-type"], "{transport}");
    assert_eq!(
        names(streamed.trailers()),
        ["x-sent", "grpc-status", "grpc-message"],
        "{transport}"
    );
    assert_metadata!(streamed.trailers(), "grpc-status", "10");
    assert_metadata!(streamed.trailers(), "x-sent", "2");
    assert_eq!(streamed.response_count(), 2, "{transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn a_trailers_only_answer_has_trailers_and_no_response_headers(transport: Transport) {
    let (server, mut client) = start_annotating(transport).await;

    let status = client.unary(probe("fail", 0)).await.unwrap_err();

    assert_metadata!(status, "x-reason", "asked to");
    let call = &server.calls()[0];
    assert!(call.response_headers().is_empty(), "{transport}: {:?}", call.response_headers());
    assert_eq!(
        names(call.trailers()),
        ["content-type", "x-reason", "grpc-status", "grpc-message"],
        "{transport}"
    );
    assert_metadata!(call.trailers(), "grpc-status", "9");
    assert_metadata!(call.trailers(), "x-reason", "asked to");
    assert_status!(call.status().unwrap(), Code::FailedPrecondition, "no");
    assert_eq!(call.response_count(), 0, "{transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn a_running_call_has_its_response_headers_and_no_trailers_yet(transport: Transport) {
    let (server, mut client) = start(transport).await;
    let (requests, outbox) = tokio::sync::mpsc::unbounded_channel();
    let outbox = tokio_stream::wrappers::UnboundedReceiverStream::new(outbox);
    let mut replies = client.bidi(outbox).await.unwrap().into_inner();
    requests.send(probe("ping", 0)).unwrap();
    replies.message().await.unwrap().unwrap();

    let call = &server.calls()[0];

    assert_eq!(names(call.response_headers()), ["content-type"], "{transport}");
    assert!(call.trailers().is_empty(), "{transport}");
    assert_eq!(call.response::<ProbeReply>(0).text, "ping", "{transport}");
    drop(requests);
    assert_eq!(replies.message().await.unwrap(), None);
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn past_its_byte_limit_the_journal_counts_responses_without_keeping_them(
    transport: Transport,
) {
    // The 7-byte request fits in 10 bytes; its 7-byte reply does not.
    let (server, mut client) = start_keeping(transport, 10).await;

    client.unary(seven_bytes("hello")).await.unwrap();

    let call = &server.calls()[0];
    assert_eq!((call.request_count(), call.response_count()), (1, 1), "{transport}");
    assert_eq!(call.request::<ProbeRequest>(0).text, "hello", "{transport}");
    let unkept = std::panic::AssertUnwindSafe(|| call.response_size(0));
    let unkept = std::panic::catch_unwind(unkept).unwrap_err();
    assert_eq!(
        common::panic_text(unkept),
        "tonic-testkit: /probe.Probe/Unary has 1 response messages, and the journal kept the \
         first 0 of them: the others came past its byte limit, so they were counted and not \
         kept; raise it with `TestServerBuilder::journal_byte_limit(bytes)` to read message 0",
        "{transport}"
    );
    server.shutdown().await;
}

#[tokio::test]
#[should_panic(expected = "The server saw 2 calls:
  1. /probe.Probe/ServerStream: Ok, 1 request (8 bytes), 2 responses (20 bytes)
  2. /probe.Probe/Unary: Internal \"the handler for /probe.Probe/Unary panicked: boom\", 1 \
request (12 bytes), 0 responses
  ... and 1 request message and 2 response messages the journal counted and did not keep: it \
keeps 8 bytes of messages; raise it with `TestServerBuilder::journal_byte_limit(bytes)`.")]
async fn a_report_says_how_many_responses_the_journal_did_not_keep() {
    // The 8-byte request fits; its replies (9 and 11 bytes) do not, nor anything after them.
    let (server, mut client) = start_keeping(Transport::Memory, 8).await;
    let replies = client.server_stream(probe("tick", 2)).await.unwrap().into_inner();
    tonic_testkit::collect(replies).await;

    let _ = client.unary(probe("panic:boom", 0)).await;

    server.shutdown().await;
}

#[tokio::test]
#[should_panic(expected = "tonic-testkit: /probe.Probe/Unary has 1 response messages, so there \
                           is no message 1 (messages count from 0)")]
async fn asking_for_a_response_message_that_was_not_sent_is_a_clear_panic() {
    let (server, mut client) = start(Transport::Memory).await;
    client.unary(probe("a", 0)).await.unwrap();

    server.calls()[0].response::<ProbeReply>(1);
}

#[tokio::test]
#[should_panic(expected = "tonic-testkit: response message 0 of /probe.Probe/Unary does not \
                           decode as prost_types::protobuf::Timestamp: ")]
async fn decoding_a_response_as_the_wrong_type_is_a_clear_panic() {
    let (server, mut client) = start(Transport::Memory).await;
    client.unary(probe("not a timestamp", 0)).await.unwrap();

    server.calls()[0].response::<prost_types::Timestamp>(0);
}

/// Gzip needs tonic's `gzip`, which the kit's `gzip` feature enables.
#[cfg(feature = "gzip")]
mod gzip {
    use tonic::codec::CompressionEncoding::Gzip;
    use tonic_testkit_support::ProbeServer;

    use super::*;

    #[apply(every_transport)]
    #[tokio::test]
    async fn gzip_responses_are_recorded_compressed_and_read_back(transport: Transport) {
        let service = ProbeServer::new(Probe::new()).send_compressed(Gzip);
        let server = TestServer::builder().transport(transport).add_service(service).start().await;
        let mut gzip = server.client(|channel| ProbeClient::new(channel).accept_compressed(Gzip));
        let mut plain = server.client(ProbeClient::new);
        let text = "a".repeat(1_000);

        gzip.unary(probe(&text, 0)).await.unwrap();
        let replies = gzip.server_stream(probe("tick", 2)).await.unwrap().into_inner();
        tonic_testkit::collect(replies).await;
        // A client that does not accept gzip gets plain messages from the same service.
        plain.unary(probe(&text, 0)).await.unwrap();

        let calls = server.calls();
        assert_metadata!(calls[0].response_headers(), "grpc-encoding", "gzip");
        assert!(calls[0].response_compressed(0), "{transport}");
        assert_eq!(calls[0].response::<ProbeReply>(0).text, text, "{transport}");
        assert!(calls[0].response_size(0) < 100, "{transport}: {}", calls[0].response_size(0));
        let ticks: Vec<String> =
            calls[1].responses::<ProbeReply>().into_iter().map(|reply| reply.text).collect();
        assert_eq!(ticks, ["reply 0", "reply 1"], "{transport}");
        assert!(calls[1].response_compressed(1), "{transport}");
        assert!(!calls[2].response_compressed(0), "{transport}");
        assert_eq!(calls[2].response_size(0), 1_003, "{transport}");
        server.shutdown().await;
    }
}
