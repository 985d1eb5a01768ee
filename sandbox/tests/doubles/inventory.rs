//! Stock sync doubles: Plex inventory (locations, containers, container adjustments, the bulk
//! generator and the shop-floor changes of the control plane) and BigCommerce inventory (catalog
//! products and variants with their tracking mode, locations, inventory items, absolute
//! adjustments and their rules, and the inventory webhooks).

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use sandbox::{SandboxConfig, System, demo};
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

// ---------------------------------------------------------------------------------------------
// BigCommerce
// ---------------------------------------------------------------------------------------------

const ABSOLUTE: &str = "/v3/inventory/adjustments/absolute";

/// `PUT /v3/inventory/adjustments/absolute` with the demo token.
async fn adjust(world: &World, body: Value) -> reqwest::Response {
    world
        .http
        .put(world.store(ABSOLUTE))
        .header("X-Auth-Token", demo::BIGCOMMERCE_ACCESS_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn rows(items: Value) -> Value {
    json!({"reason": "Plex stock sync", "items": items})
}

/// The on-hand level of `sku` at `location` from the control plane's dump.
async fn on_hand(world: &World, sku: &str, location: u64) -> i64 {
    let dump = world.sandbox.bigcommerce_inventory().await;
    let item = dump["items"].as_array().unwrap().iter().find(|item| item["sku"] == sku);
    item.unwrap_or_else(|| panic!("no item {sku} in {dump}"))["levels"][location.to_string()]["on_hand"]
        .as_i64()
        .unwrap()
}

/// `inventory_level` of a product from the catalog API.
async fn catalog_level(world: &World, product_id: u64) -> (i64, Vec<i64>) {
    let page =
        body(world.bigcommerce_get(&format!("/v3/catalog/products?id={product_id}&include=variants")).await).await;
    let product = &page["data"][0];
    let variants =
        product["variants"].as_array().unwrap().iter().map(|v| v["inventory_level"].as_i64().unwrap()).collect();
    (product["inventory_level"].as_i64().unwrap(), variants)
}

/// A second location (disabled unless `enabled`) and an untracked product.
async fn seed_store_extras(world: &World, enabled: bool) {
    world
        .seed(
            &world.sandbox.bigcommerce_url,
            json!({"stores": [{"store_hash": demo::BIGCOMMERCE_STORE_HASH,
                "locations": [{"id": 2, "code": "WH-EAST", "label": "East warehouse", "enabled": enabled}],
                "products": [{"id": 120, "name": "Gift card", "sku": "MW-GIFT", "inventory_tracking": "none",
                              "variants": [{"id": 220, "sku": "MW-GIFT"}]}]}]}),
        )
        .await;
}

#[tokio::test]
async fn bigcommerce_products_page_with_their_variants_tracking_and_levels() {
    let world = support::start().await;
    let response = world.bigcommerce_get("/v3/catalog/products?include=variants").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(header(&response, "x-rate-limit-requests-left").is_some());
    let page = body(response).await;
    let products = page["data"].as_array().unwrap();
    let tracking: Vec<(u64, &str, i64)> = products
        .iter()
        .map(|p| {
            (
                p["id"].as_u64().unwrap(),
                p["inventory_tracking"].as_str().unwrap(),
                p["inventory_level"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(tracking, [(111, "product", 1200), (112, "product", 3400), (113, "variant", 95)]);
    assert_eq!(products[2]["variants"].as_array().unwrap().len(), 2);
    assert_eq!(products[2]["variants"][1]["sku"], "MW-BRKT-100-SS");
    assert_eq!(products[2]["variants"][1]["product_id"], 113);
    assert_eq!(products[0]["base_variant_id"], 211);
    assert!(products[2]["base_variant_id"].is_null());
    for field in
        ["name", "sku", "price", "calculated_price", "is_visible", "date_modified", "custom_url", "availability"]
    {
        assert!(products[0].get(field).is_some(), "{field} missing");
    }
    let pagination = &page["meta"]["pagination"];
    assert_eq!(
        (pagination["total"].clone(), pagination["count"].clone(), pagination["per_page"].clone()),
        (json!(3), json!(3), json!(50))
    );

    // Without include=variants there are none; include_fields keeps the id and the fields named.
    let slim = body(world.bigcommerce_get("/v3/catalog/products?include_fields=sku,inventory_level").await).await;
    let mut keys: Vec<&str> = slim["data"][0].as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["id", "inventory_level", "sku"]);
    let excluded = body(world.bigcommerce_get("/v3/catalog/products?exclude_fields=id,name").await).await;
    assert!(excluded["data"][0].get("id").is_some() && excluded["data"][0].get("name").is_none());

    // Filters: sku, sku:in (the product's own SKU), id:in, id:not_in.
    let by_sku = body(world.bigcommerce_get("/v3/catalog/products?sku:in=MW-NUT-M8,MW-BRKT-100,NOPE").await).await;
    let ids: Vec<u64> = by_sku["data"].as_array().unwrap().iter().map(|p| p["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [112, 113]);
    let variant_sku = body(world.bigcommerce_get("/v3/catalog/products?sku=MW-BRKT-100-ZN").await).await;
    assert_eq!(variant_sku["data"], json!([]), "sku filters by the main SKU");
    let not_in = body(world.bigcommerce_get("/v3/catalog/products?id:not_in=111,113").await).await;
    assert_eq!(not_in["data"][0]["id"], 112);
    assert_eq!(not_in["meta"]["pagination"]["total"], 1);

    // Paging: a later page, and a limit above 250 served as 250.
    let second = body(world.bigcommerce_get("/v3/catalog/products?limit=2&page=2&sort=id&direction=desc").await).await;
    assert_eq!(second["data"][0]["id"], 111);
    assert_eq!(second["meta"]["pagination"]["total_pages"], 2);
    assert!(second["meta"]["pagination"]["links"]["previous"].is_string());
    let capped = body(world.bigcommerce_get("/v3/catalog/products?limit=5000").await).await;
    assert_eq!(capped["meta"]["pagination"]["per_page"], 250);
    let bad = world.bigcommerce_get("/v3/catalog/products?id:in=1,two").await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body(bad).await["errors"]["id:in"].is_string());
}

#[tokio::test]
async fn bigcommerce_variants_page_with_their_filters_and_no_sku_in() {
    let world = support::start().await;
    let all = body(world.bigcommerce_get("/v3/catalog/variants").await).await;
    let skus: Vec<&str> = all["data"].as_array().unwrap().iter().map(|v| v["sku"].as_str().unwrap()).collect();
    assert_eq!(skus, demo::STORE_SKUS);
    assert_eq!(all["data"][2]["inventory_level"], 80);
    assert_eq!(all["data"][0]["inventory_level"], 1200, "a product-tracked variant shows the product's level");
    let one = body(world.bigcommerce_get("/v3/catalog/variants?sku=MW-BRKT-100-SS").await).await;
    assert_eq!((one["data"][0]["id"].clone(), one["data"][0]["product_id"].clone()), (json!(214), json!(113)));
    let of_product = body(world.bigcommerce_get("/v3/catalog/variants?product_id:in=113,112").await).await;
    assert_eq!(of_product["meta"]["pagination"]["total"], 3);
    // There is no sku:in on variants: the parameter is ignored and every variant comes back.
    let ignored = body(world.bigcommerce_get("/v3/catalog/variants?sku:in=MW-NUT-M8").await).await;
    assert_eq!(ignored["meta"]["pagination"]["total"], 4);
    let slim =
        body(world.bigcommerce_get("/v3/catalog/variants?include_fields=sku,inventory_level&limit=1&page=4").await)
            .await;
    let mut keys: Vec<&str> = slim["data"][0].as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["id", "inventory_level", "product_id", "sku"]);
    assert_eq!(slim["data"][0]["sku"], "MW-BRKT-100-SS");
    assert!(slim["meta"]["pagination"]["links"].get("next").is_none());
}

#[tokio::test]
async fn bigcommerce_locations_have_the_default_one_and_seeded_ones_can_be_disabled() {
    let world = support::start().await;
    let base = &world.sandbox.bigcommerce_url;
    let first = body(world.bigcommerce_get("/v3/inventory/locations").await).await;
    assert_eq!(first["data"].as_array().unwrap().len(), 1);
    let default = &first["data"][0];
    assert_eq!((default["id"].clone(), default["enabled"].clone()), (json!(1), json!(true)));
    assert_eq!(
        (default["code"].clone(), default["label"].clone()),
        (json!("BC-LOCATION-1"), json!("Default location"))
    );

    seed_store_extras(&world, false).await;
    let both = body(world.bigcommerce_get("/v3/inventory/locations").await).await;
    assert_eq!(both["data"][1]["code"], "WH-EAST");
    assert_eq!(both["data"][1]["enabled"], false);
    let active = body(world.bigcommerce_get("/v3/inventory/locations?is_active=true").await).await;
    assert_eq!(active["data"].as_array().unwrap().len(), 1);
    let by_code = body(world.bigcommerce_get("/v3/inventory/locations?location_code:in=WH-EAST").await).await;
    assert_eq!(by_code["data"][0]["id"], 2);

    let (status, enabled) =
        world.control(base, Method::PUT, "/inventory/locations/2", Some(json!({"enabled": true}))).await;
    assert_eq!(status, StatusCode::OK, "{enabled}");
    assert_eq!(
        body(world.bigcommerce_get("/v3/inventory/locations?location_id:in=2").await).await["data"][0]["enabled"],
        true
    );
    let (status, _) = world.control(base, Method::PUT, "/inventory/locations/1", Some(json!({"enabled": false}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the default location stays enabled");
    let (status, _) = world.control(base, Method::PUT, "/inventory/locations/9", Some(json!({"enabled": false}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bigcommerce_inventory_items_list_each_tracked_item_at_each_location() {
    let world = support::start().await;
    seed_store_extras(&world, true).await;
    let response = world.bigcommerce_get("/v3/inventory/items").await;
    assert_eq!(response.status(), StatusCode::OK);
    let page = body(response).await;
    let identities: Vec<Value> = page["data"].as_array().unwrap().iter().map(|item| item["identity"].clone()).collect();
    assert_eq!(
        identities,
        [
            json!({"sku": "MW-BOLT-M8", "variant_id": 211, "product_id": 111, "sku_id": null}),
            json!({"sku": "MW-NUT-M8", "variant_id": 212, "product_id": 112, "sku_id": null}),
            json!({"sku": "MW-BRKT-100-ZN", "variant_id": 213, "product_id": 113, "sku_id": 213}),
            json!({"sku": "MW-BRKT-100-SS", "variant_id": 214, "product_id": 113, "sku_id": 214}),
        ],
        "the untracked product is no inventory item"
    );
    let bolt = &page["data"][0]["locations"];
    assert_eq!(bolt.as_array().unwrap().len(), 2);
    assert_eq!(bolt[0]["location_id"], 1);
    assert_eq!(
        (bolt[0]["total_inventory_onhand"].clone(), bolt[0]["available_to_sell"].clone()),
        (json!(1200), json!(1200))
    );
    assert_eq!(bolt[1]["location_code"], "WH-EAST");
    assert_eq!(bolt[1]["total_inventory_onhand"], 0);
    for field in ["safety_stock", "is_in_stock", "warning_level", "bin_picking_number"] {
        assert!(bolt[0]["settings"].get(field).is_some(), "{field}");
    }

    let by_sku =
        body(world.bigcommerce_get("/v3/inventory/items?sku:in=MW-NUT-M8,MW-BRKT-100-SS&location_id:in=1").await).await;
    let skus: Vec<&str> =
        by_sku["data"].as_array().unwrap().iter().map(|i| i["identity"]["sku"].as_str().unwrap()).collect();
    assert_eq!(skus, ["MW-NUT-M8", "MW-BRKT-100-SS"]);
    assert_eq!(by_sku["data"][0]["locations"].as_array().unwrap().len(), 1);
    let by_variant = body(world.bigcommerce_get("/v3/inventory/items?variant_id:in=213").await).await;
    assert_eq!(by_variant["data"][0]["identity"]["sku"], "MW-BRKT-100-ZN");
    let by_product = body(world.bigcommerce_get("/v3/inventory/items?product_id:in=113&limit=1&page=2").await).await;
    assert_eq!(by_product["data"][0]["identity"]["variant_id"], 214);
    assert_eq!(by_product["meta"]["pagination"]["total"], 2);
    let capped = body(world.bigcommerce_get("/v3/inventory/items?limit=5000").await).await;
    assert_eq!(capped["meta"]["pagination"]["per_page"], 1000, "at most 1000 items a page");
    assert_eq!(world.bigcommerce_get("/v3/inventory/items?limit=0").await.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn bigcommerce_absolute_adjustments_set_levels_and_answer_a_transaction_id() {
    let world = support::start().await;
    seed_store_extras(&world, true).await;

    // WHEN the sync sets the bolt (tracked by product) by product id, and both brackets (tracked by
    // variant) by variant id and by SKU, at the default location; and the nut at the second one
    let response = adjust(
        &world,
        rows(json!([
            {"location_id": 1, "product_id": 111, "quantity": 50},
            {"location_id": 1, "variant_id": 213, "quantity": 7},
            {"location_id": 1, "sku": "MW-BRKT-100-SS", "quantity": 0},
            {"location_id": 2, "product_id": 112, "quantity": 33}
        ])),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "content-type"), Some("application/json"));
    let answer = body(response).await;
    let transaction = answer["transaction_id"].as_str().expect("a transaction id").to_owned();
    assert!(uuid::Uuid::parse_str(&transaction).is_ok(), "{transaction}");

    // THEN the levels are set
    assert_eq!(on_hand(&world, "MW-BOLT-M8", 1).await, 50);
    assert_eq!(on_hand(&world, "MW-BRKT-100-ZN", 1).await, 7);
    assert_eq!(on_hand(&world, "MW-BRKT-100-SS", 1).await, 0);
    assert_eq!(on_hand(&world, "MW-NUT-M8", 2).await, 33);
    assert_eq!(on_hand(&world, "MW-NUT-M8", 1).await, 3400);
    // AND the catalog shows the default location
    assert_eq!(catalog_level(&world, 111).await, (50, vec![50]));
    assert_eq!(catalog_level(&world, 113).await, (7, vec![7, 0]));
    assert_eq!(catalog_level(&world, 112).await.0, 3400, "another location's stock is not the catalog's");
    let items = body(world.bigcommerce_get("/v3/inventory/items?sku:in=MW-NUT-M8").await).await;
    assert_eq!(items["data"][0]["locations"][1]["total_inventory_onhand"], 33);

    // AND each call has its own transaction, which the dump lists
    let again = body(adjust(&world, rows(json!([{"location_id": 1, "product_id": 111, "quantity": 50}]))).await).await;
    assert_ne!(again["transaction_id"].as_str().unwrap(), transaction);
    let dump = world.sandbox.bigcommerce_inventory().await;
    let transactions = dump["transactions"].as_array().unwrap();
    assert_eq!(transactions.len(), 2);
    assert_eq!(transactions[0]["transaction_id"], transaction.as_str());
    assert_eq!((transactions[0]["items"].clone(), transactions[0]["changed"].clone()), (json!(4), json!(4)));
    assert_eq!(transactions[1]["changed"], 0, "setting a level it already has changes nothing");
    assert_eq!(transactions[0]["reason"], "Plex stock sync");
}

#[tokio::test]
async fn bigcommerce_absolute_adjustments_take_at_most_two_thousand_rows() {
    let world = support::start().await;
    let row = |n: usize| json!({"location_id": 1, "product_id": 111, "quantity": n});

    let too_many: Vec<Value> = (1..=2001).map(row).collect();
    let refused = adjust(&world, rows(Value::Array(too_many))).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let error = body(refused).await;
    assert_eq!(error["status"], 422);
    assert!(error["title"].as_str().unwrap().contains("2000"), "{error}");
    assert!(error["errors"]["items"].is_string());
    assert_eq!(on_hand(&world, "MW-BOLT-M8", 1).await, 1200, "nothing was applied");

    // Exactly 2000 rows are fine; rows apply in order, so the last one for an item wins.
    let most: Vec<Value> = (1..=2000).map(row).collect();
    let accepted = adjust(&world, rows(Value::Array(most))).await;
    assert_eq!(accepted.status(), StatusCode::OK);
    assert_eq!(on_hand(&world, "MW-BOLT-M8", 1).await, 2000);
}

#[tokio::test]
async fn bigcommerce_absolute_adjustment_quantities_are_integers_from_0_to_2147483647() {
    let world = support::start().await;
    for (quantity, field_error) in
        [(json!(-1), true), (json!(2_147_483_648_i64), true), (json!(2.5), true), (json!("5"), true)]
    {
        let response = adjust(&world, rows(json!([{"location_id": 1, "product_id": 111, "quantity": quantity}]))).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{quantity}");
        let error = body(response).await;
        assert_eq!(error["errors"]["items.0.quantity"].is_string(), field_error, "{error}");
    }
    assert_eq!(on_hand(&world, "MW-BOLT-M8", 1).await, 1200);
    let most =
        adjust(&world, rows(json!([{"location_id": 1, "product_id": 111, "quantity": 2_147_483_647_i64}]))).await;
    assert_eq!(most.status(), StatusCode::OK);
    assert_eq!(on_hand(&world, "MW-BOLT-M8", 1).await, 2_147_483_647);
    let zero = adjust(&world, rows(json!([{"location_id": 1, "product_id": 111, "quantity": 0}]))).await;
    assert_eq!(zero.status(), StatusCode::OK);
    assert_eq!(catalog_level(&world, 111).await.0, 0);

    // Shape problems are named per row.
    let shapes = adjust(
        &world,
        rows(json!([
            {"product_id": 111, "quantity": 1},
            {"location_id": 1, "quantity": 1},
            {"location_id": 1, "product_id": 111, "sku": "MW-BOLT-M8", "quantity": 1},
            {"location_id": 1, "product_id": 111}
        ])),
    )
    .await;
    assert_eq!(shapes.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let errors = body(shapes).await["errors"].clone();
    for key in ["items.0.location_id", "items.1", "items.2", "items.3.quantity"] {
        assert!(errors[key].is_string(), "{key} not named in {errors}");
    }
    let not_json = world
        .http
        .put(world.store(ABSOLUTE))
        .header("X-Auth-Token", demo::BIGCOMMERCE_ACCESS_TOKEN)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn bigcommerce_absolute_adjustment_refuses_the_whole_request_listing_every_bad_item() {
    let world = support::start().await;
    seed_store_extras(&world, false).await;
    let response = adjust(
        &world,
        rows(json!([
            {"location_id": 1, "product_id": 112, "quantity": 5},
            {"location_id": 1, "sku": "NO-SUCH-SKU", "quantity": 1},
            {"location_id": 1, "variant_id": 999, "quantity": 1},
            {"location_id": 1, "product_id": 999, "quantity": 1},
            {"location_id": 1, "variant_id": 211, "quantity": 1},
            {"location_id": 1, "sku": "MW-BOLT-M8", "quantity": 1},
            {"location_id": 1, "product_id": 113, "quantity": 1},
            {"location_id": 1, "product_id": 120, "quantity": 1},
            {"location_id": 2, "variant_id": 213, "quantity": 1},
            {"location_id": 7, "variant_id": 214, "quantity": 1}
        ])),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let error = body(response).await;
    assert_eq!(error["status"], 422);
    assert_eq!(error["errors"], json!({}));
    assert!(error["type"].as_str().unwrap().contains("api-status-codes"));
    let title = error["title"].as_str().unwrap();
    let expected = [
        "Item with sku NO-SUCH-SKU does not exist",
        "Item with variant_id 999 does not exist",
        "Item with product_id 999 does not exist",
        "Item with variant_id 211 is tracked by product, please update stock by product id",
        "Item with sku MW-BOLT-M8 is tracked by product, please update stock by product id",
        "Item with product_id 113 is tracked by variant",
        "Item with product_id 120 does not track inventory",
        "Location with id 2 is disabled",
        "Location with id 7 does not exist",
    ];
    assert!(title.starts_with('[') && title.ends_with(']'), "{title}");
    let mut from = 0;
    for message in expected {
        let at = title[from..].find(message).unwrap_or_else(|| panic!("{message:?} missing (in order) from {title}"));
        from += at + message.len();
    }
    // Nothing was applied, not even the valid first row.
    assert_eq!(on_hand(&world, "MW-NUT-M8", 1).await, 3400);
    assert_eq!(world.sandbox.bigcommerce_inventory().await["transactions"], json!([]));

    // One bad item is enough to refuse the request: exactly the spec's example message.
    let one = body(adjust(&world, rows(json!([{"location_id": 1, "variant_id": 212, "quantity": 1}]))).await).await;
    assert_eq!(one["title"], "[Item with variant_id 212 is tracked by product, please update stock by product id]");
}

#[tokio::test]
async fn bigcommerce_product_tracked_items_go_by_product_id_and_variant_tracked_ones_by_variant_or_sku() {
    let world = support::start().await;
    let ok = |response: reqwest::Response| async move { response.status() == StatusCode::OK };
    assert!(ok(adjust(&world, rows(json!([{"location_id": 1, "product_id": 112, "quantity": 11}]))).await).await);
    assert!(!ok(adjust(&world, rows(json!([{"location_id": 1, "variant_id": 212, "quantity": 12}]))).await).await);
    assert!(!ok(adjust(&world, rows(json!([{"location_id": 1, "sku": "MW-NUT-M8", "quantity": 12}]))).await).await);
    assert!(ok(adjust(&world, rows(json!([{"location_id": 1, "variant_id": 214, "quantity": 21}]))).await).await);
    assert!(ok(adjust(&world, rows(json!([{"location_id": 1, "sku": "MW-BRKT-100-ZN", "quantity": 22}]))).await).await);
    assert!(!ok(adjust(&world, rows(json!([{"location_id": 1, "product_id": 113, "quantity": 23}]))).await).await);
    assert!(!ok(adjust(&world, rows(json!([{"location_id": 1, "sku": "MW-BRKT-100", "quantity": 23}]))).await).await);
    assert_eq!(on_hand(&world, "MW-NUT-M8", 1).await, 11);
    assert_eq!(catalog_level(&world, 113).await, (43, vec![22, 21]));
}

type Calls = std::sync::Arc<std::sync::Mutex<Vec<(Value, String)>>>;

/// A receiver on 127.0.0.1 that keeps every callback (parsed and raw) and answers 200.
struct Receiver {
    url: String,
    calls: Calls,
}

impl Receiver {
    async fn start() -> Receiver {
        use axum::routing::post;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let calls: Calls = std::sync::Arc::default();
        let kept = calls.clone();
        let app = axum::Router::new().route(
            "/hook",
            post(move |raw: String| {
                let kept = kept.clone();
                async move {
                    let callback: Value = serde_json::from_str(&raw).expect("the callback is JSON");
                    kept.lock().unwrap().push((callback, raw));
                    axum::http::StatusCode::OK
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url: format!("http://{address}/hook"), calls }
    }

    /// Waits until `count` callbacks arrived; returns them sorted by scope, then data id.
    async fn wait_for(&self, count: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let mut calls: Vec<Value> = self.calls.lock().unwrap().iter().map(|(call, _)| call.clone()).collect();
            if calls.len() >= count {
                calls.sort_by_key(|call| {
                    (call["scope"].as_str().unwrap_or_default().to_owned(), call["data"]["id"].as_u64())
                });
                return calls;
            }
            assert!(Instant::now() < deadline, "only {} of {count} callbacks arrived: {calls:?}", calls.len());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn count(&self) -> usize {
        self.calls.lock().unwrap().len()
    }

    /// The raw body of the first callback that `pick` chooses.
    fn raw_body_of(&self, pick: impl Fn(&Value) -> bool) -> String {
        let calls = self.calls.lock().unwrap();
        calls.iter().find(|(call, _)| pick(call)).map(|(_, raw)| raw.clone()).expect("such a callback")
    }
}

async fn register(world: &World, scope: &str, destination: &str) {
    let response = world
        .http
        .post(world.store("/v3/hooks"))
        .header("X-Auth-Token", demo::BIGCOMMERCE_ACCESS_TOKEN)
        .json(&json!({"scope": scope, "destination": destination}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn bigcommerce_stock_changes_send_inventory_webhooks_to_registered_hooks() {
    let world =
        support::start_with(SandboxConfig { seed_demo: true, time_scale: 0.001, ..SandboxConfig::default() }).await;
    let receiver = Receiver::start().await;
    register(&world, "store/product/inventory/updated", &receiver.url).await;
    register(&world, "store/sku/inventory/updated", &receiver.url).await;

    // WHEN an absolute adjustment changes the bolt (by product) and the stainless bracket (by
    // variant), and sets the zinc bracket to the 80 it already has
    let response = adjust(
        &world,
        rows(json!([
            {"location_id": 1, "product_id": 111, "quantity": 1000},
            {"location_id": 1, "variant_id": 214, "quantity": 18},
            {"location_id": 1, "variant_id": 213, "quantity": 80}
        ])),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);

    // THEN one callback per change arrives, in the documented shape
    let calls = receiver.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.count(), 2, "an unchanged level sends nothing");
    let product = &calls[0];
    assert_eq!(product["scope"], "store/product/inventory/updated");
    assert_eq!(product["producer"], format!("stores/{}", demo::BIGCOMMERCE_STORE_HASH));
    assert_eq!(product["store_id"], demo::BIGCOMMERCE_STORE_ID.to_string());
    assert_eq!(
        product["data"],
        json!({"type": "product", "id": 111, "location_id": 1,
               "inventory": {"product_id": 111, "method": "absolute", "value": -200}})
    );
    // `hash` is the SHA-1 of the JSON-encoded `data` as sent (the last field of the raw body).
    let raw = receiver.raw_body_of(|call| call["scope"] == "store/product/inventory/updated");
    let data = &raw[raw.find(r#""data":"#).unwrap() + 7..raw.len() - 1];
    let hash = hex::encode(<sha1::Sha1 as sha1::Digest>::digest(data.as_bytes()));
    assert_eq!(product["hash"], hash);
    let sku = &calls[1];
    assert_eq!(sku["scope"], "store/sku/inventory/updated");
    assert_eq!(
        sku["data"],
        json!({"type": "sku", "id": 214, "location_id": 1,
               "inventory": {"product_id": 113, "method": "absolute", "value": 3, "variant_id": 214}})
    );

    // WHEN someone edits the nut's stock in the control panel
    let (status, edited) = world
        .control(
            &world.sandbox.bigcommerce_url,
            Method::PUT,
            "/inventory/levels",
            Some(json!({"items": [{"sku": "MW-NUT-M8", "quantity": 3000}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["deliveries"].as_array().unwrap().len(), 1);
    let calls = receiver.wait_for(3).await;
    let nut = calls.iter().find(|call| call["data"]["id"] == 112).expect("the nut's callback");
    assert_eq!(nut["data"]["inventory"], json!({"product_id": 112, "method": "absolute", "value": -400}));
    assert_eq!(catalog_level(&world, 112).await.0, 3000);

    // WHEN an order takes 5 bolts and 2 zinc brackets
    register(&world, "store/product/inventory/order/updated", &receiver.url).await;
    let order = json!({"status_id": 11, "products": [
        {"product_id": 111, "variant_id": 211, "sku": "MW-BOLT-M8", "name": "Hex Bolt", "quantity": 5, "price_ex_tax": "0.4500"},
        {"product_id": 113, "variant_id": 213, "sku": "MW-BRKT-100-ZN", "name": "Bracket", "quantity": 2, "price_ex_tax": "6.9000"}]});
    let (status, placed) = world.control(&world.sandbox.bigcommerce_url, Method::POST, "/orders", Some(order)).await;
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    assert_eq!(placed["inventory_deliveries"].as_array().unwrap().len(), 3);

    // THEN the default location's stock goes down and relative callbacks follow
    assert_eq!(on_hand(&world, "MW-BOLT-M8", 1).await, 995);
    assert_eq!(on_hand(&world, "MW-BRKT-100-ZN", 1).await, 78);
    let calls = receiver.wait_for(6).await;
    let relative: Vec<(&str, u64, i64)> = calls
        .iter()
        .filter(|call| call["data"]["inventory"]["method"] == "relative")
        .map(|call| {
            (
                call["scope"].as_str().unwrap(),
                call["data"]["id"].as_u64().unwrap(),
                call["data"]["inventory"]["value"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        relative,
        [
            ("store/product/inventory/order/updated", 111, -5),
            ("store/product/inventory/updated", 111, -5),
            ("store/sku/inventory/updated", 213, -2),
        ]
    );
    // AND the delivery log has them, without an order id
    let (_, log) = world.control(&world.sandbox.bigcommerce_url, Method::GET, "/deliveries", None).await;
    let inventory: Vec<&Value> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["scope"].as_str().unwrap().contains("/inventory/"))
        .collect();
    assert_eq!(inventory.len(), 6);
    assert!(inventory.iter().all(|entry| entry["order_id"].is_null() && entry["outcome"] == "delivered"));
}

#[tokio::test]
async fn bigcommerce_inventory_routes_get_auth_faults_rate_limits_and_the_request_log() {
    let world = support::start().await;
    let base = &world.sandbox.bigcommerce_url;
    let bolt = json!([{"location_id": 1, "product_id": 111, "quantity": 10}]);

    // No token: 401 in the v3 shape, and nothing changes.
    let anonymous = world.http.put(world.store(ABSOLUTE)).json(&rows(bolt.clone())).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body(anonymous).await["status"], 401);

    // A fault answers once, before the write: nothing is applied.
    world.fault(base, json!({"method": "PUT", "path_contains": ABSOLUTE, "times": 1, "fault": {"kind": "server_error", "status": 503}})).await;
    assert_eq!(adjust(&world, rows(bolt.clone())).await.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(on_hand(&world, "MW-BOLT-M8", 1).await, 1200);
    assert_eq!(adjust(&world, rows(bolt.clone())).await.status(), StatusCode::OK);
    assert_eq!(on_hand(&world, "MW-BOLT-M8", 1).await, 10);
    world.fault(base, json!({"path_contains": "/v3/inventory/items", "times": 1, "fault": "rate_limit"})).await;
    let limited = world.bigcommerce_get("/v3/inventory/items").await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(number_header(&limited, "x-retry-after") >= 1);
    world.fault(base, json!({"path_contains": "/v3/catalog/", "times": 1, "fault": "truncated_body"})).await;
    let cut = world.bigcommerce_get("/v3/catalog/variants").await.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&cut).is_err());

    // The store's quota counts the new routes: 3 more calls, then 429.
    world.configure(base, json!({"rate_limit": {"quota": 3, "window_ms": 60_000}})).await;
    world.control(base, Method::PUT, "/clock", Some(json!({"advance_seconds": 120}))).await;
    let mut lefts = Vec::new();
    for path in ["/v3/inventory/items", "/v3/inventory/locations", "/v3/catalog/products"] {
        let response = world.bigcommerce_get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        lefts.push(number_header(&response, "x-rate-limit-requests-left"));
    }
    assert_eq!(lefts, [2, 1, 0]);
    let refused = adjust(&world, rows(bolt.clone())).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(number_header(&refused, "x-rate-limit-requests-quota"), 3);
    assert_eq!(on_hand(&world, "MW-BOLT-M8", 1).await, 10);

    // The request log lets a test count absolute adjustments and item reads.
    assert_eq!(world.sandbox.count_requests(System::BigCommerce, "PUT", ABSOLUTE).await, 4);
    assert_eq!(world.sandbox.count_requests(System::BigCommerce, "GET", "/v3/inventory/items").await, 2);
    let statuses: Vec<Value> = world
        .requests(base)
        .await
        .into_iter()
        .filter(|entry| entry["method"] == "PUT")
        .map(|entry| entry["status"].clone())
        .collect();
    assert_eq!(statuses, [json!(401), json!(503), json!(200), json!(429)]);
}

#[tokio::test]
async fn bigcommerce_catalog_generator_is_deterministic_and_lines_up_with_the_plex_generator() {
    let spec = |seed: u64| {
        json!({"skus": 10_000, "seed": seed, "variant_share": 0.3, "max_variants": 3,
                                  "inventory_level": {"min": 0, "max": 40}})
    };
    let mut dumps = Vec::new();
    let mut summaries = Vec::new();
    for seed in [5, 5, 6] {
        let world = support::start().await;
        summaries.push(world.sandbox.generate_bigcommerce_catalog(spec(seed)).await);
        dumps.push(world.sandbox.bigcommerce_inventory().await["items"].clone());
    }
    let summary = &summaries[0];
    assert_eq!(summary["skus"], 10_000);
    assert_eq!((summary["first_sku"].clone(), summary["last_sku"].clone()), (json!("GEN-00001"), json!("GEN-10000")));
    assert!(summary["variant_tracked"].as_u64().unwrap() > 0 && summary["product_tracked"].as_u64().unwrap() > 0);
    assert_eq!(dumps[0], dumps[1], "the same seed gives the same catalog");
    assert_ne!(dumps[0], dumps[2], "another seed gives another");
    let items = dumps[0].as_array().unwrap();
    assert_eq!(items.len(), 10_000 + demo::STORE_SKUS.len(), "every generated SKU is an inventory item");
    let tracking: HashSet<&str> = items.iter().map(|item| item["tracking"].as_str().unwrap()).collect();
    assert_eq!(tracking, HashSet::from(["product", "variant"]));
    let generated = items.iter().filter(|item| item["sku"].as_str().unwrap().starts_with("GEN-"));
    assert!(generated.clone().all(|item| (0..=40).contains(&item["levels"]["1"]["on_hand"].as_i64().unwrap())));
    assert_eq!(generated.count(), 10_000);

    // The generated SKUs are the Plex generator's part numbers.
    let world = support::start().await;
    world.sandbox.generate_bigcommerce_catalog(spec(5)).await;
    world.sandbox.generate_plex_inventory(json!({"parts": 10_000, "containers": 10, "seed": 1})).await;
    let skus: HashSet<String> = items
        .iter()
        .map(|item| item["sku"].as_str().unwrap().to_owned())
        .filter(|sku| sku.starts_with("GEN-"))
        .collect();
    let parts = body(world.plex_get("/mdm/v1/parts").await).await;
    let numbers: HashSet<String> = parts
        .as_array()
        .unwrap()
        .iter()
        .map(|part| part["number"].as_str().unwrap().to_owned())
        .filter(|number| number.starts_with("GEN-"))
        .collect();
    assert_eq!(skus, numbers);

    // The catalog pages over them all, and the items API reads them 1000 at a time.
    let mut seen = 0;
    for page in 1..=11 {
        let items = body(world.bigcommerce_get(&format!("/v3/inventory/items?limit=1000&page={page}")).await).await;
        seen += items["data"].as_array().unwrap().len();
        assert_eq!(items["meta"]["pagination"]["total_pages"], 11);
    }
    assert_eq!(seen, 10_004);
    // Generating the same SKUs again is refused.
    let (status, _) =
        world.control(&world.sandbox.bigcommerce_url, Method::POST, "/catalog/generate", Some(spec(9))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
