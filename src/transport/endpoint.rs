//! What a tonic channel built from a test's `Endpoint` does to each request, read for
//! [`Transport::Direct`](crate::Transport::Direct), which has no tonic channel to build.
//!
//! tonic's `Endpoint` has no getters for the settings that change what a server sees (its user
//! agent, origin and timeout are private fields, and its `Debug` prints none of them), so the kit
//! builds tonic's own channel from the endpoint, sends requests through it to a throwaway HTTP/2
//! server on an in-memory pipe, and reads them off what happens, on a paused clock of its own
//! (in a thread of its own, so that it works from any runtime): the origin and the user agent
//! from the request head that arrives, the timeout from when the channel gives up on a request
//! that is never answered. A channel that fails its requests before they leave (an origin without
//! a scheme) is read as that failure, for every direct call to repeat.

use std::{convert::Infallible, future::ready, io, panic::resume_unwind, time::Duration};

use http::{
    HeaderValue, Request, Uri,
    header::USER_AGENT,
    uri::{Authority, Scheme},
};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::{sync::mpsc, time::Instant};
use tonic::{Code, Status, TimeoutExpired, body::Body, transport::Endpoint};
use tower::ServiceExt;

use super::memory::AUTHORITY;
use crate::protocol::TONIC_USER_AGENT;

/// What a tonic channel does to each request on its way to the server: tonic's `AddOrigin`,
/// `UserAgent` and `GrpcTimeout` services, with the endpoint's values.
#[derive(Clone, Debug)]
pub(crate) struct ChannelSettings {
    /// The scheme and authority every request's URI gets (`AddOrigin`).
    pub(crate) scheme: Scheme,
    pub(crate) authority: Authority,
    /// The user agent: sent alone, or after the one the request carries (`UserAgent`).
    pub(crate) user_agent: HeaderValue,
    /// How long the client waits for the response headers, at most (`GrpcTimeout`).
    pub(crate) timeout: Option<Duration>,
}

impl Default for ChannelSettings {
    /// What a channel from the memory transport's endpoint does: `http://localhost`, tonic's
    /// user agent, no timeout.
    fn default() -> Self {
        Self {
            scheme: Scheme::HTTP,
            authority: Authority::from_static(AUTHORITY),
            user_agent: HeaderValue::from_static(TONIC_USER_AGENT),
            timeout: None,
        }
    }
}

/// A channel that fails every request before it leaves: the code and message of the status a
/// tonic client makes of its error.
pub(crate) type Failure = (Code, String);

/// The longest timeout read: one that is longer (more than a year) is read as none.
const LONGEST: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// What a channel from `endpoint` does to each request, or how it fails them.
///
/// # Panics
///
/// When the channel sends nothing and reports nothing (it cannot: the settings that could hold a
/// request back are replaced for the reading).
pub(crate) fn read(endpoint: Endpoint) -> Result<ChannelSettings, Failure> {
    // What does not apply over Direct, and could hold the reading up: a concurrency limit or a
    // buffer of zero would never let a request through, a custom executor might spawn on the
    // caller's runtime (blocked until the reading ends), and keep-alive pings would wake the
    // paused clock again and again on its way to `LONGEST`.
    let endpoint = endpoint
        .executor(TokioExecutor::new())
        .concurrency_limit(1)
        .buffer_size(1024)
        .http2_keep_alive_interval(LONGEST * 2);
    let reading = std::thread::scope(|scope| scope.spawn(|| read_on_own_clock(endpoint)).join());
    reading.unwrap_or_else(|payload| resume_unwind(payload))
}

fn read_on_own_clock(endpoint: Endpoint) -> Result<ChannelSettings, Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("tonic-testkit: a runtime to read the Endpoint given to TestServer::channel_with");
    runtime.block_on(async {
        // The head is read with the timeout out of the way, so that even a zero timeout cannot
        // stop the request before it arrives.
        let (scheme, authority, user_agent) = head(endpoint.clone().timeout(LONGEST * 2)).await?;
        let timeout = timeout(endpoint).await;
        Ok(ChannelSettings { scheme, authority, user_agent, timeout })
    })
}

/// The origin and user agent of the request that arrives through a channel from `endpoint`.
async fn head(endpoint: Endpoint) -> Result<(Scheme, Authority, HeaderValue), Failure> {
    let (arrived, mut heads) = mpsc::unbounded_channel();
    let channel = endpoint.connect_with_connector_lazy(tower::service_fn(move |_: Uri| {
        ready(Ok::<_, io::Error>(serve(arrived.clone())))
    }));
    // The channel is kept, so that its worker (and the connector's sender) lives until the end.
    let sent = channel.clone().oneshot(Request::new(Body::empty()));
    tokio::pin!(sent);
    let head = tokio::select! {
        biased;
        head = heads.recv() => head.expect("the connector keeps a sender while the channel lives"),
        result = &mut sent => {
            let error = result.expect_err("the server never answers");
            let status = Status::from_error(Box::new(error));
            return Err((status.code(), status.message().to_owned()));
        }
        () = tokio::time::sleep(LONGEST) => panic!(
            "tonic-testkit: TestServer::channel_with over Transport::Direct reads the Endpoint's \
             user agent, origin and timeout by sending one request through a tonic channel built \
             from it, and that channel sent nothing; please report this with the Endpoint's \
             settings"
        ),
    };
    let (uri, user_agent) = head;
    let uri = uri.into_parts();
    let origin = uri.scheme.zip(uri.authority);
    let (scheme, authority) = origin.expect("hyper sends the scheme and authority of HTTP/2");
    let user_agent = user_agent.expect("tonic's channel always sends a user agent");
    Ok((scheme, authority, user_agent))
}

/// How long a channel from `endpoint` waits for an answer that never comes.
async fn timeout(endpoint: Endpoint) -> Option<Duration> {
    let (arrived, _heads) = mpsc::unbounded_channel();
    let channel = endpoint.connect_with_connector_lazy(tower::service_fn(move |_: Uri| {
        ready(Ok::<_, io::Error>(serve(arrived.clone())))
    }));
    let started = Instant::now();
    let sent = channel.clone().oneshot(Request::new(Body::empty()));
    tokio::select! {
        Err(error) = sent => is_timeout(&error).then(|| started.elapsed()),
        () = tokio::time::sleep(LONGEST) => None,
        else => None,
    }
}

/// Whether `error` is, or was caused by, tonic's `TimeoutExpired`.
fn is_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut error = Some(error);
    while let Some(current) = error {
        if current.is::<TimeoutExpired>() {
            return true;
        }
        error = current.source();
    }
    false
}

type Head = (Uri, Option<HeaderValue>);

/// The client end of a new pipe, whose server end reports each request's head to `arrived` and
/// never answers.
fn serve(arrived: mpsc::UnboundedSender<Head>) -> TokioIo<tokio::io::DuplexStream> {
    let (client, server) = tokio::io::duplex(64 * 1024);
    let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
        let _ = arrived.send((request.uri().clone(), request.headers().get(USER_AGENT).cloned()));
        std::future::pending::<Result<http::Response<Body>, Infallible>>()
    });
    let connection = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(server), service);
    tokio::spawn(connection);
    TokioIo::new(client)
}
