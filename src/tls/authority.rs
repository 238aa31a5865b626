//! [`TestTls`] and [`ClientIdentity`]: the throwaway CA of one TLS test server, its server
//! certificate, and the client certificates it mints, all made in memory with rcgen.

use std::{
    fmt,
    net::{Ipv4Addr, Ipv6Addr},
    sync::Arc,
};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::{
    RootCertStore, ServerConfig,
    crypto::ring,
    pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer},
    server::WebPkiClientVerifier,
};
use tonic::transport::{Certificate, ClientTlsConfig, Identity};

/// The name in the client certificate that [`TestServer::channel`](crate::TestServer::channel)
/// presents to a server started with [`mtls`](crate::TestServerBuilder::mtls).
pub const DEFAULT_CLIENT_NAME: &str = "test-client";

/// The common name of every throwaway CA, before the digits that make each one's unique.
const CA_NAME: &str = "tonic-testkit throwaway CA";

/// The names the server certificate is valid for.
const SERVER_NAME: &str = "localhost";

/// The throwaway certificate authority of a TLS test server, and what a client needs to trust
/// the server and, under mTLS, to be trusted by it.
///
/// Each server started with [`tls`](crate::TestServerBuilder::tls) or
/// [`mtls`](crate::TestServerBuilder::mtls) makes its own CA at start, in memory (ECDSA P-256
/// keys, no files, no openssl), and a server certificate signed by it for `localhost`,
/// `127.0.0.1` and `::1`. [`TestServer::tls`](crate::TestServer::tls) hands it out:
///
/// - [`ca_pem`](TestTls::ca_pem) for a client outside the kit (another process, a Python grpcio
///   client, a plain tonic `Endpoint`) to trust the server;
/// - [`client_identity`](TestTls::client_identity) mints a client certificate and key, signed
///   by the CA, for a name of the test's choosing;
/// - [`client_tls_config`](TestTls::client_tls_config) is what the kit's own channels use.
///
/// Cloning is cheap: clones share one CA.
///
/// # Examples
///
/// ```
/// use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};
/// use tonic_testkit::{TestServer, Transport};
/// use tonic_testkit_examples::hello::Greeter;
/// use tonic_testkit_examples::hello::pb::{
///     HelloRequest, hello_service_client::HelloServiceClient,
///     hello_service_server::HelloServiceServer,
/// };
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// // Arrange: a TLS server on a real port, and a client built from the CA's PEM alone.
/// let server = TestServer::builder()
///     .transport(Transport::Tcp)
///     .tls()
///     .add_service(HelloServiceServer::new(Greeter))
///     .start()
///     .await;
/// let ca_pem = server.tls().unwrap().ca_pem();
/// let tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca_pem));
/// let endpoint = Endpoint::from(server.uri().unwrap()).tls_config(tls).unwrap();
/// let mut client = HelloServiceClient::new(endpoint.connect().await.unwrap());
///
/// // Act
/// let reply = client.hello(HelloRequest { greeting: "secret".into() }).await.unwrap();
///
/// // Assert
/// assert!(server.uri().unwrap().to_string().starts_with("https://127.0.0.1:"));
/// assert_eq!(reply.into_inner().reply, "Hello, secret!");
/// # }
/// ```
#[derive(Clone)]
pub struct TestTls {
    inner: Arc<Authority>,
}

struct Authority {
    mutual: bool,
    ca: CertifiedIssuer<'static, KeyPair>,
    ca_pem: String,
    default_identity: ClientIdentity,
    server_config: Arc<ServerConfig>,
}

impl TestTls {
    /// A new CA, a server certificate signed by it, and the server's rustls configuration:
    /// requiring client certificates signed by the CA when `mutual`.
    pub(crate) fn generate(mutual: bool) -> Self {
        let ca_key = new_key();
        let mut params = CertificateParams::default();
        // A name of its own, so that a certificate from another server's CA is from an unknown
        // issuer (`UnknownIssuer`), not a bad signature from a namesake.
        params.distinguished_name = common_name(&ca_name(&ca_key));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(params, ca_key).expect("rcgen signs a CA");
        let sans = vec![
            SanType::DnsName(SERVER_NAME.try_into().expect("an ASCII name")),
            SanType::IpAddress(Ipv4Addr::LOCALHOST.into()),
            SanType::IpAddress(Ipv6Addr::LOCALHOST.into()),
        ];
        let (server_cert, server_key) =
            leaf(&ca, SERVER_NAME, sans, ExtendedKeyUsagePurpose::ServerAuth);
        let server_config = server_config(mutual, ca.der(), server_cert, &server_key);
        let default_identity = ClientIdentity::mint(&ca, DEFAULT_CLIENT_NAME);
        let ca_pem = ca.pem();
        Self { inner: Arc::new(Authority { mutual, ca, ca_pem, default_identity, server_config }) }
    }

    /// The CA certificate, PEM-encoded: what a client outside the kit trusts to reach the
    /// server (`ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem))` in tonic,
    /// `grpc.ssl_channel_credentials(root_certificates=pem)` in Python).
    ///
    /// See [`TestTls`] for an example.
    pub fn ca_pem(&self) -> &str {
        &self.inner.ca_pem
    }

    /// The CA certificate, DER-encoded.
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
    ///     .transport(Transport::Memory)
    ///     .tls()
    ///     .add_service(HelloServiceServer::new(Greeter))
    ///     .start()
    ///     .await;
    ///
    /// let der = server.tls().unwrap().ca_der();
    ///
    /// assert_eq!(der[0], 0x30); // an ASN.1 SEQUENCE
    /// # }
    /// ```
    pub fn ca_der(&self) -> &CertificateDer<'static> {
        self.inner.ca.der()
    }

    /// Whether the server requires client certificates signed by this CA (it was started with
    /// [`mtls`](crate::TestServerBuilder::mtls)).
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
    ///     .transport(Transport::Memory)
    ///     .mtls()
    ///     .add_service(HelloServiceServer::new(Greeter))
    ///     .start()
    ///     .await;
    ///
    /// assert!(server.tls().unwrap().is_mutual());
    /// # }
    /// ```
    pub fn is_mutual(&self) -> bool {
        self.inner.mutual
    }

    /// Mints a new client certificate and key, signed by this CA, for `name`: the name is the
    /// certificate's common name and its subject alternative name (a URI when it contains
    /// `://`, as a SPIFFE ID does; a DNS name otherwise). Each call makes a new key.
    ///
    /// Present it with [`TestServer::channel_with_identity`](crate::TestServer::channel_with_identity),
    /// or hand its PEMs to a client outside the kit.
    ///
    /// # Panics
    ///
    /// When `name` is empty or not ASCII (a subject alternative name is ASCII).
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
    ///     .mtls()
    ///     .add_service(HelloServiceServer::new(Greeter))
    ///     .start()
    ///     .await;
    /// let alice = server.tls().unwrap().client_identity("alice");
    ///
    /// // Act
    /// let mut client = HelloServiceClient::new(server.channel_with_identity(&alice));
    /// let reply = client.hello(HelloRequest { greeting: "hi".into() }).await;
    ///
    /// // Assert
    /// assert_eq!(alice.name(), "alice");
    /// assert!(alice.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    /// assert!(alice.key_pem().starts_with("-----BEGIN PRIVATE KEY-----"));
    /// assert_eq!(reply.unwrap().into_inner().reply, "Hello, hi!");
    /// # }
    /// ```
    #[track_caller]
    pub fn client_identity(&self, name: &str) -> ClientIdentity {
        assert!(
            !name.is_empty() && name.is_ascii(),
            "TestTls::client_identity: {name:?} cannot name a client certificate: use a \
             non-empty ASCII name such as \"alice\" or \"spiffe://example.org/alice\" (it becomes \
             the subject alternative name, which is ASCII)"
        );
        ClientIdentity::mint(&self.inner.ca, name)
    }

    /// The client identity ([`DEFAULT_CLIENT_NAME`]) that the server's own channels present
    /// under mTLS.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::{TestServer, Transport};
    /// use tonic_testkit::tls::DEFAULT_CLIENT_NAME;
    /// use tonic_testkit_examples::hello::Greeter;
    /// use tonic_testkit_examples::hello::pb::hello_service_server::HelloServiceServer;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server = TestServer::builder()
    ///     .transport(Transport::Memory)
    ///     .mtls()
    ///     .add_service(HelloServiceServer::new(Greeter))
    ///     .start()
    ///     .await;
    ///
    /// assert_eq!(server.tls().unwrap().default_identity().name(), DEFAULT_CLIENT_NAME);
    /// # }
    /// ```
    pub fn default_identity(&self) -> &ClientIdentity {
        &self.inner.default_identity
    }

    /// The client configuration of the server's own channels: it trusts the CA and, under
    /// mTLS, presents the [default identity](TestTls::default_identity). Start from it to
    /// configure a tonic `Endpoint` to [`TestServer::uri`](crate::TestServer::uri).
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic::transport::Endpoint;
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
    ///     .transport(Transport::Tcp)
    ///     .mtls()
    ///     .add_service(HelloServiceServer::new(Greeter))
    ///     .start()
    ///     .await;
    /// let tls = server.tls().unwrap().client_tls_config();
    /// let endpoint = Endpoint::from(server.uri().unwrap()).tls_config(tls).unwrap();
    ///
    /// // Act
    /// let mut client = HelloServiceClient::new(endpoint.connect().await.unwrap());
    /// let reply = client.hello(HelloRequest { greeting: "hi".into() }).await;
    ///
    /// // Assert
    /// assert_eq!(reply.unwrap().into_inner().reply, "Hello, hi!");
    /// # }
    /// ```
    pub fn client_tls_config(&self) -> ClientTlsConfig {
        let config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(self.ca_pem()));
        match self.inner.mutual {
            true => config.identity(self.inner.default_identity.identity()),
            false => config,
        }
    }

    /// The server's rustls configuration.
    pub(crate) fn server_config(&self) -> Arc<ServerConfig> {
        self.inner.server_config.clone()
    }
}

impl fmt::Debug for TestTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestTls")
            .field("mutual", &self.inner.mutual)
            .field("ca", &CA_NAME)
            .field("server_names", &[SERVER_NAME, "127.0.0.1", "::1"])
            .finish_non_exhaustive()
    }
}

/// A client certificate and its private key, signed by a test server's CA: made by
/// [`TestTls::client_identity`].
///
/// [`TestServer::channel_with_identity`](crate::TestServer::channel_with_identity) presents it;
/// [`cert_pem`](ClientIdentity::cert_pem) and [`key_pem`](ClientIdentity::key_pem) hand it to a
/// client outside the kit (`grpc.ssl_channel_credentials(root, key_pem, cert_pem)` in Python);
/// [`cert_der`](ClientIdentity::cert_der) is what a handler finds in `request.peer_certs()`.
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
///     .transport(Transport::Memory)
///     .mtls()
///     .add_service(HelloServiceServer::new(Greeter))
///     .start()
///     .await;
///
/// let bob = server.tls().unwrap().client_identity("bob");
///
/// assert_eq!(bob.name(), "bob");
/// assert!(bob.cert_pem().contains("BEGIN CERTIFICATE"));
/// let _for_tonic: tonic::transport::Identity = bob.identity();
/// # }
/// ```
#[derive(Clone)]
pub struct ClientIdentity {
    name: String,
    cert_der: CertificateDer<'static>,
    cert_pem: String,
    key_pem: String,
}

impl ClientIdentity {
    fn mint(ca: &Issuer<'_, KeyPair>, name: &str) -> Self {
        let san = match name.contains("://") {
            true => SanType::URI(name.try_into().expect("an ASCII name")),
            false => SanType::DnsName(name.try_into().expect("an ASCII name")),
        };
        let (cert, key) = leaf(ca, name, vec![san], ExtendedKeyUsagePurpose::ClientAuth);
        Self {
            name: name.to_owned(),
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            key_pem: key.serialize_pem(),
        }
    }

    /// The name the certificate was minted for (its common name and alternative name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The certificate, PEM-encoded.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The private key, PEM-encoded (PKCS#8).
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// The certificate, DER-encoded: what a handler finds first in `request.peer_certs()`
    /// when a client presents this identity.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// The certificate and key as a tonic [`Identity`], for
    /// `ClientTlsConfig::identity(..)`.
    pub fn identity(&self) -> Identity {
        Identity::from_pem(&self.cert_pem, &self.key_pem)
    }
}

impl fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientIdentity").field("name", &self.name).finish_non_exhaustive()
    }
}

fn new_key() -> KeyPair {
    KeyPair::generate().expect("ring generates an ECDSA P-256 key")
}

/// `tonic-testkit throwaway CA 3f2a9c01`: the digits are the start of the key's public point.
fn ca_name(key: &KeyPair) -> String {
    let point = key.public_key_raw().iter().skip(1).take(4); // after the 0x04 prefix
    let digits: String = point.map(|byte| format!("{byte:02x}")).collect();
    format!("{CA_NAME} {digits}")
}

fn common_name(name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    dn
}

/// A certificate for `name` with `sans`, for one usage, signed by `ca`; and its key.
fn leaf(
    ca: &Issuer<'_, KeyPair>,
    name: &str,
    sans: Vec<SanType>,
    usage: ExtendedKeyUsagePurpose,
) -> (rcgen::Certificate, KeyPair) {
    let key = new_key();
    let mut params = CertificateParams::default();
    params.distinguished_name = common_name(name);
    params.subject_alt_names = sans;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![usage];
    params.use_authority_key_identifier_extension = true;
    let cert = params.signed_by(&key, ca).expect("rcgen signs a certificate with the CA");
    (cert, key)
}

/// What a tonic server with `ServerTlsConfig` builds: the certificate, h2 by ALPN, and under
/// mTLS a verifier that requires a client certificate signed by the CA.
fn server_config(
    mutual: bool,
    ca: &CertificateDer<'static>,
    cert: rcgen::Certificate,
    key: &KeyPair,
) -> Arc<ServerConfig> {
    let provider = Arc::new(ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions");
    let builder = if mutual {
        let mut roots = RootCertStore::empty();
        roots.add(ca.clone()).expect("rustls takes rcgen's CA certificate");
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .expect("a verifier with one root builds");
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let key = PrivateKeyDer::from(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let mut config = builder
        .with_single_cert(vec![cert.der().clone()], key)
        .expect("rcgen's certificate matches its key");
    config.alpn_protocols = vec![b"h2".to_vec()];
    Arc::new(config)
}
