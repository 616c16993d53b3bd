//! A pass-through HTTP proxy in front of the sandbox that leaves chosen ids out of list
//! responses: what a listing looks like when the API hides a live record (the default
//! V2 order list and status 0 orders, docs/api-notes.md §6.2) or when offset paging skips
//! one because a deletion shifted the pages under it. Reads by ids (`id:in=`) and by
//! path id are passed through untouched: they are the direct reads that settle it.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::response::Response;
use bc_sandbox::RunningSandbox;
use serde_json::Value;

struct Hidden {
    upstream: String,
    /// `(list path suffix, id)`: e.g. `("/v2/orders", 12)`.
    hide: HashSet<(String, i64)>,
    http: reqwest::Client,
}

fn keep(hide: &HashSet<(String, i64)>, suffix: &str, item: &Value) -> bool {
    item.get("id")
        .and_then(Value::as_i64)
        .is_none_or(|id| !hide.contains(&(suffix.to_owned(), id)))
}

async fn forward(State(h): State<Arc<Hidden>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body: Bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let url = format!("{}{}", h.upstream, parts.uri);
    let mut out = h.http.request(parts.method.clone(), url).body(body);
    for (k, v) in &parts.headers {
        if k != "host" && k != "content-length" && k != "accept-encoding" {
            out = out.header(k, v);
        }
    }
    let resp = out.send().await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let mut bytes = resp.bytes().await.unwrap().to_vec();
    let path = parts.uri.path();
    let suffix = h
        .hide
        .iter()
        .map(|(s, _)| s.as_str())
        .find(|s| path.ends_with(s))
        .map(str::to_owned);
    // A read by ids (`id:in=`) is a direct read: it sees the record.
    let query = parts.uri.query().unwrap_or_default();
    let by_ids = query.contains("id:in") || query.contains("id%3Ain") || query.contains("id%3AIn");
    if let (Some(suffix), true) = (suffix, parts.method == axum::http::Method::GET && !by_ids)
        && let Ok(mut v) = serde_json::from_slice::<Value>(&bytes)
    {
        if let Some(items) = v.as_array_mut() {
            items.retain(|i| keep(&h.hide, &suffix, i));
        } else if let Some(items) = v.get_mut("data").and_then(Value::as_array_mut) {
            items.retain(|i| keep(&h.hide, &suffix, i));
        }
        bytes = serde_json::to_vec(&v).unwrap();
    }
    let mut builder = Response::builder().status(status);
    for (k, v) in &headers {
        if k != "content-length" && k != "transfer-encoding" && k != "content-encoding" {
            builder = builder.header(k, v);
        }
    }
    builder.body(Body::from(bytes)).unwrap()
}

/// Starts the proxy; returns its base URL (use it in place of `sb.base_url()`).
pub async fn start(sb: &RunningSandbox, hide: &[(&str, i64)]) -> String {
    let state = Arc::new(Hidden {
        upstream: sb.base_url(),
        hide: hide.iter().map(|(s, id)| ((*s).to_owned(), *id)).collect(),
        http: reqwest::Client::new(),
    });
    let app = axum::Router::new().fallback(forward).with_state(state);
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// A client for the sandbox that goes through the proxy at `base`.
pub fn client(sb: &RunningSandbox, base: &str) -> bigcommerce::Client {
    let mut cfg = bigcommerce::ClientConfig::new(
        sb.store_hash().to_owned(),
        secrecy::SecretString::from(sb.token().to_owned()),
    )
    .with_base_url(base.to_owned());
    cfg.retry_base_delay = std::time::Duration::from_millis(5);
    cfg.retry_max_delay = std::time::Duration::from_millis(200);
    cfg.timeout = std::time::Duration::from_secs(5);
    bigcommerce::Client::new(cfg).unwrap()
}
