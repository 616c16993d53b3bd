//! `bcsync check`, `bcsync discover` and `bcsync extract`.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use bcsync::extract::{
    ExtractOptions, ExtractSummary, Progress, RequestCounter, run_to as run_extraction,
};
use bcsync::streams::{self, Paging, Replication, STREAMS};
use bigcommerce::{ApiVersion, Client};
use clap::Args;
use serde_json::{Value, json};

use super::{Interrupt, StoreArgs};

/// `discover` lists the streams bcsync knows; it reads nothing from the store, but takes
/// the store flags so the command line of `check` or `extract` works with it too.
#[derive(Debug, Args)]
pub struct DiscoverArgs {
    /// Print a Singer catalog (JSON) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Accepted and not needed: the stream list is the same for every store.
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct ExtractArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Streams to extract, comma-separated (default: all; see `bcsync discover`).
    #[arg(long, value_delimiter = ',')]
    pub streams: Vec<String>,
    /// Destination: sqlite:PATH (default sqlite:bcsync.db), postgres://USER@HOST/DB[?schema=NAME] (postgres alone: DATABASE_URL), singer (stdout), jsonl:DIR.
    #[arg(long)]
    pub to: Option<String>,
    /// Ignore saved bookmarks and read every stream from the start.
    #[arg(long)]
    pub full_refresh: bool,
    /// Streams extracted at the same time.
    #[arg(long)]
    pub stream_concurrency: Option<usize>,
    /// Date windows of one incremental stream read at the same time (default: as many as
    /// the requests the store's quota needs on the wire at the latency seen, 8 to 32):
    /// the rate limit still decides how many go at once. 1 reads each stream one page at a
    /// time.
    #[arg(long)]
    pub window_concurrency: Option<usize>,
    /// No progress bars (plain log lines).
    #[arg(long)]
    pub no_progress: bool,
    /// Model sets to refresh after the extraction, comma-separated (see `bcsync models
    /// list`); SQLite and PostgreSQL destinations only.
    #[arg(long, value_delimiter = ',')]
    pub models: Vec<String>,
    /// Extract only these channels (storefronts): repeat or comma-separate ids. Streams the API cannot filter by channel are extracted whole (see the README).
    #[arg(long = "channel", value_name = "ID", value_delimiter = ',', value_parser = clap::value_parser!(i64).range(1..))]
    pub channels: Vec<i64>,
    /// Keep each request's headers and bodies in the run store for `bcsync ui`'s live
    /// debugger, redacted of the token and of `[debug] redact_fields` (as `[debug]
    /// capture_bodies = true`).
    #[arg(long)]
    pub capture_bodies: bool,
}

/// The Singer catalog of every stream and child table.
pub fn catalog() -> Value {
    let mut entries = Vec::new();
    for s in STREAMS {
        let (method, keys) = match s.replication {
            Replication::Incremental { cursor_field, .. } => ("INCREMENTAL", vec![cursor_field]),
            Replication::FullTable => ("FULL_TABLE", vec![]),
        };
        entries.push(json!({
            "tap_stream_id": s.name,
            "stream": s.name,
            "schema": streams::schema::stream_schema(s),
            "key_properties": [s.key],
            "metadata": [{"breadcrumb": [], "metadata": {
                "inclusion": "available",
                "selected-by-default": s.on_request.is_none(),
                "table-key-properties": [s.key],
                "forced-replication-method": method,
                "valid-replication-keys": keys,
            }}],
        }));
        for c in s.children {
            entries.push(json!({
                "tap_stream_id": c.name,
                "stream": c.name,
                "schema": streams::schema::child_schema(c),
                "key_properties": c.key.map(|k| vec![c.parent_column, k]).unwrap_or_else(|| vec![c.parent_column]),
                "metadata": [{"breadcrumb": [], "metadata": {
                    "inclusion": "available",
                    "selected-by-default": true,
                    "parent-tap-stream-id": s.name,
                    "forced-replication-method": method,
                }}],
            }));
        }
    }
    json!({ "streams": entries })
}

pub fn discover(args: DiscoverArgs) -> anyhow::Result<ExitCode> {
    if args.json {
        println!("{}", serde_json::to_string_pretty(&catalog())?);
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", stream_table());
    Ok(ExitCode::SUCCESS)
}

/// The `discover` table: each column as wide as its widest cell.
fn stream_table() -> String {
    let mut rows: Vec<[String; 6]> = vec![[
        "stream".into(),
        "api".into(),
        "paging".into(),
        "replication".into(),
        "scope".into(),
        "children".into(),
    ]];
    let mut notes: Vec<Option<&str>> = vec![None];
    for s in STREAMS {
        let paging = match s.paging {
            Paging::Single => "single",
            Paging::V3Offset => "page",
            Paging::V3Cursor => "cursor",
            Paging::V2Offset => "page",
            Paging::PerOrder => "per-order",
        };
        let repl = match s.replication {
            Replication::Incremental {
                cursor_field,
                min_param,
                ..
            } => format!("incremental {cursor_field} ({min_param})"),
            Replication::FullTable => "full table".into(),
        };
        let repl = match s.on_request {
            Some(alias) => format!("{repl}, only with --streams {alias}"),
            None => repl,
        };
        let api = match s.version {
            ApiVersion::V2 => "v2",
            ApiVersion::V3 => "v3",
        };
        let children: Vec<&str> = s.children.iter().map(|c| c.name).collect();
        rows.push([
            s.name.to_owned(),
            api.to_owned(),
            paging.to_owned(),
            repl,
            s.scope.trim_start_matches("store_").to_owned(),
            children.join(", "),
        ]);
        notes.push(s.per_parent_note);
    }
    let mut widths = [0usize; 6];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for (row, note) in rows.iter().zip(notes) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
        if let Some(note) = note {
            out.push_str(&format!(
                "{:<width$}  note: {note}\n",
                "",
                width = widths[0]
            ));
        }
    }
    out
}

/// Formats the end-of-run table.
pub fn render_summary(summary: &ExtractSummary, destination: &str) -> String {
    let mut out = String::new();
    // The one way a destination is shown: a PostgreSQL URL loses its password.
    let destination = bcsync::pg::redact(destination);
    if summary.interrupted {
        out.push_str(&format!(
            "\ninterrupted; rerun to resume. Committed so far into {destination}:\n"
        ));
    } else {
        out.push_str(&format!("\nExtracted into {destination}\n"));
    }
    out.push_str(&format!(
        "{:<16} {:>9} {:>11} {:>9} {:>8}  status\n",
        "stream", "records", "child rows", "requests", "seconds"
    ));
    for s in &summary.streams {
        let interrupted = bcsync::Error::Interrupted.to_string();
        let status = match s.error.as_deref() {
            None => "ok".into(),
            Some(e) if e == interrupted => "interrupted".into(),
            Some(e) => format!("FAILED: {e}"),
        };
        out.push_str(&format!(
            "{:<16} {:>9} {:>11} {:>9} {:>8.2}  {status}\n",
            s.name,
            s.records,
            s.child_rows,
            s.requests,
            s.duration.as_secs_f64()
        ));
    }
    let records: u64 = summary.streams.iter().map(|s| s.records).sum();
    let child: u64 = summary.streams.iter().map(|s| s.child_rows).sum();
    let failed = summary.failed().len();
    let status = if failed == 0 {
        "ok".to_owned()
    } else {
        format!("{failed} failed")
    };
    out.push_str(&format!(
        "{:<16} {:>9} {:>11} {:>9} {:>8.2}  {status}\n",
        "total",
        records,
        child,
        summary.requests,
        summary.duration.as_secs_f64(),
    ));
    // Below the table, not in its status column: it is about requests, not a status.
    out.push_str(&format!(
        "{} of {} requests throttled (HTTP 429)\n",
        summary.throttled, summary.requests
    ));
    out
}

fn client_with_counter(
    conn: &bcsync::config::StoreConnection,
) -> anyhow::Result<(Client, Arc<RequestCounter>)> {
    let counter = Arc::new(RequestCounter::default());
    let client = conn.client()?.with_observer(counter.clone());
    Ok((client, counter))
}

/// Prints the summary (stderr when interrupted or when stdout carries Singer messages) and
/// returns the exit code: the signal's, else failure when a stream failed.
pub fn finish_run(
    summary: &ExtractSummary,
    destination: &str,
    stdout_is_data: bool,
    interrupt: &Interrupt,
) -> ExitCode {
    let table = render_summary(summary, destination);
    if let Some(code) = interrupt.exit_code().filter(|_| summary.interrupted) {
        eprint!("{table}");
        return code;
    }
    if stdout_is_data {
        eprint!("{table}")
    } else {
        print!("{table}")
    }
    if summary.failed().is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

pub async fn extract(
    config: Option<&Path>,
    args: ExtractArgs,
    interrupt: &Interrupt,
) -> anyhow::Result<ExitCode> {
    let file = bcsync::config::load(config)?;
    let conn = file.connection(
        args.store.store_hash.as_deref(),
        args.store.base_url.as_deref(),
    )?;
    let to = args
        .to
        .or(file.extract.to.clone())
        .unwrap_or_else(|| "sqlite:bcsync.db".into());
    let model_names = if args.models.is_empty() {
        file.extract.models.clone().unwrap_or_default()
    } else {
        args.models
    };
    // Checked before any request is spent: models live in a SQL destination.
    for name in &model_names {
        bcsync::models::find(name)?;
    }
    if !model_names.is_empty() && (to == "singer" || to.starts_with("jsonl:")) {
        anyhow::bail!(
            "--models needs a SQL destination (sqlite:PATH or postgres://...), not {to}; models are tables computed in the destination database"
        );
    }
    // One request before the destination is opened: a wrong token or store hash fails here,
    // once, with its fix, instead of once per stream after an empty database was created.
    // `/v2/time` needs no scope, so a token lacking some scopes still gets to extract the
    // streams it can read.
    let store_now = conn.client()?.get(ApiVersion::V2, "/time", &[]).await?;
    let (client, counter) = client_with_counter(&conn)?;
    let names = if args.streams.is_empty() {
        file.extract.streams.clone().unwrap_or_default()
    } else {
        args.streams
    };
    let mut options = ExtractOptions::default();
    if let Some(n) = args.stream_concurrency.or(file.extract.stream_concurrency) {
        options.stream_concurrency = n;
    }
    if let Some(n) = args.window_concurrency.or(file.extract.window_concurrency) {
        options.window_concurrency = Some(n);
    }
    options.store_clock = bcsync::extract::StoreClock::at(bcsync::extract::store_time(&store_now));
    options.cancel = Some(interrupt.token.clone());
    let channels = if args.channels.is_empty() {
        file.extract.channels.clone().unwrap_or_default()
    } else {
        args.channels
    };
    if let Some(bad) = channels.iter().find(|c| **c < 1) {
        anyhow::bail!(
            "channels = [...] in [extract] holds {bad}, which is not a channel id: use the ids `bcsync api GET /v3/channels` lists (1 is the default storefront)"
        );
    }
    options.channels = bcsync::extract::channels::normalize(&channels);
    if let Some(set) = options.channels.as_deref() {
        check_channels_exist(&conn.client()?, set).await?;
    }
    let singer = to == "singer";
    let progress = if singer || args.no_progress {
        Progress::hidden()
    } else {
        Progress::new(true)
    };
    // The run is recorded in the run store beside push and Brevo runs (`bcsync runs`,
    // the dashboard), its requests as they are made.
    let started = std::time::Instant::now();
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let state_spec = super::push::state_spec(None, &file);
    // Checked before the run: a mistake in `[[alert]]` stops here with its fix.
    let alerts = bcsync::alerts::Alerts::from_config(&file)?.redact(&conn.access_token);
    let recorder = bcsync::state::recorder::RunRecorder::start(
        &state_spec,
        &conn.store_hash,
        EXTRACT_RUN,
        &started_at,
    );
    // Only the recorded client captures: without a run store nothing would keep it.
    let capture = file.debug.capture(args.capture_bodies);
    if recorder.is_none() && capture.is_some() {
        tracing::warn!(
            "body capture is on but the run store {} could not be opened, so nothing is captured; fix the state store to keep captures",
            bcsync::pg::redact(&state_spec)
        );
    }
    let client = match &recorder {
        Some(r) => client
            .with_capture(capture)
            .with_observer(Arc::new(bigcommerce::Observers(vec![
                counter.clone(),
                r.log.clone(),
            ]))),
        None => client,
    };
    let result = run_extraction(
        client,
        counter,
        &names,
        &to,
        args.full_refresh,
        None,
        options,
        progress,
    )
    .await;
    if let Some(recorder) = recorder {
        // Refused before its first request (a destination that is not ours): no run.
        let began = result.is_ok() || !recorder.log.is_empty();
        let recorded = recorder.finish(began.then(|| extract_run_record(&result, started)));
        if let Some(run) = recorded
            && !alerts.is_empty()
        {
            match bcsync::state::push::open_push_store(&state_spec, &conn.store_hash) {
                Ok(mut store) => {
                    alerts
                        .after_run(store.as_mut(), &conn.store_hash, &run)
                        .await;
                }
                Err(e) => tracing::warn!("alerts: could not open the run store: {e}"),
            }
        }
    }
    let summary = result?;
    let code = finish_run(&summary, &to, singer, interrupt);
    if model_names.is_empty() || summary.interrupted || !summary.failed().is_empty() {
        return Ok(code);
    }
    let reports = super::models::refresh(
        &to,
        Some(conn.store_hash.clone()),
        &model_names,
        &file.models,
        false,
    )?;
    for r in &reports {
        print!("{}", super::models::render_report(r));
    }
    Ok(code)
}

/// The name extraction runs are recorded under.
pub const EXTRACT_RUN: &str = "extract";

/// The run record of an extraction: records per stream, and its status.
fn extract_run_record(
    result: &bcsync::Result<ExtractSummary>,
    started: std::time::Instant,
) -> bcsync::state::push::RunRecord {
    let mut run = bcsync::state::push::RunRecord {
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        finished_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        ..Default::default()
    };
    match result {
        Ok(summary) => {
            for s in &summary.streams {
                run.counts.insert(s.name.to_owned(), s.records);
            }
            let failed = summary.failed();
            run.status = if summary.interrupted {
                bcsync::state::push::INTERRUPTED.into()
            } else if failed.is_empty() {
                "ok".into()
            } else {
                "failed".into()
            };
            if !failed.is_empty() {
                run.message = Some(
                    summary
                        .streams
                        .iter()
                        .filter_map(|s| s.error.as_ref().map(|e| format!("{}: {e}", s.name)))
                        .collect::<Vec<_>>()
                        .join("; "),
                );
            }
        }
        Err(e) => {
            run.status = "failed".into();
            run.message = Some(e.to_string());
        }
    }
    run
}

/// Refuses channel ids the store does not have before anything is written: filtering by
/// one would extract empty tables without a word. A token without the channels scope
/// cannot list them; then the ids are taken as given.
async fn check_channels_exist(client: &Client, chosen: &[i64]) -> anyhow::Result<()> {
    use futures::TryStreamExt;
    let pages: Vec<bigcommerce::Page<Value>> = match client
        .v3_pages("/channels", Vec::new(), 250)
        .try_collect()
        .await
    {
        Ok(pages) => pages,
        Err(e) if e.status() == Some(403) => return Ok(()),
        Err(e) => return Err(e).context("listing the store's channels to check --channel"),
    };
    let known: Vec<(i64, String)> = pages
        .iter()
        .flat_map(|p| &p.items)
        .filter_map(|c| {
            let id = c.get("id")?.as_i64()?;
            Some((id, c.get("name")?.as_str().unwrap_or("").to_owned()))
        })
        .collect();
    let missing: Vec<String> = chosen
        .iter()
        .filter(|c| !known.iter().any(|(id, _)| id == *c))
        .map(ToString::to_string)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let listed: Vec<String> = known
        .iter()
        .map(|(id, name)| format!("{id} ({name})"))
        .collect();
    anyhow::bail!(
        "the store has no channel {}: choose among {} with --channel or channels = [...]",
        missing.join(", "),
        listed.join(", ")
    )
}

/// One cheap read per scope family, to tell which scopes the token has.
pub(super) const SCOPE_PROBES: &[(&str, ApiVersion, &str, &str)] = &[
    (
        "store_v2_customers",
        ApiVersion::V3,
        "/customers",
        "customers, customer groups, subscribers",
    ),
    (
        "store_v2_products",
        ApiVersion::V3,
        "/catalog/products",
        "products, categories, brands",
    ),
    ("store_v2_orders", ApiVersion::V2, "/orders", "orders"),
    (
        "store_v2_transactions",
        ApiVersion::V3,
        "/orders/payment_actions/refunds",
        "transactions, refunds",
    ),
    (
        "store_v2_marketing",
        ApiVersion::V2,
        "/coupons",
        "coupons, promotions",
    ),
    (
        "store_v2_content",
        ApiVersion::V3,
        "/content/pages",
        "pages",
    ),
    (
        "store_inventory",
        ApiVersion::V3,
        "/inventory/items",
        "inventory_items",
    ),
    (
        "store_channel_settings",
        ApiVersion::V3,
        "/channels",
        "channels",
    ),
];

pub async fn check(config: Option<&Path>, args: StoreArgs) -> anyhow::Result<ExitCode> {
    let file = bcsync::config::load(config)?;
    let conn = file.connection(args.store_hash.as_deref(), args.base_url.as_deref())?;
    let client = conn.client()?;
    let store = client
        .get(ApiVersion::V2, "/store", &[])
        .await
        .context("reading /v2/store")?;
    let body = store.body.unwrap_or(Value::Null);
    let rl = client.rate_limit();
    println!(
        "store       {} ({})",
        body["name"].as_str().unwrap_or("?"),
        conn.store_hash
    );
    println!("plan        {}", body["plan_name"].as_str().unwrap_or("?"));
    match (rl.quota, rl.window) {
        (Some(q), Some(w)) => println!(
            "quota       {q} requests per {:.1} s ({} left now)",
            w.as_secs_f64(),
            rl.left.unwrap_or(0)
        ),
        _ => println!("quota       no rate-limit headers (unlimited plan?)"),
    }
    let mut ok = true;
    for (scope, version, path, what) in SCOPE_PROBES {
        let q = [("limit".to_owned(), "1".to_owned())];
        match client.get(*version, path, &q).await {
            Ok(_) => println!("scope       {scope:<24} ok ({what})"),
            Err(e) if e.status() == Some(403) => {
                ok = false;
                println!(
                    "scope       {scope:<24} MISSING: add {scope}_read_only to the API account to extract {what}"
                );
            }
            Err(e) => {
                ok = false;
                println!("scope       {scope:<24} error: {e}");
            }
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod total_row_tests {
    use super::*;
    use bcsync::extract::StreamSummary;

    #[test]
    fn throttled_count_is_not_in_the_status_column() {
        let summary = ExtractSummary {
            streams: vec![StreamSummary {
                name: "brands".into(),
                records: 3,
                ..Default::default()
            }],
            requests: 12,
            throttled: 0,
            ..Default::default()
        };
        let table = render_summary(&summary, "sqlite:x.db");
        let total = table.lines().find(|l| l.starts_with("total")).unwrap();
        assert!(total.ends_with("  ok"), "{table}");
        assert!(!total.contains("throttled"), "{table}");
        assert!(
            table.contains("0 of 12 requests throttled (HTTP 429)"),
            "{table}"
        );
    }
}
