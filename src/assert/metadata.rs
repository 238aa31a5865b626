//! Metadata assertions: headers of requests and responses, trailers of statuses.

use std::fmt::Write as _;

use tonic::{
    Request, Response, Status,
    metadata::{KeyAndValueRef, MetadataMap},
};

/// Anything that carries metadata: a `Request` (its metadata), a `Response` (its headers), a
/// `Status` (its trailers), a call's `Result<Response<T>, Status>` (headers or trailers), a
/// [`StreamOutcome`](crate::StreamOutcome) (the trailers that ended the stream), a `MetadataMap`,
/// or a reference to one of them.
///
/// # Examples
///
/// ```
/// use tonic::{Response, metadata::MetadataValue};
/// use tonic_testkit::matchers::MetadataSource;
///
/// let mut response = Response::new(());
/// response.metadata_mut().insert("x-request-id", MetadataValue::from_static("r-1"));
///
/// let (name, metadata) = response.metadata_part();
///
/// assert_eq!(name, "the response headers");
/// assert_eq!(metadata.get("x-request-id").unwrap(), "r-1");
/// ```
pub trait MetadataSource: super::sealed::Sealed {
    /// What the metadata is called in failure messages ("the response headers"), and the map.
    fn metadata_part(&self) -> (&'static str, &MetadataMap);
}

impl<T> MetadataSource for Request<T> {
    fn metadata_part(&self) -> (&'static str, &MetadataMap) {
        ("the request metadata", self.metadata())
    }
}

impl<T> MetadataSource for Response<T> {
    fn metadata_part(&self) -> (&'static str, &MetadataMap) {
        ("the response headers", self.metadata())
    }
}

impl MetadataSource for Status {
    fn metadata_part(&self) -> (&'static str, &MetadataMap) {
        ("the status metadata (trailers)", self.metadata())
    }
}

impl MetadataSource for MetadataMap {
    fn metadata_part(&self) -> (&'static str, &MetadataMap) {
        ("the metadata", self)
    }
}

impl<T> MetadataSource for Result<Response<T>, Status> {
    fn metadata_part(&self) -> (&'static str, &MetadataMap) {
        match self {
            Ok(response) => response.metadata_part(),
            Err(status) => status.metadata_part(),
        }
    }
}

impl<S: MetadataSource + ?Sized> MetadataSource for &S {
    fn metadata_part(&self) -> (&'static str, &MetadataMap) {
        (**self).metadata_part()
    }
}

/// Asserts that metadata has a key, or that one of the key's values equals an expected value.
/// Returns the (first matching) value as a `String`; a `-bin` value is decoded first, and
/// compared and returned as its bytes (non-UTF-8 bytes are replaced in the returned text).
///
/// The first argument is anything that is a [`MetadataSource`]: a `Request`, a `Response`, a
/// `Status`, a call's `Result`, a [`StreamOutcome`](crate::StreamOutcome), a `MetadataMap`, or a
/// reference to one. It is borrowed, not moved.
///
/// # Panics
///
/// When the key is missing or no value is equal, with all the metadata in the message; when the
/// key is not a valid metadata key.
///
/// # Examples
///
/// ```
/// use tonic::{Code, Status, metadata::{MetadataMap, MetadataValue}};
/// use tonic_testkit::assert_metadata;
///
/// let mut trailers = MetadataMap::new();
/// trailers.insert("retry-after", MetadataValue::from_static("3"));
/// trailers.insert_bin("trace-bin", MetadataValue::from_bytes(b"\x01\x02"));
/// let status = Status::with_metadata(Code::Unavailable, "busy", trailers);
///
/// let retry_after = assert_metadata!(status, "retry-after");
/// assert_metadata!(status, "retry-after", "3");
/// assert_metadata!(status, "trace-bin", [1u8, 2]);
/// assert_eq!(retry_after, "3");
/// ```
///
/// ```should_panic
/// use tonic::Response;
/// use tonic_testkit::assert_metadata;
///
/// // Panics: "tonic-testkit: assert_metadata! failed\n  expected: \"x-request-id\" in the response headers\n    actual: it is missing; the response headers are {}"
/// assert_metadata!(Response::new(()), "x-request-id");
/// ```
///
/// A context after `;` (`; "over {transport}"`) is printed with a failure, as
/// [`assert_status!`](crate::assert_status) shows.
#[macro_export]
macro_rules! assert_metadata {
    ($source:expr, $key:expr $(,)?) => {
        $crate::__private::assert_metadata(
            &$source,
            $key,
            ::std::option::Option::<&[u8]>::None,
            ::std::option::Option::None,
        )
    };
    ($source:expr, $key:expr, $value:expr $(,)?) => {
        $crate::__private::assert_metadata(
            &$source,
            $key,
            ::std::option::Option::Some($value),
            ::std::option::Option::None,
        )
    };
    ($source:expr, $key:expr; $($context:tt)+) => {
        $crate::__private::assert_metadata(
            &$source,
            $key,
            ::std::option::Option::<&[u8]>::None,
            ::std::option::Option::Some(::std::format_args!($($context)+)),
        )
    };
    ($source:expr, $key:expr, $value:expr; $($context:tt)+) => {
        $crate::__private::assert_metadata(
            &$source,
            $key,
            ::std::option::Option::Some($value),
            ::std::option::Option::Some(::std::format_args!($($context)+)),
        )
    };
}

/// Asserts that metadata does not have a key. Takes what [`assert_metadata!`] takes.
///
/// # Examples
///
/// ```
/// use tonic::Response;
/// use tonic_testkit::assert_no_metadata;
///
/// assert_no_metadata!(Response::new(()), "x-debug");
/// ```
///
/// A context after `;` (`; "over {transport}"`) is printed with a failure, as
/// [`assert_status!`](crate::assert_status) shows.
#[macro_export]
macro_rules! assert_no_metadata {
    ($source:expr, $key:expr $(,)?) => {
        $crate::__private::assert_no_metadata(&$source, $key, ::std::option::Option::None)
    };
    ($source:expr, $key:expr; $($context:tt)+) => {
        $crate::__private::assert_no_metadata(
            &$source,
            $key,
            ::std::option::Option::Some(::std::format_args!($($context)+)),
        )
    };
}

/// The body of [`assert_metadata!`](crate::assert_metadata).
#[track_caller]
pub fn assert_metadata<S, V>(
    source: &S,
    key: &str,
    expected: Option<V>,
    context: Option<std::fmt::Arguments<'_>>,
) -> String
where
    S: MetadataSource + ?Sized,
    V: AsRef<[u8]>,
{
    let (name, metadata) = source.metadata_part();
    let values = values_of(metadata, key);
    let expected = expected.as_ref().map(|value| value.as_ref());
    let found = values.iter().find(|value| expected.is_none_or(|expected| expected == &value[..]));
    if let Some(value) = found {
        return String::from_utf8_lossy(value).into_owned();
    }
    let (expected, actual) = match expected {
        None => {
            (format!("{key:?} in {name}"), format!("it is missing; {name} are {}", show(metadata)))
        }
        Some(expected) => (
            format!("{key:?} = {} in {name}", show_value(key, expected)),
            match values.len() {
                0 => format!("it is missing; {name} are {}", show(metadata)),
                _ => format!("{key:?} = {}", show_values(key, &values)),
            },
        ),
    };
    let failed = super::failed("assert_metadata!", context);
    panic!("{failed}\n  expected: {expected}\n    actual: {actual}")
}

/// The body of [`assert_no_metadata!`](crate::assert_no_metadata).
#[track_caller]
pub fn assert_no_metadata<S: MetadataSource + ?Sized>(
    source: &S,
    key: &str,
    context: Option<std::fmt::Arguments<'_>>,
) {
    let (name, metadata) = source.metadata_part();
    let values = values_of(metadata, key);
    if !values.is_empty() {
        panic!(
            "{}\n  expected: no {key:?} in {name}\n    actual: {key:?} = {}",
            super::failed("assert_no_metadata!", context),
            show_values(key, &values)
        );
    }
}

/// The values of `key`, binary ones decoded.
#[track_caller]
fn values_of(metadata: &MetadataMap, key: &str) -> Vec<Vec<u8>> {
    let valid = match key.ends_with("-bin") {
        true => tonic::metadata::BinaryMetadataKey::from_bytes(key.as_bytes()).is_ok(),
        false => tonic::metadata::AsciiMetadataKey::from_bytes(key.as_bytes()).is_ok(),
    };
    if !valid {
        panic!("{}", crate::protocol::invalid_key(key));
    }
    if key.ends_with("-bin") {
        metadata
            .get_all_bin(key)
            .iter()
            .map(|value| value.to_bytes().map(|bytes| bytes.to_vec()).unwrap_or_default())
            .collect()
    } else {
        metadata.get_all(key).iter().map(|value| value.as_bytes().to_vec()).collect()
    }
}

fn show_value(key: &str, value: &[u8]) -> String {
    match std::str::from_utf8(value) {
        Ok(text) if !key.ends_with("-bin") => format!("{text:?}"),
        _ => format!("{value:?}"),
    }
}

fn show_values(key: &str, values: &[Vec<u8>]) -> String {
    let shown: Vec<String> = values.iter().map(|value| show_value(key, value)).collect();
    shown.join(", ")
}

/// The whole map on one line: `{"key": "value", "key-bin": [1, 2]}`.
pub(crate) fn show(metadata: &MetadataMap) -> String {
    let mut line = String::from("{");
    for (index, entry) in metadata.iter().enumerate() {
        if index > 0 {
            line.push_str(", ");
        }
        let _ = match entry {
            KeyAndValueRef::Ascii(key, value) => {
                write!(line, "{:?}: {}", key.as_str(), show_value(key.as_str(), value.as_bytes()))
            }
            KeyAndValueRef::Binary(key, value) => {
                let bytes = value.to_bytes().map(|bytes| bytes.to_vec()).unwrap_or_default();
                write!(line, "{:?}: {bytes:?}", key.as_str())
            }
        };
    }
    line.push('}');
    line
}
