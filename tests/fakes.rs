//! Fakes with defaults: a server trait generated with `generate_default_stubs(true)` lets a test
//! implement only the methods it needs; the others answer `UNIMPLEMENTED`, on every transport.

mod common;

use common::every_transport;
use rstest::rstest;
use rstest_reuse::apply;
use tonic::{Code, Request, Response, Status};
use tonic_testkit::{TestServer, Transport, assert_status};
use tonic_testkit_support::{ProbeClient, ProbeReply, ProbeRequest, ProbeServer, ProbeService};

/// Implements `Unary` only.
struct Greeter;

#[tonic::async_trait]
impl ProbeService for Greeter {
    async fn unary(&self, request: Request<ProbeRequest>) -> Result<Response<ProbeReply>, Status> {
        let text = format!("hello, {}", request.into_inner().text);
        Ok(Response::new(ProbeReply { text, index: 0 }))
    }
}

#[apply(every_transport)]
#[tokio::test]
async fn a_fake_answers_what_it_implements_and_unimplemented_for_the_rest(transport: Transport) {
    let server = TestServer::builder()
        .transport(transport)
        .add_service(ProbeServer::new(Greeter))
        .start()
        .await;
    let mut client = server.client(ProbeClient::new);
    let request = || ProbeRequest { text: "ada".into(), count: 0 };

    let greeting = client.unary(request()).await.unwrap().into_inner();
    let streamed = client.server_stream(request()).await;
    let counted = client.client_stream(tokio_stream::iter([request()])).await;

    assert_eq!(greeting.text, "hello, ada", "over {transport}");
    assert_status!(streamed, Code::Unimplemented, "Not yet implemented");
    assert_status!(counted, Code::Unimplemented, "Not yet implemented");
    let codes: Vec<_> = server.calls().iter().map(|call| call.code()).collect();
    let unimplemented = Some(Code::Unimplemented);
    assert_eq!(codes, [Some(Code::Ok), unimplemented, unimplemented], "over {transport}");
    server.shutdown().await;
}
