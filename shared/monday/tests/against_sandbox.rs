//! The monday.com client against the sandbox's monday double, started in-process on 127.0.0.1
//! for each test: the `me` query, a wrong token, injected 429/503/403/slow responses, and
//! complexity-budget errors in monday's HTTP-200 shapes. Real time, with waits of a second or two.

use std::time::{Duration, Instant};

use domain::ErrorClass;
use millwright_http::HttpSettings;
use monday::{Credentials, Error, MondayClient};
use sandbox::{Sandbox, SandboxConfig, System, demo};
use secrecy::SecretString;
use serde_json::{Value, json};

const API_VERSION: &str = "2026-10";

async fn start_sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig { seed_demo: true, ..Default::default() }).await.expect("sandbox starts")
}

fn client(sandbox: &Sandbox, token: &str) -> MondayClient {
    client_with(sandbox, token, &HttpSettings::for_local_double())
}

fn client_with(sandbox: &Sandbox, token: &str, settings: &HttpSettings) -> MondayClient {
    let secret = SecretString::from(json!({ "api_token": token, "signing_secret": "sig-test" }).to_string());
    let credentials = Credentials::from_secret_json(&secret).expect("credentials");
    MondayClient::new(settings, &format!("{}/v2", sandbox.monday_url), API_VERSION, credentials).expect("client")
}

async fn control(sandbox: &Sandbox, path: &str, body: Value) {
    sandbox.control(System::Monday, path, body).await
}

/// The double's request log (API requests only; control requests are not logged).
async fn request_log(sandbox: &Sandbox) -> Vec<Value> {
    sandbox.request_log(System::Monday).await
}

fn statuses(log: &[Value]) -> Vec<Option<u64>> {
    log.iter().map(|entry| entry["status"].as_u64()).collect()
}

#[tokio::test]
async fn me_returns_the_seeded_user_and_account() {
    let sandbox = start_sandbox().await;

    let me = client(&sandbox, demo::MONDAY_TOKEN).me().await.expect("me");

    assert_eq!(me.id, demo::MONDAY_USER_ID.to_string());
    assert_eq!(me.name, demo::MONDAY_USER_NAME);
    assert_eq!(me.email, demo::MONDAY_USER_EMAIL);
    assert_eq!(me.account_id, demo::MONDAY_ACCOUNT_ID.to_string());
    assert_eq!(me.account_name, demo::MONDAY_ACCOUNT_NAME);
    let log = request_log(&sandbox).await;
    assert_eq!(log.len(), 1);
    assert_eq!((log[0]["method"].as_str(), log[0]["path"].as_str()), (Some("POST"), Some("/v2")));
    assert_eq!(log[0]["headers"]["api-version"], API_VERSION);
    assert!(log[0]["headers"]["content-type"].as_str().is_some_and(|value| value.starts_with("application/json")));
    assert_ne!(log[0]["headers"]["authorization"], Value::Null, "the token was sent");
    assert!(!log[0].to_string().contains(demo::MONDAY_TOKEN), "and the double redacted it");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_wrong_token_is_an_auth_error_that_is_not_retried_and_never_shown() {
    let sandbox = start_sandbox().await;
    let wrong_token = "monday-wrong-token-3d9f";

    let error = client(&sandbox, wrong_token).me().await.expect_err("401");

    assert_eq!(error.class(), ErrorClass::Auth);
    let shown = format!("{error} {error:?}");
    assert!(shown.starts_with("monday.com POST /v2: 401 Unauthorized (auth)"), "{shown}");
    assert!(!shown.contains(wrong_token), "{shown}");
    assert_eq!(request_log(&sandbox).await.len(), 1);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn two_429s_are_waited_out_and_the_third_attempt_succeeds() {
    let sandbox = start_sandbox().await;
    control(&sandbox, "faults", json!({ "times": 2, "fault": { "kind": "rate_limit", "retry_after_seconds": 1 } }))
        .await;
    let started = Instant::now();

    client(&sandbox, demo::MONDAY_TOKEN).me().await.expect("third time lucky");

    assert!(started.elapsed() >= Duration::from_secs(2), "the 1 s waits were honoured: {:?}", started.elapsed());
    assert_eq!(statuses(&request_log(&sandbox).await), vec![Some(429), Some(429), Some(200)]);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_503_is_retried() {
    let sandbox = start_sandbox().await;
    control(&sandbox, "faults", json!({ "times": 1, "fault": { "kind": "server_error", "status": 503 } })).await;

    client(&sandbox, demo::MONDAY_TOKEN).me().await.expect("retried");

    assert_eq!(statuses(&request_log(&sandbox).await), vec![Some(503), Some(200)]);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_response_slower_than_the_timeout_is_abandoned_and_retried() {
    let sandbox = start_sandbox().await;
    control(&sandbox, "faults", json!({ "times": 1, "fault": { "kind": "delay", "ms": 1000 } })).await;
    // 300 ms per attempt: the first attempt is abandoned well before the 1 s delay ends.
    let impatient = HttpSettings::for_local_double().with_timeout(Duration::from_millis(300));
    let started = Instant::now();

    client_with(&sandbox, demo::MONDAY_TOKEN, &impatient).me().await.expect("the second attempt");

    assert!(started.elapsed() < Duration::from_millis(1000), "did not wait for the slow answer");
    assert_eq!(request_log(&sandbox).await.len(), 2);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_403_is_a_permission_error_and_is_not_retried() {
    let sandbox = start_sandbox().await;
    control(&sandbox, "faults", json!({ "fault": "forbidden" })).await;

    let error = client(&sandbox, demo::MONDAY_TOKEN).me().await.expect_err("403");

    assert_eq!(error.class(), ErrorClass::Permission);
    assert_eq!(request_log(&sandbox).await.len(), 1);
    assert!(!format!("{error} {error:?}").contains(demo::MONDAY_TOKEN));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_complexity_error_with_http_200_is_retried_after_its_wait() {
    let sandbox = start_sandbox().await;
    let body = json!({ "errors": [{
        "message": "Complexity budget exhausted",
        "extensions": { "code": "COMPLEXITY_BUDGET_EXHAUSTED", "retry_in_seconds": 1 }
    }] });
    control(&sandbox, "faults", json!({ "times": 1, "fault": { "kind": "custom", "status": 200, "body": body } }))
        .await;
    let started = Instant::now();

    let me = client(&sandbox, demo::MONDAY_TOKEN).me().await.expect("retried after the wait");

    assert_eq!(me.account_name, demo::MONDAY_ACCOUNT_NAME);
    assert!(started.elapsed() >= Duration::from_secs(1), "retry_in_seconds honoured: {:?}", started.elapsed());
    assert_eq!(statuses(&request_log(&sandbox).await), vec![Some(200), Some(200)]);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_legacy_complexity_wait_past_the_deadline_is_handed_back_with_its_wait() {
    // The legacy shape (HTTP 200, `error_code: ComplexityException`, "reset in N seconds") with a
    // budget too small for any query: the reset is up to a minute away, past the 10 s deadline,
    // so the client gives up at once and says how long to wait (what an SQS worker needs).
    let sandbox = start_sandbox().await;
    control(&sandbox, "config", json!({ "complexity_budget": 1, "complexity_error_format": "legacy" })).await;

    let error = client(&sandbox, demo::MONDAY_TOKEN).me().await.expect_err("budget exhausted");

    assert_eq!(error.class(), ErrorClass::RateLimited);
    let Error::Http(http) = &error else { panic!("expected an HTTP error, got {error:?}") };
    assert_eq!(http.code(), Some("ComplexityException"));
    assert_eq!(http.attempts(), 1);
    assert!(http.retry_after().is_some_and(|wait| wait > Duration::from_secs(10)), "{:?}", http.retry_after());
    assert_eq!(statuses(&request_log(&sandbox).await), vec![Some(200)]);
    sandbox.shutdown().await;
}
