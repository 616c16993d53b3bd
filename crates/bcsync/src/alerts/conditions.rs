//! Whether a condition holds, from what was observed: a finished run's record (push,
//! Brevo) or `listen`'s health. Pure, so it is tested as a table.
//!
//! Rules:
//! - A dry run, a run still `running` and an `interrupted` run say nothing: they neither
//!   open nor close an incident (an interrupted run did not finish, so its counts tell
//!   neither that the sync works nor that it fails).
//! - `run_failed`: status `failed`, or `refused` (a guard rail stopped it).
//! - `rejected_rows`: the rows rejected (refused values for Brevo) above a count, or above
//!   a fraction of the rows the source held; a run that does not record its source rows
//!   (Brevo) says nothing to a fraction.
//! - `quota_exhausted`: the run met any answer 429, or failed on its rate limit.
//! - `hook_deactivated` and `lag`: only `listen`'s health says anything about them.

use super::config::{Condition, Threshold};
use crate::state::push::{INTERRUPTED, RunRecord};

/// What was observed.
#[derive(Debug, Clone, Copy)]
pub enum Observed<'a> {
    Run(&'a RunRecord),
    Listen(&'a ListenHealth),
}

/// `listen`'s health at one check.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListenHealth {
    /// Scopes of our hooks the store had deactivated (found and re-activated this check);
    /// `None` when the hooks were not checked (no `--public-url`, or the check failed).
    pub deactivated_hooks: Option<Vec<String>>,
    /// Minutes the oldest pending event has waited; `None`: nothing pending.
    pub lag_minutes: Option<f64>,
}

/// Whether a condition holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Finding {
    /// It holds; the words say how (`run 12 failed: ...`).
    Holds(String),
    /// It does not hold: an open incident is resolved.
    Clear,
    /// This observation says nothing about it.
    Silent,
}

pub fn check(condition: &Condition, observed: Observed<'_>) -> Finding {
    match observed {
        Observed::Run(run) => check_run(condition, run),
        Observed::Listen(health) => check_listen(condition, health),
    }
}

fn check_run(condition: &Condition, run: &RunRecord) -> Finding {
    if run.dry_run || run.status == "running" || run.status == INTERRUPTED {
        return Finding::Silent;
    }
    let holds = |yes: bool, words: String| {
        if yes {
            Finding::Holds(words)
        } else {
            Finding::Clear
        }
    };
    match condition {
        Condition::RunFailed => {
            let failed = run.status == "failed" || run.status == "refused";
            let how = if run.status == "refused" {
                "was refused by a guard rail"
            } else {
                "failed"
            };
            holds(
                failed,
                format!(
                    "run {} {how}: {}",
                    run.id,
                    run.message.as_deref().unwrap_or("no message")
                ),
            )
        }
        Condition::RejectedRows { threshold } => {
            let rejected = run
                .counts
                .get("rejected")
                .copied()
                .unwrap_or(0)
                .max(run.rejected.len() as u64);
            let source_rows = run.counts.get("source_rows").copied();
            match (threshold, source_rows) {
                (Threshold::Count(limit), _) => holds(
                    rejected > *limit,
                    format!(
                        "run {} rejected {rejected} rows (the alert allows {limit})",
                        run.id
                    ),
                ),
                (Threshold::Fraction(_), None | Some(0)) => Finding::Silent,
                (Threshold::Fraction(limit), Some(rows)) => {
                    let share = rejected as f64 / rows as f64;
                    holds(
                        share > *limit,
                        format!(
                            "run {} rejected {rejected} of {rows} rows ({:.1}%; the alert allows {:.1}%)",
                            run.id,
                            share * 100.0,
                            limit * 100.0
                        ),
                    )
                }
            }
        }
        Condition::QuotaExhausted => {
            let failed_on_limit = run.status == "failed"
                && run
                    .message
                    .as_deref()
                    .is_some_and(|m| m.contains("HTTP 429"));
            holds(
                run.throttled > 0 || failed_on_limit,
                format!(
                    "run {} hit its rate limit: {} {} answered 429{}",
                    run.id,
                    run.throttled,
                    if run.throttled == 1 {
                        "request"
                    } else {
                        "requests"
                    },
                    if failed_on_limit {
                        ", and it failed on it"
                    } else {
                        ""
                    }
                ),
            )
        }
        Condition::HookDeactivated | Condition::Lag { .. } => Finding::Silent,
    }
}

fn check_listen(condition: &Condition, health: &ListenHealth) -> Finding {
    match condition {
        Condition::HookDeactivated => match &health.deactivated_hooks {
            None => Finding::Silent,
            Some(hooks) if hooks.is_empty() => Finding::Clear,
            Some(hooks) => Finding::Holds(format!(
                "the store had deactivated the webhooks for {} (listen re-activated them and polls to fill the gap)",
                hooks.join(", ")
            )),
        },
        Condition::Lag { threshold_minutes } => match health.lag_minutes {
            Some(m) if m > *threshold_minutes as f64 => Finding::Holds(format!(
                "the oldest pending webhook event has waited {m:.0} minutes (the alert allows {threshold_minutes})"
            )),
            _ => Finding::Clear,
        },
        _ => Finding::Silent,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn run(status: &str, rejected: u64, source_rows: Option<u64>, throttled: u64) -> RunRecord {
        let mut r = RunRecord {
            id: 7,
            sync: "crm".into(),
            status: status.into(),
            throttled,
            message: Some("boom".into()),
            ..RunRecord::default()
        };
        if rejected > 0 {
            r.counts.insert("rejected".into(), rejected);
        }
        if let Some(n) = source_rows {
            r.counts.insert("source_rows".into(), n);
        }
        r
    }

    fn is(f: &Finding) -> &'static str {
        match f {
            Finding::Holds(_) => "holds",
            Finding::Clear => "clear",
            Finding::Silent => "silent",
        }
    }

    #[test]
    fn run_conditions_as_a_table() {
        let count = |n| Condition::RejectedRows {
            threshold: Threshold::Count(n),
        };
        let share = |f| Condition::RejectedRows {
            threshold: Threshold::Fraction(f),
        };
        let cases = [
            (Condition::RunFailed, run("failed", 0, None, 0), "holds"),
            (Condition::RunFailed, run("refused", 0, None, 0), "holds"),
            (Condition::RunFailed, run("ok", 0, None, 0), "clear"),
            (
                Condition::RunFailed,
                run("rejected_over_threshold", 3, None, 0),
                "clear",
            ),
            (Condition::RunFailed, run(INTERRUPTED, 0, None, 0), "silent"),
            (Condition::RunFailed, run("running", 0, None, 0), "silent"),
            (count(0), run("ok", 1, Some(10), 0), "holds"),
            (count(0), run("ok", 0, Some(10), 0), "clear"),
            (count(2), run("ok", 2, Some(10), 0), "clear"),
            (count(2), run("ok", 3, Some(10), 0), "holds"),
            (share(0.1), run("ok", 1, Some(10), 0), "clear"),
            (share(0.1), run("ok", 2, Some(10), 0), "holds"),
            (share(0.1), run("ok", 2, None, 0), "silent"),
            (Condition::QuotaExhausted, run("ok", 0, None, 1), "holds"),
            (Condition::QuotaExhausted, run("ok", 0, None, 0), "clear"),
            (
                Condition::HookDeactivated,
                run("failed", 0, None, 0),
                "silent",
            ),
        ];
        for (cond, r, expected) in cases {
            let got = check(&cond, Observed::Run(&r));
            assert_eq!(
                is(&got),
                expected,
                "{cond:?} on {} {:?}",
                r.status,
                r.counts
            );
        }
        let dry = RunRecord {
            dry_run: true,
            ..run("failed", 0, None, 0)
        };
        assert_eq!(
            check(&Condition::RunFailed, Observed::Run(&dry)),
            Finding::Silent
        );
        let failed_on_limit = RunRecord {
            message: Some(
                "GET /v3/customers: still rate limited (HTTP 429) after 6 attempts".into(),
            ),
            ..run("failed", 0, None, 0)
        };
        assert_eq!(
            is(&check(
                &Condition::QuotaExhausted,
                Observed::Run(&failed_on_limit)
            )),
            "holds"
        );
        match check(
            &Condition::RunFailed,
            Observed::Run(&run("failed", 0, None, 0)),
        ) {
            Finding::Holds(words) => assert_eq!(words, "run 7 failed: boom"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn listen_conditions_as_a_table() {
        let lag = Condition::Lag {
            threshold_minutes: 10,
        };
        let health = |hooks: &[&str], lag: Option<f64>| ListenHealth {
            deactivated_hooks: Some(hooks.iter().map(|s| (*s).to_owned()).collect()),
            lag_minutes: lag,
        };
        let cases = [
            (
                Condition::HookDeactivated,
                health(&["store/order/*"], None),
                "holds",
            ),
            (Condition::HookDeactivated, health(&[], None), "clear"),
            (lag.clone(), health(&[], Some(11.0)), "holds"),
            (lag.clone(), health(&[], Some(10.0)), "clear"),
            (lag, health(&[], None), "clear"),
            (Condition::RunFailed, health(&["x"], Some(99.0)), "silent"),
            (
                Condition::HookDeactivated,
                ListenHealth {
                    deactivated_hooks: None,
                    lag_minutes: None,
                },
                "silent",
            ),
        ];
        for (cond, h, expected) in cases {
            assert_eq!(
                is(&check(&cond, Observed::Listen(&h))),
                expected,
                "{cond:?} {h:?}"
            );
        }
    }
}
