//! [`SecretsManagerTokenStore`]: a connection's Plex OAuth2 token shared by every container, in
//! Secrets Manager, with refresh claims in the state table.
//!
//! - The token is the secret `{SECRET_PREFIX}/{connection}/plex-token`, the JSON document of
//!   `plex::SharedToken` (`access_token`, `issued_at`, `expires_at`). It is read past the
//!   container's secret cache every time: another container may have replaced it a moment ago,
//!   and the Plex client reads it only when its own copy runs out or is refused.
//! - A refresh is claimed with the dedupe claim `plex-token#{connection}#{version}` (the version of
//!   the token being replaced, or `none`), held for `plex::REFRESH_CLAIM`. Claims are per version
//!   because `DedupeStore` claims cannot be released: the claim that produced a token must not
//!   block the refresh after Plex refuses that very token.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use domain::ports::DedupeStore;
use domain::{ConnectionId, PortError};
use millwright_aws::SecretsManagerStore;
use plex::{SharedToken, TokenStore};

/// [`TokenStore`] over Secrets Manager (the token) and the dedupe store (refresh claims).
pub struct SecretsManagerTokenStore {
    secrets: Arc<SecretsManagerStore>,
    dedupe: Arc<dyn DedupeStore>,
    secret_name: String,
    claim_prefix: String,
}

impl SecretsManagerTokenStore {
    pub fn new(
        secrets: Arc<SecretsManagerStore>,
        dedupe: Arc<dyn DedupeStore>,
        secret_prefix: &str,
        connection: &ConnectionId,
    ) -> SecretsManagerTokenStore {
        SecretsManagerTokenStore {
            secrets,
            dedupe,
            secret_name: secret_name(secret_prefix, connection),
            claim_prefix: format!("plex-token#{connection}"),
        }
    }
}

/// Where a connection's shared Plex token lives: `{prefix}/{connection}/plex-token`.
pub fn secret_name(secret_prefix: &str, connection: &ConnectionId) -> String {
    format!("{secret_prefix}/{connection}/plex-token")
}

#[async_trait]
impl TokenStore for SecretsManagerTokenStore {
    async fn load(&self) -> Result<Option<SharedToken>, PortError> {
        let Some(document) = self.secrets.get_fresh(&self.secret_name).await? else {
            return Ok(None);
        };
        SharedToken::from_secret_json(&document).map(Some).ok_or_else(|| {
            // The next refresh overwrites it; until then every container fetches its own token.
            PortError::invalid(
                format!("reading secret {}", self.secret_name),
                "not a shared token document (access_token, issued_at, expires_at)",
            )
        })
    }

    async fn save(&self, token: &SharedToken) -> Result<(), PortError> {
        self.secrets.put_named(&self.secret_name, &token.to_secret_json()).await
    }

    async fn claim_refresh(&self, version: &str, ttl: Duration) -> Result<bool, PortError> {
        let key = format!("{}#{version}", self.claim_prefix);
        let ttl = chrono::Duration::from_std(ttl)
            .map_err(|_| PortError::invalid(format!("claiming {key}"), "the claim's duration is out of range"))?;
        self.dedupe.claim(&key, chrono::Utc::now(), ttl).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_token_sits_beside_the_connections_credentials() {
        let acme = ConnectionId::new("acme").unwrap();
        assert_eq!(secret_name("millwright", &acme), "millwright/acme/plex-token");
    }
}
