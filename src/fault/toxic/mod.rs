//! Connection toxics: what happens to the bytes of a memory or TCP connection on their way
//! between client and server.

//!
//! This file holds the settings (what a test asks for, through [`ConnectionToxics`]); `io` holds
//! what acts on a connection's bytes.

mod io;

use std::{
    fmt,
    sync::{
        Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    task::Waker,
    time::Duration,
};

pub(crate) use io::ToxicIo;

use crate::sync::lock;

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
    /// # use tonic_testkit::{Faults, TestServer, Transport};
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
    /// # use tonic_testkit::{Faults, TestServer, Transport};
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
    /// # use tonic_testkit::{Faults, TestServer, Transport};
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
    /// # use tonic_testkit::{Faults, TestServer, Transport};
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
    /// # use tonic_testkit::{Faults, TestServer, Transport};
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
    /// # use tonic::Code;
    /// # use tonic_testkit::{Faults, TestServer, Transport};
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
    /// # use tonic::Code;
    /// # use tonic_testkit::{Faults, TestServer, Transport};
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
