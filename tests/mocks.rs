//! A mockall mock's unmet expectations fail the test in every transport: the server drops its
//! services in the test's task, after its own tasks have ended.

use rstest::rstest;
use tonic::{Request, Response, Status};
use tonic_testkit::{TestServer, Transport};
use tonic_testkit_support::{ProbeClient, ProbeReply, ProbeRequest, ProbeServer, ProbeService};

mockall::mock! {
    pub Probe {}

    #[tonic::async_trait]
    impl ProbeService for Probe {
        async fn unary(
            &self,
            request: Request<ProbeRequest>,
        ) -> Result<Response<ProbeReply>, Status>;
    }
}

fn expecting_one_call() -> ProbeServer<MockProbe> {
    let mut mock = MockProbe::new();
    mock.expect_unary().times(1).returning(|_| Ok(Response::new(ProbeReply::default())));
    ProbeServer::new(mock)
}

const UNMET: &str = "tonic-testkit: the test server caught a panic:
  - a service panicked when the server dropped it (a mock with unmet expectations?): \
MockProbe::unary: Expectation(<anything>) called 0 time(s) which is fewer than expected 1
A mock panics when it is dropped with unmet expectations: make the calls it expects, or change \
its `times(..)`.
The server saw 1 call:
  1. /probe.Probe/ClientStream: Unimplemented \"Not yet implemented\", 0 requests, 0 responses";

#[rstest]
#[tokio::test]
#[should_panic(expected = "tonic-testkit: the test server caught a panic:
  - a service panicked when the server dropped it (a mock with unmet expectations?): \
MockProbe::unary: Expectation(<anything>) called 0 time(s) which is fewer than expected 1
A mock panics when it is dropped with unmet expectations: make the calls it expects, or change \
its `times(..)`.")]
async fn an_unmet_expectation_fails_the_test_at_shutdown(
    #[values(Transport::Direct, Transport::Memory, Transport::Tcp)] transport: Transport,
) {
    let server =
        TestServer::builder().transport(transport).add_service(expecting_one_call()).start().await;
    // A client in scope, even one that made other calls, must not keep the mock alive.
    let _client = server.client(ProbeClient::new);

    server.shutdown().await;
}

#[rstest]
#[tokio::test]
async fn an_unmet_expectation_fails_the_test_when_the_server_is_dropped(
    #[values(Transport::Direct, Transport::Memory, Transport::Tcp)] transport: Transport,
) {
    let server =
        TestServer::builder().transport(transport).add_service(expecting_one_call()).start().await;
    let mut client = server.client(ProbeClient::new);
    // Open a connection first, so the server has tasks of its own when it is dropped.
    let _ = client.client_stream(tokio_stream::iter(Vec::<ProbeRequest>::new())).await;

    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(server)));

    let payload = outcome.expect_err("dropping the server must fail the test");
    assert_eq!(payload.downcast_ref::<String>().map(String::as_str), Some(UNMET), "{transport}");
}

#[rstest]
#[tokio::test]
async fn a_met_expectation_passes(
    #[values(Transport::Direct, Transport::Memory, Transport::Tcp)] transport: Transport,
) {
    let server =
        TestServer::builder().transport(transport).add_service(expecting_one_call()).start().await;
    let mut client = server.client(ProbeClient::new);

    client.unary(ProbeRequest::default()).await.unwrap();

    server.shutdown().await;
}
