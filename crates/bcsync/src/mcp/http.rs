//! The streamable HTTP transport: rmcp's service under `/mcp`, behind a bearer token. Every
//! request must carry `Authorization: Bearer <token>`; anything else is answered 401
//! before rmcp sees it. The token comes from `BCSYNC_MCP_TOKEN`, `mcp_token` in
//! bcsync.toml, or is generated at start (and printed once on stderr for the operator).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use super::server::McpServer;

/// The path the MCP endpoint is served under.
pub const MCP_PATH: &str = "/mcp";

/// JSON-RPC error code of a refused bearer token (in the range left to servers).
const UNAUTHORIZED_CODE: i64 = -32001;

/// A fresh random bearer token (256 bits, hex).
pub fn generate_token() -> SecretString {
    SecretString::from(hex::encode(rand::random::<[u8; 32]>()))
}

/// The expected token, kept as its digest: comparing digests takes the same time whatever
/// prefix of the token a guess gets right.
#[derive(Clone)]
struct Bearer(Arc<[u8; 32]>);

fn digest(token: &[u8]) -> [u8; 32] {
    Sha256::digest(token).into()
}

async fn require_bearer(State(expected): State<Bearer>, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| digest(t.trim().as_bytes()));
    if given.as_ref() == Some(&*expected.0) {
        return next.run(request).await;
    }
    let why = if given.is_none() {
        "missing bearer token"
    } else {
        "wrong bearer token"
    };
    // A JSON-RPC error body, so an MCP client shows the reason instead of a bare status.
    let mut response = (
        StatusCode::UNAUTHORIZED,
        axum::Json(serde_json::json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": {
                "code": UNAUTHORIZED_CODE,
                "message": format!(
                    "unauthorized ({why}): send `Authorization: Bearer <token>` with the token \
                     bcsync mcp was started with (BCSYNC_MCP_TOKEN, mcp_token in bcsync.toml, \
                     or the one it printed at start)"
                )
            }
        })),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// A bound listener and the app to serve on it.
pub struct HttpServer {
    listener: tokio::net::TcpListener,
    app: axum::Router,
    cancel: CancellationToken,
}

impl HttpServer {
    /// Binds `addr` (port 0 picks a free port) and builds the app.
    pub async fn bind(
        server: McpServer,
        addr: SocketAddr,
        token: &SecretString,
    ) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let bound = listener.local_addr()?;
        let cancel = CancellationToken::new();
        // rmcp refuses Host headers other than these (DNS rebinding); a server bound to a
        // specific address accepts that address too.
        let mut hosts = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ];
        if !bound.ip().is_unspecified() {
            hosts.push(bound.ip().to_string());
        }
        let config = StreamableHttpServerConfig::default()
            .with_allowed_hosts(hosts)
            .with_cancellation_token(cancel.child_token());
        let service = StreamableHttpService::new(
            move || Ok(server.clone()),
            LocalSessionManager::default().into(),
            config,
        );
        let bearer = Bearer(Arc::new(digest(token.expose_secret().as_bytes())));
        let app = axum::Router::new()
            .nest_service(MCP_PATH, service)
            .layer(axum::middleware::from_fn_with_state(bearer, require_bearer));
        Ok(Self {
            listener,
            app,
            cancel,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `stop` is cancelled.
    pub async fn serve(self, stop: CancellationToken) -> std::io::Result<()> {
        let cancel = self.cancel.clone();
        axum::serve(self.listener, self.app)
            .with_graceful_shutdown(async move {
                stop.cancelled().await;
                cancel.cancel();
            })
            .await
    }
}
