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

mod call;
mod case;
mod check;
mod generate;
mod report;
mod run;
#[cfg(test)]
mod tests;

use std::{
    future::{Future, IntoFuture},
    panic::Location,
    pin::Pin,
    str::FromStr,
    time::Duration,
};

use proptest::{
    strategy::{BoxedStrategy, Strategy},
    test_runner::FailurePersistence,
};
use prost_reflect::{DynamicMessage, MessageDescriptor, MethodDescriptor};
use tonic::{
    Code,
    metadata::{AsciiMetadataKey, AsciiMetadataValue},
};

pub use check::Exchange;
pub use generate::DEFAULT_DEPTH;
pub use report::{Finding, Summary};

use crate::{
    TestChannel, TestServer,
    protocol::descriptors::{Descriptors, is, path, rust_name},
};
use case::Case;
use check::Check;

/// How many cases each method runs unless the test or `PROPTEST_CASES` says otherwise.
pub const DEFAULT_CASES: u32 = 256;

/// The seed of a run unless the test or `PROPTEST_RNG_SEED` gives another.
pub const DEFAULT_SEED: u64 = 0;

/// How long a call may take before the case fails as one that does not end.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(2);

impl TestServer {
    /// Starts a fuzz run against this server's services, from `file_descriptor_set` (the encoded
    /// `FileDescriptorSet` the build writes). Await it, or its [`run`](Fuzz::run), to run it:
    /// it fails the test with the [`Finding`] if a case fails. See the [`fuzz`](crate::fuzz)
    /// module.
    ///
    /// # Panics
    ///
    /// When the bytes are not an encoded `FileDescriptorSet`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_examples::{FILE_DESCRIPTOR_SET, hello::{Greeter, pb::hello_service_server::HelloServiceServer}};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server = TestServer::builder().add_service(HelloServiceServer::new(Greeter)).start().await;
    /// let summary = server.fuzz(FILE_DESCRIPTOR_SET).cases(64).await;
    /// assert_eq!(summary.cases("/hello.HelloService/Hello"), 64);
    /// # }
    /// ```
    #[track_caller]
    pub fn fuzz(&self, file_descriptor_set: &[u8]) -> Fuzz<'_> {
        let descriptors = Descriptors::decode(file_descriptor_set, "TestServer::fuzz");
        Fuzz {
            server: self,
            channel: self.channel(),
            descriptors,
            methods: Vec::new(),
            skipped: Vec::new(),
            cases: None,
            seed: None,
            allowed: Vec::new(),
            deadline: DEFAULT_DEADLINE,
            depth: DEFAULT_DEPTH,
            metadata: Vec::new(),
            checks: Vec::new(),
            replay: None,
            persistence: None,
            location: Location::caller(),
        }
    }
}

/// A fuzz run, configured by its methods and started by awaiting it (or [`run`](Self::run), or
/// [`try_run`](Self::try_run)). Made by [`TestServer::fuzz`].
#[must_use = "a fuzz run does nothing until it is awaited"]
pub struct Fuzz<'a> {
    server: &'a TestServer,
    channel: TestChannel,
    descriptors: Descriptors,
    methods: Vec<MethodDescriptor>,
    skipped: Vec<String>,
    cases: Option<u32>,
    seed: Option<u64>,
    allowed: Vec<Code>,
    deadline: Duration,
    depth: u32,
    metadata: Vec<String>,
    checks: Vec<(String, Check)>,
    replay: Option<(MethodDescriptor, Case)>,
    persistence: Option<Option<Box<dyn FailurePersistence>>>,
    location: &'static Location<'static>,
}

impl std::fmt::Debug for Fuzz<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let methods: Vec<String> = self.methods.iter().map(path).collect();
        f.debug_struct("Fuzz")
            .field("methods", &methods)
            .field("skipped", &self.skipped)
            .field("cases", &self.cases)
            .field("seed", &self.seed)
            .field("allowed", &self.allowed)
            .field("deadline", &self.deadline)
            .field("depth", &self.depth)
            .field("metadata", &self.metadata)
            .field("checks", &self.checks.len())
            .finish_non_exhaustive()
    }
}

impl Fuzz<'_> {
    /// Fuzzes only these methods (paths such as `"/orders.Orders/RegisterOrder"`), in this
    /// order, instead of every method of the server's services. A method the server serves some
    /// other way (a [`Stub`](crate::Stub), tonic `Routes`) is fuzzed only when named here.
    ///
    /// # Panics
    ///
    /// When the descriptors describe no such method; the message lists the closest.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_examples::{FILE_DESCRIPTOR_SET, users::{Users, pb::user_service_server::UserServiceServer}};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server = TestServer::builder().add_service(UserServiceServer::new(Users::default())).start().await;
    /// let summary = server.fuzz(FILE_DESCRIPTOR_SET).methods(["/users.UserService/GetUser"]).cases(8).await;
    /// assert_eq!(summary.methods(), ["/users.UserService/GetUser"]);
    /// # }
    /// ```
    #[track_caller]
    pub fn methods<I>(mut self, methods: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        for method in methods {
            let found = self.described(method.as_ref(), "Fuzz::methods");
            self.methods.push(found);
        }
        self
    }

    /// Leaves `method` out of the run.
    ///
    /// # Panics
    ///
    /// When the descriptors describe no such method.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_examples::{FILE_DESCRIPTOR_SET, users::{Users, pb::user_service_server::UserServiceServer}};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server = TestServer::builder().add_service(UserServiceServer::new(Users::default())).start().await;
    /// let summary = server.fuzz(FILE_DESCRIPTOR_SET).skip("/users.UserService/ListUsers").cases(8).await;
    /// assert_eq!(summary.methods(), ["/users.UserService/GetUser"]);
    /// # }
    /// ```
    #[track_caller]
    pub fn skip(mut self, method: &str) -> Self {
        self.described(method, "Fuzz::skip");
        self.skipped.push(method.to_owned());
        self
    }

    /// How many cases each method runs; this wins over `PROPTEST_CASES`, which otherwise wins
    /// over [`DEFAULT_CASES`], as in proptest.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_examples::{FILE_DESCRIPTOR_SET, hello::{Greeter, pb::hello_service_server::HelloServiceServer}};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server = TestServer::builder().add_service(HelloServiceServer::new(Greeter)).start().await;
    /// let summary = server.fuzz(FILE_DESCRIPTOR_SET).cases(10).await;
    /// assert_eq!(summary.cases("/hello.HelloService/Hello"), 10);
    /// # }
    /// ```
    pub fn cases(mut self, cases: u32) -> Self {
        self.cases = Some(cases);
        self
    }

    /// The seed the cases are drawn from; this wins over `PROPTEST_RNG_SEED`, which otherwise
    /// wins over [`DEFAULT_SEED`]. The same seed sends the same requests on every run and every
    /// transport; another seed explores other cases.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_examples::{FILE_DESCRIPTOR_SET, hello::{Greeter, pb::hello_service_server::HelloServiceServer}};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server = TestServer::builder().add_service(HelloServiceServer::new(Greeter)).start().await;
    /// server.fuzz(FILE_DESCRIPTOR_SET).seed(42).cases(16).await;
    /// # }
    /// ```
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Lets cases end with `code`, `INTERNAL` or `UNKNOWN`, which otherwise fail them: for a
    /// service that answers `INTERNAL` on purpose (a store that is down in the test, say).
    ///
    /// # Panics
    ///
    /// For any other code: the others never fail a case, so allowing one means nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic::Code;
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_examples::{FILE_DESCRIPTOR_SET, hello::{Greeter, pb::hello_service_server::HelloServiceServer}};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server = TestServer::builder().add_service(HelloServiceServer::new(Greeter)).start().await;
    /// server.fuzz(FILE_DESCRIPTOR_SET).allow(Code::Internal).cases(8).await;
    /// # }
    /// ```
    #[track_caller]
    pub fn allow(mut self, code: Code) -> Self {
        assert!(
            matches!(code, Code::Internal | Code::Unknown),
            "Fuzz::allow({code:?}): only INTERNAL and UNKNOWN fail a case, so only they can be \
             allowed; every other status is an answer the fuzz run accepts already"
        );
        self.allowed.push(code);
        self
    }

    /// How long a call may take, its whole answer read, before the case fails as one that does
    /// not end ([`DEFAULT_DEADLINE`] unless set). Under a paused clock the wait takes no time.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_examples::{FILE_DESCRIPTOR_SET, hello::{Greeter, pb::hello_service_server::HelloServiceServer}};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server = TestServer::builder().add_service(HelloServiceServer::new(Greeter)).start().await;
    /// server.fuzz(FILE_DESCRIPTOR_SET).deadline(Duration::from_secs(10)).cases(8).await;
    /// # }
    /// ```
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// How many levels of nested messages a request has at most ([`DEFAULT_DEPTH`] unless
    /// set); a message field below the last level is left unset.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_examples::{FILE_DESCRIPTOR_SET, hello::{Greeter, pb::hello_service_server::HelloServiceServer}};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server = TestServer::builder().add_service(HelloServiceServer::new(Greeter)).start().await;
    /// server.fuzz(FILE_DESCRIPTOR_SET).depth(1).cases(8).await;
    /// # }
    /// ```
    pub fn depth(mut self, depth: u32) -> Self {
        self.depth = depth;
        self
    }

    /// Sends the metadata entry `key` with the cases, absent or set to an odd value (empty,
    /// long, punctuation, `0`, `-1`), for a handler that reads it.
    ///
    /// # Panics
    ///
    /// When `key` is not a valid ASCII metadata key (binary `-bin` keys are not fuzzed).
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_examples::{FILE_DESCRIPTOR_SET, hello::{Greeter, REQUEST_ID, pb::hello_service_server::HelloServiceServer}};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server = TestServer::builder().add_service(HelloServiceServer::new(Greeter)).start().await;
    /// server.fuzz(FILE_DESCRIPTOR_SET).metadata(REQUEST_ID).cases(32).await;
    /// # }
    /// ```
    #[track_caller]
    pub fn metadata(mut self, key: &str) -> Self {
        if let Err(error) = AsciiMetadataKey::from_str(key) {
            panic!(
                "Fuzz::metadata({key:?}): not an ASCII metadata key ({error}); give a lowercase \
                 key such as \"x-tenant\" (binary keys ending in -bin are not fuzzed)"
            );
        }
        self.metadata.push(key.to_owned());
        self
    }

    /// Adds a check to every case of `method`: `check` gets the call as its Rust types
    /// ([`Exchange`]) and fails the case by panicking (with `assert!`, say). The failure it
    /// reports is the panic's message.
    ///
    /// # Panics
    ///
    /// When the descriptors describe no such method, or `Req`/`Res` are not its input and output
    /// types (compared by name).
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::{TestServer, fuzz::Exchange};
    /// use tonic_testkit_examples::{
    ///     FILE_DESCRIPTOR_SET,
    ///     hello::{Greeter, pb::{HelloRequest, HelloResponse, hello_service_server::HelloServiceServer}},
    /// };
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server = TestServer::builder().add_service(HelloServiceServer::new(Greeter)).start().await;
    /// server
    ///     .fuzz(FILE_DESCRIPTOR_SET)
    ///     .check("/hello.HelloService/Hello", |exchange: &Exchange<HelloRequest, HelloResponse>| {
    ///         // An empty greeting is refused; every other is answered.
    ///         assert_eq!(exchange.status().is_some(), exchange.request().greeting.is_empty());
    ///     })
    ///     .await;
    /// # }
    /// ```
    #[track_caller]
    pub fn check<Req, Res>(
        mut self,
        method: &str,
        check: impl Fn(&Exchange<Req, Res>) + 'static,
    ) -> Self
    where
        Req: prost::Message + Default + 'static,
        Res: prost::Message + Default + 'static,
    {
        let found = self.described(method, "Fuzz::check");
        for (rust, kind, message) in [
            (rust_name::<Req>(), "request", found.input()),
            (rust_name::<Res>(), "response", found.output()),
        ] {
            let matches = if kind == "request" { is::<Req>(&message) } else { is::<Res>(&message) };
            assert!(
                matches,
                "Fuzz::check({method:?}): the check reads the {kind} as {rust}, and the method's \
                 {kind} type is {}; read it as that message",
                message.full_name()
            );
        }
        self.checks.push((method.to_owned(), check::erase(check)));
        self
    }

    /// Replays one case instead of generating any: `messages` in protobuf's text format (one for
    /// a method that takes one message, none to many for a client stream), with `metadata`. A
    /// [`Finding`] prints this line ready to paste.
    ///
    /// # Panics
    ///
    /// When the descriptors describe no such method, a message does not parse as its input type,
    /// or a method that takes one message is given another number of them.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_examples::{FILE_DESCRIPTOR_SET, hello::{Greeter, pb::hello_service_server::HelloServiceServer}};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server = TestServer::builder().add_service(HelloServiceServer::new(Greeter)).start().await;
    /// server
    ///     .fuzz(FILE_DESCRIPTOR_SET)
    ///     .replay("/hello.HelloService/Hello", &[r#"greeting: "\000""#], &[("x-request-id", "")])
    ///     .await;
    /// # }
    /// ```
    #[track_caller]
    pub fn replay(mut self, method: &str, messages: &[&str], metadata: &[(&str, &str)]) -> Self {
        let found = self.described(method, "Fuzz::replay");
        if !found.is_client_streaming() && messages.len() != 1 {
            panic!(
                "Fuzz::replay({method:?}): the method takes one request message, and {} were given",
                messages.len()
            );
        }
        let messages = messages.iter().enumerate().map(|(index, text)| {
            DynamicMessage::parse_text_format(found.input(), text).unwrap_or_else(|error| {
                panic!(
                    "Fuzz::replay({method:?}): message {index} is not a {} in protobuf's text \
                     format: {error}",
                    found.input().full_name()
                )
            })
        });
        let messages = messages.map(std::sync::Arc::new).collect();
        for (key, value) in metadata {
            if AsciiMetadataKey::from_str(key).is_err()
                || AsciiMetadataValue::from_str(value).is_err()
            {
                panic!("Fuzz::replay({method:?}): {key:?}: {value:?} is not ASCII metadata");
            }
        }
        let metadata =
            metadata.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect();
        self.replay = Some((found, Case { messages, metadata }));
        self
    }

    /// Where proptest keeps the seeds of failing cases, tried first on later runs: as proptest's
    /// `Config::failure_persistence` (by default a `proptest-regressions` folder beside the test
    /// file; `None` keeps nothing). `PROPTEST_DISABLE_FAILURE_PERSISTENCE` works as in proptest.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_examples::{FILE_DESCRIPTOR_SET, hello::{Greeter, pb::hello_service_server::HelloServiceServer}};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server = TestServer::builder().add_service(HelloServiceServer::new(Greeter)).start().await;
    /// server.fuzz(FILE_DESCRIPTOR_SET).failure_persistence(None).cases(8).await;
    /// # }
    /// ```
    pub fn failure_persistence(mut self, persistence: Option<Box<dyn FailurePersistence>>) -> Self {
        self.persistence = Some(persistence);
        self
    }

    /// Runs the cases, and fails the test with the [`Finding`] if one fails; awaiting the
    /// `Fuzz` itself does the same.
    ///
    /// # Panics
    ///
    /// With the finding's report, when a case fails.
    pub async fn run(self) -> Summary {
        match self.try_run().await {
            Ok(summary) => summary,
            Err(finding) => panic!("{finding}"),
        }
    }

    /// Runs the cases, and returns the [`Finding`] if one fails, for a test that asserts on it.
    pub async fn try_run(self) -> Result<Summary, Finding> {
        self.execute().await
    }

    /// The method at `path`, or a panic naming the closest ones.
    #[track_caller]
    fn described(&self, path: &str, caller: &str) -> MethodDescriptor {
        match self.descriptors.method(path) {
            Some(found) => found,
            None => panic!(
                "{caller}({path:?}): the descriptors describe no such method; the methods they \
                 describe, closest first: {}",
                self.descriptors.closest_to(path).join(", ")
            ),
        }
    }

    /// The methods to fuzz: those named, or every method of the services the server serves by
    /// name; less those skipped.
    fn chosen(&self) -> Vec<MethodDescriptor> {
        let mut methods = self.methods.clone();
        if methods.is_empty() {
            let served = self.server.service_names();
            let services = self.descriptors.pool().services();
            let services = services.filter(|service| served.contains(&service.full_name()));
            methods = services.flat_map(|service| service.methods().collect::<Vec<_>>()).collect();
            if methods.is_empty() {
                let described: Vec<String> = self
                    .descriptors
                    .pool()
                    .services()
                    .map(|service| service.full_name().to_owned())
                    .collect();
                panic!(
                    "fuzz: the server serves none of the services the descriptors describe \
                     (described: {}; served by name: {}); add the service to the server, or name \
                     the methods to fuzz with `.methods(..)`",
                    described.join(", "),
                    served.join(", ")
                );
            }
        }
        methods.retain(|method| !self.skipped.contains(&path(method)));
        methods
    }

    fn case_count(&self) -> u32 {
        match (self.cases, std::env::var_os("PROPTEST_CASES")) {
            (Some(cases), _) => cases,
            (None, Some(_)) => proptest::test_runner::Config::default().cases,
            (None, None) => DEFAULT_CASES,
        }
    }

    fn run_seed(&self) -> u64 {
        let from_env = std::env::var("PROPTEST_RNG_SEED").ok().and_then(|seed| seed.parse().ok());
        self.seed.or(from_env).unwrap_or(DEFAULT_SEED)
    }
}

impl<'a> IntoFuture for Fuzz<'a> {
    type Output = Summary;
    type IntoFuture = Pin<Box<dyn Future<Output = Summary> + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

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
