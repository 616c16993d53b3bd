//! Carts over real HTTP (docs/api-notes.md §8): the lifecycle with line items, version
//! conflicts, the last line taking the cart with it, abandonment at a scaled hour, and
//! checkout turning a cart into an order; `/_sandbox/carts` shows every cart's state.
#![allow(clippy::unwrap_used)]

use crate::common;

use std::time::Duration;

use bc_sandbox::{SandboxConfig, SeedSpec};
use reqwest::Method;
use serde_json::{Value, json};

fn small_store() -> SeedSpec {
    SeedSpec {
        customers: 5,
        addresses_per_customer: 1,
        products: 6,
        ..SeedSpec::empty()
    }
}

/// A product without option variants, and its catalog price.
async fn simple_product(api: &common::Api) -> (i64, f64) {
    let r = api.get("/v3/catalog/products?limit=50").await;
    let p = r.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| !p["base_variant_id"].is_null())
        .unwrap()
        .clone();
    (
        p["id"].as_i64().unwrap(),
        p["calculated_price"].as_f64().unwrap(),
    )
}

async fn admin_carts(api: &common::Api) -> Value {
    api.admin(Method::GET, "/_sandbox/carts", None)
        .await
        .json()
        .clone()
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[tokio::test]
async fn cart_lifecycle_with_line_items() {
    let api = common::start_seeded(small_store()).await;
    let (pid, price) = simple_product(&api).await;

    let created = api
        .post(
            "/v3/carts",
            json!({"customer_id": 1, "line_items": [{"product_id": pid, "quantity": 2}]}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let cart = &created.json()["data"];
    let id = cart["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "cart ids are UUIDs: {id}");
    assert_eq!(cart["version"], 1);
    assert_eq!(cart["customer_id"], 1);
    let line = &cart["line_items"]["physical_items"][0];
    assert_eq!(line["product_id"], pid);
    assert_eq!(line["quantity"], 2);
    assert_eq!(line["list_price"].as_f64().unwrap(), price);
    assert_eq!(cart["cart_amount"].as_f64().unwrap(), round(price * 2.0));

    let got = api
        .get(&format!("/v3/carts/{id}?include=redirect_urls"))
        .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.json()["data"]["id"], id.as_str());
    assert!(got.json()["data"]["redirect_urls"]["checkout_url"].is_string());

    // Adding the same product merges into its line; a custom price makes a new line.
    let added = api
        .post(
            &format!("/v3/carts/{id}/items"),
            json!({"line_items": [
                {"product_id": pid, "quantity": 1},
                {"product_id": pid, "quantity": 1, "list_price": 1.5}
            ]}),
        )
        .await;
    assert_eq!(added.status, 201, "{}", added.text);
    let items = added.json()["data"]["line_items"]["physical_items"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["quantity"], 3);
    assert_eq!(items[1]["list_price"], 1.5);
    assert_eq!(added.json()["data"]["version"], 2);

    let second = items[1]["id"].as_str().unwrap().to_owned();
    let updated = api
        .put(
            &format!("/v3/carts/{id}/items/{second}"),
            json!({"line_item": {"quantity": 4}}),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert_eq!(
        updated.json()["data"]["line_items"]["physical_items"][1]["quantity"],
        4
    );

    let customer = api
        .put(&format!("/v3/carts/{id}"), json!({"customer_id": 2}))
        .await;
    assert_eq!(customer.status, 201, "{}", customer.text);
    assert_eq!(customer.json()["data"]["customer_id"], 2);

    let removed = api.delete(&format!("/v3/carts/{id}/items/{second}")).await;
    assert_eq!(removed.status, 200);
    let first = items[0]["id"].as_str().unwrap().to_owned();
    // Removing the last line deletes the cart: 204, then 404.
    let last = api.delete(&format!("/v3/carts/{id}/items/{first}")).await;
    assert_eq!(last.status, 204, "{}", last.text);
    common::assert_v3_error(&api.get(&format!("/v3/carts/{id}")).await, 404);

    let admin = admin_carts(&api).await;
    assert_eq!(admin["total"], 1);
    assert_eq!(admin["carts"][0]["id"], id.as_str());
    assert_eq!(admin["carts"][0]["state"], "deleted");
    assert_eq!(admin["counts"]["carts"], 0);
}

#[tokio::test]
async fn delete_cart_and_bad_input() {
    let api = common::start_seeded(small_store()).await;
    let (pid, _) = simple_product(&api).await;
    common::assert_v3_error(&api.post("/v3/carts", json!({"line_items": []})).await, 422);
    common::assert_v3_error(
        &api.post(
            "/v3/carts",
            json!({"line_items": [{"product_id": 999_999, "quantity": 1}]}),
        )
        .await,
        422,
    );
    common::assert_v3_error(
        &api.post(
            "/v3/carts",
            json!({"customer_id": 999_999, "line_items": [{"product_id": pid, "quantity": 1}]}),
        )
        .await,
        422,
    );
    let created = api
        .post(
            "/v3/carts",
            json!({"line_items": [{"product_id": pid, "quantity": 1}]}),
        )
        .await;
    let id = created.json()["data"]["id"].as_str().unwrap().to_owned();
    let line = created.json()["data"]["line_items"]["physical_items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Only quantity and list_price of a line can change.
    common::assert_v3_error(
        &api.put(
            &format!("/v3/carts/{id}/items/{line}"),
            json!({"line_item": {"quantity": 1, "product_id": pid + 1}}),
        )
        .await,
        409,
    );
    assert_eq!(api.delete(&format!("/v3/carts/{id}")).await.status, 204);
    common::assert_v3_error(&api.get(&format!("/v3/carts/{id}")).await, 404);
    common::assert_v3_error(&api.delete(&format!("/v3/carts/{id}")).await, 404);
}

#[tokio::test]
async fn a_stale_version_is_a_conflict() {
    let api = common::start_seeded(small_store()).await;
    let (pid, _) = simple_product(&api).await;
    let created = api
        .post(
            "/v3/carts",
            json!({"line_items": [{"product_id": pid, "quantity": 1}]}),
        )
        .await;
    let id = created.json()["data"]["id"].as_str().unwrap().to_owned();
    let ok = api
        .post(
            &format!("/v3/carts/{id}/items"),
            json!({"version": 1, "line_items": [{"product_id": pid, "quantity": 1}]}),
        )
        .await;
    assert_eq!(ok.status, 201, "{}", ok.text);
    assert_eq!(ok.json()["data"]["version"], 2);
    // A second writer still holding version 1 loses and changes nothing.
    let stale = api
        .post(
            &format!("/v3/carts/{id}/items"),
            json!({"version": 1, "line_items": [{"product_id": pid, "quantity": 5}]}),
        )
        .await;
    common::assert_v3_error(&stale, 409);
    let stale_customer = api
        .put(
            &format!("/v3/carts/{id}"),
            json!({"customer_id": 1, "version": 1}),
        )
        .await;
    common::assert_v3_error(&stale_customer, 409);
    let now = api.get(&format!("/v3/carts/{id}")).await;
    assert_eq!(now.json()["data"]["version"], 2);
    assert_eq!(
        now.json()["data"]["line_items"]["physical_items"][0]["quantity"],
        2
    );
}

#[tokio::test]
async fn carts_are_abandoned_after_a_scaled_hour_of_inactivity() {
    // At this scale an hour lasts 36 ms (and 30 days about 26 s, longer than the test).
    let api = common::start(SandboxConfig {
        seed: small_store(),
        time_scale: 0.00001,
        ..SandboxConfig::default()
    })
    .await;
    let (pid, _) = simple_product(&api).await;
    let created = api
        .post(
            "/v3/carts",
            json!({"line_items": [{"product_id": pid, "quantity": 1}]}),
        )
        .await;
    let id = created.json()["data"]["id"].as_str().unwrap().to_owned();
    let mut state = String::new();
    for _ in 0..500 {
        let admin = admin_carts(&api).await;
        state = admin["carts"][0]["state"].as_str().unwrap().to_owned();
        if state == "abandoned" {
            assert_eq!(admin["carts"][0]["abandoned"], true);
            assert!(admin["carts"][0]["abandoned_at"].is_i64());
            assert_eq!(admin["counts"]["carts_abandoned"], 1);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(state, "abandoned");
    // An abandoned cart is still a cart: it can be read and changed, which revives it.
    let revived = api
        .put(&format!("/v3/carts/{id}"), json!({"customer_id": 1}))
        .await;
    assert_eq!(revived.status, 201, "{}", revived.text);
    let admin = admin_carts(&api).await;
    assert!(
        ["active", "abandoned"].contains(&admin["carts"][0]["state"].as_str().unwrap()),
        "{admin}"
    );
}

#[tokio::test]
async fn checkout_converts_the_cart_into_an_order() {
    let api = common::start_seeded(small_store()).await;
    let (pid, price) = simple_product(&api).await;
    let orders_before = api.get("/v2/orders/count").await.json()["count"]
        .as_i64()
        .unwrap();
    let created = api
        .post(
            "/v3/carts",
            json!({"customer_id": 1, "line_items": [{"product_id": pid, "quantity": 3}]}),
        )
        .await;
    let id = created.json()["data"]["id"].as_str().unwrap().to_owned();

    let placed = api
        .post(&format!("/v3/checkouts/{id}/orders"), json!({}))
        .await;
    assert_eq!(placed.status, 200, "{}", placed.text);
    let order_id = placed.json()["data"]["id"].as_i64().unwrap();

    let order = api.get(&format!("/v2/orders/{order_id}")).await;
    assert_eq!(order.status, 200, "{}", order.text);
    assert_eq!(order.json()["customer_id"], 1);
    assert_eq!(order.json()["cart_id"], id.as_str());
    let lines = api.get(&format!("/v2/orders/{order_id}/products")).await;
    assert_eq!(lines.json()[0]["product_id"], pid);
    assert_eq!(lines.json()[0]["quantity"], 3);
    let line_price: f64 = lines.json()[0]["price_inc_tax"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(round(line_price), round(price));
    let orders_after = api.get("/v2/orders/count").await.json()["count"]
        .as_i64()
        .unwrap();
    assert_eq!(orders_after, orders_before + 1);

    // The cart is gone from the API and converted in the admin view.
    common::assert_v3_error(&api.get(&format!("/v3/carts/{id}")).await, 404);
    common::assert_v3_error(
        &api.post(&format!("/v3/checkouts/{id}/orders"), json!({}))
            .await,
        404,
    );
    let admin = api
        .admin(Method::GET, "/_sandbox/carts?state=converted", None)
        .await;
    assert_eq!(admin.json()["total"], 1);
    assert_eq!(admin.json()["carts"][0]["order_id"], order_id);
    assert_eq!(admin.json()["carts"][0]["converted"], true);
    let counts = api.admin(Method::GET, "/_sandbox/counts", None).await;
    assert_eq!(counts.json()["carts_converted"], 1);
}

/// The journal (`/_sandbox/events`) after `after`: `(scope, data)` pairs.
async fn events_after(api: &common::Api, after: u64) -> Vec<(String, Value)> {
    let r = api
        .admin(
            Method::GET,
            &format!("/_sandbox/events?after={after}"),
            None,
        )
        .await;
    r.json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["scope"].as_str().unwrap().to_owned(), e["data"].clone()))
        .collect()
}

async fn last_event(api: &common::Api) -> u64 {
    let r = api
        .admin(Method::GET, "/_sandbox/events?after=0&limit=0", None)
        .await;
    r.json()["last_seq"].as_u64().unwrap()
}

#[tokio::test]
async fn cart_writes_journal_their_webhook_events() {
    let api = common::start_seeded(small_store()).await;
    let (pid, _) = simple_product(&api).await;
    let start = last_event(&api).await;
    let created = api
        .post(
            "/v3/carts",
            json!({"customer_id": 1, "line_items": [{"product_id": pid, "quantity": 1}]}),
        )
        .await;
    let id = created.json()["data"]["id"].as_str().unwrap().to_owned();
    let line = created.json()["data"]["line_items"]["physical_items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    api.put(
        &format!("/v3/carts/{id}/items/{line}"),
        json!({"line_item": {"quantity": 2}}),
    )
    .await;
    let placed = api
        .post(&format!("/v3/checkouts/{id}/orders"), json!({}))
        .await;
    let order_id = placed.json()["data"]["id"].as_i64().unwrap();

    let events = events_after(&api, start).await;
    let cart = json!({"type": "cart", "id": id});
    let item = json!({"type": "cart_line_item", "id": line, "cartId": id});
    let scopes: Vec<&str> = events.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        scopes,
        [
            "store/cart/created",
            "store/cart/updated",
            "store/cart/lineItem/created",
            "store/cart/lineItem/updated",
            "store/cart/updated",
            "store/order/created",
            "store/cart/converted",
        ],
        "{events:?}"
    );
    assert_eq!(events[0].1, cart);
    assert_eq!(events[2].1, item);
    assert_eq!(events[5].1, json!({"type": "order", "id": order_id}));
    assert_eq!(
        events[6].1,
        json!({"type": "cart", "id": id, "orderId": order_id})
    );
}
