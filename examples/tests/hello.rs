//! The hello service over the transport `TONIC_TESTKIT_TRANSPORT` chooses (memory by default).

use rstest::{fixture, rstest};
use tonic::Code;
use tonic_testkit::{TestServer, Transport, transport};
use tonic_testkit_examples::hello::{
    Greeter,
    pb::{
        HelloRequest, hello_service_client::HelloServiceClient,
        hello_service_server::HelloServiceServer,
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

    let status = client.hello(HelloRequest::default()).await.unwrap_err();

    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(status.message(), "greeting must not be empty");
    server.shutdown().await;
}
