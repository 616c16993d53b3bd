//! Customers V2 over real HTTP (docs/api-notes.md §2.6): the filters, paging by
//! `min_date_modified` windows and by count-then-pages as older clients do, addresses,
//! create/update/delete seen by V3 and V3 writes seen by V2, RFC 2822 dates, string money,
//! V2 errors, and the same webhooks as V3 writes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::BTreeSet;

use bc_sandbox::SeedSpec;
use chrono::{DateTime, Duration, Utc};
use common::{Api, assert_v2_error, ids_of, start_seeded};
use serde_json::{Value, json};

fn seeded() -> SeedSpec {
    SeedSpec {
        seed: 11,
        customers: 60,
        addresses_per_customer: 2,
        customer_groups: 3,
        history_days: 90,
        ..SeedSpec::empty()
    }
}

fn rfc2822(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc2822(v.as_str().unwrap())
        .unwrap_or_else(|e| panic!("{v} is not RFC 2822: {e}"))
        .with_timezone(&Utc)
}

/// Every page of `query` until the 204, as a client does.
async fn pages(api: &Api, query: &str, limit: usize) -> Vec<Value> {
    let mut out = Vec::new();
    for page in 1.. {
        let r = api
            .get(&format!("/v2/customers?{query}&limit={limit}&page={page}"))
            .await;
        if r.status == 204 {
            assert!(r.text.is_empty(), "a 204 has no body");
            break;
        }
        assert_eq!(r.status, 200, "{}", r.text);
        let items = r.json().as_array().unwrap().clone();
        assert!(items.len() <= limit);
        out.extend(items);
    }
    out
}

fn enc(s: &str) -> String {
    s.replace('+', "%2B")
        .replace(' ', "%20")
        .replace(':', "%3A")
        .replace(',', "%2C")
}

#[tokio::test]
async fn lists_in_v2_shape_with_rfc2822_dates_and_string_money() {
    let api = start_seeded(seeded()).await;
    let r = api.get("/v2/customers?limit=5").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let list = r.json().as_array().unwrap();
    assert_eq!(list.len(), 5);
    let c = &list[0];
    assert!(c.get("data").is_none(), "V2 lists are bare arrays");
    rfc2822(&c["date_created"]);
    rfc2822(&c["date_modified"]);
    assert!(c["store_credit"].as_str().unwrap().contains('.'));
    let id = c["id"].as_i64().unwrap();
    assert_eq!(
        c["addresses"]["resource"],
        format!("/customers/{id}/addresses")
    );
    // Same record as V3: same id, email, and the same instant in the other format.
    let v3 = api.get(&format!("/v3/customers?id:in={id}")).await;
    let v3c = &v3.json()["data"][0];
    assert_eq!(v3c["email"], c["email"]);
    let iso = DateTime::parse_from_rfc3339(v3c["date_modified"].as_str().unwrap()).unwrap();
    assert_eq!(iso.with_timezone(&Utc), rfc2822(&c["date_modified"]));

    let one = api.get(&format!("/v2/customers/{id}")).await;
    assert_eq!(one.status, 200);
    assert_eq!(one.json()["email"], c["email"]);
    assert_v2_error(&api.get("/v2/customers/999999").await, 404);
    assert_v2_error(&api.get("/v2/customers/abc").await, 404);
    assert_v2_error(&api.get("/v2/customers?limit=251").await, 413);
}

#[tokio::test]
async fn filters_by_id_email_company_group_and_dates() {
    let api = start_seeded(seeded()).await;
    let all = pages(&api, "", 250).await;
    assert_eq!(all.len(), 60);
    let r = api.get("/v2/customers?min_id=10&max_id=19&limit=250").await;
    assert_eq!(ids_of(r.json()), (10..=19).collect::<Vec<_>>());

    let target = &all[7];
    let email = target["email"].as_str().unwrap().to_uppercase();
    let r = api
        .get(&format!("/v2/customers?email={}", enc(&email)))
        .await;
    assert_eq!(ids_of(r.json()), vec![target["id"].as_i64().unwrap()]);

    let with_company = all
        .iter()
        .find(|c| !c["company"].as_str().unwrap().is_empty());
    if let Some(c) = with_company {
        let company = c["company"].as_str().unwrap();
        let r = api
            .get(&format!("/v2/customers?company={}&limit=250", enc(company)))
            .await;
        assert!(ids_of(r.json()).contains(&c["id"].as_i64().unwrap()));
        assert!(
            r.json()
                .as_array()
                .unwrap()
                .iter()
                .all(|x| x["company"].as_str().unwrap().eq_ignore_ascii_case(company))
        );
    }

    let grouped: Vec<i64> = all
        .iter()
        .filter(|c| c["customer_group_id"] == all[0]["customer_group_id"])
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    let group = all[0]["customer_group_id"].as_i64().unwrap();
    let got: Vec<i64> = pages(&api, &format!("customer_group_id={group}"), 250)
        .await
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!(got, grouped);

    // Date filters take RFC 2822 and ISO 8601 alike; bounds are inclusive.
    let pivot = rfc2822(&all[30]["date_created"]);
    let want: Vec<i64> = all
        .iter()
        .filter(|c| rfc2822(&c["date_created"]) >= pivot)
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    let as_rfc = pivot.format("%a, %d %b %Y %H:%M:%S +0000").to_string();
    let as_iso = pivot.format("%Y-%m-%dT%H:%M:%S+00:00").to_string();
    for form in [as_rfc, as_iso] {
        let got: Vec<i64> = pages(&api, &format!("min_date_created={}", enc(&form)), 250)
            .await
            .iter()
            .map(|c| c["id"].as_i64().unwrap())
            .collect();
        assert_eq!(got, want, "min_date_created={form}");
    }
    let r = api.get("/v2/customers?max_date_modified=not-a-date").await;
    assert_v2_error(&r, 400);
}

#[tokio::test]
async fn min_date_modified_windows_and_count_then_pages_cover_every_customer_once() {
    let api = start_seeded(seeded()).await;
    let total = api.get("/v2/customers/count").await;
    assert_eq!(total.status, 200);
    assert_eq!(total.json()["count"], 60);

    // Count, then exactly that many pages.
    let limit = 7;
    let n = total.json()["count"].as_u64().unwrap() as usize;
    let mut seen = Vec::new();
    for page in 1..=n.div_ceil(limit) {
        let r = api
            .get(&format!("/v2/customers?limit={limit}&page={page}"))
            .await;
        assert_eq!(r.status, 200);
        seen.extend(ids_of(r.json()));
    }
    assert_eq!(seen.len(), n);
    let past = api
        .get(&format!(
            "/v2/customers?limit={limit}&page={}",
            n.div_ceil(limit) + 1
        ))
        .await;
    assert_eq!(past.status, 204);

    // Windows of min/max_date_modified, each paged to its 204 and counted first.
    let all = pages(&api, "", 250).await;
    let oldest = all
        .iter()
        .map(|c| rfc2822(&c["date_modified"]))
        .min()
        .unwrap();
    let now = Utc::now() + Duration::seconds(5);
    let mut start = oldest - Duration::days(3);
    let mut union = BTreeSet::new();
    let mut visits = 0;
    while start < now {
        let end = start + Duration::days(10) - Duration::seconds(1);
        let q = format!(
            "min_date_modified={}&max_date_modified={}",
            enc(&start.format("%a, %d %b %Y %H:%M:%S +0000").to_string()),
            enc(&end.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()),
        );
        let count = api.get(&format!("/v2/customers/count?{q}")).await;
        let window = pages(&api, &q, 5).await;
        assert_eq!(count.json()["count"], window.len(), "{q}");
        for c in &window {
            let m = rfc2822(&c["date_modified"]);
            assert!(m >= start && m <= end, "{m} outside {start}..{end}");
            union.insert(c["id"].as_i64().unwrap());
        }
        visits += window.len();
        start = end + Duration::seconds(1);
    }
    assert_eq!(visits, 60, "windows do not overlap");
    assert_eq!(union.len(), 60, "windows cover every customer");
}

#[tokio::test]
async fn writes_through_v2_are_v3_records_and_fire_the_same_webhooks() {
    let api = start_seeded(seeded()).await;
    let r = api
        .post(
            "/v2/customers",
            json!({
                "first_name": "Ada",
                "last_name": "Lovelace",
                "email": "ada@example.com",
                "company": "Engines",
                "store_credit": "12.50",
                "unknown_field": "ignored"
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let id = r.json()["id"].as_i64().unwrap();
    assert_eq!(r.json()["store_credit"], "12.5000");
    rfc2822(&r.json()["date_created"]);

    let v3 = api.get(&format!("/v3/customers?id:in={id}")).await;
    assert_eq!(v3.json()["data"][0]["email"], "ada@example.com");
    assert_eq!(
        v3.json()["data"][0]["store_credit_amounts"][0]["amount"],
        12.5
    );

    // Email unique per channel, as V3: a V2 error shape.
    let dup = api
        .post(
            "/v2/customers",
            json!({"first_name": "A", "last_name": "B", "email": "ADA@example.com"}),
        )
        .await;
    assert_v2_error(&dup, 422);
    assert!(dup.text.contains("email"), "{}", dup.text);
    assert_v2_error(
        &api.post("/v2/customers", json!({"first_name": "A"})).await,
        422,
    );

    let before = rfc2822(&r.json()["date_modified"]);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let u = api
        .put(
            &format!("/v2/customers/{id}"),
            json!({"company": "Analytical"}),
        )
        .await;
    assert_eq!(u.status, 200, "{}", u.text);
    assert_eq!(u.json()["company"], "Analytical");
    assert!(rfc2822(&u.json()["date_modified"]) > before);
    let v3 = api.get(&format!("/v3/customers?id:in={id}")).await;
    assert_eq!(v3.json()["data"][0]["company"], "Analytical");

    // V3 writes show in V2.
    let w = api
        .put("/v3/customers", json!([{"id": id, "last_name": "Byron"}]))
        .await;
    assert_eq!(w.status, 200, "{}", w.text);
    let v2 = api.get(&format!("/v2/customers/{id}")).await;
    assert_eq!(v2.json()["last_name"], "Byron");

    assert_v2_error(
        &api.put("/v2/customers/999999", json!({"company": "x"}))
            .await,
        404,
    );
    let d = api.delete(&format!("/v2/customers/{id}")).await;
    assert_eq!(d.status, 204);
    let gone = api.get(&format!("/v3/customers?id:in={id}")).await;
    assert_eq!(gone.json()["data"], json!([]));
    assert_v2_error(&api.delete(&format!("/v2/customers/{id}")).await, 404);

    let events = api.events().await;
    let scopes: Vec<&str> = events
        .iter()
        .filter(|e| e["data"]["id"] == id)
        .map(|e| e["scope"].as_str().unwrap())
        .collect();
    assert_eq!(
        scopes,
        vec![
            "store/customer/created",
            "store/customer/updated",
            "store/customer/updated",
            "store/customer/deleted"
        ],
        "{events:?}"
    );
}

#[tokio::test]
async fn addresses_list_count_get_create_update_delete() {
    let api = start_seeded(seeded()).await;
    let id = 5;
    let list = api.get(&format!("/v2/customers/{id}/addresses")).await;
    assert_eq!(list.status, 200, "{}", list.text);
    let before = list.json().as_array().unwrap().len();
    let count = api
        .get(&format!("/v2/customers/{id}/addresses/count"))
        .await;
    assert_eq!(count.json()["count"], before);
    let first = &list.json()[0];
    assert!(first["street_1"].is_string() && first["zip"].is_string());
    assert!(first["country_iso2"].as_str().unwrap().len() == 2);

    let new = json!({
        "first_name": "Ada",
        "last_name": "Lovelace",
        "phone": "555-0100",
        "street_1": "12 Analytical Way",
        "city": "London",
        "state": "Greater London",
        "zip": "N1 1AA",
        "country": "United Kingdom"
    });
    let c = api
        .post(&format!("/v2/customers/{id}/addresses"), new.clone())
        .await;
    assert_eq!(c.status, 200, "{}", c.text);
    assert_eq!(c.json()["country_iso2"], "GB");
    let aid = c.json()["id"].as_i64().unwrap();
    // The same record through V3.
    let v3 = api
        .get(&format!("/v3/customers/addresses?id:in={aid}"))
        .await;
    assert_eq!(v3.json()["data"][0]["address1"], "12 Analytical Way");
    assert_eq!(v3.json()["data"][0]["customer_id"], id);
    // An exact duplicate, and missing V2-required fields.
    assert_v2_error(
        &api.post(&format!("/v2/customers/{id}/addresses"), new)
            .await,
        409,
    );
    assert_v2_error(
        &api.post(
            &format!("/v2/customers/{id}/addresses"),
            json!({"first_name": "A", "last_name": "B", "street_1": "x", "city": "y"}),
        )
        .await,
        422,
    );

    let u = api
        .put(
            &format!("/v2/customers/{id}/addresses/{aid}"),
            json!({"street_2": "Flat 3"}),
        )
        .await;
    assert_eq!(u.status, 200, "{}", u.text);
    assert_eq!(u.json()["street_2"], "Flat 3");
    let g = api
        .get(&format!("/v2/customers/{id}/addresses/{aid}"))
        .await;
    assert_eq!(g.json()["street_2"], "Flat 3");
    // An address of another customer is not found under this one.
    assert_v2_error(
        &api.get(&format!("/v2/customers/6/addresses/{aid}")).await,
        404,
    );

    let d = api
        .delete(&format!("/v2/customers/{id}/addresses/{aid}"))
        .await;
    assert_eq!(d.status, 204);
    let count = api
        .get(&format!("/v2/customers/{id}/addresses/count"))
        .await;
    assert_eq!(count.json()["count"], before);

    // A customer without addresses: 204 with no body.
    let bare = api
        .post(
            "/v2/customers",
            json!({"first_name": "No", "last_name": "Address", "email": "none@example.com"}),
        )
        .await;
    let bare_id = bare.json()["id"].as_i64().unwrap();
    let empty = api.get(&format!("/v2/customers/{bare_id}/addresses")).await;
    assert_eq!(empty.status, 204);
    assert!(empty.text.is_empty());
}
