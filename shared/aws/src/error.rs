//! Turns every AWS SDK failure into a [`PortError`], in one place, so no SDK error type leaves
//! this crate and every adapter classifies failures the same way.
//!
//! | failure | port error |
//! |---|---|
//! | `ConditionalCheckFailedException` | `Conflict` (a conditional write lost, which is expected under concurrency) |
//! | throttling, 5xx, timeouts, connection failures, unreadable responses | `Unavailable` (may pass by itself) |
//! | validation, not found, access denied, any other 4xx, a request that could not be built | `Invalid` |
//!
//! Messages carry the service's error code and message, never request contents, so a secret
//! value that was being written cannot end up in an error.

use std::error::Error as StdError;
use std::fmt;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use domain::PortError;

/// Error codes that mean "the service is busy or briefly broken; the same request may succeed later".
const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "TooManyRequestsException",
    "TransactionInProgressException",
    "InternalServerError",
    "InternalFailure",
    "InternalError",
    "InternalErrorException",
    "InternalServiceError",
    "InternalServiceErrorException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "KMSThrottlingException",
];

/// The error code DynamoDB returns when a `ConditionExpression` does not hold.
const CONDITIONAL_CHECK_FAILED: &str = "ConditionalCheckFailedException";

/// What an SDK failure means to the caller; see the module table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    Conflict,
    Unavailable,
    Invalid,
}

/// Classifies a service's answer by its error code, falling back to the HTTP status when the code
/// is unknown (e.g. a 503 from a load balancer that carries no AWS error body).
pub(crate) fn classify(code: Option<&str>, status: u16) -> Class {
    match code {
        Some(CONDITIONAL_CHECK_FAILED) => Class::Conflict,
        Some(code) if TRANSIENT_CODES.contains(&code) => Class::Unavailable,
        _ if status == 429 || status >= 500 => Class::Unavailable,
        _ => Class::Invalid,
    }
}

/// An SDK failure with a readable message (the SDK's own `Display` says only "service error")
/// and the original error kept as the source for the cause chain.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub(crate) struct AwsFailure {
    message: String,
    #[source]
    source: Box<dyn StdError + Send + Sync + 'static>,
}

/// The error code of a failed call, when the service answered with one. Adapters use it for the
/// few codes they handle themselves (a missing secret, a table that already exists).
pub(crate) fn error_code<E>(err: &SdkError<E, HttpResponse>) -> Option<&str>
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ServiceError(_) => err.code(),
        _ => None,
    }
}

/// Whether a DynamoDB `ConditionExpression` did not hold. Adapters turn this into a `Conflict` that
/// says what was contended ("order acme#7 is leased by another worker"), or into a plain answer
/// (a dedupe claim that is already taken).
pub(crate) fn is_conditional_check_failed<E>(err: &SdkError<E, HttpResponse>) -> bool
where
    E: ProvideErrorMetadata,
{
    error_code(err) == Some(CONDITIONAL_CHECK_FAILED)
}

/// Maps any SDK call's failure to a [`PortError`]; `context` says what was being done
/// ("putting audit event for acme#bc-order#1042").
pub(crate) fn from_sdk<E>(context: impl Into<String>, err: SdkError<E, HttpResponse>) -> PortError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let context = context.into();
    let class = match &err {
        // The request could not even be built: a bug or bad input, retrying will not help.
        SdkError::ConstructionFailure(_) => Class::Invalid,
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => Class::Unavailable,
        SdkError::ServiceError(service) => classify(err.code(), service.raw().status().as_u16()),
        _ => Class::Unavailable,
    };
    let message = match (err.code(), err.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => DisplayErrorContext(&err).to_string(),
    };
    match class {
        Class::Conflict => PortError::Conflict(format!("{context}: {message}")),
        Class::Invalid => PortError::invalid(context, message),
        Class::Unavailable => PortError::unavailable(context, AwsFailure { message, source: Box::new(err) }),
    }
}

/// A request builder refused its input (a required field missing): a bug, never transient.
pub(crate) fn from_build(context: impl Into<String>, err: impl fmt::Display) -> PortError {
    PortError::invalid(context, err.to_string())
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::operation::put_item::PutItemError;

    use super::*;

    #[track_caller]
    fn check(code: Option<&str>, status: u16, expected: Class) {
        assert_eq!(classify(code, status), expected, "code {code:?}, status {status:?}");
    }

    #[test]
    fn failed_conditions_are_conflicts_whatever_the_status() {
        check(Some("ConditionalCheckFailedException"), 400, Class::Conflict);
    }

    #[test]
    fn throttling_and_server_errors_are_unavailable() {
        check(Some("ThrottlingException"), 400, Class::Unavailable);
        check(Some("ProvisionedThroughputExceededException"), 400, Class::Unavailable);
        check(Some("InternalServerError"), 500, Class::Unavailable);
        check(None, 503, Class::Unavailable);
        check(Some("SomethingNew"), 502, Class::Unavailable);
        check(None, 429, Class::Unavailable);
    }

    #[test]
    fn validation_missing_resources_and_access_denied_are_invalid() {
        check(Some("ValidationException"), 400, Class::Invalid);
        check(Some("ResourceNotFoundException"), 400, Class::Invalid);
        check(Some("AccessDeniedException"), 400, Class::Invalid);
        check(None, 403, Class::Invalid);
    }

    #[test]
    fn timeouts_and_connection_failures_are_unavailable_and_keep_their_cause() {
        let timeout: SdkError<PutItemError, HttpResponse> = SdkError::timeout_error("read timed out");
        let err = from_sdk("putting audit event", timeout);
        assert!(matches!(err, PortError::Unavailable { .. }), "{err:?}");
        assert!(err.to_string().starts_with("putting audit event: "), "{err}");
        assert!(StdError::source(&err).is_some());

        let refused: SdkError<PutItemError, HttpResponse> =
            SdkError::dispatch_failure(aws_sdk_dynamodb::error::ConnectorError::io("connection refused".into()));
        assert!(matches!(from_sdk("putting audit event", refused), PortError::Unavailable { .. }));
    }

    #[test]
    fn a_request_that_cannot_be_built_is_invalid() {
        let unbuildable: SdkError<PutItemError, HttpResponse> = SdkError::construction_failure("missing table name");
        let err = from_sdk("putting audit event", unbuildable);
        assert!(matches!(err, PortError::Invalid { .. }), "{err:?}");
    }
}
