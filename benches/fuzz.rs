//! How many fuzz cases a second each transport runs against the example services, beside a
//! hand-written loop over proptest's strategies that sends the same requests (same strategies,
//! same seeds) through the generated clients. Median of 5 rounds, the two loops alternating.
//!
//! `cargo bench --bench fuzz` (optionally `-- memory` to run one transport).

#[path = "mode.rs"]
mod mode;

use std::{
    future::Future,
    time::{Duration, Instant},
};

use proptest::{
    prelude::Rng,
    strategy::{Strategy, ValueTree},
    test_runner::{Config, RngAlgorithm, RngSeed, TestRng, TestRunner},
};
use tokio::runtime::Runtime;
use tonic_testkit::{TestServer, Transport, fuzz};
use tonic_testkit_examples::{
    FILE_DESCRIPTOR_SET,
    hello::{
        Greeter,
        pb::{
            HelloRequest, hello_service_client::HelloServiceClient,
            hello_service_server::HelloServiceServer,
        },
    },
    orders::{
        Orders,
        pb::{RegisterOrderRequest, orders_client::OrdersClient, orders_server::OrdersServer},
    },
    rides::{
        Rides,
        pb::{QuoteRequest, StartRequest, rides_client::RidesClient, rides_server::RidesServer},
    },
    users::{
        Users,
        pb::{
            GetUserRequest, user_service_client::UserServiceClient,
            user_service_server::UserServiceServer,
        },
    },
};

const CASES: u32 = 2_000;
const ROUNDS: usize = 5;

fn main() {
    // `cargo test --benches` checks that the bench runs: a few cases, once.
    let (cases, rounds) = if mode::benchmarking() { (CASES, ROUNDS) } else { (10, 1) };
    let filter: Vec<String> =
        std::env::args().skip(1).filter(|arg| !arg.starts_with("--")).collect();
    println!("{cases} cases a method, median of {rounds} rounds\n");
    println!("| transport | method | kit cases/s | hand-written cases/s | kit time / hand time |");
    println!("|---|---|---:|---:|---:|");
    for transport in Transport::ALL {
        let name = transport.to_string();
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        // The clients connect from this runtime, as a test's would.
        let _entered = runtime.enter();
        let server = runtime.block_on(
            TestServer::builder()
                .transport(transport)
                .add_service(HelloServiceServer::new(Greeter))
                .add_service(UserServiceServer::new(Users::default()))
                .add_service(OrdersServer::new(Orders::default()))
                .add_service(RidesServer::new(Rides::default()))
                .journal_limit(0)
                .start(),
        );
        let compare = |method: &str, hand: &dyn Fn(u32, u64)| {
            let seed = fnv1a(method);
            let (kit, hand) =
                median(rounds, || kit(&runtime, &server, method, cases), || hand(cases, seed));
            let per_second = |time: Duration| f64::from(cases) / time.as_secs_f64();
            println!(
                "| {transport} | {method} | {:.0} | {:.0} | {:.3} |",
                per_second(kit),
                per_second(hand),
                kit.as_secs_f64() / hand.as_secs_f64()
            );
        };
        let hello = server.client(HelloServiceClient::new);
        compare("/hello.HelloService/Hello", &|cases, seed| {
            hand(
                &runtime,
                cases,
                seed,
                fuzz::message::<HelloRequest>(FILE_DESCRIPTOR_SET),
                |request| {
                    let mut client = hello.clone();
                    async move { drop(client.hello(request).await) }
                },
            )
        });
        let users = server.client(UserServiceClient::new);
        compare("/users.UserService/GetUser", &|cases, seed| {
            hand(
                &runtime,
                cases,
                seed,
                fuzz::message::<GetUserRequest>(FILE_DESCRIPTOR_SET),
                |request| {
                    let mut client = users.clone();
                    async move { drop(client.get_user(request).await) }
                },
            )
        });
        let orders = server.client(OrdersClient::new);
        compare("/orders.Orders/RegisterOrder", &|cases, seed| {
            hand(
                &runtime,
                cases,
                seed,
                fuzz::message::<RegisterOrderRequest>(FILE_DESCRIPTOR_SET),
                |request| {
                    let mut client = orders.clone();
                    async move { drop(client.register_order(request).await) }
                },
            )
        });
        let rides = server.client(RidesClient::new);
        compare("/rides.Rides/Start", &|cases, seed| {
            hand(
                &runtime,
                cases,
                seed,
                fuzz::message::<StartRequest>(FILE_DESCRIPTOR_SET),
                |request| {
                    let mut client = rides.clone();
                    async move { drop(client.start(request).await) }
                },
            )
        });
        compare("/rides.Rides/Quote", &|cases, seed| {
            hand(
                &runtime,
                cases,
                seed,
                fuzz::message::<QuoteRequest>(FILE_DESCRIPTOR_SET),
                |request| {
                    let mut client = rides.clone();
                    async move { drop(client.quote(request).await) }
                },
            )
        });
        // The streaming methods, which the hand-written loop does not cover: the kit alone.
        for method in [
            "/orders.Orders/UpdateOrder",
            "/orders.Orders/WatchOrder",
            "/orders.Orders/Chat",
            "/rides.Rides/Track",
        ] {
            let (kit, _) = median(rounds, || kit(&runtime, &server, method, cases), || ());
            println!(
                "| {transport} | {method} | {:.0} | | |",
                f64::from(cases) / kit.as_secs_f64()
            );
        }
        runtime.block_on(server.shutdown());
    }
}

/// The kit's loop: one fuzz statement for `method`.
fn kit(runtime: &Runtime, server: &TestServer, method: &str, cases: u32) {
    let fuzz =
        server.fuzz(FILE_DESCRIPTOR_SET).methods([method]).cases(cases).failure_persistence(None);
    runtime.block_on(fuzz.run());
}

/// The hand-written loop: the same strategy, each case from a seed drawn as the kit draws it,
/// so the requests are the same; each sent through a generated client.
fn hand<T, F>(
    runtime: &Runtime,
    cases: u32,
    seed: u64,
    strategy: impl Strategy<Value = T>,
    send: impl Fn(T) -> F,
) where
    F: Future<Output = ()>,
{
    let config = Config { failure_persistence: None, ..Config::default() };
    let mut seeds = TestRunner::new(Config { rng_seed: RngSeed::Fixed(seed), ..config.clone() });
    for _ in 0..cases {
        let mut case_seed = [0u8; 32];
        seeds.rng().fill_bytes(&mut case_seed);
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &case_seed);
        let request = strategy
            .new_tree(&mut TestRunner::new_with_rng(config.clone(), rng))
            .unwrap()
            .current();
        runtime.block_on(send(request));
    }
}

/// The medians over `rounds` of the times `kit` and `hand` take, run alternately.
fn median(rounds: usize, kit: impl Fn(), hand: impl Fn()) -> (Duration, Duration) {
    let time = |routine: &dyn Fn()| {
        let started = Instant::now();
        routine();
        started.elapsed()
    };
    let (mut kits, mut hands): (Vec<Duration>, Vec<Duration>) =
        (0..rounds).map(|_| (time(&kit), time(&hand))).unzip();
    kits.sort();
    hands.sort();
    (kits[rounds / 2], hands[rounds / 2])
}

/// The seed the kit draws a method's cases from (the default seed, 0, mixed with the path), so
/// the hand-written loop sends the same requests.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
