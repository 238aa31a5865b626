//! Stub: methods answered by scripted replies and closures, strict about unexpected and missing
//! calls, on every transport.

mod common;

use std::{
    pin::pin,
    task::{Context, Waker},
    time::Duration,
};

use common::{every_transport, http2_transports};
use common::{panic_text, probe};
use rstest::rstest;
use rstest_reuse::apply;
use tokio::time::Instant;
use tonic::{Code, Request, Status, Streaming};
use tonic_testkit::{
    Reply, Stub, TestChannel, TestServer, Transport, assert_field_violation, assert_metadata,
    assert_status, collect,
};
use tonic_testkit_support::{Probe, ProbeClient, ProbeReply, ProbeRequest};
use tonic_types::{ErrorDetails, StatusExt};

const UNARY: &str = "/probe.Probe/Unary";
const SERVER_STREAM: &str = "/probe.Probe/ServerStream";

fn reply(text: &str, index: u32) -> ProbeReply {
    ProbeReply { text: text.to_owned(), index }
}

async fn serve(stub: &Stub, transport: Transport) -> (TestServer, ProbeClient<TestChannel>) {
    let server = TestServer::builder().transport(transport).add_stub(stub).start().await;
    let client = server.client(ProbeClient::new);
    (server, client)
}

/// The panic message of `f`, which must panic.
fn panic_message(f: impl FnOnce()) -> String {
    let payload = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .expect_err("this must panic, and did not");
    panic_text(payload)
}

/// Polls a `server.verify()` future (which never waits) and returns its panic message.
fn verify_message(verify: impl Future<Output = ()>) -> String {
    let mut verify = pin!(verify);
    panic_message(move || {
        let poll = verify.as_mut().poll(&mut Context::from_waker(Waker::noop()));
        assert!(poll.is_ready(), "verify() must not wait");
    })
}

#[apply(every_transport)]
#[tokio::test]
async fn a_message_reply_with_headers_answers_every_call(transport: Transport) {
    let stub = Stub::new();
    stub.on(UNARY).reply(Reply::message(reply("hi", 7)).header("x-shard", "3"));
    let (server, mut client) = serve(&stub, transport).await;

    let first = client.unary(probe("a", 0)).await.unwrap();
    let second = client.unary(probe("b", 0)).await.unwrap();

    assert_metadata!(first, "x-shard", "3");
    assert_eq!(first.into_inner(), reply("hi", 7), "over {transport}");
    assert_eq!(second.into_inner(), reply("hi", 7), "over {transport}");
    let calls = server.calls_to(UNARY);
    let requests: Vec<ProbeRequest> = calls.iter().map(|call| call.request(0)).collect();
    assert_eq!(requests, [probe("a", 0), probe("b", 0)], "over {transport}");
    assert_eq!(calls[1].code(), Some(Code::Ok), "over {transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn a_status_reply_carries_its_code_message_details_headers_and_trailers(
    transport: Transport,
) {
    let mut details = ErrorDetails::new();
    details.add_bad_request_violation("text", "must not be empty");
    let status = Status::with_error_details(Code::InvalidArgument, "bad probe", details);
    let stub = Stub::new();
    stub.on(UNARY).reply(
        Reply::<ProbeReply>::status(status).header("x-shard", "3").trailer("x-trace", "abc"),
    );
    let (server, mut client) = serve(&stub, transport).await;

    let result = client.unary(probe("", 0)).await;

    assert_status!(result, Code::InvalidArgument, "bad probe");
    assert_field_violation!(result, "text", "must not be empty");
    assert_metadata!(result.as_ref().unwrap_err(), "x-shard", "3");
    assert_metadata!(result.as_ref().unwrap_err(), "x-trace", "abc");
    assert_eq!(server.calls()[0].code(), Some(Code::InvalidArgument), "over {transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn a_stream_reply_sends_its_messages_then_ends_with_its_status(transport: Transport) {
    let stub = Stub::new();
    let messages = [reply("a", 1), reply("b", 2), reply("c", 3)];
    stub.on(SERVER_STREAM).reply(
        Reply::stream(messages.clone())
            .end_with(Status::aborted("feed cut"))
            .trailer("x-resume-from", "4"),
    );
    let (server, mut client) = serve(&stub, transport).await;

    let stream = client.server_stream(probe("watch", 0)).await.unwrap().into_inner();
    let outcome = collect(stream).await;

    assert_eq!(outcome.messages(), messages, "over {transport}");
    assert_status!(outcome, Code::Aborted, "feed cut");
    assert_metadata!(outcome.status(), "x-resume-from", "4");
    let call = &server.calls()[0];
    assert_eq!((call.response_count(), call.code()), (3, Some(Code::Aborted)), "{transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn stream_delays_and_intervals_run_on_the_paused_clock(transport: Transport) {
    let stub = Stub::new();
    let script = Reply::stream([reply("a", 1), reply("b", 2), reply("c", 3)])
        .delay(Duration::from_secs(10))
        .interval(Duration::from_secs(30));
    stub.on(SERVER_STREAM).reply(script);
    let (server, mut client) = serve(&stub, transport).await;
    let started = Instant::now();

    let mut stream = client.server_stream(probe("watch", 0)).await.unwrap().into_inner();
    let mut arrivals = Vec::new();
    while let Some(message) = stream.message().await.unwrap() {
        arrivals.push((message.index, started.elapsed().as_secs()));
    }

    assert_eq!(arrivals, [(1, 10), (2, 40), (3, 70)], "over {transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn a_unary_delay_holds_the_whole_answer(transport: Transport) {
    let stub = Stub::new();
    stub.on(UNARY).reply(Reply::message(reply("late", 0)).delay(Duration::from_millis(200)));
    let (server, mut client) = serve(&stub, transport).await;
    let started = Instant::now();

    let answer = client.unary(probe("a", 0)).await.unwrap();

    assert_eq!(started.elapsed(), Duration::from_millis(200), "over {transport}");
    assert_eq!(answer.into_inner(), reply("late", 0));
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn replies_answer_successive_calls_in_turn(transport: Transport) {
    let stub = Stub::new();
    stub.on(UNARY).replies([
        Reply::status(Status::unavailable("warming up")),
        Reply::status(Status::unavailable("still warming up")),
        Reply::message(reply("ready", 0)),
    ]);
    let (server, mut client) = serve(&stub, transport).await;

    let first = client.unary(probe("a", 0)).await;
    let second = client.unary(probe("a", 0)).await;
    let third = client.unary(probe("a", 0)).await;

    assert_status!(first, Code::Unavailable, "warming up");
    assert_status!(second, Code::Unavailable, "still warming up");
    assert_eq!(third.unwrap().into_inner(), reply("ready", 0), "over {transport}");
    server.verify().await;
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn a_rule_used_up_by_its_times_hands_later_calls_to_the_next_rule(transport: Transport) {
    let stub = Stub::new();
    stub.on(UNARY).times(2).reply(Reply::<ProbeReply>::status(Status::unavailable("down")));
    stub.on(UNARY).reply(Reply::message(reply("up", 0)));
    let (server, mut client) = serve(&stub, transport).await;

    let mut codes = Vec::new();
    for _ in 0..4 {
        codes.push(client.unary(probe("a", 0)).await.map(|_| ()).map_err(|status| status.code()));
    }

    let down = Err(Code::Unavailable);
    assert_eq!(codes, [down, down, Ok(()), Ok(())], "over {transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn respond_with_answers_from_the_request_and_its_metadata(transport: Transport) {
    let stub = Stub::new();
    stub.on(UNARY).respond_with(|request: Request<ProbeRequest>| {
        let tenant = request.metadata().get("x-tenant").unwrap().to_str().unwrap().to_owned();
        let request = request.into_inner();
        Reply::message(reply(&format!("{tenant}:{}", request.text), request.count))
    });
    let (server, mut client) = serve(&stub, transport).await;
    let mut request = Request::new(probe("hello", 5));
    request.metadata_mut().insert("x-tenant", "acme".parse().unwrap());

    let answer = client.unary(request).await.unwrap();

    assert_eq!(answer.into_inner(), reply("acme:hello", 5), "over {transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn respond_with_all_sees_every_message_of_a_client_stream(transport: Transport) {
    let stub = Stub::new();
    stub.on("/probe.Probe/ClientStream").respond_with_all(|request: Request<Vec<ProbeRequest>>| {
        let texts: Vec<String> = request.into_inner().into_iter().map(|m| m.text).collect();
        Reply::message(reply(&texts.join("+"), texts.len() as u32))
    });
    let (server, mut client) = serve(&stub, transport).await;
    let messages = vec![probe("a", 0), probe("b", 0), probe("c", 0)];

    let answer = client.client_stream(tokio_stream::iter(messages.clone())).await.unwrap();

    assert_eq!(answer.into_inner(), reply("a+b+c", 3), "over {transport}");
    assert_eq!(server.calls()[0].requests::<ProbeRequest>(), messages, "over {transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn respond_with_stream_answers_a_bidi_client_message_by_message(transport: Transport) {
    use tokio_stream::StreamExt;
    let stub = Stub::new();
    stub.on("/probe.Probe/Bidi").respond_with_stream(
        |request: Request<Streaming<ProbeRequest>>| {
            request.into_inner().map(|message| Ok(reply(&message?.text.to_uppercase(), 0)))
        },
    );
    let (server, mut client) = serve(&stub, transport).await;
    let (sender, requests) = tokio::sync::mpsc::channel(1);
    let requests = tokio_stream::wrappers::ReceiverStream::new(requests);

    let mut answers = client.bidi(requests).await.unwrap().into_inner();
    // Each answer arrives while the request stream is still open.
    sender.send(probe("one", 0)).await.unwrap();
    let first = answers.message().await.unwrap();
    sender.send(probe("two", 0)).await.unwrap();
    let second = answers.message().await.unwrap();
    drop(sender);
    let end = answers.message().await.unwrap();

    assert_eq!((first, second, end), (Some(reply("ONE", 0)), Some(reply("TWO", 0)), None));
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn a_stub_and_services_share_one_server(transport: Transport) {
    let stub = Stub::new();
    stub.on("/other.Other/Get").reply(Reply::message(reply("stubbed", 0)));
    let server = TestServer::builder()
        .transport(transport)
        .add_service(Probe::new().server())
        .add_stub(&stub)
        .start()
        .await;
    let mut client = server.client(ProbeClient::new);

    let real = client.unary(probe("real", 0)).await.unwrap().into_inner();

    assert_eq!(real.text, "real", "over {transport}");
    let methods: Vec<String> = server.calls().iter().map(|call| call.method().to_owned()).collect();
    assert_eq!(methods, [UNARY], "over {transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn rules_added_while_the_server_runs_take_effect(transport: Transport) {
    let stub = Stub::new();
    stub.on(UNARY).times(1).reply(Reply::message(reply("first", 0)));
    let (server, mut client) = serve(&stub, transport).await;
    client.unary(probe("a", 0)).await.unwrap();

    stub.on(UNARY).times(1).reply(Reply::message(reply("second", 0)));
    let answer = client.unary(probe("a", 0)).await.unwrap();

    assert_eq!(answer.into_inner(), reply("second", 0), "over {transport}");
    server.verify().await;
    server.shutdown().await;
}

const NO_RULE: &str = "tonic-testkit: no stub rule answers this call to /probe.Probe/Unary; the \
stub has no rule for this method: add one with stub.on(\"/probe.Probe/Unary\")";

#[apply(every_transport)]
#[tokio::test]
async fn an_unexpected_call_is_answered_internal_and_fails_the_test(transport: Transport) {
    let stub = Stub::new();
    stub.on(SERVER_STREAM).times(1).reply(Reply::stream([reply("a", 1)]));
    let (server, mut client) = serve(&stub, transport).await;
    collect(client.server_stream(probe("w", 0)).await.unwrap().into_inner()).await;

    let result = client.unary(probe("a", 0)).await;

    assert_status!(result, Code::Internal, NO_RULE);
    // The report's advice between the problems and the calls is pinned by
    // an_unmet_times_fails_the_test_at_shutdown.
    let message = panic_message(move || drop(server));
    let problem = "tonic-testkit: the stub's expectations were not met (1 problem):
  - unexpected call to /probe.Probe/Unary: the stub has no rule for this method: add one with \
stub.on(\"/probe.Probe/Unary\")
Give the stub a rule";
    let calls = format!(
        "The server saw 2 calls:
  1. /probe.Probe/ServerStream: Ok, 1 request (3 bytes), 1 response (5 bytes)
  2. /probe.Probe/Unary: Internal {NO_RULE:?}, 0 requests, 0 responses"
    );
    assert!(message.starts_with(problem), "over {transport}: the report was:\n{message}");
    assert!(message.ends_with(&calls), "over {transport}: the report was:\n{message}");
}

#[apply(every_transport)]
#[tokio::test]
async fn a_call_past_the_last_rules_times_names_the_used_up_rule(transport: Transport) {
    let stub = Stub::new();
    let line = line!() + 1;
    stub.on(UNARY).times(1).reply(Reply::message(reply("once", 0)));
    let (server, mut client) = serve(&stub, transport).await;
    client.unary(probe("a", 0)).await.unwrap();

    let result = client.unary(probe("b", 0)).await;

    let expected = format!(
        "tonic-testkit: no stub rule answers this call to /probe.Probe/Unary; its rules for this \
         method are used up (stub.on(\"/probe.Probe/Unary\").times(1).reply(..) at \
         tests/stubs.rs:{line}:10); raise a `times(..)`, or add a rule for the later calls"
    );
    assert_status!(result, Code::Internal, expected.as_str());
    assert!(
        verify_message(server.verify())
            .contains("  - unexpected call to /probe.Probe/Unary: its rules")
    );
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn an_unmet_times_fails_the_test_at_shutdown(transport: Transport) {
    let stub = Stub::new();
    let line = line!() + 1;
    stub.on(UNARY).times(2).reply(Reply::message(reply("a", 0)));
    let (server, mut client) = serve(&stub, transport).await;
    client.unary(probe("a", 0)).await.unwrap();

    let shutdown = tokio::spawn(async move { server.shutdown().await }).await;

    let payload = shutdown.expect_err("shutdown must fail the test").into_panic();
    assert_eq!(
        payload.downcast_ref::<String>().unwrap(),
        &format!(
            "tonic-testkit: the stub's expectations were not met (1 problem):
  - stub.on(\"/probe.Probe/Unary\").times(2).reply(..) at tests/stubs.rs:{line}:10 expects \
exactly 2 calls, and answered 1 call
Give the stub a rule for each call the code under test makes, matching what it sends, with the \
calls it expects; if the code should not make a call, fix the code.
The server saw 1 call:
  1. /probe.Probe/Unary: Ok, 1 request (3 bytes), 1 response (3 bytes)"
        ),
        "over {transport}"
    );
}

#[apply(every_transport)]
#[tokio::test]
async fn verify_fails_at_its_own_line_and_does_not_report_twice(transport: Transport) {
    let stub = Stub::new();
    stub.on(UNARY).times(1).reply(Reply::message(reply("a", 0)));
    let (server, mut client) = serve(&stub, transport).await;
    client.unary(probe("a", 0)).await.unwrap();
    client.server_stream(probe("w", 0)).await.unwrap_err();

    let line = line!() + 1;
    let message = verify_message(server.verify());

    let problem = "tonic-testkit: the stub's expectations were not met (1 problem):
  - unexpected call to /probe.Probe/ServerStream: the stub has no rule for this method: add one \
with stub.on(\"/probe.Probe/ServerStream\")
Give the stub a rule";
    assert!(message.starts_with(problem), "over {transport}: the report was:\n{message}");
    assert!(
        message.ends_with(&format!(
            "The server saw 2 calls:
  1. /probe.Probe/Unary: Ok, 1 request (3 bytes), 1 response (3 bytes)
  2. /probe.Probe/ServerStream: Internal \"tonic-testkit: no stub rule answers this call to \
/probe.Probe/ServerStream; the stub has no rule for this method: add one with \
stub.on(\\\"/probe.Probe/ServerStream\\\")\", 0 requests, 0 responses
Checked by server.verify() at tests/stubs.rs:{line}:41."
        )),
        "over {transport}: the report was:\n{message}"
    );
    // Reported once: the rule is met, and the unexpected call was reported by verify().
    server.shutdown().await;
}

#[apply(http2_transports)]
#[tokio::test]
async fn respond_with_given_a_client_stream_fails_the_test_saying_what_to_use(
    transport: Transport,
) {
    let stub = Stub::new();
    stub.on("/probe.Probe/ClientStream")
        .respond_with(|_: Request<ProbeRequest>| Reply::message(reply("a", 0)));
    let (server, mut client) = serve(&stub, transport).await;

    let result = client.client_stream(tokio_stream::iter(vec![probe("a", 0); 2])).await;

    let expected = "the handler for /probe.Probe/ClientStream panicked: \
stub.on(\"/probe.Probe/ClientStream\").respond_with(..) answers calls with one request message, \
and this call sent 2; answer client streams with .respond_with_all(..)";
    assert_status!(result, Code::Internal, expected);
    assert_eq!(server.take_panics()[0].to_string(), expected);
    server.shutdown().await;
}

#[test]
#[should_panic(expected = "Stub::on: \"Unary\" is not a gRPC method path: use the full path")]
fn a_method_without_its_full_path_is_rejected() {
    let _ = Stub::new().on("Unary");
}

#[test]
#[should_panic(expected = "StubRule::times(0) for \"/probe.Probe/Unary\": a rule that answers no \
call is not needed, because a call that no rule answers fails the test; leave the rule out")]
fn times_zero_is_rejected() {
    let _ = Stub::new().on(UNARY).times(0);
}

#[test]
#[should_panic(expected = "StubRule::replies for \"/probe.Probe/Unary\" got 2 replies after \
.times(3); the rule expects one call per reply: leave .times(..) out")]
fn replies_with_another_times_is_rejected() {
    let replies = [Reply::message(reply("a", 0)), Reply::message(reply("b", 0))];
    Stub::new().on(UNARY).times(3).replies(replies);
}

#[tokio::test]
#[should_panic(expected = "Stub::on(\"/probe.Probe/Unary\"): the server also has the service \
probe.Probe (added with add_service), which takes every call to it, so this rule would never \
answer; stub the method in that service's implementation, or leave the service out of the server")]
async fn a_rule_shadowed_by_a_service_is_rejected_at_start() {
    let stub = Stub::new();
    stub.on(UNARY).reply(Reply::message(reply("a", 0)));
    let _server =
        TestServer::builder().add_service(Probe::new().server()).add_stub(&stub).start().await;
}

#[tokio::test]
#[should_panic(expected = "this Stub already answers another TestServer; a Stub serves one \
server (its call counts are that server's): make a Stub per server")]
async fn a_stub_serves_one_server() {
    let stub = Stub::new();
    let _first = TestServer::builder().add_stub(&stub).start().await;
    let _second = TestServer::builder().add_stub(&stub).start().await;
}

#[test]
fn misused_replies_say_what_to_write_instead() {
    let cases: [(fn(), &str); 6] = [
        (
            || drop(Reply::<ProbeReply>::status(Status::ok("fine"))),
            "Reply::status takes an error status, got OK \"fine\"; answer with \
             Reply::message(..) or Reply::stream(..) for a successful call",
        ),
        (
            || drop(Reply::message(reply("a", 0)).end_with(Status::aborted("x"))),
            "Reply::end_with applies to Reply::stream(..); a unary error is Reply::status(status)",
        ),
        (
            || drop(Reply::message(reply("a", 0)).interval(Duration::from_secs(1))),
            "Reply::interval applies to Reply::stream(..); delay a single answer with .delay(..)",
        ),
        (
            || drop(Reply::stream([reply("a", 0)]).trailer("x-a", "1")),
            "Reply::trailer(\"x-a\", ..) needs an error status to carry it: tonic handlers cannot \
             add trailers to a call that ends OK; use Reply::status(..), or call \
             .end_with(status) before .trailer(..)",
        ),
        (
            || drop(Reply::stream([reply("a", 0)]).unary()),
            "Reply::unary got a Reply::stream(..): a unary method answers with \
             Reply::message(..) or Reply::status(..); streaming methods take .streaming()",
        ),
        (
            || drop(Reply::message(reply("a", 0)).delay(Duration::from_millis(5)).unary()),
            "Reply::unary cannot apply a delay of 5ms: a mock's `returning` closure answers at \
             once; answer through a Stub (stub.on(method).reply(..)) to delay a unary call",
        ),
    ];
    for (misuse, expected) in cases {
        assert_eq!(panic_message(misuse), expected);
    }
}
