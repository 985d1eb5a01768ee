//! `millwright webhooks`: the state of each connection's BigCommerce order hooks, and with
//! `--repair` the webhook health check's repair (reactivate a deactivated hook, register a missing
//! one), exactly as the scheduled function does it, audited and alerted the same way.

use std::process::ExitCode;

use anyhow::Context;
use domain::ConnectionId;
use domain::hooks::HookAction;
use webhook_health::{ConnectionHooks, HealthCheck};

#[derive(Debug, Clone, clap::Parser)]
pub struct WebhooksArgs {
    /// Only this connection (repeatable); every connection when omitted.
    #[arg(long = "connection", short = 'c')]
    pub connections: Vec<ConnectionId>,
    /// Reactivate deactivated order hooks and register missing ones.
    #[arg(long)]
    pub repair: bool,
}

/// Checks (and with `repair`, repairs) the connections' hooks at `receiver_url` (all when
/// `connections` is empty).
pub async fn check(
    deps: &runtime::Deps,
    receiver_url: &str,
    connections: &[ConnectionId],
    repair: bool,
    actor: &str,
) -> anyhow::Result<Vec<ConnectionHooks>> {
    let settings = webhook_health::Settings { actor: actor.to_owned(), receiver_url: receiver_url.to_owned() };
    // Unknown connections fail before anything is checked, naming the connection.
    for id in connections {
        deps.connection(id).await?;
    }
    let health = HealthCheck::new(webhook_health::Ports::from_deps(deps), settings);
    health.check_all(connections, repair, chrono::Utc::now()).await.context("listing the connections")
}

/// The text form: per connection, each order scope's hook and what was done.
pub fn lines(reports: &[ConnectionHooks]) -> Vec<String> {
    let mut lines = Vec::new();
    for report in reports {
        let verdict = if report.is_healthy() { "healthy" } else { "NEEDS REPAIR" };
        lines.push(format!("{}: {verdict} (hooks deliver to {})", report.connection, report.destination));
        for plan in &report.plans {
            let state = match plan.action {
                HookAction::Healthy { id } => format!("hook {id} active"),
                HookAction::Reactivate { id } => format!("hook {id} deactivated by BigCommerce"),
                HookAction::Refresh { id } => format!("hook {id} sends an outdated authentication header"),
                HookAction::Register => "no hook".to_owned(),
            };
            let repaired = report.repaired.iter().find(|repair| repair.scope == plan.scope);
            let done =
                repaired.map_or_else(String::new, |repair| format!(" -> {} hook {}", repair.what, repair.hook_id));
            lines.push(format!("    {:<22} {state}{done}", plan.scope));
        }
        lines.extend(report.problems.iter().map(|problem| format!("    problem: {problem}")));
    }
    if reports.is_empty() {
        lines.push("no connections".to_owned());
    }
    lines
}

/// Runs the command; exits 1 when any connection's hooks are not (or could not be made) healthy.
pub async fn run(args: WebhooksArgs) -> anyhow::Result<ExitCode> {
    let config = crate::config()?;
    let receiver_url = config.webhook_receiver_url.clone().with_context(|| {
        format!(
            "{} is not set: the webhook receiver's public base URL (the stack's BigCommerceWebhookUrl \
             output up to /webhooks, or the local world's receiver)",
            runtime::config::WEBHOOK_RECEIVER_URL
        )
    })?;
    let deps = crate::deps().await?;
    let reports = check(&deps, &receiver_url, &args.connections, args.repair, &crate::replay::actor()).await?;
    for line in lines(&reports) {
        println!("{line}");
    }
    Ok(if reports.iter().all(ConnectionHooks::is_healthy) { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
