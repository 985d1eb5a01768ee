//! The BigCommerce client against the sandbox's BigCommerce double, started in-process on
//! 127.0.0.1 for each test: success, wrong credentials, injected 429/503/403/slow responses, and
//! pacing under a tiny quota. Real time, with windows and waits shrunk to keep each test short.

use std::time::{Duration, Instant};

use bigcommerce::{BigCommerceClient, Credentials, Error};
use domain::ErrorClass;
use millwright_http::{HttpSettings, RetryPolicy};
use sandbox::{Sandbox, SandboxConfig, demo};
use secrecy::SecretString;
use serde_json::{Value, json};

async fn start_sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig { seed_demo: true, ..Default::default() }).await.expect("sandbox starts")
}

/// Quick retries, so a test never waits long; a per-attempt timeout that only the slow-response
/// test (which shortens it) should ever reach.
fn settings() -> HttpSettings {
    HttpSettings {
        timeout: Duration::from_secs(2),
        retry: RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            deadline: Duration::from_secs(10),
        },
    }
}

/// `settings()` with a 300 ms per-attempt timeout, for outlasting with a 1 s `delay` fault.
fn impatient_settings() -> HttpSettings {
    HttpSettings { timeout: Duration::from_millis(300), ..settings() }
}

fn client(sandbox: &Sandbox, token: &str) -> BigCommerceClient {
    client_with(sandbox, token, &settings())
}

fn client_with(sandbox: &Sandbox, token: &str, settings: &HttpSettings) -> BigCommerceClient {
    let secret = SecretString::from(json!({ "access_token": token, "client_secret": "cs-test" }).to_string());
    let credentials = Credentials::from_secret_json(&secret).expect("credentials");
    BigCommerceClient::new(settings, &sandbox.bigcommerce_url, demo::BIGCOMMERCE_STORE_HASH, credentials)
        .expect("client")
}

async fn control(sandbox: &Sandbox, path: &str, body: Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/__control/{path}", sandbox.bigcommerce_url))
        .json(&body)
        .send()
        .await
        .expect("control plane reachable");
    assert!(response.status().is_success(), "control {path}: {}", response.text().await.unwrap_or_default());
}

/// The double's request log (API requests only; control requests are not logged).
async fn request_log(sandbox: &Sandbox) -> Vec<Value> {
    reqwest::get(format!("{}/__control/requests", sandbox.bigcommerce_url))
        .await
        .expect("request log")
        .json()
        .await
        .expect("request log is JSON")
}

fn statuses(log: &[Value]) -> Vec<Option<u64>> {
    log.iter().map(|entry| entry["status"].as_u64()).collect()
}

#[tokio::test]
async fn store_information_returns_the_seeded_store() {
    let sandbox = start_sandbox().await;

    let store = client(&sandbox, demo::BIGCOMMERCE_ACCESS_TOKEN).store_information().await.expect("store information");

    assert_eq!(store.id, demo::BIGCOMMERCE_STORE_HASH);
    assert_eq!(store.store_id, Some(demo::BIGCOMMERCE_STORE_ID));
    assert_eq!(store.name, "Millwright Demo Store");
    assert_eq!(store.domain, "demo-store.millwright.example");
    assert_eq!(store.plan_name.as_deref(), Some("Plus"));
    let log = request_log(&sandbox).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["path"], "/stores/demo-store/v2/store");
    assert_eq!(log[0]["headers"]["accept"], "application/json");
    assert!(log[0]["headers"]["user-agent"].as_str().is_some_and(|agent| agent.starts_with("Millwright/")));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_wrong_access_token_is_an_auth_error_that_never_shows_the_token() {
    let sandbox = start_sandbox().await;
    let wrong_token = "bc-wrong-token-5f1e";

    let error = client(&sandbox, wrong_token).store_information().await.expect_err("401");

    assert_eq!(error.class(), ErrorClass::Auth);
    let Error::Http(http) = &error else { panic!("expected an HTTP error, got {error:?}") };
    assert_eq!(http.status().map(|status| status.as_u16()), Some(401));
    assert_eq!(http.attempts(), 1, "auth errors are not retried");
    let shown = format!("{error} {error:?}");
    assert!(shown.starts_with("BigCommerce GET /stores/demo-store/v2/store: 401 Unauthorized (auth)"), "{shown}");
    assert!(!shown.contains(wrong_token), "{shown}");
    let log = request_log(&sandbox).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["headers"]["x-auth-token"], sandbox::REDACTED);
    assert!(!log[0].to_string().contains(wrong_token));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn two_429s_are_waited_out_and_the_third_attempt_succeeds() {
    let sandbox = start_sandbox().await;
    // A short window makes the 429's X-Rate-Limit-Time-Reset-Ms short too.
    control(&sandbox, "config", json!({ "rate_limit": { "window_ms": 200 } })).await;
    control(&sandbox, "faults", json!({ "path_contains": "/v2/store", "times": 2, "fault": "rate_limit" })).await;

    let store = client(&sandbox, demo::BIGCOMMERCE_ACCESS_TOKEN).store_information().await.expect("third time lucky");

    assert_eq!(store.id, demo::BIGCOMMERCE_STORE_HASH);
    assert_eq!(statuses(&request_log(&sandbox).await), vec![Some(429), Some(429), Some(200)]);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_503_from_the_gateway_is_retried() {
    let sandbox = start_sandbox().await;
    control(&sandbox, "faults", json!({ "times": 1, "fault": { "kind": "server_error", "status": 503 } })).await;

    client(&sandbox, demo::BIGCOMMERCE_ACCESS_TOKEN).store_information().await.expect("retried");

    assert_eq!(statuses(&request_log(&sandbox).await), vec![Some(503), Some(200)]);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_response_slower_than_the_timeout_is_abandoned_and_retried() {
    let sandbox = start_sandbox().await;
    control(&sandbox, "faults", json!({ "times": 1, "fault": { "kind": "delay", "ms": 1000 } })).await;
    let started = Instant::now();

    client_with(&sandbox, demo::BIGCOMMERCE_ACCESS_TOKEN, &impatient_settings())
        .store_information()
        .await
        .expect("the second attempt");

    assert!(started.elapsed() < Duration::from_millis(1000), "did not wait for the slow answer");
    assert_eq!(request_log(&sandbox).await.len(), 2);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_403_is_a_permission_error_and_is_not_retried() {
    let sandbox = start_sandbox().await;
    control(&sandbox, "faults", json!({ "fault": "forbidden" })).await;

    let error = client(&sandbox, demo::BIGCOMMERCE_ACCESS_TOKEN).store_information().await.expect_err("403");

    assert_eq!(error.class(), ErrorClass::Permission);
    assert_eq!(request_log(&sandbox).await.len(), 1);
    assert!(!format!("{error} {error:?}").contains(demo::BIGCOMMERCE_ACCESS_TOKEN));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn pacing_from_the_rate_headers_keeps_a_tiny_quota_free_of_429s() {
    let sandbox = start_sandbox().await;
    control(&sandbox, "config", json!({ "rate_limit": { "quota": 3, "window_ms": 400 } })).await;
    let client = client(&sandbox, demo::BIGCOMMERCE_ACCESS_TOKEN);

    for call in 0..8 {
        client.store_information().await.unwrap_or_else(|error| panic!("call {call}: {error}"));
    }

    let log = request_log(&sandbox).await;
    assert_eq!(log.len(), 8, "no retries were needed");
    assert!(statuses(&log).iter().all(|status| *status == Some(200)), "{:?}", statuses(&log));
    sandbox.shutdown().await;
}
