//! [`free_port`]: a port for a process outside the test to bind.

/// A TCP port that was free on this machine a moment ago, for the one case where a port must be
/// chosen before anything binds it: handing it to an outside process (a server binary, a
/// container, an emulator) that will bind it itself.
///
/// **It races.** Between this pick and the outside process's bind, any other process (another
/// test running in parallel included) can take the port, and the outside process then fails to
/// bind. Pass the port on at once, and make the outside process's bind failure visible.
///
/// [`TestServer`](crate::TestServer)s never use it: over [`Transport::Tcp`](crate::Transport::Tcp)
/// they bind `127.0.0.1:0`, let the kernel choose, and keep the bound listener, so no other
/// process can take their port. For a test server's address, use
/// [`TestServer::local_addr`](crate::TestServer::local_addr) or
/// [`TestServer::uri`](crate::TestServer::uri).
///
/// # Panics
///
/// When no free port is found (portpicker tries random ports, then ports the kernel chooses).
///
/// # Examples
///
/// ```
/// use std::net::TcpListener;
///
/// // Arrange: the port an outside process is told to listen on.
/// let port = tonic_testkit::server::free_port();
///
/// // Act: the outside process binds it (here, a listener stands in for it).
/// let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
///
/// // Assert
/// assert_eq!(listener.local_addr().unwrap().port(), port);
/// ```
#[track_caller]
pub fn free_port() -> u16 {
    match portpicker::pick_unused_port() {
        Some(port) => port,
        None => panic!(
            "tonic_testkit::server::free_port: no free TCP port was found on this machine; free \
             some ports, or let the outside process bind port 0 and report the port it got"
        ),
    }
}
