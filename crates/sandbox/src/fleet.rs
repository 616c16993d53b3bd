//! Many stores behind one listener (`bcsync sandbox --stores N`), so a fleet of connectors
//! can be tested on one machine.
//!
//! Each store is a whole [`AppState`] of its own: data, tokens, rate-limit windows and
//! concurrency caps, faults, request log, hooks and their delivery task, simulator and cart
//! sweeper. Nothing is shared between stores but the socket, so what one store's client
//! does can never be seen, throttled or delivered by another. The listener only
//! dispatches:
//!
//! - `/stores/{hash}/...` goes to that store's own router (the same one [`crate::start`]
//!   serves); an unknown hash gets the 404 a real store answers, logged nowhere.
//! - `/_sandbox/stores` lists the stores; `/_sandbox/stores/{hash}/ROUTE` is admin route
//!   `/_sandbox/ROUTE` of that store (every route of [`crate::admin`]).
//! - Every other path (the old `/_sandbox/...` routes included) goes to the first store, so
//!   tools written for one store keep working against a fleet.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tower::ServiceExt as _;

use crate::config::SandboxConfig;
use crate::error::{ApiError, ApiVersion, SandboxError};
use crate::state::{AppState, Shared};

/// The stores of a fleet and each one's router, looked up by hash on every request.
struct Dispatch {
    stores: Vec<Shared>,
    routers: Vec<Router>,
    by_hash: HashMap<String, usize>,
}

/// Builds the router that dispatches to each store's own router. Store hashes must be
/// distinct (the first of two equal hashes would hide the second).
pub fn fleet_router(stores: &[Shared]) -> Router {
    let dispatch = Dispatch {
        stores: stores.to_vec(),
        routers: stores
            .iter()
            .map(|st| crate::server::router(Arc::clone(st)))
            .collect(),
        by_hash: stores
            .iter()
            .enumerate()
            .rev()
            .map(|(i, st)| (st.config.store_hash.clone(), i))
            .collect(),
    };
    Router::new()
        .fallback(dispatch_request)
        .with_state(Arc::new(dispatch))
}

async fn dispatch_request(State(d): State<Arc<Dispatch>>, req: Request) -> Response {
    let path = req.uri().path();
    if let Some(rest) = path.strip_prefix("/stores/") {
        let hash = rest.split_once('/').map_or(rest, |(h, _)| h);
        return match d.by_hash.get(hash) {
            Some(&i) => forward(&d.routers[i], req).await,
            None => ApiError::not_found(ApiVersion::of_path(path)).into_response(),
        };
    }
    if path == "/_sandbox/stores" || path == "/_sandbox/stores/" {
        return list_stores(&d);
    }
    if let Some(rest) = path.strip_prefix("/_sandbox/stores/") {
        let (hash, sub) = rest.split_once('/').unwrap_or((rest, ""));
        let Some(&i) = d.by_hash.get(hash) else {
            return admin_not_found(format!(
                "no store {hash:?} in this sandbox; GET /_sandbox/stores lists them"
            ));
        };
        let target = match req.uri().query() {
            Some(q) => format!("/_sandbox/{sub}?{q}"),
            None => format!("/_sandbox/{sub}"),
        };
        let Ok(uri) = target.parse::<Uri>() else {
            return admin_not_found(format!("{target:?} is not a path"));
        };
        let (mut parts, body) = req.into_parts();
        parts.uri = uri;
        // The outer router recorded the full URI; the store's router must see its own.
        parts.extensions.remove::<axum::extract::OriginalUri>();
        return forward(&d.routers[i], Request::from_parts(parts, body)).await;
    }
    match d.routers.first() {
        Some(r) => forward(r, req).await,
        None => ApiError::not_found(ApiVersion::of_path(path)).into_response(),
    }
}

async fn forward(router: &Router, req: Request) -> Response {
    let Ok(resp) = router.clone().oneshot(req).await;
    resp
}

/// `GET /_sandbox/stores`: hash, first token and path of every store, in order.
fn list_stores(d: &Dispatch) -> Response {
    let stores: Vec<serde_json::Value> = d
        .stores
        .iter()
        .map(|st| {
            json!({
                "store_hash": st.config.store_hash,
                "token": first_token(st),
                "path": format!("/stores/{}", st.config.store_hash),
            })
        })
        .collect();
    axum::Json(json!({ "stores": stores })).into_response()
}

fn admin_not_found(message: String) -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({ "status": 404, "error": message })),
    )
        .into_response()
}

fn first_token(st: &AppState) -> &str {
    st.config.tokens.first().map_or("", |t| t.token.as_str())
}

/// A fleet of stores running on one real socket.
#[derive(Debug)]
pub struct RunningFleetSandbox {
    pub addr: SocketAddr,
    stores: Vec<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    /// The background tasks of every store (delivery, cart sweeper); aborted on stop.
    background: Vec<tokio::task::AbortHandle>,
}

impl RunningFleetSandbox {
    /// `http://127.0.0.1:PORT`: what every store's client takes as its base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every store, in the order configured.
    pub fn stores(&self) -> &[Shared] {
        &self.stores
    }

    pub fn len(&self) -> usize {
        self.stores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.stores.is_empty()
    }

    /// Store `i`'s state (panics past the end, like slice indexing).
    pub fn state(&self, i: usize) -> &Shared {
        &self.stores[i]
    }

    /// The store with this hash.
    pub fn by_hash(&self, hash: &str) -> Option<&Shared> {
        self.stores.iter().find(|s| s.config.store_hash == hash)
    }

    pub fn store_hash(&self, i: usize) -> &str {
        &self.stores[i].config.store_hash
    }

    /// Store `i`'s first configured token.
    pub fn token(&self, i: usize) -> &str {
        first_token(&self.stores[i])
    }

    /// `http://127.0.0.1:PORT/stores/{hash}` of store `i`.
    pub fn store_url(&self, i: usize) -> String {
        format!("{}/stores/{}", self.base_url(), self.store_hash(i))
    }

    /// `http://127.0.0.1:PORT/_sandbox/stores/{hash}`: store `i`'s admin API root.
    pub fn admin_url(&self, i: usize) -> String {
        format!("{}/_sandbox/stores/{}", self.base_url(), self.store_hash(i))
    }

    /// Stops accepting connections, every simulator and background task, and waits for
    /// the server task.
    pub async fn stop(mut self) {
        self.stop_background();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    fn stop_background(&mut self) {
        for st in &self.stores {
            st.simulator.stop();
        }
        for t in self.background.drain(..) {
            t.abort();
        }
    }
}

impl Drop for RunningFleetSandbox {
    fn drop(&mut self) {
        self.stop_background();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Seeds every store and serves them all on `addr` (port 0 picks a free port).
pub async fn start_stores(
    configs: Vec<SandboxConfig>,
    addr: SocketAddr,
) -> Result<RunningFleetSandbox, SandboxError> {
    if configs.is_empty() {
        return Err(SandboxError::Empty);
    }
    let mut seen = std::collections::HashSet::new();
    for c in &configs {
        if !seen.insert(c.store_hash.as_str()) {
            return Err(SandboxError::DuplicateHash(c.store_hash.clone()));
        }
    }
    let stores: Vec<Shared> = configs.into_iter().map(AppState::new).collect();
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let app = fleet_router(&stores);
    let mut background = Vec::with_capacity(stores.len() * 2);
    for st in &stores {
        background.push(
            tokio::spawn(crate::resources::carts::run_sweeper(Arc::downgrade(st))).abort_handle(),
        );
        background.push(tokio::spawn(crate::delivery::run(Arc::clone(st))).abort_handle());
    }
    for st in &stores {
        if let Some(spec) = st.config.simulate.clone()
            && let Err(message) = crate::simulator::start(st, spec)
        {
            for t in &background {
                t.abort();
            }
            return Err(SandboxError::Simulator {
                hash: st.config.store_hash.clone(),
                message,
            });
        }
    }
    let (tx, task) = crate::server::serve(listener, app);
    Ok(RunningFleetSandbox {
        addr,
        stores,
        shutdown: Some(tx),
        task: Some(task),
        background,
    })
}
