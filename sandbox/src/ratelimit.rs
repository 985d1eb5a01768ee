//! Rate-limit bookkeeping shared by the doubles, free of I/O so it can be tested on its own.
//!
//! Two shapes cover the three APIs:
//! - [`FixedWindow`]: a quota that refreshes a fixed time after the first call of a window.
//!   BigCommerce counts requests per store this way (150 per 30 s, with `X-Rate-Limit-*` headers),
//!   and monday.com counts requests and complexity points per minute "from the first call".
//! - [`RollingWindow`]: at most N calls in any trailing window; Plex's "200 calls per minute per key".
//!
//! Limits and window sizes are passed on every call rather than stored, so a `/__control/config`
//! change applies to the very next request without rebuilding any state. Times are milliseconds
//! from the double's settable clock.

use std::collections::VecDeque;

use serde::Serialize;

/// Usage of one fixed window; the limit and the window length come from the caller.
#[derive(Debug, Default, Clone, Serialize)]
pub(crate) struct FixedWindow {
    started_at_ms: Option<i64>,
    used: u64,
}

/// The outcome of charging a [`FixedWindow`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WindowCharge {
    /// Whether the charge fitted in what was left.
    pub allowed: bool,
    /// What was left before this charge.
    pub before: u64,
    /// What is left now (unchanged when the charge was refused).
    pub left: u64,
    /// Milliseconds until the window refreshes.
    pub reset_in_ms: i64,
}

impl FixedWindow {
    /// Starts a new window when none is open, the open one has ended, or the clock went back.
    fn roll(&mut self, now_ms: i64, window_ms: i64) -> i64 {
        match self.started_at_ms {
            Some(start) if now_ms >= start && now_ms < start + window_ms => start,
            _ => {
                self.started_at_ms = Some(now_ms);
                self.used = 0;
                now_ms
            }
        }
    }

    /// Spends `amount` from a window of `limit` units if it fits.
    pub(crate) fn charge(&mut self, now_ms: i64, limit: u64, window_ms: i64, amount: u64) -> WindowCharge {
        let start = self.roll(now_ms, window_ms);
        let before = limit.saturating_sub(self.used);
        let reset_in_ms = start + window_ms - now_ms;
        if amount > before {
            return WindowCharge { allowed: false, before, left: before, reset_in_ms };
        }
        self.used += amount;
        WindowCharge { allowed: true, before, left: before - amount, reset_in_ms }
    }

    /// What is left and when it refreshes, without spending anything.
    pub(crate) fn peek(&self, now_ms: i64, limit: u64, window_ms: i64) -> (u64, i64) {
        match self.started_at_ms {
            Some(start) if now_ms >= start && now_ms < start + window_ms => {
                (limit.saturating_sub(self.used), start + window_ms - now_ms)
            }
            _ => (limit, window_ms),
        }
    }
}

/// Timestamps of the calls inside the trailing window.
#[derive(Debug, Default, Clone)]
pub(crate) struct RollingWindow {
    hits_ms: VecDeque<i64>,
}

/// The outcome of one call against a [`RollingWindow`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RollingCharge {
    Allowed {
        left: u64,
    },
    /// Refused; a slot frees up after this many milliseconds.
    Refused {
        retry_after_ms: i64,
    },
}

impl RollingWindow {
    pub(crate) fn charge(&mut self, now_ms: i64, limit: u64, window_ms: i64) -> RollingCharge {
        // Calls "from the future" (the clock was set back) are dropped with the expired ones.
        self.hits_ms.retain(|&hit| hit > now_ms - window_ms && hit <= now_ms);
        let used = self.hits_ms.len() as u64;
        if used < limit {
            self.hits_ms.push_back(now_ms);
            return RollingCharge::Allowed { left: limit - used - 1 };
        }
        let oldest = self.hits_ms.front().copied().unwrap_or(now_ms);
        RollingCharge::Refused { retry_after_ms: (oldest + window_ms - now_ms).max(1) }
    }

    pub(crate) fn used(&self, now_ms: i64, window_ms: i64) -> usize {
        self.hits_ms.iter().filter(|&&hit| hit > now_ms - window_ms && hit <= now_ms).count()
    }
}

/// Whole seconds for a header like `Retry-After`, rounded up so a client never retries early.
pub(crate) fn ceil_seconds(ms: i64) -> i64 {
    (ms.max(0) + 999) / 1000
}

/// Scales a default duration by the sandbox's time scale, keeping at least one millisecond.
pub(crate) fn scaled_ms(ms: f64, time_scale: f64) -> i64 {
    ((ms * time_scale).round() as i64).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_window_counts_down_refuses_then_refreshes() {
        let mut window = FixedWindow::default();
        let first = window.charge(1_000, 2, 100, 1);
        assert_eq!(first, WindowCharge { allowed: true, before: 2, left: 1, reset_in_ms: 100 });
        let second = window.charge(1_040, 2, 100, 1);
        assert_eq!(second, WindowCharge { allowed: true, before: 1, left: 0, reset_in_ms: 60 });
        let third = window.charge(1_050, 2, 100, 1);
        assert!(!third.allowed);
        assert_eq!(third.reset_in_ms, 50);
        let after_reset = window.charge(1_100, 2, 100, 1);
        assert!(after_reset.allowed);
        assert_eq!(after_reset.left, 1);
    }

    #[test]
    fn fixed_window_refuses_a_charge_larger_than_what_is_left() {
        let mut window = FixedWindow::default();
        assert!(window.charge(0, 10, 1_000, 7).allowed);
        let refused = window.charge(1, 10, 1_000, 4);
        assert_eq!((refused.allowed, refused.left), (false, 3));
        assert_eq!(window.peek(2, 10, 1_000), (3, 998));
    }

    #[test]
    fn rolling_window_frees_slots_as_old_calls_leave() {
        let mut window = RollingWindow::default();
        assert_eq!(window.charge(0, 2, 1_000), RollingCharge::Allowed { left: 1 });
        assert_eq!(window.charge(400, 2, 1_000), RollingCharge::Allowed { left: 0 });
        assert_eq!(window.charge(500, 2, 1_000), RollingCharge::Refused { retry_after_ms: 500 });
        assert_eq!(window.charge(1_000, 2, 1_000), RollingCharge::Allowed { left: 0 });
        assert_eq!(window.used(1_000, 1_000), 2);
    }

    #[test]
    fn seconds_round_up() {
        assert_eq!(ceil_seconds(1), 1);
        assert_eq!(ceil_seconds(1_000), 1);
        assert_eq!(ceil_seconds(1_001), 2);
        assert_eq!(ceil_seconds(-5), 0);
    }
}
