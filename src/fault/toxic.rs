//! Connection toxics: what happens to the bytes of a memory or TCP connection on their way
//! between client and server.

use std::{
    collections::VecDeque,
    fmt, io,
    pin::Pin,
    sync::{
        Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    task::{Context, Poll, Waker, ready},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    time::{Instant, Sleep},
};

use super::{Deadline, rule::Rng};
use crate::sync::lock;

/// The most bytes one toxic read takes at a time.
const CHUNK: usize = 16 * 1024;

/// The toxics of one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Lane {
    latency: Duration,
    jitter: Duration,
    /// Bytes per second; 0 is unlimited.
    bandwidth: u64,
    /// Reset the connection once this many bytes went this way.
    reset_after_bytes: Option<u64>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Config {
    /// Client to server.
    up: Lane,
    /// Server to client.
    down: Lane,
    reset_after: Option<Duration>,
    black_hole: bool,
}

/// The toxics a [`Faults`](super::Faults) handle holds, read by every connection it serves.
#[derive(Default)]
pub(crate) struct Toxics {
    active: AtomicBool,
    config: Mutex<Config>,
    /// The connections waiting to read, woken when the toxics change so that a new toxic
    /// (a reset timer, a lifted black hole) acts on idle connections too.
    /// A short list, searched in order: a handle has few connections at a time.
    waiting: Mutex<Vec<(u64, Waker)>>,
    next_id: AtomicU64,
}

impl Toxics {
    pub(crate) fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    pub(crate) fn clear(&self) {
        *lock(&self.config) = Config::default();
        self.active.store(false, Ordering::Release);
        self.wake_all();
    }

    fn wake_all(&self) {
        lock(&self.waiting).iter().for_each(|(_, waker)| waker.wake_by_ref());
    }

    fn wait(&self, id: u64, waker: &Waker) {
        let mut waiting = lock(&self.waiting);
        // The connection calls this only with a waker other than the one it left here.
        match waiting.iter_mut().find(|(known, _)| *known == id) {
            Some((_, known)) => known.clone_from(waker),
            None => waiting.push((id, waker.clone())),
        }
    }

    fn config(&self) -> Config {
        *lock(&self.config)
    }

    fn update(&self, change: impl FnOnce(&mut Config)) {
        let mut config = lock(&self.config);
        change(&mut config);
        self.active.store(*config != Config::default(), Ordering::Release);
        drop(config);
        self.wake_all();
    }
}

impl fmt::Debug for Toxics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.config().fmt(f)
    }
}

/// Which way the bytes go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    Both,
    Up,
    Down,
}

/// Toxics on the bytes of every memory and TCP connection of the servers a
/// [`Faults`](super::Faults) handle is attached to, as toxiproxy applies them: latency with
/// jitter, a bandwidth limit, a reset after some bytes or some time, a black hole. Each setting
/// applies to both directions unless [`upstream`](ConnectionToxics::upstream) (client to server)
/// or [`downstream`](ConnectionToxics::downstream) (server to client) comes before it. Settings
/// take effect on the next bytes of open connections too; [`Faults::clear`](super::Faults::clear)
/// removes them.
///
/// Waits go through `tokio::time`, so paused-time tests see exact figures.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use tonic_testkit::{Faults, TestServer, Transport};
/// use tonic_testkit_examples::hello::Greeter;
/// use tonic_testkit_examples::hello::pb::{
///     HelloRequest, hello_service_client::HelloServiceClient,
///     hello_service_server::HelloServiceServer,
/// };
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let faults = Faults::new();
/// let server = TestServer::builder()
///     .transport(Transport::Memory)
///     .add_service(HelloServiceServer::new(Greeter))
///     .faults(&faults)
///     .start()
///     .await;
/// let mut client = server.client(HelloServiceClient::new);
/// client.hello(HelloRequest { greeting: "Ada".into() }).await.unwrap(); // connect first
///
/// faults.connections().upstream().latency(Duration::from_millis(30));
/// faults.connections().downstream().latency(Duration::from_millis(20));
/// let started = tokio::time::Instant::now();
/// client.hello(HelloRequest { greeting: "Ada".into() }).await.unwrap();
///
/// assert_eq!(started.elapsed(), Duration::from_millis(50));
/// # }
/// ```
pub struct ConnectionToxics<'a> {
    toxics: &'a Toxics,
    direction: Direction,
}

impl<'a> ConnectionToxics<'a> {
    pub(crate) fn new(toxics: &'a Toxics) -> Self {
        Self { toxics, direction: Direction::Both }
    }

    /// The settings after this apply to bytes from client to server.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use tokio::time::Instant;
    /// # use tonic::{Code, Request};
    /// # use tonic_testkit::{Faults, TestServer, Transport, assert_status};
    /// # use tonic_testkit_examples::hello::Greeter;
    /// # use tonic_testkit_examples::hello::pb::{
    /// #     HelloRequest, hello_service_client::HelloServiceClient,
    /// #     hello_service_server::HelloServiceServer,
    /// # };
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let faults = Faults::new();
    /// let server = TestServer::builder()
    ///     .transport(Transport::Memory)
    ///     .add_service(HelloServiceServer::new(Greeter))
    ///     .faults(&faults)
    ///     .start()
    ///     .await;
    /// let mut client = server.client(HelloServiceClient::new);
    /// let ada = || HelloRequest { greeting: "Ada".into() };
    /// client.hello(ada()).await.unwrap(); // connect first
    /// faults.connections().upstream().latency(Duration::from_millis(30));
    ///
    /// let started = Instant::now();
    /// client.hello(ada()).await.unwrap();
    ///
    /// assert_eq!(started.elapsed(), Duration::from_millis(30)); // the answer came back at once
    /// # }
    /// ```
    pub fn upstream(mut self) -> Self {
        self.direction = Direction::Up;
        self
    }

    /// The settings after this apply to bytes from server to client.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use tokio::time::Instant;
    /// # use tonic::{Code, Request};
    /// # use tonic_testkit::{Faults, TestServer, Transport, assert_status};
    /// # use tonic_testkit_examples::hello::Greeter;
    /// # use tonic_testkit_examples::hello::pb::{
    /// #     HelloRequest, hello_service_client::HelloServiceClient,
    /// #     hello_service_server::HelloServiceServer,
    /// # };
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let faults = Faults::new();
    /// let server = TestServer::builder()
    ///     .transport(Transport::Memory)
    ///     .add_service(HelloServiceServer::new(Greeter))
    ///     .faults(&faults)
    ///     .start()
    ///     .await;
    /// let mut client = server.client(HelloServiceClient::new);
    /// let ada = || HelloRequest { greeting: "Ada".into() };
    /// client.hello(ada()).await.unwrap(); // connect first
    /// faults.connections().downstream().latency(Duration::from_millis(20));
    ///
    /// let started = Instant::now();
    /// client.hello(ada()).await.unwrap();
    ///
    /// assert_eq!(started.elapsed(), Duration::from_millis(20)); // the request went at once
    /// # }
    /// ```
    pub fn downstream(mut self) -> Self {
        self.direction = Direction::Down;
        self
    }

    fn lanes(&self, change: impl Fn(&mut Lane)) {
        let direction = self.direction;
        self.toxics.update(|config| {
            if direction != Direction::Down {
                change(&mut config.up);
            }
            if direction != Direction::Up {
                change(&mut config.down);
            }
        });
    }

    /// Holds each chunk of bytes for `latency` before passing it on. `Duration::MAX` (or any
    /// latency too long for the clock) holds them for good: calls wait for their deadline, and
    /// a connection that held bytes so stays stuck after [`Faults::clear`](super::Faults::clear)
    /// (a new channel makes a new connection).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use tokio::time::Instant;
    /// # use tonic::{Code, Request};
    /// # use tonic_testkit::{Faults, TestServer, Transport, assert_status};
    /// # use tonic_testkit_examples::hello::Greeter;
    /// # use tonic_testkit_examples::hello::pb::{
    /// #     HelloRequest, hello_service_client::HelloServiceClient,
    /// #     hello_service_server::HelloServiceServer,
    /// # };
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let faults = Faults::new();
    /// let server = TestServer::builder()
    ///     .transport(Transport::Memory)
    ///     .add_service(HelloServiceServer::new(Greeter))
    ///     .faults(&faults)
    ///     .start()
    ///     .await;
    /// let mut client = server.client(HelloServiceClient::new);
    /// let ada = || HelloRequest { greeting: "Ada".into() };
    /// client.hello(ada()).await.unwrap(); // connect first
    /// faults.connections().latency(Duration::from_millis(10)); // both ways
    ///
    /// let started = Instant::now();
    /// client.hello(ada()).await.unwrap();
    ///
    /// assert_eq!(started.elapsed(), Duration::from_millis(20)); // on the paused clock
    /// # }
    /// ```
    pub fn latency(self, latency: Duration) -> Self {
        self.lanes(|lane| lane.latency = latency);
        self
    }

    /// Adds up to `jitter` to each latency, drawn from the handle's seeded generator. A latency
    /// it makes too long for the clock (as `Duration::MAX` may) holds the bytes for good, as
    /// [`latency`](ConnectionToxics::latency) does.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use tokio::time::Instant;
    /// # use tonic::{Code, Request};
    /// # use tonic_testkit::{Faults, TestServer, Transport, assert_status};
    /// # use tonic_testkit_examples::hello::Greeter;
    /// # use tonic_testkit_examples::hello::pb::{
    /// #     HelloRequest, hello_service_client::HelloServiceClient,
    /// #     hello_service_server::HelloServiceServer,
    /// # };
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let faults = Faults::new();
    /// let server = TestServer::builder()
    ///     .transport(Transport::Memory)
    ///     .add_service(HelloServiceServer::new(Greeter))
    ///     .faults(&faults)
    ///     .start()
    ///     .await;
    /// let mut client = server.client(HelloServiceClient::new);
    /// let ada = || HelloRequest { greeting: "Ada".into() };
    /// client.hello(ada()).await.unwrap(); // connect first
    /// faults.connections().latency(Duration::from_millis(10)).jitter(Duration::from_millis(40));
    ///
    /// let started = Instant::now();
    /// client.hello(ada()).await.unwrap();
    ///
    /// // 10 ms each way, plus up to 40 ms each way, drawn from the handle's seed.
    /// let elapsed = started.elapsed();
    /// assert!((Duration::from_millis(20)..=Duration::from_millis(100)).contains(&elapsed));
    /// # }
    /// ```
    pub fn jitter(self, jitter: Duration) -> Self {
        self.lanes(|lane| lane.jitter = jitter);
        self
    }

    /// Passes at most `bytes_per_second` on.
    ///
    /// # Panics
    ///
    /// When `bytes_per_second` is 0 (use [`black_hole`](ConnectionToxics::black_hole)).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use tokio::time::Instant;
    /// # use tonic::{Code, Request};
    /// # use tonic_testkit::{Faults, TestServer, Transport, assert_status};
    /// # use tonic_testkit_examples::hello::Greeter;
    /// # use tonic_testkit_examples::hello::pb::{
    /// #     HelloRequest, hello_service_client::HelloServiceClient,
    /// #     hello_service_server::HelloServiceServer,
    /// # };
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let faults = Faults::new();
    /// let server = TestServer::builder()
    ///     .transport(Transport::Memory)
    ///     .add_service(HelloServiceServer::new(Greeter))
    ///     .faults(&faults)
    ///     .start()
    ///     .await;
    /// let mut client = server.client(HelloServiceClient::new);
    /// let ada = || HelloRequest { greeting: "Ada".into() };
    /// client.hello(ada()).await.unwrap(); // connect first
    /// faults.connections().upstream().bandwidth(1_000); // bytes a second
    ///
    /// let started = Instant::now();
    /// client.hello(HelloRequest { greeting: "x".repeat(2_000) }).await.unwrap();
    ///
    /// assert!(started.elapsed() >= Duration::from_secs(2)); // 2,000 bytes at 1,000 a second
    /// # }
    /// ```
    #[track_caller]
    pub fn bandwidth(self, bytes_per_second: u64) -> Self {
        assert!(
            bytes_per_second > 0,
            "ConnectionToxics::bandwidth(0) would pass nothing: for a connection that swallows \
             bytes use .black_hole()"
        );
        self.lanes(|lane| lane.bandwidth = bytes_per_second);
        self
    }

    /// Passes exactly `bytes` bytes, then resets the connection (each direction counts its
    /// own).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use tokio::time::Instant;
    /// # use tonic::{Code, Request};
    /// # use tonic_testkit::{Faults, TestServer, Transport, assert_status};
    /// # use tonic_testkit_examples::hello::Greeter;
    /// # use tonic_testkit_examples::hello::pb::{
    /// #     HelloRequest, hello_service_client::HelloServiceClient,
    /// #     hello_service_server::HelloServiceServer,
    /// # };
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let faults = Faults::new();
    /// let server = TestServer::builder()
    ///     .transport(Transport::Memory)
    ///     .add_service(HelloServiceServer::new(Greeter))
    ///     .faults(&faults)
    ///     .start()
    ///     .await;
    /// let mut client = server.client(HelloServiceClient::new);
    /// let ada = || HelloRequest { greeting: "Ada".into() };
    /// client.hello(ada()).await.unwrap(); // connect first
    /// // Any answer's first bytes (an HTTP/2 frame header is 9 bytes, its payload more) pass 10.
    /// faults.connections().downstream().reset_after_bytes(10);
    ///
    /// let reset = client.hello(ada()).await;
    /// faults.clear();
    /// let answered = client.hello(ada()).await; // on a new connection
    ///
    /// assert_eq!(reset.unwrap_err().code(), Code::Unknown); // a transport error
    /// assert!(answered.is_ok());
    /// # }
    /// ```
    pub fn reset_after_bytes(self, bytes: u64) -> Self {
        self.lanes(|lane| lane.reset_after_bytes = Some(bytes));
        self
    }

    /// Resets each connection `duration` after it opened. `Duration::MAX` (or any duration too
    /// long for the clock) never resets.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use tokio::time::Instant;
    /// # use tonic::{Code, Request};
    /// # use tonic_testkit::{Faults, TestServer, Transport, assert_status};
    /// # use tonic_testkit_examples::hello::Greeter;
    /// # use tonic_testkit_examples::hello::pb::{
    /// #     HelloRequest, hello_service_client::HelloServiceClient,
    /// #     hello_service_server::HelloServiceServer,
    /// # };
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let faults = Faults::new();
    /// let server = TestServer::builder()
    ///     .transport(Transport::Memory)
    ///     .add_service(HelloServiceServer::new(Greeter))
    ///     .faults(&faults)
    ///     .start()
    ///     .await;
    /// let mut client = server.client(HelloServiceClient::new);
    /// let ada = || HelloRequest { greeting: "Ada".into() };
    /// client.hello(ada()).await.unwrap(); // connect first
    /// // A call the server holds, on a connection reset when it is 100 ms old.
    /// faults.on("/hello.HelloService/Hello").hang();
    /// faults.connections().reset_after(Duration::from_millis(100));
    ///
    /// let started = Instant::now();
    /// let reset = client.hello(ada()).await;
    ///
    /// assert_eq!(reset.unwrap_err().code(), Code::Unknown); // a transport error
    /// assert_eq!(started.elapsed(), Duration::from_millis(100));
    /// # }
    /// ```
    pub fn reset_after(self, duration: Duration) -> Self {
        self.toxics.update(|config| config.reset_after = Some(duration));
        self
    }

    /// Accepts the client's bytes and never answers: calls wait for their deadline. A connection
    /// that lost bytes to the black hole is reset when the black hole is lifted (HTTP/2 cannot
    /// go on without them); the channel reconnects on a later call.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use tokio::time::Instant;
    /// # use tonic::{Code, Request};
    /// # use tonic_testkit::{Faults, TestServer, Transport, assert_status};
    /// # use tonic_testkit_examples::hello::Greeter;
    /// # use tonic_testkit_examples::hello::pb::{
    /// #     HelloRequest, hello_service_client::HelloServiceClient,
    /// #     hello_service_server::HelloServiceServer,
    /// # };
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let faults = Faults::new();
    /// let server = TestServer::builder()
    ///     .transport(Transport::Memory)
    ///     .add_service(HelloServiceServer::new(Greeter))
    ///     .faults(&faults)
    ///     .start()
    ///     .await;
    /// let mut client = server.client(HelloServiceClient::new);
    /// let ada = || HelloRequest { greeting: "Ada".into() };
    /// client.hello(ada()).await.unwrap(); // connect first
    /// faults.connections().black_hole();
    ///
    /// let mut request = Request::new(ada());
    /// request.set_timeout(Duration::from_millis(100));
    /// let swallowed = client.hello(request).await;
    ///
    /// assert_status!(swallowed, Code::Cancelled, "Timeout expired");
    /// assert_eq!(server.calls().len(), 1); // only the first call reached the service
    /// # }
    /// ```
    pub fn black_hole(self) -> Self {
        self.toxics.update(|config| config.black_hole = true);
        self
    }
}

impl fmt::Debug for ConnectionToxics<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionToxics").field("config", &self.toxics.config()).finish()
    }
}

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
    faults: super::Faults,
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
    pub(crate) fn new(inner: IO, faults: super::Faults, seed: u64) -> Self {
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
