//! [`BigCommerceClient`] and the calls it makes.

use millwright_http::{Api, ApiClient, HttpSettings, Pacer, Reply};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::{Credentials, Error};

/// The store's identity and the facts about it worth showing an operator (`GET /v2/store`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreInformation {
    /// BigCommerce's `id`: the store hash on current stores, a number on some older ones.
    pub id: String,
    /// The numeric store id, when BigCommerce sends it.
    pub store_id: Option<u64>,
    pub name: String,
    pub domain: String,
    pub secure_url: Option<String>,
    /// `live`, `prelaunch`, ...
    pub status: Option<String>,
    pub plan_name: Option<String>,
    /// ISO currency code, e.g. `USD`.
    pub currency: Option<String>,
    /// IANA time zone name, e.g. `America/Chicago`.
    pub timezone: Option<String>,
}

/// One BigCommerce store's REST API.
#[derive(Debug, Clone)]
pub struct BigCommerceClient {
    api: ApiClient,
    /// `{api_base_url}/stores/{store_hash}`; `v2`/`v3` paths follow.
    store_url: String,
    credentials: Credentials,
}

/// Store hashes are short lowercase alphanumeric ids; refusing anything else keeps a typo from
/// turning into a different path.
fn valid_store_hash(hash: &str) -> bool {
    !hash.is_empty() && hash.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl BigCommerceClient {
    /// `api_base_url` is e.g. `https://api.bigcommerce.com` (or the sandbox's URL).
    pub fn new(
        settings: &HttpSettings,
        api_base_url: &str,
        store_hash: &str,
        credentials: Credentials,
    ) -> Result<BigCommerceClient, Error> {
        let base =
            millwright_http::base_url(api_base_url).map_err(|reason| Error::Config { what: "API base URL", reason })?;
        if !valid_store_hash(store_hash) {
            return Err(Error::Config {
                what: "store hash",
                reason: format!("{store_hash:?} must be letters, digits, '-' or '_'"),
            });
        }
        let api = ApiClient::new(Api::BigCommerce, settings)?;
        Ok(BigCommerceClient { api, store_url: format!("{base}/stores/{store_hash}"), credentials })
    }

    /// Draws from `pacer` instead of this client's own budget: BigCommerce counts requests per
    /// store, so every client of one store should share one pacer.
    pub fn with_pacer(mut self, pacer: Pacer) -> BigCommerceClient {
        self.api = self.api.with_pacer(pacer);
        self
    }

    /// The budget this client draws from, to share with other clients of the same store.
    pub fn pacer(&self) -> &Pacer {
        self.api.pacer()
    }

    /// `GET /v2/store`: the store's identity. Also the cheapest check that the token works.
    pub async fn store_information(&self) -> Result<StoreInformation, Error> {
        let wire: wire::Store = self.get_json("/v2/store", "store information").await?;
        Ok(StoreInformation {
            id: wire.id.into_string(),
            store_id: wire.store_id,
            name: wire.name,
            domain: wire.domain,
            secure_url: wire.secure_url,
            status: wire.status,
            plan_name: wire.plan_name,
            currency: wire.currency,
            timezone: wire.timezone.and_then(|timezone| timezone.name),
        })
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str, what: &'static str) -> Result<T, Error> {
        let reply = self.get(path).await?;
        decode(&reply, what)
    }

    /// `GET {store_url}{path}` (path and query, e.g. `/v2/orders/7/products?page=2`), retried and
    /// classified by `millwright-http`; any 2xx comes back, 204 included.
    pub(crate) async fn get(&self, path: &str) -> Result<Reply, Error> {
        let url = format!("{}{path}", self.store_url);
        Ok(self.api.send(|http| self.authorized(http.get(&url))).await?)
    }

    /// Like [`get`](Self::get) for responses that carry secrets (hooks and their custom headers):
    /// no part of a failed response, not even a cut-off 200, goes into the error.
    pub(crate) async fn get_confidential(&self, path: &str) -> Result<Reply, Error> {
        let url = format!("{}{path}", self.store_url);
        Ok(self.api.send_confidential(|http| self.authorized(http.get(&url))).await?)
    }

    /// A request with a JSON body (already encoded, so every attempt sends the same bytes). A
    /// refused response's body stays in the error ([`HttpError::body`](millwright_http::HttpError::body)),
    /// for reading a structured refusal.
    pub(crate) async fn send(&self, method: reqwest::Method, path: &str, body: Vec<u8>) -> Result<Reply, Error> {
        let url = format!("{}{path}", self.store_url);
        let build = |http: &reqwest::Client| self.authorized(http.request(method.clone(), &url).body(body.clone()));
        Ok(self.api.send(build).await?)
    }

    /// A request with a JSON body (already encoded, so every attempt sends the same bytes) whose
    /// response may carry secrets, so none of it goes into an error.
    pub(crate) async fn send_confidential(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Vec<u8>,
    ) -> Result<Reply, Error> {
        let url = format!("{}{path}", self.store_url);
        let build = |http: &reqwest::Client| self.authorized(http.request(method.clone(), &url).body(body.clone()));
        Ok(self.api.send_confidential(build).await?)
    }

    /// Adds the headers every BigCommerce request carries.
    fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let request = request
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        match HeaderValue::from_str(self.credentials.access_token().expose_secret()) {
            Ok(mut token) => {
                // Marked sensitive so no HTTP layer ever prints it.
                token.set_sensitive(true);
                request.header("X-Auth-Token", token)
            }
            // A token with characters a header cannot carry is sent without the header; the
            // answer is then BigCommerce's own 401, an auth error that names the request.
            Err(_) => request,
        }
    }
}

fn decode<T: DeserializeOwned>(reply: &Reply, what: &'static str) -> Result<T, Error> {
    reply.json().map_err(|source| Error::Decode { what, source })
}

mod wire {
    //! BigCommerce's JSON, as much of it as this client reads. These types never leave the crate.

    use super::Deserialize;

    #[derive(Debug, Deserialize)]
    pub(super) struct Store {
        pub id: StoreId,
        #[serde(default)]
        pub store_id: Option<u64>,
        pub name: String,
        pub domain: String,
        #[serde(default)]
        pub secure_url: Option<String>,
        #[serde(default)]
        pub status: Option<String>,
        #[serde(default)]
        pub plan_name: Option<String>,
        #[serde(default)]
        pub currency: Option<String>,
        #[serde(default)]
        pub timezone: Option<Timezone>,
    }

    /// `id` is documented as a string (the store hash) but has been a number on older stores.
    #[derive(Debug, Deserialize)]
    #[serde(untagged)]
    pub(super) enum StoreId {
        Text(String),
        Number(u64),
    }

    impl StoreId {
        pub fn into_string(self) -> String {
            match self {
                StoreId::Text(text) => text,
                StoreId::Number(number) => number.to_string(),
            }
        }
    }

    #[derive(Debug, Deserialize)]
    pub(super) struct Timezone {
        #[serde(default)]
        pub name: Option<String>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_ids_may_be_strings_or_numbers() {
        let text: wire::Store =
            serde_json::from_str(r#"{"id":"abc123","name":"A","domain":"a.example"}"#).expect("string id");
        assert_eq!(text.id.into_string(), "abc123");
        let number: wire::Store =
            serde_json::from_str(r#"{"id":1000777,"name":"A","domain":"a.example","timezone":{"name":"Etc/UTC"}}"#)
                .expect("number id");
        assert_eq!(number.id.into_string(), "1000777");
        assert_eq!(number.timezone.and_then(|timezone| timezone.name).as_deref(), Some("Etc/UTC"));
    }

    #[test]
    fn a_bad_base_url_or_store_hash_is_refused_at_construction() {
        let credentials = || Credentials::new("t".to_owned().into());
        let settings = HttpSettings::default();
        let bad_url = BigCommerceClient::new(&settings, "api.bigcommerce.com", "abc", credentials());
        assert!(matches!(bad_url, Err(Error::Config { what: "API base URL", .. })));
        let bad_hash = BigCommerceClient::new(&settings, "https://api.bigcommerce.com", "abc/../x", credentials());
        assert!(matches!(bad_hash, Err(Error::Config { what: "store hash", .. })));
    }
}
