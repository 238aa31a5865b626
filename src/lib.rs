//! Test servers and ready clients for gRPC services built with [tonic].
//!
//! `tonic-testkit` is a dev-dependency for the tests of tonic services and of code that calls
//! them. A test starts its services in-process in one line, gets a ready typed client, and talks
//! to the services over the transport it chooses:
//!
//! ```
//! use tonic_testkit::TestServer;
//! // The probe service of this crate's own tests; in your tests, your generated server/client.
//! use tonic_testkit_support::{Probe, ProbeClient, ProbeRequest};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // In a test file this body sits in a `#[tokio::test] async fn`.
//! {
//!     // Arrange: start the service and get a client.
//!     let server = TestServer::builder().add_service(Probe::new().server()).start().await;
//!     let mut client = server.client(ProbeClient::new);
//!
//!     // Act
//!     let reply = client.unary(ProbeRequest { text: "hi".into(), count: 0 }).await.unwrap();
//!
//!     // Assert
//!     assert_eq!(reply.into_inner().text, "hi");
//!     server.shutdown().await; // fails the test if the server caught a panic
//! }
//! # }
//! ```
//!
//! A production server's set-up moves in as it is: [`TestServerBuilder::add_service`] takes what
//! `tonic::transport::Server::add_service` takes (a service behind `XServer::with_interceptor`
//! too), [`TestServerBuilder::add_routes`] a whole `tonic::service::Routes`, and tonic's server
//! settings are on the builder under tonic's names ([`timeout`](TestServerBuilder::timeout),
//! [`concurrency_limit_per_connection`](TestServerBuilder::concurrency_limit_per_connection),
//! [`load_shed`](TestServerBuilder::load_shed), the HTTP/2 ones such as
//! [`max_concurrent_streams`](TestServerBuilder::max_concurrent_streams)), each doing what it
//! does on a tonic server. The HTTP/2 connection settings have no meaning over
//! [`Transport::Direct`], which panics at start when given one.
//!
//! # Transports
//!
//! | [`Transport`] | what carries a call | use it for |
//! |---------------|---------------------|------------|
//! | [`Direct`](Transport::Direct) | a function call in the test's task; messages still encoded | the fastest tests; a handler panic unwinds with its own backtrace |
//! | [`Memory`](Transport::Memory) (default) | HTTP/2 over an in-memory pipe per connection | real HTTP/2 without ports |
//! | [`Tcp`](Transport::Tcp) | HTTP/2 over loopback TCP | a real socket, an address for outside clients |
//!
//! The environment variable [`TONIC_TESTKIT_TRANSPORT`](TRANSPORT_ENV)`=direct|memory|tcp` sets
//! the default for a whole run, so one suite runs over every transport without edits:
//!
//! ```text
//! TONIC_TESTKIT_TRANSPORT=direct cargo test
//! TONIC_TESTKIT_TRANSPORT=tcp cargo test
//! ```
//!
//! [`TestServerBuilder::transport`] overrides it for one server.
//!
//! Every transport keeps what a real tonic server does: client-side request extensions do not
//! reach the handler, `Request::remote_addr()` is a loopback address, a `grpc-timeout` deadline
//! is enforced and answered `CANCELLED "Timeout expired"`, and an unknown method is
//! `UNIMPLEMENTED`.
//!
//! # Testing handlers directly
//!
//! A handler is a plain async method: a test can call it without any server, with a
//! [`TestRequest`] standing in for what a real server hands over (the counterpart of Python's
//! fake `ServicerContext`), and check what it returned with [`collect`] and the assertion
//! macros:
//!
//! ```
//! use std::time::Duration;
//! use tonic::Code;
//! use tonic_testkit::{TestRequest, assert_metadata, assert_status, collect};
//! use tonic_testkit_support::{Probe, ProbeRequest, ProbeService};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let probe = Probe::new();
//!
//! // Unary: metadata, deadline and peer as a real server would pass them.
//! let request = TestRequest::new(ProbeRequest { text: "meta:x-tenant".into(), count: 0 })
//!     .metadata("x-tenant", "acme")
//!     .timeout(Duration::from_millis(50))
//!     .remote_addr("10.1.2.3:5000".parse().unwrap());
//! let reply = probe.unary(request.into()).await.unwrap();
//! assert_eq!(reply.get_ref().text, "acme");
//!
//! // Client streaming: a stream of messages, encoded and decoded for real.
//! let text = |text: &str| ProbeRequest { text: text.into(), count: 0 };
//! let reply = probe.client_stream(TestRequest::stream([text("a"), text("b")]).into()).await;
//! assert_eq!(reply.unwrap().get_ref().text, "a,b");
//!
//! // Server streaming: every message, and the status that ended the stream.
//! let request = TestRequest::new(ProbeRequest { text: "fail-at:2".into(), count: 5 });
//! let outcome = collect(probe.server_stream(request.into()).await.unwrap().into_inner()).await;
//! assert_eq!(outcome.messages().len(), 2);
//! assert_status!(outcome, Code::Aborted, "failed at reply 2");
//! assert_metadata!(outcome, "x-failed-at", "2");
//! # }
//! ```
//!
//! [`TestRequest::channel`] drives a bidi handler step by step. The same helpers read what a
//! client gets over a [`TestServer`], so one set of expectations can check a handler called
//! directly and the same call made over the wire.
//!
//! # Assertions
//!
//! | macro | checks |
//! |-------|--------|
//! | [`assert_status!`] | the code, and the message (exact, [`contains`], [`starts_with`], a closure) |
//! | [`assert_field_violation!`] | a `google.rpc.BadRequest` field violation in the details |
//! | [`assert_error_info!`], [`assert_retry_info!`] | `ErrorInfo` and `RetryInfo` details |
//! | [`assert_metadata!`], [`assert_no_metadata!`] | request metadata, response headers, trailers |
//!
//! They take a `Status`, a call's `Result`, a [`StreamOutcome`] or an [`Intercepted`] (see
//! [`StatusSource`] and [`MetadataSource`]), borrow it, point at the test's own line when they
//! fail, and print what was expected and what arrived:
//!
//! ```text
//! tonic-testkit: assert_status! failed
//!   expected: NotFound, message "User not found"
//!     actual: InvalidArgument, message "id: must be positive"
//! ```
//!
//! After a `;`, each takes a context for its failure message, as `assert_eq!` takes trailing
//! arguments: `assert_status!(result, Code::NotFound; "over {transport}")`.
//!
//! [`intercept`] and [`through_layer`] test an interceptor or a tower layer alone.
//!
//! # Testing client code
//!
//! Client code is tested against a server that answers what the test scripts: a mockall mock of
//! the generated server trait, served with `add_service`, whose methods return a [`Reply`]
//! (`.returning(|_| Reply::message(m).unary())`); or a [`Stub`], whose rules answer method
//! paths with replies or closures and need no trait at all. Both are strict: a call nothing
//! expects is answered `INTERNAL` and fails the test, and [`TestServer::verify`] checks at a
//! line of the test's choosing.
//!
//! ```
//! use tonic::{Code, Status};
//! use tonic_testkit::{Reply, Stub, TestServer, assert_status};
//! use tonic_testkit_support::{ProbeClient, ProbeReply, ProbeRequest};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let stub = Stub::new();
//! stub.on("/probe.Probe/Unary").replies([
//!     Reply::status(Status::unavailable("try again")),
//!     Reply::message(ProbeReply { text: "done".into(), index: 0 }),
//! ]);
//! let server = TestServer::builder().add_stub(&stub).start().await;
//! let mut client = server.client(ProbeClient::new); // stands for the code under test
//!
//! assert_status!(client.unary(ProbeRequest::default()).await, Code::Unavailable);
//! assert_eq!(client.unary(ProbeRequest::default()).await.unwrap().into_inner().text, "done");
//!
//! server.verify().await; // both replies were used
//! # }
//! ```
//!
//! Client code that sets up its own tonic `Endpoint` (a user agent, an origin, a timeout, a
//! concurrency limit, keep-alive, HTTP/2 windows and header sizes) gets a channel with the same
//! settings from [`TestServer::channel_with`], which hands the closure the endpoint
//! [`TestServer::channel`] uses and connects the one it returns to the server. Over memory and
//! TCP every setting acts as in production; over Direct the user agent, origin and timeout do.
//!
//! # Faults
//!
//! [`Faults`] injects failures where the test wants them: rules on calls
//! (`faults.on("/orders.Orders/RegisterOrder").times(2).fail(Code::Unavailable, "try again")`,
//! delays, cut streams, hangs, dropped connections) and toxics on the bytes of memory and TCP
//! connections, all on the tokio clock, with seeded probabilities. Attach it with
//! [`TestServerBuilder::faults`], or wrap any client channel with [`Faults::wrap`].
//!
//! # TLS, compression and limits
//!
//! With the `tls` feature, [`TestServerBuilder::tls`] serves TLS over memory and TCP and
//! [`TestServerBuilder::mtls`] also requires client certificates. Each server makes a throwaway
//! CA at start; the channels it hands out trust it, [`TestServer::tls`] gives its PEM to
//! clients outside the kit, and [`TestTls::client_identity`] mints client certificates that
//! handlers read with `request.peer_certs()`. A client that TLS refuses sees what a tonic client
//! sees from a tonic server.
//!
//! Compression and message-size limits are set where tonic sets them, on the service added and
//! on the client (the kit sees services as opaque tower services, so it has no switch of its
//! own), and behave the same on every transport. The `gzip` feature enables tonic's `gzip` and
//! lets the journal read gzip-compressed messages, requests and responses.
//!
//! ```
//! # #[cfg(all(feature = "tls", feature = "gzip"))]
//! # mod example {
//! use tonic::codec::CompressionEncoding::Gzip;
//! use tonic_testkit::{TestServer, Transport};
//! use tonic_testkit_support::{Probe, ProbeClient, ProbeRequest, ProbeServer};
//!
//! # pub async fn run() {
//! // Arrange: mutual TLS, gzip both ways, a 1 KiB limit on requests.
//! let service = ProbeServer::new(Probe::new())
//!     .accept_compressed(Gzip)
//!     .send_compressed(Gzip)
//!     .max_decoding_message_size(1024);
//! let server =
//!     TestServer::builder().transport(Transport::Tcp).mtls().add_service(service).start().await;
//! let alice = server.tls().unwrap().client_identity("alice");
//! let channel = server.channel_with_identity(&alice);
//! let mut client = ProbeClient::new(channel).send_compressed(Gzip).accept_compressed(Gzip);
//!
//! // Act
//! let reply = client.unary(ProbeRequest { text: "hi".into(), count: 0 }).await.unwrap();
//!
//! // Assert: the reply came gzipped, the request too, and the journal reads it.
//! assert_eq!(reply.metadata().get("grpc-encoding").unwrap(), "gzip");
//! let call = &server.calls()[0];
//! assert!(call.request_compressed(0));
//! assert_eq!(call.request::<ProbeRequest>(0).text, "hi");
//! assert!(call.response_compressed(0));
//! assert!(server.tls().unwrap().ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
//! # }
//! # }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! #     #[cfg(all(feature = "tls", feature = "gzip"))]
//! #     example::run().await;
//! # }
//! ```
//!
//! [`free_port`] picks a port for a process outside the test to bind; test servers never need
//! it.
//!
//! # Reflection and health
//!
//! Two optional features add the standard gRPC services next to the test's own, over every
//! transport. `reflection`: `TestServerBuilder::reflection(FILE_DESCRIPTOR_SET)` serves server
//! reflection (v1 and v1alpha) from the encoded descriptor set the build already makes, listing
//! exactly the services the server serves. `health`: `TestServerBuilder::health()` serves
//! tonic-health's `grpc.health.v1.Health` with every service `SERVING`, and the test flips them
//! with `server.health().set_not_serving("users.UserService").await`; a name the server does not
//! serve panics, listing the names it has. See `Health` for an example.
//!
//! # The call journal
//!
//! Every server records each call, both ways, on every transport: [`TestServer::calls`] gives
//! each [`Call`] with its request metadata and messages, the response headers, messages and
//! trailers the server sent, each message's size and compression, the status and the duration.
//! [`TestServer::wait_for_ended_calls`] and [`TestServer::wait_for_cancelled_calls`] wait,
//! without polling and within a bound, for calls the test does not await itself (grpcio's
//! `rpc.termination()` and `rpc.cancelled()`).
//!
//! ```
//! use tonic_testkit::TestServer;
//! use tonic_testkit_support::{Probe, ProbeClient, ProbeReply, ProbeRequest};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let server = TestServer::builder().add_service(Probe::new().server()).start().await;
//! let mut client = server.client(ProbeClient::new);
//!
//! // The code under test calls in a task of its own.
//! let request = ProbeRequest { text: "hi".into(), count: 0 };
//! tokio::spawn(async move { client.unary(request).await });
//!
//! let calls = server.wait_for_ended_calls(1).await;
//! assert_eq!(calls[0].request::<ProbeRequest>(0).text, "hi");
//! assert_eq!(calls[0].response::<ProbeReply>(0).text, "hi");
//! assert_eq!(calls[0].trailers().get("grpc-status").unwrap(), "0");
//! # }
//! ```
//!
//! # No lost panics, no hanging teardown
//!
//! A handler that panics in a server task would normally be invisible: the client gets an
//! obscure status and the test passes. Here, the call is answered `INTERNAL` with the panic text
//! and the test fails at [`TestServer::shutdown`] (or when the server is dropped) with every
//! panic listed. The services are dropped in the test's task after the server's tasks have
//! ended, so a mockall mock's unmet expectations fail the test over every transport.
//! `shutdown()` waits a bounded grace period for calls in progress, then aborts them.
//!
//! # rstest
//!
//! Fixtures build servers and clients; `#[values(..)]` runs one body over every transport.
//! With the `rstest` feature the crate provides a [`transport`](fn@transport) fixture that
//! follows the environment variable.
//!
//! ```
//! use rstest::{fixture, rstest};
//! use tonic_testkit::{TestChannel, TestServer, Transport};
//! use tonic_testkit_support::{Probe, ProbeClient, ProbeRequest};
//!
//! #[fixture]
//! async fn server(#[default(Transport::Memory)] transport: Transport) -> TestServer {
//!     TestServer::builder()
//!         .transport(transport)
//!         .add_service(Probe::new().server())
//!         .start()
//!         .await
//! }
//!
//! #[rstest]
//! #[tokio::test]
//! async fn echoes_over_every_transport(
//!     #[values(Transport::Direct, Transport::Memory, Transport::Tcp)] transport: Transport,
//! ) {
//!     let server = server(transport).await;
//!     let mut client: ProbeClient<TestChannel> = server.client(ProbeClient::new);
//!     let reply = client.unary(ProbeRequest { text: "hi".into(), count: 0 }).await.unwrap();
//!     assert_eq!(reply.into_inner().text, "hi");
//! }
//! # fn main() {}
//! ```
//!
//! [tonic]: https://docs.rs/tonic

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod admission;
mod assert;
mod body;
mod builder;
mod call;
mod channel;
mod compression;
#[cfg(feature = "descriptors")]
mod descriptors;
mod fault;
mod few;
mod frames;
#[cfg(feature = "fuzz")]
#[cfg_attr(docsrs, doc(cfg(feature = "fuzz")))]
pub mod fuzz;
#[cfg(feature = "health")]
mod health;
mod intercept;
mod journal;
mod method;
mod panic;
mod port;
#[cfg(feature = "reflection")]
mod reflection;
mod reply;
mod request;
mod router;
mod server;
mod settings;
mod shared;
mod stack;
mod standard;
mod stream;
pub mod stub;
#[cfg(feature = "tls")]
mod tls;
// Named apart from the `transport` fixture, which rstest defines in both namespaces.
#[path = "transport/mod.rs"]
mod transports;

pub use assert::{
    Contains, MetadataSource, Observed, StartsWith, StatusSource, TextMatcher, contains,
    starts_with,
};
pub use builder::TestServerBuilder;
pub use channel::{ResponseFuture, TestChannel};
pub use fault::{ConnectionToxics, FaultChannel, FaultRule, Faults, Fired};
#[cfg(feature = "health")]
#[cfg_attr(docsrs, doc(cfg(feature = "health")))]
pub use health::Health;
pub use intercept::{Intercepted, Recorder, intercept, through_layer};
pub use journal::{
    Call, DEFAULT_JOURNAL_BYTE_LIMIT, DEFAULT_JOURNAL_LIMIT, DEFAULT_WAIT_TIMEOUT, WaitForCalls,
};
pub use panic::HandlerPanic;
pub use port::free_port;
pub use reply::{BoxStream, Reply};
pub use request::{DEFAULT_REMOTE_ADDR, TestRequest};
pub use router::{Services, ServicesFuture};
pub use server::{DEFAULT_GRACE_PERIOD, TestServer};
pub use stream::{Collect, DEFAULT_COLLECT_TIMEOUT, StreamOutcome, collect};
pub use stub::{Stub, StubRule};
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub use tls::{CertificateDer, ClientIdentity, DEFAULT_CLIENT_NAME, TestTls};
#[cfg(feature = "rstest")]
pub use transports::transport;
pub use transports::{ParseTransportError, TRANSPORT_ENV, Transport};

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
