//! Waiting for calls to end, woken by the journal as each call ends: no polling, and bounded on
//! the tokio clock.

use std::{
    fmt,
    future::{Future, IntoFuture},
    panic::Location,
    pin::Pin,
    time::Duration,
};

use super::{Call, Journal};

/// How long [`TestServer::wait_for_ended_calls`](crate::TestServer::wait_for_ended_calls) and
/// [`wait_for_cancelled_calls`](crate::TestServer::wait_for_cancelled_calls) wait unless
/// [`WaitForCalls::timeout`] says otherwise, on the tokio clock (so it passes at once under
/// `start_paused`): far longer than calls in a test take, so only a call that never ends
/// reaches it.
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Which calls a wait counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Calls that ended, however.
    Ended,
    /// Calls that ended because their client went away.
    Cancelled,
}

impl Wait {
    fn method(self) -> &'static str {
        match self {
            Wait::Ended => "wait_for_ended_calls",
            Wait::Cancelled => "wait_for_cancelled_calls",
        }
    }

    fn counts(self, call: &Call) -> bool {
        match self {
            Wait::Ended => call.status().is_some(),
            Wait::Cancelled => call.cancelled_by_client(),
        }
    }
}

/// A wait for calls to end: await it for the calls that did, oldest first. Made by
/// [`TestServer::wait_for_ended_calls`](crate::TestServer::wait_for_ended_calls) and
/// [`TestServer::wait_for_cancelled_calls`](crate::TestServer::wait_for_cancelled_calls).
#[must_use = "a WaitForCalls does nothing until it is awaited"]
pub struct WaitForCalls {
    journal: Journal,
    wait: Wait,
    count: usize,
    timeout: Duration,
    caller: &'static Location<'static>,
}

impl fmt::Debug for WaitForCalls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitForCalls")
            .field("wait", &self.wait)
            .field("count", &self.count)
            .field("timeout", &self.timeout)
            .field("caller", &self.caller)
            .finish_non_exhaustive()
    }
}

impl WaitForCalls {
    /// A wait for `count` calls of the `wait` kind, made at `caller`.
    ///
    /// # Panics
    ///
    /// When the journal keeps fewer calls than `count`: the wait could never end.
    #[track_caller]
    pub(crate) fn new(journal: &Journal, wait: Wait, count: usize) -> Self {
        let caller = Location::caller();
        if count > journal.limit() {
            panic!(
                "tonic-testkit: server.{}({count}) can never return: the journal keeps {} calls, \
                 and a wait counts the calls it keeps; raise it with \
                 `TestServerBuilder::journal_limit(n)`",
                wait.method(),
                journal.limit()
            );
        }
        let journal = journal.clone();
        Self { journal, wait, count, timeout: DEFAULT_WAIT_TIMEOUT, caller }
    }

    /// How long to wait, on the tokio clock. Defaults to [`DEFAULT_WAIT_TIMEOUT`].
    ///
    /// # Examples
    ///
    /// ```should_panic
    /// use std::time::Duration;
    ///
    /// use tonic_testkit::{Faults, TestServer};
    /// use tonic_testkit_examples::hello::Greeter;
    /// use tonic_testkit_examples::hello::pb::{
    ///     HelloRequest, hello_service_client::HelloServiceClient,
    ///     hello_service_server::HelloServiceServer,
    /// };
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let faults = Faults::new();
    /// faults.on("/hello.HelloService/Hello").hang();
    /// let server = TestServer::builder()
    ///     .add_service(HelloServiceServer::new(Greeter))
    ///     .faults(&faults)
    ///     .start()
    ///     .await;
    /// let mut client = server.client(HelloServiceClient::new);
    /// tokio::spawn(async move { client.hello(HelloRequest { greeting: "Ada".into() }).await });
    ///
    /// // Panics after a second of tokio time (none of real time), the hanging call listed:
    /// // "tonic-testkit: server.wait_for_ended_calls(1) at ... waited 1s (tokio time) ..."
    /// server.wait_for_ended_calls(1).timeout(Duration::from_secs(1)).await;
    /// # }
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    async fn run(self) -> Vec<Call> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let _waiting = self.journal.waiting();
        loop {
            // Enabled before the calls are read, so an end recorded in between still wakes it.
            let mut ends = std::pin::pin!(self.journal.ends());
            ends.as_mut().enable();
            let counted = self.counted();
            if counted.len() >= self.count {
                return counted;
            }
            if tokio::time::timeout_at(deadline, ends).await.is_err() {
                panic!("{}", self.timed_out());
            }
        }
    }

    /// The calls the wait counts.
    fn counted(&self) -> Vec<Call> {
        self.journal.calls().into_iter().filter(|call| self.wait.counts(call)).collect()
    }

    fn timed_out(&self) -> String {
        let calls = self.journal.calls();
        let counted = calls.iter().filter(|call| self.wait.counts(call)).count();
        let running = calls.iter().filter(|call| call.status().is_none()).count();
        let calls = |n: usize| if n == 1 { "1 call".to_owned() } else { format!("{n} calls") };
        let (expected, hint) = match self.wait {
            Wait::Ended => (
                format!("{} to end; {counted} ended", calls(self.count)),
                "End the calls the test leaves open (drop a call's future or response stream, \
                 close its request stream), wait for fewer, or allow more time with \
                 `.timeout(..)`.",
            ),
            Wait::Cancelled => (
                format!("{} to be cancelled by the client; {counted} were", calls(self.count)),
                "A call is cancelled by its client when the client drops it (its future or its \
                 response stream) before it ends: drop it, or allow more time with \
                 `.timeout(..)`.",
            ),
        };
        let is = if running == 1 { "is" } else { "are" };
        format!(
            "tonic-testkit: server.{}({}) at {} waited {:?} (tokio time) for {expected}, and \
             {running} {is} still running. {hint}\n{}",
            self.wait.method(),
            self.count,
            self.caller,
            self.timeout,
            self.journal.describe()
        )
    }
}

impl IntoFuture for WaitForCalls {
    type Output = Vec<Call>;
    type IntoFuture = Pin<Box<dyn Future<Output = Vec<Call>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}
