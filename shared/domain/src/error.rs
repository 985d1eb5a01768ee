//! Error classes (the one vocabulary for "what do we do about this failure") and the port error.
//!
//! `shared/http` decides the class of an HTTP response; everything downstream (the order worker, the
//! sync functions, the audit log, alerts) only looks at the class.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What kind of failure happened, which decides the action:
///
/// | class | action |
/// |---|---|
/// | `Transient` | retry with backoff; the SQS worker hands long waits back to SQS |
/// | `RateLimited` | like transient, but wait as long as the server said |
/// | `Auth` | OAuth connections refresh once; API-key connections alert "key expired or not subscribed" |
/// | `Permission` | no retry; alert "integration account lacks a role"; park the record for replay |
/// | `Data` | no retry; `needs-mapping` or `failed` with the field named; replayable after the fix |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorClass {
    Transient,
    RateLimited,
    Auth,
    Permission,
    Data,
}

impl ErrorClass {
    /// Whether the same request may succeed later without anybody changing anything.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorClass::Transient | ErrorClass::RateLimited)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Transient => "transient",
            ErrorClass::RateLimited => "rate-limited",
            ErrorClass::Auth => "auth",
            ErrorClass::Permission => "permission",
            ErrorClass::Data => "data",
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A failure reported by a port (audit log, state store, queue, secrets, alerts).
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// A conditional write lost: someone else holds the lease, the checkpoint moved, the key exists.
    /// Expected under concurrency; callers decide whether it means "skip" or "retry later".
    #[error("conflict: {0}")]
    Conflict(String),
    /// The backing service failed in a way that may pass (throttling, 5xx, timeout, connection).
    #[error("{context}: {source}")]
    Unavailable {
        context: String,
        #[source]
        source: BoxError,
    },
    /// The request or the stored data is wrong and retrying will not help (missing secret,
    /// malformed item, permission denied by IAM).
    #[error("{context}: {message}")]
    Invalid { context: String, message: String },
}

impl PortError {
    pub fn unavailable(context: impl Into<String>, source: impl Into<BoxError>) -> Self {
        PortError::Unavailable { context: context.into(), source: source.into() }
    }

    pub fn invalid(context: impl Into<String>, message: impl Into<String>) -> Self {
        PortError::Invalid { context: context.into(), message: message.into() }
    }

    /// The error class the caller should act on.
    pub fn class(&self) -> ErrorClass {
        match self {
            PortError::Conflict(_) | PortError::Unavailable { .. } => ErrorClass::Transient,
            PortError::Invalid { .. } => ErrorClass::Data,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_and_rate_limited_classes_retry() {
        let retryable: Vec<_> = [
            ErrorClass::Transient,
            ErrorClass::RateLimited,
            ErrorClass::Auth,
            ErrorClass::Permission,
            ErrorClass::Data,
        ]
        .into_iter()
        .filter(|class| class.is_retryable())
        .collect();
        assert_eq!(retryable, vec![ErrorClass::Transient, ErrorClass::RateLimited]);
    }

    #[test]
    fn error_classes_serialize_in_kebab_case() {
        assert_eq!(serde_json::to_string(&ErrorClass::RateLimited).unwrap(), "\"rate-limited\"");
        assert_eq!(ErrorClass::RateLimited.to_string(), "rate-limited");
    }

    #[test]
    fn port_errors_map_to_classes_and_keep_their_source() {
        let io = std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out");
        let err = PortError::unavailable("putting audit event", io);
        assert_eq!(err.class(), ErrorClass::Transient);
        assert_eq!(err.to_string(), "putting audit event: timed out");
        assert!(std::error::Error::source(&err).is_some());
        assert_eq!(PortError::invalid("reading secret", "not JSON").class(), ErrorClass::Data);
    }
}
