//! TLS (feature `tls`): a throwaway CA per TLS test server, its server and client certificates,
//! the server side of the handshake, the channels that trust the CA, and the `TlsConnectInfo`
//! behind [`TestRequest::peer_certs`](crate::TestRequest::peer_certs).

mod authority;
mod peer_certs;
mod server;

use std::{error::Error as StdError, fmt::Write as _};

pub use authority::{ClientIdentity, DEFAULT_CLIENT_NAME, TestTls};
pub(crate) use peer_certs::connect_info;
pub(crate) use server::accept;

use crate::Transport;
use crate::server::TRANSPORT_ENV;

/// What TLS a builder asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TlsMode {
    /// TLS; clients need not present a certificate.
    Server,
    /// TLS, and clients must present a certificate signed by the server's CA.
    Mutual,
}

impl TlsMode {
    /// The builder method that asked for this mode.
    pub(crate) fn name(self) -> &'static str {
        match self {
            TlsMode::Server => "tls",
            TlsMode::Mutual => "mtls",
        }
    }

    /// Makes the server's CA and certificates for a server over `transport` (`from_env`: the
    /// transport is the default the environment chose) when the builder asked for TLS (`mode`).
    /// It takes the `Option` itself, so that the builder calls it without a closure (as
    /// `Option::map` would), which would make the panic point at the kit instead of the test.
    ///
    /// # Panics
    ///
    /// Over [`Transport::Direct`], which has no connection to encrypt.
    #[track_caller]
    pub(crate) fn start(
        mode: Option<Self>,
        transport: Transport,
        from_env: bool,
    ) -> Option<TestTls> {
        let mode = mode?;
        if transport == Transport::Direct {
            let chosen = match from_env {
                true => format!(" (the default that {TRANSPORT_ENV}=direct chose)"),
                false => String::new(),
            };
            panic!(
                "tonic-testkit: TestServerBuilder::{name}() asks for TLS, and this server's \
                 transport is Transport::Direct{chosen}, which has no connection to encrypt: its \
                 calls are function calls in the test's task. Serve TLS over Transport::Memory or \
                 Transport::Tcp: .transport(Transport::Memory).{name}()",
                name = mode.name()
            );
        }
        Some(TestTls::generate(mode == TlsMode::Mutual))
    }
}

/// An error and its sources, joined by `: `.
pub(crate) fn chain(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(error) = source {
        let _ = write!(text, ": {error}");
        source = error.source();
    }
    text
}
