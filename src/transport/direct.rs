//! The direct transport: the client calls the routed services in its own task.

use std::{
    future::Future,
    pin::Pin,
    sync::{Arc, OnceLock},
    task::{Context, Poll},
};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::Frame;
use tonic::{Status, body::Body, transport::server::TcpConnectInfo};

use crate::{
    BoxError,
    call::{self, CallFuture, Mode},
    shared::Shared,
};

/// What the server reads when the client resets the stream of a call, over HTTP/2.
const READ_RESET: &str = "h2 protocol error: error reading a body from connection";

/// One direct "connection": what a channel over [`Transport::Direct`](crate::Transport::Direct) holds.
///
/// It holds the server's shared state, never the services themselves, so a client that outlives
/// `shutdown()` cannot keep a mock alive.
#[derive(Clone)]
pub(crate) struct DirectChannel {
    shared: Arc<Shared>,
    info: TcpConnectInfo,
}

impl DirectChannel {
    pub(crate) fn new(shared: &Arc<Shared>) -> Self {
        Self { shared: shared.clone(), info: super::memory::connect_info(shared) }
    }

    /// Makes the request look as it does after a real hop: the client's extensions stay behind,
    /// the connection info a server inserts is there, and a request body that fails on the
    /// client resets the call as it would over HTTP/2.
    pub(crate) fn call(&self, request: Request<Body>) -> DirectCall {
        if !self.shared.is_closed() && header_list_size(&request) >= MAX_HEADER_LIST_SIZE {
            let call = call::answer(&self.shared, too_large());
            return DirectCall { call, reset: Reset::default() };
        }
        let (mut parts, body) = request.into_parts();
        parts.extensions.clear();
        parts.extensions.insert(self.info.clone());
        let reset = Reset::default();
        let body = Body::new(ClientBody { inner: body, reset: reset.clone() });
        let call = call::serve(&self.shared, Request::from_parts(parts, body), Mode::Direct);
        DirectCall { call, reset }
    }
}

/// The error that reset a call's stream: set when the client's request body fails (a message
/// over the client's `max_encoding_message_size`, a message that does not compress).
#[derive(Clone, Default)]
struct Reset(Arc<OnceLock<Status>>);

impl Reset {
    /// What the client gets once its stream was reset, as a tonic client reports a stream it
    /// reset itself: `INTERNAL "h2 protocol error: http2 error"`, with the client's own error as
    /// the source (over HTTP/2 only the reset reaches the client's call).
    fn status(&self) -> Option<Status> {
        let cause = self.0.get()?.clone();
        Some(call::stream_reset(Box::new(cause)))
    }
}

/// The client's request body as the server reads it: when it fails, the server reads the
/// reset a tonic server reads, not the client's error.
struct ClientBody {
    inner: Body,
    reset: Reset,
}

impl http_body::Body for ClientBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Err(status))) => {
                let _ = self.reset.0.set(status);
                Poll::Ready(Some(Err(Status::internal(READ_RESET))))
            }
            poll => poll,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// A direct call as its client sees it: the response, unless the client reset the stream.
pub(crate) struct DirectCall {
    call: CallFuture,
    reset: Reset,
}

impl Future for DirectCall {
    type Output = Result<Response<Body>, BoxError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let result = std::task::ready!(Pin::new(&mut self.call).poll(cx));
        if let Some(status) = self.reset.status() {
            return Poll::Ready(Err(Box::new(status)));
        }
        let reset = self.reset.clone();
        let body = |inner| Body::new(ResetBody { inner: Some(inner), reset });
        Poll::Ready(result.map(|response| response.map(body)))
    }
}

/// The response body of a direct call: it fails once the client reset the stream, as a stream
/// in progress does over HTTP/2.
struct ResetBody {
    /// `None` once the body has failed.
    inner: Option<Body>,
    reset: Reset,
}

impl http_body::Body for ResetBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        if let Some(status) = this.reset.status() {
            this.inner = None;
            return Poll::Ready(Some(Err(status)));
        }
        Pin::new(inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Some(inner) => self.reset.0.get().is_none() && inner.is_end_stream(),
            None => true,
        }
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match &self.inner {
            Some(inner) => inner.size_hint(),
            None => http_body::SizeHint::with_exact(0),
        }
    }
}

/// The `SETTINGS_MAX_HEADER_LIST_SIZE` a tonic server (hyper's HTTP/2 server) advertises and
/// enforces: a request whose headers reach it is answered `431` and never reaches a service.
const MAX_HEADER_LIST_SIZE: usize = 16 * 1024;

/// The size of the request's header list as HTTP/2 counts it (RFC 9113 6.5.2): each field's name
/// and value plus 32, pseudo-headers included.
fn header_list_size(request: &Request<Body>) -> usize {
    let uri = request.uri();
    let pseudo = [
        ("method", request.method().as_str()),
        ("scheme", uri.scheme_str().unwrap_or("")),
        ("authority", uri.authority().map_or("", |authority| authority.as_str())),
        ("path", uri.path_and_query().map_or("", |path| path.as_str())),
    ];
    let pseudo = pseudo.iter().filter(|(_, value)| !value.is_empty());
    let pseudo: usize = pseudo.map(|(name, value)| name.len() + 1 + value.len() + 32).sum();
    let fields = request.headers().iter();
    pseudo + fields.map(|(name, value)| name.as_str().len() + value.len() + 32).sum::<usize>()
}

/// What hyper's HTTP/2 server answers a request whose headers are too large.
fn too_large() -> Response<Body> {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE;
    response
}
