//! Channel filtering (`--channel`, `channels = [...]`) against a multi-storefront sandbox,
//! over real HTTP: orders, products and customers of the chosen channels exactly (the
//! truth computed here from the API's own unfiltered lists), customers without a channel
//! list kept, incremental reruns with the same set, and a new set read whole with the
//! rows of dropped channels marked deleted; SQLite, the binary, and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::BTreeSet;

use bc_sandbox::RunningSandbox;
use bcsync::extract::{ExtractOptions, ExtractSummary, Progress};
use common::*;
use reqwest::Method;
use serde_json::{Value, json};

const CUSTOMERS_QUERY: &str = "include=addresses,attributes,formfields,storecredit";
const PRODUCTS_QUERY: &str = "include=variants,images,custom_fields,bulk_pricing_rules";
const ORDERS_QUERY: &str = "include=consignments.line_items&consignment_structure=object";

/// `run_to` with `--channel` (and no other option changed).
async fn extract_channels(
    sb: &RunningSandbox,
    to: &str,
    streams: &[&str],
    channels: &[i64],
) -> ExtractSummary {
    let (client, counter) = client(sb, sb.token());
    let names: Vec<String> = streams.iter().map(|s| (*s).to_owned()).collect();
    let options = ExtractOptions {
        channels: bcsync::extract::channels::normalize(channels),
        ..ExtractOptions::default()
    };
    let summary = bcsync::extract::run_to(
        client,
        counter,
        &names,
        to,
        false,
        None,
        options,
        Progress::hidden(),
    )
    .await
    .unwrap();
    assert!(summary.failed().is_empty(), "{:?}", summary.failed());
    summary
}

/// What the store holds for `channels`, computed from its unfiltered lists: orders by
/// their `channel_id`, products by the channel-assignments list, customers by
/// `channel_ids` (null: every channel). Each as `(id, record)` by id.
struct Truth {
    orders: Vec<(i64, Value)>,
    products: Vec<(i64, Value)>,
    customers: Vec<(i64, Value)>,
    all_orders: usize,
    all_products: usize,
    all_customers: usize,
}

async fn truth(sb: &RunningSandbox, channels: &[i64]) -> Truth {
    let orders = list_all(sb, "v2", "/orders", ORDERS_QUERY).await;
    let products = list_all(sb, "v3", "/catalog/products", PRODUCTS_QUERY).await;
    let customers = list_all(sb, "v3", "/customers", CUSTOMERS_QUERY).await;
    let assigned: BTreeSet<i64> = list_all(sb, "v3", "/catalog/products/channel-assignments", "")
        .await
        .iter()
        .filter(|a| channels.contains(&a["channel_id"].as_i64().unwrap()))
        .map(|a| a["product_id"].as_i64().unwrap())
        .collect();
    let on_channel = |o: &&Value| channels.contains(&o["channel_id"].as_i64().unwrap());
    let customer_kept = |c: &&Value| match &c["channel_ids"] {
        Value::Null => true,
        Value::Array(ids) => ids.iter().any(|i| channels.contains(&i.as_i64().unwrap())),
        other => panic!("channel_ids {other}"),
    };
    let pick = |all: &[Value], keep: &dyn Fn(&&Value) -> bool| {
        by_id(&all.iter().filter(keep).cloned().collect::<Vec<_>>(), "id")
    };
    Truth {
        orders: pick(&orders, &on_channel),
        products: pick(&products, &|p: &&Value| {
            assigned.contains(&p["id"].as_i64().unwrap())
        }),
        customers: pick(&customers, &customer_kept),
        all_orders: orders.len(),
        all_products: products.len(),
        all_customers: customers.len(),
    }
}

impl Truth {
    /// A filter that keeps everything or nothing proves nothing: the seeded store must
    /// have records on both sides of it.
    fn assert_discriminating(&self) {
        for (name, kept, all) in [
            ("orders", self.orders.len(), self.all_orders),
            ("products", self.products.len(), self.all_products),
            ("customers", self.customers.len(), self.all_customers),
        ] {
            assert!(0 < kept && kept < all, "{name}: {kept} of {all} kept");
        }
    }
}

const LIVE: &str = "WHERE _deleted_at IS NULL";

fn assert_sqlite_matches(conn: &rusqlite::Connection, t: &Truth) {
    for (table, want) in [
        ("orders", &t.orders),
        ("products", &t.products),
        ("customers", &t.customers),
    ] {
        let got = raw_rows_where(conn, table, "id", LIVE);
        assert_eq!(
            got.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            want.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            "{table}: ids"
        );
        assert!(&got == want, "{table}: records differ from the store's");
    }
}

/// Adds channel 3 and moves every seventh order onto it, so three channels hold orders.
async fn add_third_channel(sb: &RunningSandbox) -> i64 {
    let (status, body) = api(
        sb,
        Method::POST,
        "/v3/channels",
        Some(json!({"name": "Pop-up shop", "type": "storefront", "platform": "custom"})),
    )
    .await;
    assert!(status == 200 || status == 201, "{status} {body:?}");
    let id = body.unwrap()["data"]["id"].as_i64().unwrap();
    let orders = list_all(sb, "v2", "/orders", "").await;
    for o in orders.iter().step_by(7) {
        let path = format!("/v2/orders/{}", o["id"]);
        let (status, _) = api(sb, Method::PUT, &path, Some(json!({"channel_id": id}))).await;
        assert_eq!(status, 200, "{path}");
    }
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_channel_extracts_exactly_its_records() {
    let sb = sandbox(small_store()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ch2.db");
    let to = format!("sqlite:{}", path.display());
    let streams = [
        "customers",
        "products",
        "orders",
        "channels",
        "category_trees",
        "categories",
    ];
    extract_channels(&sb, &to, &streams, &[2]).await;
    let t = truth(&sb, &[2]).await;
    t.assert_discriminating();
    let conn = db(&path);
    assert_sqlite_matches(&conn, &t);
    // Customers without a channel list (`null`: every channel) are kept...
    assert!(
        t.customers.iter().any(|(_, c)| c["channel_ids"].is_null()),
        "the seed has customers on every channel"
    );
    // ...customers limited to other channels are not.
    let ch1_only: Vec<i64> = list_all(&sb, "v3", "/customers", "")
        .await
        .iter()
        .filter(|c| c["channel_ids"] == json!([1]))
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert!(!ch1_only.is_empty());
    let kept: BTreeSet<i64> = t.customers.iter().map(|(k, _)| *k).collect();
    assert!(ch1_only.iter().all(|id| !kept.contains(id)));

    // Child tables follow their parents: every line of the orders kept, and no other.
    let mut want_lines = 0usize;
    for (id, _) in &t.orders {
        want_lines += list_all(&sb, "v2", &format!("/orders/{id}/products"), "")
            .await
            .len();
    }
    assert!(want_lines > 0);
    assert_eq!(count(&conn, "order_lines") as usize, want_lines);
    let want_variants: usize = t
        .products
        .iter()
        .map(|(_, p)| p["variants"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(count(&conn, "product_variants") as usize, want_variants);

    // Channels: the chosen one only. Channel 2 has no category tree, so no categories.
    let channels: Vec<i64> = raw_rows(&conn, "channels", "id")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(channels, vec![2]);
    assert_eq!(count(&conn, "category_trees"), 0);
    assert_eq!(count(&conn, "categories"), 0);

    // Channel 1 is the complement for products and orders, and has the seeded tree.
    let path1 = dir.path().join("ch1.db");
    let to1 = format!("sqlite:{}", path1.display());
    extract_channels(&sb, &to1, &streams, &[1]).await;
    let t1 = truth(&sb, &[1]).await;
    t1.assert_discriminating();
    let conn1 = db(&path1);
    assert_sqlite_matches(&conn1, &t1);
    let trees = list_all(&sb, "v3", "/catalog/trees", "").await;
    assert_eq!(count(&conn1, "category_trees") as usize, trees.len());
    assert_eq!(
        count(&conn1, "categories") as usize,
        list_all(&sb, "v3", "/catalog/trees/categories", "")
            .await
            .len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_channels_are_kept_locally_and_exactly() {
    let sb = sandbox(small_store()).await;
    let third = add_third_channel(&sb).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ch13.db");
    let to = format!("sqlite:{}", path.display());
    let set = [third, 1];
    let summary = extract_channels(
        &sb,
        &to,
        &["customers", "products", "orders", "transactions"],
        &set,
    )
    .await;
    let t = truth(&sb, &set).await;
    t.assert_discriminating();
    let conn = db(&path);
    assert_sqlite_matches(&conn, &t);
    assert!(t.orders.iter().any(|(_, o)| o["channel_id"] == third));
    // Transactions follow the orders kept.
    let orders: Vec<Value> = t.orders.iter().map(|(_, o)| o.clone()).collect();
    let want = store_transactions(&sb, &orders).await.len();
    assert!(want > 0);
    assert_eq!(count(&conn, "transactions") as usize, want);
    // Several orders channels: one read of the order list (3 pages of 250 for 560 orders),
    // not one read per channel; plus, at most, one look at the store's clock before the
    // list is cut into date windows (this test passes no `store_clock`).
    let orders_summary = summary.streams.iter().find(|s| s.name == "orders").unwrap();
    assert_eq!(orders_summary.pages, 3, "{orders_summary:?}");
    assert!(orders_summary.requests <= 4, "{orders_summary:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reruns_are_incremental_per_channel_set_and_a_new_set_reads_whole() {
    let sb = sandbox(small_store()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inc.db");
    let to = format!("sqlite:{}", path.display());
    // First run through the binary, the channel from bcsync.toml.
    std::fs::write(
        dir.path().join("bcsync.toml"),
        format!(
            "[extract]\nto = \"{to}\"\nstreams = [\"customers\", \"products\", \"orders\", \"brands\"]\nchannels = [2]\n"
        ),
    )
    .unwrap();
    let out = bcsync_in(&sb, dir.path(), &["extract", "--no-progress"])
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("brands carry no channel filter"),
        "the unfiltered streams are named: {stderr}"
    );
    let t2 = truth(&sb, &[2]).await;
    assert_sqlite_matches(&db(&path), &t2);

    // Changes: an order on channel 2 and one on channel 1, a product on channel 2 only.
    let ch2_order = t2.orders[0].0;
    let ch1_order = list_all(&sb, "v2", "/orders", "channel_id=1").await[0]["id"]
        .as_i64()
        .unwrap();
    let ch2_product = list_all(
        &sb,
        "v3",
        "/catalog/products/channel-assignments",
        "channel_id:in=2",
    )
    .await
    .iter()
    .map(|a| a["product_id"].as_i64().unwrap())
    .find(|p| p % 3 != 0)
    .unwrap();
    for (path, body) in [
        (format!("/v2/orders/{ch2_order}"), json!({"status_id": 10})),
        (format!("/v2/orders/{ch1_order}"), json!({"status_id": 10})),
    ] {
        assert_eq!(api(&sb, Method::PUT, &path, Some(body)).await.0, 200);
    }
    let (status, _) = api(
        &sb,
        Method::PUT,
        "/v3/catalog/products",
        Some(json!([{"id": ch2_product, "price": 77.5}])),
    )
    .await;
    assert_eq!(status, 200);

    // Same set: only the changes of channel 2 are read.
    let second = extract_channels(&sb, &to, &["customers", "products", "orders"], &[2]).await;
    let records =
        |s: &ExtractSummary, name: &str| s.streams.iter().find(|x| x.name == name).unwrap().records;
    assert_eq!(records(&second, "orders"), 1, "{:?}", second.streams);
    assert_eq!(records(&second, "products"), 1, "{:?}", second.streams);
    assert_eq!(records(&second, "customers"), 0, "{:?}", second.streams);
    assert!(second.requests <= 3, "{} requests", second.requests);
    let t2 = truth(&sb, &[2]).await;
    assert_sqlite_matches(&db(&path), &t2);

    // Another set (the flag overrides the file): read whole, said on stderr, and the
    // tables end up exactly channel 1's records, the rest marked deleted.
    let out = bcsync_in(
        &sb,
        dir.path(),
        &["extract", "--no-progress", "--channel", "1"],
    )
    .output()
    .unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    for stream in ["customers", "products", "orders"] {
        assert!(
            stderr.contains(&format!(
                "{stream}: the saved bookmark was read for another channel set"
            )),
            "{stream}: {stderr}"
        );
    }
    let t1 = truth(&sb, &[1]).await;
    let conn = db(&path);
    assert_sqlite_matches(&conn, &t1);
    let ch1_orders: BTreeSet<i64> = t1.orders.iter().map(|(k, _)| *k).collect();
    let dropped: Vec<i64> = t2
        .orders
        .iter()
        .map(|(k, _)| *k)
        .filter(|k| !ch1_orders.contains(k))
        .collect();
    assert!(!dropped.is_empty());
    let marked: Vec<i64> = raw_rows_where(&conn, "orders", "id", "WHERE _deleted_at IS NOT NULL")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(marked, dropped, "channel 2's orders are marked deleted");
    let marked_lines: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM order_lines WHERE _deleted_at IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(marked_lines > 0, "their lines follow");

    // And the same set again is incremental: nothing changed, nothing read.
    let again = extract_channels(&sb, &to, &["customers", "products", "orders"], &[1]).await;
    assert_eq!(again.streams.iter().map(|s| s.records).sum::<u64>(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_channel_into_postgres() {
    let Some(url) = pg_url() else { return };
    let sb = sandbox(small_store()).await;
    let schema = unique_name("channels");
    let sep = if url.contains('?') { '&' } else { '?' };
    let to = format!("{url}{sep}schema={schema}");
    extract_channels(&sb, &to, &["customers", "products", "orders"], &[2]).await;
    let t = truth(&sb, &[2]).await;
    t.assert_discriminating();
    let pg = connect(&url).await;
    for (table, want) in [
        ("orders", &t.orders),
        ("products", &t.products),
        ("customers", &t.customers),
    ] {
        let got: Vec<(i64, Value)> = pg
            .query(
                &format!(
                    "SELECT id::bigint, _raw FROM \"{schema}\".\"{table}\" WHERE _deleted_at IS NULL ORDER BY 1"
                ),
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get::<_, i64>(0), r.get::<_, Value>(1)))
            .collect();
        assert_eq!(got.len(), want.len(), "{table}: row count");
        assert!(&got == want, "{table}: records differ from the store's");
    }
    drop_schema(&pg, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_channel_is_refused_before_anything_is_written() {
    let sb = sandbox(small_store()).await;
    let dir = tempfile::tempdir().unwrap();
    let out = bcsync_in(
        &sb,
        dir.path(),
        &[
            "extract",
            "--no-progress",
            "--to",
            "sqlite:x.db",
            "--channel",
            "2,9",
        ],
    )
    .output()
    .unwrap();
    let text = output_text(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("the store has no channel 9"), "{text}");
    assert!(text.contains("2 (Wholesale storefront)"), "{text}");
    assert!(!dir.path().join("x.db").exists(), "nothing is created");
    let out = bcsync_in(&sb, dir.path(), &["extract", "--channel", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
}
