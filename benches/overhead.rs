//! The kit's cost against hand-written tonic, side by side, per transport.
//!
//! `cargo bench --bench overhead` measures, over Direct, Memory and TCP on a current-thread
//! runtime:
//!
//! - `cycle`: start a server, connect a client, make the first unary call, shut down;
//! - `unary`: one unary call on a warm client;
//! - `stream`: a server stream of 10,000 small messages, read to the end;
//!
//! each four ways: `hand` (plain tonic, benches/hand.rs; over Direct also `hand-mended`),
//! `kit` (a `TestServer` as a test gets it, with every call journaled), `bare` (journal off,
//! `journal_limit(0)`) and `faults` (journal off, a `Faults` handle attached whose one rule
//! matches no call; in `cycle` the handle and its rule are built in each cycle, as a test builds
//! them). The kit's `unary` and `stream` runs move to a fresh server (untimed) every 999 calls,
//! so the journal records every call measured and never grows past what one test's server
//! holds.
//!
//! It ends with its tables. The first has criterion's medians and their ratios kit/hand,
//! faults/bare and kit/bare (the journal's cost). Criterion measures one side after another, so
//! a drift in the machine's speed between them enters those ratios; the second table is
//! measured in pairs after criterion is done: 41 rounds in which every side runs a short batch
//! back to back, each ratio taken within a round, and the median of those. A filter works as
//! with any criterion bench, for both: `cargo bench --bench overhead -- unary`.

#[path = "hand.rs"]
mod hand;
#[path = "mode.rs"]
mod mode;
#[path = "report.rs"]
mod report;

use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, Criterion, measurement::WallTime};
use tokio::runtime::Runtime;
use tonic::Code;
use tonic_testkit::journal::DEFAULT_JOURNAL_LIMIT;
use tonic_testkit::{Faults, TestChannel, TestServer, Transport};
use tonic_testkit_support::{Probe, ProbeClient};

use hand::HandClient;
use report::{Case, Recorder, Side};

/// Messages in one streaming iteration.
const STREAM_LEN: u32 = 10_000;

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    let recorder = Recorder::default();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for transport in Transport::ALL {
        for case in [Case::Cycle, Case::Unary, Case::Stream] {
            measure(&mut criterion, &runtime, &recorder, case, transport);
        }
    }
    criterion.final_summary();
    // Only a measuring run is worth the paired phase's time.
    if mode::benchmarking() {
        for transport in Transport::ALL {
            for case in [Case::Cycle, Case::Unary, Case::Stream] {
                paired(&runtime, &recorder, case, transport);
            }
        }
    }
    recorder.print_table();
}

/// The hand-written set-ups measured over `transport`: over Direct also the one with the mends.
fn hand_sides(transport: Transport) -> Vec<Side> {
    match transport {
        Transport::Direct => vec![Side::Hand, Side::Mended],
        _ => vec![Side::Hand],
    }
}

/// A client of a fresh hand-written set-up for `side`.
async fn hand_client(transport: Transport, side: Side) -> HandClient {
    match side {
        Side::Mended => HandClient::mended(),
        _ => HandClient::start(transport).await,
    }
}

/// A kit server for a fresh probe, configured as `side` says.
async fn kit_server(transport: Transport, side: Side) -> TestServer {
    let builder = TestServer::builder().add_service(Probe::new().server()).transport(transport);
    match side {
        // As a test gets it: the journal keeps the first DEFAULT_JOURNAL_LIMIT calls, and the
        // benches restart the server before that many, so every call measured is recorded.
        Side::Kit => builder.start().await,
        Side::Bare => builder.journal_limit(0).start().await,
        Side::Faults => {
            let faults = Faults::with_seed(1);
            faults.on("/probe.Probe/Bidi").fail(Code::Unavailable, "never matches in benches");
            builder.journal_limit(0).faults(&faults).start().await
        }
        Side::Hand | Side::Mended => unreachable!("the hand-written sides have no kit server"),
    }
}

fn group<'a>(
    criterion: &'a mut Criterion,
    case: Case,
    transport: Transport,
) -> BenchmarkGroup<'a, WallTime> {
    let mut group = criterion.benchmark_group(format!("{case}-{transport}"));
    let measurement = match case {
        Case::Stream => Duration::from_secs(4),
        Case::Cycle | Case::Unary => Duration::from_secs(2),
    };
    group.sample_size(case.sample_size()).measurement_time(measurement);
    group.warm_up_time(Duration::from_millis(500));
    group
}

/// Measures `case` over `transport` with criterion, every side in turn.
fn measure(
    criterion: &mut Criterion,
    runtime: &Runtime,
    recorder: &Recorder,
    case: Case,
    transport: Transport,
) {
    let mut group = group(criterion, case, transport);
    for side in sides(transport) {
        let id = (case, transport, side);
        group.bench_function(side.name(), |b| {
            b.iter_custom(|iters| {
                let elapsed = runtime.block_on(timed(case, transport, side, iters));
                recorder.record(id, elapsed, iters)
            })
        });
    }
    group.finish();
}

/// Every side measured over `transport`: the hand-written ones, then the kit's.
fn sides(transport: Transport) -> Vec<Side> {
    hand_sides(transport).into_iter().chain(Side::KIT).collect()
}

/// The time `iters` iterations of `case` take for `side`. Set-up that is not part of the case
/// (a warm client's server and first call, a kit server replaced every
/// [`CALLS_PER_SERVER`] calls) is not timed.
async fn timed(case: Case, transport: Transport, side: Side, iters: u64) -> Duration {
    match (case, side) {
        (Case::Cycle, Side::Hand | Side::Mended) => {
            let started = Instant::now();
            for _ in 0..iters {
                let mut client = hand_client(transport, side).await;
                client.unary().await;
                client.shutdown().await;
            }
            started.elapsed()
        }
        (Case::Cycle, _) => {
            let started = Instant::now();
            for _ in 0..iters {
                let server = kit_server(transport, side).await;
                let mut client = server.client(ProbeClient::new);
                unary_call!(client);
                server.shutdown().await;
            }
            started.elapsed()
        }
        (_, Side::Hand | Side::Mended) => {
            let mut client = hand_client(transport, side).await;
            client.unary().await;
            let elapsed = hand_calls(&mut client, case, iters).await;
            client.shutdown().await;
            elapsed
        }
        _ => {
            let call = |mut client: ProbeClient<TestChannel>| async move {
                match case {
                    Case::Stream => stream_call!(client, STREAM_LEN),
                    Case::Unary | Case::Cycle => unary_call!(client),
                }
                client
            };
            on_kit_servers(transport, side, iters, call).await
        }
    }
}

/// The time `iters` calls of `case` take on a warm hand-written client.
async fn hand_calls(client: &mut HandClient, case: Case, iters: u64) -> Duration {
    let started = Instant::now();
    for _ in 0..iters {
        match case {
            Case::Stream => client.stream(STREAM_LEN).await,
            Case::Unary | Case::Cycle => client.unary().await,
        }
    }
    started.elapsed()
}

/// Rounds of the paired measurement.
const ROUNDS: usize = 41;

/// About how long each side runs in one paired round, in nanoseconds.
const BATCH_NANOS: f64 = 3e6;

/// The paired measurement of `case` over `transport`, after criterion's: [`ROUNDS`] rounds in
/// which every side runs one batch, back to back, starting with a different side each round.
/// A ratio of two sides is taken within each round, so a change in the machine's speed between
/// criterion's runs of one side and the next does not enter it. Only cases criterion measured
/// (its filter applies) are paired, with the sides it measured; the batch is sized from
/// criterion's medians.
fn paired(runtime: &Runtime, recorder: &Recorder, case: Case, transport: Transport) {
    let medians: Vec<(Side, f64)> = sides(transport)
        .into_iter()
        .filter_map(|side| Some((side, recorder.median(case, transport, side)?)))
        .collect();
    if medians.len() < 2 {
        return;
    }
    let slowest = medians.iter().map(|&(_, median)| median).fold(0.0, f64::max);
    let sides: Vec<Side> = medians.into_iter().map(|(side, _)| side).collect();
    let batch = ((BATCH_NANOS / slowest) as u64).clamp(1, CALLS_PER_SERVER);
    for round in 0..ROUNDS {
        for k in 0..sides.len() {
            let side = sides[(round + k) % sides.len()];
            let elapsed = runtime.block_on(timed(case, transport, side, batch));
            recorder.record_paired((case, transport, side), round, elapsed, batch);
        }
    }
}

/// How many calls one kit server takes in the `unary` and `stream` benches before it is replaced
/// (untimed) by a fresh one: fewer than the journal keeps, so with the journal on every call
/// measured is recorded, and the journal never grows past what a test's server holds.
const CALLS_PER_SERVER: u64 = DEFAULT_JOURNAL_LIMIT as u64 - 1;

/// The time `iters` runs of `call` take, on warm clients of fresh kit servers: each server takes
/// [`CALLS_PER_SERVER`] calls; starting it, the first call and its shutdown are not timed.
async fn on_kit_servers<F, Fut>(
    transport: Transport,
    side: Side,
    iters: u64,
    mut call: F,
) -> Duration
where
    F: FnMut(ProbeClient<TestChannel>) -> Fut,
    Fut: std::future::Future<Output = ProbeClient<TestChannel>>,
{
    let mut elapsed = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let calls = left.min(CALLS_PER_SERVER);
        let (server, mut client) = warm_kit(transport, side).await;
        let started = Instant::now();
        for _ in 0..calls {
            client = call(client).await;
        }
        elapsed += started.elapsed();
        drop(client);
        server.shutdown().await;
        left -= calls;
    }
    elapsed
}

/// A kit server and a client that has made its first call (so the connection is up).
async fn warm_kit(transport: Transport, side: Side) -> (TestServer, ProbeClient<TestChannel>) {
    let server = kit_server(transport, side).await;
    let mut client = server.client(ProbeClient::new);
    unary_call!(client);
    (server, client)
}
