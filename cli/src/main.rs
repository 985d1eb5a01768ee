//! `millwright`: the operator CLI.
//!
//! Commands are thin: they parse arguments, build `runtime::Deps` from the environment (or, for
//! `local`, from the world they start), call into the shared crates, and print.

mod check;
mod local;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use millwright_cli::{backfill, connections, failures, map, replay, stock, sweep, trace, webhooks};

#[derive(Parser)]
#[command(
    name = "millwright",
    version,
    about = "Operate Millwright: check connections, trace and replay records, run the local world"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install and manage connections: add, update, list, show.
    Connections(connections::ConnectionsArgs),
    /// Reach AWS, BigCommerce, Plex and monday for each connection and print pass or fail with the reason.
    Check {
        /// Only this connection (repeatable); all connections when omitted.
        #[arg(long = "connection", short = 'c')]
        connections: Vec<domain::ConnectionId>,
    },
    /// Print a record's audit trail, oldest first, and an order's ledger entry.
    Trace(trace::TraceArgs),
    /// List what needs an operator (failed, needs-mapping, needs-attention, parked, rejected,
    /// dead-lettered), newest last.
    Failures(failures::FailuresArgs),
    /// Queue orders again: by id, by the outcome they were left in, or from the dead-letter queue.
    Replay(replay::ReplayArgs),
    /// Run the order sweep now: queue again the held orders whose mappings exist, and the orders no webhook brought.
    Sweep(sweep::SweepArgs),
    /// Show each connection's BigCommerce order hooks; --repair reactivates or registers them.
    Webhooks(webhooks::WebhooksArgs),
    /// Queue the orders modified in a time window that the worker has not read (e.g. from before the first sweep).
    Backfill(backfill::BackfillArgs),
    /// The stock sync: `stock diff` prints what its next run would push, writing nothing; `stock
    /// sync` runs it now.
    Stock(stock::StockArgs),
    /// Map a SKU to a Plex part or a shopper to a Plex customer, and release the orders waiting for it.
    Map(map::MapArgs),
    /// The local world: moto (AWS) and the sandbox doubles, with the template's resources.
    Local {
        #[command(subcommand)]
        command: LocalCommand,
    },
}

#[derive(Subcommand)]
enum LocalCommand {
    /// Start moto and the sandbox, create the resources, seed the demo connection, write the
    /// environment file, and run until interrupted.
    Up {
        /// Resource names derive from this, as they do from the CloudFormation stack name.
        #[arg(long, default_value = "millwright-local")]
        stack: String,
        /// Where to write the environment (`source` it to point the CLI and tests at the world).
        #[arg(long)]
        env_file: Option<PathBuf>,
        /// moto_server's port; 0 picks a free one.
        #[arg(long, default_value_t = 0)]
        moto_port: u16,
        /// The sandbox's BigCommerce, Plex and monday ports; 0 picks free ones.
        #[arg(long, default_value_t = 0)]
        bigcommerce_port: u16,
        #[arg(long, default_value_t = 0)]
        plex_port: u16,
        #[arg(long, default_value_t = 0)]
        monday_port: u16,
        /// The webhook receiver's port (`POST /webhooks/bigcommerce/{connection}`); 0 picks a free one.
        #[arg(long, default_value_t = 0)]
        webhook_port: u16,
        /// The e-mail address subscribed to the alert topic.
        #[arg(long, default_value = "ops@example.com")]
        alert_email: String,
        /// The order queue's visibility timeout in seconds: how soon a failed order is delivered
        /// again. A local-world choice so retries show within seconds; the template keeps 180.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=43_200))]
        visibility_timeout: u64,
        /// Seconds between order sweeps (held orders whose mappings exist are queued again); 0 runs
        /// none. A local-world choice so a new mapping shows within seconds; the template's
        /// schedule is every 5 minutes.
        #[arg(long, default_value_t = 10)]
        sweep_every: u64,
        /// Seconds between webhook health checks (deactivated or missing order hooks are repaired);
        /// 0 runs none. The template's schedule is every 15 minutes.
        #[arg(long, default_value_t = 30)]
        webhook_health_every: u64,
        /// Seconds between stock syncs (Plex on-hand to BigCommerce); 0 runs none. The template's
        /// schedule is every 5 minutes.
        #[arg(long, default_value_t = 30)]
        inventory_sync_every: u64,
        /// The scheduled functions (order sweep, webhook health) work only on this connection
        /// (repeatable); on every connection when omitted.
        #[arg(long = "schedule-connection")]
        schedule_connections: Vec<domain::ConnectionId>,
    },
}

/// Every `seconds`, or never for 0.
fn every(seconds: u64) -> Option<std::time::Duration> {
    (seconds > 0).then(|| std::time::Duration::from_secs(seconds))
}

#[tokio::main]
async fn main() -> ExitCode {
    runtime::telemetry::init_tracing("warn");
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Connections(args) => connections::run(args).await,
        Command::Check { connections } => check::run(&connections).await,
        Command::Trace(args) => trace::run(args).await,
        Command::Failures(args) => failures::run(args).await,
        Command::Replay(args) => replay::run(args).await,
        Command::Sweep(args) => sweep::run(args).await,
        Command::Map(args) => map::run(args).await,
        Command::Stock(args) => stock::run(args).await,
        Command::Backfill(args) => backfill::run(args).await,
        Command::Webhooks(args) => webhooks::run(args).await,
        Command::Local {
            command:
                LocalCommand::Up {
                    stack,
                    env_file,
                    moto_port,
                    bigcommerce_port,
                    plex_port,
                    monday_port,
                    webhook_port,
                    alert_email,
                    visibility_timeout,
                    sweep_every,
                    webhook_health_every,
                    inventory_sync_every,
                    schedule_connections,
                },
        } => {
            let env_file = env_file.unwrap_or_else(|| PathBuf::from(".local").join(format!("{stack}.env")));
            let options = local::UpOptions {
                stack,
                env_file,
                moto_port,
                webhook_port,
                sandbox: sandbox::SandboxConfig {
                    bigcommerce_port,
                    plex_port,
                    monday_port,
                    seed_demo: true,
                    ..Default::default()
                },
                alert_email,
                visibility_timeout: std::time::Duration::from_secs(visibility_timeout),
                sweep_every: every(sweep_every),
                webhook_health_every: every(webhook_health_every),
                inventory_sync_every: every(inventory_sync_every),
                schedule_connections,
            };
            local::up(options).await
        }
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
