//! `bcsync push`: runs the syncs defined in `bcsync.toml` (`[[sync]]`) or in `--syncs
//! FILE|DIR`, prints a summary (or, with `--dry-run`, the plan and a field-level diff) and
//! exits non-zero when a sync rejected more rows than its `max_rejected`, was refused by a
//! guard rail, or failed.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use bcsync::push::config::{SyncDef, load_syncs, parse_syncs};
use bcsync::push::engine::{PushOptions, PushOutcome, run_sync};
use bcsync::state::push::{DEFAULT_PUSH_STATE, INTERRUPTED, open_push_store};
use clap::Args;
use serde_json::json;

use super::StoreArgs;

#[derive(Debug, Args)]
pub struct PushArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Run only this sync (default: all).
    #[arg(long)]
    pub sync: Option<String>,
    /// Sync definitions: a TOML file or a directory of them (default: [[sync]] in bcsync.toml).
    #[arg(long, value_name = "FILE|DIR")]
    pub syncs: Option<PathBuf>,
    /// Push state store (tracking and run records): a SQLite file (default bcsync-push.db),
    /// postgres://USER@HOST:PORT/DB[?schema=NAME] (schema bcsync by default), or `postgres`
    /// to read DATABASE_URL. Else `state` in bcsync.toml.
    #[arg(
        id = "state_store",
        long = "state",
        visible_alias = "state-db",
        value_name = "FILE|URL"
    )]
    pub state: Option<String>,
    /// Print the plan and a per-record diff; send no write request.
    #[arg(long)]
    pub dry_run: bool,
    /// Machine-readable output (JSON on stdout).
    #[arg(long)]
    pub json: bool,
    /// Send every row, changed or not.
    #[arg(long)]
    pub full_resync: bool,
    /// Forget what was sent (the next run matches by key again); sends nothing.
    #[arg(long)]
    pub reset_tracking: bool,
    /// Run deletes/clears even when the source is empty or above max_delete_percent.
    #[arg(long)]
    pub force: bool,
    /// Keep each request's headers and bodies in the run store for `bcsync ui`'s live
    /// debugger, redacted of the token and of `[debug] redact_fields` (as `[debug]
    /// capture_bodies = true`).
    #[arg(long)]
    pub capture_bodies: bool,
}

/// The syncs to run, from `--syncs` or the config file.
pub fn syncs(config: Option<&Path>, from: Option<&Path>) -> anyhow::Result<Vec<SyncDef>> {
    if let Some(p) = from {
        return Ok(load_syncs(p)?);
    }
    let path = config
        .map(Path::to_owned)
        .unwrap_or_else(|| PathBuf::from(bcsync::config::DEFAULT_CONFIG_FILE));
    if !path.exists() {
        anyhow::bail!(
            "no sync definitions: add [[sync]] tables to {} or pass --syncs FILE|DIR",
            path.display()
        );
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let base = path.parent().map(Path::to_owned).unwrap_or_default();
    Ok(parse_syncs(&text, &path, &base)?)
}

/// The push state store: flag, else BCSYNC_STATE (how a fleet worker hands its state
/// store to the jobs it starts), else `state` in the config file, else the default file.
pub fn state_spec(flag: Option<&str>, file: &bcsync::config::FileConfig) -> String {
    flag.map(str::to_owned)
        .or_else(|| {
            std::env::var(bcsync::state::ENV_STATE)
                .ok()
                .filter(|s| !s.trim().is_empty())
        })
        .or_else(|| file.state.clone())
        .unwrap_or_else(|| DEFAULT_PUSH_STATE.to_owned())
}

pub async fn run(
    config: Option<&Path>,
    args: PushArgs,
    interrupt: &tokio_util::sync::CancellationToken,
) -> anyhow::Result<ExitCode> {
    let mut defs = syncs(config, args.syncs.as_deref())?;
    if let Some(name) = &args.sync {
        let known: Vec<String> = defs.iter().map(|d| d.name.clone()).collect();
        defs.retain(|d| &d.name == name);
        if defs.is_empty() {
            anyhow::bail!("no sync named {name:?}; defined: {}", known.join(", "));
        }
    }
    if defs.is_empty() {
        anyhow::bail!(
            "no sync definitions found; add [[sync]] tables to bcsync.toml or pass --syncs"
        );
    }
    let file = bcsync::config::load(config)?;
    let connection = file.connection(
        args.store.store_hash.as_deref(),
        args.store.base_url.as_deref(),
    )?;
    // Checked before any run: a mistake in [[alert]] is told now, not after the writes.
    let alerts = bcsync::alerts::Alerts::from_config(&file)?.redact(&connection.access_token);
    let client = connection
        .client()?
        .with_capture(file.debug.capture(args.capture_bodies));
    let spec = state_spec(args.state.as_deref(), &file);
    let mut store = open_push_store(&spec, &connection.store_hash)?;
    let opts = PushOptions {
        dry_run: args.dry_run,
        full_resync: args.full_resync,
        reset_tracking: args.reset_tracking,
        force: args.force,
        interrupt: interrupt.clone(),
    };
    let mut failed = false;
    let mut outputs = Vec::new();
    for def in &defs {
        let out = run_sync(&client, store.as_mut(), def, &opts).await?;
        // Alerts never change the outcome: a destination that fails is a warning.
        alerts
            .after_run(store.as_mut(), &connection.store_hash, &out.run)
            .await;
        if out.run.status == INTERRUPTED {
            // stdout may be a pipe nobody reads any more: the summary so far goes to stderr.
            eprintln!("{}", summary_line(def, &out));
            eprintln!("interrupted; rerun to resume");
            return Ok(ExitCode::FAILURE);
        }
        failed |= out.over_threshold || out.run.status == "refused" || out.run.status == "failed";
        if args.json {
            if let Some(m) = &out.run.message {
                eprintln!("sync {}: {m}", def.name);
            }
            print_rejections(def, &out);
            outputs.push(json!({"sync": def.name, "run": summary_json(&out), "plan": out.plan}));
        } else {
            print_human(def, &out, std::io::stdout().is_terminal());
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outputs)?);
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn summary_json(out: &PushOutcome) -> serde_json::Value {
    let r = &out.run;
    json!({
        "id": r.id, "status": r.status, "message": r.message, "dry_run": r.dry_run, "counts": r.counts,
        "requests": r.requests, "write_requests": r.write_requests, "lookup_requests": r.lookup_requests,
        "duration_ms": r.duration_ms, "rejected": r.rejected, "over_threshold": out.over_threshold,
    })
}

fn short(v: &serde_json::Value) -> String {
    let s = match v {
        serde_json::Value::Null => "∅".to_owned(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(39).collect::<String>())
    } else {
        s
    }
}

/// The one-line summary of a run: its status, counts and requests.
fn summary_line(def: &SyncDef, out: &PushOutcome) -> String {
    let r = &out.run;
    let counts: Vec<String> = r.counts.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!(
        "sync {} ({} {}): run {} {}{} — {} — {} requests ({} writes, {} lookups) in {} ms",
        def.name,
        def.object,
        def.mode,
        r.id,
        r.status,
        if r.dry_run { " (dry run)" } else { "" },
        counts.join(" "),
        r.requests,
        r.write_requests,
        r.lookup_requests,
        r.duration_ms
    )
}

fn print_human(def: &SyncDef, out: &PushOutcome, tty: bool) {
    let r = &out.run;
    println!("{}", summary_line(def, out));
    if let Some(m) = &r.message {
        eprintln!("sync {}: {m}", def.name);
    }
    if r.dry_run {
        println!(
            "  before = the store's current values (read now); after = what this run would send"
        );
        if tty {
            println!(
                "  {:<8} {:<32} {:>6} {:<28} {:<40} {:<40}",
                "op", "key", "row", "field", "before", "after"
            );
        }
        for p in &out.plan {
            if p.changes.is_empty() {
                println!("  {:<8} {:<32} {:>6}", p.op, p.key, p.row);
            }
            for c in &p.changes {
                if tty {
                    println!(
                        "  {:<8} {:<32} {:>6} {:<28} {:<40} {:<40}",
                        p.op,
                        p.key,
                        p.row,
                        c.field,
                        short(&c.before),
                        short(&c.after)
                    );
                } else {
                    println!(
                        "  {}\t{}\t{}\t{}\t{}\t{}",
                        p.op,
                        p.key,
                        p.row,
                        c.field,
                        short(&c.before),
                        short(&c.after)
                    );
                }
            }
        }
    }
    print_rejections(def, out);
}

/// Rejected rows, on stderr (diagnostics; stdout keeps the summary and the plan): at most
/// 50, then where to find the rest.
fn print_rejections(def: &SyncDef, out: &PushOutcome) {
    let r = &out.run;
    for rej in r.rejected.iter().take(50) {
        eprintln!(
            "sync {}: rejected row {} {} {}: {}",
            def.name,
            rej.row,
            rej.key.as_deref().unwrap_or("-"),
            rej.field.as_deref().unwrap_or("-"),
            rej.reason
        );
    }
    if r.rejected.len() > 50 {
        eprintln!(
            "sync {}: … {} more rejected rows: bcsync runs show {}",
            def.name,
            r.rejected.len() - 50,
            r.id
        );
    }
}
