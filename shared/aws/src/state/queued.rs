//! [`DynamoQueueMarks`]: when a message for each order was last queued, one item per order
//! (`queued#{connection}#{order_id}`), moved forward by one conditional put and removed by TTL.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use domain::message::QUEUED_MARK_TTL;
use domain::ports::QueueMarks;
use domain::{OrderRef, PortError};

use super::{SINGLE_SK, key, queued_pk};
use crate::error::{from_sdk, is_conditional_check_failed};
use crate::item;

/// [`QueueMarks`] over the state table (`queued#…` items).
pub struct DynamoQueueMarks {
    client: Client,
    table: String,
}

impl DynamoQueueMarks {
    pub fn new(sdk: &SdkConfig, state_table: impl Into<String>) -> Self {
        Self { client: Client::new(sdk), table: state_table.into() }
    }
}

#[async_trait]
impl QueueMarks for DynamoQueueMarks {
    async fn mark_queued(&self, order: &OrderRef, at: DateTime<Utc>) -> Result<(), PortError> {
        let context = format!("marking order {order} as queued");
        let expires = at
            .checked_add_signed(QUEUED_MARK_TTL)
            .ok_or_else(|| PortError::invalid(context.clone(), "mark expiry is out of range"))?;
        let queued_at = item::number(item::epoch_nanos(at, &context)?);
        let mut item = key(queued_pk(order), SINGLE_SK);
        item.insert("queued_at".to_owned(), queued_at.clone());
        item.insert("expires_at".to_owned(), item::number(item::ttl_epoch_seconds(expires)));
        let marked = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            // Only forward: a writer that queued earlier but writes later leaves the newer mark.
            .condition_expression("attribute_not_exists(pk) OR queued_at < :at")
            .expression_attribute_values(":at", queued_at)
            .send()
            .await;
        match marked {
            Ok(_) => Ok(()),
            // A mark at or after `at` is stored: what this write would say is already known.
            Err(err) if is_conditional_check_failed(&err) => Ok(()),
            Err(err) => Err(from_sdk(context, err)),
        }
    }

    async fn last_queued(&self, order: &OrderRef, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, PortError> {
        let context = format!("reading when order {order} was last queued");
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(queued_pk(order), SINGLE_SK)))
            // The sweep reads this right after the receiver may have written it.
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| from_sdk(context.clone(), err))?;
        let Some(item) = output.item else { return Ok(None) };
        let queued_at = item::from_epoch_nanos(item::get_number(&item, "queued_at", &context)?);
        // TTL removes an expired mark eventually, not at once: the expiry is checked here too, by
        // the same rule as the in-memory fake.
        Ok(Some(queued_at).filter(|at| *at + QUEUED_MARK_TTL > now))
    }
}
