//! [`TestServer`]: an in-process gRPC server for one test, and its builder.

use std::{fmt, net::SocketAddr, sync::Arc, time::Duration};

use http::Uri;
use tonic::transport::Endpoint;

use crate::{
    Stub, TestChannel, TestServerBuilder, Transport,
    engine::panic::report,
    engine::shared::Shared,
    transport::{Security, direct::DirectChannel, endpoint, memory, tcp},
};

/// How long [`TestServer::shutdown`] lets calls finish before it aborts them, unless
/// [`TestServerBuilder::grace_period`] says otherwise.
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(1);

/// The endpoint a direct channel stands for: that of the memory transport.
const DIRECT_ENDPOINT: &str = "http://localhost";

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
/// use tonic_testkit::TestServer;
/// use tonic_testkit_examples::hello::Greeter;
/// use tonic_testkit_examples::hello::pb::{
///     HelloRequest, hello_service_client::HelloServiceClient,
///     hello_service_server::HelloServiceServer,
/// };
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// // Arrange
/// let server =
///     TestServer::builder().add_service(HelloServiceServer::new(Greeter)).start().await;
/// let mut client = server.client(HelloServiceClient::new);
///
/// // Act
/// let reply = client.hello(HelloRequest { greeting: "hi".into() }).await.unwrap();
///
/// // Assert
/// assert_eq!(reply.into_inner().reply, "Hello, hi!");
/// server.shutdown().await;
/// # }
/// ```
#[must_use = "the server shuts down when this guard is dropped: keep it in a variable for as long \
              as the test makes calls"]
pub struct TestServer {
    pub(super) shared: Arc<Shared>,
    pub(super) transport: Transport,
    pub(super) local_addr: Option<SocketAddr>,
    pub(super) services: Vec<&'static str>,
    pub(super) grace_period: Duration,
    pub(super) stub: Option<Stub>,
    pub(super) finished: std::sync::atomic::AtomicBool,
    /// The health service's handle, which [`health`](TestServer::health) lends out: it shares
    /// its statuses with the health service the server runs, so it lives as long as the server.
    #[cfg(feature = "health")]
    pub(super) standard: crate::server::standard::Running,
}

impl TestServer {
    pub(crate) fn new(
        shared: Arc<Shared>,
        transport: Transport,
        local_addr: Option<SocketAddr>,
        services: Vec<&'static str>,
        grace_period: Duration,
        stub: Option<Stub>,
        standard: crate::server::standard::Running,
    ) -> Self {
        let finished = std::sync::atomic::AtomicBool::new(false);
        // Without `health` the standard services leave nothing to keep: reflection's service
        // lives in the routes. A field added to `Running` must be kept here too.
        #[cfg(not(feature = "health"))]
        let crate::server::standard::Running {} = standard;
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
    /// use tonic_testkit_examples::hello::Greeter;
    /// use tonic_testkit_examples::hello::pb::hello_service_server::HelloServiceServer;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server = TestServer::builder()
    ///     .add_service(HelloServiceServer::new(Greeter))
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
    /// use tonic_testkit_examples::hello::Greeter;
    /// use tonic_testkit_examples::hello::pb::{
    ///     HelloRequest, hello_service_client::HelloServiceClient,
    ///     hello_service_server::HelloServiceServer,
    /// };
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server =
    ///     TestServer::builder().add_service(HelloServiceServer::new(Greeter)).start().await;
    /// let mut client = HelloServiceClient::new(server.channel()).max_decoding_message_size(1024);
    ///
    /// let reply = client.hello(HelloRequest { greeting: "ok".into() }).await.unwrap();
    ///
    /// assert_eq!(reply.into_inner().reply, "Hello, ok!");
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
    /// use tonic_testkit::{Faults, TestServer, assert_status};
    /// use tonic_testkit_examples::hello::Greeter;
    /// use tonic_testkit_examples::hello::pb::{
    ///     HelloRequest, hello_service_client::HelloServiceClient,
    ///     hello_service_server::HelloServiceServer,
    /// };
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// // Arrange: a channel set up as the production code sets up its own, and a slow call.
    /// let faults = Faults::new();
    /// let server = TestServer::builder()
    ///     .add_service(HelloServiceServer::new(Greeter))
    ///     .faults(&faults)
    ///     .start()
    ///     .await;
    /// let channel = server.channel_with(|endpoint| {
    ///     endpoint.user_agent("orders-app/2.1").unwrap().timeout(Duration::from_millis(50))
    /// });
    /// let mut client = HelloServiceClient::new(channel);
    ///
    /// // Act: a first call, then one the server holds past the channel's timeout.
    /// client.hello(HelloRequest { greeting: "Ada".into() }).await.unwrap();
    /// faults.on("/hello.HelloService/Hello").delay(Duration::from_millis(100));
    /// let slow = client.hello(HelloRequest { greeting: "Ada".into() }).await;
    ///
    /// // Assert
    /// let first = &server.calls()[0];
    /// assert_eq!(first.metadata().get("user-agent").unwrap(), "orders-app/2.1 tonic/0.14.9");
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

    /// The names of the services added with `add_service`.
    #[cfg(feature = "fuzz")]
    pub(crate) fn service_names(&self) -> &[&'static str] {
        &self.services
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
    /// use tonic_testkit_examples::hello::Greeter;
    /// use tonic_testkit_examples::hello::pb::{
    ///     HelloRequest, hello_service_client::HelloServiceClient,
    ///     hello_service_server::HelloServiceServer,
    /// };
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server =
    ///     TestServer::builder().add_service(HelloServiceServer::new(Greeter)).start().await;
    /// let mut client = server.client(HelloServiceClient::new);
    ///
    /// let reply = client.hello(HelloRequest { greeting: "ok".into() }).await.unwrap();
    ///
    /// assert_eq!(reply.into_inner().reply, "Hello, ok!");
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
    /// use tonic_testkit_examples::hello::Greeter;
    /// use tonic_testkit_examples::hello::pb::hello_service_server::HelloServiceServer;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server = TestServer::builder()
    ///     .add_service(HelloServiceServer::new(Greeter))
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
    /// use tonic_testkit_examples::hello::Greeter;
    /// use tonic_testkit_examples::hello::pb::{
    ///     HelloRequest, hello_service_client::HelloServiceClient,
    ///     hello_service_server::HelloServiceServer,
    /// };
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server = TestServer::builder()
    ///     .add_service(HelloServiceServer::new(Greeter))
    ///     .transport(Transport::Tcp)
    ///     .start()
    ///     .await;
    /// let uri = server.uri().unwrap();
    /// let mut client = HelloServiceClient::connect(uri.to_string()).await.unwrap();
    ///
    /// let reply = client.hello(HelloRequest { greeting: "outside".into() }).await.unwrap();
    ///
    /// assert_eq!(reply.into_inner().reply, "Hello, outside!");
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

    /// Cuts every open connection to this server, as a crashed peer or a broken network would,
    /// and returns how many were open. Calls in progress on them fail on the client side with a
    /// transport error; channels reconnect on their next call, so the server stays usable.
    /// Over [`Transport::Direct`] there are no connections and this returns 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::{TestServer, Transport};
    /// use tonic_testkit_examples::hello::Greeter;
    /// use tonic_testkit_examples::hello::pb::{
    ///     HelloRequest, hello_service_client::HelloServiceClient,
    ///     hello_service_server::HelloServiceServer,
    /// };
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server = TestServer::builder()
    ///     .transport(Transport::Memory)
    ///     .add_service(HelloServiceServer::new(Greeter))
    ///     .start()
    ///     .await;
    /// let mut client = server.client(HelloServiceClient::new);
    /// client.hello(HelloRequest { greeting: "Ada".into() }).await.unwrap();
    ///
    /// assert_eq!(server.drop_connections(), 1);
    /// # }
    /// ```
    pub fn drop_connections(&self) -> usize {
        self.shared.connections.drop_all()
    }

    /// The report of what the server caught and the stub found, with the journal.
    pub(super) fn problems(&self) -> Option<String> {
        let panics = self.shared.panics.take();
        let stub = self.stub.as_ref().map(Stub::problems).unwrap_or_default();
        let mut parts = Vec::new();
        if !panics.is_empty() {
            parts.push(report(&panics));
        }
        if !stub.is_empty() {
            parts.push(crate::mock::report(&stub));
        }
        if parts.is_empty() {
            return None;
        }
        parts.push(self.shared.journal.describe());
        Some(parts.join("\n"))
    }

    /// Drops the services here and fails the test with what the server caught.
    pub(super) fn finish(&self) {
        self.finished.store(true, std::sync::atomic::Ordering::Release);
        self.shared.release_services();
        if let Some(problems) = self.problems()
            && !std::thread::panicking()
        {
            panic!("{problems}");
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
