//! `hello.HelloService`: one unary call.

use tonic::{Request, Response, Status};

/// The generated messages, server and client.
#[allow(missing_docs, clippy::all)]
pub mod pb {
    tonic::include_proto!("hello");
}

use pb::{HelloRequest, HelloResponse, hello_service_server::HelloService};

/// Answers `Hello, <greeting>!`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Greeter;

#[tonic::async_trait]
impl HelloService for Greeter {
    async fn hello(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloResponse>, Status> {
        let greeting = request.into_inner().greeting;
        if greeting.is_empty() {
            return Err(Status::invalid_argument("greeting must not be empty"));
        }
        Ok(Response::new(HelloResponse { reply: format!("Hello, {greeting}!") }))
    }
}
