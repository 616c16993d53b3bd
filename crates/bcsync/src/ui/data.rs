//! What the dashboard reads: the push state store (runs of push syncs and of the Brevo
//! sync) and the extraction destination (per-stream bookmarks in `_bcsync_state`, row
//! counts per table). Read only, the same stores the CLI uses; nothing is created by
//! looking: a SQLite file that does not exist yet is reported as "no run yet".
//!
//! The push store is opened once and kept behind a mutex (its connection is not shared
//! between threads); every call runs on a blocking thread, since both stores answer
//! synchronously.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::pg::{PgTarget, default_schema, quote_ident, redact};
use crate::state::StreamState;
use crate::state::push::{
    PushStore, RunFilter, RunPage, RunRecord, StateLocation, locate, open_push_store,
};

/// Where the dashboard reads from.
#[derive(Debug, Clone)]
pub struct UiSources {
    /// Push state store, as `bcsync push --state` takes it.
    pub state: String,
    /// Extraction destination, as `bcsync extract --to` takes it.
    pub extract_to: String,
    /// The store hash (names the PostgreSQL schema of an extraction; shown on the status).
    pub store_hash: Option<String>,
    /// A fleet's NATS server and name (`bcsync ui --nats --fleet`): the fleet page then
    /// shows the webhook deliveries JetStream holds for the workers.
    pub fleet_nats: Option<(String, String)>,
}

/// What the fleet page shows.
pub enum FleetView {
    /// The state store is a SQLite file: a fleet's registry lives in PostgreSQL.
    NotPostgres,
    /// The PostgreSQL state store (shown) has no fleet registry yet.
    NoFleet(String),
    Fleet {
        shown: String,
        status: crate::fleet::FleetStatus,
        /// Deliveries JetStream holds that no worker put in an inbox yet, with `--nats`.
        backlog: Option<std::result::Result<u64, String>>,
    },
    /// The registry could not be read (the reason, any password redacted).
    Failed(String),
}

/// One stream's extraction state.
#[derive(Debug, Clone, Serialize)]
pub struct StreamRow {
    pub stream: String,
    pub bookmark: Option<DateTime<Utc>>,
    /// When the destination last committed a page of this stream.
    pub updated_at: Option<String>,
    /// Now minus the bookmark, in seconds.
    pub lag_seconds: Option<i64>,
    /// A read from no bookmark (first run or `--full-refresh`) is under way.
    pub full_read: bool,
}

/// Rows of one extracted table.
#[derive(Debug, Clone, Serialize)]
pub struct TableRow {
    pub table: String,
    pub rows: i64,
}

/// What the extraction destination says.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Extraction {
    /// The destination as shown (passwords redacted).
    pub shown: String,
    pub streams: Vec<StreamRow>,
    pub tables: Vec<TableRow>,
    /// Why there is nothing to show (no extraction yet, unreachable, ...).
    pub note: Option<String>,
}

/// The readers behind every page.
#[derive(Clone)]
pub struct Stores {
    inner: Arc<Inner>,
}

struct Inner {
    sources: UiSources,
    location: StateLocation,
    push: Mutex<Option<Box<dyn PushStore>>>,
    /// A client for the store's cheap check, when a token is configured.
    store_client: Option<bigcommerce::Client>,
    /// The last store check and when it was made: one request a minute at most, however
    /// often the status page is loaded.
    last_check: Mutex<Option<(std::time::Instant, StoreCheck)>>,
}

/// What the store answered to the status page's check (`GET /v2/time`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreCheck {
    /// No token configured: the store is not asked.
    NotAsked,
    Connected {
        /// Requests per window, requests left and the window, from the answer's headers.
        quota: Option<u32>,
        left: Option<u32>,
        window_secs: Option<u64>,
        checked_at: String,
    },
    Failed {
        reason: String,
        checked_at: String,
    },
}

/// How long a store check is reused.
const CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

impl Stores {
    /// Checks the specs (nothing is opened yet).
    pub fn new(sources: UiSources) -> Result<Self> {
        Self::asking(sources, None)
    }

    /// The same readers; with a client, the status page also asks the store whether it
    /// answers (one cheap request a minute at most).
    pub fn asking(sources: UiSources, store_client: Option<bigcommerce::Client>) -> Result<Self> {
        let location = locate(&sources.state)?;
        Ok(Self {
            inner: Arc::new(Inner {
                sources,
                location,
                push: Mutex::new(None),
                store_client,
                last_check: Mutex::new(None),
            }),
        })
    }

    /// Whether the store answers, and its quota: one `GET /v2/time` (no scope needed) a
    /// minute at most.
    pub async fn store_check(&self) -> StoreCheck {
        let Some(client) = &self.inner.store_client else {
            return StoreCheck::NotAsked;
        };
        if let Some((at, check)) = &*self.inner.last_check.lock()
            && at.elapsed() < CHECK_EVERY
        {
            return check.clone();
        }
        let checked_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let check = match client.get(bigcommerce::ApiVersion::V2, "/time", &[]).await {
            Ok(_) => {
                let rl = client.rate_limit();
                StoreCheck::Connected {
                    quota: rl.quota,
                    left: rl.left,
                    window_secs: rl.window.map(|w| w.as_secs()),
                    checked_at,
                }
            }
            Err(e) => StoreCheck::Failed {
                reason: crate::pg::redact_in(&e.to_string()),
                checked_at,
            },
        };
        *self.inner.last_check.lock() = Some((std::time::Instant::now(), check.clone()));
        check
    }

    /// `listen`'s health from the inbox beside a SQLite destination (read only; `None`
    /// when `listen` never ran there).
    pub async fn listen_health(
        &self,
    ) -> Option<std::result::Result<crate::listen::status::Status, String>> {
        let spec = &self.inner.sources.extract_to;
        let path = sqlite_path(spec)?;
        if !crate::listen::inbox::sqlite_path_for(&path).exists() {
            return None;
        }
        let store = self.inner.sources.store_hash.clone().unwrap_or_default();
        let target = crate::listen::ListenTarget::Sqlite { path };
        Some(
            crate::listen::status::read(&target, &store)
                .await
                .map_err(|e| e.to_string()),
        )
    }

    /// The fleet's registry (`bcsync stores`, `bcsync worker`) in the PostgreSQL state
    /// store, read as `bcsync status --fleet` reads it; nothing is created by looking.
    pub async fn fleet(&self) -> FleetView {
        let StateLocation::Postgres(url) = &self.inner.location else {
            return FleetView::NotPostgres;
        };
        let failed = |e: Error| FleetView::Failed(crate::pg::redact_in(&e.to_string()));
        let registry = match crate::fleet::Registry::open_existing(url).await {
            Ok(Some(r)) => r,
            Ok(None) => return FleetView::NoFleet(redact(url)),
            Err(e) => return failed(e),
        };
        let status = match registry.status().await {
            Ok(s) => s,
            Err(e) => return failed(e),
        };
        let backlog = match &self.inner.sources.fleet_nats {
            Some((nats, fleet)) => Some(
                crate::listen::jetstream::consumer_lag(nats, fleet)
                    .await
                    .map_err(|e| e.to_string()),
            ),
            None => None,
        };
        FleetView::Fleet {
            shown: registry.shown().to_owned(),
            status,
            backlog,
        }
    }

    pub fn sources(&self) -> &UiSources {
        &self.inner.sources
    }

    /// The push state store as shown (a PostgreSQL password redacted).
    pub fn state_shown(&self) -> String {
        match &self.inner.location {
            StateLocation::Postgres(url) => redact(url),
            StateLocation::Sqlite(path) => path.display().to_string(),
        }
    }

    /// Runs `read` on the push store, on a blocking thread; `None` when the SQLite file
    /// does not exist yet (no push has run).
    pub async fn with_push<T, F>(&self, read: F) -> Result<Option<T>>
    where
        T: Send + 'static,
        F: FnOnce(&dyn PushStore) -> Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let mut guard = inner.push.lock();
            if guard.is_none() {
                if let StateLocation::Sqlite(path) = &inner.location
                    && !path.exists()
                {
                    return Ok(None);
                }
                // Runs of every store are listed: no store scope.
                *guard = Some(open_push_store(&inner.sources.state, "")?);
            }
            let Some(store) = guard.as_deref() else {
                return Ok(None);
            };
            let result = read(store);
            if result.is_err() {
                // A broken connection is reopened on the next page rather than kept.
                *guard = None;
            }
            result.map(Some)
        })
        .await
        .map_err(|e| Error::Internal(format!("the run reader stopped: {e}")))?
    }

    pub async fn runs_page(
        &self,
        filter: RunFilter,
        offset: usize,
        limit: usize,
    ) -> Result<Option<RunPage>> {
        self.with_push(move |s| s.runs_page(&filter, offset, limit))
            .await
    }

    pub async fn latest_runs(&self) -> Result<Option<Vec<RunRecord>>> {
        self.with_push(|s| s.latest_runs()).await
    }

    /// The open alert incidents (`[[alert]]`), every store's.
    pub async fn open_incidents(&self) -> Result<Option<Vec<crate::state::push::Incident>>> {
        self.with_push(|s| s.open_incidents()).await
    }

    pub async fn run(&self, id: i64) -> Result<Option<RunRecord>> {
        Ok(self.with_push(move |s| s.run(id)).await?.flatten())
    }

    /// `listen`'s recent end-to-end latencies in seconds (store event time to rows
    /// committed), from the inbox beside a SQLite destination; `Err` says why there are
    /// none to show.
    pub async fn listen_latencies(&self) -> std::result::Result<Vec<f64>, String> {
        let spec = self.inner.sources.extract_to.clone();
        let Some(path) = sqlite_path(&spec) else {
            return Err(
                "listen latency is shown for a SQLite destination (its inbox file sits beside it)"
                    .into(),
            );
        };
        let inbox = crate::listen::inbox::sqlite_path_for(&path);
        if !inbox.exists() {
            return Err(format!(
                "{} does not exist: `bcsync listen` has not run on this destination",
                inbox.display()
            ));
        }
        tokio::task::spawn_blocking(move || read_latencies(&inbox).map_err(|e| e.to_string()))
            .await
            .map_err(|e| format!("the latency reader stopped: {e}"))?
    }

    /// The extraction destination's streams and tables; problems become the note.
    pub async fn extraction(&self) -> Extraction {
        let spec = self.inner.sources.extract_to.clone();
        let shown = crate::pg::redact(&spec);
        let read = match crate::pg::url_from_spec(&spec) {
            Ok(Some(url)) => read_postgres(&url, self.inner.sources.store_hash.as_deref()).await,
            Ok(None) => match sqlite_path(&spec) {
                Some(path) => tokio::task::spawn_blocking(move || read_sqlite(&path))
                    .await
                    .unwrap_or_else(|e| Err(Error::Internal(e.to_string()))),
                None => Ok(Extraction {
                    note: Some(
                        "this destination keeps no state bcsync can read (only sqlite:FILE and postgres:// destinations show their streams here)".into(),
                    ),
                    ..Extraction::default()
                }),
            },
            Err(e) => Err(e),
        };
        let mut out = read.unwrap_or_else(|e| Extraction {
            note: Some(crate::pg::redact_in(&e.to_string())),
            ..Extraction::default()
        });
        out.shown = shown;
        out
    }
}

/// The SQLite file of an extraction spec (`sqlite:FILE`, or a path ending in .db/.sqlite).
/// The latencies of the last 1,000 events the inbox applied.
fn read_latencies(inbox: &std::path::Path) -> rusqlite::Result<Vec<f64>> {
    let conn =
        rusqlite::Connection::open_with_flags(inbox, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(std::time::Duration::from_secs(2))?;
    let mut stmt = conn.prepare(
        "SELECT created_at, applied_at FROM events WHERE applied_at IS NOT NULL
         ORDER BY seq DESC LIMIT 1000",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (created, applied) = row?;
        if let Ok(applied) = chrono::DateTime::parse_from_rfc3339(&applied) {
            let ms = applied.timestamp_millis() - created * 1000;
            out.push(ms.max(0) as f64 / 1000.0);
        }
    }
    Ok(out)
}

fn sqlite_path(spec: &str) -> Option<PathBuf> {
    spec.strip_prefix("sqlite:").map(PathBuf::from).or_else(|| {
        (spec.ends_with(".db") || spec.ends_with(".sqlite")).then(|| PathBuf::from(spec))
    })
}

fn stream_row(stream: String, state: &str, updated_at: Option<String>) -> StreamRow {
    // An unreadable state shows as "no bookmark" rather than hiding the other streams.
    let state: StreamState = serde_json::from_str(state).unwrap_or_default();
    StreamRow {
        stream,
        lag_seconds: state
            .bookmark
            .map(|b| (Utc::now() - b).num_seconds().max(0)),
        bookmark: state.bookmark,
        updated_at,
        full_read: state.full_read_started.is_some(),
    }
}

fn read_sqlite(path: &std::path::Path) -> Result<Extraction> {
    if !path.exists() {
        return Ok(Extraction {
            note: Some(format!(
                "{} does not exist: no extraction has run yet (run `bcsync extract`)",
                path.display()
            )),
            ..Extraction::default()
        });
    }
    let err = |source| Error::Sqlite {
        path: path.to_owned(),
        source,
    };
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(err)?;
    conn.busy_timeout(std::time::Duration::from_secs(2))
        .map_err(err)?;
    let mut out = Extraction::default();
    let has_state: bool = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '_bcsync_state'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map_err(err)?
        > 0;
    if !has_state {
        out.note = Some(format!(
            "{} has no _bcsync_state table: bcsync has not extracted into it",
            path.display()
        ));
        return Ok(out);
    }
    let mut stmt = conn
        .prepare("SELECT stream, state, updated_at FROM _bcsync_state ORDER BY stream")
        .map_err(err)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })
        .map_err(err)?;
    for r in rows {
        let (stream, state, updated) = r.map_err(err)?;
        out.streams.push(stream_row(stream, &state, updated));
    }
    let mut stmt = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\'
             AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
        )
        .map_err(err)?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(err)?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(err)?;
    for table in names {
        let rows: i64 = conn
            .query_row(
                &format!("SELECT count(*) FROM {}", quote_ident(&table)),
                [],
                |r| r.get(0),
            )
            .map_err(err)?;
        out.tables.push(TableRow { table, rows });
    }
    Ok(out)
}

async fn read_postgres(url: &str, store_hash: Option<&str>) -> Result<Extraction> {
    let target = PgTarget::parse(url, store_hash.map(default_schema))?;
    let doing = "reading the extraction state";
    let client = target.connect(doing).await?;
    let schema = target.schema.clone();
    let mut out = Extraction::default();
    let state_table = format!("{}._bcsync_state", quote_ident(&schema));
    let rows = match client
        .query(
            &format!(
                "SELECT stream, state::text, updated_at::text FROM {state_table} ORDER BY stream"
            ),
            &[],
        )
        .await
    {
        Ok(rows) => rows,
        Err(_) => {
            out.note = Some(format!(
                "schema {schema} has no _bcsync_state table: bcsync has not extracted into it"
            ));
            return Ok(out);
        }
    };
    for r in rows {
        out.streams
            .push(stream_row(r.get(0), r.get::<_, &str>(1), r.get(2)));
    }
    let tables = client
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = $1 AND table_type = 'BASE TABLE' AND table_name NOT LIKE '\\_%'
             ORDER BY table_name",
            &[&schema],
        )
        .await
        .map_err(|e| target.explain(&e, doing))?;
    for t in tables {
        let table: String = t.get(0);
        let rows: i64 = client
            .query_one(
                &format!(
                    "SELECT count(*) FROM {}.{}",
                    quote_ident(&schema),
                    quote_ident(&table)
                ),
                &[],
            )
            .await
            .map_err(|e| target.explain(&e, doing))?
            .get(0);
        out.tables.push(TableRow { table, rows });
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_now_minus_the_bookmark() {
        let row = stream_row(
            "orders".into(),
            r#"{"bookmark":"2020-01-01T00:00:00Z"}"#,
            None,
        );
        assert!(row.lag_seconds.unwrap() > 5 * 365 * 86_400);
        assert!(!row.full_read);
        let unreadable = stream_row("x".into(), "not json", None);
        assert_eq!(unreadable.bookmark, None);
    }

    #[test]
    fn a_missing_extraction_file_is_a_note_not_a_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nothing.db");
        let e = read_sqlite(&path).unwrap();
        assert!(e.note.unwrap().contains("no extraction has run yet"));
        assert!(!path.exists());
    }
}
