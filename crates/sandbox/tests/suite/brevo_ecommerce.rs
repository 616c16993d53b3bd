//! The Brevo emulator's e-commerce API: the activation gate, categories and products
//! (single and batch), and orders (single, asynchronous batch, historical flag).
#![allow(clippy::unwrap_used)]

use crate::brevo_support;

use bc_sandbox::brevo::{BrevoConfig, TierLimits};
use brevo_support::Emu;
use serde_json::{Value, json};

fn order(id: &str, email: &str) -> Value {
    json!({
        "id": id, "createdAt": "2026-01-01T10:00:00Z", "updatedAt": "2026-01-01T10:00:00Z",
        "status": "completed", "amount": 25.5,
        "products": [{"productId": "p1", "price": 12.75, "quantity": 2}],
        "identifiers": {"email_id": email}
    })
}

#[tokio::test]
async fn catalogue_and_orders_wait_for_activation() {
    let emu = Emu::with(BrevoConfig {
        limits: TierLimits::unlimited(),
        activation_delay: std::time::Duration::from_secs(300),
        ..BrevoConfig::default()
    })
    .await;
    let r = emu
        .post("/categories", json!({"id": "c1", "name": "Shoes"}))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "permission_denied");
    assert_eq!(emu.get("/products").await.status, 400);
    assert_eq!(emu.post("/ecommerce/activate", json!({})).await.status, 200);
    assert_eq!(
        emu.get("/orders").await.code(),
        "permission_denied",
        "still activating"
    );
    emu.advance(301.0).await;
    assert_eq!(
        emu.post("/categories", json!({"id": "c1", "name": "Shoes"}))
            .await
            .status,
        201
    );
    assert_eq!(emu.state().await["ecommerceActive"], true);
}

#[tokio::test]
async fn categories_and_products_follow_update_enabled() {
    let emu = Emu::start().await;
    let r = emu
        .post("/categories", json!({"id": "c1", "name": "Shoes"}))
        .await;
    assert_eq!(r.status, 201);
    assert!(r.json()["id"].is_i64());
    let r = emu
        .post("/categories", json!({"id": "c1", "name": "Boots"}))
        .await;
    assert_eq!(r.status, 400);
    let r = emu
        .post(
            "/categories",
            json!({"id": "c1", "name": "Boots", "updateEnabled": true}),
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(emu.get("/categories/c1").await.json()["name"], "Boots");
    assert_eq!(emu.get("/categories/zz").await.status, 404);
    assert_eq!(
        emu.post("/products", json!({"id": "p1"})).await.status,
        400,
        "name on create"
    );
    let r = emu
        .post(
            "/products",
            json!({"id": "p1", "name": "Runner", "price": 99.0, "categories": ["c1"],
                   "imageUrl": "https://img.example/p1.png", "metaInfo": {"color": "red", "size": 42}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let p = emu.get("/products/p1").await;
    assert!(
        p.json()["s3Original"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    assert!(p.json()["s3ThumbAnalytics"].is_string() && p.json()["s3ThumbEditor"].is_string());
    assert_eq!(p.json()["isDeleted"], false);
    let meta: serde_json::Map<String, Value> =
        (0..21).map(|i| (format!("k{i}"), json!("v"))).collect();
    let r = emu
        .post(
            "/products",
            json!({"id": "p2", "name": "X", "metaInfo": meta}),
        )
        .await;
    assert_eq!(r.status, 400, "more than 20 metaInfo keys");
    let r = emu
        .post(
            "/products",
            json!({"id": "p2", "name": "X", "metaInfo": {"long": "a".repeat(20_001)}}),
        )
        .await;
    assert_eq!(r.status, 400, "metaInfo over 20,000 characters");
    let r = emu
        .post(
            "/products",
            json!({"id": "p1", "name": "Runner", "isDeleted": true, "updateEnabled": true}),
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(emu.get("/products?isDeleted=true").await.json()["count"], 1);
    assert_eq!(
        emu.get("/products?isDeleted=false").await.json()["count"],
        0
    );
    assert_eq!(emu.get("/products?name=ru").await.status, 400);
    assert_eq!(emu.get("/products?price[gte]=50").await.json()["count"], 1);
    assert_eq!(emu.get("/products?price[lt]=50").await.json()["count"], 0);
    assert_eq!(emu.get("/products?limit=1001").await.status, 400);
    assert_eq!(emu.get("/categories?limit=101").await.status, 400);
}

#[tokio::test]
async fn batches_have_caps_reject_duplicates_and_count() {
    let emu = Emu::start().await;
    let cats: Vec<Value> = (0..3)
        .map(|i| json!({"id": format!("c{i}"), "name": format!("C{i}")}))
        .collect();
    let r = emu
        .post("/categories/batch", json!({"categories": cats}))
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json(), &json!({"createdCount": 3, "updatedCount": 0}));
    let r = emu
        .post(
            "/categories/batch",
            json!({"categories": [{"id": "c0", "name": "A"}]}),
        )
        .await;
    assert_eq!(r.status, 400, "existing id without updateEnabled");
    let r = emu
        .post("/categories/batch", json!({"categories": [{"id": "c0", "name": "A"}, {"id": "c9", "name": "B"}], "updateEnabled": true}))
        .await;
    assert_eq!(r.json(), &json!({"createdCount": 1, "updatedCount": 1}));
    let dup = emu
        .post(
            "/products/batch",
            json!({"products": [{"id": "p", "name": "a"}, {"id": "p", "name": "b"}]}),
        )
        .await;
    assert_eq!(dup.status, 400);
    let many: Vec<Value> = (0..101)
        .map(|i| json!({"id": format!("p{i}"), "name": "n"}))
        .collect();
    let r = emu
        .post("/products/batch", json!({"products": many.clone()}))
        .await;
    assert_eq!(r.status, 400);
    let r = emu
        .post(
            "/products/batch",
            json!({"products": many.clone(), "updateEnabled": true}),
        )
        .await;
    assert_eq!(r.status, 400, "1000 needs the raised limit");
    emu.switches(json!({"products_raised_limit": true})).await;
    let r = emu
        .post(
            "/products/batch",
            json!({"products": many, "updateEnabled": true}),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["createdCount"], 101);
    assert_eq!(emu.get("/products?limit=1000").await.json()["count"], 101);
    assert_eq!(emu.state().await["products"].as_array().unwrap().len(), 101);
}

#[tokio::test]
async fn orders_single_and_batch_record_historical_and_automations() {
    let emu = Emu::start().await;
    let cid = emu.contact(json!({"email": "buyer@example.com"})).await;
    assert_eq!(
        emu.post("/orders/status", order("o1", "buyer@example.com"))
            .await
            .status,
        204
    );
    let mut both = order("o2", "buyer@example.com");
    both["products"][0]["quantityFloat"] = json!(1.5);
    assert_eq!(emu.post("/orders/status", both).await.status, 400);
    let mut none = order("o2", "buyer@example.com");
    none["identifiers"] = json!({});
    assert_eq!(emu.post("/orders/status", none).await.status, 400);
    let mut legacy = order("o3", "x");
    legacy.as_object_mut().unwrap().remove("identifiers");
    legacy["email"] = json!("buyer@example.com");
    assert_eq!(
        emu.post("/orders/status", legacy).await.status,
        204,
        "top-level email accepted"
    );
    let batch: Vec<Value> = (10..15)
        .map(|i| order(&format!("o{i}"), "buyer@example.com"))
        .collect();
    let r = emu
        .post("/orders/status/batch", json!({"orders": batch}))
        .await;
    assert_eq!(r.status, 202);
    assert_eq!(r.json()["count"], 5);
    assert!(r.json()["batchId"].is_i64());
    assert_eq!(
        emu.get("/orders").await.json()["count"],
        2,
        "batch not applied yet"
    );
    let live: Vec<Value> = (20..22)
        .map(|i| order(&format!("o{i}"), "buyer@example.com"))
        .collect();
    let r = emu
        .post(
            "/orders/status/batch",
            json!({"orders": live, "historical": false}),
        )
        .await;
    assert_eq!(r.status, 202);
    emu.advance(10.0).await;
    let all = emu.get("/orders?limit=100").await;
    assert_eq!(all.json()["count"], 9);
    assert_eq!(all.json()["orders"][0]["contact_id"], cid);
    let state = emu.state().await;
    let historical = state["orders"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["historical"] == true)
        .count();
    assert_eq!(historical, 5);
    // Two single orders plus two live batch orders.
    assert_eq!(state["automationsTriggered"], 4);
    let too_many: Vec<Value> = (0..1001)
        .map(|i| order(&format!("x{i}"), "b@example.com"))
        .collect();
    assert_eq!(
        emu.post("/orders/status/batch", json!({"orders": too_many}))
            .await
            .status,
        400
    );
    assert_eq!(emu.get("/orders?limit=101").await.status, 400);
}

#[tokio::test]
async fn order_batch_notifies_loopback_when_applied() {
    use std::sync::Arc;
    use tokio::sync::Mutex;
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let sink = got.clone();
    let app = axum::Router::new().route(
        "/batch-done",
        axum::routing::post(move |axum::Json(v): axum::Json<Value>| {
            let sink = sink.clone();
            async move {
                sink.lock().await.push(v);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let emu = Emu::start().await;
    let r = emu
        .post(
            "/orders/status/batch",
            json!({"orders": [order("n1", "a@example.com")], "notifyUrl": format!("http://{addr}/batch-done")}),
        )
        .await;
    let batch = r.json()["batchId"].clone();
    emu.advance(10.0).await;
    for _ in 0..200 {
        if !got.lock().await.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        got.lock().await.clone(),
        vec![json!({"batchId": batch, "count": 1, "status": "completed"})]
    );
    let state = emu.state().await;
    assert_eq!(state["notifications"][0]["sent"], true);
    assert_eq!(state["orderBatches"][0]["applied"], true);
}
