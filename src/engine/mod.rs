//! The engine a call runs through: the path of one call through a test server, the same for
//! every transport.
//!
//! A call arrives from a transport (`crate::transport`): over memory and TCP, hyper's HTTP/2
//! server of its connection hands each request to [`call::serve`], after the connection-level
//! parts (a server taken down refuses the connection, TLS, connection toxics, tonic's HTTP/2
//! settings); over Direct, the channel hands it to [`call::serve_direct`] in the test's task.
//! From there, in order:
//!
//! 1. **admit** ([`call`]): a server that is shut down answers `UNAVAILABLE` (a direct call is
//!    refused as soon as `shutdown()` starts; a wire call was already refused at its connection);
//! 2. **journal** (`crate::journal`): the call is recorded, with its deadline;
//! 3. **faults** ([`faults`], [`admission`]): the rules of the server's [`Faults`](crate::Faults)
//!    act as a proxy in front of the server would: a delay, then an end that replaces the call (a
//!    status, a hang, a dropped connection), so a call they fail never reaches the server's layers;
//!    then the connection's concurrency limit (`concurrency_limit_per_connection`), where a call
//!    waits for a permit or load shedding refuses it, as tonic's server puts them in front of its
//!    layers;
//! 4. **deadline**: the `grpc-timeout` the client sent, or the server's `timeout` if shorter,
//!    enforced until the response headers, as tonic's server enforces it (it runs from step 3
//!    on: a fault's delay counts against it, the wait for a permit does not);
//! 5. **layers, then route** ([`stack`], [`router`]): the services behind the test's layers and
//!    interceptors, called as the call arrives (or once its faults let it through), a panic in a
//!    layer's `call` or `poll_ready` caught as a handler's is;
//! 6. **response** (`response`): the body, with the faults' message delays and cuts, panics in
//!    its stream caught, its headers, every message and its trailers noted in the journal. A
//!    direct client that drops the response while its request body is open hands the call to a
//!    server task, where it goes on as over HTTP/2 until the request ends.
//!
//! Panics anywhere in steps 5 and 6 are caught: over the wire the call is answered `INTERNAL`
//! and the panic kept for the report; over the direct transport the panic is kept and resumed in
//! the caller's task, where it would have surfaced had the call been a plain function call.
//!
//! [`call`] composes the stages and polls them as one future, [`body`] watches the request body
//! (the journal's request messages; a direct client's side: its reset, and its request read on
//! once it dropped the response), [`panic`] names and reports what
//! was caught, and [`shared`] holds the state the server's guard, channels and tasks share, by
//! concern: the server's life and tasks, its connections, its caught panics, its services, and
//! the journal, faults, settings and TLS the builder gave it.

pub(crate) mod admission;
pub(crate) mod body;
pub(crate) mod call;
pub(crate) mod faults;
pub(crate) mod panic;
mod response;
pub(crate) mod router;
pub(crate) mod settings;
pub(crate) mod shared;
pub(crate) mod stack;
