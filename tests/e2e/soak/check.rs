//! The end of a soak: each web order as the BigCommerce double holds it now, held against the
//! Plex double's sales orders. Pure, over the two control planes' JSON, so each reason an order
//! can end wrong is tested here without a world.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde_json::Value;

/// What Plex should hold for one web order.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    pub order_id: u64,
    /// The Plex customer the connection books the order to.
    pub customer_id: String,
    pub lines: Vec<ExpectedLine>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedLine {
    pub part_number: String,
    pub price: f64,
    pub quantity: f64,
    pub due_date: NaiveDate,
}

/// The web orders `ids` of the BigCommerce double's state dump (`GET /__control/state`, whose
/// `data` holds the stores), in the
/// terms Plex should hold them: a line per product, in order, its release due `due_in_days` after
/// the order date. Guests (customer 0) go to `guest_customer`, everyone else to `registered_customer`.
pub fn expected_orders(
    state: &Value,
    ids: &[u64],
    due_in_days: u32,
    guest_customer: &str,
    registered_customer: &str,
) -> BTreeMap<u64, Result<Expected, String>> {
    let mut found: BTreeMap<u64, &Value> = BTreeMap::new();
    for store in state["data"]["stores"].as_array().map(Vec::as_slice).unwrap_or_default() {
        for order in store["orders"].as_array().map(Vec::as_slice).unwrap_or_default() {
            if let Some(id) = order["id"].as_u64() {
                found.insert(id, order);
            }
        }
    }
    ids.iter()
        .map(|&id| {
            let expected = match found.get(&id) {
                None => Err("not in the BigCommerce double".to_owned()),
                Some(order) => expected(order, id, due_in_days, guest_customer, registered_customer),
            };
            (id, expected)
        })
        .collect()
}

fn expected(
    order: &Value,
    order_id: u64,
    due_in_days: u32,
    guest_customer: &str,
    registered_customer: &str,
) -> Result<Expected, String> {
    let created: DateTime<Utc> = order["date_created"]
        .as_str()
        .and_then(|date| date.parse().ok())
        .ok_or("the BigCommerce order has no date_created")?;
    let due_date = created.date_naive() + Days::new(u64::from(due_in_days));
    let lines = order["products"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|product| ExpectedLine {
            part_number: product["sku"].as_str().unwrap_or_default().to_owned(),
            price: number(&product["price_ex_tax"]).unwrap_or(f64::NAN),
            quantity: number(&product["quantity"]).unwrap_or(f64::NAN),
            due_date,
        })
        .collect();
    let customer_id = if order["customer_id"].as_u64() == Some(0) { guest_customer } else { registered_customer };
    Ok(Expected { order_id, customer_id: customer_id.to_owned(), lines })
}

/// A JSON number, or a decimal string as BigCommerce sends money.
fn number(value: &Value) -> Option<f64> {
    value.as_f64().or_else(|| value.as_str().and_then(|text| text.parse().ok()))
}

/// The Plex sales orders of the control plane's list (`GET /__control/sales-orders`), by the web
/// order id of their PO number (`BC-{id}`).
pub fn plex_orders_by_web_order(sales_orders: &Value) -> BTreeMap<u64, Vec<&Value>> {
    let mut by_order: BTreeMap<u64, Vec<&Value>> = BTreeMap::new();
    for order in sales_orders.as_array().map(Vec::as_slice).unwrap_or_default() {
        if let Some(id) =
            order["poNumber"].as_str().and_then(|po| po.strip_prefix("BC-")).and_then(|id| id.parse().ok())
        {
            by_order.entry(id).or_default().push(order);
        }
    }
    by_order
}

/// Why Plex does not hold exactly `expected`: empty when it does. Every difference is named (the
/// line, the field, both values), so a report says how an order ended wrong.
pub fn differences(expected: &Expected, plex: &[&Value]) -> Vec<String> {
    let order = match plex {
        [] => return vec!["no Plex sales order".to_owned()],
        [order] => order,
        several => return vec![format!("{} Plex sales orders", several.len())],
    };
    let mut reasons = Vec::new();
    if order["customerId"].as_str() != Some(expected.customer_id.as_str()) {
        reasons.push(format!("customer {}, expected {}", order["customerId"], expected.customer_id));
    }
    let mut lines: Vec<&Value> = order["lines"].as_array().map(|lines| lines.iter().collect()).unwrap_or_default();
    lines.sort_by_key(|line| line["lineNumber"].as_str().and_then(|number| number.parse::<u64>().ok()));
    if lines.len() != expected.lines.len() {
        reasons.push(format!("{} Plex lines, BigCommerce has {}", lines.len(), expected.lines.len()));
    }
    for (index, (line, wanted)) in lines.iter().zip(&expected.lines).enumerate() {
        let number = index + 1;
        let prices = line["prices"].as_array().map(Vec::as_slice).unwrap_or_default();
        match prices {
            [price] if number_field(price, "price") == Some(wanted.price) => {}
            [price] => reasons.push(format!("line {number}: price {}, BigCommerce {}", price["price"], wanted.price)),
            other => reasons.push(format!("line {number}: {} prices", other.len())),
        }
        let releases = line["releases"].as_array().map(Vec::as_slice).unwrap_or_default();
        let [release] = releases else {
            reasons.push(format!("line {number}: {} releases", releases.len()));
            continue;
        };
        let part = release["partNumber"].as_str().or_else(|| line["partNumber"].as_str()).unwrap_or_default();
        if part != wanted.part_number {
            reasons.push(format!("line {number}: part {part:?}, BigCommerce {:?}", wanted.part_number));
        }
        if number_field(release, "quantity") != Some(wanted.quantity) {
            reasons.push(format!(
                "line {number}: release quantity {}, BigCommerce {}",
                release["quantity"], wanted.quantity
            ));
        }
        let due = release["dueDate"].as_str().and_then(|date| date.get(..10)).and_then(|day| day.parse().ok());
        if due != Some(wanted.due_date) {
            reasons.push(format!("line {number}: due {}, expected {}", release["dueDate"], wanted.due_date));
        }
    }
    reasons
}

fn number_field(record: &Value, field: &str) -> Option<f64> {
    number(&record[field])
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn state(products: Value) -> Value {
        json!({"data": {"stores": [{"orders": [{"id": 5, "customer_id": 0, "date_created": "2026-11-24T23:59:59Z",
                                                 "products": products}]}]}})
    }

    fn plex(lines: Value) -> Value {
        json!([{"poNumber": "BC-5", "customerId": "web", "lines": lines}])
    }

    fn line(number: &str, part: &str, price: f64, quantity: f64, due: &str) -> Value {
        json!({"lineNumber": number, "prices": [{"price": price}],
               "releases": [{"partNumber": part, "quantity": quantity, "dueDate": due}]})
    }

    fn check(bigcommerce: Value, plex_orders: Value) -> Vec<String> {
        let expected = expected_orders(&bigcommerce, &[5], 7, "web", "fitter").remove(&5).unwrap().unwrap();
        let by_order = plex_orders_by_web_order(&plex_orders);
        differences(&expected, by_order.get(&5).map(Vec::as_slice).unwrap_or_default())
    }

    #[test]
    fn an_order_whose_lines_prices_releases_and_due_dates_match_has_no_differences() {
        let bigcommerce = state(json!([
            {"sku": "A", "quantity": 10, "price_ex_tax": "0.4500"},
            {"sku": "B", "quantity": 3, "price_ex_tax": "6.9000"}
        ]));
        // Lines listed out of order still compare by line number.
        let plex_orders = plex(json!([
            line("2", "B", 6.9, 3.0, "2026-12-01T00:00:00Z"),
            line("1", "A", 0.45, 10.0, "2026-12-01T00:00:00Z")
        ]));
        assert_eq!(check(bigcommerce, plex_orders), Vec::<String>::new());
    }

    #[test]
    fn a_stale_quantity_a_missing_line_and_a_second_sales_order_are_each_named() {
        let bigcommerce = state(json!([
            {"sku": "A", "quantity": 99, "price_ex_tax": "0.4500"},
            {"sku": "B", "quantity": 3, "price_ex_tax": "6.9000"}
        ]));
        let stale = plex(json!([line("1", "A", 0.45, 10.0, "2026-12-01T00:00:00Z")]));
        assert_eq!(
            check(bigcommerce.clone(), stale),
            ["1 Plex lines, BigCommerce has 2", "line 1: release quantity 10.0, BigCommerce 99"]
        );
        let twice = json!([{"poNumber": "BC-5", "lines": []}, {"poNumber": "BC-5", "lines": []}]);
        assert_eq!(check(bigcommerce.clone(), twice), ["2 Plex sales orders"]);
        assert_eq!(check(bigcommerce, json!([])), ["no Plex sales order"]);
    }

    #[test]
    fn a_line_without_its_price_or_release_or_with_the_wrong_due_date_is_named() {
        let bigcommerce = state(json!([
            {"sku": "A", "quantity": 1, "price_ex_tax": "0.4500"},
            {"sku": "B", "quantity": 2, "price_ex_tax": "0.1200"}
        ]));
        let plex_orders = plex(json!([
            line("1", "A", 0.45, 1.0, "2026-12-02T00:00:00Z"),
            {"lineNumber": "2", "prices": [], "releases": []}
        ]));
        assert_eq!(
            check(bigcommerce, plex_orders),
            ["line 1: due \"2026-12-02T00:00:00Z\", expected 2026-12-01", "line 2: 0 prices", "line 2: 0 releases"]
        );
    }
}
