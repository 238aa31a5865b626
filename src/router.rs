//! [`Services`]: a test server's services, routed by name, as tonic's router routes them.

use std::{
    any::Any,
    convert::Infallible,
    fmt,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, Waker},
};

use http::{HeaderValue, Method, Request, Response, header};
use tonic::{Status, body::Body, server::NamedService};
use tower::{Service, ServiceExt};

/// The services of a [`TestServer`](crate::TestServer), routed by name: a call to
/// `/package.Service/Method` goes to the service named `package.Service`, and a call no service
/// takes gets `UNIMPLEMENTED` (or goes to the server's [`Stub`](crate::Stub)).
///
/// It answers exactly as tonic's `Routes` (what `tonic::transport::Server` serves) answers,
/// headers included, without building tonic's router: that router costs more than the call it
/// routes. It is what the layers given to
/// [`TestServerBuilder::layer`](crate::TestServerBuilder::layer) wrap, as tonic's `Routes` is
/// what `Server::layer` wraps; any layer that is generic over the service it wraps (tower's,
/// tonic's interceptors) works unchanged.
///
/// # Examples
///
/// A layer that counts the calls the server routes:
///
/// ```
/// use std::sync::{Arc, atomic::{AtomicUsize, Ordering}};
///
/// use tonic_testkit::{Services, TestServer};
/// use tonic_testkit_support::{Probe, ProbeClient, ProbeRequest};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// // Arrange
/// let calls = Arc::new(AtomicUsize::new(0));
/// let counted = calls.clone();
/// let count = tower::layer::layer_fn(move |services: Services| {
///     let calls = counted.clone();
///     tower::util::MapRequest::new(services, move |request: http::Request<tonic::body::Body>| {
///         calls.fetch_add(1, Ordering::Relaxed);
///         request
///     })
/// });
/// let server =
///     TestServer::builder().add_service(Probe::new().server()).layer(count).start().await;
/// let mut client = server.client(ProbeClient::new);
///
/// // Act
/// client.unary(ProbeRequest::default()).await.unwrap();
///
/// // Assert
/// assert_eq!(calls.load(Ordering::Relaxed), 1);
/// # }
/// ```
#[derive(Clone)]
pub struct Services(Arc<Table>);

/// The routes: each service under its name, and what answers the rest.
struct Table {
    routes: Vec<(&'static str, Box<dyn Route>)>,
    fallback: Option<Box<dyn Route>>,
}

impl Services {
    /// The route for `path` (`/package.Service/Method`), or `None` when no service takes it.
    fn route(&self, path: &str) -> Option<&dyn Route> {
        // tonic routes `/{service}/{*method}`: the method part must not be empty.
        let (service, method) = crate::method::split_method_path(path)?;
        if method.is_empty() {
            return None;
        }
        let mut routes = self.0.routes.iter();
        routes.find(|(name, _)| *name == service).map(|(_, route)| &**route)
    }

    /// Sends `request` to the service that takes it: [`Service::call`] without a clone.
    pub(crate) fn dispatch(&self, request: Request<Body>) -> ServicesFuture {
        if let Some(route) = self.route(request.uri().path()) {
            return ServicesFuture(Answer::Routed(route.call(request)));
        }
        let verb = match *request.method() {
            Method::HEAD => Verb::Head,
            Method::CONNECT => Verb::Connect,
            _ => Verb::Other,
        };
        ServicesFuture(match &self.0.fallback {
            Some(fallback) => Answer::Fallback(fallback.call(request), verb),
            None => Answer::Unimplemented(verb),
        })
    }
}

impl fmt::Debug for Services {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.routes.iter().map(|(name, _)| *name).collect();
        f.debug_struct("Services")
            .field("services", &names)
            .field("stub", &self.0.fallback.is_some())
            .finish()
    }
}

impl Service<Request<Body>> for Services {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = ServicesFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> ServicesFuture {
        self.dispatch(request)
    }
}

/// The response future of [`Services`].
pub struct ServicesFuture(Answer);

enum Answer {
    /// A service's answer, passed on as it is.
    Routed(RouteFuture),
    /// The stub's answer, or tonic's `UNIMPLEMENTED`: answers of the router's fallback, which
    /// the router finishes as the request's method asks.
    Fallback(RouteFuture, Verb),
    Unimplemented(Verb),
}

/// The request methods whose answers tonic's router treats apart.
#[derive(Clone, Copy)]
enum Verb {
    Head,
    Connect,
    Other,
}

impl fmt::Debug for ServicesFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServicesFuture").finish_non_exhaustive()
    }
}

impl Future for ServicesFuture {
    type Output = Result<Response<Body>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (response, verb) = match &mut self.0 {
            Answer::Routed(future) => return future.as_mut().poll(cx),
            Answer::Fallback(future, verb) => {
                let Ok(response) = std::task::ready!(future.as_mut().poll(cx));
                (response, *verb)
            }
            Answer::Unimplemented(verb) => {
                let (parts, ()) = Status::unimplemented("").into_http::<()>().into_parts();
                (Response::from_parts(parts, Body::empty()), *verb)
            }
        };
        Poll::Ready(Ok(finish(response, verb)))
    }
}

/// What tonic's router (axum's) does to the answers of its fallback: a `content-length` when
/// the body's size is known, no body for `HEAD`, and no body on a successful `CONNECT` that
/// announces one. A routed service's answers pass as they are.
fn finish(mut response: Response<Body>, verb: Verb) -> Response<Body> {
    use http_body::Body as _;
    let headers = response.headers();
    match verb {
        Verb::Connect if response.status().is_success() => {
            let announced = headers.contains_key(header::CONTENT_LENGTH)
                || headers.contains_key(header::TRANSFER_ENCODING)
                || response.body().size_hint().lower() != 0;
            if announced {
                *response.body_mut() = Body::empty();
            }
        }
        Verb::Head | Verb::Connect | Verb::Other => {
            if !headers.contains_key(header::CONTENT_LENGTH)
                && let Some(size) = response.body().size_hint().exact()
            {
                response.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(size));
            }
            if matches!(verb, Verb::Head) {
                *response.body_mut() = Body::empty();
            }
        }
    }
    response
}

/// The future of a routed call: the type of a generated service's own future
/// (`tonic::codegen::BoxFuture`), so that one is passed on as it is.
type RouteFuture = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

/// One routed service, behind a pointer: clones itself for each call, as a router does.
trait Route: Send + Sync {
    fn call(&self, request: Request<Body>) -> RouteFuture;
}

impl<S> Route for S
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    fn call(&self, request: Request<Body>) -> RouteFuture {
        let mut service = self.clone();
        // Generated services are always ready: call them without the `Oneshot` that waits.
        match service.poll_ready(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Ok(())) => {
                let mut future = Some(Service::call(&mut service, request));
                // A generated service's future is already a `RouteFuture`: no second box.
                match (&mut future as &mut dyn Any).downcast_mut::<Option<RouteFuture>>() {
                    Some(boxed) => boxed.take().expect("the future is there"),
                    None => Box::pin(future.expect("the future is there")),
                }
            }
            Poll::Pending => Box::pin(service.oneshot(request)),
        }
    }
}

/// Collects the services of a server being built.
#[derive(Default)]
pub(crate) struct ServicesBuilder {
    routes: Vec<(&'static str, Box<dyn Route>)>,
}

impl ServicesBuilder {
    /// Adds `service` under its name. The builder checks names for duplicates first.
    pub(crate) fn add_service<S>(&mut self, service: S) -> &mut Self
    where
        S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.routes.push((S::NAME, Box::new(service)));
        self
    }

    /// The routes, with `fallback` answering calls no service takes.
    pub(crate) fn build<F>(self, fallback: Option<F>) -> Services
    where
        F: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        F::Future: Send + 'static,
    {
        let fallback = fallback.map(|service| Box::new(service) as Box<dyn Route>);
        Services(Arc::new(Table { routes: self.routes, fallback }))
    }
}
