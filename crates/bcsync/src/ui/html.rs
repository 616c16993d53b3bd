//! The pages, rendered on the server as plain HTML (pure functions of what was read, so
//! they are tested without a server). Every value from a store goes through [`esc`]; no
//! page carries a token or a database password (specs are shown redacted by the caller).

use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::{DateTime, Utc};

use super::data::Extraction;
use crate::state::push::{CapturedText, LoggedRequest, RequestCapture, RunFilter, RunRecord};

/// Statuses a run can list with, for the filter.
pub const STATUSES: &[&str] = &[
    "ok",
    "failed",
    "rejected_over_threshold",
    "refused",
    "interrupted",
    "running",
];

/// Rejected rows and requests shown inline on a run's page (the downloads have them all).
pub const INLINE_ROWS: usize = 500;
/// Where the live debugger's script is served.
pub const LIVE_SCRIPT_PATH: &str = "/assets/live.js";

/// HTML-escapes text for element content and quoted attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a query parameter value.
fn qv(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `12345` as `12,345`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A duration in milliseconds as people read it.
pub fn duration(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

/// Seconds as "3 min", "2 h 5 min", "4 d 3 h".
pub fn span(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..60 => format!("{s} s"),
        60..3_600 => format!("{} min", s / 60),
        3_600..86_400 => format!("{} h {} min", s / 3_600, (s % 3_600) / 60),
        _ => format!("{} d {} h", s / 86_400, (s % 86_400) / 3_600),
    }
}

/// A stored time as "2026-12-03 16:04:57 UTC" with how long ago, in a `<time>` element.
fn when(ts: &str, now: DateTime<Utc>) -> String {
    match DateTime::parse_from_rfc3339(ts) {
        Ok(t) => {
            let t = t.with_timezone(&Utc);
            format!(
                "<time datetime=\"{}\" title=\"{}\">{} ago</time>",
                esc(ts),
                t.format("%Y-%m-%d %H:%M:%S UTC"),
                span((now - t).num_seconds())
            )
        }
        Err(_) if ts.is_empty() => "—".into(),
        Err(_) => esc(ts),
    }
}

fn badge(status: &str) -> String {
    let class = match status {
        "ok" => "ok",
        "running" => "run",
        "interrupted" | "rejected_over_threshold" | "refused" | "paused" | "draining" | "never" => {
            "warn"
        }
        _ => "bad",
    };
    format!("<span class=\"badge {class}\">{}</span>", esc(status))
}

fn run_status(r: &RunRecord) -> String {
    let mut s = badge(&r.status);
    if r.dry_run {
        s.push_str(" <span class=\"badge dry\">dry run</span>");
    }
    s
}

/// Non-zero counts, "created 3 · updated 2", rejected last.
fn counts(c: &BTreeMap<String, u64>) -> String {
    let parts: Vec<String> = c
        .iter()
        .filter(|(k, v)| **v > 0 && *k != "rejected")
        .map(|(k, v)| format!("<span class=\"nw\">{} {}</span>", esc(k), thousands(*v)))
        .collect();
    if parts.is_empty() {
        "—".into()
    } else {
        parts.join(" · ")
    }
}

fn rejected(r: &RunRecord) -> u64 {
    r.counts.get("rejected").copied().unwrap_or(0)
}

/// The page around a body.
pub fn page(title: &str, active: &str, body: &str) -> String {
    let nav = |href: &str, label: &str, key: &str| {
        let current = if key == active {
            " aria-current=\"page\""
        } else {
            ""
        };
        format!("<a href=\"{href}\"{current}>{label}</a>")
    };
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · bcsync</title><link rel=\"stylesheet\" href=\"/assets/style.css\"></head>\
         <body><header><span class=\"brand\">bcsync</span><nav>{}{}{}{}</nav></header>\
         <main>{body}</main></body></html>\n",
        esc(title),
        nav("/", "Status", "status"),
        nav("/runs", "Runs", "runs"),
        nav("/charts", "Charts", "charts"),
        nav("/fleet", "Fleet", "fleet"),
    )
}

/// Seconds (fractional, possibly absent) as [`span`] shows them.
fn span_f(secs: Option<f64>) -> String {
    secs.map_or("—".into(), |s| span(s.round() as i64))
}

/// The fleet page: what `bcsync status --fleet` prints, as tables.
pub fn fleet_page(v: &super::data::FleetView) -> String {
    use super::data::FleetView;
    let body = match v {
        FleetView::NotPostgres => "<h1>Fleet</h1><p>A fleet's registry lives in a PostgreSQL \
             state store: start <code>bcsync ui --state postgres://…</code> with the fleet's \
             state store (the one <code>bcsync stores add</code> and \
             <code>bcsync worker</code> use).</p>"
            .to_owned(),
        FleetView::NoFleet(shown) => format!(
            "<h1>Fleet</h1><p>No fleet in {}: register stores with <code>bcsync stores add \
             HASH --token-env NAME</code> and run <code>bcsync worker</code>.</p>",
            esc(shown)
        ),
        FleetView::Failed(why) => format!(
            "<h1>Fleet</h1><p class=\"bad\">Could not read the fleet registry: {}</p>",
            esc(why)
        ),
        FleetView::Fleet {
            shown,
            status,
            backlog,
        } => {
            let alive = status.workers.iter().filter(|w| w.alive).count();
            let paused = status.stores.iter().filter(|s| s.paused).count();
            let mut out = format!(
                "<h1>Fleet</h1><p>{} stores ({paused} paused) in {}; {alive} workers alive, \
                 {} leases held.</p><p>Jobs: {} running, {} waiting, the oldest waiting {}.</p>",
                status.stores.len(),
                esc(shown),
                status.leases,
                status.running,
                status.queue_depth,
                span_f(status.oldest_due_s)
            );
            match backlog {
                Some(Ok(n)) => out.push_str(&format!(
                    "<p>Webhook deliveries in JetStream not yet in an inbox: {}</p>",
                    thousands(*n)
                )),
                Some(Err(why)) => out.push_str(&format!(
                    "<p class=\"bad\">JetStream could not be read: {}</p>",
                    esc(why)
                )),
                None => {}
            }
            out.push_str(
                "<h2>Workers</h2><table><thead><tr><th>worker</th><th>host</th><th>pid</th>\
                 <th class=\"n\">leases</th><th>heartbeat</th><th>state</th></tr></thead><tbody>",
            );
            for w in &status.workers {
                let state = match (w.alive, w.draining) {
                    (false, _) => badge("gone"),
                    (true, true) => badge("draining"),
                    (true, false) => badge("ok"),
                };
                out.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{} ago</td><td>{state}</td></tr>",
                    esc(&w.id),
                    esc(&w.host),
                    w.pid,
                    w.leases,
                    span_f(Some(w.seconds_since_heartbeat))
                ));
            }
            out.push_str(
                "</tbody></table><h2>Stores</h2><table><thead><tr><th>store</th><th>state</th>\
                 <th class=\"n\">lag</th><th>lease</th><th>jobs</th></tr></thead><tbody>",
            );
            for s in &status.stores {
                let jobs: Vec<String> = s
                    .jobs
                    .iter()
                    .map(|j| {
                        let last = if j.running_worker.is_some() {
                            badge("running")
                        } else {
                            badge(j.last_status.as_deref().unwrap_or("never"))
                        };
                        let title = j
                            .last_error
                            .as_deref()
                            .map_or(String::new(), |e| format!(" title=\"{}\"", esc(e)));
                        format!("<span{title}>{} {last}</span>", j.kind)
                    })
                    .collect();
                out.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&s.store_hash),
                    if s.paused {
                        badge("paused")
                    } else {
                        badge("ok")
                    },
                    span_f(s.lag_s()),
                    esc(s.lease_holder().unwrap_or("—")),
                    jobs.join(" ")
                ));
            }
            out.push_str("</tbody></table>");
            out
        }
    };
    page("Fleet", "fleet", &body)
}

/// What the status page shows.
pub struct StatusView {
    pub store_hash: Option<String>,
    pub state_shown: String,
    /// `Ok(None)`: no push has run yet; `Err`: the store could not be read (redacted).
    pub latest: Result<Option<Vec<RunRecord>>, String>,
    pub extraction: Extraction,
    pub brevo_sync: &'static str,
    /// Open alert incidents (`[[alert]]`); empty when none or unreadable.
    pub incidents: Vec<crate::state::push::Incident>,
    /// Whether the store answered the cheap check, and its quota.
    pub store_check: super::data::StoreCheck,
    /// `listen`'s health, when it runs (or ran) on this destination.
    pub listen: Option<Result<crate::listen::status::Status, String>>,
}

/// The store card's lines: connected or not, and the quota the answer announced.
fn store_check_lines(check: &super::data::StoreCheck) -> String {
    use super::data::StoreCheck;
    match check {
        StoreCheck::NotAsked => "<p class=\"meta\">Not asked: set BIGCOMMERCE_ACCESS_TOKEN (or access_token in bcsync.toml) for a connection check.</p>".into(),
        StoreCheck::Connected {
            quota,
            left,
            window_secs,
            checked_at,
        } => {
            let quota = match (quota, left, window_secs) {
                (Some(q), Some(l), Some(w)) => format!("quota: {l} of {q} requests left in its {w} s window"),
                (Some(q), _, _) => format!("quota: {q} requests per window"),
                _ => "no rate-limit headers".into(),
            };
            format!(
                "<p class=\"ok\" id=\"store-check\">connected</p><p class=\"meta\">{} · checked {}</p>",
                esc(&quota),
                esc(checked_at)
            )
        }
        StoreCheck::Failed { reason, checked_at } => format!(
            "<p class=\"bad\" id=\"store-check\">not connected</p><p class=\"meta\">{} · checked {}</p>",
            esc(reason),
            esc(checked_at)
        ),
    }
}

/// `listen`'s section: running or not, last event, inbox depth, parked events, lag, hooks.
fn listen_section(listen: &Result<crate::listen::status::Status, String>) -> String {
    let s = match listen {
        Ok(s) => s,
        Err(e) => {
            return format!(
                "<h2>listen</h2><p class=\"bad\">not readable: {}</p>",
                esc(e)
            );
        }
    };
    let dash = |v: &Option<String>| v.as_deref().map(esc).unwrap_or_else(|| "—".into());
    let mut b = format!(
        "<h2>listen</h2><dl class=\"facts\" id=\"listen-health\">\
         <div><dt>Listener</dt><dd><span class=\"{}\">{}</span></dd></div>\
         <div><dt>Last event</dt><dd>{}</dd></div>\
         <div><dt>Last applied</dt><dd>{}</dd></div>\
         <div><dt>Inbox</dt><dd>{} pending of {}{}</dd></div>\
         <div><dt>Lag</dt><dd>{} s</dd></div>\
         <div><dt>Hooks repaired</dt><dd>{}</dd></div>",
        if s.connected { "ok" } else { "warn" },
        if s.connected {
            "running"
        } else {
            "not running"
        },
        dash(&s.last_event_at),
        dash(&s.last_applied_at),
        s.inbox_pending,
        s.inbox_total,
        if s.inbox_parked > 0 {
            format!(", {} parked", s.inbox_parked)
        } else {
            String::new()
        },
        s.lag_seconds,
        dash(&s.hooks_repaired_at),
    );
    if let Some(f) = &s.brevo_forward {
        let _ = write!(b, "<div><dt>Brevo forward</dt><dd>{}</dd></div>", esc(f));
    }
    b.push_str("</dl>");
    b
}

/// The open alert incidents: what fired, for which sync, since when, whether it was sent.
fn incidents_table(incidents: &[crate::state::push::Incident], now: DateTime<Utc>) -> String {
    let mut t = String::from(
        "<div class=\"scroll\"><table><thead><tr><th>Alert</th><th>Condition</th><th>Sync</th>\
         <th>Store</th><th>Since</th><th>Run</th><th>Sent</th><th>What</th></tr></thead><tbody>",
    );
    for i in incidents {
        let run = if i.run_id > 0 {
            format!("<a href=\"/runs/{0}\">#{0}</a>", i.run_id)
        } else {
            "—".into()
        };
        let _ = write!(
            t,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{run}</td><td class=\"{}\">{}</td><td class=\"wrap\">{}</td></tr>",
            esc(&i.alert),
            esc(&i.condition),
            esc(&i.sync),
            esc(&i.store),
            when(&i.opened_at, now),
            if i.notified { "ok" } else { "bad" },
            if i.notified {
                "sent"
            } else {
                "not delivered yet"
            },
            esc(&i.summary),
        );
    }
    t.push_str("</tbody></table></div>");
    t
}

fn runs_table(runs: &[RunRecord], now: DateTime<Utc>, with_id: bool) -> String {
    let mut t = String::from("<div class=\"scroll\"><table><thead><tr>");
    if with_id {
        t.push_str("<th>Run</th>");
    }
    t.push_str(
        "<th>Sync</th><th>Store</th><th>Status</th><th>Started</th><th class=\"n\">Duration</th>\
         <th class=\"n\">Requests</th><th class=\"n\">429s</th><th class=\"n\">Retries</th><th>Counts</th>\
         <th class=\"n\">Rejected</th></tr></thead><tbody>",
    );
    for r in runs {
        t.push_str("<tr>");
        if with_id {
            let _ = write!(t, "<td><a href=\"/runs/{0}\">#{0}</a></td>", r.id);
        }
        let _ = write!(
            t,
            "<td><a href=\"/runs/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"wrap\">{}</td><td class=\"n\">{}</td></tr>",
            r.id,
            esc(&r.sync),
            esc(&r.store),
            run_status(r),
            when(&r.started_at, now),
            if r.finished_at.is_empty() {
                "—".into()
            } else {
                duration(r.duration_ms)
            },
            thousands(r.requests),
            thousands(r.throttled),
            thousands(r.retried),
            counts(&r.counts),
            thousands(rejected(r)),
        );
    }
    t.push_str("</tbody></table></div>");
    t
}

pub fn status_page(v: &StatusView, now: DateTime<Utc>) -> String {
    let mut b = String::from("<h1>Status</h1><section class=\"cards\">");
    let _ = write!(
        b,
        "<div class=\"card\"><h2>Store</h2><p class=\"big\">{}</p>{}</div>",
        v.store_hash
            .as_deref()
            .map(esc)
            .unwrap_or_else(|| "not configured".into()),
        store_check_lines(&v.store_check)
    );
    let (state_line, state_class) = match &v.latest {
        Ok(Some(_)) => ("readable".to_owned(), "ok"),
        Ok(None) => ("no push has run yet".to_owned(), "warn"),
        Err(e) => (format!("not readable: {}", esc(e)), "bad"),
    };
    let _ = write!(
        b,
        "<div class=\"card\"><h2>Push state store</h2><p><code>{}</code></p><p class=\"{state_class}\">{state_line}</p></div>",
        esc(&v.state_shown)
    );
    let _ = write!(
        b,
        "<div class=\"card\"><h2>Extraction</h2><p><code>{}</code></p><p>{} streams · {} tables</p></div></section>",
        esc(&v.extraction.shown),
        v.extraction.streams.len(),
        v.extraction.tables.len()
    );

    let latest = v
        .latest
        .as_ref()
        .ok()
        .cloned()
        .flatten()
        .unwrap_or_default();
    let (brevo, push): (Vec<RunRecord>, Vec<RunRecord>) =
        latest.into_iter().partition(|r| r.sync == v.brevo_sync);
    if !v.incidents.is_empty() {
        let _ = write!(
            b,
            "<h2>Open alerts <span class=\"count\">{}</span></h2>",
            v.incidents.len()
        );
        b.push_str(&incidents_table(&v.incidents, now));
    }
    if let Some(listen) = &v.listen {
        b.push_str(&listen_section(listen));
    }
    b.push_str("<h2>Push syncs: last run</h2>");
    if push.is_empty() {
        b.push_str("<p class=\"empty\">No push run recorded.</p>");
    } else {
        b.push_str(&runs_table(&push, now, false));
    }
    if !brevo.is_empty() {
        b.push_str("<h2>Brevo: last run</h2>");
        b.push_str(&runs_table(&brevo, now, false));
    }

    b.push_str("<h2>Extraction: streams</h2>");
    if let Some(note) = &v.extraction.note {
        let _ = write!(b, "<p class=\"empty\">{}</p>", esc(note));
    }
    if !v.extraction.streams.is_empty() {
        b.push_str(
            "<div class=\"scroll\"><table><thead><tr><th>Stream</th><th>Bookmark</th><th class=\"n\">Lag</th>\
             <th>Last written</th></tr></thead><tbody>",
        );
        for s in &v.extraction.streams {
            let bookmark = match s.bookmark {
                Some(t) => format!(
                    "<time datetime=\"{0}\">{0}</time>",
                    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
                None if s.full_read => "full read under way".into(),
                None => "none (full table stream)".into(),
            };
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{bookmark}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                esc(&s.stream),
                s.lag_seconds.map(span).unwrap_or_else(|| "—".into()),
                s.updated_at
                    .as_deref()
                    .map(|u| when(u, now))
                    .unwrap_or_else(|| "—".into()),
            );
        }
        b.push_str("</tbody></table></div>");
    }
    if !v.extraction.tables.is_empty() {
        b.push_str(
            "<h2>Extraction: tables</h2><div class=\"scroll\"><table class=\"narrow\"><thead><tr><th>Table</th>\
             <th class=\"n\">Rows</th></tr></thead><tbody>",
        );
        for t in &v.extraction.tables {
            let _ = write!(
                b,
                "<tr><td>{}</td><td class=\"n\">{}</td></tr>",
                esc(&t.table),
                thousands(t.rows.max(0) as u64)
            );
        }
        b.push_str("</tbody></table></div>");
    }
    page("Status", "status", &b)
}

/// What the runs page shows.
pub struct RunsView {
    pub filter: RunFilter,
    /// Syncs known to the store (for the filter).
    pub syncs: Vec<String>,
    pub runs: Vec<RunRecord>,
    pub total: u64,
    /// 1-based.
    pub page: usize,
    pub per_page: usize,
}

fn runs_link(filter: &RunFilter, page: usize) -> String {
    let mut q = Vec::new();
    if let Some(s) = &filter.sync {
        q.push(format!("sync={}", qv(s)));
    }
    if let Some(s) = &filter.status {
        q.push(format!("status={}", qv(s)));
    }
    if page > 1 {
        q.push(format!("page={page}"));
    }
    if q.is_empty() {
        "/runs".into()
    } else {
        format!("/runs?{}", esc(&q.join("&")))
    }
}

fn select(name: &str, label: &str, options: &[String], chosen: Option<&str>) -> String {
    let mut s = format!(
        "<label>{label} <select name=\"{name}\" onchange=\"this.form.submit()\"><option value=\"\">all</option>"
    );
    for o in options {
        let sel = if chosen == Some(o.as_str()) {
            " selected"
        } else {
            ""
        };
        let _ = write!(s, "<option value=\"{0}\"{sel}>{0}</option>", esc(o));
    }
    s.push_str("</select></label>");
    s
}

pub fn runs_page(v: &RunsView, now: DateTime<Utc>) -> String {
    let mut b =
        String::from("<h1>Runs</h1><form class=\"filters\" method=\"get\" action=\"/runs\">");
    let mut syncs = v.syncs.clone();
    if let Some(s) = &v.filter.sync
        && !syncs.contains(s)
    {
        syncs.push(s.clone());
    }
    b.push_str(&select("sync", "Sync", &syncs, v.filter.sync.as_deref()));
    let statuses: Vec<String> = STATUSES.iter().map(|s| (*s).to_owned()).collect();
    b.push_str(&select(
        "status",
        "Status",
        &statuses,
        v.filter.status.as_deref(),
    ));
    b.push_str("<button type=\"submit\">Filter</button></form>");
    let pages = (v.total as usize).div_ceil(v.per_page.max(1)).max(1);
    let _ = write!(
        b,
        "<p class=\"meta\">{} run{} · page {} of {}</p>",
        thousands(v.total),
        if v.total == 1 { "" } else { "s" },
        v.page,
        pages
    );
    if v.runs.is_empty() {
        b.push_str("<p class=\"empty\">No run matches.</p>");
    } else {
        b.push_str(&runs_table(&v.runs, now, true));
    }
    b.push_str("<nav class=\"pager\">");
    if v.page > 1 {
        let _ = write!(
            b,
            "<a rel=\"prev\" href=\"{}\">← Newer</a>",
            runs_link(&v.filter, v.page - 1)
        );
    }
    if v.page < pages {
        let _ = write!(
            b,
            "<a rel=\"next\" href=\"{}\">Older →</a>",
            runs_link(&v.filter, v.page + 1)
        );
    }
    b.push_str("</nav>");
    page("Runs", "runs", &b)
}

pub fn run_page(r: &RunRecord, now: DateTime<Utc>) -> String {
    let mut b = format!(
        "<p class=\"crumbs\"><a href=\"/runs\">Runs</a> › #{}</p><h1>Run #{} · {}</h1>",
        r.id,
        r.id,
        esc(&r.sync)
    );
    b.push_str("<dl class=\"facts\">");
    let mut fact = |k: &str, v: String| {
        let _ = write!(b, "<div><dt>{k}</dt><dd>{v}</dd></div>");
    };
    fact("Status", run_status(r));
    fact("Store", esc(&r.store));
    fact("Started", when(&r.started_at, now));
    fact("Finished", when(&r.finished_at, now));
    fact(
        "Duration",
        if r.finished_at.is_empty() {
            "—".into()
        } else {
            duration(r.duration_ms)
        },
    );
    fact(
        "Requests",
        format!(
            "{} ({} writes, {} lookups)",
            thousands(r.requests),
            thousands(r.write_requests),
            thousands(r.lookup_requests)
        ),
    );
    fact(
        "Rate limit",
        format!(
            "{} answered 429, {} retried",
            thousands(r.throttled),
            thousands(r.retried)
        ),
    );
    b.push_str("</dl>");
    if let Some(m) = &r.message {
        let _ = write!(
            b,
            "<p class=\"message\">{}</p>",
            esc(&crate::pg::redact_in(m))
        );
    }
    b.push_str("<h2>Counts</h2>");
    if r.counts.is_empty() {
        b.push_str("<p class=\"empty\">No counts recorded.</p>");
    } else {
        b.push_str("<div class=\"scroll\"><table class=\"narrow\"><thead><tr><th>Operation</th><th class=\"n\">Records</th></tr></thead><tbody>");
        for (k, v) in &r.counts {
            let _ = write!(
                b,
                "<tr><td>{}</td><td class=\"n\">{}</td></tr>",
                esc(k),
                thousands(*v)
            );
        }
        b.push_str("</tbody></table></div>");
    }
    let _ = write!(
        b,
        "<h2 id=\"rejected\">Rejected rows <span class=\"count\">{}</span></h2>",
        thousands(r.rejected.len() as u64)
    );
    if r.rejected.is_empty() {
        b.push_str("<p class=\"empty\">No row was rejected.</p>");
    } else {
        let _ = write!(
            b,
            "<p class=\"downloads\">Download: <a href=\"/runs/{0}/rejected.csv\" download>CSV</a> \
             <a href=\"/runs/{0}/rejected.json\" download>JSON</a></p>",
            r.id
        );
        b.push_str("<div class=\"scroll\"><table class=\"rejected\"><thead><tr><th class=\"n\">Row</th><th>Key</th><th>Field</th><th>Reason</th></tr></thead><tbody>");
        for x in r.rejected.iter().take(INLINE_ROWS) {
            let _ = write!(
                b,
                "<tr><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                x.row,
                esc(x.key.as_deref().unwrap_or("—")),
                esc(x.field.as_deref().unwrap_or("—")),
                esc(&x.reason)
            );
        }
        b.push_str("</tbody></table></div>");
        if r.rejected.len() > INLINE_ROWS {
            let _ = write!(
                b,
                "<p class=\"meta\">The first {INLINE_ROWS} shown; the downloads have all {}.</p>",
                thousands(r.rejected.len() as u64)
            );
        }
    }
    let live = r.status == "running";
    let _ = write!(
        b,
        "<h2 id=\"requests\">Requests <span class=\"count\" id=\"requests-count\">{}</span></h2>",
        thousands(r.request_log.len() as u64)
    );
    if live {
        b.push_str(
            "<p class=\"meta\" id=\"live-note\">The run is going on: its requests appear here as they are made.</p>",
        );
    }
    if !r.request_log.iter().any(|q| q.capture.is_some()) && (live || !r.request_log.is_empty()) {
        b.push_str(CAPTURE_OFF_NOTE);
    }
    if r.request_log.is_empty() && !live {
        b.push_str("<p class=\"empty\">No request log was recorded for this run.</p>");
    } else {
        // A running run's table is filled on by live.js; its rows are numbered from the
        // position after the last one rendered.
        let after = r
            .request_log
            .len()
            .checked_sub(1)
            .map(|n| n.to_string())
            .unwrap_or_default();
        let _ = write!(
            b,
            "<div class=\"scroll\"><table><thead><tr><th class=\"n\">#</th><th>Method</th><th>Path</th>\
             <th class=\"n\">Status</th><th class=\"n\">ms</th><th class=\"n\">Left</th><th>Retry</th></tr></thead>\
             <tbody id=\"requests-body\" data-run=\"{}\" data-after=\"{after}\">",
            r.id
        );
        for (i, q) in r.request_log.iter().enumerate().take(INLINE_ROWS) {
            let status = q
                .status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "—".into());
            let class = match q.status {
                Some(200..300) => "",
                _ => " class=\"bad\"",
            };
            let title = q
                .detail
                .error
                .as_deref()
                .map(|e| format!(" title=\"{}\"", esc(e)))
                .unwrap_or_default();
            let left = q
                .detail
                .rate_left
                .map(|n| n.to_string())
                .unwrap_or_else(|| "—".into());
            let retry = if q.detail.retried {
                "retried".to_owned()
            } else if q.detail.attempt > 1 {
                format!("try {}", q.detail.attempt)
            } else {
                String::new()
            };
            let _ = write!(
                b,
                "<tr><td class=\"n\">{}</td><td>{}</td><td>{}</td><td class=\"n\"><span{class}{title}>{status}</span></td>\
                 <td class=\"n\">{}</td><td class=\"n\">{left}</td><td>{retry}</td></tr>",
                i + 1,
                esc(&q.method),
                path_cell(r.id, i, &q.path, q.capture.as_ref()),
                thousands(q.ms)
            );
        }
        b.push_str("</tbody></table></div>");
        if r.request_log.len() > INLINE_ROWS {
            let _ = write!(
                b,
                "<p class=\"meta\">The first {INLINE_ROWS} requests shown of {}.</p>",
                thousands(r.request_log.len() as u64)
            );
        }
        if live {
            let _ = write!(b, "<script src=\"{LIVE_SCRIPT_PATH}\" defer></script>");
        }
    }
    page(&format!("Run #{}", r.id), "runs", &b)
}

/// Said above the requests of a run that captured no headers or bodies (live.js removes
/// it when a captured request arrives).
const CAPTURE_OFF_NOTE: &str = "<p class=\"meta\" id=\"capture-note\">Headers and bodies were not \
     captured for this run. To keep them, run with <code>--capture-bodies</code> or set \
     <code>capture_bodies = true</code> under <code>[debug]</code> in bcsync.toml; \
     <code>redact_fields</code> there lists the personal fields to hide.</p>";

/// Captured requests whose headers and bodies a run page holds inline; the others link
/// to their own page, so a long captured run (bodies of up to 64 KiB each) still loads
/// fast.
pub const INLINE_CAPTURES: usize = 50;

/// A request's path: with its captured headers and bodies, a `<details>` that opens on a
/// click (no script needed), or past [`INLINE_CAPTURES`] a link to the request's page.
fn path_cell(run: i64, seq: usize, path: &str, capture: Option<&RequestCapture>) -> String {
    match capture {
        None => format!("<code>{}</code>", esc(path)),
        Some(_) if seq >= INLINE_CAPTURES => format!(
            "<a class=\"capture\" href=\"/runs/{run}/requests/{seq}\"><code>{}</code></a>",
            esc(path)
        ),
        Some(c) => format!(
            "<details class=\"capture\"><summary><code>{}</code></summary>{}</details>",
            esc(path),
            capture_html(c)
        ),
    }
}

/// One request's page: its line and its captured headers and bodies.
pub fn request_page(run: &RunRecord, seq: i64, q: &LoggedRequest) -> String {
    let mut b = format!(
        "<p class=\"crumbs\"><a href=\"/runs\">Runs</a> › <a href=\"/runs/{0}#requests\">#{0}</a> › request {1}</p>\
         <h1>{2} <code>{3}</code></h1><p class=\"meta\">Status {4} · {5} ms · try {6}</p>",
        run.id,
        seq + 1,
        esc(&q.method),
        esc(&q.path),
        q.status
            .map(|s| s.to_string())
            .unwrap_or_else(|| "—".into()),
        thousands(q.ms),
        q.detail.attempt.max(1)
    );
    match &q.capture {
        Some(c) => b.push_str(&capture_html(c)),
        None => b.push_str(CAPTURE_OFF_NOTE),
    }
    page(
        &format!("Run #{} · request {}", run.id, seq + 1),
        "runs",
        &b,
    )
}

/// The captured headers and bodies, already redacted by the client.
pub fn capture_html(c: &RequestCapture) -> String {
    let mut b = String::from("<div class=\"captured\">");
    let headers = |b: &mut String, title: &str, h: &[(String, String)]| {
        let text: String = h.iter().map(|(k, v)| format!("{k}: {v}\n")).collect();
        let _ = write!(b, "<h3>{title}</h3><pre>{}</pre>", esc(text.trim_end()));
    };
    let body = |b: &mut String, title: &str, body: Option<&CapturedText>| match body {
        None => {
            let _ = write!(b, "<h3>{title}</h3><p class=\"meta\">No body.</p>");
        }
        Some(t) => {
            let _ = write!(b, "<h3>{title}</h3><pre>{}</pre>", esc(&pretty(t)));
            if t.truncated {
                let _ = write!(
                    b,
                    "<p class=\"meta\">Cut: the first {} of {} bytes.</p>",
                    thousands(t.text.len() as u64),
                    thousands(t.bytes as u64)
                );
            }
        }
    };
    headers(&mut b, "Request headers", &c.request_headers);
    body(&mut b, "Request body", c.request_body.as_ref());
    headers(&mut b, "Response headers", &c.response_headers);
    body(&mut b, "Response body", c.response_body.as_ref());
    b.push_str("</div>");
    b
}

/// A whole JSON body indented; anything else (a cut body, text) as it is.
fn pretty(t: &CapturedText) -> String {
    if t.truncated {
        return t.text.clone();
    }
    serde_json::from_str::<serde_json::Value>(&t.text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| t.text.clone())
}

/// A page saying what went wrong and what to do.
pub fn message_page(title: &str, text: &str) -> String {
    page(
        title,
        "",
        &format!(
            "<h1>{}</h1><p class=\"message\">{}</p>",
            esc(title),
            esc(text)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_the_store_is_escaped() {
        assert_eq!(
            esc("<script>\"x\" & 'y'"),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;"
        );
        let r = RunRecord {
            id: 7,
            sync: "<b>sync</b>".into(),
            ..RunRecord::default()
        };
        let html = run_page(&r, Utc::now());
        assert!(!html.contains("<b>sync"));
        assert!(html.contains("&lt;b&gt;sync"));
    }

    #[test]
    fn captured_requests_open_inline_then_link_to_their_page_and_bodies_are_escaped() {
        let captured = |path: &str| LoggedRequest {
            method: "POST".into(),
            path: path.into(),
            capture: Some(RequestCapture {
                request_body: Some(CapturedText {
                    text: r#"{"note":"<script>","email":"<redacted>"}"#.into(),
                    truncated: false,
                    bytes: 40,
                }),
                ..RequestCapture::default()
            }),
            ..LoggedRequest::default()
        };
        let r = RunRecord {
            id: 3,
            status: "ok".into(),
            request_log: (0..INLINE_CAPTURES + 1)
                .map(|i| captured(&format!("/v3/p{i}")))
                .collect(),
            ..RunRecord::default()
        };
        let html = run_page(&r, Utc::now());
        assert_eq!(
            html.matches("<details class=\"capture\">").count(),
            INLINE_CAPTURES
        );
        assert!(html.contains(&format!(
            "<a class=\"capture\" href=\"/runs/3/requests/{INLINE_CAPTURES}\">"
        )));
        assert!(!html.contains("id=\"capture-note\""));
        assert!(!html.contains("<script>\""));
        assert!(html.contains("&quot;note&quot;: &quot;&lt;script&gt;&quot;"));
        // Without capture: the note names the flag and the setting.
        let plain = RunRecord {
            request_log: vec![LoggedRequest::default()],
            ..r
        };
        let html = run_page(&plain, Utc::now());
        assert!(html.contains("id=\"capture-note\""));
        assert!(html.contains("--capture-bodies") && html.contains("capture_bodies = true"));
    }

    #[test]
    fn open_incidents_are_listed_escaped() {
        let v = StatusView {
            store_hash: Some("abc".into()),
            state_shown: "push.db".into(),
            latest: Ok(None),
            extraction: Extraction::default(),
            brevo_sync: "brevo",
            incidents: vec![crate::state::push::Incident {
                store: "abc".into(),
                alert: "ops".into(),
                condition: "run_failed".into(),
                sync: "crm".into(),
                opened_at: "2026-01-01T00:00:00Z".into(),
                run_id: 12,
                summary: "run 12 failed: <boom>".into(),
                notified: true,
            }],
            store_check: super::super::data::StoreCheck::Failed {
                reason: "HTTP 401 <refused>".into(),
                checked_at: "2026-01-01T00:00:00Z".into(),
            },
            listen: None,
        };
        let html = status_page(&v, Utc::now());
        assert!(html.contains("not connected"));
        assert!(html.contains("HTTP 401 &lt;refused&gt;"));
        assert!(
            html.contains("Open alerts <span class=\"count\">1</span>"),
            "{html}"
        );
        assert!(html.contains("<a href=\"/runs/12\">#12</a>"));
        assert!(html.contains("run 12 failed: &lt;boom&gt;"));
        let quiet = StatusView {
            incidents: Vec::new(),
            ..v
        };
        assert!(!status_page(&quiet, Utc::now()).contains("Open alerts"));
    }

    #[test]
    fn numbers_and_durations_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(100), "100");
        assert_eq!(duration(950), "950 ms");
        assert_eq!(duration(1_500), "1.5 s");
        assert_eq!(duration(125_000), "2 min 5 s");
        assert_eq!(span(90_000), "1 d 1 h");
    }

    #[test]
    fn pager_links_keep_the_filter() {
        let f = RunFilter {
            sync: Some("a b&c".into()),
            status: Some("ok".into()),
        };
        assert_eq!(
            runs_link(&f, 3),
            "/runs?sync=a+b%26c&amp;status=ok&amp;page=3"
        );
        assert_eq!(runs_link(&RunFilter::default(), 1), "/runs");
    }
}
