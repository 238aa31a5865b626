//! Compiles the probe service with protox, so the build needs no system `protoc`.

use std::{env, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("../proto/testkit");
    println!("cargo:rerun-if-changed={}", proto_dir.join("probe.proto").display());
    let fds = protox::compile(["probe.proto"], [&proto_dir])?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    std::fs::write(out_dir.join("file_descriptor_set.bin"), prost::Message::encode_to_vec(&fds))?;
    tonic_prost_build::configure().generate_default_stubs(true).compile_fds(fds)?;
    Ok(())
}
