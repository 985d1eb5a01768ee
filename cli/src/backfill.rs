//! `millwright backfill`: queue the orders of a time window that the worker has not read in their
//! latest state, e.g. the orders placed before a connection's first sweep, or during an outage
//! longer than the reconciliation looked back.
//!
//! The same listing and rule as the order sweep's reconciliation (`Sweep::backfill`): the store's
//! orders modified in the window, oldest first; an order is queued when the ledger has no entry
//! and its status is synced, or when its entry has not seen that modification. The ledger makes a
//! repeat a no-op, so backfilling too much is safe; `--dry-run` lists what would be queued.

use std::process::ExitCode;

use anyhow::{Context, bail};
use domain::ConnectionId;
use order_sweep::ConnectionSweep;

use crate::since::Since;

#[derive(Debug, Clone, clap::Parser)]
pub struct BackfillArgs {
    /// The connection whose store is read.
    #[arg(long, short = 'c')]
    pub connection: ConnectionId,
    /// The window's start: an age (30m, 24h, 7d) or a time.
    #[arg(long)]
    pub since: Since,
    /// The window's end: an age or a time [default: now].
    #[arg(long)]
    pub until: Option<Since>,
    /// List the orders that would be queued, and queue nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Backfills `connection` over `[from, to]`.
pub async fn backfill(
    deps: &runtime::Deps,
    connection: &ConnectionId,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
    dry_run: bool,
    actor: &str,
) -> anyhow::Result<ConnectionSweep> {
    if from >= to {
        bail!("--since ({from}) must be before --until ({to})");
    }
    let profile = deps.connection(connection).await?;
    let sweep = crate::sweep::sweep(deps, actor);
    Ok(sweep.backfill(&profile, from, to, dry_run, chrono::Utc::now()).await)
}

/// The text form.
pub fn lines(report: &ConnectionSweep, dry_run: bool) -> Vec<String> {
    let verb = if dry_run { "would queue" } else { "queued" };
    let mut lines: Vec<String> = report.recovered.iter().map(|order_id| format!("{verb}: order {order_id}")).collect();
    lines.extend(report.problems.iter().map(|problem| format!("problem: {problem}")));
    lines.push(format!(
        "{} order(s) {verb} ({} BigCommerce call(s)); the others were already read by the worker or are not synced",
        report.recovered.len(),
        report.bigcommerce_calls
    ));
    lines
}

/// Runs the command; exits 1 when the window was not read to its end or an order was not queued.
pub async fn run(args: BackfillArgs) -> anyhow::Result<ExitCode> {
    let deps = crate::deps().await?;
    let now = chrono::Utc::now();
    let to = args.until.map_or(now, |until| until.resolve(now));
    let report = backfill(&deps, &args.connection, args.since.resolve(now), to, args.dry_run, &crate::replay::actor())
        .await
        .context("backfilling")?;
    for line in lines(&report, args.dry_run) {
        println!("{line}");
    }
    Ok(if report.problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
