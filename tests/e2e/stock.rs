//! The stock sync against moto and the sandbox, through the production adapters
//! (`inventory_sync::Ports::from_deps`: Plex's containers streamed, BigCommerce's catalog and
//! absolute adjustments, the last-pushed levels and the open orders in DynamoDB).

use std::collections::BTreeMap;

use domain::open_order::{OpenLine, OpenOrder};
use domain::{OrderRef, RecordKey, RecordKind};
use rust_decimal::Decimal;
use sandbox::System;
use serde_json::{Value, json};

use crate::support::World;

const ABSOLUTE: &str = "/v3/inventory/adjustments/absolute";

/// Sellable (`OK`) on-hand per part number, from the Plex double's own dump.
async fn plex_on_hand(world: &World) -> BTreeMap<String, i64> {
    let dump = world.sandbox.plex_inventory(None).await;
    let mut sums = BTreeMap::new();
    for container in dump["containers"].as_array().expect("containers") {
        // Active: Plex lists a container while it holds anything.
        if container["containerStatus"] == "OK" && container["quantity"].as_f64().is_some_and(|quantity| quantity > 0.0)
        {
            let part = container["partNo"].as_str().expect("a part number").to_owned();
            let quantity = container["quantity"].as_f64().expect("a quantity").floor() as i64;
            *sums.entry(part).or_insert(0) += quantity;
        }
    }
    sums
}

/// BigCommerce's level at the default location per tracked SKU, from the double's own dump.
async fn bigcommerce_levels(world: &World) -> BTreeMap<String, i64> {
    let dump = world.sandbox.bigcommerce_inventory().await;
    dump["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|item| Some((item["sku"].as_str()?.to_owned(), item["levels"]["1"]["on_hand"].as_i64()?)))
        .collect()
}

#[tokio::test]
async fn plex_stock_reaches_bigcommerce_once_only_changes_follow_and_an_open_order_is_held_back() {
    // GIVEN 200 parts in Plex over 1,000 containers (some on hold), and the same 200 SKUs in
    // BigCommerce, some tracked by product, some by variant
    let world = World::start().await;
    let plex = json!({"parts": 200, "containers": 1000, "seed": 7, "statuses": ["OK", "OK", "OK", "Hold"],
        "quantity": {"min": 1, "max": 40}});
    world.sandbox.generate_plex_inventory(plex).await;
    world.sandbox.generate_bigcommerce_catalog(json!({"skus": 200, "seed": 3, "variant_share": 0.3})).await;
    let sync = inventory_sync::StockSync::new(inventory_sync::Ports::from_deps(&world.deps));
    // WHEN the sync runs
    let (first, failure) = sync.sync(&world.profile, chrono::Utc::now()).await;

    // THEN every SKU's level is Plex's sellable on-hand, sent in one request
    assert_eq!(failure, None, "{first:?}");
    assert_eq!(world.sandbox.count_requests(System::BigCommerce, "PUT", ABSOLUTE).await, 1);
    let expected = plex_on_hand(&world).await;
    let levels = bigcommerce_levels(&world).await;
    for (part, quantity) in &expected {
        assert_eq!(levels.get(part), Some(quantity), "{part}");
    }
    assert_eq!(first.pushed, first.changed);

    // WHEN it runs again with nothing changed
    let (second, _) = sync.sync(&world.profile, chrono::Utc::now()).await;
    // THEN nothing is written
    assert_eq!((second.changed, second.write_calls), (0, 0), "{second:?}");
    assert_eq!(world.sandbox.count_requests(System::BigCommerce, "PUT", ABSOLUTE).await, 1);

    // WHEN a shopper's order for 2 units of one SKU is read by the worker (Plex does not hold it yet)
    let (part, quantity) = expected.iter().find(|(_, quantity)| **quantity >= 2).expect("a part with stock");
    let order = OrderRef::new(world.connection.clone(), 9001);
    let lines = vec![OpenLine { sku: part.clone(), quantity: Decimal::from(2) }];
    world.deps.open_orders.open(&OpenOrder { order: order.clone(), lines, read_at: chrono::Utc::now() }).await.unwrap();
    // Each run's events are stamped with its own time, so the SKU's history sorts run by run.
    let (third, _) = sync.sync(&world.profile, chrono::Utc::now()).await;

    // THEN only that SKU is pushed, two units lower, and its history says why
    assert_eq!((third.changed, third.write_calls), (1, 1), "{third:?}");
    assert_eq!(bigcommerce_levels(&world).await.get(part), Some(&(quantity - 2)));
    let key = RecordKey::new(world.connection.clone(), RecordKind::SkuStock, part);
    let history = world.deps.audit.history(&key).await.unwrap();
    let last: &Value = history.last().and_then(|event| event.detail.as_ref()).expect("a push event");
    assert_eq!((&last["in_flight"], &last["sent"]), (&json!(2), &json!(quantity - 2)), "{last}");
    assert!(last["transaction_id"].as_str().is_some_and(|id| !id.is_empty()), "{last}");

    // WHEN the order is no longer open (Plex holds it), the level rises back on the next run
    world.deps.open_orders.close(&order).await.unwrap();
    sync.sync(&world.profile, chrono::Utc::now()).await;
    assert_eq!(bigcommerce_levels(&world).await.get(part), Some(quantity));
    world.sandbox.shutdown().await;
}
