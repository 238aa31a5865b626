//! The in-memory transport: one `tokio::io::duplex` pipe per HTTP/2 connection.

use std::{
    future::{Ready, ready},
    io,
    net::{Ipv4Addr, SocketAddr},
    sync::Arc,
    task::{Context, Poll},
};

use http::Uri;
use hyper_util::rt::TokioIo;
use tokio::io::DuplexStream;
use tonic::transport::{Channel, Endpoint, server::TcpConnectInfo};

use super::Security;
use crate::engine::shared::{SHUT_DOWN, Shared};
use crate::fault::SERVER_DOWN;

/// What handlers see as the server's address on in-process transports.
pub(crate) const IN_PROCESS_SERVER_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 50051);

/// How many bytes one direction of a pipe buffers before the writer waits for the reader.
const PIPE_BUFFER: usize = 256 * 1024;

/// The authority of the memory transport's endpoint: what a handler reads in the request's URI.
pub(crate) const AUTHORITY: &str = "localhost";

/// A lazily connecting channel: each (re)connect gets a fresh pipe, secured as `security` says,
/// with the settings `configure` gives the endpoint.
pub(crate) fn channel(
    shared: &Arc<Shared>,
    security: &Security,
    configure: impl FnOnce(Endpoint) -> Endpoint,
) -> Result<Channel, tonic::transport::Error> {
    let endpoint = configure(security.endpoint(AUTHORITY)?);
    Ok(endpoint.connect_with_connector_lazy(Connector(shared.clone())))
}

/// The connection info an in-process connection presents to handlers.
pub(crate) fn connect_info(shared: &Shared) -> TcpConnectInfo {
    let peer = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), shared.connections.next_peer_port());
    TcpConnectInfo { local_addr: Some(IN_PROCESS_SERVER_ADDR), remote_addr: Some(peer) }
}

#[derive(Clone)]
struct Connector(Arc<Shared>);

impl tower::Service<Uri> for Connector {
    type Response = TokioIo<DuplexStream>;
    type Error = io::Error;
    type Future = Ready<io::Result<TokioIo<DuplexStream>>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: Uri) -> Self::Future {
        ready(connect(&self.0))
    }
}

pub(crate) fn connect(shared: &Arc<Shared>) -> io::Result<TokioIo<DuplexStream>> {
    if shared.lifecycle.is_closed() {
        return Err(io::Error::new(io::ErrorKind::ConnectionRefused, SHUT_DOWN));
    }
    if shared.is_down() {
        return Err(io::Error::new(io::ErrorKind::ConnectionRefused, SERVER_DOWN));
    }
    let (client, server) = tokio::io::duplex(PIPE_BUFFER);
    super::serve_connection(shared, server, connect_info(shared));
    Ok(TokioIo::new(client))
}
