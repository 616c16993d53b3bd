//! In-process API calls: the simulator and checkout send requests through the very
//! handlers the HTTP API uses (so they validate, write and record changes the same way),
//! without the network, auth, rate limits, faults or the request log, which belong to
//! outside callers.

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::Value;
use tower::ServiceExt as _;

use crate::state::Shared;

/// The store's API routes bound to `st`, as [`call_router`] takes them. Build it once for
/// a burst of calls.
pub fn api_router(st: &Shared) -> Router {
    Router::new()
        .nest("/stores/{store_hash}", crate::resources::routes())
        .with_state(st.clone())
}

/// Sends one request to `path` (store-relative, e.g. `/v2/orders`) and returns the status
/// and the JSON body (`Null` when empty or not JSON).
pub async fn call(
    st: &Shared,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    call_router(&api_router(st), &st.config.store_hash, method, path, body).await
}

/// [`call`] through a router built by [`api_router`].
pub async fn call_router(
    router: &Router,
    store_hash: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let uri = format!("/stores/{store_hash}{path}");
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, "sandbox.internal");
    let body = match body {
        Some(v) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    let Ok(req) = req.body(body) else {
        return (StatusCode::BAD_REQUEST, Value::Null);
    };
    let Ok(resp) = router.clone().oneshot(req).await;
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, value)
}
