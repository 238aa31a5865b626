//! How many calls a [`StubRule`] answers and expects: which call it matches
//! ([`nth`](StubRule::nth)), how many it may answer ([`up_to`](StubRule::up_to),
//! [`times`](StubRule::times)) and how many it expects ([`expect`](StubRule::expect)).

#[cfg(doc)]
use super::StubHandle;
use super::{StubRule, Times, matcher::Matcher};

impl StubRule<'_> {
    /// Matches only the `n`-th call to the method (from 1), counted over every call the stub
    /// got for it, whichever rule answered.
    ///
    /// # Panics
    ///
    /// When `n` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tonic::Status;
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
    /// let unavailable = Reply::<HelloResponse>::status(Status::unavailable("blip"));
    /// stub.on("/hello.HelloService/Hello").nth(2).reply(unavailable);
    /// stub.on("/hello.HelloService/Hello").reply(reply("hi"));
    ///
    /// let mut answered = Vec::new();
    /// for _ in 0..3 {
    ///     answered.push(client.hello(hello("Ada")).await.is_ok());
    /// }
    ///
    /// assert_eq!(answered, [true, false, true]);
    /// # }
    /// ```
    #[track_caller]
    pub fn nth(self, n: usize) -> Self {
        assert!(n > 0, "StubRule::nth(0) for {:?}: calls count from 1", self.method);
        let description = format!("nth({n})");
        self.with(Matcher::nth(description.clone(), n), &description)
    }

    /// Answers at most `n` calls; later ones go to the next rule for the method. How many calls
    /// the rule expects is said apart, with [`expect`](Self::expect).
    ///
    /// # Panics
    ///
    /// When `n` is 0: leave such a rule out.
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
    /// stub.on("/hello.HelloService/Hello").up_to(1).reply(reply("first"));
    /// stub.on("/hello.HelloService/Hello").reply(reply("later"));
    ///
    /// assert_eq!(client.hello(hello("Ada")).await.unwrap().into_inner().reply, "first");
    /// assert_eq!(client.hello(hello("Ada")).await.unwrap().into_inner().reply, "later");
    /// assert_eq!(client.hello(hello("Ada")).await.unwrap().into_inner().reply, "later");
    /// # }
    /// ```
    #[track_caller]
    pub fn up_to(mut self, n: usize) -> Self {
        assert!(
            n > 0,
            "StubRule::up_to(0) for {:?}: a rule that answers no call is not needed; leave it \
             out, or give a rule that should never be called .expect(0)",
            self.method
        );
        self.limit = Some(n);
        self.written.push_str(&format!(".up_to({n})"));
        self
    }

    /// How many calls the rule expects to answer: a count (`2`, `0` for never) or a range
    /// (`1..`, `..=3`, `2..5`). Checked by [`TestServer::verify`](crate::TestServer::verify),
    /// at shutdown, and when a [scoped](StubHandle::scoped) rule's guard drops. Without it, a
    /// rule expects nothing.
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
    /// let reply = Reply::message(HelloResponse::default());
    /// stub.on("/hello.HelloService/Hello").named("login").expect(1..).reply(reply);
    /// let server = TestServer::builder().add_stub(&stub).start().await;
    ///
    /// // Panics: rule "login" (stub.on("/hello.HelloService/Hello").expect(1..).reply(..) at ...)
    /// // expects at least 1 call, and answered 0 calls
    /// server.verify().await;
    /// # }
    /// ```
    pub fn expect(mut self, times: impl Into<Times>) -> Self {
        let times = times.into();
        self.written.push_str(&format!(".expect({})", times.written()));
        self.expect = Some(times);
        self
    }

    /// Answers at most `n` calls, then leaves later calls to the next rule for the method, and
    /// expects exactly `n`: `.up_to(n).expect(n)`.
    ///
    /// # Panics
    ///
    /// When `n` is 0: a call that no rule answers already fails the test.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tonic::{Code, Status};
    /// # use tonic_testkit::{Reply, Stub, TestServer, assert_status};
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
    /// let warming_up = Reply::<HelloResponse>::status(Status::unavailable("warming up"));
    /// stub.on("/hello.HelloService/Hello").times(1).reply(warming_up);
    /// stub.on("/hello.HelloService/Hello").reply(reply("hi"));
    ///
    /// assert_status!(client.hello(hello("Ada")).await, Code::Unavailable, "warming up");
    /// assert_eq!(client.hello(hello("Ada")).await.unwrap().into_inner().reply, "hi");
    /// server.verify().await; // the first rule answered exactly once
    /// # }
    /// ```
    #[track_caller]
    pub fn times(mut self, n: usize) -> Self {
        assert!(
            n > 0,
            "StubRule::times(0) for {:?}: a rule that answers no call is not needed, because a \
             call that no rule answers fails the test; leave the rule out",
            self.method
        );
        self.limit = Some(n);
        self.expect = Some(Times::from(n));
        self.written.push_str(&format!(".times({n})"));
        self
    }
}
