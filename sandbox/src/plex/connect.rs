//! Plex Connect endpoints. Each runs after admission, with the caller's [`ConnectContext`].
//!
//! Behaviour shared by every list (API notes §2.1 and §7.3):
//! - the answer is a bare JSON array: no paging, and unknown parameters (`limit`, typos) are ignored;
//! - parameter names match case-insensitively, and a repeated parameter means OR (`?id=a&id=b`);
//! - date-time parameters must match `YYYY-MM-DDThh:mm[:ss[.f{1,7}]]Z`, else 400 `ARGUMENT_INVALID`
//!   naming the field; `xxxBegin <= field <= xxxEnd`, both ends inclusive;
//! - an empty result is `200 []`, or 404 `RESOURCE_NOT_FOUND` when `empty_list_status` is 404.
//!
//! - ids (`id`, `customerId`, ...) and booleans compare case-insensitively, as UUIDs and flags do.
//!
//! To add a list endpoint: a [`Filters`] table, a route in `Plex::api_router`, and a two-line handler
//! calling [`list`] (or [`get_one`]) with the resource from `model`; a sub-resource list (an order's
//! lines) selects its records and calls [`list_records`]. Writes go through `store`.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::auth::ConnectContext;
use super::model::{CUSTOMERS, PARTS, Resource, Tenant, has_id};
use super::store::{self, Rejection};
use super::{Plex, connect_error, no_data, resource_not_found};
use crate::{lock, reply};

/// The filters a list endpoint understands.
pub(crate) struct Filters {
    /// `(query parameter, record field)` pairs compared for equality.
    pub equals: &'static [(&'static str, &'static str)],
    /// `(begin parameter, end parameter, record field)` date windows.
    pub date_windows: &'static [(&'static str, &'static str, &'static str)],
}

/// `GET /mdm/v1/tenants` (`idList[]`, `code`, `codeList[]`).
const TENANT_FILTERS: Filters =
    Filters { equals: &[("idList", "id"), ("code", "code"), ("codeList", "code")], date_windows: &[] };

/// `GET /mdm/v1/customers`.
const CUSTOMER_FILTERS: Filters = Filters {
    equals: &[
        ("id", "id"),
        ("code", "code"),
        ("name", "name"),
        ("status", "status"),
        ("type", "type"),
        ("otherCustomerCode", "otherCustomerCode"),
        ("rating", "rating"),
        ("region", "region"),
        ("category", "category"),
        ("class", "class"),
        ("catalog", "catalog"),
    ],
    date_windows: &[("modifiedDateBegin", "modifiedDateEnd", "modifiedDate")],
};

/// `GET /mdm/v1/customers/{customerId}/addresses`.
const ADDRESS_FILTERS: Filters = Filters {
    equals: &[
        ("id", "id"),
        ("code", "code"),
        ("quoteTo", "quoteTo"),
        ("shipTo", "shipTo"),
        ("billTo", "billTo"),
        ("remitTo", "remitTo"),
        ("thirdPartyShipTo", "thirdPartyShipTo"),
        ("pool", "pool"),
        ("oldCustomerNo", "oldCustomerNo"),
        ("active", "active"),
    ],
    date_windows: &[("modifiedDateBegin", "modifiedDateEnd", "modifiedDate")],
};

/// `GET /mdm/v1/parts`: no date filter exists on this endpoint.
const PART_FILTERS: Filters = Filters {
    equals: &[
        ("id", "id"),
        ("number", "number"),
        ("revision", "revision"),
        ("type", "type"),
        ("status", "status"),
        ("source", "source"),
        ("productType", "productType"),
    ],
    date_windows: &[],
};

/// Whether `text` has the shape Plex accepts for date-times: `YYYY-MM-DDThh:mm[:ss[.f{1,7}]]Z`.
fn has_plex_datetime_shape(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits =
        |range: std::ops::Range<usize>| bytes.get(range).is_some_and(|part| part.iter().all(u8::is_ascii_digit));
    let head = bytes.len() >= 17
        && digits(0..4)
        && bytes[4] == b'-'
        && digits(5..7)
        && bytes[7] == b'-'
        && digits(8..10)
        && bytes[10] == b'T'
        && digits(11..13)
        && bytes[13] == b':'
        && digits(14..16);
    if !head {
        return false;
    }
    match &bytes[16..] {
        b"Z" => true,
        [b':', rest @ ..] => match rest {
            [second_tens, second_units, b'Z'] => second_tens.is_ascii_digit() && second_units.is_ascii_digit(),
            [second_tens, second_units, b'.', fraction @ .., b'Z'] => {
                second_tens.is_ascii_digit()
                    && second_units.is_ascii_digit()
                    && (1..=7).contains(&fraction.len())
                    && fraction.iter().all(u8::is_ascii_digit)
            }
            _ => false,
        },
        _ => false,
    }
}

/// Parses a Plex date-time parameter; `None` when its shape or its calendar values are wrong.
pub(crate) fn parse_plex_datetime(text: &str) -> Option<DateTime<Utc>> {
    if !has_plex_datetime_shape(text) {
        return None;
    }
    // Seconds are optional in Plex but not in RFC 3339.
    let full = if text.len() == 17 { format!("{}:00Z", &text[..16]) } else { text.to_owned() };
    DateTime::parse_from_rfc3339(&full).ok().map(|instant| instant.with_timezone(&Utc))
}

/// A stored record's date: Plex-shaped, or any RFC 3339 a seed used.
fn record_datetime(value: &Value) -> Option<DateTime<Utc>> {
    let text = value.as_str()?;
    parse_plex_datetime(text)
        .or_else(|| DateTime::parse_from_rfc3339(text).ok().map(|instant| instant.with_timezone(&Utc)))
}

/// 400 `ARGUMENT_INVALID` for a date-time parameter, with the metadata shape of the Connect spec.
pub(crate) fn argument_invalid(field: &str, provided: &str) -> Response {
    let message = format!("The value of '{field}' must be a UTC date-time like 2026-01-31T23:59:59Z.");
    let body = json!({
        "code": "ARGUMENT_INVALID",
        "message": "One or more arguments are invalid.",
        "errors": [{
            "code": "ARGUMENT_INVALID",
            "message": message,
            "metadata": [{ "field": field, "providedValues": [provided] }],
        }],
    });
    reply::json_as(StatusCode::BAD_REQUEST, reply::JSON_UTF8, &body)
}

pub(crate) fn query_pairs(raw: Option<String>) -> Result<Vec<(String, String)>, Response> {
    match raw {
        None => Ok(Vec::new()),
        Some(raw) => serde_urlencoded::from_str(&raw).map_err(|_| {
            connect_error(StatusCode::BAD_REQUEST, "REQUEST_MALFORMED", "The query string could not be read.")
        }),
    }
}

/// A record field as the text a filter compares against.
fn field_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// Whether a filter value matches a record's value: ids (UUIDs) and flags ignore case.
fn matches(field: &str, actual: &str, wanted: &str) -> bool {
    let caseless = field == "id" || field.ends_with("Id") || matches!(actual, "true" | "false");
    if caseless { actual.eq_ignore_ascii_case(wanted) } else { actual == wanted }
}

/// The records that pass every filter given in the query.
pub(crate) fn select(
    records: &[Map<String, Value>],
    query: &[(String, String)],
    filters: &Filters,
) -> Result<Vec<Map<String, Value>>, Response> {
    let values_of = |parameter: &str| -> Vec<&str> {
        query.iter().filter(|(name, _)| name.eq_ignore_ascii_case(parameter)).map(|(_, value)| value.as_str()).collect()
    };
    let mut windows = Vec::new();
    for (begin, end, field) in filters.date_windows {
        let bound = |parameter: &str| -> Result<Option<DateTime<Utc>>, Response> {
            match values_of(parameter).first() {
                None => Ok(None),
                Some(provided) => {
                    parse_plex_datetime(provided).map(Some).ok_or_else(|| argument_invalid(parameter, provided))
                }
            }
        };
        let from = bound(begin)?;
        let to = bound(end)?;
        if from.is_some() || to.is_some() {
            windows.push((*field, from, to));
        }
    }
    let equals: Vec<(&str, Vec<&str>)> = filters
        .equals
        .iter()
        .map(|(parameter, field)| (*field, values_of(parameter)))
        .filter(|(_, wanted)| !wanted.is_empty())
        .collect();

    Ok(records
        .iter()
        .filter(|record| {
            equals.iter().all(|(field, wanted)| {
                field_text(record.get(*field))
                    .is_some_and(|actual| wanted.iter().any(|wanted| matches(field, &actual, wanted)))
            })
        })
        .filter(|record| {
            windows.iter().all(|(field, from, to)| {
                record
                    .get(*field)
                    .and_then(record_datetime)
                    .is_some_and(|instant| from.is_none_or(|from| instant >= from) && to.is_none_or(|to| instant <= to))
            })
        })
        .cloned()
        .collect())
}

/// A list answer, honouring `empty_list_status`.
fn list_response(plex: &Plex, records: Vec<Map<String, Value>>) -> Response {
    if records.is_empty() && lock(&plex.state).config.empty_list_status == 404 {
        return no_data();
    }
    let body = Value::Array(records.into_iter().map(Value::Object).collect());
    reply::json_as(StatusCode::OK, reply::JSON_UTF8, &body)
}

/// Lists one resource of the caller's tenant.
pub(crate) fn list(
    plex: &Plex,
    context: &ConnectContext,
    resource: &Resource,
    filters: &Filters,
    raw_query: Option<String>,
) -> Response {
    let records = {
        let state = lock(&plex.state);
        state.tenant(&context.tenant_id).map(|tenant| tenant.records(resource).to_vec()).unwrap_or_default()
    };
    list_records(plex, &records, filters, raw_query)
}

/// Lists records a handler picked (a sub-resource's), filtered by the query.
pub(crate) fn list_records(
    plex: &Plex,
    records: &[Map<String, Value>],
    filters: &Filters,
    raw_query: Option<String>,
) -> Response {
    let query = match query_pairs(raw_query) {
        Ok(query) => query,
        Err(response) => return response,
    };
    match select(records, &query, filters) {
        Ok(records) => list_response(plex, records),
        Err(response) => response,
    }
}

/// One record of the caller's tenant by id, or 404.
pub(crate) fn get_one(plex: &Plex, context: &ConnectContext, resource: &Resource, id: &str) -> Response {
    let state = lock(&plex.state);
    match state.tenant(&context.tenant_id).and_then(|tenant| tenant.find(resource, id)) {
        Some(record) => reply::json_as(StatusCode::OK, reply::JSON_UTF8, &Value::Object(record.clone())),
        None => resource_not_found(),
    }
}

/// Reads a request body as a JSON object, or answers 400 `REQUEST_MALFORMED`.
pub(crate) fn json_object(body: &Bytes) -> Result<Map<String, Value>, Response> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(fields)) => Ok(fields),
        _ => {
            Err(connect_error(StatusCode::BAD_REQUEST, "REQUEST_MALFORMED", "The request body must be a JSON object."))
        }
    }
}

/// Runs a write against the caller's tenant and answers with the record it returns (`status`)
/// or with the rejection.
pub(crate) fn write(
    plex: &Plex,
    context: &ConnectContext,
    status: StatusCode,
    body: &Bytes,
    operation: impl FnOnce(&mut Tenant, &Map<String, Value>, DateTime<Utc>) -> Result<Map<String, Value>, Rejection>,
) -> Response {
    let body = match json_object(body) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let now = plex.common.clock.now();
    let mut state = lock(&plex.state);
    let Some(tenant) = state.tenant_mut(&context.tenant_id) else {
        return resource_not_found();
    };
    match operation(tenant, &body, now) {
        Ok(record) => reply::json_as(status, reply::JSON_UTF8, &Value::Object(record)),
        Err(rejection) => rejection.response(),
    }
}

/// `GET /mdm/v1/tenants`: the auth canary; lists the tenants the credential may select.
pub(crate) async fn list_tenants(
    State(plex): State<Arc<Plex>>,
    Extension(context): Extension<ConnectContext>,
    RawQuery(raw_query): RawQuery,
) -> Response {
    let query = match query_pairs(raw_query) {
        Ok(query) => query,
        Err(response) => return response,
    };
    let tenants: Vec<Map<String, Value>> = {
        let state = lock(&plex.state);
        context
            .visible_tenants
            .iter()
            .filter_map(|id| state.tenant(id))
            .filter_map(|tenant| json!({ "id": tenant.id, "code": tenant.code }).as_object().cloned())
            .collect()
    };
    match select(&tenants, &query, &TENANT_FILTERS) {
        Ok(records) => list_response(&plex, records),
        Err(response) => response,
    }
}

/// `GET /mdm/v1/customers`.
pub(crate) async fn list_customers(
    State(plex): State<Arc<Plex>>,
    Extension(context): Extension<ConnectContext>,
    RawQuery(raw_query): RawQuery,
) -> Response {
    list(&plex, &context, &CUSTOMERS, &CUSTOMER_FILTERS, raw_query)
}

/// `GET /mdm/v1/customers/{id}`.
pub(crate) async fn get_customer(
    State(plex): State<Arc<Plex>>,
    Extension(context): Extension<ConnectContext>,
    Path(id): Path<String>,
) -> Response {
    get_one(&plex, &context, &CUSTOMERS, &id)
}

/// `POST /mdm/v1/customers` → 201 (the order worker may create web customers).
pub(crate) async fn create_customer(
    State(plex): State<Arc<Plex>>,
    Extension(context): Extension<ConnectContext>,
    body: Bytes,
) -> Response {
    write(&plex, &context, StatusCode::CREATED, &body, store::create_customer)
}

/// `GET /mdm/v1/customers/{customerId}/addresses` (`shipTo`, `billTo`, `active`, ...); 404 when
/// the customer is unknown.
pub(crate) async fn list_addresses(
    State(plex): State<Arc<Plex>>,
    Extension(context): Extension<ConnectContext>,
    Path(customer_id): Path<String>,
    RawQuery(raw_query): RawQuery,
) -> Response {
    let addresses = {
        let state = lock(&plex.state);
        let Some(tenant) =
            state.tenant(&context.tenant_id).filter(|tenant| tenant.find(&CUSTOMERS, &customer_id).is_some())
        else {
            return resource_not_found();
        };
        store::addresses_of(tenant, &customer_id).to_vec()
    };
    list_records(&plex, &addresses, &ADDRESS_FILTERS, raw_query)
}

/// `GET /mdm/v1/customers/{customerId}/addresses/{addressId}`.
pub(crate) async fn get_address(
    State(plex): State<Arc<Plex>>,
    Extension(context): Extension<ConnectContext>,
    Path((customer_id, address_id)): Path<(String, String)>,
) -> Response {
    let state = lock(&plex.state);
    let address = state.tenant(&context.tenant_id).and_then(|tenant| {
        store::addresses_of(tenant, &customer_id).iter().find(|address| has_id(address, &address_id))
    });
    match address {
        Some(address) => reply::json_as(StatusCode::OK, reply::JSON_UTF8, &Value::Object(address.clone())),
        None => resource_not_found(),
    }
}

/// `POST /mdm/v1/customers/{customerId}/addresses` → 201.
pub(crate) async fn create_address(
    State(plex): State<Arc<Plex>>,
    Extension(context): Extension<ConnectContext>,
    Path(customer_id): Path<String>,
    body: Bytes,
) -> Response {
    write(&plex, &context, StatusCode::CREATED, &body, |tenant, body, now| {
        store::create_address(tenant, &customer_id, body, now)
    })
}

/// `GET /mdm/v1/parts`: the SKU → part lookup (`?number=`).
pub(crate) async fn list_parts(
    State(plex): State<Arc<Plex>>,
    Extension(context): Extension<ConnectContext>,
    RawQuery(raw_query): RawQuery,
) -> Response {
    list(&plex, &context, &PARTS, &PART_FILTERS, raw_query)
}

/// `GET /mdm/v1/parts/{id}`.
pub(crate) async fn get_part(
    State(plex): State<Arc<Plex>>,
    Extension(context): Extension<ConnectContext>,
    Path(id): Path<String>,
) -> Response {
    get_one(&plex, &context, &PARTS, &id)
}

/// Any other Connect path, for an authenticated caller: guessed paths 404 on the real API too.
pub(crate) async fn not_found() -> Response {
    resource_not_found()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_times_follow_the_documented_pattern() {
        for good in
            ["2026-01-01T00:00Z", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00.1Z", "2026-01-01T00:00:00.1234567Z"]
        {
            assert!(parse_plex_datetime(good).is_some(), "{good}");
        }
        for bad in [
            "2026-01-01",
            "2026-01-01T00:00:00",
            "2026-01-01 00:00:00Z",
            "2026-01-01T00:00:00.12345678Z",
            "2026-01-01T00:00:00+00:00",
            "2026-01-01T00:00.5Z",
            "2026-13-01T00:00:00Z",
        ] {
            assert!(parse_plex_datetime(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn filters_or_repeated_values_and_bound_dates_inclusively() {
        let records: Vec<Map<String, Value>> = [
            json!({"id": "a", "code": "X", "modifiedDate": "2026-01-01T00:00:00Z"}),
            json!({"id": "b", "code": "Y", "modifiedDate": "2026-01-02T00:00:00.5Z"}),
            json!({"id": "c", "code": "Z", "modifiedDate": null}),
        ]
        .into_iter()
        .filter_map(|record| record.as_object().cloned())
        .collect();
        let query = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect()
        };
        let ids = |selected: Vec<Map<String, Value>>| -> Vec<String> {
            selected.iter().filter_map(|record| record["id"].as_str().map(str::to_owned)).collect()
        };
        let picked = select(&records, &query(&[("CODE", "X"), ("code", "Z"), ("limit", "1")]), &CUSTOMER_FILTERS);
        assert_eq!(ids(picked.ok().unwrap()), ["a", "c"]);
        let window = [("modifiedDateBegin", "2026-01-01T00:00Z"), ("modifiedDateEnd", "2026-01-02T00:00:00.5Z")];
        assert_eq!(ids(select(&records, &query(&window), &CUSTOMER_FILTERS).ok().unwrap()), ["a", "b"]);
        assert_eq!(ids(select(&records, &query(&[("ID", "B")]), &CUSTOMER_FILTERS).ok().unwrap()), ["b"]);
        assert!(select(&records, &query(&[("code", "x")]), &CUSTOMER_FILTERS).ok().unwrap().is_empty());
        assert!(select(&records, &query(&[("modifiedDateBegin", "2026-01-01")]), &CUSTOMER_FILTERS).is_err());
    }
}
