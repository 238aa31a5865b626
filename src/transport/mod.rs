//! How a [`TestServer`](crate::TestServer) is reached: [`Transport`] and the code behind each kind.

pub(crate) mod direct;
pub(crate) mod endpoint;
pub(crate) mod memory;
pub(crate) mod tcp;

use std::{fmt, str::FromStr};

/// The environment variable that sets the default [`Transport`] for a whole test run.
///
/// Its values are `direct`, `memory` and `tcp`; unset, the default is [`Transport::Memory`].
/// Any other value makes [`Transport::from_env`] (and so every [`TestServer`](crate::TestServer)
/// start without an explicit `.transport(..)`) panic with a message that names the valid values.
pub const TRANSPORT_ENV: &str = "TONIC_TESTKIT_TRANSPORT";

/// How the client handed out by a [`TestServer`](crate::TestServer) reaches the services.
///
/// Every transport runs the same services behind the same layers, and the clients built on
/// [`TestChannel`](crate::TestChannel) are of the same type, so one test body can run over all
/// three:
///
/// | transport | what carries a call | sockets | HTTP/2 | handler panic |
/// |-----------|---------------------|---------|--------|---------------|
/// | [`Direct`](Transport::Direct) | a function call in the test's own task | none | no | unwinds into the test |
/// | [`Memory`](Transport::Memory) | an in-memory duplex pipe per connection | none | yes | `INTERNAL` to the client, test fails at shutdown |
/// | [`Tcp`](Transport::Tcp) | a loopback TCP connection | `127.0.0.1:0` | yes | `INTERNAL` to the client, test fails at shutdown |
///
/// The enum is `#[non_exhaustive]`: a later version may add a transport, so a `match` on one
/// needs a `_` arm; [`Transport::ALL`] lists those of this version.
///
/// # Examples
///
/// ```
/// use tonic_testkit::Transport;
///
/// for transport in Transport::ALL {
///     let parsed: Transport = transport.to_string().parse().unwrap();
///     assert_eq!(parsed, transport);
/// }
/// assert_eq!(Transport::default(), Transport::Memory);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Transport {
    /// No socket and no HTTP/2: the client calls the routed services in the caller's task.
    ///
    /// Messages are still encoded and decoded, client-side request extensions are dropped, the
    /// handler sees a loopback `remote_addr()`, and `grpc-timeout` is enforced with the status a
    /// tonic server gives (`CANCELLED "Timeout expired"`). A handler panic unwinds into the test
    /// with its own backtrace. A call still running when `shutdown()` ends is cut off where it
    /// runs, with the status a wire call gets when its server dies (`UNKNOWN "transport error"`,
    /// or mid-stream `UNKNOWN "h2 protocol error: error reading a body from connection"`).
    ///
    /// Of tonic's server settings, `timeout`, `concurrency_limit_per_connection` (a channel and
    /// its clones are one connection), `load_shed` and `http2_max_header_list_size` apply as
    /// over HTTP/2; the HTTP/2 connection settings make `start()` panic.
    Direct,
    /// HTTP/2 over an in-memory duplex pipe; each connection gets a fresh pipe. No port is used.
    #[default]
    Memory,
    /// HTTP/2 over TCP on `127.0.0.1`, on a port the kernel chose when the server bound it.
    Tcp,
}

impl Transport {
    /// Every transport, for tests that loop over them.
    pub const ALL: [Transport; 3] = [Transport::Direct, Transport::Memory, Transport::Tcp];

    /// The transport named by [`TONIC_TESTKIT_TRANSPORT`](TRANSPORT_ENV), or
    /// [`Transport::Memory`] when it is unset or empty.
    ///
    /// # Panics
    ///
    /// When the variable holds anything but `direct`, `memory` or `tcp`; the message names the
    /// value found and the valid ones.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::Transport;
    ///
    /// // `TONIC_TESTKIT_TRANSPORT=tcp cargo test` runs every test that uses the default over TCP.
    /// let transport = Transport::from_env();
    /// assert!(Transport::ALL.contains(&transport));
    /// ```
    #[track_caller]
    pub fn from_env() -> Transport {
        match std::env::var(TRANSPORT_ENV) {
            Ok(value) if value.is_empty() => Transport::default(),
            Ok(value) => match value.parse() {
                Ok(transport) => transport,
                Err(err) => panic!("{err}"),
            },
            Err(std::env::VarError::NotPresent) => Transport::default(),
            Err(std::env::VarError::NotUnicode(value)) => {
                panic!("{}", ParseTransportError(value.to_string_lossy().into_owned()))
            }
        }
    }

    /// The lower-case name used by [`TONIC_TESTKIT_TRANSPORT`](TRANSPORT_ENV).
    pub const fn name(self) -> &'static str {
        match self {
            Transport::Direct => "direct",
            Transport::Memory => "memory",
            Transport::Tcp => "tcp",
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Transport {
    type Err = ParseTransportError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Transport::ALL
            .into_iter()
            .find(|transport| transport.name().eq_ignore_ascii_case(value.trim()))
            .ok_or_else(|| ParseTransportError(value.to_owned()))
    }
}

/// A transport name that is not `direct`, `memory` or `tcp`.
///
/// # Examples
///
/// ```
/// use tonic_testkit::Transport;
///
/// let err = "quic".parse::<Transport>().unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "TONIC_TESTKIT_TRANSPORT=\"quic\" is not a transport: use one of direct, memory, tcp \
///      (or leave it unset for memory)",
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseTransportError(String);

impl fmt::Display for ParseTransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{TRANSPORT_ENV}={:?} is not a transport: use one of direct, memory, tcp \
             (or leave it unset for memory)",
            self.0
        )
    }
}

impl std::error::Error for ParseTransportError {}

/// How a client channel secures its connections: plain HTTP/2, or TLS as configured.
#[derive(Clone, Default)]
pub(crate) struct Security {
    #[cfg(feature = "tls")]
    tls: Option<tonic::transport::ClientTlsConfig>,
}

impl Security {
    /// TLS with `config`, over an `https://` endpoint.
    #[cfg(feature = "tls")]
    pub(crate) fn tls(config: tonic::transport::ClientTlsConfig) -> Self {
        Self { tls: Some(config) }
    }

    /// An endpoint for `authority` (`localhost`, `127.0.0.1:PORT`) with this security. Fails
    /// only on a TLS configuration that tonic rejects (a malformed PEM).
    pub(crate) fn endpoint(
        &self,
        authority: &str,
    ) -> Result<tonic::transport::Endpoint, tonic::transport::Error> {
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            let endpoint = tonic::transport::Endpoint::from_shared(format!("https://{authority}"))?;
            return endpoint.tls_config(tls.clone());
        }
        tonic::transport::Endpoint::from_shared(format!("http://{authority}"))
    }
}

/// What a tonic server inserts into each request of a connection: its addresses, and over TLS
/// the client's certificates too (`Request::remote_addr()` reads either).
#[derive(Clone)]
enum PeerInfo {
    Tcp(tonic::transport::server::TcpConnectInfo),
    #[cfg(feature = "tls")]
    Tls(tonic::transport::server::TlsConnectInfo<tonic::transport::server::TcpConnectInfo>),
}

impl PeerInfo {
    fn insert_into(&self, extensions: &mut http::Extensions) {
        match self {
            PeerInfo::Tcp(info) => {
                extensions.insert(info.clone());
            }
            #[cfg(feature = "tls")]
            PeerInfo::Tls(info) => {
                extensions.insert(info.clone());
            }
        }
    }
}

/// Serves one connection as a tonic server would, in a server task: the toxics of a `Faults`
/// handle on its raw bytes, the TLS handshake when the server has TLS, then HTTP/2 with
/// graceful shutdown when the server stops, and every per-call task spawned through the server
/// so that `shutdown()` can wait for it or abort it.
pub(crate) fn serve_connection<IO>(
    shared: &std::sync::Arc<crate::engine::shared::Shared>,
    io: IO,
    info: tonic::transport::server::TcpConnectInfo,
) where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    match &shared.faults {
        Some(faults) => secure(shared, faults.toxic_io(io), info),
        None => secure(shared, io, info),
    }
}

/// Serves `io` over TLS when the server has it, in the clear otherwise.
fn secure<IO>(
    shared: &std::sync::Arc<crate::engine::shared::Shared>,
    io: IO,
    info: tonic::transport::server::TcpConnectInfo,
) where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    #[cfg(feature = "tls")]
    if let Some(tls) = &shared.tls {
        let handshake = crate::tls::accept(tls.server_config(), io, info);
        let connecting = async move {
            let (stream, info) = handshake.await?;
            Some((stream, PeerInfo::Tls(info)))
        };
        return serve_io(shared, connecting);
    }
    serve_io(shared, std::future::ready(Some((io, PeerInfo::Tcp(info)))));
}

/// Serves the connection `connecting` resolves to (`None`: a failed handshake; nothing to
/// serve).
fn serve_io<IO, C>(shared: &std::sync::Arc<crate::engine::shared::Shared>, connecting: C)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    C: std::future::Future<Output = Option<(IO, PeerInfo)>> + Send + 'static,
{
    let connection = crate::engine::faults::ConnectionHandle::default();
    let handle = connection.clone();
    let executor = ServerExecutor(shared.clone());
    let (server, stopping) = (shared.clone(), shared.stopping());
    let task = shared.spawn(async move {
        tokio::pin!(stopping);
        let (io, info) = tokio::select! {
            connected = connecting => match connected {
                Some(connected) => connected,
                None => return,
            },
            () = &mut stopping => return,
        };
        // Each connection has its own concurrency limit, as on a tonic server.
        let limit = crate::engine::admission::ConnectionLimit::new(&server.settings);
        let http2 = server.settings.http2(executor);
        let service = WireService { shared: server, info, connection: handle, limit };
        let connection = http2.serve_connection(hyper_util::rt::TokioIo::new(io), service);
        tokio::pin!(connection);
        tokio::select! {
            _ = connection.as_mut() => {}
            () = stopping => {
                connection.as_mut().graceful_shutdown();
                let _ = connection.await;
            }
        }
    });
    if let Some(task) = task {
        let _ = connection.0.set(task.clone());
        shared.connections.add(task);
    }
}

/// The per-connection service: inserts the connection info and runs the call.
struct WireService {
    shared: std::sync::Arc<crate::engine::shared::Shared>,
    info: PeerInfo,
    connection: crate::engine::faults::ConnectionHandle,
    limit: Option<crate::engine::admission::ConnectionLimit>,
}

impl hyper::service::Service<http::Request<hyper::body::Incoming>> for WireService {
    type Response = http::Response<tonic::body::Body>;
    type Error = crate::BoxError;
    type Future = crate::engine::call::CallFuture;

    fn call(&self, request: http::Request<hyper::body::Incoming>) -> Self::Future {
        let mut request = request.map(tonic::body::Body::new);
        self.info.insert_into(request.extensions_mut());
        request.extensions_mut().insert(self.connection.clone());
        crate::engine::call::serve(&self.shared, request, self.limit.as_ref())
    }
}

/// Spawns hyper's per-call tasks as server tasks.
#[derive(Clone)]
struct ServerExecutor(std::sync::Arc<crate::engine::shared::Shared>);

impl<F> hyper::rt::Executor<F> for ServerExecutor
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    fn execute(&self, future: F) {
        self.0.spawn(future);
    }
}
