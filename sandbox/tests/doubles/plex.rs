//! The Plex double: API key, tenants, subscriptions, OAuth2 tokens, Data Source Basic auth and
//! validation, the per-key call limit, and Connect's list conventions.

use reqwest::{Method, StatusCode};
use sandbox::demo;
use serde_json::{Value, json};

use crate::support::{self, World, body, header};

const NOT_AUTHENTICATED: &str =
    r#"{"code":"REQUEST_NOT_AUTHENTICATED","message":"The request could not be authenticated."}"#;

async fn assert_not_authenticated(response: reqwest::Response) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let expected: Value = serde_json::from_str(NOT_AUTHENTICATED).unwrap();
    assert_eq!(body(response).await, expected);
}

#[tokio::test]
async fn the_api_key_opens_the_tenants_canary_and_anything_else_is_refused() {
    let world = support::start().await;
    let response = world.plex_get("/mdm/v1/tenants").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "content-type"), Some("application/json; charset=utf-8"));
    let tenants = body(response).await;
    assert_eq!(
        tenants,
        json!([
            {"id": demo::PLEX_TENANT_ID, "code": demo::PLEX_TENANT_CODE},
            {"id": demo::PLEX_SECOND_TENANT_ID, "code": demo::PLEX_SECOND_TENANT_CODE}
        ])
    );

    assert_not_authenticated(world.http.get(world.plex("/mdm/v1/tenants")).send().await.unwrap()).await;
    assert_not_authenticated(
        world.http.get(world.plex("/mdm/v1/tenants")).header("X-Plex-Connect-Api-Key", "wrong").send().await.unwrap(),
    )
    .await;
    // A key in the query string is ignored, as Plex ignores it.
    let in_query = format!("/mdm/v1/tenants?X-Plex-Connect-Api-Key={}", demo::PLEX_API_KEY);
    assert_not_authenticated(world.http.get(world.plex(&in_query)).send().await.unwrap()).await;

    // An expired key is refused like an unknown one.
    let (status, _) = world
        .control(&world.sandbox.plex_url, Method::POST, &format!("/keys/{}/expire", demo::PLEX_API_KEY), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_not_authenticated(world.plex_get("/mdm/v1/tenants").await).await;
}

#[tokio::test]
async fn tenant_headers_pick_the_tenant_and_tenants_the_key_may_not_use_are_refused() {
    let world = support::start().await;
    let part_name = |response: Value| response[0]["name"].as_str().unwrap_or_default().to_owned();

    let default_tenant = body(world.plex_get("/mdm/v1/parts?number=MW-BOLT-M8").await).await;
    assert_eq!(part_name(default_tenant), "Hex Bolt M8 x 40, zinc plated");

    let by_id = world
        .http
        .get(world.plex("/mdm/v1/parts?number=MW-BOLT-M8"))
        .header("X-Plex-Connect-Api-Key", demo::PLEX_API_KEY)
        .header("X-Plex-Connect-Tenant-Id", demo::PLEX_SECOND_TENANT_ID)
        .send()
        .await
        .unwrap();
    assert_eq!(part_name(body(by_id).await), "Sechskantschraube M8 x 40");

    let by_pcn = world
        .http
        .get(world.plex("/mdm/v1/parts?number=MW-BOLT-M8"))
        .header("X-Plex-Connect-Api-Key", demo::PLEX_API_KEY)
        .header("X-Plex-Connect-Customer-Id", demo::PLEX_SECOND_PCN)
        .send()
        .await
        .unwrap();
    assert_eq!(part_name(body(by_pcn).await), "Sechskantschraube M8 x 40");

    // A third tenant exists, but the demo key is not allowed to use it.
    world
        .seed(
            &world.sandbox.plex_url,
            json!({"tenants": [{"id": "00000000-0000-4000-8000-000000000003", "code": "X"}]}),
        )
        .await;
    let forbidden_tenant = world
        .http
        .get(world.plex("/mdm/v1/parts"))
        .header("X-Plex-Connect-Api-Key", demo::PLEX_API_KEY)
        .header("X-Plex-Connect-Tenant-Id", "00000000-0000-4000-8000-000000000003")
        .send()
        .await
        .unwrap();
    assert_not_authenticated(forbidden_tenant).await;
}

#[tokio::test]
async fn collections_outside_the_subscription_get_401_or_the_configured_403() {
    let world = support::start().await;
    let base = &world.sandbox.plex_url;
    world.seed(base, json!({"api_keys": [{"key": "mdm-only", "collections": ["mdm"]}]})).await;
    let get = |path: &str| world.http.get(world.plex(path)).header("X-Plex-Connect-Api-Key", "mdm-only").send();

    assert_eq!(get("/mdm/v1/customers").await.unwrap().status(), StatusCode::OK);
    assert_not_authenticated(get("/sales/v1/orders").await.unwrap()).await;

    world.configure(base, json!({"unsubscribed_status": 403})).await;
    let forbidden = get("/sales/v1/orders").await.unwrap();
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    assert_eq!(body(forbidden).await["code"], "FORBIDDEN");

    let (status, error) = world.control(base, Method::POST, "/config", Some(json!({"unsubscribed_status": 404}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
}

async fn token(world: &World, basic: bool) -> reqwest::Response {
    let request = world.http.post(world.plex("/oauth2/token"));
    let request = if basic {
        request
            .basic_auth(demo::PLEX_OAUTH_CLIENT_ID, Some(demo::PLEX_OAUTH_CLIENT_SECRET))
            .form(&[("grant_type", "client_credentials")])
    } else {
        request.form(&[
            ("grant_type", "client_credentials"),
            ("client_id", demo::PLEX_OAUTH_CLIENT_ID),
            ("client_secret", demo::PLEX_OAUTH_CLIENT_SECRET),
        ])
    };
    request.send().await.unwrap()
}

async fn access_token(world: &World) -> String {
    let response = token(world, true).await;
    assert_eq!(response.status(), StatusCode::OK);
    body(response).await["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn oauth_tokens_are_issued_and_accepted_only_in_the_oauth_modes() {
    let world = support::start().await;
    let base = &world.sandbox.plex_url;

    // GIVEN the default api_key mode: there is no token endpoint
    assert_eq!(token(&world, true).await.status(), StatusCode::NOT_FOUND);

    // WHEN the test opts in to oauth2
    world.configure(base, json!({"auth": {"mode": "oauth2"}})).await;

    // THEN client credentials in Basic or in the form get a Bearer token
    let issued = token(&world, true).await;
    assert_eq!(issued.status(), StatusCode::OK);
    assert_eq!(header(&issued, "cache-control"), Some("no-store"));
    let issued = body(issued).await;
    assert_eq!(issued["token_type"], "Bearer");
    assert_eq!(issued["expires_in"], 3600);
    assert!(issued["access_token"].as_str().unwrap().len() >= 32);
    assert_eq!(token(&world, false).await.status(), StatusCode::OK);

    // AND bad clients and grants are refused the OAuth way
    let bad_client = world
        .http
        .post(world.plex("/oauth2/token"))
        .basic_auth(demo::PLEX_OAUTH_CLIENT_ID, Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad_client.status(), StatusCode::UNAUTHORIZED);
    assert!(header(&bad_client, "www-authenticate").unwrap().starts_with("Basic"));
    assert_eq!(body(bad_client).await["error"], "invalid_client");
    let bad_grant = world
        .http
        .post(world.plex("/oauth2/token"))
        .basic_auth(demo::PLEX_OAUTH_CLIENT_ID, Some(demo::PLEX_OAUTH_CLIENT_SECRET))
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    assert_eq!(body(bad_grant).await["error"], "unsupported_grant_type");

    // AND in oauth2 mode the Bearer token works and the API key does not
    let bearer = access_token(&world).await;
    let with_token = world.http.get(world.plex("/mdm/v1/tenants")).bearer_auth(&bearer).send().await.unwrap();
    assert_eq!(with_token.status(), StatusCode::OK);
    assert_not_authenticated(world.plex_get("/mdm/v1/tenants").await).await;
    let without = world.http.get(world.plex("/mdm/v1/tenants")).send().await.unwrap();
    assert_eq!(without.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header(&without, "www-authenticate"), Some("Bearer"));

    // AND in either mode both work
    world.configure(base, json!({"auth": {"mode": "either"}})).await;
    assert_eq!(world.plex_get("/mdm/v1/tenants").await.status(), StatusCode::OK);
    let with_token = world.http.get(world.plex("/mdm/v1/tenants")).bearer_auth(&bearer).send().await.unwrap();
    assert_eq!(with_token.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_expired_token_gets_the_invalid_token_challenge_and_a_new_token_works() {
    let world = support::start().await;
    let base = &world.sandbox.plex_url;
    world.configure(base, json!({"auth": {"mode": "oauth2", "token_ttl_ms": 60_000}})).await;
    let expiring = access_token(&world).await;
    let call = |token: String| world.http.get(world.plex("/mdm/v1/parts")).bearer_auth(token).send();
    assert_eq!(call(expiring.clone()).await.unwrap().status(), StatusCode::OK);

    // WHEN the clock passes the token's lifetime
    world.control(base, Method::PUT, "/clock", Some(json!({"advance_seconds": 61}))).await;

    // THEN the token is refused with the Bearer challenge
    let expired = call(expiring).await.unwrap();
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header(&expired, "www-authenticate"), Some("Bearer error=\"invalid_token\""));
    assert_eq!(body(expired).await["code"], "REQUEST_NOT_AUTHENTICATED");

    // AND a fresh token works until the control plane expires every token
    let fresh = access_token(&world).await;
    assert_eq!(call(fresh.clone()).await.unwrap().status(), StatusCode::OK);
    let (status, _) = world.control(base, Method::POST, "/tokens/expire-all", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(call(fresh).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(call("made-up".to_owned()).await.unwrap().status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn calls_per_window_are_limited_per_key_and_refill_as_the_window_rolls() {
    let world = support::start().await;
    let base = &world.sandbox.plex_url;
    // GIVEN 3 calls per rolling minute (the real limit is 200)
    world.configure(base, json!({"rate_limit": {"calls": 3}})).await;
    world.seed(base, json!({"api_keys": [{"key": "other-key"}]})).await;

    for _ in 0..3 {
        assert_eq!(world.plex_get("/mdm/v1/parts").await.status(), StatusCode::OK);
    }
    let refused = world.plex_get("/mdm/v1/parts").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = header(&refused, "retry-after").unwrap().parse().unwrap();
    assert!((59..=60).contains(&retry_after), "retry-after {retry_after}");
    let error = body(refused).await;
    assert_eq!(error["code"], "REQUEST_RATE_LIMITED");
    assert!(error["message"].as_str().unwrap().contains(&format!("Try again in {retry_after} seconds")));

    // Another key has its own budget.
    let other =
        world.http.get(world.plex("/mdm/v1/parts")).header("X-Plex-Connect-Api-Key", "other-key").send().await.unwrap();
    assert_eq!(other.status(), StatusCode::OK);

    // Once the window has rolled past the first calls (the double's clock moves a minute on),
    // the key has its full budget again.
    world.control(base, Method::PUT, "/clock", Some(json!({"advance_seconds": 60}))).await;
    for _ in 0..3 {
        assert_eq!(world.plex_get("/mdm/v1/parts").await.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn lists_validate_date_params_and_bound_windows_inclusively() {
    let world = support::start().await;

    let bad = world.plex_get("/mdm/v1/customers?modifiedDateBegin=2026-01-01").await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let error = body(bad).await;
    assert_eq!(error["code"], "ARGUMENT_INVALID");
    assert_eq!(
        error["errors"][0]["metadata"][0],
        json!({"field": "modifiedDateBegin", "providedValues": ["2026-01-01"]})
    );

    // Both ends equal a record's modifiedDate exactly (2 and 7 fractional digits), and both are kept.
    let window =
        "/mdm/v1/customers?modifiedDateBegin=2026-01-05T10:00:00.12Z&MODIFIEDDATEEND=2026-02-10T08:30:15.1234567Z";
    let customers = body(world.plex_get(window).await).await;
    let codes: Vec<&str> =
        customers.as_array().unwrap().iter().filter_map(|customer| customer["code"].as_str()).collect();
    assert_eq!(codes, [demo::PLEX_WEB_CUSTOMER_CODE, "ACME"]);

    // Every schema field is present, null when unknown; unknown params such as limit are ignored.
    let all = body(world.plex_get("/mdm/v1/customers?limit=1").await).await;
    assert_eq!(all.as_array().unwrap().len(), 4);
    assert_eq!(all[0].as_object().unwrap().len(), 35);
    assert!(all[0]["fax"].is_null());

    // Repeated params mean OR.
    let two = body(world.plex_get("/mdm/v1/parts?number=MW-NUT-M8&number=MW-GEAR-24").await).await;
    assert_eq!(two.as_array().unwrap().len(), 2);

    // Parts have no date filter, so a date param there is simply ignored.
    let parts = world.plex_get("/mdm/v1/parts?modifiedDateBegin=yesterday").await;
    assert_eq!(parts.status(), StatusCode::OK);
}

#[tokio::test]
async fn empty_lists_answer_200_or_the_configured_404_and_unknown_paths_are_404() {
    let world = support::start().await;
    let empty = world.plex_get("/mdm/v1/parts?number=NO-SUCH-PART").await;
    assert_eq!(empty.status(), StatusCode::OK);
    assert_eq!(body(empty).await, json!([]));

    world.configure(&world.sandbox.plex_url, json!({"empty_list_status": 404})).await;
    let empty = world.plex_get("/mdm/v1/parts?number=NO-SUCH-PART").await;
    assert_eq!(empty.status(), StatusCode::NOT_FOUND);
    assert_eq!(body(empty).await["code"], "RESOURCE_NOT_FOUND");

    let guessed = world.plex_get("/sales/v1/sales-orders").await;
    assert_eq!(guessed.status(), StatusCode::NOT_FOUND);
    assert_eq!(body(guessed).await["code"], "RESOURCE_NOT_FOUND");

    let by_id = world.plex_get("/mdm/v1/customers/1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d").await;
    assert_eq!(body(by_id).await["code"], "ACME");
    assert_eq!(
        world.plex_get("/mdm/v1/parts/00000000-0000-0000-0000-000000000000").await.status(),
        StatusCode::NOT_FOUND
    );
}

/// POSTs to the demo part-lookup data source.
async fn execute(world: &World, query: &str, credentials: (&str, &str), document: Value) -> reqwest::Response {
    let path = format!("/api/datasources/{}/execute{query}", demo::PLEX_PART_LOOKUP_DATASOURCE_ID);
    world
        .http
        .post(world.plex(&path))
        .basic_auth(credentials.0, Some(credentials.1))
        .json(&document)
        .send()
        .await
        .unwrap()
}

const WS_USER: (&str, &str) = (demo::PLEX_DATASOURCE_USER, demo::PLEX_DATASOURCE_PASSWORD);

#[tokio::test]
async fn data_sources_execute_with_basic_auth_in_both_formats() {
    let world = support::start().await;

    let default_format = execute(&world, "", WS_USER, json!({"inputs": {"Part_No": "MW-NUT-M8"}})).await;
    assert_eq!(default_format.status(), StatusCode::OK);
    let result = body(default_format).await;
    assert_eq!(result["tables"][0]["columns"], json!(["Part_Key", "Part_No", "Revision", "Name", "Part_Status"]));
    assert_eq!(result["tables"][0]["rows"], json!([[8_265_837, "MW-NUT-M8", "A", "Hex Nut M8", "Production"]]));
    assert_eq!(result["tables"][0]["rowLimitExceeded"], false);
    assert!(result["transactionNo"].is_string());

    let flat =
        body(execute(&world, "?format=2", WS_USER, json!({"Part_No": "MW-GEAR-24", "Part_Status": null})).await).await;
    assert_eq!(flat["rows"][0]["Part_Key"], 8_265_840);
    assert_eq!(flat["rows"][0]["Part_Status"], "Obsolete");

    // The metadata and search endpoints take the same credentials.
    let path = format!("/api/datasources/{}", demo::PLEX_PART_LOOKUP_DATASOURCE_ID);
    let metadata = world.http.get(world.plex(&path)).basic_auth(WS_USER.0, Some(WS_USER.1)).send().await.unwrap();
    assert_eq!(body(metadata).await["inputs"][0]["name"], "Part_No");
    let found = world
        .http
        .get(world.plex("/api/datasources/search?name=part_lookup"))
        .basic_auth(WS_USER.0, Some(WS_USER.1))
        .send()
        .await
        .unwrap();
    assert_eq!(body(found).await[0]["id"], demo::PLEX_PART_LOOKUP_DATASOURCE_ID);

    // A row cap sets rowLimitExceeded.
    world.configure(&world.sandbox.plex_url, json!({"datasource_row_limit": 1})).await;
    let capped = body(execute(&world, "?format=2", WS_USER, json!({"Part_No": "MW-NUT-M8"})).await).await;
    assert_eq!(capped["rowLimitExceeded"], false);
    world
        .seed(
            &world.sandbox.plex_url,
            json!({"datasources": [{"id": 7, "name": "All", "columns": ["A"], "rows": [[1], [2]]}]}),
        )
        .await;
    let all = world
        .http
        .post(world.plex("/api/datasources/7/execute"))
        .basic_auth(WS_USER.0, Some(WS_USER.1))
        .send()
        .await
        .unwrap();
    let all = body(all).await;
    assert_eq!(all["tables"][0]["rows"], json!([[1]]));
    assert_eq!(all["tables"][0]["rowLimitExceeded"], true);
}

#[tokio::test]
async fn data_source_auth_and_inputs_are_validated_with_the_documented_codes() {
    let world = support::start().await;
    let code = |response: Value| response["errors"][0]["code"].as_str().unwrap_or_default().to_owned();

    let bad_password = execute(&world, "", (demo::PLEX_DATASOURCE_USER, "wrong"), json!({})).await;
    assert_eq!(bad_password.status(), StatusCode::UNAUTHORIZED);
    let bad_password = body(bad_password).await;
    assert_eq!(code(bad_password.clone()), "USER_ACCESS_DENIED");
    assert!(bad_password["transactionNo"].is_string());

    // The Connect API key is not a Data Source credential.
    let path = format!("/api/datasources/{}/execute", demo::PLEX_PART_LOOKUP_DATASOURCE_ID);
    let with_key =
        world.http.post(world.plex(&path)).header("X-Plex-Connect-Api-Key", demo::PLEX_API_KEY).send().await.unwrap();
    assert_eq!(with_key.status(), StatusCode::UNAUTHORIZED);

    let get = world.http.get(world.plex(&path)).basic_auth(WS_USER.0, Some(WS_USER.1)).send().await.unwrap();
    assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(code(body(get).await), "METHOD_NOT_ALLOWED");

    let unknown = world
        .http
        .post(world.plex("/api/datasources/424242/execute"))
        .basic_auth(WS_USER.0, Some(WS_USER.1))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    assert_eq!(code(body(unknown).await), "DATA_SOURCE_NOT_FOUND");

    let cases = [
        (json!({"inputs": {"Part_No": "A", "Colour": "red"}}), "DATA_SOURCE_INPUT_NOT_FOUND"),
        (json!({"inputs": {"part_no": "A"}}), "DATA_SOURCE_INPUT_NOT_FOUND"),
        (json!({"inputs": {"Part_Status": "Production"}}), "DATA_SOURCE_INPUT_REQUIRED"),
        (json!({"inputs": {"Part_No": 42}}), "DATA_SOURCE_INPUT_TYPE_MISMATCH"),
        (json!({"inputs": {"Part_No": "A", "Modified_After": "2026-01-01"}}), "DATA_SOURCE_INPUT_FORMAT_INVALID"),
        (json!({"inputs": {"Part_No": null}}), "DATA_SOURCE_INPUT_NOT_NULLABLE"),
    ];
    for (document, expected) in cases {
        let response = execute(&world, "", WS_USER, document.clone()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{document}");
        assert_eq!(code(body(response).await), expected, "{document}");
    }
    let good_date =
        execute(&world, "", WS_USER, json!({"inputs": {"Part_No": "A", "Modified_After": "2026-01-01T00:00:00Z"}}))
            .await;
    assert_eq!(good_date.status(), StatusCode::OK);

    // A user granted other data sources only is refused this one.
    world
        .seed(
            &world.sandbox.plex_url,
            json!({"datasource_users": [{"username": "narrow", "password": "pw", "datasources": [1]}]}),
        )
        .await;
    let denied = execute(&world, "", ("narrow", "pw"), json!({"inputs": {"Part_No": "A"}})).await;
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    assert_eq!(code(body(denied).await), "DATA_SOURCE_ACCESS_DENIED");
}

#[tokio::test]
async fn the_api_secret_is_checked_only_when_required() {
    let world = support::start().await;
    let base = &world.sandbox.plex_url;
    world.seed(base, json!({"api_keys": [{"key": "with-secret", "secret": "s3"}]})).await;
    let call = |secret: &'static str| {
        world
            .http
            .get(world.plex("/mdm/v1/tenants"))
            .header("X-Plex-Connect-Api-Key", "with-secret")
            .header("X-Plex-Connect-Api-Secret", secret)
            .send()
    };
    assert_eq!(call("anything").await.unwrap().status(), StatusCode::OK);
    world.configure(base, json!({"auth": {"require_secret": true}})).await;
    assert_eq!(call("anything").await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(call("s3").await.unwrap().status(), StatusCode::OK);
}
