//! tonic's server settings as the engine applies them: the HTTP/2 ones to each connection's
//! hyper server, `timeout` with the call's deadline, the concurrency limit and load shedding per
//! connection. The builder's methods that set them are in `server/settings`.

use std::time::Duration;

/// hyper's (and so a tonic server's) `SETTINGS_MAX_HEADER_LIST_SIZE` when none is set.
pub(crate) const DEFAULT_MAX_HEADER_LIST_SIZE: u32 = 16 * 1024;

/// How long a tonic server waits for the answer to a keep-alive ping when none is set.
const DEFAULT_HTTP2_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// What the builder was given; `None` where tonic's server keeps its default.
#[derive(Clone, Debug, Default)]
pub(crate) struct Settings {
    pub(crate) timeout: Option<Duration>,
    pub(crate) concurrency_limit: Option<usize>,
    pub(crate) load_shed: bool,
    pub(crate) max_concurrent_streams: Option<u32>,
    pub(crate) max_frame_size: Option<u32>,
    pub(crate) initial_stream_window_size: Option<u32>,
    pub(crate) initial_connection_window_size: Option<u32>,
    pub(crate) http2_keepalive_interval: Option<Duration>,
    pub(crate) http2_keepalive_timeout: Option<Duration>,
    pub(crate) http2_adaptive_window: Option<bool>,
    pub(crate) http2_max_pending_accept_reset_streams: Option<usize>,
    pub(crate) http2_max_header_list_size: Option<u32>,
}

impl Settings {
    /// The header list size from which a request is refused with HTTP 431.
    pub(crate) fn max_header_list_size(&self) -> usize {
        self.http2_max_header_list_size.unwrap_or(DEFAULT_MAX_HEADER_LIST_SIZE) as usize
    }

    /// The HTTP/2 server of one connection, set up as `tonic::transport::Server` sets up its
    /// own (same calls, same order: adaptive windows override the window sizes).
    pub(crate) fn http2<E>(&self, executor: E) -> hyper::server::conn::http2::Builder<E> {
        let keepalive_timeout =
            self.http2_keepalive_timeout.unwrap_or(DEFAULT_HTTP2_KEEPALIVE_TIMEOUT);
        let mut builder = hyper::server::conn::http2::Builder::new(executor);
        builder
            .timer(hyper_util::rt::TokioTimer::new())
            .initial_connection_window_size(self.initial_connection_window_size)
            .initial_stream_window_size(self.initial_stream_window_size)
            // No limit unless set, where hyper's own default is 200.
            .max_concurrent_streams(self.max_concurrent_streams)
            .keep_alive_interval(self.http2_keepalive_interval)
            .keep_alive_timeout(keepalive_timeout)
            .adaptive_window(self.http2_adaptive_window.unwrap_or_default())
            .max_pending_accept_reset_streams(self.http2_max_pending_accept_reset_streams)
            .max_local_error_reset_streams(None)
            .max_frame_size(self.max_frame_size);
        if let Some(max) = self.http2_max_header_list_size {
            builder.max_header_list_size(max);
        }
        builder
    }

    /// The settings given that only an HTTP/2 connection has, by the builder method's name.
    pub(crate) fn connection_only(&self) -> Vec<&'static str> {
        let set = [
            ("max_concurrent_streams", self.max_concurrent_streams.is_some()),
            ("max_frame_size", self.max_frame_size.is_some()),
            ("initial_stream_window_size", self.initial_stream_window_size.is_some()),
            ("initial_connection_window_size", self.initial_connection_window_size.is_some()),
            ("http2_keepalive_interval", self.http2_keepalive_interval.is_some()),
            ("http2_keepalive_timeout", self.http2_keepalive_timeout.is_some()),
            ("http2_adaptive_window", self.http2_adaptive_window.is_some()),
            (
                "http2_max_pending_accept_reset_streams",
                self.http2_max_pending_accept_reset_streams.is_some(),
            ),
        ];
        set.into_iter().filter(|(_, given)| *given).map(|(name, _)| name).collect()
    }
}
