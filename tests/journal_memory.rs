//! The journal is bounded in bytes: a long client stream costs the test no more memory than the
//! journal's byte limit, whatever its length. Alone in its binary, since it reads the process's
//! resident memory, which other tests running beside it would move.
#![cfg(target_os = "linux")]

use tonic_testkit::journal::DEFAULT_JOURNAL_BYTE_LIMIT;
use tonic_testkit::{TestServer, Transport};
use tonic_testkit_examples::rides::{
    Rides,
    pb::{TrackRequest, rides_client::RidesClient, rides_server::RidesServer},
};

/// The process's resident memory, in MiB.
fn resident_mib() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux's /proc");
    let line = status.lines().find(|line| line.starts_with("VmRSS:")).expect("a VmRSS line");
    let kib: usize = line.split_whitespace().nth(1).and_then(|kib| kib.parse().ok()).unwrap();
    kib / 1024
}

#[tokio::test]
async fn a_long_client_stream_costs_no_more_than_the_journals_byte_limit() {
    let server = TestServer::builder()
        .transport(Transport::Memory)
        .add_service(RidesServer::new(Rides::default()))
        .start()
        .await;
    let mut client = server.client(RidesClient::new);
    let car = "c".repeat(64 * 1024);
    // 256 MiB in all, eight times the journal's limit; the service only counts them.
    let events =
        (0..4_096).map(move |_| TrackRequest { car_id: car.clone(), ..Default::default() });
    let before = resident_mib();

    let summary = client.track(tokio_stream::iter(events)).await.unwrap().into_inner();

    let grown = resident_mib().saturating_sub(before);
    let limit = DEFAULT_JOURNAL_BYTE_LIMIT / (1024 * 1024);
    assert_eq!(summary.count, 4_096);
    assert_eq!(server.calls()[0].request_count(), 4_096);
    assert!(grown < 2 * limit, "a 256 MiB stream grew the process by {grown} MiB (limit {limit})");
    server.shutdown().await;
}
