//! The HTTP/2 settings over [`Transport::Memory`], held to a tonic server's with the same
//! setting on an in-memory pipe: what each sends on a raw connection (the same comparisons
//! over TCP are in tests/settings.rs).

use std::time::Duration;

use tokio::io::DuplexStream;
use tonic::transport::Server;
use tonic_testkit_support::{Probe, h2wire};

use crate::{TestServer, Transport};

/// A raw connection to a kit's memory server and one to a tonic server, both given the
/// builder calls that follow.
macro_rules! pipes {
    ($($setting:tt)*) => {{
        let server = TestServer::builder()
            .transport(Transport::Memory)
            .add_service(Probe::new().server())
            $($setting)*
            .start()
            .await;
        let kit = crate::transport::memory::connect(server.shared_for_tests()).unwrap();
        let (tonic, served) = tokio::io::duplex(256 * 1024);
        let incoming = tokio_stream::once(Ok::<_, std::io::Error>(served));
        let serving = Server::builder()
            $($setting)*
            .add_service(Probe::new().server())
            .serve_with_incoming(incoming);
        tokio::spawn(async move { serving.await.expect("tonic's server runs") });
        (server, kit.into_inner(), tonic)
    }};
}

async fn first_frames(mut kit: DuplexStream, mut tonic: DuplexStream) -> [Vec<h2wire::Frame>; 2] {
    [h2wire::handshake(&mut kit).await, h2wire::handshake(&mut tonic).await]
}

#[tokio::test]
async fn the_first_frames_over_memory_are_a_tonic_servers_with_the_same_setting() {
    let (_server, kit, tonic) = pipes!(.timeout(Duration::from_secs(1)));
    let [default, tonic_default] = first_frames(kit, tonic).await;
    let (_a, kit_a, tonic_a) = pipes!(.max_frame_size(1u32 << 20));
    let (_b, kit_b, tonic_b) = pipes!(.initial_stream_window_size(100_000u32));
    let (_c, kit_c, tonic_c) = pipes!(.initial_connection_window_size(2_000_000u32));
    let (_d, kit_d, tonic_d) = pipes!(.http2_adaptive_window(Some(true)));
    let (_e, kit_e, tonic_e) = pipes!(.max_concurrent_streams(7u32));
    let (_f, kit_f, tonic_f) = pipes!(.http2_max_header_list_size(4096u32));
    let cases = [
        ("max_frame_size", first_frames(kit_a, tonic_a).await),
        ("initial_stream_window_size", first_frames(kit_b, tonic_b).await),
        ("initial_connection_window_size", first_frames(kit_c, tonic_c).await),
        ("http2_adaptive_window", first_frames(kit_d, tonic_d).await),
        ("max_concurrent_streams", first_frames(kit_e, tonic_e).await),
        ("http2_max_header_list_size", first_frames(kit_f, tonic_f).await),
    ];

    assert_eq!(default, tonic_default);
    for (setting, [kit, tonic]) in cases {
        assert_eq!(kit, tonic, "{setting}");
        assert_ne!(kit, default, "{setting} shows in the first frames");
    }
}

/// What each side sends within a minute on a connection that never answers.
async fn unanswered(
    mut kit: DuplexStream,
    mut tonic: DuplexStream,
) -> [(Vec<(Duration, h2wire::Frame)>, bool); 2] {
    h2wire::handshake(&mut kit).await;
    h2wire::handshake(&mut tonic).await;
    let minute = Duration::from_secs(60);
    let (kit, tonic) =
        tokio::join!(h2wire::listen(&mut kit, minute), h2wire::listen(&mut tonic, minute));
    [kit, tonic]
}

#[tokio::test(start_paused = true)]
async fn keepalive_pings_and_closes_over_memory_as_a_tonic_server_does() {
    let ten = Some(Duration::from_secs(10));
    let (_a, kit, tonic) = pipes!(.http2_keepalive_interval(ten));
    let [interval, tonic_interval] = unanswered(kit, tonic).await;
    let (_b, kit, tonic) = pipes!(.http2_keepalive_interval(ten).http2_keepalive_timeout(Some(Duration::from_secs(1))));
    let [both, tonic_both] = unanswered(kit, tonic).await;

    assert_eq!(interval, tonic_interval);
    assert_eq!(both, tonic_both);
    let kinds = |(frames, closed): &(Vec<(Duration, h2wire::Frame)>, bool)| {
        let kinds = frames.iter().map(|(at, frame)| (at.as_secs(), frame.kind));
        (kinds.collect::<Vec<_>>(), *closed)
    };
    assert_eq!(kinds(&interval), (vec![(10, h2wire::PING), (30, h2wire::GOAWAY)], true));
    assert_eq!(kinds(&both), (vec![(10, h2wire::PING), (11, h2wire::GOAWAY)], true));
}

#[tokio::test(start_paused = true)]
async fn streams_reset_before_they_are_accepted_meet_tonics_limit_over_memory() {
    let (_server, mut kit, mut tonic) = pipes!(.http2_max_pending_accept_reset_streams(Some(1)));
    h2wire::handshake(&mut kit).await;
    h2wire::handshake(&mut tonic).await;

    h2wire::open_and_reset(&mut kit, 5).await;
    h2wire::open_and_reset(&mut tonic, 5).await;
    let second = Duration::from_secs(1);
    let (kit, tonic) =
        tokio::join!(h2wire::listen(&mut kit, second), h2wire::listen(&mut tonic, second));

    assert_eq!(kit, tonic);
    let (frames, closed) = kit;
    let goaway = &frames.last().expect("a GOAWAY").1;
    assert_eq!(
        (goaway.kind, &goaway.payload[4..8], closed),
        (h2wire::GOAWAY, &[0, 0, 0, 0xb][..], true)
    );
}
