//! Bad input on the wire: requests no generated client would send, each answered exactly as a
//! `tonic::transport::Server` answers it, without a panic in the kit, with the journal telling
//! what the server saw, and with the server still serving well-formed calls afterwards.
//!
//! Over [`Transport::Tcp`] the requests are sent with the `h2` crate on a raw socket, and the
//! same bytes go to a plain tonic server as the reference. Over [`Transport::Memory`] and
//! [`Transport::Direct`] they go through the kit's own channel (`TestServer::channel()` is a
//! `tower::Service` over `http::Request`, so any header and any body bytes can be sent): a memory
//! server has no socket to write raw bytes to, and a public method handing out its pipe would
//! serve these tests only, so the case that is not HTTP/2 at all runs over TCP alone.

use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use common::{every_transport, http2_transports};
use http::{HeaderMap, StatusCode};
use http_body_util::{BodyExt, Full};
use prost::Message;
use rstest::rstest;
use rstest_reuse::apply;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};
use tonic::Code;
use tonic_testkit::{TestServer, Transport};
use tower::ServiceExt;
mod common;

use common::probe;
use tonic_testkit_support::{Probe, ProbeClient, ProbeReply};

const UNARY: &str = "/probe.Probe/Unary";

/// How a server answered one request.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Answer {
    /// The HTTP status.
    http: StatusCode,
    /// The gRPC code and message, from the headers (trailers-only) or the trailers.
    status: Option<(Code, String)>,
    /// The reply message, when there was one.
    reply: Option<String>,
}

impl Answer {
    fn grpc(code: Code, message: &str) -> Self {
        Self { http: StatusCode::OK, status: Some((code, message.to_owned())), reply: None }
    }

    fn echo(text: &str) -> Self {
        Self {
            http: StatusCode::OK,
            status: Some((Code::Ok, String::new())),
            reply: Some(text.into()),
        }
    }

    fn read(
        http: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        trailers: Option<&HeaderMap>,
    ) -> Self {
        let status = tonic::Status::from_header_map(headers)
            .or_else(|| trailers.and_then(tonic::Status::from_header_map))
            .map(|status| (status.code(), status.message().to_owned()));
        let reply =
            (body.len() >= 5).then(|| ProbeReply::decode(&body[5..]).expect("a ProbeReply").text);
        Self { http, status, reply }
    }
}

/// One request, as raw as HTTP/2 allows.
#[derive(Clone, Debug)]
struct Raw {
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Bytes,
}

impl Raw {
    /// A well-formed unary request for `path` with `body`.
    fn new(path: &str, body: Bytes) -> Self {
        let headers = vec![("content-type", "application/grpc".into()), ("te", "trailers".into())];
        Self { path: path.to_owned(), headers, body }
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn without(mut self, name: &str) -> Self {
        self.headers.retain(|(header, _)| *header != name);
        self
    }

    fn request(&self, authority: &str) -> http::request::Builder {
        let builder =
            http::Request::builder().method("POST").uri(format!("http://{authority}{}", self.path));
        self.headers.iter().fold(builder, |builder, (name, value)| builder.header(*name, value))
    }
}

/// A gRPC frame: the compressed flag, a length prefix, and the payload.
fn frame(compressed: bool, length: u32, payload: &[u8]) -> Bytes {
    let mut frame = vec![u8::from(compressed)];
    frame.extend_from_slice(&length.to_be_bytes());
    frame.extend_from_slice(payload);
    frame.into()
}

/// A well-formed probe request, framed.
fn probe_frame(text: &str) -> Bytes {
    let message = probe(text, 0).encode_to_vec();
    frame(false, message.len() as u32, &message)
}

/// Sends `raw` through the kit's own channel (every transport).
async fn through_channel(server: &TestServer, raw: &Raw) -> Answer {
    let request =
        raw.request("localhost").body(tonic::body::Body::new(Full::new(raw.body.clone())));
    let response = server.channel().oneshot(request.unwrap()).await.expect("an HTTP response");
    let (parts, mut body) = response.into_parts();
    let (mut data, mut trailers) = (Vec::new(), None);
    while let Some(frame) = body.frame().await {
        assert!(trailers.is_none(), "the response body went on after its trailers");
        match frame.expect("a whole response body").into_data() {
            Ok(chunk) => data.extend_from_slice(&chunk),
            Err(frame) => trailers = frame.into_trailers().ok(),
        }
    }
    Answer::read(parts.status, &parts.headers, &data, trailers.as_ref())
}

/// Sends `raw` with the `h2` crate over a new TCP connection to `addr`.
async fn through_h2(addr: SocketAddr, raw: &Raw) -> Answer {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.expect("an HTTP/2 handshake");
    let connection = tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    let (response, mut sending) =
        client.send_request(raw.request(&addr.to_string()).body(()).unwrap(), false).unwrap();
    sending.send_data(raw.body.clone(), true).unwrap();
    let (parts, mut body) = response.await.expect("an HTTP response").into_parts();
    let mut data = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        body.flow_control().release_capacity(chunk.len()).unwrap();
        data.extend_from_slice(&chunk);
    }
    let trailers = body.trailers().await.unwrap();
    drop(client);
    connection.abort();
    Answer::read(parts.status, &parts.headers, &data, trailers.as_ref())
}

/// A plain `tonic::transport::Server` with the probe service on loopback: what tonic answers.
async fn tonic_server() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tonic::transport::Server::builder()
        .add_service(Probe::new().server())
        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener));
    let task = tokio::spawn(async move { server.await.expect("the reference server runs") });
    (addr, task)
}

/// What the server's journal recorded of its latest call: method, code and message.
type Journaled = Option<(&'static str, Code, &'static str)>;

/// Sends `raw` to a kit server over `transport` and to a tonic server; checks both answer
/// `expected`, the kit caught no panic, the journal recorded `journaled` for it, and a
/// well-formed call on the same server succeeds afterwards.
async fn check(transport: Transport, raw: Raw, expected: Answer, journaled: Journaled) {
    let (reference_addr, reference) = tonic_server().await;
    let server =
        TestServer::builder().transport(transport).add_service(Probe::new().server()).start().await;

    let answer = match server.local_addr() {
        Some(addr) => through_h2(addr, &raw).await,
        None => through_channel(&server, &raw).await,
    };
    let tonic_answer = through_h2(reference_addr, &raw).await;

    assert_eq!(tonic_answer, expected, "a tonic server's answer to {}", raw.path);
    assert_eq!(answer, expected, "{transport}: the kit's answer to {}", raw.path);
    assert!(server.take_panics().is_empty(), "{transport}: the kit caught a panic");
    let calls = server.calls();
    let last = calls.last().map(|call| {
        let status = call.status().expect("a finished call has a status");
        (call.method().to_owned(), status.code(), status.message().to_owned())
    });
    let journaled = journaled.map(|(m, code, message)| (m.to_owned(), code, message.to_owned()));
    assert_eq!(last, journaled, "{transport}: the journal's record of the bad call");
    let mut client = server.client(ProbeClient::new);
    let next = client.unary(probe("next", 0)).await.expect("a well-formed call after it");
    assert_eq!(next.into_inner().text, "next", "{transport}");
    server.shutdown().await;
    reference.abort();
}

const EOF: &str = "Unexpected EOF decoding stream.";

#[apply(every_transport)]
#[tokio::test]
async fn a_request_without_a_grpc_content_type_is_served_as_tonic_serves_it(transport: Transport) {
    // tonic's server does not look at `content-type`: the call is served.
    let missing = Raw::new(UNARY, probe_frame("untyped")).without("content-type");
    check(transport, missing, Answer::echo("untyped"), Some((UNARY, Code::Ok, ""))).await;
    let plain = Raw::new(UNARY, probe_frame("plain"))
        .without("content-type")
        .header("content-type", "text/plain");
    check(transport, plain, Answer::echo("plain"), Some((UNARY, Code::Ok, ""))).await;
}

#[apply(every_transport)]
#[tokio::test]
async fn a_truncated_length_prefix_is_internal_unexpected_eof(transport: Transport) {
    let raw = Raw::new(UNARY, Bytes::from_static(&[0, 0, 0]));

    check(transport, raw, Answer::grpc(Code::Internal, EOF), Some((UNARY, Code::Internal, EOF)))
        .await;
}

#[apply(every_transport)]
#[tokio::test]
async fn a_length_prefix_larger_than_the_body_is_internal_unexpected_eof(transport: Transport) {
    let message = probe("short", 0).encode_to_vec();
    let raw = Raw::new(UNARY, frame(false, 100, &message));

    check(transport, raw, Answer::grpc(Code::Internal, EOF), Some((UNARY, Code::Internal, EOF)))
        .await;
}

#[apply(every_transport)]
#[tokio::test]
async fn a_message_over_the_4_mib_decode_limit_is_out_of_range(transport: Transport) {
    const TOO_LARGE: &str =
        "Error, decoded message length too large: found 4194305 bytes, the limit is: 4194304 bytes";
    let payload = vec![0; 4 * 1024 * 1024 + 1];
    let raw = Raw::new(UNARY, frame(false, payload.len() as u32, &payload));

    let expected = Answer::grpc(Code::OutOfRange, TOO_LARGE);
    check(transport, raw, expected, Some((UNARY, Code::OutOfRange, TOO_LARGE))).await;
}

#[apply(every_transport)]
#[tokio::test]
async fn the_compressed_flag_without_grpc_encoding_is_internal(transport: Transport) {
    const NO_ENCODING: &str =
        "protocol error: received message with compressed-flag but no grpc-encoding was specified";
    let message = probe("zipped?", 0).encode_to_vec();
    let raw = Raw::new(UNARY, frame(true, message.len() as u32, &message));

    let expected = Answer::grpc(Code::Internal, NO_ENCODING);
    check(transport, raw, expected, Some((UNARY, Code::Internal, NO_ENCODING))).await;
}

#[apply(every_transport)]
#[tokio::test]
async fn bytes_that_do_not_decode_as_the_request_type_are_internal(transport: Transport) {
    const UNDECODABLE: &str = "failed to decode Protobuf message: invalid varint";
    let raw = Raw::new(UNARY, frame(false, 3, &[0xff, 0xff, 0xff]));

    let expected = Answer::grpc(Code::Internal, UNDECODABLE);
    check(transport, raw, expected, Some((UNARY, Code::Internal, UNDECODABLE))).await;
}

#[apply(every_transport)]
#[tokio::test]
async fn an_invalid_compressed_flag_ends_a_bidi_stream_with_one_status(transport: Transport) {
    const BIDI: &str = "/probe.Probe/Bidi";
    const INVALID_FLAG: &str = "protocol error: received message with invalid compression flag: \
                                2 (valid flags are 0 and 1), while sending request";
    // Bytes after the bad frame would each fail again: the stream ends at the first status.
    let raw = Raw::new(BIDI, Bytes::from_static(&[2, 0, 0, 0, 0, 7, 7, 7]));

    let expected = Answer::grpc(Code::Internal, INVALID_FLAG);
    check(transport, raw, expected, Some((BIDI, Code::Internal, INVALID_FLAG))).await;
}

#[apply(every_transport)]
#[tokio::test]
async fn an_unknown_service_and_an_unknown_method_are_unimplemented_without_a_message(
    transport: Transport,
) {
    for path in ["/nope.Nope/Unary", "/probe.Probe/Nope"] {
        let raw = Raw::new(path, probe_frame("lost"));
        let journaled = if path.starts_with("/nope") {
            ("/nope.Nope/Unary", Code::Unimplemented, "")
        } else {
            ("/probe.Probe/Nope", Code::Unimplemented, "")
        };

        check(transport, raw, Answer::grpc(Code::Unimplemented, ""), Some(journaled)).await;
    }
}

#[apply(every_transport)]
#[tokio::test]
async fn a_malformed_grpc_timeout_means_no_deadline(transport: Transport) {
    for timeout in ["soon", "-1S", "123456789m", "1.5S"] {
        let raw = Raw::new(UNARY, probe_frame("sleep:1")).header("grpc-timeout", timeout);

        let expected = Answer::echo("slept 1 ms");
        check(transport, raw, expected, Some((UNARY, Code::Ok, ""))).await;
    }
}

#[apply(every_transport)]
#[tokio::test]
async fn metadata_over_the_16_kib_header_list_limit_is_refused_with_http_431(transport: Transport) {
    let raw = Raw::new(UNARY, probe_frame("heavy")).header("x-heavy", "x".repeat(16 * 1024));
    let refused =
        Answer { http: StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, status: None, reply: None };

    // hyper refuses it before any service sees it, so the journal has nothing.
    check(transport, raw, refused, None).await;
}

#[apply(every_transport)]
#[tokio::test]
async fn a_typed_client_sending_metadata_over_the_limit_gets_a_status_saying_431(
    transport: Transport,
) {
    let server =
        TestServer::builder().transport(transport).add_service(Probe::new().server()).start().await;
    let mut client = server.client(ProbeClient::new);
    let mut request = tonic::Request::new(probe("heavy", 0));
    let heavy = "x".repeat(16 * 1024).parse().unwrap();
    request.metadata_mut().insert("x-heavy", heavy);

    let status = client.unary(request).await.unwrap_err();

    assert_eq!(status.code(), Code::Unknown, "{transport}");
    assert_eq!(
        status.message(),
        "grpc-status header missing, mapped from HTTP status code 431",
        "{transport}"
    );
    assert!(server.calls().is_empty(), "{transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn metadata_just_under_the_limit_reaches_the_handler(transport: Transport) {
    let raw = Raw::new(UNARY, probe_frame("meta:x-heavy")).header("x-heavy", "x".repeat(15 * 1024));

    let expected = Answer::echo(&"x".repeat(15 * 1024));
    check(transport, raw, expected, Some((UNARY, Code::Ok, ""))).await;
}

/// Sends `garbage` on a new connection to `addr`; returns what came back before the server
/// closed the connection.
async fn send_garbage(addr: SocketAddr, garbage: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(garbage).await.unwrap();
    let mut received = Vec::new();
    stream.read_to_end(&mut received).await.expect("the server closes the connection");
    received
}

/// An HTTP/1.1 request of exactly the length of the HTTP/2 preface, so the server reads all of it.
const HTTP1: &[u8; 24] = b"GET / HTTP/1.1\r\nHost: \r\n";

#[tokio::test]
async fn bytes_that_are_not_http2_get_the_settings_frame_and_a_closed_connection() {
    let (reference_addr, reference) = tonic_server().await;
    let server = TestServer::builder()
        .transport(Transport::Tcp)
        .add_service(Probe::new().server())
        .start()
        .await;

    let received = send_garbage(server.local_addr().unwrap(), HTTP1).await;
    let from_tonic = send_garbage(reference_addr, HTTP1).await;

    // Both write their SETTINGS before they read the preface, then close without a GOAWAY.
    assert_eq!(received, from_tonic);
    assert_eq!(received[3], 0x4, "the only frame is a SETTINGS frame: {received:?}");
    assert_eq!(received.len(), 9 + usize::from(received[2]));
    assert!(server.take_panics().is_empty());
    assert!(server.calls().is_empty());
    let mut client = server.client(ProbeClient::new);
    assert_eq!(client.unary(probe("next", 0)).await.unwrap().into_inner().text, "next");
    server.shutdown().await;
    reference.abort();
}

#[tokio::test]
async fn the_http2_settings_are_those_of_a_tonic_server() {
    let (reference_addr, reference) = tonic_server().await;
    let server = TestServer::builder()
        .transport(Transport::Tcp)
        .add_service(Probe::new().server())
        .start()
        .await;

    let settings = first_frame(server.local_addr().unwrap()).await;
    let tonic_settings = first_frame(reference_addr).await;

    // Initial window 1 MiB, max frame 16 KiB, max header list 16 KiB; no stream limit.
    assert_eq!(settings, tonic_settings);
    assert_eq!(
        settings,
        [
            0, 0, 18, 4, 0, 0, 0, 0, 0, // a SETTINGS frame of 18 bytes on stream 0
            0, 4, 0, 16, 0, 0, // SETTINGS_INITIAL_WINDOW_SIZE 1048576
            0, 5, 0, 0, 64, 0, // SETTINGS_MAX_FRAME_SIZE 16384
            0, 6, 0, 0, 64, 0, // SETTINGS_MAX_HEADER_LIST_SIZE 16384
        ]
    );
    server.shutdown().await;
    reference.abort();
}

/// The first frame a server sends after a client's preface.
async fn first_frame(addr: SocketAddr) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await.unwrap();
    stream.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).await.unwrap(); // empty SETTINGS
    let mut header = [0; 9];
    stream.read_exact(&mut header).await.unwrap();
    let mut payload = vec![0; usize::from(header[2])];
    stream.read_exact(&mut payload).await.unwrap();
    [header.to_vec(), payload].concat()
}

#[apply(http2_transports)]
#[tokio::test]
async fn more_than_two_hundred_calls_run_at_once_on_one_connection(transport: Transport) {
    let service = Probe::new();
    let server = TestServer::builder()
        .transport(transport)
        .add_service(service.server())
        .grace_period(std::time::Duration::ZERO)
        .start()
        .await;
    let client = server.client(ProbeClient::new);
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..250 {
        let mut client = client.clone();
        calls.spawn(async move { client.unary(probe("hang", 0)).await });
    }

    // hyper's default queues every stream past the 200th; tonic's server sets no limit. The
    // timeout only turns a hang into a failure.
    let all_started = service.hangs_started(250);
    let started = tokio::time::timeout(std::time::Duration::from_secs(60), all_started).await;

    assert!(started.is_ok(), "{transport}: not all 250 calls reached the handler at once");
    server.shutdown().await;
    assert_eq!(service.dropped_hangs(), 250, "{transport}");
}

/// The IPv4 addresses of this machine's own interfaces, loopback excepted, as the kernel lists
/// them; empty where `/proc/net/fib_trie` is not readable.
fn own_interface_addresses() -> Vec<IpAddr> {
    let table = std::fs::read_to_string("/proc/net/fib_trie").unwrap_or_default();
    let lines: Vec<&str> = table.lines().map(str::trim).collect();
    let mut addresses: Vec<IpAddr> = lines
        .windows(2)
        .filter(|pair| pair[1] == "/32 host LOCAL")
        .filter_map(|pair| pair[0].trim_start_matches("|-- ").parse().ok())
        .filter(|address: &IpAddr| !address.is_loopback())
        .collect();
    addresses.sort();
    addresses.dedup();
    addresses
}

#[tokio::test]
async fn a_tcp_server_listens_on_127_0_0_1_only() {
    let server = TestServer::builder()
        .transport(Transport::Tcp)
        .add_service(Probe::new().server())
        .start()
        .await;
    let addr = server.local_addr().unwrap();

    // Every 127/8 address reaches the loopback interface: a server bound to 0.0.0.0 (or to the
    // whole loopback range) would answer at 127.0.0.2 too.
    let other_loopback = TcpStream::connect(("127.0.0.2", addr.port())).await;
    let others: Vec<_> = own_interface_addresses();
    let mut reached = Vec::new();
    for ip in &others {
        if TcpStream::connect((*ip, addr.port())).await.is_ok() {
            reached.push(*ip);
        }
    }

    assert_eq!(addr.ip(), IpAddr::from([127, 0, 0, 1]));
    let refused = other_loopback.expect_err("the server answered at 127.0.0.2");
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    println!("this machine's own interface addresses, tried and refused: {others:?}");
    assert!(reached.is_empty(), "the server answered at {reached:?}, not only on loopback");
    server.shutdown().await;
}
