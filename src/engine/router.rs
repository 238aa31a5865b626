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

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, header};
use tonic::{Status, body::Body, server::NamedService};
use tower::{Service, ServiceExt};

use crate::BoxError;

/// The services of a [`TestServer`](crate::TestServer), routed by name: a call to
/// `/package.Service/Method` goes to the service named `package.Service`, and a call no service
/// takes gets `UNIMPLEMENTED` (or goes to the server's [`Stub`](crate::Stub), or to the tonic
/// `Routes` given to [`add_routes`](crate::TestServerBuilder::add_routes)).
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
/// use tonic_testkit::TestServer;
/// use tonic_testkit::server::Services;
/// use tonic_testkit_examples::hello::Greeter;
/// use tonic_testkit_examples::hello::pb::{
///     HelloRequest, hello_service_client::HelloServiceClient,
///     hello_service_server::HelloServiceServer,
/// };
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
/// let server = TestServer::builder()
///     .add_service(HelloServiceServer::new(Greeter))
///     .layer(count)
///     .start()
///     .await;
/// let mut client = server.client(HelloServiceClient::new);
///
/// // Act
/// client.hello(HelloRequest { greeting: "Ada".into() }).await.unwrap();
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
    fallback: Fallback,
}

/// What answers a call that no service added by name takes.
enum Fallback {
    /// tonic's router's own answer: `UNIMPLEMENTED`.
    Unimplemented,
    /// The server's stub, its answers finished as tonic's router finishes a fallback's.
    Stub(Box<dyn Route>),
    /// A tonic `Routes` (with the stub as its fallback, if any), its answers passed on as they
    /// are: its own router finished them.
    #[cfg(feature = "router")]
    Routes(Box<dyn Route>),
}

impl Services {
    /// The route for `path` (`/package.Service/Method`), or `None` when no service takes it.
    fn route(&self, path: &str) -> Option<&dyn Route> {
        // tonic routes `/{service}/{*method}`: the method part must not be empty.
        let (service, method) = crate::protocol::method::split_method_path(path)?;
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
            #[cfg(feature = "router")]
            Fallback::Routes(routes) => Answer::Routed(routes.call(request)),
            Fallback::Stub(stub) => Answer::Fallback(stub.call(request), verb),
            Fallback::Unimplemented => Answer::Unimplemented(verb),
        })
    }
}

impl fmt::Debug for Services {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.routes.iter().map(|(name, _)| *name).collect();
        let fallback = match self.0.fallback {
            Fallback::Unimplemented => "unimplemented",
            Fallback::Stub(_) => "stub",
            #[cfg(feature = "router")]
            Fallback::Routes(_) => "routes",
        };
        f.debug_struct("Services").field("services", &names).field("fallback", &fallback).finish()
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
pub(crate) trait Route: Send + Sync {
    fn call(&self, request: Request<Body>) -> RouteFuture;
}

/// What tonic's router takes: any service of `http::Request<Body>` whose response body carries
/// bytes (an intercepted service answers `ResponseBody<..>`), the body made a [`Body`] here as
/// tonic's router makes it one.
impl<S, B> Route for S
where
    S: Service<Request<Body>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    fn call(&self, request: Request<Body>) -> RouteFuture {
        let mut service = self.clone();
        // Generated services are always ready: call them without the `Oneshot` that waits.
        match service.poll_ready(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Ok(())) => {
                let mut future = Some(Service::call(&mut service, request));
                // A generated service's future is already a `RouteFuture`: no second box, one
                // allocation a call that the direct call's 3 µs ceiling needs (benches/README.md).
                if let Some(boxed) =
                    (&mut future as &mut dyn Any).downcast_mut::<Option<RouteFuture>>()
                {
                    return boxed.take().expect("the future is there");
                }
                let future = future.expect("the future is there");
                Box::pin(async move {
                    let Ok(response) = future.await;
                    Ok(response.map(Body::new))
                })
            }
            Poll::Pending => Box::pin(async move {
                let Ok(response) = service.oneshot(request).await;
                Ok(response.map(Body::new))
            }),
        }
    }
}

/// Collects the services of a server being built.
#[derive(Default)]
pub(crate) struct ServicesBuilder {
    routes: Vec<(&'static str, Box<dyn Route>)>,
    /// A tonic `Routes`, answering what no service added by name takes.
    #[cfg(feature = "router")]
    tonic_routes: Option<tonic::service::Routes>,
}

impl ServicesBuilder {
    /// Adds `service` under its name. The builder checks names for duplicates first.
    pub(crate) fn add_service<S: Route + NamedService + 'static>(
        &mut self,
        service: S,
    ) -> &mut Self {
        self.routes.push((S::NAME, Box::new(service)));
        self
    }

    /// Serves `routes` for every call no service added by name takes. Returns `false`, and keeps
    /// the routes it has, when it already has some.
    #[cfg(feature = "router")]
    pub(crate) fn add_routes(&mut self, routes: tonic::service::Routes) -> bool {
        if self.tonic_routes.is_some() {
            return false;
        }
        self.tonic_routes = Some(routes);
        true
    }

    /// Whether a tonic `Routes` was added.
    pub(crate) fn has_routes(&self) -> bool {
        #[cfg(feature = "router")]
        return self.tonic_routes.is_some();
        #[cfg(not(feature = "router"))]
        false
    }

    /// The routes, with `stub` answering calls nothing else takes.
    pub(crate) fn build<F>(self, stub: Option<F>) -> Services
    where
        F: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        F::Future: Send + 'static,
    {
        #[cfg(feature = "router")]
        if let Some(routes) = self.tonic_routes {
            let routes = match stub {
                Some(stub) => with_fallback(routes, stub),
                None => routes,
            };
            let fallback = Fallback::Routes(Box::new(routes.prepare()));
            return Services(Arc::new(Table { routes: self.routes, fallback }));
        }
        let fallback = match stub {
            Some(stub) => Fallback::Stub(Box::new(stub)),
            None => Fallback::Unimplemented,
        };
        Services(Arc::new(Table { routes: self.routes, fallback }))
    }
}

/// `routes` with `stub` in place of the fallback of their router (tonic's own answers
/// `UNIMPLEMENTED`), so the stub answers what the routes do not take.
#[cfg(feature = "router")]
fn with_fallback<F>(mut routes: tonic::service::Routes, stub: F) -> tonic::service::Routes
where
    F: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    F::Future: Send + 'static,
{
    let router = std::mem::take(routes.axum_router_mut());
    tonic::service::Routes::from(router.fallback_service(AnyBody(stub)))
}

/// A service of `http::Request<Body>` that takes a request with any body, as a router hands it
/// over.
#[cfg(feature = "router")]
#[derive(Clone)]
struct AnyBody<S>(S);

#[cfg(feature = "router")]
impl<S, B> Service<Request<B>> for AnyBody<S>
where
    S: Service<Request<Body>>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> S::Future {
        self.0.call(request.map(Body::new))
    }
}
