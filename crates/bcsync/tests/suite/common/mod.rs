//! Shared helpers for bcsync's integration tests: a sandbox on port 0, a client for it,
//! the sandbox's own view of its data (read over raw HTTP, independent of our client), and
//! SQLite readers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bc_sandbox::{Plan, RunningSandbox, SandboxConfig, SeedSpec};
use bcsync::extract::{ExtractOptions, ExtractSummary, Progress, RequestCounter};
use secrecy::SecretString;
use serde_json::Value;

/// A small store with several pages in every big stream.
pub fn small_store() -> SeedSpec {
    SeedSpec {
        seed: 7,
        customers: 420,
        addresses_per_customer: 2,
        customer_groups: 3,
        products: 260,
        variants_per_product: 2,
        images_per_product: 2,
        custom_fields_per_product: 1,
        categories: 12,
        brands: 6,
        orders: 560,
        lines_per_order: 3,
        coupons: 8,
        history_days: 60,
    }
}

pub async fn sandbox(seed: SeedSpec) -> RunningSandbox {
    sandbox_with(SandboxConfig {
        seed,
        ..SandboxConfig::default()
    })
    .await
}

pub async fn sandbox_with(config: SandboxConfig) -> RunningSandbox {
    bc_sandbox::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

pub fn standard_plan(seed: SeedSpec, time_scale: f64) -> SandboxConfig {
    SandboxConfig {
        seed,
        plan: Plan::Standard,
        time_scale,
        ..SandboxConfig::default()
    }
}

/// A client for the sandbox with short retry delays.
pub fn client(sb: &RunningSandbox, token: &str) -> (bigcommerce::Client, Arc<RequestCounter>) {
    let mut cfg = bigcommerce::ClientConfig::new(
        sb.store_hash().to_owned(),
        SecretString::from(token.to_owned()),
    )
    .with_base_url(sb.base_url());
    cfg.retry_base_delay = Duration::from_millis(5);
    cfg.retry_max_delay = Duration::from_millis(200);
    cfg.timeout = Duration::from_secs(5);
    let counter = Arc::new(RequestCounter::default());
    let client = bigcommerce::Client::new(cfg)
        .unwrap()
        .with_observer(counter.clone());
    (client, counter)
}

pub async fn extract(
    sb: &RunningSandbox,
    to: &str,
    streams: &[&str],
) -> bcsync::Result<ExtractSummary> {
    extract_with(sb, to, streams, false).await
}

/// [`extract`], with or without `--full-refresh`.
pub async fn extract_with(
    sb: &RunningSandbox,
    to: &str,
    streams: &[&str],
    full_refresh: bool,
) -> bcsync::Result<ExtractSummary> {
    let (client, counter) = client(sb, sb.token());
    let names: Vec<String> = streams.iter().map(|s| (*s).to_owned()).collect();
    bcsync::extract::run_to(
        client,
        counter,
        &names,
        to,
        full_refresh,
        None,
        ExtractOptions::default(),
        Progress::hidden(),
    )
    .await
}

/// Every transaction of `orders` in the store, over raw HTTP (the API lists them only per
/// order).
pub async fn store_transactions(sb: &RunningSandbox, orders: &[Value]) -> Vec<Value> {
    let mut transactions = Vec::new();
    for o in orders {
        let (status, body) = api(
            sb,
            reqwest::Method::GET,
            &format!("/v3/orders/{}/transactions", o["id"]),
            None,
        )
        .await;
        if status == 200 {
            transactions.extend(body.unwrap()["data"].as_array().unwrap().iter().cloned());
        }
    }
    transactions
}

/// Every record of a collection, read over raw HTTP (V3 pages or V2 pages ending on 204).
pub async fn list_all(sb: &RunningSandbox, version: &str, path: &str, query: &str) -> Vec<Value> {
    let http = reqwest::Client::new();
    let mut out = Vec::new();
    for page in 1.. {
        let sep = if query.is_empty() { "" } else { "&" };
        let url = format!(
            "{}/{version}{path}?{query}{sep}limit=250&page={page}",
            sb.store_url()
        );
        let resp = http
            .get(&url)
            .header("X-Auth-Token", sb.token())
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{url}: {}", resp.status());
        if resp.status().as_u16() == 204 {
            break;
        }
        let body: Value = resp.json().await.unwrap();
        let items = if version == "v2" {
            body.as_array().cloned().unwrap()
        } else {
            body["data"].as_array().cloned().unwrap()
        };
        let n = items.len();
        out.extend(items);
        let last_v3 = version == "v3"
            && body["meta"]["pagination"]["current_page"].as_u64()
                >= body["meta"]["pagination"]["total_pages"].as_u64();
        if n < 250 || last_v3 {
            break;
        }
    }
    out
}

/// Raw HTTP request to the sandbox's store API with its token.
pub async fn api(
    sb: &RunningSandbox,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Option<Value>) {
    let http = reqwest::Client::new();
    let mut req = http
        .request(method, format!("{}{path}", sb.store_url()))
        .header("X-Auth-Token", sb.token());
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).ok())
}

pub fn db(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

pub fn count(conn: &rusqlite::Connection, table: &str) -> i64 {
    conn.query_row(&format!("SELECT COUNT(*) FROM \"{table}\""), [], |r| {
        r.get(0)
    })
    .unwrap()
}

/// `(key, raw JSON)` of every row, sorted by key.
pub fn raw_rows(conn: &rusqlite::Connection, table: &str, key: &str) -> Vec<(i64, Value)> {
    raw_rows_where(conn, table, key, "")
}

/// `(key, raw JSON)` of the rows `filter` (an SQL `WHERE ...`, or empty) keeps, by key.
pub fn raw_rows_where(
    conn: &rusqlite::Connection,
    table: &str,
    key: &str,
    filter: &str,
) -> Vec<(i64, Value)> {
    let mut stmt = conn
        .prepare(&format!(
            "SELECT \"{key}\", _raw FROM \"{table}\" {filter} ORDER BY \"{key}\""
        ))
        .unwrap();
    stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
        .unwrap()
        .map(|r| {
            let (k, raw) = r.unwrap();
            (k, serde_json::from_str(&raw).unwrap())
        })
        .collect()
}

/// Every row of a child table as raw JSON, sorted for comparison.
pub fn child_rows(conn: &rusqlite::Connection, table: &str) -> Vec<String> {
    child_rows_where(conn, table, "")
}

/// The rows of a child table `filter` keeps, as raw JSON, sorted for comparison.
pub fn child_rows_where(conn: &rusqlite::Connection, table: &str, filter: &str) -> Vec<String> {
    let mut stmt = conn
        .prepare(&format!("SELECT _raw FROM \"{table}\" {filter}"))
        .unwrap();
    let mut rows: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    rows.sort();
    rows
}

pub fn by_id(records: &[Value], key: &str) -> Vec<(i64, Value)> {
    let mut v: Vec<(i64, Value)> = records
        .iter()
        .map(|r| (r[key].as_i64().unwrap(), r.clone()))
        .collect();
    v.sort_by_key(|(k, _)| *k);
    v
}

/// Sets the sandbox's fault injection (the spec grammar is in `bc_sandbox::faults`).
pub async fn set_faults(sb: &RunningSandbox, spec: &str) {
    let resp = reqwest::Client::new()
        .put(format!("{}/_sandbox/faults", sb.base_url()))
        .header("Content-Type", "text/plain")
        .body(spec.to_owned())
        .send()
        .await
        .unwrap();
    let status = resp.status();
    assert!(
        status.is_success(),
        "setting faults: {status} {}",
        resp.text().await.unwrap()
    );
}

pub async fn clear_faults(sb: &RunningSandbox) {
    let resp = reqwest::Client::new()
        .delete(format!("{}/_sandbox/faults", sb.base_url()))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
}

/// The writes the incremental tests make between two runs, several in the same second:
/// customers 1-3 renamed (`Changed1`..), two customers created, products 1 and 2 repriced
/// (123.45, 67.5), order 1 moved to status 10.
pub async fn change_between_runs(sb: &RunningSandbox) {
    use reqwest::Method;
    use serde_json::json;
    let writes = [
        (
            Method::PUT,
            "/v3/customers",
            json!([
                {"id": 1, "first_name": "Changed1"}, {"id": 2, "first_name": "Changed2"}, {"id": 3, "first_name": "Changed3"}
            ]),
        ),
        (
            Method::POST,
            "/v3/customers",
            json!([
                {"email": "new.one@example.com", "first_name": "New", "last_name": "One"},
                {"email": "new.two@example.com", "first_name": "New", "last_name": "Two"}
            ]),
        ),
        (
            Method::PUT,
            "/v3/catalog/products",
            json!([{"id": 1, "price": 123.45}, {"id": 2, "price": 67.5}]),
        ),
        (Method::PUT, "/v2/orders/1", json!({"status_id": 10})),
    ];
    for (method, path, body) in writes {
        let (status, _) = api(sb, method.clone(), path, Some(body)).await;
        assert_eq!(status, 200, "{method} {path}");
    }
}

/// Where the PostgreSQL tests find their server (`.ci/run` sets it).
pub const PG_ENV_URL: &str = "BCSYNC_TEST_POSTGRES_URL";

/// The test server's URL, or `None` (with a note) when PostgreSQL tests are not enabled.
/// Under `CI=true` a missing URL fails the test: CI never skips PostgreSQL.
pub fn pg_url() -> Option<String> {
    match std::env::var(PG_ENV_URL) {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!(
                    "CI=true but {PG_ENV_URL} is unset: PostgreSQL tests are never skipped in CI"
                );
            }
            eprintln!(
                "note: skipping a PostgreSQL test; set {PG_ENV_URL}=postgres://postgres@127.0.0.1:5432/test to run it"
            );
            None
        }
    }
}

/// Where the NATS tests find their JetStream server (`.ci/run` sets it).
pub const NATS_ENV_URL: &str = "BCSYNC_TEST_NATS_URL";

/// The test NATS server's URL, or `None` (with a note) when NATS tests are not enabled.
/// Under `CI=true` a missing URL fails the test: CI never skips NATS.
pub fn nats_url() -> Option<String> {
    match std::env::var(NATS_ENV_URL) {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("CI=true but {NATS_ENV_URL} is unset: NATS tests are never skipped in CI");
            }
            eprintln!(
                "note: skipping a NATS test; set {NATS_ENV_URL}=nats://127.0.0.1:4222 (a nats-server with -js) to run it"
            );
            None
        }
    }
}

/// `url` with `schema=NAME` appended (how every PostgreSQL test names its own schema).
pub fn pg_with_schema(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}schema={schema}")
}

/// A schema or table name no other test (or test run) uses.
pub fn unique_name(tag: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "bcsync_t_{tag}_{}_{nanos}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

pub async fn drop_schema(pg: &tokio_postgres::Client, schema: &str) {
    pg.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
        .await
        .unwrap();
}

/// `bcsync ARGS` run in `dir` against the sandbox `sb`, credentials in the environment as a
/// user would set them, and no inherited `DATABASE_URL`.
pub fn bcsync_in(sb: &RunningSandbox, dir: &Path, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_bcsync"));
    cmd.current_dir(dir)
        .env("BIGCOMMERCE_STORE_HASH", sb.store_hash())
        .env("BIGCOMMERCE_ACCESS_TOKEN", sb.token())
        .env("BIGCOMMERCE_BASE_URL", sb.base_url())
        .env_remove("DATABASE_URL")
        .args(args);
    cmd
}

/// A finished command's stdout and stderr, for assertion messages.
/// Sends SIGTERM to a child process (what a service manager sends to stop it).
pub fn sigterm(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -TERM {pid} failed");
}

pub fn output_text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Write requests (anything but GET) the sandbox has answered so far, admin API excluded.
pub fn writes(sb: &RunningSandbox) -> usize {
    sb.state
        .log
        .entries()
        .iter()
        .filter(|e| e.method != "GET" && !e.path.contains("/_sandbox"))
        .count()
}

// --- push fixtures shared by binary-level tests (errors.rs, interrupt.rs) ----------------

/// Writes `people.csv` with `rows` customers (`pN@x.io`, FirstN, LastN) and a
/// `bcsync.toml` whose sync `crm` upserts them by email.
pub fn write_customers_sync(dir: &Path, rows: usize) {
    let mut csv = String::from("email,first,last\n");
    for i in 0..rows {
        csv.push_str(&format!("p{i}@x.io,First{i},Last{i}\n"));
    }
    std::fs::write(dir.join("people.csv"), csv).unwrap();
    std::fs::write(
        dir.join("bcsync.toml"),
        "[[sync]]\nname = \"crm\"\nobject = \"customers\"\nmode = \"upsert\"\nmatch_key = \"email\"\n\
         source = { type = \"csv\", path = \"people.csv\" }\n\
         [sync.mapping]\nemail = \"email\"\nfirst = \"first_name\"\nlast = \"last_name\"\n",
    )
    .unwrap();
}
