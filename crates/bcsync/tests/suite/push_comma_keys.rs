//! Keys holding a comma (issue 9, item 8): `sku:in=` lists are comma-separated, so such a
//! SKU is looked up alone with the exact `sku=` filter. After `--reset-tracking` every
//! product is found again: no duplicate create, no 409.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::push_support;

use push_support::*;

const PRODUCTS: &str = "[sync.mapping]\nsku = \"sku\"\ntitle = \"name\"\nkind = \"type\"\nweight = \"weight\"\nprice = \"price\"\n";

on_both! {
#[tokio::test]
async fn skus_with_commas_are_found_after_reset_tracking(backend: Backend) {
    let Some((sb, h)) = Harness::start(backend).await else {
        return;
    };
    let skus = ["PLAIN-1", "BOLT,M6", "NUT,M6,STEEL", "PLAIN-2", "WASHER, 6mm"];
    let mut csv = String::from("sku,title,kind,weight,price\n");
    for (i, sku) in skus.iter().enumerate() {
        csv.push_str(&format!("\"{sku}\",Part {i},physical,1,{}\n", i + 1));
    }
    h.write("p.csv", &csv);
    let sync = h.sync("parts", "products", "upsert", "sku", "p.csv", PRODUCTS, "");
    let out = h.push(&sync, Flags::default()).await;
    assert_eq!(out.run.counts["created"], 5, "{:?}", out.run);

    let out = h.reset_tracking(&sync).await;
    assert_eq!(out.run.counts["forgotten"], 5);

    let (w0, r0) = (writes(&sb), reads(&sb));
    let out = h.push(&sync, Flags::default()).await;
    assert!(out.run.rejected.is_empty(), "{:?}", out.run.rejected);
    assert_eq!(out.run.counts.get("created"), None, "{:?}", out.run.counts);
    assert_eq!(out.run.counts["updated"], 5, "{:?}", out.run.counts);
    // One list lookup for the two plain SKUs, one exact lookup per SKU with a comma.
    assert_eq!(reads(&sb) - r0, 1 + 3);
    assert_eq!(writes(&sb) - w0, 1, "one PUT batch, no POST");
    let products = common::list_all(&sb, "v3", "/catalog/products", "").await;
    let mut found: Vec<&str> = products.iter().map(|p| p["sku"].as_str().unwrap()).collect();
    found.sort_unstable();
    let mut want = skus.to_vec();
    want.sort_unstable();
    assert_eq!(found, want, "no duplicates");
}
}
