//! `millwright-sandbox`: runs the three API doubles until SIGTERM or Ctrl-C.
//!
//! With `--ready-file PATH` it writes `{"bigcommerce_url", "plex_url", "monday_url", "pid"}` to PATH
//! once every double is listening (written to a temporary name and renamed, so a reader never sees
//! half a file), and removes it again on a clean exit. Scripts start it in the background and wait
//! for that file.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Parser;
use sandbox::{Sandbox, SandboxConfig};
use tracing_subscriber::EnvFilter;

/// Local doubles of the BigCommerce, Plex and monday.com APIs, each on its own 127.0.0.1 port.
#[derive(Debug, Parser)]
#[command(name = "millwright-sandbox", version)]
struct Args {
    /// Port of the BigCommerce double (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    bigcommerce_port: u16,
    /// Port of the Plex double (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    plex_port: u16,
    /// Port of the monday.com double (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    monday_port: u16,
    /// Seed the demo connection's stores, tenants, accounts and credentials at start.
    #[arg(long)]
    seed_demo: bool,
    /// Write the doubles' URLs and this process's pid as JSON here once listening.
    #[arg(long, value_name = "PATH")]
    ready_file: Option<PathBuf>,
    /// Multiply every default time window (rate limits, token lifetime) by this factor.
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = Args::parse();

    let sandbox = Sandbox::start(SandboxConfig {
        bigcommerce_port: args.bigcommerce_port,
        plex_port: args.plex_port,
        monday_port: args.monday_port,
        time_scale: args.time_scale,
        seed_demo: args.seed_demo,
    })
    .await?;
    if let Some(path) = &args.ready_file {
        write_ready_file(path, &sandbox).with_context(|| format!("writing the ready file {}", path.display()))?;
    }
    tracing::info!(seed_demo = args.seed_demo, "sandbox ready; stop with SIGTERM or Ctrl-C");

    wait_for_stop_signal().await?;
    tracing::info!("stopping the sandbox");
    sandbox.shutdown().await;
    if let Some(path) = &args.ready_file {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

fn write_ready_file(path: &Path, sandbox: &Sandbox) -> anyhow::Result<()> {
    let document = serde_json::json!({
        "bigcommerce_url": sandbox.bigcommerce_url,
        "plex_url": sandbox.plex_url,
        "monday_url": sandbox.monday_url,
        "pid": std::process::id(),
    });
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    std::fs::write(&temporary, format!("{document}\n"))?;
    std::fs::rename(&temporary, path)?;
    Ok(())
}

async fn wait_for_stop_signal() -> anyhow::Result<()> {
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).context("listening for SIGTERM")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("listening for Ctrl-C")?,
        _ = terminate.recv() => {}
    }
    Ok(())
}
