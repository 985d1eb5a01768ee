//! `webhook-receiver`: a BigCommerce callback through the function's own HTTP edge with the
//! deployment's adapters (connection profile, secrets, delivery claims and audit in moto's DynamoDB
//! and Secrets Manager, the message in a moto SQS FIFO queue), and once through the local world's
//! HTTP server.
//!
//! The deployment's order queue is shared by every test running in parallel and drained by the
//! local runtime's order worker, so a test that reads its messages back gets a FIFO queue of its
//! own (same attributes as the template's) behind the same `SqsQueue` adapter. The test through the
//! local world's server, which uses the deployment's queue, asserts through the audit trail, where
//! the receiver records the id SQS assigned.

use std::sync::Arc;
use std::time::{Duration, Instant};

use domain::audit::{Outcome, Stage};
use domain::{OrderMessage, OrderRef};
use http::StatusCode;
use millwright_aws::SqsQueue;
use sandbox::demo;
use serde_json::json;

use crate::support::World;

/// A `store/order/created` callback of the demo store for `order_id`.
fn callback(order_id: u64) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "scope": "store/order/created",
        "store_id": demo::BIGCOMMERCE_STORE_ID.to_string(),
        "data": {"type": "order", "id": order_id},
        "hash": format!("{order_id:040x}"),
        "created_at": 1_764_000_000,
        "producer": format!("stores/{}", demo::BIGCOMMERCE_STORE_HASH),
    }))
    .expect("a JSON body")
}

/// Runs the function's handler on the request API Gateway would hand it, as `main.rs` does.
async fn deliver(world: &World, auth: &str, body: Vec<u8>) -> (StatusCode, String) {
    deliver_with_id(world, auth, None, body).await
}

/// [`deliver`] with a Standard Webhooks `webhook-id` header, as a store that sends it.
async fn deliver_with_id(world: &World, auth: &str, webhook_id: Option<&str>, body: Vec<u8>) -> (StatusCode, String) {
    let path = format!("/webhooks/bigcommerce/{}", world.connection);
    let mut request =
        http::Request::post(path).header("content-type", "application/json").header("x-millwright-auth", auth);
    if let Some(id) = webhook_id {
        request = request.header("webhook-id", id);
    }
    let request = request.body(()).expect("a request");
    let request = webhook_receiver::request_from_parts(request.into_parts().0, body, world.connection.as_str());
    let response = webhook_receiver::handle_http(&world.deps, request).await;
    (response.status(), String::from_utf8_lossy(response.body()).into_owned())
}

/// A FIFO order queue of this test's own, wired into the world's `Deps` in place of the shared one.
struct OwnQueue {
    sqs: aws_sdk_sqs::Client,
    url: String,
}

impl OwnQueue {
    async fn install(world: &mut World) -> OwnQueue {
        let sdk = millwright_aws::config::sdk_config_from_env().await;
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let connection = &world.connection;
        let url = millwright_aws::provision::provision_order_queues(
            &sdk,
            &format!("{connection}-orders.fifo"),
            &format!("{connection}-orders-dlq.fifo"),
            &millwright_aws::provision::ProvisionOptions::default(),
        )
        .await
        .expect("creating the test's FIFO queue in moto")
        .queue_url;
        world.deps.queue = Arc::new(SqsQueue::new(&sdk, &url));
        OwnQueue { sqs, url }
    }

    /// Receives (and deletes) messages until `expected` arrived and one more second brought none,
    /// or 20 s passed; returns each with the id SQS assigned.
    async fn take(&self, expected: usize) -> Vec<(String, OrderMessage)> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut taken = Vec::new();
        while Instant::now() < deadline {
            let output = self
                .sqs
                .receive_message()
                .queue_url(&self.url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .expect("receiving from the test's queue");
            let messages = output.messages();
            if messages.is_empty() && taken.len() >= expected {
                break;
            }
            for message in messages {
                let receipt = message.receipt_handle().expect("a receipt handle");
                self.sqs.delete_message().queue_url(&self.url).receipt_handle(receipt).send().await.expect("deleting");
                let body = message.body().expect("a body");
                let order: OrderMessage = serde_json::from_str(body).expect("an OrderMessage");
                taken.push((message.message_id().unwrap_or_default().to_owned(), order));
            }
        }
        taken
    }
}

#[tokio::test]
async fn an_authenticated_callback_is_queued_in_the_fifo_queue_and_audited_with_its_message_id() {
    // GIVEN a connection in moto authenticating with the demo's custom header
    let mut world = World::start().await;
    let queue = OwnQueue::install(&mut world).await;

    // WHEN BigCommerce delivers an order-created callback
    let (status, body) = deliver(&world, demo::BIGCOMMERCE_WEBHOOK_SECRET, callback(1042)).await;

    // THEN it is acknowledged with an empty 200
    assert_eq!((status, body.as_str()), (StatusCode::OK, ""));
    // AND the order's audit trail in DynamoDB has the receipt with the SQS message id
    let order = OrderRef::new(world.connection.clone(), 1042);
    let history = world.deps.audit.history(&order.record_key()).await.expect("audit history");
    assert_eq!(history.len(), 1, "{history:#?}");
    assert_eq!((history[0].stage, history[0].outcome), (Stage::Received, Outcome::Ok));
    let message_id = history[0].detail.as_ref().expect("detail")["message_id"].as_str().expect("an id").to_owned();
    // AND exactly that message is in the order queue, in the order's group
    let messages = queue.take(1).await;
    assert_eq!(messages.len(), 1, "{messages:#?}");
    let (id, message) = &messages[0];
    assert_eq!(id, &message_id);
    assert_eq!(message.order, order);
    assert_eq!(message.scope, "store/order/created");
    // Without a webhook-id the delivery id is this copy's own, never BigCommerce's data hash.
    assert!(message.delivery.starts_with("webhook-"), "{}", message.delivery);
    // AND the order is marked queued in the state table, for the order sweep
    let marked = world.deps.queue_marks.last_queued(&order, chrono::Utc::now()).await.expect("the queued mark");
    assert!(marked.is_some());
}

#[tokio::test]
async fn a_repeated_delivery_is_claimed_in_dynamodb_and_queued_once() {
    let mut world = World::start().await;
    let queue = OwnQueue::install(&mut world).await;

    for _ in 0..3 {
        let (status, _) =
            deliver_with_id(&world, demo::BIGCOMMERCE_WEBHOOK_SECRET, Some("msg_2001"), callback(2001)).await;
        assert_eq!(status, StatusCode::OK);
    }

    let order = OrderRef::new(world.connection.clone(), 2001);
    let outcomes: Vec<Outcome> =
        world.deps.audit.history(&order.record_key()).await.expect("history").iter().map(|e| e.outcome).collect();
    assert_eq!(outcomes, vec![Outcome::Ok, Outcome::Duplicate, Outcome::Duplicate]);
    assert_eq!(queue.take(1).await.len(), 1);
}

#[tokio::test]
async fn a_forged_callback_is_refused_401_and_only_the_rejection_is_audited() {
    let mut world = World::start().await;
    let queue = OwnQueue::install(&mut world).await;
    let since = chrono::Utc::now() - chrono::Duration::minutes(1);

    let (status, body) = deliver(&world, "a-guessed-secret", callback(3001)).await;

    assert_eq!((status, body.as_str()), (StatusCode::UNAUTHORIZED, "X-Millwright-Auth does not match"));
    let rejected =
        world.deps.audit.by_outcome(&world.connection, Outcome::Rejected, since, 10).await.expect("audit by outcome");
    assert_eq!(rejected.len(), 1, "{rejected:#?}");
    let stored = serde_json::to_string(&rejected[0]).expect("JSON");
    assert!(!stored.contains("a-guessed-secret") && !stored.contains("store/order/created"), "{stored}");
    let order = OrderRef::new(world.connection.clone(), 3001);
    assert!(world.deps.audit.history(&order.record_key()).await.expect("history").is_empty());
    assert!(queue.take(0).await.is_empty());
}

#[tokio::test]
async fn a_callback_posted_to_the_local_worlds_receiver_is_queued() {
    // GIVEN the HTTP server `millwright local up` runs for the receiver
    let world = World::start().await;
    let base = std::env::var("WEBHOOK_RECEIVER_URL")
        .expect("WEBHOOK_RECEIVER_URL is not set: run the end-to-end tests through `make test`");

    // WHEN a callback is posted over HTTP, once forged and once authenticated
    let url = format!("{base}/webhooks/bigcommerce/{}", world.connection);
    let post = |auth: &'static str| world.http.post(&url).header("X-Millwright-Auth", auth).body(callback(4001)).send();
    let forged = post("forged").await.expect("the receiver answers");
    let accepted = post(demo::BIGCOMMERCE_WEBHOOK_SECRET).await.expect("the receiver answers");

    // THEN the forged one is refused, the authenticated one acknowledged
    assert_eq!(forged.status().as_u16(), 401);
    assert_eq!(accepted.status().as_u16(), 200);
    assert_eq!(accepted.text().await.expect("a body"), "");
    // AND the audit trail records the id the deployment's order queue gave the message (the local
    // world's order worker may already have taken it and added its own events after the receipt)
    let order = OrderRef::new(world.connection.clone(), 4001);
    let history = world.deps.audit.history(&order.record_key()).await.expect("audit history");
    let history: Vec<_> = history.into_iter().filter(|event| event.stage == Stage::Received).collect();
    assert_eq!(history.len(), 1, "{history:#?}");
    assert_eq!(history[0].outcome, Outcome::Ok);
    let detail = history[0].detail.as_ref().expect("detail");
    assert!(detail["message_id"].as_str().is_some_and(|id| !id.is_empty()), "{detail}");
    assert_eq!(detail["group"], format!("{}#4001", world.connection));
}

#[tokio::test]
async fn a_callback_whose_sender_hangs_up_before_the_answer_is_still_queued_marked_and_audited() {
    // GIVEN the local world's receiver, and a sender that stops waiting at once (as BigCommerce
    // does after its timeout)
    let world = World::start().await;
    let base = std::env::var("WEBHOOK_RECEIVER_URL")
        .expect("WEBHOOK_RECEIVER_URL is not set: run the end-to-end tests through `make test`");
    let address = base.trim_start_matches("http://").to_owned();
    let body = callback(4002);
    let request = format!(
        "POST /webhooks/bigcommerce/{} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         X-Millwright-Auth: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        world.connection,
        demo::BIGCOMMERCE_WEBHOOK_SECRET,
        body.len()
    );

    // WHEN the whole callback is sent and, a moment later (the receiver is at work), the
    // connection closed without reading the answer
    let mut stream = tokio::net::TcpStream::connect(&address).await.expect("the receiver listens");
    tokio::io::AsyncWriteExt::write_all(&mut stream, request.as_bytes()).await.expect("the request is sent");
    tokio::io::AsyncWriteExt::write_all(&mut stream, &body).await.expect("the body is sent");
    tokio::time::sleep(Duration::from_millis(20)).await;
    drop(stream);

    // THEN the receiver still ran to its end, as a Lambda invocation does: the order is queued,
    // marked queued (so the order sweep does not take it for a missed webhook) and audited
    let order = OrderRef::new(world.connection.clone(), 4002);
    let deadline = Instant::now() + Duration::from_secs(20);
    let received = loop {
        let history = world.deps.audit.history(&order.record_key()).await.expect("audit history");
        if let Some(event) = history.into_iter().find(|event| event.stage == Stage::Received) {
            break event;
        }
        assert!(Instant::now() < deadline, "the callback was never audited: the receiver was cut off");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(received.outcome, Outcome::Ok, "{received:?}");
    let marked = world.deps.queue_marks.last_queued(&order, chrono::Utc::now()).await.expect("the queued mark");
    assert!(marked.is_some(), "queued but not marked queued");
}
