//! The reconciliation sweep: orders the worker never saw, or saw in an older state, because a
//! webhook never arrived (a deactivated hook, an outage longer than BigCommerce's retries).
//!
//! Per connection, the store's order list is read by modification time over a window from the
//! stream's checkpoint (`orders:reconcile`) minus an overlap up to a moment ago (orders modified
//! in the last [`ReconcileSettings::settle`] are left to their webhooks, which are probably in
//! flight). It pages keyset-style (the next query starts at the last `date_modified` seen, ties by
//! page) so orders modified during the read cannot shift pages under it. An order is queued again
//! when no message for it is waiting and the worker has not seen this modification:
//! - a message queued after the worker's last concluded read (the order's queued mark, newer than
//!   `LedgerEntry::read_at`) is still waiting or being handled, and reads the order after this run
//!   listed it, so the order is left to it: a backlog is not queued a second time;
//! - otherwise the order is queued when the ledger has no entry for it and its status is synced, or
//!   when its entry has not seen this modification (`LedgerEntry::has_seen`: a state stamped later,
//!   or a read sent a whole second after the stamp, since `date_modified` has whole seconds).
//!
//! Only orders for which no message was queued since their modification count as having come
//! without a webhook (`ConnectionSweep::recovered`, the alert); an order whose webhook was queued but
//! whose read fell within the second of its modification is queued once more to read it again
//! (`ConnectionSweep::requeued`), and the sweep's own mark then covers it. The checkpoint moves only
//! after every order of the window that needed it was queued, and only from the revision that was
//! loaded.
//!
//! Cost: one BigCommerce call per page of up to 250 orders, whatever they are; nothing for Plex.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use domain::audit::{AuditEvent, Outcome, Stage};
use domain::order::OrderChange;
use domain::ports::WebOrderSource;
use domain::{Checkpoint, ConnectionProfile, LedgerEntry, OrderRef, RecordKey, RecordKind, SyncStream};
use serde_json::json;

use crate::{ConnectionSweep, Sweep};

/// The checkpoint stream of the reconciliation, per connection.
pub const STREAM: &str = "orders:reconcile";

#[derive(Debug, Clone)]
pub struct ReconcileSettings {
    /// How far back the first run of a connection looks (it has no checkpoint yet), beyond the
    /// overlap. None by default: orders from before the connection was swept are not "missed",
    /// and importing them could duplicate what the manufacturer entered by hand.
    pub first_lookback: Duration,
    /// How far each window reaches back behind the checkpoint, for orders whose modification
    /// became visible late.
    pub overlap: Duration,
    /// Orders modified more recently than this are left to their webhooks.
    pub settle: Duration,
    /// Orders per page (BigCommerce serves at most 250).
    pub page_size: u32,
    /// The most pages one run reads per connection; the rest waits for the next run.
    pub max_pages: u32,
}

impl Default for ReconcileSettings {
    fn default() -> Self {
        ReconcileSettings {
            first_lookback: Duration::zero(),
            overlap: Duration::minutes(5),
            settle: Duration::minutes(2),
            page_size: 250,
            max_pages: 20,
        }
    }
}

/// The most pages one backfill reads (100 000 orders at 250 a page).
const BACKFILL_MAX_PAGES: u32 = 400;

/// Who is looking for unseen orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Finder {
    Sweep,
    Backfill { dry_run: bool },
}

impl Finder {
    fn found_by(self) -> &'static str {
        match self {
            Finder::Sweep => "found by the reconciliation sweep",
            Finder::Backfill { .. } => "found by a backfill",
        }
    }
}

/// A window of the order list to read.
struct Window<'a> {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    max_pages: u32,
    /// The checkpoint whose orders at its watermark were handled already.
    covered: Option<&'a Checkpoint>,
}

/// What reading a window found.
struct Scanned {
    /// Every order listed, once each, in modification order.
    seen: Vec<OrderChange>,
    /// The window was read to its end.
    complete: bool,
    /// Every order that needed queueing was queued.
    all_queued: bool,
}

/// Why an order listed in the window is queued again.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Requeue {
    /// No message was queued for the order since this modification: its webhook never came.
    Missed(String),
    /// A message was queued since, but the worker's read of it was sent within the second of the
    /// modification, so it may predate a second change stamped the same second: read once more.
    SameSecond(String),
}

impl Requeue {
    fn reason(&self) -> &str {
        match self {
            Requeue::Missed(reason) | Requeue::SameSecond(reason) => reason,
        }
    }
}

/// Why an order listed in the window is queued again, or `None` when a queued message will read
/// it or the worker has seen it. `last_queued` is the order's queued mark.
fn reason_to_queue(
    change: &OrderChange,
    entry: Option<&LedgerEntry>,
    last_queued: Option<DateTime<Utc>>,
    profile: &ConnectionProfile,
    now: DateTime<Utc>,
) -> Option<Requeue> {
    let read_at = entry.and_then(|entry| entry.read_at);
    // Queued after the last concluded read: that message is waiting (or being retried) and reads
    // the order after now, so it sees this modification whatever it was.
    if let Some(queued) = last_queued
        && read_at.is_none_or(|read_at| read_at < queued)
    {
        return None;
    }
    match entry {
        None if profile.orders.syncs_status(change.status_id) => {
            Some(Requeue::Missed("no webhook brought it to the worker".to_owned()))
        }
        // Never seen and not an order this connection syncs (an incomplete checkout, say).
        None => None,
        Some(entry) if entry.has_seen(change.date_modified) => None,
        // A worker has it right now and reads its current state anyway.
        Some(entry) if entry.lease.as_ref().is_some_and(|lease| lease.until > now) => None,
        // Not waiting (above), so the worker read the order after that message was queued.
        Some(_) if last_queued.is_some_and(|queued| queued >= change.date_modified) => {
            let read = read_at.map_or_else(|| "never".to_owned(), |read_at| read_at.to_string());
            Some(Requeue::SameSecond(format!(
                "modified at {} and read at {read}, within that second: a second change in the same second \
                 would not have been seen",
                change.date_modified
            )))
        }
        Some(entry) => Some(Requeue::Missed(match entry.seen_modified.or(entry.source_modified) {
            Some(seen) => format!("modified at {} after the state the worker last read ({seen})", change.date_modified),
            None => format!("modified at {} and never read by the worker", change.date_modified),
        })),
    }
}

impl Sweep {
    /// Reads the connection's changed orders since its checkpoint and queues the ones the worker
    /// has not seen; adds what it did to `report`.
    pub(crate) async fn reconcile(
        &self,
        profile: &ConnectionProfile,
        report: &mut ConnectionSweep,
        now: DateTime<Utc>,
    ) {
        let settings = &self.settings.reconcile;
        let stream = SyncStream::new(profile.id.clone(), STREAM);
        let loaded = match self.ports.checkpoints.load(&stream).await {
            Ok(loaded) => loaded,
            Err(error) => {
                report.problems.push(format!("loading the reconciliation checkpoint: {error}"));
                return;
            }
        };
        let start = loaded.clone().unwrap_or_else(|| Checkpoint::starting_at(now - settings.first_lookback));
        let (from, to) = (start.window_start(settings.overlap), now - settings.settle);
        if from >= to {
            return;
        }
        let web = match self.ports.apis.web_orders(profile).await {
            Ok(web) => web,
            Err(error) => {
                report.problems.push(format!("connecting to BigCommerce: {error}"));
                return;
            }
        };
        let window = Window { from, to, max_pages: settings.max_pages, covered: Some(&start) };
        let Scanned { seen, complete, all_queued } =
            self.scan(profile, web.as_ref(), &window, Finder::Sweep, report, now).await;
        if !all_queued {
            // The checkpoint stays: the next run reads the window again, and what was queued this
            // time is then seen in the ledger (or queued once more, which the ledger makes a no-op).
            return;
        }
        let keys: Vec<(DateTime<Utc>, String)> =
            seen.iter().map(|change| (change.date_modified, change.id.to_string())).collect();
        let mut next = start.advanced(keys.iter().map(|(at, id)| (*at, id.as_str())));
        if complete {
            next = next.read_up_to(to);
        }
        if let Err(error) = self.ports.checkpoints.save(&stream, &next, loaded.as_ref()).await {
            report.problems.push(format!("saving the reconciliation checkpoint: {error}"));
        }
    }

    /// Queues the orders of `window` whose latest modification the worker has not read: by
    /// an operator's backfill (`millwright backfill`), from `from` to `to`, whatever the checkpoint
    /// says, without moving it; with `dry_run`, only lists what it would queue. Audited on
    /// `{connection}#run#backfill`; never alerts (the operator asked).
    pub async fn backfill(
        &self,
        profile: &ConnectionProfile,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        dry_run: bool,
        now: DateTime<Utc>,
    ) -> ConnectionSweep {
        let mut report = ConnectionSweep { connection: Some(profile.id.clone()), ..ConnectionSweep::default() };
        let web = match self.ports.apis.web_orders(profile).await {
            Ok(web) => web,
            Err(error) => {
                report.problems.push(format!("connecting to BigCommerce: {error}"));
                return report;
            }
        };
        let window = Window { from, to, max_pages: BACKFILL_MAX_PAGES, covered: None };
        let scanned = self.scan(profile, web.as_ref(), &window, Finder::Backfill { dry_run }, &mut report, now).await;
        if !scanned.complete && report.problems.is_empty() {
            report.problems.push(format!(
                "stopped after {BACKFILL_MAX_PAGES} pages; backfill again from the last order's modification time"
            ));
        }
        if !dry_run {
            let key = RecordKey::new(profile.id.clone(), RecordKind::Run, "backfill");
            let event = AuditEvent::new(key, now, Stage::Received, Outcome::Ok, &self.settings.actor)
                .with_message(format!(
                    "backfill of the orders modified from {from} to {to}: {} listed, {} queued",
                    scanned.seen.len(),
                    report.recovered.len()
                ))
                .with_detail(json!(report));
            if let Err(error) = self.ports.audit.append(&event).await {
                tracing::warn!(error.message = %error, "the backfill's run event was not stored");
            }
        }
        report
    }

    /// Pages `window` of the store's order list by modification time, keyset-style, and hands each
    /// order not listed before (nor covered by the checkpoint) to [`Sweep::recover`].
    async fn scan(
        &self,
        profile: &ConnectionProfile,
        web: &dyn WebOrderSource,
        window: &Window<'_>,
        finder: Finder,
        report: &mut ConnectionSweep,
        now: DateTime<Utc>,
    ) -> Scanned {
        let page_size = self.settings.reconcile.page_size;
        let mut scanned = Scanned { seen: Vec::new(), complete: false, all_queued: true };
        let mut ids = HashSet::new();
        let (mut min, mut page) = (window.from, 1);
        for _ in 0..window.max_pages {
            report.bigcommerce_calls += 1;
            let batch = match web.order_changes(min, window.to, page, page_size).await {
                Ok(batch) => batch,
                Err(error) => {
                    report.problems.push(format!("listing the orders modified since {min}: {error}"));
                    scanned.all_queued = false;
                    return scanned;
                }
            };
            let full = batch.len() >= page_size as usize;
            let last = batch.last().map(|change| change.date_modified);
            for change in batch {
                let covered = window
                    .covered
                    .is_some_and(|checkpoint| checkpoint.already_covers(change.date_modified, &change.id.to_string()));
                if !ids.insert(change.id) || covered {
                    continue;
                }
                if !self.recover(profile, &change, finder, report, now).await {
                    scanned.all_queued = false;
                }
                scanned.seen.push(change);
            }
            match last {
                Some(last) if full && last > min => (min, page) = (last, 1),
                // A full page of one second's orders: the next page of the same second.
                Some(_) if full => page += 1,
                _ => {
                    scanned.complete = true;
                    return scanned;
                }
            }
        }
        scanned
    }

    /// Queues one listed order if the worker has not seen it; `false` when queueing failed.
    async fn recover(
        &self,
        profile: &ConnectionProfile,
        change: &OrderChange,
        finder: Finder,
        report: &mut ConnectionSweep,
        now: DateTime<Utc>,
    ) -> bool {
        let order = OrderRef::new(profile.id.clone(), change.id);
        let entry = match self.ports.ledger.get(&order).await {
            Ok(entry) => entry,
            Err(error) => {
                report.problems.push(format!("reading the ledger entry of {order}: {error}"));
                return false;
            }
        };
        // The queued mark only ever spares an order or renames why it is queued, so it is read only
        // for an order the ledger alone would queue: a listed order the worker has read costs no read.
        if reason_to_queue(change, entry.as_ref(), None, profile, now).is_none() {
            return true;
        }
        let last_queued = match self.ports.queue_marks.last_queued(&order, now).await {
            Ok(last_queued) => last_queued,
            Err(error) => {
                report.problems.push(format!("reading when {order} was last queued: {error}"));
                return false;
            }
        };
        let Some(requeue) = reason_to_queue(change, entry.as_ref(), last_queued, profile, now) else { return true };
        if let Finder::Backfill { dry_run: true } = finder {
            queued_list(report, &requeue, finder).push(change.id);
            return true;
        }
        let (message_id, delivery) = match self.enqueue(&order, now).await {
            Ok(queued) => queued,
            Err(error) => {
                report.problems.push(format!("queueing {order}: {error}"));
                return false;
            }
        };
        let event = AuditEvent::new(order.record_key(), now, Stage::Received, Outcome::Ok, &self.settings.actor)
            .with_message(format!("{} and queued as message {message_id}: {}", finder.found_by(), requeue.reason()))
            .with_detail(json!({
                "message_id": message_id,
                "delivery": delivery,
                "date_modified": change.date_modified,
                "status_id": change.status_id,
                "missed_webhook": matches!(requeue, Requeue::Missed(_)),
            }));
        if let Err(error) = self.ports.audit.append(&event).await {
            tracing::warn!(error.message = %error, order = %order, "the sweep's Received event was not stored");
        }
        queued_list(report, &requeue, finder).push(change.id);
        true
    }
}

/// Where a queued order is reported. The alert names only the orders that truly came without a
/// webhook (`recovered`); a backfill lists everything it queues for the operator who asked.
fn queued_list<'r>(report: &'r mut ConnectionSweep, requeue: &Requeue, finder: Finder) -> &'r mut Vec<u64> {
    match (requeue, finder) {
        (Requeue::SameSecond(_), Finder::Sweep) => &mut report.requeued,
        _ => &mut report.recovered,
    }
}
