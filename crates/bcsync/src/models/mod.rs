//! Models: tables computed in SQL from the extracted tables, in the same database (the
//! SQLite file or the PostgreSQL schema `extract --to` writes), for the tools that import
//! them next. A model set (`inventory`) is a few tables; `bcsync models refresh` (or
//! `extract --models`) brings them up to date incrementally and `bcsync models export`
//! writes one as CSV or JSON lines, optionally only the rows changed since a time.
//!
//! Every model table carries `deleted` (a row that no longer qualifies is kept and marked,
//! never removed, so an importer learns of it) with `deleted_at`, and `updated_at`: the
//! time the row last changed, which `export --since` filters on.
//!
//! Incremental refresh: `_bcsync_models` keeps, per set, a watermark: the newest
//! `_extracted_at` / `_deleted_at` of the source tables the last refresh saw. The next
//! refresh recomputes the parents (products, orders) with a row at or after it. SQLite
//! stamps a row once it holds the write lock and the refresh holds that lock too
//! (`BEGIN IMMEDIATE`), so every row committed later carries a later time. PostgreSQL
//! stamps before its transaction commits, so there the watermark stays behind the oldest
//! transaction still open in the database and behind the refresh's own clock by a margin
//! ([`PG_OPEN_MARGIN_SECS`], or [`PG_COMMIT_MARGIN_SECS`] when the role cannot see other
//! roles' sessions): a page committed during a refresh with an earlier stamp is read again
//! by the next one, never missed.

pub mod db;
pub mod inventory;

use std::io::Write;
use std::time::Instant;

use serde::Serialize;

use crate::error::{Error, Result};
use db::{Dialect, Kind, ModelDb, text_literal};

/// How far the PostgreSQL watermark stays behind the refresh's clock when other roles'
/// transactions are invisible to it: longer than any page transaction of the extraction
/// takes to commit.
pub const PG_COMMIT_MARGIN_SECS: i64 = 30;
/// The same when every open transaction is visible: only the moment between a page's
/// stamp and the start of its transaction, and clock differences, need covering.
pub const PG_OPEN_MARGIN_SECS: i64 = 5;

/// Bumped when a model's columns or rules change: the next refresh rebuilds the set.
const MODELS_VERSION: &str = "1";

/// One table of a model set.
#[derive(Debug)]
pub struct ModelTable {
    /// Name within the set (`inventory.products`).
    pub name: &'static str,
    /// The table in the database.
    pub table: &'static str,
    pub key: &'static str,
    /// The column naming the source parent (product, order) a row comes from.
    pub parent: &'static str,
    /// Data columns, exported in this order, followed by `deleted`, `deleted_at`,
    /// `updated_at`.
    pub columns: &'static [(&'static str, Kind)],
    /// Extracted tables it is computed from.
    pub sources: &'static [&'static str],
}

/// A model set.
#[derive(Debug)]
pub struct ModelSet {
    pub name: &'static str,
    pub about: &'static str,
    pub tables: &'static [ModelTable],
    /// The streams to extract for it (`bcsync extract --streams ...`).
    pub streams: &'static [&'static str],
}

impl ModelSet {
    /// The extracted tables the set reads, each once, in table order.
    pub fn sources(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for s in self.tables.iter().flat_map(|t| t.sources.iter().copied()) {
            if !out.contains(&s) {
                out.push(s);
            }
        }
        out
    }
}

pub const MODEL_SETS: &[ModelSet] = &[ModelSet {
    name: "inventory",
    about: "sellable SKUs with stock and price, sell orders and their lines, for inventory-planning tools",
    tables: inventory::TABLES,
    streams: &["products", "orders"],
}];

/// `[models]` in bcsync.toml.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelsConfig {
    #[serde(default)]
    pub inventory: inventory::InventoryOptions,
}

/// What a refresh did to one table.
#[derive(Debug, Clone, Serialize)]
pub struct TableCounts {
    pub table: &'static str,
    /// Rows inserted or changed.
    pub changed: u64,
    /// Rows newly marked deleted because their parent no longer yields them.
    pub deleted: u64,
}

/// What a refresh of one set did.
#[derive(Debug, Clone, Serialize)]
pub struct RefreshReport {
    pub model: &'static str,
    /// `full` (first refresh, options changed, `--full`) or `incremental`.
    pub mode: &'static str,
    pub tables: Vec<TableCounts>,
    pub millis: u128,
}

/// Finds a set by name; the error lists the known ones.
pub fn find(name: &str) -> Result<&'static ModelSet> {
    MODEL_SETS.iter().find(|m| m.name == name).ok_or_else(|| {
        Error::Config(format!(
            "unknown model set {name:?}; known: {} (see `bcsync models list`)",
            MODEL_SETS
                .iter()
                .map(|m| m.name)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// Finds `SET.TABLE` (or a set with one table).
pub fn find_table(name: &str) -> Result<(&'static ModelSet, &'static ModelTable)> {
    let (set, table) = name.split_once('.').unwrap_or((name, ""));
    let set = find(set)?;
    let names = || {
        set.tables
            .iter()
            .map(|t| format!("{}.{}", set.name, t.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if table.is_empty() {
        return Err(Error::Config(format!(
            "model set {:?} has several tables; name one: {}",
            set.name,
            names()
        )));
    }
    let t = set.tables.iter().find(|t| t.name == table).ok_or_else(|| {
        Error::Config(format!("unknown model table {name:?}; known: {}", names()))
    })?;
    Ok((set, t))
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn ensure_tables(db: &ModelDb, set: &ModelSet) -> Result<()> {
    let d = db.dialect();
    let mut sql = format!(
        "CREATE TABLE IF NOT EXISTS _bcsync_models (model {t} PRIMARY KEY, definition {t} NOT NULL, \
         watermark {t}, refreshed_at {t} NOT NULL);",
        t = d.sql_type(Kind::Text)
    );
    for table in set.tables {
        let mut defs: Vec<String> = table
            .columns
            .iter()
            .map(|(n, k)| {
                let pk = if *n == table.key { " PRIMARY KEY" } else { "" };
                format!("{n} {}{pk}", d.sql_type(*k))
            })
            .collect();
        defs.push(format!("deleted {} NOT NULL", d.sql_type(Kind::Bool)));
        defs.push(format!("deleted_at {}", d.sql_type(Kind::Time)));
        defs.push(format!("updated_at {} NOT NULL", d.sql_type(Kind::Time)));
        sql.push_str(&format!(
            "CREATE TABLE IF NOT EXISTS {t} ({}); \
             CREATE INDEX IF NOT EXISTS {t}_updated_idx ON {t} (updated_at); \
             CREATE INDEX IF NOT EXISTS {t}_parent_idx ON {t} ({});",
            defs.join(", "),
            table.parent,
            t = table.table,
        ));
    }
    // The incremental refresh finds changed parents by these times.
    for source in set.sources() {
        for column in ["_extracted_at", "_deleted_at"] {
            sql.push_str(&format!(
                "CREATE INDEX IF NOT EXISTS {source}{column}_idx ON {source} ({column});"
            ));
        }
    }
    db.batch(&sql)
}

/// The newest row time of the set's source tables.
fn newest_source_time(db: &ModelDb, set: &ModelSet) -> Result<Option<String>> {
    let d = db.dialect();
    let sources = set.sources();
    let parts = sources
        .iter()
        .flat_map(|s| {
            ["_extracted_at", "_deleted_at"].map(|c| format!("SELECT max({c}) AS x FROM {s}"))
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let max = format!("(SELECT max(x) FROM ({parts}) t)");
    db.text(&format!(
        "SELECT {}",
        match d {
            Dialect::Sqlite => max,
            Dialect::Postgres => d.time_text(&max),
        }
    ))
}

/// Brings a model set up to date: incrementally from its watermark, or in full the first
/// time, when its options or definition changed, or with `full`. One transaction.
pub fn refresh(
    db: &ModelDb,
    set: &'static ModelSet,
    config: &ModelsConfig,
    full: bool,
) -> Result<RefreshReport> {
    let started = Instant::now();
    let sources = set.sources();
    let mut missing = Vec::new();
    for s in &sources {
        if !db.has_table(s)? {
            missing.push(*s);
        }
    }
    if !missing.is_empty() {
        return Err(Error::Config(format!(
            "model set {:?} is computed from the tables {}, and {} has no {}: extract them first (bcsync extract --streams {} --to {})",
            set.name,
            sources.join(", "),
            db.describe(),
            missing.join(", "),
            set.streams.join(","),
            db.describe(),
        )));
    }
    let definition = format!(
        "v{MODELS_VERSION};{}",
        match set.name {
            "inventory" => config.inventory.fingerprint(),
            _ => String::new(),
        }
    );
    db.transaction(|db| {
        ensure_tables(db, set)?;
        let saved = |column: &str| {
            db.text(&format!(
                "SELECT {column} FROM _bcsync_models WHERE model = {}",
                text_literal(set.name)
            ))
        };
        let watermark = saved("watermark")?;
        let rebuild = full || saved("definition")?.as_deref() != Some(definition.as_str());
        if rebuild {
            for t in set.tables {
                db.batch(&format!("DELETE FROM {}", t.table))?;
            }
        }
        let since = if rebuild { None } else { watermark.as_deref() };
        // Read before computing: whatever is committed from here on is newer.
        let newest = newest_source_time(db, set)?;
        let now = now_rfc3339();
        let tables = match set.name {
            "inventory" => inventory::refresh(db, &config.inventory, since, &now)?,
            other => return Err(Error::Config(format!("model set {other:?} has no refresh"))),
        };
        let previous = if rebuild { None } else { watermark.clone() };
        let open = match db.dialect() {
            Dialect::Postgres => open_transactions(db)?,
            Dialect::Sqlite => (None, 0),
        };
        let next = next_watermark(db.dialect(), newest, previous, open);
        db.batch(&format!(
            "DELETE FROM _bcsync_models WHERE model = {m}; \
             INSERT INTO _bcsync_models (model, definition, watermark, refreshed_at) VALUES ({m}, {}, {}, {});",
            text_literal(&definition),
            next.as_deref().map_or("NULL".to_owned(), text_literal),
            text_literal(&now),
            m = text_literal(set.name),
        ))?;
        Ok(RefreshReport {
            model: set.name,
            mode: if since.is_none() { "full" } else { "incremental" },
            tables,
            millis: started.elapsed().as_millis(),
        })
    })
}

/// PostgreSQL: when the oldest other transaction in this database began (RFC 3339), and
/// how far the watermark must stay behind it and the clock: `PG_OPEN_MARGIN_SECS` when
/// this role sees every session (superuser or `pg_read_all_stats`), else
/// [`PG_COMMIT_MARGIN_SECS`], since a writer of another role would be invisible.
fn open_transactions(db: &ModelDb) -> Result<(Option<String>, i64)> {
    let oldest = db.text(&format!(
        "SELECT {} FROM pg_stat_activity WHERE datname = current_database() \
         AND pid <> pg_backend_pid() AND xact_start IS NOT NULL",
        Dialect::Postgres.time_text("min(xact_start)")
    ))?;
    let sees_all = db.text(
        "SELECT (pg_has_role(current_user, 'pg_read_all_stats', 'member') \
         OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user))::text",
    )?;
    let margin = if sees_all.as_deref() == Some("true") {
        PG_OPEN_MARGIN_SECS
    } else {
        PG_COMMIT_MARGIN_SECS
    };
    Ok((oldest, margin))
}

/// The watermark the next refresh starts from (see the module header). PostgreSQL's stays
/// `margin` seconds behind the clock and behind the oldest transaction still open, whose
/// rows (stamped before it began) may commit after this refresh.
fn next_watermark(
    d: Dialect,
    newest: Option<String>,
    previous: Option<String>,
    open: (Option<String>, i64),
) -> Option<String> {
    let newest = newest.or(previous)?;
    match d {
        Dialect::Sqlite => Some(newest),
        Dialect::Postgres => {
            let (oldest_open, margin) = open;
            let back = |t: chrono::DateTime<chrono::Utc>| {
                (t - chrono::Duration::seconds(margin))
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            };
            let mut candidates = vec![newest, back(chrono::Utc::now())];
            if let Some(t) = oldest_open
                .as_deref()
                .and_then(bigcommerce::dates::parse_any)
            {
                candidates.push(back(t));
            }
            // All RFC 3339 UTC with milliseconds: text order is time order.
            candidates.into_iter().min()
        }
    }
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Csv,
    Jsonl,
}

/// What an export wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    pub rows: u64,
    /// The newest `updated_at` written: the `--since` of the next export.
    pub newest: Option<String>,
}

/// Writes one model table, rows changed after `since` only when given, ordered by key.
pub fn export(
    db: &ModelDb,
    table: &ModelTable,
    format: ExportFormat,
    since: Option<&str>,
    out: &mut dyn Write,
) -> Result<ExportReport> {
    let d = db.dialect();
    if !db.has_table(table.table)? {
        return Err(Error::Config(format!(
            "{} has no table {}: run `bcsync models refresh` first",
            db.describe(),
            table.table
        )));
    }
    let mut columns: Vec<(&str, String, Kind)> = table
        .columns
        .iter()
        .map(|(n, k)| (*n, (*n).to_owned(), *k))
        .collect();
    columns.push(("deleted", "deleted".into(), Kind::Bool));
    columns.push(("deleted_at", "deleted_at".into(), Kind::Time));
    columns.push(("updated_at", "updated_at".into(), Kind::Time));
    let filter = match since {
        Some(s) => {
            let parsed = bigcommerce::dates::parse_any(s).ok_or_else(|| Error::InvalidArgument {
                argument: "since".into(),
                message: format!(
                    "{s:?} is not a time; give RFC 3339, e.g. 2026-12-01T00:00:00Z (the `newest` an earlier export printed)"
                ),
            })?;
            format!(
                " WHERE updated_at > {}",
                d.time_literal(&parsed.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            )
        }
        None => String::new(),
    };
    let sql = format!(
        "SELECT {} FROM {}{filter} ORDER BY {}",
        d.json_object(&columns),
        table.table,
        table.key
    );
    let mut report = ExportReport {
        rows: 0,
        newest: None,
    };
    let io_err = |source| Error::Io {
        path: "the export output".into(),
        source,
    };
    let mut parse = |line: &str| -> Result<serde_json::Map<String, serde_json::Value>> {
        let row: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(line).map_err(|e| Error::Data {
                stream: table.table.into(),
                detail: e.to_string(),
            })?;
        if let Some(serde_json::Value::String(u)) = row.get("updated_at")
            && report.newest.as_deref().is_none_or(|n| n < u.as_str())
        {
            report.newest = Some(u.clone());
        }
        report.rows += 1;
        Ok(row)
    };
    match format {
        ExportFormat::Csv => {
            let mut w = csv::Writer::from_writer(&mut *out);
            w.write_record(columns.iter().map(|c| c.0))
                .map_err(export_err)?;
            db.each_text(&sql, &mut |line: &str| {
                let row = parse(line)?;
                w.write_record(columns.iter().map(|(name, _, _)| match row.get(*name) {
                    None | Some(serde_json::Value::Null) => String::new(),
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                }))
                .map_err(export_err)
            })?;
            w.flush().map_err(io_err)?;
        }
        ExportFormat::Jsonl => {
            db.each_text(&sql, &mut |line: &str| {
                parse(line)?;
                out.write_all(line.as_bytes()).map_err(io_err)?;
                out.write_all(b"\n").map_err(io_err)
            })?;
        }
    }
    out.flush().map_err(io_err)?;
    Ok(report)
}

fn export_err(e: csv::Error) -> Error {
    match e.into_kind() {
        csv::ErrorKind::Io(source) => Error::Io {
            path: "the export output".into(),
            source,
        },
        other => Error::Config(format!("could not write the CSV export: {other:?}")),
    }
}

/// Runs model work on a thread of its own (PostgreSQL drives its session with a runtime
/// of its own, which cannot start inside the command's runtime) and waits for it.
pub fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    std::thread::spawn(work)
        .join()
        .map_err(|_| Error::Config("the models thread stopped unexpectedly".into()))?
}
