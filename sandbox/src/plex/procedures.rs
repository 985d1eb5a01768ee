//! "Procedure" data sources: registered data sources whose execution reads or writes the tenant's
//! sales orders, standing in for the tenant-specific data sources that web-order integrations use
//! because the REST create lacks freight, tax and prepaid fields (Plex notes §2.4 "Data Source
//! route", §7.6). Input and output names are the observed ones [S6, S11]; the behaviour is the
//! double's.
//!
//! They write through `store`, so what they create is what the Connect endpoints show. Like a
//! stored procedure in a transaction, each checks everything before writing anything. A business
//! failure is not an HTTP error: the call answers 200 and reports it in the outputs, as these data
//! sources do: `Result_Error: true`, a non-zero `ResultCode` and a `ResultMessage`. Codes:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | done |
//! | 1 | no customer has `Customer_Code` |
//! | 2 | the customer is not active |
//! | 3 | `Ship_To_Customer_Address_Code` is not an active ship-to address of the customer |
//! | 4 | `Bill_To_Customer_Address_Code` is not an active bill-to address of the customer |
//! | 5 | `Order_No_Custom` is taken |
//! | 11 | no sales order has `Order_No` |
//! | 12 | no part has `Part_No` |
//! | 13 | `Quantity` is not positive or `Price` is negative |
//! | 99 | any other refusal of the write (its message says which field) |

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::model::{Procedure, Tenant, text};
use super::store;

/// Order header fields the header data source fills in (its inputs have no status or type).
const DATASOURCE_ORDER_STATUS: &str = "Open";
const DATASOURCE_ORDER_TYPE: &str = "Web";
/// Release defaults of the line data source.
const DEFAULT_RELEASE_STATUS: &str = "Open";
const RELEASE_TYPE: &str = "Ship Schedule";
const DEFAULT_SHIP_FROM: &str = "MAIN";
const PRICE_UNIT: &str = "Ea";
const PRICE_CURRENCY: &str = "USD";

/// Columns of `sales_orders_by_po`.
const BY_PO_COLUMNS: [&str; 4] = ["Order_No", "PO_No", "Customer_Code", "Line_Count"];

/// What an execution returns: outputs, and a result table (empty for the writes).
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub outputs: Map<String, Value>,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

/// A business failure: `ResultCode` and `ResultMessage`.
struct Failure(u32, String);

/// Runs `procedure` with validated `inputs` against `tenant`. `declared` are the data source's
/// registered outputs (each starts as registered, usually `null`).
pub(crate) fn run(
    procedure: Procedure,
    declared: &Map<String, Value>,
    tenant: &mut Tenant,
    inputs: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Outcome {
    let mut outputs = declared.clone();
    let result = match procedure {
        Procedure::AddOrder => add_order(tenant, inputs, now).map(|order_no| {
            outputs.insert("Order_No".to_owned(), json!(order_no));
            format!("Sales order {order_no} added.")
        }),
        Procedure::AddOrderLine => add_line(tenant, inputs, now),
        Procedure::FindOrdersByPo => return by_po(tenant, inputs),
    };
    let (error, code, message) = match result {
        Ok(message) => (false, 0, message),
        Err(Failure(code, message)) => (true, code, message),
    };
    outputs.insert("Result_Error".to_owned(), json!(error));
    outputs.insert("ResultCode".to_owned(), json!(code));
    outputs.insert("ResultMessage".to_owned(), json!(message));
    Outcome { outputs, columns: Vec::new(), rows: Vec::new() }
}

fn input<'a>(inputs: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    inputs.get(name).and_then(Value::as_str).map(str::trim).filter(|value| !value.is_empty())
}

fn required<'a>(inputs: &'a Map<String, Value>, name: &str) -> Result<&'a str, Failure> {
    input(inputs, name).ok_or_else(|| Failure(99, format!("{name} is required.")))
}

/// A decimal input: a JSON number or a numeric string (how decimals keep their precision).
fn decimal(inputs: &Map<String, Value>, name: &str) -> Result<Option<f64>, Failure> {
    match inputs.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => Ok(number.as_f64()),
        Some(Value::String(text)) => {
            text.trim().parse().map(Some).map_err(|_| Failure(99, format!("{name} is not a number.")))
        }
        Some(_) => Err(Failure(99, format!("{name} is not a number."))),
    }
}

fn refused(rejection: &store::Rejection) -> Failure {
    Failure(99, rejection.describe())
}

/// The id of the customer's active address with this code and role (`shipTo`/`billTo`).
fn address_id(tenant: &Tenant, customer_id: &str, code: &str, role: &str) -> Option<String> {
    store::addresses_of(tenant, customer_id)
        .iter()
        .find(|address| {
            text(address, "code") == Some(code)
                && address.get(role) == Some(&json!(true))
                && address.get("active") != Some(&json!(false))
        })
        .and_then(|address| text(address, "id"))
        .map(str::to_owned)
}

/// `sales_order_add`: the order header. Returns the order number.
fn add_order(tenant: &mut Tenant, inputs: &Map<String, Value>, now: DateTime<Utc>) -> Result<String, Failure> {
    let code = required(inputs, "Customer_Code")?;
    let po_number = required(inputs, "PO_No")?;
    let customer = store::customer_by_code(tenant, code)
        .ok_or_else(|| Failure(1, format!("Customer '{code}' does not exist.")))?;
    if text(customer, "status").is_some_and(|status| status.eq_ignore_ascii_case("inactive")) {
        return Err(Failure(2, format!("Customer '{code}' is not active.")));
    }
    let customer_id = text(customer, "id").unwrap_or_default().to_owned();
    let mut addresses = Vec::new();
    for (input_name, role, failure_code) in
        [("Ship_To_Customer_Address_Code", "shipTo", 3), ("Bill_To_Customer_Address_Code", "billTo", 4)]
    {
        if let Some(address_code) = input(inputs, input_name) {
            let id = address_id(tenant, &customer_id, address_code, role).ok_or_else(|| {
                Failure(failure_code, format!("Address '{address_code}' is not a {role} address of customer '{code}'."))
            })?;
            addresses.push((if role == "shipTo" { "shipToAddressId" } else { "billToAddressId" }, id));
        }
    }
    let custom_number = input(inputs, "Order_No_Custom");
    if let Some(number) = custom_number
        && store::order_by_number(tenant, number).is_some()
    {
        return Err(Failure(5, format!("Order number '{number}' already exists.")));
    }
    let charges: Map<String, Value> =
        [("Freight_Amount", "freight"), ("Tax_Amount", "tax"), ("Prepaid_Amount", "prepaid")]
            .into_iter()
            .map(|(name, key)| decimal(inputs, name).map(|amount| (key.to_owned(), json!(amount))))
            .collect::<Result<_, _>>()?;

    let header = json!({
        "customerId": customer_id,
        "poNumber": po_number,
        "status": DATASOURCE_ORDER_STATUS,
        "type": DATASOURCE_ORDER_TYPE,
        "orderDate": super::model::plex_timestamp(now),
    });
    let header = header.as_object().cloned().unwrap_or_default();
    let mut order =
        store::create_order(tenant, &header, custom_number, now).map_err(|rejection| refused(&rejection))?;
    let order_id = text(&order, "id").unwrap_or_default().to_owned();
    // The REST create has no bill-to/ship-to fields; the data source sets them on the header.
    if let Some(stored) = tenant.find_mut(&super::model::SALES_ORDERS, &order_id) {
        for (field, id) in addresses {
            stored.insert(field.to_owned(), json!(id));
        }
        order = stored.clone();
    }
    tenant.order_charges.insert(order_id, charges);
    Ok(text(&order, "orderNumber").unwrap_or_default().to_owned())
}

/// `sales_order_line_add`: a line with one price and one release.
fn add_line(tenant: &mut Tenant, inputs: &Map<String, Value>, now: DateTime<Utc>) -> Result<String, Failure> {
    let order_no = required(inputs, "Order_No")?;
    let part_no = required(inputs, "Part_No")?;
    let quantity = decimal(inputs, "Quantity")?.ok_or_else(|| Failure(99, "Quantity is required.".to_owned()))?;
    let price = decimal(inputs, "Price")?.ok_or_else(|| Failure(99, "Price is required.".to_owned()))?;
    let due_date = required(inputs, "Due_Date")?;
    if super::connect::parse_plex_datetime(due_date).is_none() {
        return Err(Failure(99, "Due_Date is not a date-time like 2026-01-31T00:00:00Z.".to_owned()));
    }
    let release_status = input(inputs, "Release_Status").unwrap_or(DEFAULT_RELEASE_STATUS);
    let order = store::order_by_number(tenant, order_no)
        .ok_or_else(|| Failure(11, format!("Sales order '{order_no}' does not exist.")))?;
    let part = store::part_by_number(tenant, part_no)
        .ok_or_else(|| Failure(12, format!("Part '{part_no}' does not exist.")))?;
    if quantity <= 0.0 || price < 0.0 {
        return Err(Failure(13, "Quantity must be positive and Price not negative.".to_owned()));
    }
    let order_id = text(order, "id").unwrap_or_default().to_owned();
    let ship_to = order.get("shipToAddressId").cloned().unwrap_or(Value::Null);
    let part_id = text(part, "id").unwrap_or_default().to_owned();
    let ship_from = text(part, "buildingCode").unwrap_or(DEFAULT_SHIP_FROM).to_owned();

    // Everything the store checks was checked above (order, part, quantity, due date) and the
    // price and release bodies below are complete, so none of these writes can fail half-way.
    let line = store::create_line(tenant, &order_id, &object(json!({ "partId": part_id })), now)
        .map_err(|rejection| refused(&rejection))?;
    let line_id = text(&line, "id").unwrap_or_default().to_owned();
    let line_number = text(&line, "lineNumber").unwrap_or_default().to_owned();
    let price_body = object(json!({ "price": price, "unit": PRICE_UNIT, "currencyCode": PRICE_CURRENCY }));
    store::create_price(tenant, &order_id, &line_id, &price_body, now).map_err(|rejection| refused(&rejection))?;
    let release_body = object(json!({
        "orderLineId": line_id,
        "quantity": quantity,
        "dueDate": due_date,
        "status": release_status,
        "type": RELEASE_TYPE,
        "shipFrom": ship_from,
        "shipToAddressId": ship_to,
    }));
    store::create_release(tenant, &release_body, now).map_err(|rejection| refused(&rejection))?;
    Ok(format!("Line {line_number} added to sales order {order_no}."))
}

fn object(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

/// `sales_orders_by_po`: one row per sales order with the PO number (and customer, when given).
fn by_po(tenant: &Tenant, inputs: &Map<String, Value>) -> Outcome {
    let po_number = input(inputs, "PO_No").unwrap_or_default();
    let customer_code = input(inputs, "Customer_Code");
    let rows = tenant
        .records(&super::model::SALES_ORDERS)
        .iter()
        .filter(|order| text(order, "poNumber") == Some(po_number))
        .filter_map(|order| {
            let code = text(order, "customerId")
                .and_then(|id| tenant.find(&super::model::CUSTOMERS, id))
                .and_then(|customer| text(customer, "code"));
            if customer_code.is_some_and(|wanted| Some(wanted) != code) {
                return None;
            }
            let line_count = store::lines_of(tenant, text(order, "id").unwrap_or_default()).len();
            let order_number = order.get("orderNumber").cloned().unwrap_or(Value::Null);
            Some(vec![order_number, json!(po_number), json!(code), json!(line_count)])
        })
        .collect();
    Outcome { outputs: Map::new(), columns: BY_PO_COLUMNS.iter().map(|column| (*column).to_owned()).collect(), rows }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plex::model::{PARTS, SALES_ORDERS};

    fn tenant() -> Tenant {
        let mut tenant = Tenant::new("t".to_owned(), "T".to_owned());
        let now = Utc::now();
        store::seed_customer(
            &mut tenant,
            object(json!({"code": "WEB", "status": "Active", "addresses": [{"code": "S1", "shipTo": true}]})),
            now,
        )
        .unwrap();
        tenant.upsert(&PARTS, vec![object(json!({"number": "P-1", "status": "Active"}))], now).unwrap();
        tenant
    }

    #[test]
    fn a_header_then_a_line_make_an_order_with_a_line_price_and_release() {
        let mut tenant = tenant();
        let now = Utc::now();
        let header = run(
            Procedure::AddOrder,
            &Map::new(),
            &mut tenant,
            &object(json!({"Customer_Code": "WEB", "PO_No": "BC-7", "Ship_To_Customer_Address_Code": "S1",
                           "Freight_Amount": "4.95"})),
            now,
        );
        assert_eq!(header.outputs["Result_Error"], false, "{:?}", header.outputs);
        let order_no = header.outputs["Order_No"].as_str().unwrap().to_owned();
        let line = run(
            Procedure::AddOrderLine,
            &Map::new(),
            &mut tenant,
            &object(json!({"Order_No": order_no, "Part_No": "P-1", "Quantity": 3, "Price": "1.25",
                           "Due_Date": "2026-12-01T00:00:00Z"})),
            now,
        );
        assert_eq!(
            (line.outputs["Result_Error"].clone(), line.outputs["ResultCode"].clone()),
            (json!(false), json!(0))
        );
        let order = &tenant.records(&SALES_ORDERS)[0];
        assert!(order["shipToAddressId"].is_string());
        let found = run(Procedure::FindOrdersByPo, &Map::new(), &mut tenant, &object(json!({"PO_No": "BC-7"})), now);
        assert_eq!(found.rows, vec![vec![json!(order_no), json!("BC-7"), json!("WEB"), json!(1)]]);
    }

    #[test]
    fn an_unknown_part_is_reported_in_the_outputs_and_nothing_is_written() {
        let mut tenant = tenant();
        let now = Utc::now();
        let header = run(
            Procedure::AddOrder,
            &Map::new(),
            &mut tenant,
            &object(json!({"Customer_Code": "WEB", "PO_No": "BC-8"})),
            now,
        );
        let line = run(
            Procedure::AddOrderLine,
            &Map::new(),
            &mut tenant,
            &object(json!({"Order_No": header.outputs["Order_No"], "Part_No": "NOPE", "Quantity": 1, "Price": 1,
                           "Due_Date": "2026-12-01T00:00:00Z"})),
            now,
        );
        assert_eq!(
            (line.outputs["Result_Error"].clone(), line.outputs["ResultCode"].clone()),
            (json!(true), json!(12))
        );
        assert!(tenant.records(&crate::plex::model::ORDER_LINES).is_empty());
    }
}
