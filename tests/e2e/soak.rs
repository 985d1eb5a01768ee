//! The project's own fault soak: a seeded, reproducible run of the whole orders flow under the
//! faults the APIs really produce, checked order by order at the end.
//!
//! A run ([`run`]) starts a world of its own ([`OrderFlow`]: its sandbox, connection, FIFO queue
//! and dead-letter queue with the template's redrive, and a local runtime with the order sweep and
//! the webhook health check on the deployed schedules, scaled by the plan's time scale). It then
//! plays its plan's script ([`SoakPlan::script`]): orders of 1 to 3 lines, some callbacks sent two
//! or three times, updates (some twice within one second), operator replays through the
//! `millwright replay` code path, and for a period a mix of faults on a few percent of both APIs'
//! calls (seeded rules on the doubles' control planes, plus short BigCommerce 429 storms). Once the
//! faults are cleared and the queue has drained (a bounded wait), it holds every order the
//! BigCommerce double has against the Plex double's sales orders and counts what ended wrong, what
//! needed an operator, what was dead-lettered, the API calls per order, and any secret that reached
//! a log, a stored record, an alert or a dead-letter message ([`SoakReport`]).
//!
//! `make test` runs a small plan (`tests/e2e/fault_soak.rs`), `make soak` a long one, `make bench`
//! a small one for a row of its table. Nothing here asserts on time: the drain is bounded, and its
//! duration is a figure.

mod check;
mod plan;
mod report;
mod watch;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use domain::ledger::LedgerStatus;
use domain::{OrderMessage, OrderRef};
use reqwest::Method;
use sandbox::demo;
use serde_json::json;

pub use plan::{Action, FIRST_ORDER_ID, ITEMS, PlannedLine, PlannedOrder, Script, SoakPlan, Step};
pub use report::{READS_PER_CHANGE_GOAL, SoakReport, SoakRow};
pub use watch::{ApiCalls, RecordingAlerter, SecretWatch, log_layer, log_watch, logs_watched, watch_logs};

use crate::support::{FlowOptions, OrderFlow, World, with};

/// The seed `make test` runs unless `SOAK_SEED` names another.
pub const DEFAULT_SEED: u64 = 8;

/// How often the doubles' request logs are read while the soak runs (they keep 10,000 entries).
const COUNT_EVERY: Duration = Duration::from_secs(2);

/// Polls of an empty queue with no webhook retry due, one a second, that make the queue drained.
const QUIET_POLLS: u32 = 3;

/// Who the soak's replays name, as `millwright replay` names the operator.
const REPLAY_ACTOR: &str = "cli:soak";

/// The `SOAK_SEED` environment variable, when it holds a seed.
pub fn seed_from_env() -> Option<u64> {
    std::env::var("SOAK_SEED").ok().and_then(|seed| seed.trim().parse().ok())
}

/// Runs `plan` in a world of its own and reports. Needs the local world's environment (moto), as
/// the end-to-end tests do; panics when it cannot set its world up.
pub async fn run(plan: &SoakPlan) -> SoakReport {
    let started = Instant::now();
    let script = plan.script();
    let flow = start_flow(plan).await;
    let alerts = flow.alerts.clone();
    let flow = flow.flow;
    // Only the run's own calls count, not the hooks' registration.
    for system in ["bigcommerce", "plex"] {
        flow.world.control(system, Method::DELETE, "/requests", None).await;
    }
    let mut calls = Calls::default();
    let mut deliveries = Deliveries::default();
    let mut replay_problems = Vec::new();

    let traffic_started = Instant::now();
    let mut counted = Instant::now();
    for step in &script.steps {
        let due = traffic_started + step.at;
        while Instant::now() < due {
            if counted.elapsed() >= COUNT_EVERY {
                calls.update(&flow.world).await;
                counted = Instant::now();
            }
            tokio::time::sleep(due.saturating_duration_since(Instant::now()).min(COUNT_EVERY)).await;
        }
        if let Some(problem) = perform(&flow, plan, &script, &step.action).await {
            replay_problems.push(problem);
        }
    }
    clear_faults(&flow.world).await;

    // Drained: the queue empty (nothing visible or in flight) and no webhook retry still due, on
    // a few polls in a row.
    let drain_started = Instant::now();
    let mut quiet_since: Option<Instant> = None;
    let mut quiet_polls = 0;
    let drained = loop {
        let (queued, _) = flow.queue_depths().await;
        let retries_due = deliveries.update(&flow.world).await;
        if queued == 0 && retries_due == 0 {
            quiet_since.get_or_insert_with(Instant::now);
            quiet_polls += 1;
        } else {
            quiet_since = None;
            quiet_polls = 0;
        }
        if quiet_polls >= QUIET_POLLS {
            break true;
        }
        if drain_started.elapsed() >= plan.drain_cap {
            break false;
        }
        if counted.elapsed() >= COUNT_EVERY {
            calls.update(&flow.world).await;
            counted = Instant::now();
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let drain = quiet_since.unwrap_or_else(Instant::now).saturating_duration_since(drain_started);
    calls.update(&flow.world).await;

    let ids: Vec<u64> = script.orders.iter().map(|order| order.id).collect();
    let findings = inspect(&flow, &ids).await;
    let dead_letters = dead_letters(&flow).await;
    let secrets = SecretWatch::default();
    for record in &findings.records {
        secrets.scan(&record.0, &record.1);
    }
    for (_, body) in &dead_letters.messages {
        secrets.scan("a dead-letter message", body);
    }
    let alerts = alerts.alerts();
    for (alert, _) in &alerts {
        secrets.scan("an alert", &format!("{}\n{}\n{}", alert.cause, alert.subject, alert.body));
    }
    let runtime = flow.stop().await;
    let mut leaks = secrets.leaks();
    leaks.extend(log_watch().leaks());

    SoakReport {
        plan: plan.clone(),
        placed: script.count(|action| matches!(action, Action::Place { .. })),
        duplicated: script.count(|action| matches!(action, Action::Place { deliveries, .. } if *deliveries > 1)),
        updates: script.count(|action| matches!(action, Action::Update { .. })),
        same_second_pairs: script.count(|action| matches!(action, Action::SameSecondUpdates { .. })),
        replays: script.count(|action| matches!(action, Action::Replay { .. })),
        replay_problems,
        callbacks: deliveries.callbacks,
        callback_retries: deliveries.retries,
        wrong: findings.wrong,
        needed_operator: findings.needed_operator,
        ledger: findings.ledger,
        taken_for_missed: findings.taken_for_missed,
        dead_lettered: dead_letters.orders,
        dlq_depth: dead_letters.depth,
        alerts: alerts
            .iter()
            .map(|(alert, outcome)| match outcome {
                Ok(outcome) => format!("{}: {} ({outcome:?})", alert.cause, alert.subject),
                Err(error) => format!("{}: {} (not sent: {error})", alert.cause, alert.subject),
            })
            .collect(),
        bigcommerce: calls.bigcommerce,
        plex: calls.plex,
        drained,
        drain,
        leaks,
        logs_watched: logs_watched(),
        texts_scanned: secrets.scanned() + log_watch().scanned(),
        runtime,
        took: started.elapsed(),
    }
}

struct SoakFlow {
    flow: OrderFlow,
    alerts: RecordingAlerter,
}

/// The run's world: a sandbox with the plan's time scale, the deployment's alerter recorded, and
/// the order flow with the sweep and the health check on the deployed schedules, scaled.
async fn start_flow(plan: &SoakPlan) -> SoakFlow {
    let mut world = World::start_scaled(plan.time_scale, |_| {}).await;
    let alerts = RecordingAlerter::wrapping(world.deps.alerter.clone());
    world.deps.alerter = Arc::new(alerts.clone());
    let mut sweep_settings = order_sweep::Settings::default();
    let reconcile = &mut sweep_settings.reconcile;
    reconcile.overlap = scaled_window(plan, reconcile.overlap);
    reconcile.settle = scaled_window(plan, reconcile.settle);
    let options = FlowOptions {
        visibility_timeout: plan.visibility_timeout(),
        max_receive_count: 5,
        http_timeout: plan.http_timeout,
        register_hooks: true,
        start_runtime: true,
        sweep_every: Some(plan.scaled(plan::DEPLOYED_SWEEP_EVERY)),
        webhook_health_every: Some(plan.scaled(plan::DEPLOYED_HEALTH_EVERY)),
        sweep_settings,
        // The API timeouts are not scaled, so neither is the invocation's.
        ..FlowOptions::default()
    };
    SoakFlow { flow: OrderFlow::start_with(world, options).await, alerts }
}

fn scaled_window(plan: &SoakPlan, window: chrono::Duration) -> chrono::Duration {
    let scaled = window.to_std().map(|window| plan.scaled(window)).unwrap_or_default();
    chrono::Duration::from_std(scaled).unwrap_or(window)
}

/// Does one step; returns what went wrong with a replay (the other steps panic: they only drive
/// the doubles' control planes, which never fault).
async fn perform(flow: &OrderFlow, plan: &SoakPlan, script: &Script, action: &Action) -> Option<String> {
    let change = |order: usize, quantities: &[u32]| json!({"products": script.orders[order].products(quantities)});
    match action {
        Action::Place { order, deliveries } => {
            flow.place_order(with(script.orders[*order].document(), json!({"deliveries": deliveries}))).await;
        }
        Action::Update { order, quantities } => {
            flow.change_order(script.orders[*order].id, change(*order, quantities)).await;
        }
        Action::SameSecondUpdates { order, first, second } => {
            // Both inside one second of the double's clock (the system clock): start early in one.
            let into_second = chrono::Utc::now().timestamp_subsec_millis();
            if into_second > 600 {
                tokio::time::sleep(Duration::from_millis(u64::from(1_000 - into_second) + 20)).await;
            }
            let id = script.orders[*order].id;
            flow.change_order(id, change(*order, first)).await;
            flow.change_order(id, change(*order, second)).await;
        }
        Action::Replay { order } => {
            let id = script.orders[*order].id;
            let replayed =
                millwright_cli::replay::orders(&flow.world.deps, &flow.world.connection, &[id], REPLAY_ACTOR).await;
            match replayed {
                Ok(report) if report.is_clean() => {}
                Ok(report) => return Some(format!("order {id}: replay {report:?}")),
                Err(error) => return Some(format!("order {id}: replay failed: {error:#}")),
            }
        }
        Action::FaultsOn => {
            for (system, rule) in plan.fault_rules() {
                flow.world.inject_fault(system, rule).await;
            }
        }
        Action::Storm => flow.world.inject_fault("bigcommerce", plan.storm_rule()).await,
        Action::FaultsOff => clear_faults(&flow.world).await,
    }
    None
}

async fn clear_faults(world: &World) {
    for system in ["bigcommerce", "plex"] {
        let response = world.control(system, Method::DELETE, "/faults", None).await;
        assert!(response.status().is_success(), "clearing the {system} faults: {}", response.status());
    }
}

/// Both doubles' request logs, counted as they grow.
#[derive(Default)]
struct Calls {
    bigcommerce: ApiCalls,
    plex: ApiCalls,
}

impl Calls {
    async fn update(&mut self, world: &World) {
        self.bigcommerce.update(world, "bigcommerce").await;
        self.plex.update(world, "plex").await;
    }
}

/// The BigCommerce double's webhook delivery log, read as it grows: callbacks sent, retries, and
/// whether a retry is still due.
#[derive(Default)]
struct Deliveries {
    after: u64,
    /// Per delivery (one copy of one callback to one hook): whether it still waits for an answer
    /// or a retry.
    pending: HashMap<String, bool>,
    callbacks: u64,
    retries: u64,
}

impl Deliveries {
    /// Reads the new attempts; returns how many deliveries still wait for an answer or a retry.
    /// An attempt without an answer or an error yet is read again next time.
    async fn update(&mut self, world: &World) -> usize {
        let path = format!("/deliveries?after={}", self.after);
        let attempts = world.control_json("bigcommerce", Method::GET, &path, None).await;
        for attempt in attempts.as_array().map(Vec::as_slice).unwrap_or_default() {
            let settled = !attempt["status"].is_null() || !attempt["error"].is_null();
            let delivery = attempt["delivery_id"].to_string();
            if !settled {
                self.pending.insert(delivery, true);
                break;
            }
            if attempt["attempt"].as_u64() == Some(1) {
                self.callbacks += 1;
            } else {
                self.retries += 1;
            }
            self.pending.insert(delivery, !attempt["retry_in_ms"].is_null());
            self.after = attempt["seq"].as_u64().unwrap_or(self.after);
        }
        self.pending.values().filter(|pending| **pending).count()
    }
}

/// What the end of the run found, order by order.
struct Findings {
    wrong: Vec<(u64, Vec<String>)>,
    needed_operator: Vec<(u64, String)>,
    ledger: BTreeMap<String, usize>,
    /// Orders the sweep queued for a missed webhook, with why.
    taken_for_missed: Vec<(u64, String)>,
    /// `(where, JSON)` of every stored record read, for the secret check.
    records: Vec<(String, String)>,
}

/// Holds each order against both doubles and reads its ledger entry and audit trail.
async fn inspect(flow: &OrderFlow, ids: &[u64]) -> Findings {
    let state = flow.world.control_json("bigcommerce", Method::GET, "/state", None).await;
    let sales_orders = flow.world.control_json("plex", Method::GET, "/sales-orders", None).await;
    let expected = check::expected_orders(
        &state,
        ids,
        flow.world.profile.orders.due_in_days,
        demo::PLEX_WEB_CUSTOMER_ID,
        demo::PLEX_FITTER_CUSTOMER_ID,
    );
    let plex = check::plex_orders_by_web_order(&sales_orders);
    let mut wrong = Vec::new();
    for (id, expected) in &expected {
        let reasons = match expected {
            Ok(expected) => check::differences(expected, plex.get(id).map(Vec::as_slice).unwrap_or_default()),
            Err(reason) => vec![reason.clone()],
        };
        if !reasons.is_empty() {
            wrong.push((*id, reasons));
        }
    }

    // The ledger and the audit trail, a few orders at a time (moto answers one request at a time).
    let mut records = Vec::new();
    let mut needed_operator = Vec::new();
    let mut ledger: BTreeMap<String, usize> = BTreeMap::new();
    let mut taken_for_missed = Vec::new();
    for chunk in ids.chunks(8) {
        let mut reads = tokio::task::JoinSet::new();
        for &id in chunk {
            let deps = flow.world.deps.clone();
            let order = OrderRef::new(flow.world.connection.clone(), id);
            reads.spawn(async move {
                let entry = deps.ledger.get(&order).await.expect("reading the ledger");
                let history = deps.audit.history(&order.record_key()).await.expect("reading the audit trail");
                (id, entry, history)
            });
        }
        let mut read = reads.join_all().await;
        read.sort_by_key(|(id, _, _)| *id);
        for (id, entry, history) in read {
            let status = entry.as_ref().map(|entry| entry.status);
            *ledger.entry(status.map_or("none".to_owned(), |status| format!("{status:?}"))).or_default() += 1;
            records.push(("the audit table".to_owned(), serde_json::to_string(&history).unwrap_or_default()));
            records.push(("the state table (ledger)".to_owned(), serde_json::to_string(&entry).unwrap_or_default()));
            let operator_event = history.iter().find(|event| event.outcome.needs_operator()).map(|event| {
                format!("{:?} {}: {}", event.stage, event.outcome, event.message.as_deref().unwrap_or("(no message)"))
            });
            let operator_status = status.filter(|status| {
                matches!(status, LedgerStatus::NeedsAttention | LedgerStatus::NeedsMapping | LedgerStatus::Parked)
            });
            if let Some(event) = history.iter().find(|event| {
                event.detail.as_ref().is_some_and(|detail| detail["missed_webhook"] == serde_json::Value::Bool(true))
            }) {
                taken_for_missed.push((id, event.message.clone().unwrap_or_default()));
            }
            match (operator_event, operator_status) {
                (Some(event), _) => needed_operator.push((id, event)),
                (None, Some(status)) => needed_operator.push((id, format!("ledger {status:?}"))),
                (None, None) => {}
            }
        }
    }
    Findings { wrong, needed_operator, ledger, taken_for_missed, records }
}

struct DeadLetters {
    depth: u64,
    orders: Vec<u64>,
    /// `(message id, body)`.
    messages: Vec<(String, String)>,
}

/// The dead-letter queue's messages and the orders they name. Read at the very end, so taking
/// them off the queue (they become visible again after its timeout) changes nothing the run sees.
async fn dead_letters(flow: &OrderFlow) -> DeadLetters {
    let (_, depth) = flow.queue_depths().await;
    let mut messages = Vec::new();
    let mut orders = Vec::new();
    while (messages.len() as u64) < depth {
        let received = flow
            .sqs
            .receive_message()
            .queue_url(&flow.dlq_url)
            .max_number_of_messages(10)
            .visibility_timeout(300)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("reading the dead-letter queue");
        let batch = received.messages.unwrap_or_default();
        if batch.is_empty() {
            break;
        }
        for message in batch {
            let body = message.body.unwrap_or_default();
            if let Ok(order) = serde_json::from_str::<OrderMessage>(&body) {
                orders.push(order.order.order_id);
            }
            messages.push((message.message_id.unwrap_or_default(), body));
        }
    }
    orders.sort_unstable();
    orders.dedup();
    DeadLetters { depth, orders, messages }
}
