//! mockall mocks served by TestServer: scripted replies, and expectations verified in the test
//! over every transport (unmet counts when the server drops the mock, unexpected calls as a
//! status for the client and a failure for the test).

mod common;

use std::time::Duration;

use common::{every_transport, http2_transports};
use rstest::rstest;
use rstest_reuse::apply;
use tokio::time::Instant;
use tonic::{Code, Request, Response, Status, Streaming};
use tonic_testkit::mock::BoxStream;
use tonic_testkit::{Reply, TestServer, Transport, assert_metadata, assert_status, collect};
use tonic_testkit_support::{ProbeClient, ProbeReply, ProbeRequest, ProbeServer, ProbeService};

mockall::mock! {
    pub Probe {}

    #[tonic::async_trait]
    impl ProbeService for Probe {
        async fn unary(
            &self,
            request: Request<ProbeRequest>,
        ) -> Result<Response<ProbeReply>, Status>;
        async fn server_stream(
            &self,
            request: Request<ProbeRequest>,
        ) -> Result<Response<BoxStream<ProbeReply>>, Status>;
        async fn bidi(
            &self,
            request: Request<Streaming<ProbeRequest>>,
        ) -> Result<Response<BoxStream<ProbeReply>>, Status>;
    }
}

fn reply(text: &str, index: u32) -> ProbeReply {
    ProbeReply { text: text.to_owned(), index }
}

fn request(text: &str) -> ProbeRequest {
    ProbeRequest { text: text.to_owned(), count: 0 }
}

async fn serve(
    mock: MockProbe,
    transport: Transport,
) -> (TestServer, ProbeClient<tonic_testkit::TestChannel>) {
    let server = TestServer::builder()
        .transport(transport)
        .add_service(ProbeServer::new(mock))
        .start()
        .await;
    let client = server.client(ProbeClient::new);
    (server, client)
}

fn expecting_one_call() -> ProbeServer<MockProbe> {
    let mut mock = MockProbe::new();
    mock.expect_unary().times(1).returning(|_| Ok(Response::new(ProbeReply::default())));
    ProbeServer::new(mock)
}

/// The whole report of an unmet expectation: pinned here, and the other tests check their line.
const UNMET: &str = "tonic-testkit: the test server caught a panic:
  - a service panicked when the server dropped it (a mock with unmet expectations?): \
MockProbe::unary: Expectation(<anything>) called 0 time(s) which is fewer than expected 1
A mock panics when it is dropped with unmet expectations: make the calls it expects, or change \
its `times(..)`.
The server saw 1 call:
  1. /probe.Probe/ClientStream: Unimplemented \"Not yet implemented\", 0 requests, 0 responses";

#[apply(every_transport)]
#[tokio::test]
#[should_panic(expected = "caught a panic:
  - a service panicked when the server dropped it (a mock with unmet expectations?): \
MockProbe::unary: Expectation(<anything>) called 0 time(s) which is fewer than expected 1")]
async fn an_unmet_expectation_fails_the_test_at_shutdown(transport: Transport) {
    let server =
        TestServer::builder().transport(transport).add_service(expecting_one_call()).start().await;
    // A client in scope, even one that made other calls, must not keep the mock alive.
    let _client = server.client(ProbeClient::new);

    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn an_unmet_expectation_fails_the_test_when_the_server_is_dropped(transport: Transport) {
    let server =
        TestServer::builder().transport(transport).add_service(expecting_one_call()).start().await;
    let mut client = server.client(ProbeClient::new);
    // Open a connection first, so the server has tasks of its own when it is dropped.
    let _ = client.client_stream(tokio_stream::iter(Vec::<ProbeRequest>::new())).await;

    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(server)));

    let payload = outcome.expect_err("dropping the server must fail the test");
    assert_eq!(payload.downcast_ref::<String>().map(String::as_str), Some(UNMET), "{transport}");
}

#[apply(every_transport)]
#[tokio::test]
async fn a_met_expectation_passes(transport: Transport) {
    let server =
        TestServer::builder().transport(transport).add_service(expecting_one_call()).start().await;
    let mut client = server.client(ProbeClient::new);

    client.unary(ProbeRequest::default()).await.unwrap();

    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn a_mock_answers_with_a_scripted_message_and_headers(transport: Transport) {
    let mut mock = MockProbe::new();
    mock.expect_unary()
        .times(1)
        .returning(|_| Reply::message(reply("hi", 1)).header("x-shard", "3").unary());
    let (server, mut client) = serve(mock, transport).await;

    let answer = client.unary(request("a")).await.unwrap();

    assert_metadata!(answer, "x-shard", "3");
    assert_eq!(answer.into_inner(), reply("hi", 1), "over {transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn a_mock_answers_with_a_scripted_status_and_its_trailers(transport: Transport) {
    let mut mock = MockProbe::new();
    mock.expect_unary().times(1).returning(|_| {
        Reply::status(Status::resource_exhausted("quota")).trailer("x-retry-after", "30").unary()
    });
    let (server, mut client) = serve(mock, transport).await;

    let result = client.unary(request("a")).await;

    assert_status!(result, Code::ResourceExhausted, "quota");
    assert_metadata!(result.unwrap_err(), "x-retry-after", "30");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn a_mock_streams_scripted_messages_at_intervals_then_a_status(transport: Transport) {
    let mut mock = MockProbe::new();
    mock.expect_server_stream().times(1).returning(|_| {
        Reply::stream([reply("a", 1), reply("b", 2), reply("c", 3)])
            .interval(Duration::from_secs(5))
            .end_with(Status::unavailable("feed lost"))
            .streaming()
    });
    let (server, mut client) = serve(mock, transport).await;
    let started = Instant::now();

    let mut stream = client.server_stream(request("w")).await.unwrap().into_inner();
    let mut arrivals = Vec::new();
    let end = loop {
        match stream.message().await {
            Ok(Some(message)) => arrivals.push((message.index, started.elapsed().as_secs())),
            Ok(None) => panic!("the stream must end with the scripted status"),
            Err(status) => break status,
        }
    };

    assert_eq!(arrivals, [(1, 0), (2, 5), (3, 10)], "over {transport}");
    assert_status!(end, Code::Unavailable, "feed lost");
    assert_eq!(server.calls()[0].response_count(), 3, "over {transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn successive_expectations_change_the_answer_per_call(transport: Transport) {
    let mut mock = MockProbe::new();
    let mut sequence = mockall::Sequence::new();
    mock.expect_unary()
        .times(1)
        .in_sequence(&mut sequence)
        .returning(|_| Reply::status(Status::unavailable("warming up")).unary());
    mock.expect_unary()
        .times(1)
        .in_sequence(&mut sequence)
        .returning(|_| Reply::message(reply("ready", 0)).unary());
    let (server, mut client) = serve(mock, transport).await;

    let first = client.unary(request("a")).await;
    let second = client.unary(request("a")).await;

    assert_status!(first, Code::Unavailable, "warming up");
    assert_eq!(second.unwrap().into_inner(), reply("ready", 0), "over {transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn a_bidi_mock_answers_from_the_request_stream(transport: Transport) {
    use tokio_stream::StreamExt;
    let mut mock = MockProbe::new();
    mock.expect_bidi().times(1).returning(|request| {
        let answers = request.into_inner().map(|message| Ok(reply(&message?.text, 0)));
        Ok(Response::new(Box::pin(answers) as BoxStream<ProbeReply>))
    });
    let (server, mut client) = serve(mock, transport).await;

    let requests = tokio_stream::iter([request("a"), request("b")]);
    let outcome = collect(client.bidi(requests).await.unwrap().into_inner()).await;

    assert_eq!(outcome.messages(), [reply("a", 0), reply("b", 0)], "over {transport}");
    server.shutdown().await;
}

/// What mockall says when a call to `unary` with text "b" matches no expectation, as the handler
/// sees the request over a wire transport: with the connection info a tonic server inserts.
fn no_match() -> String {
    "MockProbe::unary(Request { metadata: MetadataMap { headers: {\"te\": \"trailers\", \
     \"content-type\": \"application/grpc\", \"user-agent\": \"tonic/0.14.9\"} }, message: \
     ProbeRequest { text: \"b\", count: 0 }, extensions: \
     {tonic::transport::server::conn::TcpConnectInfo} }): No matching expectation found"
        .to_owned()
}

fn expecting_text_a() -> MockProbe {
    let mut mock = MockProbe::new();
    mock.expect_unary()
        .withf(|request| request.get_ref().text == "a")
        .returning(|_| Reply::message(reply("a", 0)).unary());
    mock
}

#[apply(http2_transports)]
#[tokio::test]
async fn an_unexpected_call_is_answered_internal_and_fails_the_test(transport: Transport) {
    let (server, mut client) = serve(expecting_text_a(), transport).await;

    let result = client.unary(request("b")).await;

    let answered = format!("the handler for /probe.Probe/Unary panicked: {}", no_match());
    assert_status!(result, Code::Internal, answered.as_str());
    let shutdown = tokio::spawn(async move { server.shutdown().await }).await;
    let payload = shutdown.expect_err("shutdown must fail the test").into_panic();
    assert_eq!(
        payload.downcast_ref::<String>().unwrap(),
        &format!(
            "tonic-testkit: the test server caught a panic:
  - {answered} (the client was answered INTERNAL)
A mockall mock panics on a call that none of its expectations matches: add an `expect_..()` for \
the call, or fix the `with(..)`/`withf(..)` that should match it.
The server saw 1 call:
  1. /probe.Probe/Unary: Internal {answered:?}, 1 request (3 bytes), 0 responses"
        ),
        "over {transport}"
    );
}

#[tokio::test]
async fn an_unexpected_call_unwinds_into_the_test_in_direct_mode() {
    let (server, mut client) = serve(expecting_text_a(), Transport::Direct).await;

    let call = tokio::spawn(async move { client.unary(request("b")).await });

    let payload = call.await.expect_err("the call must panic").into_panic();
    let message = payload.downcast_ref::<String>().unwrap();
    assert!(message.starts_with("MockProbe::unary(Request { metadata: MetadataMap"), "{message}");
    assert!(message.ends_with("}): No matching expectation found"), "{message}");
    assert_eq!(server.take_panics().len(), 1, "the panic is also kept for the report");
    server.shutdown().await;
}

#[apply(http2_transports)]
#[tokio::test]
async fn verify_reports_an_unexpected_call_at_its_line(transport: Transport) {
    let (server, mut client) = serve(expecting_text_a(), transport).await;
    client.unary(request("a")).await.unwrap();
    client.unary(request("b")).await.unwrap_err();
    let server = std::sync::Arc::new(server);

    let verify = {
        let server = server.clone();
        tokio::spawn(async move { server.verify().await })
    };
    let line = line!() - 2;

    let payload = verify.await.expect_err("verify must fail the test").into_panic();
    let message = payload.downcast_ref::<String>().unwrap();
    assert!(
        message.starts_with("tonic-testkit: the test server caught a panic:\n  - "),
        "{message}"
    );
    assert!(
        message.ends_with(&format!(
            "The server saw 2 calls:\n  1. /probe.Probe/Unary: Ok, 1 request (3 bytes), 1 response \
             (3 bytes)\n  2. /probe.Probe/Unary: Internal \"the handler for /probe.Probe/Unary \
             panicked: {}\", 1 request (3 bytes), 0 responses\nChecked by server.verify() at tests/mocks.rs:{line}:42.",
            no_match().replace('"', "\\\"")
        )),
        "{message}"
    );
    // verify() took the panic: shutdown has nothing left to report.
    std::sync::Arc::into_inner(server).unwrap().shutdown().await;
}

/// A layer that holds every call to `/probe.Probe/Unary`, and with it the services it would call:
/// a slow layer, a hang.
#[derive(Clone)]
struct HoldsUnary<S>(S);

impl<S> tower::Service<http::Request<tonic::body::Body>> for HoldsUnary<S>
where
    S: tower::Service<http::Request<tonic::body::Body>> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let mut inner = self.0.clone();
        let held = request.uri().path() == "/probe.Probe/Unary";
        Box::pin(async move {
            if held {
                std::future::pending::<()>().await;
            }
            inner.call(request).await
        })
    }
}

const UNMET_SERVER_STREAM: &str = "MockProbe::server_stream: Expectation(<anything>) called 0 \
time(s) which is fewer than expected 1";

#[tokio::test]
async fn shutdown_over_direct_reports_an_unmet_mock_that_a_held_call_still_holds() {
    let mut mock = MockProbe::new();
    mock.expect_server_stream().times(1).returning(|_| Reply::stream([reply("a", 0)]).streaming());
    let server = TestServer::builder()
        .transport(Transport::Direct)
        .add_service(ProbeServer::new(mock))
        .layer(tower::layer::layer_fn(HoldsUnary))
        .grace_period(Duration::from_millis(50))
        .start()
        .await;
    let mut client = server.client(ProbeClient::new);
    let held = tokio::spawn(async move { client.unary(request("held")).await });
    while server.calls().is_empty() {
        tokio::task::yield_now().await;
    }

    let outcome = tokio::spawn(async move { server.shutdown().await }).await;

    let report = outcome.expect_err("shutdown() must report the unmet expectation").into_panic();
    let report = report.downcast_ref::<String>().expect("a report");
    assert!(report.contains(UNMET_SERVER_STREAM), "the report was:\n{report}");
    let status = held.await.unwrap().unwrap_err();
    assert_eq!((status.code(), status.message()), (Code::Unknown, "transport error"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_over_direct_waits_for_a_handler_that_blocks_its_thread_to_verify_the_mock() {
    let (entered, handler_running) = std::sync::mpsc::channel();
    let mut mock = MockProbe::new();
    mock.expect_server_stream().times(1).returning(|_| Reply::stream([reply("a", 0)]).streaming());
    mock.expect_unary().times(1).returning(move |_| {
        entered.send(()).unwrap();
        // A handler that blocks its thread: shutdown() cannot drop the mock before it returns.
        std::thread::sleep(Duration::from_millis(200));
        Ok(Response::new(reply("late", 0)))
    });
    let server = TestServer::builder()
        .transport(Transport::Direct)
        .add_service(ProbeServer::new(mock))
        .grace_period(Duration::ZERO)
        .start()
        .await;
    let mut client = server.client(ProbeClient::new);
    let call = tokio::spawn(async move { client.unary(request("blocks")).await });
    tokio::task::spawn_blocking(move || handler_running.recv().unwrap()).await.unwrap();

    let outcome = tokio::spawn(async move { server.shutdown().await }).await;

    let report = outcome.expect_err("shutdown() must report the unmet expectation").into_panic();
    let report = report.downcast_ref::<String>().expect("a report");
    assert!(report.contains(UNMET_SERVER_STREAM), "the report was:\n{report}");
    let _ = call.await.unwrap();
}
