//! Issue 9 item 10: `check` and `extract` against a base URL nothing listens on fail on the
//! first refused connection (they retried for over two minutes), naming the URL and what
//! to check.
#![allow(clippy::unwrap_used)]

use std::process::Command;

/// A port nothing listens on: bound, then released.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn bcsync(dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_bcsync"))
        .current_dir(dir)
        .env("BIGCOMMERCE_STORE_HASH", "abc123")
        .env("BIGCOMMERCE_ACCESS_TOKEN", "fail-fast-token")
        .env_remove("BIGCOMMERCE_BASE_URL")
        .env_remove("DATABASE_URL")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_names_the_url(stderr: &str, url: &str) {
    assert!(
        stderr.contains(&format!("cannot reach {url}: ")),
        "{stderr}"
    );
    assert!(stderr.contains("--base-url"), "{stderr}");
    // One attempt, not a retry count: "after 9 attempt(s)" was the old ending.
    assert!(!stderr.contains("attempt"), "{stderr}");
    assert!(!stderr.contains("fail-fast-token"), "{stderr}");
}

#[test]
fn check_fails_at_once_on_an_unreachable_base_url() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}", closed_port());
    let (ok, _stdout, stderr) = bcsync(dir.path(), &["check", "--base-url", &url]);
    assert!(!ok, "{stderr}");
    assert_names_the_url(&stderr, &url);
}

#[test]
fn extract_fails_at_once_on_an_unreachable_base_url() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}", closed_port());
    let to = format!("sqlite:{}", dir.path().join("x.db").display());
    let (ok, _stdout, stderr) = bcsync(
        dir.path(),
        &[
            "extract",
            "--no-progress",
            "--streams",
            "brands",
            "--base-url",
            &url,
            "--to",
            &to,
        ],
    );
    assert!(!ok, "{stderr}");
    assert_names_the_url(&stderr, &url);
}
