//! The state-table adapters against moto: leases, checkpoints, id maps, dedupe claims, held orders,
//! queued marks and connection profiles, with races settled by DynamoDB conditions.

use chrono::Duration;
use domain::connection::{BigCommerceProfile, PlexProfile};
use domain::hold::Hold;
use domain::message::QUEUED_MARK_TTL;
use domain::order::MappingGap;
use domain::ports::{CheckpointStore, ConnectionStore, DedupeStore, HoldStore, IdMap, OrderLedger, QueueMarks};
use domain::{Checkpoint, ConnectionId, ConnectionProfile, LedgerStatus, OrderRef, PortError, SyncStream};
use millwright_aws::{
    DynamoCheckpointStore, DynamoConnectionStore, DynamoDedupeStore, DynamoHoldStore, DynamoIdMap, DynamoOrderLedger,
    DynamoQueueMarks,
};

use crate::support::{RaceGate, Stack, acme, at};

const LEASE: Duration = Duration::seconds(30);

fn now() -> chrono::DateTime<chrono::Utc> {
    at("2026-11-24T10:00:00.123456789Z")
}

#[tokio::test]
async fn acquiring_an_unknown_order_creates_a_pending_entry_leased_to_the_caller() {
    let stack = Stack::new().await;
    let ledger = DynamoOrderLedger::new(&stack.sdk, &stack.provisioned.state_table);
    let order = OrderRef::new(acme(), 1042);

    let entry = ledger.acquire(&order, "w1", now(), LEASE).await.unwrap();

    assert_eq!(entry.order, order);
    assert_eq!(entry.status, LedgerStatus::Pending);
    assert_eq!(entry.updated_at, now());
    let lease = entry.lease.clone().unwrap();
    assert_eq!((lease.holder.as_str(), lease.until), ("w1", now() + LEASE));
    assert_eq!(ledger.get(&order).await.unwrap(), Some(entry));
    assert_eq!(ledger.get(&OrderRef::new(acme(), 1)).await.unwrap(), None);
}

#[tokio::test]
async fn a_lease_excludes_other_holders_until_it_expires_and_then_can_be_taken_over() {
    // GIVEN w1 holds the lease on an order
    let stack = Stack::new().await;
    let ledger = DynamoOrderLedger::new(&stack.sdk, &stack.provisioned.state_table);
    let order = OrderRef::new(acme(), 7);
    ledger.acquire(&order, "w1", now(), LEASE).await.unwrap();

    // WHEN w2 tries while it is live, w1 renews, and w2 tries again once it has run out
    let refused = ledger.acquire(&order, "w2", now() + Duration::seconds(29), LEASE).await.unwrap_err();
    let renewed = ledger.acquire(&order, "w1", now() + Duration::seconds(1), LEASE).await.unwrap();
    let still_refused = ledger.acquire(&order, "w2", now() + Duration::seconds(30), LEASE).await.unwrap_err();
    let taken = ledger.acquire(&order, "w2", now() + Duration::seconds(31), LEASE).await.unwrap();

    // THEN w2 is refused with a conflict until the renewed lease ends exactly, then takes it over
    assert!(matches!(refused, PortError::Conflict(_)), "{refused:?}");
    assert_eq!(renewed.lease.unwrap().until, now() + Duration::seconds(31));
    assert!(matches!(still_refused, PortError::Conflict(_)), "{still_refused:?}");
    assert_eq!(taken.lease.as_ref().unwrap().holder, "w2");

    // AND w1, having lost the lease, cannot save; w2 can, and releasing clears the lease
    let mut committed = taken.clone();
    committed.status = LedgerStatus::Committed;
    committed.plex_order_id = Some("so-1".into());
    let lost = ledger.save(&committed, "w1", true).await.unwrap_err();
    assert!(matches!(lost, PortError::Conflict(_)), "{lost:?}");
    ledger.save(&committed, "w2", true).await.unwrap();
    let stored = ledger.get(&order).await.unwrap().unwrap();
    assert_eq!(stored.plex_order_id.as_deref(), Some("so-1"));
    assert_eq!(stored.status, LedgerStatus::Committed);
    assert!(stored.lease.is_none());

    // AND after the release nobody can save until a lease is taken again
    assert!(matches!(ledger.save(&committed, "w2", false).await, Err(PortError::Conflict(_))));
    let again = ledger.acquire(&order, "w3", now() + Duration::seconds(32), LEASE).await.unwrap();
    assert_eq!(again.plex_order_id.as_deref(), Some("so-1"), "acquire must keep the stored entry");
    assert_eq!(again.status, LedgerStatus::Committed);
}

#[tokio::test]
async fn saving_without_releasing_keeps_the_stored_lease_not_the_callers_copy() {
    let stack = Stack::new().await;
    let ledger = DynamoOrderLedger::new(&stack.sdk, &stack.provisioned.state_table);
    let order = OrderRef::new(acme(), 8);
    let mut entry = ledger.acquire(&order, "w1", now(), LEASE).await.unwrap();

    entry.status = LedgerStatus::Writing;
    entry.lease = None;
    ledger.save(&entry, "w1", false).await.unwrap();

    let stored = ledger.get(&order).await.unwrap().unwrap();
    assert_eq!(stored.status, LedgerStatus::Writing);
    assert!(stored.create_in_doubt());
    assert_eq!(stored.lease.unwrap().holder, "w1");
}

#[tokio::test]
async fn saving_an_order_that_has_no_entry_conflicts() {
    let stack = Stack::new().await;
    let ledger = DynamoOrderLedger::new(&stack.sdk, &stack.provisioned.state_table);
    let entry = domain::LedgerEntry::new(OrderRef::new(acme(), 9), now());

    let err = ledger.save(&entry, "w1", true).await.unwrap_err();

    assert!(matches!(err, PortError::Conflict(_)), "{err:?}");
    assert_eq!(ledger.get(&entry.order).await.unwrap(), None, "a failed save must not create the entry");
}

#[tokio::test]
async fn of_two_racing_acquires_exactly_one_wins() {
    let stack = Stack::new().await;
    let ledger = DynamoOrderLedger::new(&stack.sdk, &stack.provisioned.state_table);
    for id in 0..5 {
        // GIVEN two workers (separate adapters, as in two Lambda containers) and a fresh order;
        // the gate makes their writes meet at moto after everything either of them read
        let gate = RaceGate::new(2);
        let first = DynamoOrderLedger::new(&gate.sdk(&stack.sdk), &stack.provisioned.state_table);
        let second = DynamoOrderLedger::new(&gate.sdk(&stack.sdk), &stack.provisioned.state_table);
        let order = OrderRef::new(acme(), 100 + id);

        // WHEN both take the lease at the same moment
        let (a, b) =
            tokio::join!(first.acquire(&order, "w1", now(), LEASE), second.acquire(&order, "w2", now(), LEASE),);

        // THEN exactly one holds it, the other got a conflict, and the stored holder is the winner
        let winner = match (&a, &b) {
            (Ok(entry), Err(PortError::Conflict(_))) | (Err(PortError::Conflict(_)), Ok(entry)) => entry,
            other => panic!("order {order}: expected one winner and one conflict, got {other:?}"),
        };
        let stored = ledger.get(&order).await.unwrap().unwrap();
        assert_eq!(stored.lease, winner.lease);
    }
}

#[tokio::test]
async fn a_checkpoint_round_trips_and_a_stale_expected_revision_conflicts() {
    let stack = Stack::new().await;
    let store = DynamoCheckpointStore::new(&stack.sdk, &stack.provisioned.state_table);
    let stream = SyncStream::new(acme(), "stock");
    assert_eq!(store.load(&stream).await.unwrap(), None);

    let first = Checkpoint::starting_at(now());
    store.save(&stream, &first, None).await.unwrap();
    let again = store.save(&stream, &first, None).await.unwrap_err();
    assert!(matches!(again, PortError::Conflict(_)), "a second first save must conflict: {again:?}");

    let second = first.advanced([(now() + Duration::minutes(1), "p1"), (now() + Duration::minutes(1), "p2")]);
    store.save(&stream, &second, Some(&first)).await.unwrap();
    let stale = second.advanced([(now() + Duration::minutes(2), "p3")]);
    let err = store.save(&stream, &stale, Some(&first)).await.unwrap_err();
    assert!(matches!(err, PortError::Conflict(_)), "{err:?}");

    assert_eq!(store.load(&stream).await.unwrap(), Some(second));
    let other_stream = SyncStream::new(acme(), "monday:parts");
    assert_eq!(store.load(&other_stream).await.unwrap(), None);
}

#[tokio::test]
async fn of_two_checkpoint_saves_from_the_same_revision_exactly_one_wins() {
    // GIVEN a stored checkpoint and two runs that both loaded it
    let stack = Stack::new().await;
    let store = DynamoCheckpointStore::new(&stack.sdk, &stack.provisioned.state_table);
    let stream = SyncStream::new(acme(), "stock");
    let loaded = Checkpoint::starting_at(now());
    store.save(&stream, &loaded, None).await.unwrap();
    let from_run_a = loaded.advanced([(now() + Duration::minutes(1), "a")]);
    let from_run_b = loaded.advanced([(now() + Duration::minutes(2), "b")]);
    let gate = RaceGate::new(2);
    let run_a = DynamoCheckpointStore::new(&gate.sdk(&stack.sdk), &stack.provisioned.state_table);
    let run_b = DynamoCheckpointStore::new(&gate.sdk(&stack.sdk), &stack.provisioned.state_table);

    // WHEN both save at once, conditional on the revision they loaded
    let (a, b) =
        tokio::join!(run_a.save(&stream, &from_run_a, Some(&loaded)), run_b.save(&stream, &from_run_b, Some(&loaded)),);

    // THEN exactly one succeeded, the other conflicted, and the stored checkpoint is the winner's
    let expected = match (&a, &b) {
        (Ok(()), Err(PortError::Conflict(_))) => from_run_a,
        (Err(PortError::Conflict(_)), Ok(())) => from_run_b,
        other => panic!("expected one winner and one conflict, got {other:?}"),
    };
    assert_eq!(store.load(&stream).await.unwrap(), Some(expected));
}

#[tokio::test]
async fn an_id_map_returns_what_was_put_per_connection_and_namespace() {
    let stack = Stack::new().await;
    let ids = DynamoIdMap::new(&stack.sdk, &stack.provisioned.state_table);
    let globex = ConnectionId::new("globex").unwrap();

    ids.put(&acme(), "sku", "W-9", "part-1").await.unwrap();
    ids.put(&acme(), "monday:123", "W-9", "item-7").await.unwrap();
    ids.put(&globex, "sku", "W-9", "part-2").await.unwrap();

    assert_eq!(ids.get(&acme(), "sku", "W-9").await.unwrap().as_deref(), Some("part-1"));
    assert_eq!(ids.get(&acme(), "monday:123", "W-9").await.unwrap().as_deref(), Some("item-7"));
    assert_eq!(ids.get(&globex, "sku", "W-9").await.unwrap().as_deref(), Some("part-2"));
    assert_eq!(ids.get(&acme(), "sku", "W-10").await.unwrap(), None);

    ids.put(&acme(), "sku", "W-9", "part-3").await.unwrap();
    assert_eq!(ids.get(&acme(), "sku", "W-9").await.unwrap().as_deref(), Some("part-3"), "the latest put wins");
}

#[tokio::test]
async fn a_dedupe_claim_is_granted_once_until_it_expires_then_again() {
    let stack = Stack::new().await;
    let dedupe = DynamoDedupeStore::new(&stack.sdk, &stack.provisioned.state_table);
    let ttl = Duration::minutes(5);

    assert!(dedupe.claim("delivery#abc", now(), ttl).await.unwrap());
    assert!(!dedupe.claim("delivery#abc", now() + Duration::minutes(4), ttl).await.unwrap());
    assert!(dedupe.claim("delivery#other", now(), ttl).await.unwrap(), "claims are per key");
    // moto never deletes TTL items, so this proves the claim's own expiry check.
    assert!(dedupe.claim("delivery#abc", now() + Duration::minutes(5), ttl).await.unwrap());
    assert!(!dedupe.claim("delivery#abc", now() + Duration::minutes(6), ttl).await.unwrap());
}

#[tokio::test]
async fn a_dedupe_claim_stores_its_expiry_for_dynamodb_ttl() {
    let stack = Stack::new().await;
    let dedupe = DynamoDedupeStore::new(&stack.sdk, &stack.provisioned.state_table);
    dedupe.claim("delivery#abc", at("2026-11-24T10:00:00Z"), Duration::minutes(5)).await.unwrap();

    let item = stack
        .dynamodb()
        .get_item()
        .table_name(&stack.provisioned.state_table)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S("dedupe#delivery#abc".into()))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S("-".into()))
        .send()
        .await
        .unwrap()
        .item
        .expect("the claim item");
    let expected = at("2026-11-24T10:05:00Z").timestamp();
    assert_eq!(item["expires_at"].as_n().unwrap(), &expected.to_string());
}

#[tokio::test]
async fn of_two_racing_dedupe_claims_exactly_one_is_granted() {
    let stack = Stack::new().await;
    for round in 0..5 {
        let gate = RaceGate::new(2);
        let first = DynamoDedupeStore::new(&gate.sdk(&stack.sdk), &stack.provisioned.state_table);
        let second = DynamoDedupeStore::new(&gate.sdk(&stack.sdk), &stack.provisioned.state_table);
        let key = format!("delivery#{round}");

        let (a, b) = tokio::join!(
            first.claim(&key, now(), Duration::minutes(5)),
            second.claim(&key, now(), Duration::minutes(5)),
        );

        let granted = [a.unwrap(), b.unwrap()];
        assert_eq!(granted.iter().filter(|g| **g).count(), 1, "round {round}: {granted:?}");
    }
}

#[tokio::test]
async fn a_queued_mark_only_moves_forward_per_order_and_reads_as_absent_once_expired() {
    // GIVEN an order marked queued, then marked by a writer that queued earlier but wrote later
    let stack = Stack::new().await;
    let marks = DynamoQueueMarks::new(&stack.sdk, &stack.provisioned.state_table);
    let order = OrderRef::new(acme(), 1042);
    let later = now() + Duration::seconds(2);
    marks.mark_queued(&order, later).await.unwrap();
    marks.mark_queued(&order, now()).await.unwrap();

    // THEN the newer time stays, to the nanosecond, for that order only
    assert_eq!(marks.last_queued(&order, now()).await.unwrap(), Some(later));
    assert_eq!(marks.last_queued(&OrderRef::new(acme(), 1043), now()).await.unwrap(), None);
    // AND a newer mark moves it forward again
    let newest = later + Duration::nanoseconds(1);
    marks.mark_queued(&order, newest).await.unwrap();
    assert_eq!(marks.last_queued(&order, now()).await.unwrap(), Some(newest));

    // AND the item carries its TTL; moto never deletes it, so the read's own expiry check shows
    let item = stack
        .dynamodb()
        .get_item()
        .table_name(&stack.provisioned.state_table)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S("queued#acme#1042".into()))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S("-".into()))
        .send()
        .await
        .unwrap()
        .item
        .expect("the mark item");
    let expires = (newest + QUEUED_MARK_TTL).timestamp() + 1;
    assert_eq!(item["expires_at"].as_n().unwrap(), &expires.to_string());
    assert_eq!(marks.last_queued(&order, newest + QUEUED_MARK_TTL).await.unwrap(), None);
}

#[tokio::test]
async fn of_two_racing_queued_marks_the_later_time_stays_whichever_writes_last() {
    let stack = Stack::new().await;
    for round in 0..5 {
        let gate = RaceGate::new(2);
        let first = DynamoQueueMarks::new(&gate.sdk(&stack.sdk), &stack.provisioned.state_table);
        let second = DynamoQueueMarks::new(&gate.sdk(&stack.sdk), &stack.provisioned.state_table);
        let order = OrderRef::new(acme(), 2000 + round);

        let (a, b) = tokio::join!(
            first.mark_queued(&order, now()),
            second.mark_queued(&order, now() + Duration::milliseconds(1)),
        );

        a.unwrap();
        b.unwrap();
        let stored = marks_of(&stack).last_queued(&order, now()).await.unwrap();
        assert_eq!(stored, Some(now() + Duration::milliseconds(1)), "round {round}");
    }
}

fn marks_of(stack: &Stack) -> DynamoQueueMarks {
    DynamoQueueMarks::new(&stack.sdk, &stack.provisioned.state_table)
}

fn hold(connection: &ConnectionId, order_id: u64, held_at: chrono::DateTime<chrono::Utc>, skus: &[&str]) -> Hold {
    Hold {
        order: OrderRef::new(connection.clone(), order_id),
        gaps: skus.iter().map(|sku| MappingGap::UnknownSku { sku: (*sku).to_owned() }).collect(),
        held_at,
    }
}

#[tokio::test]
async fn holds_list_per_connection_oldest_first_and_a_new_hold_replaces_the_orders_last() {
    // GIVEN holds for three orders of acme (one held twice) and one of another connection
    let stack = Stack::new().await;
    let holds = DynamoHoldStore::new(&stack.sdk, &stack.provisioned.state_table);
    let globex = ConnectionId::new("globex").unwrap();
    holds.hold(&hold(&acme(), 3, now() + Duration::minutes(1), &["A"])).await.unwrap();
    holds.hold(&hold(&acme(), 20, now(), &["B"])).await.unwrap();
    holds.hold(&hold(&acme(), 1, now() + Duration::minutes(2), &["C"])).await.unwrap();
    holds.hold(&hold(&globex, 3, now(), &["A"])).await.unwrap();
    let again = hold(&acme(), 20, now() + Duration::minutes(3), &["B", "D"]);
    holds.hold(&again).await.unwrap();

    // WHEN acme's holds are listed
    let listed = holds.list(&acme()).await.unwrap();

    // THEN each order is there once, with its latest gaps, oldest hold first
    let summary: Vec<(u64, usize)> = listed.iter().map(|h| (h.order.order_id, h.gaps.len())).collect();
    assert_eq!(summary, vec![(3, 1), (1, 1), (20, 2)]);
    assert_eq!(listed[2], again);
    assert_eq!(holds.list(&globex).await.unwrap().len(), 1);
}

#[tokio::test]
async fn releasing_a_hold_by_its_time_never_removes_a_newer_hold_of_the_same_order() {
    // GIVEN an order held, then held again (the worker found it still unmapped)
    let stack = Stack::new().await;
    let holds = DynamoHoldStore::new(&stack.sdk, &stack.provisioned.state_table);
    let first = hold(&acme(), 5, now(), &["A"]);
    holds.hold(&first).await.unwrap();
    let second = hold(&acme(), 5, now() + Duration::nanoseconds(1), &["A"]);
    holds.hold(&second).await.unwrap();

    // WHEN a sweep that read the first hold releases it
    let stale_release = holds.release(&first.order, Some(first.held_at)).await.unwrap();

    // THEN nothing is removed (one nanosecond apart is another hold); the read hold goes, once
    assert!(!stale_release);
    assert_eq!(holds.list(&acme()).await.unwrap(), vec![second.clone()]);
    assert!(holds.release(&second.order, Some(second.held_at)).await.unwrap());
    assert!(holds.list(&acme()).await.unwrap().is_empty());
    assert!(!holds.release(&second.order, Some(second.held_at)).await.unwrap());

    // AND a release without a time removes whatever hold there is, and says when there was none
    holds.hold(&first).await.unwrap();
    assert!(holds.release(&first.order, None).await.unwrap());
    assert!(!holds.release(&first.order, None).await.unwrap());
}

fn profile(id: &str, store_hash: &str) -> ConnectionProfile {
    ConnectionProfile {
        id: ConnectionId::new(id).unwrap(),
        display_name: Some(format!("{id} Inc.")),
        bigcommerce: BigCommerceProfile {
            store_hash: store_hash.into(),
            api_base_url: None,
            webhook_auth: vec![domain::connection::WebhookAuth::XBcSignature],
        },
        plex: PlexProfile {
            auth: domain::connection::PlexAuthMode::OAuth2 { token_url: None },
            tenant_id: Some("tenant-1".into()),
            customer_id: None,
            connect_base_url: None,
            datasource_base_url: None,
        },
        monday: None,
        orders: Default::default(),
        stock: Default::default(),
        parked_at: None,
    }
}

#[tokio::test]
async fn connection_profiles_round_trip_and_list_in_id_order() {
    let stack = Stack::new().await;
    let connections = DynamoConnectionStore::new(&stack.sdk, &stack.provisioned.state_table);
    assert!(connections.list().await.unwrap().is_empty());

    connections.put(&profile("globex", "g1")).await.unwrap();
    connections.put(&profile("acme", "a1")).await.unwrap();
    connections.put(&profile("acme", "a2")).await.unwrap();
    // Other kinds of state under other keys must not show up in the list.
    DynamoIdMap::new(&stack.sdk, &stack.provisioned.state_table).put(&acme(), "sku", "W-9", "p").await.unwrap();

    assert_eq!(connections.get(&acme()).await.unwrap(), Some(profile("acme", "a2")));
    assert_eq!(connections.get(&ConnectionId::new("initech").unwrap()).await.unwrap(), None);
    assert_eq!(connections.list().await.unwrap(), vec![profile("acme", "a2"), profile("globex", "g1")]);
}

#[tokio::test]
async fn an_open_order_is_listed_per_connection_replaced_by_a_later_read_and_gone_once_closed() {
    use domain::open_order::{OpenLine, OpenOrder};
    use domain::ports::OpenOrders;
    let stack = Stack::new().await;
    let open_orders = millwright_aws::DynamoOpenOrders::new(&stack.sdk, &stack.provisioned.state_table);
    let open = |id: u64, connection: &str, quantity: &str| OpenOrder {
        order: OrderRef::new(domain::ConnectionId::new(connection).unwrap(), id),
        lines: vec![OpenLine { sku: "BOLT".into(), quantity: quantity.parse().unwrap() }],
        read_at: now(),
    };

    open_orders.open(&open(2, "acme", "3")).await.unwrap();
    open_orders.open(&open(1, "acme", "1")).await.unwrap();
    open_orders.open(&open(1, "globex", "9")).await.unwrap();
    open_orders.open(&open(2, "acme", "4")).await.unwrap();

    assert_eq!(open_orders.list(&acme()).await.unwrap(), vec![open(1, "acme", "1"), open(2, "acme", "4")]);
    open_orders.close(&OrderRef::new(acme(), 1)).await.unwrap();
    open_orders.close(&OrderRef::new(acme(), 99)).await.unwrap();
    assert_eq!(open_orders.list(&acme()).await.unwrap(), vec![open(2, "acme", "4")]);
    assert_eq!(open_orders.list(&domain::ConnectionId::new("globex").unwrap()).await.unwrap().len(), 1);
}
