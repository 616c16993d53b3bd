//! hooks (stub, to be filled).

use axum::Router;
use chrono::{DateTime, Utc};
use rand::rngs::SmallRng;

use crate::seed::SeedSpec;
use crate::state::{Shared, StoreData};

#[derive(Debug, Default)]
pub struct HooksData {}

impl HooksData {
    pub fn counts(&self, _m: &mut serde_json::Map<String, serde_json::Value>) {}
}

pub fn routes() -> Router<Shared> {
    Router::new()
}

pub fn seed(_data: &mut StoreData, _spec: &SeedSpec, _rng: &mut SmallRng, _now: DateTime<Utc>) {}
