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

#[path = "../common/mod.rs"]
pub mod common;

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
