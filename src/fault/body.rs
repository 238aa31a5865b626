//! A response body with faults: a delay between messages, a stream cut after N messages.

use std::{
    collections::VecDeque,
    pin::Pin,
    task::{Context, Poll, ready},
    time::Duration,
};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body as HttpBody, Frame};
use tokio::time::Sleep;
use tonic::{Status, body::Body};

use super::FOR_GOOD;
use crate::protocol::frames::Frames;

/// Re-frames the body into one data frame per gRPC message, so that delays and cuts fall
/// between messages, however the server packed them into frames.
pub(crate) struct FaultBody {
    inner: Option<Body>,
    frames: Frames,
    ready: VecDeque<Bytes>,
    sent: usize,
    message_delay: Option<Duration>,
    cut: Option<(usize, Status)>,
    sleep: Option<Pin<Box<Sleep>>>,
    trailers: Option<HeaderMap>,
}

impl FaultBody {
    pub(crate) fn new(
        inner: Body,
        message_delay: Option<Duration>,
        cut: Option<(usize, Status)>,
    ) -> Self {
        Self {
            inner: Some(inner),
            frames: Frames::default(),
            ready: VecDeque::new(),
            sent: 0,
            message_delay,
            cut,
            sleep: None,
            trailers: None,
        }
    }

    /// Queues the whole messages received, and with `end`, what is left after them.
    fn queue(&mut self, end: bool) {
        self.ready.extend(std::iter::from_fn(|| self.frames.next_frame()));
        if end {
            let rest = self.frames.take_rest();
            if !rest.is_empty() {
                self.ready.push_back(rest);
            }
        }
    }

    /// Ends the stream here with the cut's status, dropping the rest of the response: as
    /// trailers, or as the error that resets the stream for a reset's status.
    fn cut_here(&mut self) -> Option<Result<Frame<Bytes>, Status>> {
        let (_, status) = self.cut.take()?;
        self.inner = None;
        self.ready.clear();
        if reset_reason(&status).is_some() {
            return Some(Err(status));
        }
        let mut trailers = HeaderMap::new();
        // A status that cannot be written as headers is still a cut, with the code alone.
        if status.add_header(&mut trailers).is_err() {
            Status::new(status.code(), "").add_header(&mut trailers).ok();
        }
        Some(Ok(Frame::trailers(trailers)))
    }
}

/// The status of a stream reset with `reason` in the middle of its response: what a tonic
/// client reports for it (the code tonic gives the reason, the text h2 gives a broken body),
/// with the reason as its source, where hyper's server finds it and resets the stream with it.
pub(crate) fn reset_status(reason: h2::Reason) -> Status {
    let code = Status::from_error(Box::new(h2::Error::from(reason))).code();
    let mut status = Status::new(code, crate::protocol::BODY_BROKEN);
    status.set_source(std::sync::Arc::new(h2::Error::from(reason)));
    status
}

/// The reason of a reset's status.
fn reset_reason(status: &Status) -> Option<h2::Reason> {
    let source = std::error::Error::source(status)?;
    source.downcast_ref::<h2::Error>().and_then(h2::Error::reason)
}

impl HttpBody for FaultBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = &mut *self;
        loop {
            if this.cut.as_ref().is_some_and(|(after, _)| this.sent >= *after) {
                // A reset waits until the stream would go on, with its next message or its end,
                // so what was sent before it can reach the client first.
                let resets =
                    this.cut.as_ref().is_some_and(|(_, status)| reset_reason(status).is_some());
                if resets
                    && this.ready.is_empty()
                    && this.trailers.is_none()
                    && let Some(inner) = this.inner.as_mut()
                {
                    let _ = ready!(Pin::new(inner).poll_frame(cx));
                }
                return Poll::Ready(this.cut_here());
            }
            if !this.ready.is_empty() {
                if this.sent > 0 && this.message_delay == Some(FOR_GOOD) {
                    // Held for good: nothing is to wake this body, which waits for the client
                    // to end it (a deadline does not end a response that has begun).
                    return Poll::Pending;
                }
                if let Some(sleep) = &mut this.sleep {
                    ready!(sleep.as_mut().poll(cx));
                    this.sleep = None;
                }
                let message = this.ready.pop_front().expect("checked non-empty");
                this.sent += 1;
                let delay =
                    this.message_delay.filter(|delay| !delay.is_zero() && *delay != FOR_GOOD);
                if let Some(delay) = delay {
                    this.sleep = Some(Box::pin(tokio::time::sleep(delay)));
                }
                return Poll::Ready(Some(Ok(Frame::data(message))));
            }
            if let Some(trailers) = this.trailers.take() {
                return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
            }
            let Some(inner) = this.inner.as_mut() else {
                return Poll::Ready(None);
            };
            match ready!(Pin::new(inner).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => {
                        this.frames.push(data);
                        this.queue(false);
                    }
                    Err(frame) => {
                        // Trailers end the stream: pass them on after the messages before them.
                        this.trailers = frame.into_trailers().ok();
                        this.inner = None;
                        this.queue(true);
                    }
                },
                Some(Err(status)) => return Poll::Ready(Some(Err(status))),
                None => {
                    this.inner = None;
                    this.queue(true);
                }
            }
        }
    }
}
