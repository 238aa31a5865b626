//! The direct transport: the client calls the routed services in its own task.

use std::sync::Arc;

use http::Request;
use tonic::{body::Body, transport::server::TcpConnectInfo};

use crate::{
    call::{self, CallFuture, Mode},
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
    /// and the connection info a server inserts is there.
    pub(crate) fn call(&self, request: Request<Body>) -> CallFuture {
        let (mut parts, body) = request.into_parts();
        parts.extensions.clear();
        parts.extensions.insert(self.info.clone());
        call::serve(&self.shared, Request::from_parts(parts, body), Mode::Direct)
    }
}
