//! The request body as the services read it: each message noted in the journal and, for a
//! direct call, a failing client body turned into the reset the server reads over HTTP/2. One
//! wrapper does both, so a call pays for one boxed body at most.

use std::{
    pin::Pin,
    sync::{Arc, OnceLock},
    task::{Context, Poll},
};

use bytes::Bytes;
use http_body::Frame;
use tonic::{Status, body::Body};

use crate::{
    frames::Frames,
    journal::{Record, record_request},
};

/// h2's error for a body whose stream broke: what the server reads when the client resets the
/// stream of a call, and what a client reads when the server dies mid-stream.
pub(crate) const BODY_BROKEN: &str = "h2 protocol error: error reading a body from connection";

/// The error that reset a direct call's stream: set when the client's request body fails (a
/// message over the client's `max_encoding_message_size`, a message that does not compress).
#[derive(Clone, Default)]
pub(crate) struct Reset(Arc<OnceLock<Status>>);

impl Reset {
    /// What the client gets once its stream was reset, as a tonic client reports a stream it
    /// reset itself: `INTERNAL "h2 protocol error: http2 error"`, with the client's own error as
    /// the source (over HTTP/2 only the reset reaches the client's call).
    pub(crate) fn status(&self) -> Option<Status> {
        let cause = self.0.get()?.clone();
        Some(crate::call::stream_reset(Box::new(cause)))
    }

    pub(crate) fn is_set(&self) -> bool {
        self.0.get().is_some()
    }
}

/// The request body the services read.
pub(crate) struct RequestBody {
    inner: Body,
    /// A direct call's reset, set when the client's body fails.
    reset: Option<Reset>,
    /// The journal's entry for the call, and the messages being split out of the body.
    tap: Option<(Frames, Record)>,
}

impl RequestBody {
    /// `body` as the services read it: tapped for `record`, reset through `reset`. A body with
    /// neither is passed on as it is.
    pub(crate) fn wrap(body: Body, reset: Option<Reset>, record: Option<&Record>) -> Body {
        if reset.is_none() && record.is_none() {
            return body;
        }
        let tap = record.map(|record| (Frames::default(), record.clone()));
        Body::new(RequestBody { inner: body, reset, tap })
    }
}

impl http_body::Body for RequestBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Err(status))) => match &this.reset {
                Some(reset) => {
                    let _ = reset.0.set(status);
                    Poll::Ready(Some(Err(Status::internal(BODY_BROKEN))))
                }
                None => Poll::Ready(Some(Err(status))),
            },
            Poll::Ready(Some(Ok(frame))) => {
                if let Some((frames, record)) = &mut this.tap
                    && let Some(data) = frame.data_ref()
                {
                    frames.feed(data, |message| record_request(record, message));
                }
                Poll::Ready(Some(Ok(frame)))
            }
            poll => poll,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
