//! The storefront simulator: seeded, deterministic shopper and merchant traffic at a given
//! rate, for webhook receivers and benchmarks (`POST /_sandbox/simulate`, `bcsync sandbox
//! --simulate RATE`).
//!
//! Each action is planned from the store's state and a seeded RNG, then sent through the
//! store's own API handlers in process ([`crate::internal`]), so it validates, writes,
//! bumps `date_modified` and records webhook events exactly as an API call would; only
//! abandoning a cart (which in a real store is an hour of silence) calls the cart
//! sweeper's own step directly. The same seed on the same store gives the same actions
//! with the same targets, whatever the rate.
//!
//! The mix: 30% cart actions (at most [`MAX_OPEN_CARTS`] open carts; created, changed,
//! some abandoned, some checked out into orders), 30% order actions (created, status
//! changes, some archived), 20% customer actions (sign-ups, edits, address changes, a few
//! deletions), 20% product and stock actions (edits, stock adjustments, a few creations
//! and deletions).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use axum::extract::{Query as AxumQuery, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use parking_lot::Mutex;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::resources::carts::{self, CartState};
use crate::state::{AppState, Shared, StoreData};

/// Open carts (active or abandoned) the simulator keeps at most.
pub const MAX_OPEN_CARTS: usize = 200;
/// Actions kept in the status log (older ones are dropped; the counters keep counting).
const LOG_CAPACITY: usize = 100_000;
/// Highest accepted rate, actions per second.
pub const MAX_RATE: f64 = 10_000.0;

/// What to simulate.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct SimulateSpec {
    /// Actions per second.
    pub rate: f64,
    /// Stop after this many actions.
    #[serde(default)]
    pub actions: Option<u64>,
    /// Stop after this many seconds.
    #[serde(default)]
    pub duration_secs: Option<f64>,
    /// RNG seed: the same seed on the same store gives the same actions.
    #[serde(default = "default_seed")]
    pub seed: u64,
}

fn default_seed() -> u64 {
    1
}

impl SimulateSpec {
    /// An endless run at `rate` with seed 1 (what `--simulate RATE` starts).
    pub fn endless(rate: f64) -> Self {
        Self {
            rate,
            actions: None,
            duration_secs: None,
            seed: default_seed(),
        }
    }

    /// Refuses rates and limits that cannot run; the message names the field and the fix.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.rate.is_finite() && self.rate > 0.0 && self.rate <= MAX_RATE) {
            return Err(format!(
                "rate must be a number of actions per second above 0 and at most {MAX_RATE}; got {}",
                self.rate
            ));
        }
        // A year bounds it: far larger values overflow the run's deadline.
        if let Some(d) = self.duration_secs
            && !(d > 0.0 && d <= 366.0 * 86_400.0)
        {
            return Err(format!(
                "duration_secs must be a positive number of seconds, at most a year (31622400); got {d}"
            ));
        }
        Ok(())
    }
}

/// The four families of the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    Cart,
    Order,
    Customer,
    Product,
}

impl Family {
    fn name(self) -> &'static str {
        match self {
            Family::Cart => "cart",
            Family::Order => "order",
            Family::Customer => "customer",
            Family::Product => "product",
        }
    }
}

/// One action done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionRecord {
    pub seq: u64,
    pub family: Family,
    pub kind: &'static str,
    /// The record acted on (a cart UUID, an order, customer or product id), once known.
    pub target: String,
    /// The HTTP status the API handler answered (200 for the internal abandon step).
    pub status: u16,
    /// Epoch milliseconds when the action completed.
    pub at_ms: i64,
}

/// Progress of the current (or last) run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SimStatus {
    pub running: bool,
    /// Runs started so far on this sandbox; a new run gets the next number.
    pub run: u64,
    pub spec: Option<SimulateSpec>,
    pub started_at_ms: Option<i64>,
    pub finished_at_ms: Option<i64>,
    /// Actions done in this run, failed ones included.
    pub actions: u64,
    /// Actions the API refused (e.g. checking out a cart whose product was deleted).
    pub failed: u64,
    pub by_family: BTreeMap<String, u64>,
    pub by_kind: BTreeMap<String, u64>,
}

/// The simulator's handle in the sandbox state.
#[derive(Debug, Default)]
pub struct Simulator {
    status: Mutex<SimStatus>,
    /// The current run's actions, oldest first (kept apart so a status read copies no log).
    log: Mutex<VecDeque<ActionRecord>>,
    task: Mutex<Option<tokio::task::AbortHandle>>,
}

impl Simulator {
    /// A copy of the progress counters.
    pub fn status(&self) -> SimStatus {
        self.status.lock().clone()
    }

    /// Actions of the current run with `seq > since`, oldest first, at most `limit`.
    pub fn log(&self, since: u64, limit: usize) -> Vec<ActionRecord> {
        let log = self.log.lock();
        let start = log.partition_point(|a| a.seq <= since);
        log.range(start..).take(limit).cloned().collect()
    }

    /// Stops the current run, if any.
    pub fn stop(&self) {
        if let Some(task) = self.task.lock().take() {
            task.abort();
        }
        let mut s = self.status.lock();
        if s.running {
            s.running = false;
            s.finished_at_ms = Some(chrono::Utc::now().timestamp_millis());
        }
    }

    fn record(&self, family: Family, kind: &'static str, target: String, status: StatusCode) {
        let mut s = self.status.lock();
        s.actions += 1;
        if !status.is_success() {
            s.failed += 1;
        }
        *s.by_family.entry(family.name().to_owned()).or_insert(0) += 1;
        *s.by_kind.entry(kind.to_owned()).or_insert(0) += 1;
        let seq = s.actions;
        // Taken while the status is held, so the log is in seq order.
        let mut log = self.log.lock();
        if log.len() >= LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(ActionRecord {
            seq,
            family,
            kind,
            target,
            status: status.as_u16(),
            at_ms: chrono::Utc::now().timestamp_millis(),
        });
    }
}

/// Starts a run on `st`, replacing none: a run already going is an error.
pub fn start(st: &Shared, spec: SimulateSpec) -> Result<SimStatus, String> {
    spec.validate()?;
    let sim = &st.simulator;
    let mut task = sim.task.lock();
    if sim.status.lock().running {
        return Err(
            "a simulation is already running; stop it with DELETE /_sandbox/simulate first"
                .to_owned(),
        );
    }
    {
        let mut s = sim.status.lock();
        let run = s.run + 1;
        sim.log.lock().clear();
        *s = SimStatus {
            running: true,
            run,
            spec: Some(spec.clone()),
            started_at_ms: Some(chrono::Utc::now().timestamp_millis()),
            ..SimStatus::default()
        };
    }
    let handle = tokio::spawn(run(Arc::downgrade(st), spec));
    *task = Some(handle.abort_handle());
    drop(task);
    Ok(sim.status())
}

/// The run loop. It holds the store (and one router over its handlers) until it ends or
/// is aborted; [`crate::server::RunningSandbox`] aborts it when the sandbox stops.
async fn run(state: Weak<AppState>, spec: SimulateSpec) {
    let Some(st) = state.upgrade() else { return };
    let router = crate::internal::api_router(&st);
    let mut rng = SmallRng::seed_from_u64(spec.seed);
    let period = Duration::from_secs_f64(1.0 / spec.rate);
    let started = Instant::now();
    let deadline = spec
        .duration_secs
        .map(|d| started + Duration::from_secs_f64(d));
    let mut k: u64 = 0;
    loop {
        if spec.actions.is_some_and(|n| k >= n) {
            break;
        }
        // Action k is due at k / rate: a slow action is caught up, not skipped, so the
        // average rate holds.
        let due = started + period.mul_f64(k as f64);
        if deadline.is_some_and(|d| due >= d) {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        let plan = plan(&st.data.read(), &mut rng, spec.seed, k);
        let (status, target) = execute(&st, &router, &plan).await;
        st.simulator.record(plan.family, plan.kind, target, status);
        k += 1;
    }
    let mut s = st.simulator.status.lock();
    s.running = false;
    s.finished_at_ms = Some(chrono::Utc::now().timestamp_millis());
}

/// A planned action: an API request, or the cart sweeper's abandon step.
#[derive(Debug, Clone)]
struct Plan {
    family: Family,
    kind: &'static str,
    step: Step,
}

#[derive(Debug, Clone)]
enum Step {
    Api {
        method: Method,
        path: String,
        body: Option<Value>,
        /// The target when the path names it; otherwise taken from the answer.
        target: Option<String>,
    },
    Abandon(String),
}

fn api(
    family: Family,
    kind: &'static str,
    method: Method,
    path: String,
    body: Option<Value>,
    target: Option<String>,
) -> Plan {
    Plan {
        family,
        kind,
        step: Step::Api {
            method,
            path,
            body,
            target,
        },
    }
}

async fn execute(st: &Shared, router: &Router, plan: &Plan) -> (StatusCode, String) {
    match &plan.step {
        Step::Abandon(id) => {
            let ok = st
                .write(|tx| Ok(carts::abandon(tx.data, id, tx.now)))
                .unwrap_or(false);
            let status = if ok {
                StatusCode::OK
            } else {
                StatusCode::CONFLICT
            };
            (status, id.clone())
        }
        Step::Api {
            method,
            path,
            body,
            target,
        } => {
            let (status, answer) = crate::internal::call_router(
                router,
                &st.config.store_hash,
                method.clone(),
                path,
                body.clone(),
            )
            .await;
            let target = target.clone().unwrap_or_else(|| created_id(&answer));
            (status, target)
        }
    }
}

/// The id in a create answer: V3 `{data: {id}}` or `{data: [{id}]}`, V2 `{id}`.
fn created_id(answer: &Value) -> String {
    let v = answer
        .get("data")
        .map(|d| d.get(0).unwrap_or(d))
        .unwrap_or(answer);
    match v.get("id") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

const FIRST_NAMES: &[&str] = &[
    "Ada", "Ben", "Chloe", "Dev", "Elif", "Femi", "Gus", "Hana", "Ivo", "June",
];
const LAST_NAMES: &[&str] = &[
    "Alvarez", "Brooks", "Chen", "Dubois", "Eze", "Fischer", "Garcia", "Haddad",
];
const CITIES: &[&str] = &["Austin", "Denver", "Portland", "Boston", "Tampa"];
/// Order statuses a merchant moves orders through (docs/api-notes.md §6.3).
const STATUSES: &[i64] = &[1, 2, 3, 7, 8, 9, 10, 11, 12];

fn pick<'a, T>(rng: &mut SmallRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// The `n % len`-th key of a map, or `None` when empty.
fn nth_key<K: Copy, V>(map: &BTreeMap<K, V>, rng: &mut SmallRng) -> Option<K> {
    if map.is_empty() {
        return None;
    }
    let n = rng.random_range(0..map.len());
    map.keys().nth(n).copied()
}

/// Chooses the next action from the store's state. Uses only `data` and `rng`, so the
/// same store and seed give the same plan.
fn plan(data: &StoreData, rng: &mut SmallRng, seed: u64, k: u64) -> Plan {
    let roll = rng.random_range(0..100u32);
    let sub = rng.random_range(0..100u32);
    match roll {
        0..30 => plan_cart(data, rng, sub, seed, k),
        30..60 => plan_order(data, rng, sub, seed, k),
        60..80 => plan_customer(data, rng, sub, seed, k),
        _ => plan_product(data, rng, sub, seed, k),
    }
}

/// One to three catalog line items (`variant_id` for products with options).
fn random_lines(data: &StoreData, rng: &mut SmallRng) -> Vec<Value> {
    let n = rng.random_range(1..=3);
    let mut lines = Vec::with_capacity(n);
    for _ in 0..n {
        let Some(pid) = nth_key(&data.catalog.products, rng) else {
            break;
        };
        let quantity = rng.random_range(1..=3);
        let mut line = json!({ "product_id": pid, "quantity": quantity });
        if let Some(p) = data.catalog.products.get(&pid)
            && p.base_variant_id.is_none()
            && !p.variant_ids.is_empty()
        {
            line["variant_id"] = json!(*pick(rng, &p.variant_ids));
        }
        lines.push(line);
    }
    lines
}

fn random_customer(data: &StoreData, rng: &mut SmallRng) -> i64 {
    nth_key(&data.customers.customers, rng).unwrap_or(0)
}

fn plan_cart(data: &StoreData, rng: &mut SmallRng, sub: u32, seed: u64, k: u64) -> Plan {
    let open = carts_open(data);
    let f = Family::Cart;
    if data.catalog.products.is_empty() {
        return plan_product_create(rng, seed, k);
    }
    let pick_cart = |rng: &mut SmallRng| -> Option<String> {
        if open.is_empty() {
            None
        } else {
            Some(open[rng.random_range(0..open.len())].clone())
        }
    };
    let wants_new = open.is_empty() || (sub < 30 && open.len() < MAX_OPEN_CARTS);
    if wants_new {
        let guest = rng.random_range(0..10) < 3;
        let customer_id = if guest { 0 } else { random_customer(data, rng) };
        let body = json!({ "customer_id": customer_id, "line_items": random_lines(data, rng) });
        return api(
            f,
            "cart_created",
            Method::POST,
            "/v3/carts".into(),
            Some(body),
            None,
        );
    }
    let Some(id) = pick_cart(rng) else {
        return plan_product_create(rng, seed, k);
    };
    let cart = data.carts.get(&id);
    let items: Vec<String> = cart
        .map(|c| c.items.iter().map(|i| i.id.clone()).collect())
        .unwrap_or_default();
    // A full store converts instead of creating, which keeps the cap.
    let sub = if sub < 30 { 85 } else { sub };
    match sub {
        30..50 => {
            let body = json!({ "line_items": random_lines(data, rng) });
            api(
                f,
                "cart_item_added",
                Method::POST,
                format!("/v3/carts/{id}/items"),
                Some(body),
                Some(id),
            )
        }
        50..62 if !items.is_empty() => {
            let item = pick(rng, &items).clone();
            let body = json!({ "line_item": { "quantity": rng.random_range(1..=5) } });
            api(
                f,
                "cart_item_updated",
                Method::PUT,
                format!("/v3/carts/{id}/items/{item}"),
                Some(body),
                Some(id),
            )
        }
        62..70 if !items.is_empty() => {
            let item = pick(rng, &items).clone();
            api(
                f,
                "cart_item_removed",
                Method::DELETE,
                format!("/v3/carts/{id}/items/{item}"),
                None,
                Some(id),
            )
        }
        70..80 if cart.is_some_and(|c| c.state == CartState::Active) => Plan {
            family: f,
            kind: "cart_abandoned",
            step: Step::Abandon(id),
        },
        96.. => api(
            f,
            "cart_deleted",
            Method::DELETE,
            format!("/v3/carts/{id}"),
            None,
            Some(id),
        ),
        _ => api(
            f,
            "cart_converted",
            Method::POST,
            format!("/v3/checkouts/{id}/orders"),
            None,
            Some(id),
        ),
    }
}

/// Live cart ids in creation order.
fn carts_open(data: &StoreData) -> Vec<String> {
    data.carts.live_ids()
}

fn plan_order(data: &StoreData, rng: &mut SmallRng, sub: u32, seed: u64, k: u64) -> Plan {
    let f = Family::Order;
    let orders = &data.orders.orders;
    let live = |rng: &mut SmallRng| -> Option<i64> {
        if orders.is_empty() {
            return None;
        }
        let start = rng.random_range(0..orders.len());
        orders
            .iter()
            .skip(start)
            .chain(orders.iter().take(start))
            .take(64)
            .find(|o| !o.is_deleted)
            .map(|o| o.id)
    };
    if sub >= 40
        && let Some(id) = live(rng)
    {
        if sub < 92 {
            let status = *pick(rng, STATUSES);
            return api(
                f,
                "order_status_changed",
                Method::PUT,
                format!("/v2/orders/{id}"),
                Some(json!({ "status_id": status })),
                Some(id.to_string()),
            );
        }
        return api(
            f,
            "order_archived",
            Method::DELETE,
            format!("/v2/orders/{id}"),
            None,
            Some(id.to_string()),
        );
    }
    if data.catalog.products.is_empty() {
        return plan_product_create(rng, seed, k);
    }
    let customer_id = if rng.random_range(0..10) < 3 {
        0
    } else {
        random_customer(data, rng)
    };
    let first = *pick(rng, FIRST_NAMES);
    let last = *pick(rng, LAST_NAMES);
    let body = json!({
        "customer_id": customer_id,
        "status_id": 11,
        "billing_address": {
            "first_name": first,
            "last_name": last,
            "street_1": format!("{} Market Street", rng.random_range(1..999)),
            "city": *pick(rng, CITIES),
            "state": "Texas",
            "zip": "78701",
            "country_iso2": "US",
            "email": format!("{}.{}@example.com", first.to_lowercase(), last.to_lowercase()),
        },
        "products": random_lines(data, rng),
    });
    api(
        f,
        "order_created",
        Method::POST,
        "/v2/orders".into(),
        Some(body),
        None,
    )
}

fn plan_customer(data: &StoreData, rng: &mut SmallRng, sub: u32, seed: u64, k: u64) -> Plan {
    let f = Family::Customer;
    let existing = random_customer(data, rng);
    let first = *pick(rng, FIRST_NAMES);
    let last = *pick(rng, LAST_NAMES);
    if existing == 0 || sub < 35 {
        let body = json!([{
            "email": format!("shopper-{seed}-{k}@example.com"),
            "first_name": first,
            "last_name": last,
        }]);
        return api(
            f,
            "customer_created",
            Method::POST,
            "/v3/customers".into(),
            Some(body),
            None,
        );
    }
    let target = Some(existing.to_string());
    match sub {
        35..65 => {
            let body = json!([{ "id": existing, "last_name": last, "phone": format!("555-{:04}", rng.random_range(0..10_000)) }]);
            api(
                f,
                "customer_updated",
                Method::PUT,
                "/v3/customers".into(),
                Some(body),
                target,
            )
        }
        65..96 => {
            let address = data
                .customers
                .customers
                .get(&existing)
                .and_then(|c| c.address_ids.first().copied());
            let street = format!("{} Elm Street", rng.random_range(1..999));
            match address {
                Some(aid) if rng.random_range(0..2) == 0 => api(
                    f,
                    "customer_address_updated",
                    Method::PUT,
                    "/v3/customers/addresses".into(),
                    Some(json!([{ "id": aid, "address1": street }])),
                    target,
                ),
                _ => api(
                    f,
                    "customer_address_created",
                    Method::POST,
                    "/v3/customers/addresses".into(),
                    Some(json!([{
                        "customer_id": existing,
                        "first_name": first,
                        "last_name": last,
                        "address1": street,
                        "city": *pick(rng, CITIES),
                        "state_or_province": "Texas",
                        "postal_code": format!("{:05}", rng.random_range(10_000..99_999)),
                        "country_code": "US",
                    }])),
                    target,
                ),
            }
        }
        _ => api(
            f,
            "customer_deleted",
            Method::DELETE,
            format!("/v3/customers?id:in={existing}"),
            None,
            target,
        ),
    }
}

fn plan_product_create(rng: &mut SmallRng, seed: u64, k: u64) -> Plan {
    let body = json!({
        "name": format!("Simulated product {seed}-{k}"),
        "type": "physical",
        "weight": 1,
        "price": rng.random_range(5..200),
        "inventory_tracking": "product",
        "inventory_level": rng.random_range(0..100),
    });
    api(
        Family::Product,
        "product_created",
        Method::POST,
        "/v3/catalog/products".into(),
        Some(body),
        None,
    )
}

fn plan_product(data: &StoreData, rng: &mut SmallRng, sub: u32, seed: u64, k: u64) -> Plan {
    let f = Family::Product;
    let Some(pid) = nth_key(&data.catalog.products, rng) else {
        return plan_product_create(rng, seed, k);
    };
    let Some(p) = data.catalog.products.get(&pid) else {
        return plan_product_create(rng, seed, k);
    };
    let target = Some(pid.to_string());
    match sub {
        0..35 => {
            let price =
                (p.price * f64::from(rng.random_range(90..111u32)) / 100.0 * 100.0).round() / 100.0;
            api(
                f,
                "product_updated",
                Method::PUT,
                format!("/v3/catalog/products/{pid}"),
                Some(json!({ "price": price.max(0.01) })),
                target,
            )
        }
        35..90 => {
            let by_variant = p.inventory_tracking == "variant" && p.base_variant_id.is_none();
            let (mut item, level) = if by_variant {
                let vid = *pick(rng, &p.variant_ids);
                let level = data
                    .catalog
                    .variants
                    .get(&vid)
                    .map_or(0, |v| v.inventory_level);
                (json!({ "location_id": 1, "variant_id": vid }), level)
            } else {
                (
                    json!({ "location_id": 1, "product_id": pid }),
                    p.inventory_level,
                )
            };
            if rng.random_range(0..2) == 0 {
                item["quantity"] = json!(rng.random_range(0..200));
                api(
                    f,
                    "stock_set",
                    Method::PUT,
                    "/v3/inventory/adjustments/absolute".into(),
                    Some(json!({ "reason": "simulated stock count", "items": [item] })),
                    target,
                )
            } else {
                // Sales take stock, deliveries add it; never below zero.
                let delta = rng.random_range(-5..=10i64).max(-level);
                item["quantity"] = json!(delta);
                api(
                    f,
                    "stock_adjusted",
                    Method::POST,
                    "/v3/inventory/adjustments/relative".into(),
                    Some(json!({ "reason": "simulated sale or delivery", "items": [item] })),
                    target,
                )
            }
        }
        90..96 => plan_product_create(rng, seed, k),
        _ => api(
            f,
            "product_deleted",
            Method::DELETE,
            format!("/v3/catalog/products/{pid}"),
            None,
            target,
        ),
    }
}

// ---------------------------------------------------------------- admin API

/// `GET /_sandbox/simulate[?since_seq=&limit=]` status (and the action log when
/// `since_seq` is given), `POST` starts a run (`{rate, actions?, duration_secs?, seed?}`),
/// `DELETE` stops it.
pub fn admin_routes() -> Router<Shared> {
    Router::new().route(
        "/_sandbox/simulate",
        get(get_status).post(post_start).delete(delete_run),
    )
}

#[derive(Debug, Deserialize)]
struct LogQuery {
    since_seq: Option<u64>,
    limit: Option<usize>,
}

fn status_json(st: &Shared, q: &LogQuery) -> Value {
    let mut v = json!(st.simulator.status());
    if let Some(since) = q.since_seq {
        v["log"] = json!(st.simulator.log(since, q.limit.unwrap_or(usize::MAX)));
    }
    v
}

async fn get_status(State(st): State<Shared>, AxumQuery(q): AxumQuery<LogQuery>) -> Response {
    Json(status_json(&st, &q)).into_response()
}

async fn post_start(State(st): State<Shared>, body: axum::body::Bytes) -> Response {
    let spec: SimulateSpec = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => {
            return admin_error(
                StatusCode::BAD_REQUEST,
                format!(
                    "{e}; send e.g. {{\"rate\": 5, \"duration_secs\": 180, \"seed\": 7}} (fields: rate, actions, duration_secs, seed)"
                ),
            );
        }
    };
    match start(&st, spec) {
        Ok(_) => (StatusCode::ACCEPTED, Json(json!(st.simulator.status()))).into_response(),
        Err(msg) if msg.contains("already running") => admin_error(StatusCode::CONFLICT, msg),
        Err(msg) => admin_error(StatusCode::BAD_REQUEST, msg),
    }
}

async fn delete_run(State(st): State<Shared>) -> Response {
    st.simulator.stop();
    Json(json!(st.simulator.status())).into_response()
}

fn admin_error(status: StatusCode, message: String) -> Response {
    (
        status,
        Json(json!({ "status": status.as_u16(), "error": message })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::seed::SeedSpec;

    fn store() -> StoreData {
        let mut data = StoreData::default();
        let spec = SeedSpec {
            customers: 20,
            addresses_per_customer: 1,
            products: 10,
            orders: 20,
            lines_per_order: 1,
            ..SeedSpec::empty()
        };
        crate::seed::generate(&mut data, &spec, crate::dates::now());
        data
    }

    #[test]
    fn plans_follow_the_mix() {
        let data = store();
        let mut rng = SmallRng::seed_from_u64(3);
        let mut counts: BTreeMap<Family, u32> = BTreeMap::new();
        for k in 0..4000 {
            *counts
                .entry(plan(&data, &mut rng, 3, k).family)
                .or_insert(0) += 1;
        }
        // 30/30/20/20 with a binomial spread: 4000 draws keep each within ±3 points.
        for (family, share) in [
            (Family::Cart, 30.0),
            (Family::Order, 30.0),
            (Family::Customer, 20.0),
            (Family::Product, 20.0),
        ] {
            let got = f64::from(counts[&family]) / 40.0;
            assert!((got - share).abs() < 3.0, "{family:?}: {got}% vs {share}%");
        }
    }

    #[test]
    fn spec_validation_names_the_field() {
        assert!(SimulateSpec::endless(5.0).validate().is_ok());
        assert!(
            SimulateSpec::endless(0.0)
                .validate()
                .unwrap_err()
                .contains("rate")
        );
        let spec = SimulateSpec {
            duration_secs: Some(-1.0),
            ..SimulateSpec::endless(1.0)
        };
        assert!(spec.validate().unwrap_err().contains("duration_secs"));
    }

    #[test]
    fn created_ids_are_read_from_both_envelopes() {
        assert_eq!(created_id(&json!({"data": {"id": "abc"}})), "abc");
        assert_eq!(created_id(&json!({"data": [{"id": 4}]})), "4");
        assert_eq!(created_id(&json!({"id": 12})), "12");
    }
}
