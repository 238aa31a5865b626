//! `hello.HelloService`: one unary call.

use tonic::{Request, Response, Status};

/// The generated messages, server and client.
#[allow(missing_docs, clippy::all)]
pub mod pb {
    tonic::include_proto!("hello");
}

use pb::{HelloRequest, HelloResponse, hello_service_server::HelloService};

/// The request header [`Greeter`] echoes into its response headers, so a caller can match a
/// reply to its request in the logs.
pub const REQUEST_ID: &str = "x-request-id";

/// Answers `Hello, <greeting>!`, echoing the caller's [`REQUEST_ID`] header when there is one.
#[derive(Clone, Copy, Debug, Default)]
pub struct Greeter;

#[tonic::async_trait]
impl HelloService for Greeter {
    async fn hello(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloResponse>, Status> {
        let request_id = request.metadata().get(REQUEST_ID).cloned();
        let greeting = request.into_inner().greeting;
        if greeting.is_empty() {
            return Err(Status::invalid_argument("greeting must not be empty"));
        }
        let mut response = Response::new(HelloResponse { reply: format!("Hello, {greeting}!") });
        if let Some(request_id) = request_id {
            response.metadata_mut().insert(REQUEST_ID, request_id);
        }
        Ok(response)
    }
}
