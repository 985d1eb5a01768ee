//! The BigCommerce double's data: stores, their API accounts, catalog, orders and webhooks, and the
//! seed document that fills them.
//!
//! Seed format (`POST /__control/seed`), every list optional; seeding an existing store merges into it
//! (API accounts by `client_id`, products, hooks and orders by `id`):
//!
//! ```json
//! {"stores": [{"store_hash": "abc123", "store_id": 1001, "info": {"name": "..."},
//!   "api_accounts": [{"client_id": "...", "access_token": "...", "client_secret": "..."}],
//!   "products": [{"id": 1, "name": "...", "sku": "...", "price": 1.5, "inventory_tracking": "variant",
//!                 "inventory_level": 3, "variants": [{"id": 2, "sku": "...", "inventory_level": 3}]}],
//!   "locations": [{"id": 2, "code": "WH-EAST", "label": "East warehouse", "enabled": true}],
//!   "hooks": [{"scope": "store/order/created", "destination": "https://...", "is_active": true}],
//!   "webhook_signing": {"custom_headers": true, "standard_webhooks": true, "x_bc_signature": "off"},
//!   "orders": [{"id": 100, "status_id": 11, "customer_id": 0, "currency_code": "USD",
//!               "billing_address": {"first_name": "...", "street_1": "...", "country_iso2": "US", ...},
//!               "shipping_addresses": [{"id": 1, "first_name": "...", ..., "shipping_method": "Free Shipping"}],
//!               "products": [{"product_id": 111, "variant_id": 211, "sku": "MW-BOLT-M8", "name": "...",
//!                             "quantity": 100, "price_ex_tax": "0.4500", "order_address_id": 1}],
//!               "customer_message": "...", "date_created": "Tue, 05 Mar 2019 21:40:11 +0000"}]}]}
//! ```
//!
//! An order's `id`, its shipping address ids and its line ids are assigned when left out (the next
//! free number in the store); `status_id` is required and names the status; money is a decimal string
//! or a number and is kept exactly (shown with four decimals, as BigCommerce does); dates are RFC-2822
//! or RFC-3339 and default to the double's clock. A line's `order_address_id` defaults to the order's
//! first shipping address.
//!
//! A product's `inventory_tracking` is `none` (the default), `product` or `variant`; its stock (and
//! each variant's, when tracked by variant) at the default location is `inventory_level`, which the
//! inventory endpoints then keep in step (see `inventory`). Every store has the default location
//! (id 1, `BC-LOCATION-1`, "Default location"); `locations` adds others or changes one by `id`
//! (fields not given stay as they were). `webhook_signing` overrides, for this store, which authenticators the
//! webhook sender adds (see `webhooks`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::inventory::{InventoryLocation, InventoryTransaction, ItemKey, LocationSeed, StockLevel};
use super::webhooks::SigningOverride;
use crate::ratelimit::FixedWindow;
use crate::requestlog::REDACTED;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SeedDocument {
    #[serde(default)]
    pub stores: Vec<StoreSeed>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StoreSeed {
    pub store_hash: String,
    #[serde(default)]
    pub store_id: Option<u64>,
    /// Overrides for fields of `GET /v2/store`.
    #[serde(default)]
    pub info: Map<String, Value>,
    #[serde(default)]
    pub api_accounts: Vec<ApiAccount>,
    #[serde(default)]
    pub products: Vec<Product>,
    #[serde(default)]
    pub locations: Vec<LocationSeed>,
    #[serde(default)]
    pub hooks: Vec<HookSeed>,
    #[serde(default)]
    pub webhook_signing: Option<SigningOverride>,
    #[serde(default)]
    pub orders: Vec<OrderSeed>,
}

/// A store-level API account: the token authenticates, the client id scopes hook visibility, and the
/// client secret is the key webhooks are signed with.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApiAccount {
    pub client_id: String,
    pub access_token: String,
    #[serde(default)]
    pub client_secret: Option<String>,
}

/// A catalog product; fields beyond the ones the double uses are kept and returned as given.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub(crate) struct Product {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub sku: String,
    #[serde(default)]
    pub price: f64,
    /// `none`, `product` or `variant`, as in the catalog API.
    #[serde(default = "default_inventory_tracking")]
    pub inventory_tracking: String,
    #[serde(default)]
    pub inventory_level: i64,
    #[serde(default)]
    pub variants: Vec<Variant>,
    /// ISO 8601; set from the double's clock when seeded without, bumped by stock changes.
    #[serde(default)]
    pub date_created: Option<String>,
    #[serde(default)]
    pub date_modified: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn default_inventory_tracking() -> String {
    "none".to_owned()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub(crate) struct Variant {
    pub id: u64,
    /// Filled in from the parent product when seeding.
    #[serde(default)]
    pub product_id: u64,
    #[serde(default)]
    pub sku: String,
    #[serde(default)]
    pub inventory_level: i64,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HookSeed {
    #[serde(default)]
    pub id: Option<u64>,
    /// The API account that owns the hook; defaults to the store's first account.
    #[serde(default)]
    pub client_id: Option<String>,
    pub scope: String,
    pub destination: String,
    #[serde(default = "default_true")]
    pub is_active: bool,
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub created_at: Option<i64>,
    #[serde(default)]
    pub updated_at: Option<i64>,
}

fn default_true() -> bool {
    true
}

/// A webhook subscription, shaped as `GET /v3/hooks` returns it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Hook {
    pub id: u64,
    pub client_id: String,
    pub store_hash: String,
    pub scope: String,
    pub destination: String,
    pub headers: Option<BTreeMap<String, String>>,
    pub is_active: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One store and everything the double knows about it.
#[derive(Debug, Default)]
pub(crate) struct Store {
    pub store_hash: String,
    pub store_id: u64,
    pub info: Map<String, Value>,
    pub api_accounts: Vec<ApiAccount>,
    pub products: Vec<Product>,
    pub hooks: Vec<Hook>,
    pub orders: Vec<Order>,
    /// This store's choice of webhook authenticators, over the double's configured defaults.
    pub webhook_signing: SigningOverride,
    /// The store's request quota; BigCommerce shares it between every app on the store.
    pub window: FixedWindow,
    /// Inventory locations, the default one (id 1) first.
    pub locations: Vec<InventoryLocation>,
    /// Stock of each tracked item (a product tracked by product, or a variant tracked by
    /// variant) per location id; the catalog's `inventory_level` mirrors the default location.
    pub levels: BTreeMap<ItemKey, BTreeMap<u64, StockLevel>>,
    /// The latest absolute adjustments and hand-set levels, newest last.
    pub transactions: std::collections::VecDeque<InventoryTransaction>,
}

impl Store {
    /// An empty store with the default inventory location.
    pub(crate) fn new(store_hash: &str, now: DateTime<Utc>) -> Store {
        Store {
            store_hash: store_hash.to_owned(),
            locations: vec![InventoryLocation::default_location(now)],
            ..Store::default()
        }
    }

    pub(crate) fn account_for_token(&self, token: &str) -> Option<&ApiAccount> {
        self.api_accounts.iter().find(|account| account.access_token == token)
    }

    pub(crate) fn account(&self, client_id: &str) -> Option<&ApiAccount> {
        self.api_accounts.iter().find(|account| account.client_id == client_id)
    }

    pub(crate) fn order(&self, id: u64) -> Option<&Order> {
        self.orders.iter().find(|order| order.id == id)
    }

    /// The id the next hook gets: hook ids are unique per store, as on the real API.
    pub(crate) fn next_hook_id(&self) -> u64 {
        self.hooks.iter().map(|hook| hook.id).max().unwrap_or(0) + 1
    }

    /// The state dump's view: data as stored, tokens and secrets redacted.
    pub(crate) fn describe(&self) -> Value {
        let accounts: Vec<Value> = self
            .api_accounts
            .iter()
            .map(|account| {
                serde_json::json!({
                    "client_id": account.client_id,
                    "access_token": REDACTED,
                    "client_secret": account.client_secret.as_ref().map(|_| REDACTED),
                })
            })
            .collect();
        // A hook's custom headers usually carry the shared secret the receiver checks.
        let hooks: Vec<Value> = self
            .hooks
            .iter()
            .map(|hook| {
                let mut hook = serde_json::to_value(hook).unwrap_or_default();
                if let Some(Value::Object(headers)) = hook.get_mut("headers") {
                    headers.values_mut().for_each(|value| *value = Value::String(REDACTED.to_owned()));
                }
                hook
            })
            .collect();
        serde_json::json!({
            "store_hash": self.store_hash,
            "store_id": self.store_id,
            "info": self.info,
            "api_accounts": accounts,
            "products": self.products,
            "locations": self.locations,
            "inventory_transactions": self.transactions.len(),
            "hooks": hooks,
            "webhook_signing": self.webhook_signing,
            "orders": self.orders,
        })
    }
}

/// Replaces the item with the same key, or appends it.
pub(crate) fn upsert<T, K: PartialEq>(items: &mut Vec<T>, item: T, key: impl Fn(&T) -> K) {
    match items.iter().position(|existing| key(existing) == key(&item)) {
        Some(index) => items[index] = item,
        None => items.push(item),
    }
}

/// An order as seeded, or as placed through `POST /__control/orders`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OrderSeed {
    #[serde(default)]
    pub id: Option<u64>,
    pub status_id: u32,
    /// 0 for a guest checkout.
    #[serde(default)]
    pub customer_id: u64,
    #[serde(default)]
    pub billing_address: AddressSeed,
    #[serde(default)]
    pub shipping_addresses: Vec<ShippingAddressSeed>,
    #[serde(default)]
    pub products: Vec<OrderProductSeed>,
    #[serde(default = "default_currency")]
    pub currency_code: String,
    #[serde(default)]
    pub customer_message: Option<String>,
    #[serde(default)]
    pub date_created: Option<String>,
    #[serde(default)]
    pub date_modified: Option<String>,
}

fn default_currency() -> String {
    "USD".to_owned()
}

/// An address as a seed gives it. Unknown fields are collected rather than ignored, so seeding can
/// refuse a misspelt one (`stret_1`) instead of silently dropping it.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct AddressSeed {
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    #[serde(default)]
    pub company: String,
    #[serde(default)]
    pub street_1: String,
    #[serde(default)]
    pub street_2: String,
    #[serde(default)]
    pub city: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub zip: String,
    #[serde(default)]
    pub country: String,
    #[serde(default)]
    pub country_iso2: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub form_fields: Vec<Value>,
    #[serde(flatten)]
    pub unknown: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ShippingAddressSeed {
    #[serde(default)]
    pub id: Option<u64>,
    #[serde(default)]
    pub shipping_method: Option<String>,
    #[serde(flatten)]
    pub address: AddressSeed,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OrderProductSeed {
    #[serde(default)]
    pub id: Option<u64>,
    /// 0 for a custom product that is not in the catalog.
    #[serde(default)]
    pub product_id: u64,
    #[serde(default)]
    pub variant_id: Option<u64>,
    #[serde(default)]
    pub sku: String,
    pub name: String,
    pub quantity: u32,
    pub price_ex_tax: Money,
    /// Defaults to `price_ex_tax` (the double charges no tax unless told).
    #[serde(default)]
    pub price_inc_tax: Option<Money>,
    #[serde(default)]
    pub order_address_id: Option<u64>,
}

/// A money amount given as a decimal string (`"0.4500"`, as BigCommerce sends them) or a JSON
/// number; parsed from its text so no binary rounding creeps in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Money(pub Decimal);

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Given {
            Text(String),
            Number(serde_json::Number),
        }
        let text = match Given::deserialize(deserializer)? {
            Given::Text(text) => text,
            Given::Number(number) => number.to_string(),
        };
        text.trim()
            .parse::<Decimal>()
            .or_else(|_| Decimal::from_scientific(text.trim()))
            .map(Money)
            .map_err(|_| serde::de::Error::custom(format!("{text:?} is not a decimal amount")))
    }
}

/// A postal address as the double keeps it (billing, or one shipping destination).
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Address {
    pub first_name: String,
    pub last_name: String,
    pub company: String,
    pub street_1: String,
    pub street_2: String,
    pub city: String,
    pub state: String,
    pub zip: String,
    pub country: String,
    pub country_iso2: String,
    pub phone: String,
    pub email: String,
    pub form_fields: Vec<Value>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ShippingAddress {
    pub id: u64,
    pub address: Address,
    pub shipping_method: String,
}

/// One order line (an "order product").
#[derive(Debug, Clone, Serialize)]
pub(crate) struct OrderProduct {
    pub id: u64,
    pub product_id: u64,
    pub variant_id: Option<u64>,
    pub sku: String,
    pub name: String,
    pub quantity: u32,
    pub price_ex_tax: Decimal,
    pub price_inc_tax: Decimal,
    /// The shipping address (and so the shipping consignment) the line goes to; 0 when the order
    /// has none.
    pub order_address_id: u64,
}

/// An order as the double keeps it; `orders` renders it in the v2 shapes.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Order {
    pub id: u64,
    pub status_id: u32,
    pub customer_id: u64,
    pub billing_address: Address,
    pub shipping_addresses: Vec<ShippingAddress>,
    pub products: Vec<OrderProduct>,
    pub currency_code: String,
    pub customer_message: String,
    pub date_created: DateTime<Utc>,
    pub date_modified: DateTime<Utc>,
}
