//! What `tonic::transport::Server` routes, the kit serves: intercepted services (whose answers
//! carry tonic's `ResponseBody`) through `add_service`, and a whole `tonic::service::Routes`
//! through `add_routes`, with the journal, faults and panic catching of every other call, over
//! every transport. Where tonic decides the answer (a method nobody serves), a real
//! `tonic::transport::Server` with the same routes is asked too.

use std::{convert::Infallible, net::SocketAddr};

use bytes::Bytes;
use common::every_transport;
use http::{Method, Request, Response};
use http_body_util::Full;
use rstest::rstest;
use rstest_reuse::apply;
use tonic::{Code, Status, body::Body, service::Routes, transport::Channel};
use tonic_testkit::{Faults, Reply, Stub, TestServer, Transport};
use tonic_testkit_examples::hello::{
    Greeter,
    pb::{
        HelloRequest, HelloResponse, hello_service_client::HelloServiceClient,
        hello_service_server::HelloServiceServer,
    },
};
use tonic_testkit_support::{Probe, ProbeClient, ProbeServer};
use tower::ServiceExt;
mod common;

use common::{observe, panic_text, probe, raw_request};

/// Passes every call on, tagged with `x-tag: tagged`.
fn tag(mut request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
    request.metadata_mut().insert("x-tag", "tagged".parse().unwrap());
    Ok(request)
}

/// Rejects every call without `authorization: Bearer secret`.
fn require_token(request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
    match request.metadata().get("authorization") {
        Some(token) if token == "Bearer secret" => Ok(request),
        _ => Err(Status::unauthenticated("missing or wrong token")),
    }
}

#[apply(every_transport)]
#[tokio::test]
async fn an_intercepted_service_is_served_with_what_its_interceptor_adds(transport: Transport) {
    let server = TestServer::builder()
        .transport(transport)
        .add_service(ProbeServer::with_interceptor(Probe::new(), tag))
        .start()
        .await;
    let mut client = server.client(ProbeClient::new);

    let reply = client.unary(probe("meta:x-tag", 0)).await.unwrap().into_inner();

    assert_eq!(reply.text, "tagged", "{transport}");
    assert_eq!(server.calls()[0].code(), Some(Code::Ok), "{transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn an_intercepted_service_answers_what_its_interceptor_rejects_with(transport: Transport) {
    let server = TestServer::builder()
        .transport(transport)
        .add_service(ProbeServer::with_interceptor(Probe::new(), require_token))
        .start()
        .await;
    let mut client = server.client(ProbeClient::new);
    let mut authorized = tonic::Request::new(probe("in", 0));
    authorized.metadata_mut().insert("authorization", "Bearer secret".parse().unwrap());

    let rejected = client.unary(probe("out", 0)).await.unwrap_err();
    let accepted = client.unary(authorized).await.unwrap().into_inner();

    assert_eq!(rejected.code(), Code::Unauthenticated, "{transport}");
    assert_eq!(rejected.message(), "missing or wrong token", "{transport}");
    assert_eq!(accepted.text, "in", "{transport}");
    let codes: Vec<_> = server.calls().iter().map(|call| call.code()).collect();
    assert_eq!(codes, [Some(Code::Unauthenticated), Some(Code::Ok)], "{transport}");
    server.shutdown().await;
}

/// The probe behind its interceptor, and the greeter, as production code routes them.
fn routes() -> Routes {
    let mut routes = Routes::builder();
    routes
        .add_service(ProbeServer::with_interceptor(Probe::new(), tag))
        .add_service(HelloServiceServer::new(Greeter));
    routes.routes()
}

fn hello(greeting: &str) -> HelloRequest {
    HelloRequest { greeting: greeting.to_owned() }
}

#[apply(every_transport)]
#[tokio::test]
async fn a_call_through_added_routes_is_served_and_journaled(transport: Transport) {
    let server = TestServer::builder().transport(transport).add_routes(routes()).start().await;
    let (mut probe_client, mut greeter) =
        (server.client(ProbeClient::new), server.client(HelloServiceClient::new));

    let tagged = probe_client.unary(probe("meta:x-tag", 0)).await.unwrap().into_inner();
    let greeted = greeter.hello(hello("routes")).await.unwrap().into_inner();

    assert_eq!(tagged.text, "tagged", "{transport}");
    assert_eq!(greeted, HelloResponse { reply: "Hello, routes!".into() }, "{transport}");
    let calls = server.calls();
    let journaled: Vec<_> = calls.iter().map(|call| (call.method(), call.code())).collect();
    let expected =
        [("/probe.Probe/Unary", Some(Code::Ok)), ("/hello.HelloService/Hello", Some(Code::Ok))];
    assert_eq!(journaled, expected, "{transport}");
    assert_eq!(calls[1].request::<HelloRequest>(0), hello("routes"), "{transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn a_fault_rule_acts_on_a_call_through_added_routes(transport: Transport) {
    let faults = Faults::new();
    let server = TestServer::builder()
        .transport(transport)
        .add_routes(routes())
        .faults(&faults)
        .start()
        .await;
    let mut client = server.client(HelloServiceClient::new);
    faults.on("/hello.HelloService/Hello").times(1).fail(Code::Unavailable, "try again");

    let failed = client.hello(hello("first")).await.unwrap_err();
    let served = client.hello(hello("second")).await.unwrap().into_inner();

    assert_eq!((failed.code(), failed.message()), (Code::Unavailable, "try again"), "{transport}");
    assert_eq!(served.reply, "Hello, second!", "{transport}");
    assert_eq!(faults.fired().len(), 1, "{transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn a_handler_panic_in_added_routes_is_caught(transport: Transport) {
    let server = TestServer::builder().transport(transport).add_routes(routes()).start().await;
    let mut client = server.client(ProbeClient::new);

    let call = tokio::spawn(async move { client.unary(probe("panic:boom", 0)).await });
    let outcome = call.await;

    match transport {
        // As for a service added by name: the panic unwinds into the task that made the call.
        Transport::Direct => {
            let payload = outcome.expect_err("the panic unwinds into the caller").into_panic();
            assert_eq!(panic_text(payload), "boom");
        }
        _ => {
            let status = outcome.unwrap().expect_err("the call is answered INTERNAL");
            assert_eq!(status.code(), Code::Internal, "{transport}");
            assert_eq!(status.message(), "the handler for /probe.Probe/Unary panicked: boom");
        }
    }
    let panics = server.take_panics();
    let caught: Vec<_> = panics.iter().map(|panic| (panic.method(), panic.message())).collect();
    assert_eq!(caught, [("/probe.Probe/Unary", "boom")], "{transport}");
    server.shutdown().await;
}

/// A plain `tonic::transport::Server` serving `routes` on loopback: what tonic answers.
async fn tonic_server(routes: Routes) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    let server =
        tonic::transport::Server::builder().add_routes(routes).serve_with_incoming(incoming);
    let task = tokio::spawn(async move { server.await.expect("the reference server runs") });
    (addr, task)
}

#[apply(every_transport)]
#[tokio::test]
async fn a_method_the_routes_do_not_serve_is_unimplemented_as_tonic_answers(transport: Transport) {
    let only_probe = || Routes::new(Probe::new().server());
    let (addr, reference) = tonic_server(only_probe()).await;
    let server = TestServer::builder().transport(transport).add_routes(only_probe()).start().await;
    let channel = Channel::from_shared(format!("http://{addr}")).unwrap().connect_lazy();

    let status = server.client(HelloServiceClient::new).hello(hello("x")).await.unwrap_err();
    let tonic_status = HelloServiceClient::new(channel).hello(hello("x")).await.unwrap_err();

    assert_eq!(
        (status.code(), status.message()),
        (tonic_status.code(), tonic_status.message()),
        "{transport}"
    );
    assert_eq!(status.code(), Code::Unimplemented);
    assert_eq!(server.calls()[0].code(), Some(Code::Unimplemented), "{transport}");
    server.shutdown().await;
    reference.abort();
}

#[tokio::test]
async fn added_routes_answer_every_path_and_method_as_they_do_in_tonic() {
    let paths = ["/probe.Probe/Unary", "/probe.Probe/Nope", "/probe.Probe/", "/nope.Svc/M", "/"];
    let methods = [Method::POST, Method::GET, Method::HEAD, Method::CONNECT];
    let server =
        TestServer::builder().transport(Transport::Direct).add_routes(routes()).start().await;
    let mut tonic = routes().prepare();

    for method in &methods {
        for path in paths {
            let expected =
                observe((&mut tonic).oneshot(raw_request(method, path)).await.unwrap()).await;
            let answered = server.channel().oneshot(raw_request(method, path)).await;
            let observed = observe(answered.expect("the kit answers")).await;
            assert_eq!(observed, expected, "{method} {path}");
        }
    }
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn a_service_added_by_name_takes_its_calls_and_the_routes_the_rest(transport: Transport) {
    let server = TestServer::builder()
        .transport(transport)
        .add_service(ProbeServer::with_interceptor(Probe::new(), require_token))
        .add_routes(routes())
        .start()
        .await;

    let status = server.client(ProbeClient::new).unary(probe("x", 0)).await.unwrap_err();
    let greeted = server.client(HelloServiceClient::new).hello(hello("both")).await.unwrap();

    assert_eq!(status.code(), Code::Unauthenticated, "{transport}: the one added by name");
    assert_eq!(greeted.into_inner().reply, "Hello, both!", "{transport}");
    server.shutdown().await;
}

#[apply(every_transport)]
#[tokio::test]
async fn a_stub_answers_what_the_added_routes_do_not_take(transport: Transport) {
    let stub = Stub::new();
    stub.on("/hello.HelloService/Hello")
        .reply(Reply::message(HelloResponse { reply: "from the stub".into() }));
    let server = TestServer::builder()
        .transport(transport)
        .add_routes(Routes::new(Probe::new().server()))
        .add_stub(&stub)
        .start()
        .await;

    let routed = server.client(ProbeClient::new).unary(probe("routed", 0)).await.unwrap();
    let stubbed = server.client(HelloServiceClient::new).hello(hello("x")).await.unwrap();

    assert_eq!(routed.into_inner().text, "routed", "{transport}");
    assert_eq!(stubbed.into_inner().reply, "from the stub", "{transport}");
    server.shutdown().await;
}

#[tokio::test]
#[should_panic(expected = "add_routes(..) was called twice on this TestServer; one Routes holds \
                           any number of services (tonic's Server takes one too): add them all \
                           to one Routes (Routes::add_service, or one RoutesBuilder)")]
async fn adding_routes_twice_panics_saying_to_merge_them() {
    let _ = TestServer::builder()
        .add_routes(Routes::new(Probe::new().server()))
        .add_routes(Routes::new(HelloServiceServer::new(Greeter)));
}

/// A service that is not a generated server: a hand-written `Service` whose answers carry a
/// body of tonic's `ResponseBody`-like kind (here `Full<Bytes>`), added by name.
#[derive(Clone)]
struct Teapot;

impl tonic::server::NamedService for Teapot {
    const NAME: &'static str = "probe.Probe";
}

impl tower::Service<Request<Body>> for Teapot {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: Request<Body>) -> Self::Future {
        let (parts, ()) = Status::unavailable("a teapot").into_http::<()>().into_parts();
        std::future::ready(Ok(Response::from_parts(parts, Full::new(Bytes::new()))))
    }
}

#[apply(every_transport)]
#[tokio::test]
async fn a_service_with_any_bytes_body_is_served(transport: Transport) {
    let server = TestServer::builder().transport(transport).add_service(Teapot).start().await;

    let status = server.client(ProbeClient::new).unary(probe("x", 0)).await.unwrap_err();

    assert_eq!((status.code(), status.message()), (Code::Unavailable, "a teapot"), "{transport}");
    server.shutdown().await;
}

#[cfg(feature = "health")]
#[tokio::test]
async fn health_reports_the_services_added_by_name_and_not_those_inside_routes() {
    use tonic_health::pb::{
        HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
    };
    let server = TestServer::builder()
        .add_service(HelloServiceServer::new(Greeter))
        .add_routes(Routes::new(Probe::new().server()))
        .health()
        .start()
        .await;
    let mut health = server.client(HealthClient::new);
    let check = |service: &str| HealthCheckRequest { service: service.to_owned() };

    let by_name = health.check(check("hello.HelloService")).await.unwrap().into_inner();
    let whole = health.check(check("")).await.unwrap().into_inner();
    let in_routes = health.check(check("probe.Probe")).await.unwrap_err();

    assert_eq!(by_name.status(), ServingStatus::Serving);
    assert_eq!(whole.status(), ServingStatus::Serving);
    assert_eq!(in_routes.code(), Code::NotFound);
    server.shutdown().await;
}
