//! `Deps`: the adapters of every port and the factories of the API clients, built once per
//! container (cold start) and passed to handlers by reference.
//!
//! AWS adapters are built from one `SdkConfig`; API clients are built per connection from its
//! profile (state table) and credentials (Secrets Manager), with base URLs from the profile when it
//! overrides them and from `Config::endpoints` otherwise. An OAuth2 connection's Plex client shares
//! its token through Secrets Manager (`plex_token`).

use std::collections::BTreeMap;
use std::sync::Arc;

use domain::connection::{PlexAuthMode, WebhookAuth};
use domain::ports::{
    Alerter, AuditLog, CheckpointStore, ConnectionStore, DedupeStore, HoldStore, IdMap, JobLeases, JobQueue,
    OpenOrders, OrderLedger, Queue, QueueMarks, SecretStore, StockState,
};
use domain::{ConnectionId, ConnectionProfile, ErrorClass, PortError, SecretName, System};
use millwright_aws::{
    DynamoAuditLog, DynamoCheckpointStore, DynamoConnectionStore, DynamoDedupeStore, DynamoHoldStore, DynamoIdMap,
    DynamoJobLeases, DynamoOpenOrders, DynamoOrderLedger, DynamoQueueMarks, DynamoStockState, SecretsManagerStore,
    SnsAlerter, SqsJobQueue, SqsQueue,
};
use millwright_http::{HttpSettings, RetryPolicy};

use crate::config::Config;
use crate::plex_token::SecretsManagerTokenStore;

/// Why a connection's clients could not be built.
#[derive(Debug, thiserror::Error)]
pub enum DepsError {
    #[error("connection {0} is not configured (no profile in the state table)")]
    UnknownConnection(ConnectionId),
    #[error("connection {0} has no monday account configured")]
    NoMonday(ConnectionId),
    #[error("reading {what}: {source}")]
    Port {
        what: String,
        #[source]
        source: PortError,
    },
    #[error("secret {secret}: {reason}")]
    Credentials { secret: String, reason: String },
    #[error("connection {connection}: cannot build the {system} client: {reason}")]
    Client { connection: ConnectionId, system: System, reason: String },
}

impl DepsError {
    pub fn class(&self) -> ErrorClass {
        match self {
            DepsError::Port { source, .. } => source.class(),
            DepsError::UnknownConnection(_)
            | DepsError::NoMonday(_)
            | DepsError::Credentials { .. }
            | DepsError::Client { .. } => ErrorClass::Data,
        }
    }
}

/// Everything a handler needs from the outside world.
#[derive(Clone)]
pub struct Deps {
    pub config: Config,
    pub audit: Arc<dyn AuditLog>,
    pub ledger: Arc<dyn OrderLedger>,
    pub checkpoints: Arc<dyn CheckpointStore>,
    pub id_map: Arc<dyn IdMap>,
    pub holds: Arc<dyn HoldStore>,
    pub dedupe: Arc<dyn DedupeStore>,
    pub queue: Arc<dyn Queue>,
    /// When each order was last queued (receiver and sweep write it, the sweep reads it).
    pub queue_marks: Arc<dyn QueueMarks>,
    pub secrets: Arc<dyn SecretStore>,
    pub alerter: Arc<dyn Alerter>,
    pub connections: Arc<dyn ConnectionStore>,
    /// Each connection's lease on each scheduled job.
    pub job_leases: Arc<dyn JobLeases>,
    /// Orders BigCommerce took that Plex does not hold yet (the worker writes them, the stock flow
    /// deducts them).
    pub open_orders: Arc<dyn OpenOrders>,
    /// What the stock flow last pushed to BigCommerce per SKU and location.
    pub stock_state: Arc<dyn StockState>,
    /// The scheduled function's job queue (`Config::job_queue_url`), where it has one.
    pub job_queue: Option<Arc<dyn JobQueue>>,
    /// Timeout and retry policy of every API client.
    pub http: HttpSettings,
    /// The same store as `secrets`, for the shared Plex OAuth2 tokens, which are read past the
    /// cache and named outside the credential layout (see `plex_token`).
    secrets_manager: Arc<SecretsManagerStore>,
    /// What the adapters were built with, for [`Deps::with_job_queue`].
    sdk: aws_config::SdkConfig,
}

impl Deps {
    /// Builds the adapters with the AWS SDK's default configuration chain (which honours
    /// `AWS_ENDPOINT_URL`, so the local world's moto is reached the same way as AWS).
    pub async fn build(config: &Config) -> Deps {
        let sdk = millwright_aws::config::sdk_config_from_env().await;
        Deps::from_sdk_config(config, &sdk)
    }

    pub fn from_sdk_config(config: &Config, sdk: &aws_config::SdkConfig) -> Deps {
        let dedupe: Arc<dyn DedupeStore> = Arc::new(DynamoDedupeStore::new(sdk, &config.state_table));
        let alert_window = chrono::Duration::from_std(config.alert_window).unwrap_or(chrono::Duration::hours(1));
        let secrets_manager = Arc::new(SecretsManagerStore::new(sdk, config.secret_cache_ttl));
        Deps {
            audit: Arc::new(DynamoAuditLog::new(sdk, &config.audit_table, config.audit_retention)),
            ledger: Arc::new(DynamoOrderLedger::new(sdk, &config.state_table)),
            checkpoints: Arc::new(DynamoCheckpointStore::new(sdk, &config.state_table)),
            id_map: Arc::new(DynamoIdMap::new(sdk, &config.state_table)),
            holds: Arc::new(DynamoHoldStore::new(sdk, &config.state_table)),
            queue: Arc::new(SqsQueue::new(sdk, &config.order_queue_url)),
            queue_marks: Arc::new(DynamoQueueMarks::new(sdk, &config.state_table)),
            secrets: secrets_manager.clone(),
            alerter: Arc::new(SnsAlerter::new(sdk, &config.alert_topic_arn, dedupe.clone(), alert_window)),
            connections: Arc::new(DynamoConnectionStore::new(sdk, &config.state_table)),
            job_leases: Arc::new(DynamoJobLeases::new(sdk, &config.state_table)),
            open_orders: Arc::new(DynamoOpenOrders::new(sdk, &config.state_table)),
            stock_state: Arc::new(DynamoStockState::new(sdk, &config.state_table)),
            job_queue: config
                .job_queue_url
                .as_ref()
                .map(|url| Arc::new(SqsJobQueue::new(sdk, url)) as Arc<dyn JobQueue>),
            dedupe,
            http: HttpSettings { timeout: config.http_timeout, retry: RetryPolicy::default() },
            config: config.clone(),
            secrets_manager,
            sdk: sdk.clone(),
        }
    }

    /// These adapters with `job_queue_url` as the scheduled function's job queue: the local runtime
    /// runs every scheduled function in one process, each on its own queue, where Lambda gives each
    /// function its `JOB_QUEUE_URL`.
    pub fn with_job_queue(&self, job_queue_url: &str) -> Deps {
        let mut deps = self.clone();
        deps.config.job_queue_url = Some(job_queue_url.to_owned());
        deps.job_queue = Some(Arc::new(SqsJobQueue::new(&self.sdk, job_queue_url)));
        deps
    }

    /// The profile of a connection; `UnknownConnection` when there is none.
    pub async fn connection(&self, id: &ConnectionId) -> Result<ConnectionProfile, DepsError> {
        self.connections
            .get(id)
            .await
            .map_err(|source| DepsError::Port { what: format!("connection {id}"), source })?
            .ok_or_else(|| DepsError::UnknownConnection(id.clone()))
    }

    /// The name of a connection's secret for one system.
    pub fn secret_name(&self, connection: &ConnectionId, system: System) -> SecretName {
        SecretName::new(self.config.secret_prefix.clone(), connection.clone(), system)
    }

    async fn secret(&self, connection: &ConnectionId, system: System) -> Result<secrecy::SecretString, DepsError> {
        let name = self.secret_name(connection, system);
        self.secrets.get(&name).await.map_err(|source| DepsError::Port { what: format!("secret {name}"), source })
    }

    /// The connection's BigCommerce client; its API base URL is the profile's override or the
    /// deployment default.
    pub async fn bigcommerce(&self, profile: &ConnectionProfile) -> Result<bigcommerce::BigCommerceClient, DepsError> {
        let secret = self.secret(&profile.id, System::Bigcommerce).await?;
        let credentials = bigcommerce::Credentials::from_secret_json(&secret)
            .map_err(|error| self.credentials_error(&profile.id, System::Bigcommerce, error))?;
        let base_url = profile.bigcommerce.api_base_url.as_deref().unwrap_or(&self.config.endpoints.bigcommerce_api);
        bigcommerce::BigCommerceClient::new(&self.http, base_url, &profile.bigcommerce.store_hash, credentials)
            .map_err(|error| client_error(&profile.id, System::Bigcommerce, error))
    }

    /// The connection's BigCommerce hooks, registered with the authentication the receiver checks:
    /// the profile's custom header (`WebhookAuth::CustomHeader`) carrying the secret's
    /// `webhook_secret`. A profile that authenticates hooks only by signature registers no header.
    pub async fn order_hooks(&self, profile: &ConnectionProfile) -> Result<bigcommerce::OrderHooks, DepsError> {
        let secret = self.secret(&profile.id, System::Bigcommerce).await?;
        let credentials = bigcommerce::Credentials::from_secret_json(&secret)
            .map_err(|error| self.credentials_error(&profile.id, System::Bigcommerce, error))?;
        let header = profile.bigcommerce.webhook_auth.iter().find_map(|mode| match mode {
            WebhookAuth::CustomHeader { header } => Some(header.clone()),
            _ => None,
        });
        let headers = match header {
            None => BTreeMap::new(),
            Some(header) => {
                let value = credentials.webhook_secret().cloned().ok_or_else(|| {
                    self.credentials_error(
                        &profile.id,
                        System::Bigcommerce,
                        "the profile authenticates hooks by a custom header, but the secret has no webhook_secret",
                    )
                })?;
                BTreeMap::from([(header, value)])
            }
        };
        Ok(bigcommerce::OrderHooks::new(self.bigcommerce(profile).await?, headers))
    }

    /// The connection's Plex client, authenticating as the profile says (API key or OAuth2).
    pub async fn plex(&self, profile: &ConnectionProfile) -> Result<plex::PlexClient, DepsError> {
        let credentials = self.plex_credentials(profile).await?;
        self.plex_client(profile, credentials)
    }

    /// Plex as the order worker writes it: the Connect client with the connection's order
    /// defaults, and the data-source client when the connection's strategy writes through them.
    pub async fn plex_sales_orders(&self, profile: &ConnectionProfile) -> Result<plex::PlexSalesOrders, DepsError> {
        let credentials = self.plex_credentials(profile).await?;
        let writer = match plex::DataSourceOrderIds::from_strategy(&profile.orders.strategy) {
            None => plex::Writer::Rest,
            Some(ids) => {
                let base_url =
                    profile.plex.datasource_base_url.as_deref().unwrap_or(&self.config.endpoints.plex_datasource);
                let client = plex::DataSourceClient::new(&self.http, base_url, &credentials)
                    .map_err(|error| client_error(&profile.id, System::Plex, error))?;
                plex::Writer::DataSource { client: Box::new(client.with_order_defaults(order_defaults(profile))), ids }
            }
        };
        let client = self.plex_client(profile, credentials)?.with_order_defaults(order_defaults(profile));
        Ok(plex::PlexSalesOrders::new(client, writer))
    }

    async fn plex_credentials(&self, profile: &ConnectionProfile) -> Result<plex::Credentials, DepsError> {
        let secret = self.secret(&profile.id, System::Plex).await?;
        plex::Credentials::from_secret_json(&secret)
            .map_err(|error| self.credentials_error(&profile.id, System::Plex, error))
    }

    /// The Connect client; an OAuth2 connection's client shares its token with every container
    /// through Secrets Manager, so one refresh serves them all.
    fn plex_client(
        &self,
        profile: &ConnectionProfile,
        credentials: plex::Credentials,
    ) -> Result<plex::PlexClient, DepsError> {
        let base_url = profile.plex.connect_base_url.as_deref().unwrap_or(&self.config.endpoints.plex_connect);
        let client = plex::PlexClient::new(
            &self.http,
            base_url,
            &profile.plex.auth,
            profile.plex.tenant_id.as_deref(),
            credentials,
        )
        .map_err(|error| client_error(&profile.id, System::Plex, error))?
        // This container's share of the connection's Plex budget (see `PLEX_CALLS_PER_MINUTE`).
        .with_pacer(millwright_http::Pacer::plex(self.config.plex_calls_per_minute));
        Ok(match profile.plex.auth {
            PlexAuthMode::OAuth2 { .. } => client.with_token_store(self.plex_token_store(&profile.id)),
            PlexAuthMode::ApiKey => client,
        })
    }

    /// Where the connection's Plex OAuth2 token is shared: `{prefix}/{connection}/plex-token`.
    pub fn plex_token_store(&self, connection: &ConnectionId) -> Arc<dyn plex::TokenStore> {
        Arc::new(SecretsManagerTokenStore::new(
            self.secrets_manager.clone(),
            self.dedupe.clone(),
            &self.config.secret_prefix,
            connection,
        ))
    }

    /// The connection's monday client; `NoMonday` when the connection has no monday account.
    pub async fn monday(&self, profile: &ConnectionProfile) -> Result<monday::MondayClient, DepsError> {
        let monday_profile = profile.monday.as_ref().ok_or_else(|| DepsError::NoMonday(profile.id.clone()))?;
        let secret = self.secret(&profile.id, System::Monday).await?;
        let credentials = monday::Credentials::from_secret_json(&secret)
            .map_err(|error| self.credentials_error(&profile.id, System::Monday, error))?;
        let api_url = monday_profile.api_url.as_deref().unwrap_or(&self.config.endpoints.monday_api);
        monday::MondayClient::new(&self.http, api_url, &monday_profile.api_version, credentials)
            .map_err(|error| client_error(&profile.id, System::Monday, error))
    }

    fn credentials_error(&self, connection: &ConnectionId, system: System, error: impl std::fmt::Display) -> DepsError {
        DepsError::Credentials { secret: self.secret_name(connection, system).to_string(), reason: error.to_string() }
    }
}

/// The Plex values a connection's sales orders are written with that a web order does not carry
/// (its profile's `orders.ship_from` and `orders.plex_codes`).
pub fn order_defaults(profile: &ConnectionProfile) -> plex::OrderDefaults {
    let codes = &profile.orders.plex_codes;
    plex::OrderDefaults {
        order_status: codes.order_status.clone(),
        order_type: codes.order_type.clone(),
        release_status: codes.release_status.clone(),
        release_type: codes.release_type.clone(),
        ship_from: profile.orders.ship_from.clone(),
        price_unit: codes.price_unit.clone(),
    }
}

/// A client that cannot be built: a bad base URL in the profile, or credentials that do not fit
/// the profile's auth mode.
fn client_error(connection: &ConnectionId, system: System, error: impl std::fmt::Display) -> DepsError {
    DepsError::Client { connection: connection.clone(), system, reason: error.to_string() }
}

impl Deps {
    /// Stores a connection: its profile in the state table and its credentials in Secrets Manager
    /// (each a JSON document, see the README's secret table). Used by the local world and tests to
    /// seed connections; production connections get theirs from the template and the operator.
    pub async fn install_connection(
        &self,
        profile: &ConnectionProfile,
        secrets: &[(System, secrecy::SecretString)],
    ) -> Result<(), DepsError> {
        for (system, value) in secrets {
            let name = self.secret_name(&profile.id, *system);
            self.secrets
                .put(&name, value)
                .await
                .map_err(|source| DepsError::Port { what: format!("secret {name}"), source })?;
        }
        self.connections
            .put(profile)
            .await
            .map_err(|source| DepsError::Port { what: format!("connection {}", profile.id), source })
    }
}
