//! Fault injection over real HTTP: every kind is seen by reqwest the way a client would
//! meet it on the real platform, outcomes are reproducible from the seed, and faults are
//! set, replaced and cleared at runtime without touching the admin API.
#![allow(clippy::unwrap_used)]

use crate::common;

use std::time::{Duration, Instant};

use bc_sandbox::faults::FaultConfig;
use bc_sandbox::{Plan, SandboxConfig};
use common::{Api, assert_v2_error, assert_v3_error};
use reqwest::Method;
use serde_json::{Value, json};

async fn set_faults(api: &Api, spec: &str) {
    let resp = api
        .admin(
            Method::PUT,
            "/_sandbox/faults",
            Some(json!({ "spec": spec })),
        )
        .await;
    assert_eq!(resp.status, 200, "{spec}: {}", resp.text);
}

/// A raw GET that keeps transport errors instead of panicking on them: the status and the
/// length of the body, or the error that cut either short.
async fn raw_get(
    api: &Api,
    path: &str,
) -> Result<(u16, Result<usize, reqwest::Error>), reqwest::Error> {
    let url = format!("{}{path}", api.sandbox.store_url());
    let resp = api
        .http
        .get(url)
        .header("X-Auth-Token", &api.token)
        .send()
        .await?;
    let status = resp.status().as_u16();
    let body = resp.bytes().await.map(|b| b.len());
    Ok((status, body))
}

#[tokio::test]
async fn error_statuses_arrive_in_the_shape_of_the_path() {
    let api = common::start(SandboxConfig::default()).await;
    for status in [500u16, 502, 503, 504] {
        set_faults(&api, &format!("{status}@1..2")).await;
        assert_v3_error(&api.get("/v3/customers").await, status);
        assert_v2_error(&api.get("/v2/time").await, status);
        assert_ne!(
            api.get("/v2/time").await.status.as_u16(),
            status,
            "only requests 1 and 2 fail"
        );
    }
    let stats = api.admin(Method::GET, "/_sandbox/stats", None).await;
    for kind in ["500", "502", "503", "504"] {
        assert_eq!(
            stats.json()["faults_injected"][kind],
            2,
            "{kind}: {}",
            stats.text
        );
    }
}

#[tokio::test]
async fn injected_429_carries_no_rate_limit_headers() {
    let api = common::start(SandboxConfig {
        plan: Plan::Standard,
        ..SandboxConfig::default()
    })
    .await;
    set_faults(&api, "429@1").await;
    let platform = api.get("/v3/customers").await;
    assert_v3_error(&platform, 429);
    let names: Vec<&str> = platform.headers.keys().map(|k| k.as_str()).collect();
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("x-rate-limit") || *n == "x-retry-after"),
        "{names:?}"
    );
    let normal = api.get("/v3/customers").await;
    assert_ne!(normal.status, 429);
    assert!(normal.header("x-rate-limit-requests-left").is_some());
}

#[tokio::test]
async fn slow_waits_then_answers_normally() {
    let api = common::start(SandboxConfig::default()).await;
    let baseline = api.get("/v2/store").await;
    set_faults(&api, "slow@1:400").await;
    let started = Instant::now();
    let slow = api.get("/v2/store").await;
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(slow.status, baseline.status);
    assert_eq!(slow.text, baseline.text);
    let log = api.admin(Method::GET, "/_sandbox/requests", None).await;
    assert_eq!(log.json()["requests"][1]["fault"], "slow");
}

#[tokio::test]
async fn reset_drops_the_connection_without_a_response() {
    let api = common::start(SandboxConfig::default()).await;
    set_faults(&api, "reset@1").await;
    match raw_get(&api, "/v2/store").await {
        Err(e) => assert!(!e.is_status(), "a transport error, not a status: {e:?}"),
        Ok((status, body)) => panic!("expected no response, got {status} with body {body:?}"),
    }
    // The server is not wedged and the next request is whole.
    let (_, body) = raw_get(&api, "/v2/store").await.unwrap();
    assert!(body.is_ok());
}

#[tokio::test]
async fn truncate_sends_the_head_then_half_a_body() {
    let api = common::start(SandboxConfig::default()).await;
    let whole = api.get("/v2/store").await;
    set_faults(&api, "truncate@1").await;
    let url = format!("{}/v2/store", api.sandbox.store_url());
    let resp = api
        .http
        .get(url)
        .header("X-Auth-Token", &api.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), whole.status, "the head is the real one");
    assert_eq!(
        resp.content_length(),
        Some(whole.text.len() as u64),
        "full Content-Length is promised"
    );
    let err = resp.bytes().await.unwrap_err();
    assert!(
        err.is_body() || err.is_decode() || err.is_request(),
        "{err:?}"
    );
    assert!(raw_get(&api, "/v2/store").await.unwrap().1.is_ok());
}

/// The sequence of outcomes for `n` sequential requests: a status, or "err".
async fn outcomes(spec: &str, n: usize) -> Vec<String> {
    let api = common::start(SandboxConfig {
        faults: FaultConfig::parse(spec).unwrap(),
        ..SandboxConfig::default()
    })
    .await;
    let mut seen = Vec::with_capacity(n);
    for _ in 0..n {
        seen.push(match raw_get(&api, "/v2/time").await {
            Ok((status, Ok(_))) => status.to_string(),
            Ok((status, Err(_))) => format!("{status}+cut"),
            Err(_) => "err".to_owned(),
        });
    }
    seen
}

#[tokio::test]
async fn the_same_seed_gives_the_same_sequence() {
    let spec = "seed=42,500=0.15,503=0.15,429=0.1,reset=0.05,truncate=0.05";
    let first = outcomes(spec, 80).await;
    let second = outcomes(spec, 80).await;
    assert_eq!(first, second);
    let distinct: std::collections::BTreeSet<&String> = first.iter().collect();
    assert!(
        distinct.len() >= 5,
        "a 50% fault mix over 80 requests shows its kinds: {first:?}"
    );
    let other_seed = outcomes(
        "seed=43,500=0.15,503=0.15,429=0.1,reset=0.05,truncate=0.05",
        80,
    )
    .await;
    assert_ne!(first, other_seed);
}

#[tokio::test]
async fn faults_are_set_shown_replaced_and_cleared_at_runtime() {
    let api = common::start(SandboxConfig::default()).await;
    let empty = api.admin(Method::GET, "/_sandbox/faults", None).await;
    assert_eq!(empty.json()["spec"], "none");

    // Plain-text spec.
    let url = format!("{}/_sandbox/faults", api.sandbox.base_url());
    let put = api
        .http
        .put(&url)
        .body("seed=9, 503@every2")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let shown = api.admin(Method::GET, "/_sandbox/faults", None).await;
    assert_eq!(shown.json()["spec"], "seed=9,503@every2");
    assert_ne!(api.get("/v2/time").await.status, 503);
    assert_v2_error(&api.get("/v2/time").await, 503);
    assert_eq!(
        api.admin(Method::GET, "/_sandbox/faults", None)
            .await
            .json()["requests_seen"],
        2
    );

    // Structured JSON, as GET shows it.
    let config: Value = json!({ "rules": [{ "kind": "500", "trigger": { "at": 1 } }] });
    assert_eq!(
        api.admin(Method::PUT, "/_sandbox/faults", Some(config))
            .await
            .status,
        200
    );
    assert_v3_error(&api.get("/v3/customers").await, 500);

    // A bad spec is refused with the token and the fix, and the old config stays.
    set_faults(&api, "504@every1").await;
    let bad = api
        .admin(Method::PUT, "/_sandbox/faults", Some(json!("500=2")))
        .await;
    assert_eq!(bad.status, 400);
    let msg = bad.json()["error"].as_str().unwrap();
    assert!(
        msg.contains("\"500=2\"") && msg.contains("between 0 and 1"),
        "{msg}"
    );
    assert_v3_error(&api.get("/v3/customers").await, 504);

    assert_eq!(
        api.admin(Method::DELETE, "/_sandbox/faults", None)
            .await
            .status,
        204
    );
    for _ in 0..5 {
        assert_ne!(api.get("/v3/customers").await.status, 504);
    }
}

#[tokio::test]
async fn path_and_method_filters_limit_faults_and_admin_is_never_faulted() {
    let api = common::start(SandboxConfig::default()).await;
    set_faults(&api, "path=/v2/orders,method=GET,500=1").await;
    assert_ne!(api.get("/v2/time").await.status, 500);
    assert_ne!(api.get("/v3/customers").await.status, 500);
    assert_ne!(
        api.delete("/v2/orders/999999").await.status,
        500,
        "method filter"
    );
    assert_v2_error(&api.get("/v2/orders").await, 500);
    assert_v2_error(&api.get("/v2/orders/1/products").await, 500);

    // Even a fault on every request leaves the admin API alone.
    set_faults(&api, "reset=1").await;
    for path in [
        "/_sandbox/stats",
        "/_sandbox/requests",
        "/_sandbox/faults",
        "/_sandbox/counts",
    ] {
        assert_eq!(
            api.admin(Method::GET, path, None).await.status,
            200,
            "{path}"
        );
    }
    let stats = api.admin(Method::GET, "/_sandbox/stats", None).await;
    assert_eq!(stats.json()["faults_injected"]["500"], 2, "{}", stats.text);
    assert_eq!(stats.json()["faults_injected"]["reset"], 0);
}

#[tokio::test]
async fn faults_given_at_start_apply_from_the_first_request() {
    let api = common::start(SandboxConfig {
        faults: FaultConfig::parse("burst503=2@1").unwrap(),
        ..SandboxConfig::default()
    })
    .await;
    assert_v2_error(&api.get("/v2/time").await, 503);
    assert_v3_error(&api.get("/v3/customers").await, 503);
    assert_ne!(api.get("/v2/time").await.status, 503);
}
