//! The call journal: every call a test server saw, on every transport, for assertions and for
//! failure messages.

use std::{
    fmt,
    ops::Range,
    sync::{
        Arc, Mutex, MutexGuard, OnceLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderName, HeaderValue};
use tokio::time::Instant;
use tonic::{Code, Status, metadata::MetadataMap};

use crate::few::Few;

/// How many calls a server's journal keeps unless
/// [`TestServerBuilder::journal_limit`](crate::TestServerBuilder::journal_limit) says otherwise.
pub const DEFAULT_JOURNAL_LIMIT: usize = 1_000;

/// How many bytes of request messages a server's journal keeps unless
/// [`TestServerBuilder::journal_byte_limit`](crate::TestServerBuilder::journal_byte_limit) says
/// otherwise: 32 MiB, far more than a test's calls send, and a bound on what a long stream costs.
pub const DEFAULT_JOURNAL_BYTE_LIMIT: usize = 32 * 1024 * 1024;

/// The calls of one server, oldest first.
///
/// Entries live side by side in one list, and every call's metadata in one more: recording a
/// call allocates nothing of its own, so a journal that keeps a thousand calls does not leave
/// the allocator a thousand small blocks to work around.
#[derive(Debug)]
pub(crate) struct Journal(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    entries: Mutex<Entries>,
    limit: usize,
    byte_limit: usize,
    unrecorded: AtomicUsize,
}

#[derive(Debug, Default)]
struct Entries {
    calls: Chunked<Entry>,
    /// The request headers of every call, call after call; each entry knows its range.
    headers: Chunked<(HeaderName, HeaderValue)>,
    /// The bytes of request messages kept, and whether one did not fit: from then on messages
    /// are counted, not kept, so each call keeps the first of its messages.
    kept_bytes: usize,
    full: bool,
    /// Request messages counted and not kept.
    unkept: usize,
}

/// A list that grows by whole chunks and never moves what it holds: no copying as it grows.
/// Chunks hold 4, 8, 16 and 32 items, then 64 each, so a server that sees one call allocates
/// little, and one that sees a thousand allocates twenty times.
#[derive(Debug)]
struct Chunked<T> {
    /// The first chunk inline: a server that sees a few calls allocates once per list.
    chunks: Few<Vec<T>>,
    len: usize,
}

/// How many items the chunks of a [`Chunked`] list hold once they stop growing, and how many
/// items the growing chunks (4 + 8 + 16 + 32) hold together.
const CHUNK: usize = 64;
const GROWING: usize = 60;

/// The chunk that holds item `index` of a [`Chunked`] list, and the item's place in it.
fn locate(index: usize) -> (usize, usize) {
    if index < GROWING {
        let chunk = (index / 4 + 1).ilog2() as usize;
        (chunk, index - 4 * ((1 << chunk) - 1))
    } else {
        (4 + (index - GROWING) / CHUNK, (index - GROWING) % CHUNK)
    }
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Self { chunks: Few::default(), len: 0 }
    }
}

impl<T> Chunked<T> {
    fn push(&mut self, item: T) {
        let (chunk, place) = locate(self.len);
        if place == 0 {
            self.chunks.push(Vec::with_capacity(if chunk < 4 { 4 << chunk } else { CHUNK }));
        }
        self.chunks.get_mut(chunk).expect("the chunk was added").push(item);
        self.len += 1;
    }

    fn get_mut(&mut self, index: usize) -> &mut T {
        let (chunk, place) = locate(index);
        &mut self.chunks.get_mut(chunk).expect("a recorded index")[place]
    }

    fn range(&self, range: Range<usize>) -> impl Iterator<Item = &T> {
        range.map(|index| {
            let (chunk, place) = locate(index);
            &self.chunks.get(chunk).expect("a recorded index")[place]
        })
    }

    fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flatten()
    }
}

/// One call as the journal keeps it, updated while the call runs.
#[derive(Debug)]
struct Entry {
    method: PathAndQuery,
    headers: Range<usize>,
    requests: Messages,
    /// Request messages past the journal's byte limit: counted, not kept.
    unkept: usize,
    status: Option<End>,
    responses: usize,
    started: Instant,
    /// When the client's deadline expires, until the response headers go out: a call past it
    /// has ended for the server, with `CANCELLED "Timeout expired"`, as tonic's server ends it.
    deadline: Option<Instant>,
    duration: Option<Duration>,
    faults: Vec<String>,
}

/// The message of tonic's server for a call past its deadline.
const TIMEOUT_EXPIRED: &str = "Timeout expired";

/// What the journal says of a call that ended without a status.
const CANCELLED: &str = "the call was cancelled before it ended (the client went away)";

/// A running call's place in the journal.
#[derive(Clone, Debug)]
pub(crate) struct Record {
    journal: Arc<Inner>,
    index: usize,
}

impl Record {
    fn update<T>(&self, change: impl FnOnce(&mut Entry) -> T) -> T {
        change(lock(&self.journal.entries).calls.get_mut(self.index))
    }
}

impl Journal {
    pub(crate) fn new(limit: usize, byte_limit: usize) -> Self {
        let entries = Mutex::new(Entries::default());
        Self(Arc::new(Inner { entries, limit, byte_limit, unrecorded: AtomicUsize::new(0) }))
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
        if entries.calls.len >= journal.limit {
            journal.unrecorded.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let started = Instant::now();
        let first = entries.headers.len;
        for (name, value) in headers {
            entries.headers.push((name.clone(), value.clone()));
        }
        let entry = Entry {
            // Shares the request's bytes: no copy of the path.
            method: path.clone(),
            headers: first..entries.headers.len,
            requests: Messages::default(),
            unkept: 0,
            status: None,
            responses: 0,
            started,
            deadline: deadline.and_then(|deadline| started.checked_add(deadline)),
            duration: None,
            faults: Vec::new(),
        };
        entries.calls.push(entry);
        Some(Record { journal: journal.clone(), index: entries.calls.len - 1 })
    }

    /// A snapshot of the calls so far.
    pub(crate) fn calls(&self) -> Vec<Call> {
        let entries = lock(&self.0.entries);
        let now = Instant::now();
        entries.calls.iter().map(|entry| entry.snapshot(&entries.headers, now)).collect()
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
        let unkept = lock(&self.0.entries).unkept;
        if unkept > 0 {
            text.push_str(&format!(
                "\n  ... and {unkept} request messages the journal counted and did not keep: it \
                 keeps {} bytes of messages; raise it with \
                 `TestServerBuilder::journal_byte_limit(bytes)`.",
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

impl Entry {
    /// The call as a test sees it, its metadata taken from `headers`.
    fn snapshot(&self, headers: &Chunked<(HeaderName, HeaderValue)>, now: Instant) -> Call {
        let mut metadata = HeaderMap::with_capacity(self.headers.len());
        for (name, value) in headers.range(self.headers.clone()) {
            metadata.append(name.clone(), value.clone());
        }
        let (status, duration) = match (&self.status, self.expired(now)) {
            (None, Some((end, duration))) => (Some(end), Some(duration)),
            _ => (self.status.clone(), self.duration),
        };
        Call {
            method: self.method.clone(),
            metadata: MetadataMap::from_headers(metadata),
            requests: self.requests.clone(),
            unkept: self.unkept,
            status,
            responses: self.responses,
            duration,
            faults: self.faults.clone(),
        }
    }

    /// The end the deadline gives the call if it has passed: the end the server then records.
    fn expired(&self, now: Instant) -> Option<(End, Duration)> {
        let deadline = self.deadline.filter(|deadline| now >= *deadline)?;
        Some((End::Status(Status::cancelled(TIMEOUT_EXPIRED)), deadline - self.started))
    }
}

/// Records one request message.
pub(crate) fn record_request(record: &Record, message: Message) {
    let mut entries = lock(&record.journal.entries);
    let size = message.bytes.len();
    let fits = entries.kept_bytes.saturating_add(size) <= record.journal.byte_limit;
    if entries.full || !fits {
        entries.full = true;
        entries.unkept += 1;
        entries.calls.get_mut(record.index).unkept += 1;
        return;
    }
    entries.kept_bytes += size;
    entries.calls.get_mut(record.index).requests.push(message);
}

/// Notes that the call's response headers went out: its deadline no longer applies.
pub(crate) fn record_answered(record: &Record) {
    record.update(|entry| entry.deadline = None);
}

/// Notes that the call ended without a status: cancelled by the client, or by its deadline if
/// that had passed.
pub(crate) fn record_cancelled(record: &Record) {
    record.update(|entry| {
        if entry.status.is_none() {
            let now = Instant::now();
            let cancelled = || (End::Status(Status::cancelled(CANCELLED)), now - entry.started);
            let (end, duration) = entry.expired(now).unwrap_or_else(cancelled);
            entry.status = Some(end);
            entry.duration = Some(duration);
        }
    });
}

/// Records how a call ended, once: the first status wins.
pub(crate) fn record_status(record: &Record, status: Status) {
    record_end(record, || End::Status(status));
}

/// Records how a call ended, once: the first end wins.
pub(crate) fn record_end(record: &Record, end: impl FnOnce() -> End) {
    record.update(|entry| {
        if entry.status.is_none() {
            entry.status = Some(end());
            entry.duration = Some(entry.started.elapsed());
        }
    });
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

/// A call's request messages: most calls send one.
type Messages = crate::few::Few<Message>;

/// Notes the fault rules that acted on a call.
pub(crate) fn record_faults(record: &Record, faults: &[String]) {
    record.update(|entry| entry.faults.extend_from_slice(faults));
}

/// Adds response messages to a call.
pub(crate) fn record_responses(record: &Record, messages: usize) {
    record.update(|entry| entry.responses += messages);
}

/// A request message as it arrived: its bytes, and whether they were compressed.
#[derive(Clone, Debug)]
pub(crate) struct Message {
    pub(crate) compressed: bool,
    pub(crate) bytes: Bytes,
}

/// One call the server saw: its method, metadata, request messages, how it ended, how many
/// messages it sent back and how long it took (on the tokio clock). Made by
/// [`TestServer::calls`](crate::TestServer::calls).
///
/// # Examples
///
/// ```
/// use tonic::Code;
/// use tonic_testkit::TestServer;
/// use tonic_testkit_support::{Probe, ProbeClient, ProbeRequest};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let server = TestServer::builder().add_service(Probe::new().server()).start().await;
/// let mut client = server.client(ProbeClient::new);
///
/// client.unary(ProbeRequest { text: "hi".into(), count: 0 }).await.unwrap();
///
/// let calls = server.calls_to("/probe.Probe/Unary");
/// assert_eq!(calls.len(), 1);
/// assert_eq!(calls[0].request::<ProbeRequest>(0).text, "hi");
/// assert_eq!(calls[0].code(), Some(Code::Ok));
/// assert_eq!(calls[0].response_count(), 1);
/// server.shutdown().await;
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Call {
    method: PathAndQuery,
    metadata: MetadataMap,
    requests: Messages,
    unkept: usize,
    status: Option<End>,
    responses: usize,
    duration: Option<Duration>,
    faults: Vec<String>,
}

impl Call {
    /// The full method path, such as `/orders.Orders/RegisterOrder`.
    pub fn method(&self) -> &str {
        self.method.path()
    }

    /// The request metadata (headers) as the server received them.
    pub fn metadata(&self) -> &MetadataMap {
        &self.metadata
    }

    /// How many request messages arrived, those the journal counted past its byte limit
    /// included (see [`TestServerBuilder::journal_byte_limit`](crate::TestServerBuilder::journal_byte_limit)).
    pub fn request_count(&self) -> usize {
        self.requests.len() + self.unkept
    }

    /// Request message `index` (from 0), decoded as `T`. A message the client sent compressed
    /// is decompressed first with the call's `grpc-encoding` (gzip, with the `gzip` feature).
    ///
    /// # Panics
    ///
    /// When there is no such message, or it does not decode as `T`, or it was compressed in a
    /// way the journal cannot read (the message says which).
    #[track_caller]
    pub fn request<T: prost::Message + Default>(&self, index: usize) -> T {
        let message = self.message(index);
        let bytes = match message.compressed {
            true => self.decompress(index, message),
            false => message.bytes.clone(),
        };
        // A `match`, not `unwrap_or_else`: in a closure the panic would point at the kit.
        match T::decode(bytes) {
            Ok(message) => message,
            Err(error) => panic!(
                "tonic-testkit: request message {index} of {} does not decode as {}: {error}; \
                 ask for the message type the method takes",
                self.method,
                std::any::type_name::<T>()
            ),
        }
    }

    /// Whether request message `index` (from 0) arrived compressed (its gRPC compressed flag
    /// set): how a test checks that the client under test really compresses what it sends.
    ///
    /// # Panics
    ///
    /// When there is no such message.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_support::{Probe, ProbeClient, ProbeRequest};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server = TestServer::builder().add_service(Probe::new().server()).start().await;
    /// let mut client = server.client(ProbeClient::new); // sends uncompressed
    ///
    /// client.unary(ProbeRequest { text: "plain".into(), count: 0 }).await.unwrap();
    ///
    /// assert!(!server.calls()[0].request_compressed(0));
    /// # }
    /// ```
    #[track_caller]
    pub fn request_compressed(&self, index: usize) -> bool {
        self.message(index).compressed
    }

    #[track_caller]
    fn message(&self, index: usize) -> &Message {
        if let Some(message) = self.requests.get(index) {
            return message;
        }
        if index < self.request_count() {
            panic!(
                "tonic-testkit: {} has {} request messages, and the journal kept the first {} of \
                 them: the others came past its byte limit, so they were counted and not kept; \
                 raise it with `TestServerBuilder::journal_byte_limit(bytes)` to read message \
                 {index}",
                self.method,
                self.request_count(),
                self.requests.len()
            )
        }
        panic!(
            "tonic-testkit: {} has {} request messages, so there is no message {index} (messages \
             count from 0)",
            self.method,
            self.request_count()
        )
    }

    #[track_caller]
    fn decompress(&self, index: usize, message: &Message) -> Bytes {
        let encoding = self.metadata.get("grpc-encoding").and_then(|value| value.to_str().ok());
        match crate::compression::decompress(encoding, &message.bytes) {
            Ok(bytes) => bytes,
            Err(why) => panic!(
                "tonic-testkit: request message {index} of {} arrived compressed, and {why}",
                self.method
            ),
        }
    }

    /// Every request message, decoded as `T`.
    ///
    /// # Panics
    ///
    /// As [`request`](Self::request).
    #[track_caller]
    pub fn requests<T: prost::Message + Default>(&self) -> Vec<T> {
        // A loop, not `map`: a closure would take the panic's location from the kit.
        let mut messages = Vec::with_capacity(self.request_count());
        for index in 0..self.request_count() {
            messages.push(self.request(index));
        }
        messages
    }

    /// How the call ended, or `None` while it is still running.
    pub fn status(&self) -> Option<&Status> {
        self.status.as_ref().map(End::status)
    }

    /// The code the call ended with, or `None` while it is still running.
    pub fn code(&self) -> Option<Code> {
        self.status().map(Status::code)
    }

    /// How many response messages the server sent.
    pub fn response_count(&self) -> usize {
        self.responses
    }

    /// How long the call took, from its arrival to its status, on the tokio clock; `None`
    /// while it is still running.
    pub fn duration(&self) -> Option<Duration> {
        self.duration
    }

    /// The [`Faults`](crate::Faults) rules that acted on the call, each as the test wrote it,
    /// with its line: `faults.on("/probe.Probe/Unary").times(2).fail(Unavailable, "down") at
    /// tests/faults.rs:12:5`.
    pub fn faults(&self) -> &[String] {
        &self.faults
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.method)?;
        match self.status() {
            None => write!(f, "still running")?,
            Some(status) if status.message().is_empty() => write!(f, "{:?}", status.code())?,
            Some(status) => write!(f, "{:?} {:?}", status.code(), status.message())?,
        }
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        let (requests, responses) = (self.request_count(), self.responses);
        write!(
            f,
            ", {requests} request{}, {responses} response{}",
            plural(requests),
            plural(responses)
        )?;
        for fault in &self.faults {
            write!(f, "\n     fault: {fault}")?;
        }
        Ok(())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_lists_keep_every_item_in_order_as_they_grow() {
        let mut list = Chunked::default();
        for item in 0..1_000 {
            list.push(item);
        }

        assert!(list.iter().copied().eq(0..1_000));
        assert!(list.range(55..70).copied().eq(55..70));
        assert_eq!(*list.get_mut(999), 999);
        let sizes: Vec<usize> = list.chunks.iter().map(Vec::capacity).take(6).collect();
        assert_eq!(sizes, [4, 8, 16, 32, 64, 64]);
        assert_eq!(list.chunks.len(), 4 + (1_000 - GROWING).div_ceil(CHUNK));
    }
}
