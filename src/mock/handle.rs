//! [`StubHandle`] and [`StubGuard`]: what adding a [`StubRule`](super::StubRule) returns.

use std::{fmt, panic::Location};

use super::Stub;
#[cfg(doc)]
use super::StubRule;

/// A rule added to a [`Stub`]: how many calls it answered, and a way to make it
/// [scoped](Self::scoped).
#[derive(Clone)]
pub struct StubHandle {
    pub(super) stub: Stub,
    pub(super) id: u64,
}

impl StubHandle {
    /// How many calls the rule answered; `0` once it was removed by [`Stub::reset`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use tonic_testkit::{Reply, Stub, TestServer};
    /// # use tonic_testkit_examples::hello::pb::{
    /// #     HelloRequest, HelloResponse, hello_service_client::HelloServiceClient,
    /// # };
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let stub = Stub::new();
    /// let server = TestServer::builder().add_stub(&stub).start().await;
    /// let mut client = server.client(HelloServiceClient::new);
    /// let reply = |text: &str| Reply::message(HelloResponse { reply: text.into() });
    /// let hello = |greeting: &str| HelloRequest { greeting: greeting.into() };
    /// let handle = stub.on("/hello.HelloService/Hello").reply(reply("hi"));
    ///
    /// client.hello(hello("Ada")).await.unwrap();
    /// client.hello(hello("Bob")).await.unwrap();
    ///
    /// assert_eq!(handle.calls(), 2);
    /// # }
    /// ```
    pub fn calls(&self) -> usize {
        self.stub.calls_of(self.id).unwrap_or(0)
    }

    /// Makes the rule scoped: when the returned guard drops, the rule is removed from the stub,
    /// and the test fails if the rule's [expectation](StubRule::expect) was not met, so one test
    /// can check its calls phase by phase. A guard dropped while the test already panics does
    /// not panic again.
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
    /// let server = TestServer::builder().add_stub(&stub).start().await;
    /// let mut client = server.client(HelloServiceClient::new);
    /// let ok = || Reply::message(HelloResponse::default());
    ///
    /// {
    ///     let _login = stub.on("/hello.HelloService/Hello").expect(1).reply(ok()).scoped();
    ///     client.hello(HelloRequest { greeting: "Ada".into() }).await.unwrap();
    /// } // checked here: exactly one call
    /// {
    ///     let _polls = stub.on("/hello.HelloService/Hello").expect(2..).reply(ok()).scoped();
    ///     client.hello(HelloRequest { greeting: "Ada".into() }).await.unwrap();
    ///     client.hello(HelloRequest { greeting: "Ada".into() }).await.unwrap();
    /// } // checked here: two calls or more
    /// # }
    /// ```
    #[track_caller]
    pub fn scoped(self) -> StubGuard {
        StubGuard { handle: self, location: Location::caller() }
    }
}

impl fmt::Debug for StubHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StubHandle").field("calls", &self.calls()).finish_non_exhaustive()
    }
}

/// A scoped rule: removed, and its expectation checked, when the guard drops. Made by
/// [`StubHandle::scoped`].
#[must_use = "a scoped rule is removed when its guard drops: keep the guard in a variable for the \
              phase of the test the rule answers"]
pub struct StubGuard {
    handle: StubHandle,
    location: &'static Location<'static>,
}

impl Drop for StubGuard {
    fn drop(&mut self) {
        let problem = self.handle.stub.remove(self.handle.id);
        if let Some(problem) = problem
            && !std::thread::panicking()
        {
            let report = super::report(&[problem]);
            panic!("{report}\nChecked when the guard made at {} dropped.", self.location);
        }
    }
}

impl fmt::Debug for StubGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StubGuard").field("rule", &self.handle).finish()
    }
}
