//! The extraction engine: runs the selected streams concurrently through one client (one
//! pacer, so every stream shares the store's quota), turns each page into a
//! [`PageBatch`] (records, embedded child rows, and the state to commit with them) and
//! hands it to the destination writer.
//!
//! Incremental streams use keyset reads on their modification date ([`KeysetCursor`]):
//! ask `date >= bookmark` sorted ascending, skip ids already committed at the bookmark
//! second. Offset-paged lists restart at page 1 from the newest bookmark after each page
//! instead of walking `page=N`, because a record modified mid-run moves to the end of a
//! date-sorted list and shifts every later offset by one: walking offsets would skip a
//! record for good. Cursor-paged lists (customers) follow the API's cursors, which are
//! keyset already.

pub mod channels;
mod progress;
mod windows;

pub use windows::{StoreClock, store_time};

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bigcommerce::{ApiVersion, Client, Page, RequestEvent, RequestObserver};
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use parking_lot::Mutex;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::destinations::{DestinationWriter, PageBatch, WriteSlot};
use crate::error::{Error, Result};
use crate::state::{KeysetCursor, State, StreamState};
use crate::streams::{Paging, Replication, StreamDescriptor};

pub use progress::Progress;

/// How an extraction runs.
#[derive(Debug, Clone)]
pub struct ExtractOptions {
    /// Streams extracted at the same time (all inside the one pacer's budget).
    pub stream_concurrency: usize,
    /// Per-order requests (transactions) started ahead of the oldest unfinished one. Only
    /// a window: how many are on the wire at once is the client's (its pacer and
    /// concurrency cap). Wide, so one request backing off does not hold back the others;
    /// rows are still written in order.
    pub per_parent_window: usize,
    /// Pages of one full-table V3 list fetched at once once its total is known.
    pub page_concurrency: usize,
    /// Date windows of one incremental list read at once (`extract::windows`). `None`
    /// (the default): as many as the client's in-flight limit, which grows with the
    /// latency and the store's quota ([`bigcommerce::Client::in_flight_limit`]), so the
    /// requests on the wire spend the quota however slowly the store answers; the pacer
    /// still decides how many actually go.
    pub window_concurrency: Option<usize>,
    /// The store's clock when the run began, if the caller asked it (`GET /v2/time`,
    /// [`store_time`]); otherwise the first windowed read that needs it asks, once for
    /// every stream.
    pub store_clock: StoreClock,
    /// Exactly the streams and child tables to emit (a Singer catalog's selection); `None`:
    /// the ones the stream names imply ([`crate::streams::emitted_tables`]).
    pub tables: Option<Vec<&'static str>>,
    /// Cancelled on Ctrl-C or SIGTERM: streams stop issuing requests, the writer commits
    /// what it has, and the summary says `interrupted`.
    pub cancel: Option<tokio_util::sync::CancellationToken>,
    /// The channels to extract (`--channel`), sorted and deduplicated
    /// ([`channels::normalize`]); `None`: every channel.
    pub channels: Option<Vec<i64>>,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        Self {
            stream_concurrency: 6,
            per_parent_window: 256,
            page_concurrency: 4,
            window_concurrency: None,
            store_clock: StoreClock::default(),
            tables: None,
            cancel: None,
            channels: None,
        }
    }
}

/// What one stream did.
#[derive(Debug, Clone, Default)]
pub struct StreamSummary {
    pub name: String,
    pub records: u64,
    pub child_rows: u64,
    pub requests: u64,
    pub pages: u64,
    pub duration: Duration,
    pub error: Option<String>,
    /// The HTTP status behind `error`, when the store answered with one.
    pub error_status: Option<u16>,
}

/// What the whole run did.
#[derive(Debug, Clone, Default)]
pub struct ExtractSummary {
    pub streams: Vec<StreamSummary>,
    pub requests: u64,
    pub throttled: u64,
    pub duration: Duration,
    /// The run was stopped by Ctrl-C or SIGTERM (see [`ExtractOptions::cancel`]).
    pub interrupted: bool,
}

impl ExtractSummary {
    pub fn failed(&self) -> Vec<&StreamSummary> {
        self.streams.iter().filter(|s| s.error.is_some()).collect()
    }
}

tokio::task_local! {
    /// The stream a request belongs to, for per-stream request counts.
    static CURRENT_STREAM: &'static str;
}

/// Counts requests (attempts, retries included) per stream.
#[derive(Debug, Default)]
pub struct RequestCounter {
    per_stream: Mutex<HashMap<&'static str, u64>>,
}

impl RequestObserver for RequestCounter {
    fn on_event(&self, _event: &RequestEvent) {
        let name = CURRENT_STREAM.try_with(|s| *s).unwrap_or("-");
        *self.per_stream.lock().entry(name).or_default() += 1;
    }
}

impl RequestCounter {
    pub fn get(&self, stream: &str) -> u64 {
        self.per_stream.lock().get(stream).copied().unwrap_or(0)
    }
}

/// Runs an extraction. The client should carry `counter` as an observer for per-stream
/// request counts.
pub async fn run(
    client: &Client,
    counter: Arc<RequestCounter>,
    streams: &[&'static StreamDescriptor],
    writer: DestinationWriter,
    state: State,
    options: &ExtractOptions,
    progress: &Progress,
) -> Result<ExtractSummary> {
    let summary = run_streams(client, counter, streams, &writer, state, options, progress).await;
    let written = writer.finish().await;
    written?;
    // A bad token or a wrong store hash fails every stream the same way: report it once.
    if !summary.interrupted
        && let Some(first) = summary.streams.iter().find(|s| s.error.is_some())
        && summary.streams.iter().all(|s| s.error.is_some())
    {
        return Err(Error::EveryStreamFailed(
            first.error.clone().unwrap_or_default(),
        ));
    }
    Ok(summary)
}

/// Runs the streams into a writer that outlives them: [`run`] finishes it afterwards;
/// `bcsync listen` keeps one writer for its whole life and polls through it. A failed
/// stream is reported in its summary, never as an error here.
pub async fn run_streams(
    client: &Client,
    counter: Arc<RequestCounter>,
    streams: &[&'static StreamDescriptor],
    writer: &DestinationWriter,
    state: State,
    options: &ExtractOptions,
    progress: &Progress,
) -> ExtractSummary {
    let started = Instant::now();
    let requests_before = client.stats();
    let results: Vec<StreamSummary> = futures::stream::iter(streams.iter().copied())
        .map(|s| {
            let client = client.clone();
            let counter = Arc::clone(&counter);
            let st = state.stream(s.name);
            let bar = progress.stream(s.name);
            async move {
                let t0 = Instant::now();
                let before = counter.get(s.name);
                let children_before = writer.child_rows(s.name);
                let mut summary = StreamSummary {
                    name: s.name.to_owned(),
                    ..Default::default()
                };
                let work = run_stream(&client, s, st, writer, options, &mut summary, &bar);
                let res = CURRENT_STREAM
                    .scope(s.name, until_cancelled(options.cancel.as_ref(), work))
                    .await;
                // The writer counts child rows as it writes them: wait for this stream's
                // last page. A writer that failed says so at the end of the run.
                let _ = writer.barrier().await;
                summary.child_rows = writer.child_rows(s.name) - children_before;
                summary.duration = t0.elapsed();
                summary.requests = counter.get(s.name) - before;
                match res {
                    Ok(()) => bar.finish(&summary, &client),
                    Err(e) => {
                        bar.fail(&e.to_string());
                        summary.error = Some(e.to_string());
                        summary.error_status = match &e {
                            Error::Api(api) => api.status(),
                            _ => None,
                        };
                    }
                }
                summary
            }
        })
        .buffer_unordered(options.stream_concurrency.max(1))
        .collect()
        .await;
    let mut by_name: HashMap<String, StreamSummary> =
        results.into_iter().map(|s| (s.name.clone(), s)).collect();
    let ordered: Vec<StreamSummary> = streams
        .iter()
        .filter_map(|s| by_name.remove(s.name))
        .collect();
    let stats = client.stats();
    // Interrupted only if a stream was actually cut short (a signal after the last page
    // changes nothing).
    let cut_short = Error::Interrupted.to_string();
    let interrupted = ordered
        .iter()
        .any(|s| s.error.as_deref() == Some(cut_short.as_str()));
    ExtractSummary {
        streams: ordered,
        requests: stats.requests - requests_before.requests,
        throttled: stats.rate_limited - requests_before.rate_limited,
        duration: started.elapsed(),
        interrupted,
    }
}

/// Runs `work` unless `cancel` fires first (then `work` is dropped: no new requests, and
/// a page already handed to the writer is committed with its state as usual).
async fn until_cancelled<T>(
    cancel: Option<&tokio_util::sync::CancellationToken>,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    match cancel {
        Some(c) => tokio::select! {
            biased;
            () = c.cancelled() => Err(Error::Interrupted),
            r = work => r,
        },
        None => work.await,
    }
}

/// Opens the destination `to`, loads its state, and runs the extraction of `stream_names`
/// (all when empty): the whole job behind `bcsync extract`, `demo` and Singer mode.
#[allow(clippy::too_many_arguments)]
pub async fn run_to(
    client: Client,
    counter: Arc<RequestCounter>,
    stream_names: &[String],
    to: &str,
    full_refresh: bool,
    singer_state: Option<State>,
    options: ExtractOptions,
    progress: Progress,
) -> Result<ExtractSummary> {
    // An unknown stream name fails before the destination is created.
    crate::streams::select(stream_names)?;
    let dest = crate::destinations::open_for_store(to, singer_state, client.store_hash())?;
    run_into(
        client,
        counter,
        stream_names,
        dest,
        full_refresh,
        options,
        progress,
    )
    .await
}

/// [`run_to`] into a destination the caller opened (`bcsync airbyte read` builds its own).
pub async fn run_into(
    client: Client,
    counter: Arc<RequestCounter>,
    stream_names: &[String],
    mut dest: Box<dyn crate::destinations::Destination>,
    full_refresh: bool,
    options: ExtractOptions,
    progress: Progress,
) -> Result<ExtractSummary> {
    let selected = crate::streams::select(stream_names)?;
    let tables = options
        .tables
        .clone()
        .unwrap_or_else(|| crate::streams::emitted_tables(stream_names));
    dest.select_tables(&tables);
    let (writer, state, selected) = tokio::task::spawn_blocking(move || -> Result<_> {
        let (writer, state) = DestinationWriter::start(dest, &selected, full_refresh)?;
        Ok((writer, state, selected))
    })
    .await
    .map_err(|e| Error::WriterGone(e.to_string()))??;
    if let Some(set) = options.channels.as_deref() {
        let whole = channels::unfiltered(&selected);
        if !whole.is_empty() {
            tracing::warn!(
                "--channel {}: {} carry no channel filter and are extracted for every channel",
                channels::describe(Some(set)),
                whole.join(", ")
            );
        }
    }
    run(
        &client, counter, &selected, writer, state, &options, &progress,
    )
    .await
}

/// Parses a record's cursor date (V2 RFC 2822 or V3 ISO 8601).
fn record_date(record: &Value, field: &str) -> Option<DateTime<Utc>> {
    record
        .get(field)
        .and_then(Value::as_str)
        .and_then(bigcommerce::dates::parse_any)
}

fn record_id(record: &Value, key: &str) -> Option<i64> {
    match record.get(key) {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    }
}

fn format_bookmark(dt: DateTime<Utc>) -> String {
    // Always a full timestamp with an explicit offset: a bare date would get the current
    // time appended by the API and skip a day (docs/api-notes.md §12.4). V2 filters accept ISO too.
    bigcommerce::dates::format_iso(dt)
}

async fn emit(
    writer: &DestinationWriter,
    stream: &'static StreamDescriptor,
    records: Vec<Value>,
    state: Option<StreamState>,
    summary: &mut StreamSummary,
    bar: &progress::StreamBar,
    client: &Client,
) -> Result<()> {
    let slot = writer.reserve().await?;
    let batch = PageBatch::new(stream, records, Vec::new(), state);
    summary.records += batch.record_count();
    emit_into(slot, batch, summary, bar, client);
    Ok(())
}

/// Queues a page into room already held in the writer's queue (the page was built only
/// once the writer could take it) and counts it. Records are counted by the caller (a
/// split stream's rows as rows); child rows by the writer, the one that finds an
/// unparsed page's ([`DestinationWriter::child_rows`]).
fn emit_into(
    slot: WriteSlot<'_>,
    batch: PageBatch,
    summary: &mut StreamSummary,
    bar: &progress::StreamBar,
    client: &Client,
) {
    summary.pages += 1;
    slot.write(batch);
    bar.update(summary, client);
}

fn base_query(stream: &StreamDescriptor) -> Vec<(String, String)> {
    stream
        .query
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Reads one stream, then, if the read was complete (every record the store has was
/// written since a known time), tells the destination so it can mark the rows it did not
/// see as deleted. Only a read that returns `Ok` here completes: a failed or interrupted
/// one marks nothing, so an interruption must end the read with an error (or drop it),
/// never with an early `Ok`.
async fn run_stream(
    client: &Client,
    stream: &'static StreamDescriptor,
    state: StreamState,
    writer: &DestinationWriter,
    options: &ExtractOptions,
    summary: &mut StreamSummary,
    bar: &progress::StreamBar,
) -> Result<()> {
    let mut state = state;
    let chosen = options.channels.as_deref();
    if channels::rebase_state(stream, chosen, &mut state) {
        tracing::warn!(
            "{}: the saved bookmark was read for another channel set; reading it whole for {} \
             (rows outside them are marked deleted)",
            stream.name,
            channels::describe(chosen)
        );
    }
    // An incremental read from no bookmark (first run, `--full-refresh`) sees every record.
    // Its start travels in the committed state, so a later run that resumes it still
    // completes it with the right time.
    if stream.is_incremental() && state.bookmark.is_none() && state.full_read_started.is_none() {
        state.full_read_started = Some(writer.run_started().to_owned());
    }
    let read_started = match stream.replication {
        Replication::FullTable => Some(writer.run_started().to_owned()),
        Replication::Incremental { .. } => state.full_read_started.clone(),
    };
    let scope = channels::scope(client, stream, chosen).await?;
    if !scope.reads_nothing() {
        read_stream(client, stream, state, writer, options, &scope, summary, bar).await?;
    }
    match read_started {
        Some(started) => writer.complete_read(stream, started).await,
        None => Ok(()),
    }
}

/// Reads one stream's records of the chosen channels (`scope`: query pairs added to every
/// list request, and the records kept of each page).
#[allow(clippy::too_many_arguments)]
async fn read_stream(
    client: &Client,
    stream: &'static StreamDescriptor,
    state: StreamState,
    writer: &DestinationWriter,
    options: &ExtractOptions,
    scope: &channels::ChannelScope,
    summary: &mut StreamSummary,
    bar: &progress::StreamBar,
) -> Result<()> {
    match (stream.paging, stream.replication) {
        (Paging::Single, _) => {
            let resp = client.get(stream.version, stream.path, &[]).await?;
            let records = resp.body.into_iter().collect();
            emit(writer, stream, records, None, summary, bar, client).await
        }
        (Paging::PerOrder, Replication::Incremental { .. }) => {
            run_per_order(client, stream, state, writer, options, scope, summary, bar).await
        }
        (Paging::V3Offset, Replication::FullTable) => {
            // The first page tells the total, so the rest can be fetched in parallel (in
            // order, inside the pacer's budget). Full-table streams are re-read whole every
            // run, so nothing depends on a stable position across pages.
            let q = scoped_query(stream, scope);
            let first = client.v3_page(stream.path, &q, 1, stream.page_size).await?;
            let total_pages = first.meta.total_pages.unwrap_or(1);
            let records = scope.retain(first.items);
            emit(writer, stream, records, None, summary, bar, client).await?;
            let mut rest = futures::stream::iter(2..=total_pages)
                .map(|p| {
                    let (client, q) = (client.clone(), q.clone());
                    async move { client.v3_page(stream.path, &q, p, stream.page_size).await }
                })
                .buffered(options.page_concurrency.max(1));
            while let Some(page) = rest.try_next().await? {
                let records = scope.retain(page.items);
                emit(writer, stream, records, None, summary, bar, client).await?;
            }
            Ok(())
        }
        (_, Replication::FullTable) => {
            let mut pages = full_table_pages(client, stream, scope);
            while let Some(page) = pages.try_next().await? {
                let records = scope.retain(page.items);
                emit(writer, stream, records, None, summary, bar, client).await?;
            }
            Ok(())
        }
        (
            Paging::V3Cursor | Paging::V3Offset | Paging::V2Offset,
            Replication::Incremental { .. },
        ) => {
            windows::read_in_windows(client, stream, state, writer, options, scope, summary, bar)
                .await
        }
    }
}

/// The stream's own query pairs plus its channel filter's.
fn scoped_query(
    stream: &StreamDescriptor,
    scope: &channels::ChannelScope,
) -> Vec<(String, String)> {
    let mut q = base_query(stream);
    q.extend(scope.query.iter().cloned());
    q
}

fn full_table_pages(
    client: &Client,
    stream: &'static StreamDescriptor,
    scope: &channels::ChannelScope,
) -> futures::stream::BoxStream<'static, bigcommerce::Result<Page<Value>>> {
    let q = scoped_query(stream, scope);
    match stream.paging {
        Paging::V2Offset => client.v2_pages(stream.path, q, stream.page_size).boxed(),
        Paging::V3Cursor => client
            .v3_cursor_pages(stream.path, q, stream.page_size)
            .boxed(),
        _ => client.v3_pages(stream.path, q, stream.page_size).boxed(),
    }
}

/// `(cursor_field, min_param, max_param, sort)` of an incremental stream.
type IncrementalParams = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

fn incremental_params(stream: &StreamDescriptor) -> Option<IncrementalParams> {
    match stream.replication {
        Replication::Incremental {
            cursor_field,
            min_param,
            max_param,
            sort,
        } => Some((cursor_field, min_param, max_param, sort)),
        Replication::FullTable => None,
    }
}

/// Keeps the records of a page that are new to the cursor, advancing it.
fn filter_new(
    records: Vec<Value>,
    cursor: &mut KeysetCursor,
    key: &str,
    cursor_field: &str,
    stream: &str,
) -> Result<Vec<Value>> {
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        let (id, modified) = r.position(key, cursor_field, stream)?;
        if cursor.observe(id, modified) {
            out.push(r);
        }
    }
    Ok(out)
}

/// A record as a reader holds it: parsed, or the JSON text it arrived as
/// ([`crate::streams::text`]). Keyset reads need its key and cursor date; channel filters
/// one small field.
pub(crate) trait ReadRecord {
    /// The record's key and cursor date, which every keyset read needs.
    fn position(&self, key: &str, cursor_field: &str, stream: &str)
    -> Result<(i64, DateTime<Utc>)>;
    /// One top-level field, parsed.
    fn field(&self, name: &str) -> Option<Value>;
}

impl ReadRecord for Value {
    fn position(
        &self,
        key: &str,
        cursor_field: &str,
        stream: &str,
    ) -> Result<(i64, DateTime<Utc>)> {
        match (record_id(self, key), record_date(self, cursor_field)) {
            (Some(id), Some(modified)) => Ok((id, modified)),
            _ => Err(unpositioned(stream, key, cursor_field, &self.to_string())),
        }
    }

    fn field(&self, name: &str) -> Option<Value> {
        self.get(name).cloned()
    }
}

impl ReadRecord for Box<RawValue> {
    fn position(
        &self,
        key: &str,
        cursor_field: &str,
        stream: &str,
    ) -> Result<(i64, DateTime<Utc>)> {
        let record = crate::streams::text::TextRecord::of(self).ok();
        let id = record.as_ref().and_then(|r| r.integer(key));
        let modified = record
            .as_ref()
            .and_then(|r| r.text(cursor_field))
            .and_then(|d| bigcommerce::dates::parse_any(&d));
        match (id, modified) {
            (Some(id), Some(modified)) => Ok((id, modified)),
            _ => Err(unpositioned(stream, key, cursor_field, self.get())),
        }
    }

    fn field(&self, name: &str) -> Option<Value> {
        crate::streams::text::TextRecord::of(self).ok()?.value(name)
    }
}

fn unpositioned(stream: &str, key: &str, cursor_field: &str, record: &str) -> Error {
    Error::Data {
        stream: stream.to_owned(),
        detail: format!(
            "a record lacks a readable `{key}` or `{cursor_field}`: {}",
            truncate(record, 200)
        ),
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.len() <= n {
        s.to_owned()
    } else {
        format!("{}...", &s[..s.floor_char_boundary(n)])
    }
}

/// Keyset over an offset-paged list sorted ascending by date (see the module header):
/// each call fetches one page and returns its new records with the state to commit.
struct OffsetKeyset<'a> {
    client: &'a Client,
    stream: &'static StreamDescriptor,
    version: ApiVersion,
    path: &'a str,
    base: Vec<(String, String)>,
    /// The channel filter: its query pairs are in `base`; it keeps records of each page
    /// after the cursor has seen them all.
    scope: channels::ChannelScope,
    cursor: KeysetCursor,
    page_no: u32,
    done: bool,
}

impl<'a> OffsetKeyset<'a> {
    fn new(
        client: &'a Client,
        stream: &'static StreamDescriptor,
        version: ApiVersion,
        path: &'a str,
        base: Vec<(String, String)>,
        scope: channels::ChannelScope,
        state: StreamState,
    ) -> Self {
        let mut base = base;
        base.extend(scope.query.iter().cloned());
        Self {
            client,
            stream,
            version,
            path,
            base,
            scope,
            cursor: KeysetCursor::new(state),
            page_no: 1,
            done: false,
        }
    }

    async fn next_page(&mut self) -> Result<Option<(Vec<Value>, StreamState)>> {
        let Some((cursor_field, min_param, _, sort)) = incremental_params(self.stream) else {
            return Ok(None);
        };
        if self.done {
            return Ok(None);
        }
        let query_min = self.cursor.bookmark();
        let mut q = self.base.clone();
        q.extend(sort.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        if let Some(b) = query_min {
            q.push((min_param.to_owned(), format_bookmark(b)));
        }
        let limit = self.stream.page_size;
        let page = match self.version {
            ApiVersion::V2 => {
                self.client
                    .v2_page(self.path, &q, self.page_no, limit)
                    .await?
            }
            ApiVersion::V3 => {
                self.client
                    .v3_page(self.path, &q, self.page_no, limit)
                    .await?
            }
        };
        // A short page is the last one whatever the metadata says (V2 has none:
        // docs/api-notes.md §12.2).
        let has_more = page.meta.has_more && page.items.len() as u32 >= limit;
        let fresh = filter_new(
            page.items,
            &mut self.cursor,
            self.stream.key,
            cursor_field,
            self.stream.name,
        )?;
        if has_more {
            // Same bookmark as the query: every record of this page shared the bookmark
            // second, so the next records are further down the same result set.
            self.page_no = if self.cursor.bookmark() == query_min {
                self.page_no + 1
            } else {
                1
            };
        } else {
            self.done = true;
        }
        Ok(Some((
            self.scope.retain(fresh),
            self.cursor.state().clone(),
        )))
    }
}

/// One step of the per-order pipeline, in the order rows are committed.
enum PerOrderStep {
    /// Fetch this order's collection.
    Order(i64),
    /// Every order of a page of the order list is before this: commit its state.
    PageEnd(StreamState),
}

/// What a step produced.
enum PerOrderDone {
    Rows(Vec<Value>),
    PageEnd(StreamState),
}

/// Per-order collections (transactions): list orders modified since the stream's own
/// bookmark (keyset, 250 per request, no include), then fetch each order's collection.
/// The requests form one ordered window across pages (the next order page is listed
/// while the previous page's orders are still being fetched), so a request that backs
/// off holds back only the commit of its page, never the other requests. Results come
/// out in list order, and a page's rows are written with its state only after all its
/// orders are in: the bookmark never passes an order whose rows are not committed.
#[allow(clippy::too_many_arguments)]
async fn run_per_order(
    client: &Client,
    stream: &'static StreamDescriptor,
    state: StreamState,
    writer: &DestinationWriter,
    options: &ExtractOptions,
    scope: &channels::ChannelScope,
    summary: &mut StreamSummary,
    bar: &progress::StreamBar,
) -> Result<()> {
    let window = options.per_parent_window.max(1);
    // The order list drives the keyset (no include: only ids and dates are needed), with
    // the orders' channel filter: transactions follow their order.
    let orders = OffsetKeyset::new(
        client,
        stream,
        ApiVersion::V2,
        "/orders",
        Vec::new(),
        scope.clone(),
        state,
    );
    let order_pages = futures::stream::try_unfold(orders, |mut keyset| async move {
        Ok::<_, Error>(keyset.next_page().await?.map(|page| (page, keyset)))
    });
    let steps = order_pages
        .map_ok(|(orders_page, st)| {
            let ids: Vec<i64> = orders_page
                .iter()
                .filter_map(|o| record_id(o, "id"))
                .collect();
            futures::stream::iter(
                ids.into_iter()
                    .map(PerOrderStep::Order)
                    .chain(std::iter::once(PerOrderStep::PageEnd(st)))
                    .map(Ok::<_, Error>),
            )
        })
        .try_flatten();
    let mut done = std::pin::pin!(
        steps
            .map(|step| {
                let client = client.clone();
                async move {
                    match step? {
                        PerOrderStep::PageEnd(st) => Ok(PerOrderDone::PageEnd(st)),
                        PerOrderStep::Order(id) => {
                            let path = stream.path.replace("{id}", &id.to_string());
                            CURRENT_STREAM
                                .scope(stream.name, async move {
                                    let mut rows = Vec::new();
                                    let mut pages = std::pin::pin!(client.v3_pages(
                                        &path,
                                        Vec::new(),
                                        stream.page_size
                                    ));
                                    while let Some(p) = pages.try_next().await? {
                                        rows.extend(p.items);
                                    }
                                    Ok::<_, Error>(PerOrderDone::Rows(rows))
                                })
                                .await
                        }
                    }
                }
            })
            .buffered(window)
    );
    let mut rows: Vec<Value> = Vec::new();
    while let Some(step) = done.try_next().await? {
        match step {
            PerOrderDone::Rows(r) => rows.extend(r),
            PerOrderDone::PageEnd(st) => {
                let page_rows = std::mem::take(&mut rows);
                emit(writer, stream, page_rows, Some(st), summary, bar, client).await?;
            }
        }
    }
    Ok(())
}
