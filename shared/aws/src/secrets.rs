//! [`SecretsManagerStore`]: per-connection credentials in Secrets Manager, cached per container.
//!
//! A Lambda container serves many invocations; fetching each secret once per `cache_ttl` instead of
//! once per call keeps Secrets Manager cost and latency out of the hot path, while a rotated secret
//! is picked up within one TTL. `put` refreshes the cache, so a token this container just obtained
//! is the one it uses next.
//!
//! Values that other containers replace while this one runs (the shared Plex OAuth2 token) are read
//! with [`SecretsManagerStore::get_fresh`], which always asks Secrets Manager, and written with
//! [`SecretsManagerStore::put_named`]; both take any secret name, not only a connection's credential.
//!
//! Secret values only ever live in [`SecretString`]s; errors name the secret, never its value.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_secretsmanager::Client;
use domain::ports::SecretStore;
use domain::{PortError, SecretName};
use secrecy::{ExposeSecret, SecretString};

use crate::error::{error_code, from_sdk};

const NOT_FOUND: &str = "ResourceNotFoundException";
const ALREADY_EXISTS: &str = "ResourceExistsException";

struct Cached {
    value: SecretString,
    fetched_at: Instant,
}

/// [`SecretStore`] over Secrets Manager, with a per-container cache.
pub struct SecretsManagerStore {
    client: Client,
    cache_ttl: Duration,
    /// Keyed by the secret's name (`millwright/acme/plex`).
    cache: Mutex<HashMap<String, Cached>>,
}

impl SecretsManagerStore {
    /// `cache_ttl` is how long a value read or written by this store is served without asking
    /// Secrets Manager again; `Duration::ZERO` disables the cache.
    pub fn new(sdk: &SdkConfig, cache_ttl: Duration) -> Self {
        Self { client: Client::new(sdk), cache_ttl, cache: Mutex::default() }
    }

    fn cached(&self, name: &str) -> Option<SecretString> {
        // A panic while holding the lock cannot leave a half-written entry, so a poisoned cache is usable.
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache.get(name).filter(|entry| entry.fetched_at.elapsed() < self.cache_ttl).map(|entry| entry.value.clone())
    }

    fn remember(&self, name: String, value: SecretString) {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache.insert(name, Cached { value, fetched_at: Instant::now() });
    }

    /// Reads the secret called `name` from Secrets Manager, past the cache, and refreshes the cache
    /// with what it read. `Ok(None)` when there is no such secret: for a value another container
    /// may not have written yet, absence is an answer, not a configuration error.
    pub async fn get_fresh(&self, name: &str) -> Result<Option<SecretString>, PortError> {
        let context = format!("reading secret {name}");
        let output = match self.client.get_secret_value().secret_id(name).send().await {
            Ok(output) => output,
            Err(err) if error_code(&err) == Some(NOT_FOUND) => return Ok(None),
            Err(err) => return Err(from_sdk(context, err)),
        };
        let value = SecretString::from(output.secret_string.ok_or_else(|| {
            PortError::invalid(context.clone(), "secret has no string value (binary secrets are not supported)")
        })?);
        self.remember(name.to_owned(), value.clone());
        Ok(Some(value))
    }

    /// Creates or replaces the secret called `name`, and caches the value written.
    pub async fn put_named(&self, name: &str, value: &SecretString) -> Result<(), PortError> {
        let context = format!("writing secret {name}");
        if !self.put_value(name, value, &context).await? {
            let created = self.client.create_secret().name(name).secret_string(value.expose_secret()).send().await;
            match created {
                Ok(_) => {}
                // Someone created it between our two calls; now the plain update applies.
                Err(err) if error_code(&err) == Some(ALREADY_EXISTS) => {
                    if !self.put_value(name, value, &context).await? {
                        return Err(PortError::invalid(context, "secret was created and deleted concurrently"));
                    }
                }
                Err(err) => return Err(from_sdk(context, err)),
            }
        }
        self.remember(name.to_owned(), value.clone());
        Ok(())
    }

    async fn put_value(&self, name: &str, value: &SecretString, context: &str) -> Result<bool, PortError> {
        let result = self.client.put_secret_value().secret_id(name).secret_string(value.expose_secret()).send().await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if error_code(&err) == Some(NOT_FOUND) => Ok(false),
            Err(err) => Err(from_sdk(context, err)),
        }
    }
}

#[async_trait]
impl SecretStore for SecretsManagerStore {
    async fn get(&self, name: &SecretName) -> Result<SecretString, PortError> {
        let name = name.to_string();
        if let Some(value) = self.cached(&name) {
            return Ok(value);
        }
        // A missing credential is a configuration error: retrying will not create it.
        self.get_fresh(&name)
            .await?
            .ok_or_else(|| PortError::invalid(format!("reading secret {name}"), "secret does not exist"))
    }

    async fn put(&self, name: &SecretName, value: &SecretString) -> Result<(), PortError> {
        self.put_named(&name.to_string(), value).await
    }
}
