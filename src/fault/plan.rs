//! What the rules that fire on a call do to it, together: its [`Plan`].

use std::{future::Future, time::Duration};

#[cfg(doc)]
use super::FaultRule;
use super::{FOR_GOOD, FaultBody, body};

/// What happens to one call: what every firing rule asked for.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub(crate) delay: Duration,
    pub(crate) end: Option<End>,
    pub(crate) message_delay: Option<Duration>,
    pub(crate) cut: Option<(usize, tonic::Status)>,
    pub(crate) fired: Vec<String>,
}

/// How a call ends before its handler runs.
#[derive(Debug)]
pub(crate) enum End {
    Fail(tonic::Status),
    Hang,
    DropConnection,
}

/// What one rule does.
#[derive(Clone, Debug)]
pub(crate) enum Action {
    Fail(Failure),
    Delay(Duration),
    DelayMessages(Duration),
    Cut(usize, tonic::Status),
    Reset(usize, h2::Reason),
    Hang,
    DropConnection,
}

/// The status a failing rule answers with.
#[derive(Clone, Debug)]
pub(crate) enum Failure {
    /// From [`FaultRule::fail`]: the status is made when the rule acts.
    Parts(tonic::Code, String),
    /// From [`FaultRule::fail_with`].
    Status(tonic::Status),
}

impl Failure {
    pub(crate) fn code(&self) -> tonic::Code {
        match self {
            Self::Parts(code, _) => *code,
            Self::Status(status) => status.code(),
        }
    }

    pub(crate) fn message(&self) -> &str {
        match self {
            Self::Parts(_, message) => message,
            Self::Status(status) => status.message(),
        }
    }

    fn into_status(self) -> tonic::Status {
        match self {
            Self::Parts(code, message) => tonic::Status::new(code, message),
            Self::Status(status) => status,
        }
    }
}

impl Plan {
    pub(super) fn add(&mut self, action: Action, description: String) {
        self.fired.push(description);
        // The first rule that ends the call wins; delays add up.
        match action {
            // Saturated: `Duration::MAX` is a delay for good, whatever is added to it.
            Action::Delay(delay) => self.delay = self.delay.saturating_add(delay),
            Action::DelayMessages(delay) => {
                let sum = self.message_delay.unwrap_or_default().saturating_add(delay);
                self.message_delay = Some(sum);
            }
            Action::Cut(after, status) => self.cut_at(after, status),
            Action::Reset(after, reason) => self.cut_at(after, body::reset_status(reason)),
            Action::Fail(failure) => {
                self.end.get_or_insert_with(|| End::Fail(failure.into_status()));
            }
            Action::Hang => {
                self.end.get_or_insert(End::Hang);
            }
            Action::DropConnection => {
                self.end.get_or_insert(End::DropConnection);
            }
        }
        // A delay for good never ends, though tokio's `sleep` gives up after some 30 years of
        // its clock (which a paused clock reaches at once when nothing else is due): the call
        // hangs after it.
        if self.delay == FOR_GOOD {
            self.end = Some(End::Hang);
        }
    }

    /// Cuts the response after `after` messages with `status` (a reset's status resets the
    /// stream instead), unless an earlier cut is planned.
    fn cut_at(&mut self, after: usize, status: tonic::Status) {
        if self.cut.as_ref().is_none_or(|(n, _)| after < *n) {
            self.cut = Some((after, status));
        }
    }

    /// Runs `call` under the plan: the delay, then the end that replaces the call (a status, a
    /// hang, or `drop_connection`, which answers for the dropped connection), else the call with
    /// its response body rewritten for message delays and cuts.
    pub(crate) async fn run<F>(
        self,
        drop_connection: impl FnOnce() -> crate::BoxError,
        call: F,
    ) -> Result<http::Response<tonic::body::Body>, crate::BoxError>
    where
        F: Future<Output = Result<http::Response<tonic::body::Body>, crate::BoxError>>,
    {
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        match self.end {
            Some(End::Fail(status)) => return Ok(status.into_http()),
            Some(End::Hang) => std::future::pending::<()>().await,
            Some(End::DropConnection) => return Err(drop_connection()),
            None => {}
        }
        let response = call.await?;
        if self.message_delay.is_none() && self.cut.is_none() {
            return Ok(response);
        }
        let (message_delay, cut) = (self.message_delay, self.cut);
        Ok(response.map(|body| tonic::body::Body::new(FaultBody::new(body, message_delay, cut))))
    }
}
