//! BigCommerce endpoint handlers. Each runs after admission, so it can rely on the [`Caller`] and
//! [`ApiVersion`] extensions and on the store existing.
//!
//! - `GET /v2/store`: store information (shape of `store_information.v2.yml`).
//! - `GET /v2/time`: the system timestamp, the documented "is my auth right" probe.
//! - `GET /v3/hooks`: the caller's webhooks, filtered and paged like `webhooks.v3.yml`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{ApiVersion, BigCommerce, Caller, ERROR_TYPE, error};
use crate::{lock, reply};

/// `GET /stores/{hash}/v2/store`: the spec's example store, overlaid with the seeded `info`.
pub(super) async fn store_information(
    State(double): State<Arc<BigCommerce>>,
    Extension(caller): Extension<Caller>,
) -> Response {
    let state = lock(&double.state);
    let Some(store) = state.stores.get(&caller.store_hash) else {
        return error(ApiVersion::V2, StatusCode::NOT_FOUND, "Store not found.");
    };
    let hash = &store.store_hash;
    // Built in parts: one literal this size exceeds the json! macro's recursion limit.
    let timezone = json!({
        "name": "Etc/UTC",
        "raw_offset": 0,
        "dst_offset": 0,
        "dst_correction": false,
        "date_format": { "display": "M jS Y", "export": "M jS Y", "extended_display": "M jS Y @ g:i A" }
    });
    let features = json!({
        "stencil_enabled": true,
        "sitewidehttps_enabled": true,
        "facebook_catalog_id": "",
        "checkout_type": "optimized",
        "wishlists_enabled": false,
        "graphql_storefront_api_enabled": true,
        "shopper_consent_tracking_enabled": true,
        "multi_storefront_enabled": false,
        "storefront_limits": { "active": 1, "total_including_inactive": 1 }
    });
    let mut information = json!({
        "id": hash,
        "account_uuid": account_uuid(hash),
        "domain": format!("{hash}.mybigcommerce.com"),
        "secure_url": format!("https://{hash}.mybigcommerce.com"),
        "control_panel_base_url": format!("https://store-{hash}.mybigcommerce.com"),
        "status": "live",
        "name": hash,
        "first_name": "",
        "last_name": "",
        "address": "",
        "country": "United States",
        "country_code": "US",
        "infrastructure_region": "us-central1",
        "phone": "",
        "admin_email": "",
        "order_email": "",
        "favicon_url": "",
        "timezone": timezone,
        "language": "en",
        "currency": "USD",
        "currency_symbol": "$",
        "decimal_separator": ".",
        "thousands_separator": ",",
        "decimal_places": 2,
        "currency_symbol_location": "left",
        "weight_units": "Ounces",
        "dimension_units": "Inches",
        "dimension_decimal_places": 2,
        "dimension_decimal_token": ".",
        "dimension_thousands_token": ",",
        "plan_name": "Standard",
        "plan_level": "Standard",
        "plan_is_trial": false,
        "industry": "",
        "logo": [],
        "is_price_entered_with_tax": false,
        "store_id": store.store_id,
        "default_channel_id": 1,
        "default_site_id": 1000,
        "active_comparison_modules": [],
        "features": features,
    });
    if let Value::Object(fields) = &mut information {
        fields.extend(store.info.clone());
    }
    reply::json(StatusCode::OK, &information)
}

/// A stable UUID per store hash, so the field does not change between calls.
fn account_uuid(store_hash: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(store_hash.as_bytes());
    let mut bytes = [0_u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
}

/// `GET /stores/{hash}/v2/time`.
pub(super) async fn system_time(State(double): State<Arc<BigCommerce>>) -> Response {
    reply::json(StatusCode::OK, &json!({ "time": double.common.clock.now().timestamp() }))
}

/// The page size `GET /v3/hooks` uses when none is asked for.
const DEFAULT_HOOK_PAGE_SIZE: u64 = 50;

/// `GET /stores/{hash}/v3/hooks`: only the hooks of the caller's API account are visible.
pub(super) async fn list_hooks(
    State(double): State<Arc<BigCommerce>>,
    Extension(caller): Extension<Caller>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let mut invalid = serde_json::Map::new();
    let page = positive(&params, "page", 1, &mut invalid);
    let limit = positive(&params, "limit", DEFAULT_HOOK_PAGE_SIZE, &mut invalid);
    let is_active = match params.get("is_active").map(String::as_str) {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => {
            invalid.insert("is_active".to_owned(), json!("must be a boolean"));
            None
        }
    };
    if !invalid.is_empty() {
        let body = json!({
            "status": 422,
            "title": "Input is invalid",
            "type": ERROR_TYPE,
            "errors": invalid,
        });
        return reply::json(StatusCode::UNPROCESSABLE_ENTITY, &body);
    }

    let state = lock(&double.state);
    let hooks: Vec<&super::model::Hook> =
        state.stores.get(&caller.store_hash).map(|store| store.hooks.iter().collect()).unwrap_or_default();
    let matching: Vec<&super::model::Hook> = hooks
        .into_iter()
        .filter(|hook| hook.client_id == caller.client_id)
        .filter(|hook| is_active.is_none_or(|active| hook.is_active == active))
        .filter(|hook| params.get("scope").is_none_or(|scope| &hook.scope == scope))
        .filter(|hook| params.get("destination").is_none_or(|destination| &hook.destination == destination))
        .collect();
    let total = matching.len() as u64;
    let total_pages = total.div_ceil(limit).max(1);
    let start = usize::try_from((page - 1).saturating_mul(limit)).unwrap_or(usize::MAX);
    let data: Vec<Value> = matching
        .into_iter()
        .skip(start)
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(|hook| serde_json::to_value(hook).unwrap_or_default())
        .collect();
    let mut links = serde_json::Map::new();
    if page > 1 {
        links.insert("previous".to_owned(), json!(format!("?page={}&limit={limit}", page - 1)));
    }
    links.insert("current".to_owned(), json!(format!("?page={page}&limit={limit}")));
    if page < total_pages {
        links.insert("next".to_owned(), json!(format!("?page={}&limit={limit}", page + 1)));
    }
    let body = json!({
        "data": data,
        "meta": {
            "pagination": {
                "total": total,
                "count": data.len(),
                "per_page": limit,
                "current_page": page,
                "total_pages": total_pages,
                "links": links,
            }
        }
    });
    reply::json(StatusCode::OK, &body)
}

/// Reads a positive integer query parameter, noting a bad one in `invalid`.
fn positive(
    params: &HashMap<String, String>,
    name: &str,
    default: u64,
    invalid: &mut serde_json::Map<String, Value>,
) -> u64 {
    match params.get(name) {
        None => default,
        Some(raw) => match raw.parse::<u64>() {
            Ok(value) if value > 0 => value,
            _ => {
                invalid.insert(name.to_owned(), json!("must be a positive integer"));
                default
            }
        },
    }
}

/// Any other path under a known store, for an authenticated caller.
pub(super) async fn not_found(Extension(version): Extension<ApiVersion>) -> Response {
    error(version, StatusCode::NOT_FOUND, "The requested resource was not found.")
}
