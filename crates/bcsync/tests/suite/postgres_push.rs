//! `bcsync push` reading from a real PostgreSQL server, against the sandbox over real HTTP:
//! a table pushed with upsert ends equal in the store, an unchanged rerun writes nothing, a
//! query source works, a table larger than one cursor fetch streams completely with typed
//! values, and a refused connection is explained without the password.
//!
//! The server comes from `BCSYNC_TEST_POSTGRES_URL` (`.ci/run` sets it). Unset, each test
//! prints a skip note and passes, except under `CI=true`, where it fails: CI never skips.
//! Every test works in its own schema (random name) and drops it at the end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::process::Output;

use bc_sandbox::RunningSandbox;
use bcsync::sources::SourceSpec;
use bcsync::sources::postgres::FETCH_ROWS;
use common::{connect, drop_schema, output_text as text, pg_url, unique_name, writes};
use serde_json::{Value, json};

fn bcsync(sb: &RunningSandbox, dir: &std::path::Path, args: &[&str]) -> Output {
    common::bcsync_in(sb, dir, args).output().unwrap()
}

/// The store's customers as sorted (email, first, last).
async fn store_customers(sb: &RunningSandbox) -> Vec<(String, String, String)> {
    let mut out: Vec<_> = common::list_all(sb, "v3", "/customers", "")
        .await
        .iter()
        .map(|c| {
            (
                c["email"].as_str().unwrap().to_owned(),
                c["first_name"].as_str().unwrap_or("").to_owned(),
                c["last_name"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_from_table_and_query_upserts_and_reruns_quietly() {
    let Some(url) = pg_url() else { return };
    let pg = connect(&url).await;
    let schema = unique_name("push");
    pg.batch_execute(&format!(
        "CREATE SCHEMA \"{schema}\";
         CREATE TABLE \"{schema}\".people(email text, first text, last text, active bool);
         INSERT INTO \"{schema}\".people VALUES
           ('a@x.io','Ann','Lee',true), ('b@x.io','Bob','Ray',true), ('c@x.io','Cy','Nil',false);"
    ))
    .await
    .unwrap();

    let sb = common::sandbox(bc_sandbox::SeedSpec::empty()).await;
    let dir = tempfile::tempdir().unwrap();
    let conf = |source: &str| {
        format!(
            "[[sync]]\nname = \"crm\"\nobject = \"customers\"\nmode = \"upsert\"\nmatch_key = \"email\"\n\
             source = {source}\n\
             [sync.mapping]\nemail = \"email\"\nfirst = \"first_name\"\nlast = \"last_name\"\n"
        )
    };
    // A table source: every row, the store ends equal to the table.
    std::fs::write(
        dir.path().join("bcsync.toml"),
        conf(&format!(
            "{{ type = \"postgres\", url = \"{url}\", table = \"{schema}.people\" }}"
        )),
    )
    .unwrap();
    let out = bcsync(&sb, dir.path(), &["push", "--sync", "crm"]);
    assert!(out.status.success(), "{}", text(&out));
    let want = |rows: &[(&str, &str, &str)]| -> Vec<(String, String, String)> {
        rows.iter()
            .map(|(a, b, c)| ((*a).into(), (*b).into(), (*c).into()))
            .collect()
    };
    assert_eq!(
        store_customers(&sb).await,
        want(&[
            ("a@x.io", "Ann", "Lee"),
            ("b@x.io", "Bob", "Ray"),
            ("c@x.io", "Cy", "Nil")
        ])
    );

    // Unchanged rerun: no write request.
    let w0 = writes(&sb);
    let out = bcsync(&sb, dir.path(), &["push", "--sync", "crm"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(writes(&sb) - w0, 0, "{}", text(&out));

    // A query source: only the changed active row is written.
    pg.batch_execute(&format!(
        "UPDATE \"{schema}\".people SET first = 'Annie' WHERE email = 'a@x.io';
         UPDATE \"{schema}\".people SET first = 'Cyrus' WHERE email = 'c@x.io';"
    ))
    .await
    .unwrap();
    std::fs::write(
        dir.path().join("bcsync.toml"),
        conf(&format!(
            "{{ type = \"postgres\", url = \"{url}\", query = \"SELECT email, first, last FROM {schema}.people WHERE active\" }}"
        )),
    )
    .unwrap();
    let w0 = writes(&sb);
    let out = bcsync(&sb, dir.path(), &["push", "--sync", "crm"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(writes(&sb) - w0, 1, "{}", text(&out));
    assert_eq!(
        store_customers(&sb).await,
        want(&[
            ("a@x.io", "Annie", "Lee"),
            ("b@x.io", "Bob", "Ray"),
            ("c@x.io", "Cy", "Nil")
        ])
    );
    drop_schema(&pg, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_table_streams_through_the_cursor_with_typed_values() {
    let Some(url) = pg_url() else { return };
    let pg = connect(&url).await;
    let schema = unique_name("big");
    pg.batch_execute(&format!(
        "CREATE SCHEMA \"{schema}\";
         CREATE TABLE \"{schema}\".items(id bigint, n int, price numeric(30,9), ok bool,
           at timestamptz, doc jsonb, note text);
         INSERT INTO \"{schema}\".items
           SELECT g, g % 7, CASE WHEN g = 2 THEN 12345678901234567890.123456789 ELSE g + 0.5 END,
                  g % 2 = 0, timestamptz '2024-03-01 10:00:00+02' + g * interval '1 second',
                  jsonb_build_object('g', g), NULLIF('n' || g, 'n3')
           FROM generate_series(1, 1200) g;"
    ))
    .await
    .unwrap();
    let src = SourceSpec::Postgres {
        url: Some(url.clone()),
        table: Some(format!("{schema}.items")),
        query: None,
    }
    .build()
    .unwrap();
    let mut stream = src.open().unwrap();
    let mut rows = vec![stream.recv().await.unwrap().unwrap()];
    // Mid-stream, the source's session sits in its transaction with the cursor open, its
    // last statement a bounded FETCH: rows come a fetch at a time, not as one result.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let fetching: i64 = pg
        .query_one(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name LIKE 'bcsync%' \
             AND state = 'idle in transaction' AND query = $1",
            &[&format!("FETCH {FETCH_ROWS} FROM bcsync_src")],
        )
        .await
        .unwrap()
        .get(0);
    assert!(fetching >= 1, "no open cursor fetching {FETCH_ROWS} rows");
    while let Some(r) = stream.recv().await {
        rows.push(r.unwrap());
    }
    assert_eq!(rows.len(), 1200);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r.number, i as u64 + 1);
    }
    let ids: Vec<i64> = rows
        .iter()
        .map(|r| r.values["id"].as_i64().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), 1200);
    let by_id = |id: i64| &rows[ids.iter().position(|x| *x == id).unwrap()].values;
    assert_eq!(
        Value::Object(by_id(1).clone()),
        json!({"id": 1, "n": 1, "price": 1.5, "ok": false, "at": "2024-03-01T08:00:01Z",
               "doc": {"g": 1}, "note": "n1"})
    );
    assert_eq!(by_id(2)["price"], json!("12345678901234567890.123456789"));
    assert_eq!(by_id(3)["note"], json!(null));

    // A missing table is explained, naming the server.
    let src = SourceSpec::Postgres {
        url: Some(url.clone()),
        table: Some(format!("{schema}.nope")),
        query: None,
    }
    .build()
    .unwrap();
    let mut stream = src.open().unwrap();
    let err = stream.recv().await.unwrap().unwrap_err().to_string();
    assert!(err.contains("does not exist"), "{err}");
    drop_schema(&pg, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connection_is_explained_without_the_password() {
    let src = SourceSpec::Postgres {
        url: Some("postgres://bob:s3cret@127.0.0.1:1/test".into()),
        table: Some("t".into()),
        query: None,
    }
    .build()
    .unwrap();
    assert!(!src.describe().contains("s3cret"));
    let mut stream = src.open().unwrap();
    let err = stream.recv().await.unwrap().unwrap_err().to_string();
    assert!(err.contains("connection refused"), "{err}");
    assert!(err.contains("127.0.0.1:1"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
}
