//! [`TestServer`]: an in-process gRPC server for one test, and its builder.

use std::{fmt, future::Future, net::SocketAddr, panic::Location, sync::Arc, time::Duration};

use http::Uri;
use tonic::transport::Endpoint;

use crate::{
    HandlerPanic, Stub, TestChannel, TestServerBuilder, Transport,
    journal::Call,
    method::check_method_path,
    panic::report,
    shared::Shared,
    transports::{Security, direct::DirectChannel, endpoint, memory, tcp},
};

/// How long [`TestServer::shutdown`] lets calls finish before it aborts them, unless
/// [`TestServerBuilder::grace_period`] says otherwise.
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(1);

/// The endpoint a direct channel stands for: that of the memory transport.
const DIRECT_ENDPOINT: &str = "http://localhost";

/// The panic of a second `shutdown()`.
const SHUTDOWN_TWICE: &str = "TestServer::shutdown() was called twice; the server was already \
     shut down by the first call. Call it once, at the end of the test (dropping the server also \
     shuts it down).";

/// A running in-process gRPC server: the guard a test holds while it makes calls.
///
/// Start one with [`TestServer::builder`], get clients with [`client`](TestServer::client) or
/// [`channel`](TestServer::channel), and end it with [`shutdown`](TestServer::shutdown) (or by
/// dropping it). The server runs its tasks on the test's runtime, so
/// `#[tokio::test(start_paused = true)]` governs its timers too.
///
/// What the guard promises:
///
/// - **Ready at once.** The first call never fails because the server is not up yet.
/// - **No lost panics.** A panic in a handler, layer or response stream fails the test: over
///   [`Memory`](Transport::Memory) and [`Tcp`](Transport::Tcp) the call is answered `INTERNAL`
///   with the panic text and the test panics at `shutdown().await` or drop, listing every panic;
///   over [`Direct`](Transport::Direct) it unwinds into the test where it happened.
/// - **Services are dropped in the test's task** after the server's tasks have ended, so a
///   mockall mock with unmet expectations fails the test over every transport.
/// - **Bounded teardown.** `shutdown().await` waits at most the grace period for calls to finish,
///   then aborts them; no task of the server outlives it.
///
/// # Examples
///
/// ```
/// use tonic::Code;
/// use tonic_testkit::TestServer;
/// use tonic_testkit_support::{Probe, ProbeClient, ProbeRequest};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// // Arrange
/// let server = TestServer::builder().add_service(Probe::new().server()).start().await;
/// let mut client = server.client(ProbeClient::new);
///
/// // Act
/// let reply = client.unary(ProbeRequest { text: "hi".into(), count: 0 }).await.unwrap();
///
/// // Assert
/// assert_eq!(reply.into_inner().text, "hi");
/// server.shutdown().await;
/// # }
/// ```
#[must_use = "the server shuts down when this guard is dropped: keep it in a variable for as long \
              as the test makes calls"]
pub struct TestServer {
    shared: Arc<Shared>,
    transport: Transport,
    local_addr: Option<SocketAddr>,
    services: Vec<&'static str>,
    grace_period: Duration,
    stub: Option<Stub>,
    finished: std::sync::atomic::AtomicBool,
    /// The health service's handle, which [`health`](TestServer::health) lends out: it shares
    /// its statuses with the health service the server runs, so it lives as long as the server.
    #[cfg(feature = "health")]
    standard: crate::standard::Running,
}

impl TestServer {
    pub(crate) fn new(
        shared: Arc<Shared>,
        transport: Transport,
        local_addr: Option<SocketAddr>,
        services: Vec<&'static str>,
        grace_period: Duration,
        stub: Option<Stub>,
        standard: crate::standard::Running,
    ) -> Self {
        let finished = std::sync::atomic::AtomicBool::new(false);
        // Without `health` the standard services leave nothing to keep: reflection's service
        // lives in the routes. A field added to `Running` must be kept here too.
        #[cfg(not(feature = "health"))]
        let crate::standard::Running {} = standard;
        Self {
            shared,
            transport,
            local_addr,
            services,
            grace_period,
            stub,
            finished,
            #[cfg(feature = "health")]
            standard,
        }
    }

    /// A builder for a server: add services and layers, choose a transport, then `start()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::{TestServer, Transport};
    /// use tonic_testkit_support::Probe;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server = TestServer::builder()
    ///     .add_service(Probe::new().server())
    ///     .transport(Transport::Tcp)
    ///     .start()
    ///     .await;
    /// assert_eq!(server.transport(), Transport::Tcp);
    /// # }
    /// ```
    pub fn builder() -> TestServerBuilder {
        TestServerBuilder::new()
    }

    /// The transport this server is reached over.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// A new channel to this server, with its own connection.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_support::{Probe, ProbeClient, ProbeRequest};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server = TestServer::builder().add_service(Probe::new().server()).start().await;
    /// let mut client = ProbeClient::new(server.channel()).max_decoding_message_size(1024);
    ///
    /// let reply = client.unary(ProbeRequest { text: "ok".into(), count: 0 }).await.unwrap();
    ///
    /// assert_eq!(reply.into_inner().text, "ok");
    /// # }
    /// ```
    pub fn channel(&self) -> TestChannel {
        if self.transport == Transport::Direct {
            return TestChannel::direct(DirectChannel::new(&self.shared), &self.shared);
        }
        self.wire_channel(&self.security(), std::convert::identity)
            .expect("the kit's own TLS configuration is valid for tonic")
    }

    /// A new channel to this server, with its own connection, built from a tonic [`Endpoint`]
    /// that `configure` sets up as the production code sets up its own:
    /// `server.channel_with(|endpoint| endpoint.user_agent("orders-app/2.1").unwrap())`.
    ///
    /// `configure` receives the endpoint [`channel`](Self::channel) uses (its URI is
    /// `http://localhost` in memory and over Direct, `http://127.0.0.1:PORT` over TCP, and
    /// `https://` with a TLS configuration that trusts the server's CA for a
    /// [`tls`](TestServerBuilder::tls) or [`mtls`](TestServerBuilder::mtls) server), so
    /// `channel_with(|endpoint| endpoint)` is `channel()`. The endpoint it returns is connected
    /// with the kit's own connector, to this server.
    ///
    /// Over [`Memory`](Transport::Memory) and [`Tcp`](Transport::Tcp) the channel is tonic's
    /// own, built from that endpoint, so its settings act as they do in production. Over
    /// [`Direct`](Transport::Direct) there is no tonic channel, and the settings that change what
    /// the server sees act as a tonic channel makes them act; the others have no connection to
    /// shape:
    ///
    /// | `Endpoint` setting | Memory, Tcp (with or without TLS) | Direct |
    /// |--------------------|-----------------------------------|--------|
    /// | `user_agent` | sent after the one a request carries, then tonic's own | the same |
    /// | `origin` | the scheme and authority of every request's URI | the same |
    /// | `timeout` | the client gives up on a call whose response headers have not come within it (or within the request's deadline, if shorter) with `CANCELLED "Timeout expired"`; the server is not told, and sees the call cancelled | the same |
    /// | `concurrency_limit`, `rate_limit`, `buffer_size`, `connect_timeout` | as in production | no effect |
    /// | `http2_keep_alive_interval`, `keep_alive_timeout`, `keep_alive_while_idle`, `initial_stream_window_size`, `initial_connection_window_size`, `http2_adaptive_window`, `max_frame_size`, `http2_header_table_size`, `http2_max_header_list_size`, and the reset-stream settings | as in production | no effect |
    /// | `tls_config` | replaces the kit's, as [`channel_with_tls`](Self::channel_with_tls) does (trusting another CA, the channel is refused) | no effect |
    /// | `tcp_nodelay`, `tcp_keepalive*`, `local_address` | no effect: they configure tonic's own TCP connector, which the kit's replaces (with TCP_NODELAY on) | no effect |
    ///
    /// An endpoint whose channel fails every call (an `origin` without a scheme) fails every
    /// call, over every transport, with the status tonic's client gives. tonic's `Endpoint` has
    /// no getters for the settings Direct applies, so there the kit reads them by sending a
    /// request through a tonic channel built from the endpoint, on an in-memory pipe and a
    /// paused clock of its own, once per `channel_with` (0.4 ms in a release build, 2 ms in a
    /// debug one); a timeout is read to the millisecond, and one longer than a year is read as
    /// none.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use tonic::Code;
    /// use tonic_testkit::{TestServer, assert_status};
    /// use tonic_testkit_support::{Probe, ProbeClient, ProbeRequest};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// // Arrange: a channel set up as the production code sets up its own.
    /// let server = TestServer::builder().add_service(Probe::new().server()).start().await;
    /// let channel = server.channel_with(|endpoint| {
    ///     endpoint.user_agent("orders-app/2.1").unwrap().timeout(Duration::from_millis(50))
    /// });
    /// let mut client = ProbeClient::new(channel);
    ///
    /// // Act: the probe answers with the user agent it got, then sleeps past the timeout.
    /// let agent = client.unary(ProbeRequest { text: "meta:user-agent".into(), count: 0 }).await;
    /// let slow = client.unary(ProbeRequest { text: "sleep:100".into(), count: 0 }).await;
    ///
    /// // Assert
    /// assert_eq!(agent.unwrap().into_inner().text, "orders-app/2.1 tonic/0.14.9");
    /// assert_status!(slow, Code::Cancelled, "Timeout expired");
    /// # }
    /// ```
    pub fn channel_with(&self, configure: impl FnOnce(Endpoint) -> Endpoint) -> TestChannel {
        if self.transport == Transport::Direct {
            let endpoint = Endpoint::from_static(DIRECT_ENDPOINT);
            let channel =
                DirectChannel::with_settings(&self.shared, endpoint::read(configure(endpoint)));
            return TestChannel::direct(channel, &self.shared);
        }
        self.wire_channel(&self.security(), configure)
            .expect("the kit's own TLS configuration is valid for tonic")
    }

    /// How the server's own channels connect: in the clear, or trusting the server's CA.
    fn security(&self) -> Security {
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.shared.tls {
            return Security::tls(tls.client_tls_config());
        }
        Security::default()
    }

    /// A channel over this server's memory or TCP transport, secured as `security` says.
    pub(crate) fn wire_channel(
        &self,
        security: &Security,
        configure: impl FnOnce(Endpoint) -> Endpoint,
    ) -> Result<TestChannel, tonic::transport::Error> {
        let channel = match self.local_addr {
            Some(addr) => tcp::channel(&self.shared, addr, security, configure)?,
            None => memory::channel(&self.shared, security, configure)?,
        };
        Ok(TestChannel::wire(channel, &self.shared))
    }

    /// The server's shared state.
    #[cfg(any(feature = "tls", feature = "fuzz"))]
    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// The server's shared state, for the crate's unit tests.
    #[cfg(test)]
    pub(crate) fn shared_for_tests(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// A ready typed client on a new channel: pass the generated client's `new`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_support::{Probe, ProbeClient, ProbeRequest};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server = TestServer::builder().add_service(Probe::new().server()).start().await;
    /// let mut client = server.client(ProbeClient::new);
    ///
    /// let reply = client.unary(ProbeRequest { text: "ok".into(), count: 0 }).await.unwrap();
    ///
    /// assert_eq!(reply.into_inner().text, "ok");
    /// # }
    /// ```
    pub fn client<C>(&self, new_client: impl FnOnce(TestChannel) -> C) -> C {
        new_client(self.channel())
    }

    /// The address the server listens on: `Some` over [`Transport::Tcp`], `None` otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::{TestServer, Transport};
    /// use tonic_testkit_support::Probe;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server = TestServer::builder()
    ///     .add_service(Probe::new().server())
    ///     .transport(Transport::Tcp)
    ///     .start()
    ///     .await;
    /// let addr = server.local_addr().unwrap();
    /// assert!(addr.ip().is_loopback());
    /// assert_ne!(addr.port(), 0);
    /// # }
    /// ```
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// An `http://127.0.0.1:PORT` URI that a client outside the kit (another process, a plain
    /// tonic `Endpoint`) can use: `Some` over [`Transport::Tcp`], `None` otherwise. For a server
    /// started with [`tls`](TestServerBuilder::tls) or [`mtls`](TestServerBuilder::mtls) it is
    /// `https://127.0.0.1:PORT` (the server's certificate is valid for `127.0.0.1`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::{TestServer, Transport};
    /// use tonic_testkit_support::{Probe, ProbeClient, ProbeRequest};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server = TestServer::builder()
    ///     .add_service(Probe::new().server())
    ///     .transport(Transport::Tcp)
    ///     .start()
    ///     .await;
    /// let uri = server.uri().unwrap();
    /// let mut client = ProbeClient::connect(uri.to_string()).await.unwrap();
    ///
    /// let reply = client.unary(ProbeRequest { text: "outside".into(), count: 0 }).await.unwrap();
    ///
    /// assert_eq!(reply.into_inner().text, "outside");
    /// # }
    /// ```
    pub fn uri(&self) -> Option<Uri> {
        let addr = self.local_addr?;
        #[cfg(feature = "tls")]
        let scheme = if self.shared.tls.is_some() { "https" } else { "http" };
        #[cfg(not(feature = "tls"))]
        let scheme = "http";
        Some(format!("{scheme}://{addr}").parse().expect("a URI built from a SocketAddr"))
    }

    /// The health this server reports over `grpc.health.v1.Health`, for the test to flip:
    /// `server.health().set_not_serving("users.UserService").await`. See
    /// [`Health`](crate::Health) for an example.
    ///
    /// # Panics
    ///
    /// When the server was started without [`TestServerBuilder::health`].
    #[cfg(feature = "health")]
    #[cfg_attr(docsrs, doc(cfg(feature = "health")))]
    #[track_caller]
    pub fn health(&self) -> &crate::Health {
        match &self.standard.health {
            Some(health) => health,
            None => panic!(
                "TestServer::health(): this server has no health service; start it with \
                 TestServer::builder().health() (feature `health`) to serve grpc.health.v1.Health"
            ),
        }
    }

    /// Cuts every open connection to this server, as a crashed peer or a broken network would,
    /// and returns how many were open. Calls in progress on them fail on the client side with a
    /// transport error; channels reconnect on their next call, so the server stays usable.
    /// Over [`Transport::Direct`] there are no connections and this returns 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::{TestServer, Transport};
    /// use tonic_testkit_support::{Probe, ProbeClient, ProbeRequest};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server = TestServer::builder()
    ///     .transport(Transport::Memory)
    ///     .add_service(Probe::new().server())
    ///     .start()
    ///     .await;
    /// let mut client = server.client(ProbeClient::new);
    /// client.unary(ProbeRequest::default()).await.unwrap();
    ///
    /// assert_eq!(server.drop_connections(), 1);
    /// # }
    /// ```
    pub fn drop_connections(&self) -> usize {
        self.shared.drop_connections()
    }

    /// Every call the server has seen so far, oldest first, on every transport: method,
    /// metadata, request messages, status, response count and duration. See [`Call`].
    pub fn calls(&self) -> Vec<Call> {
        self.shared.journal.calls()
    }

    /// The calls to one method (a full `/package.Service/Method` path), oldest first.
    ///
    /// # Panics
    ///
    /// When `method` is not a `/package.Service/Method` path.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_support::{Probe, ProbeClient, ProbeRequest};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server = TestServer::builder().add_service(Probe::new().server()).start().await;
    /// let mut client = server.client(ProbeClient::new);
    ///
    /// let mut request = tonic::Request::new(ProbeRequest { text: "a".into(), count: 0 });
    /// request.metadata_mut().insert("x-tenant", "acme".parse().unwrap());
    /// client.unary(request).await.unwrap();
    ///
    /// let calls = server.calls_to("/probe.Probe/Unary");
    /// assert_eq!(calls.len(), 1);
    /// assert_eq!(calls[0].metadata().get("x-tenant").unwrap(), "acme");
    /// assert!(server.calls_to("/probe.Probe/Bidi").is_empty());
    /// # }
    /// ```
    #[track_caller]
    pub fn calls_to(&self, method: &str) -> Vec<Call> {
        check_method_path(method, "TestServer::calls_to");
        self.calls().into_iter().filter(|call| call.method() == method).collect()
    }

    /// Waits until `n` calls have ended, however they ended, and gives every call that has,
    /// oldest first: grpcio's `rpc.termination()`, for calls the test does not await itself
    /// (made in a task of their own, or by the code under test). The journal wakes the wait as
    /// each call ends; nothing polls. A call has ended once the server sent its status, or its
    /// client went away, or its deadline passed before its answer.
    ///
    /// A wait that does not end fails the test, after [`DEFAULT_WAIT_TIMEOUT`](crate::DEFAULT_WAIT_TIMEOUT)
    /// of tokio time unless [`WaitForCalls::timeout`](crate::WaitForCalls::timeout) says
    /// otherwise, with the calls the server saw, those still running marked.
    ///
    /// # Panics
    ///
    /// When the wait times out, and at once when the journal keeps fewer than `n` calls
    /// ([`TestServerBuilder::journal_limit`]): only the calls it keeps are counted.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_support::{Probe, ProbeClient, ProbeReply, ProbeRequest};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// // Arrange
    /// let server = TestServer::builder().add_service(Probe::new().server()).start().await;
    /// let mut client = server.client(ProbeClient::new);
    ///
    /// // Act: the call runs in a task of its own, as code under test may make it.
    /// let slow = ProbeRequest { text: "sleep:100".into(), count: 0 };
    /// tokio::spawn(async move { client.unary(slow).await });
    ///
    /// // Assert
    /// let calls = server.wait_for_ended_calls(1).await;
    /// assert_eq!(calls[0].response::<ProbeReply>(0).text, "slept 100 ms");
    /// # }
    /// ```
    #[track_caller]
    pub fn wait_for_ended_calls(&self, n: usize) -> crate::WaitForCalls {
        crate::WaitForCalls::new(&self.shared.journal, crate::journal::Wait::Ended, n)
    }

    /// Waits until `n` calls have been cancelled by their client (it dropped the call before
    /// it ended), and gives every call that was, oldest first: grpcio's `rpc.cancelled()`. The
    /// journal records such a call as `CANCELLED "the call was cancelled before it ended (the
    /// client went away)"`, on every transport, once the server has dropped the handler's
    /// future or stream: when the wait returns, what the handler does as it is dropped is
    /// done. Bounded as [`wait_for_ended_calls`](Self::wait_for_ended_calls) is.
    ///
    /// Over HTTP/2 (memory, TCP) a bidi call whose response stream the client dropped goes on
    /// while its request stream is open (hyper's client resets the stream only once both are
    /// gone); over Direct, dropping the response stream cancels it.
    ///
    /// # Panics
    ///
    /// As [`wait_for_ended_calls`](Self::wait_for_ended_calls).
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_support::{Probe, ProbeClient, ProbeRequest};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// // Arrange: a call the probe never answers.
    /// let probe = Probe::new();
    /// let server = TestServer::builder().add_service(probe.server()).start().await;
    /// let mut client = server.client(ProbeClient::new);
    /// let hang = ProbeRequest { text: "hang".into(), count: 0 };
    /// let call = tokio::spawn(async move { client.unary(hang).await });
    /// probe.hangs_started(1).await;
    ///
    /// // Act: the client goes away.
    /// call.abort();
    ///
    /// // Assert: the server saw it go, and dropped the handler.
    /// let cancelled = server.wait_for_cancelled_calls(1).await;
    /// assert_eq!(cancelled[0].method(), "/probe.Probe/Unary");
    /// assert_eq!(probe.dropped_hangs(), 1);
    /// # }
    /// ```
    #[track_caller]
    pub fn wait_for_cancelled_calls(&self, n: usize) -> crate::WaitForCalls {
        crate::WaitForCalls::new(&self.shared.journal, crate::journal::Wait::Cancelled, n)
    }

    /// Takes the panics the server has caught so far, so a test that provokes one on purpose can
    /// assert on it; the server will not report them again at shutdown.
    ///
    /// See [`HandlerPanic`] for an example.
    pub fn take_panics(&self) -> Vec<HandlerPanic> {
        self.shared.take_panics()
    }

    /// The names of the services added with `add_service`.
    #[cfg(feature = "fuzz")]
    pub(crate) fn service_names(&self) -> &[&'static str] {
        &self.services
    }

    /// Shuts the server down and drops its services in this task.
    ///
    /// New connections and calls are refused at once. Calls in progress get the grace period
    /// ([`DEFAULT_GRACE_PERIOD`] unless [`TestServerBuilder::grace_period`] set one) to finish;
    /// whatever still runs then (a stuck handler, an open bidi stream) is aborted, and its
    /// client sees what it would see if a real server died: `UNKNOWN "transport error"` before
    /// the response, `UNKNOWN "h2 protocol error: error reading a body from connection"` in the
    /// middle of a response stream. Direct calls get the same grace and the same statuses. When
    /// this returns, no task of the server is left, and the services have been dropped here, so a
    /// mock's unmet expectations panic in the test: the copies that calls held were dropped as
    /// the calls ended, a mock's panic there caught and reported with the rest.
    ///
    /// It returns within the grace period and a quarter of a second more, wherever it is called
    /// from and whatever the runtimes do, with one exception: a handler that blocks its thread
    /// (a `std::thread::sleep`, a blocking lock) holds `shutdown()` for as long as it blocks,
    /// since the services it holds cannot be dropped before its poll returns. A task that
    /// nothing polls any more (its runtime is not running, as when a server started on a
    /// `current_thread` runtime is shut down from another one) is given up on after that
    /// quarter of a second, with whatever it holds.
    ///
    /// Calls made afterwards, through any channel of this server, fail with `UNAVAILABLE` and a
    /// message saying the server was shut down.
    ///
    /// # Panics
    ///
    /// - when the server caught panics that the test did not [take](TestServer::take_panics):
    ///   the message lists each one;
    /// - when a service panicked as it was dropped (a mock's unmet expectation): the message
    ///   carries the mock's own;
    /// - when called a second time.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic::Code;
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_support::{Probe, ProbeClient, ProbeRequest};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server = TestServer::builder().add_service(Probe::new().server()).start().await;
    /// let mut client = server.client(ProbeClient::new);
    ///
    /// server.shutdown().await;
    ///
    /// let status = client.unary(ProbeRequest::default()).await.unwrap_err();
    /// assert_eq!(status.code(), Code::Unavailable);
    /// assert!(status.message().contains("the test server was shut down"));
    /// # }
    /// ```
    #[track_caller]
    pub fn shutdown(&self) -> impl Future<Output = ()> + Send + '_ {
        // Checked here, in a plain function, so that the panic points at the test's line.
        if self.shared.is_closed() {
            panic!("{SHUTDOWN_TWICE}");
        }
        let location = Location::caller();
        async move {
            if !self.shared.close() {
                panic!("{SHUTDOWN_TWICE} (the second call: {location})");
            }
            // A task past the grace period is aborted; aborted tasks end at their next poll.
            // With nothing running, no timer is set.
            if !self.shared.calls_done() {
                let _ = tokio::time::timeout(self.grace_period, self.shared.calls_ended()).await;
            }
            self.shared.seal_and_abort();
            self.shared.settle().await;
            self.finish();
        }
    }

    /// Checks, at this line of the test, what the server has seen so far, and fails the test
    /// if anything is wrong:
    ///
    /// - panics the server caught (handler panics, a mock's "No matching expectation found");
    /// - calls that no rule of the [`Stub`] answered;
    /// - [`Stub`] rules whose `times(n)` is not met yet.
    ///
    /// The message lists the calls the server saw and names this line. Panics and unexpected
    /// calls it reports are not reported again at shutdown. Every step of the server's
    /// bookkeeping for a call happens before its client gets the answer, so a call the test has
    /// awaited is always counted.
    ///
    /// A mockall mock's own `times(n)` is checked when the mock is dropped, which the server does
    /// at [`shutdown`](TestServer::shutdown): await that at the line where the counts must hold.
    ///
    /// # Panics
    ///
    /// When any of the above is found.
    ///
    /// # Examples
    ///
    /// ```should_panic
    /// use tonic_testkit::{Reply, Stub, TestServer};
    /// use tonic_testkit_support::ProbeReply;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let stub = Stub::new();
    /// stub.on("/probe.Probe/Unary").times(1).reply(Reply::message(ProbeReply::default()));
    /// let server = TestServer::builder().add_stub(&stub).start().await;
    ///
    /// // No call was made: "... answered 0 of the 1 calls it expects".
    /// server.verify().await;
    /// # }
    /// ```
    #[track_caller]
    pub fn verify(&self) -> impl Future<Output = ()> + Send + '_ {
        let location = Location::caller();
        async move {
            if let Some(problems) = self.problems() {
                panic!("{problems}\nChecked by server.verify() at {location}.");
            }
        }
    }

    /// The report of what the server caught and the stub found, with the journal.
    fn problems(&self) -> Option<String> {
        let panics = self.shared.take_panics();
        let stub = self.stub.as_ref().map(Stub::problems).unwrap_or_default();
        let mut parts = Vec::new();
        if !panics.is_empty() {
            parts.push(report(&panics));
        }
        if !stub.is_empty() {
            parts.push(crate::stub::report(&stub));
        }
        if parts.is_empty() {
            return None;
        }
        parts.push(self.shared.journal.describe());
        Some(parts.join("\n"))
    }

    /// Drops the services here and fails the test with what the server caught.
    fn finish(&self) {
        self.finished.store(true, std::sync::atomic::Ordering::Release);
        self.shared.release_services();
        if let Some(problems) = self.problems()
            && !std::thread::panicking()
        {
            panic!("{problems}");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // Also reached when a `shutdown()` was cancelled part-way (a timeout around it).
        if !self.finished.load(std::sync::atomic::Ordering::Acquire) {
            self.shared.close();
            self.shared.seal_and_abort();
            self.finish();
        }
    }
}

impl TestServer {
    /// What TLS the server serves, for its `Debug` output.
    fn tls_name(&self) -> &'static str {
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.shared.tls {
            return if tls.is_mutual() { "mtls" } else { "tls" };
        }
        "none"
    }
}

impl fmt::Debug for TestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestServer")
            .field("transport", &self.transport)
            .field("local_addr", &self.local_addr)
            .field("services", &self.services)
            .field("grace_period", &self.grace_period)
            .field("tls", &self.tls_name())
            .finish()
    }
}
