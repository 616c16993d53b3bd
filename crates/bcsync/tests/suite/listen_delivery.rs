//! `bcsync listen` fed by the sandbox's own webhook delivery over real HTTP: hooks it
//! registers fire on store changes, carts land in `carts` / `cart_items` equal to the
//! sandbox's own view of them, and a hook the store deactivates is repaired and its gap
//! backfilled.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::listen_support;

use std::net::SocketAddr;
use std::time::Duration;

use listen_support::common::{self, api};
use listen_support::*;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_deliveries_carts_and_a_repaired_hook() {
    let sb = common::sandbox(bc_sandbox::SeedSpec {
        customers: 10,
        products: 5,
        orders: 5,
        ..common::small_store()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shop.db");
    let port = free_port();
    let mut options = quiet_options();
    options.bind = SocketAddr::from(([127, 0, 0, 1], port));
    options.public_url = Some(format!("http://127.0.0.1:{port}/webhooks"));
    options.hook_check_interval = Duration::from_millis(300);
    let l = start(&sb, &format!("sqlite:{}", db.display()), options).await;
    wait_first_poll(&l).await;

    // A change in the store arrives by webhook.
    let (s, _) = api(
        &sb,
        Method::PUT,
        "/v3/customers",
        Some(json!([{"id": 1, "first_name": "Live"}])),
    )
    .await;
    assert_eq!(s, 200);
    let db2 = db.clone();
    wait_for("the delivered customer change", || {
        let db = db2.clone();
        async move { row(&db, "customers", "id", 1).unwrap().0["first_name"] == "Live" }
    })
    .await;

    // A cart: only webhooks reveal it; the row matches the sandbox's own cart.
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
        Some(json!({"customer_id": 1, "line_items": [{"product_id": 1, "variant_id": variant, "quantity": 2}]})),
    )
    .await;
    assert_eq!(s, 201, "{cart:?}");
    let cart_id = cart.unwrap()["data"]["id"].as_str().unwrap().to_owned();
    let cart_row = |db: std::path::PathBuf, id: String| {
        common::db(&db)
            .query_row("SELECT _raw FROM carts WHERE id = ?1", [id], |r| {
                r.get::<_, String>(0)
            })
            .ok()
            .map(|t| serde_json::from_str::<Value>(&t).unwrap())
    };
    let (db2, id2) = (db.clone(), cart_id.clone());
    wait_for("the cart row", || {
        let (db, id) = (db2.clone(), id2.clone());
        async move { cart_row(db, id).is_some() }
    })
    .await;
    let (s, theirs) = api(&sb, Method::GET, &format!("/v3/carts/{cart_id}"), None).await;
    assert_eq!(s, 200);
    let theirs = theirs.unwrap()["data"].clone();
    let ours = cart_row(db.clone(), cart_id.clone()).unwrap();
    assert_eq!(ours["state"], "active");
    for field in ["id", "customer_id", "cart_amount", "base_amount"] {
        assert_eq!(ours[field], theirs[field], "{field}");
    }
    assert_eq!(our_cart_lines(&db, &cart_id), their_cart_lines(&theirs));

    // The store deactivates the customer hook; the change made meanwhile is backfilled.
    let (s, hooks) = api(&sb, Method::GET, "/v3/hooks?limit=250", None).await;
    assert_eq!(s, 200);
    let hook = hooks.unwrap()["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["scope"] == "store/customer/*")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let resp = reqwest::Client::new()
        .post(format!(
            "{}/_sandbox/hooks/{hook}/deactivate",
            sb.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let (s, _) = api(
        &sb,
        Method::PUT,
        "/v3/customers",
        Some(json!([{"id": 2, "first_name": "Gap"}])),
    )
    .await;
    assert_eq!(s, 200);
    let inbox = l.inbox.clone();
    wait_for("the hook repair", || {
        let inbox = inbox.clone();
        async move { inbox.meta("hooks_repaired_at").await.unwrap().is_some() }
    })
    .await;
    let db2 = db.clone();
    wait_for("the gap to be backfilled", || {
        let db = db2.clone();
        async move { row(&db, "customers", "id", 2).unwrap().0["first_name"] == "Gap" }
    })
    .await;
    l.shutdown().await.unwrap();
}
