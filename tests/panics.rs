//! No lost panics: a handler panic fails the test in every transport, with the panic text.

use std::task::Poll;

use common::{every_transport, http2_transports};
use rstest::rstest;
use rstest_reuse::apply;
use tokio_stream::StreamExt;
use tonic::{Code, Request, Status};
use tonic_testkit::{TestServer, Transport};
use tonic_testkit_support::{Probe, ProbeClient, ProbeRequest};
mod common;

use common::{probe, start};

/// The whole report of one handler panic: its layout is pinned here, and the other tests check
/// the line that is theirs.
const UNARY_REPORT: &str = "tonic-testkit: the test server caught a panic:
  - the handler for /probe.Probe/Unary panicked: boom (the client was answered INTERNAL)
Fix the code that panicked; if the test provokes a handler panic on purpose, take it with \
`server.take_panics()` and assert on it.
The server saw 1 call:
  1. /probe.Probe/Unary: Internal \"the handler for /probe.Probe/Unary panicked: boom\", 1 \
request (12 bytes), 0 responses";

#[apply(http2_transports)]
#[tokio::test]
async fn a_handler_panic_answers_internal_with_the_panic_text(transport: Transport) {
    let (server, mut client) = start(transport).await;

    let status = client.unary(probe("panic:boom", 0)).await.unwrap_err();

    assert_eq!(status.code(), Code::Internal, "{transport}");
    assert_eq!(status.message(), "the handler for /probe.Probe/Unary panicked: boom");
    let panics = server.take_panics();
    assert_eq!(panics.len(), 1);
    assert_eq!((panics[0].method(), panics[0].message()), ("/probe.Probe/Unary", "boom"));
    server.shutdown().await;
}

#[apply(http2_transports)]
#[tokio::test]
#[should_panic(expected = "caught a panic:
  - the handler for /probe.Probe/Unary panicked: boom (the client was answered INTERNAL)")]
async fn a_handler_panic_fails_the_test_at_shutdown(transport: Transport) {
    let (server, mut client) = start(transport).await;
    // The test does not look at the status: the panic must still fail it.
    let _ = client.unary(probe("panic:boom", 0)).await;

    server.shutdown().await;
}

#[apply(http2_transports)]
#[tokio::test]
async fn a_handler_panic_fails_the_test_when_the_server_is_dropped(transport: Transport) {
    let (server, mut client) = start(transport).await;
    let _ = client.unary(probe("panic:boom", 0)).await;

    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(server)));

    let payload = outcome.expect_err("dropping the server must fail the test");
    assert_eq!(payload.downcast_ref::<String>().map(String::as_str), Some(UNARY_REPORT));
}

#[tokio::test]
#[should_panic(expected = "boom")]
async fn a_handler_panic_unwinds_into_the_test_in_direct_mode() {
    let (_server, mut client) = start(Transport::Direct).await;

    let _ = client.unary(probe("panic:boom", 0)).await;
}

#[tokio::test]
async fn a_direct_panic_caught_by_the_test_is_still_reported_at_shutdown() {
    let (server, mut client) = start(Transport::Direct).await;
    let call = tokio::spawn(async move { client.unary(probe("panic:boom", 0)).await });
    let unwound = call.await.unwrap_err().into_panic();
    assert_eq!(unwound.downcast_ref::<String>().map(String::as_str), Some("boom"));

    let outcome = tokio::spawn(async move { server.shutdown().await }).await;

    let report = common::panic_text(outcome.unwrap_err().into_panic());
    let unwound = "\n  - the handler for /probe.Probe/Unary panicked: boom (it unwound into the task \
                   that made the call)\n";
    assert!(report.contains(unwound), "the report was:\n{report}");
}

#[apply(http2_transports)]
#[tokio::test]
async fn a_response_stream_panic_ends_the_stream_with_internal(transport: Transport) {
    let (server, mut client) = start(transport).await;

    let replies = client.server_stream(probe("panic-at:1", 3)).await.unwrap().into_inner();
    let mut items: Vec<_> = replies.collect().await;

    // tonic encodes the replies that are ready into one frame, so the panic can take reply 0
    // with it; what must arrive is the status that ends the stream.
    let status = items.pop().unwrap().unwrap_err();
    assert!(items.iter().all(Result::is_ok), "{transport}: {items:?}");
    assert_eq!(status.code(), Code::Internal, "{transport}");
    assert_eq!(
        status.message(),
        "the response stream of /probe.Probe/ServerStream panicked: stream panicked at reply 1"
    );
    assert_eq!(server.take_panics().len(), 1);
    server.shutdown().await;
}

#[apply(http2_transports)]
#[tokio::test]
async fn streaming_handler_panics_are_caught_in_every_shape(transport: Transport) {
    let (server, mut client) = start(transport).await;

    let client_stream =
        client.client_stream(tokio_stream::iter([probe("panic:in client stream", 0)])).await;
    let mut bidi =
        client.bidi(tokio_stream::iter([probe("panic:in bidi", 0)])).await.unwrap().into_inner();
    let bidi_status = bidi.next().await.unwrap().unwrap_err();

    assert_eq!(
        client_stream.unwrap_err().message(),
        "the handler for /probe.Probe/ClientStream panicked: in client stream"
    );
    assert_eq!(bidi_status.message(), "the response stream of /probe.Probe/Bidi panicked: in bidi");
    let messages: Vec<_> = server.take_panics().iter().map(|p| p.message().to_owned()).collect();
    assert_eq!(messages, ["in client stream", "in bidi"]);
    server.shutdown().await;
}

#[tokio::test]
async fn the_report_lists_every_panic() {
    let (server, mut client) = start(Transport::Memory).await;
    let _ = client.unary(probe("panic:first", 0)).await;
    let _ = client.unary(probe("panic:second", 0)).await;

    let outcome = tokio::spawn(async move { server.shutdown().await }).await;

    // The advice between the panics and the calls is pinned by UNARY_REPORT.
    let report = common::panic_text(outcome.unwrap_err().into_panic());
    assert!(
        report.starts_with(
            "tonic-testkit: the test server caught 2 panics:
  - the handler for /probe.Probe/Unary panicked: first (the client was answered INTERNAL)
  - the handler for /probe.Probe/Unary panicked: second (the client was answered INTERNAL)
Fix the code that panicked"
        ),
        "the report was:\n{report}"
    );
    assert!(
        report.ends_with(
            "The server saw 2 calls:
  1. /probe.Probe/Unary: Internal \"the handler for /probe.Probe/Unary panicked: first\", 1 \
request (13 bytes), 0 responses
  2. /probe.Probe/Unary: Internal \"the handler for /probe.Probe/Unary panicked: second\", 1 \
request (14 bytes), 0 responses"
        ),
        "the report was:\n{report}"
    );
}

/// An interceptor that panics on a call that carries `x-boom`, and lets the others through.
fn boom_on_header(request: Request<()>) -> Result<Request<()>, Status> {
    match request.metadata().get("x-boom") {
        Some(_) => panic!("interceptor boom"),
        None => Ok(request),
    }
}

fn with_boom(text: &str) -> Request<ProbeRequest> {
    let mut request = Request::new(probe(text, 0));
    request.metadata_mut().insert("x-boom", "1".parse().unwrap());
    request
}

async fn start_with_interceptor(transport: Transport, probe: &Probe) -> TestServer {
    TestServer::builder()
        .transport(transport)
        .add_service(probe.server())
        .interceptor(boom_on_header)
        .start()
        .await
}

const LAYER_PANIC: &str =
    "a layer or interceptor of the server panicked on /probe.Probe/Unary: interceptor boom";

#[apply(http2_transports)]
#[tokio::test]
async fn an_interceptor_panic_answers_internal_with_the_panic_text(transport: Transport) {
    let server = start_with_interceptor(transport, &Probe::new()).await;
    let mut client = server.client(ProbeClient::new);

    let status = client.unary(with_boom("a")).await.unwrap_err();

    assert_eq!((status.code(), status.message()), (Code::Internal, LAYER_PANIC), "{transport}");
    let panics = server.take_panics();
    let taken: Vec<_> = panics.iter().map(|panic| (panic.method(), panic.message())).collect();
    assert_eq!(taken, [("/probe.Probe/Unary", "interceptor boom")], "{transport}");
    server.shutdown().await;
}

#[apply(http2_transports)]
#[tokio::test]
#[should_panic(expected = "caught a panic:
  - a layer or interceptor of the server panicked on /probe.Probe/Unary: interceptor boom (the \
client was answered INTERNAL)
Fix the code that panicked")]
async fn an_interceptor_panic_fails_the_test_at_shutdown(transport: Transport) {
    let server = start_with_interceptor(transport, &Probe::new()).await;
    let _ = server.client(ProbeClient::new).unary(with_boom("a")).await;

    server.shutdown().await;
}

#[apply(http2_transports)]
#[tokio::test]
async fn an_interceptor_panic_leaves_the_other_calls_on_its_connection_alone(transport: Transport) {
    let service = Probe::new();
    let server = start_with_interceptor(transport, &service).await;
    let mut client = server.client(ProbeClient::new);
    let before = common::peer(&mut client).await;
    let mut hanging = client.clone();
    let hung = tokio::spawn(async move { hanging.unary(probe("hang", 0)).await });
    service.hangs_started(1).await;

    let status = client.unary(with_boom("a")).await.unwrap_err();
    let after = common::peer(&mut client).await;

    assert_eq!(status.code(), Code::Internal, "{transport}");
    assert_eq!(after, before, "{transport}: the panic cost the client its connection");
    assert!(!hung.is_finished(), "{transport}: the call in progress ended with the panic");
    server.take_panics();
    hung.abort();
}

#[tokio::test]
async fn an_interceptor_panic_unwinds_into_the_direct_caller_and_fails_the_test_at_shutdown() {
    let server = start_with_interceptor(Transport::Direct, &Probe::new()).await;
    let mut client = server.client(ProbeClient::new);
    let call = tokio::spawn(async move { client.unary(with_boom("a")).await });
    let unwound = call.await.unwrap_err().into_panic();
    assert_eq!(unwound.downcast_ref::<&str>(), Some(&"interceptor boom"));

    let outcome = tokio::spawn(async move { server.shutdown().await }).await;

    let report = common::panic_text(outcome.unwrap_err().into_panic());
    let unwound = format!("\n  - {LAYER_PANIC} (it unwound into the task that made the call)\n");
    assert!(report.contains(&unwound), "the report was:\n{report}");
    let call =
        format!("\n  1. /probe.Probe/Unary: Internal {LAYER_PANIC:?}, 0 requests, 0 responses");
    assert!(report.ends_with(&call), "the report was:\n{report}");
}

/// A layer whose service panics in `poll_ready`, as a layer with a broken readiness check does.
#[derive(Clone)]
struct PanicsWhenPolled<S>(S);

impl<S, R> tower::Service<R> for PanicsWhenPolled<S>
where
    S: tower::Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> Poll<Result<(), S::Error>> {
        panic!("not ready, ever")
    }

    fn call(&mut self, request: R) -> S::Future {
        self.0.call(request)
    }
}

#[apply(every_transport)]
#[tokio::test]
async fn a_layer_panic_in_poll_ready_is_caught_as_a_handlers(transport: Transport) {
    let server = TestServer::builder()
        .transport(transport)
        .add_service(Probe::new().server())
        .layer(tower::layer::layer_fn(PanicsWhenPolled))
        .start()
        .await;
    let mut client = server.client(ProbeClient::new);

    let call = tokio::spawn(async move { client.unary(probe("a", 0)).await }).await;

    let expected = "a layer or interceptor of the server panicked on /probe.Probe/Unary: not \
                    ready, ever";
    match transport {
        Transport::Direct => {
            assert_eq!(common::panic_text(call.unwrap_err().into_panic()), "not ready, ever")
        }
        _ => {
            let status = call.unwrap().unwrap_err();
            assert_eq!(
                (status.code(), status.message()),
                (Code::Internal, expected),
                "{transport}"
            );
        }
    }
    let panics: Vec<String> = server.take_panics().iter().map(ToString::to_string).collect();
    assert_eq!(panics, [expected], "{transport}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_panic_in_the_clients_own_request_stream_over_direct_is_reported_as_the_clients() {
    let (server, mut client) = start(Transport::Direct).await;
    let breaks = |count: u32| match count {
        0 => probe("a", 0),
        _ => panic!("the client's stream broke"),
    };
    let messages = tokio_stream::iter([0, 1]).map(breaks);
    let call = tokio::spawn(async move { client.client_stream(messages).await }).await;

    let unwound = call.unwrap_err().into_panic();

    assert_eq!(unwound.downcast_ref::<&str>(), Some(&"the client's stream broke"));
    let panics: Vec<String> = server.take_panics().iter().map(ToString::to_string).collect();
    assert_eq!(
        panics,
        ["the client's request stream for /probe.Probe/ClientStream panicked: the client's \
          stream broke"]
    );
    let call = &server.calls()[0];
    let ended = call.status().map(|status| (status.code(), status.message().to_owned()));
    assert_eq!(
        ended,
        Some((
            Code::Cancelled,
            "the client's request stream panicked, so the call was cancelled".to_owned()
        ))
    );
    server.shutdown().await;
}
