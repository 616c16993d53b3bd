//! V2 coupons over real HTTP (docs/api-notes.md §7.1): list, filters, count, create (201), update
//! (required fields again; `applies_to` cleared when left out), delete one or many,
//! uniqueness of name and code (409), validation, 204 on empty pages, 413 above 250.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use bc_sandbox::SeedSpec;
use chrono::DateTime;
use common::{Api, assert_v2_error, ids_of, start_seeded};
use serde_json::{Value, json};

fn seeded(coupons: usize) -> SeedSpec {
    SeedSpec {
        seed: 3,
        coupons,
        ..SeedSpec::empty()
    }
}

fn coupon(name: &str, code: &str) -> Value {
    json!({
        "name": name,
        "code": code,
        "type": "per_total_discount",
        "amount": "5.00",
        "applies_to": { "entity": "categories", "ids": [0] }
    })
}

async fn list_all(api: &Api, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for page in 1.. {
        let r = api
            .get(&format!("/v2/coupons?{query}&limit=7&page={page}"))
            .await;
        if r.status == 204 {
            assert!(r.text.is_empty());
            break;
        }
        assert_eq!(r.status, 200, "{}", r.text);
        out.extend(r.json().as_array().unwrap().iter().cloned());
    }
    out
}

#[tokio::test]
async fn seeded_coupons_list_in_id_order_with_v2_types() {
    let api = start_seeded(seeded(25)).await;
    let all = list_all(&api, "").await;
    assert_eq!(all.len(), 25);
    assert!(
        all.windows(2)
            .all(|w| w[0]["id"].as_i64() < w[1]["id"].as_i64()),
        "sorted by id"
    );
    for c in &all {
        for f in ["amount", "min_purchase"] {
            let s = c[f].as_str().expect("money is a string");
            assert_eq!(
                s.split_once('.').map(|(_, d)| d.len()),
                Some(4),
                "{f} = {s}"
            );
        }
        DateTime::parse_from_rfc2822(c["date_created"].as_str().unwrap()).unwrap();
        match c["expires"].as_str().unwrap() {
            "" => {}
            e => {
                DateTime::parse_from_rfc2822(e).unwrap();
            }
        }
        assert!(c["num_uses"].is_i64() && c["enabled"].is_boolean());
        assert!(["products", "categories"].contains(&c["applies_to"]["entity"].as_str().unwrap()));
    }
    let types: std::collections::HashSet<&str> =
        all.iter().map(|c| c["type"].as_str().unwrap()).collect();
    assert_eq!(types.len(), 5, "every writable type is seeded: {types:?}");
    assert_eq!(api.get("/v2/coupons/count").await.json()["count"], 25);
    let past = api.get("/v2/coupons?page=9").await;
    assert_eq!(past.status, 204);
    assert!(past.text.is_empty());
    assert_v2_error(&api.get("/v2/coupons?limit=251").await, 413);

    let empty = start_seeded(SeedSpec::empty()).await;
    let r = empty.get("/v2/coupons").await;
    assert_eq!(r.status, 204);
    assert!(r.text.is_empty());
    assert_eq!(empty.get("/v2/coupons/count").await.json()["count"], 0);
}

#[tokio::test]
async fn coupon_filters() {
    let api = start_seeded(seeded(20)).await;
    let all = list_all(&api, "").await;
    let pick = &all[7];
    let code = pick["code"].as_str().unwrap();
    let one = |r: &common::Resp| ids_of(r.json());
    assert_eq!(
        one(&api
            .get(&format!("/v2/coupons?code={}", code.to_lowercase()))
            .await),
        vec![pick["id"].as_i64().unwrap()]
    );
    let name = pick["name"]
        .as_str()
        .unwrap()
        .replace('%', "%25")
        .replace(' ', "%20")
        .replace('$', "%24")
        .replace('#', "%23");
    assert_eq!(
        one(&api.get(&format!("/v2/coupons?name={name}")).await),
        vec![pick["id"].as_i64().unwrap()]
    );
    assert_eq!(
        one(&api.get(&format!("/v2/coupons?id={}", pick["id"])).await),
        vec![pick["id"].as_i64().unwrap()]
    );
    let typed = list_all(&api, "type=percentage_discount").await;
    assert!(!typed.is_empty() && typed.iter().all(|c| c["type"] == "percentage_discount"));
    let excluded = list_all(&api, "exclude_type=percentage_discount").await;
    assert_eq!(typed.len() + excluded.len(), all.len());
    assert!(excluded.iter().all(|c| c["type"] != "percentage_discount"));
    let range = list_all(&api, "min_id=5&max_id=9").await;
    assert_eq!(
        range
            .iter()
            .map(|c| c["id"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        vec![5, 6, 7, 8, 9]
    );
    assert_eq!(
        api.get("/v2/coupons/count?type=free_shipping").await.json()["count"],
        list_all(&api, "type=free_shipping").await.len()
    );
    assert_v2_error(&api.get("/v2/coupons?type=bogus").await, 400);
    assert_v2_error(&api.get("/v2/coupons?min_id=x").await, 400);
}

#[tokio::test]
async fn create_get_update_delete() {
    let api = start_seeded(seeded(2)).await;
    let r = api.post("/v2/coupons", coupon("$5 off", "S2549JM0Y")).await;
    assert_eq!(r.status, 201, "POST /v2/coupons answers 201: {}", r.text);
    let c = r.json().clone();
    assert_eq!(c["id"], 3);
    assert_eq!(c["amount"], "5.0000");
    assert_eq!(c["min_purchase"], "0.0000");
    assert_eq!(c["expires"], "");
    assert_eq!(c["enabled"], true);
    assert_eq!(c["num_uses"], 0);
    assert_eq!(
        c["applies_to"],
        json!({ "entity": "categories", "ids": [0] })
    );
    assert_eq!(api.get("/v2/coupons/3").await.json(), &c);

    // PUT needs the required fields again; applies_to left out is cleared.
    let mut body = coupon("$6 off", "S2549JM0Y");
    body["amount"] = json!(6);
    body["expires"] = json!("Tue, 20 Nov 2040 00:00:00 +0000");
    body.as_object_mut().unwrap().remove("applies_to");
    let r = api.put("/v2/coupons/3", body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["name"], "$6 off");
    assert_eq!(r.json()["amount"], "6.0000");
    assert_eq!(r.json()["expires"], "Tue, 20 Nov 2040 00:00:00 +0000");
    assert_eq!(
        r.json()["applies_to"],
        Value::Null,
        "omitted applies_to is cleared"
    );
    assert_eq!(r.json()["date_created"], c["date_created"]);
    // Restore it with another PUT.
    let r = api
        .put("/v2/coupons/3", coupon("$6 off", "S2549JM0Y"))
        .await;
    assert_eq!(r.json()["applies_to"]["entity"], "categories");
    let mut partial = coupon("x", "y");
    partial.as_object_mut().unwrap().remove("code");
    assert_v2_error(&api.put("/v2/coupons/3", partial).await, 400);
    assert_v2_error(&api.put("/v2/coupons/999", coupon("a", "b")).await, 404);
    assert_v2_error(&api.get("/v2/coupons/999").await, 404);

    let d = api.delete("/v2/coupons/3").await;
    assert_eq!(d.status, 204);
    assert!(d.text.is_empty());
    assert_v2_error(&api.get("/v2/coupons/3").await, 404);
    assert_v2_error(&api.delete("/v2/coupons/3").await, 404);
    assert_eq!(api.get("/v2/coupons/count").await.json()["count"], 2);
    // Ids are not reused.
    assert_eq!(
        api.post("/v2/coupons", coupon("again", "AGAIN"))
            .await
            .json()["id"],
        4
    );
}

#[tokio::test]
async fn names_and_codes_are_unique() {
    let api = start_seeded(SeedSpec::empty()).await;
    assert_eq!(
        api.post("/v2/coupons", coupon("Spring", "SPRING10"))
            .await
            .status,
        201
    );
    assert_eq!(
        api.post("/v2/coupons", coupon("Summer", "SUMMER10"))
            .await
            .status,
        201
    );
    let same_name = api.post("/v2/coupons", coupon("spring", "OTHER")).await;
    assert_v2_error(&same_name, 409);
    assert!(
        same_name.json()[0]["message"]
            .as_str()
            .unwrap()
            .contains("name")
    );
    let same_code = api.post("/v2/coupons", coupon("Autumn", "spring10")).await;
    assert_v2_error(&same_code, 409);
    assert!(
        same_code.json()[0]["message"]
            .as_str()
            .unwrap()
            .contains("code")
    );
    // An update may keep its own name and code but not take another's.
    assert_eq!(
        api.put("/v2/coupons/1", coupon("Spring", "SPRING10"))
            .await
            .status,
        200
    );
    assert_v2_error(
        &api.put("/v2/coupons/1", coupon("Summer", "SPRING10")).await,
        409,
    );
    assert_v2_error(
        &api.put("/v2/coupons/1", coupon("Spring", "SUMMER10")).await,
        409,
    );
    assert_eq!(api.get("/v2/coupons/count").await.json()["count"], 2);
}

#[tokio::test]
async fn invalid_coupons_are_refused() {
    let api = start_seeded(SeedSpec::empty()).await;
    let with = |f: &dyn Fn(&mut Value)| {
        let mut b = coupon("Valid", "VALID");
        f(&mut b);
        b
    };
    let cases: Vec<(u16, Value)> = vec![
        (
            400,
            with(&|b| {
                b.as_object_mut().unwrap().remove("name");
            }),
        ),
        (
            400,
            with(&|b| {
                b.as_object_mut().unwrap().remove("code");
            }),
        ),
        (
            400,
            with(&|b| {
                b.as_object_mut().unwrap().remove("type");
            }),
        ),
        (
            400,
            with(&|b| {
                b.as_object_mut().unwrap().remove("amount");
            }),
        ),
        (
            400,
            with(&|b| {
                b.as_object_mut().unwrap().remove("applies_to");
            }),
        ),
        (422, with(&|b| b["name"] = json!("n".repeat(101)))),
        (422, with(&|b| b["code"] = json!("C".repeat(51)))),
        (422, with(&|b| b["code"] = json!("<script>"))),
        (422, with(&|b| b["type"] = json!("promotion"))),
        (422, with(&|b| b["type"] = json!("half_off"))),
        (422, with(&|b| b["amount"] = json!(-1))),
        (400, with(&|b| b["amount"] = json!("lots"))),
        (
            422,
            with(&|b| {
                b["type"] = json!("percentage_discount");
                b["amount"] = json!(150);
            }),
        ),
        (
            422,
            with(&|b| b["applies_to"] = json!({ "entity": "brands", "ids": [1] })),
        ),
        (
            400,
            with(&|b| b["applies_to"] = json!({ "entity": "products" })),
        ),
        (400, with(&|b| b["expires"] = json!("2040-01-01"))),
        (400, with(&|b| b["num_uses"] = json!(3))),
        (
            400,
            with(&|b| b["date_created"] = json!("Tue, 20 Nov 2012 00:00:00 +0000")),
        ),
        (400, with(&|b| b["id"] = json!(77))),
        (400, with(&|b| b["enabled"] = json!("yes"))),
        (400, json!("a string")),
    ];
    for (status, body) in cases {
        let r = api.post("/v2/coupons", body.clone()).await;
        assert_v2_error(&r, status);
        assert!(
            !r.json()[0]["message"].as_str().unwrap().is_empty(),
            "{body}"
        );
    }
    assert_eq!(
        api.get("/v2/coupons/count").await.json()["count"],
        0,
        "nothing was created"
    );
    // Names at the limits are fine; codes may hold spaces and simple punctuation.
    let ok = api
        .post(
            "/v2/coupons",
            with(&|b| {
                b["name"] = json!("n".repeat(100));
                b["code"] = json!("SAVE-10 NOW!")
            }),
        )
        .await;
    assert_eq!(ok.status, 201, "{}", ok.text);
}

#[tokio::test]
async fn delete_many_by_id_in_or_all() {
    let api = start_seeded(seeded(10)).await;
    let r = api.delete("/v2/coupons?id:in=2,4,6").await;
    assert_eq!(r.status, 204);
    let left: Vec<i64> = list_all(&api, "")
        .await
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!(left, vec![1, 3, 5, 7, 8, 9, 10]);
    assert_v2_error(&api.delete("/v2/coupons?id:in=a,b").await, 400);
    assert_eq!(api.delete("/v2/coupons").await.status, 204);
    assert_eq!(api.get("/v2/coupons").await.status, 204);
}

#[tokio::test]
async fn seeded_orders_count_coupon_uses() {
    let api = start_seeded(SeedSpec {
        seed: 5,
        coupons: 8,
        orders: 400,
        lines_per_order: 2,
        history_days: 30,
        ..SeedSpec::empty()
    })
    .await;
    let coupons = list_all(&api, "").await;
    let uses: i64 = coupons
        .iter()
        .map(|c| c["num_uses"].as_i64().unwrap())
        .sum();
    let data = api.sandbox.state.data.read();
    let applied: i64 = (1..=400)
        .map(|id| data.orders.get(id).map_or(0, |o| o.coupons.len() as i64))
        .sum();
    assert!(applied > 0);
    assert_eq!(uses, applied);
}
