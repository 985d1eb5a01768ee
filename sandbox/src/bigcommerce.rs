//! The BigCommerce double: `/stores/{store_hash}/v2/...` and `/stores/{store_hash}/v3/...`.
//!
//! Admission, in the order the real API applies it:
//! 1. A path outside `/stores/{hash}/v2|v3/` is a 404; an unknown store hash is a 404.
//! 2. `X-Auth-Token` must be the access token of one of the store's API accounts, else 401.
//!    (`X-Auth-Client` is deprecated and ignored.)
//! 3. The store's quota (default 150 requests per 30 000 ms window, shared by all its API accounts)
//!    is charged; past it, 429. Every authenticated response carries `X-Rate-Limit-Time-Window-Ms`,
//!    `X-Rate-Limit-Time-Reset-Ms`, `X-Rate-Limit-Requests-Quota` and `X-Rate-Limit-Requests-Left`;
//!    a 429 also has `X-Retry-After` (seconds).
//!
//! Error bodies follow each API generation: v2 answers `[{"status": 404, "message": "..."}]`, v3
//! answers `{"status": 401, "title": "...", "type": "..."}` (both shapes are in the official specs).
//!
//! Endpoints: store information in `api`, orders v2 in `orders`, hooks v3 in `hooks`, catalog v3
//! (products, variants) in `catalog`, inventory v3 (locations, items, absolute adjustments) in
//! `inventory`; the webhook sender and its control endpoints (`/__control/orders`,
//! `/__control/deliveries`) in `webhooks`, the inventory control endpoints in `inventory`.
//! Add new routes in `api_router`.

mod api;
mod catalog;
mod hooks;
mod inventory;
mod model;
mod orders;
mod webhooks;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, put};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::control::{self, ControlError};
use crate::double::{Common, Double, SystemFault};
use crate::ratelimit::{WindowCharge, ceil_seconds, scaled_ms};
use crate::{lock, reply};
use model::{Hook, SeedDocument, Store, upsert};
use webhooks::{Deliveries, WebhookConfig};

/// The `type` every v3 error carries.
const ERROR_TYPE: &str = "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes";

/// Standard and Plus plans: 20 000 requests per hour, counted as 150 per 30 s.
const DEFAULT_QUOTA: u64 = 150;
const DEFAULT_WINDOW_MS: f64 = 30_000.0;

pub(crate) struct BigCommerce {
    common: Common,
    state: Mutex<BigCommerceState>,
    /// The webhook sender's log and counters, apart from `state` so a delivery never waits on an
    /// API request.
    deliveries: Deliveries,
}

#[derive(Debug, Default)]
struct BigCommerceState {
    config: BigCommerceConfig,
    stores: BTreeMap<String, Store>,
}

/// `POST /__control/config` for BigCommerce.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BigCommerceConfig {
    pub rate_limit: QuotaConfig,
    pub webhooks: WebhookConfig,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QuotaConfig {
    /// Requests per window per store.
    pub quota: u64,
    pub window_ms: i64,
}

impl BigCommerceConfig {
    fn defaults(time_scale: f64) -> Self {
        BigCommerceConfig {
            rate_limit: QuotaConfig { quota: DEFAULT_QUOTA, window_ms: scaled_ms(DEFAULT_WINDOW_MS, time_scale) },
            webhooks: WebhookConfig::defaults(time_scale),
        }
    }
}

/// Which generation of the API a path belongs to; it decides the error body shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ApiVersion {
    V2,
    V3,
}

/// Who is calling, put in the request's extensions by the admission middleware.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub store_hash: String,
    pub client_id: String,
}

/// `/stores/{hash}/{v2|v3}/...` split into its parts.
fn parse_store_path(path: &str) -> Option<(&str, ApiVersion)> {
    let rest = path.strip_prefix("/stores/")?;
    let mut segments = rest.splitn(3, '/');
    let store_hash = segments.next().filter(|hash| !hash.is_empty())?;
    let version = match segments.next()? {
        "v2" => ApiVersion::V2,
        "v3" => ApiVersion::V3,
        _ => return None,
    };
    Some((store_hash, version))
}

/// An error body in the shape of the path's API generation.
pub(crate) fn error(version: ApiVersion, status: StatusCode, message: &str) -> Response {
    let body = match version {
        ApiVersion::V2 => json!([{ "status": status.as_u16(), "message": message }]),
        ApiVersion::V3 => json!({ "status": status.as_u16(), "title": message, "type": ERROR_TYPE, "errors": {} }),
    };
    reply::json(status, &body)
}

/// Adds the four `X-Rate-Limit-*` headers BigCommerce sends with every response.
fn rate_limit_headers(response: &mut Response, quota: u64, window_ms: i64, left: u64, reset_in_ms: i64) {
    reply::set_header(response, "x-rate-limit-time-window-ms", window_ms);
    reply::set_header(response, "x-rate-limit-time-reset-ms", reset_in_ms.max(0));
    reply::set_header(response, "x-rate-limit-requests-quota", quota);
    reply::set_header(response, "x-rate-limit-requests-left", left);
}

/// A 429 with the rate-limit headers, `X-Retry-After`, and the generation's error body.
fn too_many_requests(version: ApiVersion, quota: u64, window_ms: i64, reset_in_ms: i64) -> Response {
    let mut response =
        error(version, StatusCode::TOO_MANY_REQUESTS, "Too many requests. Please wait for the quota to refresh.");
    rate_limit_headers(&mut response, quota, window_ms, 0, reset_in_ms);
    reply::set_header(&mut response, "x-retry-after", ceil_seconds(reset_in_ms));
    response
}

impl BigCommerce {
    pub(crate) fn new(time_scale: f64, stopping: watch::Receiver<bool>) -> Self {
        BigCommerce {
            common: Common::new(time_scale, stopping),
            state: Mutex::new(BigCommerceState {
                config: BigCommerceConfig::defaults(time_scale),
                stores: BTreeMap::new(),
            }),
            deliveries: Deliveries::default(),
        }
    }

    /// Store, token and quota checks; see the module docs.
    async fn admit(State(double): State<Arc<Self>>, mut request: Request, next: Next) -> Response {
        let Some((store_hash, version)) = parse_store_path(request.uri().path()) else {
            return error(ApiVersion::V3, StatusCode::NOT_FOUND, "The requested resource was not found.");
        };
        let store_hash = store_hash.to_owned();
        let token = request.headers().get("x-auth-token").and_then(|value| value.to_str().ok()).unwrap_or_default();
        let now_ms = double.common.clock.now_ms();

        let (caller, charge, quota, window_ms) = {
            let mut state = lock(&double.state);
            let QuotaConfig { quota, window_ms } = state.config.rate_limit;
            let Some(store) = state.stores.get_mut(&store_hash) else {
                return error(version, StatusCode::NOT_FOUND, "Store not found.");
            };
            let Some(account) = store.account_for_token(token) else {
                return error(
                    version,
                    StatusCode::UNAUTHORIZED,
                    "Unauthorized - the v3 Auth client ID or token in the request are not a valid combination for this store.",
                );
            };
            let caller = Caller { store_hash: store_hash.clone(), client_id: account.client_id.clone() };
            let charge: WindowCharge = store.window.charge(now_ms, quota, window_ms, 1);
            (caller, charge, quota, window_ms)
        };

        if !charge.allowed {
            return too_many_requests(version, quota, window_ms, charge.reset_in_ms);
        }
        request.extensions_mut().insert(caller);
        request.extensions_mut().insert(version);
        let mut response = next.run(request).await;
        rate_limit_headers(&mut response, quota, window_ms, charge.left, charge.reset_in_ms);
        response
    }
}

impl Double for BigCommerce {
    const NAME: &'static str = "bigcommerce";

    fn common(&self) -> &Common {
        &self.common
    }

    fn api_router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/stores/{store_hash}/v2/store", get(api::store_information))
            .route("/stores/{store_hash}/v2/time", get(api::system_time))
            .route("/stores/{store_hash}/v2/orders", get(orders::list_orders))
            .route("/stores/{store_hash}/v2/orders/count", get(orders::count_orders))
            .route("/stores/{store_hash}/v2/orders/{order_id}", get(orders::get_order))
            .route("/stores/{store_hash}/v2/orders/{order_id}/products", get(orders::order_products))
            .route("/stores/{store_hash}/v2/orders/{order_id}/products/{line_id}", get(orders::order_product))
            .route(
                "/stores/{store_hash}/v2/orders/{order_id}/shipping_addresses",
                get(orders::order_shipping_addresses),
            )
            .route(
                "/stores/{store_hash}/v2/orders/{order_id}/shipping_addresses/{address_id}",
                get(orders::order_shipping_address),
            )
            .route("/stores/{store_hash}/v2/orders/{order_id}/consignments", get(orders::order_consignments))
            .route("/stores/{store_hash}/v3/hooks", get(hooks::list_hooks).post(hooks::create_hook))
            .route(
                "/stores/{store_hash}/v3/hooks/{hook_id}",
                get(hooks::get_hook).put(hooks::update_hook).delete(hooks::delete_hook),
            )
            .route("/stores/{store_hash}/v3/catalog/products", get(catalog::list_products))
            .route("/stores/{store_hash}/v3/catalog/variants", get(catalog::list_variants))
            .route("/stores/{store_hash}/v3/inventory/locations", get(inventory::list_locations))
            .route("/stores/{store_hash}/v3/inventory/items", get(inventory::list_items))
            .route("/stores/{store_hash}/v3/inventory/adjustments/absolute", put(inventory::absolute_adjustment))
            .fallback(api::not_found)
            .layer(middleware::from_fn_with_state(self.clone(), Self::admit))
            .with_state(self)
    }

    fn control_router(self: Arc<Self>) -> Router {
        webhooks::control_routes(self)
    }

    fn reset(&self) {
        *lock(&self.state) =
            BigCommerceState { config: BigCommerceConfig::defaults(self.common.time_scale), stores: BTreeMap::new() };
        self.deliveries.reset();
    }

    fn seed(&self, document: Value) -> Result<Value, ControlError> {
        let document: SeedDocument = control::parse("BigCommerce seed", document)?;
        let now_at = self.common.clock.now();
        let now = now_at.timestamp();
        let mut state = lock(&self.state);
        let mut seeded = Vec::new();
        for seed in document.stores {
            if seed.store_hash.is_empty() || seed.store_hash.contains('/') {
                return Err(ControlError::bad_request(format!(
                    "store_hash {:?} is not usable in a path",
                    seed.store_hash
                )));
            }
            let store =
                state.stores.entry(seed.store_hash.clone()).or_insert_with(|| Store::new(&seed.store_hash, now_at));
            if let Some(store_id) = seed.store_id {
                store.store_id = store_id;
            }
            store.info.extend(seed.info);
            for account in seed.api_accounts {
                upsert(&mut store.api_accounts, account, |account| account.client_id.clone());
            }
            for location in seed.locations {
                inventory::seed_location(store, location, now_at).map_err(ControlError::bad_request)?;
            }
            for mut product in seed.products {
                for variant in &mut product.variants {
                    variant.product_id = product.id;
                }
                inventory::check_product(&product).map_err(ControlError::bad_request)?;
                let id = product.id;
                upsert(&mut store.products, product, |product| product.id);
                inventory::seed_product_levels(store, id, now_at);
            }
            for hook in seed.hooks {
                let client_id = match hook.client_id.or_else(|| store.api_accounts.first().map(|a| a.client_id.clone()))
                {
                    Some(client_id) => client_id,
                    None => {
                        return Err(ControlError::bad_request("a hook needs a client_id or an API account to own it"));
                    }
                };
                let id = hook.id.unwrap_or_else(|| store.hooks.iter().map(|hook| hook.id).max().unwrap_or(0) + 1);
                let created_at = hook.created_at.unwrap_or(now);
                let hook = Hook {
                    id,
                    client_id,
                    store_hash: store.store_hash.clone(),
                    scope: hook.scope,
                    destination: hook.destination,
                    headers: hook.headers,
                    is_active: hook.is_active,
                    created_at,
                    updated_at: hook.updated_at.unwrap_or(created_at),
                };
                upsert(&mut store.hooks, hook, |hook| hook.id);
            }
            if let Some(signing) = seed.webhook_signing {
                store.webhook_signing = store.webhook_signing.merged(signing);
            }
            for (index, order) in seed.orders.into_iter().enumerate() {
                let order = orders::build_order(order, store, now_at)
                    .map_err(|reason| ControlError::bad_request(format!("orders[{index}]: {reason}")))?;
                upsert(&mut store.orders, order, |order| order.id);
            }
            seeded.push(json!({
                "store_hash": store.store_hash,
                "api_accounts": store.api_accounts.len(),
                "products": store.products.len(),
                "locations": store.locations.len(),
                "hooks": store.hooks.len(),
                "orders": store.orders.len(),
            }));
        }
        Ok(json!({ "stores": seeded }))
    }

    fn demo_seed() -> Value {
        crate::demo::seed_bigcommerce()
    }

    fn config(&self) -> Value {
        serde_json::to_value(&lock(&self.state).config).unwrap_or_default()
    }

    fn configure(&self, changes: Value) -> Result<Value, ControlError> {
        let mut state = lock(&self.state);
        let config: BigCommerceConfig = control::patch(&state.config, changes)?;
        if config.rate_limit.window_ms < 1 {
            return Err(ControlError::bad_request("rate_limit.window_ms must be at least 1"));
        }
        config.webhooks.validate().map_err(ControlError::bad_request)?;
        state.config = config;
        Ok(serde_json::to_value(&state.config).unwrap_or_default())
    }

    fn state(&self) -> Value {
        let state = lock(&self.state);
        let now_ms = self.common.clock.now_ms();
        let QuotaConfig { quota, window_ms } = state.config.rate_limit;
        let stores: Vec<Value> = state
            .stores
            .values()
            .map(|store| {
                let (left, reset_in_ms) = store.window.peek(now_ms, quota, window_ms);
                let mut described = store.describe();
                described["rate_limit"] = json!({ "requests_left": left, "reset_in_ms": reset_in_ms });
                described
            })
            .collect();
        json!({ "stores": stores })
    }

    fn render_fault(&self, fault: SystemFault, request: &Request) -> Response {
        let (store_hash, version) = parse_store_path(request.uri().path()).unwrap_or(("", ApiVersion::V3));
        match fault {
            SystemFault::RateLimit { retry_after_seconds } => {
                let state = lock(&self.state);
                let QuotaConfig { quota, window_ms } = state.config.rate_limit;
                let now_ms = self.common.clock.now_ms();
                let reset_in_ms = match retry_after_seconds {
                    Some(seconds) => i64::try_from(seconds.saturating_mul(1000)).unwrap_or(i64::MAX),
                    None => state
                        .stores
                        .get(store_hash)
                        .map_or(window_ms, |store| store.window.peek(now_ms, quota, window_ms).1),
                };
                too_many_requests(version, quota, window_ms, reset_in_ms)
            }
            SystemFault::ServerError { status } => {
                error(version, status, status.canonical_reason().unwrap_or("Internal Server Error"))
            }
            SystemFault::Unauthorized => error(
                version,
                StatusCode::UNAUTHORIZED,
                "Unauthorized - the v3 Auth client ID or token in the request are not a valid combination for this store.",
            ),
            SystemFault::Forbidden => {
                error(version, StatusCode::FORBIDDEN, "You don't have a required scope to access the endpoint")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_paths_split_into_hash_and_generation() {
        assert_eq!(parse_store_path("/stores/abc/v2/orders/1"), Some(("abc", ApiVersion::V2)));
        assert_eq!(parse_store_path("/stores/abc/v3/hooks"), Some(("abc", ApiVersion::V3)));
        assert_eq!(parse_store_path("/stores/abc/v3"), Some(("abc", ApiVersion::V3)));
        assert_eq!(parse_store_path("/stores/abc/v1/x"), None);
        assert_eq!(parse_store_path("/stores//v3/hooks"), None);
        assert_eq!(parse_store_path("/v3/hooks"), None);
    }
}
