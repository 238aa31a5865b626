//! [`Fuzz`]: a fuzz run as [`TestServer::fuzz`] starts it, configured by its methods and run by
//! awaiting it.

use std::{
    future::{Future, IntoFuture},
    panic::Location,
    pin::Pin,
    str::FromStr,
    time::Duration,
};

use proptest::test_runner::FailurePersistence;
use prost_reflect::{DynamicMessage, MethodDescriptor};
use tonic::{
    Code,
    metadata::{AsciiMetadataKey, AsciiMetadataValue},
};

#[cfg(doc)]
use super::{DEFAULT_CASES, DEFAULT_SEED};
use super::{
    DEFAULT_DEADLINE, DEFAULT_DEPTH, Exchange, Finding, Summary,
    case::Case,
    check::{self, Check},
};
use crate::{
    TestChannel, TestServer,
    protocol::descriptors::{Descriptors, is, path, rust_name},
};

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
    pub(super) server: &'a TestServer,
    pub(super) channel: TestChannel,
    pub(super) descriptors: Descriptors,
    pub(super) methods: Vec<MethodDescriptor>,
    pub(super) skipped: Vec<String>,
    pub(super) cases: Option<u32>,
    pub(super) seed: Option<u64>,
    pub(super) allowed: Vec<Code>,
    pub(super) deadline: Duration,
    pub(super) depth: u32,
    pub(super) metadata: Vec<String>,
    pub(super) checks: Vec<(String, Check)>,
    pub(super) replay: Option<(MethodDescriptor, Case)>,
    pub(super) persistence: Option<Option<Box<dyn FailurePersistence>>>,
    pub(super) location: &'static Location<'static>,
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
}

impl<'a> IntoFuture for Fuzz<'a> {
    type Output = Summary;
    type IntoFuture = Pin<Box<dyn Future<Output = Summary> + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}
