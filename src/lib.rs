//! Test servers, ready clients, fake request contexts, mocks and fault injection for gRPC services
//! built with [tonic] 0.14: what pytest-grpc is to Python's grpcio, for Rust.
//!
// The rest of the crate page is the guide: one Markdown file per section in src/guide/, in the
// order of its contents (intro.md lists them, and holds the link targets such as `[tonic]`).
#![doc = include_str!("guide/intro.md")]
#![doc = include_str!("guide/start.md")]
#![doc = include_str!("guide/transports.md")]
#![doc = include_str!("guide/rstest.md")]
#![doc = include_str!("guide/handlers.md")]
#![doc = include_str!("guide/mocks-and-stubs.md")]
#![doc = include_str!("guide/faults.md")]
#![doc = include_str!("guide/journal.md")]
#![doc = include_str!("guide/assertions.md")]
#![doc = include_str!("guide/tls.md")]
#![doc = include_str!("guide/settings.md")]
#![doc = include_str!("guide/health-and-reflection.md")]
#![doc = include_str!("guide/panics-and-teardown.md")]
#![doc = include_str!("guide/fuzzing.md")]
#![doc = include_str!("guide/coming-from-pytest-grpc.md")]
#![doc = include_str!("guide/features.md")]
#![forbid(unsafe_code)]
// An example that warns (an unused import, a value left unused) fails as a test.
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]
// The guide and the items link to the items of every feature; a build without some of them
// (`cargo doc` with default features) cannot resolve those links. The all-features build, the
// one docs.rs makes, checks every link.
#![cfg_attr(
    not(all(
        feature = "tls",
        feature = "reflection",
        feature = "health",
        feature = "descriptors",
        feature = "fuzz"
    )),
    allow(rustdoc::broken_intra_doc_links)
)]

mod assert;
mod engine;
mod fault;
#[cfg(feature = "rstest")]
#[cfg_attr(docsrs, doc(cfg(feature = "rstest")))]
pub mod fixtures;
#[cfg(feature = "fuzz")]
#[cfg_attr(docsrs, doc(cfg(feature = "fuzz")))]
pub mod fuzz;
pub mod handler;
pub mod journal;
pub mod mock;
mod protocol;
pub mod server;
mod sync;
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub mod tls;
mod transport;

pub use fault::Faults;
pub use handler::collect::{StreamOutcome, collect};
pub use handler::request::TestRequest;
pub use mock::reply::Reply;
pub use mock::stub::Stub;
pub use server::builder::TestServerBuilder;
pub use server::channel::TestChannel;
pub use server::test_server::TestServer;
pub use transport::Transport;

pub mod faults {
    //! What [`Faults`](crate::Faults) takes and returns: the [`FaultRule`] that `on(..)` starts,
    //! the [`FaultChannel`] that [`Faults::wrap`](crate::Faults::wrap) returns, the
    //! [`ConnectionToxics`] of memory and TCP connections, and the [`Fired`] record of what a
    //! rule did.

    pub use crate::fault::{ConnectionToxics, FaultChannel, FaultRule, Fired};
}

pub mod matchers {
    //! What the assertion macros match with: text matchers for status messages and metadata
    //! values ([`contains`], [`starts_with`], any [`TextMatcher`]), and the traits that say what
    //! a macro can read a status or metadata from ([`StatusSource`], [`MetadataSource`], the
    //! [`Observed`] they return).

    pub use crate::assert::{
        Contains, MetadataSource, Observed, StartsWith, StatusSource, TextMatcher, contains,
        starts_with,
    };
}

pub mod futures {
    //! The futures the kit's types return, named so that they can be stored and sent:
    //! [`ResponseFuture`] ([`TestChannel`](crate::TestChannel)'s calls), [`ServicesFuture`]
    //! ([`Services`](crate::server::Services)' calls) and [`Collect`]
    //! ([`collect`](crate::collect)). [`WaitForCalls`](crate::journal::WaitForCalls) is in
    //! [`journal`](crate::journal).

    pub use crate::engine::router::ServicesFuture;
    pub use crate::handler::collect::Collect;
    pub use crate::server::channel::ResponseFuture;
}

// The README's examples compile as doctests. Some show optional features (descriptors, rstest,
// tls, gzip, health, reflection), so they run with all features on, as the README's test command
// has it; a plain `cargo test` skips them instead of failing.
#[cfg(all(
    doctest,
    feature = "descriptors",
    feature = "fuzz",
    feature = "rstest",
    feature = "tls",
    feature = "gzip",
    feature = "health",
    feature = "reflection"
))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// What the assertion macros expand to; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::assert::{
        assert_status,
        details::{assert_error_info, assert_field_violation, assert_retry_info},
        metadata::{assert_metadata, assert_no_metadata},
    };
}

/// The error type of boxed services and channels.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
