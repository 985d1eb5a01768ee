//! The BigCommerce client against the sandbox's BigCommerce double, started in-process on
//! 127.0.0.1 for each test: success, wrong credentials, injected 429/503/403/slow responses, pacing
//! under a tiny quota, reading orders (one call, or paging when the embedded lines are cut), and
//! the hook calls. Real time, with windows and waits shrunk to keep each test short.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::{Duration, Instant};

use bigcommerce::{BigCommerceClient, Credentials, Error};
use domain::ErrorClass;
use millwright_http::HttpSettings;
use rust_decimal::Decimal;
use sandbox::{Sandbox, SandboxConfig, System, demo};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

async fn start_sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig { seed_demo: true, ..Default::default() }).await.expect("sandbox starts")
}

fn client(sandbox: &Sandbox, token: &str) -> BigCommerceClient {
    client_with(sandbox, token, &HttpSettings::for_local_double())
}

fn client_with(sandbox: &Sandbox, token: &str, settings: &HttpSettings) -> BigCommerceClient {
    let secret = SecretString::from(json!({ "access_token": token, "client_secret": "cs-test" }).to_string());
    let credentials = Credentials::from_secret_json(&secret).expect("credentials");
    BigCommerceClient::new(settings, &sandbox.bigcommerce_url, demo::BIGCOMMERCE_STORE_HASH, credentials)
        .expect("client")
}

async fn control(sandbox: &Sandbox, path: &str, body: Value) {
    sandbox.control(System::BigCommerce, path, body).await
}

/// The double's request log (API requests only; control requests are not logged).
async fn request_log(sandbox: &Sandbox) -> Vec<Value> {
    sandbox.request_log(System::BigCommerce).await
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
    // 300 ms per attempt: the first attempt is abandoned well before the 1 s delay ends.
    let impatient = HttpSettings::for_local_double().with_timeout(Duration::from_millis(300));
    let started = Instant::now();

    client_with(&sandbox, demo::BIGCOMMERCE_ACCESS_TOKEN, &impatient)
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

/// Seeds one order into the demo store: `lines` lines to one shipping address, the first priced
/// `0.4500` and the rest `2.0000`.
async fn seed_order(sandbox: &Sandbox, id: u64, lines: usize) {
    let products: Vec<Value> = (1..=lines)
        .map(|n| {
            json!({"product_id": 1000 + n, "variant_id": 2000 + n, "sku": format!("SKU-{n:03}"),
                   "name": format!("Part {n}"), "quantity": n, "price_ex_tax": if n == 1 { "0.4500" } else { "2.0000" }})
        })
        .collect();
    let order = json!({
        "id": id, "status_id": 11, "customer_id": 42, "currency_code": "EUR",
        "customer_message": "Ring twice",
        "date_created": "Tue, 05 Mar 2019 21:40:11 +0000", "date_modified": "Mon, 11 Mar 2019 15:17:25 +0000",
        "billing_address": {"first_name": "Jane", "last_name": "Doe", "company": "Laser Ltd", "street_1": "555 East Street",
                            "city": "Austin", "state": "Texas", "zip": "78108", "country": "United States",
                            "country_iso2": "US", "phone": "1234567890", "email": "janedoe@example.com"},
        "shipping_addresses": [{"id": 9, "first_name": "Trish", "last_name": "Smith", "street_1": "666 Sussex St",
                                "city": "Austin", "state": "Texas", "zip": "78751", "country_iso2": "US",
                                "shipping_method": "Free Shipping"}],
        "products": products
    });
    control(sandbox, "seed", json!({"stores": [{"store_hash": demo::BIGCOMMERCE_STORE_HASH, "orders": [order]}]}))
        .await;
}

fn paths_and_queries(log: &[Value]) -> Vec<String> {
    log.iter()
        .map(|entry| match entry["query"].as_str() {
            Some(query) => format!("{}?{query}", entry["path"].as_str().unwrap_or_default()),
            None => entry["path"].as_str().unwrap_or_default().to_owned(),
        })
        .collect()
}

#[tokio::test]
async fn an_order_with_three_lines_is_read_in_exactly_one_call() {
    let sandbox = start_sandbox().await;
    seed_order(&sandbox, 500, 3).await;

    let order = client(&sandbox, demo::BIGCOMMERCE_ACCESS_TOKEN).order(500).await.expect("read").expect("found");

    assert_eq!(order.id, 500);
    assert_eq!((order.status_id, order.status.as_str()), (11, "Awaiting Fulfillment"));
    assert_eq!(order.customer_id, 42);
    assert_eq!(order.currency_code, "EUR");
    assert_eq!(order.customer_message.as_deref(), Some("Ring twice"));
    assert_eq!(order.date_created.to_rfc3339(), "2019-03-05T21:40:11+00:00");
    assert_eq!(order.date_modified.to_rfc3339(), "2019-03-11T15:17:25+00:00");
    assert_eq!(order.billing.company.as_deref(), Some("Laser Ltd"));
    assert_eq!(order.billing.email.as_deref(), Some("janedoe@example.com"));
    assert_eq!(order.shipping.len(), 1);
    assert_eq!(order.shipping[0].id, 9);
    assert_eq!(order.shipping[0].address.street_1, "666 Sussex St");
    assert_eq!(order.shipping[0].address.street_2, None);
    assert_eq!(order.shipping[0].shipping_method.as_deref(), Some("Free Shipping"));
    let skus: Vec<&str> = order.lines.iter().map(|line| line.sku.as_str()).collect();
    assert_eq!(skus, ["SKU-001", "SKU-002", "SKU-003"]);
    let first = &order.lines[0];
    assert_eq!((first.product_id, first.variant_id, first.address_id), (1001, Some(2001), Some(9)));
    assert_eq!(first.quantity, Decimal::from(1));
    assert_eq!(order.lines[2].quantity, Decimal::from(3));

    let log = request_log(&sandbox).await;
    assert_eq!(
        paths_and_queries(&log),
        ["/stores/demo-store/v2/orders/500?include=consignments.line_items&consignment_structure=object"]
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_decimal_price_like_0_4500_survives_exactly() {
    let sandbox = start_sandbox().await;
    seed_order(&sandbox, 501, 2).await;

    let order = client(&sandbox, demo::BIGCOMMERCE_ACCESS_TOKEN).order(501).await.expect("read").expect("found");

    let price = order.lines[0].unit_price;
    assert_eq!(price, Decimal::from_str("0.4500").unwrap());
    assert_eq!(price.to_string(), "0.4500", "the scale is kept, not just the value");
    assert_eq!(order.lines[1].unit_price.to_string(), "2.0000");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn an_order_with_sixty_lines_falls_back_to_paging_and_returns_all_of_them() {
    let sandbox = start_sandbox().await;
    // 60 lines: the consignment embeds 50 and warns; /products has all 60 on one page.
    seed_order(&sandbox, 502, 60).await;

    let order = client(&sandbox, demo::BIGCOMMERCE_ACCESS_TOKEN).order(502).await.expect("read").expect("found");

    assert_eq!(order.lines.len(), 60);
    let ids: Vec<u64> = order.lines.iter().map(|line| line.line_id).collect();
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "lines come sorted by id");
    assert_eq!(order.lines[59].sku, "SKU-060");
    assert!(order.lines.iter().all(|line| line.address_id == Some(9)));
    assert_eq!(order.shipping.len(), 1, "the addresses still come from the consignments");
    let log = request_log(&sandbox).await;
    assert_eq!(
        paths_and_queries(&log),
        [
            "/stores/demo-store/v2/orders/502?include=consignments.line_items&consignment_structure=object",
            "/stores/demo-store/v2/orders/502/products?limit=250&page=1",
        ],
        "one call for the order plus one page"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn an_order_longer_than_a_page_is_read_page_by_page_until_the_short_one() {
    let sandbox = start_sandbox().await;
    seed_order(&sandbox, 503, 260).await;

    let order = client(&sandbox, demo::BIGCOMMERCE_ACCESS_TOKEN).order(503).await.expect("read").expect("found");

    assert_eq!(order.lines.len(), 260);
    let log = request_log(&sandbox).await;
    assert_eq!(log.len(), 3, "the order plus two pages: {:?}", paths_and_queries(&log));
    assert!(paths_and_queries(&log)[2].ends_with("/products?limit=250&page=2"));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_page_that_repeats_earlier_lines_stops_the_read_with_an_error_naming_the_order() {
    let sandbox = start_sandbox().await;
    seed_order(&sandbox, 504, 60).await;
    // Every /products page is the same full page of one line, as a broken paging server would send.
    let line = json!({"id": 77, "order_id": 504, "product_id": 1, "sku": "X", "name": "X", "quantity": 1, "price_ex_tax": "1.0000"});
    let page: Vec<Value> = (0..250).map(|_| line.clone()).collect();
    control(
        &sandbox,
        "faults",
        json!({"path_contains": "/v2/orders/504/products", "fault": {"kind": "custom", "status": 200, "body": page}}),
    )
    .await;

    let error = client(&sandbox, demo::BIGCOMMERCE_ACCESS_TOKEN).order(504).await.expect_err("no progress");

    assert!(matches!(error, Error::Paging { .. }), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Data);
    assert!(error.to_string().contains("order 504 products"), "{error}");
    assert_eq!(request_log(&sandbox).await.len(), 3, "the order, page 1, and the repeated page 2");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn an_order_without_embedded_consignments_pages_addresses_and_lines() {
    let sandbox = start_sandbox().await;
    seed_order(&sandbox, 505, 2).await;
    // The order as a store that ignores `include` would send it: resource links only.
    let plain: Value = reqwest::Client::new()
        .get(format!("{}/stores/{}/v2/orders/505", sandbox.bigcommerce_url, demo::BIGCOMMERCE_STORE_HASH))
        .header("X-Auth-Token", demo::BIGCOMMERCE_ACCESS_TOKEN)
        .send()
        .await
        .expect("order")
        .json()
        .await
        .expect("json");
    assert!(plain["consignments"]["resource"].is_string());
    reqwest::Client::new()
        .delete(format!("{}/__control/requests", sandbox.bigcommerce_url))
        .send()
        .await
        .expect("the log is cleared");
    control(
        &sandbox,
        "faults",
        json!({"path_contains": "/v2/orders/505", "times": 1, "fault": {"kind": "custom", "status": 200, "body": plain}}),
    )
    .await;

    let order = client(&sandbox, demo::BIGCOMMERCE_ACCESS_TOKEN).order(505).await.expect("read").expect("found");

    assert_eq!(order.lines.len(), 2);
    assert_eq!(order.shipping.len(), 1);
    assert_eq!(order.shipping[0].address.last_name, "Smith");
    let paths = paths_and_queries(&request_log(&sandbox).await);
    assert!(paths.iter().any(|path| path.contains("/shipping_addresses?limit=250&page=1")), "{paths:?}");
    assert!(paths.iter().any(|path| path.contains("/products?limit=250&page=1")), "{paths:?}");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn an_unknown_order_is_none_after_one_call() {
    let sandbox = start_sandbox().await;

    let order = client(&sandbox, demo::BIGCOMMERCE_ACCESS_TOKEN).order(999_999).await.expect("a 404 is no error");

    assert!(order.is_none());
    assert_eq!(statuses(&request_log(&sandbox).await), vec![Some(404)]);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_guest_order_has_customer_zero() {
    let sandbox = start_sandbox().await;

    let order = client(&sandbox, demo::BIGCOMMERCE_ACCESS_TOKEN)
        .order(demo::BIGCOMMERCE_DEMO_GUEST_ORDER_ID)
        .await
        .expect("read")
        .expect("found");

    assert!(order.is_guest());
    assert!(order.is_real_order());
    assert_eq!(order.billing.email.as_deref(), Some("sam.guest@example.com"));
    assert_eq!(order.billing.company, None, "an empty company is no company");
    assert_eq!(order.lines.len(), 1);
    assert_eq!(order.lines[0].sku, "MW-NUT-M8");
    assert_eq!(order.lines[0].unit_price.to_string(), "0.1200");
    assert_eq!(order.customer_message, None);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn hooks_are_created_listed_deactivated_and_reactivated_by_their_owner() {
    let sandbox = start_sandbox().await;
    let client = client(&sandbox, demo::BIGCOMMERCE_ACCESS_TOKEN);
    let secret = "wh-shared-secret-0c9d";
    let headers = BTreeMap::from([("X-Millwright-Auth".to_owned(), SecretString::from(secret.to_owned()))]);

    // WHEN a hook is created
    let created =
        client.create_hook("store/order/created", "https://hooks.example/bc", &headers).await.expect("created");

    // THEN it is active and keeps its header, which Debug never shows
    assert!(created.is_active);
    assert_eq!(created.scope, "store/order/created");
    assert_eq!(created.client_id.as_deref(), Some(demo::BIGCOMMERCE_CLIENT_ID));
    assert_eq!(created.header("x-millwright-auth").map(ExposeSecret::expose_secret), Some(secret));
    assert!(!format!("{created:?}").contains(secret));

    // AND it is listed, among every page of hooks
    for n in 0..3 {
        client
            .create_hook("store/order/updated", &format!("https://hooks.example/{n}"), &BTreeMap::new())
            .await
            .expect("more hooks");
    }
    let listed = client.list_hooks().await.expect("listed");
    assert_eq!(listed.len(), 4);
    assert!(listed.iter().any(|hook| hook.id == created.id && hook.destination == "https://hooks.example/bc"));

    // AND it can be switched off and on again
    let off = client.set_hook_active(created.id, false).await.expect("deactivated");
    assert!(!off.is_active);
    let on = client.set_hook_active(created.id, true).await.expect("reactivated");
    assert!(on.is_active);

    // AND a second registration of the same scope and destination is a data error
    let duplicate = client.create_hook("store/order/created", "https://hooks.example/bc", &headers).await;
    let error = duplicate.expect_err("one hook per scope and destination");
    assert_eq!(error.class(), ErrorClass::Data);
    assert!(!format!("{error} {error:?}").contains(secret));

    // AND an unknown hook is a data error too (404)
    assert_eq!(client.set_hook_active(987_654, true).await.expect_err("404").class(), ErrorClass::Data);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn listing_hooks_follows_the_pages_until_the_last() {
    let sandbox = start_sandbox().await;
    let hooks: Vec<Value> = (0..260)
        .map(|n| json!({"scope": "store/order/created", "destination": format!("https://hooks.example/{n}")}))
        .collect();
    control(&sandbox, "seed", json!({"stores": [{"store_hash": demo::BIGCOMMERCE_STORE_HASH, "hooks": hooks}]})).await;

    let listed = client(&sandbox, demo::BIGCOMMERCE_ACCESS_TOKEN).list_hooks().await.expect("listed");

    assert_eq!(listed.len(), 260);
    assert_eq!(request_log(&sandbox).await.len(), 2);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_cut_off_hooks_response_never_puts_a_header_secret_into_the_error() {
    let sandbox = start_sandbox().await;
    let secret = "wh-secret-that-must-not-leak";
    control(
        &sandbox,
        "seed",
        json!({"stores": [{"store_hash": demo::BIGCOMMERCE_STORE_HASH, "hooks": [
            {"scope": "store/order/created", "destination": "https://hooks.example/bc", "headers": {"X-Millwright-Auth": secret}}
        ]}]}),
    )
    .await;
    control(&sandbox, "faults", json!({"path_contains": "/v3/hooks", "fault": "truncated_body"})).await;

    let error = client(&sandbox, demo::BIGCOMMERCE_ACCESS_TOKEN).list_hooks().await.expect_err("cut off every time");

    assert_eq!(error.class(), ErrorClass::Transient);
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains(secret), "{shown}");
    sandbox.shutdown().await;
}

/// Seeds orders `(id, status_id, date_modified)` into the demo store (one line each).
async fn seed_modified(sandbox: &Sandbox, orders: &[(u64, u32, &str)]) {
    let orders: Vec<Value> = orders
        .iter()
        .map(|(id, status_id, modified)| {
            json!({"id": id, "status_id": status_id, "customer_id": 0, "currency_code": "USD",
                   "date_created": "Mon, 23 Nov 2026 08:00:00 +0000", "date_modified": modified,
                   "billing_address": {"first_name": "Sam", "country_iso2": "US"},
                   "products": [{"product_id": 1, "sku": "SKU-1", "name": "Part", "quantity": 1, "price_ex_tax": "1.0000"}]})
        })
        .collect();
    control(sandbox, "seed", json!({"stores": [{"store_hash": demo::BIGCOMMERCE_STORE_HASH, "orders": orders}]})).await;
}

#[tokio::test]
async fn order_changes_list_a_modification_window_oldest_first_page_by_page_until_the_204() {
    // GIVEN orders modified at different times, two of them in the same second
    let sandbox = start_sandbox().await;
    seed_modified(
        &sandbox,
        &[
            (701, 11, "Tue, 24 Nov 2026 10:00:05 +0000"),
            (702, 5, "Tue, 24 Nov 2026 10:00:01 +0000"),
            (703, 11, "Tue, 24 Nov 2026 10:00:05 +0000"),
            (704, 11, "Tue, 24 Nov 2026 09:59:59 +0000"),
            (705, 11, "Tue, 24 Nov 2026 10:01:00 +0000"),
        ],
    )
    .await;
    let bigcommerce = client(&sandbox, demo::BIGCOMMERCE_ACCESS_TOKEN);
    let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&chrono::Utc);
    let (from, to) = (at("2026-11-24T10:00:00Z"), at("2026-11-24T10:00:59Z"));

    // WHEN the window is read two at a time
    let first = bigcommerce.order_changes(from, to, 1, 2).await.expect("page 1");
    let second = bigcommerce.order_changes(from, to, 2, 2).await.expect("page 2");
    let past_the_end = bigcommerce.order_changes(from, to, 3, 2).await.expect("page 3");

    // THEN only the window's orders come, oldest modification first, ties by id, and the end is empty
    let ids = |page: &[domain::order::OrderChange]| page.iter().map(|change| change.id).collect::<Vec<_>>();
    assert_eq!((ids(&first), ids(&second)), (vec![702, 701], vec![703]));
    assert!(past_the_end.is_empty());
    assert_eq!((first[0].status_id, first[0].date_modified), (5, at("2026-11-24T10:00:01Z")));
    // AND the query asked BigCommerce for exactly that window, sorted by modification
    let log = request_log(&sandbox).await;
    let queries = paths_and_queries(&log);
    let window = "min_date_modified=2026-11-24T10%3A00%3A00Z&max_date_modified=2026-11-24T10%3A00%3A59Z";
    let expected = format!("/v2/orders?{window}&sort=date_modified%3Aasc&limit=2&page=1");
    assert!(queries[0].ends_with(&expected), "{queries:#?}");
    assert_eq!(queries.len(), 3, "one call per page: {queries:#?}");
    assert_eq!(statuses(&log).last(), Some(&Some(204)), "{log:#?}");
    sandbox.shutdown().await;
}

// ---- stock: catalog addresses, inventory levels, absolute adjustments ----------------------------

mod stock {
    //! The inventory calls against the double's catalog and Inventory API: SKUs addressed by
    //! product or variant per their tracking mode, the fewest catalog pages, levels read back after
    //! a write, the 2000-row cap kept locally, a refusal read as per-item errors, retried 429s.

    use std::collections::BTreeSet;

    use bigcommerce::{AdjustmentOutcome, Refused};
    use domain::stock::{ItemAddress, Sku, StockLocation};

    use super::*;

    fn demo_client(sandbox: &Sandbox) -> BigCommerceClient {
        client(sandbox, demo::BIGCOMMERCE_ACCESS_TOKEN)
    }

    fn product(product_id: u64) -> ItemAddress {
        ItemAddress::Product { product_id }
    }

    fn variant(variant_id: u64) -> ItemAddress {
        ItemAddress::Variant { variant_id }
    }

    async fn seed_catalog(sandbox: &Sandbox) {
        control(
            sandbox,
            "seed",
            json!({"stores": [{"store_hash": demo::BIGCOMMERCE_STORE_HASH,
                "locations": [{"id": 2, "code": "WH-EAST", "label": "East warehouse", "enabled": true},
                              {"id": 3, "code": "WH-OLD", "label": "Old warehouse", "enabled": false}],
                "products": [
                    {"id": 300, "name": "Washer M8", "sku": "MW-WASH-M8", "inventory_tracking": "product",
                     "inventory_level": 900, "variants": [{"id": 400, "sku": "MW-WASH-M8"}]},
                    {"id": 301, "name": "Gift card", "sku": "MW-GIFT", "inventory_tracking": "none"},
                    {"id": 302, "name": "Plate", "sku": "MW-PLATE", "inventory_tracking": "variant",
                     "variants": [{"id": 402, "sku": "MW-PLATE-S", "inventory_level": 4},
                                  {"id": 403, "sku": "MW-PLATE-L", "inventory_level": 6}]}]}]}),
        )
        .await;
    }

    #[tokio::test]
    async fn skus_are_addressed_by_product_or_by_variant_as_their_products_track_stock() {
        let sandbox = start_sandbox().await;
        seed_catalog(&sandbox).await;

        let catalog = demo_client(&sandbox).catalog_addresses().await.expect("addresses");

        let expected = BTreeMap::from([
            (Sku::from("MW-BOLT-M8"), product(111)),
            (Sku::from("MW-BRKT-100-SS"), variant(214)),
            (Sku::from("MW-BRKT-100-ZN"), variant(213)),
            (Sku::from("MW-NUT-M8"), product(112)),
            (Sku::from("MW-PLATE-L"), variant(403)),
            (Sku::from("MW-PLATE-S"), variant(402)),
            (Sku::from("MW-WASH-M8"), product(300)),
        ]);
        assert_eq!(catalog.addresses, expected);
        assert_eq!((catalog.untracked, catalog.without_sku, catalog.pages), (1, 0, 1));
        assert!(catalog.duplicates.is_empty());
        let log = request_log(&sandbox).await;
        let query = log[0]["query"].as_str().unwrap_or_default().replace("%2C", ",");
        assert!(query.contains("include=variants") && query.contains("limit=250"), "{query}");
        assert!(query.contains("include_fields=sku,inventory_tracking"), "{query}");
        sandbox.shutdown().await;
    }

    #[tokio::test]
    async fn a_generated_catalog_maps_every_inventory_item_of_the_doubles_dump_in_the_fewest_pages() {
        // GIVEN 1 197 more SKUs, some on products tracked by variant, some untracked: with the
        // demo's three products, products fill exactly four pages of 250
        let sandbox = start_sandbox().await;
        let summary = sandbox
            .generate_bigcommerce_catalog(
                json!({"skus": 1197, "seed": 3, "variant_share": 0.0, "untracked_share": 0.1}),
            )
            .await;
        let products = summary["products"].as_u64().expect("products") + 3;
        assert_eq!(products, 1200);
        let more = sandbox
            .generate_bigcommerce_catalog(json!({"skus": 300, "seed": 4, "sku_prefix": "VAR-", "variant_share": 1.0}))
            .await;
        let products = products + more["products"].as_u64().expect("products");

        // WHEN the client maps the catalog
        let catalog = demo_client(&sandbox).catalog_addresses().await.expect("addresses");

        // THEN every tracked item of the double's inventory is there, addressed as it is tracked
        let dump = sandbox.bigcommerce_inventory().await;
        let expected: BTreeMap<Sku, ItemAddress> = dump["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|item| {
                let address = match item["tracking"].as_str() {
                    Some("product") => product(item["product_id"].as_u64().expect("product id")),
                    _ => variant(item["variant_id"].as_u64().expect("variant id")),
                };
                (Sku::new(item["sku"].as_str().expect("sku")), address)
            })
            .collect();
        assert_eq!(catalog.addresses, expected);
        assert_eq!(catalog.untracked as u64, summary["untracked"].as_u64().expect("untracked"));
        // AND it took one call per 250 products, no more
        let pages = products.div_ceil(250);
        assert_eq!(u64::from(catalog.pages), pages);
        assert_eq!(sandbox.count_requests(System::BigCommerce, "GET", "/v3/catalog/products").await as u64, pages);
        sandbox.shutdown().await;
    }

    #[tokio::test]
    async fn exactly_four_full_pages_cost_four_calls() {
        let sandbox = start_sandbox().await;
        sandbox.generate_bigcommerce_catalog(json!({"skus": 997, "seed": 5, "variant_share": 0.0})).await;

        let catalog = demo_client(&sandbox).catalog_addresses().await.expect("addresses");

        assert_eq!(catalog.addresses.len(), 997 + 4);
        assert_eq!(catalog.pages, 4);
        assert_eq!(sandbox.count_requests(System::BigCommerce, "GET", "/v3/catalog/products").await, 4);
        sandbox.shutdown().await;
    }

    #[tokio::test]
    async fn levels_written_absolutely_are_read_back_per_sku_and_location_with_the_transaction_id() {
        let sandbox = start_sandbox().await;
        seed_catalog(&sandbox).await;
        let bigcommerce = demo_client(&sandbox);
        let (default, east) = (StockLocation::DEFAULT, StockLocation(2));

        let outcome = bigcommerce
            .set_absolute(
                "Plex stock",
                &[
                    (product(111), default, 150),
                    (product(111), east, 40),
                    (variant(213), east, 7),
                    (product(300), default, 0),
                ],
            )
            .await
            .expect("applied");

        let AdjustmentOutcome::Applied { transaction_id } = outcome else { panic!("applied: {outcome:?}") };
        let dump = sandbox.bigcommerce_inventory().await;
        let transactions = dump["transactions"].as_array().expect("transactions");
        let recorded = transactions.last().expect("one transaction");
        assert_eq!(recorded["transaction_id"], transaction_id.as_str());
        assert_eq!(recorded["reason"], "Plex stock");
        let (levels, _) = bigcommerce.inventory_levels(&[default, east]).await.expect("levels");
        let level = |sku: &str, location: StockLocation| levels.get(&(Sku::from(sku), location)).copied();
        assert_eq!(level("MW-BOLT-M8", default), Some(150));
        assert_eq!(level("MW-BOLT-M8", east), Some(40));
        assert_eq!(level("MW-BRKT-100-ZN", east), Some(7));
        assert_eq!(level("MW-BRKT-100-ZN", default), Some(80), "untouched");
        assert_eq!(level("MW-WASH-M8", default), Some(0));
        assert_eq!(level("MW-GIFT", default), None, "not an inventory item");
        assert_eq!(level("MW-BOLT-M8", StockLocation(3)), None, "only the locations asked for");
        let log = request_log(&sandbox).await;
        let reads: Vec<String> =
            paths_and_queries(&log).into_iter().filter(|line| line.contains("/inventory/items")).collect();
        assert_eq!(reads.len(), 1, "{reads:?}");
        let read = reads[0].replace("%3A", ":").replace("%2C", ",");
        assert!(read.contains("location_id:in=1,2") && read.contains("limit=1000"), "{read}");
        sandbox.shutdown().await;
    }

    #[tokio::test]
    async fn levels_of_more_items_than_a_page_are_read_page_by_page() {
        let sandbox = start_sandbox().await;
        sandbox.generate_bigcommerce_catalog(json!({"skus": 2100, "seed": 6, "variant_share": 0.0})).await;

        let (levels, _) = demo_client(&sandbox).inventory_levels(&[StockLocation::DEFAULT]).await.expect("levels");

        assert_eq!(levels.len(), 2100 + 4);
        assert_eq!(sandbox.count_requests(System::BigCommerce, "GET", "/v3/inventory/items").await, 3);
        sandbox.shutdown().await;
    }

    #[tokio::test]
    async fn the_stores_locations_are_listed_default_first() {
        let sandbox = start_sandbox().await;
        seed_catalog(&sandbox).await;

        let locations = demo_client(&sandbox).locations().await.expect("locations");

        let seen: Vec<(u64, &str, bool)> =
            locations.iter().map(|location| (location.id.id(), location.code.as_str(), location.enabled)).collect();
        assert_eq!(seen, vec![(1, "BC-LOCATION-1", true), (2, "WH-EAST", true), (3, "WH-OLD", false)]);
        sandbox.shutdown().await;
    }

    fn rows(count: usize) -> Vec<(ItemAddress, StockLocation, i64)> {
        (0..count).map(|index| (product(5000 + index as u64), StockLocation::DEFAULT, 1)).collect()
    }

    #[tokio::test]
    async fn more_than_2000_rows_are_refused_before_anything_is_sent_and_2000_go_in_one_call() {
        let sandbox = start_sandbox().await;
        sandbox
            .generate_bigcommerce_catalog(
                json!({"skus": 2000, "seed": 8, "variant_share": 0.0, "first_product_id": 5000}),
            )
            .await;
        let bigcommerce = demo_client(&sandbox);

        let error = bigcommerce.set_absolute("too many", &rows(2001)).await.expect_err("refused locally");
        assert!(matches!(error, Error::Unsendable { .. }), "{error:?}");
        assert_eq!(error.class(), ErrorClass::Data);
        assert_eq!(
            error.to_string(),
            "BigCommerce absolute adjustment: not sent: 2001 rows is more than the 2000 BigCommerce takes at once"
        );
        let negative = bigcommerce.set_absolute("negative", &[(product(111), StockLocation::DEFAULT, -1)]).await;
        assert!(matches!(negative, Err(Error::Unsendable { .. })), "{negative:?}");
        assert!(matches!(bigcommerce.set_absolute("none", &[]).await, Err(Error::Unsendable { .. })));
        assert_eq!(sandbox.count_requests(System::BigCommerce, "PUT", "/v3/inventory/adjustments/absolute").await, 0);

        let outcome = bigcommerce.set_absolute("a full batch", &rows(2000)).await.expect("2000 rows");
        assert!(matches!(outcome, AdjustmentOutcome::Applied { .. }), "{outcome:?}");
        assert_eq!(sandbox.count_requests(System::BigCommerce, "PUT", "/v3/inventory/adjustments/absolute").await, 1);
        sandbox.shutdown().await;
    }

    #[tokio::test]
    async fn a_refusal_naming_two_bad_items_is_two_item_errors_and_the_rest_goes_through_after() {
        // GIVEN a batch with a variant of a product tracked by product and a variant that does not exist
        let sandbox = start_sandbox().await;
        let bigcommerce = demo_client(&sandbox);
        let batch = [
            (product(111), StockLocation::DEFAULT, 10),
            (variant(212), StockLocation::DEFAULT, 20),
            (variant(213), StockLocation::DEFAULT, 30),
            (variant(999_999), StockLocation::DEFAULT, 40),
        ];

        // WHEN it is sent
        let outcome = bigcommerce.set_absolute("Plex stock", &batch).await.expect("a refusal, not an error");

        // THEN each bad item is an error of its own, tied to its row, and nothing was applied
        let AdjustmentOutcome::Refused { errors } = &outcome else { panic!("refused: {outcome:?}") };
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(errors[0].subject, Refused::Item(variant(212)));
        assert_eq!(
            errors[0].reason,
            "Item with variant_id 212 is tracked by product, please update stock by product id"
        );
        assert_eq!(errors[0].rows, vec![1]);
        assert_eq!(errors[1].subject, Refused::Item(variant(999_999)));
        assert_eq!(errors[1].reason, "Item with variant_id 999999 does not exist");
        assert_eq!(errors[1].rows, vec![3]);
        let (levels, _) = bigcommerce.inventory_levels(&[StockLocation::DEFAULT]).await.expect("levels");
        assert_eq!(levels[&(Sku::from("MW-BOLT-M8"), StockLocation::DEFAULT)], 1200, "nothing applied");

        // AND the rest, sent again without them, is applied
        let refused = outcome.refused_rows();
        assert_eq!(refused, BTreeSet::from([1, 3]));
        let rest: Vec<_> =
            batch.iter().enumerate().filter(|(index, _)| !refused.contains(index)).map(|(_, row)| *row).collect();
        let retried = bigcommerce.set_absolute("Plex stock", &rest).await.expect("applied");
        assert!(matches!(retried, AdjustmentOutcome::Applied { .. }), "{retried:?}");
        let (levels, _) = bigcommerce.inventory_levels(&[StockLocation::DEFAULT]).await.expect("levels");
        assert_eq!(levels[&(Sku::from("MW-BOLT-M8"), StockLocation::DEFAULT)], 10);
        assert_eq!(levels[&(Sku::from("MW-BRKT-100-ZN"), StockLocation::DEFAULT)], 30);
        sandbox.shutdown().await;
    }

    #[tokio::test]
    async fn a_disabled_location_refuses_every_row_at_it_in_one_error() {
        let sandbox = start_sandbox().await;
        seed_catalog(&sandbox).await;
        let batch = [
            (product(111), StockLocation(3), 1),
            (product(112), StockLocation::DEFAULT, 2),
            (variant(402), StockLocation(3), 3),
        ];

        let outcome = demo_client(&sandbox).set_absolute("Plex stock", &batch).await.expect("a refusal");

        let AdjustmentOutcome::Refused { errors } = &outcome else { panic!("refused: {outcome:?}") };
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].subject, Refused::Location(StockLocation(3)));
        assert_eq!(errors[0].rows, vec![0, 2]);
        sandbox.shutdown().await;
    }

    #[tokio::test]
    async fn a_429_on_an_adjustment_is_waited_out_and_retried() {
        let sandbox = start_sandbox().await;
        control(&sandbox, "config", json!({ "rate_limit": { "window_ms": 200 } })).await;
        control(
            &sandbox,
            "faults",
            json!({ "method": "PUT", "path_contains": "/v3/inventory/", "times": 1, "fault": "rate_limit" }),
        )
        .await;

        let outcome = demo_client(&sandbox)
            .set_absolute("Plex stock", &[(product(111), StockLocation::DEFAULT, 5)])
            .await
            .expect("retried");

        assert!(matches!(outcome, AdjustmentOutcome::Applied { .. }), "{outcome:?}");
        assert_eq!(statuses(&request_log(&sandbox).await), vec![Some(429), Some(200)]);
        sandbox.shutdown().await;
    }
}
