//! Reading one whole partition: every item under a partition key, in sort-key order, following
//! DynamoDB's pages (a query returns at most 1 MB at a time).

use aws_sdk_dynamodb::Client;
use domain::PortError;

use crate::error::from_sdk;
use crate::item::{self, Item};

/// Every item whose `pk` is `pk`, ascending by sort key, read consistently.
pub(crate) async fn read_all(client: &Client, table: &str, pk: &str, context: &str) -> Result<Vec<Item>, PortError> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .query()
            .table_name(table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", item::string(pk))
            .scan_index_forward(true)
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|err| from_sdk(context, err))?;
        items.extend(page.items.unwrap_or_default());
        start = page.last_evaluated_key;
        if start.is_none() {
            return Ok(items);
        }
    }
}
