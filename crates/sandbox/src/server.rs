//! The HTTP server: routes of every resource family nested under `/stores/{hash}`, the
//! admin API under `/_sandbox`, and the middleware stack in the order a real store applies
//! it: request log (outermost, so 401s and 429s are counted), store hash (404), token
//! (401), OAuth scope (403), rate limit and concurrency caps (429), injected faults, then
//! the handler.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::config::SandboxConfig;
use crate::error::{ApiError, ApiVersion};
use crate::resources;
use crate::state::{AppState, Shared};

/// Builds the full router for a state (used by [`start`] and by in-process benches).
pub fn router(state: Shared) -> Router {
    let api = resources::routes()
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::faults::middleware,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::ratelimit::middleware,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), auth));
    Router::new()
        .nest("/stores/{store_hash}", api)
        .merge(crate::admin::routes())
        .fallback(unknown_route)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::admin::log_middleware,
        ))
        .with_state(state)
}

async fn unknown_route(req: Request) -> Response {
    ApiError::not_found(ApiVersion::of_path(req.uri().path())).into_response()
}

async fn method_not_allowed(req: Request) -> Response {
    ApiError::method_not_allowed(ApiVersion::of_path(req.uri().path())).into_response()
}

/// The OAuth scope family a path needs (docs/api-notes.md §0.1), `None` for paths any token may use
/// (webhooks need no special scope).
pub fn required_scope(path: &str) -> Option<&'static str> {
    // path is the part after /stores/{hash}, e.g. /v3/customers or /v2/orders/5/products
    let mut segs = path.split('/').filter(|s| !s.is_empty());
    let _version = segs.next()?;
    let first = segs.next()?;
    let rest: Vec<&str> = segs.collect();
    match first {
        "customers" | "customer_groups" => Some("store_v2_customers"),
        "orders"
            if rest
                .iter()
                .any(|s| *s == "transactions" || *s == "payment_actions") =>
        {
            Some("store_v2_transactions")
        }
        "orders" | "order_statuses" => Some("store_v2_orders"),
        "catalog" => Some("store_v2_products"),
        "coupons" | "promotions" => Some("store_v2_marketing"),
        "store" | "time" => Some("store_v2_information"),
        "channels" => Some("store_channel_settings"),
        "carts" => Some("store_cart"),
        "inventory" => Some("store_inventory"),
        "content" => Some("store_v2_content"),
        _ => None,
    }
}

/// Store hash (404), token (401) and scope (403) checks.
async fn auth(State(st): State<Shared>, req: Request, next: Next) -> Response {
    // axum strips the `/stores/{store_hash}` nest prefix before inner layers run, so the
    // hash is only in the original URI.
    let full = req
        .extensions()
        .get::<axum::extract::OriginalUri>()
        .map_or_else(|| req.uri().path().to_owned(), |o| o.0.path().to_owned());
    let v = ApiVersion::of_path(&full);
    let rest = full.strip_prefix("/stores/").unwrap_or("");
    let (hash, sub) = rest.split_once('/').unwrap_or((rest, ""));
    if hash != st.config.store_hash {
        return ApiError::not_found(v).into_response();
    }
    let token = req
        .headers()
        .get("x-auth-token")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let Some(account) = st.config.tokens.iter().find(|t| t.token == token) else {
        return ApiError::unauthorized(v).into_response();
    };
    let write = !matches!(
        *req.method(),
        axum::http::Method::GET | axum::http::Method::HEAD
    );
    if let Some(scope) = required_scope(&format!("/{sub}"))
        && !account.allows(scope, write)
    {
        return ApiError::forbidden(v).into_response();
    }
    let mut req = req;
    req.extensions_mut()
        .insert(ClientId(account.client_id.clone()));
    next.run(req).await
}

/// The calling API account's client id (hooks are filtered by it), set by the auth layer.
#[derive(Debug, Clone)]
pub struct ClientId(pub String);

/// A sandbox running on a real socket.
#[derive(Debug)]
pub struct RunningSandbox {
    pub addr: SocketAddr,
    pub state: Shared,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    /// The webhook delivery task; aborted when the sandbox stops.
    delivery: Option<tokio::task::JoinHandle<()>>,
}

impl RunningSandbox {
    /// `http://127.0.0.1:PORT`: what a client takes as its base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/stores/{hash}`.
    pub fn store_url(&self) -> String {
        format!(
            "{}/stores/{}",
            self.base_url(),
            self.state.config.store_hash
        )
    }

    pub fn store_hash(&self) -> &str {
        &self.state.config.store_hash
    }

    /// The first configured token (full scopes unless configured otherwise).
    pub fn token(&self) -> &str {
        self.state
            .config
            .tokens
            .first()
            .map(|t| t.token.as_str())
            .unwrap_or("")
    }

    /// Stops accepting connections and the simulator, and waits for the server task.
    pub async fn stop(mut self) {
        self.state.simulator.stop();
        if let Some(d) = self.delivery.take() {
            d.abort();
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningSandbox {
    fn drop(&mut self) {
        // The simulator holds the store while it runs; a dropped sandbox ends it.
        self.state.simulator.stop();
        if let Some(d) = self.delivery.take() {
            d.abort();
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Seeds a store and serves it on `addr` (port 0 picks a free port).
pub async fn start(config: SandboxConfig, addr: SocketAddr) -> std::io::Result<RunningSandbox> {
    let state = AppState::new(config);
    start_with_state(state, addr).await
}

/// Serves `app` on `listener` in a task until the returned sender fires (or is dropped):
/// the one way every sandbox server (one store, a fleet, Brevo) runs.
pub(crate) fn serve(
    listener: TcpListener,
    app: Router,
) -> (oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app.into_make_service())
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    (tx, task)
}

/// Serves an existing state (e.g. after mutating it directly in a test).
pub async fn start_with_state(state: Shared, addr: SocketAddr) -> std::io::Result<RunningSandbox> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let app = router(Arc::clone(&state));
    // Abandonment and expiry of carts run on their own clock (docs/api-notes.md §8).
    tokio::spawn(resources::carts::run_sweeper(Arc::downgrade(&state)));
    if let Some(spec) = state.config.simulate.clone() {
        crate::simulator::start(&state, spec).map_err(std::io::Error::other)?;
    }
    let (tx, task) = serve(listener, app);
    let delivery = tokio::spawn(crate::delivery::run(Arc::clone(&state)));
    Ok(RunningSandbox {
        addr,
        state,
        shutdown: Some(tx),
        task: Some(task),
        delivery: Some(delivery),
    })
}
