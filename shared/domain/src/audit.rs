//! Audit events: one item per event in a record's life.
//!
//! The audit table answers "what happened to order 1042?" (query by [`RecordKey`]) and "what failed
//! since yesterday?" (query by [`Outcome`] and time). An event carries the source payload needed to
//! replay the record, but never a secret: adapters redact before building `detail`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ErrorClass;
use crate::ids::RecordKey;

/// Where in its life the record was when the event happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// A webhook or sweep noticed the record.
    Received,
    /// The full record was read from its source system.
    Fetched,
    /// The record was translated into the target system's terms.
    Mapped,
    /// The record was written to the target system.
    Written,
    /// An operator alert was raised about the record.
    Alerted,
    /// An operator or the CLI asked for the record to be processed again.
    Replayed,
    /// A health or connectivity check.
    Checked,
}

/// How the event ended. `Failed`, `NeedsMapping`, `NeedsAttention`, `Parked`, `Rejected` and
/// `DeadLettered` are the outcomes an operator looks for; [`Outcome::needs_operator`] says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Ok,
    /// The same delivery was seen before; nothing was done.
    Duplicate,
    /// Deliberately not processed (an ignored scope, an incomplete order); says why in `message`.
    Skipped,
    /// A transient failure that goes back to the queue.
    Retried,
    /// A failure that will not pass by itself.
    Failed,
    /// A value has no mapping yet (SKU, customer); released once the mapping exists.
    NeedsMapping,
    /// A change the target cannot apply automatically; a person must look.
    NeedsAttention,
    /// Held for replay after an operator fixes something (e.g. a missing role).
    Parked,
    /// Refused at the door (bad signature, unknown producer); no payload is kept.
    Rejected,
    /// Handed back to the queue on its last receive: the queue moves the message to its dead-letter
    /// queue, so nothing retries it until an operator replays it (`millwright replay --dlq`).
    DeadLettered,
}

impl Outcome {
    pub const ALL: [Outcome; 10] = [
        Outcome::Ok,
        Outcome::Duplicate,
        Outcome::Skipped,
        Outcome::Retried,
        Outcome::Failed,
        Outcome::NeedsMapping,
        Outcome::NeedsAttention,
        Outcome::Parked,
        Outcome::Rejected,
        Outcome::DeadLettered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Duplicate => "duplicate",
            Outcome::Skipped => "skipped",
            Outcome::Retried => "retried",
            Outcome::Failed => "failed",
            Outcome::NeedsMapping => "needs-mapping",
            Outcome::NeedsAttention => "needs-attention",
            Outcome::Parked => "parked",
            Outcome::Rejected => "rejected",
            Outcome::DeadLettered => "dead-lettered",
        }
    }

    /// Whether an operator has to act for the record to move on.
    pub fn needs_operator(self) -> bool {
        matches!(
            self,
            Outcome::Failed
                | Outcome::NeedsMapping
                | Outcome::NeedsAttention
                | Outcome::Parked
                | Outcome::Rejected
                | Outcome::DeadLettered
        )
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Outcome {
    type Err = crate::ids::InvalidId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s).ok_or_else(|| crate::ids::InvalidId {
            what: "outcome",
            value: s.to_owned(),
            reason: "unknown outcome",
        })
    }
}

/// One event in one record's life. Persisted as one audit-table item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub key: RecordKey,
    pub at: DateTime<Utc>,
    pub stage: Stage,
    pub outcome: Outcome,
    /// Set on failures: what kind of failure, which decides retry, alert and park.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_class: Option<ErrorClass>,
    /// Human-readable reason, naming the field or header at fault. Never contains a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// 1 for the first attempt; SQS receive count or retry number after that.
    pub attempt: u32,
    /// Who or what acted: a function name, `cli:<user>`, `sweep`.
    pub actor: String,
    /// Structured detail: the source payload needed to replay, ids written, a diff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
}

impl AuditEvent {
    /// A first-attempt event with no error, message or detail; chain the `with_*` methods to add them.
    pub fn new(key: RecordKey, at: DateTime<Utc>, stage: Stage, outcome: Outcome, actor: impl Into<String>) -> Self {
        Self {
            key,
            at,
            stage,
            outcome,
            error_class: None,
            message: None,
            attempt: 1,
            actor: actor.into(),
            detail: None,
        }
    }

    pub fn with_error(mut self, class: ErrorClass, message: impl Into<String>) -> Self {
        self.error_class = Some(class);
        self.message = Some(message.into());
        self
    }

    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    pub fn with_attempt(mut self, attempt: u32) -> Self {
        self.attempt = attempt;
        self
    }

    pub fn with_detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = Some(detail);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ConnectionId, RecordKind};

    fn key() -> RecordKey {
        RecordKey::new(ConnectionId::new("acme").unwrap(), RecordKind::BcOrder, "1042")
    }

    #[test]
    fn operator_outcomes_are_exactly_the_ones_that_need_a_person() {
        let needing: Vec<_> = Outcome::ALL.into_iter().filter(|o| o.needs_operator()).collect();
        assert_eq!(
            needing,
            vec![
                Outcome::Failed,
                Outcome::NeedsMapping,
                Outcome::NeedsAttention,
                Outcome::Parked,
                Outcome::Rejected,
                Outcome::DeadLettered
            ]
        );
        assert_eq!(Outcome::DeadLettered.to_string(), "dead-lettered");
    }

    #[test]
    fn outcomes_round_trip_through_their_stored_names() {
        for outcome in Outcome::ALL {
            assert_eq!(outcome.as_str().parse::<Outcome>().unwrap(), outcome);
            assert_eq!(serde_json::to_value(outcome).unwrap(), serde_json::json!(outcome.as_str()));
        }
    }

    #[test]
    fn audit_event_serializes_the_record_key_as_one_string_and_omits_empty_fields() {
        let at = DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z").unwrap().with_timezone(&Utc);
        let event = AuditEvent::new(key(), at, Stage::Mapped, Outcome::NeedsMapping, "order-worker")
            .with_error(ErrorClass::Data, "sku \"W-9\" has no Plex part")
            .with_attempt(2);
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["key"], "acme#bc-order#1042");
        assert_eq!(json["stage"], "mapped");
        assert_eq!(json["outcome"], "needs-mapping");
        assert_eq!(json["error_class"], "data");
        assert!(json.get("detail").is_none());
        let back: AuditEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }
}
