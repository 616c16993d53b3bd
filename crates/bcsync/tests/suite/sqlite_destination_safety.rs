//! `--to` an SQLite file: another program's database is refused before any change, a new
//! or empty file is fine, and a second extraction into a file in use is refused with the
//! holder's pid, while a holder killed with `kill -9` blocks no one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

/// `bcsync extract --streams brands --to sqlite:FILE`, run in `dir`.
fn extract_brands(
    sb: &bc_sandbox::RunningSandbox,
    dir: &std::path::Path,
    file: &str,
) -> std::process::Command {
    let to = format!("sqlite:{file}");
    bcsync_in(
        sb,
        dir,
        &[
            "extract",
            "--no-progress",
            "--streams",
            "brands",
            "--to",
            &to,
        ],
    )
}

/// Runs [`extract_brands`], which must fail; its output.
fn refused_extract(sb: &bc_sandbox::RunningSandbox, dir: &std::path::Path, file: &str) -> String {
    let out = extract_brands(sb, dir, file).output().unwrap();
    let text = output_text(&out);
    assert!(!out.status.success(), "{text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_programs_database_is_refused_untouched() {
    let sb = sandbox(small_store()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crm.db");
    {
        let conn = db(&path);
        conn.execute_batch(
            "CREATE TABLE contacts (id INTEGER PRIMARY KEY, name TEXT);
             CREATE TABLE deals (id INTEGER PRIMARY KEY, amount REAL);
             INSERT INTO contacts VALUES (1, 'Ada');",
        )
        .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let text = refused_extract(&sb, dir.path(), "crm.db");
    assert!(
        text.contains(
            "crm.db is not a bcsync database (it has tables contacts, deals); choose a new file"
        ),
        "{text}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the file was changed"
    );
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, vec!["crm.db"], "files were left beside it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_file_is_a_new_database() {
    let sb = sandbox(small_store()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.db");
    std::fs::write(&path, b"").unwrap();
    let summary = extract(&sb, &format!("sqlite:{}", path.display()), &["brands"])
        .await
        .unwrap();
    assert!(summary.failed().is_empty(), "{:?}", summary.failed());
    assert_eq!(count(&db(&path), "brands"), 6);
    assert!(
        !dir.path().join("empty.db.lock").exists(),
        "the lock file outlived the run"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_extraction_into_a_file_in_use_is_refused_with_the_holder() {
    let sb = sandbox(small_store()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let spec = format!("sqlite:{}", path.display());
    // This process holds the file, as an extraction in progress does.
    let held = bcsync::destinations::open(&spec, None).unwrap();
    let text = refused_extract(&sb, dir.path(), "shared.db");
    assert!(
        text.contains(&format!(
            "shared.db is in use by another bcsync extraction (pid {} on ",
            std::process::id()
        )),
        "{text}"
    );
    assert!(text.contains(", since 20"), "{text}");
    // An in-process second open is refused the same way.
    let err = bcsync::destinations::open(&spec, None)
        .err()
        .expect("a second open succeeded")
        .to_string();
    assert!(err.contains("in use by another bcsync extraction"), "{err}");
    drop(held);
    assert!(!dir.path().join("shared.db.lock").exists());
    let out = extract_brands(&sb, dir.path(), "shared.db")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(count(&db(&path), "brands"), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_killed_with_sigkill_blocks_no_one() {
    let sb = sandbox(small_store()).await;
    let dir = tempfile::tempdir().unwrap();
    // Every brands request takes 30 s: the first run is surely mid-way when killed.
    set_faults(&sb, "path=/v3/catalog/brands,slow=1:30000").await;
    let mut child = extract_brands(&sb, dir.path(), "k.db")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lock = dir.path().join("k.db.lock");
    let t0 = Instant::now();
    while !std::fs::read_to_string(&lock).is_ok_and(|s| s.contains(&format!("pid {}", child.id())))
    {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the first run never took the lock"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL: no destructor runs, the lock file stays behind.
    child.wait().unwrap();
    assert!(lock.exists());
    clear_faults(&sb).await;
    let out = extract_brands(&sb, dir.path(), "k.db").output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(count(&db(&dir.path().join("k.db")), "brands"), 6);
    assert!(!lock.exists());
}
