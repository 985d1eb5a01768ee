//! The stock sync against in-memory ports and a scripted stock API: only changes are pushed, 2,000
//! rows to a request; open orders lower the levels; refusals and failures lose nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::connection::OrderSettings;
use domain::open_order::{OpenLine, OpenOrder};
use domain::ports::memory::{
    InMemoryAuditLog, InMemoryOpenOrders, InMemoryOrderLedger, InMemoryStockState, RecordingAlerter,
};
use domain::ports::{ApiError, AuditLog, OpenOrders, OrderLedger, StockApis, StockState, fakes};
use domain::stock::{
    AdjustedPart, ContainerFilter, ItemAddress, OnHand, PushOutcome, Sku, StockLocation, StoreLocation,
};
use domain::{ConnectionId, ConnectionProfile, ErrorClass, LedgerEntry, LedgerStatus, OrderRef, RecordKey, RecordKind};
use rust_decimal::Decimal;

use crate::{Ports, StockSync};

fn acme() -> ConnectionId {
    ConnectionId::new("acme").unwrap()
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z").unwrap().with_timezone(&Utc)
}

fn sku(n: usize) -> String {
    format!("SKU-{n:05}")
}

/// Plex and BigCommerce as the sync sees them: on-hand per part, a catalog of variant-tracked
/// SKUs, and BigCommerce's levels after each accepted request.
#[derive(Default)]
struct Store {
    on_hand: Mutex<BTreeMap<String, i64>>,
    levels: Mutex<BTreeMap<(ItemAddress, StockLocation), i64>>,
    writes: Mutex<Vec<usize>>,
    /// SKUs BigCommerce refuses (their rows are named in a refusal).
    refuse: Mutex<BTreeSet<String>>,
    /// The write (1-based) that fails as BigCommerce down would.
    fail_write: Mutex<Option<usize>>,
    /// Plex's adjustment history: each part changed, and when (a second after the last run).
    adjusted: Mutex<Vec<(usize, DateTime<Utc>)>>,
    /// The time of the last run, which the history stamps changes after.
    clock: Mutex<Option<DateTime<Utc>>>,
    /// Plex reads: `full` of every container, or of one part.
    plex_reads: Mutex<Vec<String>>,
}

fn address(n: usize) -> ItemAddress {
    ItemAddress::Variant { variant_id: 1_000 + n as u64 }
}

impl Store {
    fn with_parts(parts: usize, quantity: i64) -> Arc<Store> {
        let store = Arc::new(Store::default());
        *store.on_hand.lock().unwrap() = (0..parts).map(|n| (sku(n), quantity)).collect();
        store
    }

    fn set(&self, n: usize, quantity: i64) {
        self.on_hand.lock().unwrap().insert(sku(n), quantity);
        let at = self.clock.lock().unwrap().unwrap_or_else(now) + chrono::Duration::seconds(1);
        self.adjusted.lock().unwrap().push((n, at));
    }

    fn plex_reads(&self) -> Vec<String> {
        std::mem::take(&mut *self.plex_reads.lock().unwrap())
    }

    fn row(part: &str, quantity: i64) -> OnHand {
        OnHand { part_no: part.to_owned(), location: "FG".into(), quantity: Decimal::from(quantity) }
    }

    fn level(&self, n: usize) -> Option<i64> {
        self.levels.lock().unwrap().get(&(address(n), StockLocation::DEFAULT)).copied()
    }

    fn writes(&self) -> Vec<usize> {
        self.writes.lock().unwrap().clone()
    }

    /// Someone sets a level in BigCommerce by hand.
    fn edit_by_hand(&self, n: usize, quantity: i64) {
        self.levels.lock().unwrap().insert((address(n), StockLocation::DEFAULT), quantity);
    }
}

#[async_trait]
impl StockApis for Store {
    async fn plex_on_hand(&self, _: &ConnectionProfile, _: &ContainerFilter) -> Result<(Vec<OnHand>, u32), ApiError> {
        self.plex_reads.lock().unwrap().push("full".into());
        let on_hand = self.on_hand.lock().unwrap();
        Ok((on_hand.iter().map(|(part, quantity)| Store::row(part, *quantity)).collect(), 1))
    }

    async fn plex_adjusted_parts(
        &self,
        _: &ConnectionProfile,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<(Option<BTreeSet<AdjustedPart>>, u32), ApiError> {
        let adjusted = self.adjusted.lock().unwrap();
        let parts = adjusted
            .iter()
            .filter(|(_, at)| (since..=until).contains(at))
            .map(|(n, _)| AdjustedPart { part_id: format!("id-{n}"), part_no: sku(*n) })
            .collect();
        Ok((Some(parts), 1))
    }

    async fn plex_on_hand_of_parts(
        &self,
        _: &ConnectionProfile,
        _: &ContainerFilter,
        part_ids: &[String],
    ) -> Result<(Vec<OnHand>, u32), ApiError> {
        let on_hand = self.on_hand.lock().unwrap();
        let mut rows = Vec::new();
        for id in part_ids {
            self.plex_reads.lock().unwrap().push(id.clone());
            let n: usize = id.trim_start_matches("id-").parse().unwrap();
            rows.extend(on_hand.get(&sku(n)).map(|quantity| Store::row(&sku(n), *quantity)));
        }
        Ok((rows, part_ids.len() as u32))
    }

    async fn catalog(&self, _: &ConnectionProfile) -> Result<(BTreeMap<Sku, ItemAddress>, u32), ApiError> {
        let parts = self.on_hand.lock().unwrap().len();
        Ok(((0..parts).map(|n| (Sku::new(sku(n)), address(n))).collect(), 1))
    }

    async fn levels(
        &self,
        _: &ConnectionProfile,
        locations: &[StockLocation],
    ) -> Result<(BTreeMap<(Sku, StockLocation), i64>, u32), ApiError> {
        let parts = self.on_hand.lock().unwrap().len();
        let levels = self.levels.lock().unwrap();
        let by_sku = (0..parts)
            .flat_map(|n| locations.iter().map(move |location| (n, *location)))
            .filter_map(|(n, location)| {
                levels.get(&(address(n), location)).map(|level| ((Sku::new(sku(n)), location), *level))
            })
            .collect();
        Ok((by_sku, 1))
    }

    async fn locations(&self, _: &ConnectionProfile) -> Result<Vec<StoreLocation>, ApiError> {
        Ok(vec![StoreLocation { id: StockLocation::DEFAULT, label: "Default".into(), enabled: true }])
    }

    async fn set_absolute(
        &self,
        _: &ConnectionProfile,
        _: &str,
        rows: &[(ItemAddress, StockLocation, i64)],
    ) -> Result<PushOutcome, ApiError> {
        assert!(rows.len() <= 2_000, "{} rows in one request", rows.len());
        let mut writes = self.writes.lock().unwrap();
        writes.push(rows.len());
        if *self.fail_write.lock().unwrap() == Some(writes.len()) {
            return Err(ApiError { class: ErrorClass::Transient, message: "HTTP 503".into(), retry_after: None });
        }
        let refuse = self.refuse.lock().unwrap();
        let refused: BTreeSet<usize> = rows
            .iter()
            .enumerate()
            .filter(|(_, (address, _, _))| refuse.iter().any(|sku| Some(*address) == sku_address(sku)))
            .map(|(index, _)| index)
            .collect();
        if !refused.is_empty() {
            return Ok(PushOutcome::Refused {
                rows: refused,
                reasons: vec!["Item with variant_id 9 is unknown".into()],
            });
        }
        let mut levels = self.levels.lock().unwrap();
        for (address, location, quantity) in rows {
            levels.insert((*address, *location), *quantity);
        }
        Ok(PushOutcome::Applied { transaction_id: format!("tx-{}", writes.len()) })
    }
}

fn sku_address(sku: &str) -> Option<ItemAddress> {
    sku.strip_prefix("SKU-").and_then(|n| n.parse::<usize>().ok()).map(address)
}

struct World {
    store: Arc<Store>,
    stock: Arc<InMemoryStockState>,
    open_orders: Arc<InMemoryOpenOrders>,
    ledger: Arc<InMemoryOrderLedger>,
    audit: Arc<InMemoryAuditLog>,
    alerter: Arc<RecordingAlerter>,
    sync: StockSync,
    profile: ConnectionProfile,
}

impl World {
    fn new(store: Arc<Store>) -> World {
        let stock = Arc::new(InMemoryStockState::default());
        let open_orders = Arc::new(InMemoryOpenOrders::default());
        let ledger = Arc::new(InMemoryOrderLedger::default());
        let audit = Arc::new(InMemoryAuditLog::default());
        let alerter = Arc::new(RecordingAlerter::new(chrono::Duration::hours(24)));
        let ports = Ports {
            apis: store.clone(),
            stock: stock.clone(),
            open_orders: open_orders.clone(),
            ledger: ledger.clone(),
            audit: audit.clone(),
            alerter: alerter.clone(),
        };
        let profile = fakes::profile(acme(), OrderSettings::default());
        World { store, stock, open_orders, ledger, audit, alerter, sync: StockSync::new(ports), profile }
    }

    /// A run five minutes after the last (the schedule's interval), the first at `now()`.
    async fn run(&self) -> crate::StockRun {
        let last = *self.store.clock.lock().unwrap();
        self.run_at(last.map_or_else(now, |last| last + chrono::Duration::minutes(5))).await
    }

    async fn run_at(&self, at: DateTime<Utc>) -> crate::StockRun {
        *self.store.clock.lock().unwrap() = Some(at);
        let (run, failure) = self.sync.sync(&self.profile, at).await;
        assert_eq!(failure, None, "{run:?}");
        run
    }

    async fn open(&self, order_id: u64, lines: &[(usize, u32)]) {
        let lines = lines.iter().map(|(n, qty)| OpenLine { sku: sku(*n), quantity: Decimal::from(*qty) }).collect();
        self.open_orders
            .open(&OpenOrder { order: OrderRef::new(acme(), order_id), lines, read_at: now() })
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn ten_thousand_skus_with_300_changed_cost_one_write_and_an_unchanged_run_none() {
    // GIVEN 10,000 SKUs pushed once (five requests of 2,000)
    let world = World::new(Store::with_parts(10_000, 50));
    let first = world.run().await;
    assert_eq!((first.changed, first.pushed, first.write_calls), (10_000, 10_000, 5), "{first:?}");
    assert_eq!(world.store.writes(), vec![2_000; 5]);

    // WHEN 300 of them change in Plex
    for n in (0..10_000).step_by(33).take(300) {
        world.store.set(n, 7);
    }
    let second = world.run().await;

    // THEN exactly those 300 rows go out, in one request, and BigCommerce shows them
    assert_eq!((second.changed, second.pushed, second.write_calls), (300, 300, 1), "{second:?}");
    assert_eq!(world.store.level(33), Some(7));
    assert_eq!(world.store.level(1), Some(50));

    // AND a run with nothing changed sends nothing
    let third = world.run().await;
    assert_eq!((third.changed, third.write_calls), (0, 0), "{third:?}");
    assert_eq!(world.store.writes().len(), 6);
}

#[tokio::test]
async fn an_order_bigcommerce_sold_and_plex_does_not_hold_yet_lowers_the_level_until_plex_holds_it() {
    // GIVEN a SKU of 10 units pushed, then an order for 3 of them read by the worker
    let world = World::new(Store::with_parts(2, 10));
    world.run().await;
    world.open(1042, &[(0, 3)]).await;

    // WHEN the sync runs
    let run = world.run().await;

    // THEN BigCommerce is told 7, not 10, and the push says why
    assert_eq!(world.store.level(0), Some(7));
    assert_eq!((run.changed, run.in_flight_units), (1, 3), "{run:?}");
    let trail = world.audit.history(&RecordKey::new(acme(), RecordKind::SkuStock, sku(0))).await.unwrap();
    let last = trail.last().unwrap().detail.clone().unwrap();
    assert_eq!(
        (last["plex_on_hand"].as_str(), &last["in_flight"], &last["sent"]),
        (Some("10"), &serde_json::json!(3), &serde_json::json!(7))
    );

    // WHEN Plex holds the order (the ledger committed it) but its open record was left behind,
    // and Plex's on-hand still counts the units
    let order = OrderRef::new(acme(), 1042);
    let mut entry: LedgerEntry =
        world.ledger.acquire(&order, "worker", now(), chrono::Duration::minutes(2)).await.unwrap();
    entry.status = LedgerStatus::Committed;
    world.ledger.save(&entry, "worker", true).await.unwrap();
    let run = world.run().await;

    // THEN the stale record is dropped and the level rises back
    assert_eq!(world.store.level(0), Some(10));
    assert_eq!(run.in_flight_units, 0);
    assert!(world.open_orders.list(&acme()).await.unwrap().is_empty());
}

#[tokio::test]
async fn rows_bigcommerce_refuses_are_dropped_and_the_rest_pushed_in_a_second_request() {
    let world = World::new(Store::with_parts(5, 4));
    world.store.refuse.lock().unwrap().insert(sku(2));

    let run = world.run().await;

    assert_eq!(world.store.writes(), vec![5, 4]);
    assert_eq!((run.pushed, run.write_calls), (4, 2), "{run:?}");
    assert!(run.refused.iter().any(|refused| refused.starts_with("SKU-00002 at location 1")), "{run:?}");
    assert_eq!(world.store.level(2), None);
    // Nothing recorded for the refused row, so a later run tries it again.
    let last = world.stock.last_pushed(&acme()).await.unwrap();
    assert!(!last.contains_key(&(Sku::new(sku(2)), StockLocation::DEFAULT)));
    assert_eq!(last.len(), 4);
}

#[tokio::test]
async fn a_failure_mid_run_saves_what_was_taken_and_the_next_run_finishes_the_rest() {
    // GIVEN 4,500 SKUs and BigCommerce failing the second of three requests
    let world = World::new(Store::with_parts(4_500, 9));
    *world.store.fail_write.lock().unwrap() = Some(2);

    // WHEN the sync runs
    let (run, failure) = world.sync.sync(&world.profile, now()).await;

    // THEN it stops there, the first request's rows are saved, the rest are not
    assert_eq!(failure, Some(ErrorClass::Transient));
    assert!(run.problem.as_deref().is_some_and(|problem| problem.contains("HTTP 503")), "{run:?}");
    assert_eq!(world.stock.last_pushed(&acme()).await.unwrap().len(), 2_000);

    // AND the next run pushes exactly what is left
    let next = world.run().await;
    assert_eq!((next.changed, next.pushed, next.write_calls), (2_500, 2_500, 2), "{next:?}");
    assert_eq!(world.stock.last_pushed(&acme()).await.unwrap().len(), 4_500);
}

#[tokio::test]
async fn a_level_edited_in_bigcommerce_is_drift_alerted_once_when_it_persists_across_two_reports() {
    // GIVEN 3 SKUs pushed (the first run's report finds nothing: it runs before the push)
    let world = World::new(Store::with_parts(3, 10));
    let first = world.run_at(now()).await;
    assert_eq!(first.drift.as_ref().map(|drift| drift.drifting), Some(0), "{first:?}");

    // WHEN someone sets one of them to 25 in BigCommerce, and the report runs an hour later
    world.store.edit_by_hand(1, 25);
    let second = world.run_at(now() + chrono::Duration::minutes(60)).await;

    // THEN it is drift, audited on the SKU, not yet alerted, and not written over
    let drift = second.drift.clone().expect("a drift report");
    assert_eq!((drift.drifting, drift.persisting, second.write_calls), (1, 0, 0), "{second:?}");
    assert!(world.alerter.sent().is_empty());
    let trail = world.audit.history(&RecordKey::new(acme(), RecordKind::SkuStock, sku(1))).await.unwrap();
    let event = trail.last().unwrap();
    assert_eq!((event.stage, event.outcome), (domain::Stage::Checked, domain::Outcome::Ok));
    assert!(event.message.as_deref().unwrap().contains("BigCommerce shows 25, computed 10"), "{event:?}");

    // WHEN a run inside the hour comes, no report is made
    let between = world.run_at(now() + chrono::Duration::minutes(90)).await;
    assert_eq!(between.drift, None);

    // WHEN the next report finds it still drifting, and the one after that too
    let third = world.run_at(now() + chrono::Duration::minutes(120)).await;
    let fourth = world.run_at(now() + chrono::Duration::minutes(180)).await;

    // THEN it is alerted, once, naming the row; and its record says it needs attention
    assert_eq!(third.drift.as_ref().map(|drift| drift.persisting), Some(1), "{third:?}");
    assert_eq!(fourth.drift.as_ref().map(|drift| drift.persisting), Some(1), "{fourth:?}");
    let alerts = world.alerter.sent();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].cause, "stock-drift");
    assert!(
        alerts[0].body.contains("SKU-00001 at location 1: BigCommerce shows 25, computed 10"),
        "{}",
        alerts[0].body
    );
    let trail = world.audit.history(&RecordKey::new(acme(), RecordKind::SkuStock, sku(1))).await.unwrap();
    assert_eq!(trail.last().unwrap().outcome, domain::Outcome::NeedsAttention);

    // WHEN Plex changes that part, the sync writes it and the drift is gone
    world.store.set(1, 12);
    world.run_at(now() + chrono::Duration::minutes(200)).await;
    assert_eq!(world.store.level(1), Some(12));
    let after = world.run_at(now() + chrono::Duration::minutes(260)).await;
    assert_eq!(after.drift.map(|drift| drift.drifting), Some(0));
}

#[tokio::test]
async fn a_drift_that_goes_away_between_reports_is_never_alerted() {
    let world = World::new(Store::with_parts(2, 10));
    world.run_at(now()).await;
    world.store.edit_by_hand(0, 9);
    world.run_at(now() + chrono::Duration::minutes(60)).await;
    // The order that BigCommerce had counted is now among the open orders the sync reads.
    world.store.edit_by_hand(0, 10);
    let next = world.run_at(now() + chrono::Duration::minutes(120)).await;
    assert_eq!(next.drift.map(|drift| (drift.drifting, drift.persisting)), Some((0, 0)));
    assert!(world.alerter.sent().is_empty());
}

#[tokio::test]
async fn a_dry_run_reports_what_it_would_push_and_writes_nothing() {
    // GIVEN 3 SKUs pushed, then one changed in Plex, and the connection set to dry run
    let mut world = World::new(Store::with_parts(3, 10));
    world.run().await;
    world.store.set(2, 4);
    world.profile.stock.dry_run = true;

    // WHEN the sync runs
    let run = world.run().await;

    // THEN it reports the one row with why, and neither BigCommerce nor the last push changed
    let dry = run.dry_run.clone().expect("a dry run's report");
    assert_eq!((dry.would_push, dry.would_refuse), (1, 0), "{run:?}");
    assert_eq!(
        dry.sample,
        vec![
            "SKU-00002 at location 1: BigCommerce 10 -> computed 4 (Plex on hand 4 - in flight 0 - safety 0 = 4; last pushed 10)"
        ]
    );
    assert!(run.summary().starts_with("dry run: 1 of 3"), "{}", run.summary());
    assert_eq!((run.write_calls, world.store.writes().len()), (0, 1));
    assert_eq!(world.store.level(2), Some(10));
    assert_eq!(
        world.stock.last_pushed(&acme()).await.unwrap().get(&(Sku::new(sku(2)), StockLocation::DEFAULT)),
        Some(&10)
    );

    // AND once dry run is off, the next run pushes it
    world.profile.stock.dry_run = false;
    world.run().await;
    assert_eq!(world.store.level(2), Some(4));
}

#[tokio::test]
async fn the_diff_shows_bigcommerce_now_beside_the_computed_level_and_a_row_bigcommerce_would_refuse() {
    // GIVEN 2 SKUs pushed, one since changed in Plex, and a location map sending a second Plex
    // location's stock to a BigCommerce location that does not exist
    let mut world = World::new(Store::with_parts(2, 10));
    world.run().await;
    world.store.set(0, 3);
    let diff = world.sync.diff(&world.profile).await.unwrap();
    let pending: Vec<(String, Option<i64>, i64)> =
        diff.comparison.pending().map(|row| (row.sku.to_string(), row.bigcommerce, row.computed)).collect();
    assert_eq!(pending, vec![(sku(0), Some(10), 3)]);
    assert!(!diff.would_fail());

    world.profile.stock.locations.map.insert("FG".into(), StockLocation(7));
    let diff = world.sync.diff(&world.profile).await.unwrap();
    assert!(diff.would_fail());
    let refused: Vec<String> = diff.comparison.refused().map(|row| row.refusal.clone().unwrap()).collect();
    assert_eq!(refused, vec!["BigCommerce has no inventory location 7"; 2]);
    // Writing nothing: BigCommerce still has the first run's levels only.
    assert_eq!(world.store.writes().len(), 1);
    assert_eq!(world.store.level(0), Some(10));
}

#[tokio::test]
async fn between_full_reads_a_run_reads_only_the_adjusted_parts_and_still_takes_open_orders_off_the_others() {
    // GIVEN 50 SKUs read in full and pushed
    let world = World::new(Store::with_parts(50, 20));
    let first = world.run_at(now()).await;
    assert!(first.read.starts_with("full: no full read yet"), "{first:?}");
    assert_eq!(world.store.plex_reads(), vec!["full"]);

    // WHEN 3 parts are adjusted in Plex and an order for 4 units of an unadjusted SKU is open
    for n in [3, 7, 9] {
        world.store.set(n, 11);
    }
    world.open(2001, &[(20, 4)]).await;
    let second = world.run_at(now() + chrono::Duration::minutes(5)).await;

    // THEN Plex is asked for the adjustments and those 3 parts only, and 4 rows are pushed: the
    // adjusted parts, and the order's SKU from the on-hand stored with its last push
    assert!(second.read.starts_with("incremental: 3 part(s)"), "{second:?}");
    assert_eq!(world.store.plex_reads(), vec!["id-3", "id-7", "id-9"]);
    assert_eq!((second.plex_calls, second.changed, second.write_calls), (4, 4, 1), "{second:?}");
    assert_eq!((world.store.level(3), world.store.level(20), world.store.level(21)), (Some(11), Some(16), Some(20)));

    // WHEN nothing changes, a run reads the adjustments only and writes nothing
    let third = world.run_at(now() + chrono::Duration::minutes(10)).await;
    assert_eq!((third.plex_calls, third.changed), (1, 0), "{third:?}");
    assert!(world.store.plex_reads().is_empty());

    // AND once the hour is up, a full read comes again
    let fourth = world.run_at(now() + chrono::Duration::minutes(60)).await;
    assert!(fourth.read.starts_with("full: a full read is due"), "{fourth:?}");
    assert_eq!(world.store.plex_reads(), vec!["full"]);
}

#[tokio::test]
async fn a_run_that_stops_early_reads_the_same_adjustments_again() {
    // GIVEN a full read pushed, then 2 parts adjusted and BigCommerce failing the next write
    let world = World::new(Store::with_parts(10, 5));
    world.run_at(now()).await;
    world.store.set(1, 6);
    world.store.set(2, 6);
    *world.store.fail_write.lock().unwrap() = Some(2);
    let (failed, failure) = world.sync.sync(&world.profile, now() + chrono::Duration::minutes(5)).await;
    assert_eq!(failure, Some(ErrorClass::Transient), "{failed:?}");
    let before = world.stock.progress(&acme()).await.unwrap().expect("the full read's progress");
    assert_eq!(before.adjustments_through, now(), "the failed run did not move the checkpoint");

    // WHEN the next run comes, it reads the adjustments from the same checkpoint
    let next = world.run_at(now() + chrono::Duration::minutes(10)).await;

    // THEN it finishes the work
    assert_eq!((next.changed, next.pushed), (2, 2), "{next:?}");
    assert_eq!((world.store.level(1), world.store.level(2)), (Some(6), Some(6)));
}

/// The committed samples `events/inventory-sync/{scheduled,job}.json`: the schedule's event and one
/// demo job, which the handler takes as Lambda hands them over.
#[tokio::test]
async fn the_sample_events_are_the_schedules_and_a_demo_job_and_the_handler_takes_both() {
    use domain::ports::memory::{InMemoryConnectionStore, InMemoryJobLeases, RecordingAlerter, RecordingJobQueue};
    let world = World::new(Store::with_parts(1, 1));
    let connections = Arc::new(InMemoryConnectionStore::default());
    let queue = Arc::new(RecordingJobQueue::default());
    let ports = jobs::Ports {
        connections,
        leases: Arc::new(InMemoryJobLeases::default()),
        queue: Some(queue.clone()),
        audit: world.audit.clone(),
        alerter: Arc::new(RecordingAlerter::new(chrono::Duration::hours(1))),
    };
    let runner = jobs::Runner::new(world.sync.clone(), ports, jobs::Settings::default());

    let scheduled: serde_json::Value =
        serde_json::from_str(include_str!("../../../events/inventory-sync/scheduled.json")).unwrap();
    assert_eq!(scheduled["detail-type"], "Scheduled Event");
    let fanned = jobs::handle(&runner, scheduled, "invocation-1", None).await.unwrap();
    assert_eq!(fanned["queued"], serde_json::json!([]), "no connection in this world");

    let job: serde_json::Value = serde_json::from_str(include_str!("../../../events/inventory-sync/job.json")).unwrap();
    let body: domain::job::JobMessage = serde_json::from_str(job["Records"][0]["body"].as_str().unwrap()).unwrap();
    assert_eq!((body.connection.as_str(), body.job.as_str()), ("demo", crate::JOB));
    let answer = jobs::handle(&runner, job, "invocation-2", None).await.unwrap();
    assert_eq!(answer, serde_json::json!({"batchItemFailures": []}));
    let key = RecordKey::new(ConnectionId::new("demo").unwrap(), RecordKind::Run, crate::JOB);
    assert_eq!(world.audit.history(&key).await.unwrap().len(), 1, "the unknown connection's job is recorded skipped");
}
