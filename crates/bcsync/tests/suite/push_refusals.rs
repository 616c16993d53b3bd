//! `bcsync push` and definite refusals (issue 9, item 5): a 4xx other than 408/429 means
//! the request was not processed, so it is never re-posted nor looked up as an unknown
//! outcome. A token without the modify scope stops the run after one write request; a
//! request too large for the API is narrowed down to the oversized row, the others are
//! written, and the next run does not send them again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::push_support;

use bc_sandbox::{SandboxConfig, TokenConfig};
use push_support::*;

const CUSTOMERS: &str =
    "[sync.mapping]\nmail = \"email\"\ngiven = \"first_name\"\nfamily = \"last_name\"\n";

fn customers_csv(n: usize) -> String {
    let mut s = String::from("mail,given,family\n");
    for i in 0..n {
        s.push_str(&format!("c{i}@example.com,Given{i},Family{i}\n"));
    }
    s
}

on_both! {
#[tokio::test]
async fn a_token_without_modify_scope_stops_after_one_write(backend: Backend) {
    let sb = common::sandbox_with(SandboxConfig {
        tokens: vec![
            TokenConfig::full("full-token"),
            TokenConfig::parse("read-token:store_v2_customers_read_only").unwrap(),
        ],
        ..SandboxConfig::default()
    })
    .await;
    let Some(h) = Harness::on(&sb, backend) else {
        return;
    };
    h.write("c.csv", &customers_csv(200));
    let sync = h.sync("ro", "customers", "upsert", "email", "c.csv", CUSTOMERS, "");
    let (read_only, _) = common::client(&sb, "read-token");
    let out = h.push_with(&read_only, &sync, Flags::default()).await;
    assert_eq!(out.run.status, "failed", "{:?}", out.run);
    let message = out.run.message.clone().unwrap_or_default();
    assert!(
        message.contains("store_v2_customers scope (modify)"),
        "the error names the scope to add: {message}"
    );
    assert!(!message.contains("next run checks"), "{message}");
    // 4 lookups of 50 emails, then one POST refused: nothing re-posted (was 124 requests).
    assert_eq!(writes(&sb), 1);
    assert_eq!((out.run.write_requests, out.run.lookup_requests), (1, 4));
    assert!(
        out.run.rejected.is_empty(),
        "one error for the run, not one per row: {:?}",
        out.run.rejected
    );
    // With the scope granted, the same sync creates every row.
    let (full, _) = common::client(&sb, "full-token");
    let out = h.push_with(&full, &sync, Flags::default()).await;
    assert_eq!(out.run.status, "ok", "{:?}", out.run);
    assert_eq!(out.run.counts["created"], 200, "{:?}", out.run.counts);
}
}

const PRODUCTS: &str = "[sync.mapping]\nsku = \"sku\"\ntitle = \"name\"\nkind = \"type\"\nweight = \"weight\"\nprice = \"price\"\ndescription = \"description\"\n";

/// Ten products; `big` gets a 3 MB description (the sandbox, like the API, refuses bodies
/// over 2 MB with 413).
fn products_csv(price: u32, big: Option<usize>) -> String {
    let mut s = String::from("sku,title,kind,weight,price,description\n");
    for i in 0..10 {
        let description = if big == Some(i) {
            "x".repeat(3 * 1024 * 1024)
        } else {
            format!("Product {i}")
        };
        s.push_str(&format!(
            "P-{i},Product {i},physical,1,{},{description}\n",
            price + i as u32
        ));
    }
    s
}

on_both! {
#[tokio::test]
async fn a_request_too_large_rejects_only_the_oversized_row(backend: Backend) {
    let Some((sb, h)) = Harness::start(backend).await else {
        return;
    };
    let sync = h.sync(
        "big",
        "products",
        "upsert",
        "sku",
        "p.csv",
        PRODUCTS,
        "max_rejected = 1\n",
    );
    // Creates go one per request: the big one is refused alone, never re-posted.
    h.write("p.csv", &products_csv(10, Some(3)));
    let out = h.push(&sync, Flags::default()).await;
    assert_eq!(out.run.counts["created"], 9, "{:?}", out.run);
    assert_eq!(out.run.rejected.len(), 1, "{:?}", out.run.rejected);
    let reason = &out.run.rejected[0].reason;
    assert!(
        reason.contains("413") && reason.contains("too large") && reason.contains("description"),
        "{reason}"
    );
    assert!(!reason.contains("outcome unknown"), "{reason}");
    assert_eq!(writes(&sb), 10, "ten POSTs, none repeated");

    // Every price changes and row 6 grows too large: one PUT batch of 10, refused with
    // 413, split down to row 6 alone; the other nine are updated.
    h.write("p.csv", &products_csv(20, Some(6)));
    let w0 = writes(&sb);
    let out = h.push(&sync, Flags::default()).await;
    assert!(
        out.run
            .rejected
            .iter()
            .any(|r| r.key.as_deref() == Some("p-6") && r.reason.contains("too large")),
        "{:?}",
        out.run.rejected
    );
    assert_eq!(out.run.counts["updated"], 8, "{:?}", out.run.counts);
    // P-3 is now small: it is created (it was never created).
    assert_eq!(out.run.counts["created"], 1, "{:?}", out.run.counts);
    let puts = writes(&sb) - w0 - 1;
    assert!(puts <= 1 + 2 * 4, "{puts} PUTs for one oversized row among 9");
    let products = common::list_all(&sb, "v3", "/catalog/products", "").await;
    assert_eq!(products.len(), 10);
    for p in &products {
        let i: u32 = p["sku"].as_str().unwrap()[2..].parse().unwrap();
        let want = if i == 6 { 10 + i } else { 20 + i };
        assert_eq!(p["price"].as_f64().unwrap() as u32, want, "{p}");
    }

    // The next run sends only the row still too large, and only once.
    let w0 = writes(&sb);
    let out = h.push(&sync, Flags::default()).await;
    assert_eq!(writes(&sb) - w0, 1, "{:?}", out.run);
    assert_eq!(out.run.rejected.len(), 1, "{:?}", out.run.rejected);
    assert_eq!(out.run.counts["unchanged"], 9, "{:?}", out.run.counts);
}
}

on_both! {
#[tokio::test]
async fn documented_lengths_are_checked_before_sending(backend: Backend) {
    let Some((sb, h)) = Harness::start(backend).await else {
        return;
    };
    let mut csv = String::from("mail,given,family,firm\n");
    for i in 0..5 {
        let firm = if i == 2 { "F".repeat(300) } else { format!("Firm {i}") };
        csv.push_str(&format!("c{i}@example.com,Given{i},Family{i},{firm}\n"));
    }
    h.write("c.csv", &csv);
    let mapping = format!("{CUSTOMERS}firm = \"company\"\n");
    let sync = h.sync(
        "len",
        "customers",
        "upsert",
        "email",
        "c.csv",
        &mapping,
        "max_rejected = 1\n",
    );
    let out = h.push(&sync, Flags::default()).await;
    assert_eq!(out.run.counts["created"], 4, "{:?}", out.run);
    assert_eq!(out.run.rejected.len(), 1);
    let r = &out.run.rejected[0];
    assert_eq!((r.row, r.field.as_deref()), (3, Some("company")));
    assert!(r.reason.contains("at most 255 characters (it has 300)"), "{}", r.reason);
    assert_eq!(writes(&sb), 1, "one batch of the four good rows");
}
}
