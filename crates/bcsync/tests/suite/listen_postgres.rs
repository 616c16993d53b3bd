//! `bcsync listen` into PostgreSQL over real HTTP: the inbox is a table on a connection of
//! its own; forged deliveries change nothing, a redelivery is one event, events update
//! and mark rows in the same tables `extract` writes.
//!
//! The server comes from `BCSYNC_TEST_POSTGRES_URL`; unset, the test says so and skips
//! (under CI=true it fails instead).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::listen_support;

use listen_support::common::{self, api};
use listen_support::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn events_land_in_postgres_and_forgeries_do_not() {
    let Some(url) = common::pg_url() else { return };
    let schema = common::unique_name("listen");
    let pg = common::connect(&url).await;
    let sb = common::sandbox(bc_sandbox::SeedSpec {
        customers: 20,
        products: 10,
        orders: 15,
        ..common::small_store()
    })
    .await;
    let sep = if url.contains('?') { '&' } else { '?' };
    let to = format!("{url}{sep}schema={schema}");
    let l = start(&sb, &to, quiet_options()).await;
    wait_first_poll(&l).await;
    let hash = sb.store_hash().to_owned();
    let q = |id: i64| {
        format!(
            "SELECT _raw->>'first_name', _deleted_at IS NOT NULL FROM \"{schema}\".customers WHERE id = {id}"
        )
    };
    let (s, _) = api(
        &sb,
        Method::PUT,
        "/v3/customers",
        Some(json!([{"id": 1, "first_name": "Pg"}, {"id": 2, "first_name": "Forged"}])),
    )
    .await;
    assert_eq!(s, 200);
    let forged = payload(
        &hash,
        "store/customer/updated",
        json!({"type": "customer", "id": 2}),
        9,
    );
    assert_eq!(post(l.addr, Some("nope"), forged.to_string()).await, 401);
    assert_eq!(post(l.addr, Some(SECRET), "not json").await, 400);
    let e1 = payload(
        &hash,
        "store/customer/updated",
        json!({"type": "customer", "id": 1}),
        1,
    );
    assert_eq!(deliver(l.addr, &e1).await, 200);
    assert_eq!(deliver(l.addr, &e1).await, 200);
    let (s, _) = api(&sb, Method::DELETE, "/v3/customers?id:in=3", None).await;
    assert!(s < 300);
    let e2 = payload(
        &hash,
        "store/customer/deleted",
        json!({"type": "customer", "id": 3}),
        2,
    );
    assert_eq!(deliver(l.addr, &e2).await, 200);
    wait_applied(&l, 2).await;
    assert_eq!(l.inbox.stats().await.unwrap().total, 2);
    l.shutdown().await.unwrap();
    let r1 = pg.query_one(&q(1), &[]).await.unwrap();
    assert_eq!(r1.get::<_, String>(0), "Pg");
    let r2 = pg.query_one(&q(2), &[]).await.unwrap();
    assert_ne!(
        r2.get::<_, String>(0),
        "Forged",
        "a forged event changed nothing"
    );
    let r3 = pg.query_one(&q(3), &[]).await.unwrap();
    assert!(r3.get::<_, bool>(1), "the deleted customer is marked");
    let dup: i64 = pg
        .query_one(
            &format!("SELECT count(*) FROM \"{schema}\".customers WHERE id = 1"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(dup, 1);
    common::drop_schema(&pg, &schema).await;
}

/// The PostgreSQL inbox parks, reports and prunes like the SQLite one.
#[tokio::test]
async fn the_postgres_inbox_parks_and_prunes() {
    let Some(url) = common::pg_url() else { return };
    let schema = common::unique_name("listen_prune");
    let pg = common::connect(&url).await;
    let sep = if url.contains('?') { '&' } else { '?' };
    let to = format!("{url}{sep}schema={schema}");
    let target = bcsync::listen::ListenTarget::parse(&to, "abc123").unwrap();
    let inbox = target.open_inbox().await.unwrap();
    let accept = async |n: u64, scope: &str, data: serde_json::Value| {
        let body = payload("abc123", scope, data, n);
        let d: bcsync::listen::delivery::Delivery = serde_json::from_value(body.clone()).unwrap();
        inbox.accept("abc123", &d, &body.to_string()).await.unwrap();
    };
    accept(
        1,
        "store/cart/updated",
        json!({"type": "cart", "id": "c-1"}),
    )
    .await;
    accept(
        2,
        "store/customer/updated",
        json!({"type": "customer", "id": 1}),
    )
    .await;
    let pending = inbox.pending(10).await.unwrap();
    assert_eq!(pending.len(), 2);
    inbox
        .park(
            &[(pending[0].seq, pending[0].generation)],
            "reading carts: 403",
        )
        .await
        .unwrap();
    inbox
        .mark_applied(&[(pending[1].seq, pending[1].generation)])
        .await
        .unwrap();
    inbox.set_meta("cart:c-1", "{}").await.unwrap();
    inbox.set_meta("cart:c-2", "{}").await.unwrap();
    let stats = inbox.stats().await.unwrap();
    assert_eq!((stats.pending, stats.parked), (0, 1));
    assert_eq!(stats.parked_reason.as_deref(), Some("reading carts: 403"));
    // Nothing applied is old yet: only the copy of a cart without events goes.
    assert_eq!(
        inbox
            .prune(chrono::Utc::now() - chrono::Duration::hours(72))
            .await
            .unwrap(),
        0
    );
    assert!(inbox.meta("cart:c-1").await.unwrap().is_some());
    assert_eq!(inbox.meta("cart:c-2").await.unwrap(), None);
    assert_eq!(
        inbox
            .prune(chrono::Utc::now() + chrono::Duration::hours(1))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        inbox.stats().await.unwrap().total,
        1,
        "the parked event stays"
    );
    common::drop_schema(&pg, &schema).await;
}

/// The server drops the inbox's connection (restart, failover): the inbox reconnects
/// instead of refusing every later delivery.
#[tokio::test]
async fn the_postgres_inbox_reconnects_after_a_dropped_connection() {
    let Some(url) = common::pg_url() else { return };
    let schema = common::unique_name("listen_reconnect");
    let pg = common::connect(&url).await;
    let sep = if url.contains('?') { '&' } else { '?' };
    let to = format!("{url}{sep}schema={schema}");
    let target = bcsync::listen::ListenTarget::parse(&to, "abc123").unwrap();
    let inbox = target.open_inbox().await.unwrap();
    let accept = async |n: u64| {
        let body = payload(
            "abc123",
            "store/customer/updated",
            json!({"type": "customer", "id": n}),
            n,
        );
        let d: bcsync::listen::delivery::Delivery = serde_json::from_value(body.clone()).unwrap();
        inbox.accept("abc123", &d, &body.to_string()).await
    };
    accept(1).await.unwrap();
    // Only this test's connection mentions its schema.
    let killed = pg
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE pid <> pg_backend_pid() AND query LIKE '%' || $1 || '%'",
            &[&schema],
        )
        .await
        .unwrap();
    assert_eq!(killed.len(), 1, "the inbox's connection was found");
    let mut accepted = false;
    for _ in 0..100 {
        if accept(2).await.is_ok() {
            accepted = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(accepted, "the inbox never reconnected");
    assert_eq!(inbox.stats().await.unwrap().total, 2);
    common::drop_schema(&pg, &schema).await;
}
