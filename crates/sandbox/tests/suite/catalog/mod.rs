//! Integration tests of the V3 catalog over real HTTP (docs/api-notes.md §3, §4, §11, §12):
//! products, variants, images, custom fields, categories, category trees, brands and seeding.
//! Split by family.
#![allow(clippy::unwrap_used)]

mod products;
mod subresources;
mod taxonomy;

use bc_sandbox::SeedSpec;
use serde_json::{Value, json};

/// A store with `products` simple products, a few brands and categories, no extras.
pub fn small_store(products: usize) -> SeedSpec {
    SeedSpec {
        products,
        brands: 4,
        categories: 6,
        ..SeedSpec::empty()
    }
}

/// The smallest valid product body.
pub fn product_body(name: &str, sku: &str) -> Value {
    json!({ "name": name, "type": "physical", "weight": 1.5, "price": 10.0, "sku": sku })
}

/// Ids of a V3 list page.
pub fn ids(body: &Value) -> Vec<i64> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect()
}
