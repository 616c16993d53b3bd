//! `bcsync ui` over real HTTP, started as the binary on port 0 over seeded stores: each
//! screen renders what the stores hold (status with last runs per sync, Brevo and the
//! extraction's bookmarks; the runs list newest first, filtered and paged; a run with its
//! counts, rejected rows and requests), the rejected rows download as CSV and JSON that
//! parse back, the token is required beyond loopback (header, `?token=` then cookie) and
//! not on loopback, and no page carries a database password or a token.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::ui_support;

use reqwest::StatusCode;
use ui_support::{TAKEN_REASON, TRICKY_KEY, UiProcess, seed_dir};

async fn get(url: &str) -> (StatusCode, String) {
    let r = reqwest::get(url).await.unwrap();
    (r.status(), r.text().await.unwrap())
}

/// The ids of the runs listed, in page order (a row links its run twice: id and sync).
fn listed_ids(html: &str) -> Vec<i64> {
    let mut ids: Vec<i64> = html
        .split("<td><a href=\"/runs/")
        .skip(1)
        .filter_map(|s| s.split('"').next()?.parse().ok())
        .collect();
    ids.dedup();
    ids
}

#[tokio::test]
async fn status_shows_last_runs_brevo_and_extraction() {
    let dir = tempfile::tempdir().unwrap();
    seed_dir(dir.path(), 3);
    let ui = UiProcess::start(
        dir.path(),
        &["--listen", "127.0.0.1:0", "--store-hash", "store1"],
        &[],
    );
    assert!(ui.stderr.contains("no token needed"), "{}", ui.stderr);
    let (status, html) = get(&ui.url("/")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<h1>Status</h1>"));
    assert!(html.contains("store1"));
    // The last run of each sync: customers' is the rejected one, products failed.
    let push = html.split("Push syncs: last run").nth(1).unwrap();
    let push = push.split("<h2>").next().unwrap();
    for want in [
        "customers",
        "products",
        "orders",
        "rejected_over_threshold",
        "failed",
    ] {
        assert!(push.contains(want), "{want} missing from {push}");
    }
    assert!(
        !push.contains(">brevo<"),
        "brevo runs have their own section"
    );
    let brevo = html.split("Brevo: last run").nth(1).unwrap();
    assert!(brevo.contains(">contacts_upserted 48<"), "{brevo}");
    // Bookmarks with their lag, and rows per table.
    assert!(html.contains("2026-01-02T03:04:05Z"), "{html}");
    assert!(html.contains("2026-01-05T00:00:00Z"));
    let tables = html.split("Extraction: tables").nth(1).unwrap();
    assert!(
        tables.contains("<td>customers</td><td class=\"n\">3</td>"),
        "{tables}"
    );
    assert!(tables.contains("<td>orders</td><td class=\"n\">2</td>"));
    assert!(!tables.contains("_bcsync_state"));
    // The stylesheet is served by the binary.
    let (status, css) = get(&ui.url("/assets/style.css")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(css.contains("@media"));
}

#[tokio::test]
async fn runs_are_listed_newest_first_filtered_and_paged() {
    let dir = tempfile::tempdir().unwrap();
    seed_dir(dir.path(), 120);
    let ui = UiProcess::start(dir.path(), &["--listen", "127.0.0.1:0"], &[]);
    // 120 filler runs and 4 others: 124, 50 a page.
    let (status, first) = get(&ui.url("/runs")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(first.contains("124 runs · page 1 of 3"), "{first}");
    let ids = listed_ids(&first);
    assert_eq!(ids, (75..=124).rev().collect::<Vec<_>>());
    let (_, third) = get(&ui.url("/runs?page=3")).await;
    assert_eq!(listed_ids(&third), (1..=24).rev().collect::<Vec<_>>());
    assert!(
        third.contains("rel=\"prev\" href=\"/runs?page=2\""),
        "{third}"
    );
    assert!(!third.contains("rel=\"next\""));

    let (_, customers) = get(&ui.url("/runs?sync=customers")).await;
    assert_eq!(listed_ids(&customers), vec![123, 121]);
    assert!(customers.contains("<option value=\"customers\" selected>customers</option>"));
    let (_, failed) = get(&ui.url("/runs?status=failed&sync=")).await;
    assert_eq!(listed_ids(&failed), vec![122]);
    let (_, both) = get(&ui.url("/runs?sync=customers&status=ok")).await;
    assert_eq!(listed_ids(&both), vec![121]);
    let (_, none) = get(&ui.url("/runs?sync=nothing")).await;
    assert!(none.contains("No run matches."));
    // The filter survives paging.
    let (_, orders) = get(&ui.url("/runs?sync=orders&page=2")).await;
    assert!(orders.contains("120 runs · page 2 of 3"));
    assert!(
        orders.contains("href=\"/runs?sync=orders&amp;page=3\""),
        "{orders}"
    );
    // A nonsense page number is the first page, not an error.
    let (status, junk) = get(&ui.url("/runs?page=abc")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed_ids(&junk)[0], 124);
}

#[tokio::test]
async fn a_run_shows_its_counts_rejected_rows_and_requests_and_downloads_them() {
    let dir = tempfile::tempdir().unwrap();
    let id = seed_dir(dir.path(), 0);
    let ui = UiProcess::start(dir.path(), &["--listen", "127.0.0.1:0"], &[]);
    let (status, html) = get(&ui.url(&format!("/runs/{id}"))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&format!("Run #{id} · customers")));
    assert!(html.contains("rejected_over_threshold"));
    assert!(html.contains("41.0 s"));
    assert!(html.contains("9 (8 writes, 1 lookups)"));
    assert!(html.contains("<td>created</td><td class=\"n\">3</td>"));
    assert!(html.contains("<td class=\"n\">7</td><td>ann@example.com</td><td>email</td>"));
    assert!(html.contains(TAKEN_REASON));
    assert!(
        html.contains("o&#39;brien, &quot;pat&quot;@example.com"),
        "escaped key"
    );
    assert!(html.contains("/v3/customers?email:in=ann%40example.com"));
    assert!(html.contains("<span class=\"bad\">422</span>"));

    let csv_resp = reqwest::get(ui.url(&format!("/runs/{id}/rejected.csv")))
        .await
        .unwrap();
    assert_eq!(csv_resp.status(), StatusCode::OK);
    assert!(
        csv_resp.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(&format!("run-{id}-rejected.csv"))
    );
    let body = csv_resp.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    assert_eq!(
        reader.headers().unwrap(),
        vec!["row", "key", "field", "reason"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(&rows[0][3], TAKEN_REASON);
    assert_eq!(&rows[1][1], TRICKY_KEY);
    assert_eq!(&rows[1][3], "not a phone number: \"12\"");

    let json: serde_json::Value = reqwest::get(ui.url(&format!("/runs/{id}/rejected.json")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(json[0]["row"], 7);
    assert_eq!(json[0]["key"], "ann@example.com");
    assert_eq!(json[1]["key"], TRICKY_KEY);
    assert_eq!(json.as_array().unwrap().len(), 2);

    // A run without rejections says so; unknown runs are a 404 page.
    let (_, ok_run) = get(&ui.url("/runs/1")).await;
    assert!(ok_run.contains("No row was rejected."));
    assert!(ok_run.contains("No request log was recorded"));
    assert_eq!(get(&ui.url("/runs/999")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(get(&ui.url("/runs/abc")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        get(&ui.url("/runs/999/rejected.csv")).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn beyond_loopback_every_request_needs_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let id = seed_dir(dir.path(), 0);
    let ui = UiProcess::start(dir.path(), &["--listen", "0.0.0.0:0"], &[]);
    let token = ui
        .printed_token
        .clone()
        .expect("a generated token is printed");
    assert!(token.len() >= 32);
    for path in [
        "/".to_owned(),
        "/runs".to_owned(),
        format!("/runs/{id}"),
        format!("/runs/{id}/rejected.csv"),
        format!("/runs/{id}/rejected.json"),
        "/nowhere".to_owned(),
    ] {
        let (status, body) = get(&ui.url(&path)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        assert!(
            !body.contains(TAKEN_REASON) && !body.contains("customers"),
            "{path}"
        );
        let (status, _) = get(&ui.url(&format!("{path}?token=wrong"))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }
    // The stylesheet alone is public: it styles the "token required" page.
    let (status, css) = get(&ui.url("/assets/style.css")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(css.contains("@media"));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client
        .get(ui.url(&format!("/runs/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains(TAKEN_REASON));
    let r = client
        .get(ui.url("/runs"))
        .bearer_auth("not-the-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");

    // A browser: `?token=` once sets a cookie and redirects to the page without it.
    let r = client
        .get(ui.url(&format!("/runs?sync=customers&token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/runs?sync=customers");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_owned();
    let r = client
        .get(ui.url("/runs?sync=customers"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("customers"));
    assert!(!html.contains(&token), "the token never appears in a page");
}

#[tokio::test]
async fn a_chosen_token_is_used_and_not_printed() {
    let dir = tempfile::tempdir().unwrap();
    seed_dir(dir.path(), 0);
    let ui = UiProcess::start(
        dir.path(),
        &["--listen", "0.0.0.0:0"],
        &[("BCSYNC_UI_TOKEN", "chosen-token-5521")],
    );
    assert_eq!(ui.printed_token, None);
    assert!(!ui.stderr.contains("chosen-token-5521"), "{}", ui.stderr);
    assert_eq!(get(&ui.url("/")).await.0, StatusCode::UNAUTHORIZED);
    let r = reqwest::Client::new()
        .get(ui.url("/"))
        .bearer_auth("chosen-token-5521")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // ui_token in bcsync.toml, when the environment names none.
    std::fs::write(
        dir.path().join("bcsync.toml"),
        "ui_token = \"file-token-8812\"\n",
    )
    .unwrap();
    let ui = UiProcess::start(dir.path(), &["--listen", "0.0.0.0:0"], &[]);
    assert_eq!(ui.printed_token, None);
    let r = reqwest::Client::new()
        .get(ui.url("/"))
        .bearer_auth("file-token-8812")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn on_loopback_no_token_is_asked_even_when_one_is_set() {
    let dir = tempfile::tempdir().unwrap();
    seed_dir(dir.path(), 0);
    let ui = UiProcess::start(
        dir.path(),
        &["--listen", "127.0.0.1:0"],
        &[("BCSYNC_UI_TOKEN", "unused-token")],
    );
    assert_eq!(ui.printed_token, None);
    for path in ["/", "/runs", "/runs/1"] {
        assert_eq!(get(&ui.url(path)).await.0, StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn no_page_carries_a_password_or_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let id = seed_dir(dir.path(), 0);
    // An extraction destination with a password that cannot be reached (port 1), and a
    // run whose failure message names a URL with a password (seeded).
    let ui = UiProcess::start(
        dir.path(),
        &[
            "--listen",
            "0.0.0.0:0",
            "--to",
            "postgres://extractor:pw-extract-7730@127.0.0.1:1/shop",
        ],
        &[("BCSYNC_UI_TOKEN", "secret-token-4410")],
    );
    let client = reqwest::Client::new();
    let mut seen = String::new();
    for path in [
        "/".to_owned(),
        "/runs".to_owned(),
        "/runs?status=failed".to_owned(),
        format!("/runs/{id}"),
        "/runs/2".to_owned(),
        format!("/runs/{id}/rejected.csv"),
        format!("/runs/{id}/rejected.json"),
        "/nowhere".to_owned(),
    ] {
        let r = client
            .get(ui.url(&path))
            .bearer_auth("secret-token-4410")
            .send()
            .await
            .unwrap();
        let body = r.text().await.unwrap();
        seen.push_str(&body);
    }
    for secret in ["pw-extract-7730", "pg-pass-9931", "secret-token-4410"] {
        assert!(!seen.contains(secret), "{secret} shown");
    }
    // The facts are still shown, redacted.
    assert!(
        seen.contains("postgres://extractor:***@127.0.0.1:1/shop"),
        "{seen}"
    );
    assert!(seen.contains("postgres://warehouse:***@db.internal/shop"));
}

#[tokio::test]
async fn with_no_store_yet_the_pages_say_so_and_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ui = UiProcess::start(dir.path(), &["--listen", "127.0.0.1:0"], &[]);
    let (status, html) = get(&ui.url("/")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("no push has run yet"));
    assert!(html.contains("no extraction has run yet"));
    let (status, html) = get(&ui.url("/runs")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("No run matches."));
    assert!(!dir.path().join("bcsync-push.db").exists());
    assert!(!dir.path().join("bcsync.db").exists());
}

#[tokio::test]
async fn charts_draw_the_recent_runs_and_say_why_latency_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    seed_dir(dir.path(), 3);
    let ui = UiProcess::start(
        dir.path(),
        &["--listen", "127.0.0.1:0", "--store-hash", "store1"],
        &[],
    );
    let (status, html) = get(&ui.url("/charts")).await;
    assert_eq!(status, StatusCode::OK);
    for title in [
        "Requests per minute, per run",
        "Records per run",
        "Rejected rows per run",
        "listen: store change to committed rows",
    ] {
        assert!(html.contains(title), "{title} missing");
    }
    // Each finished run is a bar in each run chart, linked to its page.
    let bars = html.matches("<rect class=\"bar\"").count();
    assert!(bars >= 9, "{bars} bars");
    assert!(html.contains("<a href=\"/runs/"));
    // The seeded customers run: 120 created and 5 updated.
    assert!(html.contains("customers: 125 records</title>"), "{html}");
    assert!(
        html.contains("bcsync-inbox.db does not exist"),
        "no listen inbox beside the destination: {html}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_checks_the_store_once_a_minute_and_shows_listen_health() {
    let sb = crate::common::sandbox_with(crate::common::standard_plan(
        bc_sandbox::SeedSpec::empty(),
        1.0,
    ))
    .await;
    let dir = tempfile::tempdir().unwrap();
    seed_dir(dir.path(), 0);
    // An inbox beside the destination: `listen` ran here (and is not running now).
    let inbox = bcsync::listen::inbox::sqlite_path_for(&dir.path().join("bcsync.db"));
    drop(bcsync::listen::Inbox::open_sqlite(&inbox).unwrap());
    let ui = UiProcess::start(
        dir.path(),
        &["--listen", "127.0.0.1:0", "--store-hash", sb.store_hash()],
        &[
            ("BIGCOMMERCE_ACCESS_TOKEN", sb.token()),
            ("BIGCOMMERCE_BASE_URL", &sb.base_url()),
        ],
    );
    let (status, html) = get(&ui.url("/")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"store-check\">connected</p>"), "{html}");
    assert!(
        html.contains("requests left in its 30 s window"),
        "the Standard plan's window: {html}"
    );
    assert!(html.contains("id=\"listen-health\""), "{html}");
    assert!(html.contains("0 pending of 0"), "{html}");
    assert!(html.contains("not running"), "{html}");
    assert!(!html.contains(sb.token()), "the token never shows");
    // Reloading within the minute reuses the check: one request to the store in all.
    let _ = get(&ui.url("/")).await;
    let checks = sb
        .state
        .log
        .entries()
        .iter()
        .filter(|e| e.path.ends_with("/v2/time"))
        .count();
    assert_eq!(checks, 1);

    // A wrong token is shown as not connected, with the store's refusal.
    let dir = tempfile::tempdir().unwrap();
    seed_dir(dir.path(), 0);
    let ui = UiProcess::start(
        dir.path(),
        &["--listen", "127.0.0.1:0", "--store-hash", sb.store_hash()],
        &[
            ("BIGCOMMERCE_ACCESS_TOKEN", "wrong-token-9931"),
            ("BIGCOMMERCE_BASE_URL", &sb.base_url()),
        ],
    );
    let (_, html) = get(&ui.url("/")).await;
    assert!(
        html.contains("id=\"store-check\">not connected</p>"),
        "{html}"
    );
    assert!(!html.contains("wrong-token-9931"));
}
