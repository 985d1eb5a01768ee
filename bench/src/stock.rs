//! The stock sync (`inventory_sync::StockSync` with `inventory_sync::Ports::from_deps`: Plex's
//! containers streamed, BigCommerce's catalog and absolute adjustments, the last-pushed levels,
//! open orders and audit events in moto) over a generated inventory in a sandbox of its own: a
//! full first run, a run after many parts changed in Plex (more than an incremental run reads one
//! by one, so a full read), a run with nothing changed, and an incremental run after a few parts
//! changed (the container adjustments, then only those parts' containers).
//!
//! Calls are counted in the doubles' request logs, each cleared before a run; the sync's own
//! report must agree with them, and the rows BigCommerce applied (its transactions) with the rows
//! the sync says changed. The peak RSS is the bench process's high-water mark over the full run,
//! reset just before it (`/proc/self/clear_refs`); the process also hosts the doubles, so it
//! includes the Plex double building its one container answer.

use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use chrono::Utc;
use domain::stock::MAX_ADJUSTMENT_ROWS;
use serde_json::{Value, json};

use crate::world::{Api, Doubles, Env};

/// The catalog's page size (`include=variants`, 250 products a page).
pub const CATALOG_PAGE_SIZE: usize = 250;

/// The share of the generated products tracked by variant (2 to 4 SKUs each); the rest are
/// tracked by product.
pub const VARIANT_SHARE: f64 = 0.3;

/// How big the scenario is.
#[derive(Debug, Clone, Copy)]
pub struct StockPlan {
    /// Parts in Plex and SKUs in BigCommerce (the same numbers).
    pub skus: usize,
    /// Sellable containers over those parts, read in one unpaged answer.
    pub containers: usize,
    /// Parts whose quantity changes (one container each) before the second run.
    pub changed_parts: usize,
    /// Parts that change before the last run, few enough to be read one by one.
    pub incremental_parts: usize,
}

/// What one run cost, from the doubles' request logs and BigCommerce's transactions.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunFigures {
    pub wall: Duration,
    pub plex_calls: usize,
    pub catalog_reads: usize,
    pub write_calls: usize,
    /// BigCommerce requests that were neither (none expected).
    pub other_bigcommerce: usize,
    /// Rows the sync found changed, and rows BigCommerce applied in this run's adjustments.
    pub changed: usize,
    pub applied_rows: usize,
}

#[derive(Debug, Clone)]
pub struct StockFigures {
    pub plan: StockPlan,
    /// Products in the store (the demo's and the generated ones), which the catalog read pages over.
    pub products: usize,
    pub full: RunFigures,
    /// The bench process's peak resident set over the full run, in KiB; `None` where the kernel
    /// does not let it be reset or read.
    pub full_peak_rss_kib: Option<u64>,
    pub changed: RunFigures,
    pub unchanged: RunFigures,
    pub incremental: RunFigures,
}

impl StockFigures {
    /// The fewest catalog reads that list every product: ceil(products / 250).
    pub fn catalog_goal(&self) -> usize {
        self.products.div_ceil(CATALOG_PAGE_SIZE)
    }

    /// The fewest write calls for the full run's rows: ceil(rows / 2,000).
    pub fn full_write_goal(&self) -> usize {
        self.full.changed.div_ceil(MAX_ADJUSTMENT_ROWS)
    }
}

pub async fn sync(env: &Env, plan: StockPlan) -> anyhow::Result<StockFigures> {
    let doubles = Doubles::start(1.0).await?;
    let result = measure(env, &doubles, plan).await;
    doubles.shutdown().await;
    result
}

async fn measure(env: &Env, doubles: &Doubles, plan: StockPlan) -> anyhow::Result<StockFigures> {
    let connection = format!("bench-stock-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let profile = env.install_connection(&connection, Some(doubles)).await?;
    let plex = json!({"parts": plan.skus, "containers": plan.containers, "seed": 41,
        "quantity": {"min": 1, "max": 40}});
    doubles.control(Api::Plex, reqwest::Method::POST, "inventory/generate", Some(&plex)).await?;
    let catalog = json!({"skus": plan.skus, "seed": 43, "variant_share": VARIANT_SHARE});
    doubles.control(Api::BigCommerce, reqwest::Method::POST, "catalog/generate", Some(&catalog)).await?;
    let products = store_products(doubles).await?;

    let sync = inventory_sync::StockSync::new(inventory_sync::Ports::from_deps(&env.deps));
    let reset = reset_peak_rss();
    let full = run(doubles, &sync, &profile).await.context("the full run")?;
    let full_peak_rss_kib = if reset { peak_rss_kib() } else { None };
    ensure!(
        full.applied_rows == full.changed,
        "BigCommerce applied {} rows, the sync changed {}",
        full.applied_rows,
        full.changed
    );

    change_parts(doubles, plan.changed_parts).await?;
    let changed = run(doubles, &sync, &profile).await.context("the run after parts changed")?;
    ensure!(
        changed.changed == plan.changed_parts && changed.applied_rows == plan.changed_parts,
        "{} parts changed, the sync found {} rows changed and BigCommerce applied {}",
        plan.changed_parts,
        changed.changed,
        changed.applied_rows
    );
    let unchanged = run(doubles, &sync, &profile).await.context("the unchanged run")?;
    change_parts(doubles, plan.incremental_parts).await?;
    let incremental = run(doubles, &sync, &profile).await.context("the incremental run")?;
    ensure!(
        incremental.changed == plan.incremental_parts,
        "{} parts changed, the incremental run found {} rows changed",
        plan.incremental_parts,
        incremental.changed
    );
    Ok(StockFigures { plan, products, full, full_peak_rss_kib, changed, unchanged, incremental })
}

/// One run, timed, and its calls counted in the doubles' logs (cleared first).
async fn run(
    doubles: &Doubles,
    sync: &inventory_sync::StockSync,
    profile: &domain::ConnectionProfile,
) -> anyhow::Result<RunFigures> {
    doubles.clear_request_logs().await?;
    let applied_before = applied_rows(doubles).await?;
    let started = Instant::now();
    let (report, failure) = sync.sync(profile, Utc::now()).await;
    let wall = started.elapsed();
    ensure!(failure.is_none(), "the sync stopped: {}", report.summary());

    let plex = doubles.requests(Api::Plex).await?;
    let bigcommerce = doubles.requests(Api::BigCommerce).await?;
    let is = |entry: &Value, method: &str, suffix: &str| {
        entry["method"].as_str() == Some(method) && entry["path"].as_str().is_some_and(|path| path.ends_with(suffix))
    };
    let catalog_reads = bigcommerce.iter().filter(|entry| is(entry, "GET", "/v3/catalog/products")).count();
    let write_calls = bigcommerce.iter().filter(|entry| is(entry, "PUT", "/v3/inventory/adjustments/absolute")).count();
    let figures = RunFigures {
        wall,
        plex_calls: plex.len(),
        catalog_reads,
        write_calls,
        other_bigcommerce: bigcommerce.len() - catalog_reads - write_calls,
        changed: report.changed,
        applied_rows: applied_rows(doubles).await? - applied_before,
    };
    // The sync's own counts against the logs'.
    ensure!(
        (report.plex_calls as usize, report.catalog_calls as usize, report.write_calls as usize)
            == (figures.plex_calls, figures.catalog_reads, figures.write_calls),
        "the sync reports {} Plex, {} catalog and {} write calls; the doubles logged {}, {} and {}",
        report.plex_calls,
        report.catalog_calls,
        report.write_calls,
        figures.plex_calls,
        figures.catalog_reads,
        figures.write_calls
    );
    Ok(figures)
}

/// Products in the demo store, every one a catalog row.
async fn store_products(doubles: &Doubles) -> anyhow::Result<usize> {
    let state = doubles.control(Api::BigCommerce, reqwest::Method::GET, "state", None).await?;
    let stores = state["data"]["stores"].as_array().context("the BigCommerce double's stores")?;
    let store = stores
        .iter()
        .find(|store| store["store_hash"] == sandbox::demo::BIGCOMMERCE_STORE_HASH)
        .context("the demo store")?;
    Ok(store["products"].as_array().context("the store's products")?.len())
}

/// Rows of every absolute adjustment BigCommerce applied so far.
async fn applied_rows(doubles: &Doubles) -> anyhow::Result<usize> {
    let dump = doubles.control(Api::BigCommerce, reqwest::Method::GET, "inventory", None).await?;
    let transactions = dump["transactions"].as_array().context("the transactions")?;
    Ok(transactions
        .iter()
        .filter(|transaction| transaction["source"] == "api")
        .filter_map(|transaction| transaction["items"].as_u64())
        .sum::<u64>() as usize)
}

/// Five units more in one container of each of `count` parts spread over the catalog, as cycle
/// counts would record them in Plex.
async fn change_parts(doubles: &Doubles, count: usize) -> anyhow::Result<()> {
    let dump = doubles.control(Api::Plex, reqwest::Method::GET, "inventory", None).await?;
    let mut first: std::collections::BTreeMap<String, (String, f64)> = std::collections::BTreeMap::new();
    for container in dump["containers"].as_array().context("the containers")? {
        let quantity = container["quantity"].as_f64().unwrap_or(0.0);
        if container["containerStatus"] == "OK" && quantity > 0.0 {
            let part = container["partNo"].as_str().context("a part number")?.to_owned();
            let serial = container["serialNo"].as_str().context("a serial number")?.to_owned();
            first.entry(part).or_insert((serial, quantity));
        }
    }
    ensure!(first.len() >= count, "only {} parts have stock", first.len());
    let step = (first.len() / count.max(1)).max(1);
    for (serial, quantity) in first.values().step_by(step).take(count) {
        let path = format!("inventory/containers/{serial}");
        let change = json!({"quantity": quantity + 5.0});
        doubles.control(Api::Plex, reqwest::Method::PUT, &path, Some(&change)).await?;
    }
    Ok(())
}

/// Resets the process's peak resident set to its current size; false where that is not possible.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// `VmHWM` of `/proc/self/status`, in KiB.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    vm_hwm_kib(&status)
}

fn vm_hwm_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peak_resident_set_is_read_from_vm_hwm() {
        let status = "Name:\tbench\nVmPeak:\t  900 kB\nVmHWM:\t  123456 kB\nVmRSS:\t  1000 kB\n";
        assert_eq!(vm_hwm_kib(status), Some(123_456));
        assert_eq!(vm_hwm_kib("Name:\tbench\n"), None);
    }

    #[test]
    fn goals_are_whole_pages_and_whole_requests() {
        let run = RunFigures { changed: 10_001, ..RunFigures::default() };
        let plan = StockPlan { skus: 10_000, containers: 50_000, changed_parts: 300, incremental_parts: 20 };
        let figures = StockFigures {
            plan,
            products: 7_501,
            full: run,
            full_peak_rss_kib: None,
            changed: RunFigures::default(),
            unchanged: RunFigures::default(),
            incremental: RunFigures::default(),
        };
        assert_eq!((figures.catalog_goal(), figures.full_write_goal()), (31, 6));
    }
}
