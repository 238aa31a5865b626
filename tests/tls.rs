//! TLS and mTLS test servers: the handed-out clients over TLS, the certificates handlers see,
//! what a tonic client sees when TLS refuses it, clients built from the PEMs alone, and faults
//! under TLS, over memory and TCP (Transport::Direct has no connection to secure).

mod common;

use std::{
    error::Error,
    sync::{Arc, Mutex},
    time::Duration,
};

use common::{SERVER_DOWN, probe};
use common::{STREAM_RESET, http2_transports};
use rstest::rstest;
use rstest_reuse::apply;
use tokio::time::Instant;
use tonic::transport::CertificateDer;
use tonic::{
    Code, Request, Response, Status,
    transport::{Certificate, ClientTlsConfig, Endpoint, Identity},
};
use tonic_testkit::tls::DEFAULT_CLIENT_NAME;
use tonic_testkit::{Faults, TestChannel, TestServer, Transport, assert_status};
use tonic_testkit_support::{
    Probe, ProbeClient, ProbeReply, ProbeRequest, ProbeServer, ProbeService,
};

/// The certificate chains a [`Whoami`] handler was shown, one per call.
type Seen = Arc<Mutex<Vec<Option<Vec<CertificateDer<'static>>>>>>;

/// Answers with the peer address and keeps the certificates the client presented, as an
/// authorising handler would read them.
#[derive(Clone, Default)]
struct Whoami(Seen);

#[tonic::async_trait]
impl ProbeService for Whoami {
    async fn unary(&self, request: Request<ProbeRequest>) -> Result<Response<ProbeReply>, Status> {
        let certs = request.peer_certs().map(|certs| certs.as_ref().clone());
        self.0.lock().unwrap().push(certs);
        let text = format!("{:?}", request.remote_addr());
        Ok(Response::new(ProbeReply { text, index: 0 }))
    }
}

impl Whoami {
    fn seen(&self) -> Vec<Option<Vec<CertificateDer<'static>>>> {
        self.0.lock().unwrap().clone()
    }
}

/// A server for `whoami` over `transport`, with TLS (mutual when `mutual`).
async fn start(transport: Transport, mutual: bool, whoami: &Whoami) -> TestServer {
    let builder = TestServer::builder().transport(transport);
    let builder = if mutual { builder.mtls() } else { builder.tls() };
    builder.add_service(ProbeServer::new(whoami.clone())).start().await
}

/// The innermost source of a client's status: the reason under tonic's "transport error".
fn reason(status: &Status) -> String {
    let mut reason = status.message().to_owned();
    let mut source = status.source();
    while let Some(error) = source {
        reason = error.to_string();
        source = error.source();
    }
    reason
}

/// A client of `server` that trusts its CA and presents no certificate.
fn without_certificate(server: &TestServer) -> ProbeClient<TestChannel> {
    let ca = Certificate::from_pem(server.tls().unwrap().ca_pem());
    ProbeClient::new(server.channel_with_tls(ClientTlsConfig::new().ca_certificate(ca)))
}

#[apply(http2_transports)]
#[tokio::test]
async fn the_handed_out_client_talks_tls_and_handlers_see_a_loopback_peer(transport: Transport) {
    let whoami = Whoami::default();
    let server = start(transport, false, &whoami).await;
    let mut client = server.client(ProbeClient::new);

    let peer = client.unary(probe("", 0)).await.unwrap().into_inner().text;

    assert!(peer.starts_with("Some(127.0.0.1:"), "{transport}: remote_addr() was {peer}");
    assert_eq!(whoami.seen(), [None], "{transport}: no client certificate was asked for");
    assert!(!server.tls().unwrap().is_mutual());
    server.shutdown().await;
}

#[apply(http2_transports)]
#[tokio::test]
async fn a_tls_client_gets_no_answer_from_a_plaintext_server(transport: Transport) {
    let whoami = Whoami::default();
    let tls = start(transport, false, &whoami).await;
    let plain = TestServer::builder()
        .transport(transport)
        .add_service(ProbeServer::new(whoami.clone()))
        .start()
        .await;
    let config = tls.tls().unwrap().client_tls_config();
    let mut client = ProbeClient::new(plain.channel_with_tls(config));

    let status = client.unary(probe("", 0)).await.unwrap_err();

    assert_status!(
        status,
        Code::Unavailable,
        "received corrupt message of type InvalidContentType"
    );
    assert_eq!(whoami.seen().len(), 0, "{transport}: calls reached the handler");
    tls.shutdown().await;
    plain.shutdown().await;
}

#[tokio::test]
async fn a_plaintext_client_gets_no_answer_from_a_tls_server() {
    let whoami = Whoami::default();
    let server = start(Transport::Tcp, false, &whoami).await;
    let plaintext = server.uri().unwrap().to_string().replace("https://", "http://");
    let mut client = ProbeClient::connect(plaintext).await.unwrap();

    let status = client.unary(probe("", 0)).await.unwrap_err();

    // The server's TLS alert, read as HTTP/2, is a frame of the wrong size.
    assert_status!(status, Code::Internal, STREAM_RESET);
    assert_eq!(reason(&status), "connection error detected: frame with invalid size");
    assert_eq!(whoami.seen().len(), 0, "calls reached the handler");
    server.shutdown().await;
}

#[apply(http2_transports)]
#[tokio::test]
async fn under_mtls_handlers_see_the_certificate_of_the_identity_the_client_presents(
    transport: Transport,
) {
    let whoami = Whoami::default();
    let server = start(transport, true, &whoami).await;
    let tls = server.tls().unwrap();
    let alice = tls.client_identity("alice");
    let mut as_alice = ProbeClient::new(server.channel_with_identity(&alice));
    let mut by_default = server.client(ProbeClient::new);

    let peer = as_alice.unary(probe("", 0)).await.unwrap().into_inner().text;
    by_default.unary(probe("", 0)).await.unwrap();

    let default = tls.default_identity();
    assert_eq!(
        whoami.seen(),
        [Some(vec![alice.cert_der().clone()]), Some(vec![default.cert_der().clone()])],
        "{transport}"
    );
    assert_eq!((alice.name(), default.name()), ("alice", DEFAULT_CLIENT_NAME));
    assert!(peer.starts_with("Some(127.0.0.1:"), "{transport}: remote_addr() was {peer}");
    server.shutdown().await;
}

/// What the first call of a client that mTLS refuses ends with. Under TLS 1.3 the client
/// finishes its handshake before the server checks its certificate, so the refusal (the
/// server's alert) arrives after the call was sent over TCP, and before it left the client's
/// queue over the in-memory pipe, whose server answers at once.
fn refused(transport: Transport) -> (Code, &'static str) {
    match transport {
        Transport::Tcp => (Code::Unknown, "transport error"),
        _ => (Code::Cancelled, "operation was canceled"),
    }
}

#[apply(http2_transports)]
#[tokio::test]
async fn mtls_refuses_a_client_without_a_certificate(transport: Transport) {
    let whoami = Whoami::default();
    let server = start(transport, true, &whoami).await;
    let mut client = without_certificate(&server);

    let status = client.unary(probe("", 0)).await.unwrap_err();

    let (code, message) = refused(transport);
    assert_status!(status, code, message);
    let alert = "received fatal alert: CertificateRequired";
    assert_eq!(
        reason(&status),
        if transport == Transport::Tcp { alert } else { "connection closed" }
    );
    assert_eq!(whoami.seen().len(), 0, "{transport}: calls reached the handler");
    server.shutdown().await;
}

#[apply(http2_transports)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_multi_thread_runtime_a_refused_client_sees_either_report(transport: Transport) {
    let whoami = Whoami::default();
    let server = start(transport, true, &whoami).await;
    let mut client = without_certificate(&server);

    let status = client.unary(probe("", 0)).await.unwrap_err();

    // Server and client tasks run in parallel: the alert may come before or after the call left.
    let seen = (status.code(), status.message(), reason(&status));
    let sent =
        (Code::Unknown, "transport error", "received fatal alert: CertificateRequired".into());
    let queued = (Code::Cancelled, "operation was canceled", "connection closed".into());
    assert!(seen == sent || seen == queued, "{transport}: {seen:?}");
    server.shutdown().await;
}

#[apply(http2_transports)]
#[tokio::test]
async fn mtls_refuses_a_certificate_from_another_servers_ca(transport: Transport) {
    let whoami = Whoami::default();
    let server = start(transport, true, &whoami).await;
    let other = start(transport, true, &whoami).await;
    let mallory = other.tls().unwrap().client_identity("mallory");
    let mut client = ProbeClient::new(server.channel_with_identity(&mallory));

    let status = client.unary(probe("", 0)).await.unwrap_err();

    let (code, message) = refused(transport);
    assert_status!(status, code, message);
    let alert = "received fatal alert: UnknownCA";
    assert_eq!(
        reason(&status),
        if transport == Transport::Tcp { alert } else { "connection closed" }
    );
    assert_eq!(whoami.seen().len(), 0, "{transport}: calls reached the handler");
    server.shutdown().await;
    other.shutdown().await;
}

#[apply(http2_transports)]
#[tokio::test]
async fn a_client_that_trusts_another_ca_refuses_the_server(transport: Transport) {
    let whoami = Whoami::default();
    let server = start(transport, false, &whoami).await;
    let other = start(transport, false, &whoami).await;
    let config = other.tls().unwrap().client_tls_config();
    let mut client = ProbeClient::new(server.channel_with_tls(config));

    let status = client.unary(probe("", 0)).await.unwrap_err();

    assert_status!(status, Code::Unavailable, "invalid peer certificate: UnknownIssuer");
    assert_eq!(whoami.seen().len(), 0, "{transport}: calls reached the handler");
    server.shutdown().await;
    other.shutdown().await;
}

#[tokio::test]
async fn a_client_built_from_the_pems_alone_reaches_the_mtls_server_over_tcp() {
    let whoami = Whoami::default();
    let server = start(Transport::Tcp, true, &whoami).await;
    let tls = server.tls().unwrap();
    let bob = tls.client_identity("bob");
    // What an outside client is handed: three PEM texts and a URI.
    let (ca_pem, cert_pem, key_pem) =
        (tls.ca_pem().to_owned(), bob.cert_pem().to_owned(), bob.key_pem().to_owned());
    let uri = server.uri().unwrap().to_string();

    let config = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca_pem))
        .identity(Identity::from_pem(cert_pem, key_pem));
    let channel = Endpoint::from_shared(uri.clone()).unwrap().tls_config(config).unwrap();
    let mut client = ProbeClient::new(channel.connect().await.unwrap());
    let reply = client.unary(probe("", 0)).await;

    assert!(reply.is_ok(), "{reply:?}");
    assert!(uri.starts_with("https://127.0.0.1:"), "{uri}");
    assert_eq!(whoami.seen(), [Some(vec![bob.cert_der().clone()])]);
    server.shutdown().await;
}

#[apply(http2_transports)]
#[tokio::test]
async fn a_dropped_tls_connection_is_replaced_by_a_new_handshake(transport: Transport) {
    let whoami = Whoami::default();
    let server = start(transport, true, &whoami).await;
    let mut client = server.client(ProbeClient::new);
    let before = client.unary(probe("", 0)).await.unwrap().into_inner().text;

    assert_eq!(server.drop_connections(), 1, "{transport}");
    // The first call may be the one that finds the old connection gone; the next reconnects.
    let after = match client.unary(probe("", 0)).await {
        Ok(reply) => reply.into_inner().text,
        Err(_) => client.unary(probe("", 0)).await.unwrap().into_inner().text,
    };

    assert_ne!(before, after, "{transport}: the call after the drop used the old connection");
    let default = server.tls().unwrap().default_identity().cert_der().clone();
    let seen = whoami.seen();
    assert!(
        seen.iter().all(|certs| certs.as_deref() == Some(&[default.clone()][..])),
        "{transport}: the new handshake did not present the client certificate again; \
         certificates per call: {:?}",
        seen.iter().map(|certs| certs.as_ref().map(Vec::len)).collect::<Vec<_>>()
    );
    server.shutdown().await;
}

#[apply(http2_transports)]
#[tokio::test(start_paused = true)]
async fn a_server_taken_down_refuses_tls_clients_with_the_reason(transport: Transport) {
    let faults = Faults::new();
    let server = TestServer::builder()
        .transport(transport)
        .mtls()
        .add_service(Probe::new().server())
        .faults(&faults)
        .start()
        .await;
    let mut client = server.client(ProbeClient::new);

    faults.take_down(Duration::from_secs(5));
    let refused = client.unary(probe("a", 0)).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let answered = client.unary(probe("a", 0)).await;

    assert_status!(refused, Code::Unavailable, SERVER_DOWN);
    assert_eq!(answered.unwrap().into_inner().text, "a", "{transport}");
    server.shutdown().await;
}

#[apply(http2_transports)]
#[tokio::test(start_paused = true)]
async fn connection_toxics_act_on_the_bytes_under_tls(transport: Transport) {
    let faults = Faults::new();
    let server = TestServer::builder()
        .transport(transport)
        .tls()
        .add_service(Probe::new().server())
        .faults(&faults)
        .start()
        .await;
    let mut client = server.client(ProbeClient::new);
    client.unary(probe("connect", 0)).await.unwrap();
    faults.connections().downstream().latency(Duration::from_millis(100));

    let started = Instant::now();
    let reply = client.unary(probe("a", 0)).await.unwrap().into_inner();

    assert_eq!(reply.text, "a", "{transport}");
    // One trip from server to client, through the encrypted stream.
    assert_eq!(started.elapsed(), Duration::from_millis(100), "{transport}");
    server.shutdown().await;
}

#[tokio::test]
async fn client_identities_carry_the_name_as_common_name_and_alternative_name() {
    let server = start(Transport::Memory, true, &Whoami::default()).await;
    let tls = server.tls().unwrap();

    let alice = tls.client_identity("alice");
    let spiffe = tls.client_identity("spiffe://example.org/alice");

    // DER: UTF8String (0x0c) for the common name, [2] dNSName (0x82) or [6] URI (0x86) for the
    // alternative name, each followed by its length.
    let has = |der: &[u8], tag: u8, name: &str| {
        let mut field = vec![tag, name.len() as u8];
        field.extend_from_slice(name.as_bytes());
        der.windows(field.len()).any(|window| window == field)
    };
    assert!(has(alice.cert_der(), 0x0c, "alice"), "alice's certificate lacks CN=alice");
    assert!(has(alice.cert_der(), 0x82, "alice"), "alice's certificate lacks DNS:alice");
    let uri = "spiffe://example.org/alice";
    assert!(has(spiffe.cert_der(), 0x0c, uri), "the SPIFFE certificate lacks CN={uri}");
    assert!(has(spiffe.cert_der(), 0x86, uri), "the SPIFFE certificate lacks URI:{uri}");
    assert!(!has(spiffe.cert_der(), 0x82, uri), "the SPIFFE certificate has DNS:{uri}");
    server.shutdown().await;
}

#[tokio::test]
#[should_panic(expected = "TestTls::client_identity: \"\" cannot name a client certificate: use \
                           a non-empty ASCII name such as \"alice\" or \
                           \"spiffe://example.org/alice\" (it becomes the subject alternative \
                           name, which is ASCII)")]
async fn an_empty_identity_name_is_rejected_with_the_fix() {
    let server = start(Transport::Memory, true, &Whoami::default()).await;

    let _ = server.tls().unwrap().client_identity("");
}

#[tokio::test]
#[should_panic(expected = "TestTls::client_identity: \"zoë\" cannot name a client certificate")]
async fn a_non_ascii_identity_name_is_rejected() {
    let server = start(Transport::Memory, true, &Whoami::default()).await;

    let _ = server.tls().unwrap().client_identity("zoë");
}

#[tokio::test]
#[should_panic(expected = "tonic-testkit: TestServerBuilder::tls() asks for TLS, and this \
                           server's transport is Transport::Direct, which has no connection to \
                           encrypt: its calls are function calls in the test's task. Serve TLS \
                           over Transport::Memory or Transport::Tcp: \
                           .transport(Transport::Memory).tls()")]
async fn tls_over_direct_panics_at_start_with_the_fix() {
    let _server = start(Transport::Direct, false, &Whoami::default()).await;
}

#[test]
#[ignore = "run in a child process by tls_on_the_direct_default_panics_naming_the_variable"]
fn child_starts_a_tls_server_on_the_default_transport() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let _server = TestServer::builder().tls().add_service(Probe::new().server()).start().await;
    });
}

#[test]
fn tls_on_the_direct_default_panics_naming_the_variable() {
    // A child process, so that the variable never changes under other tests.
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "child_starts_a_tls_server_on_the_default_transport"])
        .arg("--nocapture")
        .env(tonic_testkit::server::TRANSPORT_ENV, "direct")
        .output()
        .unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "TestServerBuilder::tls() asks for TLS, and this server's transport is \
             Transport::Direct (the default that TONIC_TESTKIT_TRANSPORT=direct chose), which \
             has no connection to encrypt"
        ),
        "{stderr}"
    );
}

#[tokio::test]
#[should_panic(expected = "TestServerBuilder::mtls() asks for TLS, and this server's transport \
                           is Transport::Direct")]
async fn mtls_over_direct_panics_at_start() {
    let _server = start(Transport::Direct, true, &Whoami::default()).await;
}

#[tokio::test]
#[should_panic(expected = "TestServer::channel_with_identity: the server was started with \
                           .tls(), so it asks for no client certificate and would never see \
                           \"alice\"'s; start it with .mtls()")]
async fn presenting_an_identity_to_a_server_without_mtls_panics_with_the_fix() {
    let server = start(Transport::Memory, false, &Whoami::default()).await;
    let alice = server.tls().unwrap().client_identity("alice");

    let _ = server.channel_with_identity(&alice);
}

#[tokio::test]
#[should_panic(expected = "TestServer::channel_with_identity: the server was started without \
                           TLS")]
async fn presenting_an_identity_to_a_plaintext_server_panics() {
    let mtls = start(Transport::Memory, true, &Whoami::default()).await;
    let plain = TestServer::builder().add_service(Probe::new().server()).start().await;
    let alice = mtls.tls().unwrap().client_identity("alice");

    let _ = plain.channel_with_identity(&alice);
}

#[tokio::test]
#[should_panic(expected = "TestServer::channel_with_tls: a Transport::Direct server has no \
                           connection for TLS to secure; serve over Transport::Memory or \
                           Transport::Tcp (with .tls() or .mtls())")]
async fn a_tls_channel_to_a_direct_server_panics() {
    let server = TestServer::builder()
        .transport(Transport::Direct)
        .add_service(Probe::new().server())
        .start()
        .await;

    let _ = server.channel_with_tls(ClientTlsConfig::new());
}

#[tokio::test]
#[should_panic(expected = "TestServer::channel_with_tls: tonic rejected the ClientTlsConfig: \
                           transport error: Error parsing TLS certificate.; check the PEMs \
                           given to it")]
async fn a_malformed_pem_is_rejected_with_tonics_reason() {
    let server = start(Transport::Memory, false, &Whoami::default()).await;
    let garbled = Certificate::from_pem("-----BEGIN CERTIFICATE-----\nnot base64!\n");

    let _ = server.channel_with_tls(ClientTlsConfig::new().ca_certificate(garbled));
}
