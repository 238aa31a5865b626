//! A client that drops a call's response mid-call, on every transport as over HTTP/2: a bidi
//! call whose request stream is still open goes on (its answer polled and discarded, its
//! request still delivered) until the request stream ends, and is cancelled then; a call whose
//! request has ended, or whose response future is dropped before its answer, is cancelled at
//! once. What the handler saw, and when and how the journal records the call, are the same over
//! Direct as over Memory and TCP.

mod common;

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
    time::Duration,
};

use common::every_transport;
use rstest::rstest;
use rstest_reuse::apply;
use tokio::sync::{mpsc, watch};
use tokio_stream::{Stream, StreamExt, wrappers::ReceiverStream};
use tonic::{Code, Request, Response, Status, Streaming};
use tonic_testkit::{TestChannel, TestServer, Transport, assert_status, journal::Call};
use tonic_testkit_support::{
    ProbeClient, ProbeReply, ProbeRequest, ProbeServer, ProbeService, ReplyStream,
};

/// What the journal says of a call its client went away from.
const WENT_AWAY: &str = "the call was cancelled before it ended (the client went away)";

/// What the handlers saw, in order, for the test to wait on and compare.
#[derive(Clone, Default)]
struct Witness(Arc<watch::Sender<Vec<String>>>);

impl Witness {
    fn note(&self, event: impl Into<String>) {
        self.0.send_modify(|events| events.push(event.into()));
    }

    /// Waits until the handlers have seen `n` events.
    async fn saw(&self, n: usize) {
        let mut events = self.0.subscribe();
        events.wait_for(|events| events.len() >= n).await.expect("the witness owns the sender");
    }

    fn events(&self) -> Vec<String> {
        self.0.borrow().clone()
    }
}

/// Notes `"dropped"` when the handler's future or stream that holds it is dropped.
struct Dropped(Witness);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.note("dropped");
    }
}

/// The bidi handler's answer: an echo of each request message. `bye` ends the answer; `deaf`
/// is echoed, and then the request stream is no longer read. The end of the request stream is
/// answered `ended`, and then the answer stays open.
struct Echo {
    requests: Streaming<ProbeRequest>,
    witness: Witness,
    reading: bool,
    _dropped: Dropped,
}

impl Stream for Echo {
    type Item = Result<ProbeReply, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if !self.reading {
            return Poll::Pending;
        }
        let request = match ready!(Pin::new(&mut self.requests).poll_next(cx)) {
            Some(Ok(request)) => request,
            Some(Err(status)) => {
                self.witness.note(format!("request failed: {}", status.message()));
                return Poll::Ready(Some(Err(status)));
            }
            None => {
                self.witness.note("request ended");
                self.reading = false;
                return Poll::Ready(Some(Ok(ProbeReply { text: "ended".into(), index: 0 })));
            }
        };
        self.witness.note(format!("got {}", request.text));
        match request.text.as_str() {
            "bye" => return Poll::Ready(None),
            "deaf" => self.reading = false,
            _ => {}
        }
        Poll::Ready(Some(Ok(ProbeReply { text: request.text, index: 0 })))
    }
}

/// A probe whose streaming handlers tell the witness what they see.
#[derive(Clone, Default)]
struct Watched(Witness);

#[tonic::async_trait]
impl ProbeService for Watched {
    async fn client_stream(
        &self,
        request: Request<Streaming<ProbeRequest>>,
    ) -> Result<Response<ProbeReply>, Status> {
        let _dropped = Dropped(self.0.clone());
        let mut requests = request.into_inner();
        let mut texts = Vec::new();
        while let Some(request) = requests.message().await? {
            self.0.note(format!("got {}", request.text));
            texts.push(request.text);
        }
        self.0.note("request ended");
        if texts.first().is_some_and(|text| text == "answer") {
            return Ok(Response::new(ProbeReply { text: texts.join(","), index: 0 }));
        }
        std::future::pending().await
    }

    async fn server_stream(
        &self,
        _: Request<ProbeRequest>,
    ) -> Result<Response<ReplyStream>, Status> {
        let dropped = Dropped(self.0.clone());
        let first = tokio_stream::once(Ok(ProbeReply { text: "first".into(), index: 0 }));
        let open = tokio_stream::pending().map(move |reply| {
            let _keep = &dropped;
            reply
        });
        Ok(Response::new(Box::pin(first.chain(open))))
    }

    async fn bidi(
        &self,
        request: Request<Streaming<ProbeRequest>>,
    ) -> Result<Response<ReplyStream>, Status> {
        let witness = self.0.clone();
        let requests = request.into_inner();
        let _dropped = Dropped(witness.clone());
        Ok(Response::new(Box::pin(Echo { requests, witness, reading: true, _dropped })))
    }
}

async fn start(transport: Transport) -> (TestServer, ProbeClient<TestChannel>, Witness) {
    let watched = Watched::default();
    let witness = watched.0.clone();
    let server = TestServer::builder()
        .transport(transport)
        .add_service(ProbeServer::new(watched))
        .start()
        .await;
    let client = server.client(ProbeClient::new);
    (server, client, witness)
}

fn message(text: &str) -> ProbeRequest {
    ProbeRequest { text: text.to_owned(), count: 0 }
}

/// Opens a bidi call with `first` and reads its echo: the call is running in the server.
async fn open_bidi(
    client: &mut ProbeClient<TestChannel>,
    first: &str,
) -> (mpsc::Sender<ProbeRequest>, Streaming<ProbeReply>) {
    let (sender, requests) = mpsc::channel(4);
    sender.send(message(first)).await.unwrap();
    let mut replies = client.bidi(ReceiverStream::new(requests)).await.unwrap().into_inner();
    assert_eq!(replies.message().await.unwrap().unwrap().text, first);
    (sender, replies)
}

/// Starts a client-streaming call that sends `first` and keeps its request stream open, then
/// drops the call (its response future) once the handler has the message, and waits for the
/// server to record the call cancelled.
async fn abandon_client_stream(
    transport: Transport,
    first: &str,
) -> (TestServer, Witness, mpsc::Sender<ProbeRequest>, Vec<Call>) {
    let (server, mut client, witness) = start(transport).await;
    let (sender, requests) = mpsc::channel(4);
    sender.send(message(first)).await.unwrap();
    let call =
        tokio::spawn(async move { client.client_stream(ReceiverStream::new(requests)).await });
    witness.saw(1).await;

    call.abort();
    let cancelled = server.wait_for_cancelled_calls(1).await;
    (server, witness, sender, cancelled)
}

/// Waits until the server has let go of the client's request stream: the call's request is
/// over for the client too.
async fn request_closed(sender: &mpsc::Sender<ProbeRequest>, transport: Transport) {
    let closed = tokio::time::timeout(Duration::from_secs(10), sender.closed()).await;
    assert!(closed.is_ok(), "{transport}: the server still holds the client's request stream");
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn a_bidi_call_whose_response_was_dropped_runs_until_its_request_stream_ends(
    transport: Transport,
) {
    let (server, mut client, witness) = start(transport).await;
    let (sender, replies) = open_bidi(&mut client, "one").await;

    drop(replies);
    sender.send(message("two")).await.unwrap();
    witness.saw(2).await;

    // The handler still reads its request stream, and its answer is still polled.
    assert_eq!(witness.events(), ["got one", "got two"], "{transport}");
    assert!(server.calls()[0].status().is_none(), "{transport}: the call was ended");
    drop(sender);
    let cancelled = server.wait_for_cancelled_calls(1).await;

    // The end of the request stream never reached the handler: it was dropped instead.
    assert_eq!(witness.events(), ["got one", "got two", "dropped"], "{transport}");
    assert_status!(cancelled[0].status().unwrap(), Code::Cancelled, WENT_AWAY; "{transport}");
    let replies: Vec<String> =
        cancelled[0].responses::<ProbeReply>().into_iter().map(|reply| reply.text).collect();
    assert_eq!(replies, ["one", "two"], "{transport}: the answers the server sent");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn a_bidi_call_whose_response_was_dropped_is_cancelled_when_its_request_ends_unread(
    transport: Transport,
) {
    let (server, mut client, witness) = start(transport).await;
    let (sender, replies) = open_bidi(&mut client, "deaf").await;

    drop(replies);
    // The handler no longer reads: the client's messages are still taken from it.
    sender.send(message("unread")).await.unwrap();
    drop(sender);
    let cancelled = server.wait_for_cancelled_calls(1).await;

    assert_eq!(witness.events(), ["got deaf", "dropped"], "{transport}");
    assert_status!(cancelled[0].status().unwrap(), Code::Cancelled, WENT_AWAY; "{transport}");
    assert_eq!(cancelled[0].request_count(), 1, "{transport}: the handler read one request");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn a_bidi_call_whose_response_was_dropped_ends_as_its_answer_ends(transport: Transport) {
    let (server, mut client, witness) = start(transport).await;
    let (sender, replies) = open_bidi(&mut client, "one").await;

    drop(replies);
    sender.send(message("bye")).await.unwrap();
    let ended = server.wait_for_ended_calls(1).await;

    assert_status!(ended[0].status().unwrap(), Code::Ok; "{transport}");
    request_closed(&sender, transport).await;
    assert_eq!(witness.events(), ["got one", "got bye", "dropped"], "{transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn a_bidi_call_whose_request_had_ended_is_cancelled_when_its_response_is_dropped(
    transport: Transport,
) {
    let (server, mut client, witness) = start(transport).await;
    let (sender, mut replies) = open_bidi(&mut client, "one").await;
    drop(sender);
    assert_eq!(replies.message().await.unwrap().unwrap().text, "ended", "{transport}");

    drop(replies);
    let cancelled = server.wait_for_cancelled_calls(1).await;

    assert_eq!(witness.events(), ["got one", "request ended", "dropped"], "{transport}");
    assert_status!(cancelled[0].status().unwrap(), Code::Cancelled, WENT_AWAY; "{transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn a_client_stream_call_whose_response_was_dropped_is_cancelled_at_once(
    transport: Transport,
) {
    let (server, witness, sender, cancelled) = abandon_client_stream(transport, "one").await;

    // Its request stream is still open, yet the call does not go on: the handler is polled
    // once more, reads the end of its request stream (hyper reads the client's `CANCEL` reset
    // as the end of the body), and is dropped.
    assert_eq!(witness.events(), ["got one", "request ended", "dropped"], "{transport}");
    assert_status!(cancelled[0].status().unwrap(), Code::Cancelled, WENT_AWAY; "{transport}");
    request_closed(&sender, transport).await;
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn a_client_stream_call_whose_response_was_dropped_drops_the_answer_its_handler_gives(
    transport: Transport,
) {
    let (server, witness, sender, cancelled) = abandon_client_stream(transport, "answer").await;

    // The handler answers the end it read; the answer goes nowhere, and the call is cancelled.
    assert_eq!(witness.events(), ["got answer", "request ended", "dropped"], "{transport}");
    assert_status!(cancelled[0].status().unwrap(), Code::Cancelled, WENT_AWAY; "{transport}");
    assert_eq!(cancelled[0].response_count(), 0, "{transport}");
    drop(sender);
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn a_server_stream_call_whose_response_was_dropped_is_cancelled_at_once(
    transport: Transport,
) {
    let (server, mut client, witness) = start(transport).await;
    let mut replies = client.server_stream(message("one")).await.unwrap().into_inner();
    assert_eq!(replies.message().await.unwrap().unwrap().text, "first");

    drop(replies);
    let cancelled = server.wait_for_cancelled_calls(1).await;

    assert_eq!(witness.events(), ["dropped"], "{transport}");
    assert_status!(cancelled[0].status().unwrap(), Code::Cancelled, WENT_AWAY; "{transport}");
    server.shutdown().await;
}
