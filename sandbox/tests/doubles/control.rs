//! The shared control plane: request log and its redaction, clock, reset, state dump, seed and
//! config validation.

use reqwest::{Method, StatusCode};
use sandbox::{REDACTED, demo};
use serde_json::json;

use crate::support::{self, body};

#[tokio::test]
async fn the_request_log_records_api_calls_and_never_their_secrets() {
    let world = support::start().await;

    // GIVEN calls carrying every kind of credential, one of them also in the query string
    world.bigcommerce_get("/v2/store?access_token=leaky-query-token").await;
    world.plex_get("/mdm/v1/parts?number=MW-BOLT-M8&api_key=leaky-query-key").await;
    world.http.get(world.plex("/mdm/v1/parts")).bearer_auth("bearer-secret-value").send().await.unwrap();
    let path = format!("/api/datasources/{}/execute", demo::PLEX_PART_LOOKUP_DATASOURCE_ID);
    world
        .http
        .post(world.plex(&path))
        .basic_auth(demo::PLEX_DATASOURCE_USER, Some(demo::PLEX_DATASOURCE_PASSWORD))
        .header("X-Plex-Connect-Api-Secret", "api-secret-value")
        .json(&json!({"inputs": {"Part_No": "MW-NUT-M8"}}))
        .send()
        .await
        .unwrap();
    world.monday_query("{ me { id } }").await;
    world.control(&world.sandbox.plex_url, Method::GET, "/state", None).await;

    // WHEN the logs are read
    let bigcommerce = world.requests(&world.sandbox.bigcommerce_url).await;
    let plex = world.requests(&world.sandbox.plex_url).await;
    let monday = world.requests(&world.sandbox.monday_url).await;

    // THEN no secret appears anywhere in them
    let everything = serde_json::to_string(&(&bigcommerce, &plex, &monday)).unwrap();
    for secret in [
        demo::BIGCOMMERCE_ACCESS_TOKEN,
        demo::PLEX_API_KEY,
        demo::PLEX_DATASOURCE_PASSWORD,
        demo::MONDAY_TOKEN,
        "leaky-query-token",
        "leaky-query-key",
        "bearer-secret-value",
        "api-secret-value",
    ] {
        assert!(!everything.contains(secret), "{secret} leaked into the request log: {everything}");
    }

    // AND each call is there with what a test needs to assert on
    assert_eq!(bigcommerce.len(), 1);
    assert_eq!(bigcommerce[0]["method"], "GET");
    assert_eq!(bigcommerce[0]["path"], "/stores/demo-store/v2/store");
    assert_eq!(bigcommerce[0]["status"], 200);
    assert_eq!(bigcommerce[0]["headers"]["x-auth-token"], REDACTED);
    assert_eq!(bigcommerce[0]["query"], format!("access_token={}", "%5BREDACTED%5D"));

    assert_eq!(plex.len(), 3, "control-plane calls are not logged: {plex:?}");
    assert_eq!(plex[0]["query"], "number=MW-BOLT-M8&api_key=%5BREDACTED%5D");
    assert_eq!(plex[0]["headers"]["x-plex-connect-api-key"], REDACTED);
    assert_eq!(plex[1]["headers"]["authorization"], "Bearer [REDACTED]");
    assert_eq!(plex[1]["status"], 401);
    assert_eq!(plex[2]["headers"]["authorization"], "Basic [REDACTED]");
    assert_eq!(plex[2]["headers"]["content-type"], "application/json");
    assert_eq!(plex[2]["method"], "POST");
    assert!(plex[2]["seq"].as_u64().unwrap() > plex[1]["seq"].as_u64().unwrap());

    assert_eq!(monday[0]["headers"]["authorization"], REDACTED);
    assert_eq!(monday[0]["headers"]["api-version"], "2026-10");

    // AND the log can be read from a point on, and cleared
    let (_, later) =
        world.control(&world.sandbox.plex_url, Method::GET, &format!("/requests?after={}", plex[1]["seq"]), None).await;
    assert_eq!(later.as_array().unwrap().len(), 1);
    world.control(&world.sandbox.plex_url, Method::DELETE, "/requests", None).await;
    assert!(world.requests(&world.sandbox.plex_url).await.is_empty());
}

#[tokio::test]
async fn the_clock_can_be_set_offset_advanced_and_frozen() {
    let world = support::start().await;
    let base = &world.sandbox.bigcommerce_url;
    let store_time = || async { body(world.bigcommerce_get("/v2/time").await).await["time"].as_i64().unwrap() };
    let clock = |change: serde_json::Value| world.control(base, Method::PUT, "/clock", Some(change));

    let (status, reading) = clock(json!({"now": "2030-01-01T00:00:00Z"})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(reading["now"].as_str().unwrap().starts_with("2030-01-01T00:00:0"));
    let now = store_time().await;
    assert!((1_893_456_000..1_893_456_005).contains(&now), "{now}");

    clock(json!({"offset_seconds": -86_400})).await;
    let yesterday = store_time().await;
    let real = chrono::Utc::now().timestamp();
    assert!((real - 86_400 - 5..=real - 86_400 + 5).contains(&yesterday), "{yesterday}");

    let (_, frozen) = clock(json!({"now": "2031-06-01T12:00:00Z", "freeze": true})).await;
    assert_eq!(frozen["frozen"], true);
    std::thread::sleep(std::time::Duration::from_millis(1_100));
    assert_eq!(store_time().await, 1_938_081_600);
    clock(json!({"advance_seconds": 90})).await;
    assert_eq!(store_time().await, 1_938_081_690);

    // The log's timestamps follow the double's clock too.
    let log = world.requests(base).await;
    assert!(log.last().unwrap()["time"].as_str().unwrap().starts_with("2031-06-01T12:01:30"));

    for bad in [
        json!({}),
        json!({"now": "yesterday"}),
        json!({"now": "2030-01-01T00:00:00Z", "offset_seconds": 1}),
        json!({"speed": 2}),
    ] {
        let (status, _) = clock(bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn reset_empties_a_double_and_can_reapply_the_demo_seed() {
    let world = support::start().await;
    let base = &world.sandbox.bigcommerce_url;
    world.configure(base, json!({"rate_limit": {"quota": 5}})).await;
    world.fault(base, json!({"path_contains": "/nothing", "fault": "forbidden"})).await;
    world.bigcommerce_get("/v2/store").await;
    world.control(base, Method::PUT, "/clock", Some(json!({"offset_seconds": 3600}))).await;

    let (status, _) = world.control(base, Method::POST, "/reset", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(world.bigcommerce_get("/v2/store").await.status(), StatusCode::NOT_FOUND, "the store is gone");
    let (_, state) = world.control(base, Method::GET, "/state", None).await;
    assert_eq!(state["config"]["rate_limit"]["quota"], 150);
    assert_eq!(state["faults"], json!([]));
    assert_eq!(state["clock"]["offset_ms"], 0);
    assert_eq!(state["data"]["stores"], json!([]));
    assert_eq!(world.requests(base).await.len(), 1, "only the call after the reset");

    let (status, _) = world.control(base, Method::POST, "/reset?seed=demo", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(world.bigcommerce_get("/v2/store").await.status(), StatusCode::OK);
    let (status, _) = world.control(base, Method::POST, "/reset?seed=other", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_state_dump_shows_each_doubles_data_with_credentials_redacted() {
    let world = support::start().await;
    world.plex_get("/mdm/v1/parts").await;
    world.monday_query("{ me { id } }").await;
    world.bigcommerce_get("/v2/store").await;

    let (_, bigcommerce) = world.control(&world.sandbox.bigcommerce_url, Method::GET, "/state", None).await;
    let (_, plex) = world.control(&world.sandbox.plex_url, Method::GET, "/state", None).await;
    let (_, monday) = world.control(&world.sandbox.monday_url, Method::GET, "/state", None).await;

    assert_eq!(bigcommerce["system"], "bigcommerce");
    let store = &bigcommerce["data"]["stores"][0];
    assert_eq!(store["products"].as_array().unwrap().len(), 3);
    assert_eq!(store["products"][2]["variants"][1]["sku"], "MW-BRKT-100-SS");
    assert_eq!(store["api_accounts"][0]["access_token"], REDACTED);
    assert_eq!(store["rate_limit"]["requests_left"], 149);

    assert_eq!(plex["system"], "plex");
    let tenant = &plex["data"]["tenants"][0];
    assert_eq!(tenant["code"], demo::PLEX_TENANT_CODE);
    assert_eq!(tenant["records"]["parts"].as_array().unwrap().len(), 5);
    assert_eq!(tenant["records"]["customers"].as_array().unwrap().len(), 4);
    assert_eq!(plex["data"]["api_keys"][0]["key"], REDACTED);
    assert_eq!(plex["data"]["api_keys"][0]["calls_in_window"], 1);
    assert_eq!(plex["data"]["datasources"][0]["id"], demo::PLEX_PART_LOOKUP_DATASOURCE_ID);

    assert_eq!(monday["system"], "monday");
    assert_eq!(monday["data"]["accounts"][0]["users"][0]["tokens"], json!([REDACTED]));
    assert!(monday["data"]["accounts"][0]["complexity_left"].as_u64().unwrap() < 10_000_000);

    let everything = serde_json::to_string(&(&bigcommerce, &plex, &monday)).unwrap();
    for secret in [
        demo::BIGCOMMERCE_ACCESS_TOKEN,
        demo::BIGCOMMERCE_CLIENT_SECRET,
        demo::PLEX_API_KEY,
        demo::PLEX_OAUTH_CLIENT_SECRET,
        demo::PLEX_DATASOURCE_PASSWORD,
        demo::MONDAY_TOKEN,
    ] {
        assert!(!everything.contains(secret), "{secret} leaked into a state dump");
    }
}

#[tokio::test]
async fn seeds_and_configs_are_checked_and_unknown_control_paths_are_404() {
    let world = support::start().await;
    let plex = &world.sandbox.plex_url;

    let (status, error) = world.control(plex, Method::POST, "/config", Some(json!({"auth": {"mode": "magic"}}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error["error"].as_str().unwrap().contains("config"), "{error}");
    let (status, _) = world.control(plex, Method::POST, "/config", Some(json!({"no_such_setting": 1}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = world.control(plex, Method::POST, "/seed", Some(json!({"api_key": []}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a misspelt seed key is refused, not ignored");
    let (status, _) =
        world.control(&world.sandbox.monday_url, Method::POST, "/seed", Some(json!({"accounts": [{"id": 1}]}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, error) = world.control(plex, Method::GET, "/nothing-here", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(error["error"].is_string());

    // A config patch only changes what it names.
    let config = world.configure(plex, json!({"auth": {"token_ttl_ms": 5}})).await;
    assert_eq!(config["auth"]["mode"], "api_key");
    assert_eq!(config["auth"]["token_ttl_ms"], 5);
}

#[tokio::test]
async fn the_control_plane_is_not_rate_limited() {
    let world = support::start().await;
    let base = &world.sandbox.bigcommerce_url;
    world.configure(base, json!({"rate_limit": {"quota": 1}})).await;
    for _ in 0..5 {
        let (status, _) = world.control(base, Method::GET, "/state", None).await;
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(world.bigcommerce_get("/v2/store").await.status(), StatusCode::OK);
    assert_eq!(world.bigcommerce_get("/v2/store").await.status(), StatusCode::TOO_MANY_REQUESTS);
}
