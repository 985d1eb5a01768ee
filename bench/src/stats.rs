//! The arithmetic behind the figures: percentiles of latency samples, the shortest drain a rate
//! limit allows, the fewest page reads of a list, and ratios against goals. Pure, so it is
//! unit-tested and the table cannot lie quietly when the scenarios change.

use std::time::Duration;

/// Latency samples, kept sorted so percentiles are look-ups.
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    sorted: Vec<Duration>,
}

impl Latencies {
    pub fn new(mut samples: Vec<Duration>) -> Latencies {
        samples.sort_unstable();
        Latencies { sorted: samples }
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// The nearest-rank percentile (`p` in 0..=100): the smallest sample with at least `p` % of the
    /// samples at or below it. Nearest-rank never interpolates, so every figure is a latency that
    /// was actually observed; `None` without samples.
    pub fn percentile(&self, p: f64) -> Option<Duration> {
        if self.sorted.is_empty() {
            return None;
        }
        let n = self.sorted.len();
        let rank = ((p.clamp(0.0, 100.0) / 100.0) * n as f64).ceil() as usize;
        Some(self.sorted[rank.clamp(1, n) - 1])
    }
}

/// The shortest time in which `calls` requests fit a limit of `limit` per `window`, counted from
/// the first request: the k-th request (from 0) cannot start before `floor(k / limit)` windows
/// have passed, whether the server counts a rolling window (Plex) or a fixed one that opens at the
/// first request (BigCommerce). The last request's own duration is not included.
pub fn drain_bound(calls: u64, limit: u64, window: Duration) -> Duration {
    if calls == 0 || limit == 0 {
        return Duration::ZERO;
    }
    let full_windows = (calls - 1) / limit;
    window.saturating_mul(u32::try_from(full_windows).unwrap_or(u32::MAX))
}

/// The fewest page reads that list `items` records `page_size` at a time and know the list has
/// ended: every page full but the last, which is short, or empty when `items` is a multiple of
/// `page_size` (a full page cannot tell the reader that nothing follows). `floor(items / page_size)
/// + 1`; 600 orders at 250 a page are 3 reads, 500 are 3 too (250, 250, then an empty page).
pub fn page_reads(items: u64, page_size: u64) -> u64 {
    items.checked_div(page_size).unwrap_or(0) + 1
}

/// `better / worse` as a fraction where 1.0 means the goal was met exactly: a goal of 1 call per
/// order against 1.25 measured is 0.8. `None` when the measured value is zero or not finite.
pub fn ratio(goal: f64, measured: f64) -> Option<f64> {
    (measured.is_finite() && measured > 0.0 && goal.is_finite()).then(|| goal / measured)
}

/// Milliseconds with enough digits to compare runs: three decimals under 1 ms, two under 10 ms,
/// one above.
pub fn millis(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1000.0;
    if ms < 1.0 {
        format!("{ms:.3}")
    } else if ms < 10.0 {
        format!("{ms:.2}")
    } else {
        format!("{ms:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Latencies {
        Latencies::new(values.iter().map(|v| Duration::from_millis(*v)).collect())
    }

    #[test]
    fn percentiles_are_nearest_rank_samples() {
        let samples = ms(&[5, 1, 4, 2, 3, 10, 9, 8, 7, 6]);
        assert_eq!(samples.percentile(50.0), Some(Duration::from_millis(5)));
        assert_eq!(samples.percentile(95.0), Some(Duration::from_millis(10)));
        assert_eq!(samples.percentile(99.0), Some(Duration::from_millis(10)));
        assert_eq!(samples.percentile(0.0), Some(Duration::from_millis(1)));
        assert_eq!(samples.percentile(100.0), Some(Duration::from_millis(10)));
    }

    #[test]
    fn the_p99_of_two_thousand_samples_is_the_1980th() {
        let samples = Latencies::new((1..=2000).map(Duration::from_micros).collect());
        assert_eq!(samples.percentile(99.0), Some(Duration::from_micros(1980)));
        assert_eq!(samples.percentile(50.0), Some(Duration::from_micros(1000)));
    }

    #[test]
    fn no_samples_no_percentile() {
        assert_eq!(Latencies::default().percentile(50.0), None);
        assert_eq!(ms(&[7]).percentile(99.0), Some(Duration::from_millis(7)));
    }

    #[test]
    fn a_limit_of_two_hundred_per_minute_fits_two_hundred_calls_at_once_and_the_next_a_minute_later() {
        let minute = Duration::from_secs(60);
        assert_eq!(drain_bound(200, 200, minute), Duration::ZERO);
        assert_eq!(drain_bound(201, 200, minute), minute);
        assert_eq!(drain_bound(14_000, 200, minute), minute * 69);
        assert_eq!(drain_bound(0, 200, minute), Duration::ZERO);
    }

    #[test]
    fn a_page_list_ends_on_a_short_or_empty_page() {
        assert_eq!(page_reads(600, 250), 3);
        assert_eq!(page_reads(300, 250), 2);
        assert_eq!(page_reads(500, 250), 3, "two full pages, then an empty one");
        assert_eq!(page_reads(249, 250), 1);
        assert_eq!(page_reads(250, 250), 2);
        assert_eq!(page_reads(0, 250), 1, "one empty page says there is nothing");
    }

    #[test]
    fn ratios_compare_goal_to_measurement() {
        assert_eq!(ratio(1.0, 1.0), Some(1.0));
        assert_eq!(ratio(1.0, 1.25), Some(0.8));
        assert_eq!(ratio(59.0, 0.0), None);
    }

    #[test]
    fn milliseconds_keep_three_significant_digits() {
        assert_eq!(millis(Duration::from_micros(42)), "0.042");
        assert_eq!(millis(Duration::from_micros(4_250)), "4.25");
        assert_eq!(millis(Duration::from_micros(61_240)), "61.2");
    }
}
