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

use super::{End, FaultBody, Faults};
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
            let status = Status::unavailable(crate::shared::SERVER_DOWN);
            return Box::pin(std::future::ready(Ok(status.into_http())));
        }
        let plan = self.faults.plan(request.uri().path(), request.headers());
        // The ready clone goes with the call; `self` keeps a fresh one, as tower asks.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let deadline = crate::call::grpc_timeout(request.headers());
        Box::pin(async move {
            let call = async move {
                if let Some(plan) = &plan {
                    if !plan.delay.is_zero() {
                        tokio::time::sleep(plan.delay).await;
                    }
                    match &plan.end {
                        Some(End::Fail(status)) => return Ok(status.clone().into_http()),
                        Some(End::Hang) => std::future::pending::<()>().await,
                        Some(End::DropConnection) => panic!(
                            "tonic-testkit: a fault rule asked to drop the connection of this \
                             call, and a channel wrapped with Faults::wrap cannot reach its \
                             connection; attach the Faults to a TestServer with \
                             .faults(&faults) over Transport::Memory or Transport::Tcp, or fail \
                             the call with .fail(..) instead"
                        ),
                        None => {}
                    }
                }
                let response = inner.call(request).await.map_err(Into::into)?;
                let (message_delay, cut) = match plan {
                    Some(plan) if plan.touches_body() => (plan.message_delay, plan.cut),
                    _ => return Ok(response.map(Body::new)),
                };
                Ok(response
                    .map(|body| Body::new(FaultBody::new(Body::new(body), message_delay, cut))))
            };
            match deadline {
                None => call.await,
                Some(deadline) => match tokio::time::timeout(deadline, call).await {
                    Ok(result) => result,
                    Err(_) => Ok(tonic::Status::cancelled("Timeout expired").into_http()),
                },
            }
        })
    }
}
