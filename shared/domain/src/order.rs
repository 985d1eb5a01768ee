//! Web orders and the Plex sales orders they become: the types both sides of the orders flow
//! convert to and from, and the pure planning in between (which statuses count, what the order's
//! content hash is, what changed between two versions).
//!
//! `bigcommerce` converts its wire order into a [`WebOrder`]; the order worker maps a `WebOrder`
//! to a [`SalesOrderDraft`] with the connection's mappings; `plex` writes the draft. Nothing here
//! knows a wire format, so the mapping rules are tested without any server.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// BigCommerce order status ids that are not (yet) real orders: 0 Incomplete (abandoned or
/// failed payment, BigCommerce still fires `store/order/created` for them).
pub const NOT_AN_ORDER_STATUSES: &[u32] = &[0];

/// A BigCommerce order with everything the sales order needs, already fetched in full.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebOrder {
    pub id: u64,
    pub status_id: u32,
    pub status: String,
    /// 0 for a guest checkout.
    pub customer_id: u64,
    pub billing: Address,
    /// Where the lines go; usually one. A line's `address_id` points at one of these.
    pub shipping: Vec<ShippingAddress>,
    pub lines: Vec<WebOrderLine>,
    pub currency_code: String,
    pub date_created: DateTime<Utc>,
    pub date_modified: DateTime<Utc>,
    pub customer_message: Option<String>,
}

impl WebOrder {
    /// Whether this is a real order (and not, say, an abandoned checkout).
    pub fn is_real_order(&self) -> bool {
        !NOT_AN_ORDER_STATUSES.contains(&self.status_id)
    }

    pub fn is_guest(&self) -> bool {
        self.customer_id == 0
    }

    /// A hash of what a Plex sales order is made from (lines, quantities, prices, ship-to,
    /// status), not of timestamps: two fetches of an unchanged order hash alike, so a replayed or
    /// duplicated event finds nothing to do.
    pub fn content_hash(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.status_id.to_be_bytes());
        hasher.update(self.customer_id.to_be_bytes());
        hasher.update(self.currency_code.as_bytes());
        for line in &self.lines {
            hasher.update(line.line_id.to_be_bytes());
            hasher.update(line.sku.as_bytes());
            hasher.update(line.quantity.normalize().to_string().as_bytes());
            hasher.update(line.unit_price.normalize().to_string().as_bytes());
            hasher.update(line.address_id.unwrap_or_default().to_be_bytes());
        }
        for address in &self.shipping {
            hasher.update(address.id.to_be_bytes());
            hasher.update(serde_json::to_vec(&address.address).unwrap_or_default());
        }
        hex::encode(&hasher.finalize()[..16])
    }
}

/// A postal address as BigCommerce gives it (billing, or one shipping destination).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub first_name: String,
    pub last_name: String,
    pub company: Option<String>,
    pub street_1: String,
    pub street_2: Option<String>,
    pub city: String,
    pub state: String,
    pub zip: String,
    pub country_iso2: String,
    pub phone: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingAddress {
    /// BigCommerce's shipping address id (`order_address_id` on lines).
    pub id: u64,
    pub address: Address,
    pub shipping_method: Option<String>,
}

/// One order line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebOrderLine {
    /// BigCommerce's order product id (stable across updates of the same order).
    pub line_id: u64,
    pub product_id: u64,
    pub variant_id: Option<u64>,
    pub sku: String,
    pub name: String,
    pub quantity: Decimal,
    /// Price per unit excluding tax, in the order's currency.
    pub unit_price: Decimal,
    /// The shipping address this line goes to.
    pub address_id: Option<u64>,
}

/// What the order worker asks Plex to hold: one sales order with a line, a price and a release
/// per web order line. Ids are Plex ids, resolved through the id map before the draft exists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SalesOrderDraft {
    /// The web order's reference (`BC-{order_id}`), stored as the Plex PO number; the look-up
    /// key that makes a create whose outcome is in doubt safe to repeat.
    pub po_number: String,
    pub customer_id: String,
    pub order_date: DateTime<Utc>,
    pub note: Option<String>,
    pub lines: Vec<SalesOrderLineDraft>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SalesOrderLineDraft {
    /// 1-based, in the web order's line order.
    pub line_number: u32,
    pub part_id: String,
    pub part_number: String,
    pub quantity: Decimal,
    pub unit_price: Decimal,
    pub currency_code: String,
    pub due_date: NaiveDate,
    /// Plex ship-to address id, when the customer has one that matches.
    pub ship_to_address_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn order() -> WebOrder {
        let at = DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z").unwrap().with_timezone(&Utc);
        WebOrder {
            id: 1042,
            status_id: 11,
            status: "Awaiting Fulfillment".into(),
            customer_id: 7,
            billing: Address::default(),
            shipping: vec![ShippingAddress { id: 5, address: Address::default(), shipping_method: None }],
            lines: vec![WebOrderLine {
                line_id: 1,
                product_id: 111,
                variant_id: Some(211),
                sku: "MW-BOLT-M8".into(),
                name: "Hex Bolt".into(),
                quantity: Decimal::from(10),
                unit_price: Decimal::from_str("0.45").unwrap(),
                address_id: Some(5),
            }],
            currency_code: "USD".into(),
            date_created: at,
            date_modified: at,
            customer_message: None,
        }
    }

    #[test]
    fn incomplete_checkouts_are_not_orders_and_guests_have_customer_zero() {
        let mut o = order();
        assert!(o.is_real_order() && !o.is_guest());
        o.status_id = 0;
        o.customer_id = 0;
        assert!(!o.is_real_order() && o.is_guest());
    }

    #[test]
    fn the_content_hash_ignores_timestamps_and_scale_but_sees_quantities() {
        let a = order();
        let mut b = order();
        b.date_modified += chrono::Duration::minutes(5);
        b.lines[0].unit_price = Decimal::from_str("0.4500").unwrap();
        assert_eq!(a.content_hash(), b.content_hash());
        b.lines[0].quantity = Decimal::from(11);
        assert_ne!(a.content_hash(), b.content_hash());
    }
}
