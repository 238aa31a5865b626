//! `hello.HelloService`: one unary call, answered by [`Greeter`], or never by [`Stuck`].

use std::sync::Arc;

use tokio::sync::Semaphore;
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

/// Never answers, and says when a call has reached it: the service for a test that needs a call
/// in progress on the server (a deadline, a client that gives up, a concurrency limit, a
/// shutdown's grace period) and must not act before the server has it.
///
/// Clones share what they have seen, so the test keeps one and hands a clone to the server.
/// Each call that reaches the service lets one [`reached`](Self::reached) through, in order:
/// two calls in progress take two `reached().await`s.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use tonic::{Code, Request};
/// use tonic_testkit::TestServer;
/// use tonic_testkit_examples::hello::Stuck;
/// use tonic_testkit_examples::hello::pb::{
///     HelloRequest, hello_service_client::HelloServiceClient,
///     hello_service_server::HelloServiceServer,
/// };
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// // Arrange: a call with a 50 ms deadline to a service that never answers.
/// let stuck = Stuck::new();
/// let server =
///     TestServer::builder().add_service(HelloServiceServer::new(stuck.clone())).start().await;
/// let mut client = server.client(HelloServiceClient::new);
/// let mut request = Request::new(HelloRequest::default());
/// request.set_timeout(Duration::from_millis(50));
///
/// // Act
/// let (answer, ()) = tokio::join!(client.hello(request), stuck.reached());
///
/// // Assert: the call reached the service, and the server enforced its deadline.
/// let status = answer.unwrap_err();
/// assert_eq!((status.code(), status.message()), (Code::Cancelled, "Timeout expired"));
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Stuck {
    /// One permit per call that reached the service and was not waited for yet.
    reached: Arc<Semaphore>,
}

impl Stuck {
    /// A service no call has reached yet.
    pub fn new() -> Self {
        Self { reached: Arc::new(Semaphore::new(0)) }
    }

    /// Waits until a call has reached the service: returns at once for each call that reached
    /// it and was not waited for yet, else when the next call arrives.
    pub async fn reached(&self) {
        let permit = self.reached.acquire().await;
        permit.expect("Stuck's semaphore is never closed").forget();
    }
}

impl Default for Stuck {
    fn default() -> Self {
        Self::new()
    }
}

#[tonic::async_trait]
impl HelloService for Stuck {
    async fn hello(&self, _: Request<HelloRequest>) -> Result<Response<HelloResponse>, Status> {
        self.reached.add_permits(1);
        std::future::pending().await
    }
}
