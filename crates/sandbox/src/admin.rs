//! The admin API under `/_sandbox/` (outside `/stores/`, no auth, not rate limited): the
//! request log (method, path, query, status, duration) that tests and benchmarks count API
//! calls with, record counts, reset, and fault settings.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use parking_lot::Mutex;
use serde::Serialize;
use serde_json::json;

use crate::state::Shared;

/// One API request as the sandbox saw it.
#[derive(Debug, Clone, Serialize)]
pub struct LogEntry {
    pub seq: u64,
    pub method: String,
    pub path: String,
    pub query: String,
    pub status: u16,
    pub duration_us: u64,
}

/// Every request under `/stores/`, in arrival order.
#[derive(Debug, Default)]
pub struct RequestLog {
    entries: Mutex<Vec<LogEntry>>,
}

impl RequestLog {
    pub fn push(&self, mut e: LogEntry) {
        let mut entries = self.entries.lock();
        e.seq = entries.len() as u64 + 1;
        entries.push(e);
    }
    pub fn clear(&self) {
        self.entries.lock().clear();
    }
    pub fn entries(&self) -> Vec<LogEntry> {
        self.entries.lock().clone()
    }
    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// How many logged requests had `status`.
    pub fn count_status(&self, status: u16) -> usize {
        self.entries.lock().iter().filter(|e| e.status == status).count()
    }
}

/// Logs every request under `/stores/` (after it is answered, so the status is known).
pub async fn log_middleware(State(st): State<Shared>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if !path.starts_with("/stores/") {
        return next.run(req).await;
    }
    let method = req.method().to_string();
    let query = req.uri().query().unwrap_or("").to_owned();
    let started = Instant::now();
    let resp = next.run(req).await;
    st.log.push(LogEntry {
        seq: 0,
        method,
        path,
        query,
        status: resp.status().as_u16(),
        duration_us: started.elapsed().as_micros() as u64,
    });
    resp
}

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/_sandbox/requests", get(list_requests).delete(clear_requests))
        .route("/_sandbox/counts", get(counts))
        .route("/_sandbox/reset", post(reset))
}

async fn list_requests(State(st): State<Shared>) -> Response {
    let entries = st.log.entries();
    Json(json!({ "total": entries.len(), "requests": entries })).into_response()
}

async fn clear_requests(State(st): State<Shared>) -> Response {
    st.log.clear();
    axum::http::StatusCode::NO_CONTENT.into_response()
}

async fn counts(State(st): State<Shared>) -> Response {
    Json(st.data.read().counts()).into_response()
}

async fn reset(State(st): State<Shared>) -> Response {
    st.reset();
    axum::http::StatusCode::NO_CONTENT.into_response()
}
