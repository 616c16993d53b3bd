//! Hook upkeep over real HTTP: `listen` registers one hook per scope family, finds them
//! again after a restart (no duplicates), moves them to a new public URL in place,
//! re-activates a hook the store deactivated, explains the per-scope limit, and
//! `--unregister` removes its own hooks and no others; a second listener's hooks (same
//! header, another secret) are never rewritten or deleted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::listen_support;

use std::time::Duration;

use bcsync::listen::hooks::SCOPES;
use listen_support::common::{self, api};
use listen_support::*;
use reqwest::Method;
use serde_json::{Value, json};

async fn hooks(sb: &bc_sandbox::RunningSandbox) -> Vec<Value> {
    let (s, body) = api(sb, Method::GET, "/v3/hooks?limit=250", None).await;
    assert_eq!(s, 200);
    body.unwrap()["data"].as_array().cloned().unwrap()
}

fn ours(hooks: &[Value]) -> Vec<Value> {
    hooks
        .iter()
        .filter(|h| h["headers"].get("X-Bcsync-Secret").is_some())
        .cloned()
        .collect()
}

fn seed() -> bc_sandbox::SeedSpec {
    bc_sandbox::SeedSpec {
        customers: 5,
        products: 5,
        orders: 5,
        ..common::small_store()
    }
}

#[tokio::test]
async fn hooks_are_reconciled_across_restarts_and_repaired() {
    let sb = common::sandbox(seed()).await;
    let dir = tempfile::tempdir().unwrap();
    let to = format!("sqlite:{}", dir.path().join("shop.db").display());
    // A hook of someone else's under the same account: never touched.
    let (s, _) = api(
        &sb,
        Method::POST,
        "/v3/hooks",
        Some(json!({"scope": "store/order/*", "destination": "https://other.example.com/h", "is_active": true})),
    )
    .await;
    assert_eq!(s, 200);
    let url = "https://hooks.example.com/webhooks";
    let mut options = quiet_options();
    options.public_url = Some(url.into());
    let l = start(&sb, &to, options.clone()).await;
    l.shutdown().await.unwrap();
    let first = ours(&hooks(&sb).await);
    assert_eq!(first.len(), SCOPES.len());
    assert!(
        first
            .iter()
            .all(|h| h["destination"] == url && h["is_active"] == true)
    );
    // A restart finds them: nothing created, nothing duplicated.
    let l = start(&sb, &to, options.clone()).await;
    l.shutdown().await.unwrap();
    let again = ours(&hooks(&sb).await);
    let ids = |v: &[Value]| {
        let mut ids: Vec<i64> = v.iter().map(|h| h["id"].as_i64().unwrap()).collect();
        ids.sort_unstable();
        ids
    };
    assert_eq!(ids(&again), ids(&first));
    // A new public URL moves the same hooks.
    let moved = "https://new.example.com/webhooks";
    options.public_url = Some(moved.into());
    let l = start(&sb, &to, options.clone()).await;
    l.shutdown().await.unwrap();
    let after_move = ours(&hooks(&sb).await);
    assert_eq!(ids(&after_move), ids(&first));
    assert!(after_move.iter().all(|h| h["destination"] == moved));
    // The store deactivates one (deliveries failed for two days); the watcher repairs it.
    let victim = after_move[0]["id"].as_i64().unwrap();
    let (s, _) = api(
        &sb,
        Method::PUT,
        &format!("/v3/hooks/{victim}"),
        Some(json!({"is_active": false})),
    )
    .await;
    assert_eq!(s, 200);
    options.hook_check_interval = Duration::from_millis(200);
    let l = start(&sb, &to, options.clone()).await;
    // (The start itself reconciles; deactivate again while it runs to exercise the watcher.)
    let (s, _) = api(
        &sb,
        Method::PUT,
        &format!("/v3/hooks/{victim}"),
        Some(json!({"is_active": false})),
    )
    .await;
    assert_eq!(s, 200);
    let inbox = l.inbox.clone();
    wait_for("the watcher to repair the hook", || {
        let inbox = inbox.clone();
        async move { inbox.meta("hooks_repaired_at").await.unwrap().is_some() }
    })
    .await;
    l.shutdown().await.unwrap();
    let repaired = ours(&hooks(&sb).await);
    assert!(repaired.iter().all(|h| h["is_active"] == true));
    assert_eq!(ids(&repaired), ids(&first));
    // --unregister removes ours only.
    let (client, _) = common::client(&sb, sb.token());
    let removed = bcsync::listen::hooks::unregister(&client, &SECRET.to_owned().into())
        .await
        .unwrap();
    assert_eq!(removed, SCOPES.len());
    let left = hooks(&sb).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["destination"], "https://other.example.com/h");
}

#[tokio::test]
async fn the_hook_limit_is_explained() {
    let sb = common::sandbox(seed()).await;
    let dir = tempfile::tempdir().unwrap();
    let to = format!("sqlite:{}", dir.path().join("shop.db").display());
    for i in 0..10 {
        let (s, _) = api(
            &sb,
            Method::POST,
            "/v3/hooks",
            Some(json!({"scope": "store/cart/*", "destination": format!("https://h{i}.example.com/x")})),
        )
        .await;
        assert_eq!(s, 200);
    }
    let (client, counter) = common::client(&sb, sb.token());
    let mut options = quiet_options();
    options.public_url = Some("https://hooks.example.com/webhooks".into());
    let err = bcsync::listen::start(
        client,
        counter,
        bcsync::listen::ListenTarget::parse(&to, sb.store_hash()).unwrap(),
        secrecy::SecretString::from(SECRET.to_owned()),
        options,
        tokio_util::sync::CancellationToken::new(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("store/cart/*") && err.contains("at most 10"),
        "{err}"
    );
}

#[tokio::test]
async fn another_listeners_hooks_are_left_alone() {
    let sb = common::sandbox(seed()).await;
    let dir = tempfile::tempdir().unwrap();
    let to = format!("sqlite:{}", dir.path().join("shop.db").display());
    let theirs = "https://other-listener.example.com/webhooks";
    for scope in SCOPES {
        let (s, _) = api(
            &sb,
            Method::POST,
            "/v3/hooks",
            Some(json!({
                "scope": scope,
                "destination": theirs,
                "is_active": true,
                "headers": {"X-Bcsync-Secret": "another-listeners-secret"},
            })),
        )
        .await;
        assert_eq!(s, 200);
    }
    let before = hooks(&sb).await;
    let url = "https://hooks.example.com/webhooks";
    let mut options = quiet_options();
    options.public_url = Some(url.into());
    let l = start(&sb, &to, options).await;
    l.shutdown().await.unwrap();
    let after = hooks(&sb).await;
    for h in &before {
        assert!(
            after.contains(h),
            "the other listener's hook {h} was changed or removed"
        );
    }
    let mine: Vec<&Value> = after
        .iter()
        .filter(|h| h["headers"]["X-Bcsync-Secret"] == SECRET)
        .collect();
    assert_eq!(mine.len(), SCOPES.len());
    assert!(mine.iter().all(|h| h["destination"] == url));
    let (client, _) = common::client(&sb, sb.token());
    let removed = bcsync::listen::hooks::unregister(&client, &SECRET.to_owned().into())
        .await
        .unwrap();
    assert_eq!(removed, SCOPES.len());
    assert_eq!(hooks(&sb).await, before, "only ours were removed");
}
