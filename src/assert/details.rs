//! Assertions on the `google.rpc` rich error details a status carries (through tonic-types).

use std::{fmt, time::Duration};

use tonic::Status;
use tonic_types::{ErrorDetail, ErrorInfo, FieldViolation, RetryInfo, StatusExt};

use super::{Observed, StatusSource, TextMatcher, describe_observed};

/// Asserts that a status carries a `google.rpc.BadRequest` field violation for `field`, and
/// optionally that its description matches (a string, [`contains`](crate::matchers::contains), a
/// closure, as for [`assert_status!`](crate::assert_status)). Returns the violation.
///
/// Takes any [`StatusSource`], borrowed. The failure message lists the details the status
/// did carry.
///
/// # Examples
///
/// ```
/// use tonic::{Code, Status};
/// use tonic_testkit::assert_field_violation;
/// use tonic_types::{ErrorDetails, StatusExt};
///
/// let details = ErrorDetails::with_bad_request_violation("driver_id", "empty");
/// let status = Status::with_error_details(Code::InvalidArgument, "invalid ride", details);
///
/// assert_field_violation!(status, "driver_id");
/// let violation = assert_field_violation!(status, "driver_id", "empty");
/// assert_eq!(violation.description, "empty");
/// ```
///
/// ```should_panic
/// use tonic::Status;
/// use tonic_testkit::assert_field_violation;
///
/// // Panics: "...expected: a BadRequest field violation for \"driver_id\"\n    actual: InvalidArgument, message \"bad\", without details..."
/// assert_field_violation!(Status::invalid_argument("bad"), "driver_id");
/// ```
///
/// A context after `;` (`; "over {transport}"`) is printed with a failure, as
/// [`assert_status!`](crate::assert_status) shows.
#[macro_export]
macro_rules! assert_field_violation {
    ($actual:expr, $field:expr $(,)?) => {
        $crate::__private::assert_field_violation(
            &$actual,
            $field,
            ::std::option::Option::<&str>::None,
            ::std::option::Option::None,
        )
    };
    ($actual:expr, $field:expr, $description:expr $(,)?) => {
        $crate::__private::assert_field_violation(
            &$actual,
            $field,
            ::std::option::Option::Some($description),
            ::std::option::Option::None,
        )
    };
    ($actual:expr, $field:expr; $($context:tt)+) => {
        $crate::__private::assert_field_violation(
            &$actual,
            $field,
            ::std::option::Option::<&str>::None,
            ::std::option::Option::Some(::std::format_args!($($context)+)),
        )
    };
    ($actual:expr, $field:expr, $description:expr; $($context:tt)+) => {
        $crate::__private::assert_field_violation(
            &$actual,
            $field,
            ::std::option::Option::Some($description),
            ::std::option::Option::Some(::std::format_args!($($context)+)),
        )
    };
}

/// Asserts that a status carries a `google.rpc.ErrorInfo` with `reason`, and optionally
/// `domain`. Returns the `ErrorInfo` (its metadata is there to check).
///
/// # Examples
///
/// ```
/// use tonic::{Code, Status};
/// use tonic_testkit::assert_error_info;
/// use tonic_types::{ErrorDetails, StatusExt};
///
/// let details = ErrorDetails::with_error_info("QUOTA_EXCEEDED", "rides.example.com", [("limit".to_owned(), "5".to_owned())]);
/// let status = Status::with_error_details(Code::ResourceExhausted, "slow down", details);
///
/// let info = assert_error_info!(status, "QUOTA_EXCEEDED", "rides.example.com");
/// assert_eq!(info.metadata["limit"], "5");
/// ```
///
/// A context after `;` (`; "over {transport}"`) is printed with a failure, as
/// [`assert_status!`](crate::assert_status) shows.
#[macro_export]
macro_rules! assert_error_info {
    ($actual:expr, $reason:expr $(,)?) => {
        $crate::__private::assert_error_info(
            &$actual,
            $reason,
            ::std::option::Option::None,
            ::std::option::Option::None,
        )
    };
    ($actual:expr, $reason:expr, $domain:expr $(,)?) => {
        $crate::__private::assert_error_info(
            &$actual,
            $reason,
            ::std::option::Option::Some($domain),
            ::std::option::Option::None,
        )
    };
    ($actual:expr, $reason:expr; $($context:tt)+) => {
        $crate::__private::assert_error_info(
            &$actual,
            $reason,
            ::std::option::Option::None,
            ::std::option::Option::Some(::std::format_args!($($context)+)),
        )
    };
    ($actual:expr, $reason:expr, $domain:expr; $($context:tt)+) => {
        $crate::__private::assert_error_info(
            &$actual,
            $reason,
            ::std::option::Option::Some($domain),
            ::std::option::Option::Some(::std::format_args!($($context)+)),
        )
    };
}

/// Asserts that a status carries a `google.rpc.RetryInfo`, and optionally its retry delay.
/// Returns the `RetryInfo`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tonic::{Code, Status};
/// use tonic_testkit::assert_retry_info;
/// use tonic_types::{ErrorDetails, StatusExt};
///
/// let details = ErrorDetails::with_retry_info(Some(Duration::from_secs(3)));
/// let status = Status::with_error_details(Code::Unavailable, "busy", details);
///
/// assert_retry_info!(status);
/// assert_retry_info!(status, Duration::from_secs(3));
/// ```
///
/// A context after `;` (`; "over {transport}"`) is printed with a failure, as
/// [`assert_status!`](crate::assert_status) shows.
#[macro_export]
macro_rules! assert_retry_info {
    ($actual:expr $(,)?) => {
        $crate::__private::assert_retry_info(
            &$actual,
            ::std::option::Option::None,
            ::std::option::Option::None,
        )
    };
    ($actual:expr, $delay:expr $(,)?) => {
        $crate::__private::assert_retry_info(
            &$actual,
            ::std::option::Option::Some($delay),
            ::std::option::Option::None,
        )
    };
    ($actual:expr; $($context:tt)+) => {
        $crate::__private::assert_retry_info(
            &$actual,
            ::std::option::Option::None,
            ::std::option::Option::Some(::std::format_args!($($context)+)),
        )
    };
    ($actual:expr, $delay:expr; $($context:tt)+) => {
        $crate::__private::assert_retry_info(
            &$actual,
            ::std::option::Option::Some($delay),
            ::std::option::Option::Some(::std::format_args!($($context)+)),
        )
    };
}

/// The body of [`assert_field_violation!`](crate::assert_field_violation).
#[track_caller]
pub fn assert_field_violation<S, M>(
    actual: &S,
    field: &str,
    description: Option<M>,
    context: Option<fmt::Arguments<'_>>,
) -> FieldViolation
where
    S: StatusSource + ?Sized,
    M: TextMatcher,
{
    let found = details_of(actual).iter().find_map(|detail| match detail {
        ErrorDetail::BadRequest(bad_request) => bad_request
            .field_violations
            .iter()
            .find(|v| {
                v.field == field && description.as_ref().is_none_or(|d| d.matches(&v.description))
            })
            .cloned(),
        _ => None,
    });
    if let Some(violation) = found {
        return violation;
    }
    let mut expected = format!("a BadRequest field violation for {field:?}");
    if let Some(description) = &description {
        expected.push_str(&format!(" with description {}", description.describe()));
    }
    fail("assert_field_violation!", context, &expected, actual)
}

/// The body of [`assert_error_info!`](crate::assert_error_info).
#[track_caller]
pub fn assert_error_info<S>(
    actual: &S,
    reason: &str,
    domain: Option<&str>,
    context: Option<fmt::Arguments<'_>>,
) -> ErrorInfo
where
    S: StatusSource + ?Sized,
{
    let found = details_of(actual).into_iter().find_map(|detail| match detail {
        ErrorDetail::ErrorInfo(info)
            if info.reason == reason && domain.is_none_or(|domain| info.domain == domain) =>
        {
            Some(info)
        }
        _ => None,
    });
    if let Some(info) = found {
        return info;
    }
    let mut expected = format!("an ErrorInfo with reason {reason:?}");
    if let Some(domain) = domain {
        expected.push_str(&format!(" in domain {domain:?}"));
    }
    fail("assert_error_info!", context, &expected, actual)
}

/// The body of [`assert_retry_info!`](crate::assert_retry_info).
#[track_caller]
pub fn assert_retry_info<S>(
    actual: &S,
    delay: Option<Duration>,
    context: Option<fmt::Arguments<'_>>,
) -> RetryInfo
where
    S: StatusSource + ?Sized,
{
    let found = details_of(actual).into_iter().find_map(|detail| match detail {
        ErrorDetail::RetryInfo(info)
            if delay.is_none_or(|delay| info.retry_delay == Some(delay)) =>
        {
            Some(info)
        }
        _ => None,
    });
    if let Some(info) = found {
        return info;
    }
    let expected = match delay {
        None => "a RetryInfo".to_owned(),
        Some(delay) => format!("a RetryInfo with retry delay {delay:?}"),
    };
    fail("assert_retry_info!", context, &expected, actual)
}

fn details_of<S: StatusSource + ?Sized>(actual: &S) -> Vec<ErrorDetail> {
    match actual.observe() {
        Observed::Status(status) => status.check_error_details_vec().unwrap_or_default(),
        _ => Vec::new(),
    }
}

#[track_caller]
fn fail<S: StatusSource + ?Sized>(
    assertion: &str,
    context: Option<fmt::Arguments<'_>>,
    expected: &str,
    actual: &S,
) -> ! {
    let observed = actual.observe();
    let actual = match &observed {
        Observed::Status(status) if status.details().is_empty() => format!(
            "{}, without details (a handler attaches them with \
             tonic_types::StatusExt::with_error_details)",
            super::describe_status(status)
        ),
        Observed::Status(status) => super::describe_status(status),
        other => describe_observed(other),
    };
    let failed = super::failed(assertion, context);
    panic!("{failed}\n  expected: {expected}\n    actual: {actual}")
}

/// The rich details of a status on one line, or why there are none.
pub(crate) fn describe_details(status: &Status) -> String {
    match status.check_error_details_vec() {
        Err(error) => format!("with details that are not a google.rpc.Status ({error})"),
        Ok(details) => {
            let shown: Vec<String> = details.iter().map(describe_detail).collect();
            format!("with details [{}]", shown.join("; "))
        }
    }
}

fn describe_detail(detail: &ErrorDetail) -> String {
    match detail {
        ErrorDetail::BadRequest(bad_request) => {
            let violations: Vec<String> = bad_request
                .field_violations
                .iter()
                .map(|v| format!("{:?}: {:?}", v.field, v.description))
                .collect();
            format!("BadRequest {{{}}}", violations.join(", "))
        }
        ErrorDetail::ErrorInfo(info) => {
            format!("ErrorInfo {{reason: {:?}, domain: {:?}}}", info.reason, info.domain)
        }
        ErrorDetail::RetryInfo(info) => {
            format!("RetryInfo {{retry_delay: {:?}}}", info.retry_delay)
        }
        other => format!("{other:?}"),
    }
}
