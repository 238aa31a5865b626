//! The assertion macros: what passes, and the exact text of each failure.

use std::time::Duration;
mod common;

use common::panic_location;

use tonic::{
    Code, Response, Status,
    metadata::{MetadataMap, MetadataValue},
};
use tonic_testkit::handler::Intercepted;
use tonic_testkit::matchers::{contains, starts_with};
use tonic_testkit::{
    StreamOutcome, TestRequest, assert_error_info, assert_field_violation, assert_metadata,
    assert_no_metadata, assert_retry_info, assert_status, collect,
};
use tonic_types::{ErrorDetails, StatusExt};

fn not_found() -> Result<Response<u32>, Status> {
    Err(Status::not_found("User not found"))
}

fn ride_rejected() -> Status {
    let mut details = ErrorDetails::with_bad_request_violation("driver_id", "empty");
    details.add_bad_request_violation("car_id", "too long");
    details.set_error_info("INVALID_RIDE", "rides.example.com", [("rule".into(), "ids".into())]);
    details.set_retry_info(Some(Duration::from_secs(3)));
    Status::with_error_details(Code::InvalidArgument, "invalid ride", details)
}

fn with_trailers() -> Status {
    let mut trailers = MetadataMap::new();
    trailers.insert("retry-after", MetadataValue::from_static("3"));
    trailers.append("retry-after", MetadataValue::from_static("4"));
    trailers.insert_bin("trace-bin", MetadataValue::from_bytes(&[1, 2, 3]));
    Status::with_metadata(Code::Unavailable, "busy", trailers)
}

async fn limited_outcome() -> StreamOutcome<u32> {
    collect(tokio_stream::iter([Ok(1), Ok(2), Ok(3)])).limit(1).await
}

// assert_status!

#[test]
fn assert_status_accepts_every_form_of_a_matching_status() {
    let result = not_found();

    assert_status!(result, Code::NotFound);
    assert_status!(result, Code::NotFound, "User not found");
    assert_status!(result, Code::NotFound, contains("not found"));
    assert_status!(result, Code::NotFound, starts_with("User"));
    assert_status!(result, Code::NotFound, |message: &str| message.len() == 14);
    assert_status!(result.as_ref().unwrap_err(), Code::NotFound);
    assert_status!(&result, Code::NotFound);
}

#[test]
fn assert_status_returns_the_status_and_leaves_its_argument() {
    let result = not_found();

    let status = assert_status!(result, Code::NotFound);

    assert_eq!(status.message(), "User not found");
    assert!(result.is_err());
}

#[test]
fn assert_status_ok_accepts_a_success() {
    let result: Result<u32, Status> = Ok(7);

    let status = assert_status!(result, Code::Ok);

    assert_eq!((status.code(), status.message()), (Code::Ok, ""));
}

#[test]
#[should_panic(
    expected = "tonic-testkit: assert_status! failed\n  expected: NotFound\n    actual: \
                InvalidArgument, message \"bad id\""
)]
fn assert_status_shows_a_wrong_code() {
    assert_status!(Status::invalid_argument("bad id"), Code::NotFound);
}

#[test]
#[should_panic(
    expected = "tonic-testkit: assert_status! failed\n  expected: NotFound, message \"user not \
                found\"\n    actual: NotFound, message \"User not found\""
)]
fn assert_status_shows_a_wrong_message() {
    assert_status!(not_found(), Code::NotFound, "user not found");
}

#[test]
#[should_panic(
    expected = "  expected: NotFound, message containing \"missing\"\n    actual: NotFound, \
                message \"User not found\""
)]
fn assert_status_shows_a_missing_part() {
    assert_status!(not_found(), Code::NotFound, contains("missing"));
}

#[test]
#[should_panic(
    expected = "  expected: NotFound, message starting with \"Item\"\n    actual: NotFound, \
                message \"User not found\""
)]
fn assert_status_shows_a_wrong_prefix() {
    assert_status!(not_found(), Code::NotFound, starts_with("Item"));
}

#[test]
#[should_panic(
    expected = "  expected: NotFound, message a text accepted by the predicate\n    actual: \
                NotFound, message \"User not found\""
)]
fn assert_status_shows_a_rejecting_predicate() {
    assert_status!(not_found(), Code::NotFound, |message: &str| message.is_empty());
}

#[test]
#[should_panic(
    expected = "tonic-testkit: assert_status! failed\n  expected: NotFound\n    actual: the call \
                succeeded with Response { metadata: MetadataMap { headers: {} }, message: 7, \
                extensions: {} }"
)]
fn assert_status_shows_a_success_it_did_not_expect() {
    let result: Result<Response<u32>, Status> = Ok(Response::new(7));

    assert_status!(result, Code::NotFound);
}

#[test]
#[should_panic(
    expected = "  expected: InvalidArgument\n    actual: Unavailable, message \"busy\", with \
                details [RetryInfo {retry_delay: Some(1s)}]"
)]
fn assert_status_shows_the_details_of_a_wrong_status() {
    let details = ErrorDetails::with_retry_info(Some(Duration::from_secs(1)));
    let status = Status::with_error_details(Code::Unavailable, "busy", details);

    assert_status!(status, Code::InvalidArgument);
}

#[tokio::test]
#[should_panic(expected = "  expected: Ok\n    actual: no status: the stream was collected with \
                `.limit(1)` and stopped before it ended")]
async fn assert_status_explains_a_limited_stream() {
    let outcome = limited_outcome().await;

    assert_status!(outcome, Code::Ok);
}

#[test]
#[should_panic(
    expected = "  expected: Unauthenticated\n    actual: the call succeeded with the request \
                passed with metadata {\"authorization\": \"Bearer t\"}"
)]
fn assert_status_explains_a_request_an_interceptor_passed() {
    let request = TestRequest::new(()).metadata("authorization", "Bearer t").into_request();

    assert_status!(Intercepted::Passed(request), Code::Unauthenticated);
}

// Rich details

#[test]
fn details_assertions_find_what_the_status_carries() {
    let status = ride_rejected();

    let violation = assert_field_violation!(status, "car_id", contains("long"));
    assert_field_violation!(status, "driver_id");
    assert_field_violation!(status, "driver_id", "empty");
    let info = assert_error_info!(status, "INVALID_RIDE", "rides.example.com");
    assert_error_info!(status, "INVALID_RIDE");
    let retry = assert_retry_info!(status, Duration::from_secs(3));
    assert_retry_info!(status);

    assert_eq!(violation.description, "too long");
    assert_eq!(info.metadata["rule"], "ids");
    assert_eq!(retry.retry_delay, Some(Duration::from_secs(3)));
}

#[test]
#[should_panic(
    expected = "tonic-testkit: assert_field_violation! failed\n  expected: a BadRequest field \
                violation for \"driver_id\"\n    actual: InvalidArgument, message \"driver_id: \
                empty\", without details (a handler attaches them with \
                tonic_types::StatusExt::with_error_details)"
)]
fn a_field_violation_is_not_found_in_a_status_without_details() {
    assert_field_violation!(Status::invalid_argument("driver_id: empty"), "driver_id");
}

#[test]
#[should_panic(
    expected = "tonic-testkit: assert_field_violation! failed\n  expected: a BadRequest field \
                violation for \"driver_id\" with description \"missing\"\n    actual: \
                InvalidArgument, message \"invalid ride\", with details [RetryInfo {retry_delay: \
                Some(3s)}; ErrorInfo {reason: \"INVALID_RIDE\", domain: \
                \"rides.example.com\"}; BadRequest {\"driver_id\": \"empty\", \"car_id\": \
                \"too long\"}]"
)]
fn a_field_violation_with_another_description_lists_the_details() {
    assert_field_violation!(ride_rejected(), "driver_id", "missing");
}

#[test]
#[should_panic(
    expected = "tonic-testkit: assert_field_violation! failed\n  expected: a BadRequest field \
                violation for \"id\"\n    actual: the call succeeded with 1"
)]
fn a_field_violation_is_not_found_in_a_success() {
    let result: Result<u32, Status> = Ok(1);

    assert_field_violation!(result, "id");
}

#[test]
#[should_panic(
    expected = "tonic-testkit: assert_error_info! failed\n  expected: an ErrorInfo with reason \
                \"INVALID_RIDE\" in domain \"users.example.com\"\n    actual: InvalidArgument"
)]
fn an_error_info_in_another_domain_is_a_failure() {
    assert_error_info!(ride_rejected(), "INVALID_RIDE", "users.example.com");
}

#[test]
#[should_panic(
    expected = "tonic-testkit: assert_retry_info! failed\n  expected: a RetryInfo with retry \
                delay 5s\n    actual: InvalidArgument"
)]
fn a_retry_info_with_another_delay_is_a_failure() {
    assert_retry_info!(ride_rejected(), Duration::from_secs(5));
}

#[test]
#[should_panic(
    expected = "actual: Internal, message \"x\", with details that are not a google.rpc.Status"
)]
fn details_that_do_not_decode_are_reported() {
    let status = Status::with_details(Code::Internal, "x", vec![0xff, 0xff].into());

    assert_retry_info!(status);
}

// Metadata

#[test]
fn assert_metadata_finds_ascii_and_binary_values_and_returns_them() {
    let status = with_trailers();

    let first = assert_metadata!(status, "retry-after");
    let second = assert_metadata!(status, "retry-after", "4");
    assert_metadata!(status, "trace-bin", [1u8, 2, 3]);
    assert_no_metadata!(status, "x-missing");

    assert_eq!((first.as_str(), second.as_str()), ("3", "4"));
}

#[test]
fn assert_metadata_reads_requests_responses_and_call_results() {
    let request = TestRequest::new(()).metadata("x-tenant", "acme").into_request();
    let mut response = Response::new(());
    response.metadata_mut().insert("x-request-id", MetadataValue::from_static("r-1"));
    let result: Result<Response<()>, Status> = Ok(response);

    assert_metadata!(request, "x-tenant", "acme");
    assert_metadata!(result, "x-request-id", "r-1");
    assert_metadata!(result.as_ref().unwrap(), "x-request-id");
}

#[test]
#[should_panic(
    expected = "tonic-testkit: assert_metadata! failed\n  expected: \"retry-after\" = \"5\" in \
                the status metadata (trailers)\n    actual: \"retry-after\" = \"3\", \"4\""
)]
fn assert_metadata_shows_every_value_of_the_key() {
    assert_metadata!(with_trailers(), "retry-after", "5");
}

#[test]
#[should_panic(
    expected = "tonic-testkit: assert_metadata! failed\n  expected: \"x-id\" in the status \
                metadata (trailers)\n    actual: it is missing; the status metadata (trailers) \
                are {\"retry-after\": \"3\", \"retry-after\": \"4\", \"trace-bin\": [1, 2, 3]}"
)]
fn assert_metadata_shows_all_metadata_when_the_key_is_missing() {
    assert_metadata!(with_trailers(), "x-id");
}

#[test]
#[should_panic(
    expected = "  expected: \"trace-bin\" = [9] in the status metadata (trailers)\n    actual: \
                \"trace-bin\" = [1, 2, 3]"
)]
fn assert_metadata_compares_binary_values_as_bytes() {
    assert_metadata!(with_trailers(), "trace-bin", [9u8]);
}

#[test]
#[should_panic(
    expected = "tonic-testkit: assert_no_metadata! failed\n  expected: no \"retry-after\" in the \
                status metadata (trailers)\n    actual: \"retry-after\" = \"3\", \"4\""
)]
fn assert_no_metadata_shows_the_values_present() {
    assert_no_metadata!(with_trailers(), "retry-after");
}

#[test]
#[should_panic(
    expected = "invalid metadata key \"X Id\": keys are lower-case ASCII letters, digits and \
                '-', '_', '.', and must not be empty"
)]
fn assert_metadata_rejects_an_invalid_key() {
    assert_metadata!(with_trailers(), "X Id");
}

#[tokio::test]
#[should_panic(
    expected = "  expected: \"x-id\" in the trailers of a stream stopped at its limit\n    \
                actual: it is missing; the trailers of a stream stopped at its limit are {}"
)]
async fn assert_metadata_explains_a_limited_stream() {
    let outcome = limited_outcome().await;

    assert_metadata!(outcome, "x-id");
}

// Where a failure points

#[test]
fn every_assertion_points_at_the_line_that_called_it() {
    let here = |line| ("tests/assertions.rs".to_owned(), line);
    let checks: [(u32, Box<dyn FnOnce() + std::panic::UnwindSafe>); 7] = [
        (line!(), Box::new(|| drop(assert_status!(not_found(), Code::Ok)))),
        (line!(), Box::new(|| drop(assert_field_violation!(ride_rejected(), "id")))),
        (line!(), Box::new(|| drop(assert_error_info!(ride_rejected(), "OTHER")))),
        (line!(), Box::new(|| _ = assert_retry_info!(ride_rejected(), Duration::ZERO))),
        (line!(), Box::new(|| drop(assert_metadata!(with_trailers(), "x")))),
        (line!(), Box::new(|| assert_no_metadata!(with_trailers(), "retry-after"))),
        (line!(), Box::new(|| drop(Intercepted::Rejected(not_found().unwrap_err()).passed()))),
    ];

    for (line, check) in checks {
        assert_eq!(panic_location(check), here(line));
    }
}

// A context after `;`, as assert_eq!'s trailing arguments: a loop over transports says which
// one failed.

#[test]
fn every_assertion_passes_with_a_context_as_without_one() {
    let transport = "memory";
    assert_status!(not_found(), Code::NotFound; "over {transport}");
    assert_status!(not_found(), Code::NotFound, "User not found"; "over {transport}");
    assert_field_violation!(ride_rejected(), "driver_id"; "over {transport}");
    assert_field_violation!(ride_rejected(), "driver_id", "empty"; "over {}", transport);
    assert_error_info!(ride_rejected(), "INVALID_RIDE"; "over {transport}");
    assert_error_info!(ride_rejected(), "INVALID_RIDE", "rides.example.com"; "over {transport}");
    assert_retry_info!(ride_rejected(); "over {transport}");
    assert_retry_info!(ride_rejected(), Duration::from_secs(3); "over {transport}");
    assert_metadata!(with_trailers(), "retry-after"; "over {transport}");
    assert_metadata!(with_trailers(), "retry-after", "4"; "over {transport}");
    assert_no_metadata!(with_trailers(), "x-missing"; "over {transport}");
}

#[test]
#[should_panic(expected = "tonic-testkit: assert_status! failed: over tcp, call 2
  expected: NotFound, message \"No such user\"
    actual: NotFound, message \"User not found\"")]
fn assert_status_prints_its_context() {
    let (transport, call) = ("tcp", 2);
    assert_status!(not_found(), Code::NotFound, "No such user"; "over {transport}, call {call}");
}

#[test]
#[should_panic(expected = "tonic-testkit: assert_field_violation! failed: over direct
  expected: a BadRequest field violation for \"rider_id\"")]
fn assert_field_violation_prints_its_context() {
    assert_field_violation!(ride_rejected(), "rider_id"; "over direct");
}

#[test]
#[should_panic(expected = "tonic-testkit: assert_error_info! failed: over direct
  expected: an ErrorInfo with reason \"OTHER\"")]
fn assert_error_info_prints_its_context() {
    assert_error_info!(ride_rejected(), "OTHER"; "over direct");
}

#[test]
#[should_panic(expected = "tonic-testkit: assert_retry_info! failed: over direct
  expected: a RetryInfo with retry delay 1s")]
fn assert_retry_info_prints_its_context() {
    assert_retry_info!(ride_rejected(), Duration::from_secs(1); "over direct");
}

#[test]
#[should_panic(expected = "tonic-testkit: assert_metadata! failed: over memory
  expected: \"retry-after\" = \"9\" in the status metadata (trailers)
    actual: \"retry-after\" = \"3\", \"4\"")]
fn assert_metadata_prints_its_context() {
    assert_metadata!(with_trailers(), "retry-after", "9"; "over memory");
}

#[test]
#[should_panic(expected = "tonic-testkit: assert_no_metadata! failed: over memory
  expected: no \"retry-after\" in the status metadata (trailers)
    actual: \"retry-after\" = \"3\", \"4\"")]
fn assert_no_metadata_prints_its_context() {
    assert_no_metadata!(with_trailers(), "retry-after"; "over memory");
}
