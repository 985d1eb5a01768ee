//! Stock sync doubles: Plex inventory (locations, containers, container adjustments, the bulk
//! generator and the shop-floor changes of the control plane) and BigCommerce inventory (catalog
//! products and variants with their tracking mode, locations, inventory items, absolute
//! adjustments and their rules, and the inventory webhooks).

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use sandbox::{System, demo};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::support::{self, World, body, header, number_header};

// ---------------------------------------------------------------------------------------------
// Plex
// ---------------------------------------------------------------------------------------------

const PLEX_BOLT_PART_ID: &str = "3c4d5e6f-7a8b-4c9d-8e1f-2a3b4c5d6e7f";
const PLEX_NUT_PART_ID: &str = "4d5e6f7a-8b9c-4d0e-9f2a-3b4c5d6e7f80";
const FG_LOCATION_ID: &str = "aaaaaaaa-0001-4000-8000-000000000001";
const WIP_LOCATION_ID: &str = "aaaaaaaa-0002-4000-8000-000000000002";

/// Two locations and five containers of the demo parts in the default tenant: three bolts (one
/// FG-01 OK, one FG-01 on hold, one WIP-01 as WIP), one nut, and one empty (inactive) nut container.
async fn seed_plex_stock(world: &World) {
    world
        .seed(
            &world.sandbox.plex_url,
            json!({
                "locations": [
                    {"locationId": FG_LOCATION_ID, "locationCode": "FG-01", "buildingCode": "MAIN",
                     "buildingName": "Main Plant", "locationType": "Warehouse"},
                    {"locationId": WIP_LOCATION_ID, "locationCode": "WIP-01", "buildingCode": "MAIN",
                     "locationType": "Production", "inventoryLocation": false}
                ],
                "containers": [
                    {"serialNo": "S100", "partNo": "MW-BOLT-M8", "location": "FG-01", "quantity": 400},
                    {"serialNo": "S101", "partId": PLEX_BOLT_PART_ID, "locationId": FG_LOCATION_ID,
                     "quantity": 25.5, "containerStatus": "Hold"},
                    {"serialNo": "S102", "partNo": "MW-BOLT-M8", "location": "WIP-01", "quantity": 60,
                     "inventoryType": "WIP", "lotNo": "L-77"},
                    {"serialNo": "S200", "partNo": "MW-NUT-M8", "location": "FG-01", "quantity": 3000},
                    {"serialNo": "S201", "partNo": "MW-NUT-M8", "location": "FG-01", "quantity": 0}
                ]
            }),
        )
        .await;
}

fn serials(rows: &Value) -> Vec<String> {
    let mut serials: Vec<String> = rows
        .as_array()
        .unwrap_or_else(|| panic!("a bare array: {rows}"))
        .iter()
        .map(|row| row["serialNo"].as_str().unwrap().to_owned())
        .collect();
    serials.sort();
    serials
}

#[tokio::test]
async fn plex_containers_are_one_bare_array_of_active_containers_with_every_schema_field() {
    let world = support::start().await;
    seed_plex_stock(&world).await;

    let response = world.plex_get("/inventory/v1/inventory-tracking/containers").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "content-type"), Some("application/json; charset=utf-8"));
    let rows = body(response).await;
    // The empty container is not active.
    assert_eq!(serials(&rows), ["S100", "S101", "S102", "S200"]);
    let fields = [
        "serialNo",
        "partId",
        "partNo",
        "revision",
        "partNoRevision",
        "partName",
        "partOperationId",
        "operationNo",
        "operationCode",
        "containerStatus",
        "locationId",
        "location",
        "quantity",
        "quantityInventoryUnit",
        "grossWeight",
        "netWeight",
        "tareWeight",
        "containerType",
        "trackingNo",
        "addDateTime",
        "updateDateTime",
        "containerShelfDateTime",
        "masterUnitId",
        "masterUnitNo",
        "lotId",
        "lotNo",
        "heatId",
        "heatCode",
        "heatNo",
        "eun",
        "inventoryType",
    ];
    for row in rows.as_array().unwrap() {
        let keys: HashSet<&str> = row.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, fields.iter().copied().collect::<HashSet<_>>(), "{row}");
    }
    let hold = rows.as_array().unwrap().iter().find(|row| row["serialNo"] == "S101").unwrap();
    assert_eq!(hold["partNo"], "MW-BOLT-M8", "a container named by partId carries the part's number");
    assert_eq!(hold["partId"], PLEX_BOLT_PART_ID);
    assert_eq!(hold["location"], "FG-01");
    assert_eq!(hold["containerStatus"], "Hold");
    assert_eq!(hold["quantity"], 25.5);
    assert!(hold["lotNo"].is_null());
    let wip = rows.as_array().unwrap().iter().find(|row| row["serialNo"] == "S102").unwrap();
    assert_eq!((wip["inventoryType"].clone(), wip["lotNo"].clone()), (json!("WIP"), json!("L-77")));
    assert_eq!(wip["locationId"], WIP_LOCATION_ID);

    // One container by its serial number; an inactive one is still there, an unknown one is 404.
    let one = body(world.plex_get("/inventory/v1/inventory-tracking/containers/S201").await).await;
    assert_eq!((one["serialNo"].clone(), one["quantity"].clone()), (json!("S201"), json!(0)));
    let unknown = world.plex_get("/inventory/v1/inventory-tracking/containers/NOPE").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(body(unknown).await["code"], "RESOURCE_NOT_FOUND");

    // The second tenant has no containers: an empty array, or 404 when configured so.
    let other = world
        .http
        .get(world.plex("/inventory/v1/inventory-tracking/containers"))
        .header("X-Plex-Connect-Api-Key", demo::PLEX_API_KEY)
        .header("X-Plex-Connect-Tenant-Id", demo::PLEX_SECOND_TENANT_ID)
        .send()
        .await
        .unwrap();
    assert_eq!(body(other).await, json!([]));
}

#[tokio::test]
async fn plex_container_filters_match_part_location_and_inventory_type_and_ignore_unknown_parameters() {
    let world = support::start().await;
    seed_plex_stock(&world).await;
    let list = |query: String| {
        let world = &world;
        async move { body(world.plex_get(&format!("/inventory/v1/inventory-tracking/containers?{query}")).await).await }
    };

    // Ids compare case-insensitively.
    let bolts = list(format!("partId={}", PLEX_BOLT_PART_ID.to_uppercase())).await;
    assert_eq!(serials(&bolts), ["S100", "S101", "S102"]);
    let in_fg = list(format!("locationId={FG_LOCATION_ID}")).await;
    assert_eq!(serials(&in_fg), ["S100", "S101", "S200"]);
    let bolts_in_fg = list(format!("partId={PLEX_BOLT_PART_ID}&LOCATIONID={FG_LOCATION_ID}")).await;
    assert_eq!(serials(&bolts_in_fg), ["S100", "S101"]);
    // inventoryType is a list: repeated values mean OR.
    assert_eq!(serials(&list("inventoryType=WIP".to_owned()).await), ["S102"]);
    assert_eq!(serials(&list("inventoryType=WIP&inventoryType=FG".to_owned()).await).len(), 4);
    // No date filter exists, and unknown parameters are ignored: everything comes back.
    assert_eq!(serials(&list("updatedAfter=2030-01-01T00:00:00Z&limit=1".to_owned()).await).len(), 4);
    assert_eq!(list(format!("partId={PLEX_NUT_PART_ID}&lotId=00000000-0000-0000-0000-000000000000")).await, json!([]));

    // empty_list_status 404 applies to the new lists too.
    world.configure(&world.sandbox.plex_url, json!({"empty_list_status": 404})).await;
    let empty = world.plex_get("/inventory/v1/inventory-tracking/containers?inventoryType=RAW").await;
    assert_eq!(empty.status(), StatusCode::NOT_FOUND);
    assert_eq!(body(empty).await["code"], "RESOURCE_NOT_FOUND");
}

#[tokio::test]
async fn plex_locations_list_with_their_filters() {
    let world = support::start().await;
    seed_plex_stock(&world).await;
    let all = body(world.plex_get("/inventory/v1/inventory-definitions/locations").await).await;
    let codes: Vec<&str> = all.as_array().unwrap().iter().map(|row| row["locationCode"].as_str().unwrap()).collect();
    assert_eq!(codes, ["FG-01", "WIP-01"]);
    let fields: HashSet<&str> = all[0].as_object().unwrap().keys().map(String::as_str).collect();
    let expected = [
        "locationId",
        "locationCode",
        "buildingName",
        "buildingCode",
        "locationType",
        "inventoryLocation",
        "supplyLocation",
        "tankSilo",
    ];
    assert_eq!(fields, expected.into_iter().collect());
    assert_eq!(all[1]["inventoryLocation"], false);
    let wip = body(world.plex_get("/inventory/v1/inventory-definitions/locations?locationCode=WIP-01").await).await;
    assert_eq!(wip.as_array().unwrap().len(), 1);
    assert_eq!(wip[0]["locationId"], WIP_LOCATION_ID);
    let by_id = format!("/inventory/v1/inventory-definitions/locations?locationId={}", FG_LOCATION_ID.to_uppercase());
    assert_eq!(body(world.plex_get(&by_id).await).await[0]["locationCode"], "FG-01");
}

#[tokio::test]
async fn plex_seeding_refuses_containers_of_unknown_parts_or_locations() {
    let world = support::start().await;
    let base = &world.sandbox.plex_url;
    seed_plex_stock(&world).await;
    for container in [
        json!({"partNo": "NO-SUCH-PART", "location": "FG-01", "quantity": 1}),
        json!({"partNo": "MW-BOLT-M8", "location": "NO-SUCH-LOCATION", "quantity": 1}),
        json!({"partNo": "MW-BOLT-M8", "location": "FG-01", "quantity": -1}),
        json!({"location": "FG-01", "quantity": 1}),
    ] {
        let (status, answer) =
            world.control(base, Method::POST, "/seed", Some(json!({"containers": [container.clone()]}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{container} was accepted: {answer}");
    }
    // A seeded container without a serial number gets one.
    world.seed(base, json!({"containers": [{"partNo": "MW-GEAR-24", "location": "FG-01", "quantity": 7}]})).await;
    let gears = body(
        world.plex_get("/inventory/v1/inventory-tracking/containers?partId=7a8b9c0d-1e2f-4a3b-8c5d-6e7f8091a2b3").await,
    )
    .await;
    assert!(gears[0]["serialNo"].as_str().is_some_and(|serial| !serial.is_empty()), "{gears}");
}

#[tokio::test]
async fn plex_container_adjustments_need_begin_and_end_dates() {
    let world = support::start().await;
    let path = "/inventory/v1/inventory-history/container-adjustments";

    let neither = world.plex_get(path).await;
    assert_eq!(neither.status(), StatusCode::BAD_REQUEST);
    let error = body(neither).await;
    assert_eq!(error["code"], "ARGUMENT_INVALID");
    let named: Vec<&str> =
        error["errors"].as_array().unwrap().iter().map(|e| e["metadata"][0]["field"].as_str().unwrap()).collect();
    assert_eq!(named, ["beginDate", "endDate"]);

    let no_end = world.plex_get(&format!("{path}?beginDate=2026-01-01T00:00:00Z")).await;
    assert_eq!(no_end.status(), StatusCode::BAD_REQUEST);
    let error = body(no_end).await;
    assert_eq!(error["errors"].as_array().unwrap().len(), 1);
    assert_eq!(error["errors"][0]["metadata"][0]["field"], "endDate");
    assert!(error["errors"][0]["message"].as_str().unwrap().contains("endDate"));

    let date_only = world.plex_get(&format!("{path}?beginDate=2026-01-01&endDate=2026-01-02T00:00:00Z")).await;
    assert_eq!(date_only.status(), StatusCode::BAD_REQUEST);
    let error = body(date_only).await;
    assert_eq!(error["errors"][0]["metadata"][0]["field"], "beginDate");
    assert_eq!(error["errors"][0]["metadata"][0]["providedValues"][0], "2026-01-01");

    // Names match case-insensitively, as everywhere in Connect.
    let fine = world.plex_get(&format!("{path}?BeginDate=2026-01-01T00:00:00Z&ENDDATE=2026-01-02T00:00:00Z")).await;
    assert_eq!(fine.status(), StatusCode::OK);
    assert_eq!(body(fine).await, json!([]));
}

#[tokio::test]
async fn plex_shop_floor_changes_are_recorded_as_adjustments_on_the_doubles_clock() {
    let world = support::start().await;
    let base = &world.sandbox.plex_url;
    seed_plex_stock(&world).await;
    let (_, clock) =
        world.control(base, Method::PUT, "/clock", Some(json!({"now": "2026-05-04T10:00:00Z", "freeze": true}))).await;
    assert!(clock["now"].as_str().unwrap().starts_with("2026-05-04T10:00:00"));

    // WHEN someone counts 390 bolts in S100, puts S101 back on OK, moves 100 nuts out of S200
    // into a new container at WIP-01, and S102 is consumed
    let (status, changed) =
        world.control(base, Method::PUT, "/inventory/containers/S100", Some(json!({"quantity": 390}))).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["container"]["quantity"], 390);
    world.control(base, Method::PUT, "/clock", Some(json!({"advance_seconds": 60}))).await;
    let (status, _) =
        world.control(base, Method::PUT, "/inventory/containers/S101", Some(json!({"containerStatus": "OK"}))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, moved) = world
        .control(
            base,
            Method::POST,
            "/inventory/move",
            Some(json!({"serialNo": "S200", "quantity": 100, "toLocation": "WIP-01"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    let new_serial = moved["containers"][1]["serialNo"].as_str().unwrap().to_owned();
    let (status, _) = world.control(base, Method::DELETE, "/inventory/containers/S102", None).await;
    assert_eq!(status, StatusCode::OK);
    // AND a change nobody records (record_adjustment: false)
    world
        .control(
            base,
            Method::PUT,
            "/inventory/containers/S100",
            Some(json!({"location": "WIP-01", "record_adjustment": false})),
        )
        .await;

    // THEN the containers show the new state
    let rows = body(world.plex_get("/inventory/v1/inventory-tracking/containers").await).await;
    let by_serial: BTreeMap<String, Value> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|row| (row["serialNo"].as_str().unwrap().to_owned(), row.clone()))
        .collect();
    assert!(!by_serial.contains_key("S102"), "a removed container is gone");
    assert_eq!(by_serial["S100"]["quantity"], 390);
    assert_eq!(by_serial["S100"]["location"], "WIP-01");
    assert_eq!(by_serial["S101"]["containerStatus"], "OK");
    assert_eq!(by_serial["S200"]["quantity"], 2900);
    assert_eq!(by_serial[&new_serial]["quantity"], 100);
    assert_eq!(by_serial[&new_serial]["partNo"], "MW-NUT-M8");
    assert_eq!(by_serial[&new_serial]["locationId"], WIP_LOCATION_ID);
    assert!(by_serial["S100"]["updateDateTime"].as_str().unwrap().starts_with("2026-05-04T10:01:00"));

    // AND the adjustment history has one row per recorded change, stamped with the clock
    let path = "/inventory/v1/inventory-history/container-adjustments";
    let all =
        body(world.plex_get(&format!("{path}?beginDate=2026-05-04T00:00:00Z&endDate=2026-05-05T00:00:00Z")).await)
            .await;
    let rows = all.as_array().unwrap();
    let summary: Vec<(String, f64, String)> = rows
        .iter()
        .map(|row| {
            (
                row["serialNo"].as_str().unwrap().to_owned(),
                row["quantity"].as_f64().unwrap(),
                row["adjustmentCode"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("S100".to_owned(), -10.0, "Quantity Change".to_owned()),
            ("S101".to_owned(), 0.0, "Status Change".to_owned()),
            ("S200".to_owned(), -100.0, "Move".to_owned()),
            (new_serial.clone(), 100.0, "Move".to_owned()),
            ("S102".to_owned(), -60.0, "Removed".to_owned()),
        ]
    );
    assert!(rows[0]["adjustmentDate"].as_str().unwrap().starts_with("2026-05-04T10:00:00"));
    assert!(rows[1]["adjustmentDate"].as_str().unwrap().starts_with("2026-05-04T10:01:00"));
    assert_eq!(rows[0]["partNumber"], "MW-BOLT-M8");
    assert_eq!(rows[0]["partId"], PLEX_BOLT_PART_ID);
    for field in [
        "netWeight",
        "revision",
        "partNumberRevision",
        "partOperationId",
        "operationCode",
        "operationNumber",
        "location",
        "locationId",
    ] {
        assert!(rows[0].get(field).is_some(), "{field} missing from {}", rows[0]);
    }

    // The window is inclusive and filters apply.
    let first_minute =
        body(world.plex_get(&format!("{path}?beginDate=2026-05-04T10:00Z&endDate=2026-05-04T10:00:59Z")).await).await;
    assert_eq!(serials(&first_minute), ["S100"]);
    let later = body(
        world
            .plex_get(&format!(
                "{path}?beginDate=2026-05-04T10:00:01Z&endDate=2026-05-05T00:00:00Z&partId={PLEX_NUT_PART_ID}"
            ))
            .await,
    )
    .await;
    let mut expected = vec!["S200".to_owned(), new_serial.clone()];
    expected.sort();
    assert_eq!(serials(&later), expected);
    let before =
        body(world.plex_get(&format!("{path}?beginDate=2026-05-03T00:00:00Z&endDate=2026-05-04T09:59:59Z")).await)
            .await;
    assert_eq!(before, json!([]));

    // Refused changes leave nothing behind.
    let (status, _) =
        world.control(base, Method::PUT, "/inventory/containers/NOPE", Some(json!({"quantity": 1}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) =
        world.control(base, Method::PUT, "/inventory/containers/S100", Some(json!({"quantity": -1}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = world
        .control(
            base,
            Method::POST,
            "/inventory/move",
            Some(json!({"serialNo": "S100", "quantity": 391, "toLocation": "FG-01"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, dump) = world.control(base, Method::GET, "/inventory", None).await;
    assert_eq!(dump["adjustments"].as_array().unwrap().len(), 5);
}

/// The fields of a container row the generator tests look at.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
struct ContainerRow {
    serial_no: String,
    part_id: String,
    part_no: String,
    location: String,
    container_status: String,
    quantity: f64,
    add_date_time: String,
}

async fn containers(world: &World) -> Vec<ContainerRow> {
    let response = world.plex_get("/inventory/v1/inventory-tracking/containers").await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("an array of containers")
}

#[tokio::test]
async fn plex_generator_makes_fifty_thousand_containers_over_ten_thousand_parts_in_one_array() {
    let world = support::start().await;
    let spec = json!({"parts": 10_000, "containers": 50_000, "seed": 7, "locations": ["FG-01", "FG-02", "QA"],
                      "statuses": ["OK", "OK", "Hold"], "quantity": {"min": 1, "max": 90}});
    let summary = world.sandbox.generate_plex_inventory(spec).await;
    assert_eq!(summary["containers"], 50_000);
    assert_eq!(summary["parts_created"], 10_000);

    let started = Instant::now();
    let rows = containers(&world).await;
    let took = started.elapsed();
    assert_eq!(rows.len(), 50_000);
    assert!(took < Duration::from_secs(60), "50 000 containers took {took:?}");

    let unique: HashSet<&str> = rows.iter().map(|row| row.serial_no.as_str()).collect();
    assert_eq!(unique.len(), 50_000, "serial numbers are unique");
    assert!(rows.iter().all(|row| (1.0..=90.0).contains(&row.quantity) && row.quantity.fract() == 0.0));
    let statuses: HashSet<&str> = rows.iter().map(|row| row.container_status.as_str()).collect();
    assert_eq!(statuses, HashSet::from(["OK", "Hold"]));
    let locations: HashSet<&str> = rows.iter().map(|row| row.location.as_str()).collect();
    assert_eq!(locations, HashSet::from(["FG-01", "FG-02", "QA"]));

    // Every container's part is a part of the tenant, by id and number.
    let parts = body(world.plex_get("/mdm/v1/parts").await).await;
    let parts: BTreeMap<&str, &str> = parts
        .as_array()
        .unwrap()
        .iter()
        .map(|part| (part["id"].as_str().unwrap(), part["number"].as_str().unwrap()))
        .collect();
    assert_eq!(parts.len(), 10_000 + demo::STORE_SKUS.len() + 1);
    assert!(rows.iter().all(|row| parts.get(row.part_id.as_str()) == Some(&row.part_no.as_str())));
    let used_parts: HashSet<&str> = rows.iter().map(|row| row.part_no.as_str()).collect();
    assert!(used_parts.len() > 9_000, "containers spread over the parts: {}", used_parts.len());

    // A filter on one generated part returns exactly its containers.
    let some_part = &rows[123];
    let filtered = body(
        world.plex_get(&format!("/inventory/v1/inventory-tracking/containers?partId={}", some_part.part_id)).await,
    )
    .await;
    let expected = rows.iter().filter(|row| row.part_id == some_part.part_id).count();
    assert_eq!(filtered.as_array().unwrap().len(), expected);
}

#[tokio::test]
async fn plex_generator_is_deterministic_for_a_seed() {
    let spec = |seed: u64| {
        json!({"parts": 40, "containers": 300, "seed": seed, "locations": ["A", "B"],
                                  "statuses": ["OK", "Hold", "Scrap"], "inventory_types": ["FG", "WIP"]})
    };
    let mut runs = Vec::new();
    for seed in [11, 11, 12] {
        let world = support::start().await;
        // Frozen clocks at the same instant make the dates comparable too.
        world
            .control(
                &world.sandbox.plex_url,
                Method::PUT,
                "/clock",
                Some(json!({"now": "2026-06-01T00:00:00Z", "freeze": true})),
            )
            .await;
        world.sandbox.generate_plex_inventory(spec(seed)).await;
        runs.push(containers(&world).await);
    }
    assert_eq!(runs[0].len(), 300);
    let first_difference = |a: &[ContainerRow], b: &[ContainerRow]| a.iter().zip(b).position(|(a, b)| a != b);
    assert_eq!(first_difference(&runs[0], &runs[1]), None, "the same seed gives the same containers");
    assert!(first_difference(&runs[0], &runs[2]).is_some(), "another seed gives others");
    // Dates are Plex date-times in the past of the clock.
    assert!(
        runs[0]
            .iter()
            .all(|row| row.add_date_time.ends_with('Z') && row.add_date_time.as_str() <= "2026-06-01T00:00:00Z")
    );
}

#[tokio::test]
async fn plex_generator_can_fill_the_existing_parts_and_refuses_nonsense() {
    let world = support::start().await;
    let summary = world.sandbox.generate_plex_inventory(json!({"containers": 50, "seed": 1})).await;
    assert_eq!((summary["parts_created"].clone(), summary["containers"].clone()), (json!(0), json!(50)));
    let rows = containers(&world).await;
    let demo_parts: HashSet<&str> = demo::STORE_SKUS.iter().copied().chain(["MW-GEAR-24"]).collect();
    assert!(rows.iter().all(|row| demo_parts.contains(row.part_no.as_str())));
    let (status, _) = world
        .control(
            &world.sandbox.plex_url,
            Method::POST,
            "/inventory/generate",
            Some(json!({"containers": 1, "statuses": []})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = world
        .control(
            &world.sandbox.plex_url,
            Method::POST,
            "/inventory/generate",
            Some(json!({"containers": 1, "tenant": "NOPE"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn plex_inventory_routes_get_faults_rate_limits_subscriptions_and_the_request_log() {
    let world = support::start().await;
    let base = &world.sandbox.plex_url;
    seed_plex_stock(&world).await;
    let path = "/inventory/v1/inventory-tracking/containers";

    // A fault on the inventory collection answers once, then the route works again.
    world
        .fault(
            base,
            json!({"path_prefix": "/inventory/", "times": 1, "fault": {"kind": "server_error", "status": 503}}),
        )
        .await;
    assert_eq!(world.plex_get(path).await.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(world.plex_get(path).await.status(), StatusCode::OK);
    world.fault(base, json!({"path_prefix": "/inventory/", "times": 1, "fault": "truncated_body"})).await;
    let cut = world.plex_get(path).await.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&cut).is_err(), "the body is cut: {cut}");

    // The request log has every call, with the fault that shaped it.
    let log = world.requests(base).await;
    let inventory: Vec<&Value> = log.iter().filter(|entry| entry["path"] == path).collect();
    assert_eq!(inventory.len(), 3);
    assert_eq!(inventory[0]["fault"], "server_error");
    assert_eq!(inventory[1]["status"], 200);

    // A key without the inventory collection is refused like any unsubscribed call.
    world.seed(base, json!({"api_keys": [{"key": "mdm-only", "collections": ["mdm"]}]})).await;
    let unsubscribed =
        world.http.get(world.plex(path)).header("X-Plex-Connect-Api-Key", "mdm-only").send().await.unwrap();
    assert_eq!(unsubscribed.status(), StatusCode::UNAUTHORIZED);
    let no_key = world.http.get(world.plex("/inventory/v1/inventory-definitions/locations")).send().await.unwrap();
    assert_eq!(no_key.status(), StatusCode::UNAUTHORIZED);

    // The per-key call limit counts inventory calls too.
    world.configure(base, json!({"rate_limit": {"calls": 2, "window_ms": 60_000}})).await;
    world.control(base, Method::PUT, "/clock", Some(json!({"advance_seconds": 120}))).await;
    assert_eq!(world.plex_get("/inventory/v1/inventory-definitions/locations").await.status(), StatusCode::OK);
    assert_eq!(world.plex_get(path).await.status(), StatusCode::OK);
    let limited = world
        .plex_get("/inventory/v1/inventory-history/container-adjustments?beginDate=2026-01-01T00:00Z&endDate=2026-01-02T00:00Z")
        .await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(number_header(&limited, "retry-after") >= 1);
    assert_eq!(body(limited).await["code"], "REQUEST_RATE_LIMITED");
    assert_eq!(world.sandbox.count_requests(System::Plex, "GET", "/inventory-tracking/containers").await, 5);
}
