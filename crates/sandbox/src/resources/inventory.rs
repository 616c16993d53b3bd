//! Inventory and locations (V3 `/v3/inventory`, docs/api-notes.md §5): locations, stock per
//! location, absolute and relative adjustments, and the inventory item lists.
//!
//! The catalog's `inventory_level` (on the product when it tracks inventory by product,
//! on the variant when by variant) stays the store's total, as the API shows it
//! (docs/api-notes.md §5: catalog `inventory_level` is total sellable stock). Stock at
//! other locations is kept here; the default location (id 1) holds the rest, so a store
//! that never uses a second location behaves exactly as the catalog says, and a catalog
//! write of `inventory_level` lands on the default location.
//!
//! Each adjusted item fires the inventory scope its tracking calls for
//! (`store/product/inventory/updated` or `store/sku/inventory/updated`, docs/api-notes.md
//! §9.3) and the multi-location `stock_changed` scope (plus `low_stock_reached` /
//! `out_of_stock_reached` when a level crosses the warning level or reaches 0), and
//! touches the product's `date_modified`.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::body::{JsonBody, batch};
use crate::error::{ApiError, ApiResult, ApiVersion};
use crate::paging::v3_offset;
use crate::query::Query;
use crate::resources::catalog::{CatalogData, SkuOwner};
use crate::state::{Shared, StoreData};

const V3: ApiVersion = ApiVersion::V3;
/// Items per adjustment request (docs/api-notes.md §5, §11.5).
pub const MAX_ADJUSTMENTS: usize = 2000;
/// Most stock per product or variant per location (docs/api-notes.md §5).
pub const MAX_QUANTITY: i64 = 2_147_483_647;
/// The default location every store has.
pub const DEFAULT_LOCATION: i64 = 1;
/// Largest page of inventory items ("limit of 1000 items", docs/api-notes.md §5).
const MAX_ITEMS_LIMIT: u32 = 1000;
const MAX_LOCATIONS_LIMIT: u32 = 250;
/// The multi-location scopes: inventory is not per channel, so `*` (all channels) is the
/// scope's own spelling and one event fires per change (docs/api-notes.md §9.3).
const SCOPE_STOCK_CHANGED: &str = "store/channel/*/inventory/product/stock_changed";
const SCOPE_LOW_STOCK: &str = "store/channel/*/inventory/product/low_stock_reached";
const SCOPE_OUT_OF_STOCK: &str = "store/channel/*/inventory/product/out_of_stock_reached";

#[derive(Debug, Clone)]
pub struct Location {
    pub id: i64,
    pub code: String,
    pub label: String,
    pub description: String,
    pub type_id: String,
    pub enabled: bool,
    pub storefront_visibility: bool,
    pub time_zone: String,
    pub address: Value,
}

impl Location {
    fn render(&self) -> Value {
        json!({
            "id": self.id,
            "code": self.code,
            "label": self.label,
            "description": self.description,
            "managed_by_external_source": false,
            "type_id": self.type_id,
            "enabled": self.enabled,
            "operating_hours": Value::Null,
            "time_zone": self.time_zone,
            "address": self.address,
            "storefront_visibility": self.storefront_visibility,
            "special_hours": [],
        })
    }
}

/// What holds stock: a product tracked by product (or not tracked), or a variant of a
/// product tracked by variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StockKey {
    Product(i64),
    Variant(i64),
}

#[derive(Debug)]
pub struct InventoryData {
    pub(crate) locations: BTreeMap<i64, Location>,
    /// Stock at locations other than the default one.
    pub(crate) elsewhere: HashMap<(i64, StockKey), i64>,
    last_location_id: i64,
    transactions: u64,
}

impl Default for InventoryData {
    fn default() -> Self {
        let default = Location {
            id: DEFAULT_LOCATION,
            code: "BC-LOCATION-1".to_owned(),
            label: "Default location".to_owned(),
            description: String::new(),
            type_id: "PHYSICAL".to_owned(),
            enabled: true,
            storefront_visibility: true,
            time_zone: "Etc/UTC".to_owned(),
            address: Value::Null,
        };
        Self {
            locations: BTreeMap::from([(DEFAULT_LOCATION, default)]),
            elsewhere: HashMap::new(),
            last_location_id: DEFAULT_LOCATION,
            transactions: 0,
        }
    }
}

impl InventoryData {
    pub fn counts(&self, m: &mut Map<String, Value>) {
        m.insert("inventory_locations".into(), self.locations.len().into());
    }

    fn held_elsewhere(&self, key: StockKey) -> i64 {
        self.elsewhere
            .iter()
            .filter(|((_, k), _)| *k == key)
            .map(|(_, q)| *q)
            .sum()
    }

    /// Stock of `key` at `location`, given the catalog total.
    fn level_at(&self, location: i64, key: StockKey, total: i64) -> i64 {
        if location == DEFAULT_LOCATION {
            (total - self.held_elsewhere(key)).max(0)
        } else {
            self.elsewhere.get(&(location, key)).copied().unwrap_or(0)
        }
    }

    fn next_transaction(&mut self) -> String {
        self.transactions += 1;
        format!("00000000-0000-4000-8000-{:012x}", self.transactions)
    }
}

/// An adjustment target resolved against the catalog.
#[derive(Debug, Clone, Copy)]
struct Target {
    key: StockKey,
    product_id: i64,
    /// The variant's V2 SKU id (variant tracking only).
    sku_id: Option<i64>,
}

fn catalog_total(cat: &CatalogData, key: StockKey) -> i64 {
    match key {
        StockKey::Product(id) => cat.products.get(&id).map_or(0, |p| p.inventory_level),
        StockKey::Variant(id) => cat.variants.get(&id).map_or(0, |v| v.inventory_level),
    }
}

fn warning_level(cat: &CatalogData, key: StockKey) -> i64 {
    match key {
        StockKey::Product(id) => cat
            .products
            .get(&id)
            .map_or(0, |p| p.inventory_warning_level),
        StockKey::Variant(id) => cat
            .variants
            .get(&id)
            .map_or(0, |v| v.inventory_warning_level),
    }
}

fn set_catalog_total(cat: &mut CatalogData, key: StockKey, total: i64) {
    match key {
        StockKey::Product(id) => {
            if let Some(p) = cat.products.get_mut(&id) {
                p.inventory_level = total;
            }
        }
        StockKey::Variant(id) => {
            if let Some(v) = cat.variants.get_mut(&id) {
                v.inventory_level = total;
            }
        }
    }
}

fn field_error(key: String, msg: impl Into<String>) -> ApiError {
    let msg = msg.into();
    ApiError::unprocessable(V3, msg.clone()).with_error(key, msg)
}

/// Which stock one adjustment item names: exactly one of `sku`, `variant_id`,
/// `product_id` (docs/api-notes.md §5), checked against the product's tracking.
fn resolve(cat: &CatalogData, item: &Map<String, Value>, i: usize) -> Result<Target, ApiError> {
    let sku = item.get("sku").and_then(Value::as_str);
    let variant_id = item.get("variant_id").and_then(Value::as_i64);
    let product_id = item.get("product_id").and_then(Value::as_i64);
    let named = [sku.is_some(), variant_id.is_some(), product_id.is_some()]
        .iter()
        .filter(|b| **b)
        .count();
    if named != 1 {
        return Err(field_error(
            format!("items.{i}"),
            format!("Item {i} must name exactly one of 'sku', 'variant_id' or 'product_id'."),
        ));
    }
    let (variant_id, product_id) = match (sku, variant_id, product_id) {
        (Some(s), _, _) => match cat.sku_holder(s) {
            Some(SkuOwner::Product(p)) => (None, Some(p)),
            Some(SkuOwner::Variant(v)) => (Some(v), None),
            None => {
                return Err(field_error(
                    format!("items.{i}.sku"),
                    format!("No product or variant has the SKU {s:?}."),
                ));
            }
        },
        (None, v, p) => (v, p),
    };
    if let Some(vid) = variant_id {
        let v = cat.variants.get(&vid).ok_or_else(|| {
            field_error(
                format!("items.{i}.variant_id"),
                format!("The variant {vid} does not exist."),
            )
        })?;
        let p = cat.products.get(&v.product_id);
        let by_variant = p.is_some_and(|p| p.inventory_tracking == "variant");
        if v.is_base() || !by_variant {
            // A base variant's stock is its product's.
            if !v.is_base() {
                return Err(field_error(
                    format!("items.{i}.variant_id"),
                    format!(
                        "The product {} tracks inventory by product, not by variant; adjust it with 'product_id'.",
                        v.product_id
                    ),
                ));
            }
            return Ok(Target {
                key: StockKey::Product(v.product_id),
                product_id: v.product_id,
                sku_id: None,
            });
        }
        return Ok(Target {
            key: StockKey::Variant(vid),
            product_id: v.product_id,
            sku_id: v.sku_id,
        });
    }
    let pid = product_id.unwrap_or_default();
    let p = cat.products.get(&pid).ok_or_else(|| {
        field_error(
            format!("items.{i}.product_id"),
            format!("The product {pid} does not exist."),
        )
    })?;
    if p.inventory_tracking == "variant" && p.base_variant_id.is_none() {
        return Err(field_error(
            format!("items.{i}.product_id"),
            format!(
                "The product {pid} tracks inventory by variant; adjust each variant with 'variant_id' or 'sku'."
            ),
        ));
    }
    Ok(Target {
        key: StockKey::Product(pid),
        product_id: pid,
        sku_id: None,
    })
}

/// How an adjustment sets stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `PUT /adjustments/absolute`: the quantity is the new level.
    Absolute,
    /// `POST /adjustments/relative`: the quantity is added (may be negative).
    Relative,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::Absolute => "absolute",
            Method::Relative => "relative",
        }
    }
}

/// Applies one adjustment request to the store; all items or none (422 names the first
/// bad item). Returns the transaction id.
pub fn adjust(
    data: &mut StoreData,
    method: Method,
    body: Value,
    now: DateTime<Utc>,
) -> Result<String, ApiError> {
    let items = match body {
        Value::Object(mut m) => m.remove("items").unwrap_or(Value::Null),
        _ => Value::Null,
    };
    let Value::Array(items) = items else {
        return Err(field_error(
            "items".to_owned(),
            "The field 'items' is required: a list of {location_id, quantity, sku | variant_id | product_id}.",
        ));
    };
    if items.len() > MAX_ADJUSTMENTS {
        return Err(ApiError::batch_too_large(V3, MAX_ADJUSTMENTS));
    }
    // Validate everything first, on planned levels, so a bad item changes nothing.
    let mut planned: Vec<(Target, i64, i64, i64)> = Vec::with_capacity(items.len());
    let mut level_now: HashMap<(i64, StockKey), i64> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        let m = item.as_object().ok_or_else(|| {
            field_error(format!("items.{i}"), format!("Item {i} must be an object."))
        })?;
        let target = resolve(&data.catalog, m, i)?;
        let location = m
            .get("location_id")
            .and_then(Value::as_i64)
            .unwrap_or(DEFAULT_LOCATION);
        if !data.inventory.locations.contains_key(&location) {
            return Err(field_error(
                format!("items.{i}.location_id"),
                format!(
                    "The location {location} does not exist (GET /v3/inventory/locations lists them)."
                ),
            ));
        }
        let quantity = m.get("quantity").and_then(Value::as_i64).ok_or_else(|| {
            field_error(
                format!("items.{i}.quantity"),
                format!("Item {i} needs a whole-number 'quantity'."),
            )
        })?;
        let slot = (location, target.key);
        let before = match level_now.get(&slot) {
            Some(q) => *q,
            None => data.inventory.level_at(
                location,
                target.key,
                catalog_total(&data.catalog, target.key),
            ),
        };
        let after = match method {
            Method::Absolute => quantity,
            Method::Relative => before.saturating_add(quantity),
        };
        if !(0..=MAX_QUANTITY).contains(&after) {
            return Err(field_error(
                format!("items.{i}.quantity"),
                format!(
                    "Item {i} would leave {after} in stock at location {location}; stock per location must be between 0 and {MAX_QUANTITY}."
                ),
            ));
        }
        level_now.insert(slot, after);
        planned.push((target, location, before, after));
    }
    for (target, location, before, after) in planned {
        let delta = after - before;
        let total = catalog_total(&data.catalog, target.key) + delta;
        set_catalog_total(&mut data.catalog, target.key, total.clamp(0, MAX_QUANTITY));
        if location != DEFAULT_LOCATION {
            data.inventory
                .elsewhere
                .insert((location, target.key), after);
        }
        if let Some(p) = data.catalog.products.get_mut(&target.product_id) {
            p.date_modified = now;
        }
        let value = match method {
            Method::Absolute => after,
            Method::Relative => delta,
        };
        record_change(data, target, location, method, value, before, after, now);
    }
    Ok(data.inventory.next_transaction())
}

/// The events of one stock change. `value` is the level set (absolute) or the change
/// (relative): our reading of docs/api-notes.md §9.2, where the payload names the method.
#[allow(clippy::too_many_arguments)]
fn record_change(
    data: &mut StoreData,
    target: Target,
    location: i64,
    method: Method,
    value: i64,
    before: i64,
    after: i64,
    now: DateTime<Utc>,
) {
    let (variant_id, product_id) = match target.key {
        StockKey::Variant(v) => (Some(v), target.product_id),
        StockKey::Product(p) => (
            data.catalog
                .products
                .get(&p)
                .and_then(|p| p.base_variant_id),
            p,
        ),
    };
    match target.key {
        StockKey::Product(pid) => data.events.emit(
            "store/product/inventory/updated",
            json!({
                "type": "product",
                "id": pid,
                "inventory": { "product_id": pid, "method": method.name(), "value": value },
            }),
            now,
        ),
        StockKey::Variant(vid) => data.events.emit(
            "store/sku/inventory/updated",
            json!({
                "type": "sku",
                "id": target.sku_id,
                "inventory": {
                    "product_id": product_id,
                    "variant_id": vid,
                    "method": method.name(),
                    "value": value,
                },
            }),
            now,
        ),
    }
    let location_data =
        json!({ "product_id": product_id, "variant_id": variant_id, "location_id": location });
    data.events
        .emit(SCOPE_STOCK_CHANGED, location_data.clone(), now);
    let warning = warning_level(&data.catalog, target.key);
    if after == 0 && before > 0 {
        data.events.emit(SCOPE_OUT_OF_STOCK, location_data, now);
    } else if warning > 0 && after <= warning && before > warning {
        data.events.emit(SCOPE_LOW_STOCK, location_data, now);
    }
}

// ---------------------------------------------------------------- locations

fn location_from(m: &Map<String, Value>, into: &mut Location, i: usize) -> Result<(), ApiError> {
    let text = |key: &str, max: usize| -> Result<Option<String>, ApiError> {
        match m.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.chars().count() <= max => Ok(Some(s.clone())),
            Some(_) => Err(field_error(
                format!("{i}.{key}"),
                format!("The field '{key}' must be text of at most {max} characters."),
            )),
        }
    };
    if let Some(s) = text("code", 255)? {
        into.code = s;
    }
    if let Some(s) = text("label", 255)? {
        into.label = s;
    }
    if let Some(s) = text("description", 65_535)? {
        into.description = s;
    }
    if let Some(s) = text("type_id", 32)? {
        into.type_id = s;
    }
    if let Some(s) = text("time_zone", 64)? {
        into.time_zone = s;
    }
    if let Some(b) = m.get("enabled").and_then(Value::as_bool) {
        into.enabled = b;
    }
    if let Some(b) = m.get("storefront_visibility").and_then(Value::as_bool) {
        into.storefront_visibility = b;
    }
    if let Some(a) = m.get("address").filter(|a| a.is_object()) {
        into.address = a.clone();
    }
    Ok(())
}

fn code_taken(inv: &InventoryData, code: &str, except: i64) -> bool {
    inv.locations
        .values()
        .any(|l| l.id != except && l.code.eq_ignore_ascii_case(code))
}

/// `POST /v3/inventory/locations`: a batch of new locations; fires
/// `store/inventory/location/created` for each.
pub fn create_locations(
    data: &mut StoreData,
    items: &[Value],
    now: DateTime<Utc>,
) -> Result<Vec<i64>, ApiError> {
    let mut drafts: Vec<Location> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let m = item.as_object().ok_or_else(|| {
            field_error(format!("{i}"), format!("Location {i} must be an object."))
        })?;
        let mut loc = Location {
            id: 0,
            code: String::new(),
            label: String::new(),
            description: String::new(),
            type_id: "PHYSICAL".to_owned(),
            enabled: true,
            storefront_visibility: true,
            time_zone: "Etc/UTC".to_owned(),
            address: Value::Null,
        };
        location_from(m, &mut loc, i)?;
        if loc.code.is_empty() || loc.label.is_empty() {
            return Err(field_error(
                format!("{i}"),
                format!("Location {i} needs a 'code' and a 'label'."),
            ));
        }
        if code_taken(&data.inventory, &loc.code, 0)
            || drafts
                .iter()
                .any(|d| d.code.eq_ignore_ascii_case(&loc.code))
        {
            return Err(field_error(
                format!("{i}.code"),
                format!(
                    "The location code {:?} is already used; codes are unique.",
                    loc.code
                ),
            ));
        }
        drafts.push(loc);
    }
    let mut ids = Vec::with_capacity(drafts.len());
    for mut loc in drafts {
        data.inventory.last_location_id += 1;
        loc.id = data.inventory.last_location_id;
        ids.push(loc.id);
        data.events.emit(
            "store/inventory/location/created",
            json!({ "location_id": loc.id }),
            now,
        );
        data.inventory.locations.insert(loc.id, loc);
    }
    Ok(ids)
}

/// `PUT /v3/inventory/locations`: partial updates by `id`; fires
/// `store/inventory/location/updated` for each.
pub fn update_locations(
    data: &mut StoreData,
    items: &[Value],
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let mut edited: Vec<Location> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let m = item.as_object().ok_or_else(|| {
            field_error(format!("{i}"), format!("Location {i} must be an object."))
        })?;
        let id = m.get("id").and_then(Value::as_i64).ok_or_else(|| {
            field_error(
                format!("{i}.id"),
                format!("Location {i} needs the 'id' to update."),
            )
        })?;
        let mut loc = data.inventory.locations.get(&id).cloned().ok_or_else(|| {
            field_error(
                format!("{i}.id"),
                format!("The location {id} does not exist."),
            )
        })?;
        location_from(m, &mut loc, i)?;
        if code_taken(&data.inventory, &loc.code, id) {
            return Err(field_error(
                format!("{i}.code"),
                format!(
                    "The location code {:?} is already used; codes are unique.",
                    loc.code
                ),
            ));
        }
        edited.push(loc);
    }
    for loc in edited {
        data.events.emit(
            "store/inventory/location/updated",
            json!({ "location_id": loc.id }),
            now,
        );
        data.inventory.locations.insert(loc.id, loc);
    }
    Ok(())
}

// ---------------------------------------------------------------- handlers

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/v3/inventory/adjustments/absolute", put(absolute))
        .route("/v3/inventory/adjustments/relative", post(relative))
        .route("/v3/inventory/items", get(items))
        .route(
            "/v3/inventory/locations",
            get(list_locations)
                .post(post_locations)
                .put(put_locations)
                .delete(delete_locations),
        )
        .route(
            "/v3/inventory/locations/{location_id}/items",
            get(location_items),
        )
}

fn transaction(id: String) -> Response {
    (StatusCode::OK, Json(json!({ "transaction_id": id }))).into_response()
}

async fn absolute(State(st): State<Shared>, JsonBody(body): JsonBody) -> ApiResult {
    let id = st.write(|tx| adjust(tx.data, Method::Absolute, body, tx.now))?;
    Ok(transaction(id))
}

async fn relative(State(st): State<Shared>, JsonBody(body): JsonBody) -> ApiResult {
    let id = st.write(|tx| adjust(tx.data, Method::Relative, body, tx.now))?;
    Ok(transaction(id))
}

async fn post_locations(State(st): State<Shared>, JsonBody(body): JsonBody) -> ApiResult {
    let items = batch(V3, body, MAX_ADJUSTMENTS)?;
    let id = st.write(|tx| {
        create_locations(tx.data, &items, tx.now)?;
        Ok(tx.data.inventory.next_transaction())
    })?;
    Ok(transaction(id))
}

async fn put_locations(State(st): State<Shared>, JsonBody(body): JsonBody) -> ApiResult {
    let items = batch(V3, body, MAX_ADJUSTMENTS)?;
    let id = st.write(|tx| {
        update_locations(tx.data, &items, tx.now)?;
        Ok(tx.data.inventory.next_transaction())
    })?;
    Ok(transaction(id))
}

/// `DELETE /v3/inventory/locations?location_id:in=`: the default location and locations
/// holding stock are refused (move the stock first with an absolute adjustment to 0).
async fn delete_locations(State(st): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V3);
    let Some(ids) = q.int_list("location_id:in")? else {
        return Err(field_error(
            "location_id:in".to_owned(),
            "The filter location_id:in is required: the ids of the locations to delete.",
        ));
    };
    st.write(|tx| delete_locations_now(tx.data, ids))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn delete_locations_now(data: &mut StoreData, ids: Vec<i64>) -> Result<(), ApiError> {
    for id in &ids {
        if *id == DEFAULT_LOCATION {
            return Err(field_error(
                "location_id:in".to_owned(),
                "The default location (1) cannot be deleted.",
            ));
        }
        if data
            .inventory
            .elsewhere
            .iter()
            .any(|((l, _), q)| l == id && *q > 0)
        {
            return Err(field_error(
                "location_id:in".to_owned(),
                format!(
                    "The location {id} still holds stock; set it to 0 with an absolute adjustment first."
                ),
            ));
        }
    }
    for id in ids {
        data.inventory.locations.remove(&id);
        data.inventory.elsewhere.retain(|(l, _), _| *l != id);
    }
    Ok(())
}

async fn list_locations(State(st): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V3);
    let (page, limit) = q.page_limit(MAX_LOCATIONS_LIMIT)?;
    let ids = q.int_list("location_id:in")?;
    let codes = q.list("location_code:in");
    let data = st.data.read();
    let all: Vec<&Location> = data
        .inventory
        .locations
        .values()
        .filter(|l| ids.as_ref().is_none_or(|ids| ids.contains(&l.id)))
        .filter(|l| codes.as_ref().is_none_or(|c| c.contains(&l.code)))
        .collect();
    Ok(v3_offset(&all, page, limit, &q, |l| l.render()))
}

/// Every stock holder in product order: the product itself when it tracks by product (or
/// not at all), else each of its variants.
fn stock_holders(cat: &CatalogData) -> Vec<(StockKey, Value)> {
    let mut out = Vec::new();
    for p in cat.products.values() {
        if p.inventory_tracking == "variant" && p.base_variant_id.is_none() {
            for vid in &p.variant_ids {
                if let Some(v) = cat.variants.get(vid) {
                    out.push((
                        StockKey::Variant(v.id),
                        json!({ "sku": v.sku, "variant_id": v.id, "product_id": p.id, "sku_id": v.sku_id }),
                    ));
                }
            }
        } else {
            out.push((
                StockKey::Product(p.id),
                json!({ "sku": p.sku, "variant_id": p.base_variant_id, "product_id": p.id, "sku_id": Value::Null }),
            ));
        }
    }
    out
}

fn location_stock(data: &StoreData, loc: &Location, key: StockKey) -> Value {
    let total = catalog_total(&data.catalog, key);
    let level = data.inventory.level_at(loc.id, key, total);
    json!({
        "location_id": loc.id,
        "location_code": loc.code,
        "location_name": loc.label,
        "available_to_sell": level,
        "total_inventory_onhand": level,
        "location_enabled": loc.enabled,
        "settings": {
            "safety_stock": 0,
            "is_in_stock": level > 0,
            "warning_level": warning_level(&data.catalog, key),
            "bin_picking_number": "",
        },
    })
}

fn holder_matches(q: &Query, identity: &Value) -> Result<bool, ApiError> {
    for key in ["variant_id", "product_id"] {
        if let Some(ids) = q.int_list(&format!("{key}:in"))?
            && !identity[key].as_i64().is_some_and(|v| ids.contains(&v))
        {
            return Ok(false);
        }
    }
    if let Some(skus) = q.list("sku:in")
        && !identity["sku"]
            .as_str()
            .is_some_and(|s| skus.iter().any(|k| k.eq_ignore_ascii_case(s)))
    {
        return Ok(false);
    }
    Ok(true)
}

/// `GET /v3/inventory/items`: each stock holder with its stock per location.
async fn items(State(st): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V3);
    let (page, limit) = q.page_limit(MAX_ITEMS_LIMIT)?;
    let loc_ids = q.int_list("location_id:in")?;
    let loc_codes = q.list("location_code:in");
    let data = st.data.read();
    let locations: Vec<&Location> = data
        .inventory
        .locations
        .values()
        .filter(|l| loc_ids.as_ref().is_none_or(|ids| ids.contains(&l.id)))
        .filter(|l| loc_codes.as_ref().is_none_or(|c| c.contains(&l.code)))
        .collect();
    let mut holders = Vec::new();
    for (key, identity) in stock_holders(&data.catalog) {
        if holder_matches(&q, &identity)? {
            holders.push((key, identity));
        }
    }
    Ok(v3_offset(&holders, page, limit, &q, |(key, identity)| {
        let locs: Vec<Value> = locations
            .iter()
            .map(|l| location_stock(&data, l, *key))
            .collect();
        json!({ "identity": identity, "locations": locs })
    }))
}

/// `GET /v3/inventory/locations/{id}/items`.
async fn location_items(
    State(st): State<Shared>,
    Path(p): Path<Vec<(String, String)>>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V3);
    let (page, limit) = q.page_limit(MAX_ITEMS_LIMIT)?;
    let id = p
        .iter()
        .find(|(k, _)| k == "location_id")
        .and_then(|(_, v)| v.parse::<i64>().ok())
        .ok_or_else(|| ApiError::not_found(V3))?;
    let data = st.data.read();
    let loc = data.inventory.locations.get(&id).ok_or_else(|| {
        ApiError::new(
            V3,
            StatusCode::NOT_FOUND,
            format!("The location {id} does not exist."),
        )
    })?;
    let mut holders = Vec::new();
    for (key, identity) in stock_holders(&data.catalog) {
        if holder_matches(&q, &identity)? {
            holders.push((key, identity));
        }
    }
    Ok(v3_offset(&holders, page, limit, &q, |(key, identity)| {
        let mut v = location_stock(&data, loc, *key);
        if let Value::Object(m) = &mut v {
            m.insert("identity".into(), identity.clone());
        }
        v
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::seed::SeedSpec;

    /// Two products tracked by product.
    fn store() -> StoreData {
        let mut data = StoreData::default();
        let spec = SeedSpec {
            products: 2,
            ..SeedSpec::empty()
        };
        crate::seed::generate(&mut data, &spec, crate::dates::now());
        data.events.drain();
        data
    }

    fn by_product(data: &StoreData) -> i64 {
        data.catalog
            .products
            .values()
            .find(|p| p.inventory_tracking == "product")
            .unwrap()
            .id
    }

    #[test]
    fn absolute_then_relative_on_a_product() {
        let mut data = store();
        let pid = by_product(&data);
        let now = crate::dates::now();
        adjust(
            &mut data,
            Method::Absolute,
            json!({"items": [{"location_id": 1, "product_id": pid, "quantity": 10}]}),
            now,
        )
        .unwrap();
        assert_eq!(data.catalog.products[&pid].inventory_level, 10);
        adjust(
            &mut data,
            Method::Relative,
            json!({"items": [{"location_id": 1, "product_id": pid, "quantity": -4}]}),
            now,
        )
        .unwrap();
        assert_eq!(data.catalog.products[&pid].inventory_level, 6);
        let events = data.events.drain();
        let inv: Vec<&Value> = events
            .iter()
            .filter(|e| e.scope == "store/product/inventory/updated")
            .map(|e| &e.data)
            .collect();
        assert_eq!(
            inv,
            [
                &json!({"type": "product", "id": pid, "inventory": {"product_id": pid, "method": "absolute", "value": 10}}),
                &json!({"type": "product", "id": pid, "inventory": {"product_id": pid, "method": "relative", "value": -4}}),
            ]
        );
        assert!(events.iter().any(|e| e.scope == SCOPE_STOCK_CHANGED));
        assert!(!events.iter().any(|e| e.scope.starts_with("store/sku/")));
    }

    #[test]
    fn a_bad_item_changes_nothing() {
        let mut data = store();
        let pid = by_product(&data);
        let before = data.catalog.products[&pid].inventory_level;
        let err = adjust(
            &mut data,
            Method::Relative,
            json!({"items": [
                {"location_id": 1, "product_id": pid, "quantity": 5},
                {"location_id": 1, "product_id": pid, "quantity": -(before + 10)}
            ]}),
            crate::dates::now(),
        )
        .unwrap_err();
        assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(data.catalog.products[&pid].inventory_level, before);
        assert!(data.events.drain().is_empty());
    }

    #[test]
    fn stock_at_a_second_location_adds_to_the_total() {
        let mut data = store();
        let pid = by_product(&data);
        let now = crate::dates::now();
        let ids = create_locations(
            &mut data,
            &[json!({"code": "W2", "label": "Warehouse 2"})],
            now,
        )
        .unwrap();
        adjust(
            &mut data,
            Method::Absolute,
            json!({"items": [
                {"location_id": 1, "product_id": pid, "quantity": 3},
                {"location_id": ids[0], "product_id": pid, "quantity": 4}
            ]}),
            now,
        )
        .unwrap();
        assert_eq!(data.catalog.products[&pid].inventory_level, 7);
        assert_eq!(data.inventory.level_at(1, StockKey::Product(pid), 7), 3);
        assert_eq!(
            data.inventory.level_at(ids[0], StockKey::Product(pid), 7),
            4
        );
        let scopes: Vec<String> = data.events.drain().into_iter().map(|e| e.scope).collect();
        assert_eq!(scopes[0], "store/inventory/location/created");
    }

    #[test]
    fn variant_tracked_stock_fires_sku_scopes_only() {
        let mut data = StoreData::default();
        let spec = SeedSpec {
            products: 1,
            variants_per_product: 2,
            ..SeedSpec::empty()
        };
        crate::seed::generate(&mut data, &spec, crate::dates::now());
        data.events.drain();
        let p = data.catalog.products.values().next().unwrap().clone();
        assert_eq!(p.inventory_tracking, "variant");
        let vid = p.variant_ids[0];
        let sku_id = data.catalog.variants[&vid].sku_id;
        let err = adjust(
            &mut data,
            Method::Absolute,
            json!({"items": [{"location_id": 1, "product_id": p.id, "quantity": 1}]}),
            crate::dates::now(),
        )
        .unwrap_err();
        assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY);
        adjust(
            &mut data,
            Method::Absolute,
            json!({"items": [{"location_id": 1, "variant_id": vid, "quantity": 12}]}),
            crate::dates::now(),
        )
        .unwrap();
        assert_eq!(data.catalog.variants[&vid].inventory_level, 12);
        let events = data.events.drain();
        assert_eq!(events[0].scope, "store/sku/inventory/updated");
        assert_eq!(
            events[0].data,
            json!({"type": "sku", "id": sku_id, "inventory": {"product_id": p.id, "variant_id": vid, "method": "absolute", "value": 12}})
        );
        assert!(!events.iter().any(|e| e.scope.starts_with("store/product/")));
    }
}
