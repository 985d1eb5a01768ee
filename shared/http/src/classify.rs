//! Classification: what an HTTP outcome means ([`ErrorClass`]) and how long the server asked us to
//! wait. Pure functions, so every rule is pinned by a table-driven test below.
//!
//! The rules (DESIGN.md, "Error classes"; the API notes cited per rule):
//! - 2xx is a success, except that monday.com reports GraphQL errors with a 200 (monday notes §9):
//!   a top-level `errors` array that is not empty, or a legacy top-level `error_code`, is a failure
//!   classified by its codes. A 2xx whose JSON body is cut short is transient (a truncated read).
//! - 408, 5xx, and monday's 423 "resource is currently locked": transient.
//! - 429: rate limited. The wait comes from, in order, BigCommerce `X-Rate-Limit-Time-Reset-Ms`,
//!   `Retry-After` (seconds or an HTTP date), `X-Retry-After` (seconds), monday's
//!   `retry_in_seconds` in the body, then "... in N seconds" in an error message (Plex's 429
//!   message; monday's legacy complexity message). With no hint the retry loop backs off on its own.
//! - 401: auth. 403: permission. Any other 4xx: data.
//!
//! Header names are matched case-insensitively (the `http` crate stores them lowercase).

use std::time::{Duration, SystemTime};

use domain::ErrorClass;
use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use serde_json::Value;

use crate::Api;

/// BigCommerce: milliseconds until the request quota refreshes (its notes, §4).
pub const BIGCOMMERCE_RESET_MS: &str = "x-rate-limit-time-reset-ms";
/// BigCommerce: requests left in the current window.
pub const BIGCOMMERCE_REQUESTS_LEFT: &str = "x-rate-limit-requests-left";
/// Seconds until the quota refreshes, sent on BigCommerce's rate-limited responses.
pub const X_RETRY_AFTER: &str = "x-retry-after";

/// A response that did not succeed, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub class: ErrorClass,
    /// How long the server asked us to wait before trying again, when it said.
    pub retry_after: Option<Duration>,
    /// The API's own error code when the body names one (`REQUEST_NOT_AUTHENTICATED`,
    /// `COMPLEXITY_BUDGET_EXHAUSTED`, ...), for error messages and for callers that must tell two
    /// failures of one status apart.
    pub code: Option<String>,
}

/// Classifies a complete response. `now` turns a `Retry-After` HTTP date into a wait.
pub fn classify(
    api: Api,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Result<(), Failure> {
    if status.is_success() {
        return match api {
            Api::Monday => check_graphql_body(headers, body, now),
            Api::BigCommerce | Api::Plex => check_json_complete(headers, body),
        };
    }
    let document: Option<Value> = serde_json::from_slice(body).ok();
    let problems = document.as_ref().map(graphql_problems).unwrap_or_default();
    let class = match status.as_u16() {
        401 => ErrorClass::Auth,
        403 => ErrorClass::Permission,
        429 => ErrorClass::RateLimited,
        408 | 500..=599 => ErrorClass::Transient,
        423 if api == Api::Monday => ErrorClass::Transient,
        _ => ErrorClass::Data,
    };
    let retry_after = match class {
        ErrorClass::RateLimited => {
            let message = document.as_ref().and_then(|document| document.get("message")).and_then(Value::as_str);
            server_wait(api, headers, &problems, message, now)
        }
        // RFC 9110 gives `Retry-After` a meaning on 503 too; the other transient statuses rarely
        // carry it and then back off on their own.
        ErrorClass::Transient if status == StatusCode::SERVICE_UNAVAILABLE => retry_after_header(headers, now),
        _ => None,
    };
    let code = document.as_ref().and_then(|document| error_code(document, &problems));
    Err(Failure { class, retry_after, code })
}

/// The class of a request that got no complete response: timeouts, refused or reset connections
/// and cut-off bodies may pass on their own; a request reqwest could not even build (a bad URL,
/// a header value it refuses) or a redirect loop will not.
pub fn classify_transport(error: &reqwest::Error) -> ErrorClass {
    if error.is_builder() || error.is_redirect() { ErrorClass::Data } else { ErrorClass::Transient }
}

/// A success whose JSON body does not parse to the end was cut off on the way (a dropped
/// connection behind a proxy, a truncated gateway response): worth another try, unlike a body
/// that parses but has the wrong shape, which the API crate reports as a decode error.
fn check_json_complete(headers: &HeaderMap, body: &[u8]) -> Result<(), Failure> {
    if !is_json(headers) || body.trim_ascii().is_empty() {
        return Ok(());
    }
    match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
        Ok(_) => Ok(()),
        Err(_) => Err(Failure { class: ErrorClass::Transient, retry_after: None, code: None }),
    }
}

/// monday.com answers application-level errors with HTTP 200 (its notes, §4.2 and §9).
fn check_graphql_body(headers: &HeaderMap, body: &[u8], now: SystemTime) -> Result<(), Failure> {
    if body.trim_ascii().is_empty() {
        return Ok(());
    }
    let Ok(document) = serde_json::from_slice::<Value>(body) else {
        return Err(Failure { class: ErrorClass::Transient, retry_after: None, code: None });
    };
    let problems = graphql_problems(&document);
    if problems.is_empty() {
        return Ok(());
    }
    let class = problems.iter().map(Problem::class).max_by_key(|class| precedence(*class)).unwrap_or(ErrorClass::Data);
    let retry_after = match class {
        ErrorClass::RateLimited | ErrorClass::Transient => server_wait(Api::Monday, headers, &problems, None, now),
        _ => None,
    };
    Err(Failure { class, retry_after, code: error_code(&document, &problems) })
}

/// When one response carries several GraphQL errors, the class that decides what to do: a
/// credential or role problem is not cured by waiting, so it wins; a rate limit means the request
/// (or part of it) did not run, so a retry is worth more than giving up on a data error alongside.
fn precedence(class: ErrorClass) -> u8 {
    match class {
        ErrorClass::Auth => 5,
        ErrorClass::Permission => 4,
        ErrorClass::RateLimited => 3,
        ErrorClass::Transient => 2,
        ErrorClass::Data => 1,
    }
}

/// One GraphQL error, in whichever of monday.com's shapes it came.
#[derive(Debug, Default, Clone, PartialEq)]
struct Problem {
    code: Option<String>,
    message: Option<String>,
    /// `extensions.status_code` (or the legacy top-level `status_code`).
    status_code: Option<u64>,
    retry_in: Option<Duration>,
}

/// monday codes (and messages) that mean "a limit was hit; wait and retry", compared after
/// [`normalise`], so `COMPLEXITY_BUDGET_EXHAUSTED` and `complexityBudgetExhausted` are one entry.
const RATE_LIMIT_CODES: &[&str] = &[
    "complexityexception",
    "complexitybudgetexhausted",
    "ratelimitexceeded",
    "minutelimitrateexceeded",
    "maxconcurrencyexceeded",
    "concurrencylimitexceeded",
    "ipratelimitexceeded",
    "dailylimitexceeded",
    "fieldminuteratelimitexceeded",
];

/// monday codes for failures that pass on their own (monday notes §9, "Retryable").
const TRANSIENT_CODES: &[&str] =
    &["apitemporarilyblocked", "idempotencyconflict", "internalservererror", "resourceiscurrentlylocked"];

/// The token is missing, wrong or regenerated (an IP restriction comes as HTTP 401, classified by status).
const AUTH_CODES: &[&str] = &["unauthorized", "notauthenticated"];

/// The token is fine but its user or OAuth scopes may not do this: monday sends these with
/// `status_code: 403`, the same thing HTTP 403 means everywhere else (DESIGN.md: permission).
const PERMISSION_CODES: &[&str] = &["userunauthorizedexception", "useraccessdenied", "missingrequiredpermissions"];

/// Lowercase letters and digits only: monday spells one code in several styles across versions.
fn normalise(text: &str) -> String {
    text.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect()
}

impl Problem {
    fn class(&self) -> ErrorClass {
        let code = self.code.as_deref().map(normalise).unwrap_or_default();
        let listed = |codes: &[&str]| codes.iter().any(|listed| listed.eq_ignore_ascii_case(&code));
        if listed(RATE_LIMIT_CODES) {
            return ErrorClass::RateLimited;
        }
        if listed(TRANSIENT_CODES) {
            return ErrorClass::Transient;
        }
        if listed(AUTH_CODES) {
            return ErrorClass::Auth;
        }
        if listed(PERMISSION_CODES) {
            return ErrorClass::Permission;
        }
        match self.status_code {
            Some(401) => return ErrorClass::Auth,
            Some(403) => return ErrorClass::Permission,
            Some(429) => return ErrorClass::RateLimited,
            Some(408 | 423 | 500..=599) => return ErrorClass::Transient,
            _ => {}
        }
        // Legacy errors are bare strings ("Complexity budget exhausted, query cost ..."), so the
        // message is the only thing to go on.
        let message = self.message.as_deref().map(normalise).unwrap_or_default();
        if message.contains("complexitybudgetexhausted")
            || message.contains("ratelimitexceeded")
            || message.contains("minutelimitrateexceeded")
        {
            return ErrorClass::RateLimited;
        }
        ErrorClass::Data
    }
}

/// Every GraphQL error in a monday.com-shaped body; empty when the body reports none. Handles the
/// current shape (`errors: [{message, extensions: {code, retry_in_seconds, status_code}}]`), the
/// 2025 hotfix shape (the same plus `extensions.error_data`), the legacy shape (top-level
/// `error_code`, `error_message`, `status_code`, and `errors` as strings), and an error object with
/// a top-level `code` as Plex sends. Anything unrecognised still counts as one error.
fn graphql_problems(document: &Value) -> Vec<Problem> {
    let Some(object) = document.as_object() else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    if let Some(code) = object.get("error_code").and_then(text) {
        problems.push(Problem {
            code: Some(code),
            message: object.get("error_message").and_then(text),
            status_code: object.get("status_code").and_then(number),
            retry_in: retry_in_seconds(object.get("retry_in_seconds"))
                .or_else(|| retry_in_seconds(object.get("error_data").and_then(|data| data.get("retry_in_seconds")))),
        });
    }
    if let Some(Value::Array(errors)) = object.get("errors") {
        for error in errors {
            problems.push(match error {
                Value::String(message) => Problem { message: Some(message.clone()), ..Problem::default() },
                Value::Object(fields) => {
                    let extensions = fields.get("extensions");
                    let extension = |name: &str| extensions.and_then(|extensions| extensions.get(name));
                    Problem {
                        code: extension("code").and_then(text).or_else(|| fields.get("code").and_then(text)),
                        message: fields.get("message").and_then(text),
                        status_code: extension("status_code").and_then(number),
                        retry_in: retry_in_seconds(extension("retry_in_seconds")).or_else(|| {
                            retry_in_seconds(extension("error_data").and_then(|data| data.get("retry_in_seconds")))
                        }),
                    }
                }
                _ => Problem::default(),
            });
        }
    }
    problems
}

fn text(value: &Value) -> Option<String> {
    value.as_str().map(str::trim).filter(|text| !text.is_empty()).map(str::to_owned)
}

fn number(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| value.as_str().and_then(|text| text.trim().parse().ok()))
}

/// `retry_in_seconds` as a number or a numeric string; negative or absurd values are ignored.
fn retry_in_seconds(value: Option<&Value>) -> Option<Duration> {
    let seconds = match value? {
        Value::Number(number) => number.as_f64()?,
        Value::String(text) => text.trim().parse().ok()?,
        _ => return None,
    };
    Duration::try_from_secs_f64(seconds).ok()
}

/// The error code of an error body: monday's first coded GraphQL error, or a top-level `code`
/// (Plex: `{"code":"REQUEST_NOT_AUTHENTICATED","message":...}`).
fn error_code(document: &Value, problems: &[Problem]) -> Option<String> {
    problems
        .iter()
        .find_map(|problem| problem.code.clone())
        .or_else(|| document.get("code").and_then(text))
        .or_else(|| document.get("error").and_then(text))
}

/// The wait a rate-limited (or transient) response asked for, from the first source that has one.
/// `message` is a top-level error message (Plex: `{"code":...,"message":"... in 30 seconds."}`).
fn server_wait(
    api: Api,
    headers: &HeaderMap,
    problems: &[Problem],
    message: Option<&str>,
    now: SystemTime,
) -> Option<Duration> {
    let bigcommerce_reset = || {
        (api == Api::BigCommerce)
            .then(|| header_text(headers, BIGCOMMERCE_RESET_MS))
            .flatten()
            .and_then(|text| text.parse::<f64>().ok())
            .and_then(|millis| Duration::try_from_secs_f64(millis / 1000.0).ok())
    };
    let x_retry_after = || {
        header_text(headers, X_RETRY_AFTER)
            .and_then(|text| text.parse::<f64>().ok())
            .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
    };
    // Several errors may each carry a wait; honouring the longest one avoids a retry that is
    // bound to hit the same limit.
    let body_wait = || problems.iter().filter_map(|problem| problem.retry_in).max();
    let message_wait = || {
        problems
            .iter()
            .filter_map(|problem| problem.message.as_deref())
            .chain(message)
            .filter_map(wait_in_message)
            .max()
    };
    bigcommerce_reset()
        .or_else(|| retry_after_header(headers, now))
        .or_else(x_retry_after)
        .or_else(body_wait)
        .or_else(message_wait)
}

/// `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3); a date in the past means 0.
fn retry_after_header(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = header_text(headers, RETRY_AFTER.as_str())?;
    if let Ok(seconds) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).ok();
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let at = SystemTime::from(date);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The first "in N second(s)" in a message: Plex's "Try again in 30 seconds." and monday's legacy
/// "... reset in 3 seconds".
fn wait_in_message(message: &str) -> Option<Duration> {
    let lower = message.to_ascii_lowercase();
    let mut rest = lower.as_str();
    while let Some(at) = rest.find("in ") {
        rest = &rest[at + 3..];
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
        let after = rest[digits.len()..].trim_start();
        if !digits.is_empty() && after.starts_with("second") {
            return digits.parse::<f64>().ok().and_then(|seconds| Duration::try_from_secs_f64(seconds).ok());
        }
    }
    None
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok()).map(str::trim).filter(|value| !value.is_empty())
}

fn is_json(headers: &HeaderMap) -> bool {
    header_text(headers, CONTENT_TYPE.as_str()).is_some_and(|content_type| {
        let media_type = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        media_type == "application/json" || media_type.ends_with("+json")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use http::header::HeaderName;

    const NOW: SystemTime = SystemTime::UNIX_EPOCH;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                HeaderValue::from_str(value).expect("header value"),
            );
        }
        map
    }

    /// One row of a classification table.
    struct Case {
        name: &'static str,
        api: Api,
        status: u16,
        headers: &'static [(&'static str, &'static str)],
        body: &'static str,
        /// `None` means success.
        expected: Option<(ErrorClass, Option<Duration>)>,
    }

    #[track_caller]
    fn check(cases: &[Case]) {
        for case in cases {
            let status = StatusCode::from_u16(case.status).expect("status");
            let outcome = classify(case.api, status, &headers(case.headers), case.body.as_bytes(), NOW);
            let actual = outcome.err().map(|failure| (failure.class, failure.retry_after));
            assert_eq!(actual, case.expected, "case: {}", case.name);
        }
    }

    const JSON: &[(&str, &str)] = &[("content-type", "application/json; charset=utf-8")];

    fn secs(seconds: u64) -> Option<Duration> {
        Some(Duration::from_secs(seconds))
    }

    #[test]
    fn statuses_map_to_the_documented_classes() {
        use ErrorClass::*;
        let row = |name, api, status, expected| Case { name, api, status, headers: &[], body: "", expected };
        check(&[
            row("200 is fine", Api::BigCommerce, 200, None),
            row("204 without a body is fine", Api::Plex, 204, None),
            row("401 is auth", Api::Plex, 401, Some((Auth, None))),
            row("403 is permission", Api::BigCommerce, 403, Some((Permission, None))),
            row("400 is data", Api::Plex, 400, Some((Data, None))),
            row("404 is data", Api::Plex, 404, Some((Data, None))),
            row("409 is data", Api::BigCommerce, 409, Some((Data, None))),
            row("422 is data", Api::BigCommerce, 422, Some((Data, None))),
            row("408 is transient", Api::BigCommerce, 408, Some((Transient, None))),
            row("500 is transient", Api::Plex, 500, Some((Transient, None))),
            row("502 is transient", Api::Monday, 502, Some((Transient, None))),
            row("503 is transient", Api::BigCommerce, 503, Some((Transient, None))),
            row("504 is transient", Api::Plex, 504, Some((Transient, None))),
            row("423 is transient on monday (board locked)", Api::Monday, 423, Some((Transient, None))),
            row("423 is data elsewhere", Api::Plex, 423, Some((Data, None))),
            row("429 without a hint is rate limited with no wait", Api::BigCommerce, 429, Some((RateLimited, None))),
        ]);
    }

    #[test]
    fn rate_limited_responses_carry_the_server_wait_in_the_documented_order() {
        use ErrorClass::RateLimited;
        check(&[
            Case {
                name: "BigCommerce reset-ms wins over X-Retry-After",
                api: Api::BigCommerce,
                status: 429,
                headers: &[("X-Rate-Limit-Time-Reset-Ms", "1500"), ("X-Retry-After", "2")],
                body: "",
                expected: Some((RateLimited, Some(Duration::from_millis(1500)))),
            },
            Case {
                name: "header names are case-insensitive",
                api: Api::BigCommerce,
                status: 429,
                headers: &[("x-rate-limit-time-reset-ms", "250")],
                body: "",
                expected: Some((RateLimited, Some(Duration::from_millis(250)))),
            },
            Case {
                name: "BigCommerce falls back to X-Retry-After in seconds",
                api: Api::BigCommerce,
                status: 429,
                headers: &[("X-Retry-After", "3")],
                body: "",
                expected: Some((RateLimited, secs(3))),
            },
            Case {
                name: "reset-ms means nothing outside BigCommerce",
                api: Api::Plex,
                status: 429,
                headers: &[("X-Rate-Limit-Time-Reset-Ms", "1500"), ("Retry-After", "2")],
                body: "",
                expected: Some((RateLimited, secs(2))),
            },
            Case {
                name: "Retry-After in seconds",
                api: Api::Plex,
                status: 429,
                headers: &[("Retry-After", "7")],
                body: r#"{"code":"REQUEST_RATE_LIMITED","message":"Try again in 30 seconds."}"#,
                expected: Some((RateLimited, secs(7))),
            },
            Case {
                name: "Retry-After as an HTTP date",
                api: Api::Monday,
                status: 429,
                headers: &[("Retry-After", "Thu, 01 Jan 1970 00:00:42 GMT")],
                body: "",
                expected: Some((RateLimited, secs(42))),
            },
            Case {
                name: "Retry-After wins over X-Retry-After",
                api: Api::BigCommerce,
                status: 429,
                headers: &[("Retry-After", "4"), ("X-Retry-After", "9")],
                body: "",
                expected: Some((RateLimited, secs(4))),
            },
            Case {
                name: "Plex's message is the last resort",
                api: Api::Plex,
                status: 429,
                headers: JSON,
                body: r#"{"code":"REQUEST_RATE_LIMITED","message":"Too many requests. Try again in 12 seconds."}"#,
                expected: Some((RateLimited, secs(12))),
            },
            Case {
                name: "monday retry_in_seconds in extensions",
                api: Api::Monday,
                status: 429,
                headers: JSON,
                body: r#"{"errors":[{"message":"Minute limit rate exceeded","extensions":{"code":"RATE_LIMIT_EXCEEDED","retry_in_seconds":17}}]}"#,
                expected: Some((RateLimited, secs(17))),
            },
            Case {
                name: "a garbage Retry-After is ignored",
                api: Api::Plex,
                status: 429,
                headers: &[("Retry-After", "soon")],
                body: "",
                expected: Some((RateLimited, None)),
            },
            Case {
                name: "503 honours Retry-After",
                api: Api::Plex,
                status: 503,
                headers: &[("Retry-After", "5")],
                body: "<html>busy</html>",
                expected: Some((ErrorClass::Transient, secs(5))),
            },
            Case {
                name: "500 ignores Retry-After",
                api: Api::Monday,
                status: 500,
                headers: &[("Retry-After", "5")],
                body: "",
                expected: Some((ErrorClass::Transient, None)),
            },
        ]);
    }

    #[test]
    fn monday_graphql_errors_with_http_200_are_failures_classified_by_code() {
        use ErrorClass::*;
        let row = |name, body, expected| Case { name, api: Api::Monday, status: 200, headers: JSON, body, expected };
        check(&[
            row("data without errors is fine", r#"{"data":{"me":{"id":"1"}},"account_id":1}"#, None),
            row("an empty errors array is fine", r#"{"data":{"me":null},"errors":[]}"#, None),
            row(
                "current complexity shape",
                r#"{"errors":[{"message":"Complexity budget exhausted","extensions":{"code":"COMPLEXITY_BUDGET_EXHAUSTED","retry_in_seconds":1}}]}"#,
                Some((RateLimited, secs(1))),
            ),
            row(
                "hotfix shape with error_data",
                r#"{"errors":[{"message":"Complexity budget exhausted","extensions":{"code":"COMPLEXITY_BUDGET_EXHAUSTED","status_code":429,"error_data":{"retry_in_seconds":9}}}]}"#,
                Some((RateLimited, secs(9))),
            ),
            row(
                "legacy ComplexityException with the wait only in the message",
                r#"{"error_code":"ComplexityException","status_code":429,"error_message":"Complexity budget exhausted, query cost 30001 budget remaining 19986 out of 1000000 reset in 3 seconds","error_data":{},"errors":["Complexity budget exhausted, query cost 30001 budget remaining 19986 out of 1000000 reset in 3 seconds"],"account_id":123}"#,
                Some((RateLimited, secs(3))),
            ),
            row(
                "legacy camelCase code",
                r#"{"error_code":"complexityBudgetExhausted","error_message":"Complexity budget exhausted"}"#,
                Some((RateLimited, None)),
            ),
            row(
                "legacy bare string error",
                r#"{"errors":["Complexity budget exhausted, reset in 20 seconds"]}"#,
                Some((RateLimited, secs(20))),
            ),
            row(
                "Rate Limit Exceeded spelled as words",
                r#"{"errors":[{"message":"Rate limit exceeded","extensions":{"code":"Rate Limit Exceeded","retry_in_seconds":30}}]}"#,
                Some((RateLimited, secs(30))),
            ),
            row(
                "concurrency limit",
                r#"{"errors":[{"message":"Concurrency limit exceeded","extensions":{"code":"maxConcurrencyExceeded"}}]}"#,
                Some((RateLimited, None)),
            ),
            row(
                "IP limit with its wait",
                r#"{"errors":[{"message":"IP rate limit","extensions":{"code":"IP_RATE_LIMIT_EXCEEDED","retry_in_seconds":"4"}}]}"#,
                Some((RateLimited, secs(4))),
            ),
            row(
                "unauthorized token",
                r#"{"errors":[{"message":"Not Authenticated","extensions":{"code":"Unauthorized","status_code":401}}]}"#,
                Some((Auth, None)),
            ),
            row(
                "user may not perform the action",
                r#"{"errors":[{"message":"User unauthorized to perform action","path":["me"],"extensions":{"code":"UserUnauthorizedException","error_data":{},"status_code":403}}],"account_id":1}"#,
                Some((Permission, None)),
            ),
            row(
                "missing OAuth scope",
                r#"{"errors":[{"message":"Missing scope","extensions":{"code":"missingRequiredPermissions"}}]}"#,
                Some((Permission, None)),
            ),
            row(
                "temporarily blocked is transient",
                r#"{"errors":[{"message":"API temporarily blocked","extensions":{"code":"API_TEMPORARILY_BLOCKED"}}]}"#,
                Some((Transient, None)),
            ),
            row(
                "schema validation is data",
                r#"{"errors":[{"message":"Field 'new_field' doesn't exist on type 'Boards'","extensions":{"code":"undefinedField"}}],"account_id":1}"#,
                Some((Data, None)),
            ),
            row(
                "bad column JSON is data",
                r#"{"data":{"a":null},"errors":[{"message":"invalid value","extensions":{"code":"ColumnValueException"}}]}"#,
                Some((Data, None)),
            ),
            row(
                "a query too complex on its own is data, not a rate limit",
                r#"{"errors":[{"message":"Query has complexity of 6000000, which exceeds max complexity of 5000000","extensions":{"code":"maxComplexityExceeded"}}]}"#,
                Some((Data, None)),
            ),
            row(
                "auth wins over a data error alongside",
                r#"{"errors":[{"message":"x","extensions":{"code":"ColumnValueException"}},{"message":"y","extensions":{"code":"Unauthorized"}}]}"#,
                Some((Auth, None)),
            ),
            row(
                "a rate limit wins over a data error alongside, with the longest wait",
                r#"{"errors":[{"message":"x","extensions":{"code":"ColumnValueException"}},{"message":"y","extensions":{"code":"COMPLEXITY_BUDGET_EXHAUSTED","retry_in_seconds":2}},{"message":"z","extensions":{"code":"COMPLEXITY_BUDGET_EXHAUSTED","retry_in_seconds":5}}]}"#,
                Some((RateLimited, secs(5))),
            ),
            row("an unrecognised error element still fails", r#"{"errors":[42]}"#, Some((Data, None))),
            row("a truncated body is transient", r#"{"data":{"me":{"id":"#, Some((Transient, None))),
        ]);
    }

    #[test]
    fn a_truncated_json_success_is_transient_but_other_bodies_pass() {
        use ErrorClass::Transient;
        check(&[
            Case {
                name: "half a JSON array",
                api: Api::Plex,
                status: 200,
                headers: JSON,
                body: r#"[{"id":"a","code":"MW"#,
                expected: Some((Transient, None)),
            },
            Case { name: "complete JSON", api: Api::Plex, status: 200, headers: JSON, body: "[]", expected: None },
            Case {
                name: "vendor JSON media type",
                api: Api::BigCommerce,
                status: 200,
                headers: &[("content-type", "application/problem+json")],
                body: "{",
                expected: Some((Transient, None)),
            },
            Case {
                name: "not JSON by content type",
                api: Api::BigCommerce,
                status: 200,
                headers: &[("content-type", "text/plain")],
                body: "{",
                expected: None,
            },
            Case {
                name: "empty JSON body",
                api: Api::BigCommerce,
                status: 200,
                headers: JSON,
                body: "",
                expected: None,
            },
        ]);
    }

    #[test]
    fn error_codes_are_read_from_plex_and_monday_bodies() {
        let failure = |api, status, body: &str| {
            classify(api, StatusCode::from_u16(status).expect("status"), &HeaderMap::new(), body.as_bytes(), NOW)
                .expect_err("a failure")
        };
        let plex = failure(
            Api::Plex,
            401,
            r#"{"code":"REQUEST_NOT_AUTHENTICATED","message":"The request could not be authenticated."}"#,
        );
        assert_eq!(plex.code.as_deref(), Some("REQUEST_NOT_AUTHENTICATED"));
        let monday = failure(
            Api::Monday,
            200,
            r#"{"errors":[{"message":"m","extensions":{"code":"COMPLEXITY_BUDGET_EXHAUSTED","retry_in_seconds":1}}]}"#,
        );
        assert_eq!(monday.code.as_deref(), Some("COMPLEXITY_BUDGET_EXHAUSTED"));
        let oauth = failure(Api::Plex, 401, r#"{"error":"invalid_client","error_description":"bad"}"#);
        assert_eq!(oauth.code.as_deref(), Some("invalid_client"));
        let html = failure(Api::BigCommerce, 502, "<html>Bad Gateway</html>");
        assert_eq!(html.code, None);
    }

    #[test]
    fn waits_are_found_in_messages_only_when_they_name_seconds() {
        assert_eq!(wait_in_message("Try again in 30 seconds."), secs(30));
        assert_eq!(wait_in_message("reset in 1 second"), secs(1));
        assert_eq!(wait_in_message("Reset In 2.5 Seconds"), Some(Duration::from_millis(2500)));
        assert_eq!(wait_in_message("failed in step 3"), None);
        assert_eq!(wait_in_message("in 5 minutes"), None);
    }

    #[test]
    fn transport_errors_that_never_left_are_data_and_the_rest_transient() {
        let builder_error = reqwest::Client::new().get("not a url").build().expect_err("a builder error");
        assert_eq!(classify_transport(&builder_error), ErrorClass::Data);
    }
}
