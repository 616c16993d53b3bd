//! The one retry decision: given how an attempt ended, whether the request is safe to
//! repeat, which attempt it was and the policy, retry after some delay or fail. Pure (the
//! jitter comes in as an argument), so it is tested as a table and with proptest.
//!
//! Rules (docs/brevo-api-notes.md §0.2, §0.4):
//! - 429: always retry, even a write (the server refused it without processing it), after
//!   `x-sib-ratelimit-reset` seconds, or an undocumented `Retry-After` if that is all there
//!   is, plus a slack for rounding (a whole-seconds value may have been rounded down, so
//!   it gets a second more); without either, exponential backoff with jitter. Repeated 429s wait at least the
//!   growing backoff too (someone else may be spending the same allowance). A 429 whose
//!   headers still show requests left is refused by a limit the headers do not describe
//!   (a per-second cap under an hourly window): back off instead of waiting for a reset
//!   that may be an hour away.
//! - 425 Too Early: the write was refused, not applied (a concurrent change to the same
//!   contact): retry with backoff.
//! - 408 and 5xx except 501: retry only requests that are safe to repeat (GET, PUT,
//!   DELETE, upserts with `updateEnabled`, `/orders/status`, a checked list add); never
//!   `POST /events` or a plain create, which may have been applied.
//! - 501, 400, 401, 403, 404, 422 and every other status: fail at once; repeating cannot
//!   help, and a wrong key must fail in one request.
//! - Transport: a connect error never reached the server, so any request retries, except
//!   before this client has ever had an answer from the host (a wrong base URL or no
//!   network: fail at once instead of retrying for minutes). Timeouts, lost connections
//!   and cut bodies retry only requests that are safe to repeat.

use std::time::Duration;

use crate::error::TransportKind;
use crate::pacing::{RateHeaders, reset_slack};

/// Retry limits, from the client configuration.
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
    /// The server answered with this non-success status.
    Status { status: u16, rate: &'a RateHeaders },
    /// No usable answer.
    Transport(TransportKind),
}

/// What to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Retry { after: Duration },
    Fail,
}

/// Longest wait a header can impose (a bad header must not park a sync for days); the
/// longest real window is an hour.
pub const MAX_HEADER_WAIT: Duration = Duration::from_secs(3600);

/// Decides whether attempt number `attempt` (1 for the first) is retried. `repeatable`
/// says the request is safe to send twice; `host_reached` whether any request of this
/// client has had an HTTP answer yet; `jitter` is a random number in `[0, 1)`.
pub fn decide(
    repeatable: bool,
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
    let retry_if = |yes: bool| {
        if yes {
            Decision::Retry { after: backoff() }
        } else {
            Decision::Fail
        }
    };
    match *outcome {
        // Only a spent allowance is fixed by waiting for the reset; a 429 whose headers
        // still show requests left comes from a limit the headers do not describe (a
        // per-second cap under an hourly window), which a short backoff fixes.
        Outcome::Status { status: 429, rate } => match rate
            .wait_hint()
            .filter(|_| rate.remaining.is_none_or(|left| left == 0))
        {
            Some(wait) => {
                let wait = (wait + reset_slack(wait)).min(MAX_HEADER_WAIT);
                let after = if attempt > 1 {
                    wait.max(backoff())
                } else {
                    wait
                };
                Decision::Retry { after }
            }
            None => Decision::Retry { after: backoff() },
        },
        Outcome::Status { status: 425, .. } => retry_if(true),
        Outcome::Status { status, .. } => retry_if(
            repeatable && (status == 408 || ((500..=599).contains(&status) && status != 501)),
        ),
        Outcome::Transport(kind) => retry_if(match kind {
            TransportKind::Connect => host_reached,
            TransportKind::Timeout
            | TransportKind::ConnectionLost
            | TransportKind::TruncatedBody => repeatable,
            TransportKind::Other => false,
        }),
    }
}

/// The one log line for a retried attempt, e.g.
/// `POST /contacts: HTTP 503 on attempt 1/6, retrying in 1.2 s`.
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
/// `max_delay`) is fixed, the other half random, so concurrent retries spread out but
/// every retry still pauses.
pub fn backoff_delay(attempt: u32, policy: &RetryPolicy, jitter: f64) -> Duration {
    let exponent = attempt.saturating_sub(1).min(31);
    let capped = policy
        .base_delay
        .saturating_mul(1u32 << exponent)
        .min(policy.max_delay);
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

    const POLICY: RetryPolicy = RetryPolicy {
        max_retries: 3,
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(1000),
    };

    fn status(repeatable: bool, code: u16, rate: &RateHeaders, attempt: u32) -> Decision {
        decide(
            repeatable,
            true,
            &Outcome::Status { status: code, rate },
            attempt,
            &POLICY,
            0.0,
        )
    }

    fn retried(d: Decision) -> bool {
        matches!(d, Decision::Retry { .. })
    }

    #[test]
    fn status_table() {
        let none = RateHeaders::default();
        // (status, repeatable, retried?)
        let table: &[(u16, bool, bool)] = &[
            (400, true, false),
            (401, true, false),
            (401, false, false),
            (402, true, false),
            (403, true, false),
            (404, true, false),
            (405, true, false),
            (406, true, false),
            (409, true, false),
            (422, true, false),
            (408, true, true),
            (408, false, false),
            (425, true, true),
            (425, false, true),
            (429, true, true),
            (429, false, true),
            (500, true, true),
            (500, false, false),
            (501, true, false),
            (502, true, true),
            (502, false, false),
            (503, true, true),
            (504, true, true),
            (599, true, true),
        ];
        for &(code, repeatable, want) in table {
            let d = status(repeatable, code, &none, 1);
            assert_eq!(retried(d), want, "{code} repeatable={repeatable}: {d:?}");
        }
    }

    #[test]
    fn transport_table() {
        // (kind, repeatable, host reached before, retried?)
        let table: &[(TransportKind, bool, bool, bool)] = &[
            (TransportKind::Connect, true, true, true),
            (TransportKind::Connect, false, true, true),
            (TransportKind::Connect, true, false, false),
            (TransportKind::Connect, false, false, false),
            (TransportKind::Timeout, true, true, true),
            (TransportKind::Timeout, false, true, false),
            (TransportKind::ConnectionLost, true, false, true),
            (TransportKind::ConnectionLost, false, true, false),
            (TransportKind::TruncatedBody, true, true, true),
            (TransportKind::TruncatedBody, false, true, false),
            (TransportKind::Other, true, true, false),
        ];
        for &(kind, repeatable, host_reached, want) in table {
            let d = decide(
                repeatable,
                host_reached,
                &Outcome::Transport(kind),
                1,
                &POLICY,
                0.0,
            );
            assert_eq!(retried(d), want, "{kind:?} {repeatable} {host_reached}");
        }
    }

    #[test]
    fn rate_limited_waits_for_the_reset() {
        let rate = RateHeaders {
            limit: Some(10),
            remaining: Some(0),
            reset: Some(Duration::from_secs(3)),
            retry_after: Some(Duration::from_secs(99)),
        };
        assert_eq!(
            status(false, 429, &rate, 1),
            Decision::Retry {
                after: Duration::from_millis(4100)
            }
        );
        // A fractional reset is not rounded: a small slack is enough.
        let rate = RateHeaders {
            remaining: Some(0),
            reset: Some(Duration::from_millis(250)),
            ..RateHeaders::default()
        };
        assert_eq!(
            status(true, 429, &rate, 1),
            Decision::Retry {
                after: Duration::from_millis(350)
            }
        );
        // Retry-After when there is no reset header.
        let rate = RateHeaders {
            retry_after: Some(Duration::from_secs(7)),
            ..RateHeaders::default()
        };
        assert_eq!(
            status(true, 429, &rate, 1),
            Decision::Retry {
                after: Duration::from_millis(8100)
            }
        );
        // A huge reset is capped.
        let rate = RateHeaders {
            reset: Some(Duration::from_secs(86_400)),
            ..RateHeaders::default()
        };
        assert_eq!(
            status(true, 429, &rate, 1),
            Decision::Retry {
                after: MAX_HEADER_WAIT
            }
        );
    }

    #[test]
    fn a_429_with_requests_left_backs_off_instead_of_waiting_for_the_window() {
        let rate = RateHeaders {
            limit: Some(36_000),
            remaining: Some(35_000),
            reset: Some(Duration::from_secs(3000)),
            retry_after: None,
        };
        assert_eq!(
            status(true, 429, &rate, 1),
            Decision::Retry {
                after: Duration::from_millis(50)
            }
        );
    }

    #[test]
    fn repeated_429_waits_at_least_the_backoff() {
        let rate = RateHeaders {
            reset: Some(Duration::from_millis(50)),
            ..RateHeaders::default()
        };
        // A fractional reset gets 100 ms of slack: 150 ms; but attempt 3's backoff is
        // base*4 = 400 ms, whose fixed half is 200 ms.
        assert_eq!(
            status(true, 429, &rate, 3),
            Decision::Retry {
                after: Duration::from_millis(200)
            }
        );
        // Without headers: plain backoff.
        assert_eq!(
            status(true, 429, &RateHeaders::default(), 1),
            Decision::Retry {
                after: Duration::from_millis(50)
            }
        );
    }

    #[test]
    fn gives_up_after_max_retries() {
        let none = RateHeaders::default();
        assert!(retried(status(true, 503, &none, 3)));
        assert_eq!(status(true, 503, &none, 4), Decision::Fail);
        assert_eq!(status(true, 429, &none, 4), Decision::Fail);
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

    #[test]
    fn log_line_is_short() {
        assert_eq!(
            log_line(
                "POST",
                "/contacts",
                "HTTP 503",
                1,
                6,
                Duration::from_millis(1234)
            ),
            "POST /contacts: HTTP 503 on attempt 1/6, retrying in 1.2 s"
        );
    }

    proptest! {
        #[test]
        fn never_retries_what_must_fail(
            code in 400u16..600,
            repeatable: bool,
            attempt in 1u32..10,
            jitter in 0.0f64..1.0,
            reset_s in proptest::option::of(0u64..100_000),
        ) {
            let rate = RateHeaders { reset: reset_s.map(Duration::from_secs), ..RateHeaders::default() };
            let d = decide(repeatable, true, &Outcome::Status { status: code, rate: &rate }, attempt, &POLICY, jitter);
            let transient = code == 408 || (code >= 500 && code != 501);
            let may_retry = code == 429 || code == 425 || (repeatable && transient);
            if !may_retry || attempt > POLICY.max_retries {
                prop_assert_eq!(d, Decision::Fail);
            } else {
                match d {
                    Decision::Fail => prop_assert!(false, "{} should retry", code),
                    Decision::Retry { after } => {
                        if code == 429 && let Some(s) = reset_s {
                            let want = (Duration::from_secs(s) + reset_slack(Duration::from_secs(s))).min(MAX_HEADER_WAIT);
                            prop_assert!(after >= want);
                            prop_assert!(after <= want.max(POLICY.max_delay));
                        } else {
                            prop_assert!(after <= POLICY.max_delay);
                            prop_assert!(after >= POLICY.base_delay / 2);
                        }
                    }
                }
            }
        }
    }
}
