//! Compiles ../proto with protox (a protobuf compiler written in Rust), so the build needs no
//! system `protoc`, then generates the tonic servers and clients.

use std::{env, path::PathBuf};

const PROTOS: [&str; 4] = ["users.proto", "rides.proto", "orders.proto", "hello.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("../proto");
    for file in PROTOS {
        println!("cargo:rerun-if-changed={}", proto_dir.join(file).display());
    }
    let fds = protox::compile(PROTOS, [&proto_dir])?;
    tonic_prost_build::configure().compile_fds(fds)?;
    Ok(())
}
