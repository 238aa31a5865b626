//! The call journal: every call a test server saw, on every transport, for assertions and for
//! failure messages.

use std::{
    fmt,
    sync::{
        Arc, Mutex, MutexGuard, OnceLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use bytes::{Buf, Bytes, BytesMut};
use http::HeaderMap;
use http::uri::PathAndQuery;
use tokio::time::Instant;
use tonic::{Code, Status, metadata::MetadataMap};

/// How many calls a server's journal keeps unless
/// [`TestServerBuilder::journal_limit`](crate::TestServerBuilder::journal_limit) says otherwise.
pub const DEFAULT_JOURNAL_LIMIT: usize = 1_000;

/// The calls of one server, oldest first.
#[derive(Debug)]
pub(crate) struct Journal {
    calls: Mutex<Vec<Record>>,
    limit: usize,
    unrecorded: AtomicUsize,
}

/// One call's entry, updated while the call runs.
pub(crate) type Record = Arc<Mutex<Call>>;

impl Journal {
    pub(crate) fn new(limit: usize) -> Self {
        Self { calls: Mutex::new(Vec::new()), limit, unrecorded: AtomicUsize::new(0) }
    }

    /// Starts an entry for a call, or returns `None` when the journal is full.
    pub(crate) fn start(&self, uri: &http::Uri, headers: &HeaderMap) -> Option<Record> {
        if self.limit == 0 {
            self.unrecorded.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let mut calls = lock(&self.calls);
        if calls.len() >= self.limit {
            self.unrecorded.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let call = Call {
            // Shares the request's bytes: no copy of the path.
            method: uri.path_and_query().cloned().unwrap_or_else(|| PathAndQuery::from_static("/")),
            metadata: MetadataMap::from_headers(headers.clone()),
            requests: Messages::default(),
            status: None,
            responses: 0,
            started: Instant::now(),
            duration: None,
            faults: Vec::new(),
        };
        let record = Arc::new(Mutex::new(call));
        calls.push(record.clone());
        Some(record)
    }

    /// A snapshot of the calls so far.
    pub(crate) fn calls(&self) -> Vec<Call> {
        lock(&self.calls).iter().map(|record| lock(record).clone()).collect()
    }

    /// The calls, one per line, for failure messages.
    pub(crate) fn describe(&self) -> String {
        let calls = self.calls();
        let unrecorded = self.unrecorded.load(Ordering::Relaxed);
        let mut text = match calls.len() {
            0 => "The server saw no calls.".to_owned(),
            1 => "The server saw 1 call:".to_owned(),
            n => format!("The server saw {n} calls:"),
        };
        for (index, call) in calls.iter().enumerate() {
            text.push_str(&format!("\n  {}. {call}", index + 1));
        }
        if unrecorded > 0 {
            text.push_str(&format!(
                "\n  ... and {unrecorded} later calls the journal did not keep: it keeps {} \
                 calls; raise it with `TestServerBuilder::journal_limit(n)`.",
                self.limit
            ));
        }
        text
    }
}

/// Records one request message.
pub(crate) fn record_request(record: &Record, message: Message) {
    lock(record).requests.push(message);
}

/// Records how a call ended, once: the first status wins.
pub(crate) fn record_status(record: &Record, status: Status) {
    record_end(record, || End::Status(status));
}

/// Records how a call ended, once, making the status only if the call has none yet.
pub(crate) fn record_status_with(record: &Record, status: impl FnOnce() -> Status) {
    record_end(record, || End::Status(status()));
}

/// Records how a call ended, once: the first end wins.
pub(crate) fn record_end(record: &Record, end: impl FnOnce() -> End) {
    let mut call = lock(record);
    if call.status.is_none() {
        call.status = Some(end());
        call.duration = Some(call.started.elapsed());
    }
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

/// A call's request messages. Most calls have one, kept without a `Vec`.
#[derive(Clone, Debug, Default)]
struct Messages {
    first: Option<Message>,
    rest: Vec<Message>,
}

impl Messages {
    fn push(&mut self, message: Message) {
        match self.first {
            None => self.first = Some(message),
            Some(_) => self.rest.push(message),
        }
    }

    fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }

    fn get(&self, index: usize) -> Option<&Message> {
        match index {
            0 => self.first.as_ref(),
            _ => self.rest.get(index - 1),
        }
    }
}

/// Notes the fault rules that acted on a call.
pub(crate) fn record_faults(record: &Record, faults: &[String]) {
    lock(record).faults.extend_from_slice(faults);
}

/// Adds response messages to a call.
pub(crate) fn record_responses(record: &Record, messages: usize) {
    lock(record).responses += messages;
}

/// A request message as it arrived: its bytes, and whether they were compressed.
#[derive(Clone, Debug)]
pub(crate) struct Message {
    compressed: bool,
    bytes: Bytes,
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
    status: Option<End>,
    responses: usize,
    started: Instant,
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

    /// How many request messages arrived.
    pub fn request_count(&self) -> usize {
        self.requests.len()
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
        T::decode(bytes).unwrap_or_else(|error| {
            panic!(
                "tonic-testkit: request message {index} of {} does not decode as {}: {error}; \
                 ask for the message type the method takes",
                self.method,
                std::any::type_name::<T>()
            )
        })
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
        self.requests.get(index).unwrap_or_else(|| {
            panic!(
                "tonic-testkit: {} has {} request messages, so there is no message {index} \
                 (messages count from 0)",
                self.method,
                self.requests.len()
            )
        })
    }

    #[track_caller]
    fn decompress(&self, index: usize, message: &Message) -> Bytes {
        let encoding = self.metadata.get("grpc-encoding").and_then(|value| value.to_str().ok());
        crate::compression::decompress(encoding, &message.bytes).unwrap_or_else(|why| {
            panic!(
                "tonic-testkit: request message {index} of {} arrived compressed, and {why}",
                self.method
            )
        })
    }

    /// Every request message, decoded as `T`.
    ///
    /// # Panics
    ///
    /// As [`request`](Self::request).
    #[track_caller]
    pub fn requests<T: prost::Message + Default>(&self) -> Vec<T> {
        (0..self.requests.len()).map(|index| self.request(index)).collect()
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
        let (requests, responses) = (self.requests.len(), self.responses);
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

/// Splits gRPC length-prefixed messages out of body data.
///
/// A chunk is kept as it came (`Bytes` are shared, not copied) and messages are sliced out of
/// it; only a message split across chunks is copied, to join its parts.
#[derive(Debug, Default)]
pub(crate) struct Frames {
    /// The latest chunk, not yet copied anywhere.
    chunk: Bytes,
    /// Parts of a message that spans chunks, joined.
    joined: BytesMut,
}

impl Frames {
    /// Takes a chunk of body data and passes each message it completes to `message`.
    pub(crate) fn feed(&mut self, data: impl Buf, mut message: impl FnMut(Message)) {
        self.push(data);
        while let Some(frame) = self.next_frame() {
            message(Message { compressed: frame[0] == 1, bytes: frame.slice(5..) });
        }
    }

    /// Takes a chunk of body data.
    pub(crate) fn push(&mut self, mut data: impl Buf) {
        if self.joined.is_empty() && self.chunk.is_empty() {
            self.chunk = data.copy_to_bytes(data.remaining());
            return;
        }
        self.join_chunk();
        while data.has_remaining() {
            let part = data.chunk();
            let len = part.len();
            self.joined.extend_from_slice(part);
            data.advance(len);
        }
    }

    /// The next whole message, its 5-byte prefix included.
    pub(crate) fn next_frame(&mut self) -> Option<Bytes> {
        if self.joined.is_empty() {
            let len = whole_frame(&self.chunk)?;
            return Some(self.chunk.split_to(len));
        }
        self.join_chunk();
        let len = whole_frame(&self.joined)?;
        Some(self.joined.split_to(len).freeze())
    }

    /// What is left of an incomplete message.
    pub(crate) fn take_rest(&mut self) -> Bytes {
        self.join_chunk();
        self.joined.split().freeze()
    }

    fn join_chunk(&mut self) {
        if !self.chunk.is_empty() {
            self.joined.extend_from_slice(&std::mem::take(&mut self.chunk));
        }
    }
}

/// The length of the message at the start of `data`, prefix included, if all of it is there.
fn whole_frame(data: &[u8]) -> Option<usize> {
    let prefix = data.get(..5)?;
    let len = u32::from_be_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]);
    let len = 5 + usize::try_from(len).ok()?;
    (data.len() >= len).then_some(len)
}

/// Counts gRPC messages in body data without keeping them.
#[derive(Debug, Default)]
pub(crate) struct FrameCounter {
    header: [u8; 5],
    header_len: usize,
    body_left: usize,
}

impl FrameCounter {
    /// Takes a chunk of body data and returns how many messages start in it.
    pub(crate) fn feed(&mut self, mut data: &[u8]) -> usize {
        let mut started = 0;
        while !data.is_empty() {
            if self.body_left > 0 {
                let skip = self.body_left.min(data.len());
                self.body_left -= skip;
                data = &data[skip..];
                continue;
            }
            let take = (5 - self.header_len).min(data.len());
            self.header[self.header_len..self.header_len + take].copy_from_slice(&data[..take]);
            self.header_len += take;
            data = &data[take..];
            if self.header_len == 5 {
                started += 1;
                self.header_len = 0;
                let [_, a, b, c, d] = self.header;
                self.body_left = u32::from_be_bytes([a, b, c, d]) as usize;
            }
        }
        started
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(message: &[u8]) -> Vec<u8> {
        let mut frame = vec![0];
        frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
        frame.extend_from_slice(message);
        frame
    }

    #[test]
    fn frames_split_across_chunks_are_reassembled() {
        let data = [frame(b"abc"), frame(b""), frame(b"hello")].concat();
        let mut frames = Frames::default();
        let mut counter = FrameCounter::default();
        let mut messages = Vec::new();
        let mut counted = 0;
        for chunk in data.chunks(2) {
            frames.feed(chunk, |message| messages.push(message));
            counted += counter.feed(chunk);
        }
        let bytes: Vec<&[u8]> = messages.iter().map(|m| &m.bytes[..]).collect();
        assert_eq!(bytes, [&b"abc"[..], b"", b"hello"]);
        assert_eq!(counted, 3);
    }

    #[test]
    fn whole_messages_in_one_chunk_are_sliced_not_copied() {
        let data = Bytes::from([frame(b"abc"), frame(b"hello")].concat());
        let mut frames = Frames::default();
        let mut messages = Vec::new();

        frames.feed(data.clone(), |message| messages.push(message));

        let bytes: Vec<&[u8]> = messages.iter().map(|m| &m.bytes[..]).collect();
        assert_eq!(bytes, [&b"abc"[..], b"hello"]);
        assert_eq!(messages[0].bytes.as_ptr(), data[5..].as_ptr(), "sliced from the chunk");
        assert!(frames.take_rest().is_empty());
    }

    #[test]
    fn an_incomplete_message_is_what_is_left() {
        let data = [frame(b"abc"), frame(b"hello")].concat();
        let mut frames = Frames::default();
        let mut messages = Vec::new();

        frames.feed(&data[..12], |message| messages.push(message));

        assert_eq!(messages.len(), 1);
        assert_eq!(&frames.take_rest()[..], &data[8..12]);
    }
}
