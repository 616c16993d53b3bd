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
        vec!["stores", "--help"],
        vec!["stores", "add", "--help"],
        vec!["worker", "--help"],
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

/// `bcsync sandbox --stores 3 --stores-file F`: three stores on one port, and the tokens
/// written to F work on their own store only.
#[tokio::test]
async fn sandbox_serves_a_fleet_listed_in_the_stores_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stores.jsonl");
    // Killed on drop, so a failed assertion leaves no sandbox running.
    struct Child(std::process::Child);
    impl Drop for Child {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _child = Child(
        Command::new(env!("CARGO_BIN_EXE_bcsync"))
            .args(["sandbox", "--stores", "3", "--seed", "empty", "--port", "0"])
            .arg("--stores-file")
            .arg(&file)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    // The file appears whole (written aside and renamed) once the stores are served.
    let mut text = String::new();
    for _ in 0..600 {
        if let Ok(t) = std::fs::read_to_string(&file) {
            text = t;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let stores: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(stores.len(), 3, "{text:?}");
    let http = reqwest::Client::new();
    let get = |i: usize, token: &serde_json::Value| {
        let s = &stores[i];
        http.get(format!(
            "{}/stores/{}/v2/time",
            s["base_url"].as_str().unwrap(),
            s["store_hash"].as_str().unwrap()
        ))
        .header("X-Auth-Token", token.as_str().unwrap())
        .send()
    };
    for (i, s) in stores.iter().enumerate() {
        assert_eq!(s["store_hash"], format!("sandbox-000{}", i + 1));
        assert_eq!(get(i, &s["token"]).await.unwrap().status(), 200);
    }
    assert_eq!(get(1, &stores[0]["token"]).await.unwrap().status(), 401);
}
