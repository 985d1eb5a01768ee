//! `check`: reaching AWS and every system of a connection through the project's own clients.

use domain::audit::{Outcome, Stage};
use domain::{ErrorClass, RecordKey, RecordKind};
use serde_json::json;

use crate::support::World;

#[tokio::test]
async fn a_healthy_connection_reaches_all_three_systems_and_audits_the_check() {
    // GIVEN a connection whose systems are the sandbox doubles
    let world = World::start().await;

    // WHEN it is checked
    let report = runtime::check::check_connection(&world.deps, &world.connection).await;

    // THEN each system answered with its seeded identity
    let reached: Vec<(&str, String)> =
        report.probes.iter().map(|p| (p.system, p.result.clone().unwrap_or_else(|f| f.reason))).collect();
    assert!(report.passed(), "{reached:?}");
    assert_eq!(reached.len(), 3);
    assert!(reached[0].1.contains("Millwright Demo Store"), "{reached:?}");
    assert!(reached[1].1.contains(sandbox::demo::PLEX_TENANT_CODE), "{reached:?}");
    assert!(reached[2].1.contains(sandbox::demo::MONDAY_USER_EMAIL), "{reached:?}");
    // AND the audit trail has the check
    let key = RecordKey::new(world.connection.clone(), RecordKind::Run, "check");
    let history = world.deps.audit.history(&key).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!((history[0].stage, history[0].outcome), (Stage::Checked, Outcome::Ok));
}

#[tokio::test]
async fn aws_tables_of_the_deployment_answer() {
    let world = World::start().await;
    let probes = runtime::check::check_aws(&world.deps).await;
    assert_eq!(probes.len(), 2);
    assert!(probes.iter().all(|p| p.passed()), "{probes:?}");
}

#[tokio::test]
async fn a_refused_plex_key_fails_the_check_with_the_auth_class_and_is_audited_as_failed() {
    // GIVEN Plex refuses the key on every call
    let world = World::start().await;
    world.inject_fault("plex", json!({"path_prefix": "/mdm/", "fault": "unauthorized"})).await;

    let report = runtime::check::check_connection(&world.deps, &world.connection).await;

    // THEN only Plex fails, as an auth problem, and nobody retried a 401 (one call in the log)
    assert!(!report.passed());
    let plex = report.probes.iter().find(|p| p.system == "plex").unwrap();
    let failure = plex.result.clone().unwrap_err();
    assert_eq!(failure.class, ErrorClass::Auth, "{failure:?}");
    assert!(report.probes.iter().filter(|p| p.system != "plex").all(|p| p.passed()));
    let log: serde_json::Value = world
        .http
        .get(format!("{}/__control/requests", world.sandbox.plex_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log.as_array().unwrap().len(), 1, "{log}");
    // AND the failure is in the audit trail with the reason
    let key = RecordKey::new(world.connection.clone(), RecordKind::Run, "check");
    let history = world.deps.audit.history(&key).await.unwrap();
    assert_eq!(history.last().unwrap().outcome, Outcome::Failed);
    assert!(history.last().unwrap().detail.as_ref().unwrap().to_string().contains("\"class\":\"auth\""));
}

#[tokio::test]
async fn a_missing_secret_field_is_named_without_calling_the_system() {
    // GIVEN the connection's BigCommerce secret lacks its access token
    let world = World::start().await;
    let name = world.deps.secret_name(&world.connection, domain::System::Bigcommerce);
    world
        .deps
        .secrets
        .put(&name, &secrecy::SecretString::from(json!({"client_secret": "x"}).to_string()))
        .await
        .unwrap();

    let report = runtime::check::check_connection(&world.deps, &world.connection).await;

    let bigcommerce = report.probes.iter().find(|p| p.system == "bigcommerce").unwrap();
    let failure = bigcommerce.result.clone().unwrap_err();
    assert_eq!(failure.class, ErrorClass::Data);
    assert!(failure.reason.contains("access_token") && failure.reason.contains(&name.to_string()), "{failure:?}");
}

#[tokio::test]
async fn an_unknown_connection_is_reported_not_panicked_on() {
    let world = World::start().await;
    let unknown = domain::ConnectionId::new("nobody-here").unwrap();
    let report = runtime::check::check_connection(&world.deps, &unknown).await;
    assert!(!report.passed());
    assert!(report.probes[0].result.clone().unwrap_err().reason.contains("not configured"));
}
