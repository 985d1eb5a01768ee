//! The monday.com double: token auth, API-Version, GraphQL answers and errors, and the limits.

use reqwest::{Method, StatusCode};
use sandbox::demo;
use serde_json::{Value, json};

use crate::support::{self, World, body, header, number_header};

const ME: &str =
    "query { me { id name email account { id name } } complexity { before after query reset_in_x_seconds } }";

async fn post(world: &World, authorization: Option<&str>, version: Option<&str>, document: Value) -> reqwest::Response {
    let mut request = world.http.post(world.monday()).json(&document);
    if let Some(authorization) = authorization {
        request = request.header("Authorization", authorization);
    }
    if let Some(version) = version {
        request = request.header("API-Version", version);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn the_me_query_answers_with_complexity_rate_limit_headers_and_the_version_echoed() {
    let world = support::start().await;
    let response = post(&world, Some(demo::MONDAY_TOKEN), Some("2026-07"), json!({"query": ME})).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "api-version"), Some("2026-07"));
    assert!(header(&response, "ratelimit-policy").unwrap().contains("\"complexityMinute\";q=10000000"));
    assert!(header(&response, "ratelimit").unwrap().contains("\"minuteRate\";r=4999"));
    let answer = body(response).await;
    assert!(answer.get("errors").is_none(), "{answer}");
    assert_eq!(answer["account_id"], demo::MONDAY_ACCOUNT_ID);
    assert!(answer["extensions"]["request_id"].is_string());
    let me = &answer["data"]["me"];
    assert_eq!(me["id"], demo::MONDAY_USER_ID.to_string(), "IDs come back as strings");
    assert_eq!(me["name"], demo::MONDAY_USER_NAME);
    assert_eq!(me["email"], demo::MONDAY_USER_EMAIL);
    assert_eq!(me["account"], json!({"id": demo::MONDAY_ACCOUNT_ID.to_string(), "name": demo::MONDAY_ACCOUNT_NAME}));
    let complexity = &answer["data"]["complexity"];
    let (before, after, cost) = (
        complexity["before"].as_u64().unwrap(),
        complexity["after"].as_u64().unwrap(),
        complexity["query"].as_u64().unwrap(),
    );
    assert_eq!(before, 10_000_000);
    assert!(cost > 0);
    assert_eq!(after, before - cost);
    assert!((1..=60).contains(&complexity["reset_in_x_seconds"].as_i64().unwrap()));
}

#[tokio::test]
async fn raw_and_bearer_tokens_are_accepted_and_anything_else_gets_401() {
    let world = support::start().await;
    let bearer = format!("Bearer {}", demo::MONDAY_TOKEN);
    assert_eq!(post(&world, Some(&bearer), None, json!({"query": ME})).await.status(), StatusCode::OK);

    for authorization in [None, Some("wrong-token"), Some("Bearer wrong-token")] {
        let refused = post(&world, authorization, Some("2026-10"), json!({"query": ME})).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{authorization:?}");
        assert_eq!(header(&refused, "api-version"), Some("2026-10"));
        let error = body(refused).await;
        assert!(error.get("data").is_none());
        assert_eq!(error["errors"][0]["extensions"]["code"], "Unauthorized");
        assert_eq!(error["errors"][0]["extensions"]["status_code"], 401);
    }
}

#[tokio::test]
async fn api_versions_are_routed_like_monday_and_malformed_ones_are_errors() {
    let world = support::start().await;
    let served = |version: Option<&'static str>| {
        let world = &world;
        async move {
            let response =
                post(world, Some(demo::MONDAY_TOKEN), version, json!({"query": "{ version { kind value } }"})).await;
            let echoed = header(&response, "api-version").unwrap().to_owned();
            (echoed, body(response).await)
        }
    };
    let (echoed, answer) = served(None).await;
    assert_eq!(echoed, "2026-10");
    assert_eq!(answer["data"]["version"], json!({"kind": "current", "value": "2026-10"}));
    assert_eq!(served(Some("2027-01")).await.0, "2027-01");
    assert_eq!(served(Some("2025-01")).await.0, "2026-07", "a deprecated version goes to Maintenance");
    assert_eq!(served(Some("2024-02")).await.0, "2026-10", "an unknown name goes to Current");

    let malformed = post(&world, Some(demo::MONDAY_TOKEN), Some("2023"), json!({"query": ME})).await;
    assert_eq!(malformed.status(), StatusCode::OK);
    let answer = body(malformed).await;
    assert!(answer.get("data").is_none());
    assert_eq!(answer["errors"][0]["extensions"]["code"], "InvalidVersionException");

    // A sandbox-only switch makes the header mandatory, to catch clients that forget it.
    world.configure(&world.sandbox.monday_url, json!({"require_api_version": true})).await;
    let missing = post(&world, Some(demo::MONDAY_TOKEN), None, json!({"query": ME})).await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        post(&world, Some(demo::MONDAY_TOKEN), Some("2026-10"), json!({"query": ME})).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn unknown_fields_and_bad_documents_get_200_with_errors_and_no_data() {
    let world = support::start().await;

    let unknown = world.monday_query("query { me { id supplier_name } }").await;
    assert_eq!(unknown.status(), StatusCode::OK);
    let answer = body(unknown).await;
    assert!(answer.get("data").is_none(), "{answer}");
    let error = &answer["errors"][0];
    assert_eq!(error["message"], "Field 'supplier_name' doesn't exist on type 'User'");
    assert_eq!(error["extensions"]["code"], "undefinedField");
    assert_eq!(error["extensions"]["typeName"], "User");
    assert_eq!(error["locations"][0], json!({"line": 1, "column": 17}));
    assert_eq!(error["path"], json!(["me", "supplier_name"]));

    let mutation = body(world.monday_query("mutation { no_such_mutation(board_id: 1) { id } }").await).await;
    assert_eq!(mutation["errors"][0]["message"], "Field 'no_such_mutation' doesn't exist on type 'Mutation'");

    let parse = body(world.monday_query("query { me { id }").await).await;
    assert!(parse["errors"][0]["message"].as_str().unwrap().starts_with("Parse error on"), "{parse}");

    let not_json = world
        .http
        .post(world.monday())
        .header("Authorization", demo::MONDAY_TOKEN)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body(not_json).await["errors"][0]["extensions"]["code"], "JsonParseException");
}

#[tokio::test]
async fn aliases_variables_fragments_and_directives_shape_the_answer() {
    let world = support::start().await;
    let query = "query Who($skip: Boolean!) {
        who: me { ident: id ...Contact }
        cost: complexity { query }
        me @skip(if: $skip) { id }
        __typename
    }
    fragment Contact on User { email account { slug } }";
    let response = world
        .http
        .post(world.monday())
        .header("Authorization", demo::MONDAY_TOKEN)
        .json(&json!({"query": query, "variables": {"skip": true}, "operationName": "Who"}))
        .send()
        .await
        .unwrap();
    let data = body(response).await["data"].clone();
    assert_eq!(
        data["who"],
        json!({"ident": demo::MONDAY_USER_ID.to_string(), "email": demo::MONDAY_USER_EMAIL, "account": {"slug": demo::MONDAY_ACCOUNT_SLUG}})
    );
    assert!(data["cost"]["query"].as_u64().unwrap() > 0);
    assert!(data.get("me").is_none(), "@skip(if: true) leaves the field out: {data}");
    assert_eq!(data["__typename"], "Query");
}

#[tokio::test]
async fn an_exhausted_complexity_budget_gets_429_with_retry_in_seconds_then_refreshes() {
    let world = support::start().await;
    let base = &world.sandbox.monday_url;
    let first = body(world.monday_query(ME).await).await;
    let cost = first["data"]["complexity"]["query"].as_u64().unwrap();

    // GIVEN a budget that covers one more query, not two
    world.control(base, Method::POST, "/reset?seed=demo", None).await;
    world.configure(base, json!({"complexity_budget": cost + cost / 2})).await;
    assert_eq!(world.monday_query(ME).await.status(), StatusCode::OK);

    // WHEN the next query costs more than is left
    let exhausted = world.monday_query(ME).await;

    // THEN monday's current shape comes back: 429, the code, and when to retry
    assert_eq!(exhausted.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after = number_header(&exhausted, "retry-after");
    let answer = body(exhausted).await;
    let error = &answer["errors"][0];
    assert_eq!(error["message"], "Complexity budget exhausted");
    assert_eq!(error["extensions"]["code"], "COMPLEXITY_BUDGET_EXHAUSTED");
    assert_eq!(error["extensions"]["retry_in_seconds"], retry_after);
    assert!((1..=60).contains(&retry_after));

    // AND the two older shapes are available for client tests
    world.configure(base, json!({"complexity_error_format": "hotfix"})).await;
    let hotfix = body(world.monday_query(ME).await).await;
    assert_eq!(hotfix["errors"][0]["extensions"]["complexity_budget_limit"], cost + cost / 2);
    assert_eq!(hotfix["errors"][0]["extensions"]["status_code"], 429);
    world.configure(base, json!({"complexity_error_format": "legacy"})).await;
    let legacy = world.monday_query(ME).await;
    assert_eq!(legacy.status(), StatusCode::OK, "the legacy shape came with HTTP 200");
    let legacy = body(legacy).await;
    assert_eq!(legacy["error_code"], "ComplexityException");
    assert!(legacy["error_message"].as_str().unwrap().contains(&format!("query cost {cost}")));

    // AND a minute later the budget is full again
    world.control(base, Method::PUT, "/clock", Some(json!({"advance_seconds": 61}))).await;
    assert_eq!(world.monday_query(ME).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_minute_request_concurrency_and_per_query_limits_are_enforced() {
    let world = support::start().await;
    let base = &world.sandbox.monday_url;
    world.configure(base, json!({"requests_per_minute": 2})).await;
    assert_eq!(world.monday_query(ME).await.status(), StatusCode::OK);
    let last = world.monday_query(ME).await;
    assert!(header(&last, "ratelimit").unwrap().contains("\"minuteRate\";r=0"));
    let refused = world.monday_query(ME).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(number_header(&refused, "retry-after") >= 1);
    let error = body(refused).await;
    assert_eq!(error["errors"][0]["extensions"]["code"], "RATE_LIMIT_EXCEEDED");
    assert!(error["errors"][0]["extensions"]["retry_in_seconds"].as_i64().unwrap() >= 1);

    // No free concurrency slot: monday's maxConcurrencyExceeded.
    world.configure(base, json!({"requests_per_minute": 5000, "concurrency_limit": 0})).await;
    let busy = world.monday_query(ME).await;
    assert_eq!(busy.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body(busy).await["errors"][0]["extensions"]["code"], "maxConcurrencyExceeded");

    world.configure(base, json!({"concurrency_limit": 250, "max_query_complexity": 1})).await;
    let too_complex = world.monday_query(ME).await;
    assert_eq!(too_complex.status(), StatusCode::OK);
    assert_eq!(body(too_complex).await["errors"][0]["extensions"]["code"], "maxComplexityExceeded");
}
