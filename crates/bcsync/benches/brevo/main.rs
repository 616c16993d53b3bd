//! Brevo sync benchmark: a store of 20,000 customers, 50,000 orders (3 lines) and 2,000
//! products (2 variants) extracted from an in-process sandbox into SQLite, then synced to the
//! Brevo emulator on the general tier's rate buckets (docs/brevo-api-notes.md §0.4), with the
//! emulator's clock scaled (`BENCH_BREVO_SCALE`, default 0.01: an hour window lasts 36 s).
//!
//! Phases (`BENCH_PHASES`, default `sync,listen`; the first sync always runs, the others
//! start from it):
//! - `sync`: for the first sync and for a rerun after 1% of customers and orders changed,
//!   requests per bucket against the minimum the batch caps allow, 429s, and the wall time
//!   in the emulator's time against the bound its buckets set; then an unchanged rerun.
//! - `listen` ([`listen`]): `bcsync listen` forwarding to Brevo while the store changes at
//!   a steady rate (`BENCH_LISTEN_RATE` changes per second, default 2, for
//!   `BENCH_LISTEN_SECS`, default 60), with the emulator unscaled: store change → Brevo
//!   latency p50 / p95 / p99 / max in wall time, Brevo requests per bucket and 429s.
//!
//! `cargo bench -p bcsync --bench brevo` (`BENCH_CUSTOMERS=2000 BENCH_ORDERS=5000` for a
//! quick run; `cargo test --workspace --bench brevo` runs it in the debug build).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: failing loudly is right

mod listen;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bc_sandbox::brevo::{BrevoConfig as EmulatorConfig, TierLimits, start_brevo};
use bc_sandbox::{RunningSandbox, SandboxConfig, SeedSpec};
use bcsync::extract::{ExtractOptions, Progress, RequestCounter};
use bcsync::marketing::{self, SyncOptions, SyncReport};
use bcsync::state::push::SqlitePushStore;
use secrecy::SecretString;
use serde_json::{Value, json};

const STREAMS: &[&str] = &[
    "customers",
    "subscribers",
    "orders",
    "products",
    "categories",
    "brands",
    "store",
];

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn extract(sb: &RunningSandbox, to: &str) {
    let cfg = bigcommerce::ClientConfig::new(
        sb.store_hash().to_owned(),
        SecretString::from(sb.token().to_owned()),
    )
    .with_base_url(sb.base_url());
    let counter = std::sync::Arc::new(RequestCounter::default());
    let client = bigcommerce::Client::new(cfg)
        .unwrap()
        .with_observer(counter.clone());
    let names: Vec<String> = STREAMS.iter().map(|s| (*s).to_owned()).collect();
    let summary = bcsync::extract::run_to(
        client,
        counter,
        &names,
        to,
        false,
        None,
        ExtractOptions::default(),
        Progress::hidden(),
    )
    .await
    .unwrap();
    assert!(summary.failed().is_empty());
}

async fn store_api(sb: &RunningSandbox, method: reqwest::Method, path: &str, body: Value) {
    let r = reqwest::Client::new()
        .request(method, format!("{}{path}", sb.store_url()))
        .header("X-Auth-Token", sb.token())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
}

/// The fewest requests per bucket the batch caps allow for what the run sent: the reads
/// and creates of the set-up, one import per list group (each under the 8 MB body cap, as
/// ours are here) and one process read per import (with no notify URL to call back), 100
/// categories or products and 1,000 orders per batch.
fn minimum(report: &SyncReport, setup_contacts: u64) -> BTreeMap<String, u64> {
    let c = |k: &str| report.counts.get(k).copied().unwrap_or(0);
    let imports = c("contacts.imports");
    let per = |n: u64, cap: u64| n.div_ceil(cap);
    let mut m = BTreeMap::new();
    m.insert(
        "contacts".to_owned(),
        setup_contacts + c("attributes.created") + imports,
    );
    m.insert(
        "other".to_owned(),
        imports
            + per(c("categories.sent"), 100)
            + per(c("products.sent"), 100)
            + per(c("orders.sent") + c("orders.sent_historical"), 1000),
    );
    m
}

/// The shortest time the buckets allow for `requests`, in the emulator's seconds: for each
/// bucket, the windows it needs beyond the first (per hour and per second), the longest.
fn bound(requests: &BTreeMap<String, u64>, limits: &TierLimits) -> f64 {
    let mut worst: f64 = 0.0;
    for (bucket, n) in requests {
        let limit = match bucket.as_str() {
            "contacts" => limits.contacts,
            "events" => limits.events,
            "orders" => limits.orders,
            "products" => limits.products,
            _ => limits.other,
        };
        let mut t: f64 = 0.0;
        if let Some(h) = limit.per_hour {
            t = t.max((n.div_ceil(u64::from(h)).saturating_sub(1)) as f64 * 3600.0);
        }
        if let Some(s) = limit.per_second {
            t = t.max((n.div_ceil(u64::from(s)).saturating_sub(1)) as f64);
        }
        worst = worst.max(t);
    }
    worst
}

fn print_run(
    label: &str,
    report: &SyncReport,
    wall: Duration,
    scale: f64,
    limits: &TierLimits,
    min: &BTreeMap<String, u64>,
) {
    let emulated = wall.as_secs_f64() / scale;
    let bound = bound(&report.requests, limits);
    println!("{label}");
    let counts: Vec<String> = report
        .counts
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    println!("  sent: {}", counts.join(" "));
    for (bucket, n) in &report.requests {
        let m = min.get(bucket).copied().unwrap_or(*n);
        println!(
            "  bucket {bucket:<9} {n:>5} requests, minimum {m:>5} ({:.2}x)",
            *n as f64 / m.max(1) as f64
        );
    }
    println!("  429s: {}", report.throttled);
    println!(
        "  wall: {:.1} s real = {:.0} s emulated; bound {:.0} s emulated ({:.2}x)",
        wall.as_secs_f64(),
        emulated,
        bound,
        if bound > 0.0 { emulated / bound } else { 0.0 }
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    if std::env::var_os("BENCH_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_env_filter("info")
            .init();
    }
    let phases = std::env::var("BENCH_PHASES").unwrap_or_else(|_| "sync,listen".into());
    let phase = |name: &str| phases.split(',').any(|p| p.trim() == name);
    let customers = env_usize("BENCH_CUSTOMERS", 20_000);
    let orders = env_usize("BENCH_ORDERS", 50_000);
    let products = env_usize("BENCH_PRODUCTS", 2_000);
    let scale: f64 = std::env::var("BENCH_BREVO_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.01);
    let seed = SeedSpec {
        seed: 5,
        customers,
        addresses_per_customer: 1,
        customer_groups: 3,
        products,
        variants_per_product: 2,
        images_per_product: 1,
        custom_fields_per_product: 0,
        categories: 40,
        brands: 10,
        orders,
        lines_per_order: 3,
        coupons: 0,
        history_days: 365,
    };
    let sb = bc_sandbox::start(
        SandboxConfig {
            seed,
            plan: bc_sandbox::Plan::Unlimited,
            ..SandboxConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let to = format!("sqlite:{}", dir.path().join("store.db").display());
    let started = Instant::now();
    extract(&sb, &to).await;
    println!(
        "store: {customers} customers, {orders} orders x 3 lines, {products} products x 2 variants; extracted in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let limits = TierLimits::general();
    let brevo = Arc::new(
        start_brevo(
            EmulatorConfig {
                limits: limits.clone(),
                time_scale: scale,
                ecommerce_active: true,
                ..EmulatorConfig::default()
            },
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap(),
    );
    let brevo_toml = format!(
        "[brevo]\nbase_url = \"{}\"\napi_key = \"{}\"\n[brevo.contacts]\nfirst_name = \"FIRSTNAME\"\nlast_name = \"LASTNAME\"\n\"addresses[0].city\" = \"CITY\"\ndate_created = \"SIGNUP_DATE\"\norders_count = \"ORDERS_COUNT\"\ntotal_spent = \"TOTAL_SPENT\"\nlast_order_date = \"LAST_ORDER_DATE\"\n",
        brevo.base_url(),
        brevo.api_key()
    );
    let doc: toml::Table = toml::from_str(&brevo_toml).unwrap();
    let config = marketing::config::parse(doc.get("brevo")).unwrap();
    let mut client_config = brevo::ClientConfig::new(SecretString::from(brevo.api_key()))
        .with_base_url(brevo.base_url());
    // The client's first look at an import's process, in the emulator's time: 30 s.
    client_config.process_poll = Duration::from_secs_f64(30.0 * scale);
    // Scoped by the store's hash, as `bcsync brevo sync` and `listen` keep it: the listener
    // then finds the first sync done and forwards only what changes after it.
    let push_db = dir.path().join("push.db");
    let mut state = SqlitePushStore::open(&push_db, sb.store_hash()).unwrap();
    println!(
        "brevo emulator: general tier, clock x{scale} (an hour window lasts {:.0} s)",
        3600.0 * scale
    );

    let client = brevo::Client::new(client_config.clone()).unwrap();
    let warehouse = load_warehouse(&to).await;
    let started = Instant::now();
    let first = marketing::sync(
        &config,
        &client,
        &warehouse,
        &mut state,
        SyncOptions::default(),
    )
    .await
    .unwrap();
    let wall = started.elapsed();
    print_run(
        "first sync",
        &first,
        wall,
        scale,
        &limits,
        &minimum(&first, SETUP_FIRST),
    );

    if phase("sync") {
        changed_runs(
            &sb,
            &to,
            &config,
            &client_config,
            &mut state,
            customers,
            orders,
            scale,
            &limits,
        )
        .await;
    }
    drop(state);
    if phase("listen") {
        let spec = listen::ListenSpec {
            rate: std::env::var("BENCH_LISTEN_RATE")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(2.0),
            secs: std::env::var("BENCH_LISTEN_SECS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(60.0),
            drain: std::time::Duration::from_secs(60),
        };
        listen::run(
            &sb,
            brevo.clone(),
            &to,
            &push_db.display().to_string(),
            &brevo_toml,
            &spec,
        )
        .await;
    }
}

/// Set-up requests of a first run on the contacts bucket: attributes, folders and lists
/// read, the folder and the two lists created.
const SETUP_FIRST: u64 = 6;
const SETUP_RERUN: u64 = 3;

async fn load_warehouse(to: &str) -> marketing::warehouse::Warehouse {
    let to = to.to_owned();
    bcsync::models::run_blocking(move || marketing::warehouse::load(&to, None)).unwrap()
}

/// The `sync` phase after the first sync: 1% of customers and orders changed, then an
/// unchanged rerun.
#[allow(clippy::too_many_arguments)]
async fn changed_runs(
    sb: &RunningSandbox,
    to: &str,
    config: &marketing::config::BrevoConfig,
    client_config: &brevo::ClientConfig,
    state: &mut SqlitePushStore,
    customers: usize,
    orders: usize,
    scale: f64,
    limits: &TierLimits,
) {
    // 1% of customers renamed and 1% of orders shipped, then an incremental extraction.
    let step = 100;
    let customer_ids: Vec<Value> = (1..=customers as i64)
        .step_by(step)
        .map(Value::from)
        .collect();
    for chunk in customer_ids.chunks(10) {
        let body: Vec<Value> = chunk
            .iter()
            .map(|id| json!({"id": id, "last_name": "Changed"}))
            .collect();
        store_api(sb, reqwest::Method::PUT, "/v3/customers", Value::from(body)).await;
    }
    for id in (100..100 + orders as i64).step_by(step) {
        store_api(
            sb,
            reqwest::Method::PUT,
            &format!("/v2/orders/{id}"),
            json!({"status_id": 2}),
        )
        .await;
    }
    extract(sb, to).await;
    let client = brevo::Client::new(client_config.clone()).unwrap();
    let warehouse = load_warehouse(to).await;
    let started = Instant::now();
    let rerun = marketing::sync(config, &client, &warehouse, state, SyncOptions::default())
        .await
        .unwrap();
    print_run(
        "after 1% of customers and orders changed",
        &rerun,
        started.elapsed(),
        scale,
        limits,
        &minimum(&rerun, SETUP_RERUN),
    );
    let client = brevo::Client::new(client_config.clone()).unwrap();
    let warehouse = load_warehouse(to).await;
    let again = marketing::sync(config, &client, &warehouse, state, SyncOptions::default())
        .await
        .unwrap();
    let writes: u64 = again.requests.values().sum();
    println!(
        "unchanged rerun: {writes} requests (the three set-up reads), nothing sent: {:?}",
        again
            .counts
            .keys()
            .filter(|k| !k.ends_with("unchanged"))
            .collect::<Vec<_>>()
    );
}
