//! The orders flow end to end: the BigCommerce double places an order and sends its signed
//! callbacks to the local runtime's receiver, the order lands on a FIFO queue, the runtime's poller
//! hands it to the order worker as an `SqsEvent` batch, and the worker writes the Plex double.
//!
//! Every test has its own sandbox, connection, order queue and dead-letter queue, and its own local
//! runtime on them (`support::OrderFlow`), so faults, retries and redeliveries stay inside the test.
//! Waits poll for the expected state with a deadline; nothing sleeps a fixed time.

use std::time::Duration;

use aws_lambda_events::sqs::SqsEvent;
use domain::audit::{AuditEvent, Outcome, Stage};
use domain::ledger::LedgerStatus;
use domain::message::{MessageSource, OrderMessage};
use millwright_aws::SqsEventSource;
use reqwest::Method;
use sandbox::demo;
use serde_json::{Value, json};

use crate::support::{
    FlowOptions, ORDER_SCOPES, OrderFlow, World, eventually, guest_order, plex_lines, registered_order, summary, with,
};

/// How long a test waits for an order that meets no fault.
const WAIT: Duration = Duration::from_secs(15);

fn count(history: &[AuditEvent], stage: Stage, outcome: Outcome) -> usize {
    history.iter().filter(|event| event.stage == stage && event.outcome == outcome).count()
}

fn lines(expected: &[(&str, u64)]) -> Vec<(String, u64)> {
    expected.iter().map(|(sku, quantity)| ((*sku).to_owned(), *quantity)).collect()
}

/// An order message as the receiver queues it, for tests that feed the queue directly.
fn message(flow: &OrderFlow, order_id: u64, source: MessageSource, delivery: &str) -> OrderMessage {
    OrderMessage {
        order: flow.order_ref(order_id),
        scope: ORDER_SCOPES[0].to_owned(),
        delivery: delivery.to_owned(),
        source,
        received_at: chrono::Utc::now(),
    }
}

async fn wait_until_queues_are_empty(flow: &OrderFlow) {
    eventually("the order queue and the DLQ are empty", WAIT, || async {
        match flow.queue_depths().await {
            (0, 0) => Ok(()),
            depths => Err(format!("(queue, dlq) = {depths:?}")),
        }
    })
    .await;
}

#[tokio::test]
async fn an_order_delivered_three_times_becomes_one_plex_sales_order_with_its_lines() {
    // GIVEN the store's order hooks registered at the local runtime's receiver
    let flow = OrderFlow::start(World::start().await).await;

    // WHEN the registered customer's order is placed and its callback delivered three times
    let order = with(registered_order(&[("MW-BOLT-M8", 100), ("MW-BRKT-100-ZN", 4)]), json!({"deliveries": 3}));
    let order_id = flow.place_order(order).await;

    // THEN the order is committed to one Plex sales order, for the customer, with both lines
    let entry = flow.wait_for_commit(order_id, WAIT).await;
    let orders = flow.plex_orders(order_id).await;
    assert_eq!(orders.len(), 1, "{orders:#?}");
    assert_eq!(orders[0]["customerId"], demo::PLEX_FITTER_CUSTOMER_ID);
    assert_eq!(plex_lines(&orders[0]), lines(&[("MW-BOLT-M8", 100), ("MW-BRKT-100-ZN", 4)]));
    assert_eq!(entry.plex_order_id.as_deref(), orders[0]["id"].as_str());
    // AND the audit trail shows one receipt, two duplicates and one write
    let history = eventually("two duplicate receipts and the write", WAIT, || async {
        let history = flow.history(order_id).await;
        match (count(&history, Stage::Received, Outcome::Duplicate), count(&history, Stage::Written, Outcome::Ok)) {
            (2, 1) => Ok(history),
            _ => Err(format!("{:?}", summary(&history))),
        }
    })
    .await;
    assert_eq!(count(&history, Stage::Received, Outcome::Ok), 1, "{:?}", summary(&history));
    assert_eq!(count(&history, Stage::Written, Outcome::Ok), 1, "{:?}", summary(&history));
    // AND every copy was acknowledged, and nothing is left on the queues
    let deliveries = flow.deliveries().await;
    assert_eq!(deliveries.len(), 3);
    assert!(deliveries.iter().all(|delivery| delivery["status"] == 200), "{deliveries:#?}");
    wait_until_queues_are_empty(&flow).await;
    let report = flow.stop().await;
    assert_eq!((report.orders.handled, report.orders.failed), (1, 0), "{report:?}");
}

#[tokio::test]
async fn an_update_arriving_before_the_late_created_event_leaves_one_order_with_the_latest_quantity() {
    // GIVEN the created hook's destination is down at first (a closed port), so BigCommerce retries
    // that callback on a short schedule, while the updated hook reaches the receiver
    let flow =
        OrderFlow::start_with(World::start().await, FlowOptions { register_hooks: false, ..Default::default() }).await;
    // Eleven retries a second apart: time enough for the update to be written first.
    let config = json!({"webhooks": {"retry_delays_ms": vec![1000; 11]}});
    flow.world.control_json("bigcommerce", Method::POST, "/config", Some(config)).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("an address");
    let created_hook = flow.register_hook("store/order/created", &format!("http://{closed}/down")).await;
    flow.register_hook("store/order/updated", &flow.destination()).await;

    // WHEN an order is placed and then changed to 25 nuts before its created callback got through
    let order_id = flow.place_order(registered_order(&[("MW-NUT-M8", 10)])).await;
    let changed =
        json!({"products": [{"sku": "MW-NUT-M8", "name": "Hex Nut M8", "quantity": 25, "price_ex_tax": "0.1200"}]});
    flow.change_order(order_id, changed).await;

    // THEN the update makes the Plex order, with the latest quantity
    flow.wait_for_commit(order_id, WAIT).await;
    assert_eq!(plex_lines(&flow.plex_orders(order_id).await[0]), lines(&[("MW-NUT-M8", 25)]));

    // WHEN the created hook is repaired and BigCommerce's next retry of the created callback lands
    flow.move_hook(created_hook, &flow.destination()).await;
    eventually("the created callback delivered", WAIT, || async {
        let deliveries = flow.deliveries().await;
        let delivered = deliveries.iter().any(|d| d["scope"] == "store/order/created" && d["status"] == 200);
        if delivered { Ok(()) } else { Err(format!("{deliveries:?}")) }
    })
    .await;

    // THEN it is audited as a duplicate and changes nothing: one Plex order, still 25 nuts
    let history = eventually("the late created event audited as a duplicate", WAIT, || async {
        let history = flow.history(order_id).await;
        let duplicate = history.iter().any(|event| event.outcome == Outcome::Duplicate);
        if duplicate { Ok(history) } else { Err(format!("{:?}", summary(&history))) }
    })
    .await;
    assert_eq!(count(&history, Stage::Written, Outcome::Ok), 1, "{:?}", summary(&history));
    let orders = flow.plex_orders(order_id).await;
    assert_eq!(orders.len(), 1, "{orders:#?}");
    assert_eq!(plex_lines(&orders[0]), lines(&[("MW-NUT-M8", 25)]));
    wait_until_queues_are_empty(&flow).await;
    flow.stop().await;
}

#[tokio::test]
async fn an_update_after_the_commit_changes_the_release_quantity_of_the_existing_plex_order() {
    // GIVEN an order written to Plex with 10 nuts
    let flow = OrderFlow::start(World::start().await).await;
    let order_id = flow.place_order(registered_order(&[("MW-NUT-M8", 10)])).await;
    flow.wait_for_commit(order_id, WAIT).await;

    // WHEN the shopper's order is changed to 25 nuts in BigCommerce (whose `hash` is the same for
    // every event of one order, so only the event's scope and time tell the update apart)
    let changed =
        json!({"products": [{"sku": "MW-NUT-M8", "name": "Hex Nut M8", "quantity": 25, "price_ex_tax": "1.2500"}]});
    flow.change_order(order_id, changed).await;

    // THEN the update reaches the worker and the same Plex order now has 25
    let orders = eventually("the Plex release updated to 25", WAIT, || async {
        let orders = flow.plex_orders(order_id).await;
        match orders.first().map(plex_lines) {
            Some(found) if found == lines(&[("MW-NUT-M8", 25)]) => Ok(orders),
            other => Err(format!("{other:?}; audit: {:?}", summary(&flow.history(order_id).await))),
        }
    })
    .await;
    assert_eq!(orders.len(), 1, "{orders:#?}");
    // (Plex is written before the ledger commits and the `written` event is stored.)
    let history = eventually("the update's written event", WAIT, || async {
        let history = flow.history(order_id).await;
        if count(&history, Stage::Written, Outcome::Ok) >= 2 {
            Ok(history)
        } else {
            Err(format!("{:?}", summary(&history)))
        }
    })
    .await;
    assert_eq!(count(&history, Stage::Received, Outcome::Ok), 2, "{:?}", summary(&history));
    assert_eq!(count(&history, Stage::Written, Outcome::Ok), 2, "{:?}", summary(&history));
    wait_until_queues_are_empty(&flow).await;
    flow.stop().await;
}

#[tokio::test]
async fn two_updates_within_one_second_leave_plex_with_the_second_content() {
    // GIVEN the store's clock frozen, so every change gets the same whole-second `date_modified`
    // and every callback the same `created_at` and payload `hash` (only their webhook-ids differ),
    // and an order written to Plex with 10 nuts
    let flow = OrderFlow::start(World::start().await).await;
    flow.world.control_json("bigcommerce", Method::PUT, "/clock", Some(json!({"freeze": true}))).await;
    let order_id = flow.place_order(registered_order(&[("MW-NUT-M8", 10)])).await;
    flow.wait_for_commit(order_id, WAIT).await;
    let nuts = |quantity: u64| json!({"products": [{"sku": "MW-NUT-M8", "name": "Hex Nut M8", "quantity": quantity, "price_ex_tax": "1.2500"}]});
    let plex_has = |quantity: u64| {
        let flow = &flow;
        async move {
            eventually(&format!("the Plex release at {quantity}"), WAIT, || async {
                let orders = flow.plex_orders(order_id).await;
                match orders.first().map(plex_lines) {
                    Some(found) if found == lines(&[("MW-NUT-M8", quantity)]) => Ok(orders),
                    other => Err(format!("{other:?}; audit: {:?}", summary(&flow.history(order_id).await))),
                }
            })
            .await
        }
    };

    // WHEN it is changed to 25, the worker writes that, and it is changed to 40 in the same second
    flow.change_order(order_id, nuts(25)).await;
    plex_has(25).await;
    flow.change_order(order_id, nuts(40)).await;

    // THEN the second update is not taken for a repeat of the first: Plex ends with 40, one order
    let orders = plex_has(40).await;
    assert_eq!(orders.len(), 1, "{orders:#?}");
    let ledger = flow.ledger(order_id).await.expect("a ledger entry");
    assert_eq!(ledger.seen_modified, ledger.source_modified, "every change has the frozen second");
    wait_until_queues_are_empty(&flow).await;
    flow.stop().await;
}

#[tokio::test]
async fn forged_stale_or_unsigned_callbacks_are_refused_401_and_nothing_is_queued() {
    // GIVEN a connection that checks the Standard Webhooks signature as well as its custom header
    let world = World::start_with(|profile| {
        profile["bigcommerce"]["webhook_auth"] = json!([
            {"mode": "custom_header", "header": "X-Millwright-Auth"},
            {"mode": "standard_webhooks"}
        ]);
    })
    .await;
    let since = chrono::Utc::now() - chrono::Duration::seconds(5);
    let flow = OrderFlow::start(world).await;

    // WHEN orders are placed whose callbacks are forged, stale, unsigned or carry a wrong secret
    let forgeries = ["signature", "stale_timestamp", "missing_signature", "wrong_headers"];
    let mut forged = Vec::new();
    for forge in forgeries {
        let order = with(guest_order(&[("MW-NUT-M8", 1)]), json!({"forge": forge, "retries": false}));
        forged.push(flow.place_order(order).await);
    }

    // THEN every callback was answered 401
    let deliveries = eventually("every forged callback answered", WAIT, || async {
        let deliveries = flow.deliveries().await;
        let answered = deliveries.iter().filter(|d| !d["status"].is_null()).count();
        if answered == forgeries.len() { Ok(deliveries) } else { Err(format!("{deliveries:?}")) }
    })
    .await;
    let statuses: Vec<(Value, Value)> = deliveries.iter().map(|d| (d["forge"].clone(), d["status"].clone())).collect();
    assert!(statuses.iter().all(|(_, status)| status == 401), "{statuses:?}");
    // AND each refusal is audited, with nothing filed under the orders
    let rejected = flow
        .world
        .deps
        .audit
        .by_outcome(&flow.world.connection, Outcome::Rejected, since, 20)
        .await
        .expect("audit by outcome");
    assert_eq!(rejected.len(), forgeries.len(), "{rejected:#?}");
    for order_id in &forged {
        assert!(flow.history(*order_id).await.is_empty());
    }

    // WHEN a genuine callback follows (so the refusals above were not a broken receiver)
    let genuine = flow.place_order(guest_order(&[("MW-NUT-M8", 2)])).await;

    // THEN only it becomes a Plex order, and nothing else was ever queued
    flow.wait_for_commit(genuine, WAIT).await;
    for order_id in &forged {
        assert!(flow.plex_orders(*order_id).await.is_empty(), "forged order {order_id} reached Plex");
        assert!(flow.ledger(*order_id).await.is_none(), "forged order {order_id} reached the worker");
    }
    wait_until_queues_are_empty(&flow).await;
    let report = flow.stop().await;
    assert_eq!(report.orders.handled, 1, "{report:?}");
}

#[tokio::test]
async fn a_worker_crash_after_the_plex_create_is_completed_by_the_redelivery_into_one_order() {
    // GIVEN an order on the queue, no runtime yet, and Plex slow to take the first order line
    let options = FlowOptions { start_runtime: false, http_timeout: Duration::from_secs(10), ..Default::default() };
    let mut flow = OrderFlow::start_with(World::start().await, options).await;
    let order_id = flow.place_order(registered_order(&[("MW-BOLT-M8", 5), ("MW-NUT-M8", 7)])).await;
    flow.world.deps.queue.enqueue(&message(&flow, order_id, MessageSource::Webhook, "crash-1")).await.expect("queued");
    let slow_line =
        json!({"method": "POST", "path_contains": "/lines", "times": 1, "fault": {"kind": "delay", "ms": 4000}});
    flow.world.inject_fault("plex", slow_line).await;

    // WHEN an invocation takes the batch, creates the Plex order header, and crashes (its task is
    // stopped) before the lines, the ledger commit and the SQS delete
    let source = SqsEventSource::new(&flow.sdk, &flow.queue_url);
    let records = source.receive(10, Duration::from_secs(1)).await.expect("a receive");
    assert_eq!(records.len(), 1);
    let worker = order_worker::Worker::new(order_worker::Ports::from_deps(&flow.world.deps), flow.worker_settings());
    let crashed = worker.for_invocation("crashed-invocation");
    let mut event = SqsEvent::default();
    event.records = records;
    let invocation = tokio::spawn(async move { crashed.handle_batch(event, chrono::Utc::now()).await });
    eventually("the Plex order header exists", WAIT, || async {
        let orders = flow.plex_orders(order_id).await;
        if orders.len() == 1 { Ok(()) } else { Err(format!("{orders:?}")) }
    })
    .await;
    invocation.abort();
    assert_eq!(flow.ledger(order_id).await.map(|entry| entry.status), Some(LedgerStatus::Writing));

    // THEN once the runtime polls, the redelivered message finds the order by its PO and completes it
    flow.start_runtime().await;
    let entry = flow.wait_for_commit(order_id, WAIT).await;
    let orders = flow.plex_orders(order_id).await;
    assert_eq!(orders.len(), 1, "{orders:#?}");
    assert_eq!(plex_lines(&orders[0]), lines(&[("MW-BOLT-M8", 5), ("MW-NUT-M8", 7)]));
    assert_eq!(entry.plex_order_id.as_deref(), orders[0]["id"].as_str());
    let history = flow.wait_for_event(order_id, Stage::Written, Outcome::Ok, WAIT).await;
    let written: Vec<&AuditEvent> =
        history.iter().filter(|e| e.stage == Stage::Written && e.outcome == Outcome::Ok).collect();
    assert_eq!(written.len(), 1, "{:?}", summary(&history));
    assert_eq!(written[0].detail.as_ref().map(|detail| detail["action"].clone()), Some(json!("adopted")));
    assert!(written[0].attempt >= 2, "{:?}", summary(&history));
    wait_until_queues_are_empty(&flow).await;
    flow.stop().await;
}

#[tokio::test]
async fn a_redelivery_after_a_lost_sqs_delete_is_acknowledged_as_a_duplicate_without_a_second_order() {
    // GIVEN an order on the queue, no runtime yet
    let options = FlowOptions { start_runtime: false, ..Default::default() };
    let mut flow = OrderFlow::start_with(World::start().await, options).await;
    let order_id = flow.place_order(guest_order(&[("MW-BRKT-100-SS", 3)])).await;
    flow.world
        .deps
        .queue
        .enqueue(&message(&flow, order_id, MessageSource::Webhook, "lost-delete"))
        .await
        .expect("queued");

    // WHEN an invocation handles the batch completely but crashes before deleting it from SQS
    let source = SqsEventSource::new(&flow.sdk, &flow.queue_url);
    let records = source.receive(10, Duration::from_secs(1)).await.expect("a receive");
    assert_eq!(records.len(), 1);
    let worker = order_worker::Worker::new(order_worker::Ports::from_deps(&flow.world.deps), flow.worker_settings());
    let mut event = SqsEvent::default();
    event.records = records;
    let response = worker.for_invocation("first-invocation").handle_batch(event, chrono::Utc::now()).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(flow.plex_orders(order_id).await.len(), 1);

    // THEN the message comes back after the visibility timeout and is acknowledged as a duplicate
    flow.start_runtime().await;
    let history = flow.wait_for_event(order_id, Stage::Fetched, Outcome::Duplicate, WAIT).await;
    let duplicate = history.iter().find(|e| e.outcome == Outcome::Duplicate).expect("the duplicate");
    assert_eq!(duplicate.attempt, 2, "{:?}", summary(&history));
    assert_eq!(count(&history, Stage::Written, Outcome::Ok), 1, "{:?}", summary(&history));
    assert_eq!(flow.plex_orders(order_id).await.len(), 1);
    wait_until_queues_are_empty(&flow).await;
    flow.stop().await;
}

#[tokio::test]
async fn storms_of_429s_5xx_and_timeouts_still_bring_every_order_to_plex_exactly_once() {
    // GIVEN BigCommerce and Plex fail a share of their calls in every transient way: 429 with and
    // without headers, 5xx, and answers slower than the clients' 1 s timeout
    let flow = OrderFlow::start(World::start().await).await;
    let faults = [
        (
            "bigcommerce",
            json!({"path_contains": "/v2/orders/", "fraction": 0.15, "seed": 1,
                               "fault": {"kind": "rate_limit", "retry_after_seconds": 1}}),
        ),
        (
            "bigcommerce",
            json!({"path_contains": "/v2/orders/", "fraction": 0.1, "seed": 2, "fault": "rate_limit_no_headers"}),
        ),
        (
            "bigcommerce",
            json!({"path_contains": "/v2/orders/", "fraction": 0.1, "seed": 3,
                               "fault": {"kind": "server_error", "status": 503}}),
        ),
        (
            "bigcommerce",
            json!({"path_contains": "/v2/orders/", "fraction": 0.05, "seed": 4,
                               "fault": {"kind": "delay", "ms": 1500}}),
        ),
        ("plex", json!({"fraction": 0.1, "seed": 5, "fault": "rate_limit"})),
        ("plex", json!({"fraction": 0.1, "seed": 6, "fault": "rate_limit_no_headers"})),
        ("plex", json!({"fraction": 0.1, "seed": 7, "fault": {"kind": "server_error", "status": 503}})),
        ("plex", json!({"fraction": 0.05, "seed": 8, "fault": {"kind": "server_error", "status": 500}})),
        ("plex", json!({"fraction": 0.05, "seed": 9, "fault": {"kind": "delay", "ms": 1500}})),
    ];
    for (system, rule) in faults {
        flow.world.inject_fault(system, rule).await;
    }

    // WHEN ten orders are placed, registered and guest, one and two lines
    let mut placed = Vec::new();
    for n in 0..10_u32 {
        let expected = if n % 2 == 0 {
            vec![("MW-BOLT-M8", 10 + u64::from(n)), ("MW-NUT-M8", 20 + u64::from(n))]
        } else {
            vec![("MW-BRKT-100-ZN", 1 + u64::from(n))]
        };
        let quantities: Vec<(&str, u32)> =
            expected.iter().map(|(sku, q)| (*sku, u32::try_from(*q).expect("small"))).collect();
        let order = if n % 3 == 0 { guest_order(&quantities) } else { registered_order(&quantities) };
        placed.push((flow.place_order(order).await, expected));
    }

    // THEN every order is committed and Plex holds exactly one sales order for each, as ordered
    for (order_id, expected) in &placed {
        flow.wait_for_commit(*order_id, Duration::from_secs(60)).await;
        let orders = flow.plex_orders(*order_id).await;
        assert_eq!(orders.len(), 1, "order {order_id}: {orders:#?}");
        assert_eq!(plex_lines(&orders[0]), lines(expected), "order {order_id}");
    }
    // AND nothing is left on the queue, and nothing went to the dead-letter queue
    wait_until_queues_are_empty(&flow).await;
    // AND the storm really happened: both doubles answered each kind of fault
    for system in ["bigcommerce", "plex"] {
        let log = flow.world.control_json(system, Method::GET, "/requests", None).await;
        let kinds: std::collections::BTreeSet<String> = log
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|request| request["fault"].as_str().map(str::to_owned))
            .collect();
        assert!(kinds.contains("rate_limit") && kinds.contains("server_error"), "{system}: {kinds:?}");
    }
    flow.stop().await;
}

#[tokio::test]
async fn an_order_that_keeps_failing_transiently_is_redelivered_and_then_redriven_to_the_dead_letter_queue() {
    // GIVEN BigCommerce answers every order read with 503, and the queue redrives after 3 receives
    let options =
        FlowOptions { visibility_timeout: Duration::from_secs(1), max_receive_count: 3, ..Default::default() };
    let flow = OrderFlow::start_with(World::start().await, options).await;
    let outage = json!({"path_contains": "/v2/orders/", "fault": {"kind": "server_error", "status": 503}});
    flow.world.inject_fault("bigcommerce", outage).await;

    // WHEN an order arrives
    let order_id = flow.place_order(guest_order(&[("MW-NUT-M8", 9)])).await;

    // THEN each delivery is retried by SQS (one audited attempt per receive), and after the third
    // the message sits in the dead-letter queue instead of the order queue
    eventually("the message in the dead-letter queue", Duration::from_secs(20), || async {
        match flow.queue_depths().await {
            (0, 1) => Ok(()),
            depths => Err(format!("(queue, dlq) = {depths:?}")),
        }
    })
    .await;
    let history = flow.history(order_id).await;
    let attempts: Vec<u32> = history
        .iter()
        .filter(|e| e.stage == Stage::Fetched && e.outcome == Outcome::Retried)
        .map(|e| e.attempt)
        .collect();
    assert_eq!(attempts, vec![1, 2, 3], "{:?}", summary(&history));
    assert!(flow.plex_orders(order_id).await.is_empty());
    let report = flow.stop().await;
    assert_eq!((report.orders.handled, report.orders.failed), (0, 3), "{report:?}");
}

#[tokio::test]
async fn a_plex_403_parks_the_order_with_an_alert_and_a_replay_after_the_fix_commits_it() {
    // GIVEN Plex refuses to create sales orders for the integration account (a missing role)
    let flow = OrderFlow::start(World::start().await).await;
    flow.world.inject_fault("plex", json!({"method": "POST", "path_contains": "/sales/", "fault": "forbidden"})).await;

    // WHEN an order arrives
    let order_id = flow.place_order(registered_order(&[("MW-BOLT-M8", 12)])).await;

    // THEN it is parked, not retried, and the operator is alerted once
    flow.wait_for_status(order_id, LedgerStatus::Parked, WAIT).await;
    let history = flow.history(order_id).await;
    assert_eq!(count(&history, Stage::Written, Outcome::Parked), 1, "{:?}", summary(&history));
    assert_eq!(count(&history, Stage::Alerted, Outcome::Ok), 1, "{:?}", summary(&history));
    assert_eq!(count(&history, Stage::Written, Outcome::Retried), 0, "{:?}", summary(&history));
    let alerted = history.iter().find(|e| e.stage == Stage::Alerted).expect("the alert event");
    let message_id = alerted.detail.as_ref().and_then(|d| d["message_id"].as_str()).expect("an SNS message id");
    // AND SNS (moto) recorded the e-mail, which names the missing role
    let (subject, body) = sns_notification(&flow, message_id).await;
    assert!(subject.contains("Plex integration account lacks a role"), "{subject}");
    assert!(body.contains("replay"), "{body}");
    assert!(flow.plex_orders(order_id).await.is_empty());
    wait_until_queues_are_empty(&flow).await;

    // WHEN the role is granted (the fault removed) and the order is replayed
    flow.world.control("plex", Method::DELETE, "/faults", None).await;
    let replay = message(&flow, order_id, MessageSource::Replay, &format!("replay-{}", uuid::Uuid::new_v4().simple()));
    flow.world.deps.queue.enqueue(&replay).await.expect("the replay is queued");

    // THEN it is committed as one Plex sales order
    flow.wait_for_commit(order_id, WAIT).await;
    let orders = flow.plex_orders(order_id).await;
    assert_eq!(orders.len(), 1, "{orders:#?}");
    assert_eq!(plex_lines(&orders[0]), lines(&[("MW-BOLT-M8", 12)]));
    flow.stop().await;
}

/// The subject and body of the SNS notification moto recorded under `message_id`.
async fn sns_notification(flow: &OrderFlow, message_id: &str) -> (String, String) {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL points at moto");
    let data: Value = flow
        .world
        .http
        .get(format!("{endpoint}/moto-api/data.json"))
        .send()
        .await
        .expect("moto's data")
        .json()
        .await
        .expect("moto's data as JSON");
    let topics = data["sns"]["Topic"].as_array().cloned().unwrap_or_default();
    let sent = topics
        .iter()
        .flat_map(|topic| topic["sent_notifications"].as_array().cloned().unwrap_or_default())
        .find(|notification| notification[0] == message_id)
        .unwrap_or_else(|| panic!("no SNS notification {message_id} in moto"));
    (sent[2].as_str().unwrap_or_default().to_owned(), sent[1].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn an_oauth_token_expiring_mid_run_is_refreshed_without_a_failed_order() {
    // GIVEN a connection that authenticates to Plex with OAuth2 client credentials
    let world = World::start_with(|profile| profile["plex"]["auth"] = json!({"mode": "oauth2"})).await;
    world.control_json("plex", Method::POST, "/config", Some(json!({"auth": {"mode": "oauth2"}}))).await;
    let flow = OrderFlow::start(world).await;

    // WHEN orders arrive, every token is expired, and more orders arrive
    let mut placed = Vec::new();
    for quantity in [3, 4] {
        let order_id = flow.place_order(registered_order(&[("MW-NUT-M8", quantity)])).await;
        flow.wait_for_commit(order_id, WAIT).await;
        placed.push(order_id);
    }
    flow.world.control_json("plex", Method::POST, "/tokens/expire-all", None).await;
    for quantity in [5, 6] {
        let order_id = flow.place_order(guest_order(&[("MW-NUT-M8", quantity)])).await;
        flow.wait_for_commit(order_id, WAIT).await;
        placed.push(order_id);
    }

    // THEN every order is committed without a retry or failure in its audit trail
    for order_id in &placed {
        flow.wait_for_commit(*order_id, WAIT).await;
        let history = flow.history(*order_id).await;
        let troubled =
            history.iter().any(|e| matches!(e.outcome, Outcome::Retried | Outcome::Failed | Outcome::Parked));
        assert!(!troubled, "order {order_id}: {:?}", summary(&history));
        assert_eq!(flow.plex_orders(*order_id).await.len(), 1);
    }
    // AND Plex did refuse the expired token once, and a second token was issued
    let log = flow.world.control_json("plex", Method::GET, "/requests", None).await;
    let requests = log.as_array().cloned().unwrap_or_default();
    let tokens = requests.iter().filter(|r| r["path"] == "/oauth2/token" && r["status"] == 200).count();
    let refused = requests.iter().filter(|r| r["status"] == 401).count();
    assert_eq!((tokens, refused), (2, 1), "{requests:#?}");
    flow.stop().await;
}

#[tokio::test]
async fn an_unmapped_sku_needs_mapping_naming_the_sku_and_alerts_once() {
    // GIVEN the local runtime and hooks
    let flow = OrderFlow::start(World::start().await).await;

    // WHEN two orders arrive with a SKU that has no Plex part
    let first = flow.place_order(registered_order(&[("MW-BOLT-M8", 1), ("MW-WIDGET-404", 2)])).await;
    let second = flow.place_order(guest_order(&[("MW-WIDGET-404", 5)])).await;

    // THEN each needs mapping, naming the SKU, and nothing reaches Plex
    let mut alerts = 0;
    for order_id in [first, second] {
        flow.wait_for_status(order_id, LedgerStatus::NeedsMapping, WAIT).await;
        let history = flow.history(order_id).await;
        let gap = history.iter().find(|e| e.outcome == Outcome::NeedsMapping).expect("the gap");
        assert_eq!(gap.stage, Stage::Mapped);
        assert!(gap.message.as_deref().is_some_and(|m| m.contains("MW-WIDGET-404")), "{gap:?}");
        assert!(flow.plex_orders(order_id).await.is_empty());
        alerts += count(&history, Stage::Alerted, Outcome::Ok);
    }
    // AND the operator got one alert for the SKU, not one per order
    assert_eq!(alerts, 1);
    wait_until_queues_are_empty(&flow).await;
    flow.stop().await;
}

#[tokio::test]
async fn an_order_sent_to_the_local_worlds_receiver_is_written_by_its_poller() {
    // GIVEN the store's hooks pointing at the receiver `millwright local up` serves (the world
    // `make test` started), whose poller drains the deployment's order queue
    let world = World::start().await;
    let receiver = std::env::var("WEBHOOK_RECEIVER_URL")
        .expect("WEBHOOK_RECEIVER_URL is not set: run the end-to-end tests through `make test`");
    let client = world.deps.bigcommerce(&world.profile).await.expect("the BigCommerce client");
    let headers = std::collections::BTreeMap::from([(
        "X-Millwright-Auth".to_owned(),
        secrecy::SecretString::from(demo::BIGCOMMERCE_WEBHOOK_SECRET),
    )]);
    let destination = format!("{receiver}/webhooks/bigcommerce/{}", world.connection);
    client.create_hook(ORDER_SCOPES[0], &destination, &headers).await.expect("the hook is registered");

    // WHEN an order is placed
    let placed =
        world.control_json("bigcommerce", Method::POST, "/orders", Some(guest_order(&[("MW-NUT-M8", 40)]))).await;
    let order_id = placed["order_id"].as_u64().expect("an order id");

    // THEN the local world's worker commits it to one Plex sales order
    let order = domain::OrderRef::new(world.connection.clone(), order_id);
    eventually("the local world commits the order", WAIT, || async {
        match world.deps.ledger.get(&order).await.expect("the ledger") {
            Some(entry) if entry.status == LedgerStatus::Committed => Ok(()),
            other => Err(format!("{:?}", other.map(|entry| entry.status))),
        }
    })
    .await;
    let orders = world.control_json("plex", Method::GET, &format!("/sales-orders?po_number=BC-{order_id}"), None).await;
    assert_eq!(orders.as_array().map(Vec::len), Some(1), "{orders:#}");
    world.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_tenants_own_plex_order_codes_from_the_profile_are_what_plex_receives() {
    // GIVEN a connection whose Plex tenant calls web orders "Internet" and holds new releases
    let world = World::start_with(|profile| {
        profile["orders"]["plex_codes"] = json!({"order_type": "Internet", "release_status": "Wait for Release"});
    })
    .await;
    let flow = OrderFlow::start(world).await;

    // WHEN an order arrives
    let order_id = flow.place_order(guest_order(&[("MW-NUT-M8", 12)])).await;
    flow.wait_for_commit(order_id, WAIT).await;

    // THEN the Plex order carries the tenant's values, and the defaults for what the profile left out
    let plex = flow.plex_orders(order_id).await;
    assert_eq!(plex.len(), 1);
    assert_eq!(
        (plex[0]["type"].as_str(), plex[0]["status"].as_str()),
        (Some("Internet"), Some("Open")),
        "{:#}",
        plex[0]
    );
    let release = &plex[0]["lines"][0]["releases"][0];
    assert_eq!(
        (release["status"].as_str(), release["type"].as_str()),
        (Some("Wait for Release"), Some("Ship Schedule")),
        "{release:#}"
    );
    assert_eq!(plex[0]["lines"][0]["prices"][0]["unit"], "Ea");
    flow.stop().await;
}

#[tokio::test]
async fn an_order_whose_plex_calls_are_slow_is_handed_back_before_the_deadline_and_written_once_on_redelivery() {
    // GIVEN worker invocations of 6 s (a message is handed back 2 s before the deadline, so 4 s
    // for a message), and Plex taking 4.5 s, under the client's timeout, for each of the next two
    // sales-order creates: a slow create never fits, and the rest fits with room for a busy moto
    let options = FlowOptions {
        function_timeout: Duration::from_secs(6),
        http_timeout: Duration::from_secs(6),
        ..Default::default()
    };
    let flow = OrderFlow::start_with(World::start().await, options).await;
    let slow = json!({"method": "POST", "path_prefix": "/sales/", "times": 2, "fault": {"kind": "delay", "ms": 4500}});
    flow.world.inject_fault("plex", slow).await;

    // WHEN an order of two lines is placed
    let order_id = flow.place_order(registered_order(&[("MW-BOLT-M8", 3), ("MW-NUT-M8", 4)])).await;

    // THEN it ends as exactly one Plex sales order with both lines (two attempts of 4 s handed back
    // and the queue's redeliveries come first)
    flow.wait_for_commit(order_id, Duration::from_secs(40)).await;
    let orders = flow.plex_orders(order_id).await;
    assert_eq!(orders.len(), 1, "{orders:#?}");
    assert_eq!(plex_lines(&orders[0]), lines(&[("MW-BOLT-M8", 3), ("MW-NUT-M8", 4)]));
    // AND the attempt that could not finish in time was handed back before its deadline, audited,
    // and no invocation outlived its timeout
    let history = flow.history(order_id).await;
    let handed_back = history.iter().find(|event| {
        event.outcome == Outcome::Retried
            && event.message.as_deref().is_some_and(|message| message.contains("before the invocation's deadline"))
    });
    assert!(handed_back.is_some(), "{:?}", summary(&history));
    let report = flow.stop().await;
    assert_eq!(report.orders.timeouts, 0, "{:?}", report.orders);
}

#[tokio::test]
async fn stock_events_at_the_receiver_are_acknowledged_and_cause_no_work() {
    // GIVEN the store's stock hooks also deliver to the receiver (the stock flow's own absolute
    // writes cause these events, and nothing in them tells ours from anyone else's)
    let flow = OrderFlow::start(World::start().await).await;
    for scope in ["store/sku/inventory/updated", "store/product/inventory/updated"] {
        flow.register_hook(scope, &flow.destination()).await;
    }
    let started = chrono::Utc::now() - chrono::Duration::seconds(1);

    // WHEN stock changes at BigCommerce (a level set through the control panel, as a write would)
    let levels = json!({"items": [{"sku": "MW-NUT-M8", "quantity": 3000}]});
    let changed = flow.world.control_json("bigcommerce", reqwest::Method::PUT, "/inventory/levels", Some(levels)).await;
    assert!(changed["deliveries"].as_array().is_some_and(|sent| !sent.is_empty()), "{changed}");

    // THEN every stock event is answered 200
    let stock = eventually("the stock events are delivered", Duration::from_secs(10), || async {
        let deliveries = flow.deliveries().await;
        let stock: Vec<Value> = deliveries
            .into_iter()
            .filter(|delivery| delivery["scope"].as_str().is_some_and(domain::hooks::is_inventory_scope))
            .collect();
        if !stock.is_empty() && stock.iter().all(|delivery| !delivery["status"].is_null()) {
            Ok(stock)
        } else {
            Err(format!("{stock:?}"))
        }
    })
    .await;
    assert!(stock.iter().all(|delivery| delivery["status"] == 200), "{stock:#?}");
    // AND nothing was queued, and nothing was stored for the connection
    assert_eq!(flow.queue_depths().await, (0, 0));
    for outcome in Outcome::ALL {
        let events = flow.world.deps.audit.by_outcome(&flow.world.connection, outcome, started, 10).await.unwrap();
        assert!(events.is_empty(), "{outcome:?}: {events:?}");
    }
    flow.stop().await;
}
