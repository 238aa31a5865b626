//! [`TestServer`]'s TLS (feature `tls`): its CA and client identities, and channels that present
//! a client certificate or a TLS configuration of the test's own.

use tonic::transport::ClientTlsConfig;

use crate::tls::{ClientIdentity, TestTls, chain};
use crate::{TestChannel, TestServer, Transport, transport::Security};

impl TestServer {
    /// The server's TLS: its throwaway CA (the PEM for clients outside the kit) and the client
    /// identities it mints. `None` for a server started without
    /// [`tls`](crate::TestServerBuilder::tls) or [`mtls`](crate::TestServerBuilder::mtls).
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::{TestServer, Transport};
    /// use tonic_testkit_support::Probe;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let plain = TestServer::builder().add_service(Probe::new().server()).start().await;
    /// let secure = TestServer::builder()
    ///     .transport(Transport::Memory)
    ///     .tls()
    ///     .add_service(Probe::new().server())
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
    /// See [`TestServerBuilder::mtls`](crate::TestServerBuilder::mtls).
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
    /// use tonic_testkit_support::{Probe, ProbeClient, ProbeRequest};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// // Arrange: a client that trusts the CA but presents no certificate.
    /// let server = TestServer::builder()
    ///     .transport(Transport::Memory)
    ///     .mtls()
    ///     .add_service(Probe::new().server())
    ///     .start()
    ///     .await;
    /// let ca = Certificate::from_pem(server.tls().unwrap().ca_pem());
    /// let channel = server.channel_with_tls(ClientTlsConfig::new().ca_certificate(ca));
    ///
    /// // Act
    /// let refused = ProbeClient::new(channel).unary(ProbeRequest::default()).await;
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
