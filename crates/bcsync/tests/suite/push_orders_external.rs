//! Orders from another system (issue 9, item 9): matched on the source's own reference
//! mapped to `external_order_id` (any text, e.g. `SO-10023`), found with
//! `GET /v2/orders?external_order_id=`; an order already in the store with that reference
//! is updated, not duplicated, also after `--reset-tracking`. `id` stays the BigCommerce
//! order number, and a reference mapped to it is refused with the way to map it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::push_support;

use push_support::*;
use serde_json::json;

const MAPPING: &str = "[sync.mapping]\nref = \"external_order_id\"\nstatus = \"status_id\"\nfirst = \"billing_address.first_name\"\nlast = \"billing_address.last_name\"\nstreet = \"billing_address.street_1\"\ncity = \"billing_address.city\"\nzip = \"billing_address.zip\"\ncountry = \"billing_address.country_iso2\"\nemail = \"billing_address.email\"\nitem = \"products.0.name\"\nqty = \"products.0.quantity\"\ninc = \"products.0.price_inc_tax\"\nex = \"products.0.price_ex_tax\"\n";

fn csv(rows: &[(&str, u32)]) -> String {
    let mut s =
        String::from("ref,status,first,last,street,city,zip,country,email,item,qty,inc,ex\n");
    for (r, status) in rows {
        s.push_str(&format!(
            "{r},{status},Ann,Lee,1 Main St,Austin,78701,US,ann@x.io,Widget {r},2,10.00,9.00\n"
        ));
    }
    s
}

async fn orders_by_reference(sb: &bc_sandbox::RunningSandbox) -> Vec<(String, i64)> {
    let mut v: Vec<(String, i64)> = common::list_all(sb, "v2", "/orders", "")
        .await
        .iter()
        .map(|o| {
            (
                o["external_order_id"].as_str().unwrap().to_owned(),
                o["status_id"].as_i64().unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

on_both! {
#[tokio::test]
async fn orders_match_on_the_source_reference(backend: Backend) {
    let Some((sb, h)) = Harness::start(backend).await else {
        return;
    };
    // An order the other system already sent to the store, before bcsync.
    let (status, _) = common::api(
        &sb,
        reqwest::Method::POST,
        "/v2/orders",
        Some(json!({
            "external_order_id": "SO-10020",
            "billing_address": {"first_name": "Ann", "last_name": "Lee", "street_1": "1 Main St", "city": "Austin", "zip": "78701", "country_iso2": "US", "email": "ann@x.io"},
            "products": [{"name": "Widget SO-10020", "quantity": 2, "price_inc_tax": 10, "price_ex_tax": 9}],
        })),
    )
    .await;
    assert!(status == 200 || status == 201, "{status}");
    let mut rows = vec![("SO-10020", 11), ("SO-10023", 1), ("SO-10024", 1), ("WEB/2024/7", 1)];
    h.write("o.csv", &csv(&rows));
    let sync = h.sync(
        "erp",
        "orders",
        "upsert",
        "external_order_id",
        "o.csv",
        MAPPING,
        "",
    );
    let out = h.push(&sync, Flags::default()).await;
    assert!(out.run.rejected.is_empty(), "{:?}", out.run.rejected);
    assert_eq!(
        (out.run.counts["created"], out.run.counts["updated"]),
        (3, 1),
        "{:?}",
        out.run.counts
    );
    assert_eq!(
        orders_by_reference(&sb).await,
        vec![
            ("SO-10020".to_owned(), 11),
            ("SO-10023".to_owned(), 1),
            ("SO-10024".to_owned(), 1),
            ("WEB/2024/7".to_owned(), 1),
        ]
    );

    // A status change: one PUT, no lookup (the ids are tracked).
    rows[1].1 = 10;
    h.write("o.csv", &csv(&rows));
    let (w0, r0) = (writes(&sb), reads(&sb));
    let out = h.push(&sync, Flags::default()).await;
    assert_eq!(out.run.counts["updated"], 1, "{:?}", out.run.counts);
    assert_eq!((writes(&sb) - w0, reads(&sb) - r0), (1, 0));

    // Tracking forgotten: every order is found again by its reference, none duplicated.
    h.reset_tracking(&sync).await;
    rows[2].1 = 11;
    h.write("o.csv", &csv(&rows));
    let out = h.push(&sync, Flags::default()).await;
    assert!(out.run.rejected.is_empty(), "{:?}", out.run.rejected);
    assert_eq!(out.run.counts.get("created"), None, "{:?}", out.run.counts);
    assert_eq!(
        orders_by_reference(&sb).await,
        vec![
            ("SO-10020".to_owned(), 11),
            ("SO-10023".to_owned(), 10),
            ("SO-10024".to_owned(), 11),
            ("WEB/2024/7".to_owned(), 1),
        ]
    );

    // update mode: a reference the store does not have is rejected, never created.
    h.write("u.csv", &csv(&[("SO-99999", 10)]));
    let upd = h.sync("upd", "orders", "update", "external_order_id", "u.csv", MAPPING, "");
    let out = h.push(&upd, Flags::default()).await;
    assert_eq!(out.run.rejected.len(), 1, "{:?}", out.run);
    assert!(out.run.rejected[0].reason.contains("no order with external_order_id \"SO-99999\""), "{}", out.run.rejected[0].reason);
    assert_eq!(orders_by_reference(&sb).await.len(), 4);
}
}

on_both! {
#[tokio::test]
async fn a_reference_mapped_to_id_says_how_to_map_it(backend: Backend) {
    let Some((sb, h)) = Harness::start(backend).await else {
        return;
    };
    h.write("o.csv", &csv(&[("SO-10023", 1)]));
    let mapping = MAPPING.replace("ref = \"external_order_id\"", "ref = \"id\"");
    let sync = h.sync("ids", "orders", "upsert", "id", "o.csv", &mapping, "");
    let out = h.push(&sync, Flags::default()).await;
    assert_eq!(out.run.rejected.len(), 1);
    let reason = &out.run.rejected[0].reason;
    assert!(reason.contains("is not a whole number"), "{reason}");
    assert!(reason.contains("match_key = \"external_order_id\""), "{reason}");
    assert_eq!(writes(&sb), 0);
}
}

#[test]
fn external_id_is_refused_as_read_only() {
    let text = "[[sync]]\nname = \"o\"\nobject = \"orders\"\nmode = \"upsert\"\nmatch_key = \"external_order_id\"\nsource = { type = \"csv\", path = \"o.csv\" }\n[sync.mapping]\nref = \"external_order_id\"\nother = \"external_id\"\n";
    let err = bcsync::push::config::parse_syncs(
        text,
        std::path::Path::new("bcsync.toml"),
        std::path::Path::new("."),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("read-only") && err.contains("external_order_id"),
        "{err}"
    );
}

on_both! {
#[tokio::test]
async fn lost_answers_are_found_by_the_reference(backend: Backend) {
    let Some((sb, h)) = Harness::start(backend).await else {
        return;
    };
    h.write("o.csv", &csv(&[("SO-1", 1), ("SO-2", 1), ("SO-3", 1)]));
    let sync = h.sync(
        "lost",
        "orders",
        "upsert",
        "external_order_id",
        "o.csv",
        MAPPING,
        "",
    );
    // Every order POST is processed, but its answer is cut short: the reference is the
    // marker that finds it again.
    common::set_faults(&sb, "truncate@1..,method=POST").await;
    let out = h.push(&sync, Flags::default()).await;
    common::clear_faults(&sb).await;
    assert!(out.run.rejected.is_empty(), "{:?}", out.run.rejected);
    assert_eq!(out.run.counts["created"], 3, "{:?}", out.run.counts);
    assert_eq!(
        orders_by_reference(&sb).await,
        vec![
            ("SO-1".to_owned(), 1),
            ("SO-2".to_owned(), 1),
            ("SO-3".to_owned(), 1)
        ],
        "no duplicate, no bcsync marker"
    );
    let w0 = writes(&sb);
    h.push(&sync, Flags::default()).await;
    assert_eq!(writes(&sb), w0);
}
}
