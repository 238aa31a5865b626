//! A fuzz run: in the test's own task, each case is generated from its seed with proptest's
//! strategies, sent through the server's channel and judged; the first failing case is shrunk
//! with proptest's value trees, one call per step, and its seed saved where proptest keeps them.

use std::{
    str::FromStr,
    time::{Duration, Instant},
};

use proptest::{
    prelude::Rng,
    strategy::{Strategy, ValueTree},
    test_runner::{
        Config, FailurePersistence, PersistedSeed, RngAlgorithm, RngSeed, TestRng, TestRunner,
    },
};
use prost_reflect::MethodDescriptor;
use tonic::Code;

use super::{
    DEFAULT_CASES, DEFAULT_SEED, Fuzz,
    call::{self, Answer, CatchUnwind},
    case::{self, Case},
    report::{Finding, MethodSummary, Summary},
};
use crate::{
    engine::panic::payload_text,
    protocol::{code_name, descriptors::path},
};

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
        let path = crate::protocol::descriptors::path(method);
        let verdict = self.judge(method, &path, &case).await;
        let mut result = MethodSummary::new(&path);
        result.record(verdict.code);
        match verdict.failure {
            None => Ok(Summary { methods: vec![result] }),
            Some(failure) => Err(self.finding(method, failure, case, None, 1, 0)),
        }
    }

    /// Runs the cases of `method`: the seeds proptest's regression file keeps for this test
    /// first, then new cases, each from a seed of its own drawn from the run's; the first that
    /// fails is shrunk as proptest shrinks, and its seed saved.
    async fn method(&self, method: &MethodDescriptor) -> Result<MethodSummary, Finding> {
        let path = crate::protocol::descriptors::path(method);
        let strategy = case::strategy(method, self.depth, &self.metadata);
        let config = self.config();
        let mut persistence = self.persistence();
        let source = Some(self.location.file());
        let mut seeds = TestRunner::new(Config {
            rng_seed: RngSeed::Fixed(self.run_seed() ^ fnv1a(&path)),
            ..config.clone()
        });
        let persisted: Vec<[u8; 32]> = match &persistence {
            Some(persistence) => persistence
                .load_persisted_failures2(source)
                .iter()
                .filter_map(chacha_seed)
                .collect(),
            None => Vec::new(),
        };
        let mut summary = MethodSummary::new(&path);
        let fresh = (0..config.cases).map(|_| {
            let mut seed = [0u8; 32];
            seeds.rng().fill_bytes(&mut seed);
            seed
        });
        for (index, seed) in persisted.into_iter().chain(fresh.collect::<Vec<_>>()).enumerate() {
            let mut runner = TestRunner::new_with_rng(
                config.clone(),
                TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
            );
            let Ok(mut tree) = strategy.new_tree(&mut runner) else {
                unreachable!("the case strategies never reject a case")
            };
            let verdict = self.judge(method, &path, &tree.current()).await;
            summary.record(verdict.code);
            let Some(failure) = verdict.failure else { continue };
            let (failure, steps) = self.shrink(method, &path, &mut tree, failure, &config).await;
            let case = tree.current();
            if let Some(persistence) = &mut persistence {
                let seed =
                    PersistedSeed::from_str(&format!("cc {}", hex(&seed))).expect("a ChaCha seed");
                persistence.save_persisted_failure2(source, seed, &case);
            }
            let index = u32::try_from(index + 1).unwrap_or(u32::MAX);
            return Err(self.finding(method, failure, case, Some(self.run_seed()), index, steps));
        }
        Ok(summary)
    }

    /// Shrinks a failing case as proptest does: simplify while it still fails, step back when
    /// it passes, until nothing simpler fails or the shrink budget is spent. Returns the last
    /// failure and how many steps it took.
    async fn shrink(
        &self,
        method: &MethodDescriptor,
        path: &str,
        tree: &mut impl ValueTree<Value = Case>,
        mut failure: String,
        config: &Config,
    ) -> (String, u32) {
        let started = Instant::now();
        let budget = (config.max_shrink_time > 0)
            .then(|| Duration::from_millis(config.max_shrink_time.into()));
        let mut steps = 0;
        if !tree.simplify() {
            return (failure, steps);
        }
        loop {
            if steps >= config.max_shrink_iters()
                || budget.is_some_and(|budget| started.elapsed() > budget)
            {
                break;
            }
            steps += 1;
            let simpler = match self.judge(method, path, &tree.current()).await.failure {
                Some(still) => {
                    failure = still;
                    tree.simplify()
                }
                None => tree.complicate(),
            };
            if !simpler {
                break;
            }
        }
        (failure, steps)
    }

    /// proptest's configuration with the environment's variables, the cases and the failure
    /// persistence this run uses.
    fn config(&self) -> Config {
        Config { cases: self.case_count(), failure_persistence: None, ..Config::default() }
    }

    /// Where failing seeds are kept: as the test set it, else as proptest's defaults and
    /// variables say.
    fn persistence(&self) -> Option<Box<dyn FailurePersistence>> {
        match &self.persistence {
            Some(chosen) => chosen.as_ref().map(|persistence| persistence.box_clone()),
            None => Config::default().failure_persistence,
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
            method: crate::protocol::descriptors::path(method),
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
    let (index, error) = answer
        .responses
        .iter()
        .enumerate()
        .find_map(|(index, decoded)| Some((index, decoded.as_ref().err()?)))?;
    Some(format!(
        "response {index} does not decode as {}, the method's output type: {error}",
        method.output().full_name()
    ))
}

/// A stable hash of a method path, so each method draws its own cases from one seed.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The bytes of a ChaCha seed as proptest's regression files write it (`cc <64 hex digits>`);
/// `None` for a seed of another generator.
fn chacha_seed(seed: &PersistedSeed) -> Option<[u8; 32]> {
    let text = seed.to_string();
    let hex = text.strip_prefix("cc ")?.trim();
    let mut bytes = [0u8; 32];
    for (byte, pair) in bytes.iter_mut().zip(hex.as_bytes().chunks(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    (hex.len() == 64).then_some(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
