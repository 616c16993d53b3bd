//! `bcsync ui` in a real headless browser (Debian's chromium, driven over WebDriver by
//! fantoccini through chromedriver): the token is asked for beyond loopback and taken
//! once from `?token=`; each screen renders its content; the runs list is filtered through
//! its own form and a click leads to the run whose rejected row is found and downloaded;
//! the live debugger appends a running push's requests and opens one's captured body;
//! a screenshot of each screen is saved to docs/screenshots/ (for the README).
//!
//! chromedriver comes from `BCSYNC_TEST_CHROMEDRIVER` (`.ci/run` installs chromium and
//! chromium-driver and sets it); unset, the test prints a note and passes, except under
//! `CI=true`, where it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::ui_support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use ui_support::{TAKEN_REASON, UiProcess, seed_dir};

const TOKEN: &str = "browser-test-token-3318";

/// chromedriver running on a free port; killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_driver(path: &str) -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {path}: {e}"));
    // Bounded wait for it to accept connections (it starts in well under a second).
    for _ in 0..300 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

/// chromedriver's path, or `None` (with a note) when the browser tests are not set up
/// outside CI; under `CI=true` a missing driver fails.
fn chromedriver() -> Option<String> {
    let found = std::env::var("BCSYNC_TEST_CHROMEDRIVER")
        .ok()
        .filter(|p| !p.is_empty());
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "BCSYNC_TEST_CHROMEDRIVER is not set and CI=true: the browser test never skips in CI \
             (.ci/run installs chromium and chromium-driver)"
        );
        eprintln!(
            "note: BCSYNC_TEST_CHROMEDRIVER is not set: the headless browser test is skipped \
             (install chromium and chromium-driver, then set it to /usr/bin/chromedriver)"
        );
    }
    found
}

fn screenshots_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shoot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{name} is a PNG");
    std::fs::write(screenshots_dir().join(name), png).unwrap();
}

async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .text()
        .await
        .unwrap()
}

/// A headless browser session through `driver`, saving downloads into `downloads`.
async fn open_browser(driver: &Driver, downloads: &Path) -> Client {
    let mut chrome = json!({
        "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                 "--disable-gpu", "--window-size=1280,1000", "--hide-scrollbars"],
        "prefs": {
            "download.default_directory": downloads.display().to_string(),
            "download.prompt_for_download": false,
        },
    });
    if let Ok(binary) = std::env::var("BCSYNC_TEST_CHROMIUM") {
        chrome["binary"] = json!(binary);
    }
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), chrome);
    ClientBuilder::rustls()
        .unwrap()
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .unwrap_or_else(|e| panic!("cannot start a browser session through chromedriver: {e}"))
}

/// Waits (bounded) until the page's URL satisfies `ok`.
async fn wait_url(c: &Client, ok: impl Fn(&str) -> bool) -> String {
    for _ in 0..200 {
        let url = c.current_url().await.unwrap().to_string();
        if ok(&url) {
            return url;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the page never reached the expected URL")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_screen_in_a_headless_browser() {
    let Some(driver_path) = chromedriver() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let run_id = seed_dir(dir.path(), 60);
    let ui = UiProcess::start(
        dir.path(),
        &["--listen", "0.0.0.0:0", "--store-hash", "store1"],
        &[("BCSYNC_UI_TOKEN", TOKEN)],
    );
    let downloads = tempfile::tempdir().unwrap();
    let driver = start_driver(&driver_path);
    let c = open_browser(&driver, downloads.path()).await;

    // Beyond loopback: asked for the token, then `?token=` once keeps it in a cookie.
    c.goto(&ui.url("/")).await.unwrap();
    assert_eq!(text_of(&c, "h1").await, "Token required");
    c.goto(&ui.url(&format!("/?token={TOKEN}"))).await.unwrap();
    let url = wait_url(&c, |u| !u.contains("token=")).await;
    assert!(url.ends_with('/'), "{url}");

    // Status.
    assert_eq!(text_of(&c, "h1").await, "Status");
    let body = text_of(&c, "main").await;
    for want in [
        "store1",
        "Push syncs: last run",
        "rejected_over_threshold",
        "Brevo: last run",
        "2026-01-02T03:04:05Z",
        "Extraction: tables",
    ] {
        assert!(body.contains(want), "{want} not on the status page: {body}");
    }
    assert!(!body.contains(TOKEN));
    shoot(&c, "status.png").await;

    // Runs: 64 runs, newest first, 50 a page.
    c.find(Locator::LinkText("Runs"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_url(&c, |u| u.ends_with("/runs")).await;
    assert_eq!(text_of(&c, "h1").await, "Runs");
    assert!(text_of(&c, ".meta").await.contains("64 runs · page 1 of 2"));
    let rows = c.find_all(Locator::Css("main tbody tr")).await.unwrap();
    assert_eq!(rows.len(), 50);
    shoot(&c, "runs.png").await;

    // Filtering through the form: choosing a sync submits it.
    c.find(Locator::Css("select[name=sync]"))
        .await
        .unwrap()
        .select_by_value("customers")
        .await
        .unwrap();
    wait_url(&c, |u| u.contains("sync=customers")).await;
    let rows = c.find_all(Locator::Css("main tbody tr")).await.unwrap();
    assert_eq!(rows.len(), 2);

    // Click through to the run with rejected rows and find one.
    c.find(Locator::Css(&format!("a[href='/runs/{run_id}']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_url(&c, |u| u.ends_with(&format!("/runs/{run_id}"))).await;
    assert!(
        text_of(&c, "h1")
            .await
            .starts_with(&format!("Run #{run_id}"))
    );
    let row = c
        .find(Locator::XPath(
            "//table[contains(@class,'rejected')]//tr[td[text()='ann@example.com']]",
        ))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(row.contains("email") && row.contains(TAKEN_REASON), "{row}");
    shoot(&c, "run.png").await;

    // Download the rejected rows as CSV through the page's link.
    c.find(Locator::LinkText("CSV"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let file = downloads.path().join(format!("run-{run_id}-rejected.csv"));
    for _ in 0..300 {
        if file.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let csv_text = std::fs::read_to_string(&file).expect("the CSV was downloaded");
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let first = reader.records().next().unwrap().unwrap();
    assert_eq!(
        (&first[1], &first[2], &first[3]),
        ("ann@example.com", "email", TAKEN_REASON)
    );

    // A phone-sized window: the same run page stays readable.
    c.set_window_size(390, 844).await.unwrap();
    c.refresh().await.unwrap();
    assert!(
        text_of(&c, "h1")
            .await
            .starts_with(&format!("Run #{run_id}"))
    );
    shoot(&c, "run-phone.png").await;

    c.close().await.unwrap();
    drop(driver);
}

/// Rows of the run page's requests table.
async fn request_rows(c: &Client) -> usize {
    c.find_all(Locator::Css("#requests-body tr"))
        .await
        .unwrap()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_debugger_shows_a_running_push_in_a_headless_browser() {
    let Some(driver_path) = chromedriver() else {
        return;
    };
    let sb = crate::common::sandbox_with(crate::common::standard_plan(
        bc_sandbox::SeedSpec::empty(),
        1.0,
    ))
    .await;
    let h = crate::ui_live::slow_push(&sb, 100, 400).await;
    let dir = h.dir.path();
    // Body capture on (the flag below), the email listed as personal.
    let config = std::fs::read_to_string(dir.join("bcsync.toml")).unwrap();
    h.write(
        "bcsync.toml",
        &format!("{config}[debug]\nredact_fields = [\"email\"]\n"),
    );
    let ui = UiProcess::start(
        dir,
        &["--listen", "127.0.0.1:0", "--store-hash", sb.store_hash()],
        &[],
    );
    let downloads = tempfile::tempdir().unwrap();
    let driver = start_driver(&driver_path);
    let c = open_browser(&driver, downloads.path()).await;
    let mut push =
        crate::common::bcsync_in(&sb, dir, &["push", "--sync", "crm", "--capture-bodies"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
    let state = dir.join("bcsync-push.db");
    let run_id = crate::ui_live::first_run_id(&state).await;
    c.goto(&ui.url(&format!("/runs/{run_id}"))).await.unwrap();
    let at_load = request_rows(&c).await;
    // Rows arrive while the push process is still going.
    let mut grew_while_running = false;
    for _ in 0..400 {
        if push.try_wait().unwrap().is_some() {
            break;
        }
        if request_rows(&c).await > at_load {
            grew_while_running = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        grew_while_running,
        "no request row was added while the run was going ({at_load} at load)"
    );
    assert!(push.wait().unwrap().success());
    // The stream ends with the run: the note says so and every request is listed.
    let mut note = String::new();
    for _ in 0..400 {
        note = text_of(&c, "#live-note").await;
        if note.contains("The run ended") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(note.contains("The run ended (ok)"), "{note}");
    let store = bcsync::state::push::SqlitePushStore::open(&state, "").unwrap();
    let run = bcsync::state::push::PushStore::run(&store, run_id)
        .unwrap()
        .unwrap();
    assert_eq!(request_rows(&c).await, run.request_log.len());
    assert_eq!(
        text_of(&c, "#requests-count").await,
        run.request_log.len().to_string()
    );
    shoot(&c, "live-debugger.png").await;

    // A request appended live opens on a click: its captured body, the email redacted.
    assert!(
        c.find_all(Locator::Css("#capture-note"))
            .await
            .unwrap()
            .is_empty(),
        "the capture-off note stays once captured requests came in"
    );
    let opened = c
        .execute(
            "var rows = document.querySelectorAll('#requests-body tr');
             for (var i = 0; i < rows.length; i++) {
               if (rows[i].cells[1].textContent !== 'POST') continue;
               var d = rows[i].querySelector('details.capture');
               d.querySelector('summary').click();
               d.scrollIntoView();
               return d.querySelector('.captured').innerText;
             }
             return null;",
            vec![],
        )
        .await
        .unwrap();
    let opened = opened.as_str().expect("a POST row with its capture");
    // innerText shows the headings as styled (upper case).
    assert!(opened.to_lowercase().contains("request body"), "{opened}");
    assert!(opened.contains("\"email\": \"<redacted>\""), "{opened}");
    assert!(opened.contains("x-auth-token: <redacted>"), "{opened}");
    assert!(!opened.contains("@example.com") && !opened.contains(sb.token()));
    let open_details = c
        .find_all(Locator::Css("#requests-body details[open]"))
        .await
        .unwrap();
    assert_eq!(open_details.len(), 1);
    shoot(&c, "live-debugger-capture.png").await;

    // Charts: the finished run's rate against the quota the store announced.
    c.find(Locator::LinkText("Charts"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_url(&c, |u| u.ends_with("/charts")).await;
    assert_eq!(text_of(&c, "h1").await, "Charts");
    let bars = c.find_all(Locator::Css("svg rect.bar")).await.unwrap();
    assert_eq!(bars.len(), 3, "one run in each of the three run charts");
    assert!(
        text_of(&c, "main").await.contains("store quota/min"),
        "the quota line is drawn"
    );
    shoot(&c, "charts.png").await;
    c.close().await.unwrap();
}
