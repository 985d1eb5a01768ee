//! The committed sample event `events/order-worker/order-batch.json`: `make invoke` sends the same
//! file, so it must stay an SQS event Lambda could deliver and the worker must still handle it.

use aws_lambda_events::sqs::SqsEvent;

use super::*;

const ORDER_BATCH: &str = include_str!("../../../../events/order-worker/order-batch.json");

fn demo() -> ConnectionId {
    ConnectionId::new("demo").unwrap()
}

fn sample() -> SqsEvent {
    serde_json::from_str(ORDER_BATCH).expect("the sample is a Lambda SQS event")
}

#[test]
fn the_sample_batch_is_an_sqs_event_of_order_messages_for_the_demo_connection() {
    let event = sample();

    assert_eq!(event.records.len(), 2);
    for record in &event.records {
        let body = record.body.as_deref().expect("a body");
        let message: OrderMessage = serde_json::from_str(body).expect("the body is an order message");
        assert_eq!(message.order.connection, demo());
        assert_eq!(record.event_source.as_deref(), Some("aws:sqs"));
        assert!(record.event_source_arn.as_deref().is_some_and(|arn| arn.ends_with(".fifo")), "a FIFO queue");
        // The attributes are what `SqsQueue::enqueue` sends for this message.
        assert_eq!(record.attributes.get("MessageGroupId"), Some(&message.group_id()));
        assert_eq!(record.attributes.get("MessageDeduplicationId"), Some(&message.dedupe_id()));
        assert_eq!(record.attributes.get("ApproximateReceiveCount").map(String::as_str), Some("1"));
    }
}

#[tokio::test(start_paused = true)]
async fn the_sample_batch_makes_one_plex_order_per_record_and_reports_no_failures() {
    // GIVEN the demo connection with both sample orders in the store and their customer and parts in Plex
    let web = Arc::new(FakeWebOrders::default());
    let plex = Arc::new(FakePlexSales::default());
    plex.add_customer(domain::ports::fakes::acme_customer());
    plex.add_part("p-100", BOLT);
    plex.add_part("p-101", NUT);
    web.put(web_order(100, &[(BOLT, 100, "0.45")]));
    web.put(web_order(101, &[(NUT, 250, "0.12")]));
    let connections = Arc::new(InMemoryConnectionStore::default());
    connections.put(&ConnectionProfile { id: demo(), ..profile(OrderSettings::default()) }).await.unwrap();
    let ports = Ports {
        ledger: Arc::new(InMemoryOrderLedger::default()),
        audit: Arc::new(InMemoryAuditLog::default()),
        alerter: Arc::new(RecordingAlerter::new(Duration::hours(1))),
        id_map: Arc::new(InMemoryIdMap::default()),
        holds: Arc::new(InMemoryHoldStore::default()),
        connections,
        apis: Arc::new(FakeConnectionApis::default().with(demo(), web, plex.clone())),
        queue: Arc::new(RecordingQueue::default()),
        open_orders: Arc::new(domain::ports::memory::InMemoryOpenOrders::default()),
    };
    let worker = Worker::new(ports, Settings::default());

    // WHEN the sample batch is handled
    let response = worker.for_invocation("req-sample").handle_batch(sample(), t0()).await;

    // THEN nothing goes back to the queue and each order is one Plex sales order
    assert!(response.batch_item_failures.is_empty(), "{:?}", response.batch_item_failures);
    let mut po_numbers: Vec<String> = plex.orders().into_iter().map(|order| order.po_number).collect();
    po_numbers.sort();
    assert_eq!(po_numbers, vec!["BC-100", "BC-101"]);
}
