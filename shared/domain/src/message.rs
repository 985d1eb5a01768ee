//! What travels on the order queue: a pointer to an order, never the order itself.
//!
//! The worker always re-reads the order from BigCommerce, so a message only needs to say which order,
//! why, and which delivery it came from (for de-duplication).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ledger::OrderRef;

/// Why an order was queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MessageSource {
    Webhook,
    Sweep,
    Replay,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderMessage {
    pub order: OrderRef,
    /// The webhook scope, e.g. `store/order/created`.
    pub scope: String,
    /// Identifies the delivery: the `webhook-id` of a webhook that carries one (the same on every
    /// retry), else `webhook-{uuid}` (unique per copy); a run id for sweeps and replays.
    pub delivery: String,
    pub source: MessageSource,
    pub received_at: DateTime<Utc>,
}

/// How long a "queued" mark ([`crate::ports::QueueMarks`]) lasts: the order queue's message
/// retention (four days, `infra/template.yaml`), after which no message queued at that time can
/// still be waiting.
pub const QUEUED_MARK_TTL: chrono::Duration = chrono::Duration::days(4);

/// The scope of an order queued again (a replay, a sweep): the worker re-reads the order and never
/// trusts a message's scope, and "updated" says what a second look is.
pub const REQUEUE_SCOPE: &str = "store/order/updated";

impl OrderMessage {
    /// A message that queues `order` again. `delivery` must be new for every queueing (e.g.
    /// `sweep-{uuid}`), or the FIFO queue's five-minute de-duplication swallows it.
    pub fn requeue(order: OrderRef, source: MessageSource, delivery: String, now: DateTime<Utc>) -> OrderMessage {
        OrderMessage { order, scope: REQUEUE_SCOPE.to_owned(), delivery, source, received_at: now }
    }

    /// FIFO message group: one order's messages are processed in order, different orders in parallel.
    pub fn group_id(&self) -> String {
        self.order.to_string()
    }

    /// FIFO de-duplication id (at most 128 characters): the same delivery of the same order is
    /// accepted once per five minutes by SQS, and once per TTL by the receiver's own dedupe.
    pub fn dedupe_id(&self) -> String {
        let id = format!("{}#{}", self.order, self.delivery);
        // SQS allows alphanumerics and punctuation only, 128 characters at most.
        id.chars().filter(|c| c.is_ascii_graphic()).take(128).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::ConnectionId;

    fn message(delivery: &str) -> OrderMessage {
        OrderMessage {
            order: OrderRef::new(ConnectionId::new("acme").unwrap(), 1042),
            scope: "store/order/created".into(),
            delivery: delivery.into(),
            source: MessageSource::Webhook,
            received_at: DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z").unwrap().with_timezone(&Utc),
        }
    }

    #[test]
    fn group_is_the_order_and_dedupe_adds_the_delivery() {
        let m = message("3f786850e387550fdab836ed7e6dc881de23001b");
        assert_eq!(m.group_id(), "acme#1042");
        assert_eq!(m.dedupe_id(), "acme#1042#3f786850e387550fdab836ed7e6dc881de23001b");
    }

    #[test]
    fn dedupe_id_is_cut_to_the_sqs_alphabet_and_length() {
        let m = message(&format!("a b\n{}", "x".repeat(200)));
        let id = m.dedupe_id();
        assert_eq!(id.len(), 128);
        assert!(id.chars().all(|c| c.is_ascii_graphic()));
    }
}
