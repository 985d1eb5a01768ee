//! The stock flow's vocabulary and arithmetic: what Plex has on hand, how a part number and a Plex
//! location become a BigCommerce SKU and location, what BigCommerce should be told (available to
//! sell), which rows changed since the last push, and how they are cut into requests.
//!
//! `plex` sums the active containers into [`OnHand`] rows (by part number and Plex location, over
//! the connection's [`ContainerFilter`]); `bigcommerce` reads the catalog into [`ItemAddress`]es
//! (how each SKU is addressed, by product or by variant) and pushes absolute levels. In between,
//! all pure:
//!
//! 1. [`stock_targets`]: each on-hand row's SKU ([`SkuRule`]) and BigCommerce location
//!    ([`LocationMapping`]), several Plex locations mapped to one BigCommerce location summed, the
//!    units in flight (sold in BigCommerce, not yet taken out in Plex) and the safety stock
//!    ([`SafetyStock`]) set beside each: a [`StockTarget`].
//! 2. [`available_to_sell`]: whole units on hand, less in flight, less safety stock, never below 0
//!    and never above BigCommerce's maximum ([`MAX_QUANTITY`]).
//! 3. [`plan_changes`]: the targets whose level differs from what was last pushed (a row never
//!    pushed counts as changed), as [`StockChange`]s.
//! 4. [`batches`]: the changes in requests of at most [`MAX_ADJUSTMENT_ROWS`] item × location rows.
//!
//! Nothing here knows a wire format or does I/O, so every rule is tested without a server.

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

mod compare;
mod incremental;

pub use compare::{Comparison, DriftCheck, DriftRow, LevelComparison, StoreLocation, compare_levels};
pub use incremental::{
    ADJUSTMENT_OVERLAP, AdjustedPart, MAX_INCREMENTAL_PARTS, PushedLevel, ReadPlan, StockProgress, incremental_targets,
};

/// The most BigCommerce holds for one item at one location: 2 147 483 647 (`i32::MAX`). The
/// Inventory API refuses a larger value instead of clamping it (BigCommerce notes §7.1).
pub const MAX_QUANTITY: i64 = i32::MAX as i64;

/// The most item × location rows one absolute adjustment may carry ("Limit of 2000 items for
/// payload length", `inventory.v3.yml`).
pub const MAX_ADJUSTMENT_ROWS: usize = 2000;

/// A BigCommerce SKU, compared exactly (BigCommerce keeps one SKU per product or variant).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sku(String);

impl Sku {
    pub fn new(sku: impl Into<String>) -> Sku {
        Sku(sku.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Sku {
    fn from(sku: &str) -> Sku {
        Sku(sku.to_owned())
    }
}

impl Borrow<str> for Sku {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// A BigCommerce inventory location, by its id (`location_id`; every store has the default
/// location `1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StockLocation(pub u64);

impl StockLocation {
    /// The location every store has and the catalog's `inventory_level` mirrors.
    pub const DEFAULT: StockLocation = StockLocation(1);

    pub fn id(self) -> u64 {
        self.0
    }
}

impl fmt::Display for StockLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What Plex holds of one part at one Plex location: the sum of its sellable active containers'
/// quantities (Plex's quantities are doubles; a part kept by weight has fractions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnHand {
    /// The part number (`partNo`), every revision together.
    pub part_no: String,
    /// The Plex location's code (`location`), or its id when a container named no code.
    pub location: String,
    pub quantity: Decimal,
}

/// How BigCommerce's Inventory API is told which item a row is for. A product tracked by product is
/// addressed by its product id (its SKU and variant id name its base variant, which the API
/// refuses: "Item with variant_id 106 is tracked by product"); a variant of a product tracked by
/// variant by its variant id. A product that tracks nothing (`inventory_tracking: none`) is not an
/// inventory item and has no address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ItemAddress {
    Product { product_id: u64 },
    Variant { variant_id: u64 },
}

impl fmt::Display for ItemAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ItemAddress::Product { product_id } => write!(f, "product {product_id}"),
            ItemAddress::Variant { variant_id } => write!(f, "variant {variant_id}"),
        }
    }
}

/// One SKU's level at one BigCommerce location, and the Plex on-hand it was computed from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StockRow {
    pub sku: Sku,
    pub location: StockLocation,
    pub quantity: i64,
    pub plex_on_hand: Decimal,
}

/// What one SKU at one BigCommerce location should show, and what it was computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockTarget {
    pub address: ItemAddress,
    /// Plex's sum over the Plex locations mapped here.
    pub plex_on_hand: Decimal,
    /// Units sold in BigCommerce that Plex has not taken out of its containers yet.
    pub in_flight: u64,
    pub safety: u64,
}

impl StockTarget {
    /// The level to push: [`available_to_sell`] of its inputs.
    pub fn quantity(&self) -> i64 {
        available_to_sell(self.plex_on_hand, self.in_flight, self.safety)
    }
}

/// A row whose level must be pushed, with everything an audit needs to explain it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockChange {
    pub sku: Sku,
    pub location: StockLocation,
    pub address: ItemAddress,
    /// What was last pushed, `None` when the row was never pushed.
    pub previous: Option<i64>,
    /// The level to push now.
    pub computed: i64,
    pub plex_on_hand: Decimal,
    pub in_flight: u64,
    pub safety: u64,
}

impl StockChange {
    /// The row as it will stand once pushed (what to remember as last pushed).
    pub fn row(&self) -> StockRow {
        StockRow {
            sku: self.sku.clone(),
            location: self.location,
            quantity: self.computed,
            plex_on_hand: self.plex_on_hand,
        }
    }

    /// The row as an absolute adjustment takes it.
    pub fn adjustment(&self) -> (ItemAddress, StockLocation, i64) {
        (self.address, self.location, self.computed)
    }
}

/// What BigCommerce should offer: the whole units on hand, less the units in flight and the safety
/// stock, never below 0 (negative Plex stock, or more sold than held, shows as none) and never
/// above [`MAX_QUANTITY`]. A fraction on hand (a part kept by weight) is rounded down: half a unit
/// cannot be sold.
pub fn available_to_sell(on_hand: Decimal, in_flight: u64, safety: u64) -> i64 {
    // i128 holds every Decimal's whole part (at most about 7.9e28) and both u64s without overflow.
    let whole = on_hand.floor().to_i128().unwrap_or(0);
    let available = whole - i128::from(in_flight) - i128::from(safety);
    let clamped = available.clamp(0, i128::from(MAX_QUANTITY));
    i64::try_from(clamped).unwrap_or(MAX_QUANTITY)
}

/// The rows of `targets` whose level differs from what `last_pushed` says was pushed; a row never
/// pushed counts as changed. Sorted by BigCommerce location, then SKU, so consecutive
/// [`batches`] keep each location's rows together, as BigCommerce asks ("Group items by location").
pub fn plan_changes(
    targets: &BTreeMap<(Sku, StockLocation), StockTarget>,
    last_pushed: &BTreeMap<(Sku, StockLocation), i64>,
) -> Vec<StockChange> {
    let mut changes: Vec<StockChange> = targets
        .iter()
        .filter_map(|(key, target)| {
            let computed = target.quantity();
            let previous = last_pushed.get(key).copied();
            (previous != Some(computed)).then(|| StockChange {
                sku: key.0.clone(),
                location: key.1,
                address: target.address,
                previous,
                computed,
                plex_on_hand: target.plex_on_hand,
                in_flight: target.in_flight,
                safety: target.safety,
            })
        })
        .collect();
    changes.sort_by(|a, b| (a.location, &a.sku).cmp(&(b.location, &b.sku)));
    changes
}

/// `changes` in order, cut into requests of at most `max_rows` rows each (one change is one item ×
/// location row); normally [`MAX_ADJUSTMENT_ROWS`]. A `max_rows` of 0 is taken as 1.
pub fn batches(changes: &[StockChange], max_rows: usize) -> Vec<&[StockChange]> {
    changes.chunks(max_rows.max(1)).collect()
}

/// The targets of one run, and what could not be given one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    pub levels: BTreeMap<(Sku, StockLocation), StockTarget>,
    /// SKUs (after the [`SkuRule`]) of parts with stock that BigCommerce has no inventory item for:
    /// not in the catalog, or tracking nothing.
    pub not_in_catalog: BTreeSet<Sku>,
    /// Plex locations with stock that map to no BigCommerce location (no entry in the map and no
    /// default).
    pub unmapped_locations: BTreeSet<String>,
}

impl Targets {
    /// Adds a target of nothing on hand for each row pushed before that this read found no stock
    /// for, when its SKU is still an inventory item: a part whose last container was shipped has no
    /// on-hand row at all, and BigCommerce must still learn it has none. Only a read of every
    /// container may call this; one limited to some parts would zero the others.
    pub fn zero_absent(
        &mut self,
        last_pushed: &BTreeMap<(Sku, StockLocation), i64>,
        addresses: &BTreeMap<Sku, ItemAddress>,
        in_flight: &BTreeMap<(Sku, StockLocation), u64>,
        safety: &SafetyStock,
    ) {
        for key in last_pushed.keys() {
            let Some(address) = addresses.get(&key.0) else { continue };
            self.levels.entry(key.clone()).or_insert_with(|| StockTarget {
                address: *address,
                plex_on_hand: Decimal::ZERO,
                in_flight: in_flight.get(key).copied().unwrap_or(0),
                safety: safety.for_sku(&key.0),
            });
        }
    }
}

/// Turns Plex's on-hand rows into targets: each part number becomes a SKU by `settings.sku`, each
/// Plex location a BigCommerce location by `settings.locations` (rows of Plex locations mapped to
/// the same BigCommerce location are summed), each SKU looked up in `addresses` (the catalog's
/// inventory items), and the units in flight and the safety stock set beside it. A target exists
/// for every (SKU, location) with stock in Plex; [`Targets::zero_absent`] adds those whose stock
/// is gone.
pub fn stock_targets(
    on_hand: &[OnHand],
    addresses: &BTreeMap<Sku, ItemAddress>,
    in_flight: &BTreeMap<(Sku, StockLocation), u64>,
    settings: &StockSettings,
) -> Targets {
    let mut targets = Targets::default();
    for row in on_hand {
        let Some(location) = settings.locations.location_for(&row.location) else {
            targets.unmapped_locations.insert(row.location.clone());
            continue;
        };
        let sku = settings.sku.sku_for(&row.part_no);
        let Some(address) = addresses.get(&sku) else {
            targets.not_in_catalog.insert(sku);
            continue;
        };
        let key = (sku, location);
        let in_flight = in_flight.get(&key).copied().unwrap_or(0);
        let safety = settings.safety_stock.for_sku(&key.0);
        targets.levels.entry(key).and_modify(|target| target.plex_on_hand += row.quantity).or_insert(StockTarget {
            address: *address,
            plex_on_hand: row.quantity,
            in_flight,
            safety,
        });
    }
    targets
}

/// How a connection's stock is read from Plex and pushed to BigCommerce: the profile's `stock`.
/// Every field has a default, so a profile without `stock` syncs every `OK` container of every Plex
/// location to BigCommerce's default location under its part number. Unknown keys are refused, so
/// a typo never silently falls back to a default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StockSettings {
    /// The container statuses (`containerStatus`, compared exactly) whose quantity may be sold.
    /// Default `["OK"]`: Plex's container statuses are each tenant's own setup (Plex notes §9 q6
    /// leaves open which count as available); `OK` is the status Plex gives usable stock (and the
    /// one containers get by default), while `Hold`, `Quarantine`, `Scrap`, `Rework` and the like
    /// are stock that must not be promised to a shopper. A tenant with other sellable statuses
    /// lists them all.
    pub sellable_statuses: Vec<String>,
    /// The Plex location codes whose containers count; empty (the default) means every location.
    pub plex_locations: Vec<String>,
    /// Which BigCommerce location each Plex location's stock goes to.
    pub locations: LocationMapping,
    /// How a Plex part number becomes a BigCommerce SKU.
    pub sku: SkuRule,
    /// Units held back from what BigCommerce may sell.
    pub safety_stock: SafetyStock,
    /// The BigCommerce location shoppers buy from (the storefront sells from the default location,
    /// `1`, unless the store aggregates stock): the units of open orders come off its level.
    pub orders_location: StockLocation,
    /// How often a run reads every container instead of only the parts adjusted since the last one.
    pub full_read: FullReadCadence,
    /// The drift report: how often BigCommerce's levels are read back and compared with the
    /// computed ones, and how far they may differ.
    pub drift: DriftSettings,
    /// Compute and report what a run would push (`millwright stock diff`'s report, in the run's
    /// audit event), and write nothing: neither BigCommerce nor the last-pushed levels.
    pub dry_run: bool,
}

impl Default for StockSettings {
    fn default() -> Self {
        StockSettings {
            sellable_statuses: vec!["OK".to_owned()],
            plex_locations: Vec::new(),
            locations: LocationMapping::default(),
            sku: SkuRule::default(),
            safety_stock: SafetyStock::default(),
            orders_location: StockLocation::DEFAULT,
            full_read: FullReadCadence::default(),
            drift: DriftSettings::default(),
            dry_run: false,
        }
    }
}

/// Where each Plex location's stock goes in BigCommerce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocationMapping {
    /// Plex location code (compared exactly) → BigCommerce location id.
    pub map: BTreeMap<String, StockLocation>,
    /// Where the stock of a Plex location not in `map` goes; `null` leaves such stock out. Default:
    /// the default location `1`, so without a map everything Plex holds is one BigCommerce level.
    pub default: Option<StockLocation>,
}

impl Default for LocationMapping {
    fn default() -> Self {
        LocationMapping { map: BTreeMap::new(), default: Some(StockLocation::DEFAULT) }
    }
}

impl LocationMapping {
    /// The BigCommerce location of a Plex location, `None` when its stock is left out.
    pub fn location_for(&self, plex_location: &str) -> Option<StockLocation> {
        self.map.get(plex_location).copied().or(self.default)
    }

    /// Every BigCommerce location stock may go to, each once.
    pub fn targets(&self) -> BTreeSet<StockLocation> {
        self.map.values().copied().chain(self.default).collect()
    }
}

/// How a Plex part number becomes a BigCommerce SKU. By default it is the SKU, exactly. A store
/// whose SKUs are the part numbers without a prefix (`MW-BOLT-M8` in Plex, `BOLT-M8` in
/// BigCommerce) or a suffix names it here; a part number without it is kept whole (and then
/// usually matches no SKU, which the run reports).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SkuRule {
    pub strip_prefix: Option<String>,
    pub strip_suffix: Option<String>,
}

impl SkuRule {
    pub fn sku_for(&self, part_no: &str) -> Sku {
        let mut sku = part_no;
        if let Some(prefix) = self.strip_prefix.as_deref() {
            sku = sku.strip_prefix(prefix).unwrap_or(sku);
        }
        if let Some(suffix) = self.strip_suffix.as_deref() {
            sku = sku.strip_suffix(suffix).unwrap_or(sku);
        }
        Sku::new(sku)
    }
}

/// Units held back from what BigCommerce may sell, so a count that is slightly off never sells
/// stock that is not there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SafetyStock {
    /// For every SKU without its own (default 0).
    pub default: u64,
    /// SKU → units, in place of `default`.
    pub per_sku: BTreeMap<Sku, u64>,
}

impl SafetyStock {
    pub fn for_sku(&self, sku: &Sku) -> u64 {
        self.per_sku.get(sku).copied().unwrap_or(self.default)
    }
}

/// How often a run reads every container. Between full reads a run reads only the parts whose
/// containers were adjusted since its checkpoint; a full read catches what the adjustment history
/// does not show (Plex keeps location moves in another history). A full read is due when either
/// measure says so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FullReadCadence {
    /// Every this many runs (default 12: once an hour at the five-minute schedule); `null` for no
    /// count.
    pub every_runs: Option<u32>,
    /// At least this often (default 60 minutes); `null` for no age.
    pub every_minutes: Option<u32>,
}

impl Default for FullReadCadence {
    fn default() -> Self {
        FullReadCadence { every_runs: Some(12), every_minutes: Some(60) }
    }
}

impl FullReadCadence {
    /// Whether the coming run should read every container, given how many runs have finished since
    /// the last full read (0 right after it) and when that was (`None`: never).
    pub fn is_due(&self, runs_since_full_read: u32, last_full_read: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
        let Some(last) = last_full_read else { return true };
        let by_count = self.every_runs.is_some_and(|every| runs_since_full_read.saturating_add(1) >= every);
        let by_age = self.every_minutes.is_some_and(|minutes| now - last >= Duration::minutes(i64::from(minutes)));
        by_count || by_age
    }
}

/// The drift report's cadence and tolerance: someone edits stock in BigCommerce by hand, or
/// another app writes it, and the sync (which pushes only what changed in Plex) would never notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DriftSettings {
    /// At least this often a run reads BigCommerce's levels back (default 60 minutes); `null` turns
    /// the report off.
    pub every_minutes: Option<u32>,
    /// How many units BigCommerce's level may differ from the computed one before the row counts as
    /// drift. Default 0: any difference.
    pub threshold: u64,
}

impl Default for DriftSettings {
    fn default() -> Self {
        DriftSettings { every_minutes: Some(60), threshold: 0 }
    }
}

impl DriftSettings {
    /// Whether a run at `now` should check for drift, the last check having been at `last_check`.
    pub fn is_due(&self, last_check: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
        let Some(minutes) = self.every_minutes else { return false };
        last_check.is_none_or(|last| now - last >= Duration::minutes(i64::from(minutes)))
    }

    /// Whether BigCommerce's `seen` level differs from the `computed` one by more than the threshold.
    pub fn is_drift(&self, computed: i64, seen: i64) -> bool {
        computed.abs_diff(seen) > self.threshold
    }
}

impl StockSettings {
    /// Which containers count, for the Plex read.
    pub fn container_filter(&self) -> ContainerFilter {
        ContainerFilter { statuses: self.sellable_statuses.clone(), locations: self.plex_locations.clone() }
    }

    /// Every value that parses but cannot work, each with its path in the profile (`stock.…`), all
    /// at once. Empty when the settings are usable.
    pub fn validate(&self) -> Vec<SettingProblem> {
        let mut problems = Vec::new();
        let mut problem =
            |path: String, reason: &str| problems.push(SettingProblem { path, reason: reason.to_owned() });

        if self.sellable_statuses.is_empty() {
            problem(
                "stock.sellable_statuses".to_owned(),
                "expected at least one container status, or leave it out for [\"OK\"]",
            );
        }
        for (index, status) in self.sellable_statuses.iter().enumerate() {
            if status.trim().is_empty() {
                problem(format!("stock.sellable_statuses[{index}]"), "must not be blank");
            } else if self.sellable_statuses[..index].contains(status) {
                problem(format!("stock.sellable_statuses[{index}]"), "is listed twice");
            }
        }
        for (index, location) in self.plex_locations.iter().enumerate() {
            if location.trim().is_empty() {
                problem(format!("stock.plex_locations[{index}]"), "must not be blank");
            } else if self.plex_locations[..index].contains(location) {
                problem(format!("stock.plex_locations[{index}]"), "is listed twice");
            }
        }
        for (code, location) in &self.locations.map {
            let path = format!("stock.locations.map.{code}");
            if code.trim().is_empty() {
                problem("stock.locations.map".to_owned(), "has a blank Plex location code");
            } else if location.0 == 0 {
                problem(path, "BigCommerce location ids start at 1");
            } else if !self.plex_locations.is_empty() && !self.plex_locations.contains(code) {
                problem(path, "is not among stock.plex_locations, so it never applies");
            }
        }
        if self.locations.default.is_some_and(|location| location.0 == 0) {
            problem("stock.locations.default".to_owned(), "BigCommerce location ids start at 1");
        }
        if self.locations.default.is_none() && self.locations.map.is_empty() {
            problem("stock.locations".to_owned(), "maps no Plex location anywhere, so no stock would ever be pushed");
        }
        if !self.locations.targets().contains(&self.orders_location) {
            problem(
                "stock.orders_location".to_owned(),
                "no Plex location's stock goes there (stock.locations), so open orders would be taken off nothing",
            );
        }
        for (field, value) in [("strip_prefix", &self.sku.strip_prefix), ("strip_suffix", &self.sku.strip_suffix)] {
            if value.as_deref().is_some_and(str::is_empty) {
                problem(format!("stock.sku.{field}"), "must not be empty (leave it out to keep part numbers whole)");
            }
        }
        let too_much = |units: u64| units > MAX_QUANTITY.unsigned_abs();
        if too_much(self.safety_stock.default) {
            problem("stock.safety_stock.default".to_owned(), "is above BigCommerce's maximum of 2147483647");
        }
        for (sku, units) in &self.safety_stock.per_sku {
            if sku.as_str().trim().is_empty() {
                problem("stock.safety_stock.per_sku".to_owned(), "has a blank SKU");
            } else if too_much(*units) {
                problem(format!("stock.safety_stock.per_sku.{sku}"), "is above BigCommerce's maximum of 2147483647");
            }
        }
        match (self.full_read.every_runs, self.full_read.every_minutes) {
            (None, None) => problem(
                "stock.full_read".to_owned(),
                "needs every_runs or every_minutes: without full reads, stock the adjustment history misses is \
                 never corrected",
            ),
            (runs, minutes) => {
                if runs == Some(0) {
                    problem("stock.full_read.every_runs".to_owned(), "must be at least 1");
                }
                if minutes == Some(0) {
                    problem("stock.full_read.every_minutes".to_owned(), "must be at least 1");
                }
            }
        }
        if self.drift.every_minutes == Some(0) {
            problem("stock.drift.every_minutes".to_owned(), "must be at least 1 (null turns the drift report off)");
        }
        problems
    }
}

/// One unusable setting: where it is in the profile and why it cannot work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingProblem {
    /// `stock.locations.map.FG-01`, `stock.sellable_statuses[1]`, ...
    pub path: String,
    pub reason: String,
}

impl fmt::Display for SettingProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.reason)
    }
}

/// Which Plex containers count as stock that may be sold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerFilter {
    /// Sellable `containerStatus` values, compared exactly.
    pub statuses: Vec<String>,
    /// Plex location codes whose containers count; empty means every location.
    pub locations: Vec<String>,
}

impl ContainerFilter {
    /// Whether a container of this status is sellable; one without a status is not.
    pub fn accepts_status(&self, status: Option<&str>) -> bool {
        status.is_some_and(|status| self.statuses.iter().any(|sellable| sellable == status))
    }

    /// Whether a container at this Plex location (its code) counts. Without a location list every
    /// container counts, even one that names no location.
    pub fn accepts_location(&self, location: Option<&str>) -> bool {
        self.locations.is_empty()
            || location.is_some_and(|location| self.locations.iter().any(|listed| listed == location))
    }
}

/// What became of one push of absolute levels (one request of at most [`MAX_ADJUSTMENT_ROWS`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// Every row was taken; BigCommerce's transaction id.
    Applied { transaction_id: String },
    /// The request was refused whole for some rows (their indexes into the rows sent, and why);
    /// nothing was applied, and the other rows may be sent again without them.
    Refused { rows: BTreeSet<usize>, reasons: Vec<String> },
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn units(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    fn on_hand(part_no: &str, location: &str, quantity: &str) -> OnHand {
        OnHand { part_no: part_no.to_owned(), location: location.to_owned(), quantity: units(quantity) }
    }

    fn key(sku: &str, location: u64) -> (Sku, StockLocation) {
        (Sku::from(sku), StockLocation(location))
    }

    fn product(product_id: u64) -> ItemAddress {
        ItemAddress::Product { product_id }
    }

    fn target(address: ItemAddress, on_hand: &str) -> StockTarget {
        StockTarget { address, plex_on_hand: units(on_hand), in_flight: 0, safety: 0 }
    }

    #[track_caller]
    fn check_available(on_hand: &str, in_flight: u64, safety: u64, expected: i64) {
        assert_eq!(
            available_to_sell(units(on_hand), in_flight, safety),
            expected,
            "{on_hand} - {in_flight} - {safety}"
        );
    }

    #[test]
    fn available_to_sell_is_whole_units_less_in_flight_and_safety() {
        check_available("100", 0, 0, 100);
        check_available("100", 30, 10, 60);
        check_available("12.75", 0, 0, 12);
        check_available("0.5", 0, 0, 0);
    }

    #[test]
    fn available_to_sell_never_goes_below_zero() {
        check_available("-40", 0, 0, 0);
        check_available("-0.5", 0, 0, 0);
        check_available("5", 9, 0, 0);
        check_available("5", 0, 6, 0);
        check_available("5", u64::MAX, u64::MAX, 0);
    }

    #[test]
    fn available_to_sell_never_goes_above_bigcommerces_maximum() {
        check_available("2147483647", 0, 0, MAX_QUANTITY);
        check_available("2147483648", 0, 0, MAX_QUANTITY);
        check_available("79228162514264337593543950335", 0, 0, MAX_QUANTITY);
        check_available("2147483648", 1, 0, MAX_QUANTITY);
        check_available("2147483649", 1, 1, MAX_QUANTITY);
        check_available("2147483649", 1, 2, MAX_QUANTITY - 1);
    }

    #[test]
    fn only_changed_rows_are_planned_and_a_row_never_pushed_counts_as_changed() {
        let targets = BTreeMap::from([
            (key("A", 1), target(product(1), "10")),
            (key("B", 1), target(product(2), "20")),
            (key("C", 1), target(product(3), "30.9")),
        ]);
        let last_pushed = BTreeMap::from([(key("A", 1), 10), (key("C", 1), 31), (key("Z", 1), 5)]);

        let changes = plan_changes(&targets, &last_pushed);

        let planned: Vec<(&str, Option<i64>, i64)> =
            changes.iter().map(|change| (change.sku.as_str(), change.previous, change.computed)).collect();
        assert_eq!(planned, vec![("B", None, 20), ("C", Some(31), 30)]);
        assert_eq!(changes[0].adjustment(), (product(2), StockLocation(1), 20));
        let row =
            StockRow { sku: Sku::from("C"), location: StockLocation(1), quantity: 30, plex_on_hand: units("30.9") };
        assert_eq!(changes[1].row(), row);
    }

    #[test]
    fn a_change_keeps_what_it_was_computed_from() {
        let targets = BTreeMap::from([(
            key("A", 2),
            StockTarget { address: product(1), plex_on_hand: units("-3"), in_flight: 4, safety: 2 },
        )]);

        let changes = plan_changes(&targets, &BTreeMap::from([(key("A", 2), 7)]));

        assert_eq!(
            changes,
            vec![StockChange {
                sku: Sku::from("A"),
                location: StockLocation(2),
                address: product(1),
                previous: Some(7),
                computed: 0,
                plex_on_hand: units("-3"),
                in_flight: 4,
                safety: 2,
            }]
        );
    }

    #[test]
    fn changes_are_ordered_by_location_then_sku() {
        let targets = BTreeMap::from([
            (key("A", 2), target(product(1), "1")),
            (key("B", 1), target(product(2), "1")),
            (key("A", 1), target(product(1), "1")),
        ]);
        let order: Vec<(u64, String)> = plan_changes(&targets, &BTreeMap::new())
            .iter()
            .map(|change| (change.location.id(), change.sku.to_string()))
            .collect();
        assert_eq!(order, vec![(1, "A".to_owned()), (1, "B".to_owned()), (2, "A".to_owned())]);
    }

    fn changes(count: usize) -> Vec<StockChange> {
        let targets: BTreeMap<(Sku, StockLocation), StockTarget> = (0..count)
            .map(|index| (key(&format!("SKU-{index:05}"), 1), target(product(index as u64 + 1), "1")))
            .collect();
        plan_changes(&targets, &BTreeMap::new())
    }

    #[test]
    fn exactly_2000_rows_make_one_batch_and_2001_make_two_in_order() {
        let two_thousand = changes(2000);
        assert_eq!(batches(&two_thousand, MAX_ADJUSTMENT_ROWS).len(), 1);

        let one_more = changes(2001);
        let cut = batches(&one_more, MAX_ADJUSTMENT_ROWS);
        assert_eq!(cut.iter().map(|batch| batch.len()).collect::<Vec<_>>(), vec![2000, 1]);
        assert_eq!(cut[1][0].sku.as_str(), "SKU-02000");
        let rejoined: Vec<&StockChange> = cut.iter().flat_map(|batch| batch.iter()).collect();
        assert!(rejoined.iter().zip(&one_more).all(|(a, b)| *a == b), "order kept");
    }

    #[test]
    fn batches_of_nothing_are_none_and_a_zero_size_is_one() {
        assert!(batches(&[], MAX_ADJUSTMENT_ROWS).is_empty());
        assert_eq!(batches(&changes(3), 0).len(), 3);
    }

    fn addresses() -> BTreeMap<Sku, ItemAddress> {
        BTreeMap::from([(Sku::from("BOLT"), product(10)), (Sku::from("NUT"), ItemAddress::Variant { variant_id: 21 })])
    }

    #[test]
    fn plex_locations_mapped_to_one_bigcommerce_location_are_summed_and_others_kept_apart() {
        let mut settings = StockSettings::default();
        settings.locations.map =
            BTreeMap::from([("FG-01".to_owned(), StockLocation(1)), ("FG-02".to_owned(), StockLocation(1))]);
        settings.locations.map.insert("EAST".to_owned(), StockLocation(2));
        settings.locations.default = None;
        let rows = [
            on_hand("BOLT", "FG-01", "10"),
            on_hand("BOLT", "FG-02", "5.5"),
            on_hand("BOLT", "EAST", "7"),
            on_hand("BOLT", "WIP", "100"),
            on_hand("NUT", "FG-02", "3"),
        ];

        let targets = stock_targets(&rows, &addresses(), &BTreeMap::new(), &settings);

        let levels: Vec<((String, u64), String, i64)> = targets
            .levels
            .iter()
            .map(|((sku, location), target)| {
                ((sku.to_string(), location.id()), target.plex_on_hand.to_string(), target.quantity())
            })
            .collect();
        assert_eq!(
            levels,
            vec![
                (("BOLT".to_owned(), 1), "15.5".to_owned(), 15),
                (("BOLT".to_owned(), 2), "7".to_owned(), 7),
                (("NUT".to_owned(), 1), "3".to_owned(), 3),
            ]
        );
        assert_eq!(targets.unmapped_locations, BTreeSet::from(["WIP".to_owned()]));
        assert_eq!(settings.locations.targets(), BTreeSet::from([StockLocation(1), StockLocation(2)]));
    }

    #[test]
    fn by_default_everything_goes_to_the_default_location_under_its_part_number() {
        let settings = StockSettings::default();
        let rows = [on_hand("BOLT", "FG-01", "10"), on_hand("BOLT", "ANYWHERE", "1"), on_hand("GEAR", "FG-01", "4")];

        let targets = stock_targets(&rows, &addresses(), &BTreeMap::new(), &settings);

        assert_eq!(targets.levels.keys().cloned().collect::<Vec<_>>(), vec![key("BOLT", 1)]);
        assert_eq!(targets.levels[&key("BOLT", 1)].quantity(), 11);
        assert_eq!(targets.not_in_catalog, BTreeSet::from([Sku::from("GEAR")]));
        assert!(targets.unmapped_locations.is_empty());
    }

    #[test]
    fn safety_stock_per_sku_wins_over_the_connections_and_in_flight_comes_off_too() {
        let settings = StockSettings {
            safety_stock: SafetyStock { default: 2, per_sku: BTreeMap::from([(Sku::from("NUT"), 0)]) },
            ..StockSettings::default()
        };
        let rows = [on_hand("BOLT", "FG", "10"), on_hand("NUT", "FG", "10")];
        let in_flight = BTreeMap::from([(key("NUT", 1), 4)]);

        let targets = stock_targets(&rows, &addresses(), &in_flight, &settings);

        let bolt = &targets.levels[&key("BOLT", 1)];
        let nut = &targets.levels[&key("NUT", 1)];
        assert_eq!((bolt.safety, bolt.in_flight, bolt.quantity()), (2, 0, 8));
        assert_eq!((nut.safety, nut.in_flight, nut.quantity()), (0, 4, 6));
    }

    #[test]
    fn negative_on_hand_and_in_flight_above_on_hand_push_zero() {
        let rows = [on_hand("BOLT", "FG", "-5"), on_hand("NUT", "FG", "3")];
        let in_flight = BTreeMap::from([(key("NUT", 1), 8)]);

        let targets = stock_targets(&rows, &addresses(), &in_flight, &StockSettings::default());

        assert_eq!(targets.levels[&key("BOLT", 1)].quantity(), 0);
        assert_eq!(targets.levels[&key("NUT", 1)].quantity(), 0);
        let changes = plan_changes(&targets.levels, &BTreeMap::from([(key("BOLT", 1), 0)]));
        assert_eq!(changes.iter().map(|change| change.sku.as_str()).collect::<Vec<_>>(), vec!["NUT"]);
    }

    #[test]
    fn stock_that_vanished_from_plex_is_pushed_as_zero_after_a_full_read() {
        let rows = [on_hand("BOLT", "FG", "10")];
        let mut targets = stock_targets(&rows, &addresses(), &BTreeMap::new(), &StockSettings::default());
        let last_pushed = BTreeMap::from([(key("BOLT", 1), 10), (key("NUT", 1), 6), (key("GONE", 1), 3)]);

        targets.zero_absent(&last_pushed, &addresses(), &BTreeMap::new(), &SafetyStock::default());

        let changes = plan_changes(&targets.levels, &last_pushed);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!((changes[0].sku.as_str(), changes[0].previous, changes[0].computed), ("NUT", Some(6), 0));
        assert!(!targets.levels.contains_key(&key("GONE", 1)), "no longer an inventory item: left alone");
    }

    #[test]
    fn the_sku_rule_strips_a_prefix_and_a_suffix_only_where_present() {
        let rule = SkuRule { strip_prefix: Some("MW-".to_owned()), strip_suffix: Some("/A".to_owned()) };
        assert_eq!(rule.sku_for("MW-BOLT-M8/A"), Sku::from("BOLT-M8"));
        assert_eq!(rule.sku_for("MW-BOLT-M8"), Sku::from("BOLT-M8"));
        assert_eq!(rule.sku_for("OTHER"), Sku::from("OTHER"));
        assert_eq!(SkuRule::default().sku_for("MW-BOLT-M8"), Sku::from("MW-BOLT-M8"));
    }

    #[test]
    fn the_container_filter_takes_sellable_statuses_at_listed_locations() {
        let mut settings = StockSettings::default();
        let all_locations = settings.container_filter();
        assert!(all_locations.accepts_status(Some("OK")));
        assert!(!all_locations.accepts_status(Some("Hold")));
        assert!(!all_locations.accepts_status(Some("ok")), "compared exactly, as Plex spells it");
        assert!(!all_locations.accepts_status(None));
        assert!(all_locations.accepts_location(Some("ANY")) && all_locations.accepts_location(None));

        settings.plex_locations = vec!["FG-01".to_owned()];
        let one_location = settings.container_filter();
        assert!(one_location.accepts_location(Some("FG-01")));
        assert!(!one_location.accepts_location(Some("FG-02")));
        assert!(!one_location.accepts_location(None));
    }

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z").unwrap().with_timezone(&Utc) + Duration::minutes(minute)
    }

    #[test]
    fn a_full_read_is_due_first_then_every_nth_run_or_after_the_age() {
        let cadence = FullReadCadence::default();
        assert!(cadence.is_due(0, None, at(0)), "never read in full");
        assert!(!cadence.is_due(0, Some(at(0)), at(5)));
        assert!(!cadence.is_due(10, Some(at(0)), at(55)));
        assert!(cadence.is_due(11, Some(at(0)), at(55)), "the twelfth run");
        assert!(cadence.is_due(1, Some(at(0)), at(60)), "an hour old");

        let by_count_only = FullReadCadence { every_runs: Some(1), every_minutes: None };
        assert!(by_count_only.is_due(0, Some(at(0)), at(1)));
        let by_age_only = FullReadCadence { every_runs: None, every_minutes: Some(30) };
        assert!(!by_age_only.is_due(1000, Some(at(0)), at(29)));
        assert!(by_age_only.is_due(0, Some(at(0)), at(30)));
    }

    #[test]
    fn drift_is_a_difference_above_the_threshold() {
        let mut settings = StockSettings::default().drift;
        assert!(!settings.is_drift(5, 5));
        assert!(settings.is_drift(5, 4));
        settings.threshold = 2;
        assert!(!settings.is_drift(5, 3));
        assert!(settings.is_drift(5, 8));
    }

    #[test]
    fn missing_settings_get_the_documented_defaults() {
        let settings: StockSettings = serde_json::from_value(serde_json::json!({})).unwrap();
        assert_eq!(settings, StockSettings::default());
        assert_eq!(settings.sellable_statuses, vec!["OK"]);
        assert_eq!(settings.locations.location_for("ANY"), Some(StockLocation::DEFAULT));
        assert_eq!(settings.full_read, FullReadCadence { every_runs: Some(12), every_minutes: Some(60) });
        assert!(settings.validate().is_empty());

        let partial: StockSettings = serde_json::from_value(
            serde_json::json!({"locations": {"map": {"EAST": 2}}, "safety_stock": {"per_sku": {"A": 3}}}),
        )
        .unwrap();
        assert_eq!(partial.locations.default, Some(StockLocation::DEFAULT), "the default survives a partial map");
        assert_eq!(partial.locations.location_for("EAST"), Some(StockLocation(2)));
        assert_eq!(partial.safety_stock.for_sku(&Sku::from("A")), 3);
    }

    #[test]
    fn unknown_keys_are_refused_at_every_level() {
        for document in [
            serde_json::json!({"sellable_status": ["OK"]}),
            serde_json::json!({"locations": {"mapping": {}}}),
            serde_json::json!({"sku": {"prefix": "MW-"}}),
            serde_json::json!({"safety_stock": {"per_part": {}}}),
            serde_json::json!({"full_read": {"every_hours": 1}}),
        ] {
            let error = serde_json::from_value::<StockSettings>(document.clone()).expect_err("unknown key");
            assert!(error.to_string().contains("unknown field"), "{document}: {error}");
        }
    }

    #[test]
    fn every_unworkable_setting_is_named_by_its_path_at_once() {
        let settings: StockSettings = serde_json::from_value(serde_json::json!({
            "sellable_statuses": ["OK", " ", "OK"],
            "plex_locations": ["FG-01", "FG-01"],
            "locations": {"map": {"FG-01": 0, "EAST": 2}, "default": 0},
            "sku": {"strip_prefix": ""},
            "safety_stock": {"default": 3_000_000_000_u64, "per_sku": {"A": 1, "B": 2_147_483_648_u64}},
            "full_read": {"every_runs": 0, "every_minutes": null},
            "drift": {"every_minutes": 0},
        }))
        .unwrap();

        let problems: Vec<String> = settings.validate().iter().map(ToString::to_string).collect();

        assert_eq!(
            problems,
            vec![
                "stock.sellable_statuses[1]: must not be blank",
                "stock.sellable_statuses[2]: is listed twice",
                "stock.plex_locations[1]: is listed twice",
                "stock.locations.map.EAST: is not among stock.plex_locations, so it never applies",
                "stock.locations.map.FG-01: BigCommerce location ids start at 1",
                "stock.locations.default: BigCommerce location ids start at 1",
                "stock.orders_location: no Plex location's stock goes there (stock.locations), so open orders \
                 would be taken off nothing",
                "stock.sku.strip_prefix: must not be empty (leave it out to keep part numbers whole)",
                "stock.safety_stock.default: is above BigCommerce's maximum of 2147483647",
                "stock.safety_stock.per_sku.B: is above BigCommerce's maximum of 2147483647",
                "stock.full_read.every_runs: must be at least 1",
                "stock.drift.every_minutes: must be at least 1 (null turns the drift report off)",
            ]
        );
    }

    #[test]
    fn settings_that_could_never_push_anything_are_refused() {
        let mut settings = StockSettings { sellable_statuses: Vec::new(), ..StockSettings::default() };
        settings.locations.default = None;
        settings.full_read = FullReadCadence { every_runs: None, every_minutes: None };
        let paths: Vec<String> = settings.validate().into_iter().map(|problem| problem.path).collect();
        assert_eq!(
            paths,
            vec!["stock.sellable_statuses", "stock.locations", "stock.orders_location", "stock.full_read"]
        );
    }
}
