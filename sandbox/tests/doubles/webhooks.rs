//! The BigCommerce double's webhook sender: "place an order" on the control plane and watch the
//! callback arrive at a tiny receiver started on 127.0.0.1 inside each test. Signatures are checked
//! here independently (hmac, sha2, sha1, base64), not with the double's own code.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use reqwest::Method;
use sandbox::{REDACTED, SandboxConfig, demo};
use serde_json::{Value, json};
use sha1::Digest;

use crate::support::{self, World, body};

/// The shared secret the tests register as the hook's custom header.
const HOOK_SECRET: &str = "wh-test-shared-secret-7f3a";

/// One callback as the receiver saw it.
#[derive(Debug, Clone)]
struct Call {
    headers: HeaderMap,
    body: Bytes,
    at: Instant,
}

impl Call {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the callback body is JSON")
    }
}

/// A receiver that answers the statuses in `script` in turn, then `otherwise`.
#[derive(Clone)]
struct Receiver {
    url: String,
    calls: Arc<Mutex<Vec<Call>>>,
    script: Arc<Mutex<VecDeque<u16>>>,
    otherwise: u16,
}

impl Receiver {
    async fn start(script: &[u16], otherwise: u16) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the receiver");
        let address = listener.local_addr().expect("receiver address");
        let receiver = Receiver {
            url: format!("http://{address}/bigcommerce/webhook"),
            calls: Arc::default(),
            script: Arc::new(Mutex::new(script.iter().copied().collect())),
            otherwise,
        };
        let app = Router::new().route("/bigcommerce/webhook", post(receive)).with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        receiver
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// Waits until `count` callbacks have arrived (or fails after a while).
    async fn wait_for(&self, count: usize) -> Vec<Call> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let calls = self.calls();
            if calls.len() >= count {
                return calls;
            }
            assert!(Instant::now() < deadline, "only {} of {count} callbacks arrived", calls.len());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    receiver.calls.lock().unwrap().push(Call { headers, body, at: Instant::now() });
    let status = receiver.script.lock().unwrap().pop_front().unwrap_or(receiver.otherwise);
    StatusCode::from_u16(status).unwrap()
}

/// Registers a hook for the demo account through the API; returns its id.
async fn register(world: &World, scope: &str, destination: &str) -> u64 {
    let response = world
        .http
        .post(world.store("/v3/hooks"))
        .header("X-Auth-Token", demo::BIGCOMMERCE_ACCESS_TOKEN)
        .json(&json!({"scope": scope, "destination": destination, "is_active": true,
                      "headers": {"X-Millwright-Auth": HOOK_SECRET}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    body(response).await["data"]["id"].as_u64().unwrap()
}

fn an_order() -> Value {
    json!({"status_id": 11, "customer_id": 0,
           "billing_address": {"first_name": "Sam", "last_name": "Guest", "country_iso2": "US"},
           "shipping_addresses": [{"first_name": "Sam", "street_1": "9 Elm Street", "country_iso2": "US"}],
           "products": [{"product_id": 112, "variant_id": 212, "sku": "MW-NUT-M8", "name": "Hex Nut M8",
                         "quantity": 10, "price_ex_tax": "0.1200"}]})
}

/// `POST /__control/orders` with `options` merged into the order; returns the answer.
async fn place(world: &World, options: Value) -> Value {
    let mut document = an_order();
    if let (Value::Object(order), Value::Object(options)) = (&mut document, options) {
        order.extend(options);
    }
    let (status, placed) = world.control(&world.sandbox.bigcommerce_url, Method::POST, "/orders", Some(document)).await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{placed}");
    placed
}

async fn deliveries(world: &World) -> Vec<Value> {
    let (_, log) = world.control(&world.sandbox.bigcommerce_url, Method::GET, "/deliveries", None).await;
    log.as_array().cloned().unwrap_or_default()
}

/// Waits until the delivery log satisfies `done`.
async fn wait_for_log(world: &World, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let log = deliveries(world).await;
        if done(&log) {
            return log;
        }
        assert!(Instant::now() < deadline, "the delivery log never got there: {log:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// Standard Webhooks verification, written from the spec: the key is the raw client secret.
fn standard_signature_verifies(call: &Call, secret: &str) -> bool {
    let (Some(id), Some(timestamp), Some(signatures)) =
        (call.header("webhook-id"), call.header("webhook-timestamp"), call.header("webhook-signature"))
    else {
        return false;
    };
    let mut message = format!("{id}.{timestamp}.").into_bytes();
    message.extend_from_slice(&call.body);
    let expected = format!("v1,{}", BASE64.encode(hmac_sha256(secret.as_bytes(), &message)));
    signatures.split(' ').any(|signature| signature == expected)
}

#[tokio::test]
async fn placing_an_order_sends_a_signed_callback_with_the_custom_header_to_the_hook() {
    let world = support::start().await;
    let receiver = Receiver::start(&[], 200).await;
    let hook_id = register(&world, "store/order/created", &receiver.url).await;

    // WHEN an order is placed
    let placed = place(&world, json!({})).await;

    // THEN the answer names the order and the one delivery, before the callback arrives
    let order_id = placed["order_id"].as_u64().unwrap();
    assert_eq!(placed["deliveries"].as_array().unwrap().len(), 1, "{placed}");
    let calls = receiver.wait_for(1).await;
    let call = &calls[0];

    // AND the body is BigCommerce's callback, with the unkeyed SHA-1 of the data
    let callback = call.json();
    assert_eq!(callback["scope"], "store/order/created");
    assert_eq!(callback["store_id"], demo::BIGCOMMERCE_STORE_ID.to_string());
    assert_eq!(callback["producer"], format!("stores/{}", demo::BIGCOMMERCE_STORE_HASH));
    assert_eq!(callback["data"], json!({"type": "order", "id": order_id}));
    let data = format!(r#"{{"type":"order","id":{order_id}}}"#);
    assert_eq!(callback["hash"], hex::encode(sha1::Sha1::digest(data.as_bytes())));
    let now = chrono::Utc::now().timestamp();
    assert!((callback["created_at"].as_i64().unwrap() - now).abs() < 60);
    assert_eq!(call.header("content-type"), Some("application/json"));

    // AND it carries the registered header and a Standard Webhooks signature made with the client secret
    assert_eq!(call.header("x-millwright-auth"), Some(HOOK_SECRET));
    assert!(standard_signature_verifies(call, demo::BIGCOMMERCE_CLIENT_SECRET), "{:?}", call.headers);
    let timestamp: i64 = call.header("webhook-timestamp").unwrap().parse().unwrap();
    assert!((timestamp - now).abs() < 60);
    assert!(call.header("x-bc-signature").is_none(), "X-BC-Signature is off by default");

    // AND the order is there to fetch
    let order = body(world.bigcommerce_get(&format!("/v2/orders/{order_id}")).await).await;
    assert_eq!(order["customer_id"], 0);

    // AND the delivery log has the attempt, secrets redacted
    let log = wait_for_log(&world, |log| !log.is_empty()).await;
    let entry = &log[0];
    assert_eq!(entry["hook_id"], hook_id);
    assert_eq!(entry["order_id"], order_id);
    assert_eq!(entry["attempt"], 1);
    assert_eq!(entry["status"], 200);
    assert_eq!(entry["outcome"], "delivered");
    assert_eq!(entry["destination"], receiver.url);
    assert_eq!(entry["headers"]["x-millwright-auth"], REDACTED);
    assert_eq!(entry["headers"]["webhook-signature"], REDACTED);
    assert_eq!(entry["headers"]["webhook-id"], call.header("webhook-id").unwrap());
    assert_eq!(entry["body"], String::from_utf8(call.body.to_vec()).unwrap());
    assert!(!Value::Array(log.clone()).to_string().contains(HOOK_SECRET));
}

#[tokio::test]
async fn x_bc_signature_is_sent_in_hex_or_base64_when_the_store_or_the_config_asks() {
    let world = support::start().await;
    let base = &world.sandbox.bigcommerce_url;
    let receiver = Receiver::start(&[], 200).await;
    register(&world, "store/order/created", &receiver.url).await;

    // GIVEN the store signs with X-BC-Signature in hex, and not with Standard Webhooks
    world
        .seed(
            base,
            json!({"stores": [{"store_hash": demo::BIGCOMMERCE_STORE_HASH,
                               "webhook_signing": {"x_bc_signature": "hex", "standard_webhooks": false}}]}),
        )
        .await;
    place(&world, json!({})).await;
    let hex_call = receiver.wait_for(1).await.remove(0);
    let expected = hmac_sha256(demo::BIGCOMMERCE_CLIENT_SECRET.as_bytes(), &hex_call.body);
    assert_eq!(hex_call.header("x-bc-signature"), Some(hex::encode(&expected).as_str()));
    assert!(hex_call.header("webhook-signature").is_none());
    assert_eq!(hex_call.header("x-millwright-auth"), Some(HOOK_SECRET));

    // WHEN the store's choice is changed to base64
    world
        .seed(base, json!({"stores": [{"store_hash": demo::BIGCOMMERCE_STORE_HASH, "webhook_signing": {"x_bc_signature": "base64"}}]}))
        .await;
    place(&world, json!({})).await;
    let base64_call = receiver.wait_for(2).await.remove(1);
    let expected = hmac_sha256(demo::BIGCOMMERCE_CLIENT_SECRET.as_bytes(), &base64_call.body);
    assert_eq!(base64_call.header("x-bc-signature"), Some(BASE64.encode(expected).as_str()));

    // AND the double's configuration is the default for stores that say nothing
    let config = world.configure(base, json!({"webhooks": {"signing": {"custom_headers": false}}})).await;
    assert_eq!(config["webhooks"]["signing"]["custom_headers"], false);
    place(&world, json!({})).await;
    let bare = receiver.wait_for(3).await.remove(2);
    assert!(bare.header("x-millwright-auth").is_none());
}

#[tokio::test]
async fn deliveries_three_sends_three_identical_callbacks() {
    let world = support::start().await;
    let receiver = Receiver::start(&[], 200).await;
    register(&world, "store/order/created", &receiver.url).await;

    let placed = place(&world, json!({"deliveries": 3})).await;

    assert_eq!(placed["deliveries"].as_array().unwrap().len(), 3);
    let calls = receiver.wait_for(3).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(receiver.calls().len(), 3, "no more than asked for");
    assert!(calls.iter().all(|call| call.body == calls[0].body), "same body, same hash");
    let ids: Vec<Option<&str>> = calls.iter().map(|call| call.header("webhook-id")).collect();
    assert!(ids.iter().all(|id| id.is_some() && *id == ids[0]), "one message, delivered three times: {ids:?}");
    assert!(calls.iter().all(|call| standard_signature_verifies(call, demo::BIGCOMMERCE_CLIENT_SECRET)));
}

#[tokio::test]
async fn a_receiver_that_answers_500_twice_gets_retried_on_the_scaled_schedule_then_succeeds() {
    // 60 s and 180 s become 60 ms and 180 ms.
    let world =
        support::start_with(SandboxConfig { seed_demo: true, time_scale: 0.001, ..SandboxConfig::default() }).await;
    let receiver = Receiver::start(&[500, 500], 200).await;
    register(&world, "store/order/created", &receiver.url).await;

    place(&world, json!({})).await;

    let calls = receiver.wait_for(3).await;
    let log = wait_for_log(&world, |log| log.len() >= 3).await;
    let statuses: Vec<&Value> = log.iter().map(|entry| &entry["status"]).collect();
    assert_eq!(statuses, [&json!(500), &json!(500), &json!(200)]);
    assert_eq!(log.iter().map(|entry| entry["attempt"].as_u64().unwrap()).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(log[0]["retry_in_ms"], 60);
    assert_eq!(log[1]["retry_in_ms"], 180);
    assert_eq!(log[2]["outcome"], "delivered");
    assert!(calls[1].at - calls[0].at >= Duration::from_millis(60));
    assert!(calls[2].at - calls[1].at >= Duration::from_millis(180));
    assert!(calls.iter().all(|call| call.body == calls[0].body));
    let hooks = body(world.bigcommerce_get("/v3/hooks").await).await;
    assert_eq!(hooks["data"][0]["is_active"], true);
}

#[tokio::test]
async fn a_receiver_that_always_fails_gets_the_hook_deactivated_after_the_last_retry() {
    // The whole 48 h schedule shrinks to under two seconds.
    let world =
        support::start_with(SandboxConfig { seed_demo: true, time_scale: 0.000_01, ..SandboxConfig::default() }).await;
    let receiver = Receiver::start(&[], 503).await;
    let hook_id = register(&world, "store/order/created", &receiver.url).await;

    place(&world, json!({})).await;

    // THEN one attempt plus eleven retries, the last of which deactivates the hook
    let log = wait_for_log(&world, |log| log.iter().any(|entry| entry["hook_deactivated"] == true)).await;
    assert_eq!(log.len(), 12, "{log:?}");
    assert!(log.iter().all(|entry| entry["status"] == 503 && entry["outcome"] == "failed"));
    assert_eq!(log[11]["retry_in_ms"], Value::Null);
    let hook = body(world.bigcommerce_get(&format!("/v3/hooks/{hook_id}")).await).await;
    assert_eq!(hook["data"]["is_active"], false);

    // AND a later order calls nobody until the hook is reactivated with PUT
    let placed = place(&world, json!({})).await;
    assert_eq!(placed["deliveries"], json!([]));
    let response = world
        .http
        .put(world.store(&format!("/v3/hooks/{hook_id}")))
        .header("X-Auth-Token", demo::BIGCOMMERCE_ACCESS_TOKEN)
        .json(&json!({"is_active": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(body(response).await["data"]["is_active"], true);
    assert_eq!(place(&world, json!({})).await["deliveries"].as_array().unwrap().len(), 1);
    assert!(receiver.calls().len() >= 12);
}

#[tokio::test]
async fn a_receiver_slower_than_the_timeout_counts_as_a_failed_delivery() {
    let world = support::start().await;
    let base = &world.sandbox.bigcommerce_url;
    world.configure(base, json!({"webhooks": {"timeout_ms": 150}})).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/slow", listener.local_addr().unwrap());
    let slow = Router::new().route(
        "/slow",
        post(|| async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            StatusCode::OK
        }),
    );
    tokio::spawn(async move { axum::serve(listener, slow).await });
    register(&world, "store/order/created", &url).await;

    place(&world, json!({"retries": false})).await;

    let log = wait_for_log(&world, |log| !log.is_empty()).await;
    assert_eq!(log[0]["status"], Value::Null);
    assert!(log[0]["error"].as_str().unwrap().contains("no answer within 150 ms"), "{}", log[0]);
    assert_eq!(log[0]["outcome"], "failed");
    assert_eq!(log[0]["retry_in_ms"], Value::Null, "retries were turned off for this order");
}

#[tokio::test]
async fn forged_callbacks_spoil_exactly_what_they_name() {
    let world = support::start().await;
    let receiver = Receiver::start(&[], 200).await;
    register(&world, "store/order/created", &receiver.url).await;
    let secret = demo::BIGCOMMERCE_CLIENT_SECRET;

    place(&world, json!({"forge": "signature"})).await;
    let forged = receiver.wait_for(1).await.remove(0);
    assert!(forged.header("webhook-signature").is_some());
    assert!(!standard_signature_verifies(&forged, secret), "signed with the wrong key");

    place(&world, json!({"forge": "stale_timestamp"})).await;
    let stale = receiver.wait_for(2).await.remove(1);
    assert!(standard_signature_verifies(&stale, secret), "correctly signed, just old");
    let age = chrono::Utc::now().timestamp() - stale.header("webhook-timestamp").unwrap().parse::<i64>().unwrap();
    assert!(age >= 590, "{age} s old");

    place(&world, json!({"forge": "missing_signature"})).await;
    let unsigned = receiver.wait_for(3).await.remove(2);
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature", "x-bc-signature"] {
        assert!(unsigned.header(name).is_none(), "{name} was sent");
    }
    assert_eq!(unsigned.header("x-millwright-auth"), Some(HOOK_SECRET));

    place(&world, json!({"forge": "wrong_headers"})).await;
    let wrong = receiver.wait_for(4).await.remove(3);
    assert_ne!(wrong.header("x-millwright-auth"), Some(HOOK_SECRET));
    assert!(standard_signature_verifies(&wrong, secret));

    place(&world, json!({"forge": "missing_headers"})).await;
    let headerless = receiver.wait_for(5).await.remove(4);
    assert!(headerless.header("x-millwright-auth").is_none());

    let log = wait_for_log(&world, |log| log.len() >= 5).await;
    assert_eq!(log[0]["forge"], "signature");
}

#[tokio::test]
async fn changing_an_order_bumps_date_modified_and_calls_the_updated_hooks_only() {
    let world = support::start().await;
    let base = &world.sandbox.bigcommerce_url;
    let created = Receiver::start(&[], 200).await;
    let updated = Receiver::start(&[], 200).await;
    let wildcard = Receiver::start(&[], 200).await;
    register(&world, "store/order/created", &created.url).await;
    register(&world, "store/order/updated", &updated.url).await;
    register(&world, "store/order/*", &wildcard.url).await;
    let before = body(world.bigcommerce_get(&format!("/v2/orders/{}", demo::BIGCOMMERCE_DEMO_ORDER_ID)).await).await;
    world.control(base, Method::PUT, "/clock", Some(json!({"advance_seconds": 3600}))).await;

    // WHEN the demo order ships
    let path = format!("/orders/{}", demo::BIGCOMMERCE_DEMO_ORDER_ID);
    let (status, answer) = world.control(base, Method::PUT, &path, Some(json!({"status_id": 2}))).await;

    // THEN the order shows it, modified later, and only `updated` (and the wildcard) hear of it
    assert_eq!(status, reqwest::StatusCode::OK, "{answer}");
    assert_eq!(answer["deliveries"].as_array().unwrap().len(), 2);
    let after = body(world.bigcommerce_get(&format!("/v2/orders/{}", demo::BIGCOMMERCE_DEMO_ORDER_ID)).await).await;
    assert_eq!(after["status"], "Shipped");
    let modified =
        |order: &Value| chrono::DateTime::parse_from_rfc2822(order["date_modified"].as_str().unwrap()).unwrap();
    assert!(modified(&after) > modified(&before), "{} then {}", before["date_modified"], after["date_modified"]);
    assert_eq!(updated.wait_for(1).await[0].json()["scope"], "store/order/updated");
    assert_eq!(wildcard.wait_for(1).await[0].json()["data"]["id"], demo::BIGCOMMERCE_DEMO_ORDER_ID);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(created.calls().is_empty());

    let (status, _) = world.control(base, Method::PUT, "/orders/424242", Some(json!({"status_id": 2}))).await;
    assert_eq!(status, reqwest::StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn destinations_off_this_machine_are_never_contacted_and_fail_instead() {
    let world = support::start().await;
    register(&world, "store/order/created", "https://hooks.example/bigcommerce").await;

    place(&world, json!({"retries": false})).await;

    let log = wait_for_log(&world, |log| !log.is_empty()).await;
    assert_eq!(log[0]["outcome"], "failed");
    assert!(log[0]["error"].as_str().unwrap().contains("loopback"), "{}", log[0]);
}

#[tokio::test]
async fn shutting_down_the_sandbox_stops_pending_retries_at_once() {
    // Real time: the first retry would come after 60 s.
    let world = support::start().await;
    let receiver = Receiver::start(&[], 500).await;
    register(&world, "store/order/created", &receiver.url).await;
    place(&world, json!({})).await;
    wait_for_log(&world, |log| !log.is_empty()).await;

    let started = Instant::now();
    world.sandbox.shutdown().await;

    assert!(started.elapsed() < Duration::from_secs(3), "shutdown waited {:?}", started.elapsed());
    assert_eq!(receiver.calls().len(), 1);
}

#[tokio::test]
async fn a_reset_forgets_the_deliveries_and_bad_delivery_options_are_refused() {
    let world = support::start().await;
    let base = &world.sandbox.bigcommerce_url;
    let receiver = Receiver::start(&[], 200).await;
    register(&world, "store/order/created", &receiver.url).await;
    place(&world, json!({})).await;
    wait_for_log(&world, |log| !log.is_empty()).await;

    for (options, complaint) in [
        (json!({"deliveries": 0}), "deliveries"),
        (json!({"forge": "everything"}), "forge"),
        (json!({"store_hash": "nope"}), "nope"),
        (json!({"colour": "blue"}), "colour"),
    ] {
        let mut document = an_order();
        if let (Value::Object(order), Value::Object(options)) = (&mut document, options) {
            order.extend(options);
        }
        let (status, error) = world.control(base, Method::POST, "/orders", Some(document)).await;
        assert!(status.is_client_error(), "{error}");
        assert!(error["error"].as_str().unwrap().contains(complaint), "{complaint}: {error}");
    }

    world.control(base, Method::POST, "/reset", None).await;
    assert!(deliveries(&world).await.is_empty());
}
