//! [`StubRule`]: a rule as a test writes it, and its conditions on what a call carries. How
//! many calls it answers and expects is in `count`, its answers in `answer`.

use std::{fmt, fmt::Debug, panic::Location};

use prost::Message;

use super::{
    Stub, Times,
    matcher::{Header, Matcher, at},
    typed::Shape,
};

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
    pub(super) stub: &'a Stub,
    pub(super) method: String,
    pub(super) name: Option<String>,
    /// The rule as written so far: `stub.on("/m").when_header(..)`.
    pub(super) written: String,
    pub(super) matchers: Vec<Matcher>,
    pub(super) limit: Option<usize>,
    pub(super) expect: Option<Times>,
    pub(super) location: &'static Location<'static>,
    /// What the stub's descriptors say of the method.
    pub(super) shape: Shape,
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
    /// # use tonic_testkit::{Reply, Stub, TestServer};
    /// # use tonic_testkit_examples::hello::pb::HelloResponse;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let stub = Stub::new();
    /// let server = TestServer::builder().add_stub(&stub).start().await;
    /// let reply = |text: &str| Reply::message(HelloResponse { reply: text.into() });
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
    /// # use tonic::Request;
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
    /// # use tonic::Request;
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

    pub(super) fn with(mut self, matcher: Matcher, description: &str) -> Self {
        self.written.push('.');
        self.written.push_str(description.split(" at ").next().unwrap_or(description));
        self.matchers.push(matcher);
        self
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
