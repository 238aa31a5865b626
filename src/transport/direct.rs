//! The direct transport: the client calls the routed services in its own task.

use std::sync::Arc;

use http::{Request, Response, StatusCode};
use tonic::{body::Body, transport::server::TcpConnectInfo};

use crate::{
    call::{self, CallFuture},
    shared::Shared,
};

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
    pub(crate) fn call(&self, request: Request<Body>) -> CallFuture {
        if !self.shared.is_closed() && header_list_size(&request) >= MAX_HEADER_LIST_SIZE {
            return call::answer(&self.shared, too_large());
        }
        let (mut parts, body) = request.into_parts();
        parts.extensions.clear();
        parts.extensions.insert(self.info.clone());
        call::serve_direct(&self.shared, Request::from_parts(parts, body))
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
