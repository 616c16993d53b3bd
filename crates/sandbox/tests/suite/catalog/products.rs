//! `/v3/catalog/products`: list filters, sorting, includes, projection, page limits, the
//! bare-date quirk, create/update/delete rules, and paging stability under writes.

use std::collections::HashSet;

use bc_sandbox::SeedSpec;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::{ids, product_body, small_store};
use crate::common::{self, assert_v3_error};

#[tokio::test]
async fn list_has_the_v3_envelope_and_typed_fields() {
    let api = common::start_seeded(small_store(60)).await;
    let r = api.get("/v3/catalog/products").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let b = r.json();
    let pagination = &b["meta"]["pagination"];
    assert_eq!(pagination["total"], 60);
    assert_eq!(pagination["count"], 50);
    assert_eq!(pagination["per_page"], 50);
    assert_eq!(pagination["total_pages"], 2);
    assert!(
        pagination["links"]["next"]
            .as_str()
            .unwrap()
            .contains("page=2")
    );
    assert_eq!(ids(b), (1..=50).collect::<Vec<_>>());
    let p = &b["data"][0];
    assert!(p["price"].is_f64(), "money is a JSON number: {p}");
    assert!(p["weight"].is_number());
    assert!(p["calculated_price"].is_number());
    assert!(
        p["base_variant_id"].is_i64(),
        "a simple product has a base variant"
    );
    assert!(p["custom_url"]["url"].as_str().unwrap().starts_with('/'));
    assert_eq!(p["custom_url"]["is_customized"], false);
    let modified = p["date_modified"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(modified).is_ok(),
        "ISO 8601: {modified}"
    );
    assert!(p["categories"].is_array());
    for key in [
        "sku",
        "name",
        "type",
        "inventory_level",
        "inventory_tracking",
        "is_visible",
        "availability",
        "condition",
    ] {
        assert!(p.get(key).is_some(), "missing {key}");
    }
    assert!(
        p.get("variants").is_none(),
        "sub-resources only with include"
    );

    let last = api.get("/v3/catalog/products?page=2").await;
    assert_eq!(ids(last.json()), (51..=60).collect::<Vec<_>>());
    let past = api.get("/v3/catalog/products?page=9").await;
    assert_eq!(past.status, 200);
    assert_eq!(past.json()["data"], json!([]));
}

#[tokio::test]
async fn limit_above_250_is_413_and_250_is_fine() {
    let api = common::start_seeded(small_store(3)).await;
    assert_v3_error(&api.get("/v3/catalog/products?limit=251").await, 413);
    let r = api.get("/v3/catalog/products?limit=250").await;
    assert_eq!(r.json()["meta"]["pagination"]["per_page"], 250);
}

#[tokio::test]
async fn include_options_or_modifiers_cuts_the_page_to_10() {
    let spec = SeedSpec {
        products: 25,
        variants_per_product: 3,
        ..SeedSpec::empty()
    };
    let api = common::start_seeded(spec).await;
    for include in ["options", "modifiers", "variants,options"] {
        let r = api
            .get(&format!("/v3/catalog/products?limit=50&include={include}"))
            .await;
        let b = r.json();
        assert_eq!(b["data"].as_array().unwrap().len(), 10, "include={include}");
        assert_eq!(b["meta"]["pagination"]["per_page"], 10);
        assert_eq!(b["meta"]["pagination"]["total_pages"], 3);
    }
    let r = api.get("/v3/catalog/products?include=options").await;
    let option = &r.json()["data"][0]["options"][0];
    assert!(["Size", "Color"].contains(&option["display_name"].as_str().unwrap()));
    assert_eq!(option["option_values"].as_array().unwrap().len(), 3);
    let r = api.get("/v3/catalog/products?include=variants").await;
    assert_eq!(
        r.json()["data"].as_array().unwrap().len(),
        25,
        "variants alone keeps the page size"
    );
}

#[tokio::test]
async fn includes_embed_sub_resources() {
    let spec = SeedSpec {
        products: 3,
        images_per_product: 2,
        custom_fields_per_product: 2,
        ..SeedSpec::empty()
    };
    let api = common::start_seeded(spec).await;
    let r = api
        .get("/v3/catalog/products?include=variants,images,custom_fields,primary_image,bulk_pricing_rules,videos")
        .await;
    let p = &r.json()["data"][0];
    let variants = p["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 1, "a simple product lists its base variant");
    assert_eq!(variants[0]["id"], p["base_variant_id"]);
    assert_eq!(variants[0]["option_values"], json!([]));
    assert_eq!(variants[0]["sku_id"], Value::Null);
    assert_eq!(variants[0]["sku"], p["sku"]);
    assert_eq!(p["images"].as_array().unwrap().len(), 2);
    assert_eq!(p["custom_fields"].as_array().unwrap().len(), 2);
    assert_eq!(p["primary_image"]["is_thumbnail"], true);
    assert_eq!(p["bulk_pricing_rules"], json!([]));
    assert_eq!(p["videos"], json!([]));

    let one = api
        .get("/v3/catalog/products/1?include=images,primary_image")
        .await;
    assert_eq!(one.json()["data"]["images"].as_array().unwrap().len(), 2);
    assert_eq!(one.json()["meta"], json!({}));
}

#[tokio::test]
async fn include_fields_and_exclude_fields_always_keep_id() {
    let api = common::start_seeded(small_store(2)).await;
    let r = api
        .get("/v3/catalog/products?include_fields=name,price")
        .await;
    let p = r.json()["data"][0].as_object().unwrap().clone();
    assert_eq!(p.keys().collect::<Vec<_>>(), ["id", "name", "price"]);

    let r = api
        .get("/v3/catalog/products?exclude_fields=description,id")
        .await;
    let p = &r.json()["data"][0];
    assert!(p.get("description").is_none());
    assert!(p.get("id").is_some(), "id cannot be excluded");
    assert!(p.get("name").is_some());

    let r = api
        .get("/v3/catalog/products/2?include_fields=sku&include=variants")
        .await;
    let p = r.json()["data"].as_object().unwrap().clone();
    assert_eq!(p.keys().collect::<Vec<_>>(), ["id", "sku", "variants"]);
}

/// Creates three products with known fields: ids 1, 2, 3.
async fn three_products(api: &common::Api) {
    let brand = api
        .post("/v3/catalog/brands", json!({"name": "Acme"}))
        .await
        .json()["data"]["id"]
        .clone();
    let cat = api
        .post(
            "/v3/catalog/categories",
            json!({"name": "Mugs", "parent_id": 0}),
        )
        .await
        .json()["data"]["id"]
        .clone();
    let bodies = [
        json!({"name": "Blue Mug", "type": "physical", "weight": 1, "price": 12.5, "sku": "MUG-BLUE",
               "brand_id": brand, "categories": [cat], "is_visible": true}),
        json!({"name": "Red Mug", "type": "physical", "weight": 1, "price": 8, "sku": "MUG-RED",
               "categories": [cat], "is_visible": false}),
        json!({"name": "Gift Card", "type": "digital", "weight": 0, "price": 25, "sku": "GIFT",
               "variants": [{"sku": "GIFT-50", "option_values": [{"option_display_name": "Amount", "label": "50"}]}]}),
    ];
    for body in bodies {
        let r = api.post("/v3/catalog/products", body).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
}

#[tokio::test]
async fn every_list_filter_selects_the_right_products() {
    let api = common::start_seeded(SeedSpec::empty()).await;
    three_products(&api).await;
    let cases: &[(&str, &[i64])] = &[
        ("id=2", &[2]),
        ("id:in=1,3,99", &[1, 3]),
        ("id:not_in=1", &[2, 3]),
        ("id:min=2", &[2, 3]),
        ("id:max=2", &[1, 2]),
        ("id:greater=1", &[2, 3]),
        ("id:less=2", &[1]),
        ("id:min=2&id:less=3", &[2]),
        ("sku=mug-blue", &[1]),
        ("sku:in=MUG-RED,GIFT", &[2, 3]),
        // Variant SKUs are only searchable on /catalog/variants (docs/api-notes.md §12.6).
        ("sku=GIFT-50", &[]),
        ("name=Red%20Mug", &[2]),
        ("name:like=mug", &[1, 2]),
        ("name:like=%25ft%25", &[3]),
        ("type=digital", &[3]),
        ("type=physical", &[1, 2]),
        ("brand_id=1", &[1]),
        ("categories:in=1", &[1, 2]),
        ("categories=1", &[1, 2]),
        ("is_visible=false", &[2]),
        ("is_visible=1", &[1, 3]),
        ("price:min=10", &[1, 3]),
        ("price=8", &[2]),
        ("keyword=blue", &[1]),
    ];
    for (query, want) in cases {
        let r = api.get(&format!("/v3/catalog/products?{query}")).await;
        assert_eq!(r.status, 200, "{query}: {}", r.text);
        assert_eq!(ids(r.json()), *want, "{query}");
        assert_eq!(
            r.json()["meta"]["pagination"]["total"],
            want.len(),
            "{query}"
        );
    }
    assert_v3_error(&api.get("/v3/catalog/products?id:in=1,x").await, 400);
}

#[tokio::test]
async fn date_modified_filters_and_the_bare_date_quirk() {
    let api = common::start_seeded(SeedSpec::empty()).await;
    let created = api
        .post("/v3/catalog/products", product_body("Lamp", "LMP-1"))
        .await;
    let modified = created.json()["data"]["date_modified"]
        .as_str()
        .unwrap()
        .to_owned();
    let at = chrono::DateTime::parse_from_rfc3339(&modified)
        .unwrap()
        .with_timezone(&chrono::Utc);
    let enc = |s: &str| s.replace('+', "%2B");

    let exact = api
        .get(&format!(
            "/v3/catalog/products?date_modified={}",
            enc(&modified)
        ))
        .await;
    assert_eq!(ids(exact.json()), [1]);
    let min = api
        .get(&format!(
            "/v3/catalog/products?date_modified:min={}",
            enc(&modified)
        ))
        .await;
    assert_eq!(ids(min.json()), [1]);
    let later = (at + chrono::Duration::seconds(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let min_later = api
        .get(&format!("/v3/catalog/products?date_modified:min={later}"))
        .await;
    assert_eq!(ids(min_later.json()), Vec::<i64>::new());
    let max_later = api
        .get(&format!("/v3/catalog/products?date_modified:max={later}"))
        .await;
    assert_eq!(ids(max_later.json()), [1]);
    assert_v3_error(
        &api.get("/v3/catalog/products?date_modified:min=yesterday")
            .await,
        400,
    );

    // A bare date gets the request's time of day, not midnight (docs/api-notes.md §0.6, §12.4):
    // once the clock has moved past the product's second, "today" no longer finds it.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let today = at.format("%Y-%m-%d").to_string();
    if chrono::Utc::now().format("%Y-%m-%d").to_string() == today {
        let bare = api
            .get(&format!("/v3/catalog/products?date_modified:min={today}"))
            .await;
        assert_eq!(
            ids(bare.json()),
            Vec::<i64>::new(),
            "bare date should mean today at the current time"
        );
        let midnight = api
            .get(&format!(
                "/v3/catalog/products?date_modified:min={today}T00:00:00Z"
            ))
            .await;
        assert_eq!(ids(midnight.json()), [1]);
    }
}

#[tokio::test]
async fn sort_and_direction_with_ties_broken_by_id() {
    let api = common::start_seeded(SeedSpec::empty()).await;
    for (name, price) in [("b", 5.0), ("A", 7.0), ("c", 5.0), ("D", 1.0)] {
        let body = json!({"name": name, "type": "physical", "weight": 0, "price": price});
        assert_eq!(api.post("/v3/catalog/products", body).await.status, 200);
    }
    let get = |q: &'static str| {
        let api = &api;
        async move { ids(api.get(&format!("/v3/catalog/products?{q}")).await.json()) }
    };
    assert_eq!(
        get("sort=name").await,
        [2, 1, 3, 4],
        "case-insensitive name order"
    );
    assert_eq!(get("sort=name&direction=desc").await, [4, 3, 1, 2]);
    assert_eq!(
        get("sort=price").await,
        [4, 1, 3, 2],
        "equal prices keep id order"
    );
    assert_eq!(get("sort=id&direction=desc").await, [4, 3, 2, 1]);
    assert_eq!(get("sort=date_modified").await, [1, 2, 3, 4]);
    assert_v3_error(&api.get("/v3/catalog/products?sort=colour").await, 422);
    assert_v3_error(&api.get("/v3/catalog/products?direction=up").await, 422);
}

#[tokio::test]
async fn create_returns_200_with_a_single_envelope_and_a_base_variant() {
    let api = common::start_seeded(SeedSpec::empty()).await;
    let body = json!({
        "name": "Oak Board", "type": "physical", "weight": 0, "price": 0, "sku": "OAK-1",
        "description": "<p>Solid oak.</p>", "inventory_tracking": "product", "inventory_level": 5,
        "condition": "Used", "brand_name": "Woodline",
        "images": [{"image_url": "https://example.com/img/oak-board.jpg", "is_thumbnail": true}],
        "custom_fields": [{"name": "Wood", "value": "Oak"}]
    });
    let r = api.post("/v3/catalog/products", body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let b = r.json();
    assert_eq!(b["meta"], json!({}));
    let p = &b["data"];
    assert_eq!(p["id"], 1);
    assert_eq!(p["weight"], 0.0, "weight 0 is allowed");
    assert_eq!(p["condition"], "Used");
    assert_eq!(p["custom_url"]["url"], "/oak-board/");
    assert_eq!(p["date_created"], p["date_modified"]);
    assert_eq!(p["variants"].as_array().unwrap().len(), 1);
    assert_eq!(p["variants"][0]["id"], p["base_variant_id"]);
    let image_file = p["images"][0]["image_file"].as_str().unwrap();
    assert!(image_file.ends_with("oak-board__1.jpg"), "{image_file}");
    assert_eq!(p["custom_fields"][0]["name"], "Wood");
    // brand_name created the brand and linked it.
    let brands = api.get("/v3/catalog/brands?name=Woodline").await;
    assert_eq!(brands.json()["data"][0]["id"], p["brand_id"]);
    let second = api
        .post("/v3/catalog/products", json!({"name": "Oak Spoon", "type": "physical", "weight": 1, "price": 3, "brand_name": "woodline"}))
        .await;
    assert_eq!(
        second.json()["data"]["brand_id"],
        p["brand_id"],
        "an existing brand is linked, not duplicated"
    );
}

#[tokio::test]
async fn create_with_variants_has_no_base_variant() {
    let api = common::start_seeded(SeedSpec::empty()).await;
    let body = json!({
        "name": "Tee", "type": "physical", "weight": 0.2, "price": 20, "sku": "TEE",
        "variants": [
            {"sku": "TEE-S", "option_values": [{"option_display_name": "Size", "label": "S"}]},
            {"sku": "TEE-M", "price": 22, "option_values": [{"option_display_name": "Size", "label": "M"}]}
        ]
    });
    let r = api.post("/v3/catalog/products", body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let p = &r.json()["data"];
    assert_eq!(p["base_variant_id"], Value::Null);
    let variants = p["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 2);
    let v = &variants[1];
    assert_eq!(v["option_values"][0]["label"], "M");
    assert_eq!(v["option_values"][0]["option_display_name"], "Size");
    assert!(v["option_values"][0]["option_id"].is_i64());
    assert!(v["sku_id"].is_i64());
    assert_eq!(v["price"], 22.0);
    assert_eq!(
        variants[0]["price"],
        Value::Null,
        "null price inherits the product's"
    );
    assert_eq!(variants[0]["calculated_price"], 20.0);

    let dup = json!({"name": "Tee 2", "type": "physical", "weight": 1, "price": 1, "variants": [
        {"sku": "X-1", "option_values": [{"option_display_name": "Size", "label": "S"}]},
        {"sku": "X-2", "option_values": [{"option_display_name": "Size", "label": "S"}]}]});
    assert_v3_error(&api.post("/v3/catalog/products", dup).await, 409);
    let no_values = json!({"name": "Tee 3", "type": "physical", "weight": 1, "price": 1, "variants": [{"sku": "X-3"}]});
    let r = api.post("/v3/catalog/products", no_values).await;
    assert_v3_error(&r, 422);
    assert!(
        r.json()["errors"].get("variants.0.option_values").is_some(),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn create_validation_names_each_bad_field() {
    let api = common::start_seeded(SeedSpec::empty()).await;
    let r = api.post("/v3/catalog/products", json!({"sku": "X"})).await;
    assert_v3_error(&r, 422);
    let errors = r.json()["errors"].as_object().unwrap();
    for key in ["name", "type", "weight", "price"] {
        assert!(errors.contains_key(key), "missing {key}: {}", r.text);
    }
    let bad = json!({"name": "x".repeat(251), "type": "boat", "weight": -1, "price": "12", "condition": "new"});
    let r = api.post("/v3/catalog/products", bad).await;
    assert_v3_error(&r, 422);
    let errors = r.json()["errors"].as_object().unwrap();
    for key in ["name", "type", "weight", "price", "condition"] {
        assert!(errors.contains_key(key), "missing {key}: {}", r.text);
    }
    let r = api
        .post(
            "/v3/catalog/products",
            json!({"name": "", "type": "digital", "weight": 1, "price": -0.01}),
        )
        .await;
    assert!(
        r.json()["errors"].get("name").is_some() && r.json()["errors"].get("price").is_some(),
        "{}",
        r.text
    );
    // One product per call: an array is refused.
    let r = api
        .post("/v3/catalog/products", json!([product_body("A", "A")]))
        .await;
    assert_v3_error(&r, 422);
    let r = api.post("/v3/catalog/products", json!({"name": "A", "type": "physical", "weight": 1, "price": 1, "images": [{"image_url": "ftp://x"}]})).await;
    assert!(
        r.json()["errors"].get("images.0.image_url").is_some(),
        "{}",
        r.text
    );
    assert_eq!(
        api.get("/v3/catalog/products").await.json()["meta"]["pagination"]["total"],
        0,
        "nothing stored"
    );
}

#[tokio::test]
async fn name_and_sku_clashes_are_409_case_insensitively() {
    let api = common::start_seeded(SeedSpec::empty()).await;
    assert_eq!(
        api.post("/v3/catalog/products", product_body("Desk Lamp", "LAMP-1"))
            .await
            .status,
        200
    );
    let r = api
        .post("/v3/catalog/products", product_body("Desk Lamp", "LAMP-2"))
        .await;
    assert_v3_error(&r, 409);
    assert!(r.json()["errors"].get("name").is_some());
    assert_v3_error(
        &api.post("/v3/catalog/products", product_body("desk lamp", "LAMP-3"))
            .await,
        409,
    );
    let r = api
        .post("/v3/catalog/products", product_body("Floor Lamp", "lamp-1"))
        .await;
    assert_v3_error(&r, 409);
    assert!(r.json()["errors"].get("sku").is_some());

    // A variant SKU blocks a product SKU, whatever its case (docs/api-notes.md §3.3).
    let body = json!({"name": "Shirt", "type": "physical", "weight": 1, "price": 5, "variants": [
        {"sku": "SHIRT-RED", "option_values": [{"option_display_name": "Color", "label": "Red"}]}]});
    assert_eq!(api.post("/v3/catalog/products", body).await.status, 200);
    assert_v3_error(
        &api.post("/v3/catalog/products", product_body("Other", "shirt-red"))
            .await,
        409,
    );
    let r = api
        .put("/v3/catalog/products/1", json!({"sku": "Shirt-Red"}))
        .await;
    assert_v3_error(&r, 409);
    assert_v3_error(&api.post("/v3/catalog/products", json!({"name": "Other", "type": "physical", "weight": 1, "price": 1, "categories": [77]})).await, 409);
    assert_v3_error(
        &api.post(
            "/v3/catalog/products",
            json!({"name": "Other", "type": "physical", "weight": 1, "price": 1, "brand_id": 77}),
        )
        .await,
        409,
    );
}

#[tokio::test]
async fn batch_update_is_limited_to_10_and_atomic() {
    let api = common::start_seeded(small_store(12)).await;
    let eleven: Vec<Value> = (1..=11).map(|id| json!({"id": id, "price": 1})).collect();
    let r = api.put("/v3/catalog/products", Value::Array(eleven)).await;
    assert_v3_error(&r, 413);
    assert!(r.json()["title"].as_str().unwrap().contains("10"));

    let before = api.get("/v3/catalog/products/1").await.json()["data"].clone();
    let r = api
        .put(
            "/v3/catalog/products",
            json!([{"id": 1, "price": 99}, {"id": 2, "price": -5}]),
        )
        .await;
    assert_v3_error(&r, 422);
    assert!(r.json()["errors"].get("1.price").is_some(), "{}", r.text);
    assert_eq!(
        api.get("/v3/catalog/products/1").await.json()["data"],
        before,
        "the valid item was not applied"
    );

    assert_v3_error(
        &api.put("/v3/catalog/products", json!([{"price": 1}])).await,
        422,
    );
    let r = api
        .put(
            "/v3/catalog/products",
            json!([{"id": 1, "price": 1}, {"id": 999, "price": 1}]),
        )
        .await;
    assert_v3_error(&r, 404);
    assert!(r.json()["errors"].get("1.id").is_some());
    let name2 = api.get("/v3/catalog/products/2").await.json()["data"]["name"].clone();
    let r = api
        .put("/v3/catalog/products", json!([{"id": 1, "name": name2}]))
        .await;
    assert_v3_error(&r, 409);
    assert!(r.json()["errors"].get("0.name").is_some());
    assert_v3_error(
        &api.put("/v3/catalog/products", json!({"id": 1})).await,
        422,
    );
}

#[tokio::test]
async fn batch_update_applies_writes_and_bumps_date_modified() {
    let api = common::start_seeded(small_store(3)).await;
    let before = api.get("/v3/catalog/products/1").await.json()["data"].clone();
    let sku1 = before["sku"].as_str().unwrap().to_owned();
    let sku2 = api.get("/v3/catalog/products/2").await.json()["data"]["sku"]
        .as_str()
        .unwrap()
        .to_owned();
    // Swapping SKUs inside one batch is not a clash.
    let r = api
        .put(
            "/v3/catalog/products",
            json!([{"id": 1, "sku": sku2, "categories": [2, 3], "price": 3.5}, {"id": 2, "sku": sku1}]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let data = &r.json()["data"];
    assert_eq!(data[0]["sku"], sku2.as_str());
    assert_eq!(data[1]["sku"], sku1.as_str());
    assert_eq!(
        data[0]["categories"],
        json!([2, 3]),
        "categories are replaced"
    );
    assert_eq!(data[0]["price"], 3.5);
    assert!(
        data[0]["date_modified"].as_str().unwrap() >= before["date_modified"].as_str().unwrap()
    );
    let with_variants = api.get("/v3/catalog/products/1?include=variants").await;
    assert_eq!(
        with_variants.json()["data"]["variants"][0]["sku"],
        sku2.as_str(),
        "the base variant follows"
    );
    let found = api.get(&format!("/v3/catalog/products?sku={sku1}")).await;
    assert_eq!(ids(found.json()), [2]);
}

#[tokio::test]
async fn single_get_put_delete() {
    let api = common::start_seeded(small_store(2)).await;
    assert_v3_error(&api.get("/v3/catalog/products/99").await, 404);
    assert_v3_error(&api.get("/v3/catalog/products/abc").await, 404);
    let r = api
        .put(
            "/v3/catalog/products/1",
            json!({"name": "Renamed", "is_visible": false, "inventory_level": 7}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["data"]["name"], "Renamed");
    assert_eq!(r.json()["data"]["is_visible"], false);
    let r = api
        .put("/v3/catalog/products/1", json!({"weight": "heavy"}))
        .await;
    assert_v3_error(&r, 422);
    assert!(r.json()["errors"].get("weight").is_some());
    assert_v3_error(
        &api.put("/v3/catalog/products/99", json!({"name": "x"}))
            .await,
        404,
    );
    let r = api.delete("/v3/catalog/products/1").await;
    assert_eq!(r.status, 204);
    assert!(r.text.is_empty());
    assert_v3_error(&api.get("/v3/catalog/products/1").await, 404);
    assert_v3_error(&api.delete("/v3/catalog/products/1").await, 404);
    // Its base variant went with it.
    let variants = api.get("/v3/catalog/variants?product_id:in=1").await;
    assert_eq!(variants.json()["data"], json!([]));
}

#[tokio::test]
async fn filtered_delete_needs_a_filter_and_takes_at_most_250_ids() {
    let api = common::start_seeded(small_store(5)).await;
    let r = api.delete("/v3/catalog/products").await;
    assert_v3_error(&r, 422);
    assert!(r.json()["title"].as_str().unwrap().contains("filter"));
    let many = (1..=251)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",");
    assert_v3_error(
        &api.delete(&format!("/v3/catalog/products?id:in={many}"))
            .await,
        413,
    );
    let r = api.delete("/v3/catalog/products?id:in=2,4").await;
    assert_eq!(r.status, 204);
    assert_eq!(ids(api.get("/v3/catalog/products").await.json()), [1, 3, 5]);
    let name = api.get("/v3/catalog/products/5").await.json()["data"]["name"]
        .as_str()
        .unwrap()
        .replace(' ', "%20");
    assert_eq!(
        api.delete(&format!("/v3/catalog/products?name={name}"))
            .await
            .status,
        204
    );
    assert_eq!(ids(api.get("/v3/catalog/products").await.json()), [1, 3]);
}

#[tokio::test]
async fn ids_keep_growing_after_deletes_and_failed_creates() {
    let api = common::start_seeded(SeedSpec::empty()).await;
    assert_eq!(
        api.post("/v3/catalog/products", product_body("A", "A"))
            .await
            .json()["data"]["id"],
        1
    );
    assert_v3_error(
        &api.post("/v3/catalog/products", product_body("A", "B"))
            .await,
        409,
    );
    assert_eq!(api.delete("/v3/catalog/products/1").await.status, 204);
    assert_eq!(
        api.post("/v3/catalog/products", product_body("B", "B"))
            .await
            .json()["data"]["id"],
        2
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// Paging by id (`sort=id`, the default) returns every product that existed at the
    /// start exactly once, while products are created and modified between pages.
    #[test]
    fn paging_by_id_is_stable_under_writes(
        initial in 0usize..40,
        limit in 1u32..12,
        creates_per_page in 0usize..3,
        modify_each_page in any::<bool>(),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let api = common::start_seeded(small_store(initial)).await;
            let mut seen: Vec<i64> = Vec::new();
            let mut page = 1;
            let mut created = 0;
            loop {
                let r = api.get(&format!("/v3/catalog/products?sort=id&limit={limit}&page={page}")).await;
                assert_eq!(r.status, 200, "{}", r.text);
                let b = r.json();
                seen.extend(ids(b));
                // A bounded number of creates, so that paging reaches the end.
                for _ in 0..creates_per_page {
                    if created >= 6 {
                        break;
                    }
                    created += 1;
                    let body = product_body(&format!("New product {created}"), &format!("NEW-{created}"));
                    assert_eq!(api.post("/v3/catalog/products", body).await.status, 200);
                }
                if modify_each_page && initial > 0 {
                    let id = 1 + (page as usize * 7) % initial;
                    let r = api.put(&format!("/v3/catalog/products/{id}"), json!({"price": page as f64})).await;
                    assert_eq!(r.status, 200);
                }
                let pagination = &b["meta"]["pagination"];
                if pagination["current_page"].as_u64() >= pagination["total_pages"].as_u64() || page > 200 {
                    break;
                }
                page += 1;
            }
            let unique: HashSet<i64> = seen.iter().copied().collect();
            prop_assert_eq!(unique.len(), seen.len(), "no product twice: {:?}", seen);
            for id in 1..=initial as i64 {
                prop_assert!(unique.contains(&id), "product {} missing from {:?}", id, seen);
            }
            Ok(())
        })?;
    }
}
