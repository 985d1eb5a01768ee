//! Writing the order flow's records: customers and their addresses, and sales orders as Plex models
//! them (order → line (part) → price(s) → release(s); quantity and due date live on the release).
//!
//! One set of rules for every writer: the Connect endpoints (`sales`, `connect`), the "procedure"
//! data sources (`procedures`) and the seed all call these functions, so an order created through
//! any of them looks the same through every read.
//!
//! Validation follows what integrators observed (Plex notes §2.3, §7.4): a failure is 400
//! `REQUEST_VALIDATION_FAILED` with one entry per problem in `errors[]`, each naming the field in
//! Plex's PascalCase (`"metadata": {"field": "CustomerId"}`). A reference to a record that does not
//! exist has the observed message "The specified field attempts to reference data that does not
//! exist."; the inner codes (`REFERENCE_NOT_FOUND`, `FIELD_REQUIRED`, `FIELD_INVALID`,
//! `DUPLICATE_VALUE`) are the double's own, since no source shows Plex's. Unknown body fields are
//! ignored, as Plex ignores unknown query parameters. A path id that names nothing is 404.
//!
//! Bodies may carry the record's `id` (the create schemas have one: "automatically generated if
//! omitted"). A create whose `id` exists already is refused with field `Id`, which is what lets a
//! client retry a create whose answer it never saw without making a second record.

use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::connect::parse_plex_datetime;
use super::model::{
    CUSTOMER_ADDRESSES, CUSTOMERS, LINE_PRICES, ORDER_LINES, PARTS, RELEASES, Resource, SALES_ORDERS, Tenant, has_id,
    normalize, text,
};
use crate::reply;

/// The JSON type a writable field must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Text,
    Uuid,
    Number,
    Integer,
    Bool,
    /// `YYYY-MM-DDThh:mm[:ss[.f{1,7}]]Z`, as every Plex date-time.
    DateTime,
    TextList,
    UuidList,
}

use Kind::{Bool, DateTime as Date, Integer, Number, Text, TextList, Uuid, UuidList};

/// `POST /mdm/v1/customers` (and the seed).
const CUSTOMER_WRITE: &[(&str, Kind)] = &[
    ("id", Uuid),
    ("code", Text),
    ("name", Text),
    ("status", Text),
    ("type", Text),
    ("note", Text),
    ("supplierCode", Text),
    ("otherCustomerCode", Text),
    ("rating", Text),
    ("industries", TextList),
    ("defaultCarrierIds", UuidList),
    ("region", Text),
    ("businessType", Text),
    ("category", Text),
    ("class", Text),
    ("catalog", Text),
    ("assignedToId", Uuid),
    ("assignedTo2Id", Uuid),
    ("assignedTo3Id", Uuid),
    ("assignedToGroup", Text),
    ("contactResourceId", Uuid),
    ("annualSalesMillions", Number),
    ("estimatedEmployees", Text),
    ("phone", Text),
    ("fax", Text),
    ("email", Text),
    ("trackingNoOnWeighScaleRequired", Bool),
    ("multipleOrdersPerShipper", Bool),
    ("estimatedAnnualSales", Text),
    ("newShipperPerReleaseNo", Bool),
    ("defaultBackOrder", Text),
];

/// `POST /mdm/v1/customers/{customerId}/addresses`.
const ADDRESS_WRITE: &[(&str, Kind)] = &[
    ("id", Uuid),
    ("code", Text),
    ("note", Text),
    ("quoteTo", Bool),
    ("shipTo", Bool),
    ("billTo", Bool),
    ("billToAddressId", Uuid),
    ("remitTo", Bool),
    ("thirdPartyShipTo", Bool),
    ("thirdPartyShipToAddressId", Uuid),
    ("pool", Bool),
    ("poolAddressId", Uuid),
    ("oldCustomerNo", Text),
    ("active", Bool),
    ("phone", Text),
    ("fax", Text),
    ("email", Text),
    ("name", Text),
    ("address", Text),
    ("city", Text),
    ("state", Text),
    ("zip", Text),
    ("country", Text),
    ("region", Text),
    ("county", Text),
    ("shippingInstructions", Text),
    ("ignoreTransitOnWeekends", Bool),
    ("transportationLeadTime", Integer),
    ("defaultCarrierIds", UuidList),
    ("truckType", Text),
    ("salesTaxExempt", Bool),
    ("salespersonId", Uuid),
    ("statementAddressId", Uuid),
    ("freightTerms", Text),
    ("insideSalespersonId", Uuid),
    ("defaultShipFrom", Text),
    ("freightBillTo", Bool),
    ("freightBillToAddressId", Uuid),
    ("catalog", Text),
    ("soldTo", Bool),
    ("dunsNo", Text),
    ("commercialInvoiceVatNo", Text),
    ("terms", Text),
    ("template", Bool),
    ("incoTerms", Text),
    ("negotiatedPlace", Text),
    ("backOrder", Text),
];

/// `POST /sales/v1/orders` and `PUT /sales/v1/orders/{id}` (the update has no `id`). The schema
/// has no bill-to, ship-to, freight, tax or prepaid field (Plex notes §8).
const ORDER_WRITE: &[(&str, Kind)] = &[
    ("id", Uuid),
    ("customerId", Uuid),
    ("poNumber", Text),
    ("status", Text),
    ("type", Text),
    ("category", Text),
    ("terms", Text),
    ("incoTerms", Text),
    ("fob", Text),
    ("freightTerms", Text),
    ("insideSalesId", Uuid),
    ("outsideSalesId", Uuid),
    ("poNumberRevision", Text),
    ("poNumberRevisionDate", Date),
    ("orderDate", Date),
    ("expirationDate", Date),
    ("contactId", Uuid),
    ("carrier", Text),
    ("note", Text),
    ("invoiceInternalNote", Text),
    ("invoicePrintedNote", Text),
    ("multipleDocksPerShipper", Bool),
    ("multiplePOPerShipper", Bool),
];

/// `POST /sales/v1/orders/{id}/lines`.
const LINE_WRITE: &[(&str, Kind)] = &[
    ("id", Uuid),
    ("partId", Uuid),
    ("customerPartId", Uuid),
    ("note", Text),
    ("lineNumber", Text),
    ("containerType", Text),
    ("standardPackQuantity", Number),
    ("accountingJobNumber", Text),
    ("active", Bool),
    ("transportationAdjustmentDays", Integer),
    ("defaultOrderUnitId", Uuid),
    ("minimumShipQuantity", Number),
    ("packagingNote", Text),
    ("shippingInstructions", Text),
];

/// `POST /sales/v1/orders/{id}/lines/{lineId}/prices`.
const PRICE_WRITE: &[(&str, Kind)] = &[
    ("id", Uuid),
    ("price", Number),
    ("unit", Text),
    ("currencyCode", Text),
    ("breakpointQuantity", Number),
    ("effectiveDate", Date),
    ("expirationDate", Date),
];

/// `POST /sales/v1/releases` and `PUT /sales/v1/releases/{id}` (the update has no `id`).
const RELEASE_WRITE: &[(&str, Kind)] = &[
    ("id", Uuid),
    ("releaseNumber", Text),
    ("orderLineId", Uuid),
    ("type", Text),
    ("shipToAddressId", Uuid),
    ("shipDate", Date),
    ("dueDate", Date),
    ("quantity", Number),
    ("status", Text),
    ("source", Text),
    ("note", Text),
    ("scheduleNo", Text),
    ("scheduleDate", Date),
    ("quantityShipped", Integer),
    ("orderQuantity", Number),
    ("forecastDate", Date),
    ("shipFrom", Text),
    ("fabAuthorizationNo", Text),
    ("rawAuthorizationNo", Text),
    ("productionStartDate", Date),
    ("modelName", Text),
    ("packagingNote", Text),
];

/// The fields a release needs, in the order Paperless's client checks them (Plex notes §2.4).
const RELEASE_REQUIRED: &[&str] = &["type", "quantity", "status", "shipFrom", "orderLineId", "dueDate"];

/// The observed message for a reference to a record that does not exist.
pub(crate) const REFERENCE_MESSAGE: &str = "The specified field attempts to reference data that does not exist.";

/// One validation problem, naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub code: &'static str,
    /// Plex's PascalCase field name, e.g. `CustomerId`.
    pub field: String,
    pub message: String,
}

impl Problem {
    fn new(code: &'static str, field: &str, message: impl Into<String>) -> Problem {
        Problem { code, field: pascal(field), message: message.into() }
    }

    fn required(field: &str) -> Problem {
        let field = pascal(field);
        Problem { code: "FIELD_REQUIRED", message: format!("Field '{field}' is required."), field }
    }

    fn missing_reference(field: &str) -> Problem {
        Problem::new("REFERENCE_NOT_FOUND", field, REFERENCE_MESSAGE)
    }

    fn duplicate(field: &str) -> Problem {
        let field = pascal(field);
        Problem { code: "DUPLICATE_VALUE", message: format!("A record with this '{field}' already exists."), field }
    }
}

/// Why a write did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// 400 `REQUEST_VALIDATION_FAILED`.
    Invalid(Vec<Problem>),
    /// 404 `RESOURCE_NOT_FOUND`: an id in the path names nothing.
    NotFound,
}

impl Rejection {
    fn one(problem: Problem) -> Rejection {
        Rejection::Invalid(vec![problem])
    }

    /// The Connect response for it.
    pub(crate) fn response(&self) -> Response {
        match self {
            Rejection::NotFound => super::resource_not_found(),
            Rejection::Invalid(problems) => {
                let errors: Vec<Value> = problems
                    .iter()
                    .map(|problem| {
                        json!({
                            "code": problem.code,
                            "message": problem.message,
                            "metadata": { "field": problem.field },
                        })
                    })
                    .collect();
                let body = json!({
                    "code": "REQUEST_VALIDATION_FAILED",
                    "message": "The request failed validation.",
                    "errors": errors,
                });
                reply::json_as(StatusCode::BAD_REQUEST, reply::JSON_UTF8, &body)
            }
        }
    }

    /// One line for a seed error or a data source's `ResultMessage`.
    pub(crate) fn describe(&self) -> String {
        match self {
            Rejection::NotFound => "the record does not exist".to_owned(),
            Rejection::Invalid(problems) => problems
                .iter()
                .map(|problem| format!("{}: {}", problem.field, problem.message))
                .collect::<Vec<_>>()
                .join("; "),
        }
    }
}

/// `customerId` → `CustomerId`, the spelling Plex's validation messages use.
fn pascal(field: &str) -> String {
    let mut chars = field.chars();
    chars.next().map(|first| first.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
}

fn is_uuid(text: &str) -> bool {
    uuid::Uuid::parse_str(text).is_ok()
}

/// Whether `value` has the JSON type `kind` asks for.
fn has_kind(kind: Kind, value: &Value) -> bool {
    match kind {
        Kind::Text => value.is_string(),
        Kind::Uuid => value.as_str().is_some_and(is_uuid),
        Kind::Number => value.is_number(),
        Kind::Integer => value.is_i64() || value.is_u64(),
        Kind::Bool => value.is_boolean(),
        Kind::DateTime => value.as_str().is_some_and(|text| parse_plex_datetime(text).is_some()),
        Kind::TextList => value.as_array().is_some_and(|items| items.iter().all(Value::is_string)),
        Kind::UuidList => {
            value.as_array().is_some_and(|items| items.iter().all(|item| item.as_str().is_some_and(is_uuid)))
        }
    }
}

fn kind_message(kind: Kind) -> &'static str {
    match kind {
        Kind::Text => "must be a string",
        Kind::Uuid => "must be a UUID",
        Kind::Number => "must be a number",
        Kind::Integer => "must be an integer",
        Kind::Bool => "must be true or false",
        Kind::DateTime => "must be a UTC date-time like 2026-01-31T23:59:59Z",
        Kind::TextList => "must be a list of strings",
        Kind::UuidList => "must be a list of UUIDs",
    }
}

/// The writable fields of `body` that have a value, type-checked; UUIDs are lowercased, as Plex
/// returns them. Fields not in `writable` are ignored; `null` means "not given".
fn accept(body: &Map<String, Value>, writable: &[(&str, Kind)]) -> Result<Map<String, Value>, Rejection> {
    let mut accepted = Map::new();
    let mut problems = Vec::new();
    for (field, kind) in writable {
        let Some(value) = body.get(*field).filter(|value| !value.is_null()) else {
            continue;
        };
        if !has_kind(*kind, value) {
            let field_name = pascal(field);
            problems.push(Problem {
                code: "FIELD_INVALID",
                message: format!("Field '{field_name}' {}.", kind_message(*kind)),
                field: field_name,
            });
            continue;
        }
        let value = match (kind, value) {
            (Kind::Uuid, Value::String(id)) => Value::String(id.to_ascii_lowercase()),
            (Kind::UuidList, Value::Array(ids)) => Value::Array(
                ids.iter().map(|id| Value::String(id.as_str().unwrap_or_default().to_ascii_lowercase())).collect(),
            ),
            _ => value.clone(),
        };
        accepted.insert((*field).to_owned(), value);
    }
    if problems.is_empty() { Ok(accepted) } else { Err(Rejection::Invalid(problems)) }
}

fn require(accepted: &Map<String, Value>, fields: &[&str]) -> Result<(), Rejection> {
    let problems: Vec<Problem> =
        fields.iter().filter(|field| !accepted.contains_key(**field)).map(|field| Problem::required(field)).collect();
    if problems.is_empty() { Ok(()) } else { Err(Rejection::Invalid(problems)) }
}

/// The record's id: the one given (checked not to exist yet) or a new one.
fn new_id(accepted: &mut Map<String, Value>, taken: impl Fn(&str) -> bool) -> Result<String, Rejection> {
    match accepted.remove("id").and_then(|id| id.as_str().map(str::to_owned)) {
        Some(id) if taken(&id) => Err(Rejection::one(Problem::duplicate("id"))),
        Some(id) => Ok(id),
        None => Ok(uuid::Uuid::new_v4().to_string()),
    }
}

/// A stored record of `resource`: the schema's fields only, every one present.
fn build(resource: &Resource, id: String, mut fields: Map<String, Value>, now: DateTime<Utc>) -> Map<String, Value> {
    fields.insert("id".to_owned(), json!(id));
    fields.retain(|field, _| resource.fields.contains(&field.as_str()));
    // The double's own fields cannot fail normalisation: the id is a string.
    normalize(resource, fields, now).unwrap_or_default()
}

fn touch(record: &mut Map<String, Value>, now: DateTime<Utc>) {
    record.insert("modifiedDate".to_owned(), json!(super::model::plex_timestamp(now)));
}

// ---- look-ups ---------------------------------------------------------------------------------

pub(crate) fn customer_by_code<'a>(tenant: &'a Tenant, code: &str) -> Option<&'a Map<String, Value>> {
    tenant.records(&CUSTOMERS).iter().find(|customer| text(customer, "code") == Some(code))
}

/// The part with this number; of several revisions, an active one first.
pub(crate) fn part_by_number<'a>(tenant: &'a Tenant, number: &str) -> Option<&'a Map<String, Value>> {
    let all: Vec<&Map<String, Value>> =
        tenant.records(&PARTS).iter().filter(|part| text(part, "number") == Some(number)).collect();
    all.iter().find(|part| text(part, "status") == Some("Active")).or(all.first()).copied()
}

pub(crate) fn order_by_number<'a>(tenant: &'a Tenant, number: &str) -> Option<&'a Map<String, Value>> {
    tenant.records(&SALES_ORDERS).iter().find(|order| text(order, "orderNumber") == Some(number))
}

pub(crate) fn lines_of<'a>(tenant: &'a Tenant, order_id: &str) -> Vec<&'a Map<String, Value>> {
    tenant
        .records(&ORDER_LINES)
        .iter()
        .filter(|line| text(line, "orderId").is_some_and(|own| own.eq_ignore_ascii_case(order_id)))
        .collect()
}

fn of_line<'a>(tenant: &'a Tenant, resource: &Resource, line_id: &str) -> Vec<&'a Map<String, Value>> {
    tenant
        .records(resource)
        .iter()
        .filter(|record| text(record, "orderLineId").is_some_and(|own| own.eq_ignore_ascii_case(line_id)))
        .collect()
}

pub(crate) fn prices_of<'a>(tenant: &'a Tenant, line_id: &str) -> Vec<&'a Map<String, Value>> {
    of_line(tenant, &LINE_PRICES, line_id)
}

pub(crate) fn releases_of<'a>(tenant: &'a Tenant, line_id: &str) -> Vec<&'a Map<String, Value>> {
    of_line(tenant, &RELEASES, line_id)
}

pub(crate) fn addresses_of<'a>(tenant: &'a Tenant, customer_id: &str) -> &'a [Map<String, Value>] {
    tenant.addresses.get(&customer_id.to_ascii_lowercase()).map(Vec::as_slice).unwrap_or_default()
}

/// The order line `line_id` of order `order_id`, or 404.
pub(crate) fn line_of_order<'a>(
    tenant: &'a Tenant,
    order_id: &str,
    line_id: &str,
) -> Result<&'a Map<String, Value>, Rejection> {
    tenant
        .find(&ORDER_LINES, line_id)
        .filter(|line| text(line, "orderId").is_some_and(|own| own.eq_ignore_ascii_case(order_id)))
        .ok_or(Rejection::NotFound)
}

/// The order as the control plane shows it: its lines, each with its prices and releases.
pub(crate) fn order_view(tenant: &Tenant, order: &Map<String, Value>) -> Value {
    let order_id = text(order, "id").unwrap_or_default();
    let lines: Vec<Value> = lines_of(tenant, order_id)
        .into_iter()
        .map(|line| {
            let line_id = text(line, "id").unwrap_or_default();
            let mut view = line.clone();
            view.insert("prices".to_owned(), json!(prices_of(tenant, line_id)));
            view.insert("releases".to_owned(), json!(releases_of(tenant, line_id)));
            Value::Object(view)
        })
        .collect();
    let mut view = order.clone();
    view.insert("lines".to_owned(), Value::Array(lines));
    if let Some(charges) = tenant.order_charges.get(order_id) {
        view.insert("charges".to_owned(), Value::Object(charges.clone()));
    }
    Value::Object(view)
}

// ---- customers --------------------------------------------------------------------------------

/// `POST /mdm/v1/customers`: `code` and `name` are required, and a code may be used once
/// (duplicate → 400, Plex notes §7.4).
pub(crate) fn create_customer(
    tenant: &mut Tenant,
    body: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<Map<String, Value>, Rejection> {
    let mut accepted = accept(body, CUSTOMER_WRITE)?;
    require(&accepted, &["code", "name"])?;
    let code = accepted.get("code").and_then(Value::as_str).unwrap_or_default();
    if customer_by_code(tenant, code).is_some() {
        return Err(Rejection::one(Problem::duplicate("code")));
    }
    accepted.entry("status").or_insert_with(|| json!("Active"));
    let id = new_id(&mut accepted, |id| tenant.find(&CUSTOMERS, id).is_some())?;
    let record = build(&CUSTOMERS, id, accepted, now);
    tenant.records_mut(&CUSTOMERS).push(record.clone());
    Ok(record)
}

/// `POST /mdm/v1/customers/{customerId}/addresses`. An address is `active` unless it says
/// otherwise; a code may be used once per customer.
pub(crate) fn create_address(
    tenant: &mut Tenant,
    customer_id: &str,
    body: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<Map<String, Value>, Rejection> {
    if tenant.find(&CUSTOMERS, customer_id).is_none() {
        return Err(Rejection::NotFound);
    }
    let mut accepted = accept(body, ADDRESS_WRITE)?;
    let existing = addresses_of(tenant, customer_id);
    if let Some(code) = accepted.get("code").and_then(Value::as_str)
        && existing.iter().any(|address| text(address, "code") == Some(code))
    {
        return Err(Rejection::one(Problem::duplicate("code")));
    }
    let id = new_id(&mut accepted, |id| existing.iter().any(|address| has_id(address, id)))?;
    for flag in ["quoteTo", "shipTo", "billTo", "remitTo", "soldTo"] {
        accepted.entry(flag).or_insert(json!(false));
    }
    accepted.entry("active").or_insert(json!(true));
    let record = build(&CUSTOMER_ADDRESSES, id, accepted, now);
    tenant.addresses.entry(customer_id.to_ascii_lowercase()).or_default().push(record.clone());
    Ok(record)
}

// ---- sales orders -----------------------------------------------------------------------------

/// The next `orderNumber` the double hands out.
fn next_order_number(tenant: &mut Tenant) -> String {
    loop {
        tenant.order_sequence += 1;
        let candidate = (500_000 + tenant.order_sequence).to_string();
        if order_by_number(tenant, &candidate).is_none() {
            return candidate;
        }
    }
}

/// Plex's `outsideSalesId` on writes is `outsideSalesIds` on reads.
fn move_outside_sales(accepted: &mut Map<String, Value>) {
    if let Some(id) = accepted.remove("outsideSalesId") {
        accepted.insert("outsideSalesIds".to_owned(), json!([id]));
    }
}

/// `POST /sales/v1/orders`. `customerId` is required and must exist; a duplicate `poNumber` is
/// accepted (real behaviour unknown, Plex notes §9 q2), so a client must de-duplicate itself.
/// `order_number` is for the seed and the order-header data source (Plex generates it otherwise).
pub(crate) fn create_order(
    tenant: &mut Tenant,
    body: &Map<String, Value>,
    order_number: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Map<String, Value>, Rejection> {
    let mut accepted = accept(body, ORDER_WRITE)?;
    require(&accepted, &["customerId"])?;
    let customer_id = accepted.get("customerId").and_then(Value::as_str).unwrap_or_default();
    if tenant.find(&CUSTOMERS, customer_id).is_none() {
        return Err(Rejection::one(Problem::missing_reference("customerId")));
    }
    let order_number = match order_number {
        Some(number) if order_by_number(tenant, number).is_some() => {
            return Err(Rejection::one(Problem::duplicate("orderNumber")));
        }
        Some(number) => number.to_owned(),
        None => next_order_number(tenant),
    };
    let id = new_id(&mut accepted, |id| tenant.find(&SALES_ORDERS, id).is_some())?;
    move_outside_sales(&mut accepted);
    accepted.insert("orderNumber".to_owned(), json!(order_number));
    let record = build(&SALES_ORDERS, id, accepted, now);
    tenant.records_mut(&SALES_ORDERS).push(record.clone());
    Ok(record)
}

/// `PUT /sales/v1/orders/{id}`: the fields given replace the stored ones (the double merges; Plex
/// documents no partial-update rule, so a careful client sends the whole writable set).
pub(crate) fn update_order(
    tenant: &mut Tenant,
    order_id: &str,
    body: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<Map<String, Value>, Rejection> {
    if tenant.find(&SALES_ORDERS, order_id).is_none() {
        return Err(Rejection::NotFound);
    }
    let mut accepted = accept(body, ORDER_WRITE)?;
    accepted.remove("id");
    if let Some(customer_id) = accepted.get("customerId").and_then(Value::as_str)
        && tenant.find(&CUSTOMERS, customer_id).is_none()
    {
        return Err(Rejection::one(Problem::missing_reference("customerId")));
    }
    move_outside_sales(&mut accepted);
    let record = tenant.find_mut(&SALES_ORDERS, order_id).ok_or(Rejection::NotFound)?;
    record.extend(accepted);
    touch(record, now);
    Ok(record.clone())
}

/// `POST /sales/v1/orders/{id}/lines`: `partId` is required and must exist; `lineNumber` (a string
/// in Plex's schema) is the next number when absent and must be unused on the order.
pub(crate) fn create_line(
    tenant: &mut Tenant,
    order_id: &str,
    body: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<Map<String, Value>, Rejection> {
    let order_id =
        text(tenant.find(&SALES_ORDERS, order_id).ok_or(Rejection::NotFound)?, "id").unwrap_or_default().to_owned();
    let mut accepted = accept(body, LINE_WRITE)?;
    require(&accepted, &["partId"])?;
    let part_id = accepted.get("partId").and_then(Value::as_str).unwrap_or_default();
    if tenant.find(&PARTS, part_id).is_none() {
        return Err(Rejection::one(Problem::missing_reference("partId")));
    }
    let lines = lines_of(tenant, &order_id);
    let line_number = match accepted.get("lineNumber").and_then(Value::as_str) {
        Some(number) if lines.iter().any(|line| text(line, "lineNumber") == Some(number)) => {
            return Err(Rejection::one(Problem::duplicate("lineNumber")));
        }
        Some(number) => number.to_owned(),
        None => {
            let highest = lines
                .iter()
                .filter_map(|line| text(line, "lineNumber").and_then(|number| number.parse::<u64>().ok()))
                .max()
                .unwrap_or(0);
            (highest + 1).to_string()
        }
    };
    let id = new_id(&mut accepted, |id| tenant.find(&ORDER_LINES, id).is_some())?;
    accepted.insert("orderId".to_owned(), json!(order_id));
    accepted.insert("lineNumber".to_owned(), json!(line_number));
    accepted.entry("active").or_insert(json!(true));
    let record = build(&ORDER_LINES, id, accepted, now);
    tenant.records_mut(&ORDER_LINES).push(record.clone());
    Ok(record)
}

/// `POST /sales/v1/orders/{id}/lines/{lineId}/prices`: `price`, `unit` and `currencyCode` are
/// required (Paperless's required set plus the price itself, Plex notes §7.4).
pub(crate) fn create_price(
    tenant: &mut Tenant,
    order_id: &str,
    line_id: &str,
    body: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<Map<String, Value>, Rejection> {
    if tenant.find(&SALES_ORDERS, order_id).is_none() {
        return Err(Rejection::NotFound);
    }
    let line_id = text(line_of_order(tenant, order_id, line_id)?, "id").unwrap_or_default().to_owned();
    let mut accepted = accept(body, PRICE_WRITE)?;
    require(&accepted, &["price", "unit", "currencyCode"])?;
    let id = new_id(&mut accepted, |id| tenant.find(&LINE_PRICES, id).is_some())?;
    let first = prices_of(tenant, &line_id).is_empty();
    accepted.insert("orderLineId".to_owned(), json!(line_id));
    accepted.insert("active".to_owned(), json!(true));
    accepted.insert("primaryPrice".to_owned(), json!(first));
    let record = build(&LINE_PRICES, id, accepted, now);
    tenant.records_mut(&LINE_PRICES).push(record.clone());
    Ok(record)
}

/// Checks a release's quantity, line and ship-to; returns the line's part number.
fn check_release(tenant: &Tenant, accepted: &Map<String, Value>, line_id: &str) -> Result<Option<String>, Rejection> {
    if accepted.get("quantity").and_then(Value::as_f64).is_some_and(|quantity| quantity < 0.0) {
        return Err(Rejection::one(Problem::new(
            "FIELD_INVALID",
            "quantity",
            "Field 'Quantity' must not be negative.",
        )));
    }
    let line = tenant.find(&ORDER_LINES, line_id).ok_or(Rejection::one(Problem::missing_reference("orderLineId")))?;
    if let Some(address_id) = accepted.get("shipToAddressId").and_then(Value::as_str) {
        let customer_id = text(line, "orderId")
            .and_then(|order_id| tenant.find(&SALES_ORDERS, order_id))
            .and_then(|order| text(order, "customerId"))
            .unwrap_or_default();
        let valid = addresses_of(tenant, customer_id).iter().any(|address| {
            has_id(address, address_id)
                && address.get("shipTo") == Some(&json!(true))
                && address.get("active") != Some(&json!(false))
        });
        if !valid {
            // The observed message for exactly this case (Plex notes §2.3).
            return Err(Rejection::one(Problem::new(
                "FIELD_INVALID",
                "shipToAddressId",
                "Ship To is not valid for the customer and part.",
            )));
        }
    }
    let part_number = text(line, "partId")
        .and_then(|part_id| tenant.find(&PARTS, part_id))
        .and_then(|part| text(part, "number"))
        .map(str::to_owned);
    Ok(part_number)
}

/// `POST /sales/v1/releases`: `type, quantity, status, shipFrom, orderLineId, dueDate` are required
/// (Plex notes §2.4); the line must exist; a ship-to must be an active ship-to address of the
/// order's customer. `releaseNumber` counts up per line when absent.
pub(crate) fn create_release(
    tenant: &mut Tenant,
    body: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<Map<String, Value>, Rejection> {
    let mut accepted = accept(body, RELEASE_WRITE)?;
    require(&accepted, RELEASE_REQUIRED)?;
    let line_id = accepted.get("orderLineId").and_then(Value::as_str).unwrap_or_default().to_owned();
    let part_number = check_release(tenant, &accepted, &line_id)?;
    let id = new_id(&mut accepted, |id| tenant.find(&RELEASES, id).is_some())?;
    let release_number = (releases_of(tenant, &line_id).len() + 1).to_string();
    accepted.entry("releaseNumber").or_insert(json!(release_number));
    accepted.entry("quantityShipped").or_insert(json!(0));
    accepted.insert("partNumber".to_owned(), json!(part_number));
    let record = build(&RELEASES, id, accepted, now);
    tenant.records_mut(&RELEASES).push(record.clone());
    Ok(record)
}

/// `PUT /sales/v1/releases/{id}`: merges the fields given, with the create's checks.
pub(crate) fn update_release(
    tenant: &mut Tenant,
    release_id: &str,
    body: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<Map<String, Value>, Rejection> {
    let stored = tenant.find(&RELEASES, release_id).ok_or(Rejection::NotFound)?;
    let mut accepted = accept(body, RELEASE_WRITE)?;
    accepted.remove("id");
    let line_id = accepted
        .get("orderLineId")
        .and_then(Value::as_str)
        .or_else(|| text(stored, "orderLineId"))
        .unwrap_or_default()
        .to_owned();
    let part_number = check_release(tenant, &accepted, &line_id)?;
    let record = tenant.find_mut(&RELEASES, release_id).ok_or(Rejection::NotFound)?;
    record.extend(accepted);
    record.insert("partNumber".to_owned(), json!(part_number));
    touch(record, now);
    Ok(record.clone())
}

// ---- seeding ----------------------------------------------------------------------------------

/// Seeds a customer: the record replaces one with the same id; its `addresses`, when given,
/// replace the customer's addresses.
pub(crate) fn seed_customer(
    tenant: &mut Tenant,
    mut record: Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let addresses = match record.remove("addresses") {
        None | Some(Value::Null) => None,
        Some(Value::Array(addresses)) => Some(addresses),
        Some(other) => return Err(format!("a customer's addresses must be a list, got {other}")),
    };
    // The id is settled here so the addresses can be filed under it.
    let customer_id = match record.get("id").and_then(Value::as_str) {
        Some(id) => id.to_ascii_lowercase(),
        None => uuid::Uuid::new_v4().to_string(),
    };
    record.insert("id".to_owned(), json!(customer_id));
    tenant.upsert(&CUSTOMERS, vec![record], now)?;
    if let Some(addresses) = addresses {
        tenant.addresses.remove(&customer_id);
        for address in addresses {
            let Value::Object(address) = address else {
                return Err(format!("an address of customer {customer_id} must be an object"));
            };
            create_address(tenant, &customer_id, &address, now)
                .map_err(|rejection| format!("address of customer {customer_id}: {}", rejection.describe()))?;
        }
    }
    Ok(())
}

/// Removes an order with its lines, prices and releases (a seed replacing it).
fn remove_order(tenant: &mut Tenant, order_id: &str) {
    let line_ids: Vec<String> =
        lines_of(tenant, order_id).iter().filter_map(|line| text(line, "id").map(str::to_owned)).collect();
    let on_removed_line = |record: &Map<String, Value>| {
        text(record, "orderLineId").is_some_and(|line| line_ids.iter().any(|id| id.eq_ignore_ascii_case(line)))
    };
    tenant.records_mut(&RELEASES).retain(|release| !on_removed_line(release));
    tenant.records_mut(&LINE_PRICES).retain(|price| !on_removed_line(price));
    tenant
        .records_mut(&ORDER_LINES)
        .retain(|line| !text(line, "orderId").is_some_and(|own| own.eq_ignore_ascii_case(order_id)));
    tenant.records_mut(&SALES_ORDERS).retain(|order| !has_id(order, order_id));
    tenant.order_charges.remove(&order_id.to_ascii_lowercase());
}

fn take_list(record: &mut Map<String, Value>, field: &str, owner: &str) -> Result<Vec<Map<String, Value>>, String> {
    match record.remove(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::Object(item) => Ok(item),
                other => Err(format!("{owner}: each of `{field}` must be an object, got {other}")),
            })
            .collect(),
        Some(other) => Err(format!("{owner}: `{field}` must be a list, got {other}")),
    }
}

/// Seeds a sales order with its lines, prices and releases through the same rules as the REST
/// endpoints (see the model's module docs for the format). An order with the same id is replaced.
pub(crate) fn seed_order(tenant: &mut Tenant, mut seed: Map<String, Value>, now: DateTime<Utc>) -> Result<(), String> {
    let owner = format!("sales order {}", seed.get("poNumber").or(seed.get("id")).unwrap_or(&Value::Null));
    let lines = take_list(&mut seed, "lines", &owner)?;
    if let Some(code) = seed.remove("customerCode") {
        let code = code.as_str().unwrap_or_default();
        let customer =
            customer_by_code(tenant, code).ok_or_else(|| format!("{owner}: no customer has the code {code:?}"))?;
        seed.insert("customerId".to_owned(), customer.get("id").cloned().unwrap_or_default());
    }
    let order_number = seed.remove("orderNumber").and_then(|number| number.as_str().map(str::to_owned));
    if let Some(id) = seed.get("id").and_then(Value::as_str).map(str::to_owned) {
        remove_order(tenant, &id);
    }
    let order = create_order(tenant, &seed, order_number.as_deref(), now)
        .map_err(|rejection| format!("{owner}: {}", rejection.describe()))?;
    let order_id = text(&order, "id").unwrap_or_default().to_owned();
    for mut line in lines {
        let prices = take_list(&mut line, "prices", &owner)?;
        let releases = take_list(&mut line, "releases", &owner)?;
        if let Some(number) = line.remove("partNumber") {
            let number = number.as_str().unwrap_or_default();
            let part =
                part_by_number(tenant, number).ok_or_else(|| format!("{owner}: no part has the number {number:?}"))?;
            line.insert("partId".to_owned(), part.get("id").cloned().unwrap_or_default());
        }
        let line = create_line(tenant, &order_id, &line, now)
            .map_err(|rejection| format!("{owner}, line: {}", rejection.describe()))?;
        let line_id = text(&line, "id").unwrap_or_default().to_owned();
        for price in prices {
            create_price(tenant, &order_id, &line_id, &price, now)
                .map_err(|rejection| format!("{owner}, price: {}", rejection.describe()))?;
        }
        for mut release in releases {
            release.insert("orderLineId".to_owned(), json!(line_id));
            create_release(tenant, &release, now)
                .map_err(|rejection| format!("{owner}, release: {}", rejection.describe()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    fn tenant() -> Tenant {
        let mut tenant = Tenant::new("t".to_owned(), "T".to_owned());
        let now = Utc::now();
        seed_customer(
            &mut tenant,
            object(json!({"id": "11111111-1111-4111-8111-111111111111", "code": "C", "addresses": [
                {"id": "22222222-2222-4222-8222-222222222222", "code": "SHIP", "shipTo": true},
                {"id": "33333333-3333-4333-8333-333333333333", "code": "BILL", "billTo": true}
            ]})),
            now,
        )
        .unwrap();
        tenant
            .upsert(&PARTS, vec![object(json!({"id": "44444444-4444-4444-8444-444444444444", "number": "P-1"}))], now)
            .unwrap();
        tenant
    }

    fn problem_fields(rejection: Rejection) -> Vec<String> {
        match rejection {
            Rejection::Invalid(problems) => problems.into_iter().map(|problem| problem.field).collect(),
            Rejection::NotFound => vec!["404".to_owned()],
        }
    }

    #[test]
    fn an_order_for_an_unknown_customer_names_the_customer_id_field() {
        let mut tenant = tenant();
        let body = object(json!({"customerId": "99999999-9999-4999-8999-999999999999", "poNumber": "X"}));
        let rejection = create_order(&mut tenant, &body, None, Utc::now()).unwrap_err();
        assert_eq!(problem_fields(rejection), ["CustomerId"]);
    }

    #[test]
    fn orders_get_consecutive_numbers_and_lines_count_up_as_strings() {
        let mut tenant = tenant();
        let now = Utc::now();
        let body = object(json!({"customerId": "11111111-1111-4111-8111-111111111111"}));
        let first = create_order(&mut tenant, &body, None, now).unwrap();
        let second = create_order(&mut tenant, &body, None, now).unwrap();
        assert_eq!((first["orderNumber"].clone(), second["orderNumber"].clone()), (json!("500001"), json!("500002")));
        let order_id = first["id"].as_str().unwrap();
        let part = object(json!({"partId": "44444444-4444-4444-8444-444444444444"}));
        assert_eq!(create_line(&mut tenant, order_id, &part, now).unwrap()["lineNumber"], "1");
        assert_eq!(create_line(&mut tenant, order_id, &part, now).unwrap()["lineNumber"], "2");
    }

    #[test]
    fn a_release_names_every_missing_required_field() {
        let mut tenant = tenant();
        let rejection = create_release(&mut tenant, &object(json!({"quantity": "3"})), Utc::now()).unwrap_err();
        assert_eq!(problem_fields(rejection), ["Quantity"]);
        let rejection = create_release(&mut tenant, &object(json!({})), Utc::now()).unwrap_err();
        assert_eq!(problem_fields(rejection), ["Type", "Quantity", "Status", "ShipFrom", "OrderLineId", "DueDate"]);
    }

    #[test]
    fn a_ship_to_must_be_a_ship_to_address_of_the_orders_customer() {
        let mut tenant = tenant();
        let now = Utc::now();
        let order = create_order(
            &mut tenant,
            &object(json!({"customerId": "11111111-1111-4111-8111-111111111111"})),
            None,
            now,
        )
        .unwrap();
        let line = create_line(
            &mut tenant,
            order["id"].as_str().unwrap(),
            &object(json!({"partId": "44444444-4444-4444-8444-444444444444"})),
            now,
        )
        .unwrap();
        let release = |ship_to: &str| {
            object(json!({"orderLineId": line["id"], "quantity": 2, "dueDate": "2026-12-01T00:00:00Z",
                          "status": "Open", "type": "Ship Schedule", "shipFrom": "MAIN", "shipToAddressId": ship_to}))
        };
        let billing_only = create_release(&mut tenant, &release("33333333-3333-4333-8333-333333333333"), now);
        assert_eq!(problem_fields(billing_only.unwrap_err()), ["ShipToAddressId"]);
        let created = create_release(&mut tenant, &release("22222222-2222-4222-8222-222222222222"), now).unwrap();
        assert_eq!((created["releaseNumber"].clone(), created["partNumber"].clone()), (json!("1"), json!("P-1")));
    }

    #[test]
    fn a_create_with_an_existing_id_is_refused_naming_the_id() {
        let mut tenant = tenant();
        let body = object(json!({"id": "55555555-5555-4555-8555-555555555555",
                                 "customerId": "11111111-1111-4111-8111-111111111111"}));
        create_order(&mut tenant, &body, None, Utc::now()).unwrap();
        assert_eq!(problem_fields(create_order(&mut tenant, &body, None, Utc::now()).unwrap_err()), ["Id"]);
    }
}
