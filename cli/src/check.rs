//! `millwright check`: reach AWS and each connection's systems and print pass or fail with the
//! reason. Exits non-zero when anything failed, so scripts and the demo can rely on it.

use std::process::ExitCode;

use anyhow::Context;
use domain::ConnectionId;
use runtime::{Config, Deps};

pub async fn run(only: &[ConnectionId]) -> anyhow::Result<ExitCode> {
    let config = Config::from_env().context("reading the configuration")?;
    let deps = Deps::build(&config).await;

    let mut all_passed = true;
    println!("aws");
    for probe in runtime::check::check_aws(&deps).await {
        all_passed &= probe.passed();
        println!("  {probe}");
    }

    let ids: Vec<ConnectionId> = if only.is_empty() {
        let profiles = deps.connections.list().await.context("listing the connections in the state table")?;
        profiles.into_iter().map(|profile| profile.id).collect()
    } else {
        only.to_vec()
    };
    if ids.is_empty() {
        println!("no connections are configured in {}", config.state_table);
    }
    for id in &ids {
        let report = runtime::check::check_connection(&deps, id).await;
        all_passed &= report.passed();
        println!("connection {id}");
        for probe in &report.probes {
            println!("  {probe}");
        }
    }
    Ok(if all_passed { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
