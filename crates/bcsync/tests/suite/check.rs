//! `bcsync check` against the sandbox: store identity, quota, and each missing scope named
//! with the fix.
#![allow(clippy::unwrap_used)]

use crate::common;

use std::process::Command;

use bc_sandbox::{Plan, SandboxConfig, TokenConfig};
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_store_quota_and_scopes() {
    let sb = sandbox_with(SandboxConfig {
        tokens: vec![
            TokenConfig::full("full-token"),
            TokenConfig::parse(
                "limited-token:store_v2_information_read_only,store_v2_customers_read_only",
            )
            .unwrap(),
        ],
        plan: Plan::Standard,
        ..SandboxConfig::default()
    })
    .await;
    let (full_ok, out) = tokio::task::spawn_blocking({
        let runner = CheckRunner {
            url: sb.base_url(),
            hash: sb.store_hash().to_owned(),
        };
        move || runner.run("full-token")
    })
    .await
    .unwrap();
    assert!(full_ok, "{out}");
    assert!(out.contains("150 requests per 30.0 s"), "{out}");
    assert!(!out.contains("MISSING"), "{out}");

    let (ok, out) = tokio::task::spawn_blocking({
        let runner = CheckRunner {
            url: sb.base_url(),
            hash: sb.store_hash().to_owned(),
        };
        move || runner.run("limited-token")
    })
    .await
    .unwrap();
    assert!(!ok, "{out}");
    assert!(
        out.contains("store_v2_orders") && out.contains("MISSING: add store_v2_orders_read_only"),
        "{out}"
    );
    assert!(
        !out.contains("limited-token"),
        "the token must never be printed: {out}"
    );
}

/// Runs `bcsync check` (a blocking child process) against a sandbox.
struct CheckRunner {
    url: String,
    hash: String,
}

impl CheckRunner {
    fn run(&self, token: &str) -> (bool, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_bcsync"))
            .args(["check", "--base-url", &self.url])
            .env("BIGCOMMERCE_STORE_HASH", &self.hash)
            .env("BIGCOMMERCE_ACCESS_TOKEN", token)
            .output()
            .unwrap();
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }
}
