//! The Brevo emulator's HTTP server: `/v3/...` behind the middleware stack, the admin API
//! under `/_brevo/`, and [`start_brevo`] returning a [`RunningBrevo`] handle.
//!
//! Middleware, outermost first: the request log (which also completes due processes and
//! adds `sib-request-id`, so 401s and 429s are logged and carry an id), then on `/v3` the
//! `api-key` check (401), the rate limiter (429 and the `x-sib-ratelimit-*` headers),
//! injected faults, then the handler (docs/brevo-api-notes.md §0.1, §0.4).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use parking_lot::{Mutex, RwLock};
use secrecy::SecretString;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::clock::Clock;
use super::config::{BrevoConfig, Bucket, Switches, TierLimits};
use super::error::BrevoError;
use super::faults::{BrevoFaults, FaultCounter};
use super::ratelimit::RateLimiter;
use super::store::{Store, WriteContext};
use super::{admin, contacts, ecommerce, events, lists};

/// Settings the admin API can change at runtime.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub limits: TierLimits,
    pub time_scale: f64,
    #[serde(serialize_with = "secs")]
    pub activation_delay: Duration,
    pub switches: Switches,
    pub faults: BrevoFaults,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// One logged request.
#[derive(Debug, Clone, Serialize)]
pub struct LogEntry {
    pub seq: u64,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub bucket: Bucket,
}

/// Everything a running emulator holds.
#[derive(Debug)]
pub struct BrevoState {
    pub keys: Vec<SecretString>,
    pub settings: RwLock<Settings>,
    pub clock: Clock,
    pub limiter: RateLimiter,
    pub fault_counter: FaultCounter,
    pub store: Mutex<Store>,
    pub log: Mutex<Vec<LogEntry>>,
    request_ids: AtomicU64,
    pub http: reqwest::Client,
    /// Whether the e-commerce app is active after a reset.
    ecommerce_active_at_start: bool,
}

pub type BrevoShared = Arc<BrevoState>;

/// The index of the calling key in the configured keys (set by the auth layer).
#[derive(Debug, Clone, Copy)]
pub struct KeyIndex(pub usize);

/// The largest request body read (above the documented 10 MB import cap, so the
/// emulator's own 400 answers oversize imports).
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// Keeps the log from growing without bound in long runs.
const LOG_CAPACITY: usize = 200_000;

impl BrevoState {
    pub fn new(config: BrevoConfig) -> Self {
        let store = Self::fresh_store(&config.switches, config.ecommerce_active);
        Self {
            keys: config.api_keys,
            settings: RwLock::new(Settings {
                limits: config.limits,
                time_scale: config.time_scale,
                activation_delay: config.activation_delay,
                switches: config.switches,
                faults: config.faults,
            }),
            clock: Clock::default(),
            limiter: RateLimiter::default(),
            fault_counter: FaultCounter::default(),
            store: Mutex::new(store),
            log: Mutex::new(Vec::new()),
            request_ids: AtomicU64::new(0),
            http: reqwest::Client::new(),
            ecommerce_active_at_start: config.ecommerce_active,
        }
    }

    fn fresh_store(switches: &Switches, ecommerce_active: bool) -> Store {
        let mut s = Store::new(switches.french_default_attributes);
        if ecommerce_active {
            s.ecommerce_active_at = Some(Duration::ZERO);
        }
        s
    }

    /// Empties the account, the log and the rate buckets; settings stay.
    pub fn reset(&self) {
        let switches = self.settings.read().switches.clone();
        let mut store = Self::fresh_store(&switches, self.ecommerce_active_at_start);
        if self.ecommerce_active_at_start {
            store.ecommerce_active_at = Some(self.clock.now());
        }
        *self.store.lock() = store;
        self.log.lock().clear();
        self.limiter.clear();
        self.fault_counter.requests.store(0, Ordering::SeqCst);
        self.fault_counter.injected.store(0, Ordering::SeqCst);
    }

    /// An unscaled duration of the emulated API, in emulator time.
    pub fn scaled(&self, d: Duration) -> Duration {
        d.mul_f64(self.settings.read().time_scale)
    }

    pub fn switches(&self) -> Switches {
        self.settings.read().switches.clone()
    }

    /// The context of an attribute write on `route`.
    pub fn write_ctx<'a>(&self, route: &'a str, contact: Option<String>) -> WriteContext<'a> {
        WriteContext {
            route,
            contact,
            reject_wrong_type: self.settings.read().switches.reject_wrong_type,
        }
    }

    /// Completes due processes and batches and sends their notifications.
    pub fn tick(&self) {
        let notes = self.store.lock().tick(self.clock.now());
        for mut n in notes {
            n.sent = is_loopback(&n.url);
            if n.sent {
                let http = self.http.clone();
                let (url, payload) = (n.url.clone(), n.payload.clone());
                tokio::spawn(async move {
                    let _ = http
                        .post(url)
                        .json(&payload)
                        .timeout(Duration::from_secs(5))
                        .send()
                        .await;
                });
            } else {
                tracing::info!(url = %n.url, "notifyUrl not on loopback; the emulator does not call it");
            }
            self.store.lock().notifications.push(n);
        }
    }

    fn next_request_id(&self) -> String {
        let n = self.request_ids.fetch_add(1, Ordering::SeqCst) + 1;
        format!("sandbox-{n:012x}")
    }
}

/// `notifyUrl`s are called only on loopback, so tests never reach out
/// (docs/brevo-api-notes.md §7.10).
pub fn is_loopback(raw: &str) -> bool {
    let Ok(u) = url::Url::parse(raw) else {
        return false;
    };
    match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

/// Builds the router for a state.
pub fn brevo_router(state: BrevoShared) -> Router {
    let api = contacts::routes()
        .merge(lists::routes())
        .merge(events::routes())
        .merge(ecommerce::routes())
        .fallback(unknown_route)
        // An import body may be 10 MB of CSV; JSON escaping makes the request larger
        // (docs/brevo-api-notes.md §1.6), so the default 2 MB cap is lifted.
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            super::faults::middleware,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            super::ratelimit::middleware,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), auth));
    Router::new()
        .merge(admin::routes())
        .merge(api)
        .layer(middleware::from_fn_with_state(state.clone(), log_and_tick))
        .with_state(state)
}

async fn unknown_route(req: Request) -> Response {
    BrevoError::new(
        StatusCode::NOT_FOUND,
        "document_not_found",
        format!(
            "No route {} {}; check the path against the Brevo v3 reference",
            req.method(),
            req.uri().path()
        ),
    )
    .into_response()
}

/// 401 without a known `api-key` (docs/brevo-api-notes.md §0.1).
async fn auth(State(st): State<BrevoShared>, mut req: Request, next: Next) -> Response {
    let key = req
        .headers()
        .get("api-key")
        .map(|h| h.to_str().unwrap_or("").to_owned());
    let Some(key) = key else {
        return BrevoError::unauthorized("authentication not found in headers").into_response();
    };
    let found = st
        .keys
        .iter()
        .position(|k| secrecy::ExposeSecret::expose_secret(k) == key);
    let Some(index) = found else {
        return BrevoError::unauthorized("Key not found").into_response();
    };
    req.extensions_mut().insert(KeyIndex(index));
    next.run(req).await
}

/// Logs `/v3` requests, completes due work first, and adds `sib-request-id` to every answer.
async fn log_and_tick(State(st): State<BrevoShared>, req: Request, next: Next) -> Response {
    st.tick();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let mut resp = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&st.next_request_id()) {
        resp.headers_mut().insert("sib-request-id", v);
    }
    if path.starts_with("/v3") {
        let mut log = st.log.lock();
        if log.len() >= LOG_CAPACITY {
            log.drain(..LOG_CAPACITY / 2);
        }
        let seq = log.last().map_or(1, |e| e.seq + 1);
        log.push(LogEntry {
            seq,
            method: method.to_string(),
            bucket: Bucket::of(&method, &path),
            path,
            status: resp.status().as_u16(),
        });
    }
    resp
}

/// A Brevo emulator serving on a real socket.
#[derive(Debug)]
pub struct RunningBrevo {
    pub addr: SocketAddr,
    pub state: BrevoShared,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

impl RunningBrevo {
    /// `http://127.0.0.1:PORT/v3`: what a client takes as its base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}/v3", self.addr)
    }

    /// `http://127.0.0.1:PORT/_brevo`: the admin API.
    pub fn admin_url(&self) -> String {
        format!("http://{}/_brevo", self.addr)
    }

    /// The first configured key (a test key, not a credential).
    pub fn api_key(&self) -> String {
        self.state
            .keys
            .first()
            .map(|k| secrecy::ExposeSecret::expose_secret(k).to_owned())
            .unwrap_or_default()
    }

    /// Stops accepting connections and waits for the server task.
    pub async fn stop(mut self) {
        if let Some(t) = self.ticker.take() {
            t.abort();
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningBrevo {
    fn drop(&mut self) {
        if let Some(t) = self.ticker.take() {
            t.abort();
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Serves a fresh emulated account on `addr` (port 0 picks a free port).
pub async fn start_brevo(config: BrevoConfig, addr: SocketAddr) -> std::io::Result<RunningBrevo> {
    config.validate().map_err(std::io::Error::other)?;
    let state = Arc::new(BrevoState::new(config));
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let app = brevo_router(Arc::clone(&state));
    let (tx, task) = crate::server::serve(listener, app);
    // Completes imports and order batches (and sends their notifications) without waiting
    // for the next request.
    let weak = Arc::downgrade(&state);
    let ticker = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            match weak.upgrade() {
                Some(st) => st.tick(),
                None => break,
            }
        }
    });
    Ok(RunningBrevo {
        addr,
        state,
        shutdown: Some(tx),
        task: Some(task),
        ticker: Some(ticker),
    })
}
