//! `bcsync models`: the `inventory` set built over a seeded sandbox equals a computation
//! made here, independently, from the API's own responses (products with variants, orders
//! and their lines), in SQLite and in PostgreSQL; status changes and archiving become
//! deletions; an incremental refresh changes only the rows whose sources changed; the
//! export files parse.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;

use reqwest::Method;
use serde_json::{Value, json};

use common::*;

/// A model row reduced to comparable text (numbers to 2 decimals, as money is).
type Rows = BTreeMap<String, BTreeMap<String, String>>;

fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => {
            // Decimal strings and numbers compare as numbers.
            match s.parse::<f64>() {
                Ok(f) if s.contains('.') => format!("{f:.2}"),
                _ => s.clone(),
            }
        }
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.to_string(),
            None => format!("{:.2}", n.as_f64().unwrap()),
        },
        other => other.to_string(),
    }
}

fn keyed(rows: &[Value], key: &str, columns: &[&str]) -> Rows {
    rows.iter()
        .map(|r| {
            (
                cell(&r[key]),
                columns
                    .iter()
                    .map(|c| ((*c).to_owned(), cell(&r[*c])))
                    .collect(),
            )
        })
        .collect()
}

const PRODUCT_COLUMNS: &[&str] = &[
    "name",
    "sku_code",
    "ean_code",
    "price",
    "unlimited_stock",
    "stock_level",
    "article_code",
    "remote_id",
    "status",
    "deleted",
];
const ORDER_COLUMNS: &[&str] = &["placed", "total_value", "status_id", "deleted"];
const LINE_COLUMNS: &[&str] = &[
    "order_remote_id",
    "product_id",
    "variant_id",
    "quantity",
    "subtotal_value",
    "deleted",
];

/// Equality of two keyed row sets, showing only the rows that differ.
#[track_caller]
fn assert_rows(got: &Rows, want: &Rows) {
    let keys: std::collections::BTreeSet<&String> = got.keys().chain(want.keys()).collect();
    let diff: Vec<String> = keys
        .into_iter()
        .filter(|k| got.get(*k) != want.get(*k))
        .take(10)
        .map(|k| format!("{k}: got {:?}, want {:?}", got.get(k), want.get(k)))
        .collect();
    assert!(
        diff.is_empty(),
        "{} rows differ, first: {diff:#?}",
        diff.len()
    );
}

fn nonempty(v: &Value) -> Option<Value> {
    match v {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        other => Some(other.clone()),
    }
}

/// The products model, from `/v3/catalog/products?include=variants`.
fn expected_products(products: &[Value]) -> Vec<Value> {
    let mut rows = Vec::new();
    for p in products {
        let variants = p["variants"].as_array().cloned().unwrap_or_default();
        let optioned: Vec<Value> = variants
            .iter()
            .filter(|v| !v["option_values"].as_array().unwrap().is_empty())
            .cloned()
            .collect();
        let selling = if optioned.is_empty() {
            variants
        } else {
            optioned
        };
        let tracking = p["inventory_tracking"].as_str().unwrap();
        for v in selling {
            let labels: Vec<&str> = v["option_values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["label"].as_str().unwrap())
                .collect();
            let name = if labels.is_empty() {
                p["name"].as_str().unwrap().to_owned()
            } else {
                format!("{} - {}", p["name"].as_str().unwrap(), labels.join(" / "))
            };
            rows.push(json!({
                "row_key": format!("v{}", v["id"]),
                "name": name,
                "sku_code": nonempty(&v["sku"]).or_else(|| nonempty(&p["sku"])),
                "ean_code": nonempty(&v["gtin"]).or_else(|| nonempty(&v["upc"])).or_else(|| nonempty(&p["upc"])),
                "price": nonempty(&v["calculated_price"]).unwrap_or(p["price"].clone()),
                "unlimited_stock": tracking == "none",
                "stock_level": match tracking {
                    "product" => p["inventory_level"].clone(),
                    "variant" => v["inventory_level"].clone(),
                    _ => Value::Null,
                },
                "article_code": p["id"],
                "remote_id": v["id"],
                "status": if p["availability"] == "available" { "enabled" } else { "disabled" },
                "deleted": false,
            }));
        }
    }
    rows
}

/// `date_created` (RFC 2822 in V2) as the model writes it.
fn iso(rfc2822: &Value) -> String {
    chrono::DateTime::parse_from_rfc2822(rfc2822.as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The sell-order model from the order list, the orders archived since the first
/// extraction (`archived`: the store lists archived orders only with `is_deleted=true`, and
/// orders archived before bcsync first read the store were never extracted) and each
/// modelled order's `/products`: live rows for `live(status)`, deleted rows for Refunded /
/// Cancelled / Declined / archived orders and for `previously` modelled orders that left
/// the set.
async fn expected_orders(
    sb: &bc_sandbox::RunningSandbox,
    live: impl Fn(i64) -> bool,
    previously: &[String],
    archived_ids: &[i64],
) -> (Vec<Value>, Vec<Value>) {
    let mut orders = list_all(sb, "v2", "/orders", "").await;
    let archived = list_all(sb, "v2", "/orders", "is_deleted=true").await;
    orders.extend(
        archived
            .into_iter()
            .filter(|o| archived_ids.contains(&o["id"].as_i64().unwrap())),
    );
    let (mut rows, mut lines) = (Vec::new(), Vec::new());
    for o in orders {
        let id = o["id"].as_i64().unwrap();
        let status = o["status_id"].as_i64().unwrap();
        let is_live = live(status) && !archived_ids.contains(&id);
        let gone = matches!(status, 4..=6) || archived_ids.contains(&id);
        if !(is_live || gone || previously.contains(&id.to_string())) {
            continue;
        }
        rows.push(json!({
            "remote_id": id,
            "placed": iso(&o["date_created"]),
            "total_value": o["total_ex_tax"],
            "status_id": status,
            "deleted": !is_live,
        }));
        let (code, body) = api(sb, Method::GET, &format!("/v2/orders/{id}/products"), None).await;
        assert_eq!(code, 200, "order {id} products");
        for l in body.unwrap().as_array().unwrap() {
            // The line total is the unit price times the quantity, once.
            let unit: f64 = l["price_ex_tax"].as_str().unwrap().parse().unwrap();
            let total: f64 = l["total_ex_tax"].as_str().unwrap().parse().unwrap();
            let quantity = l["quantity"].as_f64().unwrap();
            assert!((unit * quantity - total).abs() < 0.01, "line {}", l["id"]);
            lines.push(json!({
                "remote_id": l["id"],
                "order_remote_id": id,
                "product_id": l["product_id"],
                "variant_id": l["variant_id"],
                "quantity": l["quantity"],
                "subtotal_value": l["total_ex_tax"],
                "deleted": !is_live,
            }));
        }
    }
    (rows, lines)
}

/// `bcsync models export NAME --format jsonl` (all rows, or those changed after `since`).
fn export(
    sb: &bc_sandbox::RunningSandbox,
    dir: &Path,
    to: &str,
    name: &str,
    since: Option<&str>,
) -> (Vec<Value>, String) {
    let mut args = vec!["models", "export", name, "--format", "jsonl", "--to", to];
    if let Some(s) = since {
        args.extend(["--since", s]);
    }
    let out = bcsync_in(sb, dir, &args).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let rows = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let newest = stderr
        .split("--since ")
        .nth(1)
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    (rows, newest)
}

/// `bcsync extract --streams STREAMS --to TO --models inventory [EXTRA]`; its output.
fn extract_with_models(
    sb: &bc_sandbox::RunningSandbox,
    dir: &Path,
    to: &str,
    streams: &str,
    extra: &[&str],
) -> String {
    let mut args = vec![
        "extract",
        "--streams",
        streams,
        "--to",
        to,
        "--models",
        "inventory",
        "--no-progress",
    ];
    args.extend_from_slice(extra);
    run(sb, dir, &args)
}

/// Exports the sell orders and their lines and compares them with the expected rows;
/// returns the exported orders.
fn assert_sell_orders(
    sb: &bc_sandbox::RunningSandbox,
    dir: &Path,
    to: &str,
    orders: &[Value],
    lines: &[Value],
) -> Vec<Value> {
    let (got_orders, _) = export(sb, dir, to, "inventory.sell_orders", None);
    assert_rows(
        &keyed(&got_orders, "remote_id", ORDER_COLUMNS),
        &keyed(orders, "remote_id", ORDER_COLUMNS),
    );
    let (got_lines, _) = export(sb, dir, to, "inventory.sell_order_lines", None);
    assert_rows(
        &keyed(&got_lines, "remote_id", LINE_COLUMNS),
        &keyed(lines, "remote_id", LINE_COLUMNS),
    );
    got_orders
}

fn run(sb: &bc_sandbox::RunningSandbox, dir: &Path, args: &[&str]) -> String {
    let out = bcsync_in(sb, dir, args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", output_text(&out));
    output_text(&out)
}

/// Products that cover every rule: a simple product (base variant) tracked by product
/// with an UPC, a simple product with stock not tracked and disabled, a GTIN on one
/// optioned variant and an UPC on another.
async fn add_product_fixtures(sb: &bc_sandbox::RunningSandbox) {
    for body in [
        json!({"name": "Plain Mug", "type": "physical", "weight": 1, "price": 12.5, "sku": "PLAIN-MUG",
               "upc": "012345678905", "inventory_tracking": "product", "inventory_level": 7}),
        json!({"name": "Gift Wrap", "type": "physical", "weight": 0, "price": 3, "sku": "WRAP",
               "inventory_tracking": "none", "availability": "disabled"}),
    ] {
        let (status, resp) = api(sb, Method::POST, "/v3/catalog/products", Some(body)).await;
        assert!(status == 200 || status == 201, "{status} {resp:?}");
    }
    let products = list_all(sb, "v3", "/catalog/products", "include=variants").await;
    let optioned: Vec<&Value> = products
        .iter()
        .filter(|p| p["variants"].as_array().unwrap().len() > 1)
        .take(2)
        .collect();
    let v0 = &optioned[0]["variants"][0];
    let v1 = &optioned[1]["variants"][0];
    let (status, resp) = api(
        sb,
        Method::PUT,
        "/v3/catalog/variants",
        Some(json!([{"id": v0["id"], "gtin": "4006381333931"}, {"id": v1["id"], "upc": "036000291452"}])),
    )
    .await;
    assert_eq!(status, 200, "{resp:?}");
}

fn completed(status: i64) -> bool {
    status == 10
}

/// The whole flow against one destination: first extraction with `--models`, compare;
/// change products and orders, incremental extraction, compare and check that exactly the
/// changed rows moved; archive an order (seen by a full read), compare; then every status
/// with `all_sell_orders`.
async fn models_flow(to: &str) {
    let sb = sandbox(small_store()).await;
    add_product_fixtures(&sb).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let out = extract_with_models(&sb, d, to, "products,orders", &[]);
    assert!(out.contains("models inventory refreshed (full"), "{out}");

    let products = list_all(&sb, "v3", "/catalog/products", "include=variants").await;
    let (got, newest_products) = export(&sb, d, to, "inventory.products", None);
    assert_rows(
        &keyed(&got, "row_key", PRODUCT_COLUMNS),
        &keyed(&expected_products(&products), "row_key", PRODUCT_COLUMNS),
    );
    assert!(got.iter().any(|r| r["name"] == "Plain Mug"
        && r["stock_level"] == 7
        && r["ean_code"] == "012345678905"));
    assert!(got.iter().any(|r| r["name"] == "Gift Wrap"
        && r["unlimited_stock"] == true
        && r["status"] == "disabled"));
    assert!(got.iter().any(|r| r["ean_code"] == "4006381333931"));

    let (orders, lines) = expected_orders(&sb, completed, &[], &[]).await;
    let (got_orders, newest_orders) = export(&sb, d, to, "inventory.sell_orders", None);
    assert_rows(
        &keyed(&got_orders, "remote_id", ORDER_COLUMNS),
        &keyed(&orders, "remote_id", ORDER_COLUMNS),
    );
    assert!(got_orders.iter().any(|o| o["deleted"] == false));
    assert!(
        got_orders
            .iter()
            .any(|o| o["deleted"] == true && o["status_id"] == 5 && o["deleted_at"].is_string())
    );
    let (got_lines, _) = export(&sb, d, to, "inventory.sell_order_lines", None);
    assert_rows(
        &keyed(&got_lines, "remote_id", LINE_COLUMNS),
        &keyed(&lines, "remote_id", LINE_COLUMNS),
    );

    // Changes: a completed order cancelled, one moved back to Shipped (it leaves the set), a
    // pending one completed; a product's price and a variant deleted.
    let live_completed: Vec<i64> = got_orders
        .iter()
        .filter(|o| o["deleted"] == false)
        .map(|o| o["remote_id"].as_i64().unwrap())
        .collect();
    let pending = orders_with_status(&sb, 1).await;
    let (cancelled, shipped, newly_completed) = (live_completed[0], live_completed[1], pending[0]);
    for (id, status) in [(cancelled, 5), (shipped, 2), (newly_completed, 10)] {
        let (code, _) = api(
            &sb,
            Method::PUT,
            &format!("/v2/orders/{id}"),
            Some(json!({"status_id": status})),
        )
        .await;
        assert_eq!(code, 200);
    }
    let repriced = products
        .iter()
        .find(|p| p["variants"].as_array().unwrap().len() > 1)
        .unwrap();
    let gone_variant = &repriced["variants"][1];
    let (code, _) = api(
        &sb,
        Method::PUT,
        &format!("/v3/catalog/products/{}", repriced["id"]),
        Some(json!({"price": 99.5})),
    )
    .await;
    assert_eq!(code, 200);
    let (code, _) = api(
        &sb,
        Method::DELETE,
        &format!(
            "/v3/catalog/products/{}/variants/{}",
            repriced["id"], gone_variant["id"]
        ),
        None,
    )
    .await;
    assert_eq!(code, 204);

    let out = extract_with_models(&sb, d, to, "products,orders", &[]);
    assert!(
        out.contains("models inventory refreshed (incremental"),
        "{out}"
    );

    // Only the changed rows moved: the three orders (and their lines), the repriced
    // product's rows (its variant without a price of its own), the deleted variant.
    let (changed_orders, _) = export(&sb, d, to, "inventory.sell_orders", Some(&newest_orders));
    let mut ids: Vec<i64> = changed_orders
        .iter()
        .map(|o| o["remote_id"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    let mut want = vec![cancelled, shipped, newly_completed];
    want.sort_unstable();
    assert_eq!(ids, want, "rows changed after {newest_orders}");
    let (changed_products, _) = export(&sb, d, to, "inventory.products", Some(&newest_products));
    assert!(!changed_products.is_empty());
    assert!(
        changed_products
            .iter()
            .all(|r| r["article_code"] == repriced["id"]),
        "{changed_products:?}"
    );
    assert!(
        changed_products
            .iter()
            .any(|r| r["remote_id"] == gone_variant["id"] && r["deleted"] == true)
    );

    let products = list_all(&sb, "v3", "/catalog/products", "include=variants").await;
    let mut want_products = expected_products(&products);
    // The deleted variant stays, marked.
    let mut gone = got
        .iter()
        .find(|r| r["remote_id"] == gone_variant["id"])
        .unwrap()
        .clone();
    gone["deleted"] = json!(true);
    want_products.push(gone);
    let (got, _) = export(&sb, d, to, "inventory.products", None);
    assert_rows(
        &keyed(&got, "row_key", PRODUCT_COLUMNS),
        &keyed(&want_products, "row_key", PRODUCT_COLUMNS),
    );
    let modelled: Vec<String> = got_orders
        .iter()
        .map(|o| o["remote_id"].to_string())
        .collect();
    let (orders, lines) = expected_orders(&sb, completed, &modelled, &[]).await;
    assert_sell_orders(&sb, d, to, &orders, &lines);

    // Archiving is seen by a complete read of orders; the archived order becomes a deletion.
    let archived = live_completed[2];
    let (code, _) = api(&sb, Method::DELETE, &format!("/v2/orders/{archived}"), None).await;
    assert_eq!(code, 204);
    extract_with_models(&sb, d, to, "orders", &["--full-refresh"]);
    let (orders, lines) = expected_orders(&sb, completed, &modelled, &[archived]).await;
    let got_orders = assert_sell_orders(&sb, d, to, &orders, &lines);
    let row = got_orders
        .iter()
        .find(|o| o["remote_id"] == archived)
        .unwrap();
    assert_eq!(row["deleted"], true);

    // Every status: the option change rebuilds the set on the next refresh.
    std::fs::write(
        d.join("bcsync.toml"),
        "[models.inventory]\nall_sell_orders = true\n",
    )
    .unwrap();
    let out = run(&sb, d, &["models", "refresh", "inventory", "--to", to]);
    assert!(out.contains("(full"), "{out}");
    let (orders, _) = expected_orders(&sb, |s| !matches!(s, 4..=6), &[], &[archived]).await;
    let (got_orders, _) = export(&sb, d, to, "inventory.sell_orders", None);
    // A rebuild forgets orders that only "left the set"; the rest is exact.
    assert_rows(
        &keyed(&got_orders, "remote_id", ORDER_COLUMNS),
        &keyed(&orders, "remote_id", ORDER_COLUMNS),
    );

    // CSV parses, with the documented header.
    let out = bcsync_in(
        &sb,
        d,
        &[
            "models",
            "export",
            "inventory.products",
            "--to",
            to,
            "-o",
            "products.csv",
        ],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let mut reader = csv::Reader::from_path(d.join("products.csv")).unwrap();
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(header[..3], ["row_key", "name", "sku_code"]);
    assert_eq!(header.last().unwrap(), "updated_at");
    assert_eq!(reader.records().count(), got.len());
}

async fn orders_with_status(sb: &bc_sandbox::RunningSandbox, status: i64) -> Vec<i64> {
    list_all(sb, "v2", "/orders", &format!("status_id={status}"))
        .await
        .iter()
        .map(|o| o["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventory_models_in_sqlite_equal_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let to = format!("sqlite:{}", dir.path().join("store.db").display());
    models_flow(&to).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventory_models_in_postgres_equal_the_api() {
    let Some(url) = pg_url() else { return };
    let schema = unique_name("models");
    let sep = if url.contains('?') { '&' } else { '?' };
    models_flow(&format!("{url}{sep}schema={schema}")).await;
    drop_schema(&connect(&url).await, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_say_what_to_extract_first() {
    let sb = sandbox(small_store()).await;
    let dir = tempfile::tempdir().unwrap();
    run(
        &sb,
        dir.path(),
        &[
            "extract",
            "--streams",
            "products",
            "--to",
            "sqlite:x.db",
            "--no-progress",
        ],
    );
    let out = bcsync_in(
        &sb,
        dir.path(),
        &["models", "refresh", "inventory", "--to", "sqlite:x.db"],
    )
    .output()
    .unwrap();
    assert!(!out.status.success());
    let text = output_text(&out);
    assert!(
        text.contains("no orders, order_lines") && text.contains("--streams products,orders"),
        "{text}"
    );
    let out = bcsync_in(
        &sb,
        dir.path(),
        &["extract", "--to", "singer", "--models", "inventory"],
    )
    .output()
    .unwrap();
    assert!(!out.status.success());
    assert!(
        output_text(&out).contains("--models needs a SQL destination"),
        "{}",
        output_text(&out)
    );
    assert_eq!(writes(&sb), 0);
}
