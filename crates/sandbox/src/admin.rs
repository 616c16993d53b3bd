//! The admin API under `/_sandbox/` (outside `/stores/`, no auth, never rate limited, never
//! faulted): the request log that tests and benchmarks count API calls with, running
//! statistics, record counts, reset, and the fault and rate-limit settings.
//!
//! | Route | What it does |
//! |---|---|
//! | `GET /_sandbox/requests?since_seq=&path_prefix=&limit=` | logged requests, oldest first |
//! | `DELETE /_sandbox/requests` | clears the log and every counter below |
//! | `GET /_sandbox/stats` | totals per status and per route, 429s, faults, peak in-flight |
//! | `DELETE /_sandbox/stats` | same as `DELETE /_sandbox/requests` |
//! | `GET /_sandbox/counts` | records per collection |
//! | `POST /_sandbox/reset` | re-seeds the store and clears the log and counters |
//! | `GET/PUT/DELETE /_sandbox/faults` | fault configuration (spec string or JSON) |
//! | `GET/PUT /_sandbox/ratelimit` | plan and time scale, e.g. `{"plan":"standard","time_scale":0.01}` |
//! | `GET /_sandbox/carts?state=` | every cart ever made, with `state` (the API has no cart list) |
//! | `GET/POST/DELETE /_sandbox/simulate` | storefront simulator status (`?since_seq=` adds the action log), start, stop |
//! | `GET /_sandbox/events?after=SEQ&limit=` | journaled changes (webhook events), oldest first, with millisecond timestamps |
//! | `GET /_sandbox/deliveries?after=SEQ&hook_id=&limit=` | webhook delivery attempts and outcomes, queue length, blocked domains |
//! | `POST /_sandbox/hooks/{id}/deactivate` | switches a hook off as the store does when retries run out |
//!
//! In a fleet ([`crate::fleet`]) every route above is also at `/_sandbox/stores/{hash}/...`
//! for each store, `GET /_sandbox/stores` lists the stores, and the plain paths address the
//! first store.
//!
//! The log is append-only: `push` moves the entry in under a short mutex (no clone), and
//! statistics are kept incrementally so `stats` never scans the log. Memory is capped: the
//! log keeps the last [`LOG_CAPACITY`] entries (roughly 250 bytes each with their strings,
//! so up to about 250 MB at the cap) and drops the oldest beyond that; the statistics
//! still count every request. Sequence numbers are never reused, not even after a clear,
//! so `?since_seq=` polling neither misses nor repeats entries.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header::CONTENT_TYPE};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::config::Plan;
use crate::faults::{FaultConfig, InjectedFault};
use crate::ratelimit::relative_to_store;
use crate::state::Shared;

/// Entries the log keeps before dropping the oldest.
pub const LOG_CAPACITY: usize = 1_000_000;

/// Distinct `METHOD /route` keys the stats keep before lumping the rest under `OTHER`
/// (a fuzzing client could otherwise grow the map without bound).
const ROUTE_KEYS_MAX: usize = 10_000;

/// One API request as the sandbox saw it.
#[derive(Debug, Clone, Serialize)]
pub struct LogEntry {
    pub seq: u64,
    pub method: String,
    pub path: String,
    pub query: String,
    pub status: u16,
    pub duration_us: u64,
    /// The injected fault, if fault injection decided this request's answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<&'static str>,
}

/// Every request under `/stores/`, in completion order, plus running statistics.
#[derive(Debug)]
pub struct RequestLog {
    inner: Mutex<LogInner>,
    capacity: usize,
    in_flight: AtomicU64,
    peak_in_flight: AtomicU64,
}

#[derive(Debug, Default)]
struct LogInner {
    entries: VecDeque<LogEntry>,
    /// The seq of the last entry pushed, ever.
    last_seq: u64,
    /// Entries dropped off the front because of the cap, since the last clear.
    dropped: u64,
    stats: RequestStats,
}

#[derive(Debug, Default, Clone)]
struct RequestStats {
    total: u64,
    by_status: BTreeMap<u16, u64>,
    by_route: HashMap<String, u64>,
}

impl Default for RequestLog {
    fn default() -> Self {
        Self::with_capacity(LOG_CAPACITY)
    }
}

impl RequestLog {
    /// A log that keeps at most `capacity` entries (at least 1).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(LogInner::default()),
            capacity: capacity.max(1),
            in_flight: AtomicU64::new(0),
            peak_in_flight: AtomicU64::new(0),
        }
    }

    /// Appends an entry, giving it the next sequence number (the `seq` passed is ignored).
    pub fn push(&self, mut e: LogEntry) {
        // Built outside the lock: the only allocation a push needs besides the entry.
        let route = route_key(&e.method, &e.path);
        let mut inner = self.inner.lock();
        inner.last_seq += 1;
        e.seq = inner.last_seq;
        let stats = &mut inner.stats;
        stats.total += 1;
        *stats.by_status.entry(e.status).or_insert(0) += 1;
        if let Some(n) = stats.by_route.get_mut(&route) {
            *n += 1;
        } else if stats.by_route.len() < ROUTE_KEYS_MAX {
            stats.by_route.insert(route, 1);
        } else {
            *stats.by_route.entry("OTHER".to_owned()).or_insert(0) += 1;
        }
        if inner.entries.len() >= self.capacity {
            inner.entries.pop_front();
            inner.dropped += 1;
        }
        inner.entries.push_back(e);
    }

    /// Empties the log and its statistics (sequence numbers keep counting).
    pub fn clear(&self) {
        let mut inner = self.inner.lock();
        inner.entries.clear();
        inner.dropped = 0;
        inner.stats = RequestStats::default();
        drop(inner);
        self.peak_in_flight
            .store(self.in_flight.load(Ordering::Relaxed), Ordering::Relaxed);
    }

    /// A copy of every retained entry.
    pub fn entries(&self) -> Vec<LogEntry> {
        self.inner.lock().entries.iter().cloned().collect()
    }

    /// Retained entries with `seq > since_seq` whose path starts with `path_prefix`
    /// (store-relative like `/v2/orders`, or full like `/stores/h/v2/orders`), at most
    /// `limit` of them, oldest first.
    pub fn entries_filtered(
        &self,
        since_seq: Option<u64>,
        path_prefix: Option<&str>,
        limit: Option<usize>,
    ) -> Vec<LogEntry> {
        let inner = self.inner.lock();
        // Entries are in seq order, so the start is a binary search, not a scan.
        let start = since_seq.map_or(0, |s| inner.entries.partition_point(|e| e.seq <= s));
        inner
            .entries
            .range(start..)
            .filter(|e| {
                path_prefix.is_none_or(|p| {
                    e.path.starts_with(p) || relative_to_store(&e.path).starts_with(p)
                })
            })
            .take(limit.unwrap_or(usize::MAX))
            .cloned()
            .collect()
    }

    /// Entries retained (at most the capacity).
    pub fn len(&self) -> usize {
        self.inner.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many requests since the last clear had `status` (counts dropped entries too).
    pub fn count_status(&self, status: u16) -> usize {
        let n = self
            .inner
            .lock()
            .stats
            .by_status
            .get(&status)
            .copied()
            .unwrap_or(0);
        usize::try_from(n).unwrap_or(usize::MAX)
    }

    /// Requests answered since the last clear.
    pub fn total(&self) -> u64 {
        self.inner.lock().stats.total
    }

    /// Counts a request as in flight until the guard drops.
    pub fn enter(&self) -> InFlight<'_> {
        let now = self.in_flight.fetch_add(1, Ordering::AcqRel) + 1;
        self.peak_in_flight.fetch_max(now, Ordering::AcqRel);
        InFlight { log: self }
    }

    /// The most requests in flight at once since the last clear.
    pub fn peak_in_flight(&self) -> u64 {
        self.peak_in_flight.load(Ordering::Relaxed)
    }

    fn snapshot(&self) -> (RequestStats, usize, u64, u64) {
        let inner = self.inner.lock();
        (
            inner.stats.clone(),
            inner.entries.len(),
            inner.dropped,
            inner.last_seq,
        )
    }
}

/// Marks one request in flight; dropping it (even when the client hangs up and the
/// request future is dropped) ends the count.
#[derive(Debug)]
pub struct InFlight<'a> {
    log: &'a RequestLog,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.log.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// `GET /v2/orders/{id}/products`: the method and the store-relative path with ids
/// replaced, so stats group requests by route rather than by record.
pub fn route_key(method: &str, path: &str) -> String {
    let rel = relative_to_store(path);
    let mut key = String::with_capacity(method.len() + rel.len() + 1);
    key.push_str(method);
    key.push(' ');
    for seg in rel.split('/').filter(|s| !s.is_empty()) {
        key.push('/');
        key.push_str(if looks_like_id(seg) { "{id}" } else { seg });
    }
    if rel.is_empty() || rel == "/" {
        key.push('/');
    }
    key
}

/// Numeric ids, UUIDs (cart ids) and long hex strings.
fn looks_like_id(seg: &str) -> bool {
    seg.bytes().all(|b| b.is_ascii_digit())
        || (seg.len() >= 16 && seg.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'))
}

/// Logs every request under `/stores/` once it is answered, and tracks requests in flight.
pub async fn log_middleware(State(st): State<Shared>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if !path.starts_with("/stores/") {
        return next.run(req).await;
    }
    let _in_flight = st.log.enter();
    let method = req.method().to_string();
    let query = req.uri().query().unwrap_or("").to_owned();
    let started = Instant::now();
    let resp = next.run(req).await;
    st.log.push(LogEntry {
        seq: 0,
        method,
        path,
        query,
        status: resp.status().as_u16(),
        duration_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        fault: resp.extensions().get::<InjectedFault>().map(|f| f.0.name()),
    });
    resp
}

pub fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/_sandbox/requests",
            get(list_requests).delete(clear_counters),
        )
        .route("/_sandbox/stats", get(stats).delete(clear_counters))
        .route("/_sandbox/counts", get(counts))
        .route("/_sandbox/reset", post(reset))
        .route(
            "/_sandbox/faults",
            get(get_faults).put(put_faults).delete(delete_faults),
        )
        .route("/_sandbox/ratelimit", get(get_ratelimit).put(put_ratelimit))
        .merge(crate::resources::carts::admin_routes())
        .merge(crate::simulator::admin_routes())
        .route("/_sandbox/events", get(list_events))
        .route("/_sandbox/deliveries", get(list_deliveries))
        .route("/_sandbox/hooks/{id}/deactivate", post(deactivate_hook))
}

/// Page size of the event and delivery lists when `limit` is not given.
const DEFAULT_LIST_LIMIT: usize = 1000;

#[derive(Debug, Deserialize)]
struct SeqFilter {
    after: Option<u64>,
    limit: Option<usize>,
    hook_id: Option<i64>,
}

async fn list_events(State(st): State<Shared>, Query(f): Query<SeqFilter>) -> Response {
    let data = st.data.read();
    let events: Vec<Value> = data
        .events
        .since(f.after.unwrap_or(0), f.limit.unwrap_or(DEFAULT_LIST_LIMIT))
        .into_iter()
        .map(crate::events::StoreEvent::render)
        .collect();
    Json(json!({
        "last_seq": data.events.recorded(),
        "events": events,
    }))
    .into_response()
}

async fn list_deliveries(State(st): State<Shared>, Query(f): Query<SeqFilter>) -> Response {
    let attempts = st.delivery.attempts(
        f.after.unwrap_or(0),
        f.hook_id,
        f.limit.unwrap_or(DEFAULT_LIST_LIMIT),
    );
    let (queued, blocked) = st.delivery.status();
    Json(json!({
        "deliveries": attempts,
        "queued": queued,
        "blocked_domains": blocked,
    }))
    .into_response()
}

/// Deactivates a hook of any client, through the mutation path, as if its retries had run
/// out (so receivers can test their repair).
async fn deactivate_hook(
    State(st): State<Shared>,
    axum::extract::Path(id): axum::extract::Path<i64>,
) -> Response {
    let found = st.write(|tx| {
        let now = tx.now;
        Ok(tx.data.hooks.deactivate(id, now))
    });
    match found {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        _ => admin_error(
            StatusCode::NOT_FOUND,
            format!("no hook {id}; GET /stores/{{hash}}/v3/hooks lists the hooks of a token"),
        ),
    }
}

fn admin_error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({ "status": status.as_u16(), "error": message.into() })),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
struct LogFilter {
    since_seq: Option<u64>,
    path_prefix: Option<String>,
    limit: Option<usize>,
}

async fn list_requests(State(st): State<Shared>, Query(filter): Query<LogFilter>) -> Response {
    let entries = st.log.entries_filtered(
        filter.since_seq,
        filter.path_prefix.as_deref(),
        filter.limit,
    );
    let (_, retained, dropped, last_seq) = st.log.snapshot();
    Json(json!({
        "total": entries.len(),
        "retained": retained,
        "dropped": dropped,
        "last_seq": last_seq,
        "requests": entries,
    }))
    .into_response()
}

/// Clears the log, its statistics, and the fault and rate-limit counters, so a test or a
/// benchmark phase starts counting from zero.
async fn clear_counters(State(st): State<Shared>) -> Response {
    st.log.clear();
    st.faults.reset_counts();
    st.limiter.reset_counts();
    StatusCode::NO_CONTENT.into_response()
}

async fn stats(State(st): State<Shared>) -> Response {
    let (stats, retained, dropped, last_seq) = st.log.snapshot();
    let by_status: serde_json::Map<String, Value> = stats
        .by_status
        .iter()
        .map(|(s, n)| (s.to_string(), Value::from(*n)))
        .collect();
    let mut routes: Vec<(String, u64)> = stats.by_route.into_iter().collect();
    routes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let by_route: serde_json::Map<String, Value> = routes
        .into_iter()
        .map(|(r, n)| (r, Value::from(n)))
        .collect();
    let limiter = st.limiter.stats();
    Json(json!({
        "total_requests": stats.total,
        "by_status": by_status,
        "by_route": by_route,
        "status_429": stats.by_status.get(&429).copied().unwrap_or(0),
        "rate_limit": limiter,
        "faults_injected": st.faults.status().injected,
        "in_flight": st.log.in_flight.load(Ordering::Relaxed),
        "peak_in_flight": st.log.peak_in_flight(),
        "log": { "retained": retained, "dropped": dropped, "capacity": st.log.capacity, "last_seq": last_seq },
    }))
    .into_response()
}

async fn counts(State(st): State<Shared>) -> Response {
    Json(st.data.read().counts()).into_response()
}

async fn reset(State(st): State<Shared>) -> Response {
    st.simulator.stop();
    st.reset();
    st.limiter.reset();
    st.faults.reset_counts();
    StatusCode::NO_CONTENT.into_response()
}

async fn get_faults(State(st): State<Shared>) -> Response {
    Json(st.faults.status()).into_response()
}

/// Reads a fault configuration from a body that is either the spec string (plain text or
/// a JSON string), `{"spec": "..."}`, or the structured JSON that `GET` shows under
/// `config`.
fn fault_config_from_body(headers: &HeaderMap, body: &[u8]) -> Result<FaultConfig, String> {
    let text = std::str::from_utf8(body)
        .map_err(|_| "the body is not UTF-8 text".to_owned())?
        .trim();
    let is_json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("json"))
        || text.starts_with('{')
        || text.starts_with('"');
    if !is_json {
        return FaultConfig::parse(text);
    }
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("the body is not valid JSON: {e}"))?;
    match value {
        Value::String(spec) => FaultConfig::parse(&spec),
        Value::Object(ref obj) if obj.get("spec").is_some() => match obj.get("spec") {
            Some(Value::String(spec)) => FaultConfig::parse(spec),
            _ => Err("\"spec\" must be a string, e.g. {\"spec\": \"seed=7,503=0.1\"}".to_owned()),
        },
        Value::Object(_) => {
            let config: FaultConfig = serde_json::from_value(value).map_err(|e| {
                format!("not a fault configuration ({e}); send {{\"spec\": \"...\"}} or the shape GET /_sandbox/faults shows under \"config\"")
            })?;
            config.validate()?;
            Ok(config)
        }
        _ => Err("send a spec string, {\"spec\": \"...\"}, or a configuration object".to_owned()),
    }
}

async fn put_faults(State(st): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    match fault_config_from_body(&headers, &body) {
        Ok(config) => {
            st.faults.set(config);
            Json(st.faults.status()).into_response()
        }
        Err(msg) => admin_error(StatusCode::BAD_REQUEST, msg),
    }
}

async fn delete_faults(State(st): State<Shared>) -> Response {
    st.faults.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn get_ratelimit(State(st): State<Shared>) -> Response {
    Json(json!({ "settings": st.limiter.settings(), "stats": st.limiter.stats() })).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateLimitUpdate {
    /// `standard`, `plus`, `pro`, `enterprise`, `enterprise:N` or `unlimited`.
    plan: Option<String>,
    /// Quota per window for `enterprise` (same as `enterprise:N`).
    quota: Option<u32>,
    time_scale: Option<f64>,
}

async fn put_ratelimit(State(st): State<Shared>, body: Bytes) -> Response {
    let update: RateLimitUpdate = match serde_json::from_slice(&body) {
        Ok(u) => u,
        Err(e) => {
            return admin_error(
                StatusCode::BAD_REQUEST,
                format!(
                    "{e}; send e.g. {{\"plan\": \"standard\", \"time_scale\": 0.01}} (fields: plan, quota, time_scale)"
                ),
            );
        }
    };
    let plan = match (update.plan.as_deref(), update.quota) {
        (None, None) => None,
        (Some(p), quota) => match Plan::parse(p) {
            Ok(Plan::Enterprise { .. }) if quota.is_some() => {
                quota.map(|quota| Plan::Enterprise { quota })
            }
            Ok(_) if quota.is_some() => {
                return admin_error(
                    StatusCode::BAD_REQUEST,
                    "\"quota\" applies only to plan \"enterprise\"; drop it or use that plan",
                );
            }
            Ok(plan) => Some(plan),
            Err(msg) => return admin_error(StatusCode::BAD_REQUEST, msg),
        },
        (None, Some(quota)) => Some(Plan::Enterprise { quota }),
    };
    if let Some(scale) = update
        .time_scale
        .filter(|s| !(*s > 0.0 && *s <= crate::config::MAX_TIME_SCALE))
    {
        return admin_error(
            StatusCode::BAD_REQUEST,
            format!(
                "time_scale must be a positive number up to {} (0.01 turns 30 s windows into 300 ms), got {scale}",
                crate::config::MAX_TIME_SCALE
            ),
        );
    }
    st.limiter.configure(plan, update.time_scale);
    Json(json!({ "settings": st.limiter.settings(), "stats": st.limiter.stats() })).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(method: &str, path: &str, status: u16) -> LogEntry {
        LogEntry {
            seq: 0,
            method: method.to_owned(),
            path: path.to_owned(),
            query: String::new(),
            status,
            duration_us: 1,
            fault: None,
        }
    }

    #[test]
    fn route_keys_group_by_route() {
        assert_eq!(route_key("GET", "/stores/abc/v2/orders"), "GET /v2/orders");
        assert_eq!(
            route_key("GET", "/stores/abc/v2/orders/17/products"),
            "GET /v2/orders/{id}/products"
        );
        assert_eq!(
            route_key(
                "PUT",
                "/stores/abc/v3/carts/0b5e4a1c-8f8e-4f0e-9d59-6a1f0f2a3b4c/items"
            ),
            "PUT /v3/carts/{id}/items"
        );
        assert_eq!(route_key("GET", "/stores/abc"), "GET /");
    }

    #[test]
    fn capped_log_drops_the_oldest_but_keeps_counting() {
        let log = RequestLog::with_capacity(3);
        for i in 0..5 {
            log.push(entry(
                "GET",
                &format!("/stores/h/v2/orders/{i}"),
                if i % 2 == 0 { 200 } else { 404 },
            ));
        }
        let seqs: Vec<u64> = log.entries().iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![3, 4, 5]);
        assert_eq!(log.total(), 5);
        assert_eq!(log.count_status(200), 3);
        log.clear();
        log.push(entry("GET", "/stores/h/v2/time", 200));
        assert_eq!(log.entries()[0].seq, 6, "seq must never be reused");
    }

    #[test]
    fn filters_by_seq_and_prefix() {
        let log = RequestLog::default();
        for p in [
            "/stores/h/v2/orders",
            "/stores/h/v3/customers",
            "/stores/h/v2/orders/1",
            "/stores/h/v2/time",
        ] {
            log.push(entry("GET", p, 200));
        }
        let seqs = |v: Vec<LogEntry>| v.iter().map(|e| e.seq).collect::<Vec<_>>();
        assert_eq!(seqs(log.entries_filtered(Some(2), None, None)), vec![3, 4]);
        assert_eq!(
            seqs(log.entries_filtered(None, Some("/v2/orders"), None)),
            vec![1, 3]
        );
        assert_eq!(
            seqs(log.entries_filtered(None, Some("/stores/h/v3"), None)),
            vec![2]
        );
        assert_eq!(
            seqs(log.entries_filtered(Some(0), Some("/v2"), Some(2))),
            vec![1, 3]
        );
    }

    #[test]
    fn in_flight_peak_is_tracked() {
        let log = RequestLog::default();
        let a = log.enter();
        let b = log.enter();
        drop(a);
        let _c = log.enter();
        drop(b);
        assert_eq!(log.peak_in_flight(), 2);
    }
}
