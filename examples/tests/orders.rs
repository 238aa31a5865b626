//! The orders service, all four RPC shapes, over the transport `TONIC_TESTKIT_TRANSPORT`
//! chooses (memory by default).

use rstest::{fixture, rstest};
use tokio_stream::{StreamExt, wrappers::ReceiverStream};
use tonic::Code;
use tonic_testkit::{TestChannel, TestServer, Transport, transport};
use tonic_testkit_examples::orders::{
    Orders,
    pb::{
        Address, ChatMessage, OrderStatus, RegisterOrderRequest, UpdateOrderRequest,
        WatchOrderRequest, orders_client::OrdersClient, orders_server::OrdersServer,
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

async fn register(client: &mut OrdersClient<TestChannel>) -> String {
    let order = RegisterOrderRequest {
        customer_id: "c-1".to_owned(),
        items: vec!["book".to_owned()],
        address: Some(address("Rua Augusta 1")),
    };
    client.register_order(order).await.unwrap().into_inner().order_id
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

#[rstest]
#[tokio::test]
#[awt]
async fn watching_an_order_streams_every_status(
    #[future] orders: (TestServer, OrdersClient<TestChannel>),
) {
    let (server, mut client) = orders;
    let order_id = register(&mut client).await;

    let events = client.watch_order(WatchOrderRequest { order_id }).await.unwrap().into_inner();
    let statuses: Vec<_> = events.map(|event| event.unwrap().status()).collect().await;

    let expected = [
        OrderStatus::Pending,
        OrderStatus::Confirmed,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
    ];
    assert_eq!(statuses, expected);
    server.shutdown().await;
}

#[rstest]
#[tokio::test]
#[awt]
async fn chat_answers_each_message_as_it_arrives(
    #[future] orders: (TestServer, OrdersClient<TestChannel>),
) {
    let (server, mut client) = orders;
    let (sender, messages) = tokio::sync::mpsc::channel(1);
    let say = |text: &str| ChatMessage {
        order_id: "order-1".to_owned(),
        from: "customer".to_owned(),
        text: text.to_owned(),
    };

    sender.send(say("where is my parcel?")).await.unwrap();
    let mut replies = client.chat(ReceiverStream::new(messages)).await.unwrap().into_inner();
    let first = replies.next().await.unwrap().unwrap();
    sender.send(say("thanks")).await.unwrap();
    let second = replies.next().await.unwrap().unwrap();
    drop(sender);
    let end = replies.next().await;

    assert_eq!(
        (first.from.as_str(), first.text.as_str()),
        ("support", "received: where is my parcel?")
    );
    assert_eq!(second.text, "received: thanks");
    assert!(end.is_none(), "the chat should end when the customer hangs up: {end:?}");
    server.shutdown().await;
}
