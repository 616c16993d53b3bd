//! `bcsync mcp`: serves the store's operations as MCP tools, on stdio (the default, for a
//! client that starts the process) or streamable HTTP (`--http ADDR`, bearer token
//! required).

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use bcsync::mcp::http::{HttpServer, MCP_PATH, generate_token};
use bcsync::mcp::runlog::RunLog;
use bcsync::mcp::shape::DEFAULT_MAX_RESULT_BYTES;
use bcsync::mcp::{ENV_MCP_TOKEN, McpOptions, McpServer};
use bcsync::state::push::open_push_store;
use clap::Args;
use secrecy::{ExposeSecret, SecretString};

use super::StoreArgs;
use super::push::state_spec;

#[derive(Debug, Args)]
pub struct McpArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Serve streamable HTTP on this address (e.g. 127.0.0.1:8765; port 0 picks one) at
    /// /mcp instead of stdio. Every request needs `Authorization: Bearer <token>`: the token
    /// is BCSYNC_MCP_TOKEN, else mcp_token in bcsync.toml, else generated and printed once
    /// on stderr.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,
    /// List and run the write tools (update-order, create/update/delete-product,
    /// create/update-customer; raw POST, PUT, DELETE). Without it the server is read-only.
    #[arg(long)]
    pub allow_writes: bool,
    /// Run log where every tool call is recorded, as `bcsync runs --state` reads it
    /// (default bcsync-push.db, else `state` in bcsync.toml).
    #[arg(long = "state", value_name = "FILE|URL")]
    pub state: Option<String>,
    /// Cap on one tool result's JSON, in bytes; longer results are cut with a note saying
    /// how to get the rest.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_RESULT_BYTES)]
    pub max_result_bytes: usize,
    /// Longest a call waits for the store's rate limit, in seconds; past it the call
    /// answers "retry after N s" instead of hanging.
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    pub rate_limit_wait: u64,
}

/// Backoff before the first retry of a call: short, since an agent is waiting.
const RETRY_BASE_DELAY: Duration = Duration::from_millis(500);

pub async fn run(config: Option<&Path>, args: McpArgs) -> anyhow::Result<ExitCode> {
    let file = bcsync::config::load(config)?;
    let conn = file.connection(
        args.store.store_hash.as_deref(),
        args.store.base_url.as_deref(),
    )?;
    if args.max_result_bytes < 1024 {
        anyhow::bail!(
            "--max-result-bytes {} is too small to hold a record; give at least 1024",
            args.max_result_bytes
        );
    }
    let patience = Duration::from_secs(args.rate_limit_wait);
    let mut cfg = conn.client_config();
    cfg.retry_base_delay = RETRY_BASE_DELAY;
    cfg.retry_max_delay = patience.max(RETRY_BASE_DELAY);
    cfg.max_retry_wait = Some(patience);
    let client = bigcommerce::Client::new(cfg).map_err(bcsync::Error::from)?;
    let spec = state_spec(args.state.as_deref(), &file);
    let store = open_push_store(&spec, &conn.store_hash)
        .with_context(|| "opening the run log that records every tool call")?;
    let run_log = RunLog::new(store, &conn.store_hash);
    let options = McpOptions {
        allow_writes: args.allow_writes,
        max_result_bytes: args.max_result_bytes,
        rate_limit_patience: patience,
    };
    let mode = if args.allow_writes {
        "writes allowed"
    } else {
        "read-only"
    };
    let server = McpServer::new(client, options, Some(run_log));
    let Some(addr) = args.http else {
        tracing::info!("serving MCP on stdio ({mode}); tool calls are recorded in {spec}");
        bcsync::mcp::serve_stdio(server).await?;
        return Ok(ExitCode::SUCCESS);
    };
    let (token, generated) = match std::env::var(ENV_MCP_TOKEN)
        .ok()
        .filter(|t| !t.trim().is_empty())
        .map(SecretString::from)
        .or_else(|| file.mcp_token.clone())
    {
        Some(t) => (t, false),
        None => (generate_token(), true),
    };
    let http = HttpServer::bind(server, addr, &token)
        .await
        .with_context(|| format!("cannot listen on {addr}; choose another --http address"))?;
    let bound = http.local_addr()?;
    eprintln!("bcsync mcp: serving MCP at http://{bound}{MCP_PATH} ({mode})");
    if generated {
        // Shown once, for the operator to put in the client's config; never logged.
        eprintln!(
            "bcsync mcp: bearer token for this run (set {ENV_MCP_TOKEN} to choose one): {}",
            token.expose_secret()
        );
    }
    let stop = tokio_util::sync::CancellationToken::new();
    let on_signal = stop.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        on_signal.cancel();
    });
    http.serve(stop)
        .await
        .context("the MCP HTTP server stopped")?;
    Ok(ExitCode::SUCCESS)
}
