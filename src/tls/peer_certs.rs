//! The `TlsConnectInfo` behind [`TestRequest::peer_certs`](crate::TestRequest::peer_certs).
//!
//! tonic's `TlsConnectInfo` has no constructor: only the server side of a finished TLS handshake
//! makes one. So a rustls client presenting the test's certificates shakes hands, in memory and
//! synchronously, with a `tokio_rustls` acceptor polled by a no-op waker.

use std::{
    collections::VecDeque,
    error::Error as StdError,
    io,
    pin::Pin,
    sync::{Arc, OnceLock},
    task::{Context, Poll, Waker},
};

use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, DistinguishedName, Error, RootCertStore,
    ServerConfig, SignatureScheme,
    client::{ResolvesClientCert, danger::HandshakeSignatureValid},
    crypto::ring,
    pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime},
    server::danger::{ClientCertVerified, ClientCertVerifier},
    sign::{CertifiedKey, SigningKey},
    version::TLS13,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::{TlsAcceptor, server::TlsStream};
use tonic::transport::server::{Connected, TcpConnectInfo, TlsConnectInfo};

/// Flights before giving up: TLS 1.3 with a client certificate needs two round trips.
const MAX_ROUNDS: usize = 8;

/// What a tonic TLS server inserts into a request whose client presented `certs` on a connection
/// with the addresses of `tcp`.
pub(crate) fn connect_info(
    tcp: TcpConnectInfo,
    certs: Vec<CertificateDer<'static>>,
) -> TlsConnectInfo<TcpConnectInfo> {
    let bytes: usize = certs.iter().map(|cert| cert.len()).sum();
    let chain = format!("{} certificate(s) of {bytes} bytes in all", certs.len());
    handshake(certs, tcp)
        .unwrap_or_else(|error| {
            panic!(
                "TestRequest::peer_certs: the in-memory TLS handshake that gives the request its \
                 TlsConnectInfo failed, presenting {chain}: {error}"
            )
        })
        .connect_info()
}

fn handshake(
    certs: Vec<CertificateDer<'static>>,
    tcp: TcpConnectInfo,
) -> Result<TlsStream<ServerSide>, Box<dyn StdError>> {
    let throwaway = throwaway();
    let name = ServerName::try_from("localhost").expect("a valid server name");
    let mut client = ClientConnection::new(client_config(certs, throwaway), name)?;
    let server = ServerSide { tcp, inbound: VecDeque::new(), outbound: VecDeque::new() };
    let mut accept = TlsAcceptor::from(throwaway.server.clone()).accept(server);
    for _ in 0..MAX_ROUNDS {
        let server = accept.get_mut().expect("the handshake is in progress");
        while client.wants_write() {
            client.write_tls(&mut server.inbound)?;
        }
        if let Poll::Ready(stream) =
            Pin::new(&mut accept).poll(&mut Context::from_waker(Waker::noop()))
        {
            return Ok(stream.map_err(|error| format!("on the server side: {error}"))?);
        }
        let server = accept.get_mut().expect("the handshake is in progress");
        while !server.outbound.is_empty() {
            client.read_tls(&mut server.outbound)?;
            client.process_new_packets().map_err(|error| format!("on the client side: {error}"))?;
        }
    }
    Err(format!("not finished after {MAX_ROUNDS} rounds").into())
}

/// The server's configuration and the client's signing key, made once per process.
struct Throwaway {
    server: Arc<ServerConfig>,
    server_roots: Arc<RootCertStore>,
    client_key: Arc<dyn SigningKey>,
}

fn throwaway() -> &'static Throwaway {
    static THROWAWAY: OnceLock<Throwaway> = OnceLock::new();
    THROWAWAY.get_or_init(|| {
        let rcgen::CertifiedKey { cert, signing_key } =
            rcgen::generate_simple_self_signed(["localhost".to_owned()])
                .expect("rcgen makes a self-signed certificate");
        let mut server_roots = RootCertStore::empty();
        server_roots.add(cert.der().clone()).expect("rustls takes rcgen's certificate");
        let key = PrivateKeyDer::from(signing_key);
        let client_key = ring::sign::any_supported_type(&key).expect("rustls takes rcgen's key");
        let server = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_protocol_versions(&[&TLS13])
            .expect("ring supports TLS 1.3")
            .with_client_cert_verifier(Arc::new(AnyClientCert))
            .with_single_cert(vec![cert.der().clone()], key)
            .expect("rcgen's certificate matches its key");
        Throwaway { server: Arc::new(server), server_roots: Arc::new(server_roots), client_key }
    })
}

fn client_config(certs: Vec<CertificateDer<'static>>, throwaway: &Throwaway) -> Arc<ClientConfig> {
    // The certificates need not match the key: the server side checks neither.
    let presented = CertifiedKey::new(certs, throwaway.client_key.clone());
    let config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_protocol_versions(&[&TLS13])
        .expect("ring supports TLS 1.3")
        .with_root_certificates(throwaway.server_roots.clone())
        .with_client_cert_resolver(Arc::new(Present(Arc::new(presented))));
    Arc::new(config)
}

/// The client's certificates, whatever the server asks for.
#[derive(Debug)]
struct Present(Arc<CertifiedKey>);

impl ResolvesClientCert for Present {
    fn resolve(&self, _: &[&[u8]], _: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// Requires a client certificate, as an mTLS server does, but accepts any chain and any
/// signature. Sound here: this handshake only builds a request's connect info in memory; no data
/// crosses it and nothing is authenticated by it.
#[derive(Debug)]
struct AnyClientCert;

impl ClientCertVerifier for AnyClientCert {
    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ECDSA_NISTP256_SHA256] // the scheme of the client's throwaway key
    }
}

/// The server's end of the in-memory connection; `connect_info()` gives the request's addresses.
struct ServerSide {
    tcp: TcpConnectInfo,
    inbound: VecDeque<u8>,  // from the client
    outbound: VecDeque<u8>, // to the client
}

impl Connected for ServerSide {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.tcp.clone()
    }
}

impl AsyncRead for ServerSide {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.inbound.is_empty() {
            return Poll::Pending; // the handshake loop polls again once the client has written
        }
        let read = io::Read::read(&mut self.inbound, buf.initialize_unfilled())?;
        buf.advance(read);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for ServerSide {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.outbound.extend(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
