//! Store information (V2, docs/api-notes.md §1): `GET /v2/store`, the bare settings object a
//! connector calls to test its credentials and learn the store's identity, and
//! `GET /v2/time`. `id` is the store hash while `store_id` is a number: a classic mix-up
//! (docs/api-notes.md §12.5), so both are emitted exactly like that.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use chrono::{DateTime, Utc};
use rand::Rng;
use rand::rngs::SmallRng;
use serde_json::{Value, json};

use crate::dates;
use crate::error::ApiResult;
use crate::paging::v2_object;
use crate::seed::SeedSpec;
use crate::state::{Shared, StoreData};

/// The store's own settings, seeded once.
#[derive(Debug, Default)]
pub struct StoreInfoData {
    /// The numeric store id (not the hash).
    pub store_id: i64,
    pub name: String,
    pub domain: String,
    pub admin_email: String,
    pub order_email: String,
    pub currency: String,
    pub country_code: String,
}

impl StoreInfoData {
    pub fn counts(&self, _m: &mut serde_json::Map<String, Value>) {}

    /// The default currency code (USD unless seeded otherwise).
    pub fn currency_code(&self) -> String {
        if self.currency.is_empty() {
            "USD".to_owned()
        } else {
            self.currency.clone()
        }
    }
}

/// `GET /v2/store`.
async fn store(State(st): State<Shared>) -> ApiResult {
    let data = st.data.read();
    let s = &data.store;
    let hash = &st.config.store_hash;
    let (active, total) = data.channels.storefront_counts();
    let currency = s.currency_code();
    let timezone = json!({
        "name": "Etc/UTC",
        "raw_offset": 0,
        "dst_offset": 0,
        "dst_correction": false,
        "date_format": {
            "display": "M jS Y",
            "export": "M jS Y",
            "extended_display": "M jS Y @ g:i A",
        },
    });
    let features = json!({
        "stencil_enabled": true,
        "sitewidehttps_enabled": true,
        "facebook_catalog_id": "",
        "checkout_type": "optimized",
        "wishlists_enabled": true,
        "graphql_storefront_api_enabled": true,
        "shopper_consent_tracking_enabled": false,
        "multi_storefront_enabled": true,
        "storefront_limits": { "active": active, "total_including_inactive": total },
    });
    let body = json!({
        "id": hash,
        "store_id": s.store_id,
        "account_uuid": format!("00000000-0000-4000-8000-{:012}", s.store_id),
        "domain": s.domain,
        "secure_url": format!("https://{}", s.domain),
        "control_panel_base_url": format!("https://store-{hash}.mybigcommerce.com"),
        "status": "live",
        "name": s.name,
        "first_name": "Sandbox",
        "last_name": "Owner",
        "address": "685 Market Street\nSan Francisco, CA 94105",
        "country": "United States",
        "country_code": s.country_code,
        "phone": "+1 415 555 0100",
        "admin_email": s.admin_email,
        "order_email": s.order_email,
        "favicon_url": "",
        "timezone": timezone,
        "language": "en",
        "currency": currency,
        "currency_symbol": "$",
        "decimal_separator": ".",
        "thousands_separator": ",",
        "decimal_places": 2,
        "currency_symbol_location": "left",
        "weight_units": "LBS",
        "dimension_units": "Inches",
        "dimension_decimal_places": "2",
        "dimension_decimal_token": ".",
        "dimension_thousands_token": ",",
        "plan_name": st.config.plan.name(),
        "plan_level": st.config.plan.name(),
        "plan_is_trial": false,
        "industry": "Retail",
        "logo": [],
        "is_price_entered_with_tax": false,
        "default_channel_id": crate::resources::channels::DEFAULT_CHANNEL_ID,
        "default_site_id": 1000,
        "active_comparison_modules": [],
        "features": features,
        "infrastructure_region": "us-central1",
    });
    Ok(v2_object(StatusCode::OK, body))
}

/// `GET /v2/time`: the credential and connection check (docs/api-notes.md §1).
async fn time() -> ApiResult {
    Ok(v2_object(
        StatusCode::OK,
        json!({ "time": dates::now().timestamp() }),
    ))
}

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/v2/store", get(store))
        .route("/v2/time", get(time))
}

/// The store's identity: a numeric id drawn from the seed, a name and a domain.
pub fn seed(data: &mut StoreData, _spec: &SeedSpec, rng: &mut SmallRng, _now: DateTime<Utc>) {
    let store_id: i64 = rng.random_range(1_000_000..10_000_000);
    data.store = StoreInfoData {
        store_id,
        name: "Sandbox Outfitters".to_owned(),
        domain: format!("sandbox-outfitters-{store_id}.example.com"),
        admin_email: "owner@sandbox-outfitters.example.com".to_owned(),
        order_email: "orders@sandbox-outfitters.example.com".to_owned(),
        currency: "USD".to_owned(),
        country_code: "US".to_owned(),
    };
}
