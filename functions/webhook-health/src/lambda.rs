//! The Lambda wiring: an EventBridge schedule invokes the function; each invocation checks (and
//! repairs) every connection's hooks once, or those the event names.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use domain::schedule::ScheduledRequest;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};

use crate::HealthCheck;

/// Handles one scheduled event, as the Lambda function and the local runtime's timer both do: the
/// response lists each connection's hooks and repairs. Fails on a malformed `detail` and when the
/// connections cannot be listed; each connection's own trouble is in its report, audit trail and
/// alerts.
pub async fn handle_scheduled(
    check: &HealthCheck,
    event: EventBridgeEvent<Value>,
) -> Result<Value, lambda_runtime::Error> {
    let request = ScheduledRequest::from_detail(event.detail)?;
    let reports = check.run_for(&request.connections, chrono::Utc::now()).await?;
    Ok(json!({ "connections": reports }))
}

/// Runs the check as a Lambda function on EventBridge scheduled events.
pub async fn run_lambda(check: HealthCheck) -> Result<(), lambda_runtime::Error> {
    let check = &check;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<EventBridgeEvent<Value>>| async move {
        handle_scheduled(check, event.payload).await
    }))
    .await
}
