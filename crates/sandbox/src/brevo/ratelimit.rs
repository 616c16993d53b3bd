//! Rate limits per API key and bucket (docs/brevo-api-notes.md §0.4): each bucket has a
//! per-second and a per-hour fixed window, and both apply. Every answer of a limited route
//! carries `x-sib-ratelimit-limit`, `-remaining` and `-reset`; an empty bucket answers 429
//! with an error body and no `Retry-After` (Brevo documents none).
//!
//! Windows open at a bucket's first request and last `1 s × time_scale` and
//! `3600 s × time_scale` on the emulator clock. The headers describe the window with the
//! fewest requests left (the one that refused, on a 429); `-reset` is the whole number of
//! real seconds, rounded up, until that window closes, so a client that sleeps it never
//! retries early.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use std::collections::HashMap;

use super::config::{Bucket, TierLimits};
use super::error::BrevoError;
use super::server::{BrevoShared, KeyIndex};

pub const HEADER_LIMIT: &str = "x-sib-ratelimit-limit";
pub const HEADER_REMAINING: &str = "x-sib-ratelimit-remaining";
pub const HEADER_RESET: &str = "x-sib-ratelimit-reset";

#[derive(Debug, Clone, Copy, Default)]
struct Window {
    opened: Option<Duration>,
    used: u32,
}

impl Window {
    /// Rolls the window over if it has closed, then reports (left, reset).
    fn refresh(&mut self, now: Duration, length: Duration) {
        if let Some(o) = self.opened
            && now >= o + length
        {
            self.opened = None;
            self.used = 0;
        }
    }

    fn reset_in(&self, now: Duration, length: Duration) -> Duration {
        match self.opened {
            Some(o) => (o + length).saturating_sub(now),
            None => length,
        }
    }
}

#[derive(Debug, Default)]
struct BucketState {
    second: Window,
    hour: Window,
}

/// What the headers of one answer say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateHeaders {
    pub limit: u32,
    pub remaining: u32,
    /// Real time until the window resets.
    pub reset: Duration,
    /// Whether the clock is scaled: the reset is then sent with milliseconds.
    pub scaled: bool,
}

impl RateHeaders {
    /// The reset as Brevo sends it: whole seconds, rounded up (docs/brevo-api-notes.md
    /// §0.4). Under a scaled clock a window can last less than a second, which whole
    /// seconds cannot say without making every client wait ten or a hundred windows; there
    /// the reset is sent in seconds with three decimals, a form a careful client reads too.
    pub fn reset_text(&self) -> String {
        if self.scaled {
            let ms = self.reset.as_nanos().div_ceil(1_000_000).max(1);
            format!("{}.{:03}", ms / 1000, ms % 1000)
        } else {
            secs_ceil(self.reset).to_string()
        }
    }

    /// The reset in whole seconds, rounded up.
    pub fn reset_secs(&self) -> u64 {
        secs_ceil(self.reset)
    }

    pub fn apply(&self, headers: &mut axum::http::HeaderMap) {
        headers.insert(HEADER_LIMIT, HeaderValue::from(self.limit));
        headers.insert(HEADER_REMAINING, HeaderValue::from(self.remaining));
        if let Ok(v) = HeaderValue::from_str(&self.reset_text()) {
            headers.insert(HEADER_RESET, v);
        }
    }
}

/// The outcome of taking one request from a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The bucket has no limits: no headers.
    Unlimited,
    Allowed(RateHeaders),
    Refused(RateHeaders),
}

/// The buckets of every key.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<(usize, Bucket), BucketState>>,
}

fn secs_ceil(d: Duration) -> u64 {
    let s = d.as_secs();
    if d.subsec_nanos() > 0 { s + 1 } else { s }.max(1)
}

impl RateLimiter {
    pub fn clear(&self) {
        self.buckets.lock().clear();
    }

    /// Takes one request from `key`'s `bucket` at emulator time `now`.
    pub fn admit(
        &self,
        limits: &TierLimits,
        time_scale: f64,
        key: usize,
        bucket: Bucket,
        now: Duration,
    ) -> Admission {
        let limit = limits.get(bucket);
        let scaled = time_scale != 1.0;
        let second_len = Duration::from_secs_f64(time_scale.max(0.000_001));
        let hour_len = Duration::from_secs_f64(3600.0 * time_scale.max(0.000_001));
        let mut map = self.buckets.lock();
        let state = map.entry((key, bucket)).or_default();
        let mut windows: Vec<(&mut Window, u32, Duration)> = Vec::new();
        if let Some(n) = limit.per_second {
            windows.push((&mut state.second, n, second_len));
        }
        if let Some(n) = limit.per_hour {
            windows.push((&mut state.hour, n, hour_len));
        }
        if windows.is_empty() {
            return Admission::Unlimited;
        }
        for (w, _, len) in windows.iter_mut() {
            w.refresh(now, *len);
        }
        // A full window refuses without using a unit of the others.
        if let Some((w, n, len)) = windows.iter().find(|(w, n, _)| w.used >= *n) {
            return Admission::Refused(RateHeaders {
                limit: *n,
                remaining: 0,
                reset: w.reset_in(now, *len),
                scaled,
            });
        }
        for (w, _, _) in windows.iter_mut() {
            if w.opened.is_none() {
                w.opened = Some(now);
            }
            w.used += 1;
        }
        // Report the window with the fewest requests left; on a tie, the longer one
        // (its reset is the one that matters to a client planning ahead).
        let mut best: Option<RateHeaders> = None;
        for (w, n, len) in windows.iter() {
            let h = RateHeaders {
                limit: *n,
                remaining: n.saturating_sub(w.used),
                reset: w.reset_in(now, *len),
                scaled,
            };
            best = match best {
                Some(b) if b.remaining < h.remaining => Some(b),
                _ => Some(h),
            };
        }
        match best {
            Some(h) => Admission::Allowed(h),
            None => Admission::Unlimited,
        }
    }
}

/// The bucket a request was counted against, put in the response extensions for the log.
#[derive(Debug, Clone, Copy)]
pub struct CountedIn(pub Bucket);

/// Middleware behind auth: takes a unit, answers 429 when the bucket is empty, and puts the
/// headers on the answer.
pub async fn middleware(State(st): State<BrevoShared>, req: Request, next: Next) -> Response {
    let bucket = Bucket::of(req.method(), req.uri().path());
    let key = req.extensions().get::<KeyIndex>().map_or(0, |k| k.0);
    let (limits, scale) = {
        let s = st.settings.read();
        (s.limits.clone(), s.time_scale)
    };
    let admission = st
        .limiter
        .admit(&limits, scale, key, bucket, st.clock.now());
    let mut resp = match admission {
        Admission::Refused(_) => BrevoError::new(
            StatusCode::TOO_MANY_REQUESTS,
            // docs/brevo-api-notes.md §0.4: the code is UNCERTAIN; clients key on the status.
            "too_many_requests",
            "The rate limit of this route is reached; wait the seconds in x-sib-ratelimit-reset, then retry.",
        )
        .into_response(),
        _ => next.run(req).await,
    };
    let strip = resp
        .extensions()
        .get::<super::faults::StripRateHeaders>()
        .is_some();
    match admission {
        Admission::Allowed(h) | Admission::Refused(h) if !strip => h.apply(resp.headers_mut()),
        _ => {}
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::brevo::config::BucketLimit;

    fn limits(s: Option<u32>, h: Option<u32>) -> TierLimits {
        let mut l = TierLimits::unlimited();
        l.contacts = BucketLimit {
            per_second: s,
            per_hour: h,
        };
        l
    }

    #[test]
    fn per_second_and_per_hour_both_apply() {
        let rl = RateLimiter::default();
        let l = limits(Some(2), Some(3));
        let t = Duration::from_millis(10);
        let a = |now| rl.admit(&l, 1.0, 0, Bucket::Contacts, now);
        assert!(matches!(a(t), Admission::Allowed(h) if h.remaining == 1 && h.limit == 2));
        assert!(matches!(a(t), Admission::Allowed(h) if h.remaining == 0));
        // Second window full.
        assert!(
            matches!(a(t), Admission::Refused(h) if h.limit == 2 && h.reset_secs() == 1 && h.reset_text() == "1")
        );
        let later = Duration::from_millis(1500);
        assert!(matches!(a(later), Admission::Allowed(h) if h.limit == 3 && h.remaining == 0));
        // Now the hour window is the one that refuses, with a long reset.
        let later = Duration::from_millis(3000);
        assert!(matches!(a(later), Admission::Refused(h) if h.limit == 3 && h.reset_secs() > 3500));
        // Another key has its own buckets.
        assert!(matches!(
            rl.admit(&l, 1.0, 1, Bucket::Contacts, later),
            Admission::Allowed(_)
        ));
        // Another bucket of the same key is unlimited here.
        assert_eq!(
            rl.admit(&l, 1.0, 0, Bucket::Other, later),
            Admission::Unlimited
        );
    }

    #[test]
    fn time_scale_shrinks_the_window_and_the_reset() {
        let rl = RateLimiter::default();
        let l = limits(None, Some(1));
        assert!(matches!(
            rl.admit(&l, 0.01, 0, Bucket::Contacts, Duration::ZERO),
            Admission::Allowed(_)
        ));
        match rl.admit(&l, 0.01, 0, Bucket::Contacts, Duration::from_secs(1)) {
            Admission::Refused(h) => {
                assert_eq!(h.reset_secs(), 35);
                assert_eq!(h.reset_text(), "35.000");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            rl.admit(&l, 0.01, 0, Bucket::Contacts, Duration::from_secs(36)),
            Admission::Allowed(_)
        ));
    }
}
