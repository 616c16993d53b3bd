//! `bcsync listen` killed with SIGKILL three times while the store changes and delivers
//! events (retrying refused deliveries, as the store does): afterwards the tables equal a
//! full extraction of the store, deletions marked, no duplicates, nothing lost. Once on a
//! healthy store API and once with 10% injected faults.
//!
//! Deliveries are POSTed here in the documented shape (docs/api-notes.md §9.2), one per
//! store change, so each kill falls at a known point of the sequence;
//! listen_simulated_crash.rs does the same under the sandbox's own deliveries and traffic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::listen_support;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use bc_sandbox::{RunningSandbox, SeedSpec};
use listen_support::common::{self, api};
use listen_support::{
    assert_equals_full_extraction, free_port, payload, pending_events, rows_by_key, spawn_listener,
    try_deliver, wait_first_sync,
};
use reqwest::Method;
use serde_json::{Value, json};

fn seed() -> SeedSpec {
    SeedSpec {
        seed: 5,
        customers: 60,
        addresses_per_customer: 1,
        customer_groups: 2,
        products: 40,
        variants_per_product: 2,
        images_per_product: 1,
        custom_fields_per_product: 1,
        categories: 3,
        brands: 2,
        orders: 80,
        lines_per_order: 2,
        coupons: 2,
        history_days: 10,
    }
}

/// One store change and the event it fires.
async fn change(sb: &RunningSandbox, i: u64, orders: &[i64]) -> Value {
    let hash = sb.store_hash().to_owned();
    let (scope, data) = match i % 6 {
        0 => {
            let id = 1 + (i % 50);
            let (s, _) = api(
                sb,
                Method::PUT,
                "/v3/customers",
                Some(json!([{"id": id, "first_name": format!("N{i}")}])),
            )
            .await;
            assert_eq!(s, 200);
            (
                "store/customer/updated",
                json!({"type": "customer", "id": id}),
            )
        }
        1 => {
            let id = 1 + (i % 35);
            let (s, _) = api(
                sb,
                Method::PUT,
                "/v3/catalog/products",
                Some(json!([{"id": id, "price": 10.0 + i as f64}])),
            )
            .await;
            assert_eq!(s, 200);
            (
                "store/product/updated",
                json!({"type": "product", "id": id}),
            )
        }
        2 => {
            let id = orders[(i as usize) % 40];
            let (s, _) = api(
                sb,
                Method::PUT,
                &format!("/v2/orders/{id}"),
                Some(json!({"status_id": 2 + (i % 9)})),
            )
            .await;
            assert_eq!(s, 200);
            (
                "store/order/statusUpdated",
                json!({"type": "order", "id": id}),
            )
        }
        3 => {
            let (s, body) = api(sb, Method::POST, "/v3/customers", Some(json!([{"email": format!("c{i}@crash.test"), "first_name": "C", "last_name": format!("{i}")}]))).await;
            assert_eq!(s, 200);
            let id = body.unwrap()["data"][0]["id"].as_i64().unwrap();
            (
                "store/customer/created",
                json!({"type": "customer", "id": id}),
            )
        }
        4 => {
            let id = 51 + (i / 6) % 9;
            let (s, _) = api(
                sb,
                Method::DELETE,
                &format!("/v3/customers?id:in={id}"),
                None,
            )
            .await;
            assert!(s < 300 || s == 404, "{s}");
            (
                "store/customer/deleted",
                json!({"type": "customer", "id": id}),
            )
        }
        _ => {
            let id = orders[40 + (i as usize / 6) % 30];
            let (s, _) = api(sb, Method::DELETE, &format!("/v2/orders/{id}"), None).await;
            assert!(s < 300 || s == 404);
            ("store/order/archived", json!({"type": "order", "id": id}))
        }
    };
    payload(&hash, scope, data, i)
}

async fn run_with_kills(faults: Option<&str>) {
    let sb = common::sandbox(seed()).await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let orders: Vec<i64> = common::list_all(&sb, "v2", "/orders", "")
        .await
        .iter()
        .map(|o| o["id"].as_i64().unwrap())
        .collect();
    assert!(orders.len() >= 70);
    if let Some(spec) = faults {
        common::set_faults(&sb, spec).await;
    }
    let mut child = spawn_listener(&sb, dir.path(), port, &["--coalesce", "50ms"]);
    // The first gap poll reads every seeded customer, so each deletion below has a row to
    // mark (a customer deleted before the listener ever read it has none, as in a full
    // extraction).
    wait_first_sync(dir.path()).await;
    let mut undelivered: VecDeque<Value> = VecDeque::new();
    let actions = 60u64;
    for i in 0..actions {
        undelivered.push_back(change(&sb, i, &orders).await);
        // Deliver what is waiting; what the listener refuses or misses stays for later.
        while let Some(e) = undelivered.front() {
            if try_deliver(addr, e).await {
                undelivered.pop_front();
            } else {
                break;
            }
        }
        if i % 20 == 10 {
            // SIGKILL: no shutdown, no drain.
            child.kill().unwrap();
            child.wait().unwrap();
            child = spawn_listener(&sb, dir.path(), port, &["--coalesce", "50ms"]);
        }
    }
    // Retry what was refused while the listener was down, as the store does.
    for _ in 0..600 {
        while let Some(e) = undelivered.front() {
            if try_deliver(addr, e).await {
                undelivered.pop_front();
            } else {
                break;
            }
        }
        if undelivered.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(undelivered.is_empty(), "the listener never came back");
    for _ in 0..1800 {
        if pending_events(dir.path()) == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        pending_events(dir.path()),
        0,
        "every acknowledged event applied"
    );
    // A graceful stop (SIGTERM) drains and closes the destination.
    common::sigterm(child.id());
    child.wait().unwrap();
    if faults.is_some() {
        common::clear_faults(&sb).await;
    }
    let listened = assert_equals_full_extraction(&sb, dir.path()).await;
    let marked_customers = rows_by_key(&listened, "customers", false).len();
    assert!(
        marked_customers >= 5,
        "deleted customers are marked ({marked_customers})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_kills_lose_nothing_acknowledged() {
    run_with_kills(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_kills_under_ten_percent_faults_lose_nothing() {
    run_with_kills(Some("seed=9,500=0.04,503=0.03,reset=0.03,path=/v3/customers,path=/v3/catalog/products,path=/v2/orders,method=GET")).await;
}
