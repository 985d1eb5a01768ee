//! The Plex Data Source API: `POST /api/datasources/{id}/execute[?format=2][&pretty=true]` plus the
//! metadata reads `GET /api/datasources/{id}` and `GET /api/datasources/search?name=`.
//!
//! Authentication is HTTP Basic with a web-service user, never the Connect key. Checks, in order:
//! method (405 `METHOD_NOT_ALLOWED`), user (401 `USER_ACCESS_DENIED`), data source id
//! (400 `DATA_SOURCE_NOT_FOUND`; the documented list has no 404), grant (403
//! `DATA_SOURCE_ACCESS_DENIED`), then each input against the registered definitions: unknown name
//! (`DATA_SOURCE_INPUT_NOT_FOUND`), wrong JSON type (`DATA_SOURCE_INPUT_TYPE_MISMATCH`), badly
//! formatted date, time or uuid (`DATA_SOURCE_INPUT_FORMAT_INVALID`), `null` where not nullable
//! (`DATA_SOURCE_INPUT_NOT_NULLABLE`), a required one missing (`DATA_SOURCE_INPUT_REQUIRED`); all 400.
//!
//! The default request is `{"inputs": {...}}` and the answer has one table of column names and row
//! arrays; with `format=2` the request is the flat inputs object and the answer has row objects.
//! Every answer, errors included, carries a string `transactionNo`.
//!
//! A data source with a `procedure` runs it against the user's tenant (`procedures`) instead of
//! returning its fixed rows; a procedure that writes answers with an empty result table. A user
//! whose tenant does not exist gets 403 `CUSTOMER_ACCESS_DENIED`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::Plex;
use super::auth::basic_credentials;
use super::connect::parse_plex_datetime;
use super::model::{InputDef, InputType};
use super::procedures;
use crate::{lock, reply};

/// A Data Source error body.
pub(crate) fn error(status: StatusCode, code: &str, message: &str, transaction_no: &str) -> Response {
    let body = json!({ "errors": [{ "code": code, "message": message }], "transactionNo": transaction_no });
    reply::json_as(status, reply::JSON_UTF8, &body)
}

/// The web-service user a request authenticated as.
struct Caller {
    /// Data source ids the user may execute; every one when empty.
    granted: Vec<u64>,
    /// The tenant the account is bound to (id or code); the default tenant when `None`.
    tenant: Option<String>,
}

/// Checks the Basic credentials; on failure returns the 401 to send.
fn authenticate(plex: &Plex, headers: &HeaderMap) -> Result<Caller, Response> {
    let mut state = lock(&plex.state);
    let granted = basic_credentials(headers).and_then(|(username, password)| {
        state
            .datasource_users
            .get(&username)
            .filter(|user| user.password == password)
            .map(|user| Caller { granted: user.datasources.clone(), tenant: user.tenant.clone() })
    });
    granted.ok_or_else(|| {
        let transaction_no = state.next_transaction_no();
        let mut response = error(
            StatusCode::UNAUTHORIZED,
            "USER_ACCESS_DENIED",
            "The user name or password is not valid.",
            &transaction_no,
        );
        reply::set_header(&mut response, "www-authenticate", "Basic realm=\"Plex\"");
        response
    })
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ExecuteParams {
    #[serde(default)]
    format: Option<u8>,
    #[serde(default)]
    pretty: Option<bool>,
}

/// `/api/datasources/{id}/execute`, any method (only POST is allowed).
pub(crate) async fn execute(
    State(plex): State<Arc<Plex>>,
    method: Method,
    Path(id): Path<String>,
    Query(params): Query<ExecuteParams>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method != Method::POST {
        let transaction_no = lock(&plex.state).next_transaction_no();
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "Data sources are executed with POST.",
            &transaction_no,
        );
    }
    let caller = match authenticate(&plex, &headers) {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let now = plex.common.clock.now();
    let mut state = lock(&plex.state);
    let transaction_no = state.next_transaction_no();
    let fail = |status: StatusCode, code: &str, message: String| error(status, code, &message, &transaction_no);

    // A copy, so a procedure can change the state it was registered in.
    let Some(datasource) = id.parse::<u64>().ok().and_then(|key| state.datasources.get(&key)).cloned() else {
        return fail(StatusCode::BAD_REQUEST, "DATA_SOURCE_NOT_FOUND", format!("Data source '{id}' was not found."));
    };
    if !caller.granted.is_empty() && !caller.granted.contains(&datasource.id) {
        return fail(
            StatusCode::FORBIDDEN,
            "DATA_SOURCE_ACCESS_DENIED",
            format!("You do not have access to data source '{}'.", datasource.id),
        );
    }

    let flat = params.format == Some(2);
    let document: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(document) => document,
            Err(_) => {
                return fail(
                    StatusCode::BAD_REQUEST,
                    "DATA_SOURCE_INPUT_FORMAT_INVALID",
                    "The request body is not valid JSON.".to_owned(),
                );
            }
        }
    };
    let inputs = match (&document, flat) {
        (Value::Object(fields), true) => Some(fields.clone()),
        (Value::Object(fields), false) => match fields.get("inputs") {
            None | Some(Value::Null) => Some(Map::new()),
            Some(Value::Object(inputs)) => Some(inputs.clone()),
            Some(_) => None,
        },
        _ => None,
    };
    let Some(inputs) = inputs else {
        let expected = if flat { "a JSON object of inputs" } else { "{\"inputs\": {...}}" };
        return fail(
            StatusCode::BAD_REQUEST,
            "DATA_SOURCE_INPUT_FORMAT_INVALID",
            format!("The request body must be {expected}."),
        );
    };
    if let Err((code, message)) = validate_inputs(&datasource.inputs, &inputs) {
        return fail(StatusCode::BAD_REQUEST, code, message);
    }

    let (columns, rows, outputs) = match datasource.procedure {
        None => (
            datasource.columns.clone(),
            matching_rows(&datasource.columns, &datasource.rows, &inputs),
            datasource.outputs,
        ),
        Some(procedure) => {
            let Some(tenant) = state.datasource_tenant_mut(caller.tenant.as_deref()) else {
                return fail(
                    StatusCode::FORBIDDEN,
                    "CUSTOMER_ACCESS_DENIED",
                    "The user's account has no access to a tenant.".to_owned(),
                );
            };
            let outcome = procedures::run(procedure, &datasource.outputs, tenant, &inputs, now);
            (outcome.columns, outcome.rows, outcome.outputs)
        }
    };
    let row_limit = state.config.datasource_row_limit;
    let body = render(&columns, rows, &outputs, row_limit, flat, &transaction_no);
    let text = if params.pretty == Some(true) {
        serde_json::to_string_pretty(&body).unwrap_or_default()
    } else {
        body.to_string()
    };
    reply::text_as(StatusCode::OK, reply::JSON_UTF8, text)
}

/// Checks every input against the data source's definitions (see the module docs for the codes).
fn validate_inputs(definitions: &[InputDef], inputs: &Map<String, Value>) -> Result<(), (&'static str, String)> {
    for (name, value) in inputs {
        // Input names are case-sensitive and must match the metadata.
        let Some(definition) = definitions.iter().find(|definition| &definition.name == name) else {
            return Err(("DATA_SOURCE_INPUT_NOT_FOUND", format!("The input '{name}' was not found.")));
        };
        if value.is_null() {
            if !definition.nullable {
                return Err(("DATA_SOURCE_INPUT_NOT_NULLABLE", format!("The input '{name}' cannot be null.")));
            }
            continue;
        }
        check_type(definition, value)?;
    }
    for definition in definitions.iter().filter(|definition| definition.required) {
        if !inputs.contains_key(&definition.name) {
            return Err(("DATA_SOURCE_INPUT_REQUIRED", format!("The input '{}' is required.", definition.name)));
        }
    }
    Ok(())
}

fn check_type(definition: &InputDef, value: &Value) -> Result<(), (&'static str, String)> {
    let name = &definition.name;
    let mismatch = || {
        ("DATA_SOURCE_INPUT_TYPE_MISMATCH", format!("The input '{name}' must be of type {:?}.", definition.input_type))
    };
    let malformed =
        |what: &str| ("DATA_SOURCE_INPUT_FORMAT_INVALID", format!("The input '{name}' is not a valid {what}."));
    let integer_in = |low: i64, high: i64| value.as_i64().is_some_and(|number| (low..=high).contains(&number));
    match definition.input_type {
        InputType::String | InputType::Blob => value.is_string().then_some(()).ok_or_else(mismatch),
        InputType::Bool => value.is_boolean().then_some(()).ok_or_else(mismatch),
        InputType::Int16 => integer_in(i16::MIN.into(), i16::MAX.into()).then_some(()).ok_or_else(mismatch),
        InputType::Int32 => integer_in(i32::MIN.into(), i32::MAX.into()).then_some(()).ok_or_else(mismatch),
        InputType::Int64 => value.is_i64().then_some(()).ok_or_else(mismatch),
        InputType::Float | InputType::Double => value.is_number().then_some(()).ok_or_else(mismatch),
        // Decimals travel as numbers or, to keep precision, as numeric strings.
        InputType::Decimal => match value {
            Value::Number(_) => Ok(()),
            Value::String(text) if text.parse::<f64>().is_ok() => Ok(()),
            Value::String(_) => Err(malformed("decimal")),
            _ => Err(mismatch()),
        },
        InputType::Date => match value.as_str() {
            Some(text) if parse_plex_datetime(text).is_some() => Ok(()),
            Some(_) => Err(malformed("date (YYYY-MM-DDThh:mm:ssZ)")),
            None => Err(mismatch()),
        },
        InputType::Time => match value.as_str() {
            Some(text)
                if chrono::NaiveTime::parse_from_str(text, "%H:%M:%S").is_ok()
                    || chrono::NaiveTime::parse_from_str(text, "%H:%M").is_ok() =>
            {
                Ok(())
            }
            Some(_) => Err(malformed("time (hh:mm[:ss])")),
            None => Err(mismatch()),
        },
        InputType::Uuid => match value.as_str() {
            Some(text) if uuid::Uuid::parse_str(text).is_ok() => Ok(()),
            Some(_) => Err(malformed("uuid")),
            None => Err(mismatch()),
        },
    }
}

/// A read data source's rows whose columns match every non-null input named like a column.
fn matching_rows(columns: &[String], rows: &[Vec<Value>], inputs: &Map<String, Value>) -> Vec<Vec<Value>> {
    let filters: Vec<(usize, &Value)> = inputs
        .iter()
        .filter(|(_, value)| !value.is_null())
        .filter_map(|(name, value)| columns.iter().position(|column| column == name).map(|index| (index, value)))
        .collect();
    rows.iter().filter(|row| filters.iter().all(|(index, value)| row.get(*index) == Some(*value))).cloned().collect()
}

/// The answer body in the requested format; at most one table, as Plex sends; none when the
/// data source has no columns (a write).
fn render(
    columns: &[String],
    rows: Vec<Vec<Value>>,
    outputs: &Map<String, Value>,
    row_limit: Option<usize>,
    flat: bool,
    transaction_no: &str,
) -> Value {
    let limit = row_limit.unwrap_or(usize::MAX);
    let row_limit_exceeded = rows.len() > limit;
    let rows = rows.into_iter().take(limit);
    if flat {
        let rows: Vec<Value> = rows
            .map(|row| {
                let object: Map<String, Value> = columns.iter().cloned().zip(row).collect();
                Value::Object(object)
            })
            .collect();
        json!({
            "outputs": outputs,
            "rows": rows,
            "rowLimitExceeded": row_limit_exceeded,
            "transactionNo": transaction_no,
        })
    } else {
        let tables = if columns.is_empty() {
            json!([])
        } else {
            json!([{
                "columns": columns,
                "rows": rows.collect::<Vec<_>>(),
                "rowLimitExceeded": row_limit_exceeded,
            }])
        };
        json!({ "outputs": outputs, "tables": tables, "transactionNo": transaction_no })
    }
}

/// `GET /api/datasources/{id}`: the metadata of one data source.
pub(crate) async fn describe(State(plex): State<Arc<Plex>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    if let Err(response) = authenticate(&plex, &headers) {
        return response;
    }
    let mut state = lock(&plex.state);
    let found = id.parse::<u64>().ok().and_then(|key| state.datasources.get(&key)).map(|datasource| {
        json!({
            "id": datasource.id,
            "name": datasource.name,
            "description": datasource.description,
            "inputs": datasource.inputs,
            "outputs": datasource.outputs.keys().collect::<Vec<_>>(),
            "columns": datasource.columns,
        })
    });
    match found {
        Some(metadata) => reply::json_as(StatusCode::OK, reply::JSON_UTF8, &metadata),
        None => {
            let transaction_no = state.next_transaction_no();
            error(
                StatusCode::BAD_REQUEST,
                "DATA_SOURCE_NOT_FOUND",
                &format!("Data source '{id}' was not found."),
                &transaction_no,
            )
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct SearchParams {
    #[serde(default)]
    name: String,
}

/// `GET /api/datasources/search?name=`: data sources whose name contains the text.
pub(crate) async fn search(
    State(plex): State<Arc<Plex>>,
    Query(params): Query<SearchParams>,
    headers: HeaderMap,
) -> Response {
    if let Err(response) = authenticate(&plex, &headers) {
        return response;
    }
    let wanted = params.name.to_lowercase();
    let state = lock(&plex.state);
    let found: Vec<Value> = state
        .datasources
        .values()
        .filter(|datasource| datasource.name.to_lowercase().contains(&wanted))
        .map(
            |datasource| json!({ "id": datasource.id, "name": datasource.name, "description": datasource.description }),
        )
        .collect();
    reply::json_as(StatusCode::OK, reply::JSON_UTF8, &Value::Array(found))
}
