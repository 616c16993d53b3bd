//! catalog (stub, to be filled).

use axum::Router;
use chrono::{DateTime, Utc};
use rand::rngs::SmallRng;

use crate::seed::SeedSpec;
use crate::state::{Shared, StoreData};

#[derive(Debug, Default)]
pub struct CatalogData {}

/// What other families (orders) need to know of a product.
#[derive(Debug, Clone)]
pub struct ProductRef {
    pub id: i64,
    pub name: String,
    pub sku: String,
    /// V3 price as a number.
    pub price: f64,
    /// Non-base variant ids (empty for a product without options).
    pub variant_ids: Vec<i64>,
}

impl CatalogData {
    pub fn counts(&self, _m: &mut serde_json::Map<String, serde_json::Value>) {}

    /// Every product, in id order, for order lines.
    pub fn product_refs(&self) -> Vec<ProductRef> {
        Vec::new()
    }
}

pub fn routes() -> Router<Shared> {
    Router::new()
}

pub fn seed(_data: &mut StoreData, _spec: &SeedSpec, _rng: &mut SmallRng, _now: DateTime<Utc>) {}
