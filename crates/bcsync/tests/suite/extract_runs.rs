//! Extraction runs are recorded in the run store beside push runs: `bcsync extract`
//! leaves a run named `extract` with the records of each stream, its requests (as the
//! sandbox answered them) and its status, listed by `bcsync runs` and the dashboard.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use bcsync::state::push::{PushStore, SqlitePushStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extraction_is_recorded_with_its_counts_and_requests() {
    let sb = common::sandbox(common::small_store()).await;
    let dir = tempfile::tempdir().unwrap();
    let out = common::bcsync_in(
        &sb,
        dir.path(),
        &[
            "extract",
            "--to",
            "sqlite:shop.db",
            "--streams",
            "customers,brands",
            "--no-progress",
        ],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", common::output_text(&out));

    let store = SqlitePushStore::open(&dir.path().join("bcsync-push.db"), "").unwrap();
    let runs = store.runs(10).unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let run = store.run(runs[0].id).unwrap().unwrap();
    assert_eq!(run.sync, "extract");
    assert_eq!(run.store, sb.store_hash());
    assert_eq!(run.status, "ok");
    let db = rusqlite::Connection::open(dir.path().join("shop.db")).unwrap();
    for stream in ["customers", "brands"] {
        let rows: i64 = db
            .query_row(&format!("SELECT count(*) FROM {stream}"), [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            run.counts[stream], rows as u64,
            "{stream}: {:?}",
            run.counts
        );
    }
    // Every request the store answered for the run is in its log (the sandbox's own log
    // also holds the token check made before the run began).
    let answered = sb
        .state
        .log
        .entries()
        .iter()
        .filter(|e| !e.path.ends_with("/v2/time"))
        .count();
    assert_eq!(run.request_log.len(), answered);
    assert_eq!(run.requests, answered as u64);
    assert_eq!(run.lookup_requests, run.requests);
    assert_eq!(run.throttled, 0);
    assert!(!run.finished_at.is_empty());

    let listed = common::bcsync_in(&sb, dir.path(), &["runs"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.contains("extract"), "{listed}");
}
