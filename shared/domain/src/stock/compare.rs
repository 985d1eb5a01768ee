//! BigCommerce's levels beside the computed ones: what `millwright stock diff` prints, what a dry
//! run reports, and what the drift report checks.
//!
//! A row the next run writes is one whose computed level differs from what was last pushed
//! ([`LevelComparison::will_push`]). A row it does not write but where BigCommerce shows something
//! else is drift: someone changed the level in BigCommerce after our push (by hand, or another
//! app), and since the sync pushes only what changed on our side, it would never notice by itself.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{DriftSettings, Sku, StockLocation, StockTarget};

/// The most drifting rows a [`DriftCheck`] keeps: a check stays one small stored item however
/// much drifted (its `total` still counts them all).
pub const MAX_KEPT_DRIFT_ROWS: usize = 1000;

/// A BigCommerce inventory location, as far as the stock flow cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreLocation {
    pub id: StockLocation,
    pub label: String,
    /// BigCommerce refuses stock at a disabled location ("Location with id 2 is disabled").
    pub enabled: bool,
}

/// One SKU at one BigCommerce location: what BigCommerce shows, what the sync computes from Plex,
/// and what was last pushed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LevelComparison {
    pub sku: Sku,
    pub location: StockLocation,
    /// BigCommerce's on-hand level now; `None` when the item has no level at that location yet.
    pub bigcommerce: Option<i64>,
    pub computed: i64,
    pub last_pushed: Option<i64>,
    pub plex_on_hand: Decimal,
    pub in_flight: u64,
    pub safety: u64,
    /// Why BigCommerce would refuse this row's write (an unknown or disabled location).
    pub refusal: Option<String>,
}

impl LevelComparison {
    /// Whether the next run writes this row: its computed level is not what was last pushed.
    pub fn will_push(&self) -> bool {
        self.last_pushed != Some(self.computed)
    }

    /// What BigCommerce sells of it now (an item with no level at the location sells none).
    pub fn shown(&self) -> i64 {
        self.bigcommerce.unwrap_or(0)
    }

    /// Why the row stands as it does, in one line.
    pub fn why(&self) -> String {
        let sum = format!(
            "Plex on hand {} - in flight {} - safety {} = {}",
            self.plex_on_hand.normalize(),
            self.in_flight,
            self.safety,
            self.computed
        );
        match (self.will_push(), self.last_pushed) {
            (true, None) => format!("{sum}; never pushed"),
            (true, Some(last)) => format!("{sum}; last pushed {last}"),
            (false, _) if self.shown() != self.computed => {
                format!("{sum}, pushed already; BigCommerce changed since (drift, not written)")
            }
            (false, _) => format!("{sum}, pushed already"),
        }
    }
}

/// Every target beside BigCommerce's level and the last push, sorted by location then SKU, each
/// row that BigCommerce would refuse (its location unknown or disabled) saying why.
pub fn compare_levels(
    targets: &BTreeMap<(Sku, StockLocation), StockTarget>,
    last_pushed: &BTreeMap<(Sku, StockLocation), i64>,
    bigcommerce: &BTreeMap<(Sku, StockLocation), i64>,
    locations: &[StoreLocation],
) -> Comparison {
    let by_id: BTreeMap<StockLocation, &StoreLocation> =
        locations.iter().map(|location| (location.id, location)).collect();
    let mut rows: Vec<LevelComparison> = targets
        .iter()
        .map(|(key, target)| {
            let refusal = match by_id.get(&key.1) {
                None => Some(format!("BigCommerce has no inventory location {}", key.1.id())),
                Some(location) if !location.enabled => Some(format!(
                    "location {} ({}) is disabled, and BigCommerce refuses stock at a disabled location",
                    key.1.id(),
                    location.label
                )),
                Some(_) => None,
            };
            LevelComparison {
                sku: key.0.clone(),
                location: key.1,
                bigcommerce: bigcommerce.get(key).copied(),
                computed: target.quantity(),
                last_pushed: last_pushed.get(key).copied(),
                plex_on_hand: target.plex_on_hand,
                in_flight: target.in_flight,
                safety: target.safety,
                refusal,
            }
        })
        .collect();
    rows.sort_by(|a, b| (a.location, &a.sku).cmp(&(b.location, &b.sku)));
    Comparison { rows }
}

/// The comparison of one connection's levels ([`compare_levels`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Comparison {
    pub rows: Vec<LevelComparison>,
}

impl Comparison {
    /// The rows the next run writes.
    pub fn pending(&self) -> impl Iterator<Item = &LevelComparison> {
        self.rows.iter().filter(|row| row.will_push())
    }

    /// The rows the next run writes that BigCommerce would refuse.
    pub fn refused(&self) -> impl Iterator<Item = &LevelComparison> {
        self.pending().filter(|row| row.refusal.is_some())
    }

    /// The rows the next run leaves alone although BigCommerce shows more than `settings.threshold`
    /// units other than computed.
    pub fn drift(&self, settings: &DriftSettings) -> Vec<DriftRow> {
        self.rows
            .iter()
            .filter(|row| !row.will_push() && settings.is_drift(row.computed, row.shown()))
            .map(|row| DriftRow {
                sku: row.sku.clone(),
                location: row.location,
                computed: row.computed,
                seen: row.shown(),
            })
            .collect()
    }
}

/// One row where BigCommerce shows other than computed, and the next run will not write it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftRow {
    pub sku: Sku,
    pub location: StockLocation,
    pub computed: i64,
    /// What BigCommerce showed.
    pub seen: i64,
}

/// One drift report of one connection: when it was made and what drifted. A stored form (the
/// state table keeps each connection's last one): never rename a field without a migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftCheck {
    pub at: DateTime<Utc>,
    /// How many rows drifted.
    pub total: usize,
    /// The first [`MAX_KEPT_DRIFT_ROWS`] of them, by location then SKU.
    pub rows: Vec<DriftRow>,
}

impl DriftCheck {
    pub fn new(at: DateTime<Utc>, mut rows: Vec<DriftRow>) -> DriftCheck {
        let total = rows.len();
        rows.truncate(MAX_KEPT_DRIFT_ROWS);
        DriftCheck { at, total, rows }
    }

    /// The rows of this check that drifted at the `previous` check too: drift that persisted
    /// across two reports, which is alerted (one report alone may catch an order BigCommerce took
    /// between the sync's read of open orders and its read of BigCommerce's levels).
    pub fn persisting(&self, previous: Option<&DriftCheck>) -> Vec<&DriftRow> {
        let Some(previous) = previous else { return Vec::new() };
        let before: BTreeSet<(&Sku, StockLocation)> =
            previous.rows.iter().map(|row| (&row.sku, row.location)).collect();
        self.rows.iter().filter(|row| before.contains(&(&row.sku, row.location))).collect()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::super::ItemAddress;
    use super::*;

    fn key(sku: &str, location: u64) -> (Sku, StockLocation) {
        (Sku::from(sku), StockLocation(location))
    }

    fn target(on_hand: i64, in_flight: u64) -> StockTarget {
        StockTarget {
            address: ItemAddress::Product { product_id: 1 },
            plex_on_hand: Decimal::from(on_hand),
            in_flight,
            safety: 0,
        }
    }

    fn location(id: u64, enabled: bool) -> StoreLocation {
        StoreLocation { id: StockLocation(id), label: format!("Store {id}"), enabled }
    }

    fn at(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 0).unwrap() + chrono::Duration::minutes(minute)
    }

    fn drift(sku: &str, seen: i64) -> DriftRow {
        DriftRow { sku: Sku::from(sku), location: StockLocation(1), computed: 10, seen }
    }

    #[test]
    fn a_row_is_pending_when_computed_differs_from_the_last_push_and_drift_when_only_bigcommerce_differs() {
        let targets = BTreeMap::from([
            (key("NEW", 1), target(5, 0)),
            (key("CHANGED", 1), target(8, 2)),
            (key("SAME", 1), target(7, 0)),
            (key("EDITED", 1), target(9, 0)),
        ]);
        let last = BTreeMap::from([(key("CHANGED", 1), 8), (key("SAME", 1), 7), (key("EDITED", 1), 9)]);
        let seen = BTreeMap::from([(key("CHANGED", 1), 8), (key("SAME", 1), 7), (key("EDITED", 1), 12)]);

        let comparison = compare_levels(&targets, &last, &seen, &[location(1, true)]);

        let pending: Vec<&str> = comparison.pending().map(|row| row.sku.as_str()).collect();
        assert_eq!(pending, vec!["CHANGED", "NEW"]);
        let changed = comparison.rows.iter().find(|row| row.sku.as_str() == "CHANGED").unwrap();
        assert_eq!((changed.bigcommerce, changed.computed, changed.last_pushed), (Some(8), 6, Some(8)));
        assert_eq!(changed.why(), "Plex on hand 8 - in flight 2 - safety 0 = 6; last pushed 8");
        let new = comparison.rows.iter().find(|row| row.sku.as_str() == "NEW").unwrap();
        assert_eq!((new.bigcommerce, new.why().ends_with("never pushed")), (None, true));
        let drift = comparison.drift(&DriftSettings::default());
        assert_eq!(
            drift,
            vec![DriftRow { sku: Sku::from("EDITED"), location: StockLocation(1), computed: 9, seen: 12 }]
        );
        assert!(comparison.rows.iter().find(|row| row.sku.as_str() == "EDITED").unwrap().why().contains("drift"));
        assert_eq!(comparison.refused().count(), 0);
    }

    #[test]
    fn drift_within_the_threshold_is_not_drift() {
        let targets = BTreeMap::from([(key("A", 1), target(10, 0)), (key("B", 1), target(10, 0))]);
        let last = BTreeMap::from([(key("A", 1), 10), (key("B", 1), 10)]);
        let seen = BTreeMap::from([(key("A", 1), 12), (key("B", 1), 13)]);
        let comparison = compare_levels(&targets, &last, &seen, &[location(1, true)]);
        let settings = DriftSettings { every_minutes: Some(60), threshold: 2 };
        let skus: Vec<String> = comparison.drift(&settings).into_iter().map(|row| row.sku.to_string()).collect();
        assert_eq!(skus, vec!["B"]);
    }

    #[test]
    fn rows_at_an_unknown_or_disabled_location_say_why_bigcommerce_would_refuse_them() {
        let targets =
            BTreeMap::from([(key("A", 1), target(1, 0)), (key("A", 2), target(1, 0)), (key("A", 3), target(1, 0))]);
        let comparison =
            compare_levels(&targets, &BTreeMap::new(), &BTreeMap::new(), &[location(1, true), location(2, false)]);
        let refused: Vec<(u64, &str)> =
            comparison.refused().map(|row| (row.location.id(), row.refusal.as_deref().unwrap())).collect();
        assert_eq!(
            refused,
            vec![
                (2, "location 2 (Store 2) is disabled, and BigCommerce refuses stock at a disabled location"),
                (3, "BigCommerce has no inventory location 3"),
            ]
        );
    }

    #[test]
    fn drift_persists_only_when_the_same_row_drifted_at_the_check_before() {
        let first = DriftCheck::new(at(0), vec![drift("A", 12), drift("B", 3)]);
        let second = DriftCheck::new(at(60), vec![drift("B", 4), drift("C", 0)]);
        assert!(first.persisting(None).is_empty());
        let persisting: Vec<&str> = second.persisting(Some(&first)).iter().map(|row| row.sku.as_str()).collect();
        assert_eq!(persisting, vec!["B"]);
    }

    #[test]
    fn a_check_keeps_a_bounded_number_of_rows_and_counts_them_all() {
        let rows: Vec<DriftRow> = (0..MAX_KEPT_DRIFT_ROWS + 5).map(|index| drift(&format!("S{index}"), 0)).collect();
        let check = DriftCheck::new(at(0), rows);
        assert_eq!((check.total, check.rows.len()), (MAX_KEPT_DRIFT_ROWS + 5, MAX_KEPT_DRIFT_ROWS));
    }

    #[test]
    fn the_drift_report_is_due_on_its_cadence_and_never_when_off() {
        let hourly = DriftSettings::default();
        assert!(hourly.is_due(None, at(0)));
        assert!(!hourly.is_due(Some(at(0)), at(59)));
        assert!(hourly.is_due(Some(at(0)), at(60)));
        let off = DriftSettings { every_minutes: None, threshold: 0 };
        assert!(!off.is_due(None, at(0)));
    }

    #[test]
    fn a_drift_check_keeps_its_stored_form() {
        let check = DriftCheck::new(at(0), vec![drift("A", 12)]);
        let stored = serde_json::to_value(&check).unwrap();
        assert_eq!(
            stored,
            serde_json::json!({"at": "2026-12-03T12:00:00Z", "total": 1,
                "rows": [{"sku": "A", "location": 1, "computed": 10, "seen": 12}]})
        );
        assert_eq!(serde_json::from_value::<DriftCheck>(stored).unwrap(), check);
    }
}
