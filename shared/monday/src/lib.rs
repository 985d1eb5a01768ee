//! Millwright's monday.com client: one [`MondayClient`] per account, built once with the API URL
//! and the pinned `API-Version` from configuration and the API token from the connection's secret.
//!
//! Every call is a GraphQL `POST` with `Authorization: <token>` (raw, as monday documents),
//! `API-Version` and `Content-Type: application/json` (monday notes §3). Queries live in
//! `queries/*.graphql` and are checked against `schema.graphql` (monday's published SDL for the
//! pinned version) at compile time by `graphql_client`, so a renamed or removed field fails the
//! build rather than a sync run.
//!
//! monday reports most failures, rate limits included, as HTTP 200 with an `errors` array;
//! `millwright-http` classifies those like any other failure, so complexity-budget errors are
//! retried after monday's `retry_in_seconds`, and auth, permission and query errors are not.
//!
//! Layout: `credentials` (the secret document), `client` (the client and its calls), `queries`
//! (the generated query types).

mod client;
mod credentials;
mod queries;

use domain::ErrorClass;
use millwright_http::HttpError;

pub use client::{Me, MondayClient};
pub use credentials::Credentials;

/// A failed monday.com call, or a client that could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The HTTP exchange failed, or monday answered with GraphQL errors; the message names the
    /// request, status or GraphQL code, class and attempts.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The secret document lacks a field or has a bad one; names the field, never its value.
    #[error("monday.com credentials: `{field}` {reason}")]
    Credentials { field: &'static str, reason: String },
    /// A successful response did not have the shape the query promised.
    #[error("monday.com {what}: the response body did not have the expected shape")]
    Decode {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// A configured value (API URL, API version) is unusable.
    #[error("monday.com configuration: {what} {reason}")]
    Config { what: &'static str, reason: String },
}

impl Error {
    /// What to do about it: HTTP and GraphQL failures as `millwright-http` classified them; a
    /// credential problem needs someone to fix the secret (auth); the rest need a code or
    /// configuration fix and will not pass on a retry (data).
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Http(error) => error.class(),
            Error::Credentials { .. } => ErrorClass::Auth,
            Error::Decode { .. } | Error::Config { .. } => ErrorClass::Data,
        }
    }
}
