//! Stage 3 of a call, the faults: what a [`Faults`](crate::Faults) rule plan does to one call, in
//! the order the call meets it (a delay, an end that replaces the call), then the connection's
//! concurrency limit; and, on the response, the delays between messages and the cut.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use http::{Request, Response};
use tokio::time::Sleep;
use tonic::{Status, body::Body};

use crate::{
    BoxError,
    engine::admission::Gate,
    fault::{End as PlanEnd, FaultBody, Plan},
};

/// The faults a rule plan holds for one call, in the order the call meets them, then the
/// connection's concurrency limit.
pub(super) struct Faulted {
    /// The request, until the services are called with it.
    pub(super) request: Option<Request<Body>>,
    /// Before the services: the delay, then the end that replaces the call.
    delay: Option<Pin<Box<Sleep>>>,
    end: Option<PlanEnd>,
    /// On the response: a delay between messages, a cut after some of them.
    message_delay: Option<Duration>,
    cut: Option<(usize, Status)>,
    /// The connection the call came on, for `drop_connection`.
    connection: Option<ConnectionHandle>,
    /// The connection's concurrency limit, holding the call's permit once it is let in, and
    /// how long the call waited for it.
    gate: Option<Gate>,
    pub(super) waited: Duration,
}

impl Faulted {
    pub(super) fn new(
        plan: Plan,
        request: Request<Body>,
        connection: Option<ConnectionHandle>,
        gate: Option<Gate>,
    ) -> Box<Self> {
        let delay = (!plan.delay.is_zero()).then(|| Box::pin(tokio::time::sleep(plan.delay)));
        let Plan { end, message_delay, cut, .. } = plan;
        let request = Some(request);
        let waited = Duration::ZERO;
        Box::new(Self { request, delay, end, message_delay, cut, connection, gate, waited })
    }

    /// Whether the call waits for a permit of its connection (its deadline does not run yet).
    pub(super) fn is_waiting(&self) -> bool {
        self.gate.as_ref().is_some_and(Gate::is_waiting)
    }

    /// Runs the part before the services: `Ready(Some(answer))` when the faults end the call,
    /// `Ready(None)` when it goes on to the services.
    pub(super) fn before(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Response<Body>, BoxError>>> {
        if let Some(delay) = &mut self.delay {
            std::task::ready!(delay.as_mut().poll(cx));
            self.delay = None;
        }
        match self.end.take() {
            None => {}
            Some(PlanEnd::Hang) => {
                self.end = Some(PlanEnd::Hang);
                return Poll::Pending;
            }
            Some(PlanEnd::Fail(status)) => return Poll::Ready(Some(Ok(status.into_http()))),
            Some(PlanEnd::DropConnection) => {
                return Poll::Ready(Some(Err(self.drop_connection())));
            }
        }
        if let Some(gate) = &mut self.gate {
            match std::task::ready!(gate.poll_admit(cx)) {
                Ok(waited) => self.waited = waited,
                Err(refused) => return Poll::Ready(Some(Ok(refused.into_http()))),
            }
        }
        Poll::Ready(None)
    }

    fn drop_connection(&self) -> BoxError {
        let connection = self.connection.as_ref().and_then(|connection| connection.0.get());
        let Some(task) = connection else {
            panic!(
                "tonic-testkit: a fault rule asked to drop the connection of this call, and \
                 Transport::Direct has no connection; run the test over Transport::Memory or \
                 Transport::Tcp, or fail the call with .fail(..) instead"
            );
        };
        task.abort();
        Box::new(Status::unavailable("tonic-testkit: the connection was dropped by a fault rule"))
    }

    /// The response with the faults' message delays and cut.
    pub(super) fn respond(&mut self, response: Response<Body>) -> Response<Body> {
        if self.message_delay.is_none() && self.cut.is_none() {
            return response;
        }
        let (message_delay, cut) = (self.message_delay, self.cut.take());
        response.map(|body| Body::new(FaultBody::new(body, message_delay, cut)))
    }
}

/// The connection a wire call came on, so a fault can drop it. Filled in once the connection's
/// task is spawned; the kit removes it from the request before any service sees it.
#[derive(Clone, Debug, Default)]
pub(crate) struct ConnectionHandle(pub(crate) Arc<std::sync::OnceLock<tokio::task::AbortHandle>>);
