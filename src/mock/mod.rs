//! Stubs: methods answered by scripted replies and closures, with no trait impl, matched on
//! what each call carries, with expectations checked in the test.
//!
//! [`Stub`] and [`Reply`](crate::Reply) are at the crate's root; this module has what their
//! methods take and return: [`StubRule`], [`Times`], [`StubHandle`], [`StubGuard`], and
//! [`BoxStream`], the stream type of streaming replies.

mod answer;
mod count;
mod handle;
mod matcher;
pub(crate) mod reply;
mod rule;
mod service;
pub(crate) mod stub;
mod times;
mod typed;

pub use handle::{StubGuard, StubHandle};
pub use reply::BoxStream;
pub use rule::StubRule;
pub(crate) use service::StubService;
pub use times::Times;

pub(crate) use stub::report;
use stub::{Answer, BoxFuture, Inner, Rule, Stub};
