//! `SqsQueue` against moto: FIFO de-duplication, group and de-duplication ids, redrive to the DLQ,
//! and a received message's visibility changed to a server-given wait.

use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use domain::message::MessageSource;
use domain::ports::Queue;
use domain::{OrderMessage, PortError};
use millwright_aws::SqsQueue;
use millwright_aws::provision::ProvisionOptions;

use crate::support::{Stack, acme, at};

fn message(order_id: u64, delivery: &str) -> OrderMessage {
    OrderMessage {
        order: domain::OrderRef::new(acme(), order_id),
        scope: "store/order/created".into(),
        delivery: delivery.into(),
        source: MessageSource::Webhook,
        received_at: at("2026-11-24T10:00:00Z"),
    }
}

/// Everything visible on `queue_url` right now (short wait), left on the queue.
async fn receive(stack: &Stack, queue_url: &str, wait_seconds: i32) -> Vec<Message> {
    stack
        .sqs()
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(wait_seconds)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default()
}

async fn delete(stack: &Stack, queue_url: &str, message: &Message) {
    stack
        .sqs()
        .delete_message()
        .queue_url(queue_url)
        .receipt_handle(message.receipt_handle().unwrap())
        .send()
        .await
        .unwrap();
}

fn decoded(message: &Message) -> OrderMessage {
    serde_json::from_str(message.body().unwrap()).unwrap()
}

#[tokio::test]
async fn a_message_carries_the_order_as_its_group_and_the_delivery_in_its_dedupe_id() {
    let stack = Stack::new().await;
    let queue = SqsQueue::new(&stack.sdk, &stack.provisioned.queue_url);
    let sent = message(1042, "hash-1");

    let id = queue.enqueue(&sent).await.unwrap();

    let received = receive(&stack, &stack.provisioned.queue_url, 1).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].message_id(), Some(id.as_str()));
    assert_eq!(decoded(&received[0]), sent);
    let attributes = received[0].attributes().unwrap();
    assert_eq!(attributes[&MessageSystemAttributeName::MessageGroupId], "acme#1042");
    assert_eq!(attributes[&MessageSystemAttributeName::MessageDeduplicationId], "acme#1042#hash-1");
}

#[tokio::test]
async fn the_same_delivery_queued_twice_is_received_once() {
    // GIVEN one webhook delivery enqueued twice (a sender retry)
    let stack = Stack::new().await;
    let queue = SqsQueue::new(&stack.sdk, &stack.provisioned.queue_url);
    let url = &stack.provisioned.queue_url;
    queue.enqueue(&message(1042, "hash-1")).await.unwrap();
    queue.enqueue(&message(1042, "hash-1")).await.unwrap();

    // WHEN the queue is drained
    let first = receive(&stack, url, 1).await;
    assert_eq!(first.len(), 1, "{first:?}");
    delete(&stack, url, &first[0]).await;
    let rest = receive(&stack, url, 1).await;

    // THEN there was one message, while a new delivery of the same order is a new message
    assert!(rest.is_empty(), "the duplicate was delivered: {rest:?}");
    queue.enqueue(&message(1042, "hash-2")).await.unwrap();
    let next = receive(&stack, url, 1).await;
    assert_eq!(next.len(), 1);
    assert_eq!(decoded(&next[0]).delivery, "hash-2");
}

#[tokio::test]
async fn a_message_received_more_than_max_receive_count_times_lands_in_the_dead_letter_queue() {
    // GIVEN a queue that allows two deliveries, one second apart
    let stack = Stack::with_options(ProvisionOptions {
        max_receive_count: 2,
        visibility_timeout_seconds: 1,
        ..ProvisionOptions::default()
    })
    .await;
    let queue = SqsQueue::new(&stack.sdk, &stack.provisioned.queue_url);
    let sent = message(7, "hash-7");
    queue.enqueue(&sent).await.unwrap();

    // WHEN a worker keeps receiving it and never deletes it (a failing handler)
    let deadline = Instant::now() + Duration::from_secs(8);
    let mut deliveries = 0;
    let dead = loop {
        deliveries += receive(&stack, &stack.provisioned.queue_url, 0).await.len();
        let dead = receive(&stack, &stack.provisioned.dlq_url, 0).await;
        if !dead.is_empty() {
            break dead;
        }
        assert!(Instant::now() < deadline, "not dead-lettered after {deliveries} deliveries");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // THEN after exactly two deliveries it sits in the DLQ, unchanged, and the queue is empty
    assert_eq!(deliveries, 2);
    assert_eq!(dead.len(), 1);
    assert_eq!(decoded(&dead[0]), sent);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(receive(&stack, &stack.provisioned.queue_url, 0).await.is_empty());
}

#[tokio::test]
async fn the_event_source_hands_over_lambda_records_and_deletes_only_what_was_handled() {
    // GIVEN two orders on a queue whose messages come back one second after a failed attempt
    let stack =
        Stack::with_options(ProvisionOptions { visibility_timeout_seconds: 1, ..ProvisionOptions::default() }).await;
    let queue = SqsQueue::new(&stack.sdk, &stack.provisioned.queue_url);
    queue.enqueue(&message(1, "d-1")).await.unwrap();
    queue.enqueue(&message(2, "d-2")).await.unwrap();
    let source = millwright_aws::SqsEventSource::new(&stack.sdk, &stack.provisioned.queue_url);

    // WHEN both are received and only order 1 is deleted (order 2 "failed")
    let records = source.receive(10, Duration::from_secs(1)).await.unwrap();
    assert_eq!(records.len(), 2);
    let first = records.iter().find(|r| r.body.as_deref().unwrap().contains("\"order_id\":1")).unwrap();
    assert_eq!(first.attributes.get("ApproximateReceiveCount").map(String::as_str), Some("1"));
    assert_eq!(first.attributes.get("MessageGroupId").map(String::as_str), Some("acme#1"));
    assert_eq!(first.event_source.as_deref(), Some("aws:sqs"));
    source.delete(&[first.receipt_handle.clone().unwrap()]).await.unwrap();

    // THEN only order 2 comes back, on its second delivery
    let deadline = Instant::now() + Duration::from_secs(5);
    let again = loop {
        let records = source.receive(10, Duration::from_secs(1)).await.unwrap();
        if !records.is_empty() || Instant::now() > deadline {
            break records;
        }
    };
    assert_eq!(again.len(), 1, "{again:?}");
    assert!(again[0].body.as_deref().unwrap().contains("\"order_id\":2"));
    assert_eq!(again[0].attributes.get("ApproximateReceiveCount").map(String::as_str), Some("2"));
}

/// Receives from `source` until something comes or `deadline` passes; what came and when.
async fn receive_by(
    source: &millwright_aws::SqsEventSource,
    deadline: Instant,
) -> (Vec<aws_lambda_events::sqs::SqsMessage>, Instant) {
    loop {
        let records = source.receive(10, Duration::from_secs(1)).await.unwrap();
        if !records.is_empty() || Instant::now() > deadline {
            return (records, Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_received_message_comes_back_after_the_wait_it_was_given_not_the_queues_visibility_timeout() {
    // GIVEN a message received through the event source from a queue with the template's 180 s
    // visibility timeout
    let stack = Stack::new().await;
    let queue = SqsQueue::new(&stack.sdk, &stack.provisioned.queue_url);
    queue.enqueue(&message(1042, "hash-1")).await.unwrap();
    let source = millwright_aws::SqsEventSource::new(&stack.sdk, &stack.provisioned.queue_url);
    let records = source.receive(10, Duration::from_secs(1)).await.unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    let handle = records[0].receipt_handle.clone().unwrap();

    // WHEN its visibility is changed to a 3 s wait (a server's Retry-After)
    queue.redeliver_after(&handle, Duration::from_secs(3)).await.unwrap();
    let changed = Instant::now();

    // THEN it is not receivable at once
    assert!(source.receive(10, Duration::ZERO).await.unwrap().is_empty(), "visible right after the change");
    // AND it is receivable again after the wait, on its second delivery, long before 180 s
    let (again, at) = receive_by(&source, changed + Duration::from_secs(15)).await;
    assert_eq!(again.len(), 1, "not receivable again within 15 s of a 3 s wait");
    assert_eq!(again[0].message_id, records[0].message_id);
    assert_eq!(again[0].attributes.get("ApproximateReceiveCount").map(String::as_str), Some("2"));
    assert!(at - changed >= Duration::from_secs(2), "came back after {:?}, before the wait", at - changed);
}

#[tokio::test]
async fn a_wait_longer_than_the_queues_visibility_timeout_keeps_the_message_away_longer() {
    // GIVEN a message received from a queue whose visibility timeout is 1 s
    let stack =
        Stack::with_options(ProvisionOptions { visibility_timeout_seconds: 1, ..ProvisionOptions::default() }).await;
    let queue = SqsQueue::new(&stack.sdk, &stack.provisioned.queue_url);
    queue.enqueue(&message(7, "hash-7")).await.unwrap();
    let source = millwright_aws::SqsEventSource::new(&stack.sdk, &stack.provisioned.queue_url);
    let records = source.receive(10, Duration::from_secs(1)).await.unwrap();
    assert_eq!(records.len(), 1, "{records:?}");

    // WHEN its visibility is changed to a 4 s wait
    queue.redeliver_after(records[0].receipt_handle.as_deref().unwrap(), Duration::from_secs(4)).await.unwrap();
    let changed = Instant::now();

    // THEN it is still away after the queue's own timeout has passed
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert!(source.receive(10, Duration::ZERO).await.unwrap().is_empty(), "back after the queue's 1 s timeout");
    // AND it comes back after the wait
    let (again, at) = receive_by(&source, changed + Duration::from_secs(15)).await;
    assert_eq!(again.len(), 1, "not receivable again within 15 s of a 4 s wait");
    assert!(at - changed >= Duration::from_secs(3), "came back after {:?}, before the wait", at - changed);
}

#[tokio::test]
async fn a_wait_past_twelve_hours_is_clamped_so_sqs_accepts_it() {
    // GIVEN a received message
    let stack = Stack::new().await;
    let queue = SqsQueue::new(&stack.sdk, &stack.provisioned.queue_url);
    queue.enqueue(&message(8, "hash-8")).await.unwrap();
    let source = millwright_aws::SqsEventSource::new(&stack.sdk, &stack.provisioned.queue_url);
    let records = source.receive(10, Duration::from_secs(1)).await.unwrap();
    assert_eq!(records.len(), 1, "{records:?}");

    // WHEN a server asks for a day (and for less than a second), THEN SQS takes both requests
    let handle = records[0].receipt_handle.as_deref().unwrap();
    queue.redeliver_after(handle, Duration::from_secs(24 * 60 * 60)).await.unwrap();
    queue.redeliver_after(handle, Duration::from_millis(10)).await.unwrap();
}

#[tokio::test]
async fn changing_the_visibility_of_a_deleted_message_is_an_invalid_request() {
    // GIVEN a message that was received and deleted
    let stack = Stack::new().await;
    let queue = SqsQueue::new(&stack.sdk, &stack.provisioned.queue_url);
    queue.enqueue(&message(9, "hash-9")).await.unwrap();
    let source = millwright_aws::SqsEventSource::new(&stack.sdk, &stack.provisioned.queue_url);
    let records = source.receive(10, Duration::from_secs(1)).await.unwrap();
    let handle = records[0].receipt_handle.clone().unwrap();
    source.delete(std::slice::from_ref(&handle)).await.unwrap();

    // WHEN its visibility is changed, THEN the caller hears of it (and keeps the queue's timeout)
    let error = queue.redeliver_after(&handle, Duration::from_secs(3)).await.unwrap_err();
    assert!(matches!(error, PortError::Invalid { .. }), "{error:?}");
}
