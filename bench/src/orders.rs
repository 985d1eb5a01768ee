//! Webhook → Plex sales order, through the production wiring: the receiver's `handle` over
//! `runtime::Deps` (moto) queues each order on an SQS FIFO queue of the bench's own; two pollers
//! (the template's `MaximumConcurrency: 2`, each a container with its own `Worker` from
//! `Ports::from_deps`, so its own cached clients and pacers) receive batches of up to 10 with
//! `SqsEventSource`, call `Worker::handle_batch` and delete what it did not report failed, as
//! Lambda's event source mapping does. The clients talk to an in-process sandbox at the real
//! limits.
//!
//! Latency runs from the moment the receiver is handed the callback to the order's `Written`
//! audit event (the commit of the Plex sales order in the ledger; the worker stamps each event
//! with the time it happened). Calls per order are counted in the doubles' request logs: the
//! first order runs alone with cold caches; the rest are spaced out so none waits behind another
//! or for a rate budget, and their calls divided by their number are the warm-cache figure.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use aws_lambda_events::sqs::SqsEvent;
use chrono::{DateTime, Utc};
use domain::audit::{Outcome, Stage};
use domain::ledger::LedgerStatus;
use domain::{ConnectionId, OrderRef};
use millwright_aws::{SqsEventSource, SqsQueue};
use order_worker::{Ports as WorkerPorts, Settings, Worker};
use runtime::Deps;
use tokio::task::JoinSet;
use webhook_receiver::{Delivery, Ports as ReceiverPorts, handle};

use crate::receiver::{callback, callback_headers};
use crate::stats::Latencies;
use crate::world::{Api, Doubles, Env, RequestTally};

/// Lambda's lowest `MaximumConcurrency`, which the template uses.
const CONTAINERS: usize = 2;
/// Time between two webhooks after the first order: long enough that each order runs alone.
const SPACING: Duration = Duration::from_millis(250);
/// First order id of the scenario (the demo seed has 100 and 101).
const FIRST_ORDER: u64 = 10_000;

/// What the scenario measured.
#[derive(Debug)]
pub struct OrderFigures {
    pub orders: usize,
    pub lines: usize,
    /// Webhook arrival → `Written` audit event, one per committed order.
    pub latencies: Latencies,
    /// Calls of the first order, with every cache cold.
    pub cold_bigcommerce: u64,
    pub cold_plex: u64,
    /// Calls per order of the other orders (warm caches).
    pub warm_bigcommerce_per_order: f64,
    pub warm_plex_per_order: f64,
    pub rate_limited: u64,
    /// Orders not committed before the scenario's deadline.
    pub not_committed: usize,
}

pub async fn webhook_to_plex(
    env: &Env,
    orders: usize,
    lines: usize,
    deadline: Duration,
) -> anyhow::Result<OrderFigures> {
    ensure!(orders >= 2, "the scenario needs a cold order and at least one warm one");
    let doubles = Doubles::start(1.0).await?;
    let connection_id = format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let profile = env.install_connection(&connection_id, Some(&doubles)).await?;
    let queue_url = env.create_queue(&connection_id).await?;
    let result = run(env, &doubles, &profile.id, &queue_url, orders, lines, deadline).await;
    env.delete_queue(&queue_url).await;
    doubles.shutdown().await;
    result
}

async fn run(
    env: &Env,
    doubles: &Doubles,
    connection: &ConnectionId,
    queue_url: &str,
    orders: usize,
    lines: usize,
    deadline: Duration,
) -> anyhow::Result<OrderFigures> {
    let started = Instant::now();
    let ids: Vec<u64> = (FIRST_ORDER..FIRST_ORDER + orders as u64).collect();
    doubles.seed_orders(FIRST_ORDER..FIRST_ORDER + orders as u64, lines).await?;
    let mut deps = env.deps.clone();
    deps.queue = Arc::new(SqsQueue::new(&env.sdk, queue_url));

    let pollers = Pollers::start(env, &deps, queue_url);
    doubles.clear_request_logs().await?;
    let mut bigcommerce = RequestTally::new(Api::BigCommerce);
    let mut plex = RequestTally::new(Api::Plex);

    let outcome = async {
        let mut sent_at = Vec::with_capacity(orders);
        // The first order alone: every cache (clients, id map) is cold.
        sent_at.push(deliver(&deps, connection, ids[0], 0).await?);
        wait_committed(&deps, connection, &ids[..1], started + deadline).await?;
        bigcommerce.update(doubles, true).await?;
        plex.update(doubles, true).await?;
        let (cold_bigcommerce, cold_plex) = (bigcommerce.requests, plex.requests);

        for (nonce, id) in ids.iter().enumerate().skip(1) {
            tokio::time::sleep(SPACING).await;
            sent_at.push(deliver(&deps, connection, *id, nonce as u64).await?);
        }
        let not_committed = wait_committed(&deps, connection, &ids, started + deadline).await?;
        bigcommerce.update(doubles, true).await?;
        plex.update(doubles, true).await?;
        let warm_orders = (orders - 1) as f64;
        let mut samples = Vec::with_capacity(orders);
        for (id, sent) in ids.iter().zip(&sent_at) {
            if let Some(written) = written_at(&deps, connection, *id).await? {
                samples.push((written - *sent).to_std().unwrap_or_default());
            }
        }
        Ok::<_, anyhow::Error>(OrderFigures {
            orders,
            lines,
            latencies: Latencies::new(samples),
            cold_bigcommerce,
            cold_plex,
            warm_bigcommerce_per_order: (bigcommerce.requests - cold_bigcommerce) as f64 / warm_orders,
            warm_plex_per_order: (plex.requests - cold_plex) as f64 / warm_orders,
            rate_limited: bigcommerce.rate_limited + plex.rate_limited,
            not_committed,
        })
    }
    .await;
    pollers.stop().await?;
    outcome
}

/// The order worker's event source mapping on the bench's queue: [`CONTAINERS`] pollers, each a
/// container with its own `Worker` from `Ports::from_deps` (its own cached clients and pacers).
pub(crate) struct Pollers {
    stop: Arc<AtomicBool>,
    pollers: JoinSet<anyhow::Result<()>>,
}

impl Pollers {
    /// Starts the pollers on `queue_url` over `deps`.
    pub(crate) fn start(env: &Env, deps: &Deps, queue_url: &str) -> Pollers {
        let stop = Arc::new(AtomicBool::new(false));
        let mut pollers = JoinSet::new();
        for container in 0..CONTAINERS {
            let worker = Worker::new(WorkerPorts::from_deps(deps), Settings::default());
            let source = SqsEventSource::new(&env.sdk, queue_url);
            pollers.spawn(poll(container, worker, source, stop.clone()));
        }
        Pollers { stop, pollers }
    }

    /// Stops the pollers after the batch each has in hand (handled and deleted) and waits for them.
    pub(crate) async fn stop(mut self) -> anyhow::Result<()> {
        self.stop.store(true, Ordering::SeqCst);
        while let Some(joined) = self.pollers.join_next().await {
            joined.context("a poller panicked")??;
        }
        Ok(())
    }
}

/// Hands the receiver one callback for `order_id`, as the local runtime's HTTP edge would; returns
/// when it arrived.
pub(crate) async fn deliver(
    deps: &Deps,
    connection: &ConnectionId,
    order_id: u64,
    nonce: u64,
) -> anyhow::Result<DateTime<Utc>> {
    let headers = callback_headers();
    let body = callback(order_id, nonce + 1);
    let arrived = Utc::now();
    let delivery = Delivery { connection_id: connection.as_str(), headers: &headers, body: &body, now: arrived };
    let reply = handle(&ReceiverPorts::from_deps(deps), &delivery).await;
    ensure!(reply.status == http::StatusCode::OK, "order {order_id}: the receiver answered {}", reply.status);
    Ok(arrived)
}

/// Lambda's SQS event source for one container: receive up to 10, invoke, delete the successes.
async fn poll(container: usize, worker: Worker, source: SqsEventSource, stop: Arc<AtomicBool>) -> anyhow::Result<()> {
    let mut invocation = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let records = source.receive(10, Duration::from_secs(1)).await.context("receiving from the bench queue")?;
        if records.is_empty() {
            continue;
        }
        invocation += 1;
        let handles: Vec<(String, String)> = records
            .iter()
            .map(|record| {
                (record.message_id.clone().unwrap_or_default(), record.receipt_handle.clone().unwrap_or_default())
            })
            .collect();
        let mut event = SqsEvent::default();
        event.records = records;
        let response =
            worker.for_invocation(&format!("bench-{container}-{invocation}")).handle_batch(event, Utc::now()).await;
        let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
        let done: Vec<String> =
            handles.into_iter().filter(|(id, _)| !failed.contains(&id.as_str())).map(|(_, handle)| handle).collect();
        source.delete(&done).await.context("deleting handled messages")?;
    }
    Ok(())
}

/// Waits until every order in `ids` is committed in the ledger or `until` passes; returns how many
/// are not.
async fn wait_committed(deps: &Deps, connection: &ConnectionId, ids: &[u64], until: Instant) -> anyhow::Result<usize> {
    let mut pending: Vec<u64> = ids.to_vec();
    while !pending.is_empty() {
        let order = OrderRef::new(connection.clone(), pending[0]);
        let entry = deps.ledger.get(&order).await.context("reading the ledger")?;
        match entry.map(|entry| entry.status) {
            Some(LedgerStatus::Committed) => {
                pending.remove(0);
                continue;
            }
            Some(status @ (LedgerStatus::NeedsMapping | LedgerStatus::Parked | LedgerStatus::NeedsAttention)) => {
                bail!("order {} ended {status:?} instead of committed; see its audit trail", pending[0])
            }
            _ => {}
        }
        if Instant::now() >= until {
            return Ok(pending.len());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(0)
}

/// When the worker recorded the order's sales order as written.
async fn written_at(deps: &Deps, connection: &ConnectionId, order_id: u64) -> anyhow::Result<Option<DateTime<Utc>>> {
    let key = OrderRef::new(connection.clone(), order_id).record_key();
    let history = deps.audit.history(&key).await.context("reading the audit trail")?;
    Ok(history.iter().find(|event| event.stage == Stage::Written && event.outcome == Outcome::Ok).map(|e| e.at))
}
