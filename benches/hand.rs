//! The set-ups a careful engineer writes with plain tonic, one per transport: what the kit is
//! measured against.
//!
//! Each is the best plain-tonic code for its transport: the generated client over the generated
//! server for direct calls; `tokio::io::duplex` pipes fed to `serve_with_incoming_shutdown` with
//! a connector that makes a fresh pipe per connect for memory; a listener bound on `127.0.0.1:0`
//! and kept, with TCP_NODELAY on both ends, for TCP.

#![allow(dead_code)] // each benchmark uses its own subset

use std::{io, net::SocketAddr};

use hyper_util::rt::TokioIo;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::transport::{Channel, Endpoint, Server, server::TcpIncoming};
use tonic_testkit::Transport;
use tonic_testkit_support::{Probe, ProbeClient, ProbeServer};

/// How many bytes one direction of a pipe buffers (the kit uses the same).
const PIPE_BUFFER: usize = 256 * 1024;

/// A client of a hand-written server, and what it takes to stop the server.
pub enum HandClient {
    /// The generated client over the generated server: no server to stop.
    Direct(ProbeClient<ProbeServer<Probe>>),
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
        }
    }

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
            HandClient::Wire(client, ..) => unary_call!(client),
        }
    }

    /// A server stream of `count` messages.
    pub async fn stream(&mut self, count: u32) {
        match self {
            HandClient::Direct(client) => stream_call!(client, count),
            HandClient::Wire(client, ..) => stream_call!(client, count),
        }
    }
}
