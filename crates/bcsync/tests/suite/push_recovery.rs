//! Creates recovered after a crash (issue 9, item 6): a create left `attempting` whose
//! record landed is found by lookup and, when the store already holds what the row maps
//! to, recorded without any write and counted as `recovered`; only a real difference is
//! sent as an update.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::push_support;

use bcsync::state::push::{TrackStatus, Tracked};
use push_support::*;
use serde_json::{Value, json};

const CUSTOMERS: &str =
    "[sync.mapping]\nmail = \"email\"\ngiven = \"first_name\"\nfamily = \"last_name\"\n";

on_both! {
#[tokio::test]
async fn landed_creates_are_recovered_without_writes(backend: Backend) {
    let Some((sb, h)) = Harness::start(backend).await else {
        return;
    };
    let mut csv = String::from("mail,given,family\n");
    for i in 0..12 {
        csv.push_str(&format!("c{i}@example.com,Given{i},Family{i}\n"));
    }
    h.write("c.csv", &csv);
    let sync = h.sync("rec", "customers", "upsert", "email", "c.csv", CUSTOMERS, "");
    // The state a kill -9 leaves: 12 intents recorded, 8 creates landed (one of them,
    // c7, since changed in the store), outcomes never recorded.
    let landed: Vec<Value> = (0..8)
        .map(|i| {
            let family = if i == 7 { "Changed".to_owned() } else { format!("Family{i}") };
            json!({"email": format!("c{i}@example.com"), "first_name": format!("Given{i}"), "last_name": family})
        })
        .collect();
    let (status, _) =
        common::api(&sb, reqwest::Method::POST, "/v3/customers", Some(Value::Array(landed))).await;
    assert_eq!(status, 200);
    {
        let mut store = h.open_store();
        let intents: Vec<Tracked> = (0..12)
            .map(|i| Tracked {
                key: format!("c{i}@example.com"),
                hash: Some("from-the-crashed-run".into()),
                bc_id: None,
                status: TrackStatus::Attempting,
                fields: None,
            })
            .collect();
        store.put("rec", &intents).unwrap();
    }
    let w0 = write_log(&sb).len();
    let out = h.push(&sync, Flags::default()).await;
    assert!(out.run.rejected.is_empty(), "{:?}", out.run.rejected);
    let counts = &out.run.counts;
    assert_eq!(
        (counts["recovered"], counts["updated"], counts["created"]),
        (7, 1, 4),
        "{counts:?}"
    );
    // One PUT (for c7 alone) and one POST of the four missing: no unchanged PUTs.
    let methods: Vec<String> = write_log(&sb)[w0..].iter().map(|(m, _)| m.clone()).collect();
    assert_eq!(methods, vec!["PUT", "POST"]);
    assert_eq!((out.run.write_requests, out.run.lookup_requests), (2, 1));
    let all = common::list_all(&sb, "v3", "/customers", "").await;
    assert_eq!(all.len(), 12);
    assert!(all.iter().all(|c| {
        let i = &c["email"].as_str().unwrap()[1..].split('@').next().unwrap().to_owned();
        c["last_name"] == format!("Family{i}")
    }));
    // Everything is applied: a rerun writes nothing.
    let w1 = writes(&sb);
    let out = h.push(&sync, Flags::default()).await;
    assert_eq!(writes(&sb), w1, "{:?}", out.run);
    assert_eq!(out.run.counts["unchanged"], 12);
}
}

on_both! {
#[tokio::test]
async fn nothing_to_send_when_every_landed_create_matches(backend: Backend) {
    let Some((sb, h)) = Harness::start(backend).await else {
        return;
    };
    let mut csv = String::from("mail,given,family\n");
    for i in 0..30 {
        csv.push_str(&format!("c{i}@example.com,Given{i},Family{i}\n"));
    }
    h.write("c.csv", &csv);
    let sync = h.sync("all", "customers", "mirror", "email", "c.csv", CUSTOMERS, "");
    for chunk in (0..30).collect::<Vec<_>>().chunks(10) {
        let landed: Vec<Value> = chunk
            .iter()
            .map(|i| json!({"email": format!("c{i}@example.com"), "first_name": format!("Given{i}"), "last_name": format!("Family{i}")}))
            .collect();
        common::api(&sb, reqwest::Method::POST, "/v3/customers", Some(Value::Array(landed))).await;
    }
    {
        let mut store = h.open_store();
        let intents: Vec<Tracked> = (0..30)
            .map(|i| Tracked {
                key: format!("c{i}@example.com"),
                hash: None,
                bc_id: None,
                status: TrackStatus::Attempting,
                fields: None,
            })
            .collect();
        store.put("all", &intents).unwrap();
    }
    let w0 = writes(&sb);
    let out = h.push(&sync, Flags::default()).await;
    assert_eq!(writes(&sb), w0, "zero writes: {:?}", out.run);
    assert_eq!(out.run.counts["recovered"], 30, "{:?}", out.run.counts);
    assert_eq!(out.run.requests, 1, "one lookup of 30 emails");
}
}
