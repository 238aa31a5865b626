//! Faults: RPC-level rules (fail, delay, cut, hang, drop the connection) and connection-level
//! toxics, declared by the test and deterministic under paused tokio time.

mod action;
mod body;
mod channel;
mod connections;
mod deadline;
mod faults;
mod fired;
mod plan;
mod rng;
mod rule;
mod toxic;

pub(crate) use body::FaultBody;
pub use channel::FaultChannel;
pub(crate) use connections::{SERVER_DOWN, Server};
pub(crate) use deadline::{Deadline, FOR_GOOD};
pub use faults::Faults;
pub use fired::Fired;
pub(crate) use plan::{Action, End, Failure, Plan};
pub use rule::FaultRule;
pub use toxic::ConnectionToxics;
pub(crate) use toxic::{ToxicIo, Toxics};
