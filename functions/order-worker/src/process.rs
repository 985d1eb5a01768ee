//! One order message, start to finish.
//!
//! The steps, each an audit event on the order's record (`{connection}#bc-order#{id}`):
//! 1. Load the connection's profile.
//! 2. Take the order's ledger lease (a conditional write): one worker per order at a time.
//! 3. Re-read the order from BigCommerce. The message is only a pointer; its scope is never trusted.
//!    A webhook or sweep message that arrived more than [`REPEAT_MARGIN`] before the last concluded
//!    read (ledger `read_at`) is a repeat of what that read saw: it is acknowledged as a duplicate
//!    without reading again (never a replay, which asks for a fresh read). A retry of a message
//!    that arrived before a read an earlier attempt made and was retried after (a Plex fault, say)
//!    writes what that read returned (ledger `retained_read`) instead of reading again. A
//!    webhook's read first waits out the rest of the whole second its message arrived in.
//! 4. Skip statuses the connection does not sync (never downgrading a committed order: a cancellation
//!    after the commit needs a person).
//! 5. Ack duplicates (content hash equals the committed one) and stale reads (stamped before the
//!    committed version) without touching Plex. Content changed within the committed version's
//!    second has the same `date_modified` but another hash, so it is written.
//! 6. Resolve the customer and the parts (id map first) and plan the sales order; report every
//!    mapping gap at once.
//! 7. Write: update an existing order (releases, added lines) or create one. Before a create the
//!    ledger says `Writing`; an earlier attempt that left the entry anything but `Pending` may have
//!    reached Plex (a timeout, a crash, a failure half-way through the REST chain), so the order is
//!    first looked up by its reference and completed instead of created when found.
//! 8. Commit the Plex id, the draft and the version hash to the ledger under the lease.
//!
//! The read (its time and the `date_modified` it saw) is saved in the ledger only by an attempt
//! that concludes (commits or acknowledges); a retry reads again, so its read counts for nothing.
//!
//! Every path ends by saving the ledger entry with the lease released, so the next message for the
//! order never waits for a lease to expire. A transient failure releases the lease and retries; a
//! permanent one is audited, alerted once per cause and acknowledged.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::alert::{Alert, AlertOutcome};
use domain::audit::{AuditEvent, Outcome, Stage};
use domain::connection::ConnectionProfile;
use domain::hold::Hold;
use domain::ledger::{LedgerEntry, LedgerStatus, MODIFIED_RESOLUTION, RetainedRead};
use domain::message::{MessageSource, OrderMessage};
use domain::open_order::OpenOrder;
use domain::order::{CommittedOrder, DraftChanges, MappingGap, PlexOrderRef, SalesOrderDraft, WebOrder};
use domain::ports::{ApiError, SalesOrderSink};
use domain::{ErrorClass, PortError, RecordKey, System};
use serde_json::json;
use tokio::time::Instant;

use orders::StepError;

use crate::{Disposition, Worker, causes};

/// How much earlier than the last concluded BigCommerce read a message must have arrived to be
/// taken for a repeat of what that read saw: `received_at` (the receiver's or sweep's clock) and
/// `read_at` (the worker's) are compared across machines, whose clocks Lambda keeps within
/// milliseconds of each other; a quarter of a second leaves room for far worse. (The change a
/// message announces happened before it arrived, so a read sent after the arrival saw it.)
pub const REPEAT_MARGIN: chrono::Duration = chrono::Duration::milliseconds(250);

/// The invocation's deadline came before the message was done: whatever the attempt was waiting
/// for was dropped. Everything it wrote is safe to find again (the ledger says `Writing` before any
/// Plex create, so the next delivery looks the order up and completes it), so the message goes back
/// to the queue; the lease it may hold expires before the queue's visibility timeout brings the
/// message back.
fn out_of_time() -> Disposition {
    let reason = format!(
        "handed back {} s before the invocation's deadline, unfinished; the next delivery carries on from what \
         reached Plex",
        crate::DEADLINE_RESERVE.as_secs()
    );
    Disposition::Retry { class: ErrorClass::Transient, reason, retry_after: None }
}

impl Worker {
    /// Processes one delivery of `message`; `attempt` is SQS's receive count (1 the first time).
    /// Never panics and never returns an error: whatever happens is an audit event and a disposition.
    #[tracing::instrument(name = "process_order", skip_all, fields(order = %message.order, attempt))]
    pub async fn process(&self, message: &OrderMessage, attempt: u32, now: DateTime<Utc>) -> Disposition {
        let mut run = Run::new(self, message, attempt, now);
        let mut disposition = match self.cutoff() {
            // Not started before the cutoff: back to the queue untouched, as if never received.
            Some(cutoff) if tokio::time::Instant::now() >= cutoff => {
                tracing::info!("the invocation's deadline is near; the message goes back unprocessed");
                return Disposition::Retry {
                    class: ErrorClass::Transient,
                    reason: "not started before the invocation's deadline".to_owned(),
                    retry_after: None,
                };
            }
            Some(cutoff) => match tokio::time::timeout_at(cutoff, run.run()).await {
                Ok(disposition) => disposition,
                Err(_) => {
                    let disposition = out_of_time();
                    self.in_time("auditing the hand-back", run.record_hand_back(&disposition)).await;
                    disposition
                }
            },
            None => run.run().await,
        };
        if run.audit_failed && !disposition.is_retry() {
            // Guarantee 4 (nothing dropped silently) needs the event stored; the ledger makes the
            // repeat cheap (a duplicate or the same parked outcome), so go round again.
            disposition = Disposition::Retry {
                class: ErrorClass::Transient,
                reason: "the audit log did not store every event of this attempt".to_owned(),
                retry_after: None,
            };
        }
        if let Disposition::Retry { class, reason, .. } = &disposition
            && self.settings.is_last_receive(attempt)
        {
            self.in_time("auditing the dead letter", run.dead_lettered(*class, reason)).await;
        }
        match &disposition {
            Disposition::Done(outcome) => tracing::info!(
                outcome = %outcome,
                bigcommerce_calls = run.calls.bigcommerce,
                plex_calls = run.calls.plex,
                "order processed"
            ),
            Disposition::Retry { class, reason, .. } => {
                tracing::warn!(error.class = %class, error.message = %reason, "order goes back to the queue");
            }
        }
        disposition
    }

    /// Audits and alerts a record of `message` that goes back to the queue unprocessed on its last
    /// receive (held back behind an earlier message of its order, which failed with `class`): the
    /// queue dead-letters it.
    pub(crate) async fn dead_lettered_unprocessed(
        &self,
        message: &OrderMessage,
        attempt: u32,
        now: DateTime<Utc>,
        class: ErrorClass,
        reason: &str,
    ) {
        Run::new(self, message, attempt, now).dead_lettered(class, reason).await;
    }
}

/// API calls made for one message (what the rate budgets are spent on).
#[derive(Debug, Default, Clone, Copy)]
struct Calls {
    bigcommerce: u32,
    plex: u32,
}

/// How the sales order came to be what Plex holds, for the `Written` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteKind {
    Created,
    /// An earlier, in-doubt create was found by its reference and completed.
    Adopted,
    Updated,
}

impl WriteKind {
    fn as_str(self) -> &'static str {
        match self {
            WriteKind::Created => "created",
            WriteKind::Adopted => "adopted",
            WriteKind::Updated => "updated",
        }
    }
}

/// One attempt at one message.
struct Run<'a> {
    worker: &'a Worker,
    message: &'a OrderMessage,
    key: RecordKey,
    /// The connection's name in alert subjects (display name once the profile is loaded).
    label: String,
    attempt: u32,
    now: DateTime<Utc>,
    calls: Calls,
    audit_failed: bool,
    /// Audit events are stamped `now` plus the time elapsed in this attempt, strictly increasing,
    /// so the audit table (sorted by time) shows an attempt's steps in the order they happened.
    started: Instant,
    last_at: Option<DateTime<Utc>>,
    /// The connection's Plex client, once the run has it: the credentials canary after a Plex 401
    /// asks it.
    sink: Option<Arc<dyn SalesOrderSink>>,
    /// This attempt's BigCommerce read, saved with the entry only when the attempt concludes.
    read: Option<Read>,
    /// The order that read returned, kept in the entry if the attempt is retried.
    fetched: Option<WebOrder>,
}

impl<'a> Run<'a> {
    fn new(worker: &'a Worker, message: &'a OrderMessage, attempt: u32, now: DateTime<Utc>) -> Run<'a> {
        Run {
            worker,
            message,
            key: message.order.record_key(),
            label: message.order.connection.to_string(),
            attempt,
            now,
            calls: Calls::default(),
            audit_failed: false,
            started: Instant::now(),
            last_at: None,
            sink: None,
            read: None,
            fetched: None,
        }
    }
}

/// A BigCommerce read of the order.
#[derive(Debug, Clone, Copy)]
struct Read {
    /// Our clock when the request was sent.
    at: DateTime<Utc>,
    /// The order's `date_modified`; `None` when the store has no such order.
    modified: Option<DateTime<Utc>>,
}

impl Run<'_> {
    async fn run(&mut self) -> Disposition {
        let Some(profile) = (match self.profile().await {
            Ok(profile) => profile,
            Err(disposition) => return disposition,
        }) else {
            return self.connection_not_configured().await;
        };
        self.label = profile.display_name.clone().unwrap_or_else(|| profile.id.to_string());
        if let Some(parked_at) = profile.parked_at {
            let message = format!("connection removed at {parked_at}: the order is not processed");
            self.record(self.event(Stage::Received, Outcome::Skipped).with_message(message)).await;
            return Disposition::Done(Outcome::Skipped);
        }

        let mut entry = match self.lease().await {
            Ok(entry) => entry,
            Err(disposition) => return disposition,
        };

        if let Some(read_at) = self.read_since_arrival(&entry) {
            return self.repeat(entry, read_at).await;
        }
        let retained = self.retained_since_arrival(&entry);
        let (order, read_at) = match &retained {
            Some(retained) => (retained.order.clone(), retained.at),
            None => {
                self.wait_out_the_change_second().await;
                let read_at = self.clock();
                match self.fetch(&profile).await {
                    Ok(Some(order)) => (order, read_at),
                    Ok(None) => {
                        self.read = Some(Read { at: read_at, modified: None });
                        return self.not_in_store(entry).await;
                    }
                    Err(error) => return self.api_failed(entry, Stage::Fetched, System::Bigcommerce, error).await,
                }
            }
        };
        // Whatever follows, this state has been read; it is saved with the entry if the attempt
        // concludes (`Run::conclude`, `Run::commit`), for the reconciliation sweep and for repeats,
        // and kept in it if the attempt is retried (`Run::retry`).
        self.read = Some(Read { at: read_at, modified: Some(order.date_modified) });
        self.fetched = Some(order.clone());
        self.record(self.event(Stage::Fetched, Outcome::Ok).with_detail(json!({
            "status": order.status,
            "status_id": order.status_id,
            "lines": order.lines.len(),
            "date_modified": order.date_modified,
            "scope": self.message.scope,
            "delivery": self.message.delivery,
            "source": self.message.source,
            "retained_read_at": retained.as_ref().map(|retained| retained.at),
        })))
        .await;

        if !profile.orders.syncs_status(order.status_id) {
            return self.not_synced(entry, &order).await;
        }
        // Until Plex holds it, the order's units are BigCommerce's alone: the stock flow deducts
        // them from Plex's on-hand. Recorded before any Plex write, so no push can miss them.
        if entry.committed.is_none() {
            let open = OpenOrder::of(self.message.order.clone(), &order, read_at);
            if let Err(source) = self.worker.ports.open_orders.open(&open).await {
                let error = StepError::Port { context: "recording the order as open", source };
                return self.port_failed(Some(entry), Stage::Fetched, error).await;
            }
        }
        let content_hash = order.content_hash();
        if entry.committed.is_some() && entry.version_hash.as_deref() == Some(content_hash.as_str()) {
            self.record(
                self.event(Stage::Fetched, Outcome::Duplicate)
                    .with_message("unchanged since the committed version")
                    .with_detail(json!({"plex_order_id": entry.plex_order_id, "version_hash": content_hash})),
            )
            .await;
            // Committed again: a record parked or flagged after its commit is back in step with Plex.
            return self.conclude(entry, LedgerStatus::Committed, Outcome::Duplicate).await;
        }
        if let Some(committed_modified) = entry.source_modified
            && order.date_modified < committed_modified
        {
            self.record(self.event(Stage::Fetched, Outcome::Skipped).with_message(format!(
                "older than the committed version (modified {}, committed version modified {committed_modified})",
                order.date_modified
            )))
            .await;
            let status = entry.status;
            return self.conclude(entry, status, Outcome::Skipped).await;
        }

        let sink = match self.worker.ports.apis.sales_orders(&profile).await {
            Ok(sink) => sink,
            Err(error) => return self.api_failed(entry, Stage::Mapped, System::Plex, error).await,
        };
        self.sink = Some(sink.clone());
        let draft = match self.plan(&profile, &order, sink.as_ref()).await {
            Ok(Ok(draft)) => {
                self.unhold(&mut entry).await;
                draft
            }
            Ok(Err(gaps)) => return self.needs_mapping(entry, &order, gaps).await,
            Err(StepError::Api(error)) => return self.api_failed(entry, Stage::Mapped, System::Plex, error).await,
            Err(error @ StepError::Port { .. }) => return self.port_failed(Some(entry), Stage::Mapped, error).await,
        };

        match entry.committed.clone() {
            Some(committed) => self.update(entry, &order, committed, draft, sink.as_ref()).await,
            None => self.create(entry, &order, draft, sink.as_ref()).await,
        }
    }

    // --- Steps ---

    async fn profile(&mut self) -> Result<Option<ConnectionProfile>, Disposition> {
        match self.worker.ports.connections.get(&self.message.order.connection).await {
            Ok(profile) => Ok(profile),
            Err(source) => Err(self
                .port_failed(
                    None,
                    Stage::Received,
                    StepError::Port { context: "reading the connection profile", source },
                )
                .await),
        }
    }

    async fn lease(&mut self) -> Result<LedgerEntry, Disposition> {
        let settings = &self.worker.settings;
        let acquired = self
            .worker
            .ports
            .ledger
            .acquire(&self.message.order, &self.worker.holder, self.now, settings.lease_for)
            .await;
        match acquired {
            Ok(entry) => Ok(entry),
            Err(PortError::Conflict(reason)) => {
                let message = "another worker holds this order's lease; the queue delivers the message again";
                self.record(self.event(Stage::Received, Outcome::Retried).with_error(ErrorClass::Transient, message))
                    .await;
                Err(Disposition::Retry { class: ErrorClass::Transient, reason, retry_after: None })
            }
            Err(source) => Err(self
                .port_failed(None, Stage::Received, StepError::Port { context: "taking the ledger lease", source })
                .await),
        }
    }

    /// A webhook announces a change stamped with the whole second it happened in, at or before the
    /// message arrived. A read sent within that second may predate a second change stamped the same
    /// second, which only a read sent after the second can rule out: the reconciliation would queue
    /// one ([`LedgerEntry::has_seen`]), a second BigCommerce read of the order. Waiting out the rest
    /// of the second (less than one; nothing when the message waited in the queue that long) makes
    /// this one read enough. Sweeps queue orders whose change has settled, and a replay is an
    /// operator's read, so neither waits.
    async fn wait_out_the_change_second(&self) {
        if self.message.source != MessageSource::Webhook {
            return;
        }
        let arrived = self.message.received_at;
        let arrival_second = DateTime::from_timestamp(arrived.timestamp(), 0).unwrap_or(arrived);
        if let Ok(wait) = (arrival_second + MODIFIED_RESOLUTION - self.clock()).to_std() {
            tokio::time::sleep(wait).await;
        }
    }

    async fn fetch(&mut self, profile: &ConnectionProfile) -> Result<Option<WebOrder>, ApiError> {
        let source = self.worker.ports.apis.web_orders(profile).await?;
        self.calls.bigcommerce += 1;
        source.order(self.message.order.order_id).await
    }

    /// Resolves the customer and parts and maps the order; the inner error lists the mapping gaps.
    async fn plan(
        &mut self,
        profile: &ConnectionProfile,
        order: &WebOrder,
        sink: &dyn SalesOrderSink,
    ) -> Result<Result<SalesOrderDraft, Vec<MappingGap>>, StepError> {
        let resolved = orders::resolve(
            self.worker.ports.id_map.as_ref(),
            sink,
            &profile.id,
            order,
            &profile.orders,
            &mut self.calls.plex,
        )
        .await?;
        let planned = domain::order::plan_sales_order(
            order,
            &profile.orders,
            resolved.customer.as_deref().map_err(Clone::clone),
            &resolved.parts,
        );
        if let Ok(draft) = &planned {
            self.record(self.event(Stage::Mapped, Outcome::Ok).with_detail(json!({
                "customer_id": draft.customer_id,
                "lines": draft.lines.len(),
                "plex_lookups": self.calls.plex,
            })))
            .await;
        }
        Ok(planned)
    }

    async fn update(
        &mut self,
        entry: LedgerEntry,
        order: &WebOrder,
        committed: CommittedOrder,
        draft: SalesOrderDraft,
        sink: &dyn SalesOrderSink,
    ) -> Disposition {
        let changes = DraftChanges::between(&committed.draft, &draft);
        let plex_name = committed.plex.number.clone().unwrap_or_else(|| committed.plex.id.clone());
        if !changes.needs_attention.is_empty() {
            let summary = changes.needs_attention.join("; ");
            let message = format!("Plex order {plex_name} cannot take this change automatically: {summary}");
            self.record(
                self.event(Stage::Written, Outcome::NeedsAttention)
                    .with_error(ErrorClass::Data, &message)
                    .with_detail(json!({"plex_order_id": committed.plex.id, "changes": changes})),
            )
            .await;
            let order_id = order.id;
            let reason = causes::normalise(&summary);
            let connection = &self.message.order.connection;
            self.alert(
                format!("order-change:{reason}"),
                format!("Orders changed in a way Plex cannot take: {reason}"),
                format!(
                    "Order {order_id} was changed in BigCommerce after it became Plex sales order {plex_name}. \
                     {message}.\n\nPlex is unchanged. Orders changed the same way later in this alert window \
                     are not e-mailed; each gets an audit event naming this alert. List them all with \
                     `millwright failures --connection {connection} --outcome needs-attention`. Change each \
                     Plex order by hand, then replay them (`millwright replay --connection {connection} \
                     --outcome needs-attention`) so the ledger records the new versions."
                ),
            )
            .await;
            return self.conclude(entry, LedgerStatus::NeedsAttention, Outcome::NeedsAttention).await;
        }
        let mut plex = committed.plex;
        if !changes.release_updates.is_empty() {
            self.calls.plex += 1;
            if let Err(error) = sink.update_releases(&plex, &changes.release_updates).await {
                return self.api_failed(entry, Stage::Written, System::Plex, error).await;
            }
        }
        if !changes.added_lines.is_empty() {
            self.calls.plex += 1;
            plex = match sink.complete(&plex, &draft).await {
                Ok(plex) => plex,
                Err(error) => return self.api_failed(entry, Stage::Written, System::Plex, error).await,
            };
        }
        self.commit(entry, order, draft, plex, WriteKind::Updated, Some(&changes)).await
    }

    async fn create(
        &mut self,
        mut entry: LedgerEntry,
        order: &WebOrder,
        draft: SalesOrderDraft,
        sink: &dyn SalesOrderSink,
    ) -> Disposition {
        // `Pending` is only ever written by `acquire` for a new entry; every other status without a
        // commit may follow an attempt that reached Plex (a `Writing` later overwritten by `Parked`,
        // say), so anything else is looked up first. It costs one call off the happy path.
        let look_up_first = entry.status != LedgerStatus::Pending;
        entry.status = LedgerStatus::Writing;
        entry.updated_at = self.now;
        if let Err(source) = self.worker.ports.ledger.save(&entry, &self.worker.holder, false).await {
            // Nothing was sent to Plex, so nothing is in doubt.
            let error = StepError::Port { context: "marking the order as being written", source };
            return self.port_failed(None, Stage::Written, error).await;
        }
        let mut kind = WriteKind::Created;
        let written = async {
            if look_up_first {
                self.calls.plex += 1;
                if let Some(existing) = sink.find_by_po(&draft.po_number).await? {
                    kind = WriteKind::Adopted;
                    self.calls.plex += 1;
                    return sink.complete(&existing, &draft).await;
                }
            }
            self.calls.plex += 1;
            sink.create(&draft).await
        }
        .await;
        match written {
            Ok(plex) => self.commit(entry, order, draft, plex, kind, None).await,
            // The entry stays `Writing` on a transient failure, so the next attempt looks first.
            Err(error) => self.api_failed(entry, Stage::Written, System::Plex, error).await,
        }
    }

    async fn commit(
        &mut self,
        mut entry: LedgerEntry,
        order: &WebOrder,
        draft: SalesOrderDraft,
        plex: PlexOrderRef,
        kind: WriteKind,
        changes: Option<&DraftChanges>,
    ) -> Disposition {
        let lines = draft.lines.len();
        entry.status = LedgerStatus::Committed;
        entry.plex_order_id = Some(plex.id.clone());
        entry.version_hash = Some(order.content_hash());
        entry.source_modified = Some(order.date_modified);
        entry.committed = Some(CommittedOrder { draft, plex: plex.clone() });
        entry.updated_at = self.now;
        self.note_read(&mut entry);
        let plex_name = plex.number.clone().unwrap_or_else(|| plex.id.clone());
        if let Err(error) = self.worker.ports.ledger.save(&entry, &self.worker.holder, true).await {
            let message = format!(
                "Plex order {plex_name} was {} but the ledger did not record it ({error}); the next attempt \
                 finds it by its reference",
                kind.as_str()
            );
            self.record(self.event(Stage::Written, Outcome::Retried).with_error(error.class(), &message)).await;
            return Disposition::Retry { class: error.class(), reason: message, retry_after: None };
        }
        self.close_open_order().await;
        self.record(
            self.event(Stage::Written, Outcome::Ok)
                .with_message(format!("{} Plex sales order {plex_name}", kind.as_str()))
                .with_detail(json!({
                    "plex_order_id": plex.id,
                    "plex_order_number": plex.number,
                    "action": kind.as_str(),
                    "adopted": kind == WriteKind::Adopted,
                    "lines": lines,
                    "plex_calls": self.calls.plex,
                    "bigcommerce_calls": self.calls.bigcommerce,
                    "changes": changes,
                })),
        )
        .await;
        Disposition::Done(Outcome::Ok)
    }

    /// The last concluded read, when this message arrived more than [`REPEAT_MARGIN`] before it:
    /// that read was sent after whatever change the message announces, so it saw that state. A
    /// replay is always read again (an operator asked for it).
    fn read_since_arrival(&self, entry: &LedgerEntry) -> Option<DateTime<Utc>> {
        if self.message.source == MessageSource::Replay {
            return None;
        }
        entry.read_at.filter(|read_at| self.message.received_at + REPEAT_MARGIN < *read_at)
    }

    /// The read an earlier attempt made and was retried after, when this message arrived more
    /// than [`REPEAT_MARGIN`] before it: that read saw the state the message announces, so the
    /// retry writes it without reading again ([`RetainedRead`]). A replay always reads.
    fn retained_since_arrival(&self, entry: &LedgerEntry) -> Option<RetainedRead> {
        if self.message.source == MessageSource::Replay {
            return None;
        }
        entry.retained_read.clone().filter(|retained| self.message.received_at + REPEAT_MARGIN < retained.at)
    }

    /// Audits the hand-back of a message the invocation's deadline cut off ([`out_of_time`]).
    async fn record_hand_back(&mut self, disposition: &Disposition) {
        if let Disposition::Retry { class, reason, .. } = disposition {
            self.record(self.event(Stage::Received, Outcome::Retried).with_error(*class, reason)).await;
        }
    }

    // --- Endings that write nothing to Plex ---

    /// A repeat of what the last concluded read saw: acknowledged with the entry as it is.
    async fn repeat(&mut self, entry: LedgerEntry, read_at: DateTime<Utc>) -> Disposition {
        self.record(
            self.event(Stage::Fetched, Outcome::Duplicate)
                .with_message(format!(
                    "not read again: the message arrived at {}, before the read of {read_at}, which saw its state",
                    self.message.received_at
                ))
                .with_detail(json!({
                    "received_at": self.message.received_at,
                    "read_at": read_at,
                    "scope": self.message.scope,
                    "delivery": self.message.delivery,
                    "source": self.message.source,
                })),
        )
        .await;
        let status = entry.status;
        self.conclude(entry, status, Outcome::Duplicate).await
    }

    async fn connection_not_configured(&mut self) -> Disposition {
        let connection = &self.message.order.connection;
        let message = format!("connection {connection} not configured (no profile in the state table)");
        self.record(self.event(Stage::Received, Outcome::Failed).with_error(ErrorClass::Data, &message)).await;
        self.alert(
            "connection-not-configured".to_owned(),
            format!("Orders arrive for connection {connection}, which is not configured"),
            format!(
                "Order {} was queued for connection {connection}, but the state table has no profile for it. \
                 Install the connection (millwright CLI), then replay its failed orders.",
                self.message.order.order_id
            ),
        )
        .await;
        Disposition::Done(Outcome::Failed)
    }

    async fn not_in_store(&mut self, mut entry: LedgerEntry) -> Disposition {
        self.unhold(&mut entry).await;
        let order_id = self.message.order.order_id;
        if let Some(plex_name) = plex_name(&entry) {
            let message =
                format!("order {order_id} no longer exists in BigCommerce; Plex order {plex_name} is unchanged");
            return self.needs_attention_after_commit(entry, message).await;
        }
        self.record(
            self.event(Stage::Fetched, Outcome::Skipped)
                .with_message(format!("order {order_id} not found in the store")),
        )
        .await;
        self.conclude(entry, LedgerStatus::Skipped, Outcome::Skipped).await
    }

    async fn not_synced(&mut self, mut entry: LedgerEntry, order: &WebOrder) -> Disposition {
        self.unhold(&mut entry).await;
        if let Some(plex_name) = plex_name(&entry) {
            let message = format!(
                "order was {} in BigCommerce (status {}); Plex order {plex_name} is unchanged",
                order.status.to_lowercase(),
                order.status_id
            );
            return self.needs_attention_after_commit(entry, message).await;
        }
        self.record(
            self.event(Stage::Fetched, Outcome::Skipped)
                .with_message(format!("status {:?} ({}) is not synced", order.status, order.status_id)),
        )
        .await;
        self.conclude(entry, LedgerStatus::Skipped, Outcome::Skipped).await
    }

    /// A committed order (or one whose create is in doubt) left the synced world: Plex is never
    /// changed automatically, a person decides.
    async fn needs_attention_after_commit(&mut self, entry: LedgerEntry, message: String) -> Disposition {
        self.record(
            self.event(Stage::Fetched, Outcome::NeedsAttention)
                .with_error(ErrorClass::Data, &message)
                .with_detail(json!({"plex_order_id": entry.plex_order_id})),
        )
        .await;
        let order_id = self.message.order.order_id;
        let reason = causes::normalise(&message);
        let connection = &self.message.order.connection;
        self.alert(
            format!("order-status:{reason}"),
            format!("Orders need attention: {reason}"),
            format!(
                "Order {order_id}: {message}.\n\nCancel or change the Plex order by hand if it should follow \
                 BigCommerce. Orders in the same state later in this alert window are not e-mailed; each gets \
                 an audit event naming this alert. List them all with `millwright failures --connection \
                 {connection} --outcome needs-attention`."
            ),
        )
        .await;
        self.conclude(entry, LedgerStatus::NeedsAttention, Outcome::NeedsAttention).await
    }

    /// Holds the order for its gaps (the order sweep releases it once they are filled), then alerts
    /// once per gap. The hold is stored before the ledger says `held`, so a held entry always has one.
    async fn needs_mapping(&mut self, mut entry: LedgerEntry, order: &WebOrder, gaps: Vec<MappingGap>) -> Disposition {
        let listed = gaps.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
        let hold = Hold { order: self.message.order.clone(), gaps: gaps.clone(), held_at: self.tick() };
        if let Err(source) = self.worker.ports.holds.hold(&hold).await {
            let error = StepError::Port { context: "holding the order for its mappings", source };
            return self.port_failed(Some(entry), Stage::Mapped, error).await;
        }
        entry.held = true;
        self.record(
            self.event(Stage::Mapped, Outcome::NeedsMapping)
                .with_error(ErrorClass::Data, format!("order {} needs mapping: {listed}", order.id))
                .with_detail(json!({"gaps": gaps, "held_at": hold.held_at})),
        )
        .await;
        for gap in &gaps {
            self.alert(
                gap.cause(),
                format!("Order {} needs mapping: {gap}", order.id),
                format!(
                    "Order {} cannot become a Plex sales order: {gap}.\n\nOther orders with the same gap are held \
                     too; this alert is sent once per alert window. Create the value in Plex, or map it with \
                     `millwright map`: the order sweep then releases every order held for it (a later change \
                     to the order also retries it).",
                    order.id
                ),
            )
            .await;
        }
        self.conclude_unless_in_doubt(entry, LedgerStatus::NeedsMapping, Outcome::NeedsMapping).await
    }

    /// The order no longer waits for a mapping (it mapped, was cancelled or is gone): drop its
    /// hold. A failure is only logged: the entry stays `held`, and the sweep releases the leftover
    /// hold once it finds its gaps filled (queueing the order once more, which the ledger makes a no-op).
    async fn unhold(&mut self, entry: &mut LedgerEntry) {
        if !entry.held {
            return;
        }
        match self.worker.ports.holds.release(&self.message.order, None).await {
            Ok(_) => entry.held = false,
            Err(error) => {
                tracing::warn!(error.message = %error, error.cause_chain = ?error, "hold not released; the sweep drops it");
            }
        }
    }

    // --- Failures ---

    /// An API call failed: its class decides retry (release the lease), park or fail.
    async fn api_failed(&mut self, entry: LedgerEntry, stage: Stage, system: System, error: ApiError) -> Disposition {
        let system_name = match system {
            System::Bigcommerce => "BigCommerce",
            System::Plex => "Plex",
            System::Monday => "monday.com",
        };
        let order_id = self.message.order.order_id;
        let connection = self.message.order.connection.clone();
        // A Plex 401 in the middle of a chain whose key worked a moment ago is often a passing
        // fault; one canary call tells that apart from a key that really expired.
        let mut confirmed = "";
        if system == System::Plex && error.class == ErrorClass::Auth {
            match self.plex_key_check().await {
                KeyCheck::Works => {
                    let message = format!(
                        "{}; the key still works (the credentials check succeeded right after), so the 401 is \
                         treated as transient",
                        error.message
                    );
                    return self.retry(entry, stage, ErrorClass::Transient, message, None).await;
                }
                KeyCheck::CannotTell(check) => {
                    let message = format!(
                        "{}; the credentials check could not tell ({}), so retrying",
                        error.message, check.message
                    );
                    return self.retry(entry, stage, check.class, message, check.retry_after).await;
                }
                KeyCheck::Refused => confirmed = " (the credentials check was refused too)",
                KeyCheck::NotAsked => {}
            }
        }
        match error.class {
            ErrorClass::Transient | ErrorClass::RateLimited => {
                self.retry(entry, stage, error.class, error.message, error.retry_after).await
            }
            ErrorClass::Auth | ErrorClass::Permission => {
                let headline = match (system, error.class) {
                    (System::Bigcommerce, ErrorClass::Auth) => "BigCommerce rejected the access token",
                    (_, ErrorClass::Auth) => "Plex key expired or not subscribed",
                    (System::Bigcommerce, _) => "BigCommerce API account lacks a scope",
                    (_, _) => "Plex integration account lacks a role",
                };
                let message = format!("{headline}: {}{confirmed}", error.message);
                self.record(self.event(stage, Outcome::Parked).with_error(error.class, &message)).await;
                self.alert(
                    format!("{}-{}", system.as_str(), error.class.as_str()),
                    headline.to_owned(),
                    format!(
                        "{message}.\n\nOrder {order_id} is parked, and so is every order of this connection until \
                         this is fixed in {system_name}; `millwright failures --connection {connection} --outcome \
                         parked` lists them. Then replay the parked orders: `millwright replay --connection \
                         {connection} --outcome parked`."
                    ),
                )
                .await;
                self.conclude(entry, LedgerStatus::Parked, Outcome::Parked).await
            }
            ErrorClass::Data => {
                self.record(self.event(stage, Outcome::Failed).with_error(ErrorClass::Data, &error.message)).await;
                // The cause is the refusal, not the order: the same refusal of other orders in this
                // window is grouped under this alert, each with an audit event saying so.
                let cause = causes::rejection(system, &error.message);
                let reason = causes::normalise(&error.message);
                self.alert(
                    cause,
                    if stage == Stage::Written {
                        format!("Orders rejected by {system_name}: {reason}")
                    } else {
                        format!("Orders failed at {system_name}: {reason}")
                    },
                    format!(
                        "{system_name} refused order {order_id}: {}.\n\nOrders refused the same way later in this \
                         alert window are not e-mailed; each gets an audit event naming this alert. List every \
                         affected order with `millwright failures --connection {connection} --outcome failed`. \
                         Fix the value it names, then replay them: `millwright replay --connection {connection} \
                         --outcome failed` (or one order: `millwright replay --connection {connection} --order \
                         {order_id}`).",
                        error.message
                    ),
                )
                .await;
                self.conclude(entry, LedgerStatus::NeedsAttention, Outcome::Failed).await
            }
        }
    }

    /// Audits a failure that may pass by itself, releases the lease and sends the message back.
    async fn retry(
        &mut self,
        mut entry: LedgerEntry,
        stage: Stage,
        class: ErrorClass,
        reason: String,
        retry_after: Option<std::time::Duration>,
    ) -> Disposition {
        if let (Some(read), Some(order)) = (self.read, self.fetched.take()) {
            entry.retained_read = Some(RetainedRead { at: read.at, order });
        }
        self.record(
            self.event(stage, Outcome::Retried)
                .with_error(class, &reason)
                .with_detail(json!({"retry_after_seconds": retry_after.map(|wait| wait.as_secs_f64())})),
        )
        .await;
        self.release(entry).await;
        Disposition::Retry { class, reason, retry_after }
    }

    /// Asks Plex whether the connection's key still works, once, after a call failed with a 401.
    async fn plex_key_check(&mut self) -> KeyCheck {
        let Some(sink) = self.sink.clone() else {
            // No client yet: the 401 came from building it (its secret), nothing to ask.
            return KeyCheck::NotAsked;
        };
        self.calls.plex += 1;
        match sink.credentials_work().await {
            Ok(true) => KeyCheck::Works,
            Ok(false) => KeyCheck::Refused,
            Err(error) if error.class.is_retryable() => KeyCheck::CannotTell(error),
            // A check that fails for good says nothing better than the 401 did.
            Err(_) => KeyCheck::Refused,
        }
    }

    /// The record goes back to the queue on its last receive, so the queue moves it to the
    /// dead-letter queue: audited as such (so `millwright failures` lists it) and alerted once per
    /// failure class and window, naming how to replay it.
    async fn dead_lettered(&mut self, class: ErrorClass, reason: &str) {
        let max = self.worker.settings.max_receive_count.unwrap_or(self.attempt);
        let message = format!(
            "handed back to the queue on its last receive ({} of {max}), so it moves to the dead-letter queue: \
             {reason}",
            self.attempt
        );
        self.record(self.event(Stage::Received, Outcome::DeadLettered).with_error(class, &message).with_detail(
            json!({
                "max_receive_count": max,
                "delivery": self.message.delivery,
                "scope": self.message.scope,
                "source": self.message.source,
            }),
        ))
        .await;
        let order_id = self.message.order.order_id;
        let connection = self.message.order.connection.clone();
        self.alert(
            format!("dead-lettered:{}", class.as_str()),
            format!("Orders dead-lettered after {max} receives ({class} failures)"),
            format!(
                "Order {order_id} went back to the queue on its last receive and is now in the dead-letter queue: \
                 {reason}.\n\nNothing retries a dead-lettered order by itself. Orders dead-lettered for the same \
                 kind of failure later in this alert window are not e-mailed; each gets an audit event naming \
                 this alert. List them all with `millwright failures --connection {connection} --outcome \
                 dead-lettered`. Once the cause has passed, move them back to the order queue with \
                 `millwright replay --dlq`."
            ),
        )
        .await;
    }

    /// The state table or audit log failed: infrastructure, so retry (ending in the DLQ if it lasts).
    async fn port_failed(&mut self, entry: Option<LedgerEntry>, stage: Stage, error: StepError) -> Disposition {
        let class = error.class();
        let message = error.to_string();
        self.record(self.event(stage, Outcome::Retried).with_error(class, &message)).await;
        if let Some(entry) = entry {
            self.release(entry).await;
        }
        Disposition::Retry { class: ErrorClass::Transient, reason: message, retry_after: None }
    }

    // --- Ledger ---

    /// Saves the entry with `status` and the lease released; the message is acknowledged only once
    /// the ledger holds the outcome.
    async fn conclude(&mut self, mut entry: LedgerEntry, status: LedgerStatus, outcome: Outcome) -> Disposition {
        entry.status = status;
        entry.updated_at = self.now;
        self.note_read(&mut entry);
        match self.worker.ports.ledger.save(&entry, &self.worker.holder, true).await {
            Ok(()) => {
                if matches!(status, LedgerStatus::Committed | LedgerStatus::Skipped) {
                    self.close_open_order().await;
                }
                Disposition::Done(outcome)
            }
            Err(error) => {
                let message = format!("recording {outcome} in the ledger: {error}");
                tracing::error!(error.message = %error, error.cause_chain = ?error, "ledger save failed");
                Disposition::Retry { class: error.class(), reason: message, retry_after: None }
            }
        }
    }

    /// The order is no longer open (Plex holds it, or it will never be written). Only logged when
    /// it fails: the stock flow also drops an open order whose ledger entry says so.
    async fn close_open_order(&self) {
        if let Err(error) = self.worker.ports.open_orders.close(&self.message.order).await {
            tracing::warn!(error.message = %error, "the order's open record was not removed");
        }
    }

    /// Puts this attempt's read into an entry about to be saved as its conclusion (never called
    /// on a retry: the read that retries is repeated, so it must not count).
    fn note_read(&self, entry: &mut LedgerEntry) {
        // Concluded: a retained read has served its retry (or this attempt read afresh).
        entry.retained_read = None;
        if let Some(read) = self.read {
            entry.read_at = entry.read_at.max(Some(read.at));
            entry.seen_modified = entry.seen_modified.max(read.modified);
        }
    }

    /// Like [`Run::conclude`], but an entry whose create is in doubt keeps `Writing`, so the marker
    /// that makes the next create look first is not lost to a skip or a mapping gap.
    async fn conclude_unless_in_doubt(
        &mut self,
        entry: LedgerEntry,
        status: LedgerStatus,
        outcome: Outcome,
    ) -> Disposition {
        let status = if entry.create_in_doubt() { LedgerStatus::Writing } else { status };
        self.conclude(entry, status, outcome).await
    }

    /// Gives the lease back unchanged, so a retry (or another worker) can start at once. A failure
    /// only costs waiting for the lease to expire.
    async fn release(&mut self, entry: LedgerEntry) {
        if let Err(error) = self.worker.ports.ledger.save(&entry, &self.worker.holder, true).await {
            tracing::warn!(error.message = %error, error.cause_chain = ?error, "lease not released; it expires by itself");
        }
    }

    // --- Audit and alerts ---

    fn event(&self, stage: Stage, outcome: Outcome) -> AuditEvent {
        AuditEvent::new(self.key.clone(), self.now, stage, outcome, self.worker.settings.actor.as_str())
            .with_attempt(self.attempt)
    }

    /// `now` plus the time elapsed in this attempt.
    fn clock(&self) -> DateTime<Utc> {
        self.now + chrono::Duration::from_std(self.started.elapsed()).unwrap_or_default()
    }

    fn tick(&mut self) -> DateTime<Utc> {
        let mut at = self.clock();
        if let Some(last) = self.last_at
            && at <= last
        {
            at = last + chrono::Duration::nanoseconds(1);
        }
        self.last_at = Some(at);
        at
    }

    async fn record(&mut self, mut event: AuditEvent) {
        event.at = self.tick();
        if let Err(error) = self.worker.ports.audit.append(&event).await {
            tracing::error!(
                error.message = %error,
                error.cause_chain = ?error,
                stage = ?event.stage,
                outcome = %event.outcome,
                "audit event not stored"
            );
            self.audit_failed = true;
        }
    }

    /// Sends an alert (once per cause per window, the alerter decides). A failed alert never fails the
    /// order: it is logged, and the audit event it was about is already stored.
    async fn alert(&mut self, cause: String, subject: String, body: String) {
        let alert = Alert {
            connection: self.message.order.connection.clone(),
            cause,
            subject: format!("[{}] {subject}", self.label),
            body,
            record: Some(self.key.clone()),
        };
        match self.worker.ports.alerter.alert(&alert).await {
            Ok(AlertOutcome::Sent { message_id }) => {
                self.record(
                    self.event(Stage::Alerted, Outcome::Ok)
                        .with_message(alert.subject)
                        .with_detail(json!({"cause": alert.cause, "message_id": message_id})),
                )
                .await;
            }
            Ok(AlertOutcome::Suppressed) => {
                tracing::info!(cause = %alert.cause, "alert suppressed: the same cause alerted inside the window");
                // The order's trail says which e-mail covers it, so the operator can find it from there.
                self.record(
                    self.event(Stage::Alerted, Outcome::Duplicate)
                        .with_message(format!(
                            "grouped under alert cause {:?}, already sent inside the alert window",
                            alert.cause
                        ))
                        .with_detail(json!({"cause": alert.cause, "grouped": true})),
                )
                .await;
            }
            Err(error) => {
                tracing::error!(
                    error.message = %error,
                    error.cause_chain = ?error,
                    cause = %alert.cause,
                    "alert not sent"
                );
            }
        }
    }
}

/// What the credentials canary said after a Plex 401.
enum KeyCheck {
    /// The key works: the 401 was a passing fault.
    Works,
    /// Refused too (or the client already confirmed its 401): the key is expired or revoked.
    Refused,
    /// The check itself failed in a way that may pass (a 503, a rate limit).
    CannotTell(ApiError),
    /// No Plex client to ask (the 401 came before one was built).
    NotAsked,
}

/// The Plex order an entry stands for, when Plex has (or may have) one: its number once committed,
/// the reference to look for while a create is in doubt.
fn plex_name(entry: &LedgerEntry) -> Option<String> {
    if let Some(committed) = &entry.committed {
        return Some(committed.plex.number.clone().unwrap_or_else(|| committed.plex.id.clone()));
    }
    entry.create_in_doubt().then(|| format!("with PO number {} (its create is in doubt)", entry.order.plex_reference()))
}
