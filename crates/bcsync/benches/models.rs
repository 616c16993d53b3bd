//! Models benchmark: the `inventory` set over 100k orders with 3 lines (and 5k products with
//! 2 variants), extracted from an in-process sandbox into SQLite (and PostgreSQL when
//! `BCSYNC_BENCH_POSTGRES_URL` is set). Reports, per database:
//! - the full refresh (the first one: every row computed and inserted);
//! - an incremental refresh with nothing changed;
//! - an incremental refresh after 1% of orders changed status and 1% of products changed
//!   price, and an incremental extraction brought the changes in;
//! - the export of every sell order and line as CSV, and of the rows changed since the
//!   refresh before (`--since`).
//!
//! PostgreSQL's watermark stays a margin behind the refresh clock (`PG_OPEN_MARGIN_SECS`
//! for a role that sees every session, see `models/mod.rs`); the incremental refreshes
//! run after that margin, as a scheduled refresh would.
//!
//! `cargo bench -p bcsync --bench models` (`BENCH_ORDERS=10000` for a quick run).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: failing loudly is right

use std::time::{Duration, Instant};

use bc_sandbox::{RunningSandbox, SandboxConfig, SeedSpec};
use bcsync::extract::{ExtractOptions, Progress, RequestCounter};
use bcsync::models::{self, ExportFormat, ModelsConfig, db::ModelDb};
use secrecy::SecretString;

async fn extract(sb: &RunningSandbox, to: &str) -> Duration {
    let cfg = bigcommerce::ClientConfig::new(
        sb.store_hash().to_owned(),
        SecretString::from(sb.token().to_owned()),
    )
    .with_base_url(sb.base_url());
    let counter = std::sync::Arc::new(RequestCounter::default());
    let client = bigcommerce::Client::new(cfg)
        .unwrap()
        .with_observer(counter.clone());
    let started = Instant::now();
    let summary = bcsync::extract::run_to(
        client,
        counter,
        &["products".to_owned(), "orders".to_owned()],
        to,
        false,
        None,
        ExtractOptions::default(),
        Progress::hidden(),
    )
    .await
    .unwrap();
    assert!(summary.failed().is_empty());
    started.elapsed()
}

/// Runs `f` with the model database on a thread of its own; returns its result and time.
fn timed<T: Send + 'static>(
    spec: &str,
    f: impl FnOnce(&ModelDb) -> T + Send + 'static,
) -> (T, Duration) {
    let spec = spec.to_owned();
    models::run_blocking(move || {
        let db = ModelDb::open(&spec, Some("bench"))?;
        let started = Instant::now();
        let out = f(&db);
        Ok((out, started.elapsed()))
    })
    .unwrap()
}

fn refresh(spec: &str, label: &str) -> String {
    let set = models::find("inventory").unwrap();
    let (report, took) = timed(spec, move |db| {
        models::refresh(db, set, &ModelsConfig::default(), false).unwrap()
    });
    let changed: Vec<String> = report
        .tables
        .iter()
        .map(|t| format!("{} {}+{}del", t.table, t.changed, t.deleted))
        .collect();
    println!(
        "  refresh {label:<28} {:>8.2} s  ({}; {})",
        took.as_secs_f64(),
        report.mode,
        changed.join(", ")
    );
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn export(spec: &str, table: &str, since: Option<String>) {
    let (_, t) = models::find_table(table).unwrap();
    let label = if since.is_some() {
        "changed rows"
    } else {
        "all rows"
    };
    let (report, took) = timed(spec, move |db| {
        let mut sink = std::io::sink();
        models::export(db, t, ExportFormat::Csv, since.as_deref(), &mut sink).unwrap()
    });
    println!(
        "  export {table:<26} {label:<13} {:>8} rows {:>8.2} s",
        report.rows,
        took.as_secs_f64()
    );
}

async fn change_one_percent(sb: &RunningSandbox, orders: usize, products: usize) {
    let http = reqwest::Client::new();
    let put = |path: String, body: serde_json::Value| {
        let http = http.clone();
        let url = format!("{}{path}", sb.store_url());
        let token = sb.token().to_owned();
        async move {
            let r = http
                .put(url)
                .header("X-Auth-Token", token)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{}", r.status());
        }
    };
    use futures::StreamExt;
    let order_writes = (0..orders / 100).map(|i| {
        // Spread over the whole id range; Completed <-> Shipped flips what the model keeps.
        let id = 1 + i * 100;
        put(
            format!("/v2/orders/{id}"),
            serde_json::json!({"status_id": if i % 2 == 0 { 10 } else { 5 }}),
        )
    });
    futures::stream::iter(order_writes)
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
    let product_writes = (0..products / 100).map(|i| {
        put(
            format!("/v3/catalog/products/{}", 1 + i * 100),
            serde_json::json!({"price": 10.0 + i as f64}),
        )
    });
    futures::stream::iter(product_writes)
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
}

async fn run(label: &str, to: &str, orders: usize, products: usize) {
    let seed = SeedSpec {
        seed: 5,
        orders,
        lines_per_order: 3,
        products,
        variants_per_product: 2,
        customers: 500,
        history_days: 365,
        ..SeedSpec::empty()
    };
    let sb = bc_sandbox::start(
        SandboxConfig {
            seed,
            ..SandboxConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    println!("{label}: {orders} orders x 3 lines, {products} products x 2 variants");
    let took = extract(&sb, to).await;
    println!(
        "  extract (products, orders)    {:>8.2} s",
        took.as_secs_f64()
    );
    let margin = Duration::from_secs(if to.starts_with("postgres") {
        models::PG_OPEN_MARGIN_SECS as u64 + 1
    } else {
        0
    });
    refresh(to, "full (first)");
    tokio::time::sleep(margin).await;
    let before = refresh(to, "incremental, no change");
    change_one_percent(&sb, orders, products).await;
    let took = extract(&sb, to).await;
    println!(
        "  extract incremental (1%)     {:>8.2} s",
        took.as_secs_f64()
    );
    refresh(to, "incremental, 1% changed");
    export(to, "inventory.sell_orders", None);
    export(to, "inventory.sell_order_lines", None);
    export(to, "inventory.sell_orders", Some(before.clone()));
    export(to, "inventory.products", Some(before));
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let orders: usize = std::env::var("BENCH_ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let products = (orders / 20).max(100);
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite:{}", dir.path().join("models.db").display());
    run("SQLite", &sqlite, orders, products).await;
    if let Ok(url) = std::env::var("BCSYNC_BENCH_POSTGRES_URL") {
        let schema = format!("bcsync_bench_models_{}", std::process::id());
        let sep = if url.contains('?') { '&' } else { '?' };
        run(
            "PostgreSQL",
            &format!("{url}{sep}schema={schema}"),
            orders,
            products,
        )
        .await;
        let (pg, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        pg.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
            .await
            .unwrap();
    }
}
