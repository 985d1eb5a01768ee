//! The stock sync against moto and the sandbox, through the production adapters
//! (`inventory_sync::Ports::from_deps`: Plex's containers streamed, BigCommerce's catalog and
//! absolute adjustments, the last-pushed levels and the open orders in DynamoDB).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use domain::open_order::{OpenLine, OpenOrder};
use domain::stock::{MAX_ADJUSTMENT_ROWS, StockLocation};
use domain::{OrderRef, Outcome, RecordKey, RecordKind};
use rust_decimal::Decimal;
use sandbox::{System, demo};
use serde_json::{Value, json};

use crate::support::{FlowOptions, OrderFlow, World, eventually};

const ABSOLUTE: &str = "/v3/inventory/adjustments/absolute";
const CONTAINERS: &str = "/inventory/v1/inventory-tracking/containers";

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
    bigcommerce_levels_at(world, StockLocation::DEFAULT).await
}

/// BigCommerce's level at one location per tracked SKU, from the double's own dump.
async fn bigcommerce_levels_at(world: &World, location: StockLocation) -> BTreeMap<String, i64> {
    let dump = world.sandbox.bigcommerce_inventory().await;
    let at = location.to_string();
    dump["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|item| Some((item["sku"].as_str()?.to_owned(), item["levels"][&at]["on_hand"].as_i64()?)))
        .collect()
}

/// One of the Plex double's sellable (`OK`) containers that holds something.
#[derive(Debug, Clone)]
struct Container {
    serial: String,
    part: String,
    location: String,
    quantity: i64,
}

/// The sellable containers holding stock, from the Plex double's own dump.
async fn plex_containers(world: &World) -> Vec<Container> {
    let dump = world.sandbox.plex_inventory(None).await;
    dump["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .filter(|container| container["containerStatus"] == "OK")
        .filter_map(|container| {
            let quantity = container["quantity"].as_f64()?.floor() as i64;
            let container = Container {
                serial: container["serialNo"].as_str()?.to_owned(),
                part: container["partNo"].as_str()?.to_owned(),
                location: container["location"].as_str()?.to_owned(),
                quantity,
            };
            (quantity > 0).then_some(container)
        })
        .collect()
}

/// Changes a container's quantity in the Plex double, as a cycle count or a production report
/// would (`PUT /__control/inventory/containers/{serialNo}`).
async fn set_container_quantity(world: &World, serial: &str, quantity: i64) {
    let path = format!("inventory/containers/{serial}");
    world.sandbox.control_request(System::Plex, reqwest::Method::PUT, &path, Some(json!({"quantity": quantity}))).await;
}

/// The absolute adjustments BigCommerce applied (not hand-set levels), oldest first.
async fn applied_adjustments(world: &World) -> Vec<Value> {
    let dump = world.sandbox.bigcommerce_inventory().await;
    dump["transactions"].as_array().expect("transactions").iter().filter(|t| t["source"] == "api").cloned().collect()
}

/// The rows whose BigCommerce level is not the expected one: `(sku, expected, found)`.
fn mismatches(expected: &BTreeMap<String, i64>, levels: &BTreeMap<String, i64>) -> Vec<(String, i64, Option<i64>)> {
    expected
        .iter()
        .filter(|(sku, quantity)| levels.get(*sku) != Some(*quantity))
        .map(|(sku, quantity)| (sku.clone(), *quantity, levels.get(sku).copied()))
        .collect()
}

/// Asserts every expected SKU's level, naming the first few that differ.
fn assert_levels(what: &str, expected: &BTreeMap<String, i64>, levels: &BTreeMap<String, i64>) {
    let wrong = mismatches(expected, levels);
    assert!(
        wrong.is_empty(),
        "{what}: {} of {} level(s) differ, e.g. {:?}",
        wrong.len(),
        expected.len(),
        &wrong[..wrong.len().min(10)]
    );
}

fn stock_sync(world: &World) -> inventory_sync::StockSync {
    inventory_sync::StockSync::new(inventory_sync::Ports::from_deps(&world.deps))
}

/// A Plex inventory of `parts` parts over `containers` sellable containers, and the same SKUs in
/// BigCommerce (some tracked by variant).
async fn generate(world: &World, parts: usize, containers: usize) {
    let plex = json!({"parts": parts, "containers": containers, "seed": 17, "quantity": {"min": 1, "max": 40}});
    world.sandbox.generate_plex_inventory(plex).await;
    world.sandbox.generate_bigcommerce_catalog(json!({"skus": parts, "seed": 5, "variant_share": 0.3})).await;
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

#[tokio::test]
async fn after_a_full_sync_of_10000_skus_300_changed_parts_are_one_request_and_an_unchanged_run_writes_nothing() {
    // GIVEN 10,000 parts in Plex over 30,000 containers and the same 10,000 SKUs in BigCommerce,
    // synced once in full
    let world = World::start().await;
    generate(&world, 10_000, 30_000).await;
    let sync = stock_sync(&world);
    let (full, failure) = sync.sync(&world.profile, chrono::Utc::now()).await;
    assert_eq!(failure, None, "{}", full.summary());
    assert!(full.changed > 9_000, "{}", full.summary());
    assert_eq!(full.pushed, full.changed, "{}", full.summary());
    let requests = full.changed.div_ceil(MAX_ADJUSTMENT_ROWS);
    assert_eq!(world.sandbox.count_requests(System::BigCommerce, "PUT", ABSOLUTE).await, requests);
    assert_levels("after the full sync", &plex_on_hand(&world).await, &bigcommerce_levels(&world).await);

    // WHEN 300 parts' quantities change in Plex (one container each, five units more)
    let before = bigcommerce_levels(&world).await;
    let mut first_container: BTreeMap<String, Container> = BTreeMap::new();
    for container in plex_containers(&world).await {
        first_container.entry(container.part.clone()).or_insert(container);
    }
    let step = first_container.len() / 300;
    let changed: Vec<&Container> = first_container.values().step_by(step).take(300).collect();
    assert_eq!(changed.len(), 300);
    for container in &changed {
        set_container_quantity(&world, &container.serial, container.quantity + 5).await;
    }
    let (next, failure) = sync.sync(&world.profile, chrono::Utc::now()).await;

    // THEN the next run sends exactly one absolute adjustment, of exactly those 300 rows
    assert_eq!(failure, None, "{}", next.summary());
    assert_eq!((next.changed, next.pushed, next.write_calls), (300, 300, 1), "{}", next.summary());
    assert_eq!(world.sandbox.count_requests(System::BigCommerce, "PUT", ABSOLUTE).await, requests + 1);
    let applied = applied_adjustments(&world).await;
    let last = applied.last().expect("an applied adjustment");
    assert_eq!((&last["items"], &last["changed"]), (&json!(300), &json!(300)), "{last}");
    let expected = plex_on_hand(&world).await;
    let levels = bigcommerce_levels(&world).await;
    assert_levels("after 300 parts changed", &expected, &levels);
    for container in &changed {
        assert_eq!(levels[&container.part], before[&container.part] + 5, "{}", container.part);
    }

    // WHEN it runs again with nothing changed
    let (unchanged, failure) = sync.sync(&world.profile, chrono::Utc::now()).await;
    // THEN nothing is written
    assert_eq!(failure, None, "{}", unchanged.summary());
    assert_eq!((unchanged.changed, unchanged.write_calls), (0, 0), "{}", unchanged.summary());
    assert_eq!(world.sandbox.count_requests(System::BigCommerce, "PUT", ABSOLUTE).await, requests + 1);
    world.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_second_request_bigcommerce_fails_keeps_the_first_requests_rows_and_the_next_run_pushes_only_the_rest() {
    // GIVEN 3,000 parts with stock in Plex and their SKUs in BigCommerce, never synced (so more
    // than 2,000 rows change: two requests), and BigCommerce failing every absolute adjustment
    // after the first
    let world = World::start().await;
    generate(&world, 3_000, 9_000).await;
    let fault = json!({"method": "PUT", "path_contains": ABSOLUTE, "skip": 1,
        "fault": {"kind": "server_error", "status": 500}});
    world.inject_fault("bigcommerce", fault).await;
    let sync = stock_sync(&world);

    // WHEN the sync runs
    let (failed, failure) = sync.sync(&world.profile, chrono::Utc::now()).await;

    // THEN it reports the problem, having pushed the first request's 2,000 rows only
    assert!(failure.is_some() && failed.problem.is_some(), "{failed:?}");
    assert!(failed.changed > MAX_ADJUSTMENT_ROWS, "{}", failed.summary());
    assert_eq!((failed.pushed, failed.transactions.len()), (MAX_ADJUSTMENT_ROWS, 1), "{}", failed.summary());
    let applied = applied_adjustments(&world).await;
    assert_eq!(applied.len(), 1, "{applied:?}");
    assert_eq!(applied[0]["items"], json!(MAX_ADJUSTMENT_ROWS));
    // AND what is saved as pushed is exactly what BigCommerce applied: the first request's rows,
    // each at the level BigCommerce now shows; none of the second request's
    let saved = world.deps.stock_state.last_pushed(&world.connection).await.expect("the last-pushed levels");
    assert_eq!(saved.len(), MAX_ADJUSTMENT_ROWS);
    let expected = plex_on_hand(&world).await;
    let levels = bigcommerce_levels(&world).await;
    for ((sku, location), quantity) in &saved {
        assert_eq!(*location, StockLocation::DEFAULT);
        assert_eq!((levels.get(sku.as_str()), expected.get(sku.as_str())), (Some(quantity), Some(quantity)), "{sku}");
    }
    // The requests are cut in SKU order, so the first one held the 2,000 first SKUs with stock.
    let first_request: BTreeSet<&str> =
        expected.keys().map(String::as_str).filter(|sku| levels.contains_key(*sku)).take(MAX_ADJUSTMENT_ROWS).collect();
    let saved_skus: BTreeSet<&str> = saved.keys().map(|(sku, _)| sku.as_str()).collect();
    assert_eq!(saved_skus, first_request);

    // WHEN BigCommerce recovers and the sync runs again
    let response = world.control("bigcommerce", reqwest::Method::DELETE, "/faults", None).await;
    assert!(response.status().is_success());
    let writes_before = world.sandbox.count_requests(System::BigCommerce, "PUT", ABSOLUTE).await;
    let (next, failure) = sync.sync(&world.profile, chrono::Utc::now()).await;

    // THEN it pushes exactly the rows the failed request carried, in one request, and every
    // level is Plex's
    assert_eq!(failure, None, "{}", next.summary());
    let rest = failed.changed - MAX_ADJUSTMENT_ROWS;
    assert_eq!((next.changed, next.pushed, next.write_calls), (rest, rest, 1), "{}", next.summary());
    assert_eq!(world.sandbox.count_requests(System::BigCommerce, "PUT", ABSOLUTE).await, writes_before + 1);
    let applied = applied_adjustments(&world).await;
    assert_eq!(applied.len(), 2, "{applied:?}");
    assert_eq!(applied[1]["items"], json!(rest));
    assert_levels("after the retry", &expected, &bigcommerce_levels(&world).await);
    let saved = world.deps.stock_state.last_pushed(&world.connection).await.expect("the last-pushed levels");
    assert_eq!(saved.len(), failed.changed);
    world.sandbox.shutdown().await;
}

#[tokio::test]
async fn under_a_storm_of_429s_and_5xxs_on_both_apis_repeated_runs_converge_and_then_write_nothing() {
    // GIVEN 3,000 parts in Plex and their SKUs in BigCommerce (a dozen catalog pages, two write
    // requests), and both APIs answering a large share of requests with 429s (a one-second wait)
    // and 5xxs, a bounded number of each
    let world = World::start().await;
    generate(&world, 3_000, 9_000).await;
    let rate_limit = json!({"kind": "rate_limit", "retry_after_seconds": 1});
    let storm = [
        // The first two container reads meet a 429 and a 503 at least; the rest is drawn.
        ("plex", json!({"times": 1, "fault": rate_limit})),
        ("plex", json!({"times": 1, "fault": {"kind": "server_error", "status": 503}})),
        ("plex", json!({"fraction": 0.5, "seed": 1, "times": 4, "fault": rate_limit})),
        ("plex", json!({"fraction": 0.5, "seed": 2, "times": 6, "fault": {"kind": "server_error", "status": 503}})),
        ("bigcommerce", json!({"fraction": 0.3, "seed": 3, "times": 8, "fault": rate_limit})),
        (
            "bigcommerce",
            json!({"fraction": 0.3, "seed": 4, "times": 12, "fault": {"kind": "server_error", "status": 500}}),
        ),
        ("bigcommerce", json!({"method": "PUT", "fraction": 0.5, "seed": 5, "times": 4, "fault": "server_error"})),
    ];
    for (system, rule) in storm {
        world.inject_fault(system, rule).await;
    }
    let sync = stock_sync(&world);

    // WHEN the sync runs again and again (as its schedule and its queue's retries would), at most
    // ten times, until a run ends without a problem
    let mut runs = Vec::new();
    let mut converged = false;
    for _ in 0..10 {
        let (run, failure) = sync.sync(&world.profile, chrono::Utc::now()).await;
        runs.push(run.summary());
        if failure.is_none() {
            converged = true;
            break;
        }
    }

    // THEN the storm was felt on both APIs, a run finished, and every level is Plex's on-hand
    for system in [System::Plex, System::BigCommerce] {
        let faulted = world.sandbox.request_log(system).await.iter().filter(|entry| !entry["fault"].is_null()).count();
        assert!(faulted > 0, "no fault reached {system:?}");
    }
    assert!(converged, "no run of ten finished: {runs:#?}");
    assert_levels("after the storm", &plex_on_hand(&world).await, &bigcommerce_levels(&world).await);

    // WHEN what is left of the storm is gone and the sync runs once more
    let response = world.control("plex", reqwest::Method::DELETE, "/faults", None).await;
    assert!(response.status().is_success());
    let response = world.control("bigcommerce", reqwest::Method::DELETE, "/faults", None).await;
    assert!(response.status().is_success());
    let writes_before = world.sandbox.count_requests(System::BigCommerce, "PUT", ABSOLUTE).await;
    let (last, failure) = sync.sync(&world.profile, chrono::Utc::now()).await;

    // THEN it finds nothing to change and writes nothing
    assert_eq!(failure, None, "{}", last.summary());
    assert_eq!((last.changed, last.write_calls), (0, 0), "{}; runs before: {runs:#?}", last.summary());
    assert_eq!(world.sandbox.count_requests(System::BigCommerce, "PUT", ABSOLUTE).await, writes_before);
    world.sandbox.shutdown().await;
}

#[tokio::test]
async fn mapped_plex_locations_are_summed_into_their_bigcommerce_locations_and_unmapped_stock_is_left_out() {
    // GIVEN a connection mapping Plex's PLANT-A to BigCommerce's default location, PLANT-B and
    // PLANT-C to location 2, and nothing else (no default); a second location in the store; and
    // 300 parts in Plex with containers at all three plants and at PLANT-X
    let world = World::start_with(|profile| {
        profile["stock"] = json!({"locations": {"map": {"PLANT-A": 1, "PLANT-B": 2, "PLANT-C": 2}, "default": null}});
    })
    .await;
    let location = json!({"id": 2, "code": "WH-EAST", "label": "East warehouse", "enabled": true});
    let store = json!({"stores": [{"store_hash": demo::BIGCOMMERCE_STORE_HASH, "locations": [location]}]});
    world.sandbox.control(System::BigCommerce, "seed", store).await;
    let plex = json!({"parts": 300, "containers": 3000, "seed": 23, "quantity": {"min": 1, "max": 40},
        "locations": ["PLANT-A", "PLANT-B", "PLANT-C", "PLANT-X"]});
    world.sandbox.generate_plex_inventory(plex).await;
    world.sandbox.generate_bigcommerce_catalog(json!({"skus": 300, "seed": 9, "variant_share": 0.3})).await;

    // WHEN the sync runs
    let (run, failure) = stock_sync(&world).sync(&world.profile, chrono::Utc::now()).await;

    // THEN each location's level is the sum of its Plex plants' containers
    assert_eq!(failure, None, "{}", run.summary());
    let mut default_location: BTreeMap<String, i64> = BTreeMap::new();
    let mut east: BTreeMap<String, i64> = BTreeMap::new();
    let mut at_x: BTreeSet<String> = BTreeSet::new();
    for container in plex_containers(&world).await {
        let sums = match container.location.as_str() {
            "PLANT-A" => &mut default_location,
            "PLANT-B" | "PLANT-C" => &mut east,
            _ => {
                at_x.insert(container.part);
                continue;
            }
        };
        *sums.entry(container.part).or_insert(0) += container.quantity;
    }
    // The plants overlap, so a sum of the wrong plants would show.
    assert!(default_location.keys().any(|part| at_x.contains(part) && east.contains_key(part)));
    assert_levels("location 1 (PLANT-A)", &default_location, &bigcommerce_levels_at(&world, StockLocation(1)).await);
    assert_levels("location 2 (PLANT-B + PLANT-C)", &east, &bigcommerce_levels_at(&world, StockLocation(2)).await);
    assert_eq!(run.pushed, default_location.len() + east.len(), "{}", run.summary());
    // AND PLANT-X's stock went nowhere, and the run says so
    assert_eq!(run.unmapped_locations, vec!["PLANT-X".to_owned()], "{run:?}");
    let saved = world.deps.stock_state.last_pushed(&world.connection).await.expect("the last-pushed levels");
    let locations: BTreeSet<StockLocation> = saved.keys().map(|(_, location)| *location).collect();
    assert_eq!(locations, BTreeSet::from([StockLocation(1), StockLocation(2)]));
    assert_eq!(saved.len(), default_location.len() + east.len());
    world.sandbox.shutdown().await;
}

#[tokio::test]
async fn two_overlapping_scheduled_runs_of_the_stock_sync_push_once_under_the_connections_lease() {
    // GIVEN 200 parts in Plex and their SKUs in BigCommerce, never synced, a slow Plex container
    // read (half a second), and the stock sync's job queue polled by the runtime (its own schedule
    // too far off to fire)
    let options = FlowOptions {
        register_hooks: false,
        inventory_sync_every: Some(Duration::from_secs(3600)),
        ..FlowOptions::default()
    };
    let flow = OrderFlow::start_with(World::start().await, options).await;
    generate(&flow.world, 200, 1_000).await;
    let slow = json!({"method": "GET", "path_prefix": CONTAINERS, "fault": {"kind": "delay", "ms": 500}});
    flow.world.inject_fault("plex", slow).await;

    // WHEN two scheduled events arrive at once
    let (first, second) =
        tokio::join!(flow.invoke_scheduled(inventory_sync::JOB), flow.invoke_scheduled(inventory_sync::JOB));

    // THEN each fans out one job for the connection
    for fanned in [&first, &second] {
        assert_eq!(fanned["queued"], json!([flow.world.connection.as_str()]), "{fanned}");
    }
    // AND both jobs are recorded on the run record, only one of them as having done the work: the
    // other found the lease held, or the work done
    let key = RecordKey::new(flow.world.connection.clone(), RecordKind::Run, inventory_sync::JOB);
    let trail = eventually("both jobs are on the run record", Duration::from_secs(30), || async {
        let trail = flow.world.deps.audit.history(&key).await.map_err(|error| error.to_string())?;
        if trail.len() >= 2 { Ok(trail) } else { Err(format!("{} event(s)", trail.len())) }
    })
    .await;
    let mut outcomes: Vec<Outcome> = trail.iter().map(|event| event.outcome).collect();
    outcomes.sort_by_key(|outcome| outcome.as_str());
    assert!(outcomes == [Outcome::Ok, Outcome::Skipped] || outcomes == [Outcome::Duplicate, Outcome::Ok], "{trail:#?}");
    let refused = trail.iter().find(|event| event.outcome != Outcome::Ok).expect("the refused run");
    assert!(refused.message.as_deref().is_some_and(|message| message.starts_with("not run:")), "{refused:#?}");
    // AND Plex was read once and BigCommerce written once, every level Plex's
    assert_eq!(flow.world.sandbox.count_requests(System::Plex, "GET", CONTAINERS).await, 1);
    assert_eq!(flow.world.sandbox.count_requests(System::BigCommerce, "PUT", ABSOLUTE).await, 1);
    assert_levels("after the runs", &plex_on_hand(&flow.world).await, &bigcommerce_levels(&flow.world).await);
    flow.stop().await;
}
