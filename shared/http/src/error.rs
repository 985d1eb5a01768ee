//! [`HttpError`]: a failed API call, told so an operator can act on it.
//!
//! The message names the system, the request line (method and path; never the query string, which
//! could carry a secret), what happened, the error class, the number of attempts and a short
//! excerpt of the response body. Request headers are never kept. Response bodies of these APIs do
//! not echo our credentials, and the excerpt is capped at [`EXCERPT_CHARS`] characters.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use domain::ErrorClass;
use http::{Method, StatusCode};

use crate::Api;
use crate::classify::{Failure, classify_transport};

/// The longest body excerpt an error keeps, in characters.
pub const EXCERPT_CHARS: usize = 300;

type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// A failed call to BigCommerce, Plex or monday.com, after any retries.
///
/// `Display` reads like `BigCommerce GET /stores/abc/v2/store: 401 Unauthorized (auth):
/// [{"status":401,"message":"..."}]`; the transport error, if any, is the [`source`](StdError::source).
///
/// The details live behind a `Box` so `Result<_, HttpError>` stays one pointer wide on the happy
/// path, as clippy's `result_large_err` asks.
pub struct HttpError {
    inner: Box<Inner>,
}

#[derive(Debug)]
struct Inner {
    api: Api,
    /// Method and path of the request, when it got far enough to have them.
    request: Option<(Method, String)>,
    class: ErrorClass,
    /// What went wrong, in a few words: "401 Unauthorized", "timed out", ...
    what: String,
    status: Option<StatusCode>,
    code: Option<String>,
    excerpt: Option<String>,
    /// The whole body of a refused response (never of a confidential call's).
    body: Option<KeptBody>,
    retry_after: Option<Duration>,
    /// The local rate budget held the request back and it was never sent.
    held: bool,
    attempts: u32,
    source: Option<BoxError>,
}

impl HttpError {
    fn new(api: Api, request: Option<(Method, String)>, class: ErrorClass, what: String) -> Self {
        HttpError {
            inner: Box::new(Inner {
                api,
                request,
                class,
                what,
                status: None,
                code: None,
                excerpt: None,
                body: None,
                retry_after: None,
                held: false,
                attempts: 1,
                source: None,
            }),
        }
    }

    /// A response that [`classify`](crate::classify()) turned down. `body` is `None` when the
    /// response may carry a credential (an OAuth token endpoint's truncated 200), so that no part
    /// of it reaches the message.
    pub(crate) fn from_response(
        api: Api,
        request: (Method, String),
        status: StatusCode,
        failure: Failure,
        body: Option<&[u8]>,
    ) -> Self {
        let what = if status.is_success() {
            match (&failure.code, failure.class) {
                (Some(code), _) => format!("{status} with GraphQL error {code}"),
                (None, ErrorClass::Transient) => format!("{status} with an incomplete body"),
                (None, _) => format!("{status} with GraphQL errors"),
            }
        } else {
            // The API's code is in the excerpt that follows; the status says enough here.
            status.to_string()
        };
        let mut error = HttpError::new(api, Some(request), failure.class, what);
        error.inner.status = Some(status);
        error.inner.code = failure.code;
        error.inner.retry_after = failure.retry_after;
        error.inner.excerpt = body.and_then(excerpt);
        error
    }

    /// A request that got no complete response (timeout, refused or reset connection), or that
    /// reqwest could not build.
    pub(crate) fn transport(api: Api, request: Option<(Method, String)>, source: reqwest::Error) -> Self {
        let what = if source.is_timeout() {
            "timed out"
        } else if source.is_connect() {
            "could not connect"
        } else if source.is_builder() {
            "could not build the request"
        } else if source.is_redirect() {
            "too many redirects"
        } else if source.is_body() || source.is_decode() {
            "connection lost while reading the response"
        } else {
            "request failed"
        };
        let mut error = HttpError::new(api, request, classify_transport(&source), what.to_owned());
        // reqwest's message includes the full URL, query string and all; keep it out.
        error.inner.source = Some(Box::new(source.without_url()));
        error
    }

    /// The local rate budget ([`Pacer`](crate::Pacer)) would only allow the request after the
    /// retry deadline; it was not sent.
    pub(crate) fn budget_exhausted(api: Api, request: (Method, String), wait: Duration) -> Self {
        let what = "not sent: the rate budget is used up".to_owned();
        let mut error = HttpError::new(api, Some(request), ErrorClass::RateLimited, what);
        error.inner.retry_after = Some(wait);
        error.inner.held = true;
        error
    }

    /// The HTTP client itself could not be set up (TLS initialisation, invalid settings).
    pub(crate) fn setup(api: Api, source: reqwest::Error) -> Self {
        let mut error = HttpError::new(api, None, ErrorClass::Data, "could not build the HTTP client".to_owned());
        error.inner.source = Some(Box::new(source.without_url()));
        error
    }

    /// An error of a given class, for exercising the retry loop in tests.
    #[cfg(test)]
    pub(crate) fn synthetic(class: ErrorClass, retry_after: Option<Duration>) -> Self {
        let mut error =
            HttpError::new(Api::Plex, Some((Method::GET, "/test".to_owned())), class, format!("synthetic {class}"));
        error.inner.retry_after = retry_after;
        error
    }

    /// Keeps the whole response body beside the excerpt, for a caller that reads a structured
    /// refusal (`Bytes` shares the buffer; nothing is copied).
    pub(crate) fn with_body(mut self, body: Bytes) -> Self {
        self.inner.body = Some(KeptBody(body));
        self
    }

    pub(crate) fn with_attempts(mut self, attempts: u32) -> Self {
        self.inner.attempts = attempts;
        self
    }

    /// What to do about it (DESIGN.md, "Error classes").
    pub fn class(&self) -> ErrorClass {
        self.inner.class
    }

    /// Whether the same request may succeed later without anybody changing anything.
    pub fn is_retryable(&self) -> bool {
        self.inner.class.is_retryable()
    }

    pub fn api(&self) -> Api {
        self.inner.api
    }

    /// The HTTP status, when a response arrived (a monday.com GraphQL error has 200).
    pub fn status(&self) -> Option<StatusCode> {
        self.inner.status
    }

    /// The API's own error code, when the body named one.
    pub fn code(&self) -> Option<&str> {
        self.inner.code.as_deref()
    }

    /// How long the server asked us to wait before the next try. When this is longer than the
    /// retry deadline allows, the retry loop stops and returns the error, so an SQS worker can put
    /// the message back with this much visibility timeout instead of sleeping in the Lambda.
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner.retry_after
    }

    /// Whether the local rate budget held the request back, unsent, because its wait
    /// ([`retry_after`](HttpError::retry_after)) would not leave the request time to run before
    /// the deadline. The retry loop hands such an error back at once instead of sleeping the wait.
    pub fn was_held(&self) -> bool {
        self.inner.held
    }

    /// How many attempts were made, this failed one included.
    pub fn attempts(&self) -> u32 {
        self.inner.attempts
    }

    /// The start of the response body (at most [`EXCERPT_CHARS`] characters, whitespace folded).
    pub fn body_excerpt(&self) -> Option<&str> {
        self.inner.excerpt.as_deref()
    }

    /// The whole body of the refused response, for a caller that reads the API's own account of
    /// the refusal where the excerpt would cut it (BigCommerce's 422 for an inventory adjustment
    /// lists every bad item in its `title`). `None` for transport failures, for requests the budget
    /// held back, and for confidential calls, whose bodies are never kept. Never part of `Display`
    /// or `Debug`.
    pub fn body(&self) -> Option<&[u8]> {
        self.inner.body.as_ref().map(|body| &body.0[..])
    }

    /// The request's method, when the request was built.
    pub fn method(&self) -> Option<&Method> {
        self.inner.request.as_ref().map(|(method, _)| method)
    }

    /// The request's URL path (no query string), when the request was built.
    pub fn path(&self) -> Option<&str> {
        self.inner.request.as_ref().map(|(_, path)| path.as_str())
    }
}

/// A kept response body; `Debug` shows only its length, so no log line carries it whole.
struct KeptBody(Bytes);

impl fmt::Debug for KeptBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes", self.0.len())
    }
}

/// Folds whitespace runs (HTML error pages are mostly newlines) and keeps the first
/// [`EXCERPT_CHARS`] characters, ending with `…` when it cut something.
fn excerpt(body: &[u8]) -> Option<String> {
    // Only the start matters; folding a multi-megabyte body would be wasted work.
    let head = &body[..body.len().min(EXCERPT_CHARS * 8)];
    let folded = String::from_utf8_lossy(head).split_whitespace().collect::<Vec<_>>().join(" ");
    if folded.is_empty() {
        return None;
    }
    if folded.chars().count() <= EXCERPT_CHARS && head.len() == body.len() {
        return Some(folded);
    }
    let mut kept: String = folded.chars().take(EXCERPT_CHARS - 1).collect();
    kept.push('…');
    Some(kept)
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        write!(f, "{}", inner.api)?;
        if let Some((method, path)) = &inner.request {
            write!(f, " {method} {path}")?;
        }
        write!(f, ": {} ({})", inner.what, inner.class)?;
        if inner.attempts > 1 {
            write!(f, " after {} attempts", inner.attempts)?;
        }
        if let Some(wait) = inner.retry_after {
            write!(f, ", server asked to wait {:.1} s", wait.as_secs_f64())?;
        }
        if let Some(excerpt) = &inner.excerpt {
            write!(f, ": {excerpt}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl StdError for HttpError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner.source.as_deref().map(|source| source as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(class: ErrorClass, code: Option<&str>) -> Failure {
        Failure { class, retry_after: None, code: code.map(str::to_owned) }
    }

    #[test]
    fn display_names_the_system_request_status_class_and_body() {
        let error = HttpError::from_response(
            Api::BigCommerce,
            (Method::GET, "/stores/abc/v2/store".to_owned()),
            StatusCode::UNAUTHORIZED,
            failure(ErrorClass::Auth, None),
            Some(br#"[{"status":401,"message":"You are not authorized."}]"#),
        );
        assert_eq!(
            error.to_string(),
            r#"BigCommerce GET /stores/abc/v2/store: 401 Unauthorized (auth): [{"status":401,"message":"You are not authorized."}]"#
        );
    }

    #[test]
    fn display_mentions_attempts_the_server_wait_and_graphql_codes() {
        let mut failure = failure(ErrorClass::RateLimited, Some("COMPLEXITY_BUDGET_EXHAUSTED"));
        failure.retry_after = Some(Duration::from_secs(60));
        let error =
            HttpError::from_response(Api::Monday, (Method::POST, "/v2".to_owned()), StatusCode::OK, failure, None)
                .with_attempts(3);
        assert_eq!(
            error.to_string(),
            "monday.com POST /v2: 200 OK with GraphQL error COMPLEXITY_BUDGET_EXHAUSTED (rate-limited) after 3 \
             attempts, server asked to wait 60.0 s"
        );
        assert_eq!(error.retry_after(), Some(Duration::from_secs(60)));
        assert_eq!(error.attempts(), 3);
    }

    #[test]
    fn a_confidential_body_leaves_no_excerpt() {
        let error = HttpError::from_response(
            Api::Plex,
            (Method::POST, "/oauth2/token".to_owned()),
            StatusCode::OK,
            failure(ErrorClass::Transient, None),
            None,
        );
        assert_eq!(error.body_excerpt(), None);
        assert_eq!(error.to_string(), "Plex POST /oauth2/token: 200 OK with an incomplete body (transient)");
    }

    #[test]
    fn excerpts_fold_whitespace_and_stop_at_300_characters() {
        assert_eq!(
            excerpt(b"<html>\n  <body>Bad   Gateway</body>\n</html>\n").as_deref(),
            Some("<html> <body>Bad Gateway</body> </html>")
        );
        assert_eq!(excerpt(b"  \n "), None);
        let long = "é".repeat(1000);
        let cut = excerpt(long.as_bytes()).expect("an excerpt");
        assert_eq!(cut.chars().count(), EXCERPT_CHARS);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn a_kept_body_is_whole_but_neither_displayed_nor_debugged() {
        let title = format!("[{}]", vec!["Item with variant_id 999 does not exist"; 20].join(", "));
        let body = serde_json::json!({ "status": 422, "title": title }).to_string();
        let error = HttpError::from_response(
            Api::BigCommerce,
            (Method::PUT, "/stores/abc/v3/inventory/adjustments/absolute".to_owned()),
            StatusCode::UNPROCESSABLE_ENTITY,
            failure(ErrorClass::Data, None),
            Some(body.as_bytes()),
        )
        .with_body(Bytes::from(body.clone()));
        assert_eq!(error.body(), Some(body.as_bytes()));
        assert!(error.body_excerpt().is_some_and(|excerpt| excerpt.chars().count() == EXCERPT_CHARS));
        let shown = format!("{error} {error:?}");
        assert!(shown.contains(&format!("{} bytes", body.len())), "{shown}");
        assert!(!shown.contains(&body), "only the excerpt is shown: {shown}");
    }

    #[test]
    fn transport_errors_keep_their_source_without_the_url() {
        let source = reqwest::Client::new().get("http://[::1/?token=hunter2").build().expect_err("a builder error");
        let error = HttpError::transport(Api::Plex, None, source);
        assert_eq!(error.class(), ErrorClass::Data);
        let chain = format!("{error} / {:?} / {:?}", error.source().map(ToString::to_string), error);
        assert!(!chain.contains("hunter2"), "{chain}");
    }
}
