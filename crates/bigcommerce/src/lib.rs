//! `bigcommerce`: the only code in bcsync that talks to the BigCommerce REST Management
//! API. It knows nothing of databases.
//!
//! - [`Client`]: auth headers, one shared [`pacing`] pacer steered by the store's
//!   rate-limit headers, a concurrency cap, retries decided by [`retry::decide`], typed
//!   [`Error`]s, and an optional [`RequestObserver`] (which sees headers and bodies only
//!   with [`capture`] turned on, redacted there).
//! - [`pagination`]: V3 offset, V3 cursor and V2 paging rules, and lazy page streams.
//! - [`dates`]: the V2 (RFC 2822) and V3 (ISO 8601) date formats.
//! - [`limits`]: page and batch size limits.
//!
//! Built from `docs/api-notes.md`, never from what the sandbox happens to do.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod batch;
pub mod capture;
pub mod client;
pub mod dates;
pub mod error;
pub mod limits;
pub mod observer;
pub mod pacing;
pub mod pagination;
pub mod request;
pub mod retry;
pub mod scopes;

pub use capture::{CaptureOptions, Captured, CapturedBody};
pub use client::{Client, ClientConfig, ClientStats, RateLimitSnapshot};
pub use error::{Error, ErrorBody, Result, TransportKind, V2ErrorItem, V3Error};
pub use observer::{Observers, RequestEvent, RequestObserver};
pub use pagination::{DeferredPage, Page, PageMeta};
pub use request::{ApiRequest, ApiResponse, ApiVersion, Target, parse_target};

/// Re-exported so callers can name a method for [`ApiRequest::with_method`] without
/// depending on reqwest.
pub use reqwest::Method;

/// Re-exported so callers can build an access token without naming `secrecy` themselves.
pub use secrecy::SecretString;
