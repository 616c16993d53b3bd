//! `bcsync push`: reverse ETL from warehouse rows into BigCommerce customers, products
//! and orders.
//!
//! - [`config`]: sync definitions (`[[sync]]` in bcsync.toml or one file per sync).
//! - [`fields`]: the fields each object accepts (types, read-only ones), as data.
//! - [`mapping`]: source row → payload, casts and the create rules checked before any request.
//! - [`engine`]: one run: plan, lookups, guard rails, writes, run records.
//! - [`schedule`]: the syncs of one push, side by side where they do not depend on each
//!   other ([`run_syncs`], used by `bcsync push` and the push benchmark).
pub mod config;
pub mod engine;
pub mod fields;
pub mod mapping;
pub mod schedule;
mod subresources;

pub use schedule::{NotStarted, Order, SyncResult, run_syncs};
