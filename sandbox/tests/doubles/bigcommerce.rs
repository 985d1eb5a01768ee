//! The BigCommerce double: auth, store lookup, endpoints (store, orders v2, hooks v3), and the
//! per-store request quota. The webhook sender has its own module, `webhooks`.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use sandbox::demo;
use serde_json::{Value, json};

use crate::support::{self, World, body, header, number_header};

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

/// `count` one-unit lines of a distinct SKU each, priced `1.2500`.
fn lines(count: usize) -> Vec<Value> {
    (1..=count)
        .map(|n| {
            json!({"product_id": 1000 + n, "sku": format!("SKU-{n:03}"), "name": format!("Part {n}"),
                        "quantity": 1, "price_ex_tax": "1.2500"})
        })
        .collect()
}

/// Seeds orders into the demo store.
async fn seed_orders(world: &World, orders: Value) {
    world
        .seed(
            &world.sandbox.bigcommerce_url,
            json!({"stores": [{"store_hash": demo::BIGCOMMERCE_STORE_HASH, "orders": orders}]}),
        )
        .await;
}

fn shipping(id: u64) -> Value {
    json!({"id": id, "first_name": "Robin", "last_name": "Fitter", "street_1": "1 Main St", "city": "Austin",
           "state": "Texas", "zip": "78701", "country": "United States", "country_iso2": "US",
           "shipping_method": "Ground"})
}

fn is_rfc2822_utc(text: &str) -> bool {
    chrono::DateTime::parse_from_rfc2822(text).is_ok() && text.ends_with(" +0000")
}

#[tokio::test]
async fn an_order_has_the_specs_fields_rfc2822_dates_decimal_string_money_and_resource_links() {
    let world = support::start().await;

    let response = world.bigcommerce_get(&format!("/v2/orders/{}", demo::BIGCOMMERCE_DEMO_ORDER_ID)).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert!(header(&response, "x-rate-limit-requests-left").is_some(), "orders spend the store's quota");
    let order = body(response).await;
    assert_eq!(order["id"], demo::BIGCOMMERCE_DEMO_ORDER_ID);
    assert_eq!(order["customer_id"], demo::BIGCOMMERCE_DEMO_CUSTOMER_ID);
    assert_eq!((order["status_id"].clone(), order["status"].clone()), (json!(11), json!("Awaiting Fulfillment")));
    assert!(is_rfc2822_utc(order["date_created"].as_str().unwrap()), "{}", order["date_created"]);
    assert!(is_rfc2822_utc(order["date_modified"].as_str().unwrap()), "{}", order["date_modified"]);
    // 100 x 0.4500 + 4 x 6.9000
    assert_eq!(order["subtotal_ex_tax"], "72.6000");
    assert_eq!(order["total_inc_tax"], "72.6000");
    assert_eq!(order["items_total"], 104);
    assert_eq!(order["currency_code"], "USD");
    assert_eq!(order["customer_message"], "Please deliver to the loading dock.");
    assert_eq!(order["billing_address"]["company"], "Fitter Fabrication LLC");
    assert_eq!(order["billing_address"]["country_iso2"], "US");
    assert_eq!(order["products"]["resource"], "/orders/100/products");
    assert_eq!(order["products"]["url"], world.store("/v2/orders/100/products"));
    assert_eq!(order["shipping_addresses"]["resource"], "/orders/100/shipping_addresses");
    assert_eq!(order["consignments"]["resource"], "/orders/100/consignments", "not embedded unless asked");

    let products = body(world.bigcommerce_get("/v2/orders/100/products").await).await;
    assert_eq!(products.as_array().unwrap().len(), 2);
    let bolt = &products[0];
    assert_eq!(bolt["sku"], "MW-BOLT-M8");
    assert_eq!(bolt["price_ex_tax"], "0.4500");
    assert_eq!(bolt["total_ex_tax"], "45.0000");
    assert_eq!(bolt["quantity"], 100);
    assert_eq!(
        (bolt["order_id"].clone(), bolt["product_id"].clone(), bolt["variant_id"].clone()),
        (json!(100), json!(111), json!(211))
    );
    assert_eq!(bolt["order_address_id"], 1);
    let line_id = bolt["id"].as_u64().unwrap();
    let single = body(world.bigcommerce_get(&format!("/v2/orders/100/products/{line_id}")).await).await;
    assert_eq!(single["sku"], "MW-BOLT-M8");

    let addresses = body(world.bigcommerce_get("/v2/orders/100/shipping_addresses").await).await;
    assert_eq!(addresses[0]["id"], 1);
    assert_eq!(addresses[0]["street_2"], "Dock 3");
    assert_eq!(addresses[0]["shipping_method"], "Ground");
    assert_eq!(addresses[0]["items_total"], 104);
    assert_eq!(addresses[0]["cost_ex_tax"], "0.0000");

    let guest =
        body(world.bigcommerce_get(&format!("/v2/orders/{}", demo::BIGCOMMERCE_DEMO_GUEST_ORDER_ID)).await).await;
    assert_eq!(guest["customer_id"], 0);
}

#[tokio::test]
async fn an_unknown_order_is_a_404_with_the_v2_error_body() {
    let world = support::start().await;
    for path in
        ["/v2/orders/999999", "/v2/orders/abc", "/v2/orders/999999/products", "/v2/orders/999999/shipping_addresses"]
    {
        let response = world.bigcommerce_get(path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        let error = body(response).await;
        assert_eq!(error[0]["status"], 404, "{path}: {error}");
        assert!(error[0]["message"].is_string());
    }
}

#[tokio::test]
async fn order_products_and_shipping_addresses_page_and_answer_204_with_an_empty_body_past_the_end() {
    let world = support::start().await;
    seed_orders(
        &world,
        json!([{"id": 500, "status_id": 11, "shipping_addresses": [shipping(50)], "products": lines(7)}]),
    )
    .await;

    let mut pages = Vec::new();
    for page in 1..=3 {
        let response = world.bigcommerce_get(&format!("/v2/orders/500/products?limit=3&page={page}")).await;
        assert_eq!(response.status(), StatusCode::OK);
        pages.push(body(response).await.as_array().unwrap().len());
    }
    assert_eq!(pages, [3, 3, 1]);

    let past_the_end = world.bigcommerce_get("/v2/orders/500/products?limit=3&page=4").await;
    assert_eq!(past_the_end.status(), StatusCode::NO_CONTENT);
    assert!(header(&past_the_end, "x-rate-limit-requests-left").is_some());
    assert_eq!(past_the_end.text().await.unwrap(), "");

    let default_page = body(world.bigcommerce_get("/v2/orders/500/products").await).await;
    assert_eq!(default_page.as_array().unwrap().len(), 7);
    let skus: Vec<&str> = default_page.as_array().unwrap().iter().map(|line| line["sku"].as_str().unwrap()).collect();
    assert_eq!(skus.first(), Some(&"SKU-001"));
    assert_eq!(skus.last(), Some(&"SKU-007"));

    let addresses = world.bigcommerce_get("/v2/orders/500/shipping_addresses?page=2").await;
    assert_eq!(addresses.status(), StatusCode::NO_CONTENT);
    let bad = world.bigcommerce_get("/v2/orders/500/products?limit=none").await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_limit_above_250_is_served_as_250() {
    let world = support::start().await;
    seed_orders(
        &world,
        json!([{"id": 600, "status_id": 11, "shipping_addresses": [shipping(60)], "products": lines(260)}]),
    )
    .await;

    let first = body(world.bigcommerce_get("/v2/orders/600/products?limit=1000").await).await;
    let second = body(world.bigcommerce_get("/v2/orders/600/products?limit=1000&page=2").await).await;

    assert_eq!(first.as_array().unwrap().len(), 250);
    assert_eq!(second.as_array().unwrap().len(), 10);
}

#[tokio::test]
async fn include_consignments_embeds_the_line_items_and_cuts_them_at_fifty_with_a_warning() {
    let world = support::start().await;
    seed_orders(
        &world,
        json!([
            {"id": 700, "status_id": 11, "shipping_addresses": [shipping(70)], "products": lines(3)},
            {"id": 701, "status_id": 11, "shipping_addresses": [shipping(71)], "products": lines(60)}
        ]),
    )
    .await;
    let include = "include=consignments.line_items&consignment_structure=object";

    // GIVEN a small order: every line is embedded in full, no warning
    let small = body(world.bigcommerce_get(&format!("/v2/orders/700?{include}")).await).await;
    let consignments = &small["consignments"];
    assert_eq!(consignments["pickups"], json!([]));
    assert_eq!(consignments["downloads"], json!([]));
    assert_eq!(consignments["email"]["gift_certificates"], json!([]));
    let shipment = &consignments["shipping"][0];
    assert_eq!(shipment["id"], 70);
    assert_eq!(shipment["street_1"], "1 Main St");
    assert_eq!(shipment["shipping_method"], "Ground");
    assert_eq!(shipment["line_items"].as_array().unwrap().len(), 3);
    assert_eq!(shipment["line_items"][0]["sku"], "SKU-001");
    assert_eq!(shipment["line_items"][0]["price_ex_tax"], "1.2500");
    assert!(shipment.get("__warning__").is_none());

    // WHEN an order has 60 lines
    let large = body(world.bigcommerce_get(&format!("/v2/orders/701?{include}")).await).await;

    // THEN only 50 are embedded, and the consignment says so (bigcommerce/docs#960)
    let shipment = &large["consignments"]["shipping"][0];
    assert_eq!(shipment["line_items"].as_array().unwrap().len(), 50);
    assert!(shipment["__warning__"]["message"].as_str().unwrap().contains("only 50 are included"), "{shipment}");
    assert_eq!(large["items_total"], 60, "the order still counts every item");
    let all = body(world.bigcommerce_get("/v2/orders/701/products?limit=250").await).await;
    assert_eq!(all.as_array().unwrap().len(), 60);

    // AND `include=consignments` alone links the line items; without the object structure nothing is embedded
    let linked =
        body(world.bigcommerce_get("/v2/orders/700?include=consignments&consignment_structure=object").await).await;
    let link = &linked["consignments"]["shipping"][0]["line_items"][0];
    assert!(link["resource"].as_str().unwrap().starts_with("/orders/700/products/"), "{link}");
    let legacy = body(world.bigcommerce_get("/v2/orders/700?include=consignments.line_items").await).await;
    assert_eq!(legacy["consignments"]["resource"], "/orders/700/consignments");
}

#[tokio::test]
async fn the_order_list_filters_sorts_pages_and_counts() {
    let world = support::start().await;
    let base = &world.sandbox.bigcommerce_url;
    // GIVEN only these orders, modified a day apart (the demo ones are reset away)
    world.control(base, Method::POST, "/reset", None).await;
    world
        .seed(
            base,
            json!({"stores": [{"store_hash": demo::BIGCOMMERCE_STORE_HASH,
                "api_accounts": [{"client_id": demo::BIGCOMMERCE_CLIENT_ID, "access_token": demo::BIGCOMMERCE_ACCESS_TOKEN}],
                "orders": [
                    {"id": 801, "status_id": 11, "customer_id": 5, "date_created": "2026-01-01T00:00:00Z", "date_modified": "Sat, 03 Jan 2026 00:00:00 +0000"},
                    {"id": 802, "status_id": 0, "date_created": "2026-01-01T00:00:00Z", "date_modified": "2026-01-02T00:00:00Z"},
                    {"id": 803, "status_id": 11, "date_created": "2026-01-01T00:00:00Z", "date_modified": "2026-01-05T00:00:00Z"},
                    {"id": 804, "status_id": 2, "date_created": "2026-01-01T00:00:00Z", "date_modified": "2026-01-04T00:00:00Z"}
                ]}]}),
        )
        .await;
    let ids = |orders: &Value| -> Vec<u64> {
        orders.as_array().unwrap().iter().map(|order| order["id"].as_u64().unwrap()).collect()
    };

    let all = body(world.bigcommerce_get("/v2/orders").await).await;
    assert_eq!(ids(&all), [801, 802, 803, 804], "the default sort is by id");

    let by_modified = body(world.bigcommerce_get("/v2/orders?sort=date_modified:asc").await).await;
    assert_eq!(ids(&by_modified), [802, 801, 804, 803]);
    let newest_first = body(world.bigcommerce_get("/v2/orders?sort=date_modified:desc&limit=2").await).await;
    assert_eq!(ids(&newest_first), [803, 804]);

    // Both documented date forms, inclusive at both ends.
    let window = body(
        world.bigcommerce_get("/v2/orders?min_date_modified=Sat,%2003%20Jan%202026%2000:00:00%20%2B0000&max_date_modified=2026-01-04T00:00:00Z").await,
    )
    .await;
    assert_eq!(ids(&window), [801, 804]);

    let awaiting = body(world.bigcommerce_get("/v2/orders?status_id=11").await).await;
    assert_eq!(ids(&awaiting), [801, 803]);
    let range = body(world.bigcommerce_get("/v2/orders?min_id=802&max_id=803").await).await;
    assert_eq!(ids(&range), [802, 803]);
    let customer = body(world.bigcommerce_get("/v2/orders?customer_id=5").await).await;
    assert_eq!(ids(&customer), [801]);
    let second_page = body(world.bigcommerce_get("/v2/orders?limit=3&page=2").await).await;
    assert_eq!(ids(&second_page), [804]);

    let empty = world.bigcommerce_get("/v2/orders?min_date_modified=2030-01-01T00:00:00Z").await;
    assert_eq!(empty.status(), StatusCode::NO_CONTENT);
    assert_eq!(empty.text().await.unwrap(), "");

    let count = body(world.bigcommerce_get("/v2/orders/count?status_id=11").await).await;
    assert_eq!(count, json!({"count": 2}));
    assert_eq!(body(world.bigcommerce_get("/v2/orders/count").await).await["count"], 4);

    let bad_date = world.bigcommerce_get("/v2/orders?min_date_modified=last-tuesday").await;
    assert_eq!(bad_date.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body(bad_date).await[0]["status"], 400);
    assert_eq!(world.bigcommerce_get("/v2/orders?sort=colour").await.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn seeding_an_order_with_an_unknown_status_a_misspelt_field_or_a_stray_address_is_refused() {
    let world = support::start().await;
    let base = &world.sandbox.bigcommerce_url;
    for (order, complaint) in [
        (json!({"status_id": 42}), "status_id 42"),
        (json!({"status_id": 11, "billing_address": {"stret_1": "x"}}), "stret_1"),
        (
            json!({"status_id": 11, "products": [{"sku": "A", "name": "A", "quantity": 1, "price_ex_tax": "x1"}]}),
            "decimal",
        ),
        (
            json!({"status_id": 11, "shipping_addresses": [shipping(90)],
                   "products": [{"sku": "A", "name": "A", "quantity": 1, "price_ex_tax": 1, "order_address_id": 91}]}),
            "order_address_id 91",
        ),
    ] {
        let document = json!({"stores": [{"store_hash": demo::BIGCOMMERCE_STORE_HASH, "orders": [order]}]});
        let (status, error) = world.control(base, Method::POST, "/seed", Some(document)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
        assert!(error["error"].as_str().unwrap().contains(complaint), "{complaint}: {error}");
    }
}

/// An authenticated v3 request with a body.
async fn hooks_call(
    world: &World,
    method: Method,
    path: &str,
    token: &str,
    document: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = world.http.request(method, world.store(path)).header("X-Auth-Token", token);
    if let Some(document) = document {
        request = request.json(&document);
    }
    let response = request.send().await.unwrap();
    (response.status(), body(response).await)
}

#[tokio::test]
async fn hooks_are_created_read_updated_and_deleted_by_the_api_account_that_owns_them() {
    let world = support::start().await;
    let token = demo::BIGCOMMERCE_ACCESS_TOKEN;
    world
        .seed(
            &world.sandbox.bigcommerce_url,
            json!({"stores": [{"store_hash": demo::BIGCOMMERCE_STORE_HASH,
                               "api_accounts": [{"client_id": "other-app", "access_token": "other-token"}]}]}),
        )
        .await;

    // WHEN a hook is created with a custom header
    let (status, created) = hooks_call(
        &world,
        Method::POST,
        "/v3/hooks",
        token,
        Some(json!({"scope": "store/order/created", "destination": "https://hooks.example/bc",
                    "headers": {"X-Millwright-Auth": "s3cret"}})),
    )
    .await;

    // THEN it comes back in the spec's `{data, meta}` shape, active by default
    assert_eq!(status, StatusCode::OK, "{created}");
    let hook = &created["data"];
    let id = hook["id"].as_u64().unwrap();
    assert_eq!(hook["client_id"], demo::BIGCOMMERCE_CLIENT_ID);
    assert_eq!(hook["store_hash"], demo::BIGCOMMERCE_STORE_HASH);
    assert_eq!(hook["is_active"], true);
    assert_eq!(hook["headers"]["X-Millwright-Auth"], "s3cret");
    assert!(hook["created_at"].is_i64() && hook["updated_at"].is_i64());
    assert!(created["meta"].is_object());

    let (status, read) = hooks_call(&world, Method::GET, &format!("/v3/hooks/{id}"), token, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["data"]["destination"], "https://hooks.example/bc");
    let listed = body(world.bigcommerce_get("/v3/hooks").await).await;
    assert_eq!(listed["data"][0]["id"], id);

    // AND another API account can neither see nor change it
    let (status, _) = hooks_call(&world, Method::GET, &format!("/v3/hooks/{id}"), "other-token", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) =
        hooks_call(&world, Method::PUT, &format!("/v3/hooks/{id}"), "other-token", Some(json!({"is_active": false})))
            .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // AND the owner can deactivate it, rotate its header, and delete it
    let (status, updated) = hooks_call(
        &world,
        Method::PUT,
        &format!("/v3/hooks/{id}"),
        token,
        Some(json!({"is_active": false, "headers": {"X-Millwright-Auth": "n3w"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["data"]["is_active"], false);
    assert_eq!(updated["data"]["headers"]["X-Millwright-Auth"], "n3w");
    assert_eq!(updated["data"]["scope"], "store/order/created", "fields not given stay");
    let (status, deleted) = hooks_call(&world, Method::DELETE, &format!("/v3/hooks/{id}"), token, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(deleted["data"]["id"], id);
    let (status, missing) = hooks_call(&world, Method::GET, &format!("/v3/hooks/{id}"), token, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(missing["title"], format!("Webhook with id [{id}] not found"));
}

#[tokio::test]
async fn hook_bodies_with_missing_or_mistyped_fields_get_422_naming_each_field() {
    let world = support::start().await;
    let token = demo::BIGCOMMERCE_ACCESS_TOKEN;
    let valid = json!({"scope": "store/order/created", "destination": "https://hooks.example/bc"});
    for (document, field, expected) in [
        (json!({"scope": "store/order/created"}), "destination", "error.path.missing."),
        (json!({"destination": "https://hooks.example/bc"}), "scope", "error.path.missing."),
        (
            json!({"scope": "store/order/created", "destination": "https://hooks.example/bc", "is_active": "yes"}),
            "is_active",
            "error.expected.jsboolean",
        ),
        (
            json!({"scope": "store/order/created", "destination": "https://hooks.example/bc", "headers": {"X-N": 5}}),
            "headers.X-N",
            "error.expected.jsstring",
        ),
        (json!({"scope": "orders", "destination": "https://hooks.example/bc"}), "scope", "webhook scope"),
        (json!({"scope": "store/order/created", "destination": "not a url"}), "destination", "URL"),
    ] {
        let (status, error) = hooks_call(&world, Method::POST, "/v3/hooks", token, Some(document)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
        assert_eq!(error["status"], 422);
        assert_eq!(error["title"], "JSON data is missing or invalid");
        assert!(error["errors"][field].as_str().unwrap().contains(expected), "{field}: {error}");
    }

    let not_json = world
        .http
        .post(world.store("/v3/hooks"))
        .header("X-Auth-Token", token)
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);

    // One hook per scope and destination: a second POST is refused, so re-registering means PUT.
    let (status, _) = hooks_call(&world, Method::POST, "/v3/hooks", token, Some(valid.clone())).await;
    assert_eq!(status, StatusCode::OK);
    let (status, duplicate) = hooks_call(&world, Method::POST, "/v3/hooks", token, Some(valid)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(duplicate["errors"]["destination"].as_str().unwrap().contains("already exists"), "{duplicate}");

    let (status, empty_update) = hooks_call(&world, Method::PUT, "/v3/hooks/1", token, Some(json!({}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{empty_update}");
    let (status, _) = hooks_call(&world, Method::PUT, "/v3/hooks/1", token, Some(json!({"is_active": "true"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}
