//! The gRPC health service on the test server (feature `health`): every service SERVING at
//! start, unknown names, flips seen by `Check` and by a `Watch` stream, and the checks on the
//! names a test flips; each body over every transport.

mod common;

use common::every_transport;
use rstest::rstest;
use rstest_reuse::apply;
use tokio_stream::StreamExt;
use tonic::{Code, server::NamedService};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use tonic_testkit::{TestChannel, TestServer, Transport, assert_status};
use tonic_testkit_examples::{
    hello::{Greeter, pb::hello_service_server::HelloServiceServer},
    users::{Users, pb::user_service_server::UserServiceServer},
};

const USERS: &str = "users.UserService";
const HELLO: &str = "hello.HelloService";

async fn start(transport: Transport) -> (TestServer, HealthClient<TestChannel>) {
    let server = TestServer::builder()
        .transport(transport)
        .add_service(UserServiceServer::new(Users::default()))
        .add_service(HelloServiceServer::new(Greeter))
        .health()
        .start()
        .await;
    let client = server.client(HealthClient::new);
    (server, client)
}

fn service(name: &str) -> HealthCheckRequest {
    HealthCheckRequest { service: name.to_owned() }
}

async fn check(client: &mut HealthClient<TestChannel>, name: &str) -> ServingStatus {
    client.check(service(name)).await.unwrap().into_inner().status()
}

#[apply(every_transport)]
#[tokio::test]
async fn every_service_and_the_server_are_serving_at_start(transport: Transport) {
    let (server, mut client) = start(transport).await;

    let statuses = [
        check(&mut client, "").await,
        check(&mut client, USERS).await,
        check(&mut client, HELLO).await,
    ];

    assert_eq!(statuses, [ServingStatus::Serving; 3], "{transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn an_unknown_service_is_not_found_by_check_and_by_watch(transport: Transport) {
    let (server, mut client) = start(transport).await;

    let checked = client.check(service("users.Users")).await;
    let watched = client.watch(service("users.Users")).await;

    assert_status!(checked, Code::NotFound, "service not registered");
    assert_status!(watched.map(|_| ()), Code::NotFound, "service not registered");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn a_service_flipped_to_not_serving_and_back_is_seen_by_check(transport: Transport) {
    let (server, mut client) = start(transport).await;

    server.health().set_not_serving(USERS).await;
    let flipped = [check(&mut client, USERS).await, check(&mut client, HELLO).await];
    server.health().set_serving(USERS).await;
    let back = check(&mut client, USERS).await;

    assert_eq!(flipped, [ServingStatus::NotServing, ServingStatus::Serving], "{transport}");
    assert_eq!(back, ServingStatus::Serving, "{transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn a_watch_stream_sees_each_flip(transport: Transport) {
    let (server, mut client) = start(transport).await;
    let mut watch = client.watch(service(USERS)).await.unwrap().into_inner();
    let mut next = async || watch.next().await.unwrap().unwrap().status();

    let initial = next().await;
    server.health().set_not_serving(USERS).await;
    let flipped = next().await;
    server.health().set_serving(USERS).await;
    let back = next().await;

    assert_eq!(
        [initial, flipped, back],
        [ServingStatus::Serving, ServingStatus::NotServing, ServingStatus::Serving],
        "{transport}"
    );
    drop(watch); // a watch never ends by itself: end it before shutdown
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn the_whole_server_can_be_flipped(transport: Transport) {
    let (server, mut client) = start(transport).await;

    server.health().set_not_serving("").await;

    assert_eq!(check(&mut client, "").await, ServingStatus::NotServing, "{transport}");
    assert_eq!(check(&mut client, USERS).await, ServingStatus::Serving, "{transport}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_generated_servers_name_flips_its_service() {
    let (server, mut client) = start(Transport::Memory).await;

    server.health().set_not_serving(UserServiceServer::<Users>::NAME).await;

    assert_eq!(check(&mut client, USERS).await, ServingStatus::NotServing);
    server.shutdown().await;
}

#[tokio::test]
#[should_panic(expected = "Health::set_not_serving(\"users.Users\"): the server serves no \
                           service of that name, so its health cannot change. It reports \"\" \
                           (the whole server), \"users.UserService\", \"hello.HelloService\". \
                           Pass one of these names (a generated server's is \
                           `XServer::<T>::NAME`), or add the service to the server with \
                           .add_service(..).")]
async fn flipping_a_service_the_server_does_not_serve_panics_with_the_names_it_has() {
    let (server, _client) = start(Transport::Memory).await;

    // Panics at the call, before any await.
    let _flip = server.health().set_not_serving("users.Users");
}

#[tokio::test]
#[should_panic(expected = "Health::set_serving(\"grpc.health.v1.Health\"): the server serves no \
                           service of that name")]
async fn the_health_service_itself_has_no_health_to_flip() {
    let (server, _client) = start(Transport::Memory).await;

    server.health().set_serving("grpc.health.v1.Health").await;
}

#[tokio::test]
#[should_panic(expected = "TestServer::health(): this server has no health service; start it \
                           with TestServer::builder().health() (feature `health`) to serve \
                           grpc.health.v1.Health")]
async fn asking_for_health_without_the_health_service_panics_with_the_fix() {
    let server =
        TestServer::builder().add_service(UserServiceServer::new(Users::default())).start().await;

    let _ = server.health();
}

#[tokio::test]
#[should_panic(expected = "the service grpc.health.v1.Health was added to this TestServer with \
                           add_service(..) and asked for with .health(); keep one of the two \
                           (.health() serves it for every transport)")]
async fn a_health_service_added_twice_panics_at_start() {
    let (_reporter, own) = tonic_health::server::health_reporter();
    let _server = TestServer::builder()
        .add_service(UserServiceServer::new(Users::default()))
        .add_service(own)
        .health()
        .start()
        .await;
}
