//! The store's change journal: every write that a webhook scope covers records one
//! [`StoreEvent`] here (docs/api-notes.md §9.2 for the `data` shapes, §9.3 for the scopes).
//! Delivery to hooks reads from this journal; writers never talk to hooks themselves, so a
//! new resource only has to say what changed.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// One change, as a webhook would describe it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreEvent {
    /// Monotonic sequence number within this store (1, 2, ...).
    pub seq: u64,
    /// The exact scope, e.g. `store/order/created` (never a wildcard).
    pub scope: String,
    /// The payload's `data` object, e.g. `{"type": "order", "id": 250}`.
    pub data: Value,
    pub at: DateTime<Utc>,
}

/// Events recorded since the last [`EventsData::drain`].
#[derive(Debug, Default)]
pub struct EventsData {
    pending: Vec<StoreEvent>,
    last_seq: u64,
}

impl EventsData {
    /// Records that `scope` happened with payload `data`.
    pub fn emit(&mut self, scope: &str, data: Value, at: DateTime<Utc>) {
        self.last_seq += 1;
        self.pending.push(StoreEvent {
            seq: self.last_seq,
            scope: scope.to_owned(),
            data,
            at,
        });
    }

    /// Takes every event recorded so far, oldest first.
    pub fn drain(&mut self) -> Vec<StoreEvent> {
        std::mem::take(&mut self.pending)
    }

    /// How many events were ever recorded.
    pub fn recorded(&self) -> u64 {
        self.last_seq
    }
}
