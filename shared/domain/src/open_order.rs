//! Open orders: web orders BigCommerce has taken that Plex does not hold yet.
//!
//! BigCommerce takes an order's quantities off its own stock when the order is placed, and Plex
//! counts them only once it holds the sales order. Until then the stock flow must deduct them from
//! Plex's on-hand, or its absolute write would hand the same units to the store again. The order
//! worker opens an order when it reads it, before it writes Plex (a first read, a retry, an order
//! held for a mapping), and closes it once the ledger holds the order committed, or the order is
//! skipped (cancelled, not synced, gone); the port is [`crate::ports::OpenOrders`].

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

use crate::ledger::OrderRef;
use crate::order::WebOrder;

/// One open order: its lines' SKUs and quantities as the worker last read them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenOrder {
    pub order: OrderRef,
    pub lines: Vec<OpenLine>,
    /// When the worker read this state of the order.
    pub read_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenLine {
    pub sku: String,
    pub quantity: Decimal,
}

impl OpenOrder {
    /// The order as the worker read it at `read_at`.
    pub fn of(order: OrderRef, web: &WebOrder, read_at: DateTime<Utc>) -> OpenOrder {
        let lines = web.lines.iter().map(|line| OpenLine { sku: line.sku.clone(), quantity: line.quantity }).collect();
        OpenOrder { order, lines, read_at }
    }
}

/// The units each SKU's open orders hold, summed over `orders` (whole units: a fractional quantity
/// is rounded up, so the deduction never falls short).
pub fn units_by_sku(orders: &[OpenOrder]) -> std::collections::BTreeMap<String, u64> {
    let mut units = std::collections::BTreeMap::new();
    for line in orders.iter().flat_map(|order| &order.lines) {
        let whole = line.quantity.max(Decimal::ZERO).ceil().to_u64().unwrap_or(u64::MAX);
        let sum = units.entry(line.sku.clone()).or_insert(0u64);
        *sum = sum.saturating_add(whole);
    }
    units
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::ConnectionId;

    fn open(id: u64, lines: &[(&str, &str)]) -> OpenOrder {
        OpenOrder {
            order: OrderRef::new(ConnectionId::new("acme").unwrap(), id),
            lines: lines
                .iter()
                .map(|(sku, qty)| OpenLine { sku: (*sku).into(), quantity: qty.parse().unwrap() })
                .collect(),
            read_at: DateTime::from_timestamp(1_790_000_000, 0).unwrap(),
        }
    }

    #[test]
    fn open_orders_hold_their_lines_units_per_sku_rounded_up() {
        let orders = [open(1, &[("BOLT", "3"), ("NUT", "2")]), open(2, &[("BOLT", "1.5")]), open(3, &[("NUT", "-1")])];
        let units = units_by_sku(&orders);
        assert_eq!(units.get("BOLT"), Some(&5));
        assert_eq!(units.get("NUT"), Some(&2));
    }

    #[test]
    fn an_open_order_keeps_its_stored_form() {
        let order = open(7, &[("BOLT", "3")]);
        let json = serde_json::to_value(&order).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"order": {"connection": "acme", "order_id": 7}, "lines": [{"sku": "BOLT", "quantity": "3"}],
                "read_at": "2026-09-21T14:13:20Z"})
        );
        assert_eq!(serde_json::from_value::<OpenOrder>(json).unwrap(), order);
    }
}
