//! What a stub rule matches a call on, and what the call carried.

use std::{fmt::Debug, panic::Location};

use bytes::Bytes;
use http::HeaderMap;
use prost::Message;
use tonic::metadata::MetadataMap;

/// What a call to a stubbed method carried, as far as the stub has read it.
pub(crate) struct Arrived {
    pub(crate) headers: HeaderMap,
    /// The request messages read, decompressed; `ended`: all of them.
    pub(crate) messages: Vec<Bytes>,
    pub(crate) ended: bool,
    /// Why the messages could not be read, if they could not.
    pub(crate) unreadable: Option<String>,
    /// Which call to the method this is, from 1.
    pub(crate) nth: usize,
}

/// How much of the request stream a matcher reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Need {
    Nothing,
    First,
    All,
}

type Check = dyn Fn(&Arrived) -> Result<(), String> + Send + Sync;

/// One condition of a rule: what it reads, and a check that says what arrived when it fails.
pub(crate) struct Matcher {
    /// As the test wrote it, such as `when_header("x-tenant", "acme")`.
    pub(crate) description: String,
    pub(crate) need: Need,
    check: Box<Check>,
}

impl Matcher {
    /// Checks the call: `Err` says what arrived instead.
    pub(crate) fn check(&self, arrived: &Arrived) -> Result<(), String> {
        (self.check)(arrived)
    }

    /// Matches on the first request message, decoded as `T`.
    pub(crate) fn first<T, F>(description: String, matches: F) -> Self
    where
        T: Message + Default + Debug + 'static,
        F: Fn(&T) -> Result<(), String> + Send + Sync + 'static,
    {
        let check = move |arrived: &Arrived| {
            let message = decoded::<T>(arrived, 1)?.pop().ok_or_else(|| {
                "the call had no request message: the client ended its stream without one"
                    .to_owned()
            })?;
            matches(&message)
        };
        Self { description, need: Need::First, check: Box::new(check) }
    }

    /// Matches on every request message, decoded as `T`.
    pub(crate) fn all<T, F>(description: String, matches: F) -> Self
    where
        T: Message + Default + Debug + 'static,
        F: Fn(&[T]) -> bool + Send + Sync + 'static,
    {
        let check = move |arrived: &Arrived| {
            let messages = decoded::<T>(arrived, usize::MAX)?;
            match matches(&messages) {
                true => Ok(()),
                false => Err(format!("the call had the request messages {messages:?}")),
            }
        };
        Self { description, need: Need::All, check: Box::new(check) }
    }

    /// Matches on the value of a metadata key: `expected` present with that value (`-bin` keys
    /// compare the decoded bytes), present with any value, or absent.
    pub(crate) fn header(description: String, key: String, expected: Header) -> Self {
        let check = move |arrived: &Arrived| {
            let values = values(&arrived.headers, &key);
            let found = match &expected {
                Header::Equal(value) => values.iter().any(|found| found == value),
                Header::Present => !values.is_empty(),
                Header::Absent => values.is_empty(),
            };
            match (found, values.is_empty()) {
                (true, _) => Ok(()),
                (false, true) => Err(format!("the call had no {key:?} in its metadata")),
                (false, false) => Err(format!("the call had {key:?} = {}", show(&values))),
            }
        };
        Self { description, need: Need::Nothing, check: Box::new(check) }
    }

    /// Matches the `n`-th call to the method, from 1.
    pub(crate) fn nth(description: String, n: usize) -> Self {
        let check = move |arrived: &Arrived| match arrived.nth == n {
            true => Ok(()),
            false => Err(format!("the call was call {} to the method", arrived.nth)),
        };
        Self { description, need: Need::Nothing, check: Box::new(check) }
    }
}

/// What a metadata matcher expects of its key.
pub(crate) enum Header {
    Equal(Vec<u8>),
    Present,
    Absent,
}

/// The first `count` request messages, decoded as `T`.
fn decoded<T: Message + Default>(arrived: &Arrived, count: usize) -> Result<Vec<T>, String> {
    if let Some(why) = &arrived.unreadable {
        return Err(format!("the call had request messages that cannot be read: {why}"));
    }
    let decode = |bytes: &Bytes| {
        T::decode(bytes.clone()).map_err(|error| {
            format!(
                "the call had a request message that does not decode as {}: {error}",
                std::any::type_name::<T>()
            )
        })
    };
    arrived.messages.iter().take(count).map(decode).collect()
}

/// The values of `key` in `headers`, `-bin` ones decoded as tonic decodes them.
fn values(headers: &HeaderMap, key: &str) -> Vec<Vec<u8>> {
    let found = headers.get_all(key).iter();
    if !key.ends_with("-bin") {
        return found.map(|value| value.as_bytes().to_vec()).collect();
    }
    let decode = |value: &http::HeaderValue| {
        let mut one = HeaderMap::with_capacity(1);
        one.insert(http::HeaderName::from_bytes(key.as_bytes()).ok()?, value.clone());
        let metadata = MetadataMap::from_headers(one);
        let bytes = metadata.get_bin(key)?.to_bytes().ok()?;
        Some(bytes.to_vec())
    };
    found.filter_map(decode).collect()
}

fn show(values: &[Vec<u8>]) -> String {
    let shown: Vec<String> =
        values.iter().map(|value| format!("{:?}", String::from_utf8_lossy(value))).collect();
    shown.join(", ")
}

/// `kind(..) at line`, for matchers whose closure cannot describe itself.
pub(crate) fn at(kind: &str, location: &Location<'_>) -> String {
    format!("{kind}(..) at {location}")
}
