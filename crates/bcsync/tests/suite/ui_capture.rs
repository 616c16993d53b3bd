//! Body capture for the live debugger over real HTTP: `bcsync push` against the sandbox
//! with `[debug] capture_bodies = true` (or `--capture-bodies`) stores each request's
//! headers and bodies with the listed personal field redacted and never the access token,
//! and `bcsync ui` shows them under the request's path (run page and event stream); with
//! capture off nothing is stored and the page names the setting that turns it on. Both
//! run stores: SQLite, and PostgreSQL when `BCSYNC_TEST_POSTGRES_URL` is set; and an
//! extraction's captured pages, with the destination's rows left whole.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::ui_support::UiProcess;

use bcsync::state::push::{ALL_REQUESTS, LoggedRequest, open_push_store};

const SYNC_TOML: &str = "[[sync]]\nname = \"crm\"\nobject = \"customers\"\nmode = \"upsert\"\n\
    match_key = \"email\"\nsource = { type = \"csv\", path = \"people.csv\" }\n\
    [sync.mapping]\nemail = \"email\"\nfirst = \"first_name\"\nlast = \"last_name\"\n";

/// Pushes three new customers (`capture{i}@example.com`) with `config` after the sync
/// definition and `flags` on the command line; the harness (its directory holds the files).
fn push(
    sb: &bc_sandbox::RunningSandbox,
    config: &str,
    flags: &[&str],
) -> crate::push_support::Harness {
    let h = crate::push_support::Harness::new(sb);
    h.write(
        "people.csv",
        "email,first,last\ncapture0@example.com,Cap,Zero\ncapture1@example.com,Cap,One\n\
         capture2@example.com,Cap,Two\n",
    );
    h.write("bcsync.toml", &format!("{SYNC_TOML}{config}"));
    let mut args = vec!["push", "--sync", "crm"];
    args.extend_from_slice(flags);
    let out = common::bcsync_in(sb, h.dir.path(), &args).output().unwrap();
    assert!(out.status.success(), "{}", common::output_text(&out));
    h
}

/// The newest run's id and its request log, from the run store `spec`.
fn newest_run(spec: &str) -> (i64, Vec<LoggedRequest>) {
    let store = open_push_store(spec, "").unwrap();
    let id = store.runs(1).unwrap()[0].id;
    let log = store
        .requests_after(id, None, ALL_REQUESTS)
        .unwrap()
        .into_iter()
        .map(|(_, q)| q)
        .collect();
    (id, log)
}

/// Checks a captured run's log: every request captured, the write's body shown with the
/// email redacted and the other fields kept, and neither the token nor an email anywhere.
fn assert_captured(log: &[LoggedRequest], token: &str) {
    assert!(!log.is_empty());
    assert!(log.iter().all(|q| q.capture.is_some()), "{log:?}");
    let write = log
        .iter()
        .find(|q| q.method != "GET")
        .expect("a write request");
    let c = write.capture.as_ref().unwrap();
    let sent = &c.request_body.as_ref().expect("the write's body").text;
    assert!(sent.contains(r#""email":"<redacted>""#), "{sent}");
    assert!(sent.contains(r#""first_name":"Cap""#), "{sent}");
    assert!(
        c.request_headers
            .contains(&("x-auth-token".to_owned(), "<redacted>".to_owned())),
        "{:?}",
        c.request_headers
    );
    let received = &c.response_body.as_ref().expect("the answer's body").text;
    assert!(received.contains(r#""email":"<redacted>""#), "{received}");
    assert!(c.response_headers.iter().any(|(k, _)| k == "content-type"));
    let all = serde_json::to_string(log).unwrap();
    assert!(!all.contains(token), "the token was stored");
    assert!(!all.contains("@example.com"), "an email was stored: {all}");
}

/// The run page and the event stream of run `id` show the capture, redacted.
async fn assert_served(ui: &UiProcess, id: i64, token: &str) {
    let page = text(ui.url(&format!("/runs/{id}"))).await;
    assert!(page.contains("<details class=\"capture\">"), "{page}");
    assert!(page.contains("Request body"), "{page}");
    assert!(
        page.contains("&quot;email&quot;: &quot;&lt;redacted&gt;&quot;"),
        "{page}"
    );
    assert!(!page.contains("id=\"capture-note\""), "{page}");
    assert!(!page.contains(token) && !page.contains("@example.com"));
    // Each request has its own page too (where long runs link).
    let one = reqwest::get(ui.url(&format!("/runs/{id}/requests/0")))
        .await
        .unwrap();
    assert_eq!(one.status(), 200);
    let one = one.text().await.unwrap();
    assert!(one.contains("Request headers"), "{one}");
    assert!(one.contains("x-auth-token: &lt;redacted&gt;"), "{one}");
    assert!(!one.contains(token));
    let missing = reqwest::get(ui.url(&format!("/runs/{id}/requests/100000")))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    // A finished run's stream sends every request, then `end`.
    let stream = text(ui.url(&format!("/runs/{id}/requests/stream"))).await;
    assert!(stream.contains("event: end"), "{stream}");
    assert!(stream.contains(r#"\"email\":\"<redacted>\""#), "{stream}");
    assert!(stream.contains("\"request_headers\""), "{stream}");
    assert!(!stream.contains(token) && !stream.contains("@example.com"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captured_bodies_are_stored_redacted_and_shown_sqlite() {
    let sb = common::sandbox(bc_sandbox::SeedSpec::empty()).await;
    let h = push(
        &sb,
        "[debug]\ncapture_bodies = true\nredact_fields = [\"Email\"]\n",
        &[],
    );
    let dir = h.dir.path();
    let state = dir.join("bcsync-push.db");
    let (id, log) = newest_run(state.to_str().unwrap());
    assert_captured(&log, sb.token());
    // Nothing of the token in the database's files either (WAL included).
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().contains("bcsync-push.db") {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !String::from_utf8_lossy(&bytes).contains(sb.token()),
                "{} holds the token",
                path.display()
            );
        }
    }
    let ui = UiProcess::start(
        dir,
        &["--listen", "127.0.0.1:0", "--store-hash", sb.store_hash()],
        &[],
    );
    assert_served(&ui, id, sb.token()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_capture_no_body_is_stored_and_the_page_says_how_to_turn_it_on() {
    let sb = common::sandbox(bc_sandbox::SeedSpec::empty()).await;
    // Fields listed, capture itself not turned on: still nothing kept.
    let h = push(&sb, "[debug]\nredact_fields = [\"email\"]\n", &[]);
    let dir = h.dir.path();
    let (id, log) = newest_run(dir.join("bcsync-push.db").to_str().unwrap());
    assert!(!log.is_empty());
    assert!(log.iter().all(|q| q.capture.is_none()), "{log:?}");
    let ui = UiProcess::start(
        dir,
        &["--listen", "127.0.0.1:0", "--store-hash", sb.store_hash()],
        &[],
    );
    let page = text(ui.url(&format!("/runs/{id}"))).await;
    assert!(page.contains("id=\"capture-note\""), "{page}");
    assert!(page.contains("--capture-bodies"), "{page}");
    assert!(page.contains("capture_bodies = true"), "{page}");
    assert!(!page.contains("<details class=\"capture\">"), "{page}");
    let stream = text(ui.url(&format!("/runs/{id}/requests/stream"))).await;
    assert!(stream.contains("event: request"), "{stream}");
    assert!(!stream.contains("capture"), "{stream}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captured_bodies_are_stored_redacted_and_shown_postgres() {
    let Some(url) = common::pg_url() else { return };
    let schema = common::unique_name("uicapture");
    let sep = if url.contains('?') { '&' } else { '?' };
    let state = format!("{url}{sep}schema={schema}");
    let sb = common::sandbox(bc_sandbox::SeedSpec::empty()).await;
    // The flag turns capture on; the file only lists the field.
    let h = push(
        &sb,
        "[debug]\nredact_fields = [\"email\"]\n",
        &["--state", &state, "--capture-bodies"],
    );
    let spec = state.clone();
    let (id, log) = tokio::task::spawn_blocking(move || newest_run(&spec))
        .await
        .unwrap();
    assert_captured(&log, sb.token());
    let ui = UiProcess::start(
        h.dir.path(),
        &[
            "--listen",
            "127.0.0.1:0",
            "--store-hash",
            sb.store_hash(),
            "--state",
            &state,
        ],
        &[],
    );
    assert_served(&ui, id, sb.token()).await;
    drop(ui);
    let pg = common::connect(&url).await;
    common::drop_schema(&pg, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extraction_captures_its_answers_with_the_listed_fields_redacted() {
    let sb = common::sandbox(common::small_store()).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bcsync.toml"),
        "[debug]\nredact_fields = [\"email\", \"phone\"]\n",
    )
    .unwrap();
    let out = common::bcsync_in(
        &sb,
        dir.path(),
        &[
            "extract",
            "--to",
            "sqlite:shop.db",
            "--streams",
            "customers",
            "--no-progress",
            "--capture-bodies",
        ],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", common::output_text(&out));
    let (_, log) = newest_run(dir.path().join("bcsync-push.db").to_str().unwrap());
    assert!(!log.is_empty());
    let page = log
        .iter()
        .find_map(|q| q.capture.as_ref()?.response_body.as_ref())
        .expect("a captured page of customers");
    assert!(
        page.text.contains(r#""email":"<redacted>""#),
        "{}",
        page.text
    );
    assert!(!page.text.contains('@'), "{}", page.text);
    // The customers themselves are extracted whole: redaction is for the debugger only.
    let db = rusqlite::Connection::open(dir.path().join("shop.db")).unwrap();
    let with_email: i64 = db
        .query_row(
            "SELECT count(*) FROM customers WHERE email LIKE '%@%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(with_email > 0);
    let all = serde_json::to_string(&log).unwrap();
    assert!(!all.contains(sb.token()));
    let captured: usize = log
        .iter()
        .filter_map(|q| serde_json::to_string(q.capture.as_ref()?).ok())
        .map(|t| t.len())
        .sum();
    eprintln!(
        "extraction capture: {} requests, {captured} bytes captured ({} a request)",
        log.len(),
        captured / log.len()
    );
}

/// The body of a GET of `url`.
async fn text(url: impl reqwest::IntoUrl) -> String {
    reqwest::get(url).await.unwrap().text().await.unwrap()
}
