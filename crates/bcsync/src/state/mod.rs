//! Extraction state: one bookmark per incremental stream. A bookmark is the full
//! timestamp of the last committed `date_modified` (never a bare date) plus the ids
//! already committed at exactly that second, so the next run can ask inclusively
//! (`>= bookmark`) without skipping same-second records or doubling any.
//!
//! Destinations persist it atomically with the rows of each page (SQLite: the same
//! transaction; Singer: a STATE message after the page's RECORDs; JSON lines: a state file
//! rewritten after the page's lines are flushed; PostgreSQL: the same transaction). Keeping
//! bookmarks beside the rows they describe is what makes a resume exact, so extraction
//! state always lives in the destination.
//!
//! Push state (change-detection hashes, ids, run records) lives in a state store of its
//! own, SQLite or PostgreSQL: [`push`]. Extraction runs are recorded there too
//! ([`recorder`]), so `bcsync runs` and the dashboard list every kind of run.

pub mod push;
pub mod push_pg;
pub mod recorder;

/// The environment variable naming the run and push state store (a SQLite file or a
/// `postgres://` URL), read after the command's `--state` flag and before `state` in
/// bcsync.toml; a fleet worker passes its own to the jobs it starts this way.
pub const ENV_STATE: &str = "BCSYNC_STATE";

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One stream's resume point.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamState {
    /// Last committed modification time, ISO 8601 UTC with seconds (`2024-05-14T09:34:00Z`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bookmark: Option<DateTime<Utc>>,
    /// Keys committed with exactly `bookmark`, skipped when re-read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids_at_bookmark: Vec<i64>,
    /// Set while a read from no bookmark (a first run, `--full-refresh`) is under way: when
    /// it began (RFC 3339 UTC, milliseconds, as [`FULL_READ_STARTED`]). It is committed with
    /// every page, so a run that resumes an interrupted full read still knows which rows
    /// that read has not rewritten; the destination removes it when the read completes and
    /// marks those rows deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_read_started: Option<String>,
    /// Singer only: the tables (the stream and its child tables) whose records the runs
    /// behind this bookmark emitted. A run emitting a table outside this set starts the
    /// stream from the beginning: records before the bookmark were never emitted for it.
    /// Absent in states written before it existed, read as "every table".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emitted_tables: Option<Vec<String>>,
    /// The channels a channel-filtered stream was read with (`--channel`), sorted; absent:
    /// every channel. Another set reads the stream whole again (`extract::channels`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<Vec<i64>>,
    /// Set while an incremental read split into date windows is under way
    /// (`extract::windows`): every window from the first unfinished one on, in date order.
    /// `bookmark` and `ids_at_bookmark` above are then the first window's cursor, so a
    /// reader that knows nothing of windows resumes correctly, only re-reading more.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<ReadWindow>,
}

/// One date window of a split incremental read: it covers `start` (inclusive) up to the
/// next window's `start` (exclusive); the last one is open-ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadWindow {
    /// `None`: from the store's oldest record (a first read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<DateTime<Utc>>,
    /// The window's own keyset cursor, as [`StreamState::bookmark`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bookmark: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids_at_bookmark: Vec<i64>,
    /// Read to its end and committed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub done: bool,
}

/// The JSON key of [`StreamState::full_read_started`], which SQL destinations remove from
/// the saved state in the transaction that marks the rows a full read did not see.
pub const FULL_READ_STARTED: &str = "full_read_started";

/// All streams' state, as Singer's `{"bookmarks": {...}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    #[serde(default)]
    pub bookmarks: BTreeMap<String, StreamState>,
}

impl State {
    pub fn stream(&self, name: &str) -> StreamState {
        self.bookmarks.get(name).cloned().unwrap_or_default()
    }
}

/// Tracks the keyset position while pages arrive: which records are new, and the state to
/// commit with them.
#[derive(Debug, Clone)]
pub struct KeysetCursor {
    state: StreamState,
}

impl KeysetCursor {
    pub fn new(state: StreamState) -> Self {
        let mut state = state;
        state.ids_at_bookmark.sort_unstable();
        state.ids_at_bookmark.dedup();
        Self { state }
    }

    pub fn bookmark(&self) -> Option<DateTime<Utc>> {
        self.state.bookmark
    }

    pub fn state(&self) -> &StreamState {
        &self.state
    }

    /// Feeds one record (in ascending date order). Returns whether it is new, i.e. not a
    /// re-read of a record already committed at the bookmark second. A record older than
    /// the bookmark (the API ignoring our filter) is treated as new but does not move the
    /// bookmark back.
    pub fn observe(&mut self, id: i64, modified: DateTime<Utc>) -> bool {
        match self.state.bookmark {
            Some(b) if modified < b => true,
            Some(b) if modified == b => match self.state.ids_at_bookmark.binary_search(&id) {
                Ok(_) => false,
                Err(pos) => {
                    self.state.ids_at_bookmark.insert(pos, id);
                    true
                }
            },
            _ => {
                self.state.bookmark = Some(modified);
                self.state.ids_at_bookmark.clear();
                self.state.ids_at_bookmark.push(id);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
    }

    #[test]
    fn same_second_records_are_neither_skipped_nor_doubled() {
        let mut c = KeysetCursor::new(StreamState::default());
        assert!(c.observe(1, t(0)));
        assert!(c.observe(2, t(1)));
        assert!(c.observe(3, t(1)));
        // Next run re-reads from t(1) inclusive, and a new record 4 arrived at t(1).
        let mut next = KeysetCursor::new(c.state().clone());
        assert!(!next.observe(2, t(1)));
        assert!(!next.observe(3, t(1)));
        assert!(next.observe(4, t(1)));
        assert!(next.observe(5, t(2)));
        assert_eq!(next.state().ids_at_bookmark, vec![5]);
    }

    proptest! {
        /// Any split of an ascending record sequence into runs (each run re-reading from the
        /// previous bookmark inclusively) yields every record exactly once.
        #[test]
        fn runs_yield_each_record_once(
            secs in proptest::collection::vec(0i64..20, 1..80),
            cuts in proptest::collection::vec(0usize..80, 0..6),
        ) {
            let mut secs = secs;
            secs.sort_unstable();
            let records: Vec<(i64, DateTime<Utc>)> = secs.iter().enumerate().map(|(i, s)| (i as i64, t(*s))).collect();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (records.len() + 1)).collect();
            cuts.sort_unstable();
            cuts.push(records.len());
            let mut state = StreamState::default();
            let mut emitted = Vec::new();
            for end in cuts {
                let mut c = KeysetCursor::new(state.clone());
                // The API returns everything with modified >= bookmark, up to `end` (a crash).
                for (id, m) in records.iter().take(end).filter(|(_, m)| state.bookmark.is_none_or(|b| *m >= b)) {
                    if c.observe(*id, *m) {
                        emitted.push(*id);
                    }
                }
                state = c.state().clone();
            }
            // Final complete run.
            let mut c = KeysetCursor::new(state.clone());
            for (id, m) in records.iter().filter(|(_, m)| state.bookmark.is_none_or(|b| *m >= b)) {
                if c.observe(*id, *m) {
                    emitted.push(*id);
                }
            }
            let mut sorted = emitted.clone();
            sorted.sort_unstable();
            sorted.dedup();
            prop_assert_eq!(sorted.len(), emitted.len(), "a record was emitted twice");
            prop_assert_eq!(sorted.len(), records.len(), "a record was skipped");
        }
    }
}
