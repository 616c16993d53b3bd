//! The pacer: one per [`crate::Client`] (shared by its clones), holding one independent
//! budget per [`Bucket`], so a spent "other" allowance never slows contact writes.
//!
//! How a bucket's budget is kept (docs/brevo-api-notes.md §0.4):
//! - Until a response of the bucket has carried `x-sib-ratelimit-*` headers, the bucket
//!   assumes the general tier's allowance (requests per second and per hour, both
//!   applied) as sliding windows: never more than the allowance in any second or hour.
//! - Once headers are seen they steer alone (a larger plan shows its larger allowance
//!   there): `remaining` is the budget of the current window and `reset` (seconds still
//!   to run, a delta) its end. Within a window `remaining` only falls, so the lowest value
//!   seen is kept; requests still in flight may not be counted in it yet, so a request may
//!   start while `remaining - in_flight > 0`. When that is spent, requests of the bucket
//!   wait for the reset instead of provoking a 429.
//! - A response whose reset lies clearly later than the known one starts a new window
//!   (its `remaining` replaces the budget); one clearly earlier is a late answer from an
//!   ended window and is ignored. When the reset instant passes with no newer answer, the
//!   window's `limit` is released again, and the next answer corrects it.
//! - A 429 pauses the whole bucket until the wait the retry decision chose.
//! - Concurrency inside a bucket is allowed; only the budget bounds it.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use reqwest::header::HeaderMap;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::buckets::{Bucket, BucketLimits};

pub const HEADER_LIMIT: &str = "x-sib-ratelimit-limit";
pub const HEADER_REMAINING: &str = "x-sib-ratelimit-remaining";
pub const HEADER_RESET: &str = "x-sib-ratelimit-reset";
/// Not documented by Brevo, accepted when present (seconds).
pub const HEADER_RETRY_AFTER: &str = "retry-after";

/// Slack added to a reset given with a fraction: our clock starts when the answer
/// arrives, so waking a little late avoids a 429.
pub const FRACTION_SLACK: Duration = Duration::from_millis(100);

/// Slack added to a reset given in whole seconds: the server may have rounded it down, so
/// the window can end up to a second later than it says.
pub const WHOLE_SECONDS_SLACK: Duration = Duration::from_millis(1100);

/// The slack to add to a server-given reset (see the two constants).
pub fn reset_slack(reset: Duration) -> Duration {
    if reset.subsec_nanos() == 0 {
        WHOLE_SECONDS_SLACK
    } else {
        FRACTION_SLACK
    }
}

/// Two reset instants closer than this belong to the same window: whole-second headers
/// and network delays make estimates of one instant differ by over a second.
const SAME_WINDOW: Duration = Duration::from_millis(1500);

/// Resets larger than this many seconds are read as a Unix time, not a delta: the notes
/// say delta, but a careful client survives either form.
const EPOCH_THRESHOLD_SECS: f64 = 1_000_000_000.0;

/// The rate-limit headers of one response; every field optional.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RateHeaders {
    pub limit: Option<u32>,
    pub remaining: Option<u32>,
    /// Time until the window resets.
    pub reset: Option<Duration>,
    /// `Retry-After` in seconds (undocumented; honoured if sent).
    pub retry_after: Option<Duration>,
}

impl RateHeaders {
    /// Reads the headers at the current wall-clock time.
    pub fn parse(headers: &HeaderMap) -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Self::parse_at(headers, now)
    }

    /// Reads the headers; `now` (since the Unix epoch) converts a reset sent as a Unix
    /// time into a delta. Values that are not non-negative numbers are ignored.
    pub fn parse_at(headers: &HeaderMap, now: Duration) -> Self {
        let number = |name: &str| -> Option<f64> {
            let raw = headers.get(name)?.to_str().ok()?.trim();
            raw.parse::<f64>()
                .ok()
                .filter(|f| f.is_finite() && *f >= 0.0)
        };
        let count = |name: &str| number(name).map(|n| n.min(f64::from(u32::MAX)) as u32);
        let seconds = |name: &str| {
            number(name).map(|s| {
                if s >= EPOCH_THRESHOLD_SECS {
                    // A Unix time (seconds, or milliseconds when huge): the wait is the gap.
                    let at = if s >= EPOCH_THRESHOLD_SECS * 1000.0 {
                        s / 1000.0
                    } else {
                        s
                    };
                    Duration::from_secs_f64((at - now.as_secs_f64()).clamp(0.0, 86_400.0))
                } else {
                    Duration::from_secs_f64(s.min(86_400.0))
                }
            })
        };
        Self {
            limit: count(HEADER_LIMIT),
            remaining: count(HEADER_REMAINING),
            reset: seconds(HEADER_RESET),
            retry_after: seconds(HEADER_RETRY_AFTER),
        }
    }

    /// Whether the response carried the headers the pacer steers by.
    pub fn is_present(&self) -> bool {
        self.remaining.is_some() || self.reset.is_some()
    }

    /// How long a 429 asks us to wait: the reset, else `Retry-After`.
    pub fn wait_hint(&self) -> Option<Duration> {
        self.reset.or(self.retry_after)
    }
}

/// A sliding-window limit: at most `limit` admissions in any span of `window`. Stricter
/// than a token bucket (which allows a burst plus a refill within one window), so it
/// never overruns a server that counts fixed windows, however they are aligned.
#[derive(Debug, Clone)]
struct SlidingLimit {
    limit: u32,
    window: Duration,
    /// Admission instants within the last `window`, oldest first.
    log: VecDeque<Instant>,
}

impl SlidingLimit {
    /// `None` when a request may go now, else the instant it may.
    fn wait(&mut self, now: Instant) -> Option<Instant> {
        while self
            .log
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= self.window)
        {
            self.log.pop_front();
        }
        if self.log.len() < self.limit as usize {
            None
        } else {
            self.log.front().map(|t| *t + self.window)
        }
    }

    fn take(&mut self, now: Instant) {
        self.log.push_back(now);
    }
}

/// What the headers told about the bucket's current window.
#[derive(Debug, Clone, Copy)]
struct Window {
    /// The lowest `remaining` seen in this window.
    left: u32,
    /// When the window ends (`None`: released locally, waiting for an answer to say).
    resets_at: Option<Instant>,
}

/// The result of trying to start a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    Go,
    /// Try again at this instant, or when another request of the bucket finishes.
    WaitUntil(Instant),
    /// Try again when another request of the bucket finishes.
    WaitForChange,
}

/// One bucket's bookkeeping, kept apart from locking and sleeping so its arithmetic is
/// tested with explicit instants.
#[derive(Debug, Clone)]
pub(crate) struct BucketState {
    local: Vec<SlidingLimit>,
    /// `Some` once any response of the bucket carried the headers.
    window: Option<Window>,
    limit: Option<u32>,
    in_flight: u32,
    paused_until: Option<Instant>,
}

impl BucketState {
    pub(crate) fn new(limits: BucketLimits) -> Self {
        Self {
            local: limits
                .windows()
                .into_iter()
                .map(|(limit, window)| SlidingLimit {
                    limit,
                    window,
                    log: VecDeque::new(),
                })
                .collect(),
            window: None,
            limit: None,
            in_flight: 0,
            paused_until: None,
        }
    }

    pub(crate) fn try_admit(&mut self, now: Instant) -> Admission {
        if let Some(until) = self.paused_until {
            if now < until {
                return Admission::WaitUntil(until);
            }
            self.paused_until = None;
        }
        let Some(mut window) = self.window else {
            // No headers yet: the general tier's limits.
            if let Some(at) = self.local.iter_mut().filter_map(|b| b.wait(now)).max() {
                return Admission::WaitUntil(at);
            }
            for b in &mut self.local {
                b.take(now);
            }
            self.in_flight += 1;
            return Admission::Go;
        };
        if let Some(at) = window.resets_at
            && now >= at
        {
            // The window ended with no newer answer: release its whole allowance (one
            // probe when the allowance is unknown); the next answer corrects it.
            window = Window {
                left: self.limit.unwrap_or(1).max(1),
                resets_at: None,
            };
            self.window = Some(window);
        }
        if window.left > self.in_flight {
            self.in_flight += 1;
            Admission::Go
        } else {
            match window.resets_at {
                Some(at) => Admission::WaitUntil(at),
                None if self.in_flight > 0 => Admission::WaitForChange,
                // Spent, nothing in flight and no reset known: look again in a second.
                None => {
                    let at = now + Duration::from_secs(1);
                    self.window = Some(Window {
                        resets_at: Some(at),
                        ..window
                    });
                    Admission::WaitUntil(at)
                }
            }
        }
    }

    /// Records the end of an admitted request; `headers` is `None` when no answer came.
    pub(crate) fn complete(&mut self, now: Instant, headers: Option<&RateHeaders>) {
        self.in_flight = self.in_flight.saturating_sub(1);
        match headers {
            Some(h) if h.is_present() => self.observe(now, h),
            // No count came back, but the server may have counted the request.
            _ => {
                if let Some(w) = &mut self.window {
                    w.left = w.left.saturating_sub(1);
                }
            }
        }
    }

    fn observe(&mut self, now: Instant, h: &RateHeaders) {
        if h.limit.is_some() {
            self.limit = h.limit;
        }
        let reported_at = h.reset.map(|r| now + r + reset_slack(r));
        let remaining = h.remaining;
        let Some(known) = self.window else {
            self.window = Some(Window {
                left: remaining.unwrap_or_else(|| self.limit.unwrap_or(1).saturating_sub(1)),
                resets_at: reported_at.or(Some(now + Duration::from_secs(1))),
            });
            return;
        };
        let new_window = match (known.resets_at, reported_at) {
            (None, _) => true,
            (Some(k), Some(r)) if r > k + SAME_WINDOW => true,
            // A late answer from a window that has already ended.
            (Some(k), Some(r)) if r + SAME_WINDOW < k => return,
            _ => false,
        };
        self.window = Some(if new_window {
            Window {
                left: remaining.unwrap_or_else(|| self.limit.unwrap_or(1).saturating_sub(1)),
                resets_at: reported_at.or(known.resets_at),
            }
        } else {
            Window {
                left: remaining.map_or(known.left.saturating_sub(1), |r| known.left.min(r)),
                // Every estimate already includes the rounding slack, so the earliest is
                // still not early, and the closest.
                resets_at: match (known.resets_at, reported_at) {
                    (Some(k), Some(r)) => Some(k.min(r)),
                    (k, r) => k.or(r),
                },
            }
        });
    }

    /// Stops the bucket's admissions until `until` (a 429 arrived).
    pub(crate) fn pause_until(&mut self, until: Instant) {
        self.paused_until = Some(self.paused_until.map_or(until, |p| p.max(until)));
    }
}

/// One bucket's lock and wake-up.
#[derive(Debug)]
struct BucketPacer {
    state: Mutex<BucketState>,
    changed: Notify,
}

/// The shared pacer: one independent [`BucketState`] per bucket.
#[derive(Debug)]
pub(crate) struct Pacer {
    buckets: Vec<BucketPacer>,
}

/// An admitted request. Dropping it without [`Ticket::finish`] (the request future was
/// cancelled) still frees its in-flight slot.
#[derive(Debug)]
pub(crate) struct Ticket {
    pacer: Arc<Pacer>,
    bucket: Bucket,
    done: bool,
}

impl Ticket {
    pub(crate) fn finish(mut self, headers: Option<&RateHeaders>) {
        self.done = true;
        self.pacer.finish(self.bucket, headers);
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.done {
            self.pacer.finish(self.bucket, None);
        }
    }
}

fn index(bucket: Bucket) -> usize {
    match bucket {
        Bucket::Contacts => 0,
        Bucket::Events => 1,
        Bucket::Orders => 2,
        Bucket::Products => 3,
        Bucket::Other => 4,
    }
}

impl Pacer {
    /// `limits` gives each bucket's starting allowance.
    pub(crate) fn new(limits: impl Fn(Bucket) -> BucketLimits) -> Arc<Self> {
        Arc::new(Self {
            buckets: Bucket::ALL
                .iter()
                .map(|b| BucketPacer {
                    state: Mutex::new(BucketState::new(limits(*b))),
                    changed: Notify::new(),
                })
                .collect(),
        })
    }

    fn bucket(&self, bucket: Bucket) -> &BucketPacer {
        &self.buckets[index(bucket)]
    }

    /// Waits until a request of `bucket` may start; returns its ticket and whether it had
    /// to wait.
    pub(crate) async fn admit(self: &Arc<Self>, bucket: Bucket) -> (Ticket, bool) {
        let mut waited = false;
        let pacer = self.bucket(bucket);
        loop {
            // Register for wake-ups before looking, so a change in between is not missed.
            let notified = pacer.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let admission = pacer.state.lock().try_admit(Instant::now());
            match admission {
                Admission::Go => {
                    let ticket = Ticket {
                        pacer: Arc::clone(self),
                        bucket,
                        done: false,
                    };
                    return (ticket, waited);
                }
                Admission::WaitUntil(at) => {
                    waited = true;
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => {}
                        () = &mut notified => {}
                    }
                }
                Admission::WaitForChange => {
                    waited = true;
                    notified.await;
                }
            }
        }
    }

    fn finish(&self, bucket: Bucket, headers: Option<&RateHeaders>) {
        let pacer = self.bucket(bucket);
        pacer.state.lock().complete(Instant::now(), headers);
        // Every waiter looks again, even when none may start yet: those waiting for a
        // change must learn the reset instant this answer may have brought.
        pacer.changed.notify_waiters();
    }

    /// A 429 arrived: hold every request of `bucket` until `until`.
    pub(crate) fn pause_until(&self, bucket: Bucket, until: Instant) {
        self.bucket(bucket).state.lock().pause_until(until);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn window(remaining: u32, reset_s: u64) -> RateHeaders {
        RateHeaders {
            limit: Some(10),
            remaining: Some(remaining),
            reset: Some(Duration::from_secs(reset_s)),
            retry_after: None,
        }
    }

    fn go(s: &mut BucketState, now: Instant) -> bool {
        s.try_admit(now) == Admission::Go
    }

    #[test]
    fn parses_headers() {
        let h = headers(&[
            ("X-Sib-Ratelimit-Limit", "10"),
            ("x-sib-ratelimit-remaining", "3"),
            ("X-SIB-RATELIMIT-RESET", "2"),
            ("retry-after", "bogus"),
        ]);
        let p = RateHeaders::parse(&h);
        assert_eq!(p.limit, Some(10));
        assert_eq!(p.remaining, Some(3));
        assert_eq!(p.reset, Some(Duration::from_secs(2)));
        assert_eq!(p.retry_after, None);
        assert!(p.is_present());
        assert_eq!(p.wait_hint(), Some(Duration::from_secs(2)));
        assert!(!RateHeaders::parse(&HeaderMap::new()).is_present());
    }

    #[test]
    fn parses_fractional_negative_and_epoch_resets() {
        let now = Duration::from_secs(1_700_000_000);
        let p = RateHeaders::parse_at(&headers(&[(HEADER_RESET, "0.25")]), now);
        assert_eq!(p.reset, Some(Duration::from_millis(250)));
        let p = RateHeaders::parse_at(&headers(&[(HEADER_RESET, "-3")]), now);
        assert_eq!(p.reset, None);
        let p = RateHeaders::parse_at(&headers(&[(HEADER_RESET, "1700000030")]), now);
        assert_eq!(p.reset, Some(Duration::from_secs(30)));
        let p = RateHeaders::parse_at(&headers(&[(HEADER_RESET, "1700000005000")]), now);
        assert_eq!(p.reset, Some(Duration::from_secs(5)));
        let p = RateHeaders::parse_at(&headers(&[(HEADER_RETRY_AFTER, "7")]), now);
        assert_eq!(p.wait_hint(), Some(Duration::from_secs(7)));
        assert!(!p.is_present());
    }

    #[test]
    fn whole_second_resets_get_a_second_of_slack() {
        assert_eq!(reset_slack(Duration::from_secs(2)), WHOLE_SECONDS_SLACK);
        assert_eq!(reset_slack(Duration::ZERO), WHOLE_SECONDS_SLACK);
        assert_eq!(reset_slack(Duration::from_millis(250)), FRACTION_SLACK);
    }

    #[test]
    fn general_tier_allows_its_allowance_in_any_window() {
        let t0 = Instant::now();
        let mut s = BucketState::new(BucketLimits::new(Some(2), Some(7_200)));
        assert!(go(&mut s, t0));
        assert!(go(&mut s, t0 + Duration::from_millis(400)));
        match s.try_admit(t0 + Duration::from_millis(500)) {
            Admission::WaitUntil(at) => assert_eq!(at, t0 + Duration::from_secs(1)),
            other => panic!("{other:?}"),
        }
        assert!(go(&mut s, t0 + Duration::from_secs(1)));
        // The second admission still holds the window until 1.4 s.
        assert!(!go(&mut s, t0 + Duration::from_millis(1399)));
        assert!(go(&mut s, t0 + Duration::from_millis(1400)));
    }

    #[test]
    fn hourly_tier_allows_its_allowance_then_waits_the_hour() {
        let t0 = Instant::now();
        let mut s = BucketState::new(BucketLimits::new(None, Some(100)));
        for i in 0..100 {
            assert!(go(&mut s, t0 + Duration::from_secs(i)));
        }
        match s.try_admit(t0 + Duration::from_secs(100)) {
            Admission::WaitUntil(at) => assert_eq!(at, t0 + Duration::from_secs(3600)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn headers_take_over_and_remaining_zero_waits_for_the_reset() {
        let t0 = Instant::now();
        let mut s = BucketState::new(BucketLimits::new(Some(1), None));
        assert!(go(&mut s, t0));
        s.complete(t0, Some(&window(2, 1)));
        // The tier said 1/s, the headers say 2 left: the headers win.
        assert!(go(&mut s, t0));
        assert!(go(&mut s, t0));
        let reset_at = match s.try_admit(t0) {
            Admission::WaitUntil(at) => at,
            other => panic!("{other:?}"),
        };
        assert_eq!(reset_at, t0 + Duration::from_secs(1) + WHOLE_SECONDS_SLACK);
        s.complete(t0, Some(&window(1, 1)));
        s.complete(t0, Some(&window(0, 1)));
        assert!(!go(&mut s, t0 + Duration::from_millis(900)));
        // After the reset the limit is released.
        let mut admitted = 0;
        while go(&mut s, reset_at) {
            admitted += 1;
        }
        assert_eq!(admitted, 10);
    }

    #[test]
    fn in_flight_requests_are_subtracted() {
        let t0 = Instant::now();
        let mut s = BucketState::new(BucketLimits::UNLIMITED);
        assert!(go(&mut s, t0));
        s.complete(t0, Some(&window(5, 10)));
        for _ in 0..5 {
            assert!(go(&mut s, t0));
        }
        assert!(!go(&mut s, t0));
        // One answer says 4 left while 4 of ours are still in flight: none may go.
        s.complete(t0, Some(&window(4, 10)));
        assert!(!go(&mut s, t0));
        // Answers out of order never raise the budget: 2 left, 2 in flight.
        s.complete(t0, Some(&window(2, 10)));
        s.complete(t0, Some(&window(3, 10)));
        assert!(!go(&mut s, t0));
        s.complete(t0, Some(&window(1, 10)));
        s.complete(t0, Some(&window(1, 10)));
        // Every answer is in and one unit is left: it is not wasted.
        assert!(go(&mut s, t0));
        assert!(!go(&mut s, t0));
    }

    #[test]
    fn a_later_reset_opens_a_new_window_and_a_stale_one_is_ignored() {
        let t0 = Instant::now();
        let mut s = BucketState::new(BucketLimits::UNLIMITED);
        assert!(go(&mut s, t0));
        s.complete(t0, Some(&window(0, 1)));
        // Whole seconds: one second of reset plus the rounding slack.
        assert!(!go(&mut s, t0 + Duration::from_millis(2099)));
        let t1 = t0 + Duration::from_secs(3);
        assert!(go(&mut s, t1));
        s.complete(t1, Some(&window(9, 1)));
        let mut admitted = 0;
        while go(&mut s, t1) {
            admitted += 1;
        }
        assert_eq!(admitted, 9);
        for _ in 0..9 {
            s.complete(t1, Some(&window(5, 1)));
        }
        // An answer whose window ended long ago cannot change the budget.
        s.complete(t1 - Duration::from_secs(2), Some(&window(9, 0)));
        assert_eq!(s.window.unwrap().left, 5);
        // A reset clearly later than the known one shows the server's next window.
        s.try_admit(t1);
        s.complete(t1, Some(&window(8, 10)));
        assert_eq!(s.window.unwrap().left, 8);
    }

    #[test]
    fn a_pause_blocks_the_bucket_until_the_instant() {
        let t0 = Instant::now();
        let mut s = BucketState::new(BucketLimits::UNLIMITED);
        let until = t0 + Duration::from_millis(500);
        s.pause_until(until);
        assert_eq!(s.try_admit(t0), Admission::WaitUntil(until));
        assert!(go(&mut s, until));
    }

    proptest::proptest! {
        /// A simulated server counting fixed one-second windows (opened by the first
        /// request after the last one closed, reset rounded up or down, answers arriving
        /// after random delays): the pacer never sends a request the server would refuse,
        /// and it keeps sending (at least two windows' worth in six seconds).
        #[test]
        fn never_overruns_a_fixed_window_server(
            limit in 1u32..8,
            round_up: bool,
            latencies in proptest::collection::vec(0u64..300, 1..50),
            demand in proptest::collection::vec(0usize..4, 1..50),
        ) {
            let t0 = Instant::now();
            let second = Duration::from_secs(1);
            let mut s = BucketState::new(BucketLimits::new(Some(limit), None));
            let mut window: Option<(Instant, u32)> = None;
            let mut pending: Vec<(Instant, RateHeaders)> = Vec::new();
            let mut latency = latencies.iter().cycle();
            let (mut wanted, mut admitted) = (0usize, 0usize);
            for (step, want) in demand.iter().cycle().take(600).enumerate() {
                let now = t0 + Duration::from_millis(10 * step as u64);
                pending.sort_by_key(|p| p.0);
                while pending.first().is_some_and(|p| p.0 <= now) {
                    let (at, h) = pending.remove(0);
                    s.complete(at, Some(&h));
                }
                wanted += want;
                for _ in 0..*want {
                    if s.try_admit(now) != Admission::Go {
                        break;
                    }
                    admitted += 1;
                    let (start, used) = match window {
                        Some((start, used)) if now < start + second => (start, used + 1),
                        _ => (now, 1),
                    };
                    window = Some((start, used));
                    proptest::prop_assert!(used <= limit, "request {} of a window of {}", used, limit);
                    let left = (start + second).saturating_duration_since(now);
                    let reset = if round_up {
                        left.as_secs_f64().ceil() as u64
                    } else {
                        left.as_secs()
                    };
                    let headers = RateHeaders {
                        limit: Some(limit),
                        remaining: Some(limit - used),
                        reset: Some(Duration::from_secs(reset)),
                        retry_after: None,
                    };
                    let at = now + Duration::from_millis(*latency.next().unwrap_or(&0));
                    pending.push((at, headers));
                }
            }
            proptest::prop_assert!(admitted >= wanted.min(2 * limit as usize));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn buckets_are_independent() {
        let pacer = Pacer::new(|_| BucketLimits::UNLIMITED);
        let (t, _) = pacer.admit(Bucket::Other).await;
        t.finish(Some(&window(0, 3600)));
        pacer.pause_until(Bucket::Other, Instant::now() + Duration::from_secs(3600));
        let started = Instant::now();
        for _ in 0..20 {
            let (t, waited) = pacer.admit(Bucket::Contacts).await;
            assert!(!waited);
            t.finish(None);
        }
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn admit_sleeps_until_the_reset() {
        let pacer = Pacer::new(|_| BucketLimits::UNLIMITED);
        let (t, _) = pacer.admit(Bucket::Events).await;
        t.finish(Some(&window(0, 2)));
        let started = Instant::now();
        let (_t, waited) = pacer.admit(Bucket::Events).await;
        assert!(waited);
        assert!(started.elapsed() >= Duration::from_secs(2));
    }
}
