//! SQLite, the embedded default (`bcsync.db`): a table per stream and per child table,
//! typed columns for top-level scalars plus the raw JSON (`_raw`), upsert by key, new
//! fields added as columns when they first appear, and the stream state in
//! `_bcsync_state`, committed in the same transaction as the page's rows.
//!
//! Deletes are marks, never removals: `_deleted_at` (RFC 3339 UTC) is set on rows a
//! complete read did not see and on their child rows, and cleared when a record comes back
//! (see [`Destination::complete_read`]).
//!
//! Safety: a file with tables but no `_bcsync_state` belongs to another program and is
//! refused before anything is written to it; one extraction at a time holds an OS lock on
//! `FILE.lock` beside the database (freed by the OS when the process dies, so a `kill -9`
//! never leaves a lock that blocks; the file itself is removed on a normal exit).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};
use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::Value;
use serde_json::value::RawValue;

use super::{Destination, PageBatch};
use crate::error::{Error, Result};
use crate::state::{FULL_READ_STARTED, State, StreamState};
use crate::streams::text::{Scalar, TextRecord, scalar};
use crate::streams::{ChildTable, FieldType, StreamDescriptor};

/// Writes into one SQLite file.
pub struct SqliteDestination {
    path: PathBuf,
    conn: Connection,
    /// Known columns per table, in table order.
    columns: HashMap<String, Vec<String>>,
    /// Held for the destination's lifetime: one extraction per file.
    _lock: ExtractionLock,
}

/// Columns bcsync adds to every table; never filled from a record's fields.
const META_COLUMNS: [&str; 3] = ["_raw", "_extracted_at", "_deleted_at"];

/// The exclusive lock of one extraction on one SQLite file: an OS lock on `FILE.lock`,
/// which says who holds it (pid, host, since when) for the message the next one prints.
struct ExtractionLock {
    path: PathBuf,
    _file: File,
}

impl ExtractionLock {
    fn acquire(db: &Path) -> Result<Self> {
        let mut name = db.file_name().unwrap_or_default().to_os_string();
        name.push(".lock");
        let path = db.with_file_name(name);
        let io = |source| Error::Io {
            path: path.clone(),
            source,
        };
        // A holder that finishes removes the file; if that happens between our open and our
        // lock we hold an orphan, so try again on the file now at the path.
        for _ in 0..5 {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(io)?;
            match file.try_lock() {
                Ok(()) => {
                    if !still_at(&file, &path) {
                        continue;
                    }
                    let holder = format!(
                        "pid {} on {}, since {}",
                        std::process::id(),
                        host_name(),
                        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    );
                    file.set_len(0).map_err(io)?;
                    file.write_all(holder.as_bytes()).map_err(io)?;
                    file.flush().map_err(io)?;
                    return Ok(Self { path, _file: file });
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    let mut holder = String::new();
                    let _ = file.read_to_string(&mut holder);
                    let holder = holder.trim();
                    return Err(Error::DestinationBusy {
                        path: db.to_owned(),
                        holder: if holder.is_empty() {
                            "a process that is starting".into()
                        } else {
                            holder.to_owned()
                        },
                    });
                }
                Err(std::fs::TryLockError::Error(source)) => return Err(io(source)),
            }
        }
        Err(Error::DestinationBusy {
            path: db.to_owned(),
            holder: "other extractions starting and finishing at this moment".into(),
        })
    }
}

impl Drop for ExtractionLock {
    fn drop(&mut self) {
        // Removed while still locked (the file closes, and unlocks, after this), so no one
        // can lock the old file and believe they hold the lock.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether `file` is still the file at `path` (not removed or replaced meanwhile).
#[cfg(unix)]
fn still_at(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn still_at(_file: &File, path: &Path) -> bool {
    path.exists()
}

/// This machine's name, for the lock holder's description.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "this machine".into())
}

/// The tables of a database another program made (tables, but no `_bcsync_state`), or
/// `None` for a new, empty or bcsync database.
fn foreign_tables(conn: &Connection) -> rusqlite::Result<Option<Vec<String>>> {
    let mut stmt = conn.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
    )?;
    let tables = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    if tables.is_empty() || tables.iter().any(|t| t == "_bcsync_state") {
        Ok(None)
    } else {
        Ok(Some(tables))
    }
}

/// SQL column type for a JSON value.
fn sql_type_of(v: &Value) -> Option<&'static str> {
    match v {
        Value::Bool(_) => Some("INTEGER"),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some("INTEGER"),
        Value::Number(_) => Some("REAL"),
        Value::String(_) => Some("TEXT"),
        // Objects and arrays stay in `_raw`; nulls say nothing about the type yet.
        _ => None,
    }
}

fn sql_type_of_field(t: FieldType) -> &'static str {
    match t {
        FieldType::Integer | FieldType::Boolean => "INTEGER",
        FieldType::Number => "REAL",
        FieldType::String | FieldType::DateTime | FieldType::Json => "TEXT",
    }
}

/// Quotes an identifier (field names come from the API: never trust them).
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A JSON value as an SQL parameter, borrowing strings instead of copying them (the hot
/// path: every column of every row).
fn to_sql(v: Option<&Value>) -> ToSqlOutput<'_> {
    match v {
        None | Some(Value::Null) => ToSqlOutput::Borrowed(ValueRef::Null),
        Some(Value::Bool(b)) => ToSqlOutput::Owned(SqlValue::Integer(i64::from(*b))),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) => ToSqlOutput::Owned(SqlValue::Integer(i)),
            None => ToSqlOutput::Owned(n.as_f64().map(SqlValue::Real).unwrap_or(SqlValue::Null)),
        },
        Some(Value::String(s)) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        Some(other) => ToSqlOutput::Owned(SqlValue::Text(other.to_string())),
    }
}

impl SqliteDestination {
    pub fn open(path: PathBuf) -> Result<Self> {
        let err = |source| Error::Sqlite {
            path: path.clone(),
            source,
        };
        let conn = Connection::open(&path).map_err(err)?;
        // Before any change: another program's database is not ours to add tables to.
        if let Some(tables) = foreign_tables(&conn).map_err(err)? {
            const SHOWN: usize = 8;
            let mut list = tables
                .iter()
                .take(SHOWN)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            if tables.len() > SHOWN {
                list.push_str(&format!(" and {} more", tables.len() - SHOWN));
            }
            return Err(Error::NotBcsyncDatabase { path, tables: list });
        }
        let lock = ExtractionLock::acquire(&path)?;
        // WAL + NORMAL: a killed process never loses a committed transaction; only a power
        // cut can lose the last few, which the next incremental run re-reads. A 16 MB page
        // cache (the default is 2 MB) holds a whole page of orders with their lines, so a
        // transaction does not spill pages to the WAL before its commit; a checkpoint every
        // 1,000 WAL pages (16 MB; the default is 4 MB) copies a hot page back once per
        // checkpoint instead of four times. `finish` folds the WAL back at the end. Pages of
        // 16 KB (the default is 4 KB; a new database only, an existing one keeps its own)
        // hold an order's 7 KB of `_raw` without an overflow chain and write a quarter as
        // many WAL frames: about 15% less write CPU (docs/BENCHMARKS.md).
        conn.execute_batch(
            "PRAGMA page_size=16384; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;
             PRAGMA cache_size=-16384; PRAGMA wal_autocheckpoint=1000;
             CREATE TABLE IF NOT EXISTS _bcsync_state (
                 stream TEXT PRIMARY KEY,
                 state TEXT NOT NULL,
                 updated_at TEXT NOT NULL
             );",
        )
        .map_err(err)?;
        Ok(Self {
            path,
            conn,
            columns: HashMap::new(),
            _lock: lock,
        })
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> Error + '_ {
        move |source| Error::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn load_columns(&mut self, table: &str) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare(&format!("PRAGMA table_info({})", quote_ident(table)))
            .map_err(self.err())?;
        let cols = stmt
            .query_map([], |row| row.get::<_, String>(1))
            .map_err(self.err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err())?;
        Ok(cols)
    }

    fn ensure_table(
        &mut self,
        table: &str,
        fields: &[(&str, FieldType)],
        key: Option<&str>,
        parent_column: Option<&str>,
    ) -> Result<()> {
        let mut defs: Vec<String> = Vec::new();
        let mut seen = Vec::new();
        if let Some(p) = parent_column {
            defs.push(format!("{} INTEGER", quote_ident(p)));
            seen.push(p.to_owned());
        }
        for (name, t) in fields {
            if seen.iter().any(|s| s == name) {
                continue;
            }
            // The key is unique, not the table's `INTEGER PRIMARY KEY`: that would store
            // rows in key order, and incremental reads bring them in date order, so each
            // 10 KB order landed between two others and rewrote its neighbours' pages
            // (measured: 2.6 writes per database page, 8.4 GB written for 1.6 GB;
            // docs/BENCHMARKS.md). Rows go in arrival order and the key's index is small.
            let pk = if parent_column.is_none() && Some(*name) == key {
                " UNIQUE"
            } else {
                ""
            };
            defs.push(format!(
                "{} {}{}",
                quote_ident(name),
                sql_type_of_field(*t),
                pk
            ));
            seen.push((*name).to_owned());
        }
        defs.push("\"_raw\" TEXT NOT NULL".into());
        defs.push("\"_extracted_at\" TEXT NOT NULL".into());
        defs.push("\"_deleted_at\" TEXT".into());
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS {} ({})",
            quote_ident(table),
            defs.join(", ")
        );
        self.conn.execute(&sql, []).map_err(self.err())?;
        // Databases made before deletes were marked lack the column.
        if !self.load_columns(table)?.iter().any(|c| c == "_deleted_at") {
            let sql = format!(
                "ALTER TABLE {} ADD COLUMN \"_deleted_at\" TEXT",
                quote_ident(table)
            );
            self.conn.execute(&sql, []).map_err(self.err())?;
        }
        if let Some(p) = parent_column {
            let idx = format!(
                "CREATE INDEX IF NOT EXISTS {} ON {} ({})",
                quote_ident(&format!("{table}_{p}_idx")),
                quote_ident(table),
                quote_ident(p)
            );
            self.conn.execute(&idx, []).map_err(self.err())?;
        }
        let cols = self.load_columns(table)?;
        self.columns.insert(table.to_owned(), cols);
        Ok(())
    }

    /// Adds a column for every top-level scalar field not seen before.
    fn add_new_columns<R: SqlRow>(&mut self, table: &str, rows: &[R]) -> Result<()> {
        let mut new: BTreeMap<String, &'static str> = BTreeMap::new();
        {
            // A set, not a scan of the column list: every key of every row is looked up,
            // so with a hasher made for short keys (SipHash was a fiftieth of the write).
            let known: FxHashSet<&str> = self
                .columns
                .get(table)
                .map(|c| c.iter().map(String::as_str).collect())
                .unwrap_or_default();
            for row in rows {
                row.for_each_field(&mut |k, v| {
                    if !known.contains(k)
                        && !new.contains_key(k)
                        && let Some(t) = v.sql_type()
                    {
                        new.insert(k.to_owned(), t);
                    }
                    Ok(())
                })?;
            }
        }
        for (name, t) in new {
            let sql = format!(
                "ALTER TABLE {} ADD COLUMN {} {}",
                quote_ident(table),
                quote_ident(&name),
                t
            );
            self.conn.execute(&sql, []).map_err(self.err())?;
            self.columns.entry(table.to_owned()).or_default().push(name);
        }
        Ok(())
    }

    fn data_columns(&self, table: &str) -> Vec<String> {
        self.columns
            .get(table)
            .map(|c| {
                c.iter()
                    .filter(|c| !META_COLUMNS.contains(&c.as_str()))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Inserts (or, with `upsert_key`, upserts) rows into `table`.
    fn insert_rows<R: SqlRow>(
        &mut self,
        table: &str,
        rows: &[R],
        upsert_key: Option<&str>,
        now: &str,
    ) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        self.add_new_columns(table, rows)?;
        let cols = self.data_columns(table);
        let mut names: Vec<String> = cols.iter().map(|c| quote_ident(c)).collect();
        names.push("\"_raw\"".into());
        names.push("\"_extracted_at\"".into());
        let placeholders = vec!["?"; names.len()].join(", ");
        let mut sql = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            quote_ident(table),
            names.join(", "),
            placeholders
        );
        if let Some(key) = upsert_key {
            // A record written again exists in the store: clear any deletion mark.
            let updates: Vec<String> = names
                .iter()
                .filter(|n| **n != quote_ident(key))
                .map(|n| format!("{n} = excluded.{n}"))
                .chain(["\"_deleted_at\" = NULL".to_owned()])
                .collect();
            sql.push_str(&format!(
                " ON CONFLICT({}) DO UPDATE SET {}",
                quote_ident(key),
                updates.join(", ")
            ));
        }
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(|source| Error::Sqlite {
                path: self.path.clone(),
                source,
            })?;
        let sqlite_err = |source| Error::Sqlite {
            path: self.path.clone(),
            source,
        };
        // Parameters bound one by one (SQLite copies them), so one buffer serves every
        // row's `_raw` instead of a new string per row.
        let mut raw = Vec::with_capacity(8 * 1024);
        // The rows of a page list their fields in the same order: remember which column the
        // field at each position went to and look a name up only where the order differs
        // (a lookup per column and row was a tenth of the write's CPU). Fields a row lacks
        // stay NULL (bindings cleared).
        let column_of: FxHashMap<&str, usize> = cols
            .iter()
            .enumerate()
            .map(|(i, c)| (c.as_str(), i))
            .collect();
        let mut by_position: Vec<(&str, Option<usize>)> = Vec::new();
        for row in rows {
            stmt.clear_bindings();
            let mut pos = 0;
            row.for_each_field(&mut |name, value| {
                let column = match by_position.get(pos) {
                    Some((seen, column)) if *seen == name => *column,
                    _ => {
                        let column = column_of.get(name).copied();
                        by_position.truncate(pos);
                        by_position.push((name, column));
                        column
                    }
                };
                pos += 1;
                if let Some(i) = column {
                    stmt.raw_bind_parameter(i + 1, value.to_sql())
                        .map_err(sqlite_err)?;
                }
                Ok(())
            })?;
            let text = row.raw_json(&mut raw)?;
            stmt.raw_bind_parameter(cols.len() + 1, ToSqlOutput::Borrowed(ValueRef::Text(text)))
                .map_err(sqlite_err)?;
            stmt.raw_bind_parameter(
                cols.len() + 2,
                ToSqlOutput::Borrowed(ValueRef::Text(now.as_bytes())),
            )
            .map_err(sqlite_err)?;
            stmt.raw_execute().map_err(sqlite_err)?;
        }
        Ok(())
    }

    /// Replaces the children of the page's parents: a child present again is rewritten
    /// (unmarked), a child the parent no longer has is marked `_deleted_at = now`, and a
    /// child without a key, which cannot be matched from one read to the next, is replaced
    /// outright (marking it would keep a stale copy per read).
    fn replace_children<R: SqlRow>(&mut self, child: ChildPage<'_, R>, now: &str) -> Result<()> {
        let table = child.table.name;
        let parent = quote_ident(child.table.parent_column);
        let sqlite_err = |source| Error::Sqlite {
            path: self.path.clone(),
            source,
        };
        // Parents with no child rows yet (every parent of a first load) have nothing to
        // delete or mark: one indexed lookup instead of a statement per row and per parent.
        let with_children: HashSet<String> = {
            let sql = format!(
                "SELECT EXISTS (SELECT 1 FROM {} WHERE {parent} = ?1)",
                quote_ident(table)
            );
            let mut exists = self.conn.prepare_cached(&sql).map_err(sqlite_err)?;
            let mut keys = HashSet::new();
            for key in child.parent_keys {
                if exists
                    .query_row([key.to_sql()], |r| r.get::<_, bool>(0))
                    .map_err(sqlite_err)?
                {
                    keys.insert(key.key());
                }
            }
            keys
        };
        if !with_children.is_empty() {
            if let Some(key) = child.table.key {
                let sql = format!(
                    "DELETE FROM {} WHERE {parent} = ?1 AND {} = ?2",
                    quote_ident(table),
                    quote_ident(key)
                );
                let mut del = self.conn.prepare_cached(&sql).map_err(sqlite_err)?;
                for row in child.rows {
                    let parent_key = row.get(child.table.parent_column);
                    let k = row.get(key);
                    if !k.is_null()
                        && !parent_key.is_missing()
                        && with_children.contains(&parent_key.key())
                    {
                        del.execute([parent_key.to_sql(), k.to_sql()])
                            .map_err(sqlite_err)?;
                    }
                }
            }
            let key_is_null = child
                .table
                .key
                .map(|k| format!(" AND {} IS NULL", quote_ident(k)))
                .unwrap_or_default();
            let del_sql = format!(
                "DELETE FROM {} WHERE {parent} = ?1{key_is_null}",
                quote_ident(table)
            );
            let mark_sql = format!(
                "UPDATE {} SET \"_deleted_at\" = ?2 WHERE {parent} = ?1 AND \"_deleted_at\" IS NULL",
                quote_ident(table)
            );
            let mut del = self.conn.prepare_cached(&del_sql).map_err(sqlite_err)?;
            let mut mark = self.conn.prepare_cached(&mark_sql).map_err(sqlite_err)?;
            for key in child.parent_keys {
                if !with_children.contains(&key.key()) {
                    continue;
                }
                del.execute([key.to_sql()]).map_err(sqlite_err)?;
                mark.execute([
                    key.to_sql(),
                    ToSqlOutput::Borrowed(ValueRef::Text(now.as_bytes())),
                ])
                .map_err(sqlite_err)?;
            }
        }
        self.insert_rows(table, child.rows, None, now)
    }

    /// Writes a page's parents, their children and the stream's state (inside the
    /// caller's transaction); returns the child rows written.
    fn write_rows<P: SqlRow, C: SqlRow>(
        &mut self,
        stream: &'static StreamDescriptor,
        parents: &[P],
        children: &[(&'static ChildTable, Vec<Cell<'_>>, Vec<C>)],
        state: Option<&StreamState>,
        now: &str,
    ) -> Result<u64> {
        self.insert_rows(stream.name, parents, Some(stream.key), now)?;
        let mut written = 0;
        for (table, parent_keys, rows) in children {
            self.replace_children(
                ChildPage {
                    table,
                    parent_keys,
                    rows,
                },
                now,
            )?;
            written += rows.len() as u64;
        }
        if let Some(state) = state {
            let json = serde_json::to_string(state).map_err(|e| Error::Encode {
                what: "the stream state",
                detail: e.to_string(),
            })?;
            self.conn
                .execute(
                    "INSERT INTO _bcsync_state (stream, state, updated_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT(stream) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
                    rusqlite::params![stream.name, json, now],
                )
                .map_err(self.err())?;
        }
        Ok(written)
    }

    /// Runs `f` in one write transaction, stamped with the time the write lock was taken:
    /// a row committed after another transaction (a model refresh, models/mod.rs) then
    /// always carries a later time than any row that transaction saw, so `_extracted_at`
    /// works as a change watermark.
    fn in_transaction<T>(&mut self, f: impl FnOnce(&mut Self, &str) -> Result<T>) -> Result<T> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(self.err())?;
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        match f(self, &now) {
            Ok(v) => {
                self.conn.execute_batch("COMMIT").map_err(self.err())?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Writes a page whose records are the text they arrived as, reading fields and child
    /// rows from it ([`TextRecord`]); `None` (nothing written) when one of the stream's
    /// child tables cannot be read from this text, and the page must be parsed.
    fn write_text(&mut self, batch: &PageBatch) -> Result<Option<u64>> {
        let stream = batch.stream;
        if stream.rows.is_some() {
            return Ok(None);
        }
        let records = batch
            .raw
            .iter()
            .map(|raw| {
                TextRecord::of(raw)
                    .map(|record| TextRow {
                        record,
                        arrived: Some(raw),
                    })
                    .map_err(|e| Error::Data {
                        stream: stream.name.to_owned(),
                        detail: format!("a record is not a JSON object: {e}"),
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut children = Vec::with_capacity(stream.children.len());
        for table in stream.children {
            let Some(from_text) = table.from_text else {
                return Ok(None);
            };
            let mut parent_keys = Vec::with_capacity(records.len());
            let mut rows = Vec::new();
            for parent in &records {
                let key = parent.record.get(stream.key);
                let Some(found) = from_text(&parent.record) else {
                    return Ok(None);
                };
                for mut record in found {
                    // The parent's key, as a parsed record's children get it.
                    record.set(table.parent_column, key.unwrap_or(RawValue::NULL));
                    rows.push(TextRow {
                        record,
                        arrived: None,
                    });
                }
                parent_keys.push(key.map_or(Cell::Missing, Cell::Text));
            }
            children.push((table, parent_keys, rows));
        }
        let state = batch.state.as_ref();
        self.in_transaction(|dest, now| dest.write_rows(stream, &records, &children, state, now))
            .map(Some)
    }
}

/// One child table's rows of a page, and the parents whose children they replace (a
/// parent with no rows now has none).
struct ChildPage<'p, R> {
    table: &'static ChildTable,
    parent_keys: &'p [Cell<'p>],
    rows: &'p [R],
}

/// A field's value as the writer binds it: from a parsed record or from a record's text.
#[derive(Debug, Clone, Copy)]
enum Cell<'a> {
    Value(&'a Value),
    Text(&'a RawValue),
    Missing,
}

impl<'a> Cell<'a> {
    /// The column type a new field gets (`None`: nulls, objects and arrays get none).
    fn sql_type(self) -> Option<&'static str> {
        match self {
            Cell::Value(v) => sql_type_of(v),
            Cell::Text(raw) => match scalar(raw) {
                Scalar::Bool(_) | Scalar::Integer(_) => Some("INTEGER"),
                Scalar::Real(_) => Some("REAL"),
                Scalar::Text(_) => Some("TEXT"),
                Scalar::Null | Scalar::Nested(_) => None,
            },
            Cell::Missing => None,
        }
    }

    fn to_sql(self) -> ToSqlOutput<'a> {
        match self {
            Cell::Value(v) => to_sql(Some(v)),
            Cell::Text(raw) => match scalar(raw) {
                Scalar::Null => ToSqlOutput::Borrowed(ValueRef::Null),
                Scalar::Bool(b) => ToSqlOutput::Owned(SqlValue::Integer(i64::from(b))),
                Scalar::Integer(i) => ToSqlOutput::Owned(SqlValue::Integer(i)),
                Scalar::Real(f) => ToSqlOutput::Owned(SqlValue::Real(f)),
                Scalar::Text(Cow::Borrowed(s)) => {
                    ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes()))
                }
                Scalar::Text(Cow::Owned(s)) => ToSqlOutput::Owned(SqlValue::Text(s)),
                Scalar::Nested(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
            },
            Cell::Missing => ToSqlOutput::Borrowed(ValueRef::Null),
        }
    }

    fn is_missing(self) -> bool {
        matches!(self, Cell::Missing)
    }

    fn is_null(self) -> bool {
        match self {
            Cell::Value(v) => v.is_null(),
            Cell::Text(raw) => raw.get() == "null",
            Cell::Missing => true,
        }
    }

    /// The value as a key that matches the same key read either way (a page's parents
    /// against its child rows).
    fn key(self) -> String {
        match self {
            Cell::Value(Value::String(s)) => format!("s{s}"),
            Cell::Value(Value::Number(n)) => format!("n{n}"),
            Cell::Value(v) => format!("j{v}"),
            Cell::Text(raw) => match scalar(raw) {
                Scalar::Text(s) => format!("s{s}"),
                Scalar::Integer(i) => format!("n{i}"),
                _ => format!("j{}", raw.get()),
            },
            Cell::Missing => "j".to_owned(),
        }
    }
}

/// A row the writer inserts: a field at a time, then its `_raw`.
trait SqlRow {
    /// Each field, in the row's order.
    fn for_each_field<'s>(
        &'s self,
        f: &mut dyn FnMut(&'s str, Cell<'s>) -> Result<()>,
    ) -> Result<()>;
    fn get(&self, name: &str) -> Cell<'_>;
    /// The row's `_raw`: its JSON as it arrived, or written into `buf`.
    fn raw_json<'s>(&'s self, buf: &'s mut Vec<u8>) -> Result<&'s [u8]>;
}

/// A parsed record, with its JSON as it arrived when the reader kept it.
struct ParsedRow<'a> {
    value: &'a Value,
    arrived: Option<&'a RawValue>,
}

impl SqlRow for ParsedRow<'_> {
    fn for_each_field<'s>(
        &'s self,
        f: &mut dyn FnMut(&'s str, Cell<'s>) -> Result<()>,
    ) -> Result<()> {
        for (name, value) in self.value.as_object().into_iter().flatten() {
            f(name, Cell::Value(value))?;
        }
        Ok(())
    }

    fn get(&self, name: &str) -> Cell<'_> {
        self.value.get(name).map_or(Cell::Missing, Cell::Value)
    }

    fn raw_json<'s>(&'s self, buf: &'s mut Vec<u8>) -> Result<&'s [u8]> {
        if let Some(arrived) = self.arrived {
            return Ok(arrived.get().as_bytes());
        }
        buf.clear();
        serde_json::to_writer(&mut *buf, self.value).map_err(|e| Error::Encode {
            what: "a record's raw JSON",
            detail: e.to_string(),
        })?;
        Ok(buf)
    }
}

/// A record read from its text: a parent, stored with the text it arrived as, or a child
/// row (a span of its parent's text with the parent's key set), written out from its
/// fields.
struct TextRow<'a> {
    record: TextRecord<'a>,
    arrived: Option<&'a RawValue>,
}

impl SqlRow for TextRow<'_> {
    fn for_each_field<'s>(
        &'s self,
        f: &mut dyn FnMut(&'s str, Cell<'s>) -> Result<()>,
    ) -> Result<()> {
        for (name, value) in self.record.iter() {
            f(name, Cell::Text(value))?;
        }
        Ok(())
    }

    fn get(&self, name: &str) -> Cell<'_> {
        self.record.get(name).map_or(Cell::Missing, Cell::Text)
    }

    fn raw_json<'s>(&'s self, buf: &'s mut Vec<u8>) -> Result<&'s [u8]> {
        if let Some(arrived) = self.arrived {
            return Ok(arrived.get().as_bytes());
        }
        buf.clear();
        self.record.write_json(buf);
        Ok(buf)
    }
}

impl Destination for SqliteDestination {
    fn reads_text(&self) -> bool {
        true
    }

    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }

    fn begin(&mut self, streams: &[&'static StreamDescriptor]) -> Result<()> {
        for s in streams {
            self.ensure_table(s.name, s.fields, Some(s.key), None)?;
            for c in s.children {
                self.ensure_table(c.name, c.fields, c.key, Some(c.parent_column))?;
            }
        }
        Ok(())
    }

    fn load_state(&mut self) -> Result<State> {
        let mut state = State::default();
        let mut stmt = self
            .conn
            .prepare("SELECT stream, state FROM _bcsync_state")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(self.err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err())?;
        for (stream, json) in rows {
            let s: StreamState =
                serde_json::from_str(&json).map_err(|e| Error::UnreadableStreamState {
                    stream: stream.clone(),
                    target: self.path.display().to_string(),
                    detail: crate::error::plain_serde_message(&e.to_string()),
                })?;
            state.bookmarks.insert(stream, s);
        }
        Ok(state)
    }

    fn write(&mut self, batch: PageBatch) -> Result<u64> {
        if batch.unparsed {
            if let Some(written) = self.write_text(&batch)? {
                return Ok(written);
            }
            return self.write(batch.parsed()?);
        }
        let arrived = batch.raw.len() == batch.records.len();
        let parents: Vec<ParsedRow<'_>> = batch
            .records
            .iter()
            .enumerate()
            .map(|(i, value)| ParsedRow {
                value,
                arrived: if arrived {
                    batch.raw.get(i).map(AsRef::as_ref)
                } else {
                    None
                },
            })
            .collect();
        let children: Vec<_> = batch
            .children
            .iter()
            .map(|c| {
                (
                    c.table,
                    c.parent_keys.iter().map(Cell::Value).collect::<Vec<_>>(),
                    c.rows
                        .iter()
                        .map(|value| ParsedRow {
                            value,
                            arrived: None,
                        })
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        let (stream, state) = (batch.stream, batch.state.as_ref());
        self.in_transaction(|dest, now| dest.write_rows(stream, &parents, &children, state, now))
    }

    fn reset_state(&mut self, stream: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM _bcsync_state WHERE stream = ?1", [stream])
            .map_err(self.err())?;
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
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(self.err())?;
        // Stamped under the write lock, as in `write`.
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let marks = super::DeletionMarks::new(stream, quote_ident, "?1", "?2");
        let result = (|| -> Result<usize> {
            let gone = self
                .conn
                .execute(&marks.parents, [now.as_str(), read_started])
                .map_err(self.err())?;
            for sql in &marks.children {
                self.conn.execute(sql, [now.as_str()]).map_err(self.err())?;
            }
            self.conn
                .execute(
                    "UPDATE _bcsync_state SET state = json_remove(state, ?1) WHERE stream = ?2",
                    [format!("$.{FULL_READ_STARTED}").as_str(), stream.name],
                )
                .map_err(self.err())?;
            Ok(gone)
        })();
        match result {
            Ok(gone) => {
                self.conn.execute_batch("COMMIT").map_err(self.err())?;
                super::DeletionMarks::log(stream, gone as u64);
                Ok(())
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    fn mark_deleted(&mut self, stream: &'static StreamDescriptor, keys: &[Value]) -> Result<u64> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(self.err())?;
        // Stamped under the write lock, as in `write`.
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let result = (|| -> Result<u64> {
            let mut gone = 0u64;
            let parent = format!(
                "UPDATE {} SET \"_deleted_at\" = ?1 WHERE {} = ?2 AND \"_deleted_at\" IS NULL",
                quote_ident(stream.name),
                quote_ident(stream.key)
            );
            let children: Vec<String> = stream
                .children
                .iter()
                .map(|c| {
                    format!(
                        "UPDATE {} SET \"_deleted_at\" = ?1 WHERE {} = ?2 AND \"_deleted_at\" IS NULL",
                        quote_ident(c.name),
                        quote_ident(c.parent_column)
                    )
                })
                .collect();
            for key in keys {
                let k = to_sql(Some(key));
                let now_sql = ToSqlOutput::Borrowed(ValueRef::Text(now.as_bytes()));
                gone += self
                    .conn
                    .execute(&parent, [now_sql, k])
                    .map_err(self.err())? as u64;
                for sql in &children {
                    let now_sql = ToSqlOutput::Borrowed(ValueRef::Text(now.as_bytes()));
                    self.conn
                        .execute(sql, [now_sql, to_sql(Some(key))])
                        .map_err(self.err())?;
                }
            }
            Ok(gone)
        })();
        match result {
            Ok(gone) => {
                self.conn.execute_batch("COMMIT").map_err(self.err())?;
                super::DeletionMarks::log(stream, gone);
                Ok(gone)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    fn live_keys(&mut self, stream: &'static StreamDescriptor) -> Result<Vec<Value>> {
        let sql = format!(
            "SELECT {} FROM {} WHERE \"_deleted_at\" IS NULL",
            quote_ident(stream.key),
            quote_ident(stream.name)
        );
        let mut stmt = self.conn.prepare(&sql).map_err(self.err())?;
        let keys = stmt
            .query_map([], |r| {
                Ok(match r.get_ref(0)? {
                    ValueRef::Integer(i) => Value::from(i),
                    ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
                    _ => Value::Null,
                })
            })
            .map_err(self.err())?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.err())?;
        Ok(keys)
    }

    fn finish(&mut self) -> Result<()> {
        // Fold the WAL back so the file is complete on its own (e.g. to copy it elsewhere).
        self.conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(self.err())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn order(id: i64, lines: &[i64]) -> Value {
        let items: Vec<Value> = lines
            .iter()
            .map(|l| json!({"id": l, "quantity": 1}))
            .collect();
        json!({
            "id": id,
            "date_modified": "Tue, 01 Dec 2026 10:00:00 +0000",
            "consignments": {"shipping": [{"id": id * 10, "city": "Austin", "line_items": items}]}
        })
    }

    /// `(id, marked)` of the order lines of `order`, by id.
    fn lines(dest: &SqliteDestination, order: i64) -> Vec<(i64, bool)> {
        let mut stmt = dest
            .conn
            .prepare("SELECT id, _deleted_at IS NOT NULL FROM order_lines WHERE order_id = ?1 ORDER BY id")
            .unwrap();
        stmt.query_map([order], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    #[test]
    fn raw_is_the_record_as_it_arrived_when_the_page_carries_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut dest = SqliteDestination::open(dir.path().join("t.db")).unwrap();
        assert!(
            dest.reads_text(),
            "readers keep the bytes only for destinations that ask"
        );
        let orders = crate::streams::find("orders").unwrap();
        dest.begin(&[orders]).unwrap();
        let sent = [
            r#"{"id": 1, "total_inc_tax": "12.5000", "note": "a\/b"}"#,
            r#"{"id":2}"#,
        ];
        let records = sent
            .iter()
            .map(|t| serde_json::from_str(t).unwrap())
            .collect();
        let raw = sent
            .iter()
            .map(|t| RawValue::from_string((*t).to_owned()).unwrap())
            .collect();
        dest.write(crate::destinations::PageBatch::new(
            orders, records, raw, None,
        ))
        .unwrap();
        // Without it (a webhook's record, a split row), the parsed record is written out.
        dest.write(crate::destinations::PageBatch::new(
            orders,
            vec![json!({"id": 3})],
            Vec::new(),
            None,
        ))
        .unwrap();
        let stored: Vec<String> = dest
            .conn
            .prepare("SELECT _raw FROM orders ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(stored, [sent[0], sent[1], r#"{"id":3}"#]);
        let total: String = dest
            .conn
            .query_row("SELECT total_inc_tax FROM orders WHERE id = 1", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(
            total, "12.5000",
            "typed columns still come from the parsed record"
        );
    }

    #[test]
    fn children_are_replaced_per_parent_whether_it_had_children_or_not() {
        let dir = tempfile::tempdir().unwrap();
        let mut dest = SqliteDestination::open(dir.path().join("t.db")).unwrap();
        let orders = crate::streams::find("orders").unwrap();
        dest.begin(&[orders]).unwrap();
        let page = |records| crate::destinations::PageBatch::new(orders, records, Vec::new(), None);
        dest.write(page(vec![order(1, &[100, 101])])).unwrap();
        // Order 1 again, one line gone; order 2 new in the same page (no children yet).
        dest.write(page(vec![order(1, &[100]), order(2, &[200, 201])]))
            .unwrap();
        assert_eq!(lines(&dest, 1), vec![(100, false), (101, true)]);
        assert_eq!(lines(&dest, 2), vec![(200, false), (201, false)]);
        // A line that comes back is rewritten once and unmarked.
        dest.write(page(vec![order(1, &[100, 101])])).unwrap();
        assert_eq!(lines(&dest, 1), vec![(100, false), (101, false)]);
        let raw: String = dest
            .conn
            .query_row("SELECT _raw FROM orders WHERE id = 2", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&raw).unwrap(),
            order(2, &[200, 201])
        );
    }

    /// Every row of `table` (columns by name, `_extracted_at` left out, `_raw` parsed,
    /// whether `_deleted_at` is set), by its text, sorted: what two databases must agree
    /// on.
    fn dump(dest: &SqliteDestination, table: &str) -> Vec<String> {
        let cols: Vec<String> = dest.columns[table]
            .iter()
            .filter(|c| *c != "_extracted_at")
            .cloned()
            .collect();
        let sql = format!(
            "SELECT {} FROM {}",
            cols.iter()
                .map(|c| quote_ident(c))
                .collect::<Vec<_>>()
                .join(", "),
            quote_ident(table)
        );
        let mut stmt = dest.conn.prepare(&sql).unwrap();
        let mut rows: Vec<String> = stmt
            .query_map([], |r| {
                let mut row = Vec::new();
                for (i, c) in cols.iter().enumerate() {
                    let v: SqlValue = r.get(i)?;
                    let v = match (c.as_str(), v) {
                        ("_raw", SqlValue::Text(t)) => {
                            format!("{}", serde_json::from_str::<Value>(&t).unwrap())
                        }
                        ("_deleted_at", SqlValue::Text(_)) => "marked".to_owned(),
                        // A nested value in a column: the same JSON, spaced as it arrived
                        // or written compact.
                        (_, SqlValue::Text(t)) if t.starts_with(['[', '{']) => {
                            format!("json {}", serde_json::from_str::<Value>(&t).unwrap())
                        }
                        (_, v) => format!("{v:?}"),
                    };
                    row.push(format!("{c}={v}"));
                }
                Ok(row.join(" "))
            })
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        rows.sort();
        rows
    }

    fn any_order() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let extra = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-1000i64..1000).prop_map(|i| json!(i)),
            (-1e6f64..1e6).prop_map(|f| json!(f)),
            "[a-z\"\\/é]{0,5}".prop_map(Value::String),
            prop::collection::vec(0i64..5, 0..3).prop_map(|v| json!(v)),
        ];
        let line = (
            1i64..50,
            prop::collection::vec(("[a-d]{1,2}", extra.clone()), 0..4),
        )
            .prop_map(|(id, fields)| {
                let mut l = json!({"id": id, "order_id": 0});
                for (k, v) in fields {
                    l[k] = v;
                }
                l
            });
        let consignment = (1i64..9, prop::collection::vec(line, 0..4), "[a-z ]{0,6}")
            .prop_map(|(id, lines, city)| json!({"id": id, "city": city, "line_items": lines}));
        (
            1i64..6,
            prop::collection::vec(consignment, 0..3),
            any::<bool>(),
            prop::collection::vec(("[a-d_]{1,3}", extra), 0..4),
        )
            .prop_map(|(id, shipping, as_array, fields)| {
                let consignments = if as_array {
                    json!([{"shipping": shipping}, {"downloads": []}])
                } else {
                    json!({"shipping": shipping})
                };
                let mut o = json!({
                    "id": id,
                    "date_modified": "Tue, 01 Dec 2026 10:00:00 +0000",
                    "total_inc_tax": "12.5000",
                    "consignments": consignments,
                });
                for (k, v) in fields {
                    o[k] = v;
                }
                o
            })
    }

    proptest::proptest! {
        /// Pages read from their text (the extraction's path) and the same pages parsed
        /// (webhooks, split rows) leave the same rows: typed columns, child rows, marks;
        /// `_raw` as the same JSON.
        #[test]
        fn pages_read_from_text_write_what_parsed_pages_write(
            pages in proptest::collection::vec(proptest::collection::vec(any_order(), 0..4), 1..4)
        ) {
            let dir = tempfile::tempdir().unwrap();
            let orders = crate::streams::find("orders").unwrap();
            let mut from_text = SqliteDestination::open(dir.path().join("text.db")).unwrap();
            let mut parsed = SqliteDestination::open(dir.path().join("parsed.db")).unwrap();
            from_text.begin(&[orders]).unwrap();
            parsed.begin(&[orders]).unwrap();
            for page in pages {
                let text: Vec<Box<RawValue>> = page
                    .iter()
                    .map(|o| RawValue::from_string(serde_json::to_string_pretty(o).unwrap()).unwrap())
                    .collect();
                let a = from_text.write(PageBatch::unparsed(orders, text, None)).unwrap();
                let b = parsed
                    .write(crate::destinations::PageBatch::new(orders, page, Vec::new(), None))
                    .unwrap();
                proptest::prop_assert_eq!(a, b, "child rows written");
            }
            for table in ["orders", "order_lines", "order_shipping_addresses"] {
                proptest::prop_assert_eq!(dump(&from_text, table), dump(&parsed, table), "{}", table);
            }
        }
    }
}
