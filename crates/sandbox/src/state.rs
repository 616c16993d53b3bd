//! Shared server state: configuration, the store's data behind one lock, the rate
//! limiter, the fault injector and the request log.
//!
//! One `RwLock` over all data keeps cross-resource rules simple (an order line points at a
//! product, a customer at a group) and is fast enough: handlers hold it for microseconds
//! and never across an await.

use std::sync::Arc;

use parking_lot::RwLock;

use crate::admin::RequestLog;
use crate::config::SandboxConfig;
use crate::delivery::Delivery;
use crate::error::ApiError;
use crate::faults::FaultInjector;
use crate::mutation::Tx;
use crate::ratelimit::RateLimiter;
use crate::resources::{
    carts, catalog, channels, coupons, customers, hooks, inventory, metafields, orders, pages,
    promotions, store_info, subscribers,
};

/// Handle passed to every handler.
pub type Shared = Arc<AppState>;

pub struct AppState {
    pub config: SandboxConfig,
    pub data: RwLock<StoreData>,
    pub limiter: RateLimiter,
    pub faults: FaultInjector,
    pub log: RequestLog,
    /// The storefront simulator's run and counters.
    pub simulator: crate::simulator::Simulator,
    /// Webhook delivery: its queue, its log, and the wake-up of its task.
    pub delivery: Delivery,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store_hash", &self.config.store_hash)
            .finish_non_exhaustive()
    }
}

/// All records of the emulated store. Each resource family owns its part.
#[derive(Debug, Default)]
pub struct StoreData {
    pub store: store_info::StoreInfoData,
    pub customers: customers::CustomersData,
    pub catalog: catalog::CatalogData,
    pub orders: orders::OrdersData,
    pub coupons: coupons::CouponsData,
    pub channels: channels::ChannelsData,
    pub hooks: hooks::HooksData,
    pub carts: carts::CartsData,
    pub inventory: inventory::InventoryData,
    pub subscribers: subscribers::SubscribersData,
    pub pages: pages::PagesData,
    pub promotions: promotions::PromotionsData,
    pub metafields: metafields::MetafieldsData,
    /// Changes not yet handed to webhook delivery.
    pub events: crate::events::EventsData,
}

impl StoreData {
    /// Record counts per collection, for the admin API and tests.
    pub fn counts(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        self.customers.counts(&mut m);
        self.catalog.counts(&mut m);
        self.orders.counts(&mut m);
        self.coupons.counts(&mut m);
        self.channels.counts(&mut m);
        self.hooks.counts(&mut m);
        self.carts.counts(&mut m);
        self.inventory.counts(&mut m);
        self.subscribers.counts(&mut m);
        self.pages.counts(&mut m);
        self.promotions.counts(&mut m);
        self.metafields.counts(&mut m);
        m
    }
}

impl AppState {
    pub fn new(config: SandboxConfig) -> Shared {
        let mut data = StoreData::default();
        crate::seed::generate(&mut data, &config.seed, crate::dates::now());
        Arc::new(Self {
            limiter: RateLimiter::new(config.plan, config.time_scale),
            faults: FaultInjector::new(config.faults.clone()),
            log: RequestLog::default(),
            simulator: crate::simulator::Simulator::default(),
            delivery: Delivery::default(),
            data: RwLock::new(data),
            config,
        })
    }

    /// The one mutation path (see [`crate::mutation`]): runs `write` on the store's data
    /// under the write lock; when it succeeds, bumps `date_modified` of what it changed,
    /// journals the webhook events and wakes delivery. Never hold the result across an
    /// await: the lock is released before this returns.
    pub fn write<T>(
        &self,
        write: impl FnOnce(&mut Tx<'_>) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let now = crate::dates::now();
        let out = {
            let mut guard = self.data.write();
            let mut tx = Tx::new(&mut guard, now);
            let out = write(&mut tx);
            if out.is_ok() {
                tx.commit();
            }
            out
        };
        if out.is_ok() {
            self.delivery.wake();
        }
        out
    }

    /// Drops all data and re-seeds from the configured seed (admin `reset`). Hooks go
    /// too; the event sequence keeps counting.
    pub fn reset(&self) {
        let mut data = StoreData::default();
        crate::seed::generate(&mut data, &self.config.seed, crate::dates::now());
        {
            let mut live = self.data.write();
            data.events = crate::events::EventsData::continuing(live.events.recorded());
            *live = data;
        }
        self.delivery.clear();
        self.log.clear();
    }
}
