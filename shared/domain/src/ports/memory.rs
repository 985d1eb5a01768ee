//! In-memory fakes of every port, for handler and domain tests.
//!
//! They keep the same contracts as the production adapters (conditional writes conflict, claims
//! expire, checkpoints compare revisions), so a handler test against them means something; the
//! adapters' own tests against moto prove the production side of each contract.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use secrecy::{ExposeSecret, SecretString};

use super::{
    AuditLog, CheckpointStore, ConnectionStore, DedupeStore, HoldStore, IdMap, JobLeases, JobQueue, OpenOrders,
    OrderLedger, Queue, QueueMarks, SecretStore, StockState,
};
use crate::alert::{Alert, AlertOutcome, AlertWindow};
use crate::audit::{AuditEvent, Outcome};
use crate::checkpoint::{Checkpoint, SyncStream};
use crate::connection::ConnectionProfile;
use crate::error::PortError;
use crate::hold::Hold;
use crate::ids::{ConnectionId, RecordKey, SecretName};
use crate::job::{JobLeaseState, JobMessage, LeaseRefusal};
use crate::ledger::{Lease, LedgerEntry, OrderRef};
use crate::message::{OrderMessage, QUEUED_MARK_TTL};
use crate::open_order::OpenOrder;
use crate::ports::Alerter;
use crate::stock::{DriftCheck, PushedLevel, Sku, StockLocation, StockProgress, StockRow};

#[derive(Default)]
pub struct InMemoryAuditLog {
    events: Mutex<Vec<AuditEvent>>,
}

impl InMemoryAuditLog {
    pub fn events(&self) -> Vec<AuditEvent> {
        self.events.lock().unwrap().clone()
    }
}

#[async_trait]
impl AuditLog for InMemoryAuditLog {
    async fn append(&self, event: &AuditEvent) -> Result<(), PortError> {
        self.events.lock().unwrap().push(event.clone());
        Ok(())
    }

    async fn history(&self, key: &RecordKey) -> Result<Vec<AuditEvent>, PortError> {
        let mut found: Vec<_> = self.events.lock().unwrap().iter().filter(|e| &e.key == key).cloned().collect();
        found.sort_by_key(|e| e.at);
        Ok(found)
    }

    async fn by_outcome(
        &self,
        connection: &ConnectionId,
        outcome: Outcome,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, PortError> {
        let mut found: Vec<_> = self
            .events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| &e.key.connection == connection && e.outcome == outcome && e.at >= since)
            .cloned()
            .collect();
        found.sort_by_key(|e| e.at);
        found.truncate(limit);
        Ok(found)
    }
}

#[derive(Default)]
pub struct InMemoryOrderLedger {
    entries: Mutex<HashMap<OrderRef, LedgerEntry>>,
}

#[async_trait]
impl OrderLedger for InMemoryOrderLedger {
    async fn get(&self, order: &OrderRef) -> Result<Option<LedgerEntry>, PortError> {
        Ok(self.entries.lock().unwrap().get(order).cloned())
    }

    async fn acquire(
        &self,
        order: &OrderRef,
        holder: &str,
        now: DateTime<Utc>,
        lease_for: Duration,
    ) -> Result<LedgerEntry, PortError> {
        let mut entries = self.entries.lock().unwrap();
        let entry = entries.entry(order.clone()).or_insert_with(|| LedgerEntry::new(order.clone(), now));
        if entry.is_leased_by_other(holder, now) {
            return Err(PortError::Conflict(format!("order {order} is leased by another worker")));
        }
        entry.lease = Some(Lease { holder: holder.to_owned(), until: now + lease_for });
        Ok(entry.clone())
    }

    async fn save(&self, entry: &LedgerEntry, holder: &str, release: bool) -> Result<(), PortError> {
        let mut entries = self.entries.lock().unwrap();
        let stored = entries
            .get_mut(&entry.order)
            .ok_or_else(|| PortError::Conflict(format!("order {} has no ledger entry", entry.order)))?;
        if stored.lease.as_ref().is_none_or(|lease| lease.holder != holder) {
            return Err(PortError::Conflict(format!("lease on order {} is not held by {holder}", entry.order)));
        }
        let lease = if release { None } else { stored.lease.clone() };
        *stored = LedgerEntry { lease, ..entry.clone() };
        Ok(())
    }
}

#[derive(Default)]
pub struct InMemoryHoldStore {
    holds: Mutex<HashMap<OrderRef, Hold>>,
}

#[async_trait]
impl HoldStore for InMemoryHoldStore {
    async fn hold(&self, hold: &Hold) -> Result<(), PortError> {
        self.holds.lock().unwrap().insert(hold.order.clone(), hold.clone());
        Ok(())
    }

    async fn list(&self, connection: &ConnectionId) -> Result<Vec<Hold>, PortError> {
        let mut holds: Vec<Hold> =
            self.holds.lock().unwrap().values().filter(|hold| &hold.order.connection == connection).cloned().collect();
        holds.sort_by_key(|hold| (hold.held_at, hold.order.order_id));
        Ok(holds)
    }

    async fn release(&self, order: &OrderRef, held_at: Option<DateTime<Utc>>) -> Result<bool, PortError> {
        let mut holds = self.holds.lock().unwrap();
        let matches = holds.get(order).is_some_and(|hold| held_at.is_none_or(|at| hold.held_at == at));
        if matches {
            holds.remove(order);
        }
        Ok(matches)
    }
}

#[derive(Default)]
pub struct InMemoryCheckpointStore {
    checkpoints: Mutex<HashMap<String, Checkpoint>>,
}

#[async_trait]
impl CheckpointStore for InMemoryCheckpointStore {
    async fn load(&self, stream: &SyncStream) -> Result<Option<Checkpoint>, PortError> {
        Ok(self.checkpoints.lock().unwrap().get(&stream.to_string()).cloned())
    }

    async fn save(
        &self,
        stream: &SyncStream,
        new: &Checkpoint,
        expected: Option<&Checkpoint>,
    ) -> Result<(), PortError> {
        let mut checkpoints = self.checkpoints.lock().unwrap();
        let current = checkpoints.get(&stream.to_string()).map(|c| c.revision);
        if current != expected.map(|c| c.revision) {
            return Err(PortError::Conflict(format!("checkpoint {stream} moved since it was loaded")));
        }
        checkpoints.insert(stream.to_string(), new.clone());
        Ok(())
    }
}

#[derive(Default)]
pub struct InMemoryIdMap {
    ids: Mutex<HashMap<(ConnectionId, String, String), String>>,
}

#[async_trait]
impl IdMap for InMemoryIdMap {
    async fn get(
        &self,
        connection: &ConnectionId,
        namespace: &str,
        source_id: &str,
    ) -> Result<Option<String>, PortError> {
        let key = (connection.clone(), namespace.to_owned(), source_id.to_owned());
        Ok(self.ids.lock().unwrap().get(&key).cloned())
    }

    async fn put(
        &self,
        connection: &ConnectionId,
        namespace: &str,
        source_id: &str,
        target_id: &str,
    ) -> Result<(), PortError> {
        let key = (connection.clone(), namespace.to_owned(), source_id.to_owned());
        self.ids.lock().unwrap().insert(key, target_id.to_owned());
        Ok(())
    }
}

#[derive(Default)]
pub struct InMemoryDedupeStore {
    claims: Mutex<HashMap<String, DateTime<Utc>>>,
}

#[async_trait]
impl DedupeStore for InMemoryDedupeStore {
    async fn claim(&self, key: &str, now: DateTime<Utc>, ttl: Duration) -> Result<bool, PortError> {
        let mut claims = self.claims.lock().unwrap();
        match claims.get(key) {
            Some(expires) if *expires > now => Ok(false),
            _ => {
                claims.insert(key.to_owned(), now + ttl);
                Ok(true)
            }
        }
    }
}

/// Queued marks in memory, with the adapter's rules: a mark only moves forward, and an expired
/// one reads as absent.
#[derive(Default)]
pub struct InMemoryQueueMarks {
    marks: Mutex<HashMap<OrderRef, DateTime<Utc>>>,
}

#[async_trait]
impl QueueMarks for InMemoryQueueMarks {
    async fn mark_queued(&self, order: &OrderRef, at: DateTime<Utc>) -> Result<(), PortError> {
        let mut marks = self.marks.lock().unwrap();
        let mark = marks.entry(order.clone()).or_insert(at);
        *mark = (*mark).max(at);
        Ok(())
    }

    async fn last_queued(&self, order: &OrderRef, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, PortError> {
        Ok(self.marks.lock().unwrap().get(order).copied().filter(|at| *at + QUEUED_MARK_TTL > now))
    }
}

/// Records what was queued and every [`Queue::redeliver_after`] call, as asked (the SQS adapter's
/// rounding to whole seconds is the adapter's; tests see the wait the caller gave).
#[derive(Default)]
pub struct RecordingQueue {
    messages: Mutex<Vec<OrderMessage>>,
    redeliveries: Mutex<Vec<(String, std::time::Duration)>>,
    redeliveries_fail: AtomicBool,
}

impl RecordingQueue {
    pub fn messages(&self) -> Vec<OrderMessage> {
        self.messages.lock().unwrap().clone()
    }

    /// Every `redeliver_after` call, oldest first: (receipt handle, wait), failed ones included.
    pub fn redeliveries(&self) -> Vec<(String, std::time::Duration)> {
        self.redeliveries.lock().unwrap().clone()
    }

    /// From now on `redeliver_after` fails as an unreachable SQS would (`Unavailable`); the calls
    /// are still recorded.
    pub fn fail_redeliveries(&self) {
        self.redeliveries_fail.store(true, Ordering::SeqCst);
    }
}

#[async_trait]
impl Queue for RecordingQueue {
    async fn enqueue(&self, message: &OrderMessage) -> Result<String, PortError> {
        let mut messages = self.messages.lock().unwrap();
        messages.push(message.clone());
        Ok(format!("message-{}", messages.len()))
    }

    async fn redeliver_after(&self, receipt_handle: &str, wait: std::time::Duration) -> Result<(), PortError> {
        self.redeliveries.lock().unwrap().push((receipt_handle.to_owned(), wait));
        if self.redeliveries_fail.load(Ordering::SeqCst) {
            let cause = std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out");
            return Err(PortError::unavailable("changing a received message's visibility", cause));
        }
        Ok(())
    }
}

/// Open orders in memory.
#[derive(Default)]
pub struct InMemoryOpenOrders {
    orders: Mutex<HashMap<OrderRef, OpenOrder>>,
}

#[async_trait]
impl OpenOrders for InMemoryOpenOrders {
    async fn open(&self, order: &OpenOrder) -> Result<(), PortError> {
        self.orders.lock().unwrap().insert(order.order.clone(), order.clone());
        Ok(())
    }

    async fn close(&self, order: &OrderRef) -> Result<(), PortError> {
        self.orders.lock().unwrap().remove(order);
        Ok(())
    }

    async fn list(&self, connection: &ConnectionId) -> Result<Vec<OpenOrder>, PortError> {
        let mut open: Vec<OpenOrder> =
            self.orders.lock().unwrap().values().filter(|open| &open.order.connection == connection).cloned().collect();
        open.sort_by_key(|open| open.order.order_id);
        Ok(open)
    }
}

/// One connection's last-pushed levels, by SKU and location.
type PushedLevels = BTreeMap<(Sku, StockLocation), PushedLevel>;

/// Last-pushed stock levels and drift reports in memory.
#[derive(Default)]
pub struct InMemoryStockState {
    levels: Mutex<HashMap<ConnectionId, PushedLevels>>,
    drift: Mutex<HashMap<ConnectionId, DriftCheck>>,
    progress: Mutex<HashMap<ConnectionId, StockProgress>>,
}

#[async_trait]
impl StockState for InMemoryStockState {
    async fn pushed(&self, connection: &ConnectionId) -> Result<PushedLevels, PortError> {
        Ok(self.levels.lock().unwrap().get(connection).cloned().unwrap_or_default())
    }

    async fn save_pushed(&self, connection: &ConnectionId, rows: &[StockRow]) -> Result<(), PortError> {
        let mut levels = self.levels.lock().unwrap();
        let levels = levels.entry(connection.clone()).or_default();
        for row in rows {
            let level = PushedLevel { quantity: row.quantity, plex_on_hand: Some(row.plex_on_hand) };
            levels.insert((row.sku.clone(), row.location), level);
        }
        Ok(())
    }

    async fn last_drift_check(&self, connection: &ConnectionId) -> Result<Option<DriftCheck>, PortError> {
        Ok(self.drift.lock().unwrap().get(connection).cloned())
    }

    async fn save_drift_check(&self, connection: &ConnectionId, check: &DriftCheck) -> Result<(), PortError> {
        self.drift.lock().unwrap().insert(connection.clone(), check.clone());
        Ok(())
    }

    async fn progress(&self, connection: &ConnectionId) -> Result<Option<StockProgress>, PortError> {
        Ok(self.progress.lock().unwrap().get(connection).cloned())
    }

    async fn save_progress(&self, connection: &ConnectionId, progress: &StockProgress) -> Result<(), PortError> {
        self.progress.lock().unwrap().insert(connection.clone(), progress.clone());
        Ok(())
    }
}

/// Records the job messages sent; [`RecordingJobQueue::fail_sends`] makes sending fail.
#[derive(Default)]
pub struct RecordingJobQueue {
    messages: Mutex<Vec<JobMessage>>,
    fail: AtomicBool,
}

impl RecordingJobQueue {
    pub fn messages(&self) -> Vec<JobMessage> {
        self.messages.lock().unwrap().clone()
    }

    /// Takes the messages sent so far, as a consumer receiving them would.
    pub fn take(&self) -> Vec<JobMessage> {
        std::mem::take(&mut *self.messages.lock().unwrap())
    }

    pub fn fail_sends(&self) {
        self.fail.store(true, Ordering::SeqCst);
    }
}

#[async_trait]
impl JobQueue for RecordingJobQueue {
    async fn send(&self, messages: &[JobMessage]) -> Result<(), PortError> {
        if self.fail.load(Ordering::SeqCst) {
            let cause = std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out");
            return Err(PortError::unavailable("sending job messages", cause));
        }
        self.messages.lock().unwrap().extend_from_slice(messages);
        Ok(())
    }
}

/// Job leases in memory, by the rule the DynamoDB condition follows ([`JobLeaseState::refusal`]).
#[derive(Default)]
pub struct InMemoryJobLeases {
    leases: Mutex<HashMap<(ConnectionId, String), JobLeaseState>>,
}

impl InMemoryJobLeases {
    pub fn state(&self, connection: &ConnectionId, job: &str) -> JobLeaseState {
        self.leases.lock().unwrap().get(&(connection.clone(), job.to_owned())).cloned().unwrap_or_default()
    }
}

#[async_trait]
impl JobLeases for InMemoryJobLeases {
    async fn take(
        &self,
        connection: &ConnectionId,
        job: &str,
        holder: &str,
        requested_at: DateTime<Utc>,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Result<(), LeaseRefusal>, PortError> {
        let mut leases = self.leases.lock().unwrap();
        let state = leases.entry((connection.clone(), job.to_owned())).or_default();
        if let Some(refusal) = state.refusal(requested_at, now) {
            return Ok(Err(refusal));
        }
        state.holder = Some(holder.to_owned());
        state.held_until = Some(until);
        Ok(Ok(()))
    }

    async fn finish(
        &self,
        connection: &ConnectionId,
        job: &str,
        holder: &str,
        started_at: DateTime<Utc>,
    ) -> Result<(), PortError> {
        let mut leases = self.leases.lock().unwrap();
        if let Some(state) = leases.get_mut(&(connection.clone(), job.to_owned()))
            && state.holder.as_deref() == Some(holder)
        {
            let covered_through = state.covered_through.max(Some(started_at));
            *state = JobLeaseState { holder: None, held_until: None, covered_through };
        }
        Ok(())
    }

    async fn release(&self, connection: &ConnectionId, job: &str, holder: &str) -> Result<(), PortError> {
        let mut leases = self.leases.lock().unwrap();
        if let Some(state) = leases.get_mut(&(connection.clone(), job.to_owned()))
            && state.holder.as_deref() == Some(holder)
        {
            state.holder = None;
            state.held_until = None;
        }
        Ok(())
    }
}

/// Secrets held in memory; `put` replaces, `get` of an unknown name is `Invalid` like the real store.
#[derive(Default)]
pub struct StaticSecrets {
    values: Mutex<HashMap<String, String>>,
}

impl StaticSecrets {
    pub fn with(self, name: &SecretName, value: impl Into<String>) -> Self {
        self.values.lock().unwrap().insert(name.to_string(), value.into());
        self
    }
}

#[async_trait]
impl SecretStore for StaticSecrets {
    async fn get(&self, name: &SecretName) -> Result<SecretString, PortError> {
        self.values
            .lock()
            .unwrap()
            .get(&name.to_string())
            .map(|v| SecretString::from(v.clone()))
            .ok_or_else(|| PortError::invalid(format!("reading secret {name}"), "secret does not exist"))
    }

    async fn put(&self, name: &SecretName, value: &SecretString) -> Result<(), PortError> {
        self.values.lock().unwrap().insert(name.to_string(), value.expose_secret().to_owned());
        Ok(())
    }
}

/// Records the alerts it would have sent, applying the same window rule as the SNS alerter.
pub struct RecordingAlerter {
    window: AlertWindow,
    sent: Mutex<Vec<Alert>>,
}

impl RecordingAlerter {
    pub fn new(window: Duration) -> Self {
        Self {
            window: AlertWindow::new(std::sync::Arc::new(InMemoryDedupeStore::default()), window),
            sent: Mutex::default(),
        }
    }

    pub fn sent(&self) -> Vec<Alert> {
        self.sent.lock().unwrap().clone()
    }
}

#[async_trait]
impl Alerter for RecordingAlerter {
    async fn alert(&self, alert: &Alert) -> Result<AlertOutcome, PortError> {
        if !self.window.admit(alert, Utc::now()).await? {
            return Ok(AlertOutcome::Suppressed);
        }
        let mut sent = self.sent.lock().unwrap();
        sent.push(alert.clone());
        Ok(AlertOutcome::Sent { message_id: format!("alert-{}", sent.len()) })
    }
}

#[derive(Default)]
pub struct InMemoryConnectionStore {
    profiles: Mutex<BTreeMap<ConnectionId, ConnectionProfile>>,
}

#[async_trait]
impl ConnectionStore for InMemoryConnectionStore {
    async fn get(&self, id: &ConnectionId) -> Result<Option<ConnectionProfile>, PortError> {
        Ok(self.profiles.lock().unwrap().get(id).cloned())
    }

    async fn put(&self, profile: &ConnectionProfile) -> Result<(), PortError> {
        self.profiles.lock().unwrap().insert(profile.id.clone(), profile.clone());
        Ok(())
    }

    async fn list(&self) -> Result<Vec<ConnectionProfile>, PortError> {
        Ok(self.profiles.lock().unwrap().values().cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::System;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z").unwrap().with_timezone(&Utc)
    }

    fn acme() -> ConnectionId {
        ConnectionId::new("acme").unwrap()
    }

    #[tokio::test]
    async fn ledger_lease_excludes_a_second_holder_until_it_expires() {
        let ledger = InMemoryOrderLedger::default();
        let order = OrderRef::new(acme(), 7);
        ledger.acquire(&order, "w1", now(), Duration::seconds(30)).await.unwrap();
        let err = ledger.acquire(&order, "w2", now(), Duration::seconds(30)).await.unwrap_err();
        assert!(matches!(err, PortError::Conflict(_)));
        let taken = ledger.acquire(&order, "w2", now() + Duration::seconds(31), Duration::seconds(30)).await.unwrap();
        assert_eq!(taken.lease.as_ref().unwrap().holder, "w2");
        let mut stale = taken.clone();
        stale.plex_order_id = Some("so-1".into());
        assert!(matches!(ledger.save(&stale, "w1", true).await, Err(PortError::Conflict(_))));
        ledger.save(&stale, "w2", true).await.unwrap();
        let stored = ledger.get(&order).await.unwrap().unwrap();
        assert_eq!(stored.plex_order_id.as_deref(), Some("so-1"));
        assert!(stored.lease.is_none());
    }

    #[tokio::test]
    async fn checkpoint_save_conflicts_when_the_revision_moved() {
        let store = InMemoryCheckpointStore::default();
        let stream = SyncStream::new(acme(), "stock");
        let first = Checkpoint::starting_at(now());
        store.save(&stream, &first, None).await.unwrap();
        assert!(matches!(store.save(&stream, &first, None).await, Err(PortError::Conflict(_))));
        let second = first.advanced([(now() + Duration::minutes(1), "p1")]);
        store.save(&stream, &second, Some(&first)).await.unwrap();
        assert!(matches!(store.save(&stream, &second, Some(&first)).await, Err(PortError::Conflict(_))));
        assert_eq!(store.load(&stream).await.unwrap(), Some(second));
    }

    #[tokio::test]
    async fn dedupe_claims_once_until_the_ttl_passes() {
        let dedupe = InMemoryDedupeStore::default();
        assert!(dedupe.claim("k", now(), Duration::minutes(5)).await.unwrap());
        assert!(!dedupe.claim("k", now() + Duration::minutes(4), Duration::minutes(5)).await.unwrap());
        assert!(dedupe.claim("k", now() + Duration::minutes(6), Duration::minutes(5)).await.unwrap());
    }

    #[tokio::test]
    async fn a_queued_mark_only_moves_forward_and_expires_with_its_ttl() {
        let marks = InMemoryQueueMarks::default();
        let order = OrderRef::new(acme(), 7);
        assert_eq!(marks.last_queued(&order, now()).await.unwrap(), None);
        marks.mark_queued(&order, now() + Duration::seconds(5)).await.unwrap();
        marks.mark_queued(&order, now()).await.unwrap();
        assert_eq!(marks.last_queued(&order, now()).await.unwrap(), Some(now() + Duration::seconds(5)));
        let expiry = now() + Duration::seconds(5) + QUEUED_MARK_TTL;
        assert_eq!(marks.last_queued(&order, expiry).await.unwrap(), None);
    }

    #[tokio::test]
    async fn recording_alerter_sends_each_cause_once_per_window() {
        let alerter = RecordingAlerter::new(Duration::hours(1));
        let alert = |cause: &str| Alert {
            connection: acme(),
            cause: cause.into(),
            subject: format!("[acme] {cause}"),
            body: "body".into(),
            record: None,
        };
        assert!(matches!(alerter.alert(&alert("plex-auth")).await.unwrap(), AlertOutcome::Sent { .. }));
        assert_eq!(alerter.alert(&alert("plex-auth")).await.unwrap(), AlertOutcome::Suppressed);
        assert!(matches!(alerter.alert(&alert("unmapped-sku:W-9")).await.unwrap(), AlertOutcome::Sent { .. }));
        assert_eq!(alerter.sent().len(), 2);
    }

    #[tokio::test]
    async fn recording_queue_records_visibility_changes_and_fails_them_when_told() {
        let queue = RecordingQueue::default();
        queue.redeliver_after("handle-1", std::time::Duration::from_secs(7)).await.unwrap();
        queue.fail_redeliveries();
        let error = queue.redeliver_after("handle-2", std::time::Duration::from_millis(500)).await.unwrap_err();
        assert_eq!(error.class(), crate::ErrorClass::Transient);
        assert_eq!(
            queue.redeliveries(),
            vec![
                ("handle-1".to_owned(), std::time::Duration::from_secs(7)),
                ("handle-2".to_owned(), std::time::Duration::from_millis(500)),
            ]
        );
    }

    #[tokio::test]
    async fn static_secrets_report_a_missing_secret_as_a_configuration_error() {
        let name = SecretName::new("millwright", acme(), System::Plex);
        let secrets = StaticSecrets::default();
        let err = secrets.get(&name).await.unwrap_err();
        assert_eq!(err.class(), crate::ErrorClass::Data);
        assert!(err.to_string().contains("millwright/acme/plex"));
        secrets.put(&name, &SecretString::from("{}")).await.unwrap();
        assert_eq!(secrets.get(&name).await.unwrap().expose_secret(), "{}");
    }
}
