//! The orders client against the real `Orders` service, with faults injected where the test
//! wants them: outages, a slow server against a client deadline, a stream cut midway, a dropped
//! connection. Time is paused: a backoff or a delay takes no real time, to the millisecond.

mod common;

use std::time::Duration;

use common::{every_transport, http2_transports};
use rstest::rstest;
use rstest_reuse::apply;
use tokio::time::Instant;
use tonic::{Code, Status};
use tonic_testkit::{Faults, TestChannel, TestServer, Transport, assert_status};
use tonic_testkit_examples::{
    orders::{Orders, pb::OrderStatus, pb::orders_server::OrdersServer},
    orders_client::{OrdersClient, OrdersError},
};

const REGISTER: &str = "/orders.Orders/RegisterOrder";
const WATCH: &str = "/orders.Orders/WatchOrder";

async fn serve(faults: &Faults, transport: Transport) -> (TestServer, OrdersClient<TestChannel>) {
    let server = TestServer::builder()
        .transport(transport)
        .add_service(OrdersServer::new(Orders::default()))
        .faults(faults)
        .start()
        .await;
    let client = OrdersClient::new(server.channel(), "token").unwrap();
    (server, client)
}

async fn register(client: &OrdersClient<TestChannel>) -> Result<String, OrdersError> {
    client.register_order("c-1", ["book"], Default::default()).await
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn the_retry_policy_rides_out_two_outages(transport: Transport) {
    let faults = Faults::new();
    faults.on(REGISTER).times(2).fail(Code::Unavailable, "try again");
    let (server, client) = serve(&faults, transport).await;
    let started = Instant::now();

    let order_id = register(&client).await.unwrap();

    assert_eq!(order_id, "order-1", "over {transport}");
    assert_eq!(started.elapsed(), Duration::from_millis(300), "backoff 100 + 200 ms");
    let calls = server.calls_to(REGISTER);
    let codes: Vec<_> = calls.iter().map(|call| call.code()).collect();
    assert_eq!(codes, [Some(Code::Unavailable), Some(Code::Unavailable), Some(Code::Ok)]);
    assert_eq!(calls[0].faults().len(), 1, "over {transport}");
    assert!(calls[2].faults().is_empty(), "over {transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn a_slow_server_meets_the_client_deadline(transport: Transport) {
    let faults = Faults::new();
    faults.on(REGISTER).delay(Duration::from_millis(200));
    let (server, client) = serve(&faults, transport).await;
    let client = client.with_deadline(Duration::from_millis(50));
    let started = Instant::now();

    let error = register(&client).await.unwrap_err();

    assert_eq!(started.elapsed(), Duration::from_millis(50), "over {transport}");
    let OrdersError::Rpc { status, .. } = &error else { panic!("{error:?}") };
    assert_status!(status, Code::DeadlineExceeded, "no answer within 50ms");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn a_watch_cut_after_three_events_keeps_the_three(transport: Transport) {
    let faults = Faults::new();
    faults.on(WATCH).cut_after(3, Status::unavailable("tracking offline"));
    let (server, client) = serve(&faults, transport).await;
    let order_id = register(&client).await.unwrap();

    let error = client.watch_order(&order_id).await.unwrap_err();

    let OrdersError::StreamBroken { timeline, status } = &error else { panic!("{error:?}") };
    use OrderStatus::{Confirmed, Pending, Shipped};
    assert_eq!(timeline.statuses(), [Pending, Confirmed, Shipped], "over {transport}");
    assert_status!(status, Code::Unavailable, "tracking offline");
    assert_eq!(server.calls_to(WATCH)[0].response_count(), 3, "over {transport}");
    server.shutdown().await;
}

#[apply(http2_transports)]
#[tokio::test(start_paused = true)]
async fn the_client_reconnects_after_its_connection_is_dropped(transport: Transport) {
    let faults = Faults::new();
    faults.on(REGISTER).times(1).drop_connection();
    let (server, client) = serve(&faults, transport).await;

    let first = register(&client).await;
    let second = register(&client).await;

    // What a tonic client reports when the server's connection dies under a call.
    let dropped = first.unwrap_err().to_string();
    assert_eq!(dropped, r#"RegisterOrder failed: Unknown "transport error""#, "{transport}");
    assert_eq!(second.unwrap(), "order-1", "over {transport}");
    let fired: Vec<_> = faults.fired().iter().map(|fired| fired.method().to_owned()).collect();
    assert_eq!(fired, [REGISTER]);
    server.shutdown().await;
}
