//! [`Timer`]: an EventBridge schedule rule, in process (moto never fires schedules).
//!
//! Every `every`, a timer builds the `Scheduled Event` EventBridge would send and hands it to the
//! scheduled function's handler, the one its Lambda `main` runs (`jobs::Runner::handle_scheduled`,
//! which fans the run out onto the function's job queue; a [`crate::JobPoller`] then runs each job),
//! so the local world runs the order sweep and the webhook health check as a deployment does. The
//! next tick is counted from the end of the last fan-out; the jobs' leases, not the timer, keep two
//! runs of one connection's job apart.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use domain::ConnectionId;
use serde_json::{Value, json};

use crate::{PollerOptions, Shutdown};

/// When a scheduled function runs, over which connections, and where its jobs go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// The pause between the end of one fan-out and the start of the next (the first run comes
    /// one pause after the start).
    pub every: Duration,
    /// Only these connections (the event's `detail.connections`); every connection when empty.
    pub connections: Vec<ConnectionId>,
    /// The function's job queue: the fan-out sends each connection's job there, and the runtime
    /// polls it as the function's SQS event source.
    pub job_queue_url: String,
    /// How the job queue is polled (one job per invocation, how many at once, the timeout).
    pub jobs: PollerOptions,
}

/// The template's `ScheduledJobConcurrency` default: jobs of one scheduled function at once.
pub const DEFAULT_JOB_CONCURRENCY: usize = 20;

impl Schedule {
    /// Every connection every `every`, its jobs on `job_queue_url`, polled as the template's event
    /// source polls it ([`DEFAULT_JOB_CONCURRENCY`] jobs at once, each within `function_timeout`).
    pub fn new(every: Duration, job_queue_url: impl Into<String>, function_timeout: Duration) -> Schedule {
        Schedule {
            every,
            connections: Vec::new(),
            job_queue_url: job_queue_url.into(),
            jobs: PollerOptions::for_jobs(function_timeout, DEFAULT_JOB_CONCURRENCY),
        }
    }

    /// This schedule over `connections` only.
    pub fn only(mut self, connections: Vec<ConnectionId>) -> Schedule {
        self.connections = connections;
        self
    }
}

/// What a timer's runs did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimerStats {
    /// Scheduled invocations (fan-outs).
    pub runs: u64,
    /// Scheduled invocations that failed (the function returned an error).
    pub failures: u64,
}

/// What a Lambda handler returns.
type Invocation = Pin<Box<dyn Future<Output = Result<Value, Box<dyn std::error::Error + Send + Sync>>> + Send>>;

/// A scheduled function's handler, as the Lambda runtime would call it.
pub type ScheduledHandler = Arc<dyn Fn(EventBridgeEvent<Value>) -> Invocation + Send + Sync>;

/// Calls one scheduled function on its schedule until shutdown.
pub struct Timer {
    /// The function, in logs.
    name: &'static str,
    schedule: Schedule,
    handler: ScheduledHandler,
}

impl Timer {
    pub fn new(name: &'static str, schedule: Schedule, handler: ScheduledHandler) -> Timer {
        Timer { name, schedule, handler }
    }

    pub async fn run(self, mut shutdown: Shutdown) -> TimerStats {
        let mut stats = TimerStats::default();
        loop {
            tokio::select! {
                () = shutdown.requested() => return stats,
                () = tokio::time::sleep(self.schedule.every) => {}
            }
            stats.runs += 1;
            if let Err(error) = (self.handler)(scheduled_event(&self.schedule.connections)).await {
                stats.failures += 1;
                tracing::error!(function = self.name, error.message = %error, "the scheduled run failed; the next tick tries again");
            }
        }
    }
}

/// The event an EventBridge schedule rule sends, naming `connections` when there are any.
pub fn scheduled_event(connections: &[ConnectionId]) -> EventBridgeEvent<Value> {
    let mut event = EventBridgeEvent::<Value>::default();
    event.version = Some("0".to_owned());
    event.id = Some(uuid::Uuid::new_v4().to_string());
    event.detail_type = "Scheduled Event".to_owned();
    event.source = "aws.events".to_owned();
    event.time = Some(chrono::Utc::now());
    event.detail = if connections.is_empty() { json!({}) } else { json!({ "connections": connections }) };
    event
}
