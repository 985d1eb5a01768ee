//! `Worker::handle_batch`: SQS events as Lambda delivers them (built from their JSON form).

use std::time::Duration as StdDuration;

use aws_lambda_events::sqs::SqsEvent;
use domain::ErrorClass;
use domain::ports::fakes::PlexCall;
use domain::ports::memory::RecordingQueue;
use domain::ports::{ApiError, Queue};
use serde_json::json;

use super::*;

/// One SQS record: message id, body, FIFO group and receive count.
fn record(id: &str, body: &str, group: &str, receive_count: u32) -> serde_json::Value {
    json!({
        "messageId": id,
        "receiptHandle": format!("handle-{id}"),
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": receive_count.to_string(),
            "MessageGroupId": group,
            "MessageDeduplicationId": id,
        },
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:millwright-orders.fifo",
        "awsRegion": "us-east-1",
    })
}

fn order_record(id: &str, message: &OrderMessage, receive_count: u32) -> serde_json::Value {
    record(id, &serde_json::to_string(message).unwrap(), &message.group_id(), receive_count)
}

fn event(records: Vec<serde_json::Value>) -> SqsEvent {
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

fn failures(response: &aws_lambda_events::sqs::SqsBatchResponse) -> Vec<&str> {
    response.batch_item_failures.iter().map(|failure| failure.item_identifier.as_str()).collect()
}

/// The deliveries of an order's `Fetched` events, in audit order: the order the worker processed them.
async fn fetched_deliveries(world: &World, order_id: u64) -> Vec<String> {
    world
        .events_with(order_id, Outcome::Ok)
        .await
        .iter()
        .filter(|event| event.stage == Stage::Fetched)
        .map(|event| event.detail.as_ref().unwrap()["delivery"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn records_of_one_order_run_in_delivery_order_and_a_retried_one_holds_back_the_rest_of_its_group() {
    // GIVEN order 1 is leased by a crashed invocation, and order 2 is placed
    let world = World::new().await;
    world.web.put(web_order(1, &[(BOLT, 1, "0.45")]));
    world.web.put(web_order(2, &[(BOLT, 1, "0.45")]));
    world.ledger.acquire(&OrderRef::new(acme(), 1), "req-crashed", t0(), Duration::minutes(2)).await.unwrap();
    // Every record is an operator's replay, which is read whenever it arrived (a webhook that
    // arrived before an earlier record's read would be a repeat, not read again).
    let now = t0() + Duration::seconds(5);
    let message = |order_id, scope, delivery| OrderMessage {
        received_at: now,
        source: MessageSource::Replay,
        ..message(order_id, scope, delivery)
    };
    let batch = event(vec![
        order_record("a1", &message(1, "created", "a1"), 1),
        order_record("b1", &message(2, "created", "b1"), 3),
        order_record("a2", &message(1, "updated", "a2"), 1),
        order_record("b2", &message(2, "updated", "b2"), 1),
        order_record("a3", &message(1, "updated", "a3"), 1),
        order_record("b3", &message(2, "updated", "b3"), 1),
    ]);

    // WHEN the batch is handled
    let response = world.worker.for_invocation("req-1").handle_batch(batch, now).await;

    // THEN order 1's first record is retried and its later records go back unprocessed, in order
    assert_eq!(failures(&response), vec!["a1", "a2", "a3"]);
    assert_eq!(world.trail(1).await, vec![(Stage::Received, Outcome::Retried)]);
    // AND order 2's records were processed one after another, in delivery order
    assert_eq!(fetched_deliveries(&world, 2).await, vec!["b1", "b2", "b3"]);
    let outcomes: Vec<Outcome> = world
        .history(2)
        .await
        .iter()
        .filter(|event| event.stage != Stage::Fetched || event.outcome != Outcome::Ok)
        .filter(|event| event.stage != Stage::Mapped)
        .map(|event| event.outcome)
        .collect();
    assert_eq!(outcomes, vec![Outcome::Ok, Outcome::Duplicate, Outcome::Duplicate]);
    // AND the receive count is the attempt number
    assert_eq!(world.history(2).await[0].attempt, 3);
    assert_eq!(world.plex.orders().len(), 1);
}

#[tokio::test]
async fn groups_run_concurrently_without_losing_any_record() {
    let world = World::new().await;
    let mut records = Vec::new();
    for order_id in 1..=9 {
        world.web.put(web_order(order_id, &[(BOLT, 1, "0.45")]));
        records.push(order_record(&format!("m{order_id}"), &created(order_id), 1));
    }

    let response = world.worker.for_invocation("req-1").handle_batch(event(records), t0()).await;

    assert!(failures(&response).is_empty(), "{response:?}");
    let mut numbers: Vec<String> = world.plex.orders().into_iter().map(|order| order.po_number).collect();
    numbers.sort();
    assert_eq!(numbers, (1..=9).map(|id| format!("BC-{id}")).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_malformed_body_is_a_batch_item_failure_audited_under_the_webhook_record() {
    // GIVEN a body with a connection but no valid order, one that is not JSON, and a good record
    let world = World::new().await;
    world.web.put(web_order(7, &[(BOLT, 1, "0.45")]));
    let batch = event(vec![
        record("m1", r#"{"order":{"connection":"acme","order_id":"seven"}}"#, "acme#7", 2),
        record("m2", "not json", "acme#8", 1),
        order_record("m3", &created(7), 1),
    ]);

    // WHEN the batch is handled
    let response = world.worker.for_invocation("req-1").handle_batch(batch, t0()).await;

    // THEN both malformed records fail (towards the DLQ); the good one in the same group is held back
    assert_eq!(failures(&response), vec!["m1", "m2", "m3"]);
    assert!(world.plex.orders().is_empty());
    // AND the one that names its connection is audited under its webhook record
    let key = RecordKey::new(acme(), domain::RecordKind::BcWebhook, "m1");
    let history = world.audit.history(&key).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!((history[0].stage, history[0].outcome, history[0].attempt), (Stage::Received, Outcome::Failed, 2));
    assert!(history[0].message.as_deref().unwrap().starts_with("malformed order message: "), "{history:?}");
    assert_eq!(world.audit.events().len(), 1, "nothing else was audited");
}

/// `world`'s worker with `queue` as its order queue.
fn worker_with_queue(world: &World, queue: Arc<dyn Queue>) -> Worker {
    Worker::new(Ports { queue, ..world.worker.ports.clone() }, Settings::default())
}

fn rate_limited(message: &str, wait: Option<StdDuration>) -> ApiError {
    ApiError { class: ErrorClass::RateLimited, message: message.into(), retry_after: wait }
}

#[tokio::test]
async fn a_rate_limited_record_comes_back_after_the_servers_wait_and_so_do_the_records_held_behind_it() {
    // GIVEN BigCommerce answers the first fetch with a 429 asking for 90 s, and order 1 has two
    // messages in the batch beside a malformed record of another group
    let world = World::new().await;
    world.web.put(web_order(1, &[(BOLT, 1, "0.45")]));
    world.web.fail_next(1, rate_limited("BigCommerce 429 on GET /v2/orders/1", Some(StdDuration::from_secs(90))));
    let queue = Arc::new(RecordingQueue::default());
    let worker = worker_with_queue(&world, queue.clone());
    let batch = event(vec![
        order_record("a1", &message(1, "created", "a1"), 1),
        order_record("a2", &message(1, "updated", "a2"), 1),
        record("m1", "not json", "acme#9", 1),
    ]);

    // WHEN the batch is handled
    let response = worker.for_invocation("req-1").handle_batch(batch, t0()).await;

    // THEN all three go back to the queue
    assert_eq!(failures(&response), vec!["a1", "a2", "m1"]);
    assert_eq!(world.trail(1).await, vec![(Stage::Fetched, Outcome::Retried)]);
    // AND order 1's records are visible again after the server's wait; the malformed one keeps the
    // queue's visibility timeout
    assert_eq!(
        queue.redeliveries(),
        vec![
            ("handle-a1".to_owned(), StdDuration::from_secs(90)),
            ("handle-a2".to_owned(), StdDuration::from_secs(90))
        ]
    );
}

#[test]
fn a_short_server_wait_is_stretched_to_a_floor_that_doubles_per_receive() {
    use crate::batch::redelivery_wait;
    let (short, floor) = (StdDuration::from_secs(2), crate::Settings::default().redelivery_floor);
    let waits: Vec<u64> = (1..=5).map(|attempt| redelivery_wait(short, attempt, floor).as_secs()).collect();
    assert_eq!(waits, vec![60, 120, 240, 480, 960]);
    // A server that asks for longer than the floor is obeyed.
    assert_eq!(redelivery_wait(StdDuration::from_secs(3_600), 2, floor), StdDuration::from_secs(3_600));
    // Absurd receive counts do not overflow.
    assert!(redelivery_wait(short, u32::MAX, floor) >= StdDuration::from_secs(60 * 65_536));
}

#[tokio::test]
async fn a_rate_limited_record_without_a_server_wait_stays_away_for_the_floor_and_others_keep_the_timeout() {
    // GIVEN a bare 429 (no wait) for order 1 on its first receive and for order 3 on its third, and
    // order 2 leased by a crashed invocation
    let world = World::new().await;
    for order_id in 1..=3 {
        world.web.put(web_order(order_id, &[(BOLT, 1, "0.45")]));
    }
    world.web.fail_next(2, rate_limited("BigCommerce 429 Too Many Requests (rate-limited)", None));
    world.ledger.acquire(&OrderRef::new(acme(), 2), "req-crashed", t0(), Duration::minutes(2)).await.unwrap();
    let queue = Arc::new(RecordingQueue::default());
    let one_group_at_a_time = Settings { group_concurrency: 1, ..Settings::default() };
    let worker = Worker::new(Ports { queue: queue.clone(), ..world.worker.ports.clone() }, one_group_at_a_time);
    let batch = event(vec![
        order_record("a1", &message(1, "created", "a1"), 1),
        order_record("b1", &message(2, "created", "b1"), 1),
        order_record("c1", &message(3, "created", "c1"), 3),
    ]);

    // WHEN the batch is handled (one group at a time, so the two 429s meet orders 1 and 3)
    let response = worker.for_invocation("req-1").handle_batch(batch, t0() + Duration::seconds(5)).await;

    // THEN all go back; the rate-limited ones stay away for the floor doubled per receive, and the
    // leased one (not a rate limit) comes back after the queue's visibility timeout
    assert_eq!(failures(&response), vec!["a1", "b1", "c1"]);
    let floor = Settings::default().redelivery_floor;
    assert_eq!(queue.redeliveries(), vec![("handle-a1".to_owned(), floor), ("handle-c1".to_owned(), floor * 4)]);
}

/// `world`'s worker with `queue`, on a queue that dead-letters after five receives.
fn dead_lettering_worker(world: &World, queue: Arc<dyn Queue>) -> Worker {
    let settings = Settings { max_receive_count: Some(5), group_concurrency: 1, ..Settings::default() };
    Worker::new(Ports { queue, ..world.worker.ports.clone() }, settings)
}

#[tokio::test]
async fn records_handed_back_on_their_last_receive_are_audited_dead_lettered_and_alerted_once() {
    // GIVEN orders 1 to 3 rate limited on their fifth (last) receive, order 1 with a second message
    // behind the first, and order 4 rate limited on its fourth
    let world = World::new().await;
    for order_id in 1..=4 {
        world.web.put(web_order(order_id, &[(BOLT, 1, "0.45")]));
    }
    world.web.fail_next(4, rate_limited("BigCommerce GET /v2/orders: 429 Too Many Requests (rate-limited)", None));
    let worker = dead_lettering_worker(&world, Arc::new(RecordingQueue::default()));
    let batch = event(vec![
        order_record("a1", &message(1, "created", "a1"), 5),
        order_record("a2", &message(1, "updated", "a2"), 5),
        order_record("b1", &message(2, "created", "b1"), 5),
        order_record("c1", &message(3, "created", "c1"), 5),
        order_record("d1", &message(4, "created", "d1"), 4),
    ]);

    // WHEN the batch is handled
    let response = worker.for_invocation("req-1").handle_batch(batch, t0()).await;

    // THEN every record goes back; those on their last receive are audited dead-lettered, the
    // held-back one too, with the reason
    assert_eq!(failures(&response), vec!["a1", "a2", "b1", "c1", "d1"]);
    let world = &world;
    let dead_lettered = |order_id| async move { world.events_with(order_id, Outcome::DeadLettered).await };
    let order_1 = dead_lettered(1).await;
    assert_eq!(order_1.len(), 2, "{order_1:#?}");
    assert_eq!(
        (order_1[0].stage, order_1[0].error_class, order_1[0].attempt),
        (Stage::Received, Some(ErrorClass::RateLimited), 5)
    );
    assert!(order_1[0].message.as_deref().unwrap().contains("429 Too Many Requests"), "{order_1:?}");
    assert!(order_1[1].message.as_deref().unwrap().contains("an earlier message of this order"), "{order_1:?}");
    assert_eq!((dead_lettered(2).await.len(), dead_lettered(3).await.len()), (1, 1));
    assert!(dead_lettered(4).await.is_empty(), "a receive is left");
    assert_eq!(order_1[1].error_class, Some(ErrorClass::RateLimited), "held back for the same reason");
    // AND one alert says how to replay them; the other records' trails point at it
    let alerts = world.alerter.sent();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].cause, "dead-lettered:rate-limited");
    assert!(alerts[0].subject.starts_with("[Acme] Orders dead-lettered"), "{}", alerts[0].subject);
    assert!(alerts[0].body.contains("millwright replay --dlq"), "{}", alerts[0].body);
    assert!(alerts[0].body.contains("millwright failures --connection acme --outcome dead-lettered"));
    assert_eq!(world.history(1).await.pop().unwrap().outcome, Outcome::Duplicate, "the held-back record, grouped");
    for order_id in [2, 3] {
        let grouped = world.history(order_id).await.pop().unwrap();
        assert_eq!((grouped.stage, grouped.outcome), (Stage::Alerted, Outcome::Duplicate), "{grouped:?}");
    }
}

#[tokio::test]
async fn a_failed_visibility_change_still_sends_the_record_and_its_group_back() {
    // GIVEN a Plex 429 with a wait for order 1, and a queue that cannot change visibility
    let world = World::new().await;
    world.web.put(web_order(1, &[(BOLT, 1, "0.45")]));
    let throttled = rate_limited("Plex 429 on POST sales orders", Some(StdDuration::from_millis(2_500)));
    world.plex.fail_next(PlexCall::Create, 1, throttled);
    let queue = Arc::new(RecordingQueue::default());
    queue.fail_redeliveries();
    let worker = worker_with_queue(&world, queue.clone());
    let batch = event(vec![
        order_record("a1", &message(1, "created", "a1"), 1),
        order_record("a2", &message(1, "updated", "a2"), 1),
    ]);

    // WHEN the batch is handled
    let response = worker.for_invocation("req-1").handle_batch(batch, t0()).await;

    // THEN the change was tried for both records and both still go back to the queue (after its
    // visibility timeout), so neither message is lost
    assert_eq!(failures(&response), vec!["a1", "a2"]);
    let tried: Vec<String> = queue.redeliveries().into_iter().map(|(handle, _)| handle).collect();
    assert_eq!(tried, vec!["handle-a1", "handle-a2"]);
    assert!(world.plex.orders().is_empty());
}
