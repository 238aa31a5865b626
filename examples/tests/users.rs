//! The users service over the transport `TONIC_TESTKIT_TRANSPORT` chooses (memory by default).

use rstest::{fixture, rstest};
use tonic::Code;
use tonic_testkit::{TestChannel, TestServer, Transport, transport};
use tonic_testkit_examples::users::{
    Users,
    pb::{
        GetUserRequest, ListUsersRequest, user_service_client::UserServiceClient,
        user_service_server::UserServiceServer,
    },
};

#[fixture]
async fn server(transport: Transport) -> TestServer {
    TestServer::builder()
        .transport(transport)
        .add_service(UserServiceServer::new(Users::default()))
        .start()
        .await
}

fn client(server: &TestServer) -> UserServiceClient<TestChannel> {
    server.client(UserServiceClient::new)
}

#[rstest]
#[tokio::test]
#[awt]
async fn gets_an_existing_user(#[future] server: TestServer) {
    let user = client(&server).get_user(GetUserRequest { id: 1 }).await.unwrap().into_inner();

    assert_eq!((user.id, user.name.as_str()), (1, "Ada Lovelace"));
    server.shutdown().await;
}

#[rstest]
#[tokio::test]
#[awt]
async fn an_unknown_user_is_not_found(#[future] server: TestServer) {
    let status = client(&server).get_user(GetUserRequest { id: 2 }).await.unwrap_err();

    assert_eq!((status.code(), status.message()), (Code::NotFound, "User not found"));
    server.shutdown().await;
}

#[rstest]
#[tokio::test]
#[awt]
async fn lists_every_user(#[future] server: TestServer) {
    let users = client(&server).list_users(ListUsersRequest {}).await.unwrap().into_inner().users;

    let ids: Vec<_> = users.iter().map(|user| user.id).collect();
    assert_eq!(ids, [1]);
    server.shutdown().await;
}

#[rstest]
#[tokio::test]
async fn the_same_expectations_hold_over_every_transport(
    #[values(Transport::Direct, Transport::Memory, Transport::Tcp)] transport: Transport,
) {
    let server = server(transport).await;
    let mut client = client(&server);

    let found = client.get_user(GetUserRequest { id: 1 }).await.map(|user| user.into_inner().id);
    let missing = client.get_user(GetUserRequest { id: 42 }).await.unwrap_err();

    assert_eq!(found.unwrap(), 1, "{transport}");
    assert_eq!(missing.code(), Code::NotFound, "{transport}");
    server.shutdown().await;
}
