//! Plex inventory: locations, containers (on-hand stock) and the container adjustment history
//! (Plex notes §2.4 "Inventory", §7.4 job (2)).
//!
//! Connect endpoints (the `inventory` collection):
//! - `GET /inventory/v1/inventory-tracking/containers` ("Gets active containers"): filters `partId`,
//!   `locationId`, `masterUnitId`, `lotId`, `eun`, `inventoryType` (repeatable, OR). **No date
//!   filter**, no paging: one bare array of every active container, which on a real tenant runs to
//!   tens of MB. The double writes it row by row into one buffer (never a JSON tree), off the async
//!   runtime, so 50 000 containers stay quick. A container is active while its quantity is above 0.
//! - `GET /inventory/v1/inventory-tracking/containers/{serialNo}`: one container (the key is
//!   `serialNo`, not `id`), active or not; 404 when unknown.
//! - `GET /inventory/v1/inventory-history/container-adjustments`: `beginDate` and `endDate` are
//!   required (400 `ARGUMENT_INVALID` naming each missing one; a malformed one like any Plex
//!   date-time), the window on `adjustmentDate` inclusive; filters `serialNo`, `partId`,
//!   `partOperationId`, `adjustmentCode`, `locationId`. `quantity` is the signed change.
//! - `GET /inventory/v1/inventory-definitions/locations`: filters `locationId`, `locationCode`,
//!   `locationTypeFlag` (compared with `locationType`), `tankSilo`.
//!
//! Every schema field is present on every row (`null` when unknown); numbers that are whole come
//! back without a fraction (`12`, not `12.0`), as Plex's serializer writes them.
//!
//! Containers refer to parts of the tenant (`mdm/v1/parts`) by `partId`, and carry the part's
//! number, revision and name as Plex does; a container's `location` is its location's code.
//!
//! The control endpoints (`control_routes`, mounted under `/__control/`) seed containers in bulk,
//! change them as a shop floor would (each change recorded as an adjustment stamped with the
//! double's clock), move stock between containers, remove containers, and dump it all.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::extract::{Path, Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router};
use chrono::{DateTime, TimeDelta, Timelike, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value, json};

use super::auth::ConnectContext;
use super::connect::{argument_invalid, parse_plex_datetime, query_pairs};
use super::model::{PARTS, Tenant, normalize, plex_timestamp, text};
use super::store::part_by_number;
use super::{Plex, PlexState, connect_error, no_data, resource_not_found};
use crate::control::{self, ControlError};
use crate::{lock, reply};

/// What a container gets when its seed names no status or inventory type.
const DEFAULT_STATUS: &str = "OK";
const DEFAULT_INVENTORY_TYPE: &str = "FG";
/// The location the generator creates when it is given none and the tenant has none.
const DEFAULT_GENERATED_LOCATION: &str = "MAIN-FG";
/// Upper bounds that keep a mistyped generator request from exhausting memory.
const MAX_GENERATED_PARTS: usize = 200_000;
const MAX_GENERATED_CONTAINERS: usize = 500_000;
/// How far back the generator dates containers.
const GENERATED_AGE_DAYS: i64 = 90;

/// The inventory records of one tenant.
#[derive(Debug, Default)]
pub(crate) struct Inventory {
    pub locations: Vec<Location>,
    /// In the order they were created; inactive ones (quantity 0) stay for the state dump.
    pub containers: Vec<Container>,
    /// Oldest first.
    pub adjustments: Vec<Adjustment>,
    /// The last number used for a serial the double made up (`S0000001`, ...).
    pub serial_sequence: u64,
}

impl Inventory {
    fn location(&self, id_or_code: &str) -> Option<&Location> {
        self.locations
            .iter()
            .find(|location| location.location_id.eq_ignore_ascii_case(id_or_code))
            .or_else(|| self.locations.iter().find(|location| location.location_code == id_or_code))
    }

    fn container_index(&self, serial_no: &str) -> Option<usize> {
        self.containers.iter().position(|container| container.serial_no == serial_no)
    }

    /// The next serial number the double makes up that no container has.
    fn next_serial(&mut self, prefix: &str, taken: &HashSet<String>) -> String {
        loop {
            self.serial_sequence += 1;
            let candidate = format!("{prefix}{:07}", self.serial_sequence);
            if !taken.contains(&candidate) && self.container_index(&candidate).is_none() {
                return candidate;
            }
        }
    }
}

/// `inventory/v1/inventory-definitions/locations`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Location {
    pub location_id: String,
    pub location_code: String,
    pub building_name: Option<String>,
    pub building_code: Option<String>,
    pub location_type: Option<String>,
    pub inventory_location: bool,
    pub supply_location: bool,
    pub tank_silo: bool,
}

/// A location in a seed: only `locationCode` is needed; the id is made up when absent.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct LocationSeed {
    #[serde(default)]
    pub location_id: Option<String>,
    pub location_code: String,
    #[serde(default)]
    pub building_name: Option<String>,
    #[serde(default)]
    pub building_code: Option<String>,
    #[serde(default)]
    pub location_type: Option<String>,
    #[serde(default = "yes")]
    pub inventory_location: bool,
    #[serde(default)]
    pub supply_location: bool,
    #[serde(default)]
    pub tank_silo: bool,
}

fn yes() -> bool {
    true
}

/// Writes whole numbers without a fraction (`12`), others as they are (`0.5`).
fn plex_number<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    if value.fract() == 0.0 && value.abs() < 9.0e15 {
        serializer.serialize_i64(*value as i64)
    } else {
        serializer.serialize_f64(*value)
    }
}

fn plex_optional_number<S: Serializer>(value: &Option<f64>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => plex_number(value, serializer),
        None => serializer.serialize_none(),
    }
}

/// `inventory/v1/inventory-tracking/containers`: every field of the schema, in its order.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Container {
    pub serial_no: String,
    pub part_id: String,
    pub part_no: String,
    pub revision: Option<String>,
    pub part_no_revision: Option<String>,
    pub part_name: Option<String>,
    pub part_operation_id: Option<String>,
    pub operation_no: Option<i32>,
    pub operation_code: Option<String>,
    pub container_status: String,
    pub location_id: String,
    pub location: String,
    #[serde(serialize_with = "plex_number")]
    pub quantity: f64,
    pub quantity_inventory_unit: Option<String>,
    #[serde(serialize_with = "plex_optional_number")]
    pub gross_weight: Option<f64>,
    #[serde(serialize_with = "plex_optional_number")]
    pub net_weight: Option<f64>,
    #[serde(serialize_with = "plex_optional_number")]
    pub tare_weight: Option<f64>,
    pub container_type: Option<String>,
    pub tracking_no: Option<String>,
    pub add_date_time: String,
    pub update_date_time: String,
    pub container_shelf_date_time: Option<String>,
    pub master_unit_id: Option<String>,
    pub master_unit_no: Option<String>,
    pub lot_id: Option<String>,
    pub lot_no: Option<String>,
    pub heat_id: Option<String>,
    pub heat_code: Option<String>,
    pub heat_no: Option<String>,
    pub eun: Option<String>,
    pub inventory_type: Option<String>,
}

impl Container {
    fn is_active(&self) -> bool {
        self.quantity > 0.0
    }
}

/// A container in a seed. The part is named by `partId` or `partNo` (with `revision` to pick one
/// of several), the location by `locationId` or `location` (its code); `serialNo` is made up when
/// absent (`S0000001`, ...). `containerStatus` defaults to `OK`, `inventoryType` to `FG`, the dates
/// to the double's clock.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ContainerSeed {
    #[serde(default)]
    pub serial_no: Option<String>,
    #[serde(default)]
    pub part_id: Option<String>,
    #[serde(default)]
    pub part_no: Option<String>,
    #[serde(default)]
    pub revision: Option<String>,
    #[serde(default)]
    pub location_id: Option<String>,
    #[serde(default)]
    pub location: Option<String>,
    pub quantity: f64,
    #[serde(default)]
    pub container_status: Option<String>,
    #[serde(default)]
    pub inventory_type: Option<String>,
    #[serde(default)]
    pub part_operation_id: Option<String>,
    #[serde(default)]
    pub operation_no: Option<i32>,
    #[serde(default)]
    pub operation_code: Option<String>,
    #[serde(default)]
    pub quantity_inventory_unit: Option<String>,
    #[serde(default)]
    pub gross_weight: Option<f64>,
    #[serde(default)]
    pub net_weight: Option<f64>,
    #[serde(default)]
    pub tare_weight: Option<f64>,
    #[serde(default)]
    pub container_type: Option<String>,
    #[serde(default)]
    pub tracking_no: Option<String>,
    #[serde(default)]
    pub add_date_time: Option<String>,
    #[serde(default)]
    pub update_date_time: Option<String>,
    #[serde(default)]
    pub container_shelf_date_time: Option<String>,
    #[serde(default)]
    pub master_unit_id: Option<String>,
    #[serde(default)]
    pub master_unit_no: Option<String>,
    #[serde(default)]
    pub lot_id: Option<String>,
    #[serde(default)]
    pub lot_no: Option<String>,
    #[serde(default)]
    pub heat_id: Option<String>,
    #[serde(default)]
    pub heat_code: Option<String>,
    #[serde(default)]
    pub heat_no: Option<String>,
    #[serde(default)]
    pub eun: Option<String>,
}

/// `inventory/v1/inventory-history/container-adjustments`: one manual change to one container.
/// `quantity` is the signed change (`-3` took three away); `location`/`locationId` are where the
/// container is after the change.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Adjustment {
    pub adjustment_date: String,
    pub serial_no: String,
    #[serde(serialize_with = "plex_number")]
    pub quantity: f64,
    #[serde(serialize_with = "plex_optional_number")]
    pub net_weight: Option<f64>,
    pub adjustment_code: Option<String>,
    pub part_id: String,
    pub part_number: String,
    pub revision: Option<String>,
    pub part_number_revision: Option<String>,
    pub part_operation_id: Option<String>,
    pub operation_code: Option<String>,
    pub operation_number: Option<i32>,
    pub location: String,
    pub location_id: String,
    /// When, for the date window.
    #[serde(skip)]
    pub at: DateTime<Utc>,
}

impl Adjustment {
    fn of(container: &Container, change: f64, code: &str, at: DateTime<Utc>) -> Adjustment {
        Adjustment {
            adjustment_date: plex_timestamp(at),
            serial_no: container.serial_no.clone(),
            quantity: change,
            net_weight: None,
            adjustment_code: Some(code.to_owned()),
            part_id: container.part_id.clone(),
            part_number: container.part_no.clone(),
            revision: container.revision.clone(),
            part_number_revision: container.part_no_revision.clone(),
            part_operation_id: container.part_operation_id.clone(),
            operation_code: container.operation_code.clone(),
            operation_number: container.operation_no,
            location: container.location.clone(),
            location_id: container.location_id.clone(),
            at,
        }
    }
}

/// What a container copies from its part.
#[derive(Debug, Clone)]
struct PartRef {
    id: String,
    number: String,
    revision: Option<String>,
    name: Option<String>,
}

impl PartRef {
    fn of(part: &Map<String, Value>) -> PartRef {
        let field = |name: &str| text(part, name).filter(|value| !value.is_empty()).map(str::to_owned);
        PartRef {
            id: text(part, "id").unwrap_or_default().to_ascii_lowercase(),
            number: text(part, "number").unwrap_or_default().to_owned(),
            revision: field("revision"),
            name: field("name"),
        }
    }

    /// `partNoRevision` as Plex shows it: `number-revision`, or the number alone.
    fn number_revision(&self) -> String {
        match &self.revision {
            Some(revision) => format!("{}-{revision}", self.number),
            None => self.number.clone(),
        }
    }
}

fn new_uuid(rng: &mut StdRng) -> String {
    uuid::Builder::from_random_bytes(rng.random::<[u8; 16]>()).into_uuid().to_string()
}

impl Location {
    fn from_seed(seed: LocationSeed) -> Location {
        Location {
            location_id: seed
                .location_id
                .map(|id| id.to_ascii_lowercase())
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            location_code: seed.location_code,
            building_name: seed.building_name,
            building_code: seed.building_code,
            location_type: seed.location_type,
            inventory_location: seed.inventory_location,
            supply_location: seed.supply_location,
            tank_silo: seed.tank_silo,
        }
    }
}

/// Adds or replaces locations (same id, or same code: replaced).
pub(crate) fn seed_locations(tenant: &mut Tenant, seeds: Vec<LocationSeed>) -> Result<(), String> {
    for seed in seeds {
        if seed.location_code.trim().is_empty() {
            return Err("a location needs a locationCode".to_owned());
        }
        let location = Location::from_seed(seed);
        let locations = &mut tenant.inventory.locations;
        match locations.iter().position(|existing| {
            existing.location_id == location.location_id || existing.location_code == location.location_code
        }) {
            Some(index) => {
                let old_id = std::mem::replace(&mut locations[index], location.clone()).location_id;
                // Containers follow their location's new code (and id, if the seed changed it).
                for container in
                    tenant.inventory.containers.iter_mut().filter(|container| container.location_id == old_id)
                {
                    container.location_id = location.location_id.clone();
                    container.location = location.location_code.clone();
                }
            }
            None => locations.push(location),
        }
    }
    Ok(())
}

/// The part a container seed names.
fn seed_part(tenant: &Tenant, seed: &ContainerSeed) -> Result<PartRef, String> {
    let part = match (&seed.part_id, &seed.part_no) {
        (Some(id), _) => tenant.find(&PARTS, id).ok_or_else(|| format!("no part has the id {id:?}"))?,
        (None, Some(number)) => {
            let by_revision = seed.revision.as_ref().and_then(|revision| {
                tenant.records(&PARTS).iter().find(|part| {
                    text(part, "number") == Some(number.as_str()) && text(part, "revision") == Some(revision.as_str())
                })
            });
            by_revision
                .or_else(|| part_by_number(tenant, number))
                .ok_or_else(|| format!("no part has the number {number:?}"))?
        }
        (None, None) => return Err("a container needs a partId or a partNo".to_owned()),
    };
    Ok(PartRef::of(part))
}

/// Adds or replaces containers (same `serialNo`: replaced). Seeding records no adjustment: it is
/// the stock as it already was.
pub(crate) fn seed_containers(
    tenant: &mut Tenant,
    seeds: Vec<ContainerSeed>,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let stamp = plex_timestamp(now);
    for (index, seed) in seeds.into_iter().enumerate() {
        let what = format!("containers[{index}]");
        let part = seed_part(tenant, &seed).map_err(|reason| format!("{what}: {reason}"))?;
        let location = match (&seed.location_id, &seed.location) {
            (Some(reference), _) | (None, Some(reference)) => tenant
                .inventory
                .location(reference)
                .cloned()
                .ok_or_else(|| format!("{what}: no location {reference:?}; seed it under `locations` first"))?,
            (None, None) => return Err(format!("{what}: a container needs a locationId or a location (code)")),
        };
        if !seed.quantity.is_finite() || seed.quantity < 0.0 {
            return Err(format!("{what}: quantity must be a number of at least 0"));
        }
        let serial_no = match seed.serial_no.filter(|serial| !serial.trim().is_empty()) {
            Some(serial) => serial,
            None => tenant.inventory.next_serial("S", &HashSet::new()),
        };
        let add_date_time = seed.add_date_time.unwrap_or_else(|| stamp.clone());
        let container = Container {
            serial_no,
            part_no_revision: Some(part.number_revision()),
            part_id: part.id,
            part_no: part.number,
            revision: part.revision,
            part_name: part.name,
            part_operation_id: seed.part_operation_id,
            operation_no: seed.operation_no,
            operation_code: seed.operation_code,
            container_status: seed.container_status.unwrap_or_else(|| DEFAULT_STATUS.to_owned()),
            location_id: location.location_id,
            location: location.location_code,
            quantity: seed.quantity,
            quantity_inventory_unit: seed.quantity_inventory_unit,
            gross_weight: seed.gross_weight,
            net_weight: seed.net_weight,
            tare_weight: seed.tare_weight,
            container_type: seed.container_type,
            tracking_no: seed.tracking_no,
            update_date_time: seed.update_date_time.unwrap_or_else(|| add_date_time.clone()),
            add_date_time,
            container_shelf_date_time: seed.container_shelf_date_time,
            master_unit_id: seed.master_unit_id,
            master_unit_no: seed.master_unit_no,
            lot_id: seed.lot_id,
            lot_no: seed.lot_no,
            heat_id: seed.heat_id,
            heat_code: seed.heat_code,
            heat_no: seed.heat_no,
            eun: seed.eun,
            inventory_type: Some(seed.inventory_type.unwrap_or_else(|| DEFAULT_INVENTORY_TYPE.to_owned())),
        };
        match tenant.inventory.container_index(&container.serial_no) {
            Some(existing) => tenant.inventory.containers[existing] = container,
            None => tenant.inventory.containers.push(container),
        }
    }
    Ok(())
}

// ---- the generator ----------------------------------------------------------------------------

/// An inclusive range of whole quantities.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
struct QuantityRange {
    min: u32,
    max: u32,
}

/// A location for the generator: a code (created when missing) or a whole seed.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum LocationRef {
    Code(String),
    Seed(LocationSeed),
}

/// The body of `POST /__control/inventory/generate`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GenerateSpec {
    /// Id or code; the default tenant when absent.
    #[serde(default)]
    tenant: Option<String>,
    /// Parts `{part_prefix}00001` ... to create (an existing part with the number is used as is);
    /// 0 spreads the containers over the tenant's existing parts.
    #[serde(default)]
    parts: usize,
    containers: usize,
    #[serde(default)]
    seed: u64,
    #[serde(default = "default_part_prefix")]
    part_prefix: String,
    #[serde(default = "default_part_digits")]
    part_digits: usize,
    /// Serial numbers are `{serial_prefix}0000001`, ... (skipping any in use).
    #[serde(default = "default_serial_prefix")]
    serial_prefix: String,
    /// Where the containers go (picked at random); the tenant's locations when empty.
    #[serde(default)]
    locations: Vec<LocationRef>,
    /// `containerStatus` values, picked at random.
    #[serde(default = "default_statuses")]
    statuses: Vec<String>,
    #[serde(default = "default_inventory_types")]
    inventory_types: Vec<String>,
    /// Whole quantities, uniform in the range (default 1 to 500).
    #[serde(default)]
    quantity: Option<QuantityRange>,
}

fn default_part_prefix() -> String {
    "GEN-".to_owned()
}

fn default_part_digits() -> usize {
    5
}

fn default_serial_prefix() -> String {
    "G".to_owned()
}

fn default_statuses() -> Vec<String> {
    vec![DEFAULT_STATUS.to_owned()]
}

fn default_inventory_types() -> Vec<String> {
    vec![DEFAULT_INVENTORY_TYPE.to_owned()]
}

/// A date-time with 0, 2, 3 or 7 fractional digits, as real Plex responses mix them (notes §7.3).
fn varied_timestamp(instant: DateTime<Utc>, digits: usize) -> String {
    let seconds = instant.format("%Y-%m-%dT%H:%M:%S");
    let nanos = instant.nanosecond() % 1_000_000_000;
    match digits {
        0 => format!("{seconds}Z"),
        2 => format!("{seconds}.{:02}Z", nanos / 10_000_000),
        3 => format!("{seconds}.{:03}Z", nanos / 1_000_000),
        _ => format!("{seconds}.{:07}Z", nanos / 100),
    }
}

/// Creates the parts, locations and containers a [`GenerateSpec`] asks for; the same seed on the
/// same starting state gives the same records (dates are relative to the double's clock).
fn generate(tenant: &mut Tenant, spec: GenerateSpec, now: DateTime<Utc>) -> Result<Value, String> {
    if spec.parts > MAX_GENERATED_PARTS || spec.containers > MAX_GENERATED_CONTAINERS {
        return Err(format!(
            "at most {MAX_GENERATED_PARTS} parts and {MAX_GENERATED_CONTAINERS} containers per request"
        ));
    }
    if spec.statuses.is_empty() || spec.inventory_types.is_empty() {
        return Err("statuses and inventory_types need at least one value each".to_owned());
    }
    let range = spec.quantity.unwrap_or(QuantityRange { min: 1, max: 500 });
    if range.min > range.max {
        return Err("quantity.min must not exceed quantity.max".to_owned());
    }
    let mut rng = StdRng::seed_from_u64(spec.seed);
    // Whole seconds, so two runs against clocks set to the same second date alike.
    let now = now.with_nanosecond(0).unwrap_or(now);

    // Parts: created with ids drawn from the seed, or reused when the number exists.
    let mut parts: Vec<PartRef> = Vec::with_capacity(spec.parts);
    let (mut created, mut reused) = (0_usize, 0_usize);
    if spec.parts == 0 {
        parts.extend(tenant.records(&PARTS).iter().map(PartRef::of));
    } else {
        let existing: HashMap<String, PartRef> =
            tenant.records(&PARTS).iter().map(PartRef::of).map(|part| (part.number.clone(), part)).collect();
        let stamp = plex_timestamp(now);
        let mut new_records = Vec::new();
        for n in 1..=spec.parts {
            let number = format!("{}{n:0width$}", spec.part_prefix, width = spec.part_digits);
            let id = new_uuid(&mut rng);
            if let Some(part) = existing.get(&number) {
                parts.push(part.clone());
                reused += 1;
                continue;
            }
            let name = format!("Generated part {n}");
            let record = json!({
                "id": id, "number": number, "name": name, "revision": "A", "type": "Finished Good",
                "source": "Manufactured", "status": "Active", "buildingCode": "MAIN",
                "createdDate": stamp, "modifiedDate": stamp,
            });
            let record = normalize(&PARTS, record.as_object().cloned().unwrap_or_default(), now)?;
            parts.push(PartRef::of(&record));
            new_records.push(record);
            created += 1;
        }
        tenant.records_mut(&PARTS).extend(new_records);
    }
    if parts.is_empty() && spec.containers > 0 {
        return Err("the tenant has no parts to put in containers; give parts: N".to_owned());
    }

    // Locations: the ones named (created when missing), else the tenant's, else one made up.
    let mut locations: Vec<Location> = Vec::new();
    let wanted = if spec.locations.is_empty() && tenant.inventory.locations.is_empty() {
        vec![LocationRef::Code(DEFAULT_GENERATED_LOCATION.to_owned())]
    } else {
        spec.locations
    };
    if wanted.is_empty() {
        locations = tenant.inventory.locations.clone();
    }
    for reference in wanted {
        let seed = match reference {
            LocationRef::Code(code) => match tenant.inventory.location(&code) {
                Some(location) => {
                    locations.push(location.clone());
                    continue;
                }
                None => LocationSeed {
                    location_id: Some(new_uuid(&mut rng)),
                    location_code: code,
                    building_name: Some("Main Plant".to_owned()),
                    building_code: Some("MAIN".to_owned()),
                    location_type: Some("Warehouse".to_owned()),
                    inventory_location: true,
                    supply_location: false,
                    tank_silo: false,
                },
            },
            LocationRef::Seed(seed) => seed,
        };
        let code = seed.location_code.clone();
        seed_locations(tenant, vec![seed])?;
        locations.extend(tenant.inventory.location(&code).cloned());
    }

    // Containers.
    let taken: HashSet<String> =
        tenant.inventory.containers.iter().map(|container| container.serial_no.clone()).collect();
    let age_limit = GENERATED_AGE_DAYS * 86_400;
    let mut containers = Vec::with_capacity(spec.containers);
    for _ in 0..spec.containers {
        let part = &parts[rng.random_range(0..parts.len())];
        let location = &locations[rng.random_range(0..locations.len())];
        let status = &spec.statuses[rng.random_range(0..spec.statuses.len())];
        let inventory_type = &spec.inventory_types[rng.random_range(0..spec.inventory_types.len())];
        let quantity = f64::from(rng.random_range(range.min..=range.max));
        let age = rng.random_range(0..=age_limit);
        let since_update = rng.random_range(0..=age);
        let digits = [0, 2, 3, 7][rng.random_range(0..4)];
        let added = now - TimeDelta::seconds(age) - TimeDelta::milliseconds(rng.random_range(0..1000));
        let updated = now - TimeDelta::seconds(since_update);
        let serial_no = tenant.inventory.next_serial(&spec.serial_prefix, &taken);
        containers.push(Container {
            serial_no,
            part_id: part.id.clone(),
            part_no: part.number.clone(),
            revision: part.revision.clone(),
            part_no_revision: Some(part.number_revision()),
            part_name: part.name.clone(),
            part_operation_id: None,
            operation_no: None,
            operation_code: None,
            container_status: status.clone(),
            location_id: location.location_id.clone(),
            location: location.location_code.clone(),
            quantity,
            quantity_inventory_unit: Some("Ea".to_owned()),
            gross_weight: None,
            net_weight: None,
            tare_weight: None,
            container_type: None,
            tracking_no: None,
            add_date_time: varied_timestamp(added, digits),
            update_date_time: varied_timestamp(updated.max(added), digits),
            container_shelf_date_time: None,
            master_unit_id: None,
            master_unit_no: None,
            lot_id: None,
            lot_no: None,
            heat_id: None,
            heat_code: None,
            heat_no: None,
            eun: None,
            inventory_type: Some(inventory_type.clone()),
        });
    }
    let first_serial = containers.first().map(|container| container.serial_no.clone());
    let last_serial = containers.last().map(|container| container.serial_no.clone());
    let count = containers.len();
    tenant.inventory.containers.extend(containers);
    Ok(json!({
        "tenant": tenant.code,
        "parts_created": created,
        "parts_reused": reused,
        "containers": count,
        "first_serial": first_serial,
        "last_serial": last_serial,
        "locations": locations.iter().map(|location| location.location_code.clone()).collect::<Vec<_>>(),
    }))
}

// ---- changes ----------------------------------------------------------------------------------

/// The body of `PUT /__control/inventory/containers/{serialNo}`: what changes (container fields in
/// Plex's spelling), and how the change is recorded.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContainerChange {
    #[serde(default)]
    tenant: Option<String>,
    #[serde(default)]
    quantity: Option<f64>,
    #[serde(default, rename = "containerStatus")]
    container_status: Option<String>,
    /// The new location by id, or by code as `location`.
    #[serde(default, rename = "locationId")]
    location_id: Option<String>,
    #[serde(default)]
    location: Option<String>,
    #[serde(default, rename = "adjustmentCode")]
    adjustment_code: Option<String>,
    /// `false` changes the container without an adjustment row (Plex keeps some changes, such as
    /// location moves, in other histories).
    #[serde(default = "yes")]
    record_adjustment: bool,
}

/// The body of `POST /__control/inventory/move`: `quantity` from `serialNo` into `toSerialNo` (an
/// existing container of the same part, or a new one with that serial), or into a new container
/// at `toLocationId`/`toLocation`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StockMove {
    #[serde(default)]
    tenant: Option<String>,
    #[serde(rename = "serialNo")]
    serial_no: String,
    quantity: f64,
    #[serde(default, rename = "toSerialNo")]
    to_serial_no: Option<String>,
    #[serde(default, rename = "toLocationId")]
    to_location_id: Option<String>,
    #[serde(default, rename = "toLocation")]
    to_location: Option<String>,
    #[serde(default, rename = "adjustmentCode")]
    adjustment_code: Option<String>,
    #[serde(default = "yes")]
    record_adjustment: bool,
}

#[derive(Debug, Deserialize)]
struct TenantParams {
    #[serde(default)]
    tenant: Option<String>,
    #[serde(default)]
    record_adjustment: Option<bool>,
    #[serde(default)]
    part_no: Option<String>,
    #[serde(default)]
    serial_no: Option<String>,
}

/// The tenant a control request means: the one named (id or code), or the default one.
fn control_tenant<'a>(state: &'a mut PlexState, reference: Option<&str>) -> Result<&'a mut Tenant, ControlError> {
    let index = match reference {
        Some(reference) => state
            .tenants
            .iter()
            .position(|tenant| tenant.is(reference))
            .ok_or_else(|| ControlError::not_found(format!("no tenant {reference:?}")))?,
        None => state.default_tenant_index().ok_or_else(|| ControlError::bad_request("the double has no tenant"))?,
    };
    Ok(&mut state.tenants[index])
}

fn not_a_quantity(value: f64) -> bool {
    !value.is_finite() || value < 0.0
}

/// Applies a [`ContainerChange`]; returns the container and the adjustment recorded.
fn change_container(
    tenant: &mut Tenant,
    serial_no: &str,
    change: ContainerChange,
    now: DateTime<Utc>,
) -> Result<(Container, Vec<Adjustment>), ControlError> {
    let index = tenant
        .inventory
        .container_index(serial_no)
        .ok_or_else(|| ControlError::not_found(format!("no container {serial_no:?}")))?;
    if change.quantity.is_some_and(not_a_quantity) {
        return Err(ControlError::bad_request("quantity must be a number of at least 0"));
    }
    let location = match change.location_id.as_deref().or(change.location.as_deref()) {
        Some(reference) => Some(
            tenant
                .inventory
                .location(reference)
                .cloned()
                .ok_or_else(|| ControlError::bad_request(format!("no location {reference:?}")))?,
        ),
        None => None,
    };
    if change.quantity.is_none() && change.container_status.is_none() && location.is_none() {
        return Err(ControlError::bad_request("give quantity, containerStatus, locationId or location"));
    }
    let container = &mut tenant.inventory.containers[index];
    let before = container.quantity;
    let mut code = "Status Change";
    if let Some(status) = change.container_status {
        container.container_status = status;
    }
    if let Some(location) = location {
        if location.location_id != container.location_id {
            code = "Location Change";
        }
        container.location_id = location.location_id;
        container.location = location.location_code;
    }
    if let Some(quantity) = change.quantity {
        container.quantity = quantity;
        code = "Quantity Change";
    }
    container.update_date_time = plex_timestamp(now);
    let container = container.clone();
    let mut recorded = Vec::new();
    if change.record_adjustment {
        let code = change.adjustment_code.as_deref().unwrap_or(code);
        let adjustment = Adjustment::of(&container, container.quantity - before, code, now);
        tenant.inventory.adjustments.push(adjustment.clone());
        recorded.push(adjustment);
    }
    Ok((container, recorded))
}

/// Applies a [`StockMove`]; returns both containers and the adjustments recorded.
fn move_stock(
    tenant: &mut Tenant,
    request: StockMove,
    now: DateTime<Utc>,
) -> Result<(Vec<Container>, Vec<Adjustment>), ControlError> {
    let source = tenant
        .inventory
        .container_index(&request.serial_no)
        .ok_or_else(|| ControlError::not_found(format!("no container {:?}", request.serial_no)))?;
    let available = tenant.inventory.containers[source].quantity;
    if not_a_quantity(request.quantity) || request.quantity == 0.0 || request.quantity > available {
        return Err(ControlError::bad_request(format!(
            "quantity must be above 0 and at most the {available} the container holds"
        )));
    }
    let location = match request.to_location_id.as_deref().or(request.to_location.as_deref()) {
        Some(reference) => Some(
            tenant
                .inventory
                .location(reference)
                .cloned()
                .ok_or_else(|| ControlError::bad_request(format!("no location {reference:?}")))?,
        ),
        None => None,
    };
    let stamp = plex_timestamp(now);
    let target = match request.to_serial_no.as_deref().and_then(|serial| tenant.inventory.container_index(serial)) {
        Some(target) if target == source => {
            return Err(ControlError::bad_request("a container cannot receive its own stock"));
        }
        Some(target) => {
            if tenant.inventory.containers[target].part_id != tenant.inventory.containers[source].part_id {
                return Err(ControlError::bad_request("stock can only move into a container of the same part"));
            }
            if let Some(location) = &location {
                let container = &mut tenant.inventory.containers[target];
                container.location_id = location.location_id.clone();
                container.location = location.location_code.clone();
            }
            target
        }
        None => {
            if request.to_serial_no.is_none() && location.is_none() {
                return Err(ControlError::bad_request(
                    "give toSerialNo, or toLocationId/toLocation for a new container",
                ));
            }
            let serial_no = match &request.to_serial_no {
                Some(serial) => serial.clone(),
                None => tenant.inventory.next_serial("S", &HashSet::new()),
            };
            let mut container = tenant.inventory.containers[source].clone();
            container.serial_no = serial_no;
            container.quantity = 0.0;
            container.add_date_time = stamp.clone();
            if let Some(location) = &location {
                container.location_id = location.location_id.clone();
                container.location = location.location_code.clone();
            }
            tenant.inventory.containers.push(container);
            tenant.inventory.containers.len() - 1
        }
    };
    tenant.inventory.containers[source].quantity -= request.quantity;
    tenant.inventory.containers[target].quantity += request.quantity;
    for index in [source, target] {
        tenant.inventory.containers[index].update_date_time = stamp.clone();
    }
    let containers = vec![tenant.inventory.containers[source].clone(), tenant.inventory.containers[target].clone()];
    let mut recorded = Vec::new();
    if request.record_adjustment {
        let code = request.adjustment_code.as_deref().unwrap_or("Move");
        recorded.push(Adjustment::of(&containers[0], -request.quantity, code, now));
        recorded.push(Adjustment::of(&containers[1], request.quantity, code, now));
        tenant.inventory.adjustments.extend(recorded.iter().cloned());
    }
    Ok((containers, recorded))
}

// ---- Connect endpoints ------------------------------------------------------------------------

/// The values a repeatable, case-insensitively named query parameter was given.
fn values<'q>(query: &'q [(String, String)], parameter: &str) -> Vec<&'q str> {
    query.iter().filter(|(name, _)| name.eq_ignore_ascii_case(parameter)).map(|(_, value)| value.as_str()).collect()
}

/// Whether a record's value passes one filter: no values given, or one of them (ids ignore case).
fn passes(wanted: &[&str], actual: Option<&str>, caseless: bool) -> bool {
    wanted.is_empty()
        || actual.is_some_and(|actual| {
            wanted.iter().any(|wanted| if caseless { actual.eq_ignore_ascii_case(wanted) } else { actual == *wanted })
        })
}

/// Serialises rows into one buffer, honouring `empty_list_status`.
fn rows_response<T: Serialize>(rows: &[&T], empty_is_404: bool) -> Response {
    if rows.is_empty() && empty_is_404 {
        return no_data();
    }
    match serde_json::to_vec(rows) {
        Ok(bytes) => reply::bytes_as(StatusCode::OK, reply::JSON_UTF8, bytes),
        Err(_) => processing_error(),
    }
}

fn processing_error() -> Response {
    connect_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "REQUEST_PROCESSING_ERROR",
        "An unexpected error occurred while processing the request.",
    )
}

/// The containers answer, built off the async runtime (it can be tens of MB).
fn containers_body(plex: &Plex, tenant_id: &str, query: &[(String, String)]) -> Response {
    let state = lock(&plex.state);
    let empty_is_404 = state.config.empty_list_status == 404;
    let Some(tenant) = state.tenant(tenant_id) else { return resource_not_found() };
    let (part, location, master_unit, lot, eun, inventory_type) = (
        values(query, "partId"),
        values(query, "locationId"),
        values(query, "masterUnitId"),
        values(query, "lotId"),
        values(query, "eun"),
        values(query, "inventoryType"),
    );
    let rows: Vec<&Container> = tenant
        .inventory
        .containers
        .iter()
        .filter(|container| {
            container.is_active()
                && passes(&part, Some(&container.part_id), true)
                && passes(&location, Some(&container.location_id), true)
                && passes(&master_unit, container.master_unit_id.as_deref(), true)
                && passes(&lot, container.lot_id.as_deref(), true)
                && passes(&eun, container.eun.as_deref(), false)
                && passes(&inventory_type, container.inventory_type.as_deref(), false)
        })
        .collect();
    rows_response(&rows, empty_is_404)
}

/// `GET /inventory/v1/inventory-tracking/containers`.
pub(crate) async fn list_containers(
    State(plex): State<Arc<Plex>>,
    Extension(context): Extension<ConnectContext>,
    RawQuery(raw_query): RawQuery,
) -> Response {
    let query = match query_pairs(raw_query) {
        Ok(query) => query,
        Err(response) => return response,
    };
    tokio::task::spawn_blocking(move || containers_body(&plex, &context.tenant_id, &query))
        .await
        .unwrap_or_else(|_| processing_error())
}

/// `GET /inventory/v1/inventory-tracking/containers/{serialNo}`.
pub(crate) async fn get_container(
    State(plex): State<Arc<Plex>>,
    Extension(context): Extension<ConnectContext>,
    Path(serial_no): Path<String>,
) -> Response {
    let state = lock(&plex.state);
    let container = state
        .tenant(&context.tenant_id)
        .and_then(|tenant| tenant.inventory.containers.iter().find(|container| container.serial_no == serial_no));
    match container.map(serde_json::to_vec) {
        Some(Ok(bytes)) => reply::bytes_as(StatusCode::OK, reply::JSON_UTF8, bytes),
        Some(Err(_)) => processing_error(),
        None => resource_not_found(),
    }
}

/// 400 `ARGUMENT_INVALID` for required parameters that were not given, one error each.
fn arguments_required(missing: &[&str]) -> Response {
    let errors: Vec<Value> = missing
        .iter()
        .map(|field| {
            json!({
                "code": "ARGUMENT_REQUIRED",
                "message": format!("The argument '{field}' is required."),
                "metadata": [{ "field": field, "providedValues": [] }],
            })
        })
        .collect();
    let body = json!({ "code": "ARGUMENT_INVALID", "message": "One or more arguments are invalid.", "errors": errors });
    reply::json_as(StatusCode::BAD_REQUEST, reply::JSON_UTF8, &body)
}

/// `GET /inventory/v1/inventory-history/container-adjustments`.
pub(crate) async fn list_adjustments(
    State(plex): State<Arc<Plex>>,
    Extension(context): Extension<ConnectContext>,
    RawQuery(raw_query): RawQuery,
) -> Response {
    let query = match query_pairs(raw_query) {
        Ok(query) => query,
        Err(response) => return response,
    };
    let (begin, end) = (values(&query, "beginDate"), values(&query, "endDate"));
    let missing: Vec<&str> = [("beginDate", &begin), ("endDate", &end)]
        .into_iter()
        .filter(|(_, given)| given.is_empty())
        .map(|(name, _)| name)
        .collect();
    if !missing.is_empty() {
        return arguments_required(&missing);
    }
    let mut window = Vec::new();
    for (name, given) in [("beginDate", begin[0]), ("endDate", end[0])] {
        match parse_plex_datetime(given) {
            Some(instant) => window.push(instant),
            None => return argument_invalid(name, given),
        }
    }
    let (from, to) = (window[0], window[1]);
    let (serial, part, operation, code, location) = (
        values(&query, "serialNo"),
        values(&query, "partId"),
        values(&query, "partOperationId"),
        values(&query, "adjustmentCode"),
        values(&query, "locationId"),
    );
    let state = lock(&plex.state);
    let empty_is_404 = state.config.empty_list_status == 404;
    let Some(tenant) = state.tenant(&context.tenant_id) else { return resource_not_found() };
    let rows: Vec<&Adjustment> = tenant
        .inventory
        .adjustments
        .iter()
        .filter(|adjustment| {
            adjustment.at >= from
                && adjustment.at <= to
                && passes(&serial, Some(&adjustment.serial_no), false)
                && passes(&part, Some(&adjustment.part_id), true)
                && passes(&operation, adjustment.part_operation_id.as_deref(), true)
                && passes(&code, adjustment.adjustment_code.as_deref(), false)
                && passes(&location, Some(&adjustment.location_id), true)
        })
        .collect();
    rows_response(&rows, empty_is_404)
}

/// `GET /inventory/v1/inventory-definitions/locations`.
pub(crate) async fn list_locations(
    State(plex): State<Arc<Plex>>,
    Extension(context): Extension<ConnectContext>,
    RawQuery(raw_query): RawQuery,
) -> Response {
    let query = match query_pairs(raw_query) {
        Ok(query) => query,
        Err(response) => return response,
    };
    let (id, code, kind, tank_silo) = (
        values(&query, "locationId"),
        values(&query, "locationCode"),
        values(&query, "locationTypeFlag"),
        values(&query, "tankSilo"),
    );
    let state = lock(&plex.state);
    let empty_is_404 = state.config.empty_list_status == 404;
    let Some(tenant) = state.tenant(&context.tenant_id) else { return resource_not_found() };
    let rows: Vec<&Location> = tenant
        .inventory
        .locations
        .iter()
        .filter(|location| {
            passes(&id, Some(&location.location_id), true)
                && passes(&code, Some(&location.location_code), false)
                && passes(&kind, location.location_type.as_deref(), false)
                && passes(&tank_silo, Some(if location.tank_silo { "true" } else { "false" }), true)
        })
        .collect();
    rows_response(&rows, empty_is_404)
}

// ---- control endpoints ------------------------------------------------------------------------

/// The Plex double's inventory control endpoints (mounted under `/__control/`).
pub(super) fn control_routes(plex: Arc<Plex>) -> Router {
    Router::new()
        .route("/inventory", get(dump))
        .route("/inventory/generate", post(generate_inventory))
        .route("/inventory/containers/{serial_no}", put(update_container).delete(remove_container))
        .route("/inventory/move", post(move_inventory))
        .with_state(plex)
}

/// `POST /__control/inventory/generate`.
async fn generate_inventory(State(plex): State<Arc<Plex>>, Json(body): Json<Value>) -> Result<Response, ControlError> {
    let spec: GenerateSpec = control::parse("inventory generator", body)?;
    let now = plex.common.clock.now();
    let mut state = lock(&plex.state);
    let tenant = control_tenant(&mut state, spec.tenant.clone().as_deref())?;
    let summary = generate(tenant, spec, now).map_err(ControlError::bad_request)?;
    Ok((StatusCode::CREATED, Json(summary)).into_response())
}

/// `PUT /__control/inventory/containers/{serialNo}`.
async fn update_container(
    State(plex): State<Arc<Plex>>,
    Path(serial_no): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ControlError> {
    let change: ContainerChange = control::parse("container change", body)?;
    let now = plex.common.clock.now();
    let mut state = lock(&plex.state);
    let tenant = control_tenant(&mut state, change.tenant.clone().as_deref())?;
    let (container, adjustments) = change_container(tenant, &serial_no, change, now)?;
    Ok(Json(json!({ "container": container, "adjustments": adjustments })))
}

/// `POST /__control/inventory/move`.
async fn move_inventory(State(plex): State<Arc<Plex>>, Json(body): Json<Value>) -> Result<Json<Value>, ControlError> {
    let request: StockMove = control::parse("stock move", body)?;
    let now = plex.common.clock.now();
    let mut state = lock(&plex.state);
    let tenant = control_tenant(&mut state, request.tenant.clone().as_deref())?;
    let (containers, adjustments) = move_stock(tenant, request, now)?;
    Ok(Json(json!({ "containers": containers, "adjustments": adjustments })))
}

/// `DELETE /__control/inventory/containers/{serialNo}[?tenant=][&record_adjustment=false]`: the
/// container is gone (shipped, consumed, scrapped); by default an adjustment of minus its quantity
/// is recorded.
async fn remove_container(
    State(plex): State<Arc<Plex>>,
    Path(serial_no): Path<String>,
    Query(params): Query<TenantParams>,
) -> Result<Json<Value>, ControlError> {
    let now = plex.common.clock.now();
    let mut state = lock(&plex.state);
    let tenant = control_tenant(&mut state, params.tenant.as_deref())?;
    let index = tenant
        .inventory
        .container_index(&serial_no)
        .ok_or_else(|| ControlError::not_found(format!("no container {serial_no:?}")))?;
    let container = tenant.inventory.containers.remove(index);
    let mut adjustments = Vec::new();
    if params.record_adjustment.unwrap_or(true) && container.quantity != 0.0 {
        let adjustment = Adjustment::of(&container, -container.quantity, "Removed", now);
        tenant.inventory.adjustments.push(adjustment.clone());
        adjustments.push(adjustment);
    }
    Ok(Json(json!({ "removed": container, "adjustments": adjustments })))
}

/// What `GET /__control/inventory` shows.
#[derive(Serialize)]
struct Dump<'a> {
    tenant: &'a str,
    locations: &'a [Location],
    active_containers: usize,
    containers: Vec<&'a Container>,
    adjustments: Vec<&'a Adjustment>,
}

/// `GET /__control/inventory[?tenant=][&part_no=][&serial_no=]`: locations, every container
/// (inactive ones too) and every adjustment of one tenant, written straight into one buffer.
async fn dump(State(plex): State<Arc<Plex>>, Query(params): Query<TenantParams>) -> Result<Response, ControlError> {
    let mut state = lock(&plex.state);
    let tenant = control_tenant(&mut state, params.tenant.as_deref())?;
    let keep = |part_no: &str, serial_no: &str| {
        params.part_no.as_deref().is_none_or(|wanted| wanted == part_no)
            && params.serial_no.as_deref().is_none_or(|wanted| wanted == serial_no)
    };
    let inventory = &tenant.inventory;
    let view = Dump {
        tenant: &tenant.code,
        locations: &inventory.locations,
        active_containers: inventory.containers.iter().filter(|container| container.is_active()).count(),
        containers: inventory.containers.iter().filter(|c| keep(&c.part_no, &c.serial_no)).collect(),
        adjustments: inventory.adjustments.iter().filter(|a| keep(&a.part_number, &a.serial_no)).collect(),
    };
    let bytes = serde_json::to_vec(&view).map_err(|error| ControlError::bad_request(error.to_string()))?;
    Ok(reply::bytes_as(StatusCode::OK, reply::JSON, bytes))
}

/// The state dump's summary of a tenant's inventory (the containers themselves are at
/// `GET /__control/inventory`, which can be large).
pub(crate) fn summary(inventory: &Inventory) -> Value {
    json!({
        "locations": inventory.locations,
        "containers": inventory.containers.len(),
        "active_containers": inventory.containers.iter().filter(|container| container.is_active()).count(),
        "adjustments": inventory.adjustments.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> Tenant {
        let mut tenant = Tenant::new("t".to_owned(), "T".to_owned());
        let part = json!({"id": "44444444-4444-4444-8444-444444444444", "number": "P-1", "revision": "B",
                          "name": "Part one"});
        tenant.upsert(&PARTS, vec![part.as_object().cloned().unwrap()], Utc::now()).unwrap();
        let location: LocationSeed = serde_json::from_value(json!({"locationCode": "FG-1"})).unwrap();
        seed_locations(&mut tenant, vec![location]).unwrap();
        tenant
    }

    fn container(tenant: &mut Tenant, serial: &str, quantity: f64) {
        let seed: ContainerSeed = serde_json::from_value(
            json!({"serialNo": serial, "partNo": "P-1", "location": "FG-1", "quantity": quantity}),
        )
        .unwrap();
        seed_containers(tenant, vec![seed], Utc::now()).unwrap();
    }

    #[test]
    fn a_seeded_container_copies_its_part_and_location() {
        let mut tenant = tenant();
        container(&mut tenant, "S1", 12.0);
        let row = serde_json::to_value(&tenant.inventory.containers[0]).unwrap();
        assert_eq!(row["partId"], "44444444-4444-4444-8444-444444444444");
        assert_eq!((row["partNo"].clone(), row["partNoRevision"].clone()), (json!("P-1"), json!("P-1-B")));
        assert_eq!(row["location"], "FG-1");
        assert_eq!(row["quantity"].to_string(), "12", "whole numbers have no fraction");
        assert!(row["lotNo"].is_null() && row.as_object().unwrap().len() == 31, "{row}");
    }

    #[test]
    fn a_move_takes_from_one_container_and_records_both_sides() {
        let mut tenant = tenant();
        container(&mut tenant, "S1", 10.0);
        let request: StockMove =
            serde_json::from_value(json!({"serialNo": "S1", "quantity": 4, "toLocation": "FG-1"})).unwrap();
        let (containers, adjustments) = move_stock(&mut tenant, request, Utc::now()).unwrap();
        assert_eq!((containers[0].quantity, containers[1].quantity), (6.0, 4.0));
        assert_eq!((adjustments[0].quantity, adjustments[1].quantity), (-4.0, 4.0));
        let too_much: StockMove =
            serde_json::from_value(json!({"serialNo": "S1", "quantity": 7, "toSerialNo": containers[1].serial_no}))
                .unwrap();
        assert!(move_stock(&mut tenant, too_much, Utc::now()).is_err());
    }

    #[test]
    fn timestamps_vary_their_fraction_but_stay_plex_date_times() {
        let instant = DateTime::parse_from_rfc3339("2026-03-01T10:20:30.123456789Z").unwrap().with_timezone(&Utc);
        for (digits, expected) in [
            (0, "2026-03-01T10:20:30Z"),
            (2, "2026-03-01T10:20:30.12Z"),
            (3, "2026-03-01T10:20:30.123Z"),
            (7, "2026-03-01T10:20:30.1234567Z"),
        ] {
            let shown = varied_timestamp(instant, digits);
            assert_eq!(shown, expected);
            assert!(parse_plex_datetime(&shown).is_some());
        }
    }
}
