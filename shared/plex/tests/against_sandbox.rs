//! The Plex clients against the sandbox's Plex double, started in-process on 127.0.0.1 for each
//! test: both auth modes, token expiry and refresh, tenant selection, and injected 429/503/403/slow
//! responses; then the orders flow: customers and parts, the REST sales-order chain (calls per
//! order, validation errors, resuming a half-written order, retries that must not duplicate),
//! updates, and the Data Source route. Real time, with waits kept to a second or two.

use std::str::FromStr;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use domain::ErrorClass;
use domain::connection::PlexAuthMode;
use domain::order::{SalesOrderDraft, SalesOrderLineDraft};
use millwright_http::HttpSettings;
use plex::{
    Credentials, DataSourceClient, DataSourceHeader, DataSourceOrderIds, Error, NewCustomer, NewCustomerAddress,
    PlexClient, ReleaseChange,
};
use rust_decimal::Decimal;
use sandbox::{Sandbox, SandboxConfig, System, demo};
use secrecy::SecretString;
use serde_json::{Value, json};

async fn start_sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig { seed_demo: true, ..Default::default() }).await.expect("sandbox starts")
}

fn credentials(document: Value) -> Credentials {
    Credentials::from_secret_json(&SecretString::from(document.to_string())).expect("credentials")
}

fn api_key_client(sandbox: &Sandbox, key: &str, tenant_id: Option<&str>) -> PlexClient {
    api_key_client_with(sandbox, key, tenant_id, &HttpSettings::for_local_double())
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
        &HttpSettings::for_local_double(),
        &sandbox.plex_url,
        &PlexAuthMode::OAuth2 { token_url: None },
        None,
        credentials(document),
    )
    .expect("client")
}

async fn control(sandbox: &Sandbox, path: &str, body: Value) {
    sandbox.control(System::Plex, path, body).await
}

async fn use_oauth2(sandbox: &Sandbox) {
    control(sandbox, "config", json!({ "auth": { "mode": "oauth2" } })).await;
}

/// The double's request log (API requests only; control requests are not logged).
async fn request_log(sandbox: &Sandbox) -> Vec<Value> {
    sandbox.request_log(System::Plex).await
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
    // 300 ms per attempt: the first attempt is abandoned well before the 1 s delay ends.
    let impatient = HttpSettings::for_local_double().with_timeout(Duration::from_millis(300));
    let started = Instant::now();

    api_key_client_with(&sandbox, demo::PLEX_API_KEY, None, &impatient).tenants().await.expect("the second attempt");

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

/// The order worker's canary after a 401 (`SalesOrderSink::credentials_work`).
#[tokio::test]
async fn the_credentials_canary_asks_tenants_with_an_api_key_and_trusts_the_oauth2_refresh() {
    use domain::ports::SalesOrderSink;
    let sandbox = start_sandbox().await;
    let sink = |client| plex::PlexSalesOrders::new(client, plex::Writer::Rest);

    // A key that works says so with one call; a refused one is `false`, not an error.
    assert!(sink(api_key_client(&sandbox, demo::PLEX_API_KEY, None)).credentials_work().await.expect("canary"));
    assert!(!sink(api_key_client(&sandbox, "plex-wrong-key-77c1", None)).credentials_work().await.expect("canary"));
    assert_eq!(exchanges(&sandbox).await, vec!["GET /mdm/v1/tenants 200", "GET /mdm/v1/tenants 401"]);

    // A canary that cannot tell is an error of its own class (a 503 on each of the 4 attempts).
    let fault = json!({ "path_prefix": "/mdm/", "times": 4, "fault": { "kind": "server_error", "status": 503 } });
    control(&sandbox, "faults", fault).await;
    let error = sink(api_key_client(&sandbox, demo::PLEX_API_KEY, None)).credentials_work().await.expect_err("503s");
    assert_eq!(error.class, ErrorClass::Transient);

    // OAuth2 already sent the failed call again with a new token: no second check, no token request.
    use_oauth2(&sandbox).await;
    let before = request_log(&sandbox).await.len();
    assert!(!sink(oauth_client(&sandbox, demo::PLEX_OAUTH_CLIENT_SECRET)).credentials_work().await.expect("canary"));
    assert_eq!(request_log(&sandbox).await.len(), before);
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

// ---- the orders flow ---------------------------------------------------------------------------

const BOLT_PART_ID: &str = "3c4d5e6f-7a8b-4c9d-8e1f-2a3b4c5d6e7f";
const NUT_PART_ID: &str = "4d5e6f7a-8b9c-4d0e-9f2a-3b4c5d6e7f80";
const BRACKET_PART_ID: &str = "5e6f7a8b-9c0d-4e1f-8a3b-4c5d6e7f8091";
const WEB_SHIP_TO_ID: &str = "a1b2c3d4-0001-4e5f-8a9b-0c1d2e3f4a01";
const UNKNOWN_ID: &str = "00000000-0000-4000-8000-00000000dead";

fn decimal(text: &str) -> Decimal {
    Decimal::from_str(text).expect("a decimal")
}

fn due(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, day).expect("a date")
}

fn line(
    number: u32,
    part_id: &str,
    part_number: &str,
    quantity: &str,
    price: &str,
    due_day: u32,
) -> SalesOrderLineDraft {
    SalesOrderLineDraft {
        line_number: number,
        part_id: part_id.to_owned(),
        part_number: part_number.to_owned(),
        quantity: decimal(quantity),
        unit_price: decimal(price),
        currency_code: "USD".to_owned(),
        due_date: due(due_day),
        ship_to_address_id: None,
    }
}

/// A web order for the demo web customer with bolts (shipped to its ship-to address) and nuts.
fn draft(po_number: &str) -> SalesOrderDraft {
    let mut bolts = line(1, BOLT_PART_ID, "MW-BOLT-M8", "10", "0.45", 1);
    bolts.ship_to_address_id = Some(WEB_SHIP_TO_ID.to_owned());
    SalesOrderDraft {
        po_number: po_number.to_owned(),
        customer_id: demo::PLEX_WEB_CUSTOMER_ID.to_owned(),
        order_date: DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z").expect("a date").with_timezone(&Utc),
        note: Some("BigCommerce order 1042".to_owned()),
        lines: vec![bolts, line(2, NUT_PART_ID, "MW-NUT-M8", "25.5", "0.12", 2)],
    }
}

fn demo_client(sandbox: &Sandbox) -> PlexClient {
    api_key_client(sandbox, demo::PLEX_API_KEY, None)
}

/// The double's view of the orders with a PO number, lines, prices and releases nested.
async fn orders_in_plex(sandbox: &Sandbox, po_number: &str) -> Vec<Value> {
    reqwest::get(format!("{}/__control/sales-orders?po_number={po_number}", sandbox.plex_url))
        .await
        .expect("control plane reachable")
        .json::<Value>()
        .await
        .expect("JSON")
        .as_array()
        .cloned()
        .expect("a list")
}

#[tokio::test]
async fn a_two_line_order_takes_one_plus_three_calls_per_line_and_reads_back_whole() {
    let sandbox = start_sandbox().await;
    let client = demo_client(&sandbox);
    let draft = draft("BC-1042");

    let created = client.create_sales_order(&draft).await.expect("created");

    assert_eq!(created.calls, 7, "1 + 3 × 2 lines");
    assert_eq!(
        exchanges(&sandbox).await.iter().map(|exchange| exchange.rsplit_once(' ').unwrap().1).collect::<Vec<_>>(),
        vec!["201"; 7]
    );
    assert_eq!(
        created.lines.iter().map(|line| line.part_number.as_str()).collect::<Vec<_>>(),
        ["MW-BOLT-M8", "MW-NUT-M8"]
    );
    assert!(created.lines.iter().all(|line| line.added));

    let order = client.sales_order(&created.order_id).await.expect("read").expect("exists");
    assert_eq!(order.order_number, created.order_number);
    assert_eq!(order.po_number.as_deref(), Some("BC-1042"));
    assert_eq!(order.customer_id.as_deref(), Some(demo::PLEX_WEB_CUSTOMER_ID));
    assert_eq!(order.status.as_deref(), Some("Open"));
    assert_eq!(order.order_date, Some(draft.order_date));
    assert_eq!(order.note.as_deref(), Some("BigCommerce order 1042"));

    let lines = client.sales_order_lines(&created.order_id).await.expect("lines");
    assert_eq!(lines.iter().map(|line| line.line_number.as_deref()).collect::<Vec<_>>(), [Some("1"), Some("2")]);
    assert_eq!(lines[0].part_id.as_deref(), Some(BOLT_PART_ID));
    let prices = client.sales_order_line_prices(&created.order_id, &lines[1].id).await.expect("prices");
    assert_eq!((prices[0].price, prices[0].currency_code.as_deref()), (Some(decimal("0.12")), Some("USD")));
    let line_ids: Vec<String> = lines.iter().map(|line| line.id.clone()).collect();
    let mut releases = client.releases(&line_ids).await.expect("releases");
    releases.sort_by_key(|release| release.part_number.clone());
    assert_eq!(
        releases.iter().map(|release| release.quantity).collect::<Vec<_>>(),
        [Some(decimal("10")), Some(decimal("25.5"))]
    );
    assert_eq!(releases[0].due_date, Some(due(1).and_hms_opt(0, 0, 0).unwrap().and_utc()));
    assert_eq!(releases[0].ship_to_address_id.as_deref(), Some(WEB_SHIP_TO_ID));
    assert_eq!((releases[1].status.as_deref(), releases[1].ship_from.as_deref()), (Some("Open"), Some("MAIN")));

    let found = client.find_sales_order_by_po("BC-1042").await.expect("look-up").expect("found");
    assert_eq!(found.id, created.order_id);
    assert_eq!(client.find_sales_order_by_po("BC-9999").await.expect("look-up"), None);
    assert!(client.releases(&[]).await.expect("no ids, no call").is_empty());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn an_unknown_customer_is_a_data_error_naming_customer_id() {
    let sandbox = start_sandbox().await;
    let mut draft = draft("BC-1043");
    draft.customer_id = UNKNOWN_ID.to_owned();

    let error = demo_client(&sandbox).create_sales_order(&draft).await.expect_err("400");

    assert_eq!(error.class(), ErrorClass::Data);
    assert_eq!(error.field(), Some("CustomerId"));
    assert!(error.to_string().contains("reference data that does not exist"), "{error}");
    assert_eq!(exchanges(&sandbox).await, vec!["POST /sales/v1/orders 400"], "not retried");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn an_unknown_part_is_a_data_error_and_parts_are_found_by_number() {
    let sandbox = start_sandbox().await;
    let client = demo_client(&sandbox);
    let mut draft = draft("BC-1044");
    draft.lines[1].part_id = UNKNOWN_ID.to_owned();

    let error = client.create_sales_order(&draft).await.expect_err("400 on the second line");

    assert_eq!((error.class(), error.field()), (ErrorClass::Data, Some("PartId")));
    let part = client.part_by_number("MW-BOLT-M8").await.expect("look-up").expect("found");
    assert_eq!((part.id.as_str(), part.status.as_deref()), (BOLT_PART_ID, Some("Active")));
    assert_eq!(client.part_by_number("MW-BOLT").await.expect("look-up"), None, "numbers match exactly");
    control(&sandbox, "config", json!({ "empty_list_status": 404 })).await;
    assert_eq!(client.part_by_number("NO SUCH PART").await.expect("404 on a list is empty"), None);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn completing_a_half_written_order_adds_only_what_is_missing() {
    let sandbox = start_sandbox().await;
    // GIVEN an earlier attempt that wrote line 1 whole, line 2 without price and release, no line 3
    control(
        &sandbox,
        "seed",
        json!({"sales_orders": [{
            "customerId": demo::PLEX_WEB_CUSTOMER_ID, "poNumber": "BC-1045", "status": "Open", "type": "Web",
            "lines": [
                {"partId": BOLT_PART_ID, "lineNumber": "1",
                 "prices": [{"price": 0.45, "unit": "Ea", "currencyCode": "USD"}],
                 "releases": [{"quantity": 10, "dueDate": "2026-12-01T00:00:00Z", "status": "Open",
                               "type": "Ship Schedule", "shipFrom": "MAIN"}]},
                {"partId": NUT_PART_ID, "lineNumber": "2"}
            ]
        }]}),
    )
    .await;
    let client = demo_client(&sandbox);
    let mut draft = draft("BC-1045");
    draft.lines.push(line(3, BRACKET_PART_ID, "MW-BRKT-100-ZN", "2", "6.90", 3));

    // WHEN the worker finds the order by its PO number and completes it
    let found = client.find_sales_order_by_po("BC-1045").await.expect("look-up").expect("found");
    let completed = client.complete_sales_order(&found.id, &draft).await.expect("completed");

    // THEN only line 2's price and release and line 3 were written
    assert_eq!(completed.lines.iter().map(|line| line.added).collect::<Vec<_>>(), [false, false, true]);
    let posts: Vec<String> =
        exchanges(&sandbox).await.into_iter().filter(|exchange| exchange.starts_with("POST")).collect();
    assert_eq!(posts.len(), 5, "{posts:?}");
    assert_eq!(completed.calls, 3 + 2 + 5, "order, lines, releases; prices of lines 1 and 2; five creates");
    let orders = orders_in_plex(&sandbox, "BC-1045").await;
    assert_eq!(orders.len(), 1);
    for line in orders[0]["lines"].as_array().expect("lines") {
        assert_eq!(
            (line["prices"].as_array().map(Vec::len), line["releases"].as_array().map(Vec::len)),
            (Some(1), Some(1))
        );
    }

    // AND completing again writes nothing
    let again = client.complete_sales_order(&found.id, &draft).await.expect("nothing to do");
    assert_eq!(
        again.lines.iter().map(|line| line.release_id.as_str()).collect::<Vec<_>>(),
        completed.lines.iter().map(|line| line.release_id.as_str()).collect::<Vec<_>>()
    );
    assert_eq!(exchanges(&sandbox).await.iter().filter(|exchange| exchange.starts_with("POST")).count(), 5);

    // AND a line that Plex has with another part is not papered over
    draft.lines[1].part_id = BRACKET_PART_ID.to_owned();
    let error = client.complete_sales_order(&found.id, &draft).await.expect_err("part mismatch");
    assert!(matches!(error, Error::Inconsistent { .. }) && error.class() == ErrorClass::Data, "{error:?}");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_429_in_the_middle_of_the_chain_is_retried_transparently() {
    let sandbox = start_sandbox().await;
    control(
        &sandbox,
        "faults",
        json!({"method": "POST", "path_prefix": "/sales/v1/releases", "times": 1,
               "fault": {"kind": "rate_limit", "retry_after_seconds": 1}}),
    )
    .await;

    let created = demo_client(&sandbox).create_sales_order(&draft("BC-1046")).await.expect("created");

    assert_eq!(created.calls, 8, "seven creates and the refused one");
    assert!(exchanges(&sandbox).await.contains(&"POST /sales/v1/releases 429".to_owned()));
    let orders = orders_in_plex(&sandbox, "BC-1046").await;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0]["lines"][0]["releases"].as_array().map(Vec::len), Some(1));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_not_duplicated_by_the_retry() {
    let sandbox = start_sandbox().await;
    // The double writes the order, then cuts the answer short: the client must retry blind.
    control(
        &sandbox,
        "faults",
        json!({"method": "POST", "path_prefix": "/sales/v1/orders", "times": 1, "fault": "truncated_body"}),
    )
    .await;

    let created = demo_client(&sandbox).create_sales_order(&draft("BC-1047")).await.expect("created");

    let log = exchanges(&sandbox).await;
    assert_eq!(
        log[..3],
        [
            "POST /sales/v1/orders 201",
            "POST /sales/v1/orders 400",
            format!("GET /sales/v1/orders/{} 200", created.order_id).as_str()
        ]
    );
    assert_eq!(orders_in_plex(&sandbox, "BC-1047").await.len(), 1, "one order, not two");
    assert!(created.order_number.is_some());
    sandbox.shutdown().await;
}

/// One order line as the double holds it: its number, its prices, and its releases as quantity
/// and due date.
#[derive(Debug, PartialEq)]
struct LineInPlex {
    number: String,
    prices: Vec<f64>,
    releases: Vec<(f64, String)>,
}

/// A line with one price and one release.
fn held(number: &str, price: f64, quantity: f64, due: &str) -> LineInPlex {
    LineInPlex { number: number.to_owned(), prices: vec![price], releases: vec![(quantity, due.to_owned())] }
}

/// The orders the double holds for a PO number, each as its lines in line-number order.
async fn chain_in_plex(sandbox: &Sandbox, po_number: &str) -> Vec<Vec<LineInPlex>> {
    let records = |list: &Value| -> Vec<Value> { list.as_array().cloned().unwrap_or_default() };
    orders_in_plex(sandbox, po_number)
        .await
        .iter()
        .map(|order| {
            let mut lines: Vec<LineInPlex> = records(&order["lines"])
                .iter()
                .map(|line| LineInPlex {
                    number: line["lineNumber"].as_str().unwrap_or_default().to_owned(),
                    prices: records(&line["prices"]).iter().filter_map(|price| price["price"].as_f64()).collect(),
                    releases: records(&line["releases"])
                        .iter()
                        .map(|release| {
                            let due = release["dueDate"].as_str().unwrap_or_default().to_owned();
                            (release["quantity"].as_f64().unwrap_or(f64::NAN), due)
                        })
                        .collect(),
                })
                .collect();
            lines.sort_by(|a, b| a.number.cmp(&b.number));
            lines
        })
        .collect()
}

/// What `draft` should leave in Plex: one order, each line with one price and one release.
fn whole_draft_order() -> Vec<Vec<LineInPlex>> {
    vec![vec![held("1", 0.45, 10.0, "2026-12-01T00:00:00Z"), held("2", 0.12, 25.5, "2026-12-02T00:00:00Z")]]
}

#[tokio::test]
async fn a_lost_answer_to_any_create_in_the_chain_is_adopted_by_the_retry() {
    // Plex checks a line's number before its id, so the retry of a line whose answer was lost is
    // refused for the line number, not the id; prices and releases are refused for the id.
    let creates = [
        ("a line", json!({"method": "POST", "path_prefix": "/sales/v1/orders/", "path_contains": "/lines"})),
        ("a price", json!({"method": "POST", "path_contains": "/prices"})),
        ("a release", json!({"method": "POST", "path_prefix": "/sales/v1/releases"})),
    ];
    for (create, rule) in creates {
        // GIVEN a double that writes the first such record, then cuts its answer short
        let sandbox = start_sandbox().await;
        let mut rule = rule;
        rule["times"] = json!(1);
        rule["fault"] = json!("truncated_body");
        control(&sandbox, "faults", rule).await;

        // WHEN the chain is written
        let created = demo_client(&sandbox)
            .create_sales_order(&draft("BC-1049"))
            .await
            .unwrap_or_else(|error| panic!("{create}: {error}"));

        // THEN the refused retry read the record back and the chain went on: one order, whole
        let log = exchanges(&sandbox).await;
        assert_eq!(log.iter().filter(|exchange| exchange.ends_with(" 400")).count(), 1, "{create}: {log:?}");
        assert_eq!(created.calls, 7 + 2, "{create}: seven creates, the refused retry and the read");
        assert_eq!(chain_in_plex(&sandbox, "BC-1049").await, whole_draft_order(), "{create}");
        assert!(created.lines.iter().all(|line| line.added), "{create}");
        sandbox.shutdown().await;
    }
}

#[tokio::test]
async fn a_line_create_that_failed_on_every_attempt_is_completed_by_the_next_run() {
    // GIVEN a double that writes line 1, loses the answer and then fails every retry
    let sandbox = start_sandbox().await;
    let lines_rule = json!({"method": "POST", "path_prefix": "/sales/v1/orders/", "path_contains": "/lines"});
    let mut lost = lines_rule.clone();
    lost["times"] = json!(1);
    lost["fault"] = json!("truncated_body");
    control(&sandbox, "faults", lost).await;
    let mut failing = lines_rule;
    failing["times"] = json!(3);
    failing["fault"] = json!({"kind": "server_error", "status": 503});
    control(&sandbox, "faults", failing).await;
    let client = demo_client(&sandbox);
    let draft = draft("BC-1050");

    // WHEN the create gives up, and the next run finds the order by its PO number and completes it
    let error = client.create_sales_order(&draft).await.expect_err("every attempt failed");
    assert_eq!(error.class(), ErrorClass::Transient, "{error}");
    let found = client.find_sales_order_by_po("BC-1050").await.expect("look-up").expect("the header exists");
    let completed = client.complete_sales_order(&found.id, &draft).await.expect("completed");

    // THEN the line the lost attempt wrote was kept, and Plex holds the order once, whole
    assert_eq!(completed.lines.iter().map(|line| line.added).collect::<Vec<_>>(), [false, true]);
    assert_eq!(chain_in_plex(&sandbox, "BC-1050").await, whole_draft_order());
    sandbox.shutdown().await;
}

/// A half-written order for `draft`: line 1 with `price` and one release of `quantity` due on
/// 1 December, line 2 without price or release.
async fn seed_half_written(sandbox: &Sandbox, po_number: &str, price: f64, quantity: f64) {
    control(
        sandbox,
        "seed",
        json!({"sales_orders": [{
            "customerId": demo::PLEX_WEB_CUSTOMER_ID, "poNumber": po_number, "status": "Open", "type": "Web",
            "lines": [
                {"partId": BOLT_PART_ID, "lineNumber": "1",
                 "prices": [{"price": price, "unit": "Ea", "currencyCode": "USD"}],
                 "releases": [{"quantity": quantity, "dueDate": "2026-12-01T00:00:00Z", "status": "Open",
                               "type": "Ship Schedule", "shipFrom": "MAIN", "shipToAddressId": WEB_SHIP_TO_ID}]},
                {"partId": NUT_PART_ID, "lineNumber": "2"}
            ]
        }]}),
    )
    .await;
}

#[tokio::test]
async fn completing_an_order_brings_an_existing_release_to_the_drafts_quantity_and_due_date() {
    // GIVEN a half-written order whose line 1 release says 10 due 1 December, where the order now
    // says 99 due 20 December
    let sandbox = start_sandbox().await;
    seed_half_written(&sandbox, "BC-1051", 0.45, 10.0).await;
    let client = demo_client(&sandbox);
    let mut draft = draft("BC-1051");
    draft.lines[0].quantity = decimal("99");
    draft.lines[0].due_date = due(20);
    let found = client.find_sales_order_by_po("BC-1051").await.expect("look-up").expect("found");
    let seeded = client.sales_order_lines(&found.id).await.expect("lines");
    let seeded_release = client.releases(&[seeded[0].id.clone()]).await.expect("releases").remove(0);

    // WHEN the order is completed
    let completed = client.complete_sales_order(&found.id, &draft).await.expect("completed");

    // THEN the release was updated in place, keeping what the draft does not set
    let release = client.releases(&[seeded[0].id.clone()]).await.expect("releases").remove(0);
    assert_eq!(completed.lines[0].release_id, seeded_release.id);
    assert_eq!((release.id.as_str(), release.quantity), (seeded_release.id.as_str(), Some(decimal("99"))));
    assert_eq!(release.due_date, Some(due(20).and_hms_opt(0, 0, 0).unwrap().and_utc()));
    assert_eq!(release.ship_to_address_id.as_deref(), Some(WEB_SHIP_TO_ID), "kept");
    assert_eq!(
        chain_in_plex(&sandbox, "BC-1051").await,
        vec![vec![held("1", 0.45, 99.0, "2026-12-20T00:00:00Z"), held("2", 0.12, 25.5, "2026-12-02T00:00:00Z")]]
    );
    let log = exchanges(&sandbox).await;
    assert!(log.contains(&format!("PUT /sales/v1/releases/{} 200", seeded_release.id)), "{log:?}");
    assert_eq!(
        completed.calls,
        3 + 2 + 2 + 2,
        "order, lines, releases; prices of lines 1 and 2; the release's GET and PUT; line 2's price and release"
    );

    // AND completing again changes nothing
    let again = client.complete_sales_order(&found.id, &draft).await.expect("nothing to do");
    assert_eq!(again.calls, 3 + 2, "reads only");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn completing_an_order_whose_price_differs_is_inconsistent_naming_the_line_and_writes_nothing() {
    // GIVEN a half-written order whose line 1 price is 0.50 where the order says 0.45
    let sandbox = start_sandbox().await;
    seed_half_written(&sandbox, "BC-1052", 0.5, 10.0).await;
    let client = demo_client(&sandbox);
    let found = client.find_sales_order_by_po("BC-1052").await.expect("look-up").expect("found");

    // WHEN the order is completed
    let error = client.complete_sales_order(&found.id, &draft("BC-1052")).await.expect_err("price mismatch");

    // THEN the error names the line, Plex's price and the order's, and Plex was left as it was
    assert!(matches!(error, Error::Inconsistent { .. }) && error.class() == ErrorClass::Data, "{error:?}");
    let message = error.to_string();
    assert!(message.contains("line 1 (MW-BOLT-M8) has price 0.5 USD in Plex, not 0.45 USD"), "{message}");
    let writes: Vec<String> =
        exchanges(&sandbox).await.into_iter().filter(|exchange| !exchange.starts_with("GET")).collect();
    assert!(writes.is_empty(), "{writes:?}");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn updating_releases_of_a_line_known_without_its_release_finds_the_release_by_the_line() {
    use domain::order::{PlexLineRef, PlexOrderRef};
    use domain::ports::SalesOrderSink;

    // GIVEN an order whose reference knows line 1 but not its release
    let sandbox = start_sandbox().await;
    let client = demo_client(&sandbox);
    let created = client.create_sales_order(&draft("BC-1053")).await.expect("created");
    let order = PlexOrderRef {
        id: created.order_id.clone(),
        number: created.order_number.clone(),
        lines: vec![PlexLineRef { line_number: 1, line_id: created.lines[0].line_id.clone(), release_id: None }],
    };
    let mut changed = draft("BC-1053").lines.remove(0);
    changed.quantity = decimal("99");

    // WHEN the worker updates the line's release
    plex::PlexSalesOrders::new(client.clone(), plex::Writer::Rest)
        .update_releases(&order, &[changed])
        .await
        .expect("updated");

    // THEN the line's one release holds the new quantity
    let release = client.releases(&[created.lines[0].line_id.clone()]).await.expect("releases").remove(0);
    assert_eq!((release.id, release.quantity), (created.lines[0].release_id.clone(), Some(decimal("99"))));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn releases_and_orders_are_updated_by_sending_the_whole_record_back() {
    let sandbox = start_sandbox().await;
    let client = demo_client(&sandbox);
    let created = client.create_sales_order(&draft("BC-1048")).await.expect("created");
    let release_id = &created.lines[0].release_id;

    let change =
        ReleaseChange { quantity: Some(decimal("12")), due_date: Some(due(15)), status: Some("Hold".to_owned()) };
    let updated = client.update_release(release_id, &change).await.expect("updated");
    let status_only = ReleaseChange { status: Some("Open".to_owned()), ..ReleaseChange::default() };
    let reopened = client.update_release(&created.lines[1].release_id, &status_only).await.expect("updated");
    let closed = client.update_sales_order_status(&created.order_id, "Closed").await.expect("updated");

    assert_eq!((updated.quantity, updated.status.as_deref()), (Some(decimal("12")), Some("Hold")));
    assert_eq!(updated.due_date, Some(due(15).and_hms_opt(0, 0, 0).unwrap().and_utc()));
    assert_eq!(updated.ship_to_address_id.as_deref(), Some(WEB_SHIP_TO_ID), "kept");
    assert_eq!(reopened.quantity, Some(decimal("25.5")), "kept");
    assert_eq!((closed.status.as_deref(), closed.po_number.as_deref()), (Some("Closed"), Some("BC-1048")));
    let error = client.update_release(UNKNOWN_ID, &status_only).await.expect_err("no such release");
    assert_eq!(error.class(), ErrorClass::Data);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn customers_are_found_by_code_and_id_with_their_addresses_and_created_once() {
    let sandbox = start_sandbox().await;
    let client = demo_client(&sandbox);

    let web = client.customer_by_code(demo::PLEX_WEB_CUSTOMER_CODE).await.expect("look-up").expect("found");
    assert_eq!(web.id, demo::PLEX_WEB_CUSTOMER_ID);
    assert!(web.is_active());
    assert_eq!(
        client.customer(demo::PLEX_WEB_CUSTOMER_ID).await.expect("read").map(|customer| customer.code),
        Some(web.code)
    );
    assert_eq!(client.customer(UNKNOWN_ID).await.expect("404 is none"), None);
    let old = client.customer_by_code("OLDCO").await.expect("look-up").expect("found");
    assert!(!old.is_active());
    let addresses = client.customer_addresses(demo::PLEX_WEB_CUSTOMER_ID).await.expect("addresses");
    let flags: Vec<(Option<&str>, bool, bool)> =
        addresses.iter().map(|address| (address.code.as_deref(), address.ship_to, address.bill_to)).collect();
    assert_eq!(
        flags,
        [(Some(demo::PLEX_WEB_SHIP_TO_CODE), true, false), (Some(demo::PLEX_WEB_BILL_TO_CODE), false, true)]
    );

    let new = NewCustomer {
        code: "BC-CUST-7".to_owned(),
        name: "Jane Doe".to_owned(),
        email: Some("jane@example.test".to_owned()),
        ..NewCustomer::default()
    };
    let created = client.create_customer(&new).await.expect("created");
    assert_eq!((created.code.as_deref(), created.email.as_deref()), (Some("BC-CUST-7"), Some("jane@example.test")));
    let address = NewCustomerAddress {
        code: Some("SHIP-1".to_owned()),
        city: Some("Leeds".to_owned()),
        ship_to: true,
        ..NewCustomerAddress::default()
    };
    let added = client.create_customer_address(&created.id, &address).await.expect("address");
    assert!(added.ship_to && added.active && !added.bill_to);
    let error = client.create_customer(&new).await.expect_err("code taken");
    assert_eq!((error.class(), error.field()), (ErrorClass::Data, Some("Code")));
    sandbox.shutdown().await;
}

fn datasource_client(sandbox: &Sandbox, password: &str) -> DataSourceClient {
    let document = json!({ "api_key": demo::PLEX_API_KEY, "datasource_user": demo::PLEX_DATASOURCE_USER,
                           "datasource_password": password });
    DataSourceClient::new(&HttpSettings::for_local_double(), &sandbox.plex_url, &credentials(document)).expect("client")
}

const ORDER_DATASOURCES: DataSourceOrderIds = DataSourceOrderIds {
    create_header: demo::PLEX_ORDER_HEADER_DATASOURCE_ID,
    add_line: demo::PLEX_ORDER_LINE_DATASOURCE_ID,
    find_by_po: demo::PLEX_ORDER_BY_PO_DATASOURCE_ID,
};

#[tokio::test]
async fn the_data_source_route_creates_an_order_that_rest_reads_back() {
    let sandbox = start_sandbox().await;
    let header = DataSourceHeader {
        ship_to_address_code: Some(demo::PLEX_WEB_SHIP_TO_CODE.to_owned()),
        freight_amount: Some(decimal("9.95")),
        ..DataSourceHeader::default()
    };

    let created = datasource_client(&sandbox, demo::PLEX_DATASOURCE_PASSWORD)
        .create_sales_order_via_datasource_with(
            &ORDER_DATASOURCES,
            &draft("BC-2001"),
            demo::PLEX_WEB_CUSTOMER_CODE,
            &header,
        )
        .await
        .expect("created");

    assert_eq!((created.lines_added, created.resumed, created.calls), (2, false, 4), "find, header, two lines");
    let log = request_log(&sandbox).await;
    assert_eq!(log[0]["headers"]["authorization"], "Basic [REDACTED]");
    let rest = demo_client(&sandbox);
    let order = rest.find_sales_order_by_po("BC-2001").await.expect("look-up").expect("found");
    assert_eq!(order.order_number.as_deref(), Some(created.order_number.as_str()));
    assert_eq!(order.ship_to_address_id.as_deref(), Some(WEB_SHIP_TO_ID));
    let lines = rest.sales_order_lines(&order.id).await.expect("lines");
    let releases =
        rest.releases(&lines.iter().map(|line| line.id.clone()).collect::<Vec<_>>()).await.expect("releases");
    let mut quantities: Vec<Option<Decimal>> = releases.iter().map(|release| release.quantity).collect();
    quantities.sort();
    assert_eq!(quantities, [Some(decimal("10")), Some(decimal("25.5"))]);
    assert_eq!(orders_in_plex(&sandbox, "BC-2001").await[0]["charges"]["freight"], 9.95);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn an_unknown_part_reported_by_result_error_is_a_data_error_and_a_rerun_resumes() {
    let sandbox = start_sandbox().await;
    let client = datasource_client(&sandbox, demo::PLEX_DATASOURCE_PASSWORD);
    let mut draft = draft("BC-2002");
    draft.lines[1].part_number = "NO-SUCH-PART".to_owned();

    let error = client
        .create_sales_order_via_datasource(&ORDER_DATASOURCES, &draft, demo::PLEX_WEB_CUSTOMER_CODE)
        .await
        .expect_err("Result_Error");

    assert_eq!(error.class(), ErrorClass::Data);
    let Error::Rejected { code, message, .. } = &error else { panic!("expected a rejection, got {error:?}") };
    assert_eq!(code.as_deref(), Some("12"));
    assert!(message.contains("NO-SUCH-PART"), "{message}");
    assert!(error.to_string().contains(&format!("data source {}", demo::PLEX_ORDER_LINE_DATASOURCE_ID)), "{error}");

    // Once the mapping is fixed, the rerun finds the order and adds only the second line.
    draft.lines[1].part_number = "MW-NUT-M8".to_owned();
    let resumed = client
        .create_sales_order_via_datasource(&ORDER_DATASOURCES, &draft, demo::PLEX_WEB_CUSTOMER_CODE)
        .await
        .expect("resumed");
    assert_eq!((resumed.resumed, resumed.lines_added), (true, 1));
    let orders = orders_in_plex(&sandbox, "BC-2002").await;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0]["lines"].as_array().map(Vec::len), Some(2));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn data_source_failures_are_classed_by_their_documented_code() {
    let sandbox = start_sandbox().await;
    let code_and_class = |error: Error| match error {
        Error::DataSource { code, class, .. } => (code, class),
        other => panic!("expected a data source error, got {other:?}"),
    };

    let wrong_password = "ws-wrong-password-31";
    let error = datasource_client(&sandbox, wrong_password)
        .execute(demo::PLEX_PART_LOOKUP_DATASOURCE_ID, json!({}))
        .await
        .expect_err("401");
    assert!(!format!("{error} {error:?}").contains(wrong_password));
    assert_eq!(code_and_class(error), ("USER_ACCESS_DENIED".to_owned(), ErrorClass::Auth));

    let client = datasource_client(&sandbox, demo::PLEX_DATASOURCE_PASSWORD);
    let error = client.execute(424_242, json!({})).await.expect_err("unknown id");
    assert_eq!(code_and_class(error), ("DATA_SOURCE_NOT_FOUND".to_owned(), ErrorClass::Data));
    let error =
        client.execute(demo::PLEX_PART_LOOKUP_DATASOURCE_ID, json!({"part_no": "X"})).await.expect_err("bad input");
    assert_eq!(code_and_class(error), ("DATA_SOURCE_INPUT_NOT_FOUND".to_owned(), ErrorClass::Data));

    let found =
        client.execute(demo::PLEX_PART_LOOKUP_DATASOURCE_ID, json!({"Part_No": "MW-NUT-M8"})).await.expect("rows");
    assert_eq!(found.rows[0]["Part_Key"], 8_265_837);
    assert!(found.transaction_no.is_some());
    sandbox.shutdown().await;
}

// ---- the OAuth2 token shared through a token store ---------------------------------------------

mod shared_token {
    //! Several clients standing for several Lambda containers of one connection, sharing their
    //! OAuth2 token through an in-memory `TokenStore` that keeps the contract of the runtime's
    //! Secrets Manager store (one claim per token version, never released).

    use std::sync::{Arc, Mutex};

    use async_trait::async_trait;
    use chrono::{Duration as Span, Utc};
    use domain::PortError;
    use plex::{NO_SHARED_TOKEN, SharedToken, TokenStore};
    use secrecy::ExposeSecret;

    use super::*;

    #[derive(Default)]
    struct MemoryTokenStore {
        token: Mutex<Option<SharedToken>>,
        claims: Mutex<Vec<String>>,
        saves: Mutex<u32>,
    }

    impl MemoryTokenStore {
        fn holding(token: SharedToken) -> MemoryTokenStore {
            MemoryTokenStore { token: Mutex::new(Some(token)), ..MemoryTokenStore::default() }
        }

        fn token(&self) -> Option<SharedToken> {
            self.token.lock().expect("unpoisoned").clone()
        }

        fn claims(&self) -> Vec<String> {
            self.claims.lock().expect("unpoisoned").clone()
        }
    }

    #[async_trait]
    impl TokenStore for MemoryTokenStore {
        async fn load(&self) -> Result<Option<SharedToken>, PortError> {
            Ok(self.token())
        }

        async fn save(&self, token: &SharedToken) -> Result<(), PortError> {
            *self.token.lock().expect("unpoisoned") = Some(token.clone());
            *self.saves.lock().expect("unpoisoned") += 1;
            Ok(())
        }

        async fn claim_refresh(&self, version: &str, _ttl: std::time::Duration) -> Result<bool, PortError> {
            let mut claims = self.claims.lock().expect("unpoisoned");
            if claims.iter().any(|claimed| claimed == version) {
                return Ok(false);
            }
            claims.push(version.to_owned());
            Ok(true)
        }
    }

    /// A store that cannot be reached at all.
    struct BrokenTokenStore;

    #[async_trait]
    impl TokenStore for BrokenTokenStore {
        async fn load(&self) -> Result<Option<SharedToken>, PortError> {
            Err(PortError::unavailable("reading the shared token", "the store is down"))
        }

        async fn save(&self, _token: &SharedToken) -> Result<(), PortError> {
            Err(PortError::unavailable("writing the shared token", "the store is down"))
        }

        async fn claim_refresh(&self, _version: &str, _ttl: std::time::Duration) -> Result<bool, PortError> {
            Err(PortError::unavailable("claiming the refresh", "the store is down"))
        }
    }

    fn sharing_client(sandbox: &Sandbox, store: &Arc<MemoryTokenStore>) -> PlexClient {
        let store: Arc<dyn TokenStore> = store.clone();
        oauth_client(sandbox, demo::PLEX_OAUTH_CLIENT_SECRET).with_token_store(store)
    }

    async fn token_requests(sandbox: &Sandbox) -> usize {
        exchanges(sandbox).await.iter().filter(|exchange| exchange.starts_with("POST /oauth2/token")).count()
    }

    #[tokio::test]
    async fn two_clients_sharing_a_token_store_fetch_one_token_between_them() {
        // GIVEN two containers' clients sharing one store
        let sandbox = start_sandbox().await;
        use_oauth2(&sandbox).await;
        let store = Arc::new(MemoryTokenStore::default());

        // WHEN each calls Plex
        sharing_client(&sandbox, &store).tenants().await.expect("first container");
        sharing_client(&sandbox, &store).tenants().await.expect("second container");

        // THEN one token served both, and the store holds it
        assert_eq!(
            exchanges(&sandbox).await,
            vec!["POST /oauth2/token 200", "GET /mdm/v1/tenants 200", "GET /mdm/v1/tenants 200"]
        );
        let shared = store.token().expect("a shared token");
        assert!(shared.is_fresh(Utc::now()));
        assert_eq!(store.claims(), vec![NO_SHARED_TOKEN.to_owned()]);
        sandbox.shutdown().await;
    }

    #[tokio::test]
    async fn a_shared_token_about_to_expire_is_replaced_before_it_is_sent() {
        // GIVEN a shared one-hour token with thirty seconds left, inside its one-minute margin
        let sandbox = start_sandbox().await;
        use_oauth2(&sandbox).await;
        let now = Utc::now();
        let old = SharedToken {
            access_token: SecretString::from("token-about-to-expire".to_owned()),
            issued_at: now - Span::minutes(59) - Span::seconds(30),
            expires_at: Some(now + Span::seconds(30)),
        };
        let store = Arc::new(MemoryTokenStore::holding(old.clone()));

        // WHEN a client calls Plex
        sharing_client(&sandbox, &store).tenants().await.expect("tenants");

        // THEN it fetched a new token first (no 401 on the way) and shared it
        assert_eq!(exchanges(&sandbox).await, vec!["POST /oauth2/token 200", "GET /mdm/v1/tenants 200"]);
        let new = store.token().expect("a shared token");
        assert_ne!(new.access_token.expose_secret(), old.access_token.expose_secret());
        assert!(new.expires_at > old.expires_at);
        assert_eq!(store.claims(), vec![old.version()]);
        sandbox.shutdown().await;
    }

    #[tokio::test]
    async fn after_every_token_expired_the_401s_lead_to_one_refresh_and_the_calls_succeed() {
        // GIVEN two containers using the same shared token
        let sandbox = start_sandbox().await;
        use_oauth2(&sandbox).await;
        let store = Arc::new(MemoryTokenStore::default());
        let first = sharing_client(&sandbox, &store);
        let second = sharing_client(&sandbox, &store);
        first.tenants().await.expect("first container");
        second.tenants().await.expect("second container");
        let before = store.token().expect("a shared token");

        // WHEN Plex revokes every token and both call again
        control(&sandbox, "tokens/expire-all", json!({})).await;
        first.tenants().await.expect("refreshed and retried");
        second.tenants().await.expect("took the refreshed token and retried");

        // THEN the first refreshed once, the second adopted its token instead of fetching another
        assert_eq!(
            exchanges(&sandbox).await,
            vec![
                "POST /oauth2/token 200",
                "GET /mdm/v1/tenants 200",
                "GET /mdm/v1/tenants 200",
                "GET /mdm/v1/tenants 401",
                "POST /oauth2/token 200",
                "GET /mdm/v1/tenants 200",
                "GET /mdm/v1/tenants 401",
                "GET /mdm/v1/tenants 200",
            ]
        );
        let after = store.token().expect("a shared token");
        assert_ne!(after.access_token.expose_secret(), before.access_token.expose_secret());
        assert_eq!(store.claims(), vec![NO_SHARED_TOKEN.to_owned(), before.version()]);
        sandbox.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_refreshes_are_serialized_by_the_claim_into_one_token_request() {
        // GIVEN six containers starting at once with an empty store
        let sandbox = start_sandbox().await;
        use_oauth2(&sandbox).await;
        let store = Arc::new(MemoryTokenStore::default());
        let clients: Vec<PlexClient> = (0..6).map(|_| sharing_client(&sandbox, &store)).collect();

        // WHEN all call Plex at the same moment
        let calls: Vec<_> =
            clients.into_iter().map(|client| tokio::spawn(async move { client.tenants().await })).collect();
        for call in calls {
            call.await.expect("the task ran").expect("tenants");
        }

        // THEN one of them fetched the token, and the others waited for it
        assert_eq!(token_requests(&sandbox).await, 1, "{:?}", exchanges(&sandbox).await);
        assert_eq!(*store.saves.lock().expect("unpoisoned"), 1);
        sandbox.shutdown().await;
    }

    #[tokio::test]
    async fn an_unreachable_token_store_costs_the_sharing_but_not_the_call() {
        let sandbox = start_sandbox().await;
        use_oauth2(&sandbox).await;
        let client =
            oauth_client(&sandbox, demo::PLEX_OAUTH_CLIENT_SECRET).with_token_store(Arc::new(BrokenTokenStore));

        client.tenants().await.expect("a token of its own");
        client.tenants().await.expect("the same token again");

        assert_eq!(
            exchanges(&sandbox).await,
            vec!["POST /oauth2/token 200", "GET /mdm/v1/tenants 200", "GET /mdm/v1/tenants 200"]
        );
        sandbox.shutdown().await;
    }

    #[tokio::test]
    async fn an_api_key_client_ignores_a_token_store() {
        let sandbox = start_sandbox().await;
        let store = Arc::new(MemoryTokenStore::default());
        let dyn_store: Arc<dyn TokenStore> = store.clone();

        api_key_client(&sandbox, demo::PLEX_API_KEY, None)
            .with_token_store(dyn_store)
            .tenants()
            .await
            .expect("tenants");

        assert_eq!(exchanges(&sandbox).await, vec!["GET /mdm/v1/tenants 200"]);
        assert!(store.token().is_none() && store.claims().is_empty());
        sandbox.shutdown().await;
    }
}

// ---- stock: containers, adjustments, locations -------------------------------------------------

mod stock {
    //! The inventory reads against the double's inventory: tens of thousands of generated
    //! containers streamed and summed, the status and location filters, the adjustment window, a
    //! cut-off body, and retries before the body is read.

    use std::collections::BTreeMap;

    use domain::stock::{ContainerFilter, OnHand};
    use reqwest::Method;

    use super::*;

    fn filter(statuses: &[&str], locations: &[&str]) -> ContainerFilter {
        ContainerFilter {
            statuses: statuses.iter().map(|status| (*status).to_owned()).collect(),
            locations: locations.iter().map(|location| (*location).to_owned()).collect(),
        }
    }

    /// A client with time to read a body of tens of MB from a debug build of the double.
    fn patient_client(sandbox: &Sandbox) -> PlexClient {
        let mut settings = HttpSettings::for_local_double().with_timeout(Duration::from_secs(120));
        settings.retry.deadline = Duration::from_secs(120);
        api_key_client_with(sandbox, demo::PLEX_API_KEY, None, &settings)
    }

    /// What the double's own dump says each (part number, location code) holds in active
    /// containers of the given statuses.
    async fn sums_in_the_dump(sandbox: &Sandbox, statuses: &[&str]) -> BTreeMap<(String, String), Decimal> {
        let dump = sandbox.plex_inventory(None).await;
        let mut sums = BTreeMap::new();
        for container in dump["containers"].as_array().expect("containers") {
            let quantity = Decimal::from_str(&container["quantity"].to_string()).expect("a number");
            let status = container["containerStatus"].as_str().unwrap_or_default();
            if quantity > Decimal::ZERO && statuses.contains(&status) {
                let key = (
                    container["partNo"].as_str().expect("partNo").to_owned(),
                    container["location"].as_str().expect("location").to_owned(),
                );
                *sums.entry(key).or_insert(Decimal::ZERO) += quantity;
            }
        }
        sums
    }

    fn as_map(on_hand: &[OnHand]) -> BTreeMap<(String, String), Decimal> {
        on_hand.iter().map(|row| ((row.part_no.clone(), row.location.clone()), row.quantity)).collect()
    }

    #[tokio::test]
    async fn fifty_thousand_generated_containers_are_summed_per_part_and_location_as_the_doubles_dump_says() {
        // GIVEN 50 000 containers of 2 000 parts over three locations, a third of them on hold
        let sandbox = start_sandbox().await;
        let generated = sandbox
            .generate_plex_inventory(json!({
                "parts": 2000, "containers": 50_000, "seed": 7,
                "locations": ["FG-01", "FG-02", "QA"], "statuses": ["OK", "OK", "Hold"],
                "quantity": {"min": 1, "max": 500}
            }))
            .await;
        assert_eq!(generated["containers"], 50_000);

        // WHEN the client reads them all
        let summary = patient_client(&sandbox).on_hand(&filter(&["OK"], &[])).await.expect("on hand");

        // THEN every sellable container is in its part's sum at its location, in one request
        let expected = sums_in_the_dump(&sandbox, &["OK"]).await;
        assert_eq!(as_map(&summary.on_hand), expected);
        assert!(
            summary
                .on_hand
                .windows(2)
                .all(|pair| (&pair[0].part_no, &pair[0].location) < (&pair[1].part_no, &pair[1].location))
        );
        assert_eq!(summary.containers, 50_000);
        assert_eq!(summary.counted + summary.skipped_by_status, 50_000);
        assert!(summary.skipped_by_status > 10_000 && summary.skipped_by_status < 23_000, "{summary:?}");
        assert_eq!((summary.skipped_by_location, summary.unidentified), (0, 0));
        assert_eq!(
            summary.parts,
            expected.keys().map(|(part, _)| part).collect::<std::collections::BTreeSet<_>>().len()
        );
        assert_eq!(summary.calls, 1);
        assert_eq!(sandbox.count_requests(System::Plex, "GET", "/inventory/v1/inventory-tracking/containers").await, 1);
        sandbox.shutdown().await;
    }

    async fn seed_stock(sandbox: &Sandbox) {
        control(
            sandbox,
            "seed",
            json!({
                "locations": [
                    {"locationCode": "FG-01", "buildingCode": "MAIN"},
                    {"locationCode": "FG-02", "buildingCode": "MAIN"},
                    {"locationCode": "WIP-01", "locationType": "Production", "inventoryLocation": false}
                ],
                "containers": [
                    {"serialNo": "S100", "partNo": "MW-BOLT-M8", "location": "FG-01", "quantity": 400},
                    {"serialNo": "S101", "partNo": "MW-BOLT-M8", "location": "FG-01", "quantity": 25, "containerStatus": "Hold"},
                    {"serialNo": "S102", "partNo": "MW-BOLT-M8", "location": "FG-02", "quantity": 12.5},
                    {"serialNo": "S103", "partNo": "MW-BOLT-M8", "location": "FG-02", "quantity": 3, "containerStatus": "Released"},
                    {"serialNo": "S104", "partNo": "MW-NUT-M8", "location": "WIP-01", "quantity": 60, "inventoryType": "WIP"},
                    {"serialNo": "S105", "partNo": "MW-NUT-M8", "location": "FG-01", "quantity": 7}
                ]
            }),
        )
        .await;
    }

    fn row(part_no: &str, location: &str, quantity: &str) -> OnHand {
        OnHand { part_no: part_no.to_owned(), location: location.to_owned(), quantity: decimal(quantity) }
    }

    #[tokio::test]
    async fn only_containers_of_sellable_statuses_at_the_listed_locations_count() {
        let sandbox = start_sandbox().await;
        seed_stock(&sandbox).await;
        let client = demo_client(&sandbox);

        let everywhere = client.on_hand(&filter(&["OK"], &[])).await.expect("on hand");
        assert_eq!(
            everywhere.on_hand,
            vec![
                row("MW-BOLT-M8", "FG-01", "400"),
                row("MW-BOLT-M8", "FG-02", "12.5"),
                row("MW-NUT-M8", "FG-01", "7"),
                row("MW-NUT-M8", "WIP-01", "60")
            ]
        );
        assert_eq!((everywhere.containers, everywhere.counted, everywhere.skipped_by_status), (6, 4, 2));
        assert_eq!(everywhere.parts, 2);

        let finished_goods = client.on_hand(&filter(&["OK", "Released"], &["FG-01", "FG-02"])).await.expect("on hand");
        assert_eq!(
            finished_goods.on_hand,
            vec![row("MW-BOLT-M8", "FG-01", "400"), row("MW-BOLT-M8", "FG-02", "15.5"), row("MW-NUT-M8", "FG-01", "7")]
        );
        assert_eq!(
            (finished_goods.counted, finished_goods.skipped_by_status, finished_goods.skipped_by_location),
            (4, 1, 1)
        );
        sandbox.shutdown().await;
    }

    #[tokio::test]
    async fn no_containers_at_all_is_an_empty_summary_even_when_plex_answers_404() {
        let sandbox = start_sandbox().await;
        let client = demo_client(&sandbox);
        assert_eq!(client.on_hand(&filter(&["OK"], &[])).await.expect("[]").on_hand, vec![]);

        control(&sandbox, "config", json!({ "empty_list_status": 404 })).await;
        let summary = client.on_hand(&filter(&["OK"], &[])).await.expect("404 is no data");
        assert_eq!((summary.containers, summary.on_hand.len(), summary.calls), (0, 0, 1));
        sandbox.shutdown().await;
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).expect("a date-time").with_timezone(&Utc)
    }

    async fn set_clock(sandbox: &Sandbox, now: &str) {
        let body = json!({ "now": now, "freeze": true });
        sandbox.control_request(System::Plex, Method::PUT, "clock", Some(body)).await;
    }

    /// A change on the shop floor, recorded as an adjustment at the double's clock.
    async fn change_container(sandbox: &Sandbox, serial_no: &str, change: Value) {
        let path = format!("inventory/containers/{serial_no}");
        sandbox.control_request(System::Plex, Method::PUT, &path, Some(change)).await;
    }

    #[tokio::test]
    async fn adjustments_are_read_for_a_window_with_their_part_location_signed_quantity_and_time() {
        // GIVEN stock, then three changes an hour apart on the double's clock
        let sandbox = start_sandbox().await;
        seed_stock(&sandbox).await;
        set_clock(&sandbox, "2026-11-24T09:00:00Z").await;
        change_container(&sandbox, "S100", json!({"quantity": 390})).await;
        set_clock(&sandbox, "2026-11-24T10:00:00Z").await;
        change_container(&sandbox, "S105", json!({"quantity": 10})).await;
        change_container(&sandbox, "S101", json!({"containerStatus": "OK"})).await;
        set_clock(&sandbox, "2026-11-24T11:00:00Z").await;
        change_container(&sandbox, "S102", json!({"quantity": 0})).await;

        // WHEN the client asks for the window around the second change
        let adjustments = demo_client(&sandbox)
            .container_adjustments(at("2026-11-24T09:30:00Z"), at("2026-11-24T10:30:00Z"), &mut 0)
            .await
            .expect("adjustments");

        // THEN it gets exactly the changes in the window
        let seen: Vec<String> = adjustments
            .iter()
            .map(|adjustment| {
                format!(
                    "{} at {} {:+} {}",
                    adjustment.part_no.as_deref().unwrap_or("?"),
                    adjustment.location.as_deref().unwrap_or("?"),
                    adjustment.quantity,
                    adjustment.at.to_rfc3339()
                )
            })
            .collect();
        assert_eq!(
            seen,
            vec!["MW-NUT-M8 at FG-01 +3 2026-11-24T10:00:00+00:00", "MW-BOLT-M8 at FG-01 +0 2026-11-24T10:00:00+00:00"]
        );
        assert_eq!(adjustments[0].serial_no.as_deref(), Some("S105"));
        let log = request_log(&sandbox).await;
        let query = log.last().expect("a request")["query"].as_str().unwrap_or_default().replace("%3A", ":");
        assert!(query.contains("beginDate=2026-11-24T09:30:00Z"), "{query}");
        assert!(query.contains("endDate=2026-11-24T10:30:00Z"), "{query}");

        // AND the later window holds the container taken to nothing, a negative change
        let later = demo_client(&sandbox)
            .container_adjustments(at("2026-11-24T10:30:00Z"), at("2026-11-24T11:00:00Z"), &mut 0)
            .await
            .expect("adjustments");
        assert_eq!(later.len(), 1);
        assert_eq!(later[0].quantity, decimal("-12.5"));
        sandbox.shutdown().await;
    }

    #[tokio::test]
    async fn locations_are_listed_with_their_codes() {
        let sandbox = start_sandbox().await;
        seed_stock(&sandbox).await;

        let locations = demo_client(&sandbox).locations().await.expect("locations");

        let codes: Vec<Option<&str>> = locations.iter().map(|location| location.code.as_deref()).collect();
        assert_eq!(codes, vec![Some("FG-01"), Some("FG-02"), Some("WIP-01")]);
        assert!(locations.iter().all(|location| !location.id.is_empty()));
        assert_eq!(locations[2].inventory_location, Some(false));
        assert_eq!(locations[0].building_code.as_deref(), Some("MAIN"));
        sandbox.shutdown().await;
    }

    #[tokio::test]
    async fn a_containers_body_cut_off_is_a_decode_error_naming_the_element_and_is_not_retried() {
        let sandbox = start_sandbox().await;
        sandbox.generate_plex_inventory(json!({ "parts": 50, "containers": 2000, "seed": 3 })).await;
        control(
            &sandbox,
            "faults",
            json!({ "path_prefix": "/inventory/v1/inventory-tracking/containers",
                                            "times": 1, "fault": "truncated_body" }),
        )
        .await;

        let error = demo_client(&sandbox).on_hand(&filter(&["OK"], &[])).await.expect_err("cut off");

        let Error::Decode { what, element: Some(element), .. } = &error else { panic!("a decode error: {error:?}") };
        assert_eq!(*what, "containers");
        assert!((500..=1500).contains(element), "the body was cut in half: element {element}");
        assert_eq!(error.to_string(), format!("Plex containers: the response body was cut off at element {element}"));
        assert_eq!(error.class(), ErrorClass::Transient, "the next read may get it whole");
        assert_eq!(exchanges(&sandbox).await, vec!["GET /inventory/v1/inventory-tracking/containers 200"]);
        sandbox.shutdown().await;
    }

    #[tokio::test]
    async fn a_5xx_before_the_containers_body_is_retried() {
        let sandbox = start_sandbox().await;
        seed_stock(&sandbox).await;
        control(
            &sandbox,
            "faults",
            json!({ "path_prefix": "/inventory/", "times": 1,
                                            "fault": { "kind": "server_error", "status": 503 } }),
        )
        .await;

        let summary = demo_client(&sandbox).on_hand(&filter(&["OK"], &[])).await.expect("retried");

        assert_eq!(summary.counted, 4);
        assert_eq!(summary.calls, 2);
        assert_eq!(
            exchanges(&sandbox).await,
            vec![
                "GET /inventory/v1/inventory-tracking/containers 503",
                "GET /inventory/v1/inventory-tracking/containers 200"
            ]
        );
        sandbox.shutdown().await;
    }

    #[tokio::test]
    async fn an_expired_oauth2_token_on_the_containers_read_is_refreshed_once() {
        let sandbox = start_sandbox().await;
        seed_stock(&sandbox).await;
        use_oauth2(&sandbox).await;
        let client = oauth_client(&sandbox, demo::PLEX_OAUTH_CLIENT_SECRET);
        client.tenants().await.expect("a token");
        control(&sandbox, "tokens/expire-all", json!({})).await;

        let summary = client.on_hand(&filter(&["OK"], &[])).await.expect("refreshed");

        assert_eq!(summary.counted, 4);
        assert_eq!(
            exchanges(&sandbox).await,
            vec![
                "POST /oauth2/token 200",
                "GET /mdm/v1/tenants 200",
                "GET /inventory/v1/inventory-tracking/containers 401",
                "POST /oauth2/token 200",
                "GET /inventory/v1/inventory-tracking/containers 200",
            ]
        );
        sandbox.shutdown().await;
    }
}
