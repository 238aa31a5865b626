//! Fault rules: which calls a rule acts on, and what it does.

use std::{fmt, panic::Location, time::Duration};

use http::{HeaderMap, HeaderName};
use tonic::{Code, Status, metadata::MetadataMap};

use super::{Action, Failure, Faults};

/// SplitMix64's output function: a well-mixed 64-bit value from any input.
pub(crate) fn mix(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A seeded generator of uniform values in `[0, 1)`.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        (mix(self.0) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Which calls a rule looks at.
#[derive(Clone, Debug)]
pub(crate) enum Matcher {
    Method(String),
    Service(String),
    Any,
}

impl Matcher {
    fn matches(&self, method: &str) -> bool {
        match self {
            Self::Method(path) => path == method,
            Self::Service(service) => {
                method.strip_prefix('/').and_then(|rest| rest.split_once('/')).map(|(s, _)| s)
                    == Some(service.as_str())
            }
            Self::Any => true,
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Method(method) => write!(f, "faults.on({method:?})"),
            Self::Service(service) => write!(f, "faults.on_service({service:?})"),
            Self::Any => f.write_str("faults.on_any()"),
        }
    }
}

/// One rule of a [`Faults`] handle, being written: where ([`Faults::on`] and its siblings),
/// when (the conditions below, all of which must hold), then what (the action that ends the
/// chain and puts the rule in force).
///
/// The count of a rule is of the calls it *matches* (method and header): `.nth(3)` acts on the
/// third matching call. [`times`](FaultRule::times) caps how many calls the rule acts on.
#[must_use = "a fault rule takes effect when it is given its action: .fail(..), .delay(..), \
              .cut_after(..), .hang(), ..."]
pub struct FaultRule<'a> {
    faults: &'a Faults,
    rule: Rule,
}

#[derive(Clone, Debug)]
pub(crate) struct Rule {
    matcher: Matcher,
    header: Option<(String, String)>,
    nth: Option<u64>,
    every: Option<u64>,
    times: Option<u64>,
    probability: Option<f64>,
    rng: Rng,
    location: &'static Location<'static>,
    action: Option<Action>,
    matched: u64,
    fired: u64,
}

impl<'a> FaultRule<'a> {
    pub(crate) fn new(
        faults: &'a Faults,
        matcher: Matcher,
        location: &'static Location<'static>,
    ) -> Self {
        // Numbered when begun, not when installed: two rules begun before either is installed
        // draw from different streams.
        let index = faults.begin_rule();
        let rule = Rule {
            matcher,
            header: None,
            nth: None,
            every: None,
            times: None,
            probability: None,
            rng: Rng::new(mix(faults.seed() ^ mix(index))),
            location,
            action: None,
            matched: 0,
            fired: 0,
        };
        Self { faults, rule }
    }

    /// Only calls whose request carries the header `key: value` (so one test can target one
    /// call). The key is case-insensitive. On a binary key (one ending in `-bin`), `value` is
    /// compared with the bytes the client set, as the call journal shows them
    /// ([`MetadataMap::get_bin`](tonic::metadata::MetadataMap::get_bin)), not with the base64
    /// text on the wire: `when_header("x-id-bin", "abc")` matches a request given
    /// `insert_bin("x-id-bin", MetadataValue::from_bytes(b"abc"))`, its base64 padded or not.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tonic::Code;
    /// # use tonic_testkit::{Faults, TestServer, Transport, assert_status};
    /// # use tonic_testkit_examples::hello::Greeter;
    /// # use tonic_testkit_examples::hello::pb::{
    /// #     HelloRequest, hello_service_client::HelloServiceClient,
    /// #     hello_service_server::HelloServiceServer,
    /// # };
    /// # use tonic::Request;
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
    /// faults
    ///     .on("/hello.HelloService/Hello")
    ///     .when_header("x-tenant", "acme")
    ///     .fail(Code::Unavailable, "acme is down");
    ///
    /// let mut acme = Request::new(ada());
    /// acme.metadata_mut().insert("x-tenant", "acme".parse().unwrap());
    /// let for_acme = client.hello(acme).await;
    /// let for_others = client.hello(ada()).await;
    ///
    /// assert_status!(for_acme, Code::Unavailable, "acme is down");
    /// assert!(for_others.is_ok());
    /// # }
    /// ```
    pub fn when_header(mut self, key: &str, value: &str) -> Self {
        self.rule.header = Some((key.to_ascii_lowercase(), value.to_owned()));
        self
    }

    /// Only the n-th matching call (the first is 1).
    ///
    /// # Panics
    ///
    /// When `n` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tonic::Code;
    /// # use tonic_testkit::{Faults, TestServer, Transport, assert_status};
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
    /// faults.on("/hello.HelloService/Hello").nth(2).fail(Code::Unavailable, "the second call");
    ///
    /// let mut answered = Vec::new();
    /// for _ in 0..3 {
    ///     answered.push(client.hello(ada()).await.is_ok());
    /// }
    ///
    /// assert_eq!(answered, [true, false, true]);
    /// # }
    /// ```
    #[track_caller]
    pub fn nth(mut self, n: u64) -> Self {
        assert!(n > 0, "FaultRule::nth(0): calls are counted from 1; the first call is nth(1)");
        self.rule.nth = Some(n);
        self
    }

    /// Only every k-th matching call: the k-th, the 2k-th, ...
    ///
    /// # Panics
    ///
    /// When `k` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tonic::Code;
    /// # use tonic_testkit::{Faults, TestServer, Transport, assert_status};
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
    /// faults.on("/hello.HelloService/Hello").every(2).fail(Code::Unavailable, "every other call");
    ///
    /// let mut answered = Vec::new();
    /// for _ in 0..4 {
    ///     answered.push(client.hello(ada()).await.is_ok());
    /// }
    ///
    /// assert_eq!(answered, [true, false, true, false]);
    /// # }
    /// ```
    #[track_caller]
    pub fn every(mut self, k: u64) -> Self {
        assert!(k > 0, "FaultRule::every(0): use every(1) for every call, or leave it out");
        self.rule.every = Some(k);
        self
    }

    /// Acts on at most `n` calls (the first n it would act on), then stands aside.
    ///
    /// # Panics
    ///
    /// When `n` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tonic::Code;
    /// # use tonic_testkit::{Faults, TestServer, Transport, assert_status};
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
    /// faults.on("/hello.HelloService/Hello").times(2).fail(Code::Unavailable, "warming up");
    ///
    /// let mut answered = Vec::new();
    /// for _ in 0..3 {
    ///     answered.push(client.hello(ada()).await.is_ok());
    /// }
    ///
    /// assert_eq!(answered, [false, false, true]);
    /// # }
    /// ```
    #[track_caller]
    pub fn times(mut self, n: u64) -> Self {
        assert!(n > 0, "FaultRule::times(0) would never act: leave the rule out");
        self.rule.times = Some(n);
        self
    }

    /// Acts on each matching call with probability `p`, drawn from the handle's seeded
    /// generator ([`Faults::with_seed`]); the seed is printed with every firing.
    ///
    /// # Panics
    ///
    /// When `p` is not within `0.0..=1.0`.
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
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let faults = Faults::with_seed(7); // the same draws on every run
    /// let server = TestServer::builder()
    ///     .add_service(HelloServiceServer::new(Greeter))
    ///     .faults(&faults)
    ///     .start()
    ///     .await;
    /// let mut client = server.client(HelloServiceClient::new);
    /// faults.on("/hello.HelloService/Hello").probability(0.5).fail(Code::Unavailable, "flaky");
    ///
    /// let mut failed = Vec::new();
    /// for call in 1..=8 {
    ///     if client.hello(HelloRequest { greeting: "Ada".into() }).await.is_err() {
    ///         failed.push(call);
    ///     }
    /// }
    ///
    /// assert_eq!(failed, [3, 5, 6, 7]);
    /// # }
    /// ```
    #[track_caller]
    pub fn probability(mut self, p: f64) -> Self {
        assert!(
            (0.0..=1.0).contains(&p),
            "FaultRule::probability({p}): a probability is between 0.0 and 1.0"
        );
        self.rule.probability = Some(p);
        self
    }

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
    /// # use tonic_testkit::{Faults, TestServer, Transport, assert_status};
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
    /// # use tonic_testkit::{Faults, TestServer, Transport, assert_status};
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
    /// # use tonic::Code;
    /// # use tonic_testkit::{Faults, TestServer, Transport, assert_status};
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
    /// # use std::time::Duration;
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
    /// # use tonic_testkit::{Faults, TestServer, Transport, assert_status};
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
    /// # use tonic_testkit::{Faults, TestServer, Transport, assert_status};
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

impl fmt::Debug for FaultRule<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultRule").field("rule", &self.rule).finish_non_exhaustive()
    }
}

impl Rule {
    /// Counts a call to `method` and returns the action if the rule acts on it.
    pub(crate) fn fire(&mut self, method: &str, headers: &HeaderMap) -> Option<Action> {
        if !self.matcher.matches(method) {
            return None;
        }
        if let Some((key, value)) = &self.header
            && !carries(headers, key, value)
        {
            return None;
        }
        self.matched += 1;
        let n = self.matched;
        if self.nth.is_some_and(|nth| n != nth) || self.every.is_some_and(|k| !n.is_multiple_of(k))
        {
            return None;
        }
        if let Some(p) = self.probability
            && self.rng.next_f64() >= p
        {
            return None;
        }
        if self.times.is_some_and(|times| self.fired >= times) {
            return None;
        }
        self.fired += 1;
        self.action.clone()
    }

    pub(crate) fn describe(&self, seed: u64) -> String {
        let mut text = self.matcher.to_string();
        if let Some((key, value)) = &self.header {
            text.push_str(&format!(".when_header({key:?}, {value:?})"));
        }
        for (name, value) in [("nth", self.nth), ("every", self.every), ("times", self.times)] {
            if let Some(value) = value {
                text.push_str(&format!(".{name}({value})"));
            }
        }
        if let Some(p) = self.probability {
            text.push_str(&format!(".probability({p})"));
        }
        match &self.action {
            Some(Action::Fail(status)) => {
                text.push_str(&format!(".fail({:?}, {:?})", status.code(), status.message()));
            }
            Some(Action::Delay(delay)) => text.push_str(&format!(".delay({delay:?})")),
            Some(Action::DelayMessages(delay)) => {
                text.push_str(&format!(".delay_messages({delay:?})"));
            }
            Some(Action::Cut(after, status)) => text.push_str(&format!(
                ".cut_after({after}, {:?} {:?})",
                status.code(),
                status.message()
            )),
            Some(Action::Reset(after, reason)) => {
                text.push_str(&format!(".reset_stream_after({after}, {reason:?})"));
            }
            Some(Action::Hang) => text.push_str(".hang()"),
            Some(Action::DropConnection) => text.push_str(".drop_connection()"),
            None => {}
        }
        text.push_str(&format!(" at {}", self.location));
        if self.probability.is_some() {
            text.push_str(&format!(" (seed {seed}: replay with Faults::with_seed({seed}))"));
        }
        text
    }
}

/// Whether `headers` carry `key: value`; on a `-bin` key, `value` is compared with the
/// decoded bytes, base64 padded or not as tonic reads it (a value that is not base64 matches
/// nothing).
fn carries(headers: &HeaderMap, key: &str, value: &str) -> bool {
    let Some(found) = headers.get(key) else {
        return false;
    };
    if !key.ends_with("-bin") {
        return found.as_bytes() == value.as_bytes();
    }
    let Ok(name) = HeaderName::from_bytes(key.as_bytes()) else {
        return false;
    };
    let mut one = HeaderMap::with_capacity(1);
    one.insert(name, found.clone());
    let metadata = MetadataMap::from_headers(one);
    let decoded = metadata.get_bin(key).and_then(|found| found.to_bytes().ok());
    decoded.is_some_and(|bytes| bytes == value.as_bytes())
}

/// One time a rule acted on a call: the call's method and the rule, written as the test wrote
/// it, with the line it was written on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fired {
    method: String,
    rule: String,
}

impl Fired {
    pub(crate) fn new(method: &str, rule: &str) -> Self {
        Self { method: method.to_owned(), rule: rule.to_owned() }
    }

    /// The full method path of the call.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The rule, as in `faults.on("/hello.HelloService/Hello").times(2).fail(Unavailable, "down") at
    /// tests/faults.rs:12:5`.
    pub fn rule(&self) -> &str {
        &self.rule
    }
}

impl fmt::Display for Fired {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.method, self.rule)
    }
}
