//! The pacer: one per [`crate::Client`] (shared by its clones and all concurrent
//! requests), so a sync spends the store's quota at full speed without ever being refused.
//!
//! BigCommerce counts requests per fixed window (30 s for OAuth apps) and reports on every
//! response how many are left and when the window resets (docs/api-notes.md §0.7). The quota is
//! shared with every other app on the store, so `left` can fall on its own.
//!
//! How the budget is kept:
//! - `window_left` is the lowest `X-Rate-Limit-Requests-Left` seen in the current window.
//!   Within a window `left` only falls, in the order the server counted requests, so the
//!   lowest value comes from the last request counted: every one of our requests that has
//!   answered is already in it, and only those still in flight may not be. So a request
//!   may start while `window_left - in_flight > 0`. This is exact once responses are in
//!   (no unit of the window is wasted, however many requests run at once) and never
//!   over-spends: a late answer carrying an older, higher `left` cannot raise the
//!   minimum, and other apps' use shows up in the next `left`.
//! - An attempt that ends without quota headers (a timeout, a cut body) may still have
//!   been counted, so it lowers `window_left` by one.
//! - A response whose reset instant lies clearly after the one we know (by more than half
//!   a window) shows the server started a new window; its `left` replaces the minimum.
//!   One whose reset lies clearly before it is a late answer from an ended window and is
//!   ignored.
//! - When the budget is spent, admissions wait until the reset instant (the response's
//!   arrival time plus `Time-Reset-Ms`, never earlier than the server's own; the earliest
//!   such instant of the window), then the next window's whole quota (less what is in
//!   flight) is released at once.
//! - Before any header has been seen, one probe request goes alone; its answer tells
//!   whether the store is limited. A store that sends no headers at all (unlimited plan)
//!   is bounded only by the client's concurrency cap.
//! - A 429 pauses every request of the client until the reset (or for the backoff the
//!   retry decision chose when the 429 carried no headers).
//!
//! How many requests go at once ([`PacerState::in_flight_limit`]): spending a quota of `q`
//! requests per window `w` takes `q / w` requests a second, so with answers taking `l`
//! seconds about `q × l / w` must be on the wire (a Standard store at 1.5 s: 7.5; a Pro
//! store: 22.5). The pacer keeps that many plus a quarter and one more, never fewer than
//! [`BASE_IN_FLIGHT`] and never more than the client's `max_concurrency`. The latency is
//! learned from the answers (quick to rise, slow to fall, so one fast answer does not
//! starve a slow store). The store's own caps are per endpoint (docs/api-notes.md §0.7)
//! and are kept by the callers that use those endpoints; an unlimited store gets the base.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use reqwest::header::HeaderMap;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Header names (HTTP header names are case-insensitive; `HeaderMap` lowercases them).
pub const HEADER_REQUESTS_LEFT: &str = "x-rate-limit-requests-left";
pub const HEADER_REQUESTS_QUOTA: &str = "x-rate-limit-requests-quota";
pub const HEADER_TIME_RESET_MS: &str = "x-rate-limit-time-reset-ms";
pub const HEADER_TIME_WINDOW_MS: &str = "x-rate-limit-time-window-ms";
pub const HEADER_RETRY_AFTER: &str = "x-retry-after";

/// BigCommerce's documented window for OAuth apps, used when a response gives a reset
/// but no window size.
const DEFAULT_WINDOW: Duration = Duration::from_secs(30);

/// Requests on the wire at once whatever the latency (unless the client's cap is lower):
/// enough to overlap the store's work with ours when it answers quickly, and what a store
/// without a quota (no headers to size by) gets.
pub const BASE_IN_FLIGHT: u32 = 8;

/// Headroom over the requests the quota's rate needs in flight: answers vary in time, and a
/// window's budget left unspent at its reset is lost.
const IN_FLIGHT_HEADROOM: f64 = 1.25;

/// The rate-limit headers of one response. Every field is optional: an unlimited store
/// sends none, and a 429 from platform load may come without them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimitHeaders {
    pub requests_left: Option<u32>,
    pub requests_quota: Option<u32>,
    pub time_reset: Option<Duration>,
    pub time_window: Option<Duration>,
    /// `X-Retry-After`, seconds until the quota refreshes (documented on 429s).
    pub retry_after: Option<Duration>,
}

impl RateLimitHeaders {
    /// Reads the headers, case-insensitively, ignoring values that are not numbers.
    pub fn parse(headers: &HeaderMap) -> Self {
        let number = |name: &str| -> Option<u64> {
            let raw = headers.get(name)?.to_str().ok()?.trim();
            // Accept "1500" and, defensively, "1500.0".
            raw.parse::<u64>().ok().or_else(|| {
                raw.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite() && *f >= 0.0)
                    .map(|f| f as u64)
            })
        };
        let count = |name: &str| number(name).map(|n| u32::try_from(n).unwrap_or(u32::MAX));
        Self {
            requests_left: count(HEADER_REQUESTS_LEFT),
            requests_quota: count(HEADER_REQUESTS_QUOTA),
            time_reset: number(HEADER_TIME_RESET_MS).map(Duration::from_millis),
            time_window: number(HEADER_TIME_WINDOW_MS).map(Duration::from_millis),
            retry_after: number(HEADER_RETRY_AFTER).map(Duration::from_secs),
        }
    }

    /// Whether the response carried the quota headers the pacer steers by.
    pub fn is_present(&self) -> bool {
        self.requests_left.is_some() || self.requests_quota.is_some() || self.time_reset.is_some()
    }

    /// How long a 429 asks us to wait: the reset time, else `X-Retry-After`.
    pub fn wait_hint(&self) -> Option<Duration> {
        self.time_reset.or(self.retry_after)
    }

    /// Whether a 429 with these headers means the store's quota is spent: `left` is 0 or
    /// absent. A 429 that still shows requests left comes from something else (a
    /// per-endpoint concurrency cap, docs/api-notes.md §0.7), which waiting for the window does not
    /// fix.
    pub fn quota_exhausted(&self) -> bool {
        self.requests_left.is_none_or(|left| left == 0)
    }
}

/// What the pacer knows about the store's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// No answer yet: one probe at a time until a response tells.
    Unknown { probe_in_flight: bool },
    /// Responses carry quota headers: pace by them.
    Limited,
    /// A successful response carried no quota headers: only the concurrency cap applies.
    Unlimited,
}

/// The pacer's bookkeeping, kept apart from locking and sleeping so its arithmetic can be
/// tested with explicit instants.
#[derive(Debug, Clone)]
pub(crate) struct PacerState {
    mode: Mode,
    quota: Option<u32>,
    window: Option<Duration>,
    /// The lowest `left` reported in the current window (see the module docs); requests
    /// may start while it exceeds `in_flight`.
    window_left: u32,
    /// When we believe the server's current window ends (never earlier than the server).
    window_resets_at: Option<Instant>,
    /// Whether `window_resets_at` came from a response (else it is our own guess after
    /// rolling to a new window, which the next response replaces).
    reset_from_server: bool,
    in_flight: u32,
    /// Every admission waits until then (after a 429).
    paused_until: Option<Instant>,
    /// The last headers seen and when, for [`crate::RateLimitSnapshot`].
    last_seen: Option<(RateLimitHeaders, Instant)>,
    /// How long answers take, smoothed (see [`PacerState::observe_latency`]).
    latency: Option<Duration>,
    /// The client's `max_concurrency`: never more in flight than this.
    ceiling: u32,
    /// The fewest allowed in flight: [`BASE_IN_FLIGHT`], or the ceiling if lower.
    base: u32,
}

/// The result of trying to start a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Go; `probe` marks the lone request sent while the limits are unknown.
    Go { probe: bool },
    /// Try again at this instant, or when another request finishes (whichever is first).
    WaitUntil(Instant),
    /// Try again when another request finishes.
    WaitForChange,
}

impl PacerState {
    /// For tests of the budget alone: no in-flight limit gets in the way.
    #[cfg(test)]
    pub(crate) fn new() -> Self {
        Self {
            base: u32::MAX,
            ..Self::with_ceiling(u32::MAX)
        }
    }

    /// A pacer that never lets more than `ceiling` requests go at once.
    pub(crate) fn with_ceiling(ceiling: u32) -> Self {
        Self {
            mode: Mode::Unknown {
                probe_in_flight: false,
            },
            quota: None,
            window: None,
            window_left: 0,
            window_resets_at: None,
            reset_from_server: false,
            in_flight: 0,
            paused_until: None,
            last_seen: None,
            latency: None,
            ceiling: ceiling.max(1),
            base: BASE_IN_FLIGHT.min(ceiling.max(1)),
        }
    }

    /// Requests allowed on the wire at once now (see the module docs): the quota's rate
    /// times the latency, with headroom, between the base and the ceiling.
    pub(crate) fn in_flight_limit(&self) -> u32 {
        let base = self.base;
        let (Mode::Limited, Some(quota), Some(latency)) = (self.mode, self.quota, self.latency)
        else {
            return base;
        };
        let window = self.window.unwrap_or(DEFAULT_WINDOW).as_secs_f64();
        let needed = f64::from(quota) * latency.as_secs_f64() / window * IN_FLIGHT_HEADROOM;
        // Saturating float-to-int: an absurd latency or quota gives the ceiling.
        let needed = (needed.ceil() as u32).saturating_add(1);
        needed.clamp(base, self.ceiling.max(base))
    }

    /// Folds one answer's time (admission to the end of its body) into the latency: a
    /// slower answer moves it halfway at once, a faster one an eighth, so the limit rises
    /// as soon as the store slows down and falls only when it stays fast.
    pub(crate) fn observe_latency(&mut self, sample: Duration) {
        self.latency = Some(match self.latency {
            None => sample,
            Some(current) if sample > current => (current + sample) / 2,
            Some(current) => current - current / 8 + sample / 8,
        });
    }

    /// Margin added to reset instants: headers are whole milliseconds (possibly rounded
    /// down) and timers fire on millisecond ticks. Small against the window so throughput
    /// stays near the quota bound.
    fn reset_margin(&self) -> Duration {
        let window = self.window.unwrap_or(DEFAULT_WINDOW);
        Duration::from_millis(1) + (window / 500).min(Duration::from_millis(100))
    }

    /// Tries to admit one request at `now`.
    pub(crate) fn try_admit(&mut self, now: Instant) -> Admission {
        if let Some(until) = self.paused_until {
            if now < until {
                return Admission::WaitUntil(until);
            }
            self.paused_until = None;
        }
        match self.mode {
            Mode::Unknown {
                probe_in_flight: true,
            } => Admission::WaitForChange,
            Mode::Unknown {
                probe_in_flight: false,
            } => {
                self.mode = Mode::Unknown {
                    probe_in_flight: true,
                };
                self.in_flight += 1;
                Admission::Go { probe: true }
            }
            Mode::Unlimited if self.in_flight >= self.in_flight_limit() => Admission::WaitForChange,
            Mode::Unlimited => {
                self.in_flight += 1;
                Admission::Go { probe: false }
            }
            Mode::Limited => {
                if let Some(resets_at) = self.window_resets_at
                    && now >= resets_at
                {
                    self.start_next_window(now);
                }
                if self.budget() > 0 && self.in_flight >= self.in_flight_limit() {
                    Admission::WaitForChange
                } else if self.budget() > 0 {
                    self.in_flight += 1;
                    Admission::Go { probe: false }
                } else {
                    match self.window_resets_at {
                        Some(at) => Admission::WaitUntil(at),
                        // Spent but no reset known: check again after a window.
                        None => {
                            let at = now + self.window.unwrap_or(DEFAULT_WINDOW);
                            self.window_resets_at = Some(at);
                            self.reset_from_server = false;
                            Admission::WaitUntil(at)
                        }
                    }
                }
            }
        }
    }

    /// The reset instant has passed with no newer response: release the next window's
    /// quota, less what is still in flight (those may land in the new window).
    fn start_next_window(&mut self, now: Instant) {
        let window = self.window.unwrap_or(DEFAULT_WINDOW);
        // If the server's windows are back to back this is close; if it starts a window
        // at the next request, the first response corrects it.
        self.window_resets_at = Some(now + window);
        self.reset_from_server = false;
        // Requests still in flight may land in the new window: `budget()` subtracts them.
        self.window_left = self.quota.unwrap_or(1);
    }

    /// Requests that may start now in the current window.
    fn budget(&self) -> u32 {
        self.window_left.saturating_sub(self.in_flight)
    }

    /// Whether a request could start right now (waiters need waking only then).
    pub(crate) fn can_admit(&self, now: Instant) -> bool {
        if self.paused_until.is_some_and(|until| now < until) {
            return false;
        }
        match self.mode {
            Mode::Unknown { probe_in_flight } => !probe_in_flight,
            Mode::Unlimited => self.in_flight < self.in_flight_limit(),
            Mode::Limited => {
                self.in_flight < self.in_flight_limit()
                    && (self.budget() > 0 || self.window_resets_at.is_some_and(|r| now >= r))
            }
        }
    }

    /// Records the end of an admitted request. `headers` are the response's rate-limit
    /// headers (`None` when there was no response); `success` is a status below 400.
    pub(crate) fn complete(
        &mut self,
        now: Instant,
        probe: bool,
        headers: Option<&RateLimitHeaders>,
        success: bool,
    ) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if probe && let Mode::Unknown { .. } = self.mode {
            self.mode = Mode::Unknown {
                probe_in_flight: false,
            };
        }
        match headers {
            Some(h) if h.is_present() => {
                self.last_seen = Some((*h, now));
                self.mode = Mode::Limited;
                self.observe(now, h);
            }
            // A good answer without quota headers: the store is not rate limited. Error
            // answers (401 before the limiter, an infrastructure 5xx) prove nothing.
            Some(_) if success && matches!(self.mode, Mode::Unknown { .. }) => {
                self.mode = Mode::Unlimited;
            }
            // No count came back, but the server may have counted the request.
            _ => self.window_left = self.window_left.saturating_sub(1),
        }
    }

    /// Folds one response's quota headers into the budget (see the module docs).
    fn observe(&mut self, now: Instant, h: &RateLimitHeaders) {
        if h.requests_quota.is_some() {
            self.quota = h.requests_quota;
        }
        if h.time_window.is_some_and(|w| !w.is_zero()) {
            self.window = h.time_window;
        }
        let window = self.window.unwrap_or(DEFAULT_WINDOW);
        let margin = self.reset_margin();
        let Some(reset) = h.time_reset else {
            if let Some(left) = h.requests_left {
                self.window_left = self.window_left.min(left);
            }
            return;
        };
        let resets_at = now + reset + margin;
        let new_window = match self.window_resets_at {
            None => true,
            Some(known) if resets_at > known + window / 2 => true,
            // A response from a window that has already ended (it was slow to arrive).
            Some(known) if resets_at + window / 2 < known => return,
            Some(_) => false,
        };
        // Every response's reset instant is at or after the server's (arrival time plus a
        // rounded-up countdown), so within one window the earliest is the most accurate.
        self.window_resets_at = match self.window_resets_at {
            Some(known) if !new_window && self.reset_from_server => Some(known.min(resets_at)),
            _ => Some(resets_at),
        };
        self.reset_from_server = true;
        match h.requests_left {
            Some(left) if new_window => self.window_left = left,
            Some(left) => self.window_left = self.window_left.min(left),
            // A reset without a count: assume the whole quota less this request.
            None if new_window => {
                self.window_left = self.quota.map_or(0, |q| q.saturating_sub(1));
            }
            None => self.window_left = self.window_left.saturating_sub(1),
        }
    }

    /// Stops every admission until `until` (a 429 was received). The window's count is
    /// left alone: a quota 429 already brought `left = 0` and its reset with it, and a
    /// platform-load 429 (no headers) says nothing about the quota, so once the pause is
    /// over the window's remaining budget is still good.
    pub(crate) fn pause_until(&mut self, until: Instant) {
        self.paused_until = Some(self.paused_until.map_or(until, |p| p.max(until)));
    }

    pub(crate) fn snapshot(&self, now: Instant) -> crate::client::RateLimitSnapshot {
        let (headers, seen_at) = match self.last_seen {
            Some((h, at)) => (h, Some(at)),
            None => (RateLimitHeaders::default(), None),
        };
        crate::client::RateLimitSnapshot {
            quota: self.quota,
            left: headers.requests_left,
            window: self.window,
            reset: match (headers.time_reset, seen_at) {
                (Some(reset), Some(at)) => {
                    Some(reset.saturating_sub(now.saturating_duration_since(at)))
                }
                _ => None,
            },
            budget: matches!(self.mode, Mode::Limited).then_some(self.budget()),
            in_flight: self.in_flight,
            in_flight_limit: self.in_flight_limit(),
            latency: self.latency,
            paused_for: self
                .paused_until
                .map(|p| p.saturating_duration_since(now))
                .filter(|d| !d.is_zero()),
            unlimited: matches!(self.mode, Mode::Unlimited),
        }
    }
}

/// The shared pacer: the state behind a lock plus a wake-up for waiters.
#[derive(Debug)]
pub(crate) struct Pacer {
    state: Mutex<PacerState>,
    changed: Notify,
}

/// An admitted request. Dropping it without [`Ticket::finish`] (the request future was
/// cancelled) still frees its in-flight slot.
#[derive(Debug)]
pub(crate) struct Ticket {
    pacer: Arc<Pacer>,
    probe: bool,
    done: bool,
    admitted_at: Instant,
}

impl Ticket {
    /// Reports how the request ended.
    pub(crate) fn finish(mut self, headers: Option<&RateLimitHeaders>, success: bool) {
        self.done = true;
        // Only good answers measure the store's latency: a refusal comes back at once.
        let latency = success.then(|| self.admitted_at.elapsed());
        self.pacer.finish(self.probe, headers, success, latency);
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.done {
            self.pacer.finish(self.probe, None, false, None);
        }
    }
}

impl Pacer {
    /// A pacer for a client allowing at most `ceiling` requests in flight.
    pub(crate) fn new(ceiling: u32) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(PacerState::with_ceiling(ceiling)),
            changed: Notify::new(),
        })
    }

    /// Waits until a request may start; returns its ticket and how long it waited.
    pub(crate) fn admit(
        self: &Arc<Self>,
    ) -> impl Future<Output = (Ticket, Duration)> + Send + 'static {
        let pacer = Arc::clone(self);
        async move {
            let started = Instant::now();
            loop {
                // Register for wake-ups before looking at the state, so a change made
                // between the look and the wait is not missed.
                let notified = pacer.changed.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let admission = pacer.state.lock().try_admit(Instant::now());
                match admission {
                    Admission::Go { probe } => {
                        let ticket = Ticket {
                            pacer: Arc::clone(&pacer),
                            probe,
                            done: false,
                            admitted_at: Instant::now(),
                        };
                        return (ticket, started.elapsed());
                    }
                    Admission::WaitUntil(at) => {
                        tokio::select! {
                            () = tokio::time::sleep_until(at) => {}
                            () = &mut notified => {}
                        }
                    }
                    Admission::WaitForChange => notified.await,
                }
            }
        }
    }

    fn finish(
        &self,
        probe: bool,
        headers: Option<&RateLimitHeaders>,
        success: bool,
        latency: Option<Duration>,
    ) {
        let now = Instant::now();
        let wake = {
            let mut state = self.state.lock();
            let reset_before = state.window_resets_at;
            if let Some(latency) = latency {
                state.observe_latency(latency);
            }
            state.complete(now, probe, headers, success);
            // Wake waiters when one of them could start, or when the reset they sleep
            // towards moved earlier.
            state.can_admit(now)
                || matches!((reset_before, state.window_resets_at), (Some(b), Some(a)) if a < b)
        };
        if wake {
            self.changed.notify_waiters();
        }
    }

    /// A 429 arrived: hold every request until `until`.
    pub(crate) fn pause_until(&self, until: Instant) {
        self.state.lock().pause_until(until);
    }

    pub(crate) fn snapshot(&self) -> crate::client::RateLimitSnapshot {
        self.state.lock().snapshot(Instant::now())
    }

    pub(crate) fn in_flight_limit(&self) -> u32 {
        self.state.lock().in_flight_limit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn limited(left: u32, reset_ms: u64) -> RateLimitHeaders {
        RateLimitHeaders {
            requests_left: Some(left),
            requests_quota: Some(10),
            time_reset: Some(Duration::from_millis(reset_ms)),
            time_window: Some(Duration::from_millis(1000)),
            retry_after: None,
        }
    }

    fn go(state: &mut PacerState, now: Instant) -> bool {
        matches!(state.try_admit(now), Admission::Go { .. })
    }

    #[test]
    fn parses_headers_case_insensitively() {
        let mut h = HeaderMap::new();
        h.insert("X-Rate-Limit-Requests-Left", HeaderValue::from_static("35"));
        h.insert(
            "x-rate-limit-requests-quota",
            HeaderValue::from_static("150"),
        );
        h.insert(
            "X-RATE-LIMIT-TIME-RESET-MS",
            HeaderValue::from_static("15000"),
        );
        h.insert(
            "X-Rate-Limit-Time-Window-Ms",
            HeaderValue::from_static("30000"),
        );
        h.insert("X-Retry-After", HeaderValue::from_static("bogus"));
        let parsed = RateLimitHeaders::parse(&h);
        assert_eq!(parsed.requests_left, Some(35));
        assert_eq!(parsed.requests_quota, Some(150));
        assert_eq!(parsed.time_reset, Some(Duration::from_millis(15000)));
        assert_eq!(parsed.time_window, Some(Duration::from_secs(30)));
        assert_eq!(parsed.retry_after, None);
        assert!(parsed.is_present());
        assert!(!RateLimitHeaders::parse(&HeaderMap::new()).is_present());
    }

    #[test]
    fn probes_once_then_paces_by_headers() {
        let t0 = Instant::now();
        let mut s = PacerState::new();
        assert_eq!(s.try_admit(t0), Admission::Go { probe: true });
        assert_eq!(s.try_admit(t0), Admission::WaitForChange);
        s.complete(t0, true, Some(&limited(9, 1000)), true);
        // 9 left, nothing else in flight: exactly 9 more may start in this window.
        for _ in 0..9 {
            assert!(go(&mut s, t0));
        }
        let reset_at = match s.try_admit(t0) {
            Admission::WaitUntil(at) => at,
            other => panic!("{other:?}"),
        };
        assert!(reset_at >= t0 + Duration::from_millis(1000));
        assert!(reset_at <= t0 + Duration::from_millis(1010));
        // After the reset the whole quota is released again.
        for _ in 0..9 {
            s.complete(t0, false, None, false);
        }
        let mut admitted = 0;
        while go(&mut s, reset_at) {
            admitted += 1;
        }
        assert_eq!(admitted, 10);
    }

    #[test]
    fn subtracts_requests_in_flight_from_left() {
        let t0 = Instant::now();
        let mut s = PacerState::new();
        assert!(go(&mut s, t0));
        s.complete(t0, true, Some(&limited(9, 1000)), true);
        for _ in 0..4 {
            assert!(go(&mut s, t0));
        }
        // One response says 8 left while 3 of ours are still in flight: 5 more may go.
        s.complete(t0, false, Some(&limited(8, 990)), true);
        let mut admitted = 0;
        while go(&mut s, t0) {
            admitted += 1;
        }
        assert_eq!(admitted, 5);
    }

    #[test]
    fn concurrent_requests_use_the_whole_window() {
        let t0 = Instant::now();
        let mut s = PacerState::new();
        assert!(go(&mut s, t0));
        s.complete(t0, true, Some(&limited(9, 1000)), true);
        for _ in 0..8 {
            assert!(go(&mut s, t0));
        }
        // The server counted them in some order; answers arrive in another.
        for left in [3, 8, 1, 5, 7, 2, 6, 4] {
            s.complete(t0, false, Some(&limited(left, 900)), true);
        }
        // Exactly one unit is left, and it is not wasted.
        assert!(go(&mut s, t0));
        assert!(!go(&mut s, t0));
    }

    #[test]
    fn an_answer_without_a_count_is_assumed_counted() {
        let t0 = Instant::now();
        let mut s = PacerState::new();
        assert!(go(&mut s, t0));
        s.complete(t0, true, Some(&limited(2, 1000)), true);
        assert!(go(&mut s, t0));
        // Timed out: the server may have counted it.
        s.complete(t0, false, None, false);
        assert!(go(&mut s, t0));
        assert!(!go(&mut s, t0));
    }

    #[test]
    fn late_response_cannot_raise_the_budget() {
        let t0 = Instant::now();
        let mut s = PacerState::new();
        assert!(go(&mut s, t0));
        s.complete(t0, true, Some(&limited(2, 1000)), true);
        assert!(go(&mut s, t0));
        assert!(go(&mut s, t0));
        // The second response (processed first, left=0) arrives before the first (left=1).
        s.complete(t0, false, Some(&limited(0, 990)), true);
        s.complete(t0, false, Some(&limited(1, 995)), true);
        assert!(!go(&mut s, t0));
    }

    #[test]
    fn other_apps_spending_the_quota_lower_the_budget() {
        let t0 = Instant::now();
        let mut s = PacerState::new();
        assert!(go(&mut s, t0));
        s.complete(t0, true, Some(&limited(9, 1000)), true);
        assert!(go(&mut s, t0));
        s.complete(t0, false, Some(&limited(2, 900)), true);
        assert!(go(&mut s, t0));
        assert!(go(&mut s, t0));
        assert!(!go(&mut s, t0));
    }

    #[test]
    fn a_new_window_in_the_headers_replaces_the_budget() {
        let t0 = Instant::now();
        let mut s = PacerState::new();
        assert!(go(&mut s, t0));
        s.complete(t0, true, Some(&limited(0, 100)), true);
        assert!(!go(&mut s, t0));
        // A response well after the reset shows a fresh window.
        let t1 = t0 + Duration::from_millis(150);
        assert!(go(&mut s, t1));
        s.complete(t1, false, Some(&limited(9, 1000)), true);
        let mut admitted = 0;
        while go(&mut s, t1) {
            admitted += 1;
        }
        assert_eq!(admitted, 9);
    }

    #[test]
    fn stale_response_from_an_old_window_is_ignored() {
        let t0 = Instant::now();
        let mut s = PacerState::new();
        assert!(go(&mut s, t0));
        s.complete(t0, true, Some(&limited(5, 1000)), true);
        assert!(go(&mut s, t0));
        let t1 = t0 + Duration::from_millis(1500);
        // Local roll to the next window at t1, then a very old response shows up.
        assert!(go(&mut s, t1));
        let left_before = s.window_left;
        s.complete(t1, false, Some(&limited(0, 0)), true);
        // reset 0 at t1 means an instant ~1 s before what we know: ignored.
        assert_eq!(s.window_left, left_before);
    }

    #[test]
    fn reset_instant_tracks_the_earliest_server_report_and_replaces_our_guess() {
        let t0 = Instant::now();
        let mut s = PacerState::new();
        assert!(go(&mut s, t0));
        s.complete(t0, true, Some(&limited(9, 1000)), true);
        let first = s.window_resets_at.unwrap();
        // A later response in the same window with a later instant (it was slow): keep
        // the earlier, still-safe one.
        s.try_admit(t0);
        s.complete(
            t0 + Duration::from_millis(20),
            false,
            Some(&limited(8, 995)),
            true,
        );
        assert_eq!(s.window_resets_at, Some(first));
        // Roll locally past the reset; our guess is replaced by the first server report
        // even when that is later (a server that opens windows lazily).
        let t1 = first + Duration::from_millis(5);
        assert!(go(&mut s, t1));
        let guess = s.window_resets_at.unwrap();
        s.complete(
            t1 + Duration::from_millis(30),
            false,
            Some(&limited(9, 1000)),
            true,
        );
        assert!(s.window_resets_at.unwrap() > guess);
    }

    #[test]
    fn no_headers_on_success_means_unlimited() {
        let t0 = Instant::now();
        let mut s = PacerState::new();
        assert!(go(&mut s, t0));
        s.complete(t0, true, Some(&RateLimitHeaders::default()), true);
        for _ in 0..1000 {
            assert!(go(&mut s, t0));
        }
        assert!(s.snapshot(t0).unlimited);
    }

    /// A store's quota headers: `quota` per 30 s window, all of it left.
    fn quota_of(quota: u32) -> RateLimitHeaders {
        RateLimitHeaders {
            requests_left: Some(quota),
            requests_quota: Some(quota),
            time_reset: Some(Duration::from_secs(30)),
            time_window: Some(Duration::from_secs(30)),
            retry_after: None,
        }
    }

    /// A pacer with the client's defaults (ceiling 32) that has seen `quota` and answers
    /// taking `latency`.
    fn learned(quota: u32, latency: Duration) -> PacerState {
        let t0 = Instant::now();
        let mut s = PacerState::with_ceiling(32);
        assert!(go(&mut s, t0));
        s.observe_latency(latency);
        s.complete(t0, true, Some(&quota_of(quota)), true);
        s
    }

    #[test]
    fn in_flight_limit_is_the_quota_rate_times_the_latency() {
        let ms = Duration::from_millis;
        // Standard (150 per 30 s = 5 a second) at 1.5 s: 7.5 needed, x1.25, +1.
        assert_eq!(learned(150, ms(1500)).in_flight_limit(), 11);
        // Pro (450 per 30 s) at 1.5 s: 22.5 needed -> 30.
        assert_eq!(learned(450, ms(1500)).in_flight_limit(), 30);
        // Quick answers: the base, which overlaps our work with the store's.
        assert_eq!(learned(150, ms(300)).in_flight_limit(), BASE_IN_FLIGHT);
        assert_eq!(learned(450, ms(5)).in_flight_limit(), BASE_IN_FLIGHT);
        // Never past the client's cap, however slow the store.
        assert_eq!(learned(450, Duration::from_secs(30)).in_flight_limit(), 32);
        // Before any answer, and for a store without a quota: the base.
        assert_eq!(
            PacerState::with_ceiling(32).in_flight_limit(),
            BASE_IN_FLIGHT
        );
        let t0 = Instant::now();
        let mut unlimited = PacerState::with_ceiling(32);
        assert!(go(&mut unlimited, t0));
        unlimited.observe_latency(Duration::from_secs(2));
        unlimited.complete(t0, true, Some(&RateLimitHeaders::default()), true);
        assert_eq!(unlimited.in_flight_limit(), BASE_IN_FLIGHT);
        // A cap below the base is the limit whatever the store.
        let mut small = PacerState::with_ceiling(4);
        assert_eq!(small.in_flight_limit(), 4);
        assert!(go(&mut small, t0));
        small.observe_latency(Duration::from_secs(2));
        small.complete(t0, true, Some(&quota_of(450)), true);
        assert_eq!(small.in_flight_limit(), 4);
    }

    #[test]
    fn latency_rises_at_once_and_falls_slowly() {
        let ms = Duration::from_millis;
        let mut s = learned(450, ms(100));
        assert_eq!(s.in_flight_limit(), BASE_IN_FLIGHT);
        // The store slows down: two slow answers take the limit most of the way up.
        s.observe_latency(ms(1500));
        s.observe_latency(ms(1500));
        assert!(s.in_flight_limit() >= 22, "{}", s.in_flight_limit());
        // One quick answer (a tiny endpoint) barely lowers it.
        let before = s.in_flight_limit();
        s.observe_latency(ms(50));
        assert!(s.in_flight_limit() + 4 >= before);
        // Only when answers stay quick does it come back to the base.
        for _ in 0..60 {
            s.observe_latency(ms(50));
        }
        assert_eq!(s.in_flight_limit(), BASE_IN_FLIGHT);
    }

    #[test]
    fn admission_stops_at_the_in_flight_limit_and_resumes_on_an_answer() {
        let t0 = Instant::now();
        // Standard at 1.5 s: 11 may go, though 149 are left in the window.
        let mut s = learned(150, Duration::from_millis(1500));
        for _ in 0..11 {
            assert!(go(&mut s, t0));
        }
        assert_eq!(s.try_admit(t0), Admission::WaitForChange);
        assert!(!s.can_admit(t0));
        let later = RateLimitHeaders {
            requests_left: Some(140),
            time_reset: Some(Duration::from_secs(20)),
            ..quota_of(150)
        };
        s.complete(t0, false, Some(&later), true);
        assert!(s.can_admit(t0));
        assert!(go(&mut s, t0));
        assert_eq!(s.snapshot(t0).in_flight, 11);
        assert_eq!(s.snapshot(t0).in_flight_limit, 11);
        // A spent window still waits for its reset, not for an answer.
        let mut spent = learned(150, Duration::from_millis(1500));
        let none_left = RateLimitHeaders {
            requests_left: Some(0),
            time_reset: Some(Duration::from_secs(20)),
            ..quota_of(150)
        };
        spent.complete(t0, false, Some(&none_left), true);
        assert!(matches!(spent.try_admit(t0), Admission::WaitUntil(_)));
    }

    #[test]
    fn error_without_headers_keeps_probing() {
        let t0 = Instant::now();
        let mut s = PacerState::new();
        assert!(go(&mut s, t0));
        s.complete(t0, true, Some(&RateLimitHeaders::default()), false);
        assert_eq!(s.try_admit(t0), Admission::Go { probe: true });
        // A cancelled probe (no response) frees the probe slot too.
        s.complete(t0, true, None, false);
        assert_eq!(s.try_admit(t0), Admission::Go { probe: true });
    }

    #[test]
    fn pause_blocks_everyone_until_the_instant() {
        let t0 = Instant::now();
        let mut s = PacerState::new();
        assert!(go(&mut s, t0));
        s.complete(t0, true, Some(&RateLimitHeaders::default()), true);
        let until = t0 + Duration::from_millis(500);
        s.pause_until(until);
        assert_eq!(
            s.try_admit(t0 + Duration::from_millis(499)),
            Admission::WaitUntil(until)
        );
        assert!(go(&mut s, until));
    }

    #[test]
    fn a_platform_pause_keeps_the_window_budget() {
        let t0 = Instant::now();
        let mut s = PacerState::new();
        assert!(go(&mut s, t0));
        s.complete(t0, true, Some(&limited(9, 1000)), true);
        let until = t0 + Duration::from_millis(100);
        s.pause_until(until);
        assert_eq!(
            s.try_admit(t0 + Duration::from_millis(50)),
            Admission::WaitUntil(until)
        );
        let mut admitted = 0;
        while go(&mut s, until) {
            admitted += 1;
        }
        assert_eq!(admitted, 9);
    }

    #[tokio::test(start_paused = true)]
    async fn admit_sleeps_until_the_reset() {
        let pacer = Pacer::new(u32::MAX);
        let (probe, _) = pacer.admit().await;
        probe.finish(Some(&limited(1, 1000)), true);
        let (t, waited) = pacer.admit().await;
        assert!(waited.is_zero());
        t.finish(Some(&limited(0, 990)), true);
        let started = Instant::now();
        let (_t, waited) = pacer.admit().await;
        assert!(waited >= Duration::from_millis(990), "{waited:?}");
        assert!(started.elapsed() < Duration::from_millis(1100));
    }

    #[tokio::test(start_paused = true)]
    async fn waiters_wake_when_the_probe_answers() {
        let pacer = Pacer::new(u32::MAX);
        let (probe, _) = pacer.admit().await;
        let waiter = tokio::spawn({
            let pacer = Arc::clone(&pacer);
            async move { pacer.admit().await.1 }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        probe.finish(Some(&RateLimitHeaders::default()), true);
        let waited = waiter.await.unwrap();
        assert!(waited >= Duration::from_millis(50));
        assert!(waited < Duration::from_millis(60));
    }
}
