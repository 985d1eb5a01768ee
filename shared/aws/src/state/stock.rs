//! [`DynamoStockState`]: what the stock flow last pushed per SKU and BigCommerce location, one item
//! per row under `stock#{connection}` (sort key `{location}#{sku}`), so one query reads a
//! connection's whole picture and a push saves only the rows it changed, 25 to a request; and its
//! last drift report, one item `stockdrift#{connection}`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::Client;
use domain::ports::StockState;
use domain::stock::{DriftCheck, Sku, StockLocation, StockRow};
use domain::{ConnectionId, PortError};

use super::{key, stock_drift_pk, stock_pk};
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
    async fn last_pushed(&self, connection: &ConnectionId) -> Result<BTreeMap<(Sku, StockLocation), i64>, PortError> {
        let context = format!("reading the stock last pushed for {connection}");
        let items = crate::partition::read_all(&self.client, &self.table, &stock_pk(connection), &context).await?;
        let mut levels = BTreeMap::new();
        for item in &items {
            let sku = Sku::new(item::get_string(item, "sku", &context)?);
            let location = StockLocation(item::get_number(item, "location", &context)?);
            levels.insert((sku, location), item::get_number(item, "quantity", &context)?);
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
                item
            })
            .collect();
        crate::batch::put_all(&self.client, &self.table, items, &context).await
    }

    async fn last_drift_check(&self, connection: &ConnectionId) -> Result<Option<DriftCheck>, PortError> {
        let context = format!("reading the last drift report of {connection}");
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(stock_drift_pk(connection), "-")))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| from_sdk(&context, err))?;
        output.item.map(|item| item::get_json(&item, "check", &context)).transpose()
    }

    async fn save_drift_check(&self, connection: &ConnectionId, check: &DriftCheck) -> Result<(), PortError> {
        let context = format!("saving the drift report of {connection}");
        let mut item = key(stock_drift_pk(connection), "-");
        item.insert("check".to_owned(), item::json(check, &context)?);
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
