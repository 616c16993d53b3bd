//! Errors a user can act on (issue 9, item 13), through the binary: one cause per message,
//! said once, with the fix; the writable-file hint only where it fits; no `configuration:`
//! prefix on API errors; no Rust type names or Debug structures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::path::Path;
use std::process::Output;

use bc_sandbox::RunningSandbox;

/// The `error: ...` text of a failed run, checked for what no message may contain.
fn error_of(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let line = stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line in:\n{stderr}"))
        .to_owned();
    checked(out, line)
}

/// The line of a failed run's output (stdout or stderr) that mentions `about`: a push
/// reports a failed sync in its summary.
fn line_about(out: &Output, about: &str) -> String {
    let text = common::output_text(out);
    let line = text
        .lines()
        .find(|l| l.contains(about))
        .unwrap_or_else(|| panic!("nothing about {about:?} in:\n{text}"))
        .trim()
        .to_owned();
    checked(out, line)
}

fn checked(out: &Output, line: String) -> String {
    assert!(!out.status.success(), "{}", common::output_text(out));
    for leak in [
        "configuration:",
        "Some(",
        "None",
        " { ",
        "usize",
        "u64",
        "expected struct",
        "SqliteFailure",
        "Error {",
    ] {
        assert!(!line.contains(leak), "{leak:?} in {line}");
    }
    if let Some(at) = line.find("(os error") {
        assert!(
            !line[at + 1..].contains("(os error"),
            "cause repeated: {line}"
        );
    }
    line
}

fn bcsync(sb: &RunningSandbox, dir: &Path, args: &[&str]) -> Output {
    common::bcsync_in(sb, dir, args).output().unwrap()
}

fn sync_from(query: &str) -> String {
    format!(
        "[[sync]]\nname = \"crm\"\nobject = \"customers\"\nmode = \"upsert\"\nmatch_key = \"email\"\n\
         source = {{ type = \"sqlite\", path = \"crm.db\", query = \"{query}\" }}\n\
         [sync.mapping]\nemail = \"email\"\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_source_errors_name_the_query_and_the_fix() {
    let sb = common::sandbox(bc_sandbox::SeedSpec::empty()).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    rusqlite::Connection::open(dir.join("crm.db"))
        .unwrap()
        .execute_batch("CREATE TABLE people(email TEXT); INSERT INTO people VALUES ('a@x.io');")
        .unwrap();

    std::fs::write(
        dir.join("bcsync.toml"),
        sync_from("SELEC email FROM people"),
    )
    .unwrap();
    let e = line_about(&bcsync(&sb, dir, &["push"]), "SQLite source");
    assert!(
        e.contains("is not valid")
            && e.contains("`SELEC email FROM people`")
            && e.contains("fix `query`"),
        "{e}"
    );
    assert!(!e.contains("writable"), "{e}");

    std::fs::write(dir.join("bcsync.toml"), sync_from("DELETE FROM people")).unwrap();
    let e = line_about(&bcsync(&sb, dir, &["push"]), "SQLite source");
    assert!(
        e.contains("`DELETE FROM people`") && e.contains("the query must be a SELECT"),
        "{e}"
    );
    assert!(!e.contains("not opened by another"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_destination_errors_give_the_hint_that_fits() {
    let sb = common::sandbox(bc_sandbox::SeedSpec::empty()).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let e = error_of(&bcsync(
        &sb,
        dir,
        &[
            "extract",
            "--to",
            "sqlite:no/such/dir/x.db",
            "--no-progress",
        ],
    ));
    assert!(
        e.contains("no/such/dir/x.db") && e.contains("check that its directory exists"),
        "{e}"
    );
    // Not a database at all.
    std::fs::write(
        dir.join("notes.db"),
        "these are notes, not a database, at all........",
    )
    .unwrap();
    let e = error_of(&bcsync(
        &sb,
        dir,
        &["extract", "--to", "sqlite:notes.db", "--no-progress"],
    ));
    assert!(e.contains("is not a SQLite database"), "{e}");
    assert!(!e.contains("not opened by another"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_errors_carry_no_configuration_prefix() {
    let sb = common::sandbox(bc_sandbox::SeedSpec::empty()).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // 401: a wrong token, every stream fails the same way and is reported once.
    let out = common::bcsync_in(
        &sb,
        dir,
        &["extract", "--no-progress", "--to", "sqlite:a.db"],
    )
    .env("BIGCOMMERCE_ACCESS_TOKEN", "wrong-token")
    .output()
    .unwrap();
    let e = error_of(&out);
    assert!(
        e.contains("HTTP 401") && e.contains("BIGCOMMERCE_ACCESS_TOKEN"),
        "{e}"
    );
    assert!(e.starts_with("error: GET "), "{e}");
    // 404: a wrong store hash.
    let e = error_of(&bcsync(
        &sb,
        dir,
        &[
            "extract",
            "--no-progress",
            "--store-hash",
            "nope",
            "--to",
            "sqlite:b.db",
        ],
    ));
    assert!(e.starts_with("error: GET ") && e.contains("404"), "{e}");
}

#[test]
fn missing_files_say_so_once() {
    let tmp = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bcsync"))
        .current_dir(tmp.path())
        .args(["--config", "missing.toml", "check"])
        .output()
        .unwrap();
    let e = error_of(&out);
    assert_eq!(e, "error: missing.toml does not exist; check the path");
}

#[test]
fn config_values_of_the_wrong_form_name_the_line_not_a_rust_type() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("bcsync.toml"),
        "store_hash = \"abc\"\n[extract]\nstream_concurrency = \"six\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bcsync"))
        .current_dir(tmp.path())
        .arg("check")
        .output()
        .unwrap();
    let e = error_of(&out);
    assert!(
        e.contains("bcsync.toml line 3 (`stream_concurrency = \"six\"`)")
            && e.contains("expected a whole number"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_singer_state_of_the_wrong_shape_says_what_to_pass() {
    let sb = common::sandbox(bc_sandbox::SeedSpec::empty()).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("tap.json"),
        format!(
            "{{\"store_hash\": \"{}\", \"access_token\": \"{}\", \"base_url\": \"{}\"}}",
            sb.store_hash(),
            sb.token(),
            sb.base_url()
        ),
    )
    .unwrap();
    std::fs::write(dir.join("state.json"), "{\"bookmarks\": {\"orders\": 3}}").unwrap();
    let e = error_of(&bcsync(
        &sb,
        dir,
        &["--config", "tap.json", "--state", "state.json"],
    ));
    assert!(
        e.contains("state file state.json is not a bcsync state")
            && e.contains("expected an object")
            && e.contains("last STATE message"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_postgres_url_parameter_is_named() {
    let sb = common::sandbox(bc_sandbox::SeedSpec::empty()).await;
    let tmp = tempfile::tempdir().unwrap();
    let e = error_of(&bcsync(
        &sb,
        tmp.path(),
        &["extract", "--to", "postgres://u@127.0.0.1:1/db?shema=x"],
    ));
    assert!(
        e.contains("unknown parameter `shema` (did you mean schema?)")
            && e.contains("schema, sslmode"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_already_running_is_not_called_a_configuration_error() {
    let sb = common::sandbox(bc_sandbox::SeedSpec::empty()).await;
    common::set_faults(&sb, "slow=1:300").await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    common::write_customers_sync(dir, 100);
    let first = common::bcsync_in(&sb, dir, &["push"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while common::writes(&sb) == 0 {
        assert!(t0.elapsed().as_secs() < 60, "the first push never wrote");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let second = bcsync(&sb, dir, &["push"]);
    let text = common::output_text(&second);
    let line = text
        .lines()
        .find(|l| l.contains("already running"))
        .unwrap_or_else(|| panic!("{text}"))
        .to_owned();
    let line = checked(&second, line);
    assert!(line.contains("wait for it to finish"), "{line}");
    common::clear_faults(&sb).await;
    let out = first.wait_with_output().unwrap();
    assert!(out.status.success());
}

#[test]
fn a_sync_setting_of_the_wrong_form_names_no_rust_type() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("bcsync.toml"),
        "[[sync]]\nname = \"crm\"\nobject = \"customers\"\nmode = \"upsert\"\nmatch_key = \"email\"\n\
         max_rejected = \"ten\"\nsource = { type = \"csv\", path = \"p.csv\" }\n[sync.mapping]\nemail = \"email\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bcsync"))
        .current_dir(tmp.path())
        .env("BIGCOMMERCE_STORE_HASH", "abc")
        .env("BIGCOMMERCE_ACCESS_TOKEN", "t")
        .args(["push", "--dry-run"])
        .output()
        .unwrap();
    let e = error_of(&out);
    assert!(e.contains("expected a whole number"), "{e}");
}

/// A saved state a destination cannot read back says which stream, which file, and that
/// `--full-refresh` rebuilds it (it used to be a generic configuration error).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_saved_state_names_the_stream_and_the_full_refresh() {
    let sb = common::sandbox(common::small_store()).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let args = [
        "extract",
        "--to",
        "sqlite:copy.db",
        "--streams",
        "brands",
        "--no-progress",
    ];
    let first = bcsync(&sb, dir, &args);
    assert!(first.status.success(), "{}", common::output_text(&first));
    common::db(&dir.join("copy.db"))
        .execute(
            "INSERT OR REPLACE INTO _bcsync_state (stream, state, updated_at) VALUES ('brands', '3', 'now')",
            [],
        )
        .unwrap();
    let e = error_of(&bcsync(&sb, dir, &args));
    assert!(
        e.contains("the saved state of stream brands in")
            && e.contains("is not readable")
            && e.contains("run with --full-refresh to rebuild it"),
        "{e}"
    );
}

/// A damaged commit file of a JSON lines destination is named, with the fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_jsonl_commit_file_says_to_delete_it() {
    let sb = common::sandbox(bc_sandbox::SeedSpec::empty()).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir(dir.join("out")).unwrap();
    std::fs::write(dir.join("out/_state.json"), "[1, 2").unwrap();
    let e = error_of(&bcsync(
        &sb,
        dir,
        &["extract", "--to", "jsonl:out", "--no-progress"],
    ));
    assert!(
        e.contains("_state.json is not readable")
            && e.contains("delete it to start the JSON lines destination over"),
        "{e}"
    );
}

/// Two syncs of one name: its own message, with the fix.
#[test]
fn two_syncs_of_one_name_are_told_to_rename_one() {
    let tmp = tempfile::tempdir().unwrap();
    let sync = "[[sync]]\nname = \"crm\"\nobject = \"customers\"\nmode = \"upsert\"\nmatch_key = \"email\"\n\
         source = { type = \"csv\", path = \"p.csv\" }\n[sync.mapping]\nemail = \"email\"\n";
    std::fs::create_dir(tmp.path().join("syncs")).unwrap();
    std::fs::write(tmp.path().join("syncs/a.toml"), sync).unwrap();
    std::fs::write(tmp.path().join("syncs/b.toml"), sync).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bcsync"))
        .current_dir(tmp.path())
        .env("BIGCOMMERCE_STORE_HASH", "abc")
        .env("BIGCOMMERCE_ACCESS_TOKEN", "t")
        .args(["push", "--dry-run", "--syncs", "syncs"])
        .output()
        .unwrap();
    let e = error_of(&out);
    assert!(e.contains("two syncs are named \"crm\"; rename one"), "{e}");
}
