#!/usr/bin/env bash
# The build time tonic-testkit adds to a user's tests.
#
# Makes two minimal user crates in a temporary directory, the same but for one dev-dependency:
# both test the probe service (standing in for the user's generated code) over tonic 0.14 with
# tokio; `with-kit` does it with tonic-testkit, `without-kit` with a hand-written in-memory
# server. Each gets a clean `cargo build --tests` in its own target directory, with the
# workspace's Cargo.lock so both resolve the same versions, `ROUNDS` times (default 2), and the
# script prints the median of each and the difference.
#
#   bash benches/build-cost.sh            # needs the crates already downloaded (cargo fetch)
#   ROUNDS=3 bash benches/build-cost.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=${ROUNDS:-2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

manifest() { # name, extra dev-dependency lines
  cat <<EOF
[package]
name = "$1"
version = "0.0.0"
edition = "2024"
publish = false

[workspace]

[dependencies]
tonic = { version = "0.14.9", features = ["transport", "router"] }
tonic-testkit-support = { path = "$root/test-support" }
tokio = { version = "1.47", features = ["rt", "macros", "net"] }
tokio-stream = "0.1.17"
hyper-util = { version = "0.1.11", features = ["tokio"] }
tower = { version = "0.5.2", features = ["util"] }

[dev-dependencies]
$2
EOF
}

mkdir -p "$work/without-kit/tests" "$work/with-kit/tests"
manifest without-kit "" >"$work/without-kit/Cargo.toml"
manifest with-kit "tonic-testkit = { path = \"$root\" }" >"$work/with-kit/Cargo.toml"
for crate in without-kit with-kit; do
  mkdir -p "$work/$crate/src"
  echo "//! A user's crate." >"$work/$crate/src/lib.rs"
  cp "$root/Cargo.lock" "$work/$crate/Cargo.lock"
done

cat >"$work/without-kit/tests/probe.rs" <<'EOF'
use hyper_util::rt::TokioIo;
use tonic::transport::{Endpoint, Server};
use tonic_testkit_support::{Probe, ProbeClient, ProbeRequest};

#[tokio::test]
async fn unary_answers() {
    let (pipes, incoming) = tokio::sync::mpsc::unbounded_channel::<std::io::Result<_>>();
    let server = tokio::spawn(
        Server::builder()
            .add_service(Probe::new().server())
            .serve_with_incoming(tokio_stream::wrappers::UnboundedReceiverStream::new(incoming)),
    );
    let channel = Endpoint::from_static("http://localhost").connect_with_connector_lazy(
        tower::service_fn(move |_| {
            let (client, server) = tokio::io::duplex(64 * 1024);
            pipes.send(Ok(server)).unwrap();
            async move { Ok::<_, std::io::Error>(TokioIo::new(client)) }
        }),
    );
    let reply = ProbeClient::new(channel).unary(ProbeRequest::default()).await.unwrap();
    assert_eq!(reply.into_inner().index, 0);
    server.abort();
}
EOF

cat >"$work/with-kit/tests/probe.rs" <<'EOF'
use tonic_testkit::TestServer;
use tonic_testkit_support::{Probe, ProbeClient, ProbeRequest};

#[tokio::test]
async fn unary_answers() {
    let server = TestServer::builder().add_service(Probe::new().server()).start().await;
    let mut client = server.client(ProbeClient::new);
    let reply = client.unary(ProbeRequest::default()).await.unwrap();
    assert_eq!(reply.into_inner().index, 0);
    server.shutdown().await;
}
EOF

build() { # crate -> seconds of a clean `cargo build --tests`
  local dir="$work/$1" start end
  rm -rf "$dir/target"
  start=$(date +%s.%N)
  (cd "$dir" && cargo build --tests --offline --quiet)
  end=$(date +%s.%N)
  printf '%.1f\n' "$(echo "$end - $start" | bc)"
}

median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

declare -A times
for crate in without-kit with-kit; do
  for _ in $(seq "$rounds"); do
    times[$crate]+="$(build "$crate")"$'\n'
  done
done
without=$(printf '%s' "${times[without-kit]}" | median)
with=$(printf '%s' "${times[with-kit]}" | median)
echo "clean cargo build --tests, median of $rounds (cores: $(nproc))"
echo "  without tonic-testkit: ${without} s"
echo "  with tonic-testkit:    ${with} s"
echo "  added:                 $(printf '%.1f' "$(echo "$with - $without" | bc)") s"
for crate in without-kit with-kit; do
  (cd "$work/$crate" && cargo test --offline --quiet 2>&1 | grep -E '^test result: ok\. [1-9]' | sed "s/^/  $crate: /")
done
