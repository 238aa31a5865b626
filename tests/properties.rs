//! Property tests: arbitrary request bodies (random bytes, framed and unframed) and arbitrary
//! metadata (ASCII values, `-bin` values, random keys) sent through the kit's server path, over
//! every transport. Whatever arrives, the server answers the call with a gRPC status, catches no
//! panic, journals the call with the status its client got, and serves a well-formed call
//! afterwards. The one exception is tonic's own: a call whose `grpc-timeout` passes first may be
//! ended by the client's timer, before any answer (see `ended_by_the_client_deadline`).
//!
//! Each property runs 256 cases per transport unless `PROPTEST_CASES` says otherwise:
//!
//! ```text
//! PROPTEST_CASES=5000 cargo test --test properties --release
//! ```
//!
//! A failing case is shrunk and printed; no regression file is written.
//! `TONIC_TESTKIT_SKIP_SLOW=1` skips the properties (tests/common's `skip_slow`).

use std::time::Duration;

use bytes::Bytes;
use common::every_transport;
use http::{HeaderName, HeaderValue};
use http_body_util::{BodyExt, Full};
use proptest::{
    prelude::*,
    test_runner::{Config, TestCaseError, TestRunner},
};
use prost::Message;
use rstest::rstest;
use rstest_reuse::apply;
use tonic::Code;
use tonic_testkit::{TestServer, Transport};
use tower::ServiceExt;
mod common;

use common::probe;
use tonic_testkit_support::{Probe, ProbeClient, ProbeRequest};

/// How long a call may take before the case fails as a hang. Direct and memory cases run on a
/// paused clock, where a hang reaches this at once.
const HANG: Duration = Duration::from_secs(10);

const METHODS: [&str; 5] = [
    "/probe.Probe/Unary",
    "/probe.Probe/ClientStream",
    "/probe.Probe/ServerStream",
    "/probe.Probe/Bidi",
    "/probe.Probe/Unknown",
];

/// Request headers gRPC itself reads.
const GRPC_KEYS: [&str; 4] =
    ["grpc-timeout", "grpc-encoding", "grpc-accept-encoding", "content-type"];

/// One arbitrary call.
#[derive(Clone, Debug)]
struct Input {
    method: &'static str,
    metadata: Vec<(String, String)>,
    body: Vec<u8>,
    /// Whether the body is one well-formed `ProbeRequest` "fine" for `Unary`.
    well_formed: bool,
}

impl Input {
    fn sets(&self, key: &str) -> bool {
        self.metadata.iter().any(|(k, _)| k == key)
    }

    /// A well-formed call must succeed unless its metadata sets a deadline or a compression.
    fn must_succeed(&self) -> bool {
        self.well_formed && !self.sets("grpc-timeout") && !self.sets("grpc-encoding")
    }

    /// A well-formed call with a deadline (and no compression) succeeds, or ends as tonic's
    /// server ends a call whose deadline passed first: `CANCELLED "Timeout expired"`.
    fn may_time_out(&self) -> bool {
        self.well_formed && self.sets("grpc-timeout") && !self.sets("grpc-encoding")
    }
}

/// 256 cases unless `PROPTEST_CASES` is set; failures are printed, not persisted.
fn runner() -> TestRunner {
    let mut config = Config { failure_persistence: None, ..Config::default() };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 256;
    }
    TestRunner::new(config)
}

/// A gRPC frame around `payload`, with the compressed flag as given.
fn frame(compressed: bool, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![u8::from(compressed)];
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// Bodies: random bytes; random payloads in well-formed frames; real probe requests.
fn bodies() -> impl Strategy<Value = Vec<u8>> {
    let unframed = prop::collection::vec(any::<u8>(), 0..64);
    let payloads =
        prop::collection::vec((any::<bool>(), prop::collection::vec(any::<u8>(), 0..32)), 0..4);
    let framed = payloads.prop_map(|frames| {
        frames.iter().flat_map(|(compressed, payload)| frame(*compressed, payload)).collect()
    });
    let requests = prop::collection::vec(("[a-z ]{0,12}", 0..4_u32), 0..4).prop_map(|requests| {
        requests
            .into_iter()
            .flat_map(|(text, count)| frame(false, &probe(&text, count).encode_to_vec()))
            .collect()
    });
    prop_oneof![unframed, framed, requests]
}

/// Standard base64 without padding, as gRPC sends `-bin` values.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0_u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            text.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    text
}

/// Metadata: random keys with printable ASCII values, `-bin` keys with base64 or random
/// values, and the keys gRPC itself reads, with random values.
fn metadata() -> impl Strategy<Value = Vec<(String, String)>> {
    let ascii = ("[a-z][a-z0-9_.-]{0,15}", "[ -~]{0,40}");
    let binary = ("[a-z][a-z0-9]{0,10}-bin", prop::collection::vec(any::<u8>(), 0..24))
        .prop_map(|(key, bytes)| (key, base64(&bytes)));
    let raw_binary = ("[a-z][a-z0-9]{0,10}-bin", "[!-~]{0,24}");
    let grpc_keys = prop::sample::select(&GRPC_KEYS[..]);
    let grpc = (grpc_keys, "[ -~]{0,12}").prop_map(|(key, value)| (key.to_owned(), value));
    let entry = prop_oneof![ascii, binary, raw_binary, grpc];
    prop::collection::vec(entry, 0..6)
}

fn inputs() -> impl Strategy<Value = Input> {
    (prop::sample::select(&METHODS[..]), metadata(), bodies())
        .prop_map(|(method, metadata, body)| Input { method, metadata, body, well_formed: false })
}

/// Header names an HTTP/2 client refuses to send (RFC 9113 8.2.2): not the server's to answer.
fn sendable(key: &str) -> bool {
    !["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te"]
        .contains(&key)
}

/// Whether the body asks the probe service to panic, hang or stream at length (see
/// test-support): the kit would rightly report that, so such inputs are skipped.
fn asks_for_trouble(body: &[u8]) -> bool {
    let mut rest = body;
    while rest.len() >= 5 {
        let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        let Some(payload) = rest.get(5..5 + len) else { break };
        if let Ok(request) = ProbeRequest::decode(payload) {
            let troubling = ["panic", "hang", "endless", "sleep:", "fail-at:"];
            if request.count > 16 || troubling.iter().any(|t| request.text.starts_with(t)) {
                return true;
            }
        }
        rest = &rest[5 + len..];
    }
    false
}

/// The request `input` describes, with the headers every gRPC call carries first.
fn request(input: &Input) -> http::Request<tonic::body::Body> {
    let mut request = http::Request::builder()
        .method("POST")
        .uri(format!("http://localhost{}", input.method))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(tonic::body::Body::new(Full::new(Bytes::from(input.body.clone()))))
        .unwrap();
    for (key, value) in &input.metadata {
        let (Ok(key), Ok(value)) = (HeaderName::try_from(key), HeaderValue::try_from(value)) else {
            continue;
        };
        if sendable(key.as_str()) {
            request.headers_mut().append(key, value);
        }
    }
    request
}

/// The gRPC status a response carries, in its headers or its trailers.
async fn status_of(
    response: http::Response<tonic::body::Body>,
) -> Result<Option<tonic::Status>, TestCaseError> {
    let (parts, mut body) = response.into_parts();
    let mut trailers = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| TestCaseError::fail(format!("a body error: {err}")))?;
        let after = &trailers;
        prop_assert!(after.is_none(), "the body went on after its trailers {after:?}: {frame:?}");
        trailers = frame.into_trailers().ok();
    }
    let status = tonic::Status::from_header_map(&parts.headers);
    Ok(status.or_else(|| trailers.as_ref().and_then(tonic::Status::from_header_map)))
}

/// Whether `err`, the error a call ended with in the client, is the client's own deadline:
/// tonic's `TimeoutExpired` (a generated client reports it as `CANCELLED "Timeout expired"`).
fn is_client_deadline(err: &(dyn std::error::Error + 'static)) -> bool {
    std::iter::successors(Some(err), |err| err.source())
        .any(|err| err.downcast_ref::<tonic::TimeoutExpired>().is_some())
}

/// Checks a call that ended in the client without an answer. A tonic client channel enforces
/// the `grpc-timeout` it sends, as the server does, and the two timers race: when the client's
/// fires first, the call ends there with `TimeoutExpired` and no status from the server. With a
/// deadline already over when the request is sent (`0u`, `3n`) that happens in about 4 calls in
/// 10 over TCP, and can happen for any deadline the call outlives. The server may not have seen
/// the call (the client gave up while connecting) or may still be ending it, so the journal
/// holds at most this one call, with whatever status the server has reached. This is the only
/// way a call may end without an answer, and only where a tonic client channel sits: a direct
/// call has no client timer, and the server's deadline answers it.
fn ended_by_the_client_deadline(
    server: &TestServer,
    input: &Input,
    err: &(dyn std::error::Error + 'static),
) -> Result<(), TestCaseError> {
    let deadline = request(input).headers().contains_key("grpc-timeout");
    let sent_through_a_channel = server.transport() != Transport::Direct;
    if !(deadline && sent_through_a_channel && is_client_deadline(err)) {
        return Err(TestCaseError::fail(format!("no answer: {err:?}")));
    }
    let calls = server.calls();
    prop_assert!(calls.len() <= 1, "the journal holds calls the test did not make: {:?}", calls);
    prop_assert!(calls.iter().all(|call| call.method() == input.method), "{:?}", calls);
    Ok(())
}

/// One case: the arbitrary call, then a well-formed one, on a server of its own.
async fn one_call(transport: Transport, input: Input) -> Result<(), TestCaseError> {
    prop_assume!(!asks_for_trouble(&input.body));
    let server =
        TestServer::builder().transport(transport).add_service(Probe::new().server()).start().await;

    let call = server.channel().oneshot(request(&input));
    let answered = tokio::time::timeout(HANG, async {
        match call.await {
            Ok(response) => match status_of(response).await? {
                Some(status) => Ok(Some(status)),
                None => Err(TestCaseError::fail("the call got no gRPC status")),
            },
            Err(err) => ended_by_the_client_deadline(&server, &input, err.as_ref()).map(|()| None),
        }
    });

    let answer = answered.await.map_err(|_| TestCaseError::fail("the call hung"))??;
    let panics = server.take_panics();
    prop_assert!(panics.is_empty(), "the server caught panics: {panics:?}");
    // `None`: the client's deadline ended the call, checked above.
    let first_answered = answer.is_some();
    if let Some(status) = answer {
        let calls = server.calls();
        prop_assert_eq!(calls.len(), 1, "the journal: {:?}", calls);
        prop_assert_eq!(calls[0].method(), input.method);
        let code = calls[0].code();
        prop_assert_eq!(code, Some(status.code()), "the journal and the client disagree");
        if input.must_succeed() {
            prop_assert_eq!(status.code(), Code::Ok, "{:?}", status);
        }
        if input.may_time_out() && status.code() != Code::Ok {
            let ended = (status.code(), status.message());
            prop_assert_eq!(ended, (Code::Cancelled, "Timeout expired"), "{:?}", status);
        }
    }
    let mut client = server.client(ProbeClient::new);
    let next = tokio::time::timeout(HANG, client.unary(probe("next", 0))).await;
    let next = next.map_err(|_| TestCaseError::fail("the well-formed call hung"))?;
    prop_assert_eq!(next.map(|reply| reply.into_inner().text).ok(), Some("next".to_owned()));
    // A call the client gave up on may or may not have reached the server.
    let calls = server.calls().len();
    prop_assert!(calls == 2 || (!first_answered && calls == 1), "{calls} calls in the journal");
    server.shutdown().await;
    Ok(())
}

/// Runs the property over `transport`, on a paused clock where no socket is involved.
fn check(transport: Transport, strategy: impl Strategy<Value = Input>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(transport != Transport::Tcp)
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let mut runner = runner();
    let cases = runner.config().cases;
    let result = runner.run(&strategy, |input| runtime.block_on(one_call(transport, input)));
    println!("{transport}: {cases} cases in {:?}", started.elapsed());
    if let Err(failure) = result {
        panic!("{transport}: {failure}");
    }
}

#[apply(every_transport)]
fn arbitrary_calls_are_answered_with_a_status_and_leave_the_server_serving(transport: Transport) {
    if common::skip_slow() {
        return;
    }
    check(transport, inputs());
}

#[apply(every_transport)]
fn arbitrary_metadata_on_a_well_formed_call_is_answered_ok(transport: Transport) {
    if common::skip_slow() {
        return;
    }
    // With a well-formed body the call must also succeed, unless the metadata sets a compression
    // (which tonic answers with its own status) or a deadline (which may pass first).
    let body = frame(false, &probe("fine", 0).encode_to_vec());
    let inputs = metadata().prop_map(move |metadata| Input {
        method: METHODS[0],
        metadata,
        body: body.clone(),
        well_formed: true,
    });
    check(transport, inputs);
}

#[apply(every_transport)]
fn a_deadline_over_before_the_call_is_sent_ends_as_tonic_ends_it(transport: Transport) {
    if common::skip_slow() {
        return;
    }
    // `0u` has passed before the request leaves the client: the client's timer and the server's
    // race, and each case accepts either winner (see `ended_by_the_client_deadline`).
    let input = Input {
        method: METHODS[0],
        metadata: vec![("grpc-timeout".to_owned(), "0u".to_owned())],
        body: frame(false, &probe("fine", 0).encode_to_vec()),
        well_formed: true,
    };
    check(transport, Just(input));
}

#[test]
fn base64_encodes_as_grpc_expects() {
    assert_eq!(base64(b""), "");
    assert_eq!(base64(b"f"), "Zg");
    assert_eq!(base64(b"fo"), "Zm8");
    assert_eq!(base64(b"foo"), "Zm9v");
    assert_eq!(base64(b"foob"), "Zm9vYg");
    assert_eq!(base64(&[0xff, 0xfe]), "//4");
}

#[test]
fn trouble_in_a_body_is_recognised() {
    let troubling = frame(false, &probe("hang", 0).encode_to_vec());
    let harmless = frame(false, &probe("fine", 3).encode_to_vec());

    assert!(asks_for_trouble(&[harmless.clone(), troubling].concat()));
    assert!(!asks_for_trouble(&harmless));
    assert!(asks_for_trouble(&frame(false, &probe("", 17).encode_to_vec())));
}
