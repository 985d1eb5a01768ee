//! The id map's stored forms: which namespace holds what, and how a key is written. The order
//! worker, the order sweep, the CLI (`millwright map`) and the stock flow read and write the same
//! entries, so these names and layouts change only with a migration of the state table.

use crate::order::CustomerKey;

/// The id-map namespaces.
pub mod namespaces {
    /// BigCommerce customer id → Plex customer id. Filled by an operator (`customer_match =
    /// customer_id`); the worker only reads it.
    pub const CUSTOMER: &str = "customer";
    /// Guest customer code → Plex customer id.
    pub const CUSTOMER_GUEST: &str = "customer:guest";
    /// Billing e-mail, lower-cased → Plex customer id.
    pub const CUSTOMER_EMAIL: &str = "customer:email";
    /// Billing company name → Plex customer id.
    pub const CUSTOMER_COMPANY: &str = "customer:company";
    /// SKU → Plex part id. The stock flow reads the same namespace, so the value stays a bare id.
    pub const SKU: &str = "sku";
    /// SKU → Plex part number, the second half of a [`crate::order::PartRef`]; an entry in `sku`
    /// without one here counts as a miss.
    pub const SKU_PART_NUMBER: &str = "sku:part-number";
}

/// Where the id map keeps the Plex customer a key finds: its namespace and source id (e-mails
/// lower-cased, as Plex compares them).
pub fn customer_map_key(key: &CustomerKey) -> (&'static str, String) {
    match key {
        CustomerKey::BigCommerceId(id) => (namespaces::CUSTOMER, id.to_string()),
        CustomerKey::GuestCode(code) => (namespaces::CUSTOMER_GUEST, code.clone()),
        CustomerKey::Email(email) => (namespaces::CUSTOMER_EMAIL, email.to_lowercase()),
        CustomerKey::Company(name) => (namespaces::CUSTOMER_COMPANY, name.clone()),
    }
}
