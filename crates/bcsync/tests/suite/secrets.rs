//! Secrets never reach what a user sees or keeps: every command is run through the binary
//! with a distinctive access token (in the environment, in bcsync.toml, in a Singer tap
//! config) and a distinctive PostgreSQL password (in `--to`, in `[extract] to`, in a push
//! source, in `--state`), and neither string may appear in stdout, stderr, any file the
//! run wrote (SQLite databases, JSON lines, state files), or any table it wrote in
//! PostgreSQL. Without a PostgreSQL server the password still goes through every URL a
//! user can give, to an unreachable port and to a malformed URL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::path::Path;
use std::process::Output;

use bc_sandbox::{RunningSandbox, SandboxConfig, SeedSpec, TokenConfig};

const TOKEN: &str = "tok-Qx7distinctiveToken";
const PASSWORD: &str = "Pz9-distinctive-pw";

fn tiny_store() -> SeedSpec {
    SeedSpec {
        seed: 3,
        customers: 12,
        addresses_per_customer: 1,
        customer_groups: 2,
        products: 8,
        variants_per_product: 1,
        images_per_product: 1,
        custom_fields_per_product: 1,
        categories: 3,
        brands: 2,
        orders: 6,
        lines_per_order: 2,
        coupons: 2,
        history_days: 10,
    }
}

async fn sandbox() -> RunningSandbox {
    common::sandbox_with(SandboxConfig {
        tokens: vec![TokenConfig::full(TOKEN)],
        seed: tiny_store(),
        ..SandboxConfig::default()
    })
    .await
}

/// Runs `bcsync ARGS` in `dir` and fails the test if a secret is in its output.
fn run(sb: &RunningSandbox, dir: &Path, args: &[&str]) -> Output {
    assert_eq!(sb.token(), TOKEN);
    let out = common::bcsync_in(sb, dir, args)
        .arg("--no-progress")
        .output()
        .unwrap();
    check_output(args, &out);
    out
}

/// As [`run`], for commands without `--no-progress`.
fn run_plain(sb: &RunningSandbox, dir: &Path, args: &[&str]) -> Output {
    let out = common::bcsync_in(sb, dir, args).output().unwrap();
    check_output(args, &out);
    out
}

fn check_output(args: &[&str], out: &Output) {
    let text = common::output_text(out);
    for secret in [TOKEN, PASSWORD] {
        assert!(
            !text.contains(secret),
            "`bcsync {}` printed a secret:\n{text}",
            args.join(" ")
        );
    }
}

/// Every file under `dir` but the ones the user wrote the secrets into.
fn assert_no_secret_in_files(dir: &Path, written_by_user: &[&str], at_least: usize) {
    let mut checked = 0;
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if written_by_user.contains(&name.as_str()) {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            for secret in [TOKEN, PASSWORD] {
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "{} holds a secret",
                    path.display()
                );
            }
            checked += 1;
        }
    }
    assert!(
        checked >= at_least,
        "only {checked} files were written under {dir:?}"
    );
}

/// `url` with the distinctive password (trust authentication accepts any password).
fn with_password(url: &str, schema: &str) -> String {
    let mut u = url::Url::parse(url).unwrap();
    u.set_password(Some(PASSWORD)).unwrap();
    u.query_pairs_mut().append_pair("schema", schema);
    u.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_command_shows_or_stores_the_token_or_a_database_password() {
    let sb = sandbox().await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();

    // Store commands, token from the environment.
    assert!(run_plain(&sb, dir, &["check"]).status.success());
    assert!(
        run_plain(&sb, dir, &["discover", "--base-url", &sb.base_url()])
            .status
            .success()
    );
    assert!(run_plain(&sb, dir, &["demo", "--help"]).status.success());
    for to in ["sqlite:out.db", "jsonl:lines", "singer"] {
        let out = run(&sb, dir, &["extract", "--to", to]);
        assert!(out.status.success(), "{to}: {}", common::output_text(&out));
    }
    // A wrong store hash: the token must not be in the error either.
    let out = run(
        &sb,
        dir,
        &["extract", "--store-hash", "nope", "--to", "sqlite:wrong.db"],
    );
    assert!(!out.status.success());
    let out = run_plain(&sb, dir, &["check", "--store-hash", "nope"]);
    assert!(!out.status.success());

    // PostgreSQL URLs with a password that cannot connect or cannot be parsed.
    for to in [
        format!("postgres://someone:{PASSWORD}@127.0.0.1:1/test?schema=x"),
        format!("postgres://someone:{PASSWORD}@127.0.0.1:notaport/test"),
        format!("postgres://someone:{PASSWORD}@127.0.0.1:1/test?shema=x"),
        format!("postgresx://someone:{PASSWORD}@127.0.0.1:1/test"),
    ] {
        let out = run(&sb, dir, &["extract", "--to", &to, "--streams", "brands"]);
        assert!(!out.status.success(), "{to}");
    }
    let out = run_plain(
        &sb,
        dir,
        &[
            "runs",
            "--state",
            &format!("postgres://someone:{PASSWORD}@127.0.0.1:1/test"),
        ],
    );
    assert!(!out.status.success());

    // The token in bcsync.toml instead of the environment, with a push from SQLite.
    let crm = rusqlite::Connection::open(dir.join("crm.db")).unwrap();
    crm.execute_batch(
        "CREATE TABLE people(email TEXT, first TEXT, last TEXT);
         INSERT INTO people VALUES ('a@x.io','Ann','Lee'), ('b@x.io','Bob','Ray');",
    )
    .unwrap();
    drop(crm);
    std::fs::write(
        dir.join("bcsync.toml"),
        format!(
            "access_token = \"{TOKEN}\"\n\
             [[sync]]\nname = \"crm\"\nobject = \"customers\"\nmode = \"upsert\"\nmatch_key = \"email\"\n\
             source = {{ type = \"sqlite\", path = \"crm.db\", table = \"people\" }}\n\
             [sync.mapping]\nemail = \"email\"\nfirst = \"first_name\"\nlast = \"last_name\"\n"
        ),
    )
    .unwrap();
    let from_file = |args: &[&str]| {
        let mut cmd = common::bcsync_in(&sb, dir, args);
        cmd.env_remove("BIGCOMMERCE_ACCESS_TOKEN");
        let out = cmd.output().unwrap();
        check_output(args, &out);
        out
    };
    assert!(from_file(&["check"]).status.success());
    assert!(from_file(&["push", "--dry-run"]).status.success());
    assert!(from_file(&["push", "--dry-run", "--json"]).status.success());
    let out = from_file(&["push"]);
    assert!(out.status.success(), "{}", common::output_text(&out));
    assert!(from_file(&["runs"]).status.success());
    for format in ["text", "json", "csv"] {
        assert!(
            from_file(&["runs", "show", "1", "--format", format])
                .status
                .success()
        );
    }

    // Singer tap mode with the token in its config JSON.
    std::fs::write(
        dir.join("tap.json"),
        format!(
            "{{\"store_hash\": \"{}\", \"access_token\": \"{TOKEN}\", \"base_url\": \"{}\"}}",
            sb.store_hash(),
            sb.base_url()
        ),
    )
    .unwrap();
    let tap = |args: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_bcsync"));
        cmd.current_dir(dir)
            .env_remove("BIGCOMMERCE_ACCESS_TOKEN")
            .env_remove("BIGCOMMERCE_STORE_HASH")
            .env_remove("BIGCOMMERCE_BASE_URL")
            .args(args);
        let out = cmd.output().unwrap();
        check_output(args, &out);
        out
    };
    assert!(
        tap(&["--config", "tap.json", "--discover"])
            .status
            .success()
    );
    let out = tap(&["--config", "tap.json"]);
    assert!(out.status.success(), "{}", common::output_text(&out));

    // out.db, lines/*, bcsync-push.db at least.
    assert_no_secret_in_files(dir, &["bcsync.toml", "tap.json"], 3);
}

/// The same with a PostgreSQL server: the password in `--to`, in `[extract] to`, in a push
/// source URL and in the push state URL, and no table written holds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_urls_never_show_their_password() {
    let Some(url) = common::pg_url() else { return };
    let pg = common::connect(&url).await;
    let (dest, source, state) = (
        common::unique_name("sec_dest"),
        common::unique_name("sec_src"),
        common::unique_name("sec_state"),
    );
    pg.batch_execute(&format!(
        "CREATE SCHEMA \"{source}\";
         CREATE TABLE \"{source}\".people(email text, first text, last text);
         INSERT INTO \"{source}\".people VALUES ('a@x.io','Ann','Lee'), ('b@x.io','Bob','Ray');"
    ))
    .await
    .unwrap();
    let sb = sandbox().await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let to = with_password(&url, &dest);
    let state_url = with_password(&url, &state);
    let source_url = with_password(&url, "public");

    let out = run(&sb, dir, &["extract", "--to", &to]);
    assert!(out.status.success(), "{}", common::output_text(&out));
    assert!(
        common::output_text(&out).contains("postgres://"),
        "the closing line names the destination"
    );
    // From bcsync.toml, as `[extract] to`, and a push from PostgreSQL with PostgreSQL state.
    std::fs::write(
        dir.join("bcsync.toml"),
        format!(
            "state = \"{state_url}\"\n[extract]\nto = \"{to}\"\nstreams = [\"brands\", \"customers\"]\n\
             [[sync]]\nname = \"crm\"\nobject = \"customers\"\nmode = \"upsert\"\nmatch_key = \"email\"\n\
             source = {{ type = \"postgres\", url = \"{source_url}\", table = \"{source}.people\" }}\n\
             [sync.mapping]\nemail = \"email\"\nfirst = \"first_name\"\nlast = \"last_name\"\n"
        ),
    )
    .unwrap();
    let out = run(&sb, dir, &["extract"]);
    assert!(out.status.success(), "{}", common::output_text(&out));
    for args in [
        &["push", "--dry-run"][..],
        &["push", "--dry-run", "--json"],
        &["push"],
        &["runs"],
        &["runs", "show", "1", "--format", "json"],
        &["runs", "show", "1", "--format", "csv"],
        &["runs", "--state", &state_url],
    ] {
        let out = run_plain(&sb, dir, args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            common::output_text(&out)
        );
    }
    // A wrong store hash with the PostgreSQL destination.
    let out = run(&sb, dir, &["extract", "--store-hash", "nope"]);
    assert!(!out.status.success());

    for schema in [&dest, &state, &source] {
        let tables = pg
            .query(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1",
                &[schema],
            )
            .await
            .unwrap();
        assert!(!tables.is_empty() || schema == &state || schema == &source);
        for t in tables {
            let table: String = t.get(0);
            let hits: i64 = pg
                .query_one(
                    &format!(
                        "SELECT count(*) FROM \"{schema}\".\"{table}\" r \
                         WHERE r::text LIKE '%' || $1 || '%' OR r::text LIKE '%' || $2 || '%'"
                    ),
                    &[&PASSWORD, &TOKEN],
                )
                .await
                .unwrap()
                .get(0);
            assert_eq!(hits, 0, "{schema}.{table} holds a secret");
        }
    }
    for schema in [&dest, &state, &source] {
        common::drop_schema(&pg, schema).await;
    }
    assert_no_secret_in_files(dir, &["bcsync.toml"], 0);
}

/// A config line holding a database URL, quoted by an error, loses its password; and so
/// does any URL a push config error quotes.
#[test]
fn config_errors_quoting_a_url_mask_its_password() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("bcsync.toml"),
        format!("store_hash = \"abc\"\nstat = \"postgres://bob:{PASSWORD}@127.0.0.1/db\"\n"),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bcsync"))
        .current_dir(dir)
        .arg("check")
        .output()
        .unwrap();
    check_output(&["check"], &out);
    let text = common::output_text(&out);
    assert!(
        text.contains("line 2") && text.contains("bob:***@"),
        "{text}"
    );
    std::fs::write(
        dir.join("bcsync.toml"),
        format!(
            "[[sync]]\nname = \"crm\"\nobject = \"customers\"\nmode = \"upsert\"\nmatch_key = \"email\"\n\
             source = {{ type = \"postgres\", url = \"postgres://bob:{PASSWORD}@127.0.0.1/db\", tabel = \"x\" }}\n\
             [sync.mapping]\nemail = \"email\"\n"
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bcsync"))
        .current_dir(dir)
        .env("BIGCOMMERCE_STORE_HASH", "abc")
        .env("BIGCOMMERCE_ACCESS_TOKEN", TOKEN)
        .args(["push", "--dry-run"])
        .output()
        .unwrap();
    check_output(&["push", "--dry-run"], &out);
    assert!(!out.status.success());
}
