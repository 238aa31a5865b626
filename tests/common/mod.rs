//! Helpers shared by the integration tests.

#![allow(dead_code, unused_macros)] // each test file uses its own subset

use std::time::Duration;

use tonic::Request;
use tonic_testkit::{Faults, TestChannel, TestServer, Transport};
use tonic_testkit_support::{Probe, ProbeClient, ProbeRequest};

// The transport matrix, written once. A test takes `transport: Transport` and applies a template
// in place of `#[rstest]`; each case is a test named after its transport
// (`name::transport_1_Transport__Direct`), as with `#[values]` written out:
//
//     #[apply(every_transport)]
//     #[tokio::test]
//     async fn a_behaviour(transport: Transport) { .. }

/// Every transport: Direct, Memory and Tcp.
#[rstest_reuse::template]
#[rstest]
pub fn every_transport(
    #[values(Transport::Direct, Transport::Memory, Transport::Tcp)] transport: Transport,
) {
}

/// The transports that carry HTTP/2 (Memory and Tcp): for what a direct call has no wire for.
#[rstest_reuse::template]
#[rstest]
pub fn http2_transports(#[values(Transport::Memory, Transport::Tcp)] transport: Transport) {}

/// The in-process transports (Direct and Memory): for what a socket has and they have not.
#[rstest_reuse::template]
#[rstest]
pub fn in_process_transports(#[values(Transport::Direct, Transport::Memory)] transport: Transport) {
}

/// A probe request; the text chooses what the probe service does.
pub fn probe(text: &str, count: u32) -> ProbeRequest {
    ProbeRequest { text: text.to_owned(), count }
}

/// A server for a fresh probe over `transport`, and a client.
pub async fn start(transport: Transport) -> (TestServer, ProbeClient<TestChannel>) {
    let server =
        TestServer::builder().transport(transport).add_service(Probe::new().server()).start().await;
    let client = server.client(ProbeClient::new);
    (server, client)
}

/// A server for a fresh probe with `faults` attached, and a client.
pub async fn serve(
    faults: &Faults,
    transport: Transport,
) -> (TestServer, ProbeClient<TestChannel>) {
    let server = TestServer::builder()
        .transport(transport)
        .add_service(Probe::new().server())
        .faults(faults)
        .start()
        .await;
    let client = server.client(ProbeClient::new);
    (server, client)
}

/// The peer address the probe sees: a new one means a new connection.
pub async fn peer(client: &mut ProbeClient<TestChannel>) -> String {
    client.unary(probe("peer", 0)).await.unwrap().into_inner().text
}

/// A unary call with a deadline, as a client sets one.
pub fn with_timeout(text: &str, timeout: Duration) -> Request<ProbeRequest> {
    let mut request = Request::new(probe(text, 0));
    request.set_timeout(timeout);
    request
}

/// The switch for the slow tests (tests/load.rs, tests/interop_python.rs, the property tests of
/// tests/properties.rs): with `TONIC_TESTKIT_SKIP_SLOW=1` each returns at once, saying so on its
/// output, for a quick local run. CI leaves it unset and runs them.
///
/// # Panics
///
/// When the variable holds anything but `1` or `0`.
pub fn skip_slow() -> bool {
    let skip = match std::env::var("TONIC_TESTKIT_SKIP_SLOW").as_deref() {
        Err(std::env::VarError::NotPresent) | Ok("" | "0") => false,
        Ok("1") => true,
        other => panic!(
            "TONIC_TESTKIT_SKIP_SLOW={other:?}: set it to 1 to skip the slow tests, or leave it \
             unset to run them"
        ),
    };
    if skip {
        println!("skipped: TONIC_TESTKIT_SKIP_SLOW=1");
    }
    skip
}

/// What a tonic client reports when the connection under its call is cut.
pub const TRANSPORT_ERROR: &str = "transport error";

/// What a tonic client reports for a call whose stream the server reset, or whose connection
/// the server closed with an HTTP/2 error (h2's text, with a code mapped from the reason).
pub const STREAM_RESET: &str = "h2 protocol error: http2 error";

/// h2's error for a body whose stream broke: what a client reads when the server resets a stream
/// or goes away mid-answer, and what a server reads when the client does.
pub const BODY_BROKEN: &str = "h2 protocol error: error reading a body from connection";

/// What a call reads while a server is taken down by `Faults::take_down`.
pub const SERVER_DOWN: &str = "tonic-testkit: the server is down (Faults::take_down); it accepts \
connections again when the time given to take_down has passed";

/// The text of a panic payload (`panic!` with a message gives a `String` or a `&str`).
///
/// # Panics
///
/// When the payload is neither.
pub fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => match payload.downcast::<&str>() {
            Ok(message) => (*message).to_owned(),
            Err(_) => panic!("the panic payload is not a String or a &str"),
        },
    }
}

/// Everything a client can observe of an answer, to compare the kit's with tonic's own.
#[derive(Debug, PartialEq, Eq)]
pub struct Observed {
    pub status: http::StatusCode,
    pub headers: http::HeaderMap,
    pub data: bytes::Bytes,
    pub trailers: Option<http::HeaderMap>,
}

/// Reads a whole answer.
pub async fn observe(response: http::Response<tonic::body::Body>) -> Observed {
    use http_body_util::BodyExt;
    let (parts, body) = response.into_parts();
    let collected = body.collect().await.expect("the body reads to its end");
    let trailers = collected.trailers().cloned();
    Observed { status: parts.status, headers: parts.headers, data: collected.to_bytes(), trailers }
}

/// A gRPC request with one empty message, as a raw HTTP request.
pub fn raw_request(method: &http::Method, path: &str) -> http::Request<tonic::body::Body> {
    let empty = http_body_util::Full::new(bytes::Bytes::from_static(&[0, 0, 0, 0, 0]));
    http::Request::builder()
        .method(method)
        .uri(format!("http://localhost{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(tonic::body::Body::new(empty))
        .expect("a valid request")
}

/// The file and line a panic in `check` reports (the hook sees it; other threads' panics go
/// to the default hook as usual).
pub fn panic_location(check: impl FnOnce() + std::panic::UnwindSafe) -> (String, u32) {
    use std::sync::{Arc, Mutex};
    let seen = Arc::new(Mutex::new(None));
    let default = Arc::new(std::panic::take_hook());
    let (thread, recorder, forward) = (std::thread::current().id(), seen.clone(), default.clone());
    std::panic::set_hook(Box::new(move |info| match std::thread::current().id() == thread {
        true => *recorder.lock().unwrap() = info.location().map(|l| (l.file().into(), l.line())),
        false => forward(info),
    }));
    let outcome = std::panic::catch_unwind(check);
    std::panic::set_hook(Box::new(move |info| default(info)));
    assert!(outcome.is_err(), "the check did not fail");
    seen.lock().unwrap().take().expect("the hook saw the panic")
}
