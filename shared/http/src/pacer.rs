//! [`Pacer`]: spends an API's rate budget before each request, so steady traffic does not meet a
//! 429 (DESIGN.md, "Rate budgets").
//!
//! - **BigCommerce** counts requests per store in fixed windows and says where we stand on every
//!   response (`X-Rate-Limit-Requests-Left`, `X-Rate-Limit-Time-Reset-Ms`). Once the requests
//!   left reach a small reserve, the next request waits for the window to reset. The quota is
//!   shared by every app on the store, so the reserve leaves them a little room.
//! - **Plex** sends no rate headers; it allows about 200 calls per minute per key. A local
//!   sliding window allows at most N request starts in any trailing 60 s (plus a 2 % guard, so a
//!   start at the window's edge never arrives inside the server's window).
//! - **monday.com** gets a per-client requests-per-minute window, and holds all requests when a
//!   `RateLimit` header reports a limit at `r=0` with a reset `t` (its notes, §4.1). Per-board
//!   pacing is a flow concern, not this one's.
//!
//! A `Pacer` is a cheap handle (`Clone` shares the budget), so every client of one connection and
//! API can draw from the same budget. Clocks are tokio's, so tests run in paused time.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use http::HeaderMap;
use tokio::time::Instant;

use crate::Api;
use crate::classify::{BIGCOMMERCE_REQUESTS_LEFT, BIGCOMMERCE_RESET_MS};

/// A shared rate budget for one API (and usually one connection).
#[derive(Debug, Clone)]
pub struct Pacer {
    state: Arc<Mutex<PacerState>>,
}

#[derive(Debug)]
struct PacerState {
    window: Option<SlidingWindow>,
    headers: HeaderRule,
    /// Nobody starts a request before this (a reset the server announced).
    hold_until: Option<Instant>,
}

/// Which response headers feed the budget.
#[derive(Debug)]
enum HeaderRule {
    None,
    BigCommerce { reserve: u64, budget: Option<WindowBudget> },
    Monday,
}

/// What BigCommerce last said about the current window, counted down locally between responses
/// so concurrent callers do not all spend the same "requests left".
#[derive(Debug, Clone, Copy)]
struct WindowBudget {
    left: u64,
    resets_at: Instant,
}

/// How much longer than its window a start is counted, as a fraction of the window (1/50, 2 %).
/// The server counts arrivals, which follow our starts by a few milliseconds that vary from
/// request to request: a start exactly one window after an earlier one that travelled slower can
/// arrive inside the server's window and meet a 429, whose wait (whole seconds) costs far more
/// than the guard does.
const EDGE_GUARD_DIVISOR: u32 = 50;

/// At most `limit` request starts in any trailing `window` (which includes the edge guard).
#[derive(Debug)]
struct SlidingWindow {
    limit: usize,
    window: Duration,
    starts: VecDeque<Instant>,
}

impl SlidingWindow {
    /// Records a start now and returns `None`, or returns when the oldest start leaves the window.
    fn try_start(&mut self, now: Instant) -> Option<Instant> {
        while self.starts.front().is_some_and(|start| *start + self.window <= now) {
            self.starts.pop_front();
        }
        if self.starts.len() < self.limit {
            self.starts.push_back(now);
            return None;
        }
        self.starts.front().map(|oldest| *oldest + self.window)
    }
}

impl Pacer {
    /// BigCommerce: at most 150 requests per 30 s on Standard and Plus plans; keep this many of
    /// the window's requests for the other apps on the store.
    pub const BIGCOMMERCE_DEFAULT_RESERVE: u64 = 2;
    /// Plex: "Most of the APIs … are limited to 200 calls per minute" (Plex notes §1).
    pub const PLEX_DEFAULT_CALLS_PER_MINUTE: u32 = 200;
    /// monday.com: the minute limit of the smallest paid plans (1,000 queries per minute; Pro
    /// 2,500, Enterprise 5,000). Lower it per connection for accounts on a smaller plan.
    pub const MONDAY_DEFAULT_REQUESTS_PER_MINUTE: u32 = 1_000;

    fn new(window: Option<SlidingWindow>, headers: HeaderRule) -> Pacer {
        Pacer { state: Arc::new(Mutex::new(PacerState { window, headers, hold_until: None })) }
    }

    /// The documented default budget of an API.
    pub fn for_api(api: Api) -> Pacer {
        match api {
            Api::BigCommerce => Pacer::bigcommerce(Self::BIGCOMMERCE_DEFAULT_RESERVE),
            Api::Plex => Pacer::plex(Self::PLEX_DEFAULT_CALLS_PER_MINUTE),
            Api::Monday => Pacer::monday(Self::MONDAY_DEFAULT_REQUESTS_PER_MINUTE),
        }
    }

    /// Paces from BigCommerce's `X-Rate-Limit-*` headers, waiting for the reset once `reserve`
    /// requests are left.
    pub fn bigcommerce(reserve: u64) -> Pacer {
        Pacer::new(None, HeaderRule::BigCommerce { reserve, budget: None })
    }

    /// At most `calls_per_minute` Plex calls in any trailing 60 s.
    pub fn plex(calls_per_minute: u32) -> Pacer {
        Pacer::calls_per_window(calls_per_minute, Duration::from_secs(60), HeaderRule::None)
    }

    /// At most `requests_per_minute` monday.com requests in any trailing 60 s, and none while a
    /// `RateLimit` header says a limit is used up.
    pub fn monday(requests_per_minute: u32) -> Pacer {
        Pacer::calls_per_window(requests_per_minute, Duration::from_secs(60), HeaderRule::Monday)
    }

    /// At most `limit` request starts in any trailing `window`, with no header rule: for tests and
    /// for APIs with an unusual quota.
    pub fn sliding_window(limit: u32, window: Duration) -> Pacer {
        Pacer::calls_per_window(limit, window, HeaderRule::None)
    }

    /// No pacing at all.
    pub fn unlimited() -> Pacer {
        Pacer::new(None, HeaderRule::None)
    }

    fn calls_per_window(limit: u32, window: Duration, headers: HeaderRule) -> Pacer {
        // A limit of 0 would block forever; one call per window is the least that makes progress.
        let limit = usize::try_from(limit.max(1)).unwrap_or(usize::MAX);
        let window = window + window / EDGE_GUARD_DIVISOR;
        Pacer::new(Some(SlidingWindow { limit, window, starts: VecDeque::new() }), headers)
    }

    fn lock(&self) -> MutexGuard<'_, PacerState> {
        // The state is a few counters that stay consistent at every step, so a panic elsewhere
        // while holding the lock leaves nothing half-done.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until the budget allows one more request, then spends it. Call right before sending.
    pub async fn ready(&self) {
        loop {
            let wait_until = self.lock().try_spend(Instant::now());
            match wait_until {
                None => return,
                Some(until) => tokio::time::sleep_until(until).await,
            }
        }
    }

    /// Like [`ready`](Pacer::ready), but gives up without spending anything when the budget
    /// would only allow the request `limit` or more from now; the error is the wait from now.
    pub async fn ready_within(&self, limit: Duration) -> Result<(), Duration> {
        let give_up_at = Instant::now() + limit;
        loop {
            let wait_until = self.lock().try_spend(Instant::now());
            match wait_until {
                None => return Ok(()),
                Some(until) if until >= give_up_at => return Err(until.saturating_duration_since(Instant::now())),
                Some(until) => tokio::time::sleep_until(until).await,
            }
        }
    }

    /// Learns from a response's headers (a 429's included) what the server says is left.
    pub fn observe(&self, headers: &HeaderMap) {
        self.lock().observe(headers, Instant::now());
    }
}

impl PacerState {
    /// Spends one request, or says until when to wait before asking again.
    fn try_spend(&mut self, now: Instant) -> Option<Instant> {
        if let Some(until) = self.hold_until {
            if now < until {
                return Some(until);
            }
            self.hold_until = None;
        }
        if let HeaderRule::BigCommerce { reserve, budget } = &mut self.headers
            && let Some(current) = budget
        {
            if now >= current.resets_at {
                // A new window: the server will tell us its numbers on the next response.
                *budget = None;
            } else if current.left <= *reserve {
                return Some(current.resets_at);
            }
        }
        if let Some(window) = &mut self.window
            && let Some(until) = window.try_start(now)
        {
            return Some(until);
        }
        if let HeaderRule::BigCommerce { budget: Some(current), .. } = &mut self.headers {
            current.left = current.left.saturating_sub(1);
        }
        None
    }

    fn observe(&mut self, headers: &HeaderMap, now: Instant) {
        match &mut self.headers {
            HeaderRule::None => {}
            HeaderRule::BigCommerce { budget, .. } => {
                let left = header_number(headers, BIGCOMMERCE_REQUESTS_LEFT);
                let reset_ms = header_number(headers, BIGCOMMERCE_RESET_MS);
                if let (Some(left), Some(reset_ms)) = (left, reset_ms) {
                    // The server computed the reset when the request arrived; counting it from
                    // now (after the response) can only make us wait a little longer, never less.
                    *budget = Some(WindowBudget { left, resets_at: now + Duration::from_millis(reset_ms) });
                }
            }
            HeaderRule::Monday => {
                if let Some(wait) =
                    headers.get("ratelimit").and_then(|value| value.to_str().ok()).and_then(exhausted_wait)
                {
                    let until = now + wait;
                    self.hold_until = Some(self.hold_until.map_or(until, |held| held.max(until)));
                }
            }
        }
    }
}

fn header_number(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// The longest reset among the limits a monday.com `RateLimit` header reports as used up, e.g.
/// `"minuteRate";r=0;t=12, "concurrency";r=3, "complexityMinute";r=9000;t=40` → 12 s. A limit at
/// `r=0` without `t` (concurrency) frees up when a request ends, so it gives no wait.
fn exhausted_wait(header: &str) -> Option<Duration> {
    header
        .split(',')
        .filter_map(|item| {
            let mut remaining = None;
            let mut reset = None;
            for parameter in item.split(';').skip(1) {
                let (key, value) = parameter.split_once('=')?;
                let value = value.trim().trim_matches('"');
                match key.trim() {
                    "r" => remaining = value.parse::<f64>().ok(),
                    "t" => reset = value.parse::<f64>().ok(),
                    _ => {}
                }
            }
            match (remaining, reset) {
                (Some(remaining), Some(reset)) if remaining <= 0.0 => Duration::try_from_secs_f64(reset).ok(),
                _ => None,
            }
        })
        .max()
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    /// A sliding window as the pacer counts it: the window and its edge guard.
    fn guarded(window: Duration) -> Duration {
        window + window / EDGE_GUARD_DIVISOR
    }

    #[tokio::test(start_paused = true)]
    async fn a_start_is_counted_for_its_window_and_a_guard_of_two_percent() {
        let pacer = Pacer::sliding_window(1, Duration::from_secs(10));
        pacer.ready().await;
        let started = Instant::now();
        pacer.ready().await;
        assert_eq!(started.elapsed(), Duration::from_millis(10_200), "not at 10 s, where a slower request lands");
    }

    fn bigcommerce_headers(left: u64, reset_ms: u64) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-rate-limit-requests-left", HeaderValue::from(left));
        headers.insert("x-rate-limit-time-reset-ms", HeaderValue::from(reset_ms));
        headers.insert("x-rate-limit-requests-quota", HeaderValue::from(150));
        headers
    }

    fn monday_headers(ratelimit: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("ratelimit", HeaderValue::from_static(ratelimit));
        headers
    }

    #[tokio::test(start_paused = true)]
    async fn bigcommerce_requests_flow_freely_while_the_window_has_room() {
        let pacer = Pacer::bigcommerce(2);
        let started = Instant::now();
        pacer.ready().await;
        pacer.observe(&bigcommerce_headers(100, 20_000));
        for _ in 0..50 {
            pacer.ready().await;
        }
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn bigcommerce_waits_for_the_reset_once_the_reserve_is_reached() {
        let pacer = Pacer::bigcommerce(2);
        let started = Instant::now();
        pacer.ready().await;
        pacer.observe(&bigcommerce_headers(2, 1_500));
        pacer.ready().await;
        assert_eq!(started.elapsed(), Duration::from_millis(1_500), "held until the window reset");
        // The new window is unknown until the next response, so the next request goes at once.
        pacer.ready().await;
        assert_eq!(started.elapsed(), Duration::from_millis(1_500));
    }

    #[tokio::test(start_paused = true)]
    async fn bigcommerce_counts_down_locally_between_responses() {
        // Four requests left with a reserve of two: two more may start before any response
        // arrives, the third must wait for the reset.
        let pacer = Pacer::bigcommerce(2);
        pacer.observe(&bigcommerce_headers(4, 800));
        let started = Instant::now();
        pacer.ready().await;
        pacer.ready().await;
        assert_eq!(started.elapsed(), Duration::ZERO);
        pacer.ready().await;
        assert_eq!(started.elapsed(), Duration::from_millis(800));
    }

    #[tokio::test(start_paused = true)]
    async fn a_bigcommerce_429_holds_every_clone_of_the_pacer() {
        let pacer = Pacer::bigcommerce(0);
        let shared = pacer.clone();
        pacer.observe(&bigcommerce_headers(0, 2_000));
        let started = Instant::now();
        shared.ready().await;
        assert_eq!(started.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn plex_limiter_spaces_the_201st_call_a_minute_after_the_first() {
        let pacer = Pacer::plex(200);
        let started = Instant::now();
        for _ in 0..200 {
            pacer.ready().await;
        }
        assert_eq!(started.elapsed(), Duration::ZERO, "200 calls fit in the minute");
        pacer.ready().await;
        assert_eq!(started.elapsed(), guarded(Duration::from_secs(60)), "the 201st waits for the first to age out");
    }

    #[tokio::test(start_paused = true)]
    async fn a_sliding_window_frees_one_slot_per_aged_out_call() {
        let pacer = Pacer::sliding_window(2, Duration::from_secs(10));
        let started = Instant::now();
        pacer.ready().await;
        tokio::time::advance(Duration::from_secs(4)).await;
        pacer.ready().await;
        pacer.ready().await; // waits until the first call is 10 s old (and the guard)
        assert_eq!(started.elapsed(), guarded(Duration::from_secs(10)));
        pacer.ready().await; // and this one until the second is
        assert_eq!(started.elapsed(), Duration::from_secs(4) + guarded(Duration::from_secs(10)));
    }

    #[tokio::test(start_paused = true)]
    async fn monday_holds_requests_while_a_ratelimit_header_reports_zero_left() {
        let pacer = Pacer::monday(1_000);
        let started = Instant::now();
        pacer
            .observe(&monday_headers(r#""minuteRate";r=4999;t=60, "concurrency";r=249, "complexityMinute";r=10;t=45"#));
        pacer.ready().await;
        assert_eq!(started.elapsed(), Duration::ZERO, "nothing used up");
        pacer.observe(&monday_headers(r#""minuteRate";r=0;t=12, "concurrency";r=0, "complexityMinute";r=0;t=7"#));
        pacer.ready().await;
        assert_eq!(started.elapsed(), Duration::from_secs(12), "the longest announced reset");
    }

    #[tokio::test(start_paused = true)]
    async fn monday_caps_requests_per_minute() {
        let pacer = Pacer::monday(3);
        let started = Instant::now();
        for _ in 0..4 {
            pacer.ready().await;
        }
        assert_eq!(started.elapsed(), guarded(Duration::from_secs(60)));
    }

    #[test]
    fn monday_ratelimit_headers_parse_defensively() {
        assert_eq!(exhausted_wait(r#""minuteRate";r=0;t=5"#), Some(Duration::from_secs(5)));
        assert_eq!(exhausted_wait(r#""minuteRate";r=1;t=5"#), None);
        assert_eq!(exhausted_wait(r#""concurrency";r=0"#), None);
        assert_eq!(exhausted_wait("garbage"), None);
        assert_eq!(exhausted_wait(r#""a";r=0;t=2.5, "b";r=0;t=1"#), Some(Duration::from_millis(2_500)));
        assert_eq!(exhausted_wait(r#""a";r = 0 ; t = 3"#), Some(Duration::from_secs(3)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_bounded_wait_gives_up_at_once_when_the_budget_frees_up_too_late() {
        let pacer = Pacer::bigcommerce(0);
        pacer.observe(&bigcommerce_headers(0, 30_000));
        let started = Instant::now();
        assert_eq!(pacer.ready_within(Duration::from_secs(25)).await, Err(Duration::from_secs(30)));
        assert_eq!(started.elapsed(), Duration::ZERO, "no sleeping towards a wait that cannot fit");
        assert_eq!(pacer.ready_within(Duration::from_secs(31)).await, Ok(()));
        assert_eq!(started.elapsed(), Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_bounded_wait_spends_nothing() {
        let pacer = Pacer::sliding_window(1, Duration::from_secs(60));
        pacer.ready().await;
        assert!(pacer.ready_within(Duration::from_secs(1)).await.is_err());
        tokio::time::advance(guarded(Duration::from_secs(60))).await;
        let started = Instant::now();
        assert_eq!(pacer.ready_within(Duration::from_secs(1)).await, Ok(()), "the refused call took no slot");
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unlimited_pacer_never_waits() {
        let pacer = Pacer::unlimited();
        let started = Instant::now();
        pacer.observe(&bigcommerce_headers(0, 10_000));
        for _ in 0..1_000 {
            pacer.ready().await;
        }
        assert_eq!(started.elapsed(), Duration::ZERO);
    }
}
