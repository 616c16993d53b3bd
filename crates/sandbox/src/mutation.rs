//! The one mutation path: every write to the store (API handlers, the admin API, the
//! simulator) runs inside [`crate::state::AppState::write`], which hands it a [`Tx`].
//!
//! A write says *which record* it changes, through the finders ([`Tx::customer`],
//! [`Tx::order`], [`Tx::product`], [`Tx::product_part`], [`Tx::product_for`], [`Tx::variant`], ...) or, for
//! creates and deletes, [`Tx::created`] / [`Tx::deleted`]. When the write succeeds, the
//! commit ([`Tx::commit`]) is the single place that
//! - bumps `date_modified` of every record changed (and of a product whose variants,
//!   images or custom fields changed, so `date_modified:min` syncs see them), and
//! - turns the changes into journal events with the webhook scopes of docs/api-notes.md
//!   §9.3 and the `data` shapes of §9.2: status changes become `store/order/statusUpdated`,
//!   stock changes become the inventory scopes, a variant becomes `store/sku/*`, ...
//!
//! A write that fails (the closure returns an error) records nothing: handlers validate
//! before they change anything, so a rejected request leaves neither data nor events.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::resources::catalog::model::{CustomField, Image, Product, Variant};
use crate::resources::customers::Customer;
use crate::resources::orders::model::Order;
use crate::state::StoreData;

/// A record a write changed, named the way its webhook scopes name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Record {
    Customer(i64),
    /// A customer address; changing one does not change the customer (docs/api-notes.md §9.3).
    CustomerAddress {
        id: i64,
        customer_id: i64,
    },
    Order(i64),
    /// A refund of an order (`store/order/refund/created`); the order changes too.
    OrderRefund {
        id: i64,
        order_id: i64,
    },
    /// An order shipment (`store/shipment/*`); the order changes too, and says so itself.
    Shipment {
        id: i64,
        order_id: i64,
    },
    Product(i64),
    /// A product's images: they move `date_modified` but fire `store/product/updated` only
    /// when the product gets its first thumbnail (docs/api-notes.md §9.3).
    ProductImages(i64),
    /// A V3 variant (`store/sku/*` with the V2 SKU id; a base variant is its product).
    Variant(i64),
    Category(i64),
    Channel(i64),
    /// A newsletter subscriber (`store/subscriber/*`).
    Subscriber(i64),
    /// A metafield on a record; its scope family depends on the record's kind
    /// (docs/api-notes.md §9.3, §15).
    Metafield {
        id: i64,
        owner: crate::resources::metafields::Owner,
        resource_id: i64,
    },
    /// A record no webhook scope covers (brands, coupons, groups, attributes, trees,
    /// hooks): written through the path, announced to nobody.
    Unannounced,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Created,
    Updated,
    Deleted,
}

/// The fields of a record, as the write first found them, whose change fires a scope of
/// its own.
#[derive(Debug, Clone)]
enum Before {
    Nothing,
    Order { status_id: u8, archived: bool },
    Product { inventory_level: i64 },
    Thumbnail(bool),
    Variant(Box<Variant>),
}

#[derive(Debug)]
struct Entry {
    record: Record,
    change: Change,
    before: Before,
}

/// A write in progress: the store's data plus what the write changed so far. The finders
/// bump `date_modified` at once (so a handler renders the record as it will stay) and the
/// commit bumps it again for records noted with [`Tx::updated`].
#[derive(Debug)]
pub struct Tx<'a> {
    pub data: &'a mut StoreData,
    /// The store clock for this write (whole seconds); every record it touches gets it.
    pub now: DateTime<Utc>,
    entries: Vec<Entry>,
    /// Events stated directly by families the [`Record`]s do not model (carts,
    /// inventory locations), journaled after the records' own.
    announced: Vec<(String, Value)>,
}

/// A record kept in a list on its product (images, custom fields): what
/// [`Tx::product_part`] needs to find it.
pub trait ProductPart: Sized {
    /// The list on the product.
    fn list(p: &mut Product) -> &mut Vec<Self>;
    fn part_id(&self) -> i64;
    /// The record that changes when this part does.
    fn record(product_id: i64) -> Record;
}

impl ProductPart for Image {
    fn list(p: &mut Product) -> &mut Vec<Self> {
        &mut p.images
    }
    fn part_id(&self) -> i64 {
        self.id
    }
    fn record(product_id: i64) -> Record {
        Record::ProductImages(product_id)
    }
}

impl ProductPart for CustomField {
    fn list(p: &mut Product) -> &mut Vec<Self> {
        &mut p.custom_fields
    }
    fn part_id(&self) -> i64 {
        self.id
    }
    fn record(product_id: i64) -> Record {
        Record::Product(product_id)
    }
}

impl<'a> Tx<'a> {
    pub fn new(data: &'a mut StoreData, now: DateTime<Utc>) -> Self {
        Self {
            data,
            now,
            entries: Vec::new(),
            announced: Vec::new(),
        }
    }

    /// Notes that `record` was created (its `date_created`/`date_modified` are the
    /// writer's to set, since it builds the record).
    pub fn created(&mut self, record: Record) {
        self.entries.push(Entry {
            record,
            change: Change::Created,
            before: Before::Nothing,
        });
    }

    /// Notes that `record` is about to change. Call it before changing the record, so
    /// status and stock changes can be told.
    pub fn updated(&mut self, record: Record) {
        let before = self.before(record);
        self.entries.push(Entry {
            record,
            change: Change::Updated,
            before,
        });
    }

    /// Notes that `record` is about to be deleted (call it before removing the record).
    pub fn deleted(&mut self, record: Record) {
        let before = self.before(record);
        self.entries.push(Entry {
            record,
            change: Change::Deleted,
            before,
        });
    }

    /// Journals `scope` with payload `data` when the write succeeds, for a family the
    /// [`Record`]s do not model; like the records' events, nothing is journaled when the
    /// write fails.
    pub fn announce(&mut self, scope: &str, data: Value) {
        self.announced.push((scope.to_owned(), data));
    }

    /// The customer `id`, to change.
    pub fn customer(&mut self, id: i64) -> Option<&mut Customer> {
        if !self.data.customers.exists(id) {
            return None;
        }
        self.updated(Record::Customer(id));
        let now = self.now;
        let c = self.data.customers.customers.get_mut(&id)?;
        c.date_modified = now;
        Some(c)
    }

    /// The order `id` (archived or not), to change.
    pub fn order(&mut self, id: i64) -> Option<&mut Order> {
        self.data.orders.get(id)?;
        self.updated(Record::Order(id));
        let now = self.now;
        let o = self.data.orders.get_mut(id)?;
        o.date_modified = now;
        Some(o)
    }

    /// The product `id`, to change.
    pub fn product(&mut self, id: i64) -> Option<&mut Product> {
        if !self.data.catalog.products.contains_key(&id) {
            return None;
        }
        self.updated(Record::Product(id));
        let now = self.now;
        let p = self.data.catalog.products.get_mut(&id)?;
        p.date_modified = now;
        Some(p)
    }

    /// The variant `id` of product `product_id`, to change; `None` when either is missing
    /// or the variant belongs to another product.
    pub fn variant(&mut self, product_id: i64, id: i64) -> Option<&mut Variant> {
        if self
            .data
            .catalog
            .variants
            .get(&id)
            .is_none_or(|v| v.product_id != product_id)
        {
            return None;
        }
        self.updated(Record::Variant(id));
        touch_product(self.data, product_id, self.now);
        self.data.catalog.variants.get_mut(&id)
    }

    /// Product `pid` (or `no_product`), about to gain or lose a part of kind `T` (an
    /// image, a custom field). The product counts as changed once the write succeeds.
    pub fn product_for<T: ProductPart>(
        &mut self,
        pid: i64,
        no_product: impl FnOnce() -> ApiError,
    ) -> Result<&mut Product, ApiError> {
        if !self.data.catalog.products.contains_key(&pid) {
            return Err(no_product());
        }
        self.updated(T::record(pid));
        let now = self.now;
        let p = self
            .data
            .catalog
            .products
            .get_mut(&pid)
            .ok_or_else(no_product)?;
        p.date_modified = now;
        Ok(p)
    }

    /// The parent-and-child lookup of product sub-resources: product `pid` (or
    /// `no_product`) and the position of its part `part_id` in the list (or `no_part`).
    /// The product counts as changed once the write succeeds.
    pub fn product_part<T: ProductPart>(
        &mut self,
        pid: i64,
        part_id: i64,
        no_product: impl FnOnce() -> ApiError,
        no_part: impl FnOnce() -> ApiError,
    ) -> Result<(&mut Product, usize), ApiError> {
        let Some(p) = self.data.catalog.products.get_mut(&pid) else {
            return Err(no_product());
        };
        let Some(pos) = T::list(p).iter().position(|x| x.part_id() == part_id) else {
            return Err(no_part());
        };
        let p = self.product_for::<T>(pid, no_product)?;
        Ok((p, pos))
    }

    fn before(&self, record: Record) -> Before {
        let d = &*self.data;
        match record {
            Record::Order(id) => d.orders.get(id).map_or(Before::Nothing, |o| Before::Order {
                status_id: o.status_id,
                archived: o.is_deleted,
            }),
            Record::Product(id) => {
                d.catalog
                    .products
                    .get(&id)
                    .map_or(Before::Nothing, |p| Before::Product {
                        inventory_level: p.inventory_level,
                    })
            }
            Record::ProductImages(id) => d.catalog.products.get(&id).map_or(Before::Nothing, |p| {
                Before::Thumbnail(p.images.iter().any(|i| i.is_thumbnail))
            }),
            Record::Variant(id) => d
                .catalog
                .variants
                .get(&id)
                .map_or(Before::Nothing, |v| Before::Variant(Box::new(v.clone()))),
            _ => Before::Nothing,
        }
    }

    /// Bumps `date_modified` of what changed and journals the webhook events. Called by
    /// [`crate::state::AppState::write`] once the write has succeeded.
    pub fn commit(self) {
        let Tx {
            data,
            now,
            entries,
            announced,
        } = self;
        let mut out = Journal::default();
        for e in merge(entries) {
            commit_one(data, now, &e, &mut out);
            if e.change == Change::Deleted {
                forget_metafields(data, e.record);
            }
        }
        for (scope, payload) in out.events {
            data.events.emit(scope, payload, now);
        }
        for (scope, payload) in announced {
            data.events.emit(&scope, payload, now);
        }
    }
}

/// One entry per record: the first `before`, and the strongest change (a record created
/// and then updated in one write was created; one deleted was deleted).
fn merge(entries: Vec<Entry>) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::with_capacity(entries.len());
    for e in entries {
        if e.record == Record::Unannounced {
            continue;
        }
        match out.iter_mut().find(|o| o.record == e.record) {
            Some(o) => {
                o.change = match (o.change, e.change) {
                    (_, Change::Deleted) => Change::Deleted,
                    (Change::Created, _) => Change::Created,
                    (_, c) => c,
                };
            }
            None => out.push(e),
        }
    }
    out
}

/// Events of one write, without repeats (two entries can imply the same event, e.g. a
/// product edited and given its first image).
#[derive(Default)]
struct Journal {
    events: Vec<(&'static str, Value)>,
    seen: HashSet<String>,
}

impl Journal {
    fn push(&mut self, scope: &'static str, data: Value) {
        if self.seen.insert(format!("{scope} {data}")) {
            self.events.push((scope, data));
        }
    }
}

/// Whether stock of product `p` is kept on the product, so its changes fire
/// `store/product/inventory/*` (docs/api-notes.md §9.3): tracked by product, or tracked
/// at all and without option variants.
fn stock_on_product(p: &Product) -> bool {
    p.inventory_tracking == "product"
        || (p.inventory_tracking != "none" && p.base_variant_id.is_some())
}

/// A deleted record takes its metafields with it (docs/api-notes.md §15). Orders are
/// archived, not deleted, and keep theirs.
fn forget_metafields(data: &mut StoreData, record: Record) {
    use crate::resources::metafields::Owner;
    let owner = match record {
        Record::Product(id) => (Owner::Product, id),
        Record::Variant(id) => (Owner::Variant, id),
        Record::Category(id) => (Owner::Category, id),
        Record::Customer(id) => (Owner::Customer, id),
        _ => return,
    };
    data.metafields.forget(owner.0, owner.1);
    if let Record::Product(_) = record {
        // Its variants went with it.
        let variants = &data.catalog.variants;
        data.metafields
            .fields
            .retain(|_, m| m.owner != Owner::Variant || variants.contains_key(&m.resource_id));
    }
}

fn touch_product(data: &mut StoreData, id: i64, now: DateTime<Utc>) {
    if let Some(p) = data.catalog.products.get_mut(&id) {
        p.date_modified = now;
    }
}

fn commit_one(data: &mut StoreData, now: DateTime<Utc>, e: &Entry, out: &mut Journal) {
    match e.record {
        Record::Customer(id) => {
            if e.change == Change::Updated
                && let Some(c) = data.customers.customers.get_mut(&id)
            {
                c.date_modified = now;
            }
            let scope = match e.change {
                Change::Created => "store/customer/created",
                Change::Updated => "store/customer/updated",
                Change::Deleted => "store/customer/deleted",
            };
            out.push(scope, json!({"type": "customer", "id": id}));
        }
        Record::CustomerAddress { id, customer_id } => {
            let scope = match e.change {
                Change::Created => "store/customer/address/created",
                Change::Updated => "store/customer/address/updated",
                Change::Deleted => "store/customer/address/deleted",
            };
            out.push(
                scope,
                json!({"type": "customer", "id": id, "address": {"customer_id": customer_id}}),
            );
        }
        Record::Order(id) => commit_order(data, now, id, e, out),
        Record::OrderRefund { id, order_id } => {
            if e.change == Change::Created {
                out.push(
                    "store/order/refund/created",
                    json!({"type": "order", "id": order_id, "refund": {"refund_id": id}}),
                );
            }
        }
        Record::Shipment { id, order_id } => {
            out.push(
                match e.change {
                    Change::Created => "store/shipment/created",
                    Change::Updated => "store/shipment/updated",
                    Change::Deleted => "store/shipment/deleted",
                },
                json!({"type": "shipment", "id": id, "orderId": order_id}),
            );
        }
        Record::Product(id) => commit_product(data, now, id, e, out),
        Record::ProductImages(id) => {
            let Some(p) = data.catalog.products.get_mut(&id) else {
                return;
            };
            p.date_modified = now;
            let had = matches!(e.before, Before::Thumbnail(true));
            if !had && p.images.iter().any(|i| i.is_thumbnail) {
                out.push(
                    "store/product/updated",
                    json!({"type": "product", "id": id}),
                );
            }
        }
        Record::Variant(id) => commit_variant(data, now, id, e, out),
        Record::Category(id) => {
            let scope = match e.change {
                Change::Created => "store/category/created",
                Change::Updated => "store/category/updated",
                Change::Deleted => "store/category/deleted",
            };
            out.push(scope, json!({"type": "category", "id": id}));
        }
        Record::Channel(id) => {
            // docs/api-notes.md §9.3 lists channel created/updated only (no deleted).
            let scope = match e.change {
                Change::Created => "store/channel/created",
                Change::Updated => "store/channel/updated",
                Change::Deleted => return,
            };
            out.push(scope, json!({"type": "channel", "id": id}));
        }
        Record::Subscriber(id) => {
            let scope = match e.change {
                Change::Created => "store/subscriber/created",
                Change::Updated => "store/subscriber/updated",
                Change::Deleted => "store/subscriber/deleted",
            };
            out.push(scope, json!({"type": "subscriber", "id": id}));
        }
        Record::Metafield {
            id,
            owner,
            resource_id,
        } => {
            let Some(scope) = owner.scope(e.change) else {
                return;
            };
            out.push(
                scope,
                json!({
                    "metafield_id": id,
                    "resource_id": resource_id.to_string(),
                    "resource_type": owner.resource_type(),
                }),
            );
        }
        Record::Unannounced => {}
    }
}

fn commit_order(data: &mut StoreData, now: DateTime<Utc>, id: i64, e: &Entry, out: &mut Journal) {
    let order_data = json!({"type": "order", "id": id});
    match e.change {
        Change::Created => out.push("store/order/created", order_data),
        // Orders are archived, never deleted (docs/api-notes.md §6.1).
        Change::Deleted => out.push("store/order/archived", order_data),
        Change::Updated => {
            let Some(o) = data.orders.get_mut(id) else {
                return;
            };
            o.date_modified = now;
            // `updated` fires on any change to an order (docs/api-notes.md §9.3).
            out.push("store/order/updated", order_data.clone());
            if let Before::Order {
                status_id,
                archived,
            } = e.before
            {
                if status_id != o.status_id {
                    out.push(
                        "store/order/statusUpdated",
                        json!({"type": "order", "id": id, "status": {
                            "previous_status_id": status_id,
                            "new_status_id": o.status_id,
                        }}),
                    );
                }
                if !archived && o.is_deleted {
                    out.push("store/order/archived", order_data);
                }
            }
        }
    }
}

fn commit_product(data: &mut StoreData, now: DateTime<Utc>, id: i64, e: &Entry, out: &mut Journal) {
    let product_data = json!({"type": "product", "id": id});
    match e.change {
        Change::Created => out.push("store/product/created", product_data),
        Change::Deleted => out.push("store/product/deleted", product_data),
        Change::Updated => {
            let Some(p) = data.catalog.products.get_mut(&id) else {
                return;
            };
            p.date_modified = now;
            out.push("store/product/updated", product_data);
            if let Before::Product { inventory_level } = e.before
                && inventory_level != p.inventory_level
                && stock_on_product(p)
            {
                out.push(
                    "store/product/inventory/updated",
                    product_inventory(id, p.inventory_level),
                );
            }
        }
    }
}

/// `store/product/inventory/updated` data. A write through the catalog API sets the level,
/// so the method is `absolute` and `value` the new level (docs/api-notes.md §9.2).
fn product_inventory(id: i64, level: i64) -> Value {
    json!({"type": "product", "id": id, "inventory": {
        "product_id": id, "method": "absolute", "value": level,
    }})
}

fn commit_variant(data: &mut StoreData, now: DateTime<Utc>, id: i64, e: &Entry, out: &mut Journal) {
    // What the variant was (updates, deletes) or is (creates).
    let current = data.catalog.variants.get(&id).cloned();
    let known = match (&e.before, &current) {
        (Before::Variant(v), _) => Some((**v).clone()),
        (_, Some(v)) => Some(v.clone()),
        _ => None,
    };
    let Some(known) = known else { return };
    let pid = known.product_id;
    touch_product(data, pid, now);
    let Some(sku_id) = known.sku_id else {
        // A base variant is not a SKU (docs/api-notes.md §3.4): its writes are writes to
        // the product.
        if e.change == Change::Updated {
            out.push(
                "store/product/updated",
                json!({"type": "product", "id": pid}),
            );
            let tracked = data
                .catalog
                .products
                .get(&pid)
                .is_some_and(stock_on_product);
            if let Some(v) = &current
                && v.inventory_level != known.inventory_level
                && tracked
            {
                out.push(
                    "store/product/inventory/updated",
                    product_inventory(pid, v.inventory_level),
                );
            }
        }
        return;
    };
    let sku_data =
        json!({"type": "sku", "id": sku_id, "sku": {"product_id": pid, "variant_id": id}});
    match e.change {
        Change::Created => out.push("store/sku/created", sku_data),
        Change::Deleted => out.push("store/sku/deleted", sku_data),
        Change::Updated => {
            let Some(v) = current else { return };
            let stock_changed = v.inventory_level != known.inventory_level;
            let mut without_stock = v.clone();
            without_stock.inventory_level = known.inventory_level;
            // A stock-only change fires only the SKU inventory scope (docs/api-notes.md §9.3).
            if without_stock != known || !stock_changed {
                out.push("store/sku/updated", sku_data);
            }
            let by_variant = data
                .catalog
                .products
                .get(&pid)
                .is_some_and(|p| p.inventory_tracking == "variant");
            if stock_changed && by_variant {
                out.push(
                    "store/sku/inventory/updated",
                    json!({"type": "sku", "id": sku_id, "inventory": {
                        "product_id": pid, "variant_id": id,
                        "method": "absolute", "value": v.inventory_level,
                    }}),
                );
            }
        }
    }
}
