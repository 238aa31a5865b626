//! The standard gRPC services a test server can add next to the test's own: reflection
//! (feature `reflection`) and health (feature `health`). What the builder was asked for, and
//! what the running server keeps.

use crate::engine::router::ServicesBuilder;

/// What [`TestServerBuilder`](crate::TestServerBuilder) was asked to add.
#[derive(Clone, Debug, Default)]
pub(crate) struct Standard {
    /// The descriptor sets given to `.reflection(..)`; reflection is served when there is one.
    #[cfg(feature = "reflection")]
    pub(crate) reflection: Vec<crate::server::reflection::DescriptorSet>,
    #[cfg(feature = "health")]
    pub(crate) health: bool,
}

/// What a running [`TestServer`](crate::TestServer) keeps of its standard services.
#[derive(Debug, Default)]
pub(crate) struct Running {
    #[cfg(feature = "health")]
    pub(crate) health: Option<crate::server::Health>,
}

impl Standard {
    /// The names of the standard services asked for.
    pub(crate) fn names(&self) -> Vec<&'static str> {
        #[cfg_attr(not(any(feature = "health", feature = "reflection")), allow(unused_mut))]
        let mut names = Vec::new();
        #[cfg(feature = "health")]
        if self.health {
            names.push(crate::server::health::SERVICE_NAME);
        }
        #[cfg(feature = "reflection")]
        if !self.reflection.is_empty() {
            names.extend(crate::server::reflection::SERVICE_NAMES);
        }
        names
    }

    /// Refuses, when the test calls `start()` (so that the panic points at its line), what
    /// [`add`](Self::add) cannot serve for the test's own `services`: a standard service the
    /// test also added with `add_service`, or, with reflection, a service no descriptor set
    /// describes.
    #[track_caller]
    #[cfg_attr(not(any(feature = "health", feature = "reflection")), allow(unused_variables))]
    pub(crate) fn check(&self, services: &[&'static str]) {
        #[cfg(feature = "health")]
        if self.health {
            check_not_added(services, crate::server::health::SERVICE_NAME, ".health()");
        }
        #[cfg(feature = "reflection")]
        if !self.reflection.is_empty() {
            for name in crate::server::reflection::SERVICE_NAMES {
                check_not_added(services, name, ".reflection(..)");
            }
            // The sets `add` serves: the test's, then the reflection and health services' own.
            let mut described: Vec<&str> = self
                .reflection
                .iter()
                .flat_map(crate::server::reflection::DescriptorSet::services)
                .collect();
            described.extend(crate::server::reflection::SERVICE_NAMES);
            #[cfg(feature = "health")]
            if self.health {
                described.push(crate::server::health::SERVICE_NAME);
            }
            crate::server::reflection::check_described(services, &described);
        }
    }

    /// Adds the services asked for to `routes` and their names to `services` (which holds the
    /// test's own services, [checked](Self::check)): health reports the test's services,
    /// reflection lists them all.
    #[cfg_attr(
        not(any(feature = "health", feature = "reflection")),
        allow(unused_variables, clippy::ptr_arg)
    )]
    pub(crate) async fn add(
        self,
        routes: &mut ServicesBuilder,
        services: &mut Vec<&'static str>,
    ) -> Running {
        let running = Running::default();
        #[cfg(feature = "health")]
        let running = if self.health {
            let health = crate::server::Health::add(routes, services).await;
            services.push(crate::server::health::SERVICE_NAME);
            Running { health: Some(health) }
        } else {
            running
        };
        #[cfg(feature = "reflection")]
        if !self.reflection.is_empty() {
            let mut sets = self.reflection;
            sets.extend(crate::server::reflection::own_descriptor_sets());
            #[cfg(feature = "health")]
            if running.health.is_some() {
                sets.push(crate::server::reflection::DescriptorSet::new(
                    bytes::Bytes::from_static(tonic_health::pb::FILE_DESCRIPTOR_SET),
                ));
            }
            services.extend(crate::server::reflection::SERVICE_NAMES);
            crate::server::reflection::add(routes, &sets, services);
        }
        running
    }
}

/// Panics when the test added a service of its own under a standard service's name.
#[cfg(any(feature = "health", feature = "reflection"))]
#[track_caller]
fn check_not_added(services: &[&'static str], name: &str, call: &str) {
    assert!(
        !services.contains(&name),
        "the service {name} was added to this TestServer with add_service(..) and asked for \
         with {call}; keep one of the two ({call} serves it for every transport)"
    );
}

impl<L> crate::TestServerBuilder<L> {
    /// Serves gRPC server reflection (`grpc.reflection.v1` and `v1alpha`, as grpcurl, Postman
    /// and grpcio's reflection client use them) from `file_descriptor_set`: the encoded
    /// `FileDescriptorSet` the build already makes (protox: `fds.encode_to_vec()` written to
    /// `OUT_DIR`; tonic-prost-build: `file_descriptor_set_path`).
    ///
    /// As a real server would, reflection lists only the services this server serves: those
    /// added with `add_service`, the health service when [`health`](Self::health) is on, and the
    /// two reflection services. Services the set describes but the server does not serve are
    /// not listed; their files and symbols can still be looked up. Call it again to add another
    /// set (one for a service from another crate, say); a file in two sets is served once.
    ///
    /// # Panics
    ///
    /// - here, when the bytes are not an encoded `FileDescriptorSet`;
    /// - at start, when the server serves a service that no set describes (the message names
    ///   it), or when a reflection service was also added with `add_service`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tokio_stream::StreamExt;
    /// use tonic_reflection::pb::v1::{
    ///     ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
    ///     server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    /// };
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_examples::{FILE_DESCRIPTOR_SET, hello::Greeter};
    /// use tonic_testkit_examples::hello::pb::hello_service_server::HelloServiceServer;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// // Arrange
    /// let server = TestServer::builder()
    ///     .add_service(HelloServiceServer::new(Greeter))
    ///     .reflection(FILE_DESCRIPTOR_SET)
    ///     .start()
    ///     .await;
    /// let mut reflection = server.client(ServerReflectionClient::new);
    ///
    /// // Act
    /// let list = MessageRequest::ListServices(String::new());
    /// let request = ServerReflectionRequest { message_request: Some(list), ..Default::default() };
    /// let mut replies = reflection
    ///     .server_reflection_info(tokio_stream::iter([request]))
    ///     .await
    ///     .unwrap()
    ///     .into_inner();
    /// let reply = replies.next().await.unwrap().unwrap();
    ///
    /// // Assert
    /// let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
    ///     panic!("not a list of services: {reply:?}");
    /// };
    /// let names: Vec<_> = list.service.into_iter().map(|service| service.name).collect();
    /// assert_eq!(
    ///     names,
    ///     [
    ///         "hello.HelloService",
    ///         "grpc.reflection.v1.ServerReflection",
    ///         "grpc.reflection.v1alpha.ServerReflection",
    ///     ]
    /// );
    /// # }
    /// ```
    #[cfg(feature = "reflection")]
    #[cfg_attr(docsrs, doc(cfg(feature = "reflection")))]
    #[track_caller]
    pub fn reflection(mut self, file_descriptor_set: impl Into<bytes::Bytes>) -> Self {
        let set = crate::server::reflection::DescriptorSet::new(file_descriptor_set.into());
        self.standard.reflection.push(set);
        self
    }

    /// Serves the gRPC health service (`grpc.health.v1.Health`, tonic-health's): at start every
    /// service added with `add_service` is `SERVING`, and so is `""`, the whole server. The test
    /// flips them with [`TestServer::health`](crate::TestServer::health).
    ///
    /// # Panics
    ///
    /// At start, when a health service was also added with `add_service`.
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
    /// // Every service added is SERVING at start, and so is "", the whole server.
    /// let whole = HealthCheckRequest { service: String::new() };
    /// assert_eq!(health.check(users()).await.unwrap().into_inner().status(), ServingStatus::Serving);
    /// assert_eq!(health.check(whole).await.unwrap().into_inner().status(), ServingStatus::Serving);
    /// # }
    /// ```
    #[cfg(feature = "health")]
    #[cfg_attr(docsrs, doc(cfg(feature = "health")))]
    pub fn health(mut self) -> Self {
        self.standard.health = true;
        self
    }
}

impl crate::TestServer {
    /// The health this server reports over `grpc.health.v1.Health`, for the test to flip:
    /// `server.health().set_not_serving("users.UserService").await`.
    ///
    /// # Panics
    ///
    /// When the server was started without
    /// [`TestServerBuilder::health`](crate::TestServerBuilder::health).
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
    #[cfg(feature = "health")]
    #[cfg_attr(docsrs, doc(cfg(feature = "health")))]
    #[track_caller]
    pub fn health(&self) -> &crate::server::Health {
        match &self.standard.health {
            Some(health) => health,
            None => panic!(
                "TestServer::health(): this server has no health service; start it with \
                 TestServer::builder().health() (feature `health`) to serve grpc.health.v1.Health"
            ),
        }
    }
}
