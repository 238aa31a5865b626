//! How a test server ends: the panics it caught, the expectations it checks, its shutdown, and
//! its drop.

use std::{future::Future, panic::Location};

use crate::TestServer;
use crate::server::HandlerPanic;

/// The panic of a second `shutdown()`.
const SHUTDOWN_TWICE: &str = "TestServer::shutdown() was called twice; the server was already \
     shut down by the first call. Call it once, at the end of the test (dropping the server also \
     shuts it down).";

impl TestServer {
    /// Takes the panics the server has caught so far, so a test that provokes one on purpose can
    /// assert on it; the server will not report them again at shutdown.
    ///
    /// See [`HandlerPanic`] for an example.
    pub fn take_panics(&self) -> Vec<HandlerPanic> {
        self.shared.panics.take()
    }

    /// Shuts the server down and drops its services in this task.
    ///
    /// New connections and calls are refused at once. Calls in progress get the grace period
    /// ([`DEFAULT_GRACE_PERIOD`](crate::server::DEFAULT_GRACE_PERIOD) unless
    /// [`TestServerBuilder::grace_period`](crate::TestServerBuilder::grace_period) set one) to
    /// finish; whatever still runs then (a stuck handler, an open bidi stream) is aborted, and its
    /// client sees what it would see if a real server died: `UNKNOWN "transport error"` before the
    /// response, `UNKNOWN "h2 protocol error: error reading a body from connection"` in the middle
    /// of a response stream. Direct calls get the same grace and the same statuses. When this
    /// returns, no task of the server is left, and the services have been dropped here, so a mock's
    /// unmet expectations panic in the test: the copies that calls held were dropped as the calls
    /// ended, a mock's panic there caught and reported with the rest.
    ///
    /// It returns within the grace period and a quarter of a second more, wherever it is called
    /// from and whatever the runtimes do, with one exception: a handler that blocks its thread
    /// (a `std::thread::sleep`, a blocking lock) holds `shutdown()` for as long as it blocks,
    /// since the services it holds cannot be dropped before its poll returns. A task that
    /// nothing polls any more (its runtime is not running, as when a server started on a
    /// `current_thread` runtime is shut down from another one) is given up on after that
    /// quarter of a second, with whatever it holds.
    ///
    /// Calls made afterwards, through any channel of this server, fail with `UNAVAILABLE` and a
    /// message saying the server was shut down.
    ///
    /// # Panics
    ///
    /// - when the server caught panics that the test did not [take](TestServer::take_panics):
    ///   the message lists each one;
    /// - when a service panicked as it was dropped (a mock's unmet expectation): the message
    ///   carries the mock's own;
    /// - when called a second time.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic::Code;
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
    /// server.shutdown().await;
    ///
    /// let status = client.hello(HelloRequest { greeting: "Ada".into() }).await.unwrap_err();
    /// assert_eq!(status.code(), Code::Unavailable);
    /// assert!(status.message().contains("the test server was shut down"));
    /// # }
    /// ```
    #[track_caller]
    pub fn shutdown(&self) -> impl Future<Output = ()> + Send + '_ {
        // Checked here, in a plain function, so that the panic points at the test's line.
        if self.shared.lifecycle.is_closed() {
            panic!("{SHUTDOWN_TWICE}");
        }
        let location = Location::caller();
        async move {
            if !self.shared.lifecycle.close() {
                panic!("{SHUTDOWN_TWICE} (the second call: {location})");
            }
            // A task past the grace period is aborted; aborted tasks end at their next poll.
            // With nothing running, no timer is set.
            if !self.shared.lifecycle.calls_done() {
                let _ =
                    tokio::time::timeout(self.grace_period, self.shared.lifecycle.calls_ended())
                        .await;
            }
            self.shared.lifecycle.seal_and_abort();
            self.shared.lifecycle.settle().await;
            self.finish();
        }
    }

    /// Checks, at this line of the test, what the server has seen so far, and fails the test
    /// if anything is wrong:
    ///
    /// - panics the server caught (handler panics, a mock's "No matching expectation found");
    /// - calls that no rule of the [`Stub`](crate::Stub) answered;
    /// - [`Stub`](crate::Stub) rules whose `times(n)` is not met yet.
    ///
    /// The message lists the calls the server saw and names this line. Panics and unexpected
    /// calls it reports are not reported again at shutdown. Every step of the server's
    /// bookkeeping for a call happens before its client gets the answer, so a call the test has
    /// awaited is always counted.
    ///
    /// A mockall mock's own `times(n)` is checked when the mock is dropped, which the server does
    /// at [`shutdown`](TestServer::shutdown): await that at the line where the counts must hold.
    ///
    /// # Panics
    ///
    /// When any of the above is found.
    ///
    /// # Examples
    ///
    /// ```should_panic
    /// use tonic_testkit::{Reply, Stub, TestServer};
    /// use tonic_testkit_examples::hello::pb::HelloResponse;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let stub = Stub::new();
    /// stub.on("/hello.HelloService/Hello").times(1).reply(Reply::message(HelloResponse::default()));
    /// let server = TestServer::builder().add_stub(&stub).start().await;
    ///
    /// // No call was made: "... answered 0 of the 1 calls it expects".
    /// server.verify().await;
    /// # }
    /// ```
    #[track_caller]
    pub fn verify(&self) -> impl Future<Output = ()> + Send + '_ {
        let location = Location::caller();
        async move {
            if let Some(problems) = self.problems() {
                panic!("{problems}\nChecked by server.verify() at {location}.");
            }
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // Also reached when a `shutdown()` was cancelled part-way (a timeout around it).
        if !self.finished.load(std::sync::atomic::Ordering::Acquire) {
            self.shared.lifecycle.close();
            self.shared.lifecycle.seal_and_abort();
            self.finish();
        }
    }
}
