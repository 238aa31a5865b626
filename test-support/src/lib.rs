//! The probe service that tonic-testkit's own tests run against.
//!
//! `Probe` has one method of each RPC shape. What a call does is chosen by the request text, so a
//! test can provoke a panic, a hang or a slow answer without writing a service of its own:
//!
//! | text                 | unary / client stream / bidi message                 |
//! |----------------------|------------------------------------------------------|
//! | `panic:MSG`          | panics with `MSG`                                    |
//! | `hang`               | never answers (counted in `dropped_hangs` when dropped) |
//! | `sleep:MS`           | answers `slept MS ms` after `tokio::time::sleep`     |
//! | `peer` / `local`     | answers `Request::remote_addr()` / `local_addr()`    |
//! | `marker`             | answers whether a [`ClientMarker`] extension arrived |
//! | `meta:KEY`           | answers the request metadata value of `KEY`          |
//! | anything else        | echoes the text                                      |
//!
//! `ServerStream` sends `count` replies; `panic-at:N` panics instead of sending reply `N`;
//! `fail-at:N` ends the stream with `ABORTED "failed at reply N"` (trailer `x-failed-at: N`)
//! instead of sending reply `N`; `endless` sends `count` replies and then keeps the stream open.

use std::{
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

pub mod h2wire;
pub mod shapes;

#[allow(missing_docs, clippy::all)]
mod generated {
    tonic::include_proto!("probe");
}

/// The probe service's encoded `FileDescriptorSet`, for stubs and servers that check message
/// types against it.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/file_descriptor_set.bin"));

pub use generated::{
    ProbeReply, ProbeRequest,
    probe_client::ProbeClient,
    probe_server::{Probe as ProbeService, ProbeServer},
};

/// The stream type of the streaming methods (`generate_default_stubs` fixes it to a boxed stream).
pub type ReplyStream = Pin<Box<dyn Stream<Item = Result<ProbeReply, Status>> + Send>>;

/// A request extension set on the client side; a real server never lets it through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientMarker;

/// The probe service. Clones share the hang counters.
#[derive(Clone, Debug)]
pub struct Probe {
    dropped_hangs: Arc<AtomicUsize>,
    started_hangs: Arc<tokio::sync::watch::Sender<usize>>,
}

impl Default for Probe {
    fn default() -> Self {
        Self {
            dropped_hangs: Arc::default(),
            started_hangs: Arc::new(tokio::sync::watch::channel(0).0),
        }
    }
}

impl Probe {
    /// A probe with its own hang counter.
    pub fn new() -> Self {
        Self::default()
    }

    /// A server for this probe.
    pub fn server(&self) -> ProbeServer<Probe> {
        ProbeServer::new(self.clone())
    }

    /// How many open calls (`hang`, `endless`, bidi streams) the server has dropped so far.
    pub fn dropped_hangs(&self) -> usize {
        self.dropped_hangs.load(Ordering::SeqCst)
    }

    /// Waits until `count` open calls (`hang`, `endless`, bidi streams) have started.
    pub async fn hangs_started(&self, count: usize) {
        let mut started = self.started_hangs.subscribe();
        started.wait_for(|started| *started >= count).await.expect("the probe owns the sender");
    }

    fn hang_guard(&self) -> HangGuard {
        self.started_hangs.send_modify(|started| *started += 1);
        HangGuard(self.dropped_hangs.clone())
    }

    async fn answer<T>(&self, request: &Request<T>, text: &str) -> Result<String, Status> {
        if let Some(message) = text.strip_prefix("panic:") {
            panic!("{message}");
        }
        if let Some(ms) = text.strip_prefix("sleep:") {
            let ms: u64 = ms.parse().map_err(|_| Status::invalid_argument("sleep:MS"))?;
            tokio::time::sleep(Duration::from_millis(ms)).await;
            return Ok(format!("slept {ms} ms"));
        }
        if let Some(key) = text.strip_prefix("meta:") {
            let value = request.metadata().get(key).map(|v| v.to_str().unwrap_or("<binary>"));
            return Ok(value.unwrap_or("<missing>").to_owned());
        }
        Ok(match text {
            "hang" => {
                let _guard = self.hang_guard();
                std::future::pending::<()>().await;
                unreachable!("a pending future never completes")
            }
            "peer" => format!("{:?}", request.remote_addr()),
            "local" => format!("{:?}", request.local_addr()),
            "marker" => match request.extensions().get::<ClientMarker>() {
                Some(_) => "marker present".to_owned(),
                None => "marker absent".to_owned(),
            },
            other => other.to_owned(),
        })
    }
}

struct HangGuard(Arc<AtomicUsize>);

impl Drop for HangGuard {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn reply(text: impl Into<String>, index: u32) -> ProbeReply {
    ProbeReply { text: text.into(), index }
}

#[tonic::async_trait]
impl ProbeService for Probe {
    async fn unary(&self, request: Request<ProbeRequest>) -> Result<Response<ProbeReply>, Status> {
        let text = self.answer(&request, &request.get_ref().text).await?;
        Ok(Response::new(reply(text, 0)))
    }

    async fn client_stream(
        &self,
        request: Request<Streaming<ProbeRequest>>,
    ) -> Result<Response<ProbeReply>, Status> {
        let mut stream = request.into_inner();
        let mut texts = Vec::new();
        while let Some(message) = stream.message().await? {
            if let Some(message) = message.text.strip_prefix("panic:") {
                panic!("{message}");
            }
            texts.push(message.text);
        }
        Ok(Response::new(reply(texts.join(","), texts.len() as u32)))
    }

    async fn server_stream(
        &self,
        request: Request<ProbeRequest>,
    ) -> Result<Response<ReplyStream>, Status> {
        let ProbeRequest { text, count } = request.into_inner();
        let at = |prefix: &str| text.strip_prefix(prefix).and_then(|n| n.parse::<u32>().ok());
        let (panic_at, fail_at) = (at("panic-at:"), at("fail-at:"));
        let replies = tokio_stream::iter(0..count).map(move |index| {
            if panic_at == Some(index) {
                panic!("stream panicked at reply {index}");
            }
            if fail_at == Some(index) {
                let mut trailers = tonic::metadata::MetadataMap::new();
                trailers.insert("x-failed-at", index.into());
                let message = format!("failed at reply {index}");
                return Err(Status::with_metadata(tonic::Code::Aborted, message, trailers));
            }
            Ok(reply(format!("reply {index}"), index))
        });
        if text == "endless" {
            let guard = self.hang_guard();
            let open = tokio_stream::pending().map(move |reply: Result<ProbeReply, Status>| {
                let _keep = &guard;
                reply
            });
            return Ok(Response::new(Box::pin(replies.chain(open))));
        }
        Ok(Response::new(Box::pin(replies)))
    }

    async fn bidi(
        &self,
        request: Request<Streaming<ProbeRequest>>,
    ) -> Result<Response<ReplyStream>, Status> {
        let guard = self.hang_guard();
        let mut index = 0;
        let replies = request.into_inner().map(move |message| {
            let _keep = &guard;
            let message = message?;
            if let Some(text) = message.text.strip_prefix("panic:") {
                panic!("{text}");
            }
            index += 1;
            Ok(reply(message.text, index - 1))
        });
        Ok(Response::new(Box::pin(replies)))
    }
}
