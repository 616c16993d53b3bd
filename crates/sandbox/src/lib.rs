//! `bc-sandbox`: a faithful local emulator of the BigCommerce REST Management API.
//!
//! Built from `docs/api-notes.md` (section 11 is the checklist, section 12
//! the quirks), never from what our own client happens to send. It serves
//! `/stores/{hash}/v2/...` and `/stores/{hash}/v3/...` over real HTTP, with auth and
//! OAuth scopes, per-store rate limits by plan, per-endpoint concurrency caps,
//! deterministic fault injection, seeded stores of any size, and an admin API under
//! `/_sandbox/` that tests and benchmarks use to count requests. [`start`] serves one
//! store; [`start_stores`] serves a fleet of independent stores on one socket
//! ([`fleet`]).
//!
//! Layout: [`server`] wires the router and middleware; [`state`] holds the store's data;
//! [`resources`] has one module per resource family (handlers + seeding); every write goes
//! through [`mutation`] (the one path that moves `date_modified` and journals [`events`]),
//! and [`delivery`] posts those events to webhooks; [`error`],
//! [`query`], [`paging`] and [`dates`] are the shared building blocks every handler uses.

pub mod admin;
pub mod body;
pub mod brevo;
pub mod config;
pub mod dates;
pub mod delivery;
pub mod error;
pub mod events;
pub mod faults;
pub mod fleet;
pub mod internal;
pub mod mutation;
pub mod paging;
pub mod query;
pub mod ratelimit;
pub mod resources;
pub mod seed;
pub mod server;
pub mod simulator;
pub mod state;

pub use brevo::{BrevoConfig, RunningBrevo, start_brevo};
pub use config::{Plan, SandboxConfig, TokenConfig};
pub use error::SandboxError;
pub use fleet::{RunningFleetSandbox, start_stores};
pub use seed::SeedSpec;
pub use server::{RunningSandbox, start};
pub use simulator::SimulateSpec;
