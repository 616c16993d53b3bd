//! Customers over real HTTP: V3 list filters, sorts, page and cursor pagination (also
//! while records are written between pages), batch writes and their validation,
//! addresses, attributes and values, form-field values, V2 customer groups, and scopes.
#![allow(clippy::unwrap_used)]

use crate::common;

use std::collections::{HashMap, HashSet};

use bc_sandbox::{SandboxConfig, SeedSpec, TokenConfig};
use common::{Api, assert_v2_error, assert_v3_error, start, start_seeded};
use proptest::prelude::*;
use serde_json::{Value, json};

fn store(customers: usize) -> SeedSpec {
    SeedSpec {
        customers,
        addresses_per_customer: 2,
        customer_groups: 3,
        ..SeedSpec::empty()
    }
}

fn ids(resp: &common::Resp) -> Vec<i64> {
    resp.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect()
}

fn new_customer(tag: &str) -> Value {
    json!({ "email": format!("{tag}@test.example"), "first_name": "Test", "last_name": format!("Person{tag}") })
}

/// Every customer id, in id order, through the cursor.
async fn all_ids(api: &Api) -> Vec<i64> {
    let mut out = Vec::new();
    let mut path = "/v3/customers?limit=250".to_owned();
    loop {
        let r = api.get(&path).await;
        out.extend(ids(&r));
        match r.json()["meta"]["cursor_pagination"]["links"]["next"].as_str() {
            Some(next) => path = format!("/v3/customers{next}"),
            None => return out,
        }
    }
}

#[tokio::test]
async fn first_page_has_both_metas_later_pages_one_each() {
    let api = start_seeded(store(120)).await;
    let first = api.get("/v3/customers?limit=50").await;
    assert_eq!(first.status, 200);
    let meta = &first.json()["meta"];
    assert_eq!(meta["pagination"]["total"], 120);
    assert_eq!(meta["pagination"]["count"], 50);
    assert_eq!(meta["pagination"]["total_pages"], 3);
    assert_eq!(meta["pagination"]["current_page"], 1);
    let cursor = &meta["cursor_pagination"];
    assert_eq!(cursor["count"], 50);
    assert_eq!(cursor["per_page"], 50);
    let end = cursor["end_cursor"].as_str().unwrap();
    assert!(cursor["start_cursor"].is_string());
    assert!(cursor["links"]["next"].as_str().unwrap().contains("after="));
    assert!(cursor["links"].get("previous").is_none());
    assert_eq!(ids(&first), (1..=50).collect::<Vec<_>>());

    // page > 1: pagination only.
    let page2 = api.get("/v3/customers?limit=50&page=2").await;
    assert!(page2.json()["meta"].get("cursor_pagination").is_none());
    assert_eq!(page2.json()["meta"]["pagination"]["current_page"], 2);
    assert_eq!(ids(&page2), (51..=100).collect::<Vec<_>>());

    // after: cursor_pagination only, `page` ignored.
    let after = api
        .get(&format!("/v3/customers?limit=50&page=3&after={end}"))
        .await;
    assert_eq!(after.status, 200);
    assert!(after.json()["meta"].get("pagination").is_none());
    assert_eq!(ids(&after), (51..=100).collect::<Vec<_>>());
    let start_cursor = after.json()["meta"]["cursor_pagination"]["start_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        after.json()["meta"]["cursor_pagination"]["links"]["previous"]
            .as_str()
            .unwrap()
            .contains("before=")
    );

    // before: the page preceding the cursor.
    let before = api
        .get(&format!("/v3/customers?limit=50&before={start_cursor}"))
        .await;
    assert_eq!(ids(&before), (1..=50).collect::<Vec<_>>());
    assert!(before.json()["meta"].get("pagination").is_none());

    // The last page has no next link.
    let end2 = after.json()["meta"]["cursor_pagination"]["end_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let last = api
        .get(&format!("/v3/customers?limit=50&after={end2}"))
        .await;
    assert_eq!(ids(&last), (101..=120).collect::<Vec<_>>());
    assert!(
        last.json()["meta"]["cursor_pagination"]["links"]
            .get("next")
            .is_none()
    );

    let garbage = api.get("/v3/customers?after=not-a-cursor").await;
    assert_v3_error(&garbage, 400);
}

#[tokio::test]
async fn limit_over_250_is_413_and_250_is_fine() {
    let api = start_seeded(store(5)).await;
    assert_v3_error(&api.get("/v3/customers?limit=251").await, 413);
    assert_eq!(api.get("/v3/customers?limit=250").await.status, 200);
    assert_v3_error(&api.get("/v3/customers/addresses?limit=251").await, 413);
    assert_v3_error(
        &api.get("/v3/customers/form-field-values?limit=251").await,
        413,
    );
}

#[tokio::test]
async fn customer_object_has_the_documented_fields() {
    let api = start_seeded(store(3)).await;
    let r = api.get("/v3/customers?limit=1").await;
    let c = &r.json()["data"][0];
    for f in [
        "id",
        "email",
        "first_name",
        "last_name",
        "company",
        "phone",
        "registration_ip_address",
        "notes",
        "tax_exempt_category",
        "customer_group_id",
        "date_created",
        "date_modified",
        "address_count",
        "attribute_count",
        "authentication",
        "accepts_product_review_abandoned_cart_emails",
        "store_credit_amounts",
        "origin_channel_id",
        "channel_ids",
    ] {
        assert!(c.get(f).is_some(), "missing {f} in {c}");
    }
    assert!(c.get("addresses").is_none());
    assert_eq!(c["address_count"], 2);
    assert!(c["authentication"]["force_password_reset"].is_boolean());
    // V3 dates are ISO 8601.
    assert!(c["date_created"].as_str().unwrap().ends_with("+00:00"));
    // No single-customer GET in V3 (docs/api-notes.md §2.1).
    assert_v3_error(&api.get("/v3/customers/1").await, 404);
}

#[tokio::test]
async fn includes_embed_sub_resources() {
    let api = start_seeded(store(40)).await;
    let r = api
        .get("/v3/customers?include=addresses,attributes,formfields,storecredit&limit=40")
        .await;
    let data = r.json()["data"].as_array().unwrap();
    let mut saw_attr = false;
    let mut saw_form = false;
    for c in data {
        let addrs = c["addresses"].as_array().unwrap();
        assert_eq!(addrs.len(), 2);
        assert_eq!(addrs[0]["customer_id"], c["id"]);
        let attrs = c["attributes"].as_array().unwrap();
        assert_eq!(attrs.len() as u64, c["attribute_count"].as_u64().unwrap());
        saw_attr |= !attrs.is_empty();
        saw_form |= !c["form_fields"].as_array().unwrap().is_empty();
        assert!(c["store_credit_amounts"].is_array());
    }
    assert!(
        saw_attr && saw_form,
        "seed should give some customers attributes and form fields"
    );
}

#[tokio::test]
async fn list_filters() {
    let api = start_seeded(store(200)).await;
    let all = api.get("/v3/customers?limit=250").await;
    let customers = all.json()["data"].as_array().unwrap().clone();
    let pick = &customers[17];

    let r = api.get("/v3/customers?id:in=5,3,9999").await;
    assert_eq!(ids(&r), vec![3, 5]);

    let email = pick["email"].as_str().unwrap().to_uppercase();
    let r = api.get(&format!("/v3/customers?email:in={email}")).await;
    assert_eq!(ids(&r), vec![pick["id"].as_i64().unwrap()]);

    let full = format!(
        "{} {}",
        pick["first_name"].as_str().unwrap(),
        pick["last_name"].as_str().unwrap()
    );
    let want: Vec<i64> = customers
        .iter()
        .filter(|c| {
            format!(
                "{} {}",
                c["first_name"].as_str().unwrap(),
                c["last_name"].as_str().unwrap()
            ) == full
        })
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    let r = api
        .get(&format!(
            "/v3/customers?limit=250&name:in={}",
            full.replace(' ', "%20")
        ))
        .await;
    assert_eq!(ids(&r), want);

    // name:like spans first and last name joined.
    let last = pick["last_name"].as_str().unwrap();
    let first = pick["first_name"].as_str().unwrap();
    let last2: String = last.chars().take(2).collect();
    let pattern = format!("%25{}%25{}%25", &first[1..], last2);
    let r = api
        .get(&format!("/v3/customers?limit=250&name:like={pattern}"))
        .await;
    assert!(ids(&r).contains(&pick["id"].as_i64().unwrap()));
    for c in r.json()["data"].as_array().unwrap() {
        let name = format!(
            "{} {}",
            c["first_name"].as_str().unwrap(),
            c["last_name"].as_str().unwrap()
        )
        .to_lowercase();
        assert!(name.contains(&first[1..].to_lowercase()), "{name}");
    }

    let with_company = customers.iter().find(|c| c["company"] != "").unwrap();
    let company = with_company["company"].as_str().unwrap();
    let r = api
        .get(&format!(
            "/v3/customers?limit=250&company:in={}",
            company.replace(' ', "%20")
        ))
        .await;
    let got = ids(&r);
    assert!(got.contains(&with_company["id"].as_i64().unwrap()));
    assert!(
        r.json()["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["company"] == company)
    );

    let r = api
        .get("/v3/customers?limit=250&customer_group_id:in=2")
        .await;
    let n = customers
        .iter()
        .filter(|c| c["customer_group_id"] == 2)
        .count();
    assert!(n > 0);
    assert_eq!(ids(&r).len(), n);

    let phone = pick["phone"].as_str().unwrap();
    let r = api
        .get(&format!(
            "/v3/customers?phone:in={}",
            phone.replace('+', "%2B").replace(' ', "%20")
        ))
        .await;
    assert!(ids(&r).contains(&pick["id"].as_i64().unwrap()));

    // date_created:min/max, in ISO, RFC 2822 and unix forms.
    let created =
        chrono::DateTime::parse_from_rfc3339(pick["date_created"].as_str().unwrap()).unwrap();
    let expect_min: HashSet<i64> = customers
        .iter()
        .filter(|c| {
            chrono::DateTime::parse_from_rfc3339(c["date_created"].as_str().unwrap()).unwrap()
                >= created
        })
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    let iso = created.format("%Y-%m-%dT%H:%M:%S").to_string();
    let r = api
        .get(&format!("/v3/customers?limit=250&date_created:min={iso}"))
        .await;
    assert_eq!(ids(&r).into_iter().collect::<HashSet<_>>(), expect_min);
    let unix = created.timestamp();
    let r = api
        .get(&format!("/v3/customers?limit=250&date_created:min={unix}"))
        .await;
    assert_eq!(ids(&r).into_iter().collect::<HashSet<_>>(), expect_min);
    let rfc = created
        .format("%a, %d %b %Y %H:%M:%S %z")
        .to_string()
        .replace(' ', "%20")
        .replace('+', "%2B");
    let r = api
        .get(&format!("/v3/customers?limit=250&date_created:max={rfc}"))
        .await;
    let expect_max: HashSet<i64> = customers
        .iter()
        .filter(|c| {
            chrono::DateTime::parse_from_rfc3339(c["date_created"].as_str().unwrap()).unwrap()
                <= created
        })
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids(&r).into_iter().collect::<HashSet<_>>(), expect_max);
    // Exact date_created, and a bare date covering that whole day.
    let r = api
        .get(&format!("/v3/customers?limit=250&date_created={iso}"))
        .await;
    assert!(ids(&r).contains(&pick["id"].as_i64().unwrap()));
    let day = created.format("%Y-%m-%d").to_string();
    let r = api
        .get(&format!("/v3/customers?limit=250&date_created={day}"))
        .await;
    assert!(ids(&r).contains(&pick["id"].as_i64().unwrap()));

    // date_modified exact and :min/:max.
    let modified = pick["date_modified"].as_str().unwrap().replace('+', "%2B");
    let r = api
        .get(&format!("/v3/customers?limit=250&date_modified={modified}"))
        .await;
    assert!(ids(&r).contains(&pick["id"].as_i64().unwrap()));
    for c in r.json()["data"].as_array().unwrap() {
        assert_eq!(c["date_modified"], pick["date_modified"]);
    }
    let r = api
        .get(&format!(
            "/v3/customers?limit=250&date_modified:min={modified}&date_modified:max={modified}"
        ))
        .await;
    assert_eq!(
        r.json()["data"].as_array().unwrap().len(),
        ids(&api
            .get(&format!("/v3/customers?limit=250&date_modified={modified}"))
            .await)
        .len()
    );

    let with_ip = customers
        .iter()
        .find(|c| c["registration_ip_address"] != "")
        .unwrap();
    let ip = with_ip["registration_ip_address"].as_str().unwrap();
    let r = api
        .get(&format!(
            "/v3/customers?limit=250&registration_ip_address:in={ip}"
        ))
        .await;
    assert!(ids(&r).contains(&with_ip["id"].as_i64().unwrap()));
    assert!(
        r.json()["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["registration_ip_address"] == ip)
    );

    assert_v3_error(
        &api.get("/v3/customers?date_modified:min=yesterday").await,
        400,
    );
    assert_v3_error(&api.get("/v3/customers?id:in=abc").await, 400);
}

#[tokio::test]
async fn sorts_order_with_id_tiebreak() {
    let api = start_seeded(store(150)).await;
    for (sort, field, desc) in [
        ("date_created:asc", "date_created", false),
        ("date_created:desc", "date_created", true),
        ("date_modified:asc", "date_modified", false),
        ("date_modified:desc", "date_modified", true),
        ("last_name:asc", "last_name", false),
        ("last_name:desc", "last_name", true),
    ] {
        let r = api
            .get(&format!("/v3/customers?limit=250&sort={sort}"))
            .await;
        let keys: Vec<(String, i64)> = r.json()["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c[field].as_str().unwrap().to_owned(),
                    c["id"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(keys.len(), 150);
        let mut sorted = keys.clone();
        sorted.sort();
        if desc {
            sorted.reverse();
        }
        assert_eq!(keys, sorted, "sort {sort}");
    }
    assert_v3_error(&api.get("/v3/customers?sort=email:asc").await, 400);
}

#[tokio::test]
async fn cursor_walks_forward_and_back_match_the_full_order_for_every_sort() {
    let api = start_seeded(store(150)).await;
    for sort in SORTS {
        let sort_q = if sort.is_empty() {
            String::new()
        } else {
            format!("&sort={sort}")
        };
        let full = ids(&api.get(&format!("/v3/customers?limit=250{sort_q}")).await);
        assert_eq!(full.len(), 150);
        // Forward by `after`, remembering each page's metadata.
        let mut forward = Vec::new();
        let mut pages = Vec::new();
        let mut path = format!("/v3/customers?limit=11{sort_q}");
        loop {
            let r = api.get(&path).await;
            let cp = r.json()["meta"]["cursor_pagination"].clone();
            forward.extend(ids(&r));
            pages.push(ids(&r));
            assert_eq!(
                cp["links"].get("previous").is_some(),
                pages.len() > 1,
                "sort {sort:?}: {cp}"
            );
            match cp["links"]["next"].as_str() {
                Some(next) => path = format!("/v3/customers{next}"),
                None => {
                    path = format!(
                        "/v3/customers?limit=11{sort_q}&before={}",
                        cp["start_cursor"].as_str().unwrap()
                    );
                    break;
                }
            }
        }
        assert_eq!(forward, full, "forward walk, sort {sort:?}");
        // Backward by `before` from the last page: the same pages in reverse.
        pages.pop();
        loop {
            let r = api.get(&path).await;
            let cp = r.json()["meta"]["cursor_pagination"].clone();
            assert_eq!(
                ids(&r),
                pages.pop().unwrap(),
                "backward walk, sort {sort:?}"
            );
            assert!(cp["links"]["next"].is_string());
            match cp["links"]["previous"].as_str() {
                Some(prev) => path = format!("/v3/customers{prev}"),
                None => break,
            }
        }
        assert!(
            pages.is_empty(),
            "sort {sort:?}: {} pages left",
            pages.len()
        );
        // Deep page-number pages agree with the full order too.
        let r = api
            .get(&format!("/v3/customers?limit=40&page=3{sort_q}"))
            .await;
        assert_eq!(ids(&r), full[80..120].to_vec(), "page 3, sort {sort:?}");
    }
}

#[tokio::test]
async fn seeded_store_has_same_second_modifications_and_sane_dates() {
    let api = start_seeded(store(100)).await;
    let r = api.get("/v3/customers?limit=250").await;
    let mut seconds: HashMap<String, usize> = HashMap::new();
    for c in r.json()["data"].as_array().unwrap() {
        let created = c["date_created"].as_str().unwrap();
        let modified = c["date_modified"].as_str().unwrap();
        assert!(modified >= created, "{c}");
        *seconds.entry(modified.to_owned()).or_default() += 1;
    }
    assert!(
        seconds.values().filter(|n| **n >= 3).count() >= 3,
        "same-second groups expected"
    );
    // Deterministic from the seed. Dates are seeded back from the store's start, in whole
    // seconds: two stores started a second apart differ by that second everywhere, so
    // compare each date's distance from the first record's.
    let again = start_seeded(store(100)).await;
    let r2 = again.get("/v3/customers?limit=250").await;
    let strip = |v: &Value| {
        let data = v["data"].as_array().unwrap();
        let at = |c: &Value| {
            chrono::DateTime::parse_from_rfc3339(c["date_modified"].as_str().unwrap()).unwrap()
        };
        let first = at(&data[0]);
        data.iter()
            .map(|c| (c["email"].clone(), (at(c) - first).num_seconds()))
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(r.json()), strip(r2.json()));
    let counts = api.sandbox.state.data.read().counts();
    assert_eq!(counts["customers"], 100);
    assert_eq!(counts["customer_addresses"], 200);
    assert_eq!(counts["customer_groups"], 3);
    assert!(counts["customer_attributes"].as_u64().unwrap() >= 2);
    let refs = api.sandbox.state.data.read().customers.customer_refs();
    assert_eq!(refs.len(), 100);
    assert!(api.sandbox.state.data.read().customers.exists(refs[0].id));
    assert!(!api.sandbox.state.data.read().customers.exists(100_000));
}

#[tokio::test]
async fn create_returns_200_with_data_and_nested_addresses() {
    let api = start_seeded(store(2)).await;
    let r = api
        .post(
            "/v3/customers",
            json!([
                {
                    "email": "new.one@test.example",
                    "first_name": "New",
                    "last_name": "One",
                    "company": "Acme",
                    "phone": "555-0100",
                    "customer_group_id": 1,
                    "id": 999,
                    "date_created": "2001-01-01T00:00:00Z",
                    "registration_ip_address": "1.2.3.4",
                    "authentication": {"force_password_reset": true, "new_password": "s3cret-pass"},
                    "addresses": [{"first_name": "New", "last_name": "One", "address1": "1 Main St", "city": "Austin", "country_code": "US"}],
                    "form_fields": [{"name": "Source", "value": "Ad"}]
                },
                new_customer("second")
            ]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let data = r.json()["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(r.json()["meta"], json!({}));
    let c = &data[0];
    assert_eq!(
        c["id"], 3,
        "ids continue after the seeded ones; the body's id is read-only"
    );
    assert_eq!(data[1]["id"], 4);
    assert_eq!(c["registration_ip_address"], "");
    assert_ne!(c["date_created"], "2001-01-01T00:00:00+00:00");
    assert_eq!(c["origin_channel_id"], 1);
    assert_eq!(c["channel_ids"], Value::Null);
    assert_eq!(c["address_count"], 1);
    assert_eq!(c["addresses"][0]["city"], "Austin");
    assert_eq!(c["authentication"]["force_password_reset"], true);
    assert_eq!(c["customer_group_id"], 1);
    let listed = api.get("/v3/customers?id:in=3&include=formfields").await;
    assert_eq!(listed.json()["data"][0]["form_fields"][0]["value"], "Ad");
    assert_eq!(listed.json()["data"][0]["email"], "new.one@test.example");
}

#[tokio::test]
async fn batches_over_10_are_413() {
    let api = start_seeded(store(12)).await;
    let eleven: Vec<Value> = (0..11).map(|i| new_customer(&format!("b{i}"))).collect();
    assert_v3_error(&api.post("/v3/customers", Value::Array(eleven)).await, 413);
    let eleven_put: Vec<Value> = (1..=11).map(|i| json!({"id": i, "notes": "x"})).collect();
    assert_v3_error(
        &api.put("/v3/customers", Value::Array(eleven_put)).await,
        413,
    );
    let ten: Vec<Value> = (0..10).map(|i| new_customer(&format!("t{i}"))).collect();
    assert_eq!(
        api.post("/v3/customers", Value::Array(ten)).await.status,
        200
    );
}

#[tokio::test]
async fn invalid_item_rejects_whole_batch_naming_its_index() {
    let api = start_seeded(store(3)).await;
    let r = api
        .post(
            "/v3/customers",
            json!([
                new_customer("ok1"),
                new_customer("ok2"),
                {"email": "bad@test.example", "last_name": "X"},
                {"email": "x", "first_name": "", "last_name": "Y", "phone": "1".repeat(51)}
            ]),
        )
        .await;
    assert_v3_error(&r, 422);
    assert_eq!(r.json()["title"], "Create customers failed.");
    let errors = r.json()["errors"].as_object().unwrap();
    assert!(errors.contains_key("2.first_name"), "{errors:?}");
    assert!(errors.contains_key("3.email"), "{errors:?}");
    assert!(errors.contains_key("3.first_name"), "{errors:?}");
    assert!(errors.contains_key("3.phone"), "{errors:?}");
    assert!(
        !errors
            .keys()
            .any(|k| k.starts_with("0.") || k.starts_with("1."))
    );
    // Nothing was written.
    assert_eq!(all_ids(&api).await, vec![1, 2, 3]);

    let r = api
        .post("/v3/customers", json!([{"email": "a@b.c", "first_name": "A", "last_name": "B", "addresses": [{"first_name": "A"}]}]))
        .await;
    assert_v3_error(&r, 422);
    assert!(
        r.json()["errors"]
            .as_object()
            .unwrap()
            .contains_key("0.addresses.0.city"),
        "{}",
        r.text
    );
    let r = api.post("/v3/customers", json!([{"email": "a@b.c", "first_name": "A", "last_name": "B", "customer_group_id": 77}])).await;
    assert!(
        r.json()["errors"]
            .as_object()
            .unwrap()
            .contains_key("0.customer_group_id"),
        "{}",
        r.text
    );
    let r = api
        .post(
            "/v3/customers",
            json!([{"email": "a@b.c", "first_name": "A", "last_name": "B", "channel_ids": []}]),
        )
        .await;
    assert!(
        r.json()["errors"]
            .as_object()
            .unwrap()
            .contains_key("0.channel_ids"),
        "{}",
        r.text
    );
    let r = api.post("/v3/customers", json!({"email": "a@b.c"})).await;
    assert_v3_error(&r, 422);
    assert_eq!(all_ids(&api).await, vec![1, 2, 3]);
}

#[tokio::test]
async fn duplicate_email_is_422_naming_the_index_unless_channels_differ() {
    let api = start_seeded(store(3)).await;
    let existing = api.get("/v3/customers?id:in=2").await.json()["data"][0]["email"]
        .as_str()
        .unwrap()
        .to_uppercase();
    let r = api
        .post("/v3/customers", json!([new_customer("fresh"), {"email": existing, "first_name": "D", "last_name": "U"}]))
        .await;
    assert_v3_error(&r, 422);
    let errors = r.json()["errors"].as_object().unwrap();
    assert!(
        errors["1.email"]
            .as_str()
            .unwrap()
            .contains("already in use"),
        "{errors:?}"
    );
    assert!(!errors.contains_key("0.email"));

    // Duplicates inside one batch.
    let r = api
        .post(
            "/v3/customers",
            json!([new_customer("twin"), new_customer("twin")]),
        )
        .await;
    assert!(
        r.json()["errors"]
            .as_object()
            .unwrap()
            .contains_key("1.email"),
        "{}",
        r.text
    );

    // Email is unique per channel: the same address on disjoint channels is fine.
    let ch = api
        .post(
            "/v3/channels",
            json!({"name": "Second", "type": "storefront", "platform": "custom"}),
        )
        .await;
    let ch_id = ch.json()["data"]["id"].as_i64().unwrap();
    let mut a = new_customer("shared");
    a["channel_ids"] = json!([1]);
    let mut b = new_customer("SHARED");
    b["channel_ids"] = json!([ch_id]);
    assert_eq!(api.post("/v3/customers", json!([a])).await.status, 200);
    let r = api.post("/v3/customers", json!([b])).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["data"][0]["channel_ids"], json!([ch_id]));
    // ...but not on every channel (channel_ids null overlaps everything).
    let r = api
        .post("/v3/customers", json!([new_customer("shared")]))
        .await;
    assert!(
        r.json()["errors"]
            .as_object()
            .unwrap()
            .contains_key("0.email"),
        "{}",
        r.text
    );
    // An update into a taken email is refused too.
    let r = api
        .put("/v3/customers", json!([{"id": 1, "email": existing}]))
        .await;
    assert_eq!(r.json()["title"], "Update customers failed.");
    assert!(
        r.json()["errors"]
            .as_object()
            .unwrap()
            .contains_key("0.email"),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn update_changes_fields_bumps_date_modified_and_ignores_read_only() {
    let api = start_seeded(store(3)).await;
    let before = api.get("/v3/customers?id:in=2").await.json()["data"][0].clone();
    let r = api
        .put(
            "/v3/customers",
            json!([{"id": 2, "company": "Renamed Ltd", "date_created": "2000-01-01T00:00:00Z", "registration_ip_address": "9.9.9.9", "origin_channel_id": 5, "address_count": 99}]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let after = &r.json()["data"][0];
    assert_eq!(after["company"], "Renamed Ltd");
    assert_eq!(after["date_created"], before["date_created"]);
    assert_eq!(
        after["registration_ip_address"],
        before["registration_ip_address"]
    );
    assert_eq!(after["origin_channel_id"], before["origin_channel_id"]);
    assert_eq!(after["address_count"], before["address_count"]);
    assert_eq!(after["email"], before["email"]);
    assert!(after["date_modified"].as_str().unwrap() >= before["date_modified"].as_str().unwrap());
    let now = chrono::Utc::now().timestamp();
    let modified = chrono::DateTime::parse_from_rfc3339(after["date_modified"].as_str().unwrap())
        .unwrap()
        .timestamp();
    assert!((now - modified).abs() <= 5);

    let r = api
        .put(
            "/v3/customers",
            json!([{"id": 1, "notes": "ok"}, {"id": 424242, "notes": "x"}, {"notes": "no id"}]),
        )
        .await;
    assert_v3_error(&r, 422);
    let errors = r.json()["errors"].as_object().unwrap();
    assert!(
        errors.contains_key("1.id") && errors.contains_key("2.id"),
        "{errors:?}"
    );
    assert_ne!(
        api.get("/v3/customers?id:in=1").await.json()["data"][0]["notes"],
        "ok"
    );
    let r = api
        .put("/v3/customers", json!([{"id": 1, "first_name": ""}]))
        .await;
    assert!(
        r.json()["errors"]
            .as_object()
            .unwrap()
            .contains_key("0.first_name")
    );
}

#[tokio::test]
async fn delete_needs_id_in_else_noop_204() {
    let api = start_seeded(store(5)).await;
    let r = api.delete("/v3/customers").await;
    assert_eq!(r.status, 204);
    assert!(r.text.is_empty());
    assert_eq!(all_ids(&api).await.len(), 5);
    let r = api.delete("/v3/customers?id:in=2,4,999").await;
    assert_eq!(r.status, 204);
    assert_eq!(all_ids(&api).await, vec![1, 3, 5]);
    // Their addresses are gone with them; ids are never reused.
    let r = api.get("/v3/customers/addresses?customer_id:in=2,4").await;
    assert_eq!(r.json()["data"].as_array().unwrap().len(), 0);
    let r = api
        .post("/v3/customers", json!([new_customer("after-delete")]))
        .await;
    assert_eq!(r.json()["data"][0]["id"], 6);
}

#[tokio::test]
async fn read_only_token_gets_403_on_writes_and_200_on_reads_wrong_token_401() {
    let config = SandboxConfig {
        seed: store(3),
        tokens: vec![TokenConfig::parse("tok:store_v2_customers_read_only").unwrap()],
        ..SandboxConfig::default()
    };
    let api = start(config).await;
    assert_eq!(api.get("/v3/customers").await.status, 200);
    assert_eq!(api.get("/v2/customer_groups").await.status, 200);
    assert_v3_error(
        &api.post("/v3/customers", json!([new_customer("ro")])).await,
        403,
    );
    assert_v3_error(
        &api.put("/v3/customers", json!([{"id": 1, "notes": "x"}]))
            .await,
        403,
    );
    assert_v3_error(&api.delete("/v3/customers?id:in=1").await, 403);
    assert_v2_error(
        &api.call(
            reqwest::Method::POST,
            "/v2/customer_groups",
            Some(json!({"name": "X"})),
        )
        .await,
        403,
    );
    let wrong = api
        .call_with(reqwest::Method::GET, "/v3/customers", None, "nope")
        .await;
    assert_v3_error(&wrong, 401);
    assert_eq!(all_ids(&api).await.len(), 3);
}

#[tokio::test]
async fn page_pagination_by_id_sees_each_once_while_customers_are_inserted() {
    let api = start_seeded(store(60)).await;
    let mut seen = Vec::new();
    let mut page = 1;
    let mut n = 0;
    loop {
        let r = api.get(&format!("/v3/customers?limit=7&page={page}")).await;
        let got = ids(&r);
        if got.is_empty() {
            break;
        }
        seen.extend(got);
        let batch: Vec<Value> = (0..3)
            .map(|_| {
                n += 1;
                new_customer(&format!("ins{n}"))
            })
            .collect();
        if page < 10 {
            assert_eq!(
                api.post("/v3/customers", Value::Array(batch)).await.status,
                200
            );
        }
        page += 1;
    }
    let unique: HashSet<i64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "no duplicates");
    assert!(
        (1..=60).all(|id| unique.contains(&id)),
        "every original customer seen"
    );
}

#[derive(Debug, Clone)]
enum Write {
    Create(usize),
    Modify(usize),
    Nothing,
}

fn write_strategy() -> impl Strategy<Value = Write> {
    prop_oneof![
        (1usize..4).prop_map(Write::Create),
        (0usize..1000).prop_map(Write::Modify),
        Just(Write::Nothing)
    ]
}

const SORTS: &[&str] = &[
    "",
    "date_created:asc",
    "date_created:desc",
    "date_modified:asc",
    "date_modified:desc",
    "last_name:asc",
    "last_name:desc",
];

/// Walks every page by cursor, applying one write between pages. Returns the ids seen and
/// the ids that were modified.
async fn cursor_walk(
    api: &Api,
    limit: usize,
    sort: &str,
    writes: &[Write],
) -> (Vec<i64>, HashSet<i64>) {
    let original = all_ids(api).await;
    let mut seen = Vec::new();
    let mut modified = HashSet::new();
    let mut created = 0;
    let sort_q = if sort.is_empty() {
        String::new()
    } else {
        format!("&sort={sort}")
    };
    let mut path = format!("/v3/customers?limit={limit}{sort_q}");
    let mut step = 0;
    loop {
        let r = api.get(&path).await;
        assert_eq!(r.status, 200, "{}", r.text);
        seen.extend(ids(&r));
        match writes.get(step).cloned().unwrap_or(Write::Nothing) {
            Write::Create(n) => {
                let batch: Vec<Value> = (0..n)
                    .map(|_| {
                        created += 1;
                        new_customer(&format!("walk{created}"))
                    })
                    .collect();
                assert_eq!(
                    api.post("/v3/customers", Value::Array(batch)).await.status,
                    200
                );
            }
            Write::Modify(i) => {
                let id = original[i % original.len()];
                // company is in no sort key; last_name is, so only the date sorts move.
                let r = api
                    .put(
                        "/v3/customers",
                        json!([{"id": id, "company": format!("c{step}")}]),
                    )
                    .await;
                assert_eq!(r.status, 200);
                modified.insert(id);
            }
            Write::Nothing => {}
        }
        step += 1;
        match r.json()["meta"]["cursor_pagination"]["links"]["next"].as_str() {
            Some(next) => {
                let end = r.json()["meta"]["cursor_pagination"]["end_cursor"]
                    .as_str()
                    .unwrap();
                assert!(next.contains(end));
                path = format!("/v3/customers{next}");
            }
            None => break,
        }
        assert!(step < 500, "walk does not end");
    }
    (seen, modified)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn cursor_walk_sees_every_customer_exactly_once_under_writes(
        limit in 1usize..25,
        sort_index in 0usize..SORTS.len(),
        writes in proptest::collection::vec(write_strategy(), 0..30),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let api = start_seeded(store(45)).await;
            let sort = SORTS[sort_index];
            let (seen, modified) = cursor_walk(&api, limit, sort, &writes).await;
            let mut times: HashMap<i64, usize> = HashMap::new();
            for id in &seen {
                *times.entry(*id).or_default() += 1;
            }
            for id in 1..=45 {
                let n = times.get(&id).copied().unwrap_or(0);
                // A modification moves a customer to the newest end of a date_modified
                // sort: ascending, it may be seen again; descending, it may jump behind
                // the walk. Every other customer is seen exactly once.
                if sort == "date_modified:asc" && modified.contains(&id) {
                    assert!((1..=2).contains(&n), "customer {id} seen {n} times (sort {sort:?})");
                } else if sort == "date_modified:desc" && modified.contains(&id) {
                    assert!(n <= 1, "customer {id} seen {n} times (sort {sort:?})");
                } else {
                    assert_eq!(n, 1, "customer {id} seen {n} times (sort {sort:?}, limit {limit})");
                }
            }
            assert!(times.values().all(|n| *n <= 2));
        });
    }
}

#[tokio::test]
async fn incremental_bookmark_with_same_second_modifications() {
    let api = start_seeded(store(80)).await;
    // Find a second shared by several customers and resume from it by cursor.
    let all = api
        .get("/v3/customers?limit=250&sort=date_modified:asc")
        .await;
    let data = all.json()["data"].as_array().unwrap().clone();
    let mut by_second: HashMap<String, Vec<i64>> = HashMap::new();
    for c in &data {
        by_second
            .entry(c["date_modified"].as_str().unwrap().to_owned())
            .or_default()
            .push(c["id"].as_i64().unwrap());
    }
    let (second, group) = by_second.iter().find(|(_, v)| v.len() >= 3).unwrap();
    let q = second.replace('+', "%2B");
    let first = api
        .get(&format!(
            "/v3/customers?limit=1&sort=date_modified:asc&date_modified:min={q}"
        ))
        .await;
    assert_eq!(ids(&first), vec![group[0]]);
    let after = first.json()["meta"]["cursor_pagination"]["end_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let next = api
        .get(&format!(
            "/v3/customers?limit=2&sort=date_modified:asc&date_modified:min={q}&after={after}"
        ))
        .await;
    assert_eq!(ids(&next), group[1..3].to_vec());
}

#[tokio::test]
async fn addresses_crud_filters_and_duplicates() {
    let api = start_seeded(store(10)).await;
    let r = api.get("/v3/customers/addresses?customer_id:in=3,1").await;
    assert_eq!(r.status, 200);
    let addrs = r.json()["data"].as_array().unwrap().clone();
    assert_eq!(addrs.len(), 4);
    assert!(
        addrs
            .windows(2)
            .all(|w| w[0]["id"].as_i64() < w[1]["id"].as_i64())
    );
    assert_eq!(r.json()["meta"]["pagination"]["total"], 4);
    let a0 = addrs[0].clone();
    for f in [
        "id",
        "customer_id",
        "first_name",
        "last_name",
        "company",
        "address1",
        "address2",
        "city",
        "state_or_province",
        "postal_code",
        "country",
        "country_code",
        "phone",
        "address_type",
    ] {
        assert!(a0.get(f).is_some(), "missing {f}");
    }

    let r = api
        .get(&format!("/v3/customers/addresses?id:in={}", a0["id"]))
        .await;
    assert_eq!(r.json()["data"].as_array().unwrap().len(), 1);
    let name = format!(
        "{} {}",
        a0["first_name"].as_str().unwrap(),
        a0["last_name"].as_str().unwrap()
    );
    let r = api
        .get(&format!(
            "/v3/customers/addresses?limit=250&name:in={}",
            name.replace(' ', "%20")
        ))
        .await;
    assert!(
        r.json()["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == a0["id"])
    );
    let r = api
        .get("/v3/customers/addresses?limit=250&company:in=nobody-has-this")
        .await;
    assert_eq!(r.json()["data"].as_array().unwrap().len(), 0);
    let r = api
        .get("/v3/customers/addresses?customer_id:in=1&include=formfields")
        .await;
    assert!(r.json()["data"][0]["form_fields"].is_array());

    let customer_before = api.get("/v3/customers?id:in=2").await.json()["data"][0].clone();
    let new = json!({"customer_id": 2, "first_name": "Ann", "last_name": "Lee", "company": "Initech", "address1": "5 Side St", "city": "Austin", "state_or_province": "Texas", "postal_code": "78701", "country_code": "US"});
    let r = api
        .post("/v3/customers/addresses", json!([new.clone()]))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let created = r.json()["data"][0].clone();
    assert_eq!(created["country"], "United States");
    assert_eq!(created["address_type"], "residential");
    // An exact duplicate is silently left out.
    let r = api
        .post("/v3/customers/addresses", json!([new.clone()]))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["data"].as_array().unwrap().len(), 0);
    let r = api
        .get("/v3/customers/addresses?company:in=Initech&customer_id:in=2")
        .await;
    assert_eq!(r.json()["data"].as_array().unwrap().len(), 1);
    // Address writes leave the customer's date_modified alone (docs/api-notes.md §9.3).
    let customer_after = api.get("/v3/customers?id:in=2").await.json()["data"][0].clone();
    assert_eq!(
        customer_after["date_modified"],
        customer_before["date_modified"]
    );
    assert_eq!(customer_after["address_count"], 3);

    let mut missing = new.clone();
    missing.as_object_mut().unwrap().remove("postal_code");
    missing["customer_id"] = json!(9999);
    let r = api
        .post("/v3/customers/addresses", json!([new.clone(), missing]))
        .await;
    assert_v3_error(&r, 422);
    let errors = r.json()["errors"].as_object().unwrap();
    assert!(
        errors.contains_key("1.postal_code") && errors.contains_key("1.customer_id"),
        "{errors:?}"
    );
    let eleven: Vec<Value> = (0..11).map(|_| new.clone()).collect();
    assert_v3_error(
        &api.post("/v3/customers/addresses", Value::Array(eleven))
            .await,
        413,
    );

    let r = api
        .put(
            "/v3/customers/addresses",
            json!([{"id": created["id"], "city": "Dallas"}]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["data"][0]["city"], "Dallas");
    let r = api
        .put(
            "/v3/customers/addresses",
            json!([{"id": 999_999, "city": "Dallas"}]),
        )
        .await;
    assert!(r.json()["errors"].as_object().unwrap().contains_key("0.id"));

    assert_v3_error(&api.delete("/v3/customers/addresses").await, 422);
    let r = api
        .delete(&format!("/v3/customers/addresses?id:in={}", created["id"]))
        .await;
    assert_eq!(r.status, 204);
    let r = api.get("/v3/customers?id:in=2").await;
    assert_eq!(r.json()["data"][0]["address_count"], 2);
}

#[tokio::test]
async fn attributes_and_values() {
    let api = start_seeded(store(15)).await;
    let seeded = api.get("/v3/customers/attributes").await;
    let n_seeded = seeded.json()["data"].as_array().unwrap().len();
    assert!(n_seeded >= 2);
    let r = api.post("/v3/customers/attributes", json!([{"name": "Shoe size", "type": "number"}, {"name": "Anniversary", "type": "date"}])).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let size_id = r.json()["data"][0]["id"].as_i64().unwrap();
    let date_id = r.json()["data"][1]["id"].as_i64().unwrap();
    assert_eq!(r.json()["data"][0]["type"], "number");
    let r = api.get("/v3/customers/attributes?type=date").await;
    assert!(
        r.json()["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["type"] == "date")
    );
    let r = api.get("/v3/customers/attributes?name=shoe%20size").await;
    assert_eq!(ids(&r), vec![size_id]);
    let r = api.get("/v3/customers/attributes?name:like=shoe").await;
    assert_eq!(ids(&r), vec![size_id]);
    let r = api
        .get(&format!(
            "/v3/customers/attributes?id:in={date_id},{size_id}"
        ))
        .await;
    assert_eq!(ids(&r), vec![size_id, date_id]);
    let r = api
        .get("/v3/customers/attributes?date_created:min=2999-01-01")
        .await;
    assert_eq!(ids(&r), Vec::<i64>::new());
    let r = api
        .post(
            "/v3/customers/attributes",
            json!([{"name": "Shoe Size", "type": "string"}, {"name": "Bad", "type": "color"}]),
        )
        .await;
    assert_v3_error(&r, 422);
    let errors = r.json()["errors"].as_object().unwrap();
    assert!(
        errors.contains_key("0.name") && errors.contains_key("1.type"),
        "{errors:?}"
    );

    // Values: upsert, type checks, filters, include=attributes.
    let r = api
        .put(
            "/v3/customers/attribute-values",
            json!([{"attribute_id": size_id, "customer_id": 1, "value": "42"}, {"attribute_id": date_id, "customer_id": 1, "value": "2020-02-02"}]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let value_id = r.json()["data"][0]["id"].as_i64().unwrap();
    let r = api
        .put(
            "/v3/customers/attribute-values",
            json!([{"attribute_id": size_id, "customer_id": 1, "value": "43"}]),
        )
        .await;
    assert_eq!(
        r.json()["data"][0]["id"],
        value_id,
        "upsert keeps the value's id"
    );
    let r = api
        .put(
            "/v3/customers/attribute-values",
            json!([{"attribute_id": size_id, "customer_id": 2, "value": "7"}, {"attribute_id": size_id, "customer_id": 2, "value": "big"}, {"attribute_id": date_id, "customer_id": 2, "value": "someday"}]),
        )
        .await;
    assert_v3_error(&r, 422);
    let errors = r.json()["errors"].as_object().unwrap();
    assert!(
        errors.contains_key("1.value")
            && errors.contains_key("2.value")
            && !errors.contains_key("0.value"),
        "{errors:?}"
    );
    let eleven: Vec<Value> = (1..=11)
        .map(|c| json!({"attribute_id": size_id, "customer_id": c, "value": "1"}))
        .collect();
    assert_v3_error(
        &api.put("/v3/customers/attribute-values", Value::Array(eleven))
            .await,
        413,
    );

    let r = api
        .get(&format!(
            "/v3/customers/attribute-values?customer_id:in=1&attribute_id:in={size_id}"
        ))
        .await;
    let data = r.json()["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["value"], "43");
    let r = api
        .get(&format!(
            "/v3/customers/attribute-values?attribute_id:in={date_id}"
        ))
        .await;
    assert_eq!(r.json()["data"].as_array().unwrap().len(), 1);
    let r = api.get("/v3/customers?id:in=1&include=attributes").await;
    let c = &r.json()["data"][0];
    assert!(
        c["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["attribute_id"] == size_id && a["attribute_value"] == "43")
    );
    assert_eq!(
        c["attribute_count"].as_u64().unwrap() as usize,
        c["attributes"].as_array().unwrap().len()
    );

    // Rename; delete cascades to values.
    let r = api
        .put(
            "/v3/customers/attributes",
            json!([{"id": size_id, "name": "Shoe size (EU)"}]),
        )
        .await;
    assert_eq!(r.json()["data"][0]["name"], "Shoe size (EU)");
    assert_eq!(
        api.delete(&format!("/v3/customers/attributes?id:in={size_id}"))
            .await
            .status,
        204
    );
    let r = api
        .get(&format!(
            "/v3/customers/attribute-values?attribute_id:in={size_id}"
        ))
        .await;
    assert_eq!(r.json()["data"].as_array().unwrap().len(), 0);
    assert_eq!(
        api.delete("/v3/customers/attribute-values?id:in=1")
            .await
            .status,
        204
    );

    // At most 50 attributes per store.
    let have = api.get("/v3/customers/attributes").await.json()["meta"]["pagination"]["total"]
        .as_u64()
        .unwrap() as usize;
    let mut made = have;
    while made < 50 {
        let chunk: Vec<Value> = (made..(made + 10).min(50))
            .map(|i| json!({"name": format!("Attr {i}"), "type": "string"}))
            .collect();
        made += chunk.len();
        assert_eq!(
            api.post("/v3/customers/attributes", Value::Array(chunk))
                .await
                .status,
            200
        );
    }
    let r = api
        .post(
            "/v3/customers/attributes",
            json!([{"name": "One too many", "type": "string"}]),
        )
        .await;
    assert_v3_error(&r, 422);
    assert!(
        r.json()["errors"]
            .as_object()
            .unwrap()
            .contains_key("0.name")
    );
}

#[tokio::test]
async fn form_field_values_page_by_cursor() {
    let api = start_seeded(store(80)).await;
    let first = api.get("/v3/customers/form-field-values?limit=3").await;
    assert_eq!(first.status, 200);
    let meta = &first.json()["meta"];
    assert!(meta.get("pagination").is_some() && meta.get("cursor_pagination").is_some());
    let total = meta["pagination"]["total"].as_u64().unwrap() as usize;
    assert!(total >= 3, "seed gives some form fields");
    let mut rows: Vec<Value> = first.json()["data"].as_array().unwrap().clone();
    let mut next = meta["cursor_pagination"]["links"]["next"]
        .as_str()
        .map(str::to_owned);
    while let Some(n) = next {
        let r = api
            .get(&format!("/v3/customers/form-field-values{n}"))
            .await;
        assert!(r.json()["meta"].get("pagination").is_none());
        rows.extend(r.json()["data"].as_array().unwrap().iter().cloned());
        next = r.json()["meta"]["cursor_pagination"]["links"]["next"]
            .as_str()
            .map(str::to_owned);
    }
    assert_eq!(rows.len(), total);
    assert!(
        rows.iter()
            .all(|r| r["name"].is_string() && r["customer_id"].is_i64())
    );
    let r = api.get("/v3/customers/form-field-values?limit=250&field_name=How%20did%20you%20hear%20about%20us%3F").await;
    assert_eq!(r.json()["data"].as_array().unwrap().len(), total);
    let r = api
        .get("/v3/customers/form-field-values?field_name=Nope")
        .await;
    assert_eq!(r.json()["data"], json!([]));
    let cid = rows[0]["customer_id"].as_i64().unwrap();
    let r = api
        .get(&format!(
            "/v3/customers/form-field-values?customer_id={cid}"
        ))
        .await;
    assert!(
        r.json()["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["customer_id"] == cid)
    );
    let empty = start_seeded(SeedSpec::empty()).await;
    let r = empty.get("/v3/customers/form-field-values").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["data"], json!([]));
}

#[tokio::test]
async fn customer_groups_v2() {
    let api = start_seeded(store(30)).await;
    let r = api.get("/v2/customer_groups").await;
    assert_eq!(r.status, 200);
    let groups = r.json().as_array().unwrap().clone();
    assert_eq!(groups.len(), 3);
    let g = &groups[0];
    for f in [
        "id",
        "name",
        "is_default",
        "category_access",
        "discount_rules",
        "is_group_for_guests",
        "date_created",
        "date_modified",
    ] {
        assert!(g.get(f).is_some(), "missing {f}");
    }
    assert!(
        g["date_created"].as_str().unwrap().ends_with("+0000"),
        "RFC 2822: {}",
        g["date_created"]
    );
    assert_eq!(
        api.get("/v2/customer_groups/count").await.json()["count"],
        3
    );

    assert_eq!(
        api.get("/v2/customer_groups?name=retail")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        api.get("/v2/customer_groups?name:like=sale").await.json()[0]["name"],
        "Wholesale"
    );
    let r = api.get("/v2/customer_groups?is_default=true").await;
    assert_eq!(r.json().as_array().unwrap().len(), 1);
    let r = api
        .get("/v2/customer_groups?date_created:min=2999-01-01")
        .await;
    assert_eq!(r.status, 204);
    assert!(r.text.is_empty());
    let r = api
        .get("/v2/customer_groups?date_modified:max=2999-01-01T00:00:00")
        .await;
    assert_eq!(r.json().as_array().unwrap().len(), 3);
    let r = api.get("/v2/customer_groups?page=2&limit=2").await;
    assert_eq!(r.json().as_array().unwrap().len(), 1);
    assert_eq!(api.get("/v2/customer_groups?page=5").await.status, 204);
    assert_v2_error(&api.get("/v2/customer_groups?limit=251").await, 413);

    let r = api.post("/v2/customer_groups", json!({"name": "Gold", "category_access": {"type": "specific", "categories": [1, 2]}, "discount_rules": [{"type": "all", "method": "percent", "amount": "5"}]})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json()["id"].as_i64().unwrap();
    assert_eq!(r.json()["category_access"]["categories"], json!([1, 2]));
    assert_v2_error(
        &api.post("/v2/customer_groups", json!({"name": "gold"}))
            .await,
        409,
    );
    assert_v2_error(
        &api.post("/v2/customer_groups", json!({"is_default": true}))
            .await,
        400,
    );

    let r = api.get(&format!("/v2/customer_groups/{id}")).await;
    assert_eq!(r.json()["name"], "Gold");
    // At most one group for guests.
    let r = api
        .post(
            "/v2/customer_groups",
            json!({"name": "Guests", "is_group_for_guests": true}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let guests = api
        .get("/v2/customer_groups?is_group_for_guests=true")
        .await;
    assert_eq!(guests.json().as_array().unwrap().len(), 1);
    assert_eq!(guests.json()[0]["name"], "Guests");
    assert_v2_error(
        &api.post(
            "/v2/customer_groups",
            json!({"name": "Guests 2", "is_group_for_guests": true}),
        )
        .await,
        409,
    );
    let guest_id = r.json()["id"].as_i64().unwrap();
    assert_eq!(
        api.delete(&format!("/v2/customer_groups/{guest_id}"))
            .await
            .status,
        204
    );
    let r = api
        .put(
            &format!("/v2/customer_groups/{id}"),
            json!({"name": "Platinum", "discount_rules": []}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["name"], "Platinum");
    assert_eq!(r.json()["discount_rules"], json!([]));

    assert_v2_error(&api.get("/v2/customer_groups/9999").await, 404);
    assert_v2_error(
        &api.put("/v2/customer_groups/9999", json!({"name": "x"}))
            .await,
        404,
    );
    assert_v2_error(&api.delete("/v2/customer_groups/9999").await, 404);
    assert_v2_error(&api.get("/v2/customer_groups/abc").await, 404);

    // Deleting a group unassigns its customers.
    let members = ids(&api
        .get("/v3/customers?limit=250&customer_group_id:in=1")
        .await);
    assert!(!members.is_empty());
    assert_eq!(api.delete("/v2/customer_groups/1").await.status, 204);
    let r = api
        .get(&format!(
            "/v3/customers?limit=250&id:in={}",
            members
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",")
        ))
        .await;
    assert!(
        r.json()["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["customer_group_id"] == 0)
    );
    assert_eq!(
        api.get("/v2/customer_groups/count").await.json()["count"],
        3
    );
}
