//! `millwright stock diff`: what the next stock sync would push, writing nothing; and `millwright
//! stock sync`: that sync now, as the schedule runs it.
//!
//! The same reads and arithmetic as the scheduled run (`inventory_sync::StockSync::diff`), plus
//! BigCommerce's levels and locations: per connection, each level the run would push (SKU,
//! location, what BigCommerce shows now, the computed level, and why), each level BigCommerce shows
//! other than computed that the run would leave alone (drift), and each row BigCommerce would
//! refuse. Exits 1 when a write would be refused, so a profile change can be tried before it is
//! deployed.
//!
//! `stock sync` runs the scheduled job (`jobs::Runner::run_here`): under each connection's lease,
//! so it never overlaps a scheduled run, and audited on `{connection}#run#inventory-sync`.

use std::process::ExitCode;

use anyhow::Context;
use domain::ConnectionId;
use domain::stock::LevelComparison;
use inventory_sync::{Ports, StockDiff, StockSync};
use runtime::Deps;

#[derive(Debug, Clone, clap::Parser)]
pub struct StockArgs {
    #[command(subcommand)]
    pub command: StockCommand,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum StockCommand {
    /// Print what the next stock sync would push (SKU, location, BigCommerce now, computed, why)
    /// and the levels that drifted; writes nothing. Exits 1 when BigCommerce would refuse a write.
    Diff(DiffArgs),
    /// Run the stock sync now, as its schedule does (under the connection's lease, audited); prints
    /// each connection's result. Exits 1 when a connection's run did not finish.
    Sync(SyncArgs),
}

#[derive(Debug, Clone, clap::Parser)]
pub struct SyncArgs {
    /// Only this connection (repeatable); every connection that is not parked when omitted.
    #[arg(long = "connection", short = 'c')]
    pub connections: Vec<ConnectionId>,
}

#[derive(Debug, Clone, clap::Parser)]
pub struct DiffArgs {
    /// Only this connection (repeatable); every connection that is not parked when omitted.
    #[arg(long = "connection", short = 'c')]
    pub connections: Vec<ConnectionId>,
    /// One JSON document per row (with its connection), instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// One connection's diff.
#[derive(Debug, Clone)]
pub struct ConnectionDiff {
    pub connection: ConnectionId,
    pub diff: StockDiff,
}

/// The diffs of `connections` (every connection that is not parked when empty). Fails on an
/// unknown connection or a read that fails, naming the connection.
pub async fn diff(deps: &Deps, connections: &[ConnectionId]) -> anyhow::Result<Vec<ConnectionDiff>> {
    let profiles = if connections.is_empty() {
        let all = deps.connections.list().await.context("listing the connections")?;
        all.into_iter().filter(|profile| !profile.is_parked()).collect()
    } else {
        let mut profiles = Vec::with_capacity(connections.len());
        for connection in connections {
            profiles.push(deps.connection(connection).await?);
        }
        profiles
    };
    let sync = StockSync::new(Ports::from_deps(deps));
    let mut diffs = Vec::with_capacity(profiles.len());
    for profile in &profiles {
        let diff = sync.diff(profile).await.with_context(|| format!("comparing the stock of {}", profile.id))?;
        diffs.push(ConnectionDiff { connection: profile.id.clone(), diff });
    }
    Ok(diffs)
}

/// The rows worth printing: those the run would push, and those that drifted.
fn shown(diff: &StockDiff) -> impl Iterator<Item = &LevelComparison> {
    diff.comparison.rows.iter().filter(|row| row.will_push() || row.shown() != row.computed)
}

/// The text form: per connection a heading, then a table of the rows worth printing.
pub fn lines(diffs: &[ConnectionDiff]) -> Vec<String> {
    let mut lines = Vec::new();
    for ConnectionDiff { connection, diff } in diffs {
        let pending = diff.comparison.pending().count();
        let refused = diff.comparison.refused().count();
        let drifted = diff.comparison.rows.iter().filter(|row| !row.will_push() && row.shown() != row.computed).count();
        lines.push(format!(
            "{connection}: {pending} of {} level(s) would be pushed, {refused} of them refused; {drifted} drifted \
             (not written)",
            diff.comparison.rows.len()
        ));
        let rows: Vec<[String; 5]> = shown(diff)
            .map(|row| {
                let why = match &row.refusal {
                    Some(refusal) if row.will_push() => format!("WOULD FAIL: {refusal}; {}", row.why()),
                    _ => row.why(),
                };
                [
                    row.sku.to_string(),
                    row.location.id().to_string(),
                    row.bigcommerce.map_or_else(|| "-".to_owned(), |level| level.to_string()),
                    row.computed.to_string(),
                    why,
                ]
            })
            .collect();
        if !rows.is_empty() {
            lines.extend(table(["SKU", "LOCATION", "BIGCOMMERCE", "COMPUTED", "WHY"], &rows));
        }
        if diff.not_in_catalog > 0 {
            lines.push(format!(
                "  {} part(s) with stock have no SKU in BigCommerce (skipped): {}",
                diff.not_in_catalog,
                diff.not_in_catalog_sample.join(", ")
            ));
        }
        if !diff.unmapped_locations.is_empty() {
            lines.push(format!(
                "  stock at Plex location(s) {} maps to no BigCommerce location (left out)",
                diff.unmapped_locations.join(", ")
            ));
        }
    }
    if diffs.is_empty() {
        lines.push("no connections to compare".to_owned());
    }
    lines
}

/// Rows under a heading, each column as wide as its widest value, indented by two spaces.
fn table<const N: usize>(heading: [&str; N], rows: &[[String; N]]) -> Vec<String> {
    let mut widths = heading.map(str::len);
    for row in rows {
        for (width, value) in widths.iter_mut().zip(row) {
            *width = (*width).max(value.chars().count());
        }
    }
    let line = |values: [&str; N]| {
        let cells: Vec<String> = values.iter().zip(widths).map(|(value, width)| format!("{value:<width$}")).collect();
        format!("  {}", cells.join("  ")).trim_end().to_owned()
    };
    let mut lines = vec![line(heading)];
    lines.extend(rows.iter().map(|row| line(row.each_ref().map(String::as_str))));
    lines
}

/// The JSON form: one document per row worth printing, with its connection.
pub fn json_lines(diffs: &[ConnectionDiff]) -> anyhow::Result<Vec<String>> {
    let mut lines = Vec::new();
    for ConnectionDiff { connection, diff } in diffs {
        for row in shown(diff) {
            let mut value = serde_json::to_value(row).context("writing a row as JSON")?;
            value["connection"] = serde_json::json!(connection);
            value["will_push"] = serde_json::json!(row.will_push());
            value["why"] = serde_json::json!(row.why());
            lines.push(value.to_string());
        }
    }
    Ok(lines)
}

/// Runs the stock sync job for `connections` (all when empty) here, each under its lease, and
/// returns one line per connection and whether every run finished. Fails before running when a
/// named connection is unknown.
pub async fn sync(deps: &Deps, connections: &[ConnectionId], actor: &str) -> anyhow::Result<(Vec<String>, bool)> {
    for connection in connections {
        deps.connection(connection).await?;
    }
    let sync = StockSync::new(Ports::from_deps(deps));
    let runner = jobs::Runner::new(sync, jobs::Ports::from_deps(deps), jobs::Settings::default());
    let holder = format!("{actor}#{}", uuid::Uuid::new_v4().simple());
    let runs = runner.run_here(connections, &holder, chrono::Utc::now()).await?;
    let mut finished = true;
    let mut lines = Vec::with_capacity(runs.len());
    for run in runs {
        lines.push(match run {
            jobs::JobRun::Done { connection, report } => format!("{connection}: {}", report.summary),
            jobs::JobRun::Failed { connection, report, .. } => {
                finished = false;
                format!("{connection}: failed: {}", report.summary)
            }
            jobs::JobRun::Skipped { connection, reason, .. } => {
                finished = false;
                format!("{connection}: not run: {reason}")
            }
            jobs::JobRun::HandedBack { connection } => {
                finished = false;
                format!("{connection}: stopped at the deadline; the next run carries on")
            }
            jobs::JobRun::Refused { reason } => {
                finished = false;
                format!("not run: {reason}")
            }
        });
    }
    if lines.is_empty() {
        lines.push("no connections to sync".to_owned());
    }
    Ok((lines, finished))
}

/// Runs the command: `diff` exits 1 when BigCommerce would refuse a write, `sync` when a run did
/// not finish.
pub async fn run(args: StockArgs) -> anyhow::Result<ExitCode> {
    let args = match args.command {
        StockCommand::Diff(args) => args,
        StockCommand::Sync(args) => {
            let deps = crate::deps().await?;
            let (lines, finished) = sync(&deps, &args.connections, &crate::replay::actor()).await?;
            for line in lines {
                println!("{line}");
            }
            return Ok(if finished { ExitCode::SUCCESS } else { ExitCode::FAILURE });
        }
    };
    let deps = crate::deps().await?;
    let diffs = diff(&deps, &args.connections).await?;
    let lines = if args.json { json_lines(&diffs)? } else { lines(&diffs) };
    for line in lines {
        println!("{line}");
    }
    let would_fail = diffs.iter().any(|diff| diff.diff.would_fail());
    Ok(if would_fail { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_pads_each_column_to_its_widest_value() {
        let rows = [["BOLT-M8".to_owned(), "1".to_owned()], ["NUT".to_owned(), "12".to_owned()]];
        assert_eq!(table(["SKU", "LOCATION"], &rows), vec!["  SKU      LOCATION", "  BOLT-M8  1", "  NUT      12"]);
    }
}
