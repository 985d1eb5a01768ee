//! Ports: the capabilities the functions need from the outside world, as small traits.
//!
//! Production adapters live in `shared/aws` (DynamoDB, SQS, Secrets Manager, SNS) and the client
//! crates; the in-memory fakes in `ports::memory` (storage, queue, alerts) and `ports::fakes` (the
//! BigCommerce and Plex order APIs) back handler tests, compiled only for tests and with the
//! `fakes` feature, which only tests and the bench enable. Every trait takes and
//! returns domain types, never SDK outputs, and every method documents what its errors mean.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use secrecy::SecretString;

use crate::alert::{Alert, AlertOutcome};
use crate::audit::{AuditEvent, Outcome};
use crate::checkpoint::{Checkpoint, SyncStream};
use crate::connection::ConnectionProfile;
use crate::error::PortError;
use crate::hold::Hold;
use crate::hooks::HookState;
use crate::ids::{ConnectionId, RecordKey, SecretName};
use crate::job::{JobMessage, LeaseRefusal};
use crate::ledger::{LedgerEntry, OrderRef};
use crate::message::OrderMessage;
use crate::open_order::OpenOrder;
use crate::order::{
    CustomerKey, NewCustomer, OrderChange, PartRef, PlexOrderRef, SalesOrderDraft, SalesOrderLineDraft, WebOrder,
};
use crate::stock::{
    AdjustedPart, ContainerFilter, DriftCheck, ItemAddress, OnHand, PushOutcome, PushedLevel, Sku, StockLocation,
    StockProgress, StockRow, StoreLocation,
};

#[cfg(any(test, feature = "fakes"))]
pub mod fakes;
#[cfg(any(test, feature = "fakes"))]
pub mod memory;

/// The audit trail. Appends never overwrite: two events at the same instant are both kept.
#[async_trait]
pub trait AuditLog: Send + Sync {
    async fn append(&self, event: &AuditEvent) -> Result<(), PortError>;
    /// Appends many events in as few requests as the store allows (a run's per-row events). On an
    /// error some may be stored and some not. One by one unless the store has better.
    async fn append_all(&self, events: &[AuditEvent]) -> Result<(), PortError> {
        for event in events {
            self.append(event).await?;
        }
        Ok(())
    }
    /// Every event of one record, oldest first.
    async fn history(&self, key: &RecordKey) -> Result<Vec<AuditEvent>, PortError>;
    /// Events of one connection with this outcome at or after `since`, oldest first, at most `limit`.
    async fn by_outcome(
        &self,
        connection: &ConnectionId,
        outcome: Outcome,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, PortError>;
}

/// The order ledger (see [`crate::ledger`]).
#[async_trait]
pub trait OrderLedger: Send + Sync {
    async fn get(&self, order: &OrderRef) -> Result<Option<LedgerEntry>, PortError>;
    /// Takes the entry's lease for `holder` until `now + lease_for`, creating a `Pending` entry if
    /// there is none, and returns the entry as stored. `Conflict` when another holder's lease has
    /// not expired: exactly one of two racing callers wins.
    async fn acquire(
        &self,
        order: &OrderRef,
        holder: &str,
        now: DateTime<Utc>,
        lease_for: Duration,
    ) -> Result<LedgerEntry, PortError>;
    /// Stores `entry` (status, Plex id, hashes) if `holder` still holds the lease, and releases the
    /// lease when `release` is set. `Conflict` when the lease was lost (expired and taken over).
    async fn save(&self, entry: &LedgerEntry, holder: &str, release: bool) -> Result<(), PortError>;
}

/// Orders held for mappings (see [`crate::hold`]), one hold per order.
#[async_trait]
pub trait HoldStore: Send + Sync {
    /// Stores the order's hold, replacing any earlier one.
    async fn hold(&self, hold: &Hold) -> Result<(), PortError>;
    /// Every hold of the connection, oldest first.
    async fn list(&self, connection: &ConnectionId) -> Result<Vec<Hold>, PortError>;
    /// Removes the order's hold and says whether there was one. With `held_at`, only the hold stored
    /// at that time is removed (one condition, no read): a hold the worker stored again since stays.
    async fn release(&self, order: &OrderRef, held_at: Option<DateTime<Utc>>) -> Result<bool, PortError>;
}

/// Sync-stream checkpoints (see [`crate::checkpoint`]).
#[async_trait]
pub trait CheckpointStore: Send + Sync {
    async fn load(&self, stream: &SyncStream) -> Result<Option<Checkpoint>, PortError>;
    /// Stores `new` only if the stored checkpoint is still `expected` (compared by revision; `None`
    /// means "no checkpoint yet"). `Conflict` otherwise, so two overlapping runs cannot both advance.
    async fn save(&self, stream: &SyncStream, new: &Checkpoint, expected: Option<&Checkpoint>)
    -> Result<(), PortError>;
}

/// Maps between systems' ids, e.g. namespace `sku` (SKU → Plex part id) or `monday:{board}`
/// (Plex record → monday item id).
#[async_trait]
pub trait IdMap: Send + Sync {
    async fn get(
        &self,
        connection: &ConnectionId,
        namespace: &str,
        source_id: &str,
    ) -> Result<Option<String>, PortError>;
    async fn put(
        &self,
        connection: &ConnectionId,
        namespace: &str,
        source_id: &str,
        target_id: &str,
    ) -> Result<(), PortError>;
}

/// Remembers that something happened, for a while: webhook deliveries, alert windows.
#[async_trait]
pub trait DedupeStore: Send + Sync {
    /// Claims `key` until `now + ttl`. `true` for the first claim (or once an earlier claim expired),
    /// `false` while an earlier claim is still live. Exactly one of two racing callers gets `true`.
    async fn claim(&self, key: &str, now: DateTime<Utc>, ttl: Duration) -> Result<bool, PortError>;
}

/// When a message for each order was last queued, so that the order sweep does not queue an order
/// that is already waiting in the queue (the receiver and the sweep mark what they queue, after the
/// queue accepted it). A mark lasts [`crate::message::QUEUED_MARK_TTL`] from its time.
#[async_trait]
pub trait QueueMarks: Send + Sync {
    /// Records that a message for `order` was queued at `at`, unless a later time is recorded
    /// already: one conditional write, so a mark only moves forward whatever the order of racing
    /// writers.
    async fn mark_queued(&self, order: &OrderRef, at: DateTime<Utc>) -> Result<(), PortError>;
    /// The newest time a message for `order` was queued, unless its mark expired by `now`.
    async fn last_queued(&self, order: &OrderRef, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, PortError>;
}

/// The order queue (FIFO: one message group per order).
#[async_trait]
pub trait Queue: Send + Sync {
    /// Returns once the queue has durably accepted the message; the message id it assigned.
    async fn enqueue(&self, message: &OrderMessage) -> Result<String, PortError>;

    /// Makes a received message, which the consumer is about to hand back undeleted, visible again
    /// `wait` from now instead of after the queue's visibility timeout: how a server's requested wait
    /// (`ApiError::retry_after`) is honoured. `receipt_handle` is the one its receive returned.
    ///
    /// SQS (`ChangeMessageVisibility`) takes whole seconds and caps a message's visibility at 12
    /// hours counted from its receive, refusing anything longer. The SQS adapter therefore rounds
    /// `wait` up to whole seconds, raises a wait under 1 s to 1 s (the message never comes back at
    /// once), and lowers a wait over 11 h 45 min to 11 h 45 min, so that the request fits for any
    /// message received by a Lambda invocation (which lasts at most 15 minutes).
    ///
    /// An error means the visibility is unchanged: the message comes back after the queue's
    /// visibility timeout, as if this had not been called. `Invalid` when the receipt handle is not
    /// (or no longer) valid, e.g. the message was deleted or is visible again; `Unavailable` when
    /// the queue could not be reached.
    async fn redeliver_after(&self, receipt_handle: &str, wait: std::time::Duration) -> Result<(), PortError>;
}

/// Web orders BigCommerce took that Plex does not hold yet (`domain::open_order`), per connection.
#[async_trait]
pub trait OpenOrders: Send + Sync {
    /// Records the order as open with these lines, replacing what an earlier read recorded.
    async fn open(&self, order: &OpenOrder) -> Result<(), PortError>;
    /// The order is no longer open (Plex holds it, or it will never be written); nothing when it
    /// was not open.
    async fn close(&self, order: &OrderRef) -> Result<(), PortError>;
    /// Every open order of the connection (one query).
    async fn list(&self, connection: &ConnectionId) -> Result<Vec<OpenOrder>, PortError>;
}

/// The stock flow's calls to Plex and BigCommerce for one connection.
#[async_trait]
pub trait StockApis: Send + Sync {
    /// Plex's sellable on-hand by part number and Plex location (one read of every active
    /// container), and the HTTP requests it took.
    async fn plex_on_hand(
        &self,
        profile: &ConnectionProfile,
        filter: &ContainerFilter,
    ) -> Result<(Vec<OnHand>, u32), ApiError>;
    /// The parts whose containers Plex adjusted in `[since, until]` (each once), and the requests;
    /// `None` for the parts when an adjustment named no part id or number, so the parts cannot be
    /// read one by one.
    async fn plex_adjusted_parts(
        &self,
        profile: &ConnectionProfile,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<(Option<BTreeSet<AdjustedPart>>, u32), ApiError>;
    /// Plex's sellable on-hand of these parts only (one containers read per part id), and the
    /// requests.
    async fn plex_on_hand_of_parts(
        &self,
        profile: &ConnectionProfile,
        filter: &ContainerFilter,
        part_ids: &[String],
    ) -> Result<(Vec<OnHand>, u32), ApiError>;
    /// How BigCommerce addresses each tracked SKU (by product or by variant), and the requests.
    async fn catalog(&self, profile: &ConnectionProfile) -> Result<(BTreeMap<Sku, ItemAddress>, u32), ApiError>;
    /// BigCommerce's on-hand level of every inventory item at each of `locations`, by SKU, and the
    /// requests it took.
    async fn levels(
        &self,
        profile: &ConnectionProfile,
        locations: &[StockLocation],
    ) -> Result<(BTreeMap<(Sku, StockLocation), i64>, u32), ApiError>;
    /// BigCommerce's inventory locations.
    async fn locations(&self, profile: &ConnectionProfile) -> Result<Vec<StoreLocation>, ApiError>;
    /// One absolute adjustment of at most 2,000 rows.
    async fn set_absolute(
        &self,
        profile: &ConnectionProfile,
        reason: &str,
        rows: &[(ItemAddress, StockLocation, i64)],
    ) -> Result<PushOutcome, ApiError>;
}

/// What the stock flow last pushed to BigCommerce per SKU and location, saved only after
/// BigCommerce accepted it.
#[async_trait]
pub trait StockState: Send + Sync {
    /// Every row pushed, with the Plex on-hand it was computed from.
    async fn pushed(&self, connection: &ConnectionId)
    -> Result<BTreeMap<(Sku, StockLocation), PushedLevel>, PortError>;
    /// The levels last pushed.
    async fn last_pushed(&self, connection: &ConnectionId) -> Result<BTreeMap<(Sku, StockLocation), i64>, PortError> {
        let pushed = self.pushed(connection).await?;
        Ok(pushed.into_iter().map(|(key, level)| (key, level.quantity)).collect())
    }
    /// Records `rows` as pushed (replacing what was recorded for their SKU and location).
    async fn save_pushed(&self, connection: &ConnectionId, rows: &[StockRow]) -> Result<(), PortError>;
    /// Where the connection's reads of Plex stand, `None` before a run finished.
    async fn progress(&self, connection: &ConnectionId) -> Result<Option<StockProgress>, PortError>;
    /// Replaces it, once a run finished.
    async fn save_progress(&self, connection: &ConnectionId, progress: &StockProgress) -> Result<(), PortError>;
    /// The connection's last drift report, `None` before the first.
    async fn last_drift_check(&self, connection: &ConnectionId) -> Result<Option<DriftCheck>, PortError>;
    /// Replaces the connection's last drift report.
    async fn save_drift_check(&self, connection: &ConnectionId, check: &DriftCheck) -> Result<(), PortError>;
}

/// A scheduled function's job queue: one message per connection and run (`domain::job`).
#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Returns once the queue has durably accepted every message (sent in as few requests as the
    /// queue allows). On an error some may have been accepted: sending them all again is safe,
    /// because a job's lease refuses a second run of work already done.
    async fn send(&self, messages: &[JobMessage]) -> Result<(), PortError>;
}

/// Each connection's lease on each scheduled job (`domain::job`): one conditional write to take it,
/// so two overlapping runs never do one connection's work twice.
#[async_trait]
pub trait JobLeases: Send + Sync {
    /// Takes `connection`'s lease on `job` for `holder` until `until`, unless
    /// [`JobLeaseState::refusal`](crate::job::JobLeaseState::refusal) refuses a job requested at
    /// `requested_at` at `now`; then `Ok(Err(refusal))`. Exactly one of two racing takers wins.
    async fn take(
        &self,
        connection: &ConnectionId,
        job: &str,
        holder: &str,
        requested_at: DateTime<Utc>,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Result<(), LeaseRefusal>, PortError>;
    /// `holder`'s job, which started at `started_at`, finished: every run requested up to then is
    /// done, and the lease is free. Nothing changes when `holder` no longer holds it (it ran out and
    /// another invocation took it).
    async fn finish(
        &self,
        connection: &ConnectionId,
        job: &str,
        holder: &str,
        started_at: DateTime<Utc>,
    ) -> Result<(), PortError>;
    /// Frees `holder`'s lease without marking anything done (the job failed or was handed back).
    async fn release(&self, connection: &ConnectionId, job: &str, holder: &str) -> Result<(), PortError>;
}

/// Credentials per connection and system. Values are JSON documents the client crates parse.
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// `Invalid` when the secret does not exist (a configuration error, not a transient one).
    async fn get(&self, name: &SecretName) -> Result<SecretString, PortError>;
    /// Creates or replaces the secret (used for cached OAuth tokens and by the CLI).
    async fn put(&self, name: &SecretName, value: &SecretString) -> Result<(), PortError>;
}

/// Operator alerts (e-mail through SNS in production).
#[async_trait]
pub trait Alerter: Send + Sync {
    /// Sends the alert unless the same connection and cause alerted inside the window.
    async fn alert(&self, alert: &Alert) -> Result<AlertOutcome, PortError>;
}

/// Connection profiles (non-secret configuration per connection).
#[async_trait]
pub trait ConnectionStore: Send + Sync {
    async fn get(&self, id: &ConnectionId) -> Result<Option<ConnectionProfile>, PortError>;
    async fn put(&self, profile: &ConnectionProfile) -> Result<(), PortError>;
    async fn list(&self) -> Result<Vec<ConnectionProfile>, PortError>;
}

/// A connection's BigCommerce webhook subscriptions (hooks v3), as the health check repairs them.
/// The adapter registers hooks with the connection's own authentication header and secret, so
/// no secret passes through the caller.
#[async_trait]
pub trait WebhookRegistry: Send + Sync {
    /// Every hook of the connection's API account (hooks are visible only to their creator).
    async fn hooks(&self) -> Result<Vec<HookState>, ApiError>;
    /// Registers an active hook for `scope` at `destination`.
    async fn register(&self, scope: &str, destination: &str) -> Result<HookState, ApiError>;
    /// Turns hook `id` back on.
    async fn reactivate(&self, id: u64) -> Result<HookState, ApiError>;
    /// Gives hook `id` the connection's current authentication header and turns it on.
    async fn refresh(&self, id: u64) -> Result<HookState, ApiError>;
    /// Deletes hook `id` (a removed connection's hooks).
    async fn delete(&self, id: u64) -> Result<(), ApiError>;
}

/// Hands out each connection's [`WebhookRegistry`].
#[async_trait]
pub trait WebhookApis: Send + Sync {
    async fn webhooks(&self, profile: &ConnectionProfile) -> Result<Arc<dyn WebhookRegistry>, ApiError>;
}

/// A failed call to an external API, as the flows see it: the client crates convert their errors
/// into this, keeping the class `shared/http` decided and the server's requested wait.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub class: crate::ErrorClass,
    /// For operators: names the call, the status and the server's reason; never a secret.
    pub message: String,
    pub retry_after: Option<std::time::Duration>,
}

/// Where the order worker reads web orders (BigCommerce).
#[async_trait]
pub trait WebOrderSource: Send + Sync {
    /// The order as it is now, in full (lines and shipping addresses); `None` when the store has
    /// no such order.
    async fn order(&self, id: u64) -> Result<Option<WebOrder>, ApiError>;
    /// One page (from 1) of the orders modified in `[from, to]`, both inclusive, oldest
    /// modification first (ties by id), at most `limit`; a short or empty page is the last.
    async fn order_changes(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        page: u32,
        limit: u32,
    ) -> Result<Vec<OrderChange>, ApiError>;
}

/// What the order worker needs from Plex: look-ups for mapping, and the sales order writes of the
/// connection's strategy (REST chain or data sources).
#[async_trait]
pub trait SalesOrderSink: Send + Sync {
    /// The Plex customer id for a guest code, an e-mail or a company name (not for
    /// `CustomerKey::BigCommerceId`, which the id map answers).
    async fn find_customer(&self, key: &CustomerKey) -> Result<Option<String>, ApiError>;
    /// Creates a customer (connections with `orders.create_customers`) and returns its Plex id.
    async fn create_customer(&self, customer: &NewCustomer) -> Result<String, ApiError>;
    async fn part_by_number(&self, number: &str) -> Result<Option<PartRef>, ApiError>;
    /// The sales order whose PO number is this reference: how an in-doubt create is detected.
    async fn find_by_po(&self, po_number: &str) -> Result<Option<PlexOrderRef>, ApiError>;
    /// Creates the order with every line; the result lists each line's Plex ids.
    async fn create(&self, draft: &SalesOrderDraft) -> Result<PlexOrderRef, ApiError>;
    /// Adds to an existing order the lines of `draft` it lacks (after a create that was cut off
    /// half-way) and returns the order with all its lines.
    async fn complete(&self, order: &PlexOrderRef, draft: &SalesOrderDraft) -> Result<PlexOrderRef, ApiError>;
    /// Changes the quantity and due date of these lines' releases.
    async fn update_releases(&self, order: &PlexOrderRef, lines: &[SalesOrderLineDraft]) -> Result<(), ApiError>;
    /// Whether the connection's credential is still accepted, asked after a call failed with an
    /// `Auth` error: one cheap canary call (Plex documents `GET /mdm/v1/tenants` as the one).
    /// `Ok(true)` means the key works, so that 401 was a passing fault; `Ok(false)` that it is
    /// refused too. Where the client already confirmed the 401 itself (an OAuth2 connection
    /// fetches a new token and sends once more), this answers `Ok(false)` without a call. An error
    /// means the canary could not tell (a transient failure, a rate limit).
    async fn credentials_work(&self) -> Result<bool, ApiError>;
}

/// The API handles of one connection: the order worker serves many connections from one Lambda, so
/// it asks for a connection's BigCommerce and Plex clients per message.
///
/// Implementations build each client from the connection's profile and secrets and cache it per
/// container (building one reads Secrets Manager), so asking again for the same connection is cheap.
/// Errors say why the client cannot be had: `Data` for a missing or malformed secret (an operator
/// must fix it), `Transient` when the secret store could not be reached.
#[async_trait]
pub trait ConnectionApis: Send + Sync {
    async fn web_orders(&self, profile: &ConnectionProfile) -> Result<Arc<dyn WebOrderSource>, ApiError>;
    async fn sales_orders(&self, profile: &ConnectionProfile) -> Result<Arc<dyn SalesOrderSink>, ApiError>;
}
