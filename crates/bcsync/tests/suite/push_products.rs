//! `bcsync push` of products against the sandbox: creates one POST per product with
//! variants inline, updates in PUT batches of 10, a 409 on a batch rejects only the
//! clashing row, mirror deletes, insert/update modes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::push_support;

use push_support::*;
use serde_json::Value;

#[derive(Clone, Debug, PartialEq, PartialOrd, Ord, Eq)]
struct P {
    sku: String,
    name: String,
    price: String,
    weight: String,
}

fn csv(rows: &[P]) -> String {
    let mut s = String::from("sku,title,kind,weight,price\n");
    for p in rows {
        s.push_str(&format!(
            "{},{},physical,{},{}\n",
            p.sku, p.name, p.weight, p.price
        ));
    }
    s
}

fn products(n: usize) -> Vec<P> {
    (0..n)
        .map(|i| P {
            sku: format!("SKU-{i:03}"),
            name: format!("Product {i}"),
            price: format!("{}.5", i + 1),
            weight: (i % 3).to_string(),
        })
        .collect()
}

const MAPPING: &str = "[sync.mapping]\nsku = \"sku\"\ntitle = \"name\"\nkind = \"type\"\nweight = \"weight\"\nprice = \"price\"\n";

fn num(v: &Value) -> String {
    let f = v.as_f64().unwrap();
    if f.fract() == 0.0 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

async fn store_products(sb: &bc_sandbox::RunningSandbox) -> Vec<P> {
    let mut v: Vec<P> = common::list_all(sb, "v3", "/catalog/products", "")
        .await
        .iter()
        .map(|p| P {
            sku: p["sku"].as_str().unwrap().to_owned(),
            name: p["name"].as_str().unwrap().to_owned(),
            price: num(&p["price"]),
            weight: num(&p["weight"]),
        })
        .collect();
    v.sort();
    v
}

fn sorted(mut v: Vec<P>) -> Vec<P> {
    v.sort();
    v
}

on_both! {
#[tokio::test]
async fn upsert_batches_updates_and_mirror_deletes(backend: Backend) {
    let Some((sb, h)) = Harness::start(backend).await else {
        return;
    };
    let mut rows = products(23);
    h.write("p.csv", &csv(&rows));
    let sync = h.sync("cat", "products", "upsert", "sku", "p.csv", MAPPING, "");
    let out = h.push(&sync, Flags::default()).await;
    assert_eq!(out.run.counts["created"], 23, "{:?}", out.run);
    assert_eq!(writes(&sb), 23, "one POST per created product");
    assert_eq!(store_products(&sb).await, sorted(rows.clone()));

    let w0 = writes(&sb);
    h.push(&sync, Flags::default()).await;
    assert_eq!(writes(&sb), w0, "unchanged rerun writes nothing");

    // 12 prices change: two PUT batches (10 + 2).
    for p in rows.iter_mut().take(12) {
        p.price = "99.25".into();
    }
    h.write("p.csv", &csv(&rows));
    let out = h.push(&sync, Flags::default()).await;
    assert_eq!(out.run.counts["updated"], 12);
    assert_eq!(writes(&sb) - w0, 2);
    assert_eq!(store_products(&sb).await, sorted(rows.clone()));

    // A rename onto another product's name is a 409 for its batch: only that row is rejected.
    rows[2].name = "Product 20".into();
    rows[3].price = "1".into();
    rows[4].price = "2".into();
    h.write("p.csv", &csv(&rows));
    let out = h.push(&sync, Flags::default()).await;
    assert_eq!(out.run.rejected.len(), 1, "{:?}", out.run.rejected);
    assert_eq!(out.run.rejected[0].row, 3);
    assert!(
        out.run.rejected[0].reason.contains("409"),
        "{}",
        out.run.rejected[0].reason
    );
    assert_eq!(out.run.counts["updated"], 2);
    let mut expected = rows.clone();
    expected[2].name = "Product 2".into();
    assert_eq!(store_products(&sb).await, sorted(expected));

    // Mirror: 3 of 23 leave (13%): deleted with one DELETE ?id:in=.
    rows[2].name = "Product 2".into();
    let mirror = h.sync("cat", "products", "mirror", "sku", "p.csv", MAPPING, "");
    let kept: Vec<P> = rows[3..].to_vec();
    h.write("p.csv", &csv(&kept));
    let out = h.push(&mirror, Flags::default()).await;
    assert_eq!(out.run.counts["deleted"], 3, "{:?}", out.run);
    assert_eq!(store_products(&sb).await, sorted(kept));
}
}

on_both! {
#[tokio::test]
async fn insert_update_modes_and_inline_variants(backend: Backend) {
    let Some((sb, h)) = Harness::start(backend).await else {
        return;
    };
    let rows = products(4);
    h.write("p.csv", &csv(&rows));
    // update mode: nothing exists, so every row is rejected with advice, nothing written.
    let upd = h.sync(
        "u",
        "products",
        "update",
        "sku",
        "p.csv",
        MAPPING,
        "max_rejected = 3\n",
    );
    let out = h.push(&upd, Flags::default()).await;
    assert_eq!(out.run.rejected.len(), 4);
    assert!(out.run.rejected[0].reason.contains("upsert"));
    assert!(out.over_threshold);
    assert_eq!(writes(&sb), 0);

    // insert with a variant inline.
    h.write(
        "v.csv",
        "sku,title,kind,weight,price,vsku,vprice,opt,label\nHAT,Hat,physical,1,10,HAT-S,11,Size,S\n",
    );
    let mapping = format!(
        "{MAPPING}vsku = \"variants.0.sku\"\nvprice = \"variants.0.price\"\nopt = \"variants.0.option_values.0.option_display_name\"\nlabel = \"variants.0.option_values.0.label\"\n"
    );
    let ins = h.sync("i", "products", "insert", "sku", "v.csv", &mapping, "");
    let out = h.push(&ins, Flags::default()).await;
    assert_eq!(out.run.counts["created"], 1, "{:?}", out.run);
    let all = common::list_all(&sb, "v3", "/catalog/products", "include=variants").await;
    assert_eq!(all.len(), 1);
    let skus: Vec<&str> = all[0]["variants"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["sku"].as_str())
        .collect();
    assert!(skus.contains(&"HAT-S"), "{skus:?}");

    // update mode now finds it by SKU (one lookup) and changes it.
    h.write(
        "v.csv",
        "sku,title,kind,weight,price,vsku,vprice,opt,label\nhat,Hat,physical,1,12.5,HAT-S,11,Size,S\n",
    );
    let upd = h.sync("u2", "products", "update", "sku", "v.csv", MAPPING, "");
    let out = h.push(&upd, Flags::default()).await;
    assert_eq!(out.run.counts["updated"], 1, "{:?}", out.run);
    let all = common::list_all(&sb, "v3", "/catalog/products", "").await;
    assert_eq!(all[0]["price"].as_f64(), Some(12.5));
}
}

on_both! {
#[tokio::test]
async fn custom_fields_inline_on_create_then_per_field_on_update(backend: Backend) {
    let Some((sb, h)) = Harness::start(backend).await else {
        return;
    };
    let mapping =
        format!("{MAPPING}color = \"custom_fields.Color\"\nfabric = \"custom_fields.Fabric\"\n");
    let rows = |c3: &str| {
        let mut s = String::from("sku,title,kind,weight,price,color,fabric\n");
        for i in 0..5 {
            let color = if i == 3 {
                c3.to_owned()
            } else {
                format!("Blue{i}")
            };
            s.push_str(&format!("CF-{i},Shirt {i},physical,1,10,{color},Cotton\n"));
        }
        s
    };
    h.write("cf.csv", &rows("Red"));
    let sync = h.sync("cf", "products", "upsert", "sku", "cf.csv", &mapping, "");
    let out = h.push(&sync, Flags::default()).await;
    assert_eq!(out.run.counts["created"], 5, "{:?}", out.run);
    assert_eq!(
        writes(&sb),
        5,
        "custom fields travel inline with the create"
    );
    let all = common::list_all(&sb, "v3", "/catalog/products", "include=custom_fields").await;
    for p in &all {
        assert_eq!(p["custom_fields"].as_array().unwrap().len(), 2, "{p}");
    }

    // One product's Color changes: one custom-field PUT, and no product PUT (the
    // product's own fields are as the store has them).
    h.write("cf.csv", &rows("Green"));
    let w0 = writes(&sb);
    let out = h.push(&sync, Flags::default()).await;
    assert_eq!(out.run.counts["updated"], 1, "{:?}", out.run);
    assert!(out.run.rejected.is_empty(), "{:?}", out.run.rejected);
    let log = write_log(&sb)[w0..].to_vec();
    assert_eq!(log.len(), 1, "{log:?}");
    assert!(log[0].1.contains("/custom-fields/"), "{log:?}");
    let all = common::list_all(
        &sb,
        "v3",
        "/catalog/products",
        "include=custom_fields&sku=CF-3",
    )
    .await;
    let fields: Vec<(String, String)> = all[0]["custom_fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_owned(),
                f["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(fields.len(), 2, "{fields:?}");
    assert!(fields.contains(&("Color".into(), "Green".into())));
    assert!(fields.contains(&("Fabric".into(), "Cotton".into())));
}
}

on_both! {
#[tokio::test]
async fn a_product_deleted_in_the_store_is_created_again_by_upsert(backend: Backend) {
    let Some((sb, h)) = Harness::start(backend).await else {
        return;
    };
    let mut rows = products(3);
    h.write("p.csv", &csv(&rows));
    let sync = h.sync(
        "gone",
        "products",
        "upsert",
        "sku",
        "p.csv",
        MAPPING,
        "max_rejected = 5\n",
    );
    h.push(&sync, Flags::default()).await;
    // Someone deletes product 1 in the control panel; then its row changes.
    let all = common::list_all(&sb, "v3", "/catalog/products", "sku=SKU-001").await;
    let id = all[0]["id"].as_i64().unwrap();
    let (st, _) = common::api(
        &sb,
        reqwest::Method::DELETE,
        &format!("/v3/catalog/products?id:in={id}"),
        None,
    )
    .await;
    assert_eq!(st, 204);
    rows[1].price = "42".into();
    h.write("p.csv", &csv(&rows));
    let out = h.push(&sync, Flags::default()).await;
    assert_eq!(out.run.rejected.len(), 1, "{:?}", out.run);
    assert!(
        out.run.rejected[0].reason.contains("no longer exists"),
        "{}",
        out.run.rejected[0].reason
    );
    // The next run looks it up, finds nothing, and creates it.
    let out = h.push(&sync, Flags::default()).await;
    assert!(out.run.rejected.is_empty(), "{:?}", out.run);
    assert_eq!(out.run.counts["created"], 1, "{:?}", out.run.counts);
    assert_eq!(store_products(&sb).await, sorted(rows));
}
}

on_both! {
#[tokio::test]
async fn variant_changes_update_only_the_variants_matched_by_sku(backend: Backend) {
    let Some((sb, h)) = Harness::start(backend).await else {
        return;
    };
    let mapping = format!(
        "{MAPPING}vsku = \"variants.0.sku\"\nvprice = \"variants.0.price\"\nopt = \"variants.0.option_values.0.option_display_name\"\nlabel = \"variants.0.option_values.0.label\"\n"
    );
    let rows = |p0: &str, p1: &str, sku1: &str| {
        format!(
            "sku,title,kind,weight,price,vsku,vprice,opt,label\nHAT,Hat,physical,1,10,HAT-S,{p0},Size,S\nCAP,Cap,physical,1,10,{sku1},{p1},Size,S\n"
        )
    };
    h.write("v.csv", &rows("11", "12", "CAP-S"));
    let sync = h.sync(
        "var",
        "products",
        "upsert",
        "sku",
        "v.csv",
        &mapping,
        "max_rejected = 5\n",
    );
    let out = h.push(&sync, Flags::default()).await;
    assert_eq!(out.run.counts["created"], 2, "{:?}", out.run);
    let variant_prices = || async {
        let mut v: Vec<(String, String)> = common::list_all(&sb, "v3", "/catalog/variants", "")
            .await
            .iter()
            .map(|v| (v["sku"].as_str().unwrap().to_owned(), num(&v["price"])))
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        variant_prices().await,
        vec![("CAP-S".into(), "12".into()), ("HAT-S".into(), "11".into())]
    );

    // Unchanged rerun: no request at all.
    let before = sb.state.log.entries().len();
    h.push(&sync, Flags::default()).await;
    assert_eq!(
        sb.state.log.entries().len(),
        before,
        "an unchanged rerun sends nothing"
    );

    // One variant price changes: one PUT /catalog/variants, no product PUT.
    h.write("v.csv", &rows("13.5", "12", "CAP-S"));
    let w0 = writes(&sb);
    let out = h.push(&sync, Flags::default()).await;
    assert!(out.run.rejected.is_empty(), "{:?}", out.run.rejected);
    assert_eq!(out.run.counts["changed"], 1, "{:?}", out.run.counts);
    let log = write_log(&sb)[w0..].to_vec();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].0, "PUT");
    assert!(log[0].1.ends_with("/v3/catalog/variants"), "{log:?}");
    assert_eq!(
        variant_prices().await,
        vec![
            ("CAP-S".into(), "12".into()),
            ("HAT-S".into(), "13.5".into())
        ]
    );
    let before = sb.state.log.entries().len();
    h.push(&sync, Flags::default()).await;
    assert_eq!(
        sb.state.log.entries().len(),
        before,
        "an unchanged rerun sends nothing"
    );

    // A variant SKU the product does not have is rejected with its row alone; a refused
    // price (negative) likewise, while the other row's change is written.
    h.write("v.csv", &rows("14", "15", "CAP-XL"));
    let out = h.push(&sync, Flags::default()).await;
    assert_eq!(out.run.rejected.len(), 1, "{:?}", out.run.rejected);
    assert_eq!(
        out.run.rejected[0].key.as_deref(),
        Some("cap"),
        "{:?}",
        out.run.rejected
    );
    assert!(
        out.run.rejected[0].reason.contains("CAP-XL"),
        "{}",
        out.run.rejected[0].reason
    );
    assert_eq!(
        variant_prices().await,
        vec![("CAP-S".into(), "12".into()), ("HAT-S".into(), "14".into())]
    );
    h.write("v.csv", &rows("14", "-3", "CAP-S"));
    let out = h.push(&sync, Flags::default()).await;
    assert_eq!(out.run.rejected.len(), 1, "{:?}", out.run.rejected);
    assert_eq!(
        out.run.rejected[0].key.as_deref(),
        Some("cap"),
        "{:?}",
        out.run.rejected
    );
    assert!(
        out.run.rejected[0].reason.contains("variant update"),
        "{}",
        out.run.rejected[0].reason
    );
}
}
