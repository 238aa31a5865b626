//! TestRequest: requests for calling handlers directly, as a real server hands them over.

use std::time::Duration;

use tokio_stream::StreamExt;
use tonic::{Code, Request, Status};
use tonic_testkit::TestRequest;
use tonic_testkit::handler::DEFAULT_REMOTE_ADDR;
use tonic_testkit_support::{ClientMarker, Probe, ProbeRequest, ProbeService};

mod common;

use common::probe;

#[tokio::test]
async fn a_handler_reads_what_the_request_carries() {
    let service = Probe::new();
    let ask = |text: &str| {
        TestRequest::new(probe(text, 0))
            .metadata("x-user", "ada")
            .remote_addr("10.1.2.3:5000".parse().unwrap())
            .local_addr("10.9.9.9:443".parse().unwrap())
            .extension(ClientMarker)
    };

    let user = service.unary(ask("meta:x-user").into()).await.unwrap().into_inner().text;
    let peer = service.unary(ask("peer").into()).await.unwrap().into_inner().text;
    let local = service.unary(ask("local").into()).await.unwrap().into_inner().text;
    let marker = service.unary(ask("marker").into()).await.unwrap().into_inner().text;

    assert_eq!(user, "ada");
    assert_eq!(peer, "Some(10.1.2.3:5000)");
    assert_eq!(local, "Some(10.9.9.9:443)");
    assert_eq!(marker, "marker present");
}

#[test]
fn by_default_the_peer_is_loopback_as_from_a_real_server() {
    let request: Request<ProbeRequest> = TestRequest::new(probe("", 0)).into();

    assert_eq!(request.remote_addr(), Some(DEFAULT_REMOTE_ADDR));
    assert_eq!(request.local_addr(), Some("127.0.0.1:50051".parse().unwrap()));
    assert!(request.metadata().is_empty());
}

#[test]
fn metadata_keeps_every_value_and_binary_keys_take_bytes() {
    let request = TestRequest::new(probe("", 0))
        .metadata("x-tag", "a")
        .metadata("x-tag", "b")
        .metadata("blob-bin", [0u8, 255])
        .into_request();

    let tags: Vec<_> = request.metadata().get_all("x-tag").iter().collect();
    assert_eq!(tags, ["a", "b"]);
    let blob = request.metadata().get_bin("blob-bin").unwrap().to_bytes().unwrap();
    assert_eq!(&blob[..], [0, 255]);
}

#[test]
fn the_timeout_is_the_header_a_tonic_client_sends() {
    let mut sent = Request::new(());
    sent.set_timeout(Duration::from_millis(1500));

    let request = TestRequest::new(()).timeout(Duration::from_millis(1500)).into_request();

    assert_eq!(request.metadata().get("grpc-timeout"), sent.metadata().get("grpc-timeout"));
    assert!(request.metadata().get("grpc-timeout").is_some());
}

#[test]
#[should_panic(expected = "invalid metadata key \"X Bad\": keys are lower-case ASCII letters, \
digits and '-', '_', '.', and must not be empty")]
fn an_invalid_key_is_rejected_at_once() {
    let _ = TestRequest::new(()).metadata("X Bad", "v");
}

#[test]
#[should_panic(expected = "invalid value for metadata key \"x-note\": \"line\\nbreak\" is not \
visible ASCII; send bytes under a key ending in \"-bin\"")]
fn an_invalid_ascii_value_is_rejected_at_once() {
    let _ = TestRequest::new(()).metadata("x-note", "line\nbreak");
}

#[tokio::test]
async fn a_stream_request_feeds_a_client_streaming_handler() {
    let request = TestRequest::stream([probe("a", 0), probe("b", 0), probe("c", 0)]);

    let reply = Probe::new().client_stream(request.into()).await.unwrap().into_inner();

    assert_eq!((reply.text.as_str(), reply.index), ("a,b,c", 3));
}

#[tokio::test]
async fn an_error_item_reaches_the_handler_as_that_status() {
    let items = [Ok(probe("a", 0)), Err(Status::data_loss("the client broke"))];

    let status = Probe::new().client_stream(TestRequest::stream_results(items).into()).await;

    let status = status.unwrap_err();
    assert_eq!((status.code(), status.message()), (Code::DataLoss, "the client broke"));
}

#[tokio::test]
async fn a_channel_request_drives_a_bidi_handler_step_by_step() {
    let (sender, request) = TestRequest::channel::<ProbeRequest>();
    let mut replies = Probe::new().bidi(request.into()).await.unwrap().into_inner();

    sender.send(Ok(probe("first", 0))).await.unwrap();
    let first = replies.next().await.unwrap().unwrap();
    sender.send(Ok(probe("second", 0))).await.unwrap();
    let second = replies.next().await.unwrap().unwrap();
    drop(sender);

    assert_eq!((first.text.as_str(), first.index), ("first", 0));
    assert_eq!((second.text.as_str(), second.index), ("second", 1));
    assert!(replies.next().await.is_none(), "the stream should end when the sender is dropped");
}
