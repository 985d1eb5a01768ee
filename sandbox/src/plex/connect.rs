//! Plex Connect endpoints. Each runs after admission, with the caller's [`ConnectContext`].
//!
//! Behaviour shared by every list (API notes §2.1 and §7.3):
//! - the answer is a bare JSON array: no paging, and unknown parameters (`limit`, typos) are ignored;
//! - parameter names match case-insensitively, and a repeated parameter means OR (`?id=a&id=b`);
//! - date-time parameters must match `YYYY-MM-DDThh:mm[:ss[.f{1,7}]]Z`, else 400 `ARGUMENT_INVALID`
//!   naming the field; `xxxBegin <= field <= xxxEnd`, both ends inclusive;
//! - an empty result is `200 []`, or 404 `RESOURCE_NOT_FOUND` when `empty_list_status` is 404.
//!
//! To add a list endpoint: a [`Filters`] table, a route in `Plex::api_router`, and a two-line handler
//! calling [`list`] (or [`get_one`]) with the resource from `model`.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::auth::ConnectContext;
use super::model::{CUSTOMERS, PARTS, Resource};
use super::{Plex, connect_error, resource_not_found};
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
fn argument_invalid(field: &str, provided: &str) -> Response {
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

fn query_pairs(raw: Option<String>) -> Result<Vec<(String, String)>, Response> {
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

/// The records that pass every filter given in the query.
fn select(
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
                field_text(record.get(*field)).is_some_and(|actual| wanted.contains(&actual.as_str()))
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
        return connect_error(StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND", "No data exists to return.");
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
    let query = match query_pairs(raw_query) {
        Ok(query) => query,
        Err(response) => return response,
    };
    let selected = {
        let state = lock(&plex.state);
        let records = state.tenant(&context.tenant_id).map(|tenant| tenant.records(resource)).unwrap_or_default();
        select(records, &query, filters)
    };
    match selected {
        Ok(records) => list_response(plex, records),
        Err(response) => response,
    }
}

/// One record of the caller's tenant by id, or 404.
pub(crate) fn get_one(plex: &Plex, context: &ConnectContext, resource: &Resource, id: &str) -> Response {
    let state = lock(&plex.state);
    let record = state.tenant(&context.tenant_id).and_then(|tenant| {
        tenant
            .records(resource)
            .iter()
            .find(|record| record.get("id").and_then(Value::as_str).is_some_and(|own| own.eq_ignore_ascii_case(id)))
    });
    match record {
        Some(record) => reply::json_as(StatusCode::OK, reply::JSON_UTF8, &Value::Object(record.clone())),
        None => resource_not_found(),
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
        assert!(select(&records, &query(&[("modifiedDateBegin", "2026-01-01")]), &CUSTOMER_FILTERS).is_err());
    }
}
