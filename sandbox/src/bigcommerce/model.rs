//! The BigCommerce double's data: stores, their API accounts, catalog and webhooks, and the seed
//! document that fills them.
//!
//! Seed format (`POST /__control/seed`), every list optional; seeding an existing store merges into it
//! (API accounts by `client_id`, products and hooks by `id`):
//!
//! ```json
//! {"stores": [{"store_hash": "abc123", "store_id": 1001, "info": {"name": "..."},
//!   "api_accounts": [{"client_id": "...", "access_token": "...", "client_secret": "..."}],
//!   "products": [{"id": 1, "name": "...", "sku": "...", "price": 1.5, "inventory_tracking": "variant",
//!                 "inventory_level": 3, "variants": [{"id": 2, "sku": "...", "inventory_level": 3}]}],
//!   "hooks": [{"scope": "store/order/created", "destination": "https://...", "is_active": true}]}]}
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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
    pub hooks: Vec<HookSeed>,
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
    /// The store's request quota; BigCommerce shares it between every app on the store.
    pub window: FixedWindow,
}

impl Store {
    pub(crate) fn account_for_token(&self, token: &str) -> Option<&ApiAccount> {
        self.api_accounts.iter().find(|account| account.access_token == token)
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
            "hooks": hooks,
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
