//! Sandbox throughput: how many full pages per second an unthrottled sandbox serves to K
//! concurrent clients, with p50/p99 latency, for the two heaviest reads a sync makes:
//! (a) `GET /v3/customers?limit=250&page=N` and
//! (b) `GET /v2/orders?limit=250&page=N&include=consignments.line_items`,
//! plus (c) `GET /v2/time`, which measures the cost of the middleware stack alone.
//!
//! Run: `cargo bench -p bc-sandbox --bench sandbox_throughput`
//! Knobs (environment):
//! - `BENCH_SECONDS` (default 5): measured seconds per scenario and concurrency;
//! - `BENCH_CONCURRENCY` (default `1,8,32`): client counts to try;
//! - `BENCH_QUICK=1`: 1 second per run and a store a tenth of the size, for a smoke run.
//!
//! Client and server share one process and runtime, so on a small machine the figures are
//! a lower bound for the server: the clients' JSON reading competes for the same cores.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bc_sandbox::{Plan, SandboxConfig, SeedSpec};
use hdrhistogram::Histogram;

struct Scenario {
    name: &'static str,
    /// Path relative to the store, with `{page}` replaced per request.
    path: &'static str,
    pages: u64,
    /// Against the second sandbox, whose plan meters every request (quota accounting and
    /// headers) with a quota too large to run out.
    metered: bool,
}

struct RunResult {
    requests: u64,
    failures: u64,
    bytes: u64,
    elapsed: Duration,
    latency_us: Histogram<u64>,
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

fn concurrency_levels() -> Vec<usize> {
    std::env::var("BENCH_CONCURRENCY")
        .ok()
        .map(|v| {
            v.split(',')
                .filter_map(|s| s.trim().parse().ok())
                .filter(|k| *k > 0)
                .collect::<Vec<usize>>()
        })
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| vec![1, 8, 32])
}

/// Drives `clients` concurrent loops against one scenario for `duration`.
async fn drive(
    http: &reqwest::Client,
    store_url: &str,
    token: &str,
    scenario: &Scenario,
    clients: usize,
    duration: Duration,
) -> Result<RunResult, String> {
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for client in 0..clients {
        let http = http.clone();
        let base = format!("{store_url}{}", scenario.path);
        let token = token.to_owned();
        let pages = scenario.pages.max(1);
        tasks.push(tokio::spawn(async move {
            let mut latency =
                Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).map_err(|e| e.to_string())?;
            let (mut requests, mut failures, mut bytes) = (0u64, 0u64, 0u64);
            // Clients start on different pages so they do not all read the same one.
            let mut page = (client as u64 * 7) % pages;
            while Instant::now() < deadline {
                let url = base.replace("{page}", &(page + 1).to_string());
                page = (page + 1) % pages;
                let sent = Instant::now();
                let outcome = http
                    .get(&url)
                    .header("X-Auth-Token", &token)
                    .header("Accept", "application/json")
                    .send()
                    .await;
                let ok = match outcome {
                    Ok(resp) if resp.status().is_success() => match resp.bytes().await {
                        Ok(body) => {
                            bytes += body.len() as u64;
                            true
                        }
                        Err(_) => false,
                    },
                    _ => false,
                };
                let micros = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
                latency.saturating_record(micros.max(1));
                requests += 1;
                failures += u64::from(!ok);
            }
            Ok::<_, String>((requests, failures, bytes, latency))
        }));
    }
    let mut total = RunResult {
        requests: 0,
        failures: 0,
        bytes: 0,
        elapsed: Duration::ZERO,
        latency_us: Histogram::new_with_bounds(1, 60_000_000, 3).map_err(|e| e.to_string())?,
    };
    for task in tasks {
        let (requests, failures, bytes, latency) = task.await.map_err(|e| e.to_string())??;
        total.requests += requests;
        total.failures += failures;
        total.bytes += bytes;
        total.latency_us.add(&latency).map_err(|e| e.to_string())?;
    }
    total.elapsed = started.elapsed();
    Ok(total)
}

async fn run() -> Result<(), String> {
    let quick = std::env::var("BENCH_QUICK").is_ok_and(|v| v != "0" && !v.is_empty());
    let seconds = if quick {
        1
    } else {
        env_u64("BENCH_SECONDS", 5)
    };
    let scale = if quick { 10 } else { 1 };
    let seed = SeedSpec {
        seed: 7,
        customers: 10_000 / scale,
        addresses_per_customer: 1,
        customer_groups: 4,
        products: 1_000 / scale,
        variants_per_product: 1,
        categories: 20,
        brands: 10,
        orders: 10_000 / scale,
        lines_per_order: 3,
        ..SeedSpec::empty()
    };
    let pages = |records: usize| (records as u64).div_ceil(250);
    let scenarios = [
        Scenario {
            name: "(a) GET /v3/customers?limit=250",
            path: "/v3/customers?limit=250&page={page}",
            pages: pages(seed.customers),
            metered: false,
        },
        Scenario {
            name: "(b) GET /v2/orders?limit=250&include=consignments.line_items",
            path: "/v2/orders?limit=250&page={page}&include=consignments.line_items",
            pages: pages(seed.orders),
            metered: false,
        },
        Scenario {
            name: "(c) GET /v2/time (middleware only)",
            path: "/v2/time",
            pages: 1,
            metered: false,
        },
        Scenario {
            name: "(d) GET /v2/time, quota metered (enterprise:4294967295)",
            path: "/v2/time",
            pages: 1,
            metered: true,
        },
    ];

    eprintln!(
        "seeding {} customers, {} products, {} orders x {} lines...",
        seed.customers, seed.products, seed.orders, seed.lines_per_order
    );
    let seeded = Instant::now();
    let config = SandboxConfig {
        plan: Plan::Unlimited,
        seed,
        ..SandboxConfig::default()
    };
    let addr: SocketAddr = "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?;
    let sandbox = bc_sandbox::start(config, addr)
        .await
        .map_err(|e| format!("cannot start the sandbox: {e}"))?;
    eprintln!(
        "seeded and listening in {:.1} s",
        seeded.elapsed().as_secs_f64()
    );

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    let metered_config = SandboxConfig {
        plan: Plan::Enterprise { quota: u32::MAX },
        ..SandboxConfig::default()
    };
    let metered = bc_sandbox::start(metered_config, addr)
        .await
        .map_err(|e| format!("cannot start the metered sandbox: {e}"))?;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());

    println!(
        "sandbox_throughput: {seconds} s per run, {cores} cores, client and server in one process"
    );
    println!(
        "{:<62} {:>4} {:>10} {:>9} {:>9} {:>9} {:>7}",
        "scenario", "K", "req/s", "p50 ms", "p99 ms", "MB/s", "errors"
    );
    for scenario in &scenarios {
        let target = if scenario.metered { &metered } else { &sandbox };
        let store_url = Arc::new(target.store_url());
        let token = target.token().to_owned();
        let probe_url = format!("{store_url}{}", scenario.path.replace("{page}", "1"));
        let probe = http
            .get(&probe_url)
            .header("X-Auth-Token", &token)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !probe.status().is_success() {
            println!(
                "{:<62} skipped: the probe request answered {}",
                scenario.name,
                probe.status()
            );
            continue;
        }
        let _ = probe.bytes().await;
        for &clients in &concurrency_levels() {
            // A short warm-up so connections exist and caches are hot.
            drive(
                &http,
                &store_url,
                &token,
                scenario,
                clients,
                Duration::from_millis(300),
            )
            .await?;
            let r = drive(
                &http,
                &store_url,
                &token,
                scenario,
                clients,
                Duration::from_secs(seconds),
            )
            .await?;
            let secs = r.elapsed.as_secs_f64().max(1e-9);
            println!(
                "{:<62} {:>4} {:>10.0} {:>9.2} {:>9.2} {:>9.1} {:>7}",
                scenario.name,
                clients,
                r.requests as f64 / secs,
                r.latency_us.value_at_quantile(0.50) as f64 / 1000.0,
                r.latency_us.value_at_quantile(0.99) as f64 / 1000.0,
                r.bytes as f64 / secs / 1e6,
                r.failures,
            );
        }
    }
    // The request log kept every one of these requests; say how big it got.
    for (name, target) in [("unthrottled", &sandbox), ("metered", &metered)] {
        println!(
            "{name} sandbox: {} requests logged, {} retained (cap {})",
            target.state.log.total(),
            target.state.log.len(),
            bc_sandbox::admin::LOG_CAPACITY
        );
    }
    sandbox.stop().await;
    metered.stop().await;
    Ok(())
}

fn main() {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sandbox_throughput: cannot build a tokio runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(run()) {
        eprintln!("sandbox_throughput failed: {e}");
        std::process::exit(1);
    }
}
