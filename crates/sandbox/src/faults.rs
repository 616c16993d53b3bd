//! Fault injection, deterministic by seed: rates or schedules of 500/502/503/504, 429
//! without headers, slow responses, connection resets and truncated bodies; settable at
//! start (`--faults`) and at runtime (`PUT /_sandbox/faults`).
//!
//! # What each kind does
//! - `500` `502` `503` `504`: that status, in the V2 or V3 error shape of the path.
//! - `429`: a 429 with **no** `X-Rate-Limit-*` headers, which is how the platform answers
//!   when the whole store is under load rather than the app over its quota
//!   (docs/api-notes.md §0.7).
//! - `slow`: waits the delay (real milliseconds, not scaled by `time_scale`), then
//!   answers normally. Runs inside the concurrency caps, so it holds a capped slot.
//! - `reset`: the connection is dropped with no usable response (the body stream fails
//!   before any byte is sent, so hyper aborts the connection).
//! - `truncate`: the real answer's status, headers and full `Content-Length`, then half of
//!   the body, then the connection ends. An answer with no body is reset instead.
//!
//! # Spec grammar (`--faults`, or the body of `PUT /_sandbox/faults`)
//! ```text
//! spec   = "" | "none" | token ("," token)*          (spaces around tokens ignored)
//! token  = "seed=" INT                     seed of the random draws (default 0)
//!        | "path=" PREFIX                  only requests under this store path, e.g.
//!                                          /v2/orders (repeatable: any of them)
//!        | "method=" METHOD ("|" METHOD)*  only these methods (repeatable)
//!        | KIND "=" RATE [":" MS]          chance per request, 0..=1
//!        | KIND "@" WHEN [":" MS]          on a schedule
//!        | "burst" KIND "=" K "@" N [":" MS]   K requests in a row from the Nth
//! KIND   = 500 | 502 | 503 | 504 | 429 | slow | reset | truncate
//! WHEN   = N            the Nth request
//!        | N ".." M     requests N to M, inclusive
//!        | N ".."       the Nth request and every one after it
//!        | "every" N    requests N, 2N, 3N, ...
//! MS     = the delay of `slow` in ms (default 1000); only `slow` takes one
//! ```
//! Example: `seed=7,500=0.05,503=0.02,reset=0.02,slow=0.05:1500,truncate=0.01,429=0.02,burst429=20@100,path=/v2/orders`.
//!
//! # How a request's fate is decided
//! Requests are numbered 1, 2, 3... counting only those that match the `path`/`method`
//! filter, from the moment the configuration was set. Faults sit behind auth and the rate
//! limiter, so a 401, 403 or quota 429 is answered before a number is taken; faults never
//! apply to `/_sandbox/*`. Schedules are checked first, in the order written, and the
//! first that covers the number wins. Otherwise one draw `u` in [0, 1) is computed from
//! `(seed, number)` by a hash, and the rates are taken as consecutive slices of [0, 1) in
//! the order written (so their sum must be ≤ 1). Because the draw depends only on the seed
//! and the number, not on shared RNG state, the same seed gives the same sequence of
//! outcomes on every run (for concurrent clients, in arrival order), and the hot path
//! takes no lock beyond a read lock on the configuration.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_LENGTH, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiVersion};
use crate::ratelimit::{relative_to_store, store_relative_path};
use crate::state::Shared;

/// The delay of `slow` when the spec gives none.
pub const DEFAULT_SLOW_MS: u64 = 1000;

/// One kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FaultKind {
    #[serde(rename = "500")]
    InternalError,
    #[serde(rename = "502")]
    BadGateway,
    #[serde(rename = "503")]
    Unavailable,
    #[serde(rename = "504")]
    GatewayTimeout,
    #[serde(rename = "429")]
    TooManyRequests,
    #[serde(rename = "slow")]
    Slow,
    #[serde(rename = "reset")]
    Reset,
    #[serde(rename = "truncate")]
    Truncate,
}

impl FaultKind {
    pub const ALL: [FaultKind; 8] = [
        Self::InternalError,
        Self::BadGateway,
        Self::Unavailable,
        Self::GatewayTimeout,
        Self::TooManyRequests,
        Self::Slow,
        Self::Reset,
        Self::Truncate,
    ];

    /// The name used in specs and stats.
    pub fn name(self) -> &'static str {
        match self {
            Self::InternalError => "500",
            Self::BadGateway => "502",
            Self::Unavailable => "503",
            Self::GatewayTimeout => "504",
            Self::TooManyRequests => "429",
            Self::Slow => "slow",
            Self::Reset => "reset",
            Self::Truncate => "truncate",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        let lower = name.to_ascii_lowercase();
        Self::ALL.into_iter().find(|k| k.name() == lower)
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The status and title of the kinds that answer with an error body.
    fn error_status(self) -> Option<(StatusCode, &'static str)> {
        match self {
            Self::InternalError => {
                Some((StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"))
            }
            Self::BadGateway => Some((StatusCode::BAD_GATEWAY, "Bad Gateway")),
            Self::Unavailable => Some((
                StatusCode::SERVICE_UNAVAILABLE,
                "Service Unavailable: the store is down for maintenance",
            )),
            Self::GatewayTimeout => Some((StatusCode::GATEWAY_TIMEOUT, "Gateway Timeout")),
            Self::TooManyRequests => Some((
                StatusCode::TOO_MANY_REQUESTS,
                "Too many requests: the platform is under heavy load",
            )),
            Self::Slow | Self::Reset | Self::Truncate => None,
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// When a rule fires. Request numbers count matching requests from 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// Chance per request, 0..=1.
    Rate(f64),
    /// Exactly the Nth request.
    At(u64),
    /// Requests `from` to `to` inclusive; no `to` means forever.
    Range { from: u64, to: Option<u64> },
    /// Requests N, 2N, 3N, ...
    Every(u64),
}

impl Trigger {
    fn covers(&self, n: u64) -> bool {
        match *self {
            Trigger::Rate(_) => false,
            Trigger::At(at) => n == at,
            Trigger::Range { from, to } => n >= from && to.is_none_or(|to| n <= to),
            Trigger::Every(every) => every > 0 && n.is_multiple_of(every),
        }
    }
}

/// One `KIND=...` or `KIND@...` token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    pub kind: FaultKind,
    pub trigger: Trigger,
    /// Delay for `slow`, ms; 0 for other kinds.
    #[serde(default)]
    pub delay_ms: u64,
}

/// Which faults to inject and how often. `Display` writes the canonical spec string, which
/// `parse` reads back to an equal value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultConfig {
    pub seed: u64,
    pub rules: Vec<FaultRule>,
    /// Store-relative path prefixes (`/v2/orders`); empty = every path.
    pub paths: Vec<String>,
    /// Upper-case methods; empty = every method.
    pub methods: Vec<String>,
}

const KINDS_HELP: &str = "kinds are 500, 502, 503, 504, 429, slow, reset, truncate";

impl FaultConfig {
    /// Parses the `--faults` spec (grammar in the module docs).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut config = Self::default();
        let trimmed = spec.trim();
        if trimmed.is_empty() || trimmed.eq_ignore_ascii_case("none") {
            return Ok(config);
        }
        for token in trimmed.split(',').map(str::trim) {
            if token.is_empty() {
                return Err(format!(
                    "fault spec {spec:?} has an empty token (two commas in a row, or a trailing comma); remove it"
                ));
            }
            config.parse_token(token)?;
        }
        config.validate()?;
        Ok(config)
    }

    fn parse_token(&mut self, token: &str) -> Result<(), String> {
        let bad = |why: String| format!("fault spec token {token:?}: {why}");
        let at = token.find('@');
        // `KIND@...` when '@' comes first; `key=value` (including `burstKIND=K@N`) otherwise.
        let eq = token.find('=').filter(|e| at.is_none_or(|a| *e < a));
        if let Some(e) = eq {
            let (key, value) = (token[..e].trim(), token[e + 1..].trim());
            match key.to_ascii_lowercase().as_str() {
                "seed" => {
                    self.seed = value
                        .parse()
                        .map_err(|_| bad("the seed must be a whole number, e.g. seed=7".into()))?;
                }
                "path" => {
                    if !value.starts_with('/') {
                        return Err(bad(
                            "the path must start with '/', e.g. path=/v2/orders".into()
                        ));
                    }
                    self.paths.push(relative_to_store(value).to_owned());
                }
                "method" => {
                    for m in value.split('|') {
                        let m = m.trim().to_ascii_uppercase();
                        if m.is_empty() || !m.chars().all(|c| c.is_ascii_alphabetic()) {
                            return Err(bad(
                                "give an HTTP method, e.g. method=GET or method=PUT|POST".into(),
                            ));
                        }
                        self.methods.push(m);
                    }
                }
                k => match k.strip_prefix("burst") {
                    Some(kind) => self.rules.push(parse_burst(kind, value).map_err(bad)?),
                    None => self.rules.push(parse_rate(key, value).map_err(bad)?),
                },
            }
        } else if let Some(a) = at {
            self.rules
                .push(parse_schedule(token[..a].trim(), token[a + 1..].trim()).map_err(bad)?);
        } else {
            return Err(bad(format!(
                "expected seed=N, path=/prefix, method=GET, KIND=RATE, KIND@WHEN or burstKIND=K@N ({KINDS_HELP})"
            )));
        }
        Ok(())
    }

    /// Checks what the grammar cannot: rates in range and summing to at most 1, schedule
    /// numbers from 1, delays only on `slow`. Also run on JSON configs.
    pub fn validate(&self) -> Result<(), String> {
        let mut total = 0.0;
        for rule in &self.rules {
            let what = format!("{}{}", rule.kind, describe_trigger(&rule.trigger));
            match rule.trigger {
                Trigger::Rate(r) => {
                    if !(0.0..=1.0).contains(&r) {
                        return Err(format!(
                            "fault rule {what}: a rate is a probability per request and must be between 0 and 1, e.g. {}=0.05",
                            rule.kind
                        ));
                    }
                    total += r;
                }
                Trigger::At(n) | Trigger::Every(n) if n == 0 => {
                    return Err(format!(
                        "fault rule {what}: requests are numbered from 1; use 1 or more"
                    ));
                }
                Trigger::Range { from, to } => {
                    if from == 0 {
                        return Err(format!(
                            "fault rule {what}: requests are numbered from 1; start the range at 1 or more"
                        ));
                    }
                    if to.is_some_and(|to| to < from) {
                        return Err(format!(
                            "fault rule {what}: the range ends before it starts; write N..M with N <= M"
                        ));
                    }
                }
                Trigger::At(_) | Trigger::Every(_) => {}
            }
            if rule.delay_ms > 0 && rule.kind != FaultKind::Slow {
                return Err(format!(
                    "fault rule {what}: only slow takes a delay (':MS'); remove it"
                ));
            }
        }
        if total > 1.0 + 1e-9 {
            return Err(format!(
                "fault rates add up to {total}; each request gets at most one fault, so the rates must sum to 1 or less"
            ));
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether a request falls under the `path`/`method` filter.
    fn matches(&self, method: &Method, path: &str) -> bool {
        let method_ok =
            self.methods.is_empty() || self.methods.iter().any(|m| m == method.as_str());
        let path_ok = self.paths.is_empty() || self.paths.iter().any(|p| path_has_prefix(path, p));
        method_ok && path_ok
    }

    /// The fault for the `n`th matching request, if any.
    pub fn decide(&self, n: u64) -> Option<&FaultRule> {
        if let Some(rule) = self.rules.iter().find(|r| r.trigger.covers(n)) {
            return Some(rule);
        }
        let draw = unit_draw(self.seed, n);
        let mut upper = 0.0;
        for rule in &self.rules {
            if let Trigger::Rate(r) = rule.trigger {
                upper += r;
                if draw < upper {
                    return Some(rule);
                }
            }
        }
        None
    }
}

fn describe_trigger(t: &Trigger) -> String {
    match *t {
        Trigger::Rate(r) => format!("={r}"),
        Trigger::At(n) => format!("@{n}"),
        Trigger::Range { from, to: Some(to) } => format!("@{from}..{to}"),
        Trigger::Range { from, to: None } => format!("@{from}.."),
        Trigger::Every(n) => format!("@every{n}"),
    }
}

impl fmt::Display for FaultConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut tokens = Vec::new();
        if self.seed != 0 {
            tokens.push(format!("seed={}", self.seed));
        }
        tokens.extend(self.paths.iter().map(|p| format!("path={p}")));
        tokens.extend(self.methods.iter().map(|m| format!("method={m}")));
        for rule in &self.rules {
            let delay = if rule.kind == FaultKind::Slow {
                format!(":{}", rule.delay_ms)
            } else {
                String::new()
            };
            tokens.push(format!(
                "{}{}{delay}",
                rule.kind,
                describe_trigger(&rule.trigger)
            ));
        }
        if tokens.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&tokens.join(","))
        }
    }
}

fn parse_kind(name: &str) -> Result<FaultKind, String> {
    FaultKind::from_name(name).ok_or_else(|| format!("unknown fault kind {name:?}; {KINDS_HELP}"))
}

/// Splits a trailing `:MS` off a value; the delay defaults for `slow` and is refused for
/// others by `validate`.
fn split_delay(kind: FaultKind, value: &str) -> Result<(String, u64), String> {
    match value.rsplit_once(':') {
        Some((rest, ms)) => {
            let ms = ms.trim().parse::<u64>().map_err(|_| {
                format!("the delay after ':' must be whole milliseconds, e.g. slow=0.05:1500 (got {ms:?})")
            })?;
            if kind != FaultKind::Slow {
                return Err(format!("only slow takes a delay (':MS'); remove ':{ms}'"));
            }
            Ok((rest.trim().to_owned(), ms))
        }
        None => Ok((
            value.to_owned(),
            if kind == FaultKind::Slow {
                DEFAULT_SLOW_MS
            } else {
                0
            },
        )),
    }
}

fn parse_count(s: &str, what: &str) -> Result<u64, String> {
    s.trim()
        .parse::<u64>()
        .map_err(|_| format!("{what} must be a whole number (got {s:?})"))
}

fn parse_rate(kind: &str, value: &str) -> Result<FaultRule, String> {
    let kind = parse_kind(kind)?;
    let (rate, delay_ms) = split_delay(kind, value)?;
    let rate = rate
        .parse::<f64>()
        .ok()
        .filter(|r| (0.0..=1.0).contains(r))
        .ok_or_else(|| {
            format!(
                "the rate must be a probability between 0 and 1, e.g. {kind}=0.05 (got {rate:?})"
            )
        })?;
    Ok(FaultRule {
        kind,
        trigger: Trigger::Rate(rate),
        delay_ms,
    })
}

fn parse_schedule(kind: &str, when: &str) -> Result<FaultRule, String> {
    let kind = parse_kind(kind)?;
    let (when, delay_ms) = split_delay(kind, when)?;
    let trigger = if let Some(n) = when.strip_prefix("every") {
        Trigger::Every(parse_count(n, "the N of everyN")?)
    } else if let Some((from, to)) = when.split_once("..") {
        let from = parse_count(from, "the start of N..M")?;
        let to = if to.trim().is_empty() {
            None
        } else {
            Some(parse_count(to, "the end of N..M")?)
        };
        Trigger::Range { from, to }
    } else {
        Trigger::At(parse_count(
            &when,
            "the request number (write N, N..M, N.. or everyN)",
        )?)
    };
    Ok(FaultRule {
        kind,
        trigger,
        delay_ms,
    })
}

fn parse_burst(kind: &str, value: &str) -> Result<FaultRule, String> {
    let kind = parse_kind(kind)?;
    let (value, delay_ms) = split_delay(kind, value)?;
    let (count, start) = value
        .split_once('@')
        .ok_or_else(|| format!("write burst{kind}=K@N: K requests in a row from the Nth"))?;
    let count = parse_count(count, "the K of burst=K@N")?;
    let from = parse_count(start, "the N of burst=K@N")?;
    if count == 0 || from == 0 {
        return Err(format!(
            "a burst needs K >= 1 requests starting at N >= 1, e.g. burst{kind}=20@100"
        ));
    }
    Ok(FaultRule {
        kind,
        trigger: Trigger::Range {
            from,
            to: Some(from + count - 1),
        },
        delay_ms,
    })
}

/// Segment-aware prefix: `/v2/orders` covers `/v2/orders` and `/v2/orders/5`, not
/// `/v2/orders_archive`.
fn path_has_prefix(path: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    prefix.is_empty()
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// A uniform draw in [0, 1) from (seed, n): splitmix64, a well-mixed stateless hash.
fn unit_draw(seed: u64, n: u64) -> f64 {
    let mut z = seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    // The top 53 bits fill an f64 mantissa exactly.
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// Marks a response whose fate was decided by fault injection, so outer layers can tell:
/// the rate limiter leaves an injected 429 without headers and the log records the kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InjectedFault(pub FaultKind);

impl InjectedFault {
    /// A platform-load 429 carries no `X-Rate-Limit-*` headers (docs/api-notes.md §0.7).
    pub fn strips_rate_headers(self) -> bool {
        self.0 == FaultKind::TooManyRequests
    }
}

/// What the admin API shows of the injector.
#[derive(Debug, Clone, Serialize)]
pub struct FaultStatus {
    pub spec: String,
    pub config: FaultConfig,
    /// Matching requests seen since the configuration was set.
    pub requests_seen: u64,
    /// Faults injected per kind since the last counter reset, e.g. `{"500": 3, ...}`.
    pub injected: serde_json::Map<String, serde_json::Value>,
}

/// Decides, per request, whether to inject a fault.
#[derive(Debug)]
pub struct FaultInjector {
    /// Fast path: false when there are no rules, so a clean run takes no lock at all.
    active: AtomicBool,
    config: RwLock<Arc<FaultConfig>>,
    seen: AtomicU64,
    injected: [AtomicU64; 8],
}

impl FaultInjector {
    pub fn new(config: FaultConfig) -> Self {
        let injector = Self {
            active: AtomicBool::new(false),
            config: RwLock::new(Arc::new(FaultConfig::default())),
            seen: AtomicU64::new(0),
            injected: std::array::from_fn(|_| AtomicU64::new(0)),
        };
        injector.set(config);
        injector
    }

    /// Replaces the configuration; request numbering starts again at 1.
    pub fn set(&self, config: FaultConfig) {
        let mut current = self.config.write();
        self.active.store(!config.is_empty(), Ordering::Release);
        self.seen.store(0, Ordering::Release);
        *current = Arc::new(config);
    }

    pub fn clear(&self) {
        self.set(FaultConfig::default());
    }

    pub fn config(&self) -> Arc<FaultConfig> {
        Arc::clone(&self.config.read())
    }

    /// Zeroes the per-kind counters (the configuration stays).
    pub fn reset_counts(&self) {
        for c in &self.injected {
            c.store(0, Ordering::Relaxed);
        }
    }

    /// Injected faults per kind, in `FaultKind::ALL` order.
    pub fn injected_counts(&self) -> Vec<(&'static str, u64)> {
        FaultKind::ALL
            .iter()
            .map(|k| (k.name(), self.injected[k.index()].load(Ordering::Relaxed)))
            .collect()
    }

    pub fn status(&self) -> FaultStatus {
        let config = self.config();
        FaultStatus {
            spec: config.to_string(),
            config: (*config).clone(),
            requests_seen: self.seen.load(Ordering::Relaxed),
            injected: self
                .injected_counts()
                .into_iter()
                .map(|(k, n)| (k.to_owned(), n.into()))
                .collect(),
        }
    }

    /// Numbers a request (if it matches the filter) and returns its fault, if any, as
    /// `(kind, delay_ms)`.
    pub fn next_fault(&self, method: &Method, path: &str) -> Option<(FaultKind, u64)> {
        if !self.active.load(Ordering::Acquire) {
            return None;
        }
        let config = self.config.read();
        if !config.matches(method, path) {
            return None;
        }
        let n = self.seen.fetch_add(1, Ordering::AcqRel) + 1;
        let rule = config.decide(n)?;
        self.injected[rule.kind.index()].fetch_add(1, Ordering::Relaxed);
        Some((rule.kind, rule.delay_ms))
    }
}

/// Applies the fault decided for this request, or passes it through untouched.
pub async fn middleware(State(st): State<Shared>, req: Request, next: Next) -> Response {
    let path = store_relative_path(&req);
    let Some((kind, delay_ms)) = st.faults.next_fault(req.method(), &path) else {
        return next.run(req).await;
    };
    let mut resp = match kind {
        FaultKind::Slow => {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            next.run(req).await
        }
        FaultKind::Reset => reset_response(),
        FaultKind::Truncate => truncate(next.run(req).await).await,
        other => match other.error_status() {
            Some((status, title)) => ApiError::new(
                ApiVersion::of_path(&path),
                status,
                format!("{title} (injected by the sandbox)"),
            )
            .into_response(),
            None => next.run(req).await,
        },
    };
    resp.extensions_mut().insert(InjectedFault(kind));
    resp
}

fn body_error() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::ConnectionReset,
        "connection reset by sandbox fault injection",
    )
}

/// A response whose body fails on its first poll: hyper gives up on the connection before
/// writing anything, so the client sees the connection close with no response.
fn reset_response() -> Response {
    let stream = futures::stream::once(async { Err::<Bytes, std::io::Error>(body_error()) });
    let mut resp = Response::new(Body::from_stream(stream));
    // If any byte of the head did escape, it should not read as a success.
    *resp.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    resp
}

/// The real answer's head with its full `Content-Length`, half of its body, then a failed
/// stream so the connection ends short.
async fn truncate(real: Response) -> Response {
    let (mut parts, body) = real.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return reset_response();
    };
    if bytes.len() < 2
        || parts.status == StatusCode::NO_CONTENT
        || parts.status == StatusCode::NOT_MODIFIED
    {
        return reset_response();
    }
    parts
        .headers
        .insert(CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    let first_half = bytes.slice(..bytes.len() / 2);
    let stream = futures::stream::unfold(Some(first_half), |state| async move {
        match state {
            Some(chunk) => Some((Ok::<Bytes, std::io::Error>(chunk), None)),
            None => {
                // Give hyper time to flush the head and the half body before the failure
                // tears the connection down.
                tokio::time::sleep(Duration::from_millis(20)).await;
                Some((Err(body_error()), None))
            }
        }
    });
    Response::from_parts(parts, Body::from_stream(stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let c = FaultConfig::parse(
            "seed=7,500=0.05,503=0.02,reset=0.02,slow=0.05:1500,truncate=0.01,429=0.02,burst429=20@100,path=/v2/orders",
        )
        .unwrap();
        assert_eq!(c.seed, 7);
        assert_eq!(c.paths, vec!["/v2/orders"]);
        assert_eq!(c.rules.len(), 7);
        assert_eq!(
            c.rules[3],
            FaultRule {
                kind: FaultKind::Slow,
                trigger: Trigger::Rate(0.05),
                delay_ms: 1500
            }
        );
        assert_eq!(
            c.rules[6],
            FaultRule {
                kind: FaultKind::TooManyRequests,
                trigger: Trigger::Range {
                    from: 100,
                    to: Some(119)
                },
                delay_ms: 0
            }
        );
    }

    #[test]
    fn display_round_trips() {
        for spec in [
            "none",
            "seed=3,path=/v3/customers,method=PUT,method=POST,503@every10,500@5..8,reset@12,slow@3..:250,502=0.125",
            "truncate=1",
        ] {
            let c = FaultConfig::parse(spec).unwrap();
            assert_eq!(
                FaultConfig::parse(&c.to_string()).unwrap(),
                c,
                "{spec} -> {c}"
            );
        }
    }

    #[test]
    fn errors_name_the_token_and_the_fix() {
        let cases = [
            ("500=1.5", "\"500=1.5\""),
            ("501=0.1", "unknown fault kind \"501\""),
            ("500=0.6,503=0.6", "sum to 1 or less"),
            ("503@0", "numbered from 1"),
            ("500=0.1:200", "only slow takes a delay"),
            ("seed=x", "seed=7"),
            ("banana", "expected seed=N"),
            ("500=0.1,,", "empty token"),
            ("503@9..3", "ends before it starts"),
            ("path=v2/orders", "must start with '/'"),
            ("burst429=20", "burst429=K@N"),
        ];
        for (spec, needle) in cases {
            let err = FaultConfig::parse(spec).unwrap_err();
            assert!(err.contains(needle), "{spec}: {err}");
        }
    }

    #[test]
    fn schedules_win_over_rates_and_fire_on_their_numbers() {
        let c = FaultConfig::parse("503@every3,500@2,429@7..8").unwrap();
        let kinds: Vec<Option<FaultKind>> = (1..=9).map(|n| c.decide(n).map(|r| r.kind)).collect();
        use FaultKind::*;
        assert_eq!(
            kinds,
            vec![
                None,
                Some(InternalError),
                Some(Unavailable),
                None,
                None,
                Some(Unavailable),
                Some(TooManyRequests),
                Some(TooManyRequests),
                Some(Unavailable)
            ]
        );
    }

    #[test]
    fn rates_are_close_to_their_probability_and_seeded() {
        let c = FaultConfig::parse("seed=11,500=0.1,slow=0.2:5").unwrap();
        let outcomes: Vec<Option<FaultKind>> =
            (1..=20_000).map(|n| c.decide(n).map(|r| r.kind)).collect();
        let count = |k| outcomes.iter().filter(|o| **o == Some(k)).count();
        assert!(
            (1_700..2_300).contains(&count(FaultKind::InternalError)),
            "{}",
            count(FaultKind::InternalError)
        );
        assert!(
            (3_600..4_400).contains(&count(FaultKind::Slow)),
            "{}",
            count(FaultKind::Slow)
        );
        let other = FaultConfig::parse("seed=12,500=0.1,slow=0.2:5").unwrap();
        let other_outcomes: Vec<Option<FaultKind>> =
            (1..=200).map(|n| other.decide(n).map(|r| r.kind)).collect();
        assert_ne!(
            outcomes[..200],
            other_outcomes[..],
            "a different seed must give a different sequence"
        );
    }

    #[test]
    fn filter_is_segment_aware() {
        let c = FaultConfig::parse("path=/v2/orders,method=GET|HEAD,500=1").unwrap();
        assert!(c.matches(&Method::GET, "/v2/orders"));
        assert!(c.matches(&Method::HEAD, "/v2/orders/5/products"));
        assert!(!c.matches(&Method::GET, "/v2/orders_archive"));
        assert!(!c.matches(&Method::PUT, "/v2/orders/5"));
        let full = FaultConfig::parse("path=/stores/abc/v3/customers,500=1").unwrap();
        assert_eq!(full.paths, vec!["/v3/customers"]);
    }

    #[test]
    fn injector_numbers_only_matching_requests_and_counts_kinds() {
        let injector = FaultInjector::new(FaultConfig::parse("path=/v2/orders,503@2").unwrap());
        assert_eq!(injector.next_fault(&Method::GET, "/v2/orders"), None);
        assert_eq!(injector.next_fault(&Method::GET, "/v3/customers"), None);
        assert_eq!(
            injector.next_fault(&Method::GET, "/v2/orders"),
            Some((FaultKind::Unavailable, 0))
        );
        assert_eq!(injector.status().requests_seen, 2);
        assert!(injector.injected_counts().contains(&("503", 1)));
        injector.clear();
        assert_eq!(injector.next_fault(&Method::GET, "/v2/orders"), None);
    }

    #[test]
    fn json_configs_deserialize_and_validate() {
        let c: FaultConfig = serde_json::from_str(
            r#"{"seed":5,"rules":[{"kind":"503","trigger":{"every":4}},{"kind":"slow","trigger":{"rate":0.5},"delay_ms":10}]}"#,
        )
        .unwrap();
        assert!(c.validate().is_ok());
        assert_eq!(c.to_string(), "seed=5,503@every4,slow=0.5:10");
        let bad: FaultConfig =
            serde_json::from_str(r#"{"rules":[{"kind":"500","trigger":{"rate":2.0}}]}"#).unwrap();
        assert!(bad.validate().is_err());
    }
}
