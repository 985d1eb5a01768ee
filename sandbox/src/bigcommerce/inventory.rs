//! Inventory v3 (`inventory.v3.yml`, BigCommerce notes §7): locations, stock per item and location,
//! absolute adjustments, and the inventory webhooks every stock change sends.
//!
//! An inventory *item* is a product whose `inventory_tracking` is `product`, or a variant of a
//! product tracked by `variant`; untracked products (`none`) have none. Each item has a level per
//! location (on hand, safety stock, ...); the catalog's `inventory_level` mirrors the default
//! location (id 1), which every store has.
//!
//! - `GET /v3/inventory/locations`: filters `location_id:in`, `location_code:in`, `is_active`;
//!   paged (default 50, at most 250).
//! - `GET /v3/inventory/items`: filters `sku:in`, `variant_id:in`, `product_id:in` (the item's
//!   identity), `location_id:in`, `location_code:in` (the locations listed per item); paged
//!   (default 50, at most 1000: "Limit of 1000 items"); every item lists every location of the
//!   store it passes, with `available_to_sell` (on hand minus safety stock, at least 0),
//!   `total_inventory_onhand`, `location_enabled` and `settings`.
//! - `PUT /v3/inventory/adjustments/absolute` `{reason, items: [{location_id, sku | variant_id |
//!   product_id, quantity}]}` → `200 {"transaction_id": "<uuid>"}`. Rules, each a 422:
//!   - malformed items (no `location_id`; not exactly one of `sku`, `variant_id`, `product_id`; a
//!     `quantity` that is not an integer from 0 to 2 147 483 647): title "Payload contains invalid
//!     fields", `errors` keyed `items.{index}.{field}`;
//!   - more than 2000 items ("Limit of 2000 items for payload length");
//!   - per item: an unknown SKU, variant or product; a variant (or SKU) of a product tracked by
//!     product ("Item with variant_id 106 is tracked by product, please update stock by product
//!     id", the spec's example); a product tracked by variant addressed by `product_id` (or its own
//!     SKU); an untracked product; an unknown or disabled location. These come back together, in
//!     item order, as the title `[message, message, ...]` with `errors: {}`, the shape of the spec's
//!     example, and **nothing is applied**: the spec's 200 answer has no per-item results, so a
//!     request is either applied whole or refused whole.
//!
//!   Rows apply in order (a repeated item and location: the last one wins). A row that changes a
//!   level sends `store/product/inventory/updated` (product-tracked) or `store/sku/inventory/updated`
//!   (variant-tracked) with `method: absolute` and `value` the change; a row that sets the level it
//!   already had sends nothing.
//!
//! Orders placed through `POST /__control/orders` (not seeded ones, and not those placed as
//! Incomplete, `status_id` 0) take their quantities off the default location of tracked items, at
//! least down to 0, and send the `.../inventory/order/updated` and `.../inventory/updated`
//! callbacks with `method: relative`.
//!
//! Control endpoints (mounted under `/__control/`): `POST /catalog/generate`, `PUT
//! /inventory/locations/{id}`, `PUT /inventory/levels`, `GET /inventory` (see [`control_routes`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::api::{id_list, page_body, page_slice, paging, text_list, unprocessable};
use super::catalog::{base_variant_id, sku_id};
use super::model::{Order, Product, Store, Variant};
use super::webhooks::{EventData, InventoryChange, pick_store};
use super::{ApiVersion, BigCommerce, Caller, error};
use crate::control::{self, ControlError};
use crate::{lock, reply};

/// Every store's default location.
pub(crate) const DEFAULT_LOCATION_ID: u64 = 1;
/// The most an item may hold per location; the Inventory API rejects more.
const MAX_QUANTITY: i64 = 2_147_483_647;
/// "Limit of 2000 items for payload length."
const MAX_ADJUSTMENT_ITEMS: usize = 2_000;
const DEFAULT_PAGE_SIZE: u64 = 50;
/// "Limit of 1000 items for payload length" (`GET /inventory/items`).
const MAX_ITEMS_PAGE_SIZE: u64 = 1_000;
const MAX_LOCATIONS_PAGE_SIZE: u64 = 250;
/// Transactions kept for the control plane's dump.
const TRANSACTION_LOG: usize = 1_000;
const MAX_GENERATED_SKUS: usize = 200_000;

/// A location as `GET /v3/inventory/locations` shows it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct InventoryLocation {
    pub id: u64,
    pub code: String,
    pub label: String,
    pub description: String,
    pub managed_by_external_source: bool,
    pub type_id: String,
    pub enabled: bool,
    pub storefront_visibility: bool,
    pub time_zone: String,
    pub created_at: String,
    pub updated_at: String,
}

fn iso(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl InventoryLocation {
    /// Location 1, which every store has and which cannot be disabled.
    pub(crate) fn default_location(now: DateTime<Utc>) -> InventoryLocation {
        InventoryLocation {
            id: DEFAULT_LOCATION_ID,
            code: "BC-LOCATION-1".to_owned(),
            label: "Default location".to_owned(),
            description: String::new(),
            managed_by_external_source: false,
            type_id: "PHYSICAL".to_owned(),
            enabled: true,
            storefront_visibility: true,
            time_zone: "Etc/UTC".to_owned(),
            created_at: iso(now),
            updated_at: iso(now),
        }
    }

    fn render(&self) -> Value {
        let mut hours = Map::new();
        for day in ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"] {
            hours.insert(day.to_owned(), json!({ "open": false, "opening": "00:00", "closing": "00:00" }));
        }
        let mut shown = serde_json::to_value(self).unwrap_or_default();
        shown["operating_hours"] = Value::Object(hours);
        shown["address"] = Value::Null;
        shown["special_hours"] = json!([]);
        shown
    }
}

/// A location in a seed: `id` names it; the other fields change only when given.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LocationSeed {
    pub id: u64,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub type_id: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub storefront_visibility: Option<bool>,
    #[serde(default)]
    pub managed_by_external_source: Option<bool>,
}

/// What holds stock: a product tracked by product, or a variant of a product tracked by variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub(crate) enum ItemKey {
    Product(u64),
    Variant(u64),
}

/// One item's stock and settings at one location.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct StockLevel {
    pub on_hand: i64,
    pub safety_stock: i64,
    pub is_in_stock: bool,
    pub warning_level: i64,
    pub bin_picking_number: String,
}

impl Default for StockLevel {
    fn default() -> Self {
        StockLevel {
            on_hand: 0,
            safety_stock: 0,
            is_in_stock: true,
            warning_level: 0,
            bin_picking_number: String::new(),
        }
    }
}

impl StockLevel {
    fn available(&self) -> i64 {
        (self.on_hand - self.safety_stock).max(0)
    }
}

/// One applied absolute adjustment (or hand-set levels), for the control plane's dump.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct InventoryTransaction {
    pub transaction_id: String,
    pub time: String,
    /// `api` (`PUT /v3/inventory/adjustments/absolute`) or `control` (`PUT /__control/inventory/levels`).
    pub source: &'static str,
    pub reason: Option<String>,
    /// Rows in the request.
    pub items: usize,
    /// Rows that changed a level.
    pub changed: usize,
}

/// A product's `inventory_tracking`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tracking {
    None,
    Product,
    Variant,
}

fn tracking(product: &Product) -> Tracking {
    match product.inventory_tracking.as_str() {
        "product" => Tracking::Product,
        "variant" => Tracking::Variant,
        _ => Tracking::None,
    }
}

/// Refuses a seeded product the catalog could not hold.
pub(crate) fn check_product(product: &Product) -> Result<(), String> {
    if !["none", "product", "variant"].contains(&product.inventory_tracking.as_str()) {
        return Err(format!(
            "product {}: inventory_tracking must be none, product or variant, got {:?}",
            product.id, product.inventory_tracking
        ));
    }
    let mut ids = HashSet::new();
    if let Some(variant) = product.variants.iter().find(|variant| !ids.insert(variant.id)) {
        return Err(format!("product {}: variant id {} is used twice", product.id, variant.id));
    }
    let out_of_range = |level: i64| !(0..=MAX_QUANTITY).contains(&level);
    if out_of_range(product.inventory_level)
        || product.variants.iter().any(|variant| out_of_range(variant.inventory_level))
    {
        return Err(format!("product {}: inventory levels must be between 0 and {MAX_QUANTITY}", product.id));
    }
    Ok(())
}

/// Adds a location or changes one (by `id`).
pub(crate) fn seed_location(store: &mut Store, seed: LocationSeed, now: DateTime<Utc>) -> Result<(), String> {
    if seed.id == 0 {
        return Err("location id 0 is not usable".to_owned());
    }
    if seed.id == DEFAULT_LOCATION_ID && seed.enabled == Some(false) {
        return Err("the default location (1) cannot be disabled".to_owned());
    }
    let index = match store.locations.iter().position(|location| location.id == seed.id) {
        Some(index) => index,
        None => {
            let mut location = InventoryLocation::default_location(now);
            location.id = seed.id;
            location.code = format!("BC-LOCATION-{}", seed.id);
            location.label = format!("Location {}", seed.id);
            store.locations.push(location);
            store.locations.sort_by_key(|location| location.id);
            store.locations.iter().position(|location| location.id == seed.id).unwrap_or(0)
        }
    };
    let location = &mut store.locations[index];
    if let Some(code) = seed.code {
        location.code = code;
    }
    if let Some(label) = seed.label {
        location.label = label;
    }
    if let Some(description) = seed.description {
        location.description = description;
    }
    if let Some(type_id) = seed.type_id {
        location.type_id = type_id;
    }
    if let Some(enabled) = seed.enabled {
        location.enabled = enabled;
    }
    if let Some(visible) = seed.storefront_visibility {
        location.storefront_visibility = visible;
    }
    if let Some(managed) = seed.managed_by_external_source {
        location.managed_by_external_source = managed;
    }
    location.updated_at = iso(now);
    Ok(())
}

/// After a product is seeded: its stock at the default location is what the catalog says, and the
/// catalog's levels agree with the tracking mode (variants of a product tracked by product show
/// the product's level; a product tracked by variant shows the sum of its variants').
pub(crate) fn seed_product_levels(store: &mut Store, product_id: u64, now: DateTime<Utc>) {
    let Some(index) = store.products.iter().position(|product| product.id == product_id) else { return };
    let product = &mut store.products[index];
    product.date_created.get_or_insert_with(|| iso(now));
    let created = product.date_created.clone();
    product.date_modified.get_or_insert_with(|| created.unwrap_or_default());
    let mut keys = vec![ItemKey::Product(product.id)];
    keys.extend(product.variants.iter().map(|variant| ItemKey::Variant(variant.id)));
    let mut levels = Vec::new();
    match tracking(product) {
        Tracking::Product => {
            let level = product.inventory_level;
            product.variants.iter_mut().for_each(|variant| variant.inventory_level = level);
            levels.push((ItemKey::Product(product.id), level));
        }
        Tracking::Variant => {
            product.inventory_level = product.variants.iter().map(|variant| variant.inventory_level).sum();
            levels
                .extend(product.variants.iter().map(|variant| (ItemKey::Variant(variant.id), variant.inventory_level)));
        }
        Tracking::None => {}
    }
    for key in keys {
        store.levels.remove(&key);
    }
    for (key, on_hand) in levels {
        store
            .levels
            .entry(key)
            .or_default()
            .insert(DEFAULT_LOCATION_ID, StockLevel { on_hand, ..StockLevel::default() });
    }
}

// ---- finding items ----------------------------------------------------------------------------

/// How a row names its item.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Identity {
    Sku(String),
    Variant(u64),
    Product(u64),
}

impl std::fmt::Display for Identity {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Identity::Sku(sku) => write!(formatter, "sku {sku}"),
            Identity::Variant(id) => write!(formatter, "variant_id {id}"),
            Identity::Product(id) => write!(formatter, "product_id {id}"),
        }
    }
}

/// An item found in the store: its key and where its product (and variant) are.
#[derive(Debug, Clone, Copy)]
struct Target {
    key: ItemKey,
    product: usize,
    variant: Option<usize>,
}

/// Look-ups by SKU, variant id and product id, built once per request.
struct Catalog {
    /// A variant's SKU, or else a product's own SKU.
    by_sku: HashMap<String, (usize, Option<usize>)>,
    by_variant: HashMap<u64, (usize, usize)>,
    by_product: HashMap<u64, usize>,
}

impl Catalog {
    fn of(store: &Store) -> Catalog {
        let mut catalog = Catalog { by_sku: HashMap::new(), by_variant: HashMap::new(), by_product: HashMap::new() };
        for (p, product) in store.products.iter().enumerate() {
            catalog.by_product.insert(product.id, p);
            for (v, variant) in product.variants.iter().enumerate() {
                catalog.by_variant.insert(variant.id, (p, v));
                if !variant.sku.is_empty() {
                    catalog.by_sku.insert(variant.sku.clone(), (p, Some(v)));
                }
            }
        }
        for (p, product) in store.products.iter().enumerate() {
            if !product.sku.is_empty() {
                catalog.by_sku.entry(product.sku.clone()).or_insert((p, None));
            }
        }
        catalog
    }

    /// The item a row names, by the Inventory API's rules (`strict`), or leniently, as the
    /// control panel and orders do: a variant of a product tracked by product means the product.
    fn resolve(&self, store: &Store, identity: &Identity, strict: bool) -> Result<Target, String> {
        let not_found = || format!("Item with {identity} does not exist");
        let (product_index, variant_index) = match identity {
            Identity::Sku(sku) => *self.by_sku.get(sku).ok_or_else(not_found)?,
            Identity::Variant(id) => self.by_variant.get(id).map(|(p, v)| (*p, Some(*v))).ok_or_else(not_found)?,
            Identity::Product(id) => (*self.by_product.get(id).ok_or_else(not_found)?, None),
        };
        let product = &store.products[product_index];
        match (tracking(product), variant_index) {
            (Tracking::None, _) => Err(format!("Item with {identity} does not track inventory")),
            (Tracking::Product, Some(_)) if strict => {
                Err(format!("Item with {identity} is tracked by product, please update stock by product id"))
            }
            (Tracking::Product, _) => {
                Ok(Target { key: ItemKey::Product(product.id), product: product_index, variant: None })
            }
            (Tracking::Variant, Some(variant)) => Ok(Target {
                key: ItemKey::Variant(product.variants[variant].id),
                product: product_index,
                variant: Some(variant),
            }),
            (Tracking::Variant, None) => Err(format!(
                "Item with {identity} is tracked by variant, please update stock by variant id or the variant's sku"
            )),
        }
    }
}

/// Sets an item's stock at a location and keeps the catalog in step; returns the change.
fn set_on_hand(store: &mut Store, target: Target, location_id: u64, quantity: i64, now: DateTime<Utc>) -> i64 {
    let level = store.levels.entry(target.key).or_default().entry(location_id).or_default();
    let change = quantity - level.on_hand;
    level.on_hand = quantity;
    if location_id == DEFAULT_LOCATION_ID && change != 0 {
        let product = &mut store.products[target.product];
        match target.variant {
            None => {
                product.inventory_level = quantity;
                product.variants.iter_mut().for_each(|variant| variant.inventory_level = quantity);
            }
            Some(variant) => {
                product.variants[variant].inventory_level = quantity;
                product.inventory_level = product.variants.iter().map(|variant| variant.inventory_level).sum();
            }
        }
        product.date_modified = Some(iso(now));
    }
    change
}

fn on_hand(store: &Store, key: ItemKey, location_id: u64) -> i64 {
    store.levels.get(&key).and_then(|levels| levels.get(&location_id)).map_or(0, |level| level.on_hand)
}

/// The callbacks one change sends: `(scope, data)`.
fn change_events(
    store: &Store,
    target: Target,
    location_id: u64,
    change: i64,
    by_order: bool,
) -> Vec<(String, EventData)> {
    let product = &store.products[target.product];
    let method = if by_order { "relative" } else { "absolute" };
    let (family, data) = match target.variant {
        None => (
            "product",
            EventData {
                kind: "product",
                id: product.id,
                location_id: Some(location_id),
                inventory: Some(InventoryChange { product_id: product.id, method, value: change, variant_id: None }),
            },
        ),
        Some(variant) => {
            let variant = &product.variants[variant];
            (
                "sku",
                EventData {
                    kind: "sku",
                    id: sku_id(product, variant).unwrap_or(variant.id),
                    location_id: Some(location_id),
                    inventory: Some(InventoryChange {
                        product_id: product.id,
                        method,
                        value: change,
                        variant_id: Some(variant.id),
                    }),
                },
            )
        }
    };
    let mut events = vec![(format!("store/{family}/inventory/updated"), data.clone())];
    if by_order {
        events.push((format!("store/{family}/inventory/order/updated"), data));
    }
    events
}

fn record_transaction(store: &mut Store, transaction: InventoryTransaction) {
    if store.transactions.len() == TRANSACTION_LOG {
        store.transactions.pop_front();
    }
    store.transactions.push_back(transaction);
}

/// Takes a placed order's quantities off the default location; returns the callbacks to send.
pub(crate) fn apply_order(store: &mut Store, order: &Order, now: DateTime<Utc>) -> Vec<(String, EventData)> {
    if order.status_id == 0 {
        return Vec::new();
    }
    let catalog = Catalog::of(store);
    let mut events = Vec::new();
    for line in &order.products {
        let identities = [
            line.variant_id.map(Identity::Variant),
            (!line.sku.is_empty()).then(|| Identity::Sku(line.sku.clone())),
            (line.product_id != 0).then_some(Identity::Product(line.product_id)),
        ];
        let Some(target) =
            identities.iter().flatten().find_map(|identity| catalog.resolve(store, identity, false).ok())
        else {
            continue;
        };
        let before = on_hand(store, target.key, DEFAULT_LOCATION_ID);
        let after = (before - i64::from(line.quantity)).max(0);
        let change = set_on_hand(store, target, DEFAULT_LOCATION_ID, after, now);
        if change != 0 {
            events.extend(change_events(store, target, DEFAULT_LOCATION_ID, change, true));
        }
    }
    events
}

// ---- GET /v3/inventory/locations ----------------------------------------------------------------

/// `GET /stores/{hash}/v3/inventory/locations`.
pub(super) async fn list_locations(
    State(double): State<Arc<BigCommerce>>,
    Extension(caller): Extension<Caller>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let mut invalid = Map::new();
    let (page, limit) = paging(&params, DEFAULT_PAGE_SIZE, MAX_LOCATIONS_PAGE_SIZE, &mut invalid);
    let ids = id_list(&params, "location_id:in", &mut invalid);
    let codes = text_list(&params, "location_code:in");
    let active = match params.get("is_active").map(String::as_str) {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => {
            invalid.insert("is_active".to_owned(), json!("must be a boolean"));
            None
        }
    };
    if !invalid.is_empty() {
        return unprocessable("The filter(s) are not valid.", invalid);
    }
    let state = lock(&double.state);
    let Some(store) = state.stores.get(&caller.store_hash) else {
        return error(ApiVersion::V3, StatusCode::NOT_FOUND, "Store not found.");
    };
    let locations: Vec<&InventoryLocation> = store
        .locations
        .iter()
        .filter(|location| {
            ids.as_ref().is_none_or(|ids| ids.contains(&location.id))
                && codes.as_ref().is_none_or(|codes| codes.contains(&location.code))
                && active.is_none_or(|active| location.enabled == active)
        })
        .collect();
    let data = page_slice(&locations, page, limit).iter().map(|location| location.render()).collect();
    reply::json(StatusCode::OK, &page_body(data, locations.len(), page, limit))
}

// ---- GET /v3/inventory/items --------------------------------------------------------------------

/// An inventory item as the items list shows it.
struct Item<'a> {
    key: ItemKey,
    product: &'a Product,
    variant: Option<&'a Variant>,
}

impl Item<'_> {
    fn sku(&self) -> &str {
        self.variant.map_or(self.product.sku.as_str(), |variant| variant.sku.as_str())
    }

    fn variant_id(&self) -> Option<u64> {
        match self.variant {
            Some(variant) => Some(variant.id),
            None => base_variant_id(self.product),
        }
    }

    fn sku_id(&self) -> Option<u64> {
        self.variant.and_then(|variant| sku_id(self.product, variant))
    }
}

/// Every tracked item of the store, by product id, then variant id.
fn items(store: &Store) -> Vec<Item<'_>> {
    let mut products: Vec<&Product> = store.products.iter().collect();
    products.sort_by_key(|product| product.id);
    let mut items = Vec::new();
    for product in products {
        match tracking(product) {
            Tracking::None => {}
            Tracking::Product => items.push(Item { key: ItemKey::Product(product.id), product, variant: None }),
            Tracking::Variant => {
                let mut variants: Vec<&Variant> = product.variants.iter().collect();
                variants.sort_by_key(|variant| variant.id);
                items.extend(variants.into_iter().map(|variant| Item {
                    key: ItemKey::Variant(variant.id),
                    product,
                    variant: Some(variant),
                }));
            }
        }
    }
    items
}

fn render_item(store: &Store, item: &Item<'_>, locations: &[&InventoryLocation]) -> Value {
    let levels = store.levels.get(&item.key);
    let at: Vec<Value> = locations
        .iter()
        .map(|location| {
            let level = levels.and_then(|levels| levels.get(&location.id)).cloned().unwrap_or_default();
            json!({
                "location_id": location.id,
                "location_code": location.code,
                "location_name": location.label,
                "available_to_sell": level.available(),
                "total_inventory_onhand": level.on_hand,
                "location_enabled": location.enabled,
                "settings": {
                    "safety_stock": level.safety_stock,
                    "is_in_stock": level.is_in_stock,
                    "warning_level": level.warning_level,
                    "bin_picking_number": level.bin_picking_number,
                },
            })
        })
        .collect();
    json!({
        "identity": {
            "sku": item.sku(),
            "variant_id": item.variant_id(),
            "product_id": item.product.id,
            "sku_id": item.sku_id(),
        },
        "locations": at,
    })
}

/// `GET /stores/{hash}/v3/inventory/items`.
pub(super) async fn list_items(
    State(double): State<Arc<BigCommerce>>,
    Extension(caller): Extension<Caller>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let mut invalid = Map::new();
    let (page, limit) = paging(&params, DEFAULT_PAGE_SIZE, MAX_ITEMS_PAGE_SIZE, &mut invalid);
    let variant_ids = id_list(&params, "variant_id:in", &mut invalid);
    let product_ids = id_list(&params, "product_id:in", &mut invalid);
    let location_ids = id_list(&params, "location_id:in", &mut invalid);
    if !invalid.is_empty() {
        return unprocessable("The filter(s) are not valid.", invalid);
    }
    let skus: Option<HashSet<String>> = text_list(&params, "sku:in").map(|skus| skus.into_iter().collect());
    let location_codes = text_list(&params, "location_code:in");
    let state = lock(&double.state);
    let Some(store) = state.stores.get(&caller.store_hash) else {
        return error(ApiVersion::V3, StatusCode::NOT_FOUND, "Store not found.");
    };
    let locations: Vec<&InventoryLocation> = store
        .locations
        .iter()
        .filter(|location| {
            location_ids.as_ref().is_none_or(|ids| ids.contains(&location.id))
                && location_codes.as_ref().is_none_or(|codes| codes.contains(&location.code))
        })
        .collect();
    let matching: Vec<Item<'_>> = items(store)
        .into_iter()
        .filter(|item| {
            skus.as_ref().is_none_or(|skus| skus.contains(item.sku()))
                && variant_ids.as_ref().is_none_or(|ids| item.variant_id().is_some_and(|id| ids.contains(&id)))
                && product_ids.as_ref().is_none_or(|ids| ids.contains(&item.product.id))
        })
        .collect();
    let data = page_slice(&matching, page, limit).iter().map(|item| render_item(store, item, &locations)).collect();
    reply::json(StatusCode::OK, &page_body(data, matching.len(), page, limit))
}

// ---- PUT /v3/inventory/adjustments/absolute -----------------------------------------------------

/// One checked row of an absolute adjustment.
#[derive(Debug, Clone)]
struct Row {
    location_id: u64,
    identity: Identity,
    quantity: i64,
}

fn expected(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "error.expected.jsnumber",
        _ => "error.expected.jsstring",
    }
}

/// Checks the body's shape; the error is the response to send.
fn parse_adjustment(body: &[u8]) -> Result<(Option<String>, Vec<Row>), Response> {
    let Ok(document) = serde_json::from_slice::<Value>(body) else {
        return Err(error(ApiVersion::V3, StatusCode::BAD_REQUEST, "Input is invalid."));
    };
    let mut errors = Map::new();
    let Value::Object(document) = document else {
        errors.insert("$".to_owned(), json!("error.expected.jsobject"));
        return Err(unprocessable("JSON data is missing or invalid", errors));
    };
    let reason = match document.get("reason") {
        None | Some(Value::Null) => None,
        Some(Value::String(reason)) => Some(reason.clone()),
        Some(_) => {
            errors.insert("reason".to_owned(), json!("error.expected.jsstring"));
            None
        }
    };
    let items = match document.get("items") {
        Some(Value::Array(items)) => items,
        Some(_) => {
            errors.insert("items".to_owned(), json!("error.expected.jsarray"));
            return Err(unprocessable("JSON data is missing or invalid", errors));
        }
        None => {
            errors.insert("items".to_owned(), json!("error.path.missing."));
            return Err(unprocessable("JSON data is missing or invalid", errors));
        }
    };
    if items.len() > MAX_ADJUSTMENT_ITEMS {
        errors.insert(
            "items".to_owned(),
            json!(format!("{} items were sent; the limit is {MAX_ADJUSTMENT_ITEMS} per request", items.len())),
        );
        return Err(unprocessable(&format!("Limit of {MAX_ADJUSTMENT_ITEMS} items for payload length"), errors));
    }
    if items.is_empty() {
        errors.insert("items".to_owned(), json!("at least one item is required"));
        return Err(unprocessable("JSON data is missing or invalid", errors));
    }
    let mut rows = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let at = |field: &str| format!("items.{index}.{field}");
        let Value::Object(item) = item else {
            errors.insert(format!("items.{index}"), json!("error.expected.jsobject"));
            continue;
        };
        let location_id = match item.get("location_id") {
            Some(value) => match value.as_u64().filter(|id| *id > 0) {
                Some(id) => Some(id),
                None => {
                    errors.insert(at("location_id"), json!("must be a positive integer"));
                    None
                }
            },
            None => {
                errors.insert(at("location_id"), json!("error.path.missing."));
                None
            }
        };
        let mut identities = Vec::new();
        for field in ["sku", "variant_id", "product_id"] {
            let Some(value) = item.get(field).filter(|value| !value.is_null()) else { continue };
            let identity = match (field, value) {
                ("sku", Value::String(sku)) if !sku.is_empty() => Some(Identity::Sku(sku.clone())),
                ("variant_id", value) => value.as_u64().map(Identity::Variant),
                ("product_id", value) => value.as_u64().map(Identity::Product),
                _ => None,
            };
            match identity {
                Some(identity) => identities.push(identity),
                None if field == "sku" => {
                    errors.insert(at(field), json!("must be a non-empty string"));
                }
                None => {
                    errors.insert(at(field), json!(expected(value)));
                }
            }
        }
        if identities.len() > 1 {
            errors.insert(format!("items.{index}"), json!("only one of sku, variant_id or product_id may be given"));
        }
        let no_identity = identities.is_empty()
            && !["sku", "variant_id", "product_id"].iter().any(|field| errors.contains_key(&at(field)));
        if no_identity {
            errors.insert(format!("items.{index}"), json!("one of sku, variant_id or product_id is required"));
        }
        let quantity = match item.get("quantity") {
            None => {
                errors.insert(at("quantity"), json!("error.path.missing."));
                None
            }
            Some(value) => match value.as_i64() {
                Some(quantity) if (0..=MAX_QUANTITY).contains(&quantity) => Some(quantity),
                _ if value.is_number() && (value.is_i64() || value.is_u64()) => {
                    errors.insert(at("quantity"), json!(format!("must be between 0 and {MAX_QUANTITY}")));
                    None
                }
                _ if value.is_number() => {
                    errors.insert(at("quantity"), json!("must be an integer"));
                    None
                }
                _ => {
                    errors.insert(at("quantity"), json!(expected(value)));
                    None
                }
            },
        };
        if let (Some(location_id), [identity], Some(quantity)) = (location_id, identities.as_slice(), quantity) {
            rows.push(Row { location_id, identity: identity.clone(), quantity });
        }
    }
    if !errors.is_empty() {
        return Err(unprocessable("Payload contains invalid fields", errors));
    }
    Ok((reason, rows))
}

/// Finds each row's item and checks its location; all problems in row order, or the targets.
fn resolve_rows(store: &Store, rows: &[Row]) -> Result<Vec<Target>, Vec<String>> {
    let catalog = Catalog::of(store);
    let mut problems = Vec::new();
    let mut targets = Vec::with_capacity(rows.len());
    for row in rows {
        match catalog.resolve(store, &row.identity, true) {
            Ok(target) => targets.push(target),
            Err(problem) => problems.push(problem),
        }
        match store.locations.iter().find(|location| location.id == row.location_id) {
            None => problems.push(format!("Location with id {} does not exist", row.location_id)),
            Some(location) if !location.enabled => {
                problems.push(format!("Location with id {} is disabled", row.location_id));
            }
            Some(_) => {}
        }
    }
    if problems.is_empty() { Ok(targets) } else { Err(problems) }
}

/// `PUT /stores/{hash}/v3/inventory/adjustments/absolute`.
pub(super) async fn absolute_adjustment(
    State(double): State<Arc<BigCommerce>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    let (reason, rows) = match parse_adjustment(&body) {
        Ok(parsed) => parsed,
        Err(response) => return response,
    };
    let now = double.common.clock.now();
    let transaction_id = uuid::Uuid::new_v4().to_string();
    let events = {
        let mut state = lock(&double.state);
        let Some(store) = state.stores.get_mut(&caller.store_hash) else {
            return error(ApiVersion::V3, StatusCode::NOT_FOUND, "Store not found.");
        };
        let targets = match resolve_rows(store, &rows) {
            Ok(targets) => targets,
            Err(problems) => {
                // The shape of the spec's example: the messages in the title, `errors` empty.
                return unprocessable(&format!("[{}]", problems.join(", ")), Map::new());
            }
        };
        let mut events = Vec::new();
        let mut changed = 0;
        for (row, target) in rows.iter().zip(targets) {
            let change = set_on_hand(store, target, row.location_id, row.quantity, now);
            if change != 0 {
                changed += 1;
                events.extend(change_events(store, target, row.location_id, change, false));
            }
        }
        record_transaction(
            store,
            InventoryTransaction {
                transaction_id: transaction_id.clone(),
                time: iso(now),
                source: "api",
                reason,
                items: rows.len(),
                changed,
            },
        );
        events
    };
    double.send_events(&caller.store_hash, &events);
    reply::json(StatusCode::OK, &json!({ "transaction_id": transaction_id }))
}

// ---- control endpoints ----------------------------------------------------------------------

/// The BigCommerce double's catalog and inventory control endpoints (mounted under `/__control/`).
pub(super) fn control_routes(double: Arc<BigCommerce>) -> Router {
    Router::new()
        .route("/catalog/generate", post(generate_catalog))
        .route("/inventory", get(dump))
        .route("/inventory/levels", put(set_levels))
        .route("/inventory/locations/{location_id}", put(update_location))
        .with_state(double)
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
struct LevelRange {
    min: u32,
    max: u32,
}

/// The body of `POST /__control/catalog/generate`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogSpec {
    #[serde(default)]
    store_hash: Option<String>,
    /// Variant SKUs `{sku_prefix}00001` ... to create.
    skus: usize,
    #[serde(default)]
    seed: u64,
    #[serde(default = "default_sku_prefix")]
    sku_prefix: String,
    #[serde(default = "default_sku_digits")]
    sku_digits: usize,
    /// The chance that a product is tracked by variant (with 2 to `max_variants` variants); the
    /// others are simple products tracked by product.
    #[serde(default = "default_variant_share")]
    variant_share: f64,
    #[serde(default = "default_max_variants")]
    max_variants: usize,
    /// The chance that a product tracks no inventory at all.
    #[serde(default)]
    untracked_share: f64,
    /// Stock at the default location of each item, uniform in the range (default 0 to 100).
    #[serde(default)]
    inventory_level: Option<LevelRange>,
    /// Ids count up from these (default: after the store's highest).
    #[serde(default)]
    first_product_id: Option<u64>,
    #[serde(default)]
    first_variant_id: Option<u64>,
}

fn default_sku_prefix() -> String {
    "GEN-".to_owned()
}

fn default_sku_digits() -> usize {
    5
}

fn default_variant_share() -> f64 {
    0.25
}

fn default_max_variants() -> usize {
    4
}

/// Builds the products a [`CatalogSpec`] asks for; the same seed on the same store gives the same
/// catalog (dates aside).
fn generate(store: &mut Store, spec: &CatalogSpec, now: DateTime<Utc>) -> Result<Value, String> {
    if spec.skus == 0 || spec.skus > MAX_GENERATED_SKUS {
        return Err(format!("skus must be between 1 and {MAX_GENERATED_SKUS}"));
    }
    let share = |value: f64| (0.0..=1.0).contains(&value);
    if !share(spec.variant_share) || !share(spec.untracked_share) {
        return Err("variant_share and untracked_share must be between 0 and 1".to_owned());
    }
    if spec.max_variants < 2 {
        return Err("max_variants must be at least 2".to_owned());
    }
    let range = spec.inventory_level.unwrap_or(LevelRange { min: 0, max: 100 });
    if range.min > range.max {
        return Err("inventory_level.min must not exceed inventory_level.max".to_owned());
    }
    let highest_variant =
        store.products.iter().flat_map(|product| product.variants.iter().map(|variant| variant.id)).max().unwrap_or(0);
    let first_product_id =
        spec.first_product_id.unwrap_or_else(|| store.products.iter().map(|p| p.id).max().unwrap_or(0) + 1);
    let first_variant_id = spec.first_variant_id.unwrap_or(highest_variant + 1);
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let sku = |n: usize| format!("{}{n:0width$}", spec.sku_prefix, width = spec.sku_digits);
    let stamp = iso(now);
    let (mut next_product, mut next_variant) = (first_product_id, first_variant_id);
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut products = Vec::new();
    let mut n = 1;
    while n <= spec.skus {
        let remaining = spec.skus - n + 1;
        let untracked = rng.random::<f64>() < spec.untracked_share;
        let by_variant = rng.random::<f64>() < spec.variant_share && remaining >= 2;
        let variant_count = if by_variant { rng.random_range(2..=spec.max_variants).min(remaining) } else { 1 };
        let tracking = match (untracked, by_variant) {
            (true, _) => "none",
            (false, true) => "variant",
            (false, false) => "product",
        };
        let product_id = next_product;
        next_product += 1;
        let variants: Vec<Value> = (0..variant_count)
            .map(|k| {
                let id = next_variant;
                next_variant += 1;
                let level = rng.random_range(range.min..=range.max);
                let mut variant = json!({"id": id, "sku": sku(n + k), "inventory_level": level});
                if variant_count > 1 {
                    variant["option_values"] =
                        json!([{"label": format!("Option {}", k + 1), "option_display_name": "Size"}]);
                }
                variant
            })
            .collect();
        let product_sku = if variant_count == 1 {
            sku(n)
        } else {
            format!("{}P{product_id:0width$}", spec.sku_prefix, width = spec.sku_digits)
        };
        let level = if tracking == "product" { rng.random_range(range.min..=range.max) } else { 0 };
        let price = f64::from(rng.random_range(100_u32..10_000)) / 100.0;
        let product = json!({
            "id": product_id, "name": format!("Generated product {product_id}"), "sku": product_sku, "price": price,
            "inventory_tracking": tracking, "inventory_level": level, "variants": variants,
            "date_created": stamp, "date_modified": stamp,
        });
        let mut product: Product = serde_json::from_value(product).map_err(|error| error.to_string())?;
        for variant in &mut product.variants {
            variant.product_id = product_id;
        }
        *counts.entry(tracking).or_default() += 1;
        products.push(product);
        n += variant_count;
    }

    let taken_skus: HashSet<&str> = store
        .products
        .iter()
        .flat_map(|product| {
            std::iter::once(product.sku.as_str()).chain(product.variants.iter().map(|v| v.sku.as_str()))
        })
        .collect();
    let taken_products: HashSet<u64> = store.products.iter().map(|product| product.id).collect();
    let taken_variants: HashSet<u64> =
        store.products.iter().flat_map(|product| product.variants.iter().map(|variant| variant.id)).collect();
    for product in &products {
        if taken_products.contains(&product.id) {
            return Err(format!("product id {} is taken; give another first_product_id", product.id));
        }
        for variant in &product.variants {
            if taken_variants.contains(&variant.id) {
                return Err(format!("variant id {} is taken; give another first_variant_id", variant.id));
            }
            if taken_skus.contains(variant.sku.as_str()) || taken_skus.contains(product.sku.as_str()) {
                return Err(format!("SKU {} exists in the store; reset first or give another sku_prefix", variant.sku));
            }
        }
    }
    let count = products.len();
    let ids: Vec<u64> = products.iter().map(|product| product.id).collect();
    store.products.extend(products);
    for id in ids {
        seed_product_levels(store, id, now);
    }
    Ok(json!({
        "store_hash": store.store_hash,
        "products": count,
        "skus": spec.skus,
        "product_tracked": counts.get("product").copied().unwrap_or(0),
        "variant_tracked": counts.get("variant").copied().unwrap_or(0),
        "untracked": counts.get("none").copied().unwrap_or(0),
        "first_product_id": first_product_id,
        "last_product_id": next_product - 1,
        "first_variant_id": first_variant_id,
        "last_variant_id": next_variant - 1,
        "first_sku": sku(1),
        "last_sku": sku(spec.skus),
    }))
}

/// `POST /__control/catalog/generate`.
async fn generate_catalog(
    State(double): State<Arc<BigCommerce>>,
    Json(body): Json<Value>,
) -> Result<Response, ControlError> {
    let spec: CatalogSpec = control::parse("catalog generator", body)?;
    let now = double.common.clock.now();
    let mut state = lock(&double.state);
    let store = pick_store(&mut state.stores, spec.store_hash.as_deref())?;
    let summary = generate(store, &spec, now).map_err(ControlError::bad_request)?;
    Ok((StatusCode::CREATED, Json(summary)).into_response())
}

/// The body of `PUT /__control/inventory/locations/{id}` (the fields are checked as a
/// [`LocationSeed`], so unknown ones are refused there).
#[derive(Debug, Deserialize)]
struct LocationChange {
    #[serde(default)]
    store_hash: Option<String>,
    #[serde(flatten)]
    fields: Map<String, Value>,
}

/// `PUT /__control/inventory/locations/{id}`: change a location (`enabled`, `code`, `label`, ...).
async fn update_location(
    State(double): State<Arc<BigCommerce>>,
    Path(raw_id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ControlError> {
    let change: LocationChange = control::parse("location change", body)?;
    let now = double.common.clock.now();
    let mut state = lock(&double.state);
    let store = pick_store(&mut state.stores, change.store_hash.as_deref())?;
    let id = raw_id.parse::<u64>().ok().filter(|id| store.locations.iter().any(|location| location.id == *id));
    let Some(id) = id else {
        return Err(ControlError::not_found(format!("no location {raw_id}; add locations with the seed")));
    };
    let mut fields = change.fields;
    fields.insert("id".to_owned(), json!(id));
    let seed: LocationSeed = control::parse("location change", Value::Object(fields))?;
    seed_location(store, seed, now).map_err(ControlError::bad_request)?;
    let location = store.locations.iter().find(|location| location.id == id).map(InventoryLocation::render);
    Ok(Json(location.unwrap_or_default()))
}

/// One row of `PUT /__control/inventory/levels`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LevelChange {
    #[serde(default = "default_location")]
    location_id: u64,
    #[serde(default)]
    sku: Option<String>,
    #[serde(default)]
    variant_id: Option<u64>,
    #[serde(default)]
    product_id: Option<u64>,
    quantity: i64,
    #[serde(default)]
    safety_stock: Option<i64>,
    #[serde(default)]
    warning_level: Option<i64>,
    #[serde(default)]
    is_in_stock: Option<bool>,
    #[serde(default)]
    bin_picking_number: Option<String>,
}

fn default_location() -> u64 {
    DEFAULT_LOCATION_ID
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LevelsRequest {
    #[serde(default)]
    store_hash: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    items: Vec<LevelChange>,
}

/// `PUT /__control/inventory/levels`: someone edits stock in the control panel. Items are named
/// like the Inventory API's rows, leniently (a variant of a product tracked by product sets the
/// product's stock); each change sends the inventory callbacks (`method: absolute`).
async fn set_levels(
    State(double): State<Arc<BigCommerce>>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ControlError> {
    let request: LevelsRequest = control::parse("levels", body)?;
    let now = double.common.clock.now();
    let (store_hash, events, transaction_id, changed) = {
        let mut state = lock(&double.state);
        let store = pick_store(&mut state.stores, request.store_hash.as_deref())?;
        let catalog = Catalog::of(store);
        let mut planned = Vec::new();
        for (index, item) in request.items.iter().enumerate() {
            let identities: Vec<Identity> = [
                item.sku.clone().map(Identity::Sku),
                item.variant_id.map(Identity::Variant),
                item.product_id.map(Identity::Product),
            ]
            .into_iter()
            .flatten()
            .collect();
            let [identity] = identities.as_slice() else {
                return Err(ControlError::bad_request(format!(
                    "items[{index}]: give one of sku, variant_id, product_id"
                )));
            };
            if !(0..=MAX_QUANTITY).contains(&item.quantity) || item.safety_stock.is_some_and(|stock| stock < 0) {
                return Err(ControlError::bad_request(format!(
                    "items[{index}]: quantity must be between 0 and {MAX_QUANTITY}, safety_stock at least 0"
                )));
            }
            if !store.locations.iter().any(|location| location.id == item.location_id) {
                return Err(ControlError::bad_request(format!("items[{index}]: no location {}", item.location_id)));
            }
            let target = catalog
                .resolve(store, identity, false)
                .map_err(|problem| ControlError::bad_request(format!("items[{index}]: {problem}")))?;
            planned.push((item, target));
        }
        let mut events = Vec::new();
        let mut changed = 0;
        for (item, target) in planned {
            let change = set_on_hand(store, target, item.location_id, item.quantity, now);
            let level = store.levels.entry(target.key).or_default().entry(item.location_id).or_default();
            if let Some(stock) = item.safety_stock {
                level.safety_stock = stock;
            }
            if let Some(warning) = item.warning_level {
                level.warning_level = warning;
            }
            if let Some(in_stock) = item.is_in_stock {
                level.is_in_stock = in_stock;
            }
            if let Some(bin) = &item.bin_picking_number {
                level.bin_picking_number = bin.clone();
            }
            if change != 0 {
                changed += 1;
                events.extend(change_events(store, target, item.location_id, change, false));
            }
        }
        let transaction_id = uuid::Uuid::new_v4().to_string();
        record_transaction(
            store,
            InventoryTransaction {
                transaction_id: transaction_id.clone(),
                time: iso(now),
                source: "control",
                reason: request.reason.clone(),
                items: request.items.len(),
                changed,
            },
        );
        (store.store_hash.clone(), events, transaction_id, changed)
    };
    let deliveries = double.send_events(&store_hash, &events);
    Ok(Json(json!({ "transaction_id": transaction_id, "changed": changed, "deliveries": deliveries })))
}

#[derive(Debug, Deserialize)]
struct DumpParams {
    #[serde(default)]
    store_hash: Option<String>,
    #[serde(default)]
    sku: Option<String>,
}

/// `GET /__control/inventory[?store_hash=][&sku=]`: the store's locations, every tracked item with
/// its level at every location, and the latest transactions.
async fn dump(
    State(double): State<Arc<BigCommerce>>,
    Query(params): Query<DumpParams>,
) -> Result<Json<Value>, ControlError> {
    let mut state = lock(&double.state);
    let store = pick_store(&mut state.stores, params.store_hash.as_deref())?;
    let items: Vec<Value> = items(store)
        .iter()
        .filter(|item| params.sku.as_deref().is_none_or(|sku| sku == item.sku()))
        .map(|item| {
            let stored = store.levels.get(&item.key);
            let levels: Map<String, Value> = store
                .locations
                .iter()
                .map(|location| {
                    let level = stored.and_then(|levels| levels.get(&location.id)).cloned().unwrap_or_default();
                    let shown = json!({
                        "on_hand": level.on_hand,
                        "safety_stock": level.safety_stock,
                        "available_to_sell": level.available(),
                        "is_in_stock": level.is_in_stock,
                    });
                    (location.id.to_string(), shown)
                })
                .collect();
            json!({
                "sku": item.sku(),
                "product_id": item.product.id,
                "variant_id": item.variant.map(|variant| variant.id),
                "tracking": if item.variant.is_some() { "variant" } else { "product" },
                "levels": levels,
            })
        })
        .collect();
    Ok(Json(json!({
        "store_hash": store.store_hash,
        "locations": store.locations.iter().map(InventoryLocation::render).collect::<Vec<_>>(),
        "items": items,
        "transactions": store.transactions,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Store {
        let mut store = Store::new("s", Utc::now());
        let products: Vec<Product> = serde_json::from_value(json!([
            {"id": 1, "name": "Bolt", "sku": "BOLT", "inventory_tracking": "product", "inventory_level": 5,
             "variants": [{"id": 10, "sku": "BOLT"}]},
            {"id": 2, "name": "Bracket", "sku": "BRKT", "inventory_tracking": "variant",
             "variants": [{"id": 20, "sku": "BRKT-ZN", "inventory_level": 3}, {"id": 21, "sku": "BRKT-SS", "inventory_level": 4}]},
            {"id": 3, "name": "Sticker", "sku": "STK", "variants": [{"id": 30, "sku": "STK"}]}
        ]))
        .unwrap();
        store.products = products;
        for id in [1, 2, 3] {
            seed_product_levels(&mut store, id, Utc::now());
        }
        store
    }

    fn rows(items: Value) -> Result<Vec<Row>, Response> {
        parse_adjustment(json!({"reason": "test", "items": items}).to_string().as_bytes()).map(|(_, rows)| rows)
    }

    #[test]
    fn seeding_makes_the_catalog_agree_with_the_tracking_mode() {
        let store = store();
        assert_eq!(store.products[1].inventory_level, 7, "a product tracked by variant shows the sum");
        assert_eq!(store.products[0].variants[0].inventory_level, 5, "its base variant shows the product's level");
        assert_eq!(on_hand(&store, ItemKey::Variant(21), DEFAULT_LOCATION_ID), 4);
        assert!(!store.levels.contains_key(&ItemKey::Product(3)), "untracked products hold no stock");
    }

    #[test]
    fn the_api_refuses_variants_of_products_tracked_by_product_but_the_control_panel_takes_them() {
        let store = store();
        let catalog = Catalog::of(&store);
        let strict = catalog.resolve(&store, &Identity::Variant(10), true).unwrap_err();
        assert_eq!(strict, "Item with variant_id 10 is tracked by product, please update stock by product id");
        assert!(catalog.resolve(&store, &Identity::Sku("BOLT".to_owned()), true).is_err());
        assert_eq!(catalog.resolve(&store, &Identity::Variant(10), false).unwrap().key, ItemKey::Product(1));
        assert_eq!(
            catalog.resolve(&store, &Identity::Sku("BRKT-SS".to_owned()), true).unwrap().key,
            ItemKey::Variant(21)
        );
        assert!(catalog.resolve(&store, &Identity::Product(2), true).unwrap_err().contains("tracked by variant"));
        assert!(catalog.resolve(&store, &Identity::Product(3), true).unwrap_err().contains("does not track"));
        assert!(
            catalog.resolve(&store, &Identity::Sku("NOPE".to_owned()), true).unwrap_err().contains("does not exist")
        );
    }

    #[test]
    fn rows_need_a_location_one_identity_and_a_quantity_in_range() {
        assert_eq!(rows(json!([{"location_id": 1, "sku": "A", "quantity": MAX_QUANTITY}])).unwrap().len(), 1);
        for bad in [
            json!([{"sku": "A", "quantity": 1}]),
            json!([{"location_id": 1, "quantity": 1}]),
            json!([{"location_id": 1, "sku": "A", "product_id": 2, "quantity": 1}]),
            json!([{"location_id": 1, "sku": "A", "quantity": -1}]),
            json!([{"location_id": 1, "sku": "A", "quantity": MAX_QUANTITY + 1}]),
            json!([{"location_id": 1, "sku": "A", "quantity": 1.5}]),
            json!([{"location_id": 1, "sku": "A", "quantity": "1"}]),
            json!([]),
        ] {
            assert!(rows(bad.clone()).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn writes_at_the_default_location_reach_the_catalog() {
        let mut store = store();
        let catalog = Catalog::of(&store);
        let target = catalog.resolve(&store, &Identity::Variant(20), true).unwrap();
        assert_eq!(set_on_hand(&mut store, target, DEFAULT_LOCATION_ID, 10, Utc::now()), 7);
        assert_eq!(store.products[1].inventory_level, 14);
        assert_eq!(set_on_hand(&mut store, target, 2, 50, Utc::now()), 50);
        assert_eq!(store.products[1].inventory_level, 14, "other locations do not show in the catalog");
    }
}
