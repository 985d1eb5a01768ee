//! `provision` against moto: the template's resources under the template's names, idempotently.

use aws_sdk_dynamodb::types::{KeyType, ProjectionType, TimeToLiveStatus};
use aws_sdk_sqs::types::QueueAttributeName;
use millwright_aws::provision::{ProvisionOptions, ResourceNames, provision};

use crate::support::{Stack, sdk, unique_stack_name};

#[tokio::test]
async fn provisioning_the_same_stack_twice_succeeds_and_returns_the_same_resources() {
    let sdk = sdk().await;
    let names = ResourceNames::for_stack(&unique_stack_name());
    let options = ProvisionOptions { alert_email: Some("ops@example.com".into()), ..ProvisionOptions::default() };

    let first = provision(&sdk, &names, &options).await.unwrap();
    let second = provision(&sdk, &names, &options).await.unwrap();

    assert_eq!(first, second);
    let subscriptions =
        aws_sdk_sns::Client::new(&sdk).list_subscriptions_by_topic().topic_arn(&first.topic_arn).send().await.unwrap();
    let endpoints: Vec<_> = subscriptions.subscriptions().iter().map(|s| (s.protocol(), s.endpoint())).collect();
    assert_eq!(endpoints, vec![(Some("email"), Some("ops@example.com"))], "subscribed once");
}

#[tokio::test]
async fn provisioning_again_with_other_queue_options_updates_the_queue() {
    let sdk = sdk().await;
    let names = ResourceNames::for_stack(&unique_stack_name());
    provision(&sdk, &names, &ProvisionOptions::default()).await.unwrap();

    let changed =
        ProvisionOptions { max_receive_count: 2, visibility_timeout_seconds: 5, ..ProvisionOptions::default() };
    let provisioned = provision(&sdk, &names, &changed).await.unwrap();

    let attributes = aws_sdk_sqs::Client::new(&sdk)
        .get_queue_attributes()
        .queue_url(&provisioned.queue_url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    assert_eq!(attributes[&QueueAttributeName::VisibilityTimeout], "5");
    let redrive: serde_json::Value = serde_json::from_str(&attributes[&QueueAttributeName::RedrivePolicy]).unwrap();
    assert_eq!(redrive["maxReceiveCount"].to_string().trim_matches('"'), "2");
}

#[tokio::test]
async fn tables_have_the_template_keys_index_and_ttl() {
    let stack = Stack::new().await;
    let dynamodb = stack.dynamodb();

    for table in [&stack.names.audit_table, &stack.names.state_table] {
        let description = dynamodb.describe_table().table_name(table).send().await.unwrap().table.unwrap();
        let keys: Vec<_> =
            description.key_schema().iter().map(|k| (k.attribute_name().to_owned(), k.key_type().clone())).collect();
        assert_eq!(keys, vec![("pk".to_owned(), KeyType::Hash), ("sk".to_owned(), KeyType::Range)], "{table}");
        assert_eq!(
            description.billing_mode_summary().and_then(|b| b.billing_mode()).map(|m| m.as_str()),
            Some("PAY_PER_REQUEST"),
            "{table}"
        );
        let ttl = dynamodb.describe_time_to_live().table_name(table).send().await.unwrap();
        let ttl = ttl.time_to_live_description.unwrap();
        assert_eq!(ttl.time_to_live_status, Some(TimeToLiveStatus::Enabled), "{table}");
        assert_eq!(ttl.attribute_name.as_deref(), Some("expires_at"), "{table}");
    }

    let audit = dynamodb.describe_table().table_name(&stack.names.audit_table).send().await.unwrap().table.unwrap();
    let indexes = audit.global_secondary_indexes();
    assert_eq!(indexes.len(), 1);
    assert_eq!(indexes[0].index_name(), Some("by-outcome"));
    let keys: Vec<_> = indexes[0].key_schema().iter().map(|k| k.attribute_name().to_owned()).collect();
    assert_eq!(keys, vec!["outcome_pk", "sk"]);
    assert_eq!(indexes[0].projection().and_then(|p| p.projection_type()), Some(&ProjectionType::All));
}

#[tokio::test]
async fn the_order_queue_is_fifo_and_redrives_to_the_fifo_dead_letter_queue() {
    let stack = Stack::new().await;
    let sqs = stack.sqs();
    let attributes = |url: String| {
        let sqs = sqs.clone();
        async move {
            sqs.get_queue_attributes()
                .queue_url(url)
                .attribute_names(QueueAttributeName::All)
                .send()
                .await
                .unwrap()
                .attributes
                .unwrap()
        }
    };
    let queue = attributes(stack.provisioned.queue_url.clone()).await;
    let dlq = attributes(stack.provisioned.dlq_url.clone()).await;

    assert!(stack.provisioned.queue_url.ends_with(&stack.names.order_queue));
    assert!(stack.provisioned.dlq_url.ends_with(&stack.names.order_dlq));
    assert_eq!(queue[&QueueAttributeName::FifoQueue], "true");
    assert_eq!(queue[&QueueAttributeName::ContentBasedDeduplication], "false");
    assert_eq!(queue[&QueueAttributeName::VisibilityTimeout], "180");
    assert_eq!(dlq[&QueueAttributeName::FifoQueue], "true");
    let redrive: serde_json::Value = serde_json::from_str(&queue[&QueueAttributeName::RedrivePolicy]).unwrap();
    assert_eq!(redrive["deadLetterTargetArn"], dlq[&QueueAttributeName::QueueArn].as_str());
    assert_eq!(redrive["maxReceiveCount"].to_string().trim_matches('"'), "5");
}

#[tokio::test]
async fn the_environment_configuration_reaches_the_endpoint_in_aws_endpoint_url() {
    let endpoint = crate::support::endpoint();

    let sdk = millwright_aws::config::sdk_config_from_env().await;

    assert_eq!(sdk.endpoint_url(), Some(endpoint.as_str()));
}
