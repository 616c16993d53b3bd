//! `bcsync mcp`: the store's operations as MCP tools for AI agents, on the official Rust SDK
//! (rmcp), over stdio or streamable HTTP.
//!
//! - [`server`]: the tool table and the one path every call takes (listing rules, the
//!   rate-limit check, the run log).
//! - [`tools`]: each tool as the matching [`crate::tools`] operation, shaped for an agent.
//! - [`shape`]: `fields` selection, cursors and the size cap.
//! - [`confirm`]: single-use, argument-bound confirmation tokens for destructive calls.
//! - [`runlog`]: one run record per call.
//! - [`http`]: the streamable HTTP transport behind a bearer token.
//!
//! Safe by default: read-only unless `--allow-writes` (write tools are not even listed),
//! deletes in two calls, results capped, and a rate limit answered with the wait instead of
//! a call that hangs.

pub mod confirm;
pub mod http;
pub mod runlog;
pub mod server;
pub mod shape;
pub mod tools;

pub use server::{McpOptions, McpServer};

/// Environment variable holding the HTTP bearer token.
pub const ENV_MCP_TOKEN: &str = "BCSYNC_MCP_TOKEN";

/// Serves `server` on stdin/stdout until the client closes the stream.
pub async fn serve_stdio(server: McpServer) -> crate::Result<()> {
    use rmcp::ServiceExt;
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| crate::Error::Mcp(format!("the stdio session could not start: {e}")))?;
    running
        .waiting()
        .await
        .map_err(|e| crate::Error::Mcp(format!("the stdio session ended with an error: {e}")))?;
    Ok(())
}
