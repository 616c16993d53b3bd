//! PostgreSQL, the warehouse most users run: `--to postgres://USER[:PASSWORD]@HOST[:PORT]/DB`
//! (`--to postgres` alone reads `DATABASE_URL`).
//!
//! Layout: one schema per store (default `bc_<store_hash>`, or `?schema=NAME` on the URL),
//! a table per stream and per child table with typed columns for the top-level scalars
//! (declared fields get their declared type, new fields are added with `ALTER TABLE ... ADD
//! COLUMN IF NOT EXISTS` when they first appear), the record as `_raw jsonb` and
//! `_extracted_at`. The stream state lives in `<schema>._bcsync_state`, so two stores synced
//! into one database never share a table or a bookmark.
//!
//! Every page is one transaction: the parents, the replacement of their children (delete by
//! parent key, then insert) and the bookmark commit together, which is what makes a
//! `kill -9` resumable without loss or duplicates.
//!
//! Deletes are marks, never removals: every table has `_deleted_at timestamptz` (added to
//! older tables when missing), set on rows a complete read did not see and on their child
//! rows, and on child rows their parent no longer has; cleared when a record is written
//! again (see [`Destination::complete_read`]).
//!
//! Rows always travel through `COPY ... FROM STDIN` (text format, rendered here), because
//! it is several times faster than `INSERT` with parameters:
//! - first load (the stream's table and its child tables were empty when the run began):
//!   COPY straight into the tables, with no delete of old children (there are none). COPY
//!   cannot upsert, so if a key repeats (a record modified mid-run and read again) the page
//!   fails with a unique violation; it is then rolled back and redone the second way, which
//!   the stream keeps for the rest of the run.
//! - otherwise (incremental runs, `--full-refresh` over existing rows): COPY into a
//!   session-local staging table, then `INSERT ... SELECT ... ON CONFLICT (key) DO UPDATE`.
//!
//! Page transactions run with `synchronous_commit = off`: a killed bcsync loses nothing
//! committed, a crash of the server itself may lose the last pages (rows and bookmark
//! together, so the next run re-reads them), the trade SQLite's `synchronous=NORMAL` makes.
//!
//! The destination is synchronous (it runs on the writer thread): it owns a small
//! tokio runtime (one worker thread, which drives the connection) and blocks on the async
//! client. The connection is opened in
//! [`Destination::begin`], which runs on a blocking thread, never inside the engine's runtime.
//!
//! The URL, TLS and error messages are [`crate::pg`]'s. Passwords never appear in errors,
//! logs or [`Destination::describe`].

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::Cursor;

use futures::SinkExt;
use serde_json::Value;
use tokio_postgres::error::SqlState;

use super::{ChildRows, Destination, PageBatch};
use crate::error::Result;
use crate::pg::{PgSession, PgTarget, default_schema, quote_ident};
use crate::state::{FULL_READ_STARTED, State, StreamState};
use crate::streams::{FieldType, StreamDescriptor};

/// How a column's values are rendered for COPY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Numeric,
    Bool,
    Text,
    Timestamp,
    Json,
}

impl Kind {
    fn of_field(t: FieldType) -> Self {
        match t {
            FieldType::Integer => Kind::Int,
            FieldType::Number => Kind::Numeric,
            FieldType::Boolean => Kind::Bool,
            FieldType::String => Kind::Text,
            FieldType::DateTime => Kind::Timestamp,
            FieldType::Json => Kind::Json,
        }
    }

    /// The type of a column added for a field first seen in the data. Numbers are
    /// `numeric` whatever the first value looks like: `10` today may be `10.5` tomorrow.
    fn of_value(v: &Value) -> Option<Self> {
        match v {
            Value::Bool(_) => Some(Kind::Bool),
            Value::Number(_) => Some(Kind::Numeric),
            Value::String(_) => Some(Kind::Text),
            // Objects and arrays stay in `_raw`; nulls say nothing about the type yet.
            _ => None,
        }
    }

    fn of_pg(data_type: &str) -> Self {
        match data_type {
            "bigint" | "integer" | "smallint" => Kind::Int,
            "numeric" | "double precision" | "real" => Kind::Numeric,
            "boolean" => Kind::Bool,
            "timestamp with time zone" | "timestamp without time zone" | "date" => Kind::Timestamp,
            "jsonb" | "json" => Kind::Json,
            _ => Kind::Text,
        }
    }

    fn sql(self) -> &'static str {
        match self {
            Kind::Int => "bigint",
            Kind::Numeric => "numeric",
            Kind::Bool => "boolean",
            Kind::Text => "text",
            Kind::Timestamp => "timestamptz",
            Kind::Json => "jsonb",
        }
    }
}

fn is_decimal(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().any(|b| b.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'))
        && s.parse::<f64>().is_ok_and(f64::is_finite)
}

/// Writes `v` as COPY text for a column of kind `kind`. A value the column cannot hold
/// (text in a number column) becomes NULL there; `_raw` still has it as sent.
fn render_value(buf: &mut Vec<u8>, kind: Kind, v: Option<&Value>, scratch: &mut String) {
    scratch.clear();
    let ok = match (kind, v) {
        (_, None | Some(Value::Null)) => false,
        (Kind::Int, Some(Value::Number(n))) => {
            if let Some(i) = n.as_i64() {
                let _ = write!(scratch, "{i}");
                true
            } else if let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e18) {
                let _ = write!(scratch, "{}", f as i64);
                true
            } else {
                false
            }
        }
        (Kind::Int, Some(Value::String(s))) => match s.trim().parse::<i64>() {
            Ok(i) => {
                let _ = write!(scratch, "{i}");
                true
            }
            Err(_) => false,
        },
        (Kind::Numeric, Some(Value::Number(n))) => {
            let _ = write!(scratch, "{n}");
            true
        }
        (Kind::Numeric, Some(Value::String(s))) if is_decimal(s.trim()) => {
            scratch.push_str(s.trim());
            true
        }
        (Kind::Bool, Some(Value::Bool(b))) => {
            scratch.push(if *b { 't' } else { 'f' });
            true
        }
        (Kind::Bool, Some(Value::Number(n))) => match n.as_i64() {
            Some(0) => {
                scratch.push('f');
                true
            }
            Some(1) => {
                scratch.push('t');
                true
            }
            _ => false,
        },
        (Kind::Bool, Some(Value::String(s))) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "1" => {
                scratch.push('t');
                true
            }
            "false" | "f" | "0" => {
                scratch.push('f');
                true
            }
            _ => false,
        },
        (Kind::Text, Some(Value::String(s))) => {
            scratch.push_str(s);
            true
        }
        (Kind::Text, Some(Value::Bool(b))) => {
            scratch.push_str(if *b { "true" } else { "false" });
            true
        }
        (Kind::Timestamp, Some(Value::String(s))) => match bigcommerce::dates::parse_any(s) {
            Some(dt) => {
                let _ = write!(
                    scratch,
                    "{}",
                    dt.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                );
                true
            }
            None => false,
        },
        (Kind::Text | Kind::Json, Some(other)) => {
            let _ = write!(scratch, "{other}");
            true
        }
        _ => false,
    };
    if ok {
        push_escaped(buf, scratch);
    } else {
        buf.extend_from_slice(b"\\N");
    }
}

/// COPY text escaping: backslash, newline, carriage return and tab are escaped; NUL bytes,
/// which PostgreSQL text cannot hold, are dropped.
fn push_escaped(buf: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    // Most values need no escaping: copy them whole.
    if !bytes
        .iter()
        .any(|b| matches!(b, b'\\' | b'\n' | b'\r' | b'\t' | 0))
    {
        buf.extend_from_slice(bytes);
        return;
    }
    for &b in bytes {
        match b {
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            0 => {}
            _ => buf.push(b),
        }
    }
}

/// Appends serialized JSON escaped for COPY text. serde_json escapes every control
/// character itself, so the only byte COPY needs escaped is the backslash.
fn push_json_escaped(buf: &mut Vec<u8>, json: &[u8]) {
    let mut parts = json.split(|b| *b == b'\\');
    if let Some(first) = parts.next() {
        buf.extend_from_slice(first);
    }
    for part in parts {
        buf.extend_from_slice(b"\\\\");
        buf.extend_from_slice(part);
    }
}

/// Serializes `v` as JSON with every object's keys in the order `jsonb` stores them
/// (shorter keys first, then bytewise). `jsonb` input sorts each object's keys; handed
/// them already sorted, the server's sort finds them in order at once instead of sorting
/// (about a tenth of the server's CPU for an orders page). The stored value is the same.
fn write_in_jsonb_order(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| {
                a.0.len()
                    .cmp(&b.0.len())
                    .then_with(|| a.0.as_bytes().cmp(b.0.as_bytes()))
            });
            out.push(b'{');
            for (i, (k, val)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                // Writing a string or a number into a Vec cannot fail.
                let _ = serde_json::to_writer(&mut *out, k);
                out.push(b':');
                write_in_jsonb_order(out, val);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_in_jsonb_order(out, item);
            }
            out.push(b']');
        }
        leaf => {
            let _ = serde_json::to_writer(&mut *out, leaf);
        }
    }
}

#[derive(Debug, Clone)]
struct Column {
    name: String,
    kind: Kind,
}

/// How a stream's pages are loaded this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LoadMode {
    /// COPY straight into the table (it was empty when the run began).
    Direct,
    /// COPY into a staging table, then INSERT ... ON CONFLICT DO UPDATE.
    Staged,
}

/// Columns bcsync adds to every table; never filled from a record's fields.
const META_COLUMNS: [&str; 3] = ["_raw", "_extracted_at", "_deleted_at"];

/// Rows rendered per COPY data message (about 250 KB of orders).
const COPY_CHUNK_ROWS: usize = 32;

/// Writes into one schema of one PostgreSQL database.
pub struct PostgresDestination {
    target: PgTarget,
    conn: Option<PgSession>,
    /// Data columns per table (without `_raw`/`_extracted_at`), in table order.
    columns: HashMap<String, Vec<Column>>,
    modes: HashMap<String, LoadMode>,
    /// Staging tables created in this session, with the column count they were made with.
    staged: HashMap<String, usize>,
}

/// A failed statement inside a page, with what was being done.
struct PgFail {
    err: tokio_postgres::Error,
    doing: String,
}

type PgResult<T> = std::result::Result<T, PgFail>;

fn fail(doing: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> PgFail {
    let doing = doing.into();
    move |err| PgFail { err, doing }
}

impl PostgresDestination {
    /// Parses the URL; connects later, in [`Destination::begin`].
    pub fn open(url: &str, store_hash: Option<&str>) -> Result<Self> {
        let target = PgTarget::parse(url, store_hash.map(default_schema))?;
        Ok(Self {
            target,
            conn: None,
            columns: HashMap::new(),
            modes: HashMap::new(),
            staged: HashMap::new(),
        })
    }

    pub fn target(&self) -> &PgTarget {
        &self.target
    }

    fn connect(&mut self) -> Result<()> {
        if self.conn.is_some() {
            return Ok(());
        }
        // The session's worker drives the connection: it writes to the socket while this
        // thread renders the next chunk.
        self.conn = Some(PgSession::open(
            self.target.clone(),
            "opening the destination",
        )?);
        Ok(())
    }

    fn conn(&self) -> Result<&PgSession> {
        self.conn.as_ref().ok_or_else(|| {
            self.target
                .err("not connected (begin was not called)".into())
        })
    }

    fn qualified(&self, table: &str) -> String {
        format!(
            "{}.{}",
            quote_ident(&self.target.schema),
            quote_ident(table)
        )
    }

    /// Runs one simple statement outside a page transaction.
    fn exec(&self, sql: &str, doing: &str) -> Result<()> {
        let c = self.conn()?;
        c.block_on(c.client().batch_execute(sql))
            .map_err(|e| self.target.explain(&e, doing))
    }

    fn ensure_schema(&self) -> Result<()> {
        let c = self.conn()?;
        let schema = &self.target.schema;
        // Look first: CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege even when the
        // schema exists, and a user may well own an existing schema without it.
        let exists = c
            .block_on(
                c.client()
                    .query_opt("SELECT 1 FROM pg_namespace WHERE nspname = $1", &[schema]),
            )
            .map_err(|e| self.target.explain(&e, "looking up the schema"))?
            .is_some();
        if !exists {
            self.exec(
                &format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(schema)),
                &format!("creating schema {schema}"),
            )?;
        }
        self.exec(
            &format!(
                "CREATE TABLE IF NOT EXISTS {} (stream text PRIMARY KEY, state jsonb NOT NULL, updated_at timestamptz NOT NULL)",
                self.qualified("_bcsync_state")
            ),
            "creating the state table",
        )
    }

    fn create_table(
        &self,
        table: &str,
        fields: &[(&str, FieldType)],
        key: Option<&str>,
        parent: Option<(&str, Kind)>,
    ) -> Result<()> {
        let mut defs: Vec<String> = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        if let Some((p, kind)) = parent {
            defs.push(format!("{} {} NOT NULL", quote_ident(p), kind.sql()));
            seen.push(p);
        }
        if let Some(k) = key
            && !fields.iter().any(|(n, _)| *n == k)
        {
            defs.push(format!("{} text PRIMARY KEY", quote_ident(k)));
            seen.push(k);
        }
        for (name, t) in fields {
            if seen.contains(name) {
                continue;
            }
            let pk = if Some(*name) == key {
                " PRIMARY KEY"
            } else {
                ""
            };
            defs.push(format!(
                "{} {}{pk}",
                quote_ident(name),
                Kind::of_field(*t).sql()
            ));
            seen.push(name);
        }
        defs.push("\"_raw\" jsonb NOT NULL".into());
        defs.push("\"_extracted_at\" timestamptz NOT NULL".into());
        defs.push("\"_deleted_at\" timestamptz".into());
        // The ALTER adds the column to tables made before deletes were marked.
        let mut sql = format!(
            "CREATE TABLE IF NOT EXISTS {t} ({});
             ALTER TABLE {t} ADD COLUMN IF NOT EXISTS \"_deleted_at\" timestamptz;",
            defs.join(", "),
            t = self.qualified(table),
        );
        if let Some((p, _)) = parent {
            let _ = write!(
                sql,
                "CREATE INDEX IF NOT EXISTS {} ON {} ({});",
                quote_ident(&format!("{table}_{p}_idx")),
                self.qualified(table),
                quote_ident(p)
            );
        }
        self.exec(
            &sql,
            &format!("creating table {}.{table}", self.target.schema),
        )
    }

    /// Reads every table's columns from the catalog (after DDL, or after a rollback undid
    /// columns added in the failed page).
    fn load_columns(&mut self) -> Result<()> {
        let c = self.conn()?;
        let rows = c
            .block_on(c.client().query(
                "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns
                 WHERE table_schema = $1 ORDER BY table_name, ordinal_position",
                &[&self.target.schema],
            ))
            .map_err(|e| self.target.explain(&e, "reading the table columns"))?;
        let mut columns: HashMap<String, Vec<Column>> = HashMap::new();
        for r in rows {
            let (table, name, data_type): (String, String, String) = (r.get(0), r.get(1), r.get(2));
            let cols = columns.entry(table).or_default();
            if !META_COLUMNS.contains(&name.as_str()) {
                cols.push(Column {
                    name,
                    kind: Kind::of_pg(&data_type),
                });
            }
        }
        self.columns = columns;
        Ok(())
    }

    fn kind_of_key(fields: &[(&str, FieldType)], key: &str) -> Kind {
        fields
            .iter()
            .find(|(n, _)| *n == key)
            .map_or(Kind::Text, |(_, t)| Kind::of_field(*t))
    }

    /// Renders rows as COPY text for the given columns plus `_raw` and `_extracted_at`.
    fn render(cols: &[Column], rows: &[&Value], now: &str) -> Vec<u8> {
        let mut buf = Vec::with_capacity(rows.len() * 1024);
        let mut scratch = String::new();
        let mut raw = Vec::with_capacity(1024);
        for row in rows {
            for col in cols {
                render_value(&mut buf, col.kind, row.get(&col.name), &mut scratch);
                buf.push(b'\t');
            }
            raw.clear();
            write_in_jsonb_order(&mut raw, row);
            push_json_escaped(&mut buf, &raw);
            buf.push(b'\t');
            buf.extend_from_slice(now.as_bytes());
            buf.push(b'\n');
        }
        buf
    }

    fn column_list(cols: &[Column]) -> String {
        let mut names: Vec<String> = cols.iter().map(|c| quote_ident(&c.name)).collect();
        names.push("\"_raw\"".into());
        names.push("\"_extracted_at\"".into());
        names.join(", ")
    }

    /// Adds a column for every top-level scalar field not seen before (inside the page's
    /// transaction: a rollback takes it back, and the cache is reloaded then).
    fn add_new_columns(&mut self, table: &str, rows: &[&Value]) -> PgResult<()> {
        let mut new: BTreeMap<String, Kind> = BTreeMap::new();
        {
            let known = self.columns.get(table).map(Vec::as_slice).unwrap_or(&[]);
            for row in rows {
                let Some(obj) = row.as_object() else { continue };
                for (k, v) in obj {
                    if META_COLUMNS.contains(&k.as_str())
                        || new.contains_key(k)
                        || known.iter().any(|c| c.name == *k)
                    {
                        continue;
                    }
                    if let Some(kind) = Kind::of_value(v) {
                        new.insert(k.clone(), kind);
                    }
                }
            }
        }
        if new.is_empty() {
            return Ok(());
        }
        let mut sql = String::new();
        for (name, kind) in &new {
            let _ = write!(
                sql,
                "ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {};",
                self.qualified(table),
                quote_ident(name),
                kind.sql()
            );
        }
        if let Some(c) = &self.conn {
            c.block_on(c.client().batch_execute(&sql))
                .map_err(fail(format!("adding columns to {table}")))?;
        }
        let cols = self.columns.entry(table.to_owned()).or_default();
        cols.extend(new.into_iter().map(|(name, kind)| Column { name, kind }));
        Ok(())
    }

    /// COPYs `rows` through `sql`, rendering them in chunks sent as they are made, so the
    /// server parses one chunk while the next is rendered (the connection task runs on the
    /// runtime's worker thread).
    fn copy_rows(
        &self,
        sql: &str,
        cols: &[Column],
        rows: &[&Value],
        now: &str,
        doing: &str,
    ) -> PgResult<()> {
        let Some(c) = &self.conn else { return Ok(()) };
        c.block_on(async {
            let sink: tokio_postgres::CopyInSink<Cursor<Vec<u8>>> = c.client().copy_in(sql).await?;
            futures::pin_mut!(sink);
            for chunk in rows.chunks(COPY_CHUNK_ROWS) {
                sink.feed(Cursor::new(Self::render(cols, chunk, now)))
                    .await?;
            }
            sink.finish().await.map(|_| ())
        })
        .map_err(fail(doing))
    }

    /// Loads rows into `table`, upserting by `key` when given.
    fn load_rows(
        &mut self,
        table: &str,
        rows: &[&Value],
        key: Option<&str>,
        mode: LoadMode,
        now: &str,
    ) -> PgResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        self.add_new_columns(table, rows)?;
        let cols = self.columns.get(table).cloned().unwrap_or_default();
        let list = Self::column_list(&cols);
        let Some(key) = key.filter(|_| mode == LoadMode::Staged) else {
            let sql = format!("COPY {} ({list}) FROM STDIN", self.qualified(table));
            return self.copy_rows(&sql, &cols, rows, now, &format!("loading {table}"));
        };
        let stage = quote_ident(&format!("_bcsync_stage_{table}"));
        if self.staged.get(table) != Some(&cols.len()) {
            let sql = format!(
                "DROP TABLE IF EXISTS pg_temp.{stage}; CREATE TEMP TABLE {stage} (LIKE {}) ON COMMIT DELETE ROWS;",
                self.qualified(table)
            );
            if let Some(c) = &self.conn {
                c.block_on(c.client().batch_execute(&sql))
                    .map_err(fail(format!("creating the staging table of {table}")))?;
            }
            self.staged.insert(table.to_owned(), cols.len());
        }
        self.copy_rows(
            &format!("COPY pg_temp.{stage} ({list}) FROM STDIN"),
            &cols,
            rows,
            now,
            &format!("staging {table}"),
        )?;
        let key_ident = quote_ident(key);
        let updates: Vec<String> = cols
            .iter()
            .map(|c| quote_ident(&c.name))
            .chain(["\"_raw\"".to_owned(), "\"_extracted_at\"".to_owned()])
            .filter(|n| *n != key_ident)
            .map(|n| format!("{n} = EXCLUDED.{n}"))
            // A record written again exists in the store: clear any deletion mark.
            .chain(["\"_deleted_at\" = NULL".to_owned()])
            .collect();
        let sql = format!(
            "INSERT INTO {} ({list}) SELECT {list} FROM pg_temp.{stage} ON CONFLICT ({}) DO UPDATE SET {}",
            self.qualified(table),
            quote_ident(key),
            updates.join(", ")
        );
        if let Some(c) = &self.conn {
            c.block_on(c.client().batch_execute(&sql))
                .map_err(fail(format!("upserting into {table}")))?;
        }
        Ok(())
    }

    /// Replaces the children of the page's parents: a child present again is rewritten
    /// (unmarked), a child the parent no longer has is marked `_deleted_at = now`, and a
    /// child without a key, which cannot be matched from one read to the next, is replaced
    /// outright (marking it would keep a stale copy per read). In a first load
    /// ([`LoadMode::Direct`]) there are none to replace: the child tables were empty when
    /// the run began and every parent so far arrived once (a second arrival fails the
    /// parent COPY, and the page is redone staged).
    fn replace_children(&mut self, child: &ChildRows, mode: LoadMode, now: &str) -> PgResult<()> {
        let table = child.table.name;
        let parent = child.table.parent_column;
        let kind = self
            .columns
            .get(table)
            .and_then(|cols| cols.iter().find(|c| c.name == parent))
            .map_or(Kind::Int, |c| c.kind);
        if mode == LoadMode::Staged
            && !child.parent_keys.is_empty()
            && let Some(c) = &self.conn
        {
            let as_text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            // The (parent, key) pairs written now: their old rows are replaced, not marked.
            let (mut pair_parents, mut pair_keys) = (Vec::new(), Vec::new());
            if let Some(key) = child.table.key {
                for row in &child.rows {
                    if let (Some(p), Some(k)) = (row.get(parent), row.get(key))
                        && !k.is_null()
                    {
                        pair_parents.push(as_text(p));
                        pair_keys.push(as_text(k));
                    }
                }
            }
            let replaced = match child.table.key {
                Some(key) => format!(
                    "({k} IS NULL OR ({p}::text, {k}::text) IN (SELECT * FROM unnest($2::text[], $3::text[])))",
                    p = quote_ident(parent),
                    k = quote_ident(key)
                ),
                None => "true".to_owned(),
            };
            let qualified = self.qualified(table);
            let any = if kind == Kind::Int {
                "ANY($1)"
            } else {
                "ANY($1::text[])"
            };
            let delete = format!(
                "DELETE FROM {qualified} WHERE {} = {any} AND {replaced}",
                quote_ident(parent)
            );
            let mark = format!(
                "UPDATE {qualified} SET \"_deleted_at\" = $2::text::timestamptz WHERE {} = {any} AND \"_deleted_at\" IS NULL",
                quote_ident(parent)
            );
            let doing = format!("replacing rows of {table}");
            let now = now.to_owned();
            // The parent keys as the column's type: one statement pair serves both.
            let keys: Box<dyn tokio_postgres::types::ToSql + Sync> = if kind == Kind::Int {
                Box::new(
                    child
                        .parent_keys
                        .iter()
                        .filter_map(Value::as_i64)
                        .collect::<Vec<i64>>(),
                )
            } else {
                Box::new(
                    child
                        .parent_keys
                        .iter()
                        .map(as_text)
                        .collect::<Vec<String>>(),
                )
            };
            let keys = keys.as_ref();
            c.block_on(async {
                if child.table.key.is_some() {
                    c.client()
                        .execute(&delete, &[keys, &pair_parents, &pair_keys])
                        .await?;
                } else {
                    c.client().execute(&delete, &[keys]).await?;
                }
                c.client().execute(&mark, &[keys, &now]).await
            })
            .map_err(fail(doing))?;
        }
        let rows: Vec<&Value> = child.rows.iter().collect();
        self.load_rows(table, &rows, None, LoadMode::Direct, now)
    }

    fn write_page(
        &mut self,
        batch: &PageBatch,
        mode: LoadMode,
        state: Option<&Value>,
        now: &str,
    ) -> PgResult<()> {
        if let Some(c) = &self.conn {
            // synchronous_commit off: a killed bcsync loses nothing (the commit is done on the
            // server); a server crash can lose the last few pages, rows and bookmark together,
            // which the next run re-reads (SQLite's synchronous=NORMAL, the same trade).
            // enable_seqscan off: the child tables grow during a load, before any statistics,
            // and the planner would scan them whole for each page's delete by parent key.
            c.block_on(c.client().batch_execute(
                "BEGIN; SET LOCAL synchronous_commit = off; SET LOCAL enable_seqscan = off",
            ))
            .map_err(fail("starting a transaction"))?;
        }
        let stream = batch.stream;
        // A key read twice in one page (modified while we paged) keeps its last version.
        let mut last: HashMap<String, usize> = HashMap::with_capacity(batch.records.len());
        for (i, r) in batch.records.iter().enumerate() {
            last.insert(
                r.get(stream.key).map(Value::to_string).unwrap_or_default(),
                i,
            );
        }
        let rows: Vec<&Value> = batch
            .records
            .iter()
            .enumerate()
            .filter(|(i, r)| {
                last.get(&r.get(stream.key).map(Value::to_string).unwrap_or_default()) == Some(i)
            })
            .map(|(_, r)| r)
            .collect();
        self.load_rows(stream.name, &rows, Some(stream.key), mode, now)?;
        for child in &batch.children {
            self.replace_children(child, mode, now)?;
        }
        if let (Some(state), Some(c)) = (state, &self.conn) {
            c.block_on(c.client().execute(
                &format!(
                    "INSERT INTO {} (stream, state, updated_at) VALUES ($1, $2, now())
                     ON CONFLICT (stream) DO UPDATE SET state = EXCLUDED.state, updated_at = EXCLUDED.updated_at",
                    self.qualified("_bcsync_state")
                ),
                &[&stream.name, state],
            ))
            .map_err(fail("saving the stream state"))?;
        }
        if let Some(c) = &self.conn {
            c.block_on(c.client().batch_execute("COMMIT"))
                .map_err(fail("committing the page"))?;
        }
        Ok(())
    }

    /// After a failed page: roll back, and forget what the rollback undid (added columns,
    /// staging tables created in the transaction).
    fn recover(&mut self) -> Result<()> {
        if let Some(c) = &self.conn {
            let _ = c.block_on(c.client().batch_execute("ROLLBACK"));
        }
        self.staged.clear();
        self.load_columns()
    }
}

impl Destination for PostgresDestination {
    fn describe(&self) -> String {
        format!("{} (schema {})", self.target.shown, self.target.schema)
    }

    fn begin(&mut self, streams: &[&'static StreamDescriptor]) -> Result<()> {
        self.connect()?;
        self.ensure_schema()?;
        for s in streams {
            self.create_table(s.name, s.fields, Some(s.key), None)?;
            let parent_kind = Self::kind_of_key(s.fields, s.key);
            for c in s.children {
                self.create_table(c.name, c.fields, None, Some((c.parent_column, parent_kind)))?;
            }
        }
        self.load_columns()?;
        for s in streams {
            // First load: the stream's table and its child tables are all empty.
            let tables: Vec<String> = std::iter::once(s.name)
                .chain(s.children.iter().map(|c| c.name))
                .map(|t| format!("NOT EXISTS (SELECT 1 FROM {})", self.qualified(t)))
                .collect();
            let c = self.conn()?;
            let empty = c
                .block_on(
                    c.client()
                        .query_one(&format!("SELECT {}", tables.join(" AND ")), &[]),
                )
                .map_err(|e| {
                    self.target
                        .explain(&e, &format!("reading table {}", s.name))
                })?
                .get::<_, bool>(0);
            self.modes.insert(
                s.name.to_owned(),
                if empty {
                    LoadMode::Direct
                } else {
                    LoadMode::Staged
                },
            );
        }
        Ok(())
    }

    fn load_state(&mut self) -> Result<State> {
        let c = self.conn()?;
        let rows = c
            .block_on(c.client().query(
                &format!(
                    "SELECT stream, state FROM {}",
                    self.qualified("_bcsync_state")
                ),
                &[],
            ))
            .map_err(|e| self.target.explain(&e, "reading the saved state"))?;
        let mut state = State::default();
        for r in rows {
            let (stream, json): (String, Value) = (r.get(0), r.get(1));
            let s: StreamState = serde_json::from_value(json).map_err(|e| {
                self.target.err(format!(
                    "the saved state of stream {stream} in {}._bcsync_state is unreadable ({e}); run with --full-refresh to start over",
                    self.target.schema
                ))
            })?;
            state.bookmarks.insert(stream, s);
        }
        Ok(state)
    }

    fn write(&mut self, batch: PageBatch) -> Result<u64> {
        let children = batch.child_row_count();
        let mut write = || -> Result<()> {
            let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            let state = match &batch.state {
                Some(s) => Some(
                    serde_json::to_value(s)
                        .map_err(|e| self.target.err(format!("encoding the stream state: {e}")))?,
                ),
                None => None,
            };
            let mode = self
                .modes
                .get(batch.stream.name)
                .copied()
                .unwrap_or(LoadMode::Staged);
            match self.write_page(&batch, mode, state.as_ref(), &now) {
                Ok(()) => Ok(()),
                Err(f) => {
                    self.recover()?;
                    let duplicate = f.err.code() == Some(&SqlState::UNIQUE_VIOLATION);
                    if mode == LoadMode::Direct && duplicate {
                        // A key read again this run: COPY cannot upsert, so redo the page (and
                        // the rest of the stream) through the staging table.
                        tracing::debug!(
                            stream = batch.stream.name,
                            "key seen twice; upserting through staging from now on"
                        );
                        self.modes
                            .insert(batch.stream.name.to_owned(), LoadMode::Staged);
                        return match self.write_page(&batch, LoadMode::Staged, state.as_ref(), &now)
                        {
                            Ok(()) => Ok(()),
                            Err(f) => {
                                self.recover()?;
                                Err(self.target.explain(&f.err, &f.doing))
                            }
                        };
                    }
                    Err(self.target.explain(&f.err, &f.doing))
                }
            }
        };
        write().map(|()| children)
    }

    fn reset_state(&mut self, stream: &str) -> Result<()> {
        let c = self.conn()?;
        c.block_on(c.client().execute(
            &format!(
                "DELETE FROM {} WHERE stream = $1",
                self.qualified("_bcsync_state")
            ),
            &[&stream],
        ))
        .map_err(|e| self.target.explain(&e, "resetting the stream state"))?;
        Ok(())
    }

    fn complete_read(
        &mut self,
        stream: &'static StreamDescriptor,
        read_started: &str,
    ) -> Result<()> {
        // Every record the store still has was rewritten since `read_started` (which
        // cleared its mark); older rows are gone from the store, and their children with
        // them. One transaction with the state, so a resumed read never marks twice.
        let c = self.conn()?;
        let marks = super::DeletionMarks::new(
            stream,
            |t| self.qualified(t),
            "now()",
            "$1::text::timestamptz",
        );
        let state = format!(
            "UPDATE {} SET state = state - $1::text WHERE stream = $2",
            self.qualified("_bcsync_state")
        );
        let gone = c
            .block_on(async {
                let client = c.client();
                client.batch_execute("BEGIN").await?;
                let gone = client.execute(&marks.parents, &[&read_started]).await?;
                for sql in &marks.children {
                    client.execute(sql, &[]).await?;
                }
                client
                    .execute(&state, &[&FULL_READ_STARTED, &stream.name])
                    .await?;
                client.batch_execute("COMMIT").await?;
                Ok::<_, tokio_postgres::Error>(gone)
            })
            .map_err(|e| {
                let _ = c.block_on(c.client().batch_execute("ROLLBACK"));
                self.target.explain(&e, "marking rows deleted in the store")
            })?;
        super::DeletionMarks::log(stream, gone);
        Ok(())
    }

    fn mark_deleted(&mut self, stream: &'static StreamDescriptor, keys: &[Value]) -> Result<u64> {
        // Keys compared as text: the key column is bigint for most streams and text for
        // carts, and the webhook names either as JSON.
        let c = self.conn()?;
        let keys: Vec<String> = keys
            .iter()
            .map(|k| match k {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        let parent = format!(
            "UPDATE {} SET \"_deleted_at\" = now() WHERE {}::text = ANY($1) AND \"_deleted_at\" IS NULL",
            self.qualified(stream.name),
            quote_ident(stream.key)
        );
        let children: Vec<String> = stream
            .children
            .iter()
            .map(|ch| {
                format!(
                    "UPDATE {} SET \"_deleted_at\" = now() WHERE {}::text = ANY($1) AND \"_deleted_at\" IS NULL",
                    self.qualified(ch.name),
                    quote_ident(ch.parent_column)
                )
            })
            .collect();
        let gone = c
            .block_on(async {
                let client = c.client();
                client.batch_execute("BEGIN").await?;
                let gone = client.execute(&parent, &[&keys]).await?;
                for sql in &children {
                    client.execute(sql, &[&keys]).await?;
                }
                client.batch_execute("COMMIT").await?;
                Ok::<_, tokio_postgres::Error>(gone)
            })
            .map_err(|e| {
                let _ = c.block_on(c.client().batch_execute("ROLLBACK"));
                self.target.explain(&e, "marking rows deleted in the store")
            })?;
        super::DeletionMarks::log(stream, gone);
        Ok(gone)
    }

    fn live_keys(&mut self, stream: &'static StreamDescriptor) -> Result<Vec<Value>> {
        let c = self.conn()?;
        let sql = format!(
            "SELECT {}::text FROM {} WHERE \"_deleted_at\" IS NULL",
            quote_ident(stream.key),
            self.qualified(stream.name)
        );
        let rows = c
            .block_on(c.client().query(&sql, &[]))
            .map_err(|e| self.target.explain(&e, "reading the keys of live rows"))?;
        Ok(rows
            .iter()
            .map(|r| {
                let k: String = r.get(0);
                k.parse::<i64>()
                    .map(Value::from)
                    .unwrap_or(Value::String(k))
            })
            .collect())
    }

    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rendered(kind: Kind, v: Value) -> String {
        let mut buf = Vec::new();
        render_value(&mut buf, kind, Some(&v), &mut String::new());
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn raw_json_is_written_in_jsonb_key_order_and_means_the_same() {
        let v = json!({"status": "x", "id": 1, "items": [{"zz": 1, "a": {"bb": 2, "c": 3}}], "b\"q": null});
        let mut out = Vec::new();
        write_in_jsonb_order(&mut out, &v);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            r#"{"id":1,"b\"q":null,"items":[{"a":{"c":3,"bb":2},"zz":1}],"status":"x"}"#
        );
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), v);
    }

    #[test]
    fn values_render_as_copy_text_of_their_column_type() {
        assert_eq!(rendered(Kind::Int, json!(42)), "42");
        assert_eq!(rendered(Kind::Int, json!("17")), "17");
        assert_eq!(rendered(Kind::Int, json!(1.5)), "\\N");
        assert_eq!(rendered(Kind::Numeric, json!("12.5000")), "12.5000");
        assert_eq!(rendered(Kind::Numeric, json!("n/a")), "\\N");
        assert_eq!(rendered(Kind::Bool, json!(true)), "t");
        assert_eq!(rendered(Kind::Text, json!("a\tb\nc\\d")), "a\\tb\\nc\\\\d");
        assert_eq!(rendered(Kind::Text, json!(12)), "12");
        assert_eq!(
            rendered(Kind::Timestamp, json!("Tue, 20 Nov 2012 00:00:00 +0000")),
            "2012-11-20T00:00:00Z"
        );
        assert_eq!(rendered(Kind::Timestamp, json!("")), "\\N");
        assert_eq!(
            rendered(Kind::Json, json!({"a": "x\"y"})),
            "{\"a\":\"x\\\\\"y\"}"
        );
        assert_eq!(rendered(Kind::Int, Value::Null), "\\N");
        let mut buf = Vec::new();
        push_json_escaped(&mut buf, br#"{"a":"x\"y\\z\n"}"#);
        assert_eq!(buf, br#"{"a":"x\\"y\\\\z\\n"}"#);
    }
}
