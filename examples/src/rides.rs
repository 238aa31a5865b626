//! `rides.Rides`: start a ride, track a car; with a timing layer on the server.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use tonic::{Request, Response, Status, Streaming};

/// The generated messages, server and client.
#[allow(missing_docs, clippy::all)]
pub mod pb {
    tonic::include_proto!("rides");
}

use pb::{StartRequest, StartResponse, TrackRequest, TrackResponse, rides_server};

/// The ride service: ids are `ride-1`, `ride-2`, ...
#[derive(Clone, Debug, Default)]
pub struct Rides {
    next_id: Arc<AtomicU64>,
}

#[tonic::async_trait]
impl rides_server::Rides for Rides {
    async fn start(
        &self,
        request: Request<StartRequest>,
    ) -> Result<Response<StartResponse>, Status> {
        let ride = request.into_inner();
        if ride.driver_id.is_empty() {
            return Err(Status::invalid_argument("driver_id: empty"));
        }
        if ride.car_id.is_empty() {
            return Err(Status::invalid_argument("car_id: empty"));
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
