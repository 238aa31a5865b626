//! The tower service that answers a stub's calls: it reads as much of each request as the
//! method's rules look at, picks the first rule that matches, and hands it the request as sent.

use std::{
    collections::VecDeque,
    convert::Infallible,
    fmt,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use bytes::Bytes;
use http::{HeaderMap, Request as HttpRequest, Response as HttpResponse};
use http_body::{Body as _, Frame};
use tonic::{Status, body::Body};
use tower::Service;

use super::{
    BoxFuture, Inner,
    matcher::{Arrived, Need},
};
use crate::{protocol::frames::Frames, sync::lock};

/// Answers the calls of one [`Stub`](crate::Stub).
#[derive(Clone)]
pub(crate) struct StubService(pub(super) Arc<Inner>);

impl Service<HttpRequest<Body>> for StubService {
    type Response = HttpResponse<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<HttpResponse<Body>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: HttpRequest<Body>) -> Self::Future {
        let inner = self.0.clone();
        Box::pin(async move { Ok(answer(inner, request).await) })
    }
}

impl fmt::Debug for StubService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StubService").finish_non_exhaustive()
    }
}

async fn answer(inner: Arc<Inner>, request: HttpRequest<Body>) -> HttpResponse<Body> {
    let method = request.uri().path().to_owned();
    let (nth, need) = inner.begin(&method);
    let (parts, body) = request.into_parts();
    let (arrived, body) = read(&parts.headers, body, need, nth).await;
    match inner.pick(&method, &arrived) {
        Ok((answer, index)) => answer(index, HttpRequest::from_parts(parts, body)).await,
        Err(reason) => {
            let message =
                format!("tonic-testkit: no stub rule answers this call to {method}; {reason}");
            lock(&inner.unexpected).push(format!("unexpected call to {method}: {reason}"));
            let (parts, ()) = Status::internal(message).into_http::<()>().into_parts();
            HttpResponse::from_parts(parts, Body::empty())
        }
    }
}

/// Reads what `need` asks of the request stream; returns what arrived, and the body as the
/// client sent it, what was read first.
async fn read(headers: &HeaderMap, mut body: Body, need: Need, nth: usize) -> (Arrived, Body) {
    let mut arrived = Arrived {
        headers: headers.clone(),
        messages: Vec::new(),
        ended: false,
        unreadable: None,
        nth,
    };
    if need == Need::Nothing {
        return (arrived, body);
    }
    let encoding = headers.get("grpc-encoding").and_then(|value| value.to_str().ok());
    let (mut chunks, mut frames, mut error) = (VecDeque::new(), Frames::default(), None);
    while need != Need::First || arrived.messages.is_empty() {
        match std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            None => {
                arrived.ended = true;
                break;
            }
            Some(Err(status)) => {
                arrived.unreadable = Some(format!("the request stream failed: {status:?}"));
                error = Some(status);
                break;
            }
            Some(Ok(frame)) => {
                let Some(data) = frame.data_ref() else { continue };
                let mut unreadable = None;
                frames.feed(data, |whole| {
                    for (range, compressed) in whole.messages() {
                        let bytes = whole.bytes().slice(range);
                        match compressed {
                            false => arrived.messages.push(bytes),
                            true => match crate::journal::compression::decompress(
                                encoding,
                                crate::journal::Side::Request,
                                &bytes,
                            ) {
                                Ok(bytes) => arrived.messages.push(bytes),
                                Err(why) => unreadable = Some(why),
                            },
                        }
                    }
                });
                arrived.unreadable = arrived.unreadable.take().or(unreadable);
                chunks.push_back(data.clone());
            }
        }
    }
    let rest = (!arrived.ended && error.is_none()).then_some(body);
    (arrived, Body::new(Replay { chunks, error, rest }))
}

/// A request body whose first chunks were read already: those, then what is left.
struct Replay {
    chunks: VecDeque<Bytes>,
    error: Option<Status>,
    rest: Option<Body>,
}

impl http_body::Body for Replay {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = &mut *self;
        if let Some(chunk) = this.chunks.pop_front() {
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        if let Some(error) = this.error.take() {
            return Poll::Ready(Some(Err(error)));
        }
        match &mut this.rest {
            Some(rest) => Pin::new(rest).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty()
            && self.error.is_none()
            && self.rest.as_ref().is_none_or(http_body::Body::is_end_stream)
    }
}
