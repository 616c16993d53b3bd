//! Ctrl-C and SIGTERM during an extraction (issue 9, item 21): the run stops issuing
//! requests, commits what it has, prints "interrupted; rerun to resume" and the summary so
//! far on stderr, exits 143 (SIGTERM) or 130 (SIGINT), and a rerun resumes from what was
//! committed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use bc_sandbox::RunningSandbox;

/// Rows of `_bcsync_state`, 0 while the database or the table does not exist yet.
fn committed_states(db: &Path) -> i64 {
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    conn.query_row("SELECT COUNT(*) FROM _bcsync_state", [], |r| r.get(0))
        .unwrap_or(0)
}

fn start(sb: &RunningSandbox, dir: &Path) -> Child {
    common::bcsync_in(
        sb,
        dir,
        &[
            "extract",
            "--to",
            "sqlite:out.db",
            "--no-progress",
            "--stream-concurrency",
            "2",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap()
}

/// Sends `signal` once some state is committed; returns the run's output.
fn interrupt_after_first_commit(child: Child, db: &Path, signal: &str) -> Output {
    let t0 = Instant::now();
    while committed_states(db) == 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "nothing committed in 60 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let pid = child.id();
    // A hung run must fail the test, not hang it.
    let watchdog = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(60));
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    });
    let out = child.wait_with_output().unwrap();
    drop(watchdog);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_commits_prints_the_summary_and_a_rerun_resumes() {
    let sb = common::sandbox(common::small_store()).await;
    // Slow answers, so the run is mid-way when the signal comes.
    common::set_faults(&sb, "slow=1:150").await;
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("out.db");

    let out = interrupt_after_first_commit(start(&sb, tmp.path()), &db, "TERM");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(143),
        "{}",
        common::output_text(&out)
    );
    assert!(stderr.contains("interrupted; rerun to resume"), "{stderr}");
    // The summary so far, on stderr (stdout carries data only when the run completes).
    assert!(
        stderr.contains("records") && stderr.contains("\ntotal "),
        "{stderr}"
    );
    let committed = committed_states(&db);
    assert!(committed > 0, "state committed before the signal is kept");
    let customers_kept = common::count(&common::db(&db), "customers");

    // The rerun resumes from the bookmarks and ends with the whole store.
    common::clear_faults(&sb).await;
    let out = start(&sb, tmp.path()).wait_with_output().unwrap();
    assert!(out.status.success(), "{}", common::output_text(&out));
    let conn = common::db(&db);
    let store = common::list_all(&sb, "v3", "/customers", "").await;
    assert_eq!(common::count(&conn, "customers"), store.len() as i64);
    assert!(customers_kept <= store.len() as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_exits_130_with_the_message() {
    let sb = common::sandbox(common::small_store()).await;
    common::set_faults(&sb, "slow=1:150").await;
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("out.db");
    let out = interrupt_after_first_commit(start(&sb, tmp.path()), &db, "INT");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        common::output_text(&out)
    );
    assert!(stderr.contains("interrupted; rerun to resume"), "{stderr}");
    assert!(committed_states(&db) > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_push_exits_143_and_a_rerun_creates_no_duplicate() {
    let sb = common::sandbox(bc_sandbox::SeedSpec::empty()).await;
    common::set_faults(&sb, "slow=1:100").await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // More rows than one interrupt slice (100 per slot of concurrency), so a signal after the
    // first write lands mid-push.
    common::write_customers_sync(dir, 1000);
    let push = || {
        common::bcsync_in(&sb, dir, &["push"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let child = push();
    let t0 = Instant::now();
    while common::writes(&sb) == 0 {
        assert!(t0.elapsed() < Duration::from_secs(60), "no write in 60 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    common::sigterm(child.id());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(143),
        "{}",
        common::output_text(&out)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("interrupted; rerun to resume"),
        "{}",
        common::output_text(&out)
    );
    // The summary so far, on stderr: the run is recorded as interrupted with its counts.
    let summary = stderr
        .lines()
        .find(|l| l.starts_with("sync crm (customers upsert): run "))
        .unwrap_or_else(|| panic!("no summary in:\n{}", common::output_text(&out)));
    assert!(
        summary.contains(" interrupted — ") && summary.contains("created="),
        "{summary}"
    );
    let landed = common::list_all(&sb, "v3", "/customers", "").await.len();
    assert!(
        summary.contains(&format!("created={landed}")),
        "{summary} but {landed} customers landed"
    );
    let runs = common::bcsync_in(&sb, dir, &["runs"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&runs.stdout).contains("interrupted"),
        "{}",
        common::output_text(&runs)
    );
    assert!(
        landed < 1000,
        "the signal came after the push had finished: slow the sandbox down more"
    );

    common::clear_faults(&sb).await;
    let out = push().wait_with_output().unwrap();
    assert!(out.status.success(), "{}", common::output_text(&out));
    let customers = common::list_all(&sb, "v3", "/customers", "").await;
    assert_eq!(customers.len(), 1000, "every row once, none twice");
}
