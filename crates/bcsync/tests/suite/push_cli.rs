//! The `bcsync push` and `bcsync runs` commands end to end: `[[sync]]` in bcsync.toml, a
//! SQLite source, dry run as JSON with no write request, run records exported as JSON
//! and CSV, and the exit code when rejected rows exceed `max_rejected`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::push_support;

use std::process::Output;

use push_support::*;
use serde_json::Value;

fn bcsync(sb: &bc_sandbox::RunningSandbox, dir: &std::path::Path, args: &[&str]) -> Output {
    common::bcsync_in(sb, dir, args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_dry_run_runs_and_exports() {
    let sb = common::sandbox(bc_sandbox::SeedSpec::empty()).await;
    let h = Harness::new(&sb);
    let db = h.path("crm.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "CREATE TABLE people(email TEXT, first TEXT, last TEXT, active INTEGER);
         INSERT INTO people VALUES ('a@x.io','Ann','Lee',1), ('b@x.io','Bob','Ray',1), ('c@x.io',NULL,'Nil',1), ('d@x.io','Dee','Off',0);",
    )
    .unwrap();
    h.write(
        "bcsync.toml",
        "[[sync]]\nname = \"crm\"\nobject = \"customers\"\nmode = \"upsert\"\nmatch_key = \"email\"\nmax_rejected = 0\n\
         source = { type = \"sqlite\", path = \"crm.db\", query = \"SELECT email, first, last FROM people WHERE active = 1\" }\n\
         [sync.mapping]\nemail = \"email\"\nfirst = \"first_name\"\nlast = \"last_name\"\n",
    );
    let dir = h.dir.path();

    // Dry run: the plan as JSON, no write request.
    let out = bcsync(&sb, dir, &["push", "--dry-run", "--json"]);
    let plan: Value =
        serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)));
    assert_eq!(writes(&sb), 0);
    let changes = plan[0]["plan"].as_array().unwrap();
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[0]["op"], "create");
    assert_eq!(changes[0]["changes"][1]["field"], "first_name");
    assert_eq!(changes[0]["changes"][1]["after"], "Ann");
    assert_eq!(plan[0]["run"]["rejected"][0]["row"], 3);
    // One invalid row > max_rejected = 0: non-zero exit even for a dry run.
    assert!(!out.status.success());

    // The real run: 2 created, row 3 rejected (no first name), exit code 1.
    let out = bcsync(&sb, dir, &["push", "--sync", "crm"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("rejected row 3"), "{stderr}");
    assert_eq!(common::list_all(&sb, "v3", "/customers", "").await.len(), 2);

    // Run records.
    let list = stdout(&bcsync(&sb, dir, &["runs"]));
    assert_eq!(list.lines().count(), 3, "{list}");
    let json: Value = serde_json::from_str(&stdout(&bcsync(
        &sb,
        dir,
        &["runs", "show", "2", "--format", "json"],
    )))
    .unwrap();
    assert_eq!(json["counts"]["created"], 2);
    assert_eq!(json["write_requests"], 1);
    assert!(
        json["request_log"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["method"] == "POST")
    );
    assert!(
        !json.to_string().contains(sb.token()),
        "no secret in run records"
    );
    let csv = stdout(&bcsync(&sb, dir, &["runs", "show", "2", "--format", "csv"]));
    assert_eq!(csv.lines().next(), Some("row,key,field,reason"));
    assert!(
        csv.lines()
            .nth(1)
            .unwrap()
            .starts_with("3,c@x.io,first_name,"),
        "{csv}"
    );
    let text = stdout(&bcsync(&sb, dir, &["runs", "show", "2"]));
    assert!(text.contains("request log"), "{text}");
    let missing = bcsync(&sb, dir, &["runs", "show", "99"]);
    assert!(!missing.status.success());

    // Unchanged rerun with the bad row fixed: one create, nothing else written.
    conn.execute("UPDATE people SET first = 'Cy' WHERE email = 'c@x.io'", [])
        .unwrap();
    let w0 = writes(&sb);
    let out = bcsync(&sb, dir, &["push"]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert_eq!(writes(&sb) - w0, 1);
}
