//! [`DynamoStockState`]: what the stock flow last pushed per SKU and BigCommerce location, one item
//! per row under `stock#{connection}` (sort key `{location}#{sku}`), so one query reads a
//! connection's whole picture and a push saves only the rows it changed, 25 to a request; and its
//! last drift report and where its reads of Plex stand, one item each (`stockdrift#{connection}`,
//! `stockread#{connection}`).

use std::collections::BTreeMap;
use std::str::FromStr;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::Client;
use domain::ports::StockState;
use domain::stock::{DriftCheck, PushedLevel, Sku, StockLocation, StockProgress, StockRow};
use domain::{ConnectionId, PortError};
use rust_decimal::Decimal;

use super::{key, stock_drift_pk, stock_pk, stock_progress_pk};
use crate::error::from_sdk;
use crate::item;

/// [`StockState`] over the state table (`stock#…` items).
pub struct DynamoStockState {
    client: Client,
    table: String,
}

impl DynamoStockState {
    pub fn new(sdk: &SdkConfig, state_table: impl Into<String>) -> Self {
        Self { client: Client::new(sdk), table: state_table.into() }
    }
}

#[async_trait]
impl StockState for DynamoStockState {
    async fn pushed(
        &self,
        connection: &ConnectionId,
    ) -> Result<BTreeMap<(Sku, StockLocation), PushedLevel>, PortError> {
        let context = format!("reading the stock last pushed for {connection}");
        let items = crate::partition::read_all(&self.client, &self.table, &stock_pk(connection), &context).await?;
        let mut levels = BTreeMap::new();
        for item in &items {
            let sku = Sku::new(item::get_string(item, "sku", &context)?);
            let location = StockLocation(item::get_number(item, "location", &context)?);
            let quantity = item::get_number(item, "quantity", &context)?;
            let plex_on_hand = match item.get("plex_on_hand") {
                None => None,
                Some(_) => {
                    let text = item::get_string(item, "plex_on_hand", &context)?;
                    let on_hand = Decimal::from_str(text).map_err(|err| {
                        PortError::invalid(&context, format!("attribute plex_on_hand is not a number: {err}"))
                    })?;
                    Some(on_hand)
                }
            };
            levels.insert((sku, location), PushedLevel { quantity, plex_on_hand });
        }
        Ok(levels)
    }

    async fn save_pushed(&self, connection: &ConnectionId, rows: &[StockRow]) -> Result<(), PortError> {
        let context = format!("saving the stock pushed for {connection}");
        let items = rows
            .iter()
            .map(|row| {
                let mut item = key(stock_pk(connection), format!("{}#{}", row.location.id(), row.sku.as_str()));
                item.insert("sku".to_owned(), item::string(row.sku.as_str()));
                item.insert("location".to_owned(), item::number(row.location.id()));
                item.insert("quantity".to_owned(), item::number(row.quantity));
                // A string, exactly as read: Plex's quantities may have fractions.
                item.insert("plex_on_hand".to_owned(), item::string(row.plex_on_hand.normalize().to_string()));
                item
            })
            .collect();
        crate::batch::put_all(&self.client, &self.table, items, &context).await
    }

    async fn last_drift_check(&self, connection: &ConnectionId) -> Result<Option<DriftCheck>, PortError> {
        let context = format!("reading the last drift report of {connection}");
        self.get_json(stock_drift_pk(connection), "check", &context).await
    }

    async fn save_drift_check(&self, connection: &ConnectionId, check: &DriftCheck) -> Result<(), PortError> {
        let context = format!("saving the drift report of {connection}");
        self.put_json(stock_drift_pk(connection), "check", check, &context).await
    }

    async fn progress(&self, connection: &ConnectionId) -> Result<Option<StockProgress>, PortError> {
        let context = format!("reading where the stock reads of {connection} stand");
        self.get_json(stock_progress_pk(connection), "progress", &context).await
    }

    async fn save_progress(&self, connection: &ConnectionId, progress: &StockProgress) -> Result<(), PortError> {
        let context = format!("saving where the stock reads of {connection} stand");
        self.put_json(stock_progress_pk(connection), "progress", progress, &context).await
    }
}

impl DynamoStockState {
    /// The one item under `pk`, its `attribute` read as JSON; `None` when there is no item.
    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        pk: String,
        attribute: &str,
        context: &str,
    ) -> Result<Option<T>, PortError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, "-")))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| from_sdk(context, err))?;
        output.item.map(|item| item::get_json(&item, attribute, context)).transpose()
    }

    /// Replaces the one item under `pk` with `value` as JSON in `attribute`.
    async fn put_json<T: serde::Serialize>(
        &self,
        pk: String,
        attribute: &str,
        value: &T,
        context: &str,
    ) -> Result<(), PortError> {
        let mut item = key(pk, "-");
        item.insert(attribute.to_owned(), item::json(value, context)?);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|err| from_sdk(context, err))?;
        Ok(())
    }
}
