//! [`Stub`]: its rules, and what it does with a call.

use std::{
    collections::HashMap,
    fmt,
    future::Future,
    panic::Location,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use http::{Request as HttpRequest, Response as HttpResponse};
use tonic::body::Body;

use super::matcher::{Arrived, Matcher, Need};
use super::{StubRule, StubService, Times};
use crate::protocol::method::check_method_path;
use crate::sync::lock;

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Answers one call: the index of the call among those the rule answered, and the request.
pub(crate) type Answer =
    dyn Fn(usize, HttpRequest<Body>) -> BoxFuture<HttpResponse<Body>> + Send + Sync;

/// A fake server for methods of any service, answered by rules: scripted
/// [`Reply`](crate::Reply)s or closures, with no trait to implement.
///
/// Attach it with [`TestServerBuilder::add_stub`](crate::TestServerBuilder::add_stub); it then
/// answers every call that no service added with `add_service` takes. Each rule names a full
/// method path, and may match on what the call carries (its request message, its metadata,
/// which call it is: see [`StubRule`]); the first rule for the method that matches and is not
/// used up answers. How many calls a rule answers ([`up_to`](StubRule::up_to)) and expects
/// ([`expect`](StubRule::expect)) are said apart; [`times(n)`](StubRule::times) is both.
/// [`Stub::with_descriptors`] (feature `descriptors`) checks each rule against the service's
/// descriptors at the rule's line.
///
/// A stub is strict: a call that no rule answers gets `INTERNAL` with a message saying why, and
/// fails the test, as does a rule whose `times(n)` was not met. Both are checked by
/// [`TestServer::verify`](crate::TestServer::verify) at a line of the test's choosing, and at
/// shutdown; the message lists the calls the server saw.
///
/// A call that no rule answers fails the test with, for each rule of the method, the conditions
/// the call failed and what it carried instead, closest first.
///
/// A rule reads the whole request stream before it answers, so that its closure sees every
/// request message; for a bidi client that waits for answers before it ends its stream, use
/// [`respond_with_stream`](StubRule::respond_with_stream).
///
/// # Examples
///
/// ```
/// use tonic::{Code, Request, Status};
/// use tonic_testkit::{Reply, Stub, TestServer, assert_status};
/// use tonic_testkit_examples::hello::pb::{
///     HelloRequest, HelloResponse, hello_service_client::HelloServiceClient,
/// };
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let stub = Stub::new();
/// // The first call fails, the next ones echo the greeting.
/// let warming_up = Reply::<HelloResponse>::status(Status::unavailable("warming up"));
/// stub.on("/hello.HelloService/Hello").times(1).reply(warming_up);
/// stub.on("/hello.HelloService/Hello").respond_with(|request: Request<HelloRequest>| {
///     Reply::message(HelloResponse { reply: request.into_inner().greeting })
/// });
/// let server = TestServer::builder().add_stub(&stub).start().await;
/// let mut client = server.client(HelloServiceClient::new);
///
/// let first = client.hello(HelloRequest { greeting: "a".into() }).await;
/// let second = client.hello(HelloRequest { greeting: "b".into() }).await;
///
/// assert_status!(first, Code::Unavailable, "warming up");
/// assert_eq!(second.unwrap().into_inner().reply, "b");
/// server.verify().await;
/// # }
/// ```
#[derive(Clone, Default)]
pub struct Stub {
    inner: Arc<Inner>,
}

#[derive(Default)]
pub(crate) struct Inner {
    pub(super) rules: Mutex<Vec<Rule>>,
    pub(super) unexpected: Mutex<Vec<String>>,
    /// How many calls each method got, for [`StubRule::nth`].
    pub(super) calls: Mutex<HashMap<String, usize>>,
    pub(super) next_id: AtomicU64,
    /// What the stub knows of the services it stubs.
    #[cfg(feature = "descriptors")]
    pub(super) descriptors: Option<crate::protocol::descriptors::Descriptors>,
    /// The services of the server the stub is attached to; `None` until attached.
    pub(super) attached: Mutex<Option<Vec<&'static str>>>,
}

/// A rule with its answer: what it matches, how many calls it answers and expects.
pub(crate) struct Rule {
    pub(super) id: u64,
    pub(super) method: String,
    pub(super) name: Option<String>,
    /// The rule as the test wrote it, answer included, such as
    /// `stub.on("/hello.HelloService/Hello").when_header("x-tenant", "acme").reply(..)`.
    pub(super) written: String,
    pub(super) matchers: Vec<Matcher>,
    /// How many calls it answers at most; later ones go to the next rule.
    pub(super) limit: Option<usize>,
    pub(super) expect: Option<Times>,
    pub(super) calls: usize,
    pub(super) location: &'static Location<'static>,
    pub(super) answer: Arc<Answer>,
}

impl Rule {
    pub(super) fn used_up(&self) -> bool {
        self.limit.is_some_and(|limit| self.calls >= limit)
    }

    pub(super) fn describe(&self) -> String {
        let rule = format!("{} at {}", self.written, self.location);
        match &self.name {
            Some(name) => format!("rule {name:?} ({rule})"),
            None => rule,
        }
    }

    /// What is wrong with the calls the rule answered, if anything.
    pub(super) fn problem(&self) -> Option<String> {
        let expect = self.expect.filter(|expect| !expect.contains(self.calls))?;
        let answered = match self.calls {
            1 => "1 call".to_owned(),
            n => format!("{n} calls"),
        };
        Some(format!("{} expects {expect}, and answered {answered}", self.describe()))
    }
}

impl Stub {
    /// A stub with no rules.
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
    /// let hi = HelloResponse { reply: "hi".into() };
    /// stub.on("/hello.HelloService/Hello").reply(Reply::message(hi));
    /// let server = TestServer::builder().add_stub(&stub).start().await;
    /// let mut client = server.client(HelloServiceClient::new);
    ///
    /// let answer = client.hello(HelloRequest::default()).await;
    ///
    /// assert_eq!(answer.unwrap().into_inner().reply, "hi");
    /// # }
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// A stub that knows the services it stubs from `file_descriptor_set`, the encoded
    /// `FileDescriptorSet` the build already makes (the one
    /// [`reflection`](crate::TestServerBuilder::reflection) takes), and checks each rule against
    /// them at the rule's line: a method that does not exist (the panic lists those that do,
    /// closest first), a request matcher or a closure that reads another type than the
    /// method's input, a reply of another type than its output, a one-message reply for a
    /// streaming method and the reverse, and `respond_with` for a client stream.
    ///
    /// Message types are compared by name, the last part of the Rust type's path against the
    /// message's name (prost's generated types carry no descriptor); `()` is
    /// `google.protobuf.Empty`, as tonic maps it. Without descriptors, a stub checks none of
    /// this, and works the same otherwise.
    ///
    /// # Panics
    ///
    /// When `file_descriptor_set` is not an encoded `FileDescriptorSet`.
    ///
    /// # Examples
    ///
    /// ```should_panic
    /// use tonic_testkit::{Reply, Stub};
    /// use tonic_testkit_examples::FILE_DESCRIPTOR_SET;
    /// use tonic_testkit_examples::hello::pb::HelloRequest;
    ///
    /// let stub = Stub::with_descriptors(FILE_DESCRIPTOR_SET);
    ///
    /// // Panics: stub.on("/hello.HelloService/Hello").reply(..): it answers with HelloRequest
    /// // (tonic_testkit_examples::hello::pb::HelloRequest), and /hello.HelloService/Hello answers
    /// // hello.HelloResponse; answer with that message
    /// stub.on("/hello.HelloService/Hello").reply(Reply::message(HelloRequest::default()));
    /// ```
    #[cfg(feature = "descriptors")]
    #[cfg_attr(docsrs, doc(cfg(feature = "descriptors")))]
    #[track_caller]
    pub fn with_descriptors(file_descriptor_set: impl AsRef<[u8]>) -> Self {
        let descriptors = crate::protocol::descriptors::Descriptors::decode(
            file_descriptor_set.as_ref(),
            "Stub::with_descriptors",
        );
        Self { inner: Arc::new(Inner { descriptors: Some(descriptors), ..Inner::default() }) }
    }

    /// The descriptors the stub was made with.
    #[cfg(feature = "descriptors")]
    pub(crate) fn descriptors(&self) -> Option<crate::protocol::descriptors::Descriptors> {
        self.inner.descriptors.clone()
    }

    /// What the stub's descriptors say of `method`.
    ///
    /// # Panics
    ///
    /// When the stub has descriptors, and they have no such method.
    #[track_caller]
    pub(super) fn shape(&self, method: &str) -> super::typed::Shape {
        #[cfg(feature = "descriptors")]
        if let Some(descriptors) = &self.inner.descriptors {
            let Some(found) = descriptors.method(method) else {
                panic!(
                    "Stub::on({method:?}): the stub's descriptors have no such method; the \
                     methods they describe, closest first: {}",
                    descriptors.closest_to(method).join(", ")
                );
            };
            return super::typed::Shape { method: Some(found) };
        }
        let _ = method;
        super::typed::Shape::default()
    }

    /// Starts a rule for calls to `method`, a full path such as `"/orders.Orders/GetOrder"`.
    /// The rule takes effect when it is given its answer
    /// ([`reply`](StubRule::reply), [`respond_with`](StubRule::respond_with), ...), and can be
    /// added while the server runs.
    ///
    /// # Panics
    ///
    /// When `method` is not of the form `/package.Service/Method`, or when the stub serves a
    /// server that has a service of that name (which would take the call first).
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
    ///
    /// // Rules can be added while the server runs; the first that matches a call answers it.
    /// stub.on("/hello.HelloService/Hello")
    ///     .when_header("x-lang", "fr")
    ///     .reply(Reply::message(HelloResponse { reply: "bonjour".into() }));
    /// let hi = HelloResponse { reply: "hi".into() };
    /// stub.on("/hello.HelloService/Hello").reply(Reply::message(hi));
    ///
    /// assert_eq!(client.hello(HelloRequest::default()).await.unwrap().into_inner().reply, "hi");
    /// # }
    /// ```
    #[track_caller]
    pub fn on(&self, method: &str) -> StubRule<'_> {
        check_method_path(method, "Stub::on");
        if let Some(services) = &*lock(&self.inner.attached) {
            check_not_shadowed(method, services);
        }
        let shape = self.shape(method);
        StubRule::new(self, method, shape, Location::caller())
    }

    /// Removes every rule and forgets the calls the stub saw, unexpected ones included, so a
    /// test can script its next phase afresh. Expectations are not checked: call
    /// [`TestServer::verify`](crate::TestServer::verify) first to check them.
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
    /// let ok = Reply::message(HelloResponse::default());
    /// stub.on("/hello.HelloService/Hello").expect(1).reply(ok);
    /// let server = TestServer::builder().add_stub(&stub).start().await;
    /// let mut client = server.client(HelloServiceClient::new);
    ///
    /// client.hello(HelloRequest { greeting: "Ada".into() }).await.unwrap();
    /// server.verify().await; // phase one made its one call
    /// stub.reset();
    /// let phase_two = HelloResponse { reply: "phase two".into() };
    /// stub.on("/hello.HelloService/Hello").reply(Reply::message(phase_two));
    ///
    /// let reply = client.hello(HelloRequest { greeting: "Ada".into() }).await.unwrap();
    /// assert_eq!(reply.into_inner().reply, "phase two");
    /// # }
    /// ```
    pub fn reset(&self) {
        lock(&self.inner.rules).clear();
        lock(&self.inner.unexpected).clear();
        lock(&self.inner.calls).clear();
    }

    /// Refuses, when the test calls `start()` (so that the panic points at its line), a stub
    /// that cannot answer for a server with `services`: one already attached to another
    /// server, or with a rule that one of the services shadows.
    #[track_caller]
    pub(crate) fn check(&self, services: &[&'static str]) {
        check_not_attached(&lock(&self.inner.attached));
        for rule in lock(&self.inner.rules).iter() {
            check_not_shadowed(&rule.method, services);
        }
    }

    /// Attaches the [checked](Self::check) stub to a server with `services`.
    ///
    /// # Panics
    ///
    /// When another server was started with the stub since it was checked.
    pub(crate) fn attach(&self, services: &[&'static str]) {
        let mut attached = lock(&self.inner.attached);
        check_not_attached(&attached);
        *attached = Some(services.to_vec());
    }

    /// The tower service that answers the calls.
    pub(crate) fn service(&self) -> StubService {
        StubService(self.inner.clone())
    }

    /// Unexpected calls since the last look, then the rules whose expectation is not met.
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut problems = std::mem::take(&mut *lock(&self.inner.unexpected));
        problems.extend(lock(&self.inner.rules).iter().filter_map(Rule::problem));
        problems
    }

    pub(super) fn add(&self, rule: Rule) -> u64 {
        let id = rule.id;
        lock(&self.inner.rules).push(rule);
        id
    }

    pub(super) fn next_id(&self) -> u64 {
        self.inner.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// How many calls the rule `id` answered, if it is still there.
    pub(super) fn calls_of(&self, id: u64) -> Option<usize> {
        lock(&self.inner.rules).iter().find(|rule| rule.id == id).map(|rule| rule.calls)
    }

    /// Removes the rule `id`; returns what is wrong with the calls it answered.
    pub(super) fn remove(&self, id: u64) -> Option<String> {
        let mut rules = lock(&self.inner.rules);
        let index = rules.iter().position(|rule| rule.id == id)?;
        rules.remove(index).problem()
    }
}

impl Inner {
    /// Counts a call to `method`; returns which call it is, and how much of its request stream
    /// the method's rules read.
    pub(super) fn begin(&self, method: &str) -> (usize, Need) {
        let mut calls = lock(&self.calls);
        let nth = calls.entry(method.to_owned()).or_default();
        *nth += 1;
        let rules = lock(&self.rules);
        let for_method = rules.iter().filter(|rule| rule.method == method);
        let need = for_method.flat_map(|rule| &rule.matchers).map(|m| m.need).max();
        (*nth, need.unwrap_or(Need::Nothing))
    }

    /// The first rule for `method` that matches what arrived and is not used up, counted as
    /// answering the call; else why none answers, closest rules first.
    pub(super) fn pick(
        &self,
        method: &str,
        arrived: &Arrived,
    ) -> Result<(Arc<Answer>, usize), String> {
        let mut rules = lock(&self.rules);
        let mut for_method = rules.iter_mut().filter(|rule| rule.method == method).peekable();
        if for_method.peek().is_none() {
            return Err(format!(
                "the stub has no rule for this method: add one with stub.on({method:?})"
            ));
        }
        let (mut used_up, mut misses) = (Vec::new(), Vec::new());
        for rule in for_method {
            let failures: Vec<String> = rule
                .matchers
                .iter()
                .filter_map(|matcher| {
                    let got = matcher.check(arrived).err()?;
                    Some(format!("{} did not match: {got}", matcher.description))
                })
                .collect();
            match (failures.is_empty(), rule.used_up()) {
                (true, false) => {
                    rule.calls += 1;
                    return Ok((rule.answer.clone(), rule.calls - 1));
                }
                (true, true) => used_up.push(rule.describe()),
                (false, _) => misses.push((rule.describe(), failures)),
            }
        }
        if misses.is_empty() {
            return Err(format!(
                "its rules for this method are used up ({}); raise a `times(..)`, or add a rule \
                 for the later calls",
                used_up.join("; ")
            ));
        }
        // The closest first: the rules with the fewest conditions the call failed.
        misses.sort_by_key(|(_, failures)| failures.len());
        let mut text = "none of its rules for this method matches it (closest first):".to_owned();
        for (rule, failures) in misses {
            text.push_str(&format!("\n    - {rule}"));
            for failure in failures {
                text.push_str(&format!("\n        {failure}"));
            }
        }
        for rule in used_up {
            text.push_str(&format!("\n    - {rule}\n        matched, and is used up"));
        }
        Err(text)
    }
}

/// The message that fails a test whose stub's expectations were not met.
pub(crate) fn report(problems: &[String]) -> String {
    let mut report = format!(
        "tonic-testkit: the stub's expectations were not met ({}):\n",
        match problems.len() {
            1 => "1 problem".to_owned(),
            n => format!("{n} problems"),
        }
    );
    for problem in problems {
        report.push_str("  - ");
        report.push_str(problem);
        report.push('\n');
    }
    report.push_str(
        "Give the stub a rule for each call the code under test makes, matching what it sends, \
         with the calls it expects; if the code should not make a call, fix the code.",
    );
    report
}

#[track_caller]
fn check_not_attached(attached: &Option<Vec<&'static str>>) {
    assert!(
        attached.is_none(),
        "this Stub already answers another TestServer; a Stub serves one server (its call counts \
         are that server's): make a Stub per server"
    );
}

/// Panics if a service of the server takes `method` before the stub can.
#[track_caller]
fn check_not_shadowed(method: &str, services: &[&'static str]) {
    let service = method[1..].split('/').next().unwrap_or_default();
    assert!(
        !services.contains(&service),
        "Stub::on({method:?}): the server also has the service {service} (added with \
         add_service), which takes every call to it, so this rule would never answer; stub the \
         method in that service's implementation, or leave the service out of the server"
    );
}

impl fmt::Debug for Stub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rules: Vec<String> = lock(&self.inner.rules).iter().map(Rule::describe).collect();
        f.debug_struct("Stub").field("rules", &rules).finish_non_exhaustive()
    }
}
