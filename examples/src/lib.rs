//! Example gRPC services, laid out as a user's crate would be: `build.rs` compiles `../proto`
//! with protox and tonic-prost-build, and each service has its own test suite in `tests/`.

pub mod hello;
pub mod orders;
pub mod orders_client;
pub mod rides;
pub mod users;
