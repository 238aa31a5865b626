//! A fuzz run: proptest's runner on a thread of its own generates and shrinks the cases; the
//! test's task sends each one through the server's channel and judges the answer.

use std::{sync::mpsc, time::Duration};

use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};
use prost_reflect::{DynamicMessage, MethodDescriptor};
use tonic::Code;

use super::{
    Fuzz,
    call::{self, Answer, CatchUnwind},
    case::{self, Case},
    report::{Finding, MethodSummary, Summary, code_name},
};
use crate::panic::payload_text;

/// What a stopped run tells the runner thread, so it ends without reporting.
const STOPPED: &str = "the fuzz run stopped";

/// How one case went: the code it ended with, and why it failed, if it did.
struct Verdict {
    code: Code,
    failure: Option<String>,
}

impl Fuzz<'_> {
    /// Fuzzes every method chosen, one after the other; stops at the first finding.
    pub(super) async fn execute(mut self) -> Result<Summary, Finding> {
        if let Some((method, case)) = self.replay.take() {
            return self.replay_one(&method, case).await;
        }
        let mut summary = Summary::default();
        for method in self.chosen() {
            summary.methods.push(self.method(&method).await?);
        }
        Ok(summary)
    }

    async fn replay_one(&self, method: &MethodDescriptor, case: Case) -> Result<Summary, Finding> {
        let path = crate::descriptors::path(method);
        let verdict = self.judge(method, &path, &case).await;
        let mut result = MethodSummary::new(&path);
        result.record(verdict.code);
        match verdict.failure {
            None => Ok(Summary { methods: vec![result] }),
            Some(failure) => Err(self.finding(method, failure, case, None, 1, 0)),
        }
    }

    /// Runs the cases of `method`.
    async fn method(&self, method: &MethodDescriptor) -> Result<MethodSummary, Finding> {
        let path = crate::descriptors::path(method);
        let seed = self.run_seed() ^ fnv1a(&path);
        let mut config = Config {
            cases: self.case_count(),
            rng_seed: RngSeed::Fixed(seed),
            ..Config::default()
        };
        config.source_file = Some(self.location.file());
        if let Some(persistence) = &self.persistence {
            config.failure_persistence =
                persistence.as_ref().map(|persistence| persistence.box_clone());
        }
        let (to_task, mut cases) = tokio::sync::mpsc::channel::<Case>(1);
        let (to_runner, verdicts) = mpsc::sync_channel::<Option<String>>(1);
        let (done, result) = tokio::sync::oneshot::channel();
        let (descriptor, depth, keys) = (method.clone(), self.depth, self.metadata.clone());
        let runner = std::thread::Builder::new().name(format!("fuzz {path}")).spawn(move || {
            let strategy = case::strategy(&descriptor, depth, &keys);
            let mut runner = TestRunner::new(config);
            let outcome = runner.run(&strategy, |case| {
                to_task.blocking_send(case).map_err(|_| TestCaseError::fail(STOPPED))?;
                match verdicts.recv() {
                    Ok(None) => Ok(()),
                    Ok(Some(failure)) => Err(TestCaseError::fail(failure)),
                    Err(_) => Err(TestCaseError::fail(STOPPED)),
                }
            });
            let _ = done.send(outcome);
        });
        runner.expect("the fuzz runner's thread starts");

        let mut summary = MethodSummary::new(&path);
        let (mut cases_run, mut shrink_steps, mut failed) = (0, 0, false);
        while let Some(case) = cases.recv().await {
            let verdict = self.judge(method, &path, &case).await;
            match failed {
                true => shrink_steps += 1,
                false => {
                    cases_run += 1;
                    summary.record(verdict.code);
                }
            }
            failed |= verdict.failure.is_some();
            if to_runner.send(verdict.failure).is_err() {
                break;
            }
        }
        match result.await {
            Ok(Ok(())) => Ok(summary),
            Ok(Err(TestError::Fail(failure, case))) => Err(self.finding(
                method,
                failure.message().to_owned(),
                case,
                Some(self.run_seed()),
                cases_run,
                shrink_steps,
            )),
            Ok(Err(TestError::Abort(reason))) => {
                panic!("fuzzing {path}: proptest stopped the run: {reason}")
            }
            Err(_) => panic!("fuzzing {path}: the case generator panicked (its message is above)"),
        }
    }

    /// Sends `case` and judges the answer: a panic the server caught, a call that did not end
    /// within the deadline, a status the test does not allow, an answer that does not decode,
    /// or a check the answer fails.
    async fn judge(&self, method: &MethodDescriptor, path: &str, case: &Case) -> Verdict {
        let shared = self.server.shared();
        let mark = shared.panic_count();
        let call = call::call(self.channel.clone(), method, path, case);
        let ended = tokio::time::timeout(self.deadline, CatchUnwind(Box::pin(call))).await;
        let panics = shared.take_panics_from(mark);
        let failed = |code, failure| Verdict { code, failure: Some(failure) };
        if let Some(panic) = panics.first() {
            return failed(Code::Internal, panic.status().message().to_owned());
        }
        let answer = match ended {
            Err(_) => return failed(Code::DeadlineExceeded, did_not_end(self.deadline)),
            Ok(Err(payload)) => {
                return failed(
                    Code::Internal,
                    format!("the call panicked: {}", payload_text(&*payload)),
                );
            }
            Ok(Ok(answer)) => answer,
        };
        let code = answer.status.as_ref().map_or(Code::Ok, |status| status.code());
        if let Some(status) = &answer.status
            && matches!(code, Code::Internal | Code::Unknown)
            && !self.allowed.contains(&code)
        {
            let name = code_name(code);
            let failure = format!(
                "the call answered {name} {:?}: {name} says the server failed, so it fails the \
                 case unless the test allows it with `.allow(Code::{code:?})`",
                status.message()
            );
            return failed(code, failure);
        }
        if let Some(failure) = undecodable(method, &answer) {
            return failed(code, failure);
        }
        for (checked, check) in &self.checks {
            if checked == path
                && let Err(failure) = check(path, case, &answer)
            {
                return failed(code, format!("the check for {path} failed: {failure}"));
            }
        }
        Verdict { code, failure: None }
    }

    fn finding(
        &self,
        method: &MethodDescriptor,
        failure: String,
        case: Case,
        seed: Option<u64>,
        cases: u32,
        shrink_steps: u32,
    ) -> Finding {
        Finding {
            method: crate::descriptors::path(method),
            failure,
            input_type: method.input().full_name().to_owned(),
            streams: method.is_client_streaming(),
            case,
            seed,
            cases,
            shrink_steps,
            location: self.location,
        }
    }
}

fn did_not_end(deadline: Duration) -> String {
    format!(
        "the call did not end within {deadline:?}; if the handler is slow on purpose, give the \
         fuzz statement a longer `.deadline(..)`"
    )
}

/// Why a response does not decode as the method's output type, if one does not.
fn undecodable(method: &MethodDescriptor, answer: &Answer) -> Option<String> {
    let output = method.output();
    answer.responses.iter().enumerate().find_map(|(index, bytes)| {
        DynamicMessage::decode(output.clone(), bytes.as_ref()).err().map(|error| {
            format!(
                "response {index} does not decode as {}, the method's output type: {error}",
                output.full_name()
            )
        })
    })
}

/// A stable hash of a method path, so each method draws its own cases from one seed.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
