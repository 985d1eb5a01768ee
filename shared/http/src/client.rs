//! [`ApiClient`]: one `reqwest::Client` for one API, with pacing, classification and retries.
//!
//! The API crates say what to send (a closure that builds the request, called once per attempt so
//! every attempt is a fresh request) and decode what comes back; everything in between is here:
//! wait for the budget, send with a timeout that fits the deadline, read the whole body, learn the
//! rate headers, classify, and retry per [`RetryPolicy`](crate::RetryPolicy).

use std::time::SystemTime;

use tokio::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use crate::retry::{Attempt, retry};
use crate::{Api, HttpError, HttpSettings, Pacer, classify};

/// Sent on every request: BigCommerce asks integrations to identify themselves, and the other
/// two systems' support can find our traffic by it.
pub const USER_AGENT: &str =
    concat!("Millwright/", env!("CARGO_PKG_VERSION"), " (BigCommerce-Plex-monday.com connector)");

/// Whether a failed response's body may be quoted in the error.
#[derive(Debug, Clone, Copy)]
enum Body {
    Excerpt,
    Confidential,
}

/// A successful response, read to the end.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// How many attempts it took.
    pub attempts: u32,
}

impl Reply {
    /// Decodes the body as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

/// The HTTP side of one API client: build it once per container and share it.
#[derive(Debug, Clone)]
pub struct ApiClient {
    api: Api,
    http: reqwest::Client,
    settings: HttpSettings,
    pacer: Pacer,
}

impl ApiClient {
    /// Builds the `reqwest::Client` (rustls, the settings' timeout, Millwright's User-Agent) and
    /// the API's default [`Pacer`].
    pub fn new(api: Api, settings: &HttpSettings) -> Result<ApiClient, HttpError> {
        let http = reqwest::Client::builder()
            .tls_backend_rustls()
            .timeout(settings.timeout)
            .user_agent(USER_AGENT)
            .build()
            .map_err(|source| HttpError::setup(api, source))?;
        Ok(ApiClient { api, http, settings: *settings, pacer: Pacer::for_api(api) })
    }

    /// Draws from `pacer` instead of the default budget, e.g. one shared by every client of a
    /// connection.
    pub fn with_pacer(mut self, pacer: Pacer) -> ApiClient {
        self.pacer = pacer;
        self
    }

    pub fn api(&self) -> Api {
        self.api
    }

    pub fn pacer(&self) -> &Pacer {
        &self.pacer
    }

    pub fn settings(&self) -> &HttpSettings {
        &self.settings
    }

    /// Sends the request `build` makes (once per attempt) until it succeeds or the retry policy
    /// gives up; returns the successful response or the last error.
    pub async fn send<F>(&self, build: F) -> Result<Reply, HttpError>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        let build = &build;
        retry(&self.settings.retry, |attempt| self.attempt(build, attempt, Body::Excerpt)).await
    }

    /// Like [`send`](ApiClient::send), for responses that carry a credential (an OAuth2 token
    /// endpoint): a failed response's body never goes into the error, not even a truncated 200.
    pub async fn send_confidential<F>(&self, build: F) -> Result<Reply, HttpError>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        let build = &build;
        retry(&self.settings.retry, |attempt| self.attempt(build, attempt, Body::Confidential)).await
    }

    async fn attempt<F>(&self, build: &F, attempt: Attempt, policy: Body) -> Result<Reply, HttpError>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        let started = Instant::now();
        let mut request = build(&self.http).build().map_err(|source| HttpError::transport(self.api, None, source))?;
        let request_line = (request.method().clone(), request.url().path().to_owned());
        // The budget's wait counts against the deadline like any other, and must leave the request
        // time to run: its timeout, or half the time left when that is less. A hold that does not
        // fit (a BigCommerce window after a 429, a monday reset) fails now with the wait, for SQS to
        // sit out. Sleeping through most of the deadline instead ends in a timeout, a transient
        // failure that names no wait, and the worker hands the message back after the queue's
        // visibility timeout, spending one of its receives on each hold.
        let send_time = self.settings.timeout.min(attempt.remaining / 2);
        if let Err(wait) = self.pacer.ready_within(attempt.remaining.saturating_sub(send_time)).await {
            return Err(HttpError::budget_exhausted(self.api, request_line, wait));
        }
        let remaining = attempt.remaining.saturating_sub(started.elapsed());
        *request.timeout_mut() = Some(self.settings.timeout.min(remaining));
        let response = match self.http.execute(request).await {
            Ok(response) => response,
            Err(source) => return Err(HttpError::transport(self.api, Some(request_line), source)),
        };
        let status = response.status();
        let headers = response.headers().clone();
        // A 429 says the most about the budget, so every response teaches the pacer.
        self.pacer.observe(&headers);
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(source) => return Err(HttpError::transport(self.api, Some(request_line), source)),
        };
        match classify(self.api, status, &headers, &body, SystemTime::now()) {
            Ok(()) => Ok(Reply { status, headers, body, attempts: attempt.number }),
            Err(failure) => {
                let excerpt = match policy {
                    Body::Excerpt => Some(&body[..]),
                    Body::Confidential => None,
                };
                Err(HttpError::from_response(self.api, request_line, status, failure, excerpt))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_agent_names_millwright_and_its_version() {
        assert!(USER_AGENT.starts_with("Millwright/0."), "{USER_AGENT}");
    }

    #[tokio::test]
    async fn a_client_builds_with_the_default_settings_and_pacer() {
        let client = ApiClient::new(Api::Plex, &HttpSettings::default()).expect("client");
        assert_eq!(client.api(), Api::Plex);
        assert_eq!(client.settings().timeout, HttpSettings::DEFAULT_TIMEOUT);
    }

    #[tokio::test]
    async fn a_request_that_cannot_be_built_fails_once_as_data() {
        let client = ApiClient::new(Api::BigCommerce, &HttpSettings::default()).expect("client");
        let error = client.send(|http| http.get("not a url")).await.expect_err("unbuildable");
        assert_eq!(error.class(), domain::ErrorClass::Data);
        assert_eq!(error.attempts(), 1);
    }

    #[tokio::test]
    async fn a_budget_that_frees_up_after_the_deadline_fails_at_once_without_sending() {
        let pacer = Pacer::bigcommerce(0);
        let mut quota_used_up = HeaderMap::new();
        quota_used_up.insert("x-rate-limit-requests-left", http::HeaderValue::from(0));
        quota_used_up.insert("x-rate-limit-time-reset-ms", http::HeaderValue::from(60_000));
        pacer.observe(&quota_used_up);
        let client = ApiClient::new(Api::BigCommerce, &HttpSettings::default()).expect("client").with_pacer(pacer);
        let started = std::time::Instant::now();

        // Nothing listens on the discard port; had the request been sent, it would fail otherwise.
        let error = client.send(|http| http.get("http://127.0.0.1:9/stores/x/v2/store")).await.expect_err("paced");

        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert_eq!(error.class(), domain::ErrorClass::RateLimited);
        assert_eq!(error.attempts(), 1);
        assert!(error.retry_after().is_some_and(|wait| wait > std::time::Duration::from_secs(59)), "{error:?}");
        assert!(error.to_string().contains("not sent: the rate budget is used up"), "{error}");
    }

    #[tokio::test]
    async fn a_hold_that_would_leave_the_request_too_little_time_fails_at_once_with_the_wait() {
        // The default settings: 10 s per attempt inside a 25 s deadline. A 20 s hold fits the
        // deadline, but the request would have 5 s of its 10 left.
        let pacer = Pacer::bigcommerce(0);
        let mut quota_used_up = HeaderMap::new();
        quota_used_up.insert("x-rate-limit-requests-left", http::HeaderValue::from(0));
        quota_used_up.insert("x-rate-limit-time-reset-ms", http::HeaderValue::from(20_000));
        pacer.observe(&quota_used_up);
        let client = ApiClient::new(Api::BigCommerce, &HttpSettings::default()).expect("client").with_pacer(pacer);

        // Had it waited and been sent, nothing listening there would make it a transient failure.
        let error = client.send(|http| http.get("http://127.0.0.1:9/stores/x/v2/orders/1")).await.expect_err("held");

        assert_eq!(error.class(), domain::ErrorClass::RateLimited, "{error}");
        assert!(error.to_string().contains("not sent: the rate budget is used up"), "{error}");
        assert!(error.retry_after().is_some_and(|wait| wait > std::time::Duration::from_secs(19)), "{error:?}");
    }

    #[tokio::test]
    async fn a_refused_connection_is_transient_and_retried() {
        // Bind a port, then free it: connecting there is refused at once on loopback.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address");
        drop(listener);
        let mut settings = HttpSettings::default();
        settings.retry.base_delay = std::time::Duration::from_millis(1);
        settings.retry.max_attempts = 2;
        let client = ApiClient::new(Api::Plex, &settings).expect("client");
        let url = format!("http://{address}/mdm/v1/tenants?secret=hunter2");
        let error = client.send(|http| http.get(&url)).await.expect_err("refused");
        assert_eq!(error.class(), domain::ErrorClass::Transient);
        assert_eq!(error.attempts(), 2);
        assert_eq!(error.path(), Some("/mdm/v1/tenants"));
        assert!(error.to_string().starts_with("Plex GET /mdm/v1/tenants: could not connect (transient)"), "{error}");
        let chain = format!("{error:?}");
        assert!(!chain.contains("hunter2"), "{chain}");
    }
}
