//! The one place that decides what an HTTP failure means and how to retry it, for all three APIs
//! Millwright calls (BigCommerce, Plex, monday.com).
//!
//! Layout:
//! - [`classify()`]: a pure function from (API, status, headers, body) to "success" or a
//!   [`Failure`] with its [`ErrorClass`] and the wait the server asked for; plus the class of a
//!   transport error (timeout, refused connection, reset).
//! - [`RetryPolicy`] and [`retry`]: bounded attempts inside a deadline, capped exponential backoff
//!   with full jitter, server-given waits honoured, never retrying auth, permission or data errors.
//! - [`Pacer`]: spends each API's rate budget before a request is sent, so steady traffic does not
//!   meet a 429 (BigCommerce from its `X-Rate-Limit-*` headers, Plex from a local 200-per-minute
//!   window, monday.com from a requests-per-minute cap and its `RateLimit` header). Its waits
//!   count against the retry deadline: a wait that cannot fit fails the call at once, rate
//!   limited, with the wait in [`HttpError::retry_after`], instead of outliving the Lambda.
//! - [`ApiClient`]: one `reqwest::Client` plus the above; the API crates build requests and decode
//!   bodies, and leave every retry and classification decision here. `send_streaming` hands a
//!   successful body over as a [`BodyStream`] of chunks (a [`StreamingReply`]) for lists too big
//!   to hold, retrying only before the body is handed over.
//! - [`HttpError`]: what a failed call reports: class, status, a short body excerpt (and the whole
//!   body, kept for callers that read a structured refusal, never shown), the server's wait, the
//!   number of attempts, and the transport error as its source.
//! - [`secret`]: reads credential fields out of a secret's JSON document without ever echoing a
//!   value into an error.
//!
//! No client crate has its own retry loop or status classification (ARCHITECTURE.md).

pub mod classify;
mod client;
mod error;
mod pacer;
mod retry;
pub mod secret;

use std::fmt;
use std::time::Duration;

pub use classify::{Failure, classify, classify_transport};
pub use client::{ApiClient, BodyStream, Reply, StreamingReply};
pub use domain::ErrorClass;
pub use error::HttpError;
pub use pacer::Pacer;
pub use retry::{Attempt, RetryPolicy, retry};

/// Which API a request goes to: decides which headers and body fields carry rate-limit
/// information, how a 200 is checked (monday.com reports GraphQL errors with a 200), and which
/// budget the default [`Pacer`] spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    BigCommerce,
    Plex,
    Monday,
}

impl Api {
    /// The name operators know the system by, used at the start of every error message.
    pub fn name(self) -> &'static str {
        match self {
            Api::BigCommerce => "BigCommerce",
            Api::Plex => "Plex",
            Api::Monday => "monday.com",
        }
    }
}

impl fmt::Display for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Checks a configured base URL (`https://api.bigcommerce.com`, `http://127.0.0.1:4010`) and
/// returns it without a trailing slash, ready for `format!("{base}/path")`. The reason it gives
/// never quotes the URL, in case someone pasted credentials into it.
pub fn base_url(url: &str) -> Result<String, String> {
    let parsed = reqwest::Url::parse(url.trim()).map_err(|error| format!("is not a URL ({error})"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("must start with https:// (or http:// for a local double)".to_owned());
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("has no host".to_owned());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not carry credentials; they belong in the secret".to_owned());
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err("must not have a query string or fragment".to_owned());
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

/// How every API client talks HTTP: the per-attempt timeout and the retry policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpSettings {
    /// Upper bound of one attempt, from connecting until the whole body has arrived. Each attempt
    /// also stops at the retry deadline, whichever comes first.
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

impl HttpSettings {
    /// 10 s per attempt: generous for BigCommerce and monday.com, and below the 25 s retry deadline
    /// so a hung attempt still leaves room for another. Plex's big unfiltered lists can take longer;
    /// the flows that read them filter by date windows, or configure a longer timeout.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

    /// For a server on this machine, such as the sandbox's API doubles in the clients' tests:
    /// 2 s per attempt, and 4 attempts with a backoff of 20 ms doubling to at most 200 ms, all
    /// within 10 s. A retried or failing call against a double then costs milliseconds, not the
    /// seconds the [default](HttpSettings::default) spends sparing the real APIs; waits the server
    /// asks for (`Retry-After` and the like) are still honoured in full.
    pub fn for_local_double() -> Self {
        HttpSettings {
            timeout: Duration::from_secs(2),
            retry: RetryPolicy {
                max_attempts: 4,
                base_delay: Duration::from_millis(20),
                max_delay: Duration::from_millis(200),
                deadline: Duration::from_secs(10),
            },
        }
    }

    /// These settings with another per-attempt timeout; the retry policy is unchanged.
    pub fn with_timeout(self, timeout: Duration) -> Self {
        HttpSettings { timeout, ..self }
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings { timeout: Self::DEFAULT_TIMEOUT, retry: RetryPolicy::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_lose_their_trailing_slash_and_keep_their_path() {
        assert_eq!(base_url("https://api.bigcommerce.com/").as_deref(), Ok("https://api.bigcommerce.com"));
        assert_eq!(base_url(" http://127.0.0.1:4030/v2 ").as_deref(), Ok("http://127.0.0.1:4030/v2"));
    }

    #[test]
    fn base_urls_without_an_http_scheme_or_with_a_query_are_refused() {
        assert!(base_url("api.bigcommerce.com").is_err());
        assert!(base_url("ftp://example.test").is_err());
        assert!(base_url("https://example.test/?token=x").is_err());
        assert!(base_url("https://user:hunter2@example.test").is_err_and(|reason| !reason.contains("hunter2")));
        assert!(base_url("").is_err());
    }

    #[test]
    fn every_preset_leaves_room_for_a_retry_after_a_timed_out_attempt() {
        for settings in [HttpSettings::default(), HttpSettings::for_local_double()] {
            assert!(settings.timeout < settings.retry.deadline, "{settings:?}");
            assert!(settings.retry.max_attempts > 1, "{settings:?}");
        }
    }

    #[test]
    fn with_timeout_changes_the_timeout_alone() {
        let settings = HttpSettings::for_local_double().with_timeout(Duration::from_millis(300));
        assert_eq!(settings.timeout, Duration::from_millis(300));
        assert_eq!(settings.retry, HttpSettings::for_local_double().retry);
    }

    #[test]
    fn apis_are_named_as_operators_know_them() {
        let names: Vec<String> = [Api::BigCommerce, Api::Plex, Api::Monday].iter().map(ToString::to_string).collect();
        assert_eq!(names, ["BigCommerce", "Plex", "monday.com"]);
    }
}
