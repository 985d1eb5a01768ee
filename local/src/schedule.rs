//! [`SweepTimer`]: the EventBridge schedule of the order sweep, in process (moto never fires
//! schedules).
//!
//! Every `every`, the timer builds the `Scheduled Event` EventBridge would send and hands it to
//! `order_sweep::handle_scheduled`, the function the Lambda `main` runs, so the local world sweeps
//! as a deployment does. Runs never overlap (the template caps the function's concurrency at one
//! for the same reason): the next tick is counted from the end of the last run.

use std::time::Duration;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use domain::ConnectionId;
use order_sweep::Sweep;
use serde_json::{Value, json};

use crate::Shutdown;

/// When the sweep runs and over which connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepSchedule {
    /// The pause between the end of one run and the start of the next (the first run comes one
    /// pause after the start).
    pub every: Duration,
    /// Only these connections (the event's `detail.connections`); every connection when empty.
    pub connections: Vec<ConnectionId>,
}

/// What the timer's runs did, summed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepStats {
    /// Invocations of the sweep.
    pub runs: u64,
    /// Held orders queued again.
    pub released: u64,
    /// Invocations that failed, and connections whose run stopped early.
    pub problems: u64,
}

/// Calls the order sweep on a schedule until shutdown.
pub struct SweepTimer {
    sweep: Sweep,
    schedule: SweepSchedule,
}

impl SweepTimer {
    pub fn new(sweep: Sweep, schedule: SweepSchedule) -> SweepTimer {
        SweepTimer { sweep, schedule }
    }

    pub async fn run(self, mut shutdown: Shutdown) -> SweepStats {
        let mut stats = SweepStats::default();
        loop {
            tokio::select! {
                () = shutdown.requested() => return stats,
                () = tokio::time::sleep(self.schedule.every) => {}
            }
            stats.runs += 1;
            match order_sweep::handle_scheduled(&self.sweep, self.event()).await {
                Ok(response) => {
                    for report in response["connections"].as_array().into_iter().flatten() {
                        stats.released += report["released"].as_array().map_or(0, |ids| ids.len() as u64);
                        stats.problems += u64::from(report["problems"].as_array().is_some_and(|p| !p.is_empty()));
                    }
                }
                Err(error) => {
                    stats.problems += 1;
                    tracing::error!(error.message = %error, "the order sweep failed; the next tick tries again");
                }
            }
        }
    }

    /// The event an EventBridge schedule rule sends, naming the connections when the schedule does.
    fn event(&self) -> EventBridgeEvent<Value> {
        let mut event = EventBridgeEvent::<Value>::default();
        event.version = Some("0".to_owned());
        event.id = Some(uuid::Uuid::new_v4().to_string());
        event.detail_type = "Scheduled Event".to_owned();
        event.source = "aws.events".to_owned();
        event.time = Some(chrono::Utc::now());
        event.detail = if self.schedule.connections.is_empty() {
            json!({})
        } else {
            json!({ "connections": self.schedule.connections })
        };
        event
    }
}
