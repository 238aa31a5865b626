//! [`TestChannel`]: one client-side channel type for every transport.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use http::{Request, Response};
use tonic::{body::Body, transport::Channel};

use crate::{
    BoxError,
    engine::shared::{SHUT_DOWN, Shared},
    transport::direct::{DirectCall, DirectChannel},
};

/// The channel a [`TestServer`](crate::TestServer) hands out: it works with every
/// tonic-generated client, over every [`Transport`](crate::Transport).
///
/// Over [`Memory`](crate::Transport::Memory) and [`Tcp`](crate::Transport::Tcp) it is a tonic
/// [`Channel`] that connects on first use (and reconnects after a broken connection), so the
/// first call never fails because the server is not up yet: the server is listening before
/// [`start`](crate::TestServerBuilder::start) returns. To a TLS server it connects over TLS,
/// trusting the server's throwaway CA (and under mTLS presenting a client certificate). Over
/// [`Direct`](crate::Transport::Direct) it calls the services in the caller's task.
///
/// Each [`TestServer::channel`](crate::TestServer::channel) opens its own connection; clones of
/// one `TestChannel` share theirs. A `TestChannel` is `Clone + Send + Sync + 'static`, so clients
/// can move into spawned tasks. After the server shuts down, calls fail with `UNAVAILABLE` and a
/// message saying the server was shut down; after the tokio runtime the server was started on
/// has shut down (a server kept across tests), with `UNAVAILABLE` and a message saying that.
///
/// # Examples
///
/// ```
/// use tonic_testkit::{TestChannel, TestServer};
/// use tonic_testkit_examples::hello::Greeter;
/// use tonic_testkit_examples::hello::pb::{
///     HelloRequest, hello_service_client::HelloServiceClient,
///     hello_service_server::HelloServiceServer,
/// };
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let server =
///     TestServer::builder().add_service(HelloServiceServer::new(Greeter)).start().await;
/// let channel: TestChannel = server.channel();
/// let mut first = HelloServiceClient::new(channel.clone());
/// let mut second = HelloServiceClient::new(channel);
///
/// let a = first.hello(HelloRequest { greeting: "a".into() }).await.unwrap();
/// let b = second.hello(HelloRequest { greeting: "b".into() }).await.unwrap();
///
/// assert_eq!(a.into_inner().reply, "Hello, a!");
/// assert_eq!(b.into_inner().reply, "Hello, b!");
/// # }
/// ```
#[derive(Clone)]
pub struct TestChannel {
    inner: Inner,
    shared: Arc<Shared>,
    /// What `poll_ready` found for the `call` that follows: `Some(None)`, the server takes it.
    refusal: Option<Option<&'static str>>,
}

#[derive(Clone)]
enum Inner {
    Wire(Channel),
    Direct(DirectChannel),
}

impl TestChannel {
    pub(crate) fn wire(channel: Channel, shared: &Arc<Shared>) -> Self {
        Self { inner: Inner::Wire(channel), shared: shared.clone(), refusal: None }
    }

    pub(crate) fn direct(channel: DirectChannel, shared: &Arc<Shared>) -> Self {
        Self { inner: Inner::Direct(channel), shared: shared.clone(), refusal: None }
    }
}

impl fmt::Debug for TestChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.inner {
            Inner::Wire(_) => "http2",
            Inner::Direct(_) => "direct",
        };
        f.debug_struct("TestChannel").field("kind", &kind).finish()
    }
}

impl tower::Service<Request<Body>> for TestChannel {
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        let refusal = *self.refusal.get_or_insert_with(|| refusal(&self.shared));
        match &mut self.inner {
            // A refused call never reaches the wire: `call` answers it.
            Inner::Wire(_) if refusal.is_some() => Poll::Ready(Ok(())),
            Inner::Wire(channel) => channel.poll_ready(cx).map_err(Into::into),
            Inner::Direct(_) => Poll::Ready(Ok(())),
        }
    }

    fn call(&mut self, request: Request<Body>) -> ResponseFuture {
        let refusal = self.refusal.take().unwrap_or_else(|| refusal(&self.shared));
        if let Some(message) = refusal {
            let response = tonic::Status::unavailable(message).into_http();
            return ResponseFuture(Kind::Answered(Some(response)));
        }
        ResponseFuture(match &mut self.inner {
            Inner::Wire(channel) => Kind::Wire(channel.call(request)),
            Inner::Direct(channel) => Kind::Direct(channel.call(request)),
        })
    }
}

/// Why a call cannot reach the server: it was shut down (or dropped), or its runtime has shut
/// down. A wire channel's connection may not have seen the server go yet (a client that made
/// calls before), so the channel answers for it, as it answers a fresh client.
fn refusal(shared: &Shared) -> Option<&'static str> {
    match shared.lifecycle.is_closed() {
        true => Some(SHUT_DOWN),
        false => shared.lifecycle.runtime_gone(),
    }
}

/// The response future of a [`TestChannel`] call.
pub struct ResponseFuture(Kind);

// A direct call's future lives inline: boxing it would cost an allocation per call
// (benches/overhead.rs).
enum Kind {
    Wire(tonic::transport::channel::ResponseFuture),
    Direct(DirectCall),
    Answered(Option<Response<Body>>),
}

impl fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl Future for ResponseFuture {
    type Output = Result<Response<Body>, BoxError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.0 {
            Kind::Wire(future) => Pin::new(future).poll(cx).map_err(Into::into),
            Kind::Direct(future) => Pin::new(future).poll(cx),
            Kind::Answered(response) => {
                Poll::Ready(Ok(response.take().expect("ResponseFuture polled after it completed")))
            }
        }
    }
}
