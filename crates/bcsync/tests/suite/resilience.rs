//! Extraction under failure: injected faults change nothing in the result, and a run
//! killed with SIGKILL mid-stream, then rerun, ends identical to an uninterrupted one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bc_sandbox::SandboxConfig;
use common::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_change_nothing_in_the_result() {
    let sb = sandbox(small_store()).await;
    // About 10% of requests fail in every way we know, plus a burst of header-less 429s.
    set_faults(&sb, "seed=3,500=0.03,502=0.01,503=0.02,504=0.01,reset=0.02,truncate=0.01,slow=0.02:30,burst429=6@40").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("faults.db");
    let summary = extract(
        &sb,
        &format!("sqlite:{}", path.display()),
        &["customers", "products", "orders", "coupons", "transactions"],
    )
    .await
    .unwrap();
    assert!(summary.failed().is_empty(), "{:?}", summary.failed());
    let faulted = sb
        .state
        .log
        .entries()
        .iter()
        .filter(|e| e.status >= 429)
        .count();
    assert!(faulted > 5, "faults were injected ({faulted})");
    clear_faults(&sb).await;

    let conn = db(&path);
    for (table, v, p, q) in [
        (
            "customers",
            "v3",
            "/customers",
            "include=addresses,attributes,formfields,storecredit",
        ),
        (
            "products",
            "v3",
            "/catalog/products",
            "include=variants,images,custom_fields,bulk_pricing_rules",
        ),
        (
            "orders",
            "v2",
            "/orders",
            "include=consignments.line_items&consignment_structure=object",
        ),
        ("coupons", "v2", "/coupons", ""),
    ] {
        let truth = by_id(&list_all(&sb, v, p, q).await, "id");
        assert!(
            raw_rows(&conn, table, "id") == truth,
            "{table} differs from the sandbox after faults"
        );
    }
    let orders = list_all(&sb, "v2", "/orders", "").await;
    let transactions = store_transactions(&sb, &orders).await;
    assert!(
        raw_rows(&conn, "transactions", "id") == by_id(&transactions, "id"),
        "transactions differ after faults"
    );
}

fn bcsync_extract(sb: &bc_sandbox::RunningSandbox, db: &std::path::Path, streams: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bcsync"));
    cmd.args([
        "extract",
        "--no-progress",
        "--streams",
        streams,
        "--base-url",
        &sb.base_url(),
    ])
    .arg("--to")
    .arg(format!("sqlite:{}", db.display()))
    .env("BIGCOMMERCE_STORE_HASH", sb.store_hash())
    .env("BIGCOMMERCE_ACCESS_TOKEN", sb.token())
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    cmd
}

fn committed_orders(path: &std::path::Path) -> i64 {
    let Ok(conn) = rusqlite::Connection::open(path) else {
        return 0;
    };
    conn.query_row("SELECT COUNT(*) FROM orders", [], |r| r.get(0))
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_run_resumes_to_the_same_result() {
    let mut seed = small_store();
    seed.orders = 2400;
    seed.customers = 50;
    let sb = sandbox_with(SandboxConfig {
        seed,
        ..SandboxConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let killed_db = dir.path().join("killed.db");
    // Slow pages so the kill lands between commits.
    set_faults(&sb, "slow=1.0:120,path=/v2/orders").await;
    let mut child = bcsync_extract(&sb, &killed_db, "orders").spawn().unwrap();
    let t0 = Instant::now();
    loop {
        let n = committed_orders(&killed_db);
        if n > 0 {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "no page committed within a minute"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    let _ = child.wait();
    let partial = committed_orders(&killed_db);
    clear_faults(&sb).await;

    // Writes after the crash, same second as each other.
    let (s, _) = api(
        &sb,
        Method::PUT,
        "/v2/orders/5",
        Some(json!({"status_id": 11})),
    )
    .await;
    assert_eq!(s, 200);

    let out = bcsync_extract(&sb, &killed_db, "orders").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let clean_db = dir.path().join("clean.db");
    let out = bcsync_extract(&sb, &clean_db, "orders").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let (a, b) = (db(&killed_db), db(&clean_db));
    assert!(
        partial < count(&b, "orders"),
        "the kill landed mid-stream ({partial} committed)"
    );
    assert_eq!(raw_rows(&a, "orders", "id"), raw_rows(&b, "orders", "id"));
    assert_eq!(child_rows(&a, "order_lines"), child_rows(&b, "order_lines"));
    assert_eq!(
        child_rows(&a, "order_shipping_addresses"),
        child_rows(&b, "order_shipping_addresses")
    );
    let truth = list_all(&sb, "v2", "/orders", "").await.len() as i64;
    assert_eq!(count(&a, "orders"), truth);
}

/// Rows committed so far in the tables a first load fills.
fn committed_rows(path: &std::path::Path) -> i64 {
    let Ok(conn) = rusqlite::Connection::open(path) else {
        return 0;
    };
    ["customers", "products", "orders"]
        .iter()
        .map(|t| {
            conn.query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap_or(0)
        })
        .sum()
}

/// Whether a committed state holds date windows (a split read under way).
fn has_windows(path: &std::path::Path) -> bool {
    let Ok(conn) = rusqlite::Connection::open(path) else {
        return false;
    };
    conn.query_row(
        "SELECT COUNT(*) FROM _bcsync_state WHERE state LIKE '%\"windows\"%'",
        [],
        |r| r.get::<_, i64>(0),
    )
    .unwrap_or(0)
        > 0
}

/// A first load read in parallel date windows, killed with SIGKILL at random points (three
/// times, with orders changing between runs, which moves them to the end of the date
/// order), then finished: the rows equal a clean extraction's and the store's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_parallel_first_load_resumes_exactly() {
    use rand::{Rng, SeedableRng};
    let seed: u64 = std::env::var("BCSYNC_TEST_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("kill points from BCSYNC_TEST_KILL_SEED={seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut spec = small_store();
    spec.orders = 2400;
    spec.customers = 900;
    let sb = sandbox(spec).await;
    let dir = tempfile::tempdir().unwrap();
    let killed_db = dir.path().join("killed.db");
    // Every answer takes 120 ms, so several windows of a stream are on the wire at once,
    // and a loaded machine still kills a run before its read is over.
    set_faults(&sb, "slow=1.0:120").await;
    let streams = "customers,products,orders";
    let mut saw_windows = false;
    for round in 0..3 {
        let before = committed_rows(&killed_db);
        let mut child = bcsync_extract(&sb, &killed_db, streams).spawn().unwrap();
        let target = before + rng.random_range(1..900);
        // The first kill waits for a committed state with windows too: each stream's first
        // page is committed before its range is cut, so a kill after the first pages alone
        // would test the single read again.
        let wait_for_windows = round == 0;
        let t0 = Instant::now();
        while (committed_rows(&killed_db) < target
            || (wait_for_windows && !has_windows(&killed_db)))
            && t0.elapsed() < Duration::from_secs(60)
        {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().unwrap(); // SIGKILL
        let _ = child.wait();
        saw_windows |= has_windows(&killed_db);
        // Orders change between runs: each moves to the newest date.
        for _ in 0..5 {
            let id = rng.random_range(1..=2400);
            let (s, _) = api(
                &sb,
                Method::PUT,
                &format!("/v2/orders/{id}"),
                Some(json!({"status_id": 10 + round})),
            )
            .await;
            assert_eq!(s, 200);
        }
    }
    clear_faults(&sb).await;
    assert!(
        saw_windows,
        "a kill landed while a read was split into windows (seed {seed})"
    );

    let out = bcsync_extract(&sb, &killed_db, streams).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let clean_db = dir.path().join("clean.db");
    let out = bcsync_extract(&sb, &clean_db, streams).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let (a, b) = (db(&killed_db), db(&clean_db));
    for table in ["customers", "products", "orders"] {
        assert_eq!(
            raw_rows(&a, table, "id"),
            raw_rows(&b, table, "id"),
            "{table} (seed {seed})"
        );
    }
    for table in ["order_lines", "product_variants", "customer_addresses"] {
        assert_eq!(
            child_rows(&a, table),
            child_rows(&b, table),
            "{table} (seed {seed})"
        );
    }
    let truth = list_all(&sb, "v2", "/orders", "").await.len() as i64;
    assert_eq!(count(&a, "orders"), truth);
    assert_eq!(count(&a, "customers"), 900);
    // Nothing is left split once the read is complete.
    assert!(!has_windows(&killed_db));
}
