//! TestRequest::peer_certs: what `Request::peer_certs()` returns in a handler behind mutual TLS.

use std::{net::SocketAddr, sync::Arc};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use tonic::transport::CertificateDer;
use tonic::{Request, Response, Status};
use tonic_testkit::TestRequest;
use tonic_testkit::handler::DEFAULT_REMOTE_ADDR;
use tonic_testkit_support::{ProbeReply, ProbeRequest, ProbeService};

mod common;

use common::probe;

/// A self-signed client certificate for `name`.
fn client_cert(name: &str) -> CertificateDer<'static> {
    rcgen::generate_simple_self_signed([name.to_owned()]).unwrap().cert.der().clone()
}

/// A leaf certificate for `name` and the CA certificate that issued it.
fn leaf_and_ca(name: &str) -> (CertificateDer<'static>, CertificateDer<'static>) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_params = CertificateParams::new([name.to_owned()]).unwrap();
    let leaf = leaf_params.signed_by(&KeyPair::generate().unwrap(), &ca).unwrap();
    (leaf.der().clone(), ca.der().clone())
}

/// What an mTLS handler does first: read the chain the client presented.
fn presented<T>(request: &Request<T>) -> Option<Vec<CertificateDer<'static>>> {
    request.peer_certs().map(|certs| certs.as_ref().clone())
}

#[test]
fn a_handler_reads_the_certificate_the_client_presented() {
    let cert = client_cert("client.example");

    let request = TestRequest::new(probe("", 0)).peer_certs([cert.clone()]).into_request();

    assert_eq!(presented(&request), Some(vec![cert]));
}

#[test]
fn a_chain_reaches_the_handler_whole_and_in_order() {
    let (leaf, ca) = leaf_and_ca("client.example");

    let request =
        TestRequest::new(probe("", 0)).peer_certs([leaf.clone(), ca.clone()]).into_request();

    assert_eq!(presented(&request), Some(vec![leaf, ca]));
}

#[test]
fn without_peer_certs_the_handler_sees_none_as_from_a_client_without_a_certificate() {
    let request = TestRequest::new(probe("", 0)).into_request();

    assert_eq!(presented(&request), None);
}

#[test]
fn the_default_addresses_still_answer() {
    let request = TestRequest::new(probe("", 0)).peer_certs([client_cert("c")]).into_request();

    assert_eq!(request.remote_addr(), Some(DEFAULT_REMOTE_ADDR));
    assert_eq!(request.local_addr(), Some("127.0.0.1:50051".parse().unwrap()));
}

#[test]
fn custom_addresses_still_answer_whichever_builder_call_comes_first() {
    let remote: SocketAddr = "10.1.2.3:5000".parse().unwrap();
    let local: SocketAddr = "10.9.9.9:443".parse().unwrap();
    let cert = client_cert("c");

    let before = TestRequest::new(probe("", 0)).remote_addr(remote).local_addr(local);
    let before = before.peer_certs([cert.clone()]).into_request();
    let after = TestRequest::new(probe("", 0)).peer_certs([cert.clone()]);
    let after = after.remote_addr(remote).local_addr(local).into_request();

    for request in [before, after] {
        assert_eq!((request.remote_addr(), request.local_addr()), (Some(remote), Some(local)));
        assert_eq!(presented(&request), Some(vec![cert.clone()]));
    }
}

#[test]
fn any_bytes_pass_as_a_certificate_for_nothing_is_parsed_or_verified() {
    let opaque = CertificateDer::from(b"not a certificate".to_vec());

    let request = TestRequest::new(probe("", 0)).peer_certs([opaque.clone()]).into_request();

    assert_eq!(presented(&request), Some(vec![opaque]));
}

#[test]
#[should_panic(
    expected = "TestRequest::peer_certs needs at least one certificate; for a client that presents \
                none, leave peer_certs out: the handler's request.peer_certs() is then None"
)]
fn an_empty_certificate_list_is_rejected_with_the_fix() {
    let _ = TestRequest::new(probe("", 0)).peer_certs([]);
}

/// A service that answers with the DNS name of the client certificate's subject, as an
/// authorising handler would look it up.
struct Whoami;

#[tonic::async_trait]
impl ProbeService for Whoami {
    async fn unary(&self, request: Request<ProbeRequest>) -> Result<Response<ProbeReply>, Status> {
        let certs: Arc<Vec<CertificateDer<'static>>> =
            request.peer_certs().ok_or_else(|| Status::unauthenticated("no client certificate"))?;
        let user = request.metadata().get("x-user").map(|v| v.to_str().unwrap().to_owned());
        let text =
            format!("{} certs, user {user:?}, peer {:?}", certs.len(), request.remote_addr());
        Ok(Response::new(ProbeReply { text, index: certs.len() as u32 }))
    }
}

#[tokio::test]
async fn a_generated_handler_called_directly_sees_the_certificates_with_the_rest_of_the_request() {
    let (leaf, ca) = leaf_and_ca("client.example");
    let request = TestRequest::new(probe("", 0))
        .metadata("x-user", "ada")
        .remote_addr("10.1.2.3:5000".parse().unwrap())
        .peer_certs([leaf, ca]);

    let reply = Whoami.unary(request.into()).await.unwrap().into_inner();
    let status = Whoami.unary(TestRequest::new(probe("", 0)).into()).await.unwrap_err();

    assert_eq!(reply.text, "2 certs, user Some(\"ada\"), peer Some(10.1.2.3:5000)");
    assert_eq!(status.message(), "no client certificate");
}

#[test]
#[should_panic(expected = "TestRequest::peer_certs: the in-memory TLS handshake that gives the \
                           request its TlsConnectInfo failed, presenting 1 certificate(s) of \
                           70000 bytes in all: on the server side: received corrupt message of \
                           type HandshakePayloadTooLarge")]
fn a_chain_too_large_for_a_rustls_server_fails_the_conversion_as_it_fails_the_handshake() {
    let huge = CertificateDer::from(vec![0; 70_000]);

    let _ = TestRequest::new(probe("", 0)).peer_certs([huge]).into_request();
}
