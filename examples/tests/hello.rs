//! The hello service, called directly and over the transport `TONIC_TESTKIT_TRANSPORT` chooses
//! (memory by default).

use rstest::{fixture, rstest};
use tonic::{Code, Request, Response, Status};
use tonic_testkit::fixtures::transport;
use tonic_testkit::{
    TestRequest, TestServer, Transport, assert_metadata, assert_no_metadata, assert_status,
    fuzz::Exchange,
};
use tonic_testkit_examples::hello::{
    Greeter,
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
