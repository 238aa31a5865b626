//! The rides service, with its timing layer, over the transport `TONIC_TESTKIT_TRANSPORT`
//! chooses (memory by default).

use rstest::{fixture, rstest};
use tonic::Code;
use tonic_testkit::{TestChannel, TestServer, Transport, transport};
use tonic_testkit_examples::rides::{
    Rides, TimingLayer, Timings,
    pb::{
        Location, RideType, StartRequest, TrackRequest, rides_client::RidesClient,
        rides_server::RidesServer,
    },
};

struct Fixture {
    server: TestServer,
    client: RidesClient<TestChannel>,
    timings: Timings,
}

#[fixture]
async fn rides(transport: Transport) -> Fixture {
    let timings = Timings::default();
    let server = TestServer::builder()
        .transport(transport)
        .add_service(RidesServer::new(Rides::default()))
        .layer(TimingLayer::new(timings.clone()))
        .start()
        .await;
    let client = server.client(RidesClient::new);
    Fixture { server, client, timings }
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

#[rstest]
#[tokio::test]
#[awt]
async fn an_empty_driver_id_is_an_invalid_argument_naming_the_field(#[future] rides: Fixture) {
    let Fixture { server, mut client, .. } = rides;

    let status = client.start(ride("")).await.unwrap_err();

    assert_eq!((status.code(), status.message()), (Code::InvalidArgument, "driver_id: empty"));
    server.shutdown().await;
}

#[rstest]
#[tokio::test]
#[awt]
async fn tracking_counts_the_events(#[future] rides: Fixture) {
    let Fixture { server, mut client, .. } = rides;
    let events = tokio_stream::iter([event("car-7"), event("car-7"), event("car-7")]);

    let reply = client.track(events).await.unwrap().into_inner();

    assert_eq!(reply.count, 3);
    server.shutdown().await;
}

#[rstest]
#[tokio::test]
#[awt]
async fn tracking_rejects_an_event_without_a_car(#[future] rides: Fixture) {
    let Fixture { server, mut client, .. } = rides;
    let events = tokio_stream::iter([event("car-7"), event(""), event("car-7")]);

    let status = client.track(events).await.unwrap_err();

    assert_eq!(
        (status.code(), status.message()),
        (Code::InvalidArgument, "event 1: car_id: empty")
    );
    server.shutdown().await;
}

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
