//! Assertions on statuses, their rich details, and metadata, with messages that show what was
//! expected and what arrived.

use std::fmt;

use tonic::{Code, Status};

pub(crate) mod details;
pub(crate) mod metadata;

/// Seals [`StatusSource`] and [`MetadataSource`]: the assertion macros read what the kit and
/// tonic define, and 0.x can add to the traits without breaking anyone.
pub(crate) mod sealed {
    /// Implemented by the types the assertion macros read.
    pub trait Sealed {}

    impl Sealed for tonic::Status {}
    impl<T> Sealed for Result<T, tonic::Status> {}
    impl<T> Sealed for tonic::Request<T> {}
    impl<T> Sealed for tonic::Response<T> {}
    impl Sealed for tonic::metadata::MetadataMap {}
    impl<S: Sealed + ?Sized> Sealed for &S {}
    impl<S: Sealed + ?Sized> Sealed for Box<S> {}
}

pub use metadata::MetadataSource;

/// What a value says about how a call ended, for [`assert_status!`](crate::assert_status) and
/// the details assertions. `#[non_exhaustive]`: a later version may tell more cases apart.
#[derive(Debug)]
#[non_exhaustive]
pub enum Observed<'a> {
    /// A status: an error, or the `OK` a finished stream ended with.
    Status(&'a Status),
    /// A successful call, shown with `Debug`.
    Success(String),
    /// No status yet, and why (a stream collected with a limit).
    Pending(String),
}

/// Anything that carries how a call ended: a `Status`, a call's `Result<T, Status>`, a
/// [`StreamOutcome`](crate::StreamOutcome), an [`Intercepted`](crate::handler::Intercepted), or a
/// reference to one of them.
///
/// The trait is sealed: the macros read the kit's and tonic's types, and new ones come with the
/// kit.
///
/// # Examples
///
/// ```
/// use tonic::{Code, Status};
/// use tonic_testkit::matchers::{Observed, StatusSource};
///
/// let result: Result<u32, Status> = Ok(7);
///
/// assert!(matches!(result.observe(), Observed::Success(shown) if shown == "7"));
/// assert!(matches!(Status::not_found("x").observe(), Observed::Status(s) if s.code() == Code::NotFound));
/// ```
pub trait StatusSource: sealed::Sealed {
    /// The status, or what stands in its place.
    fn observe(&self) -> Observed<'_>;
}

impl StatusSource for Status {
    fn observe(&self) -> Observed<'_> {
        Observed::Status(self)
    }
}

impl<T: fmt::Debug> StatusSource for Result<T, Status> {
    fn observe(&self) -> Observed<'_> {
        match self {
            Ok(value) => Observed::Success(format!("{value:?}")),
            Err(status) => Observed::Status(status),
        }
    }
}

impl<S: StatusSource + ?Sized> StatusSource for &S {
    fn observe(&self) -> Observed<'_> {
        (**self).observe()
    }
}

impl<S: StatusSource + ?Sized> StatusSource for Box<S> {
    fn observe(&self) -> Observed<'_> {
        (**self).observe()
    }
}

/// A test of a text (a status message, a field violation's description) that can describe
/// itself in a failure message.
///
/// A `&str` or `String` matches exactly; [`contains`] and [`starts_with`] match a part; a
/// closure `|text: &str| -> bool` is a predicate.
///
/// Unlike [`StatusSource`] and [`MetadataSource`], this trait is open: a test implements it for
/// a matcher of its own (a regular expression, a parsed number) and the macros take it, with its
/// [`describe`](TextMatcher::describe) in their failure messages.
///
/// # Examples
///
/// ```
/// use tonic_testkit::matchers::{TextMatcher, contains};
///
/// assert!(TextMatcher::matches(&"User not found", "User not found"));
/// assert!(contains("not found").matches("User 7 not found"));
/// assert!((|text: &str| text.len() < 20).matches("short"));
/// assert_eq!(contains("not found").describe(), "containing \"not found\"");
/// ```
pub trait TextMatcher {
    /// Whether `text` is acceptable.
    fn matches(&self, text: &str) -> bool;
    /// How a failure message names what was expected, such as `"User not found"` or
    /// `containing "not found"`.
    fn describe(&self) -> String;
}

impl TextMatcher for &str {
    fn matches(&self, text: &str) -> bool {
        *self == text
    }
    fn describe(&self) -> String {
        format!("{self:?}")
    }
}

impl TextMatcher for String {
    fn matches(&self, text: &str) -> bool {
        self == text
    }
    fn describe(&self) -> String {
        format!("{self:?}")
    }
}

impl<F: Fn(&str) -> bool> TextMatcher for F {
    fn matches(&self, text: &str) -> bool {
        self(text)
    }
    fn describe(&self) -> String {
        "a text accepted by the predicate".to_owned()
    }
}

/// Matches a text that contains `part`.
///
/// # Examples
///
/// ```
/// use tonic::{Code, Status};
/// use tonic_testkit::assert_status;
/// use tonic_testkit::matchers::contains;
///
/// let status = Status::invalid_argument("driver_id: empty");
///
/// assert_status!(status, Code::InvalidArgument, contains("driver_id"));
/// ```
pub fn contains(part: impl Into<String>) -> Contains {
    Contains(part.into())
}

/// Matches a text that starts with `prefix`.
///
/// # Examples
///
/// ```
/// use tonic::{Code, Status};
/// use tonic_testkit::assert_status;
/// use tonic_testkit::matchers::starts_with;
///
/// let status = Status::invalid_argument("driver_id: empty");
///
/// assert_status!(status, Code::InvalidArgument, starts_with("driver_id:"));
/// ```
pub fn starts_with(prefix: impl Into<String>) -> StartsWith {
    StartsWith(prefix.into())
}

/// The matcher [`contains`] makes.
#[derive(Debug, Clone)]
pub struct Contains(String);

impl TextMatcher for Contains {
    fn matches(&self, text: &str) -> bool {
        text.contains(&self.0)
    }
    fn describe(&self) -> String {
        format!("containing {:?}", self.0)
    }
}

/// The matcher [`starts_with`] makes.
#[derive(Debug, Clone)]
pub struct StartsWith(String);

impl TextMatcher for StartsWith {
    fn matches(&self, text: &str) -> bool {
        text.starts_with(&self.0)
    }
    fn describe(&self) -> String {
        format!("starting with {:?}", self.0)
    }
}

/// Asserts how a call ended: its status code, and optionally its message. Returns the `Status`
/// (an `OK` one for a success) for further checks.
///
/// The first argument is anything that is a [`StatusSource`]: a `Status`, the
/// `Result<Response<T>, Status>` of a call, a [`StreamOutcome`](crate::StreamOutcome), an
/// [`Intercepted`](crate::handler::Intercepted), or a reference to one. It is borrowed, not moved.
/// The message is checked with a [`TextMatcher`]: a string for the exact text, [`contains`] or
/// [`starts_with`] for a part, or a closure `|message: &str| ...`.
///
/// `Code::Ok` accepts a successful call and a stream that ended without an error.
///
/// # Examples
///
/// ```
/// use tonic::{Code, Status};
/// use tonic_testkit::assert_status;
/// use tonic_testkit::matchers::contains;
///
/// let result: Result<(), Status> = Err(Status::not_found("User not found"));
///
/// assert_status!(result, Code::NotFound);
/// assert_status!(result, Code::NotFound, "User not found");
/// assert_status!(result, Code::NotFound, contains("not found"));
/// let status = assert_status!(result, Code::NotFound, |message: &str| message.ends_with("found"));
/// assert!(status.details().is_empty());
/// ```
///
/// After the arguments, a `;` and a format string with its arguments add context to the failure
/// message, as `assert_eq!`'s trailing arguments do (a comma would be taken for the message to
/// check):
///
/// ```
/// # use tonic::{Code, Status};
/// # use tonic_testkit::{Transport, assert_status};
/// for transport in Transport::ALL {
///     let result: Result<(), Status> = Err(Status::not_found("User not found"));
///     assert_status!(result, Code::NotFound, "User not found"; "over {transport}");
/// }
/// ```
///
/// A failure shows what was expected and what arrived:
///
/// ```should_panic
/// use tonic::{Code, Status};
/// use tonic_testkit::assert_status;
///
/// let result: Result<u32, Status> = Ok(7);
///
/// // Panics: "tonic-testkit: assert_status! failed\n  expected: NotFound\n    actual: the call succeeded with 7"
/// assert_status!(result, Code::NotFound);
/// ```
#[macro_export]
macro_rules! assert_status {
    ($actual:expr, $code:expr $(,)?) => {
        $crate::__private::assert_status(
            &$actual,
            $code,
            ::std::option::Option::<&str>::None,
            ::std::option::Option::None,
        )
    };
    ($actual:expr, $code:expr, $message:expr $(,)?) => {
        $crate::__private::assert_status(
            &$actual,
            $code,
            ::std::option::Option::Some($message),
            ::std::option::Option::None,
        )
    };
    ($actual:expr, $code:expr; $($context:tt)+) => {
        $crate::__private::assert_status(
            &$actual,
            $code,
            ::std::option::Option::<&str>::None,
            ::std::option::Option::Some(::std::format_args!($($context)+)),
        )
    };
    ($actual:expr, $code:expr, $message:expr; $($context:tt)+) => {
        $crate::__private::assert_status(
            &$actual,
            $code,
            ::std::option::Option::Some($message),
            ::std::option::Option::Some(::std::format_args!($($context)+)),
        )
    };
}

/// The body of [`assert_status!`](crate::assert_status).
#[track_caller]
pub fn assert_status<S, M>(
    actual: &S,
    code: Code,
    message: Option<M>,
    context: Option<fmt::Arguments<'_>>,
) -> Status
where
    S: StatusSource + ?Sized,
    M: TextMatcher,
{
    let observed = actual.observe();
    let passed = match &observed {
        Observed::Status(status) => {
            status.code() == code && message.as_ref().is_none_or(|m| m.matches(status.message()))
        }
        Observed::Success(_) => code == Code::Ok && message.as_ref().is_none_or(|m| m.matches("")),
        Observed::Pending(_) => false,
    };
    if !passed {
        let expected = match &message {
            None => format!("{code:?}"),
            Some(message) => format!("{code:?}, message {}", message.describe()),
        };
        panic!(
            "{}\n  expected: {expected}\n    actual: {}",
            failed("assert_status!", context),
            describe_observed(&observed)
        );
    }
    match observed {
        Observed::Status(status) => status.clone(),
        _ => Status::new(Code::Ok, ""),
    }
}

/// The first line of a failed assertion, with the context the test gave, if any.
pub(crate) fn failed(assertion: &str, context: Option<fmt::Arguments<'_>>) -> String {
    match context {
        None => format!("tonic-testkit: {assertion} failed"),
        Some(context) => format!("tonic-testkit: {assertion} failed: {context}"),
    }
}

/// One line on how a call ended, for failure messages.
pub(crate) fn describe_observed(observed: &Observed<'_>) -> String {
    match observed {
        Observed::Status(status) => describe_status(status),
        Observed::Success(value) => format!("the call succeeded with {value}"),
        Observed::Pending(why) => format!("no status: {why}"),
    }
}

pub(crate) fn describe_status(status: &Status) -> String {
    let mut line = format!("{:?}, message {:?}", status.code(), status.message());
    if !status.details().is_empty() {
        line.push_str(", ");
        line.push_str(&details::describe_details(status));
    }
    line
}
