//! `TONIC_TESTKIT_TRANSPORT` chooses the default transport for a run. Each case runs this test
//! binary again as a child process with the variable set, so it never changes under other tests.

use std::process::{Command, Output};

use tonic_testkit::server::TRANSPORT_ENV;
use tonic_testkit::{TestServer, Transport};
use tonic_testkit_support::Probe;

#[test]
#[ignore = "run in a child process by the tests below, with TONIC_TESTKIT_TRANSPORT set"]
fn child_prints_the_transports_it_gets() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let default = TestServer::builder().add_service(Probe::new().server()).start().await;
        let chosen = TestServer::builder()
            .add_service(Probe::new().server())
            .transport(Transport::Tcp)
            .start()
            .await;
        println!("default={} chosen={}", default.transport(), chosen.transport());
    });
}

fn child(value: Option<&str>) -> Output {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args(["--ignored", "--exact", "child_prints_the_transports_it_gets", "--nocapture"]);
    match value {
        Some(value) => command.env(TRANSPORT_ENV, value),
        None => command.env_remove(TRANSPORT_ENV),
    };
    command.output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_variable_sets_the_default_transport() {
    for (value, expected) in [("direct", "direct"), ("memory", "memory"), ("tcp", "tcp")] {
        let output = child(Some(value));

        assert!(output.status.success(), "{value}: {output:?}");
        assert!(stdout(&output).contains(&format!("default={expected} chosen=tcp")), "{output:?}");
    }
}

#[test]
fn unset_or_empty_means_memory() {
    for value in [None, Some("")] {
        let output = child(value);

        assert!(output.status.success(), "{value:?}: {output:?}");
        assert!(stdout(&output).contains("default=memory chosen=tcp"), "{output:?}");
    }
}

#[test]
fn an_invalid_value_panics_naming_the_valid_ones() {
    let output = child(Some("quic"));

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "TONIC_TESTKIT_TRANSPORT=\"quic\" is not a transport: use one of direct, memory, tcp \
             (or leave it unset for memory)"
        ),
        "{stderr}"
    );
}

#[test]
fn names_parse_without_regard_to_case_and_print_in_lower_case() {
    assert_eq!("TCP".parse::<Transport>(), Ok(Transport::Tcp));
    assert_eq!(" Direct ".parse::<Transport>(), Ok(Transport::Direct));
    let names: Vec<_> = Transport::ALL.iter().map(ToString::to_string).collect();
    assert_eq!(names, ["direct", "memory", "tcp"]);
}
