//! Load benchmark: the database side of an extraction. 100k orders with 3 lines each (the
//! JSON of a real sandbox orders page, `include=consignments.line_items`, replicated with
//! fresh ids) fed page by page (250 orders, their lines and shipping addresses, and a
//! bookmark) through the `Destination` trait, timed around `write` only. Reports rows per
//! second for:
//! - PostgreSQL, first load (empty tables: COPY straight into them);
//! - PostgreSQL, the same pages again over the loaded tables (staging + upsert: what
//!   `--full-refresh` and incremental runs do);
//! - SQLite (the embedded default);
//! - plain `COPY ... FROM STDIN` of the same rows from files (dumped from the first load with
//!   `COPY ... TO`), one transaction per table into identical empty tables with the same keys
//!   and indexes: the database's own limit. Measured twice (before and after the upsert
//!   pass) and the faster taken, so machine noise can only lower our ratio;
//! - PostgreSQL first load over TLS (`sslmode=require`), to show what encryption costs.
//!
//! The plain COPY and the bcsync loads above it use plain TCP (`sslmode=disable` is added
//! when the URL names no sslmode): the same transport on both sides of the ratio.
//!
//! `BCSYNC_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench -p bcsync --bench load`
//! (`BENCH_ORDERS=10000` for a quick run; without the URL only SQLite runs).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: failing loudly is right

use std::time::{Duration, Instant};

use bc_sandbox::{SandboxConfig, SeedSpec};
use bcsync::destinations::{Destination, PageBatch};
use bcsync::state::StreamState;
use bcsync::streams::StreamDescriptor;
use serde_json::Value;

const PAGE: usize = 250;

/// One real orders page from an in-process sandbox.
fn template_page() -> Vec<Value> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let seed = SeedSpec { seed: 11, orders: 2 * PAGE, lines_per_order: 3, customers: 50, products: 40, ..SeedSpec::empty() };
        let sb = bc_sandbox::start(SandboxConfig { seed, ..SandboxConfig::default() }, "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let url = format!("{}/v2/orders?include=consignments.line_items&consignment_structure=object&limit={PAGE}", sb.store_url());
        let resp = reqwest::Client::new().get(url).header("X-Auth-Token", sb.token()).send().await.unwrap();
        let page: Vec<Value> = resp.json().await.unwrap();
        assert_eq!(page.len(), PAGE, "a full page of orders");
        page
    })
}

/// The orders of page `n` of the synthetic load: the template with fresh, unique ids.
fn page_records(template: &[Value], n: usize) -> Vec<Value> {
    let mut records = Vec::with_capacity(template.len());
    for (j, t) in template.iter().enumerate() {
        let id = (n * PAGE + j + 1) as i64;
        let mut o = t.clone();
        o["id"] = id.into();
        fn renumber(v: &mut Value, order_id: i64, next: &mut i64) {
            match v {
                Value::Object(map) => {
                    if let Some(Value::Array(items)) = map.get_mut("line_items") {
                        for item in items {
                            *next += 1;
                            item["id"] = (order_id * 10 + *next).into();
                            item["order_id"] = order_id.into();
                        }
                    }
                    for (k, child) in map.iter_mut() {
                        if k != "line_items" {
                            renumber(child, order_id, next);
                        }
                    }
                }
                Value::Array(items) => items.iter_mut().for_each(|i| renumber(i, order_id, next)),
                _ => {}
            }
        }
        let mut next = 0;
        if let Some(c) = o.get_mut("consignments") {
            renumber(c, id, &mut next);
        }
        records.push(o);
    }
    records
}

/// Page `n` as the extractor hands it to the destination, with the bookmark: for a
/// destination that reads records from their text (SQLite), the page's JSON split into
/// each record's text as the client does (`DeferredPage::parse_text`), the fields and
/// child rows then read by the write; for the others, each record parsed and split into
/// rows by the extractor's own `PageBatch::new`. Returns the batch, the page's JSON size,
/// and the CPU seconds of parsing and mapping.
fn make_page(
    stream: &'static StreamDescriptor,
    template: &[Value],
    n: usize,
    text: bool,
) -> (PageBatch, usize, f64, f64) {
    let body = serde_json::to_vec(&page_records(template, n)).unwrap();
    let last = (n * PAGE + template.len()) as i64;
    let state = StreamState {
        bookmark: Some(chrono::Utc::now()),
        ids_at_bookmark: vec![last],
        ..StreamState::default()
    };
    let t0 = thread_cpu();
    let json = std::str::from_utf8(&body).unwrap();
    let split: Vec<&serde_json::value::RawValue> = serde_json::from_str(json).unwrap();
    if text {
        let raw = split
            .into_iter()
            .map(serde_json::value::RawValue::to_owned)
            .collect();
        let t1 = thread_cpu();
        return (
            PageBatch::unparsed(stream, raw, Some(state)),
            body.len(),
            t1 - t0,
            0.0,
        );
    }
    let records: Vec<Value> = split
        .iter()
        .map(|r| serde_json::from_str(r.get()).unwrap())
        .collect();
    let t1 = thread_cpu();
    let batch = PageBatch::new(stream, records, Vec::new(), Some(state));
    let t2 = thread_cpu();
    (batch, body.len(), t1 - t0, t2 - t1)
}

/// CPU seconds this thread has run (`/proc/thread-self/schedstat`, nanoseconds; Linux).
fn thread_cpu() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns / 1e9)
}

struct Load {
    rows: u64,
    bytes: u64,
    write: Duration,
    /// CPU seconds of every `postgres` process (backend, WAL writer, checkpointer) during the writes.
    pg_cpu: f64,
    /// CPU seconds of this process (renderer and connection thread) during the writes.
    own_cpu: f64,
    /// CPU seconds parsing the pages' JSON (what the client does per response).
    parse_cpu: f64,
    /// CPU seconds turning parsed pages into batches (the extractor's `to_batch`).
    map_cpu: f64,
    orders: u64,
}

impl Load {
    fn new() -> Self {
        Self {
            rows: 0,
            bytes: 0,
            write: Duration::ZERO,
            pg_cpu: 0.0,
            own_cpu: 0.0,
            parse_cpu: 0.0,
            map_cpu: 0.0,
            orders: 0,
        }
    }
}

/// utime + stime of a `/proc/PID/stat` line, in seconds (Linux; 0 elsewhere).
fn stat_cpu(stat: &str) -> f64 {
    // Fields after the parenthesised command: state is field 3, utime 14, stime 15.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU seconds of each running `postgres` process, by pid.
fn pg_cpu() -> std::collections::HashMap<u32, f64> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Default::default();
    };
    dir.flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_str()?.parse::<u32>().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            stat.contains("(postgres)").then(|| (pid, stat_cpu(&stat)))
        })
        .collect()
}

/// CPU the `postgres` processes spent since `before`: per process, so one that exits in
/// between (a finished backend, an autovacuum worker) drops out instead of subtracting
/// its whole lifetime; one that started counts from zero.
fn pg_cpu_since(before: &std::collections::HashMap<u32, f64>) -> f64 {
    pg_cpu()
        .into_iter()
        .map(|(pid, now)| now - before.get(&pid).copied().unwrap_or(0.0))
        .sum()
}

fn own_cpu() -> f64 {
    std::fs::read_to_string("/proc/self/stat").map_or(0.0, |s| stat_cpu(&s))
}

/// Feeds every page to `dest`, timing `write` (and `finish`) only.
fn load(
    dest: &mut dyn Destination,
    stream: &'static StreamDescriptor,
    template: &[Value],
    pages: usize,
) -> Load {
    dest.begin(&[stream]).unwrap();
    let mut out = Load::new();
    for n in 0..pages {
        let (batch, body_len, parse, map) = make_page(stream, template, n, dest.reads_text());
        out.parse_cpu += parse;
        out.map_cpu += map;
        out.orders += batch.record_count();
        out.rows += batch.record_count();
        out.bytes += body_len as u64;
        let (pg0, own0) = (pg_cpu(), own_cpu());
        let t0 = Instant::now();
        out.rows += dest.write(batch).unwrap();
        out.write += t0.elapsed();
        out.pg_cpu += pg_cpu_since(&pg0);
        out.own_cpu += own_cpu() - own0;
    }
    let t0 = Instant::now();
    dest.finish().unwrap();
    out.write += t0.elapsed();
    out
}

fn report(name: &str, l: &Load, baseline: Option<f64>) -> f64 {
    let rate = l.rows as f64 / l.write.as_secs_f64();
    let vs = baseline
        .map(|b| format!("  {:.2}x plain COPY", rate / b))
        .unwrap_or_default();
    println!(
        "{name:<48} {:>7} rows {:>7.2} s {:>7.0} rows/s  cpu: postgres {:>5.1} s, bcsync {:>5.1} s{vs}",
        l.rows,
        l.write.as_secs_f64(),
        rate,
        l.pg_cpu,
        l.own_cpu
    );
    if l.orders > 0 {
        let us = |s: f64| s * 1e6 / l.orders as f64;
        println!(
            "{:<48} CPU per order: parse {:.0} µs, mapping {:.0} µs, write {:.0} µs (bcsync side)",
            "",
            us(l.parse_cpu),
            us(l.map_cpu),
            us(l.own_cpu)
        );
    }
    rate
}

const TABLES: [&str; 3] = ["orders", "order_lines", "order_shipping_addresses"];

fn main() {
    let orders: usize = std::env::var("BENCH_ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let pages = orders.div_ceil(PAGE);
    let stream = bcsync::streams::find("orders").unwrap();
    let template = template_page();
    let (sample, _, _, _) = make_page(stream, &template, 0, false);
    let lines: usize = sample
        .children
        .iter()
        .filter(|c| c.table.name == "order_lines")
        .map(|c| c.rows.len())
        .sum();
    println!(
        "load benchmark: {} orders ({} pages of {PAGE}, {} lines per order, {:.1} KB of JSON per order)",
        pages * PAGE,
        pages,
        lines / PAGE,
        sample
            .records
            .iter()
            .map(|r| r.to_string().len())
            .sum::<usize>() as f64
            / PAGE as f64
            / 1024.0
    );
    drop(sample);

    let dir = tempfile::tempdir().unwrap();
    let sqlite_path = dir.path().join("load.db");
    let mut sqlite =
        bcsync::destinations::open(&format!("sqlite:{}", sqlite_path.display()), None).unwrap();
    let sqlite_load = load(sqlite.as_mut(), stream, &template, pages);
    drop(sqlite);

    let Some(url) = std::env::var("BCSYNC_BENCH_POSTGRES_URL")
        .ok()
        .or_else(|| std::env::var("BCSYNC_TEST_POSTGRES_URL").ok())
    else {
        report("SQLite (WAL, synchronous=NORMAL)", &sqlite_load, None);
        println!("set BCSYNC_BENCH_POSTGRES_URL to measure PostgreSQL");
        return;
    };
    let pid = std::process::id();
    let (schema, plain) = (
        format!("bcsync_bench_{pid}"),
        format!("bcsync_bench_plain_{pid}"),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let pg = rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(async move {
            let _ = conn.await;
        });
        client
    });
    // The connection task only runs inside block_on: keep every use inside one.
    let sep = if url.contains('?') { '&' } else { '?' };
    let plain_tcp = if url.contains("sslmode=") {
        url.clone()
    } else {
        format!("{url}{sep}sslmode=disable")
    };
    let to = format!("{plain_tcp}&schema={schema}");
    let tls_schema = format!("bcsync_bench_tls_{pid}");
    let plain2 = format!("bcsync_bench_plain2_{pid}");
    rt.block_on(pg.batch_execute(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; DROP SCHEMA IF EXISTS {plain} CASCADE;
         DROP SCHEMA IF EXISTS {plain2} CASCADE; DROP SCHEMA IF EXISTS {tls_schema} CASCADE"
    )))
    .unwrap();

    let mut dest = bcsync::destinations::open(&to, None).unwrap();
    let first = load(dest.as_mut(), stream, &template, pages);
    drop(dest);

    // The same rows as files, then plain COPY into identical empty tables.
    let mut files = Vec::new();
    rt.block_on(async {
        use futures::StreamExt;
        for t in TABLES {
            let path = dir.path().join(format!("{t}.copy"));
            let mut bytes = Vec::new();
            let out = pg
                .copy_out(&format!("COPY {schema}.{t} TO STDOUT"))
                .await
                .unwrap();
            futures::pin_mut!(out);
            while let Some(chunk) = out.next().await {
                bytes.extend_from_slice(&chunk.unwrap());
            }
            std::fs::write(&path, &bytes).unwrap();
            files.push((t, path));
        }
    });
    let plain_copy = |target: &str| -> Load {
        let mut l = Load::new();
        rt.block_on(async {
            use futures::SinkExt;
            pg.batch_execute(&format!("CREATE SCHEMA {target}"))
                .await
                .unwrap();
            for t in TABLES {
                pg.batch_execute(&format!(
                    "CREATE TABLE {target}.{t} (LIKE {schema}.{t} INCLUDING ALL)"
                ))
                .await
                .unwrap();
            }
            for (t, path) in &files {
                let (pg0, own0) = (pg_cpu(), own_cpu());
                let t0 = Instant::now();
                let data = std::fs::read(path).unwrap();
                l.bytes += data.len() as u64;
                pg.batch_execute("BEGIN").await.unwrap();
                let sink = pg
                    .copy_in::<_, std::io::Cursor<Vec<u8>>>(&format!(
                        "COPY {target}.{t} FROM STDIN"
                    ))
                    .await
                    .unwrap();
                futures::pin_mut!(sink);
                for chunk in data.chunks(1 << 20) {
                    sink.send(std::io::Cursor::new(chunk.to_vec()))
                        .await
                        .unwrap();
                }
                l.rows += sink.finish().await.unwrap();
                pg.batch_execute("COMMIT").await.unwrap();
                l.write += t0.elapsed();
                l.pg_cpu += pg_cpu_since(&pg0);
                l.own_cpu += own_cpu() - own0;
            }
        });
        l
    };
    let plain_first = plain_copy(&plain);
    let mut dest = bcsync::destinations::open(&to, None).unwrap();
    let again = load(dest.as_mut(), stream, &template, pages);
    drop(dest);
    let plain_second = plain_copy(&plain2);
    let plain_load = if plain_second.write < plain_first.write {
        plain_second
    } else {
        plain_first
    };
    let to_tls = format!("{url}{sep}sslmode=require&schema={tls_schema}");
    let mut dest = bcsync::destinations::open(&to_tls, None).unwrap();
    let tls = load(dest.as_mut(), stream, &template, pages);
    drop(dest);
    let counted: i64 = rt
        .block_on(pg.query_one(
            &format!("SELECT (SELECT COUNT(*) FROM {schema}.orders) + (SELECT COUNT(*) FROM {schema}.order_lines) + (SELECT COUNT(*) FROM {schema}.order_shipping_addresses)"),
            &[],
        ))
        .unwrap()
        .get(0);
    assert_eq!(counted as u64, first.rows, "every row landed once");
    assert_eq!(
        plain_load.rows, first.rows,
        "the plain COPY loads the same rows"
    );

    println!(
        "{:<44} {:>14} {:>10} {:>17}",
        "", "rows", "seconds", "rows/s"
    );
    let base = report(
        "PostgreSQL plain COPY from files (limit)",
        &plain_load,
        None,
    );
    report("PostgreSQL bcsync, first load (COPY)", &first, Some(base));
    report(
        "PostgreSQL bcsync, over loaded tables (upsert)",
        &again,
        Some(base),
    );
    report("PostgreSQL bcsync, first load over TLS", &tls, Some(base));
    report(
        "SQLite bcsync (WAL, synchronous=NORMAL)",
        &sqlite_load,
        Some(base),
    );
    println!(
        "orders JSON: {:.0} MB; COPY text files: {:.0} MB",
        first.bytes as f64 / 1e6,
        plain_load.bytes as f64 / 1e6
    );
    rt.block_on(pg.batch_execute(&format!(
        "DROP SCHEMA {schema} CASCADE; DROP SCHEMA {plain} CASCADE; DROP SCHEMA {plain2} CASCADE;
         DROP SCHEMA {tls_schema} CASCADE"
    )))
    .unwrap();
}
