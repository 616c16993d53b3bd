//! Records a run that has no push state of its own (an extraction) in the run store as it
//! goes: `running` with the run lock held from the start, its requests written every
//! second so the dashboard's live debugger shows them, and its end.
//!
//! The store is owned by a thread of its own: the run never waits on it, and a run store
//! that cannot be opened or written costs a warning, never the run (the run's data and
//! its resume point live in the destination, not here). It is opened with the run's first
//! request, so a run refused before it asks anything (a destination that is not ours)
//! leaves no file behind.

use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::push::{INTERRUPTED, PushStore, RequestLog, RunRecord, open_push_store};

/// How often the requests made so far are written.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// A run being recorded; [`RunRecorder::finish`] writes its end.
pub struct RunRecorder {
    /// The client's observer for this run's requests.
    pub log: Arc<RequestLog>,
    finish: mpsc::Sender<Option<RunRecord>>,
    thread: Option<JoinHandle<Option<RunRecord>>>,
}

impl RunRecorder {
    /// Starts recording the run `sync` of `store_hash` in the run store `spec`.
    pub fn start(spec: &str, store_hash: &str, sync: &str, started_at: &str) -> Option<Self> {
        let log = Arc::new(RequestLog::default());
        let (finish, finished) = mpsc::channel();
        let thread_log = Arc::clone(&log);
        let begun = Begun {
            spec: spec.to_owned(),
            store_hash: store_hash.to_owned(),
            sync: sync.to_owned(),
            started_at: started_at.to_owned(),
        };
        let thread = std::thread::Builder::new()
            .name("run-recorder".into())
            .spawn(move || record(&begun, &thread_log, &finished))
            .ok()?;
        Some(Self {
            log,
            finish,
            thread: Some(thread),
        })
    }

    /// Writes the run's end (`run`'s status, message, counts, duration; its requests and
    /// their counts come from the log) and waits until it is written. `None`: the run
    /// never began (refused before its first request), nothing is recorded. Returns the
    /// run as recorded (with its id), for the alerts.
    pub fn finish(mut self, run: Option<RunRecord>) -> Option<RunRecord> {
        let _ = self.finish.send(run);
        self.thread.take().and_then(|t| t.join().ok().flatten())
    }
}

impl Drop for RunRecorder {
    fn drop(&mut self) {
        // Dropped without `finish` (an early return): the thread sees the channel close
        // and records the run as interrupted.
        if let Some(t) = self.thread.take() {
            let (closed, _) = mpsc::channel();
            self.finish = closed;
            let _ = t.join();
        }
    }
}

/// What the recorder thread needs to open the store and begin the record.
struct Begun {
    spec: String,
    store_hash: String,
    sync: String,
    started_at: String,
}

/// Opens the run store, takes the run lock and records the run as `running`.
fn open(begun: &Begun) -> Option<(Box<dyn PushStore>, i64)> {
    let opened = open_push_store(&begun.spec, &begun.store_hash).and_then(|mut store| {
        // Held for the whole run, so the record reads `running`, not `interrupted`;
        // another run of the same kind holding it only makes this one's record read
        // `interrupted` until it ends.
        let _ = store.try_lock(&begun.sync)?;
        let id = store.start_run(&RunRecord {
            sync: begun.sync.clone(),
            started_at: begun.started_at.clone(),
            status: "running".into(),
            ..RunRecord::default()
        })?;
        Ok((store, id))
    });
    match opened {
        Ok(opened) => Some(opened),
        Err(e) => {
            tracing::warn!(
                "the run is not recorded in {} ({e}); it goes on",
                crate::pg::redact(&begun.spec)
            );
            None
        }
    }
}

/// The recorder thread: opens the store with the first request, flushes new requests
/// every [`FLUSH_EVERY`], then writes the end.
fn record(
    begun: &Begun,
    log: &RequestLog,
    finished: &mpsc::Receiver<Option<RunRecord>>,
) -> Option<RunRecord> {
    // `None` until the first request; `Some(None)` when the store could not be opened.
    let mut opened: Option<Option<(Box<dyn PushStore>, i64)>> = None;
    let mut written = 0;
    let end = loop {
        match finished.recv_timeout(FLUSH_EVERY) {
            Ok(run) => break run,
            Err(RecvTimeoutError::Timeout) => {
                let new = log.since(written);
                if new.is_empty() {
                    continue;
                }
                if let Some((store, id)) = opened.get_or_insert_with(|| open(begun)) {
                    match store.log_requests(*id, written, &new) {
                        Ok(()) => written += new.len(),
                        Err(e) => tracing::debug!("could not log the run's requests yet: {e}"),
                    }
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                break Some(RunRecord {
                    status: INTERRUPTED.into(),
                    message: Some("the run ended before it was recorded".into()),
                    ..RunRecord::default()
                });
            }
        }
    };
    let mut end = end?;
    let (store, id) = opened.get_or_insert_with(|| open(begun)).as_mut()?;
    end.id = *id;
    end.sync = begun.sync.clone();
    end.started_at = begun.started_at.clone();
    let log = log.take();
    end.count_requests(&log);
    end.request_log = log;
    if end.finished_at.is_empty() {
        end.finished_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    }
    match store.finish_run(&end) {
        Ok(()) => {
            end.request_log.clear();
            Some(end)
        }
        Err(e) => {
            tracing::warn!("could not record the end of run #{}: {e}", end.id);
            None
        }
    }
}
