//! Fault injection: every kind, in each system's words, with `times`, `fraction` and matching.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use sandbox::demo;
use serde_json::{Value, json};

use crate::support::{self, body, header, number_header};

#[tokio::test]
async fn rate_limit_faults_answer_before_auth_with_each_systems_headers() {
    let world = support::start().await;
    for base in [&world.sandbox.bigcommerce_url, &world.sandbox.plex_url, &world.sandbox.monday_url] {
        world.fault(base, json!({"fault": "rate_limit"})).await;
    }

    // No credentials at all: the fault still answers, since faults come first.
    let bigcommerce = world.http.get(world.store("/v3/hooks")).send().await.unwrap();
    assert_eq!(bigcommerce.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(number_header(&bigcommerce, "x-rate-limit-requests-left"), 0);
    assert_eq!(number_header(&bigcommerce, "x-rate-limit-requests-quota"), 150);
    assert_eq!(number_header(&bigcommerce, "x-rate-limit-time-window-ms"), 30_000);
    assert!(number_header(&bigcommerce, "x-rate-limit-time-reset-ms") > 0);
    assert!(number_header(&bigcommerce, "x-retry-after") >= 1);

    let plex = world.http.get(world.plex("/mdm/v1/parts")).send().await.unwrap();
    assert_eq!(plex.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&plex, "retry-after"), Some("2"));
    assert_eq!(
        body(plex).await,
        json!({"code": "REQUEST_RATE_LIMITED", "message": "Rate limit is exceeded. Try again in 2 seconds."})
    );

    let monday = world.http.post(world.monday()).json(&json!({"query": "{ me { id } }"})).send().await.unwrap();
    assert_eq!(monday.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&monday, "retry-after"), Some("60"));
    let error = body(monday).await;
    assert_eq!(error["errors"][0]["extensions"]["code"], "RATE_LIMIT_EXCEEDED");
    assert_eq!(error["errors"][0]["extensions"]["retry_in_seconds"], 60);

    // An explicit wait overrides the default.
    world.control(&world.sandbox.plex_url, Method::DELETE, "/faults", None).await;
    world.fault(&world.sandbox.plex_url, json!({"fault": {"kind": "rate_limit", "retry_after_seconds": 7}})).await;
    assert_eq!(header(&world.plex_get("/mdm/v1/parts").await, "retry-after"), Some("7"));
}

#[tokio::test]
async fn rate_limit_no_headers_is_a_bare_429_with_an_empty_body() {
    let world = support::start().await;
    world.fault(&world.sandbox.bigcommerce_url, json!({"fault": "rate_limit_no_headers", "times": 1})).await;
    let bare = world.bigcommerce_get("/v2/store").await;
    assert_eq!(bare.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(bare.headers().keys().all(|name| !name.as_str().starts_with("x-rate-limit") && name != "retry-after"));
    assert_eq!(bare.text().await.unwrap(), "");
    assert_eq!(world.bigcommerce_get("/v2/store").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn server_errors_are_the_systems_json_500_or_a_gateways_page() {
    let world = support::start().await;
    let base = &world.sandbox.plex_url;
    world.fault(base, json!({"fault": "server_error", "times": 1})).await;
    world.fault(base, json!({"fault": {"kind": "server_error", "status": 503}, "times": 1})).await;
    world.fault(base, json!({"fault": {"kind": "server_error", "status": 502, "body": "empty"}, "times": 1})).await;

    let json_500 = world.plex_get("/mdm/v1/parts").await;
    assert_eq!(json_500.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body(json_500).await["code"], "REQUEST_PROCESSING_ERROR");

    let html_503 = world.plex_get("/mdm/v1/parts").await;
    assert_eq!(html_503.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(&html_503, "content-type"), Some("text/html"));
    assert!(html_503.text().await.unwrap().contains("<h1>503 Service Unavailable</h1>"));

    let empty_502 = world.plex_get("/mdm/v1/parts").await;
    assert_eq!(empty_502.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(empty_502.text().await.unwrap(), "");

    assert_eq!(world.plex_get("/mdm/v1/parts").await.status(), StatusCode::OK);

    world.fault(&world.sandbox.bigcommerce_url, json!({"fault": "server_error", "times": 1})).await;
    let bigcommerce = body(world.bigcommerce_get("/v2/store").await).await;
    assert_eq!(bigcommerce[0]["status"], 500, "v2 error shape: {bigcommerce}");
    world.fault(&world.sandbox.monday_url, json!({"fault": {"kind": "server_error", "status": 500}})).await;
    let monday = world.monday_query("{ me { id } }").await;
    assert_eq!(monday.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(header(&monday, "api-version"), Some("2026-10"));
    assert_eq!(body(monday).await["errors"][0]["extensions"]["code"], "INTERNAL_SERVER_ERROR");
}

#[tokio::test]
async fn a_delay_outlasts_the_client_timeout_and_then_answers_normally() {
    let world = support::start().await;
    world.fault(&world.sandbox.plex_url, json!({"fault": {"kind": "delay", "ms": 600}, "times": 1})).await;

    let timed_out = world
        .http
        .get(world.plex("/mdm/v1/tenants"))
        .header("X-Plex-Connect-Api-Key", demo::PLEX_API_KEY)
        .timeout(Duration::from_millis(100))
        .send()
        .await;
    assert!(timed_out.unwrap_err().is_timeout());

    // The one delay is spent: the retry is answered at once.
    let retry = world
        .http
        .get(world.plex("/mdm/v1/tenants"))
        .header("X-Plex-Connect-Api-Key", demo::PLEX_API_KEY)
        .timeout(Duration::from_millis(500))
        .send()
        .await
        .unwrap();
    assert_eq!(retry.status(), StatusCode::OK);

    // A patient client gets the normal answer after the wait.
    world.fault(&world.sandbox.bigcommerce_url, json!({"fault": {"kind": "delay", "ms": 150}, "times": 1})).await;
    let started = std::time::Instant::now();
    let slow = world.bigcommerce_get("/v2/store").await;
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(slow.status(), StatusCode::OK);
    assert!(header(&slow, "x-rate-limit-requests-left").is_some());

    let log = world.requests(&world.sandbox.plex_url).await;
    assert_eq!(log[0]["fault"], "delay");
    assert!(log[1]["fault"].is_null());
}

#[tokio::test]
async fn unauthorized_and_forbidden_faults_use_each_systems_bodies() {
    let world = support::start().await;
    let plex = &world.sandbox.plex_url;
    world.fault(plex, json!({"fault": "unauthorized", "times": 1})).await;
    let expired = world.plex_get("/mdm/v1/parts").await;
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body(expired).await["code"], "REQUEST_NOT_AUTHENTICATED");

    // A Bearer client is told its token is what expired.
    world.fault(plex, json!({"fault": "unauthorized", "times": 1})).await;
    let bearer = world.http.get(world.plex("/mdm/v1/parts")).bearer_auth("some-token").send().await.unwrap();
    assert_eq!(header(&bearer, "www-authenticate"), Some("Bearer error=\"invalid_token\""));

    world.fault(plex, json!({"fault": "forbidden", "times": 1})).await;
    let forbidden = world.plex_get("/mdm/v1/parts").await;
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        body(forbidden).await,
        json!({"code": "FORBIDDEN", "message": "Access to the requested resource is denied."})
    );

    world.fault(plex, json!({"path_prefix": "/api/datasources/", "fault": "forbidden", "times": 1})).await;
    let path = format!("/api/datasources/{}/execute", demo::PLEX_PART_LOOKUP_DATASOURCE_ID);
    let datasource = world.http.post(world.plex(&path)).send().await.unwrap();
    assert_eq!(body(datasource).await["errors"][0]["code"], "DATA_SOURCE_ACCESS_DENIED");

    world.fault(&world.sandbox.bigcommerce_url, json!({"fault": "unauthorized", "times": 1})).await;
    let bigcommerce = world.bigcommerce_get("/v3/hooks").await;
    assert_eq!(bigcommerce.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body(bigcommerce).await["status"], 401);

    world.fault(&world.sandbox.monday_url, json!({"fault": "forbidden", "times": 1})).await;
    let monday = body(world.monday_query("{ me { id } }").await).await;
    assert_eq!(monday["errors"][0]["extensions"]["code"], "UserUnauthorizedException");
    world.fault(&world.sandbox.monday_url, json!({"fault": "unauthorized", "times": 1})).await;
    assert_eq!(world.monday_query("{ me { id } }").await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_truncated_body_keeps_the_status_but_is_not_valid_json() {
    let world = support::start().await;
    let whole = world.plex_get("/mdm/v1/parts").await.text().await.unwrap();
    world.fault(&world.sandbox.plex_url, json!({"fault": "truncated_body", "times": 1})).await;

    let cut = world.plex_get("/mdm/v1/parts").await;
    assert_eq!(cut.status(), StatusCode::OK);
    assert_eq!(header(&cut, "content-type"), Some("application/json; charset=utf-8"));
    let text = cut.text().await.unwrap();
    assert!(!text.is_empty() && text.len() < whole.len());
    assert!(whole.starts_with(&text));
    assert!(serde_json::from_str::<Value>(&text).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_times_fault_is_spent_exactly_once_per_slot_under_concurrency() {
    let world = support::start().await;
    world.fault(&world.sandbox.plex_url, json!({"path_prefix": "/mdm/", "times": 5, "fault": "server_error"})).await;

    // WHEN 40 requests race for the 5 faulty answers
    let calls: Vec<_> = (0..40)
        .map(|_| {
            let http = world.http.clone();
            let url = world.plex("/mdm/v1/tenants");
            tokio::spawn(async move {
                http.get(url).header("X-Plex-Connect-Api-Key", demo::PLEX_API_KEY).send().await.unwrap().status()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for call in calls {
        statuses.push(call.await.unwrap());
    }

    // THEN exactly 5 got one
    let failed = statuses.iter().filter(|status| **status == StatusCode::INTERNAL_SERVER_ERROR).count();
    assert_eq!(failed, 5, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|status| **status == StatusCode::OK).count(), 35);
    let (_, rules) = world.control(&world.sandbox.plex_url, Method::GET, "/faults", None).await;
    assert_eq!(rules, json!([]), "a spent rule is retired");
}

#[tokio::test]
async fn a_fraction_fault_fires_on_part_of_the_requests_and_a_seed_repeats_it() {
    let world = support::start().await;
    let base = &world.sandbox.bigcommerce_url;
    let pattern = |rule: Value| {
        let world = &world;
        async move {
            world.control(base, Method::DELETE, "/faults", None).await;
            world.fault(base, rule).await;
            let mut fired = Vec::new();
            for _ in 0..60 {
                fired.push(world.bigcommerce_get("/v2/time").await.status() == StatusCode::SERVICE_UNAVAILABLE);
            }
            fired
        }
    };
    world.configure(base, json!({"rate_limit": {"quota": 1000}})).await;
    let rule = json!({"fraction": 0.5, "seed": 42, "fault": {"kind": "server_error", "status": 503}});
    let first = pattern(rule.clone()).await;
    let hits = first.iter().filter(|fired| **fired).count();
    assert!((10..=50).contains(&hits), "{hits} of 60 fired");
    assert_eq!(pattern(rule).await, first, "the same seed fires on the same requests");
}

#[tokio::test]
async fn faults_match_on_method_and_path() {
    let world = support::start().await;
    let plex = &world.sandbox.plex_url;
    world.fault(plex, json!({"method": "POST", "path_prefix": "/mdm/", "fault": "forbidden"})).await;
    world.fault(plex, json!({"path_prefix": "/sales/", "fault": "server_error"})).await;
    assert_eq!(world.plex_get("/mdm/v1/parts").await.status(), StatusCode::OK, "GET is not POST");
    let post = world.http.post(world.plex("/mdm/v1/customers")).send().await.unwrap();
    assert_eq!(post.status(), StatusCode::FORBIDDEN);
    assert_eq!(world.plex_get("/sales/v1/orders").await.status(), StatusCode::INTERNAL_SERVER_ERROR);

    // path_contains reaches past BigCommerce's store prefix.
    world.fault(&world.sandbox.bigcommerce_url, json!({"path_contains": "/v3/hooks", "fault": "forbidden"})).await;
    assert_eq!(world.bigcommerce_get("/v3/hooks").await.status(), StatusCode::FORBIDDEN);
    assert_eq!(world.bigcommerce_get("/v2/store").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn custom_faults_listing_removal_and_bad_rules() {
    let world = support::start().await;
    let base = &world.sandbox.monday_url;
    let rule = world
        .fault(
            base,
            json!({"fault": {"kind": "custom", "status": 423, "headers": {"retry-after": "3"},
                             "body": {"errors": [{"message": "Resource is currently locked"}]}}}),
        )
        .await;
    let locked = world.monday_query("{ me { id } }").await;
    assert_eq!(locked.status(), StatusCode::LOCKED);
    assert_eq!(header(&locked, "retry-after"), Some("3"));
    assert_eq!(body(locked).await["errors"][0]["message"], "Resource is currently locked");

    let (_, rules) = world.control(base, Method::GET, "/faults", None).await;
    assert_eq!(rules[0]["fired"], 1);
    let (status, _) = world.control(base, Method::DELETE, &format!("/faults/{}", rule["id"]), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(world.monday_query("{ me { id } }").await.status(), StatusCode::OK);

    for bad in [
        json!({"fault": "meltdown"}),
        json!({"fault": {"kind": "server_error", "status": 404}}),
        json!({"fault": "forbidden", "fraction": 1.5}),
        json!({"fault": "forbidden", "times": 0}),
        json!({"fault": "forbidden", "method": "NOT A METHOD"}),
        json!({"fault": "forbidden", "paths": "/x"}),
    ] {
        let (status, error) = world.control(base, Method::POST, "/faults", Some(bad.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(error["error"].is_string(), "{error}");
    }
}

#[tokio::test]
async fn faults_never_touch_the_control_plane() {
    let world = support::start().await;
    let base = &world.sandbox.plex_url;
    world.fault(base, json!({"fault": "server_error"})).await;
    let (status, state) = world.control(base, Method::GET, "/state", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state["faults"].as_array().unwrap().len(), 1);
    let (status, _) = world.control(base, Method::DELETE, "/faults", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(world.plex_get("/mdm/v1/parts").await.status(), StatusCode::OK);
}
