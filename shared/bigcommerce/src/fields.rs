//! Reading BigCommerce's JSON one field at a time, so a field that does not parse is named in the
//! error (`order 1042: products[3].price_ex_tax is not a decimal number`) instead of serde's message,
//! which quotes the offending value and would put customer data (or a hook's secret header) into
//! logs and alerts.
//!
//! BigCommerce is loose about types, so the readers are too: ids and counts come as numbers or
//! numeric strings, money as decimal strings ("62.6793") or numbers, optional text as a string,
//! `null` or nothing; dates are RFC-2822 (`Tue, 05 Mar 2019 21:40:11 +0000`).

use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use crate::Error;

/// One JSON object of a response, with the response it belongs to and its path in it.
#[derive(Debug, Clone)]
pub(crate) struct Object<'a> {
    /// What the response is, e.g. `order 1042`.
    what: &'a str,
    /// Where this object sits, e.g. `consignments.shipping[0]`; empty at the top.
    path: String,
    fields: &'a Map<String, Value>,
}

/// An error about `field` of the response `what`.
pub(crate) fn field_error(what: &str, field: String, reason: &'static str) -> Error {
    Error::Field { what: what.to_owned(), field, reason }
}

impl<'a> Object<'a> {
    /// `value` as an object; `path` names it in errors.
    pub(crate) fn new(value: &'a Value, what: &'a str, path: impl Into<String>) -> Result<Object<'a>, Error> {
        let path = path.into();
        match value {
            Value::Object(fields) => Ok(Object { what, path, fields }),
            _ => Err(field_error(what, display_path(&path), "is not a JSON object")),
        }
    }

    /// The full path of one of this object's fields, for an error or a nested object.
    pub(crate) fn path_of(&self, name: &str) -> String {
        if self.path.is_empty() { name.to_owned() } else { format!("{}.{name}", self.path) }
    }

    /// A nested object.
    pub(crate) fn object(&self, name: &str) -> Result<Object<'a>, Error> {
        match self.get(name) {
            Some(value) => Object::new(value, self.what, self.path_of(name)),
            None => Err(self.error(name, "is missing")),
        }
    }

    /// An array of objects (absent or `null`: none).
    pub(crate) fn objects(&self, name: &str) -> Result<Vec<Object<'a>>, Error> {
        let path = self.path_of(name);
        self.array(name)?
            .iter()
            .enumerate()
            .map(|(index, item)| Object::new(item, self.what, format!("{path}[{index}]")))
            .collect()
    }

    fn error(&self, name: &str, reason: &'static str) -> Error {
        field_error(self.what, self.path_of(name), reason)
    }

    /// The field's value; `null` counts as absent.
    pub(crate) fn get(&self, name: &str) -> Option<&'a Value> {
        self.fields.get(name).filter(|value| !value.is_null())
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.fields.contains_key(name)
    }

    /// A required non-negative whole number, given as a number or a numeric string.
    pub(crate) fn u64(&self, name: &str) -> Result<u64, Error> {
        self.optional_u64(name)?.ok_or_else(|| self.error(name, "is missing"))
    }

    pub(crate) fn optional_u64(&self, name: &str) -> Result<Option<u64>, Error> {
        let Some(value) = self.get(name) else { return Ok(None) };
        let parsed = match value {
            Value::Number(number) => number.as_u64(),
            Value::String(text) if text.trim().is_empty() => return Ok(None),
            Value::String(text) => text.trim().parse::<u64>().ok(),
            _ => None,
        };
        parsed.map(Some).ok_or_else(|| self.error(name, "is not a non-negative whole number"))
    }

    /// A required whole number that may be negative, given as a number or a numeric string.
    pub(crate) fn i64(&self, name: &str) -> Result<i64, Error> {
        let parsed = match self.get(name) {
            None => return Err(self.error(name, "is missing")),
            Some(Value::Number(number)) => number.as_i64(),
            Some(Value::String(text)) => text.trim().parse::<i64>().ok(),
            Some(_) => None,
        };
        parsed.ok_or_else(|| self.error(name, "is not a whole number"))
    }

    pub(crate) fn u32(&self, name: &str) -> Result<u32, Error> {
        u32::try_from(self.u64(name)?).map_err(|_| self.error(name, "is out of range"))
    }

    /// An optional reference id where BigCommerce writes 0 for "none" (`variant_id`, `order_address_id`).
    pub(crate) fn reference(&self, name: &str) -> Result<Option<u64>, Error> {
        Ok(self.optional_u64(name)?.filter(|id| *id != 0))
    }

    /// Text that may be absent or `null` (then empty); a number is taken as its digits (a zip code).
    pub(crate) fn text(&self, name: &str) -> Result<String, Error> {
        match self.get(name) {
            None => Ok(String::new()),
            Some(Value::String(text)) => Ok(text.clone()),
            Some(Value::Number(number)) => Ok(number.to_string()),
            Some(_) => Err(self.error(name, "is not text")),
        }
    }

    /// Text that must be there and not empty.
    pub(crate) fn required_text(&self, name: &str) -> Result<String, Error> {
        let text = self.text(name)?;
        if text.trim().is_empty() { Err(self.error(name, "is missing or empty")) } else { Ok(text) }
    }

    /// Text where an empty string means "none".
    pub(crate) fn optional_text(&self, name: &str) -> Result<Option<String>, Error> {
        let text = self.text(name)?;
        Ok(if text.trim().is_empty() { None } else { Some(text) })
    }

    /// Money or a quantity, exactly: a decimal string or a number, parsed from its text.
    pub(crate) fn decimal(&self, name: &str) -> Result<Decimal, Error> {
        let text = match self.get(name) {
            None => return Err(self.error(name, "is missing")),
            Some(Value::String(text)) => text.trim().to_owned(),
            Some(Value::Number(number)) => number.to_string(),
            Some(_) => return Err(self.error(name, "is not a decimal number")),
        };
        Decimal::from_str(&text)
            .or_else(|_| Decimal::from_scientific(&text))
            .map_err(|_| self.error(name, "is not a decimal number"))
    }

    /// An RFC-2822 date, as v2 sends them (always UTC in practice; any offset is converted).
    pub(crate) fn date(&self, name: &str) -> Result<DateTime<Utc>, Error> {
        match self.get(name) {
            Some(Value::String(text)) => DateTime::parse_from_rfc2822(text.trim())
                .map(|date| date.with_timezone(&Utc))
                .map_err(|_| self.error(name, "is not an RFC-2822 date")),
            Some(_) => Err(self.error(name, "is not an RFC-2822 date")),
            None => Err(self.error(name, "is missing")),
        }
    }

    pub(crate) fn bool(&self, name: &str) -> Result<bool, Error> {
        match self.get(name) {
            Some(Value::Bool(flag)) => Ok(*flag),
            Some(_) => Err(self.error(name, "is not true or false")),
            None => Err(self.error(name, "is missing")),
        }
    }

    /// An array field (absent or `null`: empty).
    pub(crate) fn array(&self, name: &str) -> Result<&'a [Value], Error> {
        match self.get(name) {
            None => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(_) => Err(self.error(name, "is not an array")),
        }
    }

    /// A string-to-string map (a hook's `headers`); absent or `null`: empty.
    pub(crate) fn string_map(&self, name: &str) -> Result<Vec<(String, String)>, Error> {
        match self.get(name) {
            None => Ok(Vec::new()),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(key, value)| match value {
                    Value::String(text) => Ok((key.clone(), text.clone())),
                    // The key is a header name, not a secret; the value is never shown.
                    _ => Err(field_error(self.what, format!("{}.{key}", self.path_of(name)), "is not text")),
                })
                .collect(),
            Some(_) => Err(self.error(name, "is not an object")),
        }
    }
}

fn display_path(path: &str) -> String {
    if path.is_empty() { "(the body)".to_owned() } else { path.to_owned() }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn read<T>(value: Value, read: impl FnOnce(&Object<'_>) -> Result<T, Error>) -> Result<T, Error> {
        let object = Object::new(&value, "order 7", "products[2]")?;
        read(&object)
    }

    #[test]
    fn ids_come_as_numbers_or_numeric_strings() {
        assert_eq!(read(json!({"id": 42}), |o| o.u64("id")).unwrap(), 42);
        assert_eq!(read(json!({"id": "42"}), |o| o.u64("id")).unwrap(), 42);
        assert_eq!(read(json!({"id": 0}), |o| o.reference("id")).unwrap(), None);
        let error = read(json!({"id": -1}), |o| o.u64("id")).unwrap_err();
        assert_eq!(error.to_string(), "BigCommerce order 7: `products[2].id` is not a non-negative whole number");
    }

    #[test]
    fn levels_are_whole_numbers_that_may_be_negative() {
        assert_eq!(read(json!({"n": -3}), |o| o.i64("n")).unwrap(), -3);
        assert_eq!(read(json!({"n": "12"}), |o| o.i64("n")).unwrap(), 12);
        assert!(read(json!({"n": 1.5}), |o| o.i64("n")).is_err());
        assert!(read(json!({}), |o| o.i64("n")).is_err());
    }

    #[test]
    fn money_keeps_its_exact_digits_from_strings_and_numbers() {
        assert_eq!(read(json!({"p": "0.4500"}), |o| o.decimal("p")).unwrap().to_string(), "0.4500");
        assert_eq!(read(json!({"p": 0.45}), |o| o.decimal("p")).unwrap().to_string(), "0.45");
        assert_eq!(read(json!({"p": 3}), |o| o.decimal("p")).unwrap(), Decimal::from(3));
    }

    #[test]
    fn a_bad_field_is_named_without_its_value() {
        let error = read(json!({"price_ex_tax": "12,50 EUR"}), |o| o.decimal("price_ex_tax")).unwrap_err();
        let shown = error.to_string();
        assert_eq!(shown, "BigCommerce order 7: `products[2].price_ex_tax` is not a decimal number");
        assert!(!shown.contains("12,50"));
        let headers = read(json!({"headers": {"X-Auth": 12345}}), |o| o.string_map("headers")).unwrap_err();
        assert!(!headers.to_string().contains("12345"), "{headers}");
    }

    #[test]
    fn dates_are_rfc2822_and_end_up_in_utc() {
        let date = read(json!({"d": "Tue, 05 Mar 2019 21:40:11 +0000"}), |o| o.date("d")).unwrap();
        assert_eq!(date.to_rfc3339(), "2019-03-05T21:40:11+00:00");
        assert!(read(json!({"d": "2019-03-05T21:40:11Z"}), |o| o.date("d")).is_err());
    }
}
