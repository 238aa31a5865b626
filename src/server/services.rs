//! What a [`TestServerBuilder`] serves: services added by name, a tonic `Routes`, and a
//! [`Stub`].

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response};
use tonic::{body::Body, server::NamedService};
use tower::Service;

use crate::{BoxError, Stub, TestServerBuilder};

impl<L> TestServerBuilder<L> {
    /// Adds a service; any number can be added, each under its own name.
    ///
    /// It takes what `tonic::transport::Server::add_service` takes: a generated
    /// `XServer::new(..)`, the same wrapped with `XServer::with_interceptor(.., f)` (whose
    /// answers carry tonic's `ResponseBody`), a health or reflection service, or any
    /// `Service<http::Request<Body>>` with a `NamedService` name whose response body carries
    /// `Bytes`.
    ///
    /// # Panics
    ///
    /// When a service with the same name (`package.Service`) was already added.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic::{Request, Status};
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_examples::hello::Greeter;
    /// use tonic_testkit_examples::hello::pb::{
    ///     HelloRequest, hello_service_client::HelloServiceClient,
    ///     hello_service_server::HelloServiceServer,
    /// };
    ///
    /// fn require_token(request: Request<()>) -> Result<Request<()>, Status> {
    ///     match request.metadata().get("authorization") {
    ///         Some(token) if token == "Bearer t" => Ok(request),
    ///         _ => Err(Status::unauthenticated("no token")),
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// // Arrange: the service as production code serves it, behind its interceptor.
    /// let service = HelloServiceServer::with_interceptor(Greeter, require_token);
    /// let server = TestServer::builder().add_service(service).start().await;
    /// let mut client = server.client(HelloServiceClient::new);
    ///
    /// // Act
    /// let status = client.hello(HelloRequest { greeting: "Ada".into() }).await.unwrap_err();
    ///
    /// // Assert
    /// assert_eq!(status.message(), "no token");
    /// # }
    /// ```
    #[track_caller]
    pub fn add_service<S, B>(mut self, service: S) -> Self
    where
        S: Service<Request<Body>, Response = Response<B>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        if self.services.contains(&S::NAME) {
            panic!(
                "the service {} was added to this TestServer twice; add each service once (one \
                 instance serves every call to it)",
                S::NAME
            );
        }
        self.services.push(S::NAME);
        self.routes.add_service(service);
        self
    }

    /// Serves `routes`, a tonic [`Routes`](tonic::service::Routes) as production code builds it
    /// (`Routes::new(..)`, `RoutesBuilder::routes()`), as it is: its own router takes the calls
    /// that reach it and answers a method it does not serve `UNIMPLEMENTED`, as it does in a
    /// `tonic::transport::Server`. Its calls go through the server's journal, faults, layers and
    /// panic catching like every other call, over every transport.
    ///
    /// The services inside a `Routes` have no names the kit can read, so `routes` are the
    /// fallback of the services added by name:
    ///
    /// - a service added with [`add_service`](Self::add_service) takes the calls to its name,
    ///   and `routes` every other call (tonic's router refuses a name served twice: add each
    ///   service once);
    /// - a [`Stub`](crate::Stub) answers the calls `routes` do not take: it replaces the
    ///   fallback of their router;
    /// - [`health`](Self::health) reports, and [`reflection`](Self::reflection) lists, only the
    ///   services added by name.
    ///
    /// # Panics
    ///
    /// When the builder already has routes: one `Routes` holds any number of services, as
    /// `tonic::transport::Server::add_routes` takes one; add them all to it.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic::{Code, service::Routes};
    /// use tonic_testkit::TestServer;
    /// use tonic_testkit_examples::hello::Greeter;
    /// use tonic_testkit_examples::hello::pb::{
    ///     HelloRequest, hello_service_client::HelloServiceClient,
    ///     hello_service_server::HelloServiceServer,
    /// };
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// // Arrange: the routes production code builds.
    /// let mut routes = Routes::builder();
    /// routes.add_service(HelloServiceServer::new(Greeter));
    /// let server = TestServer::builder().add_routes(routes.routes()).start().await;
    /// let mut client = server.client(HelloServiceClient::new);
    ///
    /// // Act
    /// let reply = client.hello(HelloRequest { greeting: "routed".into() }).await;
    ///
    /// // Assert: served, and journaled.
    /// assert_eq!(reply.unwrap().into_inner().reply, "Hello, routed!");
    /// assert_eq!(server.calls()[0].code(), Some(Code::Ok));
    /// # }
    /// ```
    #[cfg(feature = "router")]
    #[cfg_attr(docsrs, doc(cfg(feature = "router")))]
    #[track_caller]
    pub fn add_routes(mut self, routes: tonic::service::Routes) -> Self {
        assert!(
            self.routes.add_routes(routes),
            "add_routes(..) was called twice on this TestServer; one Routes holds any number of \
             services (tonic's Server takes one too): add them all to one Routes \
             (Routes::add_service, or one RoutesBuilder)"
        );
        self
    }

    /// Answers every call that no added service takes with `stub`'s rules: methods answered by
    /// scripted replies and closures, with no trait impl. A server can have a stub and no
    /// services at all.
    ///
    /// # Panics
    ///
    /// When the builder already has a stub (one stub answers any number of methods and
    /// services: add the rules to it).
    ///
    /// # Examples
    ///
    /// ```
    /// # use tonic_testkit::{Reply, Stub, TestServer};
    /// # use tonic_testkit_examples::users::pb::{GetUserRequest, User};
    /// # use tonic_testkit_examples::users::pb::user_service_client::UserServiceClient;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let stub = Stub::new();
    /// let grace = User { id: 7, name: "Grace Hopper".into(), email: "grace@example.com".into() };
    /// stub.on("/users.UserService/GetUser").reply(Reply::message(grace.clone()));
    /// let server = TestServer::builder().add_stub(&stub).start().await;
    /// let mut users = server.client(UserServiceClient::new);
    ///
    /// let user = users.get_user(GetUserRequest { id: 7 }).await.unwrap();
    ///
    /// assert_eq!(user.into_inner(), grace);
    /// # }
    /// ```
    #[track_caller]
    pub fn add_stub(mut self, stub: &Stub) -> Self {
        assert!(
            self.stub.is_none(),
            "this TestServer already has a Stub; one Stub answers any number of methods and \
             services: add the rules to the one stub"
        );
        self.stub = Some(stub.clone());
        self
    }
}
