//! Millwright's Plex clients: one [`PlexClient`] (Connect REST) and, for connections that write
//! through the tenant's data sources, one [`DataSourceClient`] per connection, each built once with
//! its base URL from configuration and the credentials from the connection's secret.
//!
//! Plex authenticates Connect requests with the `X-Plex-Connect-Api-Key` header (what Plex
//! documents, the default); the product description's OAuth2 client credentials are supported as
//! an opt-in mode with a cached Bearer token that is refreshed once when Plex answers 401 (Plex
//! notes §1, §2.2, §7.2, §7.8). With [`PlexClient::with_token_store`] the token is also shared by
//! every container of the connection through a [`TokenStore`] (one refresher at a time, refreshed
//! before it expires). `X-Plex-Connect-Tenant-Id` selects a non-default tenant. The Data Source API
//! takes HTTP Basic with a web-service user instead (§3).
//!
//! Plex sends no rate headers; `millwright-http` paces calls at 200 per minute (configurable
//! through a shared [`Pacer`](millwright_http::Pacer)), classifies every failure and retries.
//! Plex's JSON shapes stay in here and leave as this crate's own types; every Plex field is
//! optional (no schema field is `required`, §2.1).
//!
//! Writing a web order: [`PlexClient::find_sales_order_by_po`] first (the look-up that makes a
//! create whose outcome is in doubt safe), then [`PlexClient::create_sales_order`] (order, then a
//! line, a price and a release per order line), or [`PlexClient::complete_sales_order`] for an
//! order an earlier attempt left half-written. The client names every record it creates with its
//! own id, so a create that is retried after its answer was lost finds its record instead of
//! making a second one. [`DataSourceClient::create_sales_order_via_datasource`] does the same job
//! through the tenant's data sources.
//!
//! Reading stock: [`PlexClient::on_hand`] streams the one unpaged array of active containers and
//! sums it per part number and location over the connection's sellable statuses and locations
//! (memory stays flat in the array's length); [`PlexClient::container_adjustments`] lists what
//! changed in a window; [`PlexClient::locations`] the inventory locations.
//!
//! Layout: `credentials` (the secret document), `auth` (header auth, the OAuth2 token cache and its
//! shared store),
//! `client` (the Connect client and its request helpers), `mdm` (tenants' customers, addresses,
//! parts), `sales` (sales orders, lines, prices, releases), `inventory` (containers summed into
//! on-hand rows, container adjustments, locations), `json_array` (splitting a streamed top-level
//! JSON array into its elements), `datasource` (the Data Source API client), `ports` (the order
//! worker's `SalesOrderSink` over both), `wire` (Plex's date-time and number formats).

mod auth;
mod client;
mod credentials;
mod datasource;
mod inventory;
mod json_array;
mod mdm;
mod ports;
mod sales;
mod wire;

use domain::ErrorClass;
use millwright_http::HttpError;
use serde_json::Value;

pub use auth::{NO_SHARED_TOKEN, REFRESH_CLAIM, SharedToken, TokenStore};
pub use client::{PlexClient, Tenant};
pub use credentials::Credentials;
pub use datasource::{
    DataSourceClient, DataSourceHeader, DataSourceOrder, DataSourceOrderIds, DataSourceResult, DataSourceSalesOrder,
};
pub use inventory::{Adjustment, Location, OnHandSummary};
pub use mdm::{Customer, CustomerAddress, NewCustomer, NewCustomerAddress, Part};
pub use ports::{PlexSalesOrders, Writer, api_error};
pub use sales::{
    CreatedLine, CreatedSalesOrder, LinePrice, OrderDefaults, Release, ReleaseChange, SalesOrder, SalesOrderLine,
};

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
    /// A successful response did not have the shape this client expects. For a list read element
    /// by element (the containers), `element` is the index of the element that did not decode, or
    /// at which the body ended before the array closed (a cut-off body, which a later read may
    /// get whole: that one is transient).
    #[error("Plex {what}: {}", decode_problem(*.element, .source))]
    Decode {
        what: &'static str,
        element: Option<u64>,
        #[source]
        source: serde_json::Error,
    },
    /// A configured value (base URL, token URL, tenant id) is unusable.
    #[error("Plex configuration: {what} {reason}")]
    Config { what: &'static str, reason: String },
    /// Plex refused what was sent: a Connect validation failure (400, naming the field when Plex
    /// did, e.g. `CustomerId`), or a data source that reported `Result_Error`.
    #[error(
        "Plex refused {request}: {message}{}",
        .field.as_deref().map(|field| format!(" (field {field})")).unwrap_or_default()
    )]
    Rejected {
        /// `POST /sales/v1/orders`, or `data source 230854`.
        request: String,
        /// Plex's code (`REQUEST_VALIDATION_FAILED`) or the data source's `ResultCode`.
        code: Option<String>,
        /// The field Plex named, in Plex's spelling.
        field: Option<String>,
        message: String,
        #[source]
        source: Option<HttpError>,
    },
    /// The Data Source API answered with one of its error codes (Plex notes §3).
    #[error("Plex data source {id}: {code} ({class}): {source}")]
    DataSource {
        id: u64,
        code: String,
        class: ErrorClass,
        #[source]
        source: HttpError,
    },
    /// What Plex holds contradicts what the client was asked to complete (an existing order line
    /// with another part, two orders for one PO number).
    #[error("Plex {what}: {reason}")]
    Inconsistent { what: String, reason: String },
}

impl Error {
    /// What to do about it: HTTP failures as `millwright-http` classified them; a data source
    /// failure by its documented code; a credential problem needs someone to fix the secret
    /// (auth); the rest need a mapping, code or configuration fix and will not pass on a retry
    /// (data).
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Http(error) => error.class(),
            Error::DataSource { class, .. } => *class,
            Error::Credentials { .. } => ErrorClass::Auth,
            Error::Decode { source, .. } if is_cut_off(source) => ErrorClass::Transient,
            Error::Decode { .. } | Error::Config { .. } | Error::Rejected { .. } | Error::Inconsistent { .. } => {
                ErrorClass::Data
            }
        }
    }

    /// The field Plex named when it refused a request (`CustomerId`, `PartId`, ...).
    pub fn field(&self) -> Option<&str> {
        match self {
            Error::Rejected { field, .. } => field.as_deref(),
            _ => None,
        }
    }
}

/// Whether a decode error says the body ended early rather than had the wrong shape.
fn is_cut_off(source: &serde_json::Error) -> bool {
    source.is_eof() || source.io_error_kind() == Some(std::io::ErrorKind::UnexpectedEof)
}

fn decode_problem(element: Option<u64>, source: &serde_json::Error) -> String {
    match element {
        None if is_cut_off(source) => "the response body was cut off".to_owned(),
        None => "the response body did not have the expected shape".to_owned(),
        Some(index) if is_cut_off(source) => format!("the response body was cut off at element {index}"),
        Some(index) => format!("element {index} of the response did not have the expected shape"),
    }
}

/// Turns a Connect 400 into [`Error::Rejected`], reading Plex's validation body
/// (`{"code", "message", "errors": [{"code", "message", "metadata": {"field"} | [{"field"}]}]}`)
/// from the error's body excerpt; any other failure stays as it is.
pub(crate) fn rejected(request: String, error: HttpError) -> Error {
    if error.status().is_none_or(|status| status.as_u16() != 400) {
        return Error::Http(error);
    }
    let excerpt = error.body_excerpt().unwrap_or_default();
    let (code, message, field) = match serde_json::from_str::<Value>(excerpt) {
        Ok(document) => {
            let first = document.get("errors").and_then(|errors| errors.get(0));
            let text = |value: Option<&Value>| value.and_then(Value::as_str).map(str::to_owned);
            let metadata = first.and_then(|error| error.get("metadata"));
            let field = metadata.and_then(|metadata| {
                metadata.get("field").or_else(|| metadata.get(0).and_then(|item| item.get("field")))
            });
            (
                text(document.get("code")),
                text(first.and_then(|error| error.get("message"))).or_else(|| text(document.get("message"))),
                text(field),
            )
        }
        // A long body was cut to an excerpt; the field usually survives in the part kept.
        Err(_) => (None, None, quoted_after(excerpt, "\"field\":")),
    };
    Error::Rejected {
        request,
        code,
        field,
        message: message.unwrap_or_else(|| "the request failed validation".to_owned()),
        source: Some(error),
    }
}

/// The string value after `key` in JSON text (`"field":"CustomerId"` → `CustomerId`).
fn quoted_after(text: &str, key: &str) -> Option<String> {
    let rest = text[text.find(key)? + key.len()..].trim_start().strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_survives_in_a_cut_off_body() {
        let cut =
            r#"{"code":"REQUEST_VALIDATION_FAILED","errors":[{"metadata":{"field": "PartId"},"message":"The spec…"#;
        assert_eq!(quoted_after(cut, "\"field\":").as_deref(), Some("PartId"));
        assert_eq!(quoted_after("{}", "\"field\":"), None);
    }

    #[test]
    fn rejections_are_data_errors_that_name_the_field() {
        let error = Error::Rejected {
            request: "POST /sales/v1/orders".to_owned(),
            code: Some("REQUEST_VALIDATION_FAILED".to_owned()),
            field: Some("CustomerId".to_owned()),
            message: "The specified field attempts to reference data that does not exist.".to_owned(),
            source: None,
        };
        assert_eq!(error.class(), ErrorClass::Data);
        assert_eq!(error.field(), Some("CustomerId"));
        assert_eq!(
            error.to_string(),
            "Plex refused POST /sales/v1/orders: The specified field attempts to reference data that does not exist. \
             (field CustomerId)"
        );
    }
}
