//! bcsync: moves data between BigCommerce stores and the databases their owners run.
//!
//! - [`streams`]: the stream descriptor table (what to extract and how).
//! - [`extract`]: the engine that reads streams through the API client.
//! - [`destinations`]: where records go (SQLite, Singer, JSON lines).
//! - [`listen`]: `bcsync listen`, webhooks applied through the same destinations.
//! - [`state`]: bookmarks that make runs incremental and resumable.
//! - [`config`]: `bcsync.toml` and environment variables.
//! - [`tools`]: one operation per resource command, MCP tool and raw request.
//! - [`mcp`]: `bcsync mcp`, the operations as MCP tools for AI agents.
//! - [`pg`]: PostgreSQL connections (URL, TLS, errors) shared by every PostgreSQL part.
//! - [`ui`]: `bcsync ui`, the local web dashboard over the same stores.
//! - [`alerts`]: `[[alert]]`: incidents from run records, sent to Slack, PagerDuty, e-mail or a webhook.

pub mod alerts;
pub mod config;
pub mod destinations;
pub mod error;
pub mod extract;
pub mod fleet;
pub mod listen;
pub mod marketing;
pub mod mcp;
pub mod models;
pub mod pg;
pub mod push;
pub mod sources;
pub mod state;
pub mod streams;
pub mod tools;
pub mod ui;

pub use error::{Error, Result};
