//! `bcsync push` of V2 orders against the sandbox: creates with custom product lines,
//! status changes by PUT, mirror archives, invalid orders rejected before any request.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::push_support;

use push_support::*;

const MAPPING: &str = "[sync.mapping]\nref = \"id\"\nstatus = \"status_id\"\nfirst = \"billing_address.first_name\"\nlast = \"billing_address.last_name\"\nstreet = \"billing_address.street_1\"\ncity = \"billing_address.city\"\nzip = \"billing_address.zip\"\ncountry = \"billing_address.country_iso2\"\nemail = \"billing_address.email\"\nitem = \"products.0.name\"\nqty = \"products.0.quantity\"\ninc = \"products.0.price_inc_tax\"\nex = \"products.0.price_ex_tax\"\n";

fn csv(rows: &[(u32, u32, &str)]) -> String {
    let mut s =
        String::from("ref,status,first,last,street,city,zip,country,email,item,qty,inc,ex\n");
    for (r, status, zip) in rows {
        s.push_str(&format!(
            "{r},{status},Ann,Lee,1 Main St,Austin,{zip},US,ann{r}@x.io,Widget {r},2,10.00,9.00\n"
        ));
    }
    s
}

on_both! {
#[tokio::test]
async fn orders_create_update_status_and_archive(backend: Backend) {
    let Some((sb, h)) = Harness::start(backend).await else {
        return;
    };
    let mut rows: Vec<(u32, u32, &str)> = (1..=6).map(|i| (i, 1, "78701")).collect();
    rows.push((7, 1, "7")); // zip too short (docs/api-notes.md §6.4): rejected before any request
    h.write("o.csv", &csv(&rows));
    let sync = h.sync(
        "ord",
        "orders",
        "mirror",
        "id",
        "o.csv",
        MAPPING,
        "max_rejected = 1\n",
    );
    let out = h.push(&sync, Flags::default()).await;
    assert_eq!(out.run.counts["created"], 6, "{:?}", out.run);
    assert_eq!(out.run.rejected.len(), 1);
    assert_eq!(
        (
            out.run.rejected[0].row,
            out.run.rejected[0].field.as_deref()
        ),
        (7, Some("billing_address.zip"))
    );
    assert_eq!(writes(&sb), 6);
    let orders = common::list_all(&sb, "v2", "/orders", "").await;
    assert_eq!(orders.len(), 6);
    assert!(orders.iter().all(|o| o["status_id"] == 1));
    let lines = common::list_all(
        &sb,
        "v2",
        &format!("/orders/{}/products", orders[0]["id"]),
        "",
    )
    .await;
    assert_eq!(lines.len(), 1);

    // Two orders change status: two PUTs, no new lines.
    rows.pop();
    rows[0].1 = 11;
    rows[1].1 = 10;
    h.write("o.csv", &csv(&rows));
    let w0 = writes(&sb);
    let out = h.push(&sync, Flags::default()).await;
    assert_eq!(out.run.counts["updated"], 2, "{:?}", out.run);
    assert_eq!(writes(&sb) - w0, 2);
    let orders = common::list_all(&sb, "v2", "/orders", "").await;
    let mut statuses: Vec<i64> = orders
        .iter()
        .map(|o| o["status_id"].as_i64().unwrap())
        .collect();
    statuses.sort_unstable();
    assert_eq!(statuses, vec![1, 1, 1, 1, 10, 11]);
    for o in &orders {
        let lines = common::list_all(&sb, "v2", &format!("/orders/{}/products", o["id"]), "").await;
        assert_eq!(lines.len(), 1, "an update must not add lines");
    }

    // One order leaves the source (1 of 6 = 16.7%): archived.
    rows.remove(5);
    h.write("o.csv", &csv(&rows));
    let out = h.push(&sync, Flags::default()).await;
    assert_eq!(out.run.counts["deleted"], 1, "{:?}", out.run);
    assert_eq!(common::list_all(&sb, "v2", "/orders", "").await.len(), 5);
}
}

on_both! {
#[tokio::test]
async fn update_by_order_id_and_insert_never_updates(backend: Backend) {
    let Some((sb, h)) = Harness::start(backend).await else {
        return;
    };
    // insert: creates, then a changed row is left alone.
    let mut rows: Vec<(u32, u32, &str)> = (1..=3).map(|i| (i, 1, "78701")).collect();
    h.write("o.csv", &csv(&rows));
    let ins = h.sync("ins", "orders", "insert", "id", "o.csv", MAPPING, "");
    let out = h.push(&ins, Flags::default()).await;
    assert_eq!(out.run.counts["created"], 3, "{:?}", out.run);
    rows[0].1 = 5;
    h.write("o.csv", &csv(&rows));
    let w0 = writes(&sb);
    let out = h.push(&ins, Flags::default()).await;
    assert_eq!(
        out.run.counts["skipped_insert_only"], 1,
        "{:?}",
        out.run.counts
    );
    assert_eq!(writes(&sb), w0);

    // update: the key column holds BigCommerce order ids.
    let orders = common::list_all(&sb, "v2", "/orders", "").await;
    let ids: Vec<u32> = orders
        .iter()
        .map(|o| o["id"].as_u64().unwrap() as u32)
        .collect();
    let upd_rows: Vec<(u32, u32, &str)> = ids.iter().map(|id| (*id, 11, "78701")).collect();
    h.write("u.csv", &csv(&upd_rows));
    let upd = h.sync("upd", "orders", "update", "id", "u.csv", MAPPING, "");
    let out = h.push(&upd, Flags::default()).await;
    assert_eq!(out.run.counts["updated"], 3, "{:?}", out.run);
    let orders = common::list_all(&sb, "v2", "/orders", "").await;
    assert!(orders.iter().all(|o| o["status_id"] == 11), "{orders:?}");
    // An id the store does not have is rejected with the API's 404.
    h.write("u.csv", &csv(&[(999, 11, "78701")]));
    let out = h.push(&upd, Flags::default()).await;
    assert_eq!(out.run.rejected.len(), 1, "{:?}", out.run);
    assert!(
        out.run.rejected[0].reason.contains("404"),
        "{}",
        out.run.rejected[0].reason
    );
}
}

on_both! {
#[tokio::test]
async fn lost_order_answers_are_found_by_their_marker(backend: Backend) {
    let Some((sb, h)) = Harness::start(backend).await else {
        return;
    };
    let rows: Vec<(u32, u32, &str)> = (1..=5).map(|i| (i, 1, "78701")).collect();
    h.write("o.csv", &csv(&rows));
    let sync = h.sync("lost", "orders", "upsert", "id", "o.csv", MAPPING, "");
    // Every order POST is processed, but its answer is cut short.
    let resp = reqwest::Client::new()
        .put(format!("{}/_sandbox/faults", sb.base_url()))
        .header("Content-Type", "text/plain")
        .body("truncate@1..,method=POST")
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let out = h.push(&sync, Flags::default()).await;
    reqwest::Client::new()
        .delete(format!("{}/_sandbox/faults", sb.base_url()))
        .send()
        .await
        .unwrap();
    assert!(out.run.rejected.is_empty(), "{:?}", out.run.rejected);
    assert_eq!(out.run.counts["created"], 5, "{:?}", out.run.counts);
    let orders = common::list_all(&sb, "v2", "/orders", "").await;
    assert_eq!(orders.len(), 5, "no duplicate orders");
    let mut markers: Vec<&str> = orders
        .iter()
        .map(|o| o["external_order_id"].as_str().unwrap())
        .collect();
    markers.sort_unstable();
    assert_eq!(
        markers,
        vec![
            "bcsync:lost:1",
            "bcsync:lost:2",
            "bcsync:lost:3",
            "bcsync:lost:4",
            "bcsync:lost:5"
        ]
    );
    let w0 = writes(&sb);
    h.push(&sync, Flags::default()).await;
    assert_eq!(writes(&sb), w0);
}
}
