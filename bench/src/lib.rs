//! `millwright-bench`: the orders flow's figures and the scheduled functions' API calls, measured
//! against the local world and printed as one table (`make bench`). Nothing here asserts on time;
//! the tests cover the arithmetic only.
//!
//! Layout:
//! - [`run`] (this file): the scenarios in order and the table they fill.
//! - `receiver`: webhook verify + enqueue latency, in-process, through moto, through the local
//!   runtime's HTTP edge.
//! - `orders`: webhook → Plex sales order latency and API calls per order (cold and warm caches).
//! - `drain`: a backlog drained under the real rate limits, time-scaled, against the bound the
//!   limits allow, with the 429s met.
//! - `scheduled`: API calls of the order sweep (releasing held orders, the reconciliation) and of
//!   the webhook health check.
//! - `stock`: the stock sync over a generated inventory: a full first run (wall time, peak RSS,
//!   calls), a run after some parts changed, and an unchanged run.
//! - the fault soak (`millwright_e2e::soak`, also `make soak` and part of `make test`): its small
//!   seeded run, summed up in two rows.
//! - `world`: the moto adapters, in-process sandboxes, seeding and request-log tallies.
//! - `stats`, `table`: percentiles, bounds, page reads and ratios; the table's layout.

use std::time::{Duration, Instant};

pub mod drain;
pub mod fan_out;
pub mod orders;
pub mod receiver;
pub mod scheduled;
pub mod stats;
pub mod stock;
pub mod table;
pub mod world;

use stats::{Latencies, millis, ratio};
use table::{Row, Table};
use world::{Api, Env};

/// Sample sizes and limits of one run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Deliveries timed in-process.
    pub in_process: usize,
    /// Deliveries timed through moto, and through the local runtime's HTTP edge.
    pub through_moto: usize,
    /// Orders sent webhook → Plex (the first with cold caches).
    pub orders: usize,
    /// Lines of every order (1 to 4).
    pub lines: usize,
    /// How long the webhook → Plex scenario may take before it reports what it has; also each
    /// phase of the held-order release (holding, then writing the released orders).
    pub orders_deadline: Duration,
    pub drain: drain::DrainPlan,
    /// How many times the drain runs; the table reports the median and the spread.
    pub drain_runs: usize,
    /// Orders held for unknown SKUs and released by one order sweep run, and those SKUs.
    pub held_orders: usize,
    pub unknown_skus: usize,
    /// Orders the order sweep's reconciliation recovers in one run.
    pub missed_orders: usize,
    /// Connections of the scheduled-job runner's fan-out (the webhook health check's run over
    /// them, against its run over one).
    pub fan_out_connections: usize,
    /// The stock sync's inventory: SKUs, containers, and parts changed before its second run.
    pub stock: stock::StockPlan,
    /// The local runtime's receiver, when the environment names one (`WEBHOOK_RECEIVER_URL`).
    pub receiver_url: Option<String>,
    /// The fault soak's plan for its rows.
    pub soak: millwright_e2e::soak::SoakPlan,
}

impl Options {
    /// The figures `make bench` reports.
    pub fn full(receiver_url: Option<String>) -> Options {
        Options {
            in_process: 2_000,
            through_moto: 200,
            // 25 two-line orders are 178 Plex calls with the cold look-ups: inside one minute's
            // budget of 200, so no order waits for the pacer and the latency is the pipeline's.
            orders: 25,
            lines: 2,
            orders_deadline: Duration::from_secs(90),
            drain: drain::DrainPlan {
                orders: 1_000,
                lines: 2,
                target: Duration::from_secs(45),
                cap: Duration::from_secs(135),
            },
            drain_runs: 3,
            held_orders: 40,
            unknown_skus: 5,
            // Three pages of the order list at 250 a page.
            missed_orders: 600,
            fan_out_connections: 200,
            stock: stock::StockPlan { skus: 10_000, containers: 50_000, changed_parts: 300, incremental_parts: 20 },
            receiver_url,
            soak: millwright_e2e::soak::SoakPlan::small(millwright_e2e::soak::DEFAULT_SEED),
        }
    }

    /// Every scenario with small numbers, to prove the bench still runs (well under a minute).
    pub fn quick(receiver_url: Option<String>) -> Options {
        Options {
            in_process: 200,
            through_moto: 20,
            orders: 5,
            orders_deadline: Duration::from_secs(30),
            drain: drain::DrainPlan {
                orders: 100,
                lines: 2,
                target: Duration::from_secs(3),
                cap: Duration::from_secs(30),
            },
            drain_runs: 1,
            held_orders: 10,
            missed_orders: 300,
            fan_out_connections: 20,
            stock: stock::StockPlan { skus: 1_000, containers: 5_000, changed_parts: 200, incremental_parts: 10 },
            soak: millwright_e2e::soak::SoakPlan::small(millwright_e2e::soak::DEFAULT_SEED).with_orders(12),
            ..Options::full(receiver_url)
        }
    }
}

/// The binaries' log set-up: errors to stderr by default (the drain and the soak meet 429s on
/// purpose, and each would log a warning), and every line at the deployed level through the soak's
/// layer, which looks for secrets.
pub fn init_logging() {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
            ),
        )
        .with(millwright_e2e::soak::log_layer())
        .init();
}

/// Runs every scenario and fills the table. Scenarios that need the local world fail the run with
/// the reason; the in-process one runs first so a broken environment costs seconds.
pub async fn run(options: &Options) -> anyhow::Result<Table> {
    let started = Instant::now();
    let mut table = Table::default();
    let env = Env::from_env().await?;

    eprintln!("webhook verify+enqueue, in-process ({} deliveries) ...", options.in_process);
    let in_process = receiver::in_process(options.in_process).await?;
    table.push(latency_row("webhook verify+enqueue, in-process (fakes), p50 / p99", &in_process, 99.0));

    eprintln!("webhook verify+enqueue through moto ({} deliveries) ...", options.through_moto);
    let connection = format!("bench-rx-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    env.install_connection(&connection, None).await?;
    let queue_url = env.create_queue(&connection).await?;
    let moto = receiver::through_moto(&env, &connection, &queue_url, options.through_moto).await;
    env.delete_queue(&queue_url).await;
    table.push(latency_row("webhook verify+enqueue, through moto (DynamoDB + SQS), p50 / p99", &moto?, 99.0));

    eprintln!("webhook -> Plex sales order ({} orders of {} lines) ...", options.orders, options.lines);
    let orders = orders::webhook_to_plex(&env, options.orders, options.lines, options.orders_deadline).await?;
    push_order_rows(&mut table, &orders);

    eprintln!(
        "drain of {} orders under the scaled limits (about {} s, at most {} s) ...",
        options.drain.orders,
        options.drain.target.as_secs(),
        options.drain.cap.as_secs()
    );
    let mut drains = Vec::with_capacity(options.drain_runs.max(1));
    for run in 1..=options.drain_runs.max(1) {
        eprintln!("  drain run {run} of {}", options.drain_runs.max(1));
        drains.push(drain::run(&env, options.drain).await?);
    }
    let drained = push_drain_rows(&mut table, drains);

    eprintln!(
        "order sweep: release of {} orders held for {} unknown SKUs ...",
        options.held_orders, options.unknown_skus
    );
    let released =
        scheduled::held_order_release(&env, options.held_orders, options.unknown_skus, options.orders_deadline).await?;
    push_release_rows(&mut table, &released);

    eprintln!("order sweep: reconciliation of {} orders no webhook brought ...", options.missed_orders);
    let reconciled = scheduled::reconciliation(&env, options.missed_orders).await?;
    push_reconcile_rows(&mut table, &reconciled);

    eprintln!("webhook health check: healthy hooks, then one deactivated and one missing ...");
    let health = scheduled::webhook_health(&env).await?;
    push_health_rows(&mut table, &health);

    eprintln!("webhook health check: one run over 1 connection, then one over {} ...", options.fan_out_connections);
    let fanned = fan_out::webhook_health(&env, options.fan_out_connections).await?;
    push_fan_out_rows(&mut table, &fanned);

    eprintln!(
        "stock sync: {} SKUs over {} containers, then {} parts changed, then nothing ...",
        options.stock.skus, options.stock.containers, options.stock.changed_parts
    );
    let stock = stock::sync(&env, options.stock).await?;
    push_stock_rows(&mut table, &stock);
    let scheduled = Scheduled { released, reconciled, health, fanned, stock };

    eprintln!("fault soak: {} orders under faults, seed {} ...", options.soak.orders, options.soak.seed);
    let soak = millwright_e2e::soak::run(&options.soak).await;
    push_soak_rows(&mut table, &soak);

    // Last: the local world's own worker drains these messages in the background, which would
    // otherwise compete with the scenarios above for moto and the two cores.
    let http_figure = match &options.receiver_url {
        Some(url) => {
            eprintln!(
                "webhook verify+enqueue through the local runtime's HTTP edge ({} deliveries) ...",
                options.through_moto
            );
            Some(receiver::through_http(url, options.through_moto).await?)
        }
        None => None,
    };
    match &http_figure {
        Some(latencies) => {
            let row = latency_row("webhook verify+enqueue, local runtime over HTTP, p50 / p99", latencies, 99.0);
            // Keep the three receiver figures together.
            table.rows.insert(2, row);
        }
        None => table.note("No local runtime receiver (WEBHOOK_RECEIVER_URL unset): the HTTP figure is left out."),
    }

    add_notes(&mut table, options, &orders, &drained, &scheduled, started.elapsed());
    Ok(table)
}

fn latency_row(figure: &str, latencies: &Latencies, high: f64) -> Row {
    let p50 = latencies.percentile(50.0).map(millis).unwrap_or_else(|| "-".to_owned());
    let high = latencies.percentile(high).map(millis).unwrap_or_else(|| "-".to_owned());
    Row::new(format!("{figure} (n = {})", latencies.len()), format!("{p50} / {high}"), "ms")
}

fn push_order_rows(table: &mut Table, figures: &orders::OrderFigures) {
    table.push(latency_row("webhook → Plex sales order committed, p50 / p95", &figures.latencies, 95.0));
    table.push(
        Row::new("BigCommerce calls per order", format!("{:.2}", figures.warm_bigcommerce_per_order), "calls")
            .goal("1")
            .ratio(ratio(1.0, figures.warm_bigcommerce_per_order)),
    );
    let minimum = 1 + 3 * figures.lines as u64;
    table.push(
        Row::new("Plex calls per order, warm caches", format!("{:.2}", figures.warm_plex_per_order), "calls")
            .goal(format!("{minimum} (REST minimum: 1 + 3 × {} lines)", figures.lines))
            .ratio(ratio(minimum as f64, figures.warm_plex_per_order)),
    );
    let look_ups = figures.cold_plex.saturating_sub(minimum);
    table.push(
        Row::new("Plex look-ups of the first order, cold caches", look_ups.to_string(), "calls")
            .goal(format!("{} (customer + {} SKUs)", 1 + figures.lines, figures.lines))
            .ratio(ratio((1 + figures.lines) as f64, look_ups as f64)),
    );
}

/// The drain's rows: the median run (by its ratio to the bound) with the spread of every run's
/// ratio, the 429s of all runs and the sales orders per web order of all runs; returns the median
/// run for the notes.
fn push_drain_rows(table: &mut Table, mut runs: Vec<drain::DrainFigures>) -> drain::DrainFigures {
    runs.sort_by(|a, b| drain_ratio(a).total_cmp(&drain_ratio(b)));
    let ratios: Vec<String> = runs.iter().map(|run| format!("{:.2}", drain_ratio(run))).collect();
    let (bigcommerce_429s, plex_429s) =
        runs.iter().fold((0, 0), |(bc, plex), run| (bc + run.bigcommerce.rate_limited, plex + run.plex.rate_limited));
    let (plex_orders, plex_distinct) =
        runs.iter().fold((0, 0), |(all, distinct), run| (all + run.plex_orders, distinct + run.plex_distinct_orders));
    let count = runs.len();
    let figures = runs.swap_remove(count / 2);
    let binding = match figures.binding {
        Api::Plex => format!("Plex {} per {} ms", figures.plex_limit.calls, figures.plex_limit.window.as_millis()),
        Api::BigCommerce => format!(
            "BigCommerce {} per {} ms",
            figures.bigcommerce_limit.calls,
            figures.bigcommerce_limit.window.as_millis()
        ),
    };
    let label = if figures.finished {
        format!("drain of {} queued orders, median of {count} (time ×{:.4})", figures.plan.orders, figures.time_scale)
    } else {
        format!(
            "drain STOPPED at the cap: {} of {} orders, median of {count} (time ×{:.4})",
            figures.done + figures.dead_lettered,
            figures.plan.orders,
            figures.time_scale
        )
    };
    table.push(
        Row::new(label, format!("{:.1}", figures.elapsed.as_secs_f64()), "s")
            .goal(format!("bound {:.1} s ({binding})", drain_bound_of(&figures).as_secs_f64()))
            .ratio(Some(drain_ratio(&figures))),
    );
    table.push(
        Row::new(format!("drain: bound / elapsed of each of the {count} runs"), ratios.join(" "), "ratio")
            .goal("≥ 0.90"),
    );
    table.push(
        Row::new(
            format!("429s received during the drains (BigCommerce / Plex, {count} runs)"),
            format!("{bigcommerce_429s} / {plex_429s}"),
            "responses",
        )
        .goal("0"),
    );
    table.push(
        Row::new(
            format!("Plex sales orders per web order (drains, {count} runs)"),
            format!("{plex_orders} / {plex_distinct}"),
            "orders",
        )
        .goal("exactly 1 each")
        .ratio(ratio(plex_distinct as f64, plex_orders as f64)),
    );
    figures
}

/// The bound of what a drain did: the whole plan's when it finished, else that of the orders it
/// finished, so a run stopped at the cap still says how well it used the budget.
fn drain_bound_of(figures: &drain::DrainFigures) -> Duration {
    if figures.finished {
        return figures.bound;
    }
    let partial = drain::DrainPlan { orders: figures.done.max(1), ..figures.plan };
    partial.bound(figures.bigcommerce_limit, figures.plex_limit).0
}

fn drain_ratio(figures: &drain::DrainFigures) -> f64 {
    ratio(drain_bound_of(figures).as_secs_f64(), figures.elapsed.as_secs_f64()).unwrap_or(0.0)
}

/// What the scheduled functions' scenarios measured.
struct Scheduled {
    released: scheduled::ReleaseFigures,
    reconciled: scheduled::ReconcileFigures,
    health: scheduled::HealthFigures,
    fanned: fan_out::FanOutFigures,
    stock: stock::StockFigures,
}

fn push_release_rows(table: &mut Table, figures: &scheduled::ReleaseFigures) {
    table.push(
        Row::new(
            format!("order sweep: Plex look-ups, {} SKUs missing from {} held orders", figures.skus, figures.orders),
            figures.sweep_lookups.to_string(),
            "calls",
        )
        .goal(format!("{} (one per distinct gap)", figures.skus))
        .ratio(ratio(figures.skus as f64, figures.sweep_lookups as f64)),
    );
    table.push(
        Row::new(
            "order worker: Plex part look-ups for the released orders",
            figures.worker_lookups.to_string(),
            "calls",
        )
        .goal("0 (the sweep filled the cache)")
        .ratio(ratio(0.0, figures.worker_lookups as f64)),
    );
    table.push(
        Row::new("order sweep: held orders released", format!("{} / {}", figures.released, figures.orders), "orders")
            .goal(format!("all {}", figures.orders))
            .ratio(ratio(figures.released as f64, figures.orders as f64)),
    );
}

fn push_reconcile_rows(table: &mut Table, figures: &scheduled::ReconcileFigures) {
    table.push(
        Row::new(
            format!("order sweep: BigCommerce calls, reconciling {} orders no webhook brought", figures.orders),
            figures.bigcommerce.to_string(),
            "calls",
        )
        .goal(format!("{} page reads (⌊{} / {}⌋ + 1)", figures.goal, figures.orders, figures.page_size))
        .ratio(ratio(figures.goal as f64, figures.bigcommerce as f64)),
    );
    table.push(
        Row::new("order sweep: orders recovered", format!("{} / {}", figures.recovered, figures.orders), "orders")
            .goal(format!("all {}", figures.orders))
            .ratio(ratio(figures.recovered as f64, figures.orders as f64)),
    );
}

fn push_health_rows(table: &mut Table, figures: &scheduled::HealthFigures) {
    table.push(
        Row::new("webhook health: BigCommerce calls per check, hooks healthy", figures.healthy.to_string(), "calls")
            .goal("1 (list)")
            .ratio(ratio(1.0, figures.healthy as f64)),
    );
    table.push(
        Row::new(
            "webhook health: BigCommerce calls per check, 1 hook deactivated + 1 missing",
            figures.repairing.to_string(),
            "calls",
        )
        .goal("3 (list + reactivate + register)")
        .ratio(ratio(3.0, figures.repairing as f64)),
    );
}

fn push_fan_out_rows(table: &mut Table, figures: &fan_out::FanOutFigures) {
    let (one, many) = (&figures.one, &figures.many);
    table.push(Row::new("webhook health run, 1 connection: wall time", millis(one.wall), "ms"));
    table.push(
        Row::new(format!("webhook health run, {} connections: wall time", many.connections), millis(many.wall), "ms")
            .goal(format!("≤ 2 × 1 connection ({})", millis(one.wall * 2)))
            .ratio(ratio(2.0 * one.wall.as_secs_f64(), many.wall.as_secs_f64())),
    );
    table.push(
        Row::new(
            format!("webhook health run, {} connections: BigCommerce calls", many.connections),
            many.bigcommerce_calls.to_string(),
            "calls",
        )
        .goal(format!("{} × 1 connection's {}", many.connections, one.bigcommerce_calls))
        .ratio(ratio((many.connections * one.bigcommerce_calls) as f64, many.bigcommerce_calls as f64)),
    );
}

fn push_stock_rows(table: &mut Table, figures: &stock::StockFigures) {
    let (plan, full) = (&figures.plan, &figures.full);
    let stem = format!("stock sync, {} SKUs over {} containers", plan.skus, plan.containers);
    table.push(Row::new(format!("{stem}: full first run, wall time"), millis(full.wall), "ms"));
    let rss = figures.full_peak_rss_kib.map(|kib| format!("{:.1}", kib as f64 / 1024.0));
    table.push(Row::new(
        format!("{stem}: peak RSS of the bench process, full run"),
        rss.unwrap_or("n/a".into()),
        "MiB",
    ));
    table.push(
        Row::new(format!("{stem}: Plex calls, full run"), full.plex_calls.to_string(), "calls")
            .goal("1 (one unpaged container read)")
            .ratio(ratio(1.0, full.plex_calls as f64)),
    );
    let goal = figures.catalog_goal();
    table.push(
        Row::new(format!("{stem}: BigCommerce catalog reads, full run"), full.catalog_reads.to_string(), "calls")
            .goal(format!("{goal} (⌈{} products / {}⌉)", figures.products, stock::CATALOG_PAGE_SIZE))
            .ratio(ratio(goal as f64, full.catalog_reads as f64)),
    );
    let goal = figures.full_write_goal();
    table.push(
        Row::new(format!("{stem}: BigCommerce write calls, full run"), full.write_calls.to_string(), "calls")
            .goal(format!("{goal} (⌈{} rows / {}⌉)", full.changed, domain::stock::MAX_ADJUSTMENT_ROWS))
            .ratio(ratio(goal as f64, full.write_calls as f64)),
    );
    let changed = &figures.changed;
    table.push(
        Row::new(
            format!("stock sync, {} parts changed: BigCommerce write calls (rows)", plan.changed_parts),
            format!("{} ({})", changed.write_calls, changed.applied_rows),
            "calls",
        )
        .goal(format!("1 ({} rows)", plan.changed_parts))
        .ratio(ratio(1.0, changed.write_calls as f64)),
    );
    table.push(
        Row::new(
            "stock sync, unchanged run: BigCommerce write calls",
            figures.unchanged.write_calls.to_string(),
            "calls",
        )
        .goal("0"),
    );
    table.push(
        Row::new("stock sync, unchanged run: Plex calls", figures.unchanged.plex_calls.to_string(), "calls")
            .goal("1 (the container adjustments since the last run)")
            .ratio(ratio(1.0, figures.unchanged.plex_calls as f64)),
    );
    let incremental = &figures.incremental;
    let stem = format!("stock sync, incremental run after {} parts changed", plan.incremental_parts);
    table.push(Row::new(format!("{stem}: wall time"), millis(incremental.wall), "ms"));
    let goal = plan.incremental_parts + 1;
    table.push(
        Row::new(format!("{stem}: Plex calls"), incremental.plex_calls.to_string(), "calls")
            .goal(format!("{goal} (the adjustments, then each part's containers)"))
            .ratio(ratio(goal as f64, incremental.plex_calls as f64)),
    );
    table.push(
        Row::new(
            format!("{stem}: BigCommerce write calls (rows)"),
            format!("{} ({})", incremental.write_calls, incremental.applied_rows),
            "calls",
        )
        .goal(format!("1 ({} rows)", plan.incremental_parts))
        .ratio(ratio(1.0, incremental.write_calls as f64)),
    );
}

fn push_soak_rows(table: &mut Table, report: &millwright_e2e::soak::SoakReport) {
    let plan = &report.plan;
    let missed = report.wrong.len() + report.needed_operator.len() + report.dead_lettered.len();
    table.push(
        Row::new(
            format!(
                "fault soak (seed {}, {} orders): wrong / needed an operator / dead-lettered",
                plan.seed, plan.orders
            ),
            format!("{} / {} / {}", report.wrong.len(), report.needed_operator.len(), report.dead_lettered.len()),
            "orders",
        )
        .goal("0 / 0 / 0")
        .ratio(Some(if missed == 0 { 1.0 } else { 0.0 })),
    );
    table.push(
        Row::new(
            "fault soak: BigCommerce order reads per order change or replay (beyond refused ones)",
            format!("{:.2}", report.bigcommerce_reads_per_change()),
            "reads",
        )
        .goal("≤ 1.1")
        .ratio(ratio(millwright_e2e::soak::READS_PER_CHANGE_GOAL, report.bigcommerce_reads_per_change())),
    );
    let failures = report.failures();
    if failures.is_empty() {
        table.note(format!("Fault soak: every goal met ({}).", report.rerun()));
    } else {
        table.note(format!(
            "Fault soak: {} goal(s) missed: {}. Rerun: {}",
            failures.len(),
            failures.join("; "),
            report.rerun()
        ));
    }
}

fn add_notes(
    table: &mut Table,
    options: &Options,
    orders: &orders::OrderFigures,
    drained: &drain::DrainFigures,
    scheduled: &Scheduled,
    took: Duration,
) {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let build = if cfg!(debug_assertions) {
        "a debug build (figures of the receiver's own work are several times slower than optimised)"
    } else {
        "an optimised build (`bench-fast` profile)"
    };
    table.note(format!(
        "Machine: {cores} cores shared by the bench, moto and the local world; the bench is {build}, the local world \
         (moto, the local runtime serving the HTTP figure) the debug build `make test` uses. The run took {:.0} s.",
        took.as_secs_f64()
    ));
    table.note(format!(
        "Webhook → Plex: {} orders of {} lines, one webhook every 250 ms after a first order on its own; two pollers \
         (MaximumConcurrency 2) of an SQS FIFO queue in moto, each a Worker from Ports::from_deps; doubles at the \
         real limits. {} order(s) not committed within {} s; {} 429(s).",
        orders.orders,
        orders.lines,
        orders.not_committed,
        options.orders_deadline.as_secs(),
        orders.rate_limited
    ));
    table.note(format!(
        "Drain (the median run): {} orders of {} lines queued at once; BigCommerce {} per {} ms and Plex {} per {} ms \
         (the real limits × {:.4}); two containers, batches of 10, each with its own clients and its Plex pacer on the \
         scaled window at half the key's limit, as deployed; worker state in memory and the queue in-process, so the \
         budgets and not moto bind. {} BigCommerce and {} Plex requests (the minimum is {} and {}), {} redeliveries, \
         {} dead-lettered.",
        drained.plan.orders,
        drained.plan.lines,
        drained.bigcommerce_limit.calls,
        drained.bigcommerce_limit.window.as_millis(),
        drained.plex_limit.calls,
        drained.plex_limit.window.as_millis(),
        drained.time_scale,
        drained.bigcommerce.requests,
        drained.plex.requests,
        drained.plan.bigcommerce_calls(),
        drained.plan.plex_calls(),
        drained.redeliveries,
        drained.dead_lettered
    ));
    let released = &scheduled.released;
    table.note(format!(
        "Held orders: {} guest orders of 1 or 2 lines of {} new SKUs, each through the receiver and the two pollers, \
         which held {} of them; then the parts created in the Plex double and one Sweep::run_for with \
         order_sweep::Ports::from_deps and the default settings (at most {} look-ups), no poller running: {} gaps \
         checked, {} filled, {} Plex calls by the sweep's own count, {} Plex requests in all. The pollers then wrote \
         the released orders with {} Plex requests ({} of them look-ups by PO number, which the worker makes before \
         creating any order whose ledger entry is not new) and {} BigCommerce requests; {} not committed within {} s. \
         The Plex double's limit was {} per minute in this scenario, so no order waited for the budget; these figures \
         are counts.",
        released.orders,
        released.skus,
        released.held,
        released.max_lookups,
        released.gaps_checked,
        released.gaps_filled,
        released.sweep_reported,
        released.sweep_plex,
        released.worker_plex,
        released.worker_po_lookups,
        released.worker_bigcommerce,
        released.not_committed,
        options.orders_deadline.as_secs(),
        scheduled::RELEASE_PLEX_LIMIT.calls
    ));
    let reconciled = &scheduled.reconciled;
    table.note(format!(
        "Reconciliation: {} one-line orders seeded into the BigCommerce double (no webhooks), modified in whole seconds \
         spread over {} s of the first run's window; one Sweep::run_for over the deployment's adapters with a \
         RecordingQueue, so no worker called BigCommerce: {} calls by the sweep's own count, {} messages queued. The \
         goal is the fewest page reads that list every order and see the list end (a short or empty last page).",
        reconciled.orders, reconciled.spread_seconds, reconciled.reported, reconciled.queued
    ));
    let health = &scheduled.health;
    table.note(format!(
        "Webhook health: HealthCheck::check with repair, webhook_health::Ports::from_deps; the repairing check {}; \
         the next check of that connection made {} call(s) and found its hooks {}.",
        if health.repairs.is_empty() { "repaired nothing".to_owned() } else { health.repairs.join(" and ") },
        health.after_repair,
        if health.healthy_after_repair { "healthy" } else { "NOT healthy" }
    ));
    let fanned = &scheduled.fanned;
    table.note(format!(
        "Webhook health runs: the scheduled invocation fans out one job per connection onto a job queue in moto; the \
         local runtime's JobPoller runs up to {} jobs at once, one per invocation (the template's \
         ScheduledJobConcurrency default); wall time until the queue is empty, every job audited Ok. Every connection \
         is a store of its own in the double, and each hook listing is held {} ms, a real store's round trip. Each job \
         costs about seven calls to moto (receive share, profile, lease, secret, audit, lease done, delete), which \
         answers about 100 calls a second on two cores: many connections' jobs wait on moto, not on each other or on \
         their stores ({} connections one after another would take about {} s).",
        fanned.concurrency,
        fan_out::BIGCOMMERCE_LATENCY.as_millis(),
        fanned.many.connections,
        format_args!("{:.1}", fanned.one.wall.as_secs_f64() * fanned.many.connections as f64)
    ));
    let stock = &scheduled.stock;
    table.note(format!(
        "Stock sync: StockSync::sync with inventory_sync::Ports::from_deps (last-pushed levels, open orders and one \
         audit event per pushed row in moto, 25 to a request) over {} parts in {} sellable containers in the Plex double (one unpaged \
         answer) and {} SKUs in {} products ({}% tracked by variant) in the BigCommerce double, its real limit; calls \
         counted in the doubles' request logs, agreeing with the sync's own report. The full run pushed {} rows in {:.1} \
         s; {} parts then changed one container each (more than an incremental run reads one by one, so a full read) \
         and the next run took {:.1} s, the unchanged one after it {:.1} s ({} BigCommerce calls besides catalog \
         reads and writes in all: the drift report's level reads at the first run). The incremental run reads the \
         container adjustments since the last run and then only the changed parts' containers. The peak RSS is the bench process's VmHWM, \
         reset just before the full run; the process hosts the doubles too, so it includes the Plex double's answer.",
        stock.plan.skus,
        stock.plan.containers,
        stock.plan.skus,
        stock.products,
        (stock::VARIANT_SHARE * 100.0).round(),
        stock.full.changed,
        stock.full.wall.as_secs_f64(),
        stock.plan.changed_parts,
        stock.changed.wall.as_secs_f64(),
        stock.unchanged.wall.as_secs_f64(),
        stock.full.other_bigcommerce + stock.changed.other_bigcommerce + stock.unchanged.other_bigcommerce,
    ));
    table.note("Ratio: goal or bound over the measured value; 1.00 meets it exactly.");
}
