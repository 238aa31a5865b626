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
