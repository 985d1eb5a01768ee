//! Millwright's Plex client: one [`PlexClient`] per connection, built once with the Connect base
//! URL from configuration, the auth mode from the connection profile and the credentials from
//! the connection's secret.
//!
//! Plex authenticates Connect requests with the `X-Plex-Connect-Api-Key` header (what Plex
//! documents, the default); the product description's OAuth2 client credentials are supported as
//! an opt-in mode with a cached Bearer token that is refreshed once when Plex answers 401 (Plex
//! notes §1, §2.2, §7.2, §7.8). `X-Plex-Connect-Tenant-Id` selects a non-default tenant.
//!
//! Plex sends no rate headers; `millwright-http` paces calls at 200 per minute (configurable
//! through a shared [`Pacer`](millwright_http::Pacer)), classifies every failure and retries.
//! Plex's JSON shapes stay in here and leave as this crate's own types; every Plex field is
//! optional (no schema field is `required`, §2.1).
//!
//! Layout: `credentials` (the secret document), `auth` (header auth and the OAuth2 token cache),
//! `client` (the client and its calls).

mod auth;
mod client;
mod credentials;

use domain::ErrorClass;
use millwright_http::HttpError;

pub use client::{PlexClient, Tenant};
pub use credentials::Credentials;

/// A failed Plex call, or a client that could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The HTTP exchange failed; its message names the request, status, class and attempts.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The secret document lacks a field the auth mode needs, or has a bad one; names the field,
    /// never its value.
    #[error("Plex credentials: `{field}` {reason}")]
    Credentials { field: &'static str, reason: String },
    /// A successful response did not have the shape this client expects.
    #[error("Plex {what}: the response body did not have the expected shape")]
    Decode {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// A configured value (base URL, token URL, tenant id) is unusable.
    #[error("Plex configuration: {what} {reason}")]
    Config { what: &'static str, reason: String },
}

impl Error {
    /// What to do about it: HTTP failures as `millwright-http` classified them; a credential
    /// problem needs someone to fix the secret (auth); the rest need a code or configuration fix
    /// and will not pass on a retry (data).
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Http(error) => error.class(),
            Error::Credentials { .. } => ErrorClass::Auth,
            Error::Decode { .. } | Error::Config { .. } => ErrorClass::Data,
        }
    }
}
