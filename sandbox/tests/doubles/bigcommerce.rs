//! The BigCommerce double: auth, store lookup, endpoints, and the per-store request quota.

use std::time::Duration;

use reqwest::StatusCode;
use sandbox::demo;
use serde_json::json;

use crate::support::{self, body, header, number_header};

#[tokio::test]
async fn the_store_token_opens_store_information() {
    let world = support::start().await;
    let response = world.bigcommerce_get("/v2/store").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "content-type"), Some("application/json"));
    let store = body(response).await;
    assert_eq!(store["id"], demo::BIGCOMMERCE_STORE_HASH);
    assert_eq!(store["store_id"], demo::BIGCOMMERCE_STORE_ID);
    assert_eq!(store["name"], "Millwright Demo Store");
    assert_eq!(store["secure_url"], "https://demo-store.millwright.example");
    for field in ["domain", "control_panel_base_url", "timezone", "currency", "plan_level", "features"] {
        assert!(!store[field].is_null(), "store information lacks {field}");
    }
    let time = body(world.bigcommerce_get("/v2/time").await).await;
    assert!(time["time"].as_i64().unwrap() > 1_700_000_000);
}

#[tokio::test]
async fn missing_or_wrong_tokens_get_401_in_each_generations_error_shape() {
    let world = support::start().await;

    // v3: an object with status, title and type.
    let missing = world.http.get(world.store("/v3/hooks")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    let error = body(missing).await;
    assert_eq!(error["status"], 401);
    assert!(error["title"].as_str().unwrap().starts_with("Unauthorized"));
    assert!(error["type"].as_str().unwrap().contains("api-status-codes"));

    // v2: an array of {status, message}.
    let wrong = world.http.get(world.store("/v2/store")).header("X-Auth-Token", "not-the-token").send().await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(header(&wrong, "x-rate-limit-requests-left").is_none(), "unauthenticated calls do not spend quota");
    let error = body(wrong).await;
    assert_eq!(error[0]["status"], 401);
    assert!(error[0]["message"].is_string());

    // The deprecated X-Auth-Client header changes nothing.
    let with_client = world
        .http
        .get(world.store("/v2/store"))
        .header("X-Auth-Token", demo::BIGCOMMERCE_ACCESS_TOKEN)
        .header("X-Auth-Client", "anything")
        .send()
        .await
        .unwrap();
    assert_eq!(with_client.status(), StatusCode::OK);
}

#[tokio::test]
async fn unknown_store_hashes_and_unknown_routes_are_404() {
    let world = support::start().await;
    let unknown_store = world
        .http
        .get(format!("{}/stores/no-such-store/v3/hooks", world.sandbox.bigcommerce_url))
        .header("X-Auth-Token", demo::BIGCOMMERCE_ACCESS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown_store.status(), StatusCode::NOT_FOUND);
    assert_eq!(body(unknown_store).await["status"], 404);

    let unknown_route = world.bigcommerce_get("/v3/no/such/thing").await;
    assert_eq!(unknown_route.status(), StatusCode::NOT_FOUND);
    assert!(header(&unknown_route, "x-rate-limit-requests-left").is_some());

    let outside = world.http.get(format!("{}/v3/hooks", world.sandbox.bigcommerce_url)).send().await.unwrap();
    assert_eq!(outside.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn hooks_list_only_the_callers_hooks_with_pagination_meta() {
    let world = support::start().await;
    let base = &world.sandbox.bigcommerce_url;

    // GIVEN no hooks yet: an empty page, not a 204
    let empty = body(world.bigcommerce_get("/v3/hooks").await).await;
    assert_eq!(empty["data"], json!([]));
    assert_eq!(empty["meta"]["pagination"]["total"], 0);

    // AND three hooks: two of the demo account (one inactive), one of another app
    world
        .seed(
            base,
            json!({"stores": [{
                "store_hash": demo::BIGCOMMERCE_STORE_HASH,
                "api_accounts": [{"client_id": "other-app", "access_token": "other-token"}],
                "hooks": [
                    {"scope": "store/order/created", "destination": "https://hooks.example/bc", "is_active": true,
                     "headers": {"X-Bridge-Auth": "shared-secret"}},
                    {"scope": "store/order/updated", "destination": "https://hooks.example/bc", "is_active": false},
                    {"client_id": "other-app", "scope": "store/order/created", "destination": "https://other.example"}
                ]
            }]}),
        )
        .await;

    // WHEN the demo account lists its hooks
    let page = body(world.bigcommerce_get("/v3/hooks").await).await;

    // THEN it sees only its own, in the spec's shape
    assert_eq!(page["meta"]["pagination"]["total"], 2, "{page}");
    assert_eq!(page["data"][0]["client_id"], demo::BIGCOMMERCE_CLIENT_ID);
    assert_eq!(page["data"][0]["store_hash"], demo::BIGCOMMERCE_STORE_HASH);
    assert_eq!(page["data"][0]["headers"]["X-Bridge-Auth"], "shared-secret");
    assert!(page["data"][0]["created_at"].is_i64());

    let inactive = body(world.bigcommerce_get("/v3/hooks?is_active=false").await).await;
    assert_eq!(inactive["data"].as_array().unwrap().len(), 1);
    assert_eq!(inactive["data"][0]["scope"], "store/order/updated");

    let paged = body(world.bigcommerce_get("/v3/hooks?limit=1&page=2").await).await;
    assert_eq!(paged["meta"]["pagination"]["total_pages"], 2);
    assert_eq!(paged["meta"]["pagination"]["count"], 1);
    assert!(paged["meta"]["pagination"]["links"]["previous"].is_string());

    let invalid = world.bigcommerce_get("/v3/hooks?is_active=maybe").await;
    assert_eq!(invalid.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let other = world.http.get(world.store("/v3/hooks")).header("X-Auth-Token", "other-token").send().await.unwrap();
    assert_eq!(body(other).await["data"][0]["destination"], "https://other.example");
}

#[tokio::test]
async fn rate_limit_headers_count_down_then_429_then_the_quota_refreshes() {
    let world = support::start().await;
    let base = &world.sandbox.bigcommerce_url;
    // GIVEN a quota of 3 per 1 000 ms window (the real one is 150 per 30 000 ms)
    world.configure(base, json!({"rate_limit": {"quota": 3, "window_ms": 1000}})).await;

    // WHEN three requests use it up
    let mut lefts = Vec::new();
    for _ in 0..3 {
        let response = world.bigcommerce_get("/v2/store").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(number_header(&response, "x-rate-limit-requests-quota"), 3);
        assert_eq!(number_header(&response, "x-rate-limit-time-window-ms"), 1000);
        let reset = number_header(&response, "x-rate-limit-time-reset-ms");
        assert!((0..=1000).contains(&reset), "reset {reset}");
        lefts.push(number_header(&response, "x-rate-limit-requests-left"));
    }
    assert_eq!(lefts, [2, 1, 0]);

    // THEN the fourth is refused with the same headers and a wait
    let refused = world.bigcommerce_get("/v3/hooks").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(number_header(&refused, "x-rate-limit-requests-left"), 0);
    assert_eq!(number_header(&refused, "x-rate-limit-requests-quota"), 3);
    assert!(number_header(&refused, "x-retry-after") >= 1);
    let reset_ms = number_header(&refused, "x-rate-limit-time-reset-ms");
    assert!((1..=1000).contains(&reset_ms), "reset {reset_ms}");
    assert_eq!(body(refused).await["status"], 429);

    // AND another store's quota is untouched
    world
        .seed(
            base,
            json!({"stores": [{"store_hash": "second", "api_accounts": [{"client_id": "c2", "access_token": "t2"}]}]}),
        )
        .await;
    let second =
        world.http.get(format!("{base}/stores/second/v2/store")).header("X-Auth-Token", "t2").send().await.unwrap();
    assert_eq!(second.status(), StatusCode::OK);

    // AND after the advertised reset the quota is full again
    tokio::time::sleep(Duration::from_millis(u64::try_from(reset_ms).unwrap() + 20)).await;
    let recovered = world.bigcommerce_get("/v2/store").await;
    assert_eq!(recovered.status(), StatusCode::OK);
    assert_eq!(number_header(&recovered, "x-rate-limit-requests-left"), 2);
}

#[tokio::test]
async fn moving_the_clock_past_the_window_also_refreshes_the_quota() {
    let world = support::start().await;
    let base = &world.sandbox.bigcommerce_url;
    world.configure(base, json!({"rate_limit": {"quota": 1}})).await;
    assert_eq!(world.bigcommerce_get("/v2/store").await.status(), StatusCode::OK);
    assert_eq!(world.bigcommerce_get("/v2/store").await.status(), StatusCode::TOO_MANY_REQUESTS);
    world.control(base, reqwest::Method::PUT, "/clock", Some(json!({"advance_seconds": 31}))).await;
    assert_eq!(world.bigcommerce_get("/v2/store").await.status(), StatusCode::OK);
}
