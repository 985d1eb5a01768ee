//! Reading and writing DynamoDB item attributes, shared by the audit log and the state-table
//! adapters, so a malformed stored item is reported the same way everywhere (as `Invalid`, naming
//! the attribute) and times are stored in one format.
//!
//! Times that conditions compare (lease and claim expiry) are epoch **nanoseconds** as Numbers:
//! numbers compare numerically in a `ConditionExpression`, and nanoseconds round-trip a
//! `DateTime<Utc>` exactly, so what an adapter returns equals what the in-memory fakes return.
//! TTL attributes (`expires_at`) are epoch seconds, because that is what DynamoDB TTL reads.

use std::collections::HashMap;
use std::str::FromStr;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use domain::PortError;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) fn string(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn number(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A value serialised as one JSON string attribute: the whole domain value, so adding a field to a
/// domain type needs no change here.
pub(crate) fn json<T: Serialize>(value: &T, context: &str) -> Result<AttributeValue, PortError> {
    serde_json::to_string(value)
        .map(AttributeValue::S)
        .map_err(|err| PortError::invalid(context, format!("cannot serialise: {err}")))
}

/// The serde name of a unit enum variant (`Stage::Mapped` → `mapped`), for the attributes kept
/// beside the JSON for people reading the table; empty for values that are not serialised as a string.
pub(crate) fn serde_name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => String::new(),
    }
}

pub(crate) fn get_string<'a>(item: &'a Item, name: &str, context: &str) -> Result<&'a str, PortError> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value),
        Some(_) => Err(PortError::invalid(context, format!("attribute {name} is not a string"))),
        None => Err(PortError::invalid(context, format!("item has no attribute {name}"))),
    }
}

pub(crate) fn get_optional_string<'a>(item: &'a Item, name: &str, context: &str) -> Result<Option<&'a str>, PortError> {
    match item.get(name) {
        None => Ok(None),
        Some(_) => get_string(item, name, context).map(Some),
    }
}

pub(crate) fn get_number<T: FromStr>(item: &Item, name: &str, context: &str) -> Result<T, PortError> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value
            .parse()
            .map_err(|_| PortError::invalid(context, format!("attribute {name} is not a valid number: {value}"))),
        Some(_) => Err(PortError::invalid(context, format!("attribute {name} is not a number"))),
        None => Err(PortError::invalid(context, format!("item has no attribute {name}"))),
    }
}

pub(crate) fn get_json<T: DeserializeOwned>(item: &Item, name: &str, context: &str) -> Result<T, PortError> {
    let raw = get_string(item, name, context)?;
    serde_json::from_str(raw)
        .map_err(|err| PortError::invalid(context, format!("attribute {name} is malformed: {err}")))
}

/// Epoch nanoseconds of `at`, for attributes that conditions compare.
pub(crate) fn epoch_nanos(at: DateTime<Utc>, context: &str) -> Result<i64, PortError> {
    at.timestamp_nanos_opt()
        .ok_or_else(|| PortError::invalid(context, format!("time {at} is outside the storable range (1677 to 2262)")))
}

pub(crate) fn from_epoch_nanos(nanos: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(nanos)
}

/// Epoch seconds for a TTL attribute, rounded up so DynamoDB never removes an item before `at`.
pub(crate) fn ttl_epoch_seconds(at: DateTime<Utc>) -> i64 {
    let seconds = at.timestamp();
    if at.timestamp_subsec_nanos() > 0 { seconds.saturating_add(1) } else { seconds }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn nanosecond_times_round_trip_exactly() {
        let t = at("2026-11-24T10:00:00.123456789Z");
        assert_eq!(from_epoch_nanos(epoch_nanos(t, "t").unwrap()), t);
    }

    #[test]
    fn times_beyond_the_nanosecond_range_are_refused_not_wrapped() {
        let far = at("2300-01-01T00:00:00Z");
        assert!(matches!(epoch_nanos(far, "t"), Err(PortError::Invalid { .. })));
    }

    #[test]
    fn ttl_seconds_round_up_partial_seconds() {
        assert_eq!(ttl_epoch_seconds(at("1970-01-01T00:00:10Z")), 10);
        assert_eq!(ttl_epoch_seconds(at("1970-01-01T00:00:10.001Z")), 11);
    }

    #[test]
    fn missing_or_mistyped_attributes_are_invalid_and_named() {
        let item = Item::from([("n".to_owned(), number(5)), ("s".to_owned(), string("x"))]);
        let err = get_string(&item, "n", "reading item").unwrap_err();
        assert_eq!(err.to_string(), "reading item: attribute n is not a string");
        let err = get_number::<i64>(&item, "missing", "reading item").unwrap_err();
        assert_eq!(err.to_string(), "reading item: item has no attribute missing");
        assert_eq!(get_number::<i64>(&item, "n", "reading item").unwrap(), 5);
        assert_eq!(get_optional_string(&item, "absent", "reading item").unwrap(), None);
    }
}
