//! Customer and part look-ups for one order, through the id map first, so a warm cache costs no API
//! call (Plex's rate budget is what limits throughput).
//!
//! Misses are never cached: an unmapped SKU or an unknown customer is looked up again on the next
//! attempt, so an order that needs mapping goes through as soon as the part or customer exists.
//! [`recheck_gap`] is the same look-up for one reported gap, so the order sweep releases a held
//! order exactly when the worker would map it.

use std::collections::{BTreeSet, HashMap};

use domain::ConnectionId;
use domain::connection::OrderSettings;
use domain::id_map::{customer_map_key, namespaces};
use domain::order::{CustomerKey, GapRecheck, MappingGap, NewCustomer, PartRef, WebOrder};
use domain::ports::{IdMap, SalesOrderSink};

use crate::error::StepError;

/// What the look-ups found: the customer (or the gap that prevents one) and every SKU that has a part.
pub struct Resolved {
    pub customer: Result<String, MappingGap>,
    pub parts: HashMap<String, PartRef>,
}

/// Resolves the order's customer and distinct SKUs; `plex_calls` counts the API calls made.
pub async fn resolve(
    id_map: &dyn IdMap,
    sink: &dyn SalesOrderSink,
    connection: &ConnectionId,
    order: &WebOrder,
    settings: &OrderSettings,
    plex_calls: &mut u32,
) -> Result<Resolved, StepError> {
    let customer = match CustomerKey::for_order(order, settings) {
        Ok(key) => match customer(id_map, sink, connection, &key, plex_calls).await? {
            Some(id) => Ok(id),
            None if settings.create_customers => {
                match new_customer(id_map, sink, connection, &key, order, plex_calls).await? {
                    Some(id) => Ok(id),
                    None => Err(key.not_found()),
                }
            }
            None => Err(key.not_found()),
        },
        Err(gap) => Err(gap),
    };
    let skus: BTreeSet<&str> = order.lines.iter().map(|line| line.sku.as_str()).collect();
    let mut parts = HashMap::with_capacity(skus.len());
    for sku in skus {
        if let Some(part) = part(id_map, sink, connection, sku, plex_calls).await? {
            parts.insert(sku.to_owned(), part);
        }
    }
    Ok(Resolved { customer, parts })
}

/// Whether `gap`, reported for an order of `connection`, is filled now: `Some` says how (for the
/// audit trail). Looks up as the worker does (id map first, then Plex) and caches what it finds, so
/// the released order then maps without a call; `plex_calls` counts the API calls made.
pub async fn recheck_gap(
    id_map: &dyn IdMap,
    sink: &dyn SalesOrderSink,
    connection: &ConnectionId,
    settings: &OrderSettings,
    gap: &MappingGap,
    plex_calls: &mut u32,
) -> Result<Option<String>, StepError> {
    match gap.recheck(settings) {
        GapRecheck::SettingsChanged(how) => Ok(Some(how)),
        GapRecheck::OrderMustChange => Ok(None),
        GapRecheck::Part(sku) => Ok(part(id_map, sink, connection, &sku, plex_calls)
            .await?
            .map(|part| format!("SKU {sku:?} is Plex part {} (id {})", part.number, part.id))),
        GapRecheck::Customer(key) => Ok(customer(id_map, sink, connection, &key, plex_calls)
            .await?
            .map(|id| format!("{} {:?} is Plex customer {id}", key.field(), key.value()))),
    }
}

async fn customer(
    id_map: &dyn IdMap,
    sink: &dyn SalesOrderSink,
    connection: &ConnectionId,
    key: &CustomerKey,
    plex_calls: &mut u32,
) -> Result<Option<String>, StepError> {
    let (namespace, source_id) = customer_map_key(key);
    if let CustomerKey::BigCommerceId(_) = key {
        // Only an operator knows which Plex customer a shopper account is; Plex cannot search by it.
        return id_map
            .get(connection, namespace, &source_id)
            .await
            .map_err(StepError::port("reading the customer id map"));
    }
    let cached =
        id_map.get(connection, namespace, &source_id).await.map_err(StepError::port("reading the customer cache"))?;
    if cached.is_some() {
        return Ok(cached);
    }
    *plex_calls += 1;
    let found = sink.find_customer(key).await?;
    if let Some(customer_id) = &found {
        id_map
            .put(connection, namespace, &source_id, customer_id)
            .await
            .map_err(StepError::port("caching the Plex customer"))?;
    }
    Ok(found)
}

/// Creates the shopper's Plex customer when nobody matched (a registered shopper matched by
/// e-mail or company only: guests go to the guest customer, and customer ids are an operator's
/// mapping) and caches it under the key that missed, so the next order finds it without a call.
async fn new_customer(
    id_map: &dyn IdMap,
    sink: &dyn SalesOrderSink,
    connection: &ConnectionId,
    key: &CustomerKey,
    order: &WebOrder,
    plex_calls: &mut u32,
) -> Result<Option<String>, StepError> {
    if let CustomerKey::GuestCode(_) | CustomerKey::BigCommerceId(_) = key {
        return Ok(None);
    }
    let (namespace, source_id) = customer_map_key(key);
    let Some(customer) = NewCustomer::for_order(order) else { return Ok(None) };
    *plex_calls += 1;
    let id = sink.create_customer(&customer).await?;
    id_map
        .put(connection, namespace, &source_id, &id)
        .await
        .map_err(StepError::port("caching the new Plex customer"))?;
    Ok(Some(id))
}

async fn part(
    id_map: &dyn IdMap,
    sink: &dyn SalesOrderSink,
    connection: &ConnectionId,
    sku: &str,
    plex_calls: &mut u32,
) -> Result<Option<PartRef>, StepError> {
    let id = id_map.get(connection, namespaces::SKU, sku).await.map_err(StepError::port("reading the SKU map"))?;
    if let Some(id) = id {
        let number = id_map
            .get(connection, namespaces::SKU_PART_NUMBER, sku)
            .await
            .map_err(StepError::port("reading the SKU map"))?;
        if let Some(number) = number {
            return Ok(Some(PartRef { id, number }));
        }
    }
    *plex_calls += 1;
    let found = sink.part_by_number(sku).await?;
    if let Some(part) = &found {
        remember_part(id_map, connection, sku, part).await.map_err(StepError::port("caching the Plex part"))?;
    }
    Ok(found)
}

/// Maps `sku` to the Plex part in the id map, as a look-up that found it does (an operator's
/// mapping of a SKU that is not a Plex part number is the same two entries).
pub async fn remember_part(
    id_map: &dyn IdMap,
    connection: &ConnectionId,
    sku: &str,
    part: &PartRef,
) -> Result<(), domain::PortError> {
    // The number first: a crash between the two puts leaves a miss, not a half entry that reads as a hit.
    id_map.put(connection, namespaces::SKU_PART_NUMBER, sku, &part.number).await?;
    id_map.put(connection, namespaces::SKU, sku, &part.id).await
}
