//! The scheduled-job runner: how every scheduled function (the order sweep, the webhook health
//! check, and the flows to come) spreads a run over its connections.
//!
//! A schedule (an EventBridge rule; the local runtime's timer in the local world) invokes the
//! function with a scheduled event. That invocation only *fans out* ([`Runner::fan_out`]): it lists
//! the connections (or takes those the event's `detail` names), leaves out parked ones, and sends
//! one [`JobMessage`] per connection to the function's own job queue. The same function consumes
//! that queue (an SQS event source, one record per invocation), so each connection's job runs in an
//! invocation of its own ([`Runner::handle_jobs`]): a run's wall time does not grow with the number
//! of connections, and one slow store delays nobody else.
//!
//! Each job ([`Runner::run_job`]):
//! 1. reads the connection's profile (gone or parked: audited `skipped`, nothing done);
//! 2. takes the connection's lease on the job (`JobLeases::take`, one conditional write), so two
//!    overlapping runs never do one connection's work twice: refused while another invocation holds
//!    it, or once a job that started after this one was requested has finished (audited
//!    `duplicate`);
//! 3. runs [`Job::run`] within the invocation's deadline less [`Settings::deadline_reserve`]; a job
//!    that cannot finish in time is stopped, audited `retried` ("handed back"), and left to the next
//!    run;
//! 4. audits the result on `{connection}#run#{job}` (every job, whatever it found) and frees the
//!    lease (marking the run done when the job finished).
//!
//! A job that fails goes back to the queue (a batch item failure), so SQS delivers it again after
//! the queue's visibility timeout: the platform's retry. On its last receive
//! ([`Settings::max_receive_count`]) the failure is alerted once (per cause and alert window) and the
//! message acknowledged; the next scheduled run starts afresh. Only a message that cannot be read
//! at all reaches the dead-letter queue, whose alarm is the alert.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::job::{JobMessage, LeaseRefusal};
use domain::ports::{Alerter, AuditLog, ConnectionStore, JobLeases, JobQueue};
use domain::schedule::ScheduledRequest;
use domain::{
    Alert, AuditEvent, ConnectionId, ConnectionProfile, ErrorClass, Outcome, PortError, RecordKey, RecordKind, Stage,
};
use serde::Serialize;
use serde_json::{Value, json};

mod lambda;

pub use lambda::{handle, run_lambda};

/// One connection's share of a scheduled function's run.
#[async_trait]
pub trait Job: Send + Sync + 'static {
    /// The job's name: its job queue's `job`, its audit record `{connection}#run#{name}`, its lease
    /// and its alert cause. A stored form: never rename one without a migration.
    fn name(&self) -> &'static str;

    /// Does the job for one connection. Every outcome, failures included, is in the report; the
    /// runner audits it and decides on retries.
    async fn run(&self, profile: &ConnectionProfile, now: DateTime<Utc>) -> JobReport;
}

/// What one job did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobReport {
    /// One line for the audit trail: what was found and done.
    pub summary: String,
    /// The job's own report, kept as the audit event's detail.
    pub detail: Value,
    /// Why the job did not finish its work, if it did not: it is retried.
    pub failure: Option<JobFailure>,
}

impl JobReport {
    pub fn done(summary: impl Into<String>, detail: Value) -> JobReport {
        JobReport { summary: summary.into(), detail, failure: None }
    }

    pub fn failed(
        summary: impl Into<String>,
        detail: Value,
        class: ErrorClass,
        message: impl Into<String>,
    ) -> JobReport {
        JobReport { summary: summary.into(), detail, failure: Some(JobFailure { class, message: message.into() }) }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobFailure {
    pub class: ErrorClass,
    pub message: String,
}

/// The ports the runner uses; production builds them once per container (`runtime::Deps`).
#[derive(Clone)]
pub struct Ports {
    pub connections: Arc<dyn ConnectionStore>,
    pub leases: Arc<dyn JobLeases>,
    /// The function's job queue; only the fan-out sends to it (an operator's run here needs none).
    pub queue: Option<Arc<dyn JobQueue>>,
    pub audit: Arc<dyn AuditLog>,
    pub alerter: Arc<dyn Alerter>,
}

impl Ports {
    pub fn from_deps(deps: &runtime::Deps) -> Ports {
        Ports {
            connections: deps.connections.clone(),
            leases: deps.job_leases.clone(),
            queue: deps.job_queue.clone(),
            audit: deps.audit.clone(),
            alerter: deps.alerter.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// How long before the invocation's deadline a job still running is stopped: time to audit it,
    /// free its lease and answer.
    pub deadline_reserve: Duration,
    /// How long a job's lease outlasts its invocation's deadline, so a crashed invocation's lease
    /// runs out before the queue's visibility timeout brings its message back.
    pub lease_margin: Duration,
    /// The lease of a job run without a deadline (an operator's run from the CLI).
    pub lease_for: Duration,
    /// The job queue's `maxReceiveCount`: a job failing on this receive is alerted and acknowledged.
    /// `None`: never the last (every failure is retried until the queue's retention ends).
    pub max_receive_count: Option<u32>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            deadline_reserve: Duration::from_secs(2),
            lease_margin: Duration::from_secs(10),
            lease_for: Duration::from_secs(15 * 60),
            max_receive_count: None,
        }
    }
}

impl Settings {
    /// The defaults with the deployment's receive count (`JOB_MAX_RECEIVE_COUNT`).
    pub fn from_config(config: &runtime::Config) -> Settings {
        Settings { max_receive_count: config.job_max_receive_count, ..Settings::default() }
    }
}

/// What a fan-out queued.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FanOut {
    pub run: String,
    /// One job queued per connection.
    pub queued: Vec<ConnectionId>,
    /// Left out: parked connections.
    pub parked: Vec<ConnectionId>,
    /// Named by the event but not configured.
    pub unknown: Vec<ConnectionId>,
}

/// How one job ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "ended", rename_all = "kebab-case")]
pub enum JobRun {
    /// The job ran to its end and did its work.
    Done { connection: ConnectionId, report: JobReport },
    /// The job ran and failed; `retry` when the queue should deliver it again.
    Failed { connection: ConnectionId, report: JobReport, retry: bool },
    /// Not run: the lease was refused (`busy_until`: held by another invocation until then), or
    /// the connection is gone or parked.
    Skipped { connection: ConnectionId, reason: String, busy_until: Option<DateTime<Utc>> },
    /// Stopped at the invocation's deadline; the next run carries on.
    HandedBack { connection: ConnectionId },
    /// The message could not be run at all (unreadable, or another job's); it is retried and ends
    /// in the dead-letter queue.
    Refused { reason: String },
}

impl JobRun {
    /// Whether the message should go back to the queue.
    pub fn is_retry(&self) -> bool {
        matches!(self, JobRun::Failed { retry: true, .. } | JobRun::Refused { .. })
    }
}

/// How long an operator's run waits for a scheduled job of the same connection to finish.
pub const OPERATOR_WAIT: Duration = Duration::from_secs(30);

/// The runner of one scheduled job. Cheap to clone (the job and the ports are shared).
pub struct Runner<J> {
    job: Arc<J>,
    ports: Ports,
    settings: Settings,
}

impl<J> Clone for Runner<J> {
    fn clone(&self) -> Self {
        Runner { job: self.job.clone(), ports: self.ports.clone(), settings: self.settings.clone() }
    }
}

impl<J: Job> Runner<J> {
    pub fn new(job: J, ports: Ports, settings: Settings) -> Runner<J> {
        Runner { job: Arc::new(job), ports, settings }
    }

    pub fn job(&self) -> &J {
        &self.job
    }

    /// The scheduled invocation: one job per connection (those `request` names, or all), parked
    /// connections left out, on the job queue. Fails when the connections cannot be listed or the
    /// queue refuses, so the schedule's own retry covers it; a retried fan-out queues every job
    /// again, and the leases refuse what was done already.
    pub async fn fan_out(
        &self,
        request: &ScheduledRequest,
        run: &str,
        now: DateTime<Utc>,
    ) -> Result<FanOut, PortError> {
        let queue = self.ports.queue.as_ref().ok_or_else(|| {
            PortError::invalid(
                format!("fanning out {}", self.job.name()),
                "the function has no job queue (JOB_QUEUE_URL)",
            )
        })?;
        let mut fan_out = FanOut { run: run.to_owned(), ..FanOut::default() };
        let profiles = self.ports.connections.list().await?;
        for profile in &profiles {
            if !request.connections.is_empty() && !request.connections.contains(&profile.id) {
                continue;
            }
            if profile.is_parked() {
                fan_out.parked.push(profile.id.clone());
            } else {
                fan_out.queued.push(profile.id.clone());
            }
        }
        fan_out.unknown =
            request.connections.iter().filter(|id| !profiles.iter().any(|p| &p.id == *id)).cloned().collect();
        let messages: Vec<JobMessage> = fan_out
            .queued
            .iter()
            .map(|connection| JobMessage {
                connection: connection.clone(),
                job: self.job.name().to_owned(),
                run: run.to_owned(),
                requested_at: now,
            })
            .collect();
        queue.send(&messages).await?;
        tracing::info!(
            job = self.job.name(),
            run,
            queued = fan_out.queued.len(),
            parked = fan_out.parked.len(),
            unknown = ?fan_out.unknown,
            "scheduled run fanned out"
        );
        Ok(fan_out)
    }

    /// An operator's run (the CLI): the job for each connection in `only` (all when empty), here
    /// and one after another, each under its lease and audited like a scheduled one. A connection
    /// whose lease a scheduled job holds is tried again every half second until that job is done,
    /// for up to [`OPERATOR_WAIT`].
    pub async fn run_here(
        &self,
        only: &[ConnectionId],
        holder: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<JobRun>, PortError> {
        let mut runs = Vec::new();
        for profile in self.ports.connections.list().await? {
            if !profile.is_parked() && (only.is_empty() || only.contains(&profile.id)) {
                let message = JobMessage {
                    connection: profile.id.clone(),
                    job: self.job.name().to_owned(),
                    run: holder.to_owned(),
                    requested_at: now,
                };
                let given_up = tokio::time::Instant::now() + OPERATOR_WAIT;
                let mut run = self.run_job(&message, 1, holder, None, now).await;
                while matches!(run, JobRun::Skipped { busy_until: Some(_), .. })
                    && tokio::time::Instant::now() < given_up
                {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    run = self.run_job(&message, 1, holder, None, Utc::now()).await;
                }
                runs.push(run);
            }
        }
        Ok(runs)
    }

    /// One job from its message, as described in the crate documentation. `attempt` is the
    /// message's receive count; `holder` names the invocation (its lease holder); `now` is when the
    /// job starts (the clock, in production).
    #[tracing::instrument(name = "job", skip_all, fields(job = self.job.name(), connection = %message.connection, attempt))]
    pub async fn run_job(
        &self,
        message: &JobMessage,
        attempt: u32,
        holder: &str,
        deadline: Option<tokio::time::Instant>,
        now: DateTime<Utc>,
    ) -> JobRun {
        let name = self.job.name();
        let connection = &message.connection;
        if message.job != name {
            return JobRun::Refused { reason: format!("a {} job reached the {name} function's queue", message.job) };
        }
        let started = now;
        let key = RecordKey::new(connection.clone(), RecordKind::Run, name);
        let base =
            json!({"run": message.run, "requested_at": message.requested_at, "attempt": attempt, "holder": holder});
        let profile = match self.ports.connections.get(connection).await {
            Ok(Some(profile)) if !profile.is_parked() => profile,
            Ok(found) => {
                let reason =
                    if found.is_some() { "the connection is parked" } else { "the connection is not configured" };
                self.record(
                    AuditEvent::new(key, started, Stage::Checked, Outcome::Skipped, name)
                        .with_message(reason)
                        .with_attempt(attempt)
                        .with_detail(base),
                )
                .await;
                return JobRun::Skipped { connection: connection.clone(), reason: reason.to_owned(), busy_until: None };
            }
            Err(error) => return self.failed_early(message, attempt, error, started).await,
        };

        // The lease lasts the invocation (its deadline and a margin), or `lease_for` without one.
        let left = deadline.map(|deadline| deadline.saturating_duration_since(tokio::time::Instant::now()));
        let lease = left.map_or(self.settings.lease_for, |left| left + self.settings.lease_margin);
        let until = started + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(15));
        match self.ports.leases.take(connection, name, holder, message.requested_at, started, until).await {
            Ok(Ok(())) => {}
            Ok(Err(refusal)) => {
                let (outcome, busy_until) = match refusal {
                    LeaseRefusal::Covered { .. } => (Outcome::Duplicate, None),
                    LeaseRefusal::Held { until, .. } => (Outcome::Skipped, Some(until)),
                };
                let reason = format!("not run: {refusal}");
                self.record(
                    AuditEvent::new(key, started, Stage::Checked, outcome, name)
                        .with_message(&reason)
                        .with_attempt(attempt)
                        .with_detail(base),
                )
                .await;
                return JobRun::Skipped { connection: connection.clone(), reason, busy_until };
            }
            Err(error) => return self.failed_early(message, attempt, error, started).await,
        }

        let elapsed = std::time::Instant::now();
        let cutoff = deadline.map(|deadline| deadline.checked_sub(self.settings.deadline_reserve).unwrap_or(deadline));
        let work = self.job.run(&profile, started);
        let report = match cutoff {
            Some(cutoff) => tokio::time::timeout_at(cutoff, work).await.ok(),
            None => Some(work.await),
        };
        // The job's time plus the time it took, so a test's clock stays a test's clock.
        let ended = started + chrono::Duration::from_std(elapsed.elapsed()).unwrap_or_default();
        let mut detail = base;
        detail["duration_ms"] = json!((ended - started).num_milliseconds());
        let Some(report) = report else {
            self.release(connection, holder).await;
            let reason = "handed back before the invocation's deadline; the next run carries on";
            self.record(
                AuditEvent::new(key, ended, Stage::Checked, Outcome::Retried, name)
                    .with_error(ErrorClass::Transient, reason)
                    .with_attempt(attempt)
                    .with_detail(detail),
            )
            .await;
            return JobRun::HandedBack { connection: connection.clone() };
        };
        detail["report"] = report.detail.clone();
        match &report.failure {
            None => {
                if let Err(error) = self.ports.leases.finish(connection, name, holder, started).await {
                    // The work is done; a later run may do it again, which a job tolerates.
                    tracing::warn!(error.message = %error, "the job's lease was not marked done");
                }
                self.record(
                    AuditEvent::new(key, ended, Stage::Checked, Outcome::Ok, name)
                        .with_message(&report.summary)
                        .with_attempt(attempt)
                        .with_detail(detail),
                )
                .await;
                JobRun::Done { connection: connection.clone(), report }
            }
            Some(failure) => {
                self.release(connection, holder).await;
                let last = self.is_last(attempt);
                let outcome = if last { Outcome::Failed } else { Outcome::Retried };
                self.record(
                    AuditEvent::new(key.clone(), ended, Stage::Checked, outcome, name)
                        .with_message(&report.summary)
                        .with_error(failure.class, &failure.message)
                        .with_attempt(attempt)
                        .with_detail(detail),
                )
                .await;
                if last {
                    self.alert(&profile, failure, attempt, key).await;
                }
                JobRun::Failed { connection: connection.clone(), report, retry: !last }
            }
        }
    }

    fn is_last(&self, attempt: u32) -> bool {
        self.settings.max_receive_count.is_some_and(|max| attempt >= max)
    }

    /// The state table failed before the job could start: retried like any failure.
    async fn failed_early(&self, message: &JobMessage, attempt: u32, error: PortError, at: DateTime<Utc>) -> JobRun {
        let name = self.job.name();
        let report = JobReport::failed(format!("not started: {error}"), Value::Null, error.class(), error.to_string());
        let key = RecordKey::new(message.connection.clone(), RecordKind::Run, name);
        let last = self.is_last(attempt);
        self.record(
            AuditEvent::new(key, at, Stage::Checked, if last { Outcome::Failed } else { Outcome::Retried }, name)
                .with_error(error.class(), error.to_string())
                .with_attempt(attempt),
        )
        .await;
        JobRun::Failed { connection: message.connection.clone(), report, retry: !last }
    }

    async fn release(&self, connection: &ConnectionId, holder: &str) {
        if let Err(error) = self.ports.leases.release(connection, self.job.name(), holder).await {
            // It runs out by itself at the end of the invocation's deadline and margin.
            tracing::warn!(error.message = %error, "the job's lease was not released");
        }
    }

    async fn alert(&self, profile: &ConnectionProfile, failure: &JobFailure, attempt: u32, key: RecordKey) {
        let name = self.job.name();
        let display = profile.display_name.clone().unwrap_or_else(|| profile.id.to_string());
        let alert = Alert {
            connection: profile.id.clone(),
            cause: format!("job-failed:{name}"),
            subject: format!("[{display}] the {name} job failed {attempt} time(s) in a row"),
            body: format!(
                "The {name} job of connection {} failed on each of its {attempt} tries; the last error \
                 ({}): {}.\n\nNothing more is tried until the next scheduled run, which starts afresh. \
                 Its history: millwright trace {key}. This alert is sent once per alert window.",
                profile.id,
                failure.class.as_str(),
                failure.message
            ),
            record: Some(key),
        };
        if let Err(error) = self.ports.alerter.alert(&alert).await {
            tracing::warn!(error.message = %error, "the job's alert was not sent");
        }
    }

    async fn record(&self, event: AuditEvent) {
        if let Err(error) = self.ports.audit.append(&event).await {
            tracing::warn!(error.message = %error, "the job's audit event was not stored");
        }
    }
}

#[cfg(test)]
mod tests;
