//! `orders.Orders`: all four RPC shapes over an in-memory order book.

use std::{
    collections::HashMap,
    pin::Pin,
    sync::{Arc, Mutex},
};

use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

/// The generated messages, server and client.
#[allow(missing_docs, clippy::all)]
pub mod pb {
    tonic::include_proto!("orders");
}

use pb::{
    Address, ChatMessage, OrderEvent, OrderStatus, RegisterOrderRequest, RegisterOrderResponse,
    UpdateOrderRequest, UpdateOrderResponse, WatchOrderRequest, orders_server,
};

/// The stream type of the server-streaming and bidi methods.
pub type EventStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// An order book kept in memory; ids are `order-1`, `order-2`, ...
#[derive(Clone, Debug, Default)]
pub struct Orders {
    book: Arc<Mutex<HashMap<String, Address>>>,
}

impl Orders {
    fn address_of(&self, order_id: &str) -> Result<Address, Status> {
        let book = self.book.lock().unwrap();
        book.get(order_id)
            .cloned()
            .ok_or_else(|| Status::not_found(format!("order {order_id:?} not found")))
    }
}

#[tonic::async_trait]
impl orders_server::Orders for Orders {
    async fn register_order(
        &self,
        request: Request<RegisterOrderRequest>,
    ) -> Result<Response<RegisterOrderResponse>, Status> {
        let order = request.into_inner();
        if order.items.is_empty() {
            return Err(Status::invalid_argument("items: empty"));
        }
        let mut book = self.book.lock().unwrap();
        let order_id = format!("order-{}", book.len() + 1);
        book.insert(order_id.clone(), order.address.unwrap_or_default());
        Ok(Response::new(RegisterOrderResponse { order_id }))
    }

    async fn update_order(
        &self,
        request: Request<Streaming<UpdateOrderRequest>>,
    ) -> Result<Response<UpdateOrderResponse>, Status> {
        let mut updates = request.into_inner();
        let mut last: Option<(String, Address)> = None;
        let mut count = 0;
        while let Some(update) = updates.message().await? {
            self.address_of(&update.order_id)?;
            let address = update.address.unwrap_or_default();
            self.book.lock().unwrap().insert(update.order_id.clone(), address.clone());
            last = Some((update.order_id, address));
            count += 1;
        }
        let (order_id, address) =
            last.ok_or_else(|| Status::invalid_argument("no address updates were sent"))?;
        Ok(Response::new(UpdateOrderResponse { order_id, updates: count, address: Some(address) }))
    }

    type WatchOrderStream = EventStream<OrderEvent>;

    async fn watch_order(
        &self,
        request: Request<WatchOrderRequest>,
    ) -> Result<Response<Self::WatchOrderStream>, Status> {
        let order_id = request.into_inner().order_id;
        self.address_of(&order_id)?;
        let statuses = [
            OrderStatus::Pending,
            OrderStatus::Confirmed,
            OrderStatus::Shipped,
            OrderStatus::Delivered,
        ];
        let events = tokio_stream::iter(statuses).map(move |status| {
            Ok(OrderEvent { order_id: order_id.clone(), status: status.into() })
        });
        Ok(Response::new(Box::pin(events)))
    }

    type ChatStream = EventStream<ChatMessage>;

    async fn chat(
        &self,
        request: Request<Streaming<ChatMessage>>,
    ) -> Result<Response<Self::ChatStream>, Status> {
        let replies = request.into_inner().map(|message| {
            let message = message?;
            Ok(ChatMessage {
                order_id: message.order_id,
                from: "support".to_owned(),
                text: format!("received: {}", message.text),
            })
        });
        Ok(Response::new(Box::pin(replies)))
    }
}
