//! What the stock flow reports without writing, against moto and the sandbox: `millwright stock
//! diff` (the CLI's own code) and the drift report, when another app changes a level in BigCommerce.

use chrono::{Duration, Utc};
use domain::open_order::{OpenLine, OpenOrder};
use domain::stock::StockLocation;
use domain::{OrderRef, Outcome, RecordKey, RecordKind, Stage};
use rust_decimal::Decimal;
use sandbox::System;
use serde_json::json;

use crate::support::World;

const ABSOLUTE: &str = "/v3/inventory/adjustments/absolute";

#[tokio::test]
async fn the_diff_shows_a_pending_change_and_a_drifted_level_and_a_level_edited_elsewhere_is_alerted_once() {
    // GIVEN 40 parts in Plex and their SKUs in BigCommerce, synced once
    let world = World::start().await;
    let plex =
        json!({"parts": 40, "containers": 120, "seed": 11, "statuses": ["OK"], "quantity": {"min": 5, "max": 30}});
    world.sandbox.generate_plex_inventory(plex).await;
    world.sandbox.generate_bigcommerce_catalog(json!({"skus": 40, "seed": 5, "variant_share": 0.5})).await;
    let sync = inventory_sync::StockSync::new(inventory_sync::Ports::from_deps(&world.deps));
    let t0 = Utc::now();
    let (first, failure) = sync.sync(&world.profile, t0).await;
    assert_eq!(failure, None, "{first:?}");
    let pushed = world.deps.stock_state.last_pushed(&world.connection).await.unwrap();
    let mut skus = pushed.iter().filter(|(_, level)| **level >= 3).map(|((sku, _), level)| (sku.clone(), *level));
    let (edited, edited_level) = skus.next().expect("a SKU with stock");
    let (sold, sold_level) = skus.next().expect("another SKU with stock");

    // WHEN another app sets one SKU to 999 in BigCommerce, and a shopper's order for 2 units of
    // another is read by the worker (Plex does not hold it yet)
    let bigcommerce = world.deps.bigcommerce(&world.profile).await.unwrap();
    let catalog = bigcommerce.catalog_addresses().await.unwrap();
    let address = catalog.addresses[&edited];
    bigcommerce.set_absolute("another app", &[(address, StockLocation::DEFAULT, 999)]).await.unwrap();
    let order = OrderRef::new(world.connection.clone(), 7001);
    let lines = vec![OpenLine { sku: sold.to_string(), quantity: Decimal::from(2) }];
    world.deps.open_orders.open(&OpenOrder { order, lines, read_at: Utc::now() }).await.unwrap();
    let writes_before = world.sandbox.count_requests(System::BigCommerce, "PUT", ABSOLUTE).await;

    // THEN the diff shows the order's SKU as pending (BigCommerce now, computed two lower, why),
    // the edited one as drift, and writes nothing
    let diffs = millwright_cli::stock::diff(&world.deps, std::slice::from_ref(&world.connection)).await.unwrap();
    let diff = &diffs[0].diff;
    let pending: Vec<_> = diff.comparison.pending().collect();
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(
        (&pending[0].sku, pending[0].bigcommerce, pending[0].computed),
        (&sold, Some(sold_level), sold_level - 2)
    );
    assert!(pending[0].why().contains("in flight 2"), "{}", pending[0].why());
    let drifted = diff.comparison.drift(&world.profile.stock.drift);
    assert_eq!(drifted.len(), 1, "{drifted:?}");
    assert_eq!((&drifted[0].sku, drifted[0].seen, drifted[0].computed), (&edited, 999, edited_level));
    assert!(!diff.would_fail());
    let text = millwright_cli::stock::lines(&diffs).join("\n");
    let heading = format!("1 of {} level(s) would be pushed, 0 of them refused; 1 drifted", diff.comparison.rows.len());
    assert!(text.contains(&heading), "{text}");
    assert!(text.contains(&format!("{sold}  1")), "the pending row is in the table: {text}");
    assert_eq!(world.sandbox.count_requests(System::BigCommerce, "PUT", ABSOLUTE).await, writes_before);

    // WHEN the sync runs at the next drift report, and at the one after
    let (second, _) = sync.sync(&world.profile, t0 + Duration::minutes(60)).await;
    let (third, _) = sync.sync(&world.profile, t0 + Duration::minutes(120)).await;

    // THEN the order's SKU is pushed, the edited level is left as the other app set it, drift is
    // reported at both and alerted once, at the second
    assert_eq!((second.pushed, third.pushed), (1, 0), "{second:?} {third:?}");
    let (levels, _) = bigcommerce.inventory_levels(&[StockLocation::DEFAULT]).await.unwrap();
    assert_eq!(levels[&(edited.clone(), StockLocation::DEFAULT)], 999);
    let drift = |run: &inventory_sync::StockRun| run.drift.as_ref().map(|drift| (drift.drifting, drift.persisting));
    assert_eq!((drift(&second), drift(&third)), (Some((1, 0)), Some((1, 1))));
    let run_key = RecordKey::new(world.connection.clone(), RecordKind::Run, inventory_sync::JOB);
    let alerted: Vec<_> = world
        .deps
        .audit
        .history(&run_key)
        .await
        .unwrap()
        .into_iter()
        .filter(|event| event.stage == Stage::Alerted)
        .collect();
    assert_eq!(alerted.len(), 1, "{alerted:?}");
    let history = world
        .deps
        .audit
        .history(&RecordKey::new(world.connection.clone(), RecordKind::SkuStock, edited.as_str()))
        .await
        .unwrap();
    let last = history.last().expect("the drift's events");
    assert_eq!((last.stage, last.outcome), (Stage::Checked, Outcome::NeedsAttention));
    world.sandbox.shutdown().await;
}

#[tokio::test]
async fn between_full_reads_a_container_changed_in_plex_is_found_through_its_adjustment_and_only_its_part_is_read() {
    // GIVEN 30 parts over 90 containers in Plex, read in full and pushed
    let world = World::start().await;
    let plex =
        json!({"parts": 30, "containers": 90, "seed": 21, "statuses": ["OK"], "quantity": {"min": 5, "max": 30}});
    world.sandbox.generate_plex_inventory(plex).await;
    world.sandbox.generate_bigcommerce_catalog(json!({"skus": 30, "seed": 8, "variant_share": 0.3})).await;
    let sync = inventory_sync::StockSync::new(inventory_sync::Ports::from_deps(&world.deps));
    let (first, failure) = sync.sync(&world.profile, Utc::now()).await;
    assert_eq!(failure, None, "{first:?}");
    assert!(first.read.starts_with("full"), "{first:?}");

    // WHEN one container gets 7 more units in Plex (which records an adjustment)
    let dump = world.sandbox.plex_inventory(None).await;
    let container =
        dump["containers"].as_array().unwrap().iter().find(|c| c["quantity"].as_f64().unwrap() >= 1.0).unwrap();
    let (serial, part) = (container["serialNo"].as_str().unwrap(), container["partNo"].as_str().unwrap().to_owned());
    let quantity = container["quantity"].as_f64().unwrap() + 7.0;
    let path = format!("inventory/containers/{serial}");
    world.sandbox.control_request(System::Plex, reqwest::Method::PUT, &path, Some(json!({"quantity": quantity}))).await;
    let before = world.deps.stock_state.last_pushed(&world.connection).await.unwrap()
        [&(part.as_str().into(), StockLocation::DEFAULT)];
    let containers_before = world.sandbox.count_requests(System::Plex, "GET", "/inventory-tracking/containers").await;
    let (second, failure) = sync.sync(&world.profile, Utc::now()).await;

    // THEN the run reads the adjustments and that part's containers, and pushes only its level
    assert_eq!(failure, None, "{second:?}");
    assert!(second.read.starts_with("incremental: 1 part(s)"), "{second:?}");
    assert_eq!((second.plex_calls, second.changed, second.write_calls), (2, 1, 1), "{second:?}");
    assert_eq!(
        world.sandbox.count_requests(System::Plex, "GET", "/inventory-tracking/containers").await,
        containers_before + 1
    );
    let (levels, _) = world
        .deps
        .bigcommerce(&world.profile)
        .await
        .unwrap()
        .inventory_levels(&[StockLocation::DEFAULT])
        .await
        .unwrap();
    assert_eq!(levels[&(part.as_str().into(), StockLocation::DEFAULT)], before + 7);
    world.sandbox.shutdown().await;
}

#[tokio::test]
async fn an_order_read_while_a_push_is_on_its_way_is_overwritten_by_that_push_only_and_held_back_from_the_next_run() {
    // GIVEN 10 parts synced once, then one part's container changed in Plex so the next run pushes it
    let world = World::start().await;
    let plex =
        json!({"parts": 10, "containers": 30, "seed": 31, "statuses": ["OK"], "quantity": {"min": 5, "max": 30}});
    world.sandbox.generate_plex_inventory(plex).await;
    world.sandbox.generate_bigcommerce_catalog(json!({"skus": 10, "seed": 9, "variant_share": 0.0})).await;
    let sync = inventory_sync::StockSync::new(inventory_sync::Ports::from_deps(&world.deps));
    let (first, failure) = sync.sync(&world.profile, Utc::now()).await;
    assert_eq!(failure, None, "{first:?}");
    let dump = world.sandbox.plex_inventory(None).await;
    let container =
        dump["containers"].as_array().unwrap().iter().find(|c| c["quantity"].as_f64().unwrap() >= 3.0).unwrap();
    let (serial, part) = (container["serialNo"].as_str().unwrap(), container["partNo"].as_str().unwrap().to_owned());
    let path = format!("inventory/containers/{serial}");
    let raised = container["quantity"].as_f64().unwrap() + 10.0;
    world.sandbox.control_request(System::Plex, reqwest::Method::PUT, &path, Some(json!({"quantity": raised}))).await;
    let key = (part.as_str().into(), StockLocation::DEFAULT);
    let on_hand = world.deps.stock_state.last_pushed(&world.connection).await.unwrap()[&key] + 10;

    // WHEN the run's absolute write is slow to reach BigCommerce, and the worker reads an order for
    // 3 units of that part after the run read the open orders (its write is already on its way)
    let slow = json!({"method": "PUT", "times": 1, "fault": {"kind": "delay", "ms": 3000}});
    world.inject_fault("bigcommerce", slow).await;
    let run = tokio::spawn({
        let (sync, profile) = (sync.clone(), world.profile.clone());
        async move { sync.sync(&profile, Utc::now()).await }
    });
    // The double logs a request when it arrives, before its delay.
    for _ in 0..200 {
        if world.sandbox.count_requests(System::BigCommerce, "PUT", ABSOLUTE).await == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(world.sandbox.count_requests(System::BigCommerce, "PUT", ABSOLUTE).await, 2, "the write arrived");
    let order = OrderRef::new(world.connection.clone(), 8001);
    let lines = vec![OpenLine { sku: part.clone(), quantity: Decimal::from(3) }];
    world.deps.open_orders.open(&OpenOrder { order, lines, read_at: Utc::now() }).await.unwrap();
    let (second, failure) = run.await.unwrap();
    assert_eq!(failure, None, "{second:?}");

    // THEN that write, inside the window, sent the level without the order's units (the bound: one
    // request)
    let bigcommerce = world.deps.bigcommerce(&world.profile).await.unwrap();
    let level = |levels: &std::collections::BTreeMap<_, i64>| levels[&key];
    let (levels, _) = bigcommerce.inventory_levels(&[StockLocation::DEFAULT]).await.unwrap();
    assert_eq!(level(&levels), on_hand);

    // AND the next run holds them back, whatever else changed
    let (third, failure) = sync.sync(&world.profile, Utc::now()).await;
    assert_eq!(failure, None, "{third:?}");
    let (levels, _) = bigcommerce.inventory_levels(&[StockLocation::DEFAULT]).await.unwrap();
    assert_eq!(level(&levels), on_hand - 3, "{third:?}");
    assert_eq!(third.in_flight_units, 3);
    world.sandbox.shutdown().await;
}
