//! A response body with faults: a delay between messages, a stream cut after N messages.

use std::{
    collections::VecDeque,
    pin::Pin,
    task::{Context, Poll, ready},
    time::Duration,
};

use bytes::{Buf, Bytes, BytesMut};
use http::HeaderMap;
use http_body::{Body as HttpBody, Frame};
use tokio::time::Sleep;
use tonic::{Status, body::Body};

/// The gRPC message prefix: a compression flag and a big-endian length.
const PREFIX: usize = 5;

/// Re-frames the body into one data frame per gRPC message, so that delays and cuts fall
/// between messages, however the server packed them into frames.
pub(crate) struct FaultBody {
    inner: Option<Body>,
    buffer: BytesMut,
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
            buffer: BytesMut::new(),
            ready: VecDeque::new(),
            sent: 0,
            message_delay,
            cut,
            sleep: None,
            trailers: None,
        }
    }

    /// Moves every whole message in the buffer to `ready`.
    fn split(&mut self) {
        while self.buffer.len() >= PREFIX {
            let length = u32::from_be_bytes([
                self.buffer[1],
                self.buffer[2],
                self.buffer[3],
                self.buffer[4],
            ]) as usize;
            if self.buffer.len() < PREFIX + length {
                return;
            }
            self.ready.push_back(self.buffer.split_to(PREFIX + length).freeze());
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
                if let Some(sleep) = &mut this.sleep {
                    ready!(sleep.as_mut().poll(cx));
                    this.sleep = None;
                }
                let message = this.ready.pop_front().expect("checked non-empty");
                this.sent += 1;
                if let Some(delay) = this.message_delay.filter(|delay| !delay.is_zero()) {
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
                    Ok(mut data) => {
                        this.buffer.extend_from_slice(&data.copy_to_bytes(data.remaining()));
                        this.split();
                    }
                    Err(frame) => {
                        // Trailers end the stream: pass them on after the messages before them.
                        this.trailers = frame.into_trailers().ok();
                        this.inner = None;
                        if !this.buffer.is_empty() {
                            let rest = this.buffer.split().freeze();
                            this.ready.push_back(rest);
                        }
                    }
                },
                Some(Err(status)) => return Poll::Ready(Some(Err(status))),
                None => {
                    this.inner = None;
                    if !this.buffer.is_empty() {
                        let rest = this.buffer.split().freeze();
                        this.ready.push_back(rest);
                    }
                }
            }
        }
    }
}
