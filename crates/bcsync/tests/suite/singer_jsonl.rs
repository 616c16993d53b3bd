//! Singer output (real process, stdout parsed): SCHEMA before RECORDs, every RECORD valid
//! against its SCHEMA, STATE after pages, nothing else on stdout; and JSON lines files with
//! their state.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::HashMap;
use std::process::Command;

use common::*;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn singer_records_validate_against_their_schema() {
    let sb = sandbox(small_store()).await;
    let out = tokio::task::spawn_blocking({
        let (url, hash, token) = (
            sb.base_url(),
            sb.store_hash().to_owned(),
            sb.token().to_owned(),
        );
        move || {
            Command::new(env!("CARGO_BIN_EXE_bcsync"))
                .args(["extract", "--to", "singer", "--base-url", &url])
                .env("BIGCOMMERCE_STORE_HASH", hash)
                .env("BIGCOMMERCE_ACCESS_TOKEN", token)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        !stdout.contains(sb.token()),
        "the token must never reach stdout"
    );
    let mut validators: HashMap<String, jsonschema::Validator> = HashMap::new();
    let mut records: HashMap<String, usize> = HashMap::new();
    let mut states = 0;
    for line in stdout.lines() {
        let msg: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
        match msg["type"].as_str().unwrap() {
            "SCHEMA" => {
                let v = jsonschema::validator_for(&msg["schema"]).unwrap();
                validators.insert(msg["stream"].as_str().unwrap().to_owned(), v);
            }
            "RECORD" => {
                let stream = msg["stream"].as_str().unwrap();
                let v = validators
                    .get(stream)
                    .unwrap_or_else(|| panic!("RECORD for {stream} before its SCHEMA"));
                if let Err(e) = v.validate(&msg["record"]) {
                    panic!(
                        "{stream} record does not match its schema: {e}\n{}",
                        msg["record"]
                    );
                }
                *records.entry(stream.to_owned()).or_default() += 1;
            }
            "STATE" => {
                states += 1;
                assert!(msg["value"]["bookmarks"].is_object());
            }
            other => panic!("unexpected message type {other}"),
        }
    }
    assert_eq!(records.get("customers"), Some(&420));
    assert_eq!(
        records.get("orders"),
        Some(&list_all(&sb, "v2", "/orders", "").await.len())
    );
    assert!(records.get("order_lines").copied().unwrap_or(0) >= 560);
    assert!(states >= 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn singer_discover_lists_every_stream() {
    let out = Command::new(env!("CARGO_BIN_EXE_bcsync"))
        .args(["--discover"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let cat: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = cat["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stream"].as_str().unwrap())
        .collect();
    for s in bcsync::streams::STREAMS {
        assert!(names.contains(&s.name), "{}", s.name);
    }
    assert!(names.contains(&"order_lines"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jsonl_files_and_state() {
    let sb = sandbox(small_store()).await;
    let dir = tempfile::tempdir().unwrap();
    let to = format!("jsonl:{}", dir.path().display());
    extract(&sb, &to, &["customers", "orders"]).await.unwrap();
    let lines = |name: &str| {
        std::fs::read_to_string(dir.path().join(format!("{name}.jsonl")))
            .unwrap()
            .lines()
            .count()
    };
    assert_eq!(lines("customers"), 420);
    let orders = lines("orders");
    assert!(orders > 0);
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("_state.json")).unwrap())
            .unwrap();
    assert!(
        state["bookmarks"]["customers"]["bookmark"].is_string(),
        "{state}"
    );
    // A second run of an unchanged store appends nothing.
    extract(&sb, &to, &["customers", "orders"]).await.unwrap();
    assert_eq!(lines("customers"), 420);
    assert_eq!(lines("orders"), orders);
}
