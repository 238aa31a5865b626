//! Scripted answers for mocks and stubs: a message, a status, a stream, with headers, trailers
//! and delays.

use std::{
    collections::VecDeque,
    fmt,
    pin::Pin,
    task::{Context, Poll, ready},
    time::Duration,
};

use tokio::time::Sleep;
use tokio_stream::Stream;
use tonic::{Response, Status, metadata::MetadataMap};

use crate::handler::request::append_metadata;

/// The stream a streaming handler returns, as tonic's generated code names it.
///
/// Servers generated with `generate_default_stubs(true)` use this very type for their streaming
/// methods; elsewhere, fix a mock's stream associated types to it
/// (`type WatchStream = BoxStream<Event>;`) so [`Reply::streaming`] can answer them.
pub type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// A scripted answer to one call: a message, a status, or a stream of messages ending with a
/// status, with response headers, trailers and delays.
///
/// A mock turns it into what its method returns with [`unary`](Reply::unary) or
/// [`streaming`](Reply::streaming); a [`Stub`](crate::Stub) takes it as it is. Delays go through
/// `tokio::time`, so under `#[tokio::test(start_paused = true)]` they take no real time.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use tonic::{Code, Status};
/// use tonic_testkit::{Reply, collect};
/// use tonic_testkit_examples::orders::pb::{OrderEvent, OrderStatus};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let event = |status: OrderStatus| OrderEvent {
///     order_id: "order-1".into(),
///     status: status.into(),
/// };
/// let script = Reply::stream([event(OrderStatus::Pending), event(OrderStatus::Shipped)])
///     .interval(Duration::from_secs(3))
///     .end_with(Status::aborted("feed closed"))
///     .trailer("x-resume-from", "3")
///     .header("x-feed", "orders");
///
/// let response = script.streaming().unwrap();
/// assert_eq!(response.metadata().get("x-feed").unwrap(), "orders");
/// let started = tokio::time::Instant::now();
/// let outcome = collect(response.into_inner()).await;
///
/// assert_eq!(outcome.messages(), [event(OrderStatus::Pending), event(OrderStatus::Shipped)]);
/// assert_eq!(outcome.status().code(), Code::Aborted);
/// assert_eq!(outcome.status().metadata().get("x-resume-from").unwrap(), "3");
/// assert_eq!(started.elapsed(), Duration::from_secs(3)); // paused time: no real wait
/// # }
/// ```
#[derive(Clone)]
#[must_use = "a Reply answers nothing until a mock returns it or a Stub rule takes it"]
pub struct Reply<T> {
    headers: MetadataMap,
    delay: Duration,
    body: Body<T>,
}

#[derive(Clone)]
enum Body<T> {
    Message(T),
    Status(Status),
    Stream { messages: Vec<T>, interval: Duration, end: Option<Status> },
}

impl<T> Reply<T> {
    /// Answers with `message` (a unary answer, or a stream of that one message).
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::Reply;
    /// use tonic_testkit_examples::hello::pb::HelloResponse;
    ///
    /// let reply = Reply::message(HelloResponse { reply: "hi".into() });
    ///
    /// assert_eq!(reply.unary().unwrap().into_inner().reply, "hi");
    /// ```
    pub fn message(message: T) -> Self {
        Self::with_body(Body::Message(message))
    }

    /// Answers with `status`: its code, message, binary details
    /// (`Status::with_details`, or tonic-types' `Status::with_error_details`) and metadata, which
    /// the client receives as trailers. No handler runs past it.
    ///
    /// # Panics
    ///
    /// When `status` is `OK`: an answer is a message or an error status.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic::{Code, Status};
    /// use tonic_testkit::Reply;
    /// use tonic_testkit_examples::hello::pb::HelloResponse;
    ///
    /// let reply = Reply::<HelloResponse>::status(Status::not_found("no such greeting"));
    ///
    /// let status = reply.unary().unwrap_err();
    /// assert_eq!((status.code(), status.message()), (Code::NotFound, "no such greeting"));
    /// ```
    #[track_caller]
    pub fn status(status: Status) -> Self {
        assert!(
            status.code() != tonic::Code::Ok,
            "Reply::status takes an error status, got OK {:?}; answer with Reply::message(..) \
             or Reply::stream(..) for a successful call",
            status.message()
        );
        Self::with_body(Body::Status(status))
    }

    /// Answers a server-streaming or bidi call with `messages`, then ends the stream `OK` (or
    /// with [`end_with`](Reply::end_with)).
    ///
    /// # Examples
    ///
    /// ```
    /// # use tonic::Code;
    /// # use tonic_testkit::{Reply, collect};
    /// # use tonic_testkit_examples::orders::pb::{OrderEvent, OrderStatus};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let event = |status: OrderStatus| OrderEvent {
    ///     order_id: "order-1".into(),
    ///     status: status.into(),
    /// };
    /// let reply = Reply::stream([event(OrderStatus::Pending), event(OrderStatus::Shipped)]);
    ///
    /// let outcome = collect(reply.streaming().unwrap().into_inner()).await;
    ///
    /// assert_eq!(outcome.messages(), [event(OrderStatus::Pending), event(OrderStatus::Shipped)]);
    /// assert_eq!(outcome.status().code(), Code::Ok);
    /// # }
    /// ```
    pub fn stream(messages: impl IntoIterator<Item = T>) -> Self {
        let messages = messages.into_iter().collect();
        Self::with_body(Body::Stream { messages, interval: Duration::ZERO, end: None })
    }

    fn with_body(body: Body<T>) -> Self {
        Self { headers: MetadataMap::new(), delay: Duration::ZERO, body }
    }

    /// Ends the stream with `status` after its messages, as a server does when it fails midway.
    ///
    /// # Panics
    ///
    /// When the reply is not a [`stream`](Reply::stream), or `status` is `OK`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tonic::{Code, Status};
    /// # use tonic_testkit::{Reply, collect};
    /// # use tonic_testkit_examples::orders::pb::{OrderEvent, OrderStatus};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let event = |status: OrderStatus| OrderEvent {
    ///     order_id: "order-1".into(),
    ///     status: status.into(),
    /// };
    /// let reply = Reply::stream([event(OrderStatus::Pending)])
    ///     .end_with(Status::aborted("feed closed"));
    ///
    /// let outcome = collect(reply.streaming().unwrap().into_inner()).await;
    ///
    /// assert_eq!(outcome.messages().len(), 1);
    /// assert_eq!(outcome.status().code(), Code::Aborted);
    /// # }
    /// ```
    #[track_caller]
    pub fn end_with(mut self, status: Status) -> Self {
        assert!(
            status.code() != tonic::Code::Ok,
            "Reply::end_with takes the error status that ends the stream, got OK; a stream ends \
             OK when end_with is left out"
        );
        match &mut self.body {
            Body::Stream { end, .. } => *end = Some(status),
            _ => panic!(
                "Reply::end_with applies to Reply::stream(..); a unary error is \
                 Reply::status(status)"
            ),
        }
        self
    }

    /// Waits `interval` before each message of the stream but the first.
    ///
    /// # Panics
    ///
    /// When the reply is not a [`stream`](Reply::stream).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use tonic_testkit::{Reply, collect};
    /// # use tonic_testkit_examples::orders::pb::{OrderEvent, OrderStatus};
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let event = |status: OrderStatus| OrderEvent {
    ///     order_id: "order-1".into(),
    ///     status: status.into(),
    /// };
    /// let statuses = [OrderStatus::Pending, OrderStatus::Confirmed, OrderStatus::Shipped];
    /// let reply = Reply::stream(statuses.map(event)).interval(Duration::from_secs(2));
    ///
    /// let started = tokio::time::Instant::now();
    /// let outcome = collect(reply.streaming().unwrap().into_inner()).await;
    ///
    /// assert_eq!(outcome.messages().len(), 3);
    /// assert_eq!(started.elapsed(), Duration::from_secs(4)); // on the paused clock
    /// # }
    /// ```
    #[track_caller]
    pub fn interval(mut self, interval: Duration) -> Self {
        match &mut self.body {
            Body::Stream { interval: slot, .. } => *slot = interval,
            _ => panic!(
                "Reply::interval applies to Reply::stream(..); delay a single answer with \
                 .delay(..)"
            ),
        }
        self
    }

    /// Waits `delay` before answering: before the status or the first message. Over a
    /// [`Stub`](crate::Stub) the response headers wait too, as with a slow handler.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use tonic_testkit::{Reply, Stub, TestServer};
    /// # use tonic_testkit_examples::hello::pb::{
    /// #     HelloRequest, HelloResponse, hello_service_client::HelloServiceClient,
    /// # };
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let stub = Stub::new();
    /// let hi = HelloResponse { reply: "hi".into() };
    /// let slow = Reply::message(hi).delay(Duration::from_secs(1));
    /// stub.on("/hello.HelloService/Hello").reply(slow);
    /// let server = TestServer::builder().add_stub(&stub).start().await;
    /// let mut client = server.client(HelloServiceClient::new);
    ///
    /// let started = tokio::time::Instant::now();
    /// client.hello(HelloRequest::default()).await.unwrap();
    ///
    /// assert_eq!(started.elapsed(), Duration::from_secs(1));
    /// # }
    /// ```
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Adds a response header (initial metadata). A key ending in `-bin` carries bytes.
    ///
    /// # Panics
    ///
    /// When the key or value is not valid metadata; the message says which rule was broken.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::Reply;
    /// use tonic_testkit_examples::hello::pb::HelloResponse;
    ///
    /// let hi = HelloResponse { reply: "hi".into() };
    /// let reply = Reply::message(hi).header("x-request-id", "req-7");
    ///
    /// let response = reply.unary().unwrap();
    /// assert_eq!(response.metadata().get("x-request-id").unwrap(), "req-7");
    /// ```
    #[track_caller]
    pub fn header(mut self, key: &str, value: impl AsRef<[u8]>) -> Self {
        append_metadata(&mut self.headers, key, value.as_ref());
        self
    }

    /// Adds a trailer to the status that ends the call. Trailers ride on a status: tonic
    /// handlers cannot add trailers to a call that ends `OK`.
    ///
    /// # Panics
    ///
    /// When the reply does not end with an error status (call [`Reply::status`], or
    /// [`end_with`](Reply::end_with) first), or the key or value is not valid metadata.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic::Status;
    /// use tonic_testkit::Reply;
    /// use tonic_testkit_examples::hello::pb::HelloResponse;
    ///
    /// let reply = Reply::<HelloResponse>::status(Status::unavailable("down"))
    ///     .trailer("retry-after-ms", "250");
    ///
    /// let status = reply.unary().unwrap_err();
    /// assert_eq!(status.metadata().get("retry-after-ms").unwrap(), "250");
    /// ```
    #[track_caller]
    pub fn trailer(mut self, key: &str, value: impl AsRef<[u8]>) -> Self {
        let status = match &mut self.body {
            Body::Status(status) | Body::Stream { end: Some(status), .. } => status,
            _ => panic!(
                "Reply::trailer({key:?}, ..) needs an error status to carry it: tonic handlers \
                 cannot add trailers to a call that ends OK; use Reply::status(..), or call \
                 .end_with(status) before .trailer(..)"
            ),
        };
        append_metadata(status.metadata_mut(), key, value.as_ref());
        self
    }

    /// Whether the reply streams its answers (`Some(true)`), answers with one message
    /// (`Some(false)`), or is a status that ends either kind of call (`None`).
    #[cfg(feature = "descriptors")]
    pub(crate) fn streams(&self) -> Option<bool> {
        match self.body {
            Body::Message(_) => Some(false),
            Body::Stream { .. } => Some(true),
            Body::Status(_) => None,
        }
    }

    /// The delay set with [`delay`](Reply::delay).
    pub(crate) fn take_delay(&mut self) -> Duration {
        std::mem::take(&mut self.delay)
    }

    /// What a unary method of a mock returns: `.returning(|_| Reply::message(m).unary())`.
    ///
    /// # Panics
    ///
    /// When the reply is a stream, or has a [`delay`](Reply::delay): a mock's `returning`
    /// closure answers at once, so delay the call with a [`Stub`](crate::Stub) instead.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic::{Code, Status};
    /// use tonic_testkit::Reply;
    ///
    /// let answer = Reply::<String>::status(Status::unavailable("down")).header("x-shard", "3");
    /// let status = answer.unary().unwrap_err();
    ///
    /// assert_eq!(status.code(), Code::Unavailable);
    /// assert_eq!(status.metadata().get("x-shard").unwrap(), "3");
    /// ```
    #[track_caller]
    pub fn unary(self) -> Result<Response<T>, Status> {
        assert!(
            self.delay.is_zero(),
            "Reply::unary cannot apply a delay of {:?}: a mock's `returning` closure answers at \
             once; answer through a Stub (stub.on(method).reply(..)) to delay a unary call",
            self.delay
        );
        match self.body {
            Body::Message(message) => {
                Ok(Response::from_parts(self.headers, message, Default::default()))
            }
            Body::Status(status) => Err(with_headers(status, self.headers)),
            Body::Stream { .. } => panic!(
                "Reply::unary got a Reply::stream(..): a unary method answers with \
                 Reply::message(..) or Reply::status(..); streaming methods take .streaming()"
            ),
        }
    }

    /// What a streaming method of a mock returns: `.returning(|_| Reply::stream(ms).streaming())`.
    /// The stream waits for the reply's [`delay`](Reply::delay) before its first message, and
    /// for its [`interval`](Reply::interval) between messages, through `tokio::time`.
    ///
    /// A [`Reply::status`] with no delay answers `Err(status)`, as a handler that fails before
    /// streaming; with a delay it becomes a stream that ends with it.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tonic_testkit::{Reply, collect};
    /// # use tonic_testkit_examples::orders::pb::{OrderEvent, OrderStatus};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let event = |status: OrderStatus| OrderEvent {
    ///     order_id: "order-1".into(),
    ///     status: status.into(),
    /// };
    /// // What a mock's `returning` closure of a streaming method gives back.
    /// let response = Reply::stream([event(OrderStatus::Delivered)]).streaming().unwrap();
    ///
    /// let outcome = collect(response.into_inner()).await;
    ///
    /// assert_eq!(outcome.messages(), [event(OrderStatus::Delivered)]);
    /// # }
    /// ```
    pub fn streaming(self) -> Result<Response<BoxStream<T>>, Status>
    where
        T: Send + 'static,
    {
        let items: VecDeque<_> = match self.body {
            Body::Status(status) if self.delay.is_zero() => {
                return Err(with_headers(status, self.headers));
            }
            Body::Status(status) => VecDeque::from([(self.delay, Err(status))]),
            Body::Message(message) => VecDeque::from([(self.delay, Ok(message))]),
            Body::Stream { messages, interval, end } => {
                // The end status follows the last message at once.
                let waits = std::iter::once(self.delay).chain(std::iter::repeat(interval));
                let messages = waits.zip(messages.into_iter().map(Ok));
                messages.chain(end.map(|status| (Duration::ZERO, Err(status)))).collect()
            }
        };
        let stream: BoxStream<T> = Box::pin(Scripted { items, sleep: None });
        Ok(Response::from_parts(self.headers, stream, Default::default()))
    }
}

/// A trailers-only answer carries its headers and trailers in one block: the status's metadata.
fn with_headers(mut status: Status, headers: MetadataMap) -> Status {
    let mut merged = headers.into_headers();
    merged.extend(std::mem::take(status.metadata_mut()).into_headers());
    *status.metadata_mut() = MetadataMap::from_headers(merged);
    status
}

impl<T: fmt::Debug> fmt::Debug for Reply<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut f = match &self.body {
            Body::Message(message) => {
                let mut f = f.debug_struct("Reply::message");
                f.field("message", message);
                f
            }
            Body::Status(status) => {
                let mut f = f.debug_struct("Reply::status");
                f.field("code", &status.code()).field("message", &status.message());
                f
            }
            Body::Stream { messages, interval, end } => {
                let mut f = f.debug_struct("Reply::stream");
                f.field("messages", messages).field("interval", interval);
                f.field("end", &end.as_ref().map(|status| (status.code(), status.message())));
                f
            }
        };
        f.field("headers", &self.headers).field("delay", &self.delay).finish()
    }
}

/// The scripted items, each after the wait paired with it.
struct Scripted<T> {
    items: VecDeque<(Duration, Result<T, Status>)>,
    sleep: Option<Pin<Box<Sleep>>>,
}

// Never pinned in place: the items are moved out by value.
impl<T> Unpin for Scripted<T> {}

impl<T> Stream for Scripted<T> {
    type Item = Result<T, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let Some((wait, _)) = this.items.front_mut() else {
            return Poll::Ready(None);
        };
        if !wait.is_zero() {
            this.sleep = Some(Box::pin(tokio::time::sleep(std::mem::take(wait))));
        }
        if let Some(sleep) = &mut this.sleep {
            ready!(sleep.as_mut().poll(cx));
            this.sleep = None;
        }
        Poll::Ready(this.items.pop_front().map(|(_, item)| item))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.items.len(), Some(self.items.len()))
    }
}

impl<T> fmt::Debug for Scripted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scripted").field("left", &self.items.len()).finish_non_exhaustive()
    }
}
