//! [`SqsQueue`]: the order queue (SQS FIFO); [`SqsJobQueue`]: a scheduled function's job queue
//! (SQS standard); [`SqsEventSource`]: either, read as Lambda's event source reads it.
//!
//! Each message's group is its order (`acme#1042`), so one order's messages are handled in order
//! while different orders go in parallel, and its de-duplication id is the order plus the delivery,
//! so SQS drops a redelivered webhook inside its five-minute de-duplication interval.

use std::time::Duration;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_sqs::Client;
use domain::job::JobMessage;
use domain::ports::{JobQueue, Queue};
use domain::{OrderMessage, PortError};

use crate::error::from_sdk;

/// The shortest visibility [`SqsQueue::redeliver_after`] sets: a server-given wait never makes a
/// message visible at once.
const MIN_VISIBILITY: Duration = Duration::from_secs(1);

/// The longest visibility [`SqsQueue::redeliver_after`] sets. SQS caps a message's visibility at 12
/// hours counted from its receive and refuses a change past that; 15 minutes less (Lambda's longest
/// function timeout) fits for any message an invocation is still holding.
const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 60 * 60 - 15 * 60);

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

    /// `ChangeMessageVisibility` on this queue with the wait in whole seconds, rounded up and
    /// clamped (see [`visibility_seconds`]).
    async fn redeliver_after(&self, receipt_handle: &str, wait: Duration) -> Result<(), PortError> {
        let seconds = visibility_seconds(wait);
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(seconds)
            .send()
            .await
            .map_err(|err| from_sdk(format!("changing a received message's visibility to {seconds} s"), err))?;
        Ok(())
    }
}

/// [`JobQueue`] over a scheduled function's job queue (SQS standard: jobs need no order, and each
/// job's lease, not the queue, keeps two runs of one connection's job apart).
pub struct SqsJobQueue {
    client: Client,
    queue_url: String,
}

/// SQS's `SendMessageBatch` takes at most ten messages.
const SEND_BATCH: usize = 10;

impl SqsJobQueue {
    pub fn new(sdk: &SdkConfig, queue_url: impl Into<String>) -> Self {
        Self { client: Client::new(sdk), queue_url: queue_url.into() }
    }
}

#[async_trait]
impl JobQueue for SqsJobQueue {
    /// One `SendMessageBatch` per ten messages; an entry SQS refused fails the send, naming it.
    async fn send(&self, messages: &[JobMessage]) -> Result<(), PortError> {
        for chunk in messages.chunks(SEND_BATCH) {
            let context = format!("queueing {} job(s) of {}", chunk.len(), chunk[0].job);
            let mut request = self.client.send_message_batch().queue_url(&self.queue_url);
            for (index, message) in chunk.iter().enumerate() {
                let body = serde_json::to_string(message)
                    .map_err(|err| PortError::invalid(context.clone(), format!("cannot serialise a job: {err}")))?;
                let entry = aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(index.to_string())
                    .message_body(body)
                    .build()
                    .map_err(|err| crate::error::from_build(context.clone(), err))?;
                request = request.entries(entry);
            }
            let output = request.send().await.map_err(|err| from_sdk(context.clone(), err))?;
            if let Some(refused) = output.failed.first() {
                let connection = refused.id.parse::<usize>().ok().and_then(|index| chunk.get(index));
                let what =
                    connection.map_or_else(|| "a job".to_owned(), |job| format!("the job of {}", job.connection));
                let reason = format!(
                    "SQS refused {what} ({} of {}): {} {}",
                    output.failed.len(),
                    chunk.len(),
                    refused.code,
                    refused.message.as_deref().unwrap_or("")
                );
                return Err(if refused.sender_fault {
                    PortError::invalid(context, reason)
                } else {
                    PortError::unavailable(context, std::io::Error::other(reason))
                });
            }
        }
        Ok(())
    }
}

/// `wait` as an SQS visibility timeout: whole seconds, rounded up, between [`MIN_VISIBILITY`] and
/// [`MAX_VISIBILITY`].
fn visibility_seconds(wait: Duration) -> i32 {
    let clamped = wait.clamp(MIN_VISIBILITY, MAX_VISIBILITY);
    let seconds = clamped.as_secs() + u64::from(clamped.subsec_nanos() > 0);
    // At most MAX_VISIBILITY (42,300 s), so it always fits.
    i32::try_from(seconds).unwrap_or(i32::MAX)
}

/// Reads a queue (the order queue, a job queue) the way the Lambda SQS event source does, for the local runtime (which
/// has no Lambda service to poll for it): receive a batch, hand it over as the records of an
/// `SqsEvent`, then delete exactly the records the handler did not report as failed. Failed
/// records stay in the queue and come back after the visibility timeout; SQS's redrive policy
/// moves them to the dead-letter queue after `maxReceiveCount` deliveries, as in production.
pub struct SqsEventSource {
    client: Client,
    queue_url: String,
}

impl SqsEventSource {
    pub fn new(sdk: &SdkConfig, queue_url: impl Into<String>) -> Self {
        Self { client: Client::new(sdk), queue_url: queue_url.into() }
    }

    /// Up to `max` messages (1 to 10), waiting up to `wait` for the first (long polling), with
    /// the attributes Lambda puts on each record (`ApproximateReceiveCount`, `MessageGroupId`, ...).
    pub async fn receive(
        &self,
        max: i32,
        wait: std::time::Duration,
    ) -> Result<Vec<aws_lambda_events::sqs::SqsMessage>, PortError> {
        let context = "receiving from the queue";
        let output = self
            .client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(max.clamp(1, 10))
            .wait_time_seconds(i32::try_from(wait.as_secs()).unwrap_or(20).min(20))
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .map_err(|err| from_sdk(context, err))?;
        Ok(output
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|message| to_event_record(message, &self.queue_url))
            .collect())
    }

    /// Deletes handled records by their receipt handles.
    pub async fn delete(&self, receipt_handles: &[String]) -> Result<(), PortError> {
        for handle in receipt_handles {
            self.client
                .delete_message()
                .queue_url(&self.queue_url)
                .receipt_handle(handle)
                .send()
                .await
                .map_err(|err| from_sdk("deleting a handled message", err))?;
        }
        Ok(())
    }
}

/// An SQS message as a Lambda event record: body, ids and the system attributes by name.
fn to_event_record(message: aws_sdk_sqs::types::Message, queue_url: &str) -> aws_lambda_events::sqs::SqsMessage {
    let mut record = aws_lambda_events::sqs::SqsMessage::default();
    record.message_id = message.message_id;
    record.receipt_handle = message.receipt_handle;
    record.body = message.body;
    record.md5_of_body = message.md5_of_body;
    record.event_source = Some("aws:sqs".to_owned());
    record.event_source_arn = Some(queue_url.to_owned());
    record.attributes = message
        .attributes
        .unwrap_or_default()
        .into_iter()
        .map(|(name, value)| (name.as_str().to_owned(), value))
        .collect();
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_becomes_whole_seconds_rounded_up() {
        assert_eq!(visibility_seconds(Duration::from_secs(7)), 7);
        assert_eq!(visibility_seconds(Duration::from_millis(7_001)), 8);
        assert_eq!(visibility_seconds(Duration::from_millis(2_500)), 3);
    }

    #[test]
    fn a_wait_under_a_second_is_one_second() {
        assert_eq!(visibility_seconds(Duration::ZERO), 1);
        assert_eq!(visibility_seconds(Duration::from_millis(250)), 1);
    }

    #[test]
    fn a_wait_past_the_sqs_cap_is_lowered_to_fit_inside_twelve_hours_of_the_receive() {
        assert_eq!(visibility_seconds(Duration::from_secs(11 * 3600 + 45 * 60)), 42_300);
        assert_eq!(visibility_seconds(Duration::from_secs(12 * 3600)), 42_300);
        assert_eq!(visibility_seconds(Duration::from_secs(u64::MAX)), 42_300);
    }
}
