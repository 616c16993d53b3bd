//! The storefront simulator over real HTTP: the same seed on the same store gives the
//! same actions with the same targets; the mix follows 30/30/20/20; the actions land in
//! the store (carts, orders, customers) as API calls would; runs start, report and stop
//! through `/_sandbox/simulate`.
#![allow(clippy::unwrap_used)]

use crate::common;

use std::time::Duration;

use bc_sandbox::SeedSpec;
use reqwest::Method;
use serde_json::{Value, json};

fn store() -> SeedSpec {
    SeedSpec {
        customers: 30,
        addresses_per_customer: 1,
        products: 15,
        variants_per_product: 0,
        orders: 30,
        lines_per_order: 2,
        ..SeedSpec::empty()
    }
}

/// Starts a run of `actions` at a high rate and waits for it to finish.
async fn run(api: &common::Api, actions: u64, seed: u64) -> Value {
    let r = api
        .admin(
            Method::POST,
            "/_sandbox/simulate",
            Some(json!({"rate": 2000, "actions": actions, "seed": seed})),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    for _ in 0..3000 {
        let s = api
            .admin(Method::GET, "/_sandbox/simulate?since_seq=0", None)
            .await;
        if s.json()["running"] == false {
            return s.json().clone();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the simulation of {actions} actions did not finish");
}

async fn counts(api: &common::Api) -> Value {
    api.admin(Method::GET, "/_sandbox/counts", None)
        .await
        .json()
        .clone()
}

/// The log without timestamps.
fn actions(status: &Value) -> Vec<(String, String, u64)> {
    status["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().unwrap().to_owned(),
                a["target"].as_str().unwrap().to_owned(),
                a["status"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn same_seed_same_actions() {
    let a = common::start_seeded(store()).await;
    let b = common::start_seeded(store()).await;
    let (ra, rb) = (run(&a, 300, 11).await, run(&b, 300, 11).await);
    assert_eq!(ra["actions"], 300);
    let (la, lb) = (actions(&ra), actions(&rb));
    assert_eq!(la.len(), 300);
    assert_eq!(la, lb, "same seed and store, same actions and targets");
    // And the stores end up alike.
    assert_eq!(counts(&a).await, counts(&b).await);

    // Another seed takes other actions.
    let c = common::start_seeded(store()).await;
    let rc = run(&c, 300, 12).await;
    assert_ne!(actions(&rc), la);
}

#[tokio::test]
async fn the_mix_and_its_effects_on_the_store() {
    let api = common::start_seeded(store()).await;
    let before = api
        .admin(Method::GET, "/_sandbox/counts", None)
        .await
        .json()
        .clone();
    let status = run(&api, 1000, 5).await;
    assert_eq!(status["actions"], 1000);
    let family = |f: &str| status["by_family"][f].as_u64().unwrap_or(0) as f64 / 10.0;
    for (f, share) in [
        ("cart", 30.0),
        ("order", 30.0),
        ("customer", 20.0),
        ("product", 20.0),
    ] {
        assert!(
            (family(f) - share).abs() < 5.0,
            "{f}: {}% of actions, expected about {share}%: {status}",
            family(f)
        );
    }
    let kind = |k: &str| status["by_kind"][k].as_u64().unwrap_or(0);
    for k in [
        "cart_created",
        "cart_converted",
        "cart_abandoned",
        "order_created",
        "order_status_changed",
        "order_archived",
        "customer_created",
        "customer_updated",
        "stock_set",
        "stock_adjusted",
        "product_updated",
    ] {
        assert!(kind(k) > 0, "no {k} in {status}");
    }
    // Most actions succeed; the few refusals are honest ones (e.g. a deleted product).
    assert!(
        status["failed"].as_u64().unwrap() < 100,
        "too many refused actions: {status}"
    );

    let after = api
        .admin(Method::GET, "/_sandbox/counts", None)
        .await
        .json()
        .clone();
    let n = |v: &Value, k: &str| v[k].as_i64().unwrap();
    assert!(n(&after, "orders") > n(&before, "orders"));
    assert!(n(&after, "orders_archived") > n(&before, "orders_archived"));
    assert!(n(&after, "carts_converted") > 0);
    assert!(n(&after, "carts") <= 200, "at most 200 open carts");
    // Every converted cart points at an order that exists.
    let converted = api
        .admin(Method::GET, "/_sandbox/carts?state=converted", None)
        .await;
    for cart in converted.json()["carts"].as_array().unwrap() {
        let id = cart["order_id"].as_i64().unwrap();
        assert_eq!(api.get(&format!("/v2/orders/{id}")).await.status, 200);
    }
    // The API's own request log saw none of this: simulated actions are not API calls.
    let stats = api.admin(Method::GET, "/_sandbox/stats", None).await;
    let api_calls = stats.json()["total_requests"].as_u64().unwrap();
    assert!(api_calls < 1000, "{api_calls} logged requests");
}

#[tokio::test]
async fn runs_are_validated_reported_and_stopped() {
    let api = common::start_seeded(store()).await;
    let bad = api
        .admin(Method::POST, "/_sandbox/simulate", Some(json!({"rate": 0})))
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.json()["error"].as_str().unwrap().contains("rate"));

    let r = api
        .admin(
            Method::POST,
            "/_sandbox/simulate",
            Some(json!({"rate": 50})),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let again = api
        .admin(
            Method::POST,
            "/_sandbox/simulate",
            Some(json!({"rate": 50})),
        )
        .await;
    assert_eq!(again.status, 409);
    // Wait until something happened, then stop.
    for _ in 0..500 {
        let s = api.admin(Method::GET, "/_sandbox/simulate", None).await;
        if s.json()["actions"].as_u64().unwrap() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stopped = api.admin(Method::DELETE, "/_sandbox/simulate", None).await;
    assert_eq!(stopped.json()["running"], false);
    let n = stopped.json()["actions"].as_u64().unwrap();
    assert!(n >= 3);
    let log = api
        .admin(Method::GET, "/_sandbox/simulate?since_seq=1&limit=2", None)
        .await;
    let entries = log.json()["log"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["seq"], 2);
    assert!(entries[0]["at_ms"].as_i64().unwrap() > 0);
    // A new run may start once the last one stopped.
    let next = api
        .admin(
            Method::POST,
            "/_sandbox/simulate",
            Some(json!({"rate": 1000, "actions": 5})),
        )
        .await;
    assert_eq!(next.status, 202, "{}", next.text);
    assert_eq!(next.json()["run"], 2);
}
