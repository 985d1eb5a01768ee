//! The Plex double's data: tenants and their records, credentials of the three auth styles, and the
//! registered data sources; plus the seed document that fills them.
//!
//! Seed format (`POST /__control/seed`), every key optional:
//!
//! ```json
//! {"tenants": [{"id": "uuid", "code": "MW-DEMO", "customer_id": "310507", "name": "...", "default": true,
//!               "customers": [...], "parts": [...], "sales_orders": [...], "locations": [...],
//!               "containers": [...]}],
//!  "tenant": "MW-DEMO", "customers": [...], "parts": [...], "sales_orders": [...],
//!  "locations": [{"locationCode": "FG-01", "locationId": "uuid", "buildingCode": "MAIN", ...}],
//!  "containers": [{"serialNo": "S1", "partNo": "MW-BOLT-M8", "location": "FG-01", "quantity": 40,
//!                  "containerStatus": "OK", "inventoryType": "FG", ...}],
//!  "api_keys": [{"key": "...", "secret": "...", "tenants": ["MW-DEMO"], "default_tenant": "MW-DEMO",
//!                "collections": ["mdm", "sales"], "expired": false}],
//!  "oauth_clients": [{"client_id": "...", "client_secret": "...", "tenants": [], "collections": []}],
//!  "datasource_users": [{"username": "...", "password": "...", "datasources": [18765], "tenant": "MW-DEMO"}],
//!  "datasources": [{"id": 18765, "name": "...", "inputs": [{"name": "Part_No", "type": "string",
//!                   "required": true, "nullable": false}], "columns": ["Part_No"], "rows": [["A-1"]],
//!                   "outputs": {}, "procedure": null}]}
//! ```
//!
//! Top-level `customers`/`parts`/`sales_orders`/`locations`/`containers` go to the tenant named by `tenant` (id or code), or
//! the default tenant. Tenants are referred to by id or code everywhere. An empty `tenants` list on a
//! credential means every tenant; an empty `collections` list means every API product. Records get
//! every field of their Plex schema (missing ones become `null`, as the real API sends them), an `id`
//! when they have none, and `createdDate`/`modifiedDate` from the double's clock when absent. Seeding
//! a record whose `id` exists replaces it.
//!
//! A customer may carry `"addresses": [{...address fields...}]`. A sales order is seeded with the
//! fields of `POST /sales/v1/orders` (plus `orderNumber`, or `customerCode` instead of `customerId`)
//! and `"lines": [{...line fields (or partNumber instead of partId)..., "prices": [{...}],
//! "releases": [{...}]}]`; it goes through the same validation as the REST endpoints, so a seed can
//! pre-create exactly what a client could have created (a half-written order, say).
//!
//! Locations and containers use the field names of their Plex schemas (see `inventory`): a
//! container names its part by `partId` or `partNo` and its location by `locationId` or
//! `location` (the code), both of which must exist (parts and locations of the same document
//! come first); `serialNo` is made up when absent. Same `serialNo` (or location id or code):
//! replaced. Seeding records no container adjustments.
//!
//! A data source user acts on one tenant (`tenant`, else the default tenant), as Plex web-service
//! accounts are bound to one. A data source with a `procedure` (`sales_order_add`,
//! `sales_order_line_add`, `sales_orders_by_po`) computes its outputs and rows from, and writes to,
//! that tenant's records instead of returning fixed rows: see `procedures`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::inventory::{ContainerSeed, Inventory, LocationSeed};
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

/// `mdm/v1/customers/{customerId}/addresses`. The schema has no customer id: a tenant keeps
/// addresses per customer ([`Tenant::addresses`]).
pub(crate) static CUSTOMER_ADDRESSES: Resource = Resource {
    name: "customer-addresses",
    fields: &[
        "id",
        "code",
        "note",
        "quoteTo",
        "shipTo",
        "billTo",
        "billToAddressId",
        "remitTo",
        "thirdPartyShipTo",
        "thirdPartyShipToAddressId",
        "pool",
        "poolAddressId",
        "oldCustomerNo",
        "active",
        "phone",
        "fax",
        "email",
        "name",
        "address",
        "city",
        "state",
        "zip",
        "country",
        "region",
        "county",
        "shippingInstructions",
        "ignoreTransitOnWeekends",
        "transportationLeadTime",
        "defaultCarrierIds",
        "truckType",
        "salesTaxExempt",
        "salespersonId",
        "statementAddressId",
        "freightTerms",
        "insideSalespersonId",
        "defaultShipFrom",
        "freightBillTo",
        "freightBillToAddressId",
        "catalog",
        "soldTo",
        "dunsNo",
        "commercialInvoiceVatNo",
        "terms",
        "template",
        "incoTerms",
        "negotiatedPlace",
        "backOrder",
        "createdById",
        "createdDate",
        "modifiedById",
        "modifiedDate",
    ],
};

/// `sales/v1/orders` (Plex's "customer purchase orders").
pub(crate) static SALES_ORDERS: Resource = Resource {
    name: "sales-orders",
    fields: &[
        "id",
        "customerId",
        "orderNumber",
        "poNumber",
        "status",
        "type",
        "category",
        "terms",
        "incoTerms",
        "fob",
        "freightTerms",
        "insideSalesId",
        "createdById",
        "modifiedById",
        "poNumberRevision",
        "poNumberRevisionDate",
        "orderDate",
        "expirationDate",
        "billToAddressId",
        "shipToAddressId",
        "contactId",
        "carrierId",
        "carrier",
        "note",
        "invoiceInternalNote",
        "invoicePrintedNote",
        "outsideSalesIds",
        "buildingId",
        "commissionable",
        "region",
        "accountingJobNo",
        "createdDate",
        "modifiedDate",
        "multipleDocksPerShipper",
        "multiplePOPerShipper",
    ],
};

/// `sales/v1/orders/{id}/lines`. `lineNumber` is a string in the schema.
pub(crate) static ORDER_LINES: Resource = Resource {
    name: "sales-order-lines",
    fields: &[
        "id",
        "orderId",
        "partId",
        "customerPartId",
        "note",
        "lineNumber",
        "containerType",
        "standardPackQuantity",
        "accountingJobNumber",
        "active",
        "createdById",
        "createdDate",
        "modifiedById",
        "modifiedDate",
        "transportationAdjustmentDays",
    ],
};

/// `sales/v1/orders/{id}/lines/{lineId}/prices`.
pub(crate) static LINE_PRICES: Resource = Resource {
    name: "sales-order-line-prices",
    fields: &[
        "id",
        "orderLineId",
        "effectiveDate",
        "breakpointQuantity",
        "lotQuantity",
        "shipToAddressId",
        "containerType",
        "partStatus",
        "price",
        "note",
        "active",
        "expirationDate",
        "unit",
        "currencyCode",
        "partCost",
        "primaryPrice",
        "shipmentPrice",
        "createdById",
        "createdDate",
        "modifiedById",
        "modifiedDate",
    ],
};

/// `sales/v1/releases`: quantity and due date of an order line live here.
pub(crate) static RELEASES: Resource = Resource {
    name: "releases",
    fields: &[
        "id",
        "releaseNumber",
        "orderLineId",
        "type",
        "shipToAddressId",
        "shipDate",
        "dueDate",
        "quantity",
        "status",
        "source",
        "note",
        "scheduleNo",
        "scheduleDate",
        "quantityShipped",
        "orderQuantity",
        "createdById",
        "createdDate",
        "modifiedById",
        "modifiedDate",
        "forecastDate",
        "shipFrom",
        "fabAuthorizationNo",
        "rawAuthorizationNo",
        "partNumber",
        "productionStartDate",
        "modelName",
        "poLineDefaultOrderUnit",
        "packagingNote",
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
    pub sales_orders: Vec<Map<String, Value>>,
    #[serde(default)]
    pub locations: Vec<LocationSeed>,
    #[serde(default)]
    pub containers: Vec<ContainerSeed>,
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
    #[serde(default)]
    pub sales_orders: Vec<Map<String, Value>>,
    #[serde(default)]
    pub locations: Vec<LocationSeed>,
    #[serde(default)]
    pub containers: Vec<ContainerSeed>,
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
    /// Customer addresses by customer id (lowercase): the address schema has no customer field.
    pub addresses: BTreeMap<String, Vec<Map<String, Value>>>,
    /// Freight, tax and prepaid amounts given to the order-header data source, by order id: the
    /// Connect order schema has no field for them, so only the state dump shows them.
    pub order_charges: BTreeMap<String, Map<String, Value>>,
    /// The last `orderNumber` the double generated.
    pub order_sequence: u64,
    /// Locations, containers and container adjustments (see `inventory`); typed rather than kept
    /// as JSON records, since a tenant can hold tens of thousands of containers.
    pub inventory: Inventory,
}

impl Tenant {
    /// An empty tenant.
    pub(crate) fn new(id: String, code: String) -> Tenant {
        Tenant {
            id,
            code,
            customer_id: None,
            name: None,
            default: false,
            records: BTreeMap::new(),
            addresses: BTreeMap::new(),
            order_charges: BTreeMap::new(),
            order_sequence: 0,
            inventory: Inventory::default(),
        }
    }

    pub(crate) fn is(&self, reference: &str) -> bool {
        self.id.eq_ignore_ascii_case(reference) || self.code == reference
    }

    pub(crate) fn records(&self, resource: &Resource) -> &[Map<String, Value>] {
        self.records.get(resource.name).map(Vec::as_slice).unwrap_or_default()
    }

    pub(crate) fn records_mut(&mut self, resource: &'static Resource) -> &mut Vec<Map<String, Value>> {
        self.records.entry(resource.name).or_default()
    }

    /// The record of `resource` with this id (ids compare case-insensitively, as UUIDs do).
    pub(crate) fn find(&self, resource: &Resource, id: &str) -> Option<&Map<String, Value>> {
        self.records(resource).iter().find(|record| has_id(record, id))
    }

    pub(crate) fn find_mut(&mut self, resource: &'static Resource, id: &str) -> Option<&mut Map<String, Value>> {
        self.records_mut(resource).iter_mut().find(|record| has_id(record, id))
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

/// Whether a record's `id` is `id`, ignoring case.
pub(crate) fn has_id(record: &Map<String, Value>, id: &str) -> bool {
    record.get("id").and_then(Value::as_str).is_some_and(|own| own.eq_ignore_ascii_case(id))
}

/// A record's string field.
pub(crate) fn text<'a>(record: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    record.get(field).and_then(Value::as_str)
}

/// Gives a record every schema field, an id and its dates (see the module docs).
pub(crate) fn normalize(
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
    /// The tenant (id or code) this account is bound to; the default tenant when absent.
    #[serde(default)]
    pub tenant: Option<String>,
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
    #[serde(default)]
    pub procedure: Option<Procedure>,
}

/// What a "procedure" data source does when executed (see `procedures`): the demo's stand-ins for
/// the tenant-specific data sources web-order integrations write sales orders through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Procedure {
    /// Adds a sales order header: `Customer_Code, Order_No_Custom, PO_No,
    /// Ship_To_Customer_Address_Code, Bill_To_Customer_Address_Code, Freight_Amount, Tax_Amount,
    /// Prepaid_Amount` → outputs `Result_Error, ResultCode, ResultMessage, Order_No`.
    #[serde(rename = "sales_order_add")]
    AddOrder,
    /// Adds a line with its price and release: `Order_No, Part_No, Quantity, Price, Due_Date,
    /// Release_Status` → outputs `Result_Error, ResultCode, ResultMessage`.
    #[serde(rename = "sales_order_line_add")]
    AddOrderLine,
    /// Reads the sales orders with a PO number: `PO_No` (and optionally `Customer_Code`) → rows
    /// `Order_No, PO_No, Customer_Code, Line_Count`.
    #[serde(rename = "sales_orders_by_po")]
    FindOrdersByPo,
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
    pub procedure: Option<Procedure>,
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
            procedure: seed.procedure,
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
