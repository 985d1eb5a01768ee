//! Draining a backlog under the real rate limits, time-scaled: how close the worker comes to the
//! shortest drain the limits allow, and how many 429s it meets on the way.
//!
//! The doubles get BigCommerce's 150 requests per 30 s and Plex's 200 calls per minute with both
//! windows multiplied by one time scale, chosen so the bound is about the target duration. Each
//! container's Plex pacer is built for the same scaled window (`Pacer::sliding_window`) at its
//! share of the key's limit, as deployed; BigCommerce's pacer reads the window from the double's
//! `X-Rate-Limit-*` headers, so it scales by itself. The target is a rate two cores can hold
//! beside the doubles (about 160 Plex calls a second): at a faster one the machine, not the
//! budget, sets the figure.
//!
//! Two containers (`MaximumConcurrency: 2`) each run a `Worker` with clients of their own, as Lambda
//! containers do, and take batches of up to 10 from a queue simulated in-process with SQS's rules
//! for this case: a record reported failed comes back after the (scaled) visibility timeout with
//! its receive count raised, and goes to the dead-letter side after `maxReceiveCount` (5) receives.
//! The worker's state (ledger, id map, audit, connection) is the in-memory fakes: the figure is
//! about the APIs' budgets, and moto on two shared cores would otherwise be what binds. The HTTP
//! calls to the doubles are real.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context;
use async_trait::async_trait;
use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use chrono::{Duration as ChronoDuration, Utc};
use domain::ConnectionProfile;
use domain::OrderRef;
use domain::message::{MessageSource, OrderMessage};
use domain::ports::memory::{
    InMemoryAuditLog, InMemoryConnectionStore, InMemoryHoldStore, InMemoryIdMap, InMemoryOrderLedger, RecordingAlerter,
    RecordingQueue,
};
use domain::ports::{ApiError, ConnectionApis, ConnectionStore, SalesOrderSink, WebOrderSource};
use millwright_http::Pacer;
use order_worker::{Ports, Settings, Worker};
use runtime::Deps;
use tokio::task::JoinSet;

use crate::stats::drain_bound;
use crate::world::{Api, Doubles, Env, Limit, RequestTally};

const CONTAINERS: usize = 2;
const BATCH_SIZE: usize = 10;
/// The template's `OrderMaxReceiveCount`.
const MAX_RECEIVES: u32 = 5;
/// The queue's visibility timeout in the template, before scaling.
const VISIBILITY_TIMEOUT: Duration = Duration::from_secs(180);
const FIRST_ORDER: u64 = 20_000;

/// What to drain and how long it may take.
#[derive(Debug, Clone, Copy)]
pub struct DrainPlan {
    pub orders: usize,
    pub lines: usize,
    /// The bound the time scale aims at (about how long the run takes).
    pub target: Duration,
    /// The run stops here and reports what it did.
    pub cap: Duration,
}

impl DrainPlan {
    /// Plex calls of the whole drain at the REST strategy's minimum: `1 + 3 × lines` per order,
    /// plus the first order's look-ups (the guest customer and each SKU).
    pub fn plex_calls(&self) -> u64 {
        self.orders as u64 * (1 + 3 * self.lines as u64) + 1 + self.lines as u64
    }

    /// One BigCommerce call per order: the order with its consignments embedded.
    pub fn bigcommerce_calls(&self) -> u64 {
        self.orders as u64
    }

    /// The shortest drain at the given limits, and which API binds it.
    pub fn bound(&self, bigcommerce: Limit, plex: Limit) -> (Duration, Api) {
        let plex_bound = drain_bound(self.plex_calls(), plex.calls, plex.window);
        let bigcommerce_bound = drain_bound(self.bigcommerce_calls(), bigcommerce.calls, bigcommerce.window);
        if plex_bound >= bigcommerce_bound { (plex_bound, Api::Plex) } else { (bigcommerce_bound, Api::BigCommerce) }
    }

    /// The factor that makes the bound at the real limits about `target`.
    pub fn time_scale(&self) -> f64 {
        let (real, _) = self.bound(Limit::BIGCOMMERCE, Limit::PLEX);
        if real.is_zero() { 1.0 } else { self.target.as_secs_f64() / real.as_secs_f64() }
    }
}

/// What the drain did.
#[derive(Debug)]
pub struct DrainFigures {
    pub plan: DrainPlan,
    pub time_scale: f64,
    pub bigcommerce_limit: Limit,
    pub plex_limit: Limit,
    /// The shortest drain the scaled limits allow, and the API that sets it.
    pub bound: Duration,
    pub binding: Api,
    pub elapsed: Duration,
    /// Orders acknowledged (committed, or finished otherwise) and orders dead-lettered.
    pub done: usize,
    pub dead_lettered: usize,
    /// `false` when the cap stopped the run first.
    pub finished: bool,
    pub bigcommerce: RequestTally,
    pub plex: RequestTally,
    /// Sales orders in the Plex double, and distinct PO numbers among them (equal when no web
    /// order became two sales orders).
    pub plex_orders: usize,
    pub plex_distinct_orders: usize,
    /// Redeliveries: records reported failed and put back.
    pub redeliveries: usize,
}

pub async fn run(env: &Env, plan: DrainPlan) -> anyhow::Result<DrainFigures> {
    let time_scale = plan.time_scale();
    let bigcommerce_limit = Limit::BIGCOMMERCE.scaled(time_scale);
    let plex_limit = Limit::PLEX.scaled(time_scale);
    let (bound, binding) = plan.bound(bigcommerce_limit, plex_limit);

    let doubles = Doubles::start(time_scale).await?;
    let result = async {
        doubles.set_rate_limits(bigcommerce_limit, plex_limit).await?;
        doubles.seed_orders(FIRST_ORDER..FIRST_ORDER + plan.orders as u64, plan.lines).await?;
        let connection_id = format!("drain-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        // In moto only so `Deps` can read the connection's secrets to build its clients.
        let profile = env.install_connection(&connection_id, Some(&doubles)).await?;
        doubles.clear_request_logs().await?;
        drain(env, &doubles, &profile, plan, plex_limit, time_scale).await.map(|outcome| DrainFigures {
            plan,
            time_scale,
            bigcommerce_limit,
            plex_limit,
            bound,
            binding,
            elapsed: outcome.elapsed,
            done: outcome.done,
            dead_lettered: outcome.dead_lettered,
            finished: outcome.finished,
            bigcommerce: outcome.bigcommerce,
            plex: outcome.plex,
            plex_orders: outcome.plex_orders,
            plex_distinct_orders: outcome.plex_distinct_orders,
            redeliveries: outcome.redeliveries,
        })
    }
    .await;
    doubles.shutdown().await;
    result
}

struct Outcome {
    elapsed: Duration,
    done: usize,
    dead_lettered: usize,
    finished: bool,
    bigcommerce: RequestTally,
    plex: RequestTally,
    plex_orders: usize,
    plex_distinct_orders: usize,
    redeliveries: usize,
}

async fn drain(
    env: &Env,
    doubles: &Doubles,
    profile: &ConnectionProfile,
    plan: DrainPlan,
    plex_limit: Limit,
    time_scale: f64,
) -> anyhow::Result<Outcome> {
    let connections = Arc::new(InMemoryConnectionStore::default());
    connections.put(profile).await?;
    let ledger = Arc::new(InMemoryOrderLedger::default());
    let audit = Arc::new(InMemoryAuditLog::default());
    let alerter = Arc::new(RecordingAlerter::new(ChronoDuration::hours(1)));
    let id_map = Arc::new(InMemoryIdMap::default());
    let holds = Arc::new(InMemoryHoldStore::default());
    let open_orders = Arc::new(domain::ports::memory::InMemoryOpenOrders::default());
    let mut workers = Vec::with_capacity(CONTAINERS);
    // Plex counts calls per key, whichever container makes them, so each container paces at its
    // share, as the template's `PLEX_CALLS_PER_MINUTE` has each worker container do (no order
    // sweep runs here, so the workers share the whole budget).
    let pacer_limit = Limit { calls: (plex_limit.calls / CONTAINERS as u64).max(1), ..plex_limit };
    for _ in 0..CONTAINERS {
        let apis = ContainerApis::build(&env.deps, profile, pacer_limit).await?;
        let ports = Ports {
            ledger: ledger.clone(),
            audit: audit.clone(),
            alerter: alerter.clone(),
            id_map: id_map.clone(),
            holds: holds.clone(),
            connections: connections.clone(),
            apis: Arc::new(apis),
            // The simulated queue does not model per-message visibility changes: a failed record
            // comes back after the scaled visibility timeout, whatever wait the worker asked for,
            // so the worker's requests are only recorded here.
            queue: Arc::new(RecordingQueue::default()),
            // In memory like the rest of the drain's worker state.
            open_orders: open_orders.clone(),
        };
        workers.push(Worker::new(ports, Settings::default()));
    }
    let visibility = VISIBILITY_TIMEOUT.mul_f64(time_scale);
    let queue = Arc::new(SimulatedQueue::new(profile, plan.orders, visibility));

    let started = Instant::now();
    let deadline = started + plan.cap;
    let mut containers = JoinSet::new();
    for (index, worker) in workers.into_iter().enumerate() {
        containers.spawn(container(index, worker, queue.clone(), deadline));
    }
    let mut bigcommerce = RequestTally::new(Api::BigCommerce);
    let mut plex = RequestTally::new(Api::Plex);
    let mut last_report = Instant::now();
    while !containers.is_empty() {
        // Reading the logs as the run goes keeps every entry inside the doubles' 10,000-entry logs.
        tokio::select! {
            joined = containers.join_next() => {
                if let Some(joined) = joined {
                    joined.context("a container panicked")?;
                }
            }
            () = tokio::time::sleep(Duration::from_secs(1)) => {
                bigcommerce.update(doubles, false).await?;
                plex.update(doubles, false).await?;
                if last_report.elapsed() >= Duration::from_secs(10) {
                    let (done, dead, _) = queue.progress();
                    eprintln!("  drain: {done} of {} done, {dead} dead-lettered, {:.0} s", plan.orders, started.elapsed().as_secs_f64());
                    last_report = Instant::now();
                }
            }
        }
    }
    let elapsed = started.elapsed();
    bigcommerce.update(doubles, true).await?;
    plex.update(doubles, true).await?;
    let (done, dead_lettered, redeliveries) = queue.progress();
    let po_numbers = doubles.plex_po_numbers().await?;
    let distinct: HashSet<&String> = po_numbers.iter().collect();
    Ok(Outcome {
        elapsed,
        done,
        dead_lettered,
        finished: done + dead_lettered == plan.orders,
        bigcommerce,
        plex,
        plex_orders: po_numbers.len(),
        plex_distinct_orders: distinct.len(),
        redeliveries,
    })
}

/// One Lambda container: invoke the worker on the next batch until the queue is drained or the
/// deadline passes.
async fn container(index: usize, worker: Worker, queue: Arc<SimulatedQueue>, deadline: Instant) {
    let mut invocation = 0u64;
    while Instant::now() < deadline {
        let batch = queue.receive(BATCH_SIZE);
        if batch.is_empty() {
            if queue.is_drained() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        invocation += 1;
        let ids: Vec<String> = batch.iter().map(|record| record.message_id.clone().unwrap_or_default()).collect();
        let mut event = SqsEvent::default();
        event.records = batch;
        let response =
            worker.for_invocation(&format!("drain-{index}-{invocation}")).handle_batch(event, Utc::now()).await;
        let failed: HashSet<String> =
            response.batch_item_failures.into_iter().map(|failure| failure.item_identifier).collect();
        queue.settle(&ids, &failed);
    }
}

/// The order queue for this scenario: one message per order, each its own FIFO group.
struct SimulatedQueue {
    state: Mutex<QueueState>,
    visibility: Duration,
}

struct QueueState {
    ready: VecDeque<Message>,
    /// Reported failed; visible again at the given instant.
    waiting: Vec<(Instant, Message)>,
    in_flight: Vec<Message>,
    done: usize,
    dead_lettered: usize,
    redeliveries: usize,
}

#[derive(Clone)]
struct Message {
    id: String,
    body: String,
    group: String,
    dedupe: String,
    receives: u32,
}

impl SimulatedQueue {
    fn new(profile: &ConnectionProfile, orders: usize, visibility: Duration) -> SimulatedQueue {
        let ready = (0..orders as u64)
            .map(|n| {
                let message = OrderMessage {
                    order: OrderRef::new(profile.id.clone(), FIRST_ORDER + n),
                    scope: "store/order/created".to_owned(),
                    delivery: format!("{n:040x}"),
                    source: MessageSource::Webhook,
                    received_at: Utc::now(),
                };
                Message {
                    id: uuid::Uuid::new_v4().to_string(),
                    body: serde_json::to_string(&message).unwrap_or_default(),
                    group: message.group_id(),
                    dedupe: message.dedupe_id(),
                    receives: 0,
                }
            })
            .collect();
        let state = QueueState {
            ready,
            waiting: Vec::new(),
            in_flight: Vec::new(),
            done: 0,
            dead_lettered: 0,
            redeliveries: 0,
        };
        SimulatedQueue { state: Mutex::new(state), visibility }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Up to `max` visible messages as Lambda event records.
    fn receive(&self, max: usize) -> Vec<SqsMessage> {
        let mut state = self.lock();
        let now = Instant::now();
        let (visible, still_waiting): (Vec<_>, Vec<_>) = state.waiting.drain(..).partition(|(at, _)| *at <= now);
        state.waiting = still_waiting;
        state.ready.extend(visible.into_iter().map(|(_, message)| message));
        let mut records = Vec::with_capacity(max);
        while records.len() < max {
            let Some(mut message) = state.ready.pop_front() else {
                break;
            };
            message.receives += 1;
            records.push(record(&message));
            state.in_flight.push(message);
        }
        records
    }

    /// Deletes the handled messages of a batch and puts the failed ones back (or dead-letters them).
    fn settle(&self, ids: &[String], failed: &HashSet<String>) {
        let mut state = self.lock();
        let until = Instant::now() + self.visibility;
        for id in ids {
            let Some(position) = state.in_flight.iter().position(|message| &message.id == id) else {
                continue;
            };
            let message = state.in_flight.swap_remove(position);
            if !failed.contains(id) {
                state.done += 1;
            } else if message.receives >= MAX_RECEIVES {
                state.dead_lettered += 1;
            } else {
                state.redeliveries += 1;
                state.waiting.push((until, message));
            }
        }
    }

    fn is_drained(&self) -> bool {
        let state = self.lock();
        state.ready.is_empty() && state.waiting.is_empty() && state.in_flight.is_empty()
    }

    /// Done, dead-lettered, redelivered.
    fn progress(&self) -> (usize, usize, usize) {
        let state = self.lock();
        (state.done, state.dead_lettered, state.redeliveries)
    }
}

/// A message as the SQS event source hands it to Lambda.
fn record(message: &Message) -> SqsMessage {
    let mut record = SqsMessage::default();
    record.message_id = Some(message.id.clone());
    record.receipt_handle = Some(format!("handle-{}", message.id));
    record.body = Some(message.body.clone());
    record.event_source = Some("aws:sqs".to_owned());
    record.attributes.insert("ApproximateReceiveCount".to_owned(), message.receives.to_string());
    record.attributes.insert("MessageGroupId".to_owned(), message.group.clone());
    record.attributes.insert("MessageDeduplicationId".to_owned(), message.dedupe.clone());
    record
}

/// A container's API clients, built once as `runtime::CachedApis` would, except that the Plex
/// client's pacer uses the scaled window.
struct ContainerApis {
    web_orders: Arc<dyn WebOrderSource>,
    sales_orders: Arc<dyn SalesOrderSink>,
}

impl ContainerApis {
    async fn build(deps: &Deps, profile: &ConnectionProfile, pacer_limit: Limit) -> anyhow::Result<ContainerApis> {
        let web_orders = deps.bigcommerce(profile).await.context("building the BigCommerce client")?;
        let pacer = Pacer::sliding_window(u32::try_from(pacer_limit.calls).unwrap_or(u32::MAX), pacer_limit.window);
        let defaults = runtime::deps::order_defaults(profile);
        let client = deps
            .plex(profile)
            .await
            .context("building the Plex client")?
            .with_order_defaults(defaults)
            .with_pacer(pacer);
        Ok(ContainerApis {
            web_orders: Arc::new(web_orders),
            sales_orders: Arc::new(plex::PlexSalesOrders::new(client, plex::Writer::Rest)),
        })
    }
}

#[async_trait]
impl ConnectionApis for ContainerApis {
    async fn web_orders(&self, _profile: &ConnectionProfile) -> Result<Arc<dyn WebOrderSource>, ApiError> {
        Ok(self.web_orders.clone())
    }

    async fn sales_orders(&self, _profile: &ConnectionProfile) -> Result<Arc<dyn SalesOrderSink>, ApiError> {
        Ok(self.sales_orders.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(orders: usize, lines: usize) -> DrainPlan {
        DrainPlan { orders, lines, target: Duration::from_secs(60), cap: Duration::from_secs(180) }
    }

    #[test]
    fn plex_binds_a_drain_of_two_line_orders_and_the_scale_makes_its_bound_the_target() {
        let plan = plan(2_000, 2);
        assert_eq!(plan.plex_calls(), 2_000 * 7 + 3);
        let (real, binding) = plan.bound(Limit::BIGCOMMERCE, Limit::PLEX);
        assert_eq!(binding, Api::Plex);
        assert_eq!(real, Duration::from_secs(60 * 70), "14,003 calls at 200 per minute start within 70 minutes");

        let scale = plan.time_scale();
        let (scaled, _) = plan.bound(Limit::BIGCOMMERCE.scaled(scale), Limit::PLEX.scaled(scale));
        assert!((scaled.as_secs_f64() - 60.0).abs() < 0.1, "{scaled:?}");
    }

    #[test]
    fn a_scaled_limit_keeps_its_calls_and_shrinks_its_window() {
        let limit = Limit::PLEX.scaled(1.0 / 70.0);
        assert_eq!(limit.calls, 200);
        assert_eq!(limit.window, Duration::from_millis(857));
    }
}
