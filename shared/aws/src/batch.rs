//! Writing many items at once: `BatchWriteItem`, 25 puts to a request, sending again what DynamoDB
//! leaves unprocessed (throttled) after a short back-off.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use domain::PortError;

use crate::error::{from_build, from_sdk};
use crate::item::Item;

/// `BatchWriteItem` takes at most 25 writes.
const WRITE_BATCH: usize = 25;
/// Tries of the writes DynamoDB leaves unprocessed before the write fails.
const UNPROCESSED_TRIES: u32 = 5;

/// Puts every item into `table`, 25 to a request, in order. A batch cannot carry a condition, so
/// only items whose keys nothing else writes belong here. On an error the items of earlier
/// requests are stored and the rest may not be: writing them all again is safe for such items.
pub(crate) async fn put_all(client: &Client, table: &str, items: Vec<Item>, context: &str) -> Result<(), PortError> {
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        let mut writes = Vec::with_capacity(WRITE_BATCH);
        for item in items.by_ref().take(WRITE_BATCH) {
            let put = PutRequest::builder().set_item(Some(item)).build().map_err(|e| from_build(context, e))?;
            writes.push(WriteRequest::builder().put_request(put).build());
        }
        let mut tries = 0;
        while !writes.is_empty() {
            tries += 1;
            let output = client
                .batch_write_item()
                .request_items(table, writes)
                .send()
                .await
                .map_err(|err| from_sdk(context, err))?;
            writes = output.unprocessed_items.and_then(|mut left| left.remove(table)).unwrap_or_default();
            if !writes.is_empty() {
                if tries >= UNPROCESSED_TRIES {
                    let reason = format!("{} write(s) still unprocessed after {tries} tries", writes.len());
                    return Err(PortError::unavailable(context, std::io::Error::other(reason)));
                }
                // DynamoDB left them for throttling: back off before sending them again.
                tokio::time::sleep(Duration::from_millis(50 << tries)).await;
            }
        }
    }
    Ok(())
}
