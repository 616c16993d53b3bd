//! `bcsync listen`'s receiver and apply loop over real HTTP, into SQLite: forged
//! deliveries are refused and change nothing, redeliveries are acknowledged once,
//! deletions are marked, and a burst is read with one request per record family.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::listen_support;

use bc_sandbox::SeedSpec;
use listen_support::common::{self, api, count};
use listen_support::*;
use reqwest::Method;
use serde_json::json;

pub fn tiny_store() -> SeedSpec {
    SeedSpec {
        seed: 11,
        customers: 30,
        addresses_per_customer: 2,
        customer_groups: 2,
        products: 20,
        variants_per_product: 2,
        images_per_product: 1,
        custom_fields_per_product: 1,
        categories: 3,
        brands: 2,
        orders: 40,
        lines_per_order: 2,
        coupons: 2,
        history_days: 10,
    }
}

#[tokio::test]
async fn forged_deliveries_are_refused_and_change_nothing() {
    let sb = common::sandbox(tiny_store()).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shop.db");
    let l = start(&sb, &format!("sqlite:{}", db.display()), quiet_options()).await;
    wait_first_poll(&l).await;
    let before = row(&db, "customers", "id", 1).unwrap();
    // The store changes customer 1: an accepted event for it would rewrite its row.
    let (s, _) = api(
        &sb,
        Method::PUT,
        "/v3/customers",
        Some(json!([{"id": 1, "first_name": "Forged"}])),
    )
    .await;
    assert_eq!(s, 200);
    let hash = sb.store_hash().to_owned();
    let event = payload(
        &hash,
        "store/customer/updated",
        json!({"type": "customer", "id": 1}),
        1,
    );
    assert_eq!(
        post(l.addr, None, event.to_string()).await,
        401,
        "no secret"
    );
    assert_eq!(
        post(l.addr, Some("wrong"), event.to_string()).await,
        401,
        "wrong secret"
    );
    assert_eq!(
        post(l.addr, Some(&SECRET[..SECRET.len() - 1]), event.to_string()).await,
        401,
        "prefix of the secret"
    );
    let other = payload(
        "zzzzzz",
        "store/customer/updated",
        json!({"type": "customer", "id": 1}),
        2,
    );
    assert_eq!(
        post(l.addr, Some(SECRET), other.to_string()).await,
        401,
        "another store"
    );
    assert_eq!(
        post(l.addr, Some(SECRET), "{\"scope\": \"store/customer/upd").await,
        400,
        "malformed JSON"
    );
    assert_eq!(
        post(l.addr, Some(SECRET), "{\"scope\": 5}").await,
        400,
        "wrong shape"
    );
    let huge = format!(
        "{{\"scope\":\"store/customer/updated\",\"pad\":\"{}\"}}",
        "x".repeat(10 * 1024 * 1024)
    );
    let status = post(l.addr, Some(SECRET), huge).await;
    assert_eq!(status, 413, "10 MB body");
    // A genuine event for another customer proves the apply loop ran meanwhile.
    let genuine = payload(
        &hash,
        "store/customer/updated",
        json!({"type": "customer", "id": 2}),
        3,
    );
    assert_eq!(deliver(l.addr, &genuine).await, 200);
    wait_applied(&l, 1).await;
    assert_eq!(
        l.inbox.stats().await.unwrap().total,
        1,
        "only the genuine event is in the inbox"
    );
    assert_eq!(
        row(&db, "customers", "id", 1).unwrap(),
        before,
        "customer 1 unchanged"
    );
    l.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_redelivery_is_acknowledged_and_written_once() {
    let sb = common::sandbox(tiny_store()).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shop.db");
    let l = start(&sb, &format!("sqlite:{}", db.display()), quiet_options()).await;
    wait_first_poll(&l).await;
    let rows = count(&common::db(&db), "customers");
    let hash = sb.store_hash().to_owned();
    let (s, _) = api(
        &sb,
        Method::PUT,
        "/v3/customers",
        Some(json!([{"id": 3, "first_name": "Once"}])),
    )
    .await;
    assert_eq!(s, 200);
    let event = payload(
        &hash,
        "store/customer/updated",
        json!({"type": "customer", "id": 3}),
        1,
    );
    assert_eq!(deliver(l.addr, &event).await, 200);
    assert_eq!(
        deliver(l.addr, &event).await,
        200,
        "a redelivery is a 200, never a 4xx"
    );
    wait_applied(&l, 1).await;
    assert_eq!(
        row(&db, "customers", "id", 3).unwrap().0["first_name"],
        "Once"
    );
    // The same hash after the record was fetched: one more fetch, still one event.
    let (s, _) = api(
        &sb,
        Method::PUT,
        "/v3/customers",
        Some(json!([{"id": 3, "first_name": "Twice"}])),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(deliver(l.addr, &event).await, 200);
    let db2 = db.clone();
    wait_for("the refetch after a repeated hash", || {
        let db = db2.clone();
        async move { row(&db, "customers", "id", 3).unwrap().0["first_name"] == "Twice" }
    })
    .await;
    let stats = l.inbox.stats().await.unwrap();
    assert_eq!(stats.total, 1, "one event, however often it was delivered");
    assert_eq!(
        count(&common::db(&db), "customers"),
        rows,
        "no duplicate rows"
    );
    l.shutdown().await.unwrap();
}

#[tokio::test]
async fn deletions_and_archivals_are_marked_with_their_children() {
    let sb = common::sandbox(tiny_store()).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shop.db");
    let l = start(&sb, &format!("sqlite:{}", db.display()), quiet_options()).await;
    wait_first_poll(&l).await;
    let hash = sb.store_hash().to_owned();
    let orders = common::list_all(&sb, "v2", "/orders", "").await;
    let order_id = orders[0]["id"].as_i64().unwrap();
    let product_id = 4;
    for (m, p) in [
        (Method::DELETE, "/v3/customers?id:in=5".to_owned()),
        (Method::DELETE, format!("/v3/catalog/products/{product_id}")),
        (Method::DELETE, format!("/v2/orders/{order_id}")),
    ] {
        let (s, _) = api(&sb, m.clone(), &p, None).await;
        assert!(s < 300, "{m} {p}: {s}");
    }
    let events = [
        payload(
            &hash,
            "store/customer/deleted",
            json!({"type": "customer", "id": 5}),
            1,
        ),
        payload(
            &hash,
            "store/product/deleted",
            json!({"type": "product", "id": product_id}),
            2,
        ),
        payload(
            &hash,
            "store/order/archived",
            json!({"type": "order", "id": order_id}),
            3,
        ),
    ];
    for e in &events {
        assert_eq!(deliver(l.addr, e).await, 200);
    }
    wait_applied(&l, 3).await;
    l.shutdown().await.unwrap();
    assert!(
        row(&db, "customers", "id", 5).unwrap().1.is_some(),
        "customer marked"
    );
    assert!(
        row(&db, "products", "id", product_id).unwrap().1.is_some(),
        "product marked"
    );
    assert!(
        row(&db, "orders", "id", order_id).unwrap().1.is_some(),
        "order marked"
    );
    let conn = common::db(&db);
    let live_addresses: i64 = conn
        .query_row(
            "SELECT count(*) FROM customer_addresses WHERE customer_id = 5 AND _deleted_at IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        live_addresses, 0,
        "the customer's addresses are marked with it"
    );
    let others: i64 = conn
        .query_row(
            "SELECT count(*) FROM customers WHERE _deleted_at IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(others, 1, "only the deleted customer is marked");
}

#[tokio::test]
async fn a_deletion_without_its_webhook_is_found_by_reconciliation() {
    let sb = common::sandbox(tiny_store()).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shop.db");
    let to = format!("sqlite:{}", db.display());
    let l = start(&sb, &to, quiet_options()).await;
    wait_first_poll(&l).await;
    l.shutdown().await.unwrap();
    let (s, _) = api(&sb, Method::DELETE, "/v3/customers?id:in=7", None).await;
    assert!(s < 300);
    // A restart reconciles at once: the deletion whose event never came is marked.
    let l = start(&sb, &to, quiet_options()).await;
    let inbox = l.inbox.clone();
    wait_for("a reconciliation", || {
        let inbox = inbox.clone();
        async move { inbox.meta("last_reconcile_at").await.unwrap().is_some() }
    })
    .await;
    let db2 = db.clone();
    wait_for("customer 7 to be marked", || {
        let db = db2.clone();
        async move { row(&db, "customers", "id", 7).unwrap().1.is_some() }
    })
    .await;
    l.shutdown().await.unwrap();
    let conn = common::db(&db);
    let marked: i64 = conn
        .query_row(
            "SELECT count(*) FROM customers WHERE _deleted_at IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(marked, 1);
    let orders_marked: i64 = conn
        .query_row(
            "SELECT count(*) FROM orders WHERE _deleted_at IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(orders_marked, 0, "no live order marked");
}
