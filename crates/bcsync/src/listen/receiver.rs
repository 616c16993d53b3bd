//! The HTTP receiver: `POST /webhooks` (any path under it). It does the least a delivery
//! needs before its acknowledgement, in this order, and nothing slow:
//! 1. the secret header we set on our hooks, compared in constant time: else 401;
//! 2. the body, at most [`MAX_BODY_BYTES`]: else 413 (read only after the secret passed);
//! 3. a JSON payload of the documented shape: else 400;
//! 4. `producer` naming a store this listener serves: else 401;
//! 5. the event committed to the inbox (or, for a fleet, stored by JetStream: its PubAck,
//!    see [`super::jetstream`]): then 200 with an empty body (docs/api-notes.md §9.2 asks
//!    for no body). A failed commit or publish answers 503, so the store retries later.
//!
//! A redelivery is answered 200 too: a 4xx counts as a failed delivery and would get the
//! destination blocklisted (docs/api-notes.md §9.4). The store API is never called here,
//! so the answer takes milliseconds whatever the store's quota is doing.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Notify;

use super::delivery::{Delivery, MAX_BODY_BYTES, SECRET_HEADER, secrets_match};
use super::inbox::{Accepted, Inbox};

/// Counts of what the receiver answered, for logs and `status`.
#[derive(Debug, Default)]
pub struct ReceiverCounts {
    pub accepted: AtomicU64,
    pub duplicates: AtomicU64,
    pub refused: AtomicU64,
}

/// The store hashes a receiver accepts deliveries for. Shared so a fleet's registry can
/// replace the set while receivers run.
pub type Stores = Arc<parking_lot::RwLock<HashSet<String>>>;

/// Where an accepted delivery goes before its 200.
pub enum Sink {
    /// `listen` for one store: its own inbox; `wake` is the apply loop's.
    Inbox { inbox: Inbox, wake: Arc<Notify> },
    /// `listen --nats`: the fleet's JetStream stream, read by the workers.
    JetStream(super::jetstream::Publisher),
}

/// What the receiver needs.
pub struct ReceiverState {
    pub secret: SecretString,
    /// Store hashes this listener serves.
    pub stores: Stores,
    pub sink: Sink,
    pub counts: Arc<ReceiverCounts>,
}

impl std::fmt::Debug for ReceiverState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiverState")
            .field("stores", &self.stores)
            .finish()
    }
}

/// The receiver's routes: `POST /webhooks[/...]` and `GET /health`.
pub fn router(state: Arc<ReceiverState>) -> Router {
    Router::new()
        .route("/webhooks", post(receive))
        .route("/webhooks/{*rest}", post(receive))
        .route("/health", get(|| async { "ok" }))
        .with_state(state)
}

fn refuse(state: &ReceiverState, status: StatusCode, why: &str) -> StatusCode {
    state.counts.refused.fetch_add(1, Ordering::Relaxed);
    // Never the header's value: it may be a near miss of the secret.
    tracing::warn!(
        status = status.as_u16(),
        "refused a webhook delivery: {why}"
    );
    status
}

async fn receive(State(state): State<Arc<ReceiverState>>, req: Request<Body>) -> StatusCode {
    let authentic = req
        .headers()
        .get(SECRET_HEADER)
        .is_some_and(|v| secrets_match(v.as_bytes(), state.secret.expose_secret().as_bytes()));
    if !authentic {
        return refuse(
            &state,
            StatusCode::UNAUTHORIZED,
            "missing or wrong secret header",
        );
    }
    let body = match axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return refuse(&state, StatusCode::PAYLOAD_TOO_LARGE, "body too large");
        }
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        return refuse(&state, StatusCode::BAD_REQUEST, "body is not UTF-8");
    };
    let delivery: Delivery = match serde_json::from_str(text) {
        Ok(d) => d,
        Err(_) => {
            return refuse(
                &state,
                StatusCode::BAD_REQUEST,
                "body is not a webhook payload",
            );
        }
    };
    let Some(store) = delivery
        .store_hash()
        .filter(|s| state.stores.read().contains(*s))
        .map(str::to_owned)
    else {
        return refuse(
            &state,
            StatusCode::UNAUTHORIZED,
            "producer is not a store this listener serves",
        );
    };
    if delivery.hash.is_empty() || delivery.hash.len() > 128 {
        return refuse(
            &state,
            StatusCode::BAD_REQUEST,
            "payload hash missing or malformed",
        );
    }
    let (inbox, wake) = match &state.sink {
        Sink::Inbox { inbox, wake } => (inbox, wake),
        Sink::JetStream(publisher) => {
            return match publisher.publish(&store, &delivery, body.clone()).await {
                Ok(duplicate) => {
                    let count = if duplicate {
                        &state.counts.duplicates
                    } else {
                        &state.counts.accepted
                    };
                    count.fetch_add(1, Ordering::Relaxed);
                    StatusCode::OK
                }
                Err(e) => {
                    tracing::error!("could not hand a webhook event to JetStream: {e}");
                    StatusCode::SERVICE_UNAVAILABLE
                }
            };
        }
    };
    match inbox.accept(&store, &delivery, text).await {
        Ok(Accepted::Duplicate) => {
            state.counts.duplicates.fetch_add(1, Ordering::Relaxed);
            StatusCode::OK
        }
        Ok(Accepted::New | Accepted::Refetch) => {
            state.counts.accepted.fetch_add(1, Ordering::Relaxed);
            wake.notify_one();
            StatusCode::OK
        }
        Err(e) => {
            tracing::error!("could not commit a webhook event to the inbox: {e}");
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}
