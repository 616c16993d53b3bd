//! V3 newsletter subscribers over real HTTP (docs/api-notes.md §2.4): seeded list, filters
//! (email, id:in, date ranges), create with consents, 409 on a duplicate email, update,
//! delete by id and by filter, delete-all without a filter, and the `store/subscriber/*`
//! events of each write.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use bc_sandbox::SeedSpec;
use common::{assert_v3_error, data_ids, start_seeded};
use serde_json::json;

fn store() -> SeedSpec {
    SeedSpec {
        seed: 5,
        customers: 50,
        ..SeedSpec::empty()
    }
}

#[tokio::test]
async fn seeded_list_pages_and_filters() {
    let api = start_seeded(store()).await;
    let r = api.get("/v3/customers/subscribers?limit=4").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let b = r.json();
    assert_eq!(b["meta"]["pagination"]["total"], 10);
    assert_eq!(data_ids(b), vec![1, 2, 3, 4]);
    let first = &b["data"][0];
    for f in [
        "email",
        "first_name",
        "last_name",
        "source",
        "channel_id",
        "consents",
        "date_created",
        "date_modified",
    ] {
        assert!(first.get(f).is_some(), "{f} missing: {first}");
    }

    let email = first["email"].as_str().unwrap();
    let r = api
        .get(&format!("/v3/customers/subscribers?email={email}"))
        .await;
    assert_eq!(data_ids(r.json()), vec![1]);

    let r = api.get("/v3/customers/subscribers?id:in=2,5,99").await;
    assert_eq!(data_ids(r.json()), vec![2, 5]);

    // A modified-since window keeps exactly the records at or after it.
    let all = api.get("/v3/customers/subscribers?limit=250").await;
    let mut dates: Vec<String> = all.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["date_modified"].as_str().unwrap().to_owned())
        .collect();
    dates.sort();
    let pivot = dates[5].clone();
    let r = api
        .get(&format!(
            "/v3/customers/subscribers?limit=250&date_modified:min={}",
            pivot.replace('+', "%2B")
        ))
        .await;
    let got = r.json()["data"].as_array().unwrap().len();
    assert_eq!(got, dates.iter().filter(|d| **d >= pivot).count());
    assert!(
        r.json()["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["date_modified"].as_str().unwrap() >= pivot.as_str())
    );

    let r = api.get("/v3/customers/subscribers?limit=251").await;
    assert_v3_error(&r, 413);
}

#[tokio::test]
async fn create_update_delete_with_events() {
    let api = start_seeded(SeedSpec::empty()).await;
    let r = api
        .post(
            "/v3/customers/subscribers",
            json!({"email": "ann@example.com", "first_name": "Ann", "source": "storefront",
                   "consents": ["marketing_newsletter", "abandoned_cart"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let s = r.json()["data"].clone();
    let id = s["id"].as_i64().unwrap();
    assert_eq!(s["channel_id"], 1);
    assert_eq!(
        s["consents"],
        json!(["marketing_newsletter", "abandoned_cart"])
    );

    let dup = api
        .post(
            "/v3/customers/subscribers",
            json!({"email": "ANN@example.com"}),
        )
        .await;
    assert_v3_error(&dup, 409);
    // Another channel may hold the same email.
    let other = api
        .post(
            "/v3/customers/subscribers",
            json!({"email": "ann@example.com", "channel_id": 2}),
        )
        .await;
    assert_eq!(other.status, 200, "{}", other.text);

    let bad = api
        .post("/v3/customers/subscribers", json!({"first_name": "x"}))
        .await;
    assert_v3_error(&bad, 422);
    let bad = api
        .post(
            "/v3/customers/subscribers",
            json!({"email": "b@example.com", "consents": ["spam"]}),
        )
        .await;
    assert_v3_error(&bad, 422);

    let r = api
        .put(
            &format!("/v3/customers/subscribers/{id}"),
            json!({"last_name": "Lee", "consents": []}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["data"]["last_name"], "Lee");
    assert_eq!(r.json()["data"]["first_name"], "Ann");
    assert_eq!(r.json()["data"]["consents"], json!([]));

    let r = api.get(&format!("/v3/customers/subscribers/{id}")).await;
    assert_eq!(r.json()["data"]["last_name"], "Lee");

    let r = api.delete(&format!("/v3/customers/subscribers/{id}")).await;
    assert_eq!(r.status, 204);
    assert_v3_error(
        &api.get(&format!("/v3/customers/subscribers/{id}")).await,
        404,
    );
    assert_v3_error(
        &api.delete(&format!("/v3/customers/subscribers/{id}")).await,
        404,
    );

    assert_eq!(
        api.event_scopes().await,
        vec![
            "store/subscriber/created",
            "store/subscriber/created",
            "store/subscriber/updated",
            "store/subscriber/deleted"
        ]
    );
}

#[tokio::test]
async fn delete_by_filter_and_delete_all() {
    let api = start_seeded(store()).await;
    let r = api.delete("/v3/customers/subscribers?id:in=1,2,3").await;
    assert_eq!(r.status, 204);
    let r = api.get("/v3/customers/subscribers").await;
    assert_eq!(r.json()["meta"]["pagination"]["total"], 7);
    assert!(!data_ids(r.json()).contains(&1));
    // No filter: every subscriber goes (docs/api-notes.md §2.4).
    let r = api.delete("/v3/customers/subscribers").await;
    assert_eq!(r.status, 204);
    let r = api.get("/v3/customers/subscribers").await;
    assert_eq!(r.json()["meta"]["pagination"]["total"], 0);
}
