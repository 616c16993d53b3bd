//! One module per resource family: its records, its handlers and its seeding. Each
//! exposes `routes()` (paths relative to `/stores/{hash}`), a `...Data` struct held in
//! [`crate::state::StoreData`], and `seed()`.

use axum::Router;

use crate::state::Shared;

pub mod carts;
pub mod catalog;
pub mod channels;
pub mod coupons;
pub mod customers;
pub mod hooks;
pub mod inventory;
pub mod metafields;
pub mod orders;
pub mod pages;
pub mod promotions;
pub mod store_info;
pub mod subscribers;
pub mod v2_records;

/// Every API route of the store.
pub fn routes() -> Router<Shared> {
    Router::new()
        .merge(store_info::routes())
        .merge(customers::routes())
        .merge(catalog::routes())
        .merge(orders::routes())
        .merge(coupons::routes())
        .merge(channels::routes())
        .merge(hooks::routes())
        .merge(carts::routes())
        .merge(inventory::routes())
        .merge(subscribers::routes())
        .merge(pages::routes())
        .merge(promotions::routes())
        .merge(metafields::routes())
}
