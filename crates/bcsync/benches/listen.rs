//! `bcsync listen` under a busy store, on the Standard quota with real 30 s windows (150
//! requests per window, 5 per second sustained: docs/api-notes.md §0.7).
//!
//! An in-process sandbox (Standard plan, time scale 1) delivers its webhooks to a
//! `bcsync listen` child process (the release binary, so its CPU and memory are its own)
//! writing into SQLite and, when `BCSYNC_BENCH_POSTGRES_URL` is set, into PostgreSQL. The
//! destination is first filled by `bcsync extract`, as a user starts, so the listener's
//! start-up poll is incremental. Then the sandbox's storefront simulator (30% cart, 30%
//! order, 20% customer, 20% product and stock actions) runs two phases:
//! - steady: 5 store actions per second for 3 minutes;
//! - burst: 40 actions per second for 60 s, then up to 3 minutes to catch up.
//!
//! Figures per phase, all read off records rather than timed in the listener:
//! - end-to-end latency: from the store recording a change (the sandbox journal, in
//!   milliseconds) to the listener marking its event applied, which it does only after the
//!   destination committed the rows (inbox `applied_at`), p50 / p99 / max;
//! - acknowledgement latency: how long the listener took to answer each delivery, as the
//!   sandbox's delivery task measured it (what the store's timeout sees), p50 / p99;
//! - API requests per store action (gap polls, reconciliation and hook checks included:
//!   every request the sandbox answered) and the share of 429s;
//! - the listener's CPU (user + system over wall time) and peak RSS (`VmHWM`).
//!
//! `cargo bench -p bcsync --bench listen` (about 8 minutes per destination;
//! `BENCH_QUICK=1` for a 40 s steady phase and a 15 s burst, to check the harness).
//! `BCSYNC_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test` adds PostgreSQL;
//! `BENCH_FAULTS=slow=1:300` makes the store answer every request 300 ms late;
//! `BENCH_COALESCE_MAX=2500ms` sets the listener's `--coalesce-max`; `BENCH_PHASES=steady`
//! runs one phase.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: failing loudly is right

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bc_sandbox::{Plan, RunningSandbox, SandboxConfig, SeedSpec, SimulateSpec};
use hdrhistogram::Histogram;

const SECRET: &str = "bench-listen-secret-7d41";
/// The listener's gap-poll interval: short enough that polling happens (and is counted)
/// in every phase.
const POLL_INTERVAL: &str = "1m";
/// How long the store may take to see every event of a phase applied once it stops.
const CATCH_UP_LIMIT: Duration = Duration::from_secs(180);

struct Phase {
    name: &'static str,
    rate: f64,
    secs: f64,
}

fn phases() -> Vec<Phase> {
    let quick = std::env::var("BENCH_QUICK").is_ok_and(|v| v == "1");
    let only = std::env::var("BENCH_PHASES").ok();
    let mut all = vec![
        Phase {
            name: "steady",
            rate: 5.0,
            secs: if quick { 40.0 } else { 180.0 },
        },
        Phase {
            name: "burst",
            rate: 40.0,
            secs: if quick { 15.0 } else { 60.0 },
        },
    ];
    if let Some(only) = only {
        all.retain(|p| only.split(',').any(|n| n.trim() == p.name));
    }
    all
}

fn seed() -> SeedSpec {
    SeedSpec {
        seed: 21,
        customers: 2000,
        addresses_per_customer: 1,
        customer_groups: 3,
        products: 300,
        variants_per_product: 3,
        images_per_product: 1,
        custom_fields_per_product: 1,
        categories: 12,
        brands: 6,
        orders: 3000,
        lines_per_order: 3,
        coupons: 4,
        history_days: 60,
    }
}

/// `BENCH_FAULTS` in the sandbox's `--faults` grammar, e.g. `slow=1:300` for a store
/// answering every request 300 ms late, as a real one does.
fn faults() -> bc_sandbox::faults::FaultConfig {
    std::env::var("BENCH_FAULTS")
        .ok()
        .map(|spec| bc_sandbox::faults::FaultConfig::parse(&spec).expect("BENCH_FAULTS"))
        .unwrap_or_default()
}

/// `BENCH_COALESCE_MAX` (e.g. `2500ms`): the listener's `--coalesce-max`, to show the
/// trade between latency and requests; its default otherwise.
fn coalesce_max() -> String {
    std::env::var("BENCH_COALESCE_MAX").unwrap_or_else(|_| "1700ms".into())
}

/// Where the listener writes, and how the bench reads its inbox back.
enum Dest {
    Sqlite { dir: tempfile::TempDir },
    Postgres { url: String },
}

impl Dest {
    fn label(&self) -> &'static str {
        match self {
            Dest::Sqlite { .. } => "SQLite",
            Dest::Postgres { .. } => "PostgreSQL",
        }
    }

    fn to_arg(&self) -> String {
        match self {
            Dest::Sqlite { dir } => format!("sqlite:{}", dir.path().join("shop.db").display()),
            Dest::Postgres { url } => url.clone(),
        }
    }

    /// Every inbox row as (hash, applied_at epoch ms), applied ones only.
    async fn applied(&self) -> HashMap<String, i64> {
        match self {
            Dest::Sqlite { dir } => {
                let path = dir.path().join("shop-inbox.db");
                let conn = rusqlite::Connection::open_with_flags(
                    &path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
                )
                .unwrap();
                let mut stmt = conn
                    .prepare("SELECT hash, applied_at FROM events WHERE applied_at IS NOT NULL")
                    .unwrap();
                stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                    .unwrap()
                    .map(|r| {
                        let (hash, at) = r.unwrap();
                        let at = chrono::DateTime::parse_from_rfc3339(&at)
                            .unwrap()
                            .timestamp_millis();
                        (hash, at)
                    })
                    .collect()
            }
            Dest::Postgres { url } => {
                let (client, conn) =
                    tokio_postgres::connect(&pg_driver_url(url), tokio_postgres::NoTls)
                        .await
                        .unwrap();
                tokio::spawn(conn);
                client
                    .query(
                        "SELECT hash, (extract(epoch FROM applied_at) * 1000)::bigint
                         FROM bench_listen._bcsync_inbox WHERE applied_at IS NOT NULL",
                        &[],
                    )
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1)))
                    .collect()
            }
        }
    }
}

/// The bench URL without our own `schema=` parameter, for the driver.
fn pg_driver_url(url: &str) -> String {
    url.split('?').next().unwrap_or(url).to_owned()
}

async fn reset_pg_schema(url: &str) {
    let (client, conn) = tokio_postgres::connect(&pg_driver_url(url), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute("DROP SCHEMA IF EXISTS bench_listen CASCADE")
        .await
        .unwrap();
}

fn bcsync(sb: &RunningSandbox, dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bcsync"));
    cmd.current_dir(dir)
        .env("BIGCOMMERCE_STORE_HASH", sb.store_hash())
        .env("BIGCOMMERCE_ACCESS_TOKEN", sb.token())
        .env("BIGCOMMERCE_BASE_URL", sb.base_url())
        .env("BCSYNC_WEBHOOK_SECRET", SECRET)
        .env_remove("DATABASE_URL");
    cmd
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// CPU ticks (user + system) and peak RSS in KiB of a process, from /proc.
fn proc_usage(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    (ticks, hwm)
}

fn clock_ticks_per_sec() -> f64 {
    // sysconf(_SC_CLK_TCK) is 100 on every Linux this runs on.
    100.0
}

struct PhaseFigures {
    routes: BTreeMap<String, u64>,
    actions: u64,
    events: usize,
    applied: usize,
    e2e: Histogram<u64>,
    ack: Histogram<u64>,
    requests: u64,
    status_429: u64,
    caught_up_after: Option<Duration>,
    cpu: f64,
}

fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000, 3).unwrap()
}

async fn run_destination(dest: Dest) {
    println!("\n== listen into {}", dest.label());
    if let Dest::Postgres { url } = &dest {
        reset_pg_schema(url).await;
    }
    let config = SandboxConfig {
        plan: Plan::Standard,
        time_scale: 1.0,
        seed: seed(),
        faults: faults(),
        ..SandboxConfig::default()
    };
    let sb = bc_sandbox::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let work = tempfile::tempdir().unwrap();

    // The first extraction, as a user starts: listen then polls incrementally.
    let started = Instant::now();
    let out = bcsync(&sb, work.path())
        .args([
            "extract",
            "--to",
            &dest.to_arg(),
            "--streams",
            "customers,products,orders",
        ])
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "extract: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!(
        "initial extraction: {:.1} s, {} requests",
        started.elapsed().as_secs_f64(),
        sb.state.log.total()
    );

    let port = free_port();
    let mut listener: Child = bcsync(&sb, work.path())
        .args([
            "listen",
            "--to",
            &dest.to_arg(),
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--public-url",
            &format!("http://127.0.0.1:{port}/webhooks"),
            "--poll-interval",
            POLL_INTERVAL,
            "--coalesce-max",
            &coalesce_max(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(work.path().join("listen.log")).unwrap(),
        ))
        .spawn()
        .unwrap();
    // Ready: hooks registered and the receiver answering.
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let healthy = http
            .get(format!("http://127.0.0.1:{port}/health"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        let hooked = !sb
            .state
            .data
            .read()
            .hooks
            .active_for("store/order/created")
            .is_empty();
        if healthy && hooked {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "listen did not get ready; see {}",
            work.path().join("listen.log").display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Let the start-up poll finish so it is not charged to the first phase's latency.
    tokio::time::sleep(Duration::from_secs(5)).await;

    let pid = listener.id();
    let mut peak_rss = 0;
    let mut results = Vec::new();
    for (i, phase) in phases().into_iter().enumerate() {
        let first_event = sb.state.data.read().events.recorded();
        let first_attempt = sb
            .state
            .delivery
            .attempts(0, None, usize::MAX)
            .last()
            .map_or(0, |a| a.seq);
        let requests_before = sb.state.log.total();
        let last_seq_before = sb.state.log.entries().last().map_or(0, |e| e.seq);
        let status_429_before = sb.state.log.count_status(429) as u64;
        let (ticks_before, _) = proc_usage(pid);
        let wall = Instant::now();

        let spec = SimulateSpec {
            rate: phase.rate,
            actions: None,
            duration_secs: Some(phase.secs),
            seed: 100 + i as u64,
        };
        bc_sandbox::simulator::start(&sb.state, spec).unwrap();
        while sb.state.simulator.status().running {
            peak_rss = peak_rss.max(proc_usage(pid).1);
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let stopped = Instant::now();
        let actions = sb.state.simulator.status().actions;
        let last_event = sb.state.data.read().events.recorded();

        // Catch up: every delivered event of the phase applied.
        let mut caught_up_after = None;
        let (mut delivered, mut applied) = (HashMap::new(), HashMap::new());
        while stopped.elapsed() < CATCH_UP_LIMIT {
            delivered = delivered_events(&sb, first_attempt, first_event, last_event);
            applied = dest.applied().await;
            let (queued, _) = sb.state.delivery.status();
            if queued == 0 && delivered.keys().all(|h| applied.contains_key(h)) {
                caught_up_after = Some(stopped.elapsed());
                break;
            }
            peak_rss = peak_rss.max(proc_usage(pid).1);
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let (ticks_after, hwm) = proc_usage(pid);
        peak_rss = peak_rss.max(hwm);
        let cpu = (ticks_after - ticks_before) as f64
            / clock_ticks_per_sec()
            / wall.elapsed().as_secs_f64();

        let recorded: HashMap<u64, i64> = sb
            .state
            .data
            .read()
            .events
            .since(first_event, usize::MAX)
            .iter()
            .map(|e| (e.seq, e.at_ms))
            .collect();
        let mut e2e = hist();
        let mut ack = hist();
        for a in sb.state.delivery.attempts(first_attempt, None, usize::MAX) {
            if let Some(ms) = a.answered_in_ms {
                ack.record(ms.max(1)).unwrap();
            }
        }
        let mut n_applied = 0;
        for (hash, seq) in &delivered {
            if let (Some(done), Some(at)) = (applied.get(hash), recorded.get(seq)) {
                e2e.record(u64::try_from(done - at).unwrap_or(0).max(1))
                    .unwrap();
                n_applied += 1;
            }
        }
        let mut routes: BTreeMap<String, u64> = BTreeMap::new();
        for e in sb
            .state
            .log
            .entries()
            .iter()
            .filter(|e| e.seq > last_seq_before)
        {
            let route = bc_sandbox::admin::route_key(&e.method, &e.path);
            let kind = if e.query.contains("id:in") {
                " (id:in)"
            } else if e.query.contains("min_date_modified") || e.query.contains("date_modified:min")
            {
                " (date window)"
            } else if e.query.contains("min_id") {
                " (id range)"
            } else {
                ""
            };
            *routes.entry(format!("{route}{kind}")).or_default() += 1;
        }
        results.push((
            phase,
            PhaseFigures {
                routes,
                actions,
                events: delivered.len(),
                applied: n_applied,
                e2e,
                ack,
                requests: sb.state.log.total() - requests_before,
                status_429: sb.state.log.count_status(429) as u64 - status_429_before,
                caught_up_after,
                cpu,
            },
        ));
    }
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
    let _ = listener.wait();

    for (phase, f) in &results {
        let q = |h: &Histogram<u64>, p: f64| h.value_at_quantile(p);
        println!(
            "{:<6} {:>4.0}/s for {:>3.0} s: {} actions, {} delivered events, {} applied",
            phase.name, phase.rate, phase.secs, f.actions, f.events, f.applied
        );
        println!(
            "       end-to-end p50 {} ms, p99 {} ms, max {} ms; caught up {} after the store stopped",
            q(&f.e2e, 0.5),
            q(&f.e2e, 0.99),
            f.e2e.max(),
            f.caught_up_after.map_or_else(
                || format!("NOT within {} s", CATCH_UP_LIMIT.as_secs()),
                |d| format!("{:.1} s", d.as_secs_f64())
            )
        );
        println!(
            "       ack p50 {} ms, p99 {} ms, max {} ms",
            q(&f.ack, 0.5),
            q(&f.ack, 0.99),
            f.ack.max()
        );
        println!(
            "       {} API requests: {:.3} per store action, {:.3} per event; 429s {} ({:.2}%); listener CPU {:.1}%",
            f.requests,
            f.requests as f64 / f.actions.max(1) as f64,
            f.requests as f64 / f.events.max(1) as f64,
            f.status_429,
            100.0 * f.status_429 as f64 / f.requests.max(1) as f64,
            100.0 * f.cpu
        );
        let mut routes: Vec<_> = f.routes.iter().collect();
        routes.sort_by(|a, b| b.1.cmp(a.1));
        let shown: Vec<String> = routes
            .iter()
            .take(8)
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        println!("       requests by route: {}", shown.join(", "));
    }
    println!("listener peak RSS {:.1} MiB", peak_rss as f64 / 1024.0);
}

/// Delivered events of a phase: hash → the journal sequence of the change it carries.
fn delivered_events(
    sb: &RunningSandbox,
    first_attempt: u64,
    first_event: u64,
    last_event: u64,
) -> HashMap<String, u64> {
    sb.state
        .delivery
        .attempts(first_attempt, None, usize::MAX)
        .into_iter()
        .filter(|a| {
            a.outcome == "delivered" && a.event_seq > first_event && a.event_seq <= last_event
        })
        .map(|a| (a.hash, a.event_seq))
        .collect()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        println!(
            "bcsync listen: Standard quota (150 requests per 30 s window, real time), gap poll every {POLL_INTERVAL}, --coalesce-max {}, faults: {}",
            coalesce_max(),
            std::env::var("BENCH_FAULTS").unwrap_or_else(|_| "none".into())
        );
        run_destination(Dest::Sqlite {
            dir: tempfile::tempdir().unwrap(),
        })
        .await;
        if let Ok(url) = std::env::var("BCSYNC_BENCH_POSTGRES_URL") {
            let sep = if url.contains('?') { '&' } else { '?' };
            run_destination(Dest::Postgres {
                url: format!("{url}{sep}schema=bench_listen"),
            })
            .await;
        }
    });
}
