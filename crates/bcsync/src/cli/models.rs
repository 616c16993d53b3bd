//! `bcsync models list|refresh|export`: model tables computed from the extracted tables
//! (`bcsync::models`), in the database `extract --to` writes.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};

use bcsync::models::{self, ExportFormat, MODEL_SETS, ModelsConfig, RefreshReport};

#[derive(Debug, Args)]
pub struct ModelsArgs {
    #[command(subcommand)]
    pub command: ModelsCommand,
}

/// Where the extracted tables are.
#[derive(Debug, Clone, Args)]
pub struct ModelTarget {
    /// The extraction's database: sqlite:PATH (default: [extract] to in bcsync.toml, else
    /// sqlite:bcsync.db) or postgres://USER@HOST/DB[?schema=NAME].
    #[arg(long)]
    pub to: Option<String>,
    /// Store hash, naming the PostgreSQL schema (bc_<hash>) when the URL has no ?schema=
    /// (else BIGCOMMERCE_STORE_HASH, else store_hash in bcsync.toml).
    #[arg(long)]
    pub store_hash: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// The model sets, their tables and columns, and when each was last refreshed.
    List(ModelTarget),
    /// Bring model sets up to date from the extracted tables (incrementally).
    Refresh(RefreshArgs),
    /// Write one model table as CSV or JSON lines (to stdout, or --output FILE).
    Export(ExportArgs),
}

#[derive(Debug, Args)]
pub struct RefreshArgs {
    /// Model sets to refresh (default: every set).
    #[arg(value_delimiter = ',')]
    pub names: Vec<String>,
    #[command(flatten)]
    pub target: ModelTarget,
    /// Recompute every row instead of only those whose sources changed.
    #[arg(long)]
    pub full: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The model table: SET.TABLE, e.g. inventory.products, inventory.sell_orders,
    /// inventory.sell_order_lines.
    pub name: String,
    #[command(flatten)]
    pub target: ModelTarget,
    /// csv (a header row, then one line per row) or jsonl (one JSON object per line).
    #[arg(long, value_enum, default_value = "csv")]
    pub format: ExportFormat,
    /// Only rows changed after this time (RFC 3339; an export prints the value to give
    /// next time on stderr). Deleted rows are included, with deleted = true.
    #[arg(long)]
    pub since: Option<String>,
    /// Write to this file instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

pub fn run(config: Option<&Path>, args: ModelsArgs) -> anyhow::Result<ExitCode> {
    let file = bcsync::config::load(config)?;
    match args.command {
        ModelsCommand::List(target) => list(&file, &target),
        ModelsCommand::Refresh(args) => {
            let names = if args.names.is_empty() {
                MODEL_SETS.iter().map(|m| m.name.to_owned()).collect()
            } else {
                args.names
            };
            let (spec, hash) = resolve(&file, &args.target);
            let reports = refresh(&spec, hash, &names, &file.models, args.full)?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&reports)?);
            } else {
                for r in &reports {
                    print!("{}", render_report(r));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ModelsCommand::Export(args) => export(&file, args),
    }
}

fn resolve(file: &bcsync::config::FileConfig, target: &ModelTarget) -> (String, Option<String>) {
    let spec = target
        .to
        .clone()
        .or_else(|| file.extract.to.clone())
        .unwrap_or_else(|| "sqlite:bcsync.db".into());
    (spec, file.store_hash(target.store_hash.as_deref()))
}

/// Refreshes the named sets in the database `spec` names; used by `extract --models` too.
pub fn refresh(
    spec: &str,
    store_hash: Option<String>,
    names: &[String],
    config: &ModelsConfig,
    full: bool,
) -> anyhow::Result<Vec<RefreshReport>> {
    let sets = names
        .iter()
        .map(|n| models::find(n))
        .collect::<Result<Vec<_>, _>>()?;
    let spec = spec.to_owned();
    let config = config.clone();
    Ok(models::run_blocking(move || {
        let db = models::db::ModelDb::open(&spec, store_hash.as_deref())?;
        sets.into_iter()
            .map(|set| models::refresh(&db, set, &config, full))
            .collect()
    })?)
}

pub fn render_report(r: &RefreshReport) -> String {
    let mut out = format!(
        "models {} refreshed ({}, {} ms)\n",
        r.model, r.mode, r.millis
    );
    for t in &r.tables {
        out.push_str(&format!(
            "  {}.{:<18} {:>8} rows changed {:>8} newly deleted\n",
            r.model, t.table, t.changed, t.deleted
        ));
    }
    out
}

fn list(file: &bcsync::config::FileConfig, target: &ModelTarget) -> anyhow::Result<ExitCode> {
    let (spec, hash) = resolve(file, target);
    // Refresh times come from the database when it is there; the list itself needs none.
    let refreshed = models::run_blocking(move || {
        let db = match models::db::ModelDb::open(&spec, hash.as_deref()) {
            Ok(db) => db,
            Err(_) => return Ok(Vec::new()),
        };
        if !db.has_table("_bcsync_models")? {
            return Ok(Vec::new());
        }
        let rows =
            db.texts("SELECT model || ' ' || refreshed_at FROM _bcsync_models ORDER BY model")?;
        Ok(rows.into_iter().flatten().collect::<Vec<String>>())
    })
    .unwrap_or_default();
    let mut out = std::io::stdout().lock();
    for set in MODEL_SETS {
        let when = refreshed
            .iter()
            .find_map(|r| r.strip_prefix(&format!("{} ", set.name)))
            .map_or("never refreshed here".to_owned(), |t| {
                format!("refreshed {t}")
            });
        writeln!(out, "{}: {} ({when})", set.name, set.about)?;
        writeln!(out, "  extract first: --streams {}", set.streams.join(","))?;
        for t in set.tables {
            let cols: Vec<&str> = t.columns.iter().map(|c| c.0).collect();
            writeln!(
                out,
                "  {}.{} (table {}): {}, deleted, deleted_at, updated_at",
                set.name,
                t.name,
                t.table,
                cols.join(", ")
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn export(file: &bcsync::config::FileConfig, args: ExportArgs) -> anyhow::Result<ExitCode> {
    let (_, table) = models::find_table(&args.name)?;
    let (spec, hash) = resolve(file, &args.target);
    let output = args.output.clone();
    let report = match models::run_blocking(move || {
        let db = models::db::ModelDb::open(&spec, hash.as_deref())?;
        match &output {
            Some(path) => {
                let io = |source| bcsync::error::Error::Io {
                    path: path.clone(),
                    source,
                };
                // Written beside, then renamed: an importer never reads half a file.
                let partial = path.with_extension("partial");
                let mut f = std::io::BufWriter::new(std::fs::File::create(&partial).map_err(io)?);
                let report =
                    models::export(&db, table, args.format, args.since.as_deref(), &mut f)?;
                drop(f);
                std::fs::rename(&partial, path).map_err(io)?;
                Ok(report)
            }
            None => {
                let stdout = std::io::stdout();
                let mut lock = stdout.lock();
                models::export(&db, table, args.format, args.since.as_deref(), &mut lock)
            }
        }
    }) {
        Ok(report) => report,
        // A reader that stopped early (`| head`) is not a failure.
        Err(bcsync::error::Error::Io { source, .. })
            if source.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            return Ok(ExitCode::SUCCESS);
        }
        Err(e) => return Err(e.into()),
    };
    eprintln!(
        "{} rows exported from {}{}",
        report.rows,
        args.name,
        report
            .newest
            .as_deref()
            .map(|n| format!("; next time pass --since {n}"))
            .unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}
