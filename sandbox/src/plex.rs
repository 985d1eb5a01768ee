//! The Plex double: Plex Connect REST, the Data Source API and an opt-in OAuth2 token endpoint, all
//! on one port, as the API notes' test-double contract (§7) describes.
//!
//! - Connect (`/{collection}/{version}/{resource}`): `X-Plex-Connect-Api-Key`, or a Bearer token in
//!   the `oauth2`/`either` auth modes; tenant selection by `X-Plex-Connect-Tenant-Id` or
//!   `X-Plex-Connect-Customer-Id`; per-credential collection subscriptions; 200 calls per rolling
//!   minute per credential. See `auth`, `connect` (tenants, customers, addresses, parts) and
//!   `sales` (sales orders, lines, prices, releases); writes go through `store`. Inventory
//!   (locations, containers, container adjustments) and its control endpoints are in `inventory`.
//! - Data Source API (`/api/datasources/...`): HTTP Basic with a web-service user. See `datasource`,
//!   and `procedures` for the data sources that read and write sales orders.
//! - `POST /oauth2/token`: client credentials, only outside the default `api_key` mode. See `auth`.
//!
//! Every Connect error is `{"code": "...", "message": "..."}` (plus `errors[]` for validation);
//! every Data Source error is `{"errors": [{"code", "message"}], "transactionNo": "..."}`.

mod auth;
mod connect;
mod datasource;
mod inventory;
mod model;
mod procedures;
mod sales;
mod store;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::Response;
use axum::routing::{any, get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::control::{self, ControlError};
use crate::double::{Common, Double, SystemFault};
use crate::ratelimit::{RollingWindow, scaled_ms};
use crate::{lock, reply};
use model::{ApiKey, DataSource, DataSourceUser, IssuedToken, OAuthClient, SeedDocument, Tenant};

/// "Most of the APIs … are limited to 200 calls per minute."
const DEFAULT_CALLS_PER_WINDOW: u64 = 200;
const DEFAULT_WINDOW_MS: f64 = 60_000.0;
const DEFAULT_TOKEN_TTL_MS: f64 = 3_600_000.0;
/// What the `rate_limit` fault advertises when the test gives no wait.
const DEFAULT_FAULT_RETRY_AFTER_SECONDS: u64 = 2;

pub(crate) struct Plex {
    common: Common,
    state: Mutex<PlexState>,
}

#[derive(Debug)]
struct PlexState {
    config: PlexConfig,
    tenants: Vec<Tenant>,
    /// Keyed by the key itself, which is what a request presents.
    api_keys: BTreeMap<String, ApiKey>,
    oauth_clients: BTreeMap<String, OAuthClient>,
    tokens: HashMap<String, IssuedToken>,
    datasource_users: BTreeMap<String, DataSourceUser>,
    datasources: BTreeMap<u64, DataSource>,
    /// Calls per credential in the trailing window (see `auth::key_bucket`, `auth::client_bucket`).
    call_windows: HashMap<String, RollingWindow>,
    /// The last Data Source `transactionNo` handed out.
    transaction_no: u64,
}

impl PlexState {
    fn new(config: PlexConfig) -> Self {
        PlexState {
            config,
            tenants: Vec::new(),
            api_keys: BTreeMap::new(),
            oauth_clients: BTreeMap::new(),
            tokens: HashMap::new(),
            datasource_users: BTreeMap::new(),
            datasources: BTreeMap::new(),
            call_windows: HashMap::new(),
            transaction_no: 1_000_000,
        }
    }

    fn tenant(&self, reference: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|tenant| tenant.is(reference))
    }

    fn tenant_mut(&mut self, reference: &str) -> Option<&mut Tenant> {
        self.tenants.iter_mut().find(|tenant| tenant.is(reference))
    }

    /// Where records without a named tenant go: the default tenant, else the first one.
    fn default_tenant_index(&self) -> Option<usize> {
        self.tenants.iter().position(|tenant| tenant.default).or((!self.tenants.is_empty()).then_some(0))
    }

    /// The tenant a Data Source user is bound to: the one it names, else the default tenant.
    fn datasource_tenant_mut(&mut self, reference: Option<&str>) -> Option<&mut Tenant> {
        match reference {
            Some(reference) => self.tenant_mut(reference),
            None => self.default_tenant_index().and_then(|index| self.tenants.get_mut(index)),
        }
    }

    fn next_transaction_no(&mut self) -> String {
        self.transaction_no += 1;
        self.transaction_no.to_string()
    }
}

/// `POST /__control/config` for Plex.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PlexConfig {
    pub auth: AuthConfig,
    /// What a call outside the credential's subscribed collections gets: 401 (observed) or 403.
    pub unsubscribed_status: u16,
    /// What an empty list answers: 200 `[]` (default) or 404 `RESOURCE_NOT_FOUND` ("no data").
    pub empty_list_status: u16,
    pub rate_limit: CallLimit,
    /// Data Source executions return at most this many rows, then set `rowLimitExceeded`.
    pub datasource_row_limit: Option<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuthConfig {
    pub mode: AuthMode,
    /// Lifetime of an OAuth2 access token.
    pub token_ttl_ms: i64,
    /// Require `X-Plex-Connect-Api-Secret` to match the key's secret.
    pub require_secret: bool,
}

/// How Connect requests authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum AuthMode {
    /// `X-Plex-Connect-Api-Key` only (what the real API does).
    ApiKey,
    /// `Authorization: Bearer` tokens from `/oauth2/token` only.
    Oauth2,
    /// A Bearer token when one is sent, else the API key.
    Either,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CallLimit {
    pub calls: u64,
    pub window_ms: i64,
}

impl PlexConfig {
    fn defaults(time_scale: f64) -> Self {
        PlexConfig {
            auth: AuthConfig {
                mode: AuthMode::ApiKey,
                token_ttl_ms: scaled_ms(DEFAULT_TOKEN_TTL_MS, time_scale),
                require_secret: false,
            },
            unsubscribed_status: 401,
            empty_list_status: 200,
            rate_limit: CallLimit {
                calls: DEFAULT_CALLS_PER_WINDOW,
                window_ms: scaled_ms(DEFAULT_WINDOW_MS, time_scale),
            },
            datasource_row_limit: None,
        }
    }

    fn validate(&self) -> Result<(), ControlError> {
        if ![401, 403].contains(&self.unsubscribed_status) {
            return Err(ControlError::bad_request("unsubscribed_status must be 401 or 403"));
        }
        if ![200, 404].contains(&self.empty_list_status) {
            return Err(ControlError::bad_request("empty_list_status must be 200 or 404"));
        }
        if self.rate_limit.window_ms < 1 || self.auth.token_ttl_ms < 0 {
            return Err(ControlError::bad_request(
                "rate_limit.window_ms must be positive, auth.token_ttl_ms not negative",
            ));
        }
        Ok(())
    }
}

/// A Connect error body: `{"code": "...", "message": "..."}`.
pub(crate) fn connect_error(status: StatusCode, code: &str, message: &str) -> Response {
    reply::json_as(status, reply::JSON_UTF8, &json!({ "code": code, "message": message }))
}

/// The documented 401 for a bad, missing or expired credential.
pub(crate) fn not_authenticated() -> Response {
    connect_error(StatusCode::UNAUTHORIZED, "REQUEST_NOT_AUTHENTICATED", "The request could not be authenticated.")
}

/// The 401 for a Bearer token that is unknown or expired: the client must fetch a new one.
pub(crate) fn invalid_token() -> Response {
    let mut response = not_authenticated();
    reply::set_header(&mut response, "www-authenticate", "Bearer error=\"invalid_token\"");
    response
}

pub(crate) fn forbidden() -> Response {
    connect_error(StatusCode::FORBIDDEN, "FORBIDDEN", "Access to the requested resource is denied.")
}

/// 429 with `Retry-After` and the message format one real client parses the wait out of.
pub(crate) fn rate_limited(retry_after_seconds: u64) -> Response {
    let message = format!("Rate limit is exceeded. Try again in {retry_after_seconds} seconds.");
    let mut response = connect_error(StatusCode::TOO_MANY_REQUESTS, "REQUEST_RATE_LIMITED", &message);
    reply::set_header(&mut response, "retry-after", retry_after_seconds);
    response
}

pub(crate) fn resource_not_found() -> Response {
    connect_error(StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND", "The requested resource was not found.")
}

/// What an empty list answers when `empty_list_status` is 404 ("no data exists to return").
pub(crate) fn no_data() -> Response {
    connect_error(StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND", "No data exists to return.")
}

impl Plex {
    pub(crate) fn new(time_scale: f64, stopping: watch::Receiver<bool>) -> Self {
        Plex {
            common: Common::new(time_scale, stopping),
            state: Mutex::new(PlexState::new(PlexConfig::defaults(time_scale))),
        }
    }

    fn is_datasource_path(path: &str) -> bool {
        path == "/api/datasources" || path.starts_with("/api/datasources/")
    }
}

/// The records a seed document gives one tenant.
#[derive(Default)]
struct TenantRecords {
    customers: Vec<serde_json::Map<String, Value>>,
    parts: Vec<serde_json::Map<String, Value>>,
    sales_orders: Vec<serde_json::Map<String, Value>>,
    locations: Vec<inventory::LocationSeed>,
    containers: Vec<inventory::ContainerSeed>,
}

impl TenantRecords {
    fn is_empty(&self) -> bool {
        self.customers.is_empty()
            && self.parts.is_empty()
            && self.sales_orders.is_empty()
            && self.locations.is_empty()
            && self.containers.is_empty()
    }
}

/// Adds seeded customers (with their addresses), parts, sales orders, locations and containers to
/// a tenant, in that order, so orders and containers can refer to the customers, parts and
/// locations of the same document.
fn seed_records(
    tenant: &mut Tenant,
    records: TenantRecords,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), ControlError> {
    for customer in records.customers {
        store::seed_customer(tenant, customer, now).map_err(ControlError::bad_request)?;
    }
    tenant.upsert(&model::PARTS, records.parts, now).map_err(ControlError::bad_request)?;
    for order in records.sales_orders {
        store::seed_order(tenant, order, now).map_err(ControlError::bad_request)?;
    }
    inventory::seed_locations(tenant, records.locations).map_err(ControlError::bad_request)?;
    inventory::seed_containers(tenant, records.containers, now).map_err(ControlError::bad_request)?;
    Ok(())
}

impl Double for Plex {
    const NAME: &'static str = "plex";

    fn common(&self) -> &Common {
        &self.common
    }

    fn api_router(self: Arc<Self>) -> Router {
        let mut router = Router::new()
            .route("/oauth2/token", post(auth::issue_token))
            .route("/api/datasources/search", get(datasource::search))
            .route("/api/datasources/{id}", get(datasource::describe))
            .route("/api/datasources/{id}/execute", any(datasource::execute))
            .route("/mdm/v1/tenants", get(connect::list_tenants))
            .route("/mdm/v1/customers", get(connect::list_customers).post(connect::create_customer))
            .route("/mdm/v1/customers/{id}", get(connect::get_customer))
            .route("/mdm/v1/customers/{id}/addresses", get(connect::list_addresses).post(connect::create_address))
            .route("/mdm/v1/customers/{id}/addresses/{address_id}", get(connect::get_address))
            .route("/mdm/v1/parts", get(connect::list_parts))
            .route("/mdm/v1/parts/{id}", get(connect::get_part))
            .route("/inventory/v1/inventory-tracking/containers", get(inventory::list_containers))
            .route("/inventory/v1/inventory-tracking/containers/{serial_no}", get(inventory::get_container))
            .route("/inventory/v1/inventory-history/container-adjustments", get(inventory::list_adjustments))
            .route("/inventory/v1/inventory-definitions/locations", get(inventory::list_locations));
        // Paperless wrote through `sales/v1-beta1`; the spec lists `sales/v1`. Both answer alike.
        for version in ["v1", "v1-beta1"] {
            let base = format!("/sales/{version}");
            router = router
                .route(&format!("{base}/orders"), get(sales::list_orders).post(sales::create_order))
                .route(&format!("{base}/orders/{{id}}"), get(sales::get_order).put(sales::update_order))
                .route(&format!("{base}/orders/{{id}}/lines"), get(sales::list_lines).post(sales::create_line))
                .route(&format!("{base}/orders/{{id}}/lines/{{line_id}}"), get(sales::get_line))
                .route(
                    &format!("{base}/orders/{{id}}/lines/{{line_id}}/prices"),
                    get(sales::list_prices).post(sales::create_price),
                )
                .route(&format!("{base}/orders/{{id}}/lines/{{line_id}}/prices/{{price_id}}"), get(sales::get_price))
                .route(&format!("{base}/releases"), get(sales::list_releases).post(sales::create_release))
                .route(&format!("{base}/releases/{{id}}"), get(sales::get_release).put(sales::update_release));
        }
        router
            .fallback(connect::not_found)
            .layer(middleware::from_fn_with_state(self.clone(), auth::connect_admission))
            .with_state(self)
    }

    fn control_router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/keys/{key}/expire", post(expire_key))
            .route("/tokens/expire-all", post(expire_all_tokens))
            .route("/sales-orders", get(sales_orders))
            .with_state(self.clone())
            .merge(inventory::control_routes(self))
    }

    fn reset(&self) {
        *lock(&self.state) = PlexState::new(PlexConfig::defaults(self.common.time_scale));
    }

    fn seed(&self, document: Value) -> Result<Value, ControlError> {
        let document: SeedDocument = control::parse("Plex seed", document)?;
        let now = self.common.clock.now();
        let mut state = lock(&self.state);
        for seed in document.tenants {
            let index = match state.tenants.iter().position(|tenant| tenant.id.eq_ignore_ascii_case(&seed.id)) {
                Some(index) => index,
                None => {
                    state.tenants.push(Tenant::new(seed.id.clone(), seed.code.clone()));
                    state.tenants.len() - 1
                }
            };
            if seed.default {
                state.tenants.iter_mut().for_each(|tenant| tenant.default = false);
            }
            let tenant = &mut state.tenants[index];
            tenant.code = seed.code;
            tenant.customer_id = seed.customer_id.or(tenant.customer_id.take());
            tenant.name = seed.name.or(tenant.name.take());
            tenant.default |= seed.default;
            let records = TenantRecords {
                customers: seed.customers,
                parts: seed.parts,
                sales_orders: seed.sales_orders,
                locations: seed.locations,
                containers: seed.containers,
            };
            seed_records(tenant, records, now)?;
        }
        let records = TenantRecords {
            customers: document.customers,
            parts: document.parts,
            sales_orders: document.sales_orders,
            locations: document.locations,
            containers: document.containers,
        };
        if !records.is_empty() {
            let target = match &document.tenant {
                Some(reference) => state.tenants.iter().position(|tenant| tenant.is(reference)),
                None => state.default_tenant_index(),
            };
            let Some(index) = target else {
                return Err(ControlError::bad_request("top-level records need a seeded tenant to go to"));
            };
            let tenant = &mut state.tenants[index];
            seed_records(tenant, records, now)?;
        }
        for key in document.api_keys {
            state.api_keys.insert(key.key.clone(), key);
        }
        for client in document.oauth_clients {
            state.oauth_clients.insert(client.client_id.clone(), client);
        }
        for user in document.datasource_users {
            state.datasource_users.insert(user.username.clone(), user);
        }
        for seed in document.datasources {
            let datasource = DataSource::try_from(seed).map_err(ControlError::bad_request)?;
            state.datasources.insert(datasource.id, datasource);
        }
        Ok(json!({
            "tenants": state.tenants.len(),
            "api_keys": state.api_keys.len(),
            "oauth_clients": state.oauth_clients.len(),
            "datasource_users": state.datasource_users.len(),
            "datasources": state.datasources.len(),
        }))
    }

    fn demo_seed() -> Value {
        crate::demo::seed_plex()
    }

    fn config(&self) -> Value {
        serde_json::to_value(&lock(&self.state).config).unwrap_or_default()
    }

    fn configure(&self, changes: Value) -> Result<Value, ControlError> {
        let mut state = lock(&self.state);
        let config: PlexConfig = control::patch(&state.config, changes)?;
        config.validate()?;
        state.config = config;
        Ok(serde_json::to_value(&state.config).unwrap_or_default())
    }

    fn state(&self) -> Value {
        let state = lock(&self.state);
        let now_ms = self.common.clock.now_ms();
        let window_ms = state.config.rate_limit.window_ms;
        let calls =
            |credential: &str| state.call_windows.get(credential).map_or(0, |window| window.used(now_ms, window_ms));
        let tenants: Vec<Value> = state
            .tenants
            .iter()
            .map(|tenant| {
                json!({
                    "id": tenant.id,
                    "code": tenant.code,
                    "customer_id": tenant.customer_id,
                    "name": tenant.name,
                    "default": tenant.default,
                    "records": tenant.records,
                    "addresses": tenant.addresses,
                    "order_charges": tenant.order_charges,
                    "orders_per_po": sales::orders_per_po(tenant),
                    "inventory": inventory::summary(&tenant.inventory),
                })
            })
            .collect();
        let api_keys: Vec<Value> = state
            .api_keys
            .values()
            .map(|key| {
                let mut shown = model::redacted(key, &["key", "secret"]);
                shown["calls_in_window"] = json!(calls(&auth::key_bucket(&key.key)));
                shown
            })
            .collect();
        let oauth_clients: Vec<Value> = state
            .oauth_clients
            .values()
            .map(|client| {
                let mut shown = model::redacted(client, &["client_secret"]);
                shown["calls_in_window"] = json!(calls(&auth::client_bucket(&client.client_id)));
                shown
            })
            .collect();
        let tokens: Vec<Value> = state
            .tokens
            .values()
            .map(|token| {
                json!({
                    "client_id": token.client_id,
                    "expires_at_ms": token.expires_at_ms,
                    "expired": token.expires_at_ms <= now_ms,
                })
            })
            .collect();
        let users: Vec<Value> =
            state.datasource_users.values().map(|user| model::redacted(user, &["password"])).collect();
        json!({
            "tenants": tenants,
            "api_keys": api_keys,
            "oauth_clients": oauth_clients,
            "tokens": tokens,
            "datasource_users": users,
            "datasources": state.datasources.values().collect::<Vec<_>>(),
        })
    }

    fn render_fault(&self, fault: SystemFault, request: &Request) -> Response {
        if Self::is_datasource_path(request.uri().path()) {
            let transaction_no = lock(&self.state).next_transaction_no();
            return match fault {
                SystemFault::RateLimit { retry_after_seconds } => {
                    rate_limited(retry_after_seconds.unwrap_or(DEFAULT_FAULT_RETRY_AFTER_SECONDS))
                }
                SystemFault::ServerError { status } => datasource::error(
                    status,
                    "REQUEST_PROCESSING_ERROR",
                    "An unexpected error occurred while processing the request.",
                    &transaction_no,
                ),
                SystemFault::Unauthorized => datasource::error(
                    StatusCode::UNAUTHORIZED,
                    "USER_ACCESS_DENIED",
                    "The user could not be authenticated.",
                    &transaction_no,
                ),
                SystemFault::Forbidden => datasource::error(
                    StatusCode::FORBIDDEN,
                    "DATA_SOURCE_ACCESS_DENIED",
                    "You do not have access to this data source.",
                    &transaction_no,
                ),
            };
        }
        match fault {
            SystemFault::RateLimit { retry_after_seconds } => {
                rate_limited(retry_after_seconds.unwrap_or(DEFAULT_FAULT_RETRY_AFTER_SECONDS))
            }
            SystemFault::ServerError { status } => connect_error(
                status,
                "REQUEST_PROCESSING_ERROR",
                "An unexpected error occurred while processing the request.",
            ),
            // A client that used a token must learn the token is what expired.
            SystemFault::Unauthorized if auth::bearer_token(request.headers()).is_some() => invalid_token(),
            SystemFault::Unauthorized => not_authenticated(),
            SystemFault::Forbidden => forbidden(),
        }
    }
}

/// `POST /__control/keys/{key}/expire`: later calls with the key get 401.
async fn expire_key(State(plex): State<Arc<Plex>>, Path(key): Path<String>) -> Result<axum::Json<Value>, ControlError> {
    let mut state = lock(&plex.state);
    let Some(api_key) = state.api_keys.get_mut(&key) else {
        return Err(ControlError::not_found("no such API key"));
    };
    api_key.expired = true;
    Ok(axum::Json(json!({ "expired": true })))
}

#[derive(Debug, Deserialize)]
struct SalesOrderQuery {
    #[serde(default)]
    po_number: Option<String>,
    #[serde(default)]
    tenant: Option<String>,
}

/// `GET /__control/sales-orders[?po_number=][&tenant=]`: sales orders with their lines, prices and
/// releases nested (and the data-source charges), of every tenant or one.
async fn sales_orders(
    State(plex): State<Arc<Plex>>,
    Query(query): Query<SalesOrderQuery>,
) -> Result<axum::Json<Value>, ControlError> {
    let state = lock(&plex.state);
    if let Some(reference) = &query.tenant
        && state.tenant(reference).is_none()
    {
        return Err(ControlError::not_found("no such tenant"));
    }
    let orders: Vec<Value> = state
        .tenants
        .iter()
        .filter(|tenant| query.tenant.as_deref().is_none_or(|reference| tenant.is(reference)))
        .flat_map(|tenant| {
            tenant
                .records(&model::SALES_ORDERS)
                .iter()
                .filter(|order| {
                    query.po_number.as_deref().is_none_or(|wanted| model::text(order, "poNumber") == Some(wanted))
                })
                .map(|order| {
                    let mut view = store::order_view(tenant, order);
                    view["tenant"] = json!(tenant.code);
                    view
                })
        })
        .collect();
    Ok(axum::Json(Value::Array(orders)))
}

/// `POST /__control/tokens/expire-all`: every issued token is expired from now on.
async fn expire_all_tokens(State(plex): State<Arc<Plex>>) -> axum::Json<Value> {
    let now_ms = plex.common.clock.now_ms();
    let mut state = lock(&plex.state);
    for token in state.tokens.values_mut() {
        token.expires_at_ms = token.expires_at_ms.min(now_ms);
    }
    axum::Json(json!({ "expired": state.tokens.len() }))
}
