//! The operator CLI's record commands (`millwright_cli`: trace, failures, replay) against the
//! deployment's tables in moto, and the Plex OAuth2 token the runtime shares through Secrets
//! Manager.
//!
//! Replays are read back from FIFO queues each test creates for itself, wired into its `Deps` in
//! place of the deployment's order queue, so the local world's poller never takes them first.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use chrono::{DateTime, Utc};
use domain::audit::{Outcome, Stage};
use domain::connection::PlexAuthMode;
use domain::message::MessageSource;
use domain::{AuditEvent, ErrorClass, OrderMessage, OrderRef, RecordKey};
use millwright_aws::{SecretsManagerStore, SqsEventSource, SqsQueue};
use millwright_cli::{failures, replay, trace};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::support::World;

const ACTOR: &str = "cli:e2e";

fn order_key(world: &World, order_id: u64) -> RecordKey {
    OrderRef::new(world.connection.clone(), order_id).record_key()
}

async fn append(world: &World, event: AuditEvent) {
    world.deps.audit.append(&event).await.expect("the audit event is stored");
}

/// A FIFO queue of the test's own in moto; `visibility_timeout` in seconds.
async fn create_fifo_queue(sqs: &aws_sdk_sqs::Client, name: &str, visibility_timeout: u32) -> String {
    sqs.create_queue()
        .queue_name(format!("{name}.fifo"))
        .attributes(QueueAttributeName::FifoQueue, "true")
        .attributes(QueueAttributeName::ContentBasedDeduplication, "false")
        .attributes(QueueAttributeName::VisibilityTimeout, visibility_timeout.to_string())
        .send()
        .await
        .expect("creating a FIFO queue in moto")
        .queue_url()
        .expect("a queue URL")
        .to_owned()
}

/// Points the world's `Deps` at an order queue of this test's own; returns the SQS client and URL.
async fn own_order_queue(world: &mut World) -> (aws_sdk_sqs::Client, String) {
    let sdk = millwright_aws::config::sdk_config_from_env().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let url = create_fifo_queue(&sqs, &format!("{}-replays", world.connection), 30).await;
    world.deps.queue = Arc::new(SqsQueue::new(&sdk, &url));
    (sqs, url)
}

/// Receives (and deletes) what a queue holds until a receive brings nothing; the bodies.
async fn drain(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<String> {
    let mut bodies = Vec::new();
    loop {
        let output = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("receiving from a test queue");
        if output.messages().is_empty() {
            return bodies;
        }
        for message in output.messages() {
            let receipt = message.receipt_handle().expect("a receipt handle");
            sqs.delete_message().queue_url(url).receipt_handle(receipt).send().await.expect("deleting");
            bodies.push(message.body().unwrap_or_default().to_owned());
        }
    }
}

fn order_messages(bodies: &[String]) -> Vec<OrderMessage> {
    bodies.iter().map(|body| serde_json::from_str(body).expect("an OrderMessage")).collect()
}

fn replayed_events(history: &[AuditEvent]) -> Vec<&AuditEvent> {
    history.iter().filter(|event| event.stage == Stage::Replayed).collect()
}

#[tokio::test]
async fn trace_shows_a_records_events_oldest_first_and_the_orders_ledger_entry() {
    // GIVEN three events of one order, appended out of order, and a leased ledger entry
    let world = World::start().await;
    let key = order_key(&world, 5001);
    let t0: DateTime<Utc> = Utc::now() - chrono::Duration::minutes(5);
    let second = chrono::Duration::seconds(1);
    append(
        &world,
        AuditEvent::new(key.clone(), t0 + second * 2, Stage::Mapped, Outcome::NeedsMapping, "order-worker")
            .with_error(ErrorClass::Data, "sku \"W-9\" has no Plex part"),
    )
    .await;
    append(&world, AuditEvent::new(key.clone(), t0, Stage::Received, Outcome::Ok, "webhook-receiver")).await;
    append(&world, AuditEvent::new(key.clone(), t0 + second, Stage::Fetched, Outcome::Ok, "order-worker")).await;
    let order = OrderRef::new(world.connection.clone(), 5001);
    world.deps.ledger.acquire(&order, "worker-e2e", Utc::now(), chrono::Duration::seconds(60)).await.expect("a lease");

    // WHEN it is traced
    let traced = trace::load(&world.deps, &key).await.expect("the trace");

    // THEN the events read oldest first, one line each, then the ledger entry
    let lines = traced.lines();
    assert_eq!(lines[0], format!("{key}: 3 audit events, oldest first"));
    let stages: Vec<&str> = lines[1..4].iter().map(|line| line.split_whitespace().nth(1).unwrap_or("")).collect();
    assert_eq!(stages, vec!["received", "fetched", "mapped"], "{lines:#?}");
    assert!(
        lines[3].contains("needs-mapping") && lines[3].ends_with("data        sku \"W-9\" has no Plex part"),
        "{}",
        lines[3]
    );
    assert!(
        lines[4].starts_with("ledger: status pending, no Plex order, lease held by worker-e2e until"),
        "{}",
        lines[4]
    );
    // AND the JSON lines carry the same events and the entry
    let json_lines = traced.json_lines().expect("JSON lines");
    let last: Value = serde_json::from_str(&json_lines[3]).expect("JSON");
    assert_eq!(last["ledger"]["status"], "pending");
    let first: Value = serde_json::from_str(&json_lines[0]).expect("JSON");
    assert_eq!(first["stage"], "received");
}

#[tokio::test]
async fn trace_of_any_record_kind_works_and_an_unknown_connection_is_refused() {
    let world = World::start().await;
    let key: RecordKey = format!("{}#bc-webhook#abc", world.connection).parse().expect("a key");
    append(
        &world,
        AuditEvent::new(key.clone(), Utc::now(), Stage::Received, Outcome::Rejected, "webhook-receiver")
            .with_error(ErrorClass::Auth, "X-Millwright-Auth does not match"),
    )
    .await;

    let traced = trace::load(&world.deps, &key).await.expect("the trace");
    assert_eq!(traced.lines().len(), 2, "a heading and the event, no ledger: {:#?}", traced.lines());
    assert!(traced.ledger.is_none());

    let unknown: RecordKey = "nobody-e2e#bc-order#1".parse().expect("a key");
    let error = trace::load(&world.deps, &unknown).await.expect_err("unknown connection");
    assert_eq!(error.to_string(), "connection nobody-e2e is not configured (no profile in the state table)");
}

#[tokio::test]
async fn failures_lists_a_failed_event_with_the_command_that_replays_it() {
    // GIVEN one failed and one successful order of a connection
    let world = World::start().await;
    let since = Utc::now() - chrono::Duration::minutes(1);
    append(
        &world,
        AuditEvent::new(order_key(&world, 5002), Utc::now(), Stage::Written, Outcome::Failed, "order-worker")
            .with_error(ErrorClass::Data, "Plex refused POST /sales/v1/orders: bad customer (field CustomerId)"),
    )
    .await;
    append(&world, AuditEvent::new(order_key(&world, 5003), Utc::now(), Stage::Written, Outcome::Ok, "order-worker"))
        .await;

    // WHEN the failures of the connection are listed
    let query = failures::Query { connections: vec![world.connection.clone()], since, outcomes: vec![], limit: 100 };
    let found = failures::find(&world.deps, &query).await.expect("failures");

    // THEN only the failed order is there, with its message and the replay command
    assert_eq!(found.events.len(), 1, "{:#?}", found.events);
    assert_eq!(found.events[0].key, order_key(&world, 5002));
    let lines = failures::lines(&found, since);
    assert!(lines[0].contains("failed") && lines[0].contains("(field CustomerId)"), "{}", lines[0]);
    assert_eq!(lines[1], format!("    replay: millwright replay --connection {} --order 5002", world.connection));
}

#[tokio::test]
async fn failures_of_an_unknown_connection_is_an_error_naming_it() {
    let world = World::start().await;
    let query = failures::Query {
        connections: vec!["nobody-e2e".parse().expect("an id")],
        since: Utc::now(),
        outcomes: vec![],
        limit: 10,
    };
    let error = failures::find(&world.deps, &query).await.expect_err("unknown connection");
    assert!(error.to_string().contains("connection nobody-e2e is not configured"), "{error}");
}

#[tokio::test]
async fn replaying_an_order_queues_a_replay_message_each_time_and_audits_it() {
    // GIVEN the connection's orders go to a queue of this test
    let mut world = World::start().await;
    let (sqs, url) = own_order_queue(&mut world).await;

    // WHEN order 6001 is replayed twice in a row (and named twice in the first command)
    let first = replay::orders(&world.deps, &world.connection, &[6001, 6001], ACTOR).await.expect("replayed");
    let second = replay::orders(&world.deps, &world.connection, &[6001], ACTOR).await.expect("replayed");

    // THEN each command queued it once, and FIFO de-duplication dropped neither replay
    assert!(first.is_clean() && second.is_clean(), "{first:?} {second:?}");
    assert_eq!((first.replayed.len(), second.replayed.len()), (1, 1));
    let messages = order_messages(&drain(&sqs, &url).await);
    assert_eq!(messages.len(), 2, "{messages:#?}");
    for message in &messages {
        assert_eq!(message.order, OrderRef::new(world.connection.clone(), 6001));
        assert_eq!((message.source, message.scope.as_str()), (MessageSource::Replay, domain::message::REQUEUE_SCOPE));
        assert!(message.delivery.starts_with("replay-"), "{}", message.delivery);
    }
    assert_ne!(messages[0].delivery, messages[1].delivery);
    // AND the order's trail has a Replayed event per replay, naming the message
    let history = world.deps.audit.history(&order_key(&world, 6001)).await.expect("history");
    let replays = replayed_events(&history);
    assert_eq!(replays.len(), 2, "{history:#?}");
    assert_eq!((replays[0].outcome, replays[0].actor.as_str()), (Outcome::Ok, ACTOR));
    assert_eq!(replays[0].detail.as_ref().expect("detail")["message_id"], first.replayed[0].message_id.as_str());
}

#[tokio::test]
async fn replaying_by_outcome_queues_only_the_orders_still_left_in_it() {
    // GIVEN 7001 needs a mapping (and was alerted about it), 7002 needed one but was written
    // since, and 7003 needed one twice
    let mut world = World::start().await;
    let (sqs, url) = own_order_queue(&mut world).await;
    let since = Utc::now() - chrono::Duration::minutes(1);
    let t0 = Utc::now();
    let ms = chrono::Duration::milliseconds(1);
    let needs_mapping = |order_id, at| {
        AuditEvent::new(order_key(&world, order_id), at, Stage::Mapped, Outcome::NeedsMapping, "order-worker")
            .with_error(ErrorClass::Data, "sku \"W-9\" has no Plex part")
    };
    append(&world, needs_mapping(7001, t0)).await;
    append(&world, AuditEvent::new(order_key(&world, 7001), t0 + ms, Stage::Alerted, Outcome::Ok, "order-worker"))
        .await;
    append(&world, needs_mapping(7002, t0)).await;
    append(&world, AuditEvent::new(order_key(&world, 7002), t0 + ms, Stage::Written, Outcome::Ok, "order-worker"))
        .await;
    append(&world, needs_mapping(7003, t0)).await;
    append(&world, needs_mapping(7003, t0 + ms)).await;

    // WHEN the connection's needs-mapping orders are replayed
    let report = replay::orders_with_outcome(&world.deps, &world.connection, Outcome::NeedsMapping, since, ACTOR)
        .await
        .expect("replayed");

    // THEN 7001 and 7003 were queued, once each
    assert!(report.is_clean(), "{report:?}");
    let mut queued: Vec<u64> = order_messages(&drain(&sqs, &url).await).iter().map(|m| m.order.order_id).collect();
    queued.sort_unstable();
    assert_eq!(queued, vec![7001, 7003]);
    let replayed_7001 = world.deps.audit.history(&order_key(&world, 7001)).await.expect("history");
    assert_eq!(replayed_events(&replayed_7001)[0].detail.as_ref().expect("detail")["outcome"], "needs-mapping");
    assert!(replayed_events(&world.deps.audit.history(&order_key(&world, 7002)).await.expect("history")).is_empty());
}

#[tokio::test]
async fn replaying_the_dead_letter_queue_moves_each_order_to_the_order_queue_and_deletes_it() {
    // GIVEN a dead-letter queue holding two order messages and one that is not an order message
    let mut world = World::start().await;
    let (sqs, order_queue) = own_order_queue(&mut world).await;
    let dlq_url = create_fifo_queue(&sqs, &format!("{}-dlq", world.connection), 1).await;
    for (index, body) in [
        json!({"order": {"connection": world.connection, "order_id": 8001}, "scope": "store/order/created",
               "delivery": "hash-8001", "source": "webhook", "received_at": "2026-11-24T10:00:00Z"}),
        json!({"order": {"connection": world.connection, "order_id": 8002}, "scope": "store/order/updated",
               "delivery": "hash-8002", "source": "sweep", "received_at": "2026-11-24T10:00:01Z"}),
        json!({"not": "an order message"}),
    ]
    .iter()
    .enumerate()
    {
        sqs.send_message()
            .queue_url(&dlq_url)
            .message_body(body.to_string())
            .message_group_id(format!("group-{index}"))
            .message_deduplication_id(format!("dedupe-{index}"))
            .send()
            .await
            .expect("seeding the dead-letter queue");
    }
    let sdk = millwright_aws::config::sdk_config_from_env().await;
    let dlq = SqsEventSource::new(&sdk, &dlq_url);

    // WHEN the dead-letter queue is replayed
    let report = replay::dead_letters(&world.deps, &dlq, 10, ACTOR).await.expect("the replay ran");

    // THEN both orders were moved as replays keeping their scope, and the odd message was left
    let moved: Vec<u64> = report.replayed.iter().map(|replayed| replayed.order.order_id).collect();
    assert_eq!(moved.len(), 2, "{report:?}");
    assert_eq!(report.not_replayed.len(), 1, "{report:?}");
    assert!(report.not_replayed[0].reason.contains("not an order message"), "{report:?}");
    let mut messages = order_messages(&drain(&sqs, &order_queue).await);
    messages.sort_by_key(|message| message.order.order_id);
    let summary: Vec<(u64, MessageSource, &str)> =
        messages.iter().map(|m| (m.order.order_id, m.source, m.scope.as_str())).collect();
    assert_eq!(
        summary,
        vec![
            (8001, MessageSource::Replay, "store/order/created"),
            (8002, MessageSource::Replay, "store/order/updated")
        ]
    );
    // AND each order's trail says where the replay came from
    let history = world.deps.audit.history(&order_key(&world, 8001)).await.expect("history");
    let replays = replayed_events(&history);
    assert_eq!(replays.len(), 1, "{history:#?}");
    assert_eq!(replays[0].detail.as_ref().expect("detail")["dead_letter"]["delivery"], "hash-8001");
    // AND only the odd message is still in the dead-letter queue (visible again after 1 s)
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(drain(&sqs, &dlq_url).await, vec![json!({"not": "an order message"}).to_string()]);
}

#[tokio::test]
async fn a_dead_letter_whose_replay_cannot_be_queued_stays_in_the_dead_letter_queue() {
    // GIVEN an order queue that does not exist, and one message in the dead-letter queue
    let mut world = World::start().await;
    let sdk = millwright_aws::config::sdk_config_from_env().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let dlq_url = create_fifo_queue(&sqs, &format!("{}-dlq", world.connection), 1).await;
    let missing_queue = dlq_url.replace("-dlq.fifo", "-never-created.fifo");
    world.deps.queue = Arc::new(SqsQueue::new(&sdk, &missing_queue));
    let body = json!({"order": {"connection": world.connection, "order_id": 8101}, "scope": "store/order/created",
                      "delivery": "hash-8101", "source": "webhook", "received_at": "2026-11-24T10:00:00Z"})
    .to_string();
    sqs.send_message()
        .queue_url(&dlq_url)
        .message_body(&body)
        .message_group_id("g")
        .message_deduplication_id("d")
        .send()
        .await
        .expect("seeding the dead-letter queue");

    // WHEN the dead-letter queue is replayed
    let report = replay::dead_letters(&world.deps, &SqsEventSource::new(&sdk, &dlq_url), 10, ACTOR)
        .await
        .expect("the replay ran");

    // THEN nothing was moved, nothing audited, and the message is still there
    assert!(report.replayed.is_empty(), "{report:?}");
    assert_eq!(report.not_replayed.len(), 1, "{report:?}");
    assert!(report.not_replayed[0].reason.ends_with("it stays in the dead-letter queue"), "{report:?}");
    assert!(world.deps.audit.history(&order_key(&world, 8101)).await.expect("history").is_empty());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(drain(&sqs, &dlq_url).await, vec![body]);
}

#[tokio::test]
async fn an_oauth_connections_plex_token_is_shared_through_secrets_manager() {
    // GIVEN a connection whose Plex authenticates with OAuth2 client credentials
    let world = World::start().await;
    let switched = world
        .http
        .post(format!("{}/__control/config", world.sandbox.plex_url))
        .json(&json!({ "auth": { "mode": "oauth2" } }))
        .send()
        .await
        .expect("the Plex double's control plane");
    assert!(switched.status().is_success());
    let mut profile = world.deps.connection(&world.connection).await.expect("the profile");
    profile.plex.auth = PlexAuthMode::OAuth2 { token_url: None };
    world.deps.connections.put(&profile).await.expect("the profile is stored");

    // WHEN two clients built by the runtime (two containers, say) call Plex
    world.deps.plex(&profile).await.expect("a client").tenants().await.expect("the first client's call");
    world.deps.plex(&profile).await.expect("a client").tenants().await.expect("the second client's call");

    // THEN the token sits in Secrets Manager at {prefix}/{connection}/plex-token
    let name = runtime::plex_token::secret_name(&world.deps.config.secret_prefix, &world.connection);
    assert_eq!(name, format!("{}/{}/plex-token", world.deps.config.secret_prefix, world.connection));
    let sdk = millwright_aws::config::sdk_config_from_env().await;
    let stored = SecretsManagerStore::new(&sdk, Duration::ZERO).get_fresh(&name).await.expect("readable");
    let document: Value = serde_json::from_str(stored.expect("the shared token").expose_secret()).expect("JSON");
    assert!(document["access_token"].as_str().is_some_and(|token| token.len() > 10), "{}", document["expires_at"]);
    let expires_at: DateTime<Utc> = serde_json::from_value(document["expires_at"].clone()).expect("an expiry");
    assert!(expires_at > Utc::now() + chrono::Duration::minutes(30));
    // AND one token served both clients
    let log: Vec<Value> = world
        .http
        .get(format!("{}/__control/requests", world.sandbox.plex_url))
        .send()
        .await
        .expect("the request log")
        .json()
        .await
        .expect("JSON");
    let token_requests = log.iter().filter(|entry| entry["path"] == "/oauth2/token").count();
    assert_eq!(token_requests, 1, "{log:#?}");
}
