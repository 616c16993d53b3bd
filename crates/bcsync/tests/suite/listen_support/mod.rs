//! Helpers for the `listen_*` tests: a listener in this process over real HTTP, deliveries
//! shaped as docs/api-notes.md §9.2 describes them, and bounded waits.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use bc_sandbox::RunningSandbox;
use bcsync::listen::{self, ListenOptions, ListenTarget, RunningListener};
use secrecy::SecretString;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

pub mod proxy;

pub(crate) use crate::common;

pub const SECRET: &str = "test-secret-5f1c0d2e";

/// Options for tests: nothing periodic unless a test asks (the first poll and
/// reconciliation still run at start).
pub fn quiet_options() -> ListenOptions {
    ListenOptions {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        public_url: None,
        poll_interval: Duration::from_secs(3600),
        reconcile_interval: Duration::from_secs(3600),
        hook_check_interval: Duration::from_secs(3600),
        apply: listen::ApplyOptions {
            coalesce: Duration::from_millis(50),
            ..Default::default()
        },
        brevo: None,
        alerts: None,
    }
}

pub async fn start(sb: &RunningSandbox, to: &str, options: ListenOptions) -> RunningListener {
    let (client, counter) = common::client(sb, sb.token());
    let target = ListenTarget::parse(to, sb.store_hash()).unwrap();
    listen::start(
        client,
        counter,
        target,
        SecretString::from(SECRET.to_owned()),
        options,
        CancellationToken::new(),
    )
    .await
    .unwrap()
}

/// A delivery as the store sends it; `hash` is derived from the content unless given.
pub fn payload(store_hash: &str, scope: &str, data: Value, nonce: u64) -> Value {
    let created_at = chrono::Utc::now().timestamp();
    let mut body = json!({
        "scope": scope,
        "store_id": "1001",
        "data": data,
        "created_at": created_at,
        "producer": format!("stores/{store_hash}"),
    });
    let digest = Sha256::digest(format!("{body}{nonce}").as_bytes());
    body["hash"] = json!(hex::encode(&digest[..20]));
    body
}

/// POSTs `body` to the listener with `secret` (none: no header); returns the status.
pub async fn post(addr: SocketAddr, secret: Option<&str>, body: impl Into<reqwest::Body>) -> u16 {
    let mut req = reqwest::Client::new()
        .post(format!("http://{addr}/webhooks"))
        .header("Content-Type", "application/json")
        .body(body);
    if let Some(s) = secret {
        req = req.header("X-Bcsync-Secret", s);
    }
    req.send().await.unwrap().status().as_u16()
}

pub async fn deliver(addr: SocketAddr, body: &Value) -> u16 {
    post(addr, Some(SECRET), body.to_string()).await
}

/// Waits (bounded, generously: the machine is shared) until `check` holds.
pub async fn wait_for<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..1200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("gave up waiting for {what}");
}

/// Waits until the listener's first gap poll has committed.
pub async fn wait_first_poll(l: &RunningListener) {
    let inbox = l.inbox.clone();
    wait_for("the first gap poll", || {
        let inbox = inbox.clone();
        async move { inbox.meta("last_sync_at").await.unwrap().is_some() }
    })
    .await;
}

/// Waits until every received event is applied.
pub async fn wait_applied(l: &RunningListener, total: i64) {
    let inbox = l.inbox.clone();
    wait_for("events to be applied", || {
        let inbox = inbox.clone();
        async move {
            let s = inbox.stats().await.unwrap();
            s.total >= total && s.pending == 0
        }
    })
    .await;
}

/// A row's raw JSON and deletion mark.
pub fn row(db: &Path, table: &str, key: &str, id: i64) -> Option<(Value, Option<String>)> {
    let conn = common::db(db);
    conn.query_row(
        &format!("SELECT _raw, _deleted_at FROM \"{table}\" WHERE \"{key}\" = ?1"),
        [id],
        |r| {
            Ok((
                serde_json::from_str(&r.get::<_, String>(0)?).unwrap(),
                r.get(1)?,
            ))
        },
    )
    .ok()
}

/// A port free now, for a listener whose address must be known before it starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `bcsync listen` as a child process on `port`, into `dir/shop.db`, with the test secret,
/// nothing periodic, and `extra` arguments (e.g. `--public-url`, `--coalesce`).
pub fn spawn_listener(
    sb: &RunningSandbox,
    dir: &Path,
    port: u16,
    extra: &[&str],
) -> std::process::Child {
    let bind = format!("127.0.0.1:{port}");
    let mut args = vec![
        "listen",
        "--to",
        "sqlite:shop.db",
        "--bind",
        &bind,
        "--poll-interval",
        "1h",
        "--reconcile-interval",
        "1h",
    ];
    args.extend_from_slice(extra);
    common::bcsync_in(sb, dir, &args)
        .env("BCSYNC_WEBHOOK_SECRET", SECRET)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// Events of `dir/shop-inbox.db` not applied yet (parked ones aside); -1 before the
/// inbox exists.
pub fn pending_events(dir: &Path) -> i64 {
    let path = dir.join("shop-inbox.db");
    if !path.exists() {
        return -1;
    }
    common::db(&path)
        .query_row(
            "SELECT count(*) FROM events WHERE applied_at IS NULL AND parked IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap_or(-1)
}

/// Rows of `table` by key (as text), live or marked deleted.
pub fn rows_by_key(
    db: &Path,
    table: &str,
    live: bool,
) -> std::collections::BTreeMap<String, Value> {
    let conn = common::db(db);
    let filter = if live { "IS NULL" } else { "IS NOT NULL" };
    let mut stmt = conn
        .prepare(&format!(
            "SELECT CAST(id AS TEXT), _raw FROM \"{table}\" WHERE _deleted_at {filter}"
        ))
        .unwrap();
    stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .unwrap()
        .map(|r| {
            let (k, raw) = r.unwrap();
            (k, serde_json::from_str(&raw).unwrap())
        })
        .collect()
}

/// Live rows of a child table as raw JSON, sorted for comparison.
pub fn live_children(db: &Path, table: &str) -> Vec<String> {
    common::child_rows_where(&common::db(db), table, "WHERE _deleted_at IS NULL")
}

/// A cart's live lines in `cart_items` as (line id, quantity), sorted.
pub fn our_cart_lines(db: &Path, cart: &str) -> Vec<(String, i64)> {
    let conn = common::db(db);
    let mut stmt = conn
        .prepare("SELECT id, quantity FROM cart_items WHERE cart_id = ?1 AND _deleted_at IS NULL ORDER BY id")
        .unwrap();
    stmt.query_map([cart], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

/// A cart's lines as the API renders them, as (line id, quantity), sorted.
pub fn their_cart_lines(cart: &Value) -> Vec<(String, i64)> {
    let mut v: Vec<(String, i64)> = ["physical_items", "digital_items"]
        .iter()
        .flat_map(|kind| {
            cart["line_items"][kind]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|i| {
            (
                i["id"].as_str().unwrap().to_owned(),
                i["quantity"].as_i64().unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// Asserts the listener's customers, products and orders in `dir/shop.db` (and their
/// children) equal a full extraction of the store into `dir/full.db`: the same live rows,
/// and no row marked deleted that still exists. Returns the listener's database.
pub async fn assert_equals_full_extraction(sb: &RunningSandbox, dir: &Path) -> std::path::PathBuf {
    let full = dir.join("full.db");
    common::extract(
        sb,
        &format!("sqlite:{}", full.display()),
        &["customers", "products", "orders"],
    )
    .await
    .unwrap();
    let listened = dir.join("shop.db");
    assert_tables_equal(&listened, &full);
    listened
}

fn assert_tables_equal(listened: &Path, full: &Path) {
    for table in ["customers", "products", "orders"] {
        let live = rows_by_key(listened, table, true);
        let expected = rows_by_key(full, table, true);
        assert_eq!(
            live.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>(),
            "{table}: live keys"
        );
        for (k, v) in &expected {
            assert_eq!(&live[k], v, "{table} {k}");
        }
        for k in rows_by_key(listened, table, false).keys() {
            assert!(
                !expected.contains_key(k),
                "{table} {k} is marked deleted but exists"
            );
        }
    }
    for child_table in ["customer_addresses", "order_lines", "product_variants"] {
        assert_eq!(
            live_children(listened, child_table),
            live_children(full, child_table),
            "{child_table}"
        );
    }
}

/// Waits until the listener writing into `dir` committed its first gap poll (the inbox's
/// `last_sync_at`): from then on every seeded record has a row.
pub async fn wait_first_sync(dir: &Path) {
    let inbox = dir.join("shop-inbox.db");
    wait_for("the listener's first gap poll", || {
        let inbox = inbox.clone();
        async move {
            inbox.exists()
                && common::db(&inbox)
                    .query_row(
                        "SELECT count(*) FROM meta WHERE key = 'last_sync_at'",
                        [],
                        |r| r.get::<_, i64>(0),
                    )
                    .is_ok_and(|n| n > 0)
        }
    })
    .await;
}

/// POSTs a delivery; `false` when the listener is down or did not acknowledge.
pub async fn try_deliver(addr: SocketAddr, body: &Value) -> bool {
    let resp = reqwest::Client::new()
        .post(format!("http://{addr}/webhooks"))
        .header("X-Bcsync-Secret", SECRET)
        .timeout(Duration::from_secs(5))
        .body(body.to_string())
        .send()
        .await;
    matches!(resp, Ok(r) if r.status().as_u16() == 200)
}
