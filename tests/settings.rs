//! tonic's server settings on the builder, each held to what a `tonic::transport::Server` with
//! the same setting does. Both servers run side by side (tonic's on a loopback listener), the
//! same calls go to each, and what a client observes must be the same: statuses, when calls end
//! (in paused tokio time), and, for settings only HTTP/2 shows, the frames the server sends on a
//! raw connection (`tonic_testkit_support::h2wire`, over TCP here; over Memory in the unit tests
//! of src/settings/tests.rs, which can open a raw in-memory connection).

use std::{
    net::{Ipv4Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use common::{STREAM_RESET, every_transport, http2_transports};
use rstest::rstest;
use rstest_reuse::apply;
use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
    time::Instant,
};
use tonic::{
    Code, Request, Response, Status,
    body::Body,
    transport::{Channel, Endpoint, Server, server::TcpIncoming},
};
use tonic_testkit::{TestServer, Transport};
use tonic_testkit_support::{
    ProbeClient, ProbeReply, ProbeRequest, ProbeServer, ProbeService, h2wire,
};
use tower::{ServiceExt, limit::ConcurrencyLimitLayer, util::BoxCloneService};
mod common;

use common::panic_location;

/// A client of either server; a channel's error is the status a tonic client makes of it.
type Client = ProbeClient<BoxCloneService<http::Request<Body>, http::Response<Body>, Status>>;

/// Answers `unary` with its text, after `sleep:MS` if asked; counts the calls that started.
#[derive(Clone)]
struct Sleeper {
    started: Arc<watch::Sender<usize>>,
}

impl Sleeper {
    fn new() -> Self {
        Self { started: Arc::new(watch::channel(0).0) }
    }

    /// Waits until `calls` calls have reached the handler.
    async fn started(&self, calls: usize) {
        let mut started = self.started.subscribe();
        started.wait_for(|started| *started >= calls).await.expect("the sleeper keeps its sender");
    }
}

#[tonic::async_trait]
impl ProbeService for Sleeper {
    async fn unary(&self, request: Request<ProbeRequest>) -> Result<Response<ProbeReply>, Status> {
        self.started.send_modify(|started| *started += 1);
        let text = request.into_inner().text;
        if let Some(ms) = text.strip_prefix("sleep:") {
            tokio::time::sleep(Duration::from_millis(ms.parse().unwrap())).await;
        }
        Ok(Response::new(ProbeReply { text, index: 0 }))
    }
}

/// The kit's server and tonic's, both with the same settings, each with its own sleeper.
struct Pair {
    server: TestServer,
    kit: Sleeper,
    tonic: Sleeper,
    /// Where tonic's server listens.
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

/// A [`Pair`] over `transport`, both servers given the builder calls that follow it (the same
/// names and arguments on `TestServerBuilder` and on `tonic::transport::Server`).
macro_rules! pair {
    ($transport:expr $(, $($setting:tt)+)?) => {{
        let kit = Sleeper::new();
        let server = TestServer::builder()
            .transport($transport)
            .add_service(ProbeServer::new(kit.clone()))
            $($($setting)+)?
            .start()
            .await;
        let tonic = Sleeper::new();
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        let serving = Server::builder()
            $($($setting)+)?
            .add_service(ProbeServer::new(tonic.clone()))
            .serve_with_incoming(incoming);
        let task = tokio::spawn(async move { serving.await.expect("tonic's server runs") });
        Pair { server, kit, tonic, addr, task }
    }};
}

/// One server of a [`Pair`], as the calls of a test see it.
struct Side<'a> {
    sleeper: &'a Sleeper,
    connect: Box<dyn Fn() -> Client + 'a>,
}

impl Side<'_> {
    /// A client on a new connection.
    fn client(&self) -> Client {
        (self.connect)()
    }
}

impl Pair {
    fn kit(&self) -> Side<'_> {
        let connect = || {
            let channel = self.server.channel().map_err(Status::from_error);
            ProbeClient::new(BoxCloneService::new(channel))
        };
        Side { sleeper: &self.kit, connect: Box::new(connect) }
    }

    /// tonic's server, reached with the origin the kit's channels send (`http://localhost`
    /// over the in-process transports), so that both get the same header lists.
    fn tonic(&self) -> Side<'_> {
        let origin = match self.server.uri() {
            Some(uri) => uri,
            None => http::Uri::from_static("http://localhost"),
        };
        let connect = move || {
            let endpoint = Endpoint::from_shared(format!("http://{}", self.addr)).unwrap();
            let channel: Channel = endpoint.origin(origin.clone()).connect_lazy();
            let channel = channel.map_err(|err| Status::from_error(Box::new(err)));
            ProbeClient::new(BoxCloneService::new(channel))
        };
        Side { sleeper: &self.tonic, connect: Box::new(connect) }
    }

    async fn end(self) {
        self.server.shutdown().await;
        self.task.abort();
    }
}

/// What a client observes of one call: the reply's text, or the status.
type Outcome = Result<String, (Code, String)>;

fn outcome(result: Result<tonic::Response<ProbeReply>, Status>) -> Outcome {
    match result {
        Ok(reply) => Ok(reply.into_inner().text),
        Err(status) => Err((status.code(), status.message().to_owned())),
    }
}

fn probe(text: &str) -> ProbeRequest {
    ProbeRequest { text: text.to_owned(), count: 0 }
}

/// A call on `client`, with how long after `since` it ended.
async fn timed(
    mut client: Client,
    request: Request<ProbeRequest>,
    since: Instant,
) -> (Outcome, Duration) {
    let result = client.unary(request).await;
    (outcome(result), since.elapsed())
}

const TIMEOUT_EXPIRED: (Code, &str) = (Code::Cancelled, "Timeout expired");

fn err((code, message): (Code, &str)) -> Outcome {
    Err((code, message.to_owned()))
}

fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn timeout_answers_a_slow_call_as_tonic_does(transport: Transport) {
    let pair = pair!(transport, .timeout(ms(50)));
    // (text, the client's own deadline): the shorter of the two times the call.
    let calls = [
        ("sleep:200", None),
        ("sleep:10", None),
        ("sleep:200", Some(20)),
        ("sleep:30", Some(1000)),
    ];
    let run = async |side: Side<'_>| {
        let mut outcomes = Vec::new();
        for (text, deadline) in calls {
            let mut request = Request::new(probe(text));
            if let Some(deadline) = deadline {
                request.set_timeout(ms(deadline));
            }
            outcomes.push(timed(side.client(), request, Instant::now()).await);
        }
        outcomes
    };

    let kit = run(pair.kit()).await;
    let tonic = run(pair.tonic()).await;

    assert_eq!(kit, tonic, "{transport}");
    let expected = [
        (err(TIMEOUT_EXPIRED), ms(50)),
        (Ok("sleep:10".into()), ms(10)),
        (err(TIMEOUT_EXPIRED), ms(20)),
        (Ok("sleep:30".into()), ms(30)),
    ];
    assert_eq!(kit, expected, "{transport}");
    assert_eq!(pair.server.calls()[0].code(), Some(Code::Cancelled), "{transport}");
    pair.end().await;
}

/// Two calls on one connection, the second sent once the first reached the handler; and a
/// third on a connection of its own. Each with when it ended, after the first started.
async fn crowd(side: Side<'_>, first: &str) -> [(Outcome, Duration); 3] {
    let client = side.client();
    let since = Instant::now();
    let first = tokio::spawn(timed(client.clone(), Request::new(probe(first)), since));
    side.sleeper.started(1).await;
    let (second, third) = tokio::join!(
        timed(client, Request::new(probe("second")), since),
        timed(side.client(), Request::new(probe("third")), since),
    );
    [first.await.unwrap(), second, third]
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn a_call_past_the_concurrency_limit_waits_for_one_on_its_connection(transport: Transport) {
    let pair = pair!(transport, .concurrency_limit_per_connection(1));

    let kit = crowd(pair.kit(), "sleep:100").await;
    let tonic = crowd(pair.tonic(), "sleep:100").await;

    assert_eq!(kit, tonic, "{transport}");
    let expected = [
        (Ok("sleep:100".into()), ms(100)),
        (Ok("second".into()), ms(100)), // waited for the first
        (Ok("third".into()), ms(0)),    // another connection
    ];
    assert_eq!(kit, expected, "{transport}");
    pair.end().await;
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn the_wait_for_a_permit_does_not_count_against_the_timeout(transport: Transport) {
    let pair = pair!(transport, .concurrency_limit_per_connection(1).timeout(ms(150)));
    let run = async |side: Side<'_>| {
        let client = side.client();
        let since = Instant::now();
        let first = tokio::spawn(timed(client.clone(), Request::new(probe("sleep:100")), since));
        side.sleeper.started(1).await;
        let second = timed(client, Request::new(probe("sleep:100")), since).await;
        [first.await.unwrap(), second]
    };

    let kit = run(pair.kit()).await;
    let tonic = run(pair.tonic()).await;

    assert_eq!(kit, tonic, "{transport}");
    // The second call ends 200 ms after it was sent, 100 ms after it was let in.
    let expected = [(Ok("sleep:100".into()), ms(100)), (Ok("sleep:100".into()), ms(200))];
    assert_eq!(kit, expected, "{transport}");
    pair.end().await;
}

const OVERLOADED: (Code, &str) =
    (Code::ResourceExhausted, "Too many active requests for the connection");

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn load_shedding_refuses_a_call_past_the_concurrency_limit(transport: Transport) {
    let pair = pair!(transport, .concurrency_limit_per_connection(1).load_shed(true));

    let kit = crowd(pair.kit(), "sleep:100").await;
    let tonic = crowd(pair.tonic(), "sleep:100").await;

    assert_eq!(kit, tonic, "{transport}");
    let expected =
        [(Ok("sleep:100".into()), ms(100)), (err(OVERLOADED), ms(0)), (Ok("third".into()), ms(0))];
    assert_eq!(kit, expected, "{transport}");
    let journaled: Vec<_> = pair.server.calls().iter().map(|call| call.code()).collect();
    assert!(journaled.contains(&Some(Code::ResourceExhausted)), "{transport}: {journaled:?}");
    pair.end().await;
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn load_shedding_refuses_a_call_a_layer_is_not_ready_for(transport: Transport) {
    // The layer's limit is the whole server's: its clones share it.
    let pair = pair!(transport, .load_shed(true).layer(ConcurrencyLimitLayer::new(1)));

    let kit = crowd(pair.kit(), "sleep:100").await;
    let tonic = crowd(pair.tonic(), "sleep:100").await;

    assert_eq!(kit, tonic, "{transport}");
    let expected =
        [(Ok("sleep:100".into()), ms(100)), (err(OVERLOADED), ms(0)), (err(OVERLOADED), ms(0))];
    assert_eq!(kit, expected, "{transport}");
    pair.end().await;
}

#[apply(http2_transports)]
#[tokio::test(start_paused = true)]
async fn max_concurrent_streams_queues_the_streams_past_it(transport: Transport) {
    let pair = pair!(transport, .max_concurrent_streams(1));
    let run = async |side: Side<'_>| {
        let mut client = side.client();
        // The first call lets the client learn the limit; without it, the client's first
        // streams could go out before the server's SETTINGS arrive.
        client.unary(probe("learn")).await.unwrap();
        let since = Instant::now();
        let first = tokio::spawn(timed(client.clone(), Request::new(probe("sleep:100")), since));
        side.sleeper.started(2).await;
        let (second, third) = tokio::join!(
            timed(client, Request::new(probe("second")), since),
            timed(side.client(), Request::new(probe("third")), since),
        );
        [first.await.unwrap(), second, third]
    };

    let kit = run(pair.kit()).await;
    let tonic = run(pair.tonic()).await;

    assert_eq!(kit, tonic, "{transport}");
    let expected = [
        (Ok("sleep:100".into()), ms(100)),
        (Ok("second".into()), ms(100)),
        (Ok("third".into()), ms(0)),
    ];
    assert_eq!(kit, expected, "{transport}");
    pair.end().await;
}

/// A call with `size` bytes of metadata, on a new connection.
async fn with_metadata(side: &Side<'_>, size: usize) -> Outcome {
    let mut request = Request::new(probe("heavy"));
    request.metadata_mut().insert("x-heavy", "x".repeat(size).parse().unwrap());
    outcome(side.client().unary(request).await)
}

/// The smallest metadata size in `range` whose outcome `refused` holds, found by bisection.
async fn first_refused(
    side: &Side<'_>,
    mut range: std::ops::Range<usize>,
    refused: impl Fn(&Outcome) -> bool,
) -> usize {
    while range.start < range.end {
        let middle = range.start + (range.end - range.start) / 2;
        match refused(&with_metadata(side, middle).await) {
            true => range.end = middle,
            false => range.start = middle + 1,
        }
    }
    range.start
}

const TOO_LARGE: (Code, &str) =
    (Code::Unknown, "grpc-status header missing, mapped from HTTP status code 431");
const WAY_TOO_LARGE: (Code, &str) = (Code::ResourceExhausted, STREAM_RESET);

#[apply(every_transport)]
#[tokio::test]
async fn a_header_list_from_the_limit_on_is_refused_as_tonic_refuses_it(transport: Transport) {
    let pair = pair!(transport, .http2_max_header_list_size(1024u32));
    let (kit, tonic) = (pair.kit(), pair.tonic());

    // hyper answers 431 from the limit on, and closes the connection past four times it.
    let too_large = first_refused(&tonic, 0..8192, Result::is_err).await;
    let way_too_large =
        first_refused(&tonic, 0..8192, |outcome| *outcome == err(WAY_TOO_LARGE)).await;

    assert!((500..1024).contains(&too_large), "{too_large}");
    assert!((3500..4096).contains(&way_too_large), "{way_too_large}");
    for size in [too_large - 1, too_large, way_too_large - 1, way_too_large] {
        let expected = with_metadata(&tonic, size).await;
        assert_eq!(with_metadata(&kit, size).await, expected, "{transport}: {size} bytes");
    }
    assert_eq!(with_metadata(&kit, too_large).await, err(TOO_LARGE), "{transport}");
    let methods: Vec<_> = pair.server.calls().iter().map(|call| call.code()).collect();
    assert_eq!(methods, [Some(Code::Ok)], "{transport}: the refused calls never reach the server");
    drop((kit, tonic));
    pair.end().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn a_header_list_limit_above_the_default_lets_larger_metadata_through(transport: Transport) {
    let pair = pair!(transport, .http2_max_header_list_size(256 * 1024u32));

    // 100 KiB is past four times the default 16 KiB: refused without the setting.
    let kit = with_metadata(&pair.kit(), 100 * 1024).await;
    let tonic = with_metadata(&pair.tonic(), 100 * 1024).await;

    assert_eq!(kit, tonic, "{transport}");
    assert_eq!(kit, Ok("heavy".into()), "{transport}");
    pair.end().await;
}

#[test]
#[should_panic(expected = "tonic-testkit: TestServerBuilder::max_concurrent_streams(..) is an \
                           HTTP/2 connection setting, and this server's transport is \
                           Transport::Direct, which has no connection: its calls are function \
                           calls in the test's task. It applies over Transport::Memory and \
                           Transport::Tcp: .transport(Transport::Memory).max_concurrent_streams(..)")]
fn an_http2_connection_setting_panics_at_start_over_direct() {
    drop(
        TestServer::builder()
            .add_service(ProbeServer::new(Sleeper::new()))
            .transport(Transport::Direct)
            .max_concurrent_streams(1)
            .start(),
    );
}

#[test]
#[should_panic(expected = "tonic-testkit: TestServerBuilder::max_frame_size(..) and \
                           http2_keepalive_interval(..) are HTTP/2 connection settings, and this \
                           server's transport is Transport::Direct, which has no connection: its \
                           calls are function calls in the test's task. They apply over \
                           Transport::Memory and Transport::Tcp: \
                           .transport(Transport::Memory).max_frame_size(..).http2_keepalive_interval(..)")]
fn several_http2_connection_settings_are_named_together_over_direct() {
    drop(
        TestServer::builder()
            .add_service(ProbeServer::new(Sleeper::new()))
            .transport(Transport::Direct)
            .http2_keepalive_interval(Some(Duration::from_secs(1)))
            .max_frame_size(1u32 << 20)
            .start(),
    );
}

#[test]
fn the_panic_of_a_connection_setting_over_direct_points_at_start() {
    let builder = TestServer::builder()
        .add_service(ProbeServer::new(Sleeper::new()))
        .transport(Transport::Direct)
        .max_frame_size(1u32 << 20);
    let line = line!() + 1;
    let start = std::panic::AssertUnwindSafe(move || drop(builder.start()));

    assert_eq!(panic_location(start), ("tests/settings.rs".to_owned(), line));
}

#[test]
fn every_http2_connection_setting_panics_over_direct_and_the_others_do_not() {
    type Configure = fn(tonic_testkit::TestServerBuilder) -> tonic_testkit::TestServerBuilder;
    let connection_only: [(&str, Configure); 8] = [
        ("max_concurrent_streams", |b| b.max_concurrent_streams(1)),
        ("max_frame_size", |b| b.max_frame_size(1u32 << 20)),
        ("initial_stream_window_size", |b| b.initial_stream_window_size(1u32 << 20)),
        ("initial_connection_window_size", |b| b.initial_connection_window_size(1u32 << 20)),
        ("http2_keepalive_interval", |b| b.http2_keepalive_interval(Some(ms(1)))),
        ("http2_keepalive_timeout", |b| b.http2_keepalive_timeout(Some(ms(1)))),
        ("http2_adaptive_window", |b| b.http2_adaptive_window(Some(true))),
        ("http2_max_pending_accept_reset_streams", |b| {
            b.http2_max_pending_accept_reset_streams(Some(1))
        }),
    ];
    let everywhere: [Configure; 4] = [
        |b| b.timeout(ms(1)),
        |b| b.concurrency_limit_per_connection(1),
        |b| b.load_shed(true),
        |b| b.http2_max_header_list_size(1024u32),
    ];
    let start = |configure: Configure| {
        let builder = TestServer::builder()
            .add_service(ProbeServer::new(Sleeper::new()))
            .transport(Transport::Direct);
        let start = std::panic::AssertUnwindSafe(|| drop(configure(builder).start()));
        let started = std::panic::catch_unwind(start);
        started.err().map(|payload| *payload.downcast::<String>().unwrap())
    };

    for (name, configure) in connection_only {
        let message = start(configure).expect(name);
        let expected = format!("TestServerBuilder::{name}(..) is an HTTP/2 connection setting");
        assert!(message.contains(&expected), "{message}");
    }
    for configure in everywhere {
        assert_eq!(start(configure), None);
    }
}

/// A raw connection to `addr`. Without TCP_NODELAY a small write waits for the last one's
/// acknowledgement (some 40 ms of real time), and paused tokio time jumps ahead meanwhile.
async fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// The frames each server of a pair with the given settings sends first on a new TCP
/// connection, the kit's then tonic's.
macro_rules! first_frames {
    ($($setting:tt)*) => {{
        let pair = pair!(Transport::Tcp, $($setting)*);
        let mut kit = connect(pair.server.local_addr().unwrap()).await;
        let mut tonic = connect(pair.addr).await;
        let frames = (h2wire::handshake(&mut kit).await, h2wire::handshake(&mut tonic).await);
        drop((kit, tonic)); // a connection still open would hold the shutdown for its grace period
        pair.end().await;
        frames
    }};
}

#[tokio::test]
async fn the_first_frames_over_tcp_are_a_tonic_servers_with_the_same_setting() {
    let (default, tonic_default) = first_frames!(.timeout(ms(1000)));
    let cases = [
        ("max_frame_size", first_frames!(.max_frame_size(1u32 << 20))),
        ("initial_stream_window_size", first_frames!(.initial_stream_window_size(100_000u32))),
        (
            "initial_connection_window_size",
            first_frames!(.initial_connection_window_size(2_000_000u32)),
        ),
        ("http2_adaptive_window", first_frames!(.http2_adaptive_window(Some(true)))),
        (
            "http2_adaptive_window over a window size",
            first_frames!(.initial_stream_window_size(100_000u32).http2_adaptive_window(Some(true))),
        ),
        ("max_concurrent_streams", first_frames!(.max_concurrent_streams(7u32))),
        ("http2_max_header_list_size", first_frames!(.http2_max_header_list_size(4096u32))),
    ];

    assert_eq!(default, tonic_default);
    for (setting, (kit, tonic)) in cases {
        assert_eq!(kit, tonic, "{setting}");
        assert_ne!(kit, default, "{setting} shows in the first frames");
    }
}

/// What each server of a pair with the given settings sends on a connection whose client never
/// answers, within a minute of tokio time: the kit's then tonic's.
macro_rules! unanswered {
    ($($setting:tt)*) => {{
        let pair = pair!(Transport::Tcp, $($setting)*);
        let mut kit = connect(pair.server.local_addr().unwrap()).await;
        let mut tonic = connect(pair.addr).await;
        h2wire::handshake(&mut kit).await;
        h2wire::handshake(&mut tonic).await;
        let minute = Duration::from_secs(60);
        let heard = tokio::join!(h2wire::listen(&mut kit, minute), h2wire::listen(&mut tonic, minute));
        drop((kit, tonic));
        pair.end().await;
        heard
    }};
}

#[tokio::test(start_paused = true)]
async fn keepalive_pings_and_closes_over_tcp_as_a_tonic_server_does() {
    let (interval, tonic_interval) =
        unanswered!(.http2_keepalive_interval(Some(Duration::from_secs(10))));
    let (both, tonic_both) = unanswered!(
        .http2_keepalive_interval(Some(Duration::from_secs(10)))
        .http2_keepalive_timeout(Some(Duration::from_secs(1)))
    );
    let (timeout_alone, tonic_timeout_alone) =
        unanswered!(.http2_keepalive_timeout(Some(Duration::from_secs(1))));

    assert_eq!(interval, tonic_interval);
    assert_eq!(both, tonic_both);
    assert_eq!(timeout_alone, tonic_timeout_alone);
    println!("interval alone: {interval:?}\nwith a timeout: {both:?}");
    let (frames, closed) = &interval;
    assert!(closed, "an unanswered ping closes the connection");
    assert_eq!((frames[0].0, frames[0].1.kind), (Duration::from_secs(10), h2wire::PING));
    assert_ne!(interval, both, "the timeout changes when the connection closes");
    assert_eq!(timeout_alone, (vec![], false), "no ping without an interval");
}

/// What each server of a pair with the given settings sends, within a second of tokio time, on
/// a connection whose client opens and resets five streams at once: the kit's then tonic's.
macro_rules! five_resets {
    ($($setting:tt)*) => {{
        let pair = pair!(Transport::Tcp, $($setting)*);
        let mut kit = connect(pair.server.local_addr().unwrap()).await;
        let mut tonic = connect(pair.addr).await;
        h2wire::handshake(&mut kit).await;
        h2wire::handshake(&mut tonic).await;
        h2wire::open_and_reset(&mut kit, 5).await;
        h2wire::open_and_reset(&mut tonic, 5).await;
        let second = Duration::from_secs(1);
        let heard = tokio::join!(h2wire::listen(&mut kit, second), h2wire::listen(&mut tonic, second));
        drop((kit, tonic));
        pair.end().await;
        heard
    }};
}

#[tokio::test(start_paused = true)]
async fn streams_reset_before_they_are_accepted_meet_tonics_limit_over_tcp() {
    let (default, tonic_default) = five_resets!(.timeout(ms(1000)));
    let (one, tonic_one) = five_resets!(.http2_max_pending_accept_reset_streams(Some(1)));

    assert_eq!(default, tonic_default);
    assert_eq!(one, tonic_one);
    assert_eq!(default, (vec![], false), "h2's default allows 20");
    let (frames, closed) = one;
    // GOAWAY: the last stream id, then the error code ENHANCE_YOUR_CALM.
    let goaway = &frames.last().expect("a GOAWAY").1;
    assert_eq!(
        (goaway.kind, &goaway.payload[4..8], closed),
        (h2wire::GOAWAY, &[0, 0, 0, 0xb][..], true)
    );
}
