//! The integration tests of the sandbox, in one binary: each file below was a test binary
//! of its own, and linking them one by one made CI slow and filled its disk.

mod brevo_support;
mod common;

mod admin;
mod bad_input;
mod brevo_contacts;
mod brevo_ecommerce;
mod brevo_events;
mod brevo_faults;
mod brevo_import;
mod brevo_lists;
mod brevo_ratelimit;
mod carts;
mod catalog;
mod coupons;
mod customers;
mod customers_v2;
mod faults;
mod fleet;
mod inventory;
mod metafields;
mod orders;
mod pages;
mod promotions;
mod python_client;
mod ratelimit;
mod simulator;
mod store_channels_hooks;
mod subscribers;
mod v2_fidelity;
mod webhooks;
