//! The check against the in-memory fakes: hooks, audit trail and alerts.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use domain::audit::{Outcome, Stage};
use domain::connection::OrderSettings;
use domain::hooks::{HookAction, ORDER_SCOPES};
use domain::ports::fakes::{self, FakeHooks, FakeWebhookApis};
use domain::ports::memory::{
    InMemoryAuditLog, InMemoryConnectionStore, InMemoryJobLeases, RecordingAlerter, RecordingJobQueue,
};
use domain::ports::{ApiError, AuditLog, ConnectionStore};
use domain::{ConnectionId, ErrorClass, RecordKey, RecordKind};

use crate::{HealthCheck, Ports, Settings};

const HERE: &str = "https://hooks.example/webhooks/bigcommerce/acme";

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z").unwrap().with_timezone(&Utc)
}

fn acme() -> ConnectionId {
    ConnectionId::new("acme").unwrap()
}

struct World {
    hooks: Arc<FakeHooks>,
    connections: Arc<InMemoryConnectionStore>,
    audit: Arc<InMemoryAuditLog>,
    alerts: Arc<RecordingAlerter>,
    check: HealthCheck,
}

impl World {
    async fn new() -> World {
        World::with(fakes::profile(acme(), OrderSettings::default())).await
    }

    async fn with(profile: domain::ConnectionProfile) -> World {
        let hooks = Arc::new(FakeHooks::default());
        let connections = Arc::new(InMemoryConnectionStore::default());
        connections.put(&profile).await.unwrap();
        let audit = Arc::new(InMemoryAuditLog::default());
        let alerts = Arc::new(RecordingAlerter::new(Duration::hours(1)));
        let ports = Ports {
            connections: connections.clone(),
            webhooks: Arc::new(FakeWebhookApis::default().with(acme(), hooks.clone())),
            audit: audit.clone(),
            alerter: alerts.clone(),
        };
        let settings = Settings { receiver_url: "https://hooks.example/".into(), ..Settings::default() };
        World { hooks, connections, audit, alerts, check: HealthCheck::new(ports, settings) }
    }

    /// The check on the scheduled-job runner, as the Lambda `main` wires it (three receives).
    fn runner(&self, queue: Arc<RecordingJobQueue>) -> jobs::Runner<HealthCheck> {
        let ports = jobs::Ports {
            connections: self.connections.clone(),
            leases: Arc::new(InMemoryJobLeases::default()),
            queue: Some(queue),
            audit: self.audit.clone(),
            alerter: self.alerts.clone(),
        };
        jobs::Runner::new(
            self.check.clone(),
            ports,
            jobs::Settings { max_receive_count: Some(3), ..jobs::Settings::default() },
        )
    }

    async fn trail(&self, scope: &str) -> Vec<(Stage, Outcome, Option<String>)> {
        let key = RecordKey::new(acme(), RecordKind::BcHook, scope);
        let events = self.audit.history(&key).await.unwrap();
        events.into_iter().map(|event| (event.stage, event.outcome, event.message)).collect()
    }
}

#[tokio::test]
async fn healthy_hooks_cost_one_listing_and_leave_no_trace() {
    let world = World::new().await;
    for scope in ORDER_SCOPES {
        world.hooks.add(scope, HERE, true);
    }

    let reports = world.check.run_for(&[], t0()).await.unwrap();

    assert_eq!(reports.len(), 1);
    assert!(reports[0].is_healthy() && reports[0].repaired.is_empty(), "{reports:?}");
    assert_eq!(world.hooks.calls(), 1);
    assert!(world.audit.events().is_empty());
    assert!(world.alerts.sent().is_empty());
}

#[tokio::test]
async fn a_deactivated_hook_is_reactivated_a_missing_one_registered_each_audited_and_alerted_once() {
    // GIVEN BigCommerce deactivated the created hook, and the updated hook was never registered
    let world = World::new().await;
    let created = world.hooks.add(ORDER_SCOPES[0], HERE, false);
    world.hooks.add(ORDER_SCOPES[1], "https://elsewhere.example/hook", true);

    // WHEN the check runs, twice
    let first = world.check.run_for(&[], t0()).await.unwrap().remove(0);
    let second = world.check.run_for(&[], t0() + Duration::minutes(5)).await.unwrap().remove(0);

    // THEN the first run repaired both, the second found them healthy
    assert_eq!(first.plans[0].action, HookAction::Reactivate { id: created });
    assert_eq!(first.plans[1].action, HookAction::Register);
    let repairs: Vec<(&str, &str)> = first.repaired.iter().map(|r| (r.scope.as_str(), r.what)).collect();
    assert_eq!(repairs, vec![(ORDER_SCOPES[0], "reactivated"), (ORDER_SCOPES[1], "registered")]);
    assert!(first.is_healthy() && second.is_healthy() && second.repaired.is_empty());
    let ours: Vec<_> = world.hooks.all().into_iter().filter(|hook| hook.destination == HERE).collect();
    assert!(ours.len() == 2 && ours.iter().all(|hook| hook.is_active), "{ours:?}");
    assert_eq!(world.hooks.all().len(), 3, "the other tool's hook is left alone");
    // AND each repair is on its scope's trail and alerted once
    let trail = world.trail(ORDER_SCOPES[0]).await;
    assert_eq!(trail.len(), 1);
    assert_eq!((trail[0].0, trail[0].1), (Stage::Checked, Outcome::Ok));
    assert_eq!(
        trail[0].2.as_deref(),
        Some(format!("the store/order/created hook to {HERE} was deactivated; reactivated hook {created}").as_str())
    );
    let subjects: Vec<String> = world.alerts.sent().into_iter().map(|alert| alert.subject).collect();
    assert_eq!(
        subjects,
        vec![
            "[Acme] BigCommerce hook store/order/created was deactivated; reactivated".to_owned(),
            "[Acme] BigCommerce hook store/order/updated was missing; registered".to_owned(),
        ]
    );
}

#[tokio::test]
async fn only_looking_repairs_nothing() {
    let world = World::new().await;
    world.hooks.add(ORDER_SCOPES[0], HERE, false);
    let profile = fakes::profile(acme(), OrderSettings::default());

    let report = world.check.check(&profile, false, t0()).await;

    assert!(!report.is_healthy());
    assert!(report.repaired.is_empty());
    assert!(!world.hooks.all()[0].is_active);
    assert!(world.alerts.sent().is_empty());
}

#[tokio::test]
async fn a_refused_repair_is_audited_alerted_and_reported_and_the_next_run_tries_again() {
    // GIVEN a deactivated hook that BigCommerce refuses to reactivate (the account lacks a scope)
    let world = World::new().await;
    world.hooks.add(ORDER_SCOPES[0], HERE, true);
    let updated = world.hooks.add(ORDER_SCOPES[1], HERE, false);
    let refusal =
        ApiError { class: ErrorClass::Permission, message: "HTTP 403 on PUT /v3/hooks/2".into(), retry_after: None };
    world.hooks.refuse_changes(Some(refusal));

    // WHEN the check runs, then runs again once the account may change hooks
    let refused = world.check.run_for(&[], t0()).await.unwrap().remove(0);
    world.hooks.refuse_changes(None);
    let repaired = world.check.run_for(&[], t0() + Duration::minutes(5)).await.unwrap().remove(0);

    // THEN the refusal is reported, audited as failed with its class and alerted; the next run repairs it
    assert!(!refused.is_healthy());
    assert_eq!(
        refused.problems,
        vec!["the store/order/updated hook was deactivated and could not be reactivated: HTTP 403 on PUT /v3/hooks/2"]
    );
    let trail = world.trail(ORDER_SCOPES[1]).await;
    assert_eq!((trail[0].0, trail[0].1), (Stage::Checked, Outcome::Failed));
    assert_eq!(world.alerts.sent()[0].cause, "hook-repair-failed:store/order/updated");
    assert_eq!(repaired.repaired[0].hook_id, updated);
    assert!(repaired.is_healthy());
}

#[tokio::test]
async fn hooks_that_cannot_be_read_fail_the_job_which_is_retried_and_then_alerted_once() {
    // GIVEN a store whose hooks cannot be read three times running (credentials revoked)
    let world = World::new().await;
    let revoked = ApiError { class: ErrorClass::Auth, message: "HTTP 401 on GET /v3/hooks".into(), retry_after: None };
    world.hooks.fail_next(3, revoked);
    let runner = world.runner(Arc::new(RecordingJobQueue::default()));
    let message =
        domain::job::JobMessage { connection: acme(), job: crate::JOB.into(), run: "run-1".into(), requested_at: t0() };

    // WHEN the job is delivered three times (the job queue's receives)
    let mut runs = Vec::new();
    for attempt in 1..=3 {
        let at = t0() + Duration::minutes(i64::from(attempt));
        runs.push(runner.run_job(&message, attempt, &format!("invocation-{attempt}"), None, at).await);
    }

    // THEN the first two go back to the queue, the last is alerted once, naming the cause
    assert_eq!(runs.iter().map(jobs::JobRun::is_retry).collect::<Vec<_>>(), vec![true, true, false]);
    let alerts = world.alerts.sent();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].cause, "job-failed:webhook-health");
    assert!(alerts[0].body.contains("HTTP 401 on GET /v3/hooks"), "{}", alerts[0].body);
    // AND each try is on the run record with the failure's class
    let run = world.audit.history(&RecordKey::new(acme(), RecordKind::Run, crate::JOB)).await.unwrap();
    let outcomes: Vec<_> = run.iter().map(|event| (event.outcome, event.error_class)).collect();
    assert_eq!(
        outcomes,
        vec![
            (Outcome::Retried, Some(ErrorClass::Auth)),
            (Outcome::Retried, Some(ErrorClass::Auth)),
            (Outcome::Failed, Some(ErrorClass::Auth))
        ]
    );
}

#[tokio::test]
async fn the_sample_scheduled_event_fans_out_a_job_that_reactivates_a_deactivated_hook() {
    // GIVEN the sample: the template's rule (`{stack}-webhook-health`) firing, with an empty detail
    let sample: serde_json::Value = serde_json::from_str(include_str!("../../../events/webhook-health/scheduled.json"))
        .expect("the sample is JSON");
    let event: aws_lambda_events::eventbridge::EventBridgeEvent<serde_json::Value> =
        serde_json::from_value(sample.clone()).expect("the sample is an EventBridge event");
    assert_eq!((event.source.as_str(), event.detail_type.as_str()), ("aws.events", "Scheduled Event"));
    assert_eq!(event.detail, serde_json::json!({}), "a plain schedule names no connection");
    let rule = format!(
        "arn:aws:events:{}:{}:rule/millwright-webhook-health",
        event.region.as_deref().expect("a region"),
        event.account.as_deref().expect("an account")
    );
    assert_eq!(event.resources, Some(vec![rule]));

    // AND BigCommerce deactivated the connection's created hook; the updated hook is active
    let world = World::new().await;
    let created = world.hooks.add(ORDER_SCOPES[0], HERE, false);
    let updated = world.hooks.add(ORDER_SCOPES[1], HERE, true);
    let queue = Arc::new(RecordingJobQueue::default());
    let runner = world.runner(queue.clone());

    // WHEN the Lambda handler takes the event, and then the job it queued
    let fanned = jobs::handle(&runner, sample, "invocation-1", None).await.expect("the fan-out runs");
    assert_eq!(fanned["queued"], serde_json::json!(["acme"]));
    assert_eq!(world.hooks.calls(), 0, "the fan-out calls no store");
    let message = queue.take().remove(0);
    let run = runner.run_job(&message, 1, "invocation-2", None, t0()).await;

    // THEN the job reactivated the created hook and changed nothing else
    let jobs::JobRun::Done { report, .. } = run else { panic!("{run:?}") };
    assert_eq!(
        report.detail,
        serde_json::json!({
            "connection": "acme",
            "destination": HERE,
            "plans": [
                {"scope": ORDER_SCOPES[0], "action": "reactivate", "id": created},
                {"scope": ORDER_SCOPES[1], "action": "healthy", "id": updated},
            ],
            "repaired": [{"scope": ORDER_SCOPES[0], "what": "reactivated", "hook_id": created}],
            "problems": [],
        })
    );
    assert!(world.hooks.all().iter().all(|hook| hook.is_active), "{:?}", world.hooks.all());
    assert_eq!(world.alerts.sent().len(), 1);
    // AND the job's result is on the run record
    let trail = world.audit.history(&RecordKey::new(acme(), RecordKind::Run, crate::JOB)).await.unwrap();
    assert_eq!(trail.iter().map(|event| event.outcome).collect::<Vec<_>>(), vec![Outcome::Ok]);
    assert_eq!(trail[0].message.as_deref(), Some("1 order hook(s) repaired, 0 problem(s)"));
}

#[tokio::test]
async fn a_hook_sending_an_outdated_secret_is_refreshed_even_while_active() {
    // GIVEN both hooks active, but the created hook still sends the secret from before a rotation
    let world = World::new().await;
    let created = world.hooks.add(ORDER_SCOPES[0], HERE, true);
    world.hooks.add(ORDER_SCOPES[1], HERE, true);
    world.hooks.make_auth_stale(created);

    // WHEN the check runs
    let report = world.check.run_for(&[], t0()).await.unwrap().remove(0);

    // THEN that hook gets the current header (and stays on), audited and alerted
    assert_eq!(report.plans[0].action, HookAction::Refresh { id: created });
    assert_eq!(report.repaired.iter().map(|r| r.what).collect::<Vec<_>>(), vec!["refreshed"]);
    assert!(world.hooks.all().iter().all(|hook| hook.auth_current && hook.is_active));
    let trail = world.trail(ORDER_SCOPES[0]).await;
    assert!(
        trail[0]
            .2
            .as_deref()
            .unwrap()
            .ends_with(&format!("sent an outdated authentication header; refreshed hook {created}"))
    );
    assert_eq!(world.alerts.sent()[0].cause, "hook-repaired:store/order/created");
}

#[tokio::test]
async fn a_removed_connection_gets_no_hooks_again() {
    // GIVEN a connection removed by an operator (parked), whose hooks were deleted
    let mut parked = fakes::profile(acme(), OrderSettings::default());
    parked.parked_at = Some(t0());
    let world = World::with(parked).await;

    // WHEN the health check runs
    let reports = world.check.run_for(&[], t0()).await.unwrap();

    // THEN it skips the connection: no call, nothing registered, nothing alerted
    assert!(reports.is_empty(), "{reports:?}");
    assert_eq!(world.hooks.calls(), 0);
    assert!(world.alerts.sent().is_empty());
}

/// The committed sample `events/webhook-health/job.json`: what the function's job queue delivers for the
/// demo connection, one record per invocation. `make invoke` sends the same file.
#[tokio::test]
async fn the_sample_job_event_is_one_health_check_job_for_the_demo_connection_that_the_handler_runs() {
    let sample: serde_json::Value =
        serde_json::from_str(include_str!("../../../events/webhook-health/job.json")).expect("the sample is JSON");
    let event: aws_lambda_events::sqs::SqsEvent = serde_json::from_value(sample.clone()).expect("an SQS event");
    assert_eq!(event.records.len(), 1, "one job per invocation (BatchSize: 1)");
    let record = &event.records[0];
    let body = record.body.as_deref().expect("a body");
    let message: domain::job::JobMessage = serde_json::from_str(body).expect("the body is a job message");
    assert_eq!((message.connection.as_str(), message.job.as_str()), ("demo", crate::JOB));
    assert!(record.event_source_arn.as_deref().is_some_and(|arn| arn.ends_with(&format!("-{}-jobs", crate::JOB))));

    // The handler takes it as the Lambda runtime hands it over; in a world without the demo
    // connection the job is acknowledged and recorded as skipped.
    let world = World::new().await;
    let answer =
        jobs::handle(&world.runner(std::sync::Arc::new(RecordingJobQueue::default())), sample, "invocation-1", None)
            .await
            .expect("the handler answers");
    assert_eq!(answer, serde_json::json!({"batchItemFailures": []}));
    let key = RecordKey::new(ConnectionId::new("demo").unwrap(), RecordKind::Run, crate::JOB);
    let trail = world.audit.history(&key).await.unwrap();
    assert_eq!(trail.iter().map(|event| event.outcome).collect::<Vec<_>>(), vec![Outcome::Skipped]);
}
