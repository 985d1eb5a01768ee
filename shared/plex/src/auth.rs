//! How a Connect request is authenticated: the API-key headers, or an OAuth2 Bearer token from
//! the client-credentials grant, cached in memory until shortly before it expires.
//!
//! The cache is shared by every clone of the client and guarded by an async mutex, so when the
//! token runs out one request fetches the next while the others wait for it, instead of each
//! asking the token endpoint. Each token carries a generation number: a request that was refused
//! with generation N asks for a refresh only if the cache still holds N, so a burst of 401s after
//! an expiry causes one refresh, not one per request.
//!
//! A client given a [`TokenStore`] also shares its token with every other container of the
//! connection (Secrets Manager in production, see `runtime`). Before asking the token endpoint it
//! reads the shared token and uses it while it is fresh; when it is not (missing, expiring within
//! its refresh margin, or the one Plex just refused), one container at a time replaces it: the
//! store's claim settles who, the others poll the store for a bounded time and then fetch on their
//! own, because a slow or failed refresher must never stall every order. Store failures only cost
//! the sharing: the client logs them and works with a token of its own.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use domain::PortError;
use millwright_http::ApiClient;
use reqwest::RequestBuilder;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::Error;

/// How long a refresher holds its claim. A token request, retries included, fits well inside it;
/// a refresher that dies keeps the others waiting only until their own bounded wait runs out.
pub const REFRESH_CLAIM: Duration = Duration::from_secs(30);

/// How long a container waits for another container's refresh before fetching a token itself.
const WAIT_FOR_REFRESHER: Duration = Duration::from_secs(5);

/// How often a waiting container re-reads the shared token.
const POLL_SHARED_TOKEN: Duration = Duration::from_millis(200);

/// The claim version that stands for "the store holds no token yet".
pub const NO_SHARED_TOKEN: &str = "none";

/// An OAuth2 access token as the containers of one connection share it. Stored as the JSON
/// document `{"access_token": "...", "issued_at": "<RFC 3339>", "expires_at": "<RFC 3339>" | null}`
/// (see [`SharedToken::to_secret_json`]); `Debug` never shows the token.
#[derive(Debug, Clone)]
pub struct SharedToken {
    pub access_token: SecretString,
    /// When the token endpoint issued it; also the token's version (see [`SharedToken::version`]).
    pub issued_at: DateTime<Utc>,
    /// `None` when the token endpoint announced no lifetime: then only a 401 ends the token.
    pub expires_at: Option<DateTime<Utc>>,
}

/// The stored form of a [`SharedToken`].
#[derive(Deserialize)]
struct StoredToken {
    access_token: SecretString,
    issued_at: DateTime<Utc>,
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
}

impl SharedToken {
    /// The JSON document a store keeps.
    pub fn to_secret_json(&self) -> SecretString {
        let document = serde_json::json!({
            "access_token": self.access_token.expose_secret(),
            "issued_at": self.issued_at.to_rfc3339_opts(SecondsFormat::Nanos, true),
            "expires_at": self.expires_at.map(|at| at.to_rfc3339_opts(SecondsFormat::Nanos, true)),
        });
        SecretString::from(document.to_string())
    }

    /// Reads a stored document; `None` when it is not one. Deliberately without a reason: a
    /// parser's message could quote the document, and the document holds the token.
    pub fn from_secret_json(document: &SecretString) -> Option<SharedToken> {
        let stored: StoredToken = serde_json::from_str(document.expose_secret()).ok()?;
        Some(SharedToken {
            access_token: stored.access_token,
            issued_at: stored.issued_at,
            expires_at: stored.expires_at,
        })
    }

    /// Names this token without revealing it: its issue time. Refresh claims are per version, so
    /// replacing one token never waits for the claim that replaced the one before it.
    pub fn version(&self) -> String {
        self.issued_at.to_rfc3339_opts(SecondsFormat::Nanos, true)
    }

    /// When to stop sending it: its expiry less the refresh margin (`None`: not before a 401).
    pub fn refresh_at(&self) -> Option<DateTime<Utc>> {
        let expires_at = self.expires_at?;
        let lifetime = (expires_at - self.issued_at).to_std().unwrap_or(Duration::ZERO);
        let margin = chrono::Duration::from_std(refresh_margin(lifetime)).unwrap_or(chrono::Duration::zero());
        Some(expires_at.checked_sub_signed(margin).unwrap_or(expires_at))
    }

    /// Whether the token is worth sending at `now`: it does not expire within its refresh margin.
    pub fn is_fresh(&self, now: DateTime<Utc>) -> bool {
        self.refresh_at().is_none_or(|refresh_at| now < refresh_at)
    }
}

/// Where the containers of one connection share its OAuth2 token, and who may replace it.
///
/// Errors are `PortError`s of the backing store; the client logs them and carries on with a token
/// of its own, so an unreachable store never fails a Plex call.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// The token last saved, whatever its expiry; `None` when there is none (or it is unreadable).
    async fn load(&self) -> Result<Option<SharedToken>, PortError>;
    /// Replaces the shared token.
    async fn save(&self, token: &SharedToken) -> Result<(), PortError>;
    /// Claims the right to replace the token of `version` ([`SharedToken::version`], or
    /// [`NO_SHARED_TOKEN`]) for `ttl`: `true` for exactly one of any number of racing callers
    /// until `ttl` has passed. A claim is never released; the new token it leads to has a new
    /// version, and waiters look for that token rather than for the claim to end.
    async fn claim_refresh(&self, version: &str, ttl: Duration) -> Result<bool, PortError>;
}

/// The credential a client sends, per the profile's `PlexAuthMode`.
#[derive(Debug, Clone)]
pub(crate) enum Auth {
    ApiKey { key: SecretString, secret: Option<SecretString> },
    OAuth2(Arc<OAuth2>),
}

/// A Bearer token and the generation it belongs to.
#[derive(Debug, Clone)]
pub(crate) struct Bearer {
    token: SecretString,
    pub generation: u64,
}

/// The OAuth2 client, its token cache, and the store it shares tokens through (if any).
pub(crate) struct OAuth2 {
    token_url: String,
    client_id: String,
    client_secret: SecretString,
    shared: Option<Arc<dyn TokenStore>>,
    cache: Mutex<TokenCache>,
}

impl fmt::Debug for OAuth2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth2")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("shared", &self.shared.is_some())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct TokenCache {
    current: Option<CachedToken>,
    generations: u64,
}

#[derive(Debug)]
struct CachedToken {
    bearer: Bearer,
    /// When to stop using it; `None` when the server gave no lifetime (then only a 401 ends it).
    refresh_at: Option<Instant>,
}

/// The token endpoint's answer (RFC 6749 §5.1).
#[derive(Debug, Deserialize)]
struct TokenResponse {
    access_token: SecretString,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// How long before its announced expiry a token is replaced: a tenth of its lifetime, at most a
/// minute, so a request never leaves with a token about to lapse, and a token with a short test
/// lifetime is still used more than once.
fn refresh_margin(lifetime: Duration) -> Duration {
    (lifetime / 10).min(Duration::from_secs(60))
}

impl OAuth2 {
    pub(crate) fn new(token_url: String, client_id: String, client_secret: SecretString) -> OAuth2 {
        OAuth2 { token_url, client_id, client_secret, shared: None, cache: Mutex::new(TokenCache::default()) }
    }

    /// The same OAuth2 client sharing its tokens through `store`, with an empty in-memory cache.
    pub(crate) fn sharing(&self, store: Arc<dyn TokenStore>) -> OAuth2 {
        OAuth2 {
            token_url: self.token_url.clone(),
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
            shared: Some(store),
            cache: Mutex::new(TokenCache::default()),
        }
    }

    /// The cached token, or a new one when there is none or it is about to expire.
    pub(crate) async fn bearer(&self, api: &ApiClient) -> Result<Bearer, Error> {
        let mut cache = self.cache.lock().await;
        if let Some(cached) = &cache.current
            && cached.refresh_at.is_none_or(|refresh_at| Instant::now() < refresh_at)
        {
            return Ok(cached.bearer.clone());
        }
        self.renew(api, &mut cache, None).await
    }

    /// A new token after Plex refused the one of generation `refused`; if another request has
    /// already replaced it, that newer token.
    pub(crate) async fn refresh(&self, api: &ApiClient, refused: u64) -> Result<Bearer, Error> {
        let mut cache = self.cache.lock().await;
        if let Some(cached) = &cache.current
            && cached.bearer.generation != refused
        {
            return Ok(cached.bearer.clone());
        }
        tracing::info!(generation = refused, "Plex refused the OAuth2 token; fetching a new one");
        let refused_token = cache.current.take().map(|cached| cached.bearer.token);
        self.renew(api, &mut cache, refused_token.as_ref()).await
    }

    /// Replaces the in-memory token: with the shared one when it is fresh and not the token Plex
    /// refused, otherwise with a new one from the token endpoint (saved for the others).
    async fn renew(
        &self,
        api: &ApiClient,
        cache: &mut TokenCache,
        refused: Option<&SecretString>,
    ) -> Result<Bearer, Error> {
        let Some(store) = &self.shared else {
            let token = self.fetch(api).await?;
            return Ok(adopt(cache, token));
        };
        let give_up_waiting = Instant::now() + WAIT_FOR_REFRESHER;
        loop {
            let stored = store.load().await.unwrap_or_else(|error| {
                tracing::warn!(error.message = %error, "cannot read the shared Plex token; going without it");
                None
            });
            if let Some(token) = &stored
                && token.is_fresh(Utc::now())
                && refused.is_none_or(|refused| refused.expose_secret() != token.access_token.expose_secret())
            {
                return Ok(adopt(cache, token.clone()));
            }
            let version = stored.as_ref().map_or_else(|| NO_SHARED_TOKEN.to_owned(), SharedToken::version);
            let claimed = store.claim_refresh(&version, REFRESH_CLAIM).await.unwrap_or_else(|error| {
                // Without the claim two containers may both fetch a token, which Plex allows;
                // waiting on a claim nobody can take would stall every call instead.
                tracing::warn!(error.message = %error, "cannot claim the Plex token refresh; refreshing anyway");
                true
            });
            if claimed || Instant::now() >= give_up_waiting {
                let token = self.fetch(api).await?;
                if let Err(error) = store.save(&token).await {
                    tracing::warn!(error.message = %error, "cannot share the new Plex token; using it alone");
                }
                return Ok(adopt(cache, token));
            }
            tokio::time::sleep(POLL_SHARED_TOKEN).await;
        }
    }

    /// Asks the token endpoint for a new token.
    async fn fetch(&self, api: &ApiClient) -> Result<SharedToken, Error> {
        let reply = api
            .send_confidential(|http| {
                http.post(&self.token_url)
                    .basic_auth(&self.client_id, Some(self.client_secret.expose_secret()))
                    .header(ACCEPT, HeaderValue::from_static("application/json"))
                    .form(&[("grant_type", "client_credentials")])
            })
            .await?;
        let response: TokenResponse =
            reply.json().map_err(|source| Error::Decode { what: "OAuth2 token response", element: None, source })?;
        if response.token_type.as_deref().is_some_and(|kind| !kind.eq_ignore_ascii_case("bearer")) {
            return Err(Error::Config {
                what: "token endpoint",
                reason: "issued a token that is not a Bearer token".to_owned(),
            });
        }
        if HeaderValue::from_str(&format!("Bearer {}", response.access_token.expose_secret())).is_err() {
            return Err(Error::Config {
                what: "token endpoint",
                reason: "issued a token an HTTP header cannot carry".to_owned(),
            });
        }
        let issued_at = Utc::now();
        // A lifetime too long to represent is as good as none: the token lasts until a 401.
        let expires_at = response
            .expires_in
            .and_then(|seconds| chrono::Duration::try_seconds(i64::try_from(seconds).ok()?))
            .and_then(|lifetime| issued_at.checked_add_signed(lifetime));
        Ok(SharedToken { access_token: response.access_token, issued_at, expires_at })
    }
}

/// Makes `token` the cached one, under a new generation.
fn adopt(cache: &mut TokenCache, token: SharedToken) -> Bearer {
    cache.generations += 1;
    let bearer = Bearer { token: token.access_token.clone(), generation: cache.generations };
    // The wall-clock deadline becomes a monotonic one, so a clock step cannot stretch a token.
    let refresh_at = token.refresh_at().map(|refresh_at| {
        let left = (refresh_at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        Instant::now() + left
    });
    cache.current = Some(CachedToken { bearer: bearer.clone(), refresh_at });
    bearer
}

/// Adds the API-key headers.
pub(crate) fn with_api_key(
    request: RequestBuilder,
    key: &SecretString,
    secret: Option<&SecretString>,
) -> RequestBuilder {
    let request = with_secret_header(request, "X-Plex-Connect-Api-Key", key.expose_secret());
    match secret {
        Some(secret) => with_secret_header(request, "X-Plex-Connect-Api-Secret", secret.expose_secret()),
        None => request,
    }
}

/// Adds `Authorization: Bearer ...`.
pub(crate) fn with_bearer(request: RequestBuilder, bearer: &Bearer) -> RequestBuilder {
    with_secret_header(request, AUTHORIZATION.as_str(), &format!("Bearer {}", bearer.token.expose_secret()))
}

/// Sets a header marked sensitive, so no HTTP layer prints it. Values were checked to be valid
/// header text when the credentials were read; should one still be refused, the header is left
/// out and Plex's 401 reports the problem as an auth error.
fn with_secret_header(request: RequestBuilder, name: &'static str, value: &str) -> RequestBuilder {
    match HeaderValue::from_str(value) {
        Ok(mut value) => {
            value.set_sensitive(true);
            request.header(name, value)
        }
        Err(_) => request,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).expect("a time").with_timezone(&Utc)
    }

    fn token(issued_at: &str, expires_at: Option<&str>) -> SharedToken {
        SharedToken {
            access_token: SecretString::from("tok-abc".to_owned()),
            issued_at: at(issued_at),
            expires_at: expires_at.map(at),
        }
    }

    #[test]
    fn tokens_are_replaced_a_tenth_of_their_life_early_but_at_most_a_minute() {
        assert_eq!(refresh_margin(Duration::from_secs(3600)), Duration::from_secs(60));
        assert_eq!(refresh_margin(Duration::from_secs(300)), Duration::from_secs(30));
        assert_eq!(refresh_margin(Duration::from_secs(2)), Duration::from_millis(200));
    }

    #[test]
    fn bearer_debug_output_hides_the_token() {
        let bearer = Bearer { token: SecretString::from("tok-abc".to_owned()), generation: 3 };
        assert!(!format!("{bearer:?}").contains("tok-abc"));
    }

    #[test]
    fn a_shared_token_is_fresh_until_its_refresh_margin_begins() {
        let hour = token("2026-11-24T10:00:00Z", Some("2026-11-24T11:00:00Z"));
        assert_eq!(hour.refresh_at(), Some(at("2026-11-24T10:59:00Z")));
        assert!(hour.is_fresh(at("2026-11-24T10:58:59Z")));
        assert!(!hour.is_fresh(at("2026-11-24T10:59:00Z")));
        let unbounded = token("2026-11-24T10:00:00Z", None);
        assert!(unbounded.is_fresh(at("2030-01-01T00:00:00Z")));
    }

    #[test]
    fn a_shared_token_round_trips_through_its_stored_document() {
        let original = token("2026-11-24T10:00:00.5Z", Some("2026-11-24T11:00:00.5Z"));
        let document = original.to_secret_json();
        let value: serde_json::Value = serde_json::from_str(document.expose_secret()).expect("JSON");
        assert_eq!(value["access_token"], "tok-abc");
        assert_eq!(value["expires_at"], "2026-11-24T11:00:00.500000000Z");

        let back = SharedToken::from_secret_json(&document).expect("parses");
        assert_eq!(back.access_token.expose_secret(), "tok-abc");
        assert_eq!((back.issued_at, back.expires_at), (original.issued_at, original.expires_at));
        assert_eq!(back.version(), "2026-11-24T10:00:00.500000000Z");
        assert!(!format!("{back:?}").contains("tok-abc"));
    }

    #[test]
    fn an_unreadable_stored_document_is_no_token() {
        for text in ["", "{}", r#"{"access_token": 5, "issued_at": "2026-11-24T10:00:00Z"}"#, "not json"] {
            assert!(SharedToken::from_secret_json(&SecretString::from(text.to_owned())).is_none(), "{text}");
        }
    }
}
