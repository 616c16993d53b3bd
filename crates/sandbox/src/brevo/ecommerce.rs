//! The e-commerce API (docs/brevo-api-notes.md §5): activation, categories, products and
//! orders. Every catalogue and order route is refused until the app is active.

use std::collections::BTreeSet;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::clock::format_time;
use super::error::{ApiResult, BrevoError, json_status, no_content};
use super::server::{BrevoShared, BrevoState};
use super::store::{CatalogItem, OrderBatch, Store, bad, value_as_id};
use super::util::{Query, json_object, normalise_email, normalise_phone, page};

pub fn routes() -> Router<BrevoShared> {
    Router::new()
        .route("/v3/ecommerce/activate", post(activate))
        .route("/v3/categories", get(list_categories).post(create_category))
        .route("/v3/categories/batch", post(batch_categories))
        .route("/v3/categories/{id}", get(get_category))
        .route("/v3/products", get(list_products).post(create_product))
        .route("/v3/products/batch", post(batch_products))
        .route("/v3/products/{id}", get(get_product))
        .route("/v3/orders", get(list_orders))
        .route("/v3/orders/status", post(create_order))
        .route("/v3/orders/status/batch", post(batch_orders))
}

/// How long after acceptance an order batch is applied, before scaling.
const BATCH_APPLIES_AFTER: Duration = Duration::from_secs(3);
const MAX_META_KEYS: usize = 20;
const MAX_META_CHARS: usize = 20_000;
const MAX_ORDER_BATCH_BYTES: usize = 5 * 1024 * 1024;

/// `POST /ecommerce/activate` → 200; the app turns active after the configured delay.
async fn activate(State(st): State<BrevoShared>) -> ApiResult {
    let now = st.clock.now();
    let delay = st.scaled(st.settings.read().activation_delay);
    let mut store = st.store.lock();
    if store.ecommerce_active_at.is_none() {
        store.ecommerce_active_at = Some(now + delay);
    }
    Ok(json_status(
        StatusCode::OK,
        json!({"message": "The eCommerce app activation is in process; allow about 5 minutes"}),
    ))
}

/// Refuses catalogue and order routes until activation completes
/// (docs/brevo-api-notes.md §5.1: the exact error is UNCERTAIN; 400 `permission_denied`).
fn gate(st: &BrevoState, store: &Store) -> Result<(), BrevoError> {
    match store.ecommerce_active_at {
        Some(t) if st.clock.now() >= t => Ok(()),
        _ => Err(BrevoError::new(
            StatusCode::BAD_REQUEST,
            "permission_denied",
            "The eCommerce app is not active on this account; call POST /v3/ecommerce/activate and retry after a few minutes",
        )),
    }
}

// ---- shared catalogue logic ----

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Category,
    Product,
}

impl Kind {
    fn noun(self) -> &'static str {
        match self {
            Kind::Category => "category",
            Kind::Product => "product",
        }
    }
}

fn id_of(v: &Map<String, Value>, kind: Kind) -> Result<String, BrevoError> {
    match v.get("id") {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(BrevoError::missing(format!(
            "The {} id is missing; give a string id",
            kind.noun()
        ))),
    }
}

/// Checks one category or product payload and returns the fields to store.
fn check_item(v: &Map<String, Value>, kind: Kind) -> Result<Map<String, Value>, BrevoError> {
    let mut out = Map::new();
    out.insert("id".into(), Value::from(id_of(v, kind)?));
    let strings: &[&str] = match kind {
        Kind::Category => &["name", "url", "deletedAt"],
        Kind::Product => &[
            "name",
            "url",
            "imageUrl",
            "sku",
            "parentId",
            "deletedAt",
            "brand",
            "description",
        ],
    };
    for f in strings {
        match v.get(*f) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => {
                out.insert((*f).into(), Value::from(s.clone()));
            }
            Some(_) => return Err(bad(format!("{f} should be type string"))),
        }
    }
    if let Some(d) = v.get("isDeleted").filter(|d| !d.is_null()) {
        out.insert(
            "isDeleted".into(),
            Value::Bool(
                d.as_bool()
                    .ok_or_else(|| bad("isDeleted should be type boolean"))?,
            ),
        );
    }
    if kind == Kind::Product {
        for f in ["price", "stock", "alternativePrice"] {
            match v.get(f) {
                None | Some(Value::Null) => {}
                Some(n @ Value::Number(_)) => {
                    out.insert(f.into(), n.clone());
                }
                Some(_) => return Err(bad(format!("{f} should be type number"))),
            }
        }
        match v.get("categories") {
            None | Some(Value::Null) => {}
            Some(Value::Array(c)) if c.iter().all(Value::is_string) => {
                out.insert("categories".into(), Value::Array(c.clone()));
            }
            Some(_) => {
                return Err(bad(
                    "categories should be an array of category ids (strings)",
                ));
            }
        }
        match v.get("metaInfo") {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => {
                // docs/brevo-api-notes.md §5.3: both caps are UNCERTAIN, so both apply.
                if m.len() > MAX_META_KEYS {
                    return Err(bad(format!(
                        "metaInfo has {} keys; at most {MAX_META_KEYS} are allowed",
                        m.len()
                    )));
                }
                let chars = serde_json::to_string(m).map_or(0, |s| s.chars().count());
                if chars > MAX_META_CHARS {
                    return Err(bad(format!(
                        "metaInfo is {chars} characters; at most {MAX_META_CHARS} are allowed"
                    )));
                }
                if m.values().any(|v| !(v.is_string() || v.is_number())) {
                    return Err(bad("metaInfo values must be strings or numbers"));
                }
                out.insert("metaInfo".into(), Value::Object(m.clone()));
            }
            Some(_) => return Err(bad("metaInfo should be type object")),
        }
    }
    Ok(out)
}

/// Inserts or updates one item; returns true if it was created.
fn upsert(store: &mut Store, kind: Kind, fields: Map<String, Value>, now: Duration) -> bool {
    let id = fields.get("id").map(value_as_id).unwrap_or_default();
    let seq = store.next_seq();
    let map = match kind {
        Kind::Category => &mut store.categories,
        Kind::Product => &mut store.products,
    };
    let created = !map.contains_key(&id);
    let item = map.entry(id.clone()).or_insert_with(|| CatalogItem {
        doc: Map::new(),
        seq,
        created: now,
        modified: now,
    });
    for (k, v) in fields {
        item.doc.insert(k, v);
    }
    item.modified = now;
    if kind == Kind::Product && item.doc.contains_key("imageUrl") {
        // docs/brevo-api-notes.md §5.3: Brevo re-hosts images; the emulator makes up the URLs.
        let base = format!("https://brevo-sandbox.test/s3/products/{id}");
        item.doc
            .insert("s3Original".into(), Value::from(format!("{base}/original")));
        item.doc.insert(
            "s3ThumbAnalytics".into(),
            Value::from(format!("{base}/analytics")),
        );
        item.doc.insert(
            "s3ThumbEditor".into(),
            Value::from(format!("{base}/editor")),
        );
    }
    created
}

fn item_json(st: &BrevoState, item: &CatalogItem) -> Value {
    let mut doc = item.doc.clone();
    doc.insert(
        "createdAt".into(),
        Value::from(format_time(st.clock.wall(item.created))),
    );
    doc.insert(
        "modifiedAt".into(),
        Value::from(format_time(st.clock.wall(item.modified))),
    );
    doc.entry("isDeleted").or_insert(Value::Bool(false));
    Value::Object(doc)
}

/// `POST /categories` and `POST /products`: 201 `{id}` on create, 400 if the id exists
/// without `updateEnabled`, 204 on update (docs/brevo-api-notes.md §5.2, §5.3).
fn create_one(st: &BrevoState, kind: Kind, headers: &HeaderMap, body: &Bytes) -> ApiResult {
    let body = json_object(headers, body)?;
    let fields = check_item(&body, kind)?;
    let update = body
        .get("updateEnabled")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let now = st.clock.now();
    let mut store = st.store.lock();
    gate(st, &store)?;
    let id = fields.get("id").map(value_as_id).unwrap_or_default();
    let exists = match kind {
        Kind::Category => store.categories.contains_key(&id),
        Kind::Product => store.products.contains_key(&id),
    };
    if exists && !update {
        return Err(bad(format!(
            "A {} with id {id} already exists; send updateEnabled: true to update it",
            kind.noun()
        )));
    }
    if !exists && !fields.contains_key("name") {
        return Err(BrevoError::missing(format!(
            "The {} name is missing; it is required on create",
            kind.noun()
        )));
    }
    if upsert(&mut store, kind, fields, now) {
        // The 201 id is a running integer (docs/brevo-api-notes.md §5.3).
        let n = match kind {
            Kind::Category => &mut store.next_category_number,
            Kind::Product => &mut store.next_product_number,
        };
        let num = *n;
        *n += 1;
        Ok(json_status(StatusCode::CREATED, json!({ "id": num })))
    } else {
        Ok(no_content())
    }
}

/// The batch routes: all-or-nothing validation, then 201 `{createdCount, updatedCount}`.
fn create_batch(st: &BrevoState, kind: Kind, headers: &HeaderMap, body: &Bytes) -> ApiResult {
    let body = json_object(headers, body)?;
    let field = match kind {
        Kind::Category => "categories",
        Kind::Product => "products",
    };
    let Some(Value::Array(items)) = body.get(field) else {
        return Err(BrevoError::missing(format!(
            "{field} should be a non-empty array"
        )));
    };
    let update = body
        .get("updateEnabled")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let cap = if kind == Kind::Product && update && st.switches().products_raised_limit {
        1000
    } else {
        100
    };
    if items.is_empty() || items.len() > cap {
        return Err(BrevoError::out_of_range(format!(
            "{field} must have between 1 and {cap} items; got {}",
            items.len()
        )));
    }
    let mut checked = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, item) in items.iter().enumerate() {
        let obj = item
            .as_object()
            .ok_or_else(|| bad(format!("{field}/{i} should be type object")))?;
        let fields =
            check_item(obj, kind).map_err(|e| bad(format!("{field}/{i}: {}", e.message)))?;
        let id = fields.get("id").map(value_as_id).unwrap_or_default();
        if !seen.insert(id.clone()) {
            return Err(bad(format!(
                "{field} repeats the id {id}; each id may appear once per batch"
            )));
        }
        checked.push((id, fields));
    }
    let now = st.clock.now();
    let mut store = st.store.lock();
    gate(st, &store)?;
    for (id, fields) in &checked {
        let exists = match kind {
            Kind::Category => store.categories.contains_key(id),
            Kind::Product => store.products.contains_key(id),
        };
        if exists && !update {
            return Err(bad(format!(
                "A {} with id {id} already exists; send updateEnabled: true to update it",
                kind.noun()
            )));
        }
        if !exists && !fields.contains_key("name") {
            return Err(BrevoError::missing(format!(
                "The name of {} {id} is missing; it is required on create",
                kind.noun()
            )));
        }
    }
    let (mut created, mut updated) = (0, 0);
    for (_, fields) in checked {
        if upsert(&mut store, kind, fields, now) {
            created += 1;
        } else {
            updated += 1;
        }
    }
    Ok(json_status(
        StatusCode::CREATED,
        json!({"createdCount": created, "updatedCount": updated}),
    ))
}

fn list_items(st: &BrevoState, kind: Kind, q: &Query) -> ApiResult {
    let (max, field) = match kind {
        Kind::Category => (100, "categories"),
        Kind::Product => (1000, "products"),
    };
    let (limit, offset, asc) = (q.limit(50, max)?, q.offset()?, q.ascending()?);
    let ids = q.all("ids");
    let name = q.get("name").filter(|s| !s.is_empty());
    if kind == Kind::Product && name.is_some_and(|n| n.chars().count() < 3) {
        return Err(bad("name must have at least 3 characters"));
    }
    let modified = q.since("modifiedSince")?;
    let created = q.since("createdSince")?;
    let deleted = q.bool("isDeleted")?;
    let cats = q.all("categories");
    let mut price_filters = Vec::new();
    for op in ["lte", "gte", "lt", "gt", "eq", "ne"] {
        if let Some(v) = q.get(&format!("price[{op}]")) {
            let n: f64 = v
                .parse()
                .map_err(|_| bad(format!("price[{op}] must be a number")))?;
            price_filters.push((op, n));
        }
    }
    let store = st.store.lock();
    gate(st, &store)?;
    let map = match kind {
        Kind::Category => &store.categories,
        Kind::Product => &store.products,
    };
    let mut items: Vec<&CatalogItem> = map.values().collect();
    items.sort_by_key(|i| i.seq);
    let matching: Vec<Value> = items
        .into_iter()
        .filter(|i| {
            ids.is_empty()
                || ids
                    .iter()
                    .any(|x| i.doc.get("id").map(value_as_id).as_deref() == Some(x))
        })
        .filter(|i| {
            name.is_none_or(|n| {
                i.doc
                    .get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|v| v.to_lowercase().contains(&n.to_lowercase()))
            })
        })
        .filter(|i| modified.is_none_or(|t| st.clock.wall(i.modified) >= t))
        .filter(|i| created.is_none_or(|t| st.clock.wall(i.created) >= t))
        .filter(|i| {
            deleted.is_none_or(|d| {
                i.doc
                    .get("isDeleted")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
                    == d
            })
        })
        .filter(|i| {
            cats.is_empty()
                || i.doc
                    .get("categories")
                    .and_then(Value::as_array)
                    .is_some_and(|c| {
                        c.iter()
                            .any(|c| c.as_str().is_some_and(|c| cats.iter().any(|x| x == c)))
                    })
        })
        .filter(|i| {
            let p = i.doc.get("price").and_then(Value::as_f64);
            price_filters.iter().all(|(op, n)| {
                p.is_some_and(|p| match *op {
                    "lte" => p <= *n,
                    "gte" => p >= *n,
                    "lt" => p < *n,
                    "gt" => p > *n,
                    "eq" => p == *n,
                    _ => p != *n,
                })
            })
        })
        .map(|i| item_json(st, i))
        .collect();
    Ok(json_status(
        StatusCode::OK,
        json!({ field: page(&matching, asc, offset, limit), "count": matching.len() }),
    ))
}

fn get_item(st: &BrevoState, kind: Kind, id: &str) -> ApiResult {
    let store = st.store.lock();
    gate(st, &store)?;
    let map = match kind {
        Kind::Category => &store.categories,
        Kind::Product => &store.products,
    };
    let item = map
        .get(id)
        .ok_or_else(|| BrevoError::not_found(format!("{} {id} does not exist", kind.noun())))?;
    Ok(json_status(StatusCode::OK, item_json(st, item)))
}

async fn create_category(
    State(st): State<BrevoShared>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    create_one(&st, Kind::Category, &headers, &body)
}
async fn create_product(
    State(st): State<BrevoShared>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    create_one(&st, Kind::Product, &headers, &body)
}
async fn batch_categories(
    State(st): State<BrevoShared>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    create_batch(&st, Kind::Category, &headers, &body)
}
async fn batch_products(
    State(st): State<BrevoShared>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    create_batch(&st, Kind::Product, &headers, &body)
}
async fn list_categories(State(st): State<BrevoShared>, RawQuery(q): RawQuery) -> ApiResult {
    list_items(&st, Kind::Category, &Query::parse(q.as_deref()))
}
async fn list_products(State(st): State<BrevoShared>, RawQuery(q): RawQuery) -> ApiResult {
    list_items(&st, Kind::Product, &Query::parse(q.as_deref()))
}
async fn get_category(State(st): State<BrevoShared>, Path(id): Path<String>) -> ApiResult {
    get_item(&st, Kind::Category, &id)
}
async fn get_product(State(st): State<BrevoShared>, Path(id): Path<String>) -> ApiResult {
    get_item(&st, Kind::Product, &id)
}

// ---- orders ----

fn time_field(o: &Map<String, Value>, f: &str) -> Result<(), String> {
    match o.get(f) {
        Some(Value::String(s)) if chrono::DateTime::parse_from_rfc3339(s).is_ok() => Ok(()),
        Some(_) => Err(format!(
            "{f} must be a UTC date-time like 2026-01-02T03:04:05Z"
        )),
        None => Err(format!("{f} is missing")),
    }
}

/// Checks one order (docs/brevo-api-notes.md §5.4) and returns it with `identifiers`
/// filled (a top-level `email`, from older SDKs, is taken as `identifiers.email_id`).
fn check_order(v: &Value) -> Result<Map<String, Value>, String> {
    let Some(o) = v.as_object() else {
        return Err("an order must be a JSON object".into());
    };
    let mut o = o.clone();
    match o.get("id") {
        Some(Value::String(s)) if !s.is_empty() => {}
        Some(Value::Number(n)) => {
            let s = n.to_string();
            o.insert("id".into(), Value::from(s));
        }
        _ => return Err("id is missing; give the order id as a string".into()),
    }
    time_field(&o, "createdAt")?;
    time_field(&o, "updatedAt")?;
    if !o.get("status").is_some_and(Value::is_string) {
        return Err("status is missing; give a string such as \"completed\"".into());
    }
    if !o.get("amount").is_some_and(Value::is_number) {
        return Err("amount is missing; give the order total as a number".into());
    }
    let Some(Value::Array(lines)) = o.get("products") else {
        return Err("products is missing; give the order lines as an array".into());
    };
    for (i, l) in lines.iter().enumerate() {
        let Some(l) = l.as_object() else {
            return Err(format!("products/{i} must be an object"));
        };
        if !l
            .get("productId")
            .is_some_and(|p| p.is_string() || p.is_number())
        {
            return Err(format!("products/{i}.productId is missing"));
        }
        if !l.get("price").is_some_and(Value::is_number) {
            return Err(format!(
                "products/{i}.price is missing; give the unit price as a number"
            ));
        }
        let q = l.get("quantity").filter(|v| !v.is_null());
        let qf = l.get("quantityFloat").filter(|v| !v.is_null());
        match (q, qf) {
            (Some(q), None) if q.is_i64() || q.is_u64() => {}
            (Some(_), None) => {
                return Err(format!(
                    "products/{i}.quantity must be an integer; use quantityFloat for decimals"
                ));
            }
            (None, Some(f)) if f.is_number() => {}
            (None, Some(_)) => return Err(format!("products/{i}.quantityFloat must be a number")),
            (Some(_), Some(_)) => {
                return Err(format!(
                    "products/{i} has both quantity and quantityFloat; give exactly one"
                ));
            }
            (None, None) => return Err(format!("products/{i} needs quantity or quantityFloat")),
        }
    }
    let mut ids = match o.get("identifiers") {
        Some(Value::Object(m)) => m.clone(),
        None | Some(Value::Null) => Map::new(),
        Some(_) => return Err("identifiers must be an object".into()),
    };
    // docs/brevo-api-notes.md §5.4: the top-level email is UNCERTAIN; accepted here.
    if let Some(Value::String(e)) = o.get("email")
        && !ids.contains_key("email_id")
    {
        ids.insert("email_id".into(), Value::from(e.clone()));
    }
    if !["email_id", "ext_id", "phone_id", "loyalty_subscription_id"]
        .iter()
        .any(|k| ids.get(*k).is_some_and(|v| !v.is_null()))
    {
        return Err(
            "identifiers needs at least one of email_id, ext_id, phone_id, loyalty_subscription_id"
                .into(),
        );
    }
    if let Some(c) = o.get("coupons")
        && !c.as_array().is_some_and(|a| a.iter().all(Value::is_string))
    {
        return Err("coupons must be an array of strings".into());
    }
    o.insert("identifiers".into(), Value::Object(ids));
    Ok(o)
}

/// The contact an order belongs to, if any.
fn order_contact(store: &Store, o: &Map<String, Value>) -> Option<i64> {
    let ids = o.get("identifiers")?;
    ids.get("email_id")
        .and_then(Value::as_str)
        .and_then(|e| store.find_by_email(&normalise_email(e)))
        .or_else(|| {
            ids.get("ext_id")
                .map(value_as_id)
                .and_then(|x| store.find_by_attr("EXT_ID", &x))
        })
        .or_else(|| {
            ids.get("phone_id")
                .and_then(normalise_phone)
                .and_then(|p| store.find_by_attr("SMS", &p))
        })
}

/// `POST /orders/status` → 204. Counted as a live order that can trigger automations
/// (docs/brevo-api-notes.md §5.4: presumably it does; UNCERTAIN).
async fn create_order(State(st): State<BrevoShared>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let body = json_object(&headers, &body)?;
    let order = check_order(&Value::Object(body)).map_err(bad)?;
    let now = st.clock.now();
    let mut store = st.store.lock();
    gate(&st, &store)?;
    store.put_order(order, false, "single".into(), now);
    Ok(no_content())
}

/// `POST /orders/status/batch` → 202 `{batchId, count}`, applied later.
async fn batch_orders(State(st): State<BrevoShared>, headers: HeaderMap, body: Bytes) -> ApiResult {
    if body.len() > MAX_ORDER_BATCH_BYTES {
        return Err(BrevoError::out_of_range(
            "The batch is larger than 5 MB; send fewer orders per batch",
        ));
    }
    let body = json_object(&headers, &body)?;
    let Some(Value::Array(items)) = body.get("orders") else {
        return Err(BrevoError::missing("orders should be a non-empty array"));
    };
    if items.is_empty() || items.len() > 1000 {
        return Err(BrevoError::out_of_range(format!(
            "orders must have between 1 and 1000 items; got {}",
            items.len()
        )));
    }
    let mut orders = Vec::new();
    for (i, item) in items.iter().enumerate() {
        orders.push(check_order(item).map_err(|m| bad(format!("orders/{i}: {m}")))?);
    }
    let historical = match body.get("historical") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(bad("historical should be type boolean")),
    };
    let notify_url = body
        .get("notifyUrl")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let now = st.clock.now();
    let due = now + st.scaled(BATCH_APPLIES_AFTER);
    let mut store = st.store.lock();
    gate(&st, &store)?;
    let count = orders.len();
    let id = store.add_order_batch(OrderBatch {
        id: 0,
        count,
        historical,
        orders,
        due,
        applied: false,
        notify_url,
    });
    Ok(json_status(
        StatusCode::ACCEPTED,
        json!({"batchId": id, "count": count}),
    ))
}

/// `GET /orders` (limit ≤100).
async fn list_orders(State(st): State<BrevoShared>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref());
    let (limit, offset, asc) = (q.limit(50, 100)?, q.offset()?, q.ascending()?);
    let modified = q.since("modifiedSince")?;
    let created = q.since("createdSince")?;
    let store = st.store.lock();
    gate(&st, &store)?;
    let mut orders: Vec<_> = store.orders.values().collect();
    orders.sort_by_key(|o| o.seq);
    let matching: Vec<Value> = orders
        .into_iter()
        .filter(|o| modified.is_none_or(|t| st.clock.wall(o.modified) >= t))
        .filter(|o| created.is_none_or(|t| st.clock.wall(o.created) >= t))
        .map(|o| {
            let mut doc = o.doc.clone();
            doc.insert(
                "contact_id".into(),
                order_contact(&store, &o.doc).map_or(Value::Null, Value::from),
            );
            Value::Object(doc)
        })
        .collect();
    Ok(json_status(
        StatusCode::OK,
        json!({"orders": page(&matching, asc, offset, limit), "count": matching.len()}),
    ))
}
