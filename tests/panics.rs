//! No lost panics: a handler panic fails the test in every transport, with the panic text.

use rstest::rstest;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_testkit::Transport;
mod common;

use common::{probe, start};

const UNARY_REPORT: &str = "tonic-testkit: the test server caught a panic:
  - the handler for /probe.Probe/Unary panicked: boom (the client was answered INTERNAL)
Fix the code that panicked; if the test provokes a handler panic on purpose, take it with \
`server.take_panics()` and assert on it.
The server saw 1 call:
  1. /probe.Probe/Unary: Internal \"the handler for /probe.Probe/Unary panicked: boom\", 1 \
request, 0 responses";

#[rstest]
#[tokio::test]
async fn a_handler_panic_answers_internal_with_the_panic_text(
    #[values(Transport::Memory, Transport::Tcp)] transport: Transport,
) {
    let (server, mut client) = start(transport).await;

    let status = client.unary(probe("panic:boom", 0)).await.unwrap_err();

    assert_eq!(status.code(), Code::Internal, "{transport}");
    assert_eq!(status.message(), "the handler for /probe.Probe/Unary panicked: boom");
    let panics = server.take_panics();
    assert_eq!(panics.len(), 1);
    assert_eq!((panics[0].method(), panics[0].message()), ("/probe.Probe/Unary", "boom"));
    server.shutdown().await;
}

#[rstest]
#[tokio::test]
#[should_panic(expected = "tonic-testkit: the test server caught a panic:
  - the handler for /probe.Probe/Unary panicked: boom (the client was answered INTERNAL)
Fix the code that panicked; if the test provokes a handler panic on purpose, take it with \
`server.take_panics()` and assert on it.")]
async fn a_handler_panic_fails_the_test_at_shutdown(
    #[values(Transport::Memory, Transport::Tcp)] transport: Transport,
) {
    let (server, mut client) = start(transport).await;
    // The test does not look at the status: the panic must still fail it.
    let _ = client.unary(probe("panic:boom", 0)).await;

    server.shutdown().await;
}

#[rstest]
#[tokio::test]
async fn a_handler_panic_fails_the_test_when_the_server_is_dropped(
    #[values(Transport::Memory, Transport::Tcp)] transport: Transport,
) {
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

    let payload = outcome.unwrap_err().into_panic();
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some(
            "tonic-testkit: the test server caught a panic:
  - the handler for /probe.Probe/Unary panicked: boom (it unwound into the task that made the call)
Fix the code that panicked; if the test provokes a handler panic on purpose, take it with \
`server.take_panics()` and assert on it.
The server saw 1 call:
  1. /probe.Probe/Unary: Internal \"the handler for /probe.Probe/Unary panicked: boom\", 1 \
request, 0 responses"
        )
    );
}

#[rstest]
#[tokio::test]
async fn a_response_stream_panic_ends_the_stream_with_internal(
    #[values(Transport::Memory, Transport::Tcp)] transport: Transport,
) {
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

#[rstest]
#[tokio::test]
async fn streaming_handler_panics_are_caught_in_every_shape(
    #[values(Transport::Memory, Transport::Tcp)] transport: Transport,
) {
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

    let payload = outcome.unwrap_err().into_panic();
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some(
            "tonic-testkit: the test server caught 2 panics:
  - the handler for /probe.Probe/Unary panicked: first (the client was answered INTERNAL)
  - the handler for /probe.Probe/Unary panicked: second (the client was answered INTERNAL)
Fix the code that panicked; if the test provokes a handler panic on purpose, take it with \
`server.take_panics()` and assert on it.
The server saw 2 calls:
  1. /probe.Probe/Unary: Internal \"the handler for /probe.Probe/Unary panicked: first\", 1 \
request, 0 responses
  2. /probe.Probe/Unary: Internal \"the handler for /probe.Probe/Unary panicked: second\", 1 \
request, 0 responses"
        )
    );
}
