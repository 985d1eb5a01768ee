//! `DynamoAuditLog` against moto: ordering, same-instant events, the by-outcome index, TTL, paging.

use std::time::Duration;

use domain::ports::AuditLog;
use domain::{AuditEvent, ErrorClass, Outcome, RecordKey, RecordKind, Stage};
use millwright_aws::DynamoAuditLog;

use crate::support::{Stack, acme, at};

const RETENTION: Duration = Duration::from_secs(90 * 24 * 60 * 60);

fn order(id: &str) -> RecordKey {
    RecordKey::new(acme(), RecordKind::BcOrder, id)
}

fn log(stack: &Stack) -> DynamoAuditLog {
    DynamoAuditLog::new(&stack.sdk, &stack.provisioned.audit_table, RETENTION)
}

#[tokio::test]
async fn history_returns_every_event_oldest_first_including_two_at_the_same_instant() {
    // GIVEN three events of one order, two of them at the same instant, appended out of order,
    // and an event of another order
    let stack = Stack::new().await;
    let log = log(&stack);
    let received = AuditEvent::new(order("1042"), at("2026-11-24T10:00:00Z"), Stage::Received, Outcome::Ok, "receiver");
    let fetched = AuditEvent::new(order("1042"), at("2026-11-24T10:00:01.5Z"), Stage::Fetched, Outcome::Ok, "worker");
    let mapped =
        AuditEvent::new(order("1042"), at("2026-11-24T10:00:01.5Z"), Stage::Mapped, Outcome::NeedsMapping, "worker")
            .with_error(ErrorClass::Data, "sku \"W-9\" has no Plex part")
            .with_detail(serde_json::json!({"sku": "W-9"}));
    let other = AuditEvent::new(order("1043"), at("2026-11-24T10:00:00.5Z"), Stage::Received, Outcome::Ok, "receiver");
    for event in [&mapped, &received, &other, &fetched] {
        log.append(event).await.unwrap();
    }

    // WHEN the order's history is read
    let history = log.history(&order("1042")).await.unwrap();

    // THEN all three are there, oldest first, with every field intact
    assert_eq!(history.len(), 3, "{history:#?}");
    assert_eq!(history[0], received);
    let same_instant = &history[1..];
    assert!(same_instant.contains(&fetched) && same_instant.contains(&mapped), "{same_instant:#?}");
}

#[tokio::test]
async fn history_reads_past_the_first_page() {
    // GIVEN more than one DynamoDB page (1 MB) of events for one record
    let stack = Stack::new().await;
    let log = log(&stack);
    let payload = "x".repeat(100_000);
    let start = at("2026-11-24T10:00:00Z");
    for i in 0..12 {
        let event =
            AuditEvent::new(order("7"), start + chrono::Duration::seconds(i), Stage::Received, Outcome::Ok, "t")
                .with_detail(serde_json::json!({ "payload": payload }));
        log.append(&event).await.unwrap();
    }

    // WHEN / THEN every one of them comes back, in order
    let history = log.history(&order("7")).await.unwrap();
    let times: Vec<_> = history.iter().map(|e| e.at).collect();
    let expected: Vec<_> = (0..12).map(|i| start + chrono::Duration::seconds(i)).collect();
    assert_eq!(times, expected);
}

#[tokio::test]
async fn by_outcome_finds_failures_of_one_connection_since_a_time_and_respects_the_limit() {
    // GIVEN failures before and after a point in time, successes, and another connection's failure
    let stack = Stack::new().await;
    let log = log(&stack);
    let failed = |id: &str, time: &str| {
        AuditEvent::new(order(id), at(time), Stage::Written, Outcome::Failed, "worker")
            .with_error(ErrorClass::Permission, "403 from Plex")
    };
    let old = failed("1", "2026-11-24T09:00:00Z");
    let first = failed("2", "2026-11-24T10:00:00Z");
    let second = failed("3", "2026-11-24T10:30:00Z");
    let third = failed("4", "2026-11-24T11:00:00Z");
    let ok = AuditEvent::new(order("5"), at("2026-11-24T10:15:00Z"), Stage::Written, Outcome::Ok, "worker");
    let other_connection = AuditEvent::new(
        RecordKey::new(domain::ConnectionId::new("globex").unwrap(), RecordKind::BcOrder, "9"),
        at("2026-11-24T10:20:00Z"),
        Stage::Written,
        Outcome::Failed,
        "worker",
    );
    for event in [&third, &ok, &old, &other_connection, &second, &first] {
        log.append(event).await.unwrap();
    }
    let since = at("2026-11-24T10:00:00Z");

    // WHEN failures since 10:00 are asked for, without and with a tight limit
    let all = log.by_outcome(&acme(), Outcome::Failed, since, 100).await.unwrap();
    let limited = log.by_outcome(&acme(), Outcome::Failed, since, 2).await.unwrap();
    let none = log.by_outcome(&acme(), Outcome::Failed, since, 0).await.unwrap();

    // THEN only this connection's failures at or after 10:00 come back, oldest first, cut at the limit
    assert_eq!(all, vec![first.clone(), second.clone(), third]);
    assert_eq!(limited, vec![first, second]);
    assert!(none.is_empty());
}

#[tokio::test]
async fn stored_expiry_is_the_event_time_plus_the_retention() {
    // GIVEN an event appended with 90 days' retention
    let stack = Stack::new().await;
    let event_time = at("2026-11-24T10:00:00.75Z");
    let event = AuditEvent::new(order("1042"), event_time, Stage::Received, Outcome::Ok, "receiver");
    log(&stack).append(&event).await.unwrap();

    // WHEN the raw item is read
    let output = stack
        .dynamodb()
        .query()
        .table_name(&stack.provisioned.audit_table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", aws_sdk_dynamodb::types::AttributeValue::S("acme#bc-order#1042".into()))
        .send()
        .await
        .unwrap();
    let items = output.items();
    assert_eq!(items.len(), 1);
    let item = &items[0];

    // THEN `expires_at` is a Number holding the epoch seconds of at + retention, and the keys
    // follow the documented layout
    let expected = event_time.timestamp() + RETENTION.as_secs() as i64;
    assert_eq!(item["expires_at"].as_n().unwrap(), &expected.to_string());
    assert!(item["sk"].as_s().unwrap().starts_with("2026-11-24T10:00:00.750000000Z#"), "{item:?}");
    assert_eq!(item["outcome_pk"].as_s().unwrap(), "acme#ok");
    assert_eq!(item["stage"].as_s().unwrap(), "received");
}
