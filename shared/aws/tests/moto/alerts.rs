//! `SnsAlerter` against moto: what the subscribed e-mail address would receive, read back from
//! moto's own record of published notifications, and the one-alert-per-cause window.

use std::sync::Arc;
use std::time::Duration;

use domain::alert::AlertOutcome;
use domain::ports::Alerter;
use domain::{Alert, RecordKey, RecordKind};
use millwright_aws::provision::ProvisionOptions;
use millwright_aws::{DynamoDedupeStore, SnsAlerter};

use crate::support::{Stack, acme, endpoint};

/// A notification moto recorded on a topic: what SNS would have mailed.
#[derive(Debug, PartialEq)]
struct Sent {
    message_id: String,
    subject: Option<String>,
    message: String,
}

/// The notifications published to `topic_arn`, from `GET /moto-api/data.json`. There every SNS
/// topic appears under `sns.Topic` with `sent_notifications` as
/// `[message_id, message, subject, message_attributes, group_id]` arrays.
async fn sent_notifications(topic_arn: &str) -> Vec<Sent> {
    let data = moto_data().await;
    let topics = data["sns"]["Topic"].as_array().expect("moto lists SNS topics under sns.Topic");
    let topic = topics.iter().find(|t| t["arn"] == topic_arn).unwrap_or_else(|| panic!("topic {topic_arn} in moto"));
    let notifications = topic["sent_notifications"].as_array().expect("sent_notifications is a list");
    notifications
        .iter()
        .map(|n| Sent {
            message_id: n[0].as_str().unwrap().to_owned(),
            message: n[1].as_str().unwrap().to_owned(),
            subject: n[2].as_str().map(str::to_owned),
        })
        .collect()
}

/// moto's whole state as JSON. moto builds it by walking live objects, which fails with a 500 when
/// another test changes them at that moment, so a few attempts are allowed.
async fn moto_data() -> serde_json::Value {
    let url = format!("{}/moto-api/data.json", endpoint().trim_end_matches('/'));
    let mut last_error = None;
    for _ in 0..10 {
        match reqwest::get(&url).await.and_then(|response| response.error_for_status()) {
            Ok(response) => return response.json().await.expect("moto's data.json is JSON"),
            Err(err) => last_error = Some(err),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("GET {url} kept failing: {last_error:?}")
}

async fn stack_with_email() -> Stack {
    Stack::with_options(ProvisionOptions { alert_email: Some("ops@example.com".into()), ..ProvisionOptions::default() })
        .await
}

fn alerter(stack: &Stack) -> SnsAlerter {
    let dedupe = Arc::new(DynamoDedupeStore::new(&stack.sdk, &stack.provisioned.state_table));
    SnsAlerter::new(&stack.sdk, &stack.provisioned.topic_arn, dedupe, chrono::Duration::hours(1))
}

fn alert(cause: &str) -> Alert {
    Alert {
        connection: acme(),
        cause: cause.into(),
        subject: format!("[acme] Plex rejected the API key\n({cause})"),
        body: "Plex answered 401 to every call. Renew the key in Secrets Manager.".into(),
        record: Some(RecordKey::new(acme(), RecordKind::BcOrder, "1042")),
    }
}

#[tokio::test]
async fn an_alert_is_published_with_a_clean_subject_and_its_context_in_the_body() {
    let stack = stack_with_email().await;

    let outcome = alerter(&stack).alert(&alert("plex-auth")).await.unwrap();

    let AlertOutcome::Sent { message_id } = outcome else { panic!("expected Sent, got {outcome:?}") };
    let sent = sent_notifications(&stack.provisioned.topic_arn).await;
    assert_eq!(
        sent,
        vec![Sent {
            message_id,
            subject: Some("[acme] Plex rejected the API key (plex-auth)".into()),
            message: "Plex answered 401 to every call. Renew the key in Secrets Manager.\n\n\
                      Connection: acme\nCause: plex-auth\nRecord: acme#bc-order#1042\n"
                .into(),
        }]
    );
}

#[tokio::test]
async fn the_same_cause_inside_the_window_is_suppressed_and_a_different_cause_is_sent() {
    // GIVEN one alert already sent for a cause
    let stack = stack_with_email().await;
    let alerter = alerter(&stack);
    assert!(matches!(alerter.alert(&alert("plex-auth")).await.unwrap(), AlertOutcome::Sent { .. }));

    // WHEN the same cause alerts again inside the window, then another cause does
    let repeat = alerter.alert(&alert("plex-auth")).await.unwrap();
    let other = alerter.alert(&alert("unmapped-sku:W-9")).await.unwrap();

    // THEN the repeat is suppressed and not published; the other cause is
    assert_eq!(repeat, AlertOutcome::Suppressed);
    assert!(matches!(other, AlertOutcome::Sent { .. }), "{other:?}");
    let subjects: Vec<_> =
        sent_notifications(&stack.provisioned.topic_arn).await.into_iter().filter_map(|s| s.subject).collect();
    assert_eq!(
        subjects,
        vec!["[acme] Plex rejected the API key (plex-auth)", "[acme] Plex rejected the API key (unmapped-sku:W-9)"]
    );
}

#[tokio::test]
async fn the_window_is_shared_by_every_alerter_on_the_same_state_table() {
    // Two containers alerting the same cause: the claim in the state table, not memory, decides.
    let stack = stack_with_email().await;
    let first = alerter(&stack).alert(&alert("plex-auth")).await.unwrap();
    let second = alerter(&stack).alert(&alert("plex-auth")).await.unwrap();

    assert!(matches!(first, AlertOutcome::Sent { .. }), "{first:?}");
    assert_eq!(second, AlertOutcome::Suppressed);
    assert_eq!(sent_notifications(&stack.provisioned.topic_arn).await.len(), 1);
}
