//! The dashboard's live debugger over real HTTP: while `bcsync push` runs against a slow
//! sandbox, `bcsync ui` streams the run's requests as server-sent events (each with its
//! position, method, path, status and the rate limit left), in order and without a gap,
//! then `end` with the run's status; the run page of a running run carries the script
//! that appends them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::ui_support::UiProcess;

use std::path::Path;
use std::time::Duration;

use bcsync::state::push::{PushStore, SqlitePushStore};
use serde_json::Value;

/// A sync `crm` pushing `n` new customers one request at a time against `sb`, whose every
/// answer the sandbox holds `delay_ms`: a run that lasts seconds, for the live debugger.
pub(crate) async fn slow_push(
    sb: &bc_sandbox::RunningSandbox,
    n: usize,
    delay_ms: u64,
) -> crate::push_support::Harness {
    let h = crate::push_support::Harness::new(sb);
    let mut csv = String::from("email,first,last\n");
    for i in 0..n {
        csv.push_str(&format!("live{i}@example.com,Live,Number{i}\n"));
    }
    h.write("people.csv", &csv);
    h.write(
        "bcsync.toml",
        "[[sync]]\nname = \"crm\"\nobject = \"customers\"\nmode = \"upsert\"\nmatch_key = \"email\"\n\
         concurrency = 1\nsource = { type = \"csv\", path = \"people.csv\" }\n\
         [sync.mapping]\nemail = \"email\"\nfirst = \"first_name\"\nlast = \"last_name\"\n",
    );
    crate::common::set_faults(sb, &format!("slow=1:{delay_ms}")).await;
    h
}

/// Waits (bounded) until the state store at `state` holds a run; the newest one's id.
pub(crate) async fn first_run_id(state: &Path) -> i64 {
    for _ in 0..1200 {
        if state.exists()
            && let Ok(store) = SqlitePushStore::open(state, "")
            && let Some(run) = store.runs(1).unwrap().first()
        {
            return run.id;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no run was recorded in {}", state.display())
}

/// One server-sent event: its name and data.
fn parse_events(buffer: &mut String) -> Vec<(String, String)> {
    let mut out = Vec::new();
    while let Some(end) = buffer.find("\n\n") {
        let block: String = buffer.drain(..end + 2).collect();
        let (mut name, mut data) = (String::from("message"), String::new());
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("event:") {
                name = v.trim().to_owned();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push_str(v.trim_start());
            }
        }
        // Keep-alive comments carry no data.
        if !data.is_empty() {
            out.push((name, data));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_push_streams_its_requests_to_the_dashboard() {
    // A plan with a rate limit, so answers carry the requests left (as a real store's do).
    let sb = common::sandbox_with(common::standard_plan(bc_sandbox::SeedSpec::empty(), 1.0)).await;
    let h = slow_push(&sb, 60, 300).await;
    let dir = h.dir.path();
    let ui = UiProcess::start(
        dir,
        &["--listen", "127.0.0.1:0", "--store-hash", sb.store_hash()],
        &[],
    );
    let mut push = common::bcsync_in(&sb, dir, &["push", "--sync", "crm"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();

    // The run's record appears as `running` before its first write.
    let state = dir.join("bcsync-push.db");
    let run_id = first_run_id(&state).await;

    let page = reqwest::get(ui.url(&format!("/runs/{run_id}")))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let script = reqwest::get(ui.url("/assets/live.js")).await.unwrap();
    assert_eq!(script.status(), 200);
    assert!(script.text().await.unwrap().contains("EventSource"));

    let mut stream = reqwest::get(ui.url(&format!("/runs/{run_id}/requests/stream")))
        .await
        .unwrap();
    assert_eq!(
        stream.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let mut buffer = String::new();
    let mut requests: Vec<Value> = Vec::new();
    let mut seen_while_running = 0;
    let mut end = None;
    while end.is_none() {
        let chunk = tokio::time::timeout(Duration::from_secs(60), stream.chunk())
            .await
            .expect("the stream went silent")
            .unwrap()
            .expect("the stream closed before its end event");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        for (name, data) in parse_events(&mut buffer) {
            match name.as_str() {
                "request" => {
                    if push.try_wait().unwrap().is_none() {
                        seen_while_running += 1;
                    }
                    requests.push(serde_json::from_str(&data).unwrap());
                }
                "end" => end = Some(data),
                other => panic!("unexpected event {other}: {data}"),
            }
        }
    }
    let status = push.wait().unwrap();
    assert!(status.success());
    assert_eq!(end.as_deref(), Some("ok"));
    assert!(
        seen_while_running > 0,
        "no request reached the dashboard while the run was going"
    );
    // Every request once, in order, as the finished record has them.
    let seqs: Vec<i64> = requests
        .iter()
        .map(|r| r["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (0..requests.len() as i64).collect::<Vec<_>>());
    let store = SqlitePushStore::open(&state, "").unwrap();
    let run = store.run(run_id).unwrap().unwrap();
    assert_eq!(run.request_log.len(), requests.len());
    assert!(
        requests.len() >= 7,
        "lookups and 6 batches of 10: {requests:?}"
    );
    for (r, logged) in requests.iter().zip(&run.request_log) {
        assert_eq!(r["method"], logged.method.as_str());
        assert_eq!(r["path"], logged.path.as_str());
        assert_eq!(r["status"].as_u64(), logged.status.map(u64::from));
        assert!(r["at"].is_string(), "{r}");
        assert!(r["rate_left"].is_i64(), "the rate limit left is shown: {r}");
    }
    assert!(requests.iter().any(|r| r["method"] == "POST"));
    eprintln!(
        "live debugger: {} requests streamed, {seen_while_running} while the run was going",
        requests.len()
    );
    // The page loaded while the run was going carries the live script and the table it
    // fills (the run lasts seconds: one request at a time, each held 300 ms).
    assert!(page.contains("/assets/live.js"), "{page}");
    assert!(page.contains(&format!("data-run=\"{run_id}\"")), "{page}");
}
