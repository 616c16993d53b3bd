//! Carts (V3 `/v3/carts`), their line items, abandonment, expiry and conversion to an order
//! through checkout (docs/api-notes.md §8).
//!
//! The API has no cart list, so the store keeps two tables: the live carts (reachable by
//! id) and the carts that ended (converted, deleted, expired), kept only for the admin
//! view `GET /_sandbox/carts`, which tests compare a webhook receiver's tables with.
//!
//! Every write is a plain function over [`StoreData`] (the handlers only parse and render),
//! so the simulator and unit tests drive the same code. Each write records its change in
//! the event journal with the §9.2 data shapes: cart and line item ids are UUID strings.
//!
//! Time: a cart is abandoned after an hour without change and expires 30 days after its
//! last change (docs/api-notes.md §8), both multiplied by the sandbox time scale and
//! measured on a monotonic clock, so a scaled hour can be a few milliseconds. A
//! background sweeper ([`run_sweeper`]) applies them; [`sweep`] is the pure step.

use std::collections::HashMap;
use std::sync::Weak;
use std::time::{Duration, Instant};

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::body::JsonBody;
use crate::dates::iso;
use crate::error::{ApiError, ApiResult, ApiVersion};
use crate::events::EventsData;
use crate::paging::{v3_single, v3_single_status};
use crate::query::Query;
use crate::resources::catalog::CatalogData;
use crate::state::{AppState, Shared, StoreData};

const V3: ApiVersion = ApiVersion::V3;

/// A cart is abandoned after this long without a change (docs/api-notes.md §8), unscaled.
pub const ABANDON_AFTER: Duration = Duration::from_secs(3600);
/// A cart lives this long after its last change (docs/api-notes.md §8), unscaled.
pub const EXPIRE_AFTER: Duration = Duration::from_secs(30 * 24 * 3600);
/// Ended carts the admin view keeps before dropping the oldest (bounds memory on long
/// simulator runs).
const ENDED_CAPACITY: usize = 200_000;
/// Line items per cart; BigCommerce states no number, this keeps a fuzzing client small.
const MAX_ITEMS: usize = 250;

/// Where a cart is in its life. Only `Active` and `Abandoned` carts exist for the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CartState {
    Active,
    /// No change for an hour; a later change makes it active again.
    Abandoned,
    /// Checked out into an order; gone from the API.
    Converted,
    /// Deleted through the API (or its last line item removed).
    Deleted,
    /// 30 days without a change.
    Expired,
}

#[derive(Debug, Clone)]
pub struct CartItem {
    pub id: String,
    pub product_id: i64,
    pub variant_id: i64,
    pub sku: String,
    pub name: String,
    pub url: String,
    pub quantity: i64,
    pub digital: bool,
    /// The catalog price before any sale.
    pub original_price: f64,
    pub list_price: f64,
    pub sale_price: f64,
    /// `list_price` was given by the caller rather than taken from the catalog.
    pub custom_price: bool,
}

impl CartItem {
    fn render(&self) -> Value {
        json!({
            "id": self.id,
            "parent_id": Value::Null,
            "variant_id": self.variant_id,
            "product_id": self.product_id,
            "sku": self.sku,
            "name": self.name,
            "url": self.url,
            "quantity": self.quantity,
            "taxable": true,
            "image_url": "",
            "discounts": [],
            "coupons": [],
            "discount_amount": 0,
            "coupon_amount": 0,
            "original_price": self.original_price,
            "list_price": self.list_price,
            "sale_price": self.sale_price,
            "extended_list_price": money(self.list_price * self.quantity as f64),
            "extended_sale_price": money(self.sale_price * self.quantity as f64),
            "is_require_shipping": !self.digital,
            "is_mutable": true,
        })
    }
}

/// Rounds to cents, as cart amounts are shown.
fn money(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[derive(Debug, Clone)]
pub struct Cart {
    pub id: String,
    /// Creation order, for the admin view.
    pub seq: u64,
    pub customer_id: i64,
    pub email: String,
    pub channel_id: i64,
    pub currency: String,
    pub locale: String,
    pub items: Vec<CartItem>,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    /// Bumped by every change; a write that names another version gets 409.
    pub version: i64,
    /// Monotonic time of the last change (abandonment and expiry are measured from it).
    pub last_change: Instant,
    pub state: CartState,
    /// When the cart was last found abandoned.
    pub abandoned_at: Option<DateTime<Utc>>,
    /// The order a checkout made of it.
    pub order_id: Option<i64>,
    /// When it was converted, deleted or expired.
    pub ended_at: Option<DateTime<Utc>>,
    /// A checkout is creating its order (a second checkout gets 409 meanwhile).
    checking_out: bool,
}

impl Cart {
    fn base_amount(&self) -> f64 {
        money(
            self.items
                .iter()
                .map(|i| i.list_price * i.quantity as f64)
                .sum(),
        )
    }

    fn cart_amount(&self) -> f64 {
        money(
            self.items
                .iter()
                .map(|i| i.sale_price * i.quantity as f64)
                .sum(),
        )
    }

    /// The V3 cart body.
    pub fn render(&self) -> Value {
        let (digital, physical): (Vec<&CartItem>, Vec<&CartItem>) =
            self.items.iter().partition(|i| i.digital);
        json!({
            "id": self.id,
            "parent_id": Value::Null,
            "customer_id": self.customer_id,
            "email": self.email,
            "currency": { "code": self.currency },
            "tax_included": false,
            "base_amount": self.base_amount(),
            "discount_amount": 0,
            "manual_discount_amount": 0,
            "cart_amount": self.cart_amount(),
            "coupons": [],
            "discounts": [],
            "line_items": {
                "physical_items": physical.iter().map(|i| i.render()).collect::<Vec<_>>(),
                "digital_items": digital.iter().map(|i| i.render()).collect::<Vec<_>>(),
                "gift_certificates": [],
                "custom_items": [],
            },
            "created_time": iso(self.created),
            "updated_time": iso(self.updated),
            "channel_id": self.channel_id,
            "locale": self.locale,
            "version": self.version,
        })
    }

    /// The admin view: the API body plus where the cart is in its life.
    pub fn render_admin(&self) -> Value {
        let mut v = self.render();
        if let Value::Object(m) = &mut v {
            m.insert("state".into(), json!(self.state));
            m.insert(
                "abandoned".into(),
                Value::Bool(self.state == CartState::Abandoned),
            );
            m.insert(
                "abandoned_at".into(),
                json!(self.abandoned_at.map(|d| d.timestamp())),
            );
            m.insert(
                "converted".into(),
                Value::Bool(self.state == CartState::Converted),
            );
            m.insert("order_id".into(), json!(self.order_id));
            m.insert(
                "ended_at".into(),
                json!(self.ended_at.map(|d| d.timestamp())),
            );
        }
        v
    }

    /// Records a change: new version, new modification time, active again.
    fn touch(&mut self, now: DateTime<Utc>, at: Instant) {
        self.version += 1;
        self.updated = now;
        self.last_change = at;
        if self.state == CartState::Abandoned {
            self.state = CartState::Active;
        }
    }
}

/// Every cart of the store.
#[derive(Debug, Default)]
pub struct CartsData {
    /// Carts the API can reach, by id.
    pub(crate) live: HashMap<String, Cart>,
    /// Converted, deleted and expired carts, oldest first (admin view only).
    pub(crate) ended: std::collections::VecDeque<Cart>,
    /// Ids handed out (carts and line items share one sequence).
    issued: u64,
    /// Carts created, for their `seq`.
    created: u64,
    /// Mixed into ids so that two stores seeded alike hand out the same ids.
    seed: u64,
}

impl CartsData {
    pub fn counts(&self, m: &mut Map<String, Value>) {
        let abandoned = self
            .live
            .values()
            .filter(|c| c.state == CartState::Abandoned)
            .count();
        let converted = self
            .ended
            .iter()
            .filter(|c| c.state == CartState::Converted)
            .count();
        let items: usize = self.live.values().map(|c| c.items.len()).sum();
        m.insert("carts".into(), self.live.len().into());
        m.insert("carts_abandoned".into(), abandoned.into());
        m.insert("carts_converted".into(), converted.into());
        m.insert("cart_items".into(), items.into());
    }

    /// A live cart by id.
    pub fn get(&self, id: &str) -> Option<&Cart> {
        self.live.get(id)
    }

    /// Ids of the live carts in creation order (the simulator picks from them).
    pub fn live_ids(&self) -> Vec<String> {
        let mut v: Vec<(&u64, &String)> = self.live.values().map(|c| (&c.seq, &c.id)).collect();
        v.sort_unstable();
        v.into_iter().map(|(_, id)| id.clone()).collect()
    }

    /// Every cart ever made (live and ended) in creation order.
    pub fn all(&self) -> Vec<&Cart> {
        let mut v: Vec<&Cart> = self.live.values().chain(self.ended.iter()).collect();
        v.sort_unstable_by_key(|c| c.seq);
        v
    }

    /// A fresh UUID (version 4 layout), deterministic per store seed and sequence.
    fn next_uuid(&mut self) -> String {
        self.issued += 1;
        let a = splitmix64(self.seed ^ self.issued.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let b = splitmix64(a ^ 0xD1B5_4A32_D192_ED03);
        let hex = format!("{a:016x}{b:016x}");
        format!(
            "{}-{}-4{}-{:x}{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[13..16],
            8 | (u8::from_str_radix(&hex[16..17], 16).unwrap_or(0) & 3),
            &hex[17..20],
            &hex[20..32]
        )
    }

    fn end(&mut self, mut cart: Cart, state: CartState, now: DateTime<Utc>) {
        cart.state = state;
        cart.ended_at = Some(now);
        if self.ended.len() >= ENDED_CAPACITY {
            self.ended.pop_front();
        }
        self.ended.push_back(cart);
    }
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Gives the store its id seed (called by the seeder).
pub fn seed(data: &mut StoreData, seed: u64) {
    data.carts.seed = seed;
}

fn cart_event(events: &mut EventsData, scope: &str, id: &str, at: DateTime<Utc>) {
    events.emit(scope, json!({ "type": "cart", "id": id }), at);
}

fn line_event(events: &mut EventsData, scope: &str, line: &str, cart: &str, at: DateTime<Utc>) {
    events.emit(
        scope,
        json!({ "type": "cart_line_item", "id": line, "cartId": cart }),
        at,
    );
}

fn cart_not_found(id: &str) -> ApiError {
    ApiError::new(
        V3,
        StatusCode::NOT_FOUND,
        format!(
            "Cart {id} was not found. Carts live 30 days after their last change, and checkout or deletion removes them."
        ),
    )
}

fn invalid(key: &str, msg: impl Into<String>) -> ApiError {
    let msg = msg.into();
    ApiError::unprocessable(V3, msg.clone()).with_error(key, msg)
}

fn object<'a>(v: &'a Value, what: &str) -> Result<&'a Map<String, Value>, ApiError> {
    v.as_object()
        .ok_or_else(|| invalid(what, format!("{what} must be a JSON object.")))
}

fn opt_int(m: &Map<String, Value>, key: &str) -> Result<Option<i64>, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| invalid(key, format!("The field '{key}' must be a whole number."))),
    }
}

fn opt_f64(m: &Map<String, Value>, key: &str) -> Result<Option<f64>, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_f64() {
            Some(x) if x.is_finite() && x >= 0.0 => Ok(Some(x)),
            _ => Err(invalid(
                key,
                format!("The field '{key}' must be a number, 0 or more."),
            )),
        },
    }
}

/// 409 when the body names a `version` other than the cart's (docs/api-notes.md §8).
fn check_version(m: &Map<String, Value>, cart: &Cart) -> Result<(), ApiError> {
    match opt_int(m, "version")? {
        Some(v) if v != cart.version => Err(ApiError::conflict(
            V3,
            format!(
                "The cart was changed: the request names version {v} but the cart is at version {}. Fetch the cart again and retry with its current version.",
                cart.version
            ),
        )),
        _ => Ok(()),
    }
}

/// A line item body resolved against the catalog: prices come from the catalog unless
/// `list_price` is given.
fn resolve_item(cat: &CatalogData, v: &Value, key: &str, id: String) -> Result<CartItem, ApiError> {
    let m = object(v, key)?;
    let quantity = opt_int(m, "quantity")?.ok_or_else(|| {
        invalid(
            &format!("{key}.quantity"),
            format!("The field '{key}.quantity' is required."),
        )
    })?;
    if quantity < 1 {
        return Err(invalid(
            &format!("{key}.quantity"),
            format!("The field '{key}.quantity' must be 1 or more; got {quantity}."),
        ));
    }
    let product_id = opt_int(m, "product_id")?.ok_or_else(|| {
        invalid(
            &format!("{key}.product_id"),
            format!("The field '{key}.product_id' is required (custom items are not supported by the sandbox)."),
        )
    })?;
    let product = cat.products.get(&product_id).ok_or_else(|| {
        invalid(
            &format!("{key}.product_id"),
            format!("The product {product_id} does not exist in the catalog."),
        )
    })?;
    let variant_id = match opt_int(m, "variant_id")? {
        Some(vid) if product.variant_ids.contains(&vid) => vid,
        Some(vid) => {
            return Err(invalid(
                &format!("{key}.variant_id"),
                format!("The variant {vid} does not belong to product {product_id}."),
            ));
        }
        None => match (product.base_variant_id, product.variant_ids.as_slice()) {
            (Some(base), _) => base,
            (None, [only]) => *only,
            _ => {
                return Err(invalid(
                    &format!("{key}.variant_id"),
                    format!("The product {product_id} has several variants: send 'variant_id'."),
                ));
            }
        },
    };
    let variant = cat.variants.get(&variant_id);
    if variant.is_some_and(|v| v.purchasing_disabled) {
        return Err(invalid(
            &format!("{key}.variant_id"),
            format!("The variant {variant_id} cannot be purchased (purchasing is disabled)."),
        ));
    }
    let price = variant.and_then(|v| v.price).unwrap_or(product.price);
    let sale = match variant.and_then(|v| v.sale_price) {
        Some(s) if s > 0.0 => s,
        Some(_) => price,
        None if variant.and_then(|v| v.price).is_none() => product.calculated_price(),
        None => price,
    };
    let custom = opt_f64(m, "list_price")?;
    let sku = variant
        .map(|v| v.sku.clone())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| product.sku.clone());
    Ok(CartItem {
        id,
        product_id,
        variant_id,
        sku,
        name: product.name.clone(),
        url: product.custom_url.clone(),
        quantity,
        digital: product.kind == "digital",
        original_price: price,
        list_price: custom.unwrap_or(sale),
        sale_price: custom.unwrap_or(sale),
        custom_price: custom.is_some(),
    })
}

fn items_array(m: &Map<String, Value>) -> Result<&Vec<Value>, ApiError> {
    match m.get("line_items") {
        Some(Value::Array(a)) if !a.is_empty() && a.len() <= MAX_ITEMS => Ok(a),
        Some(Value::Array(a)) if !a.is_empty() => Err(invalid(
            "line_items",
            format!("A cart holds at most {MAX_ITEMS} line items."),
        )),
        _ => Err(invalid(
            "line_items",
            "The field 'line_items' is required: a non-empty list of {product_id, variant_id, quantity}.",
        )),
    }
}

fn customer_email(data: &StoreData, customer_id: i64) -> Result<String, ApiError> {
    if customer_id == 0 {
        return Ok(String::new());
    }
    data.customers
        .customers
        .get(&customer_id)
        .map(|c| c.email.clone())
        .ok_or_else(|| {
            invalid(
                "customer_id",
                format!("The customer {customer_id} does not exist; use 0 for a guest cart."),
            )
        })
}

/// `POST /v3/carts`: creates a cart with its line items; returns its id. Fires
/// `store/cart/created`, then `updated` (docs/api-notes.md §9.3), then one
/// `lineItem/created` per line.
pub fn create_cart(
    data: &mut StoreData,
    body: &Value,
    now: DateTime<Utc>,
    at: Instant,
) -> Result<String, ApiError> {
    let m = object(body, "The cart")?;
    let customer_id = opt_int(m, "customer_id")?.unwrap_or(0);
    let email = customer_email(data, customer_id)?;
    let channel_id = opt_int(m, "channel_id")?.unwrap_or(1);
    if data.channels.get(channel_id).is_none() {
        return Err(invalid(
            "channel_id",
            format!("The channel {channel_id} does not exist (1 is the default storefront)."),
        ));
    }
    let currency = m
        .get("currency")
        .and_then(|c| c.get("code"))
        .and_then(Value::as_str)
        .unwrap_or("USD")
        .to_ascii_uppercase();
    let locale = m
        .get("locale")
        .and_then(Value::as_str)
        .unwrap_or("en")
        .to_owned();
    let raw_items = items_array(m)?;
    // Ids are taken from a copy, so a refused cart leaves no gap in the sequence.
    let mut ids = CartsData {
        issued: data.carts.issued,
        seed: data.carts.seed,
        ..CartsData::default()
    };
    let id = ids.next_uuid();
    let mut items: Vec<CartItem> = Vec::with_capacity(raw_items.len());
    for (i, v) in raw_items.iter().enumerate() {
        let item = resolve_item(&data.catalog, v, &format!("line_items.{i}"), String::new())?;
        merge_or_push(&mut items, item, &mut ids);
    }
    data.carts.issued = ids.issued;
    data.carts.created += 1;
    let cart = Cart {
        id: id.clone(),
        seq: data.carts.created,
        customer_id,
        email,
        channel_id,
        currency,
        locale,
        items,
        created: now,
        updated: now,
        version: 1,
        last_change: at,
        state: CartState::Active,
        abandoned_at: None,
        order_id: None,
        ended_at: None,
        checking_out: false,
    };
    cart_event(&mut data.events, "store/cart/created", &id, now);
    cart_event(&mut data.events, "store/cart/updated", &id, now);
    for item in &cart.items {
        line_event(
            &mut data.events,
            "store/cart/lineItem/created",
            &item.id,
            &id,
            now,
        );
    }
    data.carts.live.insert(id.clone(), cart);
    Ok(id)
}

/// Adds `item` to `items`, or adds its quantity to an identical line (same variant, catalog
/// price), as a storefront does. Returns the id of the line and whether it is new.
fn merge_or_push(
    items: &mut Vec<CartItem>,
    mut item: CartItem,
    ids: &mut CartsData,
) -> (String, bool) {
    if !item.custom_price
        && let Some(same) = items
            .iter_mut()
            .find(|i| i.variant_id == item.variant_id && !i.custom_price)
    {
        same.quantity += item.quantity;
        return (same.id.clone(), false);
    }
    item.id = ids.next_uuid();
    let id = item.id.clone();
    items.push(item);
    (id, true)
}

/// `PUT /v3/carts/{id}`: sets the customer (the only field it changes, docs/api-notes.md §8).
pub fn update_cart_customer(
    data: &mut StoreData,
    id: &str,
    body: &Value,
    now: DateTime<Utc>,
    at: Instant,
) -> Result<(), ApiError> {
    let m = object(body, "The cart")?;
    let cart = data.carts.live.get(id).ok_or_else(|| cart_not_found(id))?;
    check_version(m, cart)?;
    let customer_id = opt_int(m, "customer_id")?.ok_or_else(|| {
        invalid(
            "customer_id",
            "The field 'customer_id' is required; it is the only field a cart update changes.",
        )
    })?;
    let email = customer_email(data, customer_id)?;
    let cart = data
        .carts
        .live
        .get_mut(id)
        .ok_or_else(|| cart_not_found(id))?;
    cart.customer_id = customer_id;
    cart.email = email;
    cart.touch(now, at);
    cart_event(&mut data.events, "store/cart/updated", id, now);
    Ok(())
}

/// `DELETE /v3/carts/{id}`.
pub fn delete_cart(data: &mut StoreData, id: &str, now: DateTime<Utc>) -> Result<(), ApiError> {
    let cart = data
        .carts
        .live
        .remove(id)
        .ok_or_else(|| cart_not_found(id))?;
    data.carts.end(cart, CartState::Deleted, now);
    cart_event(&mut data.events, "store/cart/deleted", id, now);
    Ok(())
}

/// `POST /v3/carts/{id}/items`.
pub fn add_items(
    data: &mut StoreData,
    id: &str,
    body: &Value,
    now: DateTime<Utc>,
    at: Instant,
) -> Result<(), ApiError> {
    let m = object(body, "The request body")?;
    let cart = data.carts.live.get(id).ok_or_else(|| cart_not_found(id))?;
    check_version(m, cart)?;
    let raw_items = items_array(m)?;
    let mut items = cart.items.clone();
    let mut ids = CartsData {
        issued: data.carts.issued,
        seed: data.carts.seed,
        ..CartsData::default()
    };
    let mut changed: Vec<(String, bool)> = Vec::new();
    for (i, v) in raw_items.iter().enumerate() {
        let item = resolve_item(&data.catalog, v, &format!("line_items.{i}"), String::new())?;
        changed.push(merge_or_push(&mut items, item, &mut ids));
    }
    if items.len() > MAX_ITEMS {
        return Err(invalid(
            "line_items",
            format!("A cart holds at most {MAX_ITEMS} line items."),
        ));
    }
    data.carts.issued = ids.issued;
    let cart = data
        .carts
        .live
        .get_mut(id)
        .ok_or_else(|| cart_not_found(id))?;
    cart.items = items;
    cart.touch(now, at);
    for (line, new) in changed {
        let scope = if new {
            "store/cart/lineItem/created"
        } else {
            "store/cart/lineItem/updated"
        };
        line_event(&mut data.events, scope, &line, id, now);
    }
    cart_event(&mut data.events, "store/cart/updated", id, now);
    Ok(())
}

/// What an item write left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemOutcome {
    /// The cart still exists.
    CartKept,
    /// That was the last line: the cart was deleted (docs/api-notes.md §8).
    CartDeleted,
}

/// `PUT /v3/carts/{id}/items/{item_id}`: only `quantity` and `list_price` change
/// (docs/api-notes.md §8); quantity 0 removes the line.
pub fn update_item(
    data: &mut StoreData,
    id: &str,
    item_id: &str,
    body: &Value,
    now: DateTime<Utc>,
    at: Instant,
) -> Result<ItemOutcome, ApiError> {
    let m = object(body, "The request body")?;
    let cart = data.carts.live.get(id).ok_or_else(|| cart_not_found(id))?;
    check_version(m, cart)?;
    let line = match m.get("line_item") {
        Some(l) => object(l, "line_item")?,
        None => m,
    };
    let item = cart
        .items
        .iter()
        .find(|i| i.id == item_id)
        .ok_or_else(|| item_not_found(id, item_id))?;
    for (key, current) in [
        ("product_id", item.product_id),
        ("variant_id", item.variant_id),
    ] {
        if let Some(given) = opt_int(line, key)?
            && given != current
        {
            return Err(ApiError::conflict(
                V3,
                format!(
                    "Only 'quantity' and 'list_price' of a line item can change; its {key} is {current}, not {given}. Delete the line and add a new one instead."
                ),
            ));
        }
    }
    let quantity = opt_int(line, "quantity")?;
    if quantity.is_some_and(|q| q < 0) {
        return Err(invalid(
            "line_item.quantity",
            "The field 'line_item.quantity' must be 0 or more.",
        ));
    }
    if quantity == Some(0) {
        return remove_item(data, id, item_id, now, at);
    }
    let list_price = opt_f64(line, "list_price")?;
    let cart = data
        .carts
        .live
        .get_mut(id)
        .ok_or_else(|| cart_not_found(id))?;
    if let Some(item) = cart.items.iter_mut().find(|i| i.id == item_id) {
        if let Some(q) = quantity {
            item.quantity = q;
        }
        if let Some(p) = list_price {
            item.list_price = p;
            item.sale_price = p;
            item.custom_price = true;
        }
    }
    cart.touch(now, at);
    line_event(
        &mut data.events,
        "store/cart/lineItem/updated",
        item_id,
        id,
        now,
    );
    cart_event(&mut data.events, "store/cart/updated", id, now);
    Ok(ItemOutcome::CartKept)
}

fn item_not_found(cart: &str, item: &str) -> ApiError {
    ApiError::new(
        V3,
        StatusCode::NOT_FOUND,
        format!("The line item {item} is not in cart {cart}."),
    )
}

/// `DELETE /v3/carts/{id}/items/{item_id}`; removing the last line deletes the cart.
pub fn remove_item(
    data: &mut StoreData,
    id: &str,
    item_id: &str,
    now: DateTime<Utc>,
    at: Instant,
) -> Result<ItemOutcome, ApiError> {
    let cart = data
        .carts
        .live
        .get_mut(id)
        .ok_or_else(|| cart_not_found(id))?;
    let pos = cart
        .items
        .iter()
        .position(|i| i.id == item_id)
        .ok_or_else(|| item_not_found(id, item_id))?;
    cart.items.remove(pos);
    line_event(
        &mut data.events,
        "store/cart/lineItem/deleted",
        item_id,
        id,
        now,
    );
    if cart.items.is_empty() {
        delete_cart(data, id, now)?;
        return Ok(ItemOutcome::CartDeleted);
    }
    cart.touch(now, at);
    cart_event(&mut data.events, "store/cart/updated", id, now);
    Ok(ItemOutcome::CartKept)
}

/// Marks a cart abandoned (what an hour without change does); `false` when it is not an
/// active live cart. The simulator calls this to abandon a cart without waiting.
pub fn abandon(data: &mut StoreData, id: &str, now: DateTime<Utc>) -> bool {
    let Some(cart) = data.carts.live.get_mut(id) else {
        return false;
    };
    if cart.state != CartState::Active || cart.checking_out {
        return false;
    }
    cart.state = CartState::Abandoned;
    cart.abandoned_at = Some(now);
    cart_event(&mut data.events, "store/cart/abandoned", id, now);
    true
}

/// One sweeper step at monotonic time `at`: abandons carts idle for the scaled hour and
/// expires carts idle for the scaled 30 days (no webhook is documented for expiry, so
/// none fires). Returns how many carts changed state.
pub fn sweep(data: &mut StoreData, at: Instant, now: DateTime<Utc>, time_scale: f64) -> usize {
    let abandon_after = scaled(ABANDON_AFTER, time_scale);
    let expire_after = scaled(EXPIRE_AFTER, time_scale);
    let mut to_abandon: Vec<(u64, String)> = Vec::new();
    let mut to_expire: Vec<(u64, String)> = Vec::new();
    for c in data.carts.live.values() {
        if c.checking_out {
            continue;
        }
        let idle = at.saturating_duration_since(c.last_change);
        if idle >= expire_after {
            to_expire.push((c.seq, c.id.clone()));
        } else if idle >= abandon_after && c.state == CartState::Active {
            to_abandon.push((c.seq, c.id.clone()));
        }
    }
    // Creation order, so the journal is the same from run to run.
    to_abandon.sort_unstable();
    to_expire.sort_unstable();
    let n = to_abandon.len() + to_expire.len();
    for (_, id) in to_abandon {
        abandon(data, &id, now);
    }
    for (_, id) in to_expire {
        if let Some(cart) = data.carts.live.remove(&id) {
            data.carts.end(cart, CartState::Expired, now);
        }
    }
    n
}

fn scaled(d: Duration, time_scale: f64) -> Duration {
    Duration::from_secs_f64((d.as_secs_f64() * time_scale).max(0.001))
}

/// Runs [`sweep`] until the store is dropped. It ticks at a twentieth of the scaled hour
/// (between 5 ms and 1 s), so abandonment fires within 5% of its time.
pub async fn run_sweeper(state: Weak<AppState>) {
    loop {
        let period = {
            let Some(st) = state.upgrade() else { return };
            let scale = st.limiter.settings().time_scale;
            let p = scaled(ABANDON_AFTER, scale) / 20;
            p.clamp(Duration::from_millis(5), Duration::from_secs(1))
        };
        tokio::time::sleep(period).await;
        let Some(st) = state.upgrade() else { return };
        let scale = st.limiter.settings().time_scale;
        let now = crate::dates::now();
        let at = Instant::now();
        // A read pass first: most ticks change nothing and need no write lock.
        let due = {
            let data = st.data.read();
            let abandon_after = scaled(ABANDON_AFTER, scale);
            data.carts.live.values().any(|c| {
                !c.checking_out
                    && at.saturating_duration_since(c.last_change) >= abandon_after
                    && (c.state == CartState::Active
                        || at.saturating_duration_since(c.last_change)
                            >= scaled(EXPIRE_AFTER, scale))
            })
        };
        if due {
            // Through the one mutation path, so delivery wakes for the events.
            let _ = st.write(|tx| Ok(sweep(tx.data, at, now, scale)));
        }
    }
}

// ---------------------------------------------------------------- checkout (conversion)

/// Claims a cart for checkout and builds the `POST /v2/orders` body that turns it into
/// an order. The billing address is the customer's first address, else a placeholder
/// for a guest (the sandbox has no checkout addresses).
fn begin_checkout(data: &mut StoreData, id: &str) -> Result<Value, ApiError> {
    let cart = data.carts.live.get(id).ok_or_else(|| cart_not_found(id))?;
    if cart.checking_out {
        return Err(ApiError::conflict(
            V3,
            format!("Cart {id} is already being checked out; wait for that order."),
        ));
    }
    let customer = data.customers.customers.get(&cart.customer_id);
    let address = customer
        .and_then(|c| c.address_ids.first())
        .and_then(|a| data.customers.addresses.get(a));
    let (first, last) = match (customer, address) {
        (_, Some(a)) => (a.first_name.clone(), a.last_name.clone()),
        (Some(c), None) => (c.first_name.clone(), c.last_name.clone()),
        (None, None) => ("Guest".to_owned(), "Shopper".to_owned()),
    };
    let email = if cart.email.is_empty() {
        "guest@example.com".to_owned()
    } else {
        cart.email.clone()
    };
    let billing = json!({
        "first_name": first,
        "last_name": last,
        "street_1": address.map_or("1 Main Street", |a| a.address1.as_str()),
        "city": address.map_or("Austin", |a| a.city.as_str()),
        "state": address.map_or("Texas", |a| a.state_or_province.as_str()),
        "zip": address.map(|a| a.postal_code.as_str()).filter(|z| z.chars().count() >= 2).unwrap_or("78701"),
        "country_iso2": address.map(|a| a.country_code.as_str()).filter(|c| c.len() == 2).unwrap_or("US"),
        "email": email,
    });
    // Lines whose product was deleted since are dropped, as a storefront drops them.
    let products: Vec<Value> = cart
        .items
        .iter()
        .filter(|i| data.catalog.products.contains_key(&i.product_id))
        .map(|i| {
            let has_options = data
                .catalog
                .products
                .get(&i.product_id)
                .is_some_and(|p| p.base_variant_id.is_none());
            let mut line = json!({
                "product_id": i.product_id,
                "quantity": i.quantity,
                "price_inc_tax": i.sale_price,
                "price_ex_tax": i.sale_price,
            });
            if has_options {
                line["variant_id"] = json!(i.variant_id);
            }
            line
        })
        .collect();
    if products.is_empty() {
        return Err(invalid(
            "line_items",
            format!(
                "Cart {id} holds only products that were deleted from the catalog; nothing can be ordered."
            ),
        ));
    }
    // A customer deleted since the cart was made checks out as a guest.
    let customer_id = if customer.is_some() {
        cart.customer_id
    } else {
        0
    };
    let body = json!({
        "customer_id": customer_id,
        "channel_id": cart.channel_id,
        "status_id": 11,
        "billing_address": billing,
        "products": products,
    });
    if let Some(cart) = data.carts.live.get_mut(id) {
        cart.checking_out = true;
    }
    Ok(body)
}

/// Ends a checkout: on success the cart becomes `converted` and `store/cart/converted`
/// fires with the order id; on failure the cart is released.
fn finish_checkout(data: &mut StoreData, id: &str, order_id: Option<i64>, now: DateTime<Utc>) {
    match order_id {
        Some(order_id) => {
            if let Some(mut cart) = data.carts.live.remove(id) {
                cart.checking_out = false;
                cart.order_id = Some(order_id);
                data.carts.end(cart, CartState::Converted, now);
            }
            // The order remembers its cart (V2 `cart_id`), as a checkout's order does.
            if let Some(order) = data.orders.get_mut(order_id) {
                order.cart_id = std::borrow::Cow::Owned(id.to_owned());
            }
            data.events.emit(
                "store/cart/converted",
                json!({ "type": "cart", "id": id, "orderId": order_id }),
                now,
            );
        }
        None => {
            if let Some(cart) = data.carts.live.get_mut(id) {
                cart.checking_out = false;
            }
        }
    }
}

/// Checks a cart out: the order is made by `POST /v2/orders` itself (the same handler as
/// the API, so it fires the same order events), then the cart is converted. Returns the
/// order id.
pub async fn checkout(st: &Shared, id: &str) -> Result<i64, ApiError> {
    let body = st.write(|tx| begin_checkout(tx.data, id))?;
    let (status, answer) =
        crate::internal::call(st, axum::http::Method::POST, "/v2/orders", Some(body)).await;
    let order_id = answer
        .get("id")
        .and_then(Value::as_i64)
        .filter(|_| status.is_success());
    let _ = st.write(|tx| {
        finish_checkout(tx.data, id, order_id, tx.now);
        Ok(())
    });
    order_id.ok_or_else(|| {
        let detail = answer
            .get(0)
            .and_then(|e| e.get("message"))
            .and_then(Value::as_str)
            .unwrap_or("the order was refused")
            .to_owned();
        ApiError::unprocessable(
            V3,
            format!("Cart {id} could not be turned into an order: {detail}"),
        )
    })
}

// ---------------------------------------------------------------- handlers

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/v3/carts", post(create))
        .route(
            "/v3/carts/{cart_id}",
            get(get_one).put(update).delete(delete),
        )
        .route("/v3/carts/{cart_id}/items", post(add))
        .route(
            "/v3/carts/{cart_id}/items/{item_id}",
            put(update_line).delete(delete_line),
        )
        .route("/v3/checkouts/{cart_id}/orders", post(create_order))
}

fn param<'a>(p: &'a [(String, String)], name: &str) -> &'a str {
    p.iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

type Params = Vec<(String, String)>;

/// `{data: cart, meta: {}}`, with `redirect_urls` when `include=redirect_urls`.
fn render_cart(
    store_hash: &str,
    data: &StoreData,
    id: &str,
    q: &Query,
    status: StatusCode,
) -> Response {
    let Some(cart) = data.carts.get(id) else {
        return cart_not_found(id).into_response();
    };
    let mut body = cart.render();
    if q.has_include("redirect_urls") {
        let base = format!("https://{store_hash}.mybigcommerce.com");
        body["redirect_urls"] = json!({
            "cart_url": format!("{base}/cart.php?action=load&id={id}"),
            "checkout_url": format!("{base}/cart.php?action=loadInCheckout&id={id}"),
            "embedded_checkout_url": format!("{base}/cart.php?embedded=1&action=loadInCheckout&id={id}"),
        });
    }
    v3_single_status(status, body)
}

async fn create(
    State(st): State<Shared>,
    RawQuery(raw): RawQuery,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V3);
    st.write(|tx| {
        let id = create_cart(tx.data, &body, tx.now, Instant::now())?;
        Ok(render_cart(
            &st.config.store_hash,
            tx.data,
            &id,
            &q,
            StatusCode::CREATED,
        ))
    })
}

async fn get_one(
    State(st): State<Shared>,
    Path(p): Path<Params>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V3);
    let data = st.data.read();
    Ok(render_cart(
        &st.config.store_hash,
        &data,
        param(&p, "cart_id"),
        &q,
        StatusCode::OK,
    ))
}

/// 201, as the spec lists for a cart update.
async fn update(
    State(st): State<Shared>,
    Path(p): Path<Params>,
    RawQuery(raw): RawQuery,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V3);
    let id = param(&p, "cart_id");
    st.write(|tx| {
        update_cart_customer(tx.data, id, &body, tx.now, Instant::now())?;
        Ok(render_cart(
            &st.config.store_hash,
            tx.data,
            id,
            &q,
            StatusCode::CREATED,
        ))
    })
}

async fn delete(State(st): State<Shared>, Path(p): Path<Params>) -> ApiResult {
    st.write(|tx| delete_cart(tx.data, param(&p, "cart_id"), tx.now))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn add(
    State(st): State<Shared>,
    Path(p): Path<Params>,
    RawQuery(raw): RawQuery,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V3);
    let id = param(&p, "cart_id");
    st.write(|tx| {
        add_items(tx.data, id, &body, tx.now, Instant::now())?;
        Ok(render_cart(
            &st.config.store_hash,
            tx.data,
            id,
            &q,
            StatusCode::CREATED,
        ))
    })
}

async fn update_line(
    State(st): State<Shared>,
    Path(p): Path<Params>,
    RawQuery(raw): RawQuery,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V3);
    let id = param(&p, "cart_id");
    st.write(|tx| {
        let outcome = update_item(
            tx.data,
            id,
            param(&p, "item_id"),
            &body,
            tx.now,
            Instant::now(),
        )?;
        Ok(match outcome {
            ItemOutcome::CartKept => {
                render_cart(&st.config.store_hash, tx.data, id, &q, StatusCode::OK)
            }
            ItemOutcome::CartDeleted => StatusCode::NO_CONTENT.into_response(),
        })
    })
}

/// 200 with the cart, or 204 when that was the last line and the cart went away.
async fn delete_line(
    State(st): State<Shared>,
    Path(p): Path<Params>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V3);
    let id = param(&p, "cart_id");
    st.write(|tx| {
        let outcome = remove_item(tx.data, id, param(&p, "item_id"), tx.now, Instant::now())?;
        Ok(match outcome {
            ItemOutcome::CartKept => {
                render_cart(&st.config.store_hash, tx.data, id, &q, StatusCode::OK)
            }
            ItemOutcome::CartDeleted => StatusCode::NO_CONTENT.into_response(),
        })
    })
}

/// `POST /v3/checkouts/{checkout_id}/orders`: the checkout id is the cart id
/// (docs/api-notes.md §8); answers `{data: {id: order_id}}`.
async fn create_order(State(st): State<Shared>, Path(p): Path<Params>) -> ApiResult {
    let order_id = checkout(&st, param(&p, "cart_id")).await?;
    Ok(v3_single(json!({ "id": order_id })))
}

// ---------------------------------------------------------------- admin view

/// `GET /_sandbox/carts?state=`: every cart the store ever had (the API has no cart
/// list), oldest first, each with `state`, `abandoned`, `converted` and `order_id`.
pub fn admin_routes() -> Router<Shared> {
    Router::new().route("/_sandbox/carts", get(admin_list))
}

async fn admin_list(State(st): State<Shared>, RawQuery(raw): RawQuery) -> Response {
    let q = Query::parse(raw.as_deref(), V3);
    let wanted = q.get("state").map(str::to_owned);
    let data = st.data.read();
    let carts: Vec<Value> = data
        .carts
        .all()
        .into_iter()
        .map(Cart::render_admin)
        .filter(|c| {
            wanted
                .as_deref()
                .is_none_or(|w| c.get("state").and_then(Value::as_str) == Some(w))
        })
        .collect();
    let mut counts = Map::new();
    data.carts.counts(&mut counts);
    Json(json!({ "total": carts.len(), "counts": counts, "carts": carts })).into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::seed::SeedSpec;

    fn store() -> StoreData {
        let mut data = StoreData::default();
        let spec = SeedSpec {
            customers: 3,
            addresses_per_customer: 1,
            products: 4,
            ..SeedSpec::empty()
        };
        crate::seed::generate(&mut data, &spec, crate::dates::now());
        data.events.drain();
        data
    }

    fn first_product(data: &StoreData) -> i64 {
        *data.catalog.products.keys().next().unwrap()
    }

    fn scopes(data: &mut StoreData) -> Vec<String> {
        data.events.drain().into_iter().map(|e| e.scope).collect()
    }

    #[test]
    fn create_fires_created_updated_and_line_events() {
        let mut data = store();
        let pid = first_product(&data);
        let now = crate::dates::now();
        let id = create_cart(
            &mut data,
            &json!({"line_items": [{"product_id": pid, "quantity": 2}]}),
            now,
            Instant::now(),
        )
        .unwrap();
        let events = data.events.drain();
        let s: Vec<&str> = events.iter().map(|e| e.scope.as_str()).collect();
        assert_eq!(
            s,
            [
                "store/cart/created",
                "store/cart/updated",
                "store/cart/lineItem/created"
            ]
        );
        assert_eq!(events[0].data, json!({"type": "cart", "id": id}));
        let line = &data.carts.get(&id).unwrap().items[0];
        assert_eq!(
            events[2].data,
            json!({"type": "cart_line_item", "id": line.id, "cartId": id})
        );
        let price = data.catalog.products[&pid].calculated_price();
        assert_eq!(
            data.carts.get(&id).unwrap().render()["cart_amount"],
            json!(money(price * 2.0))
        );
    }

    #[test]
    fn ids_are_uuids_and_deterministic_per_seed() {
        let mut a = CartsData {
            seed: 5,
            ..CartsData::default()
        };
        let mut b = CartsData {
            seed: 5,
            ..CartsData::default()
        };
        let (x, y) = (a.next_uuid(), b.next_uuid());
        assert_eq!(x, y);
        assert_eq!(x.len(), 36);
        assert_eq!(&x[14..15], "4");
        assert!(matches!(&x[19..20], "8" | "9" | "a" | "b"), "{x}");
        assert_ne!(a.next_uuid(), x);
    }

    #[test]
    fn sweep_abandons_after_the_scaled_hour_then_expires() {
        let mut data = store();
        let pid = first_product(&data);
        let t0 = Instant::now();
        let now = crate::dates::now();
        let id = create_cart(
            &mut data,
            &json!({"line_items": [{"product_id": pid, "quantity": 1}]}),
            now,
            t0,
        )
        .unwrap();
        data.events.drain();
        let scale = 0.001; // an hour is 3.6 s, 30 days 43.2 min
        assert_eq!(sweep(&mut data, t0 + Duration::from_secs(3), now, scale), 0);
        assert_eq!(sweep(&mut data, t0 + Duration::from_secs(4), now, scale), 1);
        assert_eq!(data.carts.get(&id).unwrap().state, CartState::Abandoned);
        assert_eq!(scopes(&mut data), ["store/cart/abandoned"]);
        // Abandoned once per idle spell.
        assert_eq!(sweep(&mut data, t0 + Duration::from_secs(5), now, scale), 0);
        // A change makes it active again; the clock restarts.
        let t1 = t0 + Duration::from_secs(6);
        update_cart_customer(&mut data, &id, &json!({"customer_id": 0}), now, t1).unwrap();
        assert_eq!(data.carts.get(&id).unwrap().state, CartState::Active);
        data.events.drain();
        assert_eq!(sweep(&mut data, t1 + Duration::from_secs(3), now, scale), 0);
        assert_eq!(
            sweep(&mut data, t1 + Duration::from_secs(2600), now, scale),
            1
        );
        assert!(data.carts.get(&id).is_none());
        assert_eq!(data.carts.all()[0].state, CartState::Expired);
        assert!(scopes(&mut data).is_empty(), "expiry fires no webhook");
    }

    #[test]
    fn version_mismatch_is_a_conflict_and_changes_nothing() {
        let mut data = store();
        let pid = first_product(&data);
        let now = crate::dates::now();
        let id = create_cart(
            &mut data,
            &json!({"line_items": [{"product_id": pid, "quantity": 1}]}),
            now,
            Instant::now(),
        )
        .unwrap();
        data.events.drain();
        let err = add_items(
            &mut data,
            &id,
            &json!({"version": 7, "line_items": [{"product_id": pid, "quantity": 1}]}),
            now,
            Instant::now(),
        )
        .unwrap_err();
        assert_eq!(err.status, StatusCode::CONFLICT);
        assert_eq!(data.carts.get(&id).unwrap().items[0].quantity, 1);
        assert!(scopes(&mut data).is_empty());
        add_items(
            &mut data,
            &id,
            &json!({"version": 1, "line_items": [{"product_id": pid, "quantity": 2}]}),
            now,
            Instant::now(),
        )
        .unwrap();
        let cart = data.carts.get(&id).unwrap();
        assert_eq!((cart.items[0].quantity, cart.version), (3, 2));
        assert_eq!(
            scopes(&mut data),
            ["store/cart/lineItem/updated", "store/cart/updated"]
        );
    }

    #[test]
    fn removing_the_last_line_deletes_the_cart() {
        let mut data = store();
        let pid = first_product(&data);
        let now = crate::dates::now();
        let id = create_cart(
            &mut data,
            &json!({"line_items": [{"product_id": pid, "quantity": 1}]}),
            now,
            Instant::now(),
        )
        .unwrap();
        data.events.drain();
        let line = data.carts.get(&id).unwrap().items[0].id.clone();
        let out = remove_item(&mut data, &id, &line, now, Instant::now()).unwrap();
        assert_eq!(out, ItemOutcome::CartDeleted);
        assert_eq!(
            scopes(&mut data),
            ["store/cart/lineItem/deleted", "store/cart/deleted"]
        );
        assert_eq!(data.carts.all()[0].state, CartState::Deleted);
    }

    #[test]
    fn finishing_a_checkout_converts_with_the_order_id() {
        let mut data = store();
        let pid = first_product(&data);
        let now = crate::dates::now();
        let id = create_cart(
            &mut data,
            &json!({"customer_id": 1, "line_items": [{"product_id": pid, "quantity": 1}]}),
            now,
            Instant::now(),
        )
        .unwrap();
        data.events.drain();
        let body = begin_checkout(&mut data, &id).unwrap();
        assert_eq!(body["products"][0]["product_id"], json!(pid));
        assert_eq!(
            begin_checkout(&mut data, &id).unwrap_err().status,
            StatusCode::CONFLICT
        );
        finish_checkout(&mut data, &id, Some(99), now);
        let events = data.events.drain();
        assert_eq!(events[0].scope, "store/cart/converted");
        assert_eq!(
            events[0].data,
            json!({"type": "cart", "id": id, "orderId": 99})
        );
        assert!(data.carts.get(&id).is_none());
        assert_eq!(data.carts.all()[0].order_id, Some(99));
    }
}
