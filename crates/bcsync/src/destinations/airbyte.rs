//! Airbyte protocol on stdout (`bcsync airbyte read`): a RECORD per row of every table the
//! configured catalog selects, then, after each page, a per-stream STATE (type `STREAM`)
//! for each of those tables, so a platform that commits on STATE never acknowledges rows it
//! has not received. Records are conformed as Singer's are ([`super::protocol`]); warnings
//! become LOG messages, as stdout carries protocol messages only.
//!
//! Child tables (`order_lines`, `product_variants`...) are streams of the catalog too, and
//! their rows come from their parent's pages (no request per parent), so one bookmark moves
//! a parent and its child tables together. Each selected table gets its own STATE holding
//! that bookmark in bcsync's format (`bookmark` plus `ids_at_bookmark`, the ids committed
//! at that second), and a read resumes a stream from the earliest state among its selected
//! tables: no record is skipped, and none is emitted twice while the tables move together.
//!
//! Also here: the messages of `spec`, `check` and `discover`, and the readers of the
//! configured catalog and of the state file the platform passes back.

use std::collections::BTreeMap;
use std::io::Write;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::protocol::{RecordConformer, flush, write_line};
use super::{Destination, PageBatch};
use crate::error::{Error, Result};
use crate::state::{State, StreamState};
use crate::streams::{self, Prop, Replication, STREAMS, StreamDescriptor};

/// How the configured catalog asks for a table to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// Every record, whatever the state says.
    FullRefresh,
    /// Records modified since the table's state (all of them without one).
    Incremental,
}

/// A `ConfiguredAirbyteCatalog` reduced to what a read needs: the selected tables (streams
/// and child tables) with their sync modes, in the order of the stream table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfiguredCatalog {
    pub tables: Vec<(&'static str, SyncMode)>,
}

/// Every stream and child table, with the stream it is read through.
fn all_tables() -> impl Iterator<Item = (&'static str, &'static StreamDescriptor)> {
    STREAMS.iter().flat_map(|s| {
        std::iter::once((s.name, s)).chain(s.children.iter().map(move |c| (c.name, s)))
    })
}

impl ConfiguredCatalog {
    /// What a read without `--catalog` emits: every table `extract` reads by default,
    /// incrementally where the stream can be.
    pub fn every_default_table() -> Self {
        let tables = all_tables()
            .filter(|(_, s)| s.on_request.is_none())
            .map(|(t, s)| (t, default_mode(s)))
            .collect();
        Self { tables }
    }

    /// Reads a `ConfiguredAirbyteCatalog` (`streams[].stream.name`, `streams[].sync_mode`).
    /// The error says what is wrong and what to do.
    pub fn parse(catalog: &Value) -> std::result::Result<Self, String> {
        let entries = catalog["streams"].as_array().ok_or_else(|| {
            "has no \"streams\" array: it must be a ConfiguredAirbyteCatalog, as `bcsync airbyte discover` lists the streams".to_owned()
        })?;
        let mut chosen: BTreeMap<&'static str, SyncMode> = BTreeMap::new();
        for entry in entries {
            let name = entry["stream"]["name"].as_str().ok_or_else(|| {
                "has a stream without \"stream\": {\"name\": ...}; give each configured stream its stream's name".to_owned()
            })?;
            let Some((table, stream)) = all_tables().find(|(t, _)| *t == name) else {
                return Err(format!(
                    "names the stream \"{name}\", which bcsync does not have; take the names from `bcsync airbyte discover`"
                ));
            };
            let mode = match entry["sync_mode"].as_str() {
                Some("full_refresh") => SyncMode::FullRefresh,
                Some("incremental") if stream.is_incremental() => SyncMode::Incremental,
                Some("incremental") => {
                    return Err(format!(
                        "asks for an incremental read of \"{name}\", which supports full_refresh only (the API has no date filter for it); set its sync_mode to full_refresh"
                    ));
                }
                other => {
                    return Err(format!(
                        "gives \"{name}\" the sync_mode {}; use full_refresh or incremental",
                        other.map_or("(none)".to_owned(), |m| format!("\"{m}\""))
                    ));
                }
            };
            chosen.insert(table, mode);
        }
        if chosen.is_empty() {
            return Err(
                "selects no stream; configure at least one stream from `bcsync airbyte discover`"
                    .into(),
            );
        }
        let tables = all_tables()
            .filter_map(|(t, _)| chosen.get(t).map(|m| (t, *m)))
            .collect();
        Ok(Self { tables })
    }

    /// The table names, for [`crate::extract::ExtractOptions::tables`].
    pub fn table_names(&self) -> Vec<&'static str> {
        self.tables.iter().map(|(t, _)| *t).collect()
    }

    /// The names to select streams by (a child table selects the stream it comes in).
    pub fn stream_names(&self) -> Vec<String> {
        self.tables.iter().map(|(t, _)| (*t).to_owned()).collect()
    }

    fn mode(&self, table: &str) -> Option<SyncMode> {
        self.tables
            .iter()
            .find(|(t, _)| *t == table)
            .map(|(_, m)| *m)
    }
}

fn default_mode(s: &StreamDescriptor) -> SyncMode {
    if s.is_incremental() {
        SyncMode::Incremental
    } else {
        SyncMode::FullRefresh
    }
}

/// Reads the state the platform passes back: a JSON array of `AirbyteStateMessage`s of
/// type `STREAM` (or of whole `STATE` messages, or one of either). A later state of a
/// table replaces an earlier one, so the STATE lines of a read, gathered in an array,
/// resume after the last one. An empty file or array is no state.
pub fn parse_state(text: &str) -> std::result::Result<BTreeMap<String, StreamState>, String> {
    let mut out = BTreeMap::new();
    if text.trim().is_empty() {
        return Ok(out);
    }
    let v: Value = serde_json::from_str(text).map_err(|e| {
        format!(
            "is not JSON ({}); pass the array of state messages the last read emitted",
            crate::error::plain_serde_message(&e.to_string())
        )
    })?;
    let messages = match v {
        Value::Array(a) => a,
        Value::Null => Vec::new(),
        other => vec![other],
    };
    for m in messages {
        let m = if m["type"] == "STATE" && m.get("state").is_some() {
            m["state"].clone()
        } else {
            m
        };
        match m["type"].as_str() {
            Some("STREAM") => {}
            Some(other) => {
                return Err(format!(
                    "holds a state of type {other}; bcsync reads and writes per-stream state (type STREAM): start from no state, or from a state a bcsync read emitted"
                ));
            }
            None => {
                return Err("holds an entry without \"type\": \"STREAM\"; pass the array of state messages (AirbyteStateMessage) the last read emitted".into());
            }
        }
        let name = m["stream"]["stream_descriptor"]["name"]
            .as_str()
            .ok_or_else(|| {
                "holds a STREAM state without stream.stream_descriptor.name; pass the state messages as a bcsync read emitted them".to_owned()
            })?;
        let blob = &m["stream"]["stream_state"];
        if blob.is_null() {
            out.remove(name);
            continue;
        }
        let state: StreamState = serde_json::from_value(blob.clone()).map_err(|e| {
            format!(
                "holds a stream_state for \"{name}\" that is not a bcsync bookmark ({}); pass the state a bcsync read emitted, or none to read from the start",
                crate::error::plain_serde_message(&e.to_string())
            )
        })?;
        out.insert(name.to_owned(), state);
    }
    Ok(out)
}

/// Milliseconds since the epoch, as RECORD's `emitted_at` wants them.
fn now_millis() -> i64 {
    Utc::now().timestamp_millis()
}

/// A LOG message (`level`: FATAL, ERROR, WARN, INFO, DEBUG, TRACE).
pub fn log_message(level: &str, message: &str) -> Value {
    json!({"type": "LOG", "log": {"level": level, "message": message}})
}

/// Why a run failed, as Airbyte sorts failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureType {
    /// The user must change the config (token, store hash, scopes, catalog, state).
    Config,
    /// Worth retrying as is (rate limits, server errors, the network).
    Transient,
    /// Anything else.
    System,
}

impl FailureType {
    /// The failure behind an HTTP status of the store's answer, if it answered.
    pub fn of_status(status: Option<u16>) -> Self {
        match status {
            // 401: the token; 403: a scope the API account lacks. (A 404 on the store
            // probe means a wrong store hash, but that is the caller's to tell.)
            Some(401 | 403) => Self::Config,
            Some(429) | Some(500..) | None => Self::Transient,
            Some(_) => Self::System,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Config => "config_error",
            Self::Transient => "transient_error",
            Self::System => "system_error",
        }
    }
}

/// A TRACE message of type ERROR: `message` for the user (what happened and what to do),
/// `internal_message` for the detail, and the stream it concerns when there is one.
pub fn trace_error(
    message: &str,
    internal_message: Option<&str>,
    failure: FailureType,
    stream: Option<&str>,
) -> Value {
    let mut error = json!({"message": message, "failure_type": failure.as_str()});
    if let Some(detail) = internal_message {
        error["internal_message"] = json!(detail);
    }
    if let Some(name) = stream {
        error["stream_descriptor"] = json!({"name": name});
    }
    // emitted_at is a float in the protocol (milliseconds).
    json!({"type": "TRACE", "trace": {"type": "ERROR", "emitted_at": now_millis() as f64, "error": error}})
}

/// The CONNECTION_STATUS answer of `check`.
pub fn connection_status(succeeded: bool, message: &str) -> Value {
    let status = if succeeded { "SUCCEEDED" } else { "FAILED" };
    json!({"type": "CONNECTION_STATUS", "connectionStatus": {"status": status, "message": message}})
}

/// The SPEC message: the JSON Schema of the config `--config` reads.
pub fn spec_message() -> Value {
    json!({"type": "SPEC", "spec": {
        "supportsIncremental": true,
        "connectionSpecification": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "title": "bcsync (BigCommerce)",
            "type": "object",
            "required": ["store_hash", "access_token"],
            "properties": {
                "store_hash": {
                    "type": "string",
                    "title": "Store hash",
                    "description": "The store's hash: the part after /stores/ in the API path shown with the API account.",
                    "order": 0,
                },
                "access_token": {
                    "type": "string",
                    "title": "Access token",
                    "description": "The API account's access token (read-only scopes suffice). BIGCOMMERCE_ACCESS_TOKEN in the environment overrides it.",
                    "airbyte_secret": true,
                    "order": 1,
                },
                "base_url": {
                    "type": "string",
                    "title": "API base URL",
                    "description": "Where the API is served; change it only for a sandbox (http://127.0.0.1:PORT).",
                    "default": bigcommerce::client::DEFAULT_BASE_URL,
                    "order": 2,
                },
                "start_date": {
                    "type": "string",
                    "format": "date-time",
                    "title": "Start date",
                    "description": "Incremental streams without state read only records modified at or after this time (RFC 3339). Full-refresh streams are read whole.",
                    "examples": ["2024-01-01T00:00:00Z"],
                    "order": 3,
                },
                "stream_concurrency": {
                    "type": "integer",
                    "title": "Streams read at once",
                    "description": "All of them share the store's one request quota.",
                    "minimum": 1,
                    "default": 6,
                    "order": 4,
                },
                "channels": {
                    "type": "array",
                    "items": {"type": "integer", "minimum": 1},
                    "title": "Channels",
                    "description": "Read only these storefronts (channel ids); all when empty. Streams the API cannot filter by channel are read whole.",
                    "order": 5,
                },
            },
        },
    }})
}

/// A record schema as Airbyte wants it: an object at the top (Singer's is nullable).
fn airbyte_schema(mut schema: Value) -> Value {
    schema["type"] = json!("object");
    schema["$schema"] = json!("http://json-schema.org/draft-07/schema#");
    schema
}

/// The CATALOG message: every stream and child table, with its JSON Schema, sync modes,
/// cursor and primary key.
pub fn catalog_message() -> Value {
    let mut entries = Vec::new();
    for s in STREAMS {
        let incremental = match s.replication {
            Replication::Incremental { cursor_field, .. } => Some(cursor_field),
            Replication::FullTable => None,
        };
        let modes = if incremental.is_some() {
            json!(["full_refresh", "incremental"])
        } else {
            json!(["full_refresh"])
        };
        let mut entry = json!({
            "name": s.name,
            "json_schema": airbyte_schema(streams::schema::stream_schema(s)),
            "supported_sync_modes": modes,
            "source_defined_cursor": incremental.is_some(),
            "source_defined_primary_key": [[s.key]],
        });
        if let Some(cursor) = incremental {
            entry["default_cursor_field"] = json!([cursor]);
        }
        entries.push(entry);
        for c in s.children {
            // A child row has no date of its own: it is re-sent whenever its parent
            // changes, which the source decides (its parent's cursor).
            let key: Vec<Vec<&str>> = std::iter::once(vec![c.parent_column])
                .chain(c.key.map(|k| vec![k]))
                .collect();
            entries.push(json!({
                "name": c.name,
                "json_schema": airbyte_schema(streams::schema::child_schema(c)),
                "supported_sync_modes": modes,
                "source_defined_cursor": incremental.is_some(),
                "source_defined_primary_key": key,
            }));
        }
    }
    json!({"type": "CATALOG", "catalog": {"streams": entries}})
}

/// The per-stream STATE of one table.
pub fn state_message(table: &str, state: &StreamState) -> Value {
    json!({"type": "STATE", "state": {
        "type": "STREAM",
        "stream": {"stream_descriptor": {"name": table}, "stream_state": state},
    }})
}

/// The earliest of several tables' states: the one with the earliest bookmark (no
/// bookmark is the earliest of all), keeping only the ids every such state has at that
/// second, so that no table misses a record.
fn earliest(states: &[&StreamState]) -> StreamState {
    let Some(min) = states.iter().map(|s| s.bookmark).min() else {
        return StreamState::default();
    };
    let Some(bookmark) = min else {
        return StreamState::default();
    };
    let at_min: Vec<&&StreamState> = states
        .iter()
        .filter(|s| s.bookmark == Some(bookmark))
        .collect();
    let ids = at_min[0]
        .ids_at_bookmark
        .iter()
        .copied()
        .filter(|id| at_min.iter().all(|s| s.ids_at_bookmark.contains(id)))
        .collect();
    StreamState {
        bookmark: Some(bookmark),
        ids_at_bookmark: ids,
        ..StreamState::default()
    }
}

/// Writes Airbyte messages to any sink (stdout in production, a buffer in tests).
pub struct AirbyteDestination<W: Write + Send> {
    out: W,
    catalog: ConfiguredCatalog,
    /// The state passed in (`--state`), per table.
    input: BTreeMap<String, StreamState>,
    /// Where an incremental stream without state starts.
    start_date: Option<DateTime<Utc>>,
    conformer: RecordConformer,
    /// Per stream of this run: the selected tables it emits (itself and child tables).
    emitting: BTreeMap<&'static str, Vec<&'static str>>,
}

impl AirbyteDestination<std::io::Stdout> {
    pub fn stdout(
        catalog: ConfiguredCatalog,
        input: BTreeMap<String, StreamState>,
        start_date: Option<DateTime<Utc>>,
    ) -> Self {
        Self::new(std::io::stdout(), catalog, input, start_date)
    }
}

impl<W: Write + Send> AirbyteDestination<W> {
    pub fn new(
        out: W,
        catalog: ConfiguredCatalog,
        input: BTreeMap<String, StreamState>,
        start_date: Option<DateTime<Utc>>,
    ) -> Self {
        Self {
            out,
            catalog,
            input,
            start_date,
            conformer: RecordConformer::default(),
            emitting: BTreeMap::new(),
        }
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    fn emit(&mut self, msg: &Value) -> Result<()> {
        write_line(&mut self.out, msg)
    }

    fn emit_record(
        &mut self,
        table: &'static str,
        shape: &[Prop],
        mut record: Value,
        emitted_at: i64,
    ) -> Result<()> {
        for warning in self.conformer.conform(table, shape, &mut record) {
            self.emit(&log_message("WARN", &warning))?;
        }
        self.emit(
            &json!({"type": "RECORD", "record": {"stream": table, "data": record, "emitted_at": emitted_at}}),
        )
    }

    /// Where `stream` resumes, from the states of the tables it emits.
    fn resume_point(
        &self,
        stream: &'static StreamDescriptor,
        tables: &[&'static str],
    ) -> (Option<StreamState>, Option<String>) {
        let start = || {
            self.start_date.map(|d| StreamState {
                bookmark: Some(d),
                ..StreamState::default()
            })
        };
        let full: Vec<&str> = tables
            .iter()
            .copied()
            .filter(|t| self.catalog.mode(t) == Some(SyncMode::FullRefresh))
            .collect();
        if !full.is_empty() {
            let incremental: Vec<&str> = tables
                .iter()
                .copied()
                .filter(|t| !full.contains(t))
                .collect();
            let note = (!incremental.is_empty()).then(|| {
                format!(
                    "{}: read whole, as {} is configured full_refresh; {} (incremental, read in the same pages) get every record again",
                    stream.name,
                    full.join(", "),
                    incremental.join(", ")
                )
            });
            return (start(), note);
        }
        let states: Vec<Option<&StreamState>> = tables.iter().map(|t| self.input.get(*t)).collect();
        if states.iter().all(Option::is_none) {
            return (start(), None);
        }
        if states.iter().any(Option::is_none) {
            let missing: Vec<&str> = tables
                .iter()
                .zip(&states)
                .filter(|(_, s)| s.is_none())
                .map(|(t, _)| *t)
                .collect();
            let note = format!(
                "{}: read from the start, as {} has no state; the tables that had one get records they already had",
                stream.name,
                missing.join(", ")
            );
            return (start(), Some(note));
        }
        let states: Vec<&StreamState> = states.into_iter().flatten().collect();
        (Some(earliest(&states)), None)
    }
}

impl<W: Write + Send> Destination for AirbyteDestination<W> {
    fn describe(&self) -> String {
        "airbyte:stdout".into()
    }

    fn begin(&mut self, streams: &[&'static StreamDescriptor]) -> Result<()> {
        for s in streams {
            let tables = std::iter::once(s.name)
                .chain(s.children.iter().map(|c| c.name))
                .filter(|t| self.catalog.mode(t).is_some())
                .collect();
            self.emitting.insert(s.name, tables);
        }
        Ok(())
    }

    fn load_state(&mut self) -> Result<State> {
        let mut state = State::default();
        let mut notes = Vec::new();
        for (stream, tables) in &self.emitting {
            let Some(desc) = streams::find(stream).filter(|d| d.is_incremental()) else {
                continue;
            };
            let (resume, note) = self.resume_point(desc, tables);
            notes.extend(note);
            if let Some(st) = resume {
                state.bookmarks.insert((*stream).to_owned(), st);
            }
        }
        for note in notes {
            self.emit(&log_message("WARN", &note))?;
        }
        flush(&mut self.out)?;
        Ok(state)
    }

    fn write(&mut self, batch: PageBatch) -> Result<u64> {
        let children = batch.child_row_count();
        let write = || -> Result<()> {
            let stream = batch.stream;
            let emitted_at = now_millis();
            if self.catalog.mode(stream.name).is_some() {
                for r in batch.records {
                    self.emit_record(stream.name, stream.record, r, emitted_at)?;
                }
            }
            for c in batch.children {
                if self.catalog.mode(c.table.name).is_none() {
                    continue;
                }
                for r in c.rows {
                    self.emit_record(c.table.name, c.table.record, r, emitted_at)?;
                }
            }
            if let Some(st) = batch.state {
                // Only the position travels: where a full read began matters to SQL
                // destinations, and which tables were emitted is the set of tables with state.
                let st = StreamState {
                    full_read_started: None,
                    emitted_tables: None,
                    ..st
                };
                let tables = self.emitting.get(stream.name).cloned().unwrap_or_default();
                for t in tables {
                    self.emit(&state_message(t, &st))?;
                }
            }
            flush(&mut self.out)
        };
        write().map(|()| children)
    }

    fn reset_state(&mut self, stream: &str) -> Result<()> {
        if let Some(s) = streams::find(stream) {
            for t in std::iter::once(s.name).chain(s.children.iter().map(|c| c.name)) {
                self.input.remove(t);
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        flush(&mut self.out)
    }
}

/// Reads `start_date` from the config: RFC 3339, or a bare date (midnight UTC).
pub fn parse_start_date(text: &str) -> Result<DateTime<Utc>> {
    if let Ok(d) = DateTime::parse_from_rfc3339(text.trim()) {
        return Ok(d.with_timezone(&Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        && let Some(dt) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(dt.and_utc());
    }
    Err(Error::Config(format!(
        "start_date '{text}' is not a date; write it as RFC 3339, e.g. 2024-01-01T00:00:00Z"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
    }

    #[test]
    fn configured_catalog_keeps_stream_table_order_and_refuses_unknowns() {
        let cat = json!({"streams": [
            {"stream": {"name": "order_lines"}, "sync_mode": "incremental", "destination_sync_mode": "append"},
            {"stream": {"name": "brands"}, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"},
            {"stream": {"name": "orders"}, "sync_mode": "incremental", "destination_sync_mode": "append"},
        ]});
        let c = ConfiguredCatalog::parse(&cat).unwrap();
        assert_eq!(c.table_names(), vec!["brands", "orders", "order_lines"]);
        let bad = json!({"streams": [{"stream": {"name": "nope"}, "sync_mode": "full_refresh"}]});
        assert!(
            ConfiguredCatalog::parse(&bad)
                .unwrap_err()
                .contains("discover")
        );
        let full_only =
            json!({"streams": [{"stream": {"name": "brands"}, "sync_mode": "incremental"}]});
        assert!(
            ConfiguredCatalog::parse(&full_only)
                .unwrap_err()
                .contains("full_refresh")
        );
    }

    #[test]
    fn state_reads_messages_and_keeps_the_last_per_table() {
        let first = StreamState {
            bookmark: Some(t(1)),
            ids_at_bookmark: vec![4],
            ..StreamState::default()
        };
        let second = StreamState {
            bookmark: Some(t(2)),
            ids_at_bookmark: vec![5, 6],
            ..StreamState::default()
        };
        let text = json!([
            state_message("orders", &first),
            state_message("orders", &second)["state"],
        ])
        .to_string();
        let parsed = parse_state(&text).unwrap();
        assert_eq!(parsed.get("orders"), Some(&second));
        assert!(parse_state("").unwrap().is_empty());
        let global = json!([{"type": "GLOBAL", "global": {"stream_states": []}}]).to_string();
        assert!(parse_state(&global).unwrap_err().contains("STREAM"));
    }

    #[test]
    fn a_stream_resumes_from_its_earliest_table() {
        let a = StreamState {
            bookmark: Some(t(5)),
            ids_at_bookmark: vec![1, 2],
            ..StreamState::default()
        };
        let b = StreamState {
            bookmark: Some(t(5)),
            ids_at_bookmark: vec![2],
            ..StreamState::default()
        };
        let c = StreamState {
            bookmark: Some(t(9)),
            ids_at_bookmark: vec![7],
            ..StreamState::default()
        };
        let e = earliest(&[&c, &a, &b]);
        assert_eq!(e.bookmark, Some(t(5)));
        assert_eq!(e.ids_at_bookmark, vec![2]);
        assert_eq!(earliest(&[&a, &StreamState::default()]).bookmark, None);
    }

    #[test]
    fn a_page_is_records_then_one_state_per_selected_table() {
        let orders = streams::find("orders").unwrap();
        let catalog = ConfiguredCatalog {
            tables: vec![
                ("orders", SyncMode::Incremental),
                ("order_lines", SyncMode::Incremental),
            ],
        };
        let mut dest = AirbyteDestination::new(Vec::new(), catalog, BTreeMap::new(), None);
        dest.begin(&[orders]).unwrap();
        let order = json!({"id": 1, "date_modified": "Tue, 14 Nov 2023 22:13:20 +0000", "total_inc_tax": "12.5000",
            "date_shipped": "someday", "consignments": {"shipping": [{"line_items": [{"id": 10, "order_id": 1}]}]}});
        let st = StreamState {
            bookmark: Some(t(0)),
            ids_at_bookmark: vec![1],
            full_read_started: Some("x".into()),
            ..StreamState::default()
        };
        dest.write(crate::destinations::PageBatch::new(
            orders,
            vec![order],
            Vec::new(),
            Some(st),
        ))
        .unwrap();
        let out = String::from_utf8(dest.into_inner()).unwrap();
        let msgs: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let kinds: Vec<&str> = msgs.iter().map(|m| m["type"].as_str().unwrap()).collect();
        assert_eq!(kinds.last(), Some(&"STATE"), "{out}");
        // A value the schema cannot hold is a LOG warning (stdout carries messages only).
        assert_eq!(msgs[0]["log"]["level"], "WARN", "{out}");
        assert!(
            msgs[0]["log"]["message"]
                .as_str()
                .unwrap()
                .contains("date_shipped")
        );
        assert_eq!(
            msgs[1]["record"]["data"]["total_inc_tax"],
            json!(12.5),
            "{out}"
        );
        assert_eq!(msgs[2]["record"]["stream"], "order_lines", "{out}");
        let states: Vec<&Value> = msgs.iter().filter(|m| m["type"] == "STATE").collect();
        assert_eq!(states.len(), 2);
        for s in states {
            let blob = &s["state"]["stream"]["stream_state"];
            assert_eq!(blob["ids_at_bookmark"], json!([1]));
            assert!(blob.get("full_read_started").is_none());
        }
    }
}
