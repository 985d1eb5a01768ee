//! The Plex double's data: tenants and their records, credentials of the three auth styles, and the
//! registered data sources; plus the seed document that fills them.
//!
//! Seed format (`POST /__control/seed`), every key optional:
//!
//! ```json
//! {"tenants": [{"id": "uuid", "code": "MW-DEMO", "customer_id": "310507", "name": "...", "default": true,
//!               "customers": [...], "parts": [...]}],
//!  "tenant": "MW-DEMO", "customers": [...], "parts": [...],
//!  "api_keys": [{"key": "...", "secret": "...", "tenants": ["MW-DEMO"], "default_tenant": "MW-DEMO",
//!                "collections": ["mdm", "sales"], "expired": false}],
//!  "oauth_clients": [{"client_id": "...", "client_secret": "...", "tenants": [], "collections": []}],
//!  "datasource_users": [{"username": "...", "password": "...", "datasources": [18765]}],
//!  "datasources": [{"id": 18765, "name": "...", "inputs": [{"name": "Part_No", "type": "string",
//!                   "required": true, "nullable": false}], "columns": ["Part_No"], "rows": [["A-1"]],
//!                   "outputs": {}}]}
//! ```
//!
//! Top-level `customers`/`parts` go to the tenant named by `tenant` (id or code), or the default
//! tenant. Tenants are referred to by id or code everywhere. An empty `tenants` list on a credential
//! means every tenant; an empty `collections` list means every API product. Records get every field of
//! their Plex schema (missing ones become `null`, as the real API sends them), an `id` when they have
//! none, and `createdDate`/`modifiedDate` from the double's clock when absent. Seeding a record whose
//! `id` exists replaces it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::requestlog::REDACTED;

/// A kind of Connect record and the fields of its schema (from the Plex Connect OpenAPI).
#[derive(Debug)]
pub(crate) struct Resource {
    pub name: &'static str,
    pub fields: &'static [&'static str],
}

/// `mdm/v1/customers`: the 35 fields of the customer schema.
pub(crate) static CUSTOMERS: Resource = Resource {
    name: "customers",
    fields: &[
        "id",
        "code",
        "name",
        "status",
        "type",
        "note",
        "supplierCode",
        "otherCustomerCode",
        "rating",
        "industries",
        "defaultCarrierIds",
        "region",
        "businessType",
        "category",
        "class",
        "catalog",
        "assignedToId",
        "assignedTo2Id",
        "assignedTo3Id",
        "assignedToGroup",
        "contactResourceId",
        "annualSalesMillions",
        "estimatedEmployees",
        "phone",
        "fax",
        "email",
        "trackingNoOnWeighScaleRequired",
        "multipleOrdersPerShipper",
        "estimatedAnnualSales",
        "newShipperPerReleaseNo",
        "defaultBackOrder",
        "createdById",
        "createdDate",
        "modifiedById",
        "modifiedDate",
    ],
};

/// `mdm/v1/parts`.
pub(crate) static PARTS: Resource = Resource {
    name: "parts",
    fields: &[
        "id",
        "number",
        "name",
        "revision",
        "description",
        "type",
        "group",
        "source",
        "productType",
        "status",
        "note",
        "leadTimeDays",
        "buildingCode",
        "createdById",
        "createdDate",
        "modifiedById",
        "modifiedDate",
        "allergens",
    ],
};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SeedDocument {
    #[serde(default)]
    pub tenants: Vec<TenantSeed>,
    /// Where the top-level records go (id or code); the default tenant when absent.
    #[serde(default)]
    pub tenant: Option<String>,
    #[serde(default)]
    pub customers: Vec<Map<String, Value>>,
    #[serde(default)]
    pub parts: Vec<Map<String, Value>>,
    #[serde(default)]
    pub api_keys: Vec<ApiKey>,
    #[serde(default)]
    pub oauth_clients: Vec<OAuthClient>,
    #[serde(default)]
    pub datasource_users: Vec<DataSourceUser>,
    #[serde(default)]
    pub datasources: Vec<DataSourceSeed>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TenantSeed {
    pub id: String,
    pub code: String,
    /// The PCN that `X-Plex-Connect-Customer-Id` selects this tenant by.
    #[serde(default)]
    pub customer_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub default: bool,
    #[serde(default)]
    pub customers: Vec<Map<String, Value>>,
    #[serde(default)]
    pub parts: Vec<Map<String, Value>>,
}

/// A Plex tenant (one PCN) and the records it holds, by resource name.
#[derive(Debug)]
pub(crate) struct Tenant {
    pub id: String,
    pub code: String,
    pub customer_id: Option<String>,
    pub name: Option<String>,
    pub default: bool,
    pub records: BTreeMap<&'static str, Vec<Map<String, Value>>>,
}

impl Tenant {
    pub(crate) fn is(&self, reference: &str) -> bool {
        self.id.eq_ignore_ascii_case(reference) || self.code == reference
    }

    pub(crate) fn records(&self, resource: &Resource) -> &[Map<String, Value>] {
        self.records.get(resource.name).map(Vec::as_slice).unwrap_or_default()
    }

    /// Normalises and stores records, replacing those with the same `id`.
    pub(crate) fn upsert(
        &mut self,
        resource: &'static Resource,
        records: Vec<Map<String, Value>>,
        now: DateTime<Utc>,
    ) -> Result<(), String> {
        let stored = self.records.entry(resource.name).or_default();
        for record in records {
            let record = normalize(resource, record, now)?;
            match stored.iter().position(|existing| existing.get("id") == record.get("id")) {
                Some(index) => stored[index] = record,
                None => stored.push(record),
            }
        }
        Ok(())
    }
}

/// Gives a record every schema field, an id and its dates (see the module docs).
fn normalize(
    resource: &Resource,
    mut record: Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<Map<String, Value>, String> {
    match record.get("id") {
        None | Some(Value::Null) => {
            record.insert("id".to_owned(), json!(uuid::Uuid::new_v4().to_string()));
        }
        Some(Value::String(_)) => {}
        Some(other) => return Err(format!("{} id must be a string (a UUID), got {other}", resource.name)),
    }
    let stamp = plex_timestamp(now);
    for date_field in ["createdDate", "modifiedDate"] {
        if resource.fields.contains(&date_field) && record.get(date_field).is_none_or(Value::is_null) {
            record.insert(date_field.to_owned(), json!(stamp));
        }
    }
    for field in resource.fields {
        record.entry(*field).or_insert(Value::Null);
    }
    Ok(record)
}

/// How the double writes a timestamp it makes up: UTC, milliseconds, `Z`.
pub(crate) fn plex_timestamp(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A developer-portal app key (`X-Plex-Connect-Api-Key`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApiKey {
    pub key: String,
    /// `X-Plex-Connect-Api-Secret`; checked only when the config sets `auth.require_secret`.
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub tenants: Vec<String>,
    #[serde(default)]
    pub default_tenant: Option<String>,
    /// Collection prefixes (API products) the app subscribed to, e.g. `mdm`, `sales`.
    #[serde(default)]
    pub collections: Vec<String>,
    /// An expired key is refused exactly like an unknown one.
    #[serde(default)]
    pub expired: bool,
}

/// A client for the opt-in OAuth2 client-credentials mode.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OAuthClient {
    pub client_id: String,
    pub client_secret: String,
    #[serde(default)]
    pub tenants: Vec<String>,
    #[serde(default)]
    pub default_tenant: Option<String>,
    #[serde(default)]
    pub collections: Vec<String>,
}

/// An access token issued by `POST /oauth2/token`.
#[derive(Debug, Clone)]
pub(crate) struct IssuedToken {
    pub client_id: String,
    pub expires_at_ms: i64,
}

/// A Data Source API web-service user (HTTP Basic).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DataSourceUser {
    pub username: String,
    pub password: String,
    /// Data source ids this user may execute; every one when empty.
    #[serde(default)]
    pub datasources: Vec<u64>,
}

/// The type names of data source inputs, as the metadata endpoint lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum InputType {
    String,
    Bool,
    Date,
    Time,
    Uuid,
    Blob,
    Int16,
    Int32,
    Int64,
    Float,
    Double,
    Decimal,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InputDef {
    pub name: String,
    #[serde(rename = "type")]
    pub input_type: InputType,
    #[serde(default)]
    pub required: bool,
    #[serde(default = "default_true")]
    pub nullable: bool,
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DataSourceSeed {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub inputs: Vec<InputDef>,
    #[serde(default)]
    pub columns: Vec<String>,
    /// Rows as arrays in column order, or objects keyed by column.
    #[serde(default)]
    pub rows: Vec<Value>,
    /// Fixed output values returned by every execution.
    #[serde(default)]
    pub outputs: Map<String, Value>,
}

/// A registered data source. Execution returns its rows, keeping those whose column matches every
/// non-null input named like a column: enough for read data sources.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DataSource {
    pub id: u64,
    pub name: String,
    pub description: String,
    pub inputs: Vec<InputDef>,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
    pub outputs: Map<String, Value>,
}

impl TryFrom<DataSourceSeed> for DataSource {
    type Error = String;

    fn try_from(seed: DataSourceSeed) -> Result<Self, String> {
        let width = seed.columns.len();
        let rows = seed
            .rows
            .into_iter()
            .map(|row| match row {
                Value::Array(cells) if cells.len() == width => Ok(cells),
                Value::Array(cells) => {
                    Err(format!("data source {}: a row has {} cells for {width} columns", seed.id, cells.len()))
                }
                Value::Object(mut cells) => {
                    Ok(seed.columns.iter().map(|column| cells.remove(column).unwrap_or(Value::Null)).collect())
                }
                other => Err(format!("data source {}: a row must be an array or an object, got {other}", seed.id)),
            })
            .collect::<Result<_, _>>()?;
        Ok(DataSource {
            id: seed.id,
            name: seed.name,
            description: seed.description,
            inputs: seed.inputs,
            columns: seed.columns,
            rows,
            outputs: seed.outputs,
        })
    }
}

/// The state dump's view of a credential: everything but the secret.
pub(crate) fn redacted<T: Serialize>(credential: &T, secret_fields: &[&str]) -> Value {
    let mut value = serde_json::to_value(credential).unwrap_or_default();
    for field in secret_fields {
        if let Some(secret) = value.get_mut(*field).filter(|secret| !secret.is_null()) {
            *secret = json!(REDACTED);
        }
    }
    value
}
