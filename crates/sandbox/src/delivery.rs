//! Webhook delivery (docs/api-notes.md §9.2, §9.4): a background task, started with the
//! server, that takes each event of the change journal ([`crate::events`]) to every active
//! hook whose scope matches, as an HTTP `POST` of the light payload with the hook's custom
//! headers.
//!
//! - The payload is built once per event, so a redelivery carries byte-for-byte the same
//!   body and the same `hash` (the SHA-1 of the JSON payload without the `hash` field).
//! - Any 2xx is a success; another status, a refused connection or a timeout is a failure,
//!   retried after 60 s, 180 s, 300 s, ... 86400 s; when the last retry fails too, the hook
//!   is deactivated (`is_active: false`).
//! - Outcomes are measured per (client id, destination domain) over a sliding 2-minute
//!   window; once 100 deliveries have gone out in it and fewer than 90% succeeded, the
//!   domain is blocked for 3 minutes and deliveries to it wait in the queue.
//! - Every duration is multiplied by the store's time scale (the rate limiter's, which
//!   `--time-scale` and `PUT /_sandbox/ratelimit` set), so tests see 48 hours of retries
//!   in seconds.
//!
//! The task never holds the data lock across an await: it takes new events and looks
//! hooks up under short locks, then sends from spawned tasks. API handlers only wake it.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::Utc;
use parking_lot::Mutex;
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha1::{Digest, Sha1};
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;

use crate::events::StoreEvent;
use crate::resources::hooks::Hook;
use crate::state::Shared;

/// Waits after the 1st, 2nd, ... failed attempt (docs/api-notes.md §9.4), in seconds.
pub const RETRY_SCHEDULE_SECS: [u64; 11] = [
    60, 180, 300, 600, 900, 1800, 3600, 7200, 21600, 50400, 86400,
];
/// The sliding window over which a domain's success ratio is measured.
pub const WINDOW_SECS: u64 = 120;
/// The ratio counts only once this many deliveries went out in the window.
pub const WINDOW_MIN_DELIVERIES: usize = 100;
/// Below this success ratio the domain is blocked.
pub const MIN_SUCCESS_RATIO: f64 = 0.9;
/// How long a blocked domain stays blocked.
pub const BLOCK_SECS: u64 = 180;
/// How long a receiver may take to answer. docs/api-notes.md §9.2 names no figure; not
/// scaled, so a slow test machine is not mistaken for a dead receiver.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Deliveries in flight at once.
const MAX_IN_FLIGHT: usize = 64;
/// Attempt records the log keeps before dropping the oldest.
pub const LOG_CAPACITY: usize = 100_000;
/// How often the task looks for events even when nobody woke it. Every journaled change
/// comes through [`crate::state::AppState::write`], which wakes the task, and every
/// queued attempt has its due time, so this is only a safety net; it is long because a
/// fleet (`--stores 200`) runs one task per store and a 20 ms tick cost them a few percent
/// of a core doing nothing.
const IDLE_TICK: Duration = Duration::from_secs(1);

/// A delivery waiting for its time.
#[derive(Debug, Clone)]
struct Attempt {
    due: Instant,
    hook_id: i64,
    event_seq: u64,
    scope: Arc<str>,
    body: Arc<Vec<u8>>,
    hash: Arc<str>,
    /// 1 for the first delivery, 2 for the first retry, ...
    number: u32,
}

/// One attempt and its outcome, for `GET /_sandbox/deliveries`.
#[derive(Debug, Clone, Serialize)]
pub struct AttemptRecord {
    pub seq: u64,
    pub event_seq: u64,
    pub hook_id: i64,
    pub scope: String,
    pub destination: String,
    pub hash: String,
    /// 1 for the first delivery, 2 for the first retry, ...
    pub attempt: u32,
    /// Wall clock when the attempt finished (or was deferred), milliseconds.
    pub at_ms: i64,
    /// `delivered`, `failed`, `deferred` (domain blocked), `dropped` (hook gone or
    /// inactive) or `deactivated` (last retry failed; the hook was switched off).
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When the next attempt is due, for failed and deferred ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_in_ms: Option<u64>,
    /// How long the receiver took to answer (sent to response headers), for attempts
    /// that were sent: what the store's timeout measures, and the benchmarks report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answered_in_ms: Option<u64>,
}

/// What the receiver answered to one attempt.
#[derive(Debug)]
struct Answer {
    status: Option<u16>,
    error: Option<String>,
    answered_in_ms: u64,
}

/// Success measurement of one (client id, domain).
#[derive(Debug, Default)]
struct DomainWindow {
    outcomes: VecDeque<(Instant, bool)>,
    blocked_until: Option<Instant>,
    failures: u64,
}

#[derive(Debug, Default)]
struct Inner {
    queue: Vec<Attempt>,
    windows: HashMap<(String, String), DomainWindow>,
    log: VecDeque<AttemptRecord>,
    last_log_seq: u64,
}

/// The delivery state shared by the task, its senders and the admin API.
#[derive(Debug)]
pub struct Delivery {
    wake: Notify,
    inner: Mutex<Inner>,
    in_flight: Arc<Semaphore>,
    /// Attempts taken off the queue and not finished yet (waiting for a permit or for the
    /// receiver's answer): a retry they schedule is queued before they stop counting.
    sending: Arc<AtomicUsize>,
    client: reqwest::Client,
}

/// Counts one attempt in [`Delivery::sending`] for as long as it lives.
struct Sending(Arc<AtomicUsize>);

impl Sending {
    fn start(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(Arc::clone(count))
    }
}

impl Drop for Sending {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Default for Delivery {
    fn default() -> Self {
        Self {
            wake: Notify::new(),
            inner: Mutex::new(Inner::default()),
            in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            sending: Arc::new(AtomicUsize::new(0)),
            client: reqwest::Client::new(),
        }
    }
}

/// A blocked domain, for the admin API.
#[derive(Debug, Clone, Serialize)]
pub struct BlockedDomain {
    pub client_id: String,
    pub domain: String,
    pub remaining_ms: u64,
    pub failures: u64,
}

impl Delivery {
    /// Tells the task that events wait (called after every committed write).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Attempt records with `seq > after`, optionally of one hook, at most `limit`.
    pub fn attempts(&self, after: u64, hook_id: Option<i64>, limit: usize) -> Vec<AttemptRecord> {
        let inner = self.inner.lock();
        let start = inner.log.partition_point(|r| r.seq <= after);
        inner
            .log
            .range(start..)
            .filter(|r| hook_id.is_none_or(|h| r.hook_id == h))
            .take(limit)
            .cloned()
            .collect()
    }

    /// Deliveries not finished (first attempts and retries waiting, and attempts being
    /// sent) and the domains blocked now.
    pub fn status(&self) -> (usize, Vec<BlockedDomain>) {
        let inner = self.inner.lock();
        let now = Instant::now();
        let blocked = inner
            .windows
            .iter()
            .filter_map(|((client_id, domain), w)| {
                let until = w.blocked_until.filter(|u| *u > now)?;
                Some(BlockedDomain {
                    client_id: client_id.clone(),
                    domain: domain.clone(),
                    remaining_ms: ms(until - now),
                    failures: w.failures,
                })
            })
            .collect();
        (
            inner.queue.len() + self.sending.load(Ordering::SeqCst),
            blocked,
        )
    }

    /// Forgets queued deliveries, windows and the log (admin reset).
    pub fn clear(&self) {
        let mut inner = self.inner.lock();
        inner.queue.clear();
        inner.windows.clear();
        inner.log.clear();
    }

    fn log(&self, inner: &mut Inner, mut r: AttemptRecord) {
        inner.last_log_seq += 1;
        r.seq = inner.last_log_seq;
        if inner.log.len() >= LOG_CAPACITY {
            inner.log.pop_front();
        }
        inner.log.push_back(r);
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn scaled(secs: u64, scale: f64) -> Duration {
    Duration::from_secs_f64((secs as f64 * scale).max(0.0005))
}

/// The JSON body of a delivery and its `hash` (docs/api-notes.md §9.2): the hash is the
/// SHA-1 of the payload encoded without the `hash` field; the body has it between `data`
/// and `created_at`.
pub fn payload(store_id: i64, store_hash: &str, e: &StoreEvent) -> (Vec<u8>, String) {
    let mut m = Map::new();
    m.insert("scope".into(), json!(e.scope));
    m.insert("store_id".into(), json!(store_id.to_string()));
    m.insert("data".into(), e.data.clone());
    m.insert("created_at".into(), json!(e.at.timestamp()));
    m.insert("producer".into(), json!(format!("stores/{store_hash}")));
    let unsigned = serde_json::to_vec(&Value::Object(m.clone())).unwrap_or_default();
    let hash = hex::encode(Sha1::digest(&unsigned));
    let mut body = Map::new();
    for (k, v) in m {
        if k == "created_at" {
            body.insert("hash".into(), json!(hash));
        }
        body.insert(k, v);
    }
    (
        serde_json::to_vec(&Value::Object(body)).unwrap_or_default(),
        hash,
    )
}

/// The host a destination URL names (the blocklist's "domain").
fn domain_of(destination: &str) -> String {
    destination
        .parse::<http::Uri>()
        .ok()
        .and_then(|u| u.host().map(str::to_ascii_lowercase))
        .unwrap_or_default()
}

/// The delivery task: runs until aborted (the server aborts it when it stops).
pub async fn run(st: Shared) {
    loop {
        enqueue_new_events(&st);
        let next_due = start_due(&st);
        let sleep = next_due
            .map_or(IDLE_TICK, |due| {
                due.saturating_duration_since(Instant::now())
            })
            .min(IDLE_TICK);
        tokio::select! {
            () = st.delivery.wake.notified() => {}
            () = tokio::time::sleep(sleep) => {}
        }
    }
}

/// Moves new journal events into the queue, one attempt per matching active hook.
fn enqueue_new_events(st: &Shared) {
    if !st.data.read().events.has_pending() {
        return;
    }
    let (store_id, fresh) = {
        let mut data = st.data.write();
        let events = data.events.drain();
        let fresh: Vec<(StoreEvent, Vec<i64>)> = events
            .into_iter()
            .map(|e| {
                let hooks = data
                    .hooks
                    .active_for(&e.scope)
                    .iter()
                    .map(|h| h.id)
                    .collect();
                (e, hooks)
            })
            .filter(|(_, hooks): &(StoreEvent, Vec<i64>)| !hooks.is_empty())
            .collect();
        (data.store.store_id, fresh)
    };
    if fresh.is_empty() {
        return;
    }
    let now = Instant::now();
    let mut inner = st.delivery.inner.lock();
    for (event, hooks) in fresh {
        let (body, hash) = payload(store_id, &st.config.store_hash, &event);
        let (body, hash, scope) = (
            Arc::new(body),
            Arc::<str>::from(hash),
            Arc::<str>::from(event.scope),
        );
        for hook_id in hooks {
            inner.queue.push(Attempt {
                due: now,
                hook_id,
                event_seq: event.seq,
                scope: Arc::clone(&scope),
                body: Arc::clone(&body),
                hash: Arc::clone(&hash),
                number: 1,
            });
        }
    }
}

/// Starts every attempt that is due; returns when the next one falls due.
fn start_due(st: &Shared) -> Option<Instant> {
    let now = Instant::now();
    let due: Vec<Attempt> = {
        let mut inner = st.delivery.inner.lock();
        if inner.queue.is_empty() {
            return None;
        }
        let (due, later): (Vec<Attempt>, Vec<Attempt>) = std::mem::take(&mut inner.queue)
            .into_iter()
            .partition(|a| a.due <= now);
        inner.queue = later;
        due
    };
    if !due.is_empty() {
        let hooks: HashMap<i64, Hook> = {
            let data = st.data.read();
            due.iter()
                .filter_map(|a| data.hooks.get(a.hook_id).map(|h| (a.hook_id, h.clone())))
                .collect()
        };
        let scale = st.limiter.settings().time_scale;
        for a in due {
            let hook = hooks.get(&a.hook_id).cloned();
            dispatch(st, a, hook, now, scale);
        }
    }
    let inner = st.delivery.inner.lock();
    inner.queue.iter().map(|a| a.due).min()
}

/// Sends one attempt, or defers it (domain blocked) or drops it (hook gone or inactive).
fn dispatch(st: &Shared, a: Attempt, hook: Option<Hook>, now: Instant, scale: f64) {
    let record = |a: &Attempt, destination: &str, outcome, retry_in_ms| AttemptRecord {
        seq: 0,
        event_seq: a.event_seq,
        hook_id: a.hook_id,
        scope: a.scope.to_string(),
        destination: destination.to_owned(),
        hash: a.hash.to_string(),
        attempt: a.number,
        at_ms: Utc::now().timestamp_millis(),
        outcome,
        status: None,
        error: None,
        retry_in_ms,
        answered_in_ms: None,
    };
    let Some(hook) = hook.filter(|h| h.is_active) else {
        let mut inner = st.delivery.inner.lock();
        let r = record(&a, "", "dropped", None);
        st.delivery.log(&mut inner, r);
        return;
    };
    let key = (hook.client_id.clone(), domain_of(&hook.destination));
    {
        let mut inner = st.delivery.inner.lock();
        let blocked_until = inner
            .windows
            .get(&key)
            .and_then(|w| w.blocked_until)
            .filter(|u| *u > now);
        if let Some(until) = blocked_until {
            // Events that arrive during a block wait in the retry queue (docs/api-notes.md
            // §9.4); the wait does not count as an attempt.
            let r = record(&a, &hook.destination, "deferred", Some(ms(until - now)));
            st.delivery.log(&mut inner, r);
            inner.queue.push(Attempt { due: until, ..a });
            return;
        }
    }
    let st = Arc::clone(st);
    let sending = Sending::start(&st.delivery.sending);
    tokio::spawn(async move {
        let _sending = sending;
        let Ok(_permit) = Arc::clone(&st.delivery.in_flight).acquire_owned().await else {
            return;
        };
        let mut req = st
            .delivery
            .client
            .post(&hook.destination)
            .timeout(REQUEST_TIMEOUT)
            .header(http::header::CONTENT_TYPE, "application/json");
        for (name, value) in hook.headers.iter().flatten() {
            req = req.header(name.as_str(), value.as_str());
        }
        let sent = Instant::now();
        let result = req.body(a.body.as_ref().clone()).send().await;
        let answered_in_ms = ms(sent.elapsed());
        let (status, error) = match result {
            Ok(resp) => (Some(resp.status().as_u16()), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let answer = Answer {
            status,
            error,
            answered_in_ms,
        };
        finish(&st, a, &hook, key, answer, scale);
    });
}

/// Records an outcome: the domain window, the log, and a retry, a block or a
/// deactivation when it failed.
fn finish(st: &Shared, a: Attempt, hook: &Hook, key: (String, String), answer: Answer, scale: f64) {
    let Answer {
        status,
        error,
        answered_in_ms,
    } = answer;
    let ok = status.is_some_and(|s| (200..300).contains(&s));
    let now = Instant::now();
    let retry_wait = if ok {
        None
    } else {
        RETRY_SCHEDULE_SECS
            .get(
                usize::try_from(a.number)
                    .unwrap_or(usize::MAX)
                    .saturating_sub(1),
            )
            .map(|secs| scaled(*secs, scale))
    };
    let deactivate = !ok && retry_wait.is_none();
    {
        let mut inner = st.delivery.inner.lock();
        let w = inner.windows.entry(key).or_default();
        let window = scaled(WINDOW_SECS, scale);
        while w
            .outcomes
            .front()
            .is_some_and(|(t, _)| now.saturating_duration_since(*t) > window)
        {
            w.outcomes.pop_front();
        }
        w.outcomes.push_back((now, ok));
        if !ok {
            w.failures += 1;
        }
        let total = w.outcomes.len();
        let good = w.outcomes.iter().filter(|(_, ok)| *ok).count();
        if total >= WINDOW_MIN_DELIVERIES
            && (good as f64) < MIN_SUCCESS_RATIO * total as f64
            && w.blocked_until.is_none_or(|u| u <= now)
        {
            w.blocked_until = Some(now + scaled(BLOCK_SECS, scale));
            tracing::warn!(
                destination = %hook.destination,
                "webhook domain blocked: {good} of {total} deliveries succeeded in the window"
            );
        }
        let outcome = match (ok, deactivate) {
            (true, _) => "delivered",
            (false, true) => "deactivated",
            (false, false) => "failed",
        };
        let r = AttemptRecord {
            seq: 0,
            event_seq: a.event_seq,
            hook_id: a.hook_id,
            scope: a.scope.to_string(),
            destination: hook.destination.clone(),
            hash: a.hash.to_string(),
            attempt: a.number,
            at_ms: Utc::now().timestamp_millis(),
            outcome,
            status,
            error,
            retry_in_ms: retry_wait.map(ms),
            answered_in_ms: Some(answered_in_ms),
        };
        st.delivery.log(&mut inner, r);
        if let Some(wait) = retry_wait {
            inner.queue.push(Attempt {
                due: now + wait,
                number: a.number + 1,
                ..a
            });
        }
    }
    if deactivate {
        tracing::warn!(
            hook_id = hook.id,
            "webhook deactivated: every retry failed (docs/api-notes.md §9.4)"
        );
        let _ = st.write(|tx| {
            let now = tx.now;
            tx.data.hooks.deactivate(hook.id, now);
            Ok(())
        });
    }
    st.delivery.wake();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_the_sha1_of_the_payload_without_it() {
        let e = StoreEvent {
            seq: 1,
            scope: "store/order/created".into(),
            data: json!({"type": "order", "id": 250}),
            at: crate::dates::now(),
            at_ms: 0,
        };
        let (body, hash) = payload(1_025_646, "abc", &e);
        let mut v: Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(v["hash"], json!(hash));
        assert_eq!(v["store_id"], json!("1025646"));
        assert_eq!(v["producer"], json!("stores/abc"));
        let m = v.as_object_mut().expect("object");
        m.shift_remove("hash");
        let unsigned = serde_json::to_vec(&v).expect("encode");
        assert_eq!(hex::encode(Sha1::digest(&unsigned)), hash);
        assert_eq!(hash.len(), 40);
        assert_eq!(
            payload(1_025_646, "abc", &e).1,
            hash,
            "same event, same hash"
        );
    }

    #[test]
    fn the_schedule_spans_about_48_hours() {
        let total: u64 = RETRY_SCHEDULE_SECS.iter().sum();
        assert!((47 * 3600..49 * 3600).contains(&total));
    }
}
