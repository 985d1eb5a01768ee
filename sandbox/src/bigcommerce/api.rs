//! BigCommerce endpoint handlers. Each runs after admission, so it can rely on the [`Caller`] and
//! [`ApiVersion`] extensions and on the store existing.
//!
//! - `GET /v2/store`: store information (shape of `store_information.v2.yml`).
//! - `GET /v2/time`: the system timestamp, the documented "is my auth right" probe.
//!
//! Orders are in `orders`, hooks in `hooks`.

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

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
