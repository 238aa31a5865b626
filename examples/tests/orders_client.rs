//! The orders client library (`orders_client`), tested against mock servers only: a
//! `MockOrders`, made by `#[mockall::automock]` on the generated server trait (see build.rs),
//! served by a `TestServer`. The mock scripts what the service answers and checks what the
//! client sent; the server's journal shows every call the client made.
//!
//! Retries wait on the tokio clock, so those tests run with `start_paused = true` and measure
//! the exact schedule without waiting for it.

mod common;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use common::every_transport;
use mockall::Sequence;
use rstest::rstest;
use rstest_reuse::apply;
use tokio::time::Instant;
use tonic::{Code, Request, Response, Status};
use tonic_testkit::fixtures::transport;
use tonic_testkit::mock::BoxStream;
use tonic_testkit::{
    Reply, Stub, TestChannel, TestServer, Transport, assert_metadata, assert_status,
};
use tonic_testkit_examples::{
    orders::pb::{
        Address, OrderEvent, OrderStatus, RegisterOrderRequest, RegisterOrderResponse,
        WatchOrderRequest,
        orders_server::{MockOrders, OrdersServer},
    },
    orders_client::{OrdersClient, OrdersError, RetryPolicy},
};

const REGISTER: &str = "/orders.Orders/RegisterOrder";
const WATCH: &str = "/orders.Orders/WatchOrder";
const TOKEN: &str = "t0ken";
const BEARER: &str = "Bearer t0ken";

async fn serve(mock: MockOrders, transport: Transport) -> (TestServer, OrdersClient<TestChannel>) {
    let server = TestServer::builder()
        .transport(transport)
        .add_service(OrdersServer::new(mock))
        .start()
        .await;
    let client = OrdersClient::new(server.channel(), TOKEN).unwrap();
    (server, client)
}

fn address() -> Address {
    Address {
        street: "Rua Augusta 1".to_owned(),
        city: "Lisbon".to_owned(),
        zip: "1100".to_owned(),
    }
}

/// What `register(..)` sends.
fn order() -> RegisterOrderRequest {
    RegisterOrderRequest {
        customer_id: "c-1".to_owned(),
        items: vec!["book".to_owned(), "pen".to_owned()],
        address: Some(address()),
    }
}

async fn register(client: &OrdersClient<TestChannel>) -> Result<String, OrdersError> {
    client.register_order("c-1", ["book", "pen"], address()).await
}

fn authorized<T>(request: &Request<T>) -> bool {
    request.metadata().get("authorization").is_some_and(|value| value == BEARER)
}

fn registered(order_id: &str) -> Result<Response<RegisterOrderResponse>, Status> {
    Reply::message(RegisterOrderResponse { order_id: order_id.to_owned() }).unary()
}

/// A mock whose `RegisterOrder` answers `UNAVAILABLE` `times` times, noting when each call came.
fn unavailable(
    mock: &mut MockOrders,
    times: usize,
    seq: &mut Sequence,
) -> Arc<Mutex<Vec<Instant>>> {
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let noted = arrivals.clone();
    mock.expect_register_order().times(times).in_sequence(seq).returning(move |_| {
        noted.lock().unwrap().push(Instant::now());
        Err(Status::unavailable("down for maintenance"))
    });
    arrivals
}

fn gaps(arrivals: &Mutex<Vec<Instant>>) -> Vec<Duration> {
    arrivals.lock().unwrap().windows(2).map(|pair| pair[1] - pair[0]).collect()
}

const fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

// RegisterOrder

#[apply(every_transport)]
#[tokio::test]
async fn registering_an_order_returns_its_id_after_one_authorized_call(transport: Transport) {
    let mut mock = MockOrders::new();
    mock.expect_register_order()
        .withf(|request| authorized(request) && *request.get_ref() == order())
        .times(1)
        .returning(|_| registered("order-7"));
    let (server, client) = serve(mock, transport).await;

    let order_id = register(&client).await.unwrap();

    assert_eq!(order_id, "order-7");
    let calls = server.calls_to(REGISTER);
    assert_eq!(calls.len(), 1, "over {transport}: {calls:?}");
    assert_metadata!(calls[0].metadata(), "authorization", BEARER);
    assert_eq!(calls[0].request::<RegisterOrderRequest>(0), order());
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn a_status_other_than_unavailable_is_returned_at_once(transport: Transport) {
    let mut mock = MockOrders::new();
    mock.expect_register_order()
        .times(1)
        .returning(|_| Err(Status::invalid_argument("items: unknown item \"pen\"")));
    let (server, client) = serve(mock, transport).await;
    let start = Instant::now();

    let error = register(&client).await.unwrap_err();

    assert_eq!(
        error.to_string(),
        r#"RegisterOrder failed: InvalidArgument "items: unknown item \"pen\"""#
    );
    let OrdersError::Rpc { method: "RegisterOrder", status } = &error else { panic!("{error:?}") };
    assert_status!(status, Code::InvalidArgument, "items: unknown item \"pen\"");
    assert_eq!((start.elapsed(), server.calls_to(REGISTER).len()), (Duration::ZERO, 1));
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn unavailable_is_retried_with_exponential_backoff_until_the_attempts_run_out(
    transport: Transport,
) {
    let mut mock = MockOrders::new();
    let arrivals = unavailable(&mut mock, 4, &mut Sequence::new());
    let (server, client) = serve(mock, transport).await;

    let error = register(&client).await.unwrap_err();

    assert_eq!(
        error.to_string(),
        r#"RegisterOrder was unavailable for 4 attempts: Unavailable "down for maintenance""#
    );
    let OrdersError::RetriesExhausted { attempts: 4, last } = &error else { panic!("{error:?}") };
    assert_status!(last, Code::Unavailable, "down for maintenance");
    assert_eq!(gaps(&arrivals), [ms(100), ms(200), ms(400)], "over {transport}");
    let calls = server.calls_to(REGISTER);
    assert_eq!(calls.len(), 4, "over {transport}: {calls:?}");
    for call in &calls {
        assert_metadata!(call.metadata(), "authorization", BEARER);
        assert_eq!(call.request::<RegisterOrderRequest>(0), order());
    }
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn an_order_unavailable_twice_is_registered_on_the_third_attempt(transport: Transport) {
    let mut mock = MockOrders::new();
    let mut seq = Sequence::new();
    let arrivals = unavailable(&mut mock, 2, &mut seq);
    let noted = arrivals.clone();
    mock.expect_register_order().times(1).in_sequence(&mut seq).returning(move |_| {
        noted.lock().unwrap().push(Instant::now());
        registered("order-7")
    });
    let (server, client) = serve(mock, transport).await;

    let order_id = register(&client).await.unwrap();

    assert_eq!(order_id, "order-7");
    assert_eq!(gaps(&arrivals), [ms(100), ms(200)], "over {transport}");
    let codes: Vec<_> = server.calls_to(REGISTER).iter().map(|call| call.code()).collect();
    assert_eq!(codes, [Some(Code::Unavailable), Some(Code::Unavailable), Some(Code::Ok)]);
    server.shutdown().await;
}

#[rstest]
#[tokio::test(start_paused = true)]
async fn backoff_grows_by_the_multiplier_up_to_the_cap(transport: Transport) {
    let mut mock = MockOrders::new();
    let arrivals = unavailable(&mut mock, 5, &mut Sequence::new());
    let (server, client) = serve(mock, transport).await;
    let policy = RetryPolicy {
        max_attempts: 5,
        initial_backoff: ms(100),
        multiplier: 3.0,
        max_backoff: ms(500),
    };
    let client = client.with_retry_policy(policy);

    let error = register(&client).await.unwrap_err();

    assert!(matches!(error, OrdersError::RetriesExhausted { attempts: 5, .. }), "{error:?}");
    assert_eq!(gaps(&arrivals), [ms(100), ms(300), ms(500), ms(500)]);
    server.shutdown().await;
}

#[rstest]
#[tokio::test]
async fn a_token_that_is_not_a_header_value_is_refused_before_any_call(transport: Transport) {
    let (server, _) = serve(MockOrders::new(), transport).await;

    let error = OrdersClient::new(server.channel(), "t0ken\r\nx-admin: true").unwrap_err();

    assert_eq!(error.to_string(), "the auth token is not a valid header value");
    assert!(matches!(error, OrdersError::InvalidToken(_)), "{error:?}");
    server.shutdown().await;
}

// WatchOrder

fn event(order_id: &str, status: OrderStatus) -> Result<OrderEvent, Status> {
    Ok(OrderEvent { order_id: order_id.to_owned(), status: status.into() })
}

/// A mock whose `WatchOrder` for `order-1`, with the auth header, streams `items` once.
fn watching(items: Vec<Result<OrderEvent, Status>>) -> MockOrders {
    let mut mock = MockOrders::new();
    mock.expect_watch_order()
        .withf(|request| authorized(request) && request.get_ref().order_id == "order-1")
        .times(1)
        .return_once(move |_| {
            let events: BoxStream<OrderEvent> = Box::pin(tokio_stream::iter(items));
            Ok(Response::new(events))
        });
    mock
}

#[apply(every_transport)]
#[tokio::test]
async fn a_watched_order_becomes_its_timeline_without_repeats(transport: Transport) {
    use OrderStatus::{Confirmed, Delivered, Pending, Shipped};
    let statuses = [Pending, Confirmed, Confirmed, Shipped, Shipped, Shipped, Delivered];
    let mock = watching(statuses.map(|status| event("order-1", status)).into());
    let (server, client) = serve(mock, transport).await;

    let timeline = client.watch_order("order-1").await.unwrap();

    assert_eq!(timeline.order_id(), "order-1");
    assert_eq!(timeline.statuses(), [Pending, Confirmed, Shipped, Delivered]);
    let calls = server.calls_to(WATCH);
    assert_eq!(calls.len(), 1, "over {transport}: {calls:?}");
    assert_eq!(calls[0].request::<WatchOrderRequest>(0).order_id, "order-1");
    assert_eq!((calls[0].response_count(), calls[0].code()), (7, Some(Code::Ok)));
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn a_stream_that_breaks_off_keeps_the_timeline_so_far_and_the_status(transport: Transport) {
    let mock = watching(vec![
        event("order-1", OrderStatus::Pending),
        event("order-1", OrderStatus::Confirmed),
        Err(Status::unavailable("tracking offline")),
        event("order-1", OrderStatus::Shipped),
    ]);
    let (server, client) = serve(mock, transport).await;

    let error = client.watch_order("order-1").await.unwrap_err();

    assert_eq!(
        error.to_string(),
        r#"WatchOrder("order-1") broke off after [Pending, Confirmed]: Unavailable "tracking offline""#
    );
    let OrdersError::StreamBroken { timeline, status } = &error else { panic!("{error:?}") };
    assert_eq!(timeline.statuses(), [OrderStatus::Pending, OrderStatus::Confirmed]);
    assert_status!(status, Code::Unavailable, "tracking offline");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn an_event_for_another_order_is_an_error(transport: Transport) {
    let mock = watching(vec![
        event("order-1", OrderStatus::Pending),
        event("order-2", OrderStatus::Shipped),
        event("order-1", OrderStatus::Confirmed),
    ]);
    let (server, client) = serve(mock, transport).await;

    let error = client.watch_order("order-1").await.unwrap_err();

    assert_eq!(
        error.to_string(),
        r#"WatchOrder("order-1") sent an event for order "order-2" after [Pending]"#
    );
    let OrdersError::OrderMismatch { timeline, actual } = &error else { panic!("{error:?}") };
    assert_eq!((timeline.statuses(), actual.as_str()), (&[OrderStatus::Pending][..], "order-2"));
    server.shutdown().await;
}

#[rstest]
#[tokio::test]
async fn a_status_the_client_does_not_know_is_an_error(transport: Transport) {
    let unknown = OrderEvent { order_id: "order-1".to_owned(), status: 9 };
    let mock = watching(vec![event("order-1", OrderStatus::Pending), Ok(unknown)]);
    let (server, client) = serve(mock, transport).await;

    let error = client.watch_order("order-1").await.unwrap_err();

    assert_eq!(error.to_string(), r#"WatchOrder("order-1") sent unknown status 9 after [Pending]"#);
    assert!(matches!(error, OrdersError::UnknownStatus { value: 9, .. }), "{error:?}");
    server.shutdown().await;
}

#[rstest]
#[tokio::test]
async fn a_refused_watch_is_an_error_without_a_timeline(transport: Transport) {
    let mut mock = MockOrders::new();
    mock.expect_watch_order()
        .times(1)
        .returning(|_| Err(Status::not_found("order \"order-1\" not found")));
    let (server, client) = serve(mock, transport).await;

    let error = client.watch_order("order-1").await.unwrap_err();

    assert_eq!(error.to_string(), r#"WatchOrder failed: NotFound "order \"order-1\" not found""#);
    assert!(matches!(error, OrdersError::Rpc { method: "WatchOrder", .. }), "{error:?}");
    server.shutdown().await;
}

// The same stories told by a Stub: scripted answers per method, no mock, no trait impl.

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn a_stub_scripts_two_outages_then_the_order_id(transport: Transport) {
    let stub = Stub::new();
    stub.on(REGISTER).replies([
        Reply::status(Status::unavailable("down for maintenance")),
        Reply::status(Status::unavailable("down for maintenance")),
        Reply::message(RegisterOrderResponse { order_id: "order-7".to_owned() }),
    ]);
    let server = TestServer::builder().transport(transport).add_stub(&stub).start().await;
    let client = OrdersClient::new(server.channel(), TOKEN).unwrap();
    let start = Instant::now();

    let order_id = register(&client).await.unwrap();

    assert_eq!((order_id.as_str(), start.elapsed()), ("order-7", ms(300)), "over {transport}");
    server.verify().await;
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn a_stub_stream_that_breaks_off_after_slow_events(transport: Transport) {
    let stub = Stub::new();
    let events = [OrderStatus::Pending, OrderStatus::Confirmed]
        .map(|status| OrderEvent { order_id: "order-1".to_owned(), status: status.into() });
    stub.on(WATCH).times(1).reply(
        Reply::stream(events)
            .interval(Duration::from_secs(60))
            .end_with(Status::unavailable("tracking offline")),
    );
    let server = TestServer::builder().transport(transport).add_stub(&stub).start().await;
    let client = OrdersClient::new(server.channel(), TOKEN).unwrap();
    let start = Instant::now();

    let error = client.watch_order("order-1").await.unwrap_err();

    assert_eq!(
        error.to_string(),
        r#"WatchOrder("order-1") broke off after [Pending, Confirmed]: Unavailable "tracking offline""#
    );
    assert_eq!(start.elapsed(), Duration::from_secs(60), "over {transport}");
    assert_metadata!(server.calls_to(WATCH)[0].metadata(), "authorization", BEARER);
    server.verify().await;
    server.shutdown().await;
}

// A Stub that knows the service: rules that check what the client sends, how many calls each
// phase expects, and the report of a call that almost matched.

/// A stub that checks its rules against the service's descriptors.
fn orders_stub() -> Stub {
    Stub::with_descriptors(tonic_testkit_examples::FILE_DESCRIPTOR_SET)
}

fn order_registered() -> Reply<RegisterOrderResponse> {
    Reply::message(RegisterOrderResponse { order_id: "order-7".to_owned() })
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn a_stub_checks_what_the_client_sends_phase_by_phase(transport: Transport) {
    let stub = orders_stub();
    let server = TestServer::builder().transport(transport).add_stub(&stub).start().await;
    let client = OrdersClient::new(server.channel(), TOKEN).unwrap();

    {
        // Phase one: an outage, retried until the service answers; two calls or more.
        let outage = stub
            .on(REGISTER)
            .named("the outage")
            .when_header("authorization", BEARER)
            .up_to(2)
            .expect(2)
            .reply(Reply::<RegisterOrderResponse>::status(Status::unavailable(
                "down for maintenance",
            )))
            .scoped();
        let recovered = stub
            .on(REGISTER)
            .named("the recovery")
            .when_header("authorization", BEARER)
            .when_eq(order())
            .expect(1)
            .reply(order_registered())
            .scoped();
        assert_eq!(register(&client).await.unwrap(), "order-7", "over {transport}");
        drop((outage, recovered)); // checked here: two outages, one recovery
    }
    // Phase two: an order with no items is refused by the service, not retried.
    let refusal = stub
        .on(REGISTER)
        .when(|request: &RegisterOrderRequest| request.items.is_empty())
        .expect(1)
        .reply(Reply::<RegisterOrderResponse>::status(Status::invalid_argument(
            "an order needs items",
        )));
    let empty = client.register_order("c-1", Vec::<&str>::new(), address()).await;

    assert_eq!(
        empty.unwrap_err().to_string(),
        r#"RegisterOrder failed: InvalidArgument "an order needs items""#
    );
    assert_eq!(refusal.calls(), 1);
    server.verify().await;
}

#[tokio::test]
async fn a_call_that_almost_matches_is_reported_with_what_the_client_sent() {
    let stub = orders_stub();
    let line = line!() + 1;
    stub.on(REGISTER).named("customer c-1").when_eq(order()).expect(1).reply(order_registered());
    let server = TestServer::builder().transport(Transport::Memory).add_stub(&stub).start().await;
    let client = OrdersClient::new(server.channel(), TOKEN).unwrap();

    let refused = client.register_order("c-2", ["book", "pen"], address()).await;
    let report = tokio::spawn(async move { server.shutdown().await }).await;

    let refused = refused.unwrap_err();
    assert!(
        matches!(&refused, OrdersError::Rpc { status, .. } if status.code() == Code::Internal),
        "{refused:?}"
    );
    let report = report.unwrap_err().into_panic();
    let report = report.downcast_ref::<String>().unwrap().as_str();
    let expected = format!(
        "tonic-testkit: the stub's expectations were not met (2 problems):
  - unexpected call to /orders.Orders/RegisterOrder: none of its rules for this method matches it (closest first):
    - rule \"customer c-1\" (stub.on(\"/orders.Orders/RegisterOrder\").when_eq(..).expect(1).reply(..) at examples/tests/orders_client.rs:{line}:10)
        when_eq(..) did not match: expected RegisterOrderRequest {{ customer_id: \"c-1\", items: [\"book\", \"pen\"], address: Some(Address {{ street: \"Rua Augusta 1\", city: \"Lisbon\", zip: \"1100\" }}) }}, the call had RegisterOrderRequest {{ customer_id: \"c-2\", items: [\"book\", \"pen\"], address: Some(Address {{ street: \"Rua Augusta 1\", city: \"Lisbon\", zip: \"1100\" }}) }}
  - rule \"customer c-1\" (stub.on(\"/orders.Orders/RegisterOrder\").when_eq(..).expect(1).reply(..) at examples/tests/orders_client.rs:{line}:10) expects exactly 1 call, and answered 0 calls
Give the stub a rule"
    );
    assert!(report.starts_with(&expected), "the report was:\n{report}");
}
