//! Compression and message-size limits, configured per service and per client as tonic does,
//! through the kit on every transport: gzip both ways (proved on the wire by the headers and by
//! tonic's size checks, which count compressed bytes), the journal reading compressed requests,
//! faults on compressed streams, and what tonic answers to a message over each limit.

mod common;

use common::probe;
use common::{BODY_BROKEN, STREAM_RESET, every_transport};
use rstest::rstest;
use rstest_reuse::apply;
use tonic::Code;
use tonic_testkit::{TestServer, Transport, assert_status};
use tonic_testkit_support::{Probe, ProbeClient, ProbeServer};

/// A request of 100 characters: 102 bytes encoded, over a 64-byte limit.
const OVER_64: usize = 100;

#[apply(every_transport)]
#[tokio::test]
async fn a_request_over_the_servers_decoding_limit_is_out_of_range(transport: Transport) {
    let service = ProbeServer::new(Probe::new()).max_decoding_message_size(64);
    let server = TestServer::builder().transport(transport).add_service(service).start().await;
    let mut client = server.client(ProbeClient::new);

    let result = client.unary(probe(&"x".repeat(OVER_64), 0)).await;

    let message =
        "Error, decoded message length too large: found 102 bytes, the limit is: 64 bytes";
    assert_status!(result, Code::OutOfRange, message);
    let calls = server.calls();
    assert_eq!((calls[0].code(), calls[0].request_count()), (Some(Code::OutOfRange), 1));
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn the_default_decoding_limit_is_tonics_4_mib(transport: Transport) {
    let server =
        TestServer::builder().transport(transport).add_service(Probe::new().server()).start().await;
    let mut client = server.client(ProbeClient::new);

    let result = client.unary(probe(&"x".repeat(4 * 1024 * 1024), 0)).await;

    let message = "Error, decoded message length too large: found 4194309 bytes, the limit is: \
                   4194304 bytes";
    assert_status!(result, Code::OutOfRange, message);
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn a_response_over_the_servers_encoding_limit_is_out_of_range(transport: Transport) {
    let service = ProbeServer::new(Probe::new()).max_encoding_message_size(64);
    let server = TestServer::builder().transport(transport).add_service(service).start().await;
    let mut client = server.client(ProbeClient::new);

    let result = client.unary(probe(&"x".repeat(OVER_64), 0)).await;

    let message =
        "Error, encoded message length too large: found 102 bytes, the limit is: 64 bytes";
    assert_status!(result, Code::OutOfRange, message);
    assert_eq!(server.calls()[0].code(), Some(Code::OutOfRange), "{transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn a_response_over_the_clients_decoding_limit_is_out_of_range(transport: Transport) {
    let server =
        TestServer::builder().transport(transport).add_service(Probe::new().server()).start().await;
    let mut client =
        server.client(|channel| ProbeClient::new(channel).max_decoding_message_size(64));

    let result = client.unary(probe(&"x".repeat(OVER_64), 0)).await;

    let message =
        "Error, decoded message length too large: found 102 bytes, the limit is: 64 bytes";
    assert_status!(result, Code::OutOfRange, message);
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn a_request_over_the_clients_encoding_limit_resets_the_call(transport: Transport) {
    let server =
        TestServer::builder().transport(transport).add_service(Probe::new().server()).start().await;
    let mut client =
        server.client(|channel| ProbeClient::new(channel).max_encoding_message_size(64));
    let big = probe(&"x".repeat(OVER_64), 0);

    let unary = client.unary(big.clone()).await;
    let streamed = client.client_stream(tokio_stream::iter([probe("a", 0), big])).await;

    // The client resets its stream; over HTTP/2 the encoder's message does not reach the call.
    assert_status!(unary, Code::Internal, STREAM_RESET);
    assert_status!(streamed, Code::Internal, STREAM_RESET);
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn a_bidi_message_over_the_clients_encoding_limit_breaks_the_stream_in_progress(
    transport: Transport,
) {
    let server =
        TestServer::builder().transport(transport).add_service(Probe::new().server()).start().await;
    let mut client =
        server.client(|channel| ProbeClient::new(channel).max_encoding_message_size(64));
    let (requests, outgoing) = tokio::sync::mpsc::channel(4);
    requests.send(probe("first", 0)).await.unwrap();
    let outgoing = tokio_stream::wrappers::ReceiverStream::new(outgoing);
    let mut replies = client.bidi(outgoing).await.unwrap().into_inner();
    let first = replies.message().await.unwrap().unwrap();

    requests.send(probe(&"x".repeat(OVER_64), 0)).await.unwrap();
    let broken = replies.message().await;

    assert_eq!(first.text, "first", "{transport}");
    assert_status!(broken, Code::Internal, BODY_BROKEN);
    server.shutdown().await;
}

#[tokio::test]
async fn over_direct_the_reset_call_keeps_the_encoders_status_as_its_source() {
    let server = TestServer::builder()
        .transport(Transport::Direct)
        .add_service(Probe::new().server())
        .start()
        .await;
    let mut client =
        server.client(|channel| ProbeClient::new(channel).max_encoding_message_size(64));

    let status = client.unary(probe(&"x".repeat(OVER_64), 0)).await.unwrap_err();

    let source = std::error::Error::source(&status).unwrap().to_string();
    assert!(
        source.contains("Error, encoded message length too large: found 102 bytes"),
        "{source}"
    );
    server.shutdown().await;
}

/// Gzip needs tonic's `gzip`, which the kit's `gzip` feature enables.
#[cfg(feature = "gzip")]
mod gzip {
    use std::time::Duration;

    use tokio::time::Instant;
    use tonic::{Status, codec::CompressionEncoding::Gzip};
    use tonic_testkit::{Faults, TestChannel, collect};
    use tonic_testkit_support::ProbeRequest;

    use super::*;

    /// A probe that takes and sends gzip, with a 1000-byte limit on the messages it encodes.
    fn gzip_probe() -> ProbeServer<Probe> {
        ProbeServer::new(Probe::new())
            .accept_compressed(Gzip)
            .send_compressed(Gzip)
            .max_encoding_message_size(1000)
    }

    fn gzip_client(channel: TestChannel) -> ProbeClient<TestChannel> {
        ProbeClient::new(channel).send_compressed(Gzip).accept_compressed(Gzip)
    }

    #[apply(every_transport)]
    #[tokio::test]
    async fn gzip_requests_arrive_compressed_and_the_journal_reads_them(transport: Transport) {
        let server =
            TestServer::builder().transport(transport).add_service(gzip_probe()).start().await;
        let mut client = server.client(gzip_client);
        let texts = ["a", "b", "c"].map(|text| probe(text, 0));

        let unary = client.unary(probe("hello", 0)).await.unwrap().into_inner();
        let streamed = client.client_stream(tokio_stream::iter(texts)).await.unwrap();

        assert_eq!((unary.text.as_str(), streamed.get_ref().text.as_str()), ("hello", "a,b,c"));
        let calls = server.calls();
        assert_eq!(calls[0].metadata().get("grpc-encoding").unwrap(), "gzip", "{transport}");
        assert!(calls[0].request_compressed(0), "{transport}");
        assert_eq!(calls[0].request::<ProbeRequest>(0).text, "hello", "{transport}");
        let streamed: Vec<String> =
            calls[1].requests::<ProbeRequest>().into_iter().map(|request| request.text).collect();
        assert_eq!(streamed, ["a", "b", "c"], "{transport}");
        server.shutdown().await;
    }

    #[apply(every_transport)]
    #[tokio::test]
    async fn gzip_responses_fit_a_limit_their_plain_bytes_exceed(transport: Transport) {
        let server =
            TestServer::builder().transport(transport).add_service(gzip_probe()).start().await;
        let mut gzip = server.client(gzip_client);
        let mut plain = server.client(ProbeClient::new);
        let text = "a".repeat(10_000);

        let compressed = gzip.unary(probe(&text, 0)).await.unwrap();
        let uncompressed = plain.unary(probe(&text, 0)).await;

        // tonic checks the encoding limit on the bytes it sends: 10 KB pass a 1000-byte limit
        // only because they went gzipped.
        assert_eq!(compressed.metadata().get("grpc-encoding").unwrap(), "gzip", "{transport}");
        assert_eq!(compressed.into_inner().text, text, "{transport}");
        let message =
            "Error, encoded message length too large: found 10003 bytes, the limit is: 1000 bytes";
        assert_status!(uncompressed, Code::OutOfRange, message);
        server.shutdown().await;
    }

    #[apply(every_transport)]
    #[tokio::test]
    async fn a_gzip_request_is_limited_by_its_size_once_decompressed(transport: Transport) {
        let service = gzip_probe().max_decoding_message_size(1000);
        let server = TestServer::builder().transport(transport).add_service(service).start().await;
        // The client's own 1000-byte limit counts the compressed bytes it sends, which fit.
        let mut client =
            server.client(|channel| gzip_client(channel).max_encoding_message_size(1000));

        let result = client.unary(probe(&"a".repeat(10_000), 0)).await;

        let message =
            "Error decompressing: size limit, of 1000 bytes, exceeded while decompressing message";
        assert_status!(result, Code::ResourceExhausted, message);
        assert!(server.calls()[0].request_compressed(0), "{transport}");
        server.shutdown().await;
    }

    #[apply(every_transport)]
    #[tokio::test]
    async fn a_gzip_request_to_a_service_that_does_not_accept_gzip_is_unimplemented(
        transport: Transport,
    ) {
        let server = TestServer::builder()
            .transport(transport)
            .add_service(Probe::new().server())
            .start()
            .await;
        let mut client = server.client(|channel| ProbeClient::new(channel).send_compressed(Gzip));

        let result = client.unary(probe("a", 0)).await;

        let message = "Content is compressed with `gzip` which isn't supported";
        assert_status!(result, Code::Unimplemented, message);
        server.shutdown().await;
    }

    #[apply(every_transport)]
    #[tokio::test(start_paused = true)]
    async fn faults_delay_and_cut_compressed_streams_between_messages(transport: Transport) {
        let faults = Faults::new();
        let server = TestServer::builder()
            .transport(transport)
            .add_service(gzip_probe())
            .faults(&faults)
            .start()
            .await;
        let mut client = server.client(gzip_client);
        faults.on("/probe.Probe/ServerStream").delay_messages(Duration::from_secs(1));
        faults.on("/probe.Probe/ServerStream").cut_after(2, Status::unavailable("cut"));

        let started = Instant::now();
        let response = client.server_stream(probe("x", 5)).await.unwrap();
        let encoding = response.metadata().get("grpc-encoding").cloned();
        let outcome = collect(response.into_inner()).await;

        assert_eq!(encoding.unwrap(), "gzip", "{transport}");
        let texts: Vec<&str> = outcome.messages().iter().map(|reply| reply.text.as_str()).collect();
        assert_eq!(texts, ["reply 0", "reply 1"], "{transport}");
        assert_status!(outcome, Code::Unavailable, "cut");
        assert_eq!(started.elapsed(), Duration::from_secs(1), "{transport}");
        assert_eq!(server.calls()[0].response_count(), 2, "{transport}");
        server.shutdown().await;
    }
}
