//! Push benchmark: 10k customers and 5k products upserted from CSV into a sandbox under the
//! Standard plan quota (150 requests / 30 s) with a time scale; then a rerun with 5% of
//! rows changed; then an unchanged rerun. The two syncs run side by side on one client, as
//! `bcsync push` runs them ([`bcsync::push::run_syncs`]). Prints write requests against the
//! minimum (ceil(rows/10) per batchable operation, one per created product), lookup
//! requests against ceil(rows/50), and wall time against the quota bound.
//!
//! Every phase starts in a fresh rate-limit window: before a phase the bench waits for the
//! reset the client's [`bigcommerce::Client::rate_limit`] snapshot reports (one whole
//! window when it knows none), outside the timed region. The quota bound of a phase thus
//! assumes a full window's quota at its start, and the phase is measured under exactly
//! that condition (without the wait, a small phase right after a large one pays up to a
//! window of waiting for quota the previous phase spent).
//!
//! `cargo bench -p bcsync --bench push` (BENCH_QUICK=1 for a small smoke run,
//! BENCH_TIME_SCALE=0.02 by default; BENCH_CUSTOMERS / BENCH_PRODUCTS for other sizes).
//!
//! At a real store's latency (issue 12): `BENCH_LATENCY_MS=300 BENCH_TIME_SCALE=1` holds
//! every answer that long (the sandbox's `slow` fault) under the real 30 s windows. The
//! bound is then the larger of the quota bound and, for `PUT /v3/customers` (3 in flight
//! at most), its requests / 3 × the latency; each phase also reports the sandbox's peak
//! requests in flight.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: failing loudly is right

use std::time::{Duration, Instant};

use bc_sandbox::{Plan, SandboxConfig, SeedSpec};
use bcsync::push::config::{SyncDef, parse_syncs};
use bcsync::push::engine::PushOptions;
use bcsync::push::{Order, SyncResult, run_syncs};
use bcsync::state::push::RunRecord;
use secrecy::SecretString;

fn customers_csv(n: usize, changed_every: Option<usize>) -> String {
    let mut s = String::with_capacity(n * 60);
    s.push_str("email,first,last,company\n");
    for i in 0..n {
        let tag = if changed_every.is_some_and(|k| i % k == 0) {
            "-changed"
        } else {
            ""
        };
        s.push_str(&format!(
            "bench{i}@example.com,First{i},Last{i}{tag},Company {}\n",
            i % 97
        ));
    }
    s
}

fn products_csv(n: usize, changed_every: Option<usize>) -> String {
    let mut s = String::with_capacity(n * 50);
    s.push_str("sku,name,type,weight,price\n");
    for i in 0..n {
        let price = if changed_every.is_some_and(|k| i % k == 0) {
            format!("{}.99", i % 500 + 1)
        } else {
            format!("{}.50", i % 500 + 1)
        };
        s.push_str(&format!(
            "BENCH-{i:05},Bench product {i},physical,{},{price}\n",
            i % 7
        ));
    }
    s
}

/// The customers sync, then the products sync.
fn defs(dir: &std::path::Path) -> Vec<SyncDef> {
    let text = "[[sync]]\nname = \"customers\"\nobject = \"customers\"\nmode = \"upsert\"\nmatch_key = \"email\"\nconcurrency = 8\n\
        source = { type = \"csv\", path = \"customers.csv\" }\n[sync.mapping]\nemail = \"email\"\nfirst = \"first_name\"\nlast = \"last_name\"\ncompany = \"company\"\n\
        [[sync]]\nname = \"products\"\nobject = \"products\"\nmode = \"upsert\"\nmatch_key = \"sku\"\nconcurrency = 8\n\
        source = { type = \"csv\", path = \"products.csv\" }\n[sync.mapping]\nsku = \"sku\"\nname = \"name\"\ntype = \"type\"\nweight = \"weight\"\nprice = \"price\"\n";
    parse_syncs(text, &dir.join("bcsync.toml"), dir).unwrap()
}

/// Waits until the rate-limit window the previous phase used has reset, so the next phase
/// starts with a full quota (see the module docs). Returns the time waited.
async fn wait_for_fresh_window(client: &bigcommerce::Client, window: Duration) -> Duration {
    let snap = client.rate_limit();
    if snap.unlimited || snap.quota.is_none() {
        return Duration::ZERO;
    }
    // A small margin: reset times are whole milliseconds and the pacer adds its own.
    let wait = snap.reset.unwrap_or(window) + Duration::from_millis(20);
    tokio::time::sleep(wait).await;
    wait
}

struct Phase {
    label: &'static str,
    writes: u64,
    min_writes: u64,
    lookups: u64,
    max_lookups: u64,
    wall: f64,
    bound: f64,
    rejected: u64,
    peak_in_flight: u64,
    status_429: u64,
    latency: f64,
}

fn report(p: &Phase) {
    let ratio = |a: u64, b: u64| {
        if b == 0 {
            if a == 0 {
                "1.000".to_owned()
            } else {
                "inf".to_owned()
            }
        } else {
            format!("{:.3}", a as f64 / b as f64)
        }
    };
    println!(
        "{:<26} writes {:>5} vs min {:>5} ({}x)  lookups {:>4} vs ceil(rows/50) {:>4}  wall {:>6.2} s vs bound {:>6.2} s ({}; target <= 1.15x + 2 latencies = {:.2} s)  429s {}  peak in flight {}  rejected {}",
        p.label,
        p.writes,
        p.min_writes,
        ratio(p.writes, p.min_writes),
        p.lookups,
        p.max_lookups,
        p.wall,
        p.bound,
        if p.bound > 0.0 {
            format!("{:.3}x", p.wall / p.bound)
        } else {
            "-".into()
        },
        p.bound * 1.15 + 2.0 * p.latency,
        p.status_429,
        p.peak_in_flight,
        p.rejected
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let quick = std::env::var("BENCH_QUICK").is_ok();
    let (nc, np) = if quick { (1_000, 500) } else { (10_000, 5_000) };
    let env_usize = |name: &str, default: usize| -> usize {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (nc, np) = (
        env_usize("BENCH_CUSTOMERS", nc),
        env_usize("BENCH_PRODUCTS", np),
    );
    let latency_ms = env_usize("BENCH_LATENCY_MS", 0) as u64;
    let latency = latency_ms as f64 / 1000.0;
    let time_scale: f64 = std::env::var("BENCH_TIME_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.02);
    let window = 30.0 * time_scale;
    let rate = 150.0 / window;
    println!("== push benchmark: {nc} customers + {np} products, upsert from CSV");
    println!(
        "   Standard plan (150 requests / 30 s) at time scale {time_scale} (window {window:.2} s, {rate:.0} requests/s)"
    );
    println!(
        "   each phase starts in a fresh rate-limit window (untimed wait for the reset); quota bound = (minimum writes + lookup target) / rate"
    );
    let sb = bc_sandbox::start(
        SandboxConfig {
            seed: SeedSpec::empty(),
            plan: Plan::Standard,
            time_scale,
            ..SandboxConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    if latency_ms > 0 {
        let resp = reqwest::Client::new()
            .put(format!("{}/_sandbox/faults", sb.base_url()))
            .header("Content-Type", "text/plain")
            .body(format!("slow=1.0:{latency_ms}"))
            .send()
            .await
            .unwrap();
        assert!(
            resp.status().is_success(),
            "setting the latency: {}",
            resp.status()
        );
        println!("   every answer held {latency_ms} ms (the sandbox's slow fault)");
    }
    let base_url = sb.base_url().to_owned();
    let mut cfg = bigcommerce::ClientConfig::new(
        sb.store_hash().to_owned(),
        SecretString::from(sb.token().to_owned()),
    )
    .with_base_url(sb.base_url());
    cfg.retry_base_delay = std::time::Duration::from_millis(20);
    let client = bigcommerce::Client::new(cfg).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let defs = defs(dir.path());
    // BCSYNC_BENCH_PUSH_STATE=postgres://... measures with the PostgreSQL state store.
    let state = std::env::var("BCSYNC_BENCH_PUSH_STATE")
        .unwrap_or_else(|_| dir.path().join("push.db").display().to_string());
    let opts = PushOptions::default();

    let run_both = async |label: &'static str,
                          changed: Option<usize>,
                          min_c: u64,
                          min_p: u64,
                          max_lookups: u64,
                          customer_puts: u64|
           -> (Phase, RunRecord, RunRecord) {
        std::fs::write(dir.path().join("customers.csv"), customers_csv(nc, changed)).unwrap();
        std::fs::write(dir.path().join("products.csv"), products_csv(np, changed)).unwrap();
        let waited = wait_for_fresh_window(&client, Duration::from_secs_f64(window)).await;
        println!(
            "   (waited {:.2} s, untimed, for a fresh rate-limit window)",
            waited.as_secs_f64()
        );
        reqwest::Client::new()
            .delete(format!("{base_url}/_sandbox/stats"))
            .send()
            .await
            .unwrap();
        let t0 = Instant::now();
        // As `bcsync push` runs them: the customers and products syncs side by side.
        let ran = run_syncs(
            &client,
            &state,
            &defs,
            &opts,
            Order::SideBySide,
            None,
            |_, _| {},
        )
        .await
        .unwrap();
        let wall = t0.elapsed().as_secs_f64();
        let [c, p] = <[SyncResult; 2]>::try_from(ran).unwrap().map(|r| match r {
            SyncResult::Ran(out) => out,
            other => panic!("a sync did not run: {other:?}"),
        });
        let stats: serde_json::Value = reqwest::get(format!("{base_url}/_sandbox/stats"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let min_writes = min_c + min_p;
        let quota_bound = (min_writes + max_lookups) as f64 / rate;
        // PUT /v3/customers allows 3 at once (docs/api-notes.md §0.7).
        let cap_bound = customer_puts as f64 / 3.0 * latency;
        let phase = Phase {
            label,
            writes: c.run.write_requests + p.run.write_requests,
            min_writes,
            lookups: c.run.lookup_requests + p.run.lookup_requests,
            max_lookups,
            wall,
            bound: quota_bound.max(cap_bound),
            rejected: (c.run.rejected.len() + p.run.rejected.len()) as u64,
            peak_in_flight: stats["peak_in_flight"].as_u64().unwrap_or(0),
            status_429: stats["status_429"].as_u64().unwrap_or(0),
            latency,
        };
        (phase, c.run, p.run)
    };

    let nc64 = nc as u64;
    let np64 = np as u64;
    let lookups_first = nc64.div_ceil(50) + np64.div_ceil(50);
    let (first, c, p) = run_both(
        "1. initial upsert",
        None,
        nc64.div_ceil(10),
        np64,
        lookups_first,
        0,
    )
    .await;
    report(&first);
    println!("   customers {:?}\n   products  {:?}", c.counts, p.counts);
    // 5% changed: every 20th row.
    let changed_c = nc64.div_ceil(20);
    let changed_p = np64.div_ceil(20);
    let (second, c, p) = run_both(
        "2. rerun, 5% changed",
        Some(20),
        changed_c.div_ceil(10),
        changed_p.div_ceil(10),
        0,
        changed_c.div_ceil(10),
    )
    .await;
    report(&second);
    println!("   customers {:?}\n   products  {:?}", c.counts, p.counts);
    let (third, c, p) = run_both("3. unchanged rerun", Some(20), 0, 0, 0, 0).await;
    report(&third);
    println!("   customers {:?}\n   products  {:?}", c.counts, p.counts);
    let stats = client.stats();
    println!(
        "429s seen by the client: {}  retries: {}",
        stats.rate_limited, stats.retries
    );
    sb.stop().await;
}
