//! The settable clock each double reads instead of the system time.
//!
//! Timestamps in responses (`createdDate`, hook `created_at`, token expiry) and the rate-limit
//! windows all come from here, so a test can move time forward to expire a token or reset a window
//! without sleeping. The clock normally runs: `set` and `shift` change its offset from real time,
//! and `freeze` stops it at one instant until it is reset.

use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, Utc};

use crate::lock;

/// A clock that runs at real speed from an adjustable offset, or stands still when frozen.
#[derive(Debug, Default)]
pub(crate) struct Clock {
    state: Mutex<ClockState>,
}

#[derive(Debug, Default, Clone, Copy)]
struct ClockState {
    offset: TimeDelta,
    frozen_at: Option<DateTime<Utc>>,
}

impl Clock {
    pub(crate) fn now(&self) -> DateTime<Utc> {
        let state = *lock(&self.state);
        state.frozen_at.unwrap_or_else(|| Utc::now() + state.offset)
    }

    /// Milliseconds since the Unix epoch; what the rate limiters count in.
    pub(crate) fn now_ms(&self) -> i64 {
        self.now().timestamp_millis()
    }

    /// Makes `now()` return `instant` from this moment on (still running unless frozen).
    pub(crate) fn set(&self, instant: DateTime<Utc>) {
        let mut state = lock(&self.state);
        match state.frozen_at {
            Some(_) => state.frozen_at = Some(instant),
            None => state.offset = instant - Utc::now(),
        }
    }

    /// Sets the offset from real time outright (not cumulatively); unfreezes the clock.
    pub(crate) fn set_offset(&self, offset: TimeDelta) {
        *lock(&self.state) = ClockState { offset, frozen_at: None };
    }

    /// Moves the clock forward (or back, when negative) by `delta`.
    pub(crate) fn advance(&self, delta: TimeDelta) {
        let mut state = lock(&self.state);
        match state.frozen_at.as_mut() {
            Some(frozen_at) => *frozen_at += delta,
            None => state.offset += delta,
        }
    }

    /// Stops the clock at its current reading, or lets it run again from there.
    pub(crate) fn freeze(&self, frozen: bool) {
        let now = self.now();
        let mut state = lock(&self.state);
        match (frozen, state.frozen_at) {
            (true, None) => state.frozen_at = Some(now),
            (false, Some(frozen_at)) => {
                state.offset = frozen_at - Utc::now();
                state.frozen_at = None;
            }
            _ => {}
        }
    }

    pub(crate) fn reset(&self) {
        *lock(&self.state) = ClockState::default();
    }

    /// What `GET /__control/clock` shows.
    pub(crate) fn describe(&self) -> serde_json::Value {
        let state = *lock(&self.state);
        serde_json::json!({
            "now": self.now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "offset_ms": state.offset.num_milliseconds(),
            "frozen": state.frozen_at.is_some(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_moves_now_and_keeps_running() {
        let clock = Clock::default();
        let target = DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
        clock.set(target);
        let now = clock.now();
        assert!(now >= target && now - target < TimeDelta::seconds(5), "{now}");
    }

    #[test]
    fn frozen_clock_only_moves_when_advanced() {
        let clock = Clock::default();
        clock.freeze(true);
        let first = clock.now();
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(clock.now(), first);
        clock.advance(TimeDelta::seconds(90));
        assert_eq!(clock.now() - first, TimeDelta::seconds(90));
        clock.reset();
        assert!((clock.now() - Utc::now()).num_seconds().abs() < 5);
    }
}
