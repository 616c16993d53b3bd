//! Legacy categories, category trees and their categories, brands, and seeding.

use std::collections::HashSet;

use bc_sandbox::SeedSpec;
use serde_json::{Value, json};

use super::{ids, product_body, small_store};
use crate::common::{self, assert_v3_error};

/// Ids of a trees-API category list.
fn category_ids(body: &Value) -> Vec<i64> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["category_id"].as_i64().unwrap())
        .collect()
}

async fn post_category(api: &common::Api, name: &str, parent_id: i64) -> i64 {
    let r = api
        .post(
            "/v3/catalog/categories",
            json!({"name": name, "parent_id": parent_id}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["data"]["id"].as_i64().unwrap()
}

#[tokio::test]
async fn legacy_categories_create_list_and_filter() {
    let api = common::start_seeded(SeedSpec::empty()).await;
    let r = api
        .post("/v3/catalog/categories", json!({"name": "Kitchen"}))
        .await;
    assert_v3_error(&r, 422);
    assert!(r.json()["errors"].get("parent_id").is_some(), "{}", r.text);
    let r = api
        .post("/v3/catalog/categories", json!({"parent_id": 0}))
        .await;
    assert!(r.json()["errors"].get("name").is_some());
    assert_v3_error(
        &api.post(
            "/v3/catalog/categories",
            json!({"parent_id": 0, "name": "x".repeat(51)}),
        )
        .await,
        422,
    );
    assert_v3_error(
        &api.post(
            "/v3/catalog/categories",
            json!({"parent_id": 77, "name": "Orphan"}),
        )
        .await,
        422,
    );

    let kitchen = post_category(&api, "Kitchen", 0).await;
    let garden = post_category(&api, "Garden", 0).await;
    let knives = post_category(&api, "Knives", kitchen).await;
    // Unique among siblings only.
    assert_v3_error(
        &api.post(
            "/v3/catalog/categories",
            json!({"name": "kitchen", "parent_id": 0}),
        )
        .await,
        409,
    );
    let garden_knives = post_category(&api, "Knives", garden).await;
    let hidden = api
        .post(
            "/v3/catalog/categories",
            json!({"name": "Archive", "parent_id": 0, "is_visible": false}),
        )
        .await
        .json()["data"]["id"]
        .as_i64()
        .unwrap();

    let got = api.get(&format!("/v3/catalog/categories/{knives}")).await;
    let c = &got.json()["data"];
    assert_eq!(c["parent_id"], kitchen);
    assert_eq!(c["custom_url"]["url"], "/kitchen/knives/");
    assert!(
        c.get("date_modified").is_none(),
        "categories carry no dates"
    );

    let cases: Vec<(String, Vec<i64>)> = vec![
        (format!("id={garden}"), vec![garden]),
        (format!("id:in={kitchen},{hidden}"), vec![kitchen, hidden]),
        (
            format!("id:min={knives}"),
            vec![knives, garden_knives, hidden],
        ),
        ("name=knives".into(), vec![knives, garden_knives]),
        ("name:like=ard".into(), vec![garden]),
        (format!("parent_id={kitchen}"), vec![knives]),
        (
            format!("parent_id:in={kitchen},{garden}"),
            vec![knives, garden_knives],
        ),
        ("is_visible=false".into(), vec![hidden]),
        (
            "sort=name&direction=desc".into(),
            vec![garden_knives, knives, kitchen, garden, hidden],
        ),
    ];
    for (query, want) in cases {
        let r = api.get(&format!("/v3/catalog/categories?{query}")).await;
        assert_eq!(r.status, 200, "{query}: {}", r.text);
        assert_eq!(ids(r.json()), want, "{query}");
    }
    assert_v3_error(&api.get("/v3/catalog/categories?sort=views").await, 422);

    let r = api
        .put(
            &format!("/v3/catalog/categories/{knives}"),
            json!({"name": "Cutlery", "sort_order": 4}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["data"]["name"], "Cutlery");
    let r = api
        .put(
            &format!("/v3/catalog/categories/{kitchen}"),
            json!({"parent_id": knives}),
        )
        .await;
    assert_v3_error(&r, 422);
    assert_v3_error(&api.get("/v3/catalog/categories/999").await, 404);
}

#[tokio::test]
async fn legacy_category_deletes_need_a_filter_and_refuse_categories_with_products() {
    let api = common::start_seeded(SeedSpec::empty()).await;
    let parent = post_category(&api, "Outdoor", 0).await;
    let child = post_category(&api, "Tents", parent).await;
    let empty = post_category(&api, "Empty", 0).await;
    let mut body = product_body("Tent", "TENT");
    body["categories"] = json!([child]);
    assert_eq!(api.post("/v3/catalog/products", body).await.status, 200);

    let r = api.delete("/v3/catalog/categories").await;
    assert_v3_error(&r, 422);
    // The product sits in a child of the parent: deleting the parent is refused too.
    assert_v3_error(
        &api.delete(&format!("/v3/catalog/categories?id:in={parent}"))
            .await,
        422,
    );
    assert_v3_error(
        &api.delete(&format!("/v3/catalog/categories/{child}")).await,
        422,
    );
    assert_eq!(
        api.delete(&format!("/v3/catalog/categories?id:in={empty}"))
            .await
            .status,
        204
    );
    assert_v3_error(
        &api.get(&format!("/v3/catalog/categories/{empty}")).await,
        404,
    );

    api.put("/v3/catalog/products/1", json!({"categories": []}))
        .await;
    assert_eq!(
        api.delete(&format!("/v3/catalog/categories/{parent}"))
            .await
            .status,
        204
    );
    assert_v3_error(
        &api.get(&format!("/v3/catalog/categories/{child}")).await,
        404,
    );
}

#[tokio::test]
async fn trees_list_upsert_and_delete() {
    let api = common::start_seeded(SeedSpec::empty()).await;
    let r = api.get("/v3/catalog/trees").await;
    assert_eq!(
        r.json()["data"],
        json!([{"id": 1, "name": "Default", "channels": [1]}]),
        "tree 1 is channel 1's"
    );

    let r = api
        .put("/v3/catalog/trees", json!([{"name": "Wholesale"}]))
        .await;
    assert_v3_error(&r, 422);
    assert!(r.json()["errors"].get("0.channels").is_some(), "{}", r.text);
    let r = api
        .put(
            "/v3/catalog/trees",
            json!([{"name": "Again", "channels": [1]}]),
        )
        .await;
    assert_v3_error(&r, 422);
    let r = api
        .put(
            "/v3/catalog/trees",
            json!([{"name": "Wholesale", "channels": [2]}, {"id": 1, "name": "Main"}]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json()["data"],
        json!([{"id": 2, "name": "Wholesale", "channels": [2]}, {"id": 1, "name": "Main", "channels": [1]}])
    );
    assert_v3_error(
        &api.put("/v3/catalog/trees", json!([{"id": 2, "channels": [3]}]))
            .await,
        422,
    );
    let fifty_one: Vec<Value> = (0..51)
        .map(|i| json!({"name": format!("T{i}"), "channels": [100 + i]}))
        .collect();
    assert_v3_error(
        &api.put("/v3/catalog/trees", Value::Array(fifty_one)).await,
        413,
    );

    assert_eq!(ids(api.get("/v3/catalog/trees?id:in=2").await.json()), [2]);
    assert_eq!(
        ids(api.get("/v3/catalog/trees?channel_id:in=1,5").await.json()),
        [1]
    );

    let r = api
        .post(
            "/v3/catalog/trees/categories",
            json!([{"name": "Bulk", "tree_id": 2}]),
        )
        .await;
    let bulk = category_ids(r.json())[0];
    assert_v3_error(&api.delete("/v3/catalog/trees").await, 422);
    assert_eq!(api.delete("/v3/catalog/trees?id:in=2").await.status, 204);
    assert_eq!(ids(api.get("/v3/catalog/trees").await.json()), [1]);
    let left = api
        .get(&format!(
            "/v3/catalog/trees/categories?category_id:in={bulk}"
        ))
        .await;
    assert_eq!(
        left.json()["data"],
        json!([]),
        "a deleted tree takes its categories along"
    );
}

#[tokio::test]
async fn tree_categories_post_201_put_and_delete_202() {
    let api = common::start_seeded(SeedSpec::empty()).await;
    let r = api
        .post(
            "/v3/catalog/trees/categories",
            json!([{"name": "Home", "tree_id": 1}, {"name": "Office", "tree_id": 1, "is_visible": false}]),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let created = category_ids(r.json());
    assert_eq!(created.len(), 2);
    assert_eq!(r.json()["data"][0]["url"]["path"], "/home/");
    assert_eq!(r.json()["data"][0]["tree_id"], 1);
    let home = created[0];
    let r = api
        .post(
            "/v3/catalog/trees/categories",
            json!([{"name": "Lamps", "parent_id": home}]),
        )
        .await;
    assert_eq!(r.status, 201);
    let lamps = category_ids(r.json())[0];
    assert_eq!(
        r.json()["data"][0]["tree_id"],
        1,
        "the tree comes from the parent"
    );

    let r = api
        .post("/v3/catalog/trees/categories", json!([{"name": "Nowhere"}]))
        .await;
    assert_v3_error(&r, 422);
    assert!(r.json()["errors"].get("0.tree_id").is_some(), "{}", r.text);
    assert_v3_error(
        &api.post(
            "/v3/catalog/trees/categories",
            json!([{"name": "X", "tree_id": 9}]),
        )
        .await,
        422,
    );
    let r = api
        .post(
            "/v3/catalog/trees/categories",
            json!([{"name": "Rugs", "parent_id": home}, {"name": "lamps", "parent_id": home}]),
        )
        .await;
    assert_v3_error(&r, 409);
    assert!(r.json()["errors"].get("1.name").is_some(), "{}", r.text);
    // The legacy API sees the same table (tree 1).
    assert_eq!(
        ids(api.get("/v3/catalog/categories").await.json()),
        [home, created[1], lamps]
    );

    let cases: Vec<(String, Vec<i64>)> = vec![
        (format!("category_id:in={lamps}"), vec![lamps]),
        ("tree_id:in=1".into(), vec![home, created[1], lamps]),
        (format!("parent_id:in={home}"), vec![lamps]),
        ("name=office".into(), vec![created[1]]),
        ("name:like=am".into(), vec![lamps]),
        ("is_visible=false".into(), vec![created[1]]),
    ];
    for (query, want) in cases {
        let r = api
            .get(&format!("/v3/catalog/trees/categories?{query}"))
            .await;
        assert_eq!(r.status, 200, "{query}: {}", r.text);
        assert_eq!(category_ids(r.json()), want, "{query}");
    }
    assert_v3_error(
        &api.get("/v3/catalog/trees/categories?limit=251").await,
        413,
    );

    let r = api
        .put("/v3/catalog/trees/categories", json!([{"name": "No id"}]))
        .await;
    assert_v3_error(&r, 422);
    assert!(r.json()["errors"].get("0.category_id").is_some());
    let r = api
        .put(
            "/v3/catalog/trees/categories",
            json!([{"category_id": lamps, "name": "Lighting", "parent_id": 0}]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["data"][0]["parent_id"], 0);
    assert_eq!(r.json()["data"][0]["name"], "Lighting");

    let mut body = product_body("Desk", "DESK");
    body["categories"] = json!([home, lamps]);
    api.post("/v3/catalog/products", body).await;
    assert_v3_error(&api.delete("/v3/catalog/trees/categories").await, 422);
    let r = api
        .delete(&format!(
            "/v3/catalog/trees/categories?category_id:in={home}"
        ))
        .await;
    assert_eq!(r.status, 202);
    assert_eq!(
        api.get("/v3/catalog/products/1").await.json()["data"]["categories"],
        json!([lamps])
    );
}

#[tokio::test]
async fn nested_tree_has_children_and_depth() {
    let api = common::start_seeded(SeedSpec::empty()).await;
    let a = post_category(&api, "A", 0).await;
    let b = post_category(&api, "B", a).await;
    let c = post_category(&api, "C", b).await;
    let d = post_category(&api, "D", 0).await;
    let r = api.get("/v3/catalog/trees/1/categories").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let data = r.json()["data"].as_array().unwrap().clone();
    assert_eq!(
        data.iter()
            .map(|n| n["id"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [a, d]
    );
    let grandchild = &data[0]["children"][0]["children"][0];
    assert_eq!(grandchild["id"], c);
    assert_eq!(grandchild["depth"], 3);
    assert_eq!(grandchild["path"], json!([a, b]));
    let r = api.get("/v3/catalog/trees/1/categories?depth=2").await;
    assert_eq!(r.json()["data"][0]["children"][0]["children"], json!([]));
    assert_v3_error(&api.get("/v3/catalog/trees/7/categories").await, 404);
}

#[tokio::test]
async fn categories_stop_at_eight_levels() {
    let api = common::start_seeded(SeedSpec::empty()).await;
    let mut parent = 0;
    for level in 1..=8 {
        parent = post_category(&api, &format!("L{level}"), parent).await;
    }
    assert_v3_error(
        &api.post(
            "/v3/catalog/categories",
            json!({"name": "L9", "parent_id": parent}),
        )
        .await,
        422,
    );
}

#[tokio::test]
async fn brands_crud_filters_and_delete_by_name() {
    let api = common::start_seeded(SeedSpec::empty()).await;
    for name in ["Zeta", "alpha", "Mid"] {
        let r = api
            .post(
                "/v3/catalog/brands",
                json!({"name": name, "page_title": format!("{name} page")}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let r = api
        .post("/v3/catalog/brands", json!({"name": "ZETA"}))
        .await;
    assert_v3_error(&r, 409);
    assert!(r.json()["errors"].get("name").is_some());
    assert_v3_error(
        &api.post("/v3/catalog/brands", json!({"page_title": "nameless"}))
            .await,
        422,
    );

    let cases: &[(&str, &[i64])] = &[
        ("id=2", &[2]),
        ("id:in=1,3", &[1, 3]),
        ("id:greater=1", &[2, 3]),
        ("name=zeta", &[1]),
        ("name:like=i", &[3]),
        ("sort=name", &[2, 3, 1]),
        ("sort=name&direction=desc", &[1, 3, 2]),
        ("limit=1&page=2", &[2]),
    ];
    for (query, want) in cases {
        let r = api.get(&format!("/v3/catalog/brands?{query}")).await;
        assert_eq!(r.status, 200, "{query}: {}", r.text);
        assert_eq!(ids(r.json()), *want, "{query}");
    }
    let b = api.get("/v3/catalog/brands/1").await.json()["data"].clone();
    assert_eq!(b["custom_url"]["url"], "/zeta/");
    assert!(b.get("date_modified").is_none(), "brands carry no dates");
    let r = api
        .put("/v3/catalog/brands/1", json!({"name": "Zed"}))
        .await;
    assert_eq!(r.json()["data"]["name"], "Zed");
    assert_v3_error(
        &api.put("/v3/catalog/brands/1", json!({"name": "Alpha"}))
            .await,
        409,
    );
    assert_eq!(
        api.post("/v3/catalog/brands", json!({"name": "Zeta"}))
            .await
            .status,
        200,
        "the old name is free again"
    );

    let mut body = product_body("Thing", "THING");
    body["brand_id"] = json!(3);
    api.post("/v3/catalog/products", body).await;
    assert_v3_error(&api.delete("/v3/catalog/brands").await, 422);
    assert_eq!(api.delete("/v3/catalog/brands?name=mid").await.status, 204);
    assert_v3_error(&api.get("/v3/catalog/brands/3").await, 404);
    assert_eq!(
        api.get("/v3/catalog/products/1").await.json()["data"]["brand_id"],
        0
    );
    assert_eq!(api.delete("/v3/catalog/brands/2").await.status, 204);
    assert_v3_error(&api.delete("/v3/catalog/brands/2").await, 404);
}

#[tokio::test]
async fn seeding_fills_every_table_and_counts_them() {
    let spec = SeedSpec {
        products: 120,
        variants_per_product: 3,
        images_per_product: 2,
        custom_fields_per_product: 3,
        categories: 12,
        brands: 5,
        ..SeedSpec::empty()
    };
    let api = common::start_seeded(spec).await;
    let counts = api.sandbox.state.data.read().counts();
    assert_eq!(counts["products"], 120);
    assert_eq!(counts["variants"], 360);
    assert_eq!(counts["product_images"], 240);
    assert_eq!(counts["product_custom_fields"], 360);
    assert_eq!(counts["categories"], 12);
    assert_eq!(counts["category_trees"], 1);
    assert_eq!(counts["brands"], 5);

    let all = api
        .get("/v3/catalog/products?limit=250&include=variants")
        .await
        .json()["data"]
        .as_array()
        .unwrap()
        .clone();
    let names: HashSet<&str> = all.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 120, "names are unique");
    let modified: Vec<&str> = all
        .iter()
        .map(|p| p["date_modified"].as_str().unwrap())
        .collect();
    let distinct: HashSet<&&str> = modified.iter().collect();
    assert!(
        distinct.len() < modified.len(),
        "some products share a date_modified second"
    );
    for p in &all {
        assert!(p["date_created"].as_str().unwrap() <= p["date_modified"].as_str().unwrap());
        assert_eq!(p["variants"].as_array().unwrap().len(), 3);
        assert!(p["price"].as_f64().unwrap() > 0.0);
    }
    let created: Vec<&str> = all
        .iter()
        .map(|p| p["date_created"].as_str().unwrap())
        .collect();
    assert!(
        created.windows(2).all(|w| w[0] <= w[1]),
        "ids follow creation time"
    );
    let nested = api.get("/v3/catalog/categories?parent_id:greater=0").await;
    assert!(
        nested.json()["meta"]["pagination"]["total"]
            .as_u64()
            .unwrap()
            > 0,
        "some categories are nested"
    );

    let refs = api.sandbox.state.data.read().catalog.product_refs();
    assert_eq!(refs.len(), 120);
    assert!(refs.iter().all(|r| r.variant_ids.len() == 3));
    assert_eq!(refs[0].sku, all[0]["sku"].as_str().unwrap());
}

#[tokio::test]
async fn seeding_is_deterministic_and_simple_products_have_base_variants() {
    let spec = small_store(40);
    let a = common::start_seeded(spec.clone()).await;
    let b = common::start_seeded(spec).await;
    let strip = |v: &Value| -> Vec<(String, String, String)> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["name"].to_string(),
                    p["sku"].to_string(),
                    p["price"].to_string(),
                )
            })
            .collect()
    };
    let pa = a.get("/v3/catalog/products").await;
    let pb = b.get("/v3/catalog/products").await;
    assert_eq!(strip(pa.json()), strip(pb.json()));
    let refs = a.sandbox.state.data.read().catalog.product_refs();
    assert!(
        refs.iter().all(|r| r.variant_ids.is_empty()),
        "simple products have no option variants"
    );
    let p = &pa.json()["data"][0];
    assert!(p["base_variant_id"].is_i64());
    assert!(p["brand_id"].as_i64().unwrap() <= 4);
    assert!(!p["categories"].as_array().unwrap().is_empty());
}
