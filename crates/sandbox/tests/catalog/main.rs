//! Integration tests of the V3 catalog over real HTTP (FACTS 3, 4, 11, 12): products,
//! variants, images, custom fields, categories, category trees, brands and seeding.
//! One test binary, split by family, so the shared build machine links it once.
#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;

mod products;
mod subresources;
mod taxonomy;

use bc_sandbox::SeedSpec;
use serde_json::{Value, json};

/// A store with `products` simple products, a few brands and categories, no extras.
pub fn small_store(products: usize) -> SeedSpec {
    SeedSpec { products, brands: 4, categories: 6, ..SeedSpec::empty() }
}

/// The smallest valid product body.
pub fn product_body(name: &str, sku: &str) -> Value {
    json!({ "name": name, "type": "physical", "weight": 1.5, "price": 10.0, "sku": sku })
}

/// Ids of a V3 list page.
pub fn ids(body: &Value) -> Vec<i64> {
    body["data"].as_array().unwrap().iter().map(|p| p["id"].as_i64().unwrap()).collect()
}

#[tokio::test]
#[ignore]
async fn tmp_perf_probe() {
    for (v, i, c) in [(0, 0, 0), (3, 0, 0), (0, 2, 0), (0, 0, 2)] {
        let spec = SeedSpec { products: 100_000, variants_per_product: v, images_per_product: i, custom_fields_per_product: c, ..SeedSpec::empty() };
        let t = std::time::Instant::now();
        let mut data = bc_sandbox::state::StoreData::default();
        bc_sandbox::seed::generate(&mut data, &spec, chrono::Utc::now());
        eprintln!("seed v{v} i{i} c{c}: {:?}", t.elapsed());
    }
    let spec = SeedSpec { products: 100_000, variants_per_product: 3, images_per_product: 2, custom_fields_per_product: 2, categories: 200, brands: 50, ..SeedSpec::empty() };
    let t = std::time::Instant::now();
    let api = common::start_seeded(spec).await;
    eprintln!("seed: {:?}", t.elapsed());
    for q in ["limit=250", "limit=250&page=300", "limit=250&sort=date_modified&date_modified:min=2020-01-01T00:00:00Z&include=variants,images,custom_fields", "limit=250&sort=name", "id:min=90000&limit=250", "limit=250&include_fields=id,name&sort=price&direction=desc"] {
        let t = std::time::Instant::now();
        let r = api.get(&format!("/v3/catalog/products?{q}")).await;
        eprintln!("{q}: {} {:?} {} bytes", r.status, t.elapsed(), r.text.len());
    }
    let t = std::time::Instant::now();
    let r = api.get("/v3/catalog/variants?limit=250&page=1000").await;
    eprintln!("variants: {} {:?}", r.status, t.elapsed());
    let t = std::time::Instant::now();
    let r = api.post("/v3/catalog/products", product_body("Perf Probe", "PERF-1")).await;
    eprintln!("create: {} {:?}", r.status, t.elapsed());
}
