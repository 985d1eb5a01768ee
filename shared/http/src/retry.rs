//! The retry loop and its policy: bounded attempts inside a deadline, capped exponential backoff
//! with full jitter, and the server's own wait when it gave one.
//!
//! Shaped like matklad's "Retry Loop" (STYLE.md §5): a bounded `for`, no sleep after the last
//! attempt, and the error returned is the last real one. Only transient and rate-limited failures
//! are retried; auth, permission and data failures return at once.
//!
//! The deadline keeps the whole budget inside a Lambda invocation. A wait that would not fit
//! (a 60 s monday.com complexity reset, a BigCommerce quota window) ends the loop early with that
//! error, whose [`HttpError::retry_after`] lets the SQS worker hand the wait to SQS (visibility
//! timeout) rather than sleep through it.

use std::future::Future;
use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

use crate::HttpError;

/// How often and how long to retry one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included; at least one is always made.
    pub max_attempts: u32,
    /// The backoff ceiling after the first failure; it doubles after each further one.
    pub base_delay: Duration,
    /// The backoff ceiling never grows past this.
    pub max_delay: Duration,
    /// No attempt starts, and no wait is begun, past this long after the first attempt started.
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    /// 4 attempts, 200 ms doubling to at most 10 s, all within 25 s: room for a few quick retries
    /// inside a 30 s Lambda timeout, with the rest left to SQS redelivery.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            deadline: Duration::from_secs(25),
        }
    }
}

impl RetryPolicy {
    /// The upper bound of the backoff after the `attempt`-th failure (1-based):
    /// `min(max_delay, base_delay × 2^(attempt−1))`.
    pub fn ceiling_for(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1);
        let factor = 1u32.checked_shl(doublings).unwrap_or(u32::MAX);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// The wait after the `attempt`-th failure (1-based) when the server named none: "full
    /// jitter", uniform in `[0, ceiling_for(attempt)]`, which spreads many clients that failed
    /// together better than any fixed schedule (AWS Architecture Blog, "Exponential Backoff And
    /// Jitter").
    pub fn delay_for(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        let ceiling = u64::try_from(self.ceiling_for(attempt).as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rng.random_range(0..=ceiling))
    }
}

/// What the retry loop tells each attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// 1 for the first attempt.
    pub number: u32,
    /// Time left before the deadline; an attempt should not outlive it (the [`ApiClient`]
    /// shortens its request timeout to fit).
    ///
    /// [`ApiClient`]: crate::ApiClient
    pub remaining: Duration,
}

/// Runs `call` until it succeeds, fails in a way a retry cannot fix, runs out of attempts, or the
/// next wait would pass the deadline. Returns the last error, with its attempt count set.
pub async fn retry<T, F, Fut>(policy: &RetryPolicy, mut call: F) -> Result<T, HttpError>
where
    F: FnMut(Attempt) -> Fut,
    Fut: Future<Output = Result<T, HttpError>>,
{
    let started = Instant::now();
    let remaining = || policy.deadline.saturating_sub(started.elapsed());
    let max_attempts = policy.max_attempts.max(1);
    for number in 1..max_attempts {
        let error = match call(Attempt { number, remaining: remaining() }).await {
            Ok(value) => return Ok(value),
            Err(error) => error.with_attempts(number),
        };
        if !error.is_retryable() {
            return Err(error);
        }
        // A fresh generator each time: `ThreadRng` is not `Send`, and holding it across the
        // sleep would make every caller's future `!Send`.
        let delay = error.retry_after().unwrap_or_else(|| policy.delay_for(number, &mut rand::rng()));
        let left = remaining();
        // A request the pacer held back was judged against the deadline already: sleeping the
        // hold here would only send it with too little time left.
        if delay >= left || error.was_held() {
            tracing::warn!(
                api = %error.api(),
                method = error.method().map(|method| method.as_str()),
                path = error.path(),
                attempt = number,
                class = %error.class(),
                status = error.status().map(|status| status.as_u16()),
                wait_ms = millis(delay),
                left_ms = millis(left),
                "not retrying: the wait would pass the deadline or leave the request too little time"
            );
            return Err(error);
        }
        tracing::warn!(
            api = %error.api(),
            method = error.method().map(|method| method.as_str()),
            path = error.path(),
            attempt = number,
            class = %error.class(),
            status = error.status().map(|status| status.as_u16()),
            code = error.code(),
            wait_ms = millis(delay),
            server_wait = error.retry_after().is_some(),
            "request failed, will retry"
        );
        tokio::time::sleep(delay).await;
    }
    call(Attempt { number: max_attempts, remaining: remaining() })
        .await
        .map_err(|error| error.with_attempts(max_attempts))
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use domain::ErrorClass;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            deadline: Duration::from_secs(10),
        }
    }

    #[test]
    fn backoff_ceilings_double_from_the_base_and_stop_at_the_cap() {
        let policy = policy();
        let ceilings: Vec<u128> = (1..=6).map(|attempt| policy.ceiling_for(attempt).as_millis()).collect();
        assert_eq!(ceilings, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(policy.ceiling_for(u32::MAX), Duration::from_secs(1), "huge attempt numbers do not overflow");
    }

    #[test]
    fn jittered_delays_stay_between_zero_and_the_ceiling_and_spread_out() {
        let policy = policy();
        let mut rng = StdRng::seed_from_u64(7);
        for attempt in 1..=8 {
            let ceiling = policy.ceiling_for(attempt);
            let delays: Vec<Duration> = (0..500).map(|_| policy.delay_for(attempt, &mut rng)).collect();
            assert!(delays.iter().all(|delay| *delay <= ceiling), "attempt {attempt}: above {ceiling:?}");
            // Full jitter: the draws cover the range instead of clustering near the ceiling.
            assert!(delays.iter().any(|delay| *delay < ceiling / 4), "attempt {attempt}: nothing low");
            assert!(delays.iter().any(|delay| *delay > ceiling * 3 / 4), "attempt {attempt}: nothing high");
        }
    }

    /// A call that fails with `failures` in order, then succeeds; counts its calls.
    fn scripted(
        failures: Vec<HttpError>,
        calls: &AtomicU32,
    ) -> impl FnMut(Attempt) -> std::future::Ready<Result<&'static str, HttpError>> + '_ {
        let mut failures = failures.into_iter();
        move |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            std::future::ready(match failures.next() {
                Some(error) => Err(error),
                None => Ok("done"),
            })
        }
    }

    fn transient() -> HttpError {
        HttpError::synthetic(ErrorClass::Transient, None)
    }

    fn rate_limited(wait: Duration) -> HttpError {
        HttpError::synthetic(ErrorClass::RateLimited, Some(wait))
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_retried_until_success_within_the_backoff_ceilings() {
        let calls = AtomicU32::new(0);
        let started = Instant::now();
        let outcome = retry(&policy(), scripted(vec![transient(), transient()], &calls)).await;
        assert_eq!(outcome.expect("success on the third attempt"), "done");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert!(started.elapsed() <= Duration::from_millis(100 + 200), "{:?}", started.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn server_given_waits_are_honoured_exactly() {
        let calls = AtomicU32::new(0);
        let started = Instant::now();
        let waits = vec![rate_limited(Duration::from_millis(1500)), rate_limited(Duration::from_secs(2))];
        let outcome = retry(&policy(), scripted(waits, &calls)).await;
        assert!(outcome.is_ok());
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(started.elapsed(), Duration::from_millis(3500));
    }

    #[tokio::test(start_paused = true)]
    async fn the_last_error_is_returned_after_the_last_attempt_without_a_trailing_sleep() {
        let calls = AtomicU32::new(0);
        let started = Instant::now();
        let second = Duration::from_secs(1);
        let failures = vec![rate_limited(second), rate_limited(second), rate_limited(second), transient()];
        let error = retry(&policy(), scripted(failures, &calls)).await.expect_err("out of attempts");
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        assert_eq!(error.attempts(), 4);
        assert_eq!(error.class(), ErrorClass::Transient, "the last error, not the first");
        assert_eq!(started.elapsed(), Duration::from_secs(3), "three waits between four attempts, none after");
    }

    #[tokio::test(start_paused = true)]
    async fn auth_permission_and_data_errors_are_never_retried() {
        for class in [ErrorClass::Auth, ErrorClass::Permission, ErrorClass::Data] {
            let calls = AtomicU32::new(0);
            let started = Instant::now();
            let failures = vec![HttpError::synthetic(class, Some(Duration::from_secs(1)))];
            let error = retry(&policy(), scripted(failures, &calls)).await.expect_err("a permanent failure");
            assert_eq!(calls.load(Ordering::SeqCst), 1, "{class}");
            assert_eq!(error.class(), class);
            assert_eq!(error.attempts(), 1);
            assert_eq!(started.elapsed(), Duration::ZERO);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_server_wait_longer_than_the_deadline_stops_retrying_and_returns_that_wait() {
        let calls = AtomicU32::new(0);
        let started = Instant::now();
        let failures = vec![rate_limited(Duration::from_secs(60))];
        let error = retry(&policy(), scripted(failures, &calls)).await.expect_err("handed back");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(error.retry_after(), Some(Duration::from_secs(60)), "the SQS worker reads this");
        assert_eq!(started.elapsed(), Duration::ZERO, "no sleep when the wait cannot fit");
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_counts_time_spent_in_attempts_too() {
        // Each attempt takes 4 s of (virtual) time and asks for a 1 s wait: after two attempts
        // (4 + 1 + 4 = 9 s) a further 1 s wait would end at the 10 s deadline, so the loop stops.
        let calls = AtomicU32::new(0);
        let started = Instant::now();
        let error = retry(&policy(), |attempt: Attempt| {
            calls.fetch_add(1, Ordering::SeqCst);
            async move {
                tokio::time::sleep(Duration::from_secs(4)).await;
                Err::<(), _>(
                    HttpError::synthetic(ErrorClass::RateLimited, Some(Duration::from_secs(1)))
                        .with_attempts(attempt.number),
                )
            }
        })
        .await
        .expect_err("deadline");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(error.attempts(), 2);
        assert_eq!(started.elapsed(), Duration::from_secs(9));
    }

    #[tokio::test(start_paused = true)]
    async fn each_attempt_learns_its_number_and_the_time_left() {
        let seen = std::sync::Mutex::new(Vec::new());
        let outcome = retry(&policy(), |attempt: Attempt| {
            seen.lock().expect("lock").push(attempt);
            std::future::ready(if attempt.number < 2 { Err(rate_limited(Duration::from_secs(3))) } else { Ok(()) })
        })
        .await;
        assert!(outcome.is_ok());
        let seen = seen.into_inner().expect("lock");
        assert_eq!(
            seen,
            vec![
                Attempt { number: 1, remaining: Duration::from_secs(10) },
                Attempt { number: 2, remaining: Duration::from_secs(7) }
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_policy_of_zero_attempts_still_makes_one() {
        let calls = AtomicU32::new(0);
        let policy = RetryPolicy { max_attempts: 0, ..policy() };
        let error = retry(&policy, scripted(vec![transient()], &calls)).await.expect_err("one failed attempt");
        assert_eq!((calls.load(Ordering::SeqCst), error.attempts()), (1, 1));
    }
}
