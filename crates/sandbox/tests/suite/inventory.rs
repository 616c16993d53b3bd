//! Inventory over real HTTP (docs/api-notes.md §5): absolute and relative adjustments
//! change the catalog's `inventory_level` (product or variant, by tracking), all items of
//! a request or none; locations; the inventory item lists; the webhook events each
//! adjustment journals (read back through `/_sandbox/events`).
#![allow(clippy::unwrap_used)]

use crate::common;

use bc_sandbox::SeedSpec;
use reqwest::Method;
use serde_json::{Value, json};

fn store() -> SeedSpec {
    SeedSpec {
        products: 4,
        ..SeedSpec::empty()
    }
}

async fn product_level(api: &common::Api, pid: i64) -> i64 {
    api.get(&format!("/v3/catalog/products/{pid}")).await.json()["data"]["inventory_level"]
        .as_i64()
        .unwrap()
}

async fn first_product(api: &common::Api) -> (i64, String) {
    let r = api.get("/v3/catalog/products?limit=1").await;
    let p = &r.json()["data"][0];
    (
        p["id"].as_i64().unwrap(),
        p["sku"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn absolute_and_relative_adjustments_change_the_catalog() {
    let api = common::start_seeded(store()).await;
    let (pid, sku) = first_product(&api).await;
    let before_modified =
        api.get(&format!("/v3/catalog/products/{pid}")).await.json()["data"]["date_modified"]
            .clone();

    let r = api
        .put(
            "/v3/inventory/adjustments/absolute",
            json!({"reason": "count", "items": [{"location_id": 1, "product_id": pid, "quantity": 40}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json()["transaction_id"].is_string());
    assert_eq!(product_level(&api, pid).await, 40);

    let r = api
        .post(
            "/v3/inventory/adjustments/relative",
            json!({"items": [{"location_id": 1, "sku": sku, "quantity": -15}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(product_level(&api, pid).await, 25);
    let after = api.get(&format!("/v3/catalog/products/{pid}")).await;
    assert!(
        after.json()["data"]["date_modified"].as_str() >= before_modified.as_str(),
        "an adjustment touches the product"
    );

    // Below zero is refused, and the whole request with it.
    let r = api
        .post(
            "/v3/inventory/adjustments/relative",
            json!({"items": [
                {"location_id": 1, "product_id": pid, "quantity": 5},
                {"location_id": 1, "product_id": pid, "quantity": -100}
            ]}),
        )
        .await;
    common::assert_v3_error(&r, 422);
    assert_eq!(product_level(&api, pid).await, 25);

    // Exactly one identifier per item; an unknown location is refused.
    common::assert_v3_error(
        &api.put(
            "/v3/inventory/adjustments/absolute",
            json!({"items": [{"location_id": 1, "product_id": pid, "sku": sku, "quantity": 1}]}),
        )
        .await,
        422,
    );
    common::assert_v3_error(
        &api.put(
            "/v3/inventory/adjustments/absolute",
            json!({"items": [{"location_id": 77, "product_id": pid, "quantity": 1}]}),
        )
        .await,
        422,
    );
    let too_many: Vec<Value> = (0..2001)
        .map(|_| json!({"location_id": 1, "product_id": pid, "quantity": 1}))
        .collect();
    common::assert_v3_error(
        &api.put(
            "/v3/inventory/adjustments/absolute",
            json!({"items": too_many}),
        )
        .await,
        413,
    );
}

#[tokio::test]
async fn locations_hold_their_own_stock() {
    let api = common::start_seeded(store()).await;
    let (pid, _) = first_product(&api).await;
    let list = api.get("/v3/inventory/locations").await;
    assert_eq!(list.json()["data"][0]["id"], 1);
    assert_eq!(list.json()["data"][0]["code"], "BC-LOCATION-1");

    let r = api
        .post(
            "/v3/inventory/locations",
            json!([{"code": "WH-2", "label": "Warehouse 2"}]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let dup = api
        .post(
            "/v3/inventory/locations",
            json!([{"code": "wh-2", "label": "Again"}]),
        )
        .await;
    common::assert_v3_error(&dup, 422);
    let list = api
        .get("/v3/inventory/locations?location_code:in=WH-2")
        .await;
    let wh2 = list.json()["data"][0]["id"].as_i64().unwrap();

    let r = api
        .put(
            "/v3/inventory/adjustments/absolute",
            json!({"items": [
                {"location_id": 1, "product_id": pid, "quantity": 10},
                {"location_id": wh2, "product_id": pid, "quantity": 6}
            ]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        product_level(&api, pid).await,
        16,
        "the catalog shows the total"
    );

    let items = api
        .get(&format!("/v3/inventory/items?product_id:in={pid}"))
        .await;
    assert_eq!(items.json()["meta"]["pagination"]["total"], 1);
    let item = &items.json()["data"][0];
    assert_eq!(item["identity"]["product_id"], pid);
    let at = |loc: i64| {
        item["locations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["location_id"] == loc)
            .unwrap()["available_to_sell"]
            .as_i64()
            .unwrap()
    };
    assert_eq!((at(1), at(wh2)), (10, 6));

    let here = api
        .get(&format!(
            "/v3/inventory/locations/{wh2}/items?product_id:in={pid}"
        ))
        .await;
    assert_eq!(here.json()["data"][0]["available_to_sell"], 6);

    // A location holding stock cannot go; emptied, it can.
    common::assert_v3_error(
        &api.delete(&format!("/v3/inventory/locations?location_id:in={wh2}"))
            .await,
        422,
    );
    api.put(
        "/v3/inventory/adjustments/absolute",
        json!({"items": [{"location_id": wh2, "product_id": pid, "quantity": 0}]}),
    )
    .await;
    assert_eq!(
        api.delete(&format!("/v3/inventory/locations?location_id:in={wh2}"))
            .await
            .status,
        204
    );
    assert_eq!(product_level(&api, pid).await, 10);
    common::assert_v3_error(
        &api.delete("/v3/inventory/locations?location_id:in=1").await,
        422,
    );
}

#[tokio::test]
async fn variant_tracked_products_are_adjusted_by_variant() {
    let api = common::start_seeded(SeedSpec {
        products: 2,
        variants_per_product: 3,
        ..SeedSpec::empty()
    })
    .await;
    let r = api
        .get("/v3/catalog/products?include=variants&limit=1")
        .await;
    let p = &r.json()["data"][0];
    assert_eq!(p["inventory_tracking"], "variant");
    let pid = p["id"].as_i64().unwrap();
    let vid = p["variants"][1]["id"].as_i64().unwrap();
    common::assert_v3_error(
        &api.put(
            "/v3/inventory/adjustments/absolute",
            json!({"items": [{"location_id": 1, "product_id": pid, "quantity": 3}]}),
        )
        .await,
        422,
    );
    let r = api
        .put(
            "/v3/inventory/adjustments/absolute",
            json!({"items": [{"location_id": 1, "variant_id": vid, "quantity": 33}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = api
        .get(&format!("/v3/catalog/products/{pid}/variants/{vid}"))
        .await;
    assert_eq!(v.json()["data"]["inventory_level"], 33);
    let items = api
        .get(&format!("/v3/inventory/items?variant_id:in={vid}"))
        .await;
    assert_eq!(items.json()["data"][0]["identity"]["variant_id"], vid);
    assert_eq!(
        items.json()["data"][0]["locations"][0]["available_to_sell"],
        33
    );
}

#[tokio::test]
async fn adjustments_journal_the_inventory_scopes() {
    let api = common::start_seeded(store()).await;
    let (pid, _) = first_product(&api).await;
    let last = api
        .admin(Method::GET, "/_sandbox/events?after=0&limit=0", None)
        .await
        .json()["last_seq"]
        .as_u64()
        .unwrap();
    api.put(
        "/v3/inventory/adjustments/absolute",
        json!({"items": [{"location_id": 1, "product_id": pid, "quantity": 8}]}),
    )
    .await;
    api.post(
        "/v3/inventory/adjustments/relative",
        json!({"items": [{"location_id": 1, "product_id": pid, "quantity": -8}]}),
    )
    .await;
    let r = api
        .admin(Method::GET, &format!("/_sandbox/events?after={last}"), None)
        .await;
    let events: Vec<(String, Value)> = r.json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["scope"].as_str().unwrap().to_owned(), e["data"].clone()))
        .collect();
    let inventory: Vec<&Value> = events
        .iter()
        .filter(|(s, _)| s == "store/product/inventory/updated")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(
        inventory,
        [
            &json!({"type": "product", "id": pid, "inventory": {"product_id": pid, "method": "absolute", "value": 8}}),
            &json!({"type": "product", "id": pid, "inventory": {"product_id": pid, "method": "relative", "value": -8}}),
        ],
        "{events:?}"
    );
    let stock: Vec<&str> = events
        .iter()
        .filter(|(s, _)| s.starts_with("store/channel/"))
        .map(|(s, _)| s.as_str())
        .collect();
    assert_eq!(
        stock,
        [
            "store/channel/*/inventory/product/stock_changed",
            "store/channel/*/inventory/product/stock_changed",
            "store/channel/*/inventory/product/out_of_stock_reached",
        ]
    );
    assert!(!events.iter().any(|(s, _)| s.starts_with("store/sku/")));
}
