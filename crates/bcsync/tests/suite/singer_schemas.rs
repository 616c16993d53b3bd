//! Singer SCHEMA messages describe whole records (issue 9, item 4): every key of every
//! RECORD, nested ones included, is declared in its stream's SCHEMA with a type the value
//! matches; dates are ISO 8601; only selected streams and child tables are emitted, in tap
//! mode (catalog) and with `extract --streams`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Output;
use std::sync::Arc;

use bc_sandbox::{RunningSandbox, SeedSpec};
use common::*;
use serde_json::{Value, json};

/// A store with a few pages' worth of every stream, small enough to extract fast.
fn store() -> SeedSpec {
    SeedSpec {
        customers: 60,
        products: 40,
        orders: 80,
        coupons: 12,
        ..small_store()
    }
}

fn run(sb: &RunningSandbox, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let out = bcsync_in(sb, dir.path(), args).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    out
}

/// Singer messages on stdout, parsed.
fn messages(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// Stream names of the messages of one type, deduplicated.
fn streams_of(msgs: &[Value], kind: &str) -> BTreeSet<String> {
    msgs.iter()
        .filter(|m| m["type"] == kind)
        .map(|m| m["stream"].as_str().unwrap().to_owned())
        .collect()
}

/// Paths of keys in `record` that `schema` does not declare (recursively, through
/// `properties` and `items`); dates that are not ISO 8601 are reported too.
fn undeclared(record: &Value, schema: &Value, path: &str, out: &mut Vec<String>) {
    match record {
        Value::Object(map) => {
            for (k, v) in map {
                let here = format!("{path}.{k}");
                match schema["properties"].get(k) {
                    Some(s) => undeclared(v, s, &here, out),
                    None => out.push(here),
                }
            }
        }
        Value::Array(items) => {
            for i in items {
                undeclared(i, &schema["items"], &format!("{path}[]"), out);
            }
        }
        Value::String(s)
            if schema["format"] == "date-time"
                && chrono::DateTime::parse_from_rfc3339(s).is_err() =>
        {
            out.push(format!("{path} = {s:?} is not ISO 8601"));
        }
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_key_is_declared_and_every_record_validates() {
    let sb = Arc::new(sandbox(store()).await);
    // Every stream by name, so the on-request ones (metafields) are checked too.
    let every: Vec<&str> = bcsync::streams::STREAMS.iter().map(|s| s.name).collect();
    let every = every.join(",");
    let msgs = tokio::task::spawn_blocking({
        let sb = sb.clone();
        move || {
            messages(&run(
                &sb,
                &["extract", "--to", "singer", "--streams", &every],
            ))
        }
    })
    .await
    .unwrap();
    let mut schemas: BTreeMap<String, (Value, jsonschema::Validator)> = BTreeMap::new();
    let mut records: BTreeMap<String, usize> = BTreeMap::new();
    let mut problems: BTreeSet<String> = BTreeSet::new();
    let mut dates_seen = 0;
    for m in &msgs {
        let stream = m["stream"].as_str().unwrap_or_default().to_owned();
        match m["type"].as_str().unwrap() {
            "SCHEMA" => {
                let v = jsonschema::options()
                    .should_validate_formats(true)
                    .build(&m["schema"])
                    .unwrap();
                schemas.insert(stream, (m["schema"].clone(), v));
            }
            "RECORD" => {
                let (schema, validator) = &schemas[&stream];
                if let Err(e) = validator.validate(&m["record"]) {
                    problems.insert(format!("{stream}: {e}"));
                }
                let mut bad = Vec::new();
                undeclared(&m["record"], schema, &stream, &mut bad);
                problems.extend(bad);
                for (k, s) in schema["properties"].as_object().unwrap() {
                    if s["format"] == "date-time" && m["record"][k].is_string() {
                        dates_seen += 1;
                    }
                }
                *records.entry(stream).or_default() += 1;
            }
            _ => {}
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    // Every stream and child table had records to check (a stream absent from the output
    // would pass vacuously).
    for s in bcsync::streams::STREAMS {
        for name in std::iter::once(s.name).chain(s.children.iter().map(|c| c.name)) {
            assert!(
                records.get(name).copied().unwrap_or(0) > 0,
                "no {name} records"
            );
        }
    }
    assert!(dates_seen > 0);
    // The records are the API's records: orders keep all their fields (the issue found 11
    // declared of 74), with V2 dates and money converted.
    let order = msgs
        .iter()
        .find(|m| m["type"] == "RECORD" && m["stream"] == "orders")
        .unwrap();
    let (order_schema, _) = &schemas["orders"];
    assert!(order_schema["properties"].as_object().unwrap().len() >= 70);
    assert!(order["record"].as_object().unwrap().len() >= 70);
    let created = order["record"]["date_created"].as_str().unwrap();
    assert!(created.ends_with('Z') && created.contains('T'), "{created}");
    assert!(order["record"]["total_inc_tax"].is_number());
    let raw = list_all(&sb, "v2", "/orders", "").await;
    let raw_order = raw
        .iter()
        .find(|o| o["id"] == order["record"]["id"])
        .unwrap();
    let api_total: f64 = raw_order["total_inc_tax"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(order["record"]["total_inc_tax"].as_f64(), Some(api_total));
    let api_created =
        bigcommerce::dates::parse_v2(raw_order["date_created"].as_str().unwrap()).unwrap();
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(created).unwrap(),
        api_created
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_schema_snapshot() {
    let sb = sandbox(SeedSpec {
        customers: 2,
        products: 2,
        orders: 2,
        ..small_store()
    })
    .await;
    let msgs = tokio::task::spawn_blocking(move || {
        messages(&run(
            &sb,
            &["extract", "--to", "singer", "--streams", "orders"],
        ))
    })
    .await
    .unwrap();
    let schema = msgs
        .iter()
        .find(|m| m["type"] == "SCHEMA" && m["stream"] == "orders")
        .unwrap();
    insta::assert_json_snapshot!("orders_schema_message", schema);
}

/// A catalog as `--discover` prints it, with `selected` set on the named entries only.
fn catalog_selecting(names: &[&str]) -> Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bcsync"))
        .arg("--discover")
        .output()
        .unwrap();
    let mut cat: Value = serde_json::from_slice(&out.stdout).unwrap();
    for entry in cat["streams"].as_array_mut().unwrap() {
        let name = entry["tap_stream_id"]
            .as_str()
            .or(entry["stream"].as_str())
            .unwrap()
            .to_owned();
        let selected = names.contains(&name.as_str());
        let metadata = entry["metadata"].as_array_mut().unwrap();
        match metadata
            .iter_mut()
            .find(|m| m["breadcrumb"].as_array().is_some_and(Vec::is_empty))
        {
            Some(m) => m["metadata"]["selected"] = json!(selected),
            None => metadata.push(json!({"breadcrumb": [], "metadata": {"selected": selected}})),
        }
    }
    cat
}

/// Runs tap mode with a catalog selecting `names`; returns the Singer messages.
fn tap_with_catalog(sb: &RunningSandbox, names: &[&str]) -> Vec<Value> {
    messages(&tap_with_catalog_and_state(sb, names, None))
}

/// The tap run with a catalog selecting `names`, resuming from `state` (a STATE value).
fn tap_with_catalog_and_state(
    sb: &RunningSandbox,
    names: &[&str],
    state: Option<&Value>,
) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tap.json");
    std::fs::write(
        &config,
        json!({"store_hash": sb.store_hash(), "access_token": sb.token(), "base_url": sb.base_url()})
            .to_string(),
    )
    .unwrap();
    let catalog = dir.path().join("catalog.json");
    std::fs::write(&catalog, catalog_selecting(names).to_string()).unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_bcsync"));
    cmd.arg("--config")
        .arg(&config)
        .arg("--catalog")
        .arg(&catalog)
        .env_remove("BIGCOMMERCE_ACCESS_TOKEN")
        .env_remove("BIGCOMMERCE_STORE_HASH");
    if let Some(state) = state {
        let path = dir.path().join("state.json");
        std::fs::write(&path, state.to_string()).unwrap();
        cmd.arg("--state").arg(&path);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    out
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_selected_child_streams_are_emitted() {
    let sb = sandbox(SeedSpec {
        customers: 20,
        products: 5,
        orders: 10,
        ..small_store()
    })
    .await;
    tokio::task::spawn_blocking(move || {
        // Catalog: customers alone emits no customer_addresses & co.
        let msgs = tap_with_catalog(&sb, &["customers"]);
        assert_eq!(streams_of(&msgs, "SCHEMA"), set(&["customers"]));
        assert_eq!(streams_of(&msgs, "RECORD"), set(&["customers"]));
        // A first run's STATE carries no `full_read_started`: it matters to SQL
        // destinations only, and a Singer target would keep it forever.
        let states: Vec<&Value> = msgs.iter().filter(|m| m["type"] == "STATE").collect();
        assert!(!states.is_empty());
        for m in states {
            assert!(!m.to_string().contains("full_read_started"), "{m}");
        }

        // Catalog: a child table alone is read from its parent's pages; the parent's records
        // are not emitted, its bookmark is, with the tables it covers.
        let msgs = tap_with_catalog(&sb, &["customers", "order_lines"]);
        assert_eq!(
            streams_of(&msgs, "SCHEMA"),
            set(&["customers", "order_lines"])
        );
        assert_eq!(
            streams_of(&msgs, "RECORD"),
            set(&["customers", "order_lines"])
        );
        let last_state = msgs.iter().rev().find(|m| m["type"] == "STATE").unwrap();
        assert!(
            last_state["value"]["bookmarks"]["orders"].is_object(),
            "{last_state}"
        );
        assert_eq!(
            last_state["value"]["bookmarks"]["orders"]["emitted_tables"],
            json!(["order_lines"]),
            "{last_state}"
        );
        // A later run selecting the orders themselves cannot resume from that bookmark
        // (the orders before it were never emitted): it reads orders from the beginning.
        let out = tap_with_catalog_and_state(&sb, &["orders"], Some(&last_state["value"]));
        let again = messages(&out);
        let orders = again
            .iter()
            .filter(|m| m["type"] == "RECORD" && m["stream"] == "orders")
            .count();
        assert_eq!(orders, 10, "every order is emitted");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("orders: read from the beginning"),
            "{}",
            output_text(&out)
        );
        // Resuming with the same selection does not start over.
        let state = again.iter().rev().find(|m| m["type"] == "STATE").unwrap();
        let out = tap_with_catalog_and_state(&sb, &["orders"], Some(&state["value"]));
        let orders = messages(&out)
            .iter()
            .filter(|m| m["type"] == "RECORD" && m["stream"] == "orders")
            .count();
        assert!(
            orders < 10,
            "an incremental rerun re-reads at most the bookmark's orders"
        );

        // `extract --streams`: a stream comes with its child tables...
        let out = run(
            &sb,
            &["extract", "--to", "singer", "--streams", "customers"],
        );
        assert_eq!(
            streams_of(&messages(&out), "SCHEMA"),
            set(&[
                "customers",
                "customer_addresses",
                "customer_attribute_values",
                "customer_form_fields"
            ])
        );
        // ...unless some of them are named, then with those only.
        let out = run(
            &sb,
            &[
                "extract",
                "--to",
                "singer",
                "--streams",
                "customers,customer_addresses",
            ],
        );
        let msgs = messages(&out);
        assert_eq!(
            streams_of(&msgs, "SCHEMA"),
            set(&["customers", "customer_addresses"])
        );
        assert_eq!(
            streams_of(&msgs, "RECORD"),
            set(&["customers", "customer_addresses"])
        );
    })
    .await
    .unwrap();
}
