//! The order sweep: releases the orders held for mappings once the mappings exist, and recovers
//! the orders no webhook brought (`reconcile`).
//!
//! An order the worker could not map (an unknown SKU or customer) is `NeedsMapping` in the ledger
//! with a [`Hold`] naming its gaps. On a schedule (EventBridge in AWS, a timer in the local
//! runtime), and right after an operator maps a value (`millwright map`), the sweep:
//! 1. lists each connection's holds;
//! 2. checks each *distinct* gap once, longest-waiting first, with the worker's own look-ups
//!    ([`orders::recheck_gap`]: id map first, then Plex; what Plex has is cached, so the
//!    released order maps without a call), at most [`Settings::max_lookups`] Plex calls per
//!    connection and run, because the sweep spends the same Plex budget as the workers;
//! 3. queues again (`MessageSource::Sweep`) every order whose gaps are all filled, audits it as
//!    `Replayed` with what filled each gap, and only then releases its hold, naming the hold it read
//!    so that a hold the worker stored again meanwhile stays.
//!
//! The worker decides afresh: an order still unmapped is held again, one that maps is written once
//! (the ledger makes any repeat a no-op). A hold whose ledger entry no longer says `held` (a crash
//! between the worker's two writes) is dropped; an order whose lease is live is left for the next run.
//!
//! Then the reconciliation (`reconcile`): the store's orders modified since the connection's
//! checkpoint are compared with the ledger and the queued marks, and those the worker has not seen
//! and no queued message will read are queued, audited as `received` by the sweep; those no message
//! was queued for since their modification are announced in one alert per window ("webhooks are
//! being missed").
//!
//! It runs on the scheduled-job runner (`jobs`): a scheduled invocation fans out one job per
//! connection, and each job ([`Sweep`] as a [`jobs::Job`]) sweeps one connection under its lease, so
//! two overlapping runs never queue the same held orders twice, and its result is an audit event on
//! `{connection}#run#order-sweep`. A sweep stopped early by a failure fails the job, which the job
//! queue retries and then alerts once.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::alert::Alert;

use domain::message::MessageSource;
use domain::order::MappingGap;
use domain::ports::{
    Alerter, AuditLog, CheckpointStore, ConnectionApis, ConnectionStore, HoldStore, IdMap, OrderLedger, Queue,
    QueueMarks,
};
use domain::{ConnectionId, ConnectionProfile, ErrorClass, OrderMessage, OrderRef, RecordKey, RecordKind};
use serde::{Deserialize, Serialize};
use serde_json::json;

mod reconcile;
mod release;

pub use reconcile::ReconcileSettings;

/// The job's name: its queue's jobs, its audit record `{connection}#run#order-sweep`, its lease.
pub const JOB: &str = "order-sweep";

/// The function's timeout in the template (`OrderSweepFunction`), which the local runtime gives each
/// job's invocation too.
pub const FUNCTION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// The ports the sweep uses; production builds them once per container (`runtime::Deps`).
#[derive(Clone)]
pub struct Ports {
    pub connections: Arc<dyn ConnectionStore>,
    pub holds: Arc<dyn HoldStore>,
    pub ledger: Arc<dyn OrderLedger>,
    pub id_map: Arc<dyn IdMap>,
    pub queue: Arc<dyn Queue>,
    /// When each order was last queued: the reconciliation leaves an order whose message is still
    /// waiting, and marks what it queues.
    pub queue_marks: Arc<dyn QueueMarks>,
    pub audit: Arc<dyn AuditLog>,
    pub apis: Arc<dyn ConnectionApis>,
    /// The reconciliation's watermark per connection.
    pub checkpoints: Arc<dyn CheckpointStore>,
    /// "Webhooks are being missed", once per connection and window.
    pub alerter: Arc<dyn Alerter>,
}

impl Ports {
    pub fn from_deps(deps: &runtime::Deps) -> Ports {
        Ports {
            connections: deps.connections.clone(),
            holds: deps.holds.clone(),
            ledger: deps.ledger.clone(),
            id_map: deps.id_map.clone(),
            queue: deps.queue.clone(),
            queue_marks: deps.queue_marks.clone(),
            audit: deps.audit.clone(),
            apis: deps.connection_apis(),
            checkpoints: deps.checkpoints.clone(),
            alerter: deps.alerter.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// Who acts, in audit events.
    pub actor: String,
    /// The most Plex calls one connection's gaps may cost per run. Gaps beyond it wait for the next
    /// run (longest-waiting orders first), so a backlog of unknown SKUs never eats the workers' budget.
    pub max_lookups: u32,
    /// The reconciliation's window and paging.
    pub reconcile: ReconcileSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { actor: "order-sweep".to_owned(), max_lookups: 20, reconcile: ReconcileSettings::default() }
    }
}

/// What the sweep did for one connection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionSweep {
    pub connection: Option<ConnectionId>,
    /// Orders held when the sweep started (those with the asked-for gap, when it was asked for one).
    pub held: usize,
    /// Distinct gaps checked, and those found filled with how.
    pub gaps_checked: usize,
    pub gaps_filled: Vec<FilledGap>,
    /// Orders queued again.
    pub released: Vec<u64>,
    /// Holds dropped because their order no longer waits for a mapping.
    pub dropped: Vec<u64>,
    /// Orders the reconciliation queued because no message was queued for them since their latest
    /// modification (their webhook never came): what the "missed webhooks" alert names.
    pub recovered: Vec<u64>,
    /// Orders the reconciliation queued once more because the worker read them within the second
    /// of their latest modification (`date_modified` has whole seconds), so a second change of
    /// that second may be unread; they came with a webhook, so they are not alerted.
    pub requeued: Vec<u64>,
    /// Plex calls the checks made.
    pub plex_calls: u32,
    /// BigCommerce calls the reconciliation made (one per page of the order list).
    pub bigcommerce_calls: u32,
    /// What stopped the sweep of this connection early, if anything; the next run starts over.
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilledGap {
    pub gap: MappingGap,
    pub how: String,
}

/// The order sweep. Cheap to clone (ports are shared).
#[derive(Clone)]
pub struct Sweep {
    ports: Ports,
    settings: Settings,
}

impl Sweep {
    pub fn new(ports: Ports, settings: Settings) -> Sweep {
        Sweep { ports, settings }
    }

    /// Sweeps every connection, one after another (they share nothing but the state table). Fails
    /// only when the connections cannot be listed; each connection's own trouble is in its report.
    pub async fn run(&self, now: DateTime<Utc>) -> Result<Vec<ConnectionSweep>, domain::PortError> {
        self.run_for(&[], now).await
    }

    /// Like [`Sweep::run`], but only the connections in `only` (every connection when it is empty).
    pub async fn run_for(
        &self,
        only: &[ConnectionId],
        now: DateTime<Utc>,
    ) -> Result<Vec<ConnectionSweep>, domain::PortError> {
        let mut reports = Vec::new();
        for profile in self.ports.connections.list().await? {
            // A removed connection's orders are not processed any more.
            if !profile.is_parked() && (only.is_empty() || only.contains(&profile.id)) {
                reports.push(self.sweep_connection(&profile, now).await);
            }
        }
        Ok(reports)
    }

    /// Sweeps one connection: releases its held orders, then reconciles its order list.
    #[tracing::instrument(name = "order_sweep", skip_all, fields(connection = %profile.id))]
    pub async fn sweep_connection(&self, profile: &ConnectionProfile, now: DateTime<Utc>) -> ConnectionSweep {
        let mut report = ConnectionSweep { connection: Some(profile.id.clone()), ..ConnectionSweep::default() };
        self.release_into(profile, None, &mut report, now).await;
        self.reconcile(profile, &mut report, now).await;
        self.finish(profile, report).await
    }

    /// Queues `order` for the worker as a sweep message with a delivery id of its own (so FIFO
    /// de-duplication never swallows it), then marks it queued; returns the message id and that
    /// delivery id.
    async fn enqueue(&self, order: &OrderRef, now: DateTime<Utc>) -> Result<(String, String), domain::PortError> {
        let delivery = format!("sweep-{}", uuid::Uuid::new_v4().simple());
        let message = OrderMessage::requeue(order.clone(), MessageSource::Sweep, delivery.clone(), now);
        let message_id = self.ports.queue.enqueue(&message).await?;
        // After the enqueue, so a mark always stands for a message the queue holds. Only logged when
        // it fails: the message is queued, and the next reconciliation at worst queues it once more.
        if let Err(error) = self.ports.queue_marks.mark_queued(order, now).await {
            tracing::warn!(error.message = %error, order = %order, "queued but not marked queued");
        }
        Ok((message_id, delivery))
    }

    /// Logs the run and alerts when orders had to be recovered; the runner audits it.
    async fn finish(&self, profile: &ConnectionProfile, report: ConnectionSweep) -> ConnectionSweep {
        tracing::info!(
            held = report.held,
            gaps_checked = report.gaps_checked,
            gaps_filled = report.gaps_filled.len(),
            released = report.released.len(),
            dropped = report.dropped.len(),
            recovered = report.recovered.len(),
            requeued = report.requeued.len(),
            plex_calls = report.plex_calls,
            bigcommerce_calls = report.bigcommerce_calls,
            problems = report.problems.len(),
            "order sweep finished"
        );
        if !report.recovered.is_empty() {
            self.alert_missed_webhooks(profile, &report).await;
        }
        report
    }

    /// Orders reached the worker only through the sweep: the store's webhooks are failing or gone.
    async fn alert_missed_webhooks(&self, profile: &ConnectionProfile, report: &ConnectionSweep) {
        let name = profile.display_name.clone().unwrap_or_else(|| profile.id.to_string());
        let listed = report.recovered.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        let alert = Alert {
            connection: profile.id.clone(),
            cause: "missed-webhooks".to_owned(),
            subject: format!("[{name}] {} order(s) arrived without a webhook", report.recovered.len()),
            body: format!(
                "The order sweep found orders modified with no message queued for them since, and queued them: \
                 {listed}.\n\nThey become (or update) Plex sales orders as usual, minutes later than a webhook \
                 would have brought them. Check that the store's store/order/created and store/order/updated \
                 hooks are active and point at this deployment. This alert is sent once per alert window."
            ),
            record: Some(RecordKey::new(profile.id.clone(), RecordKind::Run, "order-sweep")),
        };
        if let Err(error) = self.ports.alerter.alert(&alert).await {
            tracing::warn!(error.message = %error, "the missed-webhooks alert was not sent");
        }
    }
}

impl ConnectionSweep {
    /// One line for the run's audit event.
    pub fn summary(&self) -> String {
        if let Some(problem) = self.problems.first() {
            return format!("stopped early, the next run carries on: {problem}");
        }
        format!(
            "{} held order(s) queued again, {} stale hold(s) dropped, {} order(s) recovered without a webhook{}",
            self.released.len(),
            self.dropped.len(),
            self.recovered.len(),
            match self.requeued.len() {
                0 => String::new(),
                requeued => format!(", {requeued} order(s) queued to read a same-second change again"),
            }
        )
    }
}

/// One connection's sweep as a scheduled job: its report is the job's detail, and a sweep stopped
/// early fails the job (a transient failure: the queue retries it, then it is alerted once).
#[async_trait::async_trait]
impl jobs::Job for Sweep {
    fn name(&self) -> &'static str {
        JOB
    }

    async fn run(&self, profile: &ConnectionProfile, now: DateTime<Utc>) -> jobs::JobReport {
        let report = self.sweep_connection(profile, now).await;
        let summary = report.summary();
        let detail = json!(report);
        match report.problems.first() {
            None => jobs::JobReport::done(summary, detail),
            Some(_) => jobs::JobReport::failed(summary, detail, ErrorClass::Transient, report.problems.join("; ")),
        }
    }
}

#[cfg(test)]
mod tests;
