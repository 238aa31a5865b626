//! The direct transport: the client calls the routed services in its own task.

use std::sync::Arc;

use http::{Request, Response, StatusCode};
use tonic::{Status, body::Body, transport::server::TcpConnectInfo};

use crate::{
    admission::ConnectionLimit,
    call::{self, CallFuture},
    shared::Shared,
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
    limit: Option<ConnectionLimit>,
}

impl DirectChannel {
    pub(crate) fn new(shared: &Arc<Shared>) -> Self {
        let limit = ConnectionLimit::new(&shared.settings);
        Self { shared: shared.clone(), info: super::memory::connect_info(shared), limit }
    }

    /// Makes the request look as it does after a real hop: the client's extensions stay behind,
    /// the connection info a server inserts is there, and a request body that fails on the
    /// client resets the call as it would over HTTP/2.
    pub(crate) fn call(&self, request: Request<Body>) -> CallFuture {
        let (mut parts, body) = request.into_parts();
        parts.extensions.clear();
        parts.extensions.insert(self.info.clone());
        as_a_channel_sends(&mut parts);
        // hyper refuses a header list of the server's limit or more with 431, and closes the
        // connection (GOAWAY `ENHANCE_YOUR_CALM`) on one of more than four times the limit.
        let limit = self.shared.settings.max_header_list_size();
        let size = header_list_size(&parts);
        if !self.shared.is_closed() && size >= limit {
            let answer = match size > limit.saturating_mul(4) {
                true => Err(Status::resource_exhausted(WAY_TOO_LARGE)),
                false => Ok(too_large()),
            };
            return call::answer(&self.shared, answer);
        }
        call::serve_direct(&self.shared, Request::from_parts(parts, body), self.limit.as_ref())
    }
}

/// What a tonic client reports when the server closes the connection with `ENHANCE_YOUR_CALM`
/// (the code is h2's reason mapped to gRPC's).
const WAY_TOO_LARGE: &str = "h2 protocol error: http2 error";

/// The user agent a tonic 0.14 channel sends, alone or after the one the client set.
pub(crate) const TONIC_USER_AGENT: &str = "tonic/0.14.9";

/// Gives a request what a tonic channel adds on its way to the server, so a handler or layer
/// sees over Direct what it sees over Memory: the origin of the memory transport's endpoint
/// (`http://localhost`) and tonic's user agent, after the client's own if it set one. The
/// generated client already set `te`, `content-type` and the path.
fn as_a_channel_sends(parts: &mut http::request::Parts) {
    if parts.uri.scheme().is_none() || parts.uri.authority().is_none() {
        let mut uri = std::mem::take(&mut parts.uri).into_parts();
        uri.scheme = Some(http::uri::Scheme::HTTP);
        uri.authority = Some(http::uri::Authority::from_static(super::memory::AUTHORITY));
        uri.path_and_query.get_or_insert_with(|| http::uri::PathAndQuery::from_static("/"));
        parts.uri = http::Uri::from_parts(uri).expect("a scheme, an authority and a path");
    }
    let agent = match parts.headers.get(http::header::USER_AGENT) {
        None => http::HeaderValue::from_static(TONIC_USER_AGENT),
        Some(own) => {
            let agent = [own.as_bytes(), b" ", TONIC_USER_AGENT.as_bytes()].concat();
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
