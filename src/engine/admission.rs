//! A connection's concurrency limit, as tonic's `concurrency_limit_per_connection` and
//! `load_shed` put tower's `ConcurrencyLimit` and `LoadShed` in front of a connection's
//! services: a call takes a permit before the layers see it and gives it back once its
//! response headers are out; past the limit it waits, or with load shedding is refused at once.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use tokio::{
    sync::{AcquireError, OwnedSemaphorePermit, Semaphore},
    time::Instant,
};
use tonic::Status;

use crate::engine::settings::Settings;

/// The permits of one connection (a direct channel and its clones count as one).
#[derive(Clone, Debug)]
pub(crate) struct ConnectionLimit {
    permits: Arc<Semaphore>,
    load_shed: bool,
}

impl ConnectionLimit {
    /// The limit of a new connection of a server with `settings`, if it has one.
    pub(crate) fn new(settings: &Settings) -> Option<Self> {
        let limit = settings.concurrency_limit?;
        Some(Self { permits: Arc::new(Semaphore::new(limit)), load_shed: settings.load_shed })
    }

    /// The gate one call passes.
    pub(crate) fn gate(&self) -> Gate {
        Gate { limit: self.clone(), state: State::New }
    }
}

type Acquire = Pin<Box<dyn Future<Output = Result<OwnedSemaphorePermit, AcquireError>> + Send>>;

/// One call's way past its connection's limit.
pub(crate) struct Gate {
    limit: ConnectionLimit,
    state: State,
}

enum State {
    New,
    /// Waiting for a permit since the instant given.
    Waiting(Acquire, Instant),
    /// Let in: the permit is held until the gate is dropped.
    Open {
        _permit: OwnedSemaphorePermit,
    },
}

impl Gate {
    /// `Ready(Ok(waited))` once the call is let in, `waited` being how long it waited for its
    /// permit; `Ready(Err(status))` when load shedding refuses it.
    pub(crate) fn poll_admit(&mut self, cx: &mut Context<'_>) -> Poll<Result<Duration, Status>> {
        loop {
            match &mut self.state {
                State::Open { .. } => return Poll::Ready(Ok(Duration::ZERO)),
                State::New => match self.limit.permits.clone().try_acquire_owned() {
                    Ok(permit) => self.state = State::Open { _permit: permit },
                    Err(_) if self.limit.load_shed => {
                        return Poll::Ready(Err(crate::protocol::overloaded()));
                    }
                    Err(_) => {
                        let acquire = Box::pin(self.limit.permits.clone().acquire_owned());
                        self.state = State::Waiting(acquire, Instant::now());
                    }
                },
                State::Waiting(acquire, since) => {
                    let permit = std::task::ready!(acquire.as_mut().poll(cx))
                        .expect("the semaphore of a connection is never closed");
                    let waited = since.elapsed();
                    self.state = State::Open { _permit: permit };
                    return Poll::Ready(Ok(waited));
                }
            }
        }
    }

    /// Whether the call waits for a permit.
    pub(crate) fn is_waiting(&self) -> bool {
        matches!(self.state, State::Waiting(..))
    }
}
