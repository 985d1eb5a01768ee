//! [`DynamoConnectionStore`]: connection profiles, all under one partition key so that one query
//! lists them (there are a handful per deployment, not thousands).

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::Client;
use domain::ports::ConnectionStore;
use domain::{ConnectionId, ConnectionProfile, PortError};

use super::{CONNECTION_PK, key};
use crate::error::from_sdk;
use crate::item;

/// [`ConnectionStore`] over the state table (items under `pk = connection`).
pub struct DynamoConnectionStore {
    client: Client,
    table: String,
}

impl DynamoConnectionStore {
    pub fn new(sdk: &SdkConfig, state_table: impl Into<String>) -> Self {
        Self { client: Client::new(sdk), table: state_table.into() }
    }
}

#[async_trait]
impl ConnectionStore for DynamoConnectionStore {
    async fn get(&self, id: &ConnectionId) -> Result<Option<ConnectionProfile>, PortError> {
        let context = format!("reading connection profile {id}");
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(CONNECTION_PK, id.as_str())))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| from_sdk(context.clone(), err))?;
        output.item.as_ref().map(|item| item::get_json(item, "profile", &context)).transpose()
    }

    async fn put(&self, profile: &ConnectionProfile) -> Result<(), PortError> {
        let context = format!("writing connection profile {}", profile.id);
        let mut item = key(CONNECTION_PK, profile.id.as_str());
        item.insert("profile".to_owned(), item::json(profile, &context)?);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|err| from_sdk(context, err))?;
        Ok(())
    }

    /// Every profile, ordered by connection id (the sort key).
    async fn list(&self) -> Result<Vec<ConnectionProfile>, PortError> {
        let context = "listing connection profiles";
        let items = crate::partition::read_all(&self.client, &self.table, CONNECTION_PK, context).await?;
        items.iter().map(|item| item::get_json(item, "profile", context)).collect()
    }
}
