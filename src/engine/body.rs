//! The request body as the services read it: each message noted in the journal and, for a
//! direct call, read through the call's client side, which turns a failing client body into the
//! reset the server reads over HTTP/2, and reads the request on once the client dropped the
//! response, as an HTTP/2 client's connection does. One wrapper does it all, so a call pays for
//! one boxed body at most.

use std::{
    collections::VecDeque,
    panic::{AssertUnwindSafe, catch_unwind, resume_unwind},
    pin::Pin,
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll, Waker},
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
    sync::lock,
};

/// A direct call's client side, as the server's side of the call sees it: the client's request
/// body, the error that reset its stream, set when that body fails (a message over the client's
/// `max_encoding_message_size`, a message that does not compress), and whether the client's own
/// request stream panicked.
///
/// Over HTTP/2 a client that drops the response with its request body still open only stops
/// reading: its connection goes on sending the request, up to the server's stream window of
/// bytes the handler has not read, and resets the stream once the request has ended. A direct
/// call does the same (the response's `drain`): from then on the request body is read ahead of
/// the handler, up to [`READ_AHEAD`] bytes, and its end is never delivered, since it ends the
/// call. Before, a direct call's request is read only as the handler reads it: there is no
/// window for the client to fill.
#[derive(Clone)]
pub(crate) struct ClientSide(Arc<ClientState>);

struct ClientState {
    error: OnceLock<Status>,
    client_panicked: AtomicBool,
    request: Mutex<Inlet>,
    shared: Arc<Shared>,
    path: PathAndQuery,
}

/// The client's request body, and what was read of it ahead of the handler.
struct Inlet {
    body: Body,
    /// Frames read ahead of the handler once the client dropped the response, and their bytes.
    ahead: VecDeque<Frame<Bytes>>,
    ahead_bytes: usize,
    /// The body ended or failed: nothing more comes from the client.
    ended: bool,
    /// The client dropped the response while the request was open.
    draining: bool,
    /// The handler's task while it waits for a frame (the client's body wakes only the last
    /// task that polled it, and the drain polls it too), and the drain's while the handler has
    /// the window full.
    reader: Option<Waker>,
    drainer: Option<Waker>,
}

/// How far a drained direct call's request is read ahead of its handler: a tonic server's
/// stream window (hyper's default, 1 MiB), which an HTTP/2 client may fill without the handler
/// reading.
const READ_AHEAD: usize = 1024 * 1024;

impl ClientSide {
    pub(crate) fn new(shared: &Arc<Shared>, path: &PathAndQuery) -> Self {
        let inlet = Inlet {
            body: Body::empty(),
            ahead: VecDeque::new(),
            ahead_bytes: 0,
            ended: false,
            draining: false,
            reader: None,
            drainer: None,
        };
        Self(Arc::new(ClientState {
            error: OnceLock::new(),
            client_panicked: AtomicBool::new(false),
            request: Mutex::new(inlet),
            shared: shared.clone(),
            path: path.clone(),
        }))
    }

    /// Whether the panic unwinding through the call came from the client's request stream.
    pub(crate) fn client_panicked(&self) -> bool {
        self.0.client_panicked.load(Ordering::Acquire)
    }

    /// Polls the client's request body; a panic there is recorded as the client's, and goes on
    /// unwinding into whoever read the body (the handler, or the drain), and from it into the
    /// caller.
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

    /// The next frame of the request for the handler: the client's, or once the client
    /// dropped the response, one the drain read ahead.
    fn poll_request(&self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let mut inlet = lock(&self.0.request);
        let inlet = &mut *inlet;
        if let Some(frame) = inlet.ahead.pop_front() {
            if inlet.ahead_bytes >= READ_AHEAD
                && let Some(drainer) = inlet.drainer.take()
            {
                drainer.wake();
            }
            inlet.ahead_bytes -= data_len(&frame);
            return Poll::Ready(Some(Ok(frame)));
        }
        // Once the client dropped the response, only the drain reads its body; the end of it
        // ends the call, and never reaches the handler.
        let poll = match (inlet.draining, inlet.ended) {
            (true, _) => Poll::Pending,
            (false, true) => return Poll::Ready(None),
            (false, false) => self.poll_client(&mut inlet.body, cx),
        };
        match poll {
            Poll::Ready(Some(Err(status))) => {
                inlet.ended = true;
                let _ = self.0.error.set(status);
                Poll::Ready(Some(Err(Status::internal(BODY_BROKEN))))
            }
            Poll::Ready(None) => {
                inlet.ended = true;
                Poll::Ready(None)
            }
            Poll::Pending => {
                if !inlet.reader.as_ref().is_some_and(|reader| reader.will_wake(cx.waker())) {
                    inlet.reader = Some(cx.waker().clone());
                }
                Poll::Pending
            }
            frame => frame,
        }
    }

    /// Ends the request as the server reads it once the client cancelled the call: hyper reads
    /// a `CANCEL` reset as the end of the body.
    pub(crate) fn end_request(&self) {
        lock(&self.0.request).ended = true;
    }

    /// Marks the call as drained if its request is still open: the client dropped the
    /// response. Returns whether it was open.
    pub(crate) fn start_draining(&self) -> bool {
        let mut inlet = lock(&self.0.request);
        let open = !inlet.ended && !inlet.body.is_end_stream() && !self.is_set();
        inlet.draining = open;
        open
    }

    /// Reads the request of a drained call ahead of the handler, as an HTTP/2 client's
    /// connection sends it; `true` once it has ended (or failed), which ends the call.
    pub(crate) fn read_ahead(&self, cx: &mut Context<'_>) -> bool {
        let mut inlet = lock(&self.0.request);
        let inlet = &mut *inlet;
        while !inlet.ended && inlet.ahead_bytes < READ_AHEAD {
            match self.poll_client(&mut inlet.body, cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    inlet.ahead_bytes += data_len(&frame);
                    inlet.ahead.push_back(frame);
                    if let Some(reader) = inlet.reader.take() {
                        reader.wake();
                    }
                }
                Poll::Ready(Some(Err(status))) => {
                    let _ = self.0.error.set(status);
                    inlet.ended = true;
                }
                Poll::Ready(None) => inlet.ended = true,
                Poll::Pending => break,
            }
        }
        if !inlet.drainer.as_ref().is_some_and(|drainer| drainer.will_wake(cx.waker())) {
            inlet.drainer = Some(cx.waker().clone());
        }
        inlet.ended
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

/// The bytes of a frame that count against an HTTP/2 flow-control window.
fn data_len(frame: &Frame<Bytes>) -> usize {
    frame.data_ref().map_or(0, Bytes::len)
}

/// The request body the services read.
pub(crate) struct RequestBody {
    /// The connection's request body; a direct call's is read through `client`.
    inner: Option<Body>,
    client: Option<ClientSide>,
    /// The journal's entry for the call, and the messages being split out of the body.
    tap: Option<(Frames, Record)>,
}

impl RequestBody {
    /// `body` as the services read it: tapped for `record`, and for a direct call held by its
    /// `client` side. A connection's body without a record is passed on as it is.
    pub(crate) fn wrap(body: Body, client: Option<ClientSide>, record: Option<&Record>) -> Body {
        if client.is_none() && record.is_none() {
            return body;
        }
        let tap = record.map(|record| (Frames::default(), record.clone()));
        let inner = match &client {
            Some(client) => {
                lock(&client.0.request).body = body;
                None
            }
            None => Some(body),
        };
        Body::new(RequestBody { inner, client, tap })
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
        let poll = match (&this.client, &mut this.inner) {
            (Some(client), _) => client.poll_request(cx),
            (None, Some(inner)) => Pin::new(inner).poll_frame(cx),
            (None, None) => Poll::Ready(None),
        };
        if let (Poll::Ready(Some(Ok(frame))), Some((frames, record))) = (&poll, &mut this.tap)
            && let Some(data) = frame.data_ref()
        {
            record_data(record, Side::Request, frames, data);
        }
        poll
    }

    fn is_end_stream(&self) -> bool {
        match (&self.client, &self.inner) {
            (Some(client), _) => {
                let inlet = lock(&client.0.request);
                let ended = inlet.ended || inlet.body.is_end_stream();
                inlet.ahead.is_empty() && !inlet.draining && ended
            }
            (None, Some(inner)) => inner.is_end_stream(),
            (None, None) => true,
        }
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match (&self.client, &self.inner) {
            (Some(client), _) => {
                let inlet = lock(&client.0.request);
                match inlet.ahead.is_empty() {
                    true => inlet.body.size_hint(),
                    false => http_body::SizeHint::default(),
                }
            }
            (None, Some(inner)) => inner.size_hint(),
            (None, None) => http_body::SizeHint::with_exact(0),
        }
    }
}
