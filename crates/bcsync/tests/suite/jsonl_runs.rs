//! JSON lines: every line names the run that wrote it (`_bcsync_run`), and `_state.json`
//! names the run whose snapshot of each full-table stream is current; a run that fails
//! mid-way never becomes current.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use serde_json::Value;

fn lines(dir: &Path, table: &str) -> Vec<Value> {
    std::fs::read_to_string(dir.join(format!("{table}.jsonl")))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Lines per run id.
fn runs(lines: &[Value]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for l in lines {
        let run = l["_bcsync_run"]
            .as_str()
            .unwrap_or_else(|| panic!("a line without _bcsync_run: {l}"));
        *out.entry(run.to_owned()).or_default() += 1;
    }
    out
}

fn state(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("_state.json")).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_run_is_a_marked_snapshot_and_the_state_names_the_current_one() {
    let sb = sandbox(small_store()).await;
    let dir = tempfile::tempdir().unwrap();
    let to = format!("jsonl:{}", dir.path().display());
    for _ in 0..3 {
        let s = extract(&sb, &to, &["brands", "customers"]).await.unwrap();
        assert!(s.failed().is_empty(), "{:?}", s.failed());
        // Run ids have millisecond resolution: keep runs apart.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let brands = lines(dir.path(), "brands");
    let per_run = runs(&brands);
    assert_eq!(per_run.len(), 3, "{per_run:?}");
    assert!(per_run.values().all(|n| *n == 6), "{per_run:?}");
    let latest = per_run.keys().max().unwrap().clone();
    assert_eq!(state(dir.path())["snapshots"]["brands"], latest.as_str());
    // The current snapshot is exactly the store's brands.
    let current: Vec<Value> = brands
        .iter()
        .filter(|l| l["_bcsync_run"] == latest.as_str())
        .map(|l| {
            let mut l = l.clone();
            l.as_object_mut().unwrap().remove("_bcsync_run");
            l
        })
        .collect();
    assert_eq!(
        by_id(&current, "id"),
        by_id(&list_all(&sb, "v3", "/catalog/brands", "").await, "id")
    );
    // Incremental streams append changes only, each line marked too; child tables as well.
    let customers = lines(dir.path(), "customers");
    assert_eq!(customers.len(), 420);
    assert_eq!(runs(&customers).len(), 1);
    assert_eq!(runs(&lines(dir.path(), "customer_addresses")).len(), 1);
    assert!(state(dir.path())["snapshots"].get("customers").is_none());
    assert!(
        state(dir.path())["bookmarks"]["customers"]
            .get("full_read_started")
            .is_none(),
        "{}",
        state(dir.path())
    );

    // A run whose brands read fails does not become current.
    set_faults(&sb, "path=/v3/catalog/brands,500@1..").await;
    let failed = extract(&sb, &to, &["brands", "customers"]).await.unwrap();
    assert_eq!(failed.failed().len(), 1);
    clear_faults(&sb).await;
    assert_eq!(state(dir.path())["snapshots"]["brands"], latest.as_str());
}
