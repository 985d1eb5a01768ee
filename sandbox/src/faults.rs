//! Fault injection: rules registered through `POST /__control/faults` that make a double misbehave.
//!
//! A rule matches on method and path, lets its first `skip` matches through, then fires on every
//! match, on a random `fraction` of them, or at most `times` times, and names a [`Fault`]. The
//! table is consulted once per API request, before authentication and rate limiting (so a
//! `rate_limit` fault answers even a request whose own quota is fine), and a firing rule is
//! counted down under the table's lock, so concurrent requests can never spend one `times` slot
//! twice.
//!
//! Faults that need the system's own wording (`rate_limit`, `unauthorized`, `forbidden`, a JSON
//! `server_error`) are rendered by the double (see `Double::render_fault`); the rest look the same
//! everywhere and are rendered here.

use std::collections::BTreeMap;
use std::sync::Mutex;

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::lock;

/// The longest `delay` accepted; longer would only hang a test run.
const MAX_DELAY_MS: u64 = 10 * 60 * 1000;

/// What a matching request gets instead of (or on top of) its normal answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Fault {
    /// 429 with the system's rate-limit headers and body.
    RateLimit {
        /// Overrides the wait the double would advertise.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_seconds: Option<u64>,
    },
    /// 429 with no rate-limit headers and an empty body: "platform load", back off blindly.
    RateLimitNoHeaders,
    /// A 5xx; 500 carries the system's JSON error by default, 502/503/504 a gateway's HTML page.
    ServerError {
        #[serde(default = "default_server_error_status")]
        status: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<ErrorBody>,
    },
    /// Waits `ms` (meant to outlast the client's timeout), then answers normally.
    Delay { ms: u64 },
    /// 401 as if the credential had just expired.
    Unauthorized,
    /// 403 with the system's "not allowed" body.
    Forbidden,
    /// The normal status and headers with the body cut off halfway.
    TruncatedBody,
    /// Any response at all, for oddities the presets do not cover.
    Custom {
        status: u16,
        #[serde(default)]
        headers: BTreeMap<String, String>,
        /// A JSON value (sent as JSON) or a string (sent as is).
        #[serde(default)]
        body: Value,
    },
}

fn default_server_error_status() -> u16 {
    500
}

/// The body of an injected `server_error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ErrorBody {
    /// The system's own JSON error document.
    Json,
    /// An HTML error page, as a load balancer or gateway sends.
    Html,
    Empty,
}

impl Fault {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Fault::RateLimit { .. } => "rate_limit",
            Fault::RateLimitNoHeaders => "rate_limit_no_headers",
            Fault::ServerError { .. } => "server_error",
            Fault::Delay { .. } => "delay",
            Fault::Unauthorized => "unauthorized",
            Fault::Forbidden => "forbidden",
            Fault::TruncatedBody => "truncated_body",
            Fault::Custom { .. } => "custom",
        }
    }

    fn validate(&self) -> Result<(), String> {
        match self {
            Fault::ServerError { status, .. } if !(500..=599).contains(status) => {
                Err(format!("server_error status must be 5xx, got {status}"))
            }
            Fault::Delay { ms } if *ms > MAX_DELAY_MS => Err(format!("delay ms must be at most {MAX_DELAY_MS}")),
            Fault::Custom { status, .. } if StatusCode::from_u16(*status).is_err() || *status < 200 => {
                Err(format!("custom status {status} is not a valid final HTTP status"))
            }
            _ => Ok(()),
        }
    }
}

/// The body of `POST /__control/faults`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FaultRequest {
    /// Only requests with this method (any method when absent).
    #[serde(default)]
    method: Option<String>,
    /// Only paths starting with this.
    #[serde(default)]
    path_prefix: Option<String>,
    /// Only paths containing this (handy for BigCommerce, where the store hash leads the path).
    #[serde(default)]
    path_contains: Option<String>,
    /// Fire at most this many times, then retire the rule (unlimited when absent).
    #[serde(default)]
    times: Option<u64>,
    /// Let this many matching requests through untouched before the rule may fire ("the second
    /// write fails": `skip: 1`); they are not counted against `times` or drawn for `fraction`.
    #[serde(default)]
    skip: u64,
    /// Fire on this share of matching requests, drawn at random (every one when absent).
    #[serde(default)]
    fraction: Option<f64>,
    /// Seeds the `fraction` draws so a test sees the same sequence every run.
    #[serde(default)]
    seed: Option<u64>,
    /// A fault object (`{"kind": "server_error", "status": 503}`) or just a kind name.
    fault: Value,
}

#[derive(Debug)]
struct FaultRule {
    id: u64,
    method: Option<Method>,
    path_prefix: Option<String>,
    path_contains: Option<String>,
    remaining: Option<u64>,
    /// Matching requests still to let through before the rule may fire.
    skip: u64,
    fraction: f64,
    rng: StdRng,
    fired: u64,
    fault: Fault,
}

impl FaultRule {
    fn matches(&self, method: &Method, path: &str) -> bool {
        self.method.as_ref().is_none_or(|wanted| wanted == method)
            && self.path_prefix.as_deref().is_none_or(|prefix| path.starts_with(prefix))
            && self.path_contains.as_deref().is_none_or(|part| path.contains(part))
    }

    fn describe(&self) -> Value {
        json!({
            "id": self.id,
            "method": self.method.as_ref().map(Method::as_str),
            "path_prefix": self.path_prefix,
            "path_contains": self.path_contains,
            "remaining": self.remaining,
            "skip": self.skip,
            "fraction": self.fraction,
            "fired": self.fired,
            "fault": self.fault,
        })
    }
}

/// The fault rules of one double.
#[derive(Debug, Default)]
pub(crate) struct FaultTable {
    inner: Mutex<FaultTableInner>,
}

#[derive(Debug, Default)]
struct FaultTableInner {
    next_id: u64,
    rules: Vec<FaultRule>,
}

impl FaultTable {
    /// Registers a rule and returns its description (including its `id`).
    pub(crate) fn add(&self, request: FaultRequest) -> Result<Value, String> {
        let fault_document = match request.fault {
            Value::String(kind) => json!({ "kind": kind }),
            other => other,
        };
        let fault: Fault = serde_json::from_value(fault_document).map_err(|error| format!("fault: {error}"))?;
        fault.validate()?;
        let method = match request.method {
            Some(name) => Some(
                Method::from_bytes(name.to_ascii_uppercase().as_bytes())
                    .map_err(|_| format!("method {name:?} is not an HTTP method"))?,
            ),
            None => None,
        };
        if request.times == Some(0) {
            return Err("times must be at least 1".to_owned());
        }
        let fraction = request.fraction.unwrap_or(1.0);
        if !(fraction > 0.0 && fraction <= 1.0) {
            return Err(format!("fraction must be in (0, 1], got {fraction}"));
        }
        let rng = match request.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        let mut inner = lock(&self.inner);
        inner.next_id += 1;
        let rule = FaultRule {
            id: inner.next_id,
            method,
            path_prefix: request.path_prefix,
            path_contains: request.path_contains,
            remaining: request.times,
            skip: request.skip,
            fraction,
            rng,
            fired: 0,
            fault,
        };
        let description = rule.describe();
        inner.rules.push(rule);
        Ok(description)
    }

    /// The fault to apply to this request, if a rule fires. Counting down happens under the lock.
    pub(crate) fn take(&self, method: &Method, path: &str) -> Option<Fault> {
        let mut inner = lock(&self.inner);
        let index = inner.rules.iter_mut().position(|rule| {
            if !rule.matches(method, path) {
                return false;
            }
            if rule.skip > 0 {
                rule.skip -= 1;
                return false;
            }
            rule.fraction >= 1.0 || rule.rng.random::<f64>() < rule.fraction
        })?;
        let rule = &mut inner.rules[index];
        rule.fired += 1;
        let fault = rule.fault.clone();
        if let Some(remaining) = rule.remaining.as_mut() {
            *remaining -= 1;
            if *remaining == 0 {
                inner.rules.remove(index);
            }
        }
        Some(fault)
    }

    pub(crate) fn list(&self) -> Value {
        Value::Array(lock(&self.inner).rules.iter().map(FaultRule::describe).collect())
    }

    pub(crate) fn remove(&self, id: u64) -> bool {
        let mut inner = lock(&self.inner);
        let before = inner.rules.len();
        inner.rules.retain(|rule| rule.id != id);
        inner.rules.len() != before
    }

    pub(crate) fn clear(&self) {
        lock(&self.inner).rules.clear();
    }
}

/// A 429 with nothing a client could pace itself by.
pub(crate) fn bare_rate_limit() -> Response {
    StatusCode::TOO_MANY_REQUESTS.into_response()
}

/// A gateway-style 5xx: an HTML page or nothing at all.
pub(crate) fn gateway_error(status: StatusCode, body: ErrorBody) -> Response {
    match body {
        ErrorBody::Empty | ErrorBody::Json => status.into_response(),
        ErrorBody::Html => {
            let reason = status.canonical_reason().unwrap_or("Error");
            let code = status.as_u16();
            let page = format!(
                "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n<center><h1>{code} {reason}</h1></center>\r\n</body>\r\n</html>\r\n"
            );
            (status, [(axum::http::header::CONTENT_TYPE, "text/html")], page).into_response()
        }
    }
}

/// The `custom` fault's response.
pub(crate) fn custom_response(status: u16, headers: &BTreeMap<String, String>, body: &Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match body {
        Value::Null => status.into_response(),
        Value::String(text) => (status, text.clone()).into_response(),
        json => (status, axum::Json(json.clone())).into_response(),
    };
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name.as_str()), HeaderValue::try_from(value.as_str())) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// Cuts a finished response's body in half, keeping its status and headers (but a true length).
pub(crate) async fn truncate(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    // An empty answer still has to come back as broken JSON, so it gets a dangling opening.
    let cut = if bytes.len() < 2 { axum::body::Bytes::from_static(b"{\"") } else { bytes.slice(..bytes.len() / 2) };
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(cut))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(document: Value) -> FaultRequest {
        serde_json::from_value(document).unwrap()
    }

    #[test]
    fn a_times_rule_fires_exactly_that_often_then_retires() {
        let table = FaultTable::default();
        table.add(request(json!({"path_prefix": "/mdm/", "times": 2, "fault": "server_error"}))).unwrap();
        assert!(table.take(&Method::GET, "/mdm/v1/parts").is_some());
        assert!(table.take(&Method::GET, "/sales/v1/orders").is_none());
        assert!(table.take(&Method::POST, "/mdm/v1/customers").is_some());
        assert!(table.take(&Method::GET, "/mdm/v1/parts").is_none());
        assert_eq!(table.list(), json!([]));
    }

    #[test]
    fn a_skip_rule_lets_the_first_matches_through_then_fires() {
        let table = FaultTable::default();
        let rule =
            table.add(request(json!({"method": "PUT", "skip": 1, "times": 1, "fault": "server_error"}))).unwrap();
        assert_eq!(rule["skip"], 1);
        // A request the rule does not match spends no skip.
        assert!(table.take(&Method::GET, "/v3/inventory/adjustments/absolute").is_none());
        assert!(table.take(&Method::PUT, "/v3/inventory/adjustments/absolute").is_none());
        assert!(table.take(&Method::PUT, "/v3/inventory/adjustments/absolute").is_some());
        assert!(table.take(&Method::PUT, "/v3/inventory/adjustments/absolute").is_none());
        assert_eq!(table.list(), json!([]));
    }

    #[test]
    fn method_and_fault_documents_are_validated() {
        let table = FaultTable::default();
        assert!(table.add(request(json!({"fault": {"kind": "server_error", "status": 404}}))).is_err());
        assert!(table.add(request(json!({"fault": "no_such_fault"}))).is_err());
        assert!(table.add(request(json!({"fault": "forbidden", "fraction": 0.0}))).is_err());
        assert!(table.add(request(json!({"fault": "forbidden", "times": 0}))).is_err());
        let rule = table.add(request(json!({"method": "get", "fault": {"kind": "delay", "ms": 5}}))).unwrap();
        assert_eq!(rule["method"], "GET");
        assert!(table.take(&Method::POST, "/x").is_none());
        assert_eq!(table.take(&Method::GET, "/x"), Some(Fault::Delay { ms: 5 }));
    }
}
