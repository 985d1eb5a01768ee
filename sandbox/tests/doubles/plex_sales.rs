//! The Plex double's order flow: customers and their addresses, sales orders with lines, prices and
//! releases (shapes, validation naming the field, 404s), the sales-order data sources writing to
//! the same store, and seeding and inspecting orders through the control plane.

use reqwest::{Method, StatusCode};
use sandbox::demo;
use serde_json::{Value, json};

use crate::support::{self, World, body};

const BOLT_PART_ID: &str = "3c4d5e6f-7a8b-4c9d-8e1f-2a3b4c5d6e7f";
const NUT_PART_ID: &str = "4d5e6f7a-8b9c-4d0e-9f2a-3b4c5d6e7f80";
const WEB_SHIP_TO_ID: &str = "a1b2c3d4-0001-4e5f-8a9b-0c1d2e3f4a01";
const WEB_BILL_TO_ID: &str = "a1b2c3d4-0002-4e5f-8a9b-0c1d2e3f4a02";
const UNKNOWN_ID: &str = "00000000-0000-4000-8000-00000000dead";

impl World {
    /// An authenticated Connect request with a JSON body; returns the status and JSON body.
    async fn plex_send(&self, method: Method, path: &str, document: Value) -> (StatusCode, Value) {
        let response = self
            .http
            .request(method, self.plex(path))
            .header("X-Plex-Connect-Api-Key", demo::PLEX_API_KEY)
            .json(&document)
            .send()
            .await
            .unwrap();
        (response.status(), body(response).await)
    }

    async fn plex_json(&self, path: &str) -> (StatusCode, Value) {
        let response = self.plex_get(path).await;
        (response.status(), body(response).await)
    }

    /// Executes a data source as the demo web-service user (default format).
    async fn datasource(&self, id: u64, inputs: Value) -> Value {
        let response = self
            .http
            .post(self.plex(&format!("/api/datasources/{id}/execute")))
            .basic_auth(demo::PLEX_DATASOURCE_USER, Some(demo::PLEX_DATASOURCE_PASSWORD))
            .json(&json!({ "inputs": inputs }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "data sources report business failures with 200");
        body(response).await
    }
}

fn field_of(error: &Value, index: usize) -> &str {
    error["errors"][index]["metadata"]["field"].as_str().unwrap_or_default()
}

fn fields_of(error: &Value) -> Vec<&str> {
    (0..error["errors"].as_array().map_or(0, Vec::len)).map(|index| field_of(error, index)).collect()
}

/// Creates a web order with one line (bolts), its price and release; returns (order, line, release).
async fn order_with_a_line(world: &World, po_number: &str) -> (Value, Value, Value) {
    let (status, order) = world
        .plex_send(
            Method::POST,
            "/sales/v1/orders",
            json!({"customerId": demo::PLEX_WEB_CUSTOMER_ID, "poNumber": po_number, "status": "Open", "type": "Web",
                   "orderDate": "2026-11-24T10:00:00Z", "note": "web order"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let order_id = order["id"].as_str().unwrap();
    let (status, line) = world
        .plex_send(
            Method::POST,
            &format!("/sales/v1/orders/{order_id}/lines"),
            json!({"partId": BOLT_PART_ID, "lineNumber": "1"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{line}");
    let line_id = line["id"].as_str().unwrap();
    let (status, price) = world
        .plex_send(
            Method::POST,
            &format!("/sales/v1/orders/{order_id}/lines/{line_id}/prices"),
            json!({"price": 0.45, "unit": "Ea", "currencyCode": "USD"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{price}");
    let (status, release) = world
        .plex_send(
            Method::POST,
            "/sales/v1/releases",
            json!({"orderLineId": line_id, "quantity": 10, "dueDate": "2026-12-01T00:00:00Z", "status": "Open",
                   "type": "Ship Schedule", "shipFrom": "MAIN", "shipToAddressId": WEB_SHIP_TO_ID}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{release}");
    (order, line, release)
}

#[tokio::test]
async fn customers_filter_by_code_name_status_and_id_and_list_their_addresses_by_flag() {
    let world = support::start().await;
    let codes = |customers: Value| -> Vec<String> {
        customers.as_array().unwrap().iter().map(|customer| customer["code"].as_str().unwrap().to_owned()).collect()
    };

    assert_eq!(codes(world.plex_json("/mdm/v1/customers?CODE=ACME").await.1), ["ACME"]);
    assert_eq!(codes(world.plex_json("/mdm/v1/customers?name=Old%20Customer%20Co").await.1), ["OLDCO"]);
    assert_eq!(codes(world.plex_json("/mdm/v1/customers?status=Inactive").await.1), ["OLDCO"]);
    let two = format!(
        "/mdm/v1/customers?id={}&id={}",
        demo::PLEX_WEB_CUSTOMER_ID,
        demo::PLEX_ACME_CUSTOMER_ID.to_uppercase()
    );
    assert_eq!(codes(world.plex_json(&two).await.1), [demo::PLEX_WEB_CUSTOMER_CODE, "ACME"]);

    let acme = format!("/mdm/v1/customers/{}/addresses", demo::PLEX_ACME_CUSTOMER_ID);
    assert_eq!(codes(world.plex_json(&format!("{acme}?shipTo=true")).await.1), ["ACME-HQ", "ACME-DOCK2", "ACME-OLD"]);
    assert_eq!(codes(world.plex_json(&format!("{acme}?shipTo=true&active=true")).await.1), ["ACME-HQ", "ACME-DOCK2"]);
    assert_eq!(codes(world.plex_json(&format!("{acme}?billTo=True&active=true")).await.1), ["ACME-HQ"]);
    let (_, addresses) = world.plex_json(&acme).await;
    assert!(addresses[0]["county"].is_null(), "every schema field is present: {}", addresses[0]);
    assert_eq!(addresses[0].as_object().unwrap().len(), 51);
    let (status, address) = world.plex_json(&format!("{acme}/{}", addresses[1]["id"].as_str().unwrap())).await;
    assert_eq!((status, address["code"].as_str()), (StatusCode::OK, Some("ACME-DOCK2")));

    let (status, error) = world.plex_json(&format!("/mdm/v1/customers/{UNKNOWN_ID}/addresses")).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::NOT_FOUND, Some("RESOURCE_NOT_FOUND")));
}

#[tokio::test]
async fn customers_and_addresses_are_created_once_per_code() {
    let world = support::start().await;

    let (status, customer) =
        world.plex_send(Method::POST, "/mdm/v1/customers", json!({"code": "WEB-0042", "name": "Jane Doe"})).await;
    assert_eq!(status, StatusCode::CREATED, "{customer}");
    let id = customer["id"].as_str().unwrap();
    assert_eq!(id, id.to_lowercase());
    assert_eq!(customer["status"], "Active");
    assert!(customer["createdDate"].as_str().unwrap().ends_with('Z'));
    assert_eq!(customer.as_object().unwrap().len(), 35);
    let (status, by_id) = world.plex_json(&format!("/mdm/v1/customers/{id}")).await;
    assert_eq!((status, by_id["code"].as_str()), (StatusCode::OK, Some("WEB-0042")));

    let (status, duplicate) =
        world.plex_send(Method::POST, "/mdm/v1/customers", json!({"code": "WEB-0042", "name": "Jane"})).await;
    assert_eq!((status, field_of(&duplicate, 0)), (StatusCode::BAD_REQUEST, "Code"));
    let (status, nameless) = world.plex_send(Method::POST, "/mdm/v1/customers", json!({"code": "WEB-0043"})).await;
    assert_eq!((status, fields_of(&nameless)), (StatusCode::BAD_REQUEST, vec!["Name"]));

    let addresses = format!("/mdm/v1/customers/{id}/addresses");
    let (status, address) =
        world.plex_send(Method::POST, &addresses, json!({"code": "SHIP-1", "shipTo": true, "city": "Leeds"})).await;
    assert_eq!(status, StatusCode::CREATED, "{address}");
    assert_eq!((address["active"].clone(), address["billTo"].clone()), (json!(true), json!(false)));
    let (_, listed) = world.plex_json(&format!("{addresses}?shipTo=true")).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let (status, _) =
        world.plex_send(Method::POST, &format!("/mdm/v1/customers/{UNKNOWN_ID}/addresses"), json!({"code": "X"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_sales_order_is_written_as_order_line_price_and_release_and_read_back() {
    let world = support::start().await;
    let (order, line, release) = order_with_a_line(&world, "BC-1042").await;

    // The order: generated id and orderNumber, the fields sent, every schema field present.
    let order_id = order["id"].as_str().unwrap();
    assert!(uuid_like(order_id), "{order_id}");
    assert_eq!(order["orderNumber"], "500001");
    assert_eq!(order["customerId"], demo::PLEX_WEB_CUSTOMER_ID);
    assert_eq!(order["orderDate"], "2026-11-24T10:00:00Z");
    assert!(order["shipToAddressId"].is_null() && order["billToAddressId"].is_null());
    assert_eq!(order.as_object().unwrap().len(), 35);

    // The line, its price and its release point at each other.
    assert_eq!(
        (line["orderId"].as_str(), line["partId"].as_str(), line["lineNumber"].as_str()),
        (Some(order_id), Some(BOLT_PART_ID), Some("1"))
    );
    let line_id = line["id"].as_str().unwrap();
    assert_eq!(release["orderLineId"], line_id);
    assert_eq!((release["quantity"].clone(), release["partNumber"].clone()), (json!(10), json!("MW-BOLT-M8")));
    assert_eq!(release["releaseNumber"], "1");

    let (_, found) = world.plex_json("/sales/v1/orders?poNumber=BC-1042").await;
    assert_eq!(found.as_array().unwrap().len(), 1);
    let (_, by_customer) =
        world.plex_json(&format!("/sales/v1/orders?customerId={}", demo::PLEX_WEB_CUSTOMER_ID)).await;
    assert_eq!(by_customer[0]["id"], order_id);
    let (_, none) = world.plex_json("/sales/v1/orders?poNumber=BC-9999").await;
    assert_eq!(none, json!([]));
    let (_, lines) = world.plex_json(&format!("/sales/v1/orders/{order_id}/lines")).await;
    assert_eq!(lines.as_array().unwrap().len(), 1);
    let (_, prices) = world.plex_json(&format!("/sales/v1/orders/{order_id}/lines/{line_id}/prices")).await;
    assert_eq!((prices[0]["price"].clone(), prices[0]["primaryPrice"].clone()), (json!(0.45), json!(true)));
    let (_, releases) =
        world.plex_json(&format!("/sales/v1/releases?orderLineIds={line_id}&orderLineIds={UNKNOWN_ID}")).await;
    assert_eq!(releases[0]["dueDate"], "2026-12-01T00:00:00Z");

    // The beta path of the same collection reads the same order.
    let (status, beta) = world.plex_json(&format!("/sales/v1-beta1/orders/{order_id}")).await;
    assert_eq!((status, beta["poNumber"].as_str()), (StatusCode::OK, Some("BC-1042")));

    // Updates: the order's status; the release's quantity, due date and status.
    world.control(&world.sandbox.plex_url, Method::PUT, "/clock", Some(json!({"advance_seconds": 60}))).await;
    let (status, updated) =
        world.plex_send(Method::PUT, &format!("/sales/v1/orders/{order_id}"), json!({"status": "Closed"})).await;
    assert_eq!((status, updated["status"].as_str()), (StatusCode::OK, Some("Closed")));
    assert_ne!(updated["modifiedDate"], order["modifiedDate"]);
    let release_id = release["id"].as_str().unwrap();
    let (status, changed) = world
        .plex_send(
            Method::PUT,
            &format!("/sales/v1/releases/{release_id}"),
            json!({"quantity": 12.5, "dueDate": "2026-12-03T00:00Z", "status": "Hold"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    let (_, reread) = world.plex_json(&format!("/sales/v1/releases/{release_id}")).await;
    assert_eq!((reread["quantity"].clone(), reread["status"].clone()), (json!(12.5), json!("Hold")));
    assert_eq!(reread["shipFrom"], "MAIN", "fields not sent are kept");
}

fn uuid_like(text: &str) -> bool {
    text.len() == 36 && text.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase() || c == '-')
}

#[tokio::test]
async fn sales_order_writes_are_validated_naming_the_field() {
    let world = support::start().await;

    let (status, error) =
        world.plex_send(Method::POST, "/sales/v1/orders", json!({"customerId": UNKNOWN_ID, "poNumber": "BC-1"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["code"], "REQUEST_VALIDATION_FAILED");
    assert_eq!(error["errors"][0]["message"], "The specified field attempts to reference data that does not exist.");
    assert_eq!(error["errors"][0]["metadata"], json!({"field": "CustomerId"}));
    let (_, error) = world.plex_send(Method::POST, "/sales/v1/orders", json!({"poNumber": "BC-1"})).await;
    assert_eq!(fields_of(&error), ["CustomerId"]);
    let (_, error) = world
        .plex_send(Method::POST, "/sales/v1/orders", json!({"customerId": "not-a-uuid", "orderDate": "2026-11-24"}))
        .await;
    assert_eq!(fields_of(&error), ["CustomerId", "OrderDate"]);
    let malformed = world
        .http
        .post(world.plex("/sales/v1/orders"))
        .header("X-Plex-Connect-Api-Key", demo::PLEX_API_KEY)
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body(malformed).await["code"], "REQUEST_MALFORMED");

    let (order, line, _) = order_with_a_line(&world, "BC-2").await;
    let order_id = order["id"].as_str().unwrap();
    let line_id = line["id"].as_str().unwrap();
    let lines = format!("/sales/v1/orders/{order_id}/lines");
    let (_, error) = world.plex_send(Method::POST, &lines, json!({"partId": UNKNOWN_ID})).await;
    assert_eq!(fields_of(&error), ["PartId"]);
    let (_, error) = world.plex_send(Method::POST, &lines, json!({"partId": NUT_PART_ID, "lineNumber": 2})).await;
    assert_eq!(fields_of(&error), ["LineNumber"], "lineNumber is a string in Plex's schema");
    let (_, error) = world.plex_send(Method::POST, &lines, json!({"partId": NUT_PART_ID, "lineNumber": "1"})).await;
    assert_eq!(fields_of(&error), ["LineNumber"], "line 1 exists");
    let (_, error) = world
        .plex_send(Method::POST, &format!("{lines}/{line_id}/prices"), json!({"price": 1.0, "currencyCode": "USD"}))
        .await;
    assert_eq!(fields_of(&error), ["Unit"]);

    let (status, error) = world.plex_send(Method::POST, "/sales/v1/releases", json!({"quantity": 1})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(fields_of(&error), ["Type", "Status", "ShipFrom", "OrderLineId", "DueDate"]);
    let release = |changes: Value| {
        let mut release = json!({"orderLineId": line_id, "quantity": 1, "dueDate": "2026-12-01T00:00:00Z",
                                 "status": "Open", "type": "Ship Schedule", "shipFrom": "MAIN"});
        release.as_object_mut().unwrap().extend(changes.as_object().unwrap().clone());
        release
    };
    for (changes, field) in [
        (json!({"orderLineId": UNKNOWN_ID}), "OrderLineId"),
        (json!({"dueDate": "2026-12-01"}), "DueDate"),
        (json!({"quantity": "1"}), "Quantity"),
        (json!({"quantity": -1}), "Quantity"),
        (json!({"shipToAddressId": WEB_BILL_TO_ID}), "ShipToAddressId"),
    ] {
        let (status, error) = world.plex_send(Method::POST, "/sales/v1/releases", release(changes.clone())).await;
        assert_eq!((status, fields_of(&error)), (StatusCode::BAD_REQUEST, vec![field]), "{changes}");
    }
    let (_, error) =
        world.plex_send(Method::POST, "/sales/v1/releases", release(json!({"shipToAddressId": WEB_BILL_TO_ID}))).await;
    assert_eq!(error["errors"][0]["message"], "Ship To is not valid for the customer and part.");

    // A create that names an id that exists is refused, so a retried create cannot duplicate.
    let (status, error) = world
        .plex_send(Method::POST, "/sales/v1/orders", json!({"id": order_id, "customerId": demo::PLEX_WEB_CUSTOMER_ID}))
        .await;
    assert_eq!((status, fields_of(&error)), (StatusCode::BAD_REQUEST, vec!["Id"]));
}

#[tokio::test]
async fn unknown_orders_lines_and_releases_are_404() {
    let world = support::start().await;
    let (order, line, _) = order_with_a_line(&world, "BC-3").await;
    let (other, _, _) = order_with_a_line(&world, "BC-4").await;
    let line_id = line["id"].as_str().unwrap();
    let not_found = |(status, error): (StatusCode, Value)| {
        assert_eq!((status, error["code"].as_str()), (StatusCode::NOT_FOUND, Some("RESOURCE_NOT_FOUND")), "{error}");
    };

    not_found(world.plex_json(&format!("/sales/v1/orders/{UNKNOWN_ID}")).await);
    not_found(world.plex_json(&format!("/sales/v1/orders/{UNKNOWN_ID}/lines")).await);
    not_found(world.plex_json(&format!("/sales/v1/releases/{UNKNOWN_ID}")).await);
    not_found(world.plex_send(Method::PUT, &format!("/sales/v1/orders/{UNKNOWN_ID}"), json!({"status": "X"})).await);
    not_found(world.plex_send(Method::PUT, &format!("/sales/v1/releases/{UNKNOWN_ID}"), json!({"status": "X"})).await);
    not_found(
        world
            .plex_send(Method::POST, &format!("/sales/v1/orders/{UNKNOWN_ID}/lines"), json!({"partId": BOLT_PART_ID}))
            .await,
    );
    // A line reached through another order does not exist there.
    let other_id = other["id"].as_str().unwrap();
    not_found(world.plex_json(&format!("/sales/v1/orders/{other_id}/lines/{line_id}")).await);
    not_found(world.plex_json(&format!("/sales/v1/orders/{other_id}/lines/{line_id}/prices")).await);
    let order_id = order["id"].as_str().unwrap();
    let (status, _) = world.plex_json(&format!("/sales/v1/orders/{order_id}/lines/{line_id}")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_order_data_sources_write_orders_that_connect_shows_and_report_failures_in_outputs() {
    let world = support::start().await;

    let header = world
        .datasource(
            demo::PLEX_ORDER_HEADER_DATASOURCE_ID,
            json!({"Customer_Code": demo::PLEX_WEB_CUSTOMER_CODE, "PO_No": "BC-2001",
                   "Ship_To_Customer_Address_Code": demo::PLEX_WEB_SHIP_TO_CODE,
                   "Bill_To_Customer_Address_Code": demo::PLEX_WEB_BILL_TO_CODE,
                   "Freight_Amount": "9.95", "Tax_Amount": 1.2}),
        )
        .await;
    assert_eq!(header["outputs"]["Result_Error"], false, "{header}");
    assert_eq!(header["outputs"]["ResultCode"], 0);
    assert_eq!(header["tables"], json!([]));
    let order_no = header["outputs"]["Order_No"].as_str().unwrap().to_owned();

    for (part, quantity) in [("MW-BOLT-M8", "25"), ("MW-NUT-M8", "50")] {
        let line = world
            .datasource(
                demo::PLEX_ORDER_LINE_DATASOURCE_ID,
                json!({"Order_No": order_no, "Part_No": part, "Quantity": quantity, "Price": "0.45",
                       "Due_Date": "2026-12-01T00:00:00Z", "Release_Status": "Open"}),
            )
            .await;
        assert_eq!(line["outputs"]["Result_Error"], false, "{line}");
    }

    // The same order through Connect: ship-to and bill-to set, two lines, each with a release.
    let (_, orders) = world.plex_json("/sales/v1/orders?poNumber=BC-2001").await;
    let order = &orders[0];
    assert_eq!(order["orderNumber"], order_no.as_str());
    assert_eq!(
        (order["shipToAddressId"].as_str(), order["billToAddressId"].as_str()),
        (Some(WEB_SHIP_TO_ID), Some(WEB_BILL_TO_ID))
    );
    let (_, lines) = world.plex_json(&format!("/sales/v1/orders/{}/lines", order["id"].as_str().unwrap())).await;
    assert_eq!(lines.as_array().unwrap().len(), 2);
    let (_, releases) =
        world.plex_json(&format!("/sales/v1/releases?orderLineIds={}", lines[1]["id"].as_str().unwrap())).await;
    assert_eq!((releases[0]["quantity"].clone(), releases[0]["partNumber"].clone()), (json!(50.0), json!("MW-NUT-M8")));

    let found = world.datasource(demo::PLEX_ORDER_BY_PO_DATASOURCE_ID, json!({"PO_No": "BC-2001"})).await;
    assert_eq!(found["tables"][0]["columns"], json!(["Order_No", "PO_No", "Customer_Code", "Line_Count"]));
    assert_eq!(found["tables"][0]["rows"], json!([[order_no, "BC-2001", demo::PLEX_WEB_CUSTOMER_CODE, 2]]));

    // Business failures: HTTP 200, Result_Error and a code; nothing written.
    let unknown_part = world
        .datasource(
            demo::PLEX_ORDER_LINE_DATASOURCE_ID,
            json!({"Order_No": order_no, "Part_No": "NO-SUCH-PART", "Quantity": 1, "Price": 1,
                   "Due_Date": "2026-12-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(
        (unknown_part["outputs"]["Result_Error"].clone(), unknown_part["outputs"]["ResultCode"].clone()),
        (json!(true), json!(12))
    );
    assert!(unknown_part["outputs"]["ResultMessage"].as_str().unwrap().contains("NO-SUCH-PART"));
    let unknown_customer = world
        .datasource(demo::PLEX_ORDER_HEADER_DATASOURCE_ID, json!({"Customer_Code": "NOBODY", "PO_No": "BC-1"}))
        .await;
    assert_eq!(unknown_customer["outputs"]["ResultCode"], 1);
    assert!(unknown_customer["outputs"]["Order_No"].is_null());
    let (_, state) = world.control(&world.sandbox.plex_url, Method::GET, "/state", None).await;
    let tenant = &state["data"]["tenants"][0];
    assert_eq!(tenant["orders_per_po"], json!({"BC-2001": 1}));
    let order_id = order["id"].as_str().unwrap();
    assert_eq!(tenant["order_charges"][order_id], json!({"freight": 9.95, "tax": 1.2, "prepaid": null}));
}

#[tokio::test]
async fn sales_orders_are_seeded_through_the_same_rules_and_shown_nested_by_po() {
    let world = support::start().await;
    let base = &world.sandbox.plex_url;
    world
        .seed(
            base,
            json!({"sales_orders": [{
                "customerCode": demo::PLEX_WEB_CUSTOMER_CODE, "poNumber": "BC-77", "status": "Open", "type": "Web",
                "orderNumber": "WEB-77",
                "lines": [
                    {"partNumber": "MW-BOLT-M8", "lineNumber": "1",
                     "prices": [{"price": 0.45, "unit": "Ea", "currencyCode": "USD"}],
                     "releases": [{"quantity": 4, "dueDate": "2026-12-01T00:00:00Z", "status": "Open",
                                   "type": "Ship Schedule", "shipFrom": "MAIN"}]},
                    {"partNumber": "MW-NUT-M8", "lineNumber": "2"}
                ]
            }]}),
        )
        .await;

    let (status, orders) = world.control(base, Method::GET, "/sales-orders?po_number=BC-77", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(orders.as_array().unwrap().len(), 1);
    let order = &orders[0];
    assert_eq!(
        (order["orderNumber"].as_str(), order["tenant"].as_str()),
        (Some("WEB-77"), Some(demo::PLEX_TENANT_CODE))
    );
    assert_eq!(order["lines"][0]["releases"][0]["quantity"], 4);
    assert_eq!(order["lines"][1]["prices"], json!([]), "a half-written line");
    let (_, through_connect) = world.plex_json("/sales/v1/orders?orderNumber=WEB-77").await;
    assert_eq!(through_connect[0]["poNumber"], "BC-77");

    let (status, error) = world
        .control(
            base,
            Method::POST,
            "/seed",
            Some(json!({"sales_orders": [{"customerCode": "ACME", "lines": [{"partNumber": "NOPE"}]}]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error["error"].as_str().unwrap().contains("NOPE"), "{error}");
    let (status, _) = world.control(base, Method::GET, "/sales-orders?tenant=NOPE", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
