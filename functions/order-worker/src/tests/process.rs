//! `Worker::process`, one message at a time.

use std::time::Duration as StdDuration;

use domain::ErrorClass;
use domain::ledger::LedgerStatus;
use domain::ports::fakes::{CreateFault, PlexCall};
use domain::ports::{ApiError, IdMap};

use super::*;

fn api_error(class: ErrorClass, message: &str) -> ApiError {
    ApiError { class, message: message.into(), retry_after: None }
}

#[tokio::test(start_paused = true)]
async fn a_created_order_becomes_one_plex_order_with_its_lines_prices_and_due_dates_and_the_ledger_commits_it() {
    // GIVEN a two-line order in the store
    let world = World::new().await;
    let order = web_order(1042, &[(BOLT, 10, "0.45"), (NUT, 4, "0.1250")]);
    world.web.put(order.clone());

    // WHEN its `created` event is processed
    let disposition = world.process(&created(1042)).await;

    // THEN Plex holds exactly one sales order with the web order's lines
    assert_eq!(disposition, Disposition::Done(Outcome::Ok));
    let orders = world.plex.orders();
    assert_eq!(orders.len(), 1);
    let sales_order = &orders[0];
    assert_eq!(sales_order.po_number, "BC-1042");
    assert_eq!(sales_order.customer_id, "c-acme");
    assert_eq!(sales_order.note.as_deref(), Some("Leave at dock 3"));
    let lines: Vec<_> = sales_order
        .lines
        .iter()
        .map(|l| (l.line.line_number, l.line.part_id.as_str(), l.line.quantity, l.line.unit_price, l.line.due_date))
        .map(|(n, part, qty, price, due)| (n, part.to_owned(), qty, price, due.to_string()))
        .collect();
    assert_eq!(
        lines,
        vec![
            (1, "p-100".to_owned(), dec("10"), dec("0.45"), "2026-12-01".to_owned()),
            (2, "p-101".to_owned(), dec("4"), dec("0.125"), "2026-12-01".to_owned()),
        ]
    );
    // AND the ledger commits it, lease released
    let entry = world.entry(1042).await;
    assert_eq!(entry.status, LedgerStatus::Committed);
    assert_eq!(entry.plex_order_id.as_deref(), Some(sales_order.id.as_str()));
    assert_eq!(entry.version_hash, Some(order.content_hash()));
    assert_eq!(entry.source_modified, Some(order.date_modified));
    assert_eq!(entry.lease, None);
    assert_eq!(entry.committed.as_ref().map(|c| c.plex.lines.len()), Some(2));
    // AND every step is audited, the write with its Plex ids and call count
    assert_eq!(
        world.trail(1042).await,
        vec![(Stage::Fetched, Outcome::Ok), (Stage::Mapped, Outcome::Ok), (Stage::Written, Outcome::Ok)]
    );
    let written = world.events_with(1042, Outcome::Ok).await.pop().unwrap();
    let detail = written.detail.unwrap();
    assert_eq!(detail["plex_order_number"], sales_order.number.as_str());
    assert_eq!(detail["plex_calls"], 4, "customer, two parts, create");
    assert_eq!(detail["adopted"], false);
    assert_eq!(written.actor, "order-worker");
    assert!(world.alerter.sent().is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_same_message_three_times_makes_one_plex_order_and_two_duplicates() {
    let world = World::new().await;
    world.web.put(web_order(1042, &[(BOLT, 10, "0.45")]));

    let mut dispositions = Vec::new();
    for _ in 0..3 {
        dispositions.push(world.process(&created(1042)).await);
    }

    assert_eq!(
        dispositions,
        vec![
            Disposition::Done(Outcome::Ok),
            Disposition::Done(Outcome::Duplicate),
            Disposition::Done(Outcome::Duplicate)
        ]
    );
    assert_eq!(world.plex.orders().len(), 1);
    assert_eq!(world.plex.calls(PlexCall::Create), 1);
    let duplicates = world.events_with(1042, Outcome::Duplicate).await;
    assert_eq!(duplicates.len(), 2);
    assert_eq!(duplicates[0].message.as_deref(), Some("unchanged since the committed version"));
    assert_eq!(world.entry(1042).await.status, LedgerStatus::Committed);
}

#[tokio::test(start_paused = true)]
async fn an_update_processed_before_the_create_writes_the_latest_content_and_the_late_create_is_a_duplicate() {
    // GIVEN an order changed (quantity 10 → 12) before either of its events is processed
    let world = World::new().await;
    world.web.put(web_order(1042, &[(BOLT, 10, "0.45")]));
    world.web.change(1042, |order| order.lines[0].quantity = Decimal::from(12));

    // WHEN the `updated` event overtakes the `created` one
    let first = world.process(&updated(1042, "update-1")).await;
    let late = world.process(&created(1042)).await;

    // THEN one Plex order holds the latest content, and the late create changes nothing
    assert_eq!(first, Disposition::Done(Outcome::Ok));
    assert_eq!(late, Disposition::Done(Outcome::Duplicate));
    let orders = world.plex.orders();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].lines[0].line.quantity, Decimal::from(12));
    assert_eq!(world.plex.calls(PlexCall::UpdateReleases), 0);
}

#[tokio::test(start_paused = true)]
async fn a_quantity_change_updates_the_release_of_the_committed_order() {
    let world = World::new().await;
    world.web.put(web_order(1042, &[(BOLT, 10, "0.45"), (NUT, 4, "0.125")]));
    world.process(&created(1042)).await;

    world.web.change(1042, |order| order.lines[1].quantity = Decimal::from(9));
    let disposition = world.process(&updated(1042, "update-1")).await;

    assert_eq!(disposition, Disposition::Done(Outcome::Ok));
    let orders = world.plex.orders();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].lines[1].line.quantity, Decimal::from(9));
    assert_eq!(orders[0].lines[0].line.quantity, Decimal::from(10));
    assert_eq!(world.plex.calls(PlexCall::UpdateReleases), 1);
    assert_eq!(world.plex.calls(PlexCall::Create), 1);
    let entry = world.entry(1042).await;
    assert_eq!(entry.status, LedgerStatus::Committed);
    let committed_quantities: Vec<_> = entry.committed.unwrap().draft.lines.iter().map(|l| l.quantity).collect();
    assert_eq!(committed_quantities, vec![Decimal::from(10), Decimal::from(9)]);
    let written = world.events_with(1042, Outcome::Ok).await.pop().unwrap().detail.unwrap();
    assert_eq!(written["action"], "updated");
    assert_eq!(written["plex_calls"], 1, "warm caches, one release update");
}

#[tokio::test(start_paused = true)]
async fn a_price_change_needs_attention_with_the_diff_and_leaves_plex_unchanged() {
    let world = World::new().await;
    let order = web_order(1042, &[(BOLT, 10, "0.45")]);
    world.web.put(order.clone());
    world.process(&created(1042)).await;

    world.web.change(1042, |order| order.lines[0].unit_price = dec("0.50"));
    let disposition = world.process(&updated(1042, "update-1")).await;

    assert_eq!(disposition, Disposition::Done(Outcome::NeedsAttention));
    assert_eq!(world.plex.orders()[0].lines[0].line.unit_price, dec("0.45"));
    assert_eq!(world.plex.calls(PlexCall::UpdateReleases) + world.plex.calls(PlexCall::Complete), 0);
    let entry = world.entry(1042).await;
    assert_eq!(entry.status, LedgerStatus::NeedsAttention);
    assert_eq!(entry.version_hash, Some(order.content_hash()), "the committed version stays what Plex holds");
    let event = world.events_with(1042, Outcome::NeedsAttention).await.pop().unwrap();
    assert_eq!(
        event.detail.unwrap()["changes"]["needs_attention"],
        serde_json::json!(["line 1 (MW-BOLT-M8) price changed from 0.45 to 0.50"])
    );
    let alerts = world.alerter.sent();
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        alerts[0].cause, "order-change:line # (#) price changed from #.# to #.#",
        "names the change, not the order"
    );
    assert!(
        alerts[0].subject.starts_with("[Acme] Orders changed in a way Plex cannot take: "),
        "{}",
        alerts[0].subject
    );
    assert!(alerts[0].body.starts_with("Order 1042 was changed"), "{}", alerts[0].body);
}

#[tokio::test(start_paused = true)]
async fn an_incomplete_order_is_skipped_without_touching_plex() {
    let world = World::new().await;
    let mut order = web_order(1042, &[(BOLT, 10, "0.45")]);
    order.status_id = 0;
    order.status = "Incomplete".into();
    world.web.put(order);

    let disposition = world.process(&created(1042)).await;

    assert_eq!(disposition, Disposition::Done(Outcome::Skipped));
    assert_eq!(world.plex.total_calls(), 0);
    assert_eq!(world.entry(1042).await.status, LedgerStatus::Skipped);
    let skipped = world.events_with(1042, Outcome::Skipped).await.pop().unwrap();
    assert_eq!(skipped.message.as_deref(), Some("status \"Incomplete\" (0) is not synced"));
}

#[tokio::test(start_paused = true)]
async fn a_committed_order_cancelled_later_needs_attention_and_plex_is_unchanged() {
    // GIVEN a connection that syncs Awaiting Fulfillment and Awaiting Shipment only
    let world = World::with_settings(|orders| orders.synced_statuses = vec![11, 9]).await;
    world.web.put(web_order(1042, &[(BOLT, 10, "0.45")]));
    world.process(&created(1042)).await;
    let before = world.plex.orders();

    world.web.change(1042, |order| {
        order.status_id = 5;
        order.status = "Cancelled".into();
    });
    let disposition = world.process(&updated(1042, "cancel")).await;

    assert_eq!(disposition, Disposition::Done(Outcome::NeedsAttention));
    assert_eq!(world.plex.orders(), before);
    let entry = world.entry(1042).await;
    assert_eq!(entry.status, LedgerStatus::NeedsAttention);
    assert!(entry.committed.is_some() && entry.plex_order_id.is_some(), "the commit is kept");
    let event = world.events_with(1042, Outcome::NeedsAttention).await.pop().unwrap();
    let number = &before[0].number;
    assert_eq!(
        event.message.as_deref(),
        Some(format!("order was cancelled in BigCommerce (status 5); Plex order {number} is unchanged").as_str())
    );
    assert_eq!(world.alerter.sent().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_crash_after_the_header_is_completed_by_the_retry_into_one_order_with_every_line() {
    // GIVEN Plex drops the connection after creating the header of the first create
    let world = World::new().await;
    world.web.put(web_order(1042, &[(BOLT, 10, "0.45"), (NUT, 4, "0.125")]));
    world.plex.fault_next_create(CreateFault::CrashAfterHeader);

    // WHEN the first attempt fails
    let first = world.process_as("req-1", &created(1042), t0()).await;

    // THEN it retries, leaving the entry in doubt and the lease free
    assert!(matches!(first, Disposition::Retry { class: ErrorClass::Transient, .. }), "{first:?}");
    let entry = world.entry(1042).await;
    assert!(entry.create_in_doubt());
    assert_eq!(entry.lease, None);
    assert_eq!(world.plex.orders()[0].lines.len(), 0, "the header exists without lines");

    // WHEN the redelivery runs in another invocation
    let second = world.process_as("req-2", &created(1042), t0() + Duration::minutes(1)).await;

    // THEN it finds the header by its reference and completes it: still one order, every line
    assert_eq!(second, Disposition::Done(Outcome::Ok));
    let orders = world.plex.orders();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].lines.len(), 2);
    assert_eq!(world.plex.calls(PlexCall::Create), 1);
    assert_eq!(world.plex.calls(PlexCall::FindByPo), 1);
    assert_eq!(world.plex.calls(PlexCall::Complete), 1);
    assert_eq!(world.entry(1042).await.plex_order_id.as_deref(), Some(orders[0].id.as_str()));
    let written = world.events_with(1042, Outcome::Ok).await.pop().unwrap();
    assert_eq!(written.detail.unwrap()["adopted"], true);
    assert_eq!(world.events_with(1042, Outcome::Retried).await.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_timeout_after_a_full_create_is_adopted_by_the_retry_without_a_second_order() {
    let world = World::new().await;
    world.web.put(web_order(1042, &[(BOLT, 10, "0.45"), (NUT, 4, "0.125")]));
    world.plex.fault_next_create(CreateFault::TimeoutAfterWrite);

    let first = world.process_as("req-1", &created(1042), t0()).await;
    let second = world.process_as("req-2", &created(1042), t0() + Duration::minutes(1)).await;

    assert!(first.is_retry());
    assert_eq!(second, Disposition::Done(Outcome::Ok));
    assert_eq!(world.plex.orders_with_po("BC-1042").len(), 1);
    assert_eq!(world.plex.orders()[0].lines.len(), 2);
    assert_eq!(world.plex.calls(PlexCall::Create), 1);
    let written = world.events_with(1042, Outcome::Ok).await.pop().unwrap();
    assert_eq!(written.message.as_deref(), Some("adopted Plex sales order SO-100001"));
}

#[tokio::test(start_paused = true)]
async fn an_unmapped_sku_needs_mapping_alerts_once_per_sku_and_a_replay_commits_once_the_part_exists() {
    // GIVEN two orders that share the unmapped SKU W-9, the second also lacking W-10
    let world = World::new().await;
    world.web.put(web_order(1042, &[(BOLT, 10, "0.45"), ("W-9", 1, "12.00")]));
    world.web.put(web_order(1043, &[("W-9", 2, "12.00"), ("W-10", 1, "3.00")]));

    // WHEN both are processed
    let first = world.process(&created(1042)).await;
    let second = world.process(&created(1043)).await;

    // THEN both need mapping, the audit names the SKU, and each distinct SKU alerts once
    assert_eq!(first, Disposition::Done(Outcome::NeedsMapping));
    assert_eq!(second, Disposition::Done(Outcome::NeedsMapping));
    let event = world.events_with(1042, Outcome::NeedsMapping).await.pop().unwrap();
    assert_eq!(
        event.message.as_deref(),
        Some("order 1042 needs mapping: SKU \"W-9\" has no Plex part with that number")
    );
    assert_eq!(event.error_class, Some(ErrorClass::Data));
    assert_eq!(
        world.alert_subjects(),
        vec![
            "[Acme] Order 1042 needs mapping: SKU \"W-9\" has no Plex part with that number".to_owned(),
            "[Acme] Order 1043 needs mapping: SKU \"W-10\" has no Plex part with that number".to_owned(),
        ]
    );
    assert_eq!(world.entry(1042).await.status, LedgerStatus::NeedsMapping);
    assert!(world.plex.orders().is_empty());

    // AND both are held for the sweep, naming every gap, and their entries say so
    assert_eq!(
        world.held().await,
        vec![
            (1042, vec!["unmapped-sku:W-9".to_owned()]),
            (1043, vec!["unmapped-sku:W-9".to_owned(), "unmapped-sku:W-10".to_owned()])
        ]
    );
    assert!(world.entry(1042).await.held);

    // WHEN the part is created in Plex and the order replayed
    world.plex.add_part("p-9", "W-9");
    let replayed = world.process_as("req-2", &replay(1042), t0() + Duration::hours(2)).await;

    // THEN it commits, as exactly one order
    assert_eq!(replayed, Disposition::Done(Outcome::Ok));
    let orders = world.plex.orders();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].lines[1].line.part_id, "p-9");
    assert_eq!(world.entry(1042).await.status, LedgerStatus::Committed);

    // AND its hold is gone while the other order, still missing W-10, stays held
    assert!(!world.entry(1042).await.held);
    assert_eq!(world.held().await, vec![(1043, vec!["unmapped-sku:W-9".to_owned(), "unmapped-sku:W-10".to_owned()])]);
}

#[tokio::test(start_paused = true)]
async fn a_held_order_that_is_cancelled_is_no_longer_held() {
    // GIVEN an order held for an unmapped SKU
    let world = World::new().await;
    world.web.put(web_order(1042, &[("W-9", 1, "12.00")]));
    assert_eq!(world.process(&created(1042)).await, Disposition::Done(Outcome::NeedsMapping));

    // WHEN it is cancelled in BigCommerce before anyone maps the SKU
    let mut cancelled = web_order(1042, &[("W-9", 1, "12.00")]);
    cancelled.status_id = 5;
    cancelled.status = "Cancelled".into();
    world.web.put(cancelled);
    let disposition = world.process(&message(1042, "updated", "d-2")).await;

    // THEN it is skipped and its hold released, so the sweep never queues it again
    assert_eq!(disposition, Disposition::Done(Outcome::Skipped));
    assert!(world.held().await.is_empty());
    let entry = world.entry(1042).await;
    assert_eq!((entry.status, entry.held), (LedgerStatus::Skipped, false));
}

#[tokio::test(start_paused = true)]
async fn a_guest_order_is_booked_to_the_configured_guest_customer() {
    let world = World::with_settings(|orders| orders.guest_customer_code = Some("WEB-STORE".into())).await;
    let mut order = web_order(1042, &[(BOLT, 1, "0.45")]);
    order.customer_id = 0;
    world.web.put(order);

    assert_eq!(world.process(&created(1042)).await, Disposition::Done(Outcome::Ok));
    assert_eq!(world.plex.orders()[0].customer_id, "c-web");
}

#[tokio::test(start_paused = true)]
async fn a_guest_order_needs_mapping_when_no_guest_customer_is_configured() {
    let world = World::new().await;
    let mut order = web_order(1042, &[(BOLT, 1, "0.45")]);
    order.customer_id = 0;
    world.web.put(order);

    assert_eq!(world.process(&created(1042)).await, Disposition::Done(Outcome::NeedsMapping));
    assert!(world.plex.orders().is_empty());
    assert_eq!(world.alerter.sent().iter().map(|a| a.cause.as_str()).collect::<Vec<_>>(), vec!["no-guest-customer"]);
}

#[tokio::test(start_paused = true)]
async fn a_transient_bigcommerce_failure_retries_with_the_lease_released() {
    let world = World::new().await;
    world.web.put(web_order(1042, &[(BOLT, 10, "0.45")]));
    let throttled = ApiError {
        class: ErrorClass::RateLimited,
        message: "BigCommerce 429 on GET /v2/orders/1042".into(),
        retry_after: Some(StdDuration::from_secs(7)),
    };
    world.web.fail_next(1, throttled);

    let disposition = world.process_as("req-1", &created(1042), t0()).await;

    assert_eq!(
        disposition,
        Disposition::Retry {
            class: ErrorClass::RateLimited,
            reason: "BigCommerce 429 on GET /v2/orders/1042".into(),
            retry_after: Some(StdDuration::from_secs(7)),
        }
    );
    assert_eq!(world.trail(1042).await, vec![(Stage::Fetched, Outcome::Retried)]);
    let order = OrderRef::new(acme(), 1042);
    let other = world.ledger.acquire(&order, "req-2", t0(), Duration::minutes(2)).await;
    assert!(other.is_ok(), "another holder takes the lease at once: {other:?}");
}

#[tokio::test(start_paused = true)]
async fn a_lease_held_by_another_worker_retries_without_calling_bigcommerce() {
    let world = World::new().await;
    world.web.put(web_order(1042, &[(BOLT, 10, "0.45")]));
    let order = OrderRef::new(acme(), 1042);
    world.ledger.acquire(&order, "req-other", t0(), Duration::minutes(2)).await.unwrap();

    let disposition = world.process_as("req-1", &created(1042), t0() + Duration::seconds(10)).await;

    assert!(matches!(disposition, Disposition::Retry { class: ErrorClass::Transient, .. }), "{disposition:?}");
    assert_eq!(world.web.calls(), 0);
    assert_eq!(world.trail(1042).await, vec![(Stage::Received, Outcome::Retried)]);
    assert_eq!(world.entry(1042).await.lease.unwrap().holder, "req-other");
}

#[tokio::test(start_paused = true)]
async fn a_plex_403_parks_the_order_with_an_alert_and_a_replay_after_the_fix_writes_it_once() {
    let world = World::new().await;
    world.web.put(web_order(1042, &[(BOLT, 10, "0.45")]));
    let forbidden = "Plex 403 on POST /sales/v1/sales-orders: the integration account lacks the role Sales Order Entry";
    world.plex.fail_next(PlexCall::Create, 1, api_error(ErrorClass::Permission, forbidden));

    let parked = world.process_as("req-1", &created(1042), t0()).await;

    assert_eq!(parked, Disposition::Done(Outcome::Parked));
    assert_eq!(world.entry(1042).await.status, LedgerStatus::Parked);
    assert!(world.plex.orders().is_empty());
    let alerts = world.alerter.sent();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].subject, "[Acme] Plex integration account lacks a role");
    assert!(alerts[0].body.contains("Sales Order Entry"), "{}", alerts[0].body);
    assert_eq!(alerts[0].record, Some(record_key(1042)));

    // The role is granted; the operator replays the parked order.
    let replayed = world.process_as("req-2", &replay(1042), t0() + Duration::hours(1)).await;

    assert_eq!(replayed, Disposition::Done(Outcome::Ok));
    assert_eq!(world.plex.orders().len(), 1);
    assert_eq!(world.plex.calls(PlexCall::FindByPo), 1, "a parked create is looked up before creating again");
}

#[tokio::test(start_paused = true)]
async fn a_bigcommerce_401_parks_each_order_and_alerts_about_the_token_once() {
    let world = World::new().await;
    world.web.put(web_order(1042, &[(BOLT, 10, "0.45")]));
    world.web.put(web_order(1043, &[(BOLT, 10, "0.45")]));
    world.web.fail_next(2, api_error(ErrorClass::Auth, "BigCommerce 401 on GET /v2/orders"));

    assert_eq!(world.process(&created(1042)).await, Disposition::Done(Outcome::Parked));
    assert_eq!(world.process(&created(1043)).await, Disposition::Done(Outcome::Parked));

    assert_eq!(world.alert_subjects(), vec!["[Acme] BigCommerce rejected the access token".to_owned()]);
    assert_eq!(world.entry(1043).await.status, LedgerStatus::Parked);
    assert_eq!(world.plex.total_calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_plex_rejection_fails_the_order_naming_the_field_and_alerts() {
    // GIVEN shoppers are matched by id, and shopper 7 is mapped to a Plex customer that does not exist
    let world =
        World::with_settings(|orders| orders.customer_match = domain::connection::CustomerMatch::CustomerId).await;
    world.id_map.put(&acme(), domain::id_map::namespaces::CUSTOMER, "7", "c-gone").await.unwrap();
    world.web.put(web_order(1042, &[(BOLT, 10, "0.45")]));

    let disposition = world.process(&created(1042)).await;

    assert_eq!(disposition, Disposition::Done(Outcome::Failed));
    assert_eq!(world.entry(1042).await.status, LedgerStatus::NeedsAttention);
    let failed = world.events_with(1042, Outcome::Failed).await.pop().unwrap();
    assert!(failed.message.as_deref().unwrap().contains("customerId"), "{failed:?}");
    assert_eq!(world.plex.calls(PlexCall::FindCustomer), 0, "the id map answers customer ids");
    let alerts = world.alerter.sent();
    assert!(alerts[0].subject.starts_with("[Acme] Orders rejected by Plex: "), "{}", alerts[0].subject);
    assert!(alerts[0].body.starts_with("Plex refused order 1042: "), "{}", alerts[0].body);
    assert!(alerts[0].body.contains("millwright failures --connection acme --outcome failed"), "{}", alerts[0].body);
    assert!(alerts[0].body.contains("millwright replay --connection acme --outcome failed"), "{}", alerts[0].body);
}

#[tokio::test(start_paused = true)]
async fn orders_refused_for_the_same_reason_send_one_alert_and_the_later_ones_are_audited_as_grouped() {
    // GIVEN two shoppers mapped to Plex customers that no longer exist, so Plex refuses both
    // orders for the same field with a different id in each message
    let world =
        World::with_settings(|orders| orders.customer_match = domain::connection::CustomerMatch::CustomerId).await;
    world.id_map.put(&acme(), domain::id_map::namespaces::CUSTOMER, "7", "c-gone").await.unwrap();
    world.id_map.put(&acme(), domain::id_map::namespaces::CUSTOMER, "8", "c-lost").await.unwrap();
    world.web.put(web_order(1042, &[(BOLT, 10, "0.45")]));
    let mut second = web_order(1043, &[(BOLT, 10, "0.45")]);
    second.customer_id = 8;
    world.web.put(second);

    // WHEN both are processed
    assert_eq!(world.process(&created(1042)).await, Disposition::Done(Outcome::Failed));
    assert_eq!(world.process(&created(1043)).await, Disposition::Done(Outcome::Failed));

    // THEN one e-mail went out, naming the cause and the first order
    let alerts = world.alerter.sent();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].record, Some(record_key(1042)));
    let cause = alerts[0].cause.clone();
    assert!(cause.starts_with("plex-rejected:") && !cause.contains("1042"), "{cause}");
    // AND each order's trail says which alert covers it: sent for the first, grouped for the second
    let alerted = |history: Vec<AuditEvent>| -> Vec<(Outcome, serde_json::Value)> {
        history
            .into_iter()
            .filter(|event| event.stage == Stage::Alerted)
            .map(|event| (event.outcome, event.detail.unwrap()["cause"].clone()))
            .collect()
    };
    assert_eq!(alerted(world.history(1042).await), vec![(Outcome::Ok, cause.clone().into())]);
    assert_eq!(alerted(world.history(1043).await), vec![(Outcome::Duplicate, cause.into())]);
    let grouped = world.history(1043).await.pop().unwrap();
    assert!(grouped.message.unwrap().starts_with("grouped under alert cause"));
}

fn unauthorized() -> ApiError {
    api_error(ErrorClass::Auth, "Plex POST /sales/v1/orders/so-1/lines: 401 Unauthorized (auth)")
}

#[tokio::test(start_paused = true)]
async fn a_plex_401_whose_key_still_works_is_retried_not_parked() {
    // GIVEN Plex answers one call of the chain with a 401, though the key is fine
    let world = World::new().await;
    world.web.put(web_order(1042, &[(BOLT, 10, "0.45")]));
    world.plex.fail_next(PlexCall::Create, 1, unauthorized());

    // WHEN the order is processed
    let disposition = world.process(&created(1042)).await;

    // THEN the canary asked once, the 401 counts as transient, and nobody is alerted
    assert!(matches!(disposition, Disposition::Retry { class: ErrorClass::Transient, .. }), "{disposition:?}");
    assert_eq!(world.plex.calls(PlexCall::CredentialsWork), 1);
    assert!(world.alerter.sent().is_empty());
    assert_ne!(world.entry(1042).await.status, LedgerStatus::Parked);
    let retried = world.events_with(1042, Outcome::Retried).await.pop().unwrap();
    assert_eq!((retried.stage, retried.error_class), (Stage::Written, Some(ErrorClass::Transient)));
    assert!(retried.message.unwrap().contains("the key still works"));
    // AND the redelivery writes the order once
    assert_eq!(world.process(&created(1042)).await, Disposition::Done(Outcome::Ok));
    assert_eq!(world.plex.orders().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_plex_401_whose_key_is_refused_too_parks_the_order_and_alerts() {
    let world = World::new().await;
    world.web.put(web_order(1042, &[(BOLT, 10, "0.45")]));
    world.plex.fail_next(PlexCall::Create, 1, unauthorized());
    world.plex.revoke_credentials();

    assert_eq!(world.process(&created(1042)).await, Disposition::Done(Outcome::Parked));

    assert_eq!(world.plex.calls(PlexCall::CredentialsWork), 1);
    assert_eq!(world.entry(1042).await.status, LedgerStatus::Parked);
    assert_eq!(world.alert_subjects(), vec!["[Acme] Plex key expired or not subscribed".to_owned()]);
    let parked = world.events_with(1042, Outcome::Parked).await.pop().unwrap();
    assert!(parked.message.unwrap().ends_with("(the credentials check was refused too)"));
}

#[tokio::test(start_paused = true)]
async fn a_plex_401_whose_key_check_fails_transiently_is_retried_with_the_checks_wait() {
    let world = World::new().await;
    world.web.put(web_order(1042, &[(BOLT, 10, "0.45")]));
    world.plex.fail_next(PlexCall::Create, 1, unauthorized());
    let throttled = ApiError {
        class: ErrorClass::RateLimited,
        message: "Plex GET /mdm/v1/tenants: 429 Too Many Requests (rate-limited)".into(),
        retry_after: Some(StdDuration::from_secs(30)),
    };
    world.plex.fail_next(PlexCall::CredentialsWork, 1, throttled);

    let disposition = world.process(&created(1042)).await;

    let Disposition::Retry { class, retry_after, .. } = disposition else { panic!("{disposition:?}") };
    assert_eq!((class, retry_after), (ErrorClass::RateLimited, Some(StdDuration::from_secs(30))));
    assert!(world.alerter.sent().is_empty());
}

#[tokio::test(start_paused = true)]
async fn warm_caches_cost_one_bigcommerce_call_and_only_the_create_in_plex() {
    let world = World::new().await;
    world.web.put(web_order(1042, &[(BOLT, 10, "0.45"), (NUT, 4, "0.125")]));
    world.web.put(web_order(1043, &[(NUT, 1, "0.125"), (BOLT, 2, "0.45")]));

    world.process(&created(1042)).await;
    assert_eq!((world.web.calls(), world.plex.total_calls()), (1, 4), "cold: customer, two parts, create");
    world.process(&created(1043)).await;

    assert_eq!(world.web.calls(), 2);
    assert_eq!(world.plex.total_calls(), 5);
    assert_eq!(world.plex.calls(PlexCall::Create), 2);
    let written = world.events_with(1043, Outcome::Ok).await.pop().unwrap().detail.unwrap();
    assert_eq!((written["plex_calls"].clone(), written["bigcommerce_calls"].clone()), (1.into(), 1.into()));
}

#[tokio::test(start_paused = true)]
async fn an_order_missing_from_the_store_is_skipped() {
    let world = World::new().await;

    assert_eq!(world.process(&created(999)).await, Disposition::Done(Outcome::Skipped));

    let skipped = world.events_with(999, Outcome::Skipped).await.pop().unwrap();
    assert_eq!(skipped.message.as_deref(), Some("order 999 not found in the store"));
    assert_eq!(world.entry(999).await.status, LedgerStatus::Skipped);
}

#[tokio::test(start_paused = true)]
async fn a_read_older_than_the_committed_version_is_skipped_and_plex_is_unchanged() {
    let world = World::new().await;
    let mut order = web_order(1042, &[(BOLT, 10, "0.45")]);
    order.date_modified = t0() + Duration::minutes(5);
    world.web.put(order.clone());
    world.process(&created(1042)).await;

    // A lagging replica answers with an older version of the order.
    let mut stale = order.clone();
    stale.lines[0].quantity = Decimal::from(3);
    stale.date_modified = t0();
    world.web.put(stale);
    let disposition = world.process(&updated(1042, "late")).await;

    assert_eq!(disposition, Disposition::Done(Outcome::Skipped));
    assert_eq!(world.plex.orders()[0].lines[0].line.quantity, Decimal::from(10));
    let entry = world.entry(1042).await;
    assert_eq!((entry.status, entry.version_hash), (LedgerStatus::Committed, Some(order.content_hash())));
    let skipped = world.events_with(1042, Outcome::Skipped).await.pop().unwrap();
    assert!(skipped.message.unwrap().starts_with("older than the committed version"));
}

#[tokio::test(start_paused = true)]
async fn an_order_for_an_unconfigured_connection_fails_and_alerts() {
    let world = World::new().await;
    let ghost = ConnectionId::new("ghost").unwrap();
    let mut lost = created(1042);
    lost.order = OrderRef::new(ghost.clone(), 1042);

    assert_eq!(world.process(&lost).await, Disposition::Done(Outcome::Failed));

    let history = world.audit.history(&lost.order.record_key()).await.unwrap();
    assert_eq!(history[0].message.as_deref(), Some("connection ghost not configured (no profile in the state table)"));
    assert_eq!(world.alerter.sent()[0].cause, "connection-not-configured");
    assert_eq!(world.web.calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn the_attempt_number_is_on_every_audit_event() {
    let world = World::new().await;
    world.web.put(web_order(1042, &[(BOLT, 10, "0.45")]));

    world.worker.for_invocation("req-1").process(&created(1042), 3, t0()).await;

    let history = world.history(1042).await;
    assert!(!history.is_empty());
    assert!(history.iter().all(|event| event.attempt == 3), "{history:?}");
}

#[tokio::test(start_paused = true)]
async fn an_unknown_shopper_gets_a_plex_customer_when_the_connection_creates_customers() {
    // GIVEN a connection that creates customers, and two orders of a shopper Plex does not know
    let world = World::with_settings(|orders| orders.create_customers = true).await;
    for id in [1042, 1043] {
        let mut order = web_order(id, &[(BOLT, 1, "0.45")]);
        order.customer_id = 9;
        order.billing.email = Some("new@shop.test".into());
        order.billing.company = Some("New Shop Ltd".into());
        world.web.put(order);
    }

    // WHEN both are processed
    assert_eq!(world.process(&created(1042)).await, Disposition::Done(Outcome::Ok));
    assert_eq!(world.process(&created(1043)).await, Disposition::Done(Outcome::Ok));

    // THEN one customer was created, coded by the BigCommerce id, and both orders are booked to it
    assert_eq!(world.plex.calls(PlexCall::CreateCustomer), 1);
    let orders = world.plex.orders();
    assert_eq!(orders.len(), 2);
    assert_eq!(orders[0].customer_id, orders[1].customer_id);
    assert!(orders[0].customer_id.starts_with("customer-"), "{:?}", orders[0].customer_id);
    // AND the second order found it in the id map without asking Plex again
    assert_eq!(world.plex.calls(PlexCall::FindCustomer), 1);
}

#[tokio::test(start_paused = true)]
async fn an_unknown_shopper_needs_mapping_when_the_connection_does_not_create_customers() {
    let world = World::new().await;
    let mut order = web_order(1042, &[(BOLT, 1, "0.45")]);
    order.billing.email = Some("new@shop.test".into());
    world.web.put(order);

    assert_eq!(world.process(&created(1042)).await, Disposition::Done(Outcome::NeedsMapping));
    assert_eq!(world.plex.calls(PlexCall::CreateCustomer), 0);
}

/// `message` as it arrived at `received_at` from `source`.
fn arrived(order_id: u64, source: MessageSource, received_at: DateTime<Utc>) -> OrderMessage {
    OrderMessage { source, received_at, ..updated(order_id, &format!("arrived-{received_at}")) }
}

#[tokio::test(start_paused = true)]
async fn a_change_in_the_same_second_as_the_committed_version_is_written() {
    // GIVEN an order committed with quantity 10, then changed to 12 within the same second: the
    // same `date_modified` (whole seconds), another content
    let world = World::new().await;
    world.web.put(web_order(1042, &[(BOLT, 10, "0.45")]));
    world.process(&created(1042)).await;
    world.web.put(web_order(1042, &[(BOLT, 12, "0.45")]));

    // WHEN the second change's webhook is processed
    let disposition = world.process(&updated(1042, "update-same-second")).await;

    // THEN it is neither a duplicate nor stale: Plex gets 12 and the ledger its hash
    assert_eq!(disposition, Disposition::Done(Outcome::Ok));
    assert_eq!(world.plex.orders()[0].lines[0].line.quantity, Decimal::from(12));
    assert_eq!(world.entry(1042).await.version_hash, Some(web_order(1042, &[(BOLT, 12, "0.45")]).content_hash()));
}

#[tokio::test(start_paused = true)]
async fn a_message_that_arrived_before_the_last_concluded_read_is_a_duplicate_without_reading_again() {
    // GIVEN an order committed by a read at t0 + 1 min (recorded in the ledger)
    let world = World::new().await;
    world.web.put(web_order(1042, &[(BOLT, 10, "0.45")]));
    let read = t0() + Duration::minutes(1);
    world.process_as("req-1", &created(1042), read).await;
    assert_eq!(world.entry(1042).await.read_at.map(|at| at >= read), Some(true));
    let reads = world.web.calls();

    // WHEN a copy that arrived at t0 (say, a webhook retried without a webhook-id) is processed
    let repeat =
        world.process_as("req-2", &arrived(1042, MessageSource::Webhook, t0()), read + Duration::minutes(1)).await;

    // THEN it is acknowledged as a duplicate, saying why, without a BigCommerce call
    assert_eq!(repeat, Disposition::Done(Outcome::Duplicate));
    assert_eq!(world.web.calls(), reads);
    let duplicate = world.events_with(1042, Outcome::Duplicate).await.pop().unwrap();
    assert!(
        duplicate.message.as_deref().unwrap().starts_with("not read again: the message arrived at"),
        "{duplicate:?}"
    );
    assert_eq!(world.entry(1042).await.status, LedgerStatus::Committed);

    // AND a message that arrived within the margin of the read, or a replay, is read again
    let within =
        world.process_as("req-3", &arrived(1042, MessageSource::Webhook, read), read + Duration::minutes(2)).await;
    let replay =
        world.process_as("req-4", &arrived(1042, MessageSource::Replay, t0()), read + Duration::minutes(3)).await;
    assert_eq!((within, replay), (Disposition::Done(Outcome::Duplicate), Disposition::Done(Outcome::Duplicate)));
    assert_eq!(world.web.calls(), reads + 2);
}

#[tokio::test(start_paused = true)]
async fn a_webhook_read_waits_out_the_second_it_arrived_in_so_that_one_read_has_seen_that_second() {
    // GIVEN an order whose webhook arrived 300 ms into a second, processed at once
    let world = World::new().await;
    world.web.put(web_order(1042, &[(BOLT, 10, "0.45")]));
    let arrived_at = t0() + Duration::milliseconds(300);

    // WHEN it is processed
    let disposition = world.process_as("req-1", &arrived(1042, MessageSource::Webhook, arrived_at), arrived_at).await;

    // THEN its one read was sent once that second was over, so the reconciliation takes every
    // change stamped with it for seen and does not queue the order for a second read
    assert_eq!(disposition, Disposition::Done(Outcome::Ok));
    assert_eq!(world.web.calls(), 1);
    let entry = world.entry(1042).await;
    assert!(entry.read_at >= Some(t0() + Duration::seconds(1)), "{:?}", entry.read_at);
    assert!(entry.has_seen(t0()));
}

#[tokio::test(start_paused = true)]
async fn a_sweep_message_is_read_at_once() {
    // GIVEN an order queued by the sweep (whose changes have settled) 300 ms into a second
    let world = World::new().await;
    world.web.put(web_order(1042, &[(BOLT, 10, "0.45")]));
    let queued_at = t0() + Duration::milliseconds(300);

    // WHEN it is processed at once
    world.process_as("req-1", &arrived(1042, MessageSource::Sweep, queued_at), queued_at).await;

    // THEN the read did not wait
    assert!(world.entry(1042).await.read_at < Some(t0() + Duration::seconds(1)));
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_a_plex_fault_writes_what_its_first_attempt_read_without_reading_again() {
    // GIVEN an attempt at t0 + 1 min that read the order and then failed at Plex transiently
    let world = World::new().await;
    world.web.put(web_order(1042, &[(BOLT, 10, "0.45")]));
    world.plex.fail_next(PlexCall::Create, 1, api_error(ErrorClass::Transient, "Plex 503 on POST /sales/v1/orders"));
    let message = created(1042);
    let failed = world.process_as("req-1", &message, t0() + Duration::minutes(1)).await;
    assert!(failed.is_retry(), "{failed:?}");
    assert_eq!(world.web.calls(), 1);

    // WHEN the queue delivers the message again
    let retried = world.worker.for_invocation("req-2").process(&message, 2, t0() + Duration::minutes(2)).await;

    // THEN it writes the state that read saw, without a second BigCommerce read, and the entry
    // records that read as its last one
    assert_eq!(retried, Disposition::Done(Outcome::Ok));
    assert_eq!(world.web.calls(), 1);
    assert_eq!(world.plex.orders()[0].lines[0].line.quantity, Decimal::from(10));
    let entry = world.entry(1042).await;
    assert_eq!(entry.retained_read, None);
    assert!(entry.read_at.is_some_and(|at| at < t0() + Duration::minutes(2)), "{:?}", entry.read_at);
}

#[tokio::test(start_paused = true)]
async fn a_message_that_arrived_after_a_retried_read_reads_the_order_again() {
    // GIVEN an attempt at t0 + 1 min that read quantity 10 and then failed at Plex transiently,
    // and a change to 12 whose message arrived after that read
    let world = World::new().await;
    world.web.put(web_order(1042, &[(BOLT, 10, "0.45")]));
    world.plex.fail_next(PlexCall::Create, 1, api_error(ErrorClass::Transient, "Plex 503 on POST /sales/v1/orders"));
    let failed = world.process_as("req-1", &created(1042), t0() + Duration::minutes(1)).await;
    assert!(failed.is_retry(), "{failed:?}");
    world.web.put(web_order(1042, &[(BOLT, 12, "0.45")]));
    let later = arrived(1042, MessageSource::Webhook, t0() + Duration::minutes(1) + Duration::seconds(5));

    // WHEN that message is processed
    let disposition = world.process_as("req-2", &later, t0() + Duration::minutes(2)).await;

    // THEN it reads the order again and Plex gets 12
    assert_eq!(disposition, Disposition::Done(Outcome::Ok));
    assert_eq!(world.web.calls(), 2);
    assert_eq!(world.plex.orders()[0].lines[0].line.quantity, Decimal::from(12));
}

#[tokio::test(start_paused = true)]
async fn a_read_whose_attempt_retried_does_not_make_an_earlier_message_a_repeat() {
    // GIVEN an attempt at t0 + 1 min that read the order and then failed at Plex transiently
    let world = World::new().await;
    world.web.put(web_order(1042, &[(BOLT, 10, "0.45")]));
    let outage = api_error(ErrorClass::Transient, "Plex 503 on POST /sales/v1/orders");
    world.plex.fail_next(PlexCall::Create, 1, outage);
    let read = t0() + Duration::minutes(1);
    let failed = world.process_as("req-1", &created(1042), read).await;
    assert!(failed.is_retry(), "{failed:?}");
    assert_eq!(world.entry(1042).await.read_at, None, "a retry's read is not recorded");

    // WHEN a message that arrived before that read is processed
    let later =
        world.process_as("req-2", &arrived(1042, MessageSource::Webhook, t0()), read + Duration::minutes(1)).await;

    // THEN it reads the order and writes it
    assert_eq!(later, Disposition::Done(Outcome::Ok));
    assert_eq!(world.plex.orders().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn an_order_of_a_removed_connection_is_acknowledged_without_a_call() {
    // GIVEN a connection removed by an operator (parked), and an order message still queued for it
    let world = World::new().await;
    world.web.put(web_order(1042, &[(BOLT, 10, "0.45")]));
    let connections = world.worker.ports.connections.clone();
    let mut parked = connections.get(&acme()).await.unwrap().unwrap();
    parked.parked_at = Some(t0());
    connections.put(&parked).await.unwrap();

    // WHEN the message is processed
    let disposition = world.process(&created(1042)).await;

    // THEN it is acknowledged as skipped, saying why, with no BigCommerce or Plex call
    assert_eq!(disposition, Disposition::Done(Outcome::Skipped));
    assert_eq!(world.web.calls(), 0);
    assert!(world.plex.orders().is_empty());
    let skipped = world.events_with(1042, Outcome::Skipped).await.pop().unwrap();
    assert!(skipped.message.as_deref().unwrap().starts_with("connection removed at"), "{skipped:?}");
}

#[tokio::test(start_paused = true)]
async fn an_order_is_open_from_its_read_until_plex_holds_it_or_it_is_cancelled() {
    // GIVEN an order of a mapped and an unmapped SKU, and a second order that maps
    let world = World::new().await;
    world.web.put(web_order(1042, &[(BOLT, 10, "0.45"), ("W-9", 1, "12.00")]));
    world.web.put(web_order(1043, &[(NUT, 4, "0.10")]));

    // WHEN both are processed: the first is held, the second committed
    assert_eq!(world.process(&created(1042)).await, Disposition::Done(Outcome::NeedsMapping));
    assert_eq!(world.process(&created(1043)).await, Disposition::Done(Outcome::Ok));

    // THEN only the held order is open, with its lines as BigCommerce took them
    let bolt_line = (BOLT.to_owned(), "10".to_owned());
    assert_eq!(world.open().await, vec![(1042, vec![bolt_line, ("W-9".to_owned(), "1".to_owned())])]);

    // WHEN the held order is cancelled
    let mut cancelled = web_order(1042, &[(BOLT, 10, "0.45"), ("W-9", 1, "12.00")]);
    cancelled.status_id = 5;
    cancelled.status = "Cancelled".into();
    world.web.put(cancelled);
    assert_eq!(world.process(&message(1042, "updated", "d-2")).await, Disposition::Done(Outcome::Skipped));

    // THEN nothing is open any more
    assert_eq!(world.open().await, vec![]);
}
