//! Compiles the probe and shapes services with protox, so the build needs no system `protoc`.

use std::{env, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("../proto/testkit");
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    for (proto, set) in [("probe.proto", "file_descriptor_set.bin"), ("shapes.proto", "shapes.bin")]
    {
        println!("cargo:rerun-if-changed={}", proto_dir.join(proto).display());
        let fds = protox::compile([proto], [&proto_dir])?;
        std::fs::write(out_dir.join(set), prost::Message::encode_to_vec(&fds))?;
        // Ordered maps encode the same bytes every time, so an echo can be compared byte for byte.
        tonic_prost_build::configure()
            .generate_default_stubs(true)
            .btree_map(".")
            .compile_fds(fds)?;
    }
    Ok(())
}
