//! `bcsync ui` page load time with 10,000 runs in the state store: the dashboard served in
//! this process over real HTTP (127.0.0.1, port 0) from a SQLite state store seeded
//! through the `PushStore` API (four syncs, 5% failed, 5% over their rejection threshold
//! with 20 rejected rows and 25 logged requests each, and one run with 2,000 of each),
//! and an extraction database with bookmarks. Each screen is fetched BENCH_CALLS times
//! (default 200) after a warm-up; a load is timed from sending the request to having read
//! the whole body. Prints p50 / p95 / p99 / max per screen; nothing is asserted.
//!
//! `cargo bench -p bcsync --bench ui`

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: failing loudly is right

#[path = "../tests/suite/ui_support/mod.rs"]
mod ui_support;

use std::time::{Duration, Instant};

use bcsync::push::mapping::Rejection;
use bcsync::state::push::{LoggedRequest, PushStore, RunRecord, SqlitePushStore};
use bcsync::ui::{Stores, UiServer, UiSources};
use hdrhistogram::Histogram;

const RUNS: usize = 10_000;

fn run_record(i: usize, rejected: usize, requests: usize) -> RunRecord {
    let syncs = ["customers", "products", "orders", "brevo"];
    let status = match i % 20 {
        0 => "failed",
        1 => "rejected_over_threshold",
        _ => "ok",
    };
    let started = chrono::Utc::now() - chrono::Duration::minutes((RUNS - i) as i64 * 15);
    RunRecord {
        sync: syncs[i % syncs.len()].into(),
        status: status.into(),
        started_at: started.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        finished_at: (started + chrono::Duration::seconds(40))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        duration_ms: 40_000,
        requests: requests as u64 + 10,
        write_requests: requests as u64,
        lookup_requests: 10,
        counts: [
            ("created".to_owned(), 12u64),
            ("updated".to_owned(), 140),
            ("unchanged".to_owned(), 9_000),
            ("rejected".to_owned(), rejected as u64),
        ]
        .into_iter()
        .collect(),
        rejected: (0..rejected)
            .map(|r| Rejection {
                row: r as u64 + 2,
                key: Some(format!("person{r}@example.com")),
                field: Some("phone".into()),
                reason: "not a phone number: \"12\"".into(),
            })
            .collect(),
        request_log: (0..requests)
            .map(|q| LoggedRequest {
                method: "PUT".into(),
                path: format!("/v3/customers?batch={q}"),
                status: Some(if q % 7 == 0 { 422 } else { 200 }),
                ms: 120 + q as u64 % 90,
                ..LoggedRequest::default()
            })
            .collect(),
        ..RunRecord::default()
    }
}

fn report(name: &str, h: &Histogram<u64>) {
    let ms = |us: u64| us as f64 / 1000.0;
    println!(
        "{name:<34} n={:<4} p50 {:>7.2} ms  p95 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
        h.len(),
        ms(h.value_at_quantile(0.50)),
        ms(h.value_at_quantile(0.95)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max())
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let calls: usize = std::env::var("BENCH_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("bcsync-push.db");
    let seeding = Instant::now();
    let mut store = SqlitePushStore::open(&state, "store1").unwrap();
    let mut typical_rejected = 0;
    for i in 0..RUNS - 1 {
        let (rejected, requests) = if i % 20 == 1 { (20, 25) } else { (0, 0) };
        let id = store.save_run(&run_record(i, rejected, requests)).unwrap();
        if rejected > 0 {
            typical_rejected = id;
        }
    }
    let big = store.save_run(&run_record(1, 2_000, 2_000)).unwrap();
    drop(store);
    ui_support::seed_extraction(&dir.path().join("bcsync.db"));
    println!(
        "seeded {RUNS} runs in {:.1} s; {calls} loads per screen",
        seeding.elapsed().as_secs_f64()
    );

    let stores = Stores::new(UiSources {
        state: state.display().to_string(),
        extract_to: format!("sqlite:{}", dir.path().join("bcsync.db").display()),
        store_hash: Some("store1".into()),
        fleet_nats: None,
    })
    .unwrap();
    let server = UiServer::bind(stores, "127.0.0.1:0".parse().unwrap(), None)
        .await
        .unwrap();
    let base = format!("http://{}", server.local_addr().unwrap());
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(server.serve(stop.clone()));
    let client = reqwest::Client::new();

    let screens = [
        ("status /", "/".to_owned()),
        ("runs /runs", "/runs".to_owned()),
        (
            "runs filtered (sync and status)",
            "/runs?sync=customers&status=failed".to_owned(),
        ),
        ("runs, page 150 of 200", "/runs?page=150".to_owned()),
        ("charts /charts (latest 60 runs)", "/charts".to_owned()),
        (
            "run (20 rejected, 25 requests)",
            format!("/runs/{typical_rejected}"),
        ),
        ("run (2,000 rejected, 2,000 req.)", format!("/runs/{big}")),
        (
            "rejected.csv (2,000 rows)",
            format!("/runs/{big}/rejected.csv"),
        ),
    ];
    for (name, path) in &screens {
        let url = format!("{base}{path}");
        for _ in 0..5 {
            let r = client.get(&url).send().await.unwrap();
            assert!(r.status().is_success(), "{path}: {}", r.status());
            r.bytes().await.unwrap();
        }
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        let mut bytes = 0;
        for _ in 0..calls {
            let t = Instant::now();
            let body = client
                .get(&url)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            h.record(t.elapsed().as_micros().max(1) as u64).unwrap();
            bytes = body.len();
        }
        report(name, &h);
        println!("{:<34} {} KB", "", bytes / 1024);
    }
    stop.cancel();
    tokio::time::sleep(Duration::from_millis(50)).await;
}
