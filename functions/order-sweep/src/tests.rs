//! The sweep with the real order worker, both on the in-memory fakes of every port: the worker
//! holds orders, the sweep releases them, the worker maps the released messages.
//!
//! `World` is one connection (`acme`) whose Plex tenant knows the shopper's customer
//! (`buyer@acme.test`) and the part `BOLT`; every other SKU is unknown until a test adds it.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use domain::audit::{Outcome, Stage};
use domain::connection::{ConnectionProfile, OrderSettings};
use domain::message::{MessageSource, OrderMessage};
use domain::order::{Address, MappingGap, WebOrder, WebOrderLine};
use domain::ports::fakes::{self, FakeConnectionApis, FakePlexSales, FakeWebOrders, PlexCall};
use domain::ports::memory::{
    InMemoryAuditLog, InMemoryCheckpointStore, InMemoryConnectionStore, InMemoryHoldStore, InMemoryIdMap,
    InMemoryJobLeases, InMemoryOrderLedger, InMemoryQueueMarks, RecordingAlerter, RecordingJobQueue, RecordingQueue,
};
use domain::ports::{ApiError, AuditLog, CheckpointStore, ConnectionStore, HoldStore, OrderLedger, QueueMarks};
use domain::{ConnectionId, ErrorClass, LedgerStatus, OrderRef, RecordKey, RecordKind};
use order_worker::{Disposition, Worker};

use crate::{Ports, Settings, Sweep};

const BOLT: &str = "MW-BOLT-M8";

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z").unwrap().with_timezone(&Utc)
}

fn acme() -> ConnectionId {
    ConnectionId::new("acme").unwrap()
}

fn sku(value: &str) -> MappingGap {
    MappingGap::UnknownSku { sku: value.to_owned() }
}

struct World {
    connections: Arc<InMemoryConnectionStore>,
    ledger: Arc<InMemoryOrderLedger>,
    holds: Arc<InMemoryHoldStore>,
    audit: Arc<InMemoryAuditLog>,
    queue: Arc<RecordingQueue>,
    /// Written by the receiver (here, by the tests) and the sweep.
    marks: Arc<InMemoryQueueMarks>,
    checkpoints: Arc<InMemoryCheckpointStore>,
    /// The sweep's alerts (the worker's go elsewhere).
    alerts: Arc<RecordingAlerter>,
    web: Arc<FakeWebOrders>,
    plex: Arc<FakePlexSales>,
    worker: Worker,
    sweep: Sweep,
    /// The sweep on the scheduled-job runner, as its Lambda `main` wires it.
    runner: jobs::Runner<Sweep>,
}

impl World {
    async fn new(settings: Settings) -> World {
        let web = Arc::new(FakeWebOrders::default());
        let plex = Arc::new(FakePlexSales::default());
        plex.add_customer(fakes::acme_customer());
        plex.add_part("p-100", BOLT);
        let connections = Arc::new(InMemoryConnectionStore::default());
        connections.put(&profile(OrderSettings::default())).await.unwrap();
        let apis = Arc::new(FakeConnectionApis::default().with(acme(), web.clone(), plex.clone()));
        let ledger = Arc::new(InMemoryOrderLedger::default());
        let holds = Arc::new(InMemoryHoldStore::default());
        let audit = Arc::new(InMemoryAuditLog::default());
        let queue = Arc::new(RecordingQueue::default());
        let marks = Arc::new(InMemoryQueueMarks::default());
        let id_map = Arc::new(InMemoryIdMap::default());
        let checkpoints = Arc::new(InMemoryCheckpointStore::default());
        let alerts = Arc::new(RecordingAlerter::new(Duration::hours(1)));
        let worker = Worker::new(
            order_worker::Ports {
                ledger: ledger.clone(),
                audit: audit.clone(),
                alerter: Arc::new(RecordingAlerter::new(Duration::hours(1))),
                id_map: id_map.clone(),
                holds: holds.clone(),
                connections: connections.clone(),
                apis: apis.clone(),
                queue: queue.clone(),
                open_orders: Arc::new(domain::ports::memory::InMemoryOpenOrders::default()),
            },
            order_worker::Settings::default(),
        );
        let sweep = Sweep::new(
            Ports {
                connections: connections.clone(),
                holds: holds.clone(),
                ledger: ledger.clone(),
                id_map,
                queue: queue.clone(),
                queue_marks: marks.clone(),
                audit: audit.clone(),
                apis,
                checkpoints: checkpoints.clone(),
                alerter: alerts.clone(),
            },
            settings,
        );
        let runner = jobs::Runner::new(
            sweep.clone(),
            jobs::Ports {
                connections: connections.clone(),
                leases: Arc::new(InMemoryJobLeases::default()),
                queue: Some(Arc::new(RecordingJobQueue::default())),
                audit: audit.clone(),
                alerter: alerts.clone(),
            },
            jobs::Settings::default(),
        );
        World { connections, ledger, holds, audit, queue, marks, checkpoints, alerts, web, plex, worker, sweep, runner }
    }

    /// Places order `id` with one line per SKU and lets the worker process its webhook at `at`.
    async fn place(&self, id: u64, skus: &[&str], at: DateTime<Utc>) -> Disposition {
        self.place_from(MessageSource::Webhook, id, skus, at).await
    }

    /// [`World::place`], the message from `source`. A replay reads at once; a webhook's read
    /// waits out the second its message arrived in.
    async fn place_from(&self, source: MessageSource, id: u64, skus: &[&str], at: DateTime<Utc>) -> Disposition {
        self.web.put(web_order(id, skus));
        let message = OrderMessage {
            order: OrderRef::new(acme(), id),
            scope: "store/order/created".into(),
            delivery: format!("created-{id}"),
            source,
            received_at: at,
        };
        self.worker.for_invocation("req-webhook").process(&message, 1, at).await
    }

    /// One scheduled job of the sweep for acme at `now`, as the job queue delivers it: under the
    /// job's lease, audited on the run record.
    async fn sweep_at(&self, now: DateTime<Utc>) -> crate::ConnectionSweep {
        let message = domain::job::JobMessage {
            connection: acme(),
            job: crate::JOB.into(),
            run: format!("run-{now}"),
            requested_at: now,
        };
        let (jobs::JobRun::Done { report, .. } | jobs::JobRun::Failed { report, .. }) =
            self.runner.run_job(&message, 1, "req-job", None, now).await
        else {
            panic!("the sweep's job did not run");
        };
        serde_json::from_value(report.detail).expect("the job's detail is the sweep's report")
    }

    /// The worker processes every message the sweep queued so far, in order, at `now`.
    async fn work_queue(&self, now: DateTime<Utc>) -> Vec<(u64, Disposition)> {
        let mut done = Vec::new();
        for message in self.queue.messages() {
            assert_eq!(message.source, MessageSource::Sweep);
            let disposition = self.worker.for_invocation("req-sweep").process(&message, 1, now).await;
            done.push((message.order.order_id, disposition));
        }
        done
    }

    async fn held_ids(&self) -> Vec<u64> {
        self.holds.list(&acme()).await.unwrap().into_iter().map(|hold| hold.order.order_id).collect()
    }

    async fn status(&self, id: u64) -> LedgerStatus {
        self.ledger.get(&OrderRef::new(acme(), id)).await.unwrap().unwrap().status
    }
}

fn profile(orders: OrderSettings) -> ConnectionProfile {
    fakes::profile(acme(), orders)
}

/// A registered shopper's order (customer 7, `buyer@acme.test`), one of each SKU at 1.00.
fn web_order(id: u64, skus: &[&str]) -> WebOrder {
    WebOrder {
        id,
        status_id: 11,
        status: "Awaiting Fulfillment".into(),
        customer_id: 7,
        billing: Address { email: Some("buyer@acme.test".into()), ..Address::default() },
        shipping: vec![],
        lines: skus
            .iter()
            .enumerate()
            .map(|(index, sku)| WebOrderLine {
                line_id: 500 + index as u64,
                product_id: 1,
                variant_id: None,
                sku: (*sku).into(),
                name: (*sku).into(),
                quantity: 1.into(),
                unit_price: 1.into(),
                address_id: None,
            })
            .collect(),
        currency_code: "USD".into(),
        date_created: t0(),
        date_modified: t0(),
        customer_message: None,
    }
}

#[tokio::test]
async fn orders_held_for_one_sku_are_released_once_it_exists_for_one_plex_look_up() {
    // GIVEN three held orders: two wait for W-9, the third for W-9 and W-10
    let world = World::new(Settings::default()).await;
    for (id, skus) in [(1, vec![BOLT, "W-9"]), (2, vec!["W-9"]), (3, vec!["W-9", "W-10"])] {
        let at = t0() + Duration::seconds(id as i64);
        assert_eq!(world.place(id, &skus, at).await, Disposition::Done(Outcome::NeedsMapping));
    }
    assert_eq!(world.held_ids().await, vec![1, 2, 3]);

    // WHEN the sweep runs before anyone creates the parts
    let looked_up_before = world.plex.calls(PlexCall::PartByNumber);
    let nothing = world.sweep_at(t0() + Duration::minutes(5)).await;

    // THEN nothing is released, and each distinct gap cost one look-up
    assert_eq!((nothing.held, nothing.gaps_checked, nothing.plex_calls), (3, 2, 2));
    assert!(nothing.released.is_empty() && nothing.gaps_filled.is_empty());
    assert!(world.queue.messages().is_empty());

    // WHEN W-9 is created in Plex and the sweep runs again
    world.plex.add_part("p-9", "W-9");
    let swept = world.sweep_at(t0() + Duration::minutes(10)).await;

    // THEN the two orders waiting only for W-9 are queued again as sweep messages, the third stays held
    assert_eq!(swept.released, vec![1, 2]);
    assert_eq!(swept.gaps_filled.len(), 1);
    assert_eq!(swept.gaps_filled[0].how, "SKU \"W-9\" is Plex part W-9 (id p-9)");
    assert_eq!(world.held_ids().await, vec![3]);
    let replayed = world.audit.history(&OrderRef::new(acme(), 1).record_key()).await.unwrap();
    let replayed = replayed.iter().rfind(|event| event.stage == Stage::Replayed).unwrap();
    assert_eq!(replayed.actor, "order-sweep");
    assert!(replayed.message.as_deref().unwrap().contains("the mappings it waited for exist (SKU \"W-9\""));

    // AND the worker maps both from the cache the sweep filled: one Plex order each, no further look-up
    let worked = world.work_queue(t0() + Duration::minutes(11)).await;
    assert_eq!(worked, vec![(1, Disposition::Done(Outcome::Ok)), (2, Disposition::Done(Outcome::Ok))]);
    assert_eq!(world.plex.orders().len(), 2);
    assert_eq!((world.status(1).await, world.status(2).await), (LedgerStatus::Committed, LedgerStatus::Committed));
    assert_eq!(
        world.plex.calls(PlexCall::PartByNumber) - looked_up_before,
        4,
        "2 + 2 sweep look-ups, none by the worker"
    );

    // AND the run is on the connection's audit trail
    let run = world.audit.history(&RecordKey::new(acme(), RecordKind::Run, "order-sweep")).await.unwrap();
    let messages: Vec<_> = run.iter().map(|event| (event.outcome, event.message.clone().unwrap_or_default())).collect();
    assert_eq!(
        messages,
        vec![
            (
                Outcome::Ok,
                "0 held order(s) queued again, 0 stale hold(s) dropped, 0 order(s) recovered without a webhook"
                    .to_owned()
            ),
            (
                Outcome::Ok,
                "2 held order(s) queued again, 0 stale hold(s) dropped, 0 order(s) recovered without a webhook"
                    .to_owned()
            ),
        ],
        "every run is recorded"
    );
}

#[tokio::test]
async fn the_look_up_budget_serves_the_longest_waiting_order_first_and_the_rest_next_run() {
    // GIVEN two orders held for different SKUs, both of which now exist, and a budget of one look-up
    let world = World::new(Settings { max_lookups: 1, ..Settings::default() }).await;
    world.place(1, &["W-1"], t0()).await;
    world.place(2, &["W-2"], t0() + Duration::minutes(1)).await;
    world.plex.add_part("p-1", "W-1");
    world.plex.add_part("p-2", "W-2");

    // WHEN the sweep runs twice
    let first = world.sweep_at(t0() + Duration::minutes(5)).await;
    let second = world.sweep_at(t0() + Duration::minutes(10)).await;

    // THEN the older order goes first, the other on the next run, each within the budget
    assert_eq!((first.released, first.plex_calls), (vec![1], 1));
    assert_eq!((second.released, second.plex_calls), (vec![2], 1));
}

#[tokio::test]
async fn a_gap_closed_by_a_settings_change_releases_without_any_plex_call() {
    // GIVEN a guest order held because the connection had no guest customer
    let world = World::new(Settings::default()).await;
    world.web.put(WebOrder { customer_id: 0, ..web_order(1, &[BOLT]) });
    let message = OrderMessage::requeue(OrderRef::new(acme(), 1), MessageSource::Webhook, "d-1".into(), t0());
    assert_eq!(world.worker.process(&message, 1, t0()).await, Disposition::Done(Outcome::NeedsMapping));

    // WHEN an operator configures the guest customer and the sweep runs
    let mut changed = profile(OrderSettings::default());
    changed.orders.guest_customer_code = Some("ACME".into());
    world.connections.put(&changed).await.unwrap();
    let before = world.plex.total_calls();
    let swept = world.sweep_at(t0() + Duration::minutes(5)).await;

    // THEN the order is queued again, for free
    assert_eq!(swept.released, vec![1]);
    assert_eq!(swept.gaps_filled[0].how, "guest orders now go to Plex customer ACME");
    assert_eq!(world.plex.total_calls(), before);
}

#[tokio::test]
async fn a_leased_order_waits_for_the_next_run_and_a_stale_hold_is_dropped() {
    // GIVEN an order held for W-9 (which now exists) that a worker is busy with right now
    let world = World::new(Settings::default()).await;
    world.place(1, &["W-9"], t0()).await;
    world.plex.add_part("p-9", "W-9");
    let order = OrderRef::new(acme(), 1);
    world.ledger.acquire(&order, "req-busy", t0() + Duration::minutes(5), Duration::minutes(2)).await.unwrap();

    // WHEN the sweep runs during the lease, and again after it ran out
    let during = world.sweep_at(t0() + Duration::minutes(6)).await;
    let after = world.sweep_at(t0() + Duration::minutes(8)).await;

    // THEN it is left alone first, then queued
    assert!(during.released.is_empty());
    assert_eq!(after.released, vec![1]);

    // AND a hold whose order no longer waits (its entry is not held) is dropped, not queued
    world.place(2, &[BOLT], t0()).await;
    world
        .holds
        .hold(&domain::hold::Hold { order: OrderRef::new(acme(), 2), gaps: vec![sku("W-9")], held_at: t0() })
        .await
        .unwrap();
    let dropped = world.sweep_at(t0() + Duration::minutes(9)).await;
    assert_eq!((dropped.dropped, dropped.released), (vec![2], vec![]));
    assert!(world.held_ids().await.is_empty());
    assert_eq!(world.queue.messages().len(), 1);
}

#[tokio::test]
async fn only_the_orders_held_for_a_named_gap_are_checked_when_one_is_given() {
    // GIVEN orders held for W-1 and W-2, both of which now exist
    let world = World::new(Settings::default()).await;
    world.place(1, &["W-1"], t0()).await;
    world.place(2, &["W-2"], t0() + Duration::seconds(1)).await;
    world.plex.add_part("p-1", "W-1");
    world.plex.add_part("p-2", "W-2");

    // WHEN the sweep is asked about W-2 only (as after `millwright map`)
    let profile = world.connections.get(&acme()).await.unwrap().unwrap();
    let swept = world.sweep.release_held(&profile, Some(&sku("W-2")), t0() + Duration::minutes(1)).await;

    // THEN only that order is checked and released
    assert_eq!((swept.held, swept.gaps_checked, swept.released), (1, 1, vec![2]));
    assert_eq!(world.held_ids().await, vec![1]);
}

#[tokio::test]
async fn a_plex_outage_stops_the_run_keeps_every_hold_and_is_audited() {
    // GIVEN two orders held for two SKUs, and Plex failing
    let world = World::new(Settings::default()).await;
    world.place(1, &["W-1"], t0()).await;
    world.place(2, &["W-2"], t0() + Duration::seconds(1)).await;
    let outage = ApiError { class: ErrorClass::Transient, message: "HTTP 503 from Plex".into(), retry_after: None };
    world.plex.fail_next(PlexCall::PartByNumber, 5, outage);

    // WHEN the sweep runs
    let swept = world.sweep_at(t0() + Duration::minutes(5)).await;

    // THEN it stops at the first failure, releases nothing, and says so on the run's trail
    assert_eq!((swept.gaps_checked, swept.released.len()), (1, 0));
    assert_eq!(swept.problems.len(), 1);
    assert!(swept.problems[0].contains("HTTP 503 from Plex"), "{:?}", swept.problems);
    assert_eq!(world.held_ids().await.into_iter().collect::<HashSet<_>>(), HashSet::from([1, 2]));
    let run = world.audit.history(&RecordKey::new(acme(), RecordKind::Run, "order-sweep")).await.unwrap();
    assert_eq!((run[0].stage, run[0].outcome), (Stage::Checked, Outcome::Retried));
}

/// The committed sample `events/order-sweep/scheduled.json`: `make invoke` sends the same file, so
/// it must stay the scheduled event the template's rule delivers, and a sweep must still run on it.
#[tokio::test]
async fn the_sample_scheduled_event_drives_a_sweep_that_releases_an_order_whose_sku_now_exists() {
    // GIVEN the sample: the template's rule (`{stack}-order-sweep`) firing, with an empty detail
    let event: aws_lambda_events::eventbridge::EventBridgeEvent<serde_json::Value> =
        serde_json::from_str(include_str!("../../../events/order-sweep/scheduled.json"))
            .expect("the sample is an EventBridge event");
    assert_eq!((event.source.as_str(), event.detail_type.as_str()), ("aws.events", "Scheduled Event"));
    assert_eq!(event.detail, serde_json::json!({}), "a plain schedule names no connection");
    let rule = format!(
        "arn:aws:events:{}:{}:rule/millwright-order-sweep",
        event.region.as_deref().expect("a region"),
        event.account.as_deref().expect("an account")
    );
    assert_eq!(event.resources, Some(vec![rule]));
    let now = event.time.expect("a scheduled event carries its time");

    // AND two orders held one schedule period earlier: one for W-9, one for W-10
    let world = World::new(Settings::default()).await;
    let placed = now - Duration::minutes(5);
    assert_eq!(world.place(1, &[BOLT, "W-9"], placed).await, Disposition::Done(Outcome::NeedsMapping));
    let second = placed + Duration::seconds(1);
    assert_eq!(world.place(2, &["W-10"], second).await, Disposition::Done(Outcome::NeedsMapping));

    // WHEN W-9 is created in Plex and the sweep runs at the event's time
    world.plex.add_part("p-9", "W-9");
    let reports = world.sweep.run(now).await.unwrap();

    // THEN the order waiting for W-9 is queued again as a sweep message stamped with that time, and
    // the other stays held
    assert_eq!(reports.len(), 1);
    assert_eq!((reports[0].connection.clone(), reports[0].released.clone()), (Some(acme()), vec![1]));
    assert_eq!(world.held_ids().await, vec![2]);
    let queued = world.queue.messages();
    assert_eq!(queued.len(), 1);
    assert_eq!(
        (&queued[0].order, queued[0].source, queued[0].received_at),
        (&OrderRef::new(acme(), 1), MessageSource::Sweep, now)
    );
    let trail = world.audit.history(&OrderRef::new(acme(), 1).record_key()).await.unwrap();
    let replayed = trail.iter().rfind(|event| event.stage == Stage::Replayed).expect("a Replayed event");
    assert_eq!((replayed.at, replayed.actor.as_str()), (now, "order-sweep"));

    // AND the worker then makes it one Plex sales order
    let worked = world.work_queue(now + Duration::minutes(1)).await;
    assert_eq!(worked, vec![(1, Disposition::Done(Outcome::Ok))]);
    assert_eq!(world.plex.orders().len(), 1);
    assert_eq!(world.status(1).await, LedgerStatus::Committed);
}

#[tokio::test]
async fn a_scheduled_event_may_name_the_connections_to_sweep_and_a_bad_detail_is_refused_by_name() {
    // GIVEN an order held for W-9, which now exists, and the sweep on the runner with a job queue
    let world = World::new(Settings::default()).await;
    world.place(1, &["W-9"], t0()).await;
    world.plex.add_part("p-9", "W-9");
    let event = |detail: serde_json::Value| {
        let mut event = aws_lambda_events::eventbridge::EventBridgeEvent::<serde_json::Value>::default();
        event.detail_type = "Scheduled Event".into();
        event.source = "aws.events".into();
        event.detail = detail;
        event
    };

    // WHEN the event names another connection, then has a malformed detail, then names acme
    let other = world.runner.handle_scheduled(event(serde_json::json!({"connections": ["globex"]}))).await;
    let malformed = world.runner.handle_scheduled(event(serde_json::json!({"connections": "acme"}))).await;
    let acme_only = world.runner.handle_scheduled(event(serde_json::json!({"connections": ["acme"]}))).await;

    // THEN only the last queues acme's job; the malformed one names the field; none sweeps by itself
    assert_eq!(other.unwrap()["queued"], serde_json::json!([]));
    let refused = malformed.unwrap_err().to_string();
    assert!(refused.starts_with("the event's detail must be {} or {\"connections\": ["), "{refused}");
    assert_eq!(acme_only.unwrap()["queued"], serde_json::json!(["acme"]));
    assert!(world.queue.messages().is_empty(), "a fan-out queues jobs, never orders");
    // AND the job it queued releases the order
    let swept = world.sweep_at(t0() + Duration::minutes(5)).await;
    assert_eq!(swept.released, vec![1]);
}

/// Settings whose first reconciliation looks back `lookback` (none by default).
fn with_lookback(lookback: Duration) -> Settings {
    Settings {
        reconcile: crate::ReconcileSettings { first_lookback: lookback, ..crate::ReconcileSettings::default() },
        ..Settings::default()
    }
}

/// An order in the fake store modified at `modified`, with `status_id`.
fn listed(id: u64, status_id: u32, modified: DateTime<Utc>) -> WebOrder {
    WebOrder { status_id, date_modified: modified, ..web_order(id, &[BOLT]) }
}

fn queued_ids(world: &World) -> Vec<u64> {
    world.queue.messages().iter().map(|message| message.order.order_id).collect()
}

#[tokio::test]
async fn orders_no_webhook_brought_are_queued_once_audited_and_alerted_and_the_checkpoint_moves_on() {
    // GIVEN a store with two orders the worker never heard of, an incomplete checkout, and an order
    // modified a moment ago whose webhook is probably in flight
    let world = World::new(with_lookback(Duration::hours(24))).await;
    let now = t0() + Duration::hours(1);
    world.web.put(listed(11, 11, t0()));
    world.web.put(listed(12, 11, t0() + Duration::minutes(10)));
    world.web.put(listed(13, 0, t0() + Duration::minutes(20)));
    world.web.put(listed(14, 11, now - Duration::seconds(30)));

    // WHEN the sweep runs twice
    let first = world.sweep_at(now).await;
    let second = world.sweep_at(now + Duration::minutes(5)).await;

    // THEN the two missed orders were queued by the first run, once, as sweep messages
    assert_eq!(first.recovered, vec![11, 12]);
    assert_eq!(first.bigcommerce_calls, 1);
    assert_eq!(queued_ids(&world), vec![11, 12, 14]);
    assert_eq!(second.recovered, vec![14], "the settled order comes in the next window, the others not again");
    // AND each has the sweep's `received` event saying why, and the connection one alert
    let trail = world.audit.history(&OrderRef::new(acme(), 11).record_key()).await.unwrap();
    assert_eq!((trail[0].stage, trail[0].actor.as_str()), (Stage::Received, "order-sweep"));
    assert!(trail[0].message.as_deref().unwrap().ends_with("no webhook brought it to the worker"), "{trail:?}");
    let alerts = world.alerts.sent();
    assert_eq!(alerts.len(), 1, "one alert per window: {alerts:?}");
    assert_eq!(alerts[0].cause, "missed-webhooks");
    assert!(alerts[0].subject.ends_with("2 order(s) arrived without a webhook"), "{}", alerts[0].subject);
    // AND the checkpoint stands at the end of the second window
    let stream = domain::SyncStream::new(acme(), crate::reconcile::STREAM);
    let checkpoint = world.checkpoints.load(&stream).await.unwrap().unwrap();
    assert_eq!((checkpoint.watermark, checkpoint.revision), (now + Duration::minutes(3), 2));
}

#[tokio::test]
async fn an_order_changed_after_the_worker_read_it_is_queued_unless_a_worker_has_it_now() {
    // GIVEN two orders the worker wrote, both changed in the store afterwards without a webhook
    let world = World::new(with_lookback(Duration::hours(24))).await;
    for id in [21, 22] {
        world.web.put(listed(id, 11, t0()));
        let message = OrderMessage::requeue(OrderRef::new(acme(), id), MessageSource::Webhook, format!("d-{id}"), t0());
        assert_eq!(world.worker.process(&message, 1, t0()).await, Disposition::Done(Outcome::Ok));
        world.web.put(listed(id, 11, t0() + Duration::minutes(30)));
    }
    // AND a worker is busy with order 22 right now
    let now = t0() + Duration::hours(1);
    world.ledger.acquire(&OrderRef::new(acme(), 22), "req-busy", now, Duration::minutes(2)).await.unwrap();

    // WHEN the sweep runs
    let swept = world.sweep_at(now).await;

    // THEN only the idle one is queued, naming the state the worker last read
    assert_eq!(swept.recovered, vec![21]);
    let trail = world.audit.history(&OrderRef::new(acme(), 21).record_key()).await.unwrap();
    let found = trail.iter().rfind(|event| event.actor == "order-sweep").unwrap();
    assert!(found.message.as_deref().unwrap().contains("after the state the worker last read"), "{found:?}");

    // AND once the worker has read the new state (the same content: a duplicate for Plex), a later
    // window over the same orders does not queue it again
    let worked = world.work_queue(now).await;
    assert_eq!(worked, vec![(21, Disposition::Done(Outcome::Duplicate))]);
    let stream = domain::SyncStream::new(acme(), crate::reconcile::STREAM);
    world
        .checkpoints
        .save(&stream, &domain::Checkpoint::starting_at(t0()), world.checkpoints.load(&stream).await.unwrap().as_ref())
        .await
        .unwrap();
    let again = world.sweep_at(now + Duration::minutes(1)).await;
    assert!(!again.recovered.contains(&21), "{:?}", again.recovered);
}

#[tokio::test]
async fn the_window_is_paged_by_modification_time_and_one_seconds_full_page_by_page_number() {
    // GIVEN five missed orders, three modified in the same second, read two at a time
    let settings = Settings {
        reconcile: crate::ReconcileSettings {
            page_size: 2,
            first_lookback: Duration::hours(24),
            ..crate::ReconcileSettings::default()
        },
        ..Settings::default()
    };
    let world = World::new(settings).await;
    let same = t0() + Duration::minutes(5);
    for (id, modified) in [(31, t0()), (32, same), (33, same), (34, same), (35, t0() + Duration::minutes(9))] {
        world.web.put(listed(id, 11, modified));
    }

    // WHEN the sweep runs
    let swept = world.sweep_at(t0() + Duration::hours(1)).await;

    // THEN every order is queued exactly once, in modification order
    assert_eq!(swept.recovered, vec![31, 32, 33, 34, 35]);
    assert_eq!(queued_ids(&world), vec![31, 32, 33, 34, 35]);
    assert!(swept.bigcommerce_calls <= 5, "{} calls", swept.bigcommerce_calls);
}

#[tokio::test]
async fn a_failed_listing_keeps_the_checkpoint_so_the_next_run_reads_the_window_again() {
    // GIVEN a missed order and BigCommerce failing the list
    let world = World::new(with_lookback(Duration::hours(24))).await;
    world.web.put(listed(41, 11, t0()));
    let outage =
        ApiError { class: ErrorClass::Transient, message: "HTTP 502 from BigCommerce".into(), retry_after: None };
    world.web.fail_next(1, outage);

    // WHEN the sweep runs, then runs again once BigCommerce answers
    let failed = world.sweep_at(t0() + Duration::hours(1)).await;
    let stream = domain::SyncStream::new(acme(), crate::reconcile::STREAM);
    let after_failure = world.checkpoints.load(&stream).await.unwrap();
    let recovered = world.sweep_at(t0() + Duration::hours(1) + Duration::minutes(5)).await;

    // THEN the failure is reported and nothing moved; the next run finds the order
    assert!(failed.problems[0].contains("HTTP 502 from BigCommerce"), "{:?}", failed.problems);
    assert_eq!(after_failure, None);
    assert_eq!(recovered.recovered, vec![41]);
}

#[tokio::test]
async fn a_new_connections_first_run_does_not_import_orders_from_before_it_was_swept() {
    // GIVEN a store with an order from yesterday and one from three minutes ago, and no checkpoint
    let world = World::new(Settings::default()).await;
    let now = t0() + Duration::days(1);
    world.web.put(listed(51, 11, t0()));
    world.web.put(listed(52, 11, now - Duration::minutes(3)));

    // WHEN the first sweep runs
    let swept = world.sweep_at(now).await;

    // THEN only the order inside the overlap before the settle time counts as missed
    assert_eq!(swept.recovered, vec![52]);
}

#[tokio::test]
async fn a_backfill_queues_the_unseen_orders_of_its_window_without_touching_the_checkpoint_or_alerting() {
    // GIVEN orders from before the connection was swept: one the worker wrote (read a minute after
    // its modification), two it never saw
    let world = World::new(Settings::default()).await;
    world.place(61, &[BOLT], t0() + Duration::minutes(1)).await;
    world.web.put(listed(62, 11, t0() + Duration::hours(1)));
    world.web.put(listed(63, 11, t0() + Duration::hours(2)));
    world.web.put(listed(64, 11, t0() + Duration::hours(5)));
    let profile = world.connections.get(&acme()).await.unwrap().unwrap();
    let now = t0() + Duration::days(1);

    // WHEN an operator backfills the first three hours, first as a dry run
    let dry = world.sweep.backfill(&profile, t0(), t0() + Duration::hours(3), true, now).await;
    let real = world.sweep.backfill(&profile, t0(), t0() + Duration::hours(3), false, now).await;

    // THEN the dry run lists and queues nothing; the real one queues the two unseen orders of the window
    assert_eq!(dry.recovered, vec![62, 63]);
    assert_eq!(real.recovered, vec![62, 63]);
    assert_eq!(queued_ids(&world), vec![62, 63]);
    let trail = world.audit.history(&OrderRef::new(acme(), 62).record_key()).await.unwrap();
    assert!(trail[0].message.as_deref().unwrap().starts_with("found by a backfill and queued"), "{trail:?}");
    // AND the sweep's checkpoint and alerts are untouched; the run is on its own trail
    let stream = domain::SyncStream::new(acme(), crate::reconcile::STREAM);
    assert_eq!(world.checkpoints.load(&stream).await.unwrap(), None);
    assert!(world.alerts.sent().is_empty());
    let run = world.audit.history(&RecordKey::new(acme(), RecordKind::Run, "backfill")).await.unwrap();
    assert_eq!(run.len(), 1, "the dry run records nothing");
    assert!(run[0].message.as_deref().unwrap().ends_with("3 listed, 2 queued"), "{run:?}");
}

/// The receiver's queued mark for order `id`, as it writes it after its enqueue.
async fn mark_queued(world: &World, id: u64, at: DateTime<Utc>) {
    world.marks.mark_queued(&OrderRef::new(acme(), id), at).await.unwrap();
}

#[tokio::test]
async fn an_order_whose_webhook_was_queued_but_not_yet_read_is_not_queued_by_two_runs() {
    // GIVEN a backlog: order 71's webhook was queued a second after its change, and the worker has
    // not read it yet (no ledger entry)
    let world = World::new(with_lookback(Duration::hours(24))).await;
    world.web.put(listed(71, 11, t0()));
    mark_queued(&world, 71, t0() + Duration::seconds(1)).await;

    // WHEN the sweep runs twice with the order inside both windows (the overlap)
    let first = world.sweep_at(t0() + Duration::minutes(3)).await;
    let second = world.sweep_at(t0() + Duration::minutes(6)).await;

    // THEN neither queues it nor alerts: the waiting message reads it after both runs
    assert!(world.queue.messages().is_empty(), "{:?}", queued_ids(&world));
    assert_eq!((first.recovered, second.recovered), (vec![], vec![]));
    assert!(world.alerts.sent().is_empty());

    // AND once the worker has read it a minute later, a later change without a webhook is queued
    let read = t0() + Duration::minutes(7);
    world.place(71, &[BOLT], read).await;
    world.web.put(listed(71, 11, read + Duration::seconds(30)));
    let third = world.sweep_at(read + Duration::minutes(3)).await;
    assert_eq!(third.recovered, vec![71]);
}

#[tokio::test]
async fn the_missed_webhooks_alert_names_only_orders_no_message_was_queued_for() {
    // GIVEN three orders changed at t0: 81 with no webhook at all; 82 whose webhook is queued but
    // unread; 83 whose webhook was queued and then read within the same second of its change (by
    // a replay, which reads at once)
    let world = World::new(with_lookback(Duration::hours(24))).await;
    world.web.put(listed(81, 11, t0()));
    world.web.put(listed(82, 11, t0()));
    mark_queued(&world, 82, t0() + Duration::milliseconds(100)).await;
    mark_queued(&world, 83, t0() + Duration::milliseconds(100)).await;
    world.place_from(MessageSource::Replay, 83, &[BOLT], t0() + Duration::milliseconds(200)).await;

    // WHEN the sweep runs
    let swept = world.sweep_at(t0() + Duration::minutes(3)).await;

    // THEN 81 is recovered and alerted; 83 is queued once more to read it again, without an
    // alert; 82 is left to its message
    assert_eq!(swept.recovered, vec![81]);
    assert_eq!(swept.requeued, vec![83]);
    assert_eq!(queued_ids(&world), vec![81, 83]);
    let alerts = world.alerts.sent();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(alerts[0].subject.ends_with("1 order(s) arrived without a webhook"), "{}", alerts[0].subject);
    assert!(alerts[0].body.contains("queued them: 81."), "{}", alerts[0].body);
}

#[tokio::test]
async fn a_second_change_in_the_second_the_worker_read_is_queued_once_and_written() {
    // GIVEN order 91 changed at t0.0, queued at t0.2 and read by the worker at t0.3 (a replay,
    // which reads at once); then changed again at t0.8 (the same `date_modified`, whole seconds)
    // and that webhook lost
    let world = World::new(with_lookback(Duration::hours(24))).await;
    mark_queued(&world, 91, t0() + Duration::milliseconds(200)).await;
    let read = world.place_from(MessageSource::Replay, 91, &[BOLT], t0() + Duration::milliseconds(300)).await;
    assert_eq!(read, Disposition::Done(Outcome::Ok));
    let mut changed = web_order(91, &[BOLT]);
    changed.lines[0].quantity = 5.into();
    world.web.put(changed);

    // WHEN the sweep runs twice before the worker gets to its message
    let first = world.sweep_at(t0() + Duration::minutes(3)).await;
    let second = world.sweep_at(t0() + Duration::minutes(6)).await;

    // THEN it is queued once, not alerted
    assert_eq!((first.requeued, first.recovered), (vec![91], vec![]));
    assert_eq!((second.requeued, second.recovered), (vec![], vec![]));
    assert_eq!(queued_ids(&world), vec![91]);
    assert!(world.alerts.sent().is_empty());
    let trail = world.audit.history(&OrderRef::new(acme(), 91).record_key()).await.unwrap();
    let found = trail.iter().rfind(|event| event.actor == "order-sweep").unwrap();
    assert!(found.message.as_deref().unwrap().contains("within that second"), "{found:?}");

    // AND the worker writes the second change; a later run leaves the order alone
    let worked = world.work_queue(t0() + Duration::minutes(7)).await;
    assert_eq!(worked, vec![(91, Disposition::Done(Outcome::Ok))]);
    let orders = world.plex.orders();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].lines[0].line.quantity, 5.into());
    let third = world.sweep_at(t0() + Duration::minutes(9)).await;
    assert_eq!((third.requeued, third.recovered), (vec![], vec![]));
    assert_eq!(queued_ids(&world), vec![91]);
}

#[tokio::test]
async fn an_order_its_webhook_brought_is_not_read_again_by_the_sweep() {
    // GIVEN order 95 changed at t0.0, its webhook queued at t0.2 and processed at once: the
    // worker's read waits out that second
    let world = World::new(with_lookback(Duration::hours(24))).await;
    mark_queued(&world, 95, t0() + Duration::milliseconds(200)).await;
    assert_eq!(world.place(95, &[BOLT], t0() + Duration::milliseconds(200)).await, Disposition::Done(Outcome::Ok));

    // WHEN the sweep runs
    let swept = world.sweep_at(t0() + Duration::minutes(3)).await;

    // THEN it leaves the order alone: that one read has seen every change stamped t0
    assert_eq!((swept.requeued, swept.recovered), (vec![], vec![]));
    assert!(world.queue.messages().is_empty(), "{:?}", queued_ids(&world));
}

/// The committed sample `events/order-sweep/job.json`: what the function's job queue delivers for the
/// demo connection, one record per invocation. `make invoke` sends the same file.
#[tokio::test]
async fn the_sample_job_event_is_one_sweep_job_for_the_demo_connection_that_the_handler_runs() {
    let sample: serde_json::Value =
        serde_json::from_str(include_str!("../../../events/order-sweep/job.json")).expect("the sample is JSON");
    let event: aws_lambda_events::sqs::SqsEvent = serde_json::from_value(sample.clone()).expect("an SQS event");
    assert_eq!(event.records.len(), 1, "one job per invocation (BatchSize: 1)");
    let record = &event.records[0];
    let body = record.body.as_deref().expect("a body");
    let message: domain::job::JobMessage = serde_json::from_str(body).expect("the body is a job message");
    assert_eq!((message.connection.as_str(), message.job.as_str()), ("demo", crate::JOB));
    assert!(record.event_source_arn.as_deref().is_some_and(|arn| arn.ends_with(&format!("-{}-jobs", crate::JOB))));

    // The handler takes it as the Lambda runtime hands it over; in a world without the demo
    // connection the job is acknowledged and recorded as skipped.
    let world = World::new(Settings::default()).await;
    let answer = jobs::handle(&world.runner, sample, "invocation-1", None).await.expect("the handler answers");
    assert_eq!(answer, serde_json::json!({"batchItemFailures": []}));
    let key = RecordKey::new(ConnectionId::new("demo").unwrap(), RecordKind::Run, crate::JOB);
    let trail = world.audit.history(&key).await.unwrap();
    assert_eq!(trail.iter().map(|event| event.outcome).collect::<Vec<_>>(), vec![Outcome::Skipped]);
}
