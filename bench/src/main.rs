//! `millwright-bench`: wiring only. `make bench` runs it inside the local world; the table goes to
//! stdout, progress to stderr.

use clap::Parser;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Measures the orders flow and the scheduled functions' API calls against the local world and
/// prints one table.
#[derive(Debug, Parser)]
#[command(name = "millwright-bench")]
struct Args {
    /// Small samples and a short drain: proves the bench still runs, in well under a minute.
    #[arg(long)]
    quick: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // Only errors by default: the drain meets 429s on purpose, and each would log a warning. The
    // soak's layer scans every line at the deployed level for secrets.
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
            ),
        )
        .with(millwright_e2e::soak::log_layer())
        .init();
    let receiver_url = std::env::var("WEBHOOK_RECEIVER_URL").ok().filter(|url| !url.is_empty());
    let options = if args.quick {
        millwright_bench::Options::quick(receiver_url)
    } else {
        millwright_bench::Options::full(receiver_url)
    };
    let table = millwright_bench::run(&options).await?;
    println!("{}", table.render());
    Ok(())
}
