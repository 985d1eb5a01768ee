//! [`ApiClient`]: one `reqwest::Client` for one API, with pacing, classification and retries.
//!
//! The API crates say what to send (a closure that builds the request, called once per attempt so
//! every attempt is a fresh request) and decode what comes back; everything in between is here:
//! wait for the budget, send with a timeout that fits the deadline, read the whole body, learn the
//! rate headers, classify, and retry per [`RetryPolicy`](crate::RetryPolicy).
//!
//! [`ApiClient::send_streaming`] does the same up to the status and headers, then hands a
//! successful response's body over as a [`BodyStream`] of chunks as they arrive, for the lists too
//! big to hold (Plex's containers: one unpaged array of tens of MB). Retries happen only before
//! that: once the caller holds the body, a failure while reading it is the caller's error.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::SystemTime;

use tokio::time::Instant;

use bytes::Bytes;
use futures_util::Stream;
use http::{HeaderMap, Method, StatusCode};
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

/// A successful response whose body has not been read: its status and headers, and the body as it
/// arrives.
#[derive(Debug)]
pub struct StreamingReply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// How many attempts it took to get this far.
    pub attempts: u32,
    pub body: BodyStream,
}

/// A response body, chunk by chunk as the connection delivers it; only the chunk in hand is held.
/// The attempt's timeout still runs while it is read. A chunk that fails (the connection dropped,
/// the timeout passed) is a transient [`HttpError`] naming the request and ends the stream; a body
/// that ends early (a proxy cut it) ends the stream normally, so a reader must check that what it
/// read is whole.
pub struct BodyStream {
    chunks: Pin<Box<dyn Stream<Item = Result<Bytes, HttpError>> + Send>>,
}

impl BodyStream {
    fn new(api: Api, request_line: (Method, String), response: reqwest::Response) -> BodyStream {
        let reading = Some((response, api, request_line));
        let chunks = futures_util::stream::unfold(reading, |reading| async move {
            let (mut response, api, request_line) = reading?;
            match response.chunk().await {
                Ok(Some(chunk)) => Some((Ok(chunk), Some((response, api, request_line)))),
                Ok(None) => None,
                Err(source) => Some((Err(HttpError::transport(api, Some(request_line), source)), None)),
            }
        });
        BodyStream { chunks: Box::pin(chunks) }
    }
}

impl Stream for BodyStream {
    type Item = Result<Bytes, HttpError>;

    fn poll_next(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.chunks.as_mut().poll_next(context)
    }
}

impl fmt::Debug for BodyStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BodyStream")
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

    /// Like [`send`](ApiClient::send) up to the status and headers: pacing, the timeout, and the
    /// classification and retries of a failed status are the same (a failed response's body is
    /// read whole, as error bodies are small). A successful response comes back at once with its
    /// body unread, as a [`BodyStream`]; from then on nothing is retried, since a retry would read
    /// the body again from its start. The settings' timeout bounds the whole exchange, the reading
    /// of the body included, so a client that streams a large body needs a timeout to match.
    pub async fn send_streaming<F>(&self, build: F) -> Result<StreamingReply, HttpError>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        let build = &build;
        retry(&self.settings.retry, |attempt| self.attempt_streaming(build, attempt)).await
    }

    async fn attempt<F>(&self, build: &F, attempt: Attempt, policy: Body) -> Result<Reply, HttpError>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        let (response, request_line) = self.start(build, attempt).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(source) => return Err(HttpError::transport(self.api, Some(request_line), source)),
        };
        match classify(self.api, status, &headers, &body, SystemTime::now()) {
            Ok(()) => Ok(Reply { status, headers, body, attempts: attempt.number }),
            Err(failure) => Err(self.refused(request_line, status, failure, body, policy)),
        }
    }

    async fn attempt_streaming<F>(&self, build: &F, attempt: Attempt) -> Result<StreamingReply, HttpError>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        let (response, request_line) = self.start(build, attempt).await?;
        let status = response.status();
        let headers = response.headers().clone();
        if status.is_success() {
            // The status and headers decide; the body is the caller's to read and check.
            if let Err(failure) = classify(self.api, status, &headers, &[], SystemTime::now()) {
                return Err(self.refused(request_line, status, failure, Bytes::new(), Body::Excerpt));
            }
            let body = BodyStream::new(self.api, request_line, response);
            return Ok(StreamingReply { status, headers, attempts: attempt.number, body });
        }
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(source) => return Err(HttpError::transport(self.api, Some(request_line), source)),
        };
        let failure = match classify(self.api, status, &headers, &body, SystemTime::now()) {
            Err(failure) => failure,
            // Only a success passes; a status that is not one cannot get here.
            Ok(()) => crate::Failure { class: domain::ErrorClass::Data, retry_after: None, code: None },
        };
        Err(self.refused(request_line, status, failure, body, Body::Excerpt))
    }

    /// The error for a response `classify` turned down, with its body kept unless confidential.
    fn refused(
        &self,
        request_line: (Method, String),
        status: StatusCode,
        failure: crate::Failure,
        body: Bytes,
        policy: Body,
    ) -> HttpError {
        match policy {
            Body::Excerpt => {
                HttpError::from_response(self.api, request_line, status, failure, Some(&body[..])).with_body(body)
            }
            Body::Confidential => HttpError::from_response(self.api, request_line, status, failure, None),
        }
    }

    /// Builds the attempt's request, waits for the budget, and sends it with a timeout that fits
    /// the deadline; the response's headers teach the pacer.
    async fn start<F>(&self, build: &F, attempt: Attempt) -> Result<(reqwest::Response, (Method, String)), HttpError>
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
        // A 429 says the most about the budget, so every response teaches the pacer.
        self.pacer.observe(response.headers());
        Ok((response, request_line))
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

    /// A one-request-per-connection HTTP/1.1 server on 127.0.0.1 that answers the `n`-th
    /// connection with the `n`-th script: byte runs written one after another, a moment apart, so
    /// the client sees them as separate chunks. Returns its base URL and a count of connections.
    async fn scripted_server(scripts: Vec<Vec<Vec<u8>>>) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = connections.clone();
        tokio::spawn(async move {
            for script in scripts {
                let Ok((mut socket, _)) = listener.accept().await else { return };
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut request = Vec::new();
                let mut buffer = [0_u8; 1024];
                while !request.windows(4).any(|window| window == b"\r\n\r\n") {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => break,
                        Ok(read) => request.extend_from_slice(&buffer[..read]),
                    }
                }
                for part in script {
                    if socket.write_all(&part).await.is_err() {
                        break;
                    }
                    let _ = socket.flush().await;
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            }
        });
        (url, connections)
    }

    fn response_head(status: &str, content_length: usize) -> Vec<u8> {
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {content_length}\r\n\
             connection: close\r\n\r\n"
        )
        .into_bytes()
    }

    fn quick_retries() -> HttpSettings {
        let mut settings = HttpSettings::default();
        settings.retry.base_delay = std::time::Duration::from_millis(1);
        settings
    }

    async fn read_all(body: &mut BodyStream) -> (Vec<Bytes>, Option<HttpError>) {
        use futures_util::StreamExt;
        let mut chunks = Vec::new();
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(chunk) => chunks.push(chunk),
                Err(error) => return (chunks, Some(error)),
            }
        }
        (chunks, None)
    }

    #[tokio::test]
    async fn a_streamed_body_arrives_in_chunks_after_a_failed_status_was_retried() {
        let body = br#"[{"partNo":"A","quantity":1},{"partNo":"B","quantity":2}]"#.to_vec();
        let unavailable = br#"{"code":"REQUEST_PROCESSING_ERROR"}"#.to_vec();
        let (url, connections) = scripted_server(vec![
            vec![response_head("503 Service Unavailable", unavailable.len()), unavailable],
            vec![response_head("200 OK", body.len()), body[..20].to_vec(), body[20..].to_vec()],
        ])
        .await;
        let client = ApiClient::new(Api::Plex, &quick_retries()).expect("client");

        let mut reply = client.send_streaming(|http| http.get(format!("{url}/containers"))).await.expect("streamed");

        assert_eq!((reply.status, reply.attempts), (StatusCode::OK, 2));
        let (chunks, error) = read_all(&mut reply.body).await;
        assert!(error.is_none(), "{error:?}");
        assert!(chunks.len() >= 2, "the body came as it was written: {chunks:?}");
        assert_eq!(chunks.concat(), body);
        assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_body_that_breaks_off_while_streamed_is_a_transient_error_and_nothing_is_retried() {
        // The head promises 100 bytes; the server sends 10 and hangs up.
        let (url, connections) = scripted_server(vec![
            vec![response_head("200 OK", 100), b"[{\"a\":1},".to_vec()],
            vec![response_head("200 OK", 2), b"[]".to_vec()],
        ])
        .await;
        let client = ApiClient::new(Api::Plex, &quick_retries()).expect("client");

        let mut reply = client.send_streaming(|http| http.get(format!("{url}/containers"))).await.expect("a head");
        let (chunks, error) = read_all(&mut reply.body).await;

        assert_eq!(chunks.concat(), b"[{\"a\":1},");
        let error = error.expect("the break is reported");
        assert_eq!(error.class(), domain::ErrorClass::Transient);
        assert_eq!(error.path(), Some("/containers"));
        assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 1, "no retry once the body was handed over");
    }

    #[tokio::test]
    async fn a_refused_streamed_request_is_an_error_that_keeps_the_whole_body() {
        let refusal =
            format!(r#"{{"status":422,"title":"[{}]"}}"#, vec!["Item with product_id 7 does not exist"; 30].join(", "));
        let (url, _) = scripted_server(vec![vec![
            response_head("422 Unprocessable Entity", refusal.len()),
            refusal.clone().into_bytes(),
        ]])
        .await;
        let client = ApiClient::new(Api::BigCommerce, &quick_retries()).expect("client");

        let error = client.send_streaming(|http| http.get(format!("{url}/v3/x"))).await.expect_err("422");

        assert_eq!((error.class(), error.attempts()), (domain::ErrorClass::Data, 1));
        assert_eq!(error.body(), Some(refusal.as_bytes()));
        assert!(error.body_excerpt().is_some_and(|excerpt| excerpt.len() < refusal.len()));
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
