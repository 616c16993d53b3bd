//! The one retry decision: given how an attempt ended, whether the request is idempotent,
//! which attempt it was and the policy, retry after some delay or fail. Pure (the jitter
//! comes in as an argument), so it is tested as a table and with proptest.
//!
//! Rules (docs/api-notes.md §0.2, §0.7; CONTRIBUTING):
//! - 429: always retry, even a POST (the server refused it without processing), after
//!   `X-Rate-Limit-Time-Reset-Ms` (or `X-Retry-After` seconds); without headers the store
//!   is under platform load, so back off exponentially. A 429 whose headers still show
//!   requests left is a per-endpoint concurrency cap (docs/api-notes.md §0.7): back off, since the
//!   window reset is not what frees a slot.
//! - 408, 5xx except 501: retry idempotent requests only (a POST may have been applied).
//! - 501 and every other 4xx: fail at once; repeating cannot help, and a bad token must
//!   fail in well under a second.
//! - Transport: a connect error never reached the server, so any request retries;
//!   timeouts, lost connections and truncated bodies retry only when idempotent.
//! - Except a connect error (refused, name not resolved) before this client has ever had
//!   an answer from the host: that is a wrong base URL or no network far more often than
//!   a blip, so it fails at once instead of retrying for minutes. Once the host has
//!   answered, connect errors are blips again and retry as above.

use std::time::Duration;

use reqwest::header::HeaderMap;

use crate::error::TransportKind;
use crate::pacing::RateLimitHeaders;

/// Retry limits, taken from the client configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (so at most `max_retries + 1` attempts).
    pub max_retries: u32,
    /// Backoff before the first retry; doubles for each further one.
    pub base_delay: Duration,
    /// Ceiling of the exponential backoff.
    pub max_delay: Duration,
}

/// How one attempt ended.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    /// The server answered with this status (only non-success statuses reach `decide`).
    Status { status: u16, headers: &'a HeaderMap },
    /// No usable answer.
    Transport(TransportKind),
}

/// What to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Retry { after: Duration },
    Fail,
}

/// Longest wait a server header can impose, so a garbage header cannot park a sync for
/// days; real windows are 30 s.
pub const MAX_HEADER_WAIT: Duration = Duration::from_secs(15 * 60);

/// Slack added to a server-given reset time: the header is whole milliseconds and our
/// clock starts when the response arrives, so waking a little late avoids a second 429.
pub const RESET_SLACK: Duration = Duration::from_millis(5);

/// Decides whether attempt number `attempt` (1 for the first try) is retried.
/// `host_reached` says whether any request of this client has had an HTTP answer from the
/// host yet. `jitter` is a random number in `[0, 1)`; it spreads retries of concurrent
/// requests.
pub fn decide(
    idempotent: bool,
    host_reached: bool,
    outcome: &Outcome<'_>,
    attempt: u32,
    policy: &RetryPolicy,
    jitter: f64,
) -> Decision {
    if attempt > policy.max_retries {
        return Decision::Fail;
    }
    let backoff = || backoff_delay(attempt, policy, jitter);
    match *outcome {
        Outcome::Status {
            status: 429,
            headers,
        } => {
            let rate = RateLimitHeaders::parse(headers);
            // Only a spent quota is fixed by waiting for the reset; a 429 that still shows
            // requests left (a concurrency cap) just needs a short backoff.
            let hint = rate.wait_hint().filter(|_| rate.quota_exhausted());
            match hint {
                // Repeated 429s despite waiting for the reset mean someone else is
                // spending the quota too: wait at least the growing backoff as well.
                Some(wait) => {
                    let wait = (wait + RESET_SLACK).min(MAX_HEADER_WAIT);
                    let after = if attempt > 1 {
                        wait.max(backoff())
                    } else {
                        wait
                    };
                    Decision::Retry { after }
                }
                None => Decision::Retry { after: backoff() },
            }
        }
        Outcome::Status { status, .. } => {
            let transient = status == 408 || (status >= 500 && status != 501);
            if transient && idempotent {
                Decision::Retry { after: backoff() }
            } else {
                Decision::Fail
            }
        }
        Outcome::Transport(kind) => {
            let retry = match kind {
                TransportKind::Connect => host_reached,
                TransportKind::Timeout
                | TransportKind::ConnectionLost
                | TransportKind::TruncatedBody => idempotent,
                TransportKind::Other => false,
            };
            if retry {
                Decision::Retry { after: backoff() }
            } else {
                Decision::Fail
            }
        }
    }
}

/// The one log line for a retried attempt, e.g.
/// `GET /v3/orders/7/transactions: HTTP 503 on attempt 1/9, retrying in 1.2 s`.
/// `path` is without query string; `reason` is the status or the transport failure.
pub fn log_line(
    method: &str,
    path: &str,
    reason: &str,
    attempt: u32,
    max_attempts: u32,
    after: Duration,
) -> String {
    format!(
        "{method} {path}: {reason} on attempt {attempt}/{max_attempts}, retrying in {:.1} s",
        after.as_secs_f64()
    )
}

/// Exponential backoff with "equal jitter": half of `base * 2^(attempt-1)` (capped at
/// `max_delay`) is fixed, the other half random. Keeping a fixed half guarantees a real
/// pause even with unlucky jitter; the random half de-synchronises concurrent retries.
pub fn backoff_delay(attempt: u32, policy: &RetryPolicy, jitter: f64) -> Duration {
    let exponent = attempt.saturating_sub(1).min(31);
    let raw = policy.base_delay.saturating_mul(1u32 << exponent);
    let capped = raw.min(policy.max_delay);
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let half = capped / 2;
    half + (capped - half).mul_f64(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use reqwest::header::HeaderValue;

    const POLICY: RetryPolicy = RetryPolicy {
        max_retries: 3,
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(1000),
    };

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn status(idempotent: bool, code: u16, attempt: u32) -> Decision {
        let h = HeaderMap::new();
        decide(
            idempotent,
            true,
            &Outcome::Status {
                status: code,
                headers: &h,
            },
            attempt,
            &POLICY,
            0.0,
        )
    }

    fn transport(idempotent: bool, host_reached: bool, kind: TransportKind) -> Decision {
        decide(
            idempotent,
            host_reached,
            &Outcome::Transport(kind),
            1,
            &POLICY,
            0.0,
        )
    }

    #[test]
    fn status_table() {
        // (status, idempotent, retried?)
        let table: &[(u16, bool, bool)] = &[
            (400, true, false),
            (401, true, false),
            (403, true, false),
            (404, true, false),
            (405, true, false),
            (409, true, false),
            (413, true, false),
            (415, true, false),
            (422, true, false),
            (423, true, false),
            (408, true, true),
            (408, false, false),
            (429, true, true),
            (429, false, true),
            (500, true, true),
            (500, false, false),
            (501, true, false),
            (502, true, true),
            (503, true, true),
            (503, false, false),
            (504, true, true),
            (507, true, true),
            (599, true, true),
        ];
        for &(code, idempotent, retried) in table {
            let d = status(idempotent, code, 1);
            assert_eq!(
                matches!(d, Decision::Retry { .. }),
                retried,
                "status {code} idempotent={idempotent}: {d:?}"
            );
        }
    }

    #[test]
    fn transport_table() {
        // (kind, idempotent, host reached before, retried?)
        let table: &[(TransportKind, bool, bool, bool)] = &[
            (TransportKind::Connect, true, true, true),
            (TransportKind::Connect, false, true, true),
            // The host never answered: a wrong base URL or no network, fail at once.
            (TransportKind::Connect, true, false, false),
            (TransportKind::Connect, false, false, false),
            (TransportKind::Timeout, true, true, true),
            (TransportKind::Timeout, true, false, true),
            (TransportKind::Timeout, false, true, false),
            (TransportKind::ConnectionLost, true, true, true),
            (TransportKind::ConnectionLost, true, false, true),
            (TransportKind::ConnectionLost, false, true, false),
            (TransportKind::TruncatedBody, true, true, true),
            (TransportKind::TruncatedBody, false, true, false),
            (TransportKind::Other, true, true, false),
            (TransportKind::Other, true, false, false),
        ];
        for &(kind, idempotent, host_reached, retried) in table {
            let d = transport(idempotent, host_reached, kind);
            assert_eq!(
                matches!(d, Decision::Retry { .. }),
                retried,
                "{kind:?} idempotent={idempotent} host_reached={host_reached}: {d:?}"
            );
        }
    }

    #[test]
    fn log_line_is_short_and_complete() {
        let line = log_line(
            "GET",
            "/v3/orders/7/transactions",
            "HTTP 503",
            1,
            9,
            Duration::from_millis(1234),
        );
        assert_eq!(
            line,
            "GET /v3/orders/7/transactions: HTTP 503 on attempt 1/9, retrying in 1.2 s"
        );
    }

    #[test]
    fn gives_up_after_max_retries() {
        assert!(matches!(status(true, 503, 3), Decision::Retry { .. }));
        assert_eq!(status(true, 503, 4), Decision::Fail);
        assert_eq!(status(false, 429, 4), Decision::Fail);
    }

    #[test]
    fn rate_limited_waits_for_the_reset_header() {
        let h = headers(&[
            ("x-rate-limit-time-reset-ms", "2500"),
            ("X-Rate-Limit-Requests-Left", "0"),
        ]);
        let d = decide(
            false,
            true,
            &Outcome::Status {
                status: 429,
                headers: &h,
            },
            1,
            &POLICY,
            0.9,
        );
        assert_eq!(
            d,
            Decision::Retry {
                after: Duration::from_millis(2500) + RESET_SLACK
            }
        );
        // X-Retry-After (seconds) is the fallback when the reset header is missing.
        let h = headers(&[("X-Retry-After", "3")]);
        let d = decide(
            true,
            true,
            &Outcome::Status {
                status: 429,
                headers: &h,
            },
            1,
            &POLICY,
            0.0,
        );
        assert_eq!(
            d,
            Decision::Retry {
                after: Duration::from_secs(3) + RESET_SLACK
            }
        );
    }

    #[test]
    fn concurrency_cap_429_backs_off_instead_of_waiting_for_the_window() {
        let h = headers(&[
            ("X-Rate-Limit-Time-Reset-Ms", "25000"),
            ("X-Rate-Limit-Requests-Left", "120"),
        ]);
        let d = decide(
            true,
            true,
            &Outcome::Status {
                status: 429,
                headers: &h,
            },
            1,
            &POLICY,
            0.0,
        );
        assert_eq!(
            d,
            Decision::Retry {
                after: Duration::from_millis(50)
            }
        );
    }

    #[test]
    fn repeated_429_backs_off_further_than_a_tiny_reset() {
        let h = headers(&[("X-Rate-Limit-Time-Reset-Ms", "1")]);
        let d = decide(
            true,
            true,
            &Outcome::Status {
                status: 429,
                headers: &h,
            },
            3,
            &POLICY,
            0.0,
        );
        // attempt 3: backoff base*4 = 400 ms, half fixed with zero jitter = 200 ms.
        assert_eq!(
            d,
            Decision::Retry {
                after: Duration::from_millis(200)
            }
        );
    }

    #[test]
    fn rate_limited_without_headers_backs_off_exponentially() {
        let first = status(true, 429, 1);
        let third = status(true, 429, 3);
        match (first, third) {
            (Decision::Retry { after: a }, Decision::Retry { after: b }) => {
                assert_eq!(a, Duration::from_millis(50));
                assert_eq!(b, Duration::from_millis(200));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn backoff_is_capped_and_jittered() {
        assert_eq!(backoff_delay(1, &POLICY, 0.0), Duration::from_millis(50));
        assert_eq!(backoff_delay(1, &POLICY, 1.0), Duration::from_millis(100));
        assert_eq!(backoff_delay(2, &POLICY, 1.0), Duration::from_millis(200));
        assert_eq!(backoff_delay(30, &POLICY, 1.0), Duration::from_millis(1000));
        assert_eq!(
            backoff_delay(u32::MAX, &POLICY, f64::NAN),
            Duration::from_millis(500)
        );
    }

    proptest! {
        #[test]
        fn delays_stay_within_bounds(
            attempt in 1u32..40,
            max_retries in 0u32..20,
            base_ms in 0u64..5_000,
            max_ms in 0u64..120_000,
            jitter in 0.0f64..1.0,
            code in 400u16..600,
            idempotent: bool,
            reset_ms in proptest::option::of(0u64..10_000_000),
        ) {
            let policy = RetryPolicy {
                max_retries,
                base_delay: Duration::from_millis(base_ms),
                max_delay: Duration::from_millis(max_ms),
            };
            let mut h = HeaderMap::new();
            if let Some(ms) = reset_ms {
                h.insert("x-rate-limit-time-reset-ms", HeaderValue::from(ms));
            }
            let d = decide(idempotent, true, &Outcome::Status { status: code, headers: &h }, attempt, &policy, jitter);
            match d {
                Decision::Fail => {}
                Decision::Retry { after } => {
                    prop_assert!(attempt <= max_retries);
                    let backoff_bound = policy.max_delay;
                    if code == 429 && reset_ms.is_some() {
                        prop_assert!(after <= MAX_HEADER_WAIT.max(backoff_bound));
                        prop_assert!(after >= Duration::from_millis(reset_ms.unwrap_or(0)).min(MAX_HEADER_WAIT));
                    } else {
                        prop_assert!(after <= backoff_bound);
                        let floor = policy.base_delay.saturating_mul(1 << (attempt - 1).min(31)).min(policy.max_delay) / 2;
                        prop_assert!(after >= floor);
                    }
                }
            }
        }
    }
}
