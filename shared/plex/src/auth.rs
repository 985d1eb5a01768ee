//! How a Connect request is authenticated: the API-key headers, or an OAuth2 Bearer token from
//! the client-credentials grant, cached in memory until shortly before it expires.
//!
//! The cache is shared by every clone of the client and guarded by an async mutex, so when the
//! token runs out one request fetches the next while the others wait for it, instead of each
//! asking the token endpoint. Each token carries a generation number: a request that was refused
//! with generation N asks for a refresh only if the cache still holds N, so a burst of 401s after
//! an expiry causes one refresh, not one per request.

use std::sync::Arc;
use std::time::Duration;

use millwright_http::ApiClient;
use reqwest::RequestBuilder;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::Error;

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

/// The OAuth2 client and its token cache.
#[derive(Debug)]
pub(crate) struct OAuth2 {
    token_url: String,
    client_id: String,
    client_secret: SecretString,
    cache: Mutex<TokenCache>,
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
        OAuth2 { token_url, client_id, client_secret, cache: Mutex::new(TokenCache::default()) }
    }

    /// The cached token, or a new one when there is none or it is about to expire.
    pub(crate) async fn bearer(&self, api: &ApiClient) -> Result<Bearer, Error> {
        let mut cache = self.cache.lock().await;
        if let Some(cached) = &cache.current
            && cached.refresh_at.is_none_or(|refresh_at| Instant::now() < refresh_at)
        {
            return Ok(cached.bearer.clone());
        }
        self.fetch(api, &mut cache).await
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
        self.fetch(api, &mut cache).await
    }

    async fn fetch(&self, api: &ApiClient, cache: &mut TokenCache) -> Result<Bearer, Error> {
        cache.current = None;
        let reply = api
            .send_confidential(|http| {
                http.post(&self.token_url)
                    .basic_auth(&self.client_id, Some(self.client_secret.expose_secret()))
                    .header(ACCEPT, HeaderValue::from_static("application/json"))
                    .form(&[("grant_type", "client_credentials")])
            })
            .await?;
        let response: TokenResponse =
            reply.json().map_err(|source| Error::Decode { what: "OAuth2 token response", source })?;
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
        cache.generations += 1;
        let bearer = Bearer { token: response.access_token, generation: cache.generations };
        let refresh_at = response.expires_in.map(|seconds| {
            let lifetime = Duration::from_secs(seconds);
            Instant::now() + lifetime - refresh_margin(lifetime)
        });
        cache.current = Some(CachedToken { bearer: bearer.clone(), refresh_at });
        Ok(bearer)
    }
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
}
