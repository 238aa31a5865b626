//! The direct transport: the client calls the routed services in its own task.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
};

use http::{Request, Response, StatusCode};
use tokio::time::Sleep;
use tonic::{Status, TimeoutExpired, body::Body, transport::server::TcpConnectInfo};

use super::endpoint::{ChannelSettings, Failure};
use crate::{
    BoxError,
    engine::admission::ConnectionLimit,
    engine::call::{self, CallFuture},
    engine::shared::Shared,
};

/// One direct "connection": what a channel over [`Transport::Direct`](crate::Transport::Direct) holds.
///
/// It holds the server's shared state, never the services themselves, so a client that outlives
/// `shutdown()` cannot keep a mock alive. Its clones share its concurrency limit, as the clones
/// of a channel share its connection.
#[derive(Clone)]
pub(crate) struct DirectChannel {
    shared: Arc<Shared>,
    info: TcpConnectInfo,
    /// The server's concurrency limit for this channel's calls, as for one connection.
    limit: Option<ConnectionLimit>,
    /// What a tonic channel would do to each request (that of the kit's own endpoint, or of the
    /// one a test configured), or how it would fail them all.
    settings: Arc<Result<ChannelSettings, Failure>>,
}

impl DirectChannel {
    /// A channel that does what a channel from the kit's own endpoint does.
    pub(crate) fn new(shared: &Arc<Shared>) -> Self {
        Self::with_settings(shared, Ok(ChannelSettings::default()))
    }

    /// A channel that does what a channel with `settings` does.
    pub(crate) fn with_settings(
        shared: &Arc<Shared>,
        settings: Result<ChannelSettings, Failure>,
    ) -> Self {
        let info = super::memory::connect_info(shared);
        let limit = ConnectionLimit::new(&shared.settings);
        Self { shared: shared.clone(), info, limit, settings: Arc::new(settings) }
    }

    /// Makes the request look as it does after a real hop: the client's extensions stay behind,
    /// what a tonic channel adds is there (its origin, its user agent, its timeout), the
    /// connection info a server inserts is there, and a request body that fails on the client
    /// resets the call as it would over HTTP/2.
    pub(crate) fn call(&self, request: Request<Body>) -> DirectCall {
        let settings = match &*self.settings {
            Ok(settings) => settings,
            Err((code, message)) => {
                let status = Status::new(*code, message.clone());
                return DirectCall::Failed(Some(Box::new(status)));
            }
        };
        let (mut parts, body) = request.into_parts();
        parts.extensions.clear();
        parts.extensions.insert(self.info.clone());
        as_a_channel_sends(&mut parts, settings);
        // tonic's `GrpcTimeout`: the shorter of the request's deadline and the endpoint's
        // timeout, kept on the client side (the server sees only the request's `grpc-timeout`).
        // Without an endpoint timeout the request's deadline alone ends the call, and the
        // server's own enforcement of it answers what the client's would.
        let timeout = settings.timeout.map(|timeout| {
            crate::protocol::grpc_timeout(&parts.headers)
                .map_or(timeout, |deadline| deadline.min(timeout))
        });
        // hyper refuses a header list of the server's limit or more with 431, and closes the
        // connection (GOAWAY `ENHANCE_YOUR_CALM`) on one of more than four times the limit.
        let max = self.shared.settings.max_header_list_size();
        let size = header_list_size(&parts);
        let call = if !self.shared.lifecycle.is_closed() && size >= max {
            let answer = match size > max.saturating_mul(4) {
                true => Err(Status::resource_exhausted(crate::protocol::WAY_TOO_LARGE)),
                false => Ok(too_large()),
            };
            call::answer(&self.shared, answer)
        } else {
            let request = Request::from_parts(parts, body);
            call::serve_direct(&self.shared, request, self.limit.as_ref())
        };
        match timeout {
            None => DirectCall::Call(call),
            Some(timeout) => DirectCall::Timed(call, Box::pin(tokio::time::sleep(timeout))),
        }
    }
}

/// A direct call, as a tonic channel's client side would run it.
pub(crate) enum DirectCall {
    Call(CallFuture),
    /// A call under the endpoint's timeout: `TimeoutExpired` if the response headers are not
    /// there when the timer fires, as tonic's `GrpcTimeout` reports it.
    Timed(CallFuture, Pin<Box<Sleep>>),
    /// What the endpoint's channel fails every request with.
    Failed(Option<BoxError>),
}

impl Future for DirectCall {
    type Output = Result<Response<Body>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            DirectCall::Call(call) => Pin::new(call).poll(cx),
            DirectCall::Timed(call, timer) => {
                // The call first, as tonic polls it: an answer at the deadline wins.
                if let Poll::Ready(result) = Pin::new(call).poll(cx) {
                    return Poll::Ready(result);
                }
                ready!(timer.as_mut().poll(cx));
                Poll::Ready(Err(TimeoutExpired(()).into()))
            }
            DirectCall::Failed(error) => {
                Poll::Ready(Err(error.take().expect("DirectCall polled after it completed")))
            }
        }
    }
}

/// Gives a request what a tonic channel adds on its way to the server, so a handler or layer
/// sees over Direct what it sees over Memory: the channel's origin (tonic's `AddOrigin` replaces
/// the scheme and authority) and its user agent, after the client's own if it set one (tonic's
/// `UserAgent`). The generated client already set `te`, `content-type` and the path.
fn as_a_channel_sends(parts: &mut http::request::Parts, settings: &ChannelSettings) {
    let mut uri = std::mem::take(&mut parts.uri).into_parts();
    uri.scheme = Some(settings.scheme.clone());
    uri.authority = Some(settings.authority.clone());
    uri.path_and_query.get_or_insert_with(|| http::uri::PathAndQuery::from_static("/"));
    parts.uri = http::Uri::from_parts(uri).expect("a scheme, an authority and a path");
    let agent = match parts.headers.get(http::header::USER_AGENT) {
        None => settings.user_agent.clone(),
        Some(own) => {
            let agent = [own.as_bytes(), b" ", settings.user_agent.as_bytes()].concat();
            http::HeaderValue::from_bytes(&agent).expect("two valid header values and a space")
        }
    };
    parts.headers.insert(http::header::USER_AGENT, agent);
}

/// The size of the request's header list as HTTP/2 counts it (RFC 9113 6.5.2): each field's name
/// and value plus 32, pseudo-headers included.
fn header_list_size(request: &http::request::Parts) -> usize {
    let uri = &request.uri;
    let pseudo = [
        ("method", request.method.as_str()),
        ("scheme", uri.scheme_str().unwrap_or("")),
        ("authority", uri.authority().map_or("", |authority| authority.as_str())),
        ("path", uri.path_and_query().map_or("", |path| path.as_str())),
    ];
    let pseudo = pseudo.iter().filter(|(_, value)| !value.is_empty());
    let pseudo: usize = pseudo.map(|(name, value)| name.len() + 1 + value.len() + 32).sum();
    let fields = request.headers.iter();
    pseudo + fields.map(|(name, value)| name.as_str().len() + value.len() + 32).sum::<usize>()
}

/// What hyper's HTTP/2 server answers a request whose headers are too large.
fn too_large() -> Response<Body> {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE;
    response
}
