//! `bcsync ui`: a local web dashboard served by the binary itself: the status of the
//! stores (push syncs, Brevo, extraction bookmarks and lag, table sizes), the run history
//! (filterable, paged), one run's page with its rejected rows (downloadable as CSV and
//! JSON) and request log, and a fleet's stores, workers, leases and queue (`/fleet`).
//!
//! - Pages are rendered on the server ([`html`]); the stylesheet and the one script are
//!   embedded in the binary. The script is the live debugger: on a running run's page it
//!   appends the run's requests as the run logs them, from server-sent events
//!   (`/runs/ID/requests/stream`, read from the state store every half second). A
//!   request's headers and bodies, when the run captured them (`[debug] capture_bodies`),
//!   open under its path; they were redacted by the client before they were stored.
//! - It reads the same stores as the CLI ([`data`]) and never writes to them.
//! - Bound to a loopback address it answers anyone on the machine; bound beyond loopback
//!   every request but the stylesheet's needs the bearer token (`Authorization: Bearer`,
//!   or `?token=` once in a browser, which sets a cookie and redirects to the same page
//!   without it, so the token stays out of the history and of every link).

pub mod charts;
pub mod data;
pub mod html;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use futures::StreamExt;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

pub use data::{Stores, UiSources};

use crate::state::push::{ALL_REQUESTS, LoggedRequest, RunFilter, RunRecord};

/// The address `bcsync ui` listens on by default.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8790";
/// Environment variable holding the bearer token.
pub const ENV_UI_TOKEN: &str = "BCSYNC_UI_TOKEN";
/// The cookie a browser keeps the token in after `?token=`.
const TOKEN_COOKIE: &str = "bcsync_ui_token";
/// Runs per page of the runs list.
pub const RUNS_PER_PAGE: usize = 50;

const STYLE: &str = include_str!("style.css");
const LIVE_SCRIPT: &str = include_str!("live.js");
/// How often the live debugger reads a running run's new requests from the state store.
const LIVE_POLL: std::time::Duration = std::time::Duration::from_millis(500);
/// Requests sent per read of the live debugger's stream.
const LIVE_BATCH: usize = 500;
/// Where the stylesheet is served.
const STYLE_PATH: &str = "/assets/style.css";

/// Whether a server bound to `addr` must require the token: anything reachable from
/// another machine does.
pub fn needs_token(addr: &SocketAddr) -> bool {
    !addr.ip().is_loopback()
}

/// The expected token, kept as its digest: comparing digests takes the same time whatever
/// prefix of the token a guess gets right.
#[derive(Clone)]
struct Expected(Option<Arc<[u8; 32]>>);

fn digest(token: &[u8]) -> [u8; 32] {
    Sha256::digest(token).into()
}

#[derive(Clone)]
struct App {
    stores: Stores,
}

/// The dashboard's routes over `stores`; with a token, every route requires it.
pub fn router(stores: Stores, token: Option<&SecretString>) -> Router {
    let expected = Expected(token.map(|t| Arc::new(digest(t.expose_secret().as_bytes()))));
    Router::new()
        .route("/", get(status_page))
        .route("/runs", get(runs_page))
        .route("/charts", get(charts_page))
        .route("/fleet", get(fleet_page))
        .route("/runs/{id}", get(run_page))
        .route("/runs/{id}/rejected.csv", get(rejected_csv))
        .route("/runs/{id}/rejected.json", get(rejected_json))
        .route("/runs/{id}/requests/stream", get(request_stream))
        .route("/runs/{id}/requests/{seq}", get(request_page))
        .route(STYLE_PATH, get(style))
        .route(html::LIVE_SCRIPT_PATH, get(live_script))
        .fallback(not_found)
        .with_state(App { stores })
        .layer(axum::middleware::from_fn(safe_headers))
        .layer(axum::middleware::from_fn_with_state(
            expected,
            require_token,
        ))
}

/// A bound listener and the dashboard to serve on it.
pub struct UiServer {
    listener: tokio::net::TcpListener,
    app: Router,
}

impl UiServer {
    /// Binds `addr` (port 0 picks a free port).
    pub async fn bind(
        stores: Stores,
        addr: SocketAddr,
        token: Option<&SecretString>,
    ) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        Ok(Self {
            listener,
            app: router(stores, token),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `stop` is cancelled.
    pub async fn serve(self, stop: CancellationToken) -> std::io::Result<()> {
        axum::serve(self.listener, self.app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await
    }
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == TOKEN_COOKIE)
        .map(|(_, v)| v.to_owned())
}

async fn require_token(State(expected): State<Expected>, request: Request, next: Next) -> Response {
    let Some(expected) = expected.0 else {
        return next.run(request).await;
    };
    // The stylesheet holds nothing private, and styles the "token required" page itself.
    if request.uri().path() == STYLE_PATH {
        return next.run(request).await;
    }
    let matches = |t: &str| digest(t.trim().as_bytes()) == *expected;
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        });
    if bearer.is_some_and(matches) || cookie_token(request.headers()).is_some_and(|t| matches(&t)) {
        return next.run(request).await;
    }
    // `?token=` from a browser: keep it in a cookie and show the page without it.
    let uri = request.uri().clone();
    let (given, rest): (Vec<_>, Vec<_>) =
        url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .partition(|(k, _)| k == "token");
    if let Some((_, token)) = given.first()
        && matches(token)
    {
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(rest)
            .finish();
        let target = if query.is_empty() {
            uri.path().to_owned()
        } else {
            format!("{}?{query}", uri.path())
        };
        let mut response = Redirect::to(&target).into_response();
        if let Ok(cookie) = HeaderValue::from_str(&format!(
            "{TOKEN_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
            token.trim()
        )) {
            response.headers_mut().insert(header::SET_COOKIE, cookie);
        }
        return response;
    }
    let mut response = (
        StatusCode::UNAUTHORIZED,
        axum::response::Html(html::message_page(
            "Token required",
            "This dashboard is reachable from other machines, so it needs its token: open it \
             with ?token=<token> once (a cookie keeps it), or send Authorization: Bearer <token>. \
             The token is BCSYNC_UI_TOKEN, ui_token in bcsync.toml, or the one bcsync ui printed \
             when it started.",
        )),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// Pages are not cached, framed, or sent with a referrer.
async fn safe_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

type Page = Result<Response, Response>;

fn html_page(body: String) -> Response {
    axum::response::Html(body).into_response()
}

/// A store error as a page (with any database password redacted).
fn failure(e: crate::Error) -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        axum::response::Html(html::message_page(
            "Could not read the store",
            &crate::pg::redact_in(&e.to_string()),
        )),
    )
        .into_response()
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::response::Html(html::message_page(
            "Not found",
            "No page here: start from the status page (/) or the runs list (/runs).",
        )),
    )
        .into_response()
}

async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        STYLE,
    )
        .into_response()
}

async fn status_page(State(app): State<App>) -> Response {
    let (latest, extraction, incidents, store_check, listen) = tokio::join!(
        app.stores.latest_runs(),
        app.stores.extraction(),
        app.stores.open_incidents(),
        app.stores.store_check(),
        app.stores.listen_health()
    );
    let sources = app.stores.sources();
    let view = html::StatusView {
        store_hash: sources.store_hash.clone(),
        state_shown: app.stores.state_shown(),
        latest: latest.map_err(|e| crate::pg::redact_in(&e.to_string())),
        extraction,
        brevo_sync: crate::marketing::RUN_NAME,
        // A store older than the incidents table (or none yet) simply has none to show.
        incidents: incidents.ok().flatten().unwrap_or_default(),
        store_check,
        listen,
    };
    html_page(html::status_page(&view, chrono::Utc::now()))
}

async fn fleet_page(State(app): State<App>) -> Response {
    html_page(html::fleet_page(&app.stores.fleet().await))
}

/// Runs the charts show: the most recent ones.
const CHARTED_RUNS: usize = 60;

async fn charts_page(State(app): State<App>) -> Page {
    let (runs, latencies) = tokio::join!(
        app.stores.runs_page(RunFilter::default(), 0, CHARTED_RUNS),
        app.stores.listen_latencies()
    );
    let mut runs = runs.map_err(failure)?.map(|p| p.runs).unwrap_or_default();
    runs.reverse();
    let mut body = String::from("<h1>Charts</h1>");
    let _ = std::fmt::Write::write_fmt(
        &mut body,
        format_args!(
            "<p class=\"meta\">Runs charted: the latest {} (push, extract, brevo and mcp runs alike).</p>",
            runs.len()
        ),
    );
    body.push_str(&charts::run_charts(&runs));
    match latencies {
        Ok(l) => body.push_str(&charts::latency_chart(&l)),
        Err(note) => {
            body.push_str(&charts::latency_chart(&[]));
            let _ = std::fmt::Write::write_fmt(
                &mut body,
                format_args!("<p class=\"meta\">{}</p>", html::esc(&note)),
            );
        }
    }
    Ok(html_page(html::page("Charts", "charts", &body)))
}

/// The runs page's query; empty values (a filter set to "all") mean no filter, and a
/// page number that is not one means the first page.
#[derive(Debug, Deserialize)]
struct RunsQuery {
    sync: Option<String>,
    status: Option<String>,
    page: Option<String>,
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

async fn runs_page(State(app): State<App>, Query(q): Query<RunsQuery>) -> Page {
    let filter = RunFilter {
        sync: non_empty(q.sync),
        status: non_empty(q.status),
    };
    let page = q
        .page
        .and_then(|p| p.trim().parse::<usize>().ok())
        .unwrap_or(1)
        .clamp(1, 1_000_000);
    let offset = (page - 1) * RUNS_PER_PAGE;
    let (listed, latest) = tokio::join!(
        app.stores.runs_page(filter.clone(), offset, RUNS_PER_PAGE),
        app.stores.latest_runs()
    );
    let listed = listed.map_err(failure)?.unwrap_or_default();
    let mut syncs: Vec<String> = latest
        .map_err(failure)?
        .unwrap_or_default()
        .into_iter()
        .map(|r| r.sync)
        .collect();
    syncs.dedup();
    let view = html::RunsView {
        filter,
        syncs,
        runs: listed.runs,
        total: listed.total,
        page,
        per_page: RUNS_PER_PAGE,
    };
    Ok(html_page(html::runs_page(&view, chrono::Utc::now())))
}

/// The run named in the path, or the not-found page.
async fn find_run(app: &App, id: &str) -> Result<RunRecord, Response> {
    let Ok(id) = id.parse::<i64>() else {
        return Err(not_found().await);
    };
    match app.stores.run(id).await.map_err(failure)? {
        Some(r) => Ok(r),
        None => Err((
            StatusCode::NOT_FOUND,
            axum::response::Html(html::message_page(
                "No such run",
                &format!("The store has no run #{id}: pick one from the runs list (/runs)."),
            )),
        )
            .into_response()),
    }
}

async fn live_script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        LIVE_SCRIPT,
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
struct StreamQuery {
    /// The position of the last request the page already shows.
    after: Option<i64>,
}

/// Where the live stream of one run is.
struct LiveCursor {
    app: App,
    run: i64,
    after: Option<i64>,
    queued: std::collections::VecDeque<axum::response::sse::Event>,
    ended: bool,
}

impl LiveCursor {
    /// The next event: a request logged after the cursor, or `end` with the run's status
    /// once it is no longer running and every request was sent.
    async fn next(mut self) -> Option<(axum::response::sse::Event, Self)> {
        loop {
            if let Some(event) = self.queued.pop_front() {
                return Some((event, self));
            }
            if self.ended {
                return None;
            }
            let (run, after) = (self.run, self.after);
            let read = self
                .app
                .stores
                .with_push(move |s| {
                    let new = s.requests_after(run, after, LIVE_BATCH)?;
                    // The status is read only when nothing new came, so a busy run costs
                    // one indexed read per poll.
                    let status = if new.is_empty() {
                        s.run(run)?.map(|r| r.status)
                    } else {
                        None
                    };
                    Ok((new, status))
                })
                .await;
            let (new, status) = match read {
                Ok(Some(read)) => read,
                Ok(None) => (Vec::new(), Some("unknown".to_owned())),
                Err(e) => {
                    tracing::debug!("live debugger: {e}");
                    (Vec::new(), None)
                }
            };
            for (seq, q) in new {
                self.after = Some(seq);
                self.queued.push_back(request_event(seq, &q));
            }
            match status {
                Some(s) if s != "running" => {
                    // Finishing rewrites the whole log: a last read after the status
                    // changed sends what came in between.
                    self.ended = true;
                    let (run, after) = (self.run, self.after);
                    if let Ok(Some(rest)) = self
                        .app
                        .stores
                        .with_push(move |st| st.requests_after(run, after, ALL_REQUESTS))
                        .await
                    {
                        self.queued
                            .extend(rest.iter().map(|(seq, q)| request_event(*seq, q)));
                    }
                    self.queued
                        .push_back(axum::response::sse::Event::default().event("end").data(s));
                }
                _ if self.queued.is_empty() => tokio::time::sleep(LIVE_POLL).await,
                _ => {}
            }
        }
    }
}

/// One request as the live debugger's script reads it: the log line and its position;
/// its capture as the run page holds it: inline for the first [`html::INLINE_CAPTURES`],
/// then only `captured: true` (the script links to the request's page).
fn request_event(seq: i64, q: &LoggedRequest) -> axum::response::sse::Event {
    let data = request_json(seq, q);
    axum::response::sse::Event::default()
        .event("request")
        .id(seq.to_string())
        .data(data.to_string())
}

/// The data of [`request_event`].
fn request_json(seq: i64, q: &LoggedRequest) -> serde_json::Value {
    let mut data = serde_json::to_value(q).unwrap_or_default();
    if seq >= html::INLINE_CAPTURES as i64
        && let Some(map) = data.as_object_mut()
        && map.remove("capture").is_some()
    {
        map.insert("captured".into(), true.into());
    }
    data["seq"] = seq.into();
    data
}

/// The live debugger's stream: the run's requests after `?after=` as server-sent events
/// (`request`, JSON), then `end` with the run's status.
async fn request_stream(
    State(app): State<App>,
    Path(id): Path<String>,
    Query(q): Query<StreamQuery>,
) -> Page {
    let run = find_run(&app, &id).await?;
    let cursor = LiveCursor {
        app,
        run: run.id,
        after: q.after,
        queued: Default::default(),
        ended: false,
    };
    let events =
        futures::stream::unfold(cursor, LiveCursor::next).map(Ok::<_, std::convert::Infallible>);
    Ok(axum::response::sse::Sse::new(events)
        .keep_alive(axum::response::sse::KeepAlive::default())
        .into_response())
}

/// One request of a run with its captured headers and bodies: where the run page links
/// the captured requests it does not hold inline.
async fn request_page(State(app): State<App>, Path((id, seq)): Path<(String, String)>) -> Page {
    let run = find_run(&app, &id).await?;
    // Sequence numbers start at 0; anything else (a negative or huge number) is no page.
    let Some((seq, before)) = seq
        .parse::<u32>()
        .ok()
        .map(|n| (i64::from(n), i64::from(n) - 1))
    else {
        return Err(not_found().await);
    };
    let run_id = run.id;
    let found = app
        .stores
        .with_push(move |s| s.requests_after(run_id, Some(before), 1))
        .await
        .map_err(failure)?
        .unwrap_or_default()
        .into_iter()
        .find(|(at, _)| *at == seq);
    match found {
        Some((_, q)) => Ok(html_page(html::request_page(&run, seq, &q))),
        None => Err(not_found().await),
    }
}

async fn run_page(State(app): State<App>, Path(id): Path<String>) -> Page {
    let run = find_run(&app, &id).await?;
    Ok(html_page(html::run_page(&run, chrono::Utc::now())))
}

fn download(content_type: &'static str, name: String, body: Vec<u8>) -> Response {
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .unwrap_or(HeaderValue::from_static("attachment"));
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response()
}

/// The rejected rows as CSV: row, key, field, reason (as `bcsync runs show --format csv`).
pub fn rejected_csv_bytes(run: &RunRecord) -> std::result::Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["row", "key", "field", "reason"])?;
    for r in &run.rejected {
        w.write_record([
            r.row.to_string().as_str(),
            r.key.as_deref().unwrap_or(""),
            r.field.as_deref().unwrap_or(""),
            r.reason.as_str(),
        ])?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

async fn rejected_csv(State(app): State<App>, Path(id): Path<String>) -> Page {
    let run = find_run(&app, &id).await?;
    let body = rejected_csv_bytes(&run).map_err(|e| {
        failure(crate::Error::Encode {
            what: "the rejected rows as CSV",
            detail: e.to_string(),
        })
    })?;
    Ok(download(
        "text/csv; charset=utf-8",
        format!("run-{}-rejected.csv", run.id),
        body,
    ))
}

async fn rejected_json(State(app): State<App>, Path(id): Path<String>) -> Page {
    let run = find_run(&app, &id).await?;
    let body = serde_json::to_vec_pretty(&run.rejected).map_err(|e| {
        failure(crate::Error::Encode {
            what: "the rejected rows as JSON",
            detail: e.to_string(),
        })
    })?;
    Ok(download(
        "application/json",
        format!("run-{}-rejected.json", run.id),
        body,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::push::RequestCapture;

    #[test]
    fn the_stream_carries_captures_as_the_run_page_holds_them() {
        let q = LoggedRequest {
            method: "GET".into(),
            capture: Some(RequestCapture::default()),
            ..LoggedRequest::default()
        };
        let first = request_json(0, &q);
        assert!(first["capture"].is_object() && first.get("captured").is_none());
        assert_eq!(first["seq"], 0);
        let past = request_json(html::INLINE_CAPTURES as i64, &q);
        assert!(past.get("capture").is_none());
        assert_eq!(past["captured"], true);
        let plain = request_json(99, &LoggedRequest::default());
        assert!(plain.get("capture").is_none() && plain.get("captured").is_none());
    }
}
