//! `TestServer::channel_with`: tonic's client settings (`Endpoint`) on the kit's channels, each
//! observed where it acts, over every server it applies to: Direct, Memory and TCP, in the clear
//! and (for the wire transports) over TLS.

mod common;

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use common::{STREAM_RESET, probe};
use rstest::rstest;
use rstest_reuse::{apply, template};
use tokio::time::{Instant, sleep, timeout};
use tokio_stream::StreamExt;
use tonic::{Code, Request, Response, Status, transport::Endpoint};
use tonic_testkit::{Faults, TestServer, TestServerBuilder, Transport};
use tonic_testkit_support::{
    Probe, ProbeClient, ProbeReply, ProbeRequest, ProbeServer, ProbeService, ReplyStream,
};

/// The code and message a call failed with (these tests loop over servers, and say which one
/// failed).
fn status<T: std::fmt::Debug>(result: Result<Response<T>, Status>) -> (Code, String) {
    let status = result.expect_err("the call failed");
    (status.code(), status.message().to_owned())
}

/// The innermost source of a client's status: the reason under tonic's and hyper's words.
fn reason(status: &Status) -> String {
    let mut reason = status.message().to_owned();
    let mut source = std::error::Error::source(status);
    while let Some(error) = source {
        reason = error.to_string();
        source = error.source();
    }
    reason
}

/// A server to test a channel against: a transport, with TLS or without.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Server {
    Direct,
    Memory,
    Tcp,
    MemoryTls,
    TcpTls,
}

/// Every server: the three transports, and the two wire ones over TLS too.
#[template]
#[rstest]
fn every_server(
    #[values(Server::Direct, Server::Memory, Server::Tcp, Server::MemoryTls, Server::TcpTls)]
    server: Server,
) {
}

/// The servers a client reaches over HTTP/2 (Memory and TCP), in the clear and over TLS.
#[template]
#[rstest]
fn wire_servers(
    #[values(Server::Memory, Server::Tcp, Server::MemoryTls, Server::TcpTls)] server: Server,
) {
}

impl Server {
    fn transport(self) -> Transport {
        match self {
            Server::Direct => Transport::Direct,
            Server::Memory | Server::MemoryTls => Transport::Memory,
            Server::Tcp | Server::TcpTls => Transport::Tcp,
        }
    }

    fn builder(self) -> TestServerBuilder {
        let builder = TestServer::builder().transport(self.transport());
        match self {
            Server::MemoryTls | Server::TcpTls => builder.tls(),
            _ => builder,
        }
    }

    async fn probe(self) -> TestServer {
        self.builder().add_service(Probe::new().server()).start().await
    }
}

/// What a layer in front of the services reads of each request: its URI's scheme and
/// authority, and its user agent.
type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// A probe server over `server` with a layer that keeps what it [sees](Seen).
async fn seeing(server: Server) -> (TestServer, Seen) {
    let seen = Seen::default();
    let record = seen.clone();
    let layer = tower::layer::layer_fn(move |service| {
        let record = record.clone();
        tower::util::MapRequest::new(service, move |request: http::Request<tonic::body::Body>| {
            let uri = request.uri();
            let origin = format!("{}://{}", uri.scheme_str().unwrap(), uri.authority().unwrap());
            let agent = request.headers().get("user-agent").unwrap().to_str().unwrap().to_owned();
            record.lock().unwrap().push((origin, agent));
            request
        })
    });
    let test_server =
        server.builder().add_service(Probe::new().server()).layer(layer).start().await;
    (test_server, seen)
}

#[apply(every_server)]
#[tokio::test]
async fn the_closure_gets_the_endpoint_of_channel_and_returned_as_is_it_is_channel(server: Server) {
    let (test_server, seen) = seeing(server).await;
    let mut uri = None;

    let mut with = ProbeClient::new(test_server.channel_with(|endpoint: Endpoint| {
        uri = Some(endpoint.uri().to_string());
        endpoint
    }));
    with.unary(probe("a", 0)).await.unwrap();
    test_server.client(ProbeClient::new).unary(probe("a", 0)).await.unwrap();

    let port = test_server.local_addr().map(|addr| addr.port()).unwrap_or_default();
    let expected = match server {
        Server::Direct | Server::Memory => "http://localhost/".to_owned(),
        Server::Tcp => format!("http://127.0.0.1:{port}/"),
        Server::MemoryTls => "https://localhost/".to_owned(),
        Server::TcpTls => format!("https://127.0.0.1:{port}/"),
    };
    assert_eq!(uri.unwrap(), expected, "{server:?}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen[0], seen[1], "{server:?}: channel_with(|e| e) and channel() differ");
    assert_eq!(seen[0].1, "tonic/0.14.9", "{server:?}");
    test_server.shutdown().await;
}

#[apply(every_server)]
#[tokio::test]
async fn the_endpoint_user_agent_comes_after_the_request_s_and_before_tonic_s(server: Server) {
    let test_server = server.probe().await;
    let channel =
        test_server.channel_with(|endpoint| endpoint.user_agent("orders-app/2.1").unwrap());
    let mut client = ProbeClient::new(channel);
    let mut own = Request::new(probe("meta:user-agent", 0));
    own.metadata_mut().insert("user-agent", "batch-job/7".parse().unwrap());

    let alone = client.unary(probe("meta:user-agent", 0)).await.unwrap().into_inner().text;
    let after = client.unary(own).await.unwrap().into_inner().text;

    assert_eq!(alone, "orders-app/2.1 tonic/0.14.9", "{server:?}");
    assert_eq!(after, "batch-job/7 orders-app/2.1 tonic/0.14.9", "{server:?}");
    let journal = test_server.calls();
    assert_eq!(journal[0].metadata().get("user-agent").unwrap(), "orders-app/2.1 tonic/0.14.9");
    test_server.shutdown().await;
}

#[apply(every_server)]
#[tokio::test]
async fn the_endpoint_origin_is_the_scheme_and_authority_the_server_sees(server: Server) {
    let (test_server, seen) = seeing(server).await;
    let origin = "https://orders.example.com:8443".parse().unwrap();
    let mut client = ProbeClient::new(test_server.channel_with(|endpoint| endpoint.origin(origin)));

    client.unary(probe("a", 0)).await.unwrap();

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen[0].0, "https://orders.example.com:8443", "{server:?}");
    test_server.shutdown().await;
}

#[apply(every_server)]
#[tokio::test]
async fn an_origin_without_a_scheme_fails_every_call_as_tonic_s_channel_does(server: Server) {
    let test_server = server.probe().await;
    let origin = "orders.example.com:8443".parse().unwrap();
    let mut client = ProbeClient::new(test_server.channel_with(|endpoint| endpoint.origin(origin)));

    let first = client.unary(probe("a", 0)).await;
    let second = client.unary(probe("a", 0)).await;

    assert_eq!(status(first), (Code::Unknown, "transport error".into()), "{server:?}");
    assert_eq!(status(second), (Code::Unknown, "transport error".into()), "{server:?}");
    assert!(test_server.calls().is_empty(), "{server:?}: a call reached the server");
    test_server.shutdown().await;
}

#[apply(every_server)]
#[tokio::test(start_paused = true)]
async fn the_endpoint_timeout_ends_a_slow_call_on_the_client_without_telling_the_server(
    server: Server,
) {
    let test_server = server.probe().await;
    let channel = test_server.channel_with(|endpoint| endpoint.timeout(Duration::from_millis(50)));
    let mut client = ProbeClient::new(channel);

    let deadline = client.unary(probe("meta:grpc-timeout", 0)).await.unwrap().into_inner().text;
    let started = Instant::now();
    let slow = client.unary(probe("sleep:1000", 0)).await;

    assert_eq!(status(slow), (Code::Cancelled, "Timeout expired".into()), "{server:?}");
    assert_eq!(started.elapsed(), Duration::from_millis(50), "{server:?}");
    assert_eq!(deadline, "<missing>", "{server:?}: the server saw a grpc-timeout");
    test_server.shutdown().await;
    let call = &test_server.calls()[1];
    let ended = call.status().unwrap();
    assert_eq!(ended.code(), Code::Cancelled, "{server:?}: {ended:?}");
    assert_eq!(call.duration(), Some(Duration::from_millis(50)), "{server:?}");
}

#[apply(every_server)]
#[tokio::test(start_paused = true)]
async fn the_shorter_of_the_request_deadline_and_the_endpoint_timeout_ends_the_call(
    server: Server,
    #[values(20, 80)] deadline_ms: u64,
) {
    let test_server = server.probe().await;
    let channel = test_server.channel_with(|endpoint| endpoint.timeout(Duration::from_millis(50)));
    let mut client = ProbeClient::new(channel);
    let mut request = Request::new(probe("sleep:1000", 0));
    request.set_timeout(Duration::from_millis(deadline_ms));

    let started = Instant::now();
    let slow = client.unary(request).await;

    assert_eq!(status(slow), (Code::Cancelled, "Timeout expired".into()), "{server:?}");
    let shorter = Duration::from_millis(deadline_ms.min(50));
    assert_eq!(started.elapsed(), shorter, "{server:?}");
    test_server.shutdown().await;
    let call = &test_server.calls()[0];
    let sent = format!("{}n", deadline_ms * 1_000_000);
    assert_eq!(call.metadata().get("grpc-timeout").unwrap().to_str().unwrap(), sent);
}

#[apply(every_server)]
#[tokio::test(start_paused = true)]
async fn a_concurrency_limit_of_one_makes_a_second_call_wait_for_the_first_s_answer(
    server: Server,
) {
    let test_server = server.probe().await;
    let channel = test_server.channel_with(|endpoint| endpoint.concurrency_limit(1));
    let (mut first, mut second) = (ProbeClient::new(channel.clone()), ProbeClient::new(channel));
    let started = Instant::now();

    let (slow, quick) = tokio::join!(first.unary(probe("sleep:100", 0)), async {
        second.unary(probe("quick", 0)).await.unwrap();
        started.elapsed()
    });

    slow.unwrap();
    // Over Direct there is no channel to limit: the quick call is answered at once.
    let waited = if server == Server::Direct { 0 } else { 100 };
    assert_eq!(quick, Duration::from_millis(waited), "{server:?}");
    test_server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn over_direct_the_settings_of_a_connection_have_no_effect_and_the_others_still_apply() {
    let test_server = Server::Direct.probe().await;
    let channel = test_server.channel_with(|endpoint| {
        endpoint
            .concurrency_limit(0)
            .buffer_size(0)
            .rate_limit(1, Duration::from_secs(3600))
            .http2_keep_alive_interval(Duration::from_millis(1))
            .keep_alive_while_idle(true)
            .initial_stream_window_size(1)
            .initial_connection_window_size(1)
            .http2_header_table_size(0)
            .http2_max_header_list_size(1)
            .tls_config(tonic::transport::ClientTlsConfig::new())
            .unwrap()
            .user_agent("orders-app/2.1")
            .unwrap()
    });
    let mut client = ProbeClient::new(channel);
    let started = Instant::now();

    let first = client.unary(probe("meta:user-agent", 0)).await.unwrap().into_inner().text;
    let second = client.unary(probe("meta:user-agent", 0)).await.unwrap().into_inner().text;

    // Two calls at once, though the rate limit lets one an hour through a tonic channel.
    assert_eq!([first, second], ["orders-app/2.1 tonic/0.14.9"; 2]);
    assert_eq!(started.elapsed(), Duration::ZERO);
    test_server.shutdown().await;
}

#[apply(wire_servers)]
#[tokio::test(start_paused = true)]
async fn keep_alive_pings_find_a_server_that_stopped_answering(
    server: Server,
    #[values(true, false)] keep_alive: bool,
) {
    let faults = Faults::new();
    let test_server =
        server.builder().add_service(Probe::new().server()).faults(&faults).start().await;
    let channel = test_server.channel_with(|endpoint| match keep_alive {
        true => endpoint
            .http2_keep_alive_interval(Duration::from_secs(1))
            .keep_alive_timeout(Duration::from_secs(2)),
        false => endpoint,
    });
    let mut client = ProbeClient::new(channel);
    client.unary(probe("connect", 0)).await.unwrap();

    faults.connections().black_hole();
    let started = Instant::now();
    let call = timeout(Duration::from_secs(3600), client.unary(probe("a", 0))).await;

    match keep_alive {
        // A PING after a second of silence, unanswered for two more.
        true => {
            let failed = call.expect("keep-alive ended the call").unwrap_err();
            let status = (failed.code(), failed.message(), reason(&failed));
            // hyper's `KeepAliveTimedOut`, whose source is its `TimedOut`.
            let expected = (Code::Unavailable, "http2 error", "operation timed out".to_owned());
            assert_eq!(status, expected, "{server:?}");
            assert_eq!(started.elapsed(), Duration::from_secs(3), "{server:?}");
        }
        false => assert!(call.is_err(), "{server:?}: without keep-alive the call waits on"),
    }
    faults.clear();
    test_server.shutdown().await;
}

/// A streaming service that sends 16 KiB replies for as long as HTTP/2 flow control lets it,
/// and counts the replies taken from it.
#[derive(Clone, Default)]
struct Flood(Arc<AtomicUsize>);

#[tonic::async_trait]
impl ProbeService for Flood {
    async fn server_stream(
        &self,
        _request: Request<ProbeRequest>,
    ) -> Result<Response<ReplyStream>, Status> {
        let taken = self.0.clone();
        let replies = tokio_stream::iter(0..).map(move |index| {
            taken.fetch_add(1, Ordering::SeqCst);
            Ok(ProbeReply { text: "x".repeat(16 * 1024), index })
        });
        Ok(Response::new(Box::pin(replies)))
    }
}

#[apply(wire_servers)]
#[tokio::test(start_paused = true)]
async fn the_flow_control_windows_bound_what_the_server_sends_before_the_client_reads(
    server: Server,
    #[values("default", "stream", "connection")] window: &str,
) {
    let flood = Flood::default();
    let test_server = server.builder().add_service(ProbeServer::new(flood.clone())).start().await;
    let channel = test_server.channel_with(|endpoint| match window {
        "stream" => endpoint.initial_stream_window_size(256 * 1024),
        "connection" => endpoint
            .initial_stream_window_size(1024 * 1024)
            .initial_connection_window_size(256 * 1024),
        _ => endpoint,
    });
    let mut client = ProbeClient::new(channel);

    let _unread = client.server_stream(probe("", 0)).await.unwrap();
    sleep(Duration::from_secs(1)).await; // paused: returns once nothing moves any more

    // A window's worth of replies (2 MiB by default, hyper's; 256 KiB when the stream's or the
    // connection's window says so), and two more that tonic's encoder and hyper hold when flow
    // control stops them.
    let window_kib = if window == "default" { 2 * 1024 } else { 256 };
    assert_eq!(flood.0.load(Ordering::SeqCst), window_kib / 16 + 2, "{server:?}, {window}");
    test_server.shutdown().await;
}

/// A unary service whose answers carry a response header `x-heavy` of `.0` bytes.
#[derive(Clone)]
struct Heavy(usize);

#[tonic::async_trait]
impl ProbeService for Heavy {
    async fn unary(&self, _request: Request<ProbeRequest>) -> Result<Response<ProbeReply>, Status> {
        let mut response = Response::new(ProbeReply::default());
        response.metadata_mut().insert("x-heavy", "x".repeat(self.0).parse().unwrap());
        Ok(response)
    }
}

#[apply(wire_servers)]
#[tokio::test]
async fn the_header_table_size_decides_whether_a_repeated_response_header_is_sent_again(
    server: Server,
    #[values(None, Some(0))] table: Option<u32>,
) {
    let faults = Faults::new();
    let test_server =
        server.builder().add_service(ProbeServer::new(Heavy(2000))).faults(&faults).start().await;
    let channel = test_server.channel_with(|endpoint| match table {
        Some(size) => endpoint.http2_header_table_size(size),
        None => endpoint,
    });
    let mut client = ProbeClient::new(channel);
    client.unary(probe("", 0)).await.unwrap();

    faults.connections().downstream().reset_after_bytes(8_000);
    let mut answered = 0;
    while answered < 10 && client.unary(probe("", 0)).await.is_ok() {
        answered += 1;
    }

    // With the default table (4 KiB) the server sends the header once and then its index; with
    // none, it sends the whole header each time (2,000 bytes, 1,750 Huffman-coded), and 8,000
    // bytes hold only 4 more answers.
    assert_eq!(answered, if table.is_none() { 10 } else { 4 }, "{server:?}");
    faults.clear();
    test_server.shutdown().await;
}

#[apply(wire_servers)]
#[tokio::test]
async fn the_max_header_list_size_decides_how_large_a_response_header_the_client_takes(
    server: Server,
    #[values(None, Some(64 * 1024))] limit: Option<u32>,
) {
    let test_server =
        server.builder().add_service(ProbeServer::new(Heavy(20 * 1024))).start().await;
    let channel = test_server.channel_with(|endpoint| match limit {
        Some(size) => endpoint.http2_max_header_list_size(size),
        None => endpoint,
    });
    let mut client = ProbeClient::new(channel);

    let result = client.unary(probe("", 0)).await;

    match limit {
        Some(_) => {
            let header = result.unwrap().metadata().get("x-heavy").unwrap().len();
            assert_eq!(header, 20 * 1024, "{server:?}");
        }
        // hyper's default for a client is 16 KiB: its h2 resets the stream.
        None => {
            let failed = result.unwrap_err();
            let status = (failed.code(), failed.message());
            assert_eq!(status, (Code::Internal, STREAM_RESET), "{server:?}");
            let reset = "stream error detected: unspecific protocol error detected";
            assert_eq!(reason(&failed), reset, "{server:?}");
        }
    }
    test_server.shutdown().await;
}

#[rstest]
#[tokio::test]
async fn a_tls_config_set_in_the_closure_replaces_the_kit_s_trust(
    #[values(Server::MemoryTls, Server::TcpTls)] server: Server,
) {
    let test_server = server.probe().await;
    let other = Server::MemoryTls.probe().await;
    let config = other.tls().unwrap().client_tls_config();
    let channel = test_server.channel_with(|endpoint| endpoint.tls_config(config).unwrap());

    let status = ProbeClient::new(channel).unary(probe("a", 0)).await.unwrap_err();

    let refused = "invalid peer certificate: UnknownIssuer";
    assert_eq!((status.code(), status.message()), (Code::Unavailable, refused), "{server:?}");
    assert!(test_server.calls().is_empty(), "{server:?}: a call reached the server");
    test_server.shutdown().await;
    other.shutdown().await;
}
