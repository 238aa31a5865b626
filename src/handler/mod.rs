//! Handler-side helpers: what a test needs to call a handler, an interceptor or a tower layer
//! without a server, and to read what it returned.
//!
//! [`TestRequest`](crate::TestRequest), [`collect`](crate::collect) and
//! [`StreamOutcome`](crate::StreamOutcome) are at the crate's root; this module has the rest:
//! [`intercept`] and [`through_layer`] with what they return ([`Intercepted`], [`Recorder`]),
//! and the defaults [`DEFAULT_REMOTE_ADDR`] and [`DEFAULT_COLLECT_TIMEOUT`].

pub(crate) mod collect;
pub(crate) mod intercept;
pub(crate) mod request;
mod stream;

pub use collect::DEFAULT_COLLECT_TIMEOUT;
pub use intercept::{Intercepted, Recorder, intercept, through_layer};
pub use request::DEFAULT_REMOTE_ADDR;
