//! Plex Connect sales orders: `/sales/v1/orders` with their lines and prices, and
//! `/sales/v1/releases` (Plex notes §2.4, §7.4). Paperless used `/sales/v1-beta1/...` for the same
//! resources; the double serves both spellings.
//!
//! Reads use the list conventions of `connect`; writes go through `store`, which the order data
//! sources and the seed use too. Creates answer 201 with the stored record, updates 200; an id in
//! the path that names nothing (or a line of another order) is 404 `RESOURCE_NOT_FOUND`.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::auth::ConnectContext;
use super::connect::{Filters, get_one, list, list_records, write};
use super::model::{RELEASES, SALES_ORDERS, Tenant, has_id};
use super::store::{self, Rejection};
use super::{Plex, resource_not_found};
use crate::{lock, reply};

/// `GET /sales/v1/orders`. The modified-date window really is spelled `modifiedByDate...`.
const ORDER_FILTERS: Filters = Filters {
    equals: &[
        ("id", "id"),
        ("customerId", "customerId"),
        ("orderNumber", "orderNumber"),
        ("poNumber", "poNumber"),
        ("status", "status"),
        ("type", "type"),
        ("category", "category"),
        ("terms", "terms"),
        ("incoTerms", "incoTerms"),
        ("fob", "fob"),
        ("freightTerms", "freightTerms"),
        ("insideSalesId", "insideSalesId"),
        ("createdById", "createdById"),
        ("modifiedById", "modifiedById"),
    ],
    date_windows: &[
        ("orderDateBegin", "orderDateEnd", "orderDate"),
        ("expirationDateBegin", "expirationDateEnd", "expirationDate"),
        ("poNumberRevisionDateBegin", "poNumberRevisionDateEnd", "poNumberRevisionDate"),
        ("createdDateBegin", "createdDateEnd", "createdDate"),
        ("modifiedByDateBegin", "modifiedByDateEnd", "modifiedDate"),
    ],
};

/// An order's lines and a line's prices take no filters in the spec.
const NO_FILTERS: Filters = Filters { equals: &[], date_windows: &[] };

/// `GET /sales/v1/releases`: `orderLineIds` repeats, like every list parameter.
const RELEASE_FILTERS: Filters = Filters {
    equals: &[
        ("id", "id"),
        ("releaseNumber", "releaseNumber"),
        ("orderLineIds", "orderLineId"),
        ("type", "type"),
        ("shipToAddressId", "shipToAddressId"),
        ("status", "status"),
        ("source", "source"),
        ("partNumber", "partNumber"),
        ("createdById", "createdById"),
        ("modifiedById", "modifiedById"),
    ],
    date_windows: &[
        ("shipDateBegin", "shipDateEnd", "shipDate"),
        ("dueDateBegin", "dueDateEnd", "dueDate"),
        ("scheduleDateBegin", "scheduleDateEnd", "scheduleDate"),
        ("createdDateBegin", "createdDateEnd", "createdDate"),
        ("modifiedDateBegin", "modifiedDateEnd", "modifiedDate"),
    ],
};

/// Records a read picks out of the caller's tenant, or the rejection (404) to answer.
fn pick(
    plex: &Plex,
    context: &ConnectContext,
    choose: impl FnOnce(&Tenant) -> Result<Vec<Map<String, Value>>, Rejection>,
) -> Result<Vec<Map<String, Value>>, Response> {
    let state = lock(&plex.state);
    let tenant = state.tenant(&context.tenant_id).ok_or_else(resource_not_found)?;
    choose(tenant).map_err(|rejection| rejection.response())
}

fn one(records: Result<Vec<Map<String, Value>>, Response>) -> Response {
    match records.map(|mut records| records.pop()) {
        Ok(Some(record)) => reply::json_as(StatusCode::OK, reply::JSON_UTF8, &Value::Object(record)),
        Ok(None) => resource_not_found(),
        Err(response) => response,
    }
}

fn cloned(records: Vec<&Map<String, Value>>) -> Vec<Map<String, Value>> {
    records.into_iter().cloned().collect()
}

fn order_exists(tenant: &Tenant, order_id: &str) -> Result<(), Rejection> {
    tenant.find(&SALES_ORDERS, order_id).map(drop).ok_or(Rejection::NotFound)
}

/// `GET /sales/v1/orders` (`poNumber`, `customerId`, `orderNumber`, `id`..., `status`...).
pub(crate) async fn list_orders(
    State(plex): State<Arc<Plex>>,
    Extension(context): Extension<ConnectContext>,
    RawQuery(raw_query): RawQuery,
) -> Response {
    list(&plex, &context, &SALES_ORDERS, &ORDER_FILTERS, raw_query)
}

/// `POST /sales/v1/orders` → 201 with `id` and a generated `orderNumber`.
pub(crate) async fn create_order(
    State(plex): State<Arc<Plex>>,
    Extension(context): Extension<ConnectContext>,
    body: Bytes,
) -> Response {
    write(&plex, &context, StatusCode::CREATED, &body, |tenant, body, now| store::create_order(tenant, body, None, now))
}

/// `GET /sales/v1/orders/{id}`.
pub(crate) async fn get_order(
    State(plex): State<Arc<Plex>>,
    Extension(context): Extension<ConnectContext>,
    Path(id): Path<String>,
) -> Response {
    get_one(&plex, &context, &SALES_ORDERS, &id)
}

/// `PUT /sales/v1/orders/{id}`.
pub(crate) async fn update_order(
    State(plex): State<Arc<Plex>>,
    Extension(context): Extension<ConnectContext>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    write(&plex, &context, StatusCode::OK, &body, |tenant, body, now| store::update_order(tenant, &id, body, now))
}

/// `GET /sales/v1/orders/{id}/lines`; 404 when the order is unknown.
pub(crate) async fn list_lines(
    State(plex): State<Arc<Plex>>,
    Extension(context): Extension<ConnectContext>,
    Path(order_id): Path<String>,
    RawQuery(raw_query): RawQuery,
) -> Response {
    let lines = pick(&plex, &context, |tenant| {
        order_exists(tenant, &order_id)?;
        Ok(cloned(store::lines_of(tenant, &order_id)))
    });
    match lines {
        Ok(lines) => list_records(&plex, &lines, &NO_FILTERS, raw_query),
        Err(response) => response,
    }
}

/// `POST /sales/v1/orders/{id}/lines` → 201 `{id, orderId, partId, lineNumber, ...}`.
pub(crate) async fn create_line(
    State(plex): State<Arc<Plex>>,
    Extension(context): Extension<ConnectContext>,
    Path(order_id): Path<String>,
    body: Bytes,
) -> Response {
    write(&plex, &context, StatusCode::CREATED, &body, |tenant, body, now| {
        store::create_line(tenant, &order_id, body, now)
    })
}

/// `GET /sales/v1/orders/{id}/lines/{lineId}`.
pub(crate) async fn get_line(
    State(plex): State<Arc<Plex>>,
    Extension(context): Extension<ConnectContext>,
    Path((order_id, line_id)): Path<(String, String)>,
) -> Response {
    one(pick(&plex, &context, |tenant| Ok(vec![store::line_of_order(tenant, &order_id, &line_id)?.clone()])))
}

/// `GET /sales/v1/orders/{id}/lines/{lineId}/prices`.
pub(crate) async fn list_prices(
    State(plex): State<Arc<Plex>>,
    Extension(context): Extension<ConnectContext>,
    Path((order_id, line_id)): Path<(String, String)>,
    RawQuery(raw_query): RawQuery,
) -> Response {
    let prices = pick(&plex, &context, |tenant| {
        store::line_of_order(tenant, &order_id, &line_id)?;
        Ok(cloned(store::prices_of(tenant, &line_id)))
    });
    match prices {
        Ok(prices) => list_records(&plex, &prices, &NO_FILTERS, raw_query),
        Err(response) => response,
    }
}

/// `GET /sales/v1/orders/{id}/lines/{lineId}/prices/{priceId}`.
pub(crate) async fn get_price(
    State(plex): State<Arc<Plex>>,
    Extension(context): Extension<ConnectContext>,
    Path((order_id, line_id, price_id)): Path<(String, String, String)>,
) -> Response {
    one(pick(&plex, &context, |tenant| {
        store::line_of_order(tenant, &order_id, &line_id)?;
        Ok(cloned(store::prices_of(tenant, &line_id).into_iter().filter(|price| has_id(price, &price_id)).collect()))
    }))
}

/// `POST /sales/v1/orders/{id}/lines/{lineId}/prices` → 201.
pub(crate) async fn create_price(
    State(plex): State<Arc<Plex>>,
    Extension(context): Extension<ConnectContext>,
    Path((order_id, line_id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    write(&plex, &context, StatusCode::CREATED, &body, |tenant, body, now| {
        store::create_price(tenant, &order_id, &line_id, body, now)
    })
}

/// `GET /sales/v1/releases` (`orderLineIds`..., `status`, `dueDateBegin`/`End`, ...).
pub(crate) async fn list_releases(
    State(plex): State<Arc<Plex>>,
    Extension(context): Extension<ConnectContext>,
    RawQuery(raw_query): RawQuery,
) -> Response {
    list(&plex, &context, &RELEASES, &RELEASE_FILTERS, raw_query)
}

/// `POST /sales/v1/releases` → 201.
pub(crate) async fn create_release(
    State(plex): State<Arc<Plex>>,
    Extension(context): Extension<ConnectContext>,
    body: Bytes,
) -> Response {
    write(&plex, &context, StatusCode::CREATED, &body, store::create_release)
}

/// `GET /sales/v1/releases/{id}`.
pub(crate) async fn get_release(
    State(plex): State<Arc<Plex>>,
    Extension(context): Extension<ConnectContext>,
    Path(id): Path<String>,
) -> Response {
    get_one(&plex, &context, &RELEASES, &id)
}

/// `PUT /sales/v1/releases/{id}` (quantity, due date, status, ...).
pub(crate) async fn update_release(
    State(plex): State<Arc<Plex>>,
    Extension(context): Extension<ConnectContext>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    write(&plex, &context, StatusCode::OK, &body, |tenant, body, now| store::update_release(tenant, &id, body, now))
}

/// How many sales orders each PO number has, for tests that check nothing was duplicated.
pub(crate) fn orders_per_po(tenant: &Tenant) -> Map<String, Value> {
    let mut counts = Map::new();
    for order in tenant.records(&SALES_ORDERS) {
        let po_number = order.get("poNumber").and_then(Value::as_str).unwrap_or_default();
        let count = counts.get(po_number).and_then(Value::as_u64).unwrap_or(0);
        counts.insert(po_number.to_owned(), json!(count + 1));
    }
    counts
}
