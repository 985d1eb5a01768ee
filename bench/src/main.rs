//! `millwright-bench`: wiring only. `make bench` runs it inside the local world; the table goes to
//! stdout, progress to stderr.

use clap::Parser;

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
    millwright_bench::init_logging();
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
