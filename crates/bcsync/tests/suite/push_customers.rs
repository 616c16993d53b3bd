//! `bcsync push` of customers against the sandbox over real HTTP: every mode ends with the
//! store equal to the source as the mode defines, unchanged reruns write nothing, the 422
//! split rejects exactly the bad rows, and guard rails stop mass deletes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::push_support;

use push_support::*;
use serde_json::Value;

fn customers_csv(rows: &[(String, String, String, String)]) -> String {
    let mut s = String::from("mail,given,family,company\n");
    for (e, f, l, c) in rows {
        s.push_str(&format!("{e},{f},{l},{c}\n"));
    }
    s
}

fn people(n: usize, tag: &str) -> Vec<(String, String, String, String)> {
    (0..n)
        .map(|i| {
            (
                format!("person{i}@example.com"),
                format!("First{i}"),
                format!("Last{i}{tag}"),
                format!("Co{i}"),
            )
        })
        .collect()
}

const MAPPING: &str = "[sync.mapping]\nmail = \"email\"\ngiven = \"first_name\"\nfamily = \"last_name\"\ncompany = \"company\"\n";

async fn store_customers(sb: &bc_sandbox::RunningSandbox) -> Vec<(String, String, String, String)> {
    let mut v: Vec<(String, String, String, String)> = common::list_all(sb, "v3", "/customers", "")
        .await
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or("").to_owned();
            (s("email"), s("first_name"), s("last_name"), s("company"))
        })
        .collect();
    v.sort();
    v
}

fn sorted(mut v: Vec<(String, String, String, String)>) -> Vec<(String, String, String, String)> {
    v.sort();
    v
}

on_both! {
#[tokio::test]
async fn upsert_then_unchanged_rerun_then_changes_then_mirror(backend: Backend) {
    let Some((sb, h)) = Harness::start(backend).await else {
        return;
    };
    let mut rows = people(25, "");
    h.write("c.csv", &customers_csv(&rows));
    let sync = h.sync("crm", "customers", "upsert", "email", "c.csv", MAPPING, "");

    let out = h.push(&sync, Flags::default()).await;
    assert_eq!(out.run.status, "ok", "{:?}", out.run);
    assert_eq!(out.run.counts["created"], 25);
    assert_eq!(store_customers(&sb).await, sorted(rows.clone()));
    // 25 creates in batches of 10: 3 POSTs, plus one lookup of 25 emails.
    assert_eq!(writes(&sb), 3);

    // Unchanged rerun: zero write requests (and zero lookups).
    let before = sb.state.log.entries().len();
    let out = h.push(&sync, Flags::default()).await;
    assert_eq!(out.run.counts["unchanged"], 25);
    assert_eq!(
        sb.state.log.entries().len(),
        before,
        "an unchanged rerun sends nothing"
    );

    // Two changed, one added: one PUT batch and one POST.
    rows[3].2 = "Changed".into();
    rows[7].3 = "NewCo".into();
    rows.push((
        "late@example.com".into(),
        "Late".into(),
        "Comer".into(),
        "X".into(),
    ));
    h.write("c.csv", &customers_csv(&rows));
    let w0 = writes(&sb);
    let out = h.push(&sync, Flags::default()).await;
    assert_eq!(
        (out.run.counts["updated"], out.run.counts["created"]),
        (2, 1),
        "{:?}",
        out.run.counts
    );
    assert_eq!(writes(&sb) - w0, 2);
    assert_eq!(store_customers(&sb).await, sorted(rows.clone()));

    // Mirror: 2 of 26 rows leave the source (7.7% < 20%), so they are deleted.
    let mirror = h.sync("crm", "customers", "mirror", "email", "c.csv", MAPPING, "");
    rows.retain(|r| r.0 != "person0@example.com" && r.0 != "person1@example.com");
    h.write("c.csv", &customers_csv(&rows));
    let out = h.push(&mirror, Flags::default()).await;
    assert_eq!(out.run.counts["deleted"], 2, "{:?}", out.run);
    assert_eq!(store_customers(&sb).await, sorted(rows.clone()));

    // Guard rails: half the rows gone is above max_delete_percent; an empty source too.
    let half: Vec<_> = rows[..12].to_vec();
    h.write("c.csv", &customers_csv(&half));
    let w0 = writes(&sb);
    let out = h.push(&mirror, Flags::default()).await;
    assert_eq!(out.run.status, "refused", "{:?}", out.run);
    assert!(
        out.run
            .message
            .as_deref()
            .unwrap()
            .contains("max_delete_percent")
    );
    h.write("c.csv", &customers_csv(&[]));
    let out = h.push(&mirror, Flags::default()).await;
    assert!(
        out.run.message.as_deref().unwrap().contains("no rows"),
        "{:?}",
        out.run.message
    );
    assert_eq!(writes(&sb), w0, "refused runs write nothing");
    assert_eq!(store_customers(&sb).await, sorted(rows.clone()));
    // --force goes ahead.
    h.write("c.csv", &customers_csv(&half));
    let out = h
        .push(
            &mirror,
            Flags {
                force: true,
                ..Flags::default()
            },
        )
        .await;
    assert_eq!(out.run.counts["deleted"], (rows.len() - 12) as u64);
    assert_eq!(store_customers(&sb).await, sorted(half));
}
}

on_both! {
#[tokio::test]
async fn bad_rows_are_rejected_alone_and_retried_next_run(backend: Backend) {
    let Some((sb, h)) = Harness::start(backend).await else {
        return;
    };
    // An existing customer makes row 5's email a duplicate (422 "<i>.email" from the API).
    let (status, _) = common::api(
        &sb,
        reqwest::Method::POST,
        "/v3/customers",
        Some(serde_json::json!([{"email": "person4@example.com", "first_name": "Pre", "last_name": "Existing"}])),
    )
    .await;
    assert_eq!(status, 200);
    let mut rows = people(23, "");
    // Row 9 fails local validation (no first name): never sent.
    rows[8].1 = String::new();
    // Row 17's company is over the API's 255 characters: rejected before sending.
    rows[16].3 = "x".repeat(300);
    h.write("c.csv", &customers_csv(&rows));
    let sync = h.sync(
        "ins",
        "customers",
        "insert",
        "email",
        "c.csv",
        MAPPING,
        "max_rejected = 5\n",
    );
    let out = h.push(&sync, Flags::default()).await;
    let mut rejected_rows: Vec<u64> = out.run.rejected.iter().map(|r| r.row).collect();
    rejected_rows.sort_unstable();
    assert_eq!(rejected_rows, vec![5, 9, 17], "{:?}", out.run.rejected);
    let dup = out.run.rejected.iter().find(|r| r.row == 5).unwrap();
    assert!(dup.reason.contains("upsert"), "{}", dup.reason);
    let long = out.run.rejected.iter().find(|r| r.row == 17).unwrap();
    assert_eq!(long.field.as_deref(), Some("company"));
    assert!(long.reason.contains("at most 255 characters"), "{}", long.reason);
    let invalid = out.run.rejected.iter().find(|r| r.row == 9).unwrap();
    assert_eq!(invalid.field.as_deref(), Some("first_name"));
    assert!(!out.over_threshold);
    assert_eq!(out.run.counts["created"], 20);
    // 20 created plus the one that existed before.
    let emails: Vec<String> = store_customers(&sb)
        .await
        .into_iter()
        .map(|c| c.0)
        .collect();
    assert_eq!(emails.len(), 21, "{emails:?}");
    assert!(!emails.contains(&"person8@example.com".to_owned()));
    assert!(!emails.contains(&"person16@example.com".to_owned()));

    // Fix row 9: the next run sends it (and retries row 5, still a duplicate).
    rows[8].1 = "Fixed".into();
    h.write("c.csv", &customers_csv(&rows));
    let out = h.push(&sync, Flags::default()).await;
    assert_eq!(
        out.run.counts.get("created").copied(),
        Some(1),
        "{:?}",
        out.run.counts
    );
    let mut again: Vec<u64> = out.run.rejected.iter().map(|r| r.row).collect();
    again.sort_unstable();
    assert_eq!(again, vec![5, 17]);
}
}

on_both! {
#[tokio::test]
async fn dry_run_plans_without_writing_and_reset_tracking_forgets(backend: Backend) {
    let Some((sb, h)) = Harness::start(backend).await else {
        return;
    };
    let mut rows = people(5, "");
    h.write("c.csv", &customers_csv(&rows));
    let sync = h.sync("d", "customers", "upsert", "email", "c.csv", MAPPING, "");
    let out = h.dry_run(&sync).await;
    assert_eq!(writes(&sb), 0);
    assert_eq!(out.plan.len(), 5);
    assert!(out.plan.iter().all(|p| p.op == "create"));
    h.push(&sync, Flags::default()).await;
    rows[2].1 = "Renamed".into();
    h.write("c.csv", &customers_csv(&rows));
    let w0 = writes(&sb);
    let out = h.dry_run(&sync).await;
    assert_eq!(writes(&sb), w0);
    assert_eq!(out.plan.len(), 1);
    let change = &out.plan[0];
    assert_eq!((change.op.as_str(), change.row), ("update", 3));
    assert_eq!(change.changes.len(), 1);
    assert_eq!(change.changes[0].field, "first_name");
    assert_eq!(change.changes[0].before, Value::from("First2"));
    assert_eq!(change.changes[0].after, Value::from("Renamed"));

    // --reset-tracking forgets without sending; the next run matches by email again (no duplicates).
    let out = h.reset_tracking(&sync).await;
    assert_eq!(out.run.counts["forgotten"], 5);
    assert_eq!(writes(&sb), w0);
    let out = h.push(&sync, Flags::default()).await;
    assert_eq!(out.run.counts["updated"], 5, "{:?}", out.run.counts);
    assert_eq!(store_customers(&sb).await, sorted(rows));
}
}

on_both! {
#[tokio::test]
async fn invalid_and_duplicate_rows_never_delete_or_send(backend: Backend) {
    let Some((sb, h)) = Harness::start(backend).await else {
        return;
    };
    let mut rows = people(10, "");
    h.write("c.csv", &customers_csv(&rows));
    let sync = h.sync(
        "m",
        "customers",
        "mirror",
        "email",
        "c.csv",
        MAPPING,
        "max_rejected = 10\n",
    );
    h.push(&sync, Flags::default()).await;
    // Row 3 turns invalid and row 5 appears twice with different names: none of them is
    // sent, and none of their records counts as removed.
    rows[2].1 = String::new();
    rows[4].1 = "Changed".into();
    let mut dup = rows[4].clone();
    dup.1 = "Other".into();
    rows.push(dup);
    h.write("c.csv", &customers_csv(&rows));
    let w0 = writes(&sb);
    let out = h.push(&sync, Flags::default()).await;
    assert_eq!(out.run.counts["removed"], 0, "{:?}", out.run.counts);
    let mut bad: Vec<u64> = out.run.rejected.iter().map(|r| r.row).collect();
    bad.sort_unstable();
    assert_eq!(bad, vec![3, 5, 11], "{:?}", out.run.rejected);
    assert!(
        out.run
            .rejected
            .iter()
            .any(|r| r.reason.contains("duplicate email"))
    );
    assert_eq!(writes(&sb), w0, "nothing to send");
    let store = store_customers(&sb).await;
    assert_eq!(store.len(), 10);
    assert!(
        store
            .iter()
            .any(|c| c.0 == "person4@example.com" && c.1 == "First4")
    );
}
}

on_both! {
#[tokio::test]
async fn attribute_values_are_upserted_ten_customers_per_call(backend: Backend) {
    let Some((sb, h)) = Harness::start(backend).await else {
        return;
    };
    let (st, _) = common::api(
        &sb,
        reqwest::Method::POST,
        "/v3/customers/attributes",
        Some(serde_json::json!([{"name": "tier", "type": "string"}, {"name": "points", "type": "number"}])),
    )
    .await;
    assert_eq!(st, 200);
    let mut csv = String::from("mail,given,family,tier,points\n");
    for i in 0..12 {
        // Row 6 has points the attribute's type refuses: only that customer's values fail.
        let points = if i == 5 {
            "lots".to_owned()
        } else {
            (i * 10).to_string()
        };
        csv.push_str(&format!("a{i}@example.com,G{i},F{i},gold{i},{points}\n"));
    }
    h.write("a.csv", &csv);
    let mapping = "[sync.mapping]\nmail = \"email\"\ngiven = \"first_name\"\nfamily = \"last_name\"\ntier = \"attributes.tier\"\npoints = \"attributes.points\"\n";
    let sync = h.sync(
        "attrs",
        "customers",
        "upsert",
        "email",
        "a.csv",
        mapping,
        "max_rejected = 1\n",
    );
    let out = h.push(&sync, Flags::default()).await;
    assert_eq!(out.run.counts["created"], 12, "{:?}", out.run);
    assert_eq!(out.run.rejected.len(), 1, "{:?}", out.run.rejected);
    assert_eq!(out.run.rejected[0].row, 6);
    assert!(
        out.run.rejected[0].reason.contains("value"),
        "{}",
        out.run.rejected[0].reason
    );
    let puts: Vec<_> = sb
        .state
        .log
        .entries()
        .into_iter()
        .filter(|e| e.method == "PUT" && e.path.ends_with("/attribute-values"))
        .collect();
    // 12 customers: two calls (10 + 2), plus one resend of the refused first batch.
    assert_eq!(puts.len(), 3, "{puts:?}");
    let values = common::list_all(&sb, "v3", "/customers/attribute-values", "").await;
    assert_eq!(
        values.len(),
        11 * 2,
        "every customer but row 6 has both values"
    );
    assert!(values.iter().any(|v| v["value"] == "gold3"));

    // Fix row 6 and change one tier: only those two rows are sent again.
    let csv = csv
        .replace(
            "a5@example.com,G5,F5,gold5,lots",
            "a5@example.com,G5,F5,gold5,55",
        )
        .replace("gold7,70", "platinum,70");
    h.write("a.csv", &csv);
    let out = h.push(&sync, Flags::default()).await;
    assert!(out.run.rejected.is_empty(), "{:?}", out.run.rejected);
    assert_eq!(out.run.counts["updated"], 2, "{:?}", out.run.counts);
    let values = common::list_all(&sb, "v3", "/customers/attribute-values", "").await;
    assert_eq!(values.len(), 24);
    assert!(values.iter().any(|v| v["value"] == "platinum"));
    assert!(!values.iter().any(|v| v["value"] == "gold7"));
    let w0 = writes(&sb);
    h.push(&sync, Flags::default()).await;
    assert_eq!(writes(&sb), w0);
}
}

on_both! {
#[tokio::test]
async fn update_mode_touches_only_existing_and_full_resync_sends_all(backend: Backend) {
    let Some((sb, h)) = Harness::start(backend).await else {
        return;
    };
    let existing: Vec<Value> = (0..3)
        .map(|i| serde_json::json!({"email": format!("person{i}@example.com"), "first_name": "Old", "last_name": "Name", "company": "OldCo"}))
        .collect();
    assert_eq!(
        common::api(
            &sb,
            reqwest::Method::POST,
            "/v3/customers",
            Some(Value::Array(existing))
        )
        .await
        .0,
        200
    );
    let rows = people(5, "");
    h.write("c.csv", &customers_csv(&rows));
    let sync = h.sync(
        "upd",
        "customers",
        "update",
        "email",
        "c.csv",
        MAPPING,
        "max_rejected = 2\n",
    );
    let out = h.push(&sync, Flags::default()).await;
    assert_eq!(out.run.counts["updated"], 3, "{:?}", out.run);
    let mut missing: Vec<u64> = out.run.rejected.iter().map(|r| r.row).collect();
    missing.sort_unstable();
    assert_eq!(missing, vec![4, 5]);
    assert!(out.run.rejected[0].reason.contains("upsert"));
    assert_eq!(store_customers(&sb).await, sorted(rows[..3].to_vec()));
    assert!(!out.over_threshold);

    // --full-resync sends the unchanged rows again (one PUT batch of 3).
    let w0 = writes(&sb);
    let out = h
        .push(
            &sync,
            Flags {
                full_resync: true,
                ..Flags::default()
            },
        )
        .await;
    assert_eq!(out.run.counts["updated"], 3, "{:?}", out.run.counts);
    assert_eq!(writes(&sb) - w0, 1);
}
}

const ADDRESS_MAPPING: &str = "[sync.mapping]\nmail = \"email\"\ngiven = \"first_name\"\nfamily = \"last_name\"\n\
    afirst = \"addresses.0.first_name\"\nalast = \"addresses.0.last_name\"\nstreet = \"addresses.0.address1\"\n\
    city = \"addresses.0.city\"\ncountry = \"addresses.0.country_code\"\nstate = \"addresses.0.state_or_province\"\n\
    zip = \"addresses.0.postal_code\"\n";

/// `(email, city, country)` rows as CSV for [`ADDRESS_MAPPING`].
fn address_csv(rows: &[(String, String, String)]) -> String {
    let mut s = String::from("mail,given,family,afirst,alast,street,city,country,state,zip\n");
    for (i, (e, city, country)) in rows.iter().enumerate() {
        s.push_str(&format!(
            "{e},G{i},F{i},G{i},F{i},{i} Main St,{city},{country},Texas,7500{i}\n"
        ));
    }
    s
}

/// Every address in the store as `(customer email, city, country_code)`, sorted.
async fn store_addresses(sb: &bc_sandbox::RunningSandbox) -> Vec<(String, String, String)> {
    let emails: std::collections::HashMap<i64, String> =
        common::list_all(sb, "v3", "/customers", "")
            .await
            .iter()
            .map(|c| {
                (
                    c["id"].as_i64().unwrap(),
                    c["email"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
    let mut v: Vec<(String, String, String)> =
        common::list_all(sb, "v3", "/customers/addresses", "")
            .await
            .iter()
            .map(|a| {
                (
                    emails[&a["customer_id"].as_i64().unwrap()].clone(),
                    a["city"].as_str().unwrap().to_owned(),
                    a["country_code"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
    v.sort();
    v
}

on_both! {
#[tokio::test]
async fn address_changes_update_only_the_addresses(backend: Backend) {
    let Some((sb, h)) = Harness::start(backend).await else {
        return;
    };
    // A customer already in the store without an address: upsert finds it by email, updates
    // it and creates its address with POST /customers/addresses.
    let (st, _) = common::api(
        &sb,
        reqwest::Method::POST,
        "/v3/customers",
        Some(serde_json::json!([{"email": "p3@example.com", "first_name": "Old", "last_name": "Name"}])),
    )
    .await;
    assert_eq!(st, 200);
    let w0 = writes(&sb);
    let mut rows: Vec<(String, String, String)> = (0..4)
        .map(|i| {
            (
                format!("p{i}@example.com"),
                format!("City{i}"),
                "US".to_owned(),
            )
        })
        .collect();
    h.write("a.csv", &address_csv(&rows));
    let sync = h.sync(
        "addr",
        "customers",
        "upsert",
        "email",
        "a.csv",
        ADDRESS_MAPPING,
        "max_rejected = 5\n",
    );
    let out = h.push(&sync, Flags::default()).await;
    assert!(out.run.rejected.is_empty(), "{:?}", out.run.rejected);
    assert_eq!(
        (out.run.counts["created"], out.run.counts["updated"]),
        (3, 1),
        "{:?}",
        out.run.counts
    );
    assert_eq!(store_addresses(&sb).await, rows);
    let log = write_log(&sb)[w0..].to_vec();
    // 3 creates with their addresses inline, one PUT of the found customer, one address POST.
    assert_eq!(log.len(), 3, "{log:?}");
    assert!(
        log.iter()
            .any(|(m, p)| m == "POST" && p.ends_with("/v3/customers/addresses")),
        "{log:?}"
    );

    // Unchanged rerun: no request at all.
    let before = sb.state.log.entries().len();
    let out = h.push(&sync, Flags::default()).await;
    assert_eq!(out.run.counts["unchanged"], 4, "{:?}", out.run.counts);
    assert_eq!(
        sb.state.log.entries().len(),
        before,
        "an unchanged rerun sends nothing"
    );

    // One address field changes: the row is changed, and the only write is one address PUT.
    rows[1].1 = "Lyon".into();
    h.write("a.csv", &address_csv(&rows));
    let w0 = writes(&sb);
    let out = h.push(&sync, Flags::default()).await;
    assert!(out.run.rejected.is_empty(), "{:?}", out.run.rejected);
    assert_eq!(out.run.counts["changed"], 1, "{:?}", out.run.counts);
    let log = write_log(&sb)[w0..].to_vec();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].0, "PUT");
    assert!(log[0].1.ends_with("/v3/customers/addresses"), "{log:?}");
    assert_eq!(store_addresses(&sb).await, rows);
    let customers = common::list_all(&sb, "v3", "/customers", "").await;
    assert_eq!(customers.len(), 4);
    let before = sb.state.log.entries().len();
    h.push(&sync, Flags::default()).await;
    assert_eq!(
        sb.state.log.entries().len(),
        before,
        "an unchanged rerun sends nothing"
    );

    // A 422 on one address (country_code must be two letters) rejects only its row.
    rows[0].2 = "USA".into();
    rows[2].1 = "Paris".into();
    h.write("a.csv", &address_csv(&rows));
    let out = h.push(&sync, Flags::default()).await;
    assert_eq!(out.run.rejected.len(), 1, "{:?}", out.run.rejected);
    let r = &out.run.rejected[0];
    assert_eq!(
        (r.row, r.key.as_deref()),
        (1, Some("p0@example.com")),
        "{r:?}"
    );
    assert!(r.reason.contains("country_code"), "{}", r.reason);
    let mut expected = rows.clone();
    expected[0].2 = "US".into();
    assert_eq!(store_addresses(&sb).await, expected);

    // Fixed in the source: the rejected row is sent again, the rest is not.
    rows[0].2 = "CA".into();
    h.write("a.csv", &address_csv(&rows));
    let w0 = writes(&sb);
    let out = h.push(&sync, Flags::default()).await;
    assert!(out.run.rejected.is_empty(), "{:?}", out.run.rejected);
    assert_eq!(store_addresses(&sb).await, rows);
    // Rejected last run, so the whole row goes again: the customer PUT and its address PUT.
    assert_eq!(writes(&sb) - w0, 2, "{:?}", &write_log(&sb)[w0..]);
}
}
