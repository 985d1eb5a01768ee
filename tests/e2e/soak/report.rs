//! What a soak run found: the figures, the goals they are held against, the orders behind every
//! miss (with the reason each ended wrong), and how to rerun the seed.

use std::collections::BTreeMap;
use std::time::Duration;

use local_runtime::RuntimeReport;

use super::plan::SoakPlan;
use super::watch::ApiCalls;

/// The most orders a report names per kind of miss; the counts are always complete.
const EXAMPLES: usize = 12;

/// BigCommerce order reads per order change (a placement or an update) or replay, at most, not
/// counting the reads a fault refused (each of those is read again because of the fault).
pub const READS_PER_CHANGE_GOAL: f64 = 1.1;

#[derive(Debug, Clone)]
pub struct SoakReport {
    pub plan: SoakPlan,
    pub placed: usize,
    /// Orders whose created callback was sent two or three times.
    pub duplicated: usize,
    pub updates: usize,
    pub same_second_pairs: usize,
    pub replays: usize,
    /// Replays the `millwright replay` code path did not queue cleanly.
    pub replay_problems: Vec<String>,
    /// Webhook callbacks the BigCommerce double sent (first attempts) and retried.
    pub callbacks: u64,
    pub callback_retries: u64,
    /// Orders Plex does not hold exactly as BigCommerce does, with every difference.
    pub wrong: Vec<(u64, Vec<String>)>,
    /// Orders with an operator outcome in their audit trail or ledger, with the first one.
    pub needed_operator: Vec<(u64, String)>,
    /// Ledger entries of the run's orders by status.
    pub ledger: BTreeMap<String, usize>,
    /// Orders the sweep queued because no webhook had brought them, with the sweep's reason.
    pub taken_for_missed: Vec<(u64, String)>,
    /// Orders named by a dead-letter message, and the dead-letter queue's depth.
    pub dead_lettered: Vec<u64>,
    pub dlq_depth: u64,
    /// Every alert the deployment asked for: cause, subject and what became of it.
    pub alerts: Vec<String>,
    pub bigcommerce: ApiCalls,
    pub plex: ApiCalls,
    /// Whether the queue drained within the plan's cap, and how long it took after the traffic.
    pub drained: bool,
    pub drain: Duration,
    /// Secrets found, by name and place (never the value).
    pub leaks: Vec<String>,
    pub logs_watched: bool,
    pub texts_scanned: u64,
    pub runtime: RuntimeReport,
    pub took: Duration,
}

/// One figure of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct SoakRow {
    pub figure: String,
    pub value: String,
    pub unit: String,
    pub goal: String,
    /// Whether the goal is met; `None` for a figure without one.
    pub met: Option<bool>,
}

fn row(figure: impl Into<String>, value: impl Into<String>, unit: &str, goal: &str, met: Option<bool>) -> SoakRow {
    SoakRow { figure: figure.into(), value: value.into(), unit: unit.to_owned(), goal: goal.to_owned(), met }
}

impl SoakReport {
    /// Placements and updates: each is one new version of an order the worker must read.
    pub fn changes(&self) -> usize {
        self.placed + self.updates + 2 * self.same_second_pairs
    }

    /// BigCommerce order reads in all, those a fault or the rate limit refused among them.
    pub fn bigcommerce_order_reads(&self) -> u64 {
        self.bigcommerce.order_reads.values().sum()
    }

    /// The reads the flow chose to make, per order change or replay (each asks for one read): all
    /// reads but those a fault refused, which the fault, not the flow, makes it repeat.
    pub fn bigcommerce_reads_per_change(&self) -> f64 {
        let reads = self.bigcommerce_order_reads().saturating_sub(self.bigcommerce.refused_order_reads);
        reads as f64 / (self.changes() + self.replays).max(1) as f64
    }

    pub fn plex_calls_per_order(&self) -> f64 {
        self.plex.requests as f64 / self.placed.max(1) as f64
    }

    pub fn rows(&self) -> Vec<SoakRow> {
        let placed = self.placed;
        let no_leak = self.leaks.is_empty() && self.logs_watched;
        vec![
            row(
                format!(
                    "orders wrong at the end (of {placed}: Plex sales orders, lines, prices, releases vs BigCommerce)"
                ),
                self.wrong.len().to_string(),
                "orders",
                "0",
                Some(self.wrong.is_empty()),
            ),
            row(
                "orders that needed an operator (failed, parked, needs-attention, needs-mapping)",
                self.needed_operator.len().to_string(),
                "orders",
                "0",
                Some(self.needed_operator.is_empty()),
            ),
            row(
                "orders dead-lettered (orders named / dead-letter queue depth)",
                format!("{} / {}", self.dead_lettered.len(), self.dlq_depth),
                "orders",
                "0",
                Some(self.dead_lettered.is_empty() && self.dlq_depth == 0),
            ),
            row("operator alerts sent", self.alerts.len().to_string(), "alerts", "0", Some(self.alerts.is_empty())),
            row(
                format!(
                    "BigCommerce order reads per order change or replay, beyond those a fault refused ({} changes, {} \
                     replays)",
                    self.changes(),
                    self.replays
                ),
                format!("{:.2}", self.bigcommerce_reads_per_change()),
                "reads",
                "≤ 1.1",
                Some(self.bigcommerce_reads_per_change() <= READS_PER_CHANGE_GOAL),
            ),
            row(
                "BigCommerce order reads in all (refused by a fault or a 429)",
                format!("{} ({})", self.bigcommerce_order_reads(), self.bigcommerce.refused_order_reads),
                "reads",
                "",
                None,
            ),
            row(
                "BigCommerce calls in all (429s)",
                format!("{} ({})", self.bigcommerce.requests, self.bigcommerce.rate_limited),
                "calls",
                "",
                None,
            ),
            row(
                "Plex calls per order (429s in all)",
                format!("{:.2} ({})", self.plex_calls_per_order(), self.plex.rate_limited),
                "calls",
                "",
                None,
            ),
            row(
                "calls answered by an injected fault (BigCommerce / Plex)",
                format!("{} / {}", self.bigcommerce.faults(), self.plex.faults()),
                "calls",
                "",
                None,
            ),
            row(
                "order worker invocations stopped at their timeout (the whole batch back)",
                self.runtime.orders.timeouts.to_string(),
                "invocations",
                "",
                None,
            ),
            row(
                "drain after the traffic and the faults ended",
                if self.drained {
                    format!("{:.1}", self.drain.as_secs_f64())
                } else {
                    format!("NOT drained in {:.0}", self.plan.drain_cap.as_secs_f64())
                },
                "s",
                &format!("drained within {:.0} s", self.plan.drain_cap.as_secs_f64()),
                Some(self.drained),
            ),
            row(
                "secrets in logs, stored records, alerts, dead letters",
                if self.logs_watched { self.leaks.len().to_string() } else { "logs not watched".to_owned() },
                "found",
                "0",
                Some(no_leak),
            ),
            row(
                "replays queued through `millwright replay` (problems)",
                format!("{} ({})", self.replays, self.replay_problems.len()),
                "orders",
                "no problem",
                Some(self.replay_problems.is_empty()),
            ),
        ]
    }

    /// The goals missed, one line each; empty when the run met every goal.
    pub fn failures(&self) -> Vec<String> {
        self.rows()
            .into_iter()
            .filter(|row| row.met == Some(false))
            .map(|row| format!("{}: {} (goal {})", row.figure, row.value, row.goal))
            .collect()
    }

    /// The command that reruns this plan and seed.
    pub fn rerun(&self) -> String {
        let args = self.plan.soak_args();
        let make = if args.is_empty() {
            format!("make soak SOAK_SEED={}", self.plan.seed)
        } else {
            format!("make soak SOAK_SEED={} SOAK_ARGS='{args}'", self.plan.seed)
        };
        if self.plan.name == "small" {
            format!(
                "SOAK_SEED={} scripts/with-local-world.sh --stack millwright-test --schedule-connection demo -- \
                 cargo test --locked -p millwright-e2e fault_soak   (or: {make})",
                self.plan.seed
            )
        } else {
            make
        }
    }

    /// The table, the orders behind each miss, and on any miss the seed and the rerun command.
    pub fn render(&self) -> String {
        let plan = &self.plan;
        let mut out = format!(
            "fault soak `{}`, seed {}: {} orders ({} with the created callback sent 2-3 times), {} updates, {} \
             same-second update pairs, {} replays; faults on {:.0} % of each API's calls from {:.0} to {:.0} s with {} \
             BigCommerce 429 storm(s); time ×{} (sweep every {:.0} s, health check every {:.0} s); {} callbacks and {} \
             callback retries; {} sweeps and {} health checks ran; took {:.0} s.\n\n",
            plan.name,
            plan.seed,
            self.placed,
            self.duplicated,
            self.updates,
            self.same_second_pairs,
            self.replays,
            plan.fault_rate * 100.0,
            plan.traffic.as_secs_f64() * plan.fault_period.0,
            plan.traffic.as_secs_f64() * plan.fault_period.1,
            plan.storms,
            plan.time_scale,
            plan.scaled(super::plan::DEPLOYED_SWEEP_EVERY).as_secs_f64(),
            plan.scaled(super::plan::DEPLOYED_HEALTH_EVERY).as_secs_f64(),
            self.callbacks,
            self.callback_retries,
            self.runtime.sweeps.runs,
            self.runtime.health_checks.runs,
            self.took.as_secs_f64(),
        );
        out.push_str(&markdown(&self.rows()));
        out.push('\n');
        let ledger: Vec<String> = self.ledger.iter().map(|(status, count)| format!("{status} {count}")).collect();
        out.push_str(&format!("ledger entries of the run's orders: {}\n", ledger.join(", ")));
        let faults = |calls: &ApiCalls| {
            calls.faulted.iter().map(|(kind, count)| format!("{kind} {count}")).collect::<Vec<_>>().join(", ")
        };
        out.push_str(&format!(
            "faults fired: BigCommerce [{}], Plex [{}]\n",
            faults(&self.bigcommerce),
            faults(&self.plex)
        ));
        let reread: Vec<String> = self
            .bigcommerce
            .order_reads
            .iter()
            .filter(|(_, reads)| **reads > 3)
            .take(EXAMPLES)
            .map(|(order, reads)| format!("{order} ×{reads}"))
            .collect();
        if !reread.is_empty() {
            out.push_str(&format!("orders read more than 3 times: {}\n", reread.join(", ")));
        }
        section(
            &mut out,
            "orders wrong",
            self.wrong.iter().map(|(order, reasons)| format!("{order}: {}", reasons.join("; "))),
        );
        section(
            &mut out,
            "orders that needed an operator",
            self.needed_operator.iter().map(|(order, why)| format!("{order}: {why}")),
        );
        section(&mut out, "orders dead-lettered", self.dead_lettered.iter().map(u64::to_string));
        section(&mut out, "alerts", self.alerts.iter().cloned());
        section(
            &mut out,
            "orders the sweep took for missed webhooks",
            self.taken_for_missed.iter().map(|(order, why)| format!("{order}: {why}")),
        );
        section(&mut out, "secrets found", self.leaks.iter().cloned());
        section(&mut out, "replay problems", self.replay_problems.iter().cloned());
        let failures = self.failures();
        if !failures.is_empty() {
            out.push_str(&format!(
                "\n{} goal(s) missed with seed {}. Rerun: {}\n",
                failures.len(),
                plan.seed,
                self.rerun()
            ));
        }
        out
    }
}

fn section(out: &mut String, title: &str, items: impl ExactSizeIterator<Item = String>) {
    let count = items.len();
    if count == 0 {
        return;
    }
    out.push_str(&format!("\n{title} ({count}):\n"));
    for item in items.take(EXAMPLES) {
        out.push_str(&format!("  - {item}\n"));
    }
    if count > EXAMPLES {
        out.push_str(&format!("  - ... and {} more\n", count - EXAMPLES));
    }
}

/// The rows as a Markdown table with aligned columns (the bench's layout).
fn markdown(rows: &[SoakRow]) -> String {
    let headers = ["figure", "value", "unit", "goal", "met"];
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|row| {
            let met = match row.met {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "",
            };
            [row.figure.clone(), row.value.clone(), row.unit.clone(), row.goal.clone(), met.to_owned()]
        })
        .collect();
    let mut widths = headers.map(|header| header.chars().count());
    for line in &cells {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let render = |line: &[String]| {
        let padded: Vec<String> = line
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell}{}", " ".repeat(width - cell.chars().count())))
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let mut out = render(&headers.map(str::to_owned));
    out.push_str(&format!("|{}|\n", widths.map(|width| "-".repeat(width + 2)).join("|")));
    for line in &cells {
        out.push_str(&render(line));
    }
    out
}
