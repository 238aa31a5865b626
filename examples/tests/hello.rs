//! The hello service, called directly and over the transport `TONIC_TESTKIT_TRANSPORT` chooses
//! (memory by default).

mod common;

use std::time::Duration;

use common::every_transport;
use rstest::{fixture, rstest};
use rstest_reuse::apply;
use tonic::{Code, Request, Response, Status};
use tonic_testkit::fixtures::transport;
use tonic_testkit::{
    TestRequest, TestServer, Transport, assert_metadata, assert_no_metadata, assert_status,
    fuzz::Exchange,
};
use tonic_testkit_examples::hello::{
    Greeter, Stuck,
    pb::{
        HelloRequest, HelloResponse,
        hello_service_client::HelloServiceClient,
        hello_service_server::{HelloService, HelloServiceServer},
    },
};

#[fixture]
async fn server(transport: Transport) -> TestServer {
    TestServer::builder()
        .transport(transport)
        .add_service(HelloServiceServer::new(Greeter))
        .start()
        .await
}

/// A greeting tagged with a request id; a `tonic::Request` for the handler or for a client.
fn tagged_greeting() -> Request<HelloRequest> {
    TestRequest::new(HelloRequest { greeting: "world".into() })
        .metadata("x-request-id", "r-42")
        .into()
}

fn expect_tagged_reply(result: Result<Response<HelloResponse>, Status>) {
    assert_metadata!(result, "x-request-id", "r-42");
    assert_eq!(result.unwrap().into_inner().reply, "Hello, world!");
}

#[tokio::test]
async fn the_request_id_is_echoed_into_the_response_headers() {
    let result = Greeter.hello(tagged_greeting()).await;

    expect_tagged_reply(result);
}

#[rstest]
#[tokio::test]
#[awt]
async fn the_request_id_is_echoed_into_the_response_headers_over_a_server(
    #[future] server: TestServer,
) {
    let mut client = server.client(HelloServiceClient::new);

    let result = client.hello(tagged_greeting()).await;

    expect_tagged_reply(result);
    server.shutdown().await;
}

#[tokio::test]
async fn a_reply_without_a_request_id_has_none() {
    let request = TestRequest::new(HelloRequest { greeting: "world".into() });

    let result = Greeter.hello(request.into()).await;

    assert_no_metadata!(result, "x-request-id");
}

#[rstest]
#[tokio::test]
#[awt]
async fn says_hello(#[future] server: TestServer) {
    let mut client = server.client(HelloServiceClient::new);

    let reply = client.hello(HelloRequest { greeting: "world".into() }).await.unwrap();

    assert_eq!(reply.into_inner().reply, "Hello, world!");
    server.shutdown().await;
}

#[rstest]
#[tokio::test]
#[awt]
async fn an_empty_greeting_is_invalid(#[future] server: TestServer) {
    let mut client = server.client(HelloServiceClient::new);

    let result = client.hello(HelloRequest::default()).await;

    assert_status!(result, Code::InvalidArgument, "greeting must not be empty");
    server.shutdown().await;
}

// Stuck: a call in progress that the test knows the server has.

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn stuck_never_answers_and_lets_one_reached_through_per_call(transport: Transport) {
    let stuck = Stuck::new();
    let server = TestServer::builder()
        .transport(transport)
        .add_service(HelloServiceServer::new(stuck.clone()))
        .start()
        .await;
    let mut first = server.client(HelloServiceClient::new);
    let mut second = first.clone();
    let calls = [
        tokio::spawn(async move { first.hello(HelloRequest::default()).await }),
        tokio::spawn(async move { second.hello(HelloRequest::default()).await }),
    ];

    let two = async {
        stuck.reached().await;
        stuck.reached().await;
    };
    let reached = tokio::time::timeout(Duration::from_secs(60), two).await;
    let third = tokio::time::timeout(Duration::from_secs(60), stuck.reached()).await;

    assert!(
        reached.is_ok(),
        "over {transport}: two calls were made, and they did not both reach Stuck"
    );
    assert!(
        third.is_err(),
        "over {transport}: two calls reached Stuck, and reached() returned thrice"
    );
    assert!(calls.iter().all(|call| !call.is_finished()), "over {transport}: a call was answered");
    assert_eq!(server.calls().len(), 2, "over {transport}");
    calls.iter().for_each(|call| call.abort());
    server.shutdown().await;
}

// Fuzzing: every method called with requests built from the descriptors (empty, long and
// non-ASCII greetings, odd request ids), checked against what the service promises.

#[rstest]
#[tokio::test]
async fn no_greeting_breaks_the_service_and_every_one_is_answered_or_refused(
    #[future] server: TestServer,
) {
    let server = server.await;

    let summary = server
        .fuzz(tonic_testkit_examples::FILE_DESCRIPTOR_SET)
        .metadata("x-request-id")
        .check("/hello.HelloService/Hello", |exchange: &Exchange<HelloRequest, HelloResponse>| {
            let greeting = &exchange.request().greeting;
            match exchange.response() {
                Some(response) => assert_eq!(response.reply, format!("Hello, {greeting}!")),
                None => assert!(greeting.is_empty(), "only an empty greeting is refused"),
            }
        })
        .await;

    assert!(summary.count("/hello.HelloService/Hello", Code::InvalidArgument) > 0, "{summary}");
}
