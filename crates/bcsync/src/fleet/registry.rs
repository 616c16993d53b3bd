//! The stores registry, the job schedule, the store leases and the workers, as tables of
//! the PostgreSQL state store (schema `bcsync` unless the URL names another).
//!
//! - `fleet_stores`: one row per store: where its API is, a *reference* to its token (an
//!   environment variable or a file, never the token), its destination schema, its plan and
//!   quota, whether it is paused, and its lease (`lease_owner`, `lease_until`, `lease_epoch`).
//! - `fleet_jobs`: one row per (store, kind) with its period and `next_due`; `events` has no
//!   period and is made due by the webhook consumers.
//! - `fleet_job_runs`: every job a worker started, with its worker, lease epoch and outcome.
//! - `fleet_workers`: live workers and their heartbeats.
//!
//! Claims take the store whose oldest due job has waited longest (`FOR UPDATE SKIP
//! LOCKED`, so workers never wait on each other's rows). Every write a worker makes under a
//! lease is fenced: it names the lease's epoch and locks the store row `FOR SHARE`, so a
//! worker that lost its lease changes nothing, and a takeover waits for a fenced write in
//! progress. Times are the server's `clock_timestamp()`, one clock for every machine.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio_postgres::Client;

use crate::error::{Error, Result};
use crate::pg::{PgTarget, quote_ident};
use crate::state::push_pg::DEFAULT_STATE_SCHEMA;

/// What a worker runs for a store, in the order one lease runs them: webhook events
/// first (the freshest data), then the periodic extraction, then the pushes and the
/// Brevo sync, which read what the first two wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    Events,
    Extract,
    Push,
    Brevo,
}

impl JobKind {
    pub const ALL: [JobKind; 4] = [
        JobKind::Events,
        JobKind::Extract,
        JobKind::Push,
        JobKind::Brevo,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Events => "events",
            JobKind::Extract => "extract",
            JobKind::Push => "push",
            JobKind::Brevo => "brevo",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Rank in a lease's pass (see the enum's doc).
    fn rank(self) -> i32 {
        match self {
            JobKind::Events => 0,
            JobKind::Extract => 1,
            JobKind::Push => 2,
            JobKind::Brevo => 3,
        }
    }
}

impl std::fmt::Display for JobKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A store as `bcsync stores add` registers it.
#[derive(Debug, Clone, Default)]
pub struct NewStore {
    pub store_hash: String,
    /// `None`: api.bigcommerce.com.
    pub base_url: Option<String>,
    /// `env:NAME` or `file:PATH`: where a worker reads the store's token.
    pub credentials: String,
    /// A bcsync.toml with the store's `[[sync]]`, `[brevo]` and `[extract]` settings.
    pub config_file: Option<String>,
    /// Destination schema in the fleet's database (default `bc_<hash>`).
    pub dest_schema: String,
    pub plan: Option<String>,
    /// Requests per 30 s window, when known (shown by `status --fleet`).
    pub quota: Option<i32>,
    /// Period of each scheduled job; `None` leaves the kind unscheduled.
    pub extract_every: Option<Duration>,
    pub push_every: Option<Duration>,
    pub brevo_every: Option<Duration>,
    /// Webhook events through the fleet's JetStream stream (an `events` job).
    pub events: bool,
}

/// A registered store with its lease.
#[derive(Debug, Clone, Serialize)]
pub struct StoreRow {
    pub store_hash: String,
    pub base_url: Option<String>,
    pub credentials: String,
    pub config_file: Option<String>,
    pub dest_schema: String,
    pub plan: Option<String>,
    pub quota: Option<i32>,
    pub paused: bool,
    pub lease_owner: Option<String>,
    /// Seconds the lease still runs (negative: lapsed), when one was ever taken.
    pub lease_left_s: Option<f64>,
    pub lease_epoch: i64,
    pub jobs: Vec<JobRow>,
}

impl StoreRow {
    /// Seconds since the store's data was last brought up to date: its extraction or its
    /// events, whichever succeeded last. The figure an operator watches per store.
    pub fn lag_s(&self) -> Option<f64> {
        self.jobs
            .iter()
            .filter(|j| matches!(j.kind, JobKind::Extract | JobKind::Events))
            .filter_map(|j| j.since_success_s)
            .reduce(f64::min)
    }

    /// The worker holding the store's lease now (`None`: unleased or lapsed).
    pub fn lease_holder(&self) -> Option<&str> {
        match (&self.lease_owner, self.lease_left_s) {
            (Some(w), Some(left)) if left > 0.0 => Some(w),
            _ => None,
        }
    }
}

/// One (store, kind) schedule row.
#[derive(Debug, Clone, Serialize)]
pub struct JobRow {
    pub kind: JobKind,
    pub every_s: Option<i32>,
    /// Seconds until due (negative: overdue by that much); `None`: not due.
    pub due_in_s: Option<f64>,
    pub running_worker: Option<String>,
    pub last_status: Option<String>,
    pub last_error: Option<String>,
    /// Seconds since the last successful run.
    pub since_success_s: Option<f64>,
    pub runs: i64,
}

/// A lease a worker holds: the store and the epoch that fences its writes.
#[derive(Debug, Clone)]
pub struct Claim {
    pub store: StoreRow,
    pub epoch: i64,
    /// The worker that held the lease before and let it lapse (a takeover), if any.
    pub taken_from: Option<String>,
}

/// How a job ended, as the worker records it.
#[derive(Debug, Clone)]
pub struct JobOutcome {
    /// `ok`, `failed` or `interrupted`.
    pub status: &'static str,
    pub exit_code: Option<i32>,
    pub error: Option<String>,
    /// Schedule the next run (`false` leaves the job due, for the next holder).
    pub reschedule: bool,
}

/// A worker's heartbeat row.
#[derive(Debug, Clone, Serialize)]
pub struct WorkerRow {
    pub id: String,
    pub host: String,
    pub pid: i32,
    pub draining: bool,
    pub leases: i32,
    pub seconds_since_heartbeat: f64,
    pub alive: bool,
}

/// What `bcsync status --fleet` shows.
#[derive(Debug, Clone, Serialize)]
pub struct FleetStatus {
    pub stores: Vec<StoreRow>,
    pub workers: Vec<WorkerRow>,
    /// Jobs due now that no worker runs.
    pub queue_depth: i64,
    /// Jobs running now.
    pub running: i64,
    /// Stores whose lease is held now.
    pub leases: i64,
    /// Seconds the longest-waiting due job has waited.
    pub oldest_due_s: Option<f64>,
}

/// A worker whose heartbeat is older than this is shown as gone.
pub const WORKER_ALIVE_WITHIN: Duration = Duration::from_secs(30);

/// Retried sooner than its period: a failed job's next attempt.
const RETRY_FAILED_AFTER: Duration = Duration::from_secs(60);

/// The registry: one connection to the fleet's PostgreSQL state store.
pub struct Registry {
    /// Reconnected when the server dropped it (see [`Registry::pg`]).
    client: tokio::sync::Mutex<Arc<Client>>,
    target: PgTarget,
    /// `"schema".`
    p: String,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("target", &self.target)
            .finish()
    }
}

fn schema_sql(p: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {p}fleet_stores (
            store_hash text PRIMARY KEY, base_url text, credentials text NOT NULL,
            config_file text, dest_schema text NOT NULL, plan text, quota integer,
            paused boolean NOT NULL DEFAULT false,
            lease_owner text, lease_until timestamptz, lease_epoch bigint NOT NULL DEFAULT 0,
            added_at timestamptz NOT NULL DEFAULT now());
         CREATE TABLE IF NOT EXISTS {p}fleet_jobs (
            store_hash text NOT NULL REFERENCES {p}fleet_stores (store_hash) ON DELETE CASCADE,
            kind text NOT NULL, every_seconds integer, next_due timestamptz,
            running_worker text, running_epoch bigint, running_since timestamptz,
            last_started timestamptz, last_finished timestamptz, last_status text,
            last_error text, last_success timestamptz, runs bigint NOT NULL DEFAULT 0,
            PRIMARY KEY (store_hash, kind));
         CREATE INDEX IF NOT EXISTS fleet_jobs_due_idx ON {p}fleet_jobs (next_due);
         CREATE TABLE IF NOT EXISTS {p}fleet_job_runs (
            id bigserial PRIMARY KEY, store_hash text NOT NULL, kind text NOT NULL,
            worker text NOT NULL, epoch bigint NOT NULL, started_at timestamptz NOT NULL,
            finished_at timestamptz, status text NOT NULL, exit_code integer, error text);
         CREATE INDEX IF NOT EXISTS fleet_job_runs_store_idx ON {p}fleet_job_runs (store_hash, id);
         CREATE TABLE IF NOT EXISTS {p}fleet_workers (
            id text PRIMARY KEY, host text NOT NULL, pid integer NOT NULL,
            started_at timestamptz NOT NULL DEFAULT now(), heartbeat_at timestamptz NOT NULL,
            draining boolean NOT NULL DEFAULT false, leases integer NOT NULL DEFAULT 0);"
    )
}

/// Advisory-lock key for creating the tables (two first workers racing on `CREATE TABLE
/// IF NOT EXISTS` can otherwise fail on the catalog's unique index).
const DDL_LOCK: i64 = 0x0062_6366_6c65_6574; // "bcfleet"

/// The fenced-write preamble: the store row, locked `FOR SHARE`, only while `$2`
/// holds lease `$3` and it has not lapsed.
fn fence(p: &str) -> String {
    format!(
        "SELECT store_hash FROM {p}fleet_stores WHERE store_hash = $1 AND lease_owner = $2 \
         AND lease_epoch = $3 AND lease_until > clock_timestamp() FOR SHARE"
    )
}

impl Registry {
    /// Connects to the state store and creates the fleet tables when missing.
    pub async fn open(url: &str) -> Result<Self> {
        let target = PgTarget::parse(url, Some(DEFAULT_STATE_SCHEMA.to_owned()))?;
        let mut client = target.connect("opening the fleet registry").await?;
        let p = format!("{}.", quote_ident(&target.schema));
        let tx = client
            .transaction()
            .await
            .map_err(|e| target.explain(&e, "opening the fleet registry"))?;
        let ddl = format!(
            "SELECT pg_advisory_xact_lock({DDL_LOCK}); CREATE SCHEMA IF NOT EXISTS {}; {}",
            quote_ident(&target.schema),
            schema_sql(&p)
        );
        tx.batch_execute(&ddl)
            .await
            .map_err(|e| target.explain(&e, "creating the fleet tables"))?;
        tx.commit()
            .await
            .map_err(|e| target.explain(&e, "creating the fleet tables"))?;
        Ok(Self {
            client: tokio::sync::Mutex::new(Arc::new(client)),
            target,
            p,
        })
    }

    /// The registry's connection, reconnected first when the server dropped it (a
    /// restart, a failover): without this a worker would claim and renew nothing until
    /// restarted, and its leases would lapse.
    async fn pg(&self) -> Result<Arc<Client>> {
        let mut current = self.client.lock().await;
        if current.is_closed() {
            tracing::warn!(
                "the fleet registry lost its PostgreSQL connection ({}); reconnecting",
                self.target.shown
            );
            *current = Arc::new(
                self.target
                    .connect("reconnecting to the fleet registry")
                    .await?,
            );
        }
        Ok(Arc::clone(&current))
    }

    /// Connects to an existing registry without creating anything (for readers such as
    /// the dashboard); `None` when the state store holds no fleet.
    pub async fn open_existing(url: &str) -> Result<Option<Self>> {
        let target = PgTarget::parse(url, Some(DEFAULT_STATE_SCHEMA.to_owned()))?;
        let client = target.connect("reading the fleet registry").await?;
        let p = format!("{}.", quote_ident(&target.schema));
        let exists: bool = client
            .query_one(
                "SELECT to_regclass($1) IS NOT NULL",
                &[&format!("{p}fleet_stores")],
            )
            .await
            .map_err(|e| target.explain(&e, "reading the fleet registry"))?
            .get(0);
        Ok(exists.then(|| Self {
            client: tokio::sync::Mutex::new(Arc::new(client)),
            target,
            p,
        }))
    }

    /// The state store's URL as shown (no password).
    pub fn shown(&self) -> &str {
        &self.target.shown
    }

    fn db(&self, doing: &str) -> impl Fn(tokio_postgres::Error) -> Error + '_ {
        let doing = doing.to_owned();
        move |e| self.target.explain(&e, &doing)
    }

    /// Registers a store, or updates it: its settings and schedule change, its lease and
    /// history stay.
    pub async fn add_store(&self, s: &NewStore) -> Result<()> {
        let p = &self.p;
        self.pg().await?
            .execute(
                &format!(
                    "INSERT INTO {p}fleet_stores (store_hash, base_url, credentials, config_file, \
                     dest_schema, plan, quota) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (store_hash) DO UPDATE SET base_url = EXCLUDED.base_url, \
                     credentials = EXCLUDED.credentials, config_file = EXCLUDED.config_file, \
                     dest_schema = EXCLUDED.dest_schema, plan = EXCLUDED.plan, quota = EXCLUDED.quota"
                ),
                &[
                    &s.store_hash,
                    &s.base_url,
                    &s.credentials,
                    &s.config_file,
                    &s.dest_schema,
                    &s.plan,
                    &s.quota,
                ],
            )
            .await
            .map_err(self.db("registering the store"))?;
        let schedule = [
            (JobKind::Extract, s.extract_every),
            (JobKind::Push, s.push_every),
            (JobKind::Brevo, s.brevo_every),
        ];
        for (kind, every) in schedule {
            match every {
                Some(every) => {
                    let secs = i32::try_from(every.as_secs().max(1)).unwrap_or(i32::MAX);
                    // A new job is due at once; a changed period keeps the next due time.
                    self.pg().await?
                        .execute(
                            &format!(
                                "INSERT INTO {p}fleet_jobs (store_hash, kind, every_seconds, next_due) \
                                 VALUES ($1, $2, $3, clock_timestamp()) ON CONFLICT (store_hash, kind) \
                                 DO UPDATE SET every_seconds = EXCLUDED.every_seconds"
                            ),
                            &[&s.store_hash, &kind.as_str(), &secs],
                        )
                        .await
                        .map_err(self.db("scheduling the store's jobs"))?;
                }
                None => {
                    self.pg()
                        .await?
                        .execute(
                            &format!(
                                "DELETE FROM {p}fleet_jobs WHERE store_hash = $1 AND kind = $2"
                            ),
                            &[&s.store_hash, &kind.as_str()],
                        )
                        .await
                        .map_err(self.db("scheduling the store's jobs"))?;
                }
            }
        }
        if s.events {
            self.pg()
                .await?
                .execute(
                    &format!(
                        "INSERT INTO {p}fleet_jobs (store_hash, kind) VALUES ($1, 'events') \
                         ON CONFLICT (store_hash, kind) DO NOTHING"
                    ),
                    &[&s.store_hash],
                )
                .await
                .map_err(self.db("scheduling the store's jobs"))?;
        } else {
            self.pg()
                .await?
                .execute(
                    &format!("DELETE FROM {p}fleet_jobs WHERE store_hash = $1 AND kind = 'events'"),
                    &[&s.store_hash],
                )
                .await
                .map_err(self.db("scheduling the store's jobs"))?;
        }
        Ok(())
    }

    /// Removes a store and its schedule (its run history and its data stay). `false`: no
    /// such store.
    pub async fn remove_store(&self, store_hash: &str) -> Result<bool> {
        let n = self
            .pg()
            .await?
            .execute(
                &format!("DELETE FROM {}fleet_stores WHERE store_hash = $1", self.p),
                &[&store_hash],
            )
            .await
            .map_err(self.db("removing the store"))?;
        Ok(n == 1)
    }

    /// Pauses or resumes a store. A paused store is never claimed and starts no job; a job
    /// running when it is paused finishes. `false`: no such store.
    pub async fn set_paused(&self, store_hash: &str, paused: bool) -> Result<bool> {
        let n = self
            .pg()
            .await?
            .execute(
                &format!(
                    "UPDATE {}fleet_stores SET paused = $2 WHERE store_hash = $1",
                    self.p
                ),
                &[&store_hash, &paused],
            )
            .await
            .map_err(self.db("pausing the store"))?;
        Ok(n == 1)
    }

    /// Every registered store's hash and destination schema, paused ones included: the
    /// receivers accept their deliveries and the consumers store them, so a paused store
    /// resumes with its events.
    pub async fn store_schemas(&self) -> Result<Vec<(String, String)>> {
        let rows = self
            .pg()
            .await?
            .query(
                &format!(
                    "SELECT store_hash, dest_schema FROM {}fleet_stores ORDER BY store_hash",
                    self.p
                ),
                &[],
            )
            .await
            .map_err(self.db("reading the stores"))?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Every store with its jobs, by hash.
    pub async fn stores(&self) -> Result<Vec<StoreRow>> {
        let p = &self.p;
        let rows = self
            .pg()
            .await?
            .query(
                &format!(
                    "SELECT {} FROM {p}fleet_stores s ORDER BY store_hash",
                    STORE_COLUMNS
                ),
                &[],
            )
            .await
            .map_err(self.db("reading the stores"))?;
        let mut stores: Vec<StoreRow> = rows.iter().map(store_row).collect();
        let jobs = self
            .pg()
            .await?
            .query(
                &format!(
                    "SELECT store_hash, kind, every_seconds, \
                     extract(epoch FROM next_due - clock_timestamp())::float8, running_worker, \
                     last_status, last_error, \
                     extract(epoch FROM clock_timestamp() - last_success)::float8, runs \
                     FROM {p}fleet_jobs ORDER BY store_hash"
                ),
                &[],
            )
            .await
            .map_err(self.db("reading the jobs"))?;
        for r in &jobs {
            let hash: String = r.get(0);
            let Some(kind) = JobKind::parse(r.get::<_, &str>(1)) else {
                continue;
            };
            if let Some(store) = stores.iter_mut().find(|s| s.store_hash == hash) {
                store.jobs.push(JobRow {
                    kind,
                    every_s: r.get(2),
                    due_in_s: r.get(3),
                    running_worker: r.get(4),
                    last_status: r.get(5),
                    last_error: r.get(6),
                    since_success_s: r.get(7),
                    runs: r.get(8),
                });
            }
        }
        for s in &mut stores {
            s.jobs.sort_by_key(|j| j.kind.rank());
        }
        Ok(stores)
    }

    /// Takes the lease of the unpaused, unleased store whose oldest due job has waited
    /// longest (ties by hash), for `lease`. `None`: nothing is due.
    pub async fn claim(&self, worker: &str, lease: Duration) -> Result<Option<Claim>> {
        let p = &self.p;
        let ms = lease_ms(lease);
        let row = self
            .pg()
            .await?
            .query_opt(
                &format!(
                    "WITH c AS (
                        SELECT s.store_hash, s.lease_owner AS previous FROM {p}fleet_stores s
                        JOIN (SELECT store_hash, min(next_due) AS due FROM {p}fleet_jobs
                              WHERE next_due <= clock_timestamp() GROUP BY store_hash) d
                          ON d.store_hash = s.store_hash
                        WHERE NOT s.paused
                          AND (s.lease_until IS NULL OR s.lease_until < clock_timestamp())
                        ORDER BY d.due, s.store_hash
                        LIMIT 1 FOR UPDATE OF s SKIP LOCKED)
                     UPDATE {p}fleet_stores s SET lease_owner = $1,
                        lease_until = clock_timestamp() + $2 * interval '1 millisecond',
                        lease_epoch = s.lease_epoch + 1
                     FROM c WHERE s.store_hash = c.store_hash
                     RETURNING {STORE_COLUMNS}, c.previous"
                ),
                &[&worker, &ms],
            )
            .await
            .map_err(self.db("claiming a store"))?;
        Ok(row.map(|r| {
            let store = store_row(&r);
            let previous: Option<String> = r.get(11);
            Claim {
                epoch: store.lease_epoch,
                taken_from: previous.filter(|w| w != worker),
                store,
            }
        }))
    }

    /// Extends a held lease. `false`: the lease is no longer this worker's (lapsed, taken
    /// over, or the store removed): stop its job now.
    pub async fn renew(
        &self,
        store_hash: &str,
        worker: &str,
        epoch: i64,
        lease: Duration,
    ) -> Result<bool> {
        let n = self
            .pg().await?
            .execute(
                &format!(
                    "UPDATE {}fleet_stores SET lease_until = clock_timestamp() + $4 * interval '1 millisecond' \
                     WHERE store_hash = $1 AND lease_owner = $2 AND lease_epoch = $3 \
                     AND lease_until > clock_timestamp()",
                    self.p
                ),
                &[&store_hash, &worker, &epoch, &lease_ms(lease)],
            )
            .await
            .map_err(self.db("renewing a store lease"))?;
        Ok(n == 1)
    }

    /// Gives a lease back (the store can be claimed at once).
    pub async fn release(&self, store_hash: &str, worker: &str, epoch: i64) -> Result<()> {
        self.pg()
            .await?
            .execute(
                &format!(
                    "UPDATE {}fleet_stores SET lease_owner = NULL, lease_until = NULL \
                     WHERE store_hash = $1 AND lease_owner = $2 AND lease_epoch = $3",
                    self.p
                ),
                &[&store_hash, &worker, &epoch],
            )
            .await
            .map_err(self.db("releasing a store lease"))?;
        Ok(())
    }

    /// The store's jobs due now, in pass order.
    pub async fn due_jobs(&self, store_hash: &str) -> Result<Vec<JobKind>> {
        let rows = self
            .pg()
            .await?
            .query(
                &format!(
                    "SELECT kind FROM {}fleet_jobs WHERE store_hash = $1 \
                     AND next_due <= clock_timestamp()",
                    self.p
                ),
                &[&store_hash],
            )
            .await
            .map_err(self.db("reading the due jobs"))?;
        let mut kinds: Vec<JobKind> = rows
            .iter()
            .filter_map(|r| JobKind::parse(r.get::<_, &str>(0)))
            .collect();
        kinds.sort_by_key(|k| k.rank());
        Ok(kinds)
    }

    /// Records a job's start under the lease. `None`: the lease is lost or the store was
    /// paused: do not run it.
    pub async fn start_job(
        &self,
        store_hash: &str,
        kind: JobKind,
        worker: &str,
        epoch: i64,
    ) -> Result<Option<i64>> {
        let p = &self.p;
        let fence = fence(p);
        let row = self
            .pg().await?
            .query_opt(
                &format!(
                    "WITH fenced AS ({fence}),
                     job AS (UPDATE {p}fleet_jobs j SET running_worker = $2, running_epoch = $3,
                        running_since = clock_timestamp(), last_started = clock_timestamp()
                        FROM fenced, {p}fleet_stores s
                        WHERE j.store_hash = fenced.store_hash AND j.kind = $4
                          AND s.store_hash = fenced.store_hash AND NOT s.paused
                        RETURNING j.store_hash)
                     INSERT INTO {p}fleet_job_runs (store_hash, kind, worker, epoch, started_at, status)
                     SELECT store_hash, $4, $2, $3, clock_timestamp(), 'running' FROM job
                     RETURNING id"
                ),
                &[&store_hash, &worker, &epoch, &kind.as_str()],
            )
            .await
            .map_err(self.db("recording a job's start"))?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Records a job's end under the lease, and its next due time. `false`: the lease was
    /// lost meanwhile, nothing was recorded (the next holder runs the job again, from the
    /// engine's checkpoint).
    pub async fn finish_job(
        &self,
        run_id: i64,
        store_hash: &str,
        kind: JobKind,
        worker: &str,
        epoch: i64,
        outcome: &JobOutcome,
    ) -> Result<bool> {
        let p = &self.p;
        let fence = fence(p);
        let retry_s = i32::try_from(RETRY_FAILED_AFTER.as_secs()).unwrap_or(60);
        let ok = outcome.status == "ok";
        // A job made due again while it ran (an event stored after its start) stays due.
        let n = self
            .pg()
            .await?
            .execute(
                &format!(
                    "WITH fenced AS ({fence}),
                     run AS (UPDATE {p}fleet_job_runs SET finished_at = clock_timestamp(),
                        status = $5, exit_code = $6, error = $7
                        WHERE id = $8 AND EXISTS (SELECT 1 FROM fenced)
                        RETURNING started_at)
                     UPDATE {p}fleet_jobs j SET running_worker = NULL, running_epoch = NULL,
                        running_since = NULL, last_finished = clock_timestamp(), last_status = $5,
                        last_error = $7, runs = j.runs + 1,
                        last_success = CASE WHEN $9 THEN clock_timestamp() ELSE j.last_success END,
                        next_due = CASE
                          WHEN NOT $10 THEN j.next_due
                          WHEN j.next_due > run.started_at THEN j.next_due
                          WHEN j.every_seconds IS NULL THEN NULL
                          WHEN $9 THEN clock_timestamp() + j.every_seconds * interval '1 second'
                          ELSE clock_timestamp() + least(j.every_seconds, $11) * interval '1 second'
                        END
                     FROM run WHERE j.store_hash = $1 AND j.kind = $4"
                ),
                &[
                    &store_hash,
                    &worker,
                    &epoch,
                    &kind.as_str(),
                    &outcome.status,
                    &outcome.exit_code,
                    &outcome.error,
                    &run_id,
                    &ok,
                    &outcome.reschedule,
                    &retry_s,
                ],
            )
            .await
            .map_err(self.db("recording a job's end"))?;
        Ok(n == 1)
    }

    /// Makes stores' `events` jobs due now (their inbox received deliveries). A running
    /// job's due time moves past its start, so its end keeps it due: the events stored
    /// meanwhile may have come after its read of the inbox.
    pub async fn mark_events_due(&self, store_hashes: &[String]) -> Result<()> {
        if store_hashes.is_empty() {
            return Ok(());
        }
        self.pg()
            .await?
            .execute(
                &format!(
                    "UPDATE {}fleet_jobs SET next_due = clock_timestamp() \
                     WHERE kind = 'events' AND store_hash = ANY($1) \
                     AND (next_due IS NULL OR next_due > clock_timestamp() \
                          OR running_worker IS NOT NULL)",
                    self.p
                ),
                &[&store_hashes],
            )
            .await
            .map_err(self.db("marking events due"))?;
        Ok(())
    }

    /// The server's `max_connections` and how many are in use (all databases, all
    /// users), for a worker to say whether its own connections fit.
    pub async fn connection_room(&self) -> Result<(i64, i64)> {
        let row = self
            .pg()
            .await?
            .query_one(
                "SELECT current_setting('max_connections')::int8 \
                 - current_setting('superuser_reserved_connections')::int8 \
                 - coalesce(current_setting('reserved_connections', true)::int8, 0), \
                 (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')",
                &[],
            )
            .await
            .map_err(self.db("reading max_connections"))?;
        Ok((row.get(0), row.get(1)))
    }

    /// Announces or refreshes a worker.
    pub async fn heartbeat(
        &self,
        worker: &str,
        host: &str,
        pid: u32,
        draining: bool,
        leases: usize,
    ) -> Result<()> {
        let pid = i32::try_from(pid).unwrap_or(i32::MAX);
        let leases = i32::try_from(leases).unwrap_or(i32::MAX);
        self.pg()
            .await?
            .execute(
                &format!(
                    "INSERT INTO {}fleet_workers (id, host, pid, heartbeat_at, draining, leases) \
                     VALUES ($1, $2, $3, clock_timestamp(), $4, $5) ON CONFLICT (id) DO UPDATE SET \
                     heartbeat_at = clock_timestamp(), draining = $4, leases = $5",
                    self.p
                ),
                &[&worker, &host, &pid, &draining, &leases],
            )
            .await
            .map_err(self.db("recording the worker's heartbeat"))?;
        Ok(())
    }

    /// Removes a worker that stopped cleanly.
    pub async fn worker_stopped(&self, worker: &str) -> Result<()> {
        self.pg()
            .await?
            .execute(
                &format!("DELETE FROM {}fleet_workers WHERE id = $1", self.p),
                &[&worker],
            )
            .await
            .map_err(self.db("removing the worker"))?;
        Ok(())
    }

    /// The fleet at a glance.
    pub async fn status(&self) -> Result<FleetStatus> {
        let p = &self.p;
        let stores = self.stores().await?;
        let workers = self
            .pg()
            .await?
            .query(
                &format!(
                    "SELECT id, host, pid, draining, leases, \
                     extract(epoch FROM clock_timestamp() - heartbeat_at)::float8 \
                     FROM {p}fleet_workers ORDER BY id"
                ),
                &[],
            )
            .await
            .map_err(self.db("reading the workers"))?;
        let workers = workers
            .iter()
            .map(|r| {
                let since: f64 = r.get(5);
                WorkerRow {
                    id: r.get(0),
                    host: r.get(1),
                    pid: r.get(2),
                    draining: r.get(3),
                    leases: r.get(4),
                    seconds_since_heartbeat: since,
                    alive: since < WORKER_ALIVE_WITHIN.as_secs_f64(),
                }
            })
            .collect();
        let counts = self
            .pg().await?
            .query_one(
                &format!(
                    "SELECT
                       count(*) FILTER (WHERE j.next_due <= clock_timestamp() AND j.running_worker IS NULL AND NOT s.paused),
                       count(*) FILTER (WHERE j.running_worker IS NOT NULL),
                       (SELECT count(*) FROM {p}fleet_stores WHERE lease_until > clock_timestamp()),
                       max(extract(epoch FROM clock_timestamp() - j.next_due)::float8)
                         FILTER (WHERE j.next_due <= clock_timestamp() AND NOT s.paused)
                     FROM {p}fleet_jobs j JOIN {p}fleet_stores s USING (store_hash)"
                ),
                &[],
            )
            .await
            .map_err(self.db("reading the queue"))?;
        Ok(FleetStatus {
            stores,
            workers,
            queue_depth: counts.get(0),
            running: counts.get(1),
            leases: counts.get(2),
            oldest_due_s: counts.get(3),
        })
    }
}

fn lease_ms(lease: Duration) -> f64 {
    lease.as_secs_f64() * 1000.0
}

/// The columns [`store_row`] reads, in its order, from `fleet_stores` aliased `s`.
const STORE_COLUMNS: &str = "s.store_hash, s.base_url, s.credentials, s.config_file, \
     s.dest_schema, s.plan, s.quota, s.paused, s.lease_owner, \
     extract(epoch FROM s.lease_until - clock_timestamp())::float8, s.lease_epoch";

fn store_row(r: &tokio_postgres::Row) -> StoreRow {
    StoreRow {
        store_hash: r.get(0),
        base_url: r.get(1),
        credentials: r.get(2),
        config_file: r.get(3),
        dest_schema: r.get(4),
        plan: r.get(5),
        quota: r.get(6),
        paused: r.get(7),
        lease_owner: r.get(8),
        lease_left_s: r.get(9),
        lease_epoch: r.get(10),
        jobs: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_kinds_round_trip_and_run_events_first() {
        for k in JobKind::ALL {
            assert_eq!(JobKind::parse(k.as_str()), Some(k));
        }
        let mut kinds = vec![
            JobKind::Brevo,
            JobKind::Push,
            JobKind::Extract,
            JobKind::Events,
        ];
        kinds.sort_by_key(|k| k.rank());
        assert_eq!(kinds, JobKind::ALL.to_vec());
        assert_eq!(JobKind::parse("nope"), None);
    }
}
