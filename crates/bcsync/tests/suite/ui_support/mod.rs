//! Helpers for the `ui*` tests and the ui bench: runs seeded through the `PushStore` API
//! into a SQLite state store, an extraction database with bookmarks and rows, and
//! `bcsync ui` started as a process on port 0 (its address and any token read from the
//! lines it prints on stderr).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use bcsync::push::mapping::Rejection;
use bcsync::state::push::{LoggedRequest, PushStore, RunRecord, SqlitePushStore};

/// A rejected row whose key needs CSV quoting.
pub const TRICKY_KEY: &str = "o'brien, \"pat\"@example.com";
/// The reason of the rejected row the browser test looks for.
pub const TAKEN_REASON: &str = "email already used by another customer";

fn at(minutes_ago: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::minutes(minutes_ago))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The runs every ui test sees, oldest first; returns the id of the run with rejected rows.
/// `filler` older `orders` runs come first (for paging).
pub fn seed_runs(state: &Path, filler: usize) -> i64 {
    let mut s = SqlitePushStore::open(state, "store1").unwrap();
    for i in 0..filler {
        s.save_run(&RunRecord {
            sync: "orders".into(),
            status: "ok".into(),
            started_at: at(10_000 + i as i64),
            finished_at: at(10_000 + i as i64),
            duration_ms: 1_200 + i as u64,
            requests: 3,
            counts: [("updated".to_owned(), 2u64), ("unchanged".to_owned(), 40)]
                .into_iter()
                .collect(),
            ..RunRecord::default()
        })
        .unwrap();
    }
    s.save_run(&RunRecord {
        sync: "customers".into(),
        status: "ok".into(),
        started_at: at(300),
        finished_at: at(299),
        duration_ms: 2_300,
        requests: 14,
        write_requests: 12,
        lookup_requests: 2,
        counts: [("created".to_owned(), 120u64), ("updated".to_owned(), 5)]
            .into_iter()
            .collect(),
        ..RunRecord::default()
    })
    .unwrap();
    s.save_run(&RunRecord {
        sync: "products".into(),
        status: "failed".into(),
        started_at: at(200),
        finished_at: at(200),
        duration_ms: 150,
        message: Some(
            "could not read postgres://warehouse:pg-pass-9931@db.internal/shop: connection refused"
                .into(),
        ),
        ..RunRecord::default()
    })
    .unwrap();
    let rejected_run = s
        .save_run(&RunRecord {
            sync: "customers".into(),
            status: "rejected_over_threshold".into(),
            started_at: at(60),
            finished_at: at(59),
            duration_ms: 41_000,
            requests: 9,
            write_requests: 8,
            lookup_requests: 1,
            counts: [
                ("created".to_owned(), 3u64),
                ("updated".to_owned(), 2),
                ("rejected".to_owned(), 2),
            ]
            .into_iter()
            .collect(),
            rejected: vec![
                Rejection {
                    row: 7,
                    key: Some("ann@example.com".into()),
                    field: Some("email".into()),
                    reason: TAKEN_REASON.into(),
                },
                Rejection {
                    row: 9,
                    key: Some(TRICKY_KEY.into()),
                    field: Some("phone".into()),
                    reason: "not a phone number: \"12\"".into(),
                },
            ],
            request_log: vec![
                LoggedRequest {
                    method: "POST".into(),
                    path: "/v3/customers".into(),
                    status: Some(200),
                    ms: 182,
                    ..LoggedRequest::default()
                },
                LoggedRequest {
                    method: "POST".into(),
                    path: "/v3/customers".into(),
                    status: Some(422),
                    ms: 95,
                    ..LoggedRequest::default()
                },
                LoggedRequest {
                    method: "GET".into(),
                    path: "/v3/customers?email:in=ann%40example.com".into(),
                    status: Some(200),
                    ms: 60,
                    ..LoggedRequest::default()
                },
            ],
            ..RunRecord::default()
        })
        .unwrap();
    s.save_run(&RunRecord {
        sync: "brevo".into(),
        status: "ok".into(),
        started_at: at(20),
        finished_at: at(19),
        duration_ms: 5_200,
        requests: 6,
        counts: [("contacts_upserted".to_owned(), 48u64)]
            .into_iter()
            .collect(),
        ..RunRecord::default()
    })
    .unwrap();
    rejected_run
}

/// An extraction database as `bcsync extract` leaves it: bookmarks and rows.
pub fn seed_extraction(path: &Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "CREATE TABLE _bcsync_state (stream TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at TEXT NOT NULL);
         CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT);
         CREATE TABLE orders (id INTEGER PRIMARY KEY, total TEXT);
         INSERT INTO customers (email) VALUES ('a@x.io'), ('b@x.io'), ('c@x.io');
         INSERT INTO orders (total) VALUES ('1.00'), ('2.00');",
    )
    .unwrap();
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    conn.execute(
        "INSERT INTO _bcsync_state VALUES ('customers', ?1, ?2), ('orders', ?3, ?2)",
        [
            r#"{"bookmark":"2026-01-02T03:04:05Z"}"#,
            now.as_str(),
            r#"{"bookmark":"2026-01-05T00:00:00Z","ids_at_bookmark":[4]}"#,
        ],
    )
    .unwrap();
}

/// A seeded directory: `bcsync-push.db` and `bcsync.db`; returns the rejected run's id.
pub fn seed_dir(dir: &Path, filler: usize) -> i64 {
    let id = seed_runs(&dir.join("bcsync-push.db"), filler);
    seed_extraction(&dir.join("bcsync.db"));
    id
}

/// `bcsync ui` running as a process; killed when dropped.
pub struct UiProcess {
    child: Child,
    pub base: String,
    /// The token it printed (generated), if any.
    pub printed_token: Option<String>,
    /// Everything it printed on stderr up to the point it was ready.
    pub stderr: String,
}

impl UiProcess {
    /// Starts `bcsync ui ARGS` in `dir` and waits for its address (and its token when it
    /// prints one).
    pub fn start(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bcsync"));
        cmd.current_dir(dir)
            .arg("ui")
            .args(args)
            .env_remove("BCSYNC_UI_TOKEN")
            .env_remove("BIGCOMMERCE_STORE_HASH")
            .env_remove("DATABASE_URL")
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = String::new();
        let mut base = None;
        let mut printed_token = None;
        // Bounded: the process prints its address and token lines right after binding.
        while let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) {
            seen.push_str(&line);
            seen.push('\n');
            if let Some(rest) = line.split("serving the dashboard at ").nth(1) {
                base = Some(rest.trim().trim_end_matches('/').to_owned());
            }
            if let Some(t) = line.split("(set BCSYNC_UI_TOKEN to choose one): ").nth(1) {
                printed_token = Some(t.trim().to_owned());
            }
            if line.contains("no token needed")
                || line.contains("in a browser")
                || line.contains("every request needs the token (")
            {
                break;
            }
        }
        let base = base.unwrap_or_else(|| panic!("bcsync ui did not start: {seen}"));
        // A server bound to every interface is reached through loopback here.
        let base = base.replace("0.0.0.0", "127.0.0.1");
        Self {
            child,
            base,
            printed_token,
            stderr: seen,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for UiProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
