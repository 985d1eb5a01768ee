//! The Lambda wiring: an EventBridge schedule invokes the function; each invocation sweeps every
//! connection once (or those the event names).

use aws_lambda_events::eventbridge::EventBridgeEvent;
use domain::schedule::ScheduledRequest;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};

use crate::Sweep;

/// Handles one scheduled event, as the Lambda function and the local runtime's timer both do: the
/// response lists each connection's report. Fails on a `detail` that is not a
/// [`ScheduledRequest`] (naming the problem) and when the connections cannot be listed, so EventBridge's retry covers an
/// outage of the state table; each connection's own trouble is in its report and audit trail.
pub async fn handle_scheduled(sweep: &Sweep, event: EventBridgeEvent<Value>) -> Result<Value, lambda_runtime::Error> {
    let request = ScheduledRequest::from_detail(event.detail)?;
    // The clock, not the event's `time`: a retried event is delivered late, and leases are compared
    // with now.
    let reports = sweep.run_for(&request.connections, chrono::Utc::now()).await?;
    Ok(json!({ "connections": reports }))
}

/// Runs the sweep as a Lambda function on EventBridge scheduled events.
pub async fn run_lambda(sweep: Sweep) -> Result<(), lambda_runtime::Error> {
    let sweep = &sweep;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<EventBridgeEvent<Value>>| async move {
        handle_scheduled(sweep, event.payload).await
    }))
    .await
}
