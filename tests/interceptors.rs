//! Interceptors and layers tested alone with `intercept` and `through_layer`, and the same
//! interceptor on a running server.

mod common;

use std::{
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use common::probe;
use common::{STREAM_RESET, every_transport};
use rstest::rstest;
use rstest_reuse::apply;
use tonic::{Code, Request, Status, body::Body, service::InterceptorLayer};
use tonic_testkit::handler::{intercept, through_layer};
use tonic_testkit::{TestRequest, TestServer, Transport, assert_metadata, assert_status};
use tonic_testkit_support::{ClientMarker, Probe, ProbeClient};
use tower::{Layer, Service};

/// Lets `Bearer ada` through, marking the request; rejects anything else.
fn authenticate(mut request: Request<()>) -> Result<Request<()>, Status> {
    match request.metadata().get("authorization").map(|token| token.to_str()) {
        Some(Ok("Bearer ada")) => {
            request.extensions_mut().insert(ClientMarker);
            Ok(request)
        }
        Some(_) => Err(Status::unauthenticated("unknown token")),
        None => Err(Status::unauthenticated("no authorization header")),
    }
}

fn authorized() -> TestRequest<()> {
    TestRequest::new(()).metadata("authorization", "Bearer ada")
}

#[test]
fn an_interceptor_passes_a_request_with_what_it_inserted() {
    let outcome = intercept(authenticate, authorized());

    let request = outcome.passed();
    assert!(request.extensions().get::<ClientMarker>().is_some());
    assert_metadata!(request, "authorization", "Bearer ada");
}

#[test]
fn an_interceptor_rejects_a_request_with_a_status() {
    let outcome = intercept(authenticate, TestRequest::new(()).metadata("authorization", "x"));

    assert_status!(outcome, Code::Unauthenticated, "unknown token");
    assert_eq!(outcome.rejected().message(), "unknown token");
}

#[test]
fn an_interceptor_sees_the_peer_and_the_deadline_of_the_test_request() {
    let seen = |request: Request<()>| -> Result<Request<()>, Status> {
        let deadline = request.metadata().get("grpc-timeout").map(|v| v.to_str().unwrap());
        Err(Status::ok(format!("{:?} {deadline:?}", request.remote_addr())))
    };
    let request = TestRequest::new(())
        .remote_addr("10.0.0.9:4000".parse().unwrap())
        .timeout(Duration::from_millis(50));

    let outcome = intercept(seen, request);

    assert_eq!(outcome.rejected().message(), "Some(10.0.0.9:4000) Some(\"50000000n\")");
}

#[test]
#[should_panic(expected = "tonic-testkit: expected the request to pass, it was rejected with \
                Unauthenticated, message \"no authorization header\"")]
fn passed_on_a_rejection_shows_the_status() {
    intercept(authenticate, TestRequest::new(())).passed();
}

#[test]
#[should_panic(
    expected = "tonic-testkit: expected the request to be rejected, it passed with metadata \
                {\"authorization\": \"Bearer ada\"}"
)]
fn rejected_on_a_pass_shows_the_metadata() {
    intercept(authenticate, authorized()).rejected();
}

#[tokio::test]
async fn a_layer_passes_the_request_as_the_service_receives_it() {
    let layer = InterceptorLayer::new(authenticate);
    let request = authorized().remote_addr("10.0.0.9:4000".parse().unwrap());

    let outcome = through_layer(layer, "/probe.Probe/Unary", request).await;

    let request = outcome.passed();
    assert!(request.extensions().get::<ClientMarker>().is_some());
    assert_eq!(request.remote_addr(), Some("10.0.0.9:4000".parse().unwrap()));
    assert_metadata!(request, "authorization", "Bearer ada");
    assert_metadata!(request, "content-type", "application/grpc");
}

#[tokio::test]
async fn a_layer_rejects_with_the_status_a_client_would_get() {
    let layer = InterceptorLayer::new(authenticate);

    let outcome = through_layer(layer, "/probe.Probe/Unary", TestRequest::new(())).await;

    assert_status!(outcome, Code::Unauthenticated, "no authorization header");
}

/// A layer whose service fails with an error that is not a `Status`.
#[derive(Clone)]
struct Failing;

impl<S> Layer<S> for Failing {
    type Service = FailingService;
    fn layer(&self, _: S) -> FailingService {
        FailingService
    }
}

#[derive(Clone)]
struct FailingService;

impl Service<http::Request<Body>> for FailingService {
    type Response = http::Response<Body>;
    type Error = std::io::Error;
    type Future = std::future::Ready<Result<http::Response<Body>, std::io::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), std::io::Error>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, _: http::Request<Body>) -> Self::Future {
        std::future::ready(Err(std::io::Error::other("quota store down")))
    }
}

#[tokio::test]
async fn a_layer_error_that_is_not_a_status_is_what_a_client_sees_for_a_reset_stream() {
    let outcome = through_layer(Failing, "/probe.Probe/Unary", TestRequest::new(())).await;

    let status = assert_status!(outcome, Code::Internal, STREAM_RESET);
    let source = std::error::Error::source(&status).expect("the layer's error is the source");
    assert_eq!(source.to_string(), "quota store down");
}

/// A layer that answers by itself: with a status in the trailers of a body, or `OK` at once.
#[derive(Clone)]
struct Answering(Option<Code>);

impl<S> Layer<S> for Answering {
    type Service = AnsweringService;
    fn layer(&self, _: S) -> AnsweringService {
        AnsweringService(self.0)
    }
}

#[derive(Clone)]
struct AnsweringService(Option<Code>);

impl Service<http::Request<Body>> for AnsweringService {
    type Response = http::Response<TrailersBody>;
    type Error = Status;
    type Future = std::future::Ready<Result<http::Response<TrailersBody>, Status>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, _: http::Request<Body>) -> Self::Future {
        let trailers = self.0.map(|code| {
            let mut trailers = http::HeaderMap::new();
            trailers.insert("grpc-status", (code as i32).into());
            trailers.insert("grpc-message", "slow down".parse().unwrap());
            trailers
        });
        std::future::ready(Ok(http::Response::new(TrailersBody(trailers))))
    }
}

/// A response body with no data and, optionally, trailers.
struct TrailersBody(Option<http::HeaderMap>);

impl http_body::Body for TrailersBody {
    type Data = bytes::Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<bytes::Bytes>, Status>>> {
        Poll::Ready(self.0.take().map(|trailers| Ok(http_body::Frame::trailers(trailers))))
    }
}

#[tokio::test]
async fn a_layer_answering_with_trailers_is_a_rejection_with_their_status() {
    let layer = Answering(Some(Code::ResourceExhausted));

    let outcome = through_layer(layer, "/probe.Probe/Unary", TestRequest::new(())).await;

    assert_status!(outcome, Code::ResourceExhausted, "slow down");
}

#[tokio::test]
async fn a_layer_answering_without_a_status_is_a_rejection_saying_so() {
    let outcome = through_layer(Answering(None), "/probe.Probe/Unary", TestRequest::new(())).await;

    assert_status!(outcome, Code::Unknown, "the layer's response has no grpc-status");
}

#[tokio::test]
#[should_panic(
    expected = "through_layer: \"probe.Probe/Unary\" is not a gRPC method path: use the full \
                path \"/package.Service/Method\", as in \"/orders.Orders/RegisterOrder\""
)]
async fn through_layer_rejects_a_path_without_the_method_shape() {
    through_layer(Failing, "probe.Probe/Unary", TestRequest::new(())).await;
}

/// The interceptor tested alone above behaves the same on a running server.
#[apply(every_transport)]
#[tokio::test]
async fn the_same_interceptor_on_a_server_passes_and_rejects_alike(transport: Transport) {
    let server = TestServer::builder()
        .transport(transport)
        .add_service(Probe::new().server())
        .interceptor(authenticate)
        .start()
        .await;
    let mut client = server.client(ProbeClient::new);

    let mut request = Request::new(probe("marker", 0));
    request.metadata_mut().insert("authorization", "Bearer ada".parse().unwrap());

    let passed = client.unary(request).await;
    let rejected = client.unary(probe("marker", 0)).await;

    assert_eq!(passed.unwrap().into_inner().text, "marker present", "over {transport}");
    assert_status!(rejected, Code::Unauthenticated, "no authorization header");
    server.shutdown().await;
}
