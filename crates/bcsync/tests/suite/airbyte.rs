//! `bcsync airbyte spec|check|discover|read` as a real process against a sandbox, every
//! stdout line checked by the Airbyte protocol's published models (`airbyte-protocol-models`
//! from PyPI, pydantic), which `.ci/run` installs into a virtualenv and names in
//! `BCSYNC_TEST_AIRBYTE_PYTHON`. The validator below parses each line as an
//! `AirbyteMessage` and also refuses fields the models do not declare (they accept extra
//! fields silently) and a message whose payload is not the one its `type` names.
//!
//! Without `BCSYNC_TEST_AIRBYTE_PYTHON` the tests are skipped, except under `CI=true`,
//! where a missing validator is a failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use bc_sandbox::RunningSandbox;
use common::*;
use serde_json::{Value, json};

/// Parses every stdin line as an AirbyteMessage; prints counts by type and the failures.
const VALIDATOR: &str = r#"
import json, sys
from pydantic import BaseModel
from airbyte_protocol.models import AirbyteMessage, AirbyteStateBlob

parse = getattr(AirbyteMessage, "model_validate_json", None) or AirbyteMessage.parse_raw
PAYLOAD = {"RECORD": "record", "STATE": "state", "LOG": "log", "SPEC": "spec",
           "CONNECTION_STATUS": "connectionStatus", "CATALOG": "catalog", "TRACE": "trace"}

def undeclared(m, path):
    """Fields the models do not declare (they allow extras): a misspelt key passes them."""
    out = []
    if isinstance(m, BaseModel) and not isinstance(m, AirbyteStateBlob):
        fields = getattr(type(m), "model_fields", None) or m.__fields__
        extra = getattr(m, "__pydantic_extra__", None) or {}
        out += [path + "." + k for k in extra]
        for k, v in m.__dict__.items():
            if k not in fields:
                out.append(path + "." + k)
            else:
                out += undeclared(v, path + "." + k)
    elif isinstance(m, list):
        for i, v in enumerate(m):
            out += undeclared(v, "%s[%d]" % (path, i))
    return out

counts, errors, lines = {}, [], 0
for line in sys.stdin:
    line = line.rstrip("\n")
    if not line:
        continue
    lines += 1
    try:
        msg = parse(line)
        raw = json.loads(line)
        kind = raw["type"]
        keys = sorted(k for k in raw if k != "type")
        if keys != [PAYLOAD[kind]]:
            raise ValueError("a %s message carries %s" % (kind, keys))
        bad = undeclared(msg, "message")
        if bad:
            raise ValueError("undeclared fields: %s" % bad)
        if kind == "STATE" and (raw["state"].get("type") != "STREAM" or "stream" not in raw["state"]):
            raise ValueError("not a per-stream state")
        if kind == "TRACE" and raw["trace"]["type"] == "ERROR" and "error" not in raw["trace"]:
            raise ValueError("an ERROR trace without its error")
        counts[kind] = counts.get(kind, 0) + 1
    except Exception as e:
        errors.append("%s: %s" % (e, line[:300]))
print(json.dumps({"lines": lines, "counts": counts, "errors": errors[:20]}))
"#;

/// The Python that has `airbyte_protocol`, or `None` to skip (never under CI).
fn python() -> Option<PathBuf> {
    match std::env::var("BCSYNC_TEST_AIRBYTE_PYTHON") {
        Ok(p) if !p.trim().is_empty() => Some(PathBuf::from(p)),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "BCSYNC_TEST_AIRBYTE_PYTHON is not set and CI=true: the Airbyte protocol tests \
                 are never skipped in CI (.ci/run installs airbyte-protocol-models)"
            );
            eprintln!(
                "skipped: set BCSYNC_TEST_AIRBYTE_PYTHON to a Python with airbyte-protocol-models"
            );
            None
        }
    }
}

/// Validates every line of `stdout` with the published models; returns counts by type.
fn validate(python: &Path, stdout: &str) -> BTreeMap<String, usize> {
    let mut child = Command::new(python)
        .args(["-c", VALIDATOR])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let text = stdout.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success(), "validator: {}", output_text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["errors"],
        json!([]),
        "messages the Airbyte models refuse"
    );
    let lines = stdout.lines().filter(|l| !l.is_empty()).count();
    assert_eq!(report["lines"], json!(lines), "every line validated");
    let counts: BTreeMap<String, usize> = serde_json::from_value(report["counts"].clone()).unwrap();
    assert_eq!(counts.values().sum::<usize>(), lines, "{counts:?}");
    counts
}

/// A config file for the sandbox (or with another token).
fn write_config(dir: &Path, sb: &RunningSandbox, token: &str) -> PathBuf {
    let path = dir.join("config.json");
    std::fs::write(
        &path,
        json!({"store_hash": sb.store_hash(), "access_token": token, "base_url": sb.base_url()})
            .to_string(),
    )
    .unwrap();
    path
}

/// `bcsync airbyte ARGS`, with no store settings in the environment (the config file is
/// the only source, as under Airbyte).
async fn airbyte(args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_bcsync"))
            .arg("airbyte")
            .args(&args)
            .env_remove("BIGCOMMERCE_STORE_HASH")
            .env_remove("BIGCOMMERCE_ACCESS_TOKEN")
            .env_remove("BIGCOMMERCE_BASE_URL")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn messages(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// A configured catalog of `tables`, each with its sync mode.
fn configured(dir: &Path, name: &str, tables: &[(&str, &str)]) -> PathBuf {
    let streams: Vec<Value> = tables
        .iter()
        .map(|(t, mode)| {
            json!({"stream": {"name": t, "json_schema": {}, "supported_sync_modes": [mode]},
                   "sync_mode": mode, "destination_sync_mode": "append"})
        })
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, json!({ "streams": streams }).to_string()).unwrap();
    path
}

/// A read's output: stdout validated, then its records by table.
struct Read {
    msgs: Vec<Value>,
    counts: BTreeMap<String, usize>,
}

impl Read {
    fn records(&self, table: &str) -> Vec<&Value> {
        self.msgs
            .iter()
            .filter(|m| m["type"] == "RECORD" && m["record"]["stream"] == table)
            .map(|m| &m["record"]["data"])
            .collect()
    }

    /// Keys of a table's records (`key` of a parent; `parent:key` of a child row).
    fn keys(&self, table: &str, key: &[&str]) -> Vec<String> {
        self.records(table)
            .iter()
            .map(|r| {
                key.iter()
                    .map(|k| r[*k].to_string())
                    .collect::<Vec<_>>()
                    .join(":")
            })
            .collect()
    }

    /// The STATE messages' `state` objects, as the platform passes them back.
    fn states(&self) -> Vec<Value> {
        self.msgs
            .iter()
            .filter(|m| m["type"] == "STATE")
            .map(|m| m["state"].clone())
            .collect()
    }
}

async fn read(
    python: &Path,
    config: &Path,
    catalog: &Path,
    state: Option<&Path>,
    secret: &str,
) -> Read {
    let mut args = vec![
        "read".to_owned(),
        "--config".into(),
        config.display().to_string(),
        "--catalog".into(),
        catalog.display().to_string(),
    ];
    if let Some(s) = state {
        args.extend(["--state".into(), s.display().to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = airbyte(&args).await;
    assert!(out.status.success(), "{}", output_text(&out));
    let text = output_text(&out);
    assert!(!text.contains(secret), "the access token was printed");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let counts = validate(python, &stdout);
    Read {
        msgs: messages(stdout.as_bytes()),
        counts,
    }
}

fn unique(keys: &[String], what: &str) -> BTreeSet<String> {
    let set: BTreeSet<String> = keys.iter().cloned().collect();
    assert_eq!(set.len(), keys.len(), "{what}: a record emitted twice");
    set
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spec_and_help_are_snapshotted_and_valid() {
    let Some(py) = python() else { return };
    let out = airbyte(&["spec"]).await;
    assert!(out.status.success(), "{}", output_text(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(validate(&py, &stdout).get("SPEC"), Some(&1));
    let spec: Value = serde_json::from_str(stdout.trim()).unwrap();
    let props = &spec["spec"]["connectionSpecification"]["properties"];
    assert_eq!(props["access_token"]["airbyte_secret"], json!(true));
    insta::assert_json_snapshot!("airbyte_spec", spec);

    let help = airbyte(&["--help"]).await;
    assert!(help.status.success());
    insta::assert_snapshot!("airbyte_help", String::from_utf8(help.stdout).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_lists_every_table_with_modes_cursor_and_key() {
    let Some(py) = python() else { return };
    let out = airbyte(&["discover"]).await;
    assert!(out.status.success(), "{}", output_text(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(validate(&py, &stdout).get("CATALOG"), Some(&1));
    let cat: Value = serde_json::from_str(stdout.trim()).unwrap();
    let streams = cat["catalog"]["streams"].as_array().unwrap();
    let find = |name: &str| {
        streams
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing from the catalog"))
    };
    for s in bcsync::streams::STREAMS {
        find(s.name);
        for c in s.children {
            find(c.name);
        }
    }
    let orders = find("orders");
    assert_eq!(
        orders["supported_sync_modes"],
        json!(["full_refresh", "incremental"])
    );
    assert_eq!(orders["source_defined_cursor"], json!(true));
    assert_eq!(orders["default_cursor_field"], json!(["date_modified"]));
    assert_eq!(orders["source_defined_primary_key"], json!([["id"]]));
    assert_eq!(orders["json_schema"]["type"], json!("object"));
    let lines = find("order_lines");
    assert_eq!(
        lines["supported_sync_modes"],
        json!(["full_refresh", "incremental"])
    );
    assert_eq!(
        lines["source_defined_primary_key"],
        json!([["order_id"], ["id"]])
    );
    assert!(lines["json_schema"]["properties"]["order_id"].is_object());
    assert_eq!(
        find("brands")["supported_sync_modes"],
        json!(["full_refresh"])
    );
}

/// Every record of every default table, counted against the sandbox's own API answers;
/// and the read costs the requests `extract` costs on the same store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_refresh_read_matches_the_store_with_extract_requests() {
    let Some(py) = python() else { return };
    let sb = sandbox(small_store()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sb, sb.token());
    let tables: Vec<(&str, &str)> = bcsync::streams::STREAMS
        .iter()
        .filter(|s| s.on_request.is_none())
        .flat_map(|s| std::iter::once(s.name).chain(s.children.iter().map(|c| c.name)))
        .map(|t| (t, "full_refresh"))
        .collect();
    let catalog = configured(dir.path(), "full.json", &tables);
    let mark = last_seq(&sb);
    let run = read(&py, &config, &catalog, None, sb.token()).await;
    let (airbyte_requests, airbyte_clock) = requests_since(&sb, mark);
    assert!(!run.counts.contains_key("TRACE"), "{:?}", run.counts);

    let parents: &[(&str, &str, &str, &str, &str)] = &[
        ("customers", "v3", "/customers", "", "id"),
        ("products", "v3", "/catalog/products", "", "id"),
        ("orders", "v2", "/orders", "", "id"),
        ("brands", "v3", "/catalog/brands", "", "id"),
        (
            "categories",
            "v3",
            "/catalog/trees/categories",
            "",
            "category_id",
        ),
        ("coupons", "v2", "/coupons", "", "id"),
        ("channels", "v3", "/channels", "", "id"),
        ("customer_groups", "v2", "/customer_groups", "", "id"),
        ("refunds", "v3", "/orders/payment_actions/refunds", "", "id"),
        ("subscribers", "v3", "/customers/subscribers", "", "id"),
        ("pages", "v3", "/content/pages", "", "id"),
        ("promotions", "v3", "/promotions", "", "id"),
    ];
    for (table, v, p, q, key) in parents {
        let truth: BTreeSet<String> = list_all(&sb, v, p, q)
            .await
            .iter()
            .map(|r| r[*key].to_string())
            .collect();
        let got = unique(&run.keys(table, &[key]), table);
        assert_eq!(got, truth, "{table}: records differ from the store");
    }
    assert_eq!(run.records("store").len(), 1);

    // Children: one record per embedded item, as the API embeds them.
    let products = list_all(&sb, "v3", "/catalog/products", "include=variants,images").await;
    let embedded = |field: &str| -> usize {
        products
            .iter()
            .map(|p| p[field].as_array().map_or(0, Vec::len))
            .sum()
    };
    assert_eq!(run.records("product_variants").len(), embedded("variants"));
    assert_eq!(run.records("product_images").len(), embedded("images"));
    let customers = list_all(&sb, "v3", "/customers", "include=addresses").await;
    let addresses: usize = customers
        .iter()
        .map(|c| c["addresses"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(run.records("customer_addresses").len(), addresses);
    let orders = list_all(&sb, "v2", "/orders", "").await;
    let mut lines = 0usize;
    for o in &orders {
        lines += list_all(&sb, "v2", &format!("/orders/{}/products", o["id"]), "")
            .await
            .len();
    }
    assert_eq!(run.records("order_lines").len(), lines);
    assert!(lines >= orders.len());
    let transactions = store_transactions(&sb, &orders).await.len();
    assert_eq!(run.records("transactions").len(), transactions);
    let inventory_rows: usize = list_all(&sb, "v3", "/inventory/items", "")
        .await
        .iter()
        .map(|i| i["locations"].as_array().map_or(1, Vec::len))
        .sum();
    assert_eq!(run.records("inventory_items").len(), inventory_rows);

    // The same engine: order lines inside the orders pages, the same requests as extract.
    let mark = last_seq(&sb);
    let db = dir.path().join("x.db");
    let summary = extract(&sb, &format!("sqlite:{}", db.display()), &[])
        .await
        .unwrap();
    assert!(summary.failed().is_empty());
    let (extract_requests, extract_clock) = requests_since(&sb, mark);
    // The store's clock is asked once per run at most: the read asks it first (its
    // connection check) and passes it on; the library asks when it first cuts a window.
    assert_eq!(airbyte_clock, 1);
    assert!(extract_clock <= 1, "{extract_clock} GET /v2/time");
    assert_eq!(
        airbyte_requests - airbyte_clock,
        extract_requests - extract_clock
    );
    let order_product_lists = sb
        .state
        .log
        .entries()
        .iter()
        .filter(|e| e.path.ends_with("/products") && e.path.contains("/v2/orders/"))
        .count();
    assert_eq!(
        order_product_lists,
        orders.len(),
        "only the test's own reads"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_reads_resume_without_duplicates() {
    let Some(py) = python() else { return };
    let sb = sandbox(small_store()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sb, sb.token());
    let tables = [
        ("customers", "incremental"),
        ("products", "incremental"),
        ("product_variants", "incremental"),
        ("orders", "incremental"),
        ("order_lines", "incremental"),
    ];
    let catalog = configured(dir.path(), "inc.json", &tables);
    let first = read(&py, &config, &catalog, None, sb.token()).await;
    let all_customers = unique(&first.keys("customers", &["id"]), "customers");
    let all_orders = unique(&first.keys("orders", &["id"]), "orders");
    unique(
        &first.keys("order_lines", &["order_id", "id"]),
        "order_lines",
    );
    assert_eq!(all_customers.len(), 420);
    assert!(first.counts["STATE"] >= 5, "{:?}", first.counts);

    // Resumed from a mid-run STATE (after the first page of customers; after the first
    // page of orders, whose order_lines STATE comes with it): the platform passes back
    // every STATE it received so far. For each table, nothing emitted before its last
    // STATE comes again, and together the two runs emit each record once.
    let keys_of = |table: &str| -> &[&str] {
        match table {
            "order_lines" => &["order_id", "id"],
            "product_variants" => &["product_id", "id"],
            _ => &["id"],
        }
    };
    for cut_table in ["customers", "orders"] {
        let is_state = |m: &Value| m["type"] == "STATE";
        let first_state = first
            .msgs
            .iter()
            .position(|m| {
                is_state(m) && m["state"]["stream"]["stream_descriptor"]["name"] == cut_table
            })
            .unwrap();
        // The rest of that page's STATE messages (one per selected table of the stream).
        let end = first_state
            + first.msgs[first_state..]
                .iter()
                .take_while(|m| is_state(m))
                .count();
        let prefix = &first.msgs[..end];
        let state_file = dir.path().join(format!("mid-{cut_table}.json"));
        let states: Vec<Value> = prefix
            .iter()
            .filter(|m| is_state(m))
            .map(|m| m["state"].clone())
            .collect();
        std::fs::write(&state_file, Value::Array(states).to_string()).unwrap();
        let resumed = read(&py, &config, &catalog, Some(&state_file), sb.token()).await;
        for (table, _) in tables {
            let key = keys_of(table);
            let last_state = prefix.iter().rposition(|m| {
                is_state(m) && m["state"]["stream"]["stream_descriptor"]["name"] == table
            });
            let before: Vec<String> = prefix[..last_state.unwrap_or(0)]
                .iter()
                .filter(|m| m["type"] == "RECORD" && m["record"]["stream"] == table)
                .map(|m| {
                    key.iter()
                        .map(|k| m["record"]["data"][*k].to_string())
                        .collect::<Vec<_>>()
                        .join(":")
                })
                .collect();
            if table == cut_table || (cut_table == "orders" && table == "order_lines") {
                assert!(
                    !before.is_empty(),
                    "{table}: records before its first STATE"
                );
            }
            let again = unique(&resumed.keys(table, key), table);
            let before = unique(&before, table);
            assert!(
                again.is_disjoint(&before),
                "{table} (cut after {cut_table}): a resumed read emitted records already emitted before its STATE"
            );
            let total: BTreeSet<String> = again.union(&before).cloned().collect();
            let everything = unique(&first.keys(table, key), table);
            assert_eq!(total, everything, "{table}: records lost between the runs");
        }
    }

    // A child table configured without its parent: the orders pages are read, only the
    // lines are emitted, and a resume from the lines' own first STATE doubles none.
    let lines_only = configured(dir.path(), "lines.json", &[("order_lines", "incremental")]);
    let alone = read(&py, &config, &lines_only, None, sb.token()).await;
    assert!(alone.records("orders").is_empty());
    let key = &["order_id", "id"];
    assert_eq!(
        unique(&alone.keys("order_lines", key), "order_lines"),
        unique(&first.keys("order_lines", key), "order_lines")
    );
    let cut = alone
        .msgs
        .iter()
        .position(|m| m["type"] == "STATE")
        .unwrap();
    let state_file = dir.path().join("lines-state.json");
    std::fs::write(&state_file, json!([alone.msgs[cut]["state"]]).to_string()).unwrap();
    let before: Vec<String> = alone.msgs[..cut]
        .iter()
        .filter(|m| m["type"] == "RECORD")
        .map(|m| {
            format!(
                "{}:{}",
                m["record"]["data"]["order_id"], m["record"]["data"]["id"]
            )
        })
        .collect();
    let resumed = read(&py, &config, &lines_only, Some(&state_file), sb.token()).await;
    let again = unique(&resumed.keys("order_lines", key), "order_lines");
    let before = unique(&before, "order_lines");
    assert!(!before.is_empty() && again.is_disjoint(&before));
    assert_eq!(
        again.len() + before.len(),
        alone.records("order_lines").len()
    );

    // Changes, several in one second; the next read from the last state emits exactly the
    // changed records, once.
    change_between_runs(&sb).await;
    let state_file = dir.path().join("last.json");
    std::fs::write(&state_file, Value::Array(first.states()).to_string()).unwrap();
    let second = read(&py, &config, &catalog, Some(&state_file), sb.token()).await;
    let customers = unique(&second.keys("customers", &["id"]), "customers");
    let names: BTreeSet<String> = second
        .records("customers")
        .iter()
        .map(|c| c["first_name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(customers.len(), 5, "{customers:?}");
    assert_eq!(
        names,
        ["Changed1", "Changed2", "Changed3", "New"]
            .map(str::to_owned)
            .into()
    );
    assert_eq!(
        unique(&second.keys("products", &["id"]), "products"),
        ["1", "2"].map(str::to_owned).into()
    );
    let variants = second.records("product_variants");
    assert!(!variants.is_empty());
    assert!(
        variants
            .iter()
            .all(|v| v["product_id"] == 1 || v["product_id"] == 2)
    );
    assert_eq!(
        unique(&second.keys("orders", &["id"]), "orders"),
        ["1"].map(str::to_owned).into()
    );
    let lines = unique(
        &second.keys("order_lines", &["order_id", "id"]),
        "order_lines",
    );
    assert!(!lines.is_empty() && lines.iter().all(|l| l.starts_with("1:")));
    assert!(all_orders.contains("1"));

    // And a third read from the second's state emits nothing.
    let mut states = first.states();
    states.extend(second.states());
    std::fs::write(&state_file, Value::Array(states).to_string()).unwrap();
    let third = read(&py, &config, &catalog, Some(&state_file), sb.token()).await;
    assert_eq!(third.counts.get("RECORD"), None, "{:?}", third.counts);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_the_fix_and_never_prints_the_token() {
    let Some(py) = python() else { return };
    let sb = sandbox(small_store()).await;
    let dir = tempfile::tempdir().unwrap();
    let wrong = "wrong-token-5f1d2c9a8b7e";
    let config = write_config(dir.path(), &sb, wrong);
    let config_arg = config.display().to_string();
    let out = airbyte(&["check", "--config", &config_arg]).await;
    // Airbyte's convention: a failed check is a message, not an exit code.
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(!output_text(&out).contains(wrong), "the token was printed");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(validate(&py, &stdout).get("CONNECTION_STATUS"), Some(&1));
    let status: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(status["connectionStatus"]["status"], "FAILED");
    let message = status["connectionStatus"]["message"].as_str().unwrap();
    assert!(
        message.contains("access_token") && message.contains("401"),
        "{message}"
    );

    // A read with it: a TRACE config error, exit 1, no token either.
    let catalog = configured(dir.path(), "c.json", &[("brands", "full_refresh")]);
    let catalog_arg = catalog.display().to_string();
    let out = airbyte(&["read", "--config", &config_arg, "--catalog", &catalog_arg]).await;
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(!output_text(&out).contains(wrong), "the token was printed");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(validate(&py, &stdout).get("TRACE"), Some(&1));
    let trace: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(trace["trace"]["error"]["failure_type"], "config_error");
    assert!(
        trace["trace"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("access_token")
    );

    // The right token: SUCCEEDED, and still never printed.
    let good = write_config(dir.path(), &sb, sb.token());
    let out = airbyte(&["check", "--config", &good.display().to_string()]).await;
    assert!(out.status.success());
    assert!(!output_text(&out).contains(sb.token()));
    let stdout = String::from_utf8(out.stdout).unwrap();
    validate(&py, &stdout);
    let status: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(
        status["connectionStatus"]["status"], "SUCCEEDED",
        "{status}"
    );

    // A token of the wrong type: FAILED, and the value is not quoted.
    std::fs::write(
        &config,
        json!({"store_hash": sb.store_hash(), "access_token": 918273645546372819_u64}).to_string(),
    )
    .unwrap();
    let out = airbyte(&["check", "--config", &config_arg]).await;
    assert!(out.status.success());
    assert!(!output_text(&out).contains("918273645546372819"));
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["connectionStatus"]["status"], "FAILED");

    // A config without a token: FAILED, naming the field to add.
    std::fs::write(
        &config,
        json!({"store_hash": sb.store_hash(), "base_url": sb.base_url()}).to_string(),
    )
    .unwrap();
    let out = airbyte(&["check", "--config", &config_arg]).await;
    assert!(out.status.success());
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["connectionStatus"]["status"], "FAILED");
    assert!(
        status["connectionStatus"]["message"]
            .as_str()
            .unwrap()
            .contains("access_token")
    );
}

/// `channels` in the config restricts the read as `extract --channel` does: orders of
/// channel 2 only (the API's own filter), customers whose `channel_ids` hold 2 or are null.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_in_the_config_restrict_the_read() {
    let Some(python) = python() else { return };
    let sb = sandbox(small_store()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    std::fs::write(
        &config,
        json!({"store_hash": sb.store_hash(), "access_token": sb.token(),
               "base_url": sb.base_url(), "channels": [2]})
        .to_string(),
    )
    .unwrap();
    let catalog = configured(
        dir.path(),
        "catalog.json",
        &[("orders", "full_refresh"), ("customers", "full_refresh")],
    );
    let got = read(&python, &config, &catalog, None, sb.token()).await;

    let mut want_orders: Vec<String> = list_all(&sb, "v2", "/orders", "")
        .await
        .iter()
        .filter(|o| o["channel_id"] == 2)
        .map(|o| o["id"].to_string())
        .collect();
    assert!(!want_orders.is_empty(), "the seed has channel 2 orders");
    let mut orders = got.keys("orders", &["id"]);
    orders.sort();
    want_orders.sort();
    assert_eq!(orders, want_orders);

    let mut want_customers: Vec<String> = list_all(&sb, "v3", "/customers", "")
        .await
        .iter()
        .filter(|c| match c["channel_ids"].as_array() {
            None => true,
            Some(ids) => ids.iter().any(|i| i == 2),
        })
        .map(|c| c["id"].to_string())
        .collect();
    let mut customers = got.keys("customers", &["id"]);
    customers.sort();
    want_customers.sort();
    assert_eq!(customers, want_customers);
}

fn last_seq(sb: &RunningSandbox) -> u64 {
    sb.state.log.entries().last().map_or(0, |e| e.seq)
}

/// Requests the sandbox answered after `mark`, and how many of them read its clock.
fn requests_since(sb: &RunningSandbox, mark: u64) -> (usize, usize) {
    let since: Vec<_> = sb
        .state
        .log
        .entries()
        .into_iter()
        .filter(|e| e.seq > mark)
        .collect();
    let clock = since
        .iter()
        .filter(|e| e.path.ends_with("/v2/time"))
        .count();
    (since.len(), clock)
}
