//! [`Stack`]: a server's services behind the test's layers, as one type the call path calls.

use std::{
    any::Any,
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll, Waker},
};

use bytes::Bytes;
use http::{Request, Response};
use tonic::body::Body;
use tower::{Service, ServiceExt};

use crate::{
    BoxError,
    engine::router::{Services, ServicesFuture},
    sync::lock,
};

pub(crate) type BoxFuture = Pin<Box<dyn Future<Output = Result<Response<Body>, BoxError>> + Send>>;

/// The services, called as they are when the test added no layer (no boxing, no lock), or
/// behind the test's layers. The first is a fast path the direct call's 3 µs ceiling needs
/// (benches/README.md): one allocation a call.
#[derive(Clone)]
pub(crate) enum Stack {
    Plain(Services),
    Layered(Arc<dyn Layered>),
}

impl Stack {
    /// The stack for `service`, the routed services as the test's layers wrap them; with
    /// `load_shed`, a call that finds the layers not ready is refused, as tonic's `LoadShed`
    /// (in front of the layers) refuses it.
    pub(crate) fn new<S, B>(service: S, load_shed: bool) -> Self
    where
        S: Service<Request<Body>, Response = Response<B>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let mut service = Some(service);
        if let Some(services) = (&mut service as &mut dyn Any).downcast_mut::<Option<Services>>() {
            return Stack::Plain(services.take().expect("the service is there"));
        }
        let service = Mutex::new(service.expect("the service is there"));
        Stack::Layered(Arc::new(Layers { service, load_shed }))
    }

    /// Calls the services with `request`.
    pub(crate) fn call(&self, request: Request<Body>) -> StackFuture {
        match self {
            Stack::Plain(services) => StackFuture::Plain(services.dispatch(request)),
            Stack::Layered(layered) => StackFuture::Boxed(layered.call(request)),
        }
    }
}

/// The response future of a [`Stack`].
pub(crate) enum StackFuture {
    Plain(ServicesFuture),
    Boxed(BoxFuture),
}

impl Future for StackFuture {
    type Output = Result<Response<Body>, BoxError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut *self {
            StackFuture::Plain(future) => {
                let Ok(response) = std::task::ready!(Pin::new(future).poll(cx));
                Poll::Ready(Ok(response))
            }
            StackFuture::Boxed(future) => future.as_mut().poll(cx),
        }
    }
}

/// The services behind the test's layers, of whatever type the layers make.
pub(crate) trait Layered: Send + Sync {
    fn call(&self, request: Request<Body>) -> BoxFuture;
}

/// The services behind the test's layers, and whether a call that finds them not ready is
/// refused.
struct Layers<S> {
    service: Mutex<S>,
    load_shed: bool,
}

impl<S, B> Layered for Layers<S>
where
    S: Service<Request<Body>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    fn call(&self, request: Request<Body>) -> BoxFuture {
        // Cloned out of the lock, so that a layer that calls this server again cannot deadlock.
        let mut service = lock(&self.service).clone();
        let ready = service.poll_ready(&mut Context::from_waker(Waker::noop()));
        let response = |response: Response<B>| response.map(Body::new);
        match ready {
            Poll::Ready(Ok(())) => {
                let future = service.call(request);
                Box::pin(async move { future.await.map(response).map_err(Into::into) })
            }
            Poll::Ready(Err(err)) => Box::pin(std::future::ready(Err(err.into()))),
            Poll::Pending if self.load_shed => {
                Box::pin(std::future::ready(Err(crate::protocol::overloaded().into())))
            }
            Poll::Pending => {
                Box::pin(
                    async move { service.oneshot(request).await.map(response).map_err(Into::into) },
                )
            }
        }
    }
}
