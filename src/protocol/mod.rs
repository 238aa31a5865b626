//! What the kit imitates of tonic, h2 and mockall: the texts they write, and the parsers of what
//! travels on the wire (method paths, `grpc-timeout`, message frames).

#[cfg(feature = "descriptors")]
pub(crate) mod descriptors;
pub(crate) mod frames;
pub(crate) mod method;
mod timeout;

use std::sync::Arc;

#[cfg(feature = "fuzz")]
use tonic::Code;
use tonic::Status;

use crate::BoxError;
pub(crate) use timeout::grpc_timeout;

// What a tonic client reports.

/// The message a tonic client gives a call whose stream the server reset.
pub(crate) const STREAM_RESET: &str = "h2 protocol error: http2 error";

/// What a tonic client reports when the server dies under a call; a direct call cut off by
/// `shutdown()` reports the same.
pub(crate) const TRANSPORT_ERROR: &str = "transport error";

/// h2's error for a body whose stream broke: what the server reads when the client resets the
/// stream of a call, and what a client reads when the server dies mid-stream.
pub(crate) const BODY_BROKEN: &str = "h2 protocol error: error reading a body from connection";

/// What a tonic client reports when the server closes the connection with `ENHANCE_YOUR_CALM`
/// (the code is h2's reason mapped to gRPC's).
pub(crate) const WAY_TOO_LARGE: &str = "h2 protocol error: http2 error";

// What a tonic server answers.

/// The message of tonic's server for a call past its deadline.
pub(crate) const TIMEOUT_EXPIRED: &str = "Timeout expired";

/// What a tonic server answers a call that load shedding refuses (`RESOURCE_EXHAUSTED`).
pub(crate) const OVERLOADED: &str = "Too many active requests for the connection";

/// The status of a call that load shedding refuses.
pub(crate) fn overloaded() -> Status {
    Status::resource_exhausted(OVERLOADED)
}

// What a tonic channel sends.

/// The user agent a tonic 0.14 channel sends, alone or after the one the client set.
pub(crate) const TONIC_USER_AGENT: &str = "tonic/0.14.9";

// What mockall panics with.

/// What mockall panics with when a call matches none of a mock's expectations.
pub(crate) const MOCKALL_NO_MATCH: &str = "No matching expectation found";

// The gRPC headers the kit reads.

/// Headers looked up by ready-made names: a `&str` name is parsed on every lookup.
pub(crate) static GRPC_STATUS: http::HeaderName = http::HeaderName::from_static("grpc-status");
pub(crate) static GRPC_TIMEOUT: http::HeaderName = http::HeaderName::from_static("grpc-timeout");

// How tonic turns a service's error into the status its client sees.

/// The status a tonic client sees for a service error: the `Status` itself, or, for any other
/// error (the server resets the stream), [`STREAM_RESET`] with the error as its source.
pub(crate) fn client_status(err: BoxError) -> Status {
    Status::try_from_error(err).unwrap_or_else(stream_reset)
}

pub(crate) fn stream_reset(err: BoxError) -> Status {
    let mut status = Status::internal(STREAM_RESET);
    status.set_source(Arc::from(err));
    status
}

// What tonic's metadata accepts.

/// Why a metadata key is refused, as tonic's `MetadataKey` refuses it.
pub(crate) fn invalid_key(key: &str) -> String {
    format!(
        "invalid metadata key {key:?}: keys are lower-case ASCII letters, digits and '-', '_', \
         '.', and must not be empty"
    )
}

/// The name gRPC gives `code`.
#[cfg(feature = "fuzz")]
pub(crate) fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}
