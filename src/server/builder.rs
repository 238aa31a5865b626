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
/// use tonic_testkit_support::{Probe, ProbeClient, ProbeRequest};
///
/// fn tag(mut request: Request<()>) -> Result<Request<()>, Status> {
///     request.metadata_mut().insert("x-tag", "tagged".parse().unwrap());
///     Ok(request)
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let server = TestServer::builder()
///     .add_service(Probe::new().server())
///     .interceptor(tag)
///     .layer(tower::timeout::TimeoutLayer::new(Duration::from_secs(5)))
///     .transport(Transport::Memory)
///     .grace_period(Duration::from_millis(100))
///     .start()
///     .await;
/// let mut client = server.client(ProbeClient::new);
///
/// let reply = client.unary(ProbeRequest { text: "meta:x-tag".into(), count: 0 }).await.unwrap();
///
/// assert_eq!(reply.into_inner().text, "tagged");
/// # }
/// ```
#[must_use = "a TestServerBuilder does nothing until `.start().await`"]
pub struct TestServerBuilder<L = Identity> {
    /// Also filled by `add_routes` (router.rs).
    pub(crate) routes: ServicesBuilder,
    services: Vec<&'static str>,
    layers: ServiceBuilder<L>,
    transport: Option<Transport>,
    grace_period: Duration,
    journal_limit: usize,
    journal_byte_limit: usize,
    #[cfg(feature = "descriptors")]
    descriptors: Option<crate::protocol::descriptors::Descriptors>,
    stub: Option<Stub>,
    faults: Option<Faults>,
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::TlsMode>,
    standard: crate::server::standard::Standard,
    /// tonic's server settings, set by the methods in settings/mod.rs.
    pub(crate) settings: crate::server::settings::Settings,
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
            settings: crate::server::settings::Settings::default(),
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
    /// use tonic_testkit_support::{Probe, ProbeClient, ProbeRequest, ProbeServer};
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
    /// let service = ProbeServer::with_interceptor(Probe::new(), require_token);
    /// let server = TestServer::builder().add_service(service).start().await;
    /// let mut client = server.client(ProbeClient::new);
    ///
    /// // Act
    /// let status = client.unary(ProbeRequest::default()).await.unwrap_err();
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

    /// Answers every call that no added service takes with `stub`'s rules: methods answered by
    /// scripted replies and closures, with no trait impl. A server can have a stub and no
    /// services at all.
    ///
    /// See [`Stub`] for an example.
    ///
    /// # Panics
    ///
    /// When the builder already has a stub (one stub answers any number of methods and
    /// services: add the rules to it).
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
    #[track_caller]
    pub fn faults(mut self, faults: &Faults) -> Self {
        assert!(
            self.faults.is_none(),
            "this TestServer already has a Faults handle; add the rules to that one"
        );
        self.faults = Some(faults.clone());
        self
    }

    /// Serves gRPC server reflection (`grpc.reflection.v1` and `v1alpha`, as grpcurl, Postman
    /// and grpcio's reflection client use them) from `file_descriptor_set`: the encoded
    /// `FileDescriptorSet` the build already makes (protox: `fds.encode_to_vec()` written to
    /// `OUT_DIR`; tonic-prost-build: `file_descriptor_set_path`).
    ///
    /// As a real server would, reflection lists only the services this server serves: those
    /// added with `add_service`, the health service when [`health`](Self::health) is on, and the
    /// two reflection services. Services the set describes but the server does not serve are
    /// not listed; their files and symbols can still be looked up. Call it again to add another
    /// set (one for a service from another crate, say); a file in two sets is served once.
    ///
    /// # Panics
    ///
    /// - here, when the bytes are not an encoded `FileDescriptorSet`;
    /// - at start, when the server serves a service that no set describes (the message names
    ///   it), or when a reflection service was also added with `add_service`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tokio_stream::StreamExt;
    /// use tonic_reflection::pb::v1::{
    ///     ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
    ///     server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    /// };
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_examples::{FILE_DESCRIPTOR_SET, hello::Greeter};
    /// use tonic_testkit_examples::hello::pb::hello_service_server::HelloServiceServer;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// // Arrange
    /// let server = TestServer::builder()
    ///     .add_service(HelloServiceServer::new(Greeter))
    ///     .reflection(FILE_DESCRIPTOR_SET)
    ///     .start()
    ///     .await;
    /// let mut reflection = server.client(ServerReflectionClient::new);
    ///
    /// // Act
    /// let list = MessageRequest::ListServices(String::new());
    /// let request = ServerReflectionRequest { message_request: Some(list), ..Default::default() };
    /// let mut replies = reflection
    ///     .server_reflection_info(tokio_stream::iter([request]))
    ///     .await
    ///     .unwrap()
    ///     .into_inner();
    /// let reply = replies.next().await.unwrap().unwrap();
    ///
    /// // Assert
    /// let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
    ///     panic!("not a list of services: {reply:?}");
    /// };
    /// let names: Vec<_> = list.service.into_iter().map(|service| service.name).collect();
    /// assert_eq!(
    ///     names,
    ///     [
    ///         "hello.HelloService",
    ///         "grpc.reflection.v1.ServerReflection",
    ///         "grpc.reflection.v1alpha.ServerReflection",
    ///     ]
    /// );
    /// # }
    /// ```
    #[cfg(feature = "reflection")]
    #[cfg_attr(docsrs, doc(cfg(feature = "reflection")))]
    #[track_caller]
    pub fn reflection(mut self, file_descriptor_set: impl Into<Bytes>) -> Self {
        let set = crate::server::reflection::DescriptorSet::new(file_descriptor_set.into());
        self.standard.reflection.push(set);
        self
    }

    /// Serves the gRPC health service (`grpc.health.v1.Health`, tonic-health's): at start every
    /// service added with `add_service` is `SERVING`, and so is `""`, the whole server. The test
    /// flips them with [`TestServer::health`]; see [`Health`](crate::server::Health) for an example.
    ///
    /// # Panics
    ///
    /// At start, when a health service was also added with `add_service`.
    #[cfg(feature = "health")]
    #[cfg_attr(docsrs, doc(cfg(feature = "health")))]
    pub fn health(mut self) -> Self {
        self.standard.health = true;
        self
    }

    /// Wraps every service in a tower layer, as `tonic::transport::Server::layer` does. The
    /// layer wraps [`Services`] where tonic's wraps its `Routes`: a layer generic over the
    /// service it wraps (tower's, tonic's, most hand-written ones) works with either.
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
    pub fn interceptor<F>(self, interceptor: F) -> TestServerBuilder<Stack<InterceptorLayer<F>, L>>
    where
        F: Interceptor,
    {
        self.layer(InterceptorLayer::new(interceptor))
    }

    /// The transport to serve over, instead of the one
    /// [`TONIC_TESTKIT_TRANSPORT`](crate::server::TRANSPORT_ENV) chooses.
    pub fn transport(mut self, transport: Transport) -> Self {
        self.transport = Some(transport);
        self
    }

    /// Serves TLS (HTTP/2 negotiated by ALPN), as a tonic server with `ServerTlsConfig` does,
    /// over [`Transport::Memory`] and [`Transport::Tcp`].
    ///
    /// At start the server makes a throwaway CA and a certificate for `localhost`, `127.0.0.1`
    /// and `::1`, in memory. The channels it hands out trust that CA, so clients work unchanged;
    /// [`TestServer::tls`] gives the CA's PEM to clients outside the kit, and
    /// [`TestServer::uri`] is an `https://` URI.
    ///
    /// # Panics
    ///
    /// At start, over [`Transport::Direct`]: its calls are function calls, with no connection to
    /// encrypt. Choose [`Transport::Memory`] or [`Transport::Tcp`] with
    /// [`transport`](TestServerBuilder::transport), also when the suite runs with
    /// `TONIC_TESTKIT_TRANSPORT=direct`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::{TestServer, Transport};
    /// use tonic_testkit_support::{Probe, ProbeClient, ProbeRequest};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// // Arrange
    /// let server = TestServer::builder()
    ///     .transport(Transport::Memory)
    ///     .tls()
    ///     .add_service(Probe::new().server())
    ///     .start()
    ///     .await;
    /// let mut client = server.client(ProbeClient::new); // trusts the server's CA
    ///
    /// // Act
    /// let reply = client.unary(ProbeRequest { text: "over TLS".into(), count: 0 }).await;
    ///
    /// // Assert
    /// assert_eq!(reply.unwrap().into_inner().text, "over TLS");
    /// assert!(!server.tls().unwrap().is_mutual());
    /// # }
    /// ```
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls(mut self) -> Self {
        self.tls = Some(crate::tls::TlsMode::Server);
        self
    }

    /// Serves mutual TLS: [TLS](TestServerBuilder::tls), and the server requires a client
    /// certificate signed by its CA, as a tonic server with `ServerTlsConfig::client_ca_root`
    /// does. A client without one, or with one from another CA, cannot connect.
    ///
    /// The channels the server hands out present a certificate for [`DEFAULT_CLIENT_NAME`];
    /// [`TestServer::channel_with_identity`] presents one minted for a name of the test's
    /// choosing, and handlers read it with `request.peer_certs()`.
    ///
    /// [`DEFAULT_CLIENT_NAME`]: crate::tls::DEFAULT_CLIENT_NAME
    ///
    /// # Panics
    ///
    /// At start, over [`Transport::Direct`], as [`tls`](TestServerBuilder::tls) does.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// use tonic::{Request, Response, Status};
    /// use tonic_testkit::{TestServer, Transport};
    /// use tonic_testkit_support::{ProbeClient, ProbeReply, ProbeRequest, ProbeServer, ProbeService};
    ///
    /// /// Answers with the size of the certificate chain the client presented.
    /// struct Whoami;
    ///
    /// #[tonic::async_trait]
    /// impl ProbeService for Whoami {
    ///     async fn unary(&self, request: Request<ProbeRequest>) -> Result<Response<ProbeReply>, Status> {
    ///         let certs = request.peer_certs().ok_or_else(|| Status::unauthenticated("no cert"))?;
    ///         Ok(Response::new(ProbeReply { text: "known".into(), index: certs.len() as u32 }))
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// // Arrange
    /// let server = TestServer::builder()
    ///     .transport(Transport::Tcp)
    ///     .mtls()
    ///     .add_service(ProbeServer::new(Whoami))
    ///     .start()
    ///     .await;
    /// let alice = server.tls().unwrap().client_identity("alice");
    /// let mut client = ProbeClient::new(server.channel_with_identity(&alice));
    ///
    /// // Act
    /// let reply = client.unary(ProbeRequest::default()).await.unwrap().into_inner();
    ///
    /// // Assert: the handler saw alice's certificate.
    /// assert_eq!(reply.index, 1);
    /// # }
    /// ```
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn mtls(mut self) -> Self {
        self.tls = Some(crate::tls::TlsMode::Mutual);
        self
    }

    /// How long [`TestServer::shutdown`] lets calls in progress finish before aborting them
    /// (default [`DEFAULT_GRACE_PERIOD`]).
    pub fn grace_period(mut self, grace_period: Duration) -> Self {
        self.grace_period = grace_period;
        self
    }

    /// How many calls the journal keeps ([`DEFAULT_JOURNAL_LIMIT`] unless set); later calls are
    /// served but only counted. `0` turns the journal off.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_support::{Probe, ProbeClient, ProbeRequest};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server =
    ///     TestServer::builder().add_service(Probe::new().server()).journal_limit(1).start().await;
    /// let mut client = server.client(ProbeClient::new);
    ///
    /// client.unary(ProbeRequest::default()).await.unwrap();
    /// client.unary(ProbeRequest::default()).await.unwrap();
    ///
    /// assert_eq!(server.calls().len(), 1);
    /// # }
    /// ```
    pub fn journal_limit(mut self, calls: usize) -> Self {
        self.journal_limit = calls;
        self
    }

    /// Tells the server its services' methods from `file_descriptor_set`, the encoded
    /// `FileDescriptorSet` the build already makes (the one [`reflection`](Self::reflection)
    /// takes), so that a journal [`Call`](crate::journal::Call) read as the wrong message type
    /// ([`request::<T>`](crate::journal::Call::request), [`response::<T>`](crate::journal::Call::response)) fails
    /// naming the method's type, instead of decoding into whatever the bytes make of `T`. A
    /// [`Stub::with_descriptors`](crate::Stub::with_descriptors) added with
    /// [`add_stub`](Self::add_stub) gives the server its descriptors when this is not called.
    /// Types are compared by name, as the stub compares them.
    ///
    /// # Panics
    ///
    /// When `file_descriptor_set` is not an encoded `FileDescriptorSet`.
    ///
    /// # Examples
    ///
    /// ```should_panic
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_support::{FILE_DESCRIPTOR_SET, Probe, ProbeClient, ProbeReply, ProbeRequest};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server = TestServer::builder()
    ///     .add_service(Probe::new().server())
    ///     .descriptors(FILE_DESCRIPTOR_SET)
    ///     .start()
    ///     .await;
    /// server.client(ProbeClient::new).unary(ProbeRequest::default()).await.unwrap();
    ///
    /// // Panics: request message 0 of /probe.Probe/Unary was asked for as ProbeReply (..),
    /// // and the method takes probe.ProbeRequest; ask for that message
    /// let _ = server.calls()[0].request::<ProbeReply>(0);
    /// # }
    /// ```
    #[cfg(feature = "descriptors")]
    #[cfg_attr(docsrs, doc(cfg(feature = "descriptors")))]
    #[track_caller]
    pub fn descriptors(mut self, file_descriptor_set: impl AsRef<[u8]>) -> Self {
        let descriptors = crate::protocol::descriptors::Descriptors::decode(
            file_descriptor_set.as_ref(),
            "TestServerBuilder::descriptors",
        );
        self.descriptors = Some(descriptors);
        self
    }

    /// How many bytes of messages the journal keeps, requests and responses together, over all
    /// calls ([`DEFAULT_JOURNAL_BYTE_LIMIT`], 32 MiB, unless set). Once a message does not fit,
    /// the journal counts the messages that follow, both ways, without keeping them, and says so
    /// where it prints; [`Call::request`](crate::journal::Call::request) or
    /// [`Call::response`](crate::journal::Call::response) for one of them panics saying why. The bound
    /// keeps a long stream from costing the test its size in memory.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_support::{Probe, ProbeClient, ProbeRequest};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server = TestServer::builder()
    ///     .add_service(Probe::new().server())
    ///     .journal_byte_limit(8)
    ///     .start()
    ///     .await;
    /// let mut client = server.client(ProbeClient::new);
    /// let text = |text: &str| ProbeRequest { text: text.into(), count: 0 };
    ///
    /// // Each message encodes to 7 bytes: the first fits in 8, the second does not.
    /// let messages = tokio_stream::iter([text("hello"), text("world")]);
    /// client.client_stream(messages).await.unwrap();
    ///
    /// let call = &server.calls()[0];
    /// assert_eq!(call.request_count(), 2);
    /// assert_eq!(call.request::<ProbeRequest>(0).text, "hello");
    /// # }
    /// ```
    pub fn journal_byte_limit(mut self, bytes: usize) -> Self {
        self.journal_byte_limit = bytes;
        self
    }

    /// Starts the server on the current tokio runtime. Over TCP the listener is bound before
    /// this returns, so the first call cannot fail for want of a server.
    ///
    /// # Panics
    ///
    /// - when no service was added;
    /// - over TCP, when no loopback port can be bound (the message carries the OS error);
    /// - when [`TONIC_TESTKIT_TRANSPORT`](crate::server::TRANSPORT_ENV) holds an invalid value and no
    ///   transport was chosen with [`transport`](TestServerBuilder::transport);
    /// - when TLS was asked for ([`tls`](TestServerBuilder::tls), [`mtls`](TestServerBuilder::mtls))
    ///   and the transport is [`Transport::Direct`];
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
        let tls = crate::tls::TlsMode::start(self.tls, transport, self.transport.is_none());
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
