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
use crate::frames::Frames;

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

    /// Ends the stream here with the cut's status, dropping the rest of the response.
    fn cut_here(&mut self) -> Option<HeaderMap> {
        let (_, status) = self.cut.take()?;
        self.inner = None;
        self.ready.clear();
        let mut trailers = HeaderMap::new();
        // A status that cannot be written as headers is still a cut, with the code alone.
        if status.add_header(&mut trailers).is_err() {
            Status::new(status.code(), "").add_header(&mut trailers).ok();
        }
        Some(trailers)
    }
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
                return Poll::Ready(this.cut_here().map(|trailers| Ok(Frame::trailers(trailers))));
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
