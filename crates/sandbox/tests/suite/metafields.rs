//! Metafields over real HTTP (docs/api-notes.md §15): per-record routes on products,
//! variants, categories, customers and orders; collection routes with filters and cursor
//! pages; batch create/update/delete with partial success; per-client rules (app_only
//! hidden, read-only to others, namespace+key unique per record and client, at most 250
//! per record and client); and the metafield webhook scopes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use bc_sandbox::{SandboxConfig, SeedSpec, TokenConfig};
use common::{Api, assert_v3_error, start};
use reqwest::Method;
use serde_json::{Value, json};

async fn store() -> Api {
    let mut config = SandboxConfig {
        seed: SeedSpec {
            seed: 2,
            customers: 10,
            products: 10,
            variants_per_product: 2,
            categories: 5,
            orders: 10,
            lines_per_order: 1,
            ..SeedSpec::empty()
        },
        ..SandboxConfig::default()
    };
    let mut other = TokenConfig::full("other-token");
    other.client_id = "other-app".to_owned();
    config.tokens.push(other);
    start(config).await
}

fn field(ns: &str, key: &str, perm: &str) -> Value {
    json!({"namespace": ns, "key": key, "value": "v", "permission_set": perm})
}

#[tokio::test]
async fn per_record_routes_on_every_owner() {
    let api = store().await;
    let r = api.get("/v3/catalog/products/1/variants").await;
    let variant = r.json()["data"][0]["id"].as_i64().unwrap();
    let customer = api.get("/v3/customers?limit=1").await.json()["data"][0]["id"]
        .as_i64()
        .unwrap();
    let order = api.get("/v2/orders?limit=1").await.json()[0]["id"]
        .as_i64()
        .unwrap();
    let category = api.get("/v3/catalog/categories?limit=1").await.json()["data"][0]["id"]
        .as_i64()
        .unwrap();
    for base in [
        "/v3/catalog/products/2".to_owned(),
        format!("/v3/catalog/products/1/variants/{variant}"),
        format!("/v3/catalog/categories/{category}"),
        format!("/v3/customers/{customer}"),
        format!("/v3/orders/{order}"),
    ] {
        let r = api
            .post(&format!("{base}/metafields"), field("app", "k", "app_only"))
            .await;
        assert_eq!(r.status, 200, "{base}: {}", r.text);
        let id = r.json()["data"]["id"].as_i64().unwrap();
        let one = format!("{base}/metafields/{id}");
        assert_eq!(api.get(&one).await.json()["data"]["key"], "k", "{base}");
        let r = api.put(&one, json!({"value": "w"})).await;
        assert_eq!(r.json()["data"]["value"], "w", "{base}: {}", r.text);
        assert_eq!(r.json()["data"]["namespace"], "app");
        let list = api.get(&format!("{base}/metafields")).await;
        assert!(
            list.json()["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["id"] == id),
            "{base}"
        );
        // The same namespace and key again on the same record: 409.
        let dup = api
            .post(&format!("{base}/metafields"), field("app", "k", "read"))
            .await;
        assert_v3_error(&dup, 409);
        assert_eq!(api.delete(&one).await.status, 204, "{base}");
        assert_v3_error(&api.get(&one).await, 404);
    }
    assert_v3_error(&api.get("/v3/catalog/products/999/metafields").await, 404);
    // A variant under another product is not found.
    assert_v3_error(
        &api.get(&format!(
            "/v3/catalog/products/2/variants/{variant}/metafields"
        ))
        .await,
        404,
    );
    assert_v3_error(
        &api.post("/v3/catalog/products/2/metafields", json!({"key": "x"}))
            .await,
        422,
    );

    let mut scopes = api.event_scopes().await;
    scopes.retain(|s| s.contains("metafield"));
    for s in [
        "store/product/metafield/created",
        "store/product/variant/metafield/updated",
        "store/category/metafield/deleted",
        "store/order/metafield/created",
    ] {
        assert!(scopes.iter().any(|x| x == s), "{s} missing from {scopes:?}");
    }
    assert_eq!(
        scopes.len(),
        12,
        "customers have no metafield scope: {scopes:?}"
    );
}

#[tokio::test]
async fn collection_routes_list_filter_and_page() {
    let api = store().await;
    let r = api.get("/v3/catalog/products/metafields").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let seeded = r.json()["data"].as_array().unwrap().clone();
    assert_eq!(seeded.len(), 2, "every fifth product: {}", r.text);
    assert!(seeded.iter().all(|m| m["resource_type"] == "product"));
    let r = api.get("/v3/catalog/products/metafields?limit=1").await;
    let after = r.json()["meta"]["cursor_pagination"]["end_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = api
        .get(&format!(
            "/v3/catalog/products/metafields?limit=1&after={after}"
        ))
        .await;
    assert_eq!(r.json()["data"][0]["id"], seeded[1]["id"]);
    let rid = seeded[1]["resource_id"].as_i64().unwrap();
    let r = api
        .get(&format!(
            "/v3/catalog/products/metafields?resource_id:in={rid}"
        ))
        .await;
    assert_eq!(r.json()["data"].as_array().unwrap().len(), 1);
    let r = api
        .get("/v3/catalog/products/metafields?namespace=nope")
        .await;
    assert_eq!(r.json()["data"].as_array().unwrap().len(), 0);
    for path in [
        "/v3/catalog/variants/metafields",
        "/v3/catalog/categories/metafields",
        "/v3/customers/metafields",
        "/v3/orders/metafields",
    ] {
        let r = api.get(path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert!(
            !r.json()["data"].as_array().unwrap().is_empty(),
            "{path} seeded"
        );
    }
}

#[tokio::test]
async fn batches_succeed_partially() {
    let api = store().await;
    let r = api
        .post(
            "/v3/catalog/products/metafields",
            json!([
                {"resource_id": 3, "namespace": "a", "key": "one", "value": "1", "permission_set": "write"},
                {"resource_id": 999, "namespace": "a", "key": "two", "value": "2", "permission_set": "write"},
                {"resource_id": 3, "namespace": "a", "key": "one", "value": "again", "permission_set": "write"},
                {"resource_id": 4, "namespace": "a", "key": "three", "value": "3", "permission_set": "read"},
            ]),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let b = r.json();
    assert_eq!(b["data"].as_array().unwrap().len(), 2);
    assert_eq!(b["meta"], json!({"total": 4, "success": 2, "failed": 2}));
    let errors = &b["errors"][0]["errors"];
    assert!(
        errors["1"].is_string() && errors["2"].is_string(),
        "{}",
        r.text
    );
    let ids: Vec<i64> = b["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();

    let r = api
        .put(
            "/v3/catalog/products/metafields",
            json!([{"id": ids[0], "value": "changed"}, {"id": 99_999, "value": "x"}]),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.json()["data"][0]["value"], "changed");

    let r = api
        .put(
            "/v3/catalog/products/metafields",
            json!([{"id": ids[1], "value": "ok"}]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["errors"], json!([]));

    let r = api
        .call(
            Method::DELETE,
            "/v3/catalog/products/metafields",
            Some(json!([ids[0], 99_999])),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.json()["data"], json!([ids[0]]));
    assert!(r.json()["errors"][0]["errors"]["1"].is_string());
}

#[tokio::test]
async fn other_clients_see_what_the_permission_set_allows() {
    let api = store().await;
    let base = "/v3/catalog/products/5/metafields";
    let private = api
        .post(base, field("mine", "secret", "app_only"))
        .await
        .json()["data"]["id"]
        .as_i64()
        .unwrap();
    let readable = api.post(base, field("mine", "shown", "read")).await.json()["data"]["id"]
        .as_i64()
        .unwrap();
    let other = |m: Method, p: String, b: Option<Value>| {
        let api = &api;
        async move { api.call_with(m, &p, b, "other-token").await }
    };
    let r = other(Method::GET, base.to_owned(), None).await;
    let seen: Vec<i64> = r.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert!(
        seen.contains(&readable) && !seen.contains(&private),
        "{seen:?}"
    );
    let r = other(Method::GET, format!("{base}/{private}"), None).await;
    assert_v3_error(&r, 404);
    let r = other(
        Method::PUT,
        format!("{base}/{readable}"),
        Some(json!({"value": "x"})),
    )
    .await;
    assert_v3_error(&r, 403);
    // The other app may use the same namespace and key: uniqueness is per client.
    let r = other(
        Method::POST,
        base.to_owned(),
        Some(field("mine", "shown", "read")),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // At most 250 per record and client.
    let batch: Vec<Value> = (0..50)
        .map(|i| json!({"resource_id": 7, "namespace": "bulk", "key": format!("k{i}"), "value": "v", "permission_set": "write"}))
        .collect();
    for round in 0..5 {
        let items: Vec<Value> = batch
            .iter()
            .map(|m| {
                let mut m = m.clone();
                m["key"] = json!(format!("{}-{round}", m["key"].as_str().unwrap()));
                m
            })
            .collect();
        let r = api
            .post("/v3/catalog/products/metafields", json!(items))
            .await;
        assert_eq!(r.status, 200, "round {round}: {}", r.text);
    }
    let r = api
        .post(
            "/v3/catalog/products/7/metafields",
            field("bulk", "one-more", "write"),
        )
        .await;
    assert_v3_error(&r, 422);
    let r = other(
        Method::POST,
        "/v3/catalog/products/7/metafields".to_owned(),
        Some(field("bulk", "one-more", "write")),
    )
    .await;
    assert_eq!(r.status, 200, "another client has its own 250: {}", r.text);
}

#[tokio::test]
async fn a_deleted_record_takes_its_metafields() {
    let api = store().await;
    let r = api
        .post(
            "/v3/catalog/products/3/metafields",
            field("a", "b", "write"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let variant = api.get("/v3/catalog/products/3/variants").await.json()["data"][0]["id"]
        .as_i64()
        .unwrap();
    let r = api
        .post(
            &format!("/v3/catalog/products/3/variants/{variant}/metafields"),
            field("a", "b", "write"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(api.delete("/v3/catalog/products/3").await.status, 204);
    for path in [
        "/v3/catalog/products/metafields",
        "/v3/catalog/variants/metafields",
    ] {
        let r = api.get(&format!("{path}?limit=250")).await;
        assert!(
            r.json()["data"]
                .as_array()
                .unwrap()
                .iter()
                .all(|m| m["resource_id"] != 3 && m["resource_id"] != variant),
            "{path}: {}",
            r.text
        );
    }
}
