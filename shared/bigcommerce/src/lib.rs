//! Millwright's BigCommerce client: one [`BigCommerceClient`] per store, built once with the API
//! base URL from configuration and the API account's credentials from the connection's secret.
//!
//! URLs are `{api_base_url}/stores/{store_hash}/v2|v3/...`; every request carries
//! `X-Auth-Token`, `Accept` and `Content-Type: application/json` (BigCommerce notes §3).
//! `millwright-http` paces requests from BigCommerce's `X-Rate-Limit-*` headers, classifies every
//! failure and retries; this crate builds requests and decodes bodies. BigCommerce's JSON shapes
//! stay in here and leave as this crate's own types.
//!
//! Stock: [`BigCommerceClient::catalog_addresses`] maps every SKU to how the Inventory API
//! addresses it (`domain::stock::ItemAddress`: by product or by variant, per the product's tracking
//! mode), [`BigCommerceClient::inventory_levels`] reads the levels per SKU and location,
//! [`BigCommerceClient::set_absolute`] sets up to 2000 levels in one request and hands a refusal
//! back per item ([`AdjustmentOutcome`]).
//!
//! Layout: `credentials` (the secret document), `client` (the client, store information and the
//! request helpers), `orders` (one order in full, as a `domain::order::WebOrder`), `hooks` (webhook
//! subscriptions), `inventory` (catalog addresses, inventory levels and locations, absolute
//! adjustments), `fields` (reading JSON field by field, so errors name the field and never quote
//! its value), `ports` (the order worker's `WebOrderSource`).

mod client;
mod credentials;
mod fields;
mod hooks;
mod inventory;
mod orders;
mod ports;

use domain::ErrorClass;
use millwright_http::HttpError;

pub use client::{BigCommerceClient, StoreInformation};
pub use credentials::Credentials;
pub use hooks::Hook;
pub use inventory::{AdjustmentOutcome, CatalogAddresses, ItemError, Location, Refused};
pub use ports::{OrderHooks, api_error};

/// A failed BigCommerce call, or a client that could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The HTTP exchange failed; its message names the request, status, class and attempts.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The secret document lacks a field or has a bad one; names the field, never its value.
    #[error("BigCommerce credentials: `{field}` {reason}")]
    Credentials { field: &'static str, reason: String },
    /// A successful response did not have the shape this client expects.
    #[error("BigCommerce {what}: the response body did not have the expected shape")]
    Decode {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// A field of a successful response is missing or does not parse. Names the response and the
    /// field's path (`order 1042`, `products[3].price_ex_tax`), never the value, which may be
    /// customer data or a secret.
    #[error("BigCommerce {what}: `{field}` {reason}")]
    Field { what: String, field: String, reason: &'static str },
    /// A paged list did not end: a page brought nothing new, or there were implausibly many.
    #[error("BigCommerce {what}: paging stopped: {reason}")]
    Paging { what: String, reason: String },
    /// A configured value (base URL, store hash) is unusable.
    #[error("BigCommerce configuration: {what} {reason}")]
    Config { what: &'static str, reason: String },
    /// A request this client would not send because BigCommerce would refuse it whole (an
    /// absolute adjustment of more than 2000 rows); nothing was sent.
    #[error("BigCommerce {what}: not sent: {reason}")]
    Unsendable { what: &'static str, reason: String },
}

impl Error {
    /// What to do about it: HTTP failures as `millwright-http` classified them; a credential
    /// problem needs someone to fix the secret (auth); the rest need a code or configuration fix
    /// and will not pass on a retry (data).
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Http(error) => error.class(),
            Error::Credentials { .. } => ErrorClass::Auth,
            Error::Decode { .. }
            | Error::Field { .. }
            | Error::Paging { .. }
            | Error::Config { .. }
            | Error::Unsendable { .. } => ErrorClass::Data,
        }
    }
}
