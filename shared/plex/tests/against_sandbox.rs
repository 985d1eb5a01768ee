//! The Plex client against the sandbox's Plex double, started in-process on 127.0.0.1 for each
//! test: both auth modes, token expiry and refresh, tenant selection, and injected 429/503/403/slow
//! responses. Real time, with waits kept to a second or two.

use std::time::{Duration, Instant};

use domain::ErrorClass;
use domain::connection::PlexAuthMode;
use millwright_http::{HttpSettings, RetryPolicy};
use plex::{Credentials, Error, PlexClient};
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

fn credentials(document: Value) -> Credentials {
    Credentials::from_secret_json(&SecretString::from(document.to_string())).expect("credentials")
}

/// `settings()` with a 300 ms per-attempt timeout, for outlasting with a 1 s `delay` fault.
fn impatient_settings() -> HttpSettings {
    HttpSettings { timeout: Duration::from_millis(300), ..settings() }
}

fn api_key_client(sandbox: &Sandbox, key: &str, tenant_id: Option<&str>) -> PlexClient {
    api_key_client_with(sandbox, key, tenant_id, &settings())
}

fn api_key_client_with(sandbox: &Sandbox, key: &str, tenant_id: Option<&str>, settings: &HttpSettings) -> PlexClient {
    PlexClient::new(
        settings,
        &sandbox.plex_url,
        &PlexAuthMode::ApiKey,
        tenant_id,
        credentials(json!({ "api_key": key })),
    )
    .expect("client")
}

fn oauth_client(sandbox: &Sandbox, client_secret: &str) -> PlexClient {
    let document = json!({ "client_id": demo::PLEX_OAUTH_CLIENT_ID, "client_secret": client_secret });
    PlexClient::new(
        &settings(),
        &sandbox.plex_url,
        &PlexAuthMode::OAuth2 { token_url: None },
        None,
        credentials(document),
    )
    .expect("client")
}

async fn control(sandbox: &Sandbox, path: &str, body: Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/__control/{path}", sandbox.plex_url))
        .json(&body)
        .send()
        .await
        .expect("control plane reachable");
    assert!(response.status().is_success(), "control {path}: {}", response.text().await.unwrap_or_default());
}

async fn use_oauth2(sandbox: &Sandbox) {
    control(sandbox, "config", json!({ "auth": { "mode": "oauth2" } })).await;
}

/// The double's request log (API requests only; control requests are not logged).
async fn request_log(sandbox: &Sandbox) -> Vec<Value> {
    reqwest::get(format!("{}/__control/requests", sandbox.plex_url))
        .await
        .expect("request log")
        .json()
        .await
        .expect("request log is JSON")
}

/// `METHOD path status` per logged request, for compact assertions.
async fn exchanges(sandbox: &Sandbox) -> Vec<String> {
    request_log(sandbox)
        .await
        .iter()
        .map(|entry| {
            format!(
                "{} {} {}",
                entry["method"].as_str().unwrap_or("?"),
                entry["path"].as_str().unwrap_or("?"),
                entry["status"]
            )
        })
        .collect()
}

fn tenant_codes(tenants: &[plex::Tenant]) -> Vec<&str> {
    tenants.iter().filter_map(|tenant| tenant.code.as_deref()).collect()
}

#[tokio::test]
async fn tenants_lists_the_seeded_tenants_with_the_api_key() {
    let sandbox = start_sandbox().await;

    let tenants = api_key_client(&sandbox, demo::PLEX_API_KEY, None).tenants().await.expect("tenants");

    assert_eq!(tenant_codes(&tenants), vec![demo::PLEX_TENANT_CODE, demo::PLEX_SECOND_TENANT_CODE]);
    assert_eq!(tenants[0].id, demo::PLEX_TENANT_ID);
    let log = request_log(&sandbox).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["headers"]["x-plex-connect-api-key"], sandbox::REDACTED, "sent, and redacted by the double");
    assert!(log[0]["headers"].get("x-plex-connect-tenant-id").is_none());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_configured_tenant_id_is_sent_on_every_request() {
    let sandbox = start_sandbox().await;

    api_key_client(&sandbox, demo::PLEX_API_KEY, Some(demo::PLEX_SECOND_TENANT_ID)).tenants().await.expect("tenants");

    let log = request_log(&sandbox).await;
    assert_eq!(log[0]["headers"]["x-plex-connect-tenant-id"], demo::PLEX_SECOND_TENANT_ID);
    assert_eq!(log[0]["status"], 200);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_wrong_api_key_is_an_auth_error_that_is_not_retried_and_never_shown() {
    let sandbox = start_sandbox().await;
    let wrong_key = "plex-wrong-key-77c1";

    let error = api_key_client(&sandbox, wrong_key, None).tenants().await.expect_err("401");

    assert_eq!(error.class(), ErrorClass::Auth);
    let shown = format!("{error} {error:?}");
    assert!(
        shown.starts_with("Plex GET /mdm/v1/tenants: 401 Unauthorized (auth): {\"code\":\"REQUEST_NOT_AUTHENTICATED\""),
        "{shown}"
    );
    assert!(!shown.contains(wrong_key), "{shown}");
    assert_eq!(exchanges(&sandbox).await, vec!["GET /mdm/v1/tenants 401"]);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn two_429s_are_waited_out_for_their_retry_after_and_the_third_attempt_succeeds() {
    let sandbox = start_sandbox().await;
    control(
        &sandbox,
        "faults",
        json!({ "path_prefix": "/mdm/", "times": 2, "fault": { "kind": "rate_limit", "retry_after_seconds": 1 } }),
    )
    .await;
    let started = Instant::now();

    api_key_client(&sandbox, demo::PLEX_API_KEY, None).tenants().await.expect("third time lucky");

    assert!(started.elapsed() >= Duration::from_secs(2), "Retry-After: 1 honoured twice: {:?}", started.elapsed());
    assert_eq!(
        exchanges(&sandbox).await,
        vec!["GET /mdm/v1/tenants 429", "GET /mdm/v1/tenants 429", "GET /mdm/v1/tenants 200"]
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_503_is_retried() {
    let sandbox = start_sandbox().await;
    control(&sandbox, "faults", json!({ "times": 1, "fault": { "kind": "server_error", "status": 503 } })).await;

    api_key_client(&sandbox, demo::PLEX_API_KEY, None).tenants().await.expect("retried");

    assert_eq!(exchanges(&sandbox).await, vec!["GET /mdm/v1/tenants 503", "GET /mdm/v1/tenants 200"]);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_response_slower_than_the_timeout_is_abandoned_and_retried() {
    let sandbox = start_sandbox().await;
    control(&sandbox, "faults", json!({ "times": 1, "fault": { "kind": "delay", "ms": 1000 } })).await;
    let started = Instant::now();

    api_key_client_with(&sandbox, demo::PLEX_API_KEY, None, &impatient_settings())
        .tenants()
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

    let error = api_key_client(&sandbox, demo::PLEX_API_KEY, None).tenants().await.expect_err("403");

    assert_eq!(error.class(), ErrorClass::Permission);
    assert_eq!(request_log(&sandbox).await.len(), 1);
    assert!(!format!("{error} {error:?}").contains(demo::PLEX_API_KEY));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn oauth2_mode_fetches_a_token_once_and_sends_it_as_a_bearer() {
    let sandbox = start_sandbox().await;
    use_oauth2(&sandbox).await;
    let client = oauth_client(&sandbox, demo::PLEX_OAUTH_CLIENT_SECRET);

    let tenants = client.tenants().await.expect("tenants");
    client.tenants().await.expect("tenants again, same token");

    assert_eq!(tenant_codes(&tenants), vec![demo::PLEX_TENANT_CODE, demo::PLEX_SECOND_TENANT_CODE]);
    assert_eq!(
        exchanges(&sandbox).await,
        vec!["POST /oauth2/token 200", "GET /mdm/v1/tenants 200", "GET /mdm/v1/tenants 200"]
    );
    let log = request_log(&sandbox).await;
    assert_eq!(log[0]["headers"]["authorization"], "Basic [REDACTED]");
    assert_eq!(log[1]["headers"]["authorization"], "Bearer [REDACTED]");
    assert!(log[1]["headers"].get("x-plex-connect-api-key").is_none());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn an_expired_oauth2_token_is_refreshed_transparently() {
    let sandbox = start_sandbox().await;
    use_oauth2(&sandbox).await;
    let client = oauth_client(&sandbox, demo::PLEX_OAUTH_CLIENT_SECRET);
    client.tenants().await.expect("first call");

    control(&sandbox, "tokens/expire-all", json!({})).await;
    let tenants = client.tenants().await.expect("refreshed and retried");

    assert_eq!(tenants.len(), 2);
    assert_eq!(
        exchanges(&sandbox).await,
        vec![
            "POST /oauth2/token 200",
            "GET /mdm/v1/tenants 200",
            "GET /mdm/v1/tenants 401",
            "POST /oauth2/token 200",
            "GET /mdm/v1/tenants 200",
        ]
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_second_401_after_a_token_refresh_is_an_auth_error() {
    let sandbox = start_sandbox().await;
    use_oauth2(&sandbox).await;
    control(&sandbox, "faults", json!({ "path_prefix": "/mdm/", "times": 2, "fault": "unauthorized" })).await;

    let error = oauth_client(&sandbox, demo::PLEX_OAUTH_CLIENT_SECRET).tenants().await.expect_err("two 401s");

    assert_eq!(error.class(), ErrorClass::Auth);
    assert_eq!(
        exchanges(&sandbox).await,
        vec!["POST /oauth2/token 200", "GET /mdm/v1/tenants 401", "POST /oauth2/token 200", "GET /mdm/v1/tenants 401"]
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_wrong_oauth2_client_secret_is_an_auth_error_from_the_token_endpoint() {
    let sandbox = start_sandbox().await;
    use_oauth2(&sandbox).await;
    let wrong_secret = "plex-wrong-secret-90ab";

    let error = oauth_client(&sandbox, wrong_secret).tenants().await.expect_err("invalid_client");

    assert_eq!(error.class(), ErrorClass::Auth);
    let Error::Http(http) = &error else { panic!("expected an HTTP error, got {error:?}") };
    assert_eq!(http.code(), Some("invalid_client"));
    assert!(!format!("{error} {error:?}").contains(wrong_secret));
    assert_eq!(exchanges(&sandbox).await, vec!["POST /oauth2/token 401"]);
    sandbox.shutdown().await;
}
