//! tonic's server settings on [`TestServerBuilder`], under tonic's names and signatures
//! (`tonic::transport::Server::timeout`, `concurrency_limit_per_connection`, ...), applied where
//! a tonic server applies them: the HTTP/2 ones to each connection's hyper server, `timeout`
//! with the call's deadline, the concurrency limit and load shedding per connection, in front of
//! the test's layers.

mod connection;

use std::time::Duration;

use crate::TestServerBuilder;
#[cfg(doc)]
use crate::Transport;

/// tonic's server settings, with `tonic::transport::Server`'s names, signatures and meanings.
///
/// `timeout`, `concurrency_limit_per_connection`, `load_shed` and `http2_max_header_list_size`
/// apply over every transport (a [`Transport::Direct`] channel counts as one connection; its
/// clones share it). The others are settings of an HTTP/2 connection: they apply over
/// [`Transport::Memory`] and [`Transport::Tcp`], and a server given one panics at start over
/// [`Transport::Direct`].
impl<L> TestServerBuilder<L> {
    /// Set a timeout on for all request handlers, as `tonic::transport::Server::timeout` does:
    /// a call still unanswered after `timeout` (or after the client's own `grpc-timeout`, if that
    /// is shorter) is answered `CANCELLED "Timeout expired"`. The time runs from when the
    /// call is let in (a call waiting for its connection's
    /// [concurrency limit](Self::concurrency_limit_per_connection) is not timed yet).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use tonic::Code;
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_examples::rides::Rides;
    /// use tonic_testkit_examples::rides::pb::{
    ///     QuoteRequest, rides_client::RidesClient, rides_server::RidesServer,
    /// };
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// // Arrange
    /// let server = TestServer::builder()
    ///     .add_service(RidesServer::new(Rides::with_pricing_delay(Duration::from_millis(200))))
    ///     .timeout(Duration::from_millis(50))
    ///     .start()
    ///     .await;
    /// let mut client = server.client(RidesClient::new);
    ///
    /// // Act: pricing takes 200 ms.
    /// let status = client.quote(QuoteRequest::default()).await;
    ///
    /// // Assert
    /// let status = status.unwrap_err();
    /// assert_eq!((status.code(), status.message()), (Code::Cancelled, "Timeout expired"));
    /// # }
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = Some(timeout);
        self
    }

    /// Set the concurrency limit applied to on requests inbound per connection, as
    /// `tonic::transport::Server::concurrency_limit_per_connection` does: past `limit` calls in
    /// progress on one connection, a call waits for one of them to be answered (its response
    /// headers sent) before it reaches the layers and services, unless
    /// [`load_shed`](Self::load_shed) refuses it. Each channel the server hands out has its own
    /// connection, so a call on another channel does not wait.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_examples::hello::Stuck;
    /// use tonic_testkit_examples::hello::pb::{
    ///     HelloRequest, hello_service_client::HelloServiceClient,
    ///     hello_service_server::HelloServiceServer,
    /// };
    /// use tonic_testkit_examples::users::Users;
    /// use tonic_testkit_examples::users::pb::{
    ///     GetUserRequest, user_service_client::UserServiceClient, user_service_server::UserServiceServer,
    /// };
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// // Arrange: one call in progress on the channel's connection.
    /// let stuck = Stuck::new();
    /// let server = TestServer::builder()
    ///     .add_service(HelloServiceServer::new(stuck.clone()))
    ///     .add_service(UserServiceServer::new(Users::default()))
    ///     .concurrency_limit_per_connection(1)
    ///     .start()
    ///     .await;
    /// let channel = server.channel();
    /// let mut busy = HelloServiceClient::new(channel.clone());
    /// tokio::spawn(async move { busy.hello(HelloRequest::default()).await });
    /// stuck.reached().await;
    ///
    /// // Act
    /// let mut users = UserServiceClient::new(channel); // the same connection
    /// let second = users.get_user(GetUserRequest { id: 1 });
    /// let waited = tokio::time::timeout(Duration::from_secs(5), second).await;
    /// let mut elsewhere = server.client(UserServiceClient::new); // a connection of its own
    /// let answered = elsewhere.get_user(GetUserRequest { id: 1 }).await;
    ///
    /// // Assert: the second call waits; a call on another connection does not.
    /// assert!(waited.is_err());
    /// assert!(answered.is_ok());
    /// # }
    /// ```
    pub fn concurrency_limit_per_connection(mut self, limit: usize) -> Self {
        self.settings.concurrency_limit = Some(limit);
        self
    }

    /// Enable or disable load shedding, as `tonic::transport::Server::load_shed` does: a call
    /// that would wait (for its connection's
    /// [concurrency limit](Self::concurrency_limit_per_connection), or for a layer that is not
    /// ready) is answered at once `RESOURCE_EXHAUSTED "Too many active requests for the
    /// connection"`. The default is disabled.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic::Code;
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_examples::hello::Stuck;
    /// use tonic_testkit_examples::hello::pb::{
    ///     HelloRequest, hello_service_client::HelloServiceClient,
    ///     hello_service_server::HelloServiceServer,
    /// };
    /// use tonic_testkit_examples::users::Users;
    /// use tonic_testkit_examples::users::pb::{
    ///     GetUserRequest, user_service_client::UserServiceClient, user_service_server::UserServiceServer,
    /// };
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// // Arrange: one call in progress on the channel's connection.
    /// let stuck = Stuck::new();
    /// let server = TestServer::builder()
    ///     .add_service(HelloServiceServer::new(stuck.clone()))
    ///     .add_service(UserServiceServer::new(Users::default()))
    ///     .concurrency_limit_per_connection(1)
    ///     .load_shed(true)
    ///     .start()
    ///     .await;
    /// let channel = server.channel();
    /// let mut busy = HelloServiceClient::new(channel.clone());
    /// tokio::spawn(async move { busy.hello(HelloRequest::default()).await });
    /// stuck.reached().await;
    ///
    /// // Act
    /// let mut users = UserServiceClient::new(channel); // the same connection
    /// let status = users.get_user(GetUserRequest { id: 1 }).await.unwrap_err();
    ///
    /// // Assert
    /// assert_eq!(status.code(), Code::ResourceExhausted);
    /// assert_eq!(status.message(), "Too many active requests for the connection");
    /// # }
    /// ```
    pub fn load_shed(mut self, load_shed: bool) -> Self {
        self.settings.load_shed = load_shed;
        self
    }

    /// Sets the max size of received header frames, as
    /// `tonic::transport::Server::http2_max_header_list_size` does (default: hyper's, 16 KiB):
    /// a request whose header list (metadata and pseudo-headers, each counted with 32 bytes
    /// more, as HTTP/2 counts them) reaches it is answered HTTP `431` and never reaches the
    /// services, which a tonic client reports as `UNKNOWN "grpc-status header missing, mapped
    /// from HTTP status code 431"`. Over [`Transport::Direct`] too.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic::{Code, Request};
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_examples::hello::Greeter;
    /// use tonic_testkit_examples::hello::pb::{
    ///     HelloRequest, hello_service_client::HelloServiceClient,
    ///     hello_service_server::HelloServiceServer,
    /// };
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// // Arrange
    /// let server = TestServer::builder()
    ///     .add_service(HelloServiceServer::new(Greeter))
    ///     .http2_max_header_list_size(1024)
    ///     .start()
    ///     .await;
    /// let mut client = server.client(HelloServiceClient::new);
    /// let mut request = Request::new(HelloRequest { greeting: "Ada".into() });
    /// request.metadata_mut().insert("x-big", "x".repeat(2048).parse().unwrap());
    ///
    /// // Act
    /// let status = client.hello(request).await.unwrap_err();
    ///
    /// // Assert
    /// assert_eq!(status.code(), Code::Unknown);
    /// assert_eq!(status.message(), "grpc-status header missing, mapped from HTTP status code 431");
    /// assert!(server.calls().is_empty());
    /// # }
    /// ```
    pub fn http2_max_header_list_size(mut self, max: impl Into<Option<u32>>) -> Self {
        self.settings.http2_max_header_list_size = max.into();
        self
    }
}

#[cfg(test)]
mod tests;
