//! V3 promotions and their codes over real HTTP (docs/api-notes.md §7.2): seeded list,
//! filters and sorts, create (201), update, validation, delete one and by `id:in` with
//! per-index errors, codes (cursor list, create 201, unique 409, coupon promotions only,
//! delete), and "a promotion with codes cannot be deleted".
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use bc_sandbox::SeedSpec;
use common::{assert_v3_error, data_ids, start_seeded};
use serde_json::{Value, json};

fn store() -> SeedSpec {
    SeedSpec {
        seed: 4,
        coupons: 20,
        ..SeedSpec::empty()
    }
}

fn promo(name: &str, redemption: &str) -> Value {
    json!({
        "name": name,
        "redemption_type": redemption,
        "rules": [{"action": {"cart_value": {"discount": {"fixed_amount": "5"}}}}],
        "channels": [{"id": 1}],
    })
}

#[tokio::test]
async fn seeded_list_filters_and_sorts() {
    let api = start_seeded(store()).await;
    let r = api.get("/v3/promotions").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(data_ids(r.json()), vec![1, 2, 3, 4]);
    let p = &r.json()["data"][1];
    assert_eq!(p["redemption_type"], "coupon");
    assert!(p["rules"].as_array().is_some_and(|r| !r.is_empty()));
    let r = api.get("/v3/promotions?redemption_type=automatic").await;
    assert_eq!(data_ids(r.json()), vec![1, 3]);
    let r = api.get("/v3/promotions?code=promo2x1").await;
    assert_eq!(data_ids(r.json()), vec![2]);
    let r = api
        .get("/v3/promotions?sort=id&direction=desc&limit=2")
        .await;
    assert_eq!(data_ids(r.json()), vec![4, 3]);
    assert_eq!(r.json()["meta"]["pagination"]["total_pages"], 2);
    let r = api.get("/v3/promotions?id=3").await;
    assert_eq!(data_ids(r.json()), vec![3]);
    assert_v3_error(&api.get("/v3/promotions?sort=colour").await, 400);
    assert_v3_error(&api.get("/v3/promotions?limit=251").await, 413);
}

#[tokio::test]
async fn promotion_lifecycle_and_codes() {
    let api = start_seeded(SeedSpec::empty()).await;
    let r = api.post("/v3/promotions", promo("Spring", "coupon")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json()["data"]["id"].as_i64().unwrap();
    assert_eq!(r.json()["data"]["status"], "ENABLED");
    assert_v3_error(
        &api.post("/v3/promotions", json!({"name": "No rules"}))
            .await,
        422,
    );
    let auto = api
        .post("/v3/promotions", promo("Always", "automatic"))
        .await;
    let auto_id = auto.json()["data"]["id"].as_i64().unwrap();

    let r = api
        .put(
            &format!("/v3/promotions/{id}"),
            json!({"status": "DISABLED", "max_uses": 10}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["data"]["status"], "DISABLED");
    assert_eq!(r.json()["data"]["name"], "Spring");
    assert_v3_error(
        &api.put(
            &format!("/v3/promotions/{id}"),
            json!({"redemption_type": "automatic"}),
        )
        .await,
        422,
    );

    // Codes: coupon promotions only, unique across the store, cursor-paged.
    let codes = format!("/v3/promotions/{id}/codes");
    for c in ["SPRING1", "SPRING2", "SPRING3"] {
        let r = api.post(&codes, json!({"code": c, "max_uses": 5})).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    assert_v3_error(&api.post(&codes, json!({"code": "spring1"})).await, 409);
    assert_v3_error(
        &api.post(
            &format!("/v3/promotions/{auto_id}/codes"),
            json!({"code": "X"}),
        )
        .await,
        422,
    );
    let r = api.get(&format!("{codes}?limit=2")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let b = r.json();
    assert_eq!(b["data"].as_array().unwrap().len(), 2);
    let after = b["meta"]["cursor_pagination"]["end_cursor"]
        .as_str()
        .unwrap();
    let r = api.get(&format!("{codes}?limit=2&after={after}")).await;
    assert_eq!(r.json()["data"][0]["code"], "SPRING3");

    // With codes it cannot be deleted, alone or in a batch.
    assert_v3_error(&api.delete(&format!("/v3/promotions/{id}")).await, 422);
    let r = api
        .delete(&format!("/v3/promotions?id:in={id},{auto_id},999"))
        .await;
    assert_v3_error(&r, 422);
    let errors = &r.json()["errors"];
    assert!(errors["0.error"].is_string(), "{}", r.text);
    assert!(errors["2.id"].is_string(), "{}", r.text);
    assert_v3_error(&api.get(&format!("/v3/promotions/{auto_id}")).await, 404);

    let first_code = api.get(&codes).await.json()["data"][0]["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        api.delete(&format!("{codes}/{first_code}")).await.status,
        204
    );
    assert_eq!(api.delete(&format!("{codes}?id:in=2,3")).await.status, 204);
    assert_eq!(
        api.get(&codes).await.json()["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        api.delete(&format!("/v3/promotions/{id}")).await.status,
        204
    );
    assert_v3_error(&api.delete("/v3/promotions").await, 422);
}
