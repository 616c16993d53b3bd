//! A scripted HTTP responder for the client's integration tests: it answers each request
//! with whatever the test's script returns for it (status, headers, body) and records
//! every request, so tests count requests and read what went over the wire.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use brevo::{Bucket, BucketLimits, ClientConfig, SecretString};
use parking_lot::Mutex;
use serde_json::Value;
use tokio::net::TcpListener;

pub const KEY: &str = "xkeysib-test-key-must-never-leak";

/// A configuration for the responder: fast retries, short timeouts, no local allowance
/// (tests that exercise pacing set their own).
pub fn config(base_url: &str) -> ClientConfig {
    let mut cfg = ClientConfig {
        max_retries: 3,
        retry_base_delay: Duration::from_millis(5),
        retry_max_delay: Duration::from_millis(40),
        timeout: Duration::from_secs(10),
        process_poll: Duration::from_millis(5),
        process_poll_max: Duration::from_millis(20),
        ..ClientConfig::new(SecretString::from(KEY)).with_base_url(base_url)
    };
    for b in Bucket::ALL {
        cfg.starting_limits.insert(b, BucketLimits::UNLIMITED);
    }
    cfg
}

/// One request as the responder saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Without the `/v3` prefix: `/contacts/a%40b.c`.
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// Every value of one query key, still percent-encoded.
    pub fn params(&self, key: &str) -> Vec<String> {
        self.query
            .split('&')
            .filter_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                (k == key).then(|| v.to_owned())
            })
            .collect()
    }
    pub fn param(&self, key: &str) -> Option<String> {
        self.params(key).into_iter().next()
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// The responder's answer to one request.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: serde_json::to_vec(&body).unwrap(),
        }
    }
    pub fn empty(status: u16) -> Self {
        Self {
            status,
            headers: vec![],
            body: vec![],
        }
    }
    pub fn error(status: u16, code: &str, message: &str) -> Self {
        Self::json(
            status,
            serde_json::json!({"code": code, "message": message}),
        )
    }
    pub fn header(mut self, k: &str, v: impl ToString) -> Self {
        self.headers.push((k.to_owned(), v.to_string()));
        self
    }
    /// The three rate-limit headers.
    pub fn rate(self, limit: u32, remaining: u32, reset_s: u64) -> Self {
        self.header("x-sib-ratelimit-limit", limit)
            .header("x-sib-ratelimit-remaining", remaining)
            .header("x-sib-ratelimit-reset", reset_s)
    }
}

type Script = dyn Fn(&Seen, usize) -> Reply + Send + Sync;

struct ResponderState {
    script: Box<Script>,
    seen: Mutex<Vec<Seen>>,
}

/// Answers every request by a script `(request, index from 0) -> Reply`.
pub struct Responder {
    pub addr: SocketAddr,
    state: Arc<ResponderState>,
}

impl Responder {
    pub async fn start(script: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> Self {
        let state = Arc::new(ResponderState {
            script: Box::new(script),
            seen: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&state));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, state }
    }

    /// The API root, as a client is configured with it.
    pub fn base_url(&self) -> String {
        format!("http://{}/v3", self.addr)
    }
    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().clone()
    }
    pub fn count(&self) -> usize {
        self.state.seen.lock().len()
    }
}

async fn handle(State(st): State<Arc<ResponderState>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap()
        .to_vec();
    let path = parts.uri.path();
    let seen = Seen {
        method: parts.method.to_string(),
        path: path.strip_prefix("/v3").unwrap_or(path).to_owned(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        headers: parts.headers.clone(),
        body,
    };
    // Index and record under one lock so concurrent requests get distinct indexes.
    let reply = {
        let mut log = st.seen.lock();
        let index = log.len();
        log.push(seen.clone());
        (st.script)(&seen, index)
    };
    let mut builder = Response::builder().status(StatusCode::from_u16(reply.status).unwrap());
    for (k, v) in &reply.headers {
        builder = builder.header(k, v);
    }
    builder.body(Body::from(reply.body)).unwrap()
}
