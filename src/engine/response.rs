//! Stage 6 of a call, the response: its body with panics in its stream caught, and its headers,
//! every message and its trailers noted in the journal.

use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use bytes::Bytes;
use http::{HeaderMap, uri::PathAndQuery};
use http_body::{Body as _, Frame};
use tonic::Status;
use tonic::body::Body;

use super::call::{AbortWatch, Mode, caught, cut_off, drop_then_cancel, release};
use crate::{
    engine::body::ClientSide,
    engine::panic::PanicSite,
    engine::shared::Shared,
    journal::{
        End, Record, Side, record_cancelled, record_data, record_response_headers, record_status,
        record_trailers,
    },
    protocol::{BODY_BROKEN, GRPC_STATUS, frames::Frames},
};

/// Records the head of a call's answer: its response headers or, for a trailers-only answer
/// (its status in its one header block), its trailers and its end.
pub(super) fn record_head(record: &Record, headers: &HeaderMap) {
    match grpc_status(headers) {
        Some(_) => record_trailers(record, headers, trailers_end(headers)),
        // The deadline holds until the response headers, as on tonic's server.
        None => record_response_headers(record, headers),
    }
}

/// A response body with panics in its stream caught; for a direct call, it also fails once the
/// client reset the stream, as a stream in progress does over HTTP/2.
pub(super) struct CatchPanicBody {
    pub(super) inner: Option<Body>,
    pub(super) shared: Arc<Shared>,
    pub(super) path: PathAndQuery,
    pub(super) mode: Mode,
    pub(super) abort: Option<AbortWatch>,
    pub(super) record: Option<Record>,
    /// The response messages being split out of the body, for the journal.
    pub(super) frames: Frames,
    pub(super) client: Option<ClientSide>,
}

impl CatchPanicBody {
    /// Notes a frame (or error) on its way to the client in the journal.
    fn record(&mut self, poll: &Poll<Option<Result<Frame<Bytes>, Status>>>) {
        let Some(record) = &self.record else { return };
        match poll {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    record_data(record, Side::Response, &mut self.frames, data);
                } else if let Some(trailers) = frame.trailers_ref() {
                    record_trailers(record, trailers, trailers_end(trailers));
                }
            }
            Poll::Ready(Some(Err(status))) => record_status(record, status.clone()),
            _ => {}
        }
    }

    /// Ends a direct call's stream that the grace period's end cut off, as a client reads a
    /// server that died mid-stream.
    fn cut_off(&mut self) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        release(&self.shared, &mut self.inner);
        let poll = Poll::Ready(Some(Err(Status::unknown(BODY_BROKEN))));
        self.record(&poll);
        poll
    }
}

impl CatchPanicBody {
    /// Hands a direct call whose client dropped the response with its request body open to a
    /// server task, where it goes on as it would over HTTP/2 (see [`drain`]); `false` if the
    /// call ends here.
    fn hand_over(&mut self) -> bool {
        let answering = self.inner.as_ref().is_some_and(|inner| !inner.is_end_stream());
        let drains = self.mode == Mode::Direct
            && answering
            && tokio::runtime::Handle::try_current().is_ok()
            && self.client.as_ref().is_some_and(ClientSide::start_draining);
        if !drains {
            return false;
        }
        let body = CatchPanicBody {
            inner: self.inner.take(),
            shared: self.shared.clone(),
            path: self.path.clone(),
            // No caller to unwind into any more: a panic is kept for the report.
            mode: Mode::Wire,
            // The server task is what `shutdown()` waits for and aborts now.
            abort: None,
            record: self.record.take(),
            frames: std::mem::take(&mut self.frames),
            client: self.client.clone(),
        };
        // A server past its shutdown drops the body at once, and the call is cancelled.
        let _ = self.shared.spawn(drain(body));
        true
    }
}

impl Drop for CatchPanicBody {
    fn drop(&mut self) {
        if self.inner.is_some() && !self.hand_over() {
            drop_then_cancel(&mut self.inner, self.record.as_ref());
        }
    }
}

/// Runs a direct call on after its client dropped the response with its request body open, as
/// an HTTP/2 server goes on: the answer is polled and discarded, as the client's connection
/// discards it, until [`DISCARDED`] bytes of it fill the client's stream window; the request
/// is read ahead of the handler, as the client's connection goes on sending it; and once the
/// request has ended the call is dropped and recorded as cancelled, as the client then resets
/// the stream. An answer that ends first ends the call as it ended.
async fn drain(mut body: CatchPanicBody) {
    let client = body.client.clone().expect("a direct call's body has its client side");
    let mut discarded = 0;
    std::future::poll_fn(|cx| {
        loop {
            let ended = catch_unwind(AssertUnwindSafe(|| client.read_ahead(cx)));
            if ended.unwrap_or(true) {
                return Poll::Ready(());
            }
            if discarded >= DISCARDED {
                return Poll::Pending;
            }
            // A handler's panic is caught in the body, and a client's was recorded where it was.
            match catch_unwind(AssertUnwindSafe(|| Pin::new(&mut body).poll_frame(cx))) {
                Ok(Poll::Ready(Some(Ok(frame)))) => {
                    discarded += frame.data_ref().map_or(0, Bytes::len);
                }
                Ok(Poll::Ready(_)) | Err(_) => return Poll::Ready(()),
                Ok(Poll::Pending) => return Poll::Pending,
            }
        }
    })
    .await;
}

/// How much of a drained call's answer is polled: a tonic client's stream window (hyper's
/// default, 2 MiB), which the client's connection does not give back for data it discards.
const DISCARDED: usize = 2 * 1024 * 1024;

impl http_body::Body for CatchPanicBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = &mut *self;
        if this.inner.is_some() && cut_off(&mut this.abort, cx, false) {
            return this.cut_off();
        }
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        if let Some(status) = this.client.as_ref().and_then(ClientSide::status) {
            // The client reset the stream: the rest of the answer never reaches it.
            this.inner = None;
            this.abort = None;
            if let Some(record) = this.record.take() {
                record_cancelled(&record);
            }
            return Poll::Ready(Some(Err(status)));
        }
        let outcome = {
            let _polling = this.shared.lifecycle.polling();
            catch_unwind(AssertUnwindSafe(|| Pin::new(inner).poll_frame(cx)))
        };
        match outcome {
            Ok(Poll::Pending) if cut_off(&mut this.abort, cx, true) => this.cut_off(),
            Ok(poll) => {
                this.record(&poll);
                if ends(&poll) {
                    // Nothing follows the trailers: hyper stops there, and a direct client must
                    // too (tonic's body after an error status would yield it again and again).
                    this.abort = None;
                    this.inner = None;
                }
                poll
            }
            Err(payload) => {
                let _ = catch_unwind(AssertUnwindSafe(|| this.inner = None));
                let record = this.record.take();
                let (shared, path, mode) = (&this.shared, &this.path, this.mode);
                let client = this.client.as_ref();
                let site = PanicSite::Stream;
                let status = caught(shared, site, path, mode, payload, record.as_ref(), client);
                let mut trailers = HeaderMap::new();
                match status.add_header(&mut trailers) {
                    Ok(()) => {
                        if let Some(record) = &record {
                            record_trailers(record, &trailers, None);
                        }
                        Poll::Ready(Some(Ok(Frame::trailers(trailers))))
                    }
                    Err(status) => Poll::Ready(Some(Err(status))),
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        let reset = self.client.as_ref().is_some_and(ClientSide::is_set);
        self.inner.as_ref().is_none_or(|inner| !reset && inner.is_end_stream())
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match &self.inner {
            Some(body) => body.size_hint(),
            None => http_body::SizeHint::with_exact(0),
        }
    }
}

/// Whether a response body frame is its last: the trailers, an error, or the end.
fn ends(poll: &Poll<Option<Result<Frame<Bytes>, Status>>>) -> bool {
    match poll {
        Poll::Ready(Some(Ok(frame))) => frame.is_trailers(),
        Poll::Ready(_) => true,
        Poll::Pending => false,
    }
}

/// How a response's trailers end the call. The common end, `grpc-status: 0` alone, skips
/// tonic's general parse (a copy of the trailers, a message to decode) and makes no `Status`.
fn trailers_end(trailers: &HeaderMap) -> Option<End> {
    if trailers.len() == 1 && grpc_status(trailers).is_some_and(|code| code == "0") {
        return Some(End::Ok);
    }
    Status::from_header_map(trailers).map(End::Status)
}

/// The `grpc-status` of a call's headers or trailers. They hold a few entries, so a scan
/// costs less than hashing the name.
fn grpc_status(headers: &HeaderMap) -> Option<&http::HeaderValue> {
    match headers.len() {
        0..=8 => headers.iter().find_map(|(name, value)| (name == GRPC_STATUS).then_some(value)),
        _ => headers.get(&GRPC_STATUS),
    }
}
