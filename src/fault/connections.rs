//! What a [`Faults`] handle does to connections: the servers it is attached to, their
//! connection toxics, and taking them down.

use std::{
    sync::{Weak, atomic::Ordering},
    time::Duration,
};

use tokio::time::Instant;

use super::{ConnectionToxics, Deadline, Faults, ToxicIo, Toxics, rng::mix};
use crate::sync::lock;

/// Why a connection is refused while a [`Faults`](crate::Faults) handle has the server down.
pub(crate) const SERVER_DOWN: &str = "tonic-testkit: the server is down (Faults::take_down); \
     it accepts connections again when the time given to take_down has passed";

/// A server a [`Faults`] handle is attached to, as the handle sees it: what
/// [`take_down`](Faults::take_down) cuts.
pub(crate) trait Server: Send + Sync {
    /// Cuts every open connection; returns how many were open.
    fn drop_connections(&self) -> usize;
}

impl Faults {
    /// Connection toxics for the memory and TCP connections of the servers this handle is
    /// attached to: see [`ConnectionToxics`].
    ///
    /// # Panics
    ///
    /// When the handle is attached to a [`Transport::Direct`](crate::Transport::Direct) server,
    /// which has no connections.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
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
    ///     .transport(Transport::Memory) // connections: memory or TCP
    ///     .add_service(HelloServiceServer::new(Greeter))
    ///     .faults(&faults)
    ///     .start()
    ///     .await;
    /// let mut client = server.client(HelloServiceClient::new);
    /// let ada = || HelloRequest { greeting: "Ada".into() };
    /// client.hello(ada()).await.unwrap(); // connect first
    /// faults.connections().latency(Duration::from_millis(10));
    ///
    /// let started = tokio::time::Instant::now();
    /// client.hello(ada()).await.unwrap();
    ///
    /// assert_eq!(started.elapsed(), Duration::from_millis(20)); // 10 ms each way
    /// # }
    /// ```
    #[track_caller]
    pub fn connections(&self) -> ConnectionToxics<'_> {
        self.check_connections("Faults::connections");
        ConnectionToxics::new(&self.inner.toxics)
    }

    /// "Server down": cuts every open connection of the servers this handle is attached to and
    /// refuses new ones for `duration` of tokio time, after which they are accepted again.
    /// Calls through a [wrapped](Faults::wrap) channel fail with `UNAVAILABLE` meanwhile.
    /// `Duration::MAX` (or any duration too long for the clock) takes the servers down for good,
    /// until [`clear`](Faults::clear).
    ///
    /// # Panics
    ///
    /// When the handle is attached to a [`Transport::Direct`](crate::Transport::Direct) server,
    /// which has no connections; a handle taken down and then attached to one panics when that
    /// server starts.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use tonic::Code;
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
    ///
    /// faults.take_down(Duration::from_secs(5));
    /// let refused = client.hello(HelloRequest { greeting: "Ada".into() }).await.unwrap_err();
    /// tokio::time::sleep(Duration::from_secs(5)).await;
    /// let answered = client.hello(HelloRequest { greeting: "Ada".into() }).await;
    ///
    /// assert_eq!(refused.code(), Code::Unavailable);
    /// assert!(answered.is_ok());
    /// # }
    /// ```
    #[track_caller]
    pub fn take_down(&self, duration: Duration) {
        self.check_connections("Faults::take_down");
        *lock(&self.inner.down) = Some(Deadline::after(Instant::now(), duration));
        self.inner.any_down.store(true, Ordering::Release);
        for (_, server) in lock(&self.inner.servers).iter() {
            if let Some(server) = server.upgrade() {
                server.drop_connections();
            }
        }
    }

    /// Attaches the handle to a server.
    ///
    /// # Panics
    ///
    /// As [`check_transport`](Faults::check_transport).
    #[track_caller]
    pub(crate) fn attach(&self, direct: bool, server: Weak<dyn Server>) {
        self.check_transport(direct);
        lock(&self.inner.servers).push((direct, server));
    }

    /// Refuses what a server cannot do with the handle as it is now, when it is a `direct` one
    /// ([`Transport::Direct`](crate::Transport::Direct)). The
    /// builder calls it when the test calls `start` (for the test's line) and again as it
    /// attaches the handle.
    ///
    /// # Panics
    ///
    /// Over [`Transport::Direct`](crate::Transport::Direct), which has no connections, when the
    /// handle has connection toxics or is [taken down](Faults::take_down).
    #[track_caller]
    pub(crate) fn check_transport(&self, direct: bool) {
        if !direct {
            return;
        }
        assert!(
            !self.inner.toxics.is_active(),
            "Faults with connection toxics were attached to a Transport::Direct server, which has \
             no connections: run the test over Transport::Memory or Transport::Tcp, or clear the \
             toxics"
        );
        assert!(
            !self.is_down(),
            "Faults taken down (Faults::take_down) were attached to a Transport::Direct server, \
             which has no connections to refuse: run the test over Transport::Memory or \
             Transport::Tcp, or do not take the handle down"
        );
    }

    #[track_caller]
    fn check_connections(&self, what: &str) {
        let direct = lock(&self.inner.servers)
            .iter()
            .any(|(direct, server)| *direct && server.strong_count() > 0);
        assert!(
            !direct,
            "{what} acts on connections, and this Faults is attached to a Transport::Direct \
             server, which has none: run the test over Transport::Memory or Transport::Tcp"
        );
    }

    /// Whether the servers are taken down now.
    pub(crate) fn is_down(&self) -> bool {
        if !self.inner.any_down.load(Ordering::Acquire) {
            return false;
        }
        let mut down = lock(&self.inner.down);
        match *down {
            Some(until) if !until.has_passed() => true,
            _ => {
                *down = None;
                self.inner.any_down.store(false, Ordering::Release);
                false
            }
        }
    }

    /// Wraps the server side of a new connection in the toxics.
    pub(crate) fn toxic_io<IO>(&self, io: IO) -> ToxicIo<IO> {
        let connection = self.inner.connections.fetch_add(1, Ordering::Relaxed);
        ToxicIo::new(io, self.clone(), mix(self.inner.seed ^ connection))
    }

    /// The connection toxics, which every connection the handle wraps reads.
    pub(super) fn toxics(&self) -> &Toxics {
        &self.inner.toxics
    }
}
