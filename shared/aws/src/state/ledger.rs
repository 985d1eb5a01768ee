//! [`DynamoOrderLedger`]: the order ledger with leases taken and honoured by DynamoDB conditions.
//!
//! The entry's JSON holds everything but the lease; the lease lives in `lease_holder` and
//! `lease_until` so conditions can test it. A save writes the entry's fields but never the lease
//! from the caller's copy: the stored lease is kept, or removed on release (as the fake does).

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::ReturnValue;
use chrono::{DateTime, Duration, Utc};
use domain::ports::OrderLedger;
use domain::{Lease, LedgerEntry, OrderRef, PortError};

use super::{SINGLE_SK, key, ledger_pk};
use crate::error::{from_sdk, is_conditional_check_failed};
use crate::item::{self, Item};

/// [`OrderLedger`] over the state table (`ledger#…` items).
pub struct DynamoOrderLedger {
    client: Client,
    table: String,
}

impl DynamoOrderLedger {
    pub fn new(sdk: &SdkConfig, state_table: impl Into<String>) -> Self {
        Self { client: Client::new(sdk), table: state_table.into() }
    }
}

/// The entry as stored in `entry`: without the lease, which has attributes of its own.
fn entry_attribute(entry: &LedgerEntry, context: &str) -> Result<aws_sdk_dynamodb::types::AttributeValue, PortError> {
    item::json(&LedgerEntry { lease: None, ..entry.clone() }, context)
}

fn entry_from_item(item: &Item, context: &str) -> Result<LedgerEntry, PortError> {
    let mut entry: LedgerEntry = item::get_json(item, "entry", context)?;
    entry.lease = match item::get_optional_string(item, "lease_holder", context)? {
        Some(holder) => Some(Lease {
            holder: holder.to_owned(),
            until: item::from_epoch_nanos(item::get_number(item, "lease_until", context)?),
        }),
        None => None,
    };
    Ok(entry)
}

#[async_trait]
impl OrderLedger for DynamoOrderLedger {
    async fn get(&self, order: &OrderRef) -> Result<Option<LedgerEntry>, PortError> {
        let context = format!("reading ledger entry of order {order}");
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(ledger_pk(order), SINGLE_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| from_sdk(context.clone(), err))?;
        output.item.as_ref().map(|item| entry_from_item(item, &context)).transpose()
    }

    async fn acquire(
        &self,
        order: &OrderRef,
        holder: &str,
        now: DateTime<Utc>,
        lease_for: Duration,
    ) -> Result<LedgerEntry, PortError> {
        let context = format!("taking the lease on order {order}");
        let until = now
            .checked_add_signed(lease_for)
            .ok_or_else(|| PortError::invalid(context.clone(), "lease end is out of range"))?;
        let fresh = LedgerEntry::new(order.clone(), now);
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(ledger_pk(order), SINGLE_SK)))
            // Creates a `Pending` entry when there is none and leaves an existing entry alone;
            // only the lease changes hands.
            .update_expression(
                "SET #entry = if_not_exists(#entry, :fresh), #status = if_not_exists(#status, :status), \
                 lease_holder = :me, lease_until = :until",
            )
            // Free when there is no entry, no lease, the lease is ours, or it has run out
            // (`until <= now`, the same rule as `LedgerEntry::is_leased_by_other`).
            .condition_expression(
                "attribute_not_exists(pk) OR attribute_not_exists(lease_holder) OR lease_holder = :me \
                 OR lease_until <= :now",
            )
            .expression_attribute_names("#entry", "entry")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":fresh", entry_attribute(&fresh, &context)?)
            .expression_attribute_values(":status", item::string(item::serde_name(&fresh.status)))
            .expression_attribute_values(":me", item::string(holder))
            .expression_attribute_values(":until", item::number(item::epoch_nanos(until, &context)?))
            .expression_attribute_values(":now", item::number(item::epoch_nanos(now, &context)?))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|err| {
                if is_conditional_check_failed(&err) {
                    PortError::Conflict(format!("order {order} is leased by another worker"))
                } else {
                    from_sdk(context.clone(), err)
                }
            })?;
        let item = output
            .attributes
            .ok_or_else(|| PortError::invalid(context.clone(), "DynamoDB returned no attributes for ALL_NEW"))?;
        entry_from_item(&item, &context)
    }

    async fn save(&self, entry: &LedgerEntry, holder: &str, release: bool) -> Result<(), PortError> {
        let order = &entry.order;
        let context = format!("saving ledger entry of order {order}");
        let update = if release {
            "SET #entry = :entry, #status = :status REMOVE lease_holder, lease_until"
        } else {
            "SET #entry = :entry, #status = :status"
        };
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(ledger_pk(order), SINGLE_SK)))
            .update_expression(update)
            // Fails when there is no entry, no lease, or someone else's lease: the caller lost it.
            .condition_expression("lease_holder = :me")
            .expression_attribute_names("#entry", "entry")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":entry", entry_attribute(entry, &context)?)
            .expression_attribute_values(":status", item::string(item::serde_name(&entry.status)))
            .expression_attribute_values(":me", item::string(holder))
            .send()
            .await
            .map_err(|err| {
                if is_conditional_check_failed(&err) {
                    PortError::Conflict(format!("lease on order {order} is not held by {holder}"))
                } else {
                    from_sdk(context, err)
                }
            })?;
        Ok(())
    }
}
