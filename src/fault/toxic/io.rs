//! What connection toxics do to the bytes of one connection: queues that hold bytes back until
//! their time comes, and the connection that reads and writes through them.

use std::{
    collections::VecDeque,
    io,
    pin::Pin,
    sync::atomic::Ordering,
    task::{Context, Poll, Waker, ready},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    time::{Instant, Sleep},
};

use super::{Config, Lane};
use crate::fault::{Deadline, Faults, rng::Rng};
use crate::sync::lock;

/// The most bytes one toxic read takes at a time.
const CHUNK: usize = 16 * 1024;

/// Bytes held back by a lane until their time comes: each chunk is due at its arrival plus
/// the lane's latency (and its turn on the bandwidth), so chunks overlap as on a real link. A
/// chunk due [never](Deadline::Never) (a latency for good) holds back every chunk after it.
#[derive(Default)]
struct Queue {
    chunks: VecDeque<(Deadline, Vec<u8>)>,
    /// How much of the head chunk was passed on.
    position: usize,
    queued: usize,
    timer: Option<Pin<Box<Sleep>>>,
    /// When the bandwidth is free for the next chunk.
    free_at: Option<Deadline>,
    bytes: u64,
    ended: bool,
    /// The byte limit was reached: once the queue is empty, the connection is reset.
    exhausted: bool,
}

impl Queue {
    fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Queues `data`, or as much of it as the lane's byte limit lets through.
    fn push(&mut self, data: &[u8], lane: &Lane, rng: &mut Rng) -> io::Result<()> {
        let mut data = data;
        if let Some(limit) = lane.reset_after_bytes {
            let allowed = usize::try_from(limit.saturating_sub(self.bytes)).unwrap_or(usize::MAX);
            if data.len() >= allowed {
                data = &data[..allowed];
                self.exhausted = true;
            }
        }
        if data.is_empty() {
            return Err(reset("its byte limit"));
        }
        self.bytes += data.len() as u64;
        let now = Deadline::At(Instant::now());
        let mut sent = now;
        if lane.bandwidth > 0 {
            let start = self.free_at.map_or(now, |free| free.max(now));
            sent = start.then(Duration::from_secs_f64(data.len() as f64 / lane.bandwidth as f64));
            self.free_at = Some(sent);
        }
        let mut due = sent.then(lane.latency);
        if !lane.jitter.is_zero() {
            // Below `jitter` (the draw is below 1), so within `Duration`.
            due = due.then(lane.jitter.mul_f64(rng.next_f64()));
        }
        // Bytes never overtake each other.
        if let Some((last, _)) = self.chunks.back() {
            due = due.max(*last);
        }
        self.queued += data.len();
        self.chunks.push_back((due, data.to_vec()));
        Ok(())
    }

    /// The head chunk's bytes once it is due; `Ready(None)` when nothing is queued.
    fn poll_head(&mut self, cx: &mut Context<'_>) -> Poll<Option<&[u8]>> {
        let Some((due, _)) = self.chunks.front() else {
            return Poll::Ready(None);
        };
        let due = match *due {
            Deadline::At(due) => due,
            // Held for good: the connection waits for the peer or for its end, never for this.
            Deadline::Never => {
                self.timer = None;
                return Poll::Pending;
            }
        };
        if Instant::now() < due {
            let timer = self.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
            if timer.deadline() != due {
                timer.as_mut().reset(due);
            }
            ready!(timer.as_mut().poll(cx));
        }
        self.timer = None;
        let (_, data) = self.chunks.front().expect("checked above");
        Poll::Ready(Some(&data[self.position..]))
    }

    fn consume(&mut self, taken: usize) {
        self.position += taken;
        self.queued -= taken;
        if self.chunks.front().is_some_and(|(_, data)| self.position >= data.len()) {
            self.chunks.pop_front();
            self.position = 0;
        }
    }
}

fn reset(why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionReset,
        format!("tonic-testkit: connection reset by a toxic ({why})"),
    )
}

impl<IO> Drop for ToxicIo<IO> {
    fn drop(&mut self) {
        // Only a connection that waited for the toxics is listed among the waiting.
        if self.registered.is_some() {
            let mut waiting = lock(&self.faults.toxics().waiting);
            if let Some(place) = waiting.iter().position(|(id, _)| *id == self.id) {
                waiting.swap_remove(place);
            }
        }
    }
}

/// The most bytes a lane queues before it stops taking more.
const QUEUE_LIMIT: usize = 1024 * 1024;

/// The server side of a connection, with the handle's toxics applied. With no toxics set it
/// passes every call straight through.
///
/// What the toxics need (queues, timers, a generator) is allocated when one first acts on the
/// connection: HTTP/2 moves the connection around while it starts, and a connection no toxic
/// touches stays as small as it can.
pub(crate) struct ToxicIo<IO> {
    inner: IO,
    id: u64,
    /// The handle whose toxics act on the connection.
    faults: Faults,
    opened: Instant,
    seed: u64,
    /// The waker last handed to the toxics: a read that waits with the same one takes no lock.
    registered: Option<Waker>,
    lanes: Option<Box<Lanes>>,
}

/// The state of a connection that toxics act on.
struct Lanes {
    /// A black hole swallowed bytes of this connection, which HTTP/2 cannot do without: once
    /// the black hole is lifted, the connection is reset.
    swallowed: bool,
    reset_timer: Option<Pin<Box<Sleep>>>,
    up: Queue,
    down: Queue,
    rng: Rng,
    scratch: Vec<u8>,
}

impl<IO> ToxicIo<IO> {
    pub(crate) fn new(inner: IO, faults: Faults, seed: u64) -> Self {
        let id = faults.toxics().next_id.fetch_add(1, Ordering::Relaxed);
        Self { inner, id, faults, opened: Instant::now(), seed, registered: None, lanes: None }
    }

    /// Arranges for this connection's read to be woken when the toxics change.
    fn wait_for_toxics(&mut self, waker: &Waker) {
        if self.registered.as_ref().is_some_and(|registered| registered.will_wake(waker)) {
            return;
        }
        self.faults.toxics().wait(self.id, waker);
        self.registered = Some(waker.clone());
    }

    /// Whether bytes pass straight through: no toxic acts, and nothing is queued in `lane` or
    /// swallowed.
    fn idle(&self, lane: fn(&Lanes) -> &Queue) -> bool {
        !self.faults.toxics().is_active()
            && self.lanes.as_deref().is_none_or(|lanes| lane(lanes).is_empty() && !lanes.swallowed)
    }

    /// The connection itself and the toxics' state, made on first use.
    fn split(&mut self) -> (&mut IO, &mut Lanes) {
        let seed = self.seed;
        let lanes = self.lanes.get_or_insert_with(|| {
            Box::new(Lanes {
                swallowed: false,
                reset_timer: None,
                up: Queue::default(),
                down: Queue::default(),
                rng: Rng::new(seed),
                scratch: Vec::new(),
            })
        });
        (&mut self.inner, lanes)
    }
}

impl Lanes {
    /// `Err` once the connection has lived past `reset_after` since `opened`, or lost bytes to
    /// a black hole that is gone; registers the timer otherwise.
    fn check_reset(
        &mut self,
        config: &Config,
        opened: Instant,
        cx: &mut Context<'_>,
    ) -> io::Result<()> {
        if self.swallowed && !config.black_hole {
            return Err(reset("a black hole swallowed bytes of this connection"));
        }
        // A reset after a time past what the clock holds is no reset.
        let Some(Deadline::At(reset_at)) =
            config.reset_after.map(|after| Deadline::after(opened, after))
        else {
            self.reset_timer = None;
            return Ok(());
        };
        let timer =
            self.reset_timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(reset_at)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Err(reset("its time limit")),
            Poll::Pending => Ok(()),
        }
    }

    /// Reads what the client sent through `inner` into the upstream queue, until the reader
    /// waits.
    fn fill<IO: AsyncRead + Unpin>(
        &mut self,
        inner: &mut IO,
        config: &Config,
        cx: &mut Context<'_>,
    ) -> io::Result<()> {
        while !self.up.ended && self.up.queued < QUEUE_LIMIT {
            self.scratch.resize(CHUNK, 0);
            let mut chunk = ReadBuf::new(&mut self.scratch);
            match Pin::new(&mut *inner).poll_read(cx, &mut chunk) {
                Poll::Pending => return Ok(()),
                Poll::Ready(result) => result?,
            }
            let read = chunk.filled().len();
            if read == 0 {
                self.up.ended = true;
            } else if config.black_hole {
                self.swallowed = true;
            } else {
                self.up.push(&self.scratch[..read], &config.up, &mut self.rng)?;
            }
        }
        Ok(())
    }

    /// Writes the downstream chunks that are due to `inner`; `Ready` once the queue is empty.
    fn poll_deliver<IO: AsyncWrite + Unpin>(
        &mut self,
        inner: &mut IO,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        while let Some(data) = ready!(self.down.poll_head(cx)) {
            let written = ready!(Pin::new(&mut *inner).poll_write(cx, data))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.down.consume(written);
        }
        if self.down.exhausted {
            return Poll::Ready(Err(reset("its byte limit")));
        }
        Poll::Ready(Ok(()))
    }
}

impl<IO: AsyncWrite + Unpin> ToxicIo<IO> {
    /// Writes what is due downstream; `Ready` at once when toxics never acted here.
    fn poll_deliver(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.lanes {
            Some(lanes) => lanes.poll_deliver(&mut self.inner, cx),
            None => Poll::Ready(Ok(())),
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncRead for ToxicIo<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.idle(|lanes| &lanes.up) {
            let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
            if poll.is_pending() {
                this.wait_for_toxics(cx.waker());
            }
            return poll;
        }
        this.wait_for_toxics(cx.waker());
        let config = this.faults.toxics().config();
        let opened = this.opened;
        let (inner, lanes) = this.split();
        lanes.check_reset(&config, opened, cx)?;
        lanes.fill(inner, &config, cx)?;
        if lanes.up.is_empty() && lanes.up.exhausted {
            return Poll::Ready(Err(reset("its byte limit")));
        }
        let ended = lanes.up.ended;
        match ready!(lanes.up.poll_head(cx)) {
            Some(data) => {
                let taken = data.len().min(buf.remaining());
                buf.put_slice(&data[..taken]);
                lanes.up.consume(taken);
                Poll::Ready(Ok(()))
            }
            // Nothing queued: the end of the stream, or wait for the client (whose waker
            // `fill` registered).
            None if ended => Poll::Ready(Ok(())),
            None => Poll::Pending,
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncWrite for ToxicIo<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.idle(|lanes| &lanes.down) {
            return Pin::new(&mut this.inner).poll_write(cx, data);
        }
        let config = this.faults.toxics().config();
        let opened = this.opened;
        let (inner, lanes) = this.split();
        lanes.check_reset(&config, opened, cx)?;
        if config.black_hole {
            lanes.swallowed = true;
            return Poll::Ready(Ok(data.len()));
        }
        if let Poll::Ready(Err(err)) = lanes.poll_deliver(inner, cx) {
            return Poll::Ready(Err(err));
        }
        if lanes.down.queued >= QUEUE_LIMIT {
            return Poll::Pending; // `poll_deliver` registered the wake-up
        }
        lanes.down.push(data, &config.down, &mut lanes.rng)?;
        // What is due now goes now; the rest at the next write or flush.
        if let Poll::Ready(Err(err)) = lanes.poll_deliver(inner, cx) {
            return Poll::Ready(Err(err));
        }
        Poll::Ready(Ok(data.len()))
    }

    /// While no toxic acts, writes go through as the connection takes them, vectored when it
    /// is (HTTP/2 then writes as it would without a `Faults` handle); otherwise one buffer at a
    /// time through the toxics.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.idle(|lanes| &lanes.down) {
            return Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        }
        let first = bufs.iter().find(|buf| !buf.is_empty()).map_or(&[][..], |buf| &buf[..]);
        Pin::new(this).poll_write(cx, first)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_deliver(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_deliver(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}
