//! The apply loop's request economy over real HTTP: a burst of events costs one read per
//! record family, not one per event (ten updates to one order: one fetch; ten customers:
//! one `id:in` read).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::listen_support;

use std::sync::Arc;

use bcsync::destinations::{self, DestinationWriter};
use bcsync::listen::apply::{Applier, ApplyOptions};
use bcsync::listen::delivery::Delivery;
use bcsync::listen::inbox::Inbox;
use bcsync::streams::{CARTS, STREAMS, StreamDescriptor};
use listen_support::common;
use listen_support::payload;
use serde_json::json;

#[tokio::test]
async fn a_burst_is_read_once_per_record_and_batched() {
    let sb = common::sandbox(common::small_store()).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shop.db");
    let inbox = Inbox::open_sqlite(&dir.path().join("shop-inbox.db")).unwrap();
    let hash = sb.store_hash().to_owned();
    let orders = common::list_all(&sb, "v2", "/orders", "").await;
    let order_id = orders[3]["id"].as_i64().unwrap();
    let mut n = 0;
    let mut accept = |scope: &str, data: serde_json::Value| {
        n += 1;
        let body = payload(&hash, scope, data, n);
        let d: Delivery = serde_json::from_value(body.clone()).unwrap();
        (d, body.to_string())
    };
    let mut deliveries = Vec::new();
    for _ in 0..10 {
        deliveries.push(accept(
            "store/order/updated",
            json!({"type": "order", "id": order_id}),
        ));
    }
    for id in 1..=10 {
        deliveries.push(accept(
            "store/customer/updated",
            json!({"type": "customer", "id": id}),
        ));
    }
    for id in 1..=3 {
        deliveries.push(accept(
            "store/sku/inventory/updated",
            json!({"type": "sku", "id": 1000 + id, "sku": {"product_id": id, "variant_id": 1}}),
        ));
    }
    for (d, body) in &deliveries {
        inbox.accept(&hash, d, body).await.unwrap();
    }
    let (client, _) = common::client(&sb, sb.token());
    let dest = destinations::open(&format!("sqlite:{}", db.display()), None).unwrap();
    let streams: Vec<&'static StreamDescriptor> = STREAMS
        .iter()
        .filter(|s| ["customers", "products", "orders"].contains(&s.name))
        .chain(std::iter::once(&CARTS))
        .collect();
    let (writer, _) =
        tokio::task::spawn_blocking(move || DestinationWriter::start(dest, &streams, false))
            .await
            .unwrap()
            .unwrap();
    let writer = Arc::new(writer);
    let applier = Applier {
        client: client.clone(),
        writer: Arc::clone(&writer),
        inbox: inbox.clone(),
        wake: Arc::default(),
        options: ApplyOptions::default(),
        poll_window: Default::default(),
        applied: None,
    };
    let pending = inbox.pending(1000).await.unwrap();
    assert_eq!(pending.len(), 23);
    let round = applier.apply(&pending).await.unwrap();
    assert_eq!(round.events, 23);
    assert_eq!(
        round.requests, 3,
        "one read each for the order, the ten customers and the three products"
    );
    assert_eq!(inbox.stats().await.unwrap().pending, 0);
    drop(applier);
    Arc::try_unwrap(writer).unwrap().finish().await.unwrap();
    let conn = common::db(&db);
    assert_eq!(common::count(&conn, "customers"), 10);
    assert_eq!(common::count(&conn, "products"), 3);
    assert_eq!(common::count(&conn, "orders"), 1);
    let lines: i64 = conn
        .query_row(
            "SELECT count(*) FROM order_lines WHERE order_id = ?1",
            [order_id],
            |r| r.get(0),
        )
        .unwrap();
    assert!(lines > 0, "the order's lines came with it");
}

/// A token without the carts scope: every cart read is a 403. The cart event is parked
/// with the reason (shown by `bcsync status`), and the customer event beside it is
/// applied in the same round instead of the round failing over and over.
#[tokio::test]
async fn a_read_refused_for_good_parks_its_events_and_the_rest_apply() {
    use bc_sandbox::{SandboxConfig, TokenConfig};
    let sb = common::sandbox_with(SandboxConfig {
        seed: common::small_store(),
        tokens: vec![
            TokenConfig::full("full-token"),
            TokenConfig::parse("no-carts:store_v2_customers,store_v2_orders,store_v2_products")
                .unwrap(),
        ],
        ..SandboxConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shop.db");
    let inbox = Inbox::open_sqlite(&dir.path().join("shop-inbox.db")).unwrap();
    let hash = sb.store_hash().to_owned();
    for (n, (scope, data)) in [
        (
            "store/cart/updated",
            json!({"type": "cart", "id": "6c4d4ab8-0e4a-4a8a-9d1e-1f1b2c3d4e5f"}),
        ),
        (
            "store/customer/updated",
            json!({"type": "customer", "id": 5}),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let body = payload(&hash, scope, data, n as u64);
        let d: Delivery = serde_json::from_value(body.clone()).unwrap();
        inbox.accept(&hash, &d, &body.to_string()).await.unwrap();
    }
    let (client, _) = common::client(&sb, "no-carts");
    let dest = destinations::open(&format!("sqlite:{}", db.display()), None).unwrap();
    let streams: Vec<&'static StreamDescriptor> = STREAMS
        .iter()
        .filter(|s| ["customers", "products", "orders"].contains(&s.name))
        .chain(std::iter::once(&CARTS))
        .collect();
    let (writer, _) =
        tokio::task::spawn_blocking(move || DestinationWriter::start(dest, &streams, false))
            .await
            .unwrap()
            .unwrap();
    let writer = Arc::new(writer);
    let applier = Applier {
        client,
        writer: Arc::clone(&writer),
        inbox: inbox.clone(),
        wake: Arc::default(),
        options: ApplyOptions::default(),
        poll_window: Default::default(),
        applied: None,
    };
    let pending = inbox.pending(100).await.unwrap();
    let round = applier.apply(&pending).await.unwrap();
    assert_eq!(round.records, 1, "the customer was written");
    let stats = inbox.stats().await.unwrap();
    assert_eq!(stats.pending, 0, "nothing is left to stall the queue");
    assert_eq!(stats.parked, 1);
    assert!(
        stats.parked_reason.as_deref().unwrap().contains("403"),
        "{:?}",
        stats.parked_reason
    );
    assert!(inbox.pending(100).await.unwrap().is_empty());
    drop(applier);
    Arc::try_unwrap(writer).unwrap().finish().await.unwrap();
    assert_eq!(common::count(&common::db(&db), "customers"), 1);
    let target =
        bcsync::listen::ListenTarget::parse(&format!("sqlite:{}", db.display()), &hash).unwrap();
    let status = bcsync::listen::status::read(&target, &hash).await.unwrap();
    let text = bcsync::listen::status::render(&status);
    assert!(text.contains("parked           1 event(s)"), "{text}");
}

async fn applier_for(client: bigcommerce::Client, db: &std::path::Path, inbox: &Inbox) -> Applier {
    let dest = destinations::open(&format!("sqlite:{}", db.display()), None).unwrap();
    let streams: Vec<&'static StreamDescriptor> = STREAMS
        .iter()
        .filter(|s| ["customers", "products", "orders"].contains(&s.name))
        .chain(std::iter::once(&CARTS))
        .collect();
    let (writer, _) =
        tokio::task::spawn_blocking(move || DestinationWriter::start(dest, &streams, false))
            .await
            .unwrap()
            .unwrap();
    Applier {
        client,
        writer: Arc::new(writer),
        inbox: inbox.clone(),
        wake: Arc::default(),
        options: ApplyOptions::default(),
        poll_window: Default::default(),
        applied: None,
    }
}

/// Deliveries are unordered: a cart's `converted` followed by a late `cart/updated` (in
/// the same round, or in a later one) must not turn the converted cart into a deleted one
/// when the cart has left the API.
#[tokio::test]
async fn a_late_cart_update_never_undoes_its_conversion() {
    let sb = common::sandbox(common::small_store()).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shop.db");
    let inbox = Inbox::open_sqlite(&dir.path().join("shop-inbox.db")).unwrap();
    let hash = sb.store_hash().to_owned();
    let (s, product) = common::api(
        &sb,
        reqwest::Method::GET,
        "/v3/catalog/products/1?include=variants",
        None,
    )
    .await;
    assert_eq!(s, 200);
    let variant = product.unwrap()["data"]["variants"][0]["id"]
        .as_i64()
        .unwrap();
    let (s, cart) = common::api(
        &sb,
        reqwest::Method::POST,
        "/v3/carts",
        Some(json!({"customer_id": 1, "line_items": [{"product_id": 1, "variant_id": variant, "quantity": 2}]})),
    )
    .await;
    assert_eq!(s, 201);
    let cart_id = cart.unwrap()["data"]["id"].as_str().unwrap().to_owned();
    let mut n = 0u64;
    let mut accept = async |scope: &str, data: serde_json::Value| {
        n += 1;
        let body = payload(&hash, scope, data, n);
        let d: Delivery = serde_json::from_value(body.clone()).unwrap();
        inbox.accept(&hash, &d, &body.to_string()).await.unwrap();
    };
    accept("store/cart/created", json!({"type": "cart", "id": cart_id})).await;
    let (client, _) = common::client(&sb, sb.token());
    let a = applier_for(client, &db, &inbox).await;
    a.apply(&inbox.pending(100).await.unwrap()).await.unwrap();
    // The cart becomes order 4242 and leaves the API; an update about it arrives late.
    let (s, _) = common::api(
        &sb,
        reqwest::Method::DELETE,
        &format!("/v3/carts/{cart_id}"),
        None,
    )
    .await;
    assert_eq!(s, 204);
    accept(
        "store/cart/converted",
        json!({"type": "cart", "id": cart_id, "orderId": 4242}),
    )
    .await;
    accept("store/cart/updated", json!({"type": "cart", "id": cart_id})).await;
    a.apply(&inbox.pending(100).await.unwrap()).await.unwrap();
    // Another straggler, in a round of its own.
    accept(
        "store/cart/lineItem/updated",
        json!({"type": "cart_line_item", "id": "x", "cartId": cart_id}),
    )
    .await;
    a.apply(&inbox.pending(100).await.unwrap()).await.unwrap();
    assert_eq!(inbox.stats().await.unwrap().pending, 0);
    let saved = inbox
        .meta(&format!("cart:{cart_id}"))
        .await
        .unwrap()
        .unwrap();
    assert!(
        !saved.contains("line_items") && !saved.contains("customer_id"),
        "a converted cart's saved copy keeps no shopper data: {saved}"
    );
    let writer = a.writer;
    Arc::try_unwrap(writer).unwrap().finish().await.unwrap();
    let (raw, deleted): (String, Option<String>) = common::db(&db)
        .query_row(
            "SELECT _raw, _deleted_at FROM carts WHERE id = ?1",
            [&cart_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let raw: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(deleted, None, "the converted cart was marked deleted");
    assert_eq!(raw["state"], "converted");
    assert_eq!(raw["order_id"], 4242);
    assert_eq!(raw["customer_id"], 1, "the last copy is kept");
}
