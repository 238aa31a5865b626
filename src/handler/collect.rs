//! Response-stream collectors: what a server-streaming or bidi call sent, and how it ended.

use std::{
    any::Any,
    fmt,
    future::{Future, IntoFuture},
    panic::Location,
    pin::Pin,
    sync::OnceLock,
    time::Duration,
};

use tokio_stream::{Stream, StreamExt};
use tonic::{Code, Status, Streaming, metadata::MetadataMap};

use crate::assert::{Observed, StatusSource, metadata::MetadataSource};

/// How long [`collect`] waits for a stream to end unless [`Collect::timeout`] says otherwise,
/// measured on the tokio clock (so it passes at once under `start_paused`).
pub const DEFAULT_COLLECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Collects a response stream into its messages and the status that ended it.
///
/// Works for the stream a handler returns (called directly) and for the `Streaming<T>` a client
/// receives, so one assertion fits both. The first `Err` item ends the stream, as it ends the
/// call on a real server; a stream that ends without one ended `OK` (with the trailers the
/// server sent, for a `Streaming<T>`).
///
/// Await the returned [`Collect`], optionally after [`limit`](Collect::limit) or
/// [`timeout`](Collect::timeout). A stream that does not end within the timeout
/// ([`DEFAULT_COLLECT_TIMEOUT`]) fails the test instead of hanging it.
///
/// # Examples
///
/// ```
/// use tonic::Code;
/// use tonic_testkit::{TestRequest, collect};
/// use tonic_testkit_examples::orders::Orders;
/// use tonic_testkit_examples::orders::pb::{
///     RegisterOrderRequest, WatchOrderRequest, orders_server::Orders as _,
/// };
/// use tonic_testkit_examples::orders::pb::OrderStatus;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// // Arrange: an order to watch.
/// let orders = Orders::default();
/// let order = RegisterOrderRequest { items: vec!["tea".into()], ..Default::default() };
/// let registered = orders.register_order(TestRequest::new(order).into()).await.unwrap();
/// let request = TestRequest::new(WatchOrderRequest { order_id: registered.into_inner().order_id });
///
/// // Act: call the handler directly and collect what it streams.
/// let events = orders.watch_order(request.into()).await.unwrap().into_inner();
/// let outcome = collect(events).await;
///
/// // Assert
/// let statuses: Vec<_> = outcome.messages().iter().map(|event| event.status()).collect();
/// assert_eq!(
///     statuses,
///     [OrderStatus::Pending, OrderStatus::Confirmed, OrderStatus::Shipped, OrderStatus::Delivered]
/// );
/// assert_eq!(outcome.status().code(), Code::Ok);
/// # }
/// ```
///
/// A stream that never ends fails the test with the place it was collected:
///
/// ```should_panic
/// # use std::time::Duration;
/// # use tonic_testkit::{TestRequest, collect};
/// # use tonic_testkit_examples::orders::Orders;
/// # use tonic_testkit_examples::orders::pb::{ChatMessage, orders_server::Orders as _};
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// // A chat whose client keeps its side open: the replies never end.
/// let (_client, request) = TestRequest::channel::<ChatMessage>();
/// let replies = Orders::default().chat(request.into()).await.unwrap().into_inner();
///
/// // Panics: "tonic-testkit: the response stream collected at ... did not end within 1s ..."
/// collect(replies).timeout(Duration::from_secs(1)).await;
/// # }
/// ```
#[track_caller]
pub fn collect<S>(stream: S) -> Collect<S> {
    Collect { stream, limit: None, timeout: DEFAULT_COLLECT_TIMEOUT, caller: Location::caller() }
}

/// A response stream being collected: await it for the [`StreamOutcome`]. Made by [`collect`].
#[must_use = "a Collect does nothing until it is awaited"]
pub struct Collect<S> {
    stream: S,
    limit: Option<usize>,
    timeout: Duration,
    caller: &'static Location<'static>,
}

impl<S> fmt::Debug for Collect<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Collect")
            .field("limit", &self.limit)
            .field("timeout", &self.timeout)
            .field("caller", &self.caller)
            .finish_non_exhaustive()
    }
}

impl<S> Collect<S> {
    /// Stops after `messages` messages without waiting for the stream to end (the rest of the
    /// stream is dropped, which cancels it), for streams that never end by design.
    /// A stream that ends earlier is collected to its end.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::{TestRequest, collect};
    /// use tonic_testkit_examples::orders::Orders;
    /// use tonic_testkit_examples::orders::pb::{ChatMessage, orders_server::Orders as _};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// // A chat of 10 messages whose client keeps its side open.
    /// let (client, request) = TestRequest::channel::<ChatMessage>();
    /// let replies = Orders::default().chat(request.into()).await.unwrap().into_inner();
    /// for _ in 0..10 {
    ///     client.send(Ok(ChatMessage::default())).await.unwrap();
    /// }
    ///
    /// let outcome = collect(replies).limit(5).await;
    ///
    /// assert_eq!(outcome.messages().len(), 5);
    /// assert!(outcome.end().is_none()); // stopped before the stream ended
    /// # }
    /// ```
    pub fn limit(mut self, messages: usize) -> Self {
        self.limit = Some(messages);
        self
    }

    /// How long to wait for the whole stream, on the tokio clock. Defaults to
    /// [`DEFAULT_COLLECT_TIMEOUT`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use tonic_testkit::{TestRequest, collect};
    /// use tonic_testkit_examples::orders::Orders;
    /// use tonic_testkit_examples::orders::pb::{ChatMessage, orders_server::Orders as _};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let messages = [ChatMessage::default(), ChatMessage::default()];
    /// let request = TestRequest::stream(messages);
    /// let replies = Orders::default().chat(request.into()).await.unwrap().into_inner();
    ///
    /// let outcome = collect(replies).timeout(Duration::from_millis(100)).await;
    ///
    /// assert_eq!(outcome.messages().len(), 2);
    /// # }
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

impl<S, T> IntoFuture for Collect<S>
where
    S: Stream<Item = Result<T, Status>> + Send + 'static,
    T: fmt::Debug + Send + 'static,
{
    type Output = StreamOutcome<T>;
    type IntoFuture = Pin<Box<dyn Future<Output = StreamOutcome<T>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

impl<S, T> Collect<S>
where
    S: Stream<Item = Result<T, Status>> + Send + 'static,
    T: fmt::Debug + Send + 'static,
{
    async fn run(self) -> StreamOutcome<T> {
        let Self { stream, limit, timeout, caller } = self;
        let mut collected = Collected {
            messages: Vec::new(),
            limit,
            deadline: tokio::time::Instant::now() + timeout,
            timeout,
            caller,
        };
        // A client's `Streaming<T>` has the trailers of a stream that ended `OK`; `Any` finds it
        // among all the stream types this takes.
        let end = match (Box::new(stream) as Box<dyn Any + Send>).downcast::<Streaming<T>>() {
            Ok(mut streaming) => match collected.drain(&mut streaming).await {
                Some(Ok(())) => {
                    let trailers = streaming.trailers().await.ok().flatten().unwrap_or_default();
                    Some(Status::with_metadata(Code::Ok, "", trailers))
                }
                other => other.map(|end| end.unwrap_err()),
            },
            Err(other) => {
                let stream = other.downcast::<S>().expect("the stream has the type it was given");
                let end = collected.drain(&mut Box::into_pin(stream)).await;
                end.map(|end| end.err().unwrap_or_else(|| Status::new(Code::Ok, "")))
            }
        };
        StreamOutcome { messages: collected.messages, end, limit }
    }
}

/// The messages collected so far, and the bounds of the collection.
struct Collected<T> {
    messages: Vec<T>,
    limit: Option<usize>,
    deadline: tokio::time::Instant,
    timeout: Duration,
    caller: &'static Location<'static>,
}

impl<T: fmt::Debug> Collected<T> {
    /// Reads the stream to its end (`Some(Ok)`), its first error (`Some(Err)`), or the limit
    /// (`None`).
    async fn drain<St>(&mut self, stream: &mut St) -> Option<Result<(), Status>>
    where
        St: Stream<Item = Result<T, Status>> + Unpin,
    {
        loop {
            if self.limit.is_some_and(|limit| self.messages.len() >= limit) {
                return None;
            }
            match tokio::time::timeout_at(self.deadline, stream.next()).await {
                Ok(Some(Ok(message))) => self.messages.push(message),
                Ok(Some(Err(status))) => return Some(Err(status)),
                Ok(None) => return Some(Ok(())),
                Err(_) => panic!("{}", timed_out(self.caller, self.timeout, &self.messages)),
            }
        }
    }
}

fn timed_out<T: fmt::Debug>(caller: &Location<'_>, timeout: Duration, messages: &[T]) -> String {
    let sent = match messages.last() {
        None => "it sent no message".to_owned(),
        Some(last) => format!("it sent {} messages, the last: {last:?}", messages.len()),
    };
    format!(
        "tonic-testkit: the response stream collected at {caller} did not end within {timeout:?} \
         (tokio time); {sent}.\nIf the stream never ends by design, collect a fixed number of \
         messages with `.limit(n)`; if it is slow, allow it more time with `.timeout(..)`."
    )
}

/// What a response stream sent and how it ended. Made by awaiting [`collect`].
///
/// It is a [`StatusSource`](crate::matchers::StatusSource) and a
/// [`MetadataSource`](crate::matchers::MetadataSource) (the trailers), so `assert_status!` and
/// `assert_metadata!` take it as they take a `Status`.
///
/// # Examples
///
/// ```
/// use tonic::{Code, Status};
/// use tonic_testkit::{assert_status, collect};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// // Any stream of results: a handler's response stream, or a client's `Streaming<T>`.
/// let stream = tokio_stream::iter([Ok(1), Ok(2), Err(Status::aborted("cut")), Ok(3)]);
///
/// let outcome = collect(stream).await;
///
/// assert_eq!(outcome.messages(), [1, 2]); // the error ended the stream
/// assert_eq!(outcome.end().map(Status::code), Some(Code::Aborted));
/// assert_status!(outcome, Code::Aborted, "cut");
/// assert_eq!(outcome.into_messages(), vec![1, 2]);
/// # }
/// ```
pub struct StreamOutcome<T> {
    messages: Vec<T>,
    end: Option<Status>,
    limit: Option<usize>,
}

impl<T> StreamOutcome<T> {
    /// The messages, in the order they arrived.
    pub fn messages(&self) -> &[T] {
        &self.messages
    }

    /// The messages, owned.
    pub fn into_messages(self) -> Vec<T> {
        self.messages
    }

    /// The status that ended the stream: `OK` (with the trailers, if any) when it ended without
    /// an error, or `None` when [`Collect::limit`] stopped collecting before the end.
    pub fn end(&self) -> Option<&Status> {
        self.end.as_ref()
    }

    /// The status that ended the stream; `OK` when it ended without an error.
    ///
    /// # Panics
    ///
    /// When [`Collect::limit`] stopped collecting before the stream ended: use
    /// [`end`](Self::end) for such streams.
    #[track_caller]
    pub fn status(&self) -> &Status {
        match &self.end {
            Some(status) => status,
            None => panic!("{}", self.not_ended()),
        }
    }

    pub(crate) fn not_ended(&self) -> String {
        format!(
            "the stream was collected with `.limit({})` and stopped before it ended, so it has no \
             status; use `.end()`, or collect it without a limit",
            self.limit.unwrap_or_default()
        )
    }
}

impl<T: fmt::Debug> fmt::Debug for StreamOutcome<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamOutcome")
            .field("messages", &self.messages)
            .field("end", &self.end)
            .finish()
    }
}

impl<T> crate::assert::sealed::Sealed for StreamOutcome<T> {}

impl<T> StatusSource for StreamOutcome<T> {
    fn observe(&self) -> Observed<'_> {
        match self.end() {
            Some(status) => Observed::Status(status),
            None => Observed::Pending(self.not_ended()),
        }
    }
}

impl<T> MetadataSource for StreamOutcome<T> {
    fn metadata_part(&self) -> (&'static str, &MetadataMap) {
        static NONE: OnceLock<MetadataMap> = OnceLock::new();
        match self.end() {
            Some(status) => ("the trailers that ended the stream", status.metadata()),
            None => (
                "the trailers of a stream stopped at its limit",
                NONE.get_or_init(MetadataMap::new),
            ),
        }
    }
}
