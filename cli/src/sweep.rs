//! `millwright sweep`: run the order sweep now, instead of waiting for its schedule.
//!
//! The same `order_sweep::Sweep` the scheduled function runs: every held order whose mapping gaps
//! are filled is queued again, and every order the worker has not seen in its latest state (a
//! missed webhook) is queued; the report says what was checked, what filled each gap, what was
//! recovered, and what stopped a connection early. Each connection's sweep runs as the scheduled
//! job does (`jobs::Runner::run_here`): under the connection's lease, so it never overlaps a
//! scheduled run of the same connection, and audited on `{connection}#run#order-sweep`.

use std::process::ExitCode;

use domain::ConnectionId;
use order_sweep::{ConnectionSweep, Sweep};
use runtime::Deps;

#[derive(Debug, Clone, clap::Parser)]
pub struct SweepArgs {
    /// Only this connection (repeatable); every connection when omitted.
    #[arg(long = "connection", short = 'c')]
    pub connections: Vec<ConnectionId>,
}

/// The sweep as the CLI runs it: the deployment's adapters, the scheduled function's settings,
/// and `actor` in the audit trail.
pub fn sweep(deps: &Deps, actor: &str) -> Sweep {
    let settings = order_sweep::Settings { actor: actor.to_owned(), ..order_sweep::Settings::default() };
    Sweep::new(order_sweep::Ports::from_deps(deps), settings)
}

/// Sweeps the connections (all when empty), each under its lease. Fails before sweeping when a
/// named connection is unknown. A connection whose lease another run holds is not swept: its report
/// names that as its problem.
pub async fn run_sweep(deps: &Deps, connections: &[ConnectionId], actor: &str) -> anyhow::Result<Vec<ConnectionSweep>> {
    for connection in connections {
        deps.connection(connection).await?;
    }
    let runner = jobs::Runner::new(sweep(deps, actor), jobs::Ports::from_deps(deps), jobs::Settings::default());
    let holder = format!("{actor}#{}", uuid::Uuid::new_v4().simple());
    let runs = runner.run_here(connections, &holder, chrono::Utc::now()).await?;
    Ok(runs.into_iter().filter_map(report).collect())
}

/// The sweep's report from its job's run.
fn report(run: jobs::JobRun) -> Option<ConnectionSweep> {
    match run {
        jobs::JobRun::Done { connection, report } | jobs::JobRun::Failed { connection, report, .. } => {
            // A job that failed before the sweep started has no sweep report, only its reason.
            Some(serde_json::from_value(report.detail).unwrap_or_else(|_| ConnectionSweep {
                connection: Some(connection),
                problems: vec![report.summary],
                ..ConnectionSweep::default()
            }))
        }
        jobs::JobRun::Skipped { connection, reason, .. } => {
            Some(ConnectionSweep { connection: Some(connection), problems: vec![reason], ..ConnectionSweep::default() })
        }
        jobs::JobRun::HandedBack { connection } => Some(ConnectionSweep {
            connection: Some(connection),
            problems: vec!["stopped at the deadline".to_owned()],
            ..ConnectionSweep::default()
        }),
        jobs::JobRun::Refused { .. } => None,
    }
}

/// The text form: per connection, what was held, what filled, what was queued, what went wrong.
pub fn lines(reports: &[ConnectionSweep]) -> Vec<String> {
    let mut lines = Vec::new();
    for report in reports {
        let connection = report.connection.as_ref().map_or_else(String::new, ToString::to_string);
        lines.push(format!(
            "{connection}: {} held, {} gap(s) checked with {} Plex call(s), {} queued again, {} stale hold(s) \
             dropped; {} order(s) recovered without a webhook ({} BigCommerce call(s))",
            report.held,
            report.gaps_checked,
            report.plex_calls,
            report.released.len(),
            report.dropped.len(),
            report.recovered.len(),
            report.bigcommerce_calls
        ));
        lines.extend(report.gaps_filled.iter().map(|filled| format!("    filled: {}", filled.how)));
        lines.extend(report.released.iter().map(|order_id| format!("    queued again: order {order_id}")));
        lines.extend(report.recovered.iter().map(|order_id| format!("    recovered: order {order_id}")));
        lines.extend(report.problems.iter().map(|problem| format!("    problem: {problem}")));
    }
    if reports.is_empty() {
        lines.push("no connections to sweep".to_owned());
    }
    lines
}

/// Runs the command; exits 1 when any connection's sweep stopped early.
pub async fn run(args: SweepArgs) -> anyhow::Result<ExitCode> {
    let deps = crate::deps().await?;
    let reports = run_sweep(&deps, &args.connections, &crate::replay::actor()).await?;
    for line in lines(&reports) {
        println!("{line}");
    }
    let clean = reports.iter().all(|report| report.problems.is_empty());
    Ok(if clean { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
