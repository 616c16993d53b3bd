//! The resource commands and `bcsync api` end to end, as a script runs them: the real
//! binary against a sandbox over HTTP, credentials in the environment, stdin not a
//! terminal. What they print is checked against the sandbox's own data (read over raw
//! HTTP), and refusals against its request log (nothing sent).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use bc_sandbox::{RunningSandbox, SeedSpec};
use reqwest::Method;
use serde_json::{Value, json};

fn store() -> SeedSpec {
    SeedSpec {
        seed: 13,
        customers: 30,
        addresses_per_customer: 2,
        customer_groups: 2,
        products: 12,
        variants_per_product: 2,
        images_per_product: 2,
        custom_fields_per_product: 1,
        categories: 8,
        brands: 3,
        orders: 300,
        lines_per_order: 2,
        coupons: 2,
        history_days: 30,
    }
}

fn run(sb: &RunningSandbox, dir: &Path, args: &[&str]) -> Output {
    common::bcsync_in(sb, dir, args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs a command that must succeed and parses its stdout as JSON.
fn json_of(sb: &RunningSandbox, dir: &Path, args: &[&str]) -> Value {
    let out = run(sb, dir, args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        common::output_text(&out)
    );
    serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", stdout(&out)))
}

/// Requests the sandbox has answered so far (admin API excluded).
fn requests(sb: &RunningSandbox) -> usize {
    sb.state
        .log
        .entries()
        .iter()
        .filter(|e| !e.path.contains("/_sandbox"))
        .count()
}

/// Runs a command that must be refused as a usage error (exit 2) before any request,
/// and returns its stderr.
fn refused(sb: &RunningSandbox, dir: &Path, args: &[&str]) -> String {
    let before = requests(sb);
    let out = run(sb, dir, args);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{args:?}: {}",
        common::output_text(&out)
    );
    assert_eq!(requests(sb), before, "{args:?} sent a request");
    assert!(stdout(&out).is_empty(), "{args:?}: {}", stdout(&out));
    stderr(&out)
}

fn ids(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect()
}

#[test]
fn help_texts_of_the_tool_commands() {
    for cmd in [
        &["orders", "--help"][..],
        &["orders", "list", "--help"],
        &["orders", "get", "--help"],
        &["orders", "update", "--help"],
        &["products", "--help"],
        &["products", "list", "--help"],
        &["products", "get", "--help"],
        &["products", "create", "--help"],
        &["products", "update", "--help"],
        &["products", "delete", "--help"],
        &["categories", "list", "--help"],
        &["customers", "--help"],
        &["customers", "list", "--help"],
        &["customers", "get", "--help"],
        &["customers", "create", "--help"],
        &["customers", "update", "--help"],
        &["api", "--help"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_bcsync"))
            .args(cmd)
            .output()
            .unwrap();
        assert!(out.status.success(), "{cmd:?}");
        insta::assert_snapshot!(cmd.join("_").replace("--", ""), stdout(&out));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_list_pages_up_to_the_limit_in_every_format() {
    let sb = common::sandbox(store()).await;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let all = common::list_all(&sb, "v2", "/orders", "").await;
    let want: Vec<u64> = all.iter().map(|o| o["id"].as_u64().unwrap()).collect();

    // 260 records: one page of 250 and one more; the rest is announced with a cursor.
    let before = requests(&sb);
    let out = run(
        &sb,
        dir,
        &["orders", "list", "--limit", "260", "--format", "json"],
    );
    assert!(out.status.success(), "{}", common::output_text(&out));
    assert_eq!(requests(&sb) - before, 2);
    let first: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(ids(&first), want[..260]);
    let note = stderr(&out);
    assert!(note.contains("--cursor offset:260"), "{note}");

    // The cursor resumes where the listing stopped, whatever the new limit.
    let rest = json_of(
        &sb,
        dir,
        &["orders", "list", "--cursor", "offset:260", "--limit", "100"],
    );
    assert_eq!(ids(&rest), want[260..]);

    // The default limit is 50.
    assert_eq!(ids(&json_of(&sb, dir, &["orders", "list"])), want[..50]);

    // jsonl: one record per line.
    let out = run(
        &sb,
        dir,
        &["orders", "list", "--limit", "3", "--format", "jsonl"],
    );
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines, all[..3]);

    // csv: a header with every field, one row per record.
    let out = run(
        &sb,
        dir,
        &["orders", "list", "--limit", "3", "--format", "csv"],
    );
    let text = stdout(&out);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(header[0], "id");
    assert!(header.contains(&"status".to_owned()), "{header:?}");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    let status_col = header.iter().position(|h| h == "status").unwrap();
    assert_eq!(rows[1][status_col], *all[1]["status"].as_str().unwrap());
    assert_eq!(rows[2][0], all[2]["id"].to_string());

    // table: the chosen columns, one line per record.
    let out = run(
        &sb,
        dir,
        &["orders", "list", "--limit", "3", "--format", "table"],
    );
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(
        lines[0].starts_with("id")
            && lines[0].contains("status")
            && lines[0].contains("total_inc_tax"),
        "{text}"
    );
    assert!(lines[1].starts_with(&all[0]["id"].to_string()), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_filters_match_the_store_and_bad_ones_are_refused_before_any_request() {
    let sb = common::sandbox(store()).await;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();

    let shipped = common::list_all(&sb, "v2", "/orders", "status_id=2").await;
    let got = json_of(
        &sb,
        dir,
        &["orders", "list", "--status", "Shipped", "--limit", "1000"],
    );
    assert_eq!(ids(&got), ids(&Value::Array(shipped)));

    let customer = common::list_all(&sb, "v2", "/orders", "").await[0]["customer_id"].clone();
    let got = json_of(
        &sb,
        dir,
        &[
            "orders",
            "list",
            "--customer-id",
            &customer.to_string(),
            "--limit",
            "1000",
        ],
    );
    let expected = common::list_all(&sb, "v2", "/orders", &format!("customer_id={customer}")).await;
    assert!(!expected.is_empty());
    assert_eq!(ids(&got), ids(&Value::Array(expected)));

    let since = chrono::Utc::now() - chrono::Duration::days(10);
    let since_text = since.format("%Y-%m-%d").to_string();
    let got = json_of(
        &sb,
        dir,
        &[
            "orders",
            "list",
            "--created-since",
            &since_text,
            "--limit",
            "1000",
        ],
    );
    let expected = common::list_all(
        &sb,
        "v2",
        "/orders",
        &format!("min_date_created={since_text}T00:00:00Z"),
    )
    .await;
    assert_eq!(ids(&got), ids(&Value::Array(expected)));

    // Newest first: the first record is the most recently created order.
    let newest = json_of(
        &sb,
        dir,
        &["orders", "list", "--newest-first", "--limit", "5"],
    );
    let dates: Vec<chrono::DateTime<chrono::Utc>> = newest
        .as_array()
        .unwrap()
        .iter()
        .map(|o| bigcommerce::dates::parse_v2(o["date_created"].as_str().unwrap()).unwrap())
        .collect();
    assert!(dates.windows(2).all(|w| w[0] >= w[1]), "{dates:?}");

    for (args, flag, hint) in [
        (
            &["orders", "list", "--status", "shippd"][..],
            "--status",
            "2 shipped",
        ),
        (
            &["orders", "list", "--created-since", "yesterday"],
            "--created-since",
            "YYYY-MM-DD",
        ),
        (
            &[
                "orders",
                "list",
                "--created-since",
                "2024-02-01",
                "--created-until",
                "2024-01-01",
            ],
            "--created-until",
            "--created-since",
        ),
        (&["orders", "list", "--limit", "0"], "--limit", "at least 1"),
        (
            &["orders", "list", "--cursor", "abc"],
            "--cursor",
            "next_cursor",
        ),
        (&["orders", "update", "5"], "--status", "--staff-notes"),
        (
            &["orders", "update", "5", "--status", "lost"],
            "--status",
            "awaiting-fulfillment",
        ),
        (
            &["products", "list", "--availability", "soon"],
            "--availability",
            "preorder",
        ),
        (&["products", "list", "--name", " "], "--name", "empty"),
        (
            &["products", "create", "--data", "{\"name\": \"x\"}"],
            "--data",
            "type",
        ),
        (
            &["customers", "list", "--email", "nobody"],
            "--email",
            "email address",
        ),
        (
            &["customers", "list", "--modified-since", "2024-13-01"],
            "--modified-since",
            "ISO 8601",
        ),
        (
            &["customers", "update", "3", "--data", "{\"id\": 4}"],
            "--data",
            "leave id out",
        ),
    ] {
        let text = refused(&sb, dir, args);
        assert!(
            text.contains(&format!("invalid {flag}")) && text.contains(hint),
            "{args:?}: {text}"
        );
    }
    // Values clap itself checks are usage errors naming the flag too.
    let text = refused(&sb, dir, &["products", "list", "--visible", "maybe"]);
    assert!(text.contains("--visible"), "{text}");
    let text = refused(&sb, dir, &["products", "create", "--data", "{oops"]);
    assert!(
        text.contains("--data") && text.contains("not valid JSON"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_with_its_parts_and_an_update() {
    let sb = common::sandbox(store()).await;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let order = json_of(&sb, dir, &["orders", "get", "7"]);
    assert_eq!(order["id"], 7);
    let (_, lines) = common::api(&sb, Method::GET, "/v2/orders/7/products", None).await;
    assert_eq!(order["products"], lines.unwrap());
    let (_, addresses) =
        common::api(&sb, Method::GET, "/v2/orders/7/shipping_addresses", None).await;
    assert_eq!(order["shipping_addresses"], addresses.unwrap());
    assert!(
        order["shipments"].is_array() && order["coupons"].is_array(),
        "{order}"
    );

    let out = run(&sb, dir, &["orders", "get", "7", "--format", "table"]);
    let text = stdout(&out);
    assert!(text.contains("\nproducts (2):\n"), "{text}");

    let updated = json_of(
        &sb,
        dir,
        &[
            "orders",
            "update",
            "7",
            "--status",
            "shipped",
            "--staff-notes",
            "left with the neighbour",
        ],
    );
    assert_eq!(updated["status_id"], 2);
    let (_, stored) = common::api(&sb, Method::GET, "/v2/orders/7", None).await;
    let stored = stored.unwrap();
    assert_eq!(stored["status_id"], 2);
    assert_eq!(stored["staff_notes"], "left with the neighbour");

    let out = run(&sb, dir, &["orders", "get", "99999"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not found"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn products_by_filters_and_by_variant_sku_then_create_update_delete() {
    let sb = common::sandbox(store()).await;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();

    let out = run(
        &sb,
        dir,
        &["products", "list", "--limit", "5", "--format", "table"],
    );
    insta::assert_snapshot!("products_table", stdout(&out));

    let (_, p3) = common::api(
        &sb,
        Method::GET,
        "/v3/catalog/products/3?include=variants",
        None,
    )
    .await;
    let p3 = p3.unwrap()["data"].clone();
    let variant = p3["variants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["sku"] != p3["sku"] && !v["sku"].as_str().unwrap().is_empty())
        .expect("a variant with its own SKU")
        .clone();
    let variant_sku = variant["sku"].as_str().unwrap();
    // The API's own product filter does not match a variant SKU...
    let (_, direct) = common::api(
        &sb,
        Method::GET,
        &format!("/v3/catalog/products?sku={variant_sku}"),
        None,
    )
    .await;
    assert_eq!(direct.unwrap()["data"], json!([]));
    // ...but --sku finds its product, in list and in get.
    assert_eq!(
        ids(&json_of(
            &sb,
            dir,
            &["products", "list", "--sku", variant_sku]
        )),
        [3]
    );
    let found = json_of(&sb, dir, &["products", "get", "--sku", variant_sku]);
    assert_eq!(found["id"], 3);
    assert_eq!(found["matched_variant_id"], variant["id"]);
    let by_product_sku = json_of(
        &sb,
        dir,
        &["products", "get", "--sku", p3["sku"].as_str().unwrap()],
    );
    assert_eq!(by_product_sku["id"], 3);
    assert!(by_product_sku.get("matched_variant_id").is_none());
    let out = run(&sb, dir, &["products", "get", "--sku", "NO-SUCH-SKU"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("\"NO-SUCH-SKU\" was not found"),
        "{}",
        stderr(&out)
    );

    // get: variants, images and custom fields inline, as the store has them.
    let got = json_of(&sb, dir, &["products", "get", "3"]);
    assert_eq!(got["variants"], p3["variants"]);
    assert_eq!(got["images"].as_array().unwrap().len(), 2);
    assert_eq!(got["custom_fields"].as_array().unwrap().len(), 1);

    // Filters: name contains, visibility.
    let name = p3["name"].as_str().unwrap();
    let word = name.split_whitespace().next().unwrap();
    let by_name = json_of(
        &sb,
        dir,
        &["products", "list", "--name", word, "--limit", "500"],
    );
    assert!(ids(&by_name).contains(&3));
    assert!(by_name.as_array().unwrap().iter().all(|p| {
        p["name"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains(&word.to_lowercase())
    }));
    let hidden = json_of(
        &sb,
        dir,
        &["products", "list", "--visible", "false", "--limit", "500"],
    );
    let expected = common::list_all(&sb, "v3", "/catalog/products", "is_visible=false").await;
    assert_eq!(ids(&hidden), ids(&Value::Array(expected)));

    // create from a file, update from the command line.
    std::fs::write(
        dir.join("new.json"),
        r#"{"name": "Tool Test Lamp", "type": "physical", "weight": 1.5, "price": 20,
            "sku": "LAMP-1", "custom_fields": [{"name": "bulb", "value": "E27"}]}"#,
    )
    .unwrap();
    let created = json_of(&sb, dir, &["products", "create", "--data", "@new.json"]);
    let id = created["id"].as_u64().unwrap();
    assert_eq!(created["name"], "Tool Test Lamp");
    let updated = json_of(
        &sb,
        dir,
        &[
            "products",
            "update",
            &id.to_string(),
            "--data",
            r#"{"price": 99.5}"#,
        ],
    );
    assert_eq!(updated["price"], 99.5);
    let (_, stored) = common::api(
        &sb,
        Method::GET,
        &format!("/v3/catalog/products/{id}"),
        None,
    )
    .await;
    assert_eq!(stored.unwrap()["data"]["price"], 99.5);

    // delete: refused without a terminal or --yes, before any request.
    let before = requests(&sb);
    let out = run(&sb, dir, &["products", "delete", &id.to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    assert_eq!(requests(&sb), before);
    let deleted = json_of(&sb, dir, &["products", "delete", &id.to_string(), "--yes"]);
    assert_eq!(deleted["deleted"]["id"], id);
    assert_eq!(deleted["deleted"]["name"], "Tool Test Lamp");
    let (status, _) = common::api(
        &sb,
        Method::GET,
        &format!("/v3/catalog/products/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_category_tree_of_a_channel() {
    let sb = common::sandbox(store()).await;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let tree = json_of(&sb, dir, &["categories", "list"]);
    assert_eq!(tree["channel_id"], 1);
    let flat = common::list_all(
        &sb,
        "v3",
        "/catalog/trees/categories",
        &format!("tree_id:in={}", tree["tree_id"]),
    )
    .await;
    fn count(nodes: &Value) -> usize {
        nodes
            .as_array()
            .unwrap()
            .iter()
            .map(|n| 1 + count(&n["children"]))
            .sum()
    }
    assert_eq!(count(&tree["categories"]), flat.len());

    let out = run(&sb, dir, &["categories", "list", "--format", "table"]);
    insta::assert_snapshot!("categories_table", stdout(&out));
    let out = run(&sb, dir, &["categories", "list", "--format", "csv"]);
    insta::assert_snapshot!("categories_csv", stdout(&out));

    let out = run(&sb, dir, &["categories", "list", "--channel", "999"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("channel 999"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_list_get_create_update() {
    let sb = common::sandbox(store()).await;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let all = common::list_all(&sb, "v3", "/customers", "").await;
    let target = &all[4];
    let email = target["email"].as_str().unwrap();

    let found = json_of(
        &sb,
        dir,
        &["customers", "list", "--email", &email.to_uppercase()],
    );
    assert_eq!(ids(&found), [target["id"].as_u64().unwrap()]);
    let last = target["last_name"].as_str().unwrap();
    let by_name = json_of(
        &sb,
        dir,
        &["customers", "list", "--name", last, "--limit", "500"],
    );
    assert!(ids(&by_name).contains(&target["id"].as_u64().unwrap()));

    let paged = json_of(
        &sb,
        dir,
        &["customers", "list", "--limit", "7", "--cursor", "offset:20"],
    );
    assert_eq!(ids(&paged), ids(&Value::Array(all[20..27].to_vec())));

    let id = target["id"].to_string();
    let one = json_of(&sb, dir, &["customers", "get", &id]);
    assert_eq!(one["email"], email);
    let addresses = common::list_all(
        &sb,
        "v3",
        "/customers/addresses",
        &format!("customer_id:in={id}"),
    )
    .await;
    assert_eq!(one["addresses"], Value::Array(addresses));

    let created = json_of(
        &sb,
        dir,
        &[
            "customers",
            "create",
            "--data",
            r#"{"email": "tool.test@example.com", "first_name": "Tool", "last_name": "Test"}"#,
        ],
    );
    let new_id = created["id"].as_u64().unwrap();
    let updated = json_of(
        &sb,
        dir,
        &[
            "customers",
            "update",
            &new_id.to_string(),
            "--data",
            r#"{"phone": "555-0100"}"#,
        ],
    );
    assert_eq!(updated["phone"], "555-0100");
    let stored = common::list_all(&sb, "v3", "/customers", &format!("id:in={new_id}")).await;
    assert_eq!(stored[0]["phone"], "555-0100");
    assert_eq!(stored[0]["email"], "tool.test@example.com");

    let out = run(&sb, dir, &["customers", "get", "999999"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("customer 999999 was not found"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_requests_reads_writes_and_refusals() {
    let sb = common::sandbox(store()).await;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();

    // A read, as the store answers it.
    let brands = json_of(&sb, dir, &["api", "GET", "/v3/catalog/brands?limit=2"]);
    let (_, direct) = common::api(&sb, Method::GET, "/v3/catalog/brands?limit=2", None).await;
    assert_eq!(brands, direct.unwrap());
    // A full URL on the store's own host is fine.
    let url = format!("{}/v2/orders/3", sb.store_url());
    assert_eq!(json_of(&sb, dir, &["api", "GET", &url])["id"], 3);

    // --paginate follows the pages up to --limit.
    let before = requests(&sb);
    let out = run(
        &sb,
        dir,
        &["api", "GET", "/v2/orders", "--paginate", "--limit", "260"],
    );
    assert!(out.status.success(), "{}", common::output_text(&out));
    assert_eq!(requests(&sb) - before, 2);
    let records: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(records.as_array().unwrap().len(), 260);
    assert!(
        stderr(&out).contains("--cursor offset:260"),
        "{}",
        stderr(&out)
    );
    let customers = json_of(&sb, dir, &["api", "GET", "/v3/customers", "--paginate"]);
    assert_eq!(customers.as_array().unwrap().len(), 30);

    // Refused before anything is sent: other hosts, other stores, PATCH, a body on GET,
    // a DELETE on a whole collection without --all.
    for (args, hint) in [
        (
            &[
                "api",
                "GET",
                "https://evil.example.com/stores/x/v3/customers",
            ][..],
            "evil.example.com",
        ),
        (
            &["api", "GET", "/stores/otherstore/v3/customers"],
            "otherstore",
        ),
        (&["api", "GET", "/v4/customers"], "/v2/ or /v3/"),
        (&["api", "PATCH", "/v3/customers", "--data", "{}"], "PUT"),
        (&["api", "GET", "/v3/customers", "--data", "{}"], "--data"),
        (&["api", "POST", "/v3/catalog/brands", "--yes"], "--data"),
        (&["api", "DELETE", "/v2/orders", "--yes"], "--all"),
        (
            &["api", "DELETE", "/v2/orders?limit=10", "--yes"],
            "every order is archived",
        ),
    ] {
        let text = refused(&sb, dir, args);
        assert!(
            text.contains("invalid") && text.contains(hint),
            "{args:?}: {text}"
        );
    }

    // Writes need --yes when there is no terminal to ask on; nothing is sent without it.
    let before = requests(&sb);
    let out = run(
        &sb,
        dir,
        &[
            "api",
            "POST",
            "/v3/catalog/brands",
            "--data",
            r#"{"name": "Acme Tools"}"#,
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    assert_eq!(requests(&sb), before);
    let created = json_of(
        &sb,
        dir,
        &[
            "api",
            "POST",
            "/v3/catalog/brands",
            "--data",
            r#"{"name": "Acme Tools"}"#,
            "--yes",
        ],
    );
    assert_eq!(created["data"]["name"], "Acme Tools");

    // A DELETE of one record goes through; the whole collection only with --all.
    let out = run(&sb, dir, &["api", "DELETE", "/v2/orders/5", "--yes"]);
    assert!(out.status.success(), "{}", common::output_text(&out));
    assert!(stderr(&out).contains("HTTP 204"), "{}", stderr(&out));
    let out = run(&sb, dir, &["api", "DELETE", "/v2/orders", "--yes", "--all"]);
    assert!(out.status.success(), "{}", common::output_text(&out));
    let (status, _) = common::api(&sb, Method::GET, "/v2/orders", None).await;
    assert_eq!(status, 204, "every order archived");

    // API errors keep the store's words and say what to do.
    let out = run(&sb, dir, &["api", "GET", "/v3/catalog/products/424242"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("HTTP 404"), "{}", stderr(&out));
}
