//! Orders (V2) with their lines, shipping addresses, coupons, consignments, shipments and
//! fees, the order statuses, and the V3 payment side: transactions and refunds
//! (docs/api-notes.md §6).
//!
//! Orders live in one `Vec` in id order: ids only ever grow and orders are archived,
//! never removed, so a push keeps the vector sorted, a lookup is a binary search, and the
//! default list (id ascending) pages without sorting anything.
//!
//! Submodules: [`model`] (records), [`render`] (JSON shapes), [`list`] (list, filters,
//! count), [`write`] (create, update, archive, shipments), [`sub`] (sub-resources and
//! statuses), [`payments`] (V3 transactions and refunds), [`seeding`].

mod input;
mod list;
pub mod model;
mod payments;
mod render;
mod seeding;
mod sub;
mod write;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use rand::rngs::SmallRng;
use serde_json::{Map, Value};

use self::model::{Order, Refund};
use crate::error::{ApiError, ApiVersion};
use crate::query::Query;
use crate::seed::SeedSpec;
use crate::state::{Shared, StoreData};

/// Next-id counters. Every id is store-wide and monotonic, as BigCommerce's are (an order
/// product id identifies a line across all orders).
/// Writes allocate from a copy and store it back only when they succeed, so a refused
/// request leaves no gap in the ids.
#[derive(Debug, Default, Clone)]
pub(crate) struct IdCounters {
    order: i64,
    line: i64,
    address: i64,
    option: i64,
    order_coupon: i64,
    shipment: i64,
    fee: i64,
    pickup: i64,
    transaction: i64,
    refund: i64,
    refund_payment: i64,
}

macro_rules! next_id_fns {
    ($($name:ident => $field:ident),* $(,)?) => {
        impl IdCounters {
            $(pub(crate) fn $name(&mut self) -> i64 {
                self.$field += 1;
                self.$field
            })*
        }
    };
}

next_id_fns! {
    next_order => order,
    next_line => line,
    next_address => address,
    next_option => option,
    next_order_coupon => order_coupon,
    next_shipment => shipment,
    next_fee => fee,
    next_pickup => pickup,
    next_transaction => transaction,
    next_refund => refund,
    next_refund_payment => refund_payment,
}

/// Every order of the store (archived ones included) and every refund.
#[derive(Debug, Default)]
pub struct OrdersData {
    /// In id order (see the module docs).
    pub(crate) orders: Vec<Order>,
    /// In id order.
    pub(crate) refunds: Vec<Refund>,
    pub(crate) ids: IdCounters,
}

impl OrdersData {
    pub fn counts(&self, m: &mut Map<String, Value>) {
        let archived = self.orders.iter().filter(|o| o.is_deleted).count();
        let lines: usize = self.orders.iter().map(|o| o.lines.len()).sum();
        let addresses: usize = self.orders.iter().map(|o| o.shipping_addresses.len()).sum();
        let shipments: usize = self.orders.iter().map(|o| o.shipments.len()).sum();
        let transactions: usize = self.orders.iter().map(|o| o.transactions.len()).sum();
        m.insert("orders".into(), self.orders.len().into());
        m.insert("orders_archived".into(), archived.into());
        m.insert("order_lines".into(), lines.into());
        m.insert("order_shipping_addresses".into(), addresses.into());
        m.insert("order_shipments".into(), shipments.into());
        m.insert("transactions".into(), transactions.into());
        m.insert("refunds".into(), self.refunds.len().into());
    }

    /// An order by id, archived or not.
    pub fn get(&self, id: i64) -> Option<&Order> {
        self.orders
            .binary_search_by_key(&id, |o| o.id)
            .ok()
            .map(|i| &self.orders[i])
    }

    pub(crate) fn get_mut(&mut self, id: i64) -> Option<&mut Order> {
        match self.orders.binary_search_by_key(&id, |o| o.id) {
            Ok(i) => Some(&mut self.orders[i]),
            Err(_) => None,
        }
    }

    /// Adds an order whose id came from [`IdCounters::next_order`] (so it sorts last).
    pub(crate) fn push(&mut self, order: Order) {
        debug_assert!(self.orders.last().is_none_or(|last| last.id < order.id));
        self.orders.push(order);
    }

    pub fn len(&self) -> usize {
        self.orders.len()
    }

    pub fn is_empty(&self) -> bool {
        self.orders.is_empty()
    }
}

pub fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/v2/orders",
            get(list::list)
                .post(write::create)
                .delete(write::archive_all),
        )
        .route("/v2/orders/count", get(list::count))
        .route(
            "/v2/orders/{order_id}",
            get(sub::order).put(write::update).delete(write::archive),
        )
        .route("/v2/orders/{order_id}/products", get(sub::products))
        .route(
            "/v2/orders/{order_id}/products/{line_id}",
            get(sub::product),
        )
        // The spec's links spell it `shippingaddresses`; serve both spellings.
        .route(
            "/v2/orders/{order_id}/shipping_addresses",
            get(sub::shipping_addresses),
        )
        .route(
            "/v2/orders/{order_id}/shippingaddresses",
            get(sub::shipping_addresses),
        )
        .route(
            "/v2/orders/{order_id}/shipping_addresses/{address_id}",
            get(sub::shipping_address).put(write::update_shipping_address),
        )
        .route(
            "/v2/orders/{order_id}/shippingaddresses/{address_id}",
            get(sub::shipping_address).put(write::update_shipping_address),
        )
        .route(
            "/v2/orders/{order_id}/shipping_addresses/{address_id}/shipping_quotes",
            get(sub::shipping_quotes),
        )
        .route(
            "/v2/orders/{order_id}/shippingaddresses/{address_id}/shippingquotes",
            get(sub::shipping_quotes),
        )
        .route("/v2/orders/{order_id}/coupons", get(sub::coupons))
        .route("/v2/orders/{order_id}/consignments", get(sub::consignments))
        .route(
            "/v2/orders/{order_id}/consignments/shipping/{consignment_id}/shipping_quotes",
            get(sub::consignment_quotes),
        )
        .route("/v2/orders/{order_id}/fees", get(sub::fees))
        .route(
            "/v2/orders/{order_id}/shipments",
            get(sub::shipments)
                .post(write::create_shipment)
                .delete(write::delete_shipments),
        )
        .route(
            "/v2/orders/{order_id}/shipments/count",
            get(sub::shipments_count),
        )
        .route(
            "/v2/orders/{order_id}/shipments/{shipment_id}",
            get(sub::shipment)
                .put(write::update_shipment)
                .delete(write::delete_shipment),
        )
        .route("/v2/order_statuses", get(sub::statuses))
        .route("/v2/order_statuses/{status_id}", get(sub::status))
        .route(
            "/v3/orders/{order_id}/transactions",
            get(payments::transactions),
        )
        .route(
            "/v3/orders/payment_actions/refunds",
            get(payments::all_refunds),
        )
        .route(
            "/v3/orders/payment_actions/refunds/{refund_id}",
            get(payments::refund),
        )
        .route(
            "/v3/orders/{order_id}/payment_actions/refunds",
            get(payments::order_refunds).post(payments::create_refund),
        )
        .route(
            "/v3/orders/{order_id}/payment_actions/refund_quotes",
            post(payments::refund_quote),
        )
}

pub fn seed(data: &mut StoreData, spec: &SeedSpec, rng: &mut SmallRng, now: DateTime<Utc>) {
    seeding::seed(data, spec, rng, now);
}

/// Route parameters as axum gives them (the outer `store_hash` included).
pub(crate) type PathParams = Vec<(String, String)>;

/// An integer path parameter; anything else names no record, so it is a 404 in the
/// route's error shape.
pub(crate) fn path_id(params: &PathParams, name: &str, v: ApiVersion) -> Result<i64, ApiError> {
    crate::query::path_int(params, name).ok_or_else(|| ApiError::not_found(v))
}

pub(crate) fn v2_query(raw: Option<String>) -> Query {
    Query::parse(raw.as_deref(), ApiVersion::V2)
}

pub(crate) fn v3_query(raw: Option<String>) -> Query {
    Query::parse(raw.as_deref(), ApiVersion::V3)
}

/// `http://{Host}/stores/{hash}/v2`: the prefix of `url` links in order bodies. Real
/// stores link to `api.bigcommerce.com`; pointing at the sandbox itself keeps a client
/// that follows links on the emulator.
pub(crate) fn v2_base(headers: &HeaderMap, store_hash: &str) -> String {
    match headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
    {
        Some(host) => format!("http://{host}/stores/{store_hash}/v2"),
        None => format!("https://api.bigcommerce.com/stores/{store_hash}/v2"),
    }
}

pub(crate) fn order_not_found() -> ApiError {
    ApiError::not_found(ApiVersion::V2)
}
