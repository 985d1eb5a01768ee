//! [`DynamoDedupeStore`]: "has this happened recently?" as one conditional put per claim.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Duration, Utc};
use domain::PortError;
use domain::ports::DedupeStore;

use super::{SINGLE_SK, dedupe_pk, key};
use crate::error::{from_sdk, is_conditional_check_failed};
use crate::item;

/// [`DedupeStore`] over the state table (`dedupe#…` items, removed by TTL after they expire).
pub struct DynamoDedupeStore {
    client: Client,
    table: String,
}

impl DynamoDedupeStore {
    pub fn new(sdk: &SdkConfig, state_table: impl Into<String>) -> Self {
        Self { client: Client::new(sdk), table: state_table.into() }
    }
}

#[async_trait]
impl DedupeStore for DynamoDedupeStore {
    async fn claim(&self, key_name: &str, now: DateTime<Utc>, ttl: Duration) -> Result<bool, PortError> {
        let context = format!("claiming {key_name}");
        let until = now
            .checked_add_signed(ttl)
            .ok_or_else(|| PortError::invalid(context.clone(), "claim end is out of range"))?;
        let mut item = key(dedupe_pk(key_name), SINGLE_SK);
        item.insert("claimed_until".to_owned(), item::number(item::epoch_nanos(until, &context)?));
        item.insert("expires_at".to_owned(), item::number(item::ttl_epoch_seconds(until)));
        let claimed = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            // A claim whose time has passed is free even though TTL has not deleted it yet
            // (`until <= now`, the same rule as the in-memory fake).
            .condition_expression("attribute_not_exists(pk) OR claimed_until <= :now")
            .expression_attribute_values(":now", item::number(item::epoch_nanos(now, &context)?))
            .send()
            .await;
        match claimed {
            Ok(_) => Ok(true),
            Err(err) if is_conditional_check_failed(&err) => Ok(false),
            Err(err) => Err(from_sdk(context, err)),
        }
    }
}
