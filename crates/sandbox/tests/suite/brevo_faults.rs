//! The Brevo emulator's injected faults are deterministic by seed.
#![allow(clippy::unwrap_used)]

use crate::brevo_support;

use bc_sandbox::brevo::{BrevoConfig, BrevoFaults, TierLimits};
use brevo_support::Emu;
use reqwest::Method;
use serde_json::json;

async fn statuses(spec: &str, n: usize) -> Vec<u16> {
    let emu = Emu::with(BrevoConfig {
        limits: TierLimits::unlimited(),
        faults: BrevoFaults::parse(spec).unwrap(),
        ..BrevoConfig::default()
    })
    .await;
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(emu.get("/contacts").await.status.as_u16());
    }
    out
}

#[tokio::test]
async fn same_seed_same_faults() {
    let spec = "seed=11,500=0.2,503=0.1,429=0.1";
    let a = statuses(spec, 60).await;
    let b = statuses(spec, 60).await;
    assert_eq!(a, b);
    assert!(a.contains(&500) && a.contains(&200), "{a:?}");
    let c = statuses("seed=12,500=0.2,503=0.1,429=0.1", 60).await;
    assert_ne!(a, c);
}

#[tokio::test]
async fn bursts_and_runtime_faults() {
    let emu = Emu::with(BrevoConfig::default()).await;
    let r = emu
        .admin(
            Method::PUT,
            "/faults",
            Some(json!({"spec": "burst429=2@2"})),
        )
        .await;
    assert_eq!(r.status, 204);
    let s: Vec<u16> = {
        let mut v = Vec::new();
        for _ in 0..4 {
            let r = emu.get("/contacts").await;
            if r.status == 429 {
                assert!(
                    r.header("x-sib-ratelimit-limit").is_none(),
                    "a load 429 has no bucket headers"
                );
            }
            v.push(r.status.as_u16());
        }
        v
    };
    assert_eq!(s, vec![200, 429, 429, 200]);
    let counts = emu.admin(Method::GET, "/counts", None).await;
    assert_eq!(counts.json()["faultsInjected"], 2);
    let bad = emu
        .admin(Method::PUT, "/faults", Some(json!({"spec": "500=7"})))
        .await;
    assert_eq!(bad.status, 400);
    // Reset empties the account and the log.
    emu.contact(json!({"email": "r@example.com"})).await;
    assert_eq!(emu.admin(Method::POST, "/reset", None).await.status, 204);
    assert_eq!(emu.state().await["contacts"], json!([]));
}

#[tokio::test]
async fn too_early_hits_writes_only() {
    let emu = Emu::with(BrevoConfig {
        limits: TierLimits::unlimited(),
        faults: BrevoFaults::parse("425=1").unwrap(),
        ..BrevoConfig::default()
    })
    .await;
    assert_eq!(emu.get("/contacts").await.status, 200);
    let r = emu
        .post("/contacts", json!({"email": "x@example.com"}))
        .await;
    assert_eq!(r.status, 425);
    assert!(r.json()["message"].is_string());
    assert_eq!(emu.state().await["contacts"], json!([]));
}
