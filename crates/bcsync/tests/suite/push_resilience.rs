//! `bcsync push` under failure: lost answers, a real `kill -9` mid-run, and injected
//! faults (5xx, resets, truncated bodies, 429 bursts) leave no duplicates and an end state
//! equal to the source; `clear` unsets exactly the mapped fields.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::push_support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{clear_faults, set_faults};
use push_support::*;
use serde_json::{Value, json};

fn customers_csv(n: usize, tag: &str) -> String {
    let mut s = String::from("mail,given,family\n");
    for i in 0..n {
        s.push_str(&format!("c{i}@example.com,Given{i},Family{i}{tag}\n"));
    }
    s
}

const CUSTOMERS: &str =
    "[sync.mapping]\nmail = \"email\"\ngiven = \"first_name\"\nfamily = \"last_name\"\n";

/// email → last_name, failing on any duplicate email.
async fn customers_by_email(sb: &bc_sandbox::RunningSandbox) -> Vec<(String, String)> {
    let all = common::list_all(sb, "v3", "/customers", "").await;
    let emails: BTreeSet<&str> = all.iter().map(|c| c["email"].as_str().unwrap()).collect();
    assert_eq!(emails.len(), all.len(), "duplicate customers in the store");
    let mut v: Vec<(String, String)> = all
        .iter()
        .map(|c| {
            (
                c["email"].as_str().unwrap().to_owned(),
                c["last_name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

fn expected(n: usize, tag: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = (0..n)
        .map(|i| (format!("c{i}@example.com"), format!("Family{i}{tag}")))
        .collect();
    v.sort();
    v
}

on_both! {
#[tokio::test]
async fn lost_answers_are_looked_up_not_created_twice(backend: Backend) {
    let Some((sb, h)) = Harness::start(backend).await else {
        return;
    };
    h.write("c.csv", &customers_csv(30, ""));
    let sync = h.sync(
        "lost",
        "customers",
        "insert",
        "email",
        "c.csv",
        CUSTOMERS,
        "",
    );
    // Every create is processed but its answer is cut short: the outcome is unknown.
    set_faults(&sb, "truncate@1..,method=POST").await;
    let out = h.push(&sync, Flags::default()).await;
    clear_faults(&sb).await;
    assert!(out.run.rejected.is_empty(), "{:?}", out.run.rejected);
    assert_eq!(out.run.counts["created"], 30);
    assert_eq!(customers_by_email(&sb).await, expected(30, ""));
    // The POSTs were sent once each (3 batches); the lookups found them.
    let posts = sb
        .state
        .log
        .entries()
        .iter()
        .filter(|e| e.method == "POST")
        .count();
    assert_eq!(posts, 3);
    let w0 = writes(&sb);
    h.push(&sync, Flags::default()).await;
    assert_eq!(
        writes(&sb),
        w0,
        "tracked as applied: the rerun writes nothing"
    );
}
}

on_both! {
#[tokio::test]
async fn attempting_rows_are_looked_up_after_a_crash(backend: Backend) {
    // The state a crash leaves: intents recorded, creates landed, outcomes never recorded.
    let Some((sb, h)) = Harness::start(backend).await else {
        return;
    };
    h.write("c.csv", &customers_csv(12, ""));
    let sync = h.sync(
        "crash",
        "customers",
        "insert",
        "email",
        "c.csv",
        CUSTOMERS,
        "",
    );
    let landed: Vec<Value> = (0..5).map(|i| json!({"email": format!("c{i}@example.com"), "first_name": format!("Given{i}"), "last_name": format!("Family{i}")})).collect();
    assert_eq!(
        common::api(
            &sb,
            reqwest::Method::POST,
            "/v3/customers",
            Some(Value::Array(landed))
        )
        .await
        .0,
        200
    );
    {
        use bcsync::state::push::{TrackStatus, Tracked};
        let mut store = h.open_store();
        let intents: Vec<Tracked> = (0..8)
            .map(|i| Tracked {
                key: format!("c{i}@example.com"),
                hash: Some("x".into()),
                bc_id: None,
                status: TrackStatus::Attempting,
                fields: None,
            })
            .collect();
        store.put("crash", &intents).unwrap();
    }
    let out = h.push(&sync, Flags::default()).await;
    assert!(out.run.rejected.is_empty(), "{:?}", out.run.rejected);
    assert_eq!(
        out.run.counts["recovered"], 5,
        "{:?}",
        out.run.counts
    );
    assert_eq!(customers_by_email(&sb).await, expected(12, ""));
}
}

on_both! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_run_then_rerun_leaves_no_duplicates(backend: Backend) {
    let Some((sb, h)) = Harness::start(backend).await else {
        return;
    };
    h.write("c.csv", &customers_csv(120, ""));
    let mut products = String::from("sku,title,kind,weight,price\n");
    for i in 0..40 {
        products.push_str(&format!("K-{i},Kill {i},physical,1,{i}\n"));
    }
    h.write("p.csv", &products);
    let (c_source, p_source) = (h.source_toml("c.csv"), h.source_toml("p.csv"));
    h.load_sources().await;
    h.write(
        "syncs.toml",
        &format!(
            "[[sync]]\nname = \"c\"\nobject = \"customers\"\nmode = \"upsert\"\nmatch_key = \"email\"\nconcurrency = 1\nsource = {c_source}\n{CUSTOMERS}\n\
             [[sync]]\nname = \"p\"\nobject = \"products\"\nmode = \"upsert\"\nmatch_key = \"sku\"\nconcurrency = 1\nsource = {p_source}\n\
             [sync.mapping]\nsku = \"sku\"\ntitle = \"name\"\nkind = \"type\"\nweight = \"weight\"\nprice = \"price\"\n"
        ),
    );
    // Slow writes so the kill lands while requests are in flight.
    set_faults(&sb, "slow=1:60,method=POST").await;
    let state = h.state_spec();
    let push = |dir: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_bcsync"))
            .current_dir(dir)
            .env("BIGCOMMERCE_STORE_HASH", sb.store_hash())
            .env("BIGCOMMERCE_ACCESS_TOKEN", sb.token())
            .env("BIGCOMMERCE_BASE_URL", sb.base_url())
            .args(["push", "--syncs", "syncs.toml", "--state", &state])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut child = push(h.dir.path());
    let t0 = Instant::now();
    // Kill once a few customer batches have landed (several create rounds are still to come).
    loop {
        let posts = sb
            .state
            .log
            .entries()
            .iter()
            .filter(|e| e.method == "POST" && e.status == 200)
            .count();
        if posts >= 4 || t0.elapsed() > Duration::from_secs(20) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let at_kill = common::list_all(&sb, "v3", "/customers", "").await.len();
    assert!(
        at_kill < 120,
        "the kill came too late to test anything ({at_kill} created)"
    );
    // Let a request that was in flight at the kill finish on the server.
    tokio::time::sleep(Duration::from_millis(200)).await;
    clear_faults(&sb).await;
    let status = push(h.dir.path()).wait().unwrap();
    assert!(status.success());
    assert_eq!(customers_by_email(&sb).await, expected(120, ""));
    let products = common::list_all(&sb, "v3", "/catalog/products", "").await;
    let skus: BTreeSet<&str> = products
        .iter()
        .map(|p| p["sku"].as_str().unwrap())
        .collect();
    assert_eq!((products.len(), skus.len()), (40, 40));
    let store = h.open_store();
    for sync in ["c", "p"] {
        let records = store.load(sync).unwrap();
        assert_eq!(records.len(), if sync == "c" { 120 } else { 40 });
        assert!(
            records
                .values()
                .all(|r| r.status == bcsync::state::push::TrackStatus::Applied),
            "every row of {sync} ends applied"
        );
    }
}
}

on_both! {
#[tokio::test]
async fn faults_change_nothing_in_the_end_state(backend: Backend) {
    let Some((sb, h)) = Harness::start(backend).await else {
        return;
    };
    set_faults(
        &sb,
        "seed=3,500=0.05,503=0.03,reset=0.02,truncate=0.01,burst429=6@40",
    )
    .await;
    h.write("c.csv", &customers_csv(80, ""));
    let sync = h.sync("f", "customers", "mirror", "email", "c.csv", CUSTOMERS, "");
    let out = h.push(&sync, Flags::default()).await;
    assert!(out.run.rejected.is_empty(), "{:?}", out.run.rejected);
    // What each run records of the rate limit and retries, summed over the three runs.
    let (mut throttled, mut retried) = (out.run.throttled, out.run.retried);
    h.write("c.csv", &customers_csv(75, "-v2"));
    let out = h.push(&sync, Flags::default()).await;
    assert!(out.run.rejected.is_empty(), "{:?}", out.run.rejected);
    throttled += out.run.throttled;
    retried += out.run.retried;
    assert_eq!(
        (out.run.counts["updated"], out.run.counts["deleted"]),
        (75, 5),
        "{:?}",
        out.run.counts
    );

    let mut products = String::from("sku,title,kind,weight,price\n");
    for i in 0..30 {
        products.push_str(&format!("F-{i},Faulty {i},physical,{},{}.25\n", i % 2, i));
    }
    h.write("p.csv", &products);
    let psync = h.sync(
        "fp",
        "products",
        "upsert",
        "sku",
        "p.csv",
        "[sync.mapping]\nsku = \"sku\"\ntitle = \"name\"\nkind = \"type\"\nweight = \"weight\"\nprice = \"price\"\n",
        "",
    );
    let out = h.push(&psync, Flags::default()).await;
    assert!(out.run.rejected.is_empty(), "{:?}", out.run.rejected);
    throttled += out.run.throttled;
    retried += out.run.retried;
    let answered_429 = sb
        .state
        .log
        .entries()
        .iter()
        .filter(|e| e.status == 429)
        .count() as u64;
    assert_eq!(throttled, answered_429, "every 429 the store sent is counted");
    assert!(retried > 0, "the faults were retried and counted");
    let faulted = sb
        .state
        .log
        .entries()
        .iter()
        .filter(|e| e.fault.is_some())
        .count();
    assert!(faulted >= 5, "the faults must actually fire ({faulted})");
    clear_faults(&sb).await;
    assert_eq!(customers_by_email(&sb).await, expected(75, "-v2"));
    let all = common::list_all(&sb, "v3", "/catalog/products", "").await;
    let mut got: Vec<(String, f64)> = all
        .iter()
        .map(|p| {
            (
                p["sku"].as_str().unwrap().to_owned(),
                p["price"].as_f64().unwrap(),
            )
        })
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    let mut want: Vec<(String, f64)> = (0..30)
        .map(|i| (format!("F-{i}"), f64::from(i) + 0.25))
        .collect();
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got, want);
    let w0 = writes(&sb);
    h.push(&sync, Flags::default()).await;
    h.push(&psync, Flags::default()).await;
    assert_eq!(writes(&sb), w0, "unchanged reruns write nothing");
}
}

on_both! {
#[tokio::test]
async fn clear_unsets_exactly_the_mapped_fields(backend: Backend) {
    let Some((sb, h)) = Harness::start(backend).await else {
        return;
    };
    let mut text = String::from("mail,given,family,company,phone\n");
    for i in 0..10 {
        text.push_str(&format!("k{i}@example.com,G{i},F{i},Co{i},555-{i}\n"));
    }
    h.write("c.csv", &text);
    let mapping = format!("{CUSTOMERS}company = \"company\"\nphone = \"phone\"\n");
    let sync = h.sync(
        "clr",
        "customers",
        "upsert",
        "email",
        "c.csv",
        &mapping,
        "on_delete = \"clear\"\n",
    );
    h.push(&sync, Flags::default()).await;
    // A field outside the mapping, set by someone else, must survive the clear.
    let all = common::list_all(&sb, "v3", "/customers", "email:in=k0@example.com").await;
    let id = all[0]["id"].as_i64().unwrap();
    let (st, _) = common::api(
        &sb,
        reqwest::Method::PUT,
        "/v3/customers",
        Some(json!([{"id": id, "notes": "VIP"}])),
    )
    .await;
    assert_eq!(st, 200);
    // Row k0 leaves the source (10%).
    let rest: String = text
        .lines()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    h.write("c.csv", &rest);
    let out = h.push(&sync, Flags::default()).await;
    assert_eq!(out.run.counts["cleared"], 1, "{:?}", out.run.counts);
    let c = &common::list_all(&sb, "v3", "/customers", "email:in=k0@example.com").await[0];
    assert_eq!(
        (c["company"].as_str(), c["phone"].as_str()),
        (Some(""), Some(""))
    );
    assert_eq!(
        (
            c["first_name"].as_str(),
            c["last_name"].as_str(),
            c["notes"].as_str()
        ),
        (Some("G0"), Some("F0"), Some("VIP"))
    );
    let k1 = &common::list_all(&sb, "v3", "/customers", "email:in=k1@example.com").await[0];
    assert_eq!(k1["company"].as_str(), Some("Co1"));
}
}
