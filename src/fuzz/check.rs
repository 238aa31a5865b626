//! The checks a test adds per method: a closure over the typed request and answer.

use std::{
    fmt,
    panic::{AssertUnwindSafe, catch_unwind},
};

use tonic::{Status, metadata::MetadataMap};

use super::{call::Answer, case::Case};
use crate::engine::panic::payload_text;

/// One call as a [`Fuzz::check`](super::Fuzz::check) closure sees it: the request messages
/// sent, their metadata, and the answer, decoded as the method's Rust types.
///
/// # Examples
///
/// ```
/// use tonic_testkit::fuzz::Exchange;
/// use tonic_testkit_examples::hello::pb::{HelloRequest, HelloResponse};
///
/// // What a check for `/hello.HelloService/Hello` asserts: an answer names the greeting.
/// fn replies_to_the_greeting(exchange: &Exchange<HelloRequest, HelloResponse>) {
///     if let Some(response) = exchange.response() {
///         assert!(response.reply.contains(&exchange.request().greeting));
///     }
/// }
/// # let _ = replies_to_the_greeting;
/// ```
pub struct Exchange<Req, Res> {
    method: String,
    requests: Vec<Req>,
    metadata: MetadataMap,
    responses: Vec<Res>,
    status: Option<Status>,
}

impl<Req, Res> Exchange<Req, Res> {
    /// The path of the method called.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The request message of a method that takes one (the first of a client stream).
    ///
    /// # Panics
    ///
    /// When the call sent none: a client stream may send no message at all; use
    /// [`requests`](Self::requests) for a method that streams its requests.
    #[track_caller]
    pub fn request(&self) -> &Req {
        match self.requests.first() {
            Some(request) => request,
            None => panic!(
                "Exchange::request: the call to {} sent no request message (a client stream of \
                 none); read `requests()` for a method that streams its requests",
                self.method
            ),
        }
    }

    /// Every request message sent, in order.
    pub fn requests(&self) -> &[Req] {
        &self.requests
    }

    /// The metadata sent with the call (besides what tonic adds).
    pub fn metadata(&self) -> &MetadataMap {
        &self.metadata
    }

    /// The first response message, if any arrived.
    pub fn response(&self) -> Option<&Res> {
        self.responses.first()
    }

    /// Every response message that arrived, in order.
    pub fn responses(&self) -> &[Res] {
        &self.responses
    }

    /// The status the call ended with, or `None` when it ended `OK`.
    pub fn status(&self) -> Option<&Status> {
        self.status.as_ref()
    }
}

impl<Req: fmt::Debug, Res: fmt::Debug> fmt::Debug for Exchange<Req, Res> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exchange")
            .field("method", &self.method)
            .field("requests", &self.requests)
            .field("metadata", &self.metadata)
            .field("responses", &self.responses)
            .field("status", &self.status)
            .finish()
    }
}

/// A check, its types erased: `Err` says why the call failed it.
pub(crate) type Check = Box<dyn Fn(&str, &Case, &Answer) -> Result<(), String>>;

/// Erases the types of `check`: decodes the call as `Req` and `Res`, and turns a panic of the
/// closure into the failure it describes.
pub(crate) fn erase<Req, Res>(check: impl Fn(&Exchange<Req, Res>) + 'static) -> Check
where
    Req: prost::Message + Default + 'static,
    Res: prost::Message + Default + 'static,
{
    Box::new(move |method, case, answer| {
        let requests = case.messages.iter().map(|message| {
            let bytes = prost::Message::encode_to_vec(&**message);
            Req::decode(bytes.as_slice()).map_err(|error| {
                format!("a request does not decode as {}: {error}", std::any::type_name::<Req>())
            })
        });
        let requests = requests.collect::<Result<Vec<_>, _>>()?;
        let responses = answer.responses.iter().map(|decoded| {
            let message = decoded.as_ref().map_err(ToString::to_string)?;
            let bytes = prost::Message::encode_to_vec(message);
            Res::decode(bytes.as_slice()).map_err(|error| {
                format!("a response does not decode as {}: {error}", std::any::type_name::<Res>())
            })
        });
        let responses = responses.collect::<Result<Vec<_>, _>>()?;
        let mut metadata = MetadataMap::new();
        for (key, value) in &case.metadata {
            if let (Ok(key), Ok(value)) =
                (key.parse::<tonic::metadata::MetadataKey<_>>(), value.parse())
            {
                metadata.append(key, value);
            }
        }
        let exchange = Exchange {
            method: method.to_owned(),
            requests,
            metadata,
            responses,
            status: answer.status.clone(),
        };
        catch_unwind(AssertUnwindSafe(|| check(&exchange)))
            .map_err(|payload| payload_text(&*payload))
    })
}
