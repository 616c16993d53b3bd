//! customers (stub, to be filled).

use axum::Router;
use chrono::{DateTime, Utc};
use rand::rngs::SmallRng;

use crate::seed::SeedSpec;
use crate::state::{Shared, StoreData};

#[derive(Debug, Default)]
pub struct CustomersData {}

/// What other families (orders) need to know of a customer.
#[derive(Debug, Clone)]
pub struct CustomerRef {
    pub id: i64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

impl CustomersData {
    pub fn counts(&self, _m: &mut serde_json::Map<String, serde_json::Value>) {}

    /// Every customer, in id order, for orders.
    pub fn customer_refs(&self) -> Vec<CustomerRef> {
        Vec::new()
    }

    /// Whether a customer id exists (order `customer_id` validation).
    pub fn exists(&self, _id: i64) -> bool {
        false
    }
}

pub fn routes() -> Router<Shared> {
    Router::new()
}

pub fn seed(_data: &mut StoreData, _spec: &SeedSpec, _rng: &mut SmallRng, _now: DateTime<Utc>) {}
