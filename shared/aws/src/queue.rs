//! [`SqsQueue`]: the order queue (SQS FIFO).
//!
//! Each message's group is its order (`acme#1042`), so one order's messages are handled in order
//! while different orders go in parallel, and its de-duplication id is the order plus the delivery,
//! so SQS drops a redelivered webhook inside its five-minute de-duplication interval.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_sqs::Client;
use domain::ports::Queue;
use domain::{OrderMessage, PortError};

use crate::error::from_sdk;

/// [`Queue`] over the SQS FIFO order queue.
pub struct SqsQueue {
    client: Client,
    queue_url: String,
}

impl SqsQueue {
    pub fn new(sdk: &SdkConfig, queue_url: impl Into<String>) -> Self {
        Self { client: Client::new(sdk), queue_url: queue_url.into() }
    }
}

#[async_trait]
impl Queue for SqsQueue {
    async fn enqueue(&self, message: &OrderMessage) -> Result<String, PortError> {
        let context = format!("queueing order {}", message.order);
        let body = serde_json::to_string(message)
            .map_err(|err| PortError::invalid(context.clone(), format!("cannot serialise the message: {err}")))?;
        let output = self
            .client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .message_group_id(message.group_id())
            .message_deduplication_id(message.dedupe_id())
            .send()
            .await
            .map_err(|err| from_sdk(context.clone(), err))?;
        output.message_id.ok_or_else(|| PortError::invalid(context, "SQS accepted the message but returned no id"))
    }
}
