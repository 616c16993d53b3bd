//! The fleet: many stores synced by workers on several machines, coordinated through the
//! PostgreSQL state store (docs/ARCHITECTURE.md, "Fleet").
//!
//! ```text
//!  bcsync stores add|pause|remove ──► fleet_stores (hash, credentials reference, schedule)
//!                                      fleet_jobs   (store, kind, every, next_due)
//!                                          ▲  claim: FOR UPDATE SKIP LOCKED, oldest due first
//!  bcsync worker ×N (any machine) ─────────┘  lease on the STORE (epoch-fenced, renewed)
//!      └─ runs the store's due jobs one after another (extract, events, push, brevo),
//!         each as a `bcsync` child process with the store's token in its environment
//!  bcsync listen --nats ×N ──► JetStream ──► worker consumers ──► the store's inbox
//!                                                                  └─ marks `events` due
//! ```
//!
//! - A worker leases a store, not a job: one store's jobs never overlap, so the store's
//!   quota has one pacer at a time, and stores run side by side (each has its own quota).
//! - Every write a lease holder makes names the lease's epoch: a worker whose lease lapsed
//!   and was taken over can no longer record anything, and stops its job before the lease
//!   can lapse when it cannot renew it.
//! - The engines resume from their own checkpoints (bookmarks in the destination, push
//!   intents in the state store), so a job cut by a lost lease finishes exactly when the
//!   next holder runs it again.

pub mod registry;

pub use registry::{
    Claim, FleetStatus, JobKind, JobOutcome, JobRow, NewStore, Registry, StoreRow, WorkerRow,
};
