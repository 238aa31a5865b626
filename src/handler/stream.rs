//! [`TestRequest`]'s client streams: requests whose message stream a client-streaming or bidi
//! handler reads, from messages, from results, or live from a channel.

use tokio_stream::{Stream, wrappers::ReceiverStream};
use tonic::{
    Status, Streaming,
    codec::{Codec, EncodeBody},
};
use tonic_prost::ProstCodec;

use super::request::TestRequest;

/// Streaming requests. They live on `TestRequest<()>` so that `TestRequest::channel::<T>()`
/// names the message type directly.
impl TestRequest<()> {
    /// A request whose message stream yields `messages` and then ends, for client-streaming and
    /// bidi handlers. Messages are encoded and decoded for real.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::TestRequest;
    /// use tonic_testkit_examples::rides::Rides;
    /// use tonic_testkit_examples::rides::pb::{TrackRequest, rides_server::Rides as _};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let car = |id: &str| TrackRequest { car_id: id.into(), ..Default::default() };
    /// let request = TestRequest::stream([car("car-1"), car("car-1")]);
    ///
    /// let reply = Rides::default().track(request.into()).await.unwrap().into_inner();
    ///
    /// assert_eq!(reply.count, 2);
    /// # }
    /// ```
    pub fn stream<T, I>(messages: I) -> TestRequest<Streaming<T>>
    where
        T: prost::Message + Default + Send + 'static,
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
    {
        streaming(tokio_stream::iter(messages.into_iter().map(Ok)))
    }

    /// Like [`stream`](Self::stream), from `Result` items: an `Err` reaches the handler as that
    /// status, as a failing client stream would. One exception, as on a real tonic server: an
    /// `Err` with `Code::Cancelled` ends the handler's stream cleanly instead.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic::{Code, Status};
    /// use tonic_testkit::TestRequest;
    /// use tonic_testkit_examples::rides::Rides;
    /// use tonic_testkit_examples::rides::pb::{TrackRequest, rides_server::Rides as _};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let event = TrackRequest { car_id: "car-1".into(), ..Default::default() };
    /// let items = [Ok(event), Err(Status::aborted("client gave up"))];
    /// let request = TestRequest::stream_results(items);
    ///
    /// let status = Rides::default().track(request.into()).await.unwrap_err();
    ///
    /// assert_eq!((status.code(), status.message()), (Code::Aborted, "client gave up"));
    /// # }
    /// ```
    pub fn stream_results<T, I>(items: I) -> TestRequest<Streaming<T>>
    where
        T: prost::Message + Default + Send + 'static,
        I: IntoIterator<Item = Result<T, Status>>,
        I::IntoIter: Send + 'static,
    {
        streaming(tokio_stream::iter(items))
    }

    /// A request whose message stream stays open until the returned sender is dropped, so a
    /// test can drive a bidi handler step by step: send, read a reply, send, close.
    ///
    /// # Examples
    ///
    /// ```
    /// use tokio_stream::StreamExt;
    /// use tonic_testkit::TestRequest;
    /// use tonic_testkit_examples::orders::Orders;
    /// use tonic_testkit_examples::orders::pb::{ChatMessage, orders_server::Orders as _};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (sender, request) = TestRequest::channel::<ChatMessage>();
    /// let mut replies = Orders::default().chat(request.into()).await.unwrap().into_inner();
    ///
    /// sender.send(Ok(ChatMessage { text: "ping".into(), ..Default::default() })).await.unwrap();
    /// assert_eq!(replies.next().await.unwrap().unwrap().text, "received: ping");
    /// drop(sender); // the client closes its side
    ///
    /// assert!(replies.next().await.is_none());
    /// # }
    /// ```
    pub fn channel<T>() -> (tokio::sync::mpsc::Sender<Result<T, Status>>, TestRequest<Streaming<T>>)
    where
        T: prost::Message + Default + Send + 'static,
    {
        let (sender, receiver) = tokio::sync::mpsc::channel(16);
        (sender, streaming(ReceiverStream::new(receiver)))
    }
}

/// A request whose `Streaming` decodes what a client-side encoder makes of `items`.
fn streaming<T, S>(items: S) -> TestRequest<Streaming<T>>
where
    T: prost::Message + Default + Send + 'static,
    S: Stream<Item = Result<T, Status>> + Send + 'static,
{
    let mut codec = ProstCodec::<T, T>::default();
    let body = EncodeBody::new_client(codec.encoder(), items, None, None);
    TestRequest::new(Streaming::new_request(codec.decoder(), body, None, None))
}
