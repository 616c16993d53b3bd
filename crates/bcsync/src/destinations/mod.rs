//! Destinations: where extracted pages go. One trait, one module per destination
//! (SQLite, Singer and Airbyte on stdout, JSON lines; PostgreSQL comes through the same
//! trait).
//!
//! A destination is synchronous and runs on its own thread ([`DestinationWriter`]): the
//! async engine hands it whole pages through a bounded channel, so fetching the next page
//! overlaps writing this one and memory stays bounded by the channel's few pages. Each page
//! carries the stream state to commit *with* its rows: a destination must make the rows and
//! the state durable together (one transaction, or rows flushed before state), which is
//! what makes a `kill -9` resumable without duplicates.

pub mod airbyte;
pub mod jsonl;
pub mod postgres;
mod protocol;
pub mod singer;
pub mod sqlite;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::Mutex;

use serde_json::Value;
use serde_json::value::RawValue;
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::state::{State, StreamState};
use crate::streams::{ChildTable, StreamDescriptor};

/// Rows of one child table that came embedded in a page's parents.
#[derive(Debug)]
pub struct ChildRows {
    pub table: &'static ChildTable,
    /// Parents whose children these rows replace (a parent with no rows now has none).
    pub parent_keys: Vec<Value>,
    /// Rows, each already carrying the parent key in `table.parent_column`.
    pub rows: Vec<Value>,
}

/// One page of one stream, and the state to commit atomically with it.
#[derive(Debug)]
pub struct PageBatch {
    pub stream: &'static StreamDescriptor,
    pub records: Vec<Value>,
    pub children: Vec<ChildRows>,
    /// Each record's JSON exactly as the store sent it: parallel to `records`, or, in an
    /// [`PageBatch::unparsed`] page, the records themselves. Empty when the reader did not
    /// keep it, and then a destination writes the parsed record back out.
    pub raw: Vec<Box<RawValue>>,
    /// The records are only in `raw`, as the text they arrived as (`records` and
    /// `children` are empty): for a destination that reads fields from the text
    /// ([`Destination::reads_text`]); [`PageBatch::parsed`] turns it into an ordinary page.
    pub unparsed: bool,
    /// `Some` for incremental streams: the bookmark after this page.
    pub state: Option<StreamState>,
}

impl PageBatch {
    /// A page of parsed records: splits items into rows where the stream says so
    /// ([`StreamDescriptor::rows`]) and pulls out their child rows. `raw`: each record's
    /// JSON as it arrived, parallel to `records`, or empty.
    pub fn new(
        stream: &'static StreamDescriptor,
        records: Vec<Value>,
        raw: Vec<Box<RawValue>>,
        state: Option<StreamState>,
    ) -> Self {
        debug_assert!(raw.is_empty() || raw.len() == records.len());
        // Rows split out of a record are not records as they arrived.
        let (records, raw) = match stream.rows {
            Some(split) => (records.iter().flat_map(split).collect(), Vec::new()),
            None => (records, raw),
        };
        let children = stream
            .children
            .iter()
            .map(|table| {
                let mut rows = Vec::new();
                let mut parent_keys = Vec::with_capacity(records.len());
                for r in &records {
                    let key = r.get(stream.key).cloned().unwrap_or(Value::Null);
                    for mut child in (table.extract)(r) {
                        if let Some(obj) = child.as_object_mut() {
                            obj.insert(table.parent_column.to_owned(), key.clone());
                        }
                        rows.push(child);
                    }
                    parent_keys.push(key);
                }
                ChildRows {
                    table,
                    parent_keys,
                    rows,
                }
            })
            .collect();
        Self {
            stream,
            records,
            children,
            raw,
            unparsed: false,
            state,
        }
    }

    /// A page of records as the text they arrived as, read by the destination
    /// ([`PageBatch::unparsed`]).
    pub fn unparsed(
        stream: &'static StreamDescriptor,
        records: Vec<Box<RawValue>>,
        state: Option<StreamState>,
    ) -> Self {
        Self {
            stream,
            records: Vec::new(),
            children: Vec::new(),
            raw: records,
            unparsed: true,
            state,
        }
    }

    /// The page with its records parsed (and their child rows split out), for a
    /// destination that writes parsed records; an ordinary page as it is.
    pub fn parsed(self) -> Result<Self> {
        if !self.unparsed {
            return Ok(self);
        }
        let records = self
            .raw
            .iter()
            .map(|r| serde_json::from_str::<Value>(r.get()))
            .collect::<serde_json::Result<Vec<_>>>()
            .map_err(|e| Error::Data {
                stream: self.stream.name.to_owned(),
                detail: format!("a record is not valid JSON: {e}"),
            })?;
        Ok(Self::new(self.stream, records, self.raw, self.state))
    }

    /// Records in the page, parsed or not.
    pub fn record_count(&self) -> u64 {
        if self.unparsed {
            self.raw.len() as u64
        } else {
            self.records.len() as u64
        }
    }

    /// Child rows this (parsed) page writes.
    pub fn child_row_count(&self) -> u64 {
        self.children.iter().map(|c| c.rows.len() as u64).sum()
    }
}

/// A place extracted records are written to.
pub trait Destination: Send {
    /// Human-readable target, e.g. `sqlite:bcsync.db` (never contains secrets).
    fn describe(&self) -> String;
    /// Takes pages whose records are only the text they arrived as
    /// ([`PageBatch::unparsed`]), reads their fields from it and stores it as each
    /// record's JSON. Readers send such pages only to a destination that says so; the
    /// others get parsed pages and re-encode the records (PostgreSQL in jsonb's key order,
    /// Singer and Airbyte as their schema converts it).
    fn reads_text(&self) -> bool {
        false
    }
    /// Prepares tables/files/schemas for the streams of this run.
    fn begin(&mut self, streams: &[&'static StreamDescriptor]) -> Result<()>;
    /// Limits output to these streams and child tables, where each child table is a
    /// stream of its own (Singer). Table destinations write every child table with its
    /// stream and ignore this.
    fn select_tables(&mut self, _tables: &[&'static str]) {}
    /// The committed state of every stream (empty on a first run).
    fn load_state(&mut self) -> Result<State>;
    /// Writes one page and its state, durably and together. Returns how many child rows
    /// it wrote (an unparsed page's are only known once they are read).
    fn write(&mut self, batch: PageBatch) -> Result<u64>;
    /// Forgets a stream's state (`--full-refresh`).
    fn reset_state(&mut self, stream: &str) -> Result<()>;
    /// `stream` was read completely, and every record the store has was written since
    /// `read_started` (RFC 3339, UTC, milliseconds): a full-table stream's run, or an
    /// incremental stream's read from no bookmark (`--full-refresh`). Rows not written
    /// since then were deleted in the store: SQL destinations mark them (and their child
    /// rows) with `_deleted_at`, never remove them, and drop
    /// [`crate::state::FULL_READ_STARTED`] from the stream's saved state in the same
    /// transaction. Append-only destinations record the completed snapshot their own way.
    fn complete_read(
        &mut self,
        _stream: &'static StreamDescriptor,
        _read_started: &str,
    ) -> Result<()> {
        Ok(())
    }
    /// The store says these records of `stream` are gone (a webhook named a deleted
    /// customer or product, an archived order, a cart that no longer exists, or a
    /// reconciliation listing ids found them missing): SQL destinations set `_deleted_at`
    /// on their rows and on their child rows (never remove them); returns how many parent
    /// rows were newly marked. Destinations without tables ignore it.
    fn mark_deleted(&mut self, _stream: &'static StreamDescriptor, _keys: &[Value]) -> Result<u64> {
        Ok(0)
    }
    /// Keys of the rows of `stream` not marked deleted (deletion reconciliation compares
    /// them with the ids the store lists). Destinations without tables have none.
    fn live_keys(&mut self, _stream: &'static StreamDescriptor) -> Result<Vec<Value>> {
        Ok(Vec::new())
    }
    /// Flushes everything; called once at the end of a run.
    fn finish(&mut self) -> Result<()>;
}

/// Parses `--to`: `sqlite:PATH` (or a path ending in .db), `singer`, `jsonl:DIR`.
pub fn open(spec: &str, singer_state: Option<State>) -> Result<Box<dyn Destination>> {
    if let Some(path) = spec.strip_prefix("sqlite:") {
        return Ok(Box::new(sqlite::SqliteDestination::open(PathBuf::from(
            path,
        ))?));
    }
    if spec.ends_with(".db") || spec.ends_with(".sqlite") {
        return Ok(Box::new(sqlite::SqliteDestination::open(PathBuf::from(
            spec,
        ))?));
    }
    if spec == "singer" {
        return Ok(Box::new(singer::SingerDestination::stdout(
            singer_state.unwrap_or_default(),
        )));
    }
    if let Some(dir) = spec.strip_prefix("jsonl:") {
        return Ok(Box::new(jsonl::JsonlDestination::open(PathBuf::from(dir))?));
    }
    // Without a store hash the schema must come from `?schema=` on the URL.
    if let Some(url) = crate::pg::url_from_spec(spec)? {
        return Ok(Box::new(postgres::PostgresDestination::open(&url, None)?));
    }
    Err(Error::BadDestination(crate::pg::redact(spec)))
}

/// [`open`], knowing the store: PostgreSQL's default schema is named after it
/// (`postgres://...`, `postgresql://...`, or `postgres` with `DATABASE_URL`).
pub fn open_for_store(
    spec: &str,
    singer_state: Option<State>,
    store_hash: &str,
) -> Result<Box<dyn Destination>> {
    if let Some(url) = crate::pg::url_from_spec(spec)? {
        return Ok(Box::new(postgres::PostgresDestination::open(
            &url,
            Some(store_hash),
        )?));
    }
    open(spec, singer_state)
}

enum Command {
    Write(PageBatch),
    CompleteRead(&'static StreamDescriptor, String),
    MarkDeleted(&'static StreamDescriptor, Vec<Value>),
    /// Answers with the committed state, after every command queued before it.
    LoadState(tokio::sync::oneshot::Sender<Result<State>>),
    LiveKeys(
        &'static StreamDescriptor,
        tokio::sync::oneshot::Sender<Result<Vec<Value>>>,
    ),
    /// Answers once every command queued before it is durable.
    Barrier(tokio::sync::oneshot::Sender<()>),
}

/// Runs a [`Destination`] on its own thread and feeds it pages with backpressure.
pub struct DestinationWriter {
    tx: Option<mpsc::Sender<Command>>,
    thread: Option<JoinHandle<Result<()>>>,
    pub describe: String,
    /// When this run began (RFC 3339, UTC, milliseconds): rows written by this run carry a
    /// later `_extracted_at`.
    run_started: String,
    /// [`Destination::reads_text`] of the destination behind the thread.
    reads_text: bool,
    /// Child rows written so far, per stream (counted by the writer: an unparsed page's
    /// child rows are found only when it is written).
    child_rows: Arc<Mutex<HashMap<&'static str, u64>>>,
}

impl std::fmt::Debug for DestinationWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DestinationWriter")
            .field("describe", &self.describe)
            .finish()
    }
}

/// Pages queued between the fetchers and the writer. One is enough to overlap fetching
/// with writing, and every queued page costs memory: a page of 250 orders with their
/// consignments is about 2 MB of JSON and some 25 MB as parsed values, so the queue, not the
/// data size, sets peak memory (measured: flat ~130 MB through 100k orders).
const QUEUE_PAGES: usize = 1;

/// Room for one page in the writer's queue ([`DestinationWriter::reserve`]).
pub struct WriteSlot<'a>(mpsc::Permit<'a, Command>);

impl WriteSlot<'_> {
    /// Queues the page in the room held.
    pub fn write(self, batch: PageBatch) {
        self.0.send(Command::Write(batch));
    }
}

impl DestinationWriter {
    /// Prepares the destination (blocking work, done before the thread starts) and returns
    /// the writer plus the committed state.
    pub fn start(
        mut dest: Box<dyn Destination>,
        streams: &[&'static StreamDescriptor],
        full_refresh: bool,
    ) -> Result<(Self, State)> {
        dest.begin(streams)?;
        if full_refresh {
            for s in streams {
                dest.reset_state(s.name)?;
            }
        }
        let state = dest.load_state()?;
        let describe = dest.describe();
        let reads_text = dest.reads_text();
        let child_rows: Arc<Mutex<HashMap<&'static str, u64>>> = Arc::default();
        let counts = Arc::clone(&child_rows);
        let run_started = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let (tx, mut rx) = mpsc::channel::<Command>(QUEUE_PAGES);
        let thread = std::thread::Builder::new()
            .name("bcsync-writer".into())
            .spawn(move || -> Result<()> {
                while let Some(cmd) = rx.blocking_recv() {
                    match cmd {
                        Command::Write(batch) => {
                            let stream = batch.stream.name;
                            let batch = if reads_text { batch } else { batch.parsed()? };
                            let written = dest.write(batch)?;
                            *counts.lock().entry(stream).or_default() += written;
                        }
                        Command::CompleteRead(stream, read_started) => {
                            dest.complete_read(stream, &read_started)?
                        }
                        Command::MarkDeleted(stream, keys) => {
                            dest.mark_deleted(stream, &keys)?;
                        }
                        Command::LoadState(reply) => {
                            let _ = reply.send(dest.load_state());
                        }
                        Command::LiveKeys(stream, reply) => {
                            let _ = reply.send(dest.live_keys(stream));
                        }
                        Command::Barrier(reply) => {
                            let _ = reply.send(());
                        }
                    }
                }
                dest.finish()
            })
            .map_err(|e| Error::WriterGone(e.to_string()))?;
        Ok((
            Self {
                tx: Some(tx),
                thread: Some(thread),
                describe,
                run_started,
                reads_text,
                child_rows,
            },
            state,
        ))
    }

    /// Queues a page; waits while the queue is full.
    pub async fn write(&self, batch: PageBatch) -> Result<()> {
        self.reserve().await?.write(batch);
        Ok(())
    }

    /// Waits for room in the queue and holds it: a reader that builds its page only then
    /// (parses it, splits its children) keeps the pages waiting for the writer as the
    /// bytes that arrived, and at most one built page waits at a time.
    pub async fn reserve(&self) -> Result<WriteSlot<'_>> {
        let tx = self
            .tx
            .as_ref()
            .ok_or_else(|| Error::WriterGone("writer already finished".into()))?;
        tx.reserve().await.map(WriteSlot).map_err(|_| {
            Error::WriterGone(
                "the destination failed; its error follows at the end of the run".into(),
            )
        })
    }

    /// When this run began (RFC 3339, UTC, milliseconds).
    pub fn run_started(&self) -> &str {
        &self.run_started
    }

    /// Whether pages may carry their records as the text they arrived as
    /// ([`Destination::reads_text`]); other destinations get them parsed anyway, on the
    /// writer's thread.
    pub fn reads_text(&self) -> bool {
        self.reads_text
    }

    /// Child rows of `stream` written so far (pages still queued are not counted yet:
    /// [`DestinationWriter::barrier`] first for an exact figure).
    pub fn child_rows(&self, stream: &str) -> u64 {
        self.child_rows.lock().get(stream).copied().unwrap_or(0)
    }

    /// Marks `stream` as completely read since `read_started` (after all its pages, in
    /// queue order): see [`Destination::complete_read`].
    pub async fn complete_read(
        &self,
        stream: &'static StreamDescriptor,
        read_started: String,
    ) -> Result<()> {
        let tx = self
            .tx
            .as_ref()
            .ok_or_else(|| Error::WriterGone("writer already finished".into()))?;
        tx.send(Command::CompleteRead(stream, read_started))
            .await
            .map_err(|_| {
                Error::WriterGone(
                    "the destination failed; its error follows at the end of the run".into(),
                )
            })
    }

    fn sender(&self) -> Result<&mpsc::Sender<Command>> {
        self.tx
            .as_ref()
            .ok_or_else(|| Error::WriterGone("writer already finished".into()))
    }

    async fn send(&self, cmd: Command) -> Result<()> {
        self.sender()?.send(cmd).await.map_err(|_| {
            Error::WriterGone(
                "the destination failed; its error follows at the end of the run".into(),
            )
        })
    }

    /// Marks records of `stream` deleted in the store (after everything queued before):
    /// see [`Destination::mark_deleted`].
    pub async fn mark_deleted(
        &self,
        stream: &'static StreamDescriptor,
        keys: Vec<Value>,
    ) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        self.send(Command::MarkDeleted(stream, keys)).await
    }

    /// The committed state of every stream, read after everything queued before: a
    /// long-running writer (`bcsync listen`) starts each gap poll from it.
    pub async fn load_state(&self) -> Result<State> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Command::LoadState(tx)).await?;
        rx.await.map_err(|_| {
            Error::WriterGone("the destination failed; its error follows at the end".into())
        })?
    }

    /// Keys of `stream`'s rows not marked deleted, after everything queued before.
    pub async fn live_keys(&self, stream: &'static StreamDescriptor) -> Result<Vec<Value>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Command::LiveKeys(stream, tx)).await?;
        rx.await.map_err(|_| {
            Error::WriterGone("the destination failed; its error follows at the end".into())
        })?
    }

    /// Waits until everything queued before is written (committed): what `listen` waits
    /// for before it marks inbox events applied.
    pub async fn barrier(&self) -> Result<()> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Command::Barrier(tx)).await?;
        rx.await.map_err(|_| {
            Error::WriterGone("the destination failed; its error follows at the end".into())
        })
    }

    /// Closes the queue, waits for every page to be written, and returns the writer's
    /// first error if it had one.
    pub async fn finish(mut self) -> Result<()> {
        drop(self.tx.take());
        let thread = self.thread.take();
        tokio::task::spawn_blocking(move || match thread {
            Some(t) => t
                .join()
                .unwrap_or_else(|_| Err(Error::WriterGone("the writer thread panicked".into()))),
            None => Ok(()),
        })
        .await
        .map_err(|e| Error::WriterGone(e.to_string()))?
    }
}

/// The statements that end a full read in an SQL destination: rows of `stream` not
/// rewritten since the read started get `_deleted_at`, and so do the child rows of every
/// parent so marked. `table` names a table as the dialect wants it (quoted, qualified);
/// `now` and `read_started` are the dialect's expressions for those times.
pub(crate) struct DeletionMarks {
    pub parents: String,
    pub children: Vec<String>,
}

impl DeletionMarks {
    pub(crate) fn new(
        stream: &StreamDescriptor,
        table: impl Fn(&str) -> String,
        now: &str,
        read_started: &str,
    ) -> Self {
        let parents = format!(
            "UPDATE {} SET \"_deleted_at\" = {now} WHERE \"_extracted_at\" < {read_started} AND \"_deleted_at\" IS NULL",
            table(stream.name)
        );
        let children = stream
            .children
            .iter()
            .map(|child| {
                format!(
                    "UPDATE {c} SET \"_deleted_at\" = {now} WHERE \"_deleted_at\" IS NULL AND {p} IN
                     (SELECT {k} FROM {s} WHERE \"_deleted_at\" IS NOT NULL)",
                    c = table(child.name),
                    p = crate::pg::quote_ident(child.parent_column),
                    k = crate::pg::quote_ident(stream.key),
                    s = table(stream.name),
                )
            })
            .collect();
        Self { parents, children }
    }

    /// Says how many rows the full read found gone from the store.
    pub(crate) fn log(stream: &StreamDescriptor, gone: u64) {
        if gone > 0 {
            tracing::info!(
                stream = stream.name,
                rows = gone,
                "marked rows deleted in the store (_deleted_at)"
            );
        }
    }
}
