//! The request body as the services read it: each message noted in the journal and, for a
//! direct call, a failing client body turned into the reset the server reads over HTTP/2. One
//! wrapper does both, so a call pays for one boxed body at most.

use std::{
    panic::{AssertUnwindSafe, catch_unwind, resume_unwind},
    pin::Pin,
    sync::{
        Arc, OnceLock,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
};

use bytes::Bytes;
use http::uri::PathAndQuery;
use http_body::{Body as _, Frame};
use tonic::{Status, body::Body};

use crate::{
    engine::panic::{HandlerPanic, PanicSite},
    engine::shared::Shared,
    journal::{Record, Side, record_data},
    protocol::BODY_BROKEN,
    protocol::frames::Frames,
};

/// A direct call's client side, as the server's side of the call sees it: the error that reset
/// its stream, set when the client's request body fails (a message over the client's
/// `max_encoding_message_size`, a message that does not compress), and whether the client's own
/// request stream panicked.
#[derive(Clone)]
pub(crate) struct Reset(Arc<ResetState>);

struct ResetState {
    error: OnceLock<Status>,
    client_panicked: AtomicBool,
    shared: Arc<Shared>,
    path: PathAndQuery,
}

impl Reset {
    pub(crate) fn new(shared: &Arc<Shared>, path: &PathAndQuery) -> Self {
        Self(Arc::new(ResetState {
            error: OnceLock::new(),
            client_panicked: AtomicBool::new(false),
            shared: shared.clone(),
            path: path.clone(),
        }))
    }

    /// Whether the panic unwinding through the call came from the client's request stream.
    pub(crate) fn client_panicked(&self) -> bool {
        self.0.client_panicked.load(Ordering::Acquire)
    }

    /// Polls the client's request body; a panic there is recorded as the client's, and goes on
    /// unwinding into the handler that read the body, and from it into the caller.
    fn poll_client(
        &self,
        body: &mut Body,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        match catch_unwind(AssertUnwindSafe(|| Pin::new(body).poll_frame(cx))) {
            Ok(poll) => poll,
            Err(payload) => {
                let text = crate::engine::panic::payload_text(&*payload);
                let panic = HandlerPanic::from_message(PanicSite::Client, self.0.path.path(), text);
                self.0.shared.panics.record(panic.unwound());
                self.0.client_panicked.store(true, Ordering::Release);
                resume_unwind(payload)
            }
        }
    }

    /// What the client gets once its stream was reset, as a tonic client reports a stream it
    /// reset itself: `INTERNAL "h2 protocol error: http2 error"`, with the client's own error as
    /// the source (over HTTP/2 only the reset reaches the client's call).
    pub(crate) fn status(&self) -> Option<Status> {
        let cause = self.0.error.get()?.clone();
        Some(crate::protocol::stream_reset(Box::new(cause)))
    }

    pub(crate) fn is_set(&self) -> bool {
        self.0.error.get().is_some()
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
        let poll = match &this.reset {
            Some(reset) => reset.poll_client(&mut this.inner, cx),
            None => Pin::new(&mut this.inner).poll_frame(cx),
        };
        match poll {
            Poll::Ready(Some(Err(status))) => match &this.reset {
                Some(reset) => {
                    let _ = reset.0.error.set(status);
                    Poll::Ready(Some(Err(Status::internal(BODY_BROKEN))))
                }
                None => Poll::Ready(Some(Err(status))),
            },
            Poll::Ready(Some(Ok(frame))) => {
                if let Some((frames, record)) = &mut this.tap
                    && let Some(data) = frame.data_ref()
                {
                    record_data(record, Side::Request, frames, data);
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
