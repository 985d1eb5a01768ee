//! Webhook subscriptions (hooks v3): what the health check and the local world need to keep a
//! store's order hooks registered and active (BigCommerce notes §5.3, §5.4, §9.5).
//!
//! Hooks are visible only to the API account that created them, so these calls must use the same
//! credentials as the registration. A hook's custom `headers` usually carry the shared secret the
//! webhook receiver checks; they are held as [`SecretString`]s, `Debug` shows only their names, and
//! the calls never quote a response body in an error (a cut-off answer would otherwise leak one).

use std::collections::BTreeMap;
use std::fmt;

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};

use crate::fields::Object;
use crate::{BigCommerceClient, Error};

/// The page size asked of `GET /v3/hooks`.
const PAGE_SIZE: usize = 250;
/// A bound on paging that no store reaches, in case pages never run out.
const MAX_PAGES: u64 = 100;

/// One webhook subscription of this API account.
#[derive(Clone)]
pub struct Hook {
    pub id: u64,
    /// The event, e.g. `store/order/created`.
    pub scope: String,
    pub destination: String,
    pub is_active: bool,
    /// The API account that owns it.
    pub client_id: Option<String>,
    /// Unix seconds.
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
    headers: BTreeMap<String, SecretString>,
}

impl Hook {
    /// The custom headers BigCommerce sends with every callback, by name as registered.
    pub fn headers(&self) -> &BTreeMap<String, SecretString> {
        &self.headers
    }

    /// One custom header's value; header names match case-insensitively, as in HTTP.
    pub fn header(&self, name: &str) -> Option<&SecretString> {
        self.headers.iter().find(|(registered, _)| registered.eq_ignore_ascii_case(name)).map(|(_, value)| value)
    }
}

impl fmt::Debug for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hook")
            .field("id", &self.id)
            .field("scope", &self.scope)
            .field("destination", &self.destination)
            .field("is_active", &self.is_active)
            .field("client_id", &self.client_id)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .field("header_names", &self.headers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl BigCommerceClient {
    /// `POST /v3/hooks`: a new active hook. BigCommerce allows one hook per scope and destination
    /// for an API account, so re-registering an existing one fails (422); reactivate it with
    /// [`set_hook_active`](BigCommerceClient::set_hook_active) instead.
    pub async fn create_hook(
        &self,
        scope: &str,
        destination: &str,
        headers: &BTreeMap<String, SecretString>,
    ) -> Result<Hook, Error> {
        let body =
            json!({ "scope": scope, "destination": destination, "is_active": true, "headers": header_values(headers) });
        let reply = self.send_confidential(Method::POST, "/v3/hooks", body.to_string().into_bytes()).await?;
        one_hook(&reply, "created hook")
    }

    /// `GET /v3/hooks`, every page: this API account's hooks.
    pub async fn list_hooks(&self) -> Result<Vec<Hook>, Error> {
        let mut hooks: Vec<Hook> = Vec::new();
        for page in 1..=MAX_PAGES {
            let reply = self.get_confidential(&format!("/v3/hooks?page={page}&limit={PAGE_SIZE}")).await?;
            let document: Value = reply.json().map_err(|source| Error::Decode { what: "hooks", source })?;
            let what = format!("hooks page {page}");
            let listing = Object::new(&document, &what, "")?;
            let batch = listing.objects("data")?;
            let count = batch.len();
            let mut new = 0;
            for item in &batch {
                let hook = hook(item)?;
                if hooks.iter().all(|known| known.id != hook.id) {
                    new += 1;
                    hooks.push(hook);
                }
            }
            let total_pages = document.pointer("/meta/pagination/total_pages").and_then(Value::as_u64);
            let last = match total_pages {
                Some(total) => page >= total,
                None => count < PAGE_SIZE,
            };
            if count == 0 || last {
                return Ok(hooks);
            }
            if new == 0 {
                return Err(Error::Paging { what, reason: "repeated only hooks of earlier pages".to_owned() });
            }
        }
        Err(Error::Paging { what: "hooks".to_owned(), reason: format!("more than {MAX_PAGES} pages") })
    }

    /// `PUT /v3/hooks/{id}` with the given `headers` and `is_active: true`: how a hook whose
    /// authentication header is stale (a rotated webhook secret) is brought back in step, in one call.
    pub async fn refresh_hook(&self, id: u64, headers: &BTreeMap<String, SecretString>) -> Result<Hook, Error> {
        let body = json!({ "is_active": true, "headers": header_values(headers) }).to_string().into_bytes();
        let reply = self.send_confidential(Method::PUT, &format!("/v3/hooks/{id}"), body).await?;
        one_hook(&reply, "updated hook")
    }

    /// `DELETE /v3/hooks/{id}`: the hook stops delivering for good (a removed connection's).
    pub async fn delete_hook(&self, id: u64) -> Result<(), Error> {
        self.send_confidential(Method::DELETE, &format!("/v3/hooks/{id}"), Vec::new()).await.map(drop)
    }

    /// `PUT /v3/hooks/{id}` with `{"is_active": active}`: how a deactivated hook is brought back.
    pub async fn set_hook_active(&self, id: u64, active: bool) -> Result<Hook, Error> {
        let body = json!({ "is_active": active }).to_string().into_bytes();
        let reply = self.send_confidential(Method::PUT, &format!("/v3/hooks/{id}"), body).await?;
        one_hook(&reply, "updated hook")
    }
}

/// The headers as the request body carries them (the only place their values are exposed).
fn header_values(headers: &BTreeMap<String, SecretString>) -> Map<String, Value> {
    headers.iter().map(|(name, value)| (name.clone(), Value::String(value.expose_secret().to_owned()))).collect()
}

/// A `{data: hook, meta}` response.
fn one_hook(reply: &millwright_http::Reply, what: &'static str) -> Result<Hook, Error> {
    let document: Value = reply.json().map_err(|source| Error::Decode { what, source })?;
    let object = Object::new(&document, what, "")?;
    hook(&object.object("data")?)
}

/// One hook object; lenient about fields BigCommerce added or dropped (bigcommerce/docs#506).
fn hook(object: &Object<'_>) -> Result<Hook, Error> {
    let timestamp = |name: &str| -> Result<Option<i64>, Error> {
        Ok(object.optional_u64(name)?.and_then(|seconds| i64::try_from(seconds).ok()))
    };
    Ok(Hook {
        id: object.u64("id")?,
        scope: object.required_text("scope")?,
        destination: object.required_text("destination")?,
        is_active: object.bool("is_active")?,
        client_id: object.optional_text("client_id")?,
        created_at: timestamp("created_at")?,
        updated_at: timestamp("updated_at")?,
        headers: object
            .string_map("headers")?
            .into_iter()
            .map(|(name, value)| (name, SecretString::from(value)))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hooks_debug_output_names_its_headers_but_never_their_values() {
        let document = json!({"id": 7, "scope": "store/order/created", "destination": "https://hooks.example/bc",
                              "is_active": true, "headers": {"X-Millwright-Auth": "s3cret-value"}, "created_at": 1});
        let hook = hook(&Object::new(&document, "hook", "").expect("object")).expect("hook");
        let shown = format!("{hook:?}");
        assert!(shown.contains("X-Millwright-Auth") && !shown.contains("s3cret-value"), "{shown}");
        assert_eq!(hook.header("x-millwright-auth").map(ExposeSecret::expose_secret), Some("s3cret-value"));
    }

    #[test]
    fn a_hook_with_a_non_text_header_value_is_refused_without_quoting_it() {
        let document = json!({"id": 7, "scope": "store/order/created", "destination": "https://hooks.example/bc",
                              "is_active": true, "headers": {"X-Millwright-Auth": 987654321}});
        let error = hook(&Object::new(&document, "hook", "").expect("object")).expect_err("not text");
        assert_eq!(error.to_string(), "BigCommerce hook: `headers.X-Millwright-Auth` is not text");
    }
}
