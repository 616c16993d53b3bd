//! The Brevo emulator's rate buckets: headers on every limited answer, 429 from a tiny
//! profile, separate buckets per key and per route family, counted in the admin log.
#![allow(clippy::unwrap_used)]

use crate::brevo_support;

use bc_sandbox::brevo::{BrevoConfig, TierLimits};
use brevo_support::Emu;
use reqwest::Method;
use secrecy::SecretString;
use serde_json::json;

#[tokio::test]
async fn general_tier_sends_headers_on_every_limited_answer() {
    let emu = Emu::with(BrevoConfig::default()).await;
    let r = emu.get("/contacts").await;
    assert_eq!(r.status, 200);
    // Contacts: 10 RPS and 36,000 RPH; the per-second window has the fewest left.
    assert_eq!(r.header("x-sib-ratelimit-limit").as_deref(), Some("10"));
    assert_eq!(r.header("x-sib-ratelimit-remaining").as_deref(), Some("9"));
    assert_eq!(r.header("x-sib-ratelimit-reset").as_deref(), Some("1"));
    assert!(r.header("retry-after").is_none());
    let a = emu.get("/account").await;
    assert_eq!(a.header("x-sib-ratelimit-limit").as_deref(), Some("100"));
    assert_eq!(a.header("x-sib-ratelimit-remaining").as_deref(), Some("99"));
    let reset: u64 = a.header("x-sib-ratelimit-reset").unwrap().parse().unwrap();
    assert!((3590..=3600).contains(&reset), "{reset}");
    // Errors carry them too.
    let nf = emu.get("/contacts/nobody@example.com").await;
    assert_eq!(nf.status, 404);
    assert!(nf.header("x-sib-ratelimit-remaining").is_some());
}

#[tokio::test]
async fn tiny_profile_forces_429_per_key_and_bucket() {
    let emu = Emu::with(BrevoConfig {
        limits: TierLimits::tiny(),
        api_keys: vec![SecretString::from("key-a"), SecretString::from("key-b")],
        time_scale: 0.01,
        ..BrevoConfig::default()
    })
    .await;
    for left in [2, 1, 0] {
        let r = emu.get("/contacts").await;
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("x-sib-ratelimit-remaining"),
            Some(left.to_string())
        );
    }
    let refused = emu.get("/contacts").await;
    assert_eq!(refused.status, 429);
    assert!(refused.json()["code"].is_string() && refused.json()["message"].is_string());
    assert_eq!(
        refused.header("x-sib-ratelimit-limit").as_deref(),
        Some("3")
    );
    assert_eq!(
        refused.header("x-sib-ratelimit-remaining").as_deref(),
        Some("0")
    );
    // An hour at scale 0.01 is 36 s: the reset reports the real seconds to wait, with
    // milliseconds under a scaled clock.
    let reset: f64 = refused
        .header("x-sib-ratelimit-reset")
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset > 0.0 && reset <= 36.0, "{reset}");
    // Another bucket and another key are untouched.
    assert_eq!(emu.get("/account").await.status, 200);
    let b = emu
        .call_with_key(Method::GET, "/contacts", None, Some("key-b"))
        .await;
    assert_eq!(b.status, 200);
    // Advancing the clock past the window refills the bucket.
    emu.advance(40.0).await;
    assert_eq!(emu.get("/contacts").await.status, 200);
    let counts = emu.admin(Method::GET, "/counts", None).await;
    assert_eq!(counts.json()["buckets"]["contacts"], 6);
    assert_eq!(counts.json()["buckets"]["other"], 1);
    assert_eq!(counts.json()["refused429"]["contacts"], 1);
    let log = emu.admin(Method::GET, "/requests", None).await;
    let first = &log.json()["requests"][0];
    assert_eq!(first["bucket"], "contacts");
    assert_eq!(first["path"], "/v3/contacts");
    assert_eq!(log.json()["requests"][3]["status"], 429);
}

#[tokio::test]
async fn custom_limits_can_be_set_at_runtime() {
    let emu = Emu::with(BrevoConfig::default()).await;
    let r = emu
        .admin(
            Method::PUT,
            "/limits",
            Some(json!({"spec": "general,orders=1/s"})),
        )
        .await;
    assert_eq!(r.status, 204);
    emu.seed(json!({"ecommerceActive": true})).await;
    let order = json!({"id": "1", "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:00Z",
        "status": "completed", "amount": 10, "products": [{"productId": "p", "price": 10, "quantity": 1}],
        "identifiers": {"email_id": "a@example.com"}});
    assert_eq!(emu.post("/orders/status", order.clone()).await.status, 204);
    let r = emu.post("/orders/status", order).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("x-sib-ratelimit-limit").as_deref(), Some("1"));
    let bad = emu
        .admin(Method::PUT, "/limits", Some(json!({"spec": "gold"})))
        .await;
    assert_eq!(bad.status, 400);
}
