//! The CLI's help texts (snapshots) and its clear errors for bad input.
#![allow(clippy::unwrap_used)]

use std::process::Command;

fn bcsync(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_bcsync"))
        .args(args)
        .env_remove("BIGCOMMERCE_STORE_HASH")
        .env_remove("BIGCOMMERCE_ACCESS_TOKEN")
        .env_remove("BIGCOMMERCE_BASE_URL")
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_texts() {
    for cmd in [
        vec!["--help"],
        vec!["extract", "--help"],
        vec!["sandbox", "--help"],
        vec!["sandbox", "brevo", "--help"],
        vec!["demo", "--help"],
        vec!["push", "--help"],
        vec!["runs", "--help"],
        vec!["discover", "--help"],
        vec!["check", "--help"],
        vec!["listen", "--help"],
        vec!["status", "--help"],
        vec!["models", "--help"],
        vec!["models", "refresh", "--help"],
        vec!["models", "export", "--help"],
        vec!["brevo", "--help"],
        vec!["brevo", "sync", "--help"],
        vec!["alerts", "--help"],
        vec!["alerts", "test", "--help"],
    ] {
        let (ok, stdout, _) = bcsync(&cmd);
        assert!(ok);
        insta::assert_snapshot!(cmd.join("_").replace("--", ""), stdout);
    }
}

#[test]
fn missing_credentials_say_what_to_set() {
    let (ok, _, stderr) = bcsync(&["extract"]);
    assert!(!ok);
    assert!(stderr.contains("BIGCOMMERCE_STORE_HASH"), "{stderr}");
}

#[test]
fn unknown_stream_is_named() {
    let (ok, _, stderr) = bcsync(&[
        "extract",
        "--streams",
        "custmers",
        "--store-hash",
        "x",
        "--base-url",
        "http://127.0.0.1:9",
    ]);
    assert!(!ok);
    assert!(
        stderr.contains("custmers") || stderr.contains("access token"),
        "{stderr}"
    );
}

#[test]
fn bad_sandbox_plan_is_explained() {
    let (ok, _, stderr) = bcsync(&["sandbox", "--plan", "gold", "--port", "0"]);
    assert!(!ok);
    assert!(
        stderr.contains("gold") && stderr.contains("standard"),
        "{stderr}"
    );
}

#[test]
fn bad_brevo_tier_is_explained() {
    let (ok, _, stderr) = bcsync(&["sandbox", "brevo", "--tier", "gold", "--port", "0"]);
    assert!(!ok);
    assert!(
        stderr.contains("gold") && stderr.contains("general"),
        "{stderr}"
    );
}
