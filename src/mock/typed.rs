//! What a stub knows of a method from its descriptors, and the checks that refuse a rule that
//! gets the method wrong, at the rule's line. Without descriptors there is nothing to check.

use crate::mock::reply::Reply;
#[cfg(feature = "descriptors")]
use crate::protocol::descriptors::{is, path, rust_name};

/// A method as the stub's descriptors describe it; empty without them.
#[derive(Clone, Default)]
pub(crate) struct Shape {
    #[cfg(feature = "descriptors")]
    pub(crate) method: Option<prost_reflect::MethodDescriptor>,
}

impl Shape {
    /// Panics unless the method takes `T` requests; `rule` as the test wrote it.
    // Without descriptors there is nothing to check `T` against.
    #[cfg_attr(not(feature = "descriptors"), allow(clippy::extra_unused_type_parameters))]
    #[track_caller]
    pub(crate) fn takes<T>(&self, rule: &str) {
        #[cfg(feature = "descriptors")]
        if let Some(method) = &self.method
            && !is::<T>(&method.input())
        {
            panic!(
                "{rule}: it reads the request as {} ({}), and {} takes {}; read it as that message",
                rust_name::<T>(),
                std::any::type_name::<T>(),
                path(method),
                method.input().full_name()
            );
        }
        let _ = rule;
    }

    /// Panics unless the method answers `T` messages.
    #[cfg_attr(not(feature = "descriptors"), allow(clippy::extra_unused_type_parameters))]
    #[track_caller]
    pub(crate) fn answers<T>(&self, rule: &str) {
        #[cfg(feature = "descriptors")]
        if let Some(method) = &self.method
            && !is::<T>(&method.output())
        {
            panic!(
                "{rule}: it answers with {} ({}), and {} answers {}; answer with that message",
                rust_name::<T>(),
                std::any::type_name::<T>(),
                path(method),
                method.output().full_name()
            );
        }
        let _ = rule;
    }

    /// Panics unless `reply` has the method's answer type and shape (one message, or a stream).
    #[track_caller]
    pub(crate) fn reply<T>(&self, rule: &str, reply: &Reply<T>) {
        self.answers::<T>(rule);
        #[cfg(feature = "descriptors")]
        if let Some(method) = &self.method {
            let path = path(method);
            match (reply.streams(), method.is_server_streaming()) {
                (Some(false), true) => panic!(
                    "{rule}: Reply::message(..) answers with one message, and {path} streams its \
                     answers (server streaming); reply with Reply::stream(..)"
                ),
                (Some(true), false) => panic!(
                    "{rule}: Reply::stream(..) streams its answers, and {path} answers with one \
                     message; reply with Reply::message(..)"
                ),
                _ => {}
            }
        }
        let _ = reply;
    }

    /// Panics unless the method's calls send one request message.
    #[track_caller]
    pub(crate) fn one_request(&self, rule: &str) {
        #[cfg(feature = "descriptors")]
        if let Some(method) = &self.method
            && method.is_client_streaming()
        {
            panic!(
                "{rule}: respond_with answers a call that sends one request message, and {} \
                 takes a stream of them (client streaming); use .respond_with_all(..)",
                path(method)
            );
        }
        let _ = rule;
    }
}
