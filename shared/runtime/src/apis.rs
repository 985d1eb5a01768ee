//! [`CachedApis`]: `domain::ports::ConnectionApis` over `Deps`, building each connection's API
//! clients from its profile and secrets and keeping them for the container's life (up to the
//! secret cache TTL, so a rotated credential is picked up).
//!
//! Keeping the clients matters beyond saving secret reads: each client carries its API's pacer,
//! so every invocation a warm container serves spends one rate budget per connection instead of
//! starting a fresh one.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::ports::{
    ApiError, ConnectionApis, SalesOrderSink, StockApis, WebOrderSource, WebhookApis, WebhookRegistry,
};
use domain::stock::{
    AdjustedPart, ContainerFilter, ItemAddress, OnHand, PushOutcome, Sku, StockLocation, StoreLocation,
};
use domain::{ConnectionId, ConnectionProfile};

use crate::deps::{Deps, DepsError};

struct Cached<T: ?Sized> {
    built: Instant,
    value: Arc<T>,
}

/// Per-connection API handles, built on first use and cached.
pub struct CachedApis {
    deps: Deps,
    web_orders: Mutex<HashMap<ConnectionId, Cached<dyn WebOrderSource>>>,
    sales_orders: Mutex<HashMap<ConnectionId, Cached<dyn SalesOrderSink>>>,
}

impl CachedApis {
    pub fn new(deps: Deps) -> CachedApis {
        CachedApis { deps, web_orders: Mutex::default(), sales_orders: Mutex::default() }
    }

    fn fresh<T: ?Sized>(&self, cache: &Mutex<HashMap<ConnectionId, Cached<T>>>, id: &ConnectionId) -> Option<Arc<T>> {
        let cache = cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache.get(id).filter(|entry| entry.built.elapsed() < self.deps.config.secret_cache_ttl).map(|e| e.value.clone())
    }

    fn keep<T: ?Sized>(cache: &Mutex<HashMap<ConnectionId, Cached<T>>>, id: &ConnectionId, value: Arc<T>) -> Arc<T> {
        let mut cache = cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache.insert(id.clone(), Cached { built: Instant::now(), value: value.clone() });
        value
    }
}

/// A client that cannot be built is a configuration problem of the connection (or a secret
/// store that did not answer, which passes).
fn api_error(error: DepsError) -> ApiError {
    ApiError { class: error.class(), message: error.to_string(), retry_after: None }
}

#[async_trait]
impl ConnectionApis for CachedApis {
    async fn web_orders(&self, profile: &ConnectionProfile) -> Result<Arc<dyn WebOrderSource>, ApiError> {
        if let Some(client) = self.fresh(&self.web_orders, &profile.id) {
            return Ok(client);
        }
        let client: Arc<dyn WebOrderSource> = Arc::new(self.deps.bigcommerce(profile).await.map_err(api_error)?);
        Ok(Self::keep(&self.web_orders, &profile.id, client))
    }

    async fn sales_orders(&self, profile: &ConnectionProfile) -> Result<Arc<dyn SalesOrderSink>, ApiError> {
        if let Some(sink) = self.fresh(&self.sales_orders, &profile.id) {
            return Ok(sink);
        }
        let sink: Arc<dyn SalesOrderSink> = Arc::new(self.deps.plex_sales_orders(profile).await.map_err(api_error)?);
        Ok(Self::keep(&self.sales_orders, &profile.id, sink))
    }
}

impl Deps {
    /// The connection API handles the order worker uses (clients cached per connection).
    pub fn connection_apis(&self) -> Arc<dyn ConnectionApis> {
        Arc::new(CachedApis::new(self.clone()))
    }
}

/// [`WebhookApis`] over `Deps`: each call builds the connection's hook registry afresh (the health
/// check runs every few minutes, so there is nothing worth caching).
struct DepsWebhookApis(Deps);

#[async_trait]
impl WebhookApis for DepsWebhookApis {
    async fn webhooks(&self, profile: &ConnectionProfile) -> Result<Arc<dyn WebhookRegistry>, ApiError> {
        Ok(Arc::new(self.0.order_hooks(profile).await.map_err(api_error)?))
    }
}

impl Deps {
    /// The connections' hook registries, for the webhook health check.
    pub fn webhook_apis(&self) -> Arc<dyn WebhookApis> {
        Arc::new(DepsWebhookApis(self.clone()))
    }
}

/// [`StockApis`] over `Deps`: each run builds the connection's Plex and BigCommerce clients (a
/// run every few minutes has nothing worth caching), and converts their answers to domain terms.
struct DepsStockApis(Deps);

#[async_trait]
impl StockApis for DepsStockApis {
    async fn plex_on_hand(
        &self,
        profile: &ConnectionProfile,
        filter: &ContainerFilter,
    ) -> Result<(Vec<OnHand>, u32), ApiError> {
        let plex = self.0.plex(profile).await.map_err(api_error)?;
        let summary = plex.on_hand(filter).await.map_err(plex::api_error)?;
        Ok((summary.on_hand, summary.calls))
    }

    async fn plex_adjusted_parts(
        &self,
        profile: &ConnectionProfile,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<(Option<BTreeSet<AdjustedPart>>, u32), ApiError> {
        let plex = self.0.plex(profile).await.map_err(api_error)?;
        let mut calls = 0;
        let adjustments = plex.container_adjustments(since, until, &mut calls).await.map_err(plex::api_error)?;
        let parts = adjustments
            .into_iter()
            .map(|adjustment| Some(AdjustedPart { part_id: adjustment.part_id?, part_no: adjustment.part_no? }))
            .collect::<Option<BTreeSet<AdjustedPart>>>();
        Ok((parts, calls))
    }

    async fn plex_on_hand_of_parts(
        &self,
        profile: &ConnectionProfile,
        filter: &ContainerFilter,
        part_ids: &[String],
    ) -> Result<(Vec<OnHand>, u32), ApiError> {
        let plex = self.0.plex(profile).await.map_err(api_error)?;
        let summary = plex.on_hand_of_parts(filter, part_ids).await.map_err(plex::api_error)?;
        Ok((summary.on_hand, summary.calls))
    }

    async fn catalog(
        &self,
        profile: &ConnectionProfile,
    ) -> Result<(std::collections::BTreeMap<Sku, ItemAddress>, u32), ApiError> {
        let bigcommerce = self.0.bigcommerce(profile).await.map_err(api_error)?;
        let catalog = bigcommerce.catalog_addresses().await.map_err(bigcommerce::api_error)?;
        Ok((catalog.addresses, catalog.pages))
    }

    async fn levels(
        &self,
        profile: &ConnectionProfile,
        locations: &[StockLocation],
    ) -> Result<(std::collections::BTreeMap<(Sku, StockLocation), i64>, u32), ApiError> {
        let bigcommerce = self.0.bigcommerce(profile).await.map_err(api_error)?;
        bigcommerce.inventory_levels(locations).await.map_err(bigcommerce::api_error)
    }

    async fn locations(&self, profile: &ConnectionProfile) -> Result<Vec<StoreLocation>, ApiError> {
        let bigcommerce = self.0.bigcommerce(profile).await.map_err(api_error)?;
        let locations = bigcommerce.locations().await.map_err(bigcommerce::api_error)?;
        Ok(locations
            .into_iter()
            .map(|location| StoreLocation { id: location.id, label: location.label, enabled: location.enabled })
            .collect())
    }

    async fn set_absolute(
        &self,
        profile: &ConnectionProfile,
        reason: &str,
        rows: &[(ItemAddress, StockLocation, i64)],
    ) -> Result<PushOutcome, ApiError> {
        let bigcommerce = self.0.bigcommerce(profile).await.map_err(api_error)?;
        let outcome = bigcommerce.set_absolute(reason, rows).await.map_err(bigcommerce::api_error)?;
        Ok(match outcome {
            bigcommerce::AdjustmentOutcome::Applied { transaction_id } => PushOutcome::Applied { transaction_id },
            refused @ bigcommerce::AdjustmentOutcome::Refused { .. } => {
                let rows = refused.refused_rows();
                let bigcommerce::AdjustmentOutcome::Refused { errors } = refused else { unreachable!() };
                PushOutcome::Refused { rows, reasons: errors.into_iter().map(|error| error.reason).collect() }
            }
        })
    }
}

impl Deps {
    /// The connections' Plex inventory and BigCommerce stock, for the stock flow.
    pub fn stock_apis(&self) -> Arc<dyn StockApis> {
        Arc::new(DepsStockApis(self.clone()))
    }
}
