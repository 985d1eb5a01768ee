//! [`DynamoOpenOrders`]: web orders BigCommerce took that Plex does not hold yet, one item per order
//! under `open#{connection}`, so one query lists a connection's open orders for the stock flow.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::Client;
use domain::open_order::OpenOrder;
use domain::ports::OpenOrders;
use domain::{ConnectionId, OrderRef, PortError};

use super::{key, open_pk};
use crate::error::from_sdk;
use crate::item;

/// [`OpenOrders`] over the state table (`open#…` items).
pub struct DynamoOpenOrders {
    client: Client,
    table: String,
}

impl DynamoOpenOrders {
    pub fn new(sdk: &SdkConfig, state_table: impl Into<String>) -> Self {
        Self { client: Client::new(sdk), table: state_table.into() }
    }
}

#[async_trait]
impl OpenOrders for DynamoOpenOrders {
    async fn open(&self, order: &OpenOrder) -> Result<(), PortError> {
        let context = format!("recording order {} as open", order.order);
        let mut item = key(open_pk(&order.order.connection), order.order.order_id.to_string());
        item.insert("open".to_owned(), item::json(order, &context)?);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|err| from_sdk(context, err))?;
        Ok(())
    }

    async fn close(&self, order: &OrderRef) -> Result<(), PortError> {
        let context = format!("closing open order {order}");
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(open_pk(&order.connection), order.order_id.to_string())))
            .send()
            .await
            .map_err(|err| from_sdk(context, err))?;
        Ok(())
    }

    async fn list(&self, connection: &ConnectionId) -> Result<Vec<OpenOrder>, PortError> {
        let context = format!("listing the open orders of {connection}");
        let items = crate::partition::read_all(&self.client, &self.table, &open_pk(connection), &context).await?;
        let mut open: Vec<OpenOrder> =
            items.iter().map(|item| item::get_json(item, "open", &context)).collect::<Result<_, _>>()?;
        open.sort_by_key(|open| open.order.order_id);
        Ok(open)
    }
}
