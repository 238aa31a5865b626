//! Compiles proto/ with protox (a protobuf compiler written in Rust), so the build needs no
//! system `protoc`, then generates the tonic servers and clients, and writes the encoded file
//! descriptor set to `OUT_DIR` for server reflection (`crate::FILE_DESCRIPTOR_SET`).
//!
//! The `orders_server::Orders` trait also gets `#[mockall::automock]`, so tests of client code
//! can serve a `MockOrders`. The attribute goes before the generated `#[async_trait]`, as
//! mockall requires, and fixes the stream types of the streaming methods, which a mock cannot
//! leave open.

use std::{env, path::PathBuf};

use prost::Message;

const PROTOS: [&str; 4] = ["users.proto", "rides.proto", "orders.proto", "hello.proto"];

/// tonic-build matches trait attributes against the service's Rust name (`Orders`), not its
/// full proto name (`orders.Orders`, which would match nothing): a suffix match, so this would
/// also hit a service called `Orders` in another package; there is none.
const ORDERS_TRAIT: &str = "Orders";

/// Inside the generated `orders_server` module, the messages are `super::*`.
const AUTOMOCK_ORDERS: &str = "#[mockall::automock(
    type WatchOrderStream = tonic::codegen::BoxStream<super::OrderEvent>;
    type ChatStream = tonic::codegen::BoxStream<super::ChatMessage>;
)]";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("proto");
    for file in PROTOS {
        println!("cargo:rerun-if-changed={}", proto_dir.join(file).display());
    }
    let fds = protox::compile(PROTOS, [&proto_dir])?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    std::fs::write(out_dir.join("file_descriptor_set.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .trait_attribute(ORDERS_TRAIT, AUTOMOCK_ORDERS)
        .compile_fds(fds)?;
    Ok(())
}
