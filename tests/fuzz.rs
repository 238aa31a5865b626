//! Fuzzing a running server from its descriptors: a fragile handler's failure shrunk to the
//! field that breaks it, with the exact report; every kind of failure; determinism; replay;
//! regression files; misuse.

mod common;

use std::panic::AssertUnwindSafe;

use common::{every_transport, http2_transports, panic_location, panic_text};
use proptest::test_runner::FileFailurePersistence;
use prost::Message;
use rstest::rstest;
use rstest_reuse::apply;
use tokio_stream::StreamExt;
use tonic::{Code, Request, Response, Status, Streaming};
use tonic_testkit::{
    Reply, Stub, TestServer, Transport,
    fuzz::{Exchange, Finding},
};
use tonic_testkit_support::{
    FILE_DESCRIPTOR_SET, Probe, ProbeReply, ProbeRequest, ProbeServer, ProbeService, ReplyStream,
    shapes::{Everything, SHAPES_DESCRIPTOR_SET, Shapes},
};

const UNARY: &str = "/probe.Probe/Unary";
const CLIENT_STREAM: &str = "/probe.Probe/ClientStream";
const SERVER_STREAM: &str = "/probe.Probe/ServerStream";
const BIDI: &str = "/probe.Probe/Bidi";

/// A probe whose handlers break on inputs nobody wrote a test for.
#[derive(Clone, Copy, Debug, Default)]
struct Fragile;

#[tonic::async_trait]
impl ProbeService for Fragile {
    /// Answers the first `count` bytes of the text: slicing inside a multi-byte character
    /// panics.
    async fn unary(&self, request: Request<ProbeRequest>) -> Result<Response<ProbeReply>, Status> {
        let ProbeRequest { text, count } = request.into_inner();
        let end = (count as usize).min(text.len());
        Ok(Response::new(ProbeReply { text: text[..end].to_owned(), index: count }))
    }

    /// Answers the first message's text: a stream of none breaks it.
    async fn client_stream(
        &self,
        request: Request<Streaming<ProbeRequest>>,
    ) -> Result<Response<ProbeReply>, Status> {
        let first = request.into_inner().next().await.unwrap()?;
        Ok(Response::new(ProbeReply { text: first.text, index: 0 }))
    }

    /// Sends up to three replies; a count past `i32::MAX` is refused with `INTERNAL`, as a store
    /// that overflows would answer.
    async fn server_stream(
        &self,
        request: Request<ProbeRequest>,
    ) -> Result<Response<ReplyStream>, Status> {
        let count = request.into_inner().count;
        if count > i32::MAX as u32 {
            return Err(Status::internal(format!("no room for {count} replies")));
        }
        let replies = (0..count.min(3)).map(|index| Ok(ProbeReply { text: String::new(), index }));
        Ok(Response::new(Box::pin(tokio_stream::iter(replies))))
    }

    /// Answers each message; one with a count past a thousand waits for ever.
    async fn bidi(
        &self,
        request: Request<Streaming<ProbeRequest>>,
    ) -> Result<Response<ReplyStream>, Status> {
        let replies = request.into_inner().then(|message| async move {
            let message = message?;
            if message.count > 1_000 {
                std::future::pending::<()>().await;
            }
            Ok(ProbeReply { text: message.text, index: message.count })
        });
        Ok(Response::new(Box::pin(replies)))
    }
}

/// The finding a fuzz run of `method` reports, with no regression file kept.
async fn finding(server: &TestServer, method: &str) -> Finding {
    let fuzz = server.fuzz(FILE_DESCRIPTOR_SET).methods([method]).failure_persistence(None);
    fuzz.try_run().await.expect_err("the fuzz run found nothing")
}

async fn serve(transport: Transport, service: impl ProbeService) -> TestServer {
    TestServer::builder().transport(transport).add_service(ProbeServer::new(service)).start().await
}

#[apply(every_transport)]
#[tokio::test]
async fn a_fragile_handler_is_found_and_shrunk_to_the_field_that_breaks_it(transport: Transport) {
    let server = serve(transport, Fragile).await;

    let fuzz = server.fuzz(FILE_DESCRIPTOR_SET);
    let at = format!("{}:{}:23", file!(), line!() - 1);
    let finding = fuzz.methods([UNARY]).failure_persistence(None).try_run().await.unwrap_err();

    assert_eq!(
        finding.to_string(),
        format!(
            "fuzzing /probe.Probe/Unary found a failing case (case 6 of the run, shrunk in 28 \
             steps; the fuzz statement is at {at})
  failure:  the handler for /probe.Probe/Unary panicked: end byte index 1 is not a char boundary; it is inside 'é' (bytes 0..2) of `é`
  request:  probe.ProbeRequest {{ text: \"\\303\\251\" count: 1 }}
  metadata: none
  seed:     0 (`.seed(0)` or PROPTEST_RNG_SEED=0 runs the same cases again)
Replay this case alone as a regular test: add to the fuzz statement
    .replay(\"/probe.Probe/Unary\", &[r#\"text: \"\\303\\251\" count: 1\"#], &[])"
        )
    );
    assert_eq!(finding.method(), UNARY);
    assert_eq!(finding.requests(), [r#"text: "\303\251" count: 1"#]);
    assert_eq!(finding.seed(), Some(0));
    // The fuzz run reported the panics it provoked: shutdown has nothing left to report.
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn the_replay_line_replays_exactly_the_case(transport: Transport) {
    let server = serve(transport, Fragile).await;

    let finding = server
        .fuzz(FILE_DESCRIPTOR_SET)
        .replay("/probe.Probe/Unary", &[r#"text: "\303\251" count: 1"#], &[])
        .try_run()
        .await
        .unwrap_err();

    let report = finding.to_string();
    assert!(report.starts_with("replaying a case of /probe.Probe/Unary failed"), "{report}");
    assert_eq!(
        finding.failure(),
        "the handler for /probe.Probe/Unary panicked: end byte index 1 is not a char boundary; \
         it is inside 'é' (bytes 0..2) of `é`"
    );
    assert_eq!(finding.seed(), None);
    // A case that passes replays as a pass.
    let summary = server
        .fuzz(FILE_DESCRIPTOR_SET)
        .replay("/probe.Probe/Unary", &[r#"text: "é" count: 2"#], &[("x-tenant", "")])
        .await;
    assert_eq!(summary.count(UNARY, Code::Ok), 1);
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn a_client_stream_that_sends_nothing_is_a_finding(transport: Transport) {
    let server = serve(transport, Fragile).await;

    let finding = finding(&server, CLIENT_STREAM).await;

    assert_eq!(
        finding.failure(),
        "the handler for /probe.Probe/ClientStream panicked: called `Option::unwrap()` on a \
         `None` value"
    );
    assert_eq!(finding.requests(), Vec::<String>::new());
    assert!(finding.to_string().contains("\n  requests: 0 messages of probe.ProbeRequest\n"));
    assert!(finding.replay().ends_with(".replay(\"/probe.Probe/ClientStream\", &[], &[])"));
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn internal_fails_a_case_unless_the_test_allows_it(transport: Transport) {
    let server = serve(transport, Fragile).await;
    let fuzz =
        || server.fuzz(FILE_DESCRIPTOR_SET).methods([SERVER_STREAM]).failure_persistence(None);

    let finding = fuzz().try_run().await.unwrap_err();

    assert_eq!(
        finding.failure(),
        "the call answered INTERNAL \"no room for 2147483648 replies\": INTERNAL says the \
         server failed, so it fails the case unless the test allows it with \
         `.allow(Code::Internal)`"
    );
    assert_eq!(finding.requests(), ["count: 2147483648"]);
    let summary = fuzz().allow(Code::Internal).await;
    assert_eq!(summary.cases(SERVER_STREAM), 256);
    assert!(summary.count(SERVER_STREAM, Code::Internal) > 0, "{summary}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test(start_paused = true)]
async fn a_call_that_does_not_end_is_a_finding(transport: Transport) {
    let server = serve(transport, Fragile).await;

    let finding = finding(&server, BIDI).await;

    assert_eq!(
        finding.failure(),
        "the call did not end within 2s; if the handler is slow on purpose, give the fuzz \
         statement a longer `.deadline(..)`"
    );
    assert_eq!(finding.requests(), ["count: 1001"]);
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn an_answer_that_does_not_decode_as_the_output_type_is_a_finding(transport: Transport) {
    // A stub that answers a message of another type: its field 1 is a number, where
    // ProbeReply's is text.
    let stub = Stub::new();
    stub.on(UNARY).reply(Reply::message(prost_types::Duration { seconds: 5, nanos: 0 }));
    let server = TestServer::builder().transport(transport).add_stub(&stub).start().await;

    let finding = finding(&server, UNARY).await;

    assert_eq!(
        finding.failure(),
        "response 0 does not decode as probe.ProbeReply, the method's output type: failed to \
         decode Protobuf message: invalid wire type: Varint (expected LengthDelimited)"
    );
    assert_eq!(finding.requests(), [""]);
}

#[apply(every_transport)]
#[tokio::test]
async fn a_check_the_answer_fails_is_a_finding(transport: Transport) {
    let server = serve(transport, Probe::new()).await;
    let echoes = |exchange: &Exchange<ProbeRequest, ProbeReply>| {
        assert_eq!(exchange.response().unwrap().text, exchange.request().text);
    };
    let never_empty = |exchange: &Exchange<ProbeRequest, ProbeReply>| {
        assert!(!exchange.response().unwrap().text.is_empty(), "the reply is empty");
    };

    let summary =
        server.fuzz(FILE_DESCRIPTOR_SET).methods([UNARY]).cases(64).check(UNARY, echoes).await;
    let finding = server
        .fuzz(FILE_DESCRIPTOR_SET)
        .methods([UNARY])
        .check(UNARY, never_empty)
        .failure_persistence(None)
        .try_run()
        .await
        .unwrap_err();

    assert_eq!(summary.count(UNARY, Code::Ok), 64);
    assert_eq!(finding.failure(), "the check for /probe.Probe/Unary failed: the reply is empty");
    assert_eq!(finding.requests(), [""]);
}

#[apply(http2_transports)]
#[tokio::test]
async fn the_same_seed_sends_the_same_requests_on_every_transport_and_run(transport: Transport) {
    async fn sent(transport: Transport, seed: u64) -> Vec<(Vec<ProbeRequest>, Option<String>)> {
        let server = serve(transport, Probe::new()).await;
        server
            .fuzz(FILE_DESCRIPTOR_SET)
            .methods([UNARY, CLIENT_STREAM])
            .metadata("x-tenant")
            .seed(seed)
            .cases(40)
            .await;
        let calls = server.calls().into_iter();
        let sent = calls.map(|call| {
            let tenant =
                call.metadata().get("x-tenant").map(|value| value.to_str().unwrap().to_owned());
            (call.requests::<ProbeRequest>(), tenant)
        });
        sent.collect()
    }

    let direct = sent(Transport::Direct, 7).await;
    let this = sent(transport, 7).await;
    let again = sent(transport, 7).await;
    let other_seed = sent(transport, 8).await;

    assert_eq!(direct.len(), 80);
    assert_eq!(this, direct);
    assert_eq!(again, direct);
    assert_ne!(other_seed, direct);
    // The metadata key was sent absent, empty and set.
    let tenants: Vec<&Option<String>> = direct.iter().map(|(_, tenant)| tenant).collect();
    assert!(tenants.contains(&&None));
    assert!(tenants.contains(&&Some(String::new())));
    assert!(tenants.iter().any(|tenant| tenant.as_ref().is_some_and(|value| value.len() > 1)));
    // Client streams of none, one and many messages.
    let lengths: Vec<usize> = direct[40..].iter().map(|(requests, _)| requests.len()).collect();
    assert!(lengths.contains(&0) && lengths.contains(&1) && lengths.iter().any(|n| *n > 3));
}

#[tokio::test]
async fn a_failing_seed_is_saved_and_tried_first_on_the_next_run() {
    let server = serve(Transport::Memory, Fragile).await;
    let dir = std::env::temp_dir().join(format!("tonic-testkit-fuzz-{}", std::process::id()));
    let file: &'static str = String::leak(dir.join("regressions.txt").display().to_string());
    let persisted = || Some(Box::new(FileFailurePersistence::Direct(file)) as _);
    let fuzz = || server.fuzz(FILE_DESCRIPTOR_SET).methods([UNARY]);

    let first = fuzz().failure_persistence(persisted()).try_run().await;
    let saved = std::fs::read_to_string(file).expect("the failing seed was saved");
    // Another seed: alone it finds the failure only after some cases.
    let fresh = fuzz().seed(99).failure_persistence(None).try_run().await;
    let second = fuzz().seed(99).failure_persistence(persisted()).try_run().await;
    std::fs::remove_dir_all(&dir).unwrap();

    assert!(first.is_err());
    assert_eq!(saved.lines().filter(|line| line.starts_with("cc ")).count(), 1, "{saved}");
    let fresh = fresh.unwrap_err().to_string();
    assert!(!fresh.contains("(case 1 of the run,"), "{fresh}");
    let second = second.unwrap_err().to_string();
    assert!(second.contains("(case 1 of the run,"), "{second}");
    assert!(
        second.contains("\n  request:  probe.ProbeRequest { text: \"\\303\\251\" count: 1 }\n"),
        "{second}"
    );
}

#[tokio::test]
async fn every_kind_of_field_round_trips_through_an_echo() {
    let server = TestServer::builder().add_service(Shapes.server()).start().await;
    let echoed = |exchange: &Exchange<Everything, Everything>| {
        if exchange.status().is_none() {
            let sent: Vec<Vec<u8>> =
                exchange.requests().iter().map(Message::encode_to_vec).collect();
            let came: Vec<Vec<u8>> =
                exchange.responses().iter().map(Message::encode_to_vec).collect();
            assert!(sent == came, "the echo differs from the request");
        }
    };

    let summary = server
        .fuzz(SHAPES_DESCRIPTOR_SET)
        .cases(64)
        .check("/shapes.Shapes/Echo", echoed)
        .check("/shapes.Shapes/EchoEach", echoed)
        .await;

    assert_eq!(summary.methods(), ["/shapes.Shapes/Echo", "/shapes.Shapes/EchoEach"]);
    for method in summary.methods() {
        let ok = summary.count(method, Code::Ok);
        // The rest were refused for a message past tonic's 4 MiB limit.
        let too_large = summary.count(method, Code::OutOfRange);
        assert_eq!((summary.cases(method), ok + too_large), (64, 64), "{summary}");
        assert!(ok > 48, "{summary}");
    }
}

#[tokio::test]
async fn misuse_is_refused_at_the_statement() {
    let server = serve(Transport::Direct, Probe::new()).await;
    let refused = |build: &dyn Fn()| {
        panic_text(std::panic::catch_unwind(AssertUnwindSafe(build)).unwrap_err())
    };

    assert_eq!(
        refused(&|| drop(server.fuzz(FILE_DESCRIPTOR_SET).methods(["/probe.Probe/Unay"]))),
        "Fuzz::methods(\"/probe.Probe/Unay\"): the descriptors describe no such method; the \
         methods they describe, closest first: /probe.Probe/Unary, /probe.Probe/Bidi, \
         /probe.Probe/ClientStream, /probe.Probe/ServerStream"
    );
    assert_eq!(
        refused(&|| drop(server.fuzz(FILE_DESCRIPTOR_SET).allow(Code::NotFound))),
        "Fuzz::allow(NotFound): only INTERNAL and UNKNOWN fail a case, so only they can be \
         allowed; every other status is an answer the fuzz run accepts already"
    );
    assert_eq!(
        refused(&|| drop(server.fuzz(FILE_DESCRIPTOR_SET).metadata("X Tenant"))),
        "Fuzz::metadata(\"X Tenant\"): not an ASCII metadata key (invalid gRPC metadata key name); give a \
         lowercase key such as \"x-tenant\" (binary keys ending in -bin are not fuzzed)"
    );
    assert_eq!(
        refused(&|| drop(
            server
                .fuzz(FILE_DESCRIPTOR_SET)
                .check(UNARY, |_: &Exchange<ProbeReply, ProbeReply>| {})
        )),
        "Fuzz::check(\"/probe.Probe/Unary\"): the check reads the request as ProbeReply, and the \
         method's request type is probe.ProbeRequest; read it as that message"
    );
    assert_eq!(
        refused(&|| drop(server.fuzz(FILE_DESCRIPTOR_SET).replay(UNARY, &["text: 3"], &[]))),
        "Fuzz::replay(\"/probe.Probe/Unary\"): message 0 is not a probe.ProbeRequest in \
         protobuf's text format: expected a string, but found '3'"
    );
    assert_eq!(
        refused(&|| drop(server.fuzz(FILE_DESCRIPTOR_SET).replay(UNARY, &[], &[]))),
        "Fuzz::replay(\"/probe.Probe/Unary\"): the method takes one request message, and 0 were given"
    );
    assert_eq!(
        refused(&|| drop(server.fuzz(b"not a descriptor set"))),
        "TestServer::fuzz: the bytes given are not an encoded FileDescriptorSet (failed to decode \
         file descriptor set); give the set the build writes (tonic_prost_build's \
         file_descriptor_set_path, or the encoded result of protox::compile)"
    );
    let (file, line) =
        panic_location(AssertUnwindSafe(|| drop(server.fuzz(FILE_DESCRIPTOR_SET).allow(Code::Ok))));
    assert_eq!((file.as_str(), line), (file!(), line!() - 1));
}

#[test]
fn a_server_that_serves_none_of_the_described_services_says_so() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();

    let refused = std::panic::catch_unwind(AssertUnwindSafe(|| {
        runtime.block_on(async {
            let server = TestServer::builder().add_service(Shapes.server()).start().await;
            server.fuzz(FILE_DESCRIPTOR_SET).await;
        })
    }));

    assert_eq!(
        panic_text(refused.unwrap_err()),
        "fuzz: the server serves none of the services the descriptors describe (described: \
         probe.Probe; served by name: shapes.Shapes); add the service to the server, or name the \
         methods to fuzz with `.methods(..)`"
    );
}

/// The half of `proptest_variables_set_the_cases_and_the_seed` that runs under the variables.
#[tokio::test]
#[ignore = "run by proptest_variables_set_the_cases_and_the_seed, with the variables set"]
async fn fuzz_under_proptest_variables() {
    let server = serve(Transport::Direct, Probe::new()).await;

    let summary = server.fuzz(FILE_DESCRIPTOR_SET).methods([UNARY]).await;
    let explicit = server.fuzz(FILE_DESCRIPTOR_SET).methods([UNARY]).cases(3).seed(1).await;

    // The test's own settings win over the variables.
    assert_eq!(explicit.cases(UNARY), 3);
    let first: ProbeRequest = server.calls()[0].request(0);
    println!("cases: {}; first: {first:?}", summary.cases(UNARY));
}

#[test]
fn proptest_variables_set_the_cases_and_the_seed() {
    let run = |variables: &[(&str, &str)]| {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap());
        child.args(["--exact", "fuzz_under_proptest_variables", "--ignored", "--nocapture"]);
        child
            .env_remove("PROPTEST_CASES")
            .env_remove("PROPTEST_RNG_SEED")
            .envs(variables.iter().copied());
        let output = child.output().unwrap();
        let stdout = String::from_utf8(output.stdout).unwrap();
        assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
        let line =
            stdout.lines().find(|line| line.starts_with("cases: ")).expect("the child's line");
        line.to_owned()
    };

    let defaults = run(&[]);
    let seven = run(&[("PROPTEST_CASES", "7")]);
    let seeded = run(&[("PROPTEST_RNG_SEED", "5")]);
    let seeded_again = run(&[("PROPTEST_RNG_SEED", "5")]);

    assert!(defaults.starts_with("cases: 256; first: "), "{defaults}");
    assert!(seven.starts_with("cases: 7; first: "), "{seven}");
    // The seed decides the requests: the same one the same, another another.
    assert_eq!(seeded, seeded_again);
    assert_ne!(seeded, defaults);
    assert_eq!(seven.split_once("first").unwrap().1, defaults.split_once("first").unwrap().1);
}
