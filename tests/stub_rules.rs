//! Stub rules that match what a call carries, expectations said apart from answers, names,
//! scoped checks and resets, on every transport.

mod common;

use common::every_transport;
use common::{panic_text, probe};
use rstest::rstest;
use rstest_reuse::apply;
use tonic::{Code, Request, Streaming, metadata::MetadataValue};
use tonic_testkit::{Reply, Stub, TestChannel, TestServer, Transport};
use tonic_testkit_support::{ProbeClient, ProbeReply, ProbeRequest};

const UNARY: &str = "/probe.Probe/Unary";

fn text(text: &str) -> Reply<ProbeReply> {
    Reply::message(ProbeReply { text: text.to_owned(), index: 0 })
}

async fn serve(stub: &Stub, transport: Transport) -> (TestServer, ProbeClient<TestChannel>) {
    let server = TestServer::builder().transport(transport).add_stub(stub).start().await;
    let client = server.client(ProbeClient::new);
    (server, client)
}

async fn answer(
    client: &mut ProbeClient<TestChannel>,
    request: impl tonic::IntoRequest<ProbeRequest>,
) -> String {
    match client.unary(request).await {
        Ok(reply) => reply.into_inner().text,
        Err(status) => format!("{:?}", status.code()),
    }
}

fn with_header(key: &str, value: &str, message: ProbeRequest) -> Request<ProbeRequest> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert(key.parse::<tonic::metadata::AsciiMetadataKey>().unwrap(), value.parse().unwrap());
    request
}

#[apply(every_transport)]
#[tokio::test]
async fn the_first_rule_whose_conditions_hold_answers_in_the_order_added(transport: Transport) {
    let stub = Stub::new();
    stub.on(UNARY).when_eq(probe("bob", 0)).reply(text("hi bob"));
    stub.on(UNARY).when(|request: &ProbeRequest| request.count > 5).reply(text("many"));
    stub.on(UNARY).reply(text("anyone"));
    let (server, mut client) = serve(&stub, transport).await;

    let answers = [
        answer(&mut client, probe("bob", 0)).await,
        answer(&mut client, probe("bob", 9)).await,
        answer(&mut client, probe("ann", 9)).await,
        answer(&mut client, probe("ann", 1)).await,
    ];

    assert_eq!(answers, ["hi bob", "many", "many", "anyone"], "{transport}");
    server.verify().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn metadata_matchers_check_a_value_its_presence_or_its_absence(transport: Transport) {
    let stub = Stub::new();
    stub.on(UNARY).when_header("x-tenant", "acme").reply(text("acme"));
    stub.on(UNARY).when_header("x-trace-bin", [1u8, 2, 3]).reply(text("traced"));
    stub.on(UNARY).when_header_present("authorization").reply(text("signed in"));
    stub.on(UNARY).when_header_absent("x-tenant").reply(text("no tenant"));
    stub.on(UNARY).reply(text("other tenant"));
    let (server, mut client) = serve(&stub, transport).await;
    let mut traced = Request::new(probe("a", 0));
    traced.metadata_mut().insert_bin("x-trace-bin", MetadataValue::from_bytes(&[1, 2, 3]));

    let answers = [
        answer(&mut client, with_header("x-tenant", "acme", probe("a", 0))).await,
        answer(&mut client, traced).await,
        answer(&mut client, with_header("authorization", "Bearer t", probe("a", 0))).await,
        answer(&mut client, probe("a", 0)).await,
        answer(&mut client, with_header("x-tenant", "other", probe("a", 0))).await,
    ];

    assert_eq!(
        answers,
        ["acme", "traced", "signed in", "no tenant", "other tenant"],
        "{transport}"
    );
    server.verify().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn nth_matches_only_that_call_to_the_method(transport: Transport) {
    let stub = Stub::new();
    stub.on(UNARY).nth(2).reply(Reply::<ProbeReply>::status(tonic::Status::unavailable("blip")));
    stub.on(UNARY).reply(text("ok"));
    let (server, mut client) = serve(&stub, transport).await;

    let mut answers = Vec::new();
    for _ in 0..3 {
        answers.push(answer(&mut client, probe("a", 0)).await);
    }

    assert_eq!(answers, ["ok", "Unavailable", "ok"], "{transport}");
    server.verify().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn when_all_matches_on_every_message_of_a_client_stream(transport: Transport) {
    let stub = Stub::new();
    stub.on("/probe.Probe/ClientStream")
        .when_all(|messages: &[ProbeRequest]| messages.len() == 3)
        .reply(text("three"));
    stub.on("/probe.Probe/ClientStream").reply(text("not three"));
    let (server, mut client) = serve(&stub, transport).await;

    let three = client.client_stream(tokio_stream::iter(vec![probe("a", 0); 3])).await.unwrap();
    let two = client.client_stream(tokio_stream::iter(vec![probe("a", 0); 2])).await.unwrap();

    assert_eq!(
        (three.into_inner().text.as_str(), two.into_inner().text.as_str()),
        ("three", "not three")
    );
    server.verify().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn when_matches_the_first_message_of_a_live_bidi_stream(transport: Transport) {
    let stub = Stub::new();
    stub.on("/probe.Probe/Bidi")
        .when(|first: &ProbeRequest| first.text == "hello")
        .respond_with_stream(|request: Request<Streaming<ProbeRequest>>| {
            use tokio_stream::StreamExt;
            request
                .into_inner()
                .map(|message| Ok(ProbeReply { text: message?.text.to_uppercase(), index: 0 }))
        });
    let (server, mut client) = serve(&stub, transport).await;
    let (sender, requests) = tokio::sync::mpsc::channel(1);
    let requests = tokio_stream::wrappers::ReceiverStream::new(requests);

    sender.send(probe("hello", 0)).await.unwrap();
    let mut replies = client.bidi(requests).await.unwrap().into_inner();
    let first = replies.message().await.unwrap().unwrap();
    sender.send(probe("again", 0)).await.unwrap();
    let second = replies.message().await.unwrap().unwrap();
    drop(sender);

    assert_eq!((first.text.as_str(), second.text.as_str()), ("HELLO", "AGAIN"), "{transport}");
    assert_eq!(replies.message().await.unwrap(), None);
    server.verify().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn a_call_no_rule_matches_is_answered_internal_with_the_closest_rules_first(
    transport: Transport,
) {
    let stub = Stub::new();
    let first = line!() + 1;
    stub.on(UNARY)
        .named("admins")
        .when_header("x-role", "admin")
        .when_eq(probe("bob", 0))
        .reply(text("a"));
    let second = line!() + 1;
    stub.on(UNARY).when_eq(probe("bob", 0)).reply(text("b"));
    let (server, mut client) = serve(&stub, transport).await;

    let status = client.unary(with_header("x-role", "guest", probe("ann", 1))).await.unwrap_err();

    let why = format!(
        "none of its rules for this method matches it (closest first):
    - stub.on(\"/probe.Probe/Unary\").when_eq(..).reply(..) at tests/stub_rules.rs:{second}:10
        when_eq(..) did not match: expected ProbeRequest {{ text: \"bob\", count: 0 }}, the call had ProbeRequest {{ text: \"ann\", count: 1 }}
    - rule \"admins\" (stub.on(\"/probe.Probe/Unary\").when_header(\"x-role\", \"admin\").when_eq(..).reply(..) at tests/stub_rules.rs:{first}:10)
        when_header(\"x-role\", \"admin\") did not match: the call had \"x-role\" = \"guest\"
        when_eq(..) did not match: expected ProbeRequest {{ text: \"bob\", count: 0 }}, the call had ProbeRequest {{ text: \"ann\", count: 1 }}"
    );
    let expected = format!("tonic-testkit: no stub rule answers this call to {UNARY}; {why}");
    assert_eq!(
        (status.code(), status.message()),
        (Code::Internal, expected.as_str()),
        "{transport}"
    );
    let shutdown = tokio::spawn(async move { server.shutdown().await }).await;
    let report = panic_text(shutdown.unwrap_err().into_panic());
    let problem = format!("  - unexpected call to {UNARY}: {why}\n");
    assert!(report.contains(&problem), "{transport}: the report was:\n{report}");
}

#[apply(every_transport)]
#[tokio::test]
async fn expectations_are_ranges_checked_apart_from_how_many_calls_a_rule_answers(
    transport: Transport,
) {
    let stub = Stub::new();
    let limited = line!() + 1;
    stub.on(UNARY).when_eq(probe("once", 0)).up_to(1).expect(..=1).reply(text("first"));
    stub.on(UNARY).when_eq(probe("once", 0)).expect(1..).reply(text("later"));
    let never = line!() + 1;
    stub.on(UNARY).when_eq(probe("never", 0)).expect(0).reply(text("never"));
    let at_most = line!() + 1;
    stub.on(UNARY).when_eq(probe("twice", 0)).expect(..2).reply(text("twice"));
    let (server, mut client) = serve(&stub, transport).await;

    let answers = [
        answer(&mut client, probe("once", 0)).await,
        answer(&mut client, probe("once", 0)).await,
        answer(&mut client, probe("once", 0)).await,
        answer(&mut client, probe("never", 0)).await,
        answer(&mut client, probe("twice", 0)).await,
        answer(&mut client, probe("twice", 0)).await,
    ];

    assert_eq!(answers, ["first", "later", "later", "never", "twice", "twice"], "{transport}");
    let shutdown = tokio::spawn(async move { server.shutdown().await }).await;
    let report = panic_text(shutdown.unwrap_err().into_panic());
    let expected = format!(
        "tonic-testkit: the stub's expectations were not met (2 problems):
  - stub.on(\"/probe.Probe/Unary\").when_eq(..).expect(0).reply(..) at tests/stub_rules.rs:{never}:10 expects no calls, and answered 1 call
  - stub.on(\"/probe.Probe/Unary\").when_eq(..).expect(..=1).reply(..) at tests/stub_rules.rs:{at_most}:10 expects at most 1 call, and answered 2 calls
Give the stub a rule"
    );
    assert!(report.starts_with(&expected), "{transport}: the report was:\n{report}");
    let _ = limited;
}

#[apply(every_transport)]
#[tokio::test]
async fn a_scoped_rule_answers_its_phase_and_is_removed_when_its_guard_drops(transport: Transport) {
    let stub = Stub::new();
    let (server, mut client) = serve(&stub, transport).await;

    let phase_one = {
        let login = stub.on(UNARY).expect(1).reply(text("phase one")).scoped();
        let answered = answer(&mut client, probe("a", 0)).await;
        drop(login); // checked here: exactly one call
        answered
    };
    let handle = stub.on(UNARY).expect(2..).reply(text("phase two"));
    let phase_two =
        [answer(&mut client, probe("a", 0)).await, answer(&mut client, probe("a", 0)).await];

    assert_eq!(phase_one, "phase one", "{transport}");
    assert_eq!(phase_two, ["phase two", "phase two"], "{transport}");
    assert_eq!(handle.calls(), 2, "{transport}");
    server.verify().await;
}

#[tokio::test]
async fn a_scoped_rule_whose_expectation_is_unmet_fails_the_test_when_its_guard_drops() {
    let stub = Stub::new();
    let (server, mut client) = serve(&stub, Transport::Memory).await;
    let line = line!() + 1;
    let guard = stub.on(UNARY).named("login").expect(2).reply(text("a")).scoped();
    answer(&mut client, probe("a", 0)).await;

    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(guard)));

    // The advice in the middle is pinned by tests/stubs.rs, an_unmet_times_fails_the_test_at_shutdown.
    let report = panic_text(outcome.unwrap_err());
    let problem = format!(
        "tonic-testkit: the stub's expectations were not met (1 problem):
  - rule \"login\" (stub.on(\"/probe.Probe/Unary\").expect(2).reply(..) at tests/stub_rules.rs:{line}:22) expects exactly 2 calls, and answered 1 call
Give the stub a rule"
    );
    let checked =
        format!("\nChecked when the guard made at tests/stub_rules.rs:{line}:74 dropped.");
    assert!(report.starts_with(&problem), "the report was:\n{report}");
    assert!(report.ends_with(&checked), "the report was:\n{report}");
    server.shutdown().await; // the rule went with its guard: nothing is reported twice
}

#[tokio::test]
async fn a_scoped_guard_dropped_by_a_failing_test_does_not_panic_again() {
    let stub = Stub::new();
    let failing = tokio::spawn(async move {
        let _guard = stub.on(UNARY).expect(1).reply(text("a")).scoped();
        panic!("the test's own failure");
    });

    let payload = failing.await.unwrap_err().into_panic();

    assert_eq!(panic_text(payload), "the test's own failure");
}

#[apply(every_transport)]
#[tokio::test]
async fn reset_removes_the_rules_and_forgets_the_calls_of_the_last_phase(transport: Transport) {
    let stub = Stub::new();
    stub.on(UNARY).nth(1).expect(1).reply(text("first phase"));
    let (server, mut client) = serve(&stub, transport).await;
    let first = answer(&mut client, probe("a", 0)).await;
    let unexpected = answer(&mut client, probe("a", 0)).await;

    stub.reset();
    stub.on(UNARY).nth(1).reply(text("second phase"));
    let second = answer(&mut client, probe("a", 0)).await;

    assert_eq!(
        [first, unexpected, second],
        ["first phase", "Internal", "second phase"],
        "{transport}"
    );
    server.shutdown().await; // the unexpected call went with the reset
}

#[test]
#[should_panic(
    expected = "stub.on(\"/probe.Probe/Unary\").up_to(1).expect(2..): the rule answers at \
most 1 calls and expects at least 2 calls; raise .up_to(..) or lower .expect(..)"
)]
fn a_rule_that_cannot_answer_what_it_expects_is_refused() {
    let _ = Stub::new().on(UNARY).up_to(1).expect(2..).reply(text("a"));
}

#[test]
#[should_panic(
    expected = "stub.on(\"/probe.Probe/ClientStream\").when_all(..).respond_with_stream(..): \
when_all reads the whole request stream before the rule answers, and a live stream's client waits \
for answers before it ends its stream; match its first message with .when(..) instead"
)]
fn when_all_with_a_live_stream_answer_is_refused() {
    let stub = Stub::new();
    let _ = stub
        .on("/probe.Probe/ClientStream")
        .when_all(|_: &[ProbeRequest]| true)
        .respond_with_stream(|request: Request<Streaming<ProbeRequest>>| {
            use tokio_stream::StreamExt;
            request.into_inner().map(|_| Ok(ProbeReply::default()))
        });
}

#[test]
fn zero_counts_are_refused_saying_what_to_write() {
    let stub = Stub::new();
    let nth = std::panic::catch_unwind(|| drop(stub.on(UNARY).nth(0))).unwrap_err();
    let up_to = std::panic::catch_unwind(|| drop(stub.on(UNARY).up_to(0))).unwrap_err();

    assert_eq!(panic_text(nth), "StubRule::nth(0) for \"/probe.Probe/Unary\": calls count from 1");
    assert_eq!(
        panic_text(up_to),
        "StubRule::up_to(0) for \"/probe.Probe/Unary\": a rule that answers no call is not \
         needed; leave it out, or give a rule that should never be called .expect(0)"
    );
}
