//! The flows' ports over the BigCommerce client: `WebOrderSource` (the order worker and the
//! sweep) and `WebhookRegistry` ([`OrderHooks`], the webhook health check). Errors leave as
//! `domain::ports::ApiError`, keeping the class `millwright-http` decided and the server's wait.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::hooks::HookState;
use domain::order::{OrderChange, WebOrder};
use domain::ports::{ApiError, WebOrderSource, WebhookRegistry};
use secrecy::{ExposeSecret, SecretString};

use crate::{BigCommerceClient, Error, Hook};

/// A BigCommerce error as the flows see it.
pub fn api_error(error: Error) -> ApiError {
    let retry_after = match &error {
        Error::Http(http) => http.retry_after(),
        _ => None,
    };
    ApiError { class: error.class(), message: error.to_string(), retry_after }
}

#[async_trait]
impl WebOrderSource for BigCommerceClient {
    async fn order(&self, id: u64) -> Result<Option<WebOrder>, ApiError> {
        BigCommerceClient::order(self, id).await.map_err(api_error)
    }

    async fn order_changes(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        page: u32,
        limit: u32,
    ) -> Result<Vec<OrderChange>, ApiError> {
        BigCommerceClient::order_changes(self, from, to, page, limit).await.map_err(api_error)
    }
}

/// A connection's hooks as the health check repairs them: registrations carry the connection's
/// authentication headers (e.g. `X-Millwright-Auth` with its webhook secret), which only this
/// adapter holds.
pub struct OrderHooks {
    client: BigCommerceClient,
    headers: BTreeMap<String, SecretString>,
}

impl OrderHooks {
    pub fn new(client: BigCommerceClient, headers: BTreeMap<String, SecretString>) -> OrderHooks {
        OrderHooks { client, headers }
    }
}

impl OrderHooks {
    /// The hook as the health check sees it: whether it sends every header this connection
    /// registers with the current value is decided here, so no secret leaves the adapter.
    fn state(&self, hook: Hook) -> HookState {
        let auth_current = self.headers.iter().all(|(name, value)| {
            hook.header(name).is_some_and(|sent| sent.expose_secret().as_bytes() == value.expose_secret().as_bytes())
        });
        HookState {
            id: hook.id,
            scope: hook.scope,
            destination: hook.destination,
            is_active: hook.is_active,
            auth_current,
        }
    }
}

#[async_trait]
impl WebhookRegistry for OrderHooks {
    async fn hooks(&self) -> Result<Vec<HookState>, ApiError> {
        let hooks = self.client.list_hooks().await.map_err(api_error)?;
        Ok(hooks.into_iter().map(|hook| self.state(hook)).collect())
    }

    async fn register(&self, scope: &str, destination: &str) -> Result<HookState, ApiError> {
        let hook = self.client.create_hook(scope, destination, &self.headers).await.map_err(api_error)?;
        Ok(self.state(hook))
    }

    async fn reactivate(&self, id: u64) -> Result<HookState, ApiError> {
        let hook = self.client.set_hook_active(id, true).await.map_err(api_error)?;
        Ok(self.state(hook))
    }

    async fn refresh(&self, id: u64) -> Result<HookState, ApiError> {
        let hook = self.client.refresh_hook(id, &self.headers).await.map_err(api_error)?;
        Ok(self.state(hook))
    }

    async fn delete(&self, id: u64) -> Result<(), ApiError> {
        self.client.delete_hook(id).await.map_err(api_error)
    }
}
