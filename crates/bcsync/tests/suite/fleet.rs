//! The fleet against real PostgreSQL and real `bcsync worker` processes: stores registered
//! with `bcsync stores add` are shared by two workers, and no store ever has two jobs
//! running at once; a paused store runs nothing; a worker killed with `kill -9` mid-job
//! leaves no job process behind, its lease lapses, another worker takes the store over and
//! the extraction finishes exactly (the destination equals the store); a drained worker
//! (SIGTERM) leaves the registry clean.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bc_sandbox::{RunningSandbox, SandboxConfig, SeedSpec};

use crate::common::{self, connect, drop_schema, pg_url, unique_name};

fn tiny(seed: u64) -> SeedSpec {
    SeedSpec {
        seed,
        customers: 40,
        products: 25,
        orders: 60,
        ..common::small_store()
    }
}

async fn store(hash: &str, seed: SeedSpec) -> RunningSandbox {
    common::sandbox_with(SandboxConfig {
        store_hash: hash.into(),
        tokens: vec![bc_sandbox::TokenConfig::full(format!("tok-{hash}"))],
        seed,
        ..SandboxConfig::default()
    })
    .await
}

fn token_env(hash: &str) -> String {
    format!("FLEET_TEST_TOKEN_{}", hash.to_uppercase().replace('-', "_"))
}

fn bcsync(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bcsync"));
    cmd.current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("BCSYNC_STATE")
        .env_remove("BIGCOMMERCE_ACCESS_TOKEN")
        .env_remove("BIGCOMMERCE_STORE_HASH")
        .env_remove("BIGCOMMERCE_BASE_URL");
    cmd
}

/// `bcsync stores add` for a sandbox store, its token read from its own variable.
fn register(dir: &Path, state: &str, sb: &RunningSandbox, schema: &str, extra: &[&str]) {
    let out = bcsync(dir)
        .args(["stores", "add", sb.store_hash(), "--state", state])
        .args(["--token-env", &token_env(sb.store_hash())])
        .args(["--base-url", &sb.base_url(), "--schema", schema])
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::output_text(&out));
}

fn worker(dir: &Path, state: &str, id: &str, stores: &[&RunningSandbox], extra: &[&str]) -> Child {
    let log = std::fs::File::create(dir.join(format!("{id}.log"))).unwrap();
    let mut cmd = bcsync(dir);
    cmd.args(["worker", "--state", state, "--id", id, "--poll", "0.2s"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(log);
    for sb in stores {
        cmd.env(token_env(sb.store_hash()), sb.token());
    }
    cmd.spawn().unwrap()
}

fn terminate(child: &Child) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let until = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < until, "the worker did not stop in time");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// (store, worker, started, finished, status) of every job run, oldest first.
async fn runs(
    pg: &tokio_postgres::Client,
    schema: &str,
) -> Vec<(String, String, f64, Option<f64>, String)> {
    pg.query(
        &format!(
            "SELECT store_hash, worker, extract(epoch FROM started_at)::float8, \
             extract(epoch FROM finished_at)::float8, status FROM \"{schema}\".fleet_job_runs ORDER BY id"
        ),
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
    .collect()
}

async fn count(pg: &tokio_postgres::Client, schema: &str, table: &str) -> i64 {
    pg.query_one(
        &format!("SELECT count(*) FROM \"{schema}\".\"{table}\" WHERE _deleted_at IS NULL"),
        &[],
    )
    .await
    .unwrap()
    .get(0)
}

async fn wait_for<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_share_the_stores_never_run_one_store_twice_at_once_and_skip_paused_ones() {
    let Some(url) = pg_url() else { return };
    let pg = connect(&url).await;
    let fleet_schema = unique_name("fleet");
    let state = common::pg_with_schema(&url, &fleet_schema);
    let dir = tempfile::tempdir().unwrap();
    let mut sandboxes = Vec::new();
    for i in 0..4u64 {
        sandboxes.push(store(&format!("fleet-s{i}"), tiny(10 + i)).await);
    }
    let paused = store("fleet-paused", tiny(99)).await;
    let dest: Vec<String> = (0..4).map(|i| unique_name(&format!("fd{i}"))).collect();
    let paused_dest = unique_name("fdp");
    for (sb, schema) in sandboxes.iter().zip(&dest) {
        register(dir.path(), &state, sb, schema, &["--extract-every", "1s"]);
    }
    register(
        dir.path(),
        &state,
        &paused,
        &paused_dest,
        &["--extract-every", "1s"],
    );
    let out = bcsync(dir.path())
        .args(["stores", "pause", paused.store_hash(), "--state", &state])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::output_text(&out));

    let all: Vec<&RunningSandbox> = sandboxes.iter().chain([&paused]).collect();
    let extra = ["--max-stores", "2", "--lease", "5s"];
    let mut a = worker(dir.path(), &state, "worker-a", &all, &extra);
    let mut b = worker(dir.path(), &state, "worker-b", &all, &extra);

    // Every active store extracted at least three times.
    wait_for(
        "three runs of every store",
        Duration::from_secs(180),
        || {
            let (pg, fleet_schema, sandboxes) = (&pg, &fleet_schema, &sandboxes);
            async move {
                let runs = runs(pg, fleet_schema).await;
                sandboxes.iter().all(|sb| {
                    runs.iter()
                        .filter(|r| r.0 == sb.store_hash() && r.4 == "ok")
                        .count()
                        >= 3
                })
            }
        },
    )
    .await;
    let status = bcsync(dir.path())
        .args(["status", "--fleet", "--state", &state])
        .output()
        .unwrap();
    let status_text = common::output_text(&status);
    assert!(status.status.success(), "{status_text}");
    assert!(status_text.contains("fleet-paused") && status_text.contains("paused"));
    assert!(status_text.contains("worker-a") && status_text.contains("worker-b"));

    terminate(&a);
    terminate(&b);
    assert!(wait_exit(&mut a, Duration::from_secs(60)).success());
    assert!(wait_exit(&mut b, Duration::from_secs(60)).success());

    let runs = runs(&pg, &fleet_schema).await;
    let mut by_store: BTreeMap<&str, Vec<(f64, f64, &str)>> = BTreeMap::new();
    let mut workers = BTreeSet::new();
    for (store, worker, started, finished, status) in &runs {
        assert_ne!(
            status, "running",
            "a drained worker left a run open: {runs:?}"
        );
        assert_eq!(status, "ok", "{runs:?}");
        by_store
            .entry(store)
            .or_default()
            .push((*started, finished.unwrap(), worker));
        workers.insert(worker.as_str());
    }
    for (store, mut spans) in by_store {
        spans.sort_by(|x, y| x.0.total_cmp(&y.0));
        for pair in spans.windows(2) {
            assert!(
                pair[1].0 >= pair[0].1,
                "{store}: a run started at {} while another ({}) ran until {}",
                pair[1].0,
                pair[0].2,
                pair[0].1
            );
        }
    }
    assert!(
        workers.contains("worker-a") && workers.contains("worker-b"),
        "both workers ran jobs: {workers:?}"
    );
    assert!(
        runs.iter().all(|r| r.0 != paused.store_hash()),
        "the paused store ran"
    );
    let exists: bool = pg
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM information_schema.schemata WHERE schema_name = $1)",
            &[&paused_dest],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!exists, "the paused store's destination was created");
    for (sb, schema) in sandboxes.iter().zip(&dest) {
        for (table, version, path) in [
            ("customers", "v3", "/customers"),
            ("orders", "v2", "/orders"),
        ] {
            let in_store = common::list_all(sb, version, path, "").await.len();
            assert_eq!(
                count(&pg, schema, table).await as usize,
                in_store,
                "{table}"
            );
        }
    }
    let left: i64 = pg
        .query_one(
            &format!("SELECT count(*) FROM \"{fleet_schema}\".fleet_workers"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "drained workers are removed from fleet_workers");
    for schema in dest.iter().chain([&fleet_schema]) {
        drop_schema(&pg, schema).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_workers_store_is_taken_over_and_its_extraction_finishes_exactly() {
    let Some(url) = pg_url() else { return };
    let pg = connect(&url).await;
    let fleet_schema = unique_name("fleet");
    let state = common::pg_with_schema(&url, &fleet_schema);
    let dir = tempfile::tempdir().unwrap();
    let sb = store("fleet-kill", common::small_store()).await;
    // Every answer takes 150 ms: the first extraction lasts several seconds.
    common::set_faults(&sb, "slow=1.0:150").await;
    let dest = unique_name("fdk");
    register(dir.path(), &state, &sb, &dest, &["--extract-every", "1h"]);

    let mut a = worker(dir.path(), &state, "doomed", &[&sb], &["--lease", "3s"]);
    // Killed once its job has committed pages but not finished.
    wait_for("the first pages", Duration::from_secs(60), || {
        let (pg, dest) = (&pg, &dest);
        async move {
            pg.query_one(&format!("SELECT count(*) FROM \"{dest}\".orders"), &[])
                .await
                .is_ok_and(|r| r.get::<_, i64>(0) > 0)
        }
    })
    .await;
    a.kill().unwrap();
    a.wait().unwrap();
    let killed_at = Instant::now();
    let log = std::fs::read_to_string(dir.path().join("doomed.log")).unwrap();
    let pid: i32 = log
        .split("extract started (pid ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no job pid in the worker's log:\n{log}"));
    // The job process notices its worker is gone and stops: gracefully at once, or at the
    // latest 5 s later (`exit_with_parent`), which a loaded test machine can stretch; the
    // heir starts only once it is gone, so the lease here (3 s) does not race it.
    while Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z")
    {
        assert!(
            killed_at.elapsed() < Duration::from_secs(20),
            "the orphaned job process {pid} kept running"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let mut b = worker(dir.path(), &state, "heir", &[&sb], &["--lease", "3s"]);
    wait_for("the heir's extraction", Duration::from_secs(120), || {
        let (pg, fleet_schema) = (&pg, &fleet_schema);
        async move {
            runs(pg, fleet_schema)
                .await
                .iter()
                .any(|r| r.1 == "heir" && r.4 == "ok")
        }
    })
    .await;
    terminate(&b);
    assert!(wait_exit(&mut b, Duration::from_secs(60)).success());

    let runs = runs(&pg, &fleet_schema).await;
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(
        (runs[0].1.as_str(), runs[0].3, runs[0].4.as_str()),
        ("doomed", None, "running"),
        "the killed worker's run is never recorded as finished: {runs:?}"
    );
    assert_eq!((runs[1].1.as_str(), runs[1].4.as_str()), ("heir", "ok"));
    // Exactly the store: every record once, none missing.
    for (table, path, version) in [
        ("customers", "/customers", "v3"),
        ("products", "/catalog/products", "v3"),
        ("orders", "/orders", "v2"),
    ] {
        let store_ids: BTreeSet<i64> = common::list_all(&sb, version, path, "")
            .await
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect();
        let rows = pg
            .query(
                &format!("SELECT id FROM \"{dest}\".\"{table}\" WHERE _deleted_at IS NULL"),
                &[],
            )
            .await
            .unwrap();
        let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        let unique: BTreeSet<i64> = ids.iter().copied().collect();
        assert_eq!(ids.len(), unique.len(), "{table}: duplicated rows");
        assert_eq!(
            unique, store_ids,
            "{table}: the destination differs from the store"
        );
    }
    drop_schema(&pg, &dest).await;
    drop_schema(&pg, &fleet_schema).await;
}

/// `stores add --hooks-url` points the store's webhooks at the fleet's receivers, with the
/// fleet's secret; adding the store again changes nothing; a missing secret is refused
/// before anything is registered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_add_registers_the_stores_webhooks_once() {
    let Some(url) = pg_url() else { return };
    let pg = connect(&url).await;
    let schema = unique_name("fleethooks");
    let state = common::pg_with_schema(&url, &schema);
    let dir = tempfile::tempdir().unwrap();
    let sb = store("fleet-hooks", tiny(3)).await;
    let hooks_url = "http://127.0.0.1:18799/webhooks";
    let add = |secret: Option<&str>| {
        let mut cmd = bcsync(dir.path());
        cmd.args(["stores", "add", sb.store_hash(), "--state", &state])
            .args(["--token-env", &token_env(sb.store_hash())])
            .args(["--base-url", &sb.base_url(), "--events"])
            .args(["--hooks-url", hooks_url])
            .env(token_env(sb.store_hash()), sb.token())
            .env_remove("BCSYNC_WEBHOOK_SECRET");
        if let Some(s) = secret {
            cmd.env("BCSYNC_WEBHOOK_SECRET", s);
        }
        cmd.output().unwrap()
    };
    let refused = add(None);
    let text = common::output_text(&refused);
    assert!(
        !refused.status.success() && text.contains("BCSYNC_WEBHOOK_SECRET"),
        "{text}"
    );
    let registered: i64 = pg
        .query_one(
            &format!("SELECT count(*) FROM \"{schema}\".fleet_stores"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(registered, 0, "a refused add registers no store");
    let (_, none) = common::api(&sb, reqwest::Method::GET, "/v3/hooks", None).await;
    assert_eq!(none.unwrap()["data"], serde_json::json!([]), "nor any hook");
    let out = add(Some("fleet-secret-1"));
    let text = common::output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("5 created"), "{text}");
    let (status, body) = common::api(&sb, reqwest::Method::GET, "/v3/hooks", None).await;
    assert_eq!(status, 200);
    let body = body.unwrap();
    let hooks = body["data"].as_array().unwrap();
    assert_eq!(hooks.len(), 5, "{body}");
    for h in hooks {
        assert_eq!(h["destination"], hooks_url);
        assert_eq!(h["headers"]["X-Bcsync-Secret"], "fleet-secret-1", "{h}");
    }
    let again = add(Some("fleet-secret-1"));
    let text = common::output_text(&again);
    assert!(
        again.status.success() && text.contains("5 unchanged"),
        "{text}"
    );
    assert!(
        !text.contains("fleet-secret-1"),
        "the secret is never printed: {text}"
    );
    drop_schema(&pg, &schema).await;
}

/// A registry whose connection the server dropped (a restart, a failover) reconnects on
/// its next call instead of failing every claim and renewal until the worker restarts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_reconnects_after_the_server_drops_its_connection() {
    use bcsync::fleet::{NewStore, Registry};
    let Some(url) = pg_url() else { return };
    let pg = connect(&url).await;
    let schema = unique_name("fleetre");
    let app = unique_name("regconn");
    let state = format!(
        "{}&application_name={app}",
        common::pg_with_schema(&url, &schema)
    );
    let registry = Registry::open(&state).await.unwrap();
    let add = |hash: &str| NewStore {
        store_hash: hash.into(),
        credentials: "env:X".into(),
        dest_schema: format!("bc_{hash}"),
        ..NewStore::default()
    };
    registry.add_store(&add("one")).await.unwrap();
    let killed = pg
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&app],
        )
        .await
        .unwrap();
    assert_eq!(killed.len(), 1, "the registry holds one connection");
    // The client learns of the drop when it next reads; give the connection task a moment.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let first = registry.add_store(&add("two")).await;
    // A call already on its way when the connection dropped may fail; the next reconnects.
    if first.is_err() {
        registry.add_store(&add("two")).await.unwrap();
    }
    let hashes: Vec<String> = registry
        .stores()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.store_hash)
        .collect();
    assert_eq!(hashes, ["one", "two"]);
    drop_schema(&pg, &schema).await;
}

/// The registry's rules, call by call: the longest-waiting store is claimed first;
/// concurrent claims never get the same store; a holder whose lease lapsed and was taken
/// over can renew, start and finish nothing; a paused store starts nothing; a job made
/// due while it ran stays due.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_go_to_the_longest_waiting_store_once_and_stale_holders_are_fenced() {
    use bcsync::fleet::{JobKind, JobOutcome, NewStore, Registry};
    let Some(url) = pg_url() else { return };
    let pg = connect(&url).await;
    let schema = unique_name("fleetreg");
    let state = common::pg_with_schema(&url, &schema);
    let registry = Registry::open(&state).await.unwrap();
    for hash in ["a", "b", "c", "d"] {
        registry
            .add_store(&NewStore {
                store_hash: hash.into(),
                credentials: "env:X".into(),
                dest_schema: format!("bc_{hash}"),
                extract_every: Some(Duration::from_secs(60)),
                events: hash == "d",
                ..NewStore::default()
            })
            .await
            .unwrap();
    }
    // Waiting longest: c, then a, then b; d has only its (not due) events job... and its
    // extraction, not due for a minute.
    for (hash, waited) in [("c", 30), ("a", 20), ("b", 10)] {
        pg.execute(
            &format!(
                "UPDATE \"{schema}\".fleet_jobs SET next_due = clock_timestamp() - $2 * interval '1 second' WHERE store_hash = $1"
            ),
            &[&hash, &f64::from(waited)],
        )
        .await
        .unwrap();
    }
    pg.execute(
        &format!("UPDATE \"{schema}\".fleet_jobs SET next_due = clock_timestamp() + interval '1 minute' WHERE store_hash = 'd'"),
        &[],
    )
    .await
    .unwrap();
    let lease = Duration::from_secs(30);
    let order: Vec<String> = {
        let mut v = Vec::new();
        while let Some(c) = registry.claim("w1", lease).await.unwrap() {
            v.push(c.store.store_hash);
        }
        v
    };
    assert_eq!(order, ["c", "a", "b"]);
    for hash in ["a", "b", "c"] {
        let epoch = registry
            .stores()
            .await
            .unwrap()
            .into_iter()
            .find(|s| s.store_hash == hash)
            .unwrap()
            .lease_epoch;
        registry.release(hash, "w1", epoch).await.unwrap();
    }

    // Eight workers claim at once: three stores are due, each goes to exactly one of them.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let state = state.clone();
        tasks.push(tokio::spawn(async move {
            let r = Registry::open(&state).await.unwrap();
            r.claim(&format!("racer{i}"), Duration::from_secs(30))
                .await
                .unwrap()
                .map(|c| c.store.store_hash)
        }));
    }
    let mut won: Vec<String> = Vec::new();
    for t in tasks {
        won.extend(t.await.unwrap());
    }
    won.sort();
    assert_eq!(won, ["a", "b", "c"]);

    // c's holder stalls past its lease; another worker takes c over.
    let stale = registry.stores().await.unwrap();
    let c = stale.iter().find(|s| s.store_hash == "c").unwrap();
    let (old_owner, old_epoch) = (c.lease_owner.clone().unwrap(), c.lease_epoch);
    pg.execute(
        &format!("UPDATE \"{schema}\".fleet_stores SET lease_until = clock_timestamp() - interval '1 second' WHERE store_hash = 'c'"),
        &[],
    )
    .await
    .unwrap();
    let heir = registry.claim("heir", lease).await.unwrap().unwrap();
    assert_eq!(heir.store.store_hash, "c");
    assert_eq!(heir.taken_from.as_deref(), Some(old_owner.as_str()));
    assert_eq!(heir.epoch, old_epoch + 1);
    assert!(
        !registry
            .renew("c", &old_owner, old_epoch, lease)
            .await
            .unwrap()
    );
    assert_eq!(
        registry
            .start_job("c", JobKind::Extract, &old_owner, old_epoch)
            .await
            .unwrap(),
        None
    );
    let run = registry
        .start_job("c", JobKind::Extract, "heir", heir.epoch)
        .await
        .unwrap()
        .unwrap();
    let ok = JobOutcome {
        status: "ok",
        exit_code: Some(0),
        error: None,
        reschedule: true,
    };
    assert!(
        !registry
            .finish_job(run, "c", JobKind::Extract, &old_owner, old_epoch, &ok)
            .await
            .unwrap()
    );
    assert!(
        registry
            .finish_job(run, "c", JobKind::Extract, "heir", heir.epoch, &ok)
            .await
            .unwrap()
    );
    let c_job = registry
        .stores()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.store_hash == "c")
        .unwrap()
        .jobs
        .remove(0);
    assert_eq!(c_job.last_status.as_deref(), Some("ok"));
    let due_in = c_job.due_in_s.unwrap();
    assert!((50.0..=61.0).contains(&due_in), "next run in {due_in}s");

    // A paused store starts nothing, even for the worker holding its lease.
    let b = registry
        .stores()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.store_hash == "b")
        .unwrap();
    registry.set_paused("b", true).await.unwrap();
    let b_owner = b.lease_owner.unwrap();
    assert_eq!(
        registry
            .start_job("b", JobKind::Extract, &b_owner, b.lease_epoch)
            .await
            .unwrap(),
        None
    );

    // d's events job: due once marked, and marked again while it runs, it stays due.
    registry.mark_events_due(&["d".into()]).await.unwrap();
    let d = registry.claim("w9", lease).await.unwrap().unwrap();
    assert_eq!(d.store.store_hash, "d");
    assert_eq!(registry.due_jobs("d").await.unwrap(), [JobKind::Events]);
    let run = registry
        .start_job("d", JobKind::Events, "w9", d.epoch)
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    registry.mark_events_due(&["d".into()]).await.unwrap();
    assert!(
        registry
            .finish_job(run, "d", JobKind::Events, "w9", d.epoch, &ok)
            .await
            .unwrap()
    );
    assert_eq!(registry.due_jobs("d").await.unwrap(), [JobKind::Events]);
    drop_schema(&pg, &schema).await;
}

/// Receivers to workers through JetStream: a store registered with `--events`, a fleet
/// receiver publishing its deliveries, and a `bcsync worker --nats` that stores them in
/// the store's inbox and runs its `events` job: the change reaches the destination
/// without another extraction, and `status --fleet --nats` shows an empty backlog.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_applies_webhook_events_carried_through_jetstream() {
    use crate::listen_support::{SECRET, payload};
    use bcsync::listen::jetstream;
    use std::net::SocketAddr;
    let Some(nats) = common::nats_url() else {
        return;
    };
    let Some(url) = pg_url() else { return };
    let pg = connect(&url).await;
    let fleet_schema = unique_name("fleetev");
    let fleet = format!("t{}", std::process::id());
    let state = common::pg_with_schema(&url, &fleet_schema);
    let dir = tempfile::tempdir().unwrap();
    let sb = store("fleet-events", tiny(5)).await;
    let dest = unique_name("fde");
    register(
        dir.path(),
        &state,
        &sb,
        &dest,
        &["--extract-every", "1h", "--events"],
    );
    let receiver = jetstream::start_receiver(
        &nats,
        &fleet,
        secrecy::SecretString::from(SECRET.to_owned()),
        jetstream::stores_from([sb.store_hash().to_owned()]),
        SocketAddr::from(([127, 0, 0, 1], 0)),
        false,
        tokio_util::sync::CancellationToken::new(),
    )
    .await
    .unwrap();
    let mut w = worker(
        dir.path(),
        &state,
        "events-worker",
        &[&sb],
        &["--nats", &nats, "--fleet", &fleet],
    );
    wait_for("the first extraction", Duration::from_secs(120), || {
        let (pg, fleet_schema) = (&pg, &fleet_schema);
        async move { runs(pg, fleet_schema).await.iter().any(|r| r.4 == "ok") }
    })
    .await;

    let (status, _) = common::api(
        &sb,
        reqwest::Method::PUT,
        "/v3/customers",
        Some(serde_json::json!([{"id": 3, "first_name": "ViaJetStream"}])),
    )
    .await;
    assert_eq!(status, 200);
    let body = payload(
        sb.store_hash(),
        "store/customer/updated",
        serde_json::json!({"type": "customer", "id": 3}),
        1,
    );
    let resp = reqwest::Client::new()
        .post(format!("http://{}/webhooks", receiver.addr))
        .header("X-Bcsync-Secret", SECRET)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    wait_for("the event applied", Duration::from_secs(120), || {
        let (pg, dest) = (&pg, &dest);
        async move {
            pg.query_one(
                &format!("SELECT _raw->>'first_name' FROM \"{dest}\".customers WHERE id = 3"),
                &[],
            )
            .await
            .is_ok_and(|r| r.get::<_, Option<String>>(0).as_deref() == Some("ViaJetStream"))
        }
    })
    .await;
    // The row commits before the events job's end is recorded: wait for that too.
    wait_for("the events job recorded", Duration::from_secs(60), || {
        let (pg, fleet_schema) = (&pg, &fleet_schema);
        async move {
            let runs = runs(pg, fleet_schema).await;
            runs.iter().all(|r| r.4 == "ok") && runs.len() >= 2
        }
    })
    .await;
    let out = bcsync(dir.path())
        .args([
            "status",
            "--fleet",
            "--state",
            &state,
            "--nats",
            &nats,
            "--fleet-name",
            &fleet,
        ])
        .output()
        .unwrap();
    let text = common::output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("not yet in an inbox: 0"), "{text}");
    terminate(&w);
    assert!(wait_exit(&mut w, Duration::from_secs(60)).success());
    receiver.shutdown().await.unwrap();
    let client = async_nats::connect(&nats).await.unwrap();
    let _ = async_nats::jetstream::new(client)
        .delete_stream(jetstream::stream_name(&fleet))
        .await;
    drop_schema(&pg, &dest).await;
    drop_schema(&pg, &fleet_schema).await;
}
