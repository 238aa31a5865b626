//! The engine a call runs through.

pub(crate) mod admission;
pub(crate) mod body;
pub(crate) mod call;
pub(crate) mod panic;
pub(crate) mod router;
pub(crate) mod settings;
pub(crate) mod shared;
pub(crate) mod stack;
