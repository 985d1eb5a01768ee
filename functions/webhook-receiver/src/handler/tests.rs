//! Handler tests against the in-memory fakes of `domain::ports::memory`: the answer, what was
//! queued, and what the audit trail says.

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use domain::ConnectionProfile;
use domain::ports::memory::{
    InMemoryAuditLog, InMemoryConnectionStore, InMemoryDedupeStore, InMemoryQueueMarks, RecordingQueue, StaticSecrets,
};
use hmac::{Hmac, Mac};
use http::{HeaderName, HeaderValue};
use secrecy::SecretString;
use serde_json::{Value, json};
use sha2::Sha256;

use super::*;

const CLIENT_SECRET: &str = "acme-client-secret";
const WEBHOOK_SECRET: &str = "acme-webhook-secret";
const HASH: &str = "dd70c0976e06b67aaf671e73f49dcb79230ebf9d";

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_764_000_000, 0).unwrap()
}

fn acme() -> ConnectionId {
    ConnectionId::new("acme").unwrap()
}

fn profile(modes: Value) -> ConnectionProfile {
    serde_json::from_value(json!({
        "id": "acme",
        "bigcommerce": {"store_hash": "abc123", "webhook_auth": modes},
        "plex": {}
    }))
    .unwrap()
}

fn callback(scope: &str, order_id: Value, hash: &str) -> Vec<u8> {
    callback_at(scope, order_id, hash, 1_764_000_000)
}

fn callback_at(scope: &str, order_id: Value, hash: &str, created_at: i64) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "scope": scope,
        "store_id": "1025646",
        "data": {"type": "order", "id": order_id},
        "hash": hash,
        "created_at": created_at,
        "producer": "stores/abc123"
    }))
    .unwrap()
}

fn order_created() -> Vec<u8> {
    callback("store/order/created", json!(250), HASH)
}

fn custom_header() -> HeaderMap {
    headers(&[("X-Millwright-Auth", WEBHOOK_SECRET)])
}

/// The custom header with a Standard Webhooks message id, as the store sends both.
fn custom_header_with_id(webhook_id: &str) -> HeaderMap {
    headers(&[("X-Millwright-Auth", WEBHOOK_SECRET), ("webhook-id", webhook_id)])
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
    }
    map
}

/// Standard Webhooks headers, signed here independently of `auth`.
fn standard_headers(body: &[u8], timestamp: i64) -> HeaderMap {
    let mut mac = Hmac::<Sha256>::new_from_slice(CLIENT_SECRET.as_bytes()).unwrap();
    mac.update(format!("msg_2abc.{timestamp}.").as_bytes());
    mac.update(body);
    let signature = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    headers(&[
        ("webhook-id", "msg_2abc"),
        ("webhook-timestamp", &timestamp.to_string()),
        ("webhook-signature", &signature),
    ])
}

/// A queue that is down for its first `failures` calls, then records like `RecordingQueue`.
#[derive(Default)]
struct FlakyQueue {
    failures: AtomicUsize,
    inner: RecordingQueue,
}

#[async_trait]
impl Queue for FlakyQueue {
    async fn enqueue(&self, message: &OrderMessage) -> Result<String, PortError> {
        let left = self.failures.load(Ordering::SeqCst);
        if left > 0 {
            self.failures.store(left - 1, Ordering::SeqCst);
            let cause = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset");
            return Err(PortError::unavailable(format!("queueing order {}", message.order), cause));
        }
        self.inner.enqueue(message).await
    }

    async fn redeliver_after(&self, receipt_handle: &str, wait: std::time::Duration) -> Result<(), PortError> {
        self.inner.redeliver_after(receipt_handle, wait).await
    }
}

/// A port that is always down, for the store and audit failure cases.
struct Down;

fn down() -> PortError {
    PortError::unavailable("calling DynamoDB", std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out"))
}

#[async_trait]
impl DedupeStore for Down {
    async fn claim(&self, _: &str, _: DateTime<Utc>, _: Duration) -> Result<bool, PortError> {
        Err(down())
    }
}

#[async_trait]
impl QueueMarks for Down {
    async fn mark_queued(&self, _: &OrderRef, _: DateTime<Utc>) -> Result<(), PortError> {
        Err(down())
    }
    async fn last_queued(&self, _: &OrderRef, _: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, PortError> {
        Err(down())
    }
}

#[async_trait]
impl AuditLog for Down {
    async fn append(&self, _: &AuditEvent) -> Result<(), PortError> {
        Err(down())
    }
    async fn history(&self, _: &RecordKey) -> Result<Vec<AuditEvent>, PortError> {
        Err(down())
    }
    async fn by_outcome(
        &self,
        _: &ConnectionId,
        _: Outcome,
        _: DateTime<Utc>,
        _: usize,
    ) -> Result<Vec<AuditEvent>, PortError> {
        Err(down())
    }
}

struct World {
    connections: InMemoryConnectionStore,
    secrets: StaticSecrets,
    dedupe: InMemoryDedupeStore,
    queue: FlakyQueue,
    marks: InMemoryQueueMarks,
    audit: InMemoryAuditLog,
}

impl World {
    /// The `acme` connection with the given auth modes and a complete BigCommerce secret.
    async fn with_modes(modes: Value) -> World {
        let secret = json!({"access_token": "t", "client_secret": CLIENT_SECRET, "webhook_secret": WEBHOOK_SECRET});
        World::with(profile(modes), Some(secret)).await
    }

    async fn custom_header() -> World {
        World::with_modes(json!([{"mode": "custom_header", "header": "X-Millwright-Auth"}])).await
    }

    async fn with(profile: ConnectionProfile, secret: Option<Value>) -> World {
        let connections = InMemoryConnectionStore::default();
        connections.put(&profile).await.unwrap();
        let mut secrets = StaticSecrets::default();
        if let Some(secret) = secret {
            secrets = secrets.with(&SecretName::new("millwright", acme(), System::Bigcommerce), secret.to_string());
        }
        World {
            connections,
            secrets,
            dedupe: InMemoryDedupeStore::default(),
            queue: FlakyQueue::default(),
            marks: InMemoryQueueMarks::default(),
            audit: InMemoryAuditLog::default(),
        }
    }

    fn ports(&self) -> Ports<'_> {
        Ports {
            connections: &self.connections,
            secrets: &self.secrets,
            dedupe: &self.dedupe,
            queue: &self.queue,
            queue_marks: &self.marks,
            audit: &self.audit,
            secret_prefix: "millwright",
        }
    }

    async fn deliver(&self, connection_id: &str, headers: &HeaderMap, body: &[u8]) -> Reply {
        self.deliver_at(connection_id, headers, body, now()).await
    }

    async fn deliver_at(&self, connection_id: &str, headers: &HeaderMap, body: &[u8], now: DateTime<Utc>) -> Reply {
        handle(&self.ports(), &Delivery { connection_id, headers, body, now }).await
    }

    fn messages(&self) -> Vec<OrderMessage> {
        self.queue.inner.messages()
    }

    async fn marked_at(&self, order_id: u64) -> Option<DateTime<Utc>> {
        self.marks.last_queued(&OrderRef::new(acme(), order_id), now()).await.unwrap()
    }

    fn outcomes(&self) -> Vec<(Stage, Outcome)> {
        self.audit.events().iter().map(|event| (event.stage, event.outcome)).collect()
    }

    /// The one audit event written, with its JSON form (what the audit table would store).
    fn only_event(&self) -> (AuditEvent, String) {
        let events = self.audit.events();
        assert_eq!(events.len(), 1, "{events:#?}");
        let json = serde_json::to_string(&events[0]).unwrap();
        (events[0].clone(), json)
    }
}

#[tokio::test]
async fn an_authenticated_order_created_callback_is_queued_and_answered_200_with_an_empty_body() {
    // GIVEN a connection authenticating with a custom header
    let world = World::custom_header().await;

    // WHEN BigCommerce delivers an order-created callback
    let reply = world.deliver("acme", &custom_header(), &order_created()).await;

    // THEN it is answered 200 with nothing in the body, and one message points at the order
    assert_eq!(reply, Reply { status: StatusCode::OK, body: String::new() });
    let messages = world.messages();
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(message.order, OrderRef::new(acme(), 250));
    assert_eq!(message.scope, "store/order/created");
    // Without a webhook-id the delivery id is unique to this copy, never the order's data hash.
    assert!(message.delivery.starts_with("webhook-") && message.delivery.len() == 8 + 32, "{}", message.delivery);
    assert_eq!(message.source, MessageSource::Webhook);
    assert_eq!(message.received_at, now());
    assert_eq!(message.group_id(), "acme#250");
    // AND the order's audit trail says it was received, with the message id and scope
    let (event, _) = world.only_event();
    assert_eq!(event.key.to_string(), "acme#bc-order#250");
    assert_eq!((event.stage, event.outcome), (Stage::Received, Outcome::Ok));
    let detail = event.detail.unwrap();
    assert_eq!(detail["message_id"], "message-1");
    assert_eq!(detail["scope"], "store/order/created");
    assert_eq!(detail["stub"]["data"]["id"], 250);
    // AND the order is marked queued at the delivery's time, for the order sweep
    assert_eq!(world.marked_at(250).await, Some(now()));
}

#[tokio::test]
async fn the_same_delivery_three_times_queues_one_message_and_audits_two_duplicates() {
    let world = World::custom_header().await;

    for _ in 0..3 {
        let reply = world.deliver("acme", &custom_header_with_id("msg_1"), &order_created()).await;
        assert_eq!(reply.status, StatusCode::OK);
    }

    assert_eq!(world.messages().len(), 1);
    assert_eq!(
        world.outcomes(),
        vec![
            (Stage::Received, Outcome::Ok),
            (Stage::Received, Outcome::Duplicate),
            (Stage::Received, Outcome::Duplicate)
        ]
    );
}

#[tokio::test]
async fn an_update_of_the_same_order_is_a_new_delivery_and_is_queued_too() {
    let world = World::custom_header().await;
    world.deliver("acme", &custom_header_with_id("msg_1"), &order_created()).await;

    // BigCommerce's `hash` covers only `data` ({type, id}): every event of one order shares it.
    let updated = callback_at("store/order/updated", json!("250"), HASH, 1_764_000_060);
    let reply = world.deliver("acme", &custom_header_with_id("msg_2"), &updated).await;
    let updated_again = callback_at("store/order/updated", json!(250), HASH, 1_764_000_120);
    world.deliver("acme", &custom_header_with_id("msg_3"), &updated_again).await;

    assert_eq!(reply.status, StatusCode::OK);
    let scopes: Vec<String> = world.messages().into_iter().map(|m| m.scope).collect();
    assert_eq!(scopes, vec!["store/order/created", "store/order/updated", "store/order/updated"]);
    // AND a retry of the first update (its webhook-id) is still a duplicate
    world.deliver("acme", &custom_header_with_id("msg_2"), &updated).await;
    assert_eq!(world.messages().len(), 3);
}

#[tokio::test]
async fn two_updates_of_one_order_in_the_same_second_with_different_webhook_ids_are_both_queued() {
    // GIVEN two updates of order 250 within one second: byte-identical bodies, two messages
    let world = World::custom_header().await;
    let updated = callback("store/order/updated", json!(250), HASH);

    // WHEN both are delivered, and then the second is retried
    let first = world.deliver("acme", &custom_header_with_id("msg_first"), &updated).await;
    let second = world.deliver("acme", &custom_header_with_id("msg_second"), &updated).await;
    let retry = world.deliver("acme", &custom_header_with_id("msg_second"), &updated).await;

    // THEN both updates are queued under their webhook-ids, and only the retry is a duplicate
    assert_eq!((first.status, second.status, retry.status), (StatusCode::OK, StatusCode::OK, StatusCode::OK));
    let deliveries: Vec<String> = world.messages().into_iter().map(|m| m.delivery).collect();
    assert_eq!(deliveries, vec!["msg_first", "msg_second"]);
    let messages = world.messages();
    assert_ne!(messages[0].dedupe_id(), messages[1].dedupe_id(), "SQS must not drop the second either");
    assert_eq!(
        world.outcomes(),
        vec![(Stage::Received, Outcome::Ok), (Stage::Received, Outcome::Ok), (Stage::Received, Outcome::Duplicate)]
    );
    let duplicate = world.audit.events().pop().unwrap();
    assert_eq!(duplicate.message.as_deref(), Some("this delivery (webhook-id) was already queued"));
}

#[tokio::test]
async fn deliveries_without_a_webhook_id_are_all_queued_since_a_retry_cannot_be_told_from_a_new_event() {
    // GIVEN a store sending only its custom header: a retry and a second same-second update of
    // the order are the same bytes
    let world = World::custom_header().await;
    let updated = callback("store/order/updated", json!(250), HASH);

    // WHEN the body arrives twice
    world.deliver("acme", &custom_header(), &updated).await;
    world.deliver("acme", &custom_header(), &updated).await;

    // THEN both are queued, with de-duplication ids that cannot collide (the worker makes a
    // repeat cheap instead), and nothing is claimed
    let messages = world.messages();
    assert_eq!(messages.len(), 2);
    assert_ne!(messages[0].delivery, messages[1].delivery);
    assert_ne!(messages[0].dedupe_id(), messages[1].dedupe_id());
    assert_eq!(world.outcomes(), vec![(Stage::Received, Outcome::Ok), (Stage::Received, Outcome::Ok)]);
}

#[tokio::test]
async fn a_duplicate_after_the_claim_expired_is_queued_again() {
    let world = World::custom_header().await;
    world.deliver("acme", &custom_header_with_id("msg_1"), &order_created()).await;

    let a_day_later = now() + Duration::hours(DELIVERY_TTL_HOURS) + Duration::seconds(1);
    world.deliver_at("acme", &custom_header_with_id("msg_1"), &order_created(), a_day_later).await;

    assert_eq!(world.messages().len(), 2);
}

#[tokio::test]
async fn a_mark_that_cannot_be_saved_still_answers_200_with_the_message_queued() {
    let world = World::custom_header().await;
    let ports = Ports { queue_marks: &Down, ..world.ports() };

    let delivery = Delivery { connection_id: "acme", headers: &custom_header(), body: &order_created(), now: now() };
    let reply = handle(&ports, &delivery).await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(world.messages().len(), 1);
    let (event, _) = world.only_event();
    assert_eq!(event.outcome, Outcome::Ok);
    assert!(event.message.unwrap().starts_with("queued; not marked queued"));
}

#[tokio::test]
async fn a_forged_custom_header_is_refused_401_and_audited_rejected_without_payload_or_header_values() {
    let world = World::custom_header().await;

    let forged = headers(&[("X-Millwright-Auth", "guessed-value"), ("webhook-id", "msg_2abc")]);
    let reply = world.deliver("acme", &forged, &order_created()).await;

    assert_eq!(reply, Reply { status: StatusCode::UNAUTHORIZED, body: "X-Millwright-Auth does not match".into() });
    assert!(world.messages().is_empty());
    let (event, json) = world.only_event();
    assert_eq!(event.key.to_string(), "acme#bc-webhook#msg_2abc");
    assert_eq!(event.outcome, Outcome::Rejected);
    assert_eq!(event.error_class, Some(ErrorClass::Auth));
    assert_eq!(event.message.as_deref(), Some("X-Millwright-Auth does not match"));
    for leaked in ["guessed-value", WEBHOOK_SECRET, CLIENT_SECRET, HASH, "store/order/created", "1025646"] {
        assert!(!json.contains(leaked), "{leaked} in {json}");
    }
}

#[tokio::test]
async fn a_missing_auth_header_is_refused_401_naming_the_header() {
    let world = World::custom_header().await;

    let reply = world.deliver("acme", &HeaderMap::new(), &order_created()).await;

    assert_eq!(reply, Reply { status: StatusCode::UNAUTHORIZED, body: "X-Millwright-Auth is missing".into() });
    assert!(world.messages().is_empty());
    let (event, _) = world.only_event();
    // Without a usable webhook-id the record is named by the body's hash.
    assert!(event.key.id.starts_with("sha256-") && event.key.id.len() == 7 + 64, "{}", event.key);
    assert_eq!(event.outcome, Outcome::Rejected);
}

#[tokio::test]
async fn a_standard_webhooks_delivery_passes_when_fresh_and_is_refused_when_stale() {
    let world = World::with_modes(json!([{"mode": "standard_webhooks", "required": true}])).await;
    let body = order_created();

    let fresh = world.deliver("acme", &standard_headers(&body, now().timestamp()), &body).await;
    assert_eq!(fresh.status, StatusCode::OK);

    let stale = world.deliver("acme", &standard_headers(&body, now().timestamp() - 3600), &body).await;
    assert_eq!(stale.status, StatusCode::UNAUTHORIZED);
    assert_eq!(stale.body, "webhook-timestamp is outside the 300 s tolerance of the receiver's clock");
    assert_eq!(world.messages().len(), 1);
    assert_eq!(world.outcomes().last(), Some(&(Stage::Received, Outcome::Rejected)));
}

#[tokio::test]
async fn a_standard_webhooks_signature_over_a_tampered_body_is_refused() {
    let world = World::with_modes(json!([{"mode": "standard_webhooks"}])).await;
    let signed = standard_headers(&order_created(), now().timestamp());

    let tampered = callback("store/order/created", json!(251), HASH);
    let reply = world.deliver("acme", &signed, &tampered).await;

    assert_eq!(reply, Reply { status: StatusCode::UNAUTHORIZED, body: "webhook-signature does not match".into() });
    assert!(world.messages().is_empty());
}

#[tokio::test]
async fn malformed_json_is_refused_400_and_audited() {
    let world = World::custom_header().await;

    let reply = world.deliver("acme", &custom_header(), b"{\"scope\": ").await;

    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.body.starts_with("body is not valid JSON"), "{}", reply.body);
    let (event, _) = world.only_event();
    assert_eq!((event.outcome, event.error_class), (Outcome::Rejected, Some(ErrorClass::Data)));
    assert!(world.messages().is_empty());
}

#[tokio::test]
async fn a_callback_without_an_order_id_is_refused_400_naming_the_field() {
    let world = World::custom_header().await;
    let body = serde_json::to_vec(&json!({
        "scope": "store/order/created", "store_id": 1025646, "data": {"type": "order"},
        "hash": HASH, "created_at": 1_764_000_000, "producer": "stores/abc123"
    }))
    .unwrap();

    let reply = world.deliver("acme", &custom_header(), &body).await;

    assert_eq!(reply, Reply { status: StatusCode::BAD_REQUEST, body: "missing field data.id".into() });
    assert_eq!(world.only_event().0.message.as_deref(), Some("missing field data.id"));
}

#[tokio::test]
async fn a_callback_produced_by_another_store_is_refused_400_naming_the_producer() {
    let world = World::custom_header().await;
    let mut body: Value = serde_json::from_slice(&order_created()).unwrap();
    body["producer"] = json!("stores/other");

    let reply = world.deliver("acme", &custom_header(), &serde_json::to_vec(&body).unwrap()).await;

    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body, "producer stores/other does not match this connection's store");
    assert!(world.messages().is_empty());
    assert_eq!(world.only_event().0.outcome, Outcome::Rejected);
}

#[tokio::test]
async fn an_unknown_or_invalid_connection_is_404_and_nothing_is_audited() {
    let world = World::custom_header().await;

    for connection in ["nobody", "Not A Connection", "", "acme#1"] {
        let reply = world.deliver(connection, &custom_header(), &order_created()).await;
        assert_eq!(reply, Reply { status: StatusCode::NOT_FOUND, body: "unknown connection".into() }, "{connection}");
    }
    assert!(world.audit.events().is_empty());
    assert!(world.messages().is_empty());
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_413_by_its_length_or_its_declared_length() {
    let world = World::custom_header().await;

    let huge = vec![b' '; MAX_BODY_BYTES + 1];
    let reply = world.deliver("acme", &custom_header(), &huge).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);

    let mut declared = custom_header();
    declared.insert(header::CONTENT_LENGTH, HeaderValue::from(MAX_BODY_BYTES + 1));
    let reply = world.deliver("acme", &declared, &order_created()).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);

    // Checked before anything else: even an unknown connection gets 413.
    assert_eq!(world.deliver("nobody", &declared, b"{}").await.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(world.messages().is_empty());
}

#[tokio::test]
async fn a_scope_other_than_order_created_or_updated_is_acknowledged_and_audited_skipped() {
    let world = World::custom_header().await;

    let body = callback("store/order/statusUpdated", json!(250), HASH);
    let reply = world.deliver("acme", &custom_header(), &body).await;

    assert_eq!(reply, Reply { status: StatusCode::OK, body: String::new() });
    assert!(world.messages().is_empty());
    let (event, _) = world.only_event();
    assert_eq!(event.key.to_string(), "acme#bc-order#250");
    assert_eq!((event.stage, event.outcome), (Stage::Received, Outcome::Skipped));
    assert_eq!(event.message.as_deref(), Some("scope store/order/statusUpdated is not processed"));
}

#[tokio::test]
async fn a_stock_event_is_acknowledged_and_nothing_is_queued_or_stored() {
    let world = World::custom_header().await;
    let mut stock =
        serde_json::from_slice::<serde_json::Value>(&callback("store/sku/inventory/updated", json!(77), HASH)).unwrap();
    stock["data"] = json!({"type": "sku", "id": 77, "location_id": 1,
        "inventory": {"product_id": 12, "variant_id": 77, "method": "absolute", "value": 5}});
    let body = serde_json::to_vec(&stock).unwrap();

    let reply = world.deliver("acme", &custom_header(), &body).await;

    assert_eq!(reply, Reply { status: StatusCode::OK, body: String::new() });
    assert!(world.messages().is_empty());
    assert!(world.audit.events().is_empty(), "{:?}", world.audit.events());
}

#[tokio::test]
async fn a_failing_queue_answers_503_and_a_later_retry_of_the_same_delivery_is_queued() {
    // GIVEN SQS refuses the first send
    let world = World::custom_header().await;
    world.queue.failures.store(1, Ordering::SeqCst);

    // WHEN the delivery arrives, THEN BigCommerce is told to retry and nothing is claimed
    let first = world.deliver("acme", &custom_header_with_id("msg_1"), &order_created()).await;
    assert_eq!(first.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(world.messages().is_empty());
    assert_eq!(world.marked_at(250).await, None, "nothing queued, nothing marked");

    // WHEN BigCommerce retries a minute later, THEN the message is queued once
    let retry = world
        .deliver_at("acme", &custom_header_with_id("msg_1"), &order_created(), now() + Duration::seconds(60))
        .await;
    assert_eq!(retry.status, StatusCode::OK);
    assert_eq!(world.messages().len(), 1);
    assert_eq!(world.outcomes(), vec![(Stage::Received, Outcome::Retried), (Stage::Received, Outcome::Ok)]);
    let failure = &world.audit.events()[0];
    assert_eq!(failure.error_class, Some(ErrorClass::Transient));
    assert!(failure.message.as_deref().unwrap().starts_with("queueing the order:"), "{failure:?}");
}

#[tokio::test]
async fn an_immediate_retry_after_a_queue_failure_is_queued_too() {
    let world = World::custom_header().await;
    world.queue.failures.store(1, Ordering::SeqCst);

    world.deliver("acme", &custom_header_with_id("msg_1"), &order_created()).await;
    let retry = world.deliver("acme", &custom_header_with_id("msg_1"), &order_created()).await;

    assert_eq!(retry.status, StatusCode::OK);
    assert_eq!(world.messages().len(), 1);
}

#[tokio::test]
async fn an_unavailable_dedupe_store_answers_503_and_queues_nothing() {
    let world = World::custom_header().await;
    let ports = Ports { dedupe: &Down, ..world.ports() };

    let delivery = Delivery {
        connection_id: "acme",
        headers: &custom_header_with_id("msg_1"),
        body: &order_created(),
        now: now(),
    };
    let reply = handle(&ports, &delivery).await;

    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(world.messages().is_empty());
    assert_eq!(world.outcomes(), vec![(Stage::Received, Outcome::Retried)]);
}

#[tokio::test]
async fn a_queued_message_is_answered_200_even_when_the_audit_table_is_down() {
    let world = World::custom_header().await;
    let ports = Ports { audit: &Down, ..world.ports() };

    let delivery = Delivery { connection_id: "acme", headers: &custom_header(), body: &order_created(), now: now() };
    let reply = handle(&ports, &delivery).await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(world.messages().len(), 1);
}

#[tokio::test]
async fn a_secret_without_the_field_an_enabled_mode_needs_is_a_500_naming_the_field() {
    let secret = json!({"access_token": "t", "client_secret": CLIENT_SECRET});
    let world =
        World::with(profile(json!([{"mode": "custom_header", "header": "X-Millwright-Auth"}])), Some(secret)).await;

    let reply = world.deliver("acme", &custom_header(), &order_created()).await;

    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!reply.body.contains("webhook_secret"), "the sender is not told about the configuration");
    assert!(world.messages().is_empty());
    let (event, _) = world.only_event();
    assert_eq!((event.outcome, event.error_class), (Outcome::Failed, Some(ErrorClass::Data)));
    assert_eq!(
        event.message.as_deref(),
        Some(
            "secret millwright/acme/bigcommerce: the custom_header webhook authentication mode needs the secret \
             field `webhook_secret`, which is missing"
        )
    );
}

#[tokio::test]
async fn a_connection_without_its_bigcommerce_secret_is_a_500_naming_the_secret() {
    let world = World::with(profile(json!([{"mode": "x_bc_signature"}])), None).await;

    let reply = world.deliver("acme", &headers(&[("X-BC-Signature", "00")]), &order_created()).await;

    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    let (event, _) = world.only_event();
    assert_eq!(event.outcome, Outcome::Failed);
    assert!(event.message.unwrap().contains("millwright/acme/bigcommerce"));
}

#[tokio::test]
async fn a_secret_document_that_is_not_json_is_a_500_that_does_not_quote_it() {
    let mut world = World::custom_header().await;
    world.secrets = StaticSecrets::default()
        .with(&SecretName::new("millwright", acme(), System::Bigcommerce), "acme-webhook-secret and more");

    let reply = world.deliver("acme", &custom_header(), &order_created()).await;

    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    let (_, json) = world.only_event();
    assert!(json.contains("is not valid JSON") && !json.contains(WEBHOOK_SECRET), "{json}");
}

#[tokio::test]
async fn a_profile_with_no_auth_mode_authenticates_nothing() {
    let world = World::with_modes(json!([])).await;

    let reply = world.deliver("acme", &custom_header(), &order_created()).await;

    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(world.messages().is_empty());
    let (event, _) = world.only_event();
    assert_eq!(event.outcome, Outcome::Failed);
    assert_eq!(event.message.as_deref(), Some("connection profile: the connection has no webhook authentication mode"));
}

#[tokio::test]
async fn the_secret_is_read_from_the_configured_prefix() {
    let world = World::custom_header().await;
    let other_prefix = Ports { secret_prefix: "other-stack", ..world.ports() };
    let secret = SecretString::from(json!({"webhook_secret": WEBHOOK_SECRET}).to_string());
    world.secrets.put(&SecretName::new("other-stack", acme(), System::Bigcommerce), &secret).await.unwrap();

    let delivery = Delivery { connection_id: "acme", headers: &custom_header(), body: &order_created(), now: now() };
    assert_eq!(handle(&other_prefix, &delivery).await.status, StatusCode::OK);
}

#[test]
fn a_webhook_id_names_the_record_only_when_it_is_a_plain_token() {
    let body = b"{}";
    let record = |id: &str| {
        let headers = headers(&[("webhook-id", id)]);
        delivery_ref(&Delivery { connection_id: "acme", headers: &headers, body, now: now() })
    };
    assert_eq!(record("msg_2abc-1.x"), "msg_2abc-1.x");
    assert!(record("msg#1").starts_with("sha256-"));
    assert!(record(&"a".repeat(65)).starts_with("sha256-"));
}

#[tokio::test]
async fn a_removed_connections_callback_is_acknowledged_audited_and_not_queued() {
    // GIVEN a connection removed by an operator (parked)
    let mut parked = profile(json!([{"mode": "custom_header", "header": "X-Millwright-Auth"}]));
    parked.parked_at = Some(now() - chrono::Duration::hours(1));
    let secret = json!({"access_token": "t", "client_secret": CLIENT_SECRET, "webhook_secret": WEBHOOK_SECRET});
    let world = World::with(parked, Some(secret)).await;

    // WHEN BigCommerce delivers a callback it still had in flight
    let reply = world.deliver("acme", &custom_header(), &order_created()).await;

    // THEN it is answered 200 (so it is not retried), audited as skipped, and nothing is queued
    assert_eq!(reply.status, StatusCode::OK);
    assert!(world.messages().is_empty());
    let (event, _) = world.only_event();
    assert_eq!(event.outcome, Outcome::Skipped);
    assert!(event.message.as_deref().unwrap().starts_with("connection removed at"), "{event:?}");
    assert_eq!(world.marked_at(250).await, None);
}
