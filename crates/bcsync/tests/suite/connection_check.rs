//! `bcsync extract` checks the connection once before it opens the destination: a wrong
//! token or store hash is one error naming the fix, and no database file is created.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::*;

/// The output of a failed run and its lines about an error, of which there must be one.
fn one_error(out: &std::process::Output) -> (String, Vec<String>) {
    let text = output_text(out);
    assert!(!out.status.success(), "{text}");
    let errors: Vec<String> = text
        .lines()
        .filter(|l| l.to_ascii_lowercase().contains("error"))
        .map(str::to_owned)
        .collect();
    assert_eq!(errors.len(), 1, "{text}");
    (text, errors)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_fails_once_and_creates_nothing() {
    let sb = sandbox(small_store()).await;
    let dir = tempfile::tempdir().unwrap();
    let out = bcsync_in(&sb, dir.path(), &["extract", "--no-progress"])
        .env("BIGCOMMERCE_ACCESS_TOKEN", "not-the-token")
        .output()
        .unwrap();
    let (text, errors) = one_error(&out);
    assert!(
        errors[0].contains("access token was rejected (HTTP 401)"),
        "{text}"
    );
    assert!(errors[0].contains("BIGCOMMERCE_ACCESS_TOKEN"), "{text}");
    assert!(
        !text.contains("not-the-token"),
        "the token was printed: {text}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "a file was created"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_store_hash_fails_once_and_creates_nothing() {
    let sb = sandbox(small_store()).await;
    let dir = tempfile::tempdir().unwrap();
    let out = bcsync_in(
        &sb,
        dir.path(),
        &["extract", "--no-progress", "--to", "sqlite:out.db"],
    )
    .env("BIGCOMMERCE_STORE_HASH", "nosuchstore")
    .output()
    .unwrap();
    let (text, errors) = one_error(&out);
    assert!(errors[0].contains("HTTP 404"), "{text}");
    assert!(errors[0].contains("check the store hash"), "{text}");
    assert!(
        !dir.path().join("out.db").exists(),
        "the database was created"
    );
}
