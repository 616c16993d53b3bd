//! Issue 9 item 24: one per-order request backing off must not hold back the others, and
//! each retry logs one short line (method, path without query, status, attempt, wait).
#![allow(clippy::unwrap_used)]

use crate::common;

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use bc_sandbox::SeedSpec;
use bcsync::extract::{ExtractOptions, Progress, RequestCounter};
use common::*;
use parking_lot::Mutex;
use secrecy::SecretString;
use serde_json::Value;

/// Collects what the tracing subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock()).into_owned()
    }
}

async fn request_log(sb: &bc_sandbox::RunningSandbox) -> Vec<Value> {
    let v: Value = reqwest::get(format!("{}/_sandbox/requests", sb.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["requests"].as_array().cloned().unwrap()
}

// Current-thread runtime (the default): the sandbox's tasks and ours share the thread, so
// the thread-local subscriber below sees the client's log lines.
#[tokio::test]
async fn a_backing_off_per_order_request_does_not_hold_back_the_others() {
    let sb = sandbox(SeedSpec {
        customers: 0,
        products: 20,
        orders: 300,
        ..small_store()
    })
    .await;
    // The first per-order request to arrive gets a 500 (it heads the window), once.
    set_faults(&sb, "path=/v3/orders/,500@1").await;

    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .with_max_level(tracing::Level::WARN)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // A long backoff (3 to 6 s before the retry) leaves the other requests plenty of
    // time; nothing here measures time, only what happened while the one request waited.
    let mut cfg = bigcommerce::ClientConfig::new(
        sb.store_hash().to_owned(),
        SecretString::from(sb.token().to_owned()),
    )
    .with_base_url(sb.base_url());
    cfg.retry_base_delay = Duration::from_secs(6);
    cfg.retry_max_delay = Duration::from_secs(6);
    let counter = Arc::new(RequestCounter::default());
    let client = bigcommerce::Client::new(cfg)
        .unwrap()
        .with_observer(counter.clone());
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("t.db");
    let summary = bcsync::extract::run_to(
        client,
        counter,
        &["transactions".to_owned()],
        &format!("sqlite:{}", db_path.display()),
        false,
        None,
        ExtractOptions::default(),
        Progress::hidden(),
    )
    .await
    .unwrap();
    assert!(summary.failed().is_empty(), "{:?}", summary.failed());

    // The sandbox logs requests in completion order: count the per-order requests that
    // completed between the faulted attempt and its retry.
    let log = request_log(&sb).await;
    let per_order = |e: &Value| {
        let p = e["path"].as_str().unwrap_or("");
        p.contains("/v3/orders/") && p.ends_with("/transactions")
    };
    let faulted = log
        .iter()
        .position(|e| e["fault"] == "500")
        .expect("the fault was injected");
    let faulted_path = log[faulted]["path"].clone();
    let retried = faulted
        + 1
        + log[faulted + 1..]
            .iter()
            .position(|e| e["path"] == faulted_path)
            .expect("the faulted request was retried");
    let meanwhile = log[faulted + 1..retried]
        .iter()
        .filter(|e| per_order(e))
        .count();
    // Before the fix the window was 8 requests, and a request backing off held it: at
    // most 7 others could complete. Now the window spans pages (300 orders, 2 pages).
    assert!(
        meanwhile >= 100,
        "only {meanwhile} per-order requests completed while one was backing off"
    );
    let orders_listed = log[..retried]
        .iter()
        .filter(|e| e["path"].as_str().unwrap_or("").ends_with("/v2/orders"))
        .count();
    assert!(
        orders_listed >= 2,
        "the second order page was not listed while the first page's request waited"
    );

    // Every row still arrives.
    let orders = list_all(&sb, "v2", "/orders", "").await;
    let transactions = store_transactions(&sb, &orders).await.len();
    assert_eq!(count(&db(&db_path), "transactions") as usize, transactions);

    // One short line for the one retry: method, path without query, status, attempt
    // n/max, wait.
    let text = captured.text();
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("retrying")).collect();
    assert_eq!(lines.len(), 1, "{text}");
    let line = lines[0];
    let path = faulted_path.as_str().unwrap();
    let store_relative = path
        .split_once("/v3/")
        .map(|(_, p)| format!("/v3/{p}"))
        .unwrap();
    let expected = format!("GET {store_relative}: HTTP 500 on attempt 1/9, retrying in ");
    assert!(line.contains(&expected), "{line:?} lacks {expected:?}");
    assert!(line.trim_end().ends_with(" s"), "{line}");
    assert!(!line.contains('?'), "no query string: {line}");
    assert!(line.len() < 120, "{} characters: {line}", line.len());
}
