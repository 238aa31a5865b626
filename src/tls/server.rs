//! The server side of a TLS connection: the handshake, and the connect info a tonic TLS server
//! gives its handlers.

use std::{
    io,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio_rustls::{TlsAcceptor, server::TlsStream};
use tonic::transport::server::{Connected, TcpConnectInfo, TlsConnectInfo};

/// Shakes hands on `io`; on success, the TLS stream and what a tonic TLS server inserts into
/// each request (`TlsConnectInfo<TcpConnectInfo>`: the addresses of `tcp` and the client's
/// certificates). A failed handshake gives `None` once the connection has ended, as on a tonic
/// server, with the alert that says why delivered to the client (see [`linger`]).
pub(crate) async fn accept<IO>(
    config: Arc<ServerConfig>,
    io: IO,
    tcp: TcpConnectInfo,
) -> Option<(TlsStream<Conn<IO>>, TlsConnectInfo<TcpConnectInfo>)>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    match TlsAcceptor::from(config).accept(Conn { io, tcp }).into_fallible().await {
        Ok(stream) => {
            let info = stream.connect_info();
            Some((stream, info))
        }
        Err((_, conn)) => {
            linger(conn.io).await;
            None
        }
    }
}

/// Closes a connection whose handshake failed so that the client reads the alert the server
/// sent (`CertificateRequired`, `UnknownCA`, ...): it ends the server's sending side after the
/// alert, and discards what the client still sends until the client closes. Dropping the
/// connection at once would fail the client's next write (memory) or reset the connection
/// (TCP) before the client reads the alert, and the client would report a bare "connection
/// closed" or "connection reset" instead of the reason. `shutdown()` ends the wait.
async fn linger<IO: AsyncRead + AsyncWrite + Unpin>(mut io: IO) {
    let _ = io.shutdown().await;
    let mut discard = [0; 4096];
    while matches!(io.read(&mut discard).await, Ok(read) if read > 0) {}
}

/// A connection's bytes, with the addresses tonic's `Connected` reports for it.
pub(crate) struct Conn<IO> {
    io: IO,
    tcp: TcpConnectInfo,
}

impl<IO> Connected for Conn<IO> {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.tcp.clone()
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Conn<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Conn<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, data)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
