//! One benchmark case run a fixed number of times with no harness around it, for a profiler:
//!
//! ```text
//! cargo bench --bench profile --no-run   # prints the binary's path
//! valgrind --tool=callgrind <binary> unary direct kit 10000
//! ```
//!
//! Arguments: case (`cycle`, `unary`, `stream`), transport (`direct`, `memory`, `tcp`), side
//! (`hand`, `mended` (direct only), `kit`, `bare`, `faults`) and how many iterations (default 10,000; streams carry 100
//! messages each here). Instruction counts from callgrind repeat exactly run to run, so two
//! sides can be compared on a busy machine.

#[path = "hand.rs"]
mod hand;

use tonic::Code;
use tonic_testkit::journal::DEFAULT_JOURNAL_LIMIT;
use tonic_testkit::{Faults, TestServer, Transport};
use tonic_testkit_support::{Probe, ProbeClient};

use hand::HandClient;

const STREAM_LEN: u32 = 100;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    if args.len() < 3 {
        // Also how `cargo test --benches` runs it: nothing to profile.
        eprintln!(
            "usage: profile CASE TRANSPORT SIDE [ITERATIONS] (see the top of benches/profile.rs)"
        );
        return;
    }
    let [case, transport, side] = [0, 1, 2].map(|i| args.get(i).cloned().unwrap_or_default());
    let transport: Transport = transport.parse().unwrap_or_else(|err| panic!("{err}"));
    let iterations: usize = args.get(3).map_or(10_000, |n| n.parse().expect("a count"));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        match (case.as_str(), side.as_str()) {
            ("cycle", "hand") => {
                for _ in 0..iterations {
                    let mut client = HandClient::start(transport).await;
                    client.unary().await;
                    client.shutdown().await;
                }
            }
            ("cycle", "mended") => {
                for _ in 0..iterations {
                    let mut client = HandClient::mended();
                    client.unary().await;
                    client.shutdown().await;
                }
            }
            ("cycle", side) => {
                for _ in 0..iterations {
                    let server = kit_server(transport, side).await;
                    let mut client = server.client(ProbeClient::new);
                    unary_call!(client);
                    server.shutdown().await;
                }
            }
            (case, side @ ("hand" | "mended")) => {
                let mut client = match side {
                    "mended" => HandClient::mended(),
                    _ => HandClient::start(transport).await,
                };
                for _ in 0..iterations {
                    match case {
                        "unary" => client.unary().await,
                        _ => client.stream(STREAM_LEN).await,
                    }
                }
                client.shutdown().await;
            }
            (case, side) => {
                // A fresh server every 999 calls, as in benches/overhead.rs: the journal records
                // every call and holds no more than a test's server does.
                for calls in (0..iterations).collect::<Vec<_>>().chunks(DEFAULT_JOURNAL_LIMIT - 1) {
                    let server = kit_server(transport, side).await;
                    let mut client = server.client(ProbeClient::new);
                    for _ in calls {
                        match case {
                            "unary" => unary_call!(client),
                            _ => stream_call!(client, STREAM_LEN),
                        }
                    }
                    drop(client);
                    server.shutdown().await;
                }
            }
        }
    });
}

async fn kit_server(transport: Transport, side: &str) -> TestServer {
    let builder = TestServer::builder().add_service(Probe::new().server()).transport(transport);
    match side {
        "kit" => builder.start().await,
        "bare" => builder.journal_limit(0).start().await,
        "faults" => {
            let faults = Faults::with_seed(1);
            faults.on("/probe.Probe/Bidi").fail(Code::Unavailable, "never matches in benches");
            builder.journal_limit(0).faults(&faults).start().await
        }
        other => panic!("unknown side {other:?}: use hand, mended (direct), kit, bare or faults"),
    }
}
