//! `bcsync runs` (list push runs) and `bcsync runs show ID [--format json|csv]`.

use std::path::Path;
use std::process::ExitCode;

use bcsync::state::push::{StateLocation, locate, open_push_store};
use clap::{Args, Subcommand, ValueEnum};

use super::push::state_spec;

#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Push state store, as `bcsync push --state` takes it (default bcsync-push.db, else
    /// `state` in bcsync.toml).
    #[arg(
        id = "state_store",
        long = "state",
        visible_alias = "state-db",
        value_name = "FILE|URL",
        global = true
    )]
    pub state: Option<String>,
    /// Runs listed.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    #[command(subcommand)]
    pub command: Option<RunsCommand>,
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// One run: counts, requests, rejected rows with reasons, the request log.
    Show {
        id: i64,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Text,
    Json,
    /// The rejected rows as CSV (row, key, field, reason).
    Csv,
}

pub fn run(config: Option<&Path>, args: RunsArgs) -> anyhow::Result<ExitCode> {
    let file = bcsync::config::load(config)?;
    let spec = state_spec(args.state.as_deref(), &file);
    if let StateLocation::Sqlite(path) = locate(&spec)?
        && !path.exists()
    {
        anyhow::bail!(
            "{} does not exist: no push has run yet (or pass --state FILE|URL)",
            path.display()
        );
    }
    // Run records are listed for every store; no store scope is needed.
    let store = open_push_store(&spec, "")?;
    match args.command {
        None => {
            println!(
                "{:>5}  {:<14}  {:<20}  {:<24}  {:<24}  {:>8}  {:>8}  {:>9}  counts",
                "id", "store", "sync", "started", "status", "requests", "rejected", "ms"
            );
            for r in store.runs(args.limit)? {
                let counts: Vec<String> = r
                    .counts
                    .iter()
                    .filter(|(k, _)| *k != "rejected")
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                let rejected = r.counts.get("rejected").copied().unwrap_or(0);
                let status = if r.dry_run {
                    format!("{} (dry run)", r.status)
                } else {
                    r.status.clone()
                };
                println!(
                    "{:>5}  {:<14}  {:<20}  {:<24}  {:<24}  {:>8}  {:>8}  {:>9}  {}",
                    r.id,
                    r.store,
                    r.sync,
                    r.started_at,
                    status,
                    r.requests,
                    rejected,
                    if r.finished_at.is_empty() {
                        "—".to_owned()
                    } else {
                        r.duration_ms.to_string()
                    },
                    counts.join(" ")
                );
            }
        }
        Some(RunsCommand::Show { id, format }) => {
            let Some(r) = store.run(id)? else {
                anyhow::bail!("no run {id} in the state store; `bcsync runs` lists them");
            };
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&r)?),
                Format::Csv => {
                    let mut w = csv::Writer::from_writer(std::io::stdout());
                    w.write_record(["row", "key", "field", "reason"])?;
                    for x in &r.rejected {
                        w.write_record([
                            x.row.to_string(),
                            x.key.clone().unwrap_or_default(),
                            x.field.clone().unwrap_or_default(),
                            x.reason.clone(),
                        ])?;
                    }
                    w.flush()?;
                }
                Format::Text => {
                    println!(
                        "run {} of sync {} (store {}): {}{}",
                        r.id,
                        r.sync,
                        r.store,
                        r.status,
                        if r.dry_run { " (dry run)" } else { "" }
                    );
                    if let Some(m) = &r.message {
                        println!("message   {m}");
                    }
                    println!("started   {}", r.started_at);
                    // A run that never finished has no end and no duration to show.
                    if r.finished_at.is_empty() {
                        println!("finished  — ({})", r.status);
                    } else {
                        println!(
                            "finished  {}\nduration  {} ms",
                            r.finished_at, r.duration_ms
                        );
                    }
                    println!(
                        "requests  {} ({} writes, {} lookups)",
                        r.requests, r.write_requests, r.lookup_requests
                    );
                    println!("throttled {} (answered 429)", r.throttled);
                    println!("retried   {}", r.retried);
                    for (k, v) in &r.counts {
                        println!("  {k:<24} {v}");
                    }
                    if !r.rejected.is_empty() {
                        println!("rejected rows:");
                        for x in &r.rejected {
                            println!(
                                "  row {:>6}  {:<32} {:<20} {}",
                                x.row,
                                x.key.as_deref().unwrap_or("-"),
                                x.field.as_deref().unwrap_or("-"),
                                x.reason
                            );
                        }
                    }
                    println!("request log (method, path, status, ms; no headers or bodies):");
                    for q in &r.request_log {
                        println!(
                            "  {:<6} {:<50} {:>4} {:>6}",
                            q.method,
                            q.path,
                            q.status
                                .map(|s| s.to_string())
                                .unwrap_or_else(|| "-".into()),
                            q.ms
                        );
                    }
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
