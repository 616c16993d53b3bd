//! `bcsync brevo sync|check`: the store's customers, catalog and orders into Brevo
//! (`bcsync::marketing`), from the tables `bcsync extract` keeps. The API key comes from
//! BREVO_API_KEY or `[brevo] api_key`, never the command line.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Subcommand};

use bcsync::marketing::{self, RUN_NAME, SyncOptions, config::BrevoConfig};
use bcsync::state::push::{open_push_store, take_run_lock};

use super::models::ModelTarget;

#[derive(Debug, Args)]
pub struct BrevoArgs {
    #[command(subcommand)]
    pub command: BrevoCommand,
}

#[derive(Debug, Subcommand)]
pub enum BrevoCommand {
    /// Send what changed since the last run: contacts (attributes, lists, consent),
    /// categories, products and orders.
    Sync(SyncArgs),
    /// Check the API key: one request to Brevo's account route.
    Check,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub target: ModelTarget,
    /// Push state store holding what was sent (else `state` in bcsync.toml, else
    /// bcsync-push.db).
    #[arg(long)]
    pub state: Option<String>,
    /// Read Brevo and plan, send nothing: print what a run would send.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(config: Option<&Path>, args: BrevoArgs) -> anyhow::Result<ExitCode> {
    let file = bcsync::config::load(config)?;
    let brevo_config = marketing::config::parse(file.brevo.as_ref())?;
    let client = marketing::client(&brevo_config)?;
    match args.command {
        BrevoCommand::Check => {
            let account = client.account().await?;
            println!(
                "Brevo: connected as {}{}",
                account.email,
                account
                    .company_name
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
        BrevoCommand::Sync(args) => sync(&file, &brevo_config, &client, args).await,
    }
}

/// Waits while another process syncs into the same Brevo account (another store's sync,
/// on this machine or any sharing the state store): the account's rate limits are shared.
async fn wait_for_account(lock: &mut dyn bcsync::state::push::PushStore) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut said = false;
    while !lock.try_lock(RUN_NAME)? {
        if !said {
            eprintln!(
                "waiting: another bcsync process is syncing into the same Brevo account, whose rate limits both would share; this sync starts when it ends"
            );
            said = true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    if said {
        tracing::info!(
            "the Brevo account is free after {:.1} s; syncing",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

async fn sync(
    file: &bcsync::config::FileConfig,
    config: &BrevoConfig,
    client: &brevo::Client,
    args: SyncArgs,
) -> anyhow::Result<ExitCode> {
    let store_hash = file.store_hash(args.target.store_hash.as_deref()).context(
        "no store hash: set BIGCOMMERCE_STORE_HASH, or store_hash in bcsync.toml, or pass --store-hash (it names the store whose extracted tables are sent)",
    )?;
    let spec = args
        .target
        .to
        .clone()
        .or_else(|| file.extract.to.clone())
        .unwrap_or_else(|| "sqlite:bcsync.db".into());
    let hash = store_hash.clone();
    let warehouse =
        bcsync::models::run_blocking(move || marketing::warehouse::load(&spec, Some(&hash)))?;
    let state_spec = super::push::state_spec(args.state.as_deref(), file);
    let alerts = bcsync::alerts::Alerts::from_config(file)?.redact(&config.api_key);
    let mut store = open_push_store(&state_spec, &store_hash)?;
    take_run_lock(store.as_mut(), RUN_NAME).await?;
    // Held until this sync ends (dropped with it): see `marketing::account_scope`.
    let mut account_lock =
        open_push_store(&state_spec, &marketing::account_scope(&config.api_key))?;
    wait_for_account(account_lock.as_mut()).await?;
    let started = Instant::now();
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut run = marketing::run_record(
        &store_hash,
        started_at.clone(),
        started,
        &Ok(Default::default()),
    );
    run.status = "running".into();
    run.dry_run = args.dry_run;
    if !args.dry_run {
        run.id = store.start_run(&run)?;
    }
    let result = marketing::sync(
        config,
        client,
        &warehouse,
        store.as_mut(),
        SyncOptions {
            dry_run: args.dry_run,
            live: false,
        },
    )
    .await;
    let mut record = marketing::run_record(&store_hash, started_at, started, &result);
    record.id = run.id;
    if !args.dry_run {
        store.finish_run(&record)?;
        // Alerts never change the outcome: a destination that fails is a warning.
        alerts.after_run(store.as_mut(), &store_hash, &record).await;
    }
    let report = result?;
    for r in report.refusals.iter().take(20) {
        eprintln!(
            "refused: {} {}: {}",
            r.key.as_deref().unwrap_or("?"),
            r.field.as_deref().unwrap_or(""),
            r.reason
        );
    }
    if report.refusals.len() > 20 {
        eprintln!(
            "... and {} more; `bcsync runs show {}` lists them all",
            report.refusals.len() - 20,
            record.id
        );
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let counts: Vec<String> = report
            .counts
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let requests: Vec<String> = report
            .requests
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        println!(
            "brevo{}: {} — requests: {} — 429s: {} — {} ms",
            if args.dry_run { " (dry run)" } else { "" },
            if counts.is_empty() {
                "nothing to send".into()
            } else {
                counts.join(" ")
            },
            if requests.is_empty() {
                "none".into()
            } else {
                requests.join(", ")
            },
            report.throttled,
            record.duration_ms
        );
    }
    Ok(ExitCode::SUCCESS)
}
