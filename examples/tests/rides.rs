//! The rides service: its handlers called directly, and full round trips with its timing layer
//! over the transport `TONIC_TESTKIT_TRANSPORT` chooses (memory by default).
//!
//! A behaviour checked both ways keeps its expectations in one `expect_*` function, called by
//! the direct test and by its `_over_a_server` twin.

use std::time::Duration;

use rstest::{fixture, rstest};
use tokio::time::Instant;
use tonic::{Code, Request, Response, Status};
use tonic_testkit::fixtures::transport;
use tonic_testkit::{
    TestChannel, TestRequest, TestServer, Transport, assert_field_violation, assert_status,
};
use tonic_testkit_examples::rides::{
    DEADLINE_MARGIN, Rides, TimingLayer, Timings,
    pb::{
        Location, QuoteRequest, QuoteResponse, RideType, StartRequest, StartResponse, TrackRequest,
        TrackResponse,
        rides_client::RidesClient,
        rides_server::{Rides as _, RidesServer},
    },
};

struct Fixture {
    server: TestServer,
    client: RidesClient<TestChannel>,
    timings: Timings,
}

async fn serve(transport: Transport, rides: Rides) -> Fixture {
    let timings = Timings::default();
    let server = TestServer::builder()
        .transport(transport)
        .add_service(RidesServer::new(rides))
        .layer(TimingLayer::new(timings.clone()))
        .start()
        .await;
    let client = server.client(RidesClient::new);
    Fixture { server, client, timings }
}

#[fixture]
async fn rides(transport: Transport) -> Fixture {
    serve(transport, Rides::default()).await
}

fn ride(driver_id: &str) -> StartRequest {
    StartRequest {
        car_id: "car-7".to_owned(),
        driver_id: driver_id.to_owned(),
        passenger_ids: vec!["p-1".to_owned(), "p-2".to_owned()],
        r#type: RideType::Pool.into(),
        location: Some(Location { lat: 32.5149, lng: -117.0382 }),
        time: Some(prost_types::Timestamp { seconds: 1_700_000_000, nanos: 0 }),
    }
}

fn event(car_id: &str) -> TrackRequest {
    TrackRequest { car_id: car_id.to_owned(), location: Some(Location::default()), time: None }
}

/// A pool ride to price, within a 50 ms deadline.
fn pool_quote() -> Request<QuoteRequest> {
    TestRequest::new(QuoteRequest { r#type: RideType::Pool.into() })
        .timeout(Duration::from_millis(50))
        .into()
}

// Start (unary)

fn expect_driver_id_rejected(result: Result<Response<StartResponse>, Status>) {
    assert_status!(result, Code::InvalidArgument, "driver_id: empty");
    assert_field_violation!(result, "driver_id", "empty");
}

#[tokio::test]
async fn an_empty_driver_id_is_rejected_with_a_field_violation() {
    let request = TestRequest::new(ride(""));

    let result = Rides::default().start(request.into()).await;

    expect_driver_id_rejected(result);
}

#[rstest]
#[tokio::test]
#[awt]
async fn an_empty_driver_id_is_rejected_with_a_field_violation_over_a_server(
    #[future] rides: Fixture,
) {
    let Fixture { server, mut client, .. } = rides;

    let result = client.start(ride("")).await;

    expect_driver_id_rejected(result);
    server.shutdown().await;
}

#[tokio::test]
async fn an_empty_car_id_is_rejected_with_a_field_violation() {
    let request = TestRequest::new(StartRequest { car_id: String::new(), ..ride("driver-1") });

    let result = Rides::default().start(request.into()).await;

    assert_status!(result, Code::InvalidArgument, "car_id: empty");
    assert_field_violation!(result, "car_id", "empty");
}

#[rstest]
#[tokio::test]
#[awt]
async fn starts_a_ride(#[future] rides: Fixture) {
    let Fixture { server, mut client, .. } = rides;

    let first = client.start(ride("driver-1")).await.unwrap().into_inner();
    let second = client.start(ride("driver-2")).await.unwrap().into_inner();

    assert_eq!((first.id.as_str(), second.id.as_str()), ("ride-1", "ride-2"));
    server.shutdown().await;
}

// Track (client streaming)

fn expect_counted(result: Result<Response<TrackResponse>, Status>, events: i64) {
    assert_eq!(result.unwrap().into_inner().count, events);
}

#[tokio::test]
async fn tracking_counts_the_events() {
    let request = TestRequest::stream([event("car-7"), event("car-7"), event("car-7")]);

    let result = Rides::default().track(request.into()).await;

    expect_counted(result, 3);
}

#[rstest]
#[tokio::test]
#[awt]
async fn tracking_counts_the_events_over_a_server(#[future] rides: Fixture) {
    let Fixture { server, mut client, .. } = rides;
    let events = tokio_stream::iter([event("car-7"), event("car-7"), event("car-7")]);

    let result = client.track(events).await;

    expect_counted(result, 3);
    server.shutdown().await;
}

fn expect_second_event_rejected(result: Result<Response<TrackResponse>, Status>) {
    assert_status!(result, Code::InvalidArgument, "event 1: car_id: empty");
}

#[tokio::test]
async fn tracking_rejects_an_event_without_a_car() {
    let request = TestRequest::stream([event("car-7"), event(""), event("car-7")]);

    let result = Rides::default().track(request.into()).await;

    expect_second_event_rejected(result);
}

#[rstest]
#[tokio::test]
#[awt]
async fn tracking_rejects_an_event_without_a_car_over_a_server(#[future] rides: Fixture) {
    let Fixture { server, mut client, .. } = rides;
    let events = tokio_stream::iter([event("car-7"), event(""), event("car-7")]);

    let result = client.track(events).await;

    expect_second_event_rejected(result);
    server.shutdown().await;
}

#[tokio::test]
async fn a_failing_client_stream_ends_tracking_with_its_status() {
    let items = [Ok(event("car-7")), Err(Status::aborted("gps lost")), Ok(event("car-7"))];
    let request = TestRequest::stream_results(items);

    let result = Rides::default().track(request.into()).await;

    assert_status!(result, Code::Aborted, "gps lost");
}

// Quote (unary, within the call's deadline; the clock is paused, so nothing really waits)

fn expect_no_price_in_time(result: Result<Response<QuoteResponse>, Status>, waited: Duration) {
    assert_status!(result, Code::DeadlineExceeded, "no price within the 50ms deadline");
    assert_eq!(waited, Duration::from_millis(50) - DEADLINE_MARGIN, "gave up before the deadline");
}

#[tokio::test(start_paused = true)]
async fn a_quote_slower_than_the_deadline_is_deadline_exceeded() {
    let rides = Rides::with_pricing_delay(Duration::from_millis(80));
    let started = Instant::now();

    let result = rides.quote(pool_quote()).await;

    expect_no_price_in_time(result, started.elapsed());
}

#[rstest]
#[tokio::test(start_paused = true)]
async fn a_quote_slower_than_the_deadline_is_deadline_exceeded_over_a_server(transport: Transport) {
    let Fixture { server, mut client, .. } =
        serve(transport, Rides::with_pricing_delay(Duration::from_millis(80))).await;
    let started = Instant::now();

    let result = client.quote(pool_quote()).await;

    // The handler's own answer, not the server's `CANCELLED "Timeout expired"`.
    expect_no_price_in_time(result, started.elapsed());
    server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_quote_within_the_deadline_is_priced() {
    let rides = Rides::with_pricing_delay(Duration::from_millis(30));

    let result = rides.quote(pool_quote()).await;

    assert_eq!(result.unwrap().into_inner().price_cents, 800);
}

// The server's layer

#[rstest]
#[tokio::test(start_paused = true)]
#[awt]
async fn the_timing_layer_times_every_call(#[future] rides: Fixture) {
    let Fixture { server, mut client, timings } = rides;

    client.start(ride("driver-1")).await.unwrap();
    client.track(tokio_stream::iter([event("car-7")])).await.unwrap();

    let methods: Vec<_> = timings.recorded().into_iter().map(|(method, _)| method).collect();
    assert_eq!(methods, ["/rides.Rides/Start", "/rides.Rides/Track"]);
    server.shutdown().await;
}

// Fuzzing: every method called with requests built from the descriptors (timestamps at and past
// their range, unknown ride types, empty and long ids).

#[rstest]
#[tokio::test(start_paused = true)]
async fn no_request_breaks_the_rides_service(#[future] rides: Fixture) {
    let Fixture { server, .. } = rides.await;

    let summary = server.fuzz(tonic_testkit_examples::FILE_DESCRIPTOR_SET).await;

    assert_eq!(summary.methods().len(), 3, "{summary}");
}
