//! `bcsync push`: runs the syncs defined in `bcsync.toml` (`[[sync]]`) or in `--syncs
//! FILE|DIR` (side by side where they do not depend on each other, see
//! [`bcsync::push::schedule`]; one at a time with `--sequential`), prints a summary of each
//! in definition order (or, with `--dry-run`, the plan and a field-level diff) and
//! exits non-zero when a sync rejected more rows than its `max_rejected`, was refused by a
//! guard rail, or failed.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use bcsync::push::config::{SyncDef, load_syncs, parse_syncs};
use bcsync::push::engine::{PushOptions, PushOutcome};
use bcsync::push::{NotStarted, Order, SyncResult, run_syncs};
use bcsync::state::push::{DEFAULT_PUSH_STATE, INTERRUPTED};
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
    /// Run the syncs one at a time, in definition order (by default, syncs that do not
    /// depend on each other run side by side: customers and products syncs together, an
    /// orders sync after every sync defined before it, two syncs of one object in turn).
    #[arg(long)]
    pub sequential: bool,
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
    let opts = PushOptions {
        dry_run: args.dry_run,
        full_resync: args.full_resync,
        reset_tracking: args.reset_tracking,
        force: args.force,
        interrupt: interrupt.clone(),
    };
    let order = if args.sequential {
        Order::Sequential
    } else {
        Order::SideBySide
    };
    let mut report = Report {
        json: args.json,
        tty: std::io::stdout().is_terminal(),
        ..Report::default()
    };
    let results = run_syncs(
        &client,
        &spec,
        &defs,
        &opts,
        order,
        Some(&alerts),
        |def, result| report.sync_ended(def, result),
    )
    .await?;
    let mut errors: Vec<(String, bcsync::Error)> = defs
        .iter()
        .zip(results)
        .filter_map(|(def, r)| match r {
            SyncResult::Error(e) => Some((def.name.clone(), e)),
            _ => None,
        })
        .collect();
    if report.interrupted {
        for (name, e) in &errors {
            // As `main` shows an error: no database URL, no Rust type names.
            let words = bcsync::pg::redact_in(&e.to_string());
            eprintln!(
                "error: sync {name}: {}",
                bcsync::error::plain_serde_message(&words)
            );
        }
        eprintln!("interrupted; rerun to resume");
        return Ok(ExitCode::FAILURE);
    }
    // With --json, the syncs that ran are printed even when another one failed: they ran
    // side by side, so their writes are done and must be reported.
    if args.json && (errors.is_empty() || !report.outputs.is_empty()) {
        println!("{}", serde_json::to_string_pretty(&report.outputs)?);
    }
    match errors.len() {
        0 => {}
        // One error keeps its own words, whatever the number of syncs.
        1 => {
            if let Some((_, e)) = errors.pop() {
                return Err(e.into());
            }
        }
        _ => {
            let lines: Vec<String> = errors
                .iter()
                .map(|(name, e)| format!("sync {name}: {e}"))
                .collect();
            anyhow::bail!("{} syncs failed:\n{}", errors.len(), lines.join("\n"));
        }
    }
    Ok(if report.failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// What `bcsync push` prints as each sync ends, called in definition order (see
/// [`run_syncs`]).
#[derive(Default)]
struct Report {
    json: bool,
    tty: bool,
    /// A sync was interrupted: what follows goes to stderr as a summary line (stdout may
    /// be a pipe nobody reads any more), and no JSON is printed.
    interrupted: bool,
    /// A sync rejected more rows than it tolerates, was refused or failed.
    failed: bool,
    /// The `--json` entries of the syncs that ran.
    outputs: Vec<serde_json::Value>,
}

impl Report {
    fn sync_ended(&mut self, def: &SyncDef, result: &SyncResult) {
        let out = match result {
            SyncResult::Ran(out) => out,
            // Returned as the command's error once every sync has ended.
            SyncResult::Error(_) => return,
            // "interrupted; rerun to resume" at the end says it for every such sync.
            SyncResult::NotStarted(NotStarted::Interrupted) => {
                self.interrupted = true;
                return;
            }
            SyncResult::NotStarted(why) => {
                eprintln!("sync {}: {why}", def.name);
                return;
            }
        };
        if out.run.status == INTERRUPTED || self.interrupted {
            self.interrupted = true;
            eprintln!("{}", summary_line(def, out));
            return;
        }
        self.failed |=
            out.over_threshold || out.run.status == "refused" || out.run.status == "failed";
        if self.json {
            if let Some(m) = &out.run.message {
                eprintln!("sync {}: {m}", def.name);
            }
            print_rejections(def, out);
            self.outputs
                .push(json!({"sync": def.name, "run": summary_json(out), "plan": out.plan}));
        } else {
            print_human(def, out, self.tty);
        }
    }
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
