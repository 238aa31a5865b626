//! A client channel with faults: the rules of a [`Faults`] handle, applied before the call
//! leaves the client.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use http::{Request, Response};
use tonic::{Status, body::Body};
use tower::Service;

use super::Faults;
use crate::BoxError;

/// A client channel whose calls meet the rules of a [`Faults`] handle before they are sent:
/// made by [`Faults::wrap`]. Use it wherever the wrapped channel would go
/// (`XClient::new(faults.wrap(channel))`).
#[derive(Clone)]
pub struct FaultChannel<S> {
    faults: Faults,
    inner: S,
}

impl<S> FaultChannel<S> {
    pub(crate) fn new(faults: Faults, inner: S) -> Self {
        Self { faults, inner }
    }

    /// The wrapped channel.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S> fmt::Debug for FaultChannel<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultChannel").field("faults", &self.faults).finish_non_exhaustive()
    }
}

type Calling = Pin<Box<dyn Future<Output = Result<Response<Body>, BoxError>> + Send>>;

impl<S, B> Service<Request<Body>> for FaultChannel<S>
where
    S: Service<Request<Body>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = Calling;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<Body>) -> Calling {
        if self.faults.is_down() {
            let status = Status::unavailable(super::SERVER_DOWN);
            return Box::pin(std::future::ready(Ok(status.into_http())));
        }
        let plan = self.faults.plan(request.uri().path(), request.headers());
        // The ready clone goes with the call; `self` keeps a fresh one, as tower asks.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let deadline = crate::protocol::grpc_timeout(request.headers());
        Box::pin(async move {
            let call = async move {
                let call = async move {
                    let response = inner.call(request).await.map_err(Into::into)?;
                    Ok(response.map(Body::new))
                };
                let Some(plan) = plan else {
                    return call.await;
                };
                let drop_connection = || -> BoxError {
                    panic!(
                        "tonic-testkit: a fault rule asked to drop the connection of this call, \
                         and a channel wrapped with Faults::wrap cannot reach its connection; \
                         attach the Faults to a TestServer with .faults(&faults) over \
                         Transport::Memory or Transport::Tcp, or fail the call with .fail(..) \
                         instead"
                    )
                };
                plan.run(drop_connection, call).await
            };
            match deadline {
                None => call.await,
                Some(deadline) => match tokio::time::timeout(deadline, call).await {
                    Ok(result) => result,
                    Err(_) => {
                        Ok(tonic::Status::cancelled(crate::protocol::TIMEOUT_EXPIRED).into_http())
                    }
                },
            }
        })
    }
}
