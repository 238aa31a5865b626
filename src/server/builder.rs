//! [`TestServerBuilder`]: services, layers, transport and limits of a [`TestServer`].

use std::{convert::Infallible, fmt, future::Future, time::Duration};

use bytes::Bytes;
use http::{Request, Response};
use tonic::{
    body::Body,
    server::NamedService,
    service::{Interceptor, InterceptorLayer},
};
use tower::{
    Layer, Service, ServiceBuilder,
    layer::util::{Identity, Stack},
};

use crate::{
    BoxError, Faults, Stub, TestServer, Transport,
    engine::router::ServicesBuilder,
    engine::shared::Shared,
    engine::stack::Stack as CallStack,
    journal::{DEFAULT_JOURNAL_BYTE_LIMIT, DEFAULT_JOURNAL_LIMIT, Journal},
    server::DEFAULT_GRACE_PERIOD,
    server::Services,
    transport::tcp,
};

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
    /// Also filled by `add_routes` (router.rs).
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
    /// tonic's server settings, set by the methods in settings/mod.rs.
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
    /// Adds a service; any number can be added, each under its own name.
    ///
    /// It takes what `tonic::transport::Server::add_service` takes: a generated
    /// `XServer::new(..)`, the same wrapped with `XServer::with_interceptor(.., f)` (whose
    /// answers carry tonic's `ResponseBody`), a health or reflection service, or any
    /// `Service<http::Request<Body>>` with a `NamedService` name whose response body carries
    /// `Bytes`.
    ///
    /// # Panics
    ///
    /// When a service with the same name (`package.Service`) was already added.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic::{Request, Status};
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_examples::hello::Greeter;
    /// use tonic_testkit_examples::hello::pb::{
    ///     HelloRequest, hello_service_client::HelloServiceClient,
    ///     hello_service_server::HelloServiceServer,
    /// };
    ///
    /// fn require_token(request: Request<()>) -> Result<Request<()>, Status> {
    ///     match request.metadata().get("authorization") {
    ///         Some(token) if token == "Bearer t" => Ok(request),
    ///         _ => Err(Status::unauthenticated("no token")),
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// // Arrange: the service as production code serves it, behind its interceptor.
    /// let service = HelloServiceServer::with_interceptor(Greeter, require_token);
    /// let server = TestServer::builder().add_service(service).start().await;
    /// let mut client = server.client(HelloServiceClient::new);
    ///
    /// // Act
    /// let status = client.hello(HelloRequest { greeting: "Ada".into() }).await.unwrap_err();
    ///
    /// // Assert
    /// assert_eq!(status.message(), "no token");
    /// # }
    /// ```
    #[track_caller]
    pub fn add_service<S, B>(mut self, service: S) -> Self
    where
        S: Service<Request<Body>, Response = Response<B>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        if self.services.contains(&S::NAME) {
            panic!(
                "the service {} was added to this TestServer twice; add each service once (one \
                 instance serves every call to it)",
                S::NAME
            );
        }
        self.services.push(S::NAME);
        self.routes.add_service(service);
        self
    }

    /// Serves `routes`, a tonic [`Routes`](tonic::service::Routes) as production code builds it
    /// (`Routes::new(..)`, `RoutesBuilder::routes()`), as it is: its own router takes the calls
    /// that reach it and answers a method it does not serve `UNIMPLEMENTED`, as it does in a
    /// `tonic::transport::Server`. Its calls go through the server's journal, faults, layers and
    /// panic catching like every other call, over every transport.
    ///
    /// The services inside a `Routes` have no names the kit can read, so `routes` are the
    /// fallback of the services added by name:
    ///
    /// - a service added with [`add_service`](Self::add_service) takes the calls to its name,
    ///   and `routes` every other call (tonic's router refuses a name served twice: add each
    ///   service once);
    /// - a [`Stub`](crate::Stub) answers the calls `routes` do not take: it replaces the
    ///   fallback of their router;
    /// - [`health`](Self::health) reports, and [`reflection`](Self::reflection) lists, only the
    ///   services added by name.
    ///
    /// # Panics
    ///
    /// When the builder already has routes: one `Routes` holds any number of services, as
    /// `tonic::transport::Server::add_routes` takes one; add them all to it.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic::{Code, service::Routes};
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_examples::hello::Greeter;
    /// use tonic_testkit_examples::hello::pb::{
    ///     HelloRequest, hello_service_client::HelloServiceClient,
    ///     hello_service_server::HelloServiceServer,
    /// };
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// // Arrange: the routes production code builds.
    /// let mut routes = Routes::builder();
    /// routes.add_service(HelloServiceServer::new(Greeter));
    /// let server = TestServer::builder().add_routes(routes.routes()).start().await;
    /// let mut client = server.client(HelloServiceClient::new);
    ///
    /// // Act
    /// let reply = client.hello(HelloRequest { greeting: "routed".into() }).await;
    ///
    /// // Assert: served, and journaled.
    /// assert_eq!(reply.unwrap().into_inner().reply, "Hello, routed!");
    /// assert_eq!(server.calls()[0].code(), Some(Code::Ok));
    /// # }
    /// ```
    #[cfg(feature = "router")]
    #[cfg_attr(docsrs, doc(cfg(feature = "router")))]
    #[track_caller]
    pub fn add_routes(mut self, routes: tonic::service::Routes) -> Self {
        assert!(
            self.routes.add_routes(routes),
            "add_routes(..) was called twice on this TestServer; one Routes holds any number of \
             services (tonic's Server takes one too): add them all to one Routes \
             (Routes::add_service, or one RoutesBuilder)"
        );
        self
    }

    /// Answers every call that no added service takes with `stub`'s rules: methods answered by
    /// scripted replies and closures, with no trait impl. A server can have a stub and no
    /// services at all.
    ///
    /// # Panics
    ///
    /// When the builder already has a stub (one stub answers any number of methods and
    /// services: add the rules to it).
    ///
    /// # Examples
    ///
    /// ```
    /// # use tonic_testkit::{Reply, Stub, TestServer};
    /// # use tonic_testkit_examples::users::pb::{GetUserRequest, User};
    /// # use tonic_testkit_examples::users::pb::user_service_client::UserServiceClient;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let stub = Stub::new();
    /// let grace = User { id: 7, name: "Grace Hopper".into(), email: "grace@example.com".into() };
    /// stub.on("/users.UserService/GetUser").reply(Reply::message(grace.clone()));
    /// let server = TestServer::builder().add_stub(&stub).start().await;
    /// let mut users = server.client(UserServiceClient::new);
    ///
    /// let user = users.get_user(GetUserRequest { id: 7 }).await.unwrap();
    ///
    /// assert_eq!(user.into_inner(), grace);
    /// # }
    /// ```
    #[track_caller]
    pub fn add_stub(mut self, stub: &Stub) -> Self {
        assert!(
            self.stub.is_none(),
            "this TestServer already has a Stub; one Stub answers any number of methods and \
             services: add the rules to the one stub"
        );
        self.stub = Some(stub.clone());
        self
    }

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

    /// Starts the server on the current tokio runtime. Over TCP the listener is bound before
    /// this returns, so the first call cannot fail for want of a server.
    ///
    /// # Panics
    ///
    /// - when no service was added;
    /// - over TCP, when no loopback port can be bound (the message carries the OS error);
    /// - when [`TONIC_TESTKIT_TRANSPORT`](crate::server::TRANSPORT_ENV) holds an invalid value and
    ///   no transport was chosen with [`transport`](TestServerBuilder::transport);
    /// - when TLS was asked for ([`tls`](TestServerBuilder::tls),
    ///   [`mtls`](TestServerBuilder::mtls)) and the transport is [`Transport::Direct`];
    /// - when the transport is [`Transport::Direct`] and the [`faults`](TestServerBuilder::faults)
    ///   handle has connection toxics or is [taken down](Faults::take_down): there are no
    ///   connections to act on;
    /// - when the [stub](TestServerBuilder::add_stub) already answers another server, or has a
    ///   rule for a service the server serves;
    /// - when a service added with `add_service` is also asked for with
    ///   [`health`](TestServerBuilder::health) or [`reflection`](TestServerBuilder::reflection),
    ///   or, with reflection, the server serves a service that no descriptor set describes;
    /// - when the transport is [`Transport::Direct`] and an HTTP/2 connection setting was
    ///   given ([`max_concurrent_streams`](TestServerBuilder::max_concurrent_streams), the
    ///   window and frame sizes, the `http2_keepalive_*` ones, `http2_adaptive_window`,
    ///   `http2_max_pending_accept_reset_streams`): the message names them and the transports
    ///   where they apply.
    ///
    /// These are checked when `start` is called, before the future is awaited, so that the
    /// panics point at the test's `.start()` line.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tonic_testkit::TestServer;
    /// # use tonic_testkit_examples::hello::Greeter;
    /// # use tonic_testkit_examples::hello::pb::{
    /// #     HelloRequest, hello_service_client::HelloServiceClient,
    /// #     hello_service_server::HelloServiceServer,
    /// # };
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server =
    ///     TestServer::builder().add_service(HelloServiceServer::new(Greeter)).start().await;
    /// // Started: a client can call at once.
    /// let mut client = server.client(HelloServiceClient::new);
    ///
    /// let reply = client.hello(HelloRequest { greeting: "Ada".into() }).await;
    ///
    /// assert_eq!(reply.unwrap().into_inner().reply, "Hello, Ada!");
    /// # }
    /// ```
    #[track_caller]
    pub fn start<ResBody>(mut self) -> impl Future<Output = TestServer>
    where
        L: Layer<Services>,
        L::Service: Service<Request<Body>, Response = Response<ResBody>> + Clone + Send + 'static,
        <L::Service as Service<Request<Body>>>::Future: Send + 'static,
        <L::Service as Service<Request<Body>>>::Error: Into<BoxError>,
        ResBody: http_body::Body<Data = Bytes> + Send + 'static,
        ResBody::Error: Into<BoxError>,
    {
        assert!(
            !self.services.is_empty() || self.stub.is_some() || self.routes.has_routes(),
            "TestServer::builder() was started with no services: add the service under test \
             with .add_service(..) (or a Stub with .add_stub(..)) before .start()"
        );
        // What the test got wrong is checked here, in a plain function, so that the panic
        // points at the test's `.start()`.
        let transport = match self.transport {
            Some(transport) => transport,
            None => Transport::from_env(),
        };
        if let Some(faults) = &self.faults {
            faults.check_transport(transport == Transport::Direct);
        }
        self.standard.check(&self.services);
        if let Some(stub) = &self.stub {
            stub.check(&[&self.services[..], &self.standard.names()].concat());
        }
        self.settings.check_transport(transport, self.transport.is_none());
        #[cfg(feature = "tls")]
        let tls = super::tls::start(self.tls, transport, self.transport.is_none());
        let journal = self.journal();
        async move {
            let standard = self.standard.add(&mut self.routes, &mut self.services).await;
            if let Some(stub) = &self.stub {
                stub.attach(&self.services);
            }
            let routes = self.routes.build(self.stub.as_ref().map(Stub::service));
            let shared = Shared::new(
                CallStack::new(self.layers.service(routes), self.settings.load_shed),
                journal,
                self.faults.clone(),
                self.settings,
                #[cfg(feature = "tls")]
                tls,
            );
            if let Some(faults) = &self.faults {
                let server = std::sync::Arc::downgrade(&shared);
                faults.attach(transport == Transport::Direct, server);
            }
            let local_addr = match transport {
                Transport::Tcp => Some(tcp::bind(&shared).await.unwrap_or_else(|err| {
                    panic!("tonic-testkit could not bind a TCP listener on 127.0.0.1:0: {err}")
                })),
                Transport::Direct | Transport::Memory => None,
            };
            let (services, grace_period, stub) = (self.services, self.grace_period, self.stub);
            TestServer::new(shared, transport, local_addr, services, grace_period, stub, standard)
        }
    }
}

impl<L> TestServerBuilder<L> {
    /// The server's journal, with the descriptors given to the builder, or else its stub's.
    fn journal(&self) -> Journal {
        let journal = Journal::new(self.journal_limit, self.journal_byte_limit);
        #[cfg(feature = "descriptors")]
        let journal = {
            let from_stub = self.stub.as_ref().and_then(Stub::descriptors);
            journal.described(self.descriptors.clone().or(from_stub))
        };
        journal
    }

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
