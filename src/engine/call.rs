//! The path of one call through a test server, the same for every transport. In order:
//!
//! 1. **admit**: a server that is shut down answers `UNAVAILABLE` (a direct call is refused as
//!    soon as `shutdown()` starts; a wire call was already refused at its connection);
//! 2. **journal**: the call is recorded, with its deadline;
//! 3. **faults**: the rules of the server's [`Faults`](crate::Faults) act as a proxy in front of
//!    the server would: a delay, then an end that replaces the call (a status, a hang, a dropped
//!    connection), so a call they fail never reaches the server's layers; then the connection's
//!    concurrency limit (`concurrency_limit_per_connection`), where a call waits for a permit or
//!    load shedding refuses it, as tonic's server puts them in front of its layers;
//! 4. **deadline**: the `grpc-timeout` the client sent, or the server's `timeout` if shorter,
//!    enforced until the response headers, as tonic's server enforces it (it runs from step 3
//!    on: a fault's delay counts against it, the wait for a permit does not);
//! 5. **layers, then route**: the services behind the test's layers and interceptors, called as
//!    the call arrives (or once its faults let it through), a panic in a layer's `call` or
//!    `poll_ready` caught as a handler's is;
//! 6. **response**: the body, with the faults' message delays and cuts, panics in its stream
//!    caught, its headers, every message and its trailers noted in the journal.
//!
//! Panics anywhere in steps 5 and 6 are caught: over the wire the call is answered `INTERNAL`
//! and the panic kept for the report; over the direct transport the panic is kept and resumed in
//! the caller's task, where it would have surfaced had the call been a plain function call.

use std::{
    any::Any,
    future::Future,
    panic::{AssertUnwindSafe, catch_unwind, resume_unwind},
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, uri::PathAndQuery};
use http_body::Frame;
use tokio::time::Sleep;
use tonic::{Status, TimeoutExpired, body::Body};

use crate::{
    BoxError,
    engine::admission::{ConnectionLimit, Gate},
    engine::body::{RequestBody, Reset},
    engine::panic::{HandlerPanic, PanicSite},
    engine::shared::{LiveCall, SHUT_DOWN, Shared},
    engine::stack::StackFuture,
    fault::{End as PlanEnd, FaultBody, Plan},
    journal::{
        End, Record, Side, record_cancelled, record_faults, record_message,
        record_response_headers, record_status, record_trailers,
    },
    protocol::frames::Frames,
    protocol::{
        BODY_BROKEN, GRPC_STATUS, STREAM_RESET, TRANSPORT_ERROR, grpc_timeout, stream_reset,
    },
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
struct AbortWatch {
    watcher: Option<Abort>,
    live: LiveCall,
}

impl AbortWatch {
    /// `true` once the grace period is over; otherwise, if `waiting`, arranges to be woken then.
    fn fired(&mut self, cx: &mut Context<'_>, waiting: bool) -> bool {
        let shared = self.live.shared();
        if shared.is_aborted() {
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
fn cut_off(abort: &mut Option<AbortWatch>, cx: &mut Context<'_>, waiting: bool) -> bool {
    abort.as_mut().is_some_and(|abort| abort.fired(cx, waiting))
}

/// Drops what a call holds (the services, a mock among them) where a panic in a `Drop` is
/// caught and kept for the report, as `shutdown()` keeps it for the server's own copy.
fn release<T>(shared: &Shared, held: &mut Option<T>) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(|| *held = None)) {
        shared.record_panic(HandlerPanic::new(PanicSite::Drop, "", payload));
    }
}

/// The faults a rule plan holds for one call, in the order the call meets them, then the
/// connection's concurrency limit.
struct Faulted {
    /// The request, until the services are called with it.
    request: Option<Request<Body>>,
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
    waited: Duration,
}

impl Faulted {
    fn new(
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
    fn is_waiting(&self) -> bool {
        self.gate.as_ref().is_some_and(Gate::is_waiting)
    }

    /// Runs the part before the services: `Ready(Some(answer))` when the faults end the call,
    /// `Ready(None)` when it goes on to the services.
    fn before(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Response<Body>, BoxError>>> {
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
    fn respond(&mut self, response: Response<Body>) -> Response<Body> {
        if self.message_delay.is_none() && self.cut.is_none() {
            return response;
        }
        let (message_delay, cut) = (self.message_delay, self.cut.take());
        response.map(|body| Body::new(FaultBody::new(body, message_delay, cut)))
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
            let Some(stack) = shared.stack() else {
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
/// fails, the call ends as a stream the client reset.
pub(crate) fn serve_direct(
    shared: &Arc<Shared>,
    request: Request<Body>,
    limit: Option<&ConnectionLimit>,
) -> CallFuture {
    let path = request.uri().path_and_query().cloned().unwrap_or_else(root);
    let reset = Reset::new(shared, &path);
    serve_call(shared, request, Mode::Direct, Some(reset), limit)
}

fn serve_call(
    shared: &Arc<Shared>,
    request: Request<Body>,
    mode: Mode,
    reset: Option<Reset>,
    limit: Option<&ConnectionLimit>,
) -> CallFuture {
    // The path alone (one shared reference), for the journal, the faults and panic reports.
    let path = request.uri().path_and_query().cloned().unwrap_or_else(root);
    // Over the wire, a connection still open in the grace period carries calls until the
    // services are released, as hyper's graceful shutdown lets them.
    let stack = match mode {
        Mode::Direct if shared.is_closed() => None,
        _ => shared.stack(),
    };
    let admitted = stack.is_some();
    let deadline = grpc_timeout(request.headers());
    let record = admitted.then(|| shared.journal.start(&path, request.headers(), deadline));
    let record = record.flatten();
    let mut request = request.map(|body| RequestBody::wrap(body, reset.clone(), record.as_ref()));
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
        reset,
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
        reset: None,
    }
}

/// The connection a wire call came on, so a fault can drop it. Filled in once the connection's
/// task is spawned; the kit removes it from the request before any service sees it.
#[derive(Clone, Debug, Default)]
pub(crate) struct ConnectionHandle(pub(crate) Arc<std::sync::OnceLock<tokio::task::AbortHandle>>);

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
    /// A direct call's reset: once set, the call fails as a stream the client reset.
    reset: Option<Reset>,
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
        let reset_status = self.reset.as_ref().and_then(Reset::status);
        let catcher = |body| {
            Body::new(CatchPanicBody {
                inner: Some(body),
                shared: self.shared.clone(),
                path: std::mem::replace(&mut self.path, root()),
                mode: self.mode,
                abort: self.abort.take(),
                record: self.record.take(),
                frames: Frames::default(),
                reset: self.reset.take(),
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

/// Records the head of a call's answer: its response headers or, for a trailers-only answer
/// (its status in its one header block), its trailers and its end.
fn record_head(record: &Record, headers: &HeaderMap) {
    match grpc_status(headers) {
        Some(_) => record_trailers(record, headers, trailers_end(headers)),
        // The deadline holds until the response headers, as on tonic's server.
        None => record_response_headers(record, headers),
    }
}

/// Drops `inner` (the handler's future or stream) before the call is recorded as cancelled, so
/// a test that waits for the cancellation sees what the handler did as it was dropped.
fn drop_then_cancel<T>(inner: &mut Option<T>, record: Option<&Record>) {
    let dropped = catch_unwind(AssertUnwindSafe(|| *inner = None));
    if let Some(record) = record {
        record_cancelled(record);
    }
    if let Err(payload) = dropped {
        resume_unwind(payload);
    }
}

impl Drop for CallFuture {
    fn drop(&mut self) {
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
            let _polling = shared.polling();
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
                let (site, reset) = (this.site, this.reset.as_ref());
                let status = caught(
                    &this.shared,
                    site,
                    &this.path,
                    this.mode,
                    payload,
                    record.as_ref(),
                    reset,
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

/// A response body with panics in its stream caught; for a direct call, it also fails once the
/// client reset the stream, as a stream in progress does over HTTP/2.
struct CatchPanicBody {
    inner: Option<Body>,
    shared: Arc<Shared>,
    path: PathAndQuery,
    mode: Mode,
    abort: Option<AbortWatch>,
    record: Option<Record>,
    /// The response messages being split out of the body, for the journal.
    frames: Frames,
    reset: Option<Reset>,
}

impl CatchPanicBody {
    /// Notes a frame (or error) on its way to the client in the journal.
    fn record(&mut self, poll: &Poll<Option<Result<Frame<Bytes>, Status>>>) {
        let Some(record) = &self.record else { return };
        match poll {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let message = |message| record_message(record, Side::Response, message);
                    self.frames.feed(data, message);
                } else if let Some(trailers) = frame.trailers_ref() {
                    record_trailers(record, trailers, trailers_end(trailers));
                }
            }
            Poll::Ready(Some(Err(status))) => record_status(record, status.clone()),
            _ => {}
        }
    }

    /// Ends a direct call's stream that the grace period's end cut off, as a client reads a
    /// server that died mid-stream.
    fn cut_off(&mut self) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        release(&self.shared, &mut self.inner);
        let poll = Poll::Ready(Some(Err(Status::unknown(BODY_BROKEN))));
        self.record(&poll);
        poll
    }
}

impl Drop for CatchPanicBody {
    fn drop(&mut self) {
        if self.record.is_some() {
            drop_then_cancel(&mut self.inner, self.record.as_ref());
        }
    }
}

impl http_body::Body for CatchPanicBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = &mut *self;
        if this.inner.is_some() && cut_off(&mut this.abort, cx, false) {
            return this.cut_off();
        }
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        if let Some(status) = this.reset.as_ref().and_then(Reset::status) {
            // The client reset the stream: the rest of the answer never reaches it.
            this.inner = None;
            this.abort = None;
            if let Some(record) = this.record.take() {
                record_cancelled(&record);
            }
            return Poll::Ready(Some(Err(status)));
        }
        let outcome = {
            let _polling = this.shared.polling();
            catch_unwind(AssertUnwindSafe(|| Pin::new(inner).poll_frame(cx)))
        };
        match outcome {
            Ok(Poll::Pending) if cut_off(&mut this.abort, cx, true) => this.cut_off(),
            Ok(poll) => {
                this.record(&poll);
                if ends(&poll) {
                    // Nothing follows the trailers: hyper stops there, and a direct client must
                    // too (tonic's body after an error status would yield it again and again).
                    this.abort = None;
                    this.inner = None;
                }
                poll
            }
            Err(payload) => {
                let _ = catch_unwind(AssertUnwindSafe(|| this.inner = None));
                let record = this.record.take();
                let (shared, path, mode) = (&this.shared, &this.path, this.mode);
                let reset = this.reset.as_ref();
                let site = PanicSite::Stream;
                let status = caught(shared, site, path, mode, payload, record.as_ref(), reset);
                let mut trailers = HeaderMap::new();
                match status.add_header(&mut trailers) {
                    Ok(()) => {
                        if let Some(record) = &record {
                            record_trailers(record, &trailers, None);
                        }
                        Poll::Ready(Some(Ok(Frame::trailers(trailers))))
                    }
                    Err(status) => Poll::Ready(Some(Err(status))),
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        let reset = self.reset.as_ref().is_some_and(Reset::is_set);
        self.inner.as_ref().is_none_or(|inner| !reset && inner.is_end_stream())
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match &self.inner {
            Some(body) => body.size_hint(),
            None => http_body::SizeHint::with_exact(0),
        }
    }
}

/// Whether a response body frame is its last: the trailers, an error, or the end.
fn ends(poll: &Poll<Option<Result<Frame<Bytes>, Status>>>) -> bool {
    match poll {
        Poll::Ready(Some(Ok(frame))) => frame.is_trailers(),
        Poll::Ready(_) => true,
        Poll::Pending => false,
    }
}

/// How a response's trailers end the call. The common end, `grpc-status: 0` alone, skips
/// tonic's general parse (a copy of the trailers, a message to decode) and makes no `Status`.
fn trailers_end(trailers: &HeaderMap) -> Option<End> {
    if trailers.len() == 1 && grpc_status(trailers).is_some_and(|code| code == "0") {
        return Some(End::Ok);
    }
    Status::from_header_map(trailers).map(End::Status)
}

/// The `grpc-status` of a call's headers or trailers. They hold a few entries, so a scan
/// costs less than hashing the name.
fn grpc_status(headers: &HeaderMap) -> Option<&http::HeaderValue> {
    match headers.len() {
        0..=8 => headers.iter().find_map(|(name, value)| (name == GRPC_STATUS).then_some(value)),
        _ => headers.get(&GRPC_STATUS),
    }
}

/// Records a caught panic; resumes it in direct mode, or returns the status that answers it. A
/// panic of the client's own request stream (direct calls only) was recorded as the client's
/// where it happened, and is only resumed.
fn caught(
    shared: &Shared,
    site: PanicSite,
    path: &PathAndQuery,
    mode: Mode,
    payload: Box<dyn Any + Send>,
    record: Option<&Record>,
    reset: Option<&Reset>,
) -> Status {
    if reset.is_some_and(Reset::client_panicked) {
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
        shared.record_panic(panic.unwound());
        resume_unwind(payload);
    }
    shared.record_panic(panic);
    status
}

/// What the journal says of a direct call whose client's request stream panicked.
const CLIENT_PANICKED: &str = "the client's request stream panicked, so the call was cancelled";
