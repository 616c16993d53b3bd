//! V3 content pages over real HTTP (docs/api-notes.md §14): list and filters, `include=body`,
//! get, create one and many (201), update one and many, validation per type, unique names,
//! delete one and by `id:in` (required; 404 for unknown ids after deleting the rest), and
//! the `store_v2_content` scope.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use bc_sandbox::{SandboxConfig, SeedSpec, TokenConfig};
use common::{assert_v3_error, start, start_seeded};
use reqwest::Method;
use serde_json::{Value, json};

fn store() -> SeedSpec {
    SeedSpec {
        seed: 9,
        products: 3,
        ..SeedSpec::empty()
    }
}

fn names(v: &Value) -> Vec<String> {
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn list_filters_and_body_on_request() {
    let api = start_seeded(store()).await;
    let r = api.get("/v3/content/pages").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let b = r.json();
    assert_eq!(b["meta"]["pagination"]["total"], 5);
    assert!(b["data"][0].get("body").is_none(), "body only on request");
    let r = api.get("/v3/content/pages?include=body&id:in=1,4").await;
    let b = r.json();
    assert_eq!(names(b), vec!["About Us", "Size Guide"]);
    assert!(b["data"][0]["body"].as_str().unwrap().contains("We sell"));
    let r = api.get("/v3/content/pages?name=Contact%20Us").await;
    let b = r.json();
    assert_eq!(b["data"][0]["type"], "contact_form");
    assert!(b["data"][0]["email"].is_string());
    // name:like searches the name and the body.
    let r = api.get("/v3/content/pages?name:like=returns").await;
    assert_eq!(names(r.json()), vec!["Shipping & Returns"]);
    let r = api.get("/v3/content/pages?name:like=td").await;
    assert_eq!(names(r.json()), vec!["Size Guide"]);
    let r = api.get("/v3/content/pages?channel_id=2").await;
    assert_eq!(r.json()["meta"]["pagination"]["total"], 0);

    let r = api.get("/v3/content/pages/5").await;
    assert_eq!(r.json()["data"]["link"], "https://blog.example.com/");
    assert!(r.json()["data"].get("body").is_none());
    let r = api.get("/v3/content/pages/1?include=body").await;
    assert!(r.json()["data"]["body"].is_string());
    assert_v3_error(&api.get("/v3/content/pages/99").await, 404);
}

#[tokio::test]
async fn create_update_delete() {
    let api = start_seeded(SeedSpec::empty()).await;
    let r = api
        .post(
            "/v3/content/pages?include=body",
            json!({"name": "FAQ", "type": "raw", "body": "<h1>FAQ</h1>", "is_visible": true}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let page = r.json()["data"].clone();
    assert_eq!(page["url"], "/faq/");
    assert_eq!(page["body"], "<h1>FAQ</h1>");
    let id = page["id"].as_i64().unwrap();

    let r = api
        .post(
            "/v3/content/pages",
            json!([{"name": "Terms", "type": "page"}, {"name": "Blogroll", "type": "link", "link": "https://x.example/"}]),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["data"].as_array().unwrap().len(), 2);

    // Validation: a raw page needs a body, names are unique, blog pages are read-only.
    let r = api
        .post("/v3/content/pages", json!({"name": "Raw", "type": "raw"}))
        .await;
    assert_v3_error(&r, 422);
    assert!(r.json()["errors"]["body"].is_string(), "{}", r.text);
    let r = api
        .post("/v3/content/pages", json!({"name": "faq", "type": "page"}))
        .await;
    assert_v3_error(&r, 422);
    let r = api
        .post("/v3/content/pages", json!({"name": "News", "type": "blog"}))
        .await;
    assert_v3_error(&r, 422);
    let r = api
        .post(
            "/v3/content/pages",
            json!([{"name": "A", "type": "page"}, {"type": "page"}]),
        )
        .await;
    assert_v3_error(&r, 422);
    assert!(r.json()["errors"]["1.name"].is_string(), "{}", r.text);
    assert_eq!(
        api.get("/v3/content/pages").await.json()["meta"]["pagination"]["total"],
        3,
        "a failed batch writes nothing"
    );

    let r = api
        .put(
            &format!("/v3/content/pages/{id}"),
            json!({"meta_description": "answers"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["data"]["meta_description"], "answers");
    assert_eq!(r.json()["data"]["name"], "FAQ");
    let r = api
        .put(
            "/v3/content/pages",
            json!([{"id": id, "sort_order": 7}, {"id": 2, "is_visible": true}]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["data"][0]["sort_order"], 7);
    let r = api
        .put("/v3/content/pages", json!([{"sort_order": 1}]))
        .await;
    assert_v3_error(&r, 422);
    let r = api
        .put("/v3/content/pages", json!([{"id": 999, "sort_order": 1}]))
        .await;
    assert_v3_error(&r, 404);

    assert_v3_error(&api.delete("/v3/content/pages").await, 422);
    let r = api
        .delete(&format!("/v3/content/pages?id:in={id},999"))
        .await;
    assert_v3_error(&r, 404);
    assert_v3_error(&api.get(&format!("/v3/content/pages/{id}")).await, 404);
    assert_eq!(api.delete("/v3/content/pages/2").await.status, 204);
    assert_eq!(
        api.get("/v3/content/pages").await.json()["meta"]["pagination"]["total"],
        1
    );
}

#[tokio::test]
async fn pages_need_the_content_scope() {
    let mut config = SandboxConfig {
        seed: store(),
        ..SandboxConfig::default()
    };
    config.tokens = vec![TokenConfig::parse("limited:store_v2_content_read_only").unwrap()];
    let api = start(config).await;
    assert_eq!(api.get("/v3/content/pages").await.status, 200);
    let r = api
        .call(
            Method::POST,
            "/v3/content/pages",
            Some(json!({"name": "X", "type": "page"})),
        )
        .await;
    assert_v3_error(&r, 403);
    assert_v3_error(&api.get("/v3/customers").await, 403);
}
