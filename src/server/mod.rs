//! What a test holds: the running [`TestServer`](crate::TestServer), its
//! [`TestServerBuilder`](crate::TestServerBuilder) and the [`TestChannel`](crate::TestChannel)s it
//! hands out (those three are at the crate's root), and the rest of their vocabulary:
//! [`DEFAULT_GRACE_PERIOD`], [`HandlerPanic`], [`Services`] (what layers wrap), the
//! [`TRANSPORT_ENV`] variable and its [`ParseTransportError`], [`free_port`], and `Health`
//! (feature `health`).

pub(crate) mod builder;
pub(crate) mod channel;
#[cfg(feature = "health")]
mod health;
mod journal;
mod port;
#[cfg(feature = "reflection")]
pub(crate) mod reflection;
mod services;
pub(crate) mod settings;
pub(crate) mod standard;
mod start;
mod teardown;
pub(crate) mod test_server;
#[cfg(feature = "tls")]
mod tls;

#[cfg(feature = "health")]
#[cfg_attr(docsrs, doc(cfg(feature = "health")))]
pub use health::Health;
pub use port::free_port;
pub use test_server::DEFAULT_GRACE_PERIOD;

pub use crate::engine::panic::HandlerPanic;
pub use crate::engine::router::Services;
pub use crate::transport::{ParseTransportError, TRANSPORT_ENV};
