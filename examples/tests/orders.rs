//! The orders service, all four RPC shapes: its handlers called directly, and full round trips
//! over the transport `TONIC_TESTKIT_TRANSPORT` chooses (memory by default).
//!
//! A behaviour checked both ways keeps its expectations in one `expect_*` function, called by
//! the direct test and by its `_over_a_server` twin.

use rstest::{fixture, rstest};
use tokio_stream::{StreamExt, wrappers::ReceiverStream};
use tonic::{Code, Status};
use tonic_testkit::fixtures::transport;
use tonic_testkit::{
    StreamOutcome, TestChannel, TestRequest, TestServer, Transport, assert_status, collect,
};
use tonic_testkit_examples::orders::{
    Orders,
    pb::{
        Address, ChatMessage, OrderEvent, OrderStatus, RegisterOrderRequest, UpdateOrderRequest,
        WatchOrderRequest,
        orders_client::OrdersClient,
        orders_server::{Orders as _, OrdersServer},
    },
};

#[fixture]
async fn orders(transport: Transport) -> (TestServer, OrdersClient<TestChannel>) {
    let server = TestServer::builder()
        .transport(transport)
        .add_service(OrdersServer::new(Orders::default()))
        .start()
        .await;
    let client = server.client(OrdersClient::new);
    (server, client)
}

fn address(street: &str) -> Address {
    Address { street: street.to_owned(), city: "Lisbon".to_owned(), zip: "1100".to_owned() }
}

fn order() -> RegisterOrderRequest {
    RegisterOrderRequest {
        customer_id: "c-1".to_owned(),
        items: vec!["book".to_owned()],
        address: Some(address("Rua Augusta 1")),
    }
}

async fn register(client: &mut OrdersClient<TestChannel>) -> String {
    client.register_order(order()).await.unwrap().into_inner().order_id
}

#[rstest]
#[tokio::test]
#[awt]
async fn registers_an_order(#[future] orders: (TestServer, OrdersClient<TestChannel>)) {
    let (server, mut client) = orders;

    let first = register(&mut client).await;
    let second = register(&mut client).await;

    assert_eq!((first.as_str(), second.as_str()), ("order-1", "order-2"));
    server.shutdown().await;
}

#[rstest]
#[tokio::test]
#[awt]
async fn an_order_without_items_is_invalid(
    #[future] orders: (TestServer, OrdersClient<TestChannel>),
) {
    let (server, mut client) = orders;

    let status = client.register_order(RegisterOrderRequest::default()).await.unwrap_err();

    assert_eq!((status.code(), status.message()), (Code::InvalidArgument, "items: empty"));
    server.shutdown().await;
}

#[rstest]
#[tokio::test]
#[awt]
async fn address_updates_stream_in_and_the_last_one_wins(
    #[future] orders: (TestServer, OrdersClient<TestChannel>),
) {
    let (server, mut client) = orders;
    let order_id = register(&mut client).await;
    let updates = ["Rua Nova 2", "Rua Velha 3"].map(|street| UpdateOrderRequest {
        order_id: order_id.clone(),
        address: Some(address(street)),
    });

    let reply = client.update_order(tokio_stream::iter(updates)).await.unwrap().into_inner();

    assert_eq!((reply.order_id.as_str(), reply.updates), (order_id.as_str(), 2));
    assert_eq!(reply.address.unwrap().street, "Rua Velha 3");
    server.shutdown().await;
}

#[rstest]
#[tokio::test]
#[awt]
async fn updating_an_unknown_order_is_not_found(
    #[future] orders: (TestServer, OrdersClient<TestChannel>),
) {
    let (server, mut client) = orders;
    let update = UpdateOrderRequest { order_id: "order-9".to_owned(), address: None };

    let status = client.update_order(tokio_stream::iter([update])).await.unwrap_err();

    assert_eq!((status.code(), status.message()), (Code::NotFound, "order \"order-9\" not found"));
    server.shutdown().await;
}

// WatchOrder (server streaming)

fn expect_every_status(outcome: StreamOutcome<OrderEvent>) {
    assert_status!(outcome, Code::Ok);
    let statuses: Vec<_> = outcome.messages().iter().map(OrderEvent::status).collect();
    let expected = [
        OrderStatus::Pending,
        OrderStatus::Confirmed,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
    ];
    assert_eq!(statuses, expected);
}

#[tokio::test]
async fn watching_an_order_streams_every_status() {
    let orders = Orders::default();
    let registered = orders.register_order(TestRequest::new(order()).into()).await.unwrap();
    let order_id = registered.into_inner().order_id;
    let request = TestRequest::new(WatchOrderRequest { order_id });

    let events = orders.watch_order(request.into()).await.unwrap().into_inner();
    let outcome = collect(events).await;

    expect_every_status(outcome);
}

#[rstest]
#[tokio::test]
#[awt]
async fn watching_an_order_streams_every_status_over_a_server(
    #[future] orders: (TestServer, OrdersClient<TestChannel>),
) {
    let (server, mut client) = orders;
    let order_id = register(&mut client).await;

    let events = client.watch_order(WatchOrderRequest { order_id }).await.unwrap().into_inner();
    let outcome = collect(events).await;

    expect_every_status(outcome);
    server.shutdown().await;
}

// Chat (bidi), driven step by step

fn say(text: &str) -> ChatMessage {
    ChatMessage {
        order_id: "order-1".to_owned(),
        from: "customer".to_owned(),
        text: text.to_owned(),
    }
}

fn texts(replies: &[ChatMessage]) -> Vec<&str> {
    replies.iter().map(|reply| reply.text.as_str()).collect()
}

type Reply = Option<Result<ChatMessage, Status>>;

fn expect_each_message_answered(first: Reply, second: Reply, rest: StreamOutcome<ChatMessage>) {
    let first = first.expect("a reply to the first message").unwrap();
    assert_eq!(
        (first.from.as_str(), first.text.as_str()),
        ("support", "received: where is my parcel?")
    );
    assert_eq!(second.expect("a reply to the second message").unwrap().text, "received: thanks");
    assert_status!(rest, Code::Ok); // the chat ended cleanly when the customer hung up
    assert!(rest.messages().is_empty(), "no reply after the last message: {rest:?}");
}

#[tokio::test]
async fn chat_answers_each_message_as_it_arrives() {
    let (customer, request) = TestRequest::channel::<ChatMessage>();
    let mut replies = Orders::default().chat(request.into()).await.unwrap().into_inner();

    customer.send(Ok(say("where is my parcel?"))).await.unwrap();
    let first = replies.next().await;
    customer.send(Ok(say("thanks"))).await.unwrap();
    let second = replies.next().await;
    drop(customer);
    let rest = collect(replies).await;

    expect_each_message_answered(first, second, rest);
}

#[rstest]
#[tokio::test]
#[awt]
async fn chat_answers_each_message_as_it_arrives_over_a_server(
    #[future] orders: (TestServer, OrdersClient<TestChannel>),
) {
    let (server, mut client) = orders;
    let (customer, messages) = tokio::sync::mpsc::channel(16);
    let mut replies = client.chat(ReceiverStream::new(messages)).await.unwrap().into_inner();

    customer.send(say("where is my parcel?")).await.unwrap();
    let first = replies.next().await;
    customer.send(say("thanks")).await.unwrap();
    let second = replies.next().await;
    drop(customer);
    let rest = collect(replies).await;

    expect_each_message_answered(first, second, rest);
    server.shutdown().await;
}

#[tokio::test]
async fn an_open_chat_is_collected_up_to_a_limit() {
    let (customer, request) = TestRequest::channel::<ChatMessage>();
    let replies = Orders::default().chat(request.into()).await.unwrap().into_inner();
    customer.send(Ok(say("hello?"))).await.unwrap();
    customer.send(Ok(say("anyone?"))).await.unwrap();

    let outcome = collect(replies).limit(2).await;

    assert_eq!(texts(outcome.messages()), ["received: hello?", "received: anyone?"]);
    assert!(outcome.end().is_none(), "the customer is still connected: {outcome:?}");
}

#[tokio::test]
async fn a_broken_customer_stream_ends_the_chat_with_its_status() {
    let (customer, request) = TestRequest::channel::<ChatMessage>();
    let replies = Orders::default().chat(request.into()).await.unwrap().into_inner();
    customer.send(Ok(say("hello?"))).await.unwrap();
    customer.send(Err(Status::unavailable("connection lost"))).await.unwrap();

    let outcome = collect(replies).await;

    assert_eq!(texts(outcome.messages()), ["received: hello?"]);
    assert_status!(outcome, Code::Unavailable, "connection lost");
}

// Fuzzing: every method, all four shapes, called with requests built from the descriptors
// (client and bidi streams of none to many messages).

#[rstest]
#[tokio::test(start_paused = true)]
async fn no_request_breaks_the_orders_service(
    #[future] orders: (TestServer, OrdersClient<TestChannel>),
) {
    let (server, _client) = orders.await;

    let summary = server.fuzz(tonic_testkit_examples::FILE_DESCRIPTOR_SET).cases(64).await;

    assert_eq!(summary.methods().len(), 4, "{summary}");
}
