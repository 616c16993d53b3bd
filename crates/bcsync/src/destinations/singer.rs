//! Singer on stdout: SCHEMA once per stream and child table, RECORD per row, STATE after
//! each page (the page's RECORDs come first, so a target that commits on STATE never
//! acknowledges rows it has not received). stdout carries these messages only; logs go
//! to stderr. Usable as a Meltano custom extractor (see the README).
//!
//! RECORDs are conformed to their SCHEMA ([`schema::conform`]): V2 dates become ISO 8601,
//! V2 decimal strings numbers. Only the selected streams and child tables are emitted;
//! the STATE of a stream read only for its child tables is still written.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;

use serde_json::{Value, json};

use super::protocol::{RecordConformer, flush, write_line};
use super::{Destination, PageBatch};
use crate::error::{Error, Result};
use crate::state::State;
use crate::streams::{Prop, StreamDescriptor, schema};

/// Writes Singer messages to any sink (stdout in production, a buffer in tests).
pub struct SingerDestination<W: Write + Send> {
    out: W,
    state: State,
    extracted_at: String,
    /// Streams and child tables emitted; `None`: all of those extracted.
    selected: Option<HashSet<&'static str>>,
    /// Conformance to the SCHEMA, with one warning per field and run.
    conformer: RecordConformer,
    /// Per stream of this run: the tables it emits (itself and child tables, if selected),
    /// recorded in its STATE.
    emitting: BTreeMap<&'static str, Vec<String>>,
}

impl SingerDestination<std::io::Stdout> {
    /// Messages to stdout, resuming from the `--state` file's content.
    pub fn stdout(state: State) -> Self {
        Self::new(std::io::stdout(), state)
    }
}

impl<W: Write + Send> SingerDestination<W> {
    pub fn new(out: W, state: State) -> Self {
        Self {
            out,
            state,
            extracted_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            selected: None,
            conformer: RecordConformer::default(),
            emitting: BTreeMap::new(),
        }
    }

    fn is_selected(&self, table: &str) -> bool {
        self.selected.as_ref().is_none_or(|s| s.contains(table))
    }

    /// One RECORD, conformed to its SCHEMA.
    fn emit_record(
        &mut self,
        table: &'static str,
        shape: &[Prop],
        mut record: Value,
    ) -> Result<()> {
        for warning in self.conformer.conform(table, shape, &mut record) {
            tracing::warn!("{warning}");
        }
        let at = &self.extracted_at;
        let msg =
            json!({"type": "RECORD", "stream": table, "record": record, "time_extracted": at});
        self.emit(&msg)
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    fn emit(&mut self, msg: &Value) -> Result<()> {
        write_line(&mut self.out, msg)
    }
}

/// The Singer SCHEMA message of a stream.
pub fn schema_message(s: &StreamDescriptor) -> Value {
    json!({"type": "SCHEMA", "stream": s.name, "schema": schema::stream_schema(s), "key_properties": [s.key],
           "bookmark_properties": bookmark_properties(s)})
}

fn bookmark_properties(s: &StreamDescriptor) -> Vec<&'static str> {
    match s.replication {
        crate::streams::Replication::Incremental { cursor_field, .. } => vec![cursor_field],
        crate::streams::Replication::FullTable => vec![],
    }
}

impl<W: Write + Send> Destination for SingerDestination<W> {
    fn describe(&self) -> String {
        "singer:stdout".into()
    }

    fn select_tables(&mut self, tables: &[&'static str]) {
        self.selected = Some(tables.iter().copied().collect());
    }

    fn begin(&mut self, streams: &[&'static StreamDescriptor]) -> Result<()> {
        for s in streams {
            let tables = std::iter::once(s.name)
                .chain(s.children.iter().map(|c| c.name))
                .filter(|t| self.is_selected(t))
                .map(str::to_owned)
                .collect();
            self.emitting.insert(s.name, tables);
            if self.is_selected(s.name) {
                self.emit(&schema_message(s))?;
            }
            for c in s.children {
                if !self.is_selected(c.name) {
                    continue;
                }
                let key: Vec<&str> = c
                    .key
                    .map(|k| vec![c.parent_column, k])
                    .unwrap_or_else(|| vec![c.parent_column]);
                self.emit(&json!({"type": "SCHEMA", "stream": c.name, "schema": schema::child_schema(c), "key_properties": key}))?;
            }
        }
        flush(&mut self.out)
    }

    fn load_state(&mut self) -> Result<State> {
        for s in self.state.bookmarks.values_mut() {
            s.full_read_started = None;
        }
        // A bookmark only covers the tables emitted by the runs that advanced it: a run
        // that emits another one (a parent selected after its child table alone) would
        // never emit the records before the bookmark, so that stream starts over.
        for (stream, tables) in &self.emitting {
            let Some(recorded) = self
                .state
                .bookmarks
                .get(*stream)
                .and_then(|s| s.emitted_tables.as_ref())
            else {
                continue;
            };
            let new: Vec<&str> = tables
                .iter()
                .filter(|t| !recorded.contains(t))
                .map(String::as_str)
                .collect();
            if !new.is_empty() {
                tracing::warn!(
                    "{stream}: read from the beginning, as the state's bookmark was reached without emitting {}",
                    new.join(", ")
                );
                self.state.bookmarks.remove(*stream);
            }
        }
        Ok(self.state.clone())
    }

    fn write(&mut self, batch: PageBatch) -> Result<u64> {
        let children = batch.child_row_count();
        let write = || -> Result<()> {
            let stream = batch.stream;
            if self.is_selected(stream.name) {
                for r in batch.records {
                    self.emit_record(stream.name, stream.record, r)?;
                }
            }
            for c in batch.children {
                if !self.is_selected(c.table.name) {
                    continue;
                }
                for r in c.rows {
                    self.emit_record(c.table.name, c.table.record, r)?;
                }
            }
            if let Some(mut s) = batch.state {
                // Where a full read began matters to SQL destinations only (they mark the rows
                // it did not see); a Singer target has no use for it.
                s.full_read_started = None;
                s.emitted_tables = self.emitting.get(stream.name).cloned();
                self.state.bookmarks.insert(batch.stream.name.to_owned(), s);
                let value =
                    serde_json::to_value(&self.state).map_err(|e| Error::Config(e.to_string()))?;
                self.emit(&json!({"type": "STATE", "value": value}))?;
            }
            flush(&mut self.out)
        };
        write().map(|()| children)
    }

    fn reset_state(&mut self, stream: &str) -> Result<()> {
        self.state.bookmarks.remove(stream);
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        let value = serde_json::to_value(&self.state).map_err(|e| Error::Config(e.to_string()))?;
        self.emit(&json!({"type": "STATE", "value": value}))?;
        flush(&mut self.out)
    }
}

/// Reads a Singer state file: `{"bookmarks": {...}}`, or the `value` of a STATE message.
pub fn read_state_file(path: &std::path::Path) -> Result<State> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    if text.trim().is_empty() {
        return Ok(State::default());
    }
    let bad = |detail: String| Error::StateFile {
        path: path.display().to_string(),
        detail,
    };
    let v: Value = serde_json::from_str(&text).map_err(|e| bad(format!("is not JSON ({e})")))?;
    let v = v.get("value").cloned().unwrap_or(v);
    serde_json::from_value::<State>(v).map_err(|e| {
        bad(format!(
            "is not a bcsync state ({})",
            crate::error::plain_serde_message(&e.to_string())
        ))
    })
}
