//! [`StubRule`]: a rule as a test writes it, and [`StubHandle`] / [`StubGuard`], what adding it
//! returns.

use std::{fmt, fmt::Debug, panic::Location, sync::Arc};

use prost::Message;
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

use super::{
    Answer, Rule, Stub, Times,
    answer::{answer_after_delay, read_all, scripted, streaming},
    matcher::{Header, Matcher, at},
    typed::Shape,
};
use crate::mock::reply::{BoxStream, Reply};

/// A rule being written: `stub.on(method)`, then what it matches, how many calls it answers and
/// expects, and last its answer, which adds it to the stub.
///
/// The rules for a method are tried in the order they were added; the first one whose every
/// condition holds, and that is not used up (see [`up_to`](Self::up_to)), answers the call. A
/// call that no rule answers gets `INTERNAL`, and fails the test with, for each rule of the
/// method, the conditions the call failed and what it carried instead, the closest rule first.
///
/// # Examples
///
/// ```
/// use tonic::{Code, Status};
/// use tonic_testkit::{Reply, Stub, TestServer, assert_status};
/// use tonic_testkit_examples::hello::pb::{
///     HelloRequest, HelloResponse, hello_service_client::HelloServiceClient,
/// };
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let stub = Stub::new();
/// let reply = |text: &str| HelloResponse { reply: text.into() };
/// stub.on("/hello.HelloService/Hello")
///     .named("an admin's call")
///     .when_header("x-role", "admin")
///     .when(|request: &HelloRequest| !request.greeting.is_empty())
///     .expect(1..)
///     .reply(Reply::message(reply("welcome")));
/// stub.on("/hello.HelloService/Hello")
///     .reply(Reply::<HelloResponse>::status(Status::permission_denied("no")));
/// let server = TestServer::builder().add_stub(&stub).start().await;
/// let mut client = server.client(HelloServiceClient::new);
///
/// let mut request = tonic::Request::new(HelloRequest { greeting: "hi".into() });
/// request.metadata_mut().insert("x-role", "admin".parse().unwrap());
/// let admin = client.hello(request).await.unwrap();
/// let anyone = client.hello(HelloRequest { greeting: "hi".into() }).await;
///
/// assert_eq!(admin.into_inner().reply, "welcome");
/// assert_status!(anyone, Code::PermissionDenied);
/// server.verify().await;
/// # }
/// ```
#[must_use = "a stub rule takes effect when it is given its answer: .reply(..), .replies(..) or \
              .respond_with(..)"]
pub struct StubRule<'a> {
    stub: &'a Stub,
    method: String,
    name: Option<String>,
    /// The rule as written so far: `stub.on("/m").when_header(..)`.
    written: String,
    matchers: Vec<Matcher>,
    limit: Option<usize>,
    expect: Option<Times>,
    location: &'static Location<'static>,
    /// What the stub's descriptors say of the method.
    shape: Shape,
}

impl<'a> StubRule<'a> {
    pub(super) fn new(
        stub: &'a Stub,
        method: &str,
        shape: Shape,
        location: &'static Location<'static>,
    ) -> Self {
        Self {
            stub,
            shape,
            method: method.to_owned(),
            name: None,
            written: format!("stub.on({method:?})"),
            matchers: Vec::new(),
            limit: None,
            expect: None,
            location,
        }
    }

    /// Names the rule: every report that speaks of it uses the name.
    ///
    /// # Examples
    ///
    /// ```should_panic
    /// # use tonic::{Code, Request, Status};
    /// # use tonic_testkit::{Reply, Stub, TestServer, assert_status};
    /// # use tonic_testkit_examples::hello::pb::{
    /// #     HelloRequest, HelloResponse, hello_service_client::HelloServiceClient,
    /// # };
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let stub = Stub::new();
    /// let server = TestServer::builder().add_stub(&stub).start().await;
    /// let reply = |text: &str| Reply::message(HelloResponse { reply: text.into() });
    /// let hello = |greeting: &str| HelloRequest { greeting: greeting.into() };
    /// stub.on("/hello.HelloService/Hello").named("greeting Ada").expect(1).reply(reply("hi"));
    ///
    /// // Panics: rule "greeting Ada" (stub.on("/hello.HelloService/Hello").expect(1).reply(..)
    /// // at ...) expects 1 call, and answered 0 calls
    /// server.verify().await;
    /// # }
    /// ```
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Matches calls whose (first) request message, decoded as `T`, makes `matches` true. A
    /// call that failed it shows its message in the report.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tonic::{Code, Request, Status};
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
    /// stub.on("/hello.HelloService/Hello")
    ///     .when(|request: &HelloRequest| request.greeting.starts_with("A"))
    ///     .reply(reply("an A"));
    /// stub.on("/hello.HelloService/Hello").reply(reply("anyone else"));
    ///
    /// assert_eq!(client.hello(hello("Ada")).await.unwrap().into_inner().reply, "an A");
    /// assert_eq!(client.hello(hello("Bob")).await.unwrap().into_inner().reply, "anyone else");
    /// # }
    /// ```
    #[track_caller]
    pub fn when<T, F>(self, matches: F) -> Self
    where
        T: Message + Default + Debug + 'static,
        F: Fn(&T) -> bool + Send + Sync + 'static,
    {
        self.shape.takes::<T>(&format!("{}.when(..)", self.written));
        let description = at("when", Location::caller());
        let matcher =
            Matcher::first(description.clone(), move |message: &T| match matches(message) {
                true => Ok(()),
                false => Err(format!("the call had the request message {message:?}")),
            });
        self.with(matcher, &description)
    }

    /// Matches calls whose (first) request message equals `expected`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tonic::{Code, Request, Status};
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
    /// stub.on("/hello.HelloService/Hello").when_eq(hello("Ada")).reply(reply("hi Ada"));
    /// stub.on("/hello.HelloService/Hello").reply(reply("hi"));
    ///
    /// assert_eq!(client.hello(hello("Ada")).await.unwrap().into_inner().reply, "hi Ada");
    /// assert_eq!(client.hello(hello("Bob")).await.unwrap().into_inner().reply, "hi");
    /// # }
    /// ```
    #[track_caller]
    pub fn when_eq<T>(self, expected: T) -> Self
    where
        T: Message + Default + Debug + PartialEq + Send + Sync + 'static,
    {
        self.shape.takes::<T>(&format!("{}.when_eq(..)", self.written));
        let description = "when_eq(..)".to_owned();
        let matcher =
            Matcher::first(description.clone(), move |message: &T| match *message == expected {
                true => Ok(()),
                false => Err(format!("expected {expected:?}, the call had {message:?}")),
            });
        self.with(matcher, &description)
    }

    /// Matches calls whose request messages, all of them, decoded as `T`, make `matches` true:
    /// for client streams. The stub reads the whole request stream before it picks a rule for
    /// the method, so a bidi client that waits for an answer before it ends its stream must be
    /// matched with [`when`](Self::when) (its first message) instead.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tonic::{Code, Status};
    /// # use tonic_testkit::{Reply, Stub, TestServer, assert_status};
    /// # use tonic_testkit_examples::rides::pb::{TrackRequest, TrackResponse};
    /// # use tonic_testkit_examples::rides::pb::rides_client::RidesClient;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let stub = Stub::new();
    /// stub.on("/rides.Rides/Track")
    ///     .when_all(|events: &[TrackRequest]| events.iter().all(|event| event.car_id == "car-1"))
    ///     .reply(Reply::message(TrackResponse { count: 2 }));
    /// stub.on("/rides.Rides/Track")
    ///     .reply(Reply::<TrackResponse>::status(Status::invalid_argument("mixed cars")));
    /// let server = TestServer::builder().add_stub(&stub).start().await;
    /// let mut client = server.client(RidesClient::new);
    /// let car = |id: &str| TrackRequest { car_id: id.into(), ..Default::default() };
    ///
    /// let one_car = client.track(tokio_stream::iter([car("car-1"), car("car-1")])).await;
    /// let two_cars = client.track(tokio_stream::iter([car("car-1"), car("car-2")])).await;
    ///
    /// assert_eq!(one_car.unwrap().into_inner().count, 2);
    /// assert_status!(two_cars, Code::InvalidArgument, "mixed cars");
    /// # }
    /// ```
    #[track_caller]
    pub fn when_all<T, F>(self, matches: F) -> Self
    where
        T: Message + Default + Debug + 'static,
        F: Fn(&[T]) -> bool + Send + Sync + 'static,
    {
        self.shape.takes::<T>(&format!("{}.when_all(..)", self.written));
        let description = at("when_all", Location::caller());
        let matcher = Matcher::all(description.clone(), matches);
        self.with(matcher, &description)
    }

    /// Matches calls whose metadata has `key` with `value` (for a `-bin` key, the bytes the
    /// client set).
    ///
    /// # Examples
    ///
    /// ```
    /// # use tonic::{Code, Request, Status};
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
    /// stub.on("/hello.HelloService/Hello").when_header("x-role", "admin").reply(reply("welcome"));
    /// stub.on("/hello.HelloService/Hello").reply(reply("hi"));
    /// let mut admin = Request::new(hello("Ada"));
    /// admin.metadata_mut().insert("x-role", "admin".parse().unwrap());
    ///
    /// assert_eq!(client.hello(admin).await.unwrap().into_inner().reply, "welcome");
    /// assert_eq!(client.hello(hello("Bob")).await.unwrap().into_inner().reply, "hi");
    /// # }
    /// ```
    pub fn when_header(self, key: &str, value: impl AsRef<[u8]>) -> Self {
        let value = value.as_ref().to_vec();
        let shown = String::from_utf8_lossy(&value).into_owned();
        let description = format!("when_header({key:?}, {shown:?})");
        let matcher = Matcher::header(description.clone(), key.to_owned(), Header::Equal(value));
        self.with(matcher, &description)
    }

    /// Matches calls whose metadata has `key`, with any value.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tonic::{Code, Request, Status};
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
    /// stub.on("/hello.HelloService/Hello").when_header_present("x-role").reply(reply("a role"));
    /// stub.on("/hello.HelloService/Hello").reply(reply("no role"));
    /// let mut admin = Request::new(hello("Ada"));
    /// admin.metadata_mut().insert("x-role", "admin".parse().unwrap());
    ///
    /// assert_eq!(client.hello(admin).await.unwrap().into_inner().reply, "a role");
    /// assert_eq!(client.hello(hello("Bob")).await.unwrap().into_inner().reply, "no role");
    /// # }
    /// ```
    pub fn when_header_present(self, key: &str) -> Self {
        let description = format!("when_header_present({key:?})");
        let matcher = Matcher::header(description.clone(), key.to_owned(), Header::Present);
        self.with(matcher, &description)
    }

    /// Matches calls whose metadata does not have `key`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tonic::{Code, Request, Status};
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
    /// let unauthenticated = Reply::<HelloResponse>::status(Status::unauthenticated("no token"));
    /// stub.on("/hello.HelloService/Hello")
    ///     .when_header_absent("authorization")
    ///     .reply(unauthenticated);
    /// stub.on("/hello.HelloService/Hello").reply(reply("hi"));
    /// let mut signed = Request::new(hello("Ada"));
    /// signed.metadata_mut().insert("authorization", "Bearer t".parse().unwrap());
    ///
    /// assert_status!(client.hello(hello("Bob")).await, Code::Unauthenticated, "no token");
    /// assert_eq!(client.hello(signed).await.unwrap().into_inner().reply, "hi");
    /// # }
    /// ```
    pub fn when_header_absent(self, key: &str) -> Self {
        let description = format!("when_header_absent({key:?})");
        let matcher = Matcher::header(description.clone(), key.to_owned(), Header::Absent);
        self.with(matcher, &description)
    }

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
    /// # use tonic::{Code, Request, Status};
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
    /// # use tonic::{Code, Request, Status};
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
    /// # use tonic::{Code, Request, Status};
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

    fn with(mut self, matcher: Matcher, description: &str) -> Self {
        self.written.push('.');
        self.written.push_str(description.split(" at ").next().unwrap_or(description));
        self.matchers.push(matcher);
        self
    }

    /// Answers each call with `reply` (after reading the request stream to its end).
    ///
    /// See [`Stub`] for an example.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tonic::{Code, Request, Status};
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
    /// stub.on("/hello.HelloService/Hello").reply(reply("hi"));
    ///
    /// let answer = client.hello(hello("Ada")).await;
    ///
    /// assert_eq!(answer.unwrap().into_inner().reply, "hi");
    /// # }
    /// ```
    #[track_caller]
    pub fn reply<T>(self, reply: Reply<T>) -> StubHandle
    where
        T: Message + Clone + Send + Sync + 'static,
    {
        self.shape.reply(&format!("{}.reply(..)", self.written), &reply);
        self.add("reply", scripted(move |_| reply.clone()))
    }

    /// Answers the first call with the first reply, the second with the second, and so on:
    /// `replies([fail, ok])`. The rule answers as many calls as there are replies, and expects
    /// as many unless [`expect`](Self::expect) says otherwise.
    ///
    /// # Panics
    ///
    /// When `replies` is empty, or [`times`](StubRule::times) was set to another count.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic::{Code, Status};
    /// use tonic_testkit::{Reply, Stub, TestServer, assert_status};
    /// use tonic_testkit_examples::hello::pb::{
    ///     HelloRequest, HelloResponse, hello_service_client::HelloServiceClient,
    /// };
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let stub = Stub::new();
    /// stub.on("/hello.HelloService/Hello").replies([
    ///     Reply::status(Status::unavailable("try again")),
    ///     Reply::message(HelloResponse { reply: "ok".into() }),
    /// ]);
    /// let server = TestServer::builder().add_stub(&stub).start().await;
    /// let mut client = server.client(HelloServiceClient::new);
    /// let ada = || HelloRequest { greeting: "Ada".into() };
    ///
    /// assert_status!(client.hello(ada()).await, Code::Unavailable);
    /// assert_eq!(client.hello(ada()).await.unwrap().into_inner().reply, "ok");
    /// # }
    /// ```
    #[track_caller]
    pub fn replies<T>(mut self, replies: impl IntoIterator<Item = Reply<T>>) -> StubHandle
    where
        T: Message + Clone + Send + Sync + 'static,
    {
        let replies: Vec<Reply<T>> = replies.into_iter().collect();
        for reply in &replies {
            self.shape.reply(&format!("{}.replies(..)", self.written), reply);
        }
        assert!(
            !replies.is_empty(),
            "StubRule::replies for {:?} got no replies; give one reply per expected call",
            self.method
        );
        if let Some(limit) = self.limit.filter(|limit| *limit != replies.len()) {
            panic!(
                "StubRule::replies for {:?} got {} replies after .times({limit}); the rule \
                 expects one call per reply: leave .times(..) out",
                self.method,
                replies.len()
            );
        }
        self.limit = Some(replies.len());
        self.expect = self.expect.or(Some(Times::from(replies.len())));
        self.add("replies", scripted(move |index| replies[index].clone()))
    }

    /// Answers each call with what `respond` makes of its request, for a method that takes one
    /// request message (unary or server-streaming).
    ///
    /// A call that sends no message or several fails the test, saying to use
    /// [`respond_with_all`](StubRule::respond_with_all).
    ///
    /// See [`Stub`] for an example.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tonic::{Code, Request, Status};
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
    /// stub.on("/hello.HelloService/Hello").respond_with(|request: Request<HelloRequest>| {
    ///     let greeting = request.into_inner().greeting;
    ///     Reply::message(HelloResponse { reply: format!("stubbed hello, {greeting}") })
    /// });
    ///
    /// let answer = client.hello(hello("Ada")).await;
    ///
    /// assert_eq!(answer.unwrap().into_inner().reply, "stubbed hello, Ada");
    /// # }
    /// ```
    #[track_caller]
    pub fn respond_with<Req, Res, F>(self, respond: F) -> StubHandle
    where
        Req: Message + Default + Send + 'static,
        Res: Message + Send + 'static,
        F: Fn(Request<Req>) -> Reply<Res> + Send + Sync + 'static,
    {
        let rule = format!("{}.respond_with(..)", self.written);
        self.shape.one_request(&rule);
        self.shape.takes::<Req>(&rule);
        self.shape.answers::<Res>(&rule);
        let method = self.method.clone();
        let respond = Arc::new(respond);
        let answer = streaming(move |_, request: Request<Streaming<Req>>| {
            let (respond, method) = (respond.clone(), method.clone());
            async move {
                let (metadata, extensions, mut messages) = read_all(request).await?;
                let count = messages.len();
                let message = messages.pop().filter(|_| count == 1).unwrap_or_else(|| {
                    panic!(
                        "stub.on({method:?}).respond_with(..) answers calls with one request \
                         message, and this call sent {count}; answer client streams with \
                         .respond_with_all(..)"
                    )
                });
                let reply = respond(Request::from_parts(metadata, extensions, message));
                answer_after_delay(reply).await
            }
        });
        self.add("respond_with", answer)
    }

    /// Answers each call with what `respond` makes of all its request messages, for
    /// client-streaming and bidi methods.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic::Request;
    /// use tonic_testkit::{Reply, Stub, TestServer};
    /// use tonic_testkit_examples::rides::pb::{TrackRequest, TrackResponse};
    /// use tonic_testkit_examples::rides::pb::rides_client::RidesClient;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let stub = Stub::new();
    /// stub.on("/rides.Rides/Track").respond_with_all(|request: Request<Vec<TrackRequest>>| {
    ///     Reply::message(TrackResponse { count: request.get_ref().len() as i64 })
    /// });
    /// let server = TestServer::builder().add_stub(&stub).start().await;
    /// let mut client = server.client(RidesClient::new);
    ///
    /// let events = tokio_stream::iter(vec![TrackRequest::default(); 3]);
    /// let reply = client.track(events).await.unwrap().into_inner();
    ///
    /// assert_eq!(reply.count, 3);
    /// # }
    /// ```
    #[track_caller]
    pub fn respond_with_all<Req, Res, F>(self, respond: F) -> StubHandle
    where
        Req: Message + Default + Send + 'static,
        Res: Message + Send + 'static,
        F: Fn(Request<Vec<Req>>) -> Reply<Res> + Send + Sync + 'static,
    {
        let rule = format!("{}.respond_with_all(..)", self.written);
        self.shape.takes::<Req>(&rule);
        self.shape.answers::<Res>(&rule);
        let respond = Arc::new(respond);
        let answer = streaming(move |_, request: Request<Streaming<Req>>| {
            let respond = respond.clone();
            async move {
                let (metadata, extensions, messages) = read_all(request).await?;
                answer_after_delay(respond(Request::from_parts(metadata, extensions, messages)))
                    .await
            }
        });
        self.add("respond_with_all", answer)
    }

    /// Answers each call with the stream `respond` makes of the live request stream: for bidi
    /// clients that wait for an answer before they send more.
    ///
    /// # Panics
    ///
    /// When the rule matches with [`when_all`](Self::when_all), which would wait for the end of
    /// a stream whose client waits for this answer first.
    ///
    /// # Examples
    ///
    /// ```
    /// use tokio_stream::StreamExt;
    /// use tonic::{Request, Streaming};
    /// use tonic_testkit::{Stub, TestServer, collect};
    /// use tonic_testkit_examples::orders::pb::{ChatMessage, orders_client::OrdersClient};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let stub = Stub::new();
    /// stub.on("/orders.Orders/Chat").respond_with_stream(|request: Request<Streaming<ChatMessage>>| {
    ///     request.into_inner().map(|message| {
    ///         Ok(ChatMessage { text: message?.text.to_uppercase(), ..Default::default() })
    ///     })
    /// });
    /// let server = TestServer::builder().add_stub(&stub).start().await;
    /// let mut client = server.client(OrdersClient::new);
    ///
    /// let messages = tokio_stream::iter([ChatMessage { text: "hi".into(), ..Default::default() }]);
    /// let outcome = collect(client.chat(messages).await.unwrap().into_inner()).await;
    ///
    /// assert_eq!(outcome.messages()[0].text, "HI");
    /// # }
    /// ```
    #[track_caller]
    pub fn respond_with_stream<Req, Res, F, S>(self, respond: F) -> StubHandle
    where
        Req: Message + Default + Send + 'static,
        Res: Message + Send + 'static,
        F: Fn(Request<Streaming<Req>>) -> S + Send + Sync + 'static,
        S: Stream<Item = Result<Res, Status>> + Send + 'static,
    {
        let rule = format!("{}.respond_with_stream(..)", self.written);
        self.shape.takes::<Req>(&rule);
        self.shape.answers::<Res>(&rule);
        let whole = self.matchers.iter().any(|matcher| matcher.need == super::matcher::Need::All);
        assert!(
            !whole,
            "stub.on({:?}).when_all(..).respond_with_stream(..): when_all reads the whole request \
             stream before the rule answers, and a live stream's client waits for answers before \
             it ends its stream; match its first message with .when(..) instead",
            self.method
        );
        let respond = Arc::new(respond);
        let answer = streaming(move |_, request: Request<Streaming<Req>>| {
            let stream: BoxStream<Res> = Box::pin(respond(request));
            std::future::ready(Ok(Response::new(stream)))
        });
        self.add("respond_with_stream", answer)
    }

    /// Adds the rule, answered by `answer`, to the stub.
    #[track_caller]
    fn add(self, kind: &str, answer: Arc<Answer>) -> StubHandle {
        if let (Some(limit), Some(expect)) = (self.limit, self.expect) {
            assert!(
                expect.min() <= limit,
                "{}: the rule answers at most {limit} calls and expects {expect}; raise \
                 .up_to(..) or lower .expect(..)",
                self.written
            );
        }
        let Self { stub, method, name, mut written, matchers, limit, expect, location, .. } = self;
        written.push_str(&format!(".{kind}(..)"));
        let id = stub.next_id();
        let rule =
            Rule { id, method, name, written, matchers, limit, expect, calls: 0, location, answer };
        stub.add(rule);
        StubHandle { stub: stub.clone(), id }
    }
}

impl fmt::Debug for StubRule<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StubRule")
            .field("rule", &self.written)
            .field("name", &self.name)
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// A rule added to a [`Stub`]: how many calls it answered, and a way to make it
/// [scoped](Self::scoped).
#[derive(Clone)]
pub struct StubHandle {
    stub: Stub,
    id: u64,
}

impl StubHandle {
    /// How many calls the rule answered; `0` once it was removed by [`Stub::reset`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use tonic::{Code, Request, Status};
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
