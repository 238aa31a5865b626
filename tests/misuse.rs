//! Misuse of a test server: each gets a clear panic or status, never a hang.
//!
//! The catalogue, with the tests that pin each message in full:
//!
//! | misuse | answer | test |
//! |--------|--------|------|
//! | starting a server with no services | panic | `teardown.rs`: `starting_without_services_panics` |
//! | the same service added twice | panic | `teardown.rs`: `adding_a_service_twice_panics` |
//! | a call through a channel after shutdown, every transport | `UNAVAILABLE` "…was shut down…" | `teardown.rs`: `calls_after_shutdown_are_unavailable_and_say_why` |
//! | a call through a channel after the server was dropped | the same | `teardown.rs`: `dropping_the_server_shuts_it_down` |
//! | `shutdown()` called twice | panic: the first call shut it down | `teardown.rs`: `shutdown_twice_panics` |
//! | connection toxics on a direct server | panic at start | `faults.rs`: `toxics_on_a_direct_server_panic_at_start` |
//! | an HTTP/2 connection setting on a direct server | panic at start, naming it | `settings.rs`: `an_http2_connection_setting_panics_at_start_over_direct` |
//! | `add_routes` called twice | panic: merge them into one `Routes` | `routes.rs`: `adding_routes_twice_panics_saying_to_merge_them` |
//! | `take_down`, `connections()` with a direct server | panic | `faults.rs`: `take_down_with_a_direct_server_attached_panics`, `connections_with_a_direct_server_attached_panics` |
//! | a rule that drops the connection of a direct call | panic in the test | `faults.rs`: `drop_connection_over_direct_panics_saying_why` |
//! | a method path without its `/package.Service/` | panic | `journal.rs`: `calls_to_rejects_a_method_without_its_full_path`; `stubs.rs`, `faults.rs` |
//! | `client()` after shutdown | `UNAVAILABLE` "…was shut down…" | here |
//! | `verify()` after shutdown | harmless: nothing is reported twice | here |
//! | `drop_connections()` over direct | harmless: 0 connections | here |
//! | a server used after its runtime has shut down | `UNAVAILABLE` "…runtime…has shut down…" | here |
//! | a server dropped in async code with calls in progress | returns at once; the calls end | here |
//!
//! Where a misuse panics, the panic points at the test's line that misused the kit, not at the
//! kit's source: `locations.rs` pins the location and message of each.

use std::time::Duration;

use common::{BODY_BROKEN, every_transport};
use rstest::rstest;
use rstest_reuse::apply;
use tonic::Code;
use tonic_testkit::{Reply, Stub, TestServer, Transport};
mod common;

use common::probe;
use tonic_testkit_support::{Probe, ProbeClient, ProbeReply};

const SHUT_DOWN: &str = "tonic-testkit: the test server was shut down, so this call cannot \
reach it; make calls before `shutdown()` (or before the server is dropped), or start a new \
TestServer";

const RUNTIME_GONE: &str = "tonic-testkit: the tokio runtime this test server was started on \
has shut down, and the server's tasks ended with it, so this call cannot reach it; start a \
TestServer in each test that uses one (every #[tokio::test] has its own runtime), not once for \
several tests";

async fn start(transport: Transport, probe: &Probe) -> TestServer {
    TestServer::builder().transport(transport).add_service(probe.server()).start().await
}

#[apply(every_transport)]
#[tokio::test]
async fn a_client_made_after_shutdown_is_unavailable_at_its_first_call(transport: Transport) {
    let server = start(transport, &Probe::new()).await;
    server.shutdown().await;

    let mut client = server.client(ProbeClient::new);
    let status = client.unary(probe("late", 0)).await.unwrap_err();

    assert_eq!((status.code(), status.message()), (Code::Unavailable, SHUT_DOWN), "{transport}");
}

#[apply(every_transport)]
#[tokio::test]
async fn verify_after_shutdown_reports_nothing_twice_and_ignores_refused_calls(
    transport: Transport,
) {
    let stub = Stub::new();
    stub.on("/probe.Probe/Unary").times(1).reply(Reply::message(ProbeReply::default()));
    let server = TestServer::builder().transport(transport).add_stub(&stub).start().await;
    let mut client = server.client(ProbeClient::new);
    client.unary(probe("once", 0)).await.unwrap();
    server.shutdown().await;
    let refused = client.unary(probe("late", 0)).await.unwrap_err();

    server.verify().await;

    assert_eq!(refused.code(), Code::Unavailable, "{transport}");
    assert_eq!(server.calls().len(), 1, "{transport}: a refused call reached the journal");
}

#[tokio::test]
async fn drop_connections_over_direct_finds_none_and_the_server_goes_on() {
    let server = start(Transport::Direct, &Probe::new()).await;
    let mut client = server.client(ProbeClient::new);
    client.unary(probe("before", 0)).await.unwrap();

    let dropped = server.drop_connections();

    assert_eq!(dropped, 0);
    assert_eq!(client.unary(probe("after", 0)).await.unwrap().into_inner().text, "after");
    server.shutdown().await;
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// A server and a client that made one call, started on a runtime that is gone on return, as a
/// server kept in a `static` outlives the `#[tokio::test]` that started it.
fn server_of_a_runtime_that_is_gone(
    transport: Transport,
) -> (TestServer, ProbeClient<tonic_testkit::TestChannel>) {
    let first = runtime();
    let (server, client) = first.block_on(async {
        let server = start(transport, &Probe::new()).await;
        let mut client = server.client(ProbeClient::new);
        client.unary(probe("while the runtime runs", 0)).await.unwrap();
        (server, client)
    });
    drop(first);
    (server, client)
}

#[apply(every_transport)]
fn a_server_used_after_its_runtime_has_shut_down_answers_unavailable_saying_so(
    transport: Transport,
) {
    let (server, mut old_client) = server_of_a_runtime_that_is_gone(transport);

    runtime().block_on(async {
        let mut new_client = server.client(ProbeClient::new);
        let old = old_client.unary(probe("old client", 0)).await.unwrap_err();
        let new = new_client.unary(probe("new client", 0)).await.unwrap_err();
        server.shutdown().await;
        let after = new_client.unary(probe("after shutdown", 0)).await.unwrap_err();

        for status in [old, new] {
            assert_eq!(
                (status.code(), status.message()),
                (Code::Unavailable, RUNTIME_GONE),
                "{transport}"
            );
        }
        assert_eq!((after.code(), after.message()), (Code::Unavailable, SHUT_DOWN), "{transport}");
        assert_eq!(server.calls().len(), 1, "{transport}");
    });
}

#[apply(every_transport)]
fn a_server_whose_runtime_is_gone_can_be_dropped_anywhere(transport: Transport) {
    let (server, client) = server_of_a_runtime_that_is_gone(transport);

    drop(server);
    drop(client);
}

#[apply(every_transport)]
#[tokio::test]
async fn dropping_a_server_with_calls_in_progress_returns_at_once_and_ends_them(
    transport: Transport,
) {
    let service = Probe::new();
    let server = start(transport, &service).await;
    let mut client = server.client(ProbeClient::new);
    let mut stream_client = client.clone();
    let stuck = tokio::spawn(async move { client.unary(probe("hang", 0)).await });
    let endless = tokio::spawn(async move {
        let mut replies = stream_client.server_stream(probe("endless", 1)).await?.into_inner();
        replies.message().await?;
        replies.message().await
    });
    service.hangs_started(2).await;

    drop(server);

    // As when a real server dies: before the response, or while the client reads its stream.
    let stuck = stuck.await.unwrap().unwrap_err();
    assert_eq!((stuck.code(), stuck.message()), (Code::Unknown, "transport error"), "{transport}");
    let endless = endless.await.unwrap().unwrap_err();
    assert_eq!((endless.code(), endless.message()), (Code::Unknown, BODY_BROKEN), "{transport}");
    assert_eq!(service.dropped_hangs(), 2, "{transport}");
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn a_shutdown_cut_short_by_the_test_leaves_the_drop_to_finish_it(transport: Transport) {
    let service = Probe::new();
    let server = start(transport, &service).await;
    let mut client = server.client(ProbeClient::new);
    let stuck = tokio::spawn(async move { client.unary(probe("hang", 0)).await });
    service.hangs_started(1).await;

    let cut = tokio::time::timeout(Duration::from_millis(10), server.shutdown()).await;
    drop(server);

    assert!(cut.is_err(), "{transport}: shutdown() waits out its grace period for the stuck call");
    let status = stuck.await.unwrap().unwrap_err();
    assert_eq!(
        (status.code(), status.message()),
        (Code::Unknown, "transport error"),
        "{transport}"
    );
    assert_eq!(service.dropped_hangs(), 1, "{transport}");
}
