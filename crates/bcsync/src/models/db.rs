//! The database a model set is built in: the SQLite file or the PostgreSQL schema the
//! extraction writes. One connection, one SQL dialect, and the few operations the model
//! refresh and export need (statements in a transaction, a value, rows as JSON), so a
//! model's SQL is written once (`models/inventory.rs`) and spelled per dialect only where
//! SQLite and PostgreSQL differ: JSON access, types, literals.
//!
//! PostgreSQL runs on the session's own runtime ([`PgSession::block_on`]): callers run
//! models on a thread outside any async runtime (`models::run_blocking`).

use std::path::PathBuf;

use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;

use crate::error::{Error, Result};
use crate::pg::{PgSession, PgTarget, default_schema, quote_ident};

/// Column types of model tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    Num,
    Text,
    Bool,
    Time,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    pub fn sql_type(self, k: Kind) -> &'static str {
        match (self, k) {
            (Dialect::Sqlite, Kind::Int | Kind::Bool) => "INTEGER",
            (Dialect::Sqlite, Kind::Num) => "REAL",
            (Dialect::Sqlite, Kind::Text | Kind::Time) => "TEXT",
            (Dialect::Postgres, Kind::Int) => "bigint",
            (Dialect::Postgres, Kind::Num) => "numeric",
            (Dialect::Postgres, Kind::Text) => "text",
            (Dialect::Postgres, Kind::Bool) => "boolean",
            (Dialect::Postgres, Kind::Time) => "timestamptz",
        }
    }

    /// A field of a row's `_raw` record as text (`NULL` when absent or null).
    pub fn text(self, alias: &str, field: &str) -> String {
        match self {
            Dialect::Sqlite => format!("json_extract({alias}._raw, '$.{field}')"),
            Dialect::Postgres => format!("({alias}._raw->>'{field}')"),
        }
    }

    /// A non-empty text field (V2 sends `""` for a missing value).
    pub fn nonempty(self, alias: &str, field: &str) -> String {
        format!("NULLIF({}, '')", self.text(alias, field))
    }

    /// A field as a number: V3 sends JSON numbers, V2 decimal strings (`"225.0000"`).
    pub fn num(self, alias: &str, field: &str) -> String {
        match self {
            Dialect::Sqlite => format!("CAST(NULLIF({}, '') AS REAL)", self.text(alias, field)),
            Dialect::Postgres => format!("NULLIF({}, '')::numeric", self.text(alias, field)),
        }
    }

    pub fn int(self, alias: &str, field: &str) -> String {
        match self {
            Dialect::Sqlite => format!("CAST({} AS INTEGER)", self.text(alias, field)),
            Dialect::Postgres => format!("NULLIF({}, '')::bigint", self.text(alias, field)),
        }
    }

    /// True when a JSON boolean field is `true`.
    pub fn is_true(self, alias: &str, field: &str) -> String {
        match self {
            Dialect::Sqlite => format!("(json_extract({alias}._raw, '$.{field}') = 1)"),
            Dialect::Postgres => format!("(({alias}._raw->'{field}') = 'true'::jsonb)"),
        }
    }

    /// The number of elements of a JSON array field (0 when absent).
    pub fn array_len(self, alias: &str, field: &str) -> String {
        match self {
            Dialect::Sqlite => {
                format!("COALESCE(json_array_length({alias}._raw, '$.{field}'), 0)")
            }
            Dialect::Postgres => format!(
                "(CASE jsonb_typeof({alias}._raw->'{field}') WHEN 'array' THEN jsonb_array_length({alias}._raw->'{field}') ELSE 0 END)"
            ),
        }
    }

    /// One text member of each element of a JSON array field, joined in array order
    /// (`NULL` for an empty array).
    pub fn join_member(self, alias: &str, field: &str, member: &str, sep: &str) -> String {
        match self {
            Dialect::Sqlite => format!(
                "(SELECT group_concat(json_extract(e.value, '$.{member}'), '{sep}') FROM (SELECT value FROM json_each({alias}._raw, '$.{field}') ORDER BY key) e)"
            ),
            Dialect::Postgres => format!(
                "(SELECT string_agg(e.v->>'{member}', '{sep}' ORDER BY e.n) FROM jsonb_array_elements(CASE jsonb_typeof({alias}._raw->'{field}') WHEN 'array' THEN {alias}._raw->'{field}' ELSE '[]'::jsonb END) WITH ORDINALITY AS e(v, n))"
            ),
        }
    }

    /// A typed date column of an extracted table as a model time. SQLite keeps the API's
    /// text (V2 sends RFC 2822, docs/api-notes.md §6.1): `bcsync_time` normalises any form
    /// the API uses to RFC 3339 UTC; PostgreSQL already holds a timestamptz.
    pub fn api_time(self, expr: &str) -> String {
        match self {
            Dialect::Sqlite => format!("bcsync_time({expr})"),
            Dialect::Postgres => expr.to_owned(),
        }
    }

    pub fn time_literal(self, rfc3339: &str) -> String {
        match self {
            Dialect::Sqlite => format!("'{rfc3339}'"),
            Dialect::Postgres => format!("'{rfc3339}'::timestamptz"),
        }
    }

    /// A time expression as RFC 3339 UTC text with milliseconds (`None` stays `NULL`).
    pub fn time_text(self, expr: &str) -> String {
        match self {
            Dialect::Sqlite => format!("strftime('%Y-%m-%dT%H:%M:%fZ', {expr})"),
            Dialect::Postgres => {
                format!("to_char(({expr}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')")
            }
        }
    }

    /// Null-safe "differs" between two row values, for change detection on upsert.
    pub fn distinct(self, left: &str, right: &str) -> String {
        match self {
            Dialect::Sqlite => format!("({left}) IS NOT ({right})"),
            Dialect::Postgres => format!("({left}) IS DISTINCT FROM ({right})"),
        }
    }

    /// A JSON object of `(name, expr, kind)` columns, as text (the export's row format).
    pub fn json_object(self, columns: &[(&str, String, Kind)]) -> String {
        let members = columns
            .iter()
            .map(|(name, expr, kind)| {
                let value = match (self, kind) {
                    (Dialect::Sqlite, Kind::Bool) => {
                        format!("CASE WHEN {expr} IS NULL THEN NULL WHEN {expr} THEN json('true') ELSE json('false') END")
                    }
                    (_, Kind::Time) => self.time_text(expr),
                    _ => expr.clone(),
                };
                format!("'{name}', {value}")
            })
            .collect::<Vec<_>>()
            .join(", ");
        match self {
            Dialect::Sqlite => format!("json_object({members})"),
            Dialect::Postgres => format!("json_build_object({members})::text"),
        }
    }
}

/// An open model database.
pub enum ModelDb {
    Sqlite { path: PathBuf, conn: Connection },
    Postgres { session: Box<PgSession> },
}

impl std::fmt::Debug for ModelDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl ModelDb {
    /// Opens the database `--to` names, as extraction does: `sqlite:PATH` (or a `.db`
    /// path), or a PostgreSQL URL whose schema defaults to the store's (`bc_<hash>`).
    pub fn open(spec: &str, store_hash: Option<&str>) -> Result<Self> {
        if let Some(url) = crate::pg::url_from_spec(spec)? {
            let target = PgTarget::parse(&url, store_hash.map(default_schema))?;
            let session = PgSession::open(target, "opening the models' schema")?;
            let set_path = format!("SET search_path TO {}", quote_ident(&session.target.schema));
            let db = Self::Postgres {
                session: Box::new(session),
            };
            db.batch(&set_path)?;
            return Ok(db);
        }
        let path = match spec.strip_prefix("sqlite:") {
            Some(p) => PathBuf::from(p),
            None if spec.ends_with(".db") || spec.ends_with(".sqlite") => PathBuf::from(spec),
            None => return Err(Error::BadDestination(spec.to_owned())),
        };
        if !path.exists() {
            return Err(Error::Config(format!(
                "{} does not exist: models are built on extracted tables, so run `bcsync extract --to sqlite:{}` first",
                path.display(),
                path.display()
            )));
        }
        let err = |source| Error::Sqlite {
            path: path.clone(),
            source,
        };
        let conn = Connection::open(&path).map_err(err)?;
        conn.execute_batch("PRAGMA busy_timeout=30000;")
            .map_err(err)?;
        conn.create_scalar_function(
            "bcsync_time",
            1,
            FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
            |ctx| {
                let text: Option<String> = ctx.get(0)?;
                Ok(text
                    .as_deref()
                    .and_then(bigcommerce::dates::parse_any)
                    .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)))
            },
        )
        .map_err(err)?;
        Ok(Self::Sqlite { path, conn })
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Self::Sqlite { .. } => Dialect::Sqlite,
            Self::Postgres { .. } => Dialect::Postgres,
        }
    }

    /// Where the models live, without secrets.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite { path, .. } => format!("sqlite:{}", path.display()),
            Self::Postgres { session } => format!(
                "{} (schema {})",
                session.target.shown, session.target.schema
            ),
        }
    }

    fn sqlite_err(path: &std::path::Path, sql: &str, source: rusqlite::Error) -> Error {
        Error::SqliteSource {
            path: path.to_owned(),
            query: sql.to_owned(),
            source,
        }
    }

    fn pg_err(session: &PgSession, e: &tokio_postgres::Error, doing: &str) -> Error {
        session.target.explain(e, doing)
    }

    /// Runs statements that return nothing.
    pub fn batch(&self, sql: &str) -> Result<()> {
        let _timer = StatementTimer::start(sql);
        match self {
            Self::Sqlite { path, conn } => conn
                .execute_batch(sql)
                .map_err(|e| Self::sqlite_err(path, sql, e)),
            Self::Postgres { session } => session
                .block_on(session.client().batch_execute(sql))
                .map_err(|e| Self::pg_err(session, &e, "building a model")),
        }
    }

    /// Runs one statement and returns the rows it changed.
    pub fn execute(&self, sql: &str) -> Result<u64> {
        let _timer = StatementTimer::start(sql);
        match self {
            Self::Sqlite { path, conn } => conn
                .execute(sql, [])
                .map(|n| n as u64)
                .map_err(|e| Self::sqlite_err(path, sql, e)),
            Self::Postgres { session } => session
                .block_on(session.client().execute(sql, &[]))
                .map_err(|e| Self::pg_err(session, &e, "building a model")),
        }
    }

    /// The first column of each row, as text (`NULL` as `None`).
    pub fn texts(&self, sql: &str) -> Result<Vec<Option<String>>> {
        let _timer = StatementTimer::start(sql);
        match self {
            Self::Sqlite { path, conn } => {
                let run = || -> rusqlite::Result<Vec<Option<String>>> {
                    let mut stmt = conn.prepare(sql)?;
                    let rows = stmt.query_map([], |r| {
                        Ok(match r.get_ref(0)? {
                            rusqlite::types::ValueRef::Null => None,
                            rusqlite::types::ValueRef::Integer(i) => Some(i.to_string()),
                            rusqlite::types::ValueRef::Real(f) => Some(f.to_string()),
                            rusqlite::types::ValueRef::Text(t)
                            | rusqlite::types::ValueRef::Blob(t) => {
                                Some(String::from_utf8_lossy(t).into_owned())
                            }
                        })
                    })?;
                    rows.collect()
                };
                run().map_err(|e| Self::sqlite_err(path, sql, e))
            }
            Self::Postgres { session } => {
                let messages = session
                    .block_on(session.client().simple_query(sql))
                    .map_err(|e| Self::pg_err(session, &e, "reading a model"))?;
                Ok(messages
                    .into_iter()
                    .filter_map(|m| match m {
                        tokio_postgres::SimpleQueryMessage::Row(row) => {
                            Some(row.get(0).map(str::to_owned))
                        }
                        _ => None,
                    })
                    .collect())
            }
        }
    }

    /// Calls `each` with the first column of every row, as text, without holding all rows
    /// in memory (PostgreSQL reads through a cursor, 2,000 rows at a time).
    pub fn each_text(&self, sql: &str, each: &mut dyn FnMut(&str) -> Result<()>) -> Result<()> {
        match self {
            Self::Sqlite { path, conn } => {
                let mut stmt = conn
                    .prepare(sql)
                    .map_err(|e| Self::sqlite_err(path, sql, e))?;
                let mut rows = stmt.query([]).map_err(|e| Self::sqlite_err(path, sql, e))?;
                while let Some(row) = rows.next().map_err(|e| Self::sqlite_err(path, sql, e))? {
                    let text: String = row.get(0).map_err(|e| Self::sqlite_err(path, sql, e))?;
                    each(&text)?;
                }
                Ok(())
            }
            Self::Postgres { .. } => self.transaction(|db| {
                db.batch(&format!("DECLARE bcsync_export NO SCROLL CURSOR FOR {sql}"))?;
                loop {
                    let chunk = db.texts("FETCH 2000 FROM bcsync_export")?;
                    if chunk.is_empty() {
                        return Ok(());
                    }
                    for text in chunk.iter().flatten() {
                        each(text)?;
                    }
                }
            }),
        }
    }

    /// One value (the first column of the first row).
    pub fn text(&self, sql: &str) -> Result<Option<String>> {
        Ok(self.texts(sql)?.into_iter().next().flatten())
    }

    /// Whether the extracted table exists.
    pub fn has_table(&self, table: &str) -> Result<bool> {
        let sql = match self {
            Self::Sqlite { .. } => format!(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = {}",
                text_literal(table)
            ),
            Self::Postgres { .. } => format!(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = {}",
                text_literal(table)
            ),
        };
        Ok(self.text(&sql)?.as_deref() != Some("0"))
    }

    /// Runs `work` in one transaction: everything or nothing. SQLite takes the write lock
    /// first (`BEGIN IMMEDIATE`), so no extraction commits while a model reads; PostgreSQL
    /// reads one snapshot (`REPEATABLE READ`).
    pub fn transaction<T>(&self, work: impl FnOnce(&Self) -> Result<T>) -> Result<T> {
        self.batch(match self {
            Self::Sqlite { .. } => "BEGIN IMMEDIATE",
            Self::Postgres { .. } => "BEGIN ISOLATION LEVEL REPEATABLE READ",
        })?;
        match work(self) {
            Ok(v) => {
                self.batch("COMMIT")?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.batch("ROLLBACK");
                Err(e)
            }
        }
    }
}

/// Logs a model statement and its duration at debug level (`-vv`): where a refresh spends
/// its time.
struct StatementTimer<'a> {
    sql: &'a str,
    started: std::time::Instant,
}

impl<'a> StatementTimer<'a> {
    fn start(sql: &'a str) -> Self {
        Self {
            sql,
            started: std::time::Instant::now(),
        }
    }
}

impl Drop for StatementTimer<'_> {
    fn drop(&mut self) {
        let head: String = self
            .sql
            .split_whitespace()
            .take(12)
            .collect::<Vec<_>>()
            .join(" ");
        tracing::debug!(
            ms = self.started.elapsed().as_millis() as u64,
            "model SQL: {head}"
        );
    }
}

/// An SQL string literal (model names and times are ours, but quote them anyway).
pub fn text_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}
