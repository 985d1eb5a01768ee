//! `millwright-soak` (`make soak`): the fault soak of `millwright_e2e::soak` at its long size,
//! inside the local world; the table to stdout, progress to stderr. Exits 1 when a goal is missed,
//! after printing the seed and the command that reruns it.

use std::process::ExitCode;

use clap::Parser;
use millwright_e2e::soak::{self, SoakPlan};

/// Runs the fault soak and prints its table.
#[derive(Debug, Parser)]
#[command(name = "millwright-soak")]
struct Args {
    /// The plan's seed [default: from the clock, printed with the table].
    #[arg(long)]
    seed: Option<u64>,
    /// The small run of `make test` instead of the long one.
    #[arg(long)]
    small: bool,
    /// Orders to place (the traffic period, updates, replays and storms grow in proportion).
    #[arg(long)]
    orders: Option<usize>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    millwright_bench::init_logging();
    let seed = args.seed.unwrap_or_else(|| chrono::Utc::now().timestamp_micros().unsigned_abs());
    let preset = if args.small { SoakPlan::small(seed) } else { SoakPlan::long(seed) };
    let plan = match args.orders {
        Some(orders) => preset.with_orders(orders),
        None => preset,
    };
    eprintln!(
        "fault soak `{}`, seed {}: {} orders over {} s, then a drain of at most {} s ...",
        plan.name,
        plan.seed,
        plan.orders,
        plan.traffic.as_secs(),
        plan.drain_cap.as_secs()
    );
    let report = soak::run(&plan).await;
    println!("{}", report.render());
    if report.failures().is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
