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

/// BigCommerce order status ids that are not orders Plex should make: 0 Incomplete (abandoned
/// checkout or failed payment; BigCommerce still fires `store/order/created` for them), 4 Refunded,
/// 5 Cancelled and 6 Declined. An order that reaches one of these after it was written to Plex is
/// a change for a person (the worker audits it as needs-attention), not a silent new version.
pub const NOT_AN_ORDER_STATUSES: &[u32] = &[0, 4, 5, 6];

/// A BigCommerce order with everything the sales order needs, already fetched in full.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// The version of [`WebOrder::content_hash`]'s input layout, hashed first: a new layout gets a new
/// number, so no hash of one layout can equal a hash of another.
const CONTENT_HASH_FORM: u32 = 2;

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
    ///
    /// It is a stored form (the ledger's `version_hash`), pinned by a golden test. Every field is
    /// framed: numbers at a fixed width, text and lists after their length, so two different
    /// orders never feed the same bytes (a SKU `AB` of quantity 12 is not `AB1` of quantity 2).
    /// Changing the form makes every committed order look changed once, on its next read: the
    /// worker then finds no change to write to Plex and commits the new hash.
    pub fn content_hash(&self) -> String {
        fn text(hasher: &mut Sha256, value: &[u8]) {
            hasher.update((value.len() as u64).to_be_bytes());
            hasher.update(value);
        }
        let mut hasher = Sha256::new();
        hasher.update(CONTENT_HASH_FORM.to_be_bytes());
        hasher.update(self.status_id.to_be_bytes());
        hasher.update(self.customer_id.to_be_bytes());
        text(&mut hasher, self.currency_code.as_bytes());
        hasher.update((self.lines.len() as u64).to_be_bytes());
        for line in &self.lines {
            hasher.update(line.line_id.to_be_bytes());
            text(&mut hasher, line.sku.as_bytes());
            text(&mut hasher, line.quantity.normalize().to_string().as_bytes());
            text(&mut hasher, line.unit_price.normalize().to_string().as_bytes());
            hasher.update(line.address_id.unwrap_or_default().to_be_bytes());
        }
        hasher.update((self.shipping.len() as u64).to_be_bytes());
        for address in &self.shipping {
            hasher.update(address.id.to_be_bytes());
            text(&mut hasher, &serde_json::to_vec(&address.address).unwrap_or_default());
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalesOrderDraft {
    /// The web order's reference (`BC-{order_id}`), stored as the Plex PO number; the look-up
    /// key that makes a create whose outcome is in doubt safe to repeat.
    pub po_number: String,
    pub customer_id: String,
    pub order_date: DateTime<Utc>,
    pub note: Option<String>,
    pub lines: Vec<SalesOrderLineDraft>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

    #[test]
    fn the_content_hash_keeps_its_stored_form() {
        // The ledger holds this value for every committed order: a change here makes each of them
        // look changed once, so it must be deliberate (see `WebOrder::content_hash`).
        assert_eq!(order().content_hash(), "0de2953aa621ec34e77e4903e45de45f");
    }

    #[test]
    fn fields_that_run_into_each_other_do_not_hash_alike() {
        // SKU "AB" of quantity 12 and SKU "AB1" of quantity 2 are the same bytes unframed
        let mut a = order();
        a.lines[0].sku = "AB".into();
        a.lines[0].quantity = Decimal::from(12);
        let mut b = order();
        b.lines[0].sku = "AB1".into();
        b.lines[0].quantity = Decimal::from(2);
        assert_ne!(a.content_hash(), b.content_hash());
        // and a line's price running into the next line's SKU
        let mut c = order();
        c.lines[0].unit_price = Decimal::from(45);
        c.lines.push(WebOrderLine { sku: "7X".into(), ..c.lines[0].clone() });
        let mut d = order();
        d.lines[0].unit_price = Decimal::from(457);
        d.lines.push(WebOrderLine { sku: "X".into(), ..d.lines[0].clone() });
        assert_ne!(c.content_hash(), d.content_hash());
    }
}

/// A sales order as Plex holds it: its id and, per line number, the Plex line and release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlexOrderRef {
    pub id: String,
    #[serde(default)]
    pub number: Option<String>,
    #[serde(default)]
    pub lines: Vec<PlexLineRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlexLineRef {
    pub line_number: u32,
    pub line_id: String,
    #[serde(default)]
    pub release_id: Option<String>,
}

/// What the ledger keeps of a committed order: the draft Plex was given and where it landed, so a
/// later `store/order/updated` can be diffed without reading the order back from Plex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedOrder {
    pub draft: SalesOrderDraft,
    pub plex: PlexOrderRef,
}

/// Why an order cannot be mapped yet: something an operator must create or map. Each gap names
/// the value, and is one alert cause, so ten orders missing the same SKU raise one alert.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "gap", rename_all = "snake_case")]
pub enum MappingGap {
    /// No Plex part has this number.
    UnknownSku { sku: String },
    /// No Plex customer matches the shopper by the connection's match key.
    UnknownCustomer { field: String, value: String },
    /// The match key's field is empty on this order (e.g. no billing company).
    MissingCustomerField { field: String },
    /// A guest order, and the connection has no guest customer configured.
    NoGuestCustomer,
}

/// The setting a guest order's customer comes from, as mapping gaps name it.
const GUEST_CUSTOMER_FIELD: &str = "guest_customer_code";

/// What it takes to tell whether a [`MappingGap`] is filled now (see [`MappingGap::recheck`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GapRecheck {
    /// The connection's settings changed so that the gap no longer applies; says how.
    SettingsChanged(String),
    /// Filled once this SKU has a Plex part.
    Part(String),
    /// Filled once this key finds a Plex customer.
    Customer(CustomerKey),
    /// Only a change to the order itself can fill it (and its `updated` webhook retries the order).
    OrderMustChange,
}

impl MappingGap {
    /// How to check this gap again under the connection's current settings. A gap reported under
    /// settings that have changed since (another match key, a guest customer configured, customer
    /// creation switched on) is no longer a reason to hold the order: the worker decides afresh.
    pub fn recheck(&self, settings: &crate::connection::OrderSettings) -> GapRecheck {
        let matched_by = settings.customer_match.field();
        let match_changed =
            || GapRecheck::SettingsChanged(format!("the connection now matches customers by {matched_by}"));
        match self {
            MappingGap::UnknownSku { sku } => GapRecheck::Part(sku.clone()),
            MappingGap::NoGuestCustomer => match &settings.guest_customer_code {
                Some(code) => GapRecheck::SettingsChanged(format!("guest orders now go to Plex customer {code}")),
                None => GapRecheck::OrderMustChange,
            },
            MappingGap::MissingCustomerField { field } if field != matched_by => match_changed(),
            MappingGap::MissingCustomerField { .. } => GapRecheck::OrderMustChange,
            MappingGap::UnknownCustomer { field, value } if field == GUEST_CUSTOMER_FIELD => {
                match &settings.guest_customer_code {
                    Some(code) if code == value => GapRecheck::Customer(CustomerKey::GuestCode(value.clone())),
                    Some(code) => GapRecheck::SettingsChanged(format!("guest orders now go to Plex customer {code}")),
                    None => GapRecheck::OrderMustChange,
                }
            }
            MappingGap::UnknownCustomer { field, .. } if field != matched_by => match_changed(),
            MappingGap::UnknownCustomer { value, .. } => {
                use crate::connection::CustomerMatch;
                match settings.customer_match {
                    CustomerMatch::Email | CustomerMatch::Company if settings.create_customers => {
                        GapRecheck::SettingsChanged("the connection now creates missing customers".to_owned())
                    }
                    CustomerMatch::Email => GapRecheck::Customer(CustomerKey::Email(value.clone())),
                    CustomerMatch::Company => GapRecheck::Customer(CustomerKey::Company(value.clone())),
                    CustomerMatch::CustomerId => match value.parse() {
                        Ok(id) => GapRecheck::Customer(CustomerKey::BigCommerceId(id)),
                        Err(_) => GapRecheck::OrderMustChange,
                    },
                }
            }
        }
    }

    /// The alert cause: one alert per distinct gap per window.
    pub fn cause(&self) -> String {
        match self {
            MappingGap::UnknownSku { sku } => format!("unmapped-sku:{sku}"),
            MappingGap::UnknownCustomer { field, value } => format!("unknown-customer:{field}:{value}"),
            MappingGap::MissingCustomerField { field } => format!("missing-customer-field:{field}"),
            MappingGap::NoGuestCustomer => "no-guest-customer".to_owned(),
        }
    }
}

impl std::fmt::Display for MappingGap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MappingGap::UnknownSku { sku } => write!(f, "SKU {sku:?} has no Plex part with that number"),
            MappingGap::UnknownCustomer { field, value } => {
                write!(f, "no Plex customer matches {field} {value:?}")
            }
            MappingGap::MissingCustomerField { field } => {
                write!(f, "the order has no {field}, which this connection matches customers by")
            }
            MappingGap::NoGuestCustomer => {
                write!(f, "guest order, and the connection has no guest_customer_code configured")
            }
        }
    }
}

/// A Plex customer to create for a shopper (when the connection creates customers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCustomer {
    /// `BC-C{customer id}`: unique per store, and traceable back to the BigCommerce account.
    pub code: String,
    /// The billing company, else the billing name.
    pub name: String,
    pub email: Option<String>,
    pub billing: Address,
}

impl NewCustomer {
    /// The customer for a registered shopper's order; `None` for a guest (guests go to the
    /// configured guest customer, never to a customer of their own).
    pub fn for_order(order: &WebOrder) -> Option<NewCustomer> {
        if order.is_guest() {
            return None;
        }
        let billing = &order.billing;
        let person = format!("{} {}", billing.first_name.trim(), billing.last_name.trim()).trim().to_owned();
        let name = billing.company.clone().filter(|c| !c.trim().is_empty()).unwrap_or(person);
        Some(NewCustomer {
            code: format!("BC-C{}", order.customer_id),
            name: if name.is_empty() { format!("BigCommerce customer {}", order.customer_id) } else { name },
            email: billing.email.clone().filter(|e| !e.trim().is_empty()),
            billing: billing.clone(),
        })
    }
}

/// How to look for an order's Plex customer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CustomerKey {
    /// A guest order: the configured guest customer, by Plex customer code.
    GuestCode(String),
    /// The id map `customer`: BigCommerce customer id → Plex customer id.
    BigCommerceId(u64),
    /// The Plex customer whose e-mail is this (compared case-insensitively).
    Email(String),
    /// The Plex customer whose name is this.
    Company(String),
}

impl CustomerKey {
    /// The key for this order under the connection's settings, or the gap that prevents one.
    pub fn for_order(order: &WebOrder, settings: &crate::connection::OrderSettings) -> Result<CustomerKey, MappingGap> {
        use crate::connection::CustomerMatch;
        if order.is_guest() {
            return settings.guest_customer_code.clone().map(CustomerKey::GuestCode).ok_or(MappingGap::NoGuestCustomer);
        }
        let field = settings.customer_match.field();
        let present = |value: Option<&String>| {
            value
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| MappingGap::MissingCustomerField { field: field.to_owned() })
        };
        match settings.customer_match {
            CustomerMatch::CustomerId => Ok(CustomerKey::BigCommerceId(order.customer_id)),
            CustomerMatch::Email => present(order.billing.email.as_ref()).map(CustomerKey::Email),
            CustomerMatch::Company => present(order.billing.company.as_ref()).map(CustomerKey::Company),
        }
    }

    /// The value looked for, as mapping gaps name it.
    pub fn value(&self) -> String {
        match self {
            CustomerKey::GuestCode(code) => code.clone(),
            CustomerKey::BigCommerceId(id) => id.to_string(),
            CustomerKey::Email(email) => email.clone(),
            CustomerKey::Company(company) => company.clone(),
        }
    }

    /// The order field (or setting) this key was taken from, as mapping gaps name it.
    pub fn field(&self) -> &'static str {
        use crate::connection::CustomerMatch;
        match self {
            CustomerKey::GuestCode(_) => GUEST_CUSTOMER_FIELD,
            CustomerKey::BigCommerceId(_) => CustomerMatch::CustomerId.field(),
            CustomerKey::Email(_) => CustomerMatch::Email.field(),
            CustomerKey::Company(_) => CustomerMatch::Company.field(),
        }
    }

    /// The gap to report when nothing in Plex matches this key.
    pub fn not_found(&self) -> MappingGap {
        MappingGap::UnknownCustomer { field: self.field().to_owned(), value: self.value() }
    }
}

/// An order as the store's order list shows it: enough to tell whether the worker has seen its
/// latest state, without reading the order in full.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderChange {
    pub id: u64,
    pub status_id: u32,
    pub date_modified: DateTime<Utc>,
}

/// A Plex part as the mapping needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRef {
    pub id: String,
    pub number: String,
}

/// Maps a fetched web order to the sales order Plex should hold, given the customer and the parts
/// the worker resolved. Every gap is reported at once (not just the first), so the operator fixes
/// an order in one go.
pub fn plan_sales_order(
    order: &WebOrder,
    settings: &crate::connection::OrderSettings,
    customer: Result<&str, MappingGap>,
    parts: &std::collections::HashMap<String, PartRef>,
) -> Result<SalesOrderDraft, Vec<MappingGap>> {
    let mut gaps: Vec<MappingGap> = Vec::new();
    if let Err(gap) = &customer {
        gaps.push(gap.clone());
    }
    let due_date = order.date_created.date_naive() + chrono::Days::new(u64::from(settings.due_in_days));
    let mut lines = Vec::with_capacity(order.lines.len());
    for (index, line) in order.lines.iter().enumerate() {
        match parts.get(&line.sku) {
            Some(part) => lines.push(SalesOrderLineDraft {
                line_number: u32::try_from(index + 1).unwrap_or(u32::MAX),
                part_id: part.id.clone(),
                part_number: part.number.clone(),
                quantity: line.quantity,
                unit_price: line.unit_price,
                currency_code: order.currency_code.clone(),
                due_date,
                ship_to_address_id: None,
            }),
            None => {
                let gap = MappingGap::UnknownSku { sku: line.sku.clone() };
                if !gaps.contains(&gap) {
                    gaps.push(gap);
                }
            }
        }
    }
    match customer {
        Ok(customer_id) if gaps.is_empty() => Ok(SalesOrderDraft {
            po_number: crate::ledger::OrderRef::reference_for(order.id),
            customer_id: customer_id.to_owned(),
            order_date: order.date_created,
            note: order.customer_message.clone().filter(|m| !m.trim().is_empty()),
            lines,
        }),
        _ => Err(gaps),
    }
}

/// What changed between the sales order Plex holds (as committed) and the one the web order now
/// asks for, line by line (matched by line number, which follows the web order's line order).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DraftChanges {
    /// Lines whose quantity or due date changed: Plex lets a release be updated.
    pub release_updates: Vec<SalesOrderLineDraft>,
    /// Lines the web order gained: Plex lets a line be added.
    pub added_lines: Vec<SalesOrderLineDraft>,
    /// What Plex's API cannot change on an existing order (customer, part of a line, price,
    /// removed lines), described for a person.
    pub needs_attention: Vec<String>,
}

impl DraftChanges {
    pub fn between(committed: &SalesOrderDraft, wanted: &SalesOrderDraft) -> DraftChanges {
        let mut changes = DraftChanges::default();
        if committed.customer_id != wanted.customer_id {
            changes
                .needs_attention
                .push(format!("customer changed from {} to {}", committed.customer_id, wanted.customer_id));
        }
        for line in &wanted.lines {
            match committed.lines.iter().find(|old| old.line_number == line.line_number) {
                None => changes.added_lines.push(line.clone()),
                Some(old) if old.part_id != line.part_id => changes.needs_attention.push(format!(
                    "line {} changed part from {} to {}",
                    line.line_number, old.part_number, line.part_number
                )),
                Some(old) => {
                    if old.unit_price != line.unit_price {
                        changes.needs_attention.push(format!(
                            "line {} ({}) price changed from {} to {}",
                            line.line_number, line.part_number, old.unit_price, line.unit_price
                        ));
                    }
                    if old.quantity != line.quantity || old.due_date != line.due_date {
                        changes.release_updates.push(line.clone());
                    }
                }
            }
        }
        for old in &committed.lines {
            if !wanted.lines.iter().any(|line| line.line_number == old.line_number) {
                changes
                    .needs_attention
                    .push(format!("line {} ({}) was removed from the web order", old.line_number, old.part_number));
            }
        }
        changes
    }

    pub fn is_empty(&self) -> bool {
        self.release_updates.is_empty() && self.added_lines.is_empty() && self.needs_attention.is_empty()
    }
}

#[cfg(test)]
mod planning_tests {
    use std::collections::HashMap;
    use std::str::FromStr;

    use super::*;
    use crate::connection::{CustomerMatch, OrderSettings};

    fn order(customer_id: u64, skus: &[&str]) -> WebOrder {
        let at = DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z").unwrap().with_timezone(&Utc);
        WebOrder {
            id: 1042,
            status_id: 11,
            status: "Awaiting Fulfillment".into(),
            customer_id,
            billing: Address { email: Some("buyer@acme.test".into()), ..Address::default() },
            shipping: vec![],
            lines: skus
                .iter()
                .enumerate()
                .map(|(i, sku)| WebOrderLine {
                    line_id: i as u64 + 1,
                    product_id: 1,
                    variant_id: None,
                    sku: (*sku).into(),
                    name: (*sku).into(),
                    quantity: Decimal::from(2),
                    unit_price: Decimal::from_str("6.90").unwrap(),
                    address_id: None,
                })
                .collect(),
            currency_code: "USD".into(),
            date_created: at,
            date_modified: at,
            customer_message: Some("  ".into()),
        }
    }

    fn parts(skus: &[&str]) -> HashMap<String, PartRef> {
        skus.iter().map(|s| ((*s).to_owned(), PartRef { id: format!("id-{s}"), number: (*s).to_owned() })).collect()
    }

    #[test]
    fn a_fully_mapped_order_becomes_a_draft_with_the_reference_as_po_number() {
        let draft =
            plan_sales_order(&order(7, &["A", "B"]), &OrderSettings::default(), Ok("cust-1"), &parts(&["A", "B"]))
                .unwrap();
        assert_eq!(draft.po_number, "BC-1042");
        assert_eq!(draft.customer_id, "cust-1");
        assert_eq!(draft.note, None, "a blank customer message is no note");
        assert_eq!(draft.lines.iter().map(|l| l.line_number).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(draft.lines[0].due_date.to_string(), "2026-12-01");
        assert_eq!(draft.lines[1].part_id, "id-B");
    }

    #[test]
    fn every_gap_is_reported_once_and_names_the_value() {
        let gaps = plan_sales_order(
            &order(7, &["A", "W-9", "W-9"]),
            &OrderSettings::default(),
            Err(MappingGap::UnknownCustomer { field: "billing_address.email".into(), value: "x@y".into() }),
            &parts(&["A"]),
        )
        .unwrap_err();
        assert_eq!(gaps.len(), 2);
        assert_eq!(gaps[1].to_string(), "SKU \"W-9\" has no Plex part with that number");
        assert_eq!(gaps[1].cause(), "unmapped-sku:W-9");
    }

    #[test]
    fn customer_keys_follow_the_match_setting_and_guests_need_a_configured_customer() {
        let settings = OrderSettings::default();
        assert_eq!(CustomerKey::for_order(&order(7, &[]), &settings), Ok(CustomerKey::Email("buyer@acme.test".into())));
        assert_eq!(CustomerKey::for_order(&order(0, &[]), &settings), Err(MappingGap::NoGuestCustomer));
        let guests = OrderSettings { guest_customer_code: Some("WEB-STORE".into()), ..OrderSettings::default() };
        assert_eq!(CustomerKey::for_order(&order(0, &[]), &guests), Ok(CustomerKey::GuestCode("WEB-STORE".into())));
        let by_company = OrderSettings { customer_match: CustomerMatch::Company, ..OrderSettings::default() };
        assert_eq!(
            CustomerKey::for_order(&order(7, &[]), &by_company),
            Err(MappingGap::MissingCustomerField { field: "billing_address.company".into() })
        );
    }

    #[test]
    fn every_gap_the_worker_reports_is_rechecked_the_way_the_worker_would_resolve_it() {
        // Each gap as the worker reports it under the default settings (match by e-mail, no guest customer).
        let settings = OrderSettings::default();
        let registered = CustomerKey::for_order(&order(7, &[]), &settings).unwrap();
        let unknown = registered.not_found();
        let guest_gap = CustomerKey::for_order(&order(0, &[]), &settings).unwrap_err();
        let mut no_email = order(7, &[]);
        no_email.billing.email = None;
        let missing = CustomerKey::for_order(&no_email, &settings).unwrap_err();
        let sku = MappingGap::UnknownSku { sku: "W-9".into() };

        // Under the same settings: look the value up again, or wait for the order to change.
        assert_eq!(sku.recheck(&settings), GapRecheck::Part("W-9".into()));
        assert_eq!(unknown.recheck(&settings), GapRecheck::Customer(registered));
        assert_eq!(guest_gap.recheck(&settings), GapRecheck::OrderMustChange);
        assert_eq!(missing.recheck(&settings), GapRecheck::OrderMustChange);

        // Settings changed since: the gap no longer holds the order.
        let guests = OrderSettings { guest_customer_code: Some("WEB".into()), ..OrderSettings::default() };
        assert_eq!(
            guest_gap.recheck(&guests),
            GapRecheck::SettingsChanged("guest orders now go to Plex customer WEB".into())
        );
        let by_company = OrderSettings { customer_match: CustomerMatch::Company, ..OrderSettings::default() };
        let changed =
            GapRecheck::SettingsChanged("the connection now matches customers by billing_address.company".into());
        assert_eq!(missing.recheck(&by_company), changed);
        assert_eq!(unknown.recheck(&by_company), changed);
        let creating = OrderSettings { create_customers: true, ..OrderSettings::default() };
        assert_eq!(
            unknown.recheck(&creating),
            GapRecheck::SettingsChanged("the connection now creates missing customers".into())
        );

        // A guest customer that Plex did not know: looked up again, unless another one is configured now.
        let unknown_guest = CustomerKey::GuestCode("WEB".into()).not_found();
        assert_eq!(unknown_guest.recheck(&guests), GapRecheck::Customer(CustomerKey::GuestCode("WEB".into())));
        let other = OrderSettings { guest_customer_code: Some("SHOP".into()), ..OrderSettings::default() };
        assert_eq!(
            unknown_guest.recheck(&other),
            GapRecheck::SettingsChanged("guest orders now go to Plex customer SHOP".into())
        );
        let by_id = OrderSettings { customer_match: CustomerMatch::CustomerId, ..OrderSettings::default() };
        let unknown_id = CustomerKey::for_order(&order(7, &[]), &by_id).unwrap().not_found();
        assert_eq!(unknown_id.recheck(&by_id), GapRecheck::Customer(CustomerKey::BigCommerceId(7)));
    }

    #[test]
    fn a_new_customer_is_named_by_company_then_person_and_coded_by_the_bigcommerce_id() {
        let mut o = order(7, &[]);
        o.billing.first_name = "Robin".into();
        o.billing.last_name = "Fitter".into();
        let customer = NewCustomer::for_order(&o).unwrap();
        assert_eq!((customer.code.as_str(), customer.name.as_str()), ("BC-C7", "Robin Fitter"));
        o.billing.company = Some("Fitter Fabrication".into());
        assert_eq!(NewCustomer::for_order(&o).unwrap().name, "Fitter Fabrication");
        assert_eq!(NewCustomer::for_order(&order(0, &[])), None);
    }

    #[test]
    fn changes_split_into_what_plex_can_update_and_what_needs_a_person() {
        let settings = OrderSettings::default();
        let old = plan_sales_order(&order(7, &["A", "B"]), &settings, Ok("c"), &parts(&["A", "B", "C"])).unwrap();
        let mut changed = order(7, &["A", "C", "B"]);
        changed.lines[0].quantity = Decimal::from(5);
        let new = plan_sales_order(&changed, &settings, Ok("c"), &parts(&["A", "B", "C"])).unwrap();
        let changes = DraftChanges::between(&old, &new);
        assert_eq!(changes.release_updates.iter().map(|l| l.line_number).collect::<Vec<_>>(), vec![1]);
        assert_eq!(changes.added_lines.iter().map(|l| l.part_number.as_str()).collect::<Vec<_>>(), vec!["B"]);
        assert_eq!(changes.needs_attention, vec!["line 2 changed part from B to C".to_owned()]);
        assert!(DraftChanges::between(&old, &old).is_empty());
    }
}
