//! Push tracking: per store, sync and key, the hash of the mapped fields last sent, the
//! BigCommerce id, and the outcome; plus a record of every run. Behind [`PushStore`], two
//! stores with the same behaviour: SQLite (the default file `bcsync-push.db`) and
//! PostgreSQL ([`super::push_pg`]), which several machines can share. [`open_push_store`]
//! picks one from a spec (`FILE`, `sqlite:FILE`, `postgres://...`, or `postgres` with
//! `DATABASE_URL`).
//!
//! Every tracked record is keyed by the store hash too, so processes syncing different
//! stores into one state store never see each other's records, and a run takes a lock on
//! its (store, sync) so two runs of the same sync cannot interleave their writes.
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
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            TrackStatus::Applied => "applied",
            TrackStatus::Rejected => "rejected",
            TrackStatus::Attempting => "attempting",
        }
    }
    pub(crate) fn parse(s: &str) -> Self {
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

/// One request of a run, never with the token: what `bcsync runs` and the dashboard's
/// live debugger show. Headers and bodies only when the run captured them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    pub status: Option<u16>,
    pub ms: u64,
    /// The details below are kept in one JSON column (`detail`); records written before
    /// it read as their defaults.
    #[serde(flatten)]
    pub detail: RequestDetail,
    /// Headers and bodies, kept in a column of their own (`capture`) so a run without
    /// capture costs nothing; `None` when capture was off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture: Option<RequestCapture>,
}

/// A request's headers and bodies as the client captured them: already redacted of the
/// token, secret-looking keys and the personal fields listed (`[debug] redact_fields`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RequestCapture {
    pub request_headers: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_body: Option<CapturedText>,
    pub response_headers: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_body: Option<CapturedText>,
}

/// A captured body, bounded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CapturedText {
    pub text: String,
    /// The body was longer than `text` (cut at `[debug] max_body_bytes`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// The body's size on the wire.
    pub bytes: usize,
}

impl From<&bigcommerce::CapturedBody> for CapturedText {
    fn from(b: &bigcommerce::CapturedBody) -> Self {
        Self {
            text: b.text.clone(),
            truncated: b.truncated,
            bytes: b.bytes,
        }
    }
}

impl RequestCapture {
    /// The column value.
    pub(crate) fn to_column(capture: Option<&Self>) -> Option<String> {
        capture.and_then(|c| serde_json::to_string(c).ok())
    }

    /// Reads the column; an unreadable value reads as nothing captured (it is only shown).
    pub(crate) fn from_column(text: Option<&str>) -> Option<Self> {
        text.and_then(|t| serde_json::from_str(t).ok())
    }
}

/// What the live debugger shows of a request beyond its line in the log.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RequestDetail {
    /// When the answer (or the failure) arrived, RFC 3339 with milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// 1 for the first try.
    #[serde(skip_serializing_if = "is_zero")]
    pub attempt: u32,
    /// The client tried again after this answer.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub retried: bool,
    /// Requests left in the store's rate-limit window (`X-Rate-Limit-Requests-Left`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_left: Option<i64>,
    /// A transport failure or the API's message, when the request failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The store's quota, per window (`X-Rate-Limit-Requests-Quota`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota: Option<i64>,
    /// The quota's window in milliseconds (`X-Rate-Limit-Time-Window-Ms`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_ms: Option<i64>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl RequestDetail {
    /// The column value: `None` when there is nothing beyond the defaults.
    pub(crate) fn to_column(&self) -> Option<String> {
        (self != &Self::default())
            .then(|| serde_json::to_string(self).ok())
            .flatten()
    }

    /// Reads the column; an unreadable value reads as no detail (it is only shown).
    pub(crate) fn from_column(text: Option<&str>) -> Self {
        text.and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default()
    }
}

impl LoggedRequest {
    /// The log line of one answer (or failure) the client reports.
    pub fn from_event(e: &bigcommerce::RequestEvent) -> Self {
        let header = |wanted: &str| {
            e.headers
                .iter()
                .find(|(name, _)| name == wanted)
                .and_then(|(_, v)| v.parse().ok())
        };
        Self {
            method: e.method.clone(),
            path: e.url_path.clone(),
            status: e.status,
            ms: u64::try_from(e.duration.as_millis()).unwrap_or(u64::MAX),
            detail: RequestDetail {
                at: Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
                attempt: e.attempt,
                retried: e.will_retry,
                rate_left: header("x-rate-limit-requests-left"),
                error: e.error.clone(),
                quota: header("x-rate-limit-requests-quota"),
                window_ms: header("x-rate-limit-time-window-ms"),
            },
            capture: e.capture.as_ref().map(|c| RequestCapture {
                request_headers: c.request_headers.clone(),
                request_body: c.request_body.as_ref().map(CapturedText::from),
                response_headers: e.headers.clone(),
                response_body: c.response_body.as_ref().map(CapturedText::from),
            }),
        }
    }
}

/// A run as stored. Missing fields read as their defaults, so summaries written by an
/// older bcsync stay readable.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunRecord {
    pub id: i64,
    /// The store hash the run pushed to.
    pub store: String,
    pub sync: String,
    pub started_at: String,
    pub finished_at: String,
    pub dry_run: bool,
    /// `running` (started, not finished), `ok`, `rejected_over_threshold`, `refused` (a
    /// guard rail), `failed`, or `interrupted` (its process ended before the run did).
    pub status: String,
    pub message: Option<String>,
    /// Per operation: added, changed, removed, unchanged, created, updated, deleted, cleared, rejected, invalid.
    pub counts: BTreeMap<String, u64>,
    pub requests: u64,
    pub write_requests: u64,
    pub lookup_requests: u64,
    /// Answers that were 429 (the rate limit hit): zero in a paced run.
    pub throttled: u64,
    /// Requests the client sent again (after a 429, a 5xx or a broken connection).
    pub retried: u64,
    /// The store's quota in requests per minute, as its answers told it (for charts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota_per_minute: Option<f64>,
    pub duration_ms: u64,
    pub rejected: Vec<Rejection>,
    pub request_log: Vec<LoggedRequest>,
}

/// Collects the requests of a run (or of a tool call) as the client reports them: the
/// client's observer.
#[derive(Debug, Default)]
pub struct RequestLog {
    entries: parking_lot::Mutex<Vec<LoggedRequest>>,
}

impl bigcommerce::RequestObserver for RequestLog {
    fn on_event(&self, e: &bigcommerce::RequestEvent) {
        self.entries.lock().push(LoggedRequest::from_event(e));
    }
}

impl RequestLog {
    /// The requests logged from position `from` on.
    pub fn since(&self, from: usize) -> Vec<LoggedRequest> {
        self.entries
            .lock()
            .get(from..)
            .map(<[_]>::to_vec)
            .unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.lock().is_empty()
    }

    /// Every request logged, leaving the log empty.
    pub fn take(&self) -> Vec<LoggedRequest> {
        std::mem::take(&mut *self.entries.lock())
    }
}

impl RunRecord {
    /// Sets the request counts from the run's request log: reads (GET) are lookups, the
    /// rest writes; 429 answers and requests sent again are counted apart.
    pub fn count_requests(&mut self, log: &[LoggedRequest]) {
        self.requests = log.len() as u64;
        self.lookup_requests = log.iter().filter(|e| e.method == "GET").count() as u64;
        self.write_requests = self.requests - self.lookup_requests;
        self.throttled = log.iter().filter(|e| e.status == Some(429)).count() as u64;
        self.retried = log.iter().filter(|e| e.detail.retried).count() as u64;
        self.quota_per_minute = log.iter().rev().find_map(|e| {
            let (quota, window) = (e.detail.quota?, e.detail.window_ms?);
            (window > 0).then(|| quota as f64 * 60_000.0 / window as f64)
        });
    }
}

/// Storage for push tracking and run records. A store object is opened for one
/// BigCommerce store (its scope): tracking calls see only that store's records; run
/// listings show every store's runs (each names its store).
pub trait PushStore: Send {
    /// Tries once to take the run lock of `sync` for this store, held until the store
    /// object is dropped: `false` when another process holds it. [`take_run_lock`] is the
    /// way to take it.
    fn try_lock(&mut self, sync: &str) -> Result<bool>;
    /// The error saying that another process holds the run lock of `sync`.
    fn lock_held_error(&self, sync: &str) -> Error;
    fn load(&self, sync: &str) -> Result<HashMap<String, Tracked>>;
    /// The records of `keys` only (those tracked): what a real-time forward reads, so its
    /// cost follows the change, not the store's size.
    fn load_keys(&self, sync: &str, keys: &[String]) -> Result<HashMap<String, Tracked>>;
    /// Inserts or replaces these records, in one transaction.
    fn put(&mut self, sync: &str, records: &[Tracked]) -> Result<()>;
    fn remove(&mut self, sync: &str, keys: &[String]) -> Result<()>;
    /// Forgets everything tracked for `sync`; returns how many records were dropped.
    fn reset(&mut self, sync: &str) -> Result<u64>;
    /// Stores a finished run (under this store's scope); returns its id.
    fn save_run(&mut self, run: &RunRecord) -> Result<i64>;
    /// Records a run as started (status `running`) before its first write, so a run killed
    /// mid-way still shows in `bcsync runs`; returns its id. Called with the run lock held:
    /// earlier `running` records of this store and sync cannot still be running, and are
    /// marked `interrupted`.
    fn start_run(&mut self, run: &RunRecord) -> Result<i64>;
    /// Stores the end of a run begun with [`PushStore::start_run`] (`run.id`), its whole
    /// request log replacing what [`PushStore::log_requests`] wrote on the way.
    fn finish_run(&mut self, run: &RunRecord) -> Result<()>;
    /// Appends requests of a running run (`first_seq` is the position of the first), so
    /// the dashboard's live debugger shows them while the run goes on.
    fn log_requests(&mut self, run_id: i64, first_seq: usize, log: &[LoggedRequest]) -> Result<()>;
    /// The requests of run `run_id` after position `after` (all with `None`), in order,
    /// at most `limit`, each with its position.
    fn requests_after(
        &self,
        run_id: i64,
        after: Option<i64>,
        limit: usize,
    ) -> Result<Vec<(i64, LoggedRequest)>>;
    /// Whether some process holds the run lock of `sync` for `store` right now.
    fn lock_held(&self, store: &str, sync: &str) -> Result<bool>;
    /// Runs, newest first (without rejections and request logs).
    fn runs(&self, limit: usize) -> Result<Vec<RunRecord>>;
    /// One page of the runs matching `filter`, newest first (without rejections and
    /// request logs), with how many match in all: what `bcsync ui` lists, read through
    /// indexes so a store of many thousand runs answers in milliseconds.
    fn runs_page(&self, filter: &RunFilter, offset: usize, limit: usize) -> Result<RunPage>;
    /// The latest run of each (store, sync), ordered by sync then store.
    fn latest_runs(&self) -> Result<Vec<RunRecord>>;
    fn run(&self, id: i64) -> Result<Option<RunRecord>>;
    /// The open alert incident of (this store, `key`), if any.
    fn incident(&self, key: &IncidentKey) -> Result<Option<Incident>>;
    /// Opens an incident, or updates the open one with the same key (under this store's
    /// scope; `incident.store` is ignored).
    fn save_incident(&mut self, incident: &Incident) -> Result<()>;
    /// Closes (forgets) the incident of (this store, `key`); the runs keep the history.
    fn close_incident(&mut self, key: &IncidentKey) -> Result<()>;
    /// The open incidents of every store, oldest first: what `bcsync alerts list` shows.
    fn open_incidents(&self) -> Result<Vec<Incident>>;
}

/// What makes an alert incident one incident: the alert, its condition and the sync (a
/// push sync's name, `brevo`, or `listen`), within one store. A second failing run of the
/// same sync finds the incident open and sends nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IncidentKey {
    pub alert: String,
    pub condition: String,
    pub sync: String,
}

/// An open alert incident.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// The store hash it belongs to.
    pub store: String,
    pub alert: String,
    pub condition: String,
    pub sync: String,
    pub opened_at: String,
    /// The run that found the condition last (0 when it did not come from a run record).
    pub run_id: i64,
    /// The alert's text, as sent.
    pub summary: String,
    /// Whether the alert reached its destination. One that did not is sent again by the
    /// next run that finds the condition still holding; one never sent needs no resolve.
    pub notified: bool,
}

impl Incident {
    pub fn key(&self) -> IncidentKey {
        IncidentKey {
            alert: self.alert.clone(),
            condition: self.condition.clone(),
            sync: self.sync.clone(),
        }
    }
}

/// The `limit` of [`PushStore::requests_after`] that reads a whole log.
pub const ALL_REQUESTS: usize = i64::MAX as usize;

/// Which runs [`PushStore::runs_page`] lists; `None` matches every value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFilter {
    pub sync: Option<String>,
    /// A status as listed: `interrupted` also matches `running` records whose process is
    /// gone, and `running` only the runs still alive.
    pub status: Option<String>,
}

impl RunFilter {
    /// The stored statuses to select: a run stored `running` may list as `interrupted`.
    pub(crate) fn stored_statuses(&self) -> Option<Vec<String>> {
        self.status.as_ref().map(|s| {
            if s == INTERRUPTED {
                vec![INTERRUPTED.to_owned(), "running".to_owned()]
            } else {
                vec![s.clone()]
            }
        })
    }

    /// Whether a settled run matches (the stored status may have been settled since).
    pub(crate) fn matches_settled(&self, run: &RunRecord) -> bool {
        self.status.as_ref().is_none_or(|s| *s == run.status)
    }
}

/// A page of runs and how many runs match the filter in all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunPage {
    pub runs: Vec<RunRecord>,
    /// Runs matching the filter as stored (a `running` record found interrupted counts
    /// under the stored status until listed).
    pub total: u64,
}

/// Takes the run lock of `sync` (see [`PushStore::try_lock`]), or fails with a clear
/// error when another process holds it. A lock held for an instant (`bcsync runs` checking
/// whether a run is alive) is waited for, up to [`LOCK_PATIENCE`], on the async clock: the
/// wait never blocks a runtime thread.
pub async fn take_run_lock(store: &mut dyn PushStore, sync: &str) -> Result<()> {
    let started = std::time::Instant::now();
    while !store.try_lock(sync)? {
        if started.elapsed() >= LOCK_PATIENCE {
            return Err(store.lock_held_error(sync));
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    Ok(())
}

/// Status of a run whose record says `running` but whose process is gone.
pub const INTERRUPTED: &str = "interrupted";

/// A listed run as it stands: a `running` record whose run lock nobody holds was
/// interrupted (killed, crashed, or the machine stopped) before it could finish.
fn settle_status(store: &dyn PushStore, rec: &mut RunRecord) -> Result<()> {
    if rec.status == "running" && !rec.dry_run && !store.lock_held(&rec.store, &rec.sync)? {
        rec.status = INTERRUPTED.into();
        rec.message.get_or_insert_with(|| {
            "the run ended before it finished (killed or crashed); rerun the sync to resume".into()
        });
    }
    Ok(())
}

/// [`settle_status`] for each run listed.
pub(crate) fn settle_statuses(
    store: &dyn PushStore,
    mut runs: Vec<RunRecord>,
) -> Result<Vec<RunRecord>> {
    for r in &mut runs {
        settle_status(store, r)?;
    }
    Ok(runs)
}

/// [`settle_status`] for one run.
pub(crate) fn settled(store: &dyn PushStore, run: Option<RunRecord>) -> Result<Option<RunRecord>> {
    let Some(mut r) = run else { return Ok(None) };
    settle_status(store, &mut r)?;
    Ok(Some(r))
}

/// The default push state store.
pub const DEFAULT_PUSH_STATE: &str = "bcsync-push.db";

/// Where a state spec points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateLocation {
    Postgres(String),
    Sqlite(PathBuf),
}

/// Reads a state spec: `postgres://...` (or `postgres`, then `DATABASE_URL`), else a
/// SQLite file (`FILE` or `sqlite:FILE`).
pub fn locate(spec: &str) -> Result<StateLocation> {
    if let Some(url) = crate::pg::url_from_spec(spec)? {
        return Ok(StateLocation::Postgres(url));
    }
    let path = spec.strip_prefix("sqlite:").unwrap_or(spec);
    if path.is_empty() || path.contains("://") {
        return Err(Error::BadStateStore(spec.to_owned()));
    }
    Ok(StateLocation::Sqlite(PathBuf::from(path)))
}

/// Opens the push state store named by `spec` for the store `scope` (a store hash; empty
/// when only run records are read).
pub fn open_push_store(spec: &str, scope: &str) -> Result<Box<dyn PushStore>> {
    Ok(match locate(spec)? {
        StateLocation::Postgres(url) => Box::new(super::push_pg::PgPushStore::open(&url, scope)?),
        StateLocation::Sqlite(path) => Box::new(SqlitePushStore::open(&path, scope)?),
    })
}

/// The SQLite push store (default file `bcsync-push.db`).
pub struct SqlitePushStore {
    path: PathBuf,
    conn: rusqlite::Connection,
    scope: String,
    /// Run locks held, by sync: one lock file per (store, sync), released when dropped.
    locks: HashMap<String, RunLock>,
}

/// A run lock of the SQLite store: an OS lock on a hidden file beside the database (the
/// OS frees it when the process dies, so a `kill -9` never leaves a lock that blocks). The
/// file is removed when the run ends, so a finished push leaves no file behind; one left
/// by a killed run blocks nothing and is removed by the next run of that sync.
struct RunLock {
    path: PathBuf,
    file: std::fs::File,
}

/// How long a run waits for a lock held for an instant (`bcsync runs` checking whether a
/// run is alive) before it reports the sync as already running.
const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_millis(500);

impl RunLock {
    /// Takes the lock at `path`, or says it is held (once: [`take_run_lock`] waits).
    fn take(path: PathBuf) -> std::result::Result<Self, LockError> {
        loop {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(LockError::Io)?;
            match file.try_lock() {
                // The holder before us may have removed the file between our open and our
                // lock: the lock counts only on the file the path still names.
                Ok(()) if still_named(&file, &path) => return Ok(Self { path, file }),
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => return Err(LockError::Held),
                Err(std::fs::TryLockError::Error(e)) => return Err(LockError::Io(e)),
            }
        }
    }

    /// Whether a process holds the lock at `path` (probed with a shared lock for an
    /// instant: free means nobody runs).
    fn held(path: &Path) -> std::io::Result<bool> {
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        match file.try_lock_shared() {
            Ok(()) => Ok(false),
            Err(std::fs::TryLockError::WouldBlock) => Ok(true),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Removed while still locked (the handle closes after this), so no other run can
        // hold this very file when it goes; a run that opened it just before sees that the
        // path no longer names it and opens the path again.
        if cfg!(unix) {
            let _ = std::fs::remove_file(&self.path);
        }
        let _ = self.file.unlock();
    }
}

enum LockError {
    Held,
    Io(std::io::Error),
}

/// Whether `path` still names the open `file` (same device and inode).
#[cfg(unix)]
fn still_named(file: &std::fs::File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Elsewhere lock files are never removed (see [`RunLock`]'s drop), so the path always
/// names the locked file.
#[cfg(not(unix))]
fn still_named(_file: &std::fs::File, _path: &Path) -> bool {
    true
}

/// Layout version in `PRAGMA user_version`: 2 added the store to every record and run, 3
/// the indexes that list runs by sync or status and read one run's rows, 4 the requests'
/// details (time, attempt, rate limit left, error) for the live debugger, 5 the open alert
/// incidents, 6 the requests' captured headers and bodies (`capture`).
const SCHEMA_VERSION: i64 = 6;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS push_records (
    store TEXT NOT NULL, sync TEXT NOT NULL, key TEXT NOT NULL, hash TEXT, bc_id INTEGER,
    status TEXT NOT NULL, fields TEXT, updated_at TEXT NOT NULL, PRIMARY KEY (store, sync, key));
CREATE TABLE IF NOT EXISTS push_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, store TEXT NOT NULL DEFAULT '', sync TEXT NOT NULL,
    started_at TEXT NOT NULL, status TEXT NOT NULL, summary TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS push_rejections (
    run_id INTEGER NOT NULL, row INTEGER NOT NULL, key TEXT, field TEXT, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS push_requests (
    run_id INTEGER NOT NULL, seq INTEGER NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL,
    status INTEGER, ms INTEGER NOT NULL, detail TEXT, capture TEXT);
CREATE INDEX IF NOT EXISTS push_runs_sync_idx ON push_runs (sync, id);
CREATE INDEX IF NOT EXISTS push_runs_status_idx ON push_runs (status, id);
CREATE INDEX IF NOT EXISTS push_runs_store_sync_idx ON push_runs (store, sync, id);
CREATE INDEX IF NOT EXISTS push_rejections_run_idx ON push_rejections (run_id, row);
CREATE INDEX IF NOT EXISTS push_requests_run_idx ON push_requests (run_id, seq);
CREATE TABLE IF NOT EXISTS alert_incidents (
    store TEXT NOT NULL, alert TEXT NOT NULL, condition TEXT NOT NULL, sync TEXT NOT NULL,
    opened_at TEXT NOT NULL, run_id INTEGER NOT NULL, summary TEXT NOT NULL,
    notified INTEGER NOT NULL, PRIMARY KEY (store, alert, condition, sync));
";

impl SqlitePushStore {
    /// Opens (creating or upgrading) the file for the store `scope`.
    pub fn open(path: &Path, scope: &str) -> Result<Self> {
        let conn = rusqlite::Connection::open(path).map_err(|source| Error::Sqlite {
            path: path.to_owned(),
            source,
        })?;
        let mut store = Self {
            path: path.to_owned(),
            conn,
            scope: scope.to_owned(),
            locks: HashMap::new(),
        };
        store
            .conn
            .execute_batch(
                "PRAGMA busy_timeout=10000; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            )
            .map_err(|e| store.err(e))?;
        store.upgrade().map_err(|e| store.err(e))?;
        if !scope.is_empty() {
            // Records of a version-1 file (or of an unscoped open) belong to the first
            // store that opens it: before version 2 a file tracked one store in practice.
            store
                .conn
                .execute(
                    "UPDATE push_records SET store = ?1 WHERE store = ''",
                    [scope],
                )
                .map_err(|e| store.err(e))?;
        }
        Ok(store)
    }

    /// Creates the tables, or brings a version-1 file (no store column) to version 2
    /// without losing a record.
    fn upgrade(&mut self) -> rusqlite::Result<()> {
        let version = |c: &rusqlite::Connection| -> rusqlite::Result<i64> {
            c.query_row("PRAGMA user_version", [], |r| r.get(0))
        };
        if version(&self.conn)? >= SCHEMA_VERSION {
            return Ok(());
        }
        // Immediate: two processes opening a new file at once take turns (busy_timeout)
        // instead of the second failing on its upgrade from reader to writer.
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        if version(&tx)? >= SCHEMA_VERSION {
            return Ok(());
        }
        let has_v1: bool = tx.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'push_records'",
            [],
            |r| r.get::<_, i64>(0),
        )? > 0
            && tx
                .prepare("SELECT store FROM push_records LIMIT 0")
                .is_err();
        if has_v1 {
            tx.execute_batch(
                "ALTER TABLE push_records RENAME TO push_records_v1;
                 ALTER TABLE push_runs ADD COLUMN store TEXT NOT NULL DEFAULT '';",
            )?;
        }
        tx.execute_batch(SCHEMA)?;
        if tx
            .prepare("SELECT detail FROM push_requests LIMIT 0")
            .is_err()
        {
            tx.execute_batch("ALTER TABLE push_requests ADD COLUMN detail TEXT")?;
        }
        if tx
            .prepare("SELECT capture FROM push_requests LIMIT 0")
            .is_err()
        {
            tx.execute_batch("ALTER TABLE push_requests ADD COLUMN capture TEXT")?;
        }
        if has_v1 {
            tx.execute_batch(
                "INSERT INTO push_records (store, sync, key, hash, bc_id, status, fields, updated_at)
                 SELECT '', sync, key, hash, bc_id, status, fields, updated_at FROM push_records_v1;
                 DROP TABLE push_records_v1;",
            )?;
        }
        tx.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?;
        tx.commit()
    }

    fn err(&self, source: rusqlite::Error) -> Error {
        Error::Sqlite {
            path: self.path.clone(),
            source,
        }
    }
}

impl SqlitePushStore {
    /// Run summaries selected by `sql` (columns id, store, summary).
    fn query_runs(&self, sql: &str, args: &[&dyn rusqlite::ToSql]) -> Result<Vec<RunRecord>> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(args, |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for r in rows {
            let (id, store, json) = r.map_err(|e| self.err(e))?;
            let mut rec: RunRecord =
                serde_json::from_str(&json).map_err(|e| Error::UnreadableRun {
                    id,
                    target: self.path.display().to_string(),
                    detail: crate::error::plain_serde_message(&e.to_string()),
                })?;
            rec.id = id;
            rec.store = store;
            out.push(rec);
        }
        Ok(out)
    }

    /// The lock file of (store, sync): hidden, beside the database.
    fn lock_path(&self, scope: &str, sync: &str) -> PathBuf {
        // Readable, and exact: the hash keeps `a.b` and `a_b` apart.
        let digest = {
            use sha2::Digest;
            hex::encode(&sha2::Sha256::digest(format!("{scope}\n{sync}"))[..4])
        };
        let db_name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = format!(
            ".{db_name}.{}-{digest}.lock",
            file_safe(&format!("{scope}-{sync}"))
        );
        self.path.with_file_name(name)
    }

    /// Inserts (or, given its id, updates) a run record with its rejections and request
    /// log, in one transaction.
    fn write_run(&mut self, run: &RunRecord, existing: Option<i64>) -> Result<i64> {
        let path = self.path.clone();
        let err = |source| Error::Sqlite {
            path: path.clone(),
            source,
        };
        let mut summary = run.clone();
        summary.store = self.scope.clone();
        summary.rejected.clear();
        summary.request_log.clear();
        let summary_json = serde_json::to_string(&summary).map_err(|e| Error::Encode {
            what: "the run record",
            detail: e.to_string(),
        })?;
        let tx = self.conn.transaction().map_err(err)?;
        let id = match existing {
            Some(id) => {
                tx.execute(
                    "UPDATE push_runs SET status = ?2, summary = ?3 WHERE id = ?1",
                    params![id, run.status, summary_json],
                )
                .map_err(err)?;
                id
            }
            None => {
                tx.execute(
                    "INSERT INTO push_runs (store, sync, started_at, status, summary) VALUES (?5, ?1, ?2, ?3, ?4)",
                    params![run.sync, run.started_at, run.status, summary_json, self.scope],
                )
                .map_err(err)?;
                tx.last_insert_rowid()
            }
        };
        {
            let mut stmt = tx.prepare_cached("INSERT INTO push_rejections (run_id, row, key, field, reason) VALUES (?1, ?2, ?3, ?4, ?5)").map_err(err)?;
            for r in &run.rejected {
                stmt.execute(params![id, r.row as i64, r.key, r.field, r.reason])
                    .map_err(err)?;
            }
        }
        // The whole log replaces what was appended while the run went on.
        tx.execute("DELETE FROM push_requests WHERE run_id = ?1", [id])
            .map_err(err)?;
        insert_requests(&tx, id, 0, &run.request_log).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(id)
    }
}

/// Inserts request log lines from position `first_seq`.
fn insert_requests(
    conn: &rusqlite::Connection,
    run_id: i64,
    first_seq: usize,
    log: &[LoggedRequest],
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO push_requests (run_id, seq, method, path, status, ms, detail, capture)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for (i, q) in log.iter().enumerate() {
        stmt.execute(params![
            run_id,
            (first_seq + i) as i64,
            q.method,
            q.path,
            q.status,
            q.ms as i64,
            q.detail.to_column(),
            RequestCapture::to_column(q.capture.as_ref())
        ])?;
    }
    Ok(())
}

/// A request log line of a `SELECT seq, method, path, status, ms, detail, capture`.
fn request_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, LoggedRequest)> {
    Ok((
        r.get(0)?,
        LoggedRequest {
            method: r.get(1)?,
            path: r.get(2)?,
            status: r.get(3)?,
            ms: r.get::<_, i64>(4)? as u64,
            detail: RequestDetail::from_column(r.get::<_, Option<String>>(5)?.as_deref()),
            capture: RequestCapture::from_column(r.get::<_, Option<String>>(6)?.as_deref()),
        },
    ))
}

/// `[A-Za-z0-9_-]` only, for a lock file's name.
fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A row of `SELECT key, hash, bc_id, status, fields FROM push_records`.
fn tracked_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Tracked> {
    let fields: Option<String> = r.get(4)?;
    Ok(Tracked {
        key: r.get(0)?,
        hash: r.get(1)?,
        bc_id: r.get(2)?,
        status: TrackStatus::parse(&r.get::<_, String>(3)?),
        fields: fields.and_then(|f| serde_json::from_str(&f).ok()),
    })
}

impl PushStore for SqlitePushStore {
    fn try_lock(&mut self, sync: &str) -> Result<bool> {
        if self.locks.contains_key(sync) {
            return Ok(true);
        }
        let path = self.lock_path(&self.scope, sync);
        match RunLock::take(path.clone()) {
            Ok(lock) => {
                self.locks.insert(sync.to_owned(), lock);
                Ok(true)
            }
            Err(LockError::Held) => Ok(false),
            Err(LockError::Io(source)) => Err(Error::Io { path, source }),
        }
    }

    fn lock_held_error(&self, sync: &str) -> Error {
        Error::SyncAlreadyRunning {
            sync: sync.to_owned(),
            store: self.scope.clone(),
            target: format!(
                "{} (lock {})",
                self.path.display(),
                self.lock_path(&self.scope, sync).display()
            ),
        }
    }

    fn load(&self, sync: &str) -> Result<HashMap<String, Tracked>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT key, hash, bc_id, status, fields FROM push_records WHERE store = ?1 AND sync = ?2",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([self.scope.as_str(), sync], tracked_row)
            .map_err(|e| self.err(e))?;
        let mut out = HashMap::new();
        for r in rows {
            let t = r.map_err(|e| self.err(e))?;
            out.insert(t.key.clone(), t);
        }
        Ok(out)
    }

    fn load_keys(&self, sync: &str, keys: &[String]) -> Result<HashMap<String, Tracked>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT key, hash, bc_id, status, fields FROM push_records
                 WHERE store = ?1 AND sync = ?2 AND key = ?3",
            )
            .map_err(|e| self.err(e))?;
        let mut out = HashMap::new();
        for key in keys {
            let found = stmt
                .query_row([self.scope.as_str(), sync, key.as_str()], tracked_row)
                .optional()
                .map_err(|e| self.err(e))?;
            if let Some(t) = found {
                out.insert(t.key.clone(), t);
            }
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
                    "INSERT INTO push_records (store, sync, key, hash, bc_id, status, fields, updated_at) VALUES (?8, ?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (store, sync, key) DO UPDATE SET hash = excluded.hash, bc_id = excluded.bc_id, status = excluded.status,
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
                    ts,
                    self.scope
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
                .prepare_cached(
                    "DELETE FROM push_records WHERE store = ?3 AND sync = ?1 AND key = ?2",
                )
                .map_err(err)?;
            for k in keys {
                stmt.execute(params![sync, k, self.scope]).map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    fn reset(&mut self, sync: &str) -> Result<u64> {
        let n = self
            .conn
            .execute(
                "DELETE FROM push_records WHERE store = ?1 AND sync = ?2",
                [self.scope.as_str(), sync],
            )
            .map_err(|e| self.err(e))?;
        Ok(n as u64)
    }

    fn save_run(&mut self, run: &RunRecord) -> Result<i64> {
        self.write_run(run, None)
    }

    fn start_run(&mut self, run: &RunRecord) -> Result<i64> {
        self.conn
            .execute(
                "UPDATE push_runs SET status = ?3, summary = json_set(summary, '$.status', ?3)
                 WHERE store = ?1 AND sync = ?2 AND status = 'running'",
                params![self.scope, run.sync, INTERRUPTED],
            )
            .map_err(|e| self.err(e))?;
        self.write_run(run, None)
    }

    fn finish_run(&mut self, run: &RunRecord) -> Result<()> {
        self.write_run(run, Some(run.id)).map(|_| ())
    }

    fn log_requests(&mut self, run_id: i64, first_seq: usize, log: &[LoggedRequest]) -> Result<()> {
        let tx = self.conn.transaction().map_err(|e| Error::Sqlite {
            path: self.path.clone(),
            source: e,
        })?;
        insert_requests(&tx, run_id, first_seq, log)
            .and_then(|()| tx.commit())
            .map_err(|e| self.err(e))
    }

    fn requests_after(
        &self,
        run_id: i64,
        after: Option<i64>,
        limit: usize,
    ) -> Result<Vec<(i64, LoggedRequest)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, method, path, status, ms, detail, capture FROM push_requests
                 WHERE run_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(
                params![run_id, after.unwrap_or(-1), limit as i64],
                request_row,
            )
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }

    fn lock_held(&self, store: &str, sync: &str) -> Result<bool> {
        if store == self.scope && self.locks.contains_key(sync) {
            return Ok(true);
        }
        let path = self.lock_path(store, sync);
        RunLock::held(&path).map_err(|source| Error::Io { path, source })
    }

    fn runs(&self, limit: usize) -> Result<Vec<RunRecord>> {
        let out = self.query_runs(
            "SELECT id, store, summary FROM push_runs ORDER BY id DESC LIMIT ?1",
            &[&(limit as i64)],
        )?;
        settle_statuses(self, out)
    }

    fn runs_page(&self, filter: &RunFilter, offset: usize, limit: usize) -> Result<RunPage> {
        let mut conds = Vec::new();
        let mut args: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
        if let Some(sync) = &filter.sync {
            args.push(Box::new(sync.clone()));
            conds.push(format!("sync = ?{}", args.len()));
        }
        if let Some(statuses) = filter.stored_statuses() {
            let mut marks = Vec::new();
            for st in statuses {
                args.push(Box::new(st));
                marks.push(format!("?{}", args.len()));
            }
            conds.push(format!("status IN ({})", marks.join(", ")));
        }
        let filter_sql = if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        };
        let refs: Vec<&dyn rusqlite::ToSql> = args.iter().map(|a| a.as_ref()).collect();
        let total: i64 = self
            .conn
            .prepare_cached(&format!("SELECT count(*) FROM push_runs{filter_sql}"))
            .and_then(|mut st| st.query_row(refs.as_slice(), |r| r.get(0)))
            .map_err(|e| self.err(e))?;
        let (lim, off) = (limit as i64, offset as i64);
        let mut page_refs = refs.clone();
        page_refs.push(&lim);
        page_refs.push(&off);
        let sql = format!(
            "SELECT id, store, summary FROM push_runs{filter_sql} ORDER BY id DESC LIMIT ?{} OFFSET ?{}",
            refs.len() + 1,
            refs.len() + 2
        );
        let runs = settle_statuses(self, self.query_runs(&sql, &page_refs)?)?;
        Ok(RunPage {
            runs: runs
                .into_iter()
                .filter(|r| filter.matches_settled(r))
                .collect(),
            total: total.max(0) as u64,
        })
    }

    fn latest_runs(&self) -> Result<Vec<RunRecord>> {
        let out = self.query_runs(
            "SELECT id, store, summary FROM push_runs WHERE id IN
               (SELECT max(id) FROM push_runs GROUP BY store, sync) ORDER BY sync, store",
            &[],
        )?;
        settle_statuses(self, out)
    }

    fn run(&self, id: i64) -> Result<Option<RunRecord>> {
        let found: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT store, summary FROM push_runs WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let Some((store, json)) = found else {
            return Ok(None);
        };
        let mut rec: RunRecord = serde_json::from_str(&json).map_err(|e| Error::UnreadableRun {
            id,
            target: self.path.display().to_string(),
            detail: crate::error::plain_serde_message(&e.to_string()),
        })?;
        rec.id = id;
        rec.store = store;
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
        rec.request_log = self
            .requests_after(id, None, ALL_REQUESTS)?
            .into_iter()
            .map(|(_, q)| q)
            .collect();
        settled(self, Some(rec))
    }

    fn incident(&self, key: &IncidentKey) -> Result<Option<Incident>> {
        let found = self
            .query_incidents(
                "WHERE store = ?1 AND alert = ?2 AND condition = ?3 AND sync = ?4",
                &[&self.scope, &key.alert, &key.condition, &key.sync],
            )?
            .pop();
        Ok(found)
    }

    fn save_incident(&mut self, i: &Incident) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO alert_incidents (store, alert, condition, sync, opened_at, run_id, summary, notified)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (store, alert, condition, sync) DO UPDATE SET run_id = excluded.run_id,
                   summary = excluded.summary, notified = excluded.notified",
                params![
                    self.scope,
                    i.alert,
                    i.condition,
                    i.sync,
                    i.opened_at,
                    i.run_id,
                    i.summary,
                    i.notified
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn close_incident(&mut self, key: &IncidentKey) -> Result<()> {
        self.conn
            .execute(
                "DELETE FROM alert_incidents WHERE store = ?1 AND alert = ?2 AND condition = ?3 AND sync = ?4",
                params![self.scope, key.alert, key.condition, key.sync],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn open_incidents(&self) -> Result<Vec<Incident>> {
        self.query_incidents("ORDER BY opened_at, store, alert, condition, sync", &[])
    }
}

impl SqlitePushStore {
    /// The incidents selected by `tail` (a WHERE and/or ORDER BY clause).
    fn query_incidents(&self, tail: &str, args: &[&dyn rusqlite::ToSql]) -> Result<Vec<Incident>> {
        let sql = format!(
            "SELECT store, alert, condition, sync, opened_at, run_id, summary, notified FROM alert_incidents {tail}"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(args, |r| {
                Ok(Incident {
                    store: r.get(0)?,
                    alert: r.get(1)?,
                    condition: r.get(2)?,
                    sync: r.get(3)?,
                    opened_at: r.get(4)?,
                    run_id: r.get(5)?,
                    summary: r.get(6)?,
                    notified: r.get(7)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.map(|r| r.map_err(|e| self.err(e))).collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// One attempt at the run lock, as a result (the tests hold locks from one thread).
    trait LockNow {
        fn lock(&mut self, sync: &str) -> Result<()>;
    }

    impl<S: PushStore> LockNow for S {
        fn lock(&mut self, sync: &str) -> Result<()> {
            if self.try_lock(sync)? {
                Ok(())
            } else {
                Err(self.lock_held_error(sync))
            }
        }
    }

    #[test]
    fn tracks_records_and_runs() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqlitePushStore::open(&dir.path().join("p.db"), "store1").unwrap();
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
                detail: RequestDetail {
                    attempt: 1,
                    rate_left: Some(149),
                    ..RequestDetail::default()
                },
                capture: Some(RequestCapture {
                    request_headers: vec![("x-auth-token".into(), "<redacted>".into())],
                    request_body: Some(CapturedText {
                        text: r#"[{"email":"<redacted>"}]"#.into(),
                        truncated: false,
                        bytes: 24,
                    }),
                    response_headers: vec![("content-type".into(), "application/json".into())],
                    response_body: None,
                }),
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

    #[test]
    fn load_keys_reads_only_those_tracked_of_this_store_and_sync() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let record = |key: &str| Tracked {
            key: key.into(),
            hash: Some(format!("h-{key}")),
            bc_id: None,
            status: TrackStatus::Applied,
            fields: Some(serde_json::json!({"k": key})),
        };
        let mut s = SqlitePushStore::open(&path, "store1").unwrap();
        s.put("c", &[record("a"), record("b"), record("c")])
            .unwrap();
        s.put("other", &[record("a")]).unwrap();
        let mut elsewhere = SqlitePushStore::open(&path, "store2").unwrap();
        elsewhere.put("c", &[record("d")]).unwrap();
        let keys: Vec<String> = ["a", "c", "d", "missing"].map(String::from).to_vec();
        let got = s.load_keys("c", &keys).unwrap();
        let mut found: Vec<&str> = got.keys().map(String::as_str).collect();
        found.sort_unstable();
        assert_eq!(found, ["a", "c"]);
        assert_eq!(
            got["c"],
            s.load("c").unwrap()["c"],
            "the same record as load gives"
        );
        assert!(s.load_keys("c", &[]).unwrap().is_empty());
    }

    #[test]
    fn requests_logged_on_the_way_are_replaced_by_the_finished_log() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqlitePushStore::open(&dir.path().join("s.db"), "abc").unwrap();
        let id = s
            .start_run(&RunRecord {
                sync: "c".into(),
                status: "running".into(),
                ..RunRecord::default()
            })
            .unwrap();
        let line = |path: &str| LoggedRequest {
            method: "GET".into(),
            path: path.into(),
            status: Some(200),
            ms: 1,
            ..LoggedRequest::default()
        };
        s.log_requests(id, 0, &[line("/a"), line("/b")]).unwrap();
        s.log_requests(id, 2, &[line("/c")]).unwrap();
        let after_first: Vec<String> = s
            .requests_after(id, Some(0), 10)
            .unwrap()
            .into_iter()
            .map(|(seq, q)| format!("{seq}{}", q.path))
            .collect();
        assert_eq!(after_first, ["1/b", "2/c"]);
        let finished = RunRecord {
            id,
            sync: "c".into(),
            status: "ok".into(),
            request_log: vec![line("/a"), line("/b"), line("/c"), line("/d")],
            ..RunRecord::default()
        };
        s.finish_run(&finished).unwrap();
        let back = s.run(id).unwrap().unwrap();
        assert_eq!(back.request_log, finished.request_log);
    }

    #[test]
    fn a_version_3_file_gains_the_request_details() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v3.db");
        {
            let c = rusqlite::Connection::open(&path).unwrap();
            c.execute_batch(
                "CREATE TABLE push_requests (run_id INTEGER NOT NULL, seq INTEGER NOT NULL,
                   method TEXT NOT NULL, path TEXT NOT NULL, status INTEGER, ms INTEGER NOT NULL);
                 INSERT INTO push_requests VALUES (1, 0, 'GET', '/old', 200, 3);
                 PRAGMA user_version = 3;",
            )
            .unwrap();
        }
        let s = SqlitePushStore::open(&path, "abc").unwrap();
        let old = s.requests_after(1, None, 10).unwrap();
        assert_eq!(old.len(), 1);
        assert_eq!(old[0].1.path, "/old");
        assert_eq!(old[0].1.detail, RequestDetail::default());
        assert_eq!(old[0].1.capture, None);
    }

    #[test]
    fn a_version_5_file_gains_the_capture_column_and_keeps_its_requests() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v5.db");
        {
            let c = rusqlite::Connection::open(&path).unwrap();
            c.execute_batch(
                "CREATE TABLE push_requests (run_id INTEGER NOT NULL, seq INTEGER NOT NULL,
                   method TEXT NOT NULL, path TEXT NOT NULL, status INTEGER, ms INTEGER NOT NULL,
                   detail TEXT);
                 INSERT INTO push_requests VALUES (1, 0, 'GET', '/old', 200, 3, '{\"attempt\":2}');
                 PRAGMA user_version = 5;",
            )
            .unwrap();
        }
        let mut s = SqlitePushStore::open(&path, "abc").unwrap();
        let old = s.requests_after(1, None, 10).unwrap();
        assert_eq!(old[0].1.detail.attempt, 2);
        assert_eq!(old[0].1.capture, None);
        let captured = LoggedRequest {
            method: "GET".into(),
            path: "/new".into(),
            capture: Some(RequestCapture::default()),
            ..LoggedRequest::default()
        };
        s.log_requests(1, 1, std::slice::from_ref(&captured))
            .unwrap();
        assert_eq!(s.requests_after(1, Some(0), 10).unwrap()[0].1, captured);
    }

    #[test]
    fn a_version_1_file_is_upgraded_without_losing_a_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        {
            let c = rusqlite::Connection::open(&path).unwrap();
            c.execute_batch(
                "CREATE TABLE push_records (sync TEXT NOT NULL, key TEXT NOT NULL, hash TEXT, bc_id INTEGER,
                   status TEXT NOT NULL, fields TEXT, updated_at TEXT NOT NULL, PRIMARY KEY (sync, key));
                 CREATE TABLE push_runs (id INTEGER PRIMARY KEY AUTOINCREMENT, sync TEXT NOT NULL,
                   started_at TEXT NOT NULL, status TEXT NOT NULL, summary TEXT NOT NULL);
                 INSERT INTO push_records VALUES ('c', 'a@x.io', 'h1', 7, 'applied', NULL, 't');
                 INSERT INTO push_runs (sync, started_at, status, summary) VALUES ('c', 't', 'ok', '{\"sync\":\"c\"}');",
            )
            .unwrap();
        }
        // Listing runs (no store known) upgrades without claiming the records...
        let s = SqlitePushStore::open(&path, "").unwrap();
        assert_eq!(s.runs(5).unwrap().len(), 1);
        drop(s);
        // ...and the first push for a store adopts them.
        let s = SqlitePushStore::open(&path, "store1").unwrap();
        assert_eq!(s.load("c").unwrap()["a@x.io"].bc_id, Some(7));
        let other = SqlitePushStore::open(&path, "store2").unwrap();
        assert!(other.load("c").unwrap().is_empty());
    }

    #[test]
    fn a_sync_runs_once_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let mut a = SqlitePushStore::open(&path, "s1").unwrap();
        let mut b = SqlitePushStore::open(&path, "s1").unwrap();
        let mut c = SqlitePushStore::open(&path, "s2").unwrap();
        a.lock("customers").unwrap();
        let err = b.lock("customers").unwrap_err().to_string();
        assert!(err.contains("already running"), "{err}");
        b.lock("products").unwrap();
        c.lock("customers").unwrap();
        drop(a);
        b.lock("customers").unwrap();
    }

    /// Waiting for a lock held for an instant runs on the async clock: other tasks of a
    /// single-threaded runtime keep running meanwhile.
    #[tokio::test(flavor = "current_thread")]
    async fn waiting_for_the_run_lock_does_not_block_the_runtime() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let mut holder = SqlitePushStore::open(&path, "s1").unwrap();
        let mut waiter = SqlitePushStore::open(&path, "s1").unwrap();
        holder.lock("c").unwrap();
        let ticks = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let ticker = {
            let ticks = ticks.clone();
            tokio::spawn(async move {
                loop {
                    ticks.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            })
        };
        tokio::task::yield_now().await;
        let before = ticks.load(std::sync::atomic::Ordering::SeqCst);
        let err = take_run_lock(&mut waiter, "c").await.unwrap_err();
        let during = ticks.load(std::sync::atomic::Ordering::SeqCst) - before;
        ticker.abort();
        assert!(err.to_string().contains("already running"), "{err}");
        assert!(
            during >= 5,
            "the ticker ran {during} times while the run waited"
        );
        drop(holder);
        take_run_lock(&mut waiter, "c").await.unwrap();
    }

    #[test]
    fn lock_files_go_when_the_run_ends_and_a_stale_one_blocks_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let files = || -> Vec<String> {
            let mut v: Vec<String> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".lock"))
                .collect();
            v.sort();
            v
        };
        let mut a = SqlitePushStore::open(&path, "s1").unwrap();
        let reader = SqlitePushStore::open(&path, "").unwrap();
        assert!(!reader.lock_held("s1", "c").unwrap());
        a.lock("c").unwrap();
        assert_eq!(files().len(), 1);
        assert!(reader.lock_held("s1", "c").unwrap());
        assert!(!reader.lock_held("s1", "other").unwrap());
        drop(a);
        assert!(files().is_empty(), "{:?}", files());
        assert!(!reader.lock_held("s1", "c").unwrap());
        // A file left by a killed run (no process holds it) neither blocks nor stays.
        let mut b = SqlitePushStore::open(&path, "s1").unwrap();
        std::fs::write(b.lock_path("s1", "c"), "").unwrap();
        assert!(!reader.lock_held("s1", "c").unwrap());
        b.lock("c").unwrap();
        drop(b);
        assert!(files().is_empty(), "{:?}", files());
    }

    #[test]
    fn a_started_run_is_running_then_interrupted_once_its_lock_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let mut a = SqlitePushStore::open(&path, "s1").unwrap();
        a.lock("c").unwrap();
        let started = RunRecord {
            sync: "c".into(),
            status: "running".into(),
            ..RunRecord::default()
        };
        let id = a.start_run(&started).unwrap();
        let reader = SqlitePushStore::open(&path, "").unwrap();
        assert_eq!(reader.runs(5).unwrap()[0].status, "running");
        drop(a); // the process died: its lock is gone, its record still says running
        let listed = reader.run(id).unwrap().unwrap();
        assert_eq!(listed.status, INTERRUPTED);
        assert!(listed.message.unwrap().contains("rerun"));
        // The next run marks it for good, and finishes its own record in place.
        let mut b = SqlitePushStore::open(&path, "s1").unwrap();
        b.lock("c").unwrap();
        let next = b.start_run(&started).unwrap();
        b.finish_run(&RunRecord {
            id: next,
            status: "ok".into(),
            ..started.clone()
        })
        .unwrap();
        let runs = b.runs(5).unwrap();
        let statuses: Vec<&str> = runs.iter().map(|r| r.status.as_str()).collect();
        assert_eq!(statuses, ["ok", INTERRUPTED]);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod incident_tests {
    use super::*;

    #[test]
    fn an_incident_is_kept_per_store_and_key_until_closed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let mut a = SqlitePushStore::open(&path, "s1").unwrap();
        let mut b = SqlitePushStore::open(&path, "s2").unwrap();
        let incident = Incident {
            alert: "ops".into(),
            condition: "run_failed".into(),
            sync: "crm".into(),
            opened_at: now(),
            run_id: 3,
            summary: "run 3 failed".into(),
            ..Incident::default()
        };
        let key = incident.key();
        assert!(a.incident(&key).unwrap().is_none());
        a.save_incident(&incident).unwrap();
        a.save_incident(&Incident {
            run_id: 4,
            notified: true,
            opened_at: "later".into(),
            ..incident.clone()
        })
        .unwrap();
        let open = a.incident(&key).unwrap().unwrap();
        // Updating keeps when it opened; the store is the one of the scope.
        assert_eq!(
            (
                open.run_id,
                open.notified,
                open.opened_at.as_str(),
                open.store.as_str()
            ),
            (4, true, incident.opened_at.as_str(), "s1")
        );
        assert!(b.incident(&key).unwrap().is_none());
        b.save_incident(&incident).unwrap();
        assert_eq!(a.open_incidents().unwrap().len(), 2);
        a.close_incident(&key).unwrap();
        assert!(a.incident(&key).unwrap().is_none());
        assert_eq!(b.open_incidents().unwrap()[0].store, "s2");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod page_tests {
    use super::*;
    use proptest::prelude::*;

    fn seeded(dir: &Path, runs: &[(&str, &str)]) -> SqlitePushStore {
        let mut s = SqlitePushStore::open(&dir.join("p.db"), "store1").unwrap();
        for (sync, status) in runs {
            s.save_run(&RunRecord {
                sync: (*sync).into(),
                status: (*status).into(),
                started_at: now(),
                ..Default::default()
            })
            .unwrap();
        }
        s
    }

    #[test]
    fn pages_filter_by_sync_and_status_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let s = seeded(
            dir.path(),
            &[
                ("customers", "ok"),
                ("products", "failed"),
                ("customers", "failed"),
                ("brevo", "ok"),
                ("customers", "ok"),
            ],
        );
        let all = s.runs_page(&RunFilter::default(), 0, 2).unwrap();
        assert_eq!(all.total, 5);
        assert_eq!(
            all.runs.iter().map(|r| r.id).collect::<Vec<_>>(),
            vec![5, 4]
        );
        let customers = RunFilter {
            sync: Some("customers".into()),
            status: None,
        };
        let page = s.runs_page(&customers, 1, 10).unwrap();
        assert_eq!(page.total, 3);
        assert_eq!(
            page.runs.iter().map(|r| r.id).collect::<Vec<_>>(),
            vec![3, 1]
        );
        let failed_customers = RunFilter {
            status: Some("failed".into()),
            ..customers
        };
        let page = s.runs_page(&failed_customers, 0, 10).unwrap();
        assert_eq!((page.total, page.runs[0].id), (1, 3));
        let latest = s.latest_runs().unwrap();
        assert_eq!(
            latest
                .iter()
                .map(|r| (r.sync.as_str(), r.id))
                .collect::<Vec<_>>(),
            vec![("brevo", 4), ("customers", 5), ("products", 2)]
        );
    }

    #[test]
    fn a_dead_running_run_is_listed_under_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let s = seeded(dir.path(), &[("customers", "running"), ("customers", "ok")]);
        let interrupted = RunFilter {
            status: Some(INTERRUPTED.into()),
            ..Default::default()
        };
        let page = s.runs_page(&interrupted, 0, 10).unwrap();
        assert_eq!(page.runs.len(), 1);
        assert_eq!(page.runs[0].status, INTERRUPTED);
        let running = RunFilter {
            status: Some("running".into()),
            ..Default::default()
        };
        assert!(s.runs_page(&running, 0, 10).unwrap().runs.is_empty());
    }

    #[test]
    fn a_version_2_file_gains_the_listing_indexes() {
        let dir = tempfile::tempdir().unwrap();
        drop(seeded(dir.path(), &[("customers", "ok")]));
        let path = dir.path().join("p.db");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("DROP INDEX push_runs_sync_idx; PRAGMA user_version = 2;")
            .unwrap();
        drop(conn);
        let s = SqlitePushStore::open(&path, "").unwrap();
        let plan: String = s
            .conn
            .query_row(
                "EXPLAIN QUERY PLAN SELECT id FROM push_runs WHERE sync = 'x' ORDER BY id DESC",
                [],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("push_runs_sync_idx"), "{plan}");
        assert_eq!(s.runs_page(&RunFilter::default(), 0, 5).unwrap().total, 1);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        /// Walking the pages of any filter visits each matching run once, newest first.
        #[test]
        fn pages_cover_every_match_once(
            runs in proptest::collection::vec((0..3usize, 0..3usize), 0..40),
            size in 1..7usize,
            sync in proptest::option::of(0..3usize),
            status in proptest::option::of(0..3usize),
        ) {
            let syncs = ["customers", "products", "brevo"];
            let statuses = ["ok", "failed", "rejected_over_threshold"];
            let dir = tempfile::tempdir().unwrap();
            let seeded_runs: Vec<(&str, &str)> =
                runs.iter().map(|(a, b)| (syncs[*a], statuses[*b])).collect();
            let s = seeded(dir.path(), &seeded_runs);
            let filter = RunFilter {
                sync: sync.map(|i| syncs[i].to_owned()),
                status: status.map(|i| statuses[i].to_owned()),
            };
            let expected: Vec<i64> = seeded_runs
                .iter()
                .enumerate()
                .rev()
                .filter(|(_, (a, b))| {
                    filter.sync.as_deref().is_none_or(|f| f == *a)
                        && filter.status.as_deref().is_none_or(|f| f == *b)
                })
                .map(|(i, _)| i as i64 + 1)
                .collect();
            let mut seen = Vec::new();
            let mut offset = 0;
            loop {
                let page = s.runs_page(&filter, offset, size).unwrap();
                prop_assert_eq!(page.total as usize, expected.len());
                if page.runs.is_empty() {
                    break;
                }
                offset += page.runs.len();
                seen.extend(page.runs.iter().map(|r| r.id));
            }
            prop_assert_eq!(seen, expected);
        }
    }
}
