//! `bcsync demo`: starts a seeded sandbox in-process (Standard plan quota, 150 requests per
//! window, with windows of 1.5 s instead of 30 s so the demo takes seconds, not minutes),
//! extracts every stream into `./bcsync-demo.db`, and prints what it did. Every run seeds a
//! fresh store with the same data, so a second run finds its bookmarks current and reads
//! almost nothing; it cannot show changes being picked up (nothing changes between two
//! demos): that takes a real store or a `bcsync sandbox` kept running.

use std::process::ExitCode;
use std::sync::Arc;

use bc_sandbox::{Plan, SandboxConfig, SeedSpec, TokenConfig};
use bcsync::extract::{ExtractOptions, Progress, RequestCounter};
use clap::Args;
use secrecy::SecretString;

use bcsync::extract::run_to as run_extraction;

use super::Interrupt;
use super::extract::finish_run;

/// Shrinks the 30 s rate-limit window: the demo's ~1,000 requests (most of them the
/// per-order transactions) would otherwise take three minutes at the real pace.
const DEMO_TIME_SCALE: f64 = 0.05;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to write the demo database.
    #[arg(long, default_value = "bcsync-demo.db")]
    pub db: String,
    /// Start from scratch (ignore the bookmarks of an earlier demo run).
    #[arg(long)]
    pub full_refresh: bool,
}

pub async fn run(args: DemoArgs, interrupt: &Interrupt) -> anyhow::Result<ExitCode> {
    let token = format!("demo-{:016x}", rand_u64());
    let config = SandboxConfig {
        store_hash: "demo".into(),
        tokens: vec![TokenConfig::full(token.clone())],
        plan: Plan::Standard,
        time_scale: DEMO_TIME_SCALE,
        seed: SeedSpec::demo(),
        ..SandboxConfig::default()
    };
    let sandbox = bc_sandbox::start(config, "127.0.0.1:0".parse()?).await?;
    eprintln!(
        "demo: sandbox store seeded at {} (Standard plan: 150 requests per window; windows shortened from 30 s to {:.1} s)",
        sandbox.base_url(),
        30.0 * DEMO_TIME_SCALE
    );
    let conn = bcsync::config::StoreConnection {
        store_hash: "demo".into(),
        access_token: SecretString::from(token),
        base_url: Some(sandbox.base_url()),
    };
    let counter = Arc::new(RequestCounter::default());
    let client = conn.client()?.with_observer(counter.clone());
    let to = format!("sqlite:{}", args.db);
    let options = ExtractOptions {
        cancel: Some(interrupt.token.clone()),
        ..ExtractOptions::default()
    };
    let summary = run_extraction(
        client,
        counter,
        &[],
        &to,
        args.full_refresh,
        None,
        options,
        Progress::new(true),
    )
    .await?;
    let code = finish_run(&summary, &to, false, interrupt);
    if !summary.interrupted {
        println!(
            "\nOpen it with: sqlite3 {} 'SELECT id, email, date_modified FROM customers LIMIT 5'",
            args.db
        );
        println!(
            "Each `bcsync demo` seeds a fresh sandbox with the same data: run it again and the saved \
             bookmarks make it read almost nothing (what an unchanged store costs), but no change \
             happens between two demos. To watch changes being picked up, keep a store running \
             (`bcsync sandbox`, or a real store) and run `bcsync extract` after changing it."
        );
    }
    sandbox.stop().await;
    Ok(code)
}

/// A random-enough token for a throwaway in-process sandbox (not a credential).
fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}
