//! The stock sync: Plex inventory to BigCommerce, one connection per scheduled job.
//!
//! A run of one connection ([`StockSync::sync`]):
//! 1. reads Plex's sellable on-hand (every active container, streamed, summed per part number and
//!    Plex location over the connection's `StockSettings`);
//! 2. reads how BigCommerce addresses each tracked SKU (by product or by variant);
//! 3. computes each SKU and location's target (`domain::stock::stock_targets`: the SKU rule, the
//!    location mapping, the safety stock) and compares it with what was last pushed
//!    (`StockState`), so only the rows that changed are sent;
//! 4. for each request of at most 2,000 rows, one at a time: reads the open orders again (what
//!    BigCommerce sold that Plex does not hold yet, `OpenOrders`, kept by the order worker), takes
//!    their units off each row, and pushes the absolute levels; rows BigCommerce refuses (an
//!    unknown item, a disabled location) are dropped and the rest sent again once;
//! 5. saves what BigCommerce accepted as last pushed, and each pushed row as an event on
//!    `{connection}#stock#{sku}` (Plex on-hand, in flight, safety stock, the value sent and
//!    BigCommerce's transaction id).
//!
//! When the drift report is due (`stock.drift`, hourly by default), the run first reads
//! BigCommerce's levels back and compares them with the computed ones: a row it will not write but
//! where BigCommerce shows something else drifted (someone edited it in BigCommerce, or another app
//! did). Each drifting row is audited on its SKU's record, the report is kept, and rows that drift
//! in two reports running are alerted once. A dry run (`stock.dry_run`) and `millwright stock
//! diff` ([`StockSync::diff`]) make the same comparison and write nothing.
//!
//! Nothing is saved before BigCommerce accepted it, so a run that fails half-way leaves the rest
//! to the next run, which finds those rows still changed. The window in which an order placed
//! during a run can be overwritten by an absolute write is one request long: from the open orders'
//! read just before a request until BigCommerce applies it, plus the time the order worker takes to
//! read a new order (ARCHITECTURE.md, "The stock window").

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::alert::{Alert, AlertOutcome};
use domain::audit::{AuditEvent, Outcome, Stage};
use domain::open_order::{OpenOrder, units_by_sku};
use domain::ports::{Alerter, ApiError, AuditLog, OpenOrders, OrderLedger, StockApis, StockState};
use domain::stock::{
    Comparison, DriftCheck, DriftRow, ItemAddress, MAX_ADJUSTMENT_ROWS, MAX_INCREMENTAL_PARTS, PushOutcome,
    PushedLevel, ReadPlan, Sku, StockChange, StockLocation, StockProgress, StockRow, Targets, available_to_sell,
    batches, compare_levels, incremental_targets, plan_changes, stock_targets,
};
use domain::{ConnectionProfile, ErrorClass, LedgerStatus, PortError, RecordKey, RecordKind};
use serde::Serialize;
use serde_json::json;

/// The job's name: its queue's jobs, its audit record `{connection}#run#inventory-sync`, its lease.
pub const JOB: &str = "inventory-sync";

/// The function's timeout in the template, which the local runtime gives each job's invocation.
pub const FUNCTION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(180);

/// The reason BigCommerce records with each adjustment.
const REASON: &str = "Millwright: Plex on-hand";

/// The ports the sync uses; production builds them once per container (`runtime::Deps`).
#[derive(Clone)]
pub struct Ports {
    pub apis: Arc<dyn StockApis>,
    pub stock: Arc<dyn StockState>,
    pub open_orders: Arc<dyn OpenOrders>,
    /// To tell an open order Plex holds already (the worker could not remove its record).
    pub ledger: Arc<dyn OrderLedger>,
    pub audit: Arc<dyn AuditLog>,
    /// For drift that persists across two reports.
    pub alerter: Arc<dyn Alerter>,
}

impl Ports {
    pub fn from_deps(deps: &runtime::Deps) -> Ports {
        Ports {
            apis: deps.stock_apis(),
            stock: deps.stock_state.clone(),
            open_orders: deps.open_orders.clone(),
            ledger: deps.ledger.clone(),
            audit: deps.audit.clone(),
            alerter: deps.alerter.clone(),
        }
    }
}

/// What one connection's run found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StockRun {
    /// Plex on-hand rows (part number × Plex location) and the Plex requests.
    pub on_hand_rows: usize,
    pub plex_calls: u32,
    /// Catalog pages read.
    pub catalog_calls: u32,
    /// SKU × location targets, and those that differed from the last push.
    pub targets: usize,
    pub changed: usize,
    /// Rows BigCommerce took, and its transaction ids.
    pub pushed: usize,
    pub transactions: Vec<String>,
    /// Absolute-adjustment requests sent.
    pub write_calls: u32,
    /// Rows BigCommerce refused, each with why (the rest were sent again without them).
    pub refused: Vec<String>,
    /// Part numbers whose SKU BigCommerce does not know (reported once per run), and how many.
    pub not_in_catalog: usize,
    pub not_in_catalog_sample: Vec<String>,
    /// Plex locations mapped to no BigCommerce location.
    pub unmapped_locations: Vec<String>,
    /// Units of open orders (sold in BigCommerce, not yet held by Plex) taken off the levels.
    pub in_flight_units: u64,
    /// How Plex was read: every container (and why), or only the parts adjusted since the last run.
    pub read: String,
    /// Pages of BigCommerce's levels read back (for the drift report or a dry run).
    pub level_calls: u32,
    /// The drift report, when this run made one: rows drifting, and those that drifted at the
    /// report before too (alerted).
    pub drift: Option<DriftSummary>,
    /// A dry run's report: what a run would push, and what BigCommerce would refuse.
    pub dry_run: Option<DryRun>,
    /// What stopped the run early, if anything; the next run finishes the work.
    pub problem: Option<String>,
}

/// A drift report's figures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DriftSummary {
    pub drifting: usize,
    pub persisting: usize,
    /// The first rows that persisted, `SKU at location L: BigCommerce shows S, computed C`.
    pub sample: Vec<String>,
}

/// What a dry run found: the rows a run would push, and those BigCommerce would refuse.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DryRun {
    pub would_push: usize,
    pub would_refuse: usize,
    /// The first rows, each `SKU at location L: BigCommerce N -> computed M (why)`.
    pub sample: Vec<String>,
}

/// How many rows a run's report names (its audit event stays small however much changed).
const REPORT_SAMPLE: usize = 20;

/// What `millwright stock diff` prints: every level BigCommerce shows beside the computed one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StockDiff {
    pub comparison: Comparison,
    /// Part numbers with stock whose SKU BigCommerce does not know, and a sample of them.
    pub not_in_catalog: usize,
    pub not_in_catalog_sample: Vec<String>,
    /// Plex locations with stock that map to no BigCommerce location.
    pub unmapped_locations: Vec<String>,
}

impl StockDiff {
    /// Whether a run would send a row BigCommerce would refuse.
    pub fn would_fail(&self) -> bool {
        self.comparison.refused().next().is_some()
    }
}

/// What stopped a run or a diff: an API call or a port.
#[derive(Debug)]
pub enum StockError {
    Api(ApiError),
    Port(PortError),
}

/// One run's reads: the targets, what was last pushed, and what to store once the run is done.
struct Plan {
    targets: Targets,
    last: BTreeMap<(Sku, StockLocation), i64>,
    /// Rows pushed before whose level stays but whose Plex on-hand moved.
    on_hand_moved: Vec<StockRow>,
    /// Where the reads of Plex stand once this run is done.
    progress: StockProgress,
}

/// The stock sync. Cheap to clone (ports are shared).
#[derive(Clone)]
pub struct StockSync {
    ports: Ports,
}

impl StockError {
    pub fn class(&self) -> ErrorClass {
        match self {
            StockError::Api(error) => error.class,
            StockError::Port(error) => error.class(),
        }
    }
}

impl std::fmt::Display for StockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StockError::Api(error) => write!(f, "{error}"),
            StockError::Port(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for StockError {}

type Failure = StockError;

impl StockSync {
    pub fn new(ports: Ports) -> StockSync {
        StockSync { ports }
    }

    /// One connection's run; see the crate documentation. A failure stops it where it stands
    /// (what was pushed before is saved) and is the report's `problem`.
    #[tracing::instrument(name = "inventory_sync", skip_all, fields(connection = %profile.id))]
    pub async fn sync(&self, profile: &ConnectionProfile, now: DateTime<Utc>) -> (StockRun, Option<ErrorClass>) {
        let mut run = StockRun::default();
        match self.sync_into(profile, now, &mut run).await {
            Ok(()) => (run, None),
            Err(failure) => {
                run.problem = Some(failure.to_string());
                (run, Some(failure.class()))
            }
        }
    }

    /// What a run would do now, writing nothing: every target beside BigCommerce's level. The
    /// same reads as a run's, plus BigCommerce's levels and locations.
    pub async fn diff(&self, profile: &ConnectionProfile) -> Result<StockDiff, StockError> {
        let mut run = StockRun::default();
        let plan = self.plan(profile, Utc::now(), &mut run).await?;
        let comparison = self.compare(profile, &plan, &mut run).await?;
        Ok(StockDiff {
            comparison,
            not_in_catalog: run.not_in_catalog,
            not_in_catalog_sample: run.not_in_catalog_sample,
            unmapped_locations: run.unmapped_locations,
        })
    }

    async fn sync_into(
        &self,
        profile: &ConnectionProfile,
        now: DateTime<Utc>,
        run: &mut StockRun,
    ) -> Result<(), Failure> {
        let settings = &profile.stock;
        let plan = self.plan(profile, now, run).await?;
        if settings.dry_run {
            let comparison = self.compare(profile, &plan, run).await?;
            run.dry_run = Some(DryRun::of(&comparison));
            return Ok(());
        }
        let last_check = self.ports.stock.last_drift_check(&profile.id).await.map_err(Failure::Port)?;
        if settings.drift.is_due(last_check.as_ref().map(|check| check.at), now) {
            // Before the push: the rows it writes are not drift, whatever BigCommerce shows now.
            let comparison = self.compare(profile, &plan, run).await?;
            self.report_drift(profile, &comparison, last_check.as_ref(), now, run).await?;
        }

        let changes = plan_changes(&plan.targets.levels, &plan.last);
        run.changed = changes.len();
        for batch in batches(&changes, MAX_ADJUSTMENT_ROWS) {
            let in_flight = self.in_flight(profile).await?;
            let batch: Vec<StockChange> = batch
                .iter()
                .map(|change| {
                    let units = in_flight.get(&(change.sku.clone(), change.location)).copied().unwrap_or(0);
                    StockChange {
                        in_flight: units,
                        computed: available_to_sell(change.plex_on_hand, units, change.safety),
                        ..change.clone()
                    }
                })
                .collect();
            run.in_flight_units = run.in_flight_units.max(batch.iter().map(|change| change.in_flight).sum());
            self.push(profile, &batch, now, run).await?;
        }
        // Only now, every push accepted: a run that stopped early reads the same again.
        self.ports.stock.save_pushed(&profile.id, &plan.on_hand_moved).await.map_err(Failure::Port)?;
        self.ports.stock.save_progress(&profile.id, &plan.progress).await.map_err(Failure::Port)
    }

    /// Reads the catalog, the last push, the open orders and Plex's on-hand (every container, or
    /// only the parts adjusted since the last run: `StockSettings::read_plan`), and computes every
    /// target; `run` gets the figures.
    async fn plan(&self, profile: &ConnectionProfile, now: DateTime<Utc>, run: &mut StockRun) -> Result<Plan, Failure> {
        let settings = &profile.stock;
        let progress = self.ports.stock.progress(&profile.id).await.map_err(Failure::Port)?;
        let pushed = self.ports.stock.pushed(&profile.id).await.map_err(Failure::Port)?;
        let last: BTreeMap<(Sku, StockLocation), i64> =
            pushed.iter().map(|(key, level)| (key.clone(), level.quantity)).collect();
        let (addresses, catalog_calls) = self.ports.apis.catalog(profile).await.map_err(Failure::Api)?;
        run.catalog_calls = catalog_calls;
        // What is in flight now; each request of a run reads it again just before it is sent.
        let in_flight = self.in_flight(profile).await?;

        let full_reason = match (settings.read_plan(progress.as_ref(), now), &progress) {
            (ReadPlan::Incremental { since }, Some(progress)) => {
                let (parts, calls) =
                    self.ports.apis.plex_adjusted_parts(profile, since, now).await.map_err(Failure::Api)?;
                run.plex_calls += calls;
                match parts {
                    Some(parts) if parts.len() <= MAX_INCREMENTAL_PARTS => {
                        let part_ids: Vec<String> = parts.iter().map(|part| part.part_id.clone()).collect();
                        let (fresh, calls) = if part_ids.is_empty() {
                            (Vec::new(), 0)
                        } else {
                            let filter = settings.container_filter();
                            self.ports
                                .apis
                                .plex_on_hand_of_parts(profile, &filter, &part_ids)
                                .await
                                .map_err(Failure::Api)?
                        };
                        run.plex_calls += calls;
                        run.on_hand_rows = fresh.len();
                        run.read = format!("incremental: {} part(s) adjusted since the last run", parts.len());
                        let reread: BTreeSet<Sku> =
                            parts.iter().map(|part| settings.sku.sku_for(&part.part_no)).collect();
                        let targets = incremental_targets(&fresh, &reread, &pushed, &addresses, &in_flight, settings);
                        return Ok(self.planned(targets, last, pushed, progress.after_incremental_read(now), run));
                    }
                    Some(parts) => {
                        format!("{} parts adjusted, more than {MAX_INCREMENTAL_PARTS} to read one by one", parts.len())
                    }
                    None => "an adjustment named no part".to_owned(),
                }
            }
            (ReadPlan::Full { reason }, _) => reason.to_owned(),
            (ReadPlan::Incremental { .. }, None) => "no full read yet".to_owned(),
        };
        let (on_hand, plex_calls) =
            self.ports.apis.plex_on_hand(profile, &settings.container_filter()).await.map_err(Failure::Api)?;
        run.on_hand_rows = on_hand.len();
        run.plex_calls += plex_calls;
        run.read = format!("full: {full_reason}");
        let mut targets = stock_targets(&on_hand, &addresses, &in_flight, settings);
        targets.zero_absent(&last, &addresses, &in_flight, &settings.safety_stock);
        Ok(self.planned(targets, last, pushed, StockProgress::after_full_read(settings, now), run))
    }

    /// The plan of a read, its figures in `run`.
    fn planned(
        &self,
        targets: Targets,
        last: BTreeMap<(Sku, StockLocation), i64>,
        pushed: BTreeMap<(Sku, StockLocation), PushedLevel>,
        progress: StockProgress,
        run: &mut StockRun,
    ) -> Plan {
        run.targets = targets.levels.len();
        run.not_in_catalog = targets.not_in_catalog.len();
        run.not_in_catalog_sample =
            targets.not_in_catalog.iter().take(REPORT_SAMPLE).map(|sku| sku.as_str().to_owned()).collect();
        run.unmapped_locations = targets.unmapped_locations.iter().cloned().collect();
        if !targets.not_in_catalog.is_empty() {
            tracing::info!(count = targets.not_in_catalog.len(), sample = ?run.not_in_catalog_sample, "SKUs BigCommerce does not know");
        }
        // Rows whose level stays but whose Plex on-hand moved (open orders or the safety stock
        // absorbed it, or it stayed below 0): stored, so a run that does not read them again
        // computes from what Plex holds.
        let on_hand_moved = targets
            .levels
            .iter()
            .filter(|(key, target)| {
                pushed.get(*key).is_some_and(|level| {
                    level.quantity == target.quantity() && level.plex_on_hand != Some(target.plex_on_hand)
                })
            })
            .map(|((sku, location), target)| StockRow {
                sku: sku.clone(),
                location: *location,
                quantity: target.quantity(),
                plex_on_hand: target.plex_on_hand,
            })
            .collect();
        Plan { targets, last, on_hand_moved, progress }
    }

    /// BigCommerce's levels (at every location a target is for) and locations beside the plan.
    async fn compare(
        &self,
        profile: &ConnectionProfile,
        plan: &Plan,
        run: &mut StockRun,
    ) -> Result<Comparison, Failure> {
        let locations: BTreeSet<StockLocation> = plan.targets.levels.keys().map(|(_, location)| *location).collect();
        let locations: Vec<StockLocation> = locations.into_iter().collect();
        let (levels, calls) = self.ports.apis.levels(profile, &locations).await.map_err(Failure::Api)?;
        run.level_calls += calls;
        let store_locations = self.ports.apis.locations(profile).await.map_err(Failure::Api)?;
        run.level_calls += 1;
        Ok(compare_levels(&plan.targets.levels, &plan.last, &levels, &store_locations))
    }

    /// Audits each drifting row on its SKU's record, keeps the report, and alerts the rows that
    /// drifted at the report before too.
    async fn report_drift(
        &self,
        profile: &ConnectionProfile,
        comparison: &Comparison,
        previous: Option<&DriftCheck>,
        now: DateTime<Utc>,
        run: &mut StockRun,
    ) -> Result<(), Failure> {
        let check = DriftCheck::new(now, comparison.drift(&profile.stock.drift));
        let persisting = check.persisting(previous);
        let persisting_keys: BTreeSet<(&Sku, StockLocation)> =
            persisting.iter().map(|row| (&row.sku, row.location)).collect();
        let events: Vec<AuditEvent> = check
            .rows
            .iter()
            .map(|row| drift_event(profile, row, persisting_keys.contains(&(&row.sku, row.location)), now))
            .collect();
        self.record_all(&events, "the drift's audit events were not stored").await;
        let sample: Vec<String> = persisting.iter().take(REPORT_SAMPLE).map(|row| drift_line(row)).collect();
        run.drift = Some(DriftSummary { drifting: check.total, persisting: persisting.len(), sample });
        if !persisting.is_empty() {
            self.alert_drift(profile, &persisting, now).await;
        }
        self.ports.stock.save_drift_check(&profile.id, &check).await.map_err(Failure::Port)
    }

    async fn alert_drift(&self, profile: &ConnectionProfile, persisting: &[&DriftRow], now: DateTime<Utc>) {
        let display = profile.display_name.clone().unwrap_or_else(|| profile.id.to_string());
        let lines: Vec<String> =
            persisting.iter().take(REPORT_SAMPLE).map(|row| format!("  {}", drift_line(row))).collect();
        let more = persisting.len().saturating_sub(REPORT_SAMPLE);
        let alert = Alert {
            connection: profile.id.clone(),
            cause: "stock-drift".to_owned(),
            subject: format!("[{display}] {} stock level(s) in BigCommerce differ from Plex", persisting.len()),
            body: format!(
                "At two drift reports running, BigCommerce showed other stock levels than the ones computed \
                 from Plex (on hand, less open orders and safety stock) for these rows, which the sync does \
                 not write again because Plex did not change:\n\n{}{}\n\nSomeone edited them in \
                 BigCommerce, or another app writes stock there. `millwright stock diff --connection {}` \
                 shows every row; each row's history is on `millwright trace --record {}#stock#SKU`. The \
                 next change in Plex overwrites them. This alert is sent once per alert window.",
                lines.join("\n"),
                if more > 0 { format!("\n  ... and {more} more") } else { String::new() },
                profile.id,
                profile.id,
            ),
            record: Some(RecordKey::new(profile.id.clone(), RecordKind::Run, JOB)),
        };
        match self.ports.alerter.alert(&alert).await {
            Ok(AlertOutcome::Sent { message_id }) => {
                let key = RecordKey::new(profile.id.clone(), RecordKind::Run, JOB);
                let event = AuditEvent::new(key, now, Stage::Alerted, Outcome::Ok, JOB)
                    .with_message(alert.subject.clone())
                    .with_detail(json!({ "cause": alert.cause, "message_id": message_id }));
                if let Err(error) = self.ports.audit.append(&event).await {
                    tracing::warn!(error.message = %error, "the drift alert's audit event was not stored");
                }
            }
            Ok(AlertOutcome::Suppressed) => {}
            Err(error) => tracing::warn!(error.message = %error, "the drift alert was not sent"),
        }
    }

    /// The open orders' units per SKU at the location BigCommerce sells from
    /// (`stock.orders_location`, by default the default location). An open order whose ledger entry says Plex holds it (or it will never be
    /// written) is closed here, in case the worker could not.
    async fn in_flight(&self, profile: &ConnectionProfile) -> Result<BTreeMap<(Sku, StockLocation), u64>, Failure> {
        let mut open = self.ports.open_orders.list(&profile.id).await.map_err(Failure::Port)?;
        let mut still_open: Vec<OpenOrder> = Vec::with_capacity(open.len());
        for order in open.drain(..) {
            let entry = self.ports.ledger.get(&order.order).await.map_err(Failure::Port)?;
            if entry.is_some_and(|entry| matches!(entry.status, LedgerStatus::Committed | LedgerStatus::Skipped)) {
                if let Err(error) = self.ports.open_orders.close(&order.order).await {
                    tracing::warn!(error.message = %error, order = %order.order, "a stale open order was not removed");
                }
            } else {
                still_open.push(order);
            }
        }
        Ok(units_by_sku(&still_open)
            .into_iter()
            .map(|(sku, units)| ((Sku::new(sku), profile.stock.orders_location), units))
            .collect())
    }

    /// One request: push, drop what BigCommerce refused and push the rest once more, then save and
    /// audit what it took.
    async fn push(
        &self,
        profile: &ConnectionProfile,
        batch: &[StockChange],
        now: DateTime<Utc>,
        run: &mut StockRun,
    ) -> Result<(), Failure> {
        let mut rows: Vec<&StockChange> = batch.iter().collect();
        for attempt in 0..2 {
            if rows.is_empty() {
                return Ok(());
            }
            let adjustments: Vec<(ItemAddress, StockLocation, i64)> =
                rows.iter().map(|change| change.adjustment()).collect();
            run.write_calls += 1;
            match self.ports.apis.set_absolute(profile, REASON, &adjustments).await.map_err(Failure::Api)? {
                PushOutcome::Applied { transaction_id } => {
                    let pushed: Vec<StockRow> = rows.iter().map(|change| change.row()).collect();
                    self.ports.stock.save_pushed(&profile.id, &pushed).await.map_err(Failure::Port)?;
                    let events: Vec<AuditEvent> =
                        rows.iter().map(|change| push_event(profile, change, &transaction_id, now)).collect();
                    self.record_all(&events, "the push's audit events were not stored").await;
                    run.pushed += rows.len();
                    run.transactions.push(transaction_id);
                    return Ok(());
                }
                PushOutcome::Refused { rows: refused, reasons } if attempt == 0 && !refused.is_empty() => {
                    let refused: BTreeSet<usize> = refused;
                    for index in &refused {
                        if let Some(change) = rows.get(*index) {
                            run.refused.push(format!("{} at location {}", change.sku, change.location.id()));
                        }
                    }
                    run.refused.extend(reasons);
                    rows = rows
                        .into_iter()
                        .enumerate()
                        .filter(|(index, _)| !refused.contains(index))
                        .map(|(_, c)| c)
                        .collect();
                }
                PushOutcome::Refused { reasons, .. } => {
                    let error = ApiError {
                        class: ErrorClass::Data,
                        message: format!("BigCommerce refused the stock levels again: {}", reasons.join("; ")),
                        retry_after: None,
                    };
                    return Err(Failure::Api(error));
                }
            }
        }
        Ok(())
    }

    /// Appends a run's per-row events in batches; a failure is logged (what they describe is done).
    async fn record_all(&self, events: &[AuditEvent], what: &str) {
        if let Err(error) = self.ports.audit.append_all(events).await {
            tracing::warn!(error.message = %error, count = events.len(), "{what}");
        }
    }
}

/// A pushed row's event on its SKU's record: what was sent, what it was computed from, and
/// BigCommerce's transaction.
fn push_event(profile: &ConnectionProfile, change: &StockChange, transaction: &str, now: DateTime<Utc>) -> AuditEvent {
    let key = RecordKey::new(profile.id.clone(), RecordKind::SkuStock, change.sku.as_str());
    AuditEvent::new(key, now, Stage::Written, Outcome::Ok, JOB)
        .with_message(format!(
            "{} set to {} at location {} (Plex on hand {}, in flight {}, safety stock {}; transaction {})",
            change.sku,
            change.computed,
            change.location.id(),
            change.plex_on_hand.normalize(),
            change.in_flight,
            change.safety,
            transaction
        ))
        .with_detail(json!({
            "location": change.location.id(),
            "previous": change.previous,
            "sent": change.computed,
            "plex_on_hand": change.plex_on_hand,
            "in_flight": change.in_flight,
            "safety": change.safety,
            "address": change.address.to_string(),
            "transaction_id": transaction,
        }))
}

/// A drifting row's event on its SKU's record; one that persists needs attention.
fn drift_event(profile: &ConnectionProfile, row: &DriftRow, persists: bool, now: DateTime<Utc>) -> AuditEvent {
    let key = RecordKey::new(profile.id.clone(), RecordKind::SkuStock, row.sku.as_str());
    let (outcome, tail) = if persists {
        (Outcome::NeedsAttention, "at the report before too (alerted)")
    } else {
        (Outcome::Ok, "for the first time (alerted if it persists at the next report)")
    };
    AuditEvent::new(key, now, Stage::Checked, outcome, JOB)
        .with_message(format!("drift: {}, {tail}", drift_line(row)))
        .with_detail(json!({
            "location": row.location.id(),
            "bigcommerce": row.seen,
            "computed": row.computed,
            "persists": persists,
        }))
}

/// `SKU at location L: BigCommerce shows S, computed C`.
fn drift_line(row: &DriftRow) -> String {
    format!("{} at location {}: BigCommerce shows {}, computed {}", row.sku, row.location.id(), row.seen, row.computed)
}

impl DryRun {
    fn of(comparison: &Comparison) -> DryRun {
        let sample = comparison
            .pending()
            .take(REPORT_SAMPLE)
            .map(|row| {
                let now = row.bigcommerce.map_or("none".to_owned(), |level| level.to_string());
                format!(
                    "{} at location {}: BigCommerce {now} -> computed {} ({})",
                    row.sku,
                    row.location.id(),
                    row.computed,
                    row.why()
                )
            })
            .collect();
        DryRun { would_push: comparison.pending().count(), would_refuse: comparison.refused().count(), sample }
    }
}

impl StockRun {
    pub fn summary(&self) -> String {
        if let Some(dry) = &self.dry_run {
            return format!(
                "dry run: {} of {} level(s) would be pushed, {} of them refused; nothing written",
                dry.would_push, self.targets, dry.would_refuse
            );
        }
        let mut summary = format!(
            "{} of {} level(s) changed, {} pushed in {} request(s)",
            self.changed, self.targets, self.pushed, self.write_calls
        );
        if self.in_flight_units > 0 {
            summary.push_str(&format!(", {} unit(s) of open orders held back", self.in_flight_units));
        }
        if !self.refused.is_empty() {
            summary.push_str(&format!(", {} refused", self.refused.len()));
        }
        if self.not_in_catalog > 0 {
            summary.push_str(&format!(", {} part(s) with no BigCommerce SKU", self.not_in_catalog));
        }
        if let Some(drift) = &self.drift {
            summary.push_str(&format!(", drift report: {} row(s) drifting", drift.drifting));
            if drift.persisting > 0 {
                summary.push_str(&format!(" ({} for two reports, alerted)", drift.persisting));
            }
        }
        if let Some(problem) = &self.problem {
            summary.push_str(&format!("; stopped: {problem}"));
        }
        summary
    }
}

/// One connection's sync as a scheduled job: its report is the job's detail, and a run stopped
/// early fails the job (its queue retries it; what was pushed is saved).
#[async_trait]
impl jobs::Job for StockSync {
    fn name(&self) -> &'static str {
        JOB
    }

    async fn run(&self, profile: &ConnectionProfile, now: DateTime<Utc>) -> jobs::JobReport {
        let (run, failure) = self.sync(profile, now).await;
        let summary = run.summary();
        let detail = json!(run);
        match (failure, &run.problem) {
            (Some(class), Some(problem)) => jobs::JobReport::failed(summary, detail, class, problem.clone()),
            _ => jobs::JobReport::done(summary, detail),
        }
    }
}

#[cfg(test)]
mod tests;
