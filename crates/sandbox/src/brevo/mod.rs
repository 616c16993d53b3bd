//! A local emulator of the part of Brevo's REST API v3 that a marketing sync uses:
//! contacts, attributes, folders and lists, imports and processes, events, the e-commerce
//! catalogue and orders, and the account. Built from `docs/brevo-api-notes.md` (§7 is the
//! checklist, §8 the quirks), never from a client.
//!
//! It serves `/v3/...` on its own listener with `api-key` auth, per-key rate buckets with
//! the `x-sib-ratelimit-*` headers, deterministic fault injection, a clock tests can
//! advance, a switch for each UNCERTAIN behaviour, and an admin API under `/_brevo/`.
//!
//! Layout: [`server`] wires the router and middleware and holds the state; [`store`] is the
//! account's data and the one attribute-write path; [`contacts`], [`lists`], [`events`]
//! and [`ecommerce`] are the route families; [`ratelimit`], [`faults`] and [`admin`] mirror
//! the BigCommerce sandbox's modules of the same names.

pub mod admin;
pub mod clock;
pub mod config;
pub mod contacts;
pub mod ecommerce;
pub mod error;
pub mod events;
pub mod faults;
pub mod lists;
pub mod ratelimit;
pub mod server;
pub mod store;
pub mod util;

pub use config::{BrevoConfig, Bucket, BucketLimit, DEFAULT_API_KEY, Switches, TierLimits};
pub use faults::BrevoFaults;
pub use server::{BrevoState, RunningBrevo, start_brevo};
