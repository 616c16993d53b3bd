//! Variants (per product and store-wide), images and custom fields.

use bc_sandbox::SeedSpec;
use serde_json::{Value, json};

use super::{ids, product_body};
use crate::common::{self, assert_v3_error};

fn with_options(products: usize, variants: usize) -> SeedSpec {
    SeedSpec {
        products,
        variants_per_product: variants,
        ..SeedSpec::empty()
    }
}

#[tokio::test]
async fn seeded_option_products_list_their_variants() {
    let api = common::start_seeded(with_options(2, 3)).await;
    let p = api
        .get("/v3/catalog/products/1?include=options")
        .await
        .json()["data"]
        .clone();
    assert_eq!(p["base_variant_id"], Value::Null);
    let r = api.get("/v3/catalog/products/1/variants").await;
    assert_eq!(r.status, 200);
    let variants = r.json()["data"].as_array().unwrap().clone();
    assert_eq!(variants.len(), 3);
    assert_eq!(r.json()["meta"]["pagination"]["total"], 3);
    let option = &p["options"][0];
    for v in &variants {
        assert_eq!(v["product_id"], 1);
        assert!(
            v["sku"]
                .as_str()
                .unwrap()
                .starts_with(p["sku"].as_str().unwrap())
        );
        assert!(v["sku_id"].is_i64());
        assert_ne!(
            v["sku_id"], v["id"],
            "V2 SKU ids differ from V3 variant ids"
        );
        assert_eq!(v["option_values"][0]["option_id"], option["id"]);
        assert_eq!(
            v["option_values"][0]["option_display_name"],
            option["display_name"]
        );
    }
    let vid = variants[1]["id"].as_i64().unwrap();
    let one = api
        .get(&format!("/v3/catalog/products/1/variants/{vid}"))
        .await;
    assert_eq!(one.json()["data"]["id"], vid);
    assert_v3_error(
        &api.get(&format!("/v3/catalog/products/2/variants/{vid}"))
            .await,
        404,
    );
    assert_v3_error(&api.get("/v3/catalog/products/99/variants").await, 404);
    let refs = api.sandbox.state.data.read().catalog.product_refs();
    assert_eq!(
        refs[0].variant_ids,
        variants
            .iter()
            .map(|v| v["id"].as_i64().unwrap())
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn creating_a_variant_needs_sku_and_option_values() {
    let api = common::start_seeded(with_options(1, 2)).await;
    let option = api
        .get("/v3/catalog/products/1?include=options")
        .await
        .json()["data"]["options"][0]
        .clone();
    let option_id = option["id"].as_i64().unwrap();
    let r = api
        .post("/v3/catalog/products/1/variants", json!({"price": 3}))
        .await;
    assert_v3_error(&r, 422);
    assert!(
        r.json()["errors"].get("sku").is_some()
            && r.json()["errors"].get("option_values").is_some(),
        "{}",
        r.text
    );
    let r = api
        .post(
            "/v3/catalog/products/1/variants",
            json!({"sku": "NEW-1", "option_values": [{"id": 9999, "option_id": option_id}]}),
        )
        .await;
    assert_v3_error(&r, 422);
    assert!(r.json()["errors"].get("option_values.0").is_some());

    // The same combination again is a clash; a new label by name creates the value.
    let first_value = option["option_values"][0]["id"].as_i64().unwrap();
    let r = api
        .post(
            "/v3/catalog/products/1/variants",
            json!({"sku": "NEW-1", "option_values": [{"id": first_value, "option_id": option_id}]}),
        )
        .await;
    assert_v3_error(&r, 409);
    let display = option["display_name"].as_str().unwrap();
    let r = api
        .post(
            "/v3/catalog/products/1/variants",
            json!({"sku": "NEW-1", "price": 30.5, "option_values": [{"option_display_name": display, "label": "Huge"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = &r.json()["data"];
    assert_eq!(v["option_values"][0]["label"], "Huge");
    assert_eq!(v["option_values"][0]["option_id"], option_id);
    assert_eq!(v["price"], 30.5);
    let again = api
        .post("/v3/catalog/products/1/variants", json!({"sku": "new-1", "option_values": [{"option_display_name": display, "label": "Tiny"}]}))
        .await;
    assert_v3_error(&again, 409);
    assert_eq!(
        api.get("/v3/catalog/products/1/variants").await.json()["data"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test]
async fn a_simple_product_trades_its_base_variant_for_option_variants_and_back() {
    let api = common::start_seeded(SeedSpec::empty()).await;
    let p = api
        .post("/v3/catalog/products", product_body("Mug", "MUG"))
        .await
        .json()["data"]
        .clone();
    let base = p["base_variant_id"].as_i64().unwrap();
    let r = api
        .delete(&format!("/v3/catalog/products/1/variants/{base}"))
        .await;
    assert_v3_error(&r, 422);
    let r = api
        .post("/v3/catalog/products/1/variants", json!({"sku": "MUG-L", "option_values": [{"option_display_name": "Size", "label": "L"}]}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let vid = r.json()["data"]["id"].as_i64().unwrap();
    let p = api
        .get("/v3/catalog/products/1?include=variants")
        .await
        .json()["data"]
        .clone();
    assert_eq!(p["base_variant_id"], Value::Null);
    assert_eq!(p["variants"].as_array().unwrap().len(), 1);
    assert!(p["date_modified"].as_str().is_some());
    assert_eq!(
        api.delete(&format!("/v3/catalog/products/1/variants/{vid}"))
            .await
            .status,
        204
    );
    let p = api
        .get("/v3/catalog/products/1?include=variants")
        .await
        .json()["data"]
        .clone();
    assert!(
        p["base_variant_id"].is_i64(),
        "the last option variant gone, a base variant is back"
    );
    assert_eq!(p["variants"][0]["sku"], "MUG");
}

#[tokio::test]
async fn updating_a_variant_checks_fields_and_skus() {
    let api = common::start_seeded(with_options(2, 2)).await;
    let v1 = api.get("/v3/catalog/products/1/variants").await.json()["data"][0].clone();
    let v2_sku = api.get("/v3/catalog/products/2/variants").await.json()["data"][0]["sku"]
        .as_str()
        .unwrap()
        .to_lowercase();
    let path = format!("/v3/catalog/products/1/variants/{}", v1["id"]);
    let r = api
        .put(
            &path,
            json!({"price": 9.99, "weight": null, "inventory_level": 4}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["data"]["price"], 9.99);
    assert_eq!(r.json()["data"]["calculated_price"], 9.99);
    assert_eq!(r.json()["data"]["inventory_level"], 4);
    let r = api.put(&path, json!({"price": -1})).await;
    assert_v3_error(&r, 422);
    assert!(r.json()["errors"].get("price").is_some());
    assert_v3_error(&api.put(&path, json!({"sku": v2_sku})).await, 409);
    // Updating the base variant's SKU renames the product's SKU.
    let simple = api
        .post("/v3/catalog/products", product_body("Plain", "PLAIN"))
        .await
        .json()["data"]
        .clone();
    let base = simple["base_variant_id"].as_i64().unwrap();
    let r = api
        .put(
            &format!("/v3/catalog/products/3/variants/{base}"),
            json!({"sku": "PLAIN-2"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        api.get("/v3/catalog/products/3").await.json()["data"]["sku"],
        "PLAIN-2"
    );
    assert_eq!(
        ids(api.get("/v3/catalog/products?sku=PLAIN-2").await.json()),
        [3]
    );
}

#[tokio::test]
async fn store_wide_variants_list_filters() {
    let api = common::start_seeded(with_options(4, 2)).await;
    let all = api.get("/v3/catalog/variants?limit=250").await;
    assert_eq!(all.status, 200);
    let variants = all.json()["data"].as_array().unwrap().clone();
    assert_eq!(variants.len(), 8);
    let third = &variants[2];
    let r = api
        .get(&format!("/v3/catalog/variants?id={}", third["id"]))
        .await;
    assert_eq!(r.json()["data"].as_array().unwrap().len(), 1);
    let r = api
        .get(&format!(
            "/v3/catalog/variants?sku={}",
            third["sku"].as_str().unwrap().to_lowercase()
        ))
        .await;
    assert_eq!(
        r.json()["data"][0]["id"],
        third["id"],
        "variant SKUs are found here (docs/api-notes.md §12.6)"
    );
    let r = api.get("/v3/catalog/variants?product_id:in=2,4").await;
    let products: Vec<i64> = r.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["product_id"].as_i64().unwrap())
        .collect();
    assert_eq!(products, [2, 2, 4, 4]);
    let r = api
        .get("/v3/catalog/variants?include_fields=sku&limit=1&page=2")
        .await;
    let v = r.json()["data"][0].as_object().unwrap().clone();
    assert_eq!(v.keys().collect::<Vec<_>>(), ["id", "sku"]);
    assert_eq!(r.json()["meta"]["pagination"]["total_pages"], 8);
    let r = api
        .get("/v3/catalog/variants?exclude_fields=option_values")
        .await;
    assert!(r.json()["data"][0].get("option_values").is_none());
    assert_v3_error(&api.get("/v3/catalog/variants?limit=251").await, 413);
}

#[tokio::test]
async fn variants_batch_upserts_at_most_50_atomically() {
    let api = common::start_seeded(with_options(2, 2)).await;
    let fifty_one: Vec<Value> = (0..51).map(|_| json!({"id": 1, "price": 1})).collect();
    assert_v3_error(
        &api.put("/v3/catalog/variants", Value::Array(fifty_one))
            .await,
        413,
    );

    let vs = api.get("/v3/catalog/variants").await.json()["data"]
        .as_array()
        .unwrap()
        .clone();
    let (a, b) = (vs[0]["id"].as_i64().unwrap(), vs[1]["id"].as_i64().unwrap());
    let r = api
        .put(
            "/v3/catalog/variants",
            json!([{"id": a, "price": 5}, {"id": b, "price": "x"}]),
        )
        .await;
    assert_v3_error(&r, 422);
    assert!(r.json()["errors"].get("1.price").is_some(), "{}", r.text);
    assert_eq!(
        api.get("/v3/catalog/variants").await.json()["data"][0]["price"],
        vs[0]["price"],
        "nothing applied"
    );

    let r = api
        .put(
            "/v3/catalog/variants",
            json!([
                {"id": a, "price": 5, "sku": vs[1]["sku"]},
                {"id": b, "sku": vs[0]["sku"]},
                {"product_id": 2, "sku": "P2-NEW", "option_values": [{"option_display_name": "Finish", "label": "Matte"}]}
            ]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let data = r.json()["data"].as_array().unwrap().clone();
    assert_eq!(data.len(), 3);
    assert_eq!(data[0]["price"], 5.0);
    assert_eq!(
        data[0]["sku"], vs[1]["sku"],
        "SKUs may swap inside one batch"
    );
    assert_eq!(data[2]["product_id"], 2);
    assert_eq!(data[2]["option_values"][0]["label"], "Matte");

    let r = api.put("/v3/catalog/variants", json!([{"product_id": 1, "sku": "p2-new", "option_values": [{"option_display_name": "Finish", "label": "Gloss"}]}])).await;
    assert_v3_error(&r, 409);
    assert!(r.json()["errors"].get("0.sku").is_some());
    assert_v3_error(
        &api.put("/v3/catalog/variants", json!([{"id": 99999, "price": 1}]))
            .await,
        404,
    );
    let r = api.put("/v3/catalog/variants", json!([{"price": 1}])).await;
    assert_v3_error(&r, 422);
    let r = api
        .put(
            "/v3/catalog/variants",
            json!([{"product_id": 77, "sku": "Z", "option_values": []}]),
        )
        .await;
    assert!(
        r.json()["errors"].get("0.product_id").is_some(),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn images_answer_204_when_empty_and_keep_one_thumbnail() {
    let api = common::start_seeded(SeedSpec::empty()).await;
    api.post("/v3/catalog/products", product_body("Vase", "VASE"))
        .await;
    let r = api.get("/v3/catalog/products/1/images").await;
    assert_eq!(r.status, 204, "no images is 204 (docs/api-notes.md §12.1)");
    assert!(r.text.is_empty());
    assert_v3_error(&api.get("/v3/catalog/products/9/images").await, 404);

    let r = api
        .post(
            "/v3/catalog/products/1/images",
            json!({"image_url": "https://cdn.test/a/vase-front.png"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let first = r.json()["data"].clone();
    assert_eq!(
        first["is_thumbnail"], true,
        "the first image is the thumbnail"
    );
    assert!(first["url_zoom"].as_str().unwrap().starts_with("https://"));
    assert!(first["date_modified"].is_string());
    let r = api
        .post("/v3/catalog/products/1/images", json!({"image_url": "https://cdn.test/vase-side.jpg", "is_thumbnail": true, "description": "Side"}))
        .await;
    let second = r.json()["data"].clone();
    assert_eq!(second["is_thumbnail"], true);
    let list = api.get("/v3/catalog/products/1/images").await;
    assert_eq!(list.status, 200);
    let thumbs: Vec<bool> = list.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["is_thumbnail"].as_bool().unwrap())
        .collect();
    assert_eq!(thumbs, [false, true]);
    let primary = api
        .get("/v3/catalog/products/1?include=primary_image")
        .await;
    assert_eq!(primary.json()["data"]["primary_image"]["id"], second["id"]);

    let long = format!("https://cdn.test/{}.jpg", "x".repeat(250));
    let r = api
        .post("/v3/catalog/products/1/images", json!({"image_url": long}))
        .await;
    assert_v3_error(&r, 422);
    assert!(r.json()["errors"].get("image_url").is_some());
    assert_v3_error(
        &api.post(
            "/v3/catalog/products/1/images",
            json!({"description": "no url"}),
        )
        .await,
        422,
    );
    assert_v3_error(
        &api.post(
            "/v3/catalog/products/1/images",
            json!([{"image_url": "https://a/b.jpg"}]),
        )
        .await,
        422,
    );

    let path = format!("/v3/catalog/products/1/images/{}", first["id"]);
    assert_eq!(api.get(&path).await.json()["data"]["id"], first["id"]);
    let r = api
        .put(&path, json!({"description": "Front", "sort_order": 3}))
        .await;
    assert_eq!(r.json()["data"]["description"], "Front");
    assert_eq!(r.json()["data"]["sort_order"], 3);
    assert_eq!(api.delete(&path).await.status, 204);
    assert_v3_error(&api.get(&path).await, 404);
    let path2 = format!("/v3/catalog/products/1/images/{}", second["id"]);
    assert_eq!(api.delete(&path2).await.status, 204);
    assert_eq!(api.get("/v3/catalog/products/1/images").await.status, 204);
}

#[tokio::test]
async fn custom_fields_crud_and_rules() {
    let api = common::start_seeded(SeedSpec::empty()).await;
    api.post("/v3/catalog/products", product_body("Rug", "RUG"))
        .await;
    let r = api.get("/v3/catalog/products/1/custom-fields").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["data"], json!([]));
    let r = api
        .post(
            "/v3/catalog/products/1/custom-fields",
            json!({"name": "Origin", "value": "Nepal"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let field = r.json()["data"].clone();
    assert_eq!(field["name"], "Origin");
    assert_v3_error(
        &api.post(
            "/v3/catalog/products/1/custom-fields",
            json!({"name": "Origin", "value": "Nepal"}),
        )
        .await,
        409,
    );
    assert_eq!(
        api.post(
            "/v3/catalog/products/1/custom-fields",
            json!({"name": "Origin", "value": "India"})
        )
        .await
        .status,
        200,
        "same name, other value is fine"
    );
    let r = api
        .post(
            "/v3/catalog/products/1/custom-fields",
            json!({"name": "Size"}),
        )
        .await;
    assert_v3_error(&r, 422);
    assert!(r.json()["errors"].get("value").is_some());
    let r = api
        .post(
            "/v3/catalog/products/1/custom-fields",
            json!({"name": "x".repeat(251), "value": "v"}),
        )
        .await;
    assert!(r.json()["errors"].get("name").is_some());

    let path = format!("/v3/catalog/products/1/custom-fields/{}", field["id"]);
    assert_eq!(api.get(&path).await.json()["data"], field);
    assert_v3_error(&api.put(&path, json!({"value": "India"})).await, 409);
    let r = api.put(&path, json!({"value": "Bhutan"})).await;
    assert_eq!(r.json()["data"]["value"], "Bhutan");
    assert_eq!(api.delete(&path).await.status, 204);
    assert_v3_error(&api.get(&path).await, 404);
    let list = api
        .get("/v3/catalog/products/1?include=custom_fields")
        .await;
    assert_eq!(
        list.json()["data"]["custom_fields"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn custom_fields_stop_at_200_per_product() {
    let spec = SeedSpec {
        products: 1,
        custom_fields_per_product: 200,
        ..SeedSpec::empty()
    };
    let api = common::start_seeded(spec).await;
    let r = api
        .get("/v3/catalog/products/1/custom-fields?limit=250")
        .await;
    assert_eq!(r.json()["meta"]["pagination"]["total"], 200);
    let r = api
        .post(
            "/v3/catalog/products/1/custom-fields",
            json!({"name": "One more", "value": "x"}),
        )
        .await;
    assert_v3_error(&r, 422);
}
