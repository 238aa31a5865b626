//! `rides.Rides`: start a ride, track a car, quote a fare within the call's deadline; with a
//! timing layer on the server.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use tonic::{Code, Request, Response, Status, Streaming, metadata::MetadataMap};
use tonic_types::{ErrorDetails, StatusExt};

/// The generated messages, server and client.
#[allow(missing_docs, clippy::all)]
pub mod pb {
    tonic::include_proto!("rides");
}

use pb::{
    QuoteRequest, QuoteResponse, RideType, StartRequest, StartResponse, TrackRequest,
    TrackResponse, rides_server,
};

/// How long before the call's deadline `Quote` gives up, so that its own `DEADLINE_EXCEEDED`
/// reaches the client before the server cancels the call (tonic answers an expired deadline
/// with `CANCELLED "Timeout expired"`).
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(5);

/// The ride service: ids are `ride-1`, `ride-2`, ...; fares are flat, 12.00 for a regular ride
/// and 8.00 for a pool.
#[derive(Clone, Debug, Default)]
pub struct Rides {
    next_id: Arc<AtomicU64>,
    pricing_delay: Duration,
}

impl Rides {
    /// A service whose pricing step takes `delay` (on the tokio clock); it takes no time by
    /// default.
    pub fn with_pricing_delay(delay: Duration) -> Self {
        Self { pricing_delay: delay, ..Self::default() }
    }

    /// The pricing step: a slow call to a pricing engine.
    async fn price(&self, ride_type: RideType) -> QuoteResponse {
        tokio::time::sleep(self.pricing_delay).await;
        let price_cents = match ride_type {
            RideType::Regular => 1200,
            RideType::Pool => 800,
        };
        QuoteResponse { price_cents }
    }
}

/// `INVALID_ARGUMENT "<field>: empty"`, with a `google.rpc.BadRequest` field violation a client
/// can show next to the field.
fn empty(field: &str) -> Status {
    let details = ErrorDetails::with_bad_request_violation(field, "empty");
    Status::with_error_details(Code::InvalidArgument, format!("{field}: empty"), details)
}

#[tonic::async_trait]
impl rides_server::Rides for Rides {
    async fn start(
        &self,
        request: Request<StartRequest>,
    ) -> Result<Response<StartResponse>, Status> {
        let ride = request.into_inner();
        if ride.driver_id.is_empty() {
            return Err(empty("driver_id"));
        }
        if ride.car_id.is_empty() {
            return Err(empty("car_id"));
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        Ok(Response::new(StartResponse { id: format!("ride-{id}") }))
    }

    async fn track(
        &self,
        request: Request<Streaming<TrackRequest>>,
    ) -> Result<Response<TrackResponse>, Status> {
        let mut events = request.into_inner();
        let mut count = 0;
        while let Some(event) = events.message().await? {
            if event.car_id.is_empty() {
                return Err(Status::invalid_argument(format!("event {count}: car_id: empty")));
            }
            count += 1;
        }
        Ok(Response::new(TrackResponse { count }))
    }

    async fn quote(
        &self,
        request: Request<QuoteRequest>,
    ) -> Result<Response<QuoteResponse>, Status> {
        let deadline = deadline(request.metadata());
        let pricing = self.price(request.into_inner().r#type());
        let Some(deadline) = deadline else {
            return Ok(Response::new(pricing.await));
        };
        match tokio::time::timeout(deadline.saturating_sub(DEADLINE_MARGIN), pricing).await {
            Ok(quote) => Ok(Response::new(quote)),
            Err(_) => {
                Err(Status::deadline_exceeded(format!("no price within the {deadline:?} deadline")))
            }
        }
    }
}

/// The deadline the client sent in the `grpc-timeout` header, if any.
fn deadline(metadata: &MetadataMap) -> Option<Duration> {
    parse_grpc_timeout(metadata.get("grpc-timeout")?.to_str().ok()?)
}

/// Parses a `grpc-timeout` value: at most 8 digits and a unit, `H`ours, `M`inutes, `S`econds,
/// `m`illi-, `u` micro- or `n`anoseconds; tonic sends 50 ms as `50000000n`. A malformed value
/// means no deadline, as for tonic's server.
fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let (unit, digits) = value.as_bytes().split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let amount: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(match unit {
        b'H' => Duration::from_secs(amount * 60 * 60),
        b'M' => Duration::from_secs(amount * 60),
        b'S' => Duration::from_secs(amount),
        b'm' => Duration::from_millis(amount),
        b'u' => Duration::from_micros(amount),
        b'n' => Duration::from_nanos(amount),
        _ => return None,
    })
}

/// How long each call took, by method path, as recorded by [`TimingLayer`].
#[derive(Clone, Debug, Default)]
pub struct Timings(Arc<Mutex<Vec<(String, Duration)>>>);

impl Timings {
    /// The recorded `(method, duration)` pairs, oldest first.
    pub fn recorded(&self) -> Vec<(String, Duration)> {
        self.0.lock().unwrap().clone()
    }
}

/// A server layer that times every call until its response headers, through `tokio::time`.
#[derive(Clone, Debug, Default)]
pub struct TimingLayer {
    timings: Timings,
}

impl TimingLayer {
    /// A layer that records into `timings`.
    pub fn new(timings: Timings) -> Self {
        Self { timings }
    }
}

impl<S> tower::Layer<S> for TimingLayer {
    type Service = Timing<S>;

    fn layer(&self, inner: S) -> Timing<S> {
        Timing { inner, timings: self.timings.clone() }
    }
}

/// The service [`TimingLayer`] wraps around each service.
#[derive(Clone, Debug)]
pub struct Timing<S> {
    inner: S,
    timings: Timings,
}

impl<S, B> tower::Service<http::Request<B>> for Timing<S>
where
    S: tower::Service<http::Request<B>> + Send,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = request.uri().path().to_owned();
        let timings = self.timings.clone();
        let started = tokio::time::Instant::now();
        let call = self.inner.call(request);
        Box::pin(async move {
            let result = call.await;
            timings.0.lock().unwrap().push((method, started.elapsed()));
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeout_values_parse_in_every_unit() {
        let parsed = ["1H", "2M", "3S", "50m", "7u", "50000000n"].map(parse_grpc_timeout);

        let expected = [
            Duration::from_secs(3600),
            Duration::from_secs(120),
            Duration::from_secs(3),
            Duration::from_millis(50),
            Duration::from_micros(7),
            Duration::from_millis(50),
        ];
        assert_eq!(parsed, expected.map(Some));
    }

    #[test]
    fn a_malformed_grpc_timeout_is_no_deadline() {
        let parsed =
            ["", "m", "50", "50x", "-1m", "+1m", "123456789n", "1.5S"].map(parse_grpc_timeout);

        assert_eq!(parsed, [None; 8]);
    }
}
