//! rstest fixtures (feature `rstest`). They follow rstest's fixture protocol, so the library
//! does not depend on rstest: the tests' own rstest uses them.
//!
//! The fixture is named `transport`, as a test's argument is; it lives here, apart from the
//! crate's other names, because rstest defines a fixture in both namespaces (a function and a
//! struct).

use crate::Transport;

/// An rstest fixture: the transport chosen by
/// [`TONIC_TESTKIT_TRANSPORT`](crate::server::TRANSPORT_ENV).
///
/// Name a test argument `transport` to receive it, or use `#[values(..)]` to run a test once per
/// transport:
///
/// ```
/// use rstest::rstest;
/// use tonic_testkit::Transport;
/// use tonic_testkit::fixtures::transport;
///
/// #[rstest]
/// fn follows_the_environment(transport: Transport) {
///     assert_eq!(transport, Transport::from_env());
/// }
/// assert_eq!(transport::default(), Transport::from_env());
/// ```
///
/// # Panics
///
/// When [`TONIC_TESTKIT_TRANSPORT`](crate::server::TRANSPORT_ENV) holds an invalid value, as
/// [`Transport::from_env`] does; the panic points at the test that takes the fixture.
#[track_caller]
pub fn transport() -> Transport {
    Transport::from_env()
}

/// The fixture's other half, written out as `#[rstest::fixture]` writes it (rstest 0.28: `struct
/// transport {}` whose `get()` and `default()` resolve the fixture), for `#[rstest]` tests that
/// name an argument `transport`: they call `transport::default()`. Written out because the macro's
/// `default()` is not `#[track_caller]`, so a bad
/// [`TONIC_TESTKIT_TRANSPORT`](crate::server::TRANSPORT_ENV) would panic pointing at this file;
/// here the panic points at the test. tests/fixtures.rs and tests/locations.rs check it against the
/// rstest the tests use.
#[doc(hidden)]
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct transport {}

impl transport {
    /// The fixture's value (rstest calls it with the fixture's arguments, here none).
    #[doc(hidden)]
    #[track_caller]
    pub fn get() -> Transport {
        transport()
    }

    /// The fixture's value with its arguments resolved: what an `#[rstest]` test calls.
    #[doc(hidden)]
    #[track_caller]
    #[allow(clippy::should_implement_trait, reason = "rstest's fixture protocol names it")]
    pub fn default() -> Transport {
        Self::get()
    }
}
