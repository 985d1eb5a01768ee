//! The Lambda wiring of a scheduled function: one handler for both of its event sources.
//!
//! An EventBridge rule invokes it with a "Scheduled Event" (fan out); its job queue's SQS event
//! source invokes it with a batch of job records (run them). The payload's shape tells them apart:
//! only an SQS event has `Records`.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use domain::job::JobMessage;
use domain::schedule::ScheduledRequest;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

use crate::{Job, JobRun, Runner};

impl<J: Job> Runner<J> {
    /// The scheduled invocation (EventBridge's event, or the local timer's): fans the run out.
    /// Fails on a `detail` that is not a [`ScheduledRequest`] (naming what it must be) and when the
    /// fan-out fails, so the schedule's retry covers it.
    pub async fn handle_scheduled(&self, event: EventBridgeEvent<Value>) -> Result<Value, lambda_runtime::Error> {
        let request = ScheduledRequest::from_detail(event.detail)?;
        let run = event.id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        // The clock, not the event's `time`: a retried event is delivered late.
        let fan_out = self.fan_out(&request, &run, chrono::Utc::now()).await?;
        Ok(serde_json::to_value(fan_out)?)
    }

    /// One invocation of the job queue's event source: each record is one job, run concurrently
    /// (the template gives one record per invocation); the records to deliver again are named in
    /// the response (`ReportBatchItemFailures`). `request_id` is the invocation's, its lease holder.
    pub async fn handle_jobs(
        &self,
        event: SqsEvent,
        request_id: &str,
        deadline: Option<tokio::time::Instant>,
    ) -> SqsBatchResponse {
        let ids: Vec<String> = event.records.iter().filter_map(|record| record.message_id.clone()).collect();
        // Each job a task of its own, so one that panics fails only its record.
        let mut running = tokio::task::JoinSet::new();
        for record in event.records {
            let runner = self.clone();
            let request_id = request_id.to_owned();
            running.spawn(async move {
                let attempt = record
                    .attributes
                    .get("ApproximateReceiveCount")
                    .and_then(|count| count.parse::<u32>().ok())
                    .unwrap_or(1);
                let run = match serde_json::from_str::<JobMessage>(record.body.as_deref().unwrap_or_default()) {
                    Ok(message) => runner.run_job(&message, attempt, &request_id, deadline, chrono::Utc::now()).await,
                    Err(error) => JobRun::Refused { reason: format!("the job message is not a job: {error}") },
                };
                if let JobRun::Refused { reason } = &run {
                    tracing::error!(message_id = ?record.message_id, reason, "job message refused; it ends in the dead-letter queue");
                }
                (record.message_id.unwrap_or_default(), run.is_retry())
            });
        }
        let mut response = SqsBatchResponse::default();
        while let Some(joined) = running.join_next().await {
            match joined {
                Ok((message_id, true)) => response.add_failure(message_id),
                Ok((_, false)) => {}
                // Its message id went with the task: fail the whole batch, as Lambda would.
                Err(error) => {
                    tracing::error!(error.message = %error, "a job panicked; the batch goes back");
                    return failing_all(&ids);
                }
            }
        }
        response
    }
}

/// A response that hands every record of the batch back.
fn failing_all(ids: &[String]) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for id in ids {
        response.add_failure(id.clone());
    }
    response
}

/// Handles one invocation of a scheduled function, whichever source sent it: see the module
/// documentation. `deadline` is the invocation's (Lambda's context), which bounds every job.
pub async fn handle<J: Job>(
    runner: &Runner<J>,
    payload: Value,
    request_id: &str,
    deadline: Option<tokio::time::Instant>,
) -> Result<Value, lambda_runtime::Error> {
    if payload.get("Records").is_some() {
        let event: SqsEvent = serde_json::from_value(payload)?;
        Ok(serde_json::to_value(runner.handle_jobs(event, request_id, deadline).await)?)
    } else {
        let event: EventBridgeEvent<Value> = serde_json::from_value(payload).map_err(|error| {
            format!("the event is neither an SQS batch nor an EventBridge scheduled event: {error}")
        })?;
        runner.handle_scheduled(event).await
    }
}

/// Runs a scheduled function as a Lambda function on both of its event sources.
pub async fn run_lambda<J: Job>(runner: Runner<J>) -> Result<(), lambda_runtime::Error> {
    let runner = &runner;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // Lambda's deadline is wall-clock milliseconds since the epoch; the runner counts on the
        // monotonic clock from now.
        let left = u64::try_from(event.context.deadline as i64 - chrono::Utc::now().timestamp_millis()).unwrap_or(0);
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(left);
        handle(runner, event.payload, &event.context.request_id, Some(deadline)).await
    }))
    .await
}
