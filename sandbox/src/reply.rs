//! Small helpers for building JSON responses with the exact `Content-Type` each system sends.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// `application/json`, as BigCommerce and monday.com send it.
pub(crate) const JSON: &str = "application/json";
/// Plex Connect and the Data Source API add the charset.
pub(crate) const JSON_UTF8: &str = "application/json; charset=utf-8";

/// A JSON body with the given status and content type.
pub(crate) fn json_as(status: StatusCode, content_type: &'static str, body: &Value) -> Response {
    text_as(status, content_type, body.to_string())
}

/// Already-serialised JSON (e.g. pretty-printed) with the given status and content type.
pub(crate) fn text_as(status: StatusCode, content_type: &'static str, text: String) -> Response {
    let mut response = (status, text).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A body already serialised into one buffer (a large list written row by row, without building a
/// JSON tree first), with the given status and content type.
pub(crate) fn bytes_as(status: StatusCode, content_type: &'static str, bytes: Vec<u8>) -> Response {
    let mut response = (status, bytes).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A JSON body as `application/json`.
pub(crate) fn json(status: StatusCode, body: &Value) -> Response {
    json_as(status, JSON, body)
}

/// Sets a header from a value the sandbox built itself (numbers, fixed words), which is always valid.
pub(crate) fn set_header(response: &mut Response, name: &'static str, value: impl ToString) {
    if let Ok(value) = HeaderValue::try_from(value.to_string()) {
        response.headers_mut().insert(name, value);
    }
}
