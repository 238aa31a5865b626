//! What a [`FaultRule`] does to the calls it acts on: the actions that end the rule's chain
//! and put it in force.

use std::time::Duration;

use tonic::{Code, Status};

#[cfg(doc)]
use super::Faults;
use super::{Action, Failure, FaultRule};

impl FaultRule<'_> {
    /// Answers the call with `code` and `message`; the handler is not called.
    ///
    /// # Panics
    ///
    /// When `code` is `OK`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tonic::Code;
    /// # use tonic_testkit::{Faults, TestServer, assert_status};
    /// # use tonic_testkit_examples::hello::Greeter;
    /// # use tonic_testkit_examples::hello::pb::{
    /// #     HelloRequest, hello_service_client::HelloServiceClient,
    /// #     hello_service_server::HelloServiceServer,
    /// # };
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let faults = Faults::new();
    /// let server = TestServer::builder()
    ///     .add_service(HelloServiceServer::new(Greeter))
    ///     .faults(&faults)
    ///     .start()
    ///     .await;
    /// let mut client = server.client(HelloServiceClient::new);
    /// let ada = || HelloRequest { greeting: "Ada".into() };
    /// faults.on("/hello.HelloService/Hello").fail(Code::Unavailable, "try again");
    ///
    /// let status = client.hello(ada()).await;
    ///
    /// assert_status!(status, Code::Unavailable, "try again");
    /// # }
    /// ```
    #[track_caller]
    pub fn fail(self, code: Code, message: impl Into<String>) {
        let message = message.into();
        assert!(
            code != Code::Ok,
            "FaultRule::fail takes an error code, got OK {message:?}; to slow a call down use \
             .delay(..)"
        );
        // The status is made when the rule acts: most rules never do.
        self.install(Action::Fail(Failure::Parts(code, message)));
    }

    /// Answers the call with `status` (binary details and metadata included, the metadata as
    /// trailers); the handler is not called.
    ///
    /// # Panics
    ///
    /// When `status` is `OK`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tonic::Code;
    /// # use tonic_testkit::{Faults, TestServer};
    /// # use tonic_testkit_examples::hello::Greeter;
    /// # use tonic_testkit_examples::hello::pb::{
    /// #     HelloRequest, hello_service_client::HelloServiceClient,
    /// #     hello_service_server::HelloServiceServer,
    /// # };
    /// # use tonic::Status;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let faults = Faults::new();
    /// let server = TestServer::builder()
    ///     .add_service(HelloServiceServer::new(Greeter))
    ///     .faults(&faults)
    ///     .start()
    ///     .await;
    /// let mut client = server.client(HelloServiceClient::new);
    /// let ada = || HelloRequest { greeting: "Ada".into() };
    /// let mut status = Status::unavailable("overloaded");
    /// status.metadata_mut().insert("retry-after-ms", "250".parse().unwrap());
    /// faults.on("/hello.HelloService/Hello").fail_with(status);
    ///
    /// let status = client.hello(ada()).await.unwrap_err();
    ///
    /// assert_eq!(status.code(), Code::Unavailable);
    /// assert_eq!(status.metadata().get("retry-after-ms").unwrap(), "250");
    /// # }
    /// ```
    #[track_caller]
    pub fn fail_with(self, status: Status) {
        assert!(
            status.code() != Code::Ok,
            "FaultRule::fail_with takes an error status, got OK; to slow a call down use .delay(..)"
        );
        self.install(Action::Fail(Failure::Status(status)));
    }

    /// Waits `delay` before the handler runs (the call's deadline still applies). The delays
    /// of all the rules that act on a call add up; `Duration::MAX` holds the call for good, until
    /// its deadline or until the client gives up.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tonic_testkit::{Faults, TestServer};
    /// # use tonic_testkit_examples::hello::Greeter;
    /// # use tonic_testkit_examples::hello::pb::{
    /// #     HelloRequest, hello_service_client::HelloServiceClient,
    /// #     hello_service_server::HelloServiceServer,
    /// # };
    /// # use std::time::Duration;
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let faults = Faults::new();
    /// let server = TestServer::builder()
    ///     .add_service(HelloServiceServer::new(Greeter))
    ///     .faults(&faults)
    ///     .start()
    ///     .await;
    /// let mut client = server.client(HelloServiceClient::new);
    /// let ada = || HelloRequest { greeting: "Ada".into() };
    /// faults.on("/hello.HelloService/Hello").delay(Duration::from_millis(200));
    ///
    /// let started = tokio::time::Instant::now();
    /// client.hello(ada()).await.unwrap();
    ///
    /// assert_eq!(started.elapsed(), Duration::from_millis(200)); // on the paused clock
    /// # }
    /// ```
    pub fn delay(self, delay: Duration) {
        self.install(Action::Delay(delay));
    }

    /// Spaces the response messages: each one but the first waits until `delay` has passed
    /// since the one before (a stream already slower than that is not slowed further). The
    /// delays of all the rules that act on a call add up; `Duration::MAX` holds every message
    /// after the first for good, until the client gives up (as with a tonic server, the call's
    /// deadline does not end a response that has begun).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use tonic_testkit::{Faults, TestServer, collect};
    /// # use tonic_testkit_examples::orders::Orders;
    /// # use tonic_testkit_examples::orders::pb::{
    /// #     RegisterOrderRequest, WatchOrderRequest, orders_client::OrdersClient,
    /// #     orders_server::OrdersServer,
    /// # };
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let faults = Faults::new();
    /// let server = TestServer::builder()
    ///     .add_service(OrdersServer::new(Orders::default()))
    ///     .faults(&faults)
    ///     .start()
    ///     .await;
    /// let mut client = server.client(OrdersClient::new);
    /// let order = RegisterOrderRequest { items: vec!["tea".into()], ..Default::default() };
    /// let order_id = client.register_order(order).await.unwrap().into_inner().order_id;
    /// // Watching an order streams 4 events: pending, confirmed, shipped, delivered.
    /// faults.on("/orders.Orders/WatchOrder").delay_messages(Duration::from_secs(1));
    ///
    /// let started = tokio::time::Instant::now();
    /// let events = client.watch_order(WatchOrderRequest { order_id }).await.unwrap();
    /// let outcome = collect(events.into_inner()).await;
    ///
    /// assert_eq!(outcome.messages().len(), 4);
    /// assert_eq!(started.elapsed(), Duration::from_secs(3)); // 1 s before each but the first
    /// # }
    /// ```
    pub fn delay_messages(self, delay: Duration) {
        self.install(Action::DelayMessages(delay));
    }

    /// Cuts the response stream after `messages` messages and ends the call with `status`.
    ///
    /// # Panics
    ///
    /// When `status` is `OK`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tonic::{Code, Status};
    /// # use tonic_testkit::{Faults, TestServer, collect};
    /// # use tonic_testkit_examples::orders::Orders;
    /// # use tonic_testkit_examples::orders::pb::{
    /// #     RegisterOrderRequest, WatchOrderRequest, orders_client::OrdersClient,
    /// #     orders_server::OrdersServer,
    /// # };
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let faults = Faults::new();
    /// let server = TestServer::builder()
    ///     .add_service(OrdersServer::new(Orders::default()))
    ///     .faults(&faults)
    ///     .start()
    ///     .await;
    /// let mut client = server.client(OrdersClient::new);
    /// let order = RegisterOrderRequest { items: vec!["tea".into()], ..Default::default() };
    /// let order_id = client.register_order(order).await.unwrap().into_inner().order_id;
    /// // Watching an order streams 4 events: pending, confirmed, shipped, delivered.
    /// faults.on("/orders.Orders/WatchOrder").cut_after(2, Status::unavailable("feed lost"));
    ///
    /// let events = client.watch_order(WatchOrderRequest { order_id }).await.unwrap();
    /// let outcome = collect(events.into_inner()).await;
    ///
    /// assert_eq!(outcome.messages().len(), 2);
    /// assert_eq!(outcome.status().code(), Code::Unavailable);
    /// assert_eq!(outcome.status().message(), "feed lost");
    /// # }
    /// ```
    #[track_caller]
    pub fn cut_after(self, messages: usize, status: Status) {
        assert!(
            status.code() != Code::Ok,
            "FaultRule::cut_after takes the error status that ends the cut stream, got OK"
        );
        self.install(Action::Cut(messages, status));
    }

    /// Resets the response stream with the HTTP/2 `reason` once `messages` messages were sent,
    /// when the stream would go on (with its next message, or its end), as a server or proxy
    /// that gives up on a stream does. The client reads what a tonic client reports for an
    /// `RST_STREAM` with that reason in the middle of a response: the code tonic gives the reason
    /// (`CANCEL`: `CANCELLED`; `REFUSED_STREAM`: `UNAVAILABLE`; `ENHANCE_YOUR_CALM`:
    /// `RESOURCE_EXHAUSTED`; most others `INTERNAL`) and `"h2 protocol error: error reading a
    /// body from connection"`. `reason` is an [`h2::Reason`](https://docs.rs/h2/0.4/h2/struct.Reason.html),
    /// or its code as a `u32`.
    ///
    /// Over memory and TCP the client reads the headers and the messages before the reset only if
    /// they reached it before the reset did: they do when the stream paces its messages (as
    /// below), or, with `messages` = 0, when its first message comes later than its headers (a
    /// bidi stream answering its client). A reset sent together with the headers fails the call
    /// at once: `"h2 protocol error: http2 error"`, with the same code. Over
    /// [`Transport::Direct`](crate::Transport::Direct), which has no stream to reset, the client
    /// reads as one that kept up: the headers, the messages, then the status above.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use tonic::Code;
    /// use tonic_testkit::{Faults, Reply, Stub, TestServer, collect};
    /// use tonic_testkit_examples::orders::pb::{
    ///     OrderEvent, OrderStatus, WatchOrderRequest, orders_client::OrdersClient,
    /// };
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let stub = Stub::new();
    /// let event = |status: OrderStatus| OrderEvent {
    ///     order_id: "order-1".into(),
    ///     status: status.into(),
    /// };
    /// let events = [OrderStatus::Pending, OrderStatus::Confirmed, OrderStatus::Shipped].map(event);
    /// stub.on("/orders.Orders/WatchOrder")
    ///     .reply(Reply::stream(events).interval(Duration::from_millis(10)));
    /// let faults = Faults::new();
    /// faults.on("/orders.Orders/WatchOrder").reset_stream_after(1, 0x8_u32); // CANCEL
    /// let server = TestServer::builder().add_stub(&stub).faults(&faults).start().await;
    /// let mut client = server.client(OrdersClient::new);
    ///
    /// let watch = WatchOrderRequest { order_id: "order-1".into() };
    /// let events = client.watch_order(watch).await.unwrap();
    /// let outcome = collect(events.into_inner()).await;
    ///
    /// assert_eq!(outcome.messages(), [event(OrderStatus::Pending)]);
    /// assert_eq!(outcome.status().code(), Code::Cancelled);
    /// # }
    /// ```
    pub fn reset_stream_after(self, messages: usize, reason: impl Into<h2::Reason>) {
        self.install(Action::Reset(messages, reason.into()));
    }

    /// Never answers: the call waits until its deadline (`CANCELLED "Timeout expired"`, as from
    /// a tonic server) or until the client gives up.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tonic::Code;
    /// # use tonic_testkit::{Faults, TestServer, assert_status};
    /// # use tonic_testkit_examples::hello::Greeter;
    /// # use tonic_testkit_examples::hello::pb::{
    /// #     HelloRequest, hello_service_client::HelloServiceClient,
    /// #     hello_service_server::HelloServiceServer,
    /// # };
    /// # use std::time::Duration;
    /// # use tonic::Request;
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let faults = Faults::new();
    /// let server = TestServer::builder()
    ///     .add_service(HelloServiceServer::new(Greeter))
    ///     .faults(&faults)
    ///     .start()
    ///     .await;
    /// let mut client = server.client(HelloServiceClient::new);
    /// let ada = || HelloRequest { greeting: "Ada".into() };
    /// faults.on("/hello.HelloService/Hello").hang();
    ///
    /// let mut request = Request::new(ada());
    /// request.set_timeout(Duration::from_millis(50));
    /// let status = client.hello(request).await;
    ///
    /// assert_status!(status, Code::Cancelled, "Timeout expired");
    /// # }
    /// ```
    pub fn hang(self) {
        self.install(Action::Hang);
    }

    /// Drops the connection the call came on, so its client sees a transport error; channels
    /// reconnect on their next call. Applies to servers over memory and TCP: over
    /// [`Transport::Direct`](crate::Transport::Direct), and through a
    /// [wrapped](Faults::wrap) channel, there is no connection to drop, and the call panics
    /// saying so.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tonic::Code;
    /// # use tonic_testkit::{Faults, TestServer, Transport};
    /// # use tonic_testkit_examples::hello::Greeter;
    /// # use tonic_testkit_examples::hello::pb::{
    /// #     HelloRequest, hello_service_client::HelloServiceClient,
    /// #     hello_service_server::HelloServiceServer,
    /// # };
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let faults = Faults::new();
    /// let server = TestServer::builder()
    ///     .transport(Transport::Memory)
    ///     .add_service(HelloServiceServer::new(Greeter))
    ///     .faults(&faults)
    ///     .start()
    ///     .await;
    /// let mut client = server.client(HelloServiceClient::new);
    /// let ada = || HelloRequest { greeting: "Ada".into() };
    /// faults.on("/hello.HelloService/Hello").times(1).drop_connection();
    ///
    /// let dropped = client.hello(ada()).await.unwrap_err();
    /// let next = client.hello(ada()).await; // on a new connection
    ///
    /// assert_eq!(dropped.code(), Code::Unknown); // a transport error
    /// assert!(next.is_ok());
    /// # }
    /// ```
    pub fn drop_connection(self) {
        self.install(Action::DropConnection);
    }

    fn install(mut self, action: Action) {
        self.rule.action = Some(action);
        self.faults.add(self.rule);
    }
}
