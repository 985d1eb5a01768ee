//! [`DynamoAuditLog`]: the audit trail in the audit table (`{stack}-audit`).
//!
//! One item per event, never overwritten:
//!
//! | attribute | value |
//! |---|---|
//! | `pk` | the record key, `{connection}#{kind}#{id}`, e.g. `acme#bc-order#1042` |
//! | `sk` | `{at}#{random suffix}`, `at` as RFC 3339 UTC with exactly nine fractional digits, so the sort key sorts chronologically and two events at the same instant are both kept |
//! | `outcome_pk` | `{connection}#{outcome}`: the hash key of the `by-outcome` index ("what failed since …") |
//! | `expires_at` | epoch seconds of `at + retention` (the table's TTL attribute) |
//! | `event` | the whole [`AuditEvent`] as JSON: what the adapter reads back |
//! | `stage`, `outcome`, `error_class`, `at` | copies for people reading the table in the console |
//!
//! Events at the same instant come back in the order of their random suffixes, not the order they
//! were appended: the sort key is all DynamoDB orders by.

use std::time::Duration;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, SecondsFormat, Utc};
use domain::ports::AuditLog;
use domain::{AuditEvent, ConnectionId, Outcome, PortError, RecordKey};

use crate::error::from_sdk;
use crate::item::{self, Item};

/// The audit table's global secondary index on (`outcome_pk`, `sk`).
pub const BY_OUTCOME_INDEX: &str = "by-outcome";

/// The most items DynamoDB is asked for in one page of a `by_outcome` query.
const MAX_PAGE: usize = 1000;

/// [`AuditLog`] over the audit table, laid out as the module documentation describes.
pub struct DynamoAuditLog {
    client: Client,
    table: String,
    retention: Duration,
}

impl DynamoAuditLog {
    /// `retention` is how long DynamoDB keeps an event (its TTL), counted from the event's `at`.
    pub fn new(sdk: &SdkConfig, table: impl Into<String>, retention: Duration) -> Self {
        Self { client: Client::new(sdk), table: table.into(), retention }
    }

    /// The stored form of one event (the module documentation's layout), with a fresh suffix.
    fn item(&self, event: &AuditEvent, context: &str) -> Result<Item, PortError> {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let mut item = Item::from([
            ("pk".to_owned(), item::string(event.key.to_string())),
            ("sk".to_owned(), item::string(sort_key(event.at, &suffix))),
            ("outcome_pk".to_owned(), item::string(outcome_key(&event.key.connection, event.outcome))),
            ("expires_at".to_owned(), item::number(self.expires_at(event.at))),
            ("event".to_owned(), item::json(event, context)?),
            ("at".to_owned(), item::string(sort_time(event.at))),
            ("stage".to_owned(), item::string(item::serde_name(&event.stage))),
            ("outcome".to_owned(), item::string(event.outcome.as_str())),
        ]);
        if let Some(class) = event.error_class {
            item.insert("error_class".to_owned(), item::string(class.as_str()));
        }
        Ok(item)
    }

    fn expires_at(&self, at: DateTime<Utc>) -> i64 {
        let retention = i64::try_from(self.retention.as_secs()).unwrap_or(i64::MAX);
        at.timestamp().saturating_add(retention)
    }
}

/// `at` as fixed-width RFC 3339 (UTC, nine fractional digits), so string order is time order.
pub(crate) fn sort_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// The sort key of one event: its time, then a suffix that keeps two events at the same instant apart.
pub(crate) fn sort_key(at: DateTime<Utc>, suffix: &str) -> String {
    format!("{}#{suffix}", sort_time(at))
}

pub(crate) fn outcome_key(connection: &ConnectionId, outcome: Outcome) -> String {
    format!("{connection}#{outcome}")
}

fn event_from_item(item: &Item, context: &str) -> Result<AuditEvent, PortError> {
    item::get_json(item, "event", context)
}

#[async_trait]
impl AuditLog for DynamoAuditLog {
    async fn append(&self, event: &AuditEvent) -> Result<(), PortError> {
        let context = format!("appending audit event for {}", event.key);
        let item = self.item(event, &context)?;
        // Sort keys are unique by construction; the condition makes "never overwrite" a guarantee
        // of the table rather than of the random suffix.
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|err| from_sdk(context, err))?;
        Ok(())
    }

    /// 25 events to a request. A batch cannot carry `append`'s condition, so here "never
    /// overwrite" rests on the random suffix alone (128 bits).
    async fn append_all(&self, events: &[AuditEvent]) -> Result<(), PortError> {
        let Some(first) = events.first() else { return Ok(()) };
        let context = format!("appending {} audit events, the first for {}", events.len(), first.key);
        let items = events.iter().map(|event| self.item(event, &context)).collect::<Result<Vec<_>, _>>()?;
        crate::batch::put_all(&self.client, &self.table, items, &context).await
    }

    async fn history(&self, key: &RecordKey) -> Result<Vec<AuditEvent>, PortError> {
        let context = format!("reading audit history of {key}");
        let items = crate::partition::read_all(&self.client, &self.table, &key.to_string(), &context).await?;
        items.iter().map(|item| event_from_item(item, &context)).collect()
    }

    async fn by_outcome(
        &self,
        connection: &ConnectionId,
        outcome: Outcome,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, PortError> {
        let context = format!("reading {outcome} audit events of {connection}");
        let mut events = Vec::new();
        let mut start = None;
        // DynamoDB rejects `Limit = 0`, and there is nothing to fetch anyway.
        while events.len() < limit {
            let page_size = (limit - events.len()).min(MAX_PAGE);
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(BY_OUTCOME_INDEX)
                // Every sort key at or after `since` starts with a time string >= `since`'s.
                .key_condition_expression("outcome_pk = :outcome AND sk >= :since")
                .expression_attribute_values(":outcome", item::string(outcome_key(connection, outcome)))
                .expression_attribute_values(":since", item::string(sort_time(since)))
                .scan_index_forward(true)
                .limit(i32::try_from(page_size).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|err| from_sdk(context.clone(), err))?;
            for item in page.items() {
                events.push(event_from_item(item, &context)?);
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        events.truncate(limit);
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn sort_keys_sort_in_time_order_whatever_the_fraction() {
        let times = [
            "2026-11-24T09:59:59.999999999Z",
            "2026-11-24T10:00:00Z",
            "2026-11-24T10:00:00.000000001Z",
            "2026-11-24T10:00:00.1Z",
            "2026-11-24T10:00:00.25Z",
            "2026-11-24T10:00:01Z",
            "2026-11-24T11:00:00+00:00",
            "2026-11-24T13:00:00+01:00",
        ];
        let keys: Vec<String> = times.iter().map(|t| sort_key(at(t), "ffff")).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert_eq!(keys[1], "2026-11-24T10:00:00.000000000Z#ffff");
    }

    #[test]
    fn a_since_bound_admits_every_event_at_or_after_it() {
        let since = sort_time(at("2026-11-24T10:00:00Z"));
        assert!(sort_key(at("2026-11-24T10:00:00Z"), "0000") >= since);
        assert!(sort_key(at("2026-11-24T10:00:00.000000001Z"), "0000") >= since);
        assert!(sort_key(at("2026-11-24T09:59:59.999999999Z"), "ffff") < since);
    }

    #[test]
    fn outcome_keys_join_connection_and_outcome() {
        let acme = ConnectionId::new("acme").unwrap();
        assert_eq!(outcome_key(&acme, Outcome::NeedsMapping), "acme#needs-mapping");
    }
}
