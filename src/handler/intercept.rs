//! Interceptors and tower layers tested alone: did they pass the request on (with what), or
//! answer it themselves?

use std::{
    fmt,
    sync::{Arc, Mutex},
    task::{Context, Poll},
};

use http::header::{CONTENT_TYPE, HeaderValue};
use tonic::{Code, Request, Status, body::Body, service::Interceptor};
use tower::{Layer, Service, ServiceExt};

use crate::{
    BoxError,
    assert::{Observed, StatusSource, metadata::show},
    handler::request::TestRequest,
    protocol::{client_status, method::check_method_path},
};

/// What an interceptor or layer did with a request: passed it on to the service (as the
/// service received it), or answered it with a status.
///
/// It is a [`StatusSource`], so `assert_status!(outcome, Code::Unauthenticated, "...")` checks
/// a rejection, and `Code::Ok` a request passed on.
///
/// # Examples
///
/// ```
/// use tonic::{Code, Request, Status};
/// use tonic_testkit::{TestRequest, assert_status};
/// use tonic_testkit::handler::{Intercepted, intercept};
///
/// let deny = |_: Request<()>| -> Result<Request<()>, Status> { Err(Status::permission_denied("no")) };
///
/// let outcome = intercept(deny, TestRequest::new(()));
///
/// assert!(matches!(outcome, Intercepted::Rejected(_)));
/// assert_status!(outcome, Code::PermissionDenied, "no");
/// assert_eq!(outcome.rejected().message(), "no");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Intercepted {
    /// The request reached the service; this is what the service received.
    Passed(Request<()>),
    /// The request did not reach the service; the client would get this status.
    Rejected(Status),
}

impl Intercepted {
    /// The request the service received.
    ///
    /// # Panics
    ///
    /// When the request was rejected, showing the status.
    #[track_caller]
    pub fn passed(self) -> Request<()> {
        match self {
            Self::Passed(request) => request,
            Self::Rejected(status) => panic!(
                "tonic-testkit: expected the request to pass, it was rejected with {}",
                crate::assert::describe_status(&status)
            ),
        }
    }

    /// The status the request was answered with.
    ///
    /// # Panics
    ///
    /// When the request was passed on, showing its metadata.
    #[track_caller]
    pub fn rejected(self) -> Status {
        match self {
            Self::Rejected(status) => status,
            Self::Passed(request) => panic!(
                "tonic-testkit: expected the request to be rejected, it passed with metadata {}",
                show(request.metadata())
            ),
        }
    }
}

impl crate::assert::sealed::Sealed for Intercepted {}

impl StatusSource for Intercepted {
    fn observe(&self) -> Observed<'_> {
        match self {
            Self::Passed(request) => Observed::Success(format!(
                "the request passed with metadata {}",
                show(request.metadata())
            )),
            Self::Rejected(status) => Observed::Status(status),
        }
    }
}

/// Calls an interceptor (a `fn(Request<()>) -> Result<Request<()>, Status>` or any
/// [`Interceptor`]) with a test request, as a server would before the handler.
///
/// # Examples
///
/// ```
/// use tonic::{Code, Request, Status};
/// use tonic_testkit::{TestRequest, assert_status};
/// use tonic_testkit::handler::intercept;
///
/// #[derive(Clone, Debug, PartialEq)]
/// struct User(String);
///
/// fn authenticate(mut request: Request<()>) -> Result<Request<()>, Status> {
///     match request.metadata().get("authorization").map(|token| token.to_str()) {
///         Some(Ok("Bearer ada")) => {
///             request.extensions_mut().insert(User("ada".into()));
///             Ok(request)
///         }
///         _ => Err(Status::unauthenticated("missing or unknown token")),
///     }
/// }
///
/// let passed = intercept(authenticate, TestRequest::new(()).metadata("authorization", "Bearer ada"));
/// assert_eq!(passed.passed().extensions().get::<User>(), Some(&User("ada".into())));
///
/// let rejected = intercept(authenticate, TestRequest::new(()));
/// assert_status!(rejected, Code::Unauthenticated, "missing or unknown token");
/// ```
pub fn intercept<I: Interceptor>(mut interceptor: I, request: TestRequest<()>) -> Intercepted {
    match interceptor.call(request.into_request()) {
        Ok(request) => Intercepted::Passed(request),
        Err(status) => Intercepted::Rejected(status),
    }
}

/// Sends a test request for the method `path` through a tower layer (an interceptor layer,
/// auth, rate limiting, ...) wrapped around a service that records what reaches it and
/// answers `OK`.
///
/// The request is an HTTP/2 gRPC request as a tonic client sends it (the metadata as headers,
/// `content-type: application/grpc`, the `grpc-timeout` of [`TestRequest::timeout`], the
/// extensions), with an empty body. A layer that fails with an error other than a `Status`
/// is [`Rejected`](Intercepted::Rejected) with what a tonic client would see: `INTERNAL
/// "h2 protocol error: http2 error"`, the error as its source. A layer that answers `OK`
/// without calling the service is `Rejected` with an `OK` status.
///
/// # Panics
///
/// When `path` is not a `/package.Service/Method` path.
///
/// # Examples
///
/// ```
/// use tonic::{Code, Request, Status, service::InterceptorLayer};
/// use tonic_testkit::{TestRequest, assert_metadata, assert_status};
/// use tonic_testkit::handler::through_layer;
///
/// fn require_tenant(request: Request<()>) -> Result<Request<()>, Status> {
///     match request.metadata().get("x-tenant") {
///         Some(_) => Ok(request),
///         None => Err(Status::permission_denied("x-tenant is required")),
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let layer = InterceptorLayer::new(require_tenant);
/// let request = TestRequest::new(()).metadata("x-tenant", "acme");
///
/// let passed = through_layer(layer.clone(), "/users.Users/GetUser", request).await;
/// assert_metadata!(passed.passed(), "x-tenant", "acme");
///
/// let rejected = through_layer(layer, "/users.Users/GetUser", TestRequest::new(())).await;
/// assert_status!(rejected, Code::PermissionDenied, "x-tenant is required");
/// # }
/// ```
#[track_caller]
pub fn through_layer<L, B>(
    layer: L,
    path: &str,
    request: TestRequest<()>,
) -> impl Future<Output = Intercepted> + use<L, B>
where
    L: Layer<Recorder>,
    L::Service: Service<http::Request<Body>, Response = http::Response<B>>,
    <L::Service as Service<http::Request<Body>>>::Error: Into<BoxError>,
    B: http_body::Body + Unpin,
{
    check_method_path(path, "through_layer");
    let http_request = http_request(path, request);
    async move {
        let recorder = Recorder::default();
        let received = recorder.received.clone();
        let service = layer.layer(recorder);
        let response = match service.oneshot(http_request).await {
            Ok(response) => response,
            Err(err) => return Intercepted::Rejected(client_status(err.into())),
        };
        let status = status_of(response).await;
        match (received.lock().unwrap().take(), status.code()) {
            (Some(request), Code::Ok) => Intercepted::Passed(request),
            (_, _) => Intercepted::Rejected(status),
        }
    }
}

fn http_request(path: &str, request: TestRequest<()>) -> http::Request<Body> {
    let (metadata, extensions, ()) = request.into_request().into_parts();
    let mut http = http::Request::new(Body::empty());
    *http.method_mut() = http::Method::POST;
    *http.version_mut() = http::Version::HTTP_2;
    *http.uri_mut() = path.parse().expect("a checked method path is a valid URI");
    *http.headers_mut() = metadata.into_headers();
    *http.extensions_mut() = extensions;
    http.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    http.headers_mut().insert("te", HeaderValue::from_static("trailers"));
    http
}

/// The status of a gRPC response: from its headers (trailers-only) or its trailers.
async fn status_of<B: http_body::Body + Unpin>(response: http::Response<B>) -> Status {
    if let Some(status) = Status::from_header_map(response.headers()) {
        return status;
    }
    let mut body = response.into_body();
    while let Some(frame) =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
    {
        let Ok(frame) = frame else {
            return Status::internal("the layer's response body failed");
        };
        if let Some(status) = frame.trailers_ref().and_then(Status::from_header_map) {
            return status;
        }
    }
    Status::unknown("the layer's response has no grpc-status")
}

/// The service [`through_layer`] wraps in the layer: it keeps the request that reaches it and
/// answers `OK` with no message. It appears only in `through_layer`'s bounds: a layer under
/// test must accept it as its inner service, as any generic tower layer does.
///
/// # Examples
///
/// ```
/// use tonic::{Request, Status, service::InterceptorLayer};
/// use tonic_testkit::handler::Recorder;
/// use tower::Layer;
///
/// let layer = InterceptorLayer::new(|request: Request<()>| -> Result<_, Status> { Ok(request) });
/// let _service = layer.layer(Recorder::default()); // what through_layer builds
/// ```
#[derive(Clone, Default)]
pub struct Recorder {
    received: Arc<Mutex<Option<Request<()>>>>,
}

impl fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recorder").finish_non_exhaustive()
    }
}

impl<B> Service<http::Request<B>> for Recorder {
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = std::future::Ready<Result<http::Response<Body>, BoxError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let request = Request::from_http(request.map(|_| ()));
        *self.received.lock().unwrap() = Some(request);
        std::future::ready(Ok(Status::new(Code::Ok, "").into_http()))
    }
}
