//! SQLite, the embedded default (`bcsync.db`): a table per stream and per child table,
//! typed columns for top-level scalars plus the raw JSON (`_raw`), upsert by key, new
//! fields added as columns when they first appear, and the stream state in
//! `_bcsync_state`, committed in the same transaction as the page's rows.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};
use rusqlite::{Connection, params_from_iter};
use serde_json::Value;

use super::{ChildRows, Destination, PageBatch};
use crate::error::{Error, Result};
use crate::state::{State, StreamState};
use crate::streams::{FieldType, StreamDescriptor};

/// Writes into one SQLite file.
pub struct SqliteDestination {
    path: PathBuf,
    conn: Connection,
    /// Known columns per table, in table order.
    columns: HashMap<String, Vec<String>>,
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
        // WAL + NORMAL: a killed process never loses a committed transaction; only a power
        // cut can lose the last few, which the next incremental run re-reads.
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;
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
            let pk = if parent_column.is_none() && Some(*name) == key {
                " PRIMARY KEY"
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
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS {} ({})",
            quote_ident(table),
            defs.join(", ")
        );
        self.conn.execute(&sql, []).map_err(self.err())?;
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
    fn add_new_columns(&mut self, table: &str, rows: &[Value]) -> Result<()> {
        let mut new: BTreeMap<String, &'static str> = BTreeMap::new();
        {
            let known = self.columns.get(table).map(Vec::as_slice).unwrap_or(&[]);
            for row in rows {
                let Some(obj) = row.as_object() else { continue };
                for (k, v) in obj {
                    if new.contains_key(k) || known.iter().any(|c| c == k) {
                        continue;
                    }
                    if let Some(t) = sql_type_of(v) {
                        new.insert(k.clone(), t);
                    }
                }
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
                    .filter(|c| *c != "_raw" && *c != "_extracted_at")
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    fn insert_rows(
        &mut self,
        table: &str,
        rows: &[Value],
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
            let updates: Vec<String> = names
                .iter()
                .filter(|n| **n != quote_ident(key))
                .map(|n| format!("{n} = excluded.{n}"))
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
        let mut values: Vec<ToSqlOutput<'_>> = Vec::with_capacity(cols.len() + 2);
        for row in rows {
            values.clear();
            values.extend(cols.iter().map(|c| to_sql(row.get(c))));
            values.push(ToSqlOutput::Owned(SqlValue::Text(row.to_string())));
            values.push(ToSqlOutput::Borrowed(ValueRef::Text(now.as_bytes())));
            stmt.execute(params_from_iter(values.iter()))
                .map_err(|source| Error::Sqlite {
                    path: self.path.clone(),
                    source,
                })?;
        }
        Ok(())
    }

    fn replace_children(&mut self, child: &ChildRows, now: &str) -> Result<()> {
        let table = child.table.name;
        let parent = child.table.parent_column;
        {
            let sql = format!(
                "DELETE FROM {} WHERE {} = ?",
                quote_ident(table),
                quote_ident(parent)
            );
            let mut del = self.conn.prepare_cached(&sql).map_err(self.err())?;
            for key in &child.parent_keys {
                del.execute([to_sql(Some(key))])
                    .map_err(|source| Error::Sqlite {
                        path: self.path.clone(),
                        source,
                    })?;
            }
        }
        self.insert_rows(table, &child.rows, None, now)
    }
}

impl Destination for SqliteDestination {
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
            let s: StreamState = serde_json::from_str(&json).map_err(|e| {
                Error::Config(format!(
                    "the saved state of stream {stream} in {} is unreadable ({e}); run with --full-refresh to start over",
                    self.path.display()
                ))
            })?;
            state.bookmarks.insert(stream, s);
        }
        Ok(state)
    }

    fn write(&mut self, batch: PageBatch) -> Result<()> {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(self.err())?;
        let result = (|| -> Result<()> {
            self.insert_rows(
                batch.stream.name,
                &batch.records,
                Some(batch.stream.key),
                &now,
            )?;
            for child in &batch.children {
                self.replace_children(child, &now)?;
            }
            if let Some(state) = &batch.state {
                let json =
                    serde_json::to_string(state).map_err(|e| Error::Config(e.to_string()))?;
                self.conn
                    .execute(
                        "INSERT INTO _bcsync_state (stream, state, updated_at) VALUES (?1, ?2, ?3)
                         ON CONFLICT(stream) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
                        rusqlite::params![batch.stream.name, json, now],
                    )
                    .map_err(self.err())?;
            }
            Ok(())
        })();
        match result {
            Ok(()) => self.conn.execute_batch("COMMIT").map_err(self.err()),
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    fn reset_state(&mut self, stream: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM _bcsync_state WHERE stream = ?1", [stream])
            .map_err(self.err())?;
        Ok(())
    }

    fn complete_full_table(
        &mut self,
        stream: &'static StreamDescriptor,
        run_started: &str,
    ) -> Result<()> {
        // Every row the store still has was rewritten during this run; older ones are gone
        // from the store. (Full-table streams have no child tables.)
        let sql = format!(
            "DELETE FROM {} WHERE \"_extracted_at\" < ?1",
            quote_ident(stream.name)
        );
        let gone = self.conn.execute(&sql, [run_started]).map_err(self.err())?;
        if gone > 0 {
            tracing::info!(
                stream = stream.name,
                rows = gone,
                "removed rows deleted in the store"
            );
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        // Fold the WAL back so the file is complete on its own (e.g. to copy it elsewhere).
        self.conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(self.err())?;
        Ok(())
    }
}
