//! Stub: methods answered by scripted replies and closures, with no trait impl.

use std::{
    convert::Infallible,
    fmt,
    future::Future,
    panic::Location,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
};

use http::{Request as HttpRequest, Response as HttpResponse};
use prost::Message;
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming, body::Body};
use tonic_prost::ProstCodec;
use tower::Service;

use crate::method::check_method_path;
use crate::reply::{BoxStream, Reply};
use crate::shared::lock;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Answers one call: the index of the call among those the rule answered, and the request.
type Answer = dyn Fn(usize, HttpRequest<Body>) -> BoxFuture<HttpResponse<Body>> + Send + Sync;

/// A fake server for methods of any service, answered by rules: scripted [`Reply`]s or
/// closures, with no trait to implement.
///
/// Attach it with [`TestServerBuilder::add_stub`](crate::TestServerBuilder::add_stub); it then
/// answers every call that no service added with `add_service` takes. Each rule names a full
/// method path; the first rule for the method that is not used up answers. A rule with
/// [`times(n)`](StubRule::times) answers n calls and expects exactly n.
///
/// A stub is strict: a call that no rule answers gets `INTERNAL` with a message saying why, and
/// fails the test, as does a rule whose `times(n)` was not met. Both are checked by
/// [`TestServer::verify`](crate::TestServer::verify) at a line of the test's choosing, and at
/// shutdown; the message lists the calls the server saw.
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
/// use tonic_testkit_support::{ProbeClient, ProbeReply, ProbeRequest};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let stub = Stub::new();
/// // The first call fails, the next ones echo the request.
/// stub.on("/probe.Probe/Unary").times(1).reply(Reply::<ProbeReply>::status(Status::unavailable("warming up")));
/// stub.on("/probe.Probe/Unary").respond_with(|request: Request<ProbeRequest>| {
///     Reply::message(ProbeReply { text: request.into_inner().text, index: 0 })
/// });
/// let server = TestServer::builder().add_stub(&stub).start().await;
/// let mut client = server.client(ProbeClient::new);
///
/// let first = client.unary(ProbeRequest { text: "a".into(), count: 0 }).await;
/// let second = client.unary(ProbeRequest { text: "b".into(), count: 0 }).await;
///
/// assert_status!(first, Code::Unavailable, "warming up");
/// assert_eq!(second.unwrap().into_inner().text, "b");
/// server.verify().await;
/// # }
/// ```
#[derive(Clone, Default)]
pub struct Stub {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    rules: Mutex<Vec<Rule>>,
    unexpected: Mutex<Vec<String>>,
    /// The services of the server the stub is attached to; `None` until attached.
    attached: Mutex<Option<Vec<&'static str>>>,
}

struct Rule {
    method: String,
    kind: &'static str,
    times: Option<usize>,
    calls: usize,
    location: &'static Location<'static>,
    answer: Arc<Answer>,
}

impl Rule {
    fn used_up(&self) -> bool {
        self.times.is_some_and(|times| self.calls >= times)
    }

    fn describe(&self) -> String {
        let times = self.times.map(|times| format!(".times({times})")).unwrap_or_default();
        format!("stub.on({:?}){times}.{}(..) at {}", self.method, self.kind, self.location)
    }
}

impl Stub {
    /// A stub with no rules.
    pub fn new() -> Self {
        Self::default()
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
    #[track_caller]
    pub fn on(&self, method: &str) -> StubRule<'_> {
        check_method_path(method, "Stub::on");
        if let Some(services) = &*lock(&self.inner.attached) {
            check_not_shadowed(method, services);
        }
        StubRule {
            stub: self,
            method: method.to_owned(),
            times: None,
            location: Location::caller(),
        }
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

    /// Unexpected calls since the last look, then the rules whose `times(n)` is not met.
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut problems = std::mem::take(&mut *lock(&self.inner.unexpected));
        for rule in lock(&self.inner.rules).iter() {
            match rule.times {
                Some(times) if rule.calls != times => problems.push(format!(
                    "{} answered {} of the {times} calls it expects",
                    rule.describe(),
                    rule.calls
                )),
                _ => {}
            }
        }
        problems
    }

    fn add(
        &self,
        rule: StubRule<'_>,
        kind: &'static str,
        times: Option<usize>,
        answer: Arc<Answer>,
    ) {
        let StubRule { method, location, .. } = rule;
        lock(&self.inner.rules).push(Rule { method, kind, times, calls: 0, location, answer });
    }
}

/// The message for what [`Stub::problems`] found.
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
        "Give the stub a rule for each call the code under test makes, with the `times(..)` it \
         makes them; if the code should not make a call, fix the code.",
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

/// One rule of a [`Stub`], being written: [`Stub::on`], then optionally
/// [`times`](StubRule::times), then its answer.
#[must_use = "a stub rule takes effect when it is given its answer: .reply(..), .replies(..) or \
              .respond_with(..)"]
pub struct StubRule<'a> {
    stub: &'a Stub,
    method: String,
    times: Option<usize>,
    location: &'static Location<'static>,
}

impl StubRule<'_> {
    /// Answers exactly `n` calls, then leaves later calls to the next rule for the method; the
    /// test fails unless the rule answered `n` calls by the time it is verified.
    ///
    /// # Panics
    ///
    /// When `n` is 0: a call that no rule answers already fails the test.
    #[track_caller]
    pub fn times(mut self, n: usize) -> Self {
        assert!(
            n > 0,
            "StubRule::times(0) for {:?}: a rule that answers no call is not needed, because a \
             call that no rule answers fails the test; leave the rule out",
            self.method
        );
        self.times = Some(n);
        self
    }

    /// Answers each call with `reply` (after reading the request stream to its end).
    ///
    /// See [`Stub`] for an example.
    pub fn reply<T>(self, reply: Reply<T>)
    where
        T: Message + Clone + Send + Sync + 'static,
    {
        let times = self.times;
        self.stub.add(self, "reply", times, scripted(move |_| reply.clone()));
    }

    /// Answers the first call with the first reply, the second with the second, and so on:
    /// `replies([fail, ok])`. The rule expects as many calls as there are replies.
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
    /// use tonic_testkit_support::{ProbeClient, ProbeReply, ProbeRequest};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let stub = Stub::new();
    /// stub.on("/probe.Probe/Unary").replies([
    ///     Reply::status(Status::unavailable("try again")),
    ///     Reply::message(ProbeReply { text: "ok".into(), index: 0 }),
    /// ]);
    /// let server = TestServer::builder().add_stub(&stub).start().await;
    /// let mut client = server.client(ProbeClient::new);
    ///
    /// assert_status!(client.unary(ProbeRequest::default()).await, Code::Unavailable);
    /// assert_eq!(client.unary(ProbeRequest::default()).await.unwrap().into_inner().text, "ok");
    /// # }
    /// ```
    #[track_caller]
    pub fn replies<T>(self, replies: impl IntoIterator<Item = Reply<T>>)
    where
        T: Message + Clone + Send + Sync + 'static,
    {
        let replies: Vec<Reply<T>> = replies.into_iter().collect();
        assert!(
            !replies.is_empty(),
            "StubRule::replies for {:?} got no replies; give one reply per expected call",
            self.method
        );
        if let Some(times) = self.times.filter(|times| *times != replies.len()) {
            panic!(
                "StubRule::replies for {:?} got {} replies after .times({times}); the rule \
                 expects one call per reply: leave .times(..) out",
                self.method,
                replies.len()
            );
        }
        let times = Some(replies.len());
        self.stub.add(self, "replies", times, scripted(move |index| replies[index].clone()));
    }

    /// Answers each call with what `respond` makes of its request, for a method that takes one
    /// request message (unary or server-streaming).
    ///
    /// A call that sends no message or several fails the test, saying to use
    /// [`respond_with_all`](StubRule::respond_with_all).
    ///
    /// See [`Stub`] for an example.
    pub fn respond_with<Req, Res, F>(self, respond: F)
    where
        Req: Message + Default + Send + 'static,
        Res: Message + Send + 'static,
        F: Fn(Request<Req>) -> Reply<Res> + Send + Sync + 'static,
    {
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
        let times = self.times;
        self.stub.add(self, "respond_with", times, answer);
    }

    /// Answers each call with what `respond` makes of all its request messages, for
    /// client-streaming and bidi methods.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic::Request;
    /// use tonic_testkit::{Reply, Stub, TestServer};
    /// use tonic_testkit_support::{ProbeClient, ProbeReply, ProbeRequest};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let stub = Stub::new();
    /// stub.on("/probe.Probe/ClientStream").respond_with_all(|request: Request<Vec<ProbeRequest>>| {
    ///     let index = request.get_ref().len() as u32;
    ///     Reply::message(ProbeReply { text: "counted".into(), index })
    /// });
    /// let server = TestServer::builder().add_stub(&stub).start().await;
    /// let mut client = server.client(ProbeClient::new);
    ///
    /// let requests = tokio_stream::iter(vec![ProbeRequest::default(); 3]);
    /// let reply = client.client_stream(requests).await.unwrap().into_inner();
    ///
    /// assert_eq!(reply.index, 3);
    /// # }
    /// ```
    pub fn respond_with_all<Req, Res, F>(self, respond: F)
    where
        Req: Message + Default + Send + 'static,
        Res: Message + Send + 'static,
        F: Fn(Request<Vec<Req>>) -> Reply<Res> + Send + Sync + 'static,
    {
        let respond = Arc::new(respond);
        let answer = streaming(move |_, request: Request<Streaming<Req>>| {
            let respond = respond.clone();
            async move {
                let (metadata, extensions, messages) = read_all(request).await?;
                answer_after_delay(respond(Request::from_parts(metadata, extensions, messages)))
                    .await
            }
        });
        let times = self.times;
        self.stub.add(self, "respond_with_all", times, answer);
    }

    /// Answers each call with the stream `respond` makes of the live request stream: for bidi
    /// clients that wait for an answer before they send more.
    ///
    /// # Examples
    ///
    /// ```
    /// use tokio_stream::StreamExt;
    /// use tonic::{Request, Streaming};
    /// use tonic_testkit::{Stub, TestServer, collect};
    /// use tonic_testkit_support::{ProbeClient, ProbeReply, ProbeRequest};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let stub = Stub::new();
    /// stub.on("/probe.Probe/Bidi").respond_with_stream(|request: Request<Streaming<ProbeRequest>>| {
    ///     request.into_inner().map(|message| {
    ///         Ok(ProbeReply { text: message?.text.to_uppercase(), index: 0 })
    ///     })
    /// });
    /// let server = TestServer::builder().add_stub(&stub).start().await;
    /// let mut client = server.client(ProbeClient::new);
    ///
    /// let requests = tokio_stream::iter(vec![ProbeRequest { text: "hi".into(), count: 0 }]);
    /// let outcome = collect(client.bidi(requests).await.unwrap().into_inner()).await;
    ///
    /// assert_eq!(outcome.messages()[0].text, "HI");
    /// # }
    /// ```
    pub fn respond_with_stream<Req, Res, F, S>(self, respond: F)
    where
        Req: Message + Default + Send + 'static,
        Res: Message + Send + 'static,
        F: Fn(Request<Streaming<Req>>) -> S + Send + Sync + 'static,
        S: Stream<Item = Result<Res, Status>> + Send + 'static,
    {
        let respond = Arc::new(respond);
        let answer = streaming(move |_, request: Request<Streaming<Req>>| {
            let stream: BoxStream<Res> = Box::pin(respond(request));
            std::future::ready(Ok(Response::new(stream)))
        });
        let times = self.times;
        self.stub.add(self, "respond_with_stream", times, answer);
    }
}

impl fmt::Debug for StubRule<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StubRule")
            .field("method", &self.method)
            .field("times", &self.times)
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// An answer from a script: the request is read (into `()`, since only the journal looks at
/// it) before the reply for the call's index is played.
fn scripted<T, F>(reply: F) -> Arc<Answer>
where
    T: Message + Send + 'static,
    F: Fn(usize) -> Reply<T> + Send + Sync + 'static,
{
    let reply = Arc::new(reply);
    streaming(move |index, request: Request<Streaming<()>>| {
        let reply = reply.clone();
        async move {
            read_all(request).await?;
            answer_after_delay(reply(index)).await
        }
    })
}

/// Serves a call through tonic's own server-side codec, as generated code does; every RPC
/// shape is a stream on the wire.
fn streaming<Req, Res, F, Fut>(respond: F) -> Arc<Answer>
where
    Req: Message + Default + Send + 'static,
    Res: Message + Send + 'static,
    F: Fn(usize, Request<Streaming<Req>>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<BoxStream<Res>>, Status>> + Send + 'static,
{
    let respond = Arc::new(respond);
    Arc::new(move |index, request| {
        let respond = respond.clone();
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(ProstCodec::<Res, Req>::default());
            let service = tower::service_fn(move |request| respond(index, request));
            grpc.streaming(service, request).await
        })
    })
}

type Parts<T> = (tonic::metadata::MetadataMap, tonic::Extensions, Vec<T>);

async fn read_all<T>(request: Request<Streaming<T>>) -> Result<Parts<T>, Status> {
    let (metadata, extensions, mut stream) = request.into_parts();
    let mut messages = Vec::new();
    while let Some(message) = stream.message().await? {
        messages.push(message);
    }
    Ok((metadata, extensions, messages))
}

async fn answer_after_delay<T>(mut reply: Reply<T>) -> Result<Response<BoxStream<T>>, Status>
where
    T: Send + 'static,
{
    let delay = reply.take_delay();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    reply.streaming()
}

/// The stub as a tower service: the fallback of the server's routes.
#[derive(Clone)]
pub(crate) struct StubService(Arc<Inner>);

impl Service<HttpRequest<Body>> for StubService {
    type Response = HttpResponse<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<HttpResponse<Body>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: HttpRequest<Body>) -> Self::Future {
        let method = request.uri().path().to_owned();
        match self.0.pick(&method) {
            Ok((answer, index)) => {
                let response = answer(index, request);
                Box::pin(async move { Ok(response.await) })
            }
            Err(reason) => {
                let message =
                    format!("tonic-testkit: no stub rule answers this call to {method}; {reason}");
                lock(&self.0.unexpected).push(format!("unexpected call to {method}: {reason}"));
                let (parts, ()) = Status::internal(message).into_http::<()>().into_parts();
                Box::pin(std::future::ready(Ok(HttpResponse::from_parts(parts, Body::empty()))))
            }
        }
    }
}

impl Inner {
    /// The rule that answers a call to `method` and the call's index for it, or why none does.
    fn pick(&self, method: &str) -> Result<(Arc<Answer>, usize), String> {
        let mut rules = lock(&self.rules);
        let mut for_method = rules.iter_mut().filter(|rule| rule.method == method).peekable();
        if for_method.peek().is_none() {
            return Err(format!(
                "the stub has no rule for this method: add one with stub.on({method:?})"
            ));
        }
        let mut used_up = Vec::new();
        for rule in for_method {
            if !rule.used_up() {
                rule.calls += 1;
                return Ok((rule.answer.clone(), rule.calls - 1));
            }
            used_up.push(rule.describe());
        }
        Err(format!(
            "its rules for this method are used up ({}); raise a `times(..)`, or add a rule for \
             the later calls",
            used_up.join("; ")
        ))
    }
}

impl fmt::Debug for StubService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StubService").finish_non_exhaustive()
    }
}
