//! What a test server's journal gives the test: the calls it saw, and waits for calls the test
//! does not await itself; and how much the builder lets it keep.

use crate::journal::Call;
use crate::protocol::method::check_method_path;
use crate::{TestServer, TestServerBuilder};

impl<L> TestServerBuilder<L> {
    /// How many calls the journal keeps
    /// ([`DEFAULT_JOURNAL_LIMIT`](crate::journal::DEFAULT_JOURNAL_LIMIT) unless set); later calls
    /// are served but only counted. `0` turns the journal off.
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
    /// let server = TestServer::builder()
    ///     .add_service(HelloServiceServer::new(Greeter))
    ///     .journal_limit(1)
    ///     .start()
    ///     .await;
    /// let mut client = server.client(HelloServiceClient::new);
    ///
    /// client.hello(HelloRequest { greeting: "Ada".into() }).await.unwrap();
    /// client.hello(HelloRequest { greeting: "Ada".into() }).await.unwrap();
    ///
    /// assert_eq!(server.calls().len(), 1);
    /// # }
    /// ```
    pub fn journal_limit(mut self, calls: usize) -> Self {
        self.journal_limit = calls;
        self
    }

    /// Tells the server its services' methods from `file_descriptor_set`, the encoded
    /// `FileDescriptorSet` the build already makes (the one [`reflection`](Self::reflection)
    /// takes), so that a journal [`Call`](crate::journal::Call) read as the wrong message type
    /// ([`request::<T>`](crate::journal::Call::request),
    /// [`response::<T>`](crate::journal::Call::response)) fails naming the method's type, instead
    /// of decoding into whatever the bytes make of `T`. A
    /// [`Stub::with_descriptors`](crate::Stub::with_descriptors) added with
    /// [`add_stub`](Self::add_stub) gives the server its descriptors when this is not called. Types
    /// are compared by name, as the stub compares them.
    ///
    /// # Panics
    ///
    /// When `file_descriptor_set` is not an encoded `FileDescriptorSet`.
    ///
    /// # Examples
    ///
    /// ```should_panic
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_examples::hello::pb::{
    ///     HelloRequest, HelloResponse, hello_service_client::HelloServiceClient,
    ///     hello_service_server::HelloServiceServer,
    /// };
    /// use tonic_testkit_examples::{FILE_DESCRIPTOR_SET, hello::Greeter};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server = TestServer::builder()
    ///     .add_service(HelloServiceServer::new(Greeter))
    ///     .descriptors(FILE_DESCRIPTOR_SET)
    ///     .start()
    ///     .await;
    /// let mut client = server.client(HelloServiceClient::new);
    /// client.hello(HelloRequest { greeting: "Ada".into() }).await.unwrap();
    ///
    /// // Panics: request message 0 of /hello.HelloService/Hello was asked for as
    /// // HelloResponse (..), and the method takes hello.HelloRequest; ask for that message
    /// let _ = server.calls()[0].request::<HelloResponse>(0);
    /// # }
    /// ```
    #[cfg(feature = "descriptors")]
    #[cfg_attr(docsrs, doc(cfg(feature = "descriptors")))]
    #[track_caller]
    pub fn descriptors(mut self, file_descriptor_set: impl AsRef<[u8]>) -> Self {
        let descriptors = crate::protocol::descriptors::Descriptors::decode(
            file_descriptor_set.as_ref(),
            "TestServerBuilder::descriptors",
        );
        self.descriptors = Some(descriptors);
        self
    }

    /// How many bytes of messages the journal keeps, requests and responses together, over all
    /// calls ([`DEFAULT_JOURNAL_BYTE_LIMIT`](crate::journal::DEFAULT_JOURNAL_BYTE_LIMIT), 32 MiB,
    /// unless set). Once a message does not fit, the journal counts the messages that follow, both
    /// ways, without keeping them, and says so where it prints;
    /// [`Call::request`](crate::journal::Call::request) or
    /// [`Call::response`](crate::journal::Call::response) for one of them panics saying why. The
    /// bound keeps a long stream from costing the test its size in memory.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_examples::rides::Rides;
    /// use tonic_testkit_examples::rides::pb::{
    ///     TrackRequest, rides_client::RidesClient, rides_server::RidesServer,
    /// };
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server = TestServer::builder()
    ///     .add_service(RidesServer::new(Rides::default()))
    ///     .journal_byte_limit(8)
    ///     .start()
    ///     .await;
    /// let mut client = server.client(RidesClient::new);
    /// let car = |id: &str| TrackRequest { car_id: id.into(), ..Default::default() };
    ///
    /// // Each message encodes to 7 bytes: the first fits in 8, the second does not.
    /// let events = tokio_stream::iter([car("car-1"), car("car-2")]);
    /// client.track(events).await.unwrap();
    ///
    /// let call = &server.calls()[0];
    /// assert_eq!(call.request_count(), 2);
    /// assert_eq!(call.request::<TrackRequest>(0).car_id, "car-1");
    /// # }
    /// ```
    pub fn journal_byte_limit(mut self, bytes: usize) -> Self {
        self.journal_byte_limit = bytes;
        self
    }
}

impl TestServer {
    /// Every call the server has seen so far, oldest first, on every transport: method,
    /// metadata, request messages, status, response count and duration. See [`Call`].
    pub fn calls(&self) -> Vec<Call> {
        self.shared.journal.calls()
    }

    /// The calls to one method (a full `/package.Service/Method` path), oldest first.
    ///
    /// # Panics
    ///
    /// When `method` is not a `/package.Service/Method` path.
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
    /// let mut request = tonic::Request::new(HelloRequest { greeting: "Ada".into() });
    /// request.metadata_mut().insert("x-tenant", "acme".parse().unwrap());
    /// client.hello(request).await.unwrap();
    ///
    /// let calls = server.calls_to("/hello.HelloService/Hello");
    /// assert_eq!(calls.len(), 1);
    /// assert_eq!(calls[0].metadata().get("x-tenant").unwrap(), "acme");
    /// assert!(server.calls_to("/users.UserService/GetUser").is_empty());
    /// # }
    /// ```
    #[track_caller]
    pub fn calls_to(&self, method: &str) -> Vec<Call> {
        check_method_path(method, "TestServer::calls_to");
        self.calls().into_iter().filter(|call| call.method() == method).collect()
    }

    /// Waits until `n` calls have ended, however they ended, and gives every call that has,
    /// oldest first: grpcio's `rpc.termination()`, for calls the test does not await itself
    /// (made in a task of their own, or by the code under test). The journal wakes the wait as
    /// each call ends; nothing polls. A call has ended once the server sent its status, or its
    /// client went away, or its deadline passed before its answer.
    ///
    /// A wait that does not end fails the test, after
    /// [`DEFAULT_WAIT_TIMEOUT`](crate::journal::DEFAULT_WAIT_TIMEOUT) of tokio time unless
    /// [`WaitForCalls::timeout`](crate::journal::WaitForCalls::timeout) says otherwise, with the
    /// calls the server saw, those still running marked.
    ///
    /// # Panics
    ///
    /// When the wait times out, and at once when the journal keeps fewer than `n` calls
    /// ([`TestServerBuilder::journal_limit`]): only the calls it keeps are counted.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_examples::rides::Rides;
    /// use tonic_testkit_examples::rides::pb::{
    ///     QuoteRequest, QuoteResponse, rides_client::RidesClient, rides_server::RidesServer,
    /// };
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// // Arrange: a service whose pricing takes 100 ms.
    /// let rides = Rides::with_pricing_delay(Duration::from_millis(100));
    /// let server = TestServer::builder().add_service(RidesServer::new(rides)).start().await;
    /// let mut client = server.client(RidesClient::new);
    ///
    /// // Act: the call runs in a task of its own, as code under test may make it.
    /// tokio::spawn(async move { client.quote(QuoteRequest::default()).await });
    ///
    /// // Assert
    /// let calls = server.wait_for_ended_calls(1).await;
    /// assert_eq!(calls[0].response::<QuoteResponse>(0).price_cents, 1200);
    /// # }
    /// ```
    #[track_caller]
    pub fn wait_for_ended_calls(&self, n: usize) -> crate::journal::WaitForCalls {
        crate::journal::WaitForCalls::new(&self.shared.journal, crate::journal::Wait::Ended, n)
    }

    /// Waits until `n` calls have been cancelled by their client (it dropped the call before
    /// it ended), and gives every call that was, oldest first: grpcio's `rpc.cancelled()`. The
    /// journal records such a call as `CANCELLED "the call was cancelled before it ended (the
    /// client went away)"`, on every transport, once the server has dropped the handler's
    /// future or stream: when the wait returns, what the handler does as it is dropped is
    /// done. Bounded as [`wait_for_ended_calls`](Self::wait_for_ended_calls) is.
    ///
    /// A client that drops a call's response stream while its request stream is open does not
    /// cancel the call yet, on every transport, as over HTTP/2 (hyper's client resets the stream
    /// only once both are gone): the handler goes on reading its request stream, its answer is
    /// polled and discarded, and the call is cancelled when the request stream ends, the handler
    /// dropped without reading that end (over Direct the request is read ahead of the handler
    /// from the drop on, up to 1 MiB, a tonic server's stream window). A response future dropped
    /// before the response headers, or a response stream dropped once the request has ended,
    /// cancels the call at once.
    ///
    /// # Panics
    ///
    /// As [`wait_for_ended_calls`](Self::wait_for_ended_calls).
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_examples::hello::Stuck;
    /// use tonic_testkit_examples::hello::pb::{
    ///     HelloRequest, hello_service_client::HelloServiceClient,
    ///     hello_service_server::HelloServiceServer,
    /// };
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// // Arrange: a call the service never answers.
    /// let stuck = Stuck::new();
    /// let service = HelloServiceServer::new(stuck.clone());
    /// let server = TestServer::builder().add_service(service).start().await;
    /// let mut client = server.client(HelloServiceClient::new);
    /// let call = tokio::spawn(async move { client.hello(HelloRequest::default()).await });
    /// stuck.reached().await;
    ///
    /// // Act: the client goes away.
    /// call.abort();
    ///
    /// // Assert: the server saw it go.
    /// let cancelled = server.wait_for_cancelled_calls(1).await;
    /// assert_eq!(cancelled[0].method(), "/hello.HelloService/Hello");
    /// # }
    /// ```
    #[track_caller]
    pub fn wait_for_cancelled_calls(&self, n: usize) -> crate::journal::WaitForCalls {
        crate::journal::WaitForCalls::new(&self.shared.journal, crate::journal::Wait::Cancelled, n)
    }
}
