//! Fuzzing a service from its descriptors: every method called with generated, well-formed,
//! odd requests, and a failing case shrunk to a minimal request a person can act on.
//!
//! [`TestServer::fuzz`] takes the encoded `FileDescriptorSet` the build already makes and calls
//! each method of the server's services with [`DEFAULT_CASES`] generated requests (more with
//! `PROPTEST_CASES`, or [`Fuzz::cases`]), over the server's own transport. The requests are
//! built from the schema: every scalar type with its edge values, empty, long and non-ASCII
//! strings and bytes, nested and recursive messages to [`DEFAULT_DEPTH`] levels, empty and
//! long repeated and map fields, each arm of a oneof and none, enum numbers the schema does not
//! name, the well-known types (timestamps and durations at and past their ranges, `Any` holding
//! the pool's messages), and client streams of none to many messages.
//!
//! [`TestServer::fuzz`]: crate::TestServer::fuzz
//!
//! A case fails when the server panics, answers `INTERNAL` or `UNKNOWN` (unless the test
//! [allows](Fuzz::allow) them), does not end within the [deadline](Fuzz::deadline), answers
//! messages that do not decode as the method's output type, or fails a [check](Fuzz::check) the
//! test adds. proptest then shrinks it, and the test fails with a [`Finding`]: the failure, the
//! minimal request in protobuf's text format, the seed, and a line that replays the case alone.
//!
//! Runs are deterministic: the seed is [`DEFAULT_SEED`] unless the test or `PROPTEST_RNG_SEED`
//! gives another, and the same seed sends the same requests over every transport. proptest's
//! regression files work as in a `proptest!` test: a failing case's seed is saved beside the
//! test file and tried first on the next runs.
//!
//! The strategies are also usable alone, in a test's own proptest: [`message`] generates one
//! message type, for a handler called directly with [`TestRequest`](crate::TestRequest).
//!
//! # Examples
//!
//! One statement fuzzes every method of the server's services:
//!
//! ```
//! use tonic_testkit::TestServer;
//! use tonic_testkit_examples::{
//!     FILE_DESCRIPTOR_SET,
//!     users::{Users, pb::user_service_server::UserServiceServer},
//! };
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let server =
//!     TestServer::builder().add_service(UserServiceServer::new(Users::default())).start().await;
//!
//! server.fuzz(FILE_DESCRIPTOR_SET).await;
//! # }
//! ```
//!
//! A check per method, over the typed request and answer:
//!
//! ```
//! use tonic_testkit::{TestServer, fuzz::Exchange};
//! use tonic_testkit_examples::{
//!     FILE_DESCRIPTOR_SET,
//!     hello::{Greeter, pb::{HelloRequest, HelloResponse, hello_service_server::HelloServiceServer}},
//! };
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let server = TestServer::builder().add_service(HelloServiceServer::new(Greeter)).start().await;
//!
//! server
//!     .fuzz(FILE_DESCRIPTOR_SET)
//!     .check("/hello.HelloService/Hello", |exchange: &Exchange<HelloRequest, HelloResponse>| {
//!         let greeting = &exchange.request().greeting;
//!         if let Some(response) = exchange.response() {
//!             assert_eq!(response.reply, format!("Hello, {greeting}!"));
//!         }
//!     })
//!     .await;
//! # }
//! ```

mod builder;
mod call;
mod case;
mod check;
mod generate;
mod report;
mod run;
#[cfg(test)]
mod tests;

use std::time::Duration;

use proptest::strategy::{BoxedStrategy, Strategy};
use prost_reflect::{DynamicMessage, MessageDescriptor};

pub use builder::Fuzz;
pub use check::Exchange;
pub use generate::DEFAULT_DEPTH;
pub use report::{Finding, Summary};

use crate::protocol::descriptors::{Descriptors, is, rust_name};

/// How many cases each method runs unless the test or `PROPTEST_CASES` says otherwise.
pub const DEFAULT_CASES: u32 = 256;

/// The seed of a run unless the test or `PROPTEST_RNG_SEED` gives another.
pub const DEFAULT_SEED: u64 = 0;

/// How long a call may take before the case fails as one that does not end.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(2);

/// The strategy for messages of type `T`, found by name in `file_descriptor_set`: every field
/// set as a [fuzz run](crate::fuzz) sets it. For a test's own proptest, such as one calling a
/// handler directly.
///
/// # Panics
///
/// When the bytes are not an encoded `FileDescriptorSet`, or it has no message named as `T` is,
/// or several.
///
/// # Examples
///
/// ```
/// use proptest::{prelude::*, test_runner::TestRunner};
/// use tonic_testkit::fuzz;
/// use tonic_testkit_examples::{FILE_DESCRIPTOR_SET, hello::pb::HelloRequest};
///
/// let mut runner = TestRunner::deterministic();
/// runner
///     .run(&fuzz::message::<HelloRequest>(FILE_DESCRIPTOR_SET), |request| {
///         prop_assert!(request.greeting.len() <= 1 << 20);
///         Ok(())
///     })
///     .unwrap();
/// ```
#[track_caller]
pub fn message<T>(file_descriptor_set: &[u8]) -> BoxedStrategy<T>
where
    T: prost::Message + Default + std::fmt::Debug + 'static,
{
    let descriptors = Descriptors::decode(file_descriptor_set, "fuzz::message");
    let named: Vec<MessageDescriptor> =
        descriptors.pool().all_messages().filter(|message| is::<T>(message)).collect();
    let descriptor = match named.as_slice() {
        [one] => one.clone(),
        [] => panic!(
            "fuzz::message::<{}>: the descriptors have no message named {}; give the set that \
             describes it",
            std::any::type_name::<T>(),
            rust_name::<T>()
        ),
        several => panic!(
            "fuzz::message::<{}>: the descriptors have several messages named {}: {}; use \
             fuzz::dynamic_message with the one you mean",
            std::any::type_name::<T>(),
            rust_name::<T>(),
            several.iter().map(|message| message.full_name()).collect::<Vec<_>>().join(", ")
        ),
    };
    let name = descriptor.full_name().to_owned();
    dynamic_message(&descriptor)
        .prop_map(move |message| {
            let bytes = prost::Message::encode_to_vec(&message);
            T::decode(bytes.as_slice()).unwrap_or_else(|error| {
                panic!(
                    "fuzz::message: a generated {name} does not decode as {}: {error}",
                    std::any::type_name::<T>()
                )
            })
        })
        .boxed()
}

/// The strategy for messages of `descriptor`'s type, as prost-reflect's dynamic messages.
///
/// # Examples
///
/// ```
/// use proptest::{strategy::{Strategy, ValueTree}, test_runner::TestRunner};
/// use prost_reflect::{DescriptorPool, ReflectMessage};
/// use tonic_testkit::fuzz;
///
/// let pool = DescriptorPool::decode(tonic_testkit_examples::FILE_DESCRIPTOR_SET).unwrap();
/// let descriptor = pool.get_message_by_name("orders.RegisterOrderRequest").unwrap();
/// let mut runner = TestRunner::deterministic();
/// let message = fuzz::dynamic_message(&descriptor).new_tree(&mut runner).unwrap().current();
/// assert_eq!(message.descriptor().full_name(), "orders.RegisterOrderRequest");
/// ```
pub fn dynamic_message(descriptor: &MessageDescriptor) -> BoxedStrategy<DynamicMessage> {
    generate::Generator::new(descriptor, DEFAULT_DEPTH).top(descriptor)
}
