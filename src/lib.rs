//! Test servers, ready clients, fake request contexts, mocks and fault injection for gRPC services
//! built with [tonic] 0.14: what pytest-grpc is to Python's grpcio, for Rust.
//!
//! `tonic-testkit` is a dev-dependency for the tests of tonic services and of code that calls them.
//! A test starts its services in-process in one line, gets a ready typed client, and talks to them
//! over the transport it chooses: a function call, HTTP/2 over an in-memory pipe, or HTTP/2 over
//! loopback TCP. A handler panic or a mock's unmet expectation fails the test on every transport,
//! and teardown never hangs. The [README] has a quick start: `Cargo.toml`, `build.rs`, a proto and a
//! first test.
//!
//! # Contents
//!
//! - [Start a server and get a client](#start-a-server-and-get-a-client)
//! - [Transports](#transports): one suite over all three
//! - [rstest](#rstest): fixtures, and one body per transport
//! - [Testing handlers directly](#testing-handlers-directly), with [`TestRequest`]
//! - [Testing clients: mocks and stubs](#testing-clients-mocks-and-stubs)
//! - [Faults](#faults)
//! - [The call journal](#the-call-journal)
//! - [Assertions](#assertions)
//! - [TLS](#tls)
//! - [Compression, limits and server settings](#compression-limits-and-server-settings)
//! - [Health and reflection](#health-and-reflection)
//! - [Panics and teardown](#panics-and-teardown)
//! - [Fuzzing](#fuzzing)
//! - [Coming from pytest-grpc](#coming-from-pytest-grpc)
//! - [Features](#features)
//!
//! The everyday names are at the root; the rest is in topic modules: [`server`] (what else a test
//! holds), [`mock`] (what mocks and stubs need), [`faults`], [`journal`], [`handler`] (handler-side
//! helpers), [`matchers`] (for the assertions), `tls`, [`futures`] and `fixtures` (rstest).
//!
//! The examples use the services of [`tonic_testkit_examples`][examples], a crate published alongside this one
//! for that purpose (add it as a dev-dependency to run them; in your tests, use your own generated
//! servers and clients):
//!
//! - `users.UserService`: `GetUser` answers user 1, Ada Lovelace, and any other id
//!   `NOT_FOUND "User not found"`; its storage is a trait, `UserStore`, that a test can mock;
//! - `orders.Orders`: the four call shapes (`RegisterOrder`, `UpdateOrder` client stream,
//!   `WatchOrder` server stream, `Chat` bidi), a mockall `MockOrders` of its server trait, and a small
//!   client library, `OrdersClient`, that retries and reassembles a stream: the code under test in
//!   the client examples;
//! - `rides.Rides`: rich error details (`INVALID_ARGUMENT "driver_id: empty"` with a field
//!   violation) and deadlines;
//! - `hello.HelloService`: one unary method, `Hello`.
//!
//! # Start a server and get a client
//!
//! ```
//! use tonic::Code;
//! use tonic_testkit::{TestServer, assert_status};
//! use tonic_testkit_examples::users::{
//!     Users,
//!     pb::{GetUserRequest, user_service_client::UserServiceClient, user_service_server::UserServiceServer},
//! };
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // In a test file this body sits in a `#[tokio::test] async fn`.
//! // Arrange: the service in-process, and a ready typed client.
//! let server = TestServer::builder()
//!     .add_service(UserServiceServer::new(Users::default()))
//!     .start()
//!     .await;
//! let mut client = server.client(UserServiceClient::new);
//!
//! // Act
//! let ada = client.get_user(GetUserRequest { id: 1 }).await.unwrap().into_inner();
//! let missing = client.get_user(GetUserRequest { id: 2 }).await;
//!
//! // Assert
//! assert_eq!(ada.name, "Ada Lovelace");
//! assert_status!(missing, Code::NotFound, "User not found");
//! server.shutdown().await; // fails the test if the server caught a panic
//! # }
//! ```
//!
//! A production server's set-up moves in as it is:
//!
//! - [`add_service`](TestServerBuilder::add_service) takes what `tonic::transport::Server::add_service`
//!   takes (a service behind `XServer::with_interceptor(..)` too), any number of times;
//!   [`add_routes`](TestServerBuilder::add_routes) serves a whole `tonic::service::Routes` (default
//!   feature `router`). Calls are routed exactly as tonic's router routes them.
//! - [`layer`](TestServerBuilder::layer) and [`interceptor`](TestServerBuilder::interceptor) wrap
//!   every service as on `tonic::transport::Server`: the first added is the outermost, and layers
//!   wrap [`server::Services`] where tonic's wrap its `Routes`.
//! - tonic's server settings are on the builder under tonic's names: see
//!   [Compression, limits and server settings](#compression-limits-and-server-settings).
//!
//! [`TestServer::client`] hands a [`TestChannel`] to the generated client's constructor (or to any
//! closure that builds the code under test from a channel); [`TestServer::channel`] hands out the
//! channel itself. Each `channel()` (or `client(..)`) opens its own connection; clones of a channel
//! share it.
//!
//! Client code that sets up its own tonic `Endpoint` is tested with the same settings:
//! [`TestServer::channel_with`] hands the closure the endpoint `channel()` uses and connects the one
//! it returns to the server (with the kit's TLS trust, unless the closure sets its own):
//!
//! ```
//! # use std::time::Duration;
//! # use tonic_testkit::TestServer;
//! # use tonic_testkit_examples::users::{
//! #     Users,
//! #     pb::{GetUserRequest, user_service_client::UserServiceClient, user_service_server::UserServiceServer},
//! # };
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let server = TestServer::builder()
//!     .add_service(UserServiceServer::new(Users::default()))
//!     .start()
//!     .await;
//! let channel = server.channel_with(|endpoint| {
//!     endpoint.user_agent("users-app/1.0").unwrap().timeout(Duration::from_secs(2))
//! });
//! let mut client = UserServiceClient::new(channel);
//!
//! client.get_user(GetUserRequest { id: 1 }).await.unwrap();
//!
//! let agent = server.calls()[0].metadata().get("user-agent").cloned().unwrap();
//! assert_eq!(agent, "users-app/1.0 tonic/0.14.9");
//! # }
//! ```
//!
//! Over memory and TCP the channel is tonic's own, so every setting acts as in production (user
//! agent, origin, timeout, concurrency and rate limits, keep-alive, flow-control windows, header
//! sizes). Over direct the user agent, origin and timeout act as tonic's channel makes them act, and
//! the connection settings have no effect.
//!
//! # Transports
//!
//! | [`Transport`] | what carries a call | sockets | a handler panic |
//! |---------------|---------------------|---------|-----------------|
//! | [`Direct`](Transport::Direct) | a function call in the test's task; messages still encoded and decoded | none | unwinds into the test with its own backtrace |
//! | [`Memory`](Transport::Memory) (default) | HTTP/2 over an in-memory duplex pipe, a fresh one per connection | none | the call gets `INTERNAL` with the panic text; the test fails at shutdown |
//! | [`Tcp`](Transport::Tcp) | HTTP/2 over loopback, a listener bound on `127.0.0.1:0` and kept | one port | as memory |
//!
//! Every transport behaves as a real tonic server does where a test can tell:
//!
//! - client-side request extensions do not reach the handler;
//! - `Request::remote_addr()` and `local_addr()` are loopback addresses (the real ones over TCP;
//!   over the in-process transports the server is `127.0.0.1:50051` and the n-th connection
//!   `127.0.0.1:40000+n`);
//! - a `grpc-timeout` deadline is enforced and answered `CANCELLED "Timeout expired"`;
//! - an unknown method is `UNIMPLEMENTED`; a layer error that is not a `Status` reaches the client as
//!   `INTERNAL "h2 protocol error: http2 error"`, as a reset stream does.
//!
//! Over TCP, [`TestServer::local_addr`] and [`TestServer::uri`] give the bound address and an
//! `http://` URI for clients outside the kit; both are `None` on the other transports. The listener
//! is bound before `start()` returns, so nothing sleeps and the first call never fails for want of a
//! server. [`server::free_port`] picks a port for an outside process that binds it itself (it races;
//! test servers never use it).
//!
//! ## One suite over every transport
//!
//! `TONIC_TESTKIT_TRANSPORT=direct|memory|tcp` ([`server::TRANSPORT_ENV`]) sets the default transport
//! for a whole run; unset or empty it is `memory`, and any other value panics naming the valid ones.
//! [`TestServerBuilder::transport`] overrides it for one server.
//!
//! ```text
//! TONIC_TESTKIT_TRANSPORT=direct cargo test
//! TONIC_TESTKIT_TRANSPORT=tcp cargo test
//! ```
//!
//! # rstest
//!
//! Fixtures build servers and clients. With the `rstest` feature, `fixtures::transport` is a fixture
//! that follows `TONIC_TESTKIT_TRANSPORT`, and `#[values(..)]` runs one body once per transport:
//!
//! ```
//! # #[cfg(feature = "rstest")]
//! # mod example {
//! use rstest::{fixture, rstest};
//! use tonic::Code;
//! use tonic_testkit::{TestServer, Transport, fixtures::transport};
//! use tonic_testkit_examples::users::{
//!     Users,
//!     pb::{GetUserRequest, user_service_client::UserServiceClient, user_service_server::UserServiceServer},
//! };
//!
//! #[fixture]
//! async fn server(transport: Transport) -> TestServer {
//!     TestServer::builder()
//!         .transport(transport)
//!         .add_service(UserServiceServer::new(Users::default()))
//!         .start()
//!         .await
//! }
//!
//! // The transport from TONIC_TESTKIT_TRANSPORT; `#[awt]` awaits the async fixture.
//! #[rstest]
//! #[tokio::test]
//! #[awt]
//! async fn gets_user_one(#[future] server: TestServer) {
//!     let mut client = server.client(UserServiceClient::new);
//!     let user = client.get_user(GetUserRequest { id: 1 }).await.unwrap().into_inner();
//!     assert_eq!(user.name, "Ada Lovelace");
//! }
//!
//! // The same body once per transport.
//! #[rstest]
//! #[tokio::test]
//! async fn a_missing_user_is_not_found_everywhere(
//!     #[values(Transport::Direct, Transport::Memory, Transport::Tcp)] transport: Transport,
//! ) {
//!     let server = server(transport).await;
//!     let mut client = server.client(UserServiceClient::new);
//!     let status = client.get_user(GetUserRequest { id: 7 }).await.unwrap_err();
//!     assert_eq!(status.code(), Code::NotFound, "{transport}");
//!     server.shutdown().await;
//! }
//! # }
//! # fn main() {}
//! ```
//!
//! # Testing handlers directly
//!
//! A handler is an async method: call it without a server, with a [`TestRequest`] carrying what a
//! real server would hand over, and check what it returned. This is the counterpart of calling a
//! grpcio servicer with a fake `ServicerContext`:
//!
//! | Python grpcio | in a tonic handler | in the test |
//! |---------------|--------------------|-------------|
//! | `context.invocation_metadata()` | `request.metadata()` | `TestRequest::new(msg).metadata("key", "value")` (`-bin` keys take bytes) |
//! | `context.time_remaining()` | the `grpc-timeout` header | `.timeout(Duration::from_millis(50))` (the header a tonic client sends) |
//! | `context.peer()` | `request.remote_addr()`, `local_addr()` | `.remote_addr(addr)`, `.local_addr(addr)` (loopback by default) |
//! | `context.auth_context()` | `request.peer_certs()` | `.peer_certs(certs)` (feature `tls`) |
//! | what an interceptor stored | `request.extensions()` | `.extension(value)` |
//! | the request iterator | `Streaming<T>` | `TestRequest::stream(msgs)`, `stream_results(items)`, `channel::<T>()` |
//! | `context.set_code()`, `abort()` | `Err(Status::not_found(..))` | `assert_status!(result, Code::NotFound, "...")` |
//! | `set_trailing_metadata()` | `Response::metadata_mut()`, `Status::with_metadata` | `assert_metadata!(response_or_status, "key", "value")` |
//! | the response iterator | `Response<impl Stream>` | `collect(stream).await`: the messages and the ending status |
//!
//! A service whose storage is a trait, mocked with mockall, tested with no server at all:
//!
//! ```
//! use mockall::{mock, predicate::eq};
//! use tonic::Code;
//! use tonic_testkit::{TestRequest, assert_status};
//! use tonic_testkit_examples::users::{
//!     StoreError, UserStore, Users,
//!     pb::{GetUserRequest, User, user_service_server::UserService},
//! };
//!
//! mock! {
//!     Store {}
//!     impl UserStore for Store {
//!         fn find(&self, id: i32) -> Result<Option<User>, StoreError>;
//!         fn all(&self) -> Result<Vec<User>, StoreError>;
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let mut store = MockStore::new();
//! store.expect_find().with(eq(7)).times(1).returning(|_| Ok(None));
//! let request = TestRequest::new(GetUserRequest { id: 7 }).metadata("authorization", "Bearer t");
//!
//! let result = Users::with_store(store).get_user(request.into()).await;
//!
//! assert_status!(result, Code::NotFound, "User not found");
//! # }
//! ```
//!
//! [`collect`] reads a response stream to its end and gives its messages and the status that ended
//! it (`OK` for a clean end), as a [`StreamOutcome`]. It takes the stream a handler returns and the
//! `Streaming<T>` a client gets alike. `.limit(n)` stops early for streams that never end; a stream
//! that does not end within `.timeout(d)` ([`handler::DEFAULT_COLLECT_TIMEOUT`], 10 s of tokio time)
//! fails the test at the line that collected it. [`TestRequest::channel`] drives a bidi handler step
//! by step:
//!
//! ```
//! use tokio_stream::StreamExt;
//! use tonic::Code;
//! use tonic_testkit::{TestRequest, assert_status, collect};
//! use tonic_testkit_examples::orders::{
//!     Orders,
//!     pb::{ChatMessage, orders_server::Orders as _},
//! };
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let (customer, request) = TestRequest::channel::<ChatMessage>();
//! let mut replies = Orders::default().chat(request.into()).await.unwrap().into_inner();
//!
//! let question = ChatMessage { text: "where is my parcel?".into(), ..Default::default() };
//! customer.send(Ok(question)).await.unwrap();
//! let first = replies.next().await.unwrap().unwrap();
//! drop(customer); // the customer closes its side
//! let rest = collect(replies).await;
//!
//! assert_eq!(first.text, "received: where is my parcel?");
//! assert!(rest.messages().is_empty());
//! assert_status!(rest, Code::Ok);
//! # }
//! ```
//!
//! **The same expectations, both ways.** Put the expectations in a function of what the call
//! returned, and call it from a test of the handler and from a test over a client: both get a
//! `Result<Response<T>, Status>` for unary and client-streaming calls, and `collect(..)` turns both
//! kinds of response stream into the same `StreamOutcome<T>`.
//!
//! **Interceptors and layers alone.** [`handler::intercept`] calls an interceptor, and
//! [`handler::through_layer`] sends a request through a tower layer around a recording service. Both
//! say whether the request passed (with what the interceptor inserted) or was rejected, as a
//! [`handler::Intercepted`]:
//!
//! ```
//! use tonic::{Code, Request, Status};
//! use tonic_testkit::{TestRequest, assert_status, handler::intercept};
//!
//! // The interceptor under test.
//! fn require_token(request: Request<()>) -> Result<Request<()>, Status> {
//!     match request.metadata().get("authorization") {
//!         Some(_) => Ok(request),
//!         None => Err(Status::unauthenticated("no token")),
//!     }
//! }
//!
//! let outcome = intercept(require_token, TestRequest::new(()));
//!
//! assert_status!(outcome, Code::Unauthenticated, "no token");
//! ```
//!
//! # Testing clients: mocks and stubs
//!
//! Code that calls a gRPC service (a client library, a retry policy, a stream consumer) is tested
//! against a server that answers what the test scripts, on any transport. Three ways, from most to
//! least typed.
//!
//! **A mockall mock of the generated server trait**, served with `add_service`. Generate it with the
//! code, in `build.rs` (the attribute is matched against the trait's Rust name, `Orders`, and must
//! fix the stream types):
//!
//! ```ignore
//! tonic_prost_build::configure()
//!     .trait_attribute("Orders", "#[mockall::automock(
//!         type WatchOrderStream = tonic::codegen::BoxStream<super::OrderEvent>;
//!         type ChatStream = tonic::codegen::BoxStream<super::ChatMessage>;
//!     )]")
//!     .compile_fds(fds)?;
//! ```
//!
//! or write `mockall::mock!` in the test file, listing the methods the test needs (stream types are
//! [`mock::BoxStream<T>`], the same type as tonic's `codegen::BoxStream<T>`). [`Reply`] scripts the
//! answers: a message, a status with details and trailers, response headers, a stream of messages
//! with an interval between them and an ending status:
//!
//! ```
//! # use std::time::Duration;
//! # use tonic::Status;
//! # use tonic_testkit::{Reply, TestServer};
//! # use tonic_testkit_examples::orders::pb::{OrderEvent, OrderStatus, RegisterOrderResponse};
//! # use tonic_testkit_examples::orders::pb::orders_server::{MockOrders, OrdersServer};
//! # use tonic_testkit_examples::orders_client::OrdersClient;
//! # fn event(status: OrderStatus) -> OrderEvent {
//! #     OrderEvent { order_id: "order-7".into(), status: status.into() }
//! # }
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let mut mock = MockOrders::new();
//! mock.expect_register_order()
//!     .withf(|request| request.metadata().get("authorization").is_some())
//!     .times(1)
//!     .returning(|_| Reply::message(RegisterOrderResponse { order_id: "order-7".into() }).unary());
//! mock.expect_watch_order().times(1).returning(|_| {
//!     Reply::stream([event(OrderStatus::Pending), event(OrderStatus::Confirmed)])
//!         .interval(Duration::from_secs(60)) // tokio time: instant under start_paused
//!         .end_with(Status::unavailable("tracking offline"))
//!         .streaming()
//! });
//! let server = TestServer::builder().add_service(OrdersServer::new(mock)).start().await;
//! let client = OrdersClient::new(server.channel(), "token").unwrap(); // the code under test
//!
//! let order_id = client.register_order("c-1", ["book"], Default::default()).await.unwrap();
//! let broken = client.watch_order(&order_id).await.unwrap_err();
//!
//! assert_eq!(
//!     broken.to_string(),
//!     r#"WatchOrder("order-7") broke off after [Pending, Confirmed]: Unavailable "tracking offline""#
//! );
//! server.shutdown().await; // the mock is dropped here: an unmet times(n) fails the test
//! # }
//! ```
//!
//! **A [`Stub`]: no trait at all.** Rules answer full method paths with scripted replies or
//! closures; `times(n)` answers n calls and expects exactly n (`up_to(n)` and `expect(..)` say each
//! apart), and `replies([..])` answers successive calls in turn:
//!
//! ```
//! # use std::time::Duration;
//! # use tonic::{Request, Status};
//! # use tonic_testkit::{Reply, Stub, TestServer};
//! # use tonic_testkit_examples::orders::pb::{OrderEvent, OrderStatus, RegisterOrderResponse, WatchOrderRequest};
//! # use tonic_testkit_examples::orders_client::OrdersClient;
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let stub = Stub::new();
//! stub.on("/orders.Orders/RegisterOrder").replies([
//!     Reply::status(Status::unavailable("down for maintenance")), // the client retries
//!     Reply::message(RegisterOrderResponse { order_id: "order-7".into() })
//!         .delay(Duration::from_millis(20)),
//! ]);
//! stub.on("/orders.Orders/WatchOrder").respond_with(|request: Request<WatchOrderRequest>| {
//!     let order_id = request.into_inner().order_id;
//!     Reply::stream([OrderEvent { order_id, status: OrderStatus::Delivered.into() }])
//! });
//! let server = TestServer::builder().add_stub(&stub).start().await;
//! let client = OrdersClient::new(server.channel(), "token").unwrap();
//!
//! let order_id = client.register_order("c-1", ["book"], Default::default()).await.unwrap();
//! let timeline = client.watch_order(&order_id).await.unwrap();
//!
//! assert_eq!(format!("{:?}", timeline.statuses()), "[Delivered]");
//! server.verify().await; // both replies were used
//! server.shutdown().await;
//! # }
//! ```
//!
//! A rule can also check what the client sends (`when(|message| ..)`, `when_eq(message)`,
//! `when_header(..)`, `nth(n)`, `when_all(..)` for a client stream), say how many calls it expects
//! apart from how many it answers (`expect(2)`, `expect(1..)`), carry a name for reports
//! (`named(..)`), and be checked when a guard drops (`scoped()`). Rules for a method are tried in the
//! order added; the first whose conditions all hold, and that is not used up, answers.
//! `respond_with_all` takes every message of a client stream; `respond_with_stream` answers a bidi
//! client message by message. With the service's descriptors (feature `descriptors`),
//! `Stub::with_descriptors(FILE_DESCRIPTOR_SET)` refuses, at the rule's line, a rule for a method
//! that does not exist or a reply of the wrong type or shape.
//!
//! A call that no rule matches is answered `INTERNAL`, and the test fails with each rule of the
//! method, closest first, the conditions the call failed and what it sent instead:
//!
//! ```text
//! tonic-testkit: the stub's expectations were not met (2 problems):
//!   - unexpected call to /orders.Orders/RegisterOrder: none of its rules for this method matches it (closest first):
//!     - rule "customer c-1" (stub.on("/orders.Orders/RegisterOrder").when_eq(..).expect(1).reply(..) at tests/orders_client.rs:467:10)
//!         when_eq(..) did not match: expected RegisterOrderRequest { customer_id: "c-1", .. }, the call had RegisterOrderRequest { customer_id: "c-2", .. }
//!   - rule "customer c-1" (...) expects exactly 1 call, and answered 0 calls
//! ```
//!
//! **A fake**: a struct implementing the trait generated with `generate_default_stubs(true)`,
//! implementing only the methods the test needs; the others answer `UNIMPLEMENTED`.
//!
//! Whichever is used, the test is told:
//!
//! - **Unexpected calls fail the test, and the client does not hang.** A call no stub rule answers,
//!   or that matches no expectation of a mock, is answered `INTERNAL` with the reason (over direct a
//!   mock's panic unwinds into the test), and the test fails with the calls the server saw.
//! - **Expectations are checked where the test says.** [`TestServer::verify`] fails the test at its
//!   line with what is wrong so far; a scoped rule is checked when its guard drops; mockall checks a
//!   mock's `times(n)` when the mock is dropped, which the server does at `shutdown().await`.
//! - **The journal** shows what the client sent: see [The call journal](#the-call-journal).
//!
//! # Faults
//!
//! [`Faults`] declares exactly which call fails how, on any transport and any service (real, fake,
//! stub or mock), deterministically: every wait is on the tokio clock, so under
//! `#[tokio::test(start_paused = true)]` a 30-second backoff takes no real time, and probabilities
//! are drawn from a seed.
//!
//! ```
//! # use std::time::Duration;
//! # use tonic::{Code, Status};
//! # use tonic_testkit::{Faults, TestServer, Transport};
//! # use tonic_testkit_examples::orders::{Orders, pb::orders_server::OrdersServer};
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let faults = Faults::with_seed(42); // or Faults::new(): a random seed, printed with each firing
//! let server = TestServer::builder()
//!     .transport(Transport::Memory) // connection faults need a connection: memory or TCP
//!     .add_service(OrdersServer::new(Orders::default()))
//!     .faults(&faults)
//!     .start()
//!     .await;
//!
//! // which calls: a method, a service, any call; by header; nth, first n, every k-th; a probability
//! faults.on("/orders.Orders/RegisterOrder").times(2).fail(Code::Unavailable, "try again");
//! faults.on_service("orders.Orders").when_header("x-test", "slow").delay(Duration::from_millis(200));
//! faults.on_any().probability(0.1).fail(Code::Internal, "flaky");
//! // what happens: fail (the handler is not called), delay, delay between response messages,
//! // cut a stream, reset it, hang, drop the connection
//! faults.on("/orders.Orders/WatchOrder").cut_after(3, Status::unavailable("tracking offline"));
//! faults.on("/orders.Orders/WatchOrder").delay_messages(Duration::from_secs(1));
//! faults.on("/orders.Orders/WatchOrder").reset_stream_after(2, 0x8_u32); // RST_STREAM CANCEL
//! // the bytes of memory and TCP connections: latency with jitter, bandwidth, resets, black hole
//! faults.connections().downstream().latency(Duration::from_millis(20)).jitter(Duration::from_millis(5));
//! // "server down": cut every connection and refuse new ones for a while
//! faults.take_down(Duration::from_secs(5));
//!
//! faults.clear(); // rules and toxics can be added and cleared while the server runs
//! # }
//! ```
//!
//! - Rules are validated at once: `faults.on("RegisterOrder")` panics, showing the
//!   `/package.Service/Method` form.
//! - Every matching rule acts, in the order added: delays add up; the first failure, hang or drop
//!   ends the call. A call a rule fails never reaches the server's layers or handler.
//! - Each call shows the rules that acted on it, as written and with their line, in the journal
//!   ([`Call::faults`](journal::Call::faults)) and in every failure report; [`Faults::fired`] lists them all.
//! - The same handle wraps any client channel, for client code talking to a server the kit did not
//!   start: `MyClient::new(faults.wrap(channel))` ([`faults::FaultChannel`]).
//! - What does not apply panics, saying so: connection faults and `take_down` over
//!   `Transport::Direct` (no connection there), and dropping the connection of a call through a
//!   wrapped channel.
//! - A call whose connection is dropped fails on its client with `UNKNOWN "transport error"`; the
//!   channel reconnects on its next call.
//!
//! # The call journal
//!
//! Every server records each call, both ways, on every transport. [`TestServer::calls`] and
//! [`TestServer::calls_to`] give each [`journal::Call`]: the method and request metadata; each request
//! message, decoded with `call.request::<T>(i)`; the response headers, messages
//! (`call.response::<T>(i)`, `call.responses::<T>()`) and trailers the server sent (a status answered
//! before any response is trailers-only: no headers, its one block in `trailers()`); each message's
//! size and whether it went compressed; the ending status and the duration on the tokio clock; the
//! faults that acted.
//!
//! [`TestServer::wait_for_ended_calls`] and [`TestServer::wait_for_cancelled_calls`] wait, without
//! polling, for calls the test does not await itself (grpcio's `rpc.termination()` and
//! `rpc.cancelled()`):
//!
//! ```
//! use tonic_testkit::TestServer;
//! use tonic_testkit_examples::users::{
//!     Users,
//!     pb::{GetUserRequest, User, user_service_client::UserServiceClient, user_service_server::UserServiceServer},
//! };
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let server = TestServer::builder()
//!     .add_service(UserServiceServer::new(Users::default()))
//!     .start()
//!     .await;
//! let mut client = server.client(UserServiceClient::new);
//!
//! // The code under test calls in a task of its own.
//! tokio::spawn(async move { client.get_user(GetUserRequest { id: 1 }).await });
//!
//! let calls = server.wait_for_ended_calls(1).await;
//! assert_eq!(calls[0].method(), "/users.UserService/GetUser");
//! assert_eq!(calls[0].request::<GetUserRequest>(0).id, 1);
//! assert_eq!(calls[0].response::<User>(0).name, "Ada Lovelace");
//! assert_eq!(calls[0].trailers().get("grpc-status").unwrap(), "0");
//! # }
//! ```
//!
//! - A wait that does not end fails the test after [`journal::DEFAULT_WAIT_TIMEOUT`] (10 s of tokio
//!   time, so at once under paused time; `.timeout(d)` to change it), listing the calls the server
//!   saw, those still running marked.
//! - The journal keeps [`journal::DEFAULT_JOURNAL_LIMIT`] calls (1,000) unless
//!   [`journal_limit(n)`](TestServerBuilder::journal_limit) says otherwise, and
//!   [`journal::DEFAULT_JOURNAL_BYTE_LIMIT`] of messages (32 MiB, both ways together) unless
//!   `journal_byte_limit(bytes)` does: past that it counts messages without keeping them, and says
//!   so.
//! - A call past its deadline (before its response headers) is recorded
//!   `CANCELLED "Timeout expired"` on every transport as soon as the deadline passes; a call whose
//!   client went away, `CANCELLED "the call was cancelled before it ended (the client went away)"`.
//! - Reading a message as the wrong type fails naming the method's type; every failure report of
//!   the server lists the journal.
//!
//! # Assertions
//!
//! | macro | checks |
//! |-------|--------|
//! | [`assert_status!`] | the code, and the message: exact, [`matchers::contains`], [`matchers::starts_with`] or a closure |
//! | [`assert_field_violation!`] | a `google.rpc.BadRequest` field violation in the details |
//! | [`assert_error_info!`], [`assert_retry_info!`] | `ErrorInfo` and `RetryInfo` details |
//! | [`assert_metadata!`], [`assert_no_metadata!`] | request metadata, response headers, trailers |
//!
//! They take a `Status`, a call's `Result`, a [`StreamOutcome`] or a [`handler::Intercepted`] (see
//! [`matchers::StatusSource`] and [`matchers::MetadataSource`]), borrow it, and point at the test's own
//! line when they fail:
//!
//! ```
//! use tonic::Code;
//! use tonic_testkit::{TestRequest, assert_field_violation, assert_status, matchers::contains};
//! use tonic_testkit_examples::rides::{
//!     Rides,
//!     pb::{StartRequest, rides_server::Rides as _},
//! };
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let ride = StartRequest { car_id: "car-1".into(), ..Default::default() }; // no driver
//!
//! let result = Rides::default().start(TestRequest::new(ride).into()).await;
//!
//! assert_status!(result, Code::InvalidArgument, "driver_id: empty");
//! assert_status!(result, Code::InvalidArgument, contains("driver_id"));
//! assert_field_violation!(result, "driver_id", "empty");
//! # }
//! ```
//!
//! A failure prints what was expected and what arrived:
//!
//! ```text
//! tonic-testkit: assert_status! failed
//!   expected: InvalidArgument, message "driver_id: empty"
//!     actual: InvalidArgument, message "car_id: empty", with details [BadRequest {"car_id": "empty"}]
//! ```
//!
//! After a `;`, each takes a context for its failure message, as `assert_eq!` takes trailing
//! arguments: `assert_status!(result, Code::NotFound, "User not found"; "over {transport}")` prints
//! `tonic-testkit: assert_status! failed: over tcp` as its first line.
//!
//! # TLS
//!
//! With the `tls` feature, [`tls()`](TestServerBuilder::tls) makes a server speak TLS (HTTP/2
//! negotiated by ALPN) over memory and TCP, as a tonic server with `ServerTlsConfig` does, and
//! [`mtls()`](TestServerBuilder::mtls) also requires a client certificate signed by the server's CA.
//! At start each server makes a throwaway CA and a certificate for `localhost`, `127.0.0.1` and `::1`,
//! in memory (rcgen and rustls on ring: no files, no openssl, no aws-lc). The channels it hands out
//! trust that CA, so a suite's clients work unchanged; under mTLS they present a certificate for
//! `test-client` (`tls::DEFAULT_CLIENT_NAME`).
//!
//! ```
//! # #[cfg(feature = "tls")]
//! # mod example {
//! use tonic::transport::{Certificate, ClientTlsConfig};
//! use tonic_testkit::{TestServer, Transport};
//! use tonic_testkit_examples::users::{
//!     Users,
//!     pb::{GetUserRequest, user_service_client::UserServiceClient, user_service_server::UserServiceServer},
//! };
//!
//! # pub async fn run() {
//! let server = TestServer::builder()
//!     .transport(Transport::Tcp) // or Memory; Direct has no connection to encrypt
//!     .mtls()                    // or .tls(): no client certificate asked for
//!     .add_service(UserServiceServer::new(Users::default()))
//!     .start()
//!     .await;
//!
//! // The handed-out client trusts the CA and presents the default identity.
//! let mut client = server.client(UserServiceClient::new);
//! assert!(client.get_user(GetUserRequest { id: 1 }).await.is_ok());
//!
//! // A chosen identity: handlers read its certificate with request.peer_certs().
//! let tls = server.tls().unwrap();
//! let alice = tls.client_identity("alice"); // or "spiffe://example.org/alice": a URI SAN
//! let mut as_alice = UserServiceClient::new(server.channel_with_identity(&alice));
//! assert!(as_alice.get_user(GetUserRequest { id: 1 }).await.is_ok());
//!
//! // A client that must fail, configured with tonic's ClientTlsConfig: here, no certificate.
//! let anonymous = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(tls.ca_pem()));
//! let mut refused = UserServiceClient::new(server.channel_with_tls(anonymous));
//! assert!(refused.get_user(GetUserRequest { id: 1 }).await.is_err());
//!
//! // For a client outside the kit (another process): PEMs and a URI, https://127.0.0.1:PORT.
//! let (uri, ca, cert, key) = (server.uri().unwrap(), tls.ca_pem(), alice.cert_pem(), alice.key_pem());
//! # assert!(uri.to_string().starts_with("https://") && !ca.is_empty() && !cert.is_empty() && !key.is_empty());
//! # }
//! # }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! #     #[cfg(feature = "tls")]
//! #     example::run().await;
//! # }
//! ```
//!
//! What a tonic client sees when TLS refuses it, on a current-thread runtime (the `#[tokio::test]`
//! default; on a multi-thread runtime either of an mTLS row's two outcomes can come):
//!
//! | case | the client's status | the reason, in its source chain |
//! |------|---------------------|---------------------------------|
//! | the client trusts another CA | `UNAVAILABLE "invalid peer certificate: UnknownIssuer"` | in the message |
//! | a TLS client, a plaintext server | `UNAVAILABLE "received corrupt message of type InvalidContentType"` | in the message |
//! | mTLS, no client certificate | TCP: `UNKNOWN "transport error"`; memory: `CANCELLED "operation was canceled"` | TCP: `received fatal alert: CertificateRequired`; memory: `connection closed` |
//! | mTLS, a certificate from another CA | as above | TCP: `received fatal alert: UnknownCA` |
//! | a plaintext client, a TLS server (TCP) | `INTERNAL "h2 protocol error: http2 error"` | `connection error detected: frame with invalid size` |
//!
//! - Under TLS 1.3 an mTLS refusal fails the client's first call, not its connect.
//! - `.tls()` or `.mtls()` on a `Transport::Direct` server panics at start, saying to serve over
//!   memory or TCP; give TLS servers their transport explicitly, since
//!   `TONIC_TESTKIT_TRANSPORT=direct` may otherwise choose it.
//! - `request.remote_addr()` keeps working under TLS, and connection faults act on the encrypted
//!   bytes. A handler called directly gets `peer_certs()` from `TestRequest::peer_certs(..)`.
//!   Certificates are rustls' `CertificateDer`, re-exported by tonic as
//!   `tonic::transport::CertificateDer`.
//!
//! # Compression, limits and server settings
//!
//! tonic sets compression and message-size limits on each generated service and client; the kit
//! serves them unchanged on every transport, so configure the service you add and the client you
//! build. The `gzip` feature enables tonic's `gzip` and lets the journal read gzip-compressed
//! messages, both ways:
//!
//! ```
//! # #[cfg(feature = "gzip")]
//! # mod example {
//! use tonic::codec::CompressionEncoding::Gzip;
//! use tonic_testkit::TestServer;
//! use tonic_testkit_examples::users::{
//!     Users,
//!     pb::{GetUserRequest, user_service_client::UserServiceClient, user_service_server::UserServiceServer},
//! };
//!
//! # pub async fn run() {
//! let service = UserServiceServer::new(Users::default())
//!     .accept_compressed(Gzip)
//!     .send_compressed(Gzip)
//!     .max_decoding_message_size(64 * 1024);
//! let server = TestServer::builder().add_service(service).start().await;
//! let mut client = server.client(|channel| {
//!     UserServiceClient::new(channel).send_compressed(Gzip).accept_compressed(Gzip)
//! });
//!
//! let reply = client.get_user(GetUserRequest { id: 1 }).await.unwrap();
//!
//! assert_eq!(reply.metadata().get("grpc-encoding").unwrap(), "gzip"); // the reply came gzipped
//! let call = &server.calls()[0];
//! assert!(call.request_compressed(0)); // and so did the request,
//! assert_eq!(call.request::<GetUserRequest>(0).id, 1); // which the journal still reads
//! # }
//! # }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! #     #[cfg(feature = "gzip")]
//! #     example::run().await;
//! # }
//! ```
//!
//! What tonic answers to a message over a limit, the same on every transport:
//!
//! | the message is over | the client's status |
//! |---------------------|---------------------|
//! | the server's `max_decoding_message_size` (4 MiB unless set) | `OUT_OF_RANGE "Error, decoded message length too large: found N bytes, the limit is: L bytes"` |
//! | the server's `max_encoding_message_size` | `OUT_OF_RANGE "Error, encoded message length too large: found N bytes, the limit is: L bytes"` |
//! | the client's `max_decoding_message_size` | `OUT_OF_RANGE "Error, decoded message length too large: ..."` |
//! | the client's `max_encoding_message_size` | `INTERNAL "h2 protocol error: http2 error"`: the client resets its stream |
//! | the server's decoding limit once a gzip request is decompressed | `RESOURCE_EXHAUSTED "Error decompressing: size limit, of L bytes, exceeded while decompressing message"` |
//!
//! A gzip request to a service without `accept_compressed(Gzip)` is
//! ``UNIMPLEMENTED "Content is compressed with `gzip` which isn't supported"``.
//!
//! `tonic::transport::Server`'s settings are on the builder under the same names, signatures and
//! meanings, each tested against a tonic server with the same setting: copy them from the production
//! server's set-up.
//!
//! | setting | what a client sees | over `Direct` |
//! |---------|--------------------|---------------|
//! | [`timeout(d)`](TestServerBuilder::timeout) | a call unanswered after `d` (or its own shorter deadline): `CANCELLED "Timeout expired"` | the same |
//! | [`concurrency_limit_per_connection(n)`](TestServerBuilder::concurrency_limit_per_connection) | past `n` calls on one connection, a call waits; not timed while it waits | the same; a channel and its clones are one connection |
//! | [`load_shed(true)`](TestServerBuilder::load_shed) | a call that would wait: `RESOURCE_EXHAUSTED "Too many active requests for the connection"` | the same |
//! | [`http2_max_header_list_size(n)`](TestServerBuilder::http2_max_header_list_size) | metadata from `n` bytes on: `UNKNOWN "...HTTP status code 431"`; past `4n` the connection closes: `RESOURCE_EXHAUSTED "h2 protocol error: http2 error"` | the same |
//! | `max_concurrent_streams`, `max_frame_size`, `initial_stream_window_size`, `initial_connection_window_size`, `http2_adaptive_window`, `http2_keepalive_interval`, `http2_keepalive_timeout`, `http2_max_pending_accept_reset_streams` | the HTTP/2 settings and frames a tonic server sends | no connection: `start()` panics naming them |
//!
//! ```
//! # use std::time::Duration;
//! # use tonic::Code;
//! # use tonic_testkit::TestServer;
//! # use tonic_testkit_examples::users::{
//! #     Users,
//! #     pb::{GetUserRequest, user_service_client::UserServiceClient, user_service_server::UserServiceServer},
//! # };
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let server = TestServer::builder()
//!     .add_service(UserServiceServer::new(Users::default()))
//!     .timeout(Duration::from_secs(5))
//!     .http2_max_header_list_size(8 * 1024)
//!     .start()
//!     .await;
//! let mut client = server.client(UserServiceClient::new);
//!
//! let mut request = tonic::Request::new(GetUserRequest { id: 1 });
//! request.metadata_mut().insert("x-big", "x".repeat(8 * 1024).parse().unwrap());
//! let status = client.get_user(request).await.unwrap_err();
//!
//! assert_eq!(status.code(), Code::Unknown); // HTTP 431: the header list is over the limit
//! # }
//! ```
//!
//! # Health and reflection
//!
//! Two optional features add the standard gRPC services next to the test's own, over every
//! transport, with one builder call each: `reflection` serves server reflection (v1 and v1alpha)
//! from the encoded descriptor set the build already makes, and `health` serves tonic-health's
//! `grpc.health.v1.Health` with every service `SERVING`, flipped by the test
//! (`server::Health`).
//!
//! ```
//! # #[cfg(all(feature = "health", feature = "reflection"))]
//! # mod example {
//! use tokio_stream::StreamExt;
//! use tonic_health::pb::{
//!     HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
//! };
//! use tonic_testkit::TestServer;
//! use tonic_testkit_examples::FILE_DESCRIPTOR_SET;
//! use tonic_testkit_examples::users::{Users, pb::user_service_server::UserServiceServer};
//!
//! # pub async fn run() {
//! let server = TestServer::builder()
//!     .add_service(UserServiceServer::new(Users::default()))
//!     .reflection(FILE_DESCRIPTOR_SET) // the encoded FileDescriptorSet your build makes
//!     .health() // every service added, and "", SERVING
//!     .start()
//!     .await;
//! let mut health = server.client(HealthClient::new);
//! let users = || HealthCheckRequest { service: "users.UserService".into() };
//! let mut watch = health.watch(users()).await.unwrap().into_inner();
//! assert_eq!(watch.next().await.unwrap().unwrap().status(), ServingStatus::Serving);
//!
//! server.health().set_not_serving("users.UserService").await;
//!
//! assert_eq!(watch.next().await.unwrap().unwrap().status(), ServingStatus::NotServing);
//! drop(watch); // a watch never ends by itself: end it before shutdown
//! server.shutdown().await;
//! # }
//! # }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! #     #[cfg(all(feature = "health", feature = "reflection"))]
//! #     example::run().await;
//! # }
//! ```
//!
//! - **The descriptor set** is the one the build already has. With protox: write
//!   `fds.encode_to_vec()` to `OUT_DIR` before `compile_fds(fds)`, and
//!   `include_bytes!(concat!(env!("OUT_DIR"), "/file_descriptor_set.bin"))` (as
//!   `tonic_testkit_examples::FILE_DESCRIPTOR_SET` does). With `compile_protos`:
//!   `.file_descriptor_set_path(..)` and `tonic::include_file_descriptor_set!(..)`.
//!   `.reflection(..)` can be called again with another set.
//! - **Reflection lists what the server serves**: the services added, `grpc.health.v1.Health` when
//!   `.health()` is on, and the two reflection services.
//! - **Health is tonic-health's own service**, so a client sees what it sees in production: a name
//!   the server does not report is `NOT_FOUND "service not registered"`. `""` is the whole server;
//!   a name the server does not serve panics at once, listing the names it reports.
//! - Checked at start, with the fix in the message: a served service that no set describes, bytes
//!   that are not a `FileDescriptorSet`, and a reflection or health service also added with
//!   `add_service`.
//!
//! # Panics and teardown
//!
//! - **No lost panics.** Over memory and TCP a panicking handler, layer, interceptor or response
//!   stream is answered `INTERNAL` with the panic text, the other calls on the connection go on, and
//!   the test panics at [`TestServer::shutdown`], or when the server is dropped, with every panic
//!   listed. Over direct the panic unwinds into the task that made the call and is recorded too, so
//!   a test whose task swallowed it still fails at shutdown. A test that provokes a panic on purpose
//!   takes it with [`TestServer::take_panics`].
//! - **Mocks are verified.** The server drops its services in the test's task after its own tasks
//!   have ended, so a mockall mock with unmet expectations fails the test on every transport, even
//!   with a client still in scope.
//! - **Bounded teardown.** `shutdown().await` refuses new calls at once, gives calls in progress a
//!   grace period ([`server::DEFAULT_GRACE_PERIOD`], 1 s;
//!   [`grace_period(d)`](TestServerBuilder::grace_period) to change it), then aborts what still runs.
//!   No task of the server outlives it, and calls made afterwards fail with `UNAVAILABLE` saying the
//!   server was shut down. Dropping a server aborts its calls at once: end tests that leave calls
//!   open with `shutdown().await`.
//! - **A handler that blocks its thread** (`std::thread::sleep`, a blocking lock) holds `shutdown()`
//!   for as long as it blocks, on every transport: use `tokio::time::sleep`, async locks, or
//!   `spawn_blocking`.
//! - [`TestServer::drop_connections`] cuts every open connection, as a crashed peer would; channels
//!   reconnect on their next call.
//! - Servers run on the test's runtime, so `#[tokio::test(start_paused = true)]` governs their
//!   timers: a deadline or a grace period passes without real waiting.
//!
//! A panic provoked on purpose, in a service defined in the example:
//!
//! ```
//! use tonic::{Code, Request, Response, Status};
//! use tonic_testkit::{TestServer, Transport, assert_status, matchers::contains};
//! use tonic_testkit_examples::hello::pb::{
//!     HelloRequest, HelloResponse,
//!     hello_service_client::HelloServiceClient,
//!     hello_service_server::{HelloService, HelloServiceServer},
//! };
//!
//! struct Broken;
//!
//! #[tonic::async_trait]
//! impl HelloService for Broken {
//!     async fn hello(&self, _: Request<HelloRequest>) -> Result<Response<HelloResponse>, Status> {
//!         panic!("out of greetings")
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let server = TestServer::builder()
//!     .transport(Transport::Memory) // over Direct the panic would unwind into this task
//!     .add_service(HelloServiceServer::new(Broken))
//!     .start()
//!     .await;
//! let mut client = server.client(HelloServiceClient::new);
//!
//! let result = client.hello(HelloRequest { greeting: "hi".into() }).await;
//!
//! assert_status!(result, Code::Internal, contains("panicked: out of greetings"));
//! let panics = server.take_panics(); // taken, so shutdown does not fail the test
//! assert_eq!(panics[0].method(), "/hello.HelloService/Hello");
//! server.shutdown().await;
//! # }
//! ```
//!
//! # Fuzzing
//!
//! With the `fuzz` feature, one statement calls every method of the server's services with
//! well-formed, odd requests built from the encoded `FileDescriptorSet` the build already makes:
//! every scalar at its edges, empty, long and non-ASCII strings, nested and recursive messages,
//! empty and long repeated and map fields, each oneof arm and none, enum numbers the schema does not
//! name, timestamps past their range, client streams of none to many messages. A case fails on a
//! panic, an `INTERNAL` or `UNKNOWN` answer, a call that does not end, an answer that does not
//! decode, or a check the test adds; proptest shrinks it, and the test fails with the minimal
//! request as text, the seed, and a line that replays the case alone. Runs are deterministic, and
//! `PROPTEST_CASES`, `PROPTEST_RNG_SEED` and proptest's regression files work as in a `proptest!`
//! test.
//!
//! ```
//! use tonic_testkit::{TestServer, fuzz::Exchange};
//! use tonic_testkit_examples::{
//!     FILE_DESCRIPTOR_SET,
//!     hello::{Greeter, pb::{HelloRequest, HelloResponse, hello_service_server::HelloServiceServer}},
//! };
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let server = TestServer::builder().add_service(HelloServiceServer::new(Greeter)).start().await;
//!
//! server
//!     .fuzz(FILE_DESCRIPTOR_SET)
//!     .metadata("x-request-id")
//!     .check("/hello.HelloService/Hello", |exchange: &Exchange<HelloRequest, HelloResponse>| {
//!         // Every greeting but the empty one is answered, and named in the reply.
//!         let greeting = &exchange.request().greeting;
//!         match exchange.response() {
//!             Some(response) => assert_eq!(response.reply, format!("Hello, {greeting}!")),
//!             None => assert!(greeting.is_empty()),
//!         }
//!     })
//!     .await;
//! # }
//! ```
//!
//! A handler that breaks on a request nobody wrote a test for is found, and the request shrunk to
//! what breaks it. Here a greeter that takes the greeting's first byte as its initial:
//!
//! ```
//! use tonic::{Request, Response, Status};
//! use tonic_testkit::TestServer;
//! use tonic_testkit_examples::{
//!     FILE_DESCRIPTOR_SET,
//!     hello::pb::{HelloRequest, HelloResponse, hello_service_server::{HelloService, HelloServiceServer}},
//! };
//!
//! struct Initials;
//!
//! #[tonic::async_trait]
//! impl HelloService for Initials {
//!     async fn hello(&self, request: Request<HelloRequest>) -> Result<Response<HelloResponse>, Status> {
//!         let greeting = request.into_inner().greeting;
//!         let initial = &greeting[..1]; // breaks on "" and on "é"
//!         Ok(Response::new(HelloResponse { reply: format!("{initial}.") }))
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let server = TestServer::builder().add_service(HelloServiceServer::new(Initials)).start().await;
//!
//! let finding = server.fuzz(FILE_DESCRIPTOR_SET).failure_persistence(None).try_run().await.unwrap_err();
//!
//! assert_eq!(finding.method(), "/hello.HelloService/Hello");
//! assert_eq!(
//!     finding.failure(),
//!     "the handler for /hello.HelloService/Hello panicked: end byte index 1 is not a char \
//!      boundary; it is inside 'é' (bytes 0..2) of `é`"
//! );
//! assert_eq!(finding.requests(), [r#"greeting: "\303\251""#]);
//! assert_eq!(finding.replay(), r##".replay("/hello.HelloService/Hello", &[r#"greeting: "\303\251""#], &[])"##);
//! # }
//! ```
//!
//! Awaiting the statement instead of `try_run` fails the test with the whole report: the failure,
//! the request in protobuf's text format, the metadata, the seed that runs the same cases again,
//! and the `.replay(..)` line above, ready to paste into the statement to replay exactly that case
//! (the fuzz statement's own line is in the report too).
//!
//! The request strategies are usable alone: [`fuzz::message::<T>`](fuzz::message) generates one
//! message type for a test's own proptest, such as one calling a handler directly with
//! [`TestRequest`]. See the [`fuzz`] module.
//!
//! # Coming from pytest-grpc
//!
//! | pytest-grpc | tonic-testkit |
//! |-------------|---------------|
//! | `grpc_add_to_server` + `grpc_servicer` | `TestServer::builder().add_service(XServer::new(svc))` |
//! | `grpc_stub_cls` + `grpc_stub` | `server.client(XClient::new)`, in an rstest fixture |
//! | `grpc_channel`, `grpc_create_channel(credentials)` | `server.channel()`, the TLS channels (`channel_with_identity`, `channel_with_tls`) |
//! | `grpc_interceptors` | `.interceptor(..)`, `.layer(..)` |
//! | `grpc_addr` | `server.local_addr()` (TCP) |
//! | `--grpc-fake-server` | `TONIC_TESTKIT_TRANSPORT=direct` |
//! | `grpc_max_workers` | not needed: async |
//! | module-scoped servers | a server per test: it costs microseconds |
//!
//! grpcio's `grpc_testing` runs a servicer in a fake server; here that is a `TestServer`, with its
//! journal in place of the test-side RPC object:
//!
//! | `grpc_testing` | tonic-testkit |
//! |----------------|---------------|
//! | `server_from_dictionary({descriptor: servicer}, time)` | `TestServer::builder().add_service(XServer::new(svc)).start().await`; time: `#[tokio::test(start_paused = true)]` |
//! | `invoke_unary_unary(method, metadata, request, timeout)` | `server.client(XClient::new).method(request).await` (metadata and timeout on the `Request`) |
//! | `rpc.termination()` | `server.wait_for_ended_calls(1).await`, then `call.responses::<T>()`, `call.trailers()`, `call.status()` |
//! | `rpc.initial_metadata()` | `call.response_headers()` |
//! | `rpc.cancel()`, then `rpc.cancelled()` | drop the call's future or response stream, then `server.wait_for_cancelled_calls(1).await` |
//! | `requests_closed()`, `take_response()` | the journal as the call runs: `server.calls()[i].request_count()`, `.response::<T>(i)` |
//!
//! # Features
//!
//! | feature | adds |
//! |---------|------|
//! | `router` (default) | [`add_routes`](TestServerBuilder::add_routes): a `tonic::service::Routes` served as it is (tonic's `router` feature, which tonic's own defaults enable) |
//! | `rstest` | `fixtures::transport`, a fixture following `TONIC_TESTKIT_TRANSPORT` (written to rstest's protocol: no rstest dependency) |
//! | `tls` | [`tls()`](TestServerBuilder::tls), [`mtls()`](TestServerBuilder::mtls), the `tls` module, `TestRequest::peer_certs` (ring, not aws-lc) |
//! | `gzip` | tonic's `gzip`, and gzip read back in the journal |
//! | `reflection` | [`reflection(descriptors)`](TestServerBuilder::reflection): gRPC server reflection, v1 and v1alpha |
//! | `health` | [`health()`](TestServerBuilder::health): the gRPC health service, flipped by the test |
//! | `descriptors` | `Stub::with_descriptors`: stubs that know each method's path, shape and message types |
//! | `fuzz` | `TestServer::fuzz` and the `fuzz` module: every method called with generated requests from the descriptors, shrunk by proptest (adds `descriptors`, proptest) |
//!
//! The library has no build script and no code generator in its dependency graph: a user's build
//! pays for tonic, tokio, tower and hyper's server half, which a tonic service already has.
//!
//! [tonic]: https://docs.rs/tonic
//! [README]: https://github.com/tonic-testkit/tonic-testkit#quick-start
//! [examples]: https://docs.rs/tonic-testkit-examples

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// The guide and the items link to the items of every feature; a build without some of them
// (`cargo doc` with default features) cannot resolve those links. The all-features build, the
// one docs.rs makes, checks every link.
#![cfg_attr(
    not(all(
        feature = "tls",
        feature = "reflection",
        feature = "health",
        feature = "descriptors",
        feature = "fuzz"
    )),
    allow(rustdoc::broken_intra_doc_links)
)]

mod assert;
mod engine;
mod fault;
#[cfg(feature = "rstest")]
#[cfg_attr(docsrs, doc(cfg(feature = "rstest")))]
pub mod fixtures;
#[cfg(feature = "fuzz")]
#[cfg_attr(docsrs, doc(cfg(feature = "fuzz")))]
pub mod fuzz;
pub mod handler;
pub mod journal;
pub mod mock;
mod protocol;
pub mod server;
mod sync;
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub mod tls;
mod transport;

pub use fault::Faults;
pub use handler::collect::{StreamOutcome, collect};
pub use handler::request::TestRequest;
pub use mock::reply::Reply;
pub use mock::stub::Stub;
pub use server::builder::TestServerBuilder;
pub use server::channel::TestChannel;
pub use server::test_server::TestServer;
pub use transport::Transport;

pub mod faults {
    //! What [`Faults`](crate::Faults) takes and returns: the [`FaultRule`] that `on(..)` starts,
    //! the [`FaultChannel`] that [`Faults::wrap`](crate::Faults::wrap) returns, the
    //! [`ConnectionToxics`] of memory and TCP connections, and the [`Fired`] record of what a
    //! rule did.

    pub use crate::fault::{ConnectionToxics, FaultChannel, FaultRule, Fired};
}

pub mod matchers {
    //! What the assertion macros match with: text matchers for status messages and metadata
    //! values ([`contains`], [`starts_with`], any [`TextMatcher`]), and the traits that say what
    //! a macro can read a status or metadata from ([`StatusSource`], [`MetadataSource`], the
    //! [`Observed`] they return).

    pub use crate::assert::{
        Contains, MetadataSource, Observed, StartsWith, StatusSource, TextMatcher, contains,
        starts_with,
    };
}

pub mod futures {
    //! The futures the kit's types return, named so that they can be stored and sent:
    //! [`ResponseFuture`] ([`TestChannel`](crate::TestChannel)'s calls), [`ServicesFuture`]
    //! ([`Services`](crate::server::Services)' calls) and [`Collect`]
    //! ([`collect`](crate::collect)). [`WaitForCalls`](crate::journal::WaitForCalls) is in
    //! [`journal`](crate::journal).

    pub use crate::engine::router::ServicesFuture;
    pub use crate::handler::collect::Collect;
    pub use crate::server::channel::ResponseFuture;
}

// The README's examples compile as doctests. Some show optional features (descriptors, rstest,
// tls, gzip, health, reflection), so they run with all features on, as the README's test command
// has it; a plain `cargo test` skips them instead of failing.
#[cfg(all(
    doctest,
    feature = "descriptors",
    feature = "fuzz",
    feature = "rstest",
    feature = "tls",
    feature = "gzip",
    feature = "health",
    feature = "reflection"
))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// What the assertion macros expand to; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::assert::{
        assert_status,
        details::{assert_error_info, assert_field_violation, assert_retry_info},
        metadata::{assert_metadata, assert_no_metadata},
    };
}

/// The error type of boxed services and channels.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
