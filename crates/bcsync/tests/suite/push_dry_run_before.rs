//! Dry-run "before" values are the store's (issue 9, item 20): a record changed in the
//! store since bcsync wrote it, and one bcsync never wrote, show what the store holds now
//! (not what bcsync last sent, nor `∅`); the values are read with batched `id:in` /
//! `email:in` lookups, and a dry run writes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::push_support;

use push_support::*;
use serde_json::{Value, json};

const CUSTOMERS: &str = "[sync.mapping]\nmail = \"email\"\ngiven = \"first_name\"\nfamily = \"last_name\"\nfirm = \"company\"\n";

fn csv(rows: &[(usize, &str)]) -> String {
    let mut s = String::from("mail,given,family,firm\n");
    for (i, family) in rows {
        s.push_str(&format!("c{i}@example.com,Given{i},{family},Firm\n"));
    }
    s
}

on_both! {
#[tokio::test]
async fn before_values_come_from_the_store(backend: Backend) {
    let Some((sb, h)) = Harness::start(backend).await else {
        return;
    };
    let mut rows: Vec<(usize, &str)> = (0..60).map(|i| (i, "Family")).collect();
    h.write("c.csv", &csv(&rows));
    let sync = h.sync("dry", "customers", "upsert", "email", "c.csv", CUSTOMERS, "");
    let out = h.push(&sync, Flags::default()).await;
    assert_eq!(out.run.counts["created"], 60);

    // Changed in the store directly: c1's last name, c2's company.
    let all = common::list_all(&sb, "v3", "/customers", "").await;
    let id_of = |email: &str| all.iter().find(|c| c["email"] == email).unwrap()["id"].clone();
    let (status, _) = common::api(
        &sb,
        reqwest::Method::PUT,
        "/v3/customers",
        Some(json!([
            {"id": id_of("c1@example.com"), "last_name": "InStore"},
            {"id": id_of("c2@example.com"), "company": "StoreCo"},
        ])),
    )
    .await;
    assert_eq!(status, 200);
    // A customer bcsync never wrote, already in the store.
    let (status, _) = common::api(
        &sb,
        reqwest::Method::POST,
        "/v3/customers",
        Some(json!([{"email": "c60@example.com", "first_name": "Given60", "last_name": "Existing", "company": "Old"}])),
    )
    .await;
    assert_eq!(status, 200);

    // Every tracked row changes (55 of them: two id:in reads), plus the untracked one.
    for r in rows.iter_mut().take(55) {
        r.1 = "Renamed";
    }
    rows.push((60, "Source"));
    h.write("c.csv", &csv(&rows));
    let (w0, r0) = (writes(&sb), reads(&sb));
    let out = h.dry_run(&sync).await;
    assert_eq!(writes(&sb), w0, "a dry run writes nothing");
    // One email:in lookup for the untracked row, two id:in reads for the 55 tracked ones.
    assert_eq!(reads(&sb) - r0, 3);
    let change = |key: &str, field: &str| -> (Value, Value) {
        let p = out.plan.iter().find(|p| p.key == key).unwrap_or_else(|| panic!("{key} not planned"));
        let c = p
            .changes
            .iter()
            .find(|c| c.field == field)
            .unwrap_or_else(|| panic!("{key}: no change of {field}: {:?}", p.changes));
        (c.before.clone(), c.after.clone())
    };
    assert_eq!(change("c1@example.com", "last_name"), (json!("InStore"), json!("Renamed")));
    assert_eq!(change("c2@example.com", "company"), (json!("StoreCo"), json!("Firm")));
    assert_eq!(change("c3@example.com", "last_name"), (json!("Family"), json!("Renamed")));
    assert_eq!(change("c60@example.com", "last_name"), (json!("Existing"), json!("Source")));
    assert_eq!(change("c60@example.com", "company"), (json!("Old"), json!("Firm")));
    let untouched = out.plan.iter().find(|p| p.key == "c60@example.com").unwrap();
    assert!(
        !untouched.changes.iter().any(|c| c.field == "first_name"),
        "a field the store already holds is no change: {:?}",
        untouched.changes
    );
}
}
