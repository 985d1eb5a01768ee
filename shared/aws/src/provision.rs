//! Creates the resources `infra/template.yaml` creates, under the same names, for the local world
//! and for tests (moto has no CloudFormation we can rely on offline).
//!
//! What is created mirrors the template's storage and messaging: the audit table (keys, `by-outcome`
//! index, TTL), the state table (keys, TTL), the dead-letter queue and the FIFO order queue with its
//! redrive policy, each scheduled function's job queue ([`SCHEDULED_JOBS`]) with the jobs'
//! dead-letter queue, and the alert topic with an optional e-mail subscription. The template's KMS key,
//! alarm and secrets are not: the emulator needs no encryption, raises no alarms, and secrets are
//! created by `SecretsManagerStore::put` when first written.
//!
//! [`provision`] is idempotent: running it again on the same names converges instead of failing,
//! so `millwright local up` can be restarted against a running emulator.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
};
use aws_sdk_sqs::types::QueueAttributeName;
use domain::PortError;

use crate::audit::BY_OUTCOME_INDEX;
use crate::error::{error_code, from_build, from_sdk};

/// The attribute DynamoDB TTL reads on both tables (epoch seconds).
pub const TTL_ATTRIBUTE: &str = "expires_at";

/// How long a new table may take to become `ACTIVE` (real DynamoDB: seconds to a minute or two).
const TABLE_ACTIVE_TIMEOUT: Duration = Duration::from_secs(180);
const TABLE_POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Message retention, as in the template: four days on the queue, fourteen (the maximum) on the DLQ.
const QUEUE_RETENTION_SECONDS: i32 = 345_600;
const DLQ_RETENTION_SECONDS: i32 = 1_209_600;

/// The scheduled functions, each with a job queue of its own (`{stack}-{job}-jobs`).
pub const SCHEDULED_JOBS: [&str; 3] = ["order-sweep", "webhook-health", "inventory-sync"];

/// Resource names derived from a stack name, exactly as the template derives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceNames {
    pub audit_table: String,
    pub state_table: String,
    pub order_queue: String,
    pub order_dlq: String,
    /// The dead-letter queue of every job queue (only unreadable job messages reach it).
    pub jobs_dlq: String,
    pub alert_topic: String,
    stack: String,
}

impl ResourceNames {
    pub fn for_stack(stack: &str) -> Self {
        Self {
            audit_table: format!("{stack}-audit"),
            state_table: format!("{stack}-state"),
            order_queue: format!("{stack}-orders.fifo"),
            order_dlq: format!("{stack}-orders-dlq.fifo"),
            jobs_dlq: format!("{stack}-jobs-dlq"),
            alert_topic: format!("{stack}-alerts"),
            stack: stack.to_owned(),
        }
    }

    /// The job queue of the scheduled function whose job is `job` (one of [`SCHEDULED_JOBS`]).
    pub fn job_queue(&self, job: &str) -> String {
        format!("{}-{job}-jobs", self.stack)
    }
}

/// The template's `OrderMaxReceiveCount` default: deliveries of one order message before the
/// queue moves it to the dead-letter queue.
pub const DEFAULT_MAX_RECEIVE_COUNT: i32 = 5;

/// The template's `JobMaxReceiveCount` default: deliveries of one job before a failure is alerted
/// and the job left to the next run.
pub const DEFAULT_JOB_MAX_RECEIVE_COUNT: i32 = 3;

/// Job message retention, as in the template: an hour (a job older than a few runs is superseded).
const JOB_RETENTION_SECONDS: i32 = 3_600;

/// The template's parameters that matter to the emulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionOptions {
    /// Subscribed to the alert topic by e-mail (the template's `AlertEmail`); none when unset.
    pub alert_email: Option<String>,
    /// Deliveries of one message before it moves to the DLQ (`OrderMaxReceiveCount`, default 5).
    pub max_receive_count: i32,
    /// The order queue's visibility timeout (180 s in the template: six times the worker timeout).
    pub visibility_timeout_seconds: i32,
    /// The job queues' visibility timeout: a failed job's retry comes after it (120 s in the
    /// template: twice the order sweep's timeout, the longest of the scheduled functions).
    pub job_visibility_timeout_seconds: i32,
    /// Deliveries of one job (`JobMaxReceiveCount`, default 3).
    pub job_max_receive_count: i32,
}

impl Default for ProvisionOptions {
    fn default() -> Self {
        Self {
            alert_email: None,
            max_receive_count: DEFAULT_MAX_RECEIVE_COUNT,
            visibility_timeout_seconds: 180,
            job_visibility_timeout_seconds: 240,
            job_max_receive_count: DEFAULT_JOB_MAX_RECEIVE_COUNT,
        }
    }
}

/// What the functions need to reach the resources: table names, queue URLs, the topic ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioned {
    pub audit_table: String,
    pub state_table: String,
    pub queue_url: String,
    pub dlq_url: String,
    /// Each scheduled function's job queue URL, by job ([`SCHEDULED_JOBS`]).
    pub job_queue_urls: std::collections::BTreeMap<String, String>,
    pub topic_arn: String,
}

impl Provisioned {
    /// The job queue URL of `job`; one of [`SCHEDULED_JOBS`].
    pub fn job_queue_url(&self, job: &str) -> Option<&str> {
        self.job_queue_urls.get(job).map(String::as_str)
    }
}

/// Creates (or confirms) every resource in `names`; see the module documentation.
pub async fn provision(
    sdk: &SdkConfig,
    names: &ResourceNames,
    options: &ProvisionOptions,
) -> Result<Provisioned, PortError> {
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    create_table(&dynamodb, &names.audit_table, true).await?;
    create_table(&dynamodb, &names.state_table, false).await?;
    let OrderQueues { queue_url, dlq_url } =
        provision_order_queues(sdk, &names.order_queue, &names.order_dlq, options).await?;
    let queues: Vec<String> = SCHEDULED_JOBS.iter().map(|job| names.job_queue(job)).collect();
    let job_queues = provision_job_queues(sdk, &queues, &names.jobs_dlq, options).await?;
    let job_queue_urls = SCHEDULED_JOBS.iter().map(|job| (*job).to_owned()).zip(job_queues).collect();
    let sns = aws_sdk_sns::Client::new(sdk);
    let topic_arn = create_topic(&sns, &names.alert_topic, options.alert_email.as_deref()).await?;
    Ok(Provisioned {
        audit_table: names.audit_table.clone(),
        state_table: names.state_table.clone(),
        queue_url,
        dlq_url,
        job_queue_urls,
        topic_arn,
    })
}

fn string_attribute(name: &str, context: &str) -> Result<AttributeDefinition, PortError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|err| from_build(context, err))
}

fn key_element(name: &str, key_type: KeyType, context: &str) -> Result<KeySchemaElement, PortError> {
    KeySchemaElement::builder().attribute_name(name).key_type(key_type).build().map_err(|err| from_build(context, err))
}

/// A table keyed on (`pk`, `sk`), on demand, with TTL on `expires_at`; the audit table also gets the
/// `by-outcome` index on (`outcome_pk`, `sk`) projecting every attribute.
async fn create_table(client: &aws_sdk_dynamodb::Client, table: &str, by_outcome: bool) -> Result<(), PortError> {
    let context = format!("creating table {table}");
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(string_attribute("pk", &context)?)
        .attribute_definitions(string_attribute("sk", &context)?)
        .key_schema(key_element("pk", KeyType::Hash, &context)?)
        .key_schema(key_element("sk", KeyType::Range, &context)?);
    if by_outcome {
        let index = GlobalSecondaryIndex::builder()
            .index_name(BY_OUTCOME_INDEX)
            .key_schema(key_element("outcome_pk", KeyType::Hash, &context)?)
            .key_schema(key_element("sk", KeyType::Range, &context)?)
            .projection(Projection::builder().projection_type(ProjectionType::All).build())
            .build()
            .map_err(|err| from_build(context.clone(), err))?;
        request =
            request.attribute_definitions(string_attribute("outcome_pk", &context)?).global_secondary_indexes(index);
    }
    match request.send().await {
        Ok(_) => tracing::info!(table, "created table"),
        // The table is there from an earlier run; it was created with the same definition.
        Err(err) if error_code(&err) == Some("ResourceInUseException") => tracing::debug!(table, "table exists"),
        Err(err) => return Err(from_sdk(context, err)),
    }
    wait_until_active(client, table).await?;
    enable_ttl(client, table).await
}

async fn wait_until_active(client: &aws_sdk_dynamodb::Client, table: &str) -> Result<(), PortError> {
    let context = format!("waiting for table {table} to become active");
    let started = tokio::time::Instant::now();
    loop {
        let output =
            client.describe_table().table_name(table).send().await.map_err(|err| from_sdk(context.clone(), err))?;
        if output.table.and_then(|t| t.table_status) == Some(TableStatus::Active) {
            return Ok(());
        }
        if started.elapsed() >= TABLE_ACTIVE_TIMEOUT {
            return Err(PortError::unavailable(
                context,
                format!("still not active after {} s", TABLE_ACTIVE_TIMEOUT.as_secs()),
            ));
        }
        tokio::time::sleep(TABLE_POLL_INTERVAL).await;
    }
}

async fn enable_ttl(client: &aws_sdk_dynamodb::Client, table: &str) -> Result<(), PortError> {
    let context = format!("enabling TTL on table {table}");
    let current =
        client.describe_time_to_live().table_name(table).send().await.map_err(|err| from_sdk(context.clone(), err))?;
    if let Some(description) = current.time_to_live_description {
        let on =
            matches!(description.time_to_live_status, Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling));
        // DynamoDB refuses to enable TTL twice, so an earlier run's setting is left alone.
        if on && description.attribute_name.as_deref() == Some(TTL_ATTRIBUTE) {
            return Ok(());
        }
    }
    let specification = TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name(TTL_ATTRIBUTE)
        .build()
        .map_err(|err| from_build(context.clone(), err))?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(specification)
        .send()
        .await
        .map_err(|err| from_sdk(context, err))?;
    Ok(())
}

/// The URLs of an order queue and its dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderQueues {
    pub queue_url: String,
    pub dlq_url: String,
}

/// An order queue named `queue` (a `.fifo` name) and its dead-letter queue `dlq` with the template's
/// attributes and `options`' visibility timeout and receive count: what [`provision`] creates for a
/// stack, for the tests and the bench that want queues of their own. The DLQ first (the order
/// queue's redrive policy names its ARN), then the order queue. Idempotent, like [`provision`].
pub async fn provision_order_queues(
    sdk: &SdkConfig,
    queue: &str,
    dlq: &str,
    options: &ProvisionOptions,
) -> Result<OrderQueues, PortError> {
    let client = &aws_sdk_sqs::Client::new(sdk);
    let (dlq_url, dlq_arn) = create_dlq(client, dlq, true).await?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": options.max_receive_count,
    });
    let queue_url = create_queue(
        client,
        queue,
        true,
        vec![
            (QueueAttributeName::ContentBasedDeduplication, "false".to_owned()),
            (QueueAttributeName::VisibilityTimeout, options.visibility_timeout_seconds.to_string()),
            (QueueAttributeName::MessageRetentionPeriod, QUEUE_RETENTION_SECONDS.to_string()),
            (QueueAttributeName::RedrivePolicy, redrive.to_string()),
        ],
    )
    .await?;
    Ok(OrderQueues { queue_url, dlq_url })
}

/// Job queues named `queues` (SQS standard) and their dead-letter queue `dlq`, with the template's
/// attributes and `options`' job visibility timeout and receive count: what [`provision`] creates
/// for a stack's scheduled functions, for the tests and the bench that want queues of their own.
/// Returns the queues' URLs in the order given. Idempotent, like [`provision`].
pub async fn provision_job_queues(
    sdk: &SdkConfig,
    queues: &[String],
    dlq: &str,
    options: &ProvisionOptions,
) -> Result<Vec<String>, PortError> {
    let client = &aws_sdk_sqs::Client::new(sdk);
    let (_, dlq_arn) = create_dlq(client, dlq, false).await?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": options.job_max_receive_count,
    });
    let mut urls = Vec::with_capacity(queues.len());
    for queue in queues {
        let attributes = vec![
            (QueueAttributeName::VisibilityTimeout, options.job_visibility_timeout_seconds.to_string()),
            (QueueAttributeName::MessageRetentionPeriod, JOB_RETENTION_SECONDS.to_string()),
            (QueueAttributeName::RedrivePolicy, redrive.to_string()),
        ];
        urls.push(create_queue(client, queue, false, attributes).await?);
    }
    Ok(urls)
}

/// A dead-letter queue with the template's retention; its URL and ARN (a redrive policy names the ARN).
async fn create_dlq(client: &aws_sdk_sqs::Client, dlq: &str, fifo: bool) -> Result<(String, String), PortError> {
    let dlq_url = create_queue(
        client,
        dlq,
        fifo,
        vec![(QueueAttributeName::MessageRetentionPeriod, DLQ_RETENTION_SECONDS.to_string())],
    )
    .await?;
    let context = format!("reading the ARN of queue {dlq}");
    let attributes = client
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|err| from_sdk(context.clone(), err))?;
    let dlq_arn = attributes
        .attributes
        .and_then(|mut attributes| attributes.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| PortError::invalid(context, "SQS returned no QueueArn"))?;
    Ok((dlq_url, dlq_arn))
}

/// A queue (FIFO with `fifo`) with `attributes`. When the queue exists with other attributes (an
/// earlier run with other options), its attributes are updated to these, so the result matches the
/// options given.
async fn create_queue(
    client: &aws_sdk_sqs::Client,
    name: &str,
    fifo: bool,
    attributes: Vec<(QueueAttributeName, String)>,
) -> Result<String, PortError> {
    let context = format!("creating queue {name}");
    let mut request = client.create_queue().queue_name(name);
    if fifo {
        request = request.attributes(QueueAttributeName::FifoQueue, "true");
    }
    for (attribute, value) in &attributes {
        request = request.attributes(attribute.clone(), value);
    }
    match request.send().await {
        Ok(output) => output.queue_url.ok_or_else(|| PortError::invalid(context, "SQS returned no queue URL")),
        // The query protocol and the JSON protocol name this error differently.
        Err(err) if matches!(error_code(&err), Some("QueueAlreadyExists" | "QueueNameExists")) => {
            let output =
                client.get_queue_url().queue_name(name).send().await.map_err(|err| from_sdk(context.clone(), err))?;
            let url =
                output.queue_url.ok_or_else(|| PortError::invalid(context.clone(), "SQS returned no queue URL"))?;
            client
                .set_queue_attributes()
                .queue_url(&url)
                .set_attributes(Some(attributes.into_iter().collect()))
                .send()
                .await
                .map_err(|err| from_sdk(context, err))?;
            Ok(url)
        }
        Err(err) => Err(from_sdk(context, err)),
    }
}

/// The alert topic and, when given, an e-mail subscription. SNS returns the existing topic and the
/// existing subscription for a repeated create, so both calls are idempotent as they are.
async fn create_topic(client: &aws_sdk_sns::Client, name: &str, email: Option<&str>) -> Result<String, PortError> {
    let context = format!("creating topic {name}");
    let output = client
        .create_topic()
        .name(name)
        .attributes("DisplayName", "Millwright alerts")
        .send()
        .await
        .map_err(|err| from_sdk(context.clone(), err))?;
    let topic_arn = output.topic_arn.ok_or_else(|| PortError::invalid(context, "SNS returned no topic ARN"))?;
    if let Some(email) = email {
        client
            .subscribe()
            .topic_arn(&topic_arn)
            .protocol("email")
            .endpoint(email)
            .send()
            .await
            .map_err(|err| from_sdk(format!("subscribing {email} to topic {name}"), err))?;
    }
    Ok(topic_arn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_template() {
        let names = ResourceNames::for_stack("mw");
        assert_eq!(
            (names.audit_table.as_str(), names.state_table.as_str(), names.alert_topic.as_str()),
            ("mw-audit", "mw-state", "mw-alerts")
        );
        assert_eq!((names.order_queue.as_str(), names.order_dlq.as_str()), ("mw-orders.fifo", "mw-orders-dlq.fifo"));
        assert_eq!(names.jobs_dlq, "mw-jobs-dlq");
        assert_eq!(names.job_queue("webhook-health"), "mw-webhook-health-jobs");
    }

    #[test]
    fn default_options_match_the_template_defaults() {
        let options = ProvisionOptions::default();
        assert_eq!((options.max_receive_count, options.visibility_timeout_seconds), (5, 180));
        assert_eq!((options.job_max_receive_count, options.job_visibility_timeout_seconds), (3, 240));
        assert_eq!(options.alert_email, None);
    }
}
