//! Scheduled jobs: one connection's share of a scheduled function's run.
//!
//! A schedule (EventBridge in AWS, a timer in the local runtime) invokes a scheduled function, which
//! fans the run out: one [`JobMessage`] per connection on the function's own job queue, each then
//! run in an invocation of its own (the `jobs` crate). Before a job does any work it takes its
//! connection's lease for that job (a [`JobLeases`](crate::ports::JobLeases) conditional write), so
//! two overlapping runs never do one connection's work twice:
//! - while another invocation holds the lease, the job is refused as [`LeaseRefusal::Held`];
//! - once a job that *started after this one was requested* has finished, this one's work is done
//!   already and it is refused as [`LeaseRefusal::Covered`] (a late duplicate of a run, a tick that
//!   waited in the queue behind a slower one).
//!
//! The rule is [`JobLeaseState::refusal`]; the in-memory fake and the DynamoDB condition both follow it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::ConnectionId;

/// What travels on a scheduled function's job queue: which connection, which job, and when the run
/// that fanned it out asked for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMessage {
    pub connection: ConnectionId,
    /// The job's name (`order-sweep`, `webhook-health`): the function the queue belongs to, so a
    /// message sent to the wrong queue is refused instead of run as another job.
    pub job: String,
    /// The run that fanned it out (the scheduled event's id), in audit events.
    pub run: String,
    /// When the run asked for it; a job that started later than this and finished covers it.
    pub requested_at: DateTime<Utc>,
}

/// A connection's lease on one job, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobLeaseState {
    /// The invocation holding the lease, while `held_until` is in the future.
    pub holder: Option<String>,
    pub held_until: Option<DateTime<Utc>>,
    /// When the latest job that finished had started: every run requested up to then is done.
    pub covered_through: Option<DateTime<Utc>>,
}

/// Why a job may not run now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseRefusal {
    /// Another invocation is running this job for this connection.
    Held { holder: String, until: DateTime<Utc> },
    /// A job that started at `through`, after this one was requested, has finished it.
    Covered { through: DateTime<Utc> },
}

impl JobLeaseState {
    /// Why a job requested at `requested_at` may not take this lease at `now`, if it may not. A
    /// lease whose `held_until` has passed is free (its holder crashed or was stopped).
    pub fn refusal(&self, requested_at: DateTime<Utc>, now: DateTime<Utc>) -> Option<LeaseRefusal> {
        if let Some(until) = self.held_until.filter(|until| *until > now) {
            return Some(LeaseRefusal::Held { holder: self.holder.clone().unwrap_or_default(), until });
        }
        self.covered_through.filter(|through| *through >= requested_at).map(|through| LeaseRefusal::Covered { through })
    }
}

impl std::fmt::Display for LeaseRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LeaseRefusal::Held { holder, until } => {
                write!(f, "another invocation ({holder}) holds the lease until {}", until.to_rfc3339())
            }
            LeaseRefusal::Covered { through } => {
                write!(f, "a run that started at {} after this one was asked for has done it", through.to_rfc3339())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn a_lease_never_taken_is_free() {
        assert_eq!(JobLeaseState::default().refusal(at(0), at(1)), None);
    }

    #[test]
    fn a_live_lease_refuses_until_it_runs_out() {
        let state = JobLeaseState { holder: Some("req-1".into()), held_until: Some(at(60)), covered_through: None };
        assert_eq!(state.refusal(at(0), at(59)), Some(LeaseRefusal::Held { holder: "req-1".into(), until: at(60) }));
        assert_eq!(state.refusal(at(0), at(60)), None);
    }

    #[test]
    fn a_finished_job_covers_the_runs_requested_before_it_started_and_no_later_one() {
        let state = JobLeaseState { holder: None, held_until: None, covered_through: Some(at(10)) };
        assert_eq!(state.refusal(at(9), at(20)), Some(LeaseRefusal::Covered { through: at(10) }));
        assert_eq!(state.refusal(at(10), at(20)), Some(LeaseRefusal::Covered { through: at(10) }));
        assert_eq!(state.refusal(at(11), at(20)), None);
    }

    #[test]
    fn a_job_message_keeps_its_stored_form() {
        let message = JobMessage {
            connection: ConnectionId::new("acme").unwrap(),
            job: "webhook-health".into(),
            run: "run-1".into(),
            requested_at: at(0),
        };
        let json = serde_json::to_value(&message).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"connection": "acme", "job": "webhook-health", "run": "run-1",
                "requested_at": "2026-09-21T14:13:20Z"})
        );
        assert_eq!(serde_json::from_value::<JobMessage>(json).unwrap(), message);
    }
}
