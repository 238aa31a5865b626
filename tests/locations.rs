//! The kit's misuse panics point at the test: the location a panic reports (the
//! `file:line` in "panicked at", `PanicHookInfo::location()`) is the test's line that misused
//! the kit, never the kit's own source. Each test makes one misuse and pins the location; the
//! message is pinned whole by the test that owns the behaviour (named beside each check), so
//! here it is known by its start.
//!
//! Panic hooks are process-global: every capture here holds one lock and records only panics
//! of its own thread. The `TONIC_TESTKIT_TRANSPORT` cases run in a child process, so the
//! variable never changes under other tests. The `TONIC_TESTKIT_TRANSPORT` case runs in a child process, so the
//! variable never changes under other tests.

use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    sync::{Arc, Mutex, PoisonError},
    thread::ThreadId,
};

#[cfg(feature = "rstest")]
use tonic_testkit::fixtures::transport;
use tonic_testkit::{Reply, Stub, TestRequest, TestServer, Transport};
use tonic_testkit_support::{Probe, ProbeClient, ProbeReply, ProbeRequest};

/// Where a panic was raised, and its message.
#[derive(Debug, PartialEq, Eq)]
struct Caught {
    file: String,
    line: u32,
    message: String,
}

/// Serializes the tests that replace the panic hook.
static HOOK: Mutex<()> = Mutex::new(());

/// Runs `misuse`, which must panic, with a hook that records the first panic of this thread.
fn caught(misuse: impl FnOnce()) -> Caught {
    let _hook = HOOK.lock().unwrap_or_else(PoisonError::into_inner);
    let first: Arc<Mutex<Option<Caught>>> = Arc::default();
    let (slot, thread): (_, ThreadId) = (first.clone(), std::thread::current().id());
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if std::thread::current().id() != thread || slot.is_some() {
            return;
        }
        let location = info.location().expect("a panic of this thread has a location");
        let payload = info.payload();
        let message = match payload.downcast_ref::<String>() {
            Some(message) => message.clone(),
            None => payload.downcast_ref::<&str>().unwrap_or(&"(not a string)").to_string(),
        };
        *slot = Some(Caught { file: location.file().to_owned(), line: location.line(), message });
    }));
    let result = catch_unwind(AssertUnwindSafe(misuse));
    std::panic::set_hook(previous);
    assert!(result.is_err(), "the misuse did not panic");
    let caught = first.lock().unwrap_or_else(PoisonError::into_inner).take();
    caught.expect("the hook saw the panic")
}

/// Runs `$misuse` (which must panic) and returns where it panicked, with the line it is written
/// on: `line!()` and the misuse's own span are both this invocation's line.
macro_rules! panic_of {
    ($misuse:expr) => {
        (
            caught(|| {
                let _value = $misuse;
            }),
            line!(),
        )
    };
}

/// Asserts that the panic pointed at `line` of this file, with a message that starts with
/// `start`.
#[track_caller]
fn assert_points_at(caught: (Caught, u32), start: &str) {
    let (caught, line) = caught;
    let at = ("tests/locations.rs", line);
    assert_eq!((caught.file.as_str(), caught.line), at, "the panic pointed elsewhere: {caught:?}");
    assert!(caught.message.starts_with(start), "expected a message starting {start:?}: {caught:?}");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

async fn start(transport: Transport) -> TestServer {
    TestServer::builder().transport(transport).add_service(Probe::new().server()).start().await
}

#[test]
fn shutdown_called_twice_points_at_the_second_call() {
    let runtime = runtime();
    let _guard = runtime.enter();
    let server = runtime.block_on(start(Transport::Memory));
    runtime.block_on(server.shutdown());

    let panic = panic_of!(server.shutdown());

    // The message: tests/teardown.rs, shutdown_twice_panics.
    assert_points_at(panic, "TestServer::shutdown() was called twice");
}

#[test]
fn a_journal_index_out_of_range_points_at_the_read() {
    let runtime = runtime();
    let _guard = runtime.enter();
    let server = runtime.block_on(start(Transport::Direct));
    let mut client = server.client(ProbeClient::new);
    runtime.block_on(client.unary(ProbeRequest::default())).unwrap();
    // The message: tests/journal.rs, asking_for_a_request_message_that_did_not_arrive_...
    let no_message_5 = "tonic-testkit: /probe.Probe/Unary has 1 request messages, so there is \
                        no message 5";

    let decoded = panic_of!(server.calls()[0].request::<ProbeRequest>(5));
    let compressed = panic_of!(server.calls()[0].request_compressed(5));

    assert_points_at(decoded, no_message_5);
    assert_points_at(compressed, no_message_5);
}

#[test]
fn a_journal_message_of_another_type_points_at_the_read() {
    let runtime = runtime();
    let _guard = runtime.enter();
    let server = runtime.block_on(start(Transport::Direct));
    let mut client = server.client(ProbeClient::new);
    let hello = ProbeRequest { text: "hello".to_owned(), count: 0 };
    runtime.block_on(client.unary(hello)).unwrap();
    let not_a_timestamp = "tonic-testkit: request message 0 of /probe.Probe/Unary does not \
                           decode as prost_types::protobuf::Timestamp: failed to decode Protobuf \
                           message: Timestamp.seconds: invalid wire type: LengthDelimited \
                           (expected Varint); ask for the message type the method takes";

    let one = panic_of!(server.calls()[0].request::<prost_types::Timestamp>(0));
    let all = panic_of!(server.calls()[0].requests::<prost_types::Timestamp>());

    // The whole message is pinned here (tests/journal.rs pins its start, without prost's text).
    assert_eq!(one.0.message, not_a_timestamp);
    assert_points_at(one, not_a_timestamp);
    assert_points_at(all, not_a_timestamp);
}

#[test]
fn invalid_metadata_points_at_the_call_that_adds_it() {
    // The messages: tests/request.rs, an_invalid_key_is_rejected_at_once and
    // an_invalid_ascii_value_is_rejected_at_once.
    let bad_key = "invalid metadata key \"X Bad\":";

    let request_key = panic_of!(TestRequest::new(()).metadata("X Bad", "v"));
    let binary_key = panic_of!(TestRequest::new(()).metadata("X Bad-bin", [0_u8]));
    let value = panic_of!(TestRequest::new(()).metadata("x-note", "line\nbreak"));
    let header = panic_of!(Reply::message(ProbeReply::default()).header("X Bad", "v"));

    assert_points_at(request_key, bad_key);
    assert_points_at(binary_key, &bad_key.replace("X Bad", "X Bad-bin"));
    assert_points_at(value, "invalid value for metadata key \"x-note\":");
    assert_points_at(header, bad_key);
}

#[cfg(feature = "tls")]
#[test]
fn a_malformed_pem_points_at_channel_with_tls() {
    use tonic::transport::{Certificate, ClientTlsConfig};

    let runtime = runtime();
    let _guard = runtime.enter();
    let server = runtime.block_on(start(Transport::Memory));
    let garbled = Certificate::from_pem("-----BEGIN CERTIFICATE-----\nnot base64!\n");
    let config = ClientTlsConfig::new().ca_certificate(garbled);

    let panic = panic_of!(server.channel_with_tls(config));

    // The message: tests/tls.rs, a_malformed_pem_is_rejected_with_tonics_reason.
    assert_points_at(panic, "TestServer::channel_with_tls: tonic rejected the ClientTlsConfig");
}

#[cfg(feature = "tls")]
#[test]
fn tls_over_direct_points_at_start() {
    let runtime = runtime();
    let _guard = runtime.enter();
    let builder = TestServer::builder().add_service(Probe::new().server());
    let builder = builder.transport(Transport::Direct).tls();

    let panic = panic_of!(builder.start());

    // The message: tests/tls.rs, tls_over_direct_panics_at_start_with_the_fix.
    assert_points_at(panic, "tonic-testkit: TestServerBuilder::tls() asks for TLS");
}

#[test]
fn a_stub_rule_a_service_shadows_points_at_start() {
    let runtime = runtime();
    let _guard = runtime.enter();
    let stub = Stub::new();
    stub.on("/probe.Probe/Unary").reply(Reply::message(ProbeReply::default()));
    let builder = TestServer::builder().add_service(Probe::new().server()).add_stub(&stub);

    let panic = panic_of!(builder.transport(Transport::Memory).start());

    // The message: tests/stubs.rs, a_rule_shadowed_by_a_service_is_rejected_at_start.
    assert_points_at(panic, "Stub::on(\"/probe.Probe/Unary\"): the server also has the service");
}

#[test]
fn a_stub_given_to_a_second_server_points_at_its_start() {
    let runtime = runtime();
    let _guard = runtime.enter();
    let stub = Stub::new();
    let first = TestServer::builder().transport(Transport::Memory).add_stub(&stub).start();
    let _first = runtime.block_on(first);
    let second = TestServer::builder().transport(Transport::Memory).add_stub(&stub);

    let panic = panic_of!(second.start());

    // The message: tests/stubs.rs, a_stub_serves_one_server.
    assert_points_at(panic, "this Stub already answers another TestServer");
}

#[cfg(feature = "health")]
#[test]
fn a_health_service_added_twice_points_at_start() {
    let runtime = runtime();
    let _guard = runtime.enter();
    let (_reporter, own) = tonic_health::server::health_reporter();
    let builder = TestServer::builder().add_service(Probe::new().server()).add_service(own);

    let panic = panic_of!(builder.health().transport(Transport::Memory).start());

    // The message: tests/health.rs, a_health_service_added_twice_panics_at_start.
    assert_points_at(panic, "the service grpc.health.v1.Health was added to this TestServer");
}

#[cfg(feature = "reflection")]
#[test]
fn a_reflection_service_added_twice_points_at_start() {
    use tonic_testkit_examples::users::pb::user_service_server::UserServiceServer;
    use tonic_testkit_examples::{FILE_DESCRIPTOR_SET, users::Users};

    let runtime = runtime();
    let _guard = runtime.enter();
    let own = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .build_v1()
        .unwrap();
    let builder = TestServer::builder()
        .add_service(UserServiceServer::new(Users::default()))
        .add_service(own)
        .reflection(FILE_DESCRIPTOR_SET);

    let panic = panic_of!(builder.transport(Transport::Memory).start());

    // The message: tests/reflection.rs, reflection_added_twice_panics_at_start.
    assert_points_at(panic, "the service grpc.reflection.v1.ServerReflection was added");
}

#[cfg(feature = "reflection")]
#[test]
fn a_served_service_no_descriptor_set_describes_points_at_start() {
    let runtime = runtime();
    let _guard = runtime.enter();
    let builder = TestServer::builder()
        .add_service(Probe::new().server())
        .reflection(tonic_testkit_examples::FILE_DESCRIPTOR_SET);

    let panic = panic_of!(builder.transport(Transport::Memory).start());

    // The message: tests/reflection.rs, a_served_service_that_no_set_describes_panics_at_start.
    assert_points_at(panic, "TestServerBuilder::reflection: the server serves probe.Probe, but");
}

/// Starts a server on the default transport; run by
/// `a_bad_transport_variable_points_at_start` in a child process, with the variable set.
#[test]
#[ignore = "run in a child process, with TONIC_TESTKIT_TRANSPORT set"]
fn child_starts_a_server_on_the_default_transport() {
    let runtime = runtime();
    let _guard = runtime.enter();
    let builder = TestServer::builder().add_service(Probe::new().server());

    let panic = panic_of!(builder.start());

    assert_points_at(panic, QUIC);
}

#[test]
fn a_bad_transport_variable_points_at_start() {
    let output = child("child_starts_a_server_on_the_default_transport");

    assert!(output.status.success(), "{output:?}");
}

/// The start of the panic of `TONIC_TESTKIT_TRANSPORT=quic` (tests/environment.rs pins it whole).
const QUIC: &str = "TONIC_TESTKIT_TRANSPORT=\"quic\" is not a transport";

/// Runs the ignored test `name` of this binary in a child process with
/// `TONIC_TESTKIT_TRANSPORT=quic`.
fn child(name: &str) -> std::process::Output {
    std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", name, "--nocapture", "--test-threads=1"])
        .env(tonic_testkit::server::TRANSPORT_ENV, "quic")
        .output()
        .unwrap()
}

/// The rstest test whose `transport` fixture reads the variable; run by
/// `a_bad_transport_variable_points_at_the_test_taking_the_fixture` in a child process.
#[cfg(feature = "rstest")]
#[rstest::rstest]
#[ignore = "run in a child process, with TONIC_TESTKIT_TRANSPORT set"]
fn child_takes_the_transport_fixture(transport: Transport) {
    println!("transport={transport}");
}

/// The line of the `#[rstest]` attribute of the test `name` in this file.
#[cfg(feature = "rstest")]
fn rstest_line(name: &str) -> usize {
    let lines: Vec<&str> = include_str!("locations.rs").lines().collect();
    let test = lines.iter().position(|line| line.starts_with(&format!("fn {name}("))).unwrap();
    lines[..test].iter().rposition(|line| line.starts_with("#[rstest::rstest]")).unwrap() + 1
}

#[cfg(feature = "rstest")]
#[test]
fn a_bad_transport_variable_points_at_the_test_taking_the_fixture() {
    let name = "child_takes_the_transport_fixture";

    let output = child(name);

    // rstest calls the fixture in the code `#[rstest]` generates for the test: the location is
    // the line of the test's `#[rstest]` attribute.
    let stderr = String::from_utf8_lossy(&output.stderr);
    let (_, panicked) = stderr.split_once(" panicked at ").expect("the child panicked");
    let (location, message) = panicked.split_once(":\n").unwrap();
    assert!(!output.status.success());
    let line = rstest_line(name);
    assert!(location.starts_with(&format!("tests/locations.rs:{line}:")), "{stderr}");
    assert!(message.starts_with(QUIC), "{stderr}");
}
