//! The request log behind `GET /__control/requests`: what reached a double's API, and how it ended.
//!
//! Tests assert on it ("the client retried exactly twice", "the token was sent as Bearer"), and the
//! demo prints it, so secrets never enter it: credential headers and secret-looking query parameters
//! are replaced by `[REDACTED]` when the entry is recorded, not when it is shown. For `Authorization`
//! the scheme stays visible (`Bearer [REDACTED]`), because which scheme a client used is itself
//! worth asserting. Bodies are not recorded: they can carry secrets under any field name (a hook's
//! custom auth header, an OAuth client secret).

use std::collections::VecDeque;
use std::sync::Mutex;

use axum::http::{HeaderMap, Method, Uri};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::lock;

/// The replacement for every secret value.
pub const REDACTED: &str = "[REDACTED]";

/// Entries kept per double; older ones are dropped so a long demo cannot grow memory without bound.
const CAPACITY: usize = 10_000;

/// Headers that say nothing about the client's behaviour and only add noise to the log.
const NOISE_HEADERS: &[&str] = &["host", "content-length", "connection", "accept-encoding", "keep-alive"];

/// One API request, as recorded.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Entry {
    pub seq: u64,
    /// When the request arrived, on the double's clock (RFC 3339).
    pub time: String,
    pub method: String,
    pub path: String,
    /// The query string with secret-looking parameters redacted; `null` when there was none.
    pub query: Option<String>,
    /// `null` while the request is in flight, or when the client gave up before the answer.
    pub status: Option<u16>,
    pub duration_ms: Option<u64>,
    pub headers: Map<String, Value>,
    /// The injected fault that answered or shaped this request, if any.
    pub fault: Option<String>,
}

#[derive(Debug, Default)]
pub(crate) struct RequestLog {
    inner: Mutex<LogInner>,
}

#[derive(Debug, Default)]
struct LogInner {
    next_seq: u64,
    entries: VecDeque<Entry>,
}

impl RequestLog {
    /// Records a request as it arrives and returns its sequence number for [`RequestLog::finish`].
    pub(crate) fn start(&self, time: String, method: &Method, uri: &Uri, headers: &HeaderMap) -> u64 {
        let mut inner = lock(&self.inner);
        inner.next_seq += 1;
        let seq = inner.next_seq;
        let entry = Entry {
            seq,
            time,
            method: method.to_string(),
            path: uri.path().to_owned(),
            query: uri.query().map(redact_query),
            status: None,
            duration_ms: None,
            headers: redact_headers(headers),
            fault: None,
        };
        if inner.entries.len() == CAPACITY {
            inner.entries.pop_front();
        }
        inner.entries.push_back(entry);
        seq
    }

    pub(crate) fn set_fault(&self, seq: u64, fault: &str) {
        self.update(seq, |entry| entry.fault = Some(fault.to_owned()));
    }

    pub(crate) fn finish(&self, seq: u64, status: u16, duration_ms: u64) {
        self.update(seq, |entry| {
            entry.status = Some(status);
            entry.duration_ms = Some(duration_ms);
        });
    }

    fn update(&self, seq: u64, change: impl FnOnce(&mut Entry)) {
        let mut inner = lock(&self.inner);
        // Sequence numbers only grow, so the entry (if not yet dropped) is found by binary search.
        if let Ok(index) = inner.entries.binary_search_by_key(&seq, |entry| entry.seq) {
            change(&mut inner.entries[index]);
        }
    }

    /// Entries with a sequence number above `after`, oldest first.
    pub(crate) fn entries_after(&self, after: u64) -> Vec<Entry> {
        lock(&self.inner).entries.iter().filter(|entry| entry.seq > after).cloned().collect()
    }

    pub(crate) fn clear(&self) {
        lock(&self.inner).entries.clear();
    }
}

/// Whether a header or query parameter name suggests its value is a credential.
pub(crate) fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase().replace('_', "-");
    const EXACT: &[&str] = &["key", "password", "pass", "pwd", "sig"];
    const PARTS: &[&str] =
        &["auth", "token", "secret", "password", "api-key", "apikey", "signature", "cookie", "credential", "session"];
    EXACT.contains(&name.as_str()) || PARTS.iter().any(|part| name.contains(part))
}

fn redact_headers(headers: &HeaderMap) -> Map<String, Value> {
    let mut recorded = Map::new();
    for (name, value) in headers {
        let name = name.as_str();
        if NOISE_HEADERS.contains(&name) {
            continue;
        }
        let shown = if name == "authorization" {
            // Keep the scheme ("Bearer", "Basic") and drop the credential.
            match value.to_str().ok().and_then(|value| value.split_once(' ')) {
                Some((scheme, _)) if matches!(scheme, "Bearer" | "Basic" | "bearer" | "basic") => {
                    format!("{scheme} {REDACTED}")
                }
                _ => REDACTED.to_owned(),
            }
        } else if is_secret_name(name) {
            REDACTED.to_owned()
        } else {
            String::from_utf8_lossy(value.as_bytes()).into_owned()
        };
        // A repeated header is shown once per value, joined as HTTP would fold it.
        match recorded.get_mut(name) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(&shown);
            }
            _ => {
                recorded.insert(name.to_owned(), Value::String(shown));
            }
        }
    }
    recorded
}

pub(crate) fn redact_query(query: &str) -> String {
    let Ok(pairs) = serde_urlencoded::from_str::<Vec<(String, String)>>(query) else {
        // Not decodable: the whole string might hide a secret, so none of it is kept.
        return REDACTED.to_owned();
    };
    let redacted: Vec<(String, String)> = pairs
        .into_iter()
        .map(|(name, value)| if is_secret_name(&name) { (name, REDACTED.to_owned()) } else { (name, value) })
        .collect();
    serde_urlencoded::to_string(redacted).unwrap_or_else(|_| REDACTED.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn credentials_are_redacted_but_the_auth_scheme_stays_visible() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Bearer abc.def"));
        headers.insert("x-auth-token", HeaderValue::from_static("bc-demo-token"));
        headers.insert("x-plex-connect-api-key", HeaderValue::from_static("plex-demo-key"));
        headers.insert("idempotency-key", HeaderValue::from_static("plex:po:1"));
        headers.insert("api-version", HeaderValue::from_static("2026-10"));
        let recorded = Value::Object(redact_headers(&headers)).to_string();
        assert!(!recorded.contains("abc.def") && !recorded.contains("bc-demo-token"), "{recorded}");
        assert!(!recorded.contains("plex-demo-key"), "{recorded}");
        assert!(recorded.contains("Bearer [REDACTED]") && recorded.contains("plex:po:1"), "{recorded}");
    }

    #[test]
    fn secret_query_parameters_are_redacted() {
        let query = redact_query("number=MW-1&api_key=s3cret&access_token=t0k&X-Plex-Connect-Api-Key=k");
        assert!(query.contains("number=MW-1"), "{query}");
        assert!(!query.contains("s3cret") && !query.contains("t0k") && !query.contains("=k"), "{query}");
    }
}
