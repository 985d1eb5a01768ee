//! BigCommerce endpoint handlers. Each runs after admission, so it can rely on the [`Caller`] and
//! [`ApiVersion`] extensions and on the store existing.
//!
//! - `GET /v2/store`: store information (shape of `store_information.v2.yml`).
//! - `GET /v2/time`: the system timestamp, the documented "is my auth right" probe.
//!
//! Orders are in `orders`, hooks in `hooks`, catalog in `catalog`, inventory in `inventory`; the
//! helpers at the end (paging, `:in` lists, 422s) are what the v3 lists share.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::{ApiVersion, BigCommerce, Caller, error};
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

/// Any other path under a known store, for an authenticated caller.
pub(super) async fn not_found(Extension(version): Extension<ApiVersion>) -> Response {
    error(version, StatusCode::NOT_FOUND, "The requested resource was not found.")
}

// ---- what the v3 lists share ----------------------------------------------------------------

/// A v3 422 with `errors` naming each field or parameter.
pub(super) fn unprocessable(title: &str, errors: Map<String, Value>) -> Response {
    let body = json!({ "status": 422, "title": title, "type": super::ERROR_TYPE, "errors": errors });
    reply::json(StatusCode::UNPROCESSABLE_ENTITY, &body)
}

/// A positive integer query parameter (`page`, `limit`), noting a bad one in `invalid`.
pub(super) fn positive(
    params: &HashMap<String, String>,
    name: &str,
    default: u64,
    invalid: &mut Map<String, Value>,
) -> u64 {
    match params.get(name) {
        None => default,
        Some(raw) => match raw.trim().parse::<u64>() {
            Ok(value) if value > 0 => value,
            _ => {
                invalid.insert(name.to_owned(), json!("must be a positive integer"));
                default
            }
        },
    }
}

/// `page` and `limit` of a v3 list; a `limit` above `max` is served as `max`.
pub(super) fn paging(
    params: &HashMap<String, String>,
    default_limit: u64,
    max: u64,
    invalid: &mut Map<String, Value>,
) -> (u64, u64) {
    let page = positive(params, "page", 1, invalid);
    let limit = positive(params, "limit", default_limit, invalid).min(max);
    (page, limit)
}

/// A comma-separated list parameter (`id:in=1,2`), trimmed, empty entries dropped.
pub(super) fn text_list(params: &HashMap<String, String>, name: &str) -> Option<Vec<String>> {
    params
        .get(name)
        .map(|raw| raw.split(',').map(str::trim).filter(|part| !part.is_empty()).map(str::to_owned).collect())
}

/// A comma-separated list of ids, noting a malformed one in `invalid`.
pub(super) fn id_list(
    params: &HashMap<String, String>,
    name: &str,
    invalid: &mut Map<String, Value>,
) -> Option<HashSet<u64>> {
    let parts = text_list(params, name)?;
    match parts.iter().map(|part| part.parse::<u64>()).collect::<Result<HashSet<u64>, _>>() {
        Ok(ids) => Some(ids),
        Err(_) => {
            invalid.insert(name.to_owned(), json!("must be a comma-separated list of integers"));
            None
        }
    }
}

/// One integer parameter (`id=5`), noting a malformed one in `invalid`.
pub(super) fn one_id(params: &HashMap<String, String>, name: &str, invalid: &mut Map<String, Value>) -> Option<u64> {
    let raw = params.get(name)?;
    match raw.trim().parse::<u64>() {
        Ok(id) => Some(id),
        Err(_) => {
            invalid.insert(name.to_owned(), json!("must be an integer"));
            None
        }
    }
}

/// `{data, meta: {pagination}}` of one page of `total` items; `data` is that page.
pub(super) fn page_body(data: Vec<Value>, total: usize, page: u64, limit: u64) -> Value {
    let total = total as u64;
    let total_pages = total.div_ceil(limit).max(1);
    let mut links = Map::new();
    if page > 1 {
        links.insert("previous".to_owned(), json!(format!("?page={}&limit={limit}", page - 1)));
    }
    links.insert("current".to_owned(), json!(format!("?page={page}&limit={limit}")));
    if page < total_pages {
        links.insert("next".to_owned(), json!(format!("?page={}&limit={limit}", page + 1)));
    }
    json!({
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
    })
}

/// The slice of `items` on `page`.
pub(super) fn page_slice<T>(items: &[T], page: u64, limit: u64) -> &[T] {
    let start = usize::try_from((page - 1).saturating_mul(limit)).unwrap_or(usize::MAX).min(items.len());
    let end = start.saturating_add(usize::try_from(limit).unwrap_or(usize::MAX)).min(items.len());
    &items[start..end]
}
