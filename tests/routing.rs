//! The kit routes calls to services itself (`tonic_testkit::server::Services`) instead of building
//! tonic's router for every server; these tests hold it to answering every request exactly as
//! tonic's `Routes` (what `tonic::transport::Server` serves) answers it: HTTP status, every
//! header, body bytes and trailers, for odd paths and methods, with and without a stub.
//!
//! The kit's answers are taken over [`Transport::Direct`], whose channel hands back what the
//! services answered; tonic's are taken by calling `Routes` itself. With a stub, tonic's router
//! gets the stub (served by a second, stub-only kit server) as its fallback, as the kit used to
//! build it: that pins which calls reach the stub and which reach the service.

use std::convert::Infallible;

use http::{Method, Request};
use tonic::{body::Body, service::Routes};
use tonic_testkit::{Reply, Stub, TestServer, Transport};
use tonic_testkit_support::{Probe, ProbeReply};
use tower::ServiceExt;
mod common;

use common::{observe, raw_request};

const PATHS: [&str; 13] = [
    "/probe.Probe/Unary",
    "/probe.Probe/Unary?x=1",
    "/probe.Probe/Nope",
    "/probe.Probe/",
    "/probe.Probe",
    "/probe.Probe//",
    "/probe.Probe/Unary/extra",
    "//probe.Probe/Unary",
    "/probe.probe/Unary",
    "/nope.Svc/Method",
    "/",
    "/stub.Only/Call",
    "/probe.Probe%2FUnary",
];

const METHODS: [Method; 5] =
    [Method::POST, Method::GET, Method::HEAD, Method::PUT, Method::CONNECT];

async fn compare(kit: &TestServer, mut tonic: Routes, context: &str) {
    for method in &METHODS {
        for path in PATHS {
            let expected = observe(
                (&mut tonic)
                    .oneshot(raw_request(method, path))
                    .await
                    .expect("tonic's routes answer"),
            )
            .await;
            let answered = kit.channel().oneshot(raw_request(method, path)).await;
            let observed = observe(answered.expect("the kit answers")).await;
            assert_eq!(observed, expected, "{method} {path} {context}");
        }
    }
}

/// What `shutdown()` reports, as the text of its panic.
async fn shutdown_report(server: TestServer) -> String {
    let shutdown = tokio::spawn(async move { server.shutdown().await }).await;
    let panic = shutdown.expect_err("the stub reports the calls it had no rule for").into_panic();
    panic.downcast::<String>().map(|text| *text).expect("a panic message")
}

#[tokio::test]
async fn services_answer_every_path_and_method_as_tonics_router_does() {
    let kit = TestServer::builder()
        .add_service(Probe::new().server())
        .transport(Transport::Direct)
        .start()
        .await;
    let tonic = Routes::new(Probe::new().server()).prepare();

    compare(&kit, tonic, "(one service, no stub)").await;
    kit.shutdown().await;
}

#[tokio::test]
async fn a_stub_answers_what_no_service_takes_as_a_fallback_of_tonics_router_does() {
    let rule = |stub: &Stub| {
        stub.on("/stub.Only/Call")
            .reply(Reply::message(ProbeReply { text: "stub".into(), index: 7 }));
    };
    let (kit_stub, tonic_stub) = (Stub::new(), Stub::new());
    rule(&kit_stub);
    rule(&tonic_stub);
    let kit = TestServer::builder()
        .add_service(Probe::new().server())
        .add_stub(&kit_stub)
        .transport(Transport::Direct)
        .start()
        .await;
    let tonic_stub =
        TestServer::builder().add_stub(&tonic_stub).transport(Transport::Direct).start().await;
    let channel = tonic_stub.channel();
    let fallback = tower::service_fn(move |request: Request<axum::body::Body>| {
        let answer = channel.clone().oneshot(request.map(Body::new));
        async move { Ok::<_, Infallible>(answer.await.expect("the stub answers")) }
    });
    let mut tonic = Routes::new(Probe::new().server());
    let router = std::mem::take(tonic.axum_router_mut());
    let tonic = Routes::from(router.fallback_service(fallback));

    compare(&kit, tonic, "(a service and a stub)").await;

    // The same calls, and only those, reached each stub: both report them alike (the journals
    // that follow differ: the kit's also holds the calls its service took).
    let problems = |report: String| report.split("\nThe server saw").next().unwrap().to_owned();
    let kit_problems = problems(shutdown_report(kit).await);
    let tonic_problems = problems(shutdown_report(tonic_stub).await);
    assert_eq!(kit_problems, tonic_problems);
    assert!(kit_problems.contains("(35 problems)"), "{kit_problems}");
}
