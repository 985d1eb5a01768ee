//! [`DynamoJobLeases`]: each connection's lease on each scheduled job, taken by one conditional
//! update whose condition is [`domain::job::JobLeaseState::refusal`] in DynamoDB's words.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use domain::job::{JobLeaseState, LeaseRefusal};
use domain::ports::JobLeases;
use domain::{ConnectionId, PortError};

use super::{SINGLE_SK, job_lease_pk, key};
use crate::error::{from_sdk, is_conditional_check_failed};
use crate::item::{self, Item};

/// [`JobLeases`] over the state table (`lease#{connection}#{job}` items).
pub struct DynamoJobLeases {
    client: Client,
    table: String,
}

impl DynamoJobLeases {
    pub fn new(sdk: &SdkConfig, state_table: impl Into<String>) -> Self {
        Self { client: Client::new(sdk), table: state_table.into() }
    }

    async fn read(&self, connection: &ConnectionId, job: &str, context: &str) -> Result<JobLeaseState, PortError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(job_lease_pk(connection, job), SINGLE_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| from_sdk(context, err))?;
        output.item.as_ref().map(|item| state_from_item(item, context)).transpose().map(Option::unwrap_or_default)
    }
}

fn optional_time(item: &Item, name: &str, context: &str) -> Result<Option<DateTime<Utc>>, PortError> {
    match item.get(name) {
        None => Ok(None),
        Some(_) => item::get_number(item, name, context).map(|nanos| Some(item::from_epoch_nanos(nanos))),
    }
}

fn state_from_item(item: &Item, context: &str) -> Result<JobLeaseState, PortError> {
    Ok(JobLeaseState {
        holder: item::get_optional_string(item, "holder", context)?.map(str::to_owned),
        held_until: optional_time(item, "held_until", context)?,
        covered_through: optional_time(item, "covered_through", context)?,
    })
}

#[async_trait]
impl JobLeases for DynamoJobLeases {
    async fn take(
        &self,
        connection: &ConnectionId,
        job: &str,
        holder: &str,
        requested_at: DateTime<Utc>,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Result<(), LeaseRefusal>, PortError> {
        let context = format!("taking the {job} lease of connection {connection}");
        let taken = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(job_lease_pk(connection, job), SINGLE_SK)))
            .update_expression("SET holder = :holder, held_until = :until")
            // Free when no live holder (`held_until <= now`: a crashed holder's lease runs out) and
            // no finished job started at or after this one's request.
            .condition_expression(
                "(attribute_not_exists(held_until) OR held_until <= :now) \
                 AND (attribute_not_exists(covered_through) OR covered_through < :requested)",
            )
            .expression_attribute_values(":holder", item::string(holder))
            .expression_attribute_values(":until", item::number(item::epoch_nanos(until, &context)?))
            .expression_attribute_values(":now", item::number(item::epoch_nanos(now, &context)?))
            .expression_attribute_values(":requested", item::number(item::epoch_nanos(requested_at, &context)?))
            .send()
            .await;
        match taken {
            Ok(_) => Ok(Ok(())),
            Err(err) if is_conditional_check_failed(&err) => {
                // Only to say why: the condition decided; a lease freed since reads as held by nobody.
                let state = self.read(connection, job, &context).await?;
                Ok(Err(state.refusal(requested_at, now).unwrap_or_else(|| LeaseRefusal::Held {
                    holder: "an invocation that has finished since".to_owned(),
                    until: now,
                })))
            }
            Err(err) => Err(from_sdk(context, err)),
        }
    }

    async fn finish(
        &self,
        connection: &ConnectionId,
        job: &str,
        holder: &str,
        started_at: DateTime<Utc>,
    ) -> Result<(), PortError> {
        let context = format!("finishing the {job} lease of connection {connection}");
        self.update_if_held(
            connection,
            job,
            holder,
            "SET covered_through = :started REMOVE holder, held_until",
            Some(item::epoch_nanos(started_at, &context)?),
            &context,
        )
        .await
    }

    async fn release(&self, connection: &ConnectionId, job: &str, holder: &str) -> Result<(), PortError> {
        let context = format!("releasing the {job} lease of connection {connection}");
        self.update_if_held(connection, job, holder, "REMOVE holder, held_until", None, &context).await
    }
}

impl DynamoJobLeases {
    /// `update` on the lease item if `holder` still holds it; nothing otherwise.
    async fn update_if_held(
        &self,
        connection: &ConnectionId,
        job: &str,
        holder: &str,
        update: &str,
        started_nanos: Option<i64>,
        context: &str,
    ) -> Result<(), PortError> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(job_lease_pk(connection, job), SINGLE_SK)))
            .update_expression(update)
            .condition_expression("holder = :holder")
            .expression_attribute_values(":holder", item::string(holder));
        if let Some(nanos) = started_nanos {
            request = request.expression_attribute_values(":started", item::number(nanos));
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(err) if is_conditional_check_failed(&err) => {
                tracing::warn!(%connection, job, holder, "the job's lease was no longer this invocation's");
                Ok(())
            }
            Err(err) => Err(from_sdk(context, err)),
        }
    }
}
