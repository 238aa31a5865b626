//! Sends one case through a test channel as raw gRPC messages, and reads the whole answer.

use std::{
    any::Any,
    future::Future,
    panic::{AssertUnwindSafe, catch_unwind},
    pin::Pin,
    str::FromStr,
    sync::Arc,
    task::{Context, Poll},
};

use bytes::Buf;
use http::uri::PathAndQuery;
use prost_reflect::{DynamicMessage, MessageDescriptor, MethodDescriptor};
use tonic::{
    Request, Status, Streaming,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
    metadata::{MetadataKey, MetadataValue},
};

use super::case::Case;
use crate::TestChannel;

/// What a call returned: the messages that arrived, and the status it ended with (`None` for
/// `OK`).
#[derive(Debug, Default)]
pub(crate) struct Answer {
    pub(crate) responses: Vec<Decoded>,
    pub(crate) status: Option<Status>,
}

/// Sends `case` to `method` and reads the answer to its end.
pub(crate) async fn call(
    channel: TestChannel,
    method: &MethodDescriptor,
    path: &str,
    case: &Case,
) -> Answer {
    let mut grpc = tonic::client::Grpc::new(channel);
    if let Err(error) = grpc.ready().await {
        return Answer {
            responses: Vec::new(),
            status: Some(Status::unavailable(error.to_string())),
        };
    }
    let path =
        PathAndQuery::from_str(path).expect("a method path from the descriptors is a valid path");
    let messages = case.messages.clone();
    let codec = Dynamic { output: method.output() };
    let mut answer = Answer::default();
    let result = match (method.is_client_streaming(), method.is_server_streaming()) {
        (false, false) => {
            let request = with_metadata(Request::new(messages[0].clone()), case);
            grpc.unary(request, path, codec)
                .await
                .map(|response| answer.responses.push(response.into_inner()))
        }
        (true, false) => {
            let request = with_metadata(Request::new(tokio_stream::iter(messages)), case);
            let result = grpc.client_streaming(request, path, codec).await;
            result.map(|response| answer.responses.push(response.into_inner()))
        }
        (false, true) => {
            let request = with_metadata(Request::new(messages[0].clone()), case);
            match grpc.server_streaming(request, path, codec).await {
                Ok(response) => read(response.into_inner(), &mut answer.responses).await,
                Err(status) => Err(status),
            }
        }
        (true, true) => {
            let request = with_metadata(Request::new(tokio_stream::iter(messages)), case);
            match grpc.streaming(request, path, codec).await {
                Ok(response) => read(response.into_inner(), &mut answer.responses).await,
                Err(status) => Err(status),
            }
        }
    };
    answer.status = result.err();
    answer
}

/// Reads a response stream to its end.
async fn read(mut stream: Streaming<Decoded>, into: &mut Vec<Decoded>) -> Result<(), Status> {
    while let Some(message) = stream.message().await? {
        into.push(message);
    }
    Ok(())
}

fn with_metadata<T>(mut request: Request<T>, case: &Case) -> Request<T> {
    for (key, value) in &case.metadata {
        let key =
            MetadataKey::from_str(key).expect("metadata keys are checked when they are given");
        let value =
            MetadataValue::from_str(value).expect("generated metadata values are visible ASCII");
        request.metadata_mut().append(key, value);
    }
    request
}

/// The codec of a fuzz call: requests encoded from their dynamic messages, responses decoded
/// as the method's output type, a response that does not decode kept as why (the call goes on,
/// and the judge reports it).
#[derive(Clone, Debug)]
struct Dynamic {
    output: MessageDescriptor,
}

/// A response as it decoded, or why it did not.
pub(crate) type Decoded = Result<DynamicMessage, prost::DecodeError>;

impl Codec for Dynamic {
    type Encode = Arc<DynamicMessage>;
    type Decode = Decoded;
    type Encoder = Dynamic;
    type Decoder = Dynamic;

    fn encoder(&mut self) -> Dynamic {
        self.clone()
    }

    fn decoder(&mut self) -> Dynamic {
        self.clone()
    }
}

impl Encoder for Dynamic {
    type Item = Arc<DynamicMessage>;
    type Error = Status;

    fn encode(&mut self, item: Arc<DynamicMessage>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        prost::Message::encode(&*item, dst).map_err(|error| Status::internal(error.to_string()))
    }
}

impl Decoder for Dynamic {
    type Item = Decoded;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Decoded>, Status> {
        let decoded = DynamicMessage::decode(self.output.clone(), &mut *src);
        // What a failed decode left of the message is skipped, so the next one is read whole.
        src.advance(src.remaining());
        Ok(Some(decoded))
    }
}

/// A future whose panic is caught and returned: a handler's panic over the direct transport
/// unwinds through the call.
pub(crate) struct CatchUnwind<F>(pub(crate) Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let future = self.0.as_mut();
        match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}
