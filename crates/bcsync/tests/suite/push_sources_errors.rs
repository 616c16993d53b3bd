//! Source problems a user can act on: a ragged CSV line or bytes that are not UTF-8 reject
//! that row (with the line and column) and the rest goes on; a mapped column the source
//! does not have is one error before any row is read, naming the columns it has; and
//! `bcsync push` writes rejections and errors to stderr, keeping stdout for the summary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::push_support;

use push_support::*;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ragged_and_non_utf8_rows_are_rejected_and_the_rest_goes_on() {
    let sb = common::sandbox(bc_sandbox::SeedSpec::empty()).await;
    let h = Harness::new(&sb);
    let mut csv = b"mail,given,family\nb\xe9@x.io,B\xe9a,Lee\n".to_vec();
    csv.extend_from_slice(b"c@x.io,Cy\nd@x.io,Di,Do\ne@x.io,Ed,Eve\n");
    std::fs::write(h.path("c.csv"), csv).unwrap();
    let sync = h.sync(
        "c",
        "customers",
        "upsert",
        "email",
        "c.csv",
        CRM_MAPPING,
        "max_rejected = 5\n",
    );
    let out = h.push(&sync, Flags::default()).await;
    assert_eq!(out.run.status, "ok", "{:?}", out.run);
    let rejected: Vec<(u64, &str)> = out
        .run
        .rejected
        .iter()
        .map(|r| (r.row, r.reason.as_str()))
        .collect();
    assert_eq!(
        rejected,
        [
            (1, "line 2, column 1 is not UTF-8; save the file as UTF-8"),
            (2, "line 3 has 2 fields, the header has 3"),
        ]
    );
    assert_eq!(out.run.counts.get("created"), Some(&2));
    let emails: Vec<String> = common::list_all(&sb, "v3", "/customers", "")
        .await
        .iter()
        .map(|c| c["email"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(emails, ["d@x.io", "e@x.io"]);
}

on_both! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_column_is_one_error_before_any_row(backend: Backend) {
    let Some((sb, h)) = Harness::start(backend).await else {
        return;
    };
    let mut csv = String::from("mail,given,surname\n");
    for i in 0..40 {
        csv.push_str(&format!("c{i}@x.io,G{i},F{i}\n"));
    }
    h.write("c.csv", &csv);
    let sync = h.sync("c", "customers", "upsert", "email", "c.csv", CRM_MAPPING, "");
    let out = h.push(&sync, Flags::default()).await;
    assert_eq!(out.run.status, "failed", "{:?}", out.run);
    assert!(out.run.rejected.is_empty(), "not one rejection per row: {:?}", out.run.rejected);
    let message = out.run.message.unwrap_or_default();
    assert!(message.contains("has no column \"family\" (mapped to last_name)"), "{message}");
    assert!(message.contains("it has the columns mail, given, surname"), "{message}");
    assert_eq!(writes(&sb) + reads(&sb), 0, "no request before the error");
}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_query_missing_a_mapped_column_names_the_query_columns() {
    let sb = common::sandbox(bc_sandbox::SeedSpec::empty()).await;
    let h = Harness::new(&sb);
    let conn = rusqlite::Connection::open(h.path("crm.db")).unwrap();
    conn.execute_batch(
        "CREATE TABLE people(mail TEXT, given TEXT, family TEXT);
         INSERT INTO people VALUES ('a@x.io','Ann','Lee'), ('b@x.io','Bob','Ray');",
    )
    .unwrap();
    drop(conn);
    let text = format!(
        "[[sync]]\nname = \"c\"\nobject = \"customers\"\nmode = \"upsert\"\nmatch_key = \"email\"\n\
         source = {{ type = \"sqlite\", path = \"crm.db\", query = \"SELECT mail, given FROM people\" }}\n{CRM_MAPPING}"
    );
    let sync = bcsync::push::config::parse_syncs(&text, &h.path("bcsync.toml"), h.dir.path())
        .unwrap()
        .remove(0);
    let out = h.push(&sync, Flags::default()).await;
    assert_eq!(out.run.status, "failed", "{:?}", out.run);
    assert!(out.run.rejected.is_empty(), "{:?}", out.run.rejected);
    let message = out.run.message.unwrap_or_default();
    assert!(message.contains("has no column \"family\""), "{message}");
    assert!(
        message.contains("it has the columns mail, given."),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejections_go_to_stderr_and_stdout_keeps_the_summary() {
    let sb = common::sandbox(bc_sandbox::SeedSpec::empty()).await;
    let h = Harness::new(&sb);
    h.write(
        "c.csv",
        "mail,given,family\na@x.io,Ann,Lee\nb@x.io,,Ray\nc@x.io,Cy\n",
    );
    h.write_crm_config("upsert", CRM_MAPPING);
    let out = common::bcsync_in(&sb, h.dir.path(), &["push"])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("sync crm"),
        "the summary stays on stdout: {stdout}"
    );
    assert!(!stdout.contains("rejected row"), "stdout: {stdout}");
    assert!(
        stderr.contains("rejected row 2 b@x.io first_name"),
        "stderr: {stderr}"
    );
    assert!(stderr.contains("rejected row 3"), "stderr: {stderr}");
    assert!(
        stderr.contains("line 4 has 2 fields, the header has 3"),
        "stderr: {stderr}"
    );
    for debug in ["UnequalLengths", "Position {", "Some("] {
        assert!(!stderr.contains(debug), "Rust debug output: {stderr}");
    }

    // --json: stdout is one JSON document (the rejections are in it as data).
    let out = common::bcsync_in(&sb, h.dir.path(), &["push", "--json"])
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", common::output_text(&out)));
    assert_eq!(doc[0]["run"]["rejected"].as_array().unwrap().len(), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("rejected row 2"));

    // Errors too: a missing column is reported on stderr, not stdout.
    h.write("c.csv", "mail,given\na@x.io,Ann\n");
    let out = common::bcsync_in(&sb, h.dir.path(), &["push"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("has no column"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no column \"family\""));
}
