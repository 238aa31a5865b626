//! [`Faults`]: the handle a test declares its faults on, and the rules it holds.

use std::{
    fmt,
    panic::Location,
    sync::{
        Arc, Mutex, Weak,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
};

use http::HeaderMap;

use super::{
    Deadline, FaultChannel, FaultRule, Fired, Plan, Server, Toxics,
    rng::mix,
    rule::{Matcher, Rule},
};
use crate::sync::lock;

/// Injected faults for a test: which calls fail how, and what happens to the bytes of each
/// connection.
///
/// A `Faults` is a cloneable handle. Attach it to a server with
/// [`TestServerBuilder::faults`](crate::TestServerBuilder::faults), or wrap any client channel
/// with [`wrap`](Faults::wrap) to test client code against a server the kit did not start. Rules
/// and toxics can be added and [cleared](Faults::clear) while the server runs; the next call or
/// the next bytes see the change.
///
/// **Which calls** ([`on`](Faults::on), [`on_service`](Faults::on_service),
/// [`on_any`](Faults::on_any), then [`FaultRule`]'s conditions): a method, a service or any
/// call; only with a request header; the n-th call, the first n, every k-th; with a probability
/// drawn from a generator seeded by [`with_seed`](Faults::with_seed) (or a random seed that every
/// report prints). **What happens**: fail with a status (the handler is not called), delay,
/// delay between response messages, cut the response stream, hang, drop the connection. All
/// matching rules act on a call, in the order they were added. **Connections**:
/// [`connections`](Faults::connections) sets latency, bandwidth, resets and black holes on the
/// bytes of memory and TCP connections. **Server down**: [`take_down`](Faults::take_down).
///
/// Every wait goes through `tokio::time`: under `#[tokio::test(start_paused = true)]` a test of a
/// 30-second backoff takes no real time and gives the same result every run. Each call a rule
/// fired on shows it in the call journal ([`Call::faults`](crate::journal::Call::faults)) and in
/// [`fired`](Faults::fired).
///
/// Over [`Transport::Direct`](crate::Transport::Direct) there is no connection: dropping
/// connections and connection toxics do not apply there, and asking for them panics saying so.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use tonic::Code;
/// use tonic_testkit::{Faults, TestServer, assert_status};
/// use tonic_testkit_examples::hello::Greeter;
/// use tonic_testkit_examples::hello::pb::{
///     HelloRequest, hello_service_client::HelloServiceClient,
///     hello_service_server::HelloServiceServer,
/// };
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let faults = Faults::new();
/// let server = TestServer::builder()
///     .add_service(HelloServiceServer::new(Greeter))
///     .faults(&faults)
///     .start()
///     .await;
/// let mut client = server.client(HelloServiceClient::new);
/// faults.on("/hello.HelloService/Hello").times(2).fail(Code::Unavailable, "try again");
/// faults.on_service("hello.HelloService").delay(Duration::from_millis(200));
/// let ada = || HelloRequest { greeting: "Ada".into() };
///
/// let started = tokio::time::Instant::now();
/// assert_status!(client.hello(ada()).await, Code::Unavailable, "try again");
/// assert_status!(client.hello(ada()).await, Code::Unavailable, "try again");
/// client.hello(ada()).await.unwrap();
///
/// assert_eq!(started.elapsed(), Duration::from_millis(600)); // on the paused clock
/// assert_eq!(server.calls()[0].faults().len(), 2); // the failure and the delay
/// # }
/// ```
#[derive(Clone)]
pub struct Faults {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) seed: u64,
    /// How many rules there are, read without the lock so that a call with no rules pays
    /// nothing more.
    rule_count: AtomicUsize,
    rules: Mutex<Vec<Rule>>,
    /// How many rules were begun ([`on`](Faults::on) and its siblings): each rule's generator
    /// is seeded with its number, so that rules draw independently however they are installed.
    begun: AtomicU64,
    fired: Mutex<Vec<Fired>>,
    pub(super) toxics: Toxics,
    pub(super) down: Mutex<Option<Deadline>>,
    pub(super) any_down: AtomicBool,
    /// The servers the handle is attached to: whether each is a
    /// [`Transport::Direct`](crate::Transport::Direct) one, and the server.
    pub(super) servers: Mutex<Vec<(bool, Weak<dyn Server>)>>,
    pub(super) connections: AtomicU64,
}

impl Default for Faults {
    fn default() -> Self {
        Self::new()
    }
}

impl Faults {
    /// A handle with no rules and a random seed (printed wherever a probability rule fires).
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
    ///
    /// // No rules yet: calls go through.
    /// assert!(client.hello(ada()).await.is_ok());
    /// # }
    /// ```
    pub fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos() as u64);
        let unique = Arc::new(0u8);
        Self::with_seed(mix(nanos ^ (Arc::as_ptr(&unique) as u64)))
    }

    /// A handle whose probability rules and jitter draw from a generator seeded with `seed`:
    /// the same calls in the same order meet the same faults on every run. Each rule draws
    /// from a stream of its own, chosen by the order the rules were begun in
    /// ([`on`](Faults::on) and its siblings), so two rules with the same probability act on
    /// different calls.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic::Code;
    /// use tonic_testkit::{Faults, TestServer};
    /// use tonic_testkit_examples::hello::Greeter;
    /// use tonic_testkit_examples::hello::pb::{
    ///     HelloRequest, hello_service_client::HelloServiceClient,
    ///     hello_service_server::HelloServiceServer,
    /// };
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let faults = Faults::with_seed(7);
    /// faults.on_any().probability(0.5).fail(Code::Unavailable, "flaky");
    /// let server = TestServer::builder()
    ///     .add_service(HelloServiceServer::new(Greeter))
    ///     .faults(&faults)
    ///     .start()
    ///     .await;
    /// let mut client = server.client(HelloServiceClient::new);
    ///
    /// let mut failed = Vec::new();
    /// for call in 1..=8 {
    ///     if client.hello(HelloRequest { greeting: "Ada".into() }).await.is_err() {
    ///         failed.push(call);
    ///     }
    /// }
    ///
    /// assert_eq!(failed, [3, 5, 6, 7]); // the same on every run with seed 7
    /// # }
    /// ```
    pub fn with_seed(seed: u64) -> Self {
        Self {
            inner: Arc::new(Inner {
                seed,
                rule_count: AtomicUsize::new(0),
                rules: Mutex::new(Vec::new()),
                begun: AtomicU64::new(0),
                fired: Mutex::new(Vec::new()),
                toxics: Toxics::default(),
                down: Mutex::new(None),
                any_down: AtomicBool::new(false),
                servers: Mutex::new(Vec::new()),
                connections: AtomicU64::new(0),
            }),
        }
    }

    /// The seed of the generator behind probability rules and jitter.
    pub fn seed(&self) -> u64 {
        self.inner.seed
    }

    /// Starts a rule for calls to `method`, a full path such as
    /// `"/orders.Orders/RegisterOrder"`.
    ///
    /// # Panics
    ///
    /// When `method` is not of the form `/package.Service/Method`; the message shows the form.
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
    /// faults.on("/hello.HelloService/Hello").fail(Code::Unavailable, "down");
    ///
    /// assert_status!(client.hello(ada()).await, Code::Unavailable, "down");
    /// # }
    /// ```
    #[track_caller]
    pub fn on(&self, method: &str) -> FaultRule<'_> {
        crate::protocol::method::check_method_path(method, "Faults::on");
        FaultRule::new(self, Matcher::Method(method.to_owned()), Location::caller())
    }

    /// Starts a rule for every method of `service`, a full name such as `"orders.Orders"`.
    ///
    /// # Panics
    ///
    /// When `service` is not of the form `package.Service` (no slashes).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use tonic_testkit::{Faults, TestServer};
    /// # use tonic_testkit_examples::hello::Greeter;
    /// # use tonic_testkit_examples::hello::pb::{
    /// #     HelloRequest, hello_service_client::HelloServiceClient,
    /// #     hello_service_server::HelloServiceServer,
    /// # };
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
    /// faults.on_service("hello.HelloService").delay(Duration::from_millis(100));
    ///
    /// let started = tokio::time::Instant::now();
    /// client.hello(ada()).await.unwrap();
    ///
    /// assert_eq!(started.elapsed(), Duration::from_millis(100));
    /// # }
    /// ```
    #[track_caller]
    pub fn on_service(&self, service: &str) -> FaultRule<'_> {
        let valid = !service.is_empty()
            && !service.contains('/')
            && !service.starts_with('.')
            && !service.ends_with('.');
        assert!(
            valid,
            "Faults::on_service: {service:?} is not a service name: use its full name \
             \"package.Service\", as in \"orders.Orders\" (no slashes; for one method use \
             Faults::on(\"/orders.Orders/RegisterOrder\"))"
        );
        FaultRule::new(self, Matcher::Service(service.to_owned()), Location::caller())
    }

    /// Starts a rule for every call.
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
    /// faults.on_any().nth(1).fail(Code::Unavailable, "the first call, whatever its method");
    ///
    /// assert_status!(client.hello(ada()).await, Code::Unavailable);
    /// assert!(client.hello(ada()).await.is_ok());
    /// # }
    /// ```
    #[track_caller]
    pub fn on_any(&self) -> FaultRule<'_> {
        FaultRule::new(self, Matcher::Any, Location::caller())
    }

    /// Removes every rule and toxic and brings a [taken down](Faults::take_down) server back;
    /// what already happened stays in [`fired`](Faults::fired).
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
    /// faults.on_any().fail(Code::Unavailable, "down");
    /// assert!(client.hello(ada()).await.is_err());
    ///
    /// faults.clear();
    ///
    /// assert!(client.hello(ada()).await.is_ok());
    /// assert_eq!(faults.fired().len(), 1); // what happened before stays
    /// # }
    /// ```
    pub fn clear(&self) {
        lock(&self.inner.rules).clear();
        self.inner.rule_count.store(0, Ordering::Release);
        self.inner.toxics.clear();
        *lock(&self.inner.down) = None;
        self.inner.any_down.store(false, Ordering::Release);
    }

    /// Every time a rule acted on a call, in order.
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
    /// faults.on("/hello.HelloService/Hello").times(1).fail(Code::Unavailable, "down");
    /// client.hello(ada()).await.unwrap_err();
    /// client.hello(ada()).await.unwrap();
    ///
    /// let fired = faults.fired();
    ///
    /// assert_eq!(fired.len(), 1);
    /// assert_eq!(fired[0].method(), "/hello.HelloService/Hello");
    /// assert!(fired[0].rule().contains(".times(1).fail(Unavailable, \"down\") at "));
    /// # }
    /// ```
    pub fn fired(&self) -> Vec<Fired> {
        lock(&self.inner.fired).clone()
    }

    /// Wraps a client channel (any `tonic::client::GrpcService`, such as a
    /// `tonic::transport::Channel` to a server the kit did not start) so that calls through it
    /// meet this handle's rules, on the client side.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic::Code;
    /// use tonic_testkit::{Faults, TestServer, assert_status};
    /// use tonic_testkit_examples::hello::Greeter;
    /// use tonic_testkit_examples::hello::pb::{
    ///     HelloRequest, hello_service_client::HelloServiceClient,
    ///     hello_service_server::HelloServiceServer,
    /// };
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// // Any channel will do; here, one to a server started without faults.
    /// let server =
    ///     TestServer::builder().add_service(HelloServiceServer::new(Greeter)).start().await;
    /// let faults = Faults::new();
    /// faults.on("/hello.HelloService/Hello").nth(2).fail(Code::DataLoss, "lost");
    /// let mut client = HelloServiceClient::new(faults.wrap(server.channel()));
    ///
    /// client.hello(HelloRequest { greeting: "Ada".into() }).await.unwrap();
    /// let second = client.hello(HelloRequest { greeting: "Ada".into() }).await;
    ///
    /// assert_status!(second, Code::DataLoss, "lost");
    /// assert_eq!(server.calls().len(), 1); // the failed call never left the client
    /// # }
    /// ```
    pub fn wrap<S>(&self, channel: S) -> FaultChannel<S> {
        FaultChannel::new(self.clone(), channel)
    }

    /// What the rules do to a call to `method` with `headers`; `None` when no rule acts.
    pub(crate) fn plan(&self, method: &str, headers: &HeaderMap) -> Option<Plan> {
        if self.inner.rule_count.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut rules = lock(&self.inner.rules);
        let mut plan: Option<Plan> = None;
        for rule in rules.iter_mut() {
            if let Some(action) = rule.fire(method, headers) {
                let description = rule.describe(self.inner.seed);
                lock(&self.inner.fired).push(Fired::new(method, &description));
                plan.get_or_insert_with(Plan::default).add(action, description);
            }
        }
        plan
    }

    /// The number of the next rule begun, which chooses its generator's stream.
    pub(super) fn begin_rule(&self) -> u64 {
        self.inner.begun.fetch_add(1, Ordering::Relaxed)
    }

    pub(super) fn add(&self, rule: Rule) {
        let mut rules = lock(&self.inner.rules);
        rules.push(rule);
        self.inner.rule_count.store(rules.len(), Ordering::Release);
    }
}

impl fmt::Debug for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rules: Vec<String> =
            lock(&self.inner.rules).iter().map(|rule| rule.describe(self.inner.seed)).collect();
        f.debug_struct("Faults")
            .field("seed", &self.inner.seed)
            .field("rules", &rules)
            .field("toxics", &self.inner.toxics)
            .finish_non_exhaustive()
    }
}
