//! The push state store in PostgreSQL, and PostgreSQL connections themselves, against a
//! real server: the SQLite and PostgreSQL stores behave the same call for call; two
//! processes pushing to different stores through one state store do not interfere (each
//! store gets exactly its rows, each rerun writes nothing); a second run of the same sync
//! is refused while the first holds its lock; `--state postgres` and a source without a
//! URL read `DATABASE_URL`; `state` in bcsync.toml selects the store; TLS follows libpq's
//! sslmodes (encrypted or not, certificates checked against `sslrootcert`, host names
//! checked by verify-full) and a refused certificate is explained.
//!
//! The server comes from `BCSYNC_TEST_POSTGRES_URL` (`.ci/run` sets it); unset, the tests
//! print a note and pass, except under `CI=true`, where they fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::BTreeMap;

use bc_sandbox::{RunningSandbox, SandboxConfig, SeedSpec};
use bcsync::pg::PgTarget;
use bcsync::push::mapping::Rejection;
use bcsync::state::push::{
    LoggedRequest, PushStore, RunFilter, RunPage, RunRecord, TrackStatus, Tracked, open_push_store,
};
use common::{connect, drop_schema, output_text as text, pg_url, unique_name, writes};
use serde_json::json;

fn bcsync(
    sb: &RunningSandbox,
    dir: &std::path::Path,
    envs: &[(&str, &str)],
    args: &[&str],
) -> std::process::Command {
    let mut cmd = common::bcsync_in(sb, dir, args);
    cmd.envs(envs.iter().copied());
    cmd
}

async fn store_emails(sb: &RunningSandbox) -> Vec<String> {
    let mut v: Vec<String> = common::list_all(sb, "v3", "/customers", "")
        .await
        .iter()
        .map(|c| c["email"].as_str().unwrap().to_owned())
        .collect();
    v.sort();
    v
}

/// A record the store has, with its id.
fn applied(key: &str, id: i64) -> Tracked {
    Tracked {
        key: key.into(),
        hash: None,
        bc_id: Some(id),
        status: TrackStatus::Applied,
        fields: None,
    }
}

async fn store_named(hash: &str) -> RunningSandbox {
    common::sandbox_with(SandboxConfig {
        store_hash: hash.to_owned(),
        seed: SeedSpec::empty(),
        ..SandboxConfig::default()
    })
    .await
}

/// The same calls on both stores give the same answers.
fn exercise(store: &mut dyn PushStore, other_scope: &mut dyn PushStore) -> serde_json::Value {
    let t = |k: &str, status, id| Tracked {
        key: k.into(),
        hash: Some(format!("h-{k}")),
        bc_id: id,
        status,
        fields: Some(json!({"first_name": k, "n": 1})),
    };
    store
        .put(
            "c",
            &[
                t("a@x.io", TrackStatus::Attempting, None),
                t("b@x.io", TrackStatus::Applied, Some(2)),
                t("c@x.io", TrackStatus::Rejected, None),
            ],
        )
        .unwrap();
    store
        .put("c", &[t("a@x.io", TrackStatus::Applied, Some(1))])
        .unwrap();
    store
        .put("other", &[t("z@x.io", TrackStatus::Applied, Some(9))])
        .unwrap();
    other_scope
        .put("c", &[t("q@x.io", TrackStatus::Applied, Some(5))])
        .unwrap();
    store.remove("c", &["c@x.io".to_owned()]).unwrap();
    let loaded: BTreeMap<String, (Option<String>, Option<i64>, String, serde_json::Value)> = store
        .load("c")
        .unwrap()
        .into_values()
        .map(|r| {
            (
                r.key,
                (
                    r.hash,
                    r.bc_id,
                    format!("{:?}", r.status),
                    r.fields.unwrap_or_default(),
                ),
            )
        })
        .collect();
    let run = RunRecord {
        sync: "c".into(),
        started_at: "2026-01-01T00:00:00.000Z".into(),
        finished_at: "2026-01-01T00:00:01.000Z".into(),
        status: "ok".into(),
        counts: [("created".to_owned(), 2u64)].into_iter().collect(),
        requests: 3,
        write_requests: 2,
        lookup_requests: 1,
        rejected: vec![Rejection {
            row: 3,
            key: Some("c@x.io".into()),
            field: Some("email".into()),
            reason: "taken".into(),
        }],
        request_log: vec![LoggedRequest {
            method: "POST".into(),
            path: "/v3/customers".into(),
            status: Some(200),
            ms: 4,
            ..LoggedRequest::default()
        }],
        ..RunRecord::default()
    };
    let id = store.save_run(&run).unwrap();
    let mut back = store.run(id).unwrap().unwrap();
    back.id = 0;
    let listed = store.runs(1).unwrap();
    // Paged and filtered listing (what `bcsync ui` shows): ids differ between stores, so
    // the answers are compared by sync, status and position.
    for (sync, status) in [("d", "failed"), ("c", "failed"), ("d", "ok")] {
        let r = RunRecord {
            sync: sync.into(),
            status: status.into(),
            ..RunRecord::default()
        };
        other_scope.save_run(&r).unwrap();
    }
    let shown = |p: RunPage| {
        (
            p.total,
            p.runs
                .iter()
                .map(|r| format!("{}/{}/{}", r.store, r.sync, r.status))
                .collect::<Vec<_>>(),
        )
    };
    let filter = |sync: Option<&str>, status: Option<&str>| RunFilter {
        sync: sync.map(str::to_owned),
        status: status.map(str::to_owned),
    };
    let pages = json!([
        shown(store.runs_page(&filter(None, None), 1, 2).unwrap()),
        shown(store.runs_page(&filter(Some("d"), None), 0, 10).unwrap()),
        shown(
            store
                .runs_page(&filter(None, Some("failed")), 0, 10)
                .unwrap()
        ),
        shown(
            store
                .runs_page(&filter(Some("c"), Some("failed")), 0, 10)
                .unwrap()
        ),
        shown(RunPage {
            runs: store.latest_runs().unwrap(),
            total: 0
        }),
    ]);
    // The live debugger's log: appended while a run goes on, read by position, replaced
    // by the finished record's whole log.
    let live = store
        .start_run(&RunRecord {
            sync: "live".into(),
            status: "running".into(),
            ..RunRecord::default()
        })
        .unwrap();
    let line = |path: &str, left: i64| LoggedRequest {
        method: "GET".into(),
        path: path.into(),
        status: Some(200),
        ms: 3,
        detail: bcsync::state::push::RequestDetail {
            attempt: 1,
            rate_left: Some(left),
            at: Some("2026-12-03T10:00:00.000Z".into()),
            ..Default::default()
        },
        // One request with captured headers and bodies, kept in their own column.
        capture: (path == "/c").then(|| bcsync::state::push::RequestCapture {
            request_headers: vec![("x-auth-token".into(), "<redacted>".into())],
            request_body: Some(bcsync::state::push::CapturedText {
                text: r#"{"email":"<redacted>","name":"Ann"}"#.into(),
                truncated: true,
                bytes: 90_000,
            }),
            response_headers: vec![("content-type".into(), "application/json".into())],
            response_body: None,
        }),
    };
    store
        .log_requests(live, 0, &[line("/a", 9), line("/b", 8)])
        .unwrap();
    store.log_requests(live, 2, &[line("/c", 7)]).unwrap();
    let streamed = store.requests_after(live, Some(0), 10).unwrap();
    store
        .finish_run(&RunRecord {
            id: live,
            sync: "live".into(),
            status: "ok".into(),
            request_log: vec![line("/a", 9), line("/b", 8), line("/c", 7), line("/d", 6)],
            ..RunRecord::default()
        })
        .unwrap();
    let finished_log = store.run(live).unwrap().unwrap().request_log;
    let reset = store.reset("other").unwrap();
    let keys = ["b@x.io", "c@x.io", "q@x.io", "none"].map(String::from);
    let mut by_key: Vec<(String, Option<i64>)> = store
        .load_keys("c", &keys)
        .unwrap()
        .into_values()
        .map(|r| (r.key, r.bc_id))
        .collect();
    by_key.sort();
    json!({
        "streamed": streamed,
        "finished_log": finished_log,
        "loaded": loaded,
        "other_sync": store.load("other").unwrap().len(),
        "other_scope": other_scope.load("c").unwrap().len(),
        "by_key": by_key,
        "run": back,
        "listed": listed.iter().map(|r| (r.sync.clone(), r.store.clone(), r.rejected.len())).collect::<Vec<_>>(),
        "reset": reset,
        "pages": pages,
        "missing_run": store.run(i64::MAX).unwrap().is_none(),
    })
}

#[test]
fn sqlite_and_postgres_state_stores_behave_the_same() {
    let Some(url) = pg_url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("state.db").display().to_string();
    let sqlite = exercise(
        open_push_store(&file, "store_a").unwrap().as_mut(),
        open_push_store(&file, "store_b").unwrap().as_mut(),
    );
    let schema = unique_name("state");
    let spec = common::pg_with_schema(&url, &schema);
    let postgres = exercise(
        open_push_store(&spec, "store_a").unwrap().as_mut(),
        open_push_store(&spec, "store_b").unwrap().as_mut(),
    );
    assert_eq!(sqlite, postgres);
    assert_eq!(sqlite["loaded"].as_object().unwrap().len(), 2);
    assert_eq!(sqlite["other_scope"], 1);
    // By key: this store's and sync's records only (c@x.io was removed, q@x.io is another
    // store's).
    assert_eq!(sqlite["by_key"], json!([["b@x.io", 2]]));
    assert_eq!(sqlite["run"]["store"], "store_a");
    assert_eq!(sqlite["run"]["rejected"][0]["reason"], "taken");
    assert_eq!(
        sqlite["pages"][1],
        json!([2, ["store_b/d/ok", "store_b/d/failed"]])
    );
    assert_eq!(sqlite["pages"][3], json!([1, ["store_b/c/failed"]]));
    assert_eq!(sqlite["streamed"][0][0], 1);
    assert_eq!(sqlite["streamed"][1][1]["path"], "/c");
    assert_eq!(sqlite["streamed"][1][1]["rate_left"], 7);
    assert_eq!(sqlite["finished_log"].as_array().unwrap().len(), 4);
    assert_eq!(sqlite["finished_log"][3]["rate_left"], 6);

    // The run lock: one holder per (store, sync), released when the holder goes.
    let mut first = open_push_store(&spec, "store_a").unwrap();
    let mut second = open_push_store(&spec, "store_a").unwrap();
    let mut elsewhere = open_push_store(&spec, "store_b").unwrap();
    assert!(first.try_lock("c").unwrap());
    assert!(!second.try_lock("c").unwrap());
    let err = second.lock_held_error("c").to_string();
    assert!(err.contains("already running"), "{err}");
    assert!(!err.contains("password"), "{err}");
    assert!(second.try_lock("other").unwrap());
    assert!(elsewhere.try_lock("c").unwrap());
    // A state store in another schema of the same database is another store: its runs
    // do not share locks with these.
    let other_schema = unique_name("state");
    let mut other =
        open_push_store(&common::pg_with_schema(&url, &other_schema), "store_a").unwrap();
    assert!(other.try_lock("c").unwrap());
    drop(other);
    drop(first);
    assert!(second.try_lock("c").unwrap());
    drop((second, elsewhere));

    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let pg = connect(&url).await;
        drop_schema(&pg, &schema).await;
        drop_schema(&pg, &other_schema).await;
    });
}

const MAPPING: &str =
    "[sync.mapping]\nemail = \"email\"\nfirst = \"first_name\"\nlast = \"last_name\"\n";

fn people(tag: &str, n: usize) -> String {
    let mut s = String::from("email,first,last\n");
    for i in 0..n {
        s.push_str(&format!(
            "{tag}{i}@example.com,{tag}-given{i},{tag}-family{i}\n"
        ));
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_share_one_state_store_without_interfering() {
    let Some(url) = pg_url() else { return };
    let schema = unique_name("shared");
    let state = common::pg_with_schema(&url, &schema);
    let (one, two) = (store_named("storeone").await, store_named("storetwo").await);
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    for (dir, tag) in dirs.iter().zip(["one", "two"]) {
        std::fs::write(dir.path().join("people.csv"), people(tag, 150)).unwrap();
        // The same sync name in both: only the store tells them apart.
        std::fs::write(
            dir.path().join("syncs.toml"),
            format!(
                "[[sync]]\nname = \"customers\"\nobject = \"customers\"\nmode = \"mirror\"\nmatch_key = \"email\"\n\
                 source = {{ type = \"csv\", path = \"people.csv\" }}\n{MAPPING}"
            ),
        )
        .unwrap();
    }
    let args = ["push", "--syncs", "syncs.toml", "--state", &state];
    // Concurrently: both create the tables, take locks and write records at once.
    let a = bcsync(&one, dirs[0].path(), &[], &args).spawn().unwrap();
    let b = bcsync(&two, dirs[1].path(), &[], &args).spawn().unwrap();
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success(), "{}", text(&a));
    assert!(b.status.success(), "{}", text(&b));
    let expect = |tag: &str| -> Vec<String> {
        let mut v: Vec<String> = (0..150).map(|i| format!("{tag}{i}@example.com")).collect();
        v.sort();
        v
    };
    assert_eq!(store_emails(&one).await, expect("one"));
    assert_eq!(store_emails(&two).await, expect("two"));

    // Reruns: each store's tracking is its own, so nothing is sent to either, and
    // mirror deletes nothing (had the records mixed, one store's rows would look removed).
    let (w1, w2) = (writes(&one), writes(&two));
    for (sb, dir) in [(&one, &dirs[0]), (&two, &dirs[1])] {
        let o = bcsync(sb, dir.path(), &[], &args).output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
    }
    assert_eq!((writes(&one), writes(&two)), (w1, w2));

    // A change in one store's source reaches only that store.
    std::fs::write(
        dirs[0].path().join("people.csv"),
        people("one", 150).replace("one-given7,", "Renamed,"),
    )
    .unwrap();
    let o = bcsync(&one, dirs[0].path(), &[], &args).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!((writes(&one), writes(&two)), (w1 + 1, w2));

    // Runs list both stores' runs, each naming its store.
    let o = bcsync(&one, dirs[0].path(), &[], &["runs", "--state", &state])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let listing = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(listing.matches("storeone").count(), 3, "{listing}");
    assert_eq!(listing.matches("storetwo").count(), 2, "{listing}");

    drop_schema(&connect(&url).await, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_url_and_config_select_postgres_for_source_and_state() {
    let Some(url) = pg_url() else { return };
    let schema = unique_name("envurl");
    let pg = connect(&url).await;
    pg.batch_execute(&format!(
        "CREATE SCHEMA \"{schema}\"; CREATE TABLE \"{schema}\".people (email text, first text, last text);
         INSERT INTO \"{schema}\".people SELECT 'p' || i || '@example.com', 'G' || i, 'F' || i FROM generate_series(1, 30) i;"
    ))
    .await
    .unwrap();
    let sb = common::sandbox(SeedSpec::empty()).await;
    let dir = tempfile::tempdir().unwrap();
    // No URL anywhere but DATABASE_URL: the source and `--state postgres` both read it.
    std::fs::write(
        dir.path().join("syncs.toml"),
        format!(
            "[[sync]]\nname = \"people\"\nobject = \"customers\"\nmode = \"upsert\"\nmatch_key = \"email\"\n\
             source = {{ type = \"postgres\", table = \"{schema}.people\" }}\n{MAPPING}"
        ),
    )
    .unwrap();
    let database_url = common::pg_with_schema(&url, &schema);
    let env = [("DATABASE_URL", database_url.as_str())];
    let o = bcsync(
        &sb,
        dir.path(),
        &env,
        &[
            "push",
            "--syncs",
            "syncs.toml",
            "--state",
            "postgres",
            "--json",
        ],
    )
    .output()
    .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let out: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let id = out[0]["run"]["id"].as_i64().unwrap();
    assert_eq!(out[0]["run"]["counts"]["created"], 30, "{out}");
    assert_eq!(store_emails(&sb).await.len(), 30);
    let tracked: i64 = pg
        .query_one(
            &format!("SELECT count(*) FROM \"{schema}\".push_records WHERE store = $1 AND status = 'applied'"),
            &[&sb.store_hash()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(tracked, 30);

    // `state` in bcsync.toml selects the same store: the run is there, as JSON.
    std::fs::write(
        dir.path().join("bcsync.toml"),
        format!("state = \"{database_url}\"\n"),
    )
    .unwrap();
    let o = bcsync(
        &sb,
        dir.path(),
        &[],
        &["runs", "show", &id.to_string(), "--format", "json"],
    )
    .output()
    .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let run: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(run["sync"], "people");
    assert_eq!(run["store"], sb.store_hash());
    assert!(run["request_log"].as_array().unwrap().len() >= 2);

    // Without DATABASE_URL, `--state postgres` says what to set.
    let o = bcsync(
        &sb,
        dir.path(),
        &[],
        &["push", "--syncs", "syncs.toml", "--state", "postgres"],
    )
    .output()
    .unwrap();
    assert!(!o.status.success());
    assert!(text(&o).contains("DATABASE_URL"), "{}", text(&o));

    drop_schema(&pg, &schema).await;
}

/// Whether the test server speaks TLS with the Debian snakeoil certificate (CN localhost);
/// the TLS tests need both.
async fn snakeoil(url: &str) -> Option<String> {
    let pg = connect(url).await;
    let ssl: String = pg.query_one("SHOW ssl", &[]).await.ok()?.get(0);
    let cert: String = pg.query_one("SHOW ssl_cert_file", &[]).await.ok()?.get(0);
    if ssl != "on" || !std::path::Path::new(&cert).exists() {
        eprintln!(
            "note: the PostgreSQL server has no TLS certificate this test can read; TLS checks skipped"
        );
        return None;
    }
    Some(cert)
}

async fn ssl_in_use(url: &str) -> Result<bool, String> {
    let target = PgTarget::parse(url, Some("public".into())).map_err(|e| e.to_string())?;
    let client = target
        .connect("testing TLS")
        .await
        .map_err(|e| e.to_string())?;
    Ok(client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_follows_libpq_sslmodes() {
    let Some(url) = pg_url() else { return };
    let Some(cert) = snakeoil(&url).await else {
        return;
    };
    let with = |host: &str, q: &str| {
        let u = url::Url::parse(&url).unwrap();
        let mut u = u.clone();
        u.set_host(Some(host)).unwrap();
        let sep = if u.query().is_some() { '&' } else { '?' };
        format!("{u}{sep}{q}")
    };
    assert_eq!(
        ssl_in_use(&with("127.0.0.1", "sslmode=disable")).await,
        Ok(false)
    );
    assert_eq!(
        ssl_in_use(&with("127.0.0.1", "sslmode=prefer")).await,
        Ok(true)
    );
    assert_eq!(
        ssl_in_use(&with("127.0.0.1", "sslmode=require")).await,
        Ok(true)
    );
    // verify-ca: the chain must lead to the given root; the host name is not checked.
    let root = format!("sslrootcert={cert}");
    assert_eq!(
        ssl_in_use(&with("127.0.0.1", &format!("sslmode=verify-ca&{root}"))).await,
        Ok(true)
    );
    // verify-ca without a root file would check the chain against the public roots only,
    // which any publicly trusted certificate passes: the host name is checked too.
    assert!(
        ssl_in_use(&with("127.0.0.1", "sslmode=verify-ca"))
            .await
            .is_err()
    );
    // verify-full: the certificate names localhost, not 127.0.0.1.
    assert_eq!(
        ssl_in_use(&with("localhost", &format!("sslmode=verify-full&{root}"))).await,
        Ok(true)
    );
    let err = ssl_in_use(&with("127.0.0.1", &format!("sslmode=verify-full&{root}")))
        .await
        .unwrap_err();
    assert!(
        err.contains("not issued for 127.0.0.1") && err.contains("verify-ca"),
        "{err}"
    );
    // A certificate signed by none of the given roots (the public CA bundle does not hold
    // the self-signed snakeoil certificate) is refused, with the fix named.
    let bundle = "/etc/ssl/certs/ca-certificates.crt";
    if std::path::Path::new(bundle).exists() {
        let err = ssl_in_use(&with(
            "localhost",
            &format!("sslmode=verify-full&sslrootcert={bundle}"),
        ))
        .await
        .unwrap_err();
        assert!(
            err.contains("sslrootcert=") && err.contains("trusted root"),
            "{err}"
        );
    }
    // A missing root file is named.
    let err = ssl_in_use(&with(
        "localhost",
        "sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
    ))
    .await
    .unwrap_err();
    assert!(err.contains("/nonexistent/ca.pem"), "{err}");

    // The state store connects over TLS as well.
    let schema = unique_name("tls");
    let spec = format!(
        "{}&schema={schema}",
        with("localhost", &format!("sslmode=verify-full&{root}"))
    );
    let mut store = open_push_store(&spec, "s").unwrap();
    store.put("c", &[applied("k", 1)]).unwrap();
    assert_eq!(store.load("c").unwrap().len(), 1);
    drop(store);
    drop_schema(&connect(&url).await, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_store_the_user_may_not_create_says_what_to_grant() {
    let Some(url) = pg_url() else { return };
    let pg = connect(&url).await;
    let role = unique_name("staterole");
    pg.batch_execute(&format!(
        "CREATE ROLE \"{role}\" LOGIN PASSWORD 'hunter2pw'"
    ))
    .await
    .unwrap();
    let mut u = url::Url::parse(&url).unwrap();
    u.set_username(&role).unwrap();
    u.set_password(Some("hunter2pw")).unwrap();
    let schema = unique_name("nostate");
    let spec = common::pg_with_schema(u.as_str(), &schema);
    let err = match open_push_store(&spec, "s") {
        Ok(_) => panic!("a role without CREATE opened the state store"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("permission denied while creating the push state tables"),
        "{err}"
    );
    assert!(err.contains("GRANT CREATE ON DATABASE"), "{err}");
    assert!(!err.contains("hunter2pw"), "{err}");

    // Once an administrator has created the store and granted its use, the same role works
    // (opening sends no DDL when the tables exist).
    drop(open_push_store(&common::pg_with_schema(&url, &schema), "s").unwrap());
    pg.batch_execute(&format!(
        "GRANT USAGE ON SCHEMA \"{schema}\" TO \"{role}\";
         GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA \"{schema}\" TO \"{role}\";
         GRANT USAGE ON ALL SEQUENCES IN SCHEMA \"{schema}\" TO \"{role}\";"
    ))
    .await
    .unwrap();
    {
        let mut store = open_push_store(&spec, "s").unwrap();
        assert!(store.try_lock("c").unwrap());
        store.put("c", &[applied("k", 3)]).unwrap();
        assert_eq!(store.load("c").unwrap()["k"].bc_id, Some(3));
        store.save_run(&RunRecord::default()).unwrap();
    }
    drop_schema(&pg, &schema).await;
    pg.batch_execute(&format!("DROP ROLE \"{role}\""))
        .await
        .unwrap();
}

#[tokio::test]
async fn an_unreachable_state_store_is_an_error_not_a_panic() {
    let Some(url) = pg_url() else { return };
    // Opened from inside a runtime, as the CLI does; a closed port, with a password to hide.
    let mut u = url::Url::parse(&url).unwrap();
    u.set_port(Some(1)).unwrap();
    u.set_password(Some("hunter2pw")).unwrap();
    let err = match open_push_store(u.as_str(), "s") {
        Ok(_) => panic!("connected to port 1"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("connection refused") && err.contains("is PostgreSQL running"),
        "{err}"
    );
    assert!(!err.contains("hunter2pw"), "{err}");
    // A URL with a scheme bcsync does not know is named without its password.
    let err = match open_push_store("postgress://bob:hunter2pw@db/x", "s") {
        Ok(_) => panic!("accepted a misspelt scheme"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("postgress://bob:***@db/x") && !err.contains("hunter2pw"),
        "{err}"
    );
}
