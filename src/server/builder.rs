//! [`TestServerBuilder`]: what it holds, and the faults, layers, transport and grace period of
//! the [`TestServer`] it builds. What it serves is in `services`, tonic's settings in
//! `settings`, its start in `start`.

use std::{fmt, time::Duration};

use tonic::service::{Interceptor, InterceptorLayer};
use tower::{
    ServiceBuilder,
    layer::util::{Identity, Stack},
};

use crate::{
    Faults, Stub, Transport,
    engine::router::ServicesBuilder,
    journal::{DEFAULT_JOURNAL_BYTE_LIMIT, DEFAULT_JOURNAL_LIMIT},
    server::DEFAULT_GRACE_PERIOD,
};
#[cfg(doc)]
use crate::{TestServer, server::Services};

/// Builds a [`TestServer`]: services, layers, transport, grace period.
///
/// Services are anything tonic's router accepts (the generated `XServer::new(..)`, a
/// health or reflection service, an intercepted service); the server routes calls to them as
/// tonic's router does ([`Services`]). Layers wrap every service, as
/// `tonic::transport::Server::layer` does: the first one added is the outermost.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tonic::{Request, Status};
/// use tonic_testkit::{TestServer, Transport};
/// use tonic_testkit_examples::hello::pb::{
///     HelloRequest, hello_service_client::HelloServiceClient,
///     hello_service_server::HelloServiceServer,
/// };
/// use tonic_testkit_examples::hello::{Greeter, REQUEST_ID};
///
/// // Greeter echoes the request id header; this interceptor sets one.
/// fn tag(mut request: Request<()>) -> Result<Request<()>, Status> {
///     request.metadata_mut().insert(REQUEST_ID, "req-7".parse().unwrap());
///     Ok(request)
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let server = TestServer::builder()
///     .add_service(HelloServiceServer::new(Greeter))
///     .interceptor(tag)
///     .layer(tower::timeout::TimeoutLayer::new(Duration::from_secs(5)))
///     .transport(Transport::Memory)
///     .grace_period(Duration::from_millis(100))
///     .start()
///     .await;
/// let mut client = server.client(HelloServiceClient::new);
///
/// let reply = client.hello(HelloRequest { greeting: "Ada".into() }).await.unwrap();
///
/// assert_eq!(reply.metadata().get(REQUEST_ID).unwrap(), "req-7");
/// # }
/// ```
#[must_use = "a TestServerBuilder does nothing until `.start().await`"]
pub struct TestServerBuilder<L = Identity> {
    /// Filled by `add_service` and `add_routes` (services.rs), and at start by the standard
    /// services (standard.rs).
    pub(crate) routes: ServicesBuilder,
    pub(super) services: Vec<&'static str>,
    pub(super) layers: ServiceBuilder<L>,
    pub(super) transport: Option<Transport>,
    pub(super) grace_period: Duration,
    pub(super) journal_limit: usize,
    pub(super) journal_byte_limit: usize,
    #[cfg(feature = "descriptors")]
    pub(super) descriptors: Option<crate::protocol::descriptors::Descriptors>,
    pub(super) stub: Option<Stub>,
    pub(super) faults: Option<Faults>,
    #[cfg(feature = "tls")]
    pub(super) tls: Option<crate::tls::TlsMode>,
    pub(super) standard: crate::server::standard::Standard,
    /// tonic's server settings, set by the methods in settings/.
    pub(crate) settings: crate::engine::settings::Settings,
}

impl TestServerBuilder {
    pub(crate) fn new() -> Self {
        Self {
            routes: ServicesBuilder::default(),
            services: Vec::new(),
            layers: ServiceBuilder::new(),
            transport: None,
            grace_period: DEFAULT_GRACE_PERIOD,
            journal_limit: DEFAULT_JOURNAL_LIMIT,
            journal_byte_limit: DEFAULT_JOURNAL_BYTE_LIMIT,
            #[cfg(feature = "descriptors")]
            descriptors: None,
            stub: None,
            faults: None,
            #[cfg(feature = "tls")]
            tls: None,
            standard: crate::server::standard::Standard::default(),
            settings: crate::engine::settings::Settings::default(),
        }
    }
}

impl<L> TestServerBuilder<L> {
    /// Applies `faults` to every call and connection of the server: see [`Faults`]. Rules can
    /// be added to the handle before or after the server starts.
    ///
    /// # Panics
    ///
    /// When the builder already has a `Faults` handle (add the rules to that one), or, at
    /// start, when the handle has connection toxics or is [taken down](Faults::take_down) and
    /// the transport is [`Transport::Direct`], which has no connections.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tonic::Code;
    /// # use tonic_testkit::{Faults, TestServer, assert_status};
    /// # use tonic_testkit_examples::hello::Greeter;
    /// # use tonic_testkit_examples::hello::pb::{
    /// #     HelloRequest, hello_service_client::HelloServiceClient,
    /// #     hello_service_server::HelloServiceServer,
    /// # };
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let faults = Faults::new();
    /// let server = TestServer::builder()
    ///     .add_service(HelloServiceServer::new(Greeter))
    ///     .faults(&faults)
    ///     .start()
    ///     .await;
    /// let mut client = server.client(HelloServiceClient::new);
    ///
    /// faults.on("/hello.HelloService/Hello").nth(1).fail(Code::Unavailable, "try again");
    ///
    /// assert_status!(client.hello(HelloRequest::default()).await, Code::Unavailable, "try again");
    /// # }
    /// ```
    #[track_caller]
    pub fn faults(mut self, faults: &Faults) -> Self {
        assert!(
            self.faults.is_none(),
            "this TestServer already has a Faults handle; add the rules to that one"
        );
        self.faults = Some(faults.clone());
        self
    }

    /// Wraps every service in a tower layer, as `tonic::transport::Server::layer` does. The
    /// layer wraps [`Services`] where tonic's wraps its `Routes`: a layer generic over the
    /// service it wraps (tower's, tonic's, most hand-written ones) works with either.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use tonic_testkit::TestServer;
    /// # use tonic_testkit_examples::rides::{Rides, TimingLayer, Timings};
    /// # use tonic_testkit_examples::rides::pb::{
    /// #     QuoteRequest, rides_client::RidesClient, rides_server::RidesServer,
    /// # };
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// // The timing layer production code puts in front of its services.
    /// let timings = Timings::default();
    /// let server = TestServer::builder()
    ///     .add_service(RidesServer::new(Rides::with_pricing_delay(Duration::from_millis(30))))
    ///     .layer(TimingLayer::new(timings.clone()))
    ///     .start()
    ///     .await;
    /// let mut client = server.client(RidesClient::new);
    ///
    /// client.quote(QuoteRequest::default()).await.unwrap();
    ///
    /// let quote = ("/rides.Rides/Quote".to_owned(), Duration::from_millis(30));
    /// assert_eq!(timings.recorded(), [quote]);
    /// # }
    /// ```
    pub fn layer<T>(self, layer: T) -> TestServerBuilder<Stack<T, L>> {
        TestServerBuilder {
            routes: self.routes,
            services: self.services,
            layers: self.layers.layer(layer),
            transport: self.transport,
            grace_period: self.grace_period,
            journal_limit: self.journal_limit,
            journal_byte_limit: self.journal_byte_limit,
            #[cfg(feature = "descriptors")]
            descriptors: self.descriptors,
            stub: self.stub,
            faults: self.faults,
            #[cfg(feature = "tls")]
            tls: self.tls,
            standard: self.standard,
            settings: self.settings,
        }
    }

    /// Runs a tonic interceptor before every service.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tonic::{Code, Request, Status};
    /// # use tonic_testkit::{TestServer, assert_status};
    /// # use tonic_testkit_examples::hello::Greeter;
    /// # use tonic_testkit_examples::hello::pb::{
    /// #     HelloRequest, hello_service_client::HelloServiceClient,
    /// #     hello_service_server::HelloServiceServer,
    /// # };
    /// fn require_token(request: Request<()>) -> Result<Request<()>, Status> {
    ///     match request.metadata().get("authorization") {
    ///         Some(_) => Ok(request),
    ///         None => Err(Status::unauthenticated("no token")),
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server = TestServer::builder()
    ///     .add_service(HelloServiceServer::new(Greeter))
    ///     .interceptor(require_token)
    ///     .start()
    ///     .await;
    /// let mut client = server.client(HelloServiceClient::new);
    ///
    /// let anonymous = client.hello(HelloRequest { greeting: "Ada".into() }).await;
    ///
    /// assert_status!(anonymous, Code::Unauthenticated, "no token");
    /// # }
    /// ```
    pub fn interceptor<F>(self, interceptor: F) -> TestServerBuilder<Stack<InterceptorLayer<F>, L>>
    where
        F: Interceptor,
    {
        self.layer(InterceptorLayer::new(interceptor))
    }

    /// The transport to serve over, instead of the one
    /// [`TONIC_TESTKIT_TRANSPORT`](crate::server::TRANSPORT_ENV) chooses.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tonic_testkit::{TestServer, Transport};
    /// # use tonic_testkit_examples::hello::Greeter;
    /// # use tonic_testkit_examples::hello::pb::{
    /// #     HelloRequest, hello_service_client::HelloServiceClient,
    /// #     hello_service_server::HelloServiceServer,
    /// # };
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// for transport in Transport::ALL {
    ///     let server = TestServer::builder()
    ///         .add_service(HelloServiceServer::new(Greeter))
    ///         .transport(transport)
    ///         .start()
    ///         .await;
    ///     let mut client = server.client(HelloServiceClient::new);
    ///
    ///     let reply = client.hello(HelloRequest { greeting: "Ada".into() }).await;
    ///
    ///     assert_eq!(reply.unwrap().into_inner().reply, "Hello, Ada!", "over {transport:?}");
    /// }
    /// # }
    /// ```
    pub fn transport(mut self, transport: Transport) -> Self {
        self.transport = Some(transport);
        self
    }

    /// How long [`TestServer::shutdown`] lets calls in progress finish before aborting them
    /// (default [`DEFAULT_GRACE_PERIOD`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use tokio::time::Instant;
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_examples::hello::Stuck;
    /// use tonic_testkit_examples::hello::pb::{
    ///     HelloRequest, hello_service_client::HelloServiceClient,
    ///     hello_service_server::HelloServiceServer,
    /// };
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let stuck = Stuck::new();
    /// let server = TestServer::builder()
    ///     .add_service(HelloServiceServer::new(stuck.clone()))
    ///     .grace_period(Duration::from_millis(100))
    ///     .start()
    ///     .await;
    /// let mut client = server.client(HelloServiceClient::new);
    /// let call = tokio::spawn(async move { client.hello(HelloRequest::default()).await });
    /// stuck.reached().await;
    ///
    /// let started = Instant::now();
    /// server.shutdown().await;
    ///
    /// assert_eq!(started.elapsed(), Duration::from_millis(100)); // then the call was aborted
    /// assert!(call.await.unwrap().is_err());
    /// # }
    /// ```
    pub fn grace_period(mut self, grace_period: Duration) -> Self {
        self.grace_period = grace_period;
        self
    }
}

impl<L> TestServerBuilder<L> {
    /// What TLS the builder asks for, for its `Debug` output.
    fn tls_mode(&self) -> &'static str {
        #[cfg(feature = "tls")]
        if let Some(mode) = &self.tls {
            return mode.name();
        }
        "none"
    }
}

impl<L> fmt::Debug for TestServerBuilder<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestServerBuilder")
            .field("services", &self.services)
            .field("transport", &self.transport)
            .field("grace_period", &self.grace_period)
            .field("journal_limit", &self.journal_limit)
            .field("journal_byte_limit", &self.journal_byte_limit)
            .field("tls", &self.tls_mode())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}
