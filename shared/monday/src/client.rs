//! [`MondayClient`] and the GraphQL operations it runs.

use graphql_client::GraphQLQuery;
use millwright_http::{Api, ApiClient, HttpSettings, Pacer};
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use secrecy::ExposeSecret;
use serde::de::Error as _;

use crate::queries;
use crate::{Credentials, Error};

/// The user an API token belongs to, and its account (`query { me { ... } }`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Me {
    pub id: String,
    pub name: String,
    pub email: String,
    pub account_id: String,
    pub account_name: String,
}

/// One monday.com account's GraphQL API.
#[derive(Debug, Clone)]
pub struct MondayClient {
    api: ApiClient,
    /// The GraphQL endpoint itself, e.g. `https://api.monday.com/v2`.
    api_url: String,
    api_version: HeaderValue,
    credentials: Credentials,
}

/// `YYYY-MM` with a real month: monday answers a malformed version with
/// `InvalidVersionException` on every call, so it is refused when the client is built.
fn valid_api_version(version: &str) -> bool {
    let bytes = version.as_bytes();
    bytes.len() == 7
        && bytes[4] == b'-'
        && bytes[..4].iter().chain(&bytes[5..]).all(u8::is_ascii_digit)
        && matches!(version[5..].parse::<u8>(), Ok(1..=12))
}

impl MondayClient {
    /// `api_url` is the GraphQL endpoint (`https://api.monday.com/v2`, or the sandbox's
    /// `{monday_url}/v2`); `api_version` is the `YYYY-MM` version to pin (monday serves Current,
    /// which changes under you, to a request without one).
    pub fn new(
        settings: &HttpSettings,
        api_url: &str,
        api_version: &str,
        credentials: Credentials,
    ) -> Result<MondayClient, Error> {
        let api_url = millwright_http::base_url(api_url).map_err(|reason| Error::Config { what: "API URL", reason })?;
        let api_version = api_version.trim();
        if !valid_api_version(api_version) {
            return Err(Error::Config { what: "API version", reason: format!("{api_version:?} is not YYYY-MM") });
        }
        let api_version = HeaderValue::from_str(api_version)
            .map_err(|_| Error::Config { what: "API version", reason: "cannot be sent as a header".to_owned() })?;
        let api = ApiClient::new(Api::Monday, settings)?;
        Ok(MondayClient { api, api_url, api_version, credentials })
    }

    /// Draws from `pacer` instead of this client's own budget: monday counts requests and
    /// complexity per account, so every client of one account should share one pacer.
    pub fn with_pacer(mut self, pacer: Pacer) -> MondayClient {
        self.api = self.api.with_pacer(pacer);
        self
    }

    /// The budget this client draws from, to share with other clients of the same account.
    pub fn pacer(&self) -> &Pacer {
        self.api.pacer()
    }

    /// The token's user and account; also the check that the token works.
    pub async fn me(&self) -> Result<Me, Error> {
        let data = self.execute::<queries::Me>(queries::me::Variables, "me").await?;
        let me = data.me.ok_or_else(|| Error::Decode {
            what: "me",
            source: serde_json::Error::custom("`me` is null: the token has no user"),
        })?;
        Ok(Me { id: me.id, name: me.name, email: me.email, account_id: me.account.id, account_name: me.account.name })
    }

    /// Runs one operation and returns its `data`. GraphQL errors never get here: monday sends
    /// them with HTTP 200, and `millwright-http` has already turned them into an [`Error::Http`]
    /// with their class (and retried the ones worth retrying).
    async fn execute<Q: GraphQLQuery>(
        &self,
        variables: Q::Variables,
        what: &'static str,
    ) -> Result<Q::ResponseData, Error> {
        let body = Q::build_query(variables);
        let reply = self.api.send(|http| self.authorized(http.post(&self.api_url)).json(&body)).await?;
        let response: graphql_client::Response<Q::ResponseData> =
            reply.json().map_err(|source| Error::Decode { what, source })?;
        response.data.ok_or_else(|| Error::Decode {
            what,
            source: serde_json::Error::custom("the response has neither `data` nor `errors`"),
        })
    }

    /// Adds the headers every monday request carries (`.json()` adds `Content-Type`).
    fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let request = request
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .header("API-Version", self.api_version.clone());
        match HeaderValue::from_str(self.credentials.api_token().expose_secret()) {
            Ok(mut token) => {
                // Sent raw, as monday documents; marked sensitive so no HTTP layer prints it.
                token.set_sensitive(true);
                request.header(AUTHORIZATION, token)
            }
            // A token with characters a header cannot carry is sent without the header; monday's
            // 401 then reports it as the auth error it is.
            Err(_) => request,
        }
    }
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;

    #[test]
    fn api_versions_must_be_year_and_month() {
        for good in ["2026-10", "2027-01"] {
            assert!(valid_api_version(good), "{good}");
        }
        for bad in ["2023", "2026-13", "2026-00", "26-10", "2026-1", "2026/10", "abcd-ef", ""] {
            assert!(!valid_api_version(bad), "{bad}");
        }
    }

    #[test]
    fn a_malformed_version_or_url_is_refused_at_construction() {
        let credentials = || Credentials::new(SecretString::from("t".to_owned()));
        let settings = HttpSettings::default();
        let bad_version = MondayClient::new(&settings, "https://api.monday.com/v2", "2023", credentials());
        assert!(matches!(bad_version, Err(Error::Config { what: "API version", .. })));
        let bad_url = MondayClient::new(&settings, "api.monday.com/v2", "2026-10", credentials());
        assert!(matches!(bad_url, Err(Error::Config { what: "API URL", .. })));
    }

    #[test]
    fn the_me_query_is_the_checked_document() {
        let body = queries::Me::build_query(queries::me::Variables);
        assert_eq!(body.operation_name, "Me");
        assert!(body.query.contains("account {"), "{}", body.query);
    }
}
