//! The set-ups a careful engineer writes with plain tonic, one per transport: what the kit is
//! measured against.
//!
//! Each is the best plain-tonic code for its transport: the generated client over the generated
//! server for direct calls; `tokio::io::duplex` pipes fed to `serve_with_incoming_shutdown` with
//! a connector that makes a fresh pipe per connect for memory; a listener bound on `127.0.0.1:0`
//! and kept, with TCP_NODELAY on both ends, for TCP.

#![allow(dead_code)] // each benchmark uses its own subset

use std::{
    convert::Infallible,
    future::Future,
    io,
    net::SocketAddr,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use hyper_util::rt::TokioIo;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::{
    body::Body,
    transport::{
        Channel, Endpoint, Server,
        server::{TcpConnectInfo, TcpIncoming},
    },
};
use tonic_testkit::Transport;
use tonic_testkit_support::{Probe, ProbeClient, ProbeServer};

/// How many bytes one direction of a pipe buffers (the kit uses the same).
const PIPE_BUFFER: usize = 256 * 1024;

/// A client of a hand-written server, and what it takes to stop the server.
pub enum HandClient {
    /// The generated client over the generated server: no server to stop.
    Direct(ProbeClient<ProbeServer<Probe>>),
    /// The generated client over the generated server behind [`Mended`].
    Mended(ProbeClient<Mended>),
    /// A client over a channel, the shutdown signal and the server task.
    Wire(ProbeClient<Channel>, oneshot::Sender<()>, JoinHandle<()>),
}

impl HandClient {
    /// Starts a server for a fresh probe over `transport` and connects a client.
    pub async fn start(transport: Transport) -> HandClient {
        match transport {
            Transport::Direct => HandClient::Direct(ProbeClient::new(Probe::new().server())),
            Transport::Memory => memory(),
            Transport::Tcp => tcp().await,
            other => unreachable!("no hand-written set-up over {other:?}"),
        }
    }

    /// A direct client of a fresh probe behind [`Mended`].
    pub fn mended() -> HandClient {
        HandClient::Mended(ProbeClient::new(Mended(Probe::new().server())))
    }
}

/// The generated server with the three things a direct call lacks next to a served one, written
/// by hand as a careful engineer would: the client's request extensions do not reach the
/// handler, the handler sees a peer address (`remote_addr()`), and the client's `grpc-timeout`
/// is enforced with the status a tonic server gives an expired deadline.
#[derive(Clone)]
pub struct Mended(ProbeServer<Probe>);

impl tower::Service<http::Request<Body>> for Mended {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let (mut parts, body) = request.into_parts();
        parts.extensions.clear();
        let peer = SocketAddr::from(([127, 0, 0, 1], 40_001));
        let local = SocketAddr::from(([127, 0, 0, 1], 50_051));
        parts
            .extensions
            .insert(TcpConnectInfo { local_addr: Some(local), remote_addr: Some(peer) });
        let deadline = grpc_timeout(&parts.headers);
        let call = self.0.call(http::Request::from_parts(parts, body));
        Box::pin(async move {
            match deadline {
                None => call.await,
                Some(after) => match tokio::time::timeout(after, call).await {
                    Ok(answer) => answer,
                    Err(_) => Ok(tonic::Status::cancelled("Timeout expired").into_http()),
                },
            }
        })
    }
}

/// The deadline in `grpc-timeout` (digits and a unit), as a tonic server reads it.
fn grpc_timeout(headers: &http::HeaderMap) -> Option<Duration> {
    let value = headers.get("grpc-timeout")?.to_str().ok()?;
    let (amount, unit) = value.split_at(value.len().checked_sub(1)?);
    let amount: u64 = amount.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount * 3600),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

impl HandClient {
    /// Stops the server, after the client is gone, and waits for the server task to end.
    pub async fn shutdown(self) {
        if let HandClient::Wire(client, stop, server) = self {
            drop(client);
            let _ = stop.send(());
            server.await.expect("the hand-written server task ended cleanly");
        }
    }
}

fn memory() -> HandClient {
    let (pipes, incoming) = tokio::sync::mpsc::unbounded_channel::<io::Result<_>>();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        Server::builder()
            .add_service(Probe::new().server())
            .serve_with_incoming_shutdown(UnboundedReceiverStream::new(incoming), async {
                let _ = stopped.await;
            })
            .await
            .expect("the hand-written memory server ran");
    });
    let channel = Endpoint::from_static("http://localhost").connect_with_connector_lazy(
        tower::service_fn(move |_| {
            let (client, server) = tokio::io::duplex(PIPE_BUFFER);
            let sent = pipes.send(Ok(server));
            async move {
                sent.map_err(|_| io::Error::from(io::ErrorKind::ConnectionRefused))?;
                Ok::<_, io::Error>(TokioIo::new(client))
            }
        }),
    );
    HandClient::Wire(ProbeClient::new(channel), stop, server)
}

async fn tcp() -> HandClient {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
    let addr: SocketAddr = listener.local_addr().expect("the bound address");
    let (stop, stopped) = oneshot::channel::<()>();
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let server = tokio::spawn(async move {
        Server::builder()
            .add_service(Probe::new().server())
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stopped.await;
            })
            .await
            .expect("the hand-written TCP server ran");
    });
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .expect("a valid URI")
        .tcp_nodelay(true)
        .connect_lazy();
    HandClient::Wire(ProbeClient::new(channel), stop, server)
}

/// One unary call with an empty request; panics on any failure, so a broken set-up cannot pass
/// for a fast one.
#[macro_export]
macro_rules! unary_call {
    ($client:expr) => {{
        let reply = $client
            .unary(tonic_testkit_support::ProbeRequest::default())
            .await
            .expect("the unary call succeeded");
        assert_eq!(reply.into_inner().index, 0);
    }};
}

/// A server stream of `$count` small messages, read to its end; asserts every one arrived.
#[macro_export]
macro_rules! stream_call {
    ($client:expr, $count:expr) => {{
        let request = tonic_testkit_support::ProbeRequest { text: String::new(), count: $count };
        let mut stream =
            $client.server_stream(request).await.expect("the stream started").into_inner();
        let mut received = 0;
        while let Some(reply) = stream.message().await.expect("the stream went on") {
            assert_eq!(reply.index, received);
            received += 1;
        }
        assert_eq!(received, $count, "every message of the stream arrived");
    }};
}

impl HandClient {
    /// One unary call.
    pub async fn unary(&mut self) {
        match self {
            HandClient::Direct(client) => unary_call!(client),
            HandClient::Mended(client) => unary_call!(client),
            HandClient::Wire(client, ..) => unary_call!(client),
        }
    }

    /// A server stream of `count` messages.
    pub async fn stream(&mut self, count: u32) {
        match self {
            HandClient::Direct(client) => stream_call!(client, count),
            HandClient::Mended(client) => stream_call!(client, count),
            HandClient::Wire(client, ..) => stream_call!(client, count),
        }
    }
}
