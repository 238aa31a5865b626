//! How a stub rule answers a call: [`StubRule`]'s answers (a scripted reply, or a closure
//! over the request), which add the rule to its stub, and the answers they make.

use std::{future::Future, sync::Arc};

use prost::Message;
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};
use tonic_prost::ProstCodec;

#[cfg(doc)]
use super::Stub;
use super::{Answer, Rule, StubHandle, StubRule, Times};
use crate::mock::reply::{BoxStream, Reply};

impl StubRule<'_> {
    /// Answers each call with `reply` (after reading the request stream to its end).
    ///
    /// See [`Stub`] for an example.
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

/// An answer that reads the request stream to its end, then replies with `reply` of the call's
/// index among those the rule answered.
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

/// An answer made by `respond` from the decoded request stream, served as tonic serves a
/// streaming method (which serves every shape: a unary reply is a stream of one).
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

/// The request's metadata, extensions and every message of its stream.
async fn read_all<T>(request: Request<Streaming<T>>) -> Result<Parts<T>, Status> {
    let (metadata, extensions, mut stream) = request.into_parts();
    let mut messages = Vec::new();
    while let Some(message) = stream.message().await? {
        messages.push(message);
    }
    Ok((metadata, extensions, messages))
}

/// Waits for the reply's delay, then answers with it.
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
