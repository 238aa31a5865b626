//! The TCP transport: a listener bound to `127.0.0.1:0` and kept, so no other process can take
//! the port between choosing and binding it; TCP_NODELAY on both ends.

use std::{
    future::Future,
    io,
    net::{Ipv4Addr, SocketAddr},
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use http::Uri;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tonic::transport::{Channel, Endpoint, server::TcpConnectInfo};

use super::Security;
use crate::engine::shared::{SHUT_DOWN, Shared};
use crate::fault::SERVER_DOWN;

/// Binds the listener and starts accepting; returns the bound address.
pub(crate) async fn bind(shared: &Arc<Shared>) -> io::Result<SocketAddr> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let stopping = shared.stopping();
    let accepting = shared.clone();
    shared.spawn(async move {
        tokio::select! {
            () = stopping => {}
            () = accept(&accepting, &listener) => {}
        }
    });
    Ok(addr)
}

async fn accept(shared: &Arc<Shared>, listener: &TcpListener) {
    loop {
        match listener.accept().await {
            // A server taken down by a fault closes connections from elsewhere at once (its
            // own channels are refused before they connect).
            Ok(_) if shared.is_down() => {}
            Ok((stream, remote_addr)) => {
                // Without TCP_NODELAY the first call on a connection waits for a delayed ACK.
                let _ = stream.set_nodelay(true);
                let info = TcpConnectInfo {
                    local_addr: stream.local_addr().ok(),
                    remote_addr: Some(remote_addr),
                };
                super::serve_connection(shared, stream, info);
            }
            // Errors of one connection (reset before accept, out of descriptors) must not stop
            // the server; a short pause keeps a lasting error from spinning.
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(1)).await,
        }
    }
}

/// A lazily connecting channel to the server at `addr`, secured as `security` says, with the
/// settings `configure` gives the endpoint.
pub(crate) fn channel(
    shared: &Arc<Shared>,
    addr: SocketAddr,
    security: &Security,
    configure: impl FnOnce(Endpoint) -> Endpoint,
) -> Result<Channel, tonic::transport::Error> {
    let endpoint = configure(security.endpoint(&addr.to_string())?);
    Ok(endpoint.connect_with_connector_lazy(Connector { shared: shared.clone(), addr }))
}

#[derive(Clone)]
struct Connector {
    shared: Arc<Shared>,
    addr: SocketAddr,
}

type Connecting = Pin<Box<dyn Future<Output = io::Result<TokioIo<TcpStream>>> + Send>>;

impl tower::Service<Uri> for Connector {
    type Response = TokioIo<TcpStream>;
    type Error = io::Error;
    type Future = Connecting;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: Uri) -> Connecting {
        let (closed, down) = (self.shared.lifecycle.is_closed(), self.shared.is_down());
        let addr = self.addr;
        Box::pin(async move {
            if closed {
                return Err(io::Error::new(io::ErrorKind::ConnectionRefused, SHUT_DOWN));
            }
            if down {
                return Err(io::Error::new(io::ErrorKind::ConnectionRefused, SERVER_DOWN));
            }
            let stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            Ok(TokioIo::new(stream))
        })
    }
}
