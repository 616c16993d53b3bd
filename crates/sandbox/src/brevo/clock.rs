//! The emulator's clock: real time plus whatever the admin API advanced it by. Processes
//! (imports, order batches), the e-commerce activation and the rate windows all read it,
//! so `POST /_brevo/clock/advance` finishes an import or empties a rate window at once
//! instead of a test sleeping.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use parking_lot::Mutex;

#[derive(Debug)]
pub struct Clock {
    started: Instant,
    started_wall: DateTime<Utc>,
    advanced: Mutex<Duration>,
}

impl Default for Clock {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            started_wall: Utc::now(),
            advanced: Mutex::new(Duration::ZERO),
        }
    }
}

impl Clock {
    /// Time since the emulator started, advances included.
    pub fn now(&self) -> Duration {
        self.started.elapsed() + *self.advanced.lock()
    }

    /// Wall-clock time of an emulator instant.
    pub fn wall(&self, at: Duration) -> DateTime<Utc> {
        self.started_wall + chrono::Duration::from_std(at).unwrap_or(chrono::Duration::zero())
    }

    pub fn wall_now(&self) -> DateTime<Utc> {
        self.wall(self.now())
    }

    pub fn advance(&self, by: Duration) {
        *self.advanced.lock() += by;
    }

    pub fn advanced(&self) -> Duration {
        *self.advanced.lock()
    }
}

/// `2026-01-02T03:04:05.678Z`, the form Brevo documents for responses
/// (docs/brevo-api-notes.md §0.6).
pub fn format_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}
