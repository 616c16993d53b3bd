//! Webhook delivery over real HTTP (docs/api-notes.md §9): a real axum receiver on port 0
//! gets what the sandbox posts for writes made through the API; scopes and `data`
//! shapes per family, wildcards, custom headers, the hash, retries on the scaled
//! schedule, deactivation, blocklisting, refused destinations and the admin API.

#![allow(clippy::unwrap_used)]

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use bc_sandbox::{SandboxConfig, SeedSpec};
use common::Api;
use parking_lot::Mutex;
use reqwest::Method;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

/// One delivery as the receiver got it.
#[derive(Debug, Clone)]
struct Got {
    path: String,
    headers: HeaderMap,
    body: Bytes,
    json: Value,
}

#[derive(Clone)]
struct ReceiverState {
    got: Arc<Mutex<Vec<Got>>>,
    status: Arc<AtomicU16>,
}

/// A webhook receiver on 127.0.0.1:0 that records every POST and answers `status`.
struct Receiver {
    addr: std::net::SocketAddr,
    state: ReceiverState,
}

impl Receiver {
    async fn start(status: u16) -> Self {
        let state = ReceiverState {
            got: Arc::default(),
            status: Arc::new(AtomicU16::new(status)),
        };
        async fn record(
            State(st): State<ReceiverState>,
            uri: axum::http::Uri,
            headers: HeaderMap,
            body: Bytes,
        ) -> StatusCode {
            let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
            st.got.lock().push(Got {
                path: uri.path().to_owned(),
                headers,
                body,
                json,
            });
            StatusCode::from_u16(st.status.load(Ordering::SeqCst)).unwrap()
        }
        let app = Router::new()
            .route("/{*path}", post(record))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, state }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn got(&self) -> Vec<Got> {
        self.state.got.lock().clone()
    }

    /// Waits until `done` holds for what arrived (generous limit: the machine is shared).
    async fn wait_until(&self, what: &str, done: impl Fn(&[Got]) -> bool) -> Vec<Got> {
        for _ in 0..600 {
            let got = self.got();
            if done(&got) {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let scopes: Vec<String> = self
            .got()
            .iter()
            .map(|g| g.json["scope"].to_string())
            .collect();
        panic!("timed out waiting for {what}; received: {scopes:?}");
    }
}

fn scopes(got: &[Got]) -> Vec<&str> {
    got.iter()
        .map(|g| g.json["scope"].as_str().unwrap_or(""))
        .collect()
}

fn has(got: &[Got], scope: &str) -> bool {
    scopes(got).contains(&scope)
}

fn count(got: &[Got], scope: &str) -> usize {
    scopes(got).iter().filter(|s| **s == scope).count()
}

fn find<'a>(got: &'a [Got], scope: &str) -> &'a Value {
    &got.iter()
        .find(|g| g.json["scope"] == scope)
        .unwrap_or_else(|| panic!("no {scope} in {:?}", scopes(got)))
        .json
}

async fn sandbox(time_scale: f64) -> Api {
    common::start(SandboxConfig {
        seed: SeedSpec::empty(),
        time_scale,
        ..SandboxConfig::default()
    })
    .await
}

/// Registers a hook and returns its id.
async fn hook(api: &Api, scope: &str, destination: &str, headers: Value) -> i64 {
    let r = api
        .post(
            "/v3/hooks",
            json!({"scope": scope, "destination": destination, "is_active": true, "headers": headers}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["data"]["id"].as_i64().unwrap()
}

async fn new_customer(api: &Api, email: &str) -> i64 {
    let r = api
        .post(
            "/v3/customers",
            json!([{"email": email, "first_name": "Ann", "last_name": "Lee"}]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["data"][0]["id"].as_i64().unwrap()
}

/// Checks the §9.2 envelope of one delivery: store id, producer, created_at, and the
/// hash as the SHA-1 of the payload without it.
fn assert_envelope(g: &Got, store_hash: &str) {
    let v = &g.json;
    let store_id = v["store_id"].as_str().expect("store_id is a string");
    assert!(
        store_id.parse::<u64>().is_ok(),
        "numeric store_id: {store_id}"
    );
    assert_eq!(v["producer"], format!("stores/{store_hash}"));
    assert!(v["created_at"].as_i64().unwrap() > 1_600_000_000);
    let hash = v["hash"].as_str().unwrap().to_owned();
    assert_eq!(hash.len(), 40);
    let mut unsigned = v.clone();
    unsigned.as_object_mut().unwrap().shift_remove("hash");
    let digest = hex::encode(Sha1::digest(serde_json::to_vec(&unsigned).unwrap()));
    assert_eq!(
        digest, hash,
        "hash is the SHA-1 of the payload without the hash"
    );
}

#[tokio::test]
async fn customer_and_address_scopes_with_headers_and_hash() {
    let api = sandbox(1.0).await;
    let rx = Receiver::start(200).await;
    hook(
        &api,
        "store/customer/*",
        &rx.url("/hooks/customers"),
        json!({"X-Receiver-Secret": "s3cret-value"}),
    )
    .await;

    let id = new_customer(&api, "ann@example.com").await;
    let r = api
        .put("/v3/customers", json!([{"id": id, "company": "Acme"}]))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = api
        .post(
            "/v3/customers/addresses",
            json!([{"customer_id": id, "first_name": "Ann", "last_name": "Lee",
                    "address1": "1 Main St", "city": "Austin", "state_or_province": "Texas",
                    "postal_code": "78701", "country_code": "US"}]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let address_id = r.json()["data"][0]["id"].as_i64().unwrap();
    let r = api
        .put(
            "/v3/customers/addresses",
            json!([{"id": address_id, "city": "Dallas"}]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = api
        .delete(&format!("/v3/customers/addresses?id:in={address_id}"))
        .await;
    assert_eq!(r.status, 204);
    let r = api.delete(&format!("/v3/customers?id:in={id}")).await;
    assert_eq!(r.status, 204);

    let got = rx
        .wait_until("customer deleted", |g| has(g, "store/customer/deleted"))
        .await;
    for s in [
        "store/customer/created",
        "store/customer/address/created",
        "store/customer/address/updated",
        "store/customer/address/deleted",
    ] {
        assert_eq!(count(&got, s), 1, "{s} in {:?}", scopes(&got));
    }
    // The address changes did not fire customer/updated: only the company change did.
    assert_eq!(
        count(&got, "store/customer/updated"),
        1,
        "{:?}",
        scopes(&got)
    );
    assert_eq!(
        find(&got, "store/customer/created")["data"],
        json!({"type": "customer", "id": id})
    );
    assert_eq!(
        find(&got, "store/customer/address/updated")["data"],
        json!({"type": "customer", "id": address_id, "address": {"customer_id": id}})
    );
    for g in &got {
        assert_eq!(g.path, "/hooks/customers");
        assert_eq!(
            g.headers.get("x-receiver-secret").unwrap(),
            "s3cret-value",
            "custom headers arrive with every delivery"
        );
        assert_eq!(g.headers.get("content-type").unwrap(), "application/json");
        assert_envelope(g, api.sandbox.store_hash());
    }
}

#[tokio::test]
async fn order_scopes_status_and_archive() {
    let api = sandbox(1.0).await;
    let rx = Receiver::start(200).await;
    hook(&api, "store/order/*", &rx.url("/orders"), Value::Null).await;
    let r = api
        .post(
            "/v2/orders",
            json!({
                "billing_address": {"first_name": "Jane", "last_name": "Doe", "street_1": "1 Main St",
                    "city": "Austin", "state": "Texas", "zip": "78751", "country": "United States",
                    "country_iso2": "US", "email": "jane@example.com"},
                "products": [{"name": "Poster", "quantity": 1, "price_inc_tax": 10, "price_ex_tax": 10}],
                "status_id": 1
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let id = r.json()["id"].as_i64().unwrap();
    let r = api
        .put(&format!("/v2/orders/{id}"), json!({"status_id": 11}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = api
        .put(&format!("/v2/orders/{id}"), json!({"staff_notes": "gift"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(api.delete(&format!("/v2/orders/{id}")).await.status, 204);

    let got = rx
        .wait_until("order archived", |g| has(g, "store/order/archived"))
        .await;
    assert_eq!(count(&got, "store/order/created"), 1);
    assert_eq!(
        count(&got, "store/order/statusUpdated"),
        1,
        "{:?}",
        scopes(&got)
    );
    // `updated` fires on any change: the status change, the notes, the archive.
    let got = rx
        .wait_until("three updates", |g| count(g, "store/order/updated") >= 3)
        .await;
    assert_eq!(count(&got, "store/order/updated"), 3, "{:?}", scopes(&got));
    assert_eq!(
        find(&got, "store/order/statusUpdated")["data"],
        json!({"type": "order", "id": id, "status": {"previous_status_id": 1, "new_status_id": 11}})
    );
    assert_eq!(
        find(&got, "store/order/archived")["data"],
        json!({"type": "order", "id": id})
    );
    for g in &got {
        assert_eq!(g.headers.get("x-receiver-secret"), None);
        assert_envelope(g, api.sandbox.store_hash());
    }
}

#[tokio::test]
async fn product_inventory_images_and_categories() {
    let api = sandbox(1.0).await;
    let rx = Receiver::start(200).await;
    hook(&api, "store/product/*", &rx.url("/p"), Value::Null).await;
    hook(&api, "store/category/*", &rx.url("/c"), Value::Null).await;

    let r = api
        .post(
            "/v3/catalog/products",
            json!({"name": "Oak table", "type": "physical", "weight": 10, "price": 100,
                   "inventory_tracking": "product", "inventory_level": 5}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let pid = r.json()["data"]["id"].as_i64().unwrap();
    let r = api
        .put(
            &format!("/v3/catalog/products/{pid}"),
            json!({"inventory_level": 3}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let got = rx
        .wait_until("inventory", |g| has(g, "store/product/inventory/updated"))
        .await;
    assert_eq!(
        find(&got, "store/product/inventory/updated")["data"],
        json!({"type": "product", "id": pid,
               "inventory": {"product_id": pid, "method": "absolute", "value": 3}})
    );
    assert_eq!(count(&got, "store/product/created"), 1);
    assert_eq!(count(&got, "store/product/updated"), 1);

    // The first image (the first thumbnail) fires product/updated; the second does not.
    let image = |n: u32| json!({"image_url": format!("https://example.com/oak-{n}.jpg")});
    let r = api
        .post(&format!("/v3/catalog/products/{pid}/images"), image(1))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    rx.wait_until("first thumbnail", |g| {
        count(g, "store/product/updated") == 2
    })
    .await;
    let r = api
        .post(&format!("/v3/catalog/products/{pid}/images"), image(2))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    let r = api
        .post(
            "/v3/catalog/categories",
            json!({"name": "Tables", "parent_id": 0}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let cid = r.json()["data"]["id"].as_i64().unwrap();
    assert_eq!(
        api.delete(&format!("/v3/catalog/products/{pid}"))
            .await
            .status,
        204
    );
    let got = rx
        .wait_until("product deleted and category created", |g| {
            has(g, "store/product/deleted") && has(g, "store/category/created")
        })
        .await;
    assert_eq!(
        count(&got, "store/product/updated"),
        2,
        "the second image fired nothing: {:?}",
        scopes(&got)
    );
    assert_eq!(
        find(&got, "store/category/created")["data"],
        json!({"type": "category", "id": cid})
    );
    assert!(got.iter().all(|g| {
        (g.path == "/c")
            == g.json["scope"]
                .as_str()
                .unwrap()
                .starts_with("store/category/")
    }));
}

#[tokio::test]
async fn variant_stock_fires_only_sku_scopes() {
    let api = sandbox(1.0).await;
    let rx = Receiver::start(200).await;
    hook(&api, "store/product/*", &rx.url("/p"), Value::Null).await;
    hook(&api, "store/sku/*", &rx.url("/sku"), Value::Null).await;
    let r = api
        .post(
            "/v3/catalog/products",
            json!({"name": "Tee", "type": "physical", "weight": 0.2, "price": 20, "sku": "TEE",
            "inventory_tracking": "variant",
            "variants": [
                {"sku": "TEE-S", "option_values": [{"option_display_name": "Size", "label": "S"}]},
                {"sku": "TEE-M", "option_values": [{"option_display_name": "Size", "label": "M"}]}
            ]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let p = &r.json()["data"];
    let pid = p["id"].as_i64().unwrap();
    let v = &p["variants"][0];
    let (vid, sku_id) = (v["id"].as_i64().unwrap(), v["sku_id"].as_i64().unwrap());
    assert_ne!(
        vid, sku_id,
        "the V2 SKU id differs from the variant id here"
    );
    rx.wait_until("product created", |g| has(g, "store/product/created"))
        .await;

    let r = api
        .put(
            &format!("/v3/catalog/products/{pid}/variants/{vid}"),
            json!({"inventory_level": 7}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let got = rx
        .wait_until("sku inventory", |g| has(g, "store/sku/inventory/updated"))
        .await;
    assert_eq!(
        find(&got, "store/sku/inventory/updated")["data"],
        json!({"type": "sku", "id": sku_id, "inventory": {
            "product_id": pid, "variant_id": vid, "method": "absolute", "value": 7}})
    );
    // A price change fires sku/updated with the SKU id and the variant in data.sku.
    let r = api
        .put(
            &format!("/v3/catalog/products/{pid}/variants/{vid}"),
            json!({"price": 25}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let got = rx
        .wait_until("sku updated", |g| has(g, "store/sku/updated"))
        .await;
    assert_eq!(
        find(&got, "store/sku/updated")["data"],
        json!({"type": "sku", "id": sku_id, "sku": {"product_id": pid, "variant_id": vid}})
    );
    assert_eq!(
        count(&got, "store/sku/updated"),
        1,
        "the stock change fired no sku/updated"
    );
    // Nothing but product/created reached the product hook.
    let product_scopes: Vec<&str> = got
        .iter()
        .filter(|g| g.path == "/p")
        .map(|g| g.json["scope"].as_str().unwrap())
        .collect();
    assert_eq!(product_scopes, vec!["store/product/created"]);
}

#[tokio::test]
async fn wildcards_cover_their_family_and_exact_scopes_only_themselves() {
    let api = sandbox(1.0).await;
    let rx = Receiver::start(200).await;
    hook(
        &api,
        "store/customer/created",
        &rx.url("/exact"),
        Value::Null,
    )
    .await;
    hook(&api, "store/customer/*", &rx.url("/family"), Value::Null).await;
    hook(&api, "store/order/*", &rx.url("/orders"), Value::Null).await;
    let id = new_customer(&api, "bo@example.com").await;
    api.put("/v3/customers", json!([{"id": id, "notes": "vip"}]))
        .await;
    let got = rx.wait_until("three deliveries", |g| g.len() >= 3).await;
    let at = |path: &str| {
        let mut s: Vec<String> = got
            .iter()
            .filter(|g| g.path == path)
            .map(|g| g.json["scope"].as_str().unwrap().to_owned())
            .collect();
        s.sort();
        s
    };
    assert_eq!(at("/exact"), vec!["store/customer/created"]);
    assert_eq!(
        at("/family"),
        vec!["store/customer/created", "store/customer/updated"]
    );
    assert!(at("/orders").is_empty());
    // The same event to two hooks is one payload: same hash.
    let hashes: Vec<&Value> = got
        .iter()
        .filter(|g| g.json["scope"] == "store/customer/created")
        .map(|g| &g.json["hash"])
        .collect();
    assert_eq!(hashes.len(), 2);
    assert_eq!(hashes[0], hashes[1]);
}

#[tokio::test]
async fn a_failing_receiver_gets_every_retry_then_the_hook_is_deactivated() {
    // 48 hours of retries in about 3.5 s.
    let scale = 0.00002;
    let api = sandbox(scale).await;
    let rx = Receiver::start(500).await;
    let hook_id = hook(
        &api,
        "store/customer/created",
        &rx.url("/down"),
        Value::Null,
    )
    .await;
    new_customer(&api, "cy@example.com").await;

    let mut inactive = false;
    for _ in 0..600 {
        let r = api.get(&format!("/v3/hooks/{hook_id}")).await;
        if r.json()["data"]["is_active"] == false {
            inactive = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(inactive, "the hook was deactivated after the last retry");

    // One first attempt plus eleven retries, all with the same body and hash.
    let got = rx.got();
    assert_eq!(got.len(), 12, "attempts received");
    assert!(
        got.iter().all(|g| g.body == got[0].body),
        "redeliveries are identical"
    );
    let r = api
        .admin(
            Method::GET,
            &format!("/_sandbox/deliveries?hook_id={hook_id}"),
            None,
        )
        .await;
    let log = r.json()["deliveries"].as_array().unwrap().clone();
    assert_eq!(log.len(), 12, "{}", r.text);
    let schedule = bc_sandbox::delivery::RETRY_SCHEDULE_SECS;
    for (i, d) in log.iter().enumerate() {
        assert_eq!(d["attempt"], i + 1);
        assert_eq!(d["hash"], got[0].json["hash"]);
        assert_eq!(d["status"], 500);
        if i < 11 {
            assert_eq!(d["outcome"], "failed");
            let expected = (schedule[i] as f64 * scale * 1000.0).max(0.5);
            let waited = d["retry_in_ms"].as_f64().unwrap();
            assert!(
                (waited - expected).abs() <= 1.0,
                "retry {i} is scheduled {expected} ms out, got {waited}"
            );
        } else {
            assert_eq!(d["outcome"], "deactivated");
            assert_eq!(d["retry_in_ms"], Value::Null);
        }
    }
    // A deactivated hook gets nothing more; a PUT switches it back on.
    let r = api
        .put(&format!("/v3/hooks/{hook_id}"), json!({"is_active": true}))
        .await;
    assert_eq!(r.json()["data"]["is_active"], true);
    rx.state.status.store(200, Ordering::SeqCst);
    new_customer(&api, "dee@example.com").await;
    rx.wait_until("delivery after reactivation", |g| g.len() == 13)
        .await;
}

#[tokio::test]
async fn a_domain_failing_most_deliveries_is_blocked() {
    // Window 12 s, block 18 s, first retry after 6 s.
    let api = sandbox(0.1).await;
    let rx = Receiver::start(503).await;
    hook(
        &api,
        "store/customer/created",
        &rx.url("/flaky"),
        Value::Null,
    )
    .await;
    for batch in 0..11 {
        let items: Vec<Value> = (0..10)
            .map(|i| json!({"email": format!("b{batch}-{i}@example.com"), "first_name": "B", "last_name": "C"}))
            .collect();
        let r = api.post("/v3/customers", Value::Array(items)).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    rx.wait_until("110 failed deliveries", |g| g.len() >= 110)
        .await;
    let mut blocked = Value::Null;
    for _ in 0..200 {
        let r = api
            .admin(Method::GET, "/_sandbox/deliveries?limit=1", None)
            .await;
        blocked = r.json()["blocked_domains"].clone();
        if blocked.as_array().is_some_and(|b| !b.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(blocked[0]["domain"], "127.0.0.1", "{blocked}");
    assert!(blocked[0]["remaining_ms"].as_u64().unwrap() <= 18_000);
    // An event during the block waits instead of being sent.
    let before = rx.got().len();
    new_customer(&api, "late@example.com").await;
    let mut deferred = false;
    for _ in 0..200 {
        let r = api
            .admin(Method::GET, "/_sandbox/deliveries?limit=100000", None)
            .await;
        deferred = r.json()["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["outcome"] == "deferred");
        if deferred {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(deferred, "the new event was deferred by the block");
    assert_eq!(rx.got().len(), before, "nothing reached the blocked domain");
}

#[tokio::test]
async fn destinations_other_than_https_443_are_refused() {
    let api = common::start(SandboxConfig {
        seed: SeedSpec::empty(),
        allow_hook_hosts: vec!["receiver.test".to_owned()],
        ..SandboxConfig::default()
    })
    .await;
    for bad in [
        "http://example.com/hook",
        "https://example.com:8443/hook",
        "http://10.1.2.3:8080/hook",
        "ftp://example.com/hook",
    ] {
        let r = api
            .post(
                "/v3/hooks",
                json!({"scope": "store/order/*", "destination": bad}),
            )
            .await;
        common::assert_v3_error(&r, 422);
        assert!(
            r.json()["errors"]["destination"].is_string(),
            "{bad}: {}",
            r.text
        );
    }
    for good in [
        "https://example.com/hook",
        "http://127.0.0.1:9/hook",
        "http://localhost:9/hook",
        "http://receiver.test:8080/hook",
    ] {
        let r = api
            .post(
                "/v3/hooks",
                json!({"scope": "store/order/*", "destination": good}),
            )
            .await;
        assert_eq!(r.status, 200, "{good}: {}", r.text);
    }
}

#[tokio::test]
async fn admin_lists_events_and_force_deactivates_hooks() {
    let api = sandbox(1.0).await;
    let rx = Receiver::start(200).await;
    let hook_id = hook(&api, "store/customer/*", &rx.url("/a"), Value::Null).await;
    let first = new_customer(&api, "e1@example.com").await;
    let r = api.admin(Method::GET, "/_sandbox/events", None).await;
    let events = r.json()["events"].as_array().unwrap().clone();
    assert_eq!(events.len(), 1, "{}", r.text);
    assert_eq!(events[0]["scope"], "store/customer/created");
    assert_eq!(events[0]["data"]["id"], first);
    assert!(events[0]["recorded_at_ms"].as_i64().unwrap() > 1_600_000_000_000);
    let seq = events[0]["seq"].as_u64().unwrap();
    rx.wait_until("first delivery", |g| g.len() == 1).await;

    let r = api
        .admin(
            Method::POST,
            &format!("/_sandbox/hooks/{hook_id}/deactivate"),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    let r = api.get(&format!("/v3/hooks/{hook_id}")).await;
    assert_eq!(r.json()["data"]["is_active"], false);
    let r = api
        .admin(Method::POST, "/_sandbox/hooks/999/deactivate", None)
        .await;
    assert_eq!(r.status, 404);

    // The store still journals changes; the inactive hook gets none of them.
    new_customer(&api, "e2@example.com").await;
    let r = api
        .admin(Method::GET, &format!("/_sandbox/events?after={seq}"), None)
        .await;
    let events = r.json()["events"].as_array().unwrap().clone();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["seq"].as_u64().unwrap(), seq + 1);
    let r = api.admin(Method::GET, "/_sandbox/deliveries", None).await;
    let log = r.json()["deliveries"].as_array().unwrap().clone();
    assert_eq!(
        log.len(),
        1,
        "only the first event was delivered: {}",
        r.text
    );
    assert_eq!(log[0]["outcome"], "delivered");
    assert_eq!(log[0]["status"], 200);
    assert_eq!(rx.got().len(), 1);
}
