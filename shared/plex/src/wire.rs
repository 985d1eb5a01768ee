//! Plex's value formats: date-times and numbers as they travel.
//!
//! Dates are `YYYY-MM-DDThh:mm[:ss[.f{0,7}]]Z`, always UTC; seconds are optional and responses mix
//! 0 to 7 fractional digits; a date-only value is refused (Plex notes §2.1). Numbers are JSON
//! doubles on Connect; the domain's decimals are converted at the edge, through their shortest
//! decimal text so `0.45` stays `0.45`.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveTime, SecondsFormat, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::Value;

/// An instant as Plex takes it: UTC, whole seconds, `Z`.
pub(crate) fn datetime(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A calendar day as the Plex date-time at its start (a due date has no time of day, and Plex
/// refuses date-only values).
pub(crate) fn day(date: NaiveDate) -> String {
    datetime(date.and_time(NaiveTime::MIN).and_utc())
}

/// Reads a Plex date-time: seconds optional, any number of fractional digits.
pub(crate) fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    let full = match text.len() {
        // `YYYY-MM-DDThh:mmZ`: RFC 3339 needs the seconds.
        17 if text.ends_with('Z') => format!("{}:00Z", &text[..16]),
        _ => text.to_owned(),
    };
    DateTime::parse_from_rfc3339(&full).ok().map(|instant| instant.with_timezone(&Utc))
}

/// A decimal as the JSON number Plex's double fields take.
pub(crate) fn number(value: Decimal) -> Value {
    value.to_f64().map_or(Value::Null, Value::from)
}

/// A double read from Plex as a decimal, through its shortest text.
pub(crate) fn decimal(value: f64) -> Option<Decimal> {
    Decimal::from_str(&value.to_string()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_times_are_read_with_or_without_seconds_and_with_any_fraction() {
        let expected = DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(parse_datetime("2026-11-24T10:00Z"), Some(expected));
        assert_eq!(parse_datetime("2026-11-24T10:00:00.0000000Z"), Some(expected));
        assert!(parse_datetime("2026-11-24T10:00:00.06Z").is_some());
        assert_eq!(parse_datetime("2026-11-24"), None);
    }

    #[test]
    fn days_and_instants_are_written_in_plex_format() {
        assert_eq!(day(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()), "2026-12-01T00:00:00Z");
        let instant = DateTime::parse_from_rfc3339("2026-11-24T10:00:00.123Z").unwrap().with_timezone(&Utc);
        assert_eq!(datetime(instant), "2026-11-24T10:00:00Z");
    }

    #[test]
    fn decimals_cross_the_wire_without_binary_noise() {
        let price = Decimal::from_str("0.45").unwrap();
        assert_eq!(number(price).to_string(), "0.45");
        assert_eq!(decimal(0.45), Some(price));
        assert_eq!(decimal(12.5), Some(Decimal::from_str("12.5").unwrap()));
    }
}
