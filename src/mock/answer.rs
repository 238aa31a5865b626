//! How a stub rule answers a call: a scripted reply, or a closure over the request.

use std::{future::Future, sync::Arc};

use prost::Message;
use tonic::{Request, Response, Status, Streaming};
use tonic_prost::ProstCodec;

use super::Answer;
use crate::mock::reply::{BoxStream, Reply};

/// An answer that reads the request stream to its end, then replies with `reply` of the call's
/// index among those the rule answered.
pub(super) fn scripted<T, F>(reply: F) -> Arc<Answer>
where
    T: Message + Send + 'static,
    F: Fn(usize) -> Reply<T> + Send + Sync + 'static,
{
    let reply = Arc::new(reply);
    streaming(move |index, request: Request<Streaming<()>>| {
        let reply = reply.clone();
        async move {
            read_all(request).await?;
            answer_after_delay(reply(index)).await
        }
    })
}

/// An answer made by `respond` from the decoded request stream, served as tonic serves a
/// streaming method (which serves every shape: a unary reply is a stream of one).
pub(super) fn streaming<Req, Res, F, Fut>(respond: F) -> Arc<Answer>
where
    Req: Message + Default + Send + 'static,
    Res: Message + Send + 'static,
    F: Fn(usize, Request<Streaming<Req>>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<BoxStream<Res>>, Status>> + Send + 'static,
{
    let respond = Arc::new(respond);
    Arc::new(move |index, request| {
        let respond = respond.clone();
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(ProstCodec::<Res, Req>::default());
            let service = tower::service_fn(move |request| respond(index, request));
            grpc.streaming(service, request).await
        })
    })
}

pub(super) type Parts<T> = (tonic::metadata::MetadataMap, tonic::Extensions, Vec<T>);

/// The request's metadata, extensions and every message of its stream.
pub(super) async fn read_all<T>(request: Request<Streaming<T>>) -> Result<Parts<T>, Status> {
    let (metadata, extensions, mut stream) = request.into_parts();
    let mut messages = Vec::new();
    while let Some(message) = stream.message().await? {
        messages.push(message);
    }
    Ok((metadata, extensions, messages))
}

/// Waits for the reply's delay, then answers with it.
pub(super) async fn answer_after_delay<T>(
    mut reply: Reply<T>,
) -> Result<Response<BoxStream<T>>, Status>
where
    T: Send + 'static,
{
    let delay = reply.take_delay();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    reply.streaming()
}
