//! `check`: reach AWS and every system of a connection through the project's own adapters and
//! clients, and say for each what answered or why it did not.
//!
//! The CLI's `millwright check` prints the reports; the result of each connection's check is also
//! an audit event (`{connection}#run#check`, stage `checked`), so "when did Plex last answer?" has
//! an answer after the fact.

use std::fmt;

use chrono::Utc;
use domain::audit::{AuditEvent, Outcome, Stage};
use domain::{ConnectionId, ConnectionProfile, ErrorClass, RecordKey, RecordKind};
use serde_json::json;

use crate::deps::{Deps, DepsError};

/// One system reached (or not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// `aws`, `bigcommerce`, `plex` or `monday`.
    pub system: &'static str,
    /// What was called: a table name or a base URL, never a credential.
    pub target: String,
    pub result: Result<String, ProbeFailure>,
}

/// Why a probe failed: the error class decides what the operator should do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeFailure {
    pub class: ErrorClass,
    pub reason: String,
}

impl Probe {
    fn new(system: &'static str, target: impl Into<String>, result: Result<String, ProbeFailure>) -> Probe {
        Probe { system, target: target.into(), result }
    }

    pub fn passed(&self) -> bool {
        self.result.is_ok()
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.result {
            Ok(reached) => write!(f, "pass  {:<12} {} ({})", self.system, reached, self.target),
            Err(failure) => {
                write!(f, "FAIL  {:<12} {} [{}] ({})", self.system, failure.reason, failure.class, self.target)?;
                if let Some(hint) = hint(self.system, failure.class) {
                    write!(f, "\n      {:<12} {hint}", "")?;
                }
                Ok(())
            }
        }
    }
}

/// What an operator should look at, by system and error class.
fn hint(system: &str, class: ErrorClass) -> Option<&'static str> {
    match (system, class) {
        ("plex", ErrorClass::Auth) => Some("the Plex key expired or the app is not subscribed to the API collection"),
        ("bigcommerce", ErrorClass::Auth) => {
            Some("the BigCommerce access token was revoked or belongs to another store")
        }
        ("monday", ErrorClass::Auth) => Some("the monday API token is wrong or its user was deactivated"),
        (_, ErrorClass::Permission) => Some("the integration account lacks a role or scope for this call"),
        (_, ErrorClass::Data) => Some("fix the connection's profile or secret, then check again"),
        (_, ErrorClass::Transient | ErrorClass::RateLimited) => Some("the service did not answer in time; try again"),
        _ => None,
    }
}

/// The probes of one connection.
#[derive(Debug, Clone)]
pub struct ConnectionReport {
    pub connection: ConnectionId,
    pub probes: Vec<Probe>,
}

impl ConnectionReport {
    pub fn passed(&self) -> bool {
        self.probes.iter().all(Probe::passed)
    }
}

fn failure(class: ErrorClass, error: impl fmt::Display) -> ProbeFailure {
    ProbeFailure { class, reason: error.to_string() }
}

fn deps_failure(error: DepsError) -> ProbeFailure {
    failure(error.class(), error)
}

/// Reaches the state and audit tables.
pub async fn check_aws(deps: &Deps) -> Vec<Probe> {
    let endpoint = deps.config.aws_endpoint_url.clone().unwrap_or_else(|| "AWS".to_owned());
    let state = deps
        .connections
        .list()
        .await
        .map(|profiles| format!("state table answered, {} connection(s) configured", profiles.len()))
        .map_err(|error| failure(error.class(), error));
    let probe_key =
        RecordKey::new(ConnectionId::new("check").expect("`check` is a valid connection id"), RecordKind::Run, "probe");
    let audit = deps
        .audit
        .history(&probe_key)
        .await
        .map(|_| "audit table answered".to_owned())
        .map_err(|error| failure(error.class(), error));
    vec![
        Probe::new("aws", format!("{} at {endpoint}", deps.config.state_table), state),
        Probe::new("aws", format!("{} at {endpoint}", deps.config.audit_table), audit),
    ]
}

/// Reaches BigCommerce, Plex and (when configured) monday for one connection, concurrently, and
/// records the outcome in the audit log.
pub async fn check_connection(deps: &Deps, id: &ConnectionId) -> ConnectionReport {
    let profile = match deps.connection(id).await {
        Ok(profile) => profile,
        Err(error) => {
            return ConnectionReport {
                connection: id.clone(),
                probes: vec![Probe::new("aws", deps.config.state_table.clone(), Err(deps_failure(error)))],
            };
        }
    };
    let (bigcommerce, plex, monday) =
        tokio::join!(probe_bigcommerce(deps, &profile), probe_plex(deps, &profile), probe_monday(deps, &profile));
    let probes: Vec<Probe> = [Some(bigcommerce), Some(plex), monday].into_iter().flatten().collect();
    let report = ConnectionReport { connection: id.clone(), probes };
    audit_report(deps, &report).await;
    report
}

async fn probe_bigcommerce(deps: &Deps, profile: &ConnectionProfile) -> Probe {
    let base = profile.bigcommerce.api_base_url.as_deref().unwrap_or(&deps.config.endpoints.bigcommerce_api);
    let target = format!("{base}/stores/{}", profile.bigcommerce.store_hash);
    let result = match deps.bigcommerce(profile).await {
        Ok(client) => client
            .store_information()
            .await
            .map(|store| format!("store {:?} (id {}, {})", store.name, store.id, store.domain))
            .map_err(|error| failure(error.class(), error)),
        Err(error) => Err(deps_failure(error)),
    };
    Probe::new("bigcommerce", target, result)
}

async fn probe_plex(deps: &Deps, profile: &ConnectionProfile) -> Probe {
    let target = profile.plex.connect_base_url.clone().unwrap_or_else(|| deps.config.endpoints.plex_connect.clone());
    let result = match deps.plex(profile).await {
        Ok(client) => client
            .tenants()
            .await
            .map(|tenants| {
                let names: Vec<&str> =
                    tenants.iter().map(|t| t.code.as_deref().or(t.name.as_deref()).unwrap_or(&t.id)).collect();
                format!("tenants {}", names.join(", "))
            })
            .map_err(|error| failure(error.class(), error)),
        Err(error) => Err(deps_failure(error)),
    };
    Probe::new("plex", target, result)
}

async fn probe_monday(deps: &Deps, profile: &ConnectionProfile) -> Option<Probe> {
    let monday = profile.monday.as_ref()?;
    let target = monday.api_url.clone().unwrap_or_else(|| deps.config.endpoints.monday_api.clone());
    let result = match deps.monday(profile).await {
        Ok(client) => client
            .me()
            .await
            .map(|me| format!("user {:?} <{}> of account {:?}", me.name, me.email, me.account_name))
            .map_err(|error| failure(error.class(), error)),
        Err(error) => Err(deps_failure(error)),
    };
    Some(Probe::new("monday", target, result))
}

/// Best effort: a check that cannot write its audit event still reports to the operator.
async fn audit_report(deps: &Deps, report: &ConnectionReport) {
    let key = RecordKey::new(report.connection.clone(), RecordKind::Run, "check");
    let outcome = if report.passed() { Outcome::Ok } else { Outcome::Failed };
    let detail: Vec<_> = report
        .probes
        .iter()
        .map(|probe| match &probe.result {
            Ok(reached) => json!({"system": probe.system, "target": probe.target, "reached": reached}),
            Err(failure) => json!({
                "system": probe.system, "target": probe.target,
                "class": failure.class, "reason": failure.reason,
            }),
        })
        .collect();
    let event =
        AuditEvent::new(key, Utc::now(), Stage::Checked, outcome, "millwright check").with_detail(json!(detail));
    if let Err(error) = deps.audit.append(&event).await {
        tracing::warn!(error = %error, connection = %report.connection, "could not audit the check");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_probe_names_the_class_the_target_and_what_to_do() {
        let probe = Probe::new(
            "plex",
            "http://127.0.0.1:4020",
            Err(ProbeFailure { class: ErrorClass::Auth, reason: "Plex GET /mdm/v1/tenants: 401".into() }),
        );
        let shown = probe.to_string();
        assert!(shown.starts_with("FAIL  plex"), "{shown}");
        assert!(shown.contains("[auth]") && shown.contains("http://127.0.0.1:4020"), "{shown}");
        assert!(shown.contains("key expired or the app is not subscribed"), "{shown}");
    }

    #[test]
    fn a_report_passes_only_when_every_probe_passed() {
        let ok = Probe::new("bigcommerce", "x", Ok("store".into()));
        let bad =
            Probe::new("monday", "y", Err(ProbeFailure { class: ErrorClass::Transient, reason: "timeout".into() }));
        let connection = ConnectionId::new("acme").unwrap();
        assert!(ConnectionReport { connection: connection.clone(), probes: vec![ok.clone()] }.passed());
        assert!(!ConnectionReport { connection, probes: vec![ok, bad] }.passed());
    }
}
