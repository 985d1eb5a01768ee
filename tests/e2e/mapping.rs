//! Orders held for a mapping are released once the mapping exists: by the order sweep when the
//! part appears in Plex, and at once when an operator maps a value with `millwright map`.

use std::time::Duration;

use domain::audit::{Outcome, Stage};
use domain::ledger::LedgerStatus;
use millwright_cli::map::{self, Mapping};
use millwright_cli::{backfill, sweep};
use reqwest::Method;
use serde_json::json;

use crate::support::{FlowOptions, OrderFlow, World, guest_order, plex_lines, registered_order};

/// How long a test waits for an order that meets no fault.
const WAIT: Duration = Duration::from_secs(15);

/// Plex's part look-ups for `number` so far (`GET /mdm/v1/parts?number=...`).
async fn part_look_ups(flow: &OrderFlow, number: &str) -> usize {
    let log = flow.world.control_json("plex", Method::GET, "/requests", None).await;
    let requests = log.as_array().cloned().unwrap_or_default();
    requests
        .iter()
        .filter(|request| {
            request["path"] == "/mdm/v1/parts"
                && request["query"].as_str().is_some_and(|query| query.contains(&format!("number={number}")))
        })
        .count()
}

#[tokio::test]
async fn orders_held_for_an_unknown_sku_are_written_once_the_part_is_created_in_plex() {
    // GIVEN the local runtime sweeping this connection every second, and two orders for a SKU Plex lacks
    let options = FlowOptions { sweep_every: Some(Duration::from_secs(1)), ..FlowOptions::default() };
    let flow = OrderFlow::start_with(World::start().await, options).await;
    let first = flow.place_order(registered_order(&[("MW-BOLT-M8", 2), ("MW-SPROCKET-9", 1)])).await;
    let second = flow.place_order(guest_order(&[("MW-SPROCKET-9", 3)])).await;
    for order_id in [first, second] {
        flow.wait_for_status(order_id, LedgerStatus::NeedsMapping, WAIT).await;
        assert!(flow.plex_orders(order_id).await.is_empty());
    }

    // WHEN someone creates the part in Plex
    let seed = json!({"parts": [{"number": "MW-SPROCKET-9", "name": "Sprocket 9T", "status": "Active"}]});
    flow.world.control_json("plex", Method::POST, "/seed", Some(seed)).await;

    // THEN the sweep releases both and each becomes one Plex sales order with the new part
    for order_id in [first, second] {
        flow.wait_for_commit(order_id, WAIT).await;
    }
    let first_lines = plex_lines(&flow.plex_orders(first).await[0]);
    assert_eq!(first_lines, vec![("MW-BOLT-M8".to_owned(), 2), ("MW-SPROCKET-9".to_owned(), 1)]);
    assert_eq!(flow.plex_orders(second).await.len(), 1);

    // AND each trail shows the hold, the sweep's release naming the part, and the write
    for order_id in [first, second] {
        let history = flow.history(order_id).await;
        let released = history.iter().find(|event| event.stage == Stage::Replayed).expect("the sweep's release");
        assert_eq!(released.actor, "order-sweep");
        assert!(released.message.as_deref().is_some_and(|m| m.contains("MW-SPROCKET-9")), "{released:?}");
        let held = history.iter().position(|event| event.outcome == Outcome::NeedsMapping).expect("the hold");
        let written = history.iter().rposition(|event| event.stage == Stage::Written && event.outcome == Outcome::Ok);
        assert!(written.is_some_and(|written| written > held), "{history:#?}");
    }
    assert!(flow.world.deps.holds.list(&flow.world.connection).await.unwrap().is_empty());

    // AND once found, the part is never looked up again: a new order for it maps from the cache
    let after_release = part_look_ups(&flow, "MW-SPROCKET-9").await;
    let third = flow.place_order(guest_order(&[("MW-SPROCKET-9", 1)])).await;
    flow.wait_for_commit(third, WAIT).await;
    assert_eq!(part_look_ups(&flow, "MW-SPROCKET-9").await, after_release);
    flow.stop().await;
}

#[tokio::test]
async fn millwright_map_maps_a_sku_that_is_no_plex_part_number_and_releases_its_order_at_once() {
    // GIVEN an order whose SKU is the store's own name for a Plex part (no sweep runs here)
    let flow = OrderFlow::start(World::start().await).await;
    let order_id = flow.place_order(guest_order(&[("WEB-HEX-BOLT", 25)])).await;
    flow.wait_for_status(order_id, LedgerStatus::NeedsMapping, WAIT).await;

    // WHEN an operator maps it to a part that does not exist, then to the right one
    let connection = &flow.world.connection;
    let wrong = Mapping::Sku { sku: "WEB-HEX-BOLT".into(), part_number: "MW-NO-SUCH-PART".into() };
    let refused = map::map(&flow.world.deps, connection, &wrong, "cli:test").await.unwrap_err();
    let right = Mapping::Sku { sku: "WEB-HEX-BOLT".into(), part_number: "MW-BOLT-M8".into() };
    let mapped = map::map(&flow.world.deps, connection, &right, "cli:test").await.expect("the mapping is stored");

    // THEN the wrong one is refused naming the part, and the right one queues the order at once
    assert!(format!("{refused:#}").contains("Plex has no part numbered \"MW-NO-SUCH-PART\""), "{refused:#}");
    assert!(mapped.what.starts_with("SKU \"WEB-HEX-BOLT\" is Plex part MW-BOLT-M8"), "{}", mapped.what);
    assert_eq!(mapped.released(), vec![order_id]);
    flow.wait_for_commit(order_id, WAIT).await;
    assert_eq!(plex_lines(&flow.plex_orders(order_id).await[0]), vec![("MW-BOLT-M8".to_owned(), 25)]);

    // AND the mapping is on the connection's audit trail, and a sweep now finds nothing held
    let key = domain::RecordKey::new(connection.clone(), domain::RecordKind::Run, "map");
    let trail = flow.world.deps.audit.history(&key).await.unwrap();
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].actor, "cli:test");
    let swept = sweep::run_sweep(&flow.world.deps, std::slice::from_ref(connection), "cli:test").await.unwrap();
    assert_eq!((swept.len(), swept[0].held), (1, 0));
    flow.stop().await;
}

#[tokio::test]
async fn millwright_map_maps_an_unknown_shoppers_email_to_a_plex_customer() {
    // GIVEN a registered shopper whose billing e-mail no Plex customer has
    let flow = OrderFlow::start(World::start().await).await;
    let mut order = registered_order(&[("MW-NUT-M8", 10)]);
    order["billing_address"]["email"] = json!("Robin.Buyer@Fitter-Works.example");
    let order_id = flow.place_order(order).await;
    flow.wait_for_status(order_id, LedgerStatus::NeedsMapping, WAIT).await;

    // WHEN an operator maps the e-mail (typed in another case) to the Plex customer FITTER
    let mapping = Mapping::Customer {
        key: domain::order::CustomerKey::Email("robin.buyer@fitter-works.example".into()),
        plex_customer_code: "FITTER".into(),
    };
    let mapped = map::map(&flow.world.deps, &flow.world.connection, &mapping, "cli:test").await.expect("mapped");

    // THEN the held order is queued at once and written to that customer
    assert!(mapped.what.contains("is Plex customer FITTER"), "{}", mapped.what);
    assert!(mapped.warnings.is_empty(), "{:?}", mapped.warnings);
    assert_eq!(mapped.released(), vec![order_id]);
    flow.wait_for_commit(order_id, WAIT).await;
    let fitter = flow
        .world
        .deps
        .id_map
        .get(&flow.world.connection, domain::id_map::namespaces::CUSTOMER_EMAIL, "robin.buyer@fitter-works.example")
        .await
        .unwrap()
        .expect("the mapping, under the e-mail as the worker looks it up");
    let plex = flow.plex_orders(order_id).await;
    assert_eq!(plex.len(), 1);
    assert_eq!(plex[0]["customerId"], json!(fitter), "{:#}", plex[0]);
    flow.stop().await;
}

#[tokio::test]
async fn millwright_map_warns_when_the_connection_does_not_match_customers_by_the_mapped_key() {
    // GIVEN a connection that matches registered shoppers by billing e-mail (the demo's setting)
    let flow = OrderFlow::start(World::start().await).await;

    // WHEN an operator maps a company name instead
    let mapping = Mapping::Customer {
        key: domain::order::CustomerKey::Company("Fitter Works".into()),
        plex_customer_code: "FITTER".into(),
    };
    let mapped = map::map(&flow.world.deps, &flow.world.connection, &mapping, "cli:test").await.expect("mapped");

    // THEN the mapping is stored, with a warning that the worker will not read it as things stand
    assert_eq!(mapped.warnings.len(), 1, "{:?}", mapped.warnings);
    assert!(
        mapped.warnings[0].contains("matches registered shoppers by billing_address.email"),
        "{:?}",
        mapped.warnings
    );
    assert!(mapped.released().is_empty());
    flow.stop().await;
}

#[tokio::test]
async fn an_order_whose_webhook_never_came_is_found_by_the_sweep_and_written_once() {
    // GIVEN a store whose hooks are not registered (so no webhook will come) and the runtime
    // sweeping this connection every second
    let options =
        FlowOptions { register_hooks: false, sweep_every: Some(Duration::from_secs(1)), ..FlowOptions::default() };
    let flow = OrderFlow::start_with(World::start().await, options).await;

    // WHEN an order was placed three minutes ago (seeded: the double sends no webhook for it); the
    // sweep leaves orders younger than two minutes to their webhooks
    let modified = (chrono::Utc::now() - chrono::Duration::minutes(3)).to_rfc2822();
    let mut order = guest_order(&[("MW-NUT-M8", 7)]);
    order["id"] = json!(9001);
    order["date_created"] = json!(modified);
    order["date_modified"] = json!(modified);
    let seed = json!({"stores": [{"store_hash": sandbox::demo::BIGCOMMERCE_STORE_HASH, "orders": [order]}]});
    flow.world.control_json("bigcommerce", Method::POST, "/seed", Some(seed)).await;

    // THEN the sweep finds it and the worker writes it, once
    flow.wait_for_commit(9001, WAIT).await;
    assert_eq!(plex_lines(&flow.plex_orders(9001).await[0]), vec![("MW-NUT-M8".to_owned(), 7)]);
    let history = flow.history(9001).await;
    let found = &history[0];
    assert_eq!((found.stage, found.actor.as_str()), (Stage::Received, "order-sweep"));
    assert!(found.message.as_deref().is_some_and(|m| m.ends_with("no webhook brought it to the worker")), "{found:?}");
    // AND later sweeps leave it alone: one Plex order, one `received` by the sweep
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(flow.plex_orders(9001).await.len(), 1);
    let history = flow.history(9001).await;
    assert_eq!(history.iter().filter(|event| event.actor == "order-sweep").count(), 1, "{history:#?}");
    flow.stop().await;
}

#[tokio::test]
async fn millwright_backfill_queues_orders_from_before_the_first_sweep_once() {
    // GIVEN orders placed yesterday, before the connection was set up (no webhooks, no sweep)
    let flow =
        OrderFlow::start_with(World::start().await, FlowOptions { register_hooks: false, ..FlowOptions::default() })
            .await;
    let yesterday = chrono::Utc::now() - chrono::Duration::days(1);
    let orders: Vec<serde_json::Value> = [(9101, "MW-NUT-M8"), (9102, "MW-BOLT-M8")]
        .into_iter()
        .map(|(id, sku)| {
            let mut order = guest_order(&[(sku, 4)]);
            order["id"] = json!(id);
            order["date_created"] = json!(yesterday.to_rfc2822());
            order
        })
        .collect();
    let seed = json!({"stores": [{"store_hash": sandbox::demo::BIGCOMMERCE_STORE_HASH, "orders": orders}]});
    flow.world.control_json("bigcommerce", Method::POST, "/seed", Some(seed)).await;
    let (deps, connection) = (&flow.world.deps, &flow.world.connection);
    let (since, until) = (yesterday - chrono::Duration::hours(1), chrono::Utc::now());

    // WHEN an operator backfills the last day, first as a dry run, then for real, then again
    let dry = backfill::backfill(deps, connection, since, until, true, "cli:test").await.unwrap();
    let real = backfill::backfill(deps, connection, since, until, false, "cli:test").await.unwrap();
    for order_id in [9101, 9102] {
        flow.wait_for_commit(order_id, WAIT).await;
    }
    let again = backfill::backfill(deps, connection, since, until, false, "cli:test").await.unwrap();

    // THEN both orders are queued once and written once; the repeat finds nothing left to do
    assert_eq!((dry.recovered.clone(), real.recovered.clone()), (vec![9101, 9102], vec![9101, 9102]));
    assert!(again.recovered.is_empty(), "{again:?}");
    for order_id in [9101, 9102] {
        assert_eq!(flow.plex_orders(order_id).await.len(), 1);
    }
    assert_eq!(
        backfill::lines(&again, false).last().map(String::as_str),
        Some("0 order(s) queued (1 BigCommerce call(s)); the others were already read by the worker or are not synced")
    );
    flow.stop().await;
}
