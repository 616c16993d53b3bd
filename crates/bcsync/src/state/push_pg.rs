//! The PostgreSQL push state store: the same records and runs as the SQLite one, in a
//! schema (default `bcsync`, or `?schema=NAME` on the URL) that several machines share.
//!
//! - Records are keyed by (store, sync, key), runs carry their store: two processes
//!   syncing different stores into one database never read or overwrite each other's rows.
//! - Run ids come from a `bigserial`, so concurrent runs never collide.
//! - [`PushStore::lock`] is a session-level advisory lock on (store, sync): held while the
//!   process lives, released by the server the moment its connection drops (a `kill -9`
//!   leaves no stale lock behind).
//! - The tables are created under a transaction-level advisory lock, because two first
//!   runs racing on `CREATE TABLE IF NOT EXISTS` can otherwise fail on the catalog's
//!   unique index.
//! - `put` sends one statement per call whatever its size (`unnest` over arrays), in one
//!   transaction, as SQLite's does.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use tokio_postgres::Client;

use super::push::{
    ALL_REQUESTS, INTERRUPTED, Incident, IncidentKey, LoggedRequest, PushStore, RequestCapture,
    RequestDetail, RunFilter, RunPage, RunRecord, TrackStatus, Tracked, settle_statuses, settled,
};
use crate::error::{Error, Result};
use crate::pg::{PgSession, PgTarget, quote_ident};
use crate::push::mapping::Rejection;

/// Schema used when the URL names none.
pub const DEFAULT_STATE_SCHEMA: &str = "bcsync";

/// Advisory-lock namespace of bcsync's state store (an arbitrary constant: "bcst").
const LOCK_NAMESPACE: i32 = 0x6263_7374;

pub struct PgPushStore {
    session: PgSession,
    scope: String,
    /// `"schema".` prefix for table names.
    prefix: String,
    /// The requests table's newer columns that are there.
    columns: RequestColumns,
}

/// Columns added to the requests table after its first layout: `detail` (for the live
/// debugger) and `capture` (captured headers and bodies). A store created before them,
/// opened by a role that may not alter it, works without them.
#[derive(Debug, Clone, Copy, Default)]
struct RequestColumns {
    detail: bool,
    capture: bool,
}

impl std::fmt::Debug for PgPushStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgPushStore")
            .field("target", &self.session.target)
            .field("scope", &self.scope)
            .finish()
    }
}

fn schema_sql(prefix: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {prefix}push_records (
            store text NOT NULL, sync text NOT NULL, key text NOT NULL, hash text, bc_id bigint,
            status text NOT NULL, fields jsonb, updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (store, sync, key));
         CREATE TABLE IF NOT EXISTS {prefix}push_runs (
            id bigserial PRIMARY KEY, store text NOT NULL, sync text NOT NULL,
            started_at text NOT NULL, status text NOT NULL, summary jsonb NOT NULL);
         CREATE TABLE IF NOT EXISTS {prefix}push_rejections (
            run_id bigint NOT NULL REFERENCES {prefix}push_runs (id) ON DELETE CASCADE,
            \"row\" bigint NOT NULL, key text, field text, reason text NOT NULL);
         CREATE INDEX IF NOT EXISTS push_rejections_run_idx ON {prefix}push_rejections (run_id);
         CREATE TABLE IF NOT EXISTS {prefix}push_requests (
            run_id bigint NOT NULL REFERENCES {prefix}push_runs (id) ON DELETE CASCADE,
            seq integer NOT NULL, method text NOT NULL, path text NOT NULL, status integer,
            ms bigint NOT NULL, detail jsonb);
         ALTER TABLE {prefix}push_requests ADD COLUMN IF NOT EXISTS detail jsonb;
         ALTER TABLE {prefix}push_requests ADD COLUMN IF NOT EXISTS capture text;
         CREATE INDEX IF NOT EXISTS push_requests_run_idx ON {prefix}push_requests (run_id);
         CREATE INDEX IF NOT EXISTS push_runs_sync_idx ON {prefix}push_runs (sync, id);
         CREATE INDEX IF NOT EXISTS push_runs_status_idx ON {prefix}push_runs (status, id);
         CREATE INDEX IF NOT EXISTS push_runs_store_sync_idx ON {prefix}push_runs (store, sync, id);
         CREATE TABLE IF NOT EXISTS {prefix}alert_incidents (
            store text NOT NULL, alert text NOT NULL, condition text NOT NULL, sync text NOT NULL,
            opened_at text NOT NULL, run_id bigint NOT NULL, summary text NOT NULL,
            notified boolean NOT NULL, PRIMARY KEY (store, alert, condition, sync));"
    )
}

impl PgPushStore {
    /// Connects, creates the schema and tables when missing, for the store `scope`.
    pub fn open(url: &str, scope: &str) -> Result<Self> {
        let target = PgTarget::parse(url, Some(DEFAULT_STATE_SCHEMA.to_owned()))?;
        let session = PgSession::open(target, "opening the push state store")?;
        let prefix = format!("{}.", quote_ident(&session.target.schema));
        let mut store = Self {
            session,
            scope: scope.to_owned(),
            prefix,
            columns: RequestColumns::default(),
        };
        let schema = quote_ident(&store.session.target.schema);
        let ddl = schema_sql(&store.prefix);
        let tables: Vec<String> = [
            "push_records",
            "push_runs",
            "push_rejections",
            "push_requests",
        ]
        .iter()
        .map(|t| format!("{}{t}", store.prefix))
        .collect();
        // Indexes and the incidents table added after the first layout (run listings by
        // sync and status, alerts): a store created before them gets them when its role
        // may create them; without the incidents table only alert deduplication fails
        // (with this database's own error), never a run.
        let indexes: Vec<String> = [
            "push_runs_sync_idx",
            "push_runs_status_idx",
            "push_runs_store_sync_idx",
            "alert_incidents",
        ]
        .iter()
        .map(|i| format!("{}{i}", store.prefix))
        .collect();
        let requests_table = format!("{}push_requests", store.prefix);
        store.columns = store.session.run(move |c, t| async move {
            // Only create what is missing: PostgreSQL checks the CREATE privilege before
            // IF NOT EXISTS, so a role granted only the use of an existing state schema
            // (or a read-only role listing runs) must not send any DDL.
            let opening = |e: tokio_postgres::Error| t.explain(&e, "opening the push state store");
            let count = |names: Vec<String>| {
                let c = &c;
                async move {
                    let n: i64 = c
                        .query_one(
                            "SELECT count(to_regclass(name)) FROM unnest($1::text[]) AS name",
                            &[&names],
                        )
                        .await?
                        .get(0);
                    Ok::<_, tokio_postgres::Error>(n == names.len() as i64)
                }
            };
            let newer_columns = || {
                let c = &c;
                let table = requests_table.clone();
                async move {
                    let has = |name: &'static str| {
                        let table = table.clone();
                        async move {
                            c.query_one(
                                "SELECT EXISTS (SELECT 1 FROM pg_attribute
                                 WHERE attrelid = to_regclass($1) AND attname = $2 AND NOT attisdropped)",
                                &[&table, &name],
                            )
                            .await
                            .map(|r| r.get::<_, bool>(0))
                        }
                    };
                    Ok::<_, tokio_postgres::Error>(RequestColumns {
                        detail: has("detail").await?,
                        capture: has("capture").await?,
                    })
                }
            };
            let tables_there = count(tables).await.map_err(opening)?;
            if tables_there && count(indexes).await.map_err(opening)? {
                let columns = newer_columns().await.map_err(opening)?;
                if columns.detail && columns.capture {
                    return Ok(columns);
                }
            }
            let doing = "creating the push state tables";
            let sql = format!(
                "BEGIN; SELECT pg_advisory_xact_lock({LOCK_NAMESPACE}, 0);
                 CREATE SCHEMA IF NOT EXISTS {schema}; {ddl} COMMIT;"
            );
            if let Err(e) = c.batch_execute(&sql).await {
                let _ = c.batch_execute("ROLLBACK").await;
                if tables_there {
                    // Only the newer indexes or the requests' details are missing and this
                    // role may not add them: everything works, run listings are slower on
                    // a large store and the live debugger shows fewer details.
                    tracing::debug!("push state store: could not add the newer indexes or columns: {e}");
                    let columns = newer_columns().await.map_err(opening)?;
                    if !columns.capture {
                        // Else `--capture-bodies` would silently keep nothing.
                        tracing::warn!(
                            "push state store: this role may not add the column that keeps captured bodies ({requests_table}.capture), so body capture keeps nothing here; run bcsync once as the tables' owner to add it"
                        );
                    }
                    return Ok(columns);
                }
                return Err(t.explain(&e, doing));
            }
            Ok(RequestColumns {
                detail: true,
                capture: true,
            })
        })?;
        Ok(store)
    }

    fn decode_run(t: &PgTarget, id: i64, store: String, summary: Value) -> Result<RunRecord> {
        let mut rec: RunRecord =
            serde_json::from_value(summary).map_err(|e| Error::UnreadableRun {
                id,
                target: t.shown.clone(),
                detail: crate::error::plain_serde_message(&e.to_string()),
            })?;
        rec.id = id;
        rec.store = store;
        Ok(rec)
    }
}

impl PgPushStore {
    /// Inserts (or, given its id, updates) a run record with its rejections and request
    /// log, in one transaction.
    fn write_run(&mut self, run: &RunRecord, existing: Option<i64>) -> Result<i64> {
        let mut summary = run.clone();
        summary.store = self.scope.clone();
        summary.rejected.clear();
        summary.request_log.clear();
        let summary = serde_json::to_value(&summary).map_err(|e| Error::Encode {
            what: "the run record",
            detail: e.to_string(),
        })?;
        let p = self.prefix.clone();
        let scope = self.scope.clone();
        let (sync, started_at, status) =
            (run.sync.clone(), run.started_at.clone(), run.status.clone());
        let rejected = run.rejected.clone();
        let log = run.request_log.clone();
        let columns = self.columns;
        self.session.run(move |c: Arc<Client>, t| async move {
            let doing = "saving the run record";
            let explain = |e: tokio_postgres::Error| t.explain(&e, doing);
            // `Client::transaction` needs `&mut Client`; the statements of one run record
            // go in one explicit transaction on this connection instead.
            c.batch_execute("BEGIN").await.map_err(explain)?;
            let result: std::result::Result<i64, tokio_postgres::Error> = async {
                let id: i64 = match existing {
                    Some(id) => {
                        c.execute(
                            &format!(
                                "UPDATE {p}push_runs SET status = $2, summary = $3 WHERE id = $1"
                            ),
                            &[&id, &status, &summary],
                        )
                        .await?;
                        id
                    }
                    None => c
                        .query_one(
                            &format!(
                                "INSERT INTO {p}push_runs (store, sync, started_at, status, summary)
                                 VALUES ($1, $2, $3, $4, $5) RETURNING id"
                            ),
                            &[&scope, &sync, &started_at, &status, &summary],
                        )
                        .await?
                        .get(0),
                };
                if !rejected.is_empty() {
                    let rows: Vec<i64> = rejected.iter().map(|r| r.row as i64).collect();
                    let keys: Vec<Option<String>> = rejected.iter().map(|r| r.key.clone()).collect();
                    let fields: Vec<Option<String>> =
                        rejected.iter().map(|r| r.field.clone()).collect();
                    let reasons: Vec<String> = rejected.iter().map(|r| r.reason.clone()).collect();
                    c.execute(
                        &format!(
                            "INSERT INTO {p}push_rejections (run_id, \"row\", key, field, reason)
                             SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[])"
                        ),
                        &[&id, &rows, &keys, &fields, &reasons],
                    )
                    .await?;
                }
                // The whole log replaces what was appended while the run went on.
                c.execute(&format!("DELETE FROM {p}push_requests WHERE run_id = $1"), &[&id])
                    .await?;
                insert_requests(&c, &p, columns, id, 0, &log).await?;
                Ok(id)
            }
            .await;
            match result {
                Ok(id) => {
                    c.batch_execute("COMMIT").await.map_err(explain)?;
                    Ok(id)
                }
                Err(e) => {
                    let _ = c.batch_execute("ROLLBACK").await;
                    Err(explain(e))
                }
            }
        })
    }
}

/// Inserts request log lines from position `first_seq`, in one statement.
async fn insert_requests(
    c: &Client,
    p: &str,
    columns: RequestColumns,
    run_id: i64,
    first_seq: usize,
    log: &[LoggedRequest],
) -> std::result::Result<(), tokio_postgres::Error> {
    if log.is_empty() {
        return Ok(());
    }
    let seqs: Vec<i32> = (0..log.len())
        .map(|i| i32::try_from(first_seq + i).unwrap_or(i32::MAX))
        .collect();
    let methods: Vec<String> = log.iter().map(|q| q.method.clone()).collect();
    let paths: Vec<String> = log.iter().map(|q| q.path.clone()).collect();
    let statuses: Vec<Option<i32>> = log.iter().map(|q| q.status.map(i32::from)).collect();
    let ms: Vec<i64> = log.iter().map(|q| q.ms as i64).collect();
    let details: Vec<Option<String>> = log.iter().map(|q| q.detail.to_column()).collect();
    let captures: Vec<Option<String>> = log
        .iter()
        .map(|q| RequestCapture::to_column(q.capture.as_ref()))
        .collect();
    let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
        vec![&run_id, &seqs, &methods, &paths, &statuses, &ms];
    let mut names = String::from("run_id, seq, method, path, status, ms");
    let mut values = String::from("$1, s, m, pa, st, ms");
    let mut arrays = String::from("$2::int[], $3::text[], $4::text[], $5::int[], $6::bigint[]");
    let mut aliases = String::from("s, m, pa, st, ms");
    for (there, name, value, alias, column) in [
        (columns.detail, "detail", "d::jsonb", "d", &details),
        (columns.capture, "capture", "ca", "ca", &captures),
    ] {
        if there {
            params.push(column);
            names.push_str(&format!(", {name}"));
            values.push_str(&format!(", {value}"));
            arrays.push_str(&format!(", ${}::text[]", params.len()));
            aliases.push_str(&format!(", {alias}"));
        }
    }
    c.execute(
        &format!(
            "INSERT INTO {p}push_requests ({names}) SELECT {values}
             FROM unnest({arrays}) AS u({aliases})"
        ),
        &params,
    )
    .await?;
    Ok(())
}

/// Request log lines of a run after position `after`, at most `limit`.
async fn select_requests(
    c: &Client,
    p: &str,
    columns: RequestColumns,
    run_id: i64,
    after: i64,
    limit: i64,
) -> std::result::Result<Vec<(i64, LoggedRequest)>, tokio_postgres::Error> {
    let detail = if columns.detail {
        "detail::text"
    } else {
        "NULL::text"
    };
    let capture = if columns.capture {
        "capture"
    } else {
        "NULL::text"
    };
    let rows = c
        .query(
            &format!(
                "SELECT seq, method, path, status, ms, {detail}, {capture} FROM {p}push_requests
                 WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
            ),
            &[&run_id, &i32::try_from(after).unwrap_or(i32::MAX), &limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                i64::from(r.get::<_, i32>(0)),
                LoggedRequest {
                    method: r.get(1),
                    path: r.get(2),
                    status: r
                        .get::<_, Option<i32>>(3)
                        .and_then(|s| u16::try_from(s).ok()),
                    ms: r.get::<_, i64>(4) as u64,
                    detail: RequestDetail::from_column(r.get::<_, Option<&str>>(5)),
                    capture: RequestCapture::from_column(r.get::<_, Option<&str>>(6)),
                },
            )
        })
        .collect())
}

/// The 64-bit advisory-lock key of a (state schema, store, sync): a hash, so any names fit,
/// and wide enough that two different runs practically never share a key. Advisory locks
/// are database-wide: the schema keeps state stores in different schemas apart.
fn lock_key(schema: &str, scope: &str, sync: &str) -> i64 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!(
        "bcsync push {}:{schema}:{}:{scope}:{sync}",
        schema.len(),
        scope.len()
    ));
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

impl Drop for PgPushStore {
    fn drop(&mut self) {
        // Release run locks now, not when the server notices the closed socket, so the
        // next run (in this process or another) never sees a lock that is already gone.
        let _ = self.session.run(|c, _| async move {
            let _ = c.batch_execute("SELECT pg_advisory_unlock_all()").await;
            Ok(())
        });
    }
}

/// Rows of `SELECT key, hash, bc_id, status, fields FROM push_records` by key.
fn tracked_by_key(rows: &[tokio_postgres::Row]) -> HashMap<String, Tracked> {
    rows.iter()
        .map(|r| {
            let key: String = r.get(0);
            let status: String = r.get(3);
            let tracked = Tracked {
                key: key.clone(),
                hash: r.get(1),
                bc_id: r.get(2),
                status: TrackStatus::parse(&status),
                fields: r.get(4),
            };
            (key, tracked)
        })
        .collect()
}

impl PushStore for PgPushStore {
    fn try_lock(&mut self, sync: &str) -> Result<bool> {
        let key = lock_key(&self.session.target.schema, &self.scope, sync);
        self.session.run(move |c, t| async move {
            let row = c
                .query_one("SELECT pg_try_advisory_lock($1::bigint)", &[&key])
                .await
                .map_err(|e| t.explain(&e, "taking the run lock"))?;
            Ok(row.get::<_, bool>(0))
        })
    }

    fn lock_held_error(&self, sync: &str) -> Error {
        Error::SyncAlreadyRunning {
            sync: sync.to_owned(),
            store: self.scope.clone(),
            target: self.session.target.shown.clone(),
        }
    }

    fn load(&self, sync: &str) -> Result<HashMap<String, Tracked>> {
        let sql = format!(
            "SELECT key, hash, bc_id, status, fields FROM {}push_records WHERE store = $1 AND sync = $2",
            self.prefix
        );
        let (scope, sync) = (self.scope.clone(), sync.to_owned());
        self.session.run(move |c, t| async move {
            let rows = c
                .query(&sql, &[&scope, &sync])
                .await
                .map_err(|e| t.explain(&e, "loading push tracking"))?;
            Ok(tracked_by_key(&rows))
        })
    }

    fn load_keys(&self, sync: &str, keys: &[String]) -> Result<HashMap<String, Tracked>> {
        let sql = format!(
            "SELECT key, hash, bc_id, status, fields FROM {}push_records WHERE store = $1 AND sync = $2 AND key = ANY($3)",
            self.prefix
        );
        let (scope, sync, keys) = (self.scope.clone(), sync.to_owned(), keys.to_vec());
        self.session.run(move |c, t| async move {
            let rows = c
                .query(&sql, &[&scope, &sync, &keys])
                .await
                .map_err(|e| t.explain(&e, "loading push tracking"))?;
            Ok(tracked_by_key(&rows))
        })
    }

    fn put(&mut self, sync: &str, records: &[Tracked]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "INSERT INTO {p}push_records (store, sync, key, hash, bc_id, status, fields, updated_at)
             SELECT $1, $2, k, h, i, s, f, now()
               FROM unnest($3::text[], $4::text[], $5::bigint[], $6::text[], $7::jsonb[]) AS u(k, h, i, s, f)
             ON CONFLICT (store, sync, key) DO UPDATE SET hash = excluded.hash, bc_id = excluded.bc_id,
               status = excluded.status, fields = excluded.fields, updated_at = excluded.updated_at",
            p = self.prefix
        );
        let keys: Vec<String> = records.iter().map(|r| r.key.clone()).collect();
        let hashes: Vec<Option<String>> = records.iter().map(|r| r.hash.clone()).collect();
        let ids: Vec<Option<i64>> = records.iter().map(|r| r.bc_id).collect();
        let statuses: Vec<String> = records
            .iter()
            .map(|r| r.status.as_str().to_owned())
            .collect();
        let fields: Vec<Option<Value>> = records.iter().map(|r| r.fields.clone()).collect();
        let (scope, sync) = (self.scope.clone(), sync.to_owned());
        self.session.run(move |c, t| async move {
            // A key given twice in one call would make ON CONFLICT fail ("cannot affect row a
            // second time"); the engine never does, and the statement is one transaction.
            c.execute(
                &sql,
                &[&scope, &sync, &keys, &hashes, &ids, &statuses, &fields],
            )
            .await
            .map_err(|e| t.explain(&e, "saving push tracking"))?;
            Ok(())
        })
    }

    fn remove(&mut self, sync: &str, keys: &[String]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "DELETE FROM {}push_records WHERE store = $1 AND sync = $2 AND key = ANY($3)",
            self.prefix
        );
        let (scope, sync, keys) = (self.scope.clone(), sync.to_owned(), keys.to_vec());
        self.session.run(move |c, t| async move {
            c.execute(&sql, &[&scope, &sync, &keys])
                .await
                .map_err(|e| t.explain(&e, "removing push tracking"))?;
            Ok(())
        })
    }

    fn reset(&mut self, sync: &str) -> Result<u64> {
        let sql = format!(
            "DELETE FROM {}push_records WHERE store = $1 AND sync = $2",
            self.prefix
        );
        let (scope, sync) = (self.scope.clone(), sync.to_owned());
        self.session.run(move |c, t| async move {
            c.execute(&sql, &[&scope, &sync])
                .await
                .map_err(|e| t.explain(&e, "resetting push tracking"))
        })
    }

    fn save_run(&mut self, run: &RunRecord) -> Result<i64> {
        self.write_run(run, None)
    }

    fn start_run(&mut self, run: &RunRecord) -> Result<i64> {
        let sql = format!(
            "UPDATE {}push_runs SET status = $3, summary = jsonb_set(summary, '{{status}}', to_jsonb($3::text))
             WHERE store = $1 AND sync = $2 AND status = 'running'",
            self.prefix
        );
        let (scope, sync) = (self.scope.clone(), run.sync.clone());
        self.session.run(move |c, t| async move {
            c.execute(&sql, &[&scope, &sync, &INTERRUPTED])
                .await
                .map_err(|e| t.explain(&e, "saving the run record"))
        })?;
        self.write_run(run, None)
    }

    fn finish_run(&mut self, run: &RunRecord) -> Result<()> {
        self.write_run(run, Some(run.id)).map(|_| ())
    }

    fn log_requests(&mut self, run_id: i64, first_seq: usize, log: &[LoggedRequest]) -> Result<()> {
        let (p, columns, log) = (self.prefix.clone(), self.columns, log.to_vec());
        self.session.run(move |c, t| async move {
            insert_requests(&c, &p, columns, run_id, first_seq, &log)
                .await
                .map_err(|e| t.explain(&e, "logging the run's requests"))
        })
    }

    fn requests_after(
        &self,
        run_id: i64,
        after: Option<i64>,
        limit: usize,
    ) -> Result<Vec<(i64, LoggedRequest)>> {
        let (p, columns) = (self.prefix.clone(), self.columns);
        let limit = i64::try_from(limit.min(ALL_REQUESTS)).unwrap_or(i64::MAX);
        self.session.run(move |c, t| async move {
            select_requests(&c, &p, columns, run_id, after.unwrap_or(-1), limit)
                .await
                .map_err(|e| t.explain(&e, "reading the run's requests"))
        })
    }

    fn lock_held(&self, store: &str, sync: &str) -> Result<bool> {
        // pg_locks shows a bigint advisory key as its high and low 32 bits (classid, objid;
        // objsubid 1). Reading it takes no lock, so a run starting now is never refused.
        let key = lock_key(&self.session.target.schema, store, sync);
        let (high, low) = ((key >> 32) & 0xffff_ffff, key & 0xffff_ffff);
        self.session.run(move |c, t| async move {
            let row = c
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
                       AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                       AND classid = $1::bigint::oid AND objid = $2::bigint::oid AND objsubid = 1)",
                    &[&high, &low],
                )
                .await
                .map_err(|e| t.explain(&e, "checking which runs are alive"))?;
            Ok(row.get::<_, bool>(0))
        })
    }

    fn runs(&self, limit: usize) -> Result<Vec<RunRecord>> {
        let sql = format!(
            "SELECT id, store, summary FROM {}push_runs ORDER BY id DESC LIMIT $1",
            self.prefix
        );
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let runs = self.session.run(move |c, t| async move {
            let rows = c
                .query(&sql, &[&limit])
                .await
                .map_err(|e| t.explain(&e, "listing runs"))?;
            rows.into_iter()
                .map(|r| Self::decode_run(&t, r.get(0), r.get(1), r.get(2)))
                .collect()
        })?;
        settle_statuses(self, runs)
    }

    fn runs_page(&self, filter: &RunFilter, offset: usize, limit: usize) -> Result<RunPage> {
        // NULL parameters match everything: one statement whatever the filter.
        let p = self.prefix.clone();
        let where_sql =
            "WHERE ($1::text IS NULL OR sync = $1) AND ($2::text[] IS NULL OR status = ANY($2))";
        let count_sql = format!("SELECT count(*) FROM {p}push_runs {where_sql}");
        let page_sql = format!(
            "SELECT id, store, summary FROM {p}push_runs {where_sql} ORDER BY id DESC LIMIT $3 OFFSET $4"
        );
        let sync = filter.sync.clone();
        let statuses = filter.stored_statuses();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let (runs, total) = self.session.run(move |c, t| async move {
            let doing = "listing runs";
            let total: i64 = c
                .query_one(&count_sql, &[&sync, &statuses])
                .await
                .map_err(|e| t.explain(&e, doing))?
                .get(0);
            let rows = c
                .query(&page_sql, &[&sync, &statuses, &limit, &offset])
                .await
                .map_err(|e| t.explain(&e, doing))?;
            let runs = rows
                .into_iter()
                .map(|r| Self::decode_run(&t, r.get(0), r.get(1), r.get(2)))
                .collect::<Result<Vec<_>>>()?;
            Ok((runs, total))
        })?;
        let runs = settle_statuses(self, runs)?;
        Ok(RunPage {
            runs: runs
                .into_iter()
                .filter(|r| filter.matches_settled(r))
                .collect(),
            total: total.max(0) as u64,
        })
    }

    fn latest_runs(&self) -> Result<Vec<RunRecord>> {
        let sql = format!(
            "SELECT id, store, summary FROM {p}push_runs WHERE id IN
               (SELECT max(id) FROM {p}push_runs GROUP BY store, sync) ORDER BY sync, store",
            p = self.prefix
        );
        let runs = self.session.run(move |c, t| async move {
            let rows = c
                .query(&sql, &[])
                .await
                .map_err(|e| t.explain(&e, "listing the latest runs"))?;
            rows.into_iter()
                .map(|r| Self::decode_run(&t, r.get(0), r.get(1), r.get(2)))
                .collect()
        })?;
        settle_statuses(self, runs)
    }

    fn run(&self, id: i64) -> Result<Option<RunRecord>> {
        let p = self.prefix.clone();
        let columns = self.columns;
        let run = self.session.run(move |c, t| async move {
            let doing = "reading a run record";
            let Some(row) = c
                .query_opt(
                    &format!("SELECT store, summary FROM {p}push_runs WHERE id = $1"),
                    &[&id],
                )
                .await
                .map_err(|e| t.explain(&e, doing))?
            else {
                return Ok(None);
            };
            let mut rec = Self::decode_run(&t, id, row.get(0), row.get(1))?;
            for r in c
                .query(
                    &format!(
                        "SELECT \"row\", key, field, reason FROM {p}push_rejections WHERE run_id = $1 ORDER BY \"row\""
                    ),
                    &[&id],
                )
                .await
                .map_err(|e| t.explain(&e, doing))?
            {
                rec.rejected.push(Rejection {
                    row: r.get::<_, i64>(0) as u64,
                    key: r.get(1),
                    field: r.get(2),
                    reason: r.get(3),
                });
            }
            rec.request_log = select_requests(&c, &p, columns, id, -1, i64::MAX)
                .await
                .map_err(|e| t.explain(&e, doing))?
                .into_iter()
                .map(|(_, q)| q)
                .collect();
            Ok(Some(rec))
        })?;
        settled(self, run)
    }

    fn incident(&self, key: &IncidentKey) -> Result<Option<Incident>> {
        let sql = format!(
            "SELECT store, alert, condition, sync, opened_at, run_id, summary, notified
               FROM {}alert_incidents WHERE store = $1 AND alert = $2 AND condition = $3 AND sync = $4",
            self.prefix
        );
        let (scope, key) = (self.scope.clone(), key.clone());
        self.session.run(move |c, t| async move {
            let row = c
                .query_opt(&sql, &[&scope, &key.alert, &key.condition, &key.sync])
                .await
                .map_err(|e| t.explain(&e, "reading an alert incident"))?;
            Ok(row.map(|r| incident_from_row(&r)))
        })
    }

    fn save_incident(&mut self, i: &Incident) -> Result<()> {
        let sql = format!(
            "INSERT INTO {}alert_incidents (store, alert, condition, sync, opened_at, run_id, summary, notified)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (store, alert, condition, sync) DO UPDATE SET run_id = excluded.run_id,
               summary = excluded.summary, notified = excluded.notified",
            self.prefix
        );
        let (scope, i) = (self.scope.clone(), i.clone());
        self.session.run(move |c, t| async move {
            c.execute(
                &sql,
                &[
                    &scope,
                    &i.alert,
                    &i.condition,
                    &i.sync,
                    &i.opened_at,
                    &i.run_id,
                    &i.summary,
                    &i.notified,
                ],
            )
            .await
            .map_err(|e| t.explain(&e, "saving an alert incident"))?;
            Ok(())
        })
    }

    fn close_incident(&mut self, key: &IncidentKey) -> Result<()> {
        let sql = format!(
            "DELETE FROM {}alert_incidents WHERE store = $1 AND alert = $2 AND condition = $3 AND sync = $4",
            self.prefix
        );
        let (scope, key) = (self.scope.clone(), key.clone());
        self.session.run(move |c, t| async move {
            c.execute(&sql, &[&scope, &key.alert, &key.condition, &key.sync])
                .await
                .map_err(|e| t.explain(&e, "closing an alert incident"))?;
            Ok(())
        })
    }

    fn open_incidents(&self) -> Result<Vec<Incident>> {
        let sql = format!(
            "SELECT store, alert, condition, sync, opened_at, run_id, summary, notified
               FROM {}alert_incidents ORDER BY opened_at, store, alert, condition, sync",
            self.prefix
        );
        self.session.run(move |c, t| async move {
            let rows = c
                .query(&sql, &[])
                .await
                .map_err(|e| t.explain(&e, "listing alert incidents"))?;
            Ok(rows.iter().map(incident_from_row).collect())
        })
    }
}

fn incident_from_row(r: &tokio_postgres::Row) -> Incident {
    Incident {
        store: r.get(0),
        alert: r.get(1),
        condition: r.get(2),
        sync: r.get(3),
        opened_at: r.get(4),
        run_id: r.get(5),
        summary: r.get(6),
        notified: r.get(7),
    }
}
