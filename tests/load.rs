//! Load and leaks: a thousand servers at once in one process, and ten thousand start, call and
//! shutdown cycles with no open file descriptor and no tokio task left behind, per transport.
//!
//! The tests of this file count the process's file descriptors, so they take turns (a lock)
//! and live in a binary of their own: tests of other files run in other processes.
//! `TONIC_TESTKIT_SKIP_SLOW=1` skips the thousand servers and the ten thousand cycles
//! (tests/common's `skip_slow`).

use std::sync::{Mutex, MutexGuard, PoisonError};

use common::every_transport;
use rstest::rstest;
use rstest_reuse::apply;
use tonic_testkit::{TestServer, Transport};
mod common;

use common::{probe, start};

/// Held by each test of this file, so no other test opens descriptors while one counts them.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner)
}

const SERVERS: usize = 1_000;
const CYCLES: usize = 10_000;

#[apply(every_transport)]
fn a_thousand_servers_start_answer_and_shut_down_at_once(transport: Transport) {
    if common::skip_slow() {
        return;
    }
    let _turn = one_at_a_time();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let started = std::time::Instant::now();

    let results = runtime.block_on(async {
        let mut servers = tokio::task::JoinSet::new();
        for i in 0..SERVERS {
            servers.spawn(async move {
                let (server, mut client) = start(transport).await;
                let reply = client.unary(probe(&format!("server {i}"), 0)).await;
                server.shutdown().await;
                reply.map(|reply| reply.into_inner().text)
            });
        }
        servers.join_all().await
    });

    println!("{transport}: {SERVERS} servers at once in {:?}", started.elapsed());
    let failures: Vec<_> = results.iter().filter_map(|result| result.as_ref().err()).collect();
    assert!(
        failures.is_empty(),
        "{transport}: {} of {SERVERS} failed: {failures:?}",
        failures.len()
    );
    let mut texts: Vec<String> = results.into_iter().map(Result::unwrap).collect();
    texts.sort();
    texts.dedup();
    assert_eq!(texts.len(), SERVERS, "{transport}: each server answered its own call");
}

/// What one cycle may leave behind: open file descriptors and live tokio tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Footprint {
    descriptors: usize,
    tasks: usize,
}

impl Footprint {
    fn now() -> Self {
        let descriptors = std::fs::read_dir("/proc/self/fd").expect("Linux's /proc").count();
        let tasks = tokio::runtime::Handle::current().metrics().num_alive_tasks();
        Self { descriptors, tasks }
    }
}

/// Yields to the runtime until the last cycle's tasks have run to their end: until the
/// footprint stays the same over 20 yields in a row (each lets the I/O driver run).
async fn settled() -> Footprint {
    let mut footprint = Footprint::now();
    let mut same = 0;
    while same < 20 {
        tokio::task::yield_now().await;
        let now = Footprint::now();
        same = if now == footprint { same + 1 } else { 0 };
        footprint = now;
    }
    footprint
}

async fn cycle(transport: Transport, i: usize) {
    let (server, mut client) = start(transport).await;
    let reply = client.unary(probe("cycle", 0)).await;
    assert_eq!(reply.expect("a reply").into_inner().text, "cycle", "{transport}: cycle {i}");
    drop(client);
    server.shutdown().await;
}

#[apply(every_transport)]
fn ten_thousand_cycles_leave_no_descriptor_and_no_task_behind(transport: Transport) {
    if common::skip_slow() {
        return;
    }
    let _turn = one_at_a_time();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let started = std::time::Instant::now();

    let (after_first_thousand, at_the_end) = runtime.block_on(async {
        for i in 0..1_000 {
            cycle(transport, i).await;
        }
        let after_first_thousand = settled().await;
        for i in 1_000..CYCLES {
            cycle(transport, i).await;
        }
        (after_first_thousand, settled().await)
    });

    println!(
        "{transport}: {CYCLES} cycles in {:?}; after 1,000: {after_first_thousand:?}; after \
         {CYCLES}: {at_the_end:?}",
        started.elapsed()
    );
    assert_eq!(at_the_end, after_first_thousand, "{transport}: cycles 1,001 to {CYCLES} leaked");
    assert_eq!(at_the_end.tasks, 0, "{transport}: tasks outlived their server");
}

#[test]
fn a_server_left_running_is_seen_by_the_footprint() {
    let _turn = one_at_a_time();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();

    runtime.block_on(async {
        let before = settled().await;
        let server = TestServer::builder()
            .transport(Transport::Tcp)
            .add_service(tonic_testkit_support::Probe::new().server())
            .start()
            .await;
        let running = settled().await;
        server.shutdown().await;
        let after = settled().await;

        // The counting can fail: a listening server holds a descriptor and a task.
        assert_eq!(running.descriptors, before.descriptors + 1);
        assert!(running.tasks > before.tasks, "{running:?} against {before:?}");
        assert_eq!(after, before);
    });
}
