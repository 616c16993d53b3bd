//! The integration tests of bcsync, in one binary: each file below was a test binary of
//! its own, and linking some sixty of them made CI slow and filled its disk. Support code
//! (`common`, `*_support`) is compiled once; the tests still run in parallel threads.

mod common;
mod listen_support;
#[macro_use]
mod push_support;
mod ui_support;

mod airbyte;
mod brevo_sync;
mod check;
mod cli;
mod connection_check;
mod deletes;
mod discover;
mod errors;
mod extract_channels;
mod extract_new_streams;
mod extract_sqlite;
mod fail_fast;
mod fault_cost;
mod interrupt;
mod jsonl_runs;
mod listen_apply;
mod listen_crash;
mod listen_delivery;
mod listen_hooks;
mod listen_poll_crash;
mod listen_postgres;
mod listen_prune;
mod listen_receiver;
mod listen_reconcile;
mod listen_secret;
mod listen_simulated_crash;
mod mcp;
mod models;
mod no_facts_citations;
mod postgres_extract;
mod postgres_push;
mod postgres_state;
mod push_cli;
mod push_comma_keys;
mod push_customers;
mod push_dry_run_before;
mod push_mapping_validation;
mod push_orders;
mod push_orders_external;
mod push_products;
mod push_recovery;
mod push_refusals;
mod push_resilience;
mod push_runs_interrupted;
mod push_secret_fields;
mod push_sources_errors;
mod push_unreadable_rows_hold_deletes;
mod readme;
mod resilience;
mod secrets;
mod singer_jsonl;
mod singer_schemas;
mod singer_target;
mod sqlite_destination_safety;
mod tools_cli;
mod ui;
mod ui_browser;
mod ui_postgres;
