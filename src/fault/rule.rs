//! [`FaultRule`]: which calls a rule acts on (its conditions), and the rule it installs.

use std::{fmt, panic::Location};

use http::{HeaderMap, HeaderName};
use tonic::metadata::MetadataMap;

use super::{
    Action, Faults,
    rng::{Rng, mix},
};

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
    pub(super) faults: &'a Faults,
    pub(super) rule: Rule,
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
    pub(super) action: Option<Action>,
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
    /// # use tonic_testkit::{Faults, TestServer, assert_status};
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
    /// # use tonic_testkit::{Faults, TestServer};
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
    /// # use tonic_testkit::{Faults, TestServer};
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
    /// # use tonic_testkit::{Faults, TestServer};
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
