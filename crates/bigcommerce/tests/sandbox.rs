//! The client against the real sandbox (`bc_sandbox`) over HTTP: connection checks,
//! pacing by the sandbox's rate-limit headers, recovery from injected faults, and paging
//! of seeded collections. The sandbox is built from docs/api-notes.md independently of this client,
//! so agreement here is evidence both read the API the same way.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use bc_sandbox::faults::FaultConfig;
use bc_sandbox::{Plan, RunningSandbox, SandboxConfig, SeedSpec, TokenConfig};
use bigcommerce::{ApiRequest, ApiVersion, Client, ClientConfig, Error, SecretString};
use futures::TryStreamExt;
use serde_json::json;

async fn start(config: SandboxConfig) -> RunningSandbox {
    bc_sandbox::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn client_config(sb: &RunningSandbox, hash: &str, token: &str) -> ClientConfig {
    ClientConfig {
        max_retries: 5,
        retry_base_delay: Duration::from_millis(5),
        retry_max_delay: Duration::from_millis(50),
        ..ClientConfig::new(hash, SecretString::from(token.to_owned())).with_base_url(sb.base_url())
    }
}

fn client(sb: &RunningSandbox) -> Client {
    Client::new(client_config(sb, sb.store_hash(), sb.token())).unwrap()
}

fn with_faults(spec: &str) -> SandboxConfig {
    SandboxConfig {
        faults: FaultConfig::parse(spec).unwrap(),
        ..SandboxConfig::default()
    }
}

fn statuses(sb: &RunningSandbox) -> Vec<u16> {
    sb.state.log.entries().iter().map(|e| e.status).collect()
}

#[tokio::test]
async fn bad_token_fails_at_once_with_one_request() {
    let sb = start(SandboxConfig::default()).await;
    let client = Client::new(client_config(&sb, sb.store_hash(), "not-the-token")).unwrap();
    let started = Instant::now();
    let err = client.get(ApiVersion::V2, "/store", &[]).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    assert_eq!(sb.state.log.entries().len(), 1);
    assert!(!format!("{err} {err:?}").contains("not-the-token"));
}

#[tokio::test]
async fn wrong_store_hash_is_not_found_and_says_so() {
    let sb = start(SandboxConfig::default()).await;
    let client = Client::new(client_config(&sb, "wronghash", sb.token())).unwrap();
    let err = client.get(ApiVersion::V2, "/store", &[]).await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("store hash"), "{err}");
    assert_eq!(sb.state.log.entries().len(), 1);
}

#[tokio::test]
async fn connection_test_reads_store_and_time() {
    let sb = start(SandboxConfig::default()).await;
    let client = client(&sb);
    let store = client.get(ApiVersion::V2, "/store", &[]).await.unwrap();
    let body = store.body.unwrap();
    assert_eq!(body["id"], json!(sb.store_hash()));
    let time = client.get(ApiVersion::V2, "/time", &[]).await.unwrap();
    assert!(time.body.unwrap()["time"].as_i64().unwrap() > 1_600_000_000);
}

#[tokio::test]
async fn missing_scope_is_forbidden_and_names_the_scope() {
    let sb = start(SandboxConfig {
        tokens: vec![TokenConfig::parse("narrow:store_v2_customers_read_only").unwrap()],
        ..SandboxConfig::default()
    })
    .await;
    let client = client(&sb);
    let err = client
        .get(ApiVersion::V2, "/orders", &[])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }), "{err:?}");
    assert!(
        err.to_string().contains("store_v2_orders_read_only"),
        "{err}"
    );
    assert_eq!(sb.state.log.entries().len(), 1);
}

#[tokio::test]
async fn pacing_on_the_standard_plan_sees_no_429() {
    // 150 requests per 0.3 s window: 400 requests span three windows.
    let sb = start(SandboxConfig {
        plan: Plan::Standard,
        time_scale: 0.01,
        ..SandboxConfig::default()
    })
    .await;
    let client = client(&sb);
    let started = Instant::now();
    let tasks: Vec<_> = (0..400)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.get(ApiVersion::V2, "/time", &[]).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let wall = started.elapsed();
    assert_eq!(
        sb.state.log.count_status(429),
        0,
        "stats: {:?}",
        client.stats()
    );
    assert_eq!(sb.state.log.entries().len(), 400);
    let limit = client.rate_limit();
    assert_eq!(limit.quota, Some(150));
    // For information only: speed is judged by the benchmark, not here.
    eprintln!("400 requests on Standard at time_scale 0.01 took {wall:?}");
}

#[tokio::test]
async fn two_apps_sharing_the_quota_both_finish() {
    // Two clients (two apps, each with its own pacer) on one store's quota of 30 per
    // 0.3 s: neither knows what the other has in flight, so quota 429s can happen; each
    // must wait for the reset and finish.
    let sb = start(SandboxConfig {
        plan: Plan::Enterprise { quota: 30 },
        time_scale: 0.01,
        ..SandboxConfig::default()
    })
    .await;
    let apps = [client(&sb), client(&sb)];
    let tasks: Vec<_> = (0..120)
        .map(|i| {
            let client = apps[i % 2].clone();
            tokio::spawn(async move { client.get(ApiVersion::V2, "/time", &[]).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let ok = sb.state.log.count_status(200);
    assert_eq!(ok, 120);
    eprintln!("two apps: {} quota 429s", sb.state.log.count_status(429));
}

#[tokio::test]
async fn injected_server_errors_are_retried() {
    let sb = start(with_faults("503@1..2,path=/v2/time")).await;
    let client = client(&sb);
    client.get(ApiVersion::V2, "/time", &[]).await.unwrap();
    assert_eq!(statuses(&sb), vec![503, 503, 200]);
    assert_eq!(client.stats().retries, 2);
}

#[tokio::test]
async fn a_429_burst_without_headers_recovers() {
    let sb = start(with_faults("burst429=3@1")).await;
    let client = client(&sb);
    client.get(ApiVersion::V2, "/time", &[]).await.unwrap();
    assert_eq!(statuses(&sb), vec![429, 429, 429, 200]);
    assert_eq!(client.stats().rate_limited, 3);
}

#[tokio::test]
async fn truncated_and_reset_answers_are_retried_for_gets() {
    let sb = start(with_faults("truncate@1,reset@2")).await;
    let client = client(&sb);
    let store = client.get(ApiVersion::V2, "/store", &[]).await.unwrap();
    assert!(store.body.is_some());
    assert_eq!(client.stats().requests, 3);
    assert_eq!(client.stats().transport_errors, 2);
}

#[tokio::test]
async fn a_failed_post_is_not_repeated() {
    let sb = start(with_faults("503@1")).await;
    let client = client(&sb);
    let body = json!([{"email": "a@example.com", "first_name": "A", "last_name": "B"}]);
    let err = client
        .send(ApiRequest::post(ApiVersion::V3, "/customers", body))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Server { status: 503, .. }), "{err:?}");
    assert_eq!(sb.state.log.entries().len(), 1);
}

fn seeded(seed: SeedSpec) -> SandboxConfig {
    SandboxConfig {
        seed,
        ..SandboxConfig::default()
    }
}

fn small_store() -> SeedSpec {
    SeedSpec {
        customers: 7,
        addresses_per_customer: 1,
        customer_groups: 1,
        products: 7,
        variants_per_product: 1,
        categories: 2,
        brands: 2,
        orders: 7,
        lines_per_order: 1,
        ..SeedSpec::empty()
    }
}

#[tokio::test]
async fn v2_orders_page_until_a_short_page() {
    let sb = start(seeded(small_store())).await;
    let client = client(&sb);
    let pages: Vec<_> = client
        .v2_pages("/orders", vec![], 3)
        .try_collect()
        .await
        .unwrap();
    let ids: BTreeSet<u64> = pages
        .iter()
        .flat_map(|p| p.items.iter().map(|o| o["id"].as_u64().unwrap()))
        .collect();
    assert_eq!(ids.len(), 7);
    assert_eq!(sb.state.log.entries().len(), 3);
}

#[tokio::test]
async fn v2_orders_end_on_a_204_after_a_full_page() {
    let sb = start(seeded(small_store())).await;
    let client = client(&sb);
    let pages: Vec<_> = client
        .v2_pages("/orders", vec![], 7)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages.iter().map(|p| p.items.len()).sum::<usize>(), 7);
    assert_eq!(statuses(&sb), vec![200, 204]);
}

#[tokio::test]
async fn v3_products_page_by_total_pages() {
    let sb = start(seeded(small_store())).await;
    let client = client(&sb);
    let pages: Vec<_> = client
        .v3_pages("/catalog/products", vec![], 3)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages.len(), 3);
    assert_eq!(pages[0].meta.total, Some(7));
    let ids: BTreeSet<u64> = pages
        .iter()
        .flat_map(|p| p.items.iter().map(|o| o["id"].as_u64().unwrap()))
        .collect();
    assert_eq!(ids.len(), 7);
    assert_eq!(sb.state.log.entries().len(), 3);
}

#[tokio::test]
async fn v3_customers_page_by_cursor() {
    let sb = start(seeded(small_store())).await;
    let client = client(&sb);
    let pages: Vec<_> = client
        .v3_cursor_pages("/customers", vec![], 3)
        .try_collect()
        .await
        .unwrap();
    let ids: BTreeSet<u64> = pages
        .iter()
        .flat_map(|p| p.items.iter().map(|o| o["id"].as_u64().unwrap()))
        .collect();
    assert_eq!(ids.len(), 7);
    assert_eq!(pages[0].meta.total, Some(7));
    let log = sb.state.log.entries();
    assert_eq!(log.len(), 3);
    assert!(log[1].query.contains("after="), "{:?}", log[1]);
}

#[tokio::test]
async fn invalid_customer_is_a_422_with_field_errors() {
    let sb = start(SandboxConfig::default()).await;
    let client = client(&sb);
    let body = json!([{"email": "not-an-email", "first_name": "A", "last_name": "B"}]);
    let err = client
        .send(ApiRequest::post(ApiVersion::V3, "/customers", body))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422), "{err:?}");
    assert!(
        !err.field_errors().is_empty() || err.title().is_some(),
        "{err:?}"
    );
    assert_eq!(sb.state.log.entries().len(), 1);
}
