//! Reading one order in full: [`BigCommerceClient::order`]; and the order list by modification
//! time for the reconciliation sweep: [`BigCommerceClient::order_changes`].
//!
//! One call in the common case: `GET /v2/orders/{id}?include=consignments.line_items&
//! consignment_structure=object` embeds the shipping consignments (the shipping addresses) and their
//! line items. BigCommerce cuts each consignment at 50 line items and says so only in an
//! undocumented `__warning__` (bigcommerce/docs#960), so the embedded lines are trusted only when no
//! consignment warns, every line item is a full order product (not a resource link), and their
//! quantities add up to the order's `items_total`. Otherwise the lines are paged from
//! `/v2/orders/{id}/products?limit=250` (until a 204, an empty or a short page); and when the
//! response has no consignments object at all, the addresses are paged from `/shipping_addresses`
//! too. A page that brings no line not already seen stops the read with an error instead of
//! looping (airbytehq/airbyte#14861).
//!
//! Lines and addresses are sorted by id, so the same order reads the same whichever way it came.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, SecondsFormat, Utc};
use domain::order::{Address, OrderChange, ShippingAddress, WebOrder, WebOrderLine};
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::Value;

use crate::fields::{Object, field_error};
use crate::{BigCommerceClient, Error};

/// The largest page v2 serves.
const PAGE_SIZE: usize = 250;
/// A bound on paging that no real order reaches (100 000 lines), in case pages never run out.
const MAX_PAGES: usize = 400;

/// What the order's own response says about its lines and addresses.
struct Embedded {
    shipping: Vec<ShippingAddress>,
    lines: Vec<WebOrderLine>,
    /// Every line is there: no warning, no resource links, and the quantities add up.
    complete: bool,
}

impl BigCommerceClient {
    /// The order with its lines and shipping addresses, or `None` when the store has no such order.
    pub async fn order(&self, id: u64) -> Result<Option<WebOrder>, Error> {
        let path = format!("/v2/orders/{id}?include=consignments.line_items&consignment_structure=object");
        let reply = match self.get(&path).await {
            Ok(reply) => reply,
            Err(Error::Http(error)) if error.status() == Some(StatusCode::NOT_FOUND) => return Ok(None),
            Err(error) => return Err(error),
        };
        let what = format!("order {id}");
        let document: Value = reply.json().map_err(|source| Error::Decode { what: "order", source })?;
        let order = Object::new(&document, &what, "")?;
        if order.u64("id")? != id {
            return Err(field_error(&what, "id".to_owned(), "names a different order"));
        }
        // The transactional currency (what the prices are in); `currency_code` is the display
        // currency, the same on orders made through v2.
        let currency_code = match order.optional_text("default_currency_code")? {
            Some(code) => code,
            None => order.required_text("currency_code")?,
        };
        // Everything of the order itself is read before any further call, so a malformed order
        // fails without paging its lines first.
        let mut web_order = WebOrder {
            id,
            status_id: order.u32("status_id")?,
            status: order.text("status")?,
            customer_id: order.optional_u64("customer_id")?.unwrap_or(0),
            billing: match order.get("billing_address") {
                Some(_) => address(&order.object("billing_address")?)?,
                None => Address::default(),
            },
            shipping: Vec::new(),
            lines: Vec::new(),
            currency_code,
            date_created: order.date("date_created")?,
            date_modified: order.date("date_modified")?,
            customer_message: order.optional_text("customer_message")?,
        };
        let items_total = order.optional_u64("items_total")?;

        let (mut shipping, mut lines) = match embedded(&order, items_total)? {
            Some(Embedded { shipping, lines, complete: true }) => (shipping, lines),
            Some(Embedded { shipping, .. }) => (shipping, self.lines(id, &what).await?),
            None => (self.shipping_addresses(id, &what).await?, self.lines(id, &what).await?),
        };
        shipping.sort_by_key(|address| address.id);
        lines.sort_by_key(|line| line.line_id);
        web_order.shipping = shipping;
        web_order.lines = lines;
        Ok(Some(web_order))
    }

    /// One page (from 1) of the orders modified in `[from, to]` (BigCommerce compares inclusively,
    /// to the second), sorted by `date_modified` ascending: `GET /v2/orders?min_date_modified=
    /// &max_date_modified=&sort=date_modified:asc&limit=&page=`. The end of the list is a 204
    /// (an empty page here). Only id, status and modification time are read.
    pub async fn order_changes(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        page: u32,
        limit: u32,
    ) -> Result<Vec<OrderChange>, Error> {
        let iso = |at: DateTime<Utc>| at.to_rfc3339_opts(SecondsFormat::Secs, true);
        let path = format!(
            "/v2/orders?min_date_modified={}&max_date_modified={}&sort=date_modified:asc&limit={limit}&page={page}",
            iso(from),
            iso(to)
        );
        let reply = self.get(&path).await?;
        if reply.status == StatusCode::NO_CONTENT || reply.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Vec::new());
        }
        let batch: Vec<Value> = reply.json().map_err(|source| Error::Decode { what: "orders", source })?;
        batch
            .iter()
            .enumerate()
            .map(|(index, item)| {
                let order = Object::new(item, "the order list", format!("[{index}]"))?;
                Ok(OrderChange {
                    id: order.u64("id")?,
                    status_id: order.u32("status_id")?,
                    date_modified: order.date("date_modified")?,
                })
            })
            .collect()
    }

    /// Every line of the order, paged from `/products`.
    async fn lines(&self, id: u64, what: &str) -> Result<Vec<WebOrderLine>, Error> {
        let items = self.page_all(&format!("/v2/orders/{id}/products"), what, "products").await?;
        items
            .iter()
            .enumerate()
            .map(|(index, item)| line(&Object::new(item, what, format!("products[{index}]"))?, None))
            .collect()
    }

    /// Every shipping address of the order, paged from `/shipping_addresses`.
    async fn shipping_addresses(&self, id: u64, what: &str) -> Result<Vec<ShippingAddress>, Error> {
        let items = self.page_all(&format!("/v2/orders/{id}/shipping_addresses"), what, "shipping_addresses").await?;
        items
            .iter()
            .enumerate()
            .map(|(index, item)| shipping_address(&Object::new(item, what, format!("shipping_addresses[{index}]"))?))
            .collect()
    }

    /// All pages of a v2 list: stops at a 204, an empty page or a short page; fails on a page that
    /// brings nothing new, rather than asking for it forever.
    async fn page_all(&self, path: &str, what: &str, list: &'static str) -> Result<Vec<Value>, Error> {
        let mut items = Vec::new();
        let mut seen = BTreeSet::new();
        for page in 1..=MAX_PAGES {
            let reply = self.get(&format!("{path}?limit={PAGE_SIZE}&page={page}")).await?;
            if reply.status == StatusCode::NO_CONTENT || reply.body.iter().all(u8::is_ascii_whitespace) {
                return Ok(items);
            }
            let batch: Vec<Value> = reply.json().map_err(|source| Error::Decode { what: list, source })?;
            let count = batch.len();
            let mut new = 0;
            for (index, item) in batch.into_iter().enumerate() {
                let item_path = format!("{list}[{}]", items.len() + index);
                let id = Object::new(&item, what, item_path)?.u64("id")?;
                if seen.insert(id) {
                    new += 1;
                    items.push(item);
                }
            }
            if count == 0 || count < PAGE_SIZE {
                return Ok(items);
            }
            if new == 0 {
                return Err(Error::Paging {
                    what: format!("{what} {list}"),
                    reason: format!("page {page} repeated only entries of earlier pages"),
                });
            }
        }
        Err(Error::Paging { what: format!("{what} {list}"), reason: format!("more than {MAX_PAGES} pages") })
    }
}

/// The consignments the order embedded, if it embedded the object structure at all.
fn embedded(order: &Object<'_>, items_total: Option<u64>) -> Result<Option<Embedded>, Error> {
    if order.get("consignments").is_none() {
        return Ok(None);
    }
    let consignments = order.object("consignments")?;
    // A resource link (`{url, resource}`): the object structure was not embedded.
    if !consignments.has("shipping") {
        return Ok(None);
    }
    // Each consignment with the shipping address its lines go to, if it is a shipping one.
    let mut groups: Vec<(Object<'_>, Option<u64>)> = Vec::new();
    let mut shipping = Vec::new();
    for consignment in consignments.objects("shipping")? {
        let address = shipping_address(&consignment)?;
        groups.push((consignment, Some(address.id)));
        shipping.push(address);
    }
    for kind in ["pickups", "downloads"] {
        groups.extend(consignments.objects(kind)?.into_iter().map(|consignment| (consignment, None)));
    }
    if consignments.get("email").is_some() {
        let email = consignments.object("email")?;
        groups.extend(email.objects("gift_certificates")?.into_iter().map(|consignment| (consignment, None)));
    }

    let mut complete = true;
    let mut lines: BTreeMap<u64, WebOrderLine> = BTreeMap::new();
    for (consignment, address_id) in &groups {
        if consignment.has("__warning__") {
            complete = false;
        }
        match consignment.get("line_items") {
            None => {}
            Some(Value::Array(_)) => {
                for item in consignment.objects("line_items")? {
                    // A resource link instead of the order product: the lines were not embedded.
                    if !item.has("product_id") {
                        complete = false;
                        continue;
                    }
                    let line = line(&item, *address_id)?;
                    lines.insert(line.line_id, line);
                }
            }
            // The spec's digital consignment example links its lines with one object.
            Some(_) => complete = false,
        }
    }
    let quantity: Decimal = lines.values().map(|line| line.quantity).sum();
    if items_total.is_some_and(|total| Decimal::from(total) != quantity) {
        complete = false;
    }
    Ok(Some(Embedded { shipping, lines: lines.into_values().collect(), complete }))
}

fn address(object: &Object<'_>) -> Result<Address, Error> {
    Ok(Address {
        first_name: object.text("first_name")?,
        last_name: object.text("last_name")?,
        company: object.optional_text("company")?,
        street_1: object.text("street_1")?,
        street_2: object.optional_text("street_2")?,
        city: object.text("city")?,
        state: object.text("state")?,
        zip: object.text("zip")?,
        country_iso2: object.text("country_iso2")?,
        phone: object.optional_text("phone")?,
        email: object.optional_text("email")?,
    })
}

fn shipping_address(object: &Object<'_>) -> Result<ShippingAddress, Error> {
    Ok(ShippingAddress {
        id: object.u64("id")?,
        address: address(object)?,
        shipping_method: object.optional_text("shipping_method")?,
    })
}

/// One order product; `consignment_address` is the shipping consignment it was embedded in.
fn line(object: &Object<'_>, consignment_address: Option<u64>) -> Result<WebOrderLine, Error> {
    Ok(WebOrderLine {
        line_id: object.u64("id")?,
        product_id: object.optional_u64("product_id")?.unwrap_or(0),
        variant_id: object.reference("variant_id")?,
        sku: object.text("sku")?,
        name: object.text("name")?,
        quantity: object.decimal("quantity")?,
        unit_price: object.decimal("price_ex_tax")?,
        address_id: object.reference("order_address_id")?.or(consignment_address),
    })
}
