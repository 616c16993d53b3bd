//! Rate limits like a real store (docs/api-notes.md §0.7): a per-store quota per fixed window by
//! plan, `X-Rate-Limit-*` headers on every response, 429 with the reset header when the quota
//! is spent, per-endpoint concurrency caps, and a time scale that shrinks the window.
//!
//! Quota: the store has one quota shared by every token (docs/api-notes.md §0.7: "all apps on a
//! store share the store's quota"). A window opens at the first request after the previous one
//! closed and lasts `30 s × time_scale`; each request that passes auth uses one unit. Once
//! the units are gone every request gets 429 until the window closes. Header values are
//! in *scaled* milliseconds, so a client that sleeps `X-Rate-Limit-Time-Reset-Ms` waits
//! exactly as long as the sandbox needs.
//!
//! Unlimited plan: no `X-Rate-Limit-*` headers at all. There is no quota to describe, and
//! a client must cope with absent headers anyway (docs/api-notes.md §0.7: a 429 may arrive without
//! them), so this exercises that path instead of inventing a large number.
//!
//! Concurrency caps (docs/api-notes.md §0.7 table): an in-flight counter per capped endpoint, taken
//! before the handler runs and released by a drop guard when the response has been
//! produced (or the request was abandoned). Over the cap → 429 in the path's error shape,
//! with the ordinary quota headers but no `X-Retry-After`, since waiting for the window is
//! not what frees a slot. The quota is checked first, so a request refused by a cap has
//! still used its unit, as every request does.
//!
//! Cost per request: one tiny mutex (the window) and, on capped endpoints, one atomic.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::header::{HeaderMap, HeaderName, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use serde::Serialize;

use crate::config::Plan;
use crate::error::{ApiError, ApiVersion};
use crate::faults::InjectedFault;
use crate::state::Shared;

/// The unscaled window of an OAuth app's quota (docs/api-notes.md §0.7).
pub const BASE_WINDOW_MS: f64 = 30_000.0;

pub const HEADER_WINDOW_MS: HeaderName = HeaderName::from_static("x-rate-limit-time-window-ms");
pub const HEADER_RESET_MS: HeaderName = HeaderName::from_static("x-rate-limit-time-reset-ms");
pub const HEADER_QUOTA: HeaderName = HeaderName::from_static("x-rate-limit-requests-quota");
pub const HEADER_LEFT: HeaderName = HeaderName::from_static("x-rate-limit-requests-left");
pub const HEADER_RETRY_AFTER: HeaderName = HeaderName::from_static("x-retry-after");

/// The store's quota accounting plus the per-endpoint in-flight counters.
#[derive(Debug)]
pub struct RateLimiter {
    window: Mutex<Window>,
    in_flight: [AtomicU32; CappedEndpoint::COUNT],
    quota_rejections: AtomicU64,
    concurrency_rejections: AtomicU64,
}

#[derive(Debug)]
struct Window {
    plan: Plan,
    time_scale: f64,
    /// When the current window opened; `None` until the first request (or after a reset).
    opened: Option<Instant>,
    used: u32,
}

impl Window {
    fn length(&self) -> Duration {
        // At least 1 ms so a silly scale cannot make every window already over.
        Duration::from_secs_f64((BASE_WINDOW_MS * self.time_scale / 1000.0).max(0.001))
    }
}

/// What the quota said about one request, and what its headers report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Unlimited plan: let it through, send no quota headers.
    Unlimited,
    /// A unit was used; `left` counts what remains.
    Allowed(QuotaSnapshot),
    /// The quota is spent: answer 429.
    Exhausted(QuotaSnapshot),
}

/// The numbers behind the four `X-Rate-Limit-*` headers, in scaled milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct QuotaSnapshot {
    pub window_ms: u64,
    pub reset_ms: u64,
    pub quota: u32,
    pub left: u32,
}

impl QuotaSnapshot {
    /// Writes the four quota headers.
    pub fn apply(&self, headers: &mut HeaderMap) {
        headers.insert(HEADER_WINDOW_MS, HeaderValue::from(self.window_ms));
        headers.insert(HEADER_RESET_MS, HeaderValue::from(self.reset_ms));
        headers.insert(HEADER_QUOTA, HeaderValue::from(self.quota));
        headers.insert(HEADER_LEFT, HeaderValue::from(self.left));
    }

    /// `X-Retry-After`: whole seconds until the refresh, rounded up so a client never
    /// retries early.
    pub fn retry_after_secs(&self) -> u64 {
        self.reset_ms.div_ceil(1000).max(1)
    }
}

/// The current quota settings, as the admin API shows them.
#[derive(Debug, Clone, Serialize)]
pub struct RateLimitSettings {
    pub plan: String,
    /// Requests per window, `None` for unlimited.
    pub quota: Option<u32>,
    pub time_scale: f64,
    pub window_ms: u64,
}

/// Counters for the admin stats.
#[derive(Debug, Clone, Serialize)]
pub struct RateLimitStats {
    /// 429s because the store's quota was spent.
    pub quota_429: u64,
    /// 429s because a capped endpoint had too many requests in flight.
    pub concurrency_429: u64,
    /// Requests in flight now, per capped endpoint (only non-zero ones).
    pub capped_in_flight: serde_json::Map<String, serde_json::Value>,
}

impl RateLimiter {
    pub fn new(plan: Plan, time_scale: f64) -> Self {
        Self {
            window: Mutex::new(Window {
                plan,
                time_scale: sane_scale(time_scale),
                opened: None,
                used: 0,
            }),
            in_flight: std::array::from_fn(|_| AtomicU32::new(0)),
            quota_rejections: AtomicU64::new(0),
            concurrency_rejections: AtomicU64::new(0),
        }
    }

    /// Uses one unit of the quota for a request arriving at `now`.
    pub fn admit(&self, now: Instant) -> Admission {
        let mut w = self.window.lock();
        let Some(quota) = w.plan.quota() else {
            return Admission::Unlimited;
        };
        let length = w.length();
        let opened = match w.opened {
            Some(opened) if now.saturating_duration_since(opened) < length => opened,
            _ => {
                w.opened = Some(now);
                w.used = 0;
                now
            }
        };
        let exhausted = w.used >= quota;
        if !exhausted {
            w.used += 1;
        }
        let left = quota - w.used;
        drop(w);
        let remaining = length.saturating_sub(now.saturating_duration_since(opened));
        let snapshot = QuotaSnapshot {
            window_ms: ceil_ms(length),
            reset_ms: ceil_ms(remaining).max(1),
            quota,
            left,
        };
        if exhausted {
            self.quota_rejections.fetch_add(1, Ordering::Relaxed);
            Admission::Exhausted(snapshot)
        } else {
            Admission::Allowed(snapshot)
        }
    }

    /// Changes the plan and/or time scale at runtime and opens a fresh window, so the new
    /// numbers apply from the next request.
    pub fn configure(&self, plan: Option<Plan>, time_scale: Option<f64>) {
        let mut w = self.window.lock();
        if let Some(plan) = plan {
            w.plan = plan;
        }
        if let Some(scale) = time_scale {
            w.time_scale = sane_scale(scale);
        }
        w.opened = None;
        w.used = 0;
    }

    /// Forgets the current window (the next request opens a full one) and the counters.
    pub fn reset(&self) {
        self.configure(None, None);
        self.reset_counts();
    }

    /// Zeroes the 429 counters (settings and the current window stay).
    pub fn reset_counts(&self) {
        self.quota_rejections.store(0, Ordering::Relaxed);
        self.concurrency_rejections.store(0, Ordering::Relaxed);
    }

    pub fn settings(&self) -> RateLimitSettings {
        let w = self.window.lock();
        RateLimitSettings {
            plan: plan_label(w.plan),
            quota: w.plan.quota(),
            time_scale: w.time_scale,
            window_ms: ceil_ms(w.length()),
        }
    }

    pub fn stats(&self) -> RateLimitStats {
        RateLimitStats {
            quota_429: self.quota_rejections.load(Ordering::Relaxed),
            concurrency_429: self.concurrency_rejections.load(Ordering::Relaxed),
            capped_in_flight: CappedEndpoint::ALL
                .iter()
                .map(|e| {
                    (
                        e.label().to_owned(),
                        self.in_flight[*e as usize].load(Ordering::Relaxed),
                    )
                })
                .filter(|(_, n)| *n > 0)
                .map(|(label, n)| (label, n.into()))
                .collect(),
        }
    }

    /// Takes a slot on a capped endpoint, or says the cap is reached.
    pub fn try_enter(&self, endpoint: CappedEndpoint) -> Result<InFlightGuard<'_>, u32> {
        let limit = endpoint.limit();
        let counter = &self.in_flight[endpoint as usize];
        // Optimistic increment: a loser undoes its own increment, so the counter never
        // stays above the cap and no lock is needed.
        if counter.fetch_add(1, Ordering::AcqRel) >= limit {
            counter.fetch_sub(1, Ordering::AcqRel);
            self.concurrency_rejections.fetch_add(1, Ordering::Relaxed);
            return Err(limit);
        }
        Ok(InFlightGuard { counter })
    }
}

/// Holds one slot of a capped endpoint; dropping it (response produced, or the request
/// future dropped because the client went away) frees the slot.
#[derive(Debug)]
pub struct InFlightGuard<'a> {
    counter: &'a AtomicU32,
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::AcqRel);
    }
}

fn sane_scale(scale: f64) -> f64 {
    if scale.is_finite() && scale > 0.0 {
        scale
    } else {
        1.0
    }
}

fn ceil_ms(d: Duration) -> u64 {
    u64::try_from(d.as_micros().div_ceil(1000)).unwrap_or(u64::MAX)
}

/// `standard`, `pro`, `enterprise:N`...: the form `Plan::parse` reads back.
pub fn plan_label(plan: Plan) -> String {
    match plan {
        Plan::Standard => "standard".to_owned(),
        Plan::Plus => "plus".to_owned(),
        Plan::Pro => "pro".to_owned(),
        Plan::Enterprise { quota } => format!("enterprise:{quota}"),
        Plan::Unlimited => "unlimited".to_owned(),
    }
}

/// Endpoints with a concurrency cap (docs/api-notes.md §0.7). Price-list record endpoints are left
/// out: the sandbox does not serve price lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CappedEndpoint {
    CustomersUpdate,
    AddressesUpdate,
    AddressesCreate,
    AttributesCreate,
    AttributesUpdate,
    AttributeValuesUpsert,
    CustomerGroups,
    Categories,
    TreeCategoriesGet,
    Promotions,
    PromotionCodegen,
}

impl CappedEndpoint {
    const COUNT: usize = 11;
    const ALL: [CappedEndpoint; Self::COUNT] = [
        Self::CustomersUpdate,
        Self::AddressesUpdate,
        Self::AddressesCreate,
        Self::AttributesCreate,
        Self::AttributesUpdate,
        Self::AttributeValuesUpsert,
        Self::CustomerGroups,
        Self::Categories,
        Self::TreeCategoriesGet,
        Self::Promotions,
        Self::PromotionCodegen,
    ];

    /// Requests allowed in flight at once.
    pub fn limit(self) -> u32 {
        match self {
            Self::CustomersUpdate
            | Self::AddressesUpdate
            | Self::AttributesCreate
            | Self::AttributesUpdate
            | Self::AttributeValuesUpsert => 3,
            Self::AddressesCreate | Self::PromotionCodegen => 10,
            Self::CustomerGroups | Self::Categories | Self::Promotions => 40,
            Self::TreeCategoriesGet => 1,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::CustomersUpdate => "PUT /v3/customers",
            Self::AddressesUpdate => "PUT /v3/customers/addresses",
            Self::AddressesCreate => "POST /v3/customers/addresses",
            Self::AttributesCreate => "POST /v3/customers/attributes",
            Self::AttributesUpdate => "PUT /v3/customers/attributes",
            Self::AttributeValuesUpsert => "PUT /v3/customers/attribute-values",
            Self::CustomerGroups => "/v2/customer_groups",
            Self::Categories => "/v3/catalog/categories",
            Self::TreeCategoriesGet => "GET /v3/catalog/trees/{tree_id}/categories",
            Self::Promotions => "/v3/promotions",
            Self::PromotionCodegen => "POST /v3/promotions/{id}/codegen",
        }
    }

    /// The capped endpoint a request falls under. `path` is relative to the store
    /// (`/v3/customers`), as [`store_relative_path`] gives it.
    pub fn of(method: &Method, path: &str) -> Option<Self> {
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        match (method, segs.as_slice()) {
            (&Method::PUT, ["v3", "customers"]) => Some(Self::CustomersUpdate),
            (&Method::PUT, ["v3", "customers", "addresses"]) => Some(Self::AddressesUpdate),
            (&Method::POST, ["v3", "customers", "addresses"]) => Some(Self::AddressesCreate),
            (&Method::POST, ["v3", "customers", "attributes"]) => Some(Self::AttributesCreate),
            (&Method::PUT, ["v3", "customers", "attributes"]) => Some(Self::AttributesUpdate),
            (&Method::PUT, ["v3", "customers", "attribute-values"]) => {
                Some(Self::AttributeValuesUpsert)
            }
            (_, ["v2", "customer_groups", ..]) => Some(Self::CustomerGroups),
            (_, ["v3", "catalog", "categories", ..]) => Some(Self::Categories),
            // One slot for the endpoint, whatever the tree: the stricter reading, and the
            // one a careful client survives.
            (&Method::GET, ["v3", "catalog", "trees", _tree, "categories"]) => {
                Some(Self::TreeCategoriesGet)
            }
            (&Method::POST, ["v3", "promotions", _id, "codegen"]) => Some(Self::PromotionCodegen),
            (_, ["v3", "promotions", ..]) => Some(Self::Promotions),
            _ => None,
        }
    }
}

/// The request path relative to the store (`/v3/customers`), whether or not the router
/// has already stripped `/stores/{hash}` (axum strips a nest prefix before inner layers).
pub fn store_relative_path(req: &Request) -> String {
    let full = req
        .extensions()
        .get::<axum::extract::OriginalUri>()
        .map(|o| o.0.path())
        .unwrap_or_else(|| req.uri().path());
    relative_to_store(full).to_owned()
}

/// `/stores/{hash}/v3/x` → `/v3/x`; any other path is returned unchanged.
pub fn relative_to_store(path: &str) -> &str {
    match path.strip_prefix("/stores/") {
        Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => path,
    }
}

fn too_many_requests(version: ApiVersion, title: String) -> ApiError {
    ApiError::new(version, StatusCode::TOO_MANY_REQUESTS, title)
}

/// Quota, then concurrency cap, then the handler; quota headers on whatever comes back
/// (except an injected "infrastructure" 429, which must carry none).
pub async fn middleware(State(st): State<Shared>, req: Request, next: Next) -> Response {
    let path = store_relative_path(&req);
    let version = ApiVersion::of_path(&path);
    let snapshot = match st.limiter.admit(Instant::now()) {
        Admission::Unlimited => None,
        Admission::Allowed(s) => Some(s),
        Admission::Exhausted(s) => {
            let mut resp = too_many_requests(
                version,
                format!(
                    "Too many requests: the store's quota of {} requests per {} ms is used up. Retry after {} ms.",
                    s.quota, s.window_ms, s.reset_ms
                ),
            )
            .into_response();
            s.apply(resp.headers_mut());
            resp.headers_mut()
                .insert(HEADER_RETRY_AFTER, HeaderValue::from(s.retry_after_secs()));
            return resp;
        }
    };
    let _slot = match CappedEndpoint::of(req.method(), &path) {
        None => None,
        Some(endpoint) => match st.limiter.try_enter(endpoint) {
            Ok(guard) => Some(guard),
            Err(limit) => {
                let mut resp = too_many_requests(
                    version,
                    format!(
                        "Too many concurrent requests to {}: at most {limit} may run at once. Retry when one has finished.",
                        endpoint.label()
                    ),
                )
                .into_response();
                if let Some(s) = snapshot {
                    s.apply(resp.headers_mut());
                }
                return resp;
            }
        },
    };
    let mut resp = next.run(req).await;
    let platform_429 = resp
        .extensions()
        .get::<InjectedFault>()
        .is_some_and(|f| f.strips_rate_headers());
    if let (Some(s), false) = (snapshot, platform_429) {
        s.apply(resp.headers_mut());
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_quota_counts_down_then_refuses_until_the_window_closes() {
        let limiter = RateLimiter::new(Plan::Standard, 0.01);
        let t0 = Instant::now();
        for expected_left in (0..150).rev() {
            match limiter.admit(t0) {
                Admission::Allowed(s) => {
                    assert_eq!(s.left, expected_left);
                    assert_eq!(s.quota, 150);
                    assert_eq!(s.window_ms, 300);
                }
                other => panic!("expected allowed, got {other:?}"),
            }
        }
        let Admission::Exhausted(s) = limiter.admit(t0 + Duration::from_millis(100)) else {
            panic!("151st request must be refused");
        };
        assert_eq!((s.left, s.reset_ms, s.retry_after_secs()), (0, 200, 1));
        let Admission::Allowed(s) = limiter.admit(t0 + Duration::from_millis(300)) else {
            panic!("a new window must open after 300 ms");
        };
        assert_eq!((s.left, s.reset_ms), (149, 300));
    }

    #[test]
    fn unlimited_admits_everything_and_reports_nothing() {
        let limiter = RateLimiter::new(Plan::Unlimited, 1.0);
        let now = Instant::now();
        assert!((0..10_000).all(|_| limiter.admit(now) == Admission::Unlimited));
    }

    #[test]
    fn configure_switches_plan_and_opens_a_fresh_window() {
        let limiter = RateLimiter::new(Plan::Enterprise { quota: 1 }, 1.0);
        let now = Instant::now();
        assert!(matches!(limiter.admit(now), Admission::Allowed(_)));
        assert!(matches!(limiter.admit(now), Admission::Exhausted(_)));
        limiter.configure(Some(Plan::Pro), Some(2.0));
        let Admission::Allowed(s) = limiter.admit(now) else {
            panic!("fresh window expected")
        };
        assert_eq!((s.quota, s.left, s.window_ms), (450, 449, 60_000));
        assert_eq!(limiter.settings().plan, "pro");
    }

    #[test]
    fn retry_after_rounds_up() {
        let s = QuotaSnapshot {
            window_ms: 30_000,
            reset_ms: 1001,
            quota: 150,
            left: 0,
        };
        assert_eq!(s.retry_after_secs(), 2);
    }

    #[test]
    fn caps_classify_the_documented_endpoints() {
        use CappedEndpoint as E;
        let cases = [
            (Method::PUT, "/v3/customers", Some(E::CustomersUpdate)),
            (Method::GET, "/v3/customers", None),
            (
                Method::PUT,
                "/v3/customers/addresses",
                Some(E::AddressesUpdate),
            ),
            (
                Method::POST,
                "/v3/customers/addresses",
                Some(E::AddressesCreate),
            ),
            (
                Method::PUT,
                "/v3/customers/attribute-values",
                Some(E::AttributeValuesUpsert),
            ),
            (
                Method::GET,
                "/v2/customer_groups/4",
                Some(E::CustomerGroups),
            ),
            (
                Method::DELETE,
                "/v3/catalog/categories",
                Some(E::Categories),
            ),
            (
                Method::GET,
                "/v3/catalog/trees/1/categories",
                Some(E::TreeCategoriesGet),
            ),
            (Method::GET, "/v3/catalog/trees/categories", None),
            (
                Method::POST,
                "/v3/promotions/9/codegen",
                Some(E::PromotionCodegen),
            ),
            (Method::GET, "/v3/promotions", Some(E::Promotions)),
        ];
        for (method, path, expected) in cases {
            assert_eq!(
                CappedEndpoint::of(&method, path),
                expected,
                "{method} {path}"
            );
        }
        assert_eq!(E::TreeCategoriesGet.limit(), 1);
        assert_eq!(E::CustomersUpdate.limit(), 3);
    }

    #[test]
    fn cap_slots_are_released_by_the_guard() {
        let limiter = RateLimiter::new(Plan::Unlimited, 1.0);
        let a = limiter.try_enter(CappedEndpoint::TreeCategoriesGet);
        assert!(a.is_ok());
        assert_eq!(
            limiter.try_enter(CappedEndpoint::TreeCategoriesGet).err(),
            Some(1)
        );
        drop(a);
        assert!(limiter.try_enter(CappedEndpoint::TreeCategoriesGet).is_ok());
        assert_eq!(limiter.stats().concurrency_429, 1);
    }

    #[test]
    fn store_prefix_is_stripped_once() {
        assert_eq!(relative_to_store("/stores/abc/v2/orders/5"), "/v2/orders/5");
        assert_eq!(relative_to_store("/v2/orders"), "/v2/orders");
        assert_eq!(relative_to_store("/stores/abc"), "/");
    }
}
