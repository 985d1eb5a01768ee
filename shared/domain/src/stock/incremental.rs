//! Reading only what changed in Plex: between full reads of every container (on the connection's
//! [`FullReadCadence`](super::FullReadCadence)), a run reads Plex's container adjustments since its
//! checkpoint and then the containers of only the parts they name; every other row keeps the
//! on-hand its last read stored beside its pushed level, less what is in flight now.
//!
//! What the adjustment history does not show (Plex keeps location moves, and receipts on some
//! tenants, in other histories) the next full read corrects, and a new SKU in BigCommerce whose part
//! did not change waits for it too.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{ItemAddress, OnHand, Sku, StockLocation, StockSettings, StockTarget, Targets, stock_targets};

/// How far before the checkpoint each adjustment read starts, so an adjustment Plex commits a
/// little late with an earlier date is still seen (reading a part twice costs a call, not a wrong
/// level); never from before the last full read, which saw everything adjusted before it began.
pub const ADJUSTMENT_OVERLAP: Duration = Duration::minutes(2);

/// The most parts an incremental run reads one by one (one containers request each, against
/// Plex's 200 calls a minute shared with the orders flow); more and a full read, one request, is
/// cheaper.
pub const MAX_INCREMENTAL_PARTS: usize = 100;

/// A part whose containers Plex adjusted: its id (what the containers read filters on) and its
/// number (what becomes its SKU).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AdjustedPart {
    pub part_id: String,
    pub part_no: String,
}

/// What was last pushed for one SKU at one location, and the Plex on-hand it was computed from
/// (`None` when the store kept no on-hand for it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedLevel {
    pub quantity: i64,
    pub plex_on_hand: Option<Decimal>,
}

/// Where a connection's reads of Plex stand. A stored form (the state table keeps one per
/// connection): never rename a field without a migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockProgress {
    /// When the last full read of every container started.
    pub last_full_read: DateTime<Utc>,
    /// Runs finished since it (0 right after it).
    pub runs_since_full_read: u32,
    /// Container adjustments have been read up to here.
    pub adjustments_through: DateTime<Utc>,
    /// The settings the stored on-hand was read under ([`StockSettings::read_fingerprint`]).
    pub read_with: String,
}

/// How the coming run reads Plex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadPlan {
    /// Every container; why.
    Full { reason: &'static str },
    /// The adjustments from `since` on, then the containers of the parts they name.
    Incremental { since: DateTime<Utc> },
}

impl StockSettings {
    /// The settings that decide what a read of Plex stores: when one changes, the stored on-hand
    /// no longer means the same and the next run reads everything.
    pub fn read_fingerprint(&self) -> String {
        serde_json::json!([self.sellable_statuses, self.plex_locations, self.locations, self.sku]).to_string()
    }

    /// How a run at `now` reads Plex, after the run that left `progress` (`None`: no run finished).
    pub fn read_plan(&self, progress: Option<&StockProgress>, now: DateTime<Utc>) -> ReadPlan {
        let Some(progress) = progress else { return ReadPlan::Full { reason: "no full read yet" } };
        if progress.read_with != self.read_fingerprint() {
            return ReadPlan::Full { reason: "the stock settings changed since the last read" };
        }
        if self.full_read.is_due(progress.runs_since_full_read, Some(progress.last_full_read), now) {
            return ReadPlan::Full { reason: "a full read is due" };
        }
        // Never from before the last full read: what was adjusted before it began, it read.
        let since = (progress.adjustments_through - ADJUSTMENT_OVERLAP).max(progress.last_full_read);
        ReadPlan::Incremental { since }
    }
}

impl StockProgress {
    /// After a full read that started at `started` (adjustments from then on are read next).
    pub fn after_full_read(settings: &StockSettings, started: DateTime<Utc>) -> StockProgress {
        StockProgress {
            last_full_read: started,
            runs_since_full_read: 0,
            adjustments_through: started,
            read_with: settings.read_fingerprint(),
        }
    }

    /// After an incremental run that read the adjustments up to `through`.
    pub fn after_incremental_read(&self, through: DateTime<Utc>) -> StockProgress {
        StockProgress {
            runs_since_full_read: self.runs_since_full_read.saturating_add(1),
            adjustments_through: through.max(self.adjustments_through),
            ..self.clone()
        }
    }
}

/// The targets of an incremental run: the rows of the re-read parts (`fresh`, whose SKUs are
/// `reread`) as a full read would give them, a re-read SKU's pushed row that has no stock any more
/// as nothing on hand, and every other pushed row from the on-hand stored with it, with the units
/// in flight and the safety stock of now.
pub fn incremental_targets(
    fresh: &[OnHand],
    reread: &BTreeSet<Sku>,
    pushed: &BTreeMap<(Sku, StockLocation), PushedLevel>,
    addresses: &BTreeMap<Sku, ItemAddress>,
    in_flight: &BTreeMap<(Sku, StockLocation), u64>,
    settings: &StockSettings,
) -> Targets {
    let mut targets = stock_targets(fresh, addresses, in_flight, settings);
    for (key, level) in pushed {
        let Some(address) = addresses.get(&key.0) else { continue };
        let on_hand = if reread.contains(&key.0) {
            Decimal::ZERO
        } else if let Some(on_hand) = level.plex_on_hand {
            on_hand
        } else {
            continue;
        };
        targets.levels.entry(key.clone()).or_insert_with(|| StockTarget {
            address: *address,
            plex_on_hand: on_hand,
            in_flight: in_flight.get(key).copied().unwrap_or(0),
            safety: settings.safety_stock.for_sku(&key.0),
        });
    }
    targets
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 0).unwrap() + Duration::minutes(minute)
    }

    fn key(sku: &str) -> (Sku, StockLocation) {
        (Sku::from(sku), StockLocation::DEFAULT)
    }

    fn pushed(quantity: i64, on_hand: i64) -> PushedLevel {
        PushedLevel { quantity, plex_on_hand: Some(Decimal::from(on_hand)) }
    }

    #[test]
    fn the_first_run_a_settings_change_and_the_cadence_call_for_a_full_read_and_otherwise_the_adjustments() {
        let settings = StockSettings::default();
        assert_eq!(settings.read_plan(None, at(0)), ReadPlan::Full { reason: "no full read yet" });
        let progress = StockProgress::after_full_read(&settings, at(0));
        assert_eq!(settings.read_plan(Some(&progress), at(5)), ReadPlan::Incremental { since: at(0) });
        let next = progress.after_incremental_read(at(5));
        assert_eq!((next.runs_since_full_read, next.adjustments_through), (1, at(5)));
        assert_eq!(settings.read_plan(Some(&next), at(10)), ReadPlan::Incremental { since: at(3) });
        assert_eq!(settings.read_plan(Some(&next), at(60)), ReadPlan::Full { reason: "a full read is due" });

        let mut changed = settings.clone();
        changed.sellable_statuses.push("Quarantine-OK".into());
        assert_eq!(
            changed.read_plan(Some(&next), at(10)),
            ReadPlan::Full { reason: "the stock settings changed since the last read" }
        );
        // The safety stock is applied at each run, so changing it needs no full read.
        let mut safer = settings.clone();
        safer.safety_stock.default = 5;
        assert_eq!(safer.read_plan(Some(&next), at(10)), ReadPlan::Incremental { since: at(3) });
    }

    #[test]
    fn an_incremental_run_takes_re_read_parts_fresh_and_every_other_row_from_its_stored_on_hand_with_todays_orders() {
        let addresses: BTreeMap<Sku, ItemAddress> = ["A", "B", "GONE", "NEW"]
            .iter()
            .enumerate()
            .map(|(n, sku)| (Sku::from(*sku), ItemAddress::Product { product_id: n as u64 + 1 }))
            .collect();
        let pushed =
            BTreeMap::from([(key("A"), pushed(10, 10)), (key("B"), pushed(7, 7)), (key("GONE"), pushed(3, 3))]);
        let fresh = vec![OnHand { part_no: "A".into(), location: "FG".into(), quantity: Decimal::from(4) }];
        let reread: BTreeSet<Sku> = [Sku::from("A"), Sku::from("GONE")].into();
        let in_flight = BTreeMap::from([(key("B"), 2)]);

        let targets = incremental_targets(&fresh, &reread, &pushed, &addresses, &in_flight, &StockSettings::default());

        let levels: Vec<(&str, i64)> =
            targets.levels.iter().map(|((sku, _), target)| (sku.as_str(), target.quantity())).collect();
        // A re-read to 4, B from its stored 7 less 2 in flight, GONE re-read and found empty; NEW
        // was never pushed nor re-read, so it waits for the next full read.
        assert_eq!(levels, vec![("A", 4), ("B", 5), ("GONE", 0)]);
    }
}
