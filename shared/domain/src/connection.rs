//! A connection's profile: everything about one store/tenant/account pairing that is not a secret.
//!
//! Credentials live in the secret store (`{prefix}/{connection}/{system}`); the profile names the
//! store, the tenant, the auth modes and any per-connection base-URL override. A base URL left empty
//! falls back to the deployment's default (an environment variable read at start-up), so the real
//! services, the sandbox or a spec-generated mock can stand behind any connection.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::ConnectionId;
use crate::stock::StockSettings;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionProfile {
    pub id: ConnectionId,
    /// Shown in alerts and the CLI.
    #[serde(default)]
    pub display_name: Option<String>,
    pub bigcommerce: BigCommerceProfile,
    pub plex: PlexProfile,
    #[serde(default)]
    pub monday: Option<MondayProfile>,
    /// How web orders become Plex sales orders.
    #[serde(default)]
    pub orders: OrderSettings,
    /// How Plex's stock becomes BigCommerce's (`domain::stock`).
    #[serde(default)]
    pub stock: StockSettings,
    /// When the connection was removed (`millwright connections remove`): from then on nothing is
    /// processed for it. The receiver acknowledges its webhooks and drops them, the order worker
    /// acknowledges its messages without a call, and the scheduled functions skip it; its records
    /// and audit trail stay, and `connections add` of the same id installs it again.
    #[serde(default)]
    pub parked_at: Option<DateTime<Utc>>,
}

impl ConnectionProfile {
    pub fn is_parked(&self) -> bool {
        self.parked_at.is_some()
    }
}

/// How the order worker maps and writes a connection's web orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderSettings {
    /// Which BigCommerce value finds the Plex customer of a registered shopper.
    #[serde(default)]
    pub customer_match: CustomerMatch,
    /// The Plex customer code that guest checkouts (customer id 0) are booked to. Without one, a
    /// guest order needs mapping.
    #[serde(default)]
    pub guest_customer_code: Option<String>,
    /// Create a Plex customer for a registered shopper whom no Plex customer matches (by e-mail or
    /// company). Off by default: most manufacturers keep their customer master by hand, and an
    /// unknown customer then needs mapping instead.
    #[serde(default)]
    pub create_customers: bool,
    /// BigCommerce status ids that are synced; empty means every status except those in
    /// `order::NOT_AN_ORDER_STATUSES` (Incomplete, Refunded, Cancelled, Declined).
    #[serde(default)]
    pub synced_statuses: Vec<u32>,
    /// Due date of each release: the order date plus this many days.
    #[serde(default = "default_due_in_days")]
    pub due_in_days: u32,
    /// The Plex building code releases ship from.
    #[serde(default = "default_ship_from")]
    pub ship_from: String,
    /// How the sales order is written to Plex.
    #[serde(default)]
    pub strategy: WriteStrategy,
    /// The status, type and unit values the tenant's Plex setup uses for web orders.
    #[serde(default)]
    pub plex_codes: PlexOrderCodes,
}

/// The values a Plex sales order is written with that a web order does not carry. They are each
/// tenant's own setup in Plex (a tenant may call its open releases `Wait for Release`, its web
/// orders `Internet`), so they are per connection; the defaults are common values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlexOrderCodes {
    pub order_status: String,
    pub order_type: String,
    /// Also the data sources' `Release_Status`.
    pub release_status: String,
    pub release_type: String,
    pub price_unit: String,
}

impl Default for PlexOrderCodes {
    fn default() -> Self {
        PlexOrderCodes {
            order_status: "Open".to_owned(),
            order_type: "Web".to_owned(),
            release_status: "Open".to_owned(),
            release_type: "Ship Schedule".to_owned(),
            price_unit: "Ea".to_owned(),
        }
    }
}

impl OrderSettings {
    /// Whether orders in this BigCommerce status become Plex sales orders.
    pub fn syncs_status(&self, status_id: u32) -> bool {
        if self.synced_statuses.is_empty() {
            !crate::order::NOT_AN_ORDER_STATUSES.contains(&status_id)
        } else {
            self.synced_statuses.contains(&status_id)
        }
    }
}

impl Default for OrderSettings {
    fn default() -> Self {
        OrderSettings {
            customer_match: CustomerMatch::default(),
            guest_customer_code: None,
            create_customers: false,
            synced_statuses: Vec::new(),
            due_in_days: default_due_in_days(),
            ship_from: default_ship_from(),
            strategy: WriteStrategy::default(),
            plex_codes: PlexOrderCodes::default(),
        }
    }
}

fn default_due_in_days() -> u32 {
    7
}

fn default_ship_from() -> String {
    "MAIN".to_owned()
}

/// The key that finds a registered shopper's Plex customer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerMatch {
    /// The id map `customer` (BigCommerce customer id → Plex customer id), filled by an operator.
    CustomerId,
    /// The billing e-mail equals the Plex customer's e-mail.
    #[default]
    Email,
    /// The billing company equals the Plex customer's name.
    Company,
}

impl CustomerMatch {
    /// The order field the key is taken from, as mapping gaps name it.
    pub fn field(self) -> &'static str {
        match self {
            CustomerMatch::CustomerId => "customer_id",
            CustomerMatch::Email => "billing_address.email",
            CustomerMatch::Company => "billing_address.company",
        }
    }
}

/// The Plex write path of a connection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum WriteStrategy {
    /// Plex Connect REST: sales order, then a line, a price and a release per web order line.
    #[default]
    Rest,
    /// The tenant's own data sources (keys differ per tenant), for tenants whose order entry needs
    /// fields the REST create lacks (freight, tax, prepaid).
    DataSource { create_header: u64, add_line: u64, find_by_po: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BigCommerceProfile {
    /// The `{store_hash}` in `https://api.bigcommerce.com/stores/{store_hash}/v3`.
    pub store_hash: String,
    /// Overrides the deployment's BigCommerce API base URL for this connection.
    #[serde(default)]
    pub api_base_url: Option<String>,
    /// How incoming webhooks are authenticated; every listed mode must pass.
    #[serde(default = "default_webhook_auth")]
    pub webhook_auth: Vec<WebhookAuth>,
}

fn default_webhook_auth() -> Vec<WebhookAuth> {
    vec![WebhookAuth::CustomHeader { header: WebhookAuth::DEFAULT_HEADER.to_owned() }]
}

/// BigCommerce webhook authentication modes (see the BigCommerce notes, §5.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum WebhookAuth {
    /// Standard Webhooks signature (`webhook-id`, `webhook-timestamp`, `webhook-signature`) keyed with
    /// the client secret. With `required: false` a delivery without the headers passes this mode.
    StandardWebhooks {
        #[serde(default = "yes")]
        required: bool,
        #[serde(default = "default_tolerance")]
        tolerance_seconds: u32,
    },
    /// A shared secret in a custom header set when the hook was registered.
    CustomHeader { header: String },
    /// `X-BC-Signature`: HMAC-SHA256 of the raw body with the client secret, hex or base64.
    XBcSignature,
}

impl WebhookAuth {
    pub const DEFAULT_HEADER: &'static str = "X-Millwright-Auth";
}

fn yes() -> bool {
    true
}

fn default_tolerance() -> u32 {
    300
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlexProfile {
    #[serde(default)]
    pub auth: PlexAuthMode,
    /// `X-Plex-Connect-Tenant-Id`: run against a non-default tenant.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// `X-Plex-Connect-Customer-Id`: the PCN, an alternative to the tenant id.
    #[serde(default)]
    pub customer_id: Option<String>,
    /// Overrides the deployment's Plex Connect base URL (e.g. the test tier).
    #[serde(default)]
    pub connect_base_url: Option<String>,
    /// Overrides the deployment's Plex Data Source base URL.
    #[serde(default)]
    pub datasource_base_url: Option<String>,
}

/// Plex authentication: the documented API-key header (default) or the described OAuth2 client
/// credentials flow (opt-in). See the Plex notes, §1 and §7.2.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum PlexAuthMode {
    #[default]
    ApiKey,
    #[serde(rename = "oauth2")]
    OAuth2 {
        /// Token endpoint; empty means `{connect_base_url}/oauth2/token`.
        #[serde(default)]
        token_url: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MondayProfile {
    /// `API-Version` sent on every call; monday routes an unknown version to Current, so pin it.
    #[serde(default = "default_monday_version")]
    pub api_version: String,
    /// Overrides the deployment's monday API URL.
    #[serde(default)]
    pub api_url: Option<String>,
}

fn default_monday_version() -> String {
    "2026-10".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minimal_profile_gets_the_documented_defaults() {
        let profile: ConnectionProfile = serde_json::from_value(serde_json::json!({
            "id": "acme",
            "bigcommerce": {"store_hash": "abc123"},
            "plex": {},
            "monday": {}
        }))
        .unwrap();
        assert_eq!(profile.plex.auth, PlexAuthMode::ApiKey);
        assert_eq!(
            profile.bigcommerce.webhook_auth,
            vec![WebhookAuth::CustomHeader { header: "X-Millwright-Auth".into() }]
        );
        assert_eq!(profile.monday.unwrap().api_version, "2026-10");
        assert_eq!(profile.stock, StockSettings::default());
    }

    #[test]
    fn stock_settings_parse_under_stock_and_refuse_unknown_keys() {
        let document = |stock: serde_json::Value| serde_json::json!({"id": "acme", "bigcommerce": {"store_hash": "abc123"}, "plex": {}, "stock": stock});
        let profile: ConnectionProfile =
            serde_json::from_value(document(serde_json::json!({"sellable_statuses": ["OK", "Released"]}))).unwrap();
        assert_eq!(profile.stock.sellable_statuses, vec!["OK", "Released"]);
        let error =
            serde_json::from_value::<ConnectionProfile>(document(serde_json::json!({"safety": 3}))).unwrap_err();
        assert!(error.to_string().contains("unknown field `safety`"), "{error}");
    }

    #[test]
    fn webhook_modes_and_plex_oauth_parse_from_their_tagged_form() {
        let profile: ConnectionProfile = serde_json::from_value(serde_json::json!({
            "id": "acme",
            "bigcommerce": {"store_hash": "abc123", "webhook_auth": [
                {"mode": "standard_webhooks", "required": false},
                {"mode": "x_bc_signature"}
            ]},
            "plex": {"auth": {"mode": "oauth2"}}
        }))
        .unwrap();
        assert_eq!(
            profile.bigcommerce.webhook_auth,
            vec![WebhookAuth::StandardWebhooks { required: false, tolerance_seconds: 300 }, WebhookAuth::XBcSignature]
        );
        assert_eq!(profile.plex.auth, PlexAuthMode::OAuth2 { token_url: None });
    }

    #[test]
    fn a_bad_connection_id_in_a_profile_is_refused_with_the_reason() {
        let err = serde_json::from_value::<ConnectionProfile>(serde_json::json!({
            "id": "Acme Corp", "bigcommerce": {"store_hash": "x"}, "plex": {}
        }))
        .unwrap_err();
        assert!(err.to_string().contains("invalid connection id"), "{err}");
    }
}
