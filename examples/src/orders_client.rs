//! A client library for `orders.Orders`, over any tonic channel: an auth header on every call,
//! `UNAVAILABLE` registrations retried with exponential backoff, and the `WatchOrder` stream
//! reassembled into a timeline. `tests/orders_client.rs` tests it against mock servers.

use std::{error::Error, fmt, time::Duration};

use tonic::{
    Code, Request, Status,
    body::Body,
    codegen::{Body as HttpBody, Bytes, StdError},
    metadata::{AsciiMetadataValue, errors::InvalidMetadataValue},
};

use crate::orders::pb::{
    Address, OrderStatus, RegisterOrderRequest, WatchOrderRequest, orders_client,
};

/// How [`OrdersClient::register_order`] retries a call answered `UNAVAILABLE`.
///
/// Attempt `n + 1` follows attempt `n` after a backoff of `initial_backoff * multiplier^(n - 1)`,
/// capped at `max_backoff`, without jitter. The default makes 4 attempts, waiting 100 ms,
/// 200 ms, then 400 ms.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    /// How many attempts in all, the first included; `0` counts as `1`.
    pub max_attempts: u32,
    /// The wait before the second attempt.
    pub initial_backoff: Duration,
    /// What each wait is multiplied by to get the next one (at least `1.0` makes sense).
    pub multiplier: f64,
    /// The longest wait.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(100),
            multiplier: 2.0,
            max_backoff: Duration::from_secs(1),
        }
    }
}

impl RetryPolicy {
    /// The wait after `backoff`, rounded to the nanosecond; saturates instead of panicking.
    fn next(&self, backoff: Duration) -> Duration {
        let nanos = (backoff.as_nanos() as f64 * self.multiplier).round() as u64;
        Duration::from_nanos(nanos).min(self.max_backoff)
    }
}

/// The statuses an order went through, in order, each once per change.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderTimeline {
    order_id: String,
    statuses: Vec<OrderStatus>,
}

impl OrderTimeline {
    /// The order this timeline is about.
    pub fn order_id(&self) -> &str {
        &self.order_id
    }

    /// The statuses, oldest first, without consecutive repeats.
    pub fn statuses(&self) -> &[OrderStatus] {
        &self.statuses
    }

    fn push(&mut self, status: OrderStatus) {
        if self.statuses.last() != Some(&status) {
            self.statuses.push(status);
        }
    }
}

/// What went wrong in a call of [`OrdersClient`].
#[derive(Debug)]
pub enum OrdersError {
    /// The token cannot be sent in an `authorization` header.
    InvalidToken(InvalidMetadataValue),
    /// The service answered `method` with a status that is not retried.
    Rpc {
        /// The method, such as `RegisterOrder`.
        method: &'static str,
        /// The status it answered.
        status: Status,
    },
    /// Every attempt of `RegisterOrder` was answered `UNAVAILABLE`.
    RetriesExhausted {
        /// How many attempts were made.
        attempts: u32,
        /// The status of the last one.
        last: Status,
    },
    /// The `WatchOrder` stream ended with an error.
    StreamBroken {
        /// The statuses received before the error.
        timeline: OrderTimeline,
        /// The status the stream ended with.
        status: Status,
    },
    /// The `WatchOrder` stream sent an event for another order.
    OrderMismatch {
        /// The statuses received before that event.
        timeline: OrderTimeline,
        /// The order id the event carried.
        actual: String,
    },
    /// The `WatchOrder` stream sent a status this client does not know.
    UnknownStatus {
        /// The statuses received before that event.
        timeline: OrderTimeline,
        /// The unknown enum value.
        value: i32,
    },
}

/// `Unavailable "try later"`.
fn show(status: &Status) -> String {
    format!("{:?} {:?}", status.code(), status.message())
}

impl fmt::Display for OrdersError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let watched = |t: &OrderTimeline| format!("WatchOrder({:?})", t.order_id);
        match self {
            Self::InvalidToken(_) => f.write_str("the auth token is not a valid header value"),
            Self::Rpc { method, status } => write!(f, "{method} failed: {}", show(status)),
            Self::RetriesExhausted { attempts, last } => {
                write!(f, "RegisterOrder was unavailable for {attempts} attempts: {}", show(last))
            }
            Self::StreamBroken { timeline: t, status } => {
                write!(f, "{} broke off after {:?}: {}", watched(t), t.statuses, show(status))
            }
            Self::OrderMismatch { timeline: t, actual } => write!(
                f,
                "{} sent an event for order {actual:?} after {:?}",
                watched(t),
                t.statuses
            ),
            Self::UnknownStatus { timeline: t, value } => {
                write!(f, "{} sent unknown status {value} after {:?}", watched(t), t.statuses)
            }
        }
    }
}

impl Error for OrdersError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::InvalidToken(error) => Some(error),
            Self::Rpc { status, .. }
            | Self::RetriesExhausted { last: status, .. }
            | Self::StreamBroken { status, .. } => Some(status),
            Self::OrderMismatch { .. } | Self::UnknownStatus { .. } => None,
        }
    }
}

/// A client of `orders.Orders` over any tonic channel `T`.
///
/// # Examples
///
/// ```
/// use tonic_testkit_examples::orders_client::{OrdersClient, OrdersError, RetryPolicy};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), OrdersError> {
/// let channel = tonic::transport::Endpoint::from_static("http://[::1]:50051").connect_lazy();
///
/// let patient = RetryPolicy { max_attempts: 6, ..RetryPolicy::default() };
/// let client = OrdersClient::new(channel.clone(), "s3cr3t")?.with_retry_policy(patient);
/// let invalid = OrdersClient::new(channel, "line\nbreak");
///
/// assert!(matches!(invalid, Err(OrdersError::InvalidToken(_))));
/// # drop(client);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct OrdersClient<T> {
    inner: orders_client::OrdersClient<T>,
    authorization: AsciiMetadataValue,
    retry: RetryPolicy,
    deadline: Option<Duration>,
}

impl<T> OrdersClient<T>
where
    T: tonic::client::GrpcService<Body> + Clone,
    T::Error: Into<StdError>,
    T::ResponseBody: HttpBody<Data = Bytes> + Send + 'static,
    <T::ResponseBody as HttpBody>::Error: Into<StdError> + Send,
{
    /// A client that sends `authorization: Bearer <token>` with every call and retries with
    /// [`RetryPolicy::default`].
    ///
    /// # Errors
    ///
    /// [`OrdersError::InvalidToken`] when the token cannot go in a header (a control character,
    /// non-ASCII text).
    pub fn new(channel: T, token: &str) -> Result<Self, OrdersError> {
        let mut authorization = AsciiMetadataValue::try_from(format!("Bearer {token}"))
            .map_err(OrdersError::InvalidToken)?;
        authorization.set_sensitive(true);
        let inner = orders_client::OrdersClient::new(channel);
        Ok(Self { inner, authorization, retry: RetryPolicy::default(), deadline: None })
    }

    /// The same client, retrying with `policy`.
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The same client, giving each `RegisterOrder` attempt at most `deadline` (on the tokio
    /// clock): an attempt without an answer by then fails with `DEADLINE_EXCEEDED`, which is not
    /// retried.
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// One `RegisterOrder` attempt, within the deadline.
    async fn register_once(&self, order: &RegisterOrderRequest) -> Result<String, Status> {
        let mut inner = self.inner.clone();
        let call = inner.register_order(self.request(order.clone()));
        let reply = match self.deadline {
            None => call.await?,
            Some(deadline) => tokio::time::timeout(deadline, call).await.map_err(|_| {
                Status::deadline_exceeded(format!("no answer within {deadline:?}"))
            })??,
        };
        Ok(reply.into_inner().order_id)
    }

    /// Registers an order and returns its id. A call answered `UNAVAILABLE` is retried as the
    /// [`RetryPolicy`] says, waiting with `tokio::time::sleep`; no other status is retried.
    ///
    /// # Errors
    ///
    /// [`OrdersError::Rpc`] for a status that is not retried, and
    /// [`OrdersError::RetriesExhausted`] when the last attempt was `UNAVAILABLE` too.
    pub async fn register_order(
        &self,
        customer_id: impl Into<String>,
        items: impl IntoIterator<Item = impl Into<String>>,
        address: Address,
    ) -> Result<String, OrdersError> {
        let order = RegisterOrderRequest {
            customer_id: customer_id.into(),
            items: items.into_iter().map(Into::into).collect(),
            address: Some(address),
        };
        let (attempts, mut attempt) = (self.retry.max_attempts.max(1), 1);
        let mut backoff = self.retry.initial_backoff.min(self.retry.max_backoff);
        loop {
            match self.register_once(&order).await {
                Ok(order_id) => return Ok(order_id),
                Err(status) if status.code() != Code::Unavailable => {
                    return Err(OrdersError::Rpc { method: "RegisterOrder", status });
                }
                Err(last) if attempt == attempts => {
                    return Err(OrdersError::RetriesExhausted { attempts, last });
                }
                Err(_) => {}
            }
            tokio::time::sleep(backoff).await;
            backoff = self.retry.next(backoff);
            attempt += 1;
        }
    }

    /// Watches an order until its stream ends, and returns the statuses it went through,
    /// consecutive repeats dropped. Not retried.
    ///
    /// # Errors
    ///
    /// [`OrdersError::Rpc`] when the call is refused; [`OrdersError::StreamBroken`],
    /// [`OrdersError::OrderMismatch`] or [`OrdersError::UnknownStatus`], each with the timeline
    /// so far, when the stream ends with an error or sends a wrong event.
    pub async fn watch_order(
        &self,
        order_id: impl Into<String>,
    ) -> Result<OrderTimeline, OrdersError> {
        let order_id = order_id.into();
        let request = self.request(WatchOrderRequest { order_id: order_id.clone() });
        let mut events = match self.inner.clone().watch_order(request).await {
            Ok(response) => response.into_inner(),
            Err(status) => return Err(OrdersError::Rpc { method: "WatchOrder", status }),
        };
        let mut timeline = OrderTimeline { order_id, statuses: Vec::new() };
        loop {
            let event = match events.message().await {
                Ok(Some(event)) => event,
                Ok(None) => return Ok(timeline),
                Err(status) => return Err(OrdersError::StreamBroken { timeline, status }),
            };
            if event.order_id != timeline.order_id {
                return Err(OrdersError::OrderMismatch { timeline, actual: event.order_id });
            }
            match OrderStatus::try_from(event.status) {
                Ok(status) => timeline.push(status),
                Err(_) => return Err(OrdersError::UnknownStatus { timeline, value: event.status }),
            }
        }
    }

    /// `message` with the auth header.
    fn request<M>(&self, message: M) -> Request<M> {
        let mut request = Request::new(message);
        request.metadata_mut().insert("authorization", self.authorization.clone());
        request
    }
}
