//! Injected faults, deterministic by seed: server errors, 429 bursts and slow answers.
//!
//! Spec (`--faults`, or the body `{"spec": "..."}` of `PUT /_brevo/faults`):
//! ```text
//! spec  = "" | "none" | token ("," token)*
//! token = "seed=" INT            seed of the draws (default 0)
//!       | "500=" P | "502=" P | "503=" P | "429=" P | "425=" P   chance per request, 0..=1
//!       | "slow=" P [":" MS]     chance of a slow answer (default 1000 real ms)
//!       | "burst429=" K "@" N    K requests in a row answered 429, from the Nth
//! ```
//! Requests under `/v3` that passed auth and the rate limiter are numbered 1, 2, 3... from
//! the moment the faults were set; a burst covering the number wins, else one draw in
//! [0, 1) made from `(seed, number)` by a hash picks a kind, the rates being consecutive
//! slices. The same seed therefore gives the same outcomes on every run. A fault 429 has
//! no `x-sib-ratelimit-*` headers: it stands for load on Brevo's side, so a client has to
//! fall back to its own backoff (docs/brevo-api-notes.md §0.4). A `425` stands for Brevo's
//! "too early" answer to rapid writes on one contact (docs/brevo-api-notes.md §1.2), which
//! the emulator otherwise never sends; it applies to writes only.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::error::BrevoError;
use super::server::BrevoShared;

/// A kind of injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum FaultKind {
    #[serde(rename = "500")]
    E500,
    #[serde(rename = "502")]
    E502,
    #[serde(rename = "503")]
    E503,
    #[serde(rename = "429")]
    TooMany,
    #[serde(rename = "425")]
    TooEarly,
    #[serde(rename = "slow")]
    Slow,
}

/// The parsed fault spec.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BrevoFaults {
    pub seed: u64,
    /// Kinds with their chance per request, in the order written.
    pub rates: Vec<(FaultKind, f64)>,
    /// The delay of a slow answer, real milliseconds (not scaled).
    pub slow_ms: u64,
    /// `(K, N)`: K requests answered 429 from the Nth.
    pub burst429: Option<(u64, u64)>,
    /// The spec as written.
    pub spec: String,
}

impl BrevoFaults {
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut f = BrevoFaults {
            slow_ms: 1000,
            spec: spec.trim().to_owned(),
            ..Self::default()
        };
        if spec.trim().is_empty() || spec.trim() == "none" {
            return Ok(f);
        }
        for token in spec.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (name, value) = token
                .split_once('=')
                .ok_or_else(|| format!("fault {token:?} is not NAME=VALUE"))?;
            let rate = |v: &str| -> Result<f64, String> {
                let p: f64 = v
                    .parse()
                    .map_err(|_| format!("{v:?} in {token:?} is not a number"))?;
                if (0.0..=1.0).contains(&p) {
                    Ok(p)
                } else {
                    Err(format!("the chance in {token:?} must be between 0 and 1"))
                }
            };
            match name {
                "seed" => {
                    f.seed = value
                        .parse()
                        .map_err(|_| format!("seed {value:?} is not a whole number"))?;
                }
                "500" => f.rates.push((FaultKind::E500, rate(value)?)),
                "502" => f.rates.push((FaultKind::E502, rate(value)?)),
                "503" => f.rates.push((FaultKind::E503, rate(value)?)),
                "429" => f.rates.push((FaultKind::TooMany, rate(value)?)),
                "425" => f.rates.push((FaultKind::TooEarly, rate(value)?)),
                "slow" => {
                    let (p, ms) = value.split_once(':').unwrap_or((value, ""));
                    f.rates.push((FaultKind::Slow, rate(p)?));
                    if !ms.is_empty() {
                        f.slow_ms = ms.trim_end_matches("ms").parse().map_err(|_| {
                            format!("delay {ms:?} in {token:?} is not milliseconds")
                        })?;
                    }
                }
                "burst429" => {
                    let (k, n) = value
                        .split_once('@')
                        .ok_or_else(|| format!("{token:?} is not burst429=K@N"))?;
                    let k: u64 = k.parse().map_err(|_| format!("{k:?} is not a count"))?;
                    let n: u64 = n.parse().map_err(|_| format!("{n:?} is not a count"))?;
                    f.burst429 = Some((k, n.max(1)));
                }
                other => {
                    return Err(format!(
                        "unknown fault {other:?}: use seed, 500, 502, 503, 429, 425, slow or burst429"
                    ));
                }
            }
        }
        let total: f64 = f.rates.iter().map(|(_, p)| p).sum();
        if total > 1.0 + 1e-9 {
            return Err(format!("the fault chances add up to {total}, more than 1"));
        }
        Ok(f)
    }

    /// The fault for request number `n` (1-based), if any.
    pub fn decide(&self, n: u64) -> Option<FaultKind> {
        if let Some((k, start)) = self.burst429
            && n >= start
            && n < start + k
        {
            return Some(FaultKind::TooMany);
        }
        if self.rates.is_empty() {
            return None;
        }
        let u = draw(self.seed, n);
        let mut acc = 0.0;
        for (kind, p) in &self.rates {
            acc += p;
            if u < acc {
                return Some(*kind);
            }
        }
        None
    }
}

/// A uniform draw in [0, 1) from `(seed, n)` (splitmix64), so outcomes never depend on
/// shared generator state.
fn draw(seed: u64, n: u64) -> f64 {
    let mut z = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(n.wrapping_mul(0xBF58_476D_1CE4_E5B9));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// Marks an answer whose rate headers must not be added (a fault 429).
#[derive(Debug, Clone, Copy)]
pub struct StripRateHeaders;

/// Numbers requests and injected faults.
#[derive(Debug, Default)]
pub struct FaultCounter {
    pub requests: AtomicU64,
    pub injected: AtomicU64,
}

/// Middleware behind the rate limiter.
pub async fn middleware(State(st): State<BrevoShared>, req: Request, next: Next) -> Response {
    let faults = st.settings.read().faults.clone();
    if faults.rates.is_empty() && faults.burst429.is_none() {
        return next.run(req).await;
    }
    let n = st.fault_counter.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let Some(kind) = faults.decide(n) else {
        return next.run(req).await;
    };
    if kind == FaultKind::TooEarly && req.method() == http::Method::GET {
        return next.run(req).await;
    }
    st.fault_counter.injected.fetch_add(1, Ordering::SeqCst);
    let server = |status: StatusCode| {
        BrevoError::new(
            status,
            "internal_error",
            "The server had a temporary problem (injected by the emulator); retry with backoff.",
        )
        .into_response()
    };
    match kind {
        FaultKind::E500 => server(StatusCode::INTERNAL_SERVER_ERROR),
        FaultKind::E502 => server(StatusCode::BAD_GATEWAY),
        FaultKind::E503 => server(StatusCode::SERVICE_UNAVAILABLE),
        FaultKind::TooMany => {
            let mut r = BrevoError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "Too many requests (injected by the emulator); retry with backoff.",
            )
            .into_response();
            r.extensions_mut().insert(StripRateHeaders);
            r
        }
        FaultKind::TooEarly => BrevoError::new(
            StatusCode::TOO_EARLY,
            // docs/brevo-api-notes.md §1.2: the body of a 425 is UNCERTAIN.
            "too_early",
            "The contact is being updated by another request (injected by the emulator); retry with backoff.",
        )
        .into_response(),
        FaultKind::Slow => {
            tokio::time::sleep(Duration::from_millis(faults.slow_ms)).await;
            next.run(req).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_decide_deterministically() {
        let f = BrevoFaults::parse("seed=7,500=0.2,429=0.1,slow=0.1:50,burst429=3@10").unwrap();
        assert_eq!(f.slow_ms, 50);
        let a: Vec<_> = (1..200).map(|n| f.decide(n)).collect();
        let b: Vec<_> = (1..200).map(|n| f.decide(n)).collect();
        assert_eq!(a, b);
        assert_eq!(a[9], Some(FaultKind::TooMany));
        assert_eq!(a[11], Some(FaultKind::TooMany));
        let errors = a.iter().filter(|k| **k == Some(FaultKind::E500)).count();
        assert!((15..=65).contains(&errors), "{errors}");
        let other = BrevoFaults::parse("seed=8,500=0.2").unwrap();
        let c: Vec<_> = (1..200).map(|n| other.decide(n)).collect();
        assert_ne!(
            a.iter()
                .map(|k| *k == Some(FaultKind::E500))
                .collect::<Vec<_>>(),
            c.iter()
                .map(|k| *k == Some(FaultKind::E500))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn bad_specs_are_refused() {
        assert!(BrevoFaults::parse("500=2").is_err());
        assert!(BrevoFaults::parse("500=0.6,503=0.6").is_err());
        assert!(BrevoFaults::parse("404=0.1").is_err());
        assert!(BrevoFaults::parse("burst429=3").is_err());
        assert!(BrevoFaults::parse("none").unwrap().rates.is_empty());
    }
}
