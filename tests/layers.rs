//! Tower layers and tonic interceptors on the test server, in every transport.

mod common;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use common::{STREAM_RESET, every_transport};
use rstest::rstest;
use rstest_reuse::apply;
use tonic::{Code, Request, Status};
use tonic_testkit::{TestServer, Transport};
use tonic_testkit_support::{Probe, ProbeClient, ProbeRequest};

fn probe(text: &str) -> ProbeRequest {
    ProbeRequest { text: text.to_owned(), count: 0 }
}

fn tag(mut request: Request<()>) -> Result<Request<()>, Status> {
    request.metadata_mut().insert("x-tag", "tagged".parse().unwrap());
    Ok(request)
}

fn require_token(request: Request<()>) -> Result<Request<()>, Status> {
    match request.metadata().get("authorization") {
        Some(token) if token == "Bearer secret" => Ok(request),
        _ => Err(Status::unauthenticated("missing or wrong token")),
    }
}

#[apply(every_transport)]
#[tokio::test]
async fn an_interceptor_sees_and_changes_every_request(transport: Transport) {
    let server = TestServer::builder()
        .transport(transport)
        .add_service(Probe::new().server())
        .interceptor(tag)
        .start()
        .await;
    let mut client = server.client(ProbeClient::new);

    let reply = client.unary(probe("meta:x-tag")).await.unwrap().into_inner();

    assert_eq!(reply.text, "tagged", "{transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn an_interceptor_can_reject_a_call_with_a_status(transport: Transport) {
    let server = TestServer::builder()
        .transport(transport)
        .add_service(Probe::new().server())
        .interceptor(require_token)
        .start()
        .await;
    let mut client = server.client(ProbeClient::new);
    let mut authorized = Request::new(probe("in"));
    authorized.metadata_mut().insert("authorization", "Bearer secret".parse().unwrap());

    let rejected = client.unary(probe("out")).await.unwrap_err();
    let accepted = client.unary(authorized).await.unwrap().into_inner();

    assert_eq!(rejected.code(), Code::Unauthenticated, "{transport}");
    assert_eq!(rejected.message(), "missing or wrong token");
    assert_eq!(accepted.text, "in");
    server.shutdown().await;
}

/// A layer that logs its name before and after the inner service, to show the order.
#[derive(Clone)]
struct Log {
    name: &'static str,
    log: Arc<Mutex<Vec<String>>>,
}

impl<S> tower::Layer<S> for Log {
    type Service = Logged<S>;

    fn layer(&self, inner: S) -> Logged<S> {
        Logged { inner, log: self.clone() }
    }
}

#[derive(Clone)]
struct Logged<S> {
    inner: S,
    log: Log,
}

impl<S, B> tower::Service<http::Request<B>> for Logged<S>
where
    S: tower::Service<http::Request<B>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let Log { name, log } = self.log.clone();
        log.lock().unwrap().push(format!("{name} in"));
        let call = self.inner.call(request);
        Box::pin(async move {
            let response = call.await;
            log.lock().unwrap().push(format!("{name} out"));
            response
        })
    }
}

#[apply(every_transport)]
#[tokio::test]
async fn the_first_layer_added_is_the_outermost(transport: Transport) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let server = TestServer::builder()
        .transport(transport)
        .add_service(Probe::new().server())
        .layer(Log { name: "outer", log: log.clone() })
        .layer(Log { name: "inner", log: log.clone() })
        .start()
        .await;
    let mut client = server.client(ProbeClient::new);

    client.unary(probe("x")).await.unwrap();

    assert_eq!(*log.lock().unwrap(), ["outer in", "inner in", "inner out", "outer out"]);
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn a_layer_error_that_is_not_a_status_reaches_the_client(transport: Transport) {
    let server = TestServer::builder()
        .transport(transport)
        .add_service(Probe::new().server())
        .layer(tower::timeout::TimeoutLayer::new(Duration::from_millis(10)))
        .start()
        .await;
    let mut client = server.client(ProbeClient::new);

    let status = client.unary(probe("sleep:100")).await.unwrap_err();

    // tonic's server resets the stream; a tonic client reports that as INTERNAL.
    let expected = (Code::Internal, STREAM_RESET);
    assert_eq!((status.code(), status.message()), expected, "{transport}: {status:?}");
    server.shutdown().await;
}

/// A layer whose service is not ready the first time it is asked (it wakes the caller at once),
/// and refuses a call it was not asked about first, as tower's contract allows.
#[derive(Clone, Default)]
struct Reluctant {
    polls: Arc<Mutex<usize>>,
}

impl<S> tower::Layer<S> for Reluctant {
    type Service = ReluctantService<S>;

    fn layer(&self, inner: S) -> ReluctantService<S> {
        ReluctantService { inner, polls: self.polls.clone(), ready: false }
    }
}

#[derive(Clone)]
struct ReluctantService<S> {
    inner: S,
    polls: Arc<Mutex<usize>>,
    ready: bool,
}

impl<S, B> tower::Service<http::Request<B>> for ReluctantService<S>
where
    S: tower::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), S::Error>> {
        *self.polls.lock().unwrap() += 1;
        if !self.ready {
            self.ready = true;
            cx.waker().wake_by_ref();
            return std::task::Poll::Pending;
        }
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        assert!(self.ready, "ReluctantService called before it said it was ready");
        self.ready = false;
        self.inner.call(request)
    }
}

#[apply(every_transport)]
#[tokio::test]
async fn a_layer_that_is_not_ready_at_once_is_waited_for(transport: Transport) {
    let reluctant = Reluctant::default();
    let server = TestServer::builder()
        .transport(transport)
        .add_service(Probe::new().server())
        .layer(reluctant.clone())
        .start()
        .await;
    let mut client = server.client(ProbeClient::new);

    let reply = client.unary(probe("waited")).await.unwrap().into_inner();

    assert_eq!(reply.text, "waited", "{transport}");
    let polls = *reluctant.polls.lock().unwrap();
    assert!(polls >= 2, "{transport}: the layer was polled {polls} times, not until ready");
    server.shutdown().await;
}
