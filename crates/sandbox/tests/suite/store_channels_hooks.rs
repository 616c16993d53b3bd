//! Store information (`/v2/store`, `/v2/time`), channels (`/v3/channels`) and webhook
//! subscriptions (`/v3/hooks`) over real HTTP.
#![allow(clippy::unwrap_used)]

use crate::common;

use bc_sandbox::{Plan, SandboxConfig, SeedSpec, TokenConfig};
use common::{assert_v2_error, assert_v3_error, start, start_seeded};
use serde_json::{Value, json};

fn with_customers() -> SeedSpec {
    SeedSpec {
        customers: 5,
        ..SeedSpec::empty()
    }
}

#[tokio::test]
async fn store_is_a_bare_v2_object_with_identity_and_plan() {
    let config = SandboxConfig {
        store_hash: "abc123".into(),
        plan: Plan::Enterprise { quota: 100_000 },
        ..SandboxConfig::default()
    };
    let api = start(config).await;
    let r = api.get("/v2/store").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let s = r.json();
    assert!(s.get("data").is_none(), "bare object, no envelope");
    assert_eq!(s["id"], "abc123", "id is the store hash");
    assert!(
        s["store_id"].is_i64(),
        "store_id is a number: {}",
        s["store_id"]
    );
    assert_eq!(s["plan_name"], "Enterprise");
    assert_eq!(s["default_channel_id"], 1);
    assert_eq!(s["features"]["multi_storefront_enabled"], true);
    assert_eq!(s["features"]["storefront_limits"]["active"], 1);
    assert!(s["timezone"]["name"].is_string());
    assert!(s["timezone"]["date_format"]["display"].is_string());
    for f in [
        "domain",
        "secure_url",
        "name",
        "status",
        "admin_email",
        "order_email",
        "currency",
        "currency_symbol",
        "weight_units",
        "dimension_units",
        "country_code",
        "plan_level",
        "plan_is_trial",
        "infrastructure_region",
    ] {
        assert!(s.get(f).is_some(), "missing {f}");
    }
    // The same seed gives the same numeric store id.
    let again = start(SandboxConfig {
        store_hash: "abc123".into(),
        ..SandboxConfig::default()
    })
    .await;
    assert_eq!(
        again.get("/v2/store").await.json()["store_id"],
        s["store_id"]
    );
}

#[tokio::test]
async fn time_is_unix_seconds() {
    let api = start_seeded(SeedSpec::empty()).await;
    let r = api.get("/v2/time").await;
    assert_eq!(r.status, 200);
    let t = r.json()["time"].as_i64().unwrap();
    assert!((t - chrono::Utc::now().timestamp()).abs() <= 5);
}

#[tokio::test]
async fn store_needs_information_scope_and_a_valid_token() {
    let config = SandboxConfig {
        tokens: vec![TokenConfig::parse("cust:store_v2_customers").unwrap()],
        ..SandboxConfig::default()
    };
    let api = start(config).await;
    assert_v2_error(&api.get("/v2/store").await, 403);
    let wrong = api
        .call_with(reqwest::Method::GET, "/v2/time", None, "bogus")
        .await;
    assert_v2_error(&wrong, 401);
}

#[tokio::test]
async fn channel_one_always_listed_and_filters_work() {
    let empty = start_seeded(SeedSpec::empty()).await;
    let r = empty.get("/v3/channels").await;
    assert_eq!(r.status, 200);
    let data = r.json()["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["id"], 1);
    assert_eq!(data[0]["type"], "storefront");
    assert_eq!(data[0]["platform"], "bigcommerce");
    assert_eq!(r.json()["meta"]["pagination"]["total"], 1);

    let api = start_seeded(with_customers()).await;
    assert_eq!(
        api.get("/v3/channels").await.json()["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let created = api.post("/v3/channels", json!({"name": "Amazon US", "type": "marketplace", "platform": "amazon", "status": "disconnected"})).await;
    assert_eq!(created.status, 200, "{}", created.text);
    let ids = |v: &Value| {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_i64().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(api.get("/v3/channels?type:in=marketplace").await.json()),
        vec![3]
    );
    assert_eq!(
        ids(api
            .get("/v3/channels?platform:in=bigcommerce,amazon")
            .await
            .json()),
        vec![1, 3]
    );
    assert_eq!(
        ids(api.get("/v3/channels?status:in=disconnected").await.json()),
        vec![3]
    );
    assert_eq!(
        ids(api.get("/v3/channels?available=true").await.json()),
        vec![1, 2]
    );
    assert_eq!(
        ids(api.get("/v3/channels?available=false").await.json()),
        vec![3]
    );
    assert_eq!(
        ids(api
            .get("/v3/channels?date_created:min=2999-01-01")
            .await
            .json()),
        Vec::<i64>::new()
    );
    let r = api.get("/v3/channels?limit=1&page=2").await;
    assert_eq!(ids(r.json()), vec![2]);
    assert_eq!(r.json()["meta"]["pagination"]["total_pages"], 3);
    assert_v3_error(&api.get("/v3/channels?limit=251").await, 413);
    let r = api.get("/v3/channels?include=currencies").await;
    assert_eq!(r.json()["data"][0]["currencies"]["default_currency"], "USD");
}

#[tokio::test]
async fn channel_create_validates_and_update_ignores_type_and_platform() {
    let api = start_seeded(SeedSpec::empty()).await;
    let r = api
        .post(
            "/v3/channels",
            json!({"type": "storefront", "platform": "amazon"}),
        )
        .await;
    assert_v3_error(&r, 422);
    let errors = r.json()["errors"].as_object().unwrap();
    assert!(
        errors.contains_key("name") && errors.contains_key("platform"),
        "{errors:?}"
    );
    let r = api
        .post(
            "/v3/channels",
            json!({"name": "X", "type": "kiosk", "platform": "custom"}),
        )
        .await;
    assert!(
        r.json()["errors"].as_object().unwrap().contains_key("type"),
        "{}",
        r.text
    );
    let r = api
        .post(
            "/v3/channels",
            json!({"name": "X", "type": "pos", "platform": "square", "status": "terminated"}),
        )
        .await;
    assert!(
        r.json()["errors"]
            .as_object()
            .unwrap()
            .contains_key("status"),
        "{}",
        r.text
    );

    let r = api
        .post(
            "/v3/channels",
            json!({"name": "Shop POS", "type": "pos", "platform": "square"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ch = r.json()["data"].clone();
    assert_eq!(r.json()["meta"], json!({}));
    assert_eq!(ch["id"], 2);
    assert_eq!(ch["status"], "active");
    for f in [
        "id",
        "name",
        "external_id",
        "type",
        "platform",
        "status",
        "is_listable_from_ui",
        "is_visible",
        "icon_url",
        "date_created",
        "date_modified",
    ] {
        assert!(ch.get(f).is_some(), "missing {f}");
    }

    let r = api.get("/v3/channels/2").await;
    assert_eq!(r.json()["data"]["name"], "Shop POS");
    let r = api.put("/v3/channels/2", json!({"name": "Front POS", "type": "storefront", "platform": "bigcommerce", "status": "inactive"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let up = &r.json()["data"];
    assert_eq!(up["name"], "Front POS");
    assert_eq!(up["status"], "inactive");
    assert_eq!(up["type"], "pos", "type is fixed after creation");
    assert_eq!(up["platform"], "square", "platform is fixed after creation");
    assert!(up["date_modified"].as_str().unwrap() >= ch["date_modified"].as_str().unwrap());
    assert_v3_error(
        &api.put("/v3/channels/2", json!({"status": "gone"})).await,
        422,
    );

    assert_v3_error(&api.get("/v3/channels/99").await, 404);
    assert_v3_error(&api.put("/v3/channels/99", json!({"name": "n"})).await, 404);
    assert_v3_error(&api.get("/v3/channels/abc").await, 404);
    let r = api.get("/v3/channels?include=currencies").await;
    assert_eq!(r.json()["data"].as_array().unwrap().len(), 2);
}

fn two_clients() -> SandboxConfig {
    SandboxConfig {
        tokens: vec![
            TokenConfig::parse("alpha").unwrap(),
            TokenConfig::parse("beta").unwrap(),
        ],
        ..SandboxConfig::default()
    }
}

fn hook(scope: &str, dest: &str) -> Value {
    json!({"scope": scope, "destination": dest})
}

#[tokio::test]
async fn hook_create_shape_and_destination_rules() {
    let api = start(two_clients()).await;
    let r = api.post("/v3/hooks", json!({"scope": "store/order/created", "destination": "https://hooks.example.com/orders", "headers": {"X-Secret": "s"}})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let h = &r.json()["data"];
    assert_eq!(r.json()["meta"], json!({}));
    assert_eq!(h["id"], 1);
    assert_eq!(h["client_id"], "client-alpha");
    assert_eq!(h["store_hash"], "sandbox");
    assert_eq!(h["is_active"], true);
    assert_eq!(h["headers"]["X-Secret"], "s");
    assert!(
        h["created_at"].is_i64() && h["updated_at"].is_i64(),
        "epoch seconds"
    );

    let r = api
        .post(
            "/v3/hooks",
            hook("store/order/updated", "https://hooks.example.com/u"),
        )
        .await;
    assert_eq!(r.json()["data"]["headers"], Value::Null);

    for bad in [
        "http://hooks.example.com/x",
        "https://hooks.example.com:8443/x",
        "not a url",
        "ftp://x.example.com",
    ] {
        let r = api
            .post("/v3/hooks", hook("store/order/created", bad))
            .await;
        assert_v3_error(&r, 422);
        assert!(
            r.json()["errors"]["destination"].is_string(),
            "{bad}: {}",
            r.text
        );
    }
    assert_eq!(
        api.post(
            "/v3/hooks",
            hook("store/order/created", "https://hooks.example.com:443/p")
        )
        .await
        .status,
        200
    );
    let r = api
        .post("/v3/hooks", json!({"destination": "https://a.example.com"}))
        .await;
    assert!(r.json()["errors"]["scope"].is_string(), "{}", r.text);
    let r = api.post("/v3/hooks", json!({"scope": "store/order/created", "destination": "https://a.example.com", "headers": {"n": 1}})).await;
    assert!(r.json()["errors"]["headers"].is_string(), "{}", r.text);

    // One hook per (client, scope, destination).
    assert_v3_error(
        &api.post(
            "/v3/hooks",
            hook("store/order/created", "https://hooks.example.com/orders"),
        )
        .await,
        409,
    );
    // ...but another client may register the same one.
    let beta = api
        .call_with(
            reqwest::Method::POST,
            "/v3/hooks",
            Some(hook(
                "store/order/created",
                "https://hooks.example.com/orders",
            )),
            "beta",
        )
        .await;
    assert_eq!(beta.status, 200, "{}", beta.text);
}

#[tokio::test]
async fn at_most_ten_hooks_per_scope_and_client() {
    let api = start(two_clients()).await;
    for i in 0..10 {
        let r = api
            .post(
                "/v3/hooks",
                hook("store/product/*", &format!("https://h{i}.example.com/x")),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let r = api
        .post(
            "/v3/hooks",
            hook("store/product/*", "https://h10.example.com/x"),
        )
        .await;
    assert_v3_error(&r, 422);
    assert!(r.json()["errors"]["scope"].is_string());
    assert_eq!(
        api.post(
            "/v3/hooks",
            hook("store/product/created", "https://h10.example.com/x")
        )
        .await
        .status,
        200
    );
    let beta = api
        .call_with(
            reqwest::Method::POST,
            "/v3/hooks",
            Some(hook("store/product/*", "https://h10.example.com/x")),
            "beta",
        )
        .await;
    assert_eq!(beta.status, 200);
}

#[tokio::test]
async fn hooks_are_filtered_by_client_and_query() {
    let api = start(two_clients()).await;
    api.post(
        "/v3/hooks",
        hook("store/order/created", "https://a.example.com/1"),
    )
    .await;
    api.post("/v3/hooks", json!({"scope": "store/order/created", "destination": "https://a.example.com/2", "is_active": false})).await;
    api.post(
        "/v3/hooks",
        hook("store/customer/*", "https://a.example.com/1"),
    )
    .await;
    let beta_hook = api
        .call_with(
            reqwest::Method::POST,
            "/v3/hooks",
            Some(hook("store/cart/created", "https://b.example.com")),
            "beta",
        )
        .await;
    let beta_id = beta_hook.json()["data"]["id"].as_i64().unwrap();

    let ids = |v: &Value| {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["id"].as_i64().unwrap())
            .collect::<Vec<_>>()
    };
    let r = api.get("/v3/hooks").await;
    assert_eq!(ids(r.json()), vec![1, 2, 3]);
    assert_eq!(r.json()["meta"]["pagination"]["total"], 3);
    let r = api
        .call_with(reqwest::Method::GET, "/v3/hooks", None, "beta")
        .await;
    assert_eq!(ids(r.json()), vec![beta_id]);
    assert_eq!(
        ids(api.get("/v3/hooks?is_active=false").await.json()),
        vec![2]
    );
    assert_eq!(
        ids(api.get("/v3/hooks?is_active=true").await.json()),
        vec![1, 3]
    );
    assert_eq!(
        ids(api.get("/v3/hooks?scope=store/order/created").await.json()),
        vec![1, 2]
    );
    assert_eq!(
        ids(api
            .get("/v3/hooks?destination=https://a.example.com/1")
            .await
            .json()),
        vec![1, 3]
    );
    assert_eq!(
        ids(api.get("/v3/hooks?limit=2&page=2").await.json()),
        vec![3]
    );
    assert_v3_error(&api.get("/v3/hooks?limit=251").await, 413);

    // Another client's hook is invisible, even by id.
    let r = api.get(&format!("/v3/hooks/{beta_id}")).await;
    assert_v3_error(&r, 404);
    assert_eq!(
        r.json()["title"],
        format!("Webhook with id [{beta_id}] not found")
    );
    assert_v3_error(&api.delete(&format!("/v3/hooks/{beta_id}")).await, 404);

    // Delivery lookup: active hooks for an event scope, wildcards included, every client.
    let data = api.sandbox.state.data.read();
    let targets: Vec<i64> = data
        .hooks
        .active_for("store/customer/created")
        .iter()
        .map(|h| h.id)
        .collect();
    assert_eq!(targets, vec![3]);
    let targets: Vec<i64> = data
        .hooks
        .active_for("store/order/created")
        .iter()
        .map(|h| h.id)
        .collect();
    assert_eq!(targets, vec![1], "inactive hook 2 receives nothing");
    assert_eq!(data.counts()["hooks"], 4);
}

#[tokio::test]
async fn hook_get_put_delete() {
    let api = start(two_clients()).await;
    let created = api
        .post(
            "/v3/hooks",
            hook("store/order/created", "https://a.example.com/1"),
        )
        .await;
    let id = created.json()["data"]["id"].as_i64().unwrap();
    let r = api.get(&format!("/v3/hooks/{id}")).await;
    assert_eq!(r.json()["data"]["scope"], "store/order/created");

    let r = api
        .put(
            &format!("/v3/hooks/{id}"),
            json!({"is_active": false, "headers": {"A": "b"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["data"]["is_active"], false);
    assert_eq!(r.json()["data"]["headers"]["A"], "b");
    assert!(
        r.json()["data"]["updated_at"].as_i64() >= created.json()["data"]["updated_at"].as_i64()
    );
    let r = api
        .put(
            &format!("/v3/hooks/{id}"),
            json!({"is_active": true, "destination": "https://a.example.com/2"}),
        )
        .await;
    assert_eq!(r.json()["data"]["is_active"], true);
    assert_eq!(r.json()["data"]["destination"], "https://a.example.com/2");
    assert_v3_error(&api.put(&format!("/v3/hooks/{id}"), json!({})).await, 422);
    assert_v3_error(
        &api.put(
            &format!("/v3/hooks/{id}"),
            json!({"destination": "http://x.example.com"}),
        )
        .await,
        422,
    );
    api.post(
        "/v3/hooks",
        hook("store/order/created", "https://a.example.com/3"),
    )
    .await;
    assert_v3_error(
        &api.put(
            &format!("/v3/hooks/{id}"),
            json!({"destination": "https://a.example.com/3"}),
        )
        .await,
        409,
    );
    assert_v3_error(
        &api.put("/v3/hooks/999", json!({"is_active": true})).await,
        404,
    );

    let r = api.delete(&format!("/v3/hooks/{id}")).await;
    assert_eq!(r.status, 200, "DELETE answers 200 with the deleted hook");
    assert_eq!(r.json()["data"]["id"], id);
    let r = api.get(&format!("/v3/hooks/{id}")).await;
    assert_v3_error(&r, 404);
    assert_eq!(
        r.json()["title"],
        format!("Webhook with id [{id}] not found")
    );
    assert_v3_error(&api.get("/v3/hooks/abc").await, 404);
}

#[tokio::test]
async fn products_list_by_channel_assignment_and_orders_by_channel() {
    let api = start_seeded(SeedSpec {
        customers: 60,
        products: 30,
        orders: 80,
        lines_per_order: 1,
        ..SeedSpec::empty()
    })
    .await;
    // The assignments list: one row per product and channel, filterable both ways.
    let r = api
        .get("/v3/catalog/products/channel-assignments?limit=250")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let rows = r.json()["data"].as_array().unwrap().clone();
    assert_eq!(r.json()["meta"]["pagination"]["total"], rows.len());
    let on = |channel: i64| -> Vec<i64> {
        rows.iter()
            .filter(|a| a["channel_id"] == channel)
            .map(|a| a["product_id"].as_i64().unwrap())
            .collect()
    };
    let (ch1, ch2) = (on(1), on(2));
    assert!(!ch1.is_empty() && !ch2.is_empty());
    assert!(
        ch2.iter().any(|p| !ch1.contains(p)),
        "some on channel 2 only"
    );
    assert!(ch2.iter().any(|p| ch1.contains(p)), "some on both");
    let r = api
        .get("/v3/catalog/products/channel-assignments?channel_id:in=2&limit=250")
        .await;
    assert_eq!(data_ids_of(r.json(), "product_id"), ch2);
    // The products list's `channel_id:in` keeps the products assigned to any of them.
    let r = api
        .get("/v3/catalog/products?channel_id:in=2&limit=250")
        .await;
    assert_eq!(common::data_ids(r.json()), ch2);
    let r = api
        .get("/v3/catalog/products?channel_id:in=1,2&limit=250")
        .await;
    assert_eq!(r.json()["data"].as_array().unwrap().len(), 30);
    // A product created through the API is on channel 1.
    let r = api
        .post(
            "/v3/catalog/products",
            json!({"name": "Fresh", "type": "physical", "weight": 1, "price": 2}),
        )
        .await;
    assert!(r.status == 200 || r.status == 201, "{}", r.text);
    let id = r.json()["data"]["id"].as_i64().unwrap();
    let r = api
        .get(&format!(
            "/v3/catalog/products/channel-assignments?product_id:in={id}"
        ))
        .await;
    assert_eq!(
        r.json()["data"],
        json!([{"product_id": id, "channel_id": 1}])
    );
    // Orders of channel-2 customers are on channel 2; `channel_id` filters them.
    let r = api.get("/v2/orders?channel_id=2&limit=250").await;
    let ch2_orders = if r.status == 204 {
        Vec::new()
    } else {
        r.json().as_array().unwrap().clone()
    };
    assert!(!ch2_orders.is_empty());
    assert!(ch2_orders.iter().all(|o| o["channel_id"] == 2));
    let customers = api.get("/v3/customers?limit=250").await.json()["data"]
        .as_array()
        .unwrap()
        .clone();
    let ch2_customers: Vec<&Value> = customers
        .iter()
        .filter(|c| c["origin_channel_id"] == 2)
        .collect();
    assert!(!ch2_customers.is_empty());
    for o in &ch2_orders {
        assert!(ch2_customers.iter().any(|c| c["id"] == o["customer_id"]));
    }
}

fn data_ids_of(body: &Value, field: &str) -> Vec<i64> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a[field].as_i64().unwrap())
        .collect()
}
