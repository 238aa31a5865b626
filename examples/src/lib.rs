//! Example gRPC services, laid out as a user's crate would be: `build.rs` compiles `proto/`
//! with protox and tonic-prost-build, and each service has its own test suite in `tests/`.

#![forbid(unsafe_code)]
// An example that warns (an unused import, a value left unused) fails as a test.
#![doc(test(attr(deny(warnings))))]

pub mod hello;
pub mod orders;
pub mod orders_client;
pub mod rides;
pub mod users;

/// The encoded `FileDescriptorSet` of the example services' `.proto` files (users, rides,
/// orders, hello: `build.rs`'s `PROTOS`, and the `google/protobuf` files they import), as
/// `build.rs` wrote it: what a server hands to gRPC reflection.
///
/// # Examples
///
/// ```
/// use prost::Message;
///
/// let set = prost_types::FileDescriptorSet::decode(tonic_testkit_examples::FILE_DESCRIPTOR_SET)
///     .unwrap();
///
/// let files: Vec<_> = set.file.iter().filter_map(|file| file.name.as_deref()).collect();
/// assert!(files.contains(&"users.proto"));
/// ```
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/file_descriptor_set.bin"));
