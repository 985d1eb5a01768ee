//! The webhook health check: keeps each connection's BigCommerce order hooks registered and active.
//!
//! BigCommerce deactivates a hook whose deliveries keep failing and tells nobody; orders then reach
//! Millwright only through the order sweep's reconciliation, minutes late. On a schedule
//! (EventBridge in AWS, a timer in the local runtime), and when an operator asks (`millwright
//! webhooks --repair`), the check lists each connection's hooks and plans each order scope
//! (`domain::hooks::plan_hooks`): a healthy hook is left alone, an inactive one at the receiver is
//! reactivated, a missing one is registered (with the connection's authentication header, which
//! only the adapter holds). Every repair and every failure is an audit event on the scope's record
//! (`{connection}#bc-hook#{scope}`) and one alert per cause and window.
//!
//! It runs on the scheduled-job runner (`jobs`): a scheduled invocation fans out one job per
//! connection, and each job ([`HealthCheck`] as a [`jobs::Job`]) checks one connection under its
//! lease, so two overlapping runs never register the same hook twice, and its result is an audit
//! event on `{connection}#run#webhook-health`. A job whose hooks cannot be read fails and is retried
//! by the job queue, then alerted once.
//!
//! Cost: one BigCommerce call per connection when all is well, one more per repair.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::alert::Alert;
use domain::audit::{AuditEvent, Outcome, Stage};
use domain::hooks::{HookAction, HookPlan, destination, plan_hooks};
use domain::ports::{Alerter, ApiError, AuditLog, ConnectionStore, WebhookApis, WebhookRegistry};
use domain::{ConnectionId, ConnectionProfile, ErrorClass, PortError, RecordKey, RecordKind};
use serde::Serialize;
use serde_json::json;

/// The job's name: its queue's jobs, its audit record `{connection}#run#webhook-health`, its lease.
pub const JOB: &str = "webhook-health";

/// The function's timeout in the template (`WebhookHealthFunction`), which the local runtime gives
/// each job's invocation too.
pub const FUNCTION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The ports the check uses; production builds them once per container (`runtime::Deps`).
#[derive(Clone)]
pub struct Ports {
    pub connections: Arc<dyn ConnectionStore>,
    pub webhooks: Arc<dyn WebhookApis>,
    pub audit: Arc<dyn AuditLog>,
    pub alerter: Arc<dyn Alerter>,
}

impl Ports {
    pub fn from_deps(deps: &runtime::Deps) -> Ports {
        Ports {
            connections: deps.connections.clone(),
            webhooks: deps.webhook_apis(),
            audit: deps.audit.clone(),
            alerter: deps.alerter.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// Who acts, in audit events.
    pub actor: String,
    /// The webhook receiver's public base URL (`WEBHOOK_RECEIVER_URL`): hooks deliver to
    /// `{receiver_url}/webhooks/bigcommerce/{connection}`.
    pub receiver_url: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { actor: "webhook-health".to_owned(), receiver_url: String::new() }
    }
}

/// What the check found and did for one connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionHooks {
    pub connection: ConnectionId,
    /// Where the hooks should deliver.
    pub destination: String,
    /// Each order scope's state before any repair.
    pub plans: Vec<HookPlan>,
    /// The repairs made (empty when only asked to look).
    pub repaired: Vec<Repair>,
    /// What failed: the listing, or a repair.
    pub problems: Vec<String>,
    /// The class of the first problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem_class: Option<ErrorClass>,
}

impl ConnectionHooks {
    /// Every order scope has an active hook at the receiver now.
    pub fn is_healthy(&self) -> bool {
        self.problems.is_empty()
            && self.plans.iter().all(|plan| {
                matches!(plan.action, HookAction::Healthy { .. })
                    || self.repaired.iter().any(|repair| repair.scope == plan.scope)
            })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Repair {
    pub scope: String,
    /// `reactivated`, `refreshed` or `registered`.
    pub what: &'static str,
    pub hook_id: u64,
}

/// The webhook health check. Cheap to clone (ports are shared).
#[derive(Clone)]
pub struct HealthCheck {
    ports: Ports,
    settings: Settings,
}

impl HealthCheck {
    pub fn new(ports: Ports, settings: Settings) -> HealthCheck {
        HealthCheck { ports, settings }
    }

    /// Checks and repairs the connections in `only` (every connection when it is empty). Fails
    /// only when the connections cannot be listed.
    pub async fn run_for(&self, only: &[ConnectionId], now: DateTime<Utc>) -> Result<Vec<ConnectionHooks>, PortError> {
        self.check_all(only, true, now).await
    }

    /// Like [`HealthCheck::run_for`], repairing only with `repair` (`millwright webhooks`).
    pub async fn check_all(
        &self,
        only: &[ConnectionId],
        repair: bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<ConnectionHooks>, PortError> {
        let mut reports = Vec::new();
        for profile in self.ports.connections.list().await? {
            // A removed connection's hooks were deleted on purpose: never register them again.
            if !profile.is_parked() && (only.is_empty() || only.contains(&profile.id)) {
                reports.push(self.check(&profile, repair, now).await);
            }
        }
        Ok(reports)
    }

    /// Plans one connection's hooks and, with `repair`, carries the plan out.
    #[tracing::instrument(name = "webhook_health", skip_all, fields(connection = %profile.id))]
    pub async fn check(&self, profile: &ConnectionProfile, repair: bool, now: DateTime<Utc>) -> ConnectionHooks {
        let destination = destination(&self.settings.receiver_url, &profile.id);
        let mut report = ConnectionHooks {
            connection: profile.id.clone(),
            destination: destination.clone(),
            plans: Vec::new(),
            repaired: Vec::new(),
            problems: Vec::new(),
            problem_class: None,
        };
        let listed = match self.ports.webhooks.webhooks(profile).await {
            Ok(registry) => registry.hooks().await.map(|hooks| (registry, hooks)),
            Err(error) => Err(error),
        };
        let (registry, hooks) = match listed {
            Ok(listed) => listed,
            Err(error) => {
                Self::listing_failed(&error, &mut report);
                return report;
            }
        };
        report.plans = plan_hooks(&hooks, &destination);
        if repair {
            for plan in report.plans.clone() {
                self.repair(profile, registry.as_ref(), &plan, &mut report, now).await;
            }
        }
        tracing::info!(
            plans = ?report.plans,
            repaired = report.repaired.len(),
            problems = report.problems.len(),
            "webhook health checked"
        );
        report
    }

    async fn repair(
        &self,
        profile: &ConnectionProfile,
        registry: &dyn WebhookRegistry,
        plan: &HookPlan,
        report: &mut ConnectionHooks,
        now: DateTime<Utc>,
    ) {
        let (attempt, what, was) = match plan.action {
            HookAction::Healthy { .. } => return,
            HookAction::Reactivate { id } => (registry.reactivate(id).await, "reactivated", "was deactivated"),
            HookAction::Refresh { id } => {
                (registry.refresh(id).await, "refreshed", "sent an outdated authentication header")
            }
            HookAction::Register => {
                (registry.register(&plan.scope, &report.destination).await, "registered", "was missing")
            }
        };
        let key = RecordKey::new(profile.id.clone(), RecordKind::BcHook, plan.scope.as_str());
        let name = profile.display_name.clone().unwrap_or_else(|| profile.id.to_string());
        match attempt {
            Ok(hook) => {
                let message =
                    format!("the {} hook to {} {was}; {what} hook {}", plan.scope, report.destination, hook.id);
                self.record(
                    AuditEvent::new(key.clone(), now, Stage::Checked, Outcome::Ok, &self.settings.actor)
                        .with_message(&message)
                        .with_detail(json!({"action": plan.action, "hook_id": hook.id})),
                )
                .await;
                self.alert(Alert {
                    connection: profile.id.clone(),
                    cause: format!("hook-repaired:{}", plan.scope),
                    subject: format!("[{name}] BigCommerce hook {} {was}; {what}", plan.scope),
                    body: format!(
                        "The {} hook to {} {was}, so BigCommerce sent no {} events to Millwright. It is {what} \
                         (hook {}).\n\nBigCommerce deactivates a hook after its deliveries keep failing; orders \
                         placed meanwhile are recovered by the order sweep within minutes. If this repeats, look \
                         at why the receiver failed (millwright failures).",
                        plan.scope, report.destination, plan.scope, hook.id
                    ),
                    record: Some(key),
                })
                .await;
                report.repaired.push(Repair { scope: plan.scope.clone(), what, hook_id: hook.id });
            }
            Err(error) => {
                let message = format!("the {} hook {was} and could not be {what}: {error}", plan.scope);
                self.record(
                    AuditEvent::new(key.clone(), now, Stage::Checked, Outcome::Failed, &self.settings.actor)
                        .with_error(error.class, &message)
                        .with_detail(json!({"action": plan.action})),
                )
                .await;
                self.alert(Alert {
                    connection: profile.id.clone(),
                    cause: format!("hook-repair-failed:{}", plan.scope),
                    subject: format!("[{name}] BigCommerce hook {} {was} and could not be {what}", plan.scope),
                    body: format!(
                        "{message}.\n\nUntil it is, {} events do not reach Millwright; the order sweep still \
                         recovers the orders, minutes late. The check tries again on its next run.",
                        plan.scope
                    ),
                    record: Some(key),
                })
                .await;
                report.problem_class.get_or_insert(error.class);
                report.problems.push(message);
            }
        }
    }

    /// The hooks could not be read (credentials, BigCommerce down): a problem of the report, which
    /// fails the job, so the runner audits it on the run record, retries it and alerts it once.
    fn listing_failed(error: &ApiError, report: &mut ConnectionHooks) {
        tracing::warn!(error.message = %error, "the BigCommerce hooks could not be read");
        report.problem_class.get_or_insert(error.class);
        report.problems.push(format!("the BigCommerce hooks could not be read: {error}"));
    }

    async fn record(&self, event: AuditEvent) {
        if let Err(error) = self.ports.audit.append(&event).await {
            tracing::warn!(error.message = %error, "the health check's audit event was not stored");
        }
    }

    async fn alert(&self, alert: Alert) {
        if let Err(error) = self.ports.alerter.alert(&alert).await {
            tracing::warn!(error.message = %error, cause = %alert.cause, "the alert was not sent");
        }
    }
}

/// One connection's check with repairs, as a scheduled job: its report is the job's detail, and any
/// problem fails the job (retried by the queue, then alerted once).
#[async_trait::async_trait]
impl jobs::Job for HealthCheck {
    fn name(&self) -> &'static str {
        JOB
    }

    async fn run(&self, profile: &ConnectionProfile, now: DateTime<Utc>) -> jobs::JobReport {
        let report = self.check(profile, true, now).await;
        let detail = json!(report);
        let summary = match report.repaired.len() {
            0 if report.problems.is_empty() => "every order hook is active at the receiver".to_owned(),
            repaired => format!("{repaired} order hook(s) repaired, {} problem(s)", report.problems.len()),
        };
        match report.problems.first() {
            None => jobs::JobReport::done(summary, detail),
            Some(problem) => {
                let class = report.problem_class.unwrap_or(ErrorClass::Transient);
                jobs::JobReport::failed(summary, detail, class, problem.clone())
            }
        }
    }
}

#[cfg(test)]
mod tests;
