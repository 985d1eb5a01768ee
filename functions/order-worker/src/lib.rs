//! The order worker: takes order messages off the FIFO queue and makes each BigCommerce order exactly
//! one Plex sales order.
//!
//! Layout:
//! - this file: [`Worker`] (the ports and settings one invocation works with), [`Disposition`] (ack or
//!   retry), and [`run_lambda`], the Lambda wiring `main.rs` calls.
//! - `process`: one message, start to finish: profile, ledger lease, fetch, status filter, duplicate
//!   and stale checks, mapping, the Plex write, the commit. Every step is an audit event.
//! - the look-ups (customer and parts through the id map, so a warm cache costs no API call) are
//!   the `orders` crate's, shared with the order sweep and the CLI.
//! - `batch`: an SQS batch: FIFO order inside a message group, partial batch failures.
//! - `causes`: alert causes that name why orders failed, not which order, so one e-mail covers
//!   every order that failed the same way inside the alert window.
//!
//! The worker never trusts a message beyond the order id: it always re-reads the order, so duplicated,
//! reordered and late events all converge on the order's current state, and the ledger's version hash
//! makes the repeats no-ops.

use std::sync::Arc;

use aws_lambda_events::sqs::SqsEvent;
use domain::ErrorClass;
use domain::audit::Outcome;
use domain::ports::{
    Alerter, AuditLog, ConnectionApis, ConnectionStore, HoldStore, IdMap, OpenOrders, OrderLedger, Queue,
};
use lambda_runtime::{LambdaEvent, service_fn};

mod batch;
mod causes;
mod process;

#[cfg(test)]
mod tests;

/// The ports the worker uses; production builds them once per container (`runtime::Deps`).
#[derive(Clone)]
pub struct Ports {
    pub ledger: Arc<dyn OrderLedger>,
    pub audit: Arc<dyn AuditLog>,
    pub alerter: Arc<dyn Alerter>,
    pub id_map: Arc<dyn IdMap>,
    /// Orders waiting for mappings; the order sweep releases them.
    pub holds: Arc<dyn HoldStore>,
    pub connections: Arc<dyn ConnectionStore>,
    pub apis: Arc<dyn ConnectionApis>,
    /// The order queue the batches come from: a retried record with a server-given wait is made
    /// visible again after that wait (`Queue::redeliver_after`).
    pub queue: Arc<dyn Queue>,
    /// Orders read but not yet held by Plex, which the stock flow deducts from Plex's on-hand.
    pub open_orders: Arc<dyn OpenOrders>,
}

impl Ports {
    /// The production adapters: DynamoDB, SNS, SQS, and each connection's BigCommerce and Plex
    /// clients.
    pub fn from_deps(deps: &runtime::Deps) -> Ports {
        Ports {
            ledger: deps.ledger.clone(),
            audit: deps.audit.clone(),
            alerter: deps.alerter.clone(),
            id_map: deps.id_map.clone(),
            holds: deps.holds.clone(),
            connections: deps.connections.clone(),
            apis: deps.connection_apis(),
            queue: deps.queue.clone(),
            open_orders: deps.open_orders.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// How long the ledger lease on an order lasts. Longer than one invocation (the template's
    /// function timeout), so a live worker never loses it; shorter than the queue's visibility
    /// timeout, so the redelivery after a crashed worker finds it free.
    pub lease_for: chrono::Duration,
    /// Who acts, in audit events.
    pub actor: String,
    /// How many message groups (orders) of one batch are processed at once. Plex's rate budget, not
    /// CPU, is the limit, so this stays small.
    pub group_concurrency: usize,
    /// The shortest time a rate-limited record stays away on its first receive, doubled on each
    /// later one (`batch::redelivery_wait`). The in-process retries already spent the short waits,
    /// and a storm of short ones must not use up the receives before the dead-letter queue in
    /// seconds: with 60 s, the five receives span 60 + 120 + 240 + 480 s, the fifteen minutes that
    /// five of the template's 180 s visibility timeouts gave.
    pub redelivery_floor: std::time::Duration,
    /// The order queue's `maxReceiveCount` (`ORDER_MAX_RECEIVE_COUNT`, set by the template from its
    /// redrive policy): a record handed back on this receive moves to the dead-letter queue, so it
    /// is audited `dead-lettered` and alerted. `None` when unknown: nothing is audited as such.
    pub max_receive_count: Option<u32>,
}

impl Settings {
    /// These settings for the deployment `config` describes (what the function's `main` uses).
    pub fn from_config(config: &runtime::Config) -> Settings {
        Settings { max_receive_count: config.order_max_receive_count, ..Settings::default() }
    }

    /// Whether a record on its `attempt`-th receive goes to the dead-letter queue if handed back.
    pub fn is_last_receive(&self, attempt: u32) -> bool {
        self.max_receive_count.is_some_and(|max| attempt >= max)
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            lease_for: chrono::Duration::minutes(2),
            actor: "order-worker".to_owned(),
            group_concurrency: 4,
            redelivery_floor: std::time::Duration::from_secs(60),
            max_receive_count: None,
        }
    }
}

/// The order worker. Cheap to clone (ports are shared); one clone per invocation carries that
/// invocation's lease holder id.
#[derive(Clone)]
pub struct Worker {
    ports: Ports,
    settings: Settings,
    /// The ledger lease holder: the Lambda request id, so two invocations never share a lease.
    holder: String,
    /// The invocation's deadline (Lambda's context): a message whose processing would outlive it is
    /// handed back [`DEADLINE_RESERVE`] before it, so the function is never stopped mid-batch.
    deadline: Option<tokio::time::Instant>,
}

/// How long before the invocation's deadline a message still being processed is handed back: time
/// to audit the hand-back and answer the batch before Lambda stops the function.
pub const DEADLINE_RESERVE: std::time::Duration = std::time::Duration::from_secs(2);

/// What the batch keeps to answer Lambda after the last bookkeeping call (an audit, a visibility
/// change) it waits for: a call still running then is given up, never the answer.
const ANSWER_RESERVE: std::time::Duration = std::time::Duration::from_millis(500);

impl Worker {
    /// A worker whose lease holder is the actor name; call [`Worker::for_invocation`] per invocation.
    pub fn new(ports: Ports, settings: Settings) -> Self {
        let holder = settings.actor.clone();
        Worker { ports, settings, holder, deadline: None }
    }

    /// This worker for one invocation: leases are taken in the name of `request_id`.
    pub fn for_invocation(&self, request_id: &str) -> Worker {
        Worker { holder: request_id.to_owned(), ..self.clone() }
    }

    /// This worker with the invocation's deadline: every message is bounded by it, and one that
    /// cannot finish in time is handed back to the queue and audited as such.
    pub fn until(&self, deadline: tokio::time::Instant) -> Worker {
        Worker { deadline: Some(deadline), ..self.clone() }
    }

    /// The moment a message still being processed is handed back (`None`: no deadline).
    fn cutoff(&self) -> Option<tokio::time::Instant> {
        self.deadline.map(|deadline| deadline.checked_sub(DEADLINE_RESERVE).unwrap_or(deadline))
    }

    /// Runs bookkeeping `work` (an audit, an alert, a visibility change) within the invocation's
    /// deadline; past it, the work is given up and logged, so the batch can still answer. What is
    /// given up is only a record of what happened: the message goes back to the queue either way.
    async fn in_time(&self, what: &str, work: impl std::future::Future<Output = ()>) {
        let Some(deadline) = self.deadline else { return work.await };
        let until = deadline.checked_sub(ANSWER_RESERVE).unwrap_or(deadline);
        if tokio::time::timeout_at(until, work).await.is_err() {
            tracing::warn!(what, "given up at the invocation's deadline");
        }
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }
}

/// What becomes of a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Disposition {
    /// Finished, whatever the outcome (written, duplicate, skipped, needs mapping, parked): the
    /// outcome is in the audit log and the ledger, so the message is acknowledged.
    Done(Outcome),
    /// Not finished, and it may pass by itself: the message goes back to the queue (a batch item
    /// failure) and ends in the dead-letter queue if it never does.
    Retry {
        class: ErrorClass,
        reason: String,
        /// The server's requested wait, when it gave one. The batch handler makes the message
        /// visible again after this wait (`Queue::redeliver_after`) instead of the queue's
        /// visibility timeout; without one, or when that change fails, SQS redelivers after the
        /// visibility timeout.
        retry_after: Option<std::time::Duration>,
    },
}

impl Disposition {
    pub fn is_retry(&self) -> bool {
        matches!(self, Disposition::Retry { .. })
    }
}

/// Runs the worker as a Lambda function on SQS events (with `ReportBatchItemFailures`). Each
/// invocation takes leases under its own request id.
pub async fn run_lambda(worker: Worker) -> Result<(), lambda_runtime::Error> {
    let worker = &worker;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        // Lambda's deadline is wall-clock milliseconds since the epoch; the worker counts on the
        // monotonic clock from now.
        let now = chrono::Utc::now();
        let left = u64::try_from(event.context.deadline as i64 - now.timestamp_millis()).unwrap_or(0);
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(left);
        let invocation = worker.for_invocation(&event.context.request_id).until(deadline);
        Ok::<_, lambda_runtime::Error>(invocation.handle_batch(event.payload, now).await)
    }))
    .await
}
