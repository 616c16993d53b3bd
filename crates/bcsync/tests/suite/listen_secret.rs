//! The webhook secret `listen` generates is kept in a file only its owner can read, and
//! never reaches the output or the logs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::listen_support;

use std::process::Stdio;
use std::time::Duration;

use listen_support::common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_secret_is_stored_privately_and_never_printed() {
    let sb = common::sandbox(bc_sandbox::SeedSpec {
        customers: 5,
        products: 5,
        orders: 5,
        ..common::small_store()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut child = common::bcsync_in(
        &sb,
        dir.path(),
        &[
            "-vv",
            "listen",
            "--to",
            "sqlite:shop.db",
            "--bind",
            "127.0.0.1:0",
        ],
    )
    .env_remove("BCSYNC_WEBHOOK_SECRET")
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let secret_file = dir.path().join("shop.webhook-secret");
    for _ in 0..300 {
        if dir.path().join("shop-inbox.db").exists() && secret_file.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    common::sigterm(child.id());
    let out = tokio::task::spawn_blocking(move || {
        let _ = child.wait();
        let mut s = String::new();
        use std::io::Read;
        child.stdout.take().unwrap().read_to_string(&mut s).unwrap();
        child.stderr.take().unwrap().read_to_string(&mut s).unwrap();
        s
    })
    .await
    .unwrap();
    let secret = std::fs::read_to_string(&secret_file).unwrap();
    assert!(secret.trim().len() >= 32, "a long random secret");
    assert!(
        !out.contains(secret.trim()),
        "the secret was printed:\n{out}"
    );
    assert!(out.contains("listening on"), "{out}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secret_file)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "only the owner may read the secret file");
    }
}
