//! `brevo`: the only code in bcsync that talks to Brevo's REST API v3. It knows nothing of
//! BigCommerce or databases.
//!
//! - [`Client`]: the `api-key` header, one pacer per rate-limit [`Bucket`] steered by the
//!   `x-sib-ratelimit-*` headers ([`pacing`]), retries decided by [`retry::decide`], typed
//!   [`Error`]s, and one method per route the sync uses.
//! - [`batch`]: the one chunking rule (list membership 150, catalogue batches 100, orders
//!   1,000 and 5 MB, imports under 8 MB).
//! - [`pagination`]: the one paging rule (`limit`/`offset`, per-route maximum, stop on a
//!   short page, dedupe by id).
//!
//! Built from `docs/brevo-api-notes.md`, never from what an emulator happens to do.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod batch;
pub mod buckets;
pub mod client;
pub mod error;
pub mod model;
pub mod pacing;
pub mod pagination;
pub mod retry;

pub use buckets::{Bucket, BucketLimits, bucket_for};
pub use client::{Client, ClientConfig, ClientStats, LastResponse};
pub use error::{ApiErrorBody, Error, Result, TransportKind};
pub use model::*;

/// Re-exported so callers can build an API key without naming `secrecy` themselves.
pub use secrecy::SecretString;
