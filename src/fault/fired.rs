//! [`Fired`]: the record of one time a rule acted on a call.

use std::fmt;

/// One time a rule acted on a call: the call's method and the rule, written as the test wrote
/// it, with the line it was written on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fired {
    method: String,
    rule: String,
}

impl Fired {
    pub(crate) fn new(method: &str, rule: &str) -> Self {
        Self { method: method.to_owned(), rule: rule.to_owned() }
    }

    /// The full method path of the call.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The rule, as in `faults.on("/hello.HelloService/Hello").times(2).fail(Unavailable, "down") at
    /// tests/faults.rs:12:5`.
    pub fn rule(&self) -> &str {
        &self.rule
    }
}

impl fmt::Display for Fired {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.method, self.rule)
    }
}
