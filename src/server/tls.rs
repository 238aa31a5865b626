//! [`TestServer`]'s TLS (feature `tls`): its CA and client identities, and channels that present
//! a client certificate or a TLS configuration of the test's own.

use tonic::transport::ClientTlsConfig;

use crate::server::TRANSPORT_ENV;
use crate::tls::{ClientIdentity, TestTls, TlsMode, chain};
use crate::{TestChannel, TestServer, TestServerBuilder, Transport, transport::Security};

impl TestServer {
    /// The server's TLS: its throwaway CA (the PEM for clients outside the kit) and the client
    /// identities it mints. `None` for a server started without
    /// [`tls`](crate::TestServerBuilder::tls) or [`mtls`](crate::TestServerBuilder::mtls).
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
    /// let plain =
    ///     TestServer::builder().add_service(HelloServiceServer::new(Greeter)).start().await;
    /// let secure = TestServer::builder()
    ///     .transport(Transport::Memory)
    ///     .tls()
    ///     .add_service(HelloServiceServer::new(Greeter))
    ///     .start()
    ///     .await;
    ///
    /// assert!(plain.tls().is_none());
    /// assert!(secure.tls().unwrap().ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    /// # }
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls(&self) -> Option<&TestTls> {
        self.shared().tls.as_ref()
    }

    /// A new channel, with its own connection, that presents `identity` (minted by
    /// [`TestTls::client_identity`]) to this mTLS server; handlers see its certificate in
    /// `request.peer_certs()`.
    ///
    /// # Panics
    ///
    /// When the server was not started with [`mtls`](crate::TestServerBuilder::mtls): without
    /// TLS there is no certificate to present, and a [`tls`](crate::TestServerBuilder::tls)
    /// server does not ask for one.
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
    /// let server = TestServer::builder()
    ///     .transport(Transport::Memory)
    ///     .mtls()
    ///     .add_service(HelloServiceServer::new(Greeter))
    ///     .start()
    ///     .await;
    /// let bob = server.tls().unwrap().client_identity("bob");
    ///
    /// let mut client = HelloServiceClient::new(server.channel_with_identity(&bob));
    /// let reply = client.hello(HelloRequest { greeting: "Bob".into() }).await;
    ///
    /// assert_eq!(reply.unwrap().into_inner().reply, "Hello, Bob!");
    /// # }
    /// ```
    #[track_caller]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn channel_with_identity(&self, identity: &ClientIdentity) -> TestChannel {
        let tls = match self.tls() {
            Some(tls) if tls.is_mutual() => tls,
            found => panic!(
                "TestServer::channel_with_identity: the server was started {}, so it asks for no \
                 client certificate and would never see {:?}'s; start it with .mtls()",
                if found.is_some() { "with .tls()" } else { "without TLS" },
                identity.name()
            ),
        };
        let config = tls.client_tls_config().identity(identity.identity());
        self.channel_with_tls(config)
    }

    /// A new channel, with its own connection, whose TLS the test configures with tonic's
    /// [`ClientTlsConfig`]: for clients that must fail (one that trusts another CA, or presents
    /// no certificate, or one from another CA). Against a server without TLS it makes a TLS
    /// client that a plaintext server cannot answer.
    ///
    /// # Panics
    ///
    /// - over [`Transport::Direct`], which has no connection to secure;
    /// - when tonic rejects `config` (a malformed PEM); the message carries tonic's reason.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic::transport::{Certificate, ClientTlsConfig};
    /// use tonic_testkit::{TestServer, Transport};
    /// use tonic_testkit_examples::hello::Greeter;
    /// use tonic_testkit_examples::hello::pb::{
    ///     HelloRequest, hello_service_client::HelloServiceClient,
    ///     hello_service_server::HelloServiceServer,
    /// };
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// // Arrange: a client that trusts the CA but presents no certificate.
    /// let server = TestServer::builder()
    ///     .transport(Transport::Memory)
    ///     .mtls()
    ///     .add_service(HelloServiceServer::new(Greeter))
    ///     .start()
    ///     .await;
    /// let ca = Certificate::from_pem(server.tls().unwrap().ca_pem());
    /// let channel = server.channel_with_tls(ClientTlsConfig::new().ca_certificate(ca));
    ///
    /// // Act
    /// let mut client = HelloServiceClient::new(channel);
    /// let refused = client.hello(HelloRequest { greeting: "Ada".into() }).await;
    ///
    /// // Assert
    /// assert!(refused.is_err());
    /// # }
    /// ```
    #[track_caller]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn channel_with_tls(&self, config: ClientTlsConfig) -> TestChannel {
        assert!(
            self.transport() != Transport::Direct,
            "TestServer::channel_with_tls: a Transport::Direct server has no connection for TLS \
             to secure; serve over Transport::Memory or Transport::Tcp (with .tls() or .mtls())"
        );
        // A `match`, not `unwrap_or_else`: in a closure the panic would point at the kit.
        match self.wire_channel(&Security::tls(config), std::convert::identity) {
            Ok(channel) => channel,
            Err(error) => panic!(
                "TestServer::channel_with_tls: tonic rejected the ClientTlsConfig: {}; check the \
                 PEMs given to it",
                chain(&error)
            ),
        }
    }
}

impl<L> TestServerBuilder<L> {
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
    /// use tonic_testkit_examples::hello::Greeter;
    /// use tonic_testkit_examples::hello::pb::{
    ///     HelloRequest, hello_service_client::HelloServiceClient,
    ///     hello_service_server::HelloServiceServer,
    /// };
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// // Arrange
    /// let server = TestServer::builder()
    ///     .transport(Transport::Memory)
    ///     .tls()
    ///     .add_service(HelloServiceServer::new(Greeter))
    ///     .start()
    ///     .await;
    /// let mut client = server.client(HelloServiceClient::new); // trusts the server's CA
    ///
    /// // Act
    /// let reply = client.hello(HelloRequest { greeting: "over TLS".into() }).await;
    ///
    /// // Assert
    /// assert_eq!(reply.unwrap().into_inner().reply, "Hello, over TLS!");
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
    /// use tonic::{Request, Response, Status};
    /// use tonic_testkit::{TestServer, Transport};
    /// use tonic_testkit_examples::hello::pb::{
    ///     HelloRequest, HelloResponse, hello_service_client::HelloServiceClient,
    ///     hello_service_server::{HelloService, HelloServiceServer},
    /// };
    ///
    /// /// Answers with the size of the certificate chain the client presented.
    /// struct Whoami;
    ///
    /// #[tonic::async_trait]
    /// impl HelloService for Whoami {
    ///     async fn hello(
    ///         &self,
    ///         request: Request<HelloRequest>,
    ///     ) -> Result<Response<HelloResponse>, Status> {
    ///         let certs = request.peer_certs().ok_or_else(|| Status::unauthenticated("no cert"))?;
    ///         Ok(Response::new(HelloResponse { reply: format!("{} certificate(s)", certs.len()) }))
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// // Arrange
    /// let server = TestServer::builder()
    ///     .transport(Transport::Tcp)
    ///     .mtls()
    ///     .add_service(HelloServiceServer::new(Whoami))
    ///     .start()
    ///     .await;
    /// let alice = server.tls().unwrap().client_identity("alice");
    /// let mut client = HelloServiceClient::new(server.channel_with_identity(&alice));
    ///
    /// // Act
    /// let reply = client.hello(HelloRequest::default()).await.unwrap().into_inner();
    ///
    /// // Assert: the handler saw alice's certificate.
    /// assert_eq!(reply.reply, "1 certificate(s)");
    /// # }
    /// ```
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn mtls(mut self) -> Self {
        self.tls = Some(crate::tls::TlsMode::Mutual);
        self
    }
}

/// Makes the server's CA and certificates for a server over `transport` (`from_env`: the
/// transport is the default the environment chose) when the builder asked for TLS (`mode`).
/// It takes the `Option` itself, so that the builder calls it without a closure (as
/// `Option::map` would), which would make the panic point at the kit instead of the test.
///
/// # Panics
///
/// Over [`Transport::Direct`], which has no connection to encrypt.
#[track_caller]
pub(crate) fn start(
    mode: Option<TlsMode>,
    transport: Transport,
    from_env: bool,
) -> Option<TestTls> {
    let mode = mode?;
    if transport == Transport::Direct {
        let chosen = match from_env {
            true => format!(" (the default that {TRANSPORT_ENV}=direct chose)"),
            false => String::new(),
        };
        panic!(
            "tonic-testkit: TestServerBuilder::{name}() asks for TLS, and this server's \
             transport is Transport::Direct{chosen}, which has no connection to encrypt: its \
             calls are function calls in the test's task. Serve TLS over Transport::Memory or \
             Transport::Tcp: .transport(Transport::Memory).{name}()",
            name = mode.name()
        );
    }
    Some(TestTls::generate(mode == TlsMode::Mutual))
}
