//! The state one running test server shares between its guard, its channels and its tasks, held
//! by concern: the server's life and the tasks that run in it ([`Lifecycle`]), its connections
//! ([`Connections`]), the panics it caught ([`Panics`]), its services ([`ServiceStack`]), and
//! what the builder gave it (the journal, the faults, tonic's settings, TLS). Code that needs one
//! concern takes only that one.

use std::{
    future::Future,
    panic::AssertUnwindSafe,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering},
    },
    task::{Poll, Waker},
    time::Duration,
};

use tokio::{runtime::Handle, sync::Notify, task::AbortHandle};

use crate::engine::panic::{HandlerPanic, PanicSite};
use crate::engine::stack::Stack;
use crate::journal::Journal;
use crate::sync::lock;

/// Status message of a call that reaches a server after `shutdown()` or drop.
pub(crate) const SHUT_DOWN: &str = "tonic-testkit: the test server was shut down, so this call \
     cannot reach it; make calls before `shutdown()` (or before the server is dropped), or start \
     a new TestServer";

/// Status message of a call to a server whose tokio runtime has shut down (a server kept across
/// tests: each `#[tokio::test]` has its own runtime, which ends with the test).
pub(crate) const RUNTIME_GONE: &str = "tonic-testkit: the tokio runtime this test server was \
     started on has shut down, and the server's tasks ended with it, so this call cannot reach \
     it; start a TestServer in each test that uses one (every #[tokio::test] has its own \
     runtime), not once for several tests";

pub(crate) struct Shared {
    pub(crate) lifecycle: Lifecycle,
    pub(crate) connections: Connections,
    pub(crate) panics: Panics,
    pub(crate) services: ServiceStack,
    pub(crate) journal: Journal,
    pub(crate) faults: Option<crate::Faults>,
    /// tonic's server settings the builder was given.
    pub(crate) settings: crate::engine::settings::Settings,
    /// The server's CA and TLS configuration, when it serves TLS.
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::tls::TestTls>,
}

impl Shared {
    pub(crate) fn new(
        stack: Stack,
        journal: Journal,
        faults: Option<crate::Faults>,
        settings: crate::engine::settings::Settings,
        #[cfg(feature = "tls")] tls: Option<crate::tls::TestTls>,
    ) -> Arc<Self> {
        Arc::new(Self {
            lifecycle: Lifecycle::new(),
            connections: Connections::default(),
            panics: Panics::default(),
            services: ServiceStack(Mutex::new(Some(stack))),
            journal,
            faults,
            settings,
            #[cfg(feature = "tls")]
            tls,
        })
    }

    /// Whether a [`Faults`](crate::Faults) handle has taken the server down.
    pub(crate) fn is_down(&self) -> bool {
        self.faults.as_ref().is_some_and(crate::Faults::is_down)
    }

    /// Resolves once `close()` has been called.
    pub(crate) fn stopping(self: &Arc<Self>) -> impl Future<Output = ()> + Send + 'static {
        let shared = self.clone();
        async move {
            let lifecycle = &shared.lifecycle;
            wait_for(&lifecycle.stop, || lifecycle.is_closed()).await;
        }
    }

    /// Resolves once the grace period is over and whatever still runs must end.
    pub(crate) fn aborting(self: &Arc<Self>) -> impl Future<Output = ()> + Send + 'static {
        let shared = self.clone();
        async move {
            let lifecycle = &shared.lifecycle;
            wait_for(&lifecycle.abort, || lifecycle.is_aborted()).await;
        }
    }

    /// Spawns a server task that `shutdown()` waits for and, past the grace period, aborts. It
    /// runs on the runtime of the code that spawns it: a memory connection runs where its
    /// channel connected, so a call from another runtime is served even while the server's own
    /// runtime is not being driven.
    pub(crate) fn spawn<F>(self: &Arc<Self>, future: F) -> Option<AbortHandle>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let tasks = &self.lifecycle.tasks;
        let mut list = lock(&tasks.list);
        if list.sealed {
            // The server is past its shutdown: a late connection or call is refused.
            return None;
        }
        tasks.live.fetch_add(1, Ordering::AcqRel);
        let guard = TaskGuard(self.clone());
        let shared = self.clone();
        let handle = tokio::spawn(async move {
            let _guard = guard;
            let mut future = std::pin::pin!(future);
            std::future::poll_fn(|cx| {
                let _polling = shared.lifecycle.polling();
                future.as_mut().poll(cx)
            })
            .await;
        });
        if list.handles.len() == list.handles.capacity() {
            list.handles.retain(|handle| !handle.is_finished());
        }
        list.handles.push(handle.abort_handle());
        Some(handle.abort_handle())
    }

    /// Counts a direct call as running in the server until the returned guard is dropped, so
    /// that `shutdown()` gives it the grace period as it gives a call in a server task.
    pub(crate) fn track_call(self: &Arc<Self>) -> LiveCall {
        self.lifecycle.tasks.calls.fetch_add(1, Ordering::AcqRel);
        LiveCall(self.clone())
    }

    /// How many panics are kept: a mark for [`take_panics_from`](Self::take_panics_from).
    #[cfg(feature = "fuzz")]
    pub(crate) fn panic_count(&self) -> usize {
        self.panics.count()
    }

    /// Takes the panics kept since `mark`, leaving those before it to be reported.
    #[cfg(feature = "fuzz")]
    pub(crate) fn take_panics_from(&self, mark: usize) -> Vec<HandlerPanic> {
        self.panics.take_from(mark)
    }

    /// Drops the server's own copy of the services in the caller's task, so that a panic in a
    /// service's `Drop` (a mock's unmet expectation) is recorded for the test to report.
    pub(crate) fn release_services(&self) {
        self.services.release(&self.panics);
    }
}

impl crate::fault::Server for Shared {
    fn drop_connections(&self) -> usize {
        self.connections.drop_all()
    }
}

/// Whether the server runs, is closing or was aborted, the runtime it was started on, and the
/// tasks and direct calls running in it.
pub(crate) struct Lifecycle {
    closed: AtomicBool,
    /// Woken when the server closes.
    stop: Notify,
    /// Set, and `abort` woken, when the grace period is over.
    aborted: AtomicBool,
    abort: Notify,
    /// The runtime the server was started on, and whether it was found shut down.
    runtime: Handle,
    runtime_gone: AtomicBool,
    tasks: Tasks,
}

impl Lifecycle {
    fn new() -> Self {
        Self {
            closed: AtomicBool::new(false),
            stop: Notify::new(),
            aborted: AtomicBool::new(false),
            abort: Notify::new(),
            runtime: Handle::current(),
            runtime_gone: AtomicBool::new(false),
            tasks: Tasks::default(),
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Stops new connections and calls and asks running connections to finish gracefully.
    /// Returns `false` if the server was already closed.
    pub(crate) fn close(&self) -> bool {
        let first = !self.closed.swap(true, Ordering::AcqRel);
        self.stop.notify_waiters();
        first
    }

    /// Why no call can reach the server any more, when its runtime has shut down.
    ///
    /// A call made on the server's own runtime finds it running at no cost. A call made from
    /// another runtime (a server kept across tests) gives the server's runtime an empty job for
    /// its blocking pool: a runtime that has shut down cancels it at once, and a running one
    /// runs it on a pool thread, so no task is left waiting on a runtime nobody drives.
    pub(crate) fn runtime_gone(&self) -> Option<&'static str> {
        if !self.runtime_gone.load(Ordering::Acquire) {
            let here = Handle::try_current().map(|handle| handle.id());
            if here.is_ok_and(|here| here == self.runtime.id()) {
                return None;
            }
            let mut probe = std::pin::pin!(self.runtime.spawn_blocking(|| ()));
            let poll = probe.as_mut().poll(&mut std::task::Context::from_waker(Waker::noop()));
            // Done, or still queued: the runtime runs. Cancelled at once: it has shut down.
            if !matches!(poll, Poll::Ready(Err(err)) if err.is_cancelled()) {
                return None;
            }
            self.runtime_gone.store(true, Ordering::Release);
        }
        Some(if self.is_closed() { SHUT_DOWN } else { RUNTIME_GONE })
    }

    /// Whether the grace period is over and whatever still runs must end.
    pub(crate) fn is_aborted(&self) -> bool {
        self.aborted.load(Ordering::Acquire)
    }

    /// Whether every server task and every direct call has ended.
    pub(crate) fn calls_done(&self) -> bool {
        let tasks = &self.tasks;
        tasks.live.load(Ordering::Acquire) == 0 && tasks.calls.load(Ordering::Acquire) == 0
    }

    /// Waits until every server task and every direct call has ended. A direct call runs in
    /// its caller's task, so only the grace period waits for it: once aborted, it ends at its
    /// caller's next poll.
    pub(crate) async fn calls_ended(&self) {
        wait_for(&self.tasks.idle, || self.calls_done()).await;
    }

    /// Counts a poll of a server task or a direct call as under way until the guard drops.
    pub(crate) fn polling(&self) -> PollGuard<'_> {
        self.tasks.polling.fetch_add(1, Ordering::AcqRel);
        PollGuard(&self.tasks)
    }

    /// Waits, once everything was aborted, until every task and direct call has ended and so
    /// dropped the services it held. An aborted task ends at its next poll, so this is quick
    /// wherever the runtimes run; the wait goes on while some task or call is inside a poll (a
    /// handler that blocks its thread), and gives up after [`SETTLE`] with nothing polled: a
    /// runtime that nobody drives, or a call's future that nobody polls, holds what it holds.
    pub(crate) async fn settle(&self) {
        loop {
            if tokio::time::timeout(SETTLE, self.calls_ended()).await.is_ok() {
                return;
            }
            if self.tasks.polling.load(Ordering::Acquire) == 0 {
                return;
            }
        }
    }

    /// Aborts every server task (their futures, and the calls they hold, are dropped) and
    /// refuses new ones.
    pub(crate) fn seal_and_abort(&self) {
        let mut list = lock(&self.tasks.list);
        list.sealed = true;
        self.aborted.store(true, Ordering::Release);
        self.abort.notify_waiters();
        for handle in list.handles.drain(..) {
            handle.abort();
        }
    }

    /// Counts the end of a server task or a direct call, waking the wait for calls to end
    /// after the last.
    fn end(&self, count: &AtomicUsize) {
        if count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.tasks.idle.notify_waiters();
        }
    }
}

/// How long `shutdown()` waits, past the grace period, for aborted tasks and direct calls that
/// nothing is polling before it gives up on them.
const SETTLE: Duration = Duration::from_millis(250);

#[derive(Default)]
struct Tasks {
    live: AtomicUsize,
    calls: AtomicUsize,
    /// Polls of server tasks and direct calls under way, on any thread.
    polling: AtomicUsize,
    idle: Notify,
    list: Mutex<TaskList>,
}

#[derive(Default)]
struct TaskList {
    sealed: bool,
    handles: Vec<AbortHandle>,
}

/// The server's open connections, and the peer ports it hands out.
#[derive(Default)]
pub(crate) struct Connections {
    open: Mutex<Vec<AbortHandle>>,
    next_port: AtomicU16,
}

impl Connections {
    /// A loopback port number for the next in-process connection, so handlers see a distinct,
    /// stable peer per connection: 40001, 40002, ...
    pub(crate) fn next_peer_port(&self) -> u16 {
        40_001 + self.next_port.fetch_add(1, Ordering::Relaxed) % 20_000
    }

    /// Remembers a connection task, so that `drop_connections` can cut it.
    pub(crate) fn add(&self, connection: AbortHandle) {
        let mut open = lock(&self.open);
        if open.len() == open.capacity() {
            open.retain(|connection| !connection.is_finished());
        }
        open.push(connection);
    }

    /// Cuts every open connection; returns how many were open.
    pub(crate) fn drop_all(&self) -> usize {
        let connections = std::mem::take(&mut *lock(&self.open));
        let open = connections.iter().filter(|connection| !connection.is_finished()).count();
        connections.iter().for_each(AbortHandle::abort);
        open
    }
}

/// The panics caught in the server, kept for the test to report or take.
#[derive(Default)]
pub(crate) struct Panics(Mutex<Vec<HandlerPanic>>);

impl Panics {
    pub(crate) fn record(&self, panic: HandlerPanic) {
        lock(&self.0).push(panic);
    }

    pub(crate) fn take(&self) -> Vec<HandlerPanic> {
        std::mem::take(&mut *lock(&self.0))
    }

    /// How many panics are kept: a mark for [`take_from`](Self::take_from).
    #[cfg(feature = "fuzz")]
    pub(crate) fn count(&self) -> usize {
        lock(&self.0).len()
    }

    /// Takes the panics kept since `mark`, leaving those before it to be reported.
    #[cfg(feature = "fuzz")]
    pub(crate) fn take_from(&self, mark: usize) -> Vec<HandlerPanic> {
        let mut panics = lock(&self.0);
        let mark = mark.min(panics.len());
        panics.drain(mark..).collect()
    }
}

/// The server's services behind the test's layers, until the server is shut down.
pub(crate) struct ServiceStack(Mutex<Option<Stack>>);

impl ServiceStack {
    /// A clone of the services, or `None` once the server is shut down.
    pub(crate) fn get(&self) -> Option<Stack> {
        lock(&self.0).clone()
    }

    /// Drops the server's own copy of the services in the caller's task, so that a panic in a
    /// service's `Drop` (a mock's unmet expectation) is recorded in `panics`.
    fn release(&self, panics: &Panics) {
        let stack = lock(&self.0).take();
        if let Err(payload) = std::panic::catch_unwind(AssertUnwindSafe(move || drop(stack))) {
            panics.record(HandlerPanic::new(PanicSite::Drop, "", payload));
        }
    }
}

impl Drop for ServiceStack {
    fn drop(&mut self) {
        // Reached only when nobody can report any more; keep a panicking service's drop from
        // aborting the process through a double panic.
        if let Some(stack) = self.0.get_mut().ok().and_then(Option::take) {
            let _ = std::panic::catch_unwind(AssertUnwindSafe(move || drop(stack)));
        }
    }
}

/// A direct call in progress, for [`Lifecycle::calls_ended`].
pub(crate) struct LiveCall(Arc<Shared>);

impl LiveCall {
    /// The server the call runs in.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.0
    }
}

impl Drop for LiveCall {
    fn drop(&mut self) {
        let lifecycle = &self.0.lifecycle;
        lifecycle.end(&lifecycle.tasks.calls);
    }
}

/// A poll of a server task or a direct call, under way until dropped.
pub(crate) struct PollGuard<'a>(&'a Tasks);

impl Drop for PollGuard<'_> {
    fn drop(&mut self) {
        self.0.polling.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Lives inside each server task's future: dropped when the task ends or is aborted.
struct TaskGuard(Arc<Shared>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.panics.record(HandlerPanic::from_message(
                PanicSite::Kit,
                "",
                "a server task panicked while it ran or was dropped, outside any handler \
                 (see the panic printed above)"
                    .to_owned(),
            ));
        }
        let lifecycle = &self.0.lifecycle;
        lifecycle.end(&lifecycle.tasks.live);
    }
}

/// Resolves once `done` holds; whoever makes it hold then wakes `notify`'s waiters. Checked
/// first without a waiter, then after each registration, so no wake-up is missed.
async fn wait_for(notify: &Notify, done: impl Fn() -> bool) {
    if done() {
        return;
    }
    loop {
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if done() {
            return;
        }
        notified.await;
    }
}
