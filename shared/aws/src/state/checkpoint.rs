//! [`DynamoCheckpointStore`]: sync-stream checkpoints, saved only if the stored revision is still the
//! one the caller loaded (a DynamoDB condition on `revision`).

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::Client;
use domain::ports::CheckpointStore;
use domain::{Checkpoint, PortError, SyncStream};

use super::{SINGLE_SK, checkpoint_pk, key};
use crate::error::{from_sdk, is_conditional_check_failed};
use crate::item;

/// [`CheckpointStore`] over the state table (`checkpoint#…` items).
pub struct DynamoCheckpointStore {
    client: Client,
    table: String,
}

impl DynamoCheckpointStore {
    pub fn new(sdk: &SdkConfig, state_table: impl Into<String>) -> Self {
        Self { client: Client::new(sdk), table: state_table.into() }
    }
}

#[async_trait]
impl CheckpointStore for DynamoCheckpointStore {
    async fn load(&self, stream: &SyncStream) -> Result<Option<Checkpoint>, PortError> {
        let context = format!("loading checkpoint {stream}");
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(checkpoint_pk(stream), SINGLE_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| from_sdk(context.clone(), err))?;
        output.item.as_ref().map(|item| item::get_json(item, "checkpoint", &context)).transpose()
    }

    async fn save(
        &self,
        stream: &SyncStream,
        new: &Checkpoint,
        expected: Option<&Checkpoint>,
    ) -> Result<(), PortError> {
        let context = format!("saving checkpoint {stream}");
        let mut item = key(checkpoint_pk(stream), SINGLE_SK);
        item.insert("checkpoint".to_owned(), item::json(new, &context)?);
        item.insert("revision".to_owned(), item::number(new.revision));
        let request = self.client.put_item().table_name(&self.table).set_item(Some(item));
        // Compared by revision, as the in-memory fake does: "None" means nothing may be stored yet.
        let request = match expected {
            None => request.condition_expression("attribute_not_exists(pk)"),
            Some(expected) => request
                .condition_expression("revision = :expected")
                .expression_attribute_values(":expected", item::number(expected.revision)),
        };
        request.send().await.map_err(|err| {
            if is_conditional_check_failed(&err) {
                PortError::Conflict(format!("checkpoint {stream} moved since it was loaded"))
            } else {
                from_sdk(context, err)
            }
        })?;
        Ok(())
    }
}
