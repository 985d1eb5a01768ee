//! Orders held for a mapping.
//!
//! An order that needs mapping (an unknown SKU or customer, see [`MappingGap`]) is parked in the
//! ledger as `NeedsMapping` and a [`Hold`] naming its gaps is stored beside it. The order sweep reads
//! a connection's holds, checks each *distinct* gap once (ten orders waiting for one SKU cost one
//! look-up), and queues again the orders whose every gap is filled. The worker then maps the order as
//! it would any other, so "filled" only has to be a good guess, never a promise.

use std::collections::{BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ledger::OrderRef;
use crate::order::MappingGap;

/// One order waiting for mappings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub order: OrderRef,
    /// Every gap the worker found in its last attempt (never empty).
    pub gaps: Vec<MappingGap>,
    /// When the worker stored this hold; a release that names it removes this hold and no newer one.
    pub held_at: DateTime<Utc>,
}

impl Hold {
    /// Whether every gap of this hold is in `filled`.
    pub fn is_releasable(&self, filled: &HashSet<MappingGap>) -> bool {
        self.gaps.iter().all(|gap| filled.contains(gap))
    }
}

/// The distinct gaps of `holds`, those of the longest-waiting order first, so a sweep that can
/// check only some of them serves the oldest orders first.
pub fn distinct_gaps(holds: &[Hold]) -> Vec<MappingGap> {
    let mut oldest_first: Vec<&Hold> = holds.iter().collect();
    oldest_first.sort_by_key(|hold| (hold.held_at, hold.order.order_id));
    let mut seen = BTreeSet::new();
    oldest_first.into_iter().flat_map(|hold| hold.gaps.iter()).filter(|gap| seen.insert(*gap)).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::ConnectionId;

    fn at(minute: u32) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("2026-11-24T10:{minute:02}:00Z")).unwrap().with_timezone(&Utc)
    }

    fn sku(value: &str) -> MappingGap {
        MappingGap::UnknownSku { sku: value.to_owned() }
    }

    fn hold(order_id: u64, minute: u32, gaps: &[MappingGap]) -> Hold {
        Hold {
            order: OrderRef::new(ConnectionId::new("acme").unwrap(), order_id),
            gaps: gaps.to_vec(),
            held_at: at(minute),
        }
    }

    #[test]
    fn distinct_gaps_come_once_each_oldest_hold_first() {
        let holds = [
            hold(3, 30, &[sku("C"), sku("A")]),
            hold(1, 10, &[sku("B"), MappingGap::NoGuestCustomer]),
            hold(2, 20, &[sku("A"), sku("B")]),
        ];
        assert_eq!(distinct_gaps(&holds), vec![sku("B"), MappingGap::NoGuestCustomer, sku("A"), sku("C")]);
    }

    #[test]
    fn a_hold_is_releasable_only_when_every_gap_is_filled() {
        let held = hold(1, 10, &[sku("A"), sku("B")]);
        assert!(!held.is_releasable(&HashSet::from([sku("A")])));
        assert!(held.is_releasable(&HashSet::from([sku("A"), sku("B"), sku("C")])));
    }

    #[test]
    fn a_hold_survives_a_json_round_trip_with_its_gaps_tagged() {
        let held = hold(1, 10, &[sku("A"), MappingGap::UnknownCustomer { field: "e".into(), value: "x".into() }]);
        let json = serde_json::to_value(&held).unwrap();
        assert_eq!(json["gaps"][0], serde_json::json!({"gap": "unknown_sku", "sku": "A"}));
        assert_eq!(serde_json::from_value::<Hold>(json).unwrap(), held);
    }
}
