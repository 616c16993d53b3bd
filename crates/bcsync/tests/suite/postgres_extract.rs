//! End-to-end extraction into a real PostgreSQL server against the sandbox, over real HTTP:
//! record-by-record equality, incremental same-second changes, resume after `kill -9`,
//! injected faults, two stores in one database, and the connection errors users hit.
//!
//! The server comes from `BCSYNC_TEST_POSTGRES_URL` (`.ci/run` sets it). Unset, each test
//! prints a skip note and passes, except under `CI=true`, where it fails: CI never skips.
//! Every test works in its own schema (random name) and drops it at the end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::process::{Command, Stdio};

use std::time::{Duration, Instant};

use bc_sandbox::{RunningSandbox, SandboxConfig};
use common::*;
use reqwest::Method;
use serde_json::{Value, json};

async fn pg_count(pg: &tokio_postgres::Client, schema: &str, table: &str) -> i64 {
    pg.query_one(
        &format!("SELECT COUNT(*) FROM \"{schema}\".\"{table}\""),
        &[],
    )
    .await
    .unwrap()
    .get(0)
}

/// `(key, raw JSON)` of every row, sorted by key.
async fn pg_raw_rows(
    pg: &tokio_postgres::Client,
    schema: &str,
    table: &str,
    key: &str,
) -> Vec<(i64, Value)> {
    pg.query(
        &format!("SELECT \"{key}\"::bigint, _raw FROM \"{schema}\".\"{table}\" ORDER BY 1"),
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get::<_, i64>(0), r.get::<_, Value>(1)))
    .collect()
}

/// Every row of a child table (parent key and raw JSON), sorted for comparison.
async fn pg_child_rows(
    pg: &tokio_postgres::Client,
    schema: &str,
    table: &str,
    parent: &str,
) -> Vec<String> {
    let mut rows: Vec<String> = pg
        .query(
            &format!(
                "SELECT \"{parent}\"::text || ' ' || _raw::text FROM \"{schema}\".\"{table}\""
            ),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect();
    rows.sort();
    rows
}

const ORDERS_QUERY: &str = "include=consignments.line_items&consignment_structure=object";

/// The parents every equality check compares: `(table, version, path, query, key)`.
const PARENTS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "customers",
        "v3",
        "/customers",
        "include=addresses,attributes,formfields,storecredit",
        "id",
    ),
    (
        "products",
        "v3",
        "/catalog/products",
        "include=variants,images,custom_fields,bulk_pricing_rules",
        "id",
    ),
    ("orders", "v2", "/orders", ORDERS_QUERY, "id"),
];

async fn assert_parents_match(sb: &RunningSandbox, pg: &tokio_postgres::Client, schema: &str) {
    for (table, v, p, q, key) in PARENTS {
        let truth = by_id(&list_all(sb, v, p, q).await, key);
        let got = pg_raw_rows(pg, schema, table, key).await;
        assert_eq!(got.len(), truth.len(), "{table}: row count");
        assert!(
            !truth.is_empty(),
            "{table}: the seeded store should have some"
        );
        for ((gk, gv), (tk, tv)) in got.iter().zip(&truth) {
            assert_eq!(gk, tk, "{table}: keys differ");
            assert_eq!(gv, tv, "{table} {gk}: row differs from the sandbox");
        }
    }
}

/// Child rows as the sandbox embeds them: `(parent key, child)` per row.
async fn assert_children_match(sb: &RunningSandbox, pg: &tokio_postgres::Client, schema: &str) {
    let orders = list_all(sb, "v2", "/orders", ORDERS_QUERY).await;
    let mut lines = 0usize;
    for o in &orders {
        // Truth for lines: each order's own /products listing (what we got embedded).
        let per_order = list_all(sb, "v2", &format!("/orders/{}/products", o["id"]), "").await;
        lines += per_order.len();
    }
    assert!(lines >= orders.len(), "seeded orders have lines");
    assert_eq!(
        pg_count(pg, schema, "order_lines").await as usize,
        lines,
        "order_lines"
    );
    // Every line row belongs to an order and carries the order's key.
    let orphans: i64 = pg
        .query_one(
            &format!("SELECT COUNT(*) FROM \"{schema}\".order_lines l LEFT JOIN \"{schema}\".orders o ON o.id = l.order_id WHERE o.id IS NULL"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(orphans, 0);
    let products = list_all(
        sb,
        "v3",
        "/catalog/products",
        "include=variants,images,custom_fields",
    )
    .await;
    for (table, field) in [
        ("product_variants", "variants"),
        ("product_images", "images"),
        ("product_custom_fields", "custom_fields"),
    ] {
        let mut truth: Vec<(i64, i64)> = products
            .iter()
            .flat_map(|p| {
                let pid = p["id"].as_i64().unwrap();
                p[field]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(move |c| (pid, c["id"].as_i64().unwrap()))
            })
            .collect();
        truth.sort();
        let got: Vec<(i64, i64)> = pg
            .query(
                &format!("SELECT product_id, id FROM \"{schema}\".\"{table}\" ORDER BY 1, 2"),
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        assert_eq!(got, truth, "{table}");
    }
    let customers = list_all(sb, "v3", "/customers", "include=addresses").await;
    let addresses: usize = customers
        .iter()
        .map(|c| c["addresses"].as_array().map_or(0, Vec::len))
        .sum();
    assert!(addresses > 0);
    assert_eq!(
        pg_count(pg, schema, "customer_addresses").await as usize,
        addresses
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_stream_matches_the_sandbox_record_by_record() {
    let Some(url) = pg_url() else { return };
    let sb = sandbox(small_store()).await;
    let schema = unique_name("eq");
    let pg = connect(&url).await;
    let summary = extract(&sb, &common::pg_with_schema(&url, &schema), &[])
        .await
        .unwrap();
    assert!(summary.failed().is_empty(), "{:?}", summary.failed());

    assert_parents_match(&sb, &pg, &schema).await;
    for (table, v, p, key) in [
        ("brands", "v3", "/catalog/brands", "id"),
        (
            "categories",
            "v3",
            "/catalog/trees/categories",
            "category_id",
        ),
        ("coupons", "v2", "/coupons", "id"),
        ("channels", "v3", "/channels", "id"),
        ("customer_groups", "v2", "/customer_groups", "id"),
        ("refunds", "v3", "/orders/payment_actions/refunds", "id"),
    ] {
        let truth = by_id(&list_all(&sb, v, p, "").await, key);
        assert!(
            pg_raw_rows(&pg, &schema, table, key).await == truth,
            "{table}: rows differ from the sandbox"
        );
    }
    assert_children_match(&sb, &pg, &schema).await;
    assert_eq!(pg_count(&pg, &schema, "store").await, 1);

    // Typed columns hold the same values as the raw JSON.
    let mismatched: i64 = pg
        .query_one(
            &format!(
                "SELECT COUNT(*) FROM \"{schema}\".orders WHERE status_id IS DISTINCT FROM (_raw->>'status_id')::bigint
                    OR customer_id IS DISTINCT FROM (_raw->>'customer_id')::bigint"
            ),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(mismatched, 0, "typed order columns differ from _raw");
    let types: Vec<(String, String)> = pg
        .query(
            "SELECT column_name::text, data_type::text FROM information_schema.columns
             WHERE table_schema = $1 AND table_name = 'orders' AND column_name IN ('id', '_raw', 'date_modified')
             ORDER BY 1",
            &[&schema],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        types,
        vec![
            ("_raw".to_owned(), "jsonb".to_owned()),
            (
                "date_modified".to_owned(),
                "timestamp with time zone".to_owned()
            ),
            ("id".to_owned(), "bigint".to_owned())
        ]
    );
    // The state of every incremental stream was committed in the schema.
    let bookmarked: i64 = pg
        .query_one(
            &format!("SELECT COUNT(*) FROM \"{schema}\"._bcsync_state WHERE state ? 'bookmark'"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(bookmarked >= 3, "{bookmarked} bookmarks");
    drop_schema(&pg, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_runs_pick_up_same_second_changes_once() {
    let Some(url) = pg_url() else { return };
    let sb = sandbox(small_store()).await;
    let schema = unique_name("inc");
    let to = common::pg_with_schema(&url, &schema);
    let pg = connect(&url).await;
    let streams = ["customers", "products", "orders"];
    extract(&sb, &to, &streams).await.unwrap();

    // Changes between runs, many within the same second.
    change_between_runs(&sb).await;

    let second = extract(&sb, &to, &streams).await.unwrap();
    assert!(second.failed().is_empty(), "{:?}", second.failed());
    let name: String = pg
        .query_one(
            &format!("SELECT first_name FROM \"{schema}\".customers WHERE id = 2"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(name, "Changed2");
    let price: f64 = pg
        .query_one(
            &format!("SELECT price::float8 FROM \"{schema}\".products WHERE id = 1"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!((price - 123.45).abs() < 1e-9, "{price}");
    let status: i64 = pg
        .query_one(
            &format!("SELECT status_id FROM \"{schema}\".orders WHERE id = 1"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(status, 10);
    // The second run wrote exactly the changes, once each.
    let records: u64 = second.streams.iter().map(|s| s.records).sum();
    assert_eq!(records, 3 + 2 + 2 + 1, "{:?}", second.streams);
    assert_parents_match(&sb, &pg, &schema).await;
    assert_children_match(&sb, &pg, &schema).await;

    // An unchanged third run writes nothing new.
    let third = extract(&sb, &to, &streams).await.unwrap();
    assert_eq!(third.streams.iter().map(|s| s.records).sum::<u64>(), 0);
    drop_schema(&pg, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_change_nothing_in_the_result() {
    let Some(url) = pg_url() else { return };
    let sb = sandbox(small_store()).await;
    let schema = unique_name("faults");
    let pg = connect(&url).await;
    set_faults(&sb, "seed=3,500=0.03,502=0.01,503=0.02,504=0.01,reset=0.02,truncate=0.01,slow=0.02:30,burst429=6@40").await;
    // Transactions (one request per order) make enough requests for the faults to bite.
    let summary = extract(
        &sb,
        &common::pg_with_schema(&url, &schema),
        &["customers", "products", "orders", "transactions"],
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
    assert_parents_match(&sb, &pg, &schema).await;
    assert_children_match(&sb, &pg, &schema).await;
    let orders = list_all(&sb, "v2", "/orders", "").await;
    let transactions = store_transactions(&sb, &orders).await;
    assert!(!transactions.is_empty());
    assert!(
        pg_raw_rows(&pg, &schema, "transactions", "id").await == by_id(&transactions, "id"),
        "transactions differ after faults"
    );
    drop_schema(&pg, &schema).await;
}

fn bcsync_extract(sb: &RunningSandbox, to: &str, database_url: Option<&str>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bcsync"));
    cmd.args([
        "extract",
        "--no-progress",
        "--streams",
        "orders",
        "--base-url",
        &sb.base_url(),
        "--to",
        to,
    ])
    .env("BIGCOMMERCE_STORE_HASH", sb.store_hash())
    .env("BIGCOMMERCE_ACCESS_TOKEN", sb.token())
    .env_remove("DATABASE_URL")
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    if let Some(u) = database_url {
        cmd.env("DATABASE_URL", u);
    }
    cmd
}

async fn committed_orders(pg: &tokio_postgres::Client, schema: &str) -> i64 {
    match pg
        .query_one(&format!("SELECT COUNT(*) FROM \"{schema}\".orders"), &[])
        .await
    {
        Ok(r) => r.get(0),
        Err(_) => 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_run_resumes_to_the_same_result() {
    let Some(url) = pg_url() else { return };
    let mut seed = small_store();
    seed.orders = 2400;
    seed.customers = 50;
    let store_hash = unique_name("kill").replace('_', "");
    let sb = sandbox_with(SandboxConfig {
        seed,
        store_hash: store_hash.clone(),
        ..SandboxConfig::default()
    })
    .await;
    let killed = unique_name("killed");
    let pg = connect(&url).await;
    // Slow pages so the kill lands between commits.
    set_faults(&sb, "slow=1.0:120,path=/v2/orders").await;
    let mut child = bcsync_extract(&sb, &common::pg_with_schema(&url, &killed), None)
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while committed_orders(&pg, &killed).await == 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "no page committed within a minute"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL
    let _ = child.wait();
    let partial = committed_orders(&pg, &killed).await;
    clear_faults(&sb).await;

    // A write after the crash.
    let (s, _) = api(
        &sb,
        Method::PUT,
        "/v2/orders/5",
        Some(json!({"status_id": 11})),
    )
    .await;
    assert_eq!(s, 200);

    let out = bcsync_extract(&sb, &common::pg_with_schema(&url, &killed), None)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The uninterrupted run goes through `--to postgres` + DATABASE_URL, into the store's
    // default schema.
    let clean = format!("bc_{store_hash}");
    drop_schema(&pg, &clean).await;
    let out = bcsync_extract(&sb, "postgres", Some(&url))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let truth = list_all(&sb, "v2", "/orders", "").await.len() as i64;
    assert!(
        partial < truth,
        "the kill landed mid-stream ({partial} committed of {truth})"
    );
    assert_eq!(pg_count(&pg, &killed, "orders").await, truth);
    assert_eq!(
        pg_raw_rows(&pg, &killed, "orders", "id").await,
        pg_raw_rows(&pg, &clean, "orders", "id").await
    );
    for (table, parent) in [
        ("order_lines", "order_id"),
        ("order_shipping_addresses", "order_id"),
    ] {
        let (a, b) = (
            pg_child_rows(&pg, &killed, table, parent).await,
            pg_child_rows(&pg, &clean, table, parent).await,
        );
        assert!(!a.is_empty(), "{table}");
        assert!(
            a == b,
            "{table} differs between the resumed and the uninterrupted run"
        );
    }
    let state = |schema: String| {
        let pg = &pg;
        async move {
            let r = pg
                .query_one(
                    &format!(
                        "SELECT state FROM \"{schema}\"._bcsync_state WHERE stream = 'orders'"
                    ),
                    &[],
                )
                .await
                .unwrap();
            r.get::<_, Value>(0)
        }
    };
    assert_eq!(state(killed.clone()).await, state(clean.clone()).await);
    drop_schema(&pg, &killed).await;
    drop_schema(&pg, &clean).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_in_one_database_do_not_interfere() {
    let Some(url) = pg_url() else { return };
    let (hash_a, hash_b) = (
        unique_name("sa").replace('_', ""),
        unique_name("sb").replace('_', ""),
    );
    let mut seed_b = small_store();
    seed_b.seed = 99;
    seed_b.orders = 300;
    seed_b.customers = 150;
    let sa = sandbox_with(SandboxConfig {
        seed: small_store(),
        store_hash: hash_a.clone(),
        ..SandboxConfig::default()
    })
    .await;
    let sbx = sandbox_with(SandboxConfig {
        seed: seed_b,
        store_hash: hash_b.clone(),
        ..SandboxConfig::default()
    })
    .await;
    let pg = connect(&url).await;
    let streams = ["customers", "products", "orders"];
    // Both at once, into the same database, each into its store's default schema.
    let (ra, rb) = tokio::join!(extract(&sa, &url, &streams), extract(&sbx, &url, &streams));
    assert!(ra.unwrap().failed().is_empty());
    assert!(rb.unwrap().failed().is_empty());
    let (schema_a, schema_b) = (format!("bc_{hash_a}"), format!("bc_{hash_b}"));
    assert_parents_match(&sa, &pg, &schema_a).await;
    assert_parents_match(&sbx, &pg, &schema_b).await;
    assert_ne!(
        pg_count(&pg, &schema_a, "orders").await,
        pg_count(&pg, &schema_b, "orders").await
    );

    // A change in store B reaches only B; A's incremental run finds nothing new.
    let (s, _) = api(
        &sbx,
        Method::PUT,
        "/v2/orders/1",
        Some(json!({"status_id": 10})),
    )
    .await;
    assert_eq!(s, 200);
    let (ra, rb) = tokio::join!(extract(&sa, &url, &streams), extract(&sbx, &url, &streams));
    assert_eq!(
        ra.unwrap().streams.iter().map(|s| s.records).sum::<u64>(),
        0
    );
    assert_eq!(
        rb.unwrap().streams.iter().map(|s| s.records).sum::<u64>(),
        1
    );
    assert_parents_match(&sa, &pg, &schema_a).await;
    assert_parents_match(&sbx, &pg, &schema_b).await;
    drop_schema(&pg, &schema_a).await;
    drop_schema(&pg, &schema_b).await;
}

/// Runs an extraction of `store` into `to` and returns its error text.
async fn extract_error(to: &str) -> String {
    let sb = sandbox(bc_sandbox::SeedSpec::empty()).await;
    let err = extract(&sb, to, &["store"])
        .await
        .expect_err("the extraction should fail")
        .to_string();
    assert!(
        !err.contains("hunter2pw"),
        "the password must never appear in errors: {err}"
    );
    err
}

/// The test server's URL with another user, password and/or database.
fn url_with(base: &str, user: Option<&str>, password: Option<&str>, db: Option<&str>) -> String {
    let mut u = url::Url::parse(base).unwrap();
    if let Some(user) = user {
        u.set_username(user).unwrap();
    }
    if let Some(p) = password {
        u.set_password(Some(p)).unwrap();
    }
    if let Some(db) = db {
        u.set_path(&format!("/{db}"));
    }
    u.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connection_asks_whether_postgres_is_running() {
    // Needs no server: port 1 on localhost refuses.
    let err = extract_error("postgres://bob:hunter2pw@127.0.0.1:1/test").await;
    assert!(
        err.contains("is PostgreSQL running at 127.0.0.1:1"),
        "{err}"
    );
    assert!(
        err.contains("postgres://bob@127.0.0.1:1/test"),
        "the error names the URL without its password: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_database_and_unknown_user_are_explained() {
    let Some(url) = pg_url() else { return };
    let err = extract_error(&url_with(
        &url,
        None,
        Some("hunter2pw"),
        Some("bcsync_no_such_database"),
    ))
    .await;
    assert!(
        err.contains("database bcsync_no_such_database does not exist") && err.contains("createdb"),
        "{err}"
    );
    let err = extract_error(&url_with(
        &url,
        Some("bcsync_no_such_user"),
        Some("hunter2pw"),
        None,
    ))
    .await;
    assert!(
        err.contains("authentication failed for user bcsync_no_such_user"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_permission_to_create_the_schema_says_what_to_grant() {
    let Some(url) = pg_url() else { return };
    let pg = connect(&url).await;
    let role = unique_name("role");
    pg.batch_execute(&format!(
        "CREATE ROLE \"{role}\" LOGIN PASSWORD 'hunter2pw'"
    ))
    .await
    .unwrap();
    let schema = unique_name("noperm");
    let err = extract_error(&common::pg_with_schema(
        &url_with(&url, Some(&role), Some("hunter2pw"), None),
        &schema,
    ))
    .await;
    pg.batch_execute(&format!("DROP ROLE \"{role}\""))
        .await
        .unwrap();
    assert!(
        err.contains("permission denied while creating schema"),
        "{err}"
    );
    assert!(err.contains("GRANT CREATE ON DATABASE"), "{err}");
}

/// An order as the orders stream pages it, with `lines` embedded line items.
fn order(id: i64, status: &str, lines: i64) -> Value {
    let items: Vec<Value> = (0..lines).map(|l| json!({"id": id * 10 + l, "product_id": l + 1, "quantity": 1, "name": format!("line\t{l}\\x")})).collect();
    json!({
        "id": id, "status": status, "status_id": 1, "customer_id": 7, "total_inc_tax": "12.5000",
        "date_modified": "Tue, 20 Nov 2012 00:00:00 +0000",
        "consignments": {"shipping": [{"id": 1, "line_items": items, "first_name": "A"}]},
    })
}

fn page(records: Vec<Value>) -> bcsync::destinations::PageBatch {
    let stream = bcsync::streams::find("orders").unwrap();
    bcsync::destinations::PageBatch::new(stream, records, Vec::new(), None)
}

#[test]
fn a_key_read_twice_during_a_first_load_is_upserted_not_doubled() {
    let Some(url) = pg_url() else { return };
    let schema = unique_name("dup");
    let stream = bcsync::streams::find("orders").unwrap();
    let mut dest = bcsync::destinations::open_for_store(
        &common::pg_with_schema(&url, &schema),
        None,
        "ignored",
    )
    .unwrap();
    dest.begin(&[stream]).unwrap();
    // First load: COPY straight into the empty table.
    dest.write(page(vec![order(1, "Pending", 2), order(2, "Pending", 3)]))
        .unwrap();
    // Order 2 again (modified mid-run), with a new field and fewer lines: COPY hits the key,
    // the page is redone as an upsert, and its children are replaced.
    let mut again = order(2, "Shipped", 1);
    again["brand_new_field"] = json!(5.5);
    dest.write(page(vec![again, order(3, "Pending", 1)]))
        .unwrap();
    // Same key twice inside one page (an API glitch): the last version of the parent wins
    // instead of failing the upsert.
    dest.write(page(vec![order(4, "Pending", 0), order(4, "Refunded", 2)]))
        .unwrap();
    dest.finish().unwrap();
    drop(dest);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let pg = connect(&url).await;
        let rows: Vec<(i64, String, Option<f64>)> = pg
            .query(&format!("SELECT id, status, brand_new_field::float8 FROM \"{schema}\".orders ORDER BY id"), &[])
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        assert_eq!(
            rows,
            vec![(1, "Pending".into(), None), (2, "Shipped".into(), Some(5.5)), (3, "Pending".into(), None), (4, "Refunded".into(), None)]
        );
        let lines: Vec<(i64, i64)> = pg
            .query(&format!("SELECT order_id, COUNT(*) FROM \"{schema}\".order_lines WHERE _deleted_at IS NULL GROUP BY 1 ORDER BY 1"), &[])
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        assert_eq!(lines, vec![(1, 2), (2, 1), (3, 1), (4, 2)]);
        // The lines order 2 no longer has are marked deleted, not removed.
        let marked: i64 = pg
            .query_one(&format!("SELECT COUNT(*) FROM \"{schema}\".order_lines WHERE order_id = 2 AND _deleted_at IS NOT NULL"), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(marked, 2);
        // Tabs and backslashes survive COPY's text format.
        let name: String = pg.query_one(&format!("SELECT name FROM \"{schema}\".order_lines WHERE id = 10"), &[]).await.unwrap().get(0);
        assert_eq!(name, "line\t0\\x");
        drop_schema(&pg, &schema).await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_deleted_in_the_store_are_marked_in_full_table_streams() {
    let Some(url) = pg_url() else { return };
    let sb = sandbox(small_store()).await;
    let schema = unique_name("del");
    let to = common::pg_with_schema(&url, &schema);
    let pg = connect(&url).await;
    let streams = ["brands", "coupons", "customers"];
    extract(&sb, &to, &streams).await.unwrap();
    let brands = list_all(&sb, "v3", "/catalog/brands", "").await;
    let coupons = list_all(&sb, "v2", "/coupons", "").await;
    let (s, _) = api(
        &sb,
        Method::DELETE,
        &format!("/v3/catalog/brands/{}", brands[0]["id"]),
        None,
    )
    .await;
    assert!(s == 204 || s == 200, "brand delete: {s}");
    let (s, _) = api(
        &sb,
        Method::DELETE,
        &format!("/v2/coupons/{}", coupons[0]["id"]),
        None,
    )
    .await;
    assert!(s == 204 || s == 200, "coupon delete: {s}");

    extract(&sb, &to, &streams).await.unwrap();
    // Marked, not removed.
    assert_eq!(
        pg_count(&pg, &schema, "brands").await as usize,
        brands.len()
    );
    assert_eq!(
        pg_count(&pg, &schema, "coupons").await as usize,
        coupons.len()
    );
    for (table, id) in [("brands", &brands[0]["id"]), ("coupons", &coupons[0]["id"])] {
        let marked: Vec<i64> = pg
            .query(
                &format!("SELECT id FROM \"{schema}\".\"{table}\" WHERE _deleted_at IS NOT NULL"),
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(marked, vec![id.as_i64().unwrap()], "{table}");
    }
    assert_eq!(
        pg_count(&pg, &schema, "customers").await,
        420,
        "incremental streams are untouched"
    );
    drop_schema(&pg, &schema).await;
}

/// What `listen`'s Brevo forwarding reads after its first forward: only the rows written or
/// marked since a time. PostgreSQL and SQLite answer alike for the same runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_changed_since_a_time_read_alike_from_postgres_and_sqlite() {
    use bcsync::marketing::warehouse::Changes;
    let Some(url) = pg_url() else { return };
    let sb = sandbox(small_store()).await;
    let schema = unique_name("changed");
    let pg_spec = common::pg_with_schema(&url, &schema);
    let dir = tempfile::tempdir().unwrap();
    let sqlite_spec = format!("sqlite:{}", dir.path().join("changed.db").display());
    let pg = connect(&url).await;
    let streams = ["customers", "products", "orders"];
    for to in [&pg_spec, &sqlite_spec] {
        extract(&sb, to, &streams).await.unwrap();
    }
    let ids = |c: &Changes| -> [Vec<i64>; 3] {
        let sorted = |v: Vec<i64>| {
            let mut v = v;
            v.sort_unstable();
            v
        };
        [
            sorted(
                c.customers
                    .iter()
                    .map(|r| r.raw["id"].as_i64().unwrap())
                    .collect(),
            ),
            sorted(
                c.products
                    .iter()
                    .map(|r| r.raw["id"].as_i64().unwrap())
                    .collect(),
            ),
            sorted(
                c.orders
                    .iter()
                    .map(|r| r.raw["id"].as_i64().unwrap())
                    .collect(),
            ),
        ]
    };
    let hash = sb.store_hash().to_owned();
    // Since before the first run: every row.
    let long_ago = chrono::Utc::now() - chrono::Duration::days(1);
    let all = ids(&changed_since(&pg_spec, &hash, long_ago).await);
    assert_eq!(
        all,
        ids(&changed_since(&sqlite_spec, &hash, long_ago).await)
    );
    assert_eq!(
        all[0].len() as i64,
        pg_count(&pg, &schema, "customers").await
    );

    // Since between the runs: exactly what the second run wrote.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let between = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    change_between_runs(&sb).await;
    for to in [&pg_spec, &sqlite_spec] {
        extract(&sb, to, &streams).await.unwrap();
    }
    let changed = ids(&changed_since(&pg_spec, &hash, between).await);
    assert_eq!(
        changed,
        ids(&changed_since(&sqlite_spec, &hash, between).await)
    );
    assert!(changed[0].contains(&2), "customer 2 changed: {changed:?}");
    assert!(changed[1].contains(&1), "product 1 changed: {changed:?}");
    assert!(changed[2].contains(&1), "order 1 changed: {changed:?}");
    assert!(changed[0].len() < all[0].len() && changed[2].len() < all[2].len());

    // Since after the last run: nothing.
    let after = chrono::Utc::now() + chrono::Duration::seconds(1);
    let none: [Vec<i64>; 3] = Default::default();
    assert_eq!(ids(&changed_since(&pg_spec, &hash, after).await), none);
    drop_schema(&pg, &schema).await;
}

/// `load_changed` blocks (a PostgreSQL spec runs its own runtime), so off the test's.
async fn changed_since(
    spec: &str,
    store_hash: &str,
    since: chrono::DateTime<chrono::Utc>,
) -> bcsync::marketing::warehouse::Changes {
    let (spec, store_hash) = (spec.to_owned(), store_hash.to_owned());
    tokio::task::spawn_blocking(move || {
        bcsync::marketing::warehouse::load_changed(&spec, Some(&store_hash), since)
    })
    .await
    .unwrap()
    .unwrap()
}
