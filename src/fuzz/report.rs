//! What a fuzz run tells the test: a [`Finding`] to act on, or a [`Summary`] of how the calls
//! ended.

use std::{fmt, panic::Location};

use tonic::Code;

use crate::protocol::code_name;

use super::case::{Case, text};

/// A failing case, shrunk to a minimal request: what failed, the request as text, the seed that
/// replays the run, and the line that replays the case alone. Its `Display` is the report that
/// [`Fuzz::run`](super::Fuzz::run) fails the test with.
///
/// # Examples
///
/// ```
/// use tonic_testkit::TestServer;
/// use tonic_testkit_examples::users::{Users, pb::user_service_server::UserServiceServer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let server =
///     TestServer::builder().add_service(UserServiceServer::new(Users::default())).start().await;
/// let outcome = server.fuzz(tonic_testkit_examples::FILE_DESCRIPTOR_SET).cases(16).try_run().await;
/// assert!(outcome.is_ok(), "{}", outcome.unwrap_err());
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Finding {
    pub(super) method: String,
    pub(super) failure: String,
    pub(super) input_type: String,
    pub(super) streams: bool,
    pub(super) case: Case,
    pub(super) seed: Option<u64>,
    pub(super) cases: u32,
    pub(super) shrink_steps: u32,
    pub(super) location: &'static Location<'static>,
}

impl Finding {
    /// The path of the method the failing case called.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// Why the case failed: a panic, a status the test does not allow, a call that did not end,
    /// an answer that does not decode, or a check's own message.
    pub fn failure(&self) -> &str {
        &self.failure
    }

    /// The request messages of the shrunk case, each in protobuf's text format.
    pub fn requests(&self) -> Vec<String> {
        self.case.messages.iter().map(|message| text(message)).collect()
    }

    /// The metadata of the shrunk case.
    pub fn metadata(&self) -> &[(String, String)] {
        &self.case.metadata
    }

    /// The seed of the run that found it (`None` for a replayed case).
    pub fn seed(&self) -> Option<u64> {
        self.seed
    }

    /// The builder line that replays exactly this case, to paste into the fuzz statement.
    pub fn replay(&self) -> String {
        let messages: Vec<String> = self.requests().iter().map(|text| rust_literal(text)).collect();
        let metadata: Vec<String> =
            self.case.metadata.iter().map(|(key, value)| format!("({key:?}, {value:?})")).collect();
        format!(
            ".replay({:?}, &[{}], &[{}])",
            self.method,
            messages.join(", "),
            metadata.join(", ")
        )
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.seed {
            Some(_) => writeln!(
                f,
                "fuzzing {} found a failing case (case {} of the run, shrunk in {} steps; the fuzz \
                 statement is at {})",
                self.method, self.cases, self.shrink_steps, self.location
            )?,
            None => writeln!(
                f,
                "replaying a case of {} failed (the fuzz statement is at {})",
                self.method, self.location
            )?,
        }
        writeln!(f, "  failure:  {}", self.failure)?;
        let requests = self.requests();
        match (self.streams, requests.as_slice()) {
            (false, [request]) => writeln!(f, "  request:  {} {{ {request} }}", self.input_type)?,
            (_, requests) => {
                writeln!(f, "  requests: {} messages of {}", requests.len(), self.input_type)?;
                for (index, request) in requests.iter().enumerate() {
                    writeln!(f, "    [{index}] {{ {request} }}")?;
                }
            }
        }
        match self.case.metadata.as_slice() {
            [] => writeln!(f, "  metadata: none")?,
            pairs => {
                let pairs: Vec<String> =
                    pairs.iter().map(|(key, value)| format!("{key}: {value:?}")).collect();
                writeln!(f, "  metadata: {}", pairs.join(", "))?;
            }
        }
        if let Some(seed) = self.seed {
            writeln!(
                f,
                "  seed:     {seed} (`.seed({seed})` or PROPTEST_RNG_SEED={seed} runs the same cases again)"
            )?;
        }
        write!(
            f,
            "Replay this case alone as a regular test: add to the fuzz statement\n    {}",
            self.replay()
        )
    }
}

/// `text` as a Rust string literal: plain when it needs no escape, raw otherwise.
fn rust_literal(text: &str) -> String {
    if !text.contains(['"', '\\']) {
        return format!("\"{text}\"");
    }
    let mut hashes = 1;
    while text.contains(&format!("\"{}", "#".repeat(hashes))) {
        hashes += 1;
    }
    let hashes = "#".repeat(hashes);
    format!("r{hashes}\"{text}\"{hashes}")
}

/// How a fuzz run's calls ended, method by method: how many cases each ran and how many
/// ended with each status. A run where every case of a method ended `INVALID_ARGUMENT` never got
/// past the method's validation: the summary shows it.
///
/// # Examples
///
/// ```
/// use tonic::Code;
/// use tonic_testkit::TestServer;
/// use tonic_testkit_examples::hello::{Greeter, pb::hello_service_server::HelloServiceServer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let server =
///     TestServer::builder().add_service(HelloServiceServer::new(Greeter)).start().await;
/// let summary = server.fuzz(tonic_testkit_examples::FILE_DESCRIPTOR_SET).cases(32).await;
///
/// // Every case was answered, or refused for an empty greeting.
/// let hello = "/hello.HelloService/Hello";
/// assert_eq!(summary.cases(hello), 32);
/// assert_eq!(summary.count(hello, Code::Ok) + summary.count(hello, Code::InvalidArgument), 32);
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub(super) methods: Vec<MethodSummary>,
}

#[derive(Clone, Debug)]
pub(super) struct MethodSummary {
    pub(super) method: String,
    pub(super) codes: Vec<(Code, u32)>,
}

impl MethodSummary {
    pub(super) fn new(method: &str) -> Self {
        Self { method: method.to_owned(), codes: Vec::new() }
    }

    pub(super) fn record(&mut self, code: Code) {
        match self.codes.iter_mut().find(|(seen, _)| *seen == code) {
            Some((_, count)) => *count += 1,
            None => self.codes.push((code, 1)),
        }
    }
}

impl Summary {
    /// The methods fuzzed, in the order they ran.
    pub fn methods(&self) -> Vec<&str> {
        self.methods.iter().map(|method| method.method.as_str()).collect()
    }

    /// How many cases `method` ran (0 if it was not fuzzed).
    pub fn cases(&self, method: &str) -> u32 {
        self.of(method).map_or(0, |method| method.codes.iter().map(|(_, count)| count).sum())
    }

    /// How many cases of `method` ended with `code`.
    pub fn count(&self, method: &str, code: Code) -> u32 {
        let codes = self.of(method).map(|method| method.codes.as_slice()).unwrap_or_default();
        codes.iter().find(|(seen, _)| *seen == code).map_or(0, |(_, count)| *count)
    }

    fn of(&self, method: &str) -> Option<&MethodSummary> {
        self.methods.iter().find(|summary| summary.method == method)
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for method in &self.methods {
            let mut codes = method.codes.clone();
            codes.sort_by_key(|(code, _)| *code as i32);
            let codes: Vec<String> =
                codes.iter().map(|(code, count)| format!("{} {count}", code_name(*code))).collect();
            let cases = self.cases(&method.method);
            writeln!(f, "{}: {cases} cases ({})", method.method, codes.join(", "))?;
        }
        Ok(())
    }
}
