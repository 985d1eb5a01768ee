//! Stock at BigCommerce (notes §7): how each SKU is addressed ([`BigCommerceClient::catalog_addresses`]),
//! the levels it shows ([`BigCommerceClient::inventory_levels`]), the inventory locations
//! ([`BigCommerceClient::locations`]), and absolute levels set in one request
//! ([`BigCommerceClient::set_absolute`]).
//!
//! The Inventory API (`PUT /v3/inventory/adjustments/absolute`) takes up to 2000 item × location
//! rows per request, each naming its item by product id or variant id. It refuses a request with
//! any bad item **whole** with a 422 whose `title` lists every bad item (the spec's example:
//! `[Item with variant_id 106 is tracked by product, please update stock by product id]`), so a
//! refusal is handed back as per-item errors a caller can drop and send the rest without. An
//! absolute level is idempotent: the shared retry policy may send the same request again after a
//! 5xx or a 429 without harm. BigCommerce asks for such requests one at a time, never in parallel.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};

use domain::stock::{ItemAddress, MAX_ADJUSTMENT_ROWS, MAX_QUANTITY, Sku, StockLocation};
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

use crate::fields::{Object, field_error};
use crate::{BigCommerceClient, Error};

/// The largest page of `GET /v3/catalog/products`.
const CATALOG_PAGE_SIZE: usize = 250;
/// The largest page of `GET /v3/inventory/items` ("Limit of 1000 items").
const ITEMS_PAGE_SIZE: usize = 1000;
/// The largest page of `GET /v3/inventory/locations`.
const LOCATIONS_PAGE_SIZE: usize = 250;
/// A bound on paging that no store reaches (a million products), in case pages never run out.
const MAX_PAGES: u32 = 4000;

/// Every inventory item of the catalog by SKU, and what was left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogAddresses {
    /// Products tracked by product under their own SKU; variants of products tracked by variant
    /// under theirs.
    pub addresses: BTreeMap<Sku, ItemAddress>,
    /// Products that track no inventory (`inventory_tracking: none`), left out.
    pub untracked: usize,
    /// Items without a SKU (no stock can be matched to them), left out.
    pub without_sku: usize,
    /// SKUs two items claimed (BigCommerce keeps SKUs unique, so normally none); the first kept.
    pub duplicates: BTreeSet<Sku>,
    /// Catalog pages read.
    pub pages: u32,
}

/// A BigCommerce inventory location (`GET /v3/inventory/locations`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub id: StockLocation,
    pub code: String,
    pub label: String,
    /// A disabled location refuses adjustments ("Location with id 2 is disabled").
    pub enabled: bool,
    /// `PHYSICAL`, `VIRTUAL`, ...
    pub type_id: Option<String>,
}

/// What became of one absolute adjustment request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdjustmentOutcome {
    /// Every row was taken. BigCommerce applies them asynchronously, so reads may lag a little.
    Applied { transaction_id: String },
    /// BigCommerce refused the request whole and named each bad item; nothing was applied. Every
    /// error covers at least one row sent, so dropping [`refused_rows`](Self::refused_rows) and
    /// sending the rest makes progress.
    Refused { errors: Vec<ItemError> },
}

impl AdjustmentOutcome {
    /// The indexes (into the rows sent) of every row an error covers.
    pub fn refused_rows(&self) -> BTreeSet<usize> {
        match self {
            AdjustmentOutcome::Applied { .. } => BTreeSet::new(),
            AdjustmentOutcome::Refused { errors } => {
                errors.iter().flat_map(|error| error.rows.iter().copied()).collect()
            }
        }
    }
}

/// One thing BigCommerce refused in an absolute adjustment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemError {
    pub subject: Refused,
    /// BigCommerce's words, e.g. `Item with variant_id 211 is tracked by product, please update
    /// stock by product id` or `Location with id 2 is disabled`.
    pub reason: String,
    /// The rows sent (indexes) this covers: every row of the item, every row at the location, or
    /// the one row named.
    pub rows: Vec<usize>,
}

/// What an [`ItemError`] is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// An item (unknown, tracked the other way, tracking nothing).
    Item(ItemAddress),
    /// An item named by SKU.
    Sku(Sku),
    /// A location (unknown or disabled): every row at it.
    Location(StockLocation),
    /// One row whose fields BigCommerce found malformed.
    Row(usize),
}

impl BigCommerceClient {
    /// Every inventory item of the catalog by SKU: `GET /v3/catalog/products?include=variants&
    /// include_fields=sku,inventory_tracking&limit=250`, page by page until the last page the
    /// listing's `meta.pagination.total_pages` names (so a catalog of exactly 500 products costs
    /// two calls, not three). A product tracked by product is addressed by its product id under its
    /// own SKU; a product tracked by variant by each variant's id under the variant's SKU (its own
    /// SKU names no inventory item); a product tracking nothing is counted in `untracked`.
    pub async fn catalog_addresses(&self) -> Result<CatalogAddresses, Error> {
        let mut catalog = CatalogAddresses::default();
        let path = "/v3/catalog/products?include=variants&include_fields=sku,inventory_tracking";
        let pages = self
            .v3_pages(path, CATALOG_PAGE_SIZE, "products", |product| {
                let product_id = product.u64("id")?;
                match product.required_text("inventory_tracking")?.as_str() {
                    "none" => catalog.untracked += 1,
                    "product" => {
                        let address = ItemAddress::Product { product_id };
                        catalog.add(product.optional_text("sku")?, address);
                    }
                    "variant" => {
                        for variant in product.objects("variants")? {
                            let address = ItemAddress::Variant { variant_id: variant.u64("id")? };
                            catalog.add(variant.optional_text("sku")?, address);
                        }
                    }
                    _ => {
                        let reason = "is not none, product or variant";
                        return Err(field_error("products", product.path_of("inventory_tracking"), reason));
                    }
                }
                Ok(product_id.to_string())
            })
            .await?;
        catalog.pages = pages;
        Ok(catalog)
    }

    /// The on-hand level (`total_inventory_onhand`) of every inventory item at each of
    /// `locations` (all locations when empty), by SKU: `GET /v3/inventory/items?location_id:in=
    /// &limit=1000`, every page; and the pages read. Items without a SKU are left out; they cannot
    /// be matched to a part either.
    pub async fn inventory_levels(
        &self,
        locations: &[StockLocation],
    ) -> Result<(BTreeMap<(Sku, StockLocation), i64>, u32), Error> {
        let mut path = "/v3/inventory/items".to_owned();
        if !locations.is_empty() {
            let ids: Vec<String> = locations.iter().map(ToString::to_string).collect();
            path = format!("{path}?location_id:in={}", ids.join(","));
        }
        let mut levels = BTreeMap::new();
        let pages = self
            .v3_pages(&path, ITEMS_PAGE_SIZE, "inventory items", |item| {
                let identity = item.object("identity")?;
                let key = format!("{}/{}", identity.text("product_id")?, identity.text("variant_id")?);
                let Some(sku) = identity.optional_text("sku")? else { return Ok(key) };
                for level in item.objects("locations")? {
                    let location = StockLocation(level.u64("location_id")?);
                    levels.insert((Sku::new(sku.clone()), location), level.i64("total_inventory_onhand")?);
                }
                Ok(key)
            })
            .await?;
        Ok((levels, pages))
    }

    /// Every inventory location of the store (`GET /v3/inventory/locations`, every page), the
    /// default location `1` among them.
    pub async fn locations(&self) -> Result<Vec<Location>, Error> {
        let mut locations = Vec::new();
        self.v3_pages("/v3/inventory/locations", LOCATIONS_PAGE_SIZE, "inventory locations", |location| {
            let id = location.u64("id")?;
            locations.push(Location {
                id: StockLocation(id),
                code: location.text("code")?,
                label: location.text("label")?,
                enabled: location.bool("enabled")?,
                type_id: location.optional_text("type_id")?,
            });
            Ok(id.to_string())
        })
        .await?;
        Ok(locations)
    }

    /// One `PUT /v3/inventory/adjustments/absolute` setting each row's item at its location to its
    /// quantity, `reason` recorded with the transaction. Refused before anything is sent: no rows,
    /// more than 2000, or a quantity outside 0 to 2 147 483 647 (BigCommerce would refuse them
    /// whole).
    ///
    /// A 422 that names bad items comes back as [`AdjustmentOutcome::Refused`], read from the
    /// whole response body (the error's excerpt would cut a long list): its `title`, a bracketed,
    /// comma-separated list of messages each starting `Item with {sku X | variant_id N |
    /// product_id N} ...` or `Location with id N ...` (messages contain commas of their own, so the
    /// list is split where a message starts, not at every comma), each message matched to the rows
    /// sent for that item or at that location and repeated messages merged; or, for a malformed
    /// row, `errors` keyed `items.{index}[.{field}]`. A 422 in which any message names nothing
    /// this client recognises, or nothing it sent, stays the HTTP error it is: dropping rows could
    /// not fix it.
    pub async fn set_absolute(
        &self,
        reason: &str,
        rows: &[(ItemAddress, StockLocation, i64)],
    ) -> Result<AdjustmentOutcome, Error> {
        const WHAT: &str = "absolute adjustment";
        if rows.is_empty() {
            return Err(Error::Unsendable { what: WHAT, reason: "it has no rows".to_owned() });
        }
        if rows.len() > MAX_ADJUSTMENT_ROWS {
            let reason =
                format!("{} rows is more than the {MAX_ADJUSTMENT_ROWS} BigCommerce takes at once", rows.len());
            return Err(Error::Unsendable { what: WHAT, reason });
        }
        if let Some(index) = rows.iter().position(|(_, _, quantity)| !(0..=MAX_QUANTITY).contains(quantity)) {
            let reason = format!("row {index}'s quantity is outside 0 to {MAX_QUANTITY}");
            return Err(Error::Unsendable { what: WHAT, reason });
        }
        let items: Vec<Value> = rows
            .iter()
            .map(|(address, location, quantity)| {
                let mut item = Map::new();
                item.insert("location_id".to_owned(), json!(location.id()));
                match address {
                    ItemAddress::Product { product_id } => item.insert("product_id".to_owned(), json!(product_id)),
                    ItemAddress::Variant { variant_id } => item.insert("variant_id".to_owned(), json!(variant_id)),
                };
                item.insert("quantity".to_owned(), json!(quantity));
                Value::Object(item)
            })
            .collect();
        let body = json!({ "reason": reason, "items": items }).to_string().into_bytes();
        match self.send(Method::PUT, "/v3/inventory/adjustments/absolute", body).await {
            Ok(reply) => {
                let document: Value = reply.json().map_err(|source| Error::Decode { what: WHAT, source })?;
                let transaction_id = Object::new(&document, WHAT, "")?.required_text("transaction_id")?;
                Ok(AdjustmentOutcome::Applied { transaction_id })
            }
            Err(Error::Http(error)) if error.status() == Some(StatusCode::UNPROCESSABLE_ENTITY) => {
                match error.body().and_then(|body| refused_items(body, rows)) {
                    Some(errors) => Ok(AdjustmentOutcome::Refused { errors }),
                    None => Err(Error::Http(error)),
                }
            }
            Err(error) => Err(error),
        }
    }

    /// Reads every page of a v3 list (`{data, meta.pagination}`) at `limit` a page, handing each
    /// item to `each`, which returns a key for it. Stops after the page `total_pages` names (or,
    /// without it, a short or empty page); a page whose first and last keys repeat the page
    /// before's stops the read with an error instead of looping. Returns the pages read.
    async fn v3_pages(
        &self,
        path: &str,
        limit: usize,
        what: &'static str,
        mut each: impl FnMut(&Object<'_>) -> Result<String, Error>,
    ) -> Result<u32, Error> {
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut previous: Option<(String, String)> = None;
        for page in 1..=MAX_PAGES {
            let reply = self.get(&format!("{path}{separator}limit={limit}&page={page}")).await?;
            if reply.status == StatusCode::NO_CONTENT || reply.body.iter().all(u8::is_ascii_whitespace) {
                return Ok(page);
            }
            let document: Value = reply.json().map_err(|source| Error::Decode { what, source })?;
            let page_what = format!("{what} page {page}");
            let listing = Object::new(&document, &page_what, "")?;
            let items = listing.objects("data")?;
            let keys = items.iter().map(&mut each).collect::<Result<Vec<String>, Error>>()?;
            let total_pages = document.pointer("/meta/pagination/total_pages").and_then(Value::as_u64);
            let last = match total_pages {
                Some(total) => u64::from(page) >= total,
                None => keys.len() < limit,
            };
            if keys.is_empty() || last {
                return Ok(page);
            }
            let bounds = (keys[0].clone(), keys[keys.len() - 1].clone());
            if previous.as_ref() == Some(&bounds) {
                return Err(Error::Paging { what: page_what, reason: "repeated the page before it".to_owned() });
            }
            previous = Some(bounds);
        }
        Err(Error::Paging { what: what.to_owned(), reason: format!("more than {MAX_PAGES} pages") })
    }
}

impl CatalogAddresses {
    fn add(&mut self, sku: Option<String>, address: ItemAddress) {
        let Some(sku) = sku else {
            self.without_sku += 1;
            return;
        };
        match self.addresses.entry(Sku::new(sku)) {
            Entry::Occupied(taken) => {
                self.duplicates.insert(taken.key().clone());
            }
            Entry::Vacant(free) => {
                free.insert(address);
            }
        }
    }
}

/// The per-item errors of a refused absolute adjustment's body, or `None` when the body names
/// none, or names one this client cannot tie to a row it sent (see `set_absolute`).
fn refused_items(body: &[u8], rows: &[(ItemAddress, StockLocation, i64)]) -> Option<Vec<ItemError>> {
    let document: Value = serde_json::from_slice(body).ok()?;
    let mut errors: Vec<ItemError> = Vec::new();
    if let Some(Value::Object(fields)) = document.get("errors") {
        for (key, reason) in fields {
            let index: usize = key.strip_prefix("items.")?.split('.').next()?.parse().ok()?;
            if index >= rows.len() {
                return None;
            }
            let reason = match reason {
                Value::String(text) => format!("{key}: {text}"),
                other => format!("{key}: {other}"),
            };
            errors.push(ItemError { subject: Refused::Row(index), reason, rows: vec![index] });
        }
    }
    if errors.is_empty() {
        let title = document.get("title")?.as_str()?.trim();
        let list = title.strip_prefix('[')?.strip_suffix(']')?;
        for message in messages(list) {
            let subject = subject_of(message)?;
            if errors.iter().any(|error| error.subject == subject && error.reason == message) {
                continue;
            }
            let covered: Vec<usize> = rows
                .iter()
                .enumerate()
                .filter(|(_, (address, location, _))| match &subject {
                    Refused::Item(item) => item == address,
                    Refused::Location(at) => at == location,
                    Refused::Sku(_) | Refused::Row(_) => false,
                })
                .map(|(index, _)| index)
                .collect();
            if covered.is_empty() {
                return None;
            }
            errors.push(ItemError { subject, reason: message.to_owned(), rows: covered });
        }
    }
    (!errors.is_empty()).then_some(errors)
}

/// The messages of a refusal's list: each starts with `Item with ` or `Location with `.
fn messages(list: &str) -> Vec<&str> {
    let starts = ["Item with ", "Location with "];
    let mut boundaries: Vec<usize> = vec![0];
    let mut from = 0;
    while let Some(offset) = list[from..].find(", ") {
        let at = from + offset;
        if starts.iter().any(|start| list[at + 2..].starts_with(start)) {
            boundaries.push(at);
        }
        from = at + 2;
    }
    boundaries.push(list.len());
    boundaries
        .windows(2)
        .map(|pair| list[pair[0]..pair[1]].trim_start_matches(", ").trim())
        .filter(|message| !message.is_empty())
        .collect()
}

/// What one message of a refusal is about, when it has one of BigCommerce's known shapes.
fn subject_of(message: &str) -> Option<Refused> {
    if let Some(rest) = message.strip_prefix("Location with id ") {
        let id: u64 = rest.split(' ').next()?.parse().ok()?;
        return Some(Refused::Location(StockLocation(id)));
    }
    let rest = message.strip_prefix("Item with ")?;
    let number = |text: &str| -> Option<u64> { text.split(' ').next()?.parse().ok() };
    if let Some(id) = rest.strip_prefix("product_id ") {
        return Some(Refused::Item(ItemAddress::Product { product_id: number(id)? }));
    }
    if let Some(id) = rest.strip_prefix("variant_id ") {
        return Some(Refused::Item(ItemAddress::Variant { variant_id: number(id)? }));
    }
    let sku = rest.strip_prefix("sku ")?;
    // A SKU may hold spaces: it runs up to the first of the predicates BigCommerce appends.
    let end = [" does not exist", " is tracked by ", " does not track inventory"]
        .iter()
        .filter_map(|predicate| sku.find(predicate))
        .min()?;
    Some(Refused::Sku(Sku::new(&sku[..end])))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(product_id: u64) -> ItemAddress {
        ItemAddress::Product { product_id }
    }

    fn variant(variant_id: u64) -> ItemAddress {
        ItemAddress::Variant { variant_id }
    }

    fn refusal(title: &str) -> Vec<u8> {
        json!({ "status": 422, "title": title, "type": "https://developer.bigcommerce.com/api-docs", "errors": {} })
            .to_string()
            .into_bytes()
    }

    #[test]
    fn messages_with_commas_of_their_own_are_split_where_the_next_message_starts() {
        let list = "Item with variant_id 211 is tracked by product, please update stock by product id, Location \
                    with id 2 is disabled, Item with sku A, B does not exist";
        assert_eq!(
            messages(list),
            vec![
                "Item with variant_id 211 is tracked by product, please update stock by product id",
                "Location with id 2 is disabled",
                "Item with sku A, B does not exist",
            ]
        );
    }

    #[test]
    fn each_known_message_names_its_item_or_location() {
        let subject = |message: &str| subject_of(message);
        assert_eq!(subject("Item with variant_id 999 does not exist"), Some(Refused::Item(variant(999))));
        assert_eq!(
            subject(
                "Item with product_id 113 is tracked by variant, please update stock by variant id or the variant's sku"
            ),
            Some(Refused::Item(product(113)))
        );
        assert_eq!(subject("Item with product_id 120 does not track inventory"), Some(Refused::Item(product(120))));
        assert_eq!(subject("Item with sku MW BOLT does not exist"), Some(Refused::Sku(Sku::from("MW BOLT"))));
        assert_eq!(subject("Location with id 7 does not exist"), Some(Refused::Location(StockLocation(7))));
        assert_eq!(subject("Something else went wrong"), None);
    }

    #[test]
    fn a_refusal_is_tied_to_the_rows_it_covers_and_repeats_are_merged() {
        let rows = [
            (product(1), StockLocation(1), 5),
            (variant(211), StockLocation(1), 5),
            (product(1), StockLocation(2), 5),
            (variant(212), StockLocation(2), 5),
        ];
        let body = refusal(
            "[Item with variant_id 211 is tracked by product, please update stock by product id, Location with id 2 \
             is disabled, Location with id 2 is disabled]",
        );

        let errors = refused_items(&body, &rows).expect("per-item errors");

        assert_eq!(errors.len(), 2);
        assert_eq!((&errors[0].subject, &errors[0].rows), (&Refused::Item(variant(211)), &vec![1]));
        assert_eq!((&errors[1].subject, &errors[1].rows), (&Refused::Location(StockLocation(2)), &vec![2, 3]));
        let outcome = AdjustmentOutcome::Refused { errors };
        assert_eq!(outcome.refused_rows(), BTreeSet::from([1, 2, 3]));
    }

    #[test]
    fn malformed_rows_are_read_from_errors_by_index() {
        let rows = [(product(1), StockLocation(1), 5), (product(2), StockLocation(1), 5)];
        let body = json!({"status": 422, "title": "Payload contains invalid fields",
                          "errors": {"items.1.quantity": "must be between 0 and 2147483647"}})
        .to_string();
        let errors = refused_items(body.as_bytes(), &rows).expect("a row error");
        assert_eq!(
            errors,
            vec![ItemError {
                subject: Refused::Row(1),
                reason: "items.1.quantity: must be between 0 and 2147483647".to_owned(),
                rows: vec![1],
            }]
        );
    }

    #[test]
    fn a_refusal_that_names_nothing_sent_or_nothing_known_is_not_per_item() {
        let rows = [(product(1), StockLocation(1), 5)];
        assert_eq!(refused_items(&refusal("Limit of 2000 items for payload length"), &rows), None);
        assert_eq!(refused_items(&refusal("[Item with variant_id 5 does not exist]"), &rows), None);
        assert_eq!(refused_items(&refusal("[Item with sku X does not exist]"), &rows), None);
        assert_eq!(
            refused_items(&refusal("[Item with product_id 1 does not exist, Item with gremlins in it]"), &rows),
            None
        );
        assert_eq!(refused_items(b"<html>422</html>", &rows), None);
    }
}
