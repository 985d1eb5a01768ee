//! The scheduled functions' API calls, through the production wiring against a sandbox of each
//! scenario's own (call counts, not timings):
//! - the order sweep's release of held orders: orders placed through the receiver and the worker
//!   (the same pollers as `orders`) are held for unknown SKUs; the parts are then created in the
//!   Plex double and one `Sweep::run_for` (`order_sweep::Ports::from_deps`, default settings) checks
//!   each distinct gap and queues the orders again; the pollers then write them. The sweep's Plex
//!   look-ups and the worker's for the released orders are counted in the Plex double's request
//!   log, with the pollers stopped while the sweep runs so each call is the sweep's or the worker's.
//! - the order sweep's reconciliation: orders seeded straight into the BigCommerce double (no
//!   webhook), modified inside the first run's window; one run over the deployment's adapters with
//!   a `RecordingQueue` for a queue, so no worker adds BigCommerce calls to the count.
//! - the webhook health check (`webhook_health::Ports::from_deps`): one check of a connection whose
//!   order hooks are healthy, one of a connection with a deactivated hook and a missing one, and a
//!   last one of that connection after its repair.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use chrono::{DateTime, SecondsFormat, Utc};
use domain::hooks::{ORDER_SCOPES, destination};
use domain::ledger::LedgerStatus;
use domain::ports::WebhookRegistry;
use domain::ports::memory::RecordingQueue;
use domain::{ConnectionId, OrderRef};
use millwright_aws::SqsQueue;
use runtime::Deps;
use serde_json::{Value, json};

use crate::orders::{Pollers, deliver};
use crate::stats::page_reads;
use crate::world::{Api, Doubles, Env, Limit, guest_order};

/// First order ids of the scenarios (the demo seed has 100 and 101; `orders` and `drain` use
/// 10,000 and 20,000 in sandboxes of their own).
const FIRST_HELD_ORDER: u64 = 30_000;
const FIRST_MISSED_ORDER: u64 = 40_000;

/// The release scenario's Plex limit: raised from 200 per minute so that no order waits for the
/// budget (its figures are counts); BigCommerce keeps its real limit.
pub const RELEASE_PLEX_LIMIT: Limit = Limit { calls: 2_000, window: Duration::from_secs(60) };

/// Where the health check's hooks point. Nothing is delivered in that scenario, so it is never
/// called.
const RECEIVER_URL: &str = "https://millwright-bench.example.test";

/// An unknown SKU of the release scenario: not a part in the Plex double until the scenario
/// creates it.
fn unknown_sku(index: usize) -> String {
    format!("BENCH-NEW-{}", index + 1)
}

/// The unknown SKUs order `index` (from 0) has a line of: one, and a second for every other
/// order, so every SKU is missing from several orders once there are at least as many orders.
fn missing_skus(index: usize, skus: usize) -> Vec<usize> {
    let first = index % skus;
    if index % 2 == 1 && skus > 1 { vec![first, (first + 1) % skus] } else { vec![first] }
}

/// A Plex part look-up in a request log entry: `GET /mdm/v1/parts?number=`.
fn is_part_lookup(entry: &Value) -> bool {
    entry["method"].as_str() == Some("GET") && entry["path"].as_str().is_some_and(|path| path == "/mdm/v1/parts")
}

/// A Plex sales order look-up by PO number (`GET /sales/v1/orders?poNumber=`): what the worker
/// does before creating an order whose ledger entry is not new.
fn is_po_lookup(entry: &Value) -> bool {
    entry["method"].as_str() == Some("GET") && entry["path"].as_str().is_some_and(|path| path == "/sales/v1/orders")
}

/// What the release of held orders cost.
#[derive(Debug)]
pub struct ReleaseFigures {
    pub orders: usize,
    pub skus: usize,
    /// Holds listed before the sweep (one per order).
    pub held: usize,
    /// The sweep's look-up budget per connection and run (`Settings::max_lookups`).
    pub max_lookups: u32,
    /// The sweep's Plex part look-ups in the double's log, all its Plex requests, and the calls
    /// the sweep counted itself (`ConnectionSweep::plex_calls`).
    pub sweep_lookups: usize,
    pub sweep_plex: usize,
    pub sweep_reported: u32,
    /// Distinct gaps the sweep checked and found filled.
    pub gaps_checked: usize,
    pub gaps_filled: usize,
    /// Orders the sweep queued again.
    pub released: usize,
    /// Released orders not committed before the deadline.
    pub not_committed: usize,
    /// The worker's Plex part look-ups for the released orders, and all its Plex and BigCommerce
    /// requests for them; of the Plex ones, the look-ups by PO number.
    pub worker_lookups: usize,
    pub worker_po_lookups: usize,
    pub worker_plex: usize,
    pub worker_bigcommerce: usize,
}

pub async fn held_order_release(
    env: &Env,
    orders: usize,
    skus: usize,
    deadline: Duration,
) -> anyhow::Result<ReleaseFigures> {
    ensure!(skus >= 1 && orders >= skus, "the scenario needs at least one unknown SKU and an order for each");
    let settings = order_sweep::Settings::default();
    ensure!(
        settings.max_lookups as usize >= skus,
        "{skus} unknown SKUs would not all be checked within the sweep's {} look-ups",
        settings.max_lookups
    );
    let doubles = Doubles::start(1.0).await?;
    let connection_id = format!("bench-held-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let setup = async {
        doubles.set_rate_limits(Limit::BIGCOMMERCE, RELEASE_PLEX_LIMIT).await?;
        let profile = env.install_connection(&connection_id, Some(&doubles)).await?;
        let queue_url = env.create_queue(&connection_id).await?;
        Ok::<_, anyhow::Error>((profile, queue_url))
    }
    .await;
    let result = match setup {
        Ok((profile, queue_url)) => {
            let result = release(env, &doubles, &profile.id, &queue_url, orders, skus, settings, deadline).await;
            env.delete_queue(&queue_url).await;
            result
        }
        Err(error) => Err(error),
    };
    doubles.shutdown().await;
    result
}

#[allow(clippy::too_many_arguments)]
async fn release(
    env: &Env,
    doubles: &Doubles,
    connection: &ConnectionId,
    queue_url: &str,
    orders: usize,
    skus: usize,
    settings: order_sweep::Settings,
    deadline: Duration,
) -> anyhow::Result<ReleaseFigures> {
    let started = Instant::now();
    let ids: Vec<u64> = (FIRST_HELD_ORDER..FIRST_HELD_ORDER + orders as u64).collect();
    let documents = ids
        .iter()
        .enumerate()
        .map(|(index, id)| {
            let missing = missing_skus(index, skus);
            let names: Vec<String> = missing.iter().map(|sku| unknown_sku(*sku)).collect();
            // Products and variants of their own, which BigCommerce would have for a new SKU.
            let items: Vec<(&str, u64, u64, &str)> = missing
                .iter()
                .zip(&names)
                .map(|(sku, name)| (name.as_str(), 900 + *sku as u64, 950 + *sku as u64, "1.0000"))
                .collect();
            guest_order(*id, &items)
        })
        .collect();
    doubles.seed_order_documents(documents).await?;
    let mut deps = env.deps.clone();
    deps.queue = Arc::new(SqsQueue::new(&env.sdk, queue_url));

    // Every order through the receiver and the worker, which holds it for its unknown SKUs.
    let pollers = Pollers::start(env, &deps, queue_url);
    let held = async {
        for (nonce, id) in ids.iter().enumerate() {
            deliver(&deps, connection, *id, nonce as u64).await?;
        }
        wait_for(&deps, connection, &ids, started + deadline, Wanted::Held).await
    }
    .await;
    pollers.stop().await?;
    let not_held = held?;
    ensure!(not_held == 0, "{not_held} of {orders} orders were not held within {} s", deadline.as_secs());
    let held = deps.holds.list(connection).await.context("listing the holds")?.len();

    // Someone creates the parts in Plex; one sweep run, with no worker running.
    let names: Vec<String> = (0..skus).map(unknown_sku).collect();
    doubles.seed_plex_parts(&names).await?;
    doubles.clear_request_logs().await?;
    let max_lookups = settings.max_lookups;
    let sweep = order_sweep::Sweep::new(order_sweep::Ports::from_deps(&deps), settings);
    let report = sweep
        .run_for(std::slice::from_ref(connection), Utc::now())
        .await
        .context("listing the connections")?
        .into_iter()
        .next()
        .context("the sweep did not sweep the bench's connection")?;
    ensure!(report.problems.is_empty(), "the sweep met problems: {}", report.problems.join("; "));
    let plex = doubles.requests(Api::Plex).await?;
    let (sweep_lookups, sweep_plex) = (plex.iter().filter(|entry| is_part_lookup(entry)).count(), plex.len());

    // The worker takes the released orders.
    doubles.clear_request_logs().await?;
    let pollers = Pollers::start(env, &deps, queue_url);
    let committed = wait_for(&deps, connection, &report.released, Instant::now() + deadline, Wanted::Committed).await;
    pollers.stop().await?;
    let not_committed = committed?;
    let plex = doubles.requests(Api::Plex).await?;
    let bigcommerce = doubles.requests(Api::BigCommerce).await?;
    Ok(ReleaseFigures {
        orders,
        skus,
        held,
        max_lookups,
        sweep_lookups,
        sweep_plex,
        sweep_reported: report.plex_calls,
        gaps_checked: report.gaps_checked,
        gaps_filled: report.gaps_filled.len(),
        released: report.released.len(),
        not_committed,
        worker_lookups: plex.iter().filter(|entry| is_part_lookup(entry)).count(),
        worker_po_lookups: plex.iter().filter(|entry| is_po_lookup(entry)).count(),
        worker_plex: plex.len(),
        worker_bigcommerce: bigcommerce.len(),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wanted {
    /// Held for a mapping: `NeedsMapping` with its hold stored.
    Held,
    Committed,
}

/// Waits until every order in `ids` is in the `wanted` state or `until` passes; returns how many
/// are not. An order parked or needing attention fails the scenario.
async fn wait_for(
    deps: &Deps,
    connection: &ConnectionId,
    ids: &[u64],
    until: Instant,
    wanted: Wanted,
) -> anyhow::Result<usize> {
    let mut pending: Vec<u64> = ids.to_vec();
    while let Some(&id) = pending.first() {
        let entry = deps.ledger.get(&OrderRef::new(connection.clone(), id)).await.context("reading the ledger")?;
        let reached = match (&entry, wanted) {
            (Some(entry), _) if matches!(entry.status, LedgerStatus::Parked | LedgerStatus::NeedsAttention) => {
                bail!("order {id} ended {:?}; see its audit trail", entry.status)
            }
            (Some(entry), Wanted::Held) => entry.status == LedgerStatus::NeedsMapping && entry.held,
            (Some(entry), Wanted::Committed) => entry.status == LedgerStatus::Committed,
            (None, _) => false,
        };
        if reached {
            pending.remove(0);
            continue;
        }
        if Instant::now() >= until {
            return Ok(pending.len());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(0)
}

/// What the reconciliation cost.
#[derive(Debug)]
pub struct ReconcileFigures {
    pub orders: usize,
    pub page_size: u32,
    /// Seconds the orders' modification times are spread over.
    pub spread_seconds: i64,
    /// BigCommerce requests in the double's log, and the calls the sweep counted itself.
    pub bigcommerce: usize,
    pub reported: u32,
    /// The fewest page reads that list the orders ([`page_reads`]).
    pub goal: u64,
    /// Orders the sweep recovered, and messages it queued.
    pub recovered: usize,
    pub queued: usize,
}

pub async fn reconciliation(env: &Env, orders: usize) -> anyhow::Result<ReconcileFigures> {
    let settings = order_sweep::Settings::default();
    let reconcile = settings.reconcile.clone();
    ensure!(
        page_reads(orders as u64, u64::from(reconcile.page_size)) <= u64::from(reconcile.max_pages),
        "{orders} orders are more than one run's {} pages",
        reconcile.max_pages
    );
    let doubles = Doubles::start(1.0).await?;
    let result = async {
        let connection_id = format!("bench-recon-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let profile = env.install_connection(&connection_id, Some(&doubles)).await?;
        // The first run reads from `now - first_lookback - overlap` to `now - settle`: the orders
        // were modified in whole seconds inside it, 10 s clear of either end.
        let now = Utc::now();
        let earliest = now - reconcile.first_lookback - reconcile.overlap + chrono::Duration::seconds(10);
        let latest = now - reconcile.settle - chrono::Duration::seconds(10);
        let spread_seconds = (latest - earliest).num_seconds();
        ensure!(spread_seconds > 0, "the reconciliation's first window is too short to seed into");
        let documents = (0..orders)
            .map(|index| {
                let offset = (index as i64 * spread_seconds) / orders as i64;
                let modified = earliest + chrono::Duration::seconds(offset);
                let mut order = guest_order(FIRST_MISSED_ORDER + index as u64, &[("MW-BOLT-M8", 111, 211, "0.4500")]);
                order["date_created"] = json!(whole_seconds(modified));
                order["date_modified"] = json!(whole_seconds(modified));
                order
            })
            .collect();
        doubles.seed_order_documents(documents).await?;

        let queue = Arc::new(RecordingQueue::default());
        let ports = order_sweep::Ports { queue: queue.clone(), ..order_sweep::Ports::from_deps(&env.deps) };
        let sweep = order_sweep::Sweep::new(ports, settings.clone());
        doubles.clear_request_logs().await?;
        let report = sweep
            .run_for(std::slice::from_ref(&profile.id), now)
            .await
            .context("listing the connections")?
            .into_iter()
            .next()
            .context("the sweep did not sweep the bench's connection")?;
        ensure!(report.problems.is_empty(), "the sweep met problems: {}", report.problems.join("; "));
        let bigcommerce = doubles.requests(Api::BigCommerce).await?;
        Ok(ReconcileFigures {
            orders,
            page_size: reconcile.page_size,
            spread_seconds,
            bigcommerce: bigcommerce.len(),
            reported: report.bigcommerce_calls,
            goal: page_reads(orders as u64, u64::from(reconcile.page_size)),
            recovered: report.recovered.len(),
            queued: queue.messages().len(),
        })
    }
    .await;
    doubles.shutdown().await;
    result
}

/// RFC 3339 in whole seconds, as BigCommerce keeps `date_modified`.
fn whole_seconds(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// What the webhook health checks cost.
#[derive(Debug)]
pub struct HealthFigures {
    /// BigCommerce requests of a check of a connection whose hooks are healthy.
    pub healthy: usize,
    /// Of a repairing check (one hook deactivated, one missing), and the repairs it made.
    pub repairing: usize,
    pub repairs: Vec<&'static str>,
    /// Of the next check of the repaired connection, and whether it found every hook healthy.
    pub after_repair: usize,
    pub healthy_after_repair: bool,
}

pub async fn webhook_health(env: &Env) -> anyhow::Result<HealthFigures> {
    let doubles = Doubles::start(1.0).await?;
    let result = async {
        let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
        let healthy = env.install_connection(&format!("bench-hooks-ok-{suffix}"), Some(&doubles)).await?;
        let broken = env.install_connection(&format!("bench-hooks-broken-{suffix}"), Some(&doubles)).await?;
        // Both connections are the demo store's account: each check lists the hooks of both and
        // plans its own destination's. The hooks are registered through the production adapter,
        // so they carry each connection's current authentication header as a repair would: a
        // hook seeded without it is one the check rightly refreshes.
        let healthy_hooks = env.deps.order_hooks(&healthy).await?;
        for scope in ORDER_SCOPES {
            healthy_hooks.register(scope, &destination(RECEIVER_URL, &healthy.id)).await?;
        }
        let broken_hooks = env.deps.order_hooks(&broken).await?;
        let deactivated = broken_hooks.register(ORDER_SCOPES[0], &destination(RECEIVER_URL, &broken.id)).await?;
        env.deps.bigcommerce(&broken).await?.set_hook_active(deactivated.id, false).await?;

        let settings = webhook_health::Settings { receiver_url: RECEIVER_URL.to_owned(), ..Default::default() };
        let check = webhook_health::HealthCheck::new(webhook_health::Ports::from_deps(&env.deps), settings);
        let mut calls = Vec::new();
        let mut reports = Vec::new();
        for profile in [&healthy, &broken, &broken] {
            doubles.clear_request_logs().await?;
            let report = check.check(profile, true, Utc::now()).await;
            ensure!(
                report.problems.is_empty(),
                "the check of {} met problems: {}",
                profile.id,
                report.problems.join("; ")
            );
            calls.push(doubles.requests(Api::BigCommerce).await?.len());
            reports.push(report);
        }
        ensure!(
            reports[0].repaired.is_empty(),
            "the healthy connection's hooks were repaired: {:?}",
            reports[0].repaired
        );
        Ok(HealthFigures {
            healthy: calls[0],
            repairing: calls[1],
            repairs: reports[1].repaired.iter().map(|repair| repair.what).collect(),
            after_repair: calls[2],
            healthy_after_repair: reports[2].repaired.is_empty() && reports[2].is_healthy(),
        })
    }
    .await;
    doubles.shutdown().await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unknown_sku_is_missing_from_some_order_and_no_order_misses_more_than_two() {
        let skus = 5;
        let plans: Vec<Vec<usize>> = (0..40).map(|index| missing_skus(index, skus)).collect();
        for sku in 0..skus {
            assert!(plans.iter().any(|plan| plan.contains(&sku)), "SKU {sku} is in no order");
        }
        assert!(plans.iter().all(|plan| (1..=2).contains(&plan.len()) && !(plan.len() == 2 && plan[0] == plan[1])));
        assert_eq!(plans.iter().filter(|plan| plan.len() == 2).count(), 20);
    }
}
