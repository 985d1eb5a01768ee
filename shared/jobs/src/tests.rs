//! The runner against the in-memory fakes: fan-out, leases, deadlines, audits, retries and alerts.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use domain::connection::OrderSettings;
use domain::job::JobMessage;
use domain::ports::fakes;
use domain::ports::memory::{
    InMemoryAuditLog, InMemoryConnectionStore, InMemoryJobLeases, RecordingAlerter, RecordingJobQueue,
};
use domain::ports::{AuditLog, ConnectionStore, JobLeases};
use domain::schedule::ScheduledRequest;
use domain::{ConnectionId, ConnectionProfile, ErrorClass, Outcome, RecordKey, RecordKind};
use serde_json::json;

use crate::{Job, JobReport, JobRun, Ports, Runner, Settings};

fn id(name: &str) -> ConnectionId {
    ConnectionId::new(name).unwrap()
}

/// A job that counts its runs and does what it is told: finish, fail, or take its time.
#[derive(Default)]
struct Probe {
    runs: AtomicUsize,
    fail: Option<ErrorClass>,
    takes: Option<Duration>,
}

#[async_trait]
impl Job for Probe {
    fn name(&self) -> &'static str {
        "probe"
    }

    async fn run(&self, profile: &ConnectionProfile, _now: DateTime<Utc>) -> JobReport {
        self.runs.fetch_add(1, Ordering::SeqCst);
        if let Some(takes) = self.takes {
            tokio::time::sleep(takes).await;
        }
        match self.fail {
            None => JobReport::done(format!("probed {}", profile.id), json!({"probed": profile.id})),
            Some(class) => JobReport::failed("probe failed", json!({}), class, "the store answered 503"),
        }
    }
}

struct World {
    connections: Arc<InMemoryConnectionStore>,
    leases: Arc<InMemoryJobLeases>,
    queue: Arc<RecordingJobQueue>,
    audit: Arc<InMemoryAuditLog>,
    alerts: Arc<RecordingAlerter>,
}

impl World {
    async fn with(names: &[&str]) -> World {
        let connections = Arc::new(InMemoryConnectionStore::default());
        for name in names {
            connections.put(&fakes::profile(id(name), OrderSettings::default())).await.unwrap();
        }
        World {
            connections,
            leases: Arc::new(InMemoryJobLeases::default()),
            queue: Arc::new(RecordingJobQueue::default()),
            audit: Arc::new(InMemoryAuditLog::default()),
            alerts: Arc::new(RecordingAlerter::new(chrono::Duration::hours(1))),
        }
    }

    fn runner(&self, job: Probe) -> Runner<Probe> {
        let ports = Ports {
            connections: self.connections.clone(),
            leases: self.leases.clone(),
            queue: Some(self.queue.clone()),
            audit: self.audit.clone(),
            alerter: self.alerts.clone(),
        };
        Runner::new(job, ports, Settings { max_receive_count: Some(3), ..Settings::default() })
    }

    async fn trail(&self, connection: &str) -> Vec<(Outcome, u32)> {
        let key = RecordKey::new(id(connection), RecordKind::Run, "probe");
        self.audit.history(&key).await.unwrap().into_iter().map(|event| (event.outcome, event.attempt)).collect()
    }
}

fn message(connection: &str, requested_at: DateTime<Utc>) -> JobMessage {
    JobMessage { connection: id(connection), job: "probe".into(), run: "run-1".into(), requested_at }
}

fn record(message_id: &str, body: &str, receive_count: u32) -> SqsMessage {
    let mut record = SqsMessage::default();
    record.message_id = Some(message_id.to_owned());
    record.body = Some(body.to_owned());
    record.attributes.insert("ApproximateReceiveCount".to_owned(), receive_count.to_string());
    record
}

#[tokio::test]
async fn a_fan_out_queues_one_job_per_active_connection_and_names_those_it_left_out() {
    let world = World::with(&["acme", "bolt", "cogs"]).await;
    let mut parked = fakes::profile(id("cogs"), OrderSettings::default());
    parked.parked_at = Some(Utc::now());
    world.connections.put(&parked).await.unwrap();
    let runner = world.runner(Probe::default());

    let all = runner.fan_out(&ScheduledRequest::default(), "run-1", Utc::now()).await.unwrap();
    assert_eq!(all.queued, vec![id("acme"), id("bolt")]);
    assert_eq!(all.parked, vec![id("cogs")]);
    let sent = world.queue.take();
    assert_eq!(sent.iter().map(|m| m.connection.clone()).collect::<Vec<_>>(), vec![id("acme"), id("bolt")]);
    assert!(sent.iter().all(|m| m.job == "probe" && m.run == "run-1"));

    let named = ScheduledRequest { connections: vec![id("bolt"), id("nobody")] };
    let some = runner.fan_out(&named, "run-2", Utc::now()).await.unwrap();
    assert_eq!((some.queued, some.unknown), (vec![id("bolt")], vec![id("nobody")]));
    assert_eq!(world.queue.take().len(), 1);
    // Fanning out does no job's work.
    assert_eq!(runner.job().runs.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_fan_out_the_queue_refuses_fails_so_the_schedule_retries_it() {
    let world = World::with(&["acme"]).await;
    world.queue.fail_sends();
    let error = world.runner(Probe::default()).fan_out(&ScheduledRequest::default(), "run-1", Utc::now()).await;
    assert_eq!(error.unwrap_err().class(), ErrorClass::Transient);
}

#[tokio::test]
async fn a_job_runs_once_under_its_lease_and_audits_its_result_on_the_run_record() {
    let world = World::with(&["acme"]).await;
    let runner = world.runner(Probe::default());
    let requested = Utc::now();

    let run = runner.run_job(&message("acme", requested), 1, "invocation-1", None, Utc::now()).await;
    assert!(matches!(run, JobRun::Done { .. }), "{run:?}");
    assert_eq!(world.trail("acme").await, vec![(Outcome::Ok, 1)]);
    let state = world.leases.state(&id("acme"), "probe");
    assert_eq!(state.held_until, None, "the lease is free again");
    assert!(state.covered_through.unwrap() >= requested);
}

#[tokio::test]
async fn two_overlapping_runs_do_one_connections_work_once() {
    // GIVEN two runs fanned out at nearly the same moment (a duplicate tick, a manual invoke)
    let world = World::with(&["acme"]).await;
    let runner = world.runner(Probe { takes: Some(Duration::from_millis(100)), ..Probe::default() });
    let requested = Utc::now() - chrono::Duration::milliseconds(2);
    let (first, second) = (message("acme", requested), message("acme", requested + chrono::Duration::milliseconds(1)));

    // WHEN their jobs run at the same time
    let (a, b) = tokio::join!(
        runner.run_job(&first, 1, "invocation-1", None, Utc::now()),
        runner.run_job(&second, 1, "invocation-2", None, Utc::now())
    );

    // THEN one did the work and the other was refused by the lease
    assert_eq!(runner.job().runs.load(Ordering::SeqCst), 1);
    let skipped = [&a, &b].iter().filter(|run| matches!(run, JobRun::Skipped { .. })).count();
    assert_eq!(skipped, 1, "{a:?} {b:?}");
    let mut outcomes: Vec<Outcome> = world.trail("acme").await.into_iter().map(|(outcome, _)| outcome).collect();
    outcomes.sort_by_key(|outcome| outcome.as_str());
    assert_eq!(outcomes, vec![Outcome::Ok, Outcome::Skipped]);

    // AND a job of either run delivered again later is done already
    let late = runner.run_job(&second, 2, "invocation-3", None, Utc::now()).await;
    assert!(matches!(late, JobRun::Skipped { .. }), "{late:?}");
    assert_eq!(runner.job().runs.load(Ordering::SeqCst), 1);
    assert_eq!(world.trail("acme").await.last().unwrap().0, Outcome::Duplicate);

    // AND the next run, asked for after that work started, runs
    let next = runner.run_job(&message("acme", Utc::now()), 1, "invocation-4", None, Utc::now()).await;
    assert!(matches!(next, JobRun::Done { .. }), "{next:?}");
    assert_eq!(runner.job().runs.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_lease_left_by_a_crashed_invocation_runs_out_and_the_next_job_takes_it() {
    let world = World::with(&["acme"]).await;
    let now = Utc::now();
    let crashed_until = now + chrono::Duration::milliseconds(50);
    world.leases.take(&id("acme"), "probe", "crashed", now, now, crashed_until).await.unwrap().unwrap();
    let runner = world.runner(Probe::default());

    let refused = runner.run_job(&message("acme", now), 1, "invocation-1", None, now).await;
    assert!(matches!(refused, JobRun::Skipped { .. }), "{refused:?}");
    let later = crashed_until + chrono::Duration::milliseconds(1);
    let taken = runner.run_job(&message("acme", now), 2, "invocation-1", None, later).await;
    assert!(matches!(taken, JobRun::Done { .. }), "{taken:?}");
}

#[tokio::test]
async fn a_failing_job_is_retried_by_the_queue_and_alerted_once_on_its_last_receive() {
    let world = World::with(&["acme"]).await;
    let runner = world.runner(Probe { fail: Some(ErrorClass::Transient), ..Probe::default() });
    let body = serde_json::to_string(&message("acme", Utc::now())).unwrap();

    for receive in 1..=3 {
        let mut event = SqsEvent::default();
        event.records = vec![record("m-1", &body, receive)];
        let response = runner.handle_jobs(event, &format!("invocation-{receive}"), None).await;
        let retried: Vec<String> = response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
        // Handed back on the first two receives; acknowledged on the last, after the alert.
        assert_eq!(retried, if receive < 3 { vec!["m-1".to_owned()] } else { vec![] }, "receive {receive}");
        assert_eq!(world.alerts.sent().len(), usize::from(receive == 3), "receive {receive}");
        // A failed job frees its lease, so the retry can take it.
        assert_eq!(world.leases.state(&id("acme"), "probe").held_until, None);
    }
    assert_eq!(world.trail("acme").await, vec![(Outcome::Retried, 1), (Outcome::Retried, 2), (Outcome::Failed, 3)]);
    let alert = &world.alerts.sent()[0];
    assert_eq!(alert.cause, "job-failed:probe");
    assert!(alert.body.contains("the store answered 503"), "{}", alert.body);
    assert!(alert.body.contains("millwright trace acme#run#probe"), "{}", alert.body);
}

#[tokio::test]
async fn a_job_that_cannot_finish_before_the_deadline_is_handed_back_and_its_lease_freed() {
    let world = World::with(&["acme"]).await;
    let runner = world.runner(Probe { takes: Some(Duration::from_secs(30)), ..Probe::default() });
    // An invocation with 2.3 s left: the job is stopped at the 2 s reserve, 0.3 s from now.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(2_300);

    let run = runner.run_job(&message("acme", Utc::now()), 1, "invocation-1", Some(deadline), Utc::now()).await;

    assert!(matches!(run, JobRun::HandedBack { .. }), "{run:?}");
    assert!(tokio::time::Instant::now() < deadline, "stopped before the deadline");
    assert_eq!(world.trail("acme").await, vec![(Outcome::Retried, 1)]);
    let state = world.leases.state(&id("acme"), "probe");
    assert_eq!((state.held_until, state.covered_through), (None, None), "freed, and nothing marked done");
    // Left to the next run: the message is acknowledged.
    assert!(!run.is_retry());
}

#[tokio::test]
async fn a_parked_or_unknown_connections_job_is_skipped_and_audited() {
    let world = World::with(&["acme"]).await;
    let mut parked = fakes::profile(id("acme"), OrderSettings::default());
    parked.parked_at = Some(Utc::now());
    world.connections.put(&parked).await.unwrap();
    let runner = world.runner(Probe::default());

    assert!(matches!(
        runner.run_job(&message("acme", Utc::now()), 1, "i-1", None, Utc::now()).await,
        JobRun::Skipped { .. }
    ));
    assert!(matches!(
        runner.run_job(&message("gone", Utc::now()), 1, "i-1", None, Utc::now()).await,
        JobRun::Skipped { .. }
    ));
    assert_eq!(runner.job().runs.load(Ordering::SeqCst), 0);
    assert_eq!(world.trail("acme").await, vec![(Outcome::Skipped, 1)]);
    assert_eq!(world.trail("gone").await, vec![(Outcome::Skipped, 1)]);
}

#[tokio::test]
async fn a_message_that_is_not_this_functions_job_goes_back_toward_the_dead_letter_queue() {
    let world = World::with(&["acme"]).await;
    let runner = world.runner(Probe::default());
    let other = JobMessage { job: "inventory-sync".into(), ..message("acme", Utc::now()) };
    let mut event = SqsEvent::default();
    event.records = vec![
        record("garbled", "{not json", 1),
        record("other", &serde_json::to_string(&other).unwrap(), 1),
        record("fine", &serde_json::to_string(&message("acme", Utc::now())).unwrap(), 1),
    ];

    let response = runner.handle_jobs(event, "invocation-1", None).await;

    let mut retried: Vec<String> = response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
    retried.sort();
    assert_eq!(retried, vec!["garbled".to_owned(), "other".to_owned()]);
    assert_eq!(runner.job().runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn one_handler_takes_both_the_schedules_event_and_the_job_queues_batch() {
    let world = World::with(&["acme"]).await;
    let runner = world.runner(Probe::default());
    let scheduled: serde_json::Value =
        serde_json::from_str(include_str!("../../../events/webhook-health/scheduled.json")).unwrap();

    let fanned = crate::handle(&runner, scheduled, "invocation-1", None).await.unwrap();
    assert_eq!(fanned["queued"], json!(["acme"]));
    let sent = world.queue.take();

    let batch = json!({"Records": [{
        "messageId": "m-1",
        "receiptHandle": "r-1",
        "body": serde_json::to_string(&sent[0]).unwrap(),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs"
    }]});
    let answered = crate::handle(&runner, batch, "invocation-2", None).await.unwrap();
    assert_eq!(answered, json!({"batchItemFailures": []}));
    assert_eq!(runner.job().runs.load(Ordering::SeqCst), 1);

    let neither = crate::handle(&runner, json!({"hello": 1}), "invocation-3", None).await.unwrap_err();
    assert!(neither.to_string().contains("neither an SQS batch nor an EventBridge scheduled event"), "{neither}");
}

#[tokio::test]
async fn an_operators_run_waits_for_a_scheduled_job_of_the_same_connection_then_runs() {
    // GIVEN a scheduled job holding acme's lease for another 700 ms
    let world = World::with(&["acme"]).await;
    let now = Utc::now();
    world
        .leases
        .take(&id("acme"), "probe", "scheduled", now, now, now + chrono::Duration::milliseconds(700))
        .await
        .unwrap()
        .unwrap();
    let runner = world.runner(Probe::default());

    // WHEN an operator runs the job here
    let runs = runner.run_here(&[id("acme")], "cli:ops", Utc::now()).await.unwrap();

    // THEN it ran once the lease was free, and its refused try is on the record too
    assert!(matches!(runs.as_slice(), [JobRun::Done { .. }]), "{runs:?}");
    assert_eq!(runner.job().runs.load(Ordering::SeqCst), 1);
    let outcomes: Vec<Outcome> = world.trail("acme").await.into_iter().map(|(outcome, _)| outcome).collect();
    assert_eq!(outcomes.first(), Some(&Outcome::Skipped));
    assert_eq!(outcomes.last(), Some(&Outcome::Ok));
}
