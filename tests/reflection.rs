//! gRPC server reflection on the test server (feature `reflection`): the services listed, a
//! service described, unknown symbols, v1alpha, and the checks made when the server starts;
//! each body over every transport.

mod common;

use common::every_transport;
use prost::Message;
use rstest::rstest;
use rstest_reuse::apply;
use tonic::Code;
use tonic_reflection::pb::{v1, v1alpha};
use tonic_testkit::{StreamOutcome, TestServer, Transport, assert_status, collect};
use tonic_testkit_examples::{
    FILE_DESCRIPTOR_SET,
    rides::{Rides, pb::rides_server::RidesServer},
    users::{Users, pb::user_service_server::UserServiceServer},
};
use v1::{
    ServerReflectionRequest, ServerReflectionResponse,
    server_reflection_client::ServerReflectionClient, server_reflection_request::MessageRequest,
    server_reflection_response::MessageResponse,
};

const REFLECTION_V1: &str = "grpc.reflection.v1.ServerReflection";
const REFLECTION_V1ALPHA: &str = "grpc.reflection.v1alpha.ServerReflection";

/// The users and rides examples with reflection from the examples' set, which also describes
/// orders and hello.
async fn start(transport: Transport) -> TestServer {
    TestServer::builder()
        .transport(transport)
        .add_service(UserServiceServer::new(Users::default()))
        .add_service(RidesServer::new(Rides::default()))
        .reflection(FILE_DESCRIPTOR_SET)
        .start()
        .await
}

/// Sends `requests` on one v1 reflection stream and collects the answers.
async fn ask(
    server: &TestServer,
    requests: impl IntoIterator<Item = MessageRequest>,
) -> StreamOutcome<ServerReflectionResponse> {
    let requests: Vec<_> = requests
        .into_iter()
        .map(|request| ServerReflectionRequest {
            host: String::new(),
            message_request: Some(request),
        })
        .collect();
    let mut client = server.client(ServerReflectionClient::new);
    let replies = client.server_reflection_info(tokio_stream::iter(requests)).await.unwrap();
    collect(replies.into_inner()).await
}

fn listed(response: &ServerReflectionResponse) -> Vec<&str> {
    match &response.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => {
            list.service.iter().map(|service| service.name.as_str()).collect()
        }
        other => panic!("expected a list of services, got {other:?}"),
    }
}

/// The file descriptors of a `FileDescriptorResponse`, decoded.
fn files(response: &ServerReflectionResponse) -> Vec<prost_types::FileDescriptorProto> {
    match &response.message_response {
        Some(MessageResponse::FileDescriptorResponse(files)) => files
            .file_descriptor_proto
            .iter()
            .map(|file| prost_types::FileDescriptorProto::decode(file.as_slice()).unwrap())
            .collect(),
        other => panic!("expected file descriptors, got {other:?}"),
    }
}

#[apply(every_transport)]
#[tokio::test]
async fn lists_the_services_served_and_not_the_rest_of_the_set(transport: Transport) {
    let server = start(transport).await;

    let outcome = ask(&server, [MessageRequest::ListServices(String::new())]).await;

    assert_eq!(outcome.messages().len(), 1, "{transport}");
    assert_eq!(
        listed(&outcome.messages()[0]),
        ["users.UserService", "rides.Rides", REFLECTION_V1, REFLECTION_V1ALPHA],
        "{transport}"
    );
    assert_status!(outcome, Code::Ok);
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn describes_a_service_and_the_files_it_imports(transport: Transport) {
    let server = start(transport).await;

    let outcome = ask(
        &server,
        [
            MessageRequest::FileContainingSymbol("rides.Rides".into()),
            MessageRequest::FileByFilename("google/protobuf/timestamp.proto".into()),
        ],
    )
    .await;

    let [rides, timestamp] = outcome.messages() else {
        panic!("{transport}: expected two answers, got {:?}", outcome.messages());
    };
    let rides = files(rides);
    assert_eq!(rides.len(), 1, "{transport}");
    assert_eq!(rides[0].name(), "rides.proto", "{transport}");
    assert_eq!(rides[0].dependency, ["google/protobuf/timestamp.proto"], "{transport}");
    let methods: Vec<_> = rides[0].service[0].method.iter().map(|m| m.name()).collect();
    assert_eq!(methods, ["Start", "Track", "Quote"], "{transport}");
    let timestamp = files(timestamp);
    assert_eq!(timestamp[0].name(), "google/protobuf/timestamp.proto", "{transport}");
    assert_eq!(timestamp[0].message_type[0].name(), "Timestamp", "{transport}");
    assert_status!(outcome, Code::Ok);
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn a_service_in_the_set_but_not_served_can_still_be_described(transport: Transport) {
    let server = start(transport).await;

    let outcome = ask(&server, [MessageRequest::FileContainingSymbol("orders.Orders".into())]);
    let outcome = outcome.await;

    assert_eq!(files(&outcome.messages()[0])[0].name(), "orders.proto", "{transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn an_unknown_symbol_ends_the_stream_not_found(transport: Transport) {
    let server = start(transport).await;

    let outcome = ask(
        &server,
        [
            MessageRequest::FileContainingSymbol("rides.Nowhere".into()),
            MessageRequest::ListServices(String::new()),
        ],
    )
    .await;

    // tonic-reflection ends the stream with the status (no ErrorResponse message), so the
    // request after it is never answered.
    assert!(outcome.messages().is_empty(), "{transport}: {:?}", outcome.messages());
    assert_status!(outcome, Code::NotFound, "symbol 'rides.Nowhere' not found");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn an_unknown_file_ends_the_stream_not_found(transport: Transport) {
    let server = start(transport).await;

    let outcome = ask(&server, [MessageRequest::FileByFilename("nowhere.proto".into())]).await;

    assert_status!(outcome, Code::NotFound, "file 'nowhere.proto' not found");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn v1alpha_lists_the_same_services(transport: Transport) {
    use v1alpha::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let server = start(transport).await;
    let mut client = server.client(ServerReflectionClient::new);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };

    let replies = client.server_reflection_info(tokio_stream::iter([request])).await.unwrap();
    let outcome = collect(replies.into_inner()).await;

    let Some(MessageResponse::ListServicesResponse(list)) = &outcome.messages()[0].message_response
    else {
        panic!("{transport}: expected a list of services, got {:?}", outcome.messages());
    };
    let names: Vec<_> = list.service.iter().map(|service| service.name.as_str()).collect();
    assert_eq!(
        names,
        ["users.UserService", "rides.Rides", REFLECTION_V1, REFLECTION_V1ALPHA],
        "{transport}"
    );
    server.shutdown().await;
}

#[cfg(feature = "health")]
#[apply(every_transport)]
#[tokio::test]
async fn the_health_service_is_listed_and_described_when_served(transport: Transport) {
    let server = TestServer::builder()
        .transport(transport)
        .add_service(UserServiceServer::new(Users::default()))
        .health()
        .reflection(FILE_DESCRIPTOR_SET)
        .start()
        .await;

    let outcome = ask(
        &server,
        [
            MessageRequest::ListServices(String::new()),
            MessageRequest::FileContainingSymbol("grpc.health.v1.Health".into()),
        ],
    )
    .await;

    assert_eq!(
        listed(&outcome.messages()[0]),
        ["users.UserService", "grpc.health.v1.Health", REFLECTION_V1, REFLECTION_V1ALPHA],
        "{transport}"
    );
    assert_eq!(files(&outcome.messages()[1])[0].package(), "grpc.health.v1", "{transport}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_second_set_describes_a_service_the_first_lacks() {
    let probe_set = prost_types::FileDescriptorSet {
        file: vec![prost_types::FileDescriptorProto {
            name: Some("probe.proto".into()),
            package: Some("probe".into()),
            service: vec![prost_types::ServiceDescriptorProto {
                name: Some("Probe".into()),
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let server = TestServer::builder()
        .add_service(tonic_testkit_support::Probe::new().server())
        .add_service(UserServiceServer::new(Users::default()))
        .reflection(FILE_DESCRIPTOR_SET)
        .reflection(probe_set.encode_to_vec())
        .start()
        .await;

    let outcome = ask(&server, [MessageRequest::ListServices(String::new())]).await;

    assert_eq!(
        listed(&outcome.messages()[0]),
        ["probe.Probe", "users.UserService", REFLECTION_V1, REFLECTION_V1ALPHA]
    );
    server.shutdown().await;
}

#[tokio::test]
#[should_panic(expected = "TestServerBuilder::reflection: the server serves probe.Probe, but no \
                           file descriptor set given to .reflection(..) describes it, so \
                           reflection clients could not use it. The sets describe: \
                           users.UserService, rides.Rides, orders.Orders, hello.HelloService, \
                           grpc.reflection.v1.ServerReflection, \
                           grpc.reflection.v1alpha.ServerReflection. Pass the set compiled from \
                           its .proto file with another .reflection(..) call.")]
async fn a_served_service_that_no_set_describes_panics_at_start() {
    let _server = TestServer::builder()
        .add_service(tonic_testkit_support::Probe::new().server())
        .reflection(FILE_DESCRIPTOR_SET)
        .start()
        .await;
}

#[test]
#[should_panic(expected = "TestServerBuilder::reflection was given 9 bytes that are not an \
                           encoded FileDescriptorSet (failed to decode Protobuf message: ")]
fn bytes_that_are_not_a_descriptor_set_panic_at_once() {
    let _builder = TestServer::builder().reflection(b"not a set".as_slice());
}

#[test]
#[should_panic(expected = "TestServerBuilder::reflection was given a FileDescriptorSet that \
                           reflection cannot serve (invalid FileDescriptorSet - missing name); \
                           pass the set your build wrote, unchanged")]
fn a_set_reflection_cannot_serve_panics_at_once() {
    // One file, with no name.
    let _builder = TestServer::builder().reflection([0x0a, 0x00].as_slice());
}

#[tokio::test]
#[should_panic(expected = "the service grpc.reflection.v1.ServerReflection was added to this \
                           TestServer with add_service(..) and asked for with .reflection(..); \
                           keep one of the two (.reflection(..) serves it for every transport)")]
async fn reflection_added_twice_panics_at_start() {
    let own = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .build_v1()
        .unwrap();
    let _server = TestServer::builder()
        .add_service(UserServiceServer::new(Users::default()))
        .add_service(own)
        .reflection(FILE_DESCRIPTOR_SET)
        .start()
        .await;
}
