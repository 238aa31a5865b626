//! The call journal: every call a test server saw, on every transport, for assertions and for
//! failure messages. Both directions are kept: the request's metadata and messages, the response's
//! headers, messages and trailers, and how the call ended.

mod call;
pub(crate) mod compression;
mod decode;
mod wait;

use std::{
    ops::Range,
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderName, HeaderValue};
use smallvec::SmallVec;
use tokio::{sync::Notify, time::Instant};
use tonic::{Status, metadata::MetadataMap};

pub(crate) use crate::protocol::frames::Message;
use crate::protocol::frames::{self, Frames};
use crate::sync::lock;

pub use call::Call;
pub(crate) use wait::Wait;
pub use wait::{DEFAULT_WAIT_TIMEOUT, WaitForCalls};

/// How many calls a server's journal keeps unless
/// [`TestServerBuilder::journal_limit`](crate::TestServerBuilder::journal_limit) says otherwise.
pub const DEFAULT_JOURNAL_LIMIT: usize = 1_000;

/// How many bytes of messages (requests and responses together) a server's journal keeps unless
/// [`TestServerBuilder::journal_byte_limit`](crate::TestServerBuilder::journal_byte_limit) says
/// otherwise: 32 MiB, far more than a test's calls send, and a bound on what a long stream costs.
pub const DEFAULT_JOURNAL_BYTE_LIMIT: usize = 32 * 1024 * 1024;

/// The calls of one server, oldest first.
///
/// Entries live side by side in one list, and every call's metadata in one more.
#[derive(Clone, Debug)]
pub(crate) struct Journal(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    entries: Mutex<Entries>,
    limit: usize,
    byte_limit: usize,
    unrecorded: AtomicUsize,
    /// Woken each time a call ends while a test waits for calls to end (`waiting` of them):
    /// with none waiting, an end wakes nothing.
    ended: Notify,
    waiting: AtomicUsize,
    /// What the server knows of its services' methods, for the types a test asks calls for.
    #[cfg(feature = "descriptors")]
    descriptors: Option<crate::protocol::descriptors::Descriptors>,
}

impl Inner {
    /// Wakes the tests that wait for calls to end. Called after the end was recorded and the
    /// lock released: a wait counts itself in `waiting` before it reads the calls under that
    /// lock, so either it reads the end, or it is counted here.
    fn wake(&self) {
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.ended.notify_waiters();
        }
    }
}

#[derive(Debug, Default)]
struct Entries {
    calls: Vec<Entry>,
    /// The request headers, response headers and trailers of every call, block after block;
    /// each entry knows the range of each of its blocks.
    headers: Vec<(HeaderName, HeaderValue)>,
    /// The bytes of messages kept, both ways, and whether one did not fit: from then on
    /// messages are counted, not kept, so each call keeps the first of its messages.
    kept_bytes: usize,
    full: bool,
    /// Messages counted and not kept: requests, then responses.
    unkept: [usize; 2],
}

/// The direction of a message: from the client, or from the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Request,
    Response,
}

impl Side {
    /// How messages of this side are named in messages: `request` or `response`.
    fn name(self) -> &'static str {
        match self {
            Side::Request => "request",
            Side::Response => "response",
        }
    }
}

/// One call as the journal keeps it, updated while the call runs.
#[derive(Debug)]
struct Entry {
    method: PathAndQuery,
    /// The request headers, response headers and trailers, in the journal's list of headers. A
    /// trailers-only answer (its status in its one header block) has trailers and no headers.
    headers: Range<usize>,
    response_headers: Range<usize>,
    trailers: Range<usize>,
    requests: Sent,
    responses: Sent,
    status: Option<End>,
    started: Instant,
    /// When the client's deadline expires, until the response headers go out: a call past it
    /// has ended for the server, with `CANCELLED "Timeout expired"`, as tonic's server ends it.
    deadline: Option<Instant>,
    duration: Option<Duration>,
    faults: Vec<String>,
}

/// What the journal says of a call that ended without a status.
const CANCELLED: &str = "the call was cancelled before it ended (the client went away)";

/// The messages of one direction of a call.
#[derive(Clone, Debug, Default)]
struct Sent {
    /// Copies of the body data the kept messages came in, each with how many of its messages
    /// were kept: each chunk's messages are copied out of it together, so a stream's messages
    /// cost one copy a chunk, and nothing of their own until a test reads them. Most calls send
    /// one message each way, one copy kept inline.
    copies: SmallVec<[(Bytes, usize); 1]>,
    /// How many messages were kept, first to last.
    kept: usize,
    /// Messages past the journal's byte limit: counted, not kept.
    unkept: usize,
    /// The encoded bytes of all the messages, kept or not.
    bytes: usize,
}

impl Sent {
    fn count(&self) -> usize {
        self.kept + self.unkept
    }

    /// Message `index`, if it was kept: found in its copy's frames.
    fn message(&self, mut index: usize) -> Option<Message> {
        for (copy, kept) in &self.copies {
            if index < *kept {
                let (bytes, compressed) = frames::messages(copy).nth(index)?;
                return Some(Message { compressed, bytes: copy.slice(bytes) });
            }
            index -= kept;
        }
        None
    }
}

/// A running call's place in the journal.
#[derive(Clone, Debug)]
pub(crate) struct Record {
    journal: Arc<Inner>,
    index: usize,
}

impl Record {
    fn update<T>(&self, change: impl FnOnce(&mut Entry) -> T) -> T {
        change(&mut lock(&self.journal.entries).calls[self.index])
    }

    /// Ends the call with `end` unless it has ended already; wakes the tests that wait for
    /// calls to end.
    fn end(&self, end: impl FnOnce(&Entry) -> (End, Duration)) {
        let ended = self.update(|entry| entry.status.is_none() && entry.finish(end(entry)));
        if ended {
            self.journal.wake();
        }
    }
}

impl Journal {
    pub(crate) fn new(limit: usize, byte_limit: usize) -> Self {
        let entries = Mutex::new(Entries::default());
        let (unrecorded, waiting, ended) =
            (AtomicUsize::new(0), AtomicUsize::new(0), Notify::new());
        Self(Arc::new(Inner {
            entries,
            limit,
            byte_limit,
            unrecorded,
            ended,
            waiting,
            #[cfg(feature = "descriptors")]
            descriptors: None,
        }))
    }

    /// The journal, knowing its methods from `descriptors`: a call read as the wrong message
    /// type then fails naming the method's.
    #[cfg(feature = "descriptors")]
    pub(crate) fn described(
        mut self,
        descriptors: Option<crate::protocol::descriptors::Descriptors>,
    ) -> Self {
        Arc::get_mut(&mut self.0).expect("a journal not shared yet").descriptors = descriptors;
        self
    }

    /// Starts an entry for a call, or returns `None` when the journal is full.
    pub(crate) fn start(
        &self,
        path: &PathAndQuery,
        headers: &HeaderMap,
        deadline: Option<Duration>,
    ) -> Option<Record> {
        let journal = &self.0;
        if journal.limit == 0 {
            journal.unrecorded.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let mut entries = lock(&journal.entries);
        if entries.calls.len() >= journal.limit {
            journal.unrecorded.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let started = Instant::now();
        let first = entries.headers.len();
        for (name, value) in headers {
            entries.headers.push((name.clone(), value.clone()));
        }
        let end = entries.headers.len();
        let entry = Entry {
            // Shares the request's bytes: no copy of the path.
            method: path.clone(),
            headers: first..end,
            response_headers: end..end,
            trailers: end..end,
            requests: Sent::default(),
            responses: Sent::default(),
            status: None,
            started,
            deadline: deadline.and_then(|deadline| started.checked_add(deadline)),
            duration: None,
            faults: Vec::new(),
        };
        entries.calls.push(entry);
        Some(Record { journal: journal.clone(), index: entries.calls.len() - 1 })
    }

    /// A snapshot of the calls so far.
    pub(crate) fn calls(&self) -> Vec<Call> {
        let entries = lock(&self.0.entries);
        let now = Instant::now();
        let snapshot = |entry: &Entry| {
            #[allow(unused_mut)]
            let mut call = entry.snapshot(&entries.headers, now);
            #[cfg(feature = "descriptors")]
            if let Some(descriptors) = &self.0.descriptors {
                call.described = descriptors.method(call.method());
            }
            call
        };
        entries.calls.iter().map(snapshot).collect()
    }

    /// Wakes once a call ends after this is made (enable it before looking at the calls), while
    /// a [`Waiting`] guard of this journal lives.
    fn ends(&self) -> tokio::sync::futures::Notified<'_> {
        self.0.ended.notified()
    }

    /// Counts a wait as waiting until the guard is dropped, so that calls ending wake it.
    fn waiting(&self) -> Waiting {
        self.0.waiting.fetch_add(1, Ordering::SeqCst);
        Waiting(self.0.clone())
    }

    /// How many calls the journal keeps.
    fn limit(&self) -> usize {
        self.0.limit
    }

    /// The calls, one per line, for failure messages.
    pub(crate) fn describe(&self) -> String {
        let calls = self.calls();
        let unrecorded = self.0.unrecorded.load(Ordering::Relaxed);
        let mut text = match calls.len() {
            0 => "The server saw no calls.".to_owned(),
            1 => "The server saw 1 call:".to_owned(),
            n => format!("The server saw {n} calls:"),
        };
        for (index, call) in calls.iter().enumerate() {
            text.push_str(&format!("\n  {}. {call}", index + 1));
        }
        let messages = |n: usize, side: Side| match n {
            1 => format!("1 {} message", side.name()),
            n => format!("{n} {} messages", side.name()),
        };
        let unkept = match lock(&self.0.entries).unkept {
            [0, 0] => None,
            [requests, 0] => Some(messages(requests, Side::Request)),
            [0, responses] => Some(messages(responses, Side::Response)),
            [requests, responses] => Some(format!(
                "{} and {}",
                messages(requests, Side::Request),
                messages(responses, Side::Response)
            )),
        };
        if let Some(unkept) = unkept {
            text.push_str(&format!(
                "\n  ... and {unkept} the journal counted and did not keep: it keeps {} bytes of \
                 messages; raise it with `TestServerBuilder::journal_byte_limit(bytes)`.",
                self.0.byte_limit
            ));
        }
        if unrecorded > 0 {
            text.push_str(&format!(
                "\n  ... and {unrecorded} later calls the journal did not keep: it keeps {} \
                 calls; raise it with `TestServerBuilder::journal_limit(n)`.",
                self.0.limit
            ));
        }
        text
    }
}

/// A wait counted in its journal's `waiting`, until dropped.
struct Waiting(Arc<Inner>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Entry {
    /// Ends the call with `end` after `duration`; returns `true`, for a caller's `&&`.
    fn finish(&mut self, (end, duration): (End, Duration)) -> bool {
        self.status = Some(end);
        self.duration = Some(duration);
        true
    }

    /// The call as a test sees it, its metadata taken from `headers`.
    fn snapshot(&self, headers: &[(HeaderName, HeaderValue)], now: Instant) -> Call {
        let metadata = |range: &Range<usize>| {
            let mut metadata = HeaderMap::with_capacity(range.len());
            for (name, value) in &headers[range.clone()] {
                metadata.append(name.clone(), value.clone());
            }
            MetadataMap::from_headers(metadata)
        };
        let (status, duration) = match (&self.status, self.expired(now)) {
            (None, Some((end, duration))) => (Some(end), Some(duration)),
            _ => (self.status.clone(), self.duration),
        };
        Call {
            method: self.method.clone(),
            metadata: metadata(&self.headers),
            response_headers: metadata(&self.response_headers),
            trailers: metadata(&self.trailers),
            requests: self.requests.clone(),
            responses: self.responses.clone(),
            status,
            duration,
            faults: self.faults.clone(),
            #[cfg(feature = "descriptors")]
            described: None,
        }
    }

    /// The end the deadline gives the call if it has passed: the end the server then records.
    fn expired(&self, now: Instant) -> Option<(End, Duration)> {
        let deadline = self.deadline.filter(|deadline| now >= *deadline)?;
        Some((
            End::Status(Status::cancelled(crate::protocol::TIMEOUT_EXPIRED)),
            deadline - self.started,
        ))
    }
}

/// Records the messages a chunk of a call's body data completes, request or response, under
/// one lock (a stream's chunk carries many): each kept while the journal's byte limit allows,
/// counted in any case.
pub(crate) fn record_data(record: &Record, side: Side, frames: &mut Frames, data: &Bytes) {
    let mut entries = lock(&record.journal.entries);
    let Entries { calls, kept_bytes, full, unkept, .. } = &mut *entries;
    let entry = &mut calls[record.index];
    let sent = match side {
        Side::Request => &mut entry.requests,
        Side::Response => &mut entry.responses,
    };
    frames.feed(data, |whole| {
        let mut kept = 0;
        for (bytes, _) in whole.messages() {
            let size = bytes.len();
            sent.bytes += size;
            *full = *full || kept_bytes.saturating_add(size) > record.journal.byte_limit;
            if *full {
                unkept[side as usize] += 1;
                sent.unkept += 1;
            } else {
                *kept_bytes += size;
                kept += 1;
            }
        }
        if kept > 0 {
            sent.kept += kept;
            sent.copies.push((whole.into_bytes(), kept));
        }
    });
}

/// Records the response headers of a call as they went out. Its deadline no longer applies
/// then, as on tonic's server.
pub(crate) fn record_response_headers(record: &Record, headers: &HeaderMap) {
    let mut entries = lock(&record.journal.entries);
    let range = push_headers(&mut entries, headers);
    let entry = &mut entries.calls[record.index];
    entry.response_headers = range;
    entry.deadline = None;
}

/// Records the trailers of a call (for a trailers-only answer, its one header block) and, if
/// they carry one and the call has not ended yet, the end they give it.
pub(crate) fn record_trailers(record: &Record, trailers: &HeaderMap, end: Option<End>) {
    let ended = {
        let mut entries = lock(&record.journal.entries);
        let range = push_headers(&mut entries, trailers);
        let entry = &mut entries.calls[record.index];
        entry.trailers = range;
        match end {
            Some(end) if entry.status.is_none() => entry.finish((end, entry.started.elapsed())),
            _ => false,
        }
    };
    if ended {
        record.journal.wake();
    }
}

/// Adds a block of headers to the journal's list; returns where it lies.
fn push_headers(entries: &mut Entries, headers: &HeaderMap) -> Range<usize> {
    let first = entries.headers.len();
    for (name, value) in headers {
        entries.headers.push((name.clone(), value.clone()));
    }
    first..entries.headers.len()
}

/// Notes that the call ended without a status: cancelled by the client, or by its deadline if
/// that had passed.
pub(crate) fn record_cancelled(record: &Record) {
    record.end(|entry| {
        let now = Instant::now();
        let cancelled = || (End::Status(Status::cancelled(CANCELLED)), now - entry.started);
        entry.expired(now).unwrap_or_else(cancelled)
    });
}

/// Records how a call ended, once: the first status wins.
pub(crate) fn record_status(record: &Record, status: Status) {
    record_end(record, || End::Status(status));
}

/// Records how a call ended, once: the first end wins.
pub(crate) fn record_end(record: &Record, end: impl FnOnce() -> End) {
    record.end(|entry| (end(), entry.started.elapsed()));
}

/// How a call ended. The common end, OK with nothing else, is kept without making a `Status`.
#[derive(Clone, Debug)]
pub(crate) enum End {
    Ok,
    Status(Status),
}

impl End {
    fn status(&self) -> &Status {
        static OK: OnceLock<Status> = OnceLock::new();
        match self {
            End::Ok => OK.get_or_init(|| Status::ok("")),
            End::Status(status) => status,
        }
    }
}

/// Notes the fault rules that acted on a call.
pub(crate) fn record_faults(record: &Record, faults: &[String]) {
    record.update(|entry| entry.faults.extend_from_slice(faults));
}
