//! The admin API over real HTTP: the request log and its filters, running statistics,
//! clearing, and the guarantee that `/_sandbox/*` is neither authenticated, metered nor
//! logged.
#![allow(clippy::unwrap_used)]

use crate::common;

use bc_sandbox::{Plan, SandboxConfig};
use reqwest::Method;
use serde_json::Value;

fn seqs(log: &Value) -> Vec<u64> {
    log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn log_filters_by_seq_and_path_prefix() {
    let api = common::start(SandboxConfig::default()).await;
    for path in [
        "/v2/time",
        "/v2/orders?limit=5",
        "/v3/customers",
        "/v2/orders/1/products",
    ] {
        api.get(path).await;
    }
    let all = api.admin(Method::GET, "/_sandbox/requests", None).await;
    assert_eq!(seqs(all.json()), vec![1, 2, 3, 4]);
    assert_eq!(all.json()["requests"][1]["query"], "limit=5");
    assert_eq!(all.json()["requests"][1]["method"], "GET");

    let since = api
        .admin(Method::GET, "/_sandbox/requests?since_seq=2", None)
        .await;
    assert_eq!(seqs(since.json()), vec![3, 4]);
    let orders = api
        .admin(
            Method::GET,
            "/_sandbox/requests?path_prefix=/v2/orders",
            None,
        )
        .await;
    assert_eq!(seqs(orders.json()), vec![2, 4]);
    let both = api
        .admin(
            Method::GET,
            "/_sandbox/requests?since_seq=2&path_prefix=/v2&limit=1",
            None,
        )
        .await;
    assert_eq!(seqs(both.json()), vec![4]);
}

#[tokio::test]
async fn stats_count_statuses_routes_and_peak_in_flight() {
    let api = common::start(SandboxConfig {
        plan: Plan::Enterprise { quota: 4 },
        ..SandboxConfig::default()
    })
    .await;
    api.get("/v2/orders/1").await;
    api.get("/v2/orders/2").await;
    api.get("/v2/time").await;
    api.call_with(Method::GET, "/v2/time", None, "wrong").await;
    api.get("/v3/customers").await;
    api.get("/v3/customers").await; // 5th authenticated request: over the quota of 4

    let stats = api.admin(Method::GET, "/_sandbox/stats", None).await;
    let s = stats.json();
    assert_eq!(s["total_requests"], 6, "{}", stats.text);
    assert_eq!(s["by_route"]["GET /v2/orders/{id}"], 2, "{}", stats.text);
    assert_eq!(s["by_route"]["GET /v2/time"], 2);
    assert_eq!(s["by_route"]["GET /v3/customers"], 2);
    assert_eq!(s["by_status"]["401"], 1);
    assert_eq!(s["by_status"]["429"], 1);
    assert_eq!(s["status_429"], 1);
    assert_eq!(s["rate_limit"]["quota_429"], 1);
    assert!(s["peak_in_flight"].as_u64().unwrap() >= 1);
    assert_eq!(s["in_flight"], 0);
    assert_eq!(s["log"]["retained"], 6);

    assert_eq!(
        api.admin(Method::DELETE, "/_sandbox/stats", None)
            .await
            .status,
        204
    );
    let cleared = api.admin(Method::GET, "/_sandbox/stats", None).await;
    assert_eq!(cleared.json()["total_requests"], 0);
    assert_eq!(cleared.json()["rate_limit"]["quota_429"], 0);
    let log = api.admin(Method::GET, "/_sandbox/requests", None).await;
    assert_eq!(log.json()["total"], 0);
    assert_eq!(
        log.json()["last_seq"],
        6,
        "sequence numbers are never reused"
    );
}

#[tokio::test]
async fn admin_routes_need_no_token_are_not_metered_and_not_logged() {
    let api = common::start(SandboxConfig {
        plan: Plan::Enterprise { quota: 1 },
        ..SandboxConfig::default()
    })
    .await;
    for _ in 0..5 {
        let resp = api.admin(Method::GET, "/_sandbox/counts", None).await;
        assert_eq!(resp.status, 200);
        assert!(resp.header("x-rate-limit-requests-left").is_none());
    }
    let first = api.get("/v2/time").await;
    assert_eq!(
        first.header("x-rate-limit-requests-left"),
        Some("0"),
        "admin calls used no quota"
    );
    let log = api.admin(Method::GET, "/_sandbox/requests", None).await;
    assert_eq!(log.json()["total"], 1);
}

#[tokio::test]
async fn reset_clears_the_log_counters_and_quota_window() {
    let api = common::start(SandboxConfig {
        plan: Plan::Enterprise { quota: 2 },
        ..SandboxConfig::default()
    })
    .await;
    for _ in 0..3 {
        api.get("/v2/time").await;
    }
    assert_eq!(api.get("/v2/time").await.status, 429);
    assert_eq!(
        api.admin(Method::POST, "/_sandbox/reset", None)
            .await
            .status,
        204
    );
    let stats = api.admin(Method::GET, "/_sandbox/stats", None).await;
    assert_eq!(stats.json()["total_requests"], 0);
    let after = api.get("/v2/time").await;
    assert_ne!(after.status, 429);
    assert_eq!(after.header("x-rate-limit-requests-left"), Some("1"));
}
