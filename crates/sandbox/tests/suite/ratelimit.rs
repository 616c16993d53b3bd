//! Rate limits over real HTTP (docs/api-notes.md §0.7): quota headers on every authenticated
//! response, 429 in the V2 and V3 shapes once the quota is spent, recovery after the (scaled)
//! window, plan quotas, runtime settings, and per-endpoint concurrency caps.
#![allow(clippy::unwrap_used)]

use crate::common;

use std::time::Duration;

use bc_sandbox::{Plan, SandboxConfig};
use common::{Api, Resp, assert_v2_error, assert_v3_error};
use reqwest::Method;
use serde_json::json;

async fn start_plan(plan: Plan, time_scale: f64) -> Api {
    common::start(SandboxConfig {
        plan,
        time_scale,
        ..SandboxConfig::default()
    })
    .await
}

fn num(resp: &Resp, header: &str) -> u64 {
    resp.header(header)
        .unwrap_or_else(|| {
            panic!(
                "missing {header} (status {}): {:?}",
                resp.status, resp.headers
            )
        })
        .parse()
        .unwrap()
}

const QUOTA_HEADERS: [&str; 4] = [
    "x-rate-limit-time-window-ms",
    "x-rate-limit-time-reset-ms",
    "x-rate-limit-requests-quota",
    "x-rate-limit-requests-left",
];

#[tokio::test]
async fn every_response_carries_quota_headers_with_left_counting_down() {
    let api = start_plan(Plan::Standard, 1.0).await;
    // Existing routes of both generations and an unknown route: all are metered.
    let paths = [
        "/v2/time",
        "/v3/customers",
        "/v2/store",
        "/v3/no_such_thing",
        "/v2/time",
    ];
    for (i, path) in paths.iter().enumerate() {
        let resp = api.get(path).await;
        assert_eq!(num(&resp, "x-rate-limit-time-window-ms"), 30_000, "{path}");
        assert_eq!(num(&resp, "x-rate-limit-requests-quota"), 150, "{path}");
        assert_eq!(
            num(&resp, "x-rate-limit-requests-left"),
            149 - i as u64,
            "{path}"
        );
        let reset = num(&resp, "x-rate-limit-time-reset-ms");
        assert!(reset > 0 && reset <= 30_000, "{path}: reset {reset}");
        assert!(
            resp.header("x-retry-after").is_none(),
            "only 429s carry X-Retry-After"
        );
    }
}

#[tokio::test]
async fn spent_quota_gives_429_in_both_shapes_until_the_window_resets() {
    // 3 requests per 600 ms window: short, yet long enough for five local requests on a
    // loaded machine.
    let api = start_plan(Plan::Enterprise { quota: 3 }, 0.02).await;
    for _ in 0..3 {
        assert_ne!(api.get("/v2/time").await.status, 429);
    }
    let v2 = api.get("/v2/time").await;
    assert_v2_error(&v2, 429);
    let v3 = api.get("/v3/customers").await;
    assert_v3_error(&v3, 429);
    for resp in [&v2, &v3] {
        assert_eq!(num(resp, "x-rate-limit-requests-left"), 0);
        assert_eq!(num(resp, "x-rate-limit-requests-quota"), 3);
        assert_eq!(num(resp, "x-rate-limit-time-window-ms"), 600);
        let reset = num(resp, "x-rate-limit-time-reset-ms");
        assert!((1..=600).contains(&reset), "reset {reset}");
        assert_eq!(num(resp, "x-retry-after"), 1, "seconds, rounded up");
    }
    // A client that waits Reset-Ms gets through, with a fresh quota.
    tokio::time::sleep(Duration::from_millis(
        num(&v3, "x-rate-limit-time-reset-ms") + 20,
    ))
    .await;
    let after = api.get("/v2/time").await;
    assert_ne!(after.status, 429, "{}", after.text);
    assert_eq!(num(&after, "x-rate-limit-requests-left"), 2);

    let stats = api.admin(Method::GET, "/_sandbox/stats", None).await;
    assert_eq!(stats.json()["rate_limit"]["quota_429"], 2);
    assert_eq!(stats.json()["status_429"], 2);
}

/// Sends requests until the first 429 and returns how many got through.
async fn requests_until_429(api: &Api, max: usize) -> usize {
    for i in 0..max {
        if api.get("/v2/time").await.status == 429 {
            return i;
        }
    }
    max
}

#[tokio::test]
async fn pro_allows_three_times_the_standard_quota() {
    let api = start_plan(Plan::Standard, 1.0).await;
    assert_eq!(requests_until_429(&api, 500).await, 150);

    let put = api
        .admin(
            Method::PUT,
            "/_sandbox/ratelimit",
            Some(json!({ "plan": "pro" })),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text);
    assert_eq!(put.json()["settings"]["quota"], 450);
    let first = api.get("/v2/time").await;
    assert_eq!(num(&first, "x-rate-limit-requests-quota"), 450);
    assert_eq!(num(&first, "x-rate-limit-requests-left"), 449);
    assert_eq!(requests_until_429(&api, 1000).await, 449);
}

#[tokio::test]
async fn unlimited_plan_sends_no_quota_headers_and_never_429s() {
    let api = start_plan(Plan::Unlimited, 1.0).await;
    for _ in 0..300 {
        let resp = api.get("/v2/time").await;
        assert_ne!(resp.status, 429);
        for h in QUOTA_HEADERS {
            assert!(resp.header(h).is_none(), "{h} on an unlimited plan");
        }
    }
}

#[tokio::test]
async fn failed_auth_is_not_metered() {
    let api = start_plan(Plan::Standard, 1.0).await;
    let denied = api
        .call_with(Method::GET, "/v2/time", None, "not-a-token")
        .await;
    assert_eq!(denied.status, 401);
    for h in QUOTA_HEADERS {
        assert!(denied.header(h).is_none(), "{h} on a 401");
    }
    let ok = api.get("/v2/time").await;
    assert_eq!(
        num(&ok, "x-rate-limit-requests-left"),
        149,
        "the 401 must not use a unit"
    );
}

#[tokio::test]
async fn quota_settings_change_at_runtime() {
    let api = start_plan(Plan::Unlimited, 1.0).await;
    let put = api
        .admin(
            Method::PUT,
            "/_sandbox/ratelimit",
            Some(json!({ "plan": "standard", "time_scale": 0.01 })),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text);
    let got = api.admin(Method::GET, "/_sandbox/ratelimit", None).await;
    assert_eq!(got.json()["settings"]["plan"], "standard");
    assert_eq!(got.json()["settings"]["window_ms"], 300);
    let resp = api.get("/v2/time").await;
    assert_eq!(num(&resp, "x-rate-limit-time-window-ms"), 300);
    assert_eq!(num(&resp, "x-rate-limit-requests-left"), 149);

    let enterprise = api
        .admin(
            Method::PUT,
            "/_sandbox/ratelimit",
            Some(json!({ "plan": "enterprise", "quota": 7 })),
        )
        .await;
    assert_eq!(enterprise.json()["settings"]["plan"], "enterprise:7");

    for bad in [
        json!({ "plan": "gold" }),
        json!({ "time_scale": 0 }),
        json!({ "time_scale": -1.0 }),
        json!({ "plan": "pro", "quota": 5 }),
        json!({ "planet": "pro" }),
    ] {
        let resp = api
            .admin(Method::PUT, "/_sandbox/ratelimit", Some(bad.clone()))
            .await;
        assert_eq!(resp.status, 400, "{bad}: {}", resp.text);
        assert!(
            resp.json()["error"].as_str().unwrap().len() > 10,
            "{bad}: explain the fix"
        );
    }
}

async fn capped_in_flight(api: &Api, label: &str) -> u64 {
    let stats = api.admin(Method::GET, "/_sandbox/stats", None).await;
    stats.json()["rate_limit"]["capped_in_flight"][label]
        .as_u64()
        .unwrap_or(0)
}

async fn wait_for_in_flight(api: &Api, label: &str, n: u64) {
    for _ in 0..500 {
        if capped_in_flight(api, label).await == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{label} never reached {n} in flight");
}

#[tokio::test]
async fn a_fourth_concurrent_customer_update_gets_429() {
    let api = start_plan(Plan::Standard, 1.0).await;
    // Hold every PUT /v3/customers in the handler path for a while, inside the cap.
    let faults = api
        .admin(
            Method::PUT,
            "/_sandbox/faults",
            Some(json!({ "spec": "path=/v3/customers,method=PUT,slow=1:3000" })),
        )
        .await;
    assert_eq!(faults.status, 200, "{}", faults.text);

    let url = format!("{}/v3/customers", api.sandbox.store_url());
    let body = json!([{ "id": 1, "first_name": "Slow" }]);
    let held: Vec<_> = (0..3)
        .map(|_| {
            let req = api
                .http
                .put(&url)
                .header("X-Auth-Token", &api.token)
                .json(&body);
            tokio::spawn(async move { req.send().await.unwrap().status() })
        })
        .collect();
    wait_for_in_flight(&api, "PUT /v3/customers", 3).await;

    let fourth = api.put("/v3/customers", body.clone()).await;
    assert_v3_error(&fourth, 429);
    assert!(
        fourth.json()["title"]
            .as_str()
            .unwrap()
            .contains("concurrent"),
        "{}",
        fourth.text
    );
    assert!(
        fourth.header("x-retry-after").is_none(),
        "a cap 429 is not a quota 429"
    );
    assert!(
        num(&fourth, "x-rate-limit-requests-left") > 0,
        "the quota is not what refused it"
    );
    // Other endpoints are not affected by this cap.
    assert_ne!(api.get("/v3/customers").await.status, 429);

    for h in held {
        assert_ne!(
            h.await.unwrap(),
            429,
            "the first three hold slots and must be served"
        );
    }
    assert_eq!(
        capped_in_flight(&api, "PUT /v3/customers").await,
        0,
        "slots released"
    );
    api.admin(Method::DELETE, "/_sandbox/faults", None).await;
    assert_ne!(
        api.put("/v3/customers", body).await.status,
        429,
        "a slot is free again"
    );

    let stats = api.admin(Method::GET, "/_sandbox/stats", None).await;
    assert_eq!(stats.json()["rate_limit"]["concurrency_429"], 1);
}

#[tokio::test]
async fn category_tree_reads_are_one_at_a_time_and_v2_groups_cap_in_v2_shape() {
    let api = start_plan(Plan::Unlimited, 1.0).await;
    api.admin(
        Method::PUT,
        "/_sandbox/faults",
        Some(json!("path=/v3/catalog/trees,method=GET,slow=1:3000")),
    )
    .await;
    let url = format!("{}/v3/catalog/trees/1/categories", api.sandbox.store_url());
    let req = api.http.get(&url).header("X-Auth-Token", &api.token);
    let held = tokio::spawn(async move { req.send().await.unwrap().status() });
    wait_for_in_flight(&api, "GET /v3/catalog/trees/{tree_id}/categories", 1).await;
    // Any tree: the cap is per endpoint.
    assert_v3_error(&api.get("/v3/catalog/trees/2/categories").await, 429);
    assert_ne!(held.await.unwrap(), 429);

    // 40 customer-group requests in flight, the 41st refused in the V2 shape.
    api.admin(
        Method::PUT,
        "/_sandbox/faults",
        Some(json!("path=/v2/customer_groups,slow=1:3000")),
    )
    .await;
    let url = format!("{}/v2/customer_groups", api.sandbox.store_url());
    let held: Vec<_> = (0..40)
        .map(|_| {
            let req = api.http.get(&url).header("X-Auth-Token", &api.token);
            tokio::spawn(async move { req.send().await.unwrap().status() })
        })
        .collect();
    wait_for_in_flight(&api, "/v2/customer_groups", 40).await;
    assert_v2_error(&api.get("/v2/customer_groups").await, 429);
    for h in held {
        assert_ne!(h.await.unwrap(), 429);
    }
}
