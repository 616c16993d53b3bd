//! The client over real HTTP against a scripted responder (not the emulator): exact status
//! sequences, rate-limit headers, what goes over the wire. Assertions count requests;
//! none times the client.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use brevo::{
    Bucket, BucketLimits, Category, Client, ContactImport, ContactKey, ContactQuery, ContactWrite,
    Error, Event, EventIdentifiers, ImportRow, Members, Order, OrderIdentifiers, OrderProduct,
    Product, Upserted,
};
use parking_lot::Mutex;
use serde_json::{Map, Value, json};
use support::{KEY, Reply, Responder, config};
use tokio::time::Instant;

fn client(r: &Responder) -> Client {
    Client::new(config(&r.base_url())).unwrap()
}

/// Guards a call that must not wait for an hour-long reset: a hang fails the test.
async fn soon<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("the call hung")
}

fn contact_json(id: i64) -> Value {
    json!({"id": id, "email": format!("c{id}@x.io"), "emailBlacklisted": false,
           "smsBlacklisted": false, "createdAt": "2024-01-01T00:00:00.000Z",
           "modifiedAt": "2024-01-02T00:00:00.000Z", "listIds": [], "attributes": {}})
}

fn event() -> Event {
    Event {
        event_name: "cart_updated".into(),
        identifiers: EventIdentifiers {
            email_id: Some(" Ann@X.io".into()),
            ..EventIdentifiers::default()
        },
        event_date: Some("2024-01-24T17:39:57+01:00".into()),
        contact_properties: Map::new(),
        event_properties: Map::new(),
    }
}

fn order(id: usize, padding: usize) -> Order {
    Order {
        id: id.to_string(),
        created_at: "2024-01-01T00:00:00Z".into(),
        updated_at: "2024-01-01T00:00:00Z".into(),
        status: "completed".into(),
        amount: 1.0,
        products: vec![OrderProduct {
            product_id: "x".repeat(padding.max(1)),
            variant_id: None,
            price: 1.0,
            quantity: Some(1),
            quantity_float: None,
        }],
        identifiers: OrderIdentifiers {
            email_id: Some("A@X.io".into()),
            ext_id: None,
        },
        store_id: None,
        billing: None,
        coupons: vec![],
    }
}

#[tokio::test]
async fn sends_the_key_and_json_headers_and_reads_the_account() {
    let r = Responder::start(|_, _| {
        Reply::json(
            200,
            json!({"email": "me@x.io", "companyName": "Shop", "marketingAutomation": {"key": "ma-secret"}}),
        )
        .header("sib-request-id", "abc")
    })
    .await;
    let c = client(&r);
    let account = c.account().await.unwrap();
    assert_eq!(account.email, "me@x.io");
    assert_eq!(account.company_name.as_deref(), Some("Shop"));
    assert!(!format!("{account:?}").contains("ma-secret"));
    c.send_event(&event()).await.unwrap();
    let seen = r.seen();
    assert_eq!(seen[0].path, "/account");
    assert_eq!(seen[0].header("api-key"), Some(KEY));
    assert_eq!(seen[0].header("accept"), Some("application/json"));
    for s in &seen {
        assert_eq!(s.header("content-type"), Some("application/json"));
    }
    assert_eq!(seen[1].json()["identifiers"]["email_id"], "ann@x.io");
    let last = c.last_response().unwrap();
    assert_eq!((last.status, last.path.as_str()), (200, "/events"));
}

#[tokio::test]
async fn a_wrong_key_fails_in_one_request_without_printing_it() {
    let r = Responder::start(|_, _| Reply::error(401, "unauthorized", "Key not found")).await;
    let c = client(&r);
    let err = c.account().await.unwrap_err();
    assert!(
        matches!(err, Error::Unauthorized { status: 401, .. }),
        "{err:?}"
    );
    assert!(err.is_auth());
    assert_eq!(r.count(), 1);
    let text = format!("{err} {err:?}");
    assert!(text.contains("BREVO_API_KEY"), "{text}");
    assert!(text.contains("Key not found"), "{text}");
    assert!(!text.contains(KEY), "{text}");
    assert_eq!(c.stats().retries, 0);
}

#[tokio::test]
async fn client_errors_are_never_retried() {
    for status in [400u16, 402, 403, 404, 405, 422] {
        let r = Responder::start(move |_, _| Reply::error(status, "invalid_parameter", "no")).await;
        let c = client(&r);
        let err = c
            .update_contact(&ContactKey::Id(1), &ContactWrite::default())
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(status), "{err:?}");
        assert_eq!(r.count(), 1, "{status} was retried");
    }
}

#[tokio::test]
async fn a_server_error_on_an_event_is_not_retried_but_on_an_order_upsert_it_is() {
    let r = Responder::start(|_, _| Reply::error(503, "unavailable", "try later")).await;
    let c = client(&r);
    let err = c.send_event(&event()).await.unwrap_err();
    assert!(matches!(err, Error::Api { status: 503, .. }), "{err:?}");
    assert_eq!(r.count(), 1);

    let r = Responder::start(|_, i| {
        if i == 0 {
            Reply::empty(502)
        } else {
            Reply::empty(204)
        }
    })
    .await;
    let c = client(&r);
    c.upsert_order(&order(1, 1)).await.unwrap();
    assert_eq!(r.count(), 2);
    assert_eq!(c.stats().retries, 1);
    assert_eq!(r.seen()[1].json()["identifiers"]["email_id"], "a@x.io");
}

#[tokio::test]
async fn an_event_with_oversized_properties_is_refused_before_sending() {
    let r = Responder::start(|_, _| Reply::empty(204)).await;
    let c = client(&r);
    let mut big = event();
    big.event_properties
        .insert("blob".into(), Value::String("x".repeat(60_000)));
    let err = c.send_event(&big).await.unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err:?}");
    assert_eq!(r.count(), 0);
}

#[tokio::test]
async fn too_early_is_retried_even_for_a_create() {
    let r = Responder::start(|_, i| {
        if i == 0 {
            Reply::error(425, "too_early", "retry")
        } else {
            Reply::json(201, json!({"id": 5}))
        }
    })
    .await;
    let c = client(&r);
    assert_eq!(c.create_folder("bcsync").await.unwrap(), 5);
    assert_eq!(r.count(), 2);
}

#[tokio::test]
async fn rate_limited_then_success_honours_the_reset() {
    // The responder refuses again any request that comes before its reset has passed.
    let refused_at: Arc<Mutex<Option<Instant>>> = Arc::default();
    let r = Responder::start({
        let refused_at = Arc::clone(&refused_at);
        move |_, _| {
            let mut at = refused_at.lock();
            match *at {
                None => {
                    *at = Some(Instant::now());
                    Reply::error(429, "too_many_requests", "slow down").rate(10, 0, 1)
                }
                Some(t) if t.elapsed() < Duration::from_secs(1) => {
                    Reply::error(429, "too_many_requests", "too soon").rate(10, 0, 1)
                }
                Some(_) => Reply::json(201, json!({"id": 9})).rate(10, 9, 1),
            }
        }
    })
    .await;
    let c = client(&r);
    let out = soon(c.upsert_contact(&ContactWrite {
        email: Some("a@b.c".into()),
        ..ContactWrite::default()
    }))
    .await
    .unwrap();
    assert_eq!(out, Upserted::Created(9));
    assert_eq!(r.count(), 2, "the retry came before the reset");
    let stats = c.stats();
    assert_eq!(stats.rate_limited.get(&Bucket::Contacts), Some(&1));
    assert_eq!(stats.retries, 1);
}

#[tokio::test]
async fn rate_limited_on_every_attempt_gives_a_typed_error() {
    let r =
        Responder::start(|_, _| Reply::error(429, "too_many_requests", "no").rate(10, 0, 0)).await;
    let c = client(&r);
    let err = soon(c.send_event(&event())).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::RateLimited {
                bucket: Bucket::Events,
                attempts: 4,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(r.count(), 4);
}

#[tokio::test]
async fn pacing_waits_for_the_reset_when_remaining_is_zero_instead_of_a_429() {
    // A real one-request window: anything before the reset is refused.
    let window_start: Arc<Mutex<Option<Instant>>> = Arc::default();
    let r = Responder::start({
        let window_start = Arc::clone(&window_start);
        move |_, _| {
            let mut start = window_start.lock();
            match *start {
                Some(t) if t.elapsed() < Duration::from_secs(1) => {
                    Reply::error(429, "too_many_requests", "window spent").rate(1, 0, 1)
                }
                _ => {
                    *start = Some(Instant::now());
                    Reply::json(200, contact_json(1)).rate(1, 0, 1)
                }
            }
        }
    })
    .await;
    let c = client(&r);
    for _ in 0..3 {
        assert!(soon(c.contact(&ContactKey::Id(1))).await.unwrap().is_some());
    }
    assert_eq!(r.count(), 3);
    let stats = c.stats();
    assert_eq!(stats.total_rate_limited(), 0, "{stats:?}");
    assert_eq!(stats.paced.get(&Bucket::Contacts), Some(&2), "{stats:?}");
}

/// A server-side window of `limit` requests per second, as Brevo reports it: the window
/// opens with the first request after the last one closed; `reset` is the whole seconds
/// left, rounded up or down; a request beyond the limit is refused with 429.
fn windowed(
    limit: u32,
    round_up: bool,
) -> impl Fn(&support::Seen, usize) -> Reply + Send + Sync + 'static {
    let window: Arc<Mutex<Option<(Instant, u32)>>> = Arc::default();
    move |_, _| {
        let mut w = window.lock();
        let now = Instant::now();
        let (start, used) = match *w {
            Some((start, used)) if now < start + Duration::from_secs(1) => (start, used + 1),
            _ => (now, 1),
        };
        *w = Some((start, used));
        let left = (start + Duration::from_secs(1)).saturating_duration_since(now);
        let reset = if round_up {
            left.as_secs_f64().ceil() as u64
        } else {
            left.as_secs()
        };
        if used > limit {
            Reply::error(429, "too_many_requests", "window spent").rate(limit, 0, reset)
        } else {
            Reply::json(200, contact_json(1)).rate(limit, limit - used, reset)
        }
    }
}

#[tokio::test]
async fn concurrent_requests_of_a_bucket_share_its_window_without_a_429() {
    for round_up in [true, false] {
        concurrent_requests_share_a_window(round_up).await;
    }
}

async fn concurrent_requests_share_a_window(round_up: bool) {
    let r = Responder::start(windowed(3, round_up)).await;
    let mut cfg = config(&r.base_url());
    // The assumed allowance matches the server's until its headers arrive.
    cfg.starting_limits
        .insert(Bucket::Contacts, BucketLimits::new(Some(3), None));
    let c = Client::new(cfg).unwrap();
    let calls = (0..9).map(|_| {
        let c = c.clone();
        tokio::spawn(async move { c.contact(&ContactKey::Id(1)).await })
    });
    for call in calls.collect::<Vec<_>>() {
        assert!(soon(call).await.unwrap().unwrap().is_some());
    }
    assert_eq!(r.count(), 9);
    let stats = c.stats();
    assert_eq!(
        stats.total_rate_limited(),
        0,
        "round_up={round_up} {stats:?}"
    );
    assert_eq!(stats.retries, 0);
}

#[tokio::test]
async fn a_spent_other_bucket_never_slows_contacts() {
    let r = Responder::start(|seen, _| {
        if seen.path == "/account" {
            // The "other" allowance is spent for an hour.
            Reply::json(200, json!({"email": "me@x.io"})).rate(100, 0, 3600)
        } else {
            Reply::json(200, contact_json(1)).rate(10, 9, 1)
        }
    })
    .await;
    let c = client(&r);
    c.account().await.unwrap();
    for _ in 0..5 {
        soon(c.contact(&ContactKey::Id(1))).await.unwrap();
    }
    assert_eq!(r.count(), 6);
    assert_eq!(c.stats().paced.get(&Bucket::Contacts), None);
}

#[tokio::test]
async fn the_general_tier_paces_before_any_header() {
    let r = Responder::start(|_, _| Reply::empty(204)).await;
    let mut cfg = config(&r.base_url());
    cfg.starting_limits = BTreeMap::from([(Bucket::Orders, BucketLimits::new(Some(2), None))]);
    let c = Client::new(cfg).unwrap();
    for i in 0..3 {
        c.upsert_order(&order(i, 1)).await.unwrap();
    }
    assert_eq!(c.stats().paced.get(&Bucket::Orders), Some(&1));
}

#[tokio::test]
async fn upsert_reads_201_as_created_and_204_as_updated() {
    let r = Responder::start(|_, i| {
        if i == 0 {
            Reply::json(201, json!({"id": 77}))
        } else {
            Reply::empty(204)
        }
    })
    .await;
    let c = client(&r);
    let write = ContactWrite {
        email: Some("  Ann+Shop@Example.COM ".into()),
        ext_id: Some("bc:s:1".into()),
        list_ids: vec![3],
        ..ContactWrite::default()
    };
    assert_eq!(
        c.upsert_contact(&write).await.unwrap(),
        Upserted::Created(77)
    );
    assert_eq!(c.upsert_contact(&write).await.unwrap(), Upserted::Updated);
    let body = r.seen()[0].json();
    assert_eq!(
        body,
        json!({"email": "ann+shop@example.com", "ext_id": "bc:s:1", "listIds": [3], "updateEnabled": true})
    );
}

#[tokio::test]
async fn an_upsert_that_unlinks_lists_follows_up_with_an_update() {
    let r = Responder::start(|_, _| Reply::empty(204)).await;
    let c = client(&r);
    let write = ContactWrite {
        email: Some("a@b.c".into()),
        unlink_list_ids: vec![4],
        ..ContactWrite::default()
    };
    assert_eq!(c.upsert_contact(&write).await.unwrap(), Upserted::Updated);
    let seen = r.seen();
    assert_eq!(seen.len(), 2);
    assert!(seen[0].json().get("unlinkListIds").is_none());
    assert_eq!(seen[1].method, "PUT");
    assert_eq!(seen[1].path, "/contacts/a%40b.c");
    assert_eq!(seen[1].json(), json!({"unlinkListIds": [4]}));
}

#[tokio::test]
async fn contact_routes_encode_the_identifier_and_always_send_its_type() {
    let r = Responder::start(|seen, _| match seen.method.as_str() {
        "GET" => Reply::error(404, "document_not_found", "Contact does not exist"),
        "DELETE" => Reply::error(404, "document_not_found", "Contact does not exist"),
        _ => Reply::empty(204),
    })
    .await;
    let c = client(&r);
    assert_eq!(
        c.contact(&ContactKey::Email("A+b@X.io".into()))
            .await
            .unwrap(),
        None
    );
    assert!(
        !c.delete_contact(&ContactKey::ExtId("bc:1".into()))
            .await
            .unwrap()
    );
    c.update_contact(
        &ContactKey::Id(12),
        &ContactWrite {
            email: Some("New@X.io".into()),
            list_ids: vec![1],
            unlink_list_ids: vec![2],
            ..ContactWrite::default()
        },
    )
    .await
    .unwrap();
    let seen = r.seen();
    assert_eq!(seen[0].path, "/contacts/a%2Bb%40x.io");
    assert_eq!(seen[0].param("identifierType").as_deref(), Some("email_id"));
    assert_eq!(seen[1].path, "/contacts/bc%3A1");
    assert_eq!(seen[1].param("identifierType").as_deref(), Some("ext_id"));
    assert_eq!(
        seen[2].param("identifierType").as_deref(),
        Some("contact_id")
    );
    assert_eq!(
        seen[2].json(),
        json!({"attributes": {"EMAIL": "new@x.io"}, "listIds": [1], "unlinkListIds": [2]})
    );
}

#[tokio::test]
async fn update_of_an_unknown_contact_is_not_found_and_a_clash_is_duplicate() {
    let r = Responder::start(|_, i| {
        if i == 0 {
            Reply::error(404, "document_not_found", "Contact does not exist")
        } else {
            Reply::json(
                400,
                json!({"code": "invalid_parameter", "message": "Unable to update contact, email is already associated with another Contact",
                       "metadata": {"duplicate_identifiers": ["email"]}}),
            )
        }
    })
    .await;
    let c = client(&r);
    let key = ContactKey::Id(3);
    let err = c
        .update_contact(&key, &ContactWrite::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    let err = c
        .update_contact(&key, &ContactWrite::default())
        .await
        .unwrap_err();
    match err {
        Error::Duplicate { identifiers, .. } => assert_eq!(identifiers, ["email"]),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn list_membership_goes_in_chunks_of_150() {
    let r = Responder::start(|seen, _| {
        let emails = seen.json()["emails"].as_array().unwrap().clone();
        Reply::json(201, json!({"contacts": {"success": emails, "failure": []}}))
    })
    .await;
    let c = client(&r);
    let emails: Vec<String> = (0..320).map(|i| format!("C{i}@X.io")).collect();
    let change = c.add_to_list(7, &Members::Emails(emails)).await.unwrap();
    assert_eq!(change.success.len(), 320);
    assert_eq!(change.success[0], "c0@x.io");
    let sizes: Vec<usize> = r
        .seen()
        .iter()
        .map(|s| s.json()["emails"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [150, 150, 20]);
    assert!(
        r.seen()
            .iter()
            .all(|s| s.path == "/contacts/lists/7/contacts/add")
    );
}

#[tokio::test]
async fn an_add_where_everything_failed_is_a_change_with_every_entry_in_failure() {
    let r = Responder::start(|_, i| {
        if i == 0 {
            // The first attempt may have been applied before the server failed.
            Reply::empty(500)
        } else {
            Reply::error(
                400,
                "invalid_parameter",
                "Contact already in list and/or does not exist",
            )
        }
    })
    .await;
    let c = client(&r);
    let change = c.add_to_list(7, &Members::Ids(vec![1, 2])).await.unwrap();
    assert_eq!(r.count(), 2, "a checked add is retried");
    assert!(change.success.is_empty());
    assert_eq!(change.failure, ["1", "2"]);
    assert_eq!(r.seen()[1].json(), json!({"ids": [1, 2]}));

    // A remove is not retried after a server error.
    let r = Responder::start(|_, _| Reply::empty(500)).await;
    let c = client(&r);
    assert!(c.remove_from_list(7, &Members::Ids(vec![1])).await.is_err());
    assert_eq!(r.count(), 1);
}

#[tokio::test]
async fn products_and_categories_go_in_batches_of_100_with_update_enabled() {
    let r = Responder::start(|seen, _| {
        let key = if seen.path == "/products/batch" {
            "products"
        } else {
            "categories"
        };
        let n = seen.json()[key].as_array().unwrap().len();
        Reply::json(201, json!({"createdCount": n, "updatedCount": 0}))
    })
    .await;
    let c = client(&r);
    let products: Vec<Product> = (0..250)
        .map(|i| Product {
            id: i.to_string(),
            name: format!("P{i}"),
            url: None,
            image_url: None,
            sku: None,
            price: Some(1.5),
            categories: vec![],
            parent_id: None,
            meta_info: Map::new(),
            is_deleted: None,
            deleted_at: None,
            brand: None,
            description: None,
            stock: None,
        })
        .collect();
    let counts = c.upsert_products(&products).await.unwrap();
    assert_eq!((counts.created, counts.updated), (250, 0));
    let categories: Vec<Category> = (0..101)
        .map(|i| Category {
            id: i.to_string(),
            name: format!("C{i}"),
            url: None,
            is_deleted: None,
            deleted_at: None,
        })
        .collect();
    assert_eq!(c.upsert_categories(&categories).await.unwrap().created, 101);
    let seen = r.seen();
    let sizes: Vec<(String, usize, bool)> = seen
        .iter()
        .map(|s| {
            let body = s.json();
            let key = if s.path == "/products/batch" {
                "products"
            } else {
                "categories"
            };
            (
                s.path.clone(),
                body[key].as_array().unwrap().len(),
                body["updateEnabled"] == json!(true),
            )
        })
        .collect();
    assert_eq!(
        sizes,
        [
            ("/products/batch".to_owned(), 100, true),
            ("/products/batch".to_owned(), 100, true),
            ("/products/batch".to_owned(), 50, true),
            ("/categories/batch".to_owned(), 100, true),
            ("/categories/batch".to_owned(), 1, true),
        ]
    );
}

#[tokio::test]
async fn orders_batches_hold_at_most_1000_orders_and_5_mb() {
    let r = Responder::start(|seen, i| {
        let n = seen.json()["orders"].as_array().unwrap().len();
        Reply::json(202, json!({"batchId": i, "count": n}))
    })
    .await;
    let c = client(&r);
    let small: Vec<Order> = (0..2500).map(|i| order(i, 1)).collect();
    let accepted = c.orders_batch(&small, true).await.unwrap();
    assert_eq!(
        accepted.iter().map(|a| a.count).collect::<Vec<_>>(),
        [1000, 1000, 500]
    );
    // 12 orders of about 1 MB each: five per call at most.
    let big: Vec<Order> = (0..12).map(|i| order(i, 1_000_000)).collect();
    let accepted = c.orders_batch(&big, false).await.unwrap();
    let seen = r.seen();
    let big_calls = &seen[3..];
    assert_eq!(big_calls.len(), accepted.len());
    assert!(big_calls.len() >= 3);
    let mut total = 0;
    for s in big_calls {
        assert!(s.body.len() <= 5_000_000, "{} bytes", s.body.len());
        assert_eq!(s.json()["historical"], json!(false));
        total += s.json()["orders"].as_array().unwrap().len();
    }
    assert_eq!(total, 12);
}

#[tokio::test]
async fn imports_are_split_under_8_mb_per_call() {
    let r = Responder::start(|_, i| Reply::json(202, json!({"processId": 100 + i}))).await;
    let c = client(&r);
    let rows: Vec<ImportRow> = (0..20)
        .map(|i| {
            let mut attributes = Map::new();
            attributes.insert("NOTE".into(), Value::String("n".repeat(1_000_000)));
            ImportRow {
                email: format!("R{i}@X.io"),
                attributes,
            }
        })
        .collect();
    let import = ContactImport {
        rows,
        list_ids: vec![2],
        ..ContactImport::default()
    };
    let ids = c.import_contacts(&import).await.unwrap();
    let seen = r.seen();
    assert_eq!(ids.len(), seen.len());
    assert!(ids.len() >= 3);
    assert_eq!(ids[0], 100);
    let mut total = 0;
    for s in &seen {
        assert!(s.body.len() <= 8_000_000, "{} bytes", s.body.len());
        let body = s.json();
        assert_eq!(body["listIds"], json!([2]));
        assert_eq!(body["updateExistingContacts"], json!(true));
        total += body["jsonBody"].as_array().unwrap().len();
    }
    assert_eq!(total, 20);
    assert_eq!(seen[0].json()["jsonBody"][0]["email"], "r0@x.io");
}

#[tokio::test]
async fn pagination_uses_the_route_maximum_and_stops_on_the_short_page() {
    let r = Responder::start(|seen, _| {
        let offset: usize = seen.param("offset").unwrap().parse().unwrap();
        let limit: usize = seen.param("limit").unwrap().parse().unwrap();
        let lists: Vec<Value> = (offset..(offset + limit).min(120))
            .map(
                |i| json!({"id": i, "name": format!("L{i}"), "folderId": 1, "totalSubscribers": 0}),
            )
            .collect();
        // No count: only the short page can end the paging.
        Reply::json(200, json!({"lists": lists}))
    })
    .await;
    let c = client(&r);
    let lists = c.lists().await.unwrap();
    assert_eq!(lists.len(), 120);
    let asked: Vec<(String, String)> = r
        .seen()
        .iter()
        .map(|s| (s.param("offset").unwrap(), s.param("limit").unwrap()))
        .collect();
    assert_eq!(
        asked,
        [
            ("0".into(), "50".into()),
            ("50".into(), "50".into()),
            ("100".into(), "50".into())
        ]
    );
}

#[tokio::test]
async fn contacts_are_read_oldest_first_with_encoded_filters_and_deduped() {
    let r = Responder::start(|seen, _| {
        let offset: i64 = seen.param("offset").unwrap().parse().unwrap();
        // A contact created while paging shifts the rows: the second page repeats one.
        let ids: Vec<i64> = if offset == 0 {
            (0..1000).collect()
        } else {
            vec![999, 1000]
        };
        Reply::json(
            200,
            json!({"contacts": ids.iter().map(|i| contact_json(*i)).collect::<Vec<_>>(), "count": 1001}),
        )
    })
    .await;
    let c = client(&r);
    let since = brevo::parse_timestamp("2024-03-01T10:00:00+01:00").unwrap();
    let contacts = c
        .contacts(&ContactQuery {
            modified_since: Some(since),
            list_ids: vec![4, 5],
        })
        .await
        .unwrap();
    assert_eq!(contacts.len(), 1001);
    let seen = r.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].param("sort").as_deref(), Some("asc"));
    assert_eq!(seen[0].param("limit").as_deref(), Some("1000"));
    assert_eq!(
        seen[0].param("modifiedSince").as_deref(),
        Some("2024-03-01T09%3A00%3A00.000Z")
    );
    assert_eq!(seen[0].params("listIds"), ["4", "5"]);
}

#[tokio::test]
async fn wait_for_process_polls_until_completed_or_reports_failure() {
    let r = Responder::start(|seen, i| {
        let status = match (seen.path.as_str(), i) {
            ("/processes/1", 0 | 1) => "in_process",
            ("/processes/1", _) => "completed",
            _ => "failed",
        };
        Reply::json(
            200,
            json!({"id": 1, "name": "IMPORTUSER", "status": status, "error": "bad rows"}),
        )
    })
    .await;
    let c = client(&r);
    let p = c.wait_for_process(1).await.unwrap();
    assert_eq!(p.status, brevo::ProcessStatus::Completed);
    assert_eq!(r.count(), 3);
    let err = c.wait_for_process(2).await.unwrap_err();
    assert!(matches!(err, Error::ProcessFailed { .. }), "{err:?}");
    assert!(err.to_string().contains("bad rows"));
}

#[tokio::test]
async fn ecommerce_refusals_before_activation_are_typed() {
    let r = Responder::start(|seen, _| {
        if seen.path == "/ecommerce/activate" {
            Reply::json(200, json!({"message": "in process"}))
        } else {
            Reply::error(403, "permission_denied", "eCommerce is not activated")
        }
    })
    .await;
    let c = client(&r);
    let err = c.upsert_order(&order(1, 1)).await.unwrap_err();
    assert!(matches!(err, Error::EcommerceInactive { .. }), "{err:?}");
    c.activate_ecommerce().await.unwrap();
    assert_eq!(r.count(), 2);
}

#[tokio::test]
async fn attributes_are_read_and_created_on_the_category_path() {
    let r = Responder::start(|seen, _| {
        if seen.method == "GET" {
            Reply::json(
                200,
                json!({"attributes": [{"name": "FIRSTNAME", "category": "normal", "type": "text"}]}),
            )
        } else {
            Reply::empty(201)
        }
    })
    .await;
    let c = client(&r);
    let attrs = c.attributes().await.unwrap();
    assert_eq!(attrs[0].attr_type, Some(brevo::AttributeType::Text));
    c.create_attribute(
        brevo::AttributeCategory::Normal,
        "BC_GROUP",
        &brevo::NewAttribute {
            attr_type: brevo::AttributeType::Text,
            enumeration: vec![],
            multi_category_options: vec![],
        },
    )
    .await
    .unwrap();
    let seen = r.seen();
    assert_eq!(seen[1].path, "/contacts/attributes/normal/BC_GROUP");
    assert_eq!(seen[1].json(), json!({"type": "text"}));
}

#[tokio::test]
async fn a_refused_connection_before_any_answer_fails_at_once() {
    // Bind and drop a listener so the port is closed.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = Client::new(config(&format!("http://127.0.0.1:{port}/v3"))).unwrap();
    let err = c.account().await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert_eq!(c.stats().retries, 0);
}
