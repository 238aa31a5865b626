//! Faults: which calls a rule picks, what it does to them, a server taken down and a wrapped
//! client channel, each pinned on the paused tokio clock over every transport where it applies.
//! Connection toxics are in tests/toxics.rs.

mod common;

use std::time::Duration;

use common::{
    BODY_BROKEN, SERVER_DOWN, TRANSPORT_ERROR, panic_text, peer, probe, serve, start, with_timeout,
};
use common::{every_transport, http2_transports};
use http::uri::PathAndQuery;
use rstest::rstest;
use rstest_reuse::apply;
use tokio::time::{Instant, sleep};
use tonic::{
    Code, Request, Response, Status,
    metadata::{Binary, MetadataMap, MetadataValue},
};
use tonic_testkit::{
    Faults, Reply, Stub, TestChannel, TestServer, Transport, assert_field_violation,
    assert_metadata, assert_status, collect,
};
use tonic_testkit_support::{Probe, ProbeClient, ProbeReply, ProbeRequest};
use tonic_types::{ErrorDetails, StatusExt};

const UNARY: &str = "/probe.Probe/Unary";
const SERVER_STREAM: &str = "/probe.Probe/ServerStream";
const OTHER: &str = "/other.Other/Get";

/// The code a call ended with: `Ok` for an answer.
fn code<T>(result: &Result<T, Status>) -> Code {
    result.as_ref().map_or_else(Status::code, |_| Code::Ok)
}

/// The codes of `calls` unary calls made one after the other.
async fn unary_codes(client: &mut ProbeClient<TestChannel>, calls: usize) -> Vec<Code> {
    let mut codes = Vec::new();
    for _ in 0..calls {
        codes.push(code(&client.unary(probe("a", 0)).await));
    }
    codes
}

/// The numbers (from 1) of the calls that failed among `calls` unary calls.
async fn failed_calls(client: &mut ProbeClient<TestChannel>, calls: u32) -> Vec<u32> {
    let mut failed = Vec::new();
    for call in 1..=calls {
        if client.unary(probe("a", 0)).await.is_err() {
            failed.push(call);
        }
    }
    failed
}

/// A call to `/other.Other/Get` (answered by a stub) with the probe's message types.
async fn call_other(channel: TestChannel) -> Result<ProbeReply, Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("a TestChannel is always ready");
    let codec = tonic_prost::ProstCodec::<ProbeRequest, ProbeReply>::default();
    let path = PathAndQuery::from_static(OTHER);
    grpc.unary(Request::new(probe("other", 0)), path, codec).await.map(Response::into_inner)
}

/// A server with the probe service and a stub answering `/other.Other/Get`.
async fn serve_two_services(faults: &Faults, transport: Transport) -> TestServer {
    let stub = Stub::new();
    stub.on(OTHER).reply(Reply::message(ProbeReply { text: "stubbed".into(), index: 0 }));
    TestServer::builder()
        .transport(transport)
        .add_service(Probe::new().server())
        .add_stub(&stub)
        .faults(faults)
        .start()
        .await
}

#[apply(every_transport)]
#[tokio::test]
async fn a_rule_on_a_method_leaves_the_other_methods_alone(transport: Transport) {
    let faults = Faults::new();
    faults.on(UNARY).fail(Code::Unavailable, "unary down");
    let (server, mut client) = serve(&faults, transport).await;

    let unary = client.unary(probe("a", 0)).await;
    let stream = client.server_stream(probe("tick", 2)).await.unwrap().into_inner();
    let outcome = collect(stream).await;
    let client_stream = client.client_stream(tokio_stream::iter([probe("x", 0)])).await;

    assert_status!(unary, Code::Unavailable, "unary down");
    assert_eq!(outcome.messages().len(), 2, "over {transport}");
    assert_status!(outcome, Code::Ok, "");
    assert_eq!(client_stream.unwrap().into_inner().text, "x", "over {transport}");
    let faulted: Vec<usize> = server.calls().iter().map(|call| call.faults().len()).collect();
    assert_eq!(faulted, [1, 0, 0], "over {transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn a_rule_on_a_service_fails_each_of_its_methods_and_no_other_service(transport: Transport) {
    let faults = Faults::new();
    faults.on_service("probe.Probe").fail(Code::Unavailable, "probe down");
    let server = serve_two_services(&faults, transport).await;
    let mut client = server.client(ProbeClient::new);

    let unary = client.unary(probe("a", 0)).await;
    let stream = client.server_stream(probe("tick", 2)).await;
    let other = call_other(server.channel()).await;

    assert_status!(unary, Code::Unavailable, "probe down");
    assert_status!(stream, Code::Unavailable, "probe down");
    assert_eq!(other.unwrap().text, "stubbed", "over {transport}");
    let methods: Vec<String> =
        faults.fired().iter().map(|fired| fired.method().to_owned()).collect();
    assert_eq!(methods, [UNARY, SERVER_STREAM], "over {transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn a_rule_on_any_call_fails_every_service(transport: Transport) {
    let faults = Faults::new();
    faults.on_any().fail(Code::Unavailable, "all down");
    let server = serve_two_services(&faults, transport).await;
    let mut client = server.client(ProbeClient::new);

    let unary = client.unary(probe("a", 0)).await;
    let other = call_other(server.channel()).await;

    assert_status!(unary, Code::Unavailable, "all down");
    assert_status!(other, Code::Unavailable, "all down");
    let methods: Vec<String> =
        faults.fired().iter().map(|fired| fired.method().to_owned()).collect();
    assert_eq!(methods, [UNARY, OTHER], "over {transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn when_header_fails_only_the_call_that_carries_the_header(transport: Transport) {
    let faults = Faults::new();
    faults.on(UNARY).when_header("X-Fault", "yes").fail(Code::Internal, "picked");
    let (server, mut client) = serve(&faults, transport).await;
    let tagged = |value: &str| {
        let mut request = Request::new(probe("a", 0));
        request.metadata_mut().insert("x-fault", value.parse().unwrap());
        request
    };

    let plain = client.unary(probe("a", 0)).await;
    let other_value = client.unary(tagged("no")).await;
    let picked = client.unary(tagged("yes")).await;

    assert_eq!((code(&plain), code(&other_value)), (Code::Ok, Code::Ok), "over {transport}");
    assert_status!(picked, Code::Internal, "picked");
    let faulted: Vec<usize> = server.calls().iter().map(|call| call.faults().len()).collect();
    assert_eq!(faulted, [0, 0, 1], "over {transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn when_header_on_a_bin_key_matches_the_bytes_the_client_set(transport: Transport) {
    let faults = Faults::new();
    faults.on(UNARY).when_header("x-id-bin", "ab").fail(Code::Aborted, "picked");
    let (server, mut client) = serve(&faults, transport).await;
    let tagged = |value: MetadataValue<Binary>| {
        let mut request = Request::new(probe("a", 0));
        request.metadata_mut().insert_bin("x-id-bin", value);
        request
    };

    // tonic sends unpadded base64 ("YWI"); other clients pad it ("YWI=").
    let unpadded = client.unary(tagged(MetadataValue::from_bytes(b"ab"))).await;
    let padded = client.unary(tagged(MetadataValue::from_static("YWI="))).await;
    let other_bytes = client.unary(tagged(MetadataValue::from_bytes(b"abc"))).await;

    assert_status!(unpadded, Code::Aborted, "picked");
    assert_status!(padded, Code::Aborted, "picked");
    assert_eq!(code(&other_bytes), Code::Ok, "over {transport}");
    let journal = server.calls()[0].metadata().get_bin("x-id-bin").unwrap().to_bytes().unwrap();
    assert_eq!(&journal[..], b"ab", "over {transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn nth_fails_only_the_nth_matching_call(transport: Transport) {
    let faults = Faults::new();
    faults.on(UNARY).nth(2).fail(Code::Unavailable, "second");
    let (server, mut client) = serve(&faults, transport).await;

    let first = code(&client.unary(probe("a", 0)).await);
    // Calls to another method are not counted.
    collect(client.server_stream(probe("tick", 1)).await.unwrap().into_inner()).await;
    let second = client.unary(probe("a", 0)).await;
    let rest = unary_codes(&mut client, 3).await;

    assert_eq!(first, Code::Ok, "over {transport}");
    assert_status!(second, Code::Unavailable, "second");
    assert_eq!(rest, [Code::Ok; 3], "over {transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn times_fails_the_first_calls_then_lets_calls_pass(transport: Transport) {
    let faults = Faults::new();
    faults.on(UNARY).times(2).fail(Code::Unavailable, "warming up");
    let (server, mut client) = serve(&faults, transport).await;

    let codes = unary_codes(&mut client, 4).await;

    let down = Code::Unavailable;
    assert_eq!(codes, [down, down, Code::Ok, Code::Ok], "over {transport}");
    assert_eq!(faults.fired().len(), 2, "over {transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn every_fails_every_kth_call(transport: Transport) {
    let faults = Faults::new();
    faults.on(UNARY).every(3).fail(Code::ResourceExhausted, "third");
    let (server, mut client) = serve(&faults, transport).await;

    let failed = failed_calls(&mut client, 7).await;

    assert_eq!(failed, [3, 6], "over {transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn a_probability_rule_fails_the_same_calls_for_the_same_seed(transport: Transport) {
    let first = Faults::with_seed(7);
    let second = Faults::with_seed(7);
    let line = line!() + 2;
    for faults in [&first, &second] {
        faults.on_any().probability(0.5).fail(Code::Unavailable, "flaky");
    }
    let (first_server, mut first_client) = serve(&first, transport).await;
    let (second_server, mut second_client) = serve(&second, transport).await;

    let first_failed = failed_calls(&mut first_client, 10).await;
    let second_failed = failed_calls(&mut second_client, 10).await;

    assert_eq!(first_failed, second_failed, "over {transport}");
    assert_eq!(first_failed, [3, 5, 6, 7, 9, 10], "over {transport}");
    assert_eq!(first.seed(), 7);
    let rule = format!(
        "faults.on_any().probability(0.5).fail(Unavailable, \"flaky\") at tests/faults.rs:{line}:16 \
         (seed 7: replay with Faults::with_seed(7))"
    );
    assert_eq!(first.fired()[0].rule(), rule, "over {transport}");
    assert_eq!(first.fired()[0].to_string(), format!("{UNARY}: {rule}"), "over {transport}");
    assert_eq!(first_server.calls()[2].faults(), [rule], "over {transport}");
    assert!(first_server.calls()[0].faults().is_empty(), "over {transport}");
    first_server.shutdown().await;
    second_server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn another_seed_fails_other_calls(transport: Transport) {
    let faults = Faults::with_seed(42);
    faults.on(UNARY).probability(0.5).fail(Code::Unavailable, "flaky");
    let (server, mut client) = serve(&faults, transport).await;

    let failed = failed_calls(&mut client, 10).await;

    assert_eq!(failed, [3, 4, 5, 7, 10], "over {transport}");
    server.shutdown().await;
}

/// The calls (numbered from 1) on which each of two probability rules acted, begun one after
/// the other before either is installed, over 12 unary calls.
async fn draws_of_two_rules_begun_together(seed: u64, transport: Transport) -> [Vec<usize>; 2] {
    let faults = Faults::with_seed(seed);
    let first = faults.on(UNARY).probability(0.5);
    let second = faults.on(UNARY).probability(0.5);
    first.delay(Duration::from_millis(1));
    second.delay(Duration::from_millis(2));
    let (server, mut client) = serve(&faults, transport).await;
    unary_codes(&mut client, 12).await;
    let acted = |delay: &str| -> Vec<usize> {
        let calls = server.calls();
        let acted = calls.iter().map(|call| call.faults().iter().any(|rule| rule.contains(delay)));
        acted.zip(1..).filter_map(|(acted, number)| acted.then_some(number)).collect()
    };
    let draws = [acted(".delay(1ms)"), acted(".delay(2ms)")];
    server.shutdown().await;
    draws
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn two_probability_rules_begun_together_draw_independently_and_repeat_for_the_same_seed(
    transport: Transport,
) {
    let draws = draws_of_two_rules_begun_together(7, transport).await;
    let again = draws_of_two_rules_begun_together(7, transport).await;

    assert_ne!(draws[0], draws[1], "over {transport}: both rules drew alike");
    assert_eq!(draws, again, "over {transport}");
    // The first rule draws as a lone rule with seed 7 does (see the test above).
    assert_eq!(draws, [vec![3, 5, 6, 7, 9, 10, 11], vec![6, 9, 10, 11, 12]], "over {transport}");
}

#[test]
#[should_panic(expected = "Faults::on: \"Unary\" is not a gRPC method path: use the full path \
\"/package.Service/Method\", as in \"/orders.Orders/RegisterOrder\" (the proto package, the \
service and the method, as the generated client sends it)")]
fn a_method_without_its_full_path_is_rejected() {
    let _ = Faults::new().on("Unary");
}

#[test]
#[should_panic(expected = "Faults::on_service: \"/probe.Probe\" is not a service name: use its \
full name \"package.Service\", as in \"orders.Orders\" (no slashes; for one method use \
Faults::on(\"/orders.Orders/RegisterOrder\"))")]
fn a_service_with_a_slash_is_rejected() {
    let _ = Faults::new().on_service("/probe.Probe");
}

#[test]
#[should_panic(expected = "FaultRule::nth(0): calls are counted from 1; the first call is nth(1)")]
fn nth_zero_is_rejected() {
    let faults = Faults::new();
    let _ = faults.on(UNARY).nth(0);
}

#[test]
#[should_panic(expected = "FaultRule::every(0): use every(1) for every call, or leave it out")]
fn every_zero_is_rejected() {
    let faults = Faults::new();
    let _ = faults.on(UNARY).every(0);
}

#[test]
#[should_panic(expected = "FaultRule::times(0) would never act: leave the rule out")]
fn times_zero_is_rejected() {
    let faults = Faults::new();
    let _ = faults.on(UNARY).times(0);
}

#[test]
#[should_panic(expected = "FaultRule::probability(1.5): a probability is between 0.0 and 1.0")]
fn a_probability_above_one_is_rejected() {
    let faults = Faults::new();
    let _ = faults.on(UNARY).probability(1.5);
}

#[test]
#[should_panic(expected = "FaultRule::fail_with takes an error status, got OK; to slow a call \
down use .delay(..)")]
fn fail_with_an_ok_status_is_rejected() {
    Faults::new().on(UNARY).fail_with(Status::ok("fine"));
}

#[test]
#[should_panic(expected = "FaultRule::fail takes an error code, got OK \"fine\"; to slow a call \
down use .delay(..)")]
fn fail_with_the_ok_code_is_rejected() {
    Faults::new().on(UNARY).fail(Code::Ok, "fine");
}

#[test]
#[should_panic(expected = "FaultRule::cut_after takes the error status that ends the cut stream, \
got OK")]
fn cut_after_with_an_ok_status_is_rejected() {
    Faults::new().on(SERVER_STREAM).cut_after(1, Status::ok("fine"));
}

#[apply(every_transport)]
#[tokio::test]
async fn fail_answers_with_its_status_and_the_handler_is_not_called(transport: Transport) {
    let faults = Faults::new();
    let line = line!() + 1;
    faults.on(UNARY).fail(Code::Unavailable, "try later");
    let (server, mut client) = serve(&faults, transport).await;

    // Had the handler run, this text would have made it panic.
    let result = client.unary(probe("panic:the handler was called", 0)).await;

    assert_status!(result, Code::Unavailable, "try later");
    let calls = server.calls();
    assert_eq!(calls.len(), 1, "over {transport}");
    assert_eq!(calls[0].code(), Some(Code::Unavailable), "over {transport}");
    // The handler never read the request, so the journal holds no request message.
    assert_eq!((calls[0].request_count(), calls[0].response_count()), (0, 0), "{transport}");
    assert_eq!(
        calls[0].faults(),
        [format!(
            "faults.on(\"/probe.Probe/Unary\").fail(Unavailable, \"try later\") at \
             tests/faults.rs:{line}:12"
        )],
        "over {transport}"
    );
    assert!(server.take_panics().is_empty(), "over {transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn fail_with_carries_the_details_and_trailers_of_its_status(transport: Transport) {
    let mut details = ErrorDetails::new();
    details.add_bad_request_violation("text", "must not be empty");
    let mut trailers = MetadataMap::new();
    trailers.insert("x-retry-in", "5".parse().unwrap());
    let status = Status::with_error_details_and_metadata(
        Code::InvalidArgument,
        "bad probe",
        details,
        trailers,
    );
    let faults = Faults::new();
    faults.on(UNARY).fail_with(status);
    let (server, mut client) = serve(&faults, transport).await;

    let result = client.unary(probe("panic:the handler was called", 0)).await;

    assert_status!(result, Code::InvalidArgument, "bad probe");
    assert_field_violation!(result, "text", "must not be empty");
    assert_metadata!(result.as_ref().unwrap_err(), "x-retry-in", "5");
    let recorded = server.calls()[0].status().cloned().expect("the call ended");
    assert_field_violation!(recorded, "text", "must not be empty");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn delays_hold_the_call_and_add_up(transport: Transport) {
    let faults = Faults::new();
    faults.on(UNARY).delay(Duration::from_millis(200));
    faults.on_any().delay(Duration::from_millis(50));
    let (server, mut client) = serve(&faults, transport).await;
    let started = Instant::now();

    let reply = client.unary(probe("late", 0)).await.unwrap();
    let after_unary = started.elapsed();
    collect(client.server_stream(probe("tick", 1)).await.unwrap().into_inner()).await;

    assert_eq!(reply.into_inner().text, "late", "over {transport}");
    assert_eq!(after_unary, Duration::from_millis(250), "over {transport}");
    assert_eq!(started.elapsed(), Duration::from_millis(300), "over {transport}");
    assert_eq!(server.calls()[0].duration(), Some(Duration::from_millis(250)), "{transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn a_delay_past_the_deadline_ends_the_call_at_the_deadline(transport: Transport) {
    let faults = Faults::new();
    faults.on(UNARY).delay(Duration::from_millis(200));
    let (server, mut client) = serve(&faults, transport).await;
    let started = Instant::now();

    let result = client.unary(with_timeout("a", Duration::from_millis(50))).await;

    // What a tonic server answers when a deadline expires.
    assert_status!(result, Code::Cancelled, "Timeout expired");
    assert_eq!(started.elapsed(), Duration::from_millis(50), "over {transport}");
    server.shutdown().await; // the client gives up at the deadline too; let the server finish
    let call = &server.calls()[0];
    assert_status!(call.status().unwrap(), Code::Cancelled, "Timeout expired");
    assert_eq!(call.duration(), Some(Duration::from_millis(50)), "over {transport}");
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn delay_messages_spaces_the_messages_of_a_stream(transport: Transport) {
    let faults = Faults::new();
    faults.on(SERVER_STREAM).delay_messages(Duration::from_millis(100));
    let (server, mut client) = serve(&faults, transport).await;
    let started = Instant::now();

    let mut stream = client.server_stream(probe("tick", 3)).await.unwrap().into_inner();
    let mut arrivals = Vec::new();
    while let Some(reply) = stream.message().await.unwrap() {
        arrivals.push((reply.index, started.elapsed().as_millis()));
    }

    assert_eq!(arrivals, [(0, 0), (1, 100), (2, 200)], "over {transport}");
    assert_eq!(started.elapsed(), Duration::from_millis(200), "over {transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn cut_after_ends_a_stream_after_n_messages_with_its_status(transport: Transport) {
    let mut trailers = MetadataMap::new();
    trailers.insert("x-resume-from", "2".parse().unwrap());
    let faults = Faults::new();
    faults.on(SERVER_STREAM).cut_after(2, Status::with_metadata(Code::Aborted, "cut", trailers));
    let (server, mut client) = serve(&faults, transport).await;

    let stream = client.server_stream(probe("tick", 5)).await.unwrap().into_inner();
    let outcome = collect(stream).await;

    let indexes: Vec<u32> = outcome.messages().iter().map(|reply| reply.index).collect();
    assert_eq!(indexes, [0, 1], "over {transport}");
    assert_status!(outcome, Code::Aborted, "cut");
    assert_metadata!(outcome.status(), "x-resume-from", "2");
    let call = &server.calls()[0];
    assert_eq!((call.response_count(), call.code()), (2, Some(Code::Aborted)), "{transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn hang_ends_at_the_client_deadline(transport: Transport) {
    let faults = Faults::new();
    faults.on(UNARY).hang();
    let (server, mut client) = serve(&faults, transport).await;
    let started = Instant::now();

    let result = client.unary(with_timeout("a", Duration::from_millis(100))).await;

    assert_status!(result, Code::Cancelled, "Timeout expired");
    assert_eq!(started.elapsed(), Duration::from_millis(100), "over {transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn delays_for_good_add_up_without_overflow_and_hold_the_call_until_its_deadline(
    transport: Transport,
) {
    let faults = Faults::new();
    faults.on(UNARY).delay(Duration::MAX);
    faults.on_any().delay(Duration::from_millis(1));
    let (server, mut client) = serve(&faults, transport).await;
    let started = Instant::now();

    let result = client.unary(with_timeout("a", Duration::from_secs(3_600))).await;

    assert_status!(result, Code::Cancelled, "Timeout expired");
    assert_eq!(started.elapsed(), Duration::from_secs(3_600), "over {transport}");
    assert_eq!(server.calls()[0].faults().len(), 2, "over {transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn message_delays_for_good_add_up_without_overflow_and_hold_the_rest_of_the_stream(
    transport: Transport,
) {
    let faults = Faults::new();
    faults.on(SERVER_STREAM).delay_messages(Duration::MAX);
    faults.on_any().delay_messages(Duration::from_millis(1));
    let (server, mut client) = serve(&faults, transport).await;
    let mut stream = client.server_stream(probe("tick", 3)).await.unwrap().into_inner();

    let first = stream.message().await;
    let started = Instant::now();
    let second = tokio::time::timeout(Duration::from_secs(3_600), stream.message()).await;

    assert_eq!(first.unwrap().unwrap().index, 0, "over {transport}");
    assert!(second.is_err(), "over {transport}: the second message came: {second:?}");
    assert_eq!(started.elapsed(), Duration::from_secs(3_600), "over {transport}");
    assert_eq!(server.calls()[0].faults().len(), 2, "over {transport}");
    drop(stream);
    server.shutdown().await;
}

#[apply(http2_transports)]
#[tokio::test]
async fn drop_connection_breaks_the_call_and_the_next_call_reconnects(transport: Transport) {
    let faults = Faults::new();
    let (server, mut client) = serve(&faults, transport).await;
    let before = peer(&mut client).await;
    faults.on(UNARY).times(1).drop_connection();

    let dropped = client.unary(probe("a", 0)).await;
    let after = peer(&mut client).await;

    assert_status!(dropped, Code::Unknown, TRANSPORT_ERROR);
    assert_ne!(before, after, "over {transport}: the next call used the dropped connection");
    if transport == Transport::Memory {
        // In-process connections get ports 40001, 40002, ... in order.
        assert_eq!(
            (before.as_str(), after.as_str()),
            ("Some(127.0.0.1:40001)", "Some(127.0.0.1:40002)")
        );
    }
    let call = &server.calls()[1];
    assert_status!(
        call.status().unwrap(),
        Code::Unavailable,
        "tonic-testkit: the connection was dropped by a fault rule"
    );
    server.shutdown().await;
}

const DIRECT_DROP: &str = "tonic-testkit: a fault rule asked to drop the connection of this call, \
and Transport::Direct has no connection; run the test over Transport::Memory or Transport::Tcp, \
or fail the call with .fail(..) instead";

#[tokio::test]
async fn drop_connection_over_direct_panics_saying_why() {
    let faults = Faults::new();
    faults.on(UNARY).drop_connection();
    let (server, mut client) = serve(&faults, Transport::Direct).await;

    let call = tokio::spawn(async move { client.unary(probe("a", 0)).await }).await;

    let payload = call.expect_err("the call must panic").into_panic();
    assert_eq!(panic_text(payload), DIRECT_DROP);
    // The panic is recorded like a handler's: take it, or shutdown reports it.
    let panics = server.take_panics();
    let recorded: Vec<(&str, &str)> = panics.iter().map(|p| (p.method(), p.message())).collect();
    assert_eq!(recorded, [(UNARY, DIRECT_DROP)]);
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn rules_added_while_the_server_runs_take_effect_and_clear_removes_them(
    transport: Transport,
) {
    let faults = Faults::new();
    let (server, mut client) = serve(&faults, transport).await;
    let before = code(&client.unary(probe("a", 0)).await);

    let fail_line = line!() + 1;
    faults.on(UNARY).times(1).fail(Code::Unavailable, "added late");
    let delay_line = line!() + 1;
    faults.on_service("probe.Probe").delay(Duration::from_millis(10));
    let failed = client.unary(probe("a", 0)).await;
    let started = Instant::now();
    collect(client.server_stream(probe("tick", 1)).await.unwrap().into_inner()).await;
    let delayed = started.elapsed();
    faults.clear();
    let started = Instant::now();
    let after = code(&client.unary(probe("a", 0)).await);

    assert_eq!(before, Code::Ok, "over {transport}");
    assert_status!(failed, Code::Unavailable, "added late");
    assert_eq!(delayed, Duration::from_millis(10), "over {transport}");
    assert_eq!((after, started.elapsed()), (Code::Ok, Duration::ZERO), "over {transport}");
    let fail = format!(
        "{UNARY}: faults.on(\"/probe.Probe/Unary\").times(1).fail(Unavailable, \"added late\") \
         at tests/faults.rs:{fail_line}:12"
    );
    let delay = |method: &str| {
        format!(
            "{method}: faults.on_service(\"probe.Probe\").delay(10ms) at \
             tests/faults.rs:{delay_line}:12"
        )
    };
    let fired: Vec<String> = faults.fired().iter().map(ToString::to_string).collect();
    assert_eq!(fired, [fail, delay(UNARY), delay(SERVER_STREAM)], "over {transport}");
    let faulted: Vec<usize> = server.calls().iter().map(|call| call.faults().len()).collect();
    assert_eq!(faulted, [0, 2, 1, 0], "over {transport}");
    server.shutdown().await;
}

#[apply(http2_transports)]
#[tokio::test(start_paused = true)]
async fn take_down_refuses_calls_until_its_time_has_passed(transport: Transport) {
    let faults = Faults::new();
    // A client that has not connected yet: its calls ask for a new connection.
    let (server, mut client) = serve(&faults, transport).await;
    let started = Instant::now();

    faults.take_down(Duration::from_secs(5));
    let refused = client.unary(probe("a", 0)).await;
    sleep(Duration::from_millis(4_999)).await;
    let still_refused = client.unary(probe("a", 0)).await;
    sleep(Duration::from_millis(1)).await;
    let answered = client.unary(probe("a", 0)).await;

    assert_status!(refused, Code::Unavailable, SERVER_DOWN);
    assert_status!(still_refused, Code::Unavailable, SERVER_DOWN);
    assert_eq!(answered.unwrap().into_inner().text, "a");
    assert_eq!(started.elapsed(), Duration::from_secs(5));
    // Refused connections never reach the services.
    assert_eq!(server.calls().len(), 1);
    server.shutdown().await;
}

#[apply(http2_transports)]
#[tokio::test(start_paused = true)]
async fn take_down_cuts_open_connections_and_the_client_reconnects_after_it(transport: Transport) {
    let faults = Faults::new();
    let (server, mut client) = serve(&faults, transport).await;
    let before = peer(&mut client).await;

    faults.take_down(Duration::from_secs(5));
    sleep(Duration::from_secs(5)).await;
    let after = peer(&mut client).await;

    assert_ne!(before, after, "over {transport}: the connection was not cut");
    server.shutdown().await;
}

#[tokio::test]
async fn clear_brings_a_server_taken_down_back_at_once() {
    let faults = Faults::new();
    let (server, mut client) = serve(&faults, Transport::Memory).await;
    faults.take_down(Duration::from_secs(60));
    let refused = client.unary(probe("a", 0)).await;

    faults.clear();
    let answered = client.unary(probe("a", 0)).await;

    assert_status!(refused, Code::Unavailable, SERVER_DOWN);
    assert_eq!(answered.unwrap().into_inner().text, "a");
    server.shutdown().await;
}

#[tokio::test]
#[should_panic(expected = "Faults::take_down acts on connections, and this Faults is attached to \
a Transport::Direct server, which has none: run the test over Transport::Memory or Transport::Tcp")]
async fn take_down_with_a_direct_server_attached_panics() {
    let faults = Faults::new();
    let (_server, _client) = serve(&faults, Transport::Direct).await;

    faults.take_down(Duration::from_secs(1));
}

/// A year of tokio time.
const A_YEAR: Duration = Duration::from_secs(365 * 24 * 60 * 60);

#[apply(http2_transports)]
#[tokio::test(start_paused = true)]
async fn take_down_for_good_refuses_calls_until_clear(transport: Transport) {
    let faults = Faults::new();
    let (server, mut client) = serve(&faults, transport).await;

    faults.take_down(Duration::MAX);
    let refused = client.unary(probe("a", 0)).await;
    sleep(A_YEAR).await;
    let still_refused = client.unary(probe("a", 0)).await;
    faults.clear();
    let answered = client.unary(probe("a", 0)).await;

    assert_status!(refused, Code::Unavailable, SERVER_DOWN);
    assert_status!(still_refused, Code::Unavailable, SERVER_DOWN);
    assert_eq!(answered.unwrap().into_inner().text, "a", "over {transport}");
    server.shutdown().await;
}

#[tokio::test]
#[should_panic(expected = "Faults taken down (Faults::take_down) were attached to a \
Transport::Direct server, which has no connections to refuse: run the test over Transport::Memory \
or Transport::Tcp, or do not take the handle down")]
async fn take_down_before_a_direct_server_is_attached_panics_at_start() {
    let faults = Faults::new();
    faults.take_down(Duration::from_secs(60));

    let _server = serve(&faults, Transport::Direct).await;
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn a_wrapped_channel_fails_delays_and_cuts_calls_on_the_client_side(transport: Transport) {
    let (server, _) = start(transport).await;
    let faults = Faults::new();
    let mut client = ProbeClient::new(faults.wrap(server.channel()));
    faults.on(UNARY).times(1).fail(Code::DataLoss, "lost");
    faults.on(UNARY).nth(2).delay(Duration::from_millis(70));
    faults.on(SERVER_STREAM).cut_after(2, Status::aborted("cut"));

    let failed = client.unary(probe("a", 0)).await;
    let started = Instant::now();
    let delayed = client.unary(probe("b", 0)).await;
    let elapsed = started.elapsed();
    let stream = client.server_stream(probe("tick", 5)).await.unwrap().into_inner();
    let outcome = collect(stream).await;

    assert_status!(failed, Code::DataLoss, "lost");
    assert_eq!(delayed.unwrap().into_inner().text, "b", "over {transport}");
    assert_eq!(elapsed, Duration::from_millis(70), "over {transport}");
    assert_eq!(outcome.messages().len(), 2, "over {transport}");
    assert_status!(outcome, Code::Aborted, "cut");
    assert_eq!(faults.fired().len(), 3, "over {transport}");
    // The failed call never left the client, and the server knows of no fault.
    let calls = server.calls();
    let seen: Vec<(&str, usize)> =
        calls.iter().map(|call| (call.method(), call.faults().len())).collect();
    assert_eq!(seen, [(UNARY, 0), (SERVER_STREAM, 0)], "over {transport}");
    assert_eq!(calls[0].request::<ProbeRequest>(0).text, "b", "over {transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn a_wrapped_channel_hangs_a_call_until_its_deadline(transport: Transport) {
    let (server, _) = start(transport).await;
    let faults = Faults::new();
    let mut client = ProbeClient::new(faults.wrap(server.channel()));
    faults.on(UNARY).hang();
    let started = Instant::now();

    let result = client.unary(with_timeout("a", Duration::from_millis(100))).await;

    assert_status!(result, Code::Cancelled, "Timeout expired");
    assert_eq!(started.elapsed(), Duration::from_millis(100), "over {transport}");
    assert!(server.calls().is_empty(), "over {transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn drop_connection_through_a_wrapped_channel_panics_saying_why(transport: Transport) {
    let (server, _) = start(transport).await;
    let faults = Faults::new();
    let mut client = ProbeClient::new(faults.wrap(server.channel()));
    faults.on(UNARY).drop_connection();

    let call = tokio::spawn(async move { client.unary(probe("a", 0)).await }).await;

    let payload = call.expect_err("the call must panic").into_panic();
    assert_eq!(
        panic_text(payload),
        "tonic-testkit: a fault rule asked to drop the connection of this call, and a channel \
         wrapped with Faults::wrap cannot reach its connection; attach the Faults to a TestServer \
         with .faults(&faults) over Transport::Memory or Transport::Tcp, or fail the call with \
         .fail(..) instead",
        "over {transport}"
    );
    assert!(server.calls().is_empty(), "over {transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn take_down_fails_wrapped_calls_with_unavailable_until_its_time_has_passed(
    transport: Transport,
) {
    let (server, _) = start(transport).await;
    let faults = Faults::new();
    let mut client = ProbeClient::new(faults.wrap(server.channel()));

    faults.take_down(Duration::from_secs(5));
    let refused = client.unary(probe("a", 0)).await;
    sleep(Duration::from_secs(5)).await;
    let answered = client.unary(probe("b", 0)).await;

    assert_status!(refused, Code::Unavailable, SERVER_DOWN);
    assert_eq!(answered.unwrap().into_inner().text, "b", "over {transport}");
    assert_eq!(server.calls().len(), 1, "over {transport}");
    server.shutdown().await;
}

/// The answers to one call of each shape, as comparable text.
async fn one_call_of_each_shape(client: &mut ProbeClient<TestChannel>) -> Vec<String> {
    let unary = client.unary(probe("hello", 0)).await.unwrap().into_inner();
    let stream = client.server_stream(probe("tick", 3)).await.unwrap().into_inner();
    let stream = collect(stream).await;
    let messages = [probe("a", 0), probe("b", 0)];
    let gathered = client.client_stream(tokio_stream::iter(messages.clone())).await.unwrap();
    let bidi = client.bidi(tokio_stream::iter(messages)).await.unwrap().into_inner();
    let bidi = collect(bidi).await;
    let failed = client.server_stream(probe("fail-at:1", 3)).await.unwrap().into_inner();
    let failed = collect(failed).await;
    vec![
        format!("{unary:?}"),
        format!("{:?} {:?}", stream.messages(), stream.status().code()),
        format!("{:?}", gathered.into_inner()),
        format!("{:?} {:?}", bidi.messages(), bidi.status().code()),
        format!(
            "{:?} {:?} {:?}",
            failed.messages(),
            failed.status().code(),
            failed.status().message()
        ),
    ]
}

#[apply(every_transport)]
#[tokio::test]
async fn with_no_rule_matching_calls_behave_as_without_faults(transport: Transport) {
    let faults = Faults::new();
    faults.on_any().when_header("x-fault", "yes").fail(Code::Internal, "tagged");
    faults.on_service("other.Other").fail(Code::Internal, "other");
    faults.on(UNARY).nth(100).fail(Code::Internal, "much later");
    let (plain_server, mut plain_client) = start(transport).await;
    let (server, mut client) = serve(&faults, transport).await;

    let without = one_call_of_each_shape(&mut plain_client).await;
    let with = one_call_of_each_shape(&mut client).await;

    assert_eq!(with, without, "over {transport}");
    let journal = |server: &TestServer| -> Vec<String> {
        server.calls().iter().map(ToString::to_string).collect()
    };
    assert_eq!(journal(&server), journal(&plain_server), "over {transport}");
    assert!(server.calls().iter().all(|call| call.faults().is_empty()), "over {transport}");
    assert!(faults.fired().is_empty(), "over {transport}");
    plain_server.shutdown().await;
    server.shutdown().await;
}

/// A server over `transport` with `faults`, behind an interceptor that notes when each call
/// reaches it.
async fn behind_an_interceptor(
    faults: &Faults,
    transport: Transport,
) -> (TestServer, std::sync::Arc<std::sync::Mutex<Vec<Instant>>>) {
    let reached = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = reached.clone();
    let server = TestServer::builder()
        .transport(transport)
        .add_service(Probe::new().server())
        .interceptor(move |request: Request<()>| -> Result<Request<()>, Status> {
            seen.lock().unwrap().push(Instant::now());
            Ok(request)
        })
        .faults(faults)
        .start()
        .await;
    (server, reached)
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn a_call_a_rule_fails_never_reaches_the_servers_interceptors(transport: Transport) {
    let faults = Faults::with_seed(1);
    faults.on(UNARY).times(1).fail(Code::Unavailable, "injected");
    let (server, reached) = behind_an_interceptor(&faults, transport).await;
    let mut client = server.client(ProbeClient::new);

    let failed = client.unary(probe("a", 0)).await;
    let passed = client.unary(probe("b", 0)).await;

    let failed = failed.unwrap_err();
    assert_eq!((failed.code(), failed.message()), (Code::Unavailable, "injected"), "{transport}");
    assert!(passed.is_ok(), "{transport}: {passed:?}");
    assert_eq!(
        reached.lock().unwrap().len(),
        1,
        "{transport}: the interceptor saw the failed call"
    );
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn a_call_a_rule_delays_reaches_the_servers_interceptors_after_its_delay(
    transport: Transport,
) {
    let faults = Faults::with_seed(1);
    faults.on_service("probe.Probe").delay(Duration::from_secs(5));
    let (server, reached) = behind_an_interceptor(&faults, transport).await;
    let started = Instant::now();

    server.client(ProbeClient::new).unary(probe("a", 0)).await.unwrap();

    let after: Vec<Duration> = reached.lock().unwrap().iter().map(|at| *at - started).collect();
    assert_eq!(after, [Duration::from_secs(5)], "{transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn stream_actions_act_on_the_response_of_a_call_that_reached_the_interceptors(
    transport: Transport,
) {
    let faults = Faults::with_seed(1);
    faults.on(SERVER_STREAM).cut_after(2, Status::aborted("cut"));
    let (server, reached) = behind_an_interceptor(&faults, transport).await;

    let replies = server.client(ProbeClient::new).server_stream(probe("a", 5)).await.unwrap();
    let outcome = collect(replies.into_inner()).await;

    assert_eq!(outcome.messages().len(), 2, "{transport}");
    let end = outcome.status();
    assert_eq!((end.code(), end.message()), (Code::Aborted, "cut"), "{transport}");
    assert_eq!(reached.lock().unwrap().len(), 1, "{transport}");
    server.shutdown().await;
}

/// A server stream whose three replies come 20 ms apart, so each reaches the client before the
/// next one is due.
fn paced_stub() -> Stub {
    let stub = Stub::new();
    let replies = [ProbeReply::default(), ProbeReply::default(), ProbeReply::default()];
    stub.on(SERVER_STREAM).reply(Reply::stream(replies).interval(Duration::from_millis(20)));
    stub
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn reset_stream_after_resets_a_stream_with_the_reason_a_client_reads_as_tonic_maps_it(
    transport: Transport,
    #[values(
        (h2::Reason::CANCEL, Code::Cancelled),
        (h2::Reason::REFUSED_STREAM, Code::Unavailable),
        (h2::Reason::ENHANCE_YOUR_CALM, Code::ResourceExhausted),
        (h2::Reason::INTERNAL_ERROR, Code::Internal)
    )]
    reason: (h2::Reason, Code),
) {
    let (reason, code) = reason;
    let faults = Faults::with_seed(1);
    let line = line!() + 1;
    faults.on(SERVER_STREAM).reset_stream_after(2, reason);
    let stub = paced_stub();
    let server =
        TestServer::builder().transport(transport).add_stub(&stub).faults(&faults).start().await;

    let replies = server.client(ProbeClient::new).server_stream(probe("a", 3)).await.unwrap();
    let outcome = collect(replies.into_inner()).await;

    assert_eq!(outcome.messages().len(), 2, "{transport}");
    let end = outcome.status();
    assert_eq!((end.code(), end.message()), (code, BODY_BROKEN), "{transport}");
    let call = &server.calls()[0];
    assert_eq!(call.code(), Some(code), "{transport}");
    let fault = format!(
        "faults.on(\"{SERVER_STREAM}\").reset_stream_after(2, {reason:?}) at tests/faults.rs:{line}:12"
    );
    assert_eq!(call.faults(), [fault], "{transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn reset_stream_after_no_message_resets_a_stream_whose_headers_the_client_has(
    transport: Transport,
) {
    let faults = Faults::with_seed(1);
    faults.on("/probe.Probe/Bidi").reset_stream_after(0, 0x8_u32);
    let (server, mut client) = serve(&faults, transport).await;
    let (sender, requests) = tokio::sync::mpsc::channel(1);
    let requests = tokio_stream::wrappers::ReceiverStream::new(requests);

    // The bidi handler answers with its headers at once, and a reply for each request.
    let mut replies = client.bidi(requests).await.unwrap().into_inner();
    sender.send(probe("first", 0)).await.unwrap();
    let status = replies.message().await.unwrap_err();

    assert_eq!((status.code(), status.message()), (Code::Cancelled, BODY_BROKEN), "{transport}");
    server.shutdown().await;
}
