//! The inbox does not grow forever: a running listener deletes events applied more than
//! 72 hours ago (past the store's ~48 h retry span) and the saved copies of carts with no
//! event left, over real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::listen_support;

use listen_support::common::{self, api};
use listen_support::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn applied_events_and_idle_cart_copies_are_pruned() {
    let sb = common::sandbox(bc_sandbox::SeedSpec {
        customers: 5,
        products: 5,
        orders: 5,
        ..common::small_store()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shop.db");
    let to = format!("sqlite:{}", db.display());
    let (s, product) = api(
        &sb,
        Method::GET,
        "/v3/catalog/products/1?include=variants",
        None,
    )
    .await;
    assert_eq!(s, 200);
    let variant = product.unwrap()["data"]["variants"][0]["id"]
        .as_i64()
        .unwrap();
    let (s, cart) = api(
        &sb,
        Method::POST,
        "/v3/carts",
        Some(json!({"customer_id": 1, "line_items": [{"product_id": 1, "variant_id": variant, "quantity": 1}]})),
    )
    .await;
    assert_eq!(s, 201);
    let cart_id = cart.unwrap()["data"]["id"].as_str().unwrap().to_owned();
    let hash = sb.store_hash().to_owned();
    let l = start(&sb, &to, quiet_options()).await;
    let old = [
        payload(
            &hash,
            "store/cart/created",
            json!({"type": "cart", "id": cart_id}),
            1,
        ),
        payload(
            &hash,
            "store/customer/updated",
            json!({"type": "customer", "id": 2}),
            2,
        ),
    ];
    let recent = payload(
        &hash,
        "store/customer/updated",
        json!({"type": "customer", "id": 3}),
        3,
    );
    for body in old.iter().chain([&recent]) {
        assert_eq!(deliver(l.addr, body).await, 200);
    }
    wait_applied(&l, 3).await;
    let key = format!("cart:{cart_id}");
    assert!(l.inbox.meta(&key).await.unwrap().is_some());
    l.shutdown().await.unwrap();
    // Four days pass for the first two.
    let inbox_db = common::db(&dir.path().join("shop-inbox.db"));
    for body in &old {
        inbox_db
            .execute(
                "UPDATE events SET applied_at = '2020-01-01T00:00:00.000Z' WHERE hash = ?1",
                [body["hash"].as_str().unwrap()],
            )
            .unwrap();
    }
    drop(inbox_db);
    let l = start(&sb, &to, quiet_options()).await;
    let inbox = l.inbox.clone();
    wait_for("the inbox to be pruned", || {
        let inbox = inbox.clone();
        async move { inbox.stats().await.unwrap().total == 1 }
    })
    .await;
    assert_eq!(
        l.inbox.meta(&key).await.unwrap(),
        None,
        "the idle cart's copy is gone"
    );
    l.shutdown().await.unwrap();
    // A redelivery of a recent event is still recognised.
    let l = start(&sb, &to, quiet_options()).await;
    assert_eq!(deliver(l.addr, &recent).await, 200);
    assert_eq!(l.inbox.stats().await.unwrap().total, 1);
    l.shutdown().await.unwrap();
}
