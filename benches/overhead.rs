//! The kit's cost against hand-written tonic, side by side, per transport.
//!
//! `cargo bench --bench overhead` measures, over Direct, Memory and TCP on a current-thread
//! runtime:
//!
//! - `cycle`: start a server, connect a client, make the first unary call, shut down;
//! - `unary`: one unary call on a warm client;
//! - `stream`: a server stream of 10,000 small messages, read to the end;
//!
//! each four ways: `hand` (plain tonic, benches/hand.rs), `kit` (a `TestServer` as a test gets
//! it, with every call journaled), `bare` (journal off, `journal_limit(0)`) and `faults` (journal off, a `Faults`
//! handle attached whose one rule matches no call). It ends with one table of medians and the
//! ratios kit/hand, faults/bare and kit/bare (the journal's cost). A filter works as with any
//! criterion bench: `cargo bench --bench overhead -- unary`.

#[path = "hand.rs"]
mod hand;
#[path = "report.rs"]
mod report;

use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, Criterion, measurement::WallTime};
use tokio::runtime::Runtime;
use tonic::Code;
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
        cycle(&mut criterion, &runtime, &recorder, transport);
        unary(&mut criterion, &runtime, &recorder, transport);
        stream(&mut criterion, &runtime, &recorder, transport);
    }
    criterion.final_summary();
    recorder.print_table();
}

/// A kit server for a fresh probe, configured as `side` says.
async fn kit_server(transport: Transport, side: Side) -> TestServer {
    let builder = TestServer::builder().add_service(Probe::new().server()).transport(transport);
    match side {
        // Every call is recorded (the default keeps 1,000 and then only counts), so the journal's
        // full cost is in every iteration.
        Side::Kit => builder.journal_limit(usize::MAX).start().await,
        Side::Bare => builder.journal_limit(0).start().await,
        Side::Faults => {
            let faults = Faults::with_seed(1);
            faults.on("/probe.Probe/Bidi").fail(Code::Unavailable, "never matches in benches");
            builder.journal_limit(0).faults(&faults).start().await
        }
        Side::Hand => unreachable!("the hand-written side has no kit server"),
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

fn cycle(criterion: &mut Criterion, runtime: &Runtime, recorder: &Recorder, transport: Transport) {
    let mut group = group(criterion, Case::Cycle, transport);
    let id = (Case::Cycle, transport, Side::Hand);
    group.bench_function(Side::Hand.name(), |b| {
        b.iter_custom(|iters| {
            let elapsed = runtime.block_on(async {
                let started = Instant::now();
                for _ in 0..iters {
                    let mut client = HandClient::start(transport).await;
                    client.unary().await;
                    client.shutdown().await;
                }
                started.elapsed()
            });
            recorder.record(id, elapsed, iters)
        })
    });
    for side in Side::KIT {
        let id = (Case::Cycle, transport, side);
        group.bench_function(side.name(), |b| {
            b.iter_custom(|iters| {
                let elapsed = runtime.block_on(async {
                    let started = Instant::now();
                    for _ in 0..iters {
                        let server = kit_server(transport, side).await;
                        let mut client = server.client(ProbeClient::new);
                        unary_call!(client);
                        server.shutdown().await;
                    }
                    started.elapsed()
                });
                recorder.record(id, elapsed, iters)
            })
        });
    }
    group.finish();
}

fn unary(criterion: &mut Criterion, runtime: &Runtime, recorder: &Recorder, transport: Transport) {
    let mut group = group(criterion, Case::Unary, transport);
    let mut client = runtime.block_on(HandClient::start(transport));
    runtime.block_on(client.unary());
    let id = (Case::Unary, transport, Side::Hand);
    group.bench_function(Side::Hand.name(), |b| {
        b.iter_custom(|iters| {
            let elapsed = runtime.block_on(async {
                let started = Instant::now();
                for _ in 0..iters {
                    client.unary().await;
                }
                started.elapsed()
            });
            recorder.record(id, elapsed, iters)
        })
    });
    runtime.block_on(client.shutdown());
    for side in Side::KIT {
        let (server, mut client) = runtime.block_on(warm_kit(transport, side));
        let id = (Case::Unary, transport, side);
        group.bench_function(side.name(), |b| {
            b.iter_custom(|iters| {
                let elapsed = runtime.block_on(async {
                    let started = Instant::now();
                    for _ in 0..iters {
                        unary_call!(client);
                    }
                    started.elapsed()
                });
                recorder.record(id, elapsed, iters)
            })
        });
        drop(client);
        runtime.block_on(server.shutdown());
    }
    group.finish();
}

fn stream(criterion: &mut Criterion, runtime: &Runtime, recorder: &Recorder, transport: Transport) {
    let mut group = group(criterion, Case::Stream, transport);
    let mut client = runtime.block_on(HandClient::start(transport));
    runtime.block_on(client.unary());
    let id = (Case::Stream, transport, Side::Hand);
    group.bench_function(Side::Hand.name(), |b| {
        b.iter_custom(|iters| {
            let elapsed = runtime.block_on(async {
                let started = Instant::now();
                for _ in 0..iters {
                    client.stream(STREAM_LEN).await;
                }
                started.elapsed()
            });
            recorder.record(id, elapsed, iters)
        })
    });
    runtime.block_on(client.shutdown());
    for side in Side::KIT {
        let (server, mut client) = runtime.block_on(warm_kit(transport, side));
        let id = (Case::Stream, transport, side);
        group.bench_function(side.name(), |b| {
            b.iter_custom(|iters| {
                let elapsed = runtime.block_on(async {
                    let started = Instant::now();
                    for _ in 0..iters {
                        stream_call!(client, STREAM_LEN);
                    }
                    started.elapsed()
                });
                recorder.record(id, elapsed, iters)
            })
        });
        drop(client);
        runtime.block_on(server.shutdown());
    }
    group.finish();
}

/// A kit server and a client that has made its first call (so the connection is up).
async fn warm_kit(transport: Transport, side: Side) -> (TestServer, ProbeClient<TestChannel>) {
    let server = kit_server(transport, side).await;
    let mut client = server.client(ProbeClient::new);
    unary_call!(client);
    (server, client)
}
