//! [`Health`]: the gRPC health service of a test server (feature `health`), served by
//! tonic-health and flipped by the test.

use std::{fmt, future::Future, sync::Arc};

use tonic::server::NamedService;

use crate::engine::router::ServicesBuilder;
use tonic_health::{
    ServingStatus,
    pb::health_server::HealthServer,
    server::{HealthReporter, HealthService},
};

/// The health a test server reports for its services over `grpc.health.v1.Health`, as
/// tonic-health's `HealthReporter` would in production: the test flips services between
/// `SERVING` and `NOT_SERVING`, and clients see it through `Check` and `Watch`.
///
/// Add the health service with [`TestServerBuilder::health`](crate::TestServerBuilder::health)
/// and get this handle from [`TestServer::health`](crate::TestServer::health). At start,
/// every service added with `add_service` is `SERVING`, and so is `""`, the server as a whole.
/// A `Check` or `Watch` of any other name is answered `NOT_FOUND "service not registered"`
/// (tonic-health's answer, for `Watch` too).
///
/// # Examples
///
/// ```
/// use tonic_health::pb::{
///     HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
/// };
/// use tonic_testkit::TestServer;
/// use tonic_testkit_examples::hello::Greeter;
/// use tonic_testkit_examples::hello::pb::hello_service_server::HelloServiceServer;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// // Arrange
/// let server = TestServer::builder()
///     .add_service(HelloServiceServer::new(Greeter))
///     .health()
///     .start()
///     .await;
/// let mut health = server.client(HealthClient::new);
/// let hello = || HealthCheckRequest { service: "hello.HelloService".into() };
///
/// // Act
/// server.health().set_not_serving("hello.HelloService").await;
/// let status = health.check(hello()).await.unwrap().into_inner().status();
///
/// // Assert
/// assert_eq!(status, ServingStatus::NotServing);
/// server.health().set_serving("hello.HelloService").await;
/// assert_eq!(health.check(hello()).await.unwrap().into_inner().status(), ServingStatus::Serving);
/// # }
/// ```
#[derive(Clone)]
pub struct Health {
    reporter: HealthReporter,
    services: Arc<[&'static str]>,
}

impl Health {
    /// Adds the health service to `routes`, with every one of `services` `SERVING` (which
    /// `start()` has checked holds no health service of the test's own); returns the handle.
    pub(crate) async fn add(routes: &mut ServicesBuilder, services: &[&'static str]) -> Self {
        let (reporter, server) = tonic_health::server::health_reporter();
        for service in services {
            reporter.set_service_status(service, ServingStatus::Serving).await;
        }
        routes.add_service(server);
        Self { reporter, services: services.into() }
    }

    /// Reports `service` (a `package.Service` name the server serves, or `""` for the whole
    /// server) as `NOT_SERVING`; `Watch` streams on it get the new status. Await it before the
    /// calls that must see it.
    ///
    /// A generated server's name is `XServer::<T>::NAME` (`tonic::server::NamedService`), so
    /// `set_not_serving(UserServiceServer::<Users>::NAME)` cannot go out of date.
    ///
    /// # Panics
    ///
    /// At once, not at the `.await`: when the server serves no service named `service`. The
    /// message lists the names it reports.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tonic_health::pb::{
    /// #     HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
    /// # };
    /// # use tonic_testkit::TestServer;
    /// # use tonic_testkit_examples::users::Users;
    /// # use tonic_testkit_examples::users::pb::user_service_server::UserServiceServer;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server = TestServer::builder()
    ///     .add_service(UserServiceServer::new(Users::default()))
    ///     .health()
    ///     .start()
    ///     .await;
    /// let mut health = server.client(HealthClient::new);
    /// let users = || HealthCheckRequest { service: "users.UserService".into() };
    ///
    /// server.health().set_not_serving("users.UserService").await;
    ///
    /// let status = health.check(users()).await.unwrap().into_inner().status();
    /// assert_eq!(status, ServingStatus::NotServing);
    /// # }
    /// ```
    #[track_caller]
    pub fn set_not_serving(&self, service: &str) -> impl Future<Output = ()> + Send + use<> {
        self.set(service, ServingStatus::NotServing, "set_not_serving")
    }

    /// Reports `service` (a `package.Service` name the server serves, or `""` for the whole
    /// server) as `SERVING` again; `Watch` streams on it get the new status.
    ///
    /// # Panics
    ///
    /// At once, not at the `.await`: when the server serves no service named `service`. The
    /// message lists the names it reports.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tonic_health::pb::{
    /// #     HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
    /// # };
    /// # use tonic_testkit::TestServer;
    /// # use tonic_testkit_examples::users::Users;
    /// # use tonic_testkit_examples::users::pb::user_service_server::UserServiceServer;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server = TestServer::builder()
    ///     .add_service(UserServiceServer::new(Users::default()))
    ///     .health()
    ///     .start()
    ///     .await;
    /// let mut health = server.client(HealthClient::new);
    /// let users = || HealthCheckRequest { service: "users.UserService".into() };
    /// server.health().set_not_serving("users.UserService").await;
    ///
    /// server.health().set_serving("users.UserService").await;
    ///
    /// let status = health.check(users()).await.unwrap().into_inner().status();
    /// assert_eq!(status, ServingStatus::Serving);
    /// # }
    /// ```
    #[track_caller]
    pub fn set_serving(&self, service: &str) -> impl Future<Output = ()> + Send + use<> {
        self.set(service, ServingStatus::Serving, "set_serving")
    }

    #[track_caller]
    fn set(
        &self,
        service: &str,
        status: ServingStatus,
        method: &str,
    ) -> impl Future<Output = ()> + Send + use<> {
        if !service.is_empty() && !self.services.contains(&service) {
            panic!(
                "Health::{method}({service:?}): the server serves no service of that name, so \
                 its health cannot change. It reports {}. Pass one of these names (a generated \
                 server's is `XServer::<T>::NAME`), or add the service to the server with \
                 .add_service(..).",
                self.reported()
            );
        }
        let reporter = self.reporter.clone();
        let service = service.to_owned();
        async move { reporter.set_service_status(service, status).await }
    }

    /// The names this server reports, for messages.
    fn reported(&self) -> String {
        let mut names = vec!["\"\" (the whole server)".to_owned()];
        names.extend(self.services.iter().map(|name| format!("{name:?}")));
        names.join(", ")
    }
}

impl fmt::Debug for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Health").field("services", &self.services).finish_non_exhaustive()
    }
}

/// The name the health service is served under: `grpc.health.v1.Health`.
pub(crate) const SERVICE_NAME: &str = <HealthServer<HealthService> as NamedService>::NAME;
