//! One call: how [`serve`] runs it through the stages of the pipeline, and [`CallFuture`],
//! which polls them with panics caught.

use std::{
    any::Any,
    future::Future,
    panic::{AssertUnwindSafe, catch_unwind, resume_unwind},
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, Waker},
};

use http::{Request, Response, uri::PathAndQuery};
use tokio::time::Sleep;
use tonic::{Status, TimeoutExpired, body::Body};

use super::faults::{ConnectionHandle, Faulted};
use super::response::{CatchPanicBody, record_head};
use crate::{
    BoxError,
    engine::admission::ConnectionLimit,
    engine::body::{ClientSide, RequestBody},
    engine::panic::{HandlerPanic, PanicSite},
    engine::shared::{LiveCall, SHUT_DOWN, Shared},
    engine::stack::StackFuture,
    journal::{Record, record_cancelled, record_faults, record_status},
    protocol::frames::Frames,
    protocol::{STREAM_RESET, TRANSPORT_ERROR, grpc_timeout, stream_reset},
};

/// How a caught panic is handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The call runs in the test's task: record the panic, then let it unwind into the test.
    Direct,
    /// The call runs in a server task: record the panic and answer `INTERNAL`.
    Wire,
}

type Abort = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Whether a direct call must stop because the grace period is over. The watcher that wakes the
/// call then is made only once the call waits, so a call that finishes at its first poll (most
/// direct calls) never makes one.
///
/// Until its response ends, a direct call counts as running in the server (`live`), so that
/// `shutdown()` gives it the grace period, and waits for it to drop the services it holds.
pub(super) struct AbortWatch {
    watcher: Option<Abort>,
    live: LiveCall,
}

impl AbortWatch {
    /// `true` once the grace period is over; otherwise, if `waiting`, arranges to be woken then.
    fn fired(&mut self, cx: &mut Context<'_>, waiting: bool) -> bool {
        let shared = self.live.shared();
        if shared.lifecycle.is_aborted() {
            return true;
        }
        if !waiting {
            return false;
        }
        let watcher = self.watcher.get_or_insert_with(|| Box::pin(shared.aborting()));
        watcher.as_mut().poll(cx).is_ready()
    }
}

/// Polls `abort` (a direct call's watch for the end of the grace period); `true` once it fired.
pub(super) fn cut_off(abort: &mut Option<AbortWatch>, cx: &mut Context<'_>, waiting: bool) -> bool {
    abort.as_mut().is_some_and(|abort| abort.fired(cx, waiting))
}

/// Drops what a call holds (the services, a mock among them) where a panic in a `Drop` is
/// caught and kept for the report, as `shutdown()` keeps it for the server's own copy.
pub(super) fn release<T>(shared: &Shared, held: &mut Option<T>) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(|| *held = None)) {
        shared.panics.record(HandlerPanic::new(PanicSite::Drop, "", payload));
    }
}

/// The part of a call that runs before its response: steps 3 to 5 of the module's list.
enum Inner {
    /// An answer ready before the services run: the server is shut down, or the request was
    /// rejected, with a response or as its connection was (boxed: a rare case should not make
    /// every call's future larger).
    Refused(Option<Box<Result<Response<Body>, Status>>>),
    /// A layer panicked as the services were called with the request, at once.
    Panicked(Option<Box<dyn Any + Send>>),
    Call {
        /// The faults, holding the request until the services are called with it; `None`
        /// when no rule acts, and the services were called at once.
        faults: Option<Box<Faulted>>,
        call: Option<StackFuture>,
        /// The deadline's timer, if the client sent `grpc-timeout`.
        deadline: Option<Pin<Box<Sleep>>>,
    },
}

impl Inner {
    /// Polls the call of a `mode` server; `site` tells a panic's catcher where it happened.
    fn poll(
        &mut self,
        cx: &mut Context<'_>,
        shared: &Shared,
        mode: Mode,
        site: &mut PanicSite,
    ) -> Poll<Result<Response<Body>, BoxError>> {
        let (faults, call, deadline) = match self {
            Inner::Refused(answer) => {
                let answer = *answer.take().expect("a refused call is polled once");
                return Poll::Ready(answer.map_err(|status| Box::new(status) as BoxError));
            }
            Inner::Panicked(payload) => {
                *site = PanicSite::Layer;
                resume_unwind(payload.take().expect("a panicked call is polled once"));
            }
            Inner::Call { faults, call, deadline } => (faults, call, deadline),
        };
        let result = match Self::run(cx, shared, faults, call, deadline, site) {
            Poll::Ready(result) => result,
            // A call waiting for a permit is not timed yet, as on tonic's server.
            Poll::Pending if faults.as_ref().is_some_and(|faults| faults.is_waiting()) => {
                return Poll::Pending;
            }
            Poll::Pending => match deadline.as_mut().map(|sleep| sleep.as_mut().poll(cx)) {
                Some(Poll::Ready(())) => Err(TimeoutExpired(()).into()),
                _ => return Poll::Pending,
            },
        };
        Poll::Ready(recover(result, mode))
    }

    /// The faults before the services, then the services, then the faults on the response.
    fn run(
        cx: &mut Context<'_>,
        shared: &Shared,
        faults: &mut Option<Box<Faulted>>,
        call: &mut Option<StackFuture>,
        deadline: &mut Option<Pin<Box<Sleep>>>,
        site: &mut PanicSite,
    ) -> Poll<Result<Response<Body>, BoxError>> {
        if call.is_none() {
            let faults = faults.as_mut().expect("a call not made yet waits for its faults");
            if let Some(answer) = std::task::ready!(faults.before(cx)) {
                return Poll::Ready(answer);
            }
            // The time spent waiting for a permit does not count against the deadline.
            if let Some(deadline) = deadline.as_mut().filter(|_| !faults.waited.is_zero()) {
                let at = deadline.deadline() + faults.waited;
                deadline.as_mut().reset(at);
            }
            let request = faults.request.take().expect("the request waits for the services");
            // The services are released once `shutdown()` ends; a call delayed until then is
            // refused as any late call is.
            let Some(stack) = shared.services.get() else {
                return Poll::Ready(Ok(Status::unavailable(SHUT_DOWN).into_http()));
            };
            *site = PanicSite::Layer;
            *call = Some(stack.call(request));
            *site = PanicSite::Call;
        }
        let future = call.as_mut().expect("the services were called");
        let response = std::task::ready!(Pin::new(future).poll(cx))?;
        Poll::Ready(Ok(match faults {
            Some(faults) => faults.respond(response),
            None => response,
        }))
    }
}

/// Runs one request that came over a connection (with its concurrency `limit`, if the server
/// has one) through the server's services.
pub(crate) fn serve(
    shared: &Arc<Shared>,
    request: Request<Body>,
    limit: Option<&ConnectionLimit>,
) -> CallFuture {
    serve_call(shared, request, Mode::Wire, None, limit)
}

/// Runs one direct request through the server's services. When the client's request body
/// fails, the call ends as a stream the client reset; when the client drops the response while
/// its request body is open, the call goes on until the request ends, as over HTTP/2.
pub(crate) fn serve_direct(
    shared: &Arc<Shared>,
    request: Request<Body>,
    limit: Option<&ConnectionLimit>,
) -> CallFuture {
    let path = request.uri().path_and_query().cloned().unwrap_or_else(root);
    let client = ClientSide::new(shared, &path);
    serve_call(shared, request, Mode::Direct, Some(client), limit)
}

fn serve_call(
    shared: &Arc<Shared>,
    request: Request<Body>,
    mode: Mode,
    client: Option<ClientSide>,
    limit: Option<&ConnectionLimit>,
) -> CallFuture {
    // The path alone (one shared reference), for the journal, the faults and panic reports.
    let path = request.uri().path_and_query().cloned().unwrap_or_else(root);
    // Over the wire, a connection still open in the grace period carries calls until the
    // services are released, as hyper's graceful shutdown lets them.
    let stack = match mode {
        Mode::Direct if shared.lifecycle.is_closed() => None,
        _ => shared.services.get(),
    };
    let admitted = stack.is_some();
    let deadline = grpc_timeout(request.headers());
    let record = admitted.then(|| shared.journal.start(&path, request.headers(), deadline));
    let record = record.flatten();
    let mut request = request.map(|body| RequestBody::wrap(body, client.clone(), record.as_ref()));
    let connection = match mode {
        Mode::Wire => request.extensions_mut().remove::<ConnectionHandle>(),
        Mode::Direct => None,
    };
    let plan = match (admitted, &shared.faults) {
        (true, Some(faults)) => faults.plan(path.path(), request.headers()),
        _ => None,
    };
    if let (Some(plan), Some(record)) = (&plan, &record) {
        record_faults(record, &plan.fired);
    }
    // tonic's server times a call by the shorter of the client's deadline and its `timeout`.
    let deadline = match (deadline, shared.settings.timeout) {
        (Some(client), Some(server)) => Some(client.min(server)),
        (client, server) => client.or(server),
    };
    let deadline = deadline.map(|after| Box::pin(tokio::time::sleep(after)));
    let gate = limit.map(ConnectionLimit::gate);
    let inner = match (stack, plan, gate) {
        (None, ..) => {
            Inner::Refused(Some(Box::new(Ok(Status::unavailable(SHUT_DOWN).into_http()))))
        }
        // No rule acts and no limit: the services are called now, a panic in a layer caught
        // here and handled at the first poll, as every other panic of the call.
        (Some(stack), None, None) => match catch_unwind(AssertUnwindSafe(|| stack.call(request))) {
            Ok(call) => Inner::Call { faults: None, call: Some(call), deadline },
            Err(payload) => Inner::Panicked(Some(payload)),
        },
        // The services are called once the faults and the connection's limit let the call in.
        (Some(_), plan, gate) => {
            let plan = plan.unwrap_or_default();
            let faults = Some(Faulted::new(plan, request, connection, gate));
            Inner::Call { faults, call: None, deadline }
        }
    };
    // Over the wire, shutdown aborts the server task that runs a call; a direct call runs in the
    // caller's task, so it watches for the abort itself.
    let abort = (admitted && mode == Mode::Direct)
        .then(|| AbortWatch { watcher: None, live: shared.track_call() });
    CallFuture {
        inner: Some(inner),
        shared: shared.clone(),
        path,
        mode,
        site: PanicSite::Call,
        abort,
        record,
        client,
    }
}

/// The path of a request that has none.
fn root() -> PathAndQuery {
    PathAndQuery::from_static("/")
}

/// A call answered before it reaches the services or the journal, as hyper answers a request
/// it rejects: with a response, or with the status a client reports when hyper closes the
/// connection instead.
pub(crate) fn answer(shared: &Arc<Shared>, answer: Result<Response<Body>, Status>) -> CallFuture {
    CallFuture {
        inner: Some(Inner::Refused(Some(Box::new(answer)))),
        shared: shared.clone(),
        path: root(),
        mode: Mode::Direct,
        site: PanicSite::Call,
        abort: None,
        record: None,
        client: None,
    }
}

/// What tonic's server does with a service error: a `Status` (or a deadline) becomes a status
/// response; any other error resets the stream, which a tonic client reports as
/// [`STREAM_RESET`]. The direct transport has no stream to reset and answers that status itself,
/// with the service's error as its source.
fn recover(
    result: Result<Response<Body>, BoxError>,
    mode: Mode,
) -> Result<Response<Body>, BoxError> {
    let err = match result {
        Ok(response) => return Ok(response),
        Err(err) => err,
    };
    match (Status::try_from_error(err), mode) {
        (Ok(status), _) => Ok(status.into_http()),
        (Err(err), Mode::Wire) => Err(err),
        (Err(err), Mode::Direct) => Err(Box::new(stream_reset(err))),
    }
}

/// What the journal records for a service error that reached the client as a reset stream.
fn reset_status(err: &(dyn std::error::Error + Send + Sync + 'static)) -> Status {
    match err.downcast_ref::<Status>() {
        Some(status) => status.clone(),
        None => Status::internal(format!("{STREAM_RESET} (the service failed: {err})")),
    }
}

/// The future of one call: the services' future, with panics caught.
pub(crate) struct CallFuture {
    inner: Option<Inner>,
    shared: Arc<Shared>,
    path: PathAndQuery,
    mode: Mode,
    /// Where a panic caught now happened: in the layers while they are called, else the handler.
    site: PanicSite,
    abort: Option<AbortWatch>,
    record: Option<Record>,
    /// A direct call's client side: once its stream is reset, the call fails as a stream the
    /// client reset.
    client: Option<ClientSide>,
}

impl CallFuture {
    fn record(&self, status: Status) {
        if let Some(record) = &self.record {
            record_status(record, status);
        }
    }

    /// Ends a direct call that the grace period's end cut off, dropping what it holds first.
    fn cut_off(&mut self) -> Poll<Result<Response<Body>, BoxError>> {
        release(&self.shared, &mut self.inner);
        self.record(Status::unknown(TRANSPORT_ERROR));
        Poll::Ready(Err(Box::new(Status::unknown(TRANSPORT_ERROR))))
    }

    /// Ends the call with the answer of its services (or of its faults).
    fn answered(
        &mut self,
        result: Result<Response<Body>, BoxError>,
    ) -> Poll<Result<Response<Body>, BoxError>> {
        self.inner = None;
        if let Some(record) = &self.record {
            match &result {
                Ok(response) => record_head(record, response.headers()),
                Err(err) => record_status(record, reset_status(err.as_ref())),
            }
        }
        let reset_status = self.client.as_ref().and_then(ClientSide::status);
        let catcher = |body| {
            Body::new(CatchPanicBody {
                inner: Some(body),
                shared: self.shared.clone(),
                path: std::mem::replace(&mut self.path, root()),
                mode: self.mode,
                abort: self.abort.take(),
                record: self.record.take(),
                frames: Frames::default(),
                client: self.client.take(),
            })
        };
        let result = result.map(|response| response.map(catcher));
        match reset_status {
            // The client reset the stream: the answer, if any, never reaches it.
            Some(status) => Poll::Ready(Err(Box::new(status))),
            None => Poll::Ready(result),
        }
    }
}

/// Drops `inner` (the handler's future or stream) before the call is recorded as cancelled, so
/// a test that waits for the cancellation sees what the handler did as it was dropped.
pub(super) fn drop_then_cancel<T>(inner: &mut Option<T>, record: Option<&Record>) {
    let dropped = catch_unwind(AssertUnwindSafe(|| *inner = None));
    if let Some(record) = record {
        record_cancelled(record);
    }
    if let Err(payload) = dropped {
        resume_unwind(payload);
    }
}

impl CallFuture {
    /// Over HTTP/2 a client that drops a call before its answer resets the stream, and hyper's
    /// server polls the services' future once more before it drops it: a handler that reads
    /// its request stream reads its end there (hyper reads a `CANCEL` reset as the end of the
    /// body). A direct call whose services were called does the same, as a wire call does (a
    /// panic is kept for the report, an answer is dropped).
    fn poll_once_more(&mut self) {
        let called = matches!(self.inner, Some(Inner::Call { call: Some(_), .. }));
        let Some(client) = self.client.as_ref().filter(|_| called && self.mode == Mode::Direct)
        else {
            return;
        };
        client.end_request();
        self.mode = Mode::Wire;
        let _ = Pin::new(&mut *self).poll(&mut Context::from_waker(Waker::noop()));
    }
}

impl Drop for CallFuture {
    fn drop(&mut self) {
        if self.inner.is_some() {
            self.poll_once_more();
        }
        if self.inner.is_some() {
            drop_then_cancel(&mut self.inner, self.record.as_ref());
        }
    }
}

impl Future for CallFuture {
    type Output = Result<Response<Body>, BoxError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if cut_off(&mut this.abort, cx, false) {
            return this.cut_off();
        }
        let inner = this.inner.as_mut().expect("CallFuture polled after it completed");
        let (shared, mode, site) = (&*this.shared, this.mode, &mut this.site);
        let outcome = {
            let _polling = shared.lifecycle.polling();
            catch_unwind(AssertUnwindSafe(|| inner.poll(cx, shared, mode, site)))
        };
        match outcome {
            Ok(Poll::Pending) if cut_off(&mut this.abort, cx, true) => this.cut_off(),
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(result)) => this.answered(result),
            Err(payload) => {
                // Dropping the panicked future may panic again; that second panic says nothing new.
                let _ = catch_unwind(AssertUnwindSafe(|| this.inner = None));
                let record = this.record.take();
                let (site, client) = (this.site, this.client.as_ref());
                let status = caught(
                    &this.shared,
                    site,
                    &this.path,
                    this.mode,
                    payload,
                    record.as_ref(),
                    client,
                );
                let response = status.into_http();
                if let Some(record) = &record {
                    record_head(record, response.headers());
                }
                Poll::Ready(Ok(response))
            }
        }
    }
}

/// Records a caught panic; resumes it in direct mode, or returns the status that answers it. A
/// panic of the client's own request stream (direct calls only) was recorded as the client's
/// where it happened, and is only resumed.
pub(super) fn caught(
    shared: &Shared,
    site: PanicSite,
    path: &PathAndQuery,
    mode: Mode,
    payload: Box<dyn Any + Send>,
    record: Option<&Record>,
    client: Option<&ClientSide>,
) -> Status {
    if client.is_some_and(ClientSide::client_panicked) {
        if let Some(record) = record {
            record_status(record, Status::cancelled(CLIENT_PANICKED));
        }
        resume_unwind(payload);
    }
    let panic = HandlerPanic::from_message(
        site,
        path.path(),
        crate::engine::panic::payload_text(&*payload),
    );
    let status = panic.status();
    if let Some(record) = record {
        record_status(record, status.clone());
    }
    if mode == Mode::Direct {
        shared.panics.record(panic.unwound());
        resume_unwind(payload);
    }
    shared.panics.record(panic);
    status
}

/// What the journal says of a direct call whose client's request stream panicked.
const CLIENT_PANICKED: &str = "the client's request stream panicked, so the call was cancelled";
