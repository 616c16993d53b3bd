//! `bcsync push` with several syncs (issue 12, item 2): a customers sync and a products sync
//! run side by side on one client, an orders sync waits for every sync defined before it,
//! `--sequential` keeps one sync at a time, summaries come in definition order (human and
//! `--json`), a sync that cannot run leaves the others to finish, and an interrupt stops
//! every running sync.
//!
//! Overlap is read from the sandbox's request log, which is in completion order: when the
//! syncs run one after the other, every customers request completes before the first
//! products request is even sent, so a products request completing between two customers
//! writes proves both syncs were writing at once. No wall-clock duration is asserted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::push_support;

use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use bc_sandbox::RunningSandbox;
use bcsync::state::push::{RunRecord, take_run_lock};
use push_support::*;
use serde_json::Value;

const PRODUCTS_MAPPING: &str = "[sync.mapping]\nsku = \"sku\"\nname = \"name\"\ntype = \"type\"\nweight = \"weight\"\nprice = \"price\"\n";

const ORDERS_MAPPING: &str = "[sync.mapping]\nref = \"external_order_id\"\nstatus = \"status_id\"\nfirst = \"billing_address.first_name\"\nlast = \"billing_address.last_name\"\nstreet = \"billing_address.street_1\"\ncity = \"billing_address.city\"\nzip = \"billing_address.zip\"\ncountry = \"billing_address.country_iso2\"\nemail = \"billing_address.email\"\nitem = \"products.0.name\"\nqty = \"products.0.quantity\"\ninc = \"products.0.price_inc_tax\"\nex = \"products.0.price_ex_tax\"\n";

/// Sources of `customers` customers, `products` products and one order.
fn write_sources(h: &Harness, customers: usize, products: usize) {
    let mut c = String::from("mail,given,family\n");
    for i in 0..customers {
        c.push_str(&format!("c{i}@example.com,Given{i},Family{i}\n"));
    }
    h.write("c.csv", &c);
    let mut p = String::from("sku,name,type,weight,price\n");
    for i in 0..products {
        p.push_str(&format!("SKU-{i},Product {i},physical,1,{i}.50\n"));
    }
    h.write("p.csv", &p);
    h.write(
        "o.csv",
        "ref,status,first,last,street,city,zip,country,email,item,qty,inc,ex\n\
         SO-1,11,Ann,Lee,1 Main St,Austin,78701,US,ann@x.io,Widget,2,10.00,9.00\n",
    );
}

/// `syncs.toml`: customers `crm`, products `catalog` (each one request in flight at a
/// time, so their writes spread over many slow answers), then orders `erp`.
fn write_syncs(h: &Harness, extra: &str) {
    h.write(
        "syncs.toml",
        &format!(
            "[[sync]]\nname = \"crm\"\nobject = \"customers\"\nmode = \"upsert\"\nmatch_key = \"email\"\n{extra}source = {}\n{CRM_MAPPING}\n\
             [[sync]]\nname = \"catalog\"\nobject = \"products\"\nmode = \"upsert\"\nmatch_key = \"sku\"\n{extra}source = {}\n{PRODUCTS_MAPPING}\n\
             [[sync]]\nname = \"erp\"\nobject = \"orders\"\nmode = \"upsert\"\nmatch_key = \"external_order_id\"\nsource = {}\n{ORDERS_MAPPING}",
            h.source_toml("c.csv"),
            h.source_toml("p.csv"),
            h.source_toml("o.csv"),
        ),
    );
}

fn push(sb: &RunningSandbox, h: &Harness, flags: &[&str]) -> std::process::Command {
    let state = h.state_spec();
    let mut args = vec!["push", "--syncs", "syncs.toml", "--state", &state];
    args.extend_from_slice(flags);
    let mut cmd = common::bcsync_in(sb, h.dir.path(), &args);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

/// The object a store request is about, from its path.
fn object_of(path: &str) -> Option<&'static str> {
    if path.contains("/v3/customers") {
        Some("customers")
    } else if path.contains("/v3/catalog/products") {
        Some("products")
    } else if path.contains("/v2/orders") {
        Some("orders")
    } else {
        None
    }
}

/// Positions in the sandbox's log (completion order) of the requests about `object`
/// (writes only with `writes`).
fn positions(sb: &RunningSandbox, object: &str, writes: bool) -> Vec<usize> {
    sb.state
        .log
        .entries()
        .iter()
        .filter(|e| !e.path.contains("/_sandbox"))
        .enumerate()
        .filter(|(_, e)| object_of(&e.path) == Some(object) && (!writes || e.method != "GET"))
        .map(|(i, _)| i)
        .collect()
}

/// The latest run of each sync, by name.
fn last_runs(h: &Harness) -> std::collections::HashMap<String, RunRecord> {
    let mut by_sync = std::collections::HashMap::new();
    // Newest first: the first seen of a sync is its latest.
    for r in h.open_store().runs(100).unwrap() {
        by_sync.entry(r.sync.clone()).or_insert(r);
    }
    by_sync
}

/// The syncs named by the summary lines of stdout, in order.
fn summary_order(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("sync "))
        .map(|l| l.split_whitespace().next().unwrap_or("").to_owned())
        .collect()
}

on_both! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_and_products_run_side_by_side_and_orders_wait(backend: Backend) {
    let Some((sb, h)) = Harness::start(backend).await else {
        return;
    };
    // One request in flight per sync, every answer held 200 ms: 60 customers are their
    // lookups then 6 writes in turn, 4 products a lookup then 4 writes in turn. Each sync
    // writes over several answers, and the products sync usually ends first.
    write_sources(&h, 60, 4);
    write_syncs(&h, "concurrency = 1\n");
    h.load_sources().await;
    common::set_faults(&sb, "slow=1:200").await;

    let out = push(&sb, &h, &[]).output().unwrap();
    assert!(out.status.success(), "{}", common::output_text(&out));
    // Definition order, whichever ended first.
    let text = common::output_text(&out);
    assert_eq!(summary_order(&out), ["crm", "catalog", "erp"], "{text}");

    // Both objects were written during the same interval: a products write completed
    // between two customers writes, and the other way round.
    let (c, p) = (positions(&sb, "customers", true), positions(&sb, "products", true));
    assert_eq!((c.len(), p.len()), (6, 4), "a create per 10 customers, one per product");
    assert!(
        p[0] < c[c.len() - 1] && c[0] < p[p.len() - 1],
        "customers writes at {c:?}, products writes at {p:?}"
    );
    // The orders sync sent nothing before every customers and products request was answered.
    let mut before = positions(&sb, "customers", false);
    before.extend(positions(&sb, "products", false));
    let before = before.into_iter().max().unwrap();
    let o = positions(&sb, "orders", false);
    assert!(
        !o.is_empty() && o[0] > before,
        "orders requests at {o:?}, last customers or products request at {before}"
    );
    // The run records say the same, from their own clock: customers and products ran at
    // once, orders started after both had finished.
    let runs = last_runs(&h);
    let (crm, catalog, erp) = (&runs["crm"], &runs["catalog"], &runs["erp"]);
    assert!(
        crm.started_at < catalog.finished_at && catalog.started_at < crm.finished_at,
        "{crm:?}\n{catalog:?}"
    );
    assert!(
        erp.started_at >= crm.finished_at && erp.started_at >= catalog.finished_at,
        "{erp:?}"
    );
    assert_eq!(common::list_all(&sb, "v3", "/customers", "").await.len(), 60);
    assert_eq!(common::list_all(&sb, "v3", "/catalog/products", "").await.len(), 4);
    assert_eq!(common::list_all(&sb, "v2", "/orders", "").await.len(), 1);

    // An unchanged rerun, as JSON: one entry per sync, in definition order, nothing written.
    common::clear_faults(&sb).await;
    let w0 = writes(&sb);
    let out = push(&sb, &h, &["--json"]).output().unwrap();
    assert!(out.status.success(), "{}", common::output_text(&out));
    let json: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", common::output_text(&out)));
    let names: Vec<&str> =
        json.as_array().unwrap().iter().map(|s| s["sync"].as_str().unwrap()).collect();
    assert_eq!(names, ["crm", "catalog", "erp"]);
    assert_eq!(writes(&sb), w0);
}
}

on_both! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_runs_one_sync_at_a_time(backend: Backend) {
    let Some((sb, h)) = Harness::start(backend).await else {
        return;
    };
    write_sources(&h, 60, 4);
    write_syncs(&h, "concurrency = 1\n");
    h.load_sources().await;
    common::set_faults(&sb, "slow=1:200").await;

    let out = push(&sb, &h, &["--sequential"]).output().unwrap();
    assert!(out.status.success(), "{}", common::output_text(&out));
    let text = common::output_text(&out);
    assert_eq!(summary_order(&out), ["crm", "catalog", "erp"], "{text}");
    // Every customers request was answered before the products sync sent its first.
    let (c, p) = (positions(&sb, "customers", false), positions(&sb, "products", false));
    assert!(c[c.len() - 1] < p[0], "customers requests at {c:?}, products requests at {p:?}");
    let runs = last_runs(&h);
    assert!(runs["catalog"].started_at >= runs["crm"].finished_at, "{runs:?}");
    assert!(runs["erp"].started_at >= runs["catalog"].finished_at, "{runs:?}");
}
}

on_both! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_that_cannot_run_leaves_the_others_to_finish(backend: Backend) {
    let Some((sb, h)) = Harness::start(backend).await else {
        return;
    };
    write_sources(&h, 12, 3);
    write_syncs(&h, "");
    h.load_sources().await;
    // Another push holds the customers sync's run lock for the whole run.
    let mut holder = h.open_store();
    take_run_lock(holder.as_mut(), "crm").await.unwrap();

    let out = push(&sb, &h, &[]).output().unwrap();
    let text = common::output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("\"crm\"") && stderr.contains("already running"), "{text}");
    // The products sync ran to its end and is reported; the orders sync, which waits for
    // the customers sync, never started.
    assert_eq!(summary_order(&out), ["catalog"], "{text}");
    assert!(stderr.contains("sync erp: not started"), "{text}");
    assert_eq!(common::list_all(&sb, "v3", "/catalog/products", "").await.len(), 3);
    assert!(positions(&sb, "customers", false).is_empty(), "{text}");
    assert!(positions(&sb, "orders", false).is_empty(), "{text}");

    // Once the lock is free, the rerun does the rest and nothing twice.
    drop(holder);
    let out = push(&sb, &h, &[]).output().unwrap();
    assert!(out.status.success(), "{}", common::output_text(&out));
    assert_eq!(common::list_all(&sb, "v3", "/customers", "").await.len(), 12);
    assert_eq!(common::list_all(&sb, "v3", "/catalog/products", "").await.len(), 3);
    assert_eq!(common::list_all(&sb, "v2", "/orders", "").await.len(), 1);
}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_every_running_sync_and_a_rerun_finishes_without_duplicates() {
    let sb = common::sandbox(bc_sandbox::SeedSpec::empty()).await;
    let h = Harness::new(&sb);
    // More rows than one interrupt slice (100 rows per slot of concurrency, one slot here)
    // in each sync, so a signal after both have written lands while both still have rows
    // to send: the products sync's first slice alone is 100 answers of 30 ms.
    write_sources(&h, 1000, 120);
    write_syncs(&h, "concurrency = 1\n");
    common::set_faults(&sb, "slow=1:30").await;
    let child = push(&sb, &h, &[]).spawn().unwrap();
    let t0 = Instant::now();
    while positions(&sb, "customers", true).is_empty()
        || positions(&sb, "products", true).is_empty()
    {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "no write from both syncs in 60 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    common::sigterm(child.id());
    let out = child.wait_with_output().unwrap();
    let text = common::output_text(&out);
    assert_eq!(out.status.code(), Some(143), "{text}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("interrupted; rerun to resume"), "{text}");
    // Each running sync stopped and recorded what it had done, in definition order.
    let summaries: Vec<&str> = stderr.lines().filter(|l| l.starts_with("sync ")).collect();
    assert_eq!(summaries.len(), 2, "{text}");
    assert!(
        summaries[0].starts_with("sync crm (customers upsert): run ")
            && summaries[0].contains(" interrupted — "),
        "{text}"
    );
    assert!(
        summaries[1].starts_with("sync catalog (products upsert): run ")
            && summaries[1].contains(" interrupted — "),
        "{text}"
    );
    // The orders sync waits for both: it never started.
    assert!(positions(&sb, "orders", false).is_empty(), "{text}");
    let customers = common::list_all(&sb, "v3", "/customers", "").await.len();
    let products = common::list_all(&sb, "v3", "/catalog/products", "")
        .await
        .len();
    assert!(
        summaries[0].contains(&format!("created={customers}")),
        "{text}\nbut {customers} customers landed"
    );
    assert!(
        summaries[1].contains(&format!("created={products}")),
        "{text}\nbut {products} products landed"
    );
    assert!(
        customers < 1000 && products < 120,
        "the push had finished before the signal: slow the sandbox down more"
    );

    common::clear_faults(&sb).await;
    let out = push(&sb, &h, &[]).output().unwrap();
    assert!(out.status.success(), "{}", common::output_text(&out));
    assert_eq!(
        common::list_all(&sb, "v3", "/customers", "").await.len(),
        1000,
        "every row once, none twice"
    );
    assert_eq!(
        common::list_all(&sb, "v3", "/catalog/products", "")
            .await
            .len(),
        120
    );
    assert_eq!(common::list_all(&sb, "v2", "/orders", "").await.len(), 1);
}
