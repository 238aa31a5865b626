//! [`Call`]: one call of the journal as a test reads it.

use std::{fmt, time::Duration};

use http::uri::PathAndQuery;
use tonic::{Code, Status, metadata::MetadataMap};

use super::{End, Sent, Side};

/// One call the server saw, both ways: its method, metadata and request messages; the response
/// headers, messages and trailers the server sent back; how it ended and how long it took (on
/// the tokio clock). Made by [`TestServer::calls`](crate::TestServer::calls).
///
/// # Examples
///
/// ```
/// use tonic::Code;
/// use tonic_testkit::TestServer;
/// use tonic_testkit_examples::hello::Greeter;
/// use tonic_testkit_examples::hello::pb::{
///     HelloRequest, HelloResponse, hello_service_client::HelloServiceClient,
///     hello_service_server::HelloServiceServer,
/// };
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let server =
///     TestServer::builder().add_service(HelloServiceServer::new(Greeter)).start().await;
/// let mut client = server.client(HelloServiceClient::new);
///
/// client.hello(HelloRequest { greeting: "hi".into() }).await.unwrap();
///
/// let calls = server.calls_to("/hello.HelloService/Hello");
/// assert_eq!(calls.len(), 1);
/// assert_eq!(calls[0].request::<HelloRequest>(0).greeting, "hi");
/// assert_eq!(calls[0].response::<HelloResponse>(0).reply, "Hello, hi!");
/// assert_eq!(calls[0].code(), Some(Code::Ok));
/// assert_eq!(calls[0].response_count(), 1);
/// server.shutdown().await;
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Call {
    pub(super) method: PathAndQuery,
    pub(super) metadata: MetadataMap,
    pub(super) response_headers: MetadataMap,
    pub(super) trailers: MetadataMap,
    pub(super) requests: Sent,
    pub(super) responses: Sent,
    pub(super) status: Option<End>,
    pub(super) duration: Option<Duration>,
    pub(super) faults: Vec<String>,
    /// The method, as the server's descriptors describe it.
    #[cfg(feature = "descriptors")]
    pub(super) described: Option<prost_reflect::MethodDescriptor>,
}

impl Call {
    /// The full method path, such as `/orders.Orders/RegisterOrder`.
    pub fn method(&self) -> &str {
        self.method.path()
    }

    /// The request metadata (headers) as the server received them.
    pub fn metadata(&self) -> &MetadataMap {
        &self.metadata
    }

    /// The response headers (initial metadata) the server sent, `content-type` and
    /// `grpc-encoding` among them, as the services answered them (over HTTP/2 the connection
    /// adds a `date`). Empty while the call waits for its answer, and for a call answered
    /// trailers-only (a status before any response, as a handler's `Err` is answered): its one
    /// header block holds the status, and is its [`trailers`](Self::trailers).
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::{Reply, Stub, TestServer};
    /// use tonic_testkit_examples::hello::pb::{
    ///     HelloRequest, HelloResponse,
    ///     hello_service_client::HelloServiceClient,
    /// };
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let stub = Stub::new();
    /// let reply = Reply::message(HelloResponse::default()).header("x-shard", "3");
    /// stub.on("/hello.HelloService/Hello").reply(reply);
    /// let server = TestServer::builder().add_stub(&stub).start().await;
    ///
    /// let mut client = server.client(HelloServiceClient::new);
    /// client.hello(HelloRequest { greeting: "Ada".into() }).await.unwrap();
    ///
    /// let headers = server.calls()[0].response_headers().clone();
    /// assert_eq!(headers.get("x-shard").unwrap(), "3");
    /// assert_eq!(headers.get("content-type").unwrap(), "application/grpc");
    /// # }
    /// ```
    pub fn response_headers(&self) -> &MetadataMap {
        &self.response_headers
    }

    /// The trailers (trailing metadata) the server ended the call with: `grpc-status`,
    /// `grpc-message` when there is one, and the metadata of the handler's status. For a call
    /// answered trailers-only, its one header block (`content-type` included). Empty while the
    /// call runs, and for a call that ended without trailers (cancelled, reset, cut off).
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic::Status;
    /// use tonic_testkit::{Reply, Stub, TestServer};
    /// use tonic_testkit_examples::hello::pb::{
    ///     HelloRequest, HelloResponse,
    ///     hello_service_client::HelloServiceClient,
    /// };
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let stub = Stub::new();
    /// let down = Reply::<HelloResponse>::status(Status::unavailable("down"));
    /// let reply = down.trailer("x-retry", "5");
    /// stub.on("/hello.HelloService/Hello").reply(reply);
    /// let server = TestServer::builder().add_stub(&stub).start().await;
    ///
    /// let mut client = server.client(HelloServiceClient::new);
    /// client.hello(HelloRequest { greeting: "Ada".into() }).await.unwrap_err();
    ///
    /// // A status before any response: trailers-only, so no response headers.
    /// let call = &server.calls()[0];
    /// assert_eq!(call.trailers().get("x-retry").unwrap(), "5");
    /// assert_eq!(call.trailers().get("grpc-status").unwrap(), "14");
    /// assert!(call.response_headers().is_empty());
    /// # }
    /// ```
    pub fn trailers(&self) -> &MetadataMap {
        &self.trailers
    }

    /// How many request messages arrived, those the journal counted past its byte limit
    /// included (see [`TestServerBuilder::journal_byte_limit`](crate::TestServerBuilder::journal_byte_limit)).
    pub fn request_count(&self) -> usize {
        self.requests.count()
    }

    /// Request message `index` (from 0), decoded as `T`. A message the client sent compressed
    /// is decompressed first with the call's `grpc-encoding` (gzip, with the `gzip` feature).
    ///
    /// # Panics
    ///
    /// When there is no such message, or it does not decode as `T`, or it was compressed in a
    /// way the journal cannot read (the message says which).
    #[track_caller]
    pub fn request<T: prost::Message + Default>(&self, index: usize) -> T {
        self.decode(Side::Request, index)
    }

    /// Every request message, decoded as `T`.
    ///
    /// # Panics
    ///
    /// As [`request`](Self::request).
    #[track_caller]
    pub fn requests<T: prost::Message + Default>(&self) -> Vec<T> {
        // A loop, not `map`: a closure would take the panic's location from the kit.
        let mut messages = Vec::with_capacity(self.request_count());
        for index in 0..self.request_count() {
            messages.push(self.request(index));
        }
        messages
    }

    /// Whether request message `index` (from 0) arrived compressed (its gRPC compressed flag
    /// set): how a test checks that the client under test really compresses what it sends.
    ///
    /// # Panics
    ///
    /// When there is no such message.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_examples::hello::Greeter;
    /// use tonic_testkit_examples::hello::pb::{
    ///     HelloRequest, hello_service_client::HelloServiceClient,
    ///     hello_service_server::HelloServiceServer,
    /// };
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server =
    ///     TestServer::builder().add_service(HelloServiceServer::new(Greeter)).start().await;
    /// let mut client = server.client(HelloServiceClient::new); // sends uncompressed
    ///
    /// client.hello(HelloRequest { greeting: "plain".into() }).await.unwrap();
    ///
    /// assert!(!server.calls()[0].request_compressed(0));
    /// # }
    /// ```
    #[track_caller]
    pub fn request_compressed(&self, index: usize) -> bool {
        self.message(Side::Request, index).compressed
    }

    /// The size of request message `index` (from 0) as it went over the wire: its encoded
    /// bytes, compressed if it was, without gRPC's 5-byte prefix. It is what tonic's
    /// `max_encoding_message_size` counts ("found N bytes").
    ///
    /// # Panics
    ///
    /// When there is no such message, or the journal counted it past its byte limit without
    /// keeping it.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_examples::hello::Greeter;
    /// use tonic_testkit_examples::hello::pb::{
    ///     HelloRequest, hello_service_client::HelloServiceClient,
    ///     hello_service_server::HelloServiceServer,
    /// };
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server =
    ///     TestServer::builder().add_service(HelloServiceServer::new(Greeter)).start().await;
    /// let mut client = server.client(HelloServiceClient::new);
    ///
    /// // Field 1, a 5-byte string: a tag, a length and the 5 bytes.
    /// client.hello(HelloRequest { greeting: "hello".into() }).await.unwrap();
    ///
    /// assert_eq!(server.calls()[0].request_size(0), 7);
    /// # }
    /// ```
    #[track_caller]
    pub fn request_size(&self, index: usize) -> usize {
        self.message(Side::Request, index).bytes.len()
    }

    /// How many response messages the server sent, those the journal counted past its byte
    /// limit included.
    pub fn response_count(&self) -> usize {
        self.responses.count()
    }

    /// Response message `index` (from 0), decoded as `T`: what the server sent, message for
    /// message, on every transport. A message the server sent compressed is decompressed first
    /// with the response's `grpc-encoding` (gzip, with the `gzip` feature).
    ///
    /// # Panics
    ///
    /// When there is no such message, or it does not decode as `T`, or it was compressed in a
    /// way the journal cannot read (the message says which).
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_examples::hello::Greeter;
    /// use tonic_testkit_examples::hello::pb::{
    ///     HelloRequest, HelloResponse,
    ///     hello_service_client::HelloServiceClient, hello_service_server::HelloServiceServer,
    /// };
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server =
    ///     TestServer::builder().add_service(HelloServiceServer::new(Greeter)).start().await;
    /// let mut client = server.client(HelloServiceClient::new);
    ///
    /// client.hello(HelloRequest { greeting: "Ada".into() }).await.unwrap();
    ///
    /// assert_eq!(server.calls()[0].response::<HelloResponse>(0).reply, "Hello, Ada!");
    /// # }
    /// ```
    #[track_caller]
    pub fn response<T: prost::Message + Default>(&self, index: usize) -> T {
        self.decode(Side::Response, index)
    }

    /// Every response message, decoded as `T`.
    ///
    /// # Panics
    ///
    /// As [`response`](Self::response).
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::{TestServer, collect};
    /// use tonic_testkit_examples::orders::Orders;
    /// use tonic_testkit_examples::orders::pb::{
    ///     OrderEvent, OrderStatus, RegisterOrderRequest, WatchOrderRequest,
    ///     orders_client::OrdersClient, orders_server::OrdersServer,
    /// };
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server =
    ///     TestServer::builder().add_service(OrdersServer::new(Orders::default())).start().await;
    /// let mut client = server.client(OrdersClient::new);
    /// let order = RegisterOrderRequest { items: vec!["tea".into()], ..Default::default() };
    /// let order_id = client.register_order(order).await.unwrap().into_inner().order_id;
    ///
    /// let events = client.watch_order(WatchOrderRequest { order_id }).await.unwrap();
    /// collect(events.into_inner()).await;
    ///
    /// let sent = server.calls()[1].responses::<OrderEvent>();
    /// let statuses: Vec<_> = sent.iter().map(|event| event.status()).collect();
    /// assert_eq!(
    ///     statuses,
    ///     [OrderStatus::Pending, OrderStatus::Confirmed, OrderStatus::Shipped, OrderStatus::Delivered]
    /// );
    /// # }
    /// ```
    #[track_caller]
    pub fn responses<T: prost::Message + Default>(&self) -> Vec<T> {
        // A loop, not `map`: a closure would take the panic's location from the kit.
        let mut messages = Vec::with_capacity(self.response_count());
        for index in 0..self.response_count() {
            messages.push(self.response(index));
        }
        messages
    }

    /// Whether response message `index` (from 0) went out compressed (its gRPC compressed flag
    /// set): how a test checks that a service really compresses what it sends.
    ///
    /// # Panics
    ///
    /// When there is no such message.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_examples::hello::Greeter;
    /// use tonic_testkit_examples::hello::pb::{
    ///     HelloRequest, hello_service_client::HelloServiceClient,
    ///     hello_service_server::HelloServiceServer,
    /// };
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// // Greeter is served without `send_compressed(..)`.
    /// let server =
    ///     TestServer::builder().add_service(HelloServiceServer::new(Greeter)).start().await;
    ///
    /// let mut client = server.client(HelloServiceClient::new);
    /// client.hello(HelloRequest { greeting: "Ada".into() }).await.unwrap();
    ///
    /// assert!(!server.calls()[0].response_compressed(0));
    /// # }
    /// ```
    #[track_caller]
    pub fn response_compressed(&self, index: usize) -> bool {
        self.message(Side::Response, index).compressed
    }

    /// The size of response message `index` (from 0) as it went over the wire, as
    /// [`request_size`](Self::request_size) gives a request's.
    ///
    /// # Panics
    ///
    /// When there is no such message, or the journal counted it past its byte limit without
    /// keeping it.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_examples::hello::Greeter;
    /// use tonic_testkit_examples::hello::pb::{
    ///     HelloRequest, hello_service_client::HelloServiceClient,
    ///     hello_service_server::HelloServiceServer,
    /// };
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server =
    ///     TestServer::builder().add_service(HelloServiceServer::new(Greeter)).start().await;
    ///
    /// // The reply, "Hello, Ada!", is field 1: a tag, a length and 11 bytes.
    /// let mut client = server.client(HelloServiceClient::new);
    /// client.hello(HelloRequest { greeting: "Ada".into() }).await.unwrap();
    ///
    /// assert_eq!(server.calls()[0].response_size(0), 13);
    /// # }
    /// ```
    #[track_caller]
    pub fn response_size(&self, index: usize) -> usize {
        self.message(Side::Response, index).bytes.len()
    }

    /// How the call ended, or `None` while it is still running.
    pub fn status(&self) -> Option<&Status> {
        self.status.as_ref().map(End::status)
    }

    /// The code the call ended with, or `None` while it is still running.
    pub fn code(&self) -> Option<Code> {
        self.status().map(Status::code)
    }

    /// Whether the call ended because its client went away (dropped the call) before it ended:
    /// its status is `CANCELLED "the call was cancelled before it ended (the client went
    /// away)"`. A call past its deadline is not: it ends `CANCELLED "Timeout expired"`.
    pub(crate) fn cancelled_by_client(&self) -> bool {
        self.status().is_some_and(|status| {
            status.code() == Code::Cancelled && status.message() == super::CANCELLED
        })
    }

    /// How long the call took, from its arrival to its status, on the tokio clock; `None`
    /// while it is still running.
    pub fn duration(&self) -> Option<Duration> {
        self.duration
    }

    /// The [`Faults`](crate::Faults) rules that acted on the call, each as the test wrote it,
    /// with its line: `faults.on("/hello.HelloService/Hello").times(2).fail(Unavailable, "down") at
    /// tests/faults.rs:12:5`.
    pub fn faults(&self) -> &[String] {
        &self.faults
    }

    pub(super) fn sent(&self, side: Side) -> &Sent {
        match side {
            Side::Request => &self.requests,
            Side::Response => &self.responses,
        }
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.method)?;
        match self.status() {
            None => write!(f, "still running")?,
            Some(status) if status.message().is_empty() => write!(f, "{:?}", status.code())?,
            Some(status) => write!(f, "{:?} {:?}", status.code(), status.message())?,
        }
        write!(
            f,
            ", {}, {}",
            Count(&self.requests, "request"),
            Count(&self.responses, "response")
        )?;
        for fault in &self.faults {
            write!(f, "\n     fault: {fault}")?;
        }
        Ok(())
    }
}

/// The messages of one direction, for a report: `0 responses`, `1 request (7 bytes)`,
/// `3 responses (21 bytes)`.
struct Count<'a>(&'a Sent, &'static str);

impl fmt::Display for Count<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        let Count(sent, name) = *self;
        let count = sent.count();
        write!(f, "{count} {name}{}", plural(count))?;
        if count > 0 {
            write!(f, " ({} byte{})", sent.bytes, plural(sent.bytes))?;
        }
        Ok(())
    }
}
