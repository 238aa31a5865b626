//! The users service: its logic called directly over a mocked store (no server), and full round
//! trips over the transport `TONIC_TESTKIT_TRANSPORT` chooses (memory by default).

mod common;

use common::every_transport;
use mockall::{mock, predicate::eq};
use rstest::{fixture, rstest};
use rstest_reuse::apply;
use tonic::{Code, Request};
use tonic_testkit::fixtures::transport;
use tonic_testkit::{TestChannel, TestRequest, TestServer, Transport, assert_status};
use tonic_testkit_examples::users::{
    StoreError, UserStore, Users,
    pb::{
        GetUserRequest, ListUsersRequest, User,
        user_service_client::UserServiceClient,
        user_service_server::{UserService, UserServiceServer},
    },
};

mock! {
    Store {}
    impl UserStore for Store {
        fn find(&self, id: i32) -> Result<Option<User>, StoreError>;
        fn all(&self) -> Result<Vec<User>, StoreError>;
    }
}

fn grace() -> User {
    User { id: 7, name: "Grace Hopper".to_owned(), email: "grace@example.com".to_owned() }
}

fn get_user(id: i32) -> Request<GetUserRequest> {
    TestRequest::new(GetUserRequest { id }).into()
}

// Service logic, no server: the handler called directly, the store mocked.

#[tokio::test]
async fn a_user_in_the_store_is_returned() {
    let mut store = MockStore::new();
    store.expect_find().returning(|_| Ok(Some(grace())));

    let user = Users::with_store(store).get_user(get_user(7)).await.unwrap().into_inner();

    assert_eq!(user, grace());
}

#[tokio::test]
async fn a_user_missing_from_the_store_is_not_found() {
    let mut store = MockStore::new();
    store.expect_find().returning(|_| Ok(None));

    let result = Users::with_store(store).get_user(get_user(7)).await;

    assert_status!(result, Code::NotFound, "User not found");
}

#[tokio::test]
async fn a_store_failure_is_unavailable() {
    let mut store = MockStore::new();
    store.expect_find().returning(|_| Err(StoreError("connection refused".to_owned())));

    let result = Users::with_store(store).get_user(get_user(7)).await;

    assert_status!(result, Code::Unavailable, "user store unavailable");
}

#[tokio::test]
async fn the_store_is_asked_once_for_the_requested_id() {
    let mut store = MockStore::new();
    store.expect_find().with(eq(7)).times(1).returning(|_| Ok(None));
    let users = Users::with_store(store);

    let result = users.get_user(get_user(7)).await;

    assert_status!(result, Code::NotFound);
    drop(users); // the mock checks `times(1)` here: no call, or a second one, fails the test
}

#[tokio::test]
async fn listing_fails_unavailable_when_the_store_does() {
    let mut store = MockStore::new();
    store.expect_all().returning(|| Err(StoreError("timed out".to_owned())));

    let result =
        Users::with_store(store).list_users(TestRequest::new(ListUsersRequest {}).into()).await;

    assert_status!(result, Code::Unavailable, "user store unavailable");
}

// Full round trips over a server, with the default in-memory store.

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

#[apply(every_transport)]
#[tokio::test]
async fn the_same_expectations_hold_over_every_transport(transport: Transport) {
    let server = server(transport).await;
    let mut client = client(&server);

    let found = client.get_user(GetUserRequest { id: 1 }).await.map(|user| user.into_inner().id);
    let missing = client.get_user(GetUserRequest { id: 42 }).await.unwrap_err();

    assert_eq!(found.unwrap(), 1, "{transport}");
    assert_eq!(missing.code(), Code::NotFound, "{transport}");
    server.shutdown().await;
}

#[rstest]
#[tokio::test]
async fn a_store_failure_is_unavailable_over_a_server(transport: Transport) {
    let mut store = MockStore::new();
    store.expect_find().with(eq(7)).times(1).returning(|_| Err(StoreError("down".to_owned())));
    let server = TestServer::builder()
        .transport(transport)
        .add_service(UserServiceServer::new(Users::with_store(store)))
        .start()
        .await;

    let result = client(&server).get_user(GetUserRequest { id: 7 }).await;

    assert_status!(result, Code::Unavailable, "user store unavailable");
    server.shutdown().await;
}

// Fuzzing: every method called with requests built from the descriptors; and the handler
// alone, with the same requests, in a proptest of its own.

#[rstest]
#[tokio::test]
async fn no_request_breaks_the_users_service(#[future] server: TestServer) {
    let server = server.await;

    let summary = server.fuzz(tonic_testkit_examples::FILE_DESCRIPTOR_SET).await;

    // Ids past the store's are not found; the known ones are answered.
    let get_user = "/users.UserService/GetUser";
    assert!(summary.count(get_user, Code::NotFound) > 0, "{summary}");
    assert!(summary.count(get_user, Code::Ok) > 0, "{summary}");
}

proptest::proptest! {
    #[test]
    fn get_user_answers_a_user_or_not_found_for_any_id(
        request in tonic_testkit::fuzz::message::<GetUserRequest>(tonic_testkit_examples::FILE_DESCRIPTOR_SET),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let id = request.id;

        let result = runtime.block_on(Users::default().get_user(TestRequest::new(request).into()));

        match result {
            Ok(user) => proptest::prop_assert_eq!(user.into_inner().id, id),
            Err(status) => proptest::prop_assert_eq!(status.code(), Code::NotFound),
        }
    }
}
