//! tonic's HTTP/2 connection settings on [`TestServerBuilder`], and the check that refuses them
//! over [`Transport::Direct`], which has no connection.

use std::time::Duration;

use crate::engine::settings::Settings;
use crate::{TestServerBuilder, Transport, server::TRANSPORT_ENV};

impl Settings {
    /// Panics when a connection-only setting was given and the transport has no connections
    /// (`from_env`: the transport is the default the environment chose).
    #[track_caller]
    pub(crate) fn check_transport(&self, transport: Transport, from_env: bool) {
        let given = self.connection_only();
        if transport != Transport::Direct || given.is_empty() {
            return;
        }
        let chosen = match from_env {
            true => format!(" (the default that {TRANSPORT_ENV}=direct chose)"),
            false => String::new(),
        };
        let calls: Vec<String> = given.iter().map(|name| format!("{name}(..)")).collect();
        let (what, they) = match calls.len() {
            1 => ("is an HTTP/2 connection setting", "It applies"),
            _ => ("are HTTP/2 connection settings", "They apply"),
        };
        panic!(
            "tonic-testkit: TestServerBuilder::{} {what}, and this server's transport is \
             Transport::Direct{chosen}, which has no connection: its calls are function calls in \
             the test's task. {they} over Transport::Memory and Transport::Tcp: \
             .transport(Transport::Memory).{}",
            calls.join(" and "),
            calls.join("."),
        );
    }
}

/// The settings of an HTTP/2 connection, with `tonic::transport::Server`'s names, signatures and
/// meanings: they apply over [`Transport::Memory`] and [`Transport::Tcp`], and a server given one
/// panics at start over [`Transport::Direct`].
impl<L> TestServerBuilder<L> {
    /// Sets the `SETTINGS_INITIAL_WINDOW_SIZE` option for HTTP2 stream-level flow control, as
    /// `tonic::transport::Server::initial_stream_window_size` does (default: hyper's, 1 MiB).
    /// A connection setting: over [`Transport::Memory`] and [`Transport::Tcp`] only.
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
    ///     .transport(Transport::Memory)
    ///     .initial_stream_window_size(65_535)
    ///     .initial_connection_window_size(65_535)
    ///     .start()
    ///     .await;
    /// let mut client = server.client(HelloServiceClient::new);
    ///
    /// let big = "x".repeat(200_000); // more than one window: the client waits for updates
    /// let reply = client.hello(HelloRequest { greeting: big.clone() }).await.unwrap();
    ///
    /// assert_eq!(reply.into_inner().reply, format!("Hello, {big}!"));
    /// # }
    /// ```
    pub fn initial_stream_window_size(mut self, sz: impl Into<Option<u32>>) -> Self {
        self.settings.initial_stream_window_size = sz.into();
        self
    }

    /// Sets the max connection-level flow control for HTTP2, as
    /// `tonic::transport::Server::initial_connection_window_size` does (default: hyper's,
    /// 1 MiB). A connection setting: over [`Transport::Memory`] and [`Transport::Tcp`] only.
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
    ///     .initial_connection_window_size(4 << 20)
    ///     .start()
    ///     .await;
    /// let mut client = server.client(HelloServiceClient::new);
    ///
    /// assert!(client.hello(HelloRequest { greeting: "Ada".into() }).await.is_ok());
    /// # }
    /// ```
    pub fn initial_connection_window_size(mut self, sz: impl Into<Option<u32>>) -> Self {
        self.settings.initial_connection_window_size = sz.into();
        self
    }

    /// Sets the `SETTINGS_MAX_CONCURRENT_STREAMS` option for HTTP2 connections, as
    /// `tonic::transport::Server::max_concurrent_streams` does (default: no limit): a client
    /// opens no more streams than that on one connection, and queues the calls past it. A
    /// connection setting: over [`Transport::Memory`] and [`Transport::Tcp`] only.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use tonic_testkit::{TestServer, Transport};
    /// use tonic_testkit_examples::hello::Stuck;
    /// use tonic_testkit_examples::hello::pb::{
    ///     HelloRequest, hello_service_client::HelloServiceClient,
    ///     hello_service_server::HelloServiceServer,
    /// };
    /// use tonic_testkit_examples::users::Users;
    /// use tonic_testkit_examples::users::pb::{
    ///     GetUserRequest, user_service_client::UserServiceClient, user_service_server::UserServiceServer,
    /// };
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// // Arrange: the client knows the limit, and one stream is open.
    /// let stuck = Stuck::new();
    /// let server = TestServer::builder()
    ///     .add_service(HelloServiceServer::new(stuck.clone()))
    ///     .add_service(UserServiceServer::new(Users::default()))
    ///     .transport(Transport::Memory)
    ///     .max_concurrent_streams(1)
    ///     .start()
    ///     .await;
    /// let channel = server.channel();
    /// let mut users = UserServiceClient::new(channel.clone());
    /// users.get_user(GetUserRequest { id: 1 }).await.unwrap(); // the SETTINGS have arrived
    /// let mut busy = HelloServiceClient::new(channel); // the same connection
    /// tokio::spawn(async move { busy.hello(HelloRequest::default()).await });
    /// stuck.reached().await;
    ///
    /// // Act
    /// let second = users.get_user(GetUserRequest { id: 1 });
    /// let waited = tokio::time::timeout(Duration::from_secs(5), second).await;
    ///
    /// // Assert: the client holds the second stream back.
    /// assert!(waited.is_err());
    /// assert_eq!(server.calls().len(), 2);
    /// # }
    /// ```
    pub fn max_concurrent_streams(mut self, max: impl Into<Option<u32>>) -> Self {
        self.settings.max_concurrent_streams = max.into();
        self
    }

    /// Set whether HTTP2 Ping frames are enabled on accepted connections, as
    /// `tonic::transport::Server::http2_keepalive_interval` does: `Some(interval)` pings the
    /// client that often, and closes the connection when a ping is not answered within
    /// [`http2_keepalive_timeout`](Self::http2_keepalive_timeout). Default is no HTTP2
    /// keepalive (`None`). A connection setting: over [`Transport::Memory`] and
    /// [`Transport::Tcp`] only.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use tonic_testkit::{TestServer, Transport};
    /// use tonic_testkit_examples::rides::Rides;
    /// use tonic_testkit_examples::rides::pb::{
    ///     QuoteRequest, rides_client::RidesClient, rides_server::RidesServer,
    /// };
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let server = TestServer::builder()
    ///     .add_service(RidesServer::new(Rides::with_pricing_delay(Duration::from_secs(60))))
    ///     .transport(Transport::Memory)
    ///     .http2_keepalive_interval(Some(Duration::from_secs(10)))
    ///     .http2_keepalive_timeout(Some(Duration::from_secs(1)))
    ///     .start()
    ///     .await;
    /// let mut client = server.client(RidesClient::new);
    ///
    /// // The client answers the server's pings: the connection outlives many intervals.
    /// let reply = client.quote(QuoteRequest::default()).await; // priced after 60 s
    ///
    /// assert_eq!(reply.unwrap().into_inner().price_cents, 1200);
    /// # }
    /// ```
    pub fn http2_keepalive_interval(mut self, http2_keepalive_interval: Option<Duration>) -> Self {
        self.settings.http2_keepalive_interval = http2_keepalive_interval;
        self
    }

    /// Sets a timeout for receiving an acknowledgement of the keepalive ping, as
    /// `tonic::transport::Server::http2_keepalive_timeout` does: `None` keeps the timeout as it
    /// was (20 seconds by default); it does nothing without
    /// [`http2_keepalive_interval`](Self::http2_keepalive_interval). A connection setting: over
    /// [`Transport::Memory`] and [`Transport::Tcp`] only.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use tonic_testkit::{TestServer, Transport};
    /// use tonic_testkit_examples::rides::Rides;
    /// use tonic_testkit_examples::rides::pb::{
    ///     QuoteRequest, rides_client::RidesClient, rides_server::RidesServer,
    /// };
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let server = TestServer::builder()
    ///     .add_service(RidesServer::new(Rides::with_pricing_delay(Duration::from_secs(10))))
    ///     .transport(Transport::Memory)
    ///     .http2_keepalive_interval(Some(Duration::from_secs(1)))
    ///     .http2_keepalive_timeout(Some(Duration::from_millis(500)))
    ///     .start()
    ///     .await;
    /// let mut client = server.client(RidesClient::new);
    ///
    /// // Pinged every second, and answering within half of one, the connection stays.
    /// let reply = client.quote(QuoteRequest::default()).await; // priced after 10 s
    ///
    /// assert_eq!(reply.unwrap().into_inner().price_cents, 1200);
    /// # }
    /// ```
    pub fn http2_keepalive_timeout(mut self, http2_keepalive_timeout: Option<Duration>) -> Self {
        if let Some(timeout) = http2_keepalive_timeout {
            self.settings.http2_keepalive_timeout = Some(timeout);
        }
        self
    }

    /// Sets whether to use an adaptive flow control, as
    /// `tonic::transport::Server::http2_adaptive_window` does. Defaults to false. Enabling it
    /// overrides the [window sizes](Self::initial_stream_window_size). A connection setting:
    /// over [`Transport::Memory`] and [`Transport::Tcp`] only.
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
    ///     .http2_adaptive_window(Some(true))
    ///     .start()
    ///     .await;
    /// let mut client = server.client(HelloServiceClient::new);
    ///
    /// let reply = client.hello(HelloRequest { greeting: "adaptive".into() }).await;
    ///
    /// assert_eq!(reply.unwrap().into_inner().reply, "Hello, adaptive!");
    /// # }
    /// ```
    pub fn http2_adaptive_window(mut self, enabled: Option<bool>) -> Self {
        self.settings.http2_adaptive_window = enabled;
        self
    }

    /// Configures the maximum number of pending reset streams allowed before a GOAWAY will be
    /// sent, as `tonic::transport::Server::http2_max_pending_accept_reset_streams` does
    /// (default: h2's, 20): a client that opens and resets more streams than that before the
    /// server accepts them gets `GOAWAY` with `ENHANCE_YOUR_CALM`. A connection setting: over
    /// [`Transport::Memory`] and [`Transport::Tcp`] only.
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
    ///     .transport(Transport::Memory)
    ///     .http2_max_pending_accept_reset_streams(Some(100))
    ///     .start()
    ///     .await;
    /// let mut client = server.client(HelloServiceClient::new);
    ///
    /// assert!(client.hello(HelloRequest { greeting: "Ada".into() }).await.is_ok());
    /// # }
    /// ```
    pub fn http2_max_pending_accept_reset_streams(mut self, max: Option<usize>) -> Self {
        self.settings.http2_max_pending_accept_reset_streams = max;
        self
    }

    /// Sets the maximum frame size to use for HTTP2, as
    /// `tonic::transport::Server::max_frame_size` does: the largest frame the server accepts,
    /// so clients split what they send into frames no larger (default: hyper's, 16 KiB).
    /// Passing `None` will do nothing. A connection setting: over [`Transport::Memory`] and
    /// [`Transport::Tcp`] only.
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
    ///     .transport(Transport::Memory)
    ///     .max_frame_size(1 << 20)
    ///     .start()
    ///     .await;
    /// let mut client = server.client(HelloServiceClient::new);
    ///
    /// let big = "x".repeat(100_000); // one frame: the server takes frames of up to 1 MiB
    /// let reply = client.hello(HelloRequest { greeting: big.clone() }).await.unwrap();
    ///
    /// assert_eq!(reply.into_inner().reply, format!("Hello, {big}!"));
    /// # }
    /// ```
    pub fn max_frame_size(mut self, frame_size: impl Into<Option<u32>>) -> Self {
        self.settings.max_frame_size = frame_size.into();
        self
    }
}
