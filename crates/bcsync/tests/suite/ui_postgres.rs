//! `bcsync ui` over PostgreSQL stores: runs seeded through the `PushStore` API into a
//! PostgreSQL state store are listed, filtered and shown with their rejected rows, and the
//! status page reads an extraction's bookmarks and table counts from a PostgreSQL schema.
//!
//! The server comes from `BCSYNC_TEST_POSTGRES_URL` (`.ci/run` sets it); unset, the test
//! prints a note and passes, except under `CI=true`, where it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::ui_support;

use bcsync::push::mapping::Rejection;
use bcsync::state::push::{RunRecord, open_push_store};
use common::{connect, drop_schema, pg_url, unique_name};
use ui_support::UiProcess;

#[test]
fn runs_and_extraction_from_postgres() {
    let Some(url) = pg_url() else { return };
    let (state_schema, extract_schema) = (unique_name("uistate"), unique_name("uiextract"));
    let state = common::pg_with_schema(&url, &state_schema);
    let extract = common::pg_with_schema(&url, &extract_schema);
    // Seeded before any runtime: the PostgreSQL store runs its own.
    let rejected_id = {
        let mut store = open_push_store(&state, "pgstore").unwrap();
        for (sync, status) in [("customers", "ok"), ("products", "failed")] {
            store
                .save_run(&RunRecord {
                    sync: sync.into(),
                    status: status.into(),
                    ..RunRecord::default()
                })
                .unwrap();
        }
        store
            .save_run(&RunRecord {
                sync: "customers".into(),
                status: "rejected_over_threshold".into(),
                counts: [("rejected".to_owned(), 1u64)].into_iter().collect(),
                rejected: vec![Rejection {
                    row: 4,
                    key: Some("pg-row@example.com".into()),
                    field: Some("email".into()),
                    reason: "taken in postgres".into(),
                }],
                ..RunRecord::default()
            })
            .unwrap()
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let pg = connect(&url).await;
        pg.batch_execute(&format!(
            "CREATE SCHEMA \"{s}\";
             CREATE TABLE \"{s}\"._bcsync_state (stream text PRIMARY KEY, state jsonb NOT NULL, updated_at timestamptz NOT NULL);
             INSERT INTO \"{s}\"._bcsync_state VALUES ('orders', '{{\"bookmark\":\"2026-02-03T04:05:06Z\"}}', now());
             CREATE TABLE \"{s}\".orders (id bigint PRIMARY KEY);
             INSERT INTO \"{s}\".orders VALUES (1), (2), (3), (4);",
            s = extract_schema
        ))
        .await
        .unwrap();
    });
    let dir = tempfile::tempdir().unwrap();
    let ui = UiProcess::start(
        dir.path(),
        &[
            "--listen",
            "127.0.0.1:0",
            "--state",
            &state,
            "--to",
            &extract,
        ],
        &[],
    );
    rt.block_on(async {
        let base = ui.base.clone();
        let get = |path: String| {
            let url = format!("{base}{path}");
            async move {
                let r = reqwest::get(&url).await.unwrap();
                assert!(r.status().is_success(), "{url}: {}", r.status());
                r.text().await.unwrap()
            }
        };
        let all = get("/runs".into()).await;
        assert!(all.contains("3 runs · page 1 of 1"), "{all}");
        let customers = get("/runs?sync=customers".into()).await;
        assert!(customers.contains("2 runs"), "{customers}");
        let failed = get("/runs?status=failed".into()).await;
        assert!(
            failed.contains("1 run ·") && failed.contains(">products<"),
            "{failed}"
        );
        let run = get(format!("/runs/{rejected_id}")).await;
        assert!(run.contains("pg-row@example.com") && run.contains("taken in postgres"));
        let csv = get(format!("/runs/{rejected_id}/rejected.csv")).await;
        assert!(
            csv.contains("4,pg-row@example.com,email,taken in postgres"),
            "{csv}"
        );
        let status = get("/".into()).await;
        assert!(status.contains("readable"), "{status}");
        assert!(status.contains("2026-02-03T04:05:06Z"), "{status}");
        assert!(
            status.contains("<td>orders</td><td class=\"n\">4</td>"),
            "{status}"
        );
        drop(ui);
        let pg = connect(&url).await;
        drop_schema(&pg, &state_schema).await;
        drop_schema(&pg, &extract_schema).await;
    });
}

/// The fleet page reads the registry in the PostgreSQL state store as `status --fleet`
/// does: before any store is registered it says how to start (and creates nothing), then
/// it lists the stores (paused ones marked), the workers and their leases.
#[test]
fn the_fleet_page_shows_the_registry() {
    use bcsync::fleet::{NewStore, Registry};
    let Some(url) = pg_url() else { return };
    let schema = unique_name("uifleet");
    let state = common::pg_with_schema(&url, &schema);
    let dir = tempfile::tempdir().unwrap();
    let ui = UiProcess::start(
        dir.path(),
        &["--listen", "127.0.0.1:0", "--state", &state],
        &[],
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let get = |path: &str| {
            let url = ui.url(path);
            async move {
                let r = reqwest::get(&url).await.unwrap();
                assert!(r.status().is_success(), "{url}: {}", r.status());
                r.text().await.unwrap()
            }
        };
        let empty = get("/fleet").await;
        assert!(
            empty.contains("No fleet in") && empty.contains("bcsync stores add"),
            "{empty}"
        );
        let pg = connect(&url).await;
        let created: bool = pg
            .query_one(
                "SELECT to_regclass($1) IS NOT NULL",
                &[&format!("\"{schema}\".fleet_stores")],
            )
            .await
            .unwrap()
            .get(0);
        assert!(!created, "looking created the registry");

        let registry = Registry::open(&state).await.unwrap();
        for hash in ["uistore-a", "uistore-b"] {
            registry
                .add_store(&NewStore {
                    store_hash: hash.into(),
                    credentials: "env:X".into(),
                    dest_schema: format!("bc_{hash}"),
                    extract_every: Some(std::time::Duration::from_secs(900)),
                    events: true,
                    ..NewStore::default()
                })
                .await
                .unwrap();
        }
        assert!(registry.set_paused("uistore-b", true).await.unwrap());
        registry
            .heartbeat("ui-worker-1", "hostx", 4242, false, 0)
            .await
            .unwrap();
        let page = get("/fleet").await;
        assert!(
            page.contains("2 stores (1 paused)") && page.contains("1 workers alive"),
            "{page}"
        );
        assert!(
            page.contains("<td>uistore-a</td>") && page.contains("<td>uistore-b</td>"),
            "{page}"
        );
        assert!(page.contains("badge warn\">paused"), "{page}");
        assert!(
            page.contains("<td>ui-worker-1</td><td>hostx</td><td>4242</td>"),
            "{page}"
        );
        assert!(
            page.contains("extract ") && page.contains("events "),
            "{page}"
        );
        drop(ui);
        drop_schema(&pg, &schema).await;
    });
}
