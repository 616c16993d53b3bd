//! `bcsync push` of V2 orders against the sandbox: creates with custom product lines,
//! status changes by PUT, mirror archives, invalid orders rejected before any request.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod push_support;

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

#[tokio::test]
async fn orders_create_update_status_and_archive() {
    let sb = common::sandbox(bc_sandbox::SeedSpec::empty()).await;
    let h = Harness::new(&sb);
    let mut rows: Vec<(u32, u32, &str)> = (1..=6).map(|i| (i, 1, "78701")).collect();
    rows.push((7, 1, "7")); // zip too short (FACTS 6.4): rejected before any request
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
