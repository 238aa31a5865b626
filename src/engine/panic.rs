//! Panics caught in a test server, and the report that fails the test.

use std::{any::Any, fmt};

use tonic::Status;

/// Where a caught panic happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PanicSite {
    /// In a handler (or the asynchronous part of a layer), before the response headers.
    Call,
    /// In a layer or interceptor, as the server called it with the request.
    Layer,
    /// In the client's own request stream, read by a direct call's handler.
    Client,
    /// In a response stream, after the headers.
    Stream,
    /// In a service's `Drop` when the server released it (a mock's unmet expectation).
    Drop,
    /// In the kit's own code.
    Kit,
}

/// A panic that the test server caught instead of letting it vanish in a server task.
///
/// Over [`Transport::Memory`](crate::Transport::Memory) and [`Transport::Tcp`](crate::Transport::Tcp)
/// a panicking handler cannot unwind into the test: its call is answered `INTERNAL` with the
/// panic text, and the panic is kept here. [`TestServer::shutdown`](crate::TestServer::shutdown)
/// (or dropping the server) then fails the test with every panic kept, unless the test took them
/// with [`TestServer::take_panics`](crate::TestServer::take_panics) to assert on them.
///
/// # Examples
///
/// ```
/// use tonic::{Code, Request, Response, Status};
/// use tonic_testkit::{TestServer, Transport};
/// use tonic_testkit_examples::hello::pb::{
///     HelloRequest, HelloResponse, hello_service_client::HelloServiceClient,
///     hello_service_server::{HelloService, HelloServiceServer},
/// };
///
/// /// A greeter with a bug.
/// struct Broken;
///
/// #[tonic::async_trait]
/// impl HelloService for Broken {
///     async fn hello(&self, _: Request<HelloRequest>) -> Result<Response<HelloResponse>, Status> {
///         panic!("greeter is broken")
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let server = TestServer::builder()
///     .transport(Transport::Memory)
///     .add_service(HelloServiceServer::new(Broken))
///     .start()
///     .await;
/// let mut client = server.client(HelloServiceClient::new);
///
/// let status = client.hello(HelloRequest { greeting: "Ada".into() }).await.unwrap_err();
///
/// assert_eq!(status.code(), Code::Internal);
/// assert_eq!(
///     status.message(),
///     "the handler for /hello.HelloService/Hello panicked: greeter is broken",
/// );
/// let panics = server.take_panics();
/// assert_eq!(panics.len(), 1);
/// assert_eq!(panics[0].method(), "/hello.HelloService/Hello");
/// assert_eq!(panics[0].message(), "greeter is broken");
/// server.shutdown().await; // nothing left to report
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandlerPanic {
    site: PanicSite,
    method: String,
    message: String,
    unwound: bool,
}

impl HandlerPanic {
    pub(crate) fn new(site: PanicSite, method: &str, payload: Box<dyn Any + Send>) -> Self {
        Self::from_message(site, method, payload_text(payload.as_ref()))
    }

    pub(crate) fn from_message(site: PanicSite, method: &str, message: String) -> Self {
        Self { site, method: method.to_owned(), message, unwound: false }
    }

    /// Marks a panic that was resumed in the caller's task (direct transport) rather than
    /// answered with a status.
    pub(crate) fn unwound(self) -> Self {
        Self { unwound: true, ..self }
    }

    /// The full method path of the call that panicked (`/package.Service/Method`), or `""` for a
    /// panic outside a call, such as a service panicking when the server dropped it.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The panic message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The status the client received for this panic.
    pub(crate) fn status(&self) -> Status {
        Status::internal(self.to_string())
    }
}

impl fmt::Display for HandlerPanic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { method, message, .. } = self;
        match self.site {
            PanicSite::Call => write!(f, "the handler for {method} panicked: {message}"),
            PanicSite::Layer => {
                write!(f, "a layer or interceptor of the server panicked on {method}: {message}")
            }
            PanicSite::Client => {
                write!(f, "the client's request stream for {method} panicked: {message}")
            }
            PanicSite::Stream => {
                write!(f, "the response stream of {method} panicked: {message}")
            }
            PanicSite::Drop => write!(
                f,
                "a service panicked when the server dropped it (a mock with unmet \
                 expectations?): {message}"
            ),
            PanicSite::Kit => f.write_str(message),
        }
    }
}

/// The message that fails a test whose server caught panics.
pub(crate) fn report(panics: &[HandlerPanic]) -> String {
    let mut report = match panics.len() {
        1 => "tonic-testkit: the test server caught a panic:\n".to_owned(),
        n => format!("tonic-testkit: the test server caught {n} panics:\n"),
    };
    for panic in panics {
        report.push_str("  - ");
        report.push_str(&panic.to_string());
        match (panic.site, panic.unwound) {
            (PanicSite::Call | PanicSite::Stream | PanicSite::Layer, false) => {
                report.push_str(" (the client was answered INTERNAL)");
            }
            (PanicSite::Call | PanicSite::Stream | PanicSite::Layer | PanicSite::Client, true) => {
                report.push_str(" (it unwound into the task that made the call)");
            }
            _ => {}
        }
        report.push('\n');
    }
    let unmatched =
        |panic: &HandlerPanic| panic.message.contains(crate::protocol::MOCKALL_NO_MATCH);
    if panics.iter().any(unmatched) {
        report.push_str(
            "A mockall mock panics on a call that none of its expectations matches: add an \
             `expect_..()` for the call, or fix the `with(..)`/`withf(..)` that should match it.\n",
        );
    }
    let fixable = |panic: &&HandlerPanic| {
        matches!(
            panic.site,
            PanicSite::Call | PanicSite::Stream | PanicSite::Layer | PanicSite::Client
        )
    };
    if panics.iter().filter(fixable).any(|panic| !unmatched(panic)) {
        report.push_str(
            "Fix the code that panicked; if the test provokes a handler panic on purpose, take \
             it with `server.take_panics()` and assert on it.\n",
        );
    }
    if panics.iter().any(|panic| panic.site == PanicSite::Drop) {
        report.push_str(
            "A mock panics when it is dropped with unmet expectations: make the calls it \
             expects, or change its `times(..)`.\n",
        );
    }
    report.pop();
    report
}

/// The text of a panic payload: the `&str` or `String` given to `panic!`.
pub(crate) fn payload_text(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&'static str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic payload that is not a string".to_owned()
    }
}
