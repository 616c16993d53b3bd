//! The durable inbox: every accepted delivery is committed here before the receiver
//! answers 200, and the apply loop works from it. So an acknowledged event survives a
//! `kill -9`, and the acknowledgement never waits behind the destination's page
//! transactions: SQLite gets a file of its own beside the destination (`NAME-inbox.db`,
//! WAL with `synchronous=FULL`), PostgreSQL a table of its own (`_bcsync_inbox` in the
//! store's schema) on a connection of its own (default `synchronous_commit`; a fleet
//! worker's inboxes share one, `open_postgres_on`). SQLite
//! deliveries that arrive together are committed together (one transaction, one fsync:
//! group commit), so a burst's acknowledgements do not queue behind each other's fsyncs.
//!
//! One row per `(store, hash)`: a redelivery (same hash, docs/api-notes.md §9.4) adds
//! nothing. It bumps the row's `generation` and clears `applied_at`, though: two changes
//! to one record in the same second can carry the same hash, so a repeated hash that
//! arrives after its record was fetched (or while it is being fetched) schedules one more
//! fetch. The apply loop marks a row applied only at the generation it read.
//!
//! An event whose read the store refuses for good (400, 403, 422: a missing scope, a
//! request it will never accept) is *parked* with the reason instead: it leaves the
//! pending queue, so it cannot stall the events behind it, and `bcsync status` shows it.
//! A redelivery of a parked event un-parks it (one more try).
//!
//! Applied events are pruned after [`KEEP_APPLIED`]: the store retries a delivery for
//! about 48 hours (docs/api-notes.md §9.4), so a redelivery still finds its row and adds
//! nothing; older rows only grow the file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use rusqlite::{Connection, OptionalExtension, params};

use super::delivery::{Change, Delivery, Resource, Target, target_of};
use crate::error::{Error, Result};
use crate::pg::{PgTarget, quote_ident};

/// How long applied events are kept: the store's retry span (about 48 h,
/// docs/api-notes.md §9.4) plus a day of margin.
pub const KEEP_APPLIED: std::time::Duration = std::time::Duration::from_secs(72 * 3600);

/// What the inbox made of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// A new event.
    New,
    /// A redelivery of an event not yet applied: nothing new was written.
    Duplicate,
    /// A repeated hash after its record was fetched: one more fetch is scheduled.
    Refetch,
}

/// An event waiting to be applied.
#[derive(Debug, Clone)]
pub struct PendingEvent {
    pub seq: i64,
    pub generation: i64,
    pub target: Option<Target>,
    /// Epoch seconds (the store's `created_at`).
    pub created_at: i64,
}

/// Depth and times, for `bcsync status`.
#[derive(Debug, Clone, Default)]
pub struct InboxStats {
    pub pending: i64,
    pub total: i64,
    /// Epoch seconds of the newest event received.
    pub last_event_at: Option<i64>,
    /// The oldest pending event's `created_at` (epoch seconds): what lag is measured from.
    pub oldest_pending_at: Option<i64>,
    /// Events parked because the store refused their read for good.
    pub parked: i64,
    /// The reason of the most recently parked event.
    pub parked_reason: Option<String>,
}

/// The inbox of one destination.
#[derive(Clone)]
pub enum Inbox {
    Sqlite {
        path: PathBuf,
        conn: Arc<Mutex<Connection>>,
        /// Deliveries waiting for the connection (see [`Inbox::accept`]).
        accepts: Arc<Mutex<Vec<AcceptJob>>>,
    },
    Postgres {
        target: Box<PgTarget>,
        /// Replaced by a new connection when the server dropped it.
        client: PgConn,
        events: String,
        meta: String,
    },
}

impl std::fmt::Debug for Inbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

const SQLITE_SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        store_hash TEXT NOT NULL,
        hash TEXT NOT NULL,
        scope TEXT NOT NULL,
        resource TEXT,
        record_id TEXT,
        change TEXT,
        created_at INTEGER NOT NULL,
        received_at TEXT NOT NULL,
        payload TEXT NOT NULL,
        generation INTEGER NOT NULL DEFAULT 0,
        applied_at TEXT,
        parked TEXT,
        UNIQUE (store_hash, hash)
    );
    CREATE INDEX IF NOT EXISTS events_pending ON events (seq) WHERE applied_at IS NULL;
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
";

fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The inbox file beside a SQLite destination: `shop.db` → `shop-inbox.db`.
pub fn sqlite_path_for(destination: &Path) -> PathBuf {
    let stem = destination
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bcsync".into());
    destination.with_file_name(format!("{stem}-inbox.db"))
}

type TargetColumns = (Option<&'static str>, Option<String>, Option<String>);

fn target_columns(target: &Option<Target>) -> TargetColumns {
    match target {
        Some(t) => (
            Some(t.resource.as_str()),
            Some(t.id.clone()),
            Some(t.change.to_text()),
        ),
        None => (None, None, None),
    }
}

fn target_from(
    resource: Option<String>,
    id: Option<String>,
    change: Option<String>,
) -> Option<Target> {
    Some(Target {
        resource: Resource::parse(resource.as_deref()?)?,
        id: id?,
        change: Change::parse(change.as_deref()?)?,
    })
}

/// The inbox's PostgreSQL connection, shared and replaceable.
pub type PgConn = Arc<tokio::sync::Mutex<Arc<tokio_postgres::Client>>>;

/// A delivery to commit, with where to send the outcome.
#[derive(Debug)]
pub struct AcceptJob {
    row: AcceptRow,
    reply: tokio::sync::oneshot::Sender<rusqlite::Result<Accepted>>,
}

/// The columns of one delivery.
#[derive(Debug)]
struct AcceptRow {
    store: String,
    hash: String,
    scope: String,
    resource: Option<&'static str>,
    record_id: Option<String>,
    change: Option<String>,
    created: i64,
    body: String,
}

/// Writes one delivery inside an open transaction: a new row, or a redelivery's new
/// generation.
fn accept_row(tx: &rusqlite::Transaction<'_>, r: &AcceptRow) -> rusqlite::Result<Accepted> {
    let prev: Option<Option<String>> = tx
        .query_row(
            "SELECT applied_at FROM events WHERE store_hash = ?1 AND hash = ?2",
            params![r.store, r.hash],
            |row| row.get(0),
        )
        .optional()?;
    Ok(match prev {
        None => {
            tx.execute(
                "INSERT INTO events (store_hash, hash, scope, resource, record_id, change, created_at, received_at, payload)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![r.store, r.hash, r.scope, r.resource, r.record_id, r.change, r.created, now_text(), r.body],
            )?;
            Accepted::New
        }
        Some(applied) => {
            tx.execute(
                "UPDATE events SET generation = generation + 1, applied_at = NULL, parked = NULL
                 WHERE store_hash = ?1 AND hash = ?2",
                params![r.store, r.hash],
            )?;
            if applied.is_some() {
                Accepted::Refetch
            } else {
                Accepted::Duplicate
            }
        }
    })
}

/// The same failure for every delivery of a group commit (`rusqlite::Error` is not
/// `Clone`): SQLite's own code is kept, so messages and hints stay right.
fn copy_sqlite_error(e: &rusqlite::Error) -> rusqlite::Error {
    match e {
        rusqlite::Error::SqliteFailure(code, message) => {
            rusqlite::Error::SqliteFailure(*code, message.clone())
        }
        other => rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            Some(other.to_string()),
        ),
    }
}

impl Inbox {
    /// The inbox's PostgreSQL connection, reconnected first when the server dropped it (a
    /// restart, a failover, an idle timeout): without this every later delivery would be
    /// refused until the store deactivated the hooks.
    async fn pg(target: &PgTarget, conn: &PgConn) -> Result<Arc<tokio_postgres::Client>> {
        let mut current = conn.lock().await;
        if current.is_closed() {
            tracing::warn!(
                "the webhook inbox lost its PostgreSQL connection ({}); reconnecting",
                target.shown
            );
            *current = Arc::new(target.connect("reconnecting to the webhook inbox").await?);
        }
        Ok(Arc::clone(&current))
    }

    /// Opens (creating) the SQLite inbox at `path`.
    pub fn open_sqlite(path: &Path) -> Result<Self> {
        let err = |source| Error::Sqlite {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        // FULL: an event we acknowledged survives even a power cut, not only a kill.
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;",
        )
        .map_err(err)?;
        conn.execute_batch(SQLITE_SCHEMA).map_err(err)?;
        // Inboxes made before parking existed lack the column.
        let has_parked: bool = conn
            .query_row(
                "SELECT count(*) FROM pragma_table_info('events') WHERE name = 'parked'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(err)?
            > 0;
        if !has_parked {
            conn.execute_batch("ALTER TABLE events ADD COLUMN parked TEXT")
                .map_err(err)?;
        }
        Ok(Self::Sqlite {
            path: path.to_owned(),
            conn: Arc::new(Mutex::new(conn)),
            accepts: Arc::default(),
        })
    }

    /// Opens (creating) the PostgreSQL inbox in `target`'s schema, on its own connection.
    pub async fn open_postgres(target: &PgTarget) -> Result<Self> {
        let client = target.connect("opening the webhook inbox").await?;
        Self::open_postgres_on(target, Arc::new(tokio::sync::Mutex::new(Arc::new(client)))).await
    }

    /// Opens (creating) the inbox in `target`'s schema on a connection that other stores'
    /// inboxes in the same database share (a fleet worker's: one connection for every
    /// store, where one each would exhaust the server's). Sharing is safe because an
    /// inbox writes in single autocommit statements, never in a transaction; a dropped
    /// connection is reconnected for all of them by the first to notice.
    pub async fn open_postgres_on(target: &PgTarget, conn: PgConn) -> Result<Self> {
        let client = Self::pg(target, &conn).await?;
        let schema = quote_ident(&target.schema);
        let events = format!("{schema}.{}", quote_ident("_bcsync_inbox"));
        let meta = format!("{schema}.{}", quote_ident("_bcsync_listen_meta"));
        let sql = format!(
            "CREATE SCHEMA IF NOT EXISTS {schema};
             CREATE TABLE IF NOT EXISTS {events} (
                seq bigserial PRIMARY KEY,
                store_hash text NOT NULL,
                hash text NOT NULL,
                scope text NOT NULL,
                resource text,
                record_id text,
                change text,
                created_at bigint NOT NULL,
                received_at timestamptz NOT NULL DEFAULT now(),
                payload jsonb NOT NULL,
                generation bigint NOT NULL DEFAULT 0,
                applied_at timestamptz,
                parked text,
                UNIQUE (store_hash, hash)
             );
             ALTER TABLE {events} ADD COLUMN IF NOT EXISTS parked text;
             CREATE INDEX IF NOT EXISTS _bcsync_inbox_pending ON {events} (seq) WHERE applied_at IS NULL;
             CREATE TABLE IF NOT EXISTS {meta} (key text PRIMARY KEY, value text NOT NULL);"
        );
        // An inbox that is complete already is left alone: `ALTER TABLE` and `CREATE INDEX`
        // lock the table even when they end up doing nothing, and a fleet worker opens
        // many inboxes on one shared connection.
        let ready: bool = client
            .query_one(
                "SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL \
                 AND EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($3) \
                             AND attname = 'parked' AND NOT attisdropped)",
                &[&format!("{schema}._bcsync_inbox_pending"), &meta, &events],
            )
            .await
            .map_err(|e| target.explain(&e, "opening the webhook inbox"))?
            .get(0);
        if !ready {
            client
                .batch_execute(&sql)
                .await
                .map_err(|e| target.explain(&e, "creating the webhook inbox"))?;
        }
        Ok(Self::Postgres {
            target: Box::new(target.clone()),
            client: conn,
            events,
            meta,
        })
    }

    pub fn describe(&self) -> String {
        match self {
            Inbox::Sqlite { path, .. } => format!("sqlite:{}", path.display()),
            Inbox::Postgres { target, events, .. } => format!("{} {events}", target.shown),
        }
    }

    async fn sqlite<T: Send + 'static>(
        conn: &Arc<Mutex<Connection>>,
        path: &Path,
        work: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T> {
        let conn = Arc::clone(conn);
        let p = path.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut c = conn.lock();
            work(&mut c).map_err(|source| Error::Sqlite { path: p, source })
        })
        .await
        .map_err(|e| Error::Internal(format!("inbox task failed: {e}")))?
    }

    /// Commits a delivery (durably) and says what it was. `body` is the payload as received.
    pub async fn accept(&self, store_hash: &str, d: &Delivery, body: &str) -> Result<Accepted> {
        let target = target_of(&d.scope, &d.data);
        let (resource, record_id, change) = target_columns(&target);
        match self {
            Inbox::Sqlite {
                path,
                conn,
                accepts,
            } => {
                let (reply, answer) = tokio::sync::oneshot::channel();
                accepts.lock().push(AcceptJob {
                    row: AcceptRow {
                        store: store_hash.to_owned(),
                        hash: d.hash.clone(),
                        scope: d.scope.clone(),
                        resource,
                        record_id,
                        change,
                        created: d.created_at,
                        body: body.to_owned(),
                    },
                    reply,
                });
                // Group commit: whoever gets the connection commits every delivery queued
                // by then in one transaction, so a burst pays one fsync, not one each,
                // and no acknowledgement queues behind a line of fsyncs.
                let queue = Arc::clone(accepts);
                Self::sqlite(conn, path, move |c| {
                    let jobs = std::mem::take(&mut *queue.lock());
                    if jobs.is_empty() {
                        return Ok(());
                    }
                    let result = (|| {
                        let tx =
                            c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                        let outcomes = jobs
                            .iter()
                            .map(|j| accept_row(&tx, &j.row))
                            .collect::<rusqlite::Result<Vec<_>>>()?;
                        tx.commit()?;
                        Ok::<_, rusqlite::Error>(outcomes)
                    })();
                    match result {
                        Ok(outcomes) => {
                            for (job, outcome) in jobs.into_iter().zip(outcomes) {
                                let _ = job.reply.send(Ok(outcome));
                            }
                        }
                        Err(e) => {
                            for job in jobs {
                                let _ = job.reply.send(Err(copy_sqlite_error(&e)));
                            }
                        }
                    }
                    Ok(())
                })
                .await?;
                answer
                    .await
                    .map_err(|_| Error::Internal("the inbox dropped a delivery".into()))?
                    .map_err(|source| Error::Sqlite {
                        path: path.clone(),
                        source,
                    })
            }
            Inbox::Postgres {
                target,
                client,
                events,
                ..
            } => {
                let client = Self::pg(target, client).await?;
                let payload: serde_json::Value = serde_json::from_str(body).map_err(|e| {
                    Error::Internal(format!("an accepted delivery is not JSON: {e}"))
                })?;
                // The CTE sees the row as it was before this statement.
                let sql = format!(
                    "WITH prev AS (SELECT applied_at FROM {events} WHERE store_hash = $1 AND hash = $2)
                     INSERT INTO {events} (store_hash, hash, scope, resource, record_id, change, created_at, payload)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                     ON CONFLICT (store_hash, hash) DO UPDATE
                        SET generation = {events}.generation + 1, applied_at = NULL, parked = NULL
                     RETURNING (xmax = 0) AS inserted, (SELECT applied_at IS NOT NULL FROM prev) AS was_applied"
                );
                let row = client
                    .query_one(
                        &sql,
                        &[
                            &store_hash,
                            &d.hash,
                            &d.scope,
                            &resource,
                            &record_id,
                            &change,
                            &d.created_at,
                            &payload,
                        ],
                    )
                    .await
                    .map_err(|e| target.explain(&e, "writing a webhook event to the inbox"))?;
                let inserted: bool = row.get(0);
                let was_applied: Option<bool> = row.get(1);
                Ok(if inserted {
                    Accepted::New
                } else if was_applied == Some(true) {
                    Accepted::Refetch
                } else {
                    Accepted::Duplicate
                })
            }
        }
    }

    /// Commits several deliveries of one store together (`(delivery, body as received)`),
    /// as [`Inbox::accept`] does each: a new row, or a repeat's new generation. On
    /// PostgreSQL one statement, so one commit for the lot; a hash given twice counts once.
    /// What each delivery was is not reported (the fleet's workers only need it durable).
    pub async fn accept_batch(
        &self,
        store_hash: &str,
        deliveries: &[(Delivery, String)],
    ) -> Result<()> {
        let (target, client, events) = match self {
            Inbox::Sqlite { .. } => {
                // SQLite already commits deliveries that arrive together as one.
                for (d, body) in deliveries {
                    self.accept(store_hash, d, body).await?;
                }
                return Ok(());
            }
            Inbox::Postgres {
                target,
                client,
                events,
                ..
            } => (target, client, events),
        };
        let mut seen = std::collections::HashSet::new();
        let mut hashes: Vec<&str> = Vec::new();
        let mut scopes: Vec<&str> = Vec::new();
        let mut resources: Vec<Option<&str>> = Vec::new();
        let mut record_ids: Vec<Option<String>> = Vec::new();
        let mut changes: Vec<Option<String>> = Vec::new();
        let mut created: Vec<i64> = Vec::new();
        let mut payloads: Vec<&str> = Vec::new();
        for (d, body) in deliveries {
            // One statement may not update a row twice.
            if !seen.insert(d.hash.as_str()) {
                continue;
            }
            let (resource, record_id, change) = target_columns(&target_of(&d.scope, &d.data));
            hashes.push(&d.hash);
            scopes.push(&d.scope);
            resources.push(resource);
            record_ids.push(record_id);
            changes.push(change);
            created.push(d.created_at);
            payloads.push(body);
        }
        if hashes.is_empty() {
            return Ok(());
        }
        let client = Self::pg(target, client).await?;
        let sql = format!(
            "INSERT INTO {events} (store_hash, hash, scope, resource, record_id, change, created_at, payload)
             SELECT $1, t.hash, t.scope, t.resource, t.record_id, t.change, t.created_at, t.payload::jsonb
             FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::text[])
                  AS t(hash, scope, resource, record_id, change, created_at, payload)
             ON CONFLICT (store_hash, hash) DO UPDATE
                SET generation = {events}.generation + 1, applied_at = NULL, parked = NULL"
        );
        client
            .execute(
                &sql,
                &[
                    &store_hash,
                    &hashes,
                    &scopes,
                    &resources,
                    &record_ids,
                    &changes,
                    &created,
                    &payloads,
                ],
            )
            .await
            .map_err(|e| target.explain(&e, "writing webhook events to the inbox"))?;
        Ok(())
    }

    /// The oldest `limit` events not yet applied, in arrival order.
    pub async fn pending(&self, limit: i64) -> Result<Vec<PendingEvent>> {
        match self {
            Inbox::Sqlite { path, conn, .. } => {
                Self::sqlite(conn, path, move |c| {
                    let mut stmt = c.prepare_cached(
                        "SELECT seq, generation, resource, record_id, change, created_at FROM events
                         WHERE applied_at IS NULL AND parked IS NULL ORDER BY seq LIMIT ?1",
                    )?;
                    let rows = stmt
                        .query_map([limit], |r| {
                            Ok(PendingEvent {
                                seq: r.get(0)?,
                                generation: r.get(1)?,
                                target: target_from(r.get(2)?, r.get(3)?, r.get(4)?),
                                created_at: r.get(5)?,
                            })
                        })?
                        .collect::<rusqlite::Result<Vec<_>>>()?;
                    Ok(rows)
                })
                .await
            }
            Inbox::Postgres {
                target,
                client,
                events,
                ..
            } => {
                let client = Self::pg(target, client).await?;
                let sql = format!(
                    "SELECT seq, generation, resource, record_id, change, created_at FROM {events}
                     WHERE applied_at IS NULL AND parked IS NULL ORDER BY seq LIMIT $1"
                );
                let rows = client
                    .query(&sql, &[&limit])
                    .await
                    .map_err(|e| target.explain(&e, "reading the webhook inbox"))?;
                Ok(rows
                    .iter()
                    .map(|r| PendingEvent {
                        seq: r.get(0),
                        generation: r.get(1),
                        target: target_from(r.get(2), r.get(3), r.get(4)),
                        created_at: r.get(5),
                    })
                    .collect())
            }
        }
    }

    /// Marks events applied, each only at the generation it was read with (a redelivery
    /// since then keeps it pending for one more fetch).
    pub async fn mark_applied(&self, done: &[(i64, i64)]) -> Result<()> {
        if done.is_empty() {
            return Ok(());
        }
        match self {
            Inbox::Sqlite { path, conn, .. } => {
                let done = done.to_vec();
                Self::sqlite(conn, path, move |c| {
                    let tx = c.transaction()?;
                    {
                        let now = now_text();
                        let mut stmt = tx.prepare_cached(
                            "UPDATE events SET applied_at = ?1 WHERE seq = ?2 AND generation = ?3",
                        )?;
                        for (seq, generation) in done {
                            stmt.execute(params![now, seq, generation])?;
                        }
                    }
                    tx.commit()
                })
                .await
            }
            Inbox::Postgres {
                target,
                client,
                events,
                ..
            } => {
                let client = Self::pg(target, client).await?;
                let seqs: Vec<i64> = done.iter().map(|d| d.0).collect();
                let gens: Vec<i64> = done.iter().map(|d| d.1).collect();
                let sql = format!(
                    "UPDATE {events} e SET applied_at = now()
                     FROM unnest($1::bigint[], $2::bigint[]) AS d(seq, generation)
                     WHERE e.seq = d.seq AND e.generation = d.generation"
                );
                client
                    .execute(&sql, &[&seqs, &gens])
                    .await
                    .map_err(|e| target.explain(&e, "marking webhook events applied"))?;
                Ok(())
            }
        }
    }

    /// Puts every event applied at or after `since` back in the pending queue, to be
    /// applied again (idempotently): what a gap poll interrupted by a crash may have
    /// overwritten with older copies. Returns how many were reopened.
    pub async fn reopen_applied_since(&self, since: chrono::DateTime<chrono::Utc>) -> Result<u64> {
        match self {
            Inbox::Sqlite { path, conn, .. } => {
                let since = since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                Self::sqlite(conn, path, move |c| {
                    c.execute(
                        "UPDATE events SET applied_at = NULL WHERE applied_at IS NOT NULL AND applied_at >= ?1",
                        [since],
                    )
                    .map(|n| n as u64)
                })
                .await
            }
            Inbox::Postgres {
                target,
                client,
                events,
                ..
            } => {
                let client = Self::pg(target, client).await?;
                let sql = format!(
                    "UPDATE {events} SET applied_at = NULL WHERE applied_at IS NOT NULL AND applied_at >= $1"
                );
                client.execute(&sql, &[&since]).await.map_err(|e| {
                    target.explain(&e, "reopening webhook events after an interrupted poll")
                })
            }
        }
    }

    /// Deletes events applied before `cutoff`, and the saved copies of carts that have no
    /// event left (idle since): the inbox keeps what de-duplication and late cart events
    /// need, not every event forever (nor shoppers' carts). Returns the events deleted.
    pub async fn prune(&self, cutoff: chrono::DateTime<chrono::Utc>) -> Result<u64> {
        const CARTS_SQL: &str = "DELETE FROM {m} WHERE key LIKE 'cart:%'
             AND substr(key, 6) NOT IN
                 (SELECT record_id FROM {e} WHERE resource = 'cart' AND record_id IS NOT NULL)";
        match self {
            Inbox::Sqlite { path, conn, .. } => {
                let cutoff = cutoff.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                Self::sqlite(conn, path, move |c| {
                    let tx = c.transaction()?;
                    let n = tx.execute(
                        "DELETE FROM events WHERE applied_at IS NOT NULL AND applied_at < ?1",
                        [cutoff],
                    )?;
                    tx.execute(
                        &CARTS_SQL.replace("{m}", "meta").replace("{e}", "events"),
                        [],
                    )?;
                    tx.commit()?;
                    Ok(n as u64)
                })
                .await
            }
            Inbox::Postgres {
                target,
                client,
                events,
                meta,
            } => {
                let client = Self::pg(target, client).await?;
                let sql = format!(
                    "DELETE FROM {events} WHERE applied_at IS NOT NULL AND applied_at < $1"
                );
                let n = client
                    .execute(&sql, &[&cutoff])
                    .await
                    .map_err(|e| target.explain(&e, "pruning the webhook inbox"))?;
                client
                    .execute(&CARTS_SQL.replace("{m}", meta).replace("{e}", events), &[])
                    .await
                    .map_err(|e| target.explain(&e, "pruning saved carts"))?;
                Ok(n)
            }
        }
    }

    /// Parks events (each at the generation it was read with) with `reason`: they leave
    /// the pending queue until a redelivery.
    pub async fn park(&self, done: &[(i64, i64)], reason: &str) -> Result<()> {
        if done.is_empty() {
            return Ok(());
        }
        match self {
            Inbox::Sqlite { path, conn, .. } => {
                let (done, reason) = (done.to_vec(), reason.to_owned());
                Self::sqlite(conn, path, move |c| {
                    let tx = c.transaction()?;
                    {
                        let mut stmt = tx.prepare_cached(
                            "UPDATE events SET parked = ?1 WHERE seq = ?2 AND generation = ?3",
                        )?;
                        for (seq, generation) in done {
                            stmt.execute(params![reason, seq, generation])?;
                        }
                    }
                    tx.commit()
                })
                .await
            }
            Inbox::Postgres {
                target,
                client,
                events,
                ..
            } => {
                let client = Self::pg(target, client).await?;
                let seqs: Vec<i64> = done.iter().map(|d| d.0).collect();
                let gens: Vec<i64> = done.iter().map(|d| d.1).collect();
                let sql = format!(
                    "UPDATE {events} e SET parked = $3
                     FROM unnest($1::bigint[], $2::bigint[]) AS d(seq, generation)
                     WHERE e.seq = d.seq AND e.generation = d.generation"
                );
                client
                    .execute(&sql, &[&seqs, &gens, &reason])
                    .await
                    .map_err(|e| target.explain(&e, "parking webhook events"))?;
                Ok(())
            }
        }
    }

    pub async fn stats(&self) -> Result<InboxStats> {
        const SQL: &str = "SELECT
                (SELECT count(*) FROM {e} WHERE applied_at IS NULL AND parked IS NULL),
                (SELECT count(*) FROM {e}),
                (SELECT max(created_at) FROM {e}),
                (SELECT min(created_at) FROM {e} WHERE applied_at IS NULL AND parked IS NULL),
                (SELECT count(*) FROM {e} WHERE applied_at IS NULL AND parked IS NOT NULL),
                (SELECT parked FROM {e} WHERE applied_at IS NULL AND parked IS NOT NULL ORDER BY seq DESC LIMIT 1)";
        match self {
            Inbox::Sqlite { path, conn, .. } => {
                Self::sqlite(conn, path, move |c| {
                    c.query_row(&SQL.replace("{e}", "events"), [], |r| {
                        Ok(InboxStats {
                            pending: r.get(0)?,
                            total: r.get(1)?,
                            last_event_at: r.get(2)?,
                            oldest_pending_at: r.get(3)?,
                            parked: r.get(4)?,
                            parked_reason: r.get(5)?,
                        })
                    })
                })
                .await
            }
            Inbox::Postgres {
                target,
                client,
                events,
                ..
            } => {
                let client = Self::pg(target, client).await?;
                let r = client
                    .query_one(&SQL.replace("{e}", events), &[])
                    .await
                    .map_err(|e| target.explain(&e, "reading the webhook inbox"))?;
                Ok(InboxStats {
                    pending: r.get(0),
                    total: r.get(1),
                    last_event_at: r.get(2),
                    oldest_pending_at: r.get(3),
                    parked: r.get(4),
                    parked_reason: r.get(5),
                })
            }
        }
    }

    /// Saves a piece of listener state.
    pub async fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.update_meta(vec![(key.to_owned(), Some(value.to_owned()))])
            .await
    }

    /// Forgets a piece of listener state (a saved cart copy no longer needed).
    pub async fn delete_meta(&self, key: &str) -> Result<()> {
        self.update_meta(vec![(key.to_owned(), None)]).await
    }

    /// Saves (`Some`) and forgets (`None`) pieces of listener state in one transaction:
    /// a round's cart copies cost one commit, not one each.
    pub async fn update_meta(&self, changes: Vec<(String, Option<String>)>) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        match self {
            Inbox::Sqlite { path, conn, .. } => {
                Self::sqlite(conn, path, move |c| {
                    let tx = c.transaction()?;
                    for (k, v) in &changes {
                        match v {
                            Some(v) => tx.execute(
                                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                                params![k, v],
                            )?,
                            None => tx.execute("DELETE FROM meta WHERE key = ?1", [k])?,
                        };
                    }
                    tx.commit()
                })
                .await
            }
            Inbox::Postgres {
                target,
                client,
                meta,
                ..
            } => {
                let client = Self::pg(target, client).await?;
                let (set, forget): (Vec<_>, Vec<_>) =
                    changes.into_iter().partition(|(_, v)| v.is_some());
                let (keys, values): (Vec<String>, Vec<String>) = set
                    .into_iter()
                    .map(|(k, v)| (k, v.unwrap_or_default()))
                    .unzip();
                let forget: Vec<String> = forget.into_iter().map(|(k, _)| k).collect();
                // One statement, so one commit, whatever the mix.
                let sql = format!(
                    "WITH gone AS (DELETE FROM {meta} WHERE key = ANY($3))
                     INSERT INTO {meta} (key, value) SELECT * FROM unnest($1::text[], $2::text[])
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value"
                );
                client
                    .execute(&sql, &[&keys, &values, &forget])
                    .await
                    .map_err(|e| target.explain(&e, "saving listener state"))?;
                Ok(())
            }
        }
    }

    pub async fn meta(&self, key: &str) -> Result<Option<String>> {
        match self {
            Inbox::Sqlite { path, conn, .. } => {
                let k = key.to_owned();
                Self::sqlite(conn, path, move |c| {
                    c.query_row("SELECT value FROM meta WHERE key = ?1", [k], |r| r.get(0))
                        .optional()
                })
                .await
            }
            Inbox::Postgres {
                target,
                client,
                meta,
                ..
            } => {
                let client = Self::pg(target, client).await?;
                let sql = format!("SELECT value FROM {meta} WHERE key = $1");
                let row = client
                    .query_opt(&sql, &[&key])
                    .await
                    .map_err(|e| target.explain(&e, "reading listener state"))?;
                Ok(row.map(|r| r.get(0)))
            }
        }
    }
}
