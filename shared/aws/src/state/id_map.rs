//! [`DynamoIdMap`]: ids of one system mapped to ids of another, one item per source id under
//! `idmap#{connection}#{namespace}`. Puts overwrite: the latest mapping wins, as in the fake.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::Client;
use domain::ports::IdMap;
use domain::{ConnectionId, PortError};

use super::{id_map_pk, key};
use crate::error::from_sdk;
use crate::item;

/// [`IdMap`] over the state table (`idmap#…` items).
pub struct DynamoIdMap {
    client: Client,
    table: String,
}

impl DynamoIdMap {
    pub fn new(sdk: &SdkConfig, state_table: impl Into<String>) -> Self {
        Self { client: Client::new(sdk), table: state_table.into() }
    }
}

#[async_trait]
impl IdMap for DynamoIdMap {
    async fn get(
        &self,
        connection: &ConnectionId,
        namespace: &str,
        source_id: &str,
    ) -> Result<Option<String>, PortError> {
        let context = format!("reading id map {connection}/{namespace}/{source_id}");
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(id_map_pk(connection, namespace), source_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| from_sdk(context.clone(), err))?;
        output.item.as_ref().map(|item| item::get_string(item, "target_id", &context).map(str::to_owned)).transpose()
    }

    async fn put(
        &self,
        connection: &ConnectionId,
        namespace: &str,
        source_id: &str,
        target_id: &str,
    ) -> Result<(), PortError> {
        let context = format!("writing id map {connection}/{namespace}/{source_id}");
        let mut item = key(id_map_pk(connection, namespace), source_id);
        item.insert("target_id".to_owned(), item::string(target_id));
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
