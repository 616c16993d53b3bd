//! The store's change journal: every write that a webhook scope covers records one
//! [`StoreEvent`] here (docs/api-notes.md §9.2 for the `data` shapes, §9.3 for the scopes).
//! Delivery to hooks reads from this journal; writers never talk to hooks themselves, so a
//! new resource only has to say what changed.
//!
//! Besides the events not yet handed to delivery, the journal keeps a bounded history of
//! the last [`HISTORY_CAPACITY`] events for `GET /_sandbox/events`, so tests and benchmarks
//! can compare what the store did with what a receiver got.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// Events the history keeps before dropping the oldest.
pub const HISTORY_CAPACITY: usize = 100_000;

/// One change, as a webhook would describe it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreEvent {
    /// Monotonic sequence number within this store (1, 2, ...).
    pub seq: u64,
    /// The exact scope, e.g. `store/order/created` (never a wildcard).
    pub scope: String,
    /// The payload's `data` object, e.g. `{"type": "order", "id": 250}`.
    pub data: Value,
    /// When the change was recorded (the store clock, whole seconds: the payload's
    /// `created_at`).
    pub at: DateTime<Utc>,
    /// When the change was recorded, with milliseconds (wall clock), for latency figures.
    pub at_ms: i64,
}

impl StoreEvent {
    /// The admin API's rendering.
    pub fn render(&self) -> Value {
        json!({
            "seq": self.seq,
            "scope": self.scope,
            "data": self.data,
            "created_at": self.at.timestamp(),
            "recorded_at_ms": self.at_ms,
        })
    }
}

/// Events recorded since the last [`EventsData::drain`], plus a bounded history.
#[derive(Debug, Default)]
pub struct EventsData {
    pending: Vec<StoreEvent>,
    history: VecDeque<StoreEvent>,
    last_seq: u64,
}

impl EventsData {
    /// A journal whose sequence continues after `last_seq` (a reset store keeps counting,
    /// so `?after=` polling neither repeats nor misses events).
    pub fn continuing(last_seq: u64) -> Self {
        Self {
            last_seq,
            ..Self::default()
        }
    }

    /// Records that `scope` happened with payload `data`.
    pub fn emit(&mut self, scope: &str, data: Value, at: DateTime<Utc>) {
        self.last_seq += 1;
        let event = StoreEvent {
            seq: self.last_seq,
            scope: scope.to_owned(),
            data,
            at,
            at_ms: Utc::now().timestamp_millis(),
        };
        if self.history.len() >= HISTORY_CAPACITY {
            self.history.pop_front();
        }
        self.history.push_back(event.clone());
        // Without a delivery task (a router served in-process) nothing drains the journal;
        // keep it bounded like the history.
        if self.pending.len() >= HISTORY_CAPACITY {
            self.pending.remove(0);
        }
        self.pending.push(event);
    }

    /// Takes every event recorded so far, oldest first.
    pub fn drain(&mut self) -> Vec<StoreEvent> {
        std::mem::take(&mut self.pending)
    }

    /// Whether events wait for delivery.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// How many events were ever recorded.
    pub fn recorded(&self) -> u64 {
        self.last_seq
    }

    /// Retained events with `seq > after`, at most `limit`, oldest first.
    pub fn since(&self, after: u64, limit: usize) -> Vec<&StoreEvent> {
        let start = self.history.partition_point(|e| e.seq <= after);
        self.history.range(start..).take(limit).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_follows_the_sequence() {
        let mut j = EventsData::continuing(5);
        let now = crate::dates::now();
        j.emit(
            "store/order/created",
            json!({"type": "order", "id": 1}),
            now,
        );
        j.emit(
            "store/order/updated",
            json!({"type": "order", "id": 1}),
            now,
        );
        assert_eq!(j.recorded(), 7);
        let seqs: Vec<u64> = j.since(6, 10).iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![7]);
        assert_eq!(j.drain().len(), 2);
        assert!(!j.has_pending());
        assert_eq!(j.since(0, 10).len(), 2, "draining keeps the history");
    }
}
