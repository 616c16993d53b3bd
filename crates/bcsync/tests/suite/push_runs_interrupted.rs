//! Run records and run locks: a push is recorded as `running` when it starts, so one
//! killed mid-way shows in `bcsync runs` as `interrupted`; the run lock refuses a second
//! concurrent run, lives with the state store (no file left in the working directory
//! after a push) and never blocks after a `kill -9`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::push_support;

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{clear_faults, set_faults};
use push_support::*;

fn customers_csv(n: usize) -> String {
    let mut s = String::from("mail,given,family\n");
    for i in 0..n {
        s.push_str(&format!("c{i}@example.com,Given{i},Family{i}\n"));
    }
    s
}

fn write_syncs(h: &Harness, rows: usize) {
    h.write("c.csv", &customers_csv(rows));
    h.write(
        "syncs.toml",
        &format!(
            "[[sync]]\nname = \"c\"\nobject = \"customers\"\nmode = \"upsert\"\nmatch_key = \"email\"\nconcurrency = 1\nsource = {}\n{CRM_MAPPING}",
            h.source_toml("c.csv")
        ),
    );
}

fn push(sb: &bc_sandbox::RunningSandbox, h: &Harness) -> Command {
    let state = h.state_spec();
    let mut cmd = common::bcsync_in(
        sb,
        h.dir.path(),
        &["push", "--syncs", "syncs.toml", "--state", &state],
    );
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

fn runs(sb: &bc_sandbox::RunningSandbox, h: &Harness) -> String {
    let out: Output = common::bcsync_in(sb, h.dir.path(), &["runs", "--state", &h.state_spec()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::output_text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits until `n` customer creates have landed (writes are slowed down by the caller).
async fn wait_for_posts(sb: &bc_sandbox::RunningSandbox, n: usize) {
    let t0 = Instant::now();
    while sb
        .state
        .log
        .entries()
        .iter()
        .filter(|e| e.method == "POST" && e.status == 200)
        .count()
        < n
    {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the push never wrote"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn kill(mut child: Child) {
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

/// The run's line in `bcsync runs` (id first).
fn run_line(list: &str, id: u32) -> String {
    list.lines()
        .find(|l| l.split_whitespace().next() == Some(&id.to_string()))
        .unwrap_or_else(|| panic!("no run {id} in:\n{list}"))
        .to_owned()
}

on_both! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_mid_way_shows_as_interrupted(backend: Backend) {
    let Some((sb, h)) = Harness::start(backend).await else {
        return;
    };
    write_syncs(&h, 120);
    h.load_sources().await;
    // Slow enough that the run is still writing while a loaded machine starts two more
    // processes (`runs`, a second push): at 250 ms a POST, a run on a machine busy with two
    // builds finished first. It is killed mid-way, so the delay costs the test nothing.
    set_faults(&sb, "slow=1:1500,method=POST").await;
    let child = push(&sb, &h).spawn().unwrap();
    wait_for_posts(&sb, 2).await;
    // Recorded at start: visible while it runs.
    let list = runs(&sb, &h);
    assert!(run_line(&list, 1).contains("running"), "{list}");

    // A second run of the same sync is refused while the first holds the lock.
    let second = push(&sb, &h).output().unwrap();
    assert!(!second.status.success(), "{}", common::output_text(&second));
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("already running"),
        "{}",
        common::output_text(&second)
    );

    kill(child);
    // PostgreSQL frees the advisory lock once the server sees the connection close.
    let t0 = Instant::now();
    let mut list = runs(&sb, &h);
    while !run_line(&list, 1).contains("interrupted") && t0.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        list = runs(&sb, &h);
    }
    assert!(run_line(&list, 1).contains("interrupted"), "{list}");
    let shown = common::bcsync_in(&sb, h.dir.path(), &["runs", "show", "1", "--state", &h.state_spec()])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains("interrupted") && shown.contains("rerun the sync"), "{shown}");
    // It never finished: no end time, no duration.
    assert!(shown.contains("finished  — (interrupted)"), "{shown}");
    assert!(!shown.contains("duration"), "{shown}");

    // The lock of the killed run does not block; the rerun finishes and the killed run
    // stays interrupted.
    tokio::time::sleep(Duration::from_millis(200)).await;
    clear_faults(&sb).await;
    let rerun = push(&sb, &h).output().unwrap();
    assert!(rerun.status.success(), "{}", common::output_text(&rerun));
    let list = runs(&sb, &h);
    assert!(run_line(&list, 1).contains("interrupted"), "{list}");
    let last = list.lines().nth(1).unwrap();
    assert!(last.contains(" ok "), "{list}");
    assert_eq!(common::list_all(&sb, "v3", "/customers", "").await.len(), 120);
    // The lock file the killed run left behind went with the rerun's own.
    let locks: Vec<_> = std::fs::read_dir(h.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".lock"))
        .collect();
    assert!(locks.is_empty(), "{locks:?}");
}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_leaves_no_lock_file_in_the_working_directory() {
    let sb = common::sandbox(bc_sandbox::SeedSpec::empty()).await;
    let h = Harness::new(&sb);
    h.write("c.csv", &customers_csv(3));
    h.write_crm_config("upsert", CRM_MAPPING);
    let out = common::bcsync_in(&sb, h.dir.path(), &["push"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::output_text(&out));
    assert_eq!(writes(&sb), 1, "the three customers went in one batch");
    let mut files: Vec<String> = std::fs::read_dir(h.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["bcsync-push.db", "bcsync.toml", "c.csv"]);
}
