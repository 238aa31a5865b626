//! A test suite's worth of work: 1,000 independent tests, each on its own current-thread
//! runtime as `#[tokio::test]` makes it, each starting a server, making 3 unary calls and shutting
//! down. Reports the total wall time per transport for the kit and for hand-written tonic, as
//! the median of 5 rounds.
//!
//! `cargo bench --bench suite` (optionally `-- memory` to run one transport).

#[path = "hand.rs"]
mod hand;
#[path = "mode.rs"]
mod mode;

use std::time::{Duration, Instant};

use tonic_testkit::{TestServer, Transport};
use tonic_testkit_support::{Probe, ProbeClient};

use hand::HandClient;

const TESTS: usize = 1_000;
const ROUNDS: usize = 5;

fn main() {
    // `cargo test --benches` checks that the suite runs: ten tests, once.
    let (tests, rounds) = if mode::benchmarking() { (TESTS, ROUNDS) } else { (10, 1) };
    let filter: Vec<String> =
        std::env::args().skip(1).filter(|arg| !arg.starts_with("--")).collect();
    println!("{tests} tests (start, 3 unary calls, shutdown), median of {rounds} rounds\n");
    println!("| transport | kit | hand-written | kit / hand |");
    println!("|---|---:|---:|---:|");
    for transport in Transport::ALL {
        let name = transport.to_string();
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let kit = median_round(tests, rounds, || kit_test(transport));
        let hand = median_round(tests, rounds, || hand_test(transport));
        println!(
            "| {transport} | {:.3} s | {:.3} s | {:.3} |",
            kit.as_secs_f64(),
            hand.as_secs_f64(),
            kit.as_secs_f64() / hand.as_secs_f64()
        );
    }
}

/// The median over `rounds` of the time `tests` runs of `test` take.
fn median_round(tests: usize, rounds: usize, test: impl Fn()) -> Duration {
    let mut times: Vec<Duration> = (0..rounds)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..tests {
                test();
            }
            started.elapsed()
        })
        .collect();
    times.sort();
    times[rounds / 2]
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn kit_test(transport: Transport) {
    runtime().block_on(async {
        let server = TestServer::builder()
            .add_service(Probe::new().server())
            .transport(transport)
            .start()
            .await;
        let mut client = server.client(ProbeClient::new);
        for _ in 0..3 {
            unary_call!(client);
        }
        server.shutdown().await;
    });
}

fn hand_test(transport: Transport) {
    runtime().block_on(async {
        let mut client = HandClient::start(transport).await;
        for _ in 0..3 {
            client.unary().await;
        }
        client.shutdown().await;
    });
}
