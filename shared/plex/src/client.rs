//! [`PlexClient`], its request helpers, and the tenants canary. The calls for customers and parts
//! are in `mdm`, those for sales orders in `sales`.
//!
//! Every helper adds the number of HTTP requests it sent (retries included) to a counter the
//! caller passes, so a multi-call job such as writing a sales order can report what it spent of
//! the 200-calls-a-minute budget.

use std::sync::Arc;

use domain::ErrorClass;
use domain::connection::PlexAuthMode;
use millwright_http::{Api, ApiClient, HttpError, HttpSettings, Pacer, Reply, StreamingReply};
use reqwest::header::{ACCEPT, HeaderValue};
use reqwest::{Method, RequestBuilder};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::auth::{Auth, OAuth2, TokenStore, with_api_key, with_bearer};
use crate::credentials::missing;
use crate::sales::OrderDefaults;
use crate::{Credentials, Error, rejected};

/// A tenant the credential may select (`GET /mdm/v1/tenants`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// The tenant's UUID, the value of `X-Plex-Connect-Tenant-Id`.
    pub id: String,
    /// The tenant's short code, e.g. `MW-DEMO`.
    pub code: Option<String>,
    /// Plex documents the list as `[{id, code}]`; a name appears only where a tenant has one.
    pub name: Option<String>,
}

/// One connection's Plex Connect API. Clones share the HTTP client, the rate budget and the
/// OAuth2 token.
#[derive(Debug, Clone)]
pub struct PlexClient {
    api: ApiClient,
    connect_base: String,
    auth: Auth,
    tenant_id: Option<HeaderValue>,
    /// Status, type, ship-from and unit values the sales-order writes use.
    pub(crate) defaults: OrderDefaults,
}

impl PlexClient {
    /// `connect_base_url` is e.g. `https://connect.plex.com` (or the test tier, or the sandbox).
    /// `auth` picks the credential: the API key, or the OAuth2 client with its token URL
    /// (default `{connect_base_url}/oauth2/token`). `tenant_id` selects a non-default tenant.
    pub fn new(
        settings: &HttpSettings,
        connect_base_url: &str,
        auth: &PlexAuthMode,
        tenant_id: Option<&str>,
        credentials: Credentials,
    ) -> Result<PlexClient, Error> {
        let connect_base = millwright_http::base_url(connect_base_url)
            .map_err(|reason| Error::Config { what: "Connect base URL", reason })?;
        let auth = match auth {
            PlexAuthMode::ApiKey => Auth::ApiKey {
                key: credentials
                    .api_key
                    .ok_or_else(|| missing("api_key", "is missing (the connection uses API-key auth)"))?,
                secret: credentials.api_secret,
            },
            PlexAuthMode::OAuth2 { token_url } => {
                let token_url = match token_url.as_deref().map(str::trim).filter(|url| !url.is_empty()) {
                    Some(url) => {
                        millwright_http::base_url(url).map_err(|reason| Error::Config { what: "token URL", reason })?
                    }
                    None => format!("{connect_base}/oauth2/token"),
                };
                let oauth_missing = |field| missing(field, "is missing (the connection uses OAuth2)");
                let client_id = credentials.client_id.ok_or_else(|| oauth_missing("client_id"))?;
                let client_secret = credentials.client_secret.ok_or_else(|| oauth_missing("client_secret"))?;
                Auth::OAuth2(Arc::new(OAuth2::new(token_url, client_id, client_secret)))
            }
        };
        let tenant_id = match tenant_id.map(str::trim).filter(|id| !id.is_empty()) {
            Some(id) => Some(HeaderValue::from_str(id).map_err(|_| Error::Config {
                what: "tenant id",
                reason: format!("{id:?} cannot be sent as a header"),
            })?),
            None => None,
        };
        let api = ApiClient::new(Api::Plex, settings)?;
        Ok(PlexClient { api, connect_base, auth, tenant_id, defaults: OrderDefaults::default() })
    }

    /// Uses these setup values (statuses, types, ship-from building, price unit) when writing
    /// sales orders instead of [`OrderDefaults::default`].
    pub fn with_order_defaults(mut self, defaults: OrderDefaults) -> PlexClient {
        self.defaults = defaults;
        self
    }

    /// Shares the OAuth2 token with every other client (in any container) that uses `store`: the
    /// client reads the shared token before asking the token endpoint, refreshes it before it
    /// expires, and saves every token it fetches (see [`TokenStore`]). The in-memory token starts
    /// afresh. API-key clients have no token, so for them this changes nothing.
    pub fn with_token_store(mut self, store: Arc<dyn TokenStore>) -> PlexClient {
        if let Auth::OAuth2(oauth) = &self.auth {
            self.auth = Auth::OAuth2(Arc::new(oauth.sharing(store)));
        }
        self
    }

    /// Draws from `pacer` instead of this client's own budget: Plex counts calls per key, so
    /// every client using one key should share one pacer (e.g. `Pacer::plex(190)`).
    pub fn with_pacer(mut self, pacer: Pacer) -> PlexClient {
        self.api = self.api.with_pacer(pacer);
        self
    }

    /// The budget this client draws from, to share with other clients of the same key.
    pub fn pacer(&self) -> &Pacer {
        self.api.pacer()
    }

    /// Whether a 401 this client returns has already been confirmed: with OAuth2 every request
    /// that meets a 401 is sent once more with a new token ([`PlexClient::send`]), so a 401 that
    /// comes back is the refreshed token's. An API key is sent as it is, once.
    pub fn confirms_auth_failures(&self) -> bool {
        matches!(self.auth, Auth::OAuth2(_))
    }

    /// `GET /mdm/v1/tenants`: the tenants this credential may select. Also the canary that proves
    /// the credential works.
    pub async fn tenants(&self) -> Result<Vec<Tenant>, Error> {
        let tenants: Vec<wire::Tenant> = self.get_list("/mdm/v1/tenants", &[], "tenants", &mut 0).await?;
        Ok(tenants.into_iter().map(|tenant| Tenant { id: tenant.id, code: tenant.code, name: tenant.name }).collect())
    }

    /// A GET whose body is decoded as `T`.
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        what: &'static str,
        calls: &mut u32,
    ) -> Result<T, Error> {
        let url = format!("{}{path}", self.connect_base);
        let reply = self.send(|http| http.get(&url).query(query), calls).await?;
        decode(&reply, what)
    }

    /// A GET of one record by id: a 404 means there is no such record.
    pub(crate) async fn get_optional<T: DeserializeOwned>(
        &self,
        path: &str,
        what: &'static str,
        calls: &mut u32,
    ) -> Result<Option<T>, Error> {
        match self.get_json(path, &[], what, calls).await {
            Ok(record) => Ok(Some(record)),
            Err(Error::Http(error)) if is_not_found(&error) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// A Connect list. Plex answers 404 when "no data exists to return" (Plex notes §2.3), so on
    /// a list a 404 is an empty result. Query values are URL-encoded: a raw space makes Plex
    /// return nothing without an error (§8).
    pub(crate) async fn get_list<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        what: &'static str,
        calls: &mut u32,
    ) -> Result<Vec<T>, Error> {
        match self.get_json(path, query, what, calls).await {
            Err(Error::Http(error)) if is_not_found(&error) => Ok(Vec::new()),
            outcome => outcome,
        }
    }

    /// A POST or PUT with a JSON body. A 400 becomes [`Error::Rejected`], naming the field.
    pub(crate) async fn write_json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &Value,
        what: &'static str,
        calls: &mut u32,
    ) -> Result<T, Error> {
        let url = format!("{}{path}", self.connect_base);
        let request = format!("{method} {path}");
        match self.send(|http| http.request(method.clone(), &url).json(body), calls).await {
            Ok(reply) => decode(&reply, what),
            Err(Error::Http(error)) => Err(rejected(request, error)),
            Err(error) => Err(error),
        }
    }

    /// A GET whose successful body comes back unread, as a stream of chunks, for lists too big to
    /// hold (`ApiClient::send_streaming`: retried only until the body is handed over).
    pub(crate) async fn get_streaming(
        &self,
        path: &str,
        query: &[(&str, &str)],
        calls: &mut u32,
    ) -> Result<StreamingReply, Error> {
        let url = format!("{}{path}", self.connect_base);
        let build = |http: &reqwest::Client| http.get(&url).query(query);
        match &self.auth {
            Auth::ApiKey { key, secret } => {
                let outcome =
                    self.api.send_streaming(|http| with_api_key(self.common(build(http)), key, secret.as_ref())).await;
                Ok(counted(outcome, calls)?)
            }
            Auth::OAuth2(oauth) => {
                let bearer = oauth.bearer(&self.api).await?;
                let outcome = self.api.send_streaming(|http| with_bearer(self.common(build(http)), &bearer)).await;
                match counted(outcome, calls) {
                    Err(error) if error.class() == ErrorClass::Auth => {
                        let bearer = oauth.refresh(&self.api, bearer.generation).await?;
                        let outcome =
                            self.api.send_streaming(|http| with_bearer(self.common(build(http)), &bearer)).await;
                        Ok(counted(outcome, calls)?)
                    }
                    outcome => Ok(outcome?),
                }
            }
        }
    }

    /// Sends a Connect request with the credential and tenant headers, adding the requests sent
    /// to `calls`. With OAuth2, a 401 means the token lapsed or was revoked before its time: the
    /// request is sent once more with a new token, and a second 401 is returned as the auth error
    /// it is.
    async fn send<F>(&self, build: F, calls: &mut u32) -> Result<Reply, Error>
    where
        F: Fn(&reqwest::Client) -> RequestBuilder,
    {
        match &self.auth {
            Auth::ApiKey { key, secret } => {
                let outcome = self.api.send(|http| with_api_key(self.common(build(http)), key, secret.as_ref())).await;
                Ok(counted(outcome, calls)?)
            }
            Auth::OAuth2(oauth) => {
                let bearer = oauth.bearer(&self.api).await?;
                match counted(self.api.send(|http| with_bearer(self.common(build(http)), &bearer)).await, calls) {
                    Err(error) if error.class() == ErrorClass::Auth => {
                        let bearer = oauth.refresh(&self.api, bearer.generation).await?;
                        let outcome = self.api.send(|http| with_bearer(self.common(build(http)), &bearer)).await;
                        Ok(counted(outcome, calls)?)
                    }
                    outcome => Ok(outcome?),
                }
            }
        }
    }

    /// Headers every Connect request carries.
    fn common(&self, request: RequestBuilder) -> RequestBuilder {
        let request = request.header(ACCEPT, HeaderValue::from_static("application/json"));
        match &self.tenant_id {
            Some(tenant_id) => request.header("X-Plex-Connect-Tenant-Id", tenant_id.clone()),
            None => request,
        }
    }
}

/// What an exchange cost in requests, retries included.
trait Attempted {
    fn attempts(&self) -> u32;
}

impl Attempted for Reply {
    fn attempts(&self) -> u32 {
        self.attempts
    }
}

impl Attempted for StreamingReply {
    fn attempts(&self) -> u32 {
        self.attempts
    }
}

/// Adds the requests an exchange sent, failed or not, to `calls`.
fn counted<T: Attempted>(outcome: Result<T, HttpError>, calls: &mut u32) -> Result<T, HttpError> {
    *calls += match &outcome {
        Ok(reply) => reply.attempts(),
        Err(error) => error.attempts(),
    };
    outcome
}

fn decode<T: DeserializeOwned>(reply: &Reply, what: &'static str) -> Result<T, Error> {
    reply.json().map_err(|source| Error::Decode { what, element: None, source })
}

pub(crate) fn is_not_found(error: &HttpError) -> bool {
    error.status().is_some_and(|status| status.as_u16() == 404)
}

mod wire {
    //! Plex's JSON, as much of it as this client reads. These types never leave the crate.

    use super::Deserialize;

    #[derive(Debug, Deserialize)]
    pub(super) struct Tenant {
        pub id: String,
        #[serde(default)]
        pub code: Option<String>,
        #[serde(default)]
        pub name: Option<String>,
    }
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;

    fn credentials(json: &str) -> Credentials {
        Credentials::from_secret_json(&SecretString::from(json.to_owned())).expect("credentials")
    }

    fn new(auth: &PlexAuthMode, json: &str) -> Result<PlexClient, Error> {
        PlexClient::new(&HttpSettings::default(), "https://connect.plex.com", auth, None, credentials(json))
    }

    #[test]
    fn api_key_mode_needs_the_api_key() {
        let error = new(&PlexAuthMode::ApiKey, r#"{"client_id":"c","client_secret":"s"}"#).expect_err("no key");
        assert!(matches!(error, Error::Credentials { field: "api_key", .. }), "{error:?}");
        assert_eq!(error.class(), ErrorClass::Auth);
    }

    #[test]
    fn oauth2_mode_needs_the_client_and_defaults_the_token_url() {
        let error = new(&PlexAuthMode::OAuth2 { token_url: None }, r#"{"api_key":"k"}"#).expect_err("no client");
        assert!(matches!(error, Error::Credentials { field: "client_id", .. }), "{error:?}");
        let client =
            new(&PlexAuthMode::OAuth2 { token_url: None }, r#"{"client_id":"c","client_secret":"s"}"#).expect("client");
        assert!(format!("{client:?}").contains("https://connect.plex.com/oauth2/token"));
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let client = new(&PlexAuthMode::ApiKey, r#"{"api_key":"key-123","api_secret":"sec-456"}"#).expect("client");
        let debug = format!("{client:?}");
        assert!(!debug.contains("key-123") && !debug.contains("sec-456"), "{debug}");
    }

    #[test]
    fn a_bad_token_url_is_a_configuration_error() {
        let auth = PlexAuthMode::OAuth2 { token_url: Some("accounts.plex.com/oauth2/token".to_owned()) };
        let error = new(&auth, r#"{"client_id":"c","client_secret":"s"}"#).expect_err("bad URL");
        assert!(matches!(error, Error::Config { what: "token URL", .. }), "{error:?}");
    }
}
