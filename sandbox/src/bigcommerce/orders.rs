//! Orders v2: building orders from seeds, rendering them in the spec's shapes, and the endpoints.
//!
//! - `GET /v2/orders/{id}`: the order with resource links (`products`, `shipping_addresses`,
//!   `coupons`, `consignments`). With `include=consignments[.line_items]&consignment_structure=object`
//!   the `consignments` object is embedded (`pickups`, `shipping`, `downloads`, `email`); its
//!   `line_items` are resource links, or with `.line_items` the full order products. Like the real
//!   API (bigcommerce/docs#960), a consignment embeds at most [`CONSIGNMENT_LINE_ITEM_LIMIT`] line
//!   items and then carries an undocumented `__warning__` telling the caller to page `/products`.
//!   Without `consignment_structure=object` the legacy array structure would apply; the double does
//!   not model it and keeps the resource link.
//! - `GET /v2/orders/{id}/products[/{line_id}]`, `GET /v2/orders/{id}/shipping_addresses[/{id}]`,
//!   `GET /v2/orders/{id}/consignments`.
//! - `GET /v2/orders` (filters `min_id`, `max_id`, `customer_id`, `status_id`, `min|max_date_created`,
//!   `min|max_date_modified` inclusive, in RFC-2822 or ISO-8601; `sort` by `id` (default),
//!   `customer_id`, `date_created`, `date_modified`, `status_id` or `channel_id`, with `:asc` or
//!   `:desc`) and `GET /v2/orders/count` with the same filters.
//!
//! Lists page with `page` (from 1) and `limit` (default 50, at most 250; more is served as 250). A
//! page past the end, or an empty list, is HTTP 204 with an empty body, as BigCommerce answers.
//! Dates are RFC-2822 in UTC and money is a decimal string with four places, as in the spec.
//! An unknown order is a 404 with the v2 error body; a malformed parameter a 400.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::model::{
    Address, AddressSeed, Order, OrderProduct, OrderProductSeed, OrderSeed, ShippingAddress, ShippingAddressSeed, Store,
};
use super::{ApiVersion, BigCommerce, Caller, error};
use crate::{lock, reply};

/// The order statuses every store has (`GET /v2/order_statuses`), by id.
const STATUSES: &[(u32, &str)] = &[
    (0, "Incomplete"),
    (1, "Pending"),
    (2, "Shipped"),
    (3, "Partially Shipped"),
    (4, "Refunded"),
    (5, "Cancelled"),
    (6, "Declined"),
    (7, "Awaiting Payment"),
    (8, "Awaiting Pickup"),
    (9, "Awaiting Shipment"),
    (10, "Completed"),
    (11, "Awaiting Fulfillment"),
    (12, "Manual Verification Required"),
    (13, "Disputed"),
    (14, "Partially Refunded"),
];

/// The most line items one embedded consignment carries (bigcommerce/docs#960).
pub(crate) const CONSIGNMENT_LINE_ITEM_LIMIT: usize = 50;
/// The warning BigCommerce adds to a consignment whose line items were cut (bigcommerce/docs#960).
const TRUNCATION_WARNING: &str = "Not all line items of this consignment are returned with this response, only 50 are \
                                  included. Please use the `/v2/orders/{order_id}/products` endpoint to fetch all line \
                                  items.";

const DEFAULT_PAGE_SIZE: usize = 50;
/// The largest page v2 serves; a bigger `limit` gets this many.
const MAX_PAGE_SIZE: usize = 250;
/// BigCommerce's first order id on a new store.
const FIRST_ORDER_ID: u64 = 100;

pub(crate) fn status_name(status_id: u32) -> Option<&'static str> {
    STATUSES.iter().find(|(id, _)| *id == status_id).map(|(_, name)| *name)
}

/// Parses a date given as RFC-2822 (what v2 sends), RFC-3339/ISO-8601, or a bare `YYYY-MM-DD`
/// (midnight UTC).
pub(crate) fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    DateTime::parse_from_rfc2822(text)
        .or_else(|_| DateTime::parse_from_rfc3339(text))
        .map(|date| date.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|date| date.and_hms_opt(0, 0, 0))
                .map(|date| date.and_utc())
        })
}

/// v2's date format: RFC-2822, always UTC (`Tue, 05 Mar 2019 21:40:11 +0000`).
pub(crate) fn rfc2822(date: DateTime<Utc>) -> String {
    date.format("%a, %d %b %Y %H:%M:%S +0000").to_string()
}

/// v2's money format: a decimal string with four places.
fn money(amount: Decimal) -> String {
    format!("{:.4}", amount.round_dp(4))
}

/// Consignment costs are JSON numbers in the spec, unlike everything else.
fn number(amount: Decimal) -> Value {
    amount.to_f64().map_or(Value::Null, |amount| json!(amount))
}

// ---------------------------------------------------------------------------------------------
// Building orders from seeds and changes
// ---------------------------------------------------------------------------------------------

/// An existing order's fields to replace (`PUT /__control/orders/{id}`); lists replace whole.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OrderChange {
    #[serde(default)]
    pub status_id: Option<u32>,
    #[serde(default)]
    pub customer_id: Option<u64>,
    #[serde(default)]
    pub billing_address: Option<AddressSeed>,
    #[serde(default)]
    pub shipping_addresses: Option<Vec<ShippingAddressSeed>>,
    #[serde(default)]
    pub products: Option<Vec<OrderProductSeed>>,
    #[serde(default)]
    pub currency_code: Option<String>,
    #[serde(default)]
    pub customer_message: Option<String>,
}

/// Hands out shipping address and line ids that are unique in the store, as BigCommerce's are.
struct Ids {
    next_address: u64,
    next_line: u64,
}

impl Ids {
    fn for_store(store: &Store) -> Ids {
        let addresses = store.orders.iter().flat_map(|order| order.shipping_addresses.iter().map(|address| address.id));
        let lines = store.orders.iter().flat_map(|order| order.products.iter().map(|line| line.id));
        Ids { next_address: addresses.max().unwrap_or(0) + 1, next_line: lines.max().unwrap_or(0) + 1 }
    }
}

fn address(seed: AddressSeed, what: &str) -> Result<Address, String> {
    if let Some(field) = seed.unknown.keys().next() {
        return Err(format!("{what}: unknown field `{field}`"));
    }
    Ok(Address {
        first_name: seed.first_name,
        last_name: seed.last_name,
        company: seed.company,
        street_1: seed.street_1,
        street_2: seed.street_2,
        city: seed.city,
        state: seed.state,
        zip: seed.zip,
        country: seed.country,
        country_iso2: seed.country_iso2,
        phone: seed.phone,
        email: seed.email,
        form_fields: seed.form_fields,
    })
}

fn shipping_addresses(seeds: Vec<ShippingAddressSeed>, ids: &mut Ids) -> Result<Vec<ShippingAddress>, String> {
    let mut seen = BTreeSet::new();
    let mut built = Vec::with_capacity(seeds.len());
    for (index, seed) in seeds.into_iter().enumerate() {
        let id = seed.id.unwrap_or_else(|| {
            let id = ids.next_address;
            ids.next_address += 1;
            id
        });
        ids.next_address = ids.next_address.max(id + 1);
        if id == 0 || !seen.insert(id) {
            return Err(format!("shipping_addresses[{index}]: id {id} is zero or used twice"));
        }
        built.push(ShippingAddress {
            id,
            address: address(seed.address, &format!("shipping_addresses[{index}]"))?,
            shipping_method: seed.shipping_method.unwrap_or_else(|| "Free Shipping".to_owned()),
        });
    }
    Ok(built)
}

fn lines(
    seeds: Vec<OrderProductSeed>,
    shipping: &[ShippingAddress],
    ids: &mut Ids,
) -> Result<Vec<OrderProduct>, String> {
    let mut seen = BTreeSet::new();
    let mut built = Vec::with_capacity(seeds.len());
    for (index, seed) in seeds.into_iter().enumerate() {
        let id = seed.id.unwrap_or_else(|| {
            let id = ids.next_line;
            ids.next_line += 1;
            id
        });
        ids.next_line = ids.next_line.max(id + 1);
        if id == 0 || !seen.insert(id) {
            return Err(format!("products[{index}]: id {id} is zero or used twice"));
        }
        if seed.quantity == 0 {
            return Err(format!("products[{index}]: quantity must be at least 1"));
        }
        let order_address_id = match seed.order_address_id {
            Some(address) if shipping.iter().any(|known| known.id == address) => address,
            Some(address) => {
                return Err(format!(
                    "products[{index}]: order_address_id {address} is not one of the order's shipping addresses"
                ));
            }
            None => shipping.first().map_or(0, |first| first.id),
        };
        built.push(OrderProduct {
            id,
            product_id: seed.product_id,
            variant_id: seed.variant_id.filter(|variant| *variant != 0),
            sku: seed.sku,
            name: seed.name,
            quantity: seed.quantity,
            price_ex_tax: seed.price_ex_tax.0,
            price_inc_tax: seed.price_inc_tax.unwrap_or(seed.price_ex_tax).0,
            order_address_id,
        });
    }
    Ok(built)
}

fn check_status(status_id: u32) -> Result<(), String> {
    match status_name(status_id) {
        Some(_) => Ok(()),
        None => Err(format!("status_id {status_id} is not an order status (0-14)")),
    }
}

fn check_currency(code: &str) -> Result<(), String> {
    if code.len() == 3 && code.chars().all(|c| c.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(format!("currency_code {code:?} is not an ISO 4217 code such as USD"))
    }
}

fn date(given: Option<&str>, field: &str, default: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    match given {
        None => Ok(default),
        Some(text) => parse_date(text).ok_or_else(|| format!("{field} {text:?} is not an RFC-2822 or RFC-3339 date")),
    }
}

/// Builds an order from its seed, giving it the store's next ids where the seed has none.
pub(crate) fn build_order(seed: OrderSeed, store: &Store, now: DateTime<Utc>) -> Result<Order, String> {
    check_status(seed.status_id)?;
    check_currency(&seed.currency_code)?;
    let id = seed.id.unwrap_or_else(|| store.orders.iter().map(|order| order.id + 1).max().unwrap_or(FIRST_ORDER_ID));
    if id == 0 {
        return Err("order id 0 is not usable".to_owned());
    }
    let mut ids = Ids::for_store(store);
    let shipping = shipping_addresses(seed.shipping_addresses, &mut ids)?;
    let products = lines(seed.products, &shipping, &mut ids)?;
    let date_created = date(seed.date_created.as_deref(), "date_created", now)?;
    // A seeded order that was created in the past was last modified then too, unless told.
    let date_modified = date(seed.date_modified.as_deref(), "date_modified", date_created)?;
    Ok(Order {
        id,
        status_id: seed.status_id,
        customer_id: seed.customer_id,
        billing_address: address(seed.billing_address, "billing_address")?,
        shipping_addresses: shipping,
        products,
        currency_code: seed.currency_code,
        customer_message: seed.customer_message.unwrap_or_default(),
        date_created,
        date_modified,
    })
}

/// The order after `change`, modified at `now`.
pub(crate) fn change_order(
    order: &Order,
    change: OrderChange,
    store: &Store,
    now: DateTime<Utc>,
) -> Result<Order, String> {
    let mut changed = order.clone();
    let mut ids = Ids::for_store(store);
    if let Some(status_id) = change.status_id {
        check_status(status_id)?;
        changed.status_id = status_id;
    }
    if let Some(customer_id) = change.customer_id {
        changed.customer_id = customer_id;
    }
    if let Some(billing) = change.billing_address {
        changed.billing_address = address(billing, "billing_address")?;
    }
    if let Some(seeds) = change.shipping_addresses {
        changed.shipping_addresses = shipping_addresses(seeds, &mut ids)?;
    }
    if let Some(seeds) = change.products {
        changed.products = lines(seeds, &changed.shipping_addresses, &mut ids)?;
    }
    if let Some(code) = change.currency_code {
        check_currency(&code)?;
        changed.currency_code = code;
    }
    if let Some(message) = change.customer_message {
        changed.customer_message = message;
    }
    // New addresses may have orphaned lines that pointed at the old ones.
    let known: BTreeSet<u64> = changed.shipping_addresses.iter().map(|address| address.id).collect();
    if let Some(line) =
        changed.products.iter().find(|line| line.order_address_id != 0 && !known.contains(&line.order_address_id))
    {
        return Err(format!(
            "line {} points at shipping address {}, which the order no longer has",
            line.id, line.order_address_id
        ));
    }
    changed.date_modified = now.max(order.date_modified);
    Ok(changed)
}

// ---------------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------------

/// Where resource links point: this double, in the shape `https://api.bigcommerce.com/stores/{hash}/v2`.
struct Links {
    v2: String,
}

impl Links {
    fn new(headers: &HeaderMap, store_hash: &str) -> Links {
        let host = headers.get(header::HOST).and_then(|host| host.to_str().ok()).unwrap_or("127.0.0.1");
        Links { v2: format!("http://{host}/stores/{store_hash}/v2") }
    }

    fn resource(&self, path: String) -> Value {
        json!({ "url": format!("{}{path}", self.v2), "resource": path })
    }
}

fn address_fields(address: &Address) -> Map<String, Value> {
    let mut fields = Map::new();
    for (name, value) in [
        ("first_name", &address.first_name),
        ("last_name", &address.last_name),
        ("company", &address.company),
        ("street_1", &address.street_1),
        ("street_2", &address.street_2),
        ("city", &address.city),
        ("state", &address.state),
        ("zip", &address.zip),
        ("country", &address.country),
        ("country_iso2", &address.country_iso2),
        ("phone", &address.phone),
        ("email", &address.email),
    ] {
        fields.insert(name.to_owned(), json!(value));
    }
    fields.insert("form_fields".to_owned(), json!(address.form_fields));
    fields
}

/// One order product (`orderProducts` in the spec).
fn render_line(order: &Order, line: &OrderProduct) -> Value {
    let quantity = Decimal::from(line.quantity);
    let tax = line.price_inc_tax - line.price_ex_tax;
    let total_ex = line.price_ex_tax * quantity;
    let total_inc = line.price_inc_tax * quantity;
    let zero = money(Decimal::ZERO);
    let mut fields = Map::new();
    fields.extend([
        ("id".to_owned(), json!(line.id)),
        ("order_id".to_owned(), json!(order.id)),
        ("product_id".to_owned(), json!(line.product_id)),
        ("variant_id".to_owned(), json!(line.variant_id.unwrap_or(0))),
        ("order_address_id".to_owned(), json!(line.order_address_id)),
        ("order_pickup_method_id".to_owned(), json!(0)),
        ("name".to_owned(), json!(line.name)),
        ("name_customer".to_owned(), json!(line.name)),
        ("name_merchant".to_owned(), json!(line.name)),
        ("sku".to_owned(), json!(line.sku)),
        ("upc".to_owned(), json!("")),
        ("type".to_owned(), json!("physical")),
        ("base_price".to_owned(), json!(money(line.price_ex_tax))),
        ("price_ex_tax".to_owned(), json!(money(line.price_ex_tax))),
        ("price_inc_tax".to_owned(), json!(money(line.price_inc_tax))),
        ("price_tax".to_owned(), json!(money(tax))),
        ("base_total".to_owned(), json!(money(total_ex))),
        ("total_ex_tax".to_owned(), json!(money(total_ex))),
        ("total_inc_tax".to_owned(), json!(money(total_inc))),
        ("total_tax".to_owned(), json!(money(total_inc - total_ex))),
        ("discounted_total_inc_tax".to_owned(), json!(money(total_inc))),
        ("quantity".to_owned(), json!(line.quantity)),
        ("quantity_shipped".to_owned(), json!(0)),
        ("quantity_refunded".to_owned(), json!(0)),
        ("is_refunded".to_owned(), json!(false)),
        ("refund_amount".to_owned(), json!(zero)),
        ("return_id".to_owned(), json!(0)),
        ("base_cost_price".to_owned(), json!(zero)),
        ("cost_price_ex_tax".to_owned(), json!(zero)),
        ("cost_price_inc_tax".to_owned(), json!(zero)),
        ("cost_price_tax".to_owned(), json!(zero)),
        ("weight".to_owned(), json!(zero)),
        ("width".to_owned(), json!(zero)),
        ("height".to_owned(), json!(zero)),
        ("depth".to_owned(), json!(zero)),
        ("fixed_shipping_cost".to_owned(), json!(zero)),
        ("wrapping_id".to_owned(), json!(0)),
        ("wrapping_name".to_owned(), json!("")),
        ("base_wrapping_cost".to_owned(), json!(zero)),
        ("wrapping_cost_ex_tax".to_owned(), json!(zero)),
        ("wrapping_cost_inc_tax".to_owned(), json!(zero)),
        ("wrapping_cost_tax".to_owned(), json!(zero)),
        ("wrapping_message".to_owned(), json!("")),
        ("event_name".to_owned(), Value::Null),
        ("event_date".to_owned(), json!("")),
        ("ebay_item_id".to_owned(), json!("")),
        ("ebay_transaction_id".to_owned(), json!("")),
        ("option_set_id".to_owned(), Value::Null),
        ("parent_order_product_id".to_owned(), Value::Null),
        ("is_bundled_product".to_owned(), json!(false)),
        ("bin_picking_number".to_owned(), json!("")),
        ("external_id".to_owned(), Value::Null),
        ("brand".to_owned(), json!("")),
        ("gift_certificate_id".to_owned(), Value::Null),
        ("applied_discounts".to_owned(), json!([])),
        ("product_options".to_owned(), json!([])),
        ("configurable_fields".to_owned(), json!([])),
    ]);
    Value::Object(fields)
}

fn lines_to(order: &Order, address_id: u64) -> impl Iterator<Item = &OrderProduct> {
    order.products.iter().filter(move |line| line.order_address_id == address_id)
}

fn quantity_to(order: &Order, address_id: u64) -> u64 {
    lines_to(order, address_id).map(|line| u64::from(line.quantity)).sum()
}

/// The parts a shipping address and a shipping consignment share.
fn shipping_fields(order: &Order, address: &ShippingAddress, links: &Links) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert("id".to_owned(), json!(address.id));
    fields.extend(address_fields(&address.address));
    fields.insert("shipping_method".to_owned(), json!(address.shipping_method));
    fields.insert("items_total".to_owned(), json!(quantity_to(order, address.id)));
    fields.insert("items_shipped".to_owned(), json!(0));
    fields.insert("shipping_zone_id".to_owned(), json!(1));
    fields.insert("shipping_zone_name".to_owned(), json!("Default Zone"));
    fields.insert(
        "shipping_quotes".to_owned(),
        links.resource(format!("/orders/{}/consignments/shipping/{}/shipping_quotes", order.id, address.id)),
    );
    fields
}

/// One shipping address (`orderShippingAddress`): costs are decimal strings here.
fn render_shipping_address(order: &Order, address: &ShippingAddress, links: &Links) -> Value {
    let mut fields = shipping_fields(order, address, links);
    fields.insert("order_id".to_owned(), json!(order.id));
    let zero = money(Decimal::ZERO);
    for cost in [
        "base_cost",
        "cost_ex_tax",
        "cost_inc_tax",
        "cost_tax",
        "base_handling_cost",
        "handling_cost_ex_tax",
        "handling_cost_inc_tax",
        "handling_cost_tax",
    ] {
        fields.insert(cost.to_owned(), json!(zero));
    }
    fields.insert("cost_tax_class_id".to_owned(), json!(0));
    fields.insert("handling_cost_tax_class_id".to_owned(), json!(0));
    Value::Object(fields)
}

/// The line items of one consignment: resource links, or (`full`) the order products; cut at
/// the limit with BigCommerce's `__warning__` on the consignment.
fn consignment_lines<'a>(
    order: &Order,
    lines: impl Iterator<Item = &'a OrderProduct>,
    full: bool,
    links: &Links,
    consignment: &mut Map<String, Value>,
) {
    let lines: Vec<&OrderProduct> = lines.collect();
    let shown: Vec<Value> = lines
        .iter()
        .take(CONSIGNMENT_LINE_ITEM_LIMIT)
        .map(|line| {
            if full {
                render_line(order, line)
            } else {
                links.resource(format!("/orders/{}/products/{}", order.id, line.id))
            }
        })
        .collect();
    consignment.insert("line_items".to_owned(), Value::Array(shown));
    if lines.len() > CONSIGNMENT_LINE_ITEM_LIMIT {
        consignment.insert("__warning__".to_owned(), json!({ "message": TRUNCATION_WARNING }));
    }
}

/// The `consignments` object (`orderConsignment_Get`). Lines without a shipping address (an order
/// with none) form a download consignment, as digital items would.
fn render_consignments(order: &Order, full: bool, links: &Links) -> Value {
    let zero = number(Decimal::ZERO);
    let shipping: Vec<Value> = order
        .shipping_addresses
        .iter()
        .map(|address| {
            let mut consignment = shipping_fields(order, address, links);
            for cost in [
                "base_cost",
                "cost_ex_tax",
                "cost_inc_tax",
                "cost_tax",
                "base_handling_cost",
                "handling_cost_ex_tax",
                "handling_cost_inc_tax",
                "handling_cost_tax",
            ] {
                consignment.insert(cost.to_owned(), zero.clone());
            }
            consignment.insert("cost_tax_class_id".to_owned(), json!(0));
            consignment.insert("handling_cost_tax_class_id".to_owned(), json!(0));
            consignment_lines(order, lines_to(order, address.id), full, links, &mut consignment);
            Value::Object(consignment)
        })
        .collect();
    let mut downloads = Vec::new();
    if lines_to(order, 0).next().is_some() {
        let mut consignment = Map::new();
        consignment.insert("recipient_email".to_owned(), json!(order.billing_address.email));
        consignment_lines(order, lines_to(order, 0), full, links, &mut consignment);
        downloads.push(Value::Object(consignment));
    }
    json!({ "pickups": [], "shipping": shipping, "downloads": downloads, "email": { "gift_certificates": [] } })
}

/// What `include` asked to embed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Embed {
    Nothing,
    Consignments { line_items: bool },
}

impl Embed {
    fn from_params(params: &HashMap<String, String>) -> Embed {
        let includes: BTreeSet<&str> =
            params.get("include").map(|include| include.split(',').map(str::trim).collect()).unwrap_or_default();
        let object = params.get("consignment_structure").is_some_and(|structure| structure == "object");
        if !object {
            return Embed::Nothing;
        }
        if includes.contains("consignments.line_items") {
            Embed::Consignments { line_items: true }
        } else if includes.contains("consignments") {
            Embed::Consignments { line_items: false }
        } else {
            Embed::Nothing
        }
    }
}

/// The order object (`order_Resp`), with the fields the spec's example has.
fn render_order(order: &Order, store: &Store, links: &Links, embed: Embed) -> Value {
    let items_total: u64 = order.products.iter().map(|line| u64::from(line.quantity)).sum();
    let subtotal_ex: Decimal = order.products.iter().map(|line| line.price_ex_tax * Decimal::from(line.quantity)).sum();
    let subtotal_inc: Decimal =
        order.products.iter().map(|line| line.price_inc_tax * Decimal::from(line.quantity)).sum();
    let status = status_name(order.status_id).unwrap_or("Pending");
    let zero = money(Decimal::ZERO);
    let payment_status = match order.status_id {
        0 | 7 => "pending",
        4 => "refunded",
        5 | 6 => "void",
        _ => "captured",
    };
    let mut fields = Map::new();
    fields.extend([
        ("id".to_owned(), json!(order.id)),
        ("customer_id".to_owned(), json!(order.customer_id)),
        ("date_created".to_owned(), json!(rfc2822(order.date_created))),
        ("date_modified".to_owned(), json!(rfc2822(order.date_modified))),
        ("date_shipped".to_owned(), json!("")),
        ("status_id".to_owned(), json!(order.status_id)),
        ("status".to_owned(), json!(status)),
        ("custom_status".to_owned(), json!(status)),
        ("subtotal_ex_tax".to_owned(), json!(money(subtotal_ex))),
        ("subtotal_inc_tax".to_owned(), json!(money(subtotal_inc))),
        ("subtotal_tax".to_owned(), json!(money(subtotal_inc - subtotal_ex))),
        ("base_shipping_cost".to_owned(), json!(zero)),
        ("shipping_cost_ex_tax".to_owned(), json!(zero)),
        ("shipping_cost_inc_tax".to_owned(), json!(zero)),
        ("shipping_cost_tax".to_owned(), json!(zero)),
        ("shipping_cost_tax_class_id".to_owned(), json!(0)),
        ("base_handling_cost".to_owned(), json!(zero)),
        ("handling_cost_ex_tax".to_owned(), json!(zero)),
        ("handling_cost_inc_tax".to_owned(), json!(zero)),
        ("handling_cost_tax".to_owned(), json!(zero)),
        ("handling_cost_tax_class_id".to_owned(), json!(0)),
        ("base_wrapping_cost".to_owned(), json!(zero)),
        ("wrapping_cost_ex_tax".to_owned(), json!(zero)),
        ("wrapping_cost_inc_tax".to_owned(), json!(zero)),
        ("wrapping_cost_tax".to_owned(), json!(zero)),
        ("wrapping_cost_tax_class_id".to_owned(), json!(0)),
        ("total_ex_tax".to_owned(), json!(money(subtotal_ex))),
        ("total_inc_tax".to_owned(), json!(money(subtotal_inc))),
        ("total_tax".to_owned(), json!(money(subtotal_inc - subtotal_ex))),
        ("is_tax_inclusive_pricing".to_owned(), json!(false)),
        ("items_total".to_owned(), json!(items_total)),
        ("items_shipped".to_owned(), json!(0)),
        ("payment_method".to_owned(), json!("Manual")),
        ("payment_provider_id".to_owned(), json!("")),
        ("payment_status".to_owned(), json!(payment_status)),
        ("refunded_amount".to_owned(), json!(zero)),
        ("order_is_digital".to_owned(), json!(order.shipping_addresses.is_empty())),
        ("store_credit_amount".to_owned(), json!(zero)),
        ("gift_certificate_amount".to_owned(), json!(zero)),
        ("ip_address".to_owned(), json!("")),
        ("ip_address_v6".to_owned(), json!("")),
        ("geoip_country".to_owned(), json!("")),
        ("geoip_country_iso2".to_owned(), json!("")),
        ("currency_id".to_owned(), json!(1)),
        ("currency_code".to_owned(), json!(order.currency_code)),
        ("currency_exchange_rate".to_owned(), json!("1.0000000000")),
        ("default_currency_id".to_owned(), json!(1)),
        ("default_currency_code".to_owned(), json!(order.currency_code)),
        ("store_default_currency_code".to_owned(), json!(order.currency_code)),
        ("store_default_to_transactional_exchange_rate".to_owned(), json!("1.0000000000")),
        ("staff_notes".to_owned(), json!("")),
        ("customer_message".to_owned(), json!(order.customer_message)),
        ("discount_amount".to_owned(), json!(zero)),
        ("coupon_discount".to_owned(), json!(zero)),
        ("shipping_address_count".to_owned(), json!(order.shipping_addresses.len())),
        ("is_deleted".to_owned(), json!(false)),
        ("ebay_order_id".to_owned(), json!("0")),
        ("cart_id".to_owned(), json!("")),
        ("is_email_opt_in".to_owned(), json!(false)),
        ("credit_card_type".to_owned(), Value::Null),
        ("order_source".to_owned(), json!("www")),
        ("channel_id".to_owned(), json!(1)),
        ("external_source".to_owned(), Value::Null),
        ("external_id".to_owned(), Value::Null),
        ("external_merchant_id".to_owned(), Value::Null),
        ("external_order_id".to_owned(), json!("")),
        ("tax_provider_id".to_owned(), json!("BasicTaxProvider")),
        ("customer_locale".to_owned(), json!("en")),
        ("store_id".to_owned(), json!(store.store_id)),
    ]);
    fields.insert("billing_address".to_owned(), Value::Object(address_fields(&order.billing_address)));
    fields.insert("products".to_owned(), links.resource(format!("/orders/{}/products", order.id)));
    fields.insert("shipping_addresses".to_owned(), links.resource(format!("/orders/{}/shipping_addresses", order.id)));
    fields.insert("coupons".to_owned(), links.resource(format!("/orders/{}/coupons", order.id)));
    let consignments = match embed {
        Embed::Nothing => links.resource(format!("/orders/{}/consignments", order.id)),
        Embed::Consignments { line_items } => render_consignments(order, line_items, links),
    };
    fields.insert("consignments".to_owned(), consignments);
    Value::Object(fields)
}

// ---------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------

fn bad_parameter(name: &str) -> Response {
    error(ApiVersion::V2, StatusCode::BAD_REQUEST, &format!("The field '{name}' is invalid."))
}

fn not_found() -> Response {
    error(ApiVersion::V2, StatusCode::NOT_FOUND, "The requested resource was not found.")
}

/// `page` and `limit` as v2 reads them: a `limit` above the maximum is served as the maximum.
fn paging(params: &HashMap<String, String>) -> Result<(usize, usize), Response> {
    let read = |name: &str, default: usize| match params.get(name) {
        None => Ok(default),
        Some(raw) => match raw.trim().parse::<usize>() {
            Ok(value) if value > 0 => Ok(value),
            _ => Err(bad_parameter(name)),
        },
    };
    Ok((read("page", 1)?, read("limit", DEFAULT_PAGE_SIZE)?.min(MAX_PAGE_SIZE)))
}

/// One page of `items`, or 204 with an empty body past the end, as v2 answers.
fn page_of(items: Vec<Value>, page: usize, limit: usize) -> Response {
    let start = (page - 1).saturating_mul(limit);
    let shown: Vec<Value> = items.into_iter().skip(start).take(limit).collect();
    if shown.is_empty() {
        return StatusCode::NO_CONTENT.into_response();
    }
    reply::json(StatusCode::OK, &Value::Array(shown))
}

fn order_id(raw: &str) -> Option<u64> {
    raw.parse::<u64>().ok().filter(|id| *id > 0)
}

/// The filters `GET /v2/orders` and `/v2/orders/count` share.
#[derive(Debug, Default)]
struct Filters {
    min_id: Option<u64>,
    max_id: Option<u64>,
    customer_id: Option<u64>,
    status_id: Option<u32>,
    min_date_created: Option<DateTime<Utc>>,
    max_date_created: Option<DateTime<Utc>>,
    min_date_modified: Option<DateTime<Utc>>,
    max_date_modified: Option<DateTime<Utc>>,
}

impl Filters {
    fn from_params(params: &HashMap<String, String>) -> Result<Filters, Response> {
        fn number<T: std::str::FromStr>(params: &HashMap<String, String>, name: &str) -> Result<Option<T>, Response> {
            params.get(name).map(|raw| raw.trim().parse::<T>().map_err(|_| bad_parameter(name))).transpose()
        }
        fn when(params: &HashMap<String, String>, name: &str) -> Result<Option<DateTime<Utc>>, Response> {
            params.get(name).map(|raw| parse_date(raw).ok_or_else(|| bad_parameter(name))).transpose()
        }
        Ok(Filters {
            min_id: number(params, "min_id")?,
            max_id: number(params, "max_id")?,
            customer_id: number(params, "customer_id")?,
            status_id: number(params, "status_id")?,
            min_date_created: when(params, "min_date_created")?,
            max_date_created: when(params, "max_date_created")?,
            min_date_modified: when(params, "min_date_modified")?,
            max_date_modified: when(params, "max_date_modified")?,
        })
    }

    fn matches(&self, order: &Order) -> bool {
        self.min_id.is_none_or(|min| order.id >= min)
            && self.max_id.is_none_or(|max| order.id <= max)
            && self.customer_id.is_none_or(|customer| order.customer_id == customer)
            && self.status_id.is_none_or(|status| order.status_id == status)
            && self.min_date_created.is_none_or(|min| order.date_created >= min)
            && self.max_date_created.is_none_or(|max| order.date_created <= max)
            && self.min_date_modified.is_none_or(|min| order.date_modified >= min)
            && self.max_date_modified.is_none_or(|max| order.date_modified <= max)
    }
}

/// Sorts by `sort` (`field[:asc|:desc]`); ties keep id order, so pages are stable.
fn sort_orders(orders: &mut [&Order], sort: Option<&String>) -> Result<(), Response> {
    let Some(sort) = sort else {
        orders.sort_by_key(|order| order.id);
        return Ok(());
    };
    let (field, direction) = sort.split_once(':').unwrap_or((sort.as_str(), "asc"));
    let descending = match direction {
        "asc" => false,
        "desc" => true,
        _ => return Err(bad_parameter("sort")),
    };
    match field {
        "id" => orders.sort_by_key(|order| order.id),
        "customer_id" => orders.sort_by_key(|order| (order.customer_id, order.id)),
        "date_created" => orders.sort_by_key(|order| (order.date_created, order.id)),
        "date_modified" => orders.sort_by_key(|order| (order.date_modified, order.id)),
        "status_id" => orders.sort_by_key(|order| (order.status_id, order.id)),
        // Every order of the double is on channel 1.
        "channel_id" => orders.sort_by_key(|order| order.id),
        _ => return Err(bad_parameter("sort")),
    }
    if descending {
        orders.reverse();
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------------

/// `GET /v2/orders/{order_id}`.
pub(super) async fn get_order(
    State(double): State<Arc<BigCommerce>>,
    Extension(caller): Extension<Caller>,
    Path((_, raw_id)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let links = Links::new(&headers, &caller.store_hash);
    let state = lock(&double.state);
    let Some(store) = state.stores.get(&caller.store_hash) else { return not_found() };
    match order_id(&raw_id).and_then(|id| store.order(id)) {
        Some(order) => reply::json(StatusCode::OK, &render_order(order, store, &links, Embed::from_params(&params))),
        None => not_found(),
    }
}

/// `GET /v2/orders`: filtered, sorted, paged; 204 when the page is empty.
pub(super) async fn list_orders(
    State(double): State<Arc<BigCommerce>>,
    Extension(caller): Extension<Caller>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let filters = match Filters::from_params(&params) {
        Ok(filters) => filters,
        Err(response) => return response,
    };
    let (page, limit) = match paging(&params) {
        Ok(paging) => paging,
        Err(response) => return response,
    };
    let links = Links::new(&headers, &caller.store_hash);
    let embed = Embed::from_params(&params);
    let state = lock(&double.state);
    let Some(store) = state.stores.get(&caller.store_hash) else { return not_found() };
    let mut orders: Vec<&Order> = store.orders.iter().filter(|order| filters.matches(order)).collect();
    if let Err(response) = sort_orders(&mut orders, params.get("sort")) {
        return response;
    }
    let rendered = orders.into_iter().map(|order| render_order(order, store, &links, embed)).collect();
    page_of(rendered, page, limit)
}

/// `GET /v2/orders/count`.
pub(super) async fn count_orders(
    State(double): State<Arc<BigCommerce>>,
    Extension(caller): Extension<Caller>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let filters = match Filters::from_params(&params) {
        Ok(filters) => filters,
        Err(response) => return response,
    };
    let state = lock(&double.state);
    let count = state
        .stores
        .get(&caller.store_hash)
        .map_or(0, |store| store.orders.iter().filter(|order| filters.matches(order)).count());
    reply::json(StatusCode::OK, &json!({ "count": count }))
}

/// `GET /v2/orders/{order_id}/products`: paged; 204 past the end.
pub(super) async fn order_products(
    State(double): State<Arc<BigCommerce>>,
    Extension(caller): Extension<Caller>,
    Path((_, raw_id)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let (page, limit) = match paging(&params) {
        Ok(paging) => paging,
        Err(response) => return response,
    };
    let state = lock(&double.state);
    let Some(store) = state.stores.get(&caller.store_hash) else { return not_found() };
    let Some(order) = order_id(&raw_id).and_then(|id| store.order(id)) else { return not_found() };
    page_of(order.products.iter().map(|line| render_line(order, line)).collect(), page, limit)
}

/// `GET /v2/orders/{order_id}/products/{product_id}` (the order product's id).
pub(super) async fn order_product(
    State(double): State<Arc<BigCommerce>>,
    Extension(caller): Extension<Caller>,
    Path((_, raw_id, raw_line)): Path<(String, String, String)>,
) -> Response {
    let state = lock(&double.state);
    let Some(store) = state.stores.get(&caller.store_hash) else { return not_found() };
    let Some(order) = order_id(&raw_id).and_then(|id| store.order(id)) else { return not_found() };
    match raw_line.parse::<u64>().ok().and_then(|line_id| order.products.iter().find(|line| line.id == line_id)) {
        Some(line) => reply::json(StatusCode::OK, &render_line(order, line)),
        None => not_found(),
    }
}

/// `GET /v2/orders/{order_id}/shipping_addresses`: paged; 204 past the end.
pub(super) async fn order_shipping_addresses(
    State(double): State<Arc<BigCommerce>>,
    Extension(caller): Extension<Caller>,
    Path((_, raw_id)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let (page, limit) = match paging(&params) {
        Ok(paging) => paging,
        Err(response) => return response,
    };
    let links = Links::new(&headers, &caller.store_hash);
    let state = lock(&double.state);
    let Some(store) = state.stores.get(&caller.store_hash) else { return not_found() };
    let Some(order) = order_id(&raw_id).and_then(|id| store.order(id)) else { return not_found() };
    let addresses =
        order.shipping_addresses.iter().map(|address| render_shipping_address(order, address, &links)).collect();
    page_of(addresses, page, limit)
}

/// `GET /v2/orders/{order_id}/shipping_addresses/{id}`.
pub(super) async fn order_shipping_address(
    State(double): State<Arc<BigCommerce>>,
    Extension(caller): Extension<Caller>,
    Path((_, raw_id, raw_address)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let links = Links::new(&headers, &caller.store_hash);
    let state = lock(&double.state);
    let Some(store) = state.stores.get(&caller.store_hash) else { return not_found() };
    let Some(order) = order_id(&raw_id).and_then(|id| store.order(id)) else { return not_found() };
    let address = raw_address
        .parse::<u64>()
        .ok()
        .and_then(|address_id| order.shipping_addresses.iter().find(|address| address.id == address_id));
    match address {
        Some(address) => reply::json(StatusCode::OK, &render_shipping_address(order, address, &links)),
        None => not_found(),
    }
}

/// `GET /v2/orders/{order_id}/consignments` (`include=line_items` embeds the order products).
pub(super) async fn order_consignments(
    State(double): State<Arc<BigCommerce>>,
    Extension(caller): Extension<Caller>,
    Path((_, raw_id)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let links = Links::new(&headers, &caller.store_hash);
    let full = params.get("include").is_some_and(|include| include.split(',').any(|part| part.trim() == "line_items"));
    let state = lock(&double.state);
    let Some(store) = state.stores.get(&caller.store_hash) else { return not_found() };
    match order_id(&raw_id).and_then(|id| store.order(id)) {
        Some(order) => reply::json(StatusCode::OK, &render_consignments(order, full, &links)),
        None => not_found(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_from_rfc2822_and_iso8601_and_render_as_rfc2822_in_utc() {
        let from_2822 = parse_date("Thu, 20 Apr 2017 11:32:00 -0400").expect("rfc2822");
        let from_iso = parse_date("2017-04-20T11:32:00.000-04:00").expect("iso8601");
        assert_eq!(from_2822, from_iso);
        assert_eq!(rfc2822(from_2822), "Thu, 20 Apr 2017 15:32:00 +0000");
        assert_eq!(parse_date("2017-04-20").map(rfc2822).as_deref(), Some("Thu, 20 Apr 2017 00:00:00 +0000"));
        assert_eq!(parse_date("yesterday"), None);
    }

    #[test]
    fn money_keeps_four_places_without_binary_rounding() {
        assert_eq!(money("0.45".parse().unwrap()), "0.4500");
        assert_eq!(money("62.6793".parse().unwrap()), "62.6793");
        assert_eq!(money(Decimal::from(3)), "3.0000");
    }

    #[test]
    fn every_documented_status_has_its_name() {
        assert_eq!(status_name(0), Some("Incomplete"));
        assert_eq!(status_name(11), Some("Awaiting Fulfillment"));
        assert_eq!(status_name(10), Some("Completed"));
        assert_eq!(status_name(15), None);
    }
}
