//! Alerts (`[[alert]]`) against real local receivers: an HTTP server standing in for a
//! Slack incoming webhook, PagerDuty's Events API v2 and a generic webhook, and a small
//! SMTP server on a TCP socket. Push runs against the sandbox open incidents (one notice
//! per incident across failing runs), a later good run resolves them, a receiver answering
//! 500 gets the notice again, a dead destination never fails the run, no secret reaches a
//! payload, and `bcsync alerts test` reaches all four. State store: SQLite, and PostgreSQL
//! when BCSYNC_TEST_POSTGRES_URL is set.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use bcsync::alerts::{Alerts, RetryPolicy, config};
use parking_lot::Mutex;
use push_support::*;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::common;
use crate::push_support;

const SLACK_SECRET: &str = "slacksecretT0B0x7731";
const PD_KEY: &str = "pdroutingkey5591abc";
const HOOK_SECRET: &str = "hookbearer8812xyz";
const BAD_TOKEN: &str = "badtoken-4471-zz";

/// One request a receiver took: which service, its JSON, its headers.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    body: Value,
    authorization: Option<String>,
}

#[derive(Default)]
struct Receivers {
    /// Accepted notices (answered 2xx).
    accepted: Mutex<Vec<Received>>,
    /// Every request, refused ones included, per service.
    attempts: Mutex<HashMap<String, usize>>,
    /// Statuses to answer next, per service, before answering success.
    fail_next: Mutex<HashMap<String, VecDeque<u16>>>,
    /// Messages the SMTP server took (the whole DATA text).
    mails: Mutex<Vec<String>>,
}

impl Receivers {
    fn accepted(&self, service: &str) -> Vec<Received> {
        self.accepted
            .lock()
            .iter()
            .filter(|r| r.service == service)
            .cloned()
            .collect()
    }

    fn attempts(&self, service: &str) -> usize {
        self.attempts.lock().get(service).copied().unwrap_or(0)
    }

    /// Every payload and mail, as one text, for the secret checks. PagerDuty's routing
    /// key is where the Events API requires it (checked to be the key, then left out).
    fn everything(&self) -> String {
        let mut all: Vec<String> = self
            .accepted
            .lock()
            .iter()
            .map(|r| {
                let mut body = r.body.clone();
                if r.service == "pagerduty" {
                    assert_eq!(body["routing_key"], PD_KEY);
                    body.as_object_mut().unwrap().remove("routing_key");
                }
                format!("{body} {:?}", r.service)
            })
            .collect();
        all.extend(self.mails.lock().iter().cloned());
        all.join("\n")
    }
}

async fn take(
    State(r): State<Arc<Receivers>>,
    service: &str,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    *r.attempts.lock().entry(service.to_owned()).or_default() += 1;
    if let Some(status) = r
        .fail_next
        .lock()
        .get_mut(service)
        .and_then(VecDeque::pop_front)
    {
        return StatusCode::from_u16(status).unwrap();
    }
    r.accepted.lock().push(Received {
        service: service.to_owned(),
        body: serde_json::from_str(&body).unwrap_or(Value::String(body)),
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    });
    if service == "pagerduty" {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    }
}

/// Starts the HTTP receivers and the SMTP server; returns their addresses.
async fn start_receivers(r: Arc<Receivers>) -> (SocketAddr, SocketAddr) {
    let app = axum::Router::new()
        .route(
            "/slack/{*rest}",
            post(|s: State<Arc<Receivers>>, h: HeaderMap, b: String| take(s, "slack", h, b)),
        )
        .route(
            "/pd/v2/enqueue",
            post(|s: State<Arc<Receivers>>, h: HeaderMap, b: String| take(s, "pagerduty", h, b)),
        )
        .route(
            "/hook",
            post(|s: State<Arc<Receivers>>, h: HeaderMap, b: String| take(s, "webhook", h, b)),
        )
        .with_state(r.clone());
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http_addr = http.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(http, app).await.unwrap() });
    let smtp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let smtp_addr = smtp.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = smtp.accept().await else {
                return;
            };
            let r = r.clone();
            tokio::spawn(async move { smtp_session(sock, r).await });
        }
    });
    (http_addr, smtp_addr)
}

/// Enough of SMTP to receive one message per transaction.
async fn smtp_session(sock: tokio::net::TcpStream, r: Arc<Receivers>) {
    let (read, mut write) = sock.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 test.local ESMTP\r\n").await.unwrap();
    loop {
        let mut line = String::new();
        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
        let answer: &[u8] = match verb.as_str() {
            "EHLO" => b"250-test.local\r\n250 8BITMIME\r\n",
            "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 OK\r\n",
            "DATA" => {
                write.write_all(b"354 go ahead\r\n").await.unwrap();
                let mut text = String::new();
                loop {
                    let mut l = String::new();
                    if lines.read_line(&mut l).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if l == ".\r\n" {
                        break;
                    }
                    text.push_str(&l);
                }
                r.mails.lock().push(text);
                b"250 queued\r\n"
            }
            "QUIT" => {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            }
            _ => b"502 not implemented\r\n",
        };
        write.write_all(answer).await.unwrap();
    }
}

/// The four `[[alert]]`s, one per destination, all on `run_failed`.
fn alert_tables(http: SocketAddr, smtp: SocketAddr) -> String {
    format!(
        r#"
[[alert]]
name = "slack-ops"
on = ["run_failed"]
to.slack = {{ webhook_url_env = "TEST_SLACK_WEBHOOK_URL" }}

[[alert]]
name = "pager"
on = ["run_failed"]
to.pagerduty = {{ routing_key_env = "TEST_PD_ROUTING_KEY", url = "http://{http}/pd/v2/enqueue" }}

[[alert]]
name = "mail"
on = ["run_failed"]
to.smtp = {{ host = "127.0.0.1", port = {port}, from = "bcsync@example.com", to = ["ops@example.com", "oncall@example.com"], starttls = false }}

[[alert]]
name = "hook"
on = ["run_failed"]
syncs = ["crm"]
to.webhook = {{ url = "http://{http}/hook", header_env = "TEST_HOOK_HEADER" }}
"#,
        port = smtp.port()
    )
}

fn bcsync(
    sb: &bc_sandbox::RunningSandbox,
    dir: &std::path::Path,
    http: SocketAddr,
    args: &[&str],
) -> std::process::Command {
    let mut cmd = common::bcsync_in(sb, dir, args);
    cmd.env(
        "TEST_SLACK_WEBHOOK_URL",
        format!("http://{http}/slack/T000/B000/{SLACK_SECRET}"),
    )
    .env("TEST_PD_ROUTING_KEY", PD_KEY)
    .env(
        "TEST_HOOK_HEADER",
        format!("Authorization: Bearer {HOOK_SECRET}"),
    );
    cmd
}

fn push(
    sb: &bc_sandbox::RunningSandbox,
    h: &Harness,
    http: SocketAddr,
    token: &str,
) -> std::process::Output {
    let state = h.state_spec();
    bcsync(
        sb,
        h.dir.path(),
        http,
        &["push", "--sync", "crm", "--state", &state],
    )
    .env("BIGCOMMERCE_ACCESS_TOKEN", token)
    .output()
    .unwrap()
}

fn assert_no_secret(text: &str, token: &str) {
    for secret in [SLACK_SECRET, PD_KEY, HOOK_SECRET, BAD_TOKEN, token] {
        assert!(!text.contains(secret), "{secret} leaked into: {text}");
    }
}

async fn one_alert_per_incident_then_resolve(backend: Backend) {
    let Some((sb, h)) = Harness::start(backend).await else {
        return;
    };
    let receivers = Arc::new(Receivers::default());
    let (http, smtp) = start_receivers(receivers.clone()).await;
    h.write(
        "c.csv",
        "mail,given,family\na@example.com,Ann,Lee\nb@example.com,Bob,Ray\n",
    );
    h.write(
        "bcsync.toml",
        &format!(
            "[[sync]]\nname = \"crm\"\nobject = \"customers\"\nmode = \"upsert\"\nmatch_key = \"email\"\nsource = {}\n{CRM_MAPPING}\n{}",
            h.source_toml("c.csv"),
            alert_tables(http, smtp)
        ),
    );
    h.load_sources().await;
    // Slack answers 500 once: the trigger is sent again and taken.
    receivers
        .fail_next
        .lock()
        .insert("slack".into(), VecDeque::from([500]));

    // Two failing runs (a token the store refuses): one notice per destination.
    for _ in 0..2 {
        let out = push(&sb, &h, http, BAD_TOKEN);
        assert_eq!(out.status.code(), Some(1), "{}", common::output_text(&out));
        assert_no_secret(&common::output_text(&out), sb.token());
    }
    for service in ["slack", "pagerduty", "webhook"] {
        assert_eq!(
            receivers.accepted(service).len(),
            1,
            "{service}: {:?}",
            receivers.accepted(service)
        );
    }
    assert_eq!(receivers.mails.lock().len(), 1);
    assert_eq!(receivers.attempts("slack"), 2, "the 500 was retried");
    let slack = &receivers.accepted("slack")[0].body;
    assert!(
        slack["text"]
            .as_str()
            .unwrap()
            .contains("run_failed on sync crm"),
        "{slack}"
    );
    let pd = &receivers.accepted("pagerduty")[0].body;
    assert_eq!(pd["event_action"], "trigger");
    assert_eq!(
        pd["routing_key"], PD_KEY,
        "the routing key goes where it belongs"
    );
    assert_eq!(pd["payload"]["severity"], "error");
    assert_eq!(pd["payload"]["component"], "crm");
    let hook = &receivers.accepted("webhook")[0];
    assert_eq!(hook.body["event"], "trigger");
    assert_eq!(hook.body["sync"], "crm");
    assert_eq!(
        hook.authorization.as_deref(),
        Some(format!("Bearer {HOOK_SECRET}").as_str())
    );
    let mail = receivers.mails.lock()[0].clone();
    assert!(
        mail.contains(&format!(
            "Subject: [bcsync] mail: run_failed on sync crm (store {})\r\n",
            sb.store_hash()
        )),
        "{mail}"
    );
    assert!(
        mail.contains("To: <ops@example.com>, <oncall@example.com>"),
        "{mail}"
    );

    // The incidents are open in the state store, and listed.
    let list = bcsync(
        &sb,
        h.dir.path(),
        http,
        &["alerts", "list", "--state", &h.state_spec()],
    )
    .output()
    .unwrap();
    let listed = String::from_utf8_lossy(&list.stdout).into_owned();
    assert_eq!(listed.lines().count(), 4, "{listed}");
    assert!(
        listed
            .lines()
            .all(|l| l.contains("\trun_failed\tcrm\t") && l.contains("\tsent\t")),
        "{listed}"
    );

    // A good run resolves each incident once.
    let out = push(&sb, &h, http, sb.token());
    assert!(out.status.success(), "{}", common::output_text(&out));
    let pd = receivers.accepted("pagerduty");
    assert_eq!(pd.len(), 2);
    assert_eq!(pd[1].body["event_action"], "resolve");
    assert_eq!(pd[1].body["dedup_key"], pd[0].body["dedup_key"]);
    let slack = receivers.accepted("slack");
    assert_eq!(slack.len(), 2);
    assert!(
        slack[1].body["text"].as_str().unwrap().contains("resolved"),
        "{:?}",
        slack[1]
    );
    assert_eq!(receivers.accepted("webhook")[1].body["event"], "resolve");
    assert_eq!(receivers.mails.lock().len(), 2);
    let resolved = receivers.mails.lock()[1].clone();
    assert!(
        resolved.contains("Subject: [bcsync] resolved mail: run_failed on sync crm"),
        "{resolved}"
    );

    // Good again: nothing more is sent; the incidents are gone.
    let out = push(&sb, &h, http, sb.token());
    assert!(out.status.success(), "{}", common::output_text(&out));
    assert_eq!(receivers.accepted.lock().len(), 6);
    assert_eq!(receivers.mails.lock().len(), 2);
    let store = h.open_store();
    assert!(store.open_incidents().unwrap().is_empty());
    assert_no_secret(&receivers.everything(), sb.token());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_alert_per_incident_then_resolve_sqlite() {
    one_alert_per_incident_then_resolve(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_alert_per_incident_then_resolve_postgres() {
    one_alert_per_incident_then_resolve(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_test_reaches_every_destination() {
    let sb = common::sandbox(bc_sandbox::SeedSpec::empty()).await;
    let h = Harness::new(&sb);
    let receivers = Arc::new(Receivers::default());
    let (http, smtp) = start_receivers(receivers.clone()).await;
    h.write("bcsync.toml", &alert_tables(http, smtp));
    let out = bcsync(&sb, h.dir.path(), http, &["alerts", "test"])
        .output()
        .unwrap();
    let text = common::output_text(&out);
    assert!(out.status.success(), "{text}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.lines().filter(|l| l.ends_with(": OK")).count(),
        4,
        "{stdout}"
    );
    assert!(
        stdout.contains("slack-ops: slack (webhook URL from TEST_SLACK_WEBHOOK_URL): OK"),
        "{stdout}"
    );
    assert_eq!(receivers.accepted("slack").len(), 1);
    assert_eq!(receivers.accepted("webhook")[0].body["event"], "test");
    // PagerDuty: the test trigger, then its resolve (no test incident left open there).
    let pd = receivers.accepted("pagerduty");
    let actions: Vec<&Value> = pd.iter().map(|r| &r.body["event_action"]).collect();
    assert_eq!(actions, ["trigger", "resolve"]);
    assert_eq!(receivers.mails.lock().len(), 1);
    assert_no_secret(&text, sb.token());
    assert_no_secret(&receivers.everything(), sb.token());

    // One alert by name; a destination that refuses is reported with its fix, no secret.
    receivers
        .fail_next
        .lock()
        .insert("slack".into(), VecDeque::from([404]));
    let out = bcsync(
        &sb,
        h.dir.path(),
        http,
        &["alerts", "test", "--name", "slack-ops"],
    )
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAILED") && stdout.contains("HTTP 404"),
        "{stdout}"
    );
    assert!(stdout.contains("create a new incoming webhook"), "{stdout}");
    assert_eq!(receivers.attempts("slack"), 2, "a 404 is not retried");
    assert_no_secret(&common::output_text(&out), sb.token());

    // A variable that is unset is named, with what to put in it.
    let out = common::bcsync_in(&sb, h.dir.path(), &["alerts", "test", "--name", "pager"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        stdout.contains("TEST_PD_ROUTING_KEY is not set") && stdout.contains("integration key"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_destination_never_fails_the_run() {
    let sb = common::sandbox(bc_sandbox::SeedSpec::empty()).await;
    let h = Harness::new(&sb);
    // A port nothing listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_addr = dead.local_addr().unwrap();
    drop(dead);
    h.write("c.csv", "mail,given,family\na@example.com,Ann,Lee\n");
    h.write(
        "bcsync.toml",
        &format!(
            "[[sync]]\nname = \"crm\"\nobject = \"customers\"\nmode = \"upsert\"\nmatch_key = \"email\"\nsource = {}\n{CRM_MAPPING}\n\
             [[alert]]\nname = \"hook\"\non = [\"run_failed\"]\nto.webhook = {{ url_env = \"TEST_DEAD_URL\" }}\n",
            h.source_toml("c.csv")
        ),
    );
    let url = format!("http://{dead_addr}/in/{HOOK_SECRET}");
    let state = h.state_spec();
    let out = common::bcsync_in(&sb, h.dir.path(), &["push", "--state", &state])
        .env("BIGCOMMERCE_ACCESS_TOKEN", BAD_TOKEN)
        .env("TEST_DEAD_URL", &url)
        .output()
        .unwrap();
    let text = common::output_text(&out);
    // The run failed on its own (the token), not on the alert: same exit code, summary printed.
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("run 1 failed"), "{text}");
    assert!(
        text.contains("alert hook: the trigger of run_failed was not delivered")
            && text.contains(
                "webhook (URL from TEST_DEAD_URL) did not take the alert after 4 attempts"
            ),
        "{text}"
    );
    assert_no_secret(&text, sb.token());
    // Not delivered: kept open but unsent, so the next run tries again.
    let incidents = h.open_store().open_incidents().unwrap();
    assert_eq!(incidents.len(), 1);
    assert!(!incidents[0].notified);

    // A good run with a good token: the alert was never delivered, so nothing to resolve.
    let out = common::bcsync_in(&sb, h.dir.path(), &["push", "--state", &state])
        .env("TEST_DEAD_URL", &url)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::output_text(&out));
    assert!(h.open_store().open_incidents().unwrap().is_empty());
}

/// `rejected_rows` through the library, as the push command calls it: a count threshold,
/// one notice across two runs over it, a resolve when the source is fixed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_rows_over_threshold_alert_once_and_resolve() {
    let sb = common::sandbox(bc_sandbox::SeedSpec::empty()).await;
    let h = Harness::new(&sb);
    let receivers = Arc::new(Receivers::default());
    let (http, _) = start_receivers(receivers.clone()).await;
    let tables: toml::Value = toml::from_str(&format!(
        "[[alert]]\nname = \"rows\"\non = [{{ rejected_rows = {{ threshold = 1 }} }}, {{ rejected_rows_typo = 1 }}]\nto.webhook = {{ url = \"http://{http}/hook\" }}\n"
    ))
    .unwrap();
    let err = config::parse(tables["alert"].as_array().unwrap()).unwrap_err();
    assert!(
        err.to_string()
            .contains("unknown condition \"rejected_rows_typo\""),
        "{err}"
    );
    let tables: toml::Value = toml::from_str(&format!(
        "[[alert]]\nname = \"rows\"\non = [{{ rejected_rows = {{ threshold = 1 }} }}]\nto.webhook = {{ url = \"http://{http}/hook\" }}\n"
    ))
    .unwrap();
    let alerts = Alerts::new(config::parse(tables["alert"].as_array().unwrap()).unwrap())
        .unwrap()
        .with_retry_policy(RetryPolicy {
            attempts: 3,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
        });
    // Two rows without a first name: rejected before any request; 2 > 1.
    let bad = "mail,given,family\na@example.com,Ann,Lee\nb@example.com,,Ray\nc@example.com,,Cole\n";
    let good =
        "mail,given,family\na@example.com,Ann,Lee\nb@example.com,Bob,Ray\nc@example.com,Cy,Cole\n";
    let sync = h.sync(
        "crm",
        "customers",
        "upsert",
        "email",
        "c.csv",
        CRM_MAPPING,
        "",
    );
    receivers
        .fail_next
        .lock()
        .insert("webhook".into(), VecDeque::from([503, 502]));
    for round in 0..2 {
        h.write("c.csv", bad);
        let out = h.push(&sync, Flags::default()).await;
        assert_eq!(out.run.counts["rejected"], 2, "round {round}");
        let mut store = h.open_store();
        let sent = alerts
            .after_run(store.as_mut(), &h.store_hash, &out.run)
            .await;
        assert_eq!(
            sent.len(),
            if round == 0 { 1 } else { 0 },
            "round {round}: {sent:?}"
        );
    }
    assert_eq!(receivers.attempts("webhook"), 3, "503 and 502 were retried");
    let hooks = receivers.accepted("webhook");
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0].body["condition"], "rejected_rows");
    assert!(
        hooks[0].body["summary"]
            .as_str()
            .unwrap()
            .contains("rejected 2 rows (the alert allows 1)"),
        "{:?}",
        hooks[0].body
    );
    h.write("c.csv", good);
    let out = h.push(&sync, Flags::default()).await;
    let mut store = h.open_store();
    let sent = alerts
        .after_run(store.as_mut(), &h.store_hash, &out.run)
        .await;
    assert_eq!(sent.len(), 1);
    assert!(sent[0].result.is_ok());
    let hooks = receivers.accepted("webhook");
    assert_eq!(hooks.len(), 2);
    assert_eq!(hooks[1].body["event"], "resolve");
    assert_eq!(hooks[1].body["dedup_key"], hooks[0].body["dedup_key"]);
    assert_no_secret(&receivers.everything(), sb.token());
}

/// The README's `[[alert]]` example is a config bcsync accepts, with all four destinations.
#[test]
fn the_readme_alert_example_is_valid() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let block = readme
        .split("```toml\n")
        .map(|b| b.split("```").next().unwrap())
        .find(|b| b.contains("[[alert]]"))
        .expect("a toml block with [[alert]] in the README");
    let tables: toml::Value = toml::from_str(block).unwrap();
    let alerts = config::parse(tables["alert"].as_array().unwrap()).unwrap();
    let kinds: Vec<&str> = alerts
        .iter()
        .map(|a| match a.to {
            config::Destination::Slack(_) => "slack",
            config::Destination::PagerDuty(_) => "pagerduty",
            config::Destination::Smtp(_) => "smtp",
            config::Destination::Webhook(_) => "webhook",
        })
        .collect();
    assert_eq!(kinds, ["slack", "pagerduty", "smtp", "webhook"]);
}

/// `listen`'s hook watch: a hook the store deactivated opens a `hook_deactivated` incident
/// (one notice, though later checks may find it again), and the next healthy check
/// resolves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_alerts_on_a_deactivated_hook_and_resolves() {
    use crate::listen_support;
    let sb = common::sandbox(bc_sandbox::SeedSpec {
        customers: 3,
        products: 3,
        orders: 3,
        ..common::small_store()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let to = format!("sqlite:{}", dir.path().join("shop.db").display());
    let receivers = Arc::new(Receivers::default());
    let (http, _) = start_receivers(receivers.clone()).await;
    let tables: toml::Value = toml::from_str(&format!(
        "[[alert]]\nname = \"hooks\"\non = [\"hook_deactivated\", {{ lag = {{ threshold_minutes = 60 }} }}]\nsyncs = [\"listen\"]\nto.webhook = {{ url = \"http://{http}/hook\" }}\n"
    ))
    .unwrap();
    let alerts = Alerts::new(config::parse(tables["alert"].as_array().unwrap()).unwrap()).unwrap();
    let state = dir.path().join("push.db").display().to_string();
    let mut options = listen_support::quiet_options();
    options.public_url = Some("https://hooks.example.com/webhooks".into());
    options.hook_check_interval = Duration::from_millis(200);
    options.alerts = Some(bcsync::listen::ListenAlerts {
        alerts,
        state: state.clone(),
    });
    let l = listen_support::start(&sb, &to, options).await;
    let (status, body) = common::api(&sb, reqwest::Method::GET, "/v3/hooks", None).await;
    assert_eq!(status, 200);
    let victim = body.unwrap()["data"][0]["id"].as_i64().unwrap();
    let (status, _) = common::api(
        &sb,
        reqwest::Method::PUT,
        &format!("/v3/hooks/{victim}"),
        Some(serde_json::json!({"is_active": false})),
    )
    .await;
    assert_eq!(status, 200);
    let r = receivers.clone();
    listen_support::wait_for("the resolve of the hook incident", move || {
        let r = r.clone();
        async move { r.accepted("webhook").len() >= 2 }
    })
    .await;
    l.shutdown().await.unwrap();
    let hooks = receivers.accepted("webhook");
    let events: Vec<&Value> = hooks.iter().map(|h| &h.body["event"]).collect();
    assert_eq!(events, ["trigger", "resolve"], "{hooks:?}");
    assert_eq!(hooks[0].body["condition"], "hook_deactivated");
    assert_eq!(hooks[0].body["sync"], "listen");
    assert!(
        hooks[0].body["summary"]
            .as_str()
            .unwrap()
            .contains("deactivated the webhooks for"),
        "{:?}",
        hooks[0].body
    );
    let store = bcsync::state::push::open_push_store(&state, sb.store_hash()).unwrap();
    assert!(store.open_incidents().unwrap().is_empty());
}

/// `quota_exhausted`: a run that met a 429 (the sandbox answers one, the client waits and
/// retries, the run succeeds) opens an incident; a run without one resolves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_in_a_run_alerts_quota_exhausted_then_resolves() {
    let sb = common::sandbox(bc_sandbox::SeedSpec::empty()).await;
    let h = Harness::new(&sb);
    let receivers = Arc::new(Receivers::default());
    let (http, _) = start_receivers(receivers.clone()).await;
    let tables: toml::Value = toml::from_str(&format!(
        "[[alert]]\nname = \"quota\"\non = [\"quota_exhausted\", \"run_failed\"]\nto.webhook = {{ url = \"http://{http}/hook\" }}\n"
    ))
    .unwrap();
    let alerts = Alerts::new(config::parse(tables["alert"].as_array().unwrap()).unwrap()).unwrap();
    h.write(
        "c.csv",
        "mail,given,family\na@example.com,Ann,Lee\nb@example.com,Bob,Ray\n",
    );
    let sync = h.sync(
        "crm",
        "customers",
        "upsert",
        "email",
        "c.csv",
        CRM_MAPPING,
        "",
    );
    common::set_faults(&sb, "429@1").await;
    let out = h.push(&sync, Flags::default()).await;
    assert_eq!(out.run.status, "ok");
    assert_eq!(out.run.throttled, 1, "{:?}", out.run.request_log);
    let mut store = h.open_store();
    let sent = alerts
        .after_run(store.as_mut(), &h.store_hash, &out.run)
        .await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].condition, "quota_exhausted");
    common::set_faults(&sb, "none").await;
    h.write(
        "c.csv",
        "mail,given,family\na@example.com,Ann,Lee\nb@example.com,Bob,Rae\n",
    );
    let out = h.push(&sync, Flags::default()).await;
    assert_eq!(out.run.throttled, 0);
    let sent = alerts
        .after_run(store.as_mut(), &h.store_hash, &out.run)
        .await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    let hooks = receivers.accepted("webhook");
    let events: Vec<(&Value, &Value)> = hooks
        .iter()
        .map(|h| (&h.body["event"], &h.body["condition"]))
        .collect();
    assert_eq!(
        events,
        [
            (&Value::from("trigger"), &Value::from("quota_exhausted")),
            (&Value::from("resolve"), &Value::from("quota_exhausted"))
        ]
    );
    assert!(
        hooks[0].body["summary"]
            .as_str()
            .unwrap()
            .contains("hit its rate limit: 1 request answered 429"),
        "{:?}",
        hooks[0].body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extraction_run_is_watched_like_the_others() {
    let sb = common::sandbox(common::small_store()).await;
    let dir = tempfile::tempdir().unwrap();
    let receivers = Arc::new(Receivers::default());
    let (http, _) = start_receivers(receivers.clone()).await;
    std::fs::write(
        dir.path().join("bcsync.toml"),
        format!(
            "[[alert]]\nname = \"extract-quota\"\non = [\"quota_exhausted\"]\nsyncs = [\"extract\"]\n\
             to.webhook = {{ url = \"http://{http}/hook\" }}\n"
        ),
    )
    .unwrap();
    // The token check is the first request; the second is the extraction's first.
    common::set_faults(&sb, "429@2").await;
    let out = bcsync(
        &sb,
        dir.path(),
        http,
        &[
            "extract",
            "--to",
            "sqlite:shop.db",
            "--streams",
            "brands",
            "--no-progress",
        ],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", common::output_text(&out));
    let hooks = receivers.accepted("webhook");
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    assert_eq!(hooks[0].body["event"], "trigger");
    assert_eq!(hooks[0].body["condition"], "quota_exhausted");
    assert_eq!(hooks[0].body["sync"], "extract");
    assert_no_secret(&receivers.everything(), sb.token());
}
