//! The Lambda wiring: an EventBridge schedule invokes the function; each invocation sweeps every
//! connection once.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};

use crate::Sweep;

/// Runs the sweep as a Lambda function on EventBridge scheduled events. The response lists each
/// connection's report; the invocation fails only when the connections cannot be listed, so
/// EventBridge's retry covers an outage of the state table and nothing else.
pub async fn run_lambda(sweep: Sweep) -> Result<(), lambda_runtime::Error> {
    let sweep = &sweep;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<EventBridgeEvent<Value>>| async move {
        let now = event.payload.time.unwrap_or_else(chrono::Utc::now);
        let reports = sweep.run(now).await?;
        Ok::<_, lambda_runtime::Error>(json!({ "connections": reports }))
    }))
    .await
}
