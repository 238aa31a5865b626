//! [`TestServerBuilder::start`]: what the test got wrong, checked at its `.start()` line, then
//! the server put together from what the builder holds and started on its transport.

use std::future::Future;

use bytes::Bytes;
use http::{Request, Response};
use tonic::body::Body;
use tower::{Layer, Service};

#[cfg(doc)]
use crate::Faults;
use crate::{
    BoxError, Stub, TestServer, TestServerBuilder, Transport, engine::shared::Shared,
    engine::stack::Stack as CallStack, journal::Journal, server::Services, transport::tcp,
};

impl<L> TestServerBuilder<L> {
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
}
