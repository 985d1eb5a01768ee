//! [`DynamoHoldStore`]: orders held for mappings, one item per order under `hold#{connection}`, so
//! one query lists a connection's holds.
//!
//! `held_at` is also stored as epoch nanoseconds, so a release that names the hold it read is one
//! conditional delete: a hold the worker stored again in the meantime is a different `held_at` and
//! stays.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::ReturnValue;
use chrono::{DateTime, Utc};
use domain::hold::Hold;
use domain::ports::HoldStore;
use domain::{ConnectionId, OrderRef, PortError};

use super::{hold_pk, key};
use crate::error::{from_sdk, is_conditional_check_failed};
use crate::item;

/// [`HoldStore`] over the state table (`hold#…` items).
pub struct DynamoHoldStore {
    client: Client,
    table: String,
}

impl DynamoHoldStore {
    pub fn new(sdk: &SdkConfig, state_table: impl Into<String>) -> Self {
        Self { client: Client::new(sdk), table: state_table.into() }
    }
}

#[async_trait]
impl HoldStore for DynamoHoldStore {
    async fn hold(&self, hold: &Hold) -> Result<(), PortError> {
        let context = format!("holding order {} for its mappings", hold.order);
        let mut item = key(hold_pk(&hold.order.connection), hold.order.order_id.to_string());
        item.insert("hold".to_owned(), item::json(hold, &context)?);
        item.insert("held_at".to_owned(), item::number(item::epoch_nanos(hold.held_at, &context)?));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|err| from_sdk(context, err))?;
        Ok(())
    }

    async fn list(&self, connection: &ConnectionId) -> Result<Vec<Hold>, PortError> {
        let context = format!("listing the held orders of {connection}");
        let items = crate::partition::read_all(&self.client, &self.table, &hold_pk(connection), &context).await?;
        let mut holds: Vec<Hold> =
            items.iter().map(|item| item::get_json(item, "hold", &context)).collect::<Result<_, _>>()?;
        holds.sort_by_key(|hold| (hold.held_at, hold.order.order_id));
        Ok(holds)
    }

    async fn release(&self, order: &OrderRef, held_at: Option<DateTime<Utc>>) -> Result<bool, PortError> {
        let context = format!("releasing the hold of order {order}");
        let mut request = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(hold_pk(&order.connection), order.order_id.to_string())))
            .return_values(ReturnValue::AllOld);
        if let Some(at) = held_at {
            request = request
                .condition_expression("held_at = :held_at")
                .expression_attribute_values(":held_at", item::number(item::epoch_nanos(at, &context)?));
        }
        match request.send().await {
            Ok(output) => Ok(output.attributes.is_some_and(|old| !old.is_empty())),
            Err(err) if is_conditional_check_failed(&err) => Ok(false),
            Err(err) => Err(from_sdk(context, err)),
        }
    }
}
