//! [`TestRequest`]: the requests a handler receives from a real server, built for direct calls.

use std::{fmt, net::SocketAddr, time::Duration};

use tonic::{
    Request,
    metadata::{
        AsciiMetadataKey, AsciiMetadataValue, BinaryMetadataKey, BinaryMetadataValue, MetadataMap,
    },
    transport::server::TcpConnectInfo,
};

use crate::transport::memory::IN_PROCESS_SERVER_ADDR;

/// The peer address a [`TestRequest`] carries unless [`TestRequest::remote_addr`] sets another:
/// what the kit's in-process transports give the first connection.
pub const DEFAULT_REMOTE_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 40001);

/// A request for calling a handler directly, as a real server would hand it over: the
/// counterpart of Python's fake `ServicerContext`.
///
/// Build it from a message, add what the call should carry, and convert it into the
/// `tonic::Request<T>` the handler takes:
///
/// | Python `ServicerContext` | `TestRequest` | the handler reads |
/// |--------------------------|---------------|-------------------|
/// | `invocation_metadata()` | [`metadata`](Self::metadata) | `request.metadata()` |
/// | `time_remaining()` | [`timeout`](Self::timeout) | the `grpc-timeout` header |
/// | `peer()` | [`remote_addr`](Self::remote_addr) | `request.remote_addr()` |
/// | what an interceptor attached | [`extension`](Self::extension) | `request.extensions()` |
#[cfg_attr(
    feature = "tls",
    doc = "| `auth_context()`, `peer_identities()` | [`peer_certs`](Self::peer_certs) | \
           `request.peer_certs()` |"
)]
///
/// Like a real server, it sets a loopback peer ([`DEFAULT_REMOTE_ADDR`]) and local address
/// (`127.0.0.1:50051`) unless told otherwise.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tonic::Request;
/// use tonic_testkit::TestRequest;
/// use tonic_testkit_examples::hello::pb::HelloRequest;
///
/// let request: Request<HelloRequest> = TestRequest::new(HelloRequest::default())
///     .metadata("authorization", "Bearer t")
///     .metadata("trace-bin", [1u8, 2, 3])
///     .timeout(Duration::from_millis(50))
///     .remote_addr("10.1.2.3:5000".parse().unwrap())
///     .into();
///
/// assert_eq!(request.metadata().get("authorization").unwrap(), "Bearer t");
/// let trace = request.metadata().get_bin("trace-bin").unwrap();
/// assert_eq!(trace.to_bytes().unwrap(), &[1, 2, 3][..]);
/// assert_eq!(request.metadata().get("grpc-timeout").unwrap(), "50000000n"); // as tonic sends it
/// assert_eq!(request.remote_addr(), Some("10.1.2.3:5000".parse().unwrap()));
/// ```
#[must_use = "a TestRequest does nothing until it is converted into a tonic::Request"]
pub struct TestRequest<T> {
    request: Request<T>,
    remote_addr: Option<SocketAddr>,
    local_addr: Option<SocketAddr>,
    #[cfg(feature = "tls")]
    peer_certs: Option<Vec<tonic::transport::CertificateDer<'static>>>,
}

impl<T> TestRequest<T> {
    /// A request carrying `message`, with a loopback peer and no metadata.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tonic_testkit::TestRequest;
    /// # use tonic_testkit_examples::hello::pb::HelloRequest;
    /// # use tonic_testkit_examples::hello::pb::hello_service_server::HelloService as _;
    /// # use tonic_testkit_examples::hello::Greeter;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let request = TestRequest::new(HelloRequest { greeting: "Ada".into() });
    ///
    /// let reply = Greeter.hello(request.into()).await.unwrap(); // the handler, called directly
    ///
    /// assert_eq!(reply.into_inner().reply, "Hello, Ada!");
    /// # }
    /// ```
    pub fn new(message: T) -> Self {
        Self {
            request: Request::new(message),
            remote_addr: Some(DEFAULT_REMOTE_ADDR),
            local_addr: Some(IN_PROCESS_SERVER_ADDR),
            #[cfg(feature = "tls")]
            peer_certs: None,
        }
    }

    /// Adds a metadata entry. A key ending in `-bin` takes a binary value; any other key takes
    /// visible ASCII. Calling it again with the same key adds another value, as a client can.
    ///
    /// # Panics
    ///
    /// When the key is not a valid metadata key, or the value is not valid for the key; the
    /// message says which rule was broken.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tonic_testkit::TestRequest;
    /// # use tonic_testkit_examples::hello::pb::HelloRequest;
    /// # use tonic_testkit_examples::hello::pb::hello_service_server::HelloService as _;
    /// # use tonic_testkit_examples::hello::{Greeter, REQUEST_ID};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// // Greeter echoes the caller's request id.
    /// let request =
    ///     TestRequest::new(HelloRequest { greeting: "Ada".into() }).metadata(REQUEST_ID, "req-7");
    ///
    /// let reply = Greeter.hello(request.into()).await.unwrap();
    ///
    /// assert_eq!(reply.metadata().get(REQUEST_ID).unwrap(), "req-7");
    /// # }
    /// ```
    #[track_caller]
    pub fn metadata(mut self, key: &str, value: impl AsRef<[u8]>) -> Self {
        append_metadata(self.request.metadata_mut(), key, value.as_ref());
        self
    }

    /// The deadline the call carries: the `grpc-timeout` header exactly as a tonic client sends
    /// it for `Request::set_timeout(timeout)`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use tonic::Code;
    /// # use tonic_testkit::{TestRequest, assert_status};
    /// # use tonic_testkit_examples::rides::Rides;
    /// # use tonic_testkit_examples::rides::pb::{QuoteRequest, rides_server::Rides as _};
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// // Pricing takes 100 ms; the caller waits 50.
    /// let rides = Rides::with_pricing_delay(Duration::from_millis(100));
    /// let request = TestRequest::new(QuoteRequest::default()).timeout(Duration::from_millis(50));
    ///
    /// let quote = rides.quote(request.into()).await;
    ///
    /// assert_status!(quote, Code::DeadlineExceeded, "no price within the 50ms deadline");
    /// # }
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.request.set_timeout(timeout);
        self
    }

    /// What `Request::remote_addr()` returns in the handler.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tonic::{Request, Response, Status};
    /// # use tonic_testkit::TestRequest;
    /// # use tonic_testkit_examples::hello::pb::{
    /// #     HelloRequest, HelloResponse, hello_service_server::HelloService,
    /// # };
    /// /// Greets the caller by address.
    /// struct WhoCalls;
    ///
    /// #[tonic::async_trait]
    /// impl HelloService for WhoCalls {
    ///     async fn hello(
    ///         &self,
    ///         request: Request<HelloRequest>,
    ///     ) -> Result<Response<HelloResponse>, Status> {
    ///         let caller = request.remote_addr().ok_or_else(|| Status::internal("no peer"))?;
    ///         Ok(Response::new(HelloResponse { reply: format!("hello, {caller}") }))
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let caller = "10.1.2.3:5000".parse().unwrap();
    /// let request = TestRequest::new(HelloRequest::default()).remote_addr(caller);
    ///
    /// let reply = WhoCalls.hello(request.into()).await.unwrap();
    ///
    /// assert_eq!(reply.into_inner().reply, "hello, 10.1.2.3:5000");
    /// # }
    /// ```
    pub fn remote_addr(mut self, addr: SocketAddr) -> Self {
        self.remote_addr = Some(addr);
        self
    }

    /// What `Request::local_addr()` returns in the handler.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tonic::{Request, Response, Status};
    /// # use tonic_testkit::TestRequest;
    /// # use tonic_testkit_examples::hello::pb::{
    /// #     HelloRequest, HelloResponse, hello_service_server::HelloService,
    /// # };
    /// /// Says which address the call came in on.
    /// struct WhereAmI;
    ///
    /// #[tonic::async_trait]
    /// impl HelloService for WhereAmI {
    ///     async fn hello(
    ///         &self,
    ///         request: Request<HelloRequest>,
    ///     ) -> Result<Response<HelloResponse>, Status> {
    ///         let local = request.local_addr().ok_or_else(|| Status::internal("no address"))?;
    ///         Ok(Response::new(HelloResponse { reply: format!("served on {local}") }))
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let listener = "0.0.0.0:8443".parse().unwrap();
    /// let request = TestRequest::new(HelloRequest::default()).local_addr(listener);
    ///
    /// let reply = WhereAmI.hello(request.into()).await.unwrap();
    ///
    /// assert_eq!(reply.into_inner().reply, "served on 0.0.0.0:8443");
    /// # }
    /// ```
    pub fn local_addr(mut self, addr: SocketAddr) -> Self {
        self.local_addr = Some(addr);
        self
    }

    /// A request extension, as an interceptor or layer would have inserted it.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tonic::{Request, Response, Status};
    /// # use tonic_testkit::TestRequest;
    /// # use tonic_testkit_examples::hello::pb::{
    /// #     HelloRequest, HelloResponse, hello_service_server::HelloService,
    /// # };
    /// /// What an authentication interceptor inserts.
    /// #[derive(Clone)]
    /// struct User(String);
    ///
    /// /// Greets the user the interceptor found.
    /// struct Personal;
    ///
    /// #[tonic::async_trait]
    /// impl HelloService for Personal {
    ///     async fn hello(
    ///         &self,
    ///         request: Request<HelloRequest>,
    ///     ) -> Result<Response<HelloResponse>, Status> {
    ///         let user = request.extensions().get::<User>();
    ///         let user = user.ok_or_else(|| Status::unauthenticated("no user"))?;
    ///         Ok(Response::new(HelloResponse { reply: format!("hello, {}", user.0) }))
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let request = TestRequest::new(HelloRequest::default()).extension(User("ada".into()));
    ///
    /// let reply = Personal.hello(request.into()).await.unwrap();
    ///
    /// assert_eq!(reply.into_inner().reply, "hello, ada");
    /// # }
    /// ```
    pub fn extension<E: Clone + Send + Sync + 'static>(mut self, extension: E) -> Self {
        self.request.extensions_mut().insert(extension);
        self
    }

    /// The certificate chain the client presented, leaf first: what `Request::peer_certs()`
    /// returns in the handler, as behind a tonic server with mutual TLS. `remote_addr()` and
    /// `local_addr()` keep answering. A request without `peer_certs` is one whose client
    /// presented no certificate: `Request::peer_certs()` is `None`, as on a real server.
    ///
    /// The request carries a genuine `TlsConnectInfo`, made when the request is converted by a
    /// TLS 1.3 handshake in memory (about a millisecond in a debug build) in which the client
    /// presents `certs`. They are neither parsed nor verified: any bytes will do.
    ///
    /// # Panics
    ///
    /// Here, when `certs` is empty. At the conversion, when the handshake fails, as it does on a
    /// real rustls server for a chain of more than about 64 KiB.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic::Request;
    /// use tonic_testkit::TestRequest;
    /// use tonic_testkit::handler::DEFAULT_REMOTE_ADDR;
    /// use tonic_testkit_examples::hello::pb::HelloRequest;
    ///
    /// // Arrange: a client certificate, as an mTLS client would present it.
    /// let client = rcgen::generate_simple_self_signed(["client.example".to_owned()]).unwrap();
    /// let cert = client.cert.der().clone();
    ///
    /// // Act
    /// let request: Request<HelloRequest> =
    ///     TestRequest::new(HelloRequest::default()).peer_certs([cert.clone()]).into();
    ///
    /// // Assert
    /// assert_eq!(*request.peer_certs().unwrap(), [cert]);
    /// assert_eq!(request.remote_addr(), Some(DEFAULT_REMOTE_ADDR));
    /// ```
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    #[track_caller]
    pub fn peer_certs(
        mut self,
        certs: impl IntoIterator<Item = tonic::transport::CertificateDer<'static>>,
    ) -> Self {
        let certs: Vec<_> = certs.into_iter().collect();
        assert!(
            !certs.is_empty(),
            "TestRequest::peer_certs needs at least one certificate; for a client that presents \
             none, leave peer_certs out: the handler's request.peer_certs() is then None"
        );
        self.peer_certs = Some(certs);
        self
    }

    /// The `tonic::Request` a handler takes.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tonic_testkit::TestRequest;
    /// # use tonic_testkit_examples::hello::pb::HelloRequest;
    /// # use tonic_testkit_examples::hello::pb::hello_service_server::HelloService as _;
    /// # use tonic_testkit_examples::hello::Greeter;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let request = TestRequest::new(HelloRequest { greeting: "Ada".into() }).into_request();
    ///
    /// let reply = Greeter.hello(request).await.unwrap();
    ///
    /// assert_eq!(reply.into_inner().reply, "Hello, Ada!");
    /// # }
    /// ```
    pub fn into_request(self) -> Request<T> {
        let Self {
            mut request,
            remote_addr,
            local_addr,
            #[cfg(feature = "tls")]
            peer_certs,
        } = self;
        let tcp = TcpConnectInfo { local_addr, remote_addr };
        // A TLS server inserts only the TLS connect info, which carries the TCP one.
        #[cfg(feature = "tls")]
        if let Some(certs) = peer_certs {
            request.extensions_mut().insert(crate::tls::connect_info(tcp, certs));
            return request;
        }
        request.extensions_mut().insert(tcp);
        request
    }
}

impl<T> From<TestRequest<T>> for Request<T> {
    fn from(request: TestRequest<T>) -> Self {
        request.into_request()
    }
}

impl<T> fmt::Debug for TestRequest<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestRequest")
            .field("metadata", self.request.metadata())
            .field("remote_addr", &self.remote_addr)
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

/// Appends `key: value` to `metadata`: binary under a `-bin` key, visible ASCII otherwise.
/// (`let else`, not `unwrap_or_else`: in a closure the panics would point at the kit.)
#[track_caller]
pub(crate) fn append_metadata(metadata: &mut MetadataMap, key: &str, value: &[u8]) {
    if key.ends_with("-bin") {
        let Ok(key) = BinaryMetadataKey::from_bytes(key.as_bytes()) else {
            panic!("{}", crate::protocol::invalid_key(key));
        };
        metadata.append_bin(key, BinaryMetadataValue::from_bytes(value));
    } else {
        let Ok(key) = AsciiMetadataKey::from_bytes(key.as_bytes()) else {
            panic!("{}", crate::protocol::invalid_key(key));
        };
        let Ok(value) = AsciiMetadataValue::try_from(value) else {
            panic!(
                "invalid value for metadata key {key:?}: {:?} is not visible ASCII; send bytes \
                 under a key ending in \"-bin\"",
                String::from_utf8_lossy(value)
            )
        };
        metadata.append(key, value);
    }
}
