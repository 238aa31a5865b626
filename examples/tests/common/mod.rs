//! The transport matrix of the example suites, written once.
//!
//! A test that must hold over several transports takes `transport: Transport` and applies one
//! of these templates in place of `#[rstest]`; each case is a test named after its transport
//! (`name::transport_1_Transport__Direct`), so a failure says which one broke:
//!
//! ```ignore
//! #[apply(every_transport)]
//! #[tokio::test]
//! async fn a_behaviour(transport: Transport) { .. }
//! ```

#![allow(unused_macros)] // each test file uses its own subset

// The templates' paths (`rstest`, `Transport`) are resolved where they are applied.

/// Every transport: Direct, Memory and Tcp.
#[rstest_reuse::template]
#[rstest]
pub fn every_transport(
    #[values(Transport::Direct, Transport::Memory, Transport::Tcp)] transport: Transport,
) {
}

/// The transports that carry HTTP/2 (Memory and Tcp): for what a direct call has no wire for.
#[rstest_reuse::template]
#[rstest]
pub fn http2_transports(#[values(Transport::Memory, Transport::Tcp)] transport: Transport) {}
