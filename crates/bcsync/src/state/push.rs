//! Push tracking: per sync and key, the hash of the mapped fields last sent, the
//! BigCommerce id, and the outcome; plus a record of every run. SQLite by default, behind
//! [`PushStore`] so PostgreSQL can follow.
//!
//! Crash safety rests on the `attempting` status: it is committed *before* a create is
//! sent and replaced by `applied` (with the id) once the answer is in. A record still
//! `attempting` at the start of a run had an unknown outcome, so the engine looks it up by
//! email/SKU before creating it again.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::push::mapping::Rejection;

/// Where a tracked record stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrackStatus {
    /// The store has the fields whose hash is kept.
    Applied,
    /// The last attempt was refused; the next run sends it again.
    Rejected,
    /// A create was sent and its answer never recorded: look it up before creating.
    Attempting,
}

impl TrackStatus {
    fn as_str(self) -> &'static str {
        match self {
            TrackStatus::Applied => "applied",
            TrackStatus::Rejected => "rejected",
            TrackStatus::Attempting => "attempting",
        }
    }
    fn parse(s: &str) -> Self {
        match s {
            "applied" => TrackStatus::Applied,
            "attempting" => TrackStatus::Attempting,
            _ => TrackStatus::Rejected,
        }
    }
}

/// One tracked key.
#[derive(Debug, Clone, PartialEq)]
pub struct Tracked {
    pub key: String,
    pub hash: Option<String>,
    pub bc_id: Option<i64>,
    pub status: TrackStatus,
    /// The mapped fields last sent (the "before" of a dry-run diff, and what `clear` unsets).
    pub fields: Option<Value>,
}

/// One request of a run, without headers, bodies or the token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    pub status: Option<u16>,
    pub ms: u64,
}

/// A run as stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: i64,
    pub sync: String,
    pub started_at: String,
    pub finished_at: String,
    pub dry_run: bool,
    /// `ok`, `rejected_over_threshold`, `refused` (a guard rail), or `failed`.
    pub status: String,
    pub message: Option<String>,
    /// Per operation: added, changed, removed, unchanged, created, updated, deleted, cleared, rejected, invalid.
    pub counts: BTreeMap<String, u64>,
    pub requests: u64,
    pub write_requests: u64,
    pub lookup_requests: u64,
    pub duration_ms: u64,
    #[serde(default)]
    pub rejected: Vec<Rejection>,
    #[serde(default)]
    pub request_log: Vec<LoggedRequest>,
}

/// Storage for push tracking and run records.
pub trait PushStore: Send {
    fn load(&self, sync: &str) -> Result<HashMap<String, Tracked>>;
    /// Inserts or replaces these records, in one transaction.
    fn put(&mut self, sync: &str, records: &[Tracked]) -> Result<()>;
    fn remove(&mut self, sync: &str, keys: &[String]) -> Result<()>;
    /// Forgets everything tracked for `sync`; returns how many records were dropped.
    fn reset(&mut self, sync: &str) -> Result<u64>;
    /// Stores a finished run; returns its id.
    fn save_run(&mut self, run: &RunRecord) -> Result<i64>;
    /// Runs, newest first (without rejections and request logs).
    fn runs(&self, limit: usize) -> Result<Vec<RunRecord>>;
    fn run(&self, id: i64) -> Result<Option<RunRecord>>;
}

/// The SQLite push store (default file `bcsync-push.db`).
pub struct SqlitePushStore {
    path: PathBuf,
    conn: rusqlite::Connection,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS push_records (
    sync TEXT NOT NULL, key TEXT NOT NULL, hash TEXT, bc_id INTEGER, status TEXT NOT NULL,
    fields TEXT, updated_at TEXT NOT NULL, PRIMARY KEY (sync, key));
CREATE TABLE IF NOT EXISTS push_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, sync TEXT NOT NULL, started_at TEXT NOT NULL,
    status TEXT NOT NULL, summary TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS push_rejections (
    run_id INTEGER NOT NULL, row INTEGER NOT NULL, key TEXT, field TEXT, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS push_requests (
    run_id INTEGER NOT NULL, seq INTEGER NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL,
    status INTEGER, ms INTEGER NOT NULL);
";

impl SqlitePushStore {
    pub fn open(path: &Path) -> Result<Self> {
        let conn = rusqlite::Connection::open(path).map_err(|source| Error::Sqlite {
            path: path.to_owned(),
            source,
        })?;
        let store = Self {
            path: path.to_owned(),
            conn,
        };
        store
            .conn
            .execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
            .map_err(|e| store.err(e))?;
        store.conn.execute_batch(SCHEMA).map_err(|e| store.err(e))?;
        Ok(store)
    }

    fn err(&self, source: rusqlite::Error) -> Error {
        Error::Sqlite {
            path: self.path.clone(),
            source,
        }
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl PushStore for SqlitePushStore {
    fn load(&self, sync: &str) -> Result<HashMap<String, Tracked>> {
        let mut stmt = self
            .conn
            .prepare("SELECT key, hash, bc_id, status, fields FROM push_records WHERE sync = ?1")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([sync], |r| {
                let fields: Option<String> = r.get(4)?;
                Ok(Tracked {
                    key: r.get(0)?,
                    hash: r.get(1)?,
                    bc_id: r.get(2)?,
                    status: TrackStatus::parse(&r.get::<_, String>(3)?),
                    fields: fields.and_then(|f| serde_json::from_str(&f).ok()),
                })
            })
            .map_err(|e| self.err(e))?;
        let mut out = HashMap::new();
        for r in rows {
            let t = r.map_err(|e| self.err(e))?;
            out.insert(t.key.clone(), t);
        }
        Ok(out)
    }

    fn put(&mut self, sync: &str, records: &[Tracked]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        let err = |source| Error::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(err)?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO push_records (sync, key, hash, bc_id, status, fields, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (sync, key) DO UPDATE SET hash = excluded.hash, bc_id = excluded.bc_id, status = excluded.status,
                     fields = excluded.fields, updated_at = excluded.updated_at",
                )
                .map_err(err)?;
            let ts = now();
            for t in records {
                let fields = t.fields.as_ref().map(Value::to_string);
                stmt.execute(params![
                    sync,
                    t.key,
                    t.hash,
                    t.bc_id,
                    t.status.as_str(),
                    fields,
                    ts
                ])
                .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    fn remove(&mut self, sync: &str, keys: &[String]) -> Result<()> {
        let path = self.path.clone();
        let err = |source| Error::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(err)?;
        {
            let mut stmt = tx
                .prepare_cached("DELETE FROM push_records WHERE sync = ?1 AND key = ?2")
                .map_err(err)?;
            for k in keys {
                stmt.execute(params![sync, k]).map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    fn reset(&mut self, sync: &str) -> Result<u64> {
        let n = self
            .conn
            .execute("DELETE FROM push_records WHERE sync = ?1", [sync])
            .map_err(|e| self.err(e))?;
        Ok(n as u64)
    }

    fn save_run(&mut self, run: &RunRecord) -> Result<i64> {
        let path = self.path.clone();
        let err = |source| Error::Sqlite {
            path: path.clone(),
            source,
        };
        let mut summary = run.clone();
        summary.rejected.clear();
        summary.request_log.clear();
        let summary_json = serde_json::to_string(&summary)
            .map_err(|e| Error::Config(format!("cannot encode run record: {e}")))?;
        let tx = self.conn.transaction().map_err(err)?;
        tx.execute(
            "INSERT INTO push_runs (sync, started_at, status, summary) VALUES (?1, ?2, ?3, ?4)",
            params![run.sync, run.started_at, run.status, summary_json],
        )
        .map_err(err)?;
        let id = tx.last_insert_rowid();
        {
            let mut stmt = tx.prepare_cached("INSERT INTO push_rejections (run_id, row, key, field, reason) VALUES (?1, ?2, ?3, ?4, ?5)").map_err(err)?;
            for r in &run.rejected {
                stmt.execute(params![id, r.row as i64, r.key, r.field, r.reason])
                    .map_err(err)?;
            }
            let mut stmt = tx.prepare_cached("INSERT INTO push_requests (run_id, seq, method, path, status, ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)").map_err(err)?;
            for (i, q) in run.request_log.iter().enumerate() {
                stmt.execute(params![
                    id,
                    i as i64,
                    q.method,
                    q.path,
                    q.status,
                    q.ms as i64
                ])
                .map_err(err)?;
            }
        }
        tx.commit().map_err(err)?;
        Ok(id)
    }

    fn runs(&self, limit: usize) -> Result<Vec<RunRecord>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, summary FROM push_runs ORDER BY id DESC LIMIT ?1")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([limit as i64], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for r in rows {
            let (id, json) = r.map_err(|e| self.err(e))?;
            let mut rec: RunRecord = serde_json::from_str(&json).map_err(|e| {
                Error::Config(format!(
                    "run {id} in {} is unreadable: {e}",
                    self.path.display()
                ))
            })?;
            rec.id = id;
            out.push(rec);
        }
        Ok(out)
    }

    fn run(&self, id: i64) -> Result<Option<RunRecord>> {
        let json: Option<String> = self
            .conn
            .query_row("SELECT summary FROM push_runs WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))?;
        let Some(json) = json else { return Ok(None) };
        let mut rec: RunRecord = serde_json::from_str(&json).map_err(|e| {
            Error::Config(format!(
                "run {id} in {} is unreadable: {e}",
                self.path.display()
            ))
        })?;
        rec.id = id;
        let mut stmt = self.conn.prepare("SELECT row, key, field, reason FROM push_rejections WHERE run_id = ?1 ORDER BY row").map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([id], |r| {
                Ok(Rejection {
                    row: r.get::<_, i64>(0)? as u64,
                    key: r.get(1)?,
                    field: r.get(2)?,
                    reason: r.get(3)?,
                })
            })
            .map_err(|e| self.err(e))?;
        for r in rows {
            rec.rejected.push(r.map_err(|e| self.err(e))?);
        }
        let mut stmt = self
            .conn
            .prepare(
                "SELECT method, path, status, ms FROM push_requests WHERE run_id = ?1 ORDER BY seq",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([id], |r| {
                Ok(LoggedRequest {
                    method: r.get(0)?,
                    path: r.get(1)?,
                    status: r.get(2)?,
                    ms: r.get::<_, i64>(3)? as u64,
                })
            })
            .map_err(|e| self.err(e))?;
        for r in rows {
            rec.request_log.push(r.map_err(|e| self.err(e))?);
        }
        Ok(Some(rec))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tracks_records_and_runs() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqlitePushStore::open(&dir.path().join("p.db")).unwrap();
        let t = Tracked {
            key: "a@x.io".into(),
            hash: Some("h".into()),
            bc_id: None,
            status: TrackStatus::Attempting,
            fields: None,
        };
        s.put("c", std::slice::from_ref(&t)).unwrap();
        s.put(
            "c",
            &[Tracked {
                bc_id: Some(5),
                status: TrackStatus::Applied,
                ..t.clone()
            }],
        )
        .unwrap();
        let loaded = s.load("c").unwrap();
        assert_eq!(loaded["a@x.io"].bc_id, Some(5));
        assert_eq!(loaded["a@x.io"].status, TrackStatus::Applied);
        assert!(s.load("other").unwrap().is_empty());
        let run = RunRecord {
            sync: "c".into(),
            rejected: vec![Rejection {
                row: 3,
                key: Some("k".into()),
                field: Some("email".into()),
                reason: "taken".into(),
            }],
            request_log: vec![LoggedRequest {
                method: "POST".into(),
                path: "/v3/customers".into(),
                status: Some(200),
                ms: 4,
            }],
            ..RunRecord::default()
        };
        let id = s.save_run(&run).unwrap();
        let back = s.run(id).unwrap().unwrap();
        assert_eq!(back.rejected, run.rejected);
        assert_eq!(back.request_log, run.request_log);
        assert_eq!(s.runs(10).unwrap().len(), 1);
        assert_eq!(s.reset("c").unwrap(), 1);
    }
}
