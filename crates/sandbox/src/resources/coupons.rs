//! V2 coupons (`/v2/coupons`, docs/api-notes.md §7.1): list (bare array, 204 when empty, sorted by
//! id, filters `id`, `code`, `name`, `type`, `exclude_type`, `min_id`, `max_id`), count,
//! create (201), get, update (the same required fields; an omitted `applies_to` is
//! cleared), delete one, and delete many by `id:in` (or all).
//!
//! Name and code are unique (compared case-insensitively, as shoppers type codes in any
//! case): a clash is 409 (docs/api-notes.md §11.7). Malformed input (wrong types, missing required
//! or read-only fields) is 400; well-formed but unacceptable values (too long, bad
//! characters, unknown type) are 422.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use rand::rngs::SmallRng;
use serde_json::{Map, Value, json};

use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult, ApiVersion};
use crate::paging;
use crate::query::Query;
use crate::resources::orders::model::Money;
use crate::seed::SeedSpec;
use crate::state::{Shared, StoreData};

const V: ApiVersion = ApiVersion::V2;
/// As for every V2 list (docs/api-notes.md §0.4, inferred).
const MAX_LIMIT: u32 = 250;
const MAX_NAME: usize = 100;
const MAX_CODE: usize = 50;

/// The coupon discount types (docs/api-notes.md §7.1); `Promotion` is read-only (coupons of V3
/// promotions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CouponType {
    PerItemDiscount,
    PercentageDiscount,
    PerTotalDiscount,
    ShippingDiscount,
    FreeShipping,
    Promotion,
}

impl CouponType {
    /// The types a client may create or set.
    pub const WRITABLE: [CouponType; 5] = [
        CouponType::PerItemDiscount,
        CouponType::PercentageDiscount,
        CouponType::PerTotalDiscount,
        CouponType::ShippingDiscount,
        CouponType::FreeShipping,
    ];

    pub fn name(self) -> &'static str {
        match self {
            CouponType::PerItemDiscount => "per_item_discount",
            CouponType::PercentageDiscount => "percentage_discount",
            CouponType::PerTotalDiscount => "per_total_discount",
            CouponType::ShippingDiscount => "shipping_discount",
            CouponType::FreeShipping => "free_shipping",
            CouponType::Promotion => "promotion",
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        Self::WRITABLE
            .into_iter()
            .chain([CouponType::Promotion])
            .find(|t| t.name() == s)
    }

    /// The integer an order's `/coupons` shows for this type (docs/api-notes.md §6.1).
    pub fn order_code(self) -> u8 {
        match self {
            CouponType::PerItemDiscount => 0,
            CouponType::PercentageDiscount => 1,
            CouponType::PerTotalDiscount => 2,
            CouponType::ShippingDiscount => 3,
            CouponType::FreeShipping => 4,
            CouponType::Promotion => 5,
        }
    }
}

/// `applies_to`: the products or categories the coupon discounts (`ids: [0]` with
/// categories means every category).
#[derive(Debug, Clone, PartialEq)]
pub struct AppliesTo {
    pub entity: &'static str,
    pub ids: Vec<i64>,
}

#[derive(Debug, Clone)]
pub struct Coupon {
    pub id: i64,
    pub name: String,
    pub code: String,
    pub coupon_type: CouponType,
    pub amount: Money,
    pub min_purchase: Money,
    pub expires: Option<DateTime<Utc>>,
    pub enabled: bool,
    /// `None` once a PUT left it out (docs/api-notes.md §7.1: it is cleared).
    pub applies_to: Option<AppliesTo>,
    pub num_uses: i64,
    pub max_uses: i64,
    pub max_uses_per_customer: i64,
    pub restricted_to: Value,
    pub shipping_methods: Option<Vec<String>>,
    pub date_created: DateTime<Utc>,
}

impl Coupon {
    /// The discount this coupon gives on an order of `subtotal` with `shipping` cost
    /// (what seeded orders record).
    pub fn discount_on(&self, subtotal: Money, shipping: Money, items: i64) -> Money {
        let d = match self.coupon_type {
            CouponType::PerItemDiscount => self.amount.times(items),
            CouponType::PercentageDiscount => subtotal.percent(self.amount),
            CouponType::PerTotalDiscount => self.amount,
            CouponType::ShippingDiscount => self.amount.min(shipping),
            CouponType::FreeShipping => shipping,
            CouponType::Promotion => Money::ZERO,
        };
        d.min(subtotal + shipping).max_zero().round_cents()
    }
}

/// Every coupon, in id order.
#[derive(Debug, Default)]
pub struct CouponsData {
    coupons: Vec<Coupon>,
    last_id: i64,
}

impl CouponsData {
    pub fn counts(&self, m: &mut Map<String, Value>) {
        m.insert("coupons".into(), self.coupons.len().into());
    }

    /// Every coupon in id order (orders seeding applies them).
    pub fn all(&self) -> &[Coupon] {
        &self.coupons
    }

    pub fn get(&self, id: i64) -> Option<&Coupon> {
        self.coupons
            .binary_search_by_key(&id, |c| c.id)
            .ok()
            .map(|i| &self.coupons[i])
    }

    /// Counts one redemption (`num_uses`).
    pub fn record_use(&mut self, id: i64) {
        if let Ok(i) = self.coupons.binary_search_by_key(&id, |c| c.id) {
            self.coupons[i].num_uses += 1;
        }
    }

    fn next_id(&mut self) -> i64 {
        self.last_id += 1;
        self.last_id
    }

    /// A coupon other than `except` already using this name or code (case-insensitive).
    fn clash(&self, name: &str, code: &str, except: Option<i64>) -> Option<ApiError> {
        let others = || self.coupons.iter().filter(|c| Some(c.id) != except);
        if let Some(c) = others().find(|c| c.name.eq_ignore_ascii_case(name)) {
            return Some(ApiError::conflict(
                V,
                format!(
                    "A coupon named {name:?} already exists (id {}). Coupon names must be unique.",
                    c.id
                ),
            ));
        }
        if let Some(c) = others().find(|c| c.code.eq_ignore_ascii_case(code)) {
            return Some(ApiError::conflict(
                V,
                format!(
                    "A coupon with the code {code:?} already exists (id {}). Coupon codes must be unique.",
                    c.id
                ),
            ));
        }
        None
    }
}

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/v2/coupons", get(list).post(create).delete(delete_many))
        .route("/v2/coupons/count", get(count))
        .route(
            "/v2/coupons/{coupon_id}",
            get(get_one).put(update).delete(delete_one),
        )
}

fn render(c: &Coupon) -> Value {
    json!({
        "id": c.id,
        "name": c.name,
        "type": c.coupon_type.name(),
        "amount": c.amount,
        "min_purchase": c.min_purchase,
        "expires": c.expires.map(crate::dates::rfc2822).unwrap_or_default(),
        "enabled": c.enabled,
        "code": c.code,
        "applies_to": c.applies_to.as_ref().map(|a| json!({ "entity": a.entity, "ids": a.ids })),
        "num_uses": c.num_uses,
        "max_uses": c.max_uses,
        "max_uses_per_customer": c.max_uses_per_customer,
        "restricted_to": c.restricted_to,
        "shipping_methods": c.shipping_methods,
        "date_created": crate::dates::rfc2822(c.date_created),
    })
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::bad_request(V, msg)
}

fn invalid(msg: impl Into<String>) -> ApiError {
    ApiError::new(V, StatusCode::UNPROCESSABLE_ENTITY, msg)
}

fn not_found() -> ApiError {
    ApiError::not_found(V)
}

fn coupon_id(p: &[(String, String)]) -> Result<i64, ApiError> {
    p.iter()
        .find(|(k, _)| k == "coupon_id")
        .and_then(|(_, v)| v.parse().ok())
        .ok_or_else(not_found)
}

/// The list filters (docs/api-notes.md §7.1).
struct CouponFilter {
    id: Option<i64>,
    code: Option<String>,
    name: Option<String>,
    coupon_type: Option<CouponType>,
    exclude_type: Option<CouponType>,
    min_id: Option<i64>,
    max_id: Option<i64>,
}

impl CouponFilter {
    fn parse(q: &Query) -> Result<Self, ApiError> {
        let ty = |key: &str| -> Result<Option<CouponType>, ApiError> {
            match q.get(key).filter(|s| !s.is_empty()) {
                None => Ok(None),
                Some(s) => CouponType::from_name(s).map(Some).ok_or_else(|| {
                    bad(format!(
                        "The filter '{key}' must be one of per_item_discount, percentage_discount, per_total_discount, shipping_discount, free_shipping, promotion; got {s:?}."
                    ))
                }),
            }
        };
        Ok(CouponFilter {
            id: q.int("id")?,
            code: q.get("code").filter(|s| !s.is_empty()).map(str::to_owned),
            name: q.get("name").filter(|s| !s.is_empty()).map(str::to_owned),
            coupon_type: ty("type")?,
            exclude_type: ty("exclude_type")?,
            min_id: q.int("min_id")?,
            max_id: q.int("max_id")?,
        })
    }

    fn matches(&self, c: &Coupon) -> bool {
        self.id.is_none_or(|id| c.id == id)
            && self.min_id.is_none_or(|m| c.id >= m)
            && self.max_id.is_none_or(|m| c.id <= m)
            && self
                .code
                .as_deref()
                .is_none_or(|code| c.code.eq_ignore_ascii_case(code))
            && self.name.as_deref().is_none_or(|name| c.name == name)
            && self.coupon_type.is_none_or(|t| c.coupon_type == t)
            && self.exclude_type.is_none_or(|t| c.coupon_type != t)
    }
}

/// `GET /v2/coupons`: sorted by id; 204 with no body for an empty page.
async fn list(State(st): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V);
    let (page, limit) = q.page_limit(MAX_LIMIT)?;
    let filter = CouponFilter::parse(&q)?;
    let data = st.data.read();
    let matching: Vec<&Coupon> = data
        .coupons
        .coupons
        .iter()
        .filter(|c| filter.matches(c))
        .collect();
    Ok(paging::v2_list(&matching, page, limit, |c| render(c)))
}

async fn count(State(st): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V);
    let filter = CouponFilter::parse(&q)?;
    let data = st.data.read();
    let n = data
        .coupons
        .coupons
        .iter()
        .filter(|c| filter.matches(c))
        .count();
    Ok(paging::v2_object(StatusCode::OK, json!({ "count": n })))
}

async fn get_one(State(st): State<Shared>, Path(p): Path<Vec<(String, String)>>) -> ApiResult {
    let id = coupon_id(&p)?;
    let data = st.data.read();
    let c = data.coupons.get(id).ok_or_else(not_found)?;
    Ok(paging::v2_object(StatusCode::OK, render(c)))
}

/// The writable fields of a create or update, validated.
struct CouponInput {
    name: String,
    code: String,
    coupon_type: CouponType,
    amount: Money,
    min_purchase: Option<Money>,
    expires: Option<Option<DateTime<Utc>>>,
    enabled: Option<bool>,
    applies_to: Option<AppliesTo>,
    max_uses: Option<i64>,
    max_uses_per_customer: Option<i64>,
    restricted_to: Option<Value>,
    shipping_methods: Option<Option<Vec<String>>>,
}

fn required_str<'a>(map: &'a Map<String, Value>, key: &str) -> Result<&'a str, ApiError> {
    match map.get(key) {
        None | Some(Value::Null) => Err(bad(format!(
            "The field '{key}' is required. A coupon needs name, code, type, amount and applies_to."
        ))),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(bad(format!("The field '{key}' must be a string."))),
    }
}

fn opt_int(map: &Map<String, Value>, key: &str) -> Result<Option<i64>, ApiError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v
            .as_i64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        {
            Some(n) if n >= 0 => Ok(Some(n)),
            Some(_) => Err(invalid(format!("The field '{key}' can't be negative."))),
            None => Err(bad(format!("The field '{key}' must be an integer."))),
        },
    }
}

fn money_field(map: &Map<String, Value>, key: &str) -> Result<Option<Money>, ApiError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match Money::from_json(v) {
            Some(m) if m.0 < 0 => Err(invalid(format!("The field '{key}' can't be negative."))),
            Some(m) => Ok(Some(m)),
            None => Err(bad(format!(
                "The field '{key}' must be a decimal number, e.g. \"5.00\"."
            ))),
        },
    }
}

/// Letters, numbers, whitespace and some punctuation (docs/api-notes.md §7.1); the exact set is not
/// documented, so markup and quote characters are what we refuse.
fn code_char_ok(c: char) -> bool {
    c.is_alphanumeric() || c == ' ' || "-_.!#$%&*+=@:;,/()?~^".contains(c)
}

fn parse_input(body: &Value) -> Result<CouponInput, ApiError> {
    let map = body
        .as_object()
        .ok_or_else(|| bad("The coupon must be a JSON object."))?;
    for read_only in ["num_uses", "date_created"] {
        if map.contains_key(read_only) {
            return Err(bad(format!(
                "The field '{read_only}' cannot be written to. Please remove it from your request before trying again."
            )));
        }
    }
    let name = required_str(map, "name")?.trim().to_owned();
    let code = required_str(map, "code")?.trim().to_owned();
    let type_name = required_str(map, "type")?;
    if !map.contains_key("amount") {
        return Err(bad(
            "The field 'amount' is required. A coupon needs name, code, type, amount and applies_to.",
        ));
    }
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(invalid(format!(
            "The coupon name must be 1 to {MAX_NAME} characters."
        )));
    }
    if code.is_empty() || code.chars().count() > MAX_CODE {
        return Err(invalid(format!(
            "The coupon code must be 1 to {MAX_CODE} characters."
        )));
    }
    if let Some(c) = code.chars().find(|c| !code_char_ok(*c)) {
        return Err(invalid(format!(
            "The coupon code may hold letters, numbers, whitespace and simple punctuation; {c:?} is not allowed."
        )));
    }
    let coupon_type = match CouponType::from_name(type_name) {
        Some(CouponType::Promotion) => {
            return Err(invalid(
                "The type 'promotion' is read-only: such coupons belong to V3 promotions.",
            ));
        }
        Some(t) => t,
        None => {
            return Err(invalid(format!(
                "The type {type_name:?} is not valid; use per_item_discount, percentage_discount, per_total_discount, shipping_discount or free_shipping."
            )));
        }
    };
    let amount = money_field(map, "amount")?.unwrap_or(Money::ZERO);
    if coupon_type == CouponType::PercentageDiscount && amount > Money::from_cents(10_000) {
        return Err(invalid(
            "A percentage_discount amount must be between 0 and 100.",
        ));
    }
    let applies_to = match map.get("applies_to") {
        None | Some(Value::Null) => None,
        Some(v) => Some(parse_applies_to(v)?),
    };
    let expires = match map.get("expires") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(s)) if s.trim().is_empty() => Some(None),
        Some(Value::String(s)) => Some(Some(DateTime::parse_from_rfc2822(s.trim()).map(|d| d.with_timezone(&Utc)).map_err(
            |_| bad(format!("The field 'expires' must be an RFC 2822 date such as 'Tue, 20 Nov 2029 00:00:00 +0000', or empty; got {s:?}.")),
        )?)),
        Some(_) => return Err(bad("The field 'expires' must be an RFC 2822 date string, or empty.")),
    };
    let enabled = match map.get("enabled") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(bad("The field 'enabled' must be true or false.")),
    };
    let restricted_to = match map.get("restricted_to") {
        None | Some(Value::Null) => None,
        Some(v @ Value::Object(_)) => Some(v.clone()),
        Some(Value::Array(a)) if a.is_empty() => Some(json!({})),
        Some(_) => return Err(bad("The field 'restricted_to' must be an object.")),
    };
    let shipping_methods = match map.get("shipping_methods") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::Array(a)) => Some(Some(
            a.iter()
                .map(|m| {
                    m.as_str().map(str::to_owned).ok_or_else(|| {
                        bad("The field 'shipping_methods' must be a list of strings.")
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        )),
        Some(_) => {
            return Err(bad(
                "The field 'shipping_methods' must be a list of strings.",
            ));
        }
    };
    Ok(CouponInput {
        name,
        code,
        coupon_type,
        amount,
        min_purchase: money_field(map, "min_purchase")?,
        expires,
        enabled,
        applies_to,
        max_uses: opt_int(map, "max_uses")?,
        max_uses_per_customer: opt_int(map, "max_uses_per_customer")?,
        restricted_to,
        shipping_methods,
    })
}

fn parse_applies_to(v: &Value) -> Result<AppliesTo, ApiError> {
    let m = v
        .as_object()
        .ok_or_else(|| bad("The field 'applies_to' must be an object {entity, ids}."))?;
    let entity = match m.get("entity").and_then(Value::as_str) {
        Some("products") => "products",
        Some("categories") => "categories",
        Some(other) => {
            return Err(invalid(format!(
                "applies_to.entity must be 'products' or 'categories'; got {other:?}."
            )));
        }
        None => {
            return Err(bad(
                "The field 'applies_to.entity' is required: 'products' or 'categories'.",
            ));
        }
    };
    let ids = m
        .get("ids")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            bad("The field 'applies_to.ids' is required: a list of product or category ids.")
        })?
        .iter()
        .map(|i| {
            i.as_i64()
                .ok_or_else(|| bad("applies_to.ids must be a list of integers."))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if ids.is_empty() {
        return Err(invalid(
            "applies_to.ids must hold at least one id (0 with categories means all).",
        ));
    }
    Ok(AppliesTo { entity, ids })
}

/// `POST /v2/coupons`: 201 (docs/api-notes.md §0.2).
async fn create(State(st): State<Shared>, JsonBody(body): JsonBody) -> ApiResult {
    let input = parse_input(&body)?;
    if body.get("id").is_some_and(|v| !v.is_null()) {
        return Err(bad(
            "The field 'id' cannot be written to. Please remove it from your request before trying again.",
        ));
    }
    let applies_to = input
        .applies_to
        .clone()
        .ok_or_else(|| bad("The field 'applies_to' is required: {\"entity\": \"categories\", \"ids\": [0]} applies to all."))?;
    st.write(|tx| {
        let data = &mut *tx.data;
        let coupons = &mut data.coupons;
        if let Some(e) = coupons.clash(&input.name, &input.code, None) {
            return Err(e);
        }
        let coupon = Coupon {
            id: coupons.next_id(),
            name: input.name,
            code: input.code,
            coupon_type: input.coupon_type,
            amount: input.amount,
            min_purchase: input.min_purchase.unwrap_or(Money::ZERO),
            expires: input.expires.flatten(),
            enabled: input.enabled.unwrap_or(true),
            applies_to: Some(applies_to),
            num_uses: 0,
            max_uses: input.max_uses.unwrap_or(0),
            max_uses_per_customer: input.max_uses_per_customer.unwrap_or(0),
            restricted_to: input.restricted_to.unwrap_or_else(|| json!({})),
            shipping_methods: input.shipping_methods.unwrap_or(Some(Vec::new())),
            date_created: crate::dates::now(),
        };
        let body = render(&coupon);
        coupons.coupons.push(coupon);
        Ok(paging::v2_object(StatusCode::CREATED, body))
    })
}

/// `PUT /v2/coupons/{id}`: name, code, type and amount are required again; a missing
/// `applies_to` clears the stored one (docs/api-notes.md §7.1).
async fn update(
    State(st): State<Shared>,
    Path(p): Path<Vec<(String, String)>>,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let id = coupon_id(&p)?;
    let input = parse_input(&body)?;
    if body
        .get("id")
        .and_then(Value::as_i64)
        .is_some_and(|given| given != id)
    {
        return Err(bad(
            "The field 'id' cannot be written to. Please remove it from your request before trying again.",
        ));
    }
    st.write(|tx| {
        let data = &mut *tx.data;
        let coupons = &mut data.coupons;
        if coupons.get(id).is_none() {
            return Err(not_found());
        }
        if let Some(e) = coupons.clash(&input.name, &input.code, Some(id)) {
            return Err(e);
        }
        let Ok(i) = coupons.coupons.binary_search_by_key(&id, |c| c.id) else {
            return Err(not_found());
        };
        let c = &mut coupons.coupons[i];
        c.name = input.name;
        c.code = input.code;
        c.coupon_type = input.coupon_type;
        c.amount = input.amount;
        c.applies_to = input.applies_to;
        if let Some(m) = input.min_purchase {
            c.min_purchase = m;
        }
        if let Some(e) = input.expires {
            c.expires = e;
        }
        if let Some(e) = input.enabled {
            c.enabled = e;
        }
        if let Some(m) = input.max_uses {
            c.max_uses = m;
        }
        if let Some(m) = input.max_uses_per_customer {
            c.max_uses_per_customer = m;
        }
        if let Some(r) = input.restricted_to {
            c.restricted_to = r;
        }
        if let Some(s) = input.shipping_methods {
            c.shipping_methods = s;
        }
        Ok(paging::v2_object(StatusCode::OK, render(c)))
    })
}

async fn delete_one(State(st): State<Shared>, Path(p): Path<Vec<(String, String)>>) -> ApiResult {
    let id = coupon_id(&p)?;
    st.write(|tx| {
        let data = &mut *tx.data;
        let coupons = &mut data.coupons.coupons;
        let i = coupons
            .binary_search_by_key(&id, |c| c.id)
            .map_err(|_| not_found())?;
        coupons.remove(i);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

/// `DELETE /v2/coupons?id:in=1,2,3`; without `id:in` it deletes every coupon, as the
/// spec's "Delete All Coupons" says.
async fn delete_many(State(st): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V);
    let ids = q.int_list("id:in")?;
    st.write(|tx| {
        let data = &mut *tx.data;
        match ids {
            Some(ids) => data.coupons.coupons.retain(|c| !ids.contains(&c.id)),
            None => data.coupons.coupons.clear(),
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

const CODE_CHARS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// `spec.coupons` coupons across the five writable types, some limited to products.
pub fn seed(data: &mut StoreData, spec: &SeedSpec, rng: &mut SmallRng, now: DateTime<Utc>) {
    if spec.coupons == 0 {
        return;
    }
    let product_ids: Vec<i64> = data.catalog.product_refs().iter().map(|p| p.id).collect();
    let history = spec.history_days.max(1) * 86_400;
    let mut codes = std::collections::HashSet::with_capacity(spec.coupons);
    for i in 0..spec.coupons {
        let coupon_type = CouponType::WRITABLE[i % CouponType::WRITABLE.len()];
        let (amount, label) = match coupon_type {
            CouponType::PerItemDiscount => {
                let a = rng.random_range(1..=10);
                (Money::from_cents(a * 100), format!("${a} off each item"))
            }
            CouponType::PercentageDiscount => {
                let a = rng.random_range(1..=6) * 5;
                (Money::from_cents(a * 100), format!("{a}% off"))
            }
            CouponType::PerTotalDiscount => {
                let a = rng.random_range(1..=5) * 5;
                (Money::from_cents(a * 100), format!("${a} off the order"))
            }
            CouponType::ShippingDiscount => {
                let a = rng.random_range(2..=8);
                (Money::from_cents(a * 100), format!("${a} off shipping"))
            }
            _ => (Money::ZERO, "Free shipping".to_owned()),
        };
        let code = loop {
            let c: String = (0..9)
                .map(|_| char::from(CODE_CHARS[rng.random_range(0..CODE_CHARS.len())]))
                .collect();
            if codes.insert(c.clone()) {
                break c;
            }
        };
        let applies_to = if !product_ids.is_empty() && rng.random_bool(0.3) {
            let n = rng.random_range(1..=3);
            let mut ids: Vec<i64> = (0..n)
                .map(|_| product_ids[rng.random_range(0..product_ids.len())])
                .collect();
            ids.sort_unstable();
            ids.dedup();
            AppliesTo {
                entity: "products",
                ids,
            }
        } else {
            AppliesTo {
                entity: "categories",
                ids: vec![0],
            }
        };
        let date_created = now - Duration::seconds(rng.random_range(0..history));
        let expires = rng
            .random_bool(0.2)
            .then(|| now + Duration::days(rng.random_range(30..365)));
        let id = data.coupons.next_id();
        data.coupons.coupons.push(Coupon {
            id,
            name: format!("{label} #{id}"),
            code,
            coupon_type,
            amount,
            min_purchase: if rng.random_bool(0.25) {
                Money::from_cents(2_500)
            } else {
                Money::ZERO
            },
            expires,
            enabled: !rng.random_bool(0.1),
            applies_to: Some(applies_to),
            num_uses: 0,
            max_uses: if rng.random_bool(0.2) { 100 } else { 0 },
            max_uses_per_customer: 0,
            restricted_to: json!({}),
            shipping_methods: Some(Vec::new()),
            date_created,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coupon(t: CouponType, amount: &str) -> Coupon {
        Coupon {
            id: 1,
            name: "c".into(),
            code: "C".into(),
            coupon_type: t,
            amount: Money::parse(amount).unwrap_or_default(),
            min_purchase: Money::ZERO,
            expires: None,
            enabled: true,
            applies_to: None,
            num_uses: 0,
            max_uses: 0,
            max_uses_per_customer: 0,
            restricted_to: json!({}),
            shipping_methods: None,
            date_created: crate::dates::now(),
        }
    }

    #[test]
    fn discounts_by_type() {
        let sub = Money::from_cents(9_000);
        let ship = Money::from_cents(1_000);
        assert_eq!(
            coupon(CouponType::PercentageDiscount, "10").discount_on(sub, ship, 3),
            Money::from_cents(900)
        );
        assert_eq!(
            coupon(CouponType::PerItemDiscount, "2").discount_on(sub, ship, 3),
            Money::from_cents(600)
        );
        assert_eq!(
            coupon(CouponType::PerTotalDiscount, "500").discount_on(sub, ship, 3),
            sub + ship
        );
        assert_eq!(
            coupon(CouponType::FreeShipping, "0").discount_on(sub, ship, 3),
            ship
        );
        assert_eq!(
            coupon(CouponType::ShippingDiscount, "4").discount_on(sub, ship, 3),
            Money::from_cents(400)
        );
    }

    #[test]
    fn types_round_trip() {
        for t in CouponType::WRITABLE {
            assert_eq!(CouponType::from_name(t.name()), Some(t));
        }
        assert_eq!(
            CouponType::from_name("promotion").map(CouponType::order_code),
            Some(5)
        );
        assert!(CouponType::from_name("bogus").is_none());
    }
}
