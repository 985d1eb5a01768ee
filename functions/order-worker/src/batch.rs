//! An SQS batch from the FIFO order queue, answered with partial batch failures (the shape of the
//! runtime's `advanced-sqs-partial-batch-failures` example; the event source mapping needs
//! `FunctionResponseTypes: [ReportBatchItemFailures]`).
//!
//! Records of one message group (one order) are processed in the order SQS delivered them. Once one of
//! them goes back to the queue, every later record of its group goes back too, unprocessed: acking a
//! later message while an earlier one is retried would let an old event overtake a new one. Groups are
//! independent and run concurrently, a few at a time. A record whose body is not an order message
//! fails too, so that it ends in the dead-letter queue where someone can read it.
//!
//! A record retried with a server-given wait (`Disposition::Retry { retry_after: Some(..) }`), or
//! rate limited with none (a bare 429), is made visible again after that wait (`Queue::redeliver_after`)
//! before it is reported, and so are the records of its group held back behind it. The wait is at
//! least `Settings::redelivery_floor` doubled per receive ([`redelivery_wait`]): the in-process retries
//! already spent the short waits, and a storm of short ones, or of rate limits with no wait at all,
//! must not use up the receives before the dead-letter queue in seconds. Any other failed record, or
//! one whose change fails, comes back after the queue's visibility timeout.
//!
//! A record handed back on its last receive (`Settings::is_last_receive`) is moved to the dead-letter
//! queue by SQS; it is audited `dead-lettered` on its order's record and alerted, so that
//! `millwright failures` lists it and the operator knows to replay it.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use domain::audit::{AuditEvent, Outcome, Stage};
use domain::message::OrderMessage;
use domain::{ConnectionId, ErrorClass, RecordKey, RecordKind};
use serde_json::json;
use tokio::task::{Id, JoinError, JoinSet};
use tokio::time::Instant;
use tracing::Instrument;

use crate::{Disposition, Worker};

/// How much of a malformed body the audit event keeps (enough to recognise it; the DLQ has it all).
const MALFORMED_BODY_KEPT: usize = 4096;

/// How long a record retried after its `attempt`-th receive stays invisible: the server's wait (zero
/// for a rate limit that named none), but at least `floor` (`Settings::redelivery_floor`) doubled per
/// earlier receive (the adapter caps what SQS allows).
pub fn redelivery_wait(server_wait: Duration, attempt: u32, floor: Duration) -> Duration {
    let doublings = attempt.saturating_sub(1).min(16);
    server_wait.max(floor.saturating_mul(1 << doublings))
}

struct Item {
    /// The SQS message id, which a batch item failure names. Empty when SQS sent none; reporting an
    /// empty identifier makes Lambda retry the whole batch, the safe answer to a record we cannot name.
    message_id: String,
    /// What this receive of the message returned, needed to change its visibility.
    receipt_handle: Option<String>,
    /// SQS's `ApproximateReceiveCount`: 1 on the first delivery.
    attempt: u32,
    message: Result<OrderMessage, Malformed>,
}

struct Malformed {
    reason: String,
    body: String,
}

struct Group {
    id: String,
    items: Vec<Item>,
}

impl Worker {
    /// Processes an SQS batch and reports the records that must be delivered again.
    #[tracing::instrument(skip_all, fields(records = event.records.len(), holder = %self.holder))]
    pub async fn handle_batch(&self, event: SqsEvent, now: DateTime<Utc>) -> SqsBatchResponse {
        let started = Instant::now();
        let record_order: Vec<String> = event.records.iter().map(message_id).collect();
        let mut failed: HashSet<String> = HashSet::new();
        let mut members: HashMap<Id, Vec<String>> = HashMap::new();
        let mut running = JoinSet::new();
        let limit = self.settings.group_concurrency.max(1);
        for group in groups(event.records) {
            while running.len() >= limit {
                collect(running.join_next_with_id().await, &mut members, &mut failed);
            }
            let ids = group.items.iter().map(|item| item.message_id.clone()).collect();
            let worker = self.clone();
            let task = async move { worker.run_group(group, now, started).await };
            let handle = running.spawn(task.instrument(tracing::Span::current()));
            members.insert(handle.id(), ids);
        }
        while let Some(joined) = running.join_next_with_id().await {
            collect(Some(joined), &mut members, &mut failed);
        }
        let mut response = SqsBatchResponse::default();
        for id in record_order {
            if failed.remove(&id) {
                response.add_failure(id);
            }
        }
        response
    }

    /// Runs one group's records in order; returns the ids of the records that go back to the queue.
    async fn run_group(&self, group: Group, batch_now: DateTime<Utc>, started: Instant) -> Vec<String> {
        let mut failed = Vec::new();
        // The server-given wait of the record that sent this group back, if it had one. The records
        // held back behind it get the same wait: SQS hands out none of a FIFO group's messages while
        // earlier ones of the group are in flight, and these were received in the same batch. With
        // the queue's timeout they would keep the group blocked until that timeout after a shorter
        // wait, or become visible before the record they must follow after a longer one; with the
        // same wait, the whole group comes back together, in order, when the server asked.
        let mut group_wait: Option<Duration> = None;
        // The class of that record's failure: the records held back behind it go back for the
        // same reason, and are dead-lettered (and alerted) under it on their last receive.
        let mut group_class = ErrorClass::Transient;
        for item in group.items {
            // Each message gets its own time, so an order's audit events stay in order across a batch.
            let now = batch_now + chrono::Duration::from_std(started.elapsed()).unwrap_or_default();
            if !failed.is_empty() {
                tracing::info!(
                    message_id = %item.message_id,
                    group = %group.id,
                    "an earlier message of this order goes back to the queue, so this one follows it"
                );
                if let Some(wait) = group_wait {
                    self.in_time("changing the visibility", self.redeliver_after(&item, wait)).await;
                }
                if let Ok(message) = &item.message
                    && self.settings.is_last_receive(item.attempt)
                {
                    let reason = "an earlier message of this order went back to the queue, and this one follows it";
                    let audit = self.dead_lettered_unprocessed(message, item.attempt, now, group_class, reason);
                    self.in_time("auditing the dead letter", audit).await;
                }
                failed.push(item.message_id);
                continue;
            }
            // `Err` with the wait before the record comes back, if it needs one, when it goes back.
            let outcome = match &item.message {
                Ok(message) => match self.process(message, item.attempt, now).await {
                    Disposition::Done(_) => Ok(()),
                    Disposition::Retry { class, retry_after, .. } => {
                        Err((class, self.wait_before_redelivery(class, retry_after, item.attempt)))
                    }
                },
                Err(malformed) => {
                    self.in_time("auditing the malformed record", self.record_malformed(&item, malformed, now)).await;
                    Err((ErrorClass::Data, None))
                }
            };
            if let Err((class, wait)) = outcome {
                group_class = class;
                group_wait = wait;
                if let Some(wait) = group_wait {
                    self.in_time("changing the visibility", self.redeliver_after(&item, wait)).await;
                }
                failed.push(item.message_id);
            }
        }
        failed
    }

    /// How long a retried record stays away, when not the queue's visibility timeout: a rate limit
    /// always waits ([`redelivery_wait`], from the server's wait or from none), since its quota
    /// frees up only with time and the timeout alone (seconds in the local world) would spend a
    /// receive per hold; any other failure waits only when the server named a wait.
    fn wait_before_redelivery(
        &self,
        class: ErrorClass,
        retry_after: Option<Duration>,
        attempt: u32,
    ) -> Option<Duration> {
        let server_wait = match class {
            ErrorClass::RateLimited => Some(retry_after.unwrap_or_default()),
            _ => retry_after,
        };
        server_wait.map(|wait| redelivery_wait(wait, attempt, self.settings.redelivery_floor))
    }

    /// Makes a record that goes back to the queue visible again after `wait`. A failure only costs
    /// the wait: the record is reported failed either way and then comes back after the queue's
    /// visibility timeout, so the message is never lost.
    async fn redeliver_after(&self, item: &Item, wait: Duration) {
        let wait_s = wait.as_secs_f64();
        let Some(receipt_handle) = item.receipt_handle.as_deref() else {
            tracing::warn!(
                message_id = %item.message_id,
                wait_s,
                "the record has no receipt handle; it comes back after the queue's visibility timeout"
            );
            return;
        };
        match self.ports.queue.redeliver_after(receipt_handle, wait).await {
            Ok(()) => {
                tracing::info!(message_id = %item.message_id, wait_s, "the message comes back after the wait")
            }
            Err(error) => tracing::warn!(
                message_id = %item.message_id,
                wait_s,
                error.message = %error,
                error.cause_chain = ?error,
                "changing the message's visibility failed; it comes back after the queue's visibility timeout"
            ),
        }
    }

    /// Audits a malformed record under the connection's `bc-webhook` record when the body names a
    /// valid connection; otherwise the log is all there is (and the DLQ keeps the body).
    async fn record_malformed(&self, item: &Item, malformed: &Malformed, now: DateTime<Utc>) {
        tracing::error!(
            message_id = %item.message_id,
            error.message = %malformed.reason,
            "malformed order message; it goes back to the queue and ends in the dead-letter queue"
        );
        let connection = serde_json::from_str::<serde_json::Value>(&malformed.body)
            .ok()
            .and_then(|body| body.pointer("/order/connection").and_then(|c| c.as_str()).map(str::to_owned))
            .and_then(|connection| ConnectionId::new(connection).ok());
        let Some(connection) = connection else {
            return;
        };
        let key = RecordKey::new(connection, RecordKind::BcWebhook, item.message_id.as_str());
        let event = AuditEvent::new(key, now, Stage::Received, Outcome::Failed, self.settings.actor.as_str())
            .with_error(ErrorClass::Data, format!("malformed order message: {}", malformed.reason))
            .with_attempt(item.attempt)
            .with_detail(json!({
                "message_id": item.message_id,
                "body": malformed.body.chars().take(MALFORMED_BODY_KEPT).collect::<String>(),
            }));
        if let Err(error) = self.ports.audit.append(&event).await {
            tracing::error!(error.message = %error, error.cause_chain = ?error, "audit event not stored");
        }
    }
}

fn message_id(record: &SqsMessage) -> String {
    record.message_id.clone().unwrap_or_default()
}

/// Splits the records into message groups, keeping the delivery order inside each group and the order
/// of first appearance between groups.
fn groups(records: Vec<SqsMessage>) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for record in records {
        let message_id = message_id(&record);
        let receipt_handle = record.receipt_handle;
        let attempt =
            record.attributes.get("ApproximateReceiveCount").and_then(|count| count.parse().ok()).unwrap_or(1);
        let body = record.body.unwrap_or_default();
        let message = serde_json::from_str::<OrderMessage>(&body)
            .map_err(|error| Malformed { reason: error.to_string(), body: body.clone() });
        // SQS's own group id is the truth; the message's is the same by construction (`group_id`).
        let group_id = record
            .attributes
            .get("MessageGroupId")
            .cloned()
            .or_else(|| message.as_ref().ok().map(OrderMessage::group_id))
            .unwrap_or_else(|| format!("ungrouped#{message_id}"));
        let item = Item { message_id, receipt_handle, attempt, message };
        match index.get(&group_id) {
            Some(&at) => groups[at].items.push(item),
            None => {
                index.insert(group_id.clone(), groups.len());
                groups.push(Group { id: group_id, items: vec![item] });
            }
        }
    }
    groups
}

/// Takes one finished group's failures. A group whose task panicked goes back to the queue whole.
fn collect(
    joined: Option<Result<(Id, Vec<String>), JoinError>>,
    members: &mut HashMap<Id, Vec<String>>,
    failed: &mut HashSet<String>,
) {
    match joined {
        Some(Ok((id, group_failed))) => {
            members.remove(&id);
            failed.extend(group_failed);
        }
        Some(Err(error)) => {
            tracing::error!(error.message = %error, "processing a message group panicked; its messages go back");
            failed.extend(members.remove(&error.id()).unwrap_or_default());
        }
        None => {}
    }
}
