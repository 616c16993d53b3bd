//! V2 shapes as the real store renders them, over real HTTP: an empty map is `[]` in every
//! V2 body (docs/api-notes.md §12.16), archived orders are listed with `is_deleted=true` and
//! counted the same way (§6.7), unknown query parameters are ignored on V2 and V3
//! lists alike (§0.5), and V2 products are the V3 records in V2 shapes (§3.5).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use bc_sandbox::SeedSpec;
use common::{Api, start_seeded};
use serde_json::{Value, json};

fn seeded() -> SeedSpec {
    SeedSpec {
        seed: 5,
        customers: 20,
        addresses_per_customer: 1,
        customer_groups: 2,
        products: 10,
        categories: 3,
        brands: 2,
        orders: 200,
        lines_per_order: 2,
        coupons: 5,
        ..SeedSpec::empty()
    }
}

/// Walks a JSON value and fails on the first empty object, naming its path.
fn assert_no_empty_object(v: &Value, path: &str) {
    match v {
        Value::Object(m) => {
            assert!(!m.is_empty(), "empty map at {path}: V2 renders it as []");
            for (k, x) in m {
                assert_no_empty_object(x, &format!("{path}.{k}"));
            }
        }
        Value::Array(items) => {
            for (i, x) in items.iter().enumerate() {
                assert_no_empty_object(x, &format!("{path}[{i}]"));
            }
        }
        _ => {}
    }
}

async fn all_orders(api: &Api, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for page in 1.. {
        let r = api
            .get(&format!("/v2/orders?{query}&limit=50&page={page}"))
            .await;
        if r.status == 204 {
            break;
        }
        assert_eq!(r.status, 200, "{}", r.text);
        out.extend(r.json().as_array().unwrap().iter().cloned());
    }
    out
}

#[tokio::test]
async fn empty_maps_render_as_empty_arrays_in_every_v2_body() {
    let api = start_seeded(seeded()).await;
    // A coupon created with no restrictions: restricted_to is [] in the create answer, the
    // single GET and the list.
    let c = api
        .post(
            "/v2/coupons",
            json!({
                "name": "Ten off",
                "code": "TENOFF",
                "type": "per_total_discount",
                "amount": "10.00",
                "applies_to": { "entity": "categories", "ids": [0] }
            }),
        )
        .await;
    assert_eq!(c.status, 201, "{}", c.text);
    assert_eq!(c.json()["restricted_to"], json!([]), "{}", c.text);
    let id = c.json()["id"].as_i64().unwrap();
    let one = api.get(&format!("/v2/coupons/{id}")).await;
    assert_eq!(one.json()["restricted_to"], json!([]));
    let list = api.get("/v2/coupons?limit=250").await;
    let listed = list
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == id)
        .unwrap();
    assert_eq!(listed["restricted_to"], json!([]));
    // A map that is not empty stays a map.
    let r = api
        .put(
            &format!("/v2/coupons/{id}"),
            json!({
                "name": "Ten off",
                "code": "TENOFF",
                "type": "per_total_discount",
                "amount": "10.00",
                "applies_to": { "entity": "categories", "ids": [0] },
                "restricted_to": { "countries": ["US"] }
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json()["restricted_to"].is_object(), "{}", r.text);

    // Every V2 resource the sandbox serves: no empty map anywhere.
    let order = all_orders(&api, "").await[0]["id"].as_i64().unwrap();
    for path in [
        "/v2/store".to_owned(),
        "/v2/time".to_owned(),
        "/v2/coupons?limit=250".to_owned(),
        "/v2/coupons/count".to_owned(),
        "/v2/customer_groups".to_owned(),
        "/v2/customers?limit=250".to_owned(),
        "/v2/customers/1/addresses".to_owned(),
        "/v2/products?limit=250".to_owned(),
        "/v2/order_statuses".to_owned(),
        "/v2/orders?limit=250".to_owned(),
        "/v2/orders/count".to_owned(),
        format!("/v2/orders/{order}"),
        format!("/v2/orders/{order}/products"),
        format!("/v2/orders/{order}/shipping_addresses"),
        format!("/v2/orders/{order}/coupons"),
        format!("/v2/orders/{order}/fees"),
        format!("/v2/orders/{order}/consignments"),
        format!(
            "/v2/orders/{order}?include=consignments.line_items,fees&consignment_structure=object"
        ),
    ] {
        let r = api.get(&path).await;
        assert!(r.status == 200 || r.status == 204, "{path}: {}", r.text);
        if let Some(body) = &r.body {
            assert_no_empty_object(body, &path);
        }
    }
}

#[tokio::test]
async fn is_deleted_lists_archived_orders_and_count_agrees() {
    let api = start_seeded(seeded()).await;
    let live = all_orders(&api, "").await;
    let archived = all_orders(&api, "is_deleted=true").await;
    assert!(!archived.is_empty(), "the seed archives some orders");
    assert!(archived.iter().all(|o| o["is_deleted"] == true));
    assert!(live.iter().all(|o| o["is_deleted"] == false));
    assert_eq!(live.len() + archived.len(), 200);
    let explicit_false = all_orders(&api, "is_deleted=false").await;
    assert_eq!(explicit_false.len(), live.len());

    let count = |q: &'static str| {
        let api = &api;
        async move {
            let r = api.get(&format!("/v2/orders/count?{q}")).await;
            assert_eq!(r.status, 200, "{}", r.text);
            r.json()["count"].as_u64().unwrap() as usize
        }
    };
    assert_eq!(count("").await, live.len());
    assert_eq!(count("is_deleted=true").await, archived.len());
    assert_eq!(count("is_deleted=false").await, live.len());

    // Archiving moves an order from one list to the other; other filters still apply.
    let target = live[0]["id"].as_i64().unwrap();
    assert_eq!(
        api.delete(&format!("/v2/orders/{target}")).await.status,
        204
    );
    assert_eq!(count("is_deleted=true").await, archived.len() + 1);
    let r = api
        .get(&format!(
            "/v2/orders?is_deleted=true&min_id={target}&max_id={target}"
        ))
        .await;
    assert_eq!(r.json()[0]["id"], target);
    let r = api
        .get(&format!("/v2/orders?min_id={target}&max_id={target}"))
        .await;
    assert_eq!(r.status, 204);
    let bad = api.get("/v2/orders?is_deleted=maybe").await;
    common::assert_v2_error(&bad, 400);
}

#[tokio::test]
async fn unknown_query_parameters_are_ignored() {
    let api = start_seeded(seeded()).await;
    let unknown = "utm_source=newsletter&no_such_filter=1&foo:in=1,2&_=123";
    for path in [
        "/v2/orders",
        "/v2/orders/count",
        "/v2/customers",
        "/v2/customers/count",
        "/v2/products",
        "/v2/products/count",
        "/v2/coupons",
        "/v2/customer_groups",
        "/v2/order_statuses",
        "/v2/store",
        "/v3/customers",
        "/v3/customers/addresses",
        "/v3/catalog/products",
        "/v3/catalog/categories",
        "/v3/catalog/brands",
        "/v3/channels",
        "/v3/hooks",
    ] {
        let plain = api.get(path).await;
        let with = api
            .get(&format!(
                "{path}{}{unknown}",
                if path.contains('?') { '&' } else { '?' }
            ))
            .await;
        assert_eq!(plain.status, with.status, "{path}: {}", with.text);
        assert!(with.status.is_success(), "{path}: {}", with.text);
        if path.starts_with("/v2/") {
            assert_eq!(plain.body, with.body, "{path}");
        } else {
            assert_eq!(
                plain.body.as_ref().map(|b| &b["data"]),
                with.body.as_ref().map(|b| &b["data"]),
                "{path}"
            );
        }
    }
}

#[tokio::test]
async fn products_v2_are_the_v3_records_in_v2_shapes() {
    let api = start_seeded(seeded()).await;
    let count = api.get("/v2/products/count").await;
    assert_eq!(count.json()["count"], 10);
    let r = api.get("/v2/products?limit=4&page=1").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let first = &r.json()[0];
    assert!(
        first["price"]
            .as_str()
            .unwrap()
            .ends_with(|c: char| c.is_ascii_digit())
    );
    chrono::DateTime::parse_from_rfc2822(first["date_modified"].as_str().unwrap()).unwrap();
    let id = first["id"].as_i64().unwrap();
    assert_eq!(first["skus"]["resource"], format!("/products/{id}/skus"));
    assert_eq!(api.get("/v2/products?limit=4&page=4").await.status, 204);
    let r = api
        .get(&format!("/v2/products?min_id={id}&max_id={id}"))
        .await;
    assert_eq!(r.json().as_array().unwrap().len(), 1);

    let category = first["categories"][0].as_i64().unwrap();
    let c = api
        .post(
            "/v2/products",
            json!({
                "name": "V2 Kettle",
                "type": "physical",
                "price": "15.00",
                "weight": "2",
                "categories": [category],
                "availability": "available",
                "inventory_tracking": "simple"
            }),
        )
        .await;
    assert_eq!(c.status, 201, "{}", c.text);
    assert_eq!(c.json()["price"], "15.0000");
    assert_eq!(c.json()["inventory_tracking"], "simple");
    let pid = c.json()["id"].as_i64().unwrap();
    let v3 = api.get(&format!("/v3/catalog/products/{pid}")).await;
    assert_eq!(v3.json()["data"]["inventory_tracking"], "product");
    assert_eq!(v3.json()["data"]["price"], 15.0);

    let u = api
        .put(
            &format!("/v2/products/{pid}"),
            json!({"sale_price": "12.5"}),
        )
        .await;
    assert_eq!(u.status, 200, "{}", u.text);
    assert_eq!(u.json()["calculated_price"], "12.5000");
    // V3 rules hold: a duplicate name is refused, in the V2 error shape.
    let dup = api
        .post(
            "/v2/products",
            json!({
                "name": "V2 Kettle", "type": "physical", "price": "1", "weight": "1",
                "categories": [category], "availability": "available"
            }),
        )
        .await;
    common::assert_v2_error(&dup, 409);
    common::assert_v2_error(
        &api.post("/v2/products", json!({"name": "No price"})).await,
        400,
    );
    common::assert_v2_error(&api.get("/v2/products/999999").await, 404);
}
