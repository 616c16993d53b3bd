//! The streams added with the sandbox's newer endpoints (subscribers, promotions, pages,
//! inventory items, and metafields on request), extracted into SQLite over real HTTP: the
//! destination equals the sandbox's records, read back through the API; a second run
//! after changes picks them up (full-table streams: rows gone from the store are marked
//! deleted); metafield tables are read only when asked for, through the collection routes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};

/// Live rows `(key, _raw)` of a table, sorted by key.
fn live_rows(conn: &rusqlite::Connection, table: &str) -> Vec<(i64, Value)> {
    raw_rows_where(conn, table, "id", "WHERE _deleted_at IS NULL")
}

/// The sandbox's inventory items as `(variant@location, available, product, sku)`.
async fn store_stock(sb: &bc_sandbox::RunningSandbox) -> Vec<(String, i64, i64, Value)> {
    let mut out = Vec::new();
    for item in list_all(sb, "v3", "/inventory/items", "").await {
        let id = &item["identity"];
        for loc in item["locations"].as_array().unwrap() {
            out.push((
                format!("{}@{}", id["variant_id"], loc["location_id"]),
                loc["available_to_sell"].as_i64().unwrap(),
                id["product_id"].as_i64().unwrap(),
                id["sku"].clone(),
            ));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn extracted_stock(conn: &rusqlite::Connection) -> Vec<(String, i64, i64, Value)> {
    let mut stmt = conn
        .prepare("SELECT id, _raw FROM inventory_items WHERE _deleted_at IS NULL ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .unwrap()
        .map(|r| {
            let (id, raw) = r.unwrap();
            let v: Value = serde_json::from_str(&raw).unwrap();
            (
                id,
                v["available_to_sell"].as_i64().unwrap(),
                v["product_id"].as_i64().unwrap(),
                v["sku"].clone(),
            )
        })
        .collect()
}

async fn assert_matches_store(sb: &bc_sandbox::RunningSandbox, conn: &rusqlite::Connection) {
    for (table, path, query) in [
        ("subscribers", "/customers/subscribers", ""),
        ("promotions", "/promotions", ""),
        ("pages", "/content/pages", "include=body"),
    ] {
        let truth = by_id(&list_all(sb, "v3", path, query).await, "id");
        let got = live_rows(conn, table);
        assert!(!truth.is_empty(), "{table}: the seeded store has some");
        assert_eq!(got.len(), truth.len(), "{table}: row count");
        assert!(got == truth, "{table}: rows differ from the sandbox");
    }
    let stock = store_stock(sb).await;
    assert!(!stock.is_empty());
    assert_eq!(extracted_stock(conn), stock, "inventory_items");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_streams_equal_the_sandbox_and_follow_changes() {
    let sb = sandbox(small_store()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.db");
    let to = format!("sqlite:{}", path.display());
    let streams = ["subscribers", "promotions", "pages", "inventory_items"];
    let summary = extract(&sb, &to, &streams).await.unwrap();
    assert!(summary.failed().is_empty(), "{:?}", summary.failed());
    assert_matches_store(&sb, &db(&path)).await;

    // Change each collection, then run again.
    let (s, _) = api(
        &sb,
        Method::POST,
        "/v3/customers/subscribers",
        Some(json!({"email": "late@example.com", "consents": ["abandoned_cart"]})),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = api(
        &sb,
        Method::PUT,
        "/v3/customers/subscribers/3",
        Some(json!({"first_name": "Changed"})),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = api(&sb, Method::DELETE, "/v3/customers/subscribers/4", None).await;
    assert_eq!(s, 204);
    let (s, _) = api(
        &sb,
        Method::PUT,
        "/v3/promotions/1",
        Some(json!({"status": "DISABLED"})),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = api(&sb, Method::DELETE, "/v3/content/pages/2", None).await;
    assert_eq!(s, 204);
    let (s, _) = api(
        &sb,
        Method::POST,
        "/v3/content/pages",
        Some(json!({"name": "Late page", "type": "raw", "body": "<p>late</p>"})),
    )
    .await;
    assert_eq!(s, 201);
    let item = &list_all(&sb, "v3", "/inventory/items", "").await[0];
    let (s, _) = api(
        &sb,
        Method::PUT,
        "/v3/inventory/adjustments/absolute",
        Some(json!({"items": [{"location_id": 1, "variant_id": item["identity"]["variant_id"], "quantity": 777}]})),
    )
    .await;
    assert_eq!(s, 200);

    let summary = extract(&sb, &to, &streams).await.unwrap();
    assert!(summary.failed().is_empty(), "{:?}", summary.failed());
    let conn = db(&path);
    assert_matches_store(&sb, &conn).await;
    assert!(extracted_stock(&conn).iter().any(|(_, n, _, _)| *n == 777));
    let gone: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM subscribers WHERE id = 4 AND _deleted_at IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(gone, 1, "a deleted subscriber is marked deleted");
    // Metafield tables were not asked for.
    assert!(!table_exists(&conn, "product_metafields"));
}

fn table_exists(conn: &rusqlite::Connection, table: &str) -> bool {
    conn.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [table],
        |r| r.get::<_, i64>(0),
    )
    .unwrap()
        > 0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metafields_come_on_request_through_the_collection_routes() {
    let sb = sandbox(small_store()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.db");
    let to = format!("sqlite:{}", path.display());
    let summary = extract(
        &sb,
        &to,
        &[
            "products.metafields",
            "customers.metafields",
            "orders.metafields",
            "variant_metafields",
            "categories.metafields",
        ],
    )
    .await
    .unwrap();
    assert!(summary.failed().is_empty(), "{:?}", summary.failed());
    let conn = db(&path);
    for (table, path) in [
        ("product_metafields", "/catalog/products/metafields"),
        ("variant_metafields", "/catalog/variants/metafields"),
        ("category_metafields", "/catalog/categories/metafields"),
        ("customer_metafields", "/customers/metafields"),
        ("order_metafields", "/orders/metafields"),
    ] {
        let truth = by_id(&list_all(&sb, "v3", path, "").await, "id");
        assert!(!truth.is_empty(), "{table}: the seeded store has some");
        assert_eq!(live_rows(&conn, table), truth, "{table}");
    }
    // One paged read per kind, never one request per record.
    assert!(summary.requests <= 10, "{} requests", summary.requests);
    assert!(
        !table_exists(&conn, "products"),
        "only the metafields were asked for"
    );
}
