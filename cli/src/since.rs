//! `--since`: where a look back into the audit trail starts, as an age (`90m`, `24h`, `7d`) or a
//! point in time (RFC 3339, or a date meaning midnight UTC).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, NaiveDate, Utc};

/// A parsed `--since` value; [`Since::resolve`] turns it into a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// This long before now.
    Ago(Duration),
    At(DateTime<Utc>),
}

impl Since {
    pub fn resolve(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Since::Ago(age) => now.checked_sub_signed(age).unwrap_or(DateTime::<Utc>::MIN_UTC),
            Since::At(at) => at,
        }
    }
}

/// Why a `--since` value was refused; the message shows the accepted forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not an age (30m, 24h, 7d) or a time (2026-11-24, 2026-11-24T10:00:00Z)")]
pub struct InvalidSince {
    value: String,
}

impl FromStr for Since {
    type Err = InvalidSince;

    fn from_str(text: &str) -> Result<Since, InvalidSince> {
        let text = text.trim();
        let invalid = || InvalidSince { value: text.to_owned() };
        if let Ok(at) = DateTime::parse_from_rfc3339(text) {
            return Ok(Since::At(at.with_timezone(&Utc)));
        }
        if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            return Ok(Since::At(date.and_hms_opt(0, 0, 0).ok_or_else(invalid)?.and_utc()));
        }
        let unit_at =
            text.len().checked_sub(1).filter(|&at| at > 0 && text.is_char_boundary(at)).ok_or_else(invalid)?;
        let (number, unit) = text.split_at(unit_at);
        let amount: i64 = number.parse().ok().filter(|amount| *amount >= 0).ok_or_else(invalid)?;
        let age = match unit {
            "s" => Duration::try_seconds(amount),
            "m" => Duration::try_minutes(amount),
            "h" => Duration::try_hours(amount),
            "d" => Duration::try_days(amount),
            _ => None,
        };
        age.map(Since::Ago).ok_or_else(invalid)
    }
}

impl fmt::Display for Since {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Since::Ago(age) if age.num_seconds() % 86_400 == 0 => write!(f, "{}d", age.num_days()),
            Since::Ago(age) if age.num_seconds() % 3_600 == 0 => write!(f, "{}h", age.num_hours()),
            Since::Ago(age) if age.num_seconds() % 60 == 0 => write!(f, "{}m", age.num_minutes()),
            Since::Ago(age) => write!(f, "{}s", age.num_seconds()),
            Since::At(at) => f.write_str(&at.to_rfc3339()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[track_caller]
    fn check(input: &str, expected: &str) {
        let now = at("2026-11-24T12:00:00Z");
        let since: Since = input.parse().unwrap_or_else(|error| panic!("{input}: {error}"));
        assert_eq!(since.resolve(now), at(expected), "{input}");
    }

    #[test]
    fn ages_count_back_from_now() {
        check("90s", "2026-11-24T11:58:30Z");
        check("30m", "2026-11-24T11:30:00Z");
        check("24h", "2026-11-23T12:00:00Z");
        check("7d", "2026-11-17T12:00:00Z");
        check("0h", "2026-11-24T12:00:00Z");
    }

    #[test]
    fn times_and_dates_are_taken_as_they_are() {
        check("2026-11-20T08:15:00Z", "2026-11-20T08:15:00Z");
        check("2026-11-20T09:15:00+01:00", "2026-11-20T08:15:00Z");
        check("2026-11-20", "2026-11-20T00:00:00Z");
        check(" 24h ", "2026-11-23T12:00:00Z");
    }

    #[test]
    fn anything_else_is_refused_with_the_accepted_forms() {
        for input in ["", "h", "24", "-1h", "24x", "1.5h", "yesterday", "2026-13-01", "é", "24hh"] {
            let error = input.parse::<Since>().expect_err(input);
            assert!(error.to_string().contains("30m, 24h, 7d"), "{error}");
        }
    }

    #[test]
    fn ages_print_in_their_largest_whole_unit() {
        for text in ["7d", "36h", "90m", "45s"] {
            assert_eq!(text.parse::<Since>().unwrap().to_string(), text);
        }
    }
}
