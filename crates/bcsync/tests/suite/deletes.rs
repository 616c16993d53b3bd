//! Deletes in the store reach the destination as `_deleted_at` marks, on SQLite and on
//! PostgreSQL: full-table streams on every complete run, incremental streams on a completed
//! `--full-refresh` (or the run that resumes it), child rows with their parent and when
//! their parent no longer has them; a record that comes back is unmarked with its children;
//! an interrupted read marks nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use bcsync::extract::ExtractSummary;
use common::*;
use reqwest::Method;
use serde_json::{Value, json};

const STREAMS: &[&str] = &["customers", "products", "orders", "brands"];

async fn run(
    sb: &bc_sandbox::RunningSandbox,
    to: &str,
    streams: &[&str],
    full_refresh: bool,
) -> ExtractSummary {
    extract_with(sb, to, streams, full_refresh).await.unwrap()
}

/// Reads a destination's tables the same way on both databases.
enum Dest {
    Sqlite(std::path::PathBuf),
    Pg(tokio_postgres::Client, String),
}

impl Dest {
    /// `column` (as text) of the rows of `table` that are marked deleted, sorted.
    async fn marked(&self, table: &str, column: &str) -> Vec<String> {
        self.values(table, column, "\"_deleted_at\" IS NOT NULL")
            .await
    }

    async fn values(&self, table: &str, column: &str, filter: &str) -> Vec<String> {
        let mut v = match self {
            Dest::Sqlite(path) => {
                let conn = db(path);
                let mut stmt = conn
                    .prepare(&format!(
                        "SELECT CAST(\"{column}\" AS TEXT) FROM \"{table}\" WHERE {filter}"
                    ))
                    .unwrap();
                stmt.query_map([], |r| r.get::<_, String>(0))
                    .unwrap()
                    .collect::<Result<Vec<_>, _>>()
                    .unwrap()
            }
            Dest::Pg(pg, schema) => pg
                .query(
                    &format!(
                        "SELECT \"{column}\"::text FROM \"{schema}\".\"{table}\" WHERE {filter}"
                    ),
                    &[],
                )
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<_, String>(0))
                .collect(),
        };
        v.sort();
        v
    }

    async fn saved_state(&self, stream: &str) -> Value {
        match self {
            Dest::Sqlite(path) => {
                let text: String = db(path)
                    .query_row(
                        "SELECT state FROM _bcsync_state WHERE stream = ?1",
                        [stream],
                        |r| r.get(0),
                    )
                    .unwrap();
                serde_json::from_str(&text).unwrap()
            }
            Dest::Pg(pg, schema) => pg
                .query_one(
                    &format!("SELECT state FROM \"{schema}\"._bcsync_state WHERE stream = $1"),
                    &[&stream],
                )
                .await
                .unwrap()
                .get(0),
        }
    }
}

fn ids(v: &[Value], key: &str) -> Vec<String> {
    let mut out: Vec<String> = v.iter().map(|r| r[key].to_string()).collect();
    out.sort();
    out
}

/// The whole story on one destination.
async fn deletes_are_marked(to: &str, dest: Dest) {
    let sb = sandbox(small_store()).await;
    let first = run(&sb, to, STREAMS, false).await;
    assert!(first.failed().is_empty(), "{:?}", first.failed());
    for table in [
        "customers",
        "customer_addresses",
        "products",
        "product_variants",
        "orders",
        "order_lines",
        "brands",
    ] {
        assert!(
            dest.marked(table, "_extracted_at").await.is_empty(),
            "{table} marked on a first run"
        );
    }

    // Pick what to delete: customer 1 (with its addresses), one address of customer 2 (the
    // customer stays), product 1 (with its variants), an order, a brand.
    let c1 = "1".to_owned();
    let c1_addresses = dest
        .values("customer_addresses", "id", "customer_id = 1")
        .await;
    let c2_addresses = dest
        .values("customer_addresses", "id", "customer_id = 2")
        .await;
    assert!(
        !c1_addresses.is_empty() && c2_addresses.len() >= 2,
        "{c1_addresses:?} {c2_addresses:?}"
    );
    let gone_address = c2_addresses[0].clone();
    let p1_variants = dest
        .values("product_variants", "id", "product_id = 1")
        .await;
    assert!(!p1_variants.is_empty());
    let orders = list_all(&sb, "v2", "/orders", "").await;
    let order = orders[0]["id"].to_string();
    let order_lines = dest
        .values("order_lines", "id", &format!("order_id = {order}"))
        .await;
    assert!(!order_lines.is_empty());
    let brands = list_all(&sb, "v3", "/catalog/brands", "").await;
    let brand = brands[0]["id"].to_string();

    for (method, path) in [
        (Method::DELETE, format!("/v3/customers?id:in={c1}")),
        (
            Method::DELETE,
            format!("/v3/customers/addresses?id:in={gone_address}"),
        ),
        (Method::DELETE, "/v3/catalog/products/1".to_owned()),
        (Method::DELETE, format!("/v2/orders/{order}")),
        (Method::DELETE, format!("/v3/catalog/brands/{brand}")),
    ] {
        let (status, body) = api(&sb, method.clone(), &path, None).await;
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {body:?}"
        );
    }

    // An incremental run cannot see deletes; the full-table stream (brands) can, and marks
    // the brand instead of removing it.
    run(&sb, to, STREAMS, false).await;
    assert_eq!(dest.marked("brands", "id").await, vec![brand.clone()]);
    assert_eq!(
        ids(&brands, "id"),
        dest.values("brands", "id", "true").await,
        "a brand was removed"
    );
    for table in ["customers", "products", "orders"] {
        assert!(
            dest.marked(table, "id").await.is_empty(),
            "{table} marked by an incremental run"
        );
    }

    // An interrupted --full-refresh marks nothing: orders fail after their first page.
    set_faults(&sb, "path=/v2/orders,500@2..").await;
    let broken = extract_with(&sb, to, &["orders"], true).await;
    assert!(broken.is_err(), "the faults did not interrupt the read");
    assert!(
        dest.marked("orders", "id").await.is_empty(),
        "an interrupted read marked rows"
    );
    assert!(dest.marked("order_lines", "id").await.is_empty());
    clear_faults(&sb).await;
    // The plain run that resumes it completes the full read, and marks.
    run(&sb, to, &["orders"], false).await;
    assert_eq!(dest.marked("orders", "id").await, vec![order.clone()]);

    // A complete --full-refresh marks exactly the deleted records and their child rows.
    let full = run(&sb, to, STREAMS, true).await;
    assert!(full.failed().is_empty(), "{:?}", full.failed());
    assert_eq!(dest.marked("customers", "id").await, vec![c1.clone()]);
    let mut gone_addresses = c1_addresses.clone();
    gone_addresses.push(gone_address.clone());
    gone_addresses.sort();
    assert_eq!(
        dest.marked("customer_addresses", "id").await,
        gone_addresses
    );
    assert_eq!(
        dest.values(
            "customer_addresses",
            "id",
            "customer_id = 2 AND \"_deleted_at\" IS NULL"
        )
        .await,
        c2_addresses[1..].to_vec(),
        "the customer's other addresses stay live"
    );
    for table in ["customer_attribute_values", "customer_form_fields"] {
        let marked_parents = dest.marked(table, "customer_id").await;
        assert!(
            marked_parents.iter().all(|p| *p == c1),
            "{table}: {marked_parents:?}"
        );
        assert_eq!(
            marked_parents.len(),
            dest.values(table, "customer_id", "customer_id = 1")
                .await
                .len(),
            "{table}: every child row of the deleted customer is marked"
        );
    }
    assert_eq!(dest.marked("products", "id").await, vec!["1".to_owned()]);
    assert_eq!(dest.marked("product_variants", "id").await, p1_variants);
    for table in ["product_images", "product_custom_fields"] {
        let marked_parents = dest.marked(table, "product_id").await;
        assert!(
            marked_parents.iter().all(|p| p == "1"),
            "{table}: {marked_parents:?}"
        );
        assert_eq!(
            marked_parents.len(),
            dest.values(table, "product_id", "product_id = 1")
                .await
                .len()
        );
    }
    assert_eq!(dest.marked("orders", "id").await, vec![order.clone()]);
    assert_eq!(dest.marked("order_lines", "id").await, order_lines);
    assert_eq!(dest.marked("brands", "id").await, vec![brand.clone()]);
    // Marked, not removed.
    assert_eq!(
        dest.values("customers", "id", &format!("id = {c1}")).await,
        vec![c1.clone()]
    );
    assert_eq!(
        dest.values("orders", "id", &format!("id = {order}")).await,
        vec![order.clone()]
    );
    // The completed read leaves no trace in the saved state.
    let state = dest.saved_state("customers").await;
    assert!(state.get("full_read_started").is_none(), "{state}");
    assert!(state["bookmark"].is_string(), "{state}");

    // The archived order comes back: a plain incremental run unmarks it and its lines.
    let (status, body) = api(
        &sb,
        Method::PUT,
        &format!("/v2/orders/{order}"),
        Some(json!({"is_deleted": false})),
    )
    .await;
    assert_eq!(status, 200, "{body:?}");
    run(&sb, to, STREAMS, false).await;
    assert!(dest.marked("orders", "id").await.is_empty());
    assert!(dest.marked("order_lines", "id").await.is_empty());
    assert_eq!(dest.marked("customers", "id").await, vec![c1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_marks_deleted_records_and_their_children() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.db");
    deletes_are_marked(&format!("sqlite:{}", path.display()), Dest::Sqlite(path)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_marks_deleted_records_and_their_children() {
    let Some(url) = pg_url() else { return };
    let schema = unique_name("deletes");
    let pg = connect(&url).await;
    let sep = if url.contains('?') { '&' } else { '?' };
    let to = format!("{url}{sep}schema={schema}");
    deletes_are_marked(&to, Dest::Pg(pg, schema.clone())).await;
    drop_schema(&connect(&url).await, &schema).await;
}

/// Tables made before `_deleted_at` existed get the column on the next run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_tables_without_the_column_are_migrated() {
    let sb = sandbox(small_store()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        let conn = db(&path);
        conn.execute_batch(
            "CREATE TABLE _bcsync_state (stream TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at TEXT NOT NULL);
             CREATE TABLE brands (id INTEGER PRIMARY KEY, name TEXT, _raw TEXT NOT NULL, _extracted_at TEXT NOT NULL);
             INSERT INTO brands VALUES (999999, 'Gone', '{}', '2020-01-01T00:00:00.000Z');",
        )
        .unwrap();
    }
    let summary = run(
        &sb,
        &format!("sqlite:{}", path.display()),
        &["brands"],
        false,
    )
    .await;
    assert!(summary.failed().is_empty(), "{:?}", summary.failed());
    let dest = Dest::Sqlite(path);
    assert_eq!(dest.marked("brands", "id").await, vec!["999999".to_owned()]);
    assert_eq!(
        dest.values("brands", "id", "\"_deleted_at\" IS NULL")
            .await
            .len(),
        6
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_tables_without_the_column_are_migrated() {
    let Some(url) = pg_url() else { return };
    let sb = sandbox(small_store()).await;
    let schema = unique_name("migrate");
    let pg = connect(&url).await;
    pg.batch_execute(&format!(
        "CREATE SCHEMA \"{schema}\";
         CREATE TABLE \"{schema}\"._bcsync_state (stream text PRIMARY KEY, state jsonb NOT NULL, updated_at timestamptz NOT NULL);
         CREATE TABLE \"{schema}\".brands (id bigint PRIMARY KEY, name text, _raw jsonb NOT NULL, _extracted_at timestamptz NOT NULL);
         INSERT INTO \"{schema}\".brands VALUES (999999, 'Gone', '{{}}', '2020-01-01T00:00:00Z');"
    ))
    .await
    .unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    let summary = run(
        &sb,
        &format!("{url}{sep}schema={schema}"),
        &["brands"],
        false,
    )
    .await;
    assert!(summary.failed().is_empty(), "{:?}", summary.failed());
    let dest = Dest::Pg(pg, schema.clone());
    assert_eq!(dest.marked("brands", "id").await, vec!["999999".to_owned()]);
    assert_eq!(
        dest.values("brands", "id", "\"_deleted_at\" IS NULL")
            .await
            .len(),
        6
    );
    drop_schema(&connect(&url).await, &schema).await;
}
