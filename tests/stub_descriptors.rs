//! A stub given the service's descriptors refuses, at the rule's line, a rule that gets the
//! method wrong: a method that does not exist, a message of another type, a reply of the wrong
//! shape.

mod common;

use std::{
    panic::{AssertUnwindSafe, Location},
    sync::Mutex,
};

use common::every_transport;
use common::{panic_text, probe};
use rstest::rstest;
use rstest_reuse::apply;
use tonic::{Request, Streaming};
use tonic_testkit::{Reply, Stub, TestServer, Transport};
use tonic_testkit_support::{FILE_DESCRIPTOR_SET, ProbeClient, ProbeReply, ProbeRequest};

const REQUEST: &str = "tonic_testkit_support::generated::ProbeRequest";
const REPLY: &str = "tonic_testkit_support::generated::ProbeReply";

fn stub() -> Stub {
    Stub::with_descriptors(FILE_DESCRIPTOR_SET)
}

/// The message and location of the panic `write` makes at the line it is called on.
fn refusal(write: impl FnOnce(&Stub)) -> (String, u32) {
    static HOOK: Mutex<()> = Mutex::new(());
    let _serial = HOOK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let seen = std::sync::Arc::new(Mutex::new(None));
    let record = seen.clone();
    let thread = std::thread::current().id();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().id() == thread {
            *record.lock().unwrap() = info.location().map(Location::line);
        }
    }));
    let stub = stub();
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| write(&stub)));
    std::panic::set_hook(previous);
    let line = seen.lock().unwrap().take().expect("a panic location");
    (panic_text(outcome.expect_err("the rule must be refused")), line)
}

#[test]
fn a_rule_for_a_method_that_does_not_exist_lists_the_methods_closest_first() {
    let line = line!() + 1;
    let (message, at) = refusal(|stub| drop(stub.on("/probe.Probe/Unry")));

    assert_eq!(
        message,
        "Stub::on(\"/probe.Probe/Unry\"): the stub's descriptors have no such method; the methods \
         they describe, closest first: /probe.Probe/Unary, /probe.Probe/Bidi, \
         /probe.Probe/ClientStream, /probe.Probe/ServerStream"
    );
    assert_eq!(at, line);
}

#[test]
fn a_reply_of_another_type_than_the_methods_output_is_refused_naming_both() {
    let wrong = || Reply::message(probe("a", 0));
    let line = line!() + 1;
    let (message, at) = refusal(|stub| drop(stub.on("/probe.Probe/Unary").reply(wrong())));

    assert_eq!(
        message,
        format!(
            "stub.on(\"/probe.Probe/Unary\").reply(..): it answers with ProbeRequest ({REQUEST}), \
             and /probe.Probe/Unary answers probe.ProbeReply; answer with that message"
        )
    );
    assert_eq!(at, line);
}

#[test]
fn a_reply_of_the_wrong_shape_is_refused_saying_which_to_use() {
    let (one, _) = refusal(|stub| {
        drop(stub.on("/probe.Probe/ServerStream").reply(Reply::message(ProbeReply::default())))
    });
    let (stream, _) = refusal(|stub| {
        drop(stub.on("/probe.Probe/Unary").replies([Reply::stream([ProbeReply::default()])]))
    });

    assert_eq!(
        one,
        "stub.on(\"/probe.Probe/ServerStream\").reply(..): Reply::message(..) answers with one \
         message, and /probe.Probe/ServerStream streams its answers (server streaming); reply \
         with Reply::stream(..)"
    );
    assert_eq!(
        stream,
        "stub.on(\"/probe.Probe/Unary\").replies(..): Reply::stream(..) streams its answers, and \
         /probe.Probe/Unary answers with one message; reply with Reply::message(..)"
    );
}

#[test]
fn a_request_matcher_or_closure_over_another_type_is_refused() {
    let (matcher, _) =
        refusal(|stub| drop(stub.on("/probe.Probe/Unary").when(|_: &ProbeReply| true)));
    let (closure, _) = refusal(|stub| {
        drop(
            stub.on("/probe.Probe/Unary")
                .respond_with(|_: Request<ProbeRequest>| Reply::message(probe("a", 0))),
        )
    });
    let (client_stream, _) = refusal(|stub| {
        drop(
            stub.on("/probe.Probe/ClientStream")
                .respond_with(|_: Request<ProbeRequest>| Reply::message(ProbeReply::default())),
        )
    });

    assert_eq!(
        matcher,
        format!(
            "stub.on(\"/probe.Probe/Unary\").when(..): it reads the request as ProbeReply \
             ({REPLY}), and /probe.Probe/Unary takes probe.ProbeRequest; read it as that message"
        )
    );
    assert_eq!(
        closure,
        format!(
            "stub.on(\"/probe.Probe/Unary\").respond_with(..): it answers with ProbeRequest \
             ({REQUEST}), and /probe.Probe/Unary answers probe.ProbeReply; answer with that message"
        )
    );
    assert_eq!(
        client_stream,
        "stub.on(\"/probe.Probe/ClientStream\").respond_with(..): respond_with answers a call that \
         sends one request message, and /probe.Probe/ClientStream takes a stream of them (client \
         streaming); use .respond_with_all(..)"
    );
}

#[test]
#[should_panic(expected = "Stub::with_descriptors: the bytes given are not an encoded \
FileDescriptorSet")]
fn bytes_that_are_not_descriptors_are_refused() {
    let _ = Stub::with_descriptors(b"not a descriptor set");
}

#[apply(every_transport)]
#[tokio::test]
async fn rules_that_fit_the_descriptors_answer_as_any_rule_does(transport: Transport) {
    let stub = stub();
    stub.on("/probe.Probe/Unary")
        .when_eq(probe("a", 0))
        .reply(Reply::message(ProbeReply::default()));
    stub.on("/probe.Probe/ServerStream").reply(Reply::stream(vec![ProbeReply::default(); 2]));
    stub.on("/probe.Probe/Bidi").respond_with_stream(
        |request: Request<Streaming<ProbeRequest>>| {
            use tokio_stream::StreamExt;
            request.into_inner().map(|_| Ok(ProbeReply::default()))
        },
    );
    let server = TestServer::builder().transport(transport).add_stub(&stub).start().await;
    let mut client = server.client(ProbeClient::new);

    client.unary(probe("a", 0)).await.unwrap();
    let replies = client.server_stream(probe("a", 0)).await.unwrap().into_inner();
    let outcome = tonic_testkit::collect(replies).await;

    assert_eq!(outcome.messages().len(), 2, "{transport}");
    server.verify().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn a_journal_read_as_the_wrong_type_fails_naming_the_methods_type(transport: Transport) {
    let server = TestServer::builder()
        .transport(transport)
        .add_service(tonic_testkit_support::Probe::new().server())
        .descriptors(FILE_DESCRIPTOR_SET)
        .start()
        .await;
    server.client(ProbeClient::new).unary(probe("a", 0)).await.unwrap();
    let call = &server.calls()[0];

    let request =
        std::panic::catch_unwind(AssertUnwindSafe(|| call.request::<ProbeReply>(0))).unwrap_err();
    let response = std::panic::catch_unwind(AssertUnwindSafe(|| call.response::<ProbeRequest>(0)))
        .unwrap_err();

    assert_eq!(
        panic_text(request),
        format!(
            "tonic-testkit: request message 0 of /probe.Probe/Unary was asked for as ProbeReply \
             ({REPLY}), and the method takes probe.ProbeRequest; ask for that message"
        ),
        "{transport}"
    );
    assert_eq!(
        panic_text(response),
        format!(
            "tonic-testkit: response message 0 of /probe.Probe/Unary was asked for as \
             ProbeRequest ({REQUEST}), and the method returns probe.ProbeReply; ask for that \
             message"
        ),
        "{transport}"
    );
    assert_eq!(call.request::<ProbeRequest>(0).text, "a");
    server.shutdown().await;
}

#[tokio::test]
async fn a_server_takes_its_stubs_descriptors_for_the_journal() {
    let stub = stub();
    stub.on("/probe.Probe/Unary").reply(Reply::message(ProbeReply::default()));
    let server = TestServer::builder().add_stub(&stub).start().await;
    server.client(ProbeClient::new).unary(probe("a", 0)).await.unwrap();
    let call = &server.calls()[0];

    let misread =
        std::panic::catch_unwind(AssertUnwindSafe(|| call.request::<ProbeReply>(0))).unwrap_err();

    assert!(
        panic_text(misread).ends_with("the method takes probe.ProbeRequest; ask for that message")
    );
    server.shutdown().await;
}
