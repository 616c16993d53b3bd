//! V3 promotions (`/v3/promotions`, docs/api-notes.md §7.2) and their coupon codes.
//!
//! Promotions: list (filters `id`, `name`, `code`, `currency_code`, `redemption_type`,
//! `status`, `channels`, `query`; `sort=id|name|priority|start_date` with `direction`;
//! limit ≤250), create (201), get, update, delete one, and delete by `id:in` (≤50,
//! required) where each promotion that cannot go is reported by its index in a 422 while
//! the others are deleted. A promotion that still has codes cannot be deleted.
//!
//! Codes (`/v3/promotions/{id}/codes`): cursor-paged list (limit ≤250), create one (201),
//! delete by `id:in` (≤250) or one by id. Codes belong to `coupon` promotions only and are
//! unique store-wide (case-insensitive, 409). No webhook scope covers promotions, so
//! writes are [`Record::Unannounced`].

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{delete, get};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};

use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult, ApiVersion};
use crate::mutation::{Change, Record};
use crate::paging::{self, CursorKey, sortable_int};
use crate::query::{Query, like};
use crate::resources::orders::path_id;
use crate::seed::SeedSpec;
use crate::state::{Shared, StoreData};

const V: ApiVersion = ApiVersion::V3;
const MAX_LIMIT: u32 = 250;
const MAX_DELETE: usize = 50;
const MAX_CODE_DELETE: usize = 250;
const REDEMPTION: &[&str] = &["automatic", "coupon"];
const STATUSES: &[&str] = &["ENABLED", "DISABLED", "INVALID"];

#[derive(Debug, Clone)]
pub struct Promotion {
    pub id: i64,
    pub name: String,
    pub display_name: String,
    pub redemption_type: &'static str,
    pub status: &'static str,
    pub channels: Vec<i64>,
    pub customer: Value,
    pub rules: Value,
    pub notifications: Value,
    pub current_uses: i64,
    pub max_uses: Option<i64>,
    pub start_date: DateTime<Utc>,
    pub end_date: Option<DateTime<Utc>>,
    pub stop: bool,
    pub can_be_used_with_other_promotions: bool,
    pub currency_code: String,
    pub priority: i64,
}

#[derive(Debug, Clone)]
pub struct PromotionCode {
    pub id: i64,
    pub promotion_id: i64,
    pub code: String,
    pub current_uses: i64,
    pub max_uses: i64,
    pub max_uses_per_customer: i64,
    pub created: DateTime<Utc>,
}

/// Every promotion and code, by id.
#[derive(Debug, Default)]
pub struct PromotionsData {
    pub(crate) promotions: BTreeMap<i64, Promotion>,
    pub(crate) codes: BTreeMap<i64, PromotionCode>,
    last_id: i64,
    last_code_id: i64,
}

impl PromotionsData {
    pub fn counts(&self, m: &mut Map<String, Value>) {
        m.insert("promotions".into(), self.promotions.len().into());
        m.insert("promotion_codes".into(), self.codes.len().into());
    }

    fn has_codes(&self, promotion_id: i64) -> bool {
        self.codes.values().any(|c| c.promotion_id == promotion_id)
    }

    fn code_taken(&self, code: &str) -> bool {
        self.codes
            .values()
            .any(|c| c.code.eq_ignore_ascii_case(code))
    }
}

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/v3/promotions", get(list).post(create).delete(delete_many))
        .route(
            "/v3/promotions/{promotion_id}",
            get(get_one).put(update).delete(delete_one),
        )
        .route(
            "/v3/promotions/{promotion_id}/codes",
            get(list_codes).post(create_code).delete(delete_codes),
        )
        .route(
            "/v3/promotions/{promotion_id}/codes/{code_id}",
            delete(delete_code),
        )
}

pub fn render(p: &Promotion) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "display_name": p.display_name,
        "redemption_type": p.redemption_type,
        "channels": p.channels.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
        "customer": p.customer,
        "rules": p.rules,
        "notifications": p.notifications,
        "current_uses": p.current_uses,
        "max_uses": p.max_uses,
        "status": p.status,
        "start_date": crate::dates::iso(p.start_date),
        "end_date": p.end_date.map(crate::dates::iso),
        "stop": p.stop,
        "can_be_used_with_other_promotions": p.can_be_used_with_other_promotions,
        "currency_code": p.currency_code,
        "priority": p.priority,
        "created_from": "api",
    })
}

fn render_code(c: &PromotionCode) -> Value {
    json!({
        "id": c.id,
        "code": c.code,
        "current_uses": c.current_uses,
        "max_uses": c.max_uses,
        "max_uses_per_customer": c.max_uses_per_customer,
        "created": crate::dates::iso(c.created),
    })
}

fn not_found() -> ApiError {
    ApiError::not_found(V)
}

fn invalid(field: &str, msg: impl Into<String>) -> ApiError {
    ApiError::unprocessable(V, "The promotion is not valid.").with_error(field, msg)
}

/// The `id:in` of a bulk delete: required, and at most `max` ids.
fn ids_to_delete(raw: Option<&str>, max: usize) -> Result<Vec<i64>, ApiError> {
    let ids = Query::parse(raw, V)
        .required_ids("id:in")?
        .ok_or_else(|| invalid("id:in", "id:in is required"))?;
    if ids.len() > max {
        return Err(ApiError::batch_too_large(V, max));
    }
    Ok(ids)
}

/// `GET /v3/promotions`.
async fn list(State(st): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V);
    let (page, limit) = q.page_limit(MAX_LIMIT)?;
    let id = q.int("id")?;
    let text = |k: &str| q.get(k).filter(|s| !s.is_empty());
    let (name, code, currency) = (text("name"), text("code"), text("currency_code"));
    let (redemption, status, query) = (text("redemption_type"), text("status"), text("query"));
    let channels = q.int_list("channels")?;
    let descending = q.descending()?;
    let sort = q.get("sort").filter(|s| !s.is_empty()).unwrap_or("id");
    if !["id", "name", "priority", "start_date"].contains(&sort) {
        return Err(ApiError::bad_request(
            V,
            format!("The parameter 'sort' must be id, name, priority or start_date; got {sort:?}."),
        ));
    }
    let data = st.data.read();
    let promos = &data.promotions;
    let mut matching: Vec<&Promotion> = promos
        .promotions
        .values()
        .filter(|p| {
            id.is_none_or(|i| p.id == i)
                && name.is_none_or(|n| p.name == n)
                && currency.is_none_or(|c| p.currency_code.eq_ignore_ascii_case(c))
                && redemption.is_none_or(|r| p.redemption_type == r)
                && status.is_none_or(|s| p.status.eq_ignore_ascii_case(s))
                && channels
                    .as_ref()
                    .is_none_or(|cs| cs.iter().any(|c| p.channels.contains(c)))
                && query.is_none_or(|s| like(&p.name, &format!("%{s}%")))
                && code.is_none_or(|c| {
                    promos
                        .codes
                        .values()
                        .any(|x| x.promotion_id == p.id && x.code.eq_ignore_ascii_case(c))
                })
        })
        .collect();
    matching.sort_by(|a, b| {
        let o = match sort {
            "name" => a.name.cmp(&b.name),
            "priority" => a.priority.cmp(&b.priority),
            "start_date" => a.start_date.cmp(&b.start_date),
            _ => std::cmp::Ordering::Equal,
        }
        .then(a.id.cmp(&b.id));
        if descending { o.reverse() } else { o }
    });
    Ok(paging::v3_offset(&matching, page, limit, &q, |p| render(p)))
}

async fn get_one(State(st): State<Shared>, Path(p): Path<Vec<(String, String)>>) -> ApiResult {
    let id = path_id(&p, "promotion_id", V)?;
    let data = st.data.read();
    let promo = data.promotions.promotions.get(&id).ok_or_else(not_found)?;
    Ok(paging::v3_single(render(promo)))
}

fn date_field(
    obj: &Map<String, Value>,
    key: &str,
) -> Result<Option<Option<DateTime<Utc>>>, ApiError> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|d| Some(Some(d.with_timezone(&Utc))))
            .map_err(|_| invalid(key, format!("{key} must be an ISO 8601 date"))),
        Some(_) => Err(invalid(key, format!("{key} must be an ISO 8601 date"))),
    }
}

/// Reads the writable fields onto `p`: a create needs `name` and a non-empty `rules`.
fn apply(body: &Value, p: &mut Promotion, creating: bool) -> Result<(), ApiError> {
    let obj = body
        .as_object()
        .ok_or_else(|| invalid("body", "the promotion must be a JSON object"))?;
    for read_only in ["current_uses", "created_from"] {
        if creating && obj.contains_key(read_only) {
            return Err(invalid(read_only, format!("{read_only} is read-only")));
        }
    }
    match obj.get("name") {
        None if creating => return Err(invalid("name", "name is required")),
        None => {}
        Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= 255 => {
            p.name = s.trim().to_owned();
        }
        Some(_) => return Err(invalid("name", "name must be 1 to 255 characters")),
    }
    if let Some(v) = obj.get("display_name") {
        p.display_name = v
            .as_str()
            .ok_or_else(|| invalid("display_name", "display_name must be a string"))?
            .to_owned();
    }
    match obj.get("rules") {
        None if creating => return Err(invalid("rules", "rules is required")),
        None => {}
        Some(Value::Array(r)) if !r.is_empty() && r.len() <= 10 => {
            p.rules = Value::Array(r.clone())
        }
        Some(_) => return Err(invalid("rules", "rules must be an array of 1 to 10 rules")),
    }
    let choice =
        |key: &str, allowed: &'static [&'static str], out: &mut &'static str| match obj.get(key) {
            None => Ok(()),
            Some(v) => match allowed.iter().find(|a| v.as_str() == Some(**a)) {
                Some(a) => {
                    *out = a;
                    Ok(())
                }
                None => Err(invalid(
                    key,
                    format!("{key} must be one of {}", allowed.join(", ")),
                )),
            },
        };
    let before = p.redemption_type;
    choice("redemption_type", REDEMPTION, &mut p.redemption_type)?;
    if !creating && before != p.redemption_type {
        return Err(invalid("redemption_type", "redemption_type cannot change"));
    }
    choice("status", STATUSES, &mut p.status)?;
    if let Some(v) = obj.get("channels") {
        let ids: Option<Vec<i64>> = v.as_array().map(|a| {
            a.iter()
                .filter_map(|c| c.get("id").and_then(Value::as_i64))
                .collect()
        });
        match ids {
            Some(ids) if v.as_array().is_some_and(|a| a.len() == ids.len()) => p.channels = ids,
            _ => return Err(invalid("channels", "channels must be an array of {id}")),
        }
    }
    if let Some(v) = obj.get("customer") {
        if !v.is_object() {
            return Err(invalid("customer", "customer must be an object"));
        }
        p.customer = v.clone();
    }
    if let Some(v) = obj.get("notifications") {
        if !v.is_array() {
            return Err(invalid("notifications", "notifications must be an array"));
        }
        p.notifications = v.clone();
    }
    match obj.get("max_uses") {
        None => {}
        Some(Value::Null) => p.max_uses = None,
        Some(v) => match v.as_i64() {
            Some(n) if n >= 1 => p.max_uses = Some(n),
            _ => return Err(invalid("max_uses", "max_uses must be a positive integer")),
        },
    }
    if let Some(d) = date_field(obj, "start_date")? {
        p.start_date = d.ok_or_else(|| invalid("start_date", "start_date cannot be null"))?;
    }
    if let Some(d) = date_field(obj, "end_date")? {
        p.end_date = d;
    }
    if p.end_date.is_some_and(|e| e <= p.start_date) {
        return Err(invalid("end_date", "end_date must be after start_date"));
    }
    for (key, out) in [
        ("stop", &mut p.stop),
        (
            "can_be_used_with_other_promotions",
            &mut p.can_be_used_with_other_promotions,
        ),
    ] {
        if let Some(v) = obj.get(key) {
            *out = v
                .as_bool()
                .ok_or_else(|| invalid(key, format!("{key} must be true or false")))?;
        }
    }
    if let Some(v) = obj.get("currency_code") {
        match v.as_str() {
            Some(c) if c == "*" || (c.len() == 3 && c.chars().all(|x| x.is_ascii_alphabetic())) => {
                p.currency_code = c.to_ascii_uppercase();
            }
            _ => {
                return Err(invalid(
                    "currency_code",
                    "currency_code must be * or an ISO 4217 code",
                ));
            }
        }
    }
    if let Some(v) = obj.get("priority") {
        p.priority = v
            .as_i64()
            .ok_or_else(|| invalid("priority", "priority must be an integer"))?;
    }
    Ok(())
}

/// Runs one write on the promotions and their codes, noted as `change` of an unannounced
/// record (no webhook scope covers promotions), and answers the record `write` returns as
/// a V3 single with `status`.
fn write_one(
    st: &Shared,
    change: Change,
    status: StatusCode,
    write: impl FnOnce(&mut PromotionsData, DateTime<Utc>) -> Result<Value, ApiError>,
) -> ApiResult {
    let out = st.write(|tx| {
        let out = write(&mut tx.data.promotions, tx.now)?;
        match change {
            Change::Created => tx.created(Record::Unannounced),
            Change::Updated => tx.updated(Record::Unannounced),
            Change::Deleted => tx.deleted(Record::Unannounced),
        }
        Ok(out)
    })?;
    Ok(paging::v3_single_status(status, out))
}

/// `POST /v3/promotions` (201).
async fn create(State(st): State<Shared>, JsonBody(body): JsonBody) -> ApiResult {
    write_one(&st, Change::Created, StatusCode::CREATED, |promos, now| {
        let mut p = Promotion {
            id: promos.last_id + 1,
            name: String::new(),
            display_name: String::new(),
            redemption_type: "automatic",
            status: "ENABLED",
            channels: Vec::new(),
            customer: json!({"group_ids": [], "minimum_order_count": 0, "excluded_group_ids": []}),
            rules: json!([]),
            notifications: json!([]),
            current_uses: 0,
            max_uses: None,
            start_date: now,
            end_date: None,
            stop: false,
            can_be_used_with_other_promotions: true,
            currency_code: "*".to_owned(),
            priority: promos.promotions.len() as i64 + 1,
        };
        apply(&body, &mut p, true)?;
        promos.last_id = p.id;
        let out = render(&p);
        promos.promotions.insert(p.id, p);
        Ok(out)
    })
}

/// `PUT /v3/promotions/{id}`: the fields given change, the rest stay.
async fn update(
    State(st): State<Shared>,
    Path(p): Path<Vec<(String, String)>>,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let id = path_id(&p, "promotion_id", V)?;
    write_one(&st, Change::Updated, StatusCode::OK, |promos, _| {
        let mut p = promos.promotions.get(&id).cloned().ok_or_else(not_found)?;
        apply(&body, &mut p, false)?;
        let out = render(&p);
        promos.promotions.insert(id, p);
        Ok(out)
    })
}

fn cannot_delete() -> &'static str {
    "Promotion cannot be deleted while it has coupon codes; delete its codes first"
}

async fn delete_one(State(st): State<Shared>, Path(p): Path<Vec<(String, String)>>) -> ApiResult {
    let id = path_id(&p, "promotion_id", V)?;
    st.write(|tx| {
        let promos = &mut tx.data.promotions;
        if !promos.promotions.contains_key(&id) {
            return Err(not_found());
        }
        if promos.has_codes(id) {
            return Err(ApiError::unprocessable(V, cannot_delete()));
        }
        promos.promotions.remove(&id);
        tx.deleted(Record::Unannounced);
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /v3/promotions?id:in=` (≤50, required): deletes what it can, then reports each
/// failure by index (`"0.id"`, `"1.error"`) in a 422.
async fn delete_many(State(st): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let ids = ids_to_delete(raw.as_deref(), MAX_DELETE)?;
    let errors = st.write(|tx| {
        let mut errors = Map::new();
        for (i, id) in ids.iter().enumerate() {
            let promos = &mut tx.data.promotions;
            if !promos.promotions.contains_key(id) {
                errors.insert(format!("{i}.id"), "Invalid ID".into());
            } else if promos.has_codes(*id) {
                errors.insert(format!("{i}.error"), cannot_delete().into());
            } else {
                promos.promotions.remove(id);
                tx.deleted(Record::Unannounced);
            }
        }
        Ok(errors)
    })?;
    if errors.is_empty() {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::unprocessable(V, "Some promotions could not be deleted.").with_errors(errors))
    }
}

/// `GET /v3/promotions/{id}/codes`: cursor pages in id order.
async fn list_codes(
    State(st): State<Shared>,
    Path(p): Path<Vec<(String, String)>>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let id = path_id(&p, "promotion_id", V)?;
    let q = Query::parse(raw.as_deref(), V);
    let data = st.data.read();
    if !data.promotions.promotions.contains_key(&id) {
        return Err(not_found());
    }
    let codes: Vec<&PromotionCode> = data
        .promotions
        .codes
        .values()
        .filter(|c| c.promotion_id == id)
        .collect();
    paging::v3_cursor(
        &codes,
        &q,
        MAX_LIMIT,
        false,
        |c| CursorKey {
            k: sortable_int(c.id),
            id: c.id,
        },
        |c| render_code(c),
    )
}

/// `POST /v3/promotions/{id}/codes`: `{code, max_uses?, max_uses_per_customer?}` (201).
async fn create_code(
    State(st): State<Shared>,
    Path(p): Path<Vec<(String, String)>>,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let id = path_id(&p, "promotion_id", V)?;
    write_one(&st, Change::Created, StatusCode::CREATED, |promos, now| {
        let promo = promos.promotions.get(&id).ok_or_else(not_found)?;
        if promo.redemption_type != "coupon" {
            return Err(invalid(
                "code",
                "codes belong to promotions whose redemption_type is coupon",
            ));
        }
        let code = body
            .get("code")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|c| !c.is_empty() && c.chars().count() <= 50)
            .ok_or_else(|| invalid("code", "code is required, 1 to 50 characters"))?
            .to_owned();
        if promos.code_taken(&code) {
            return Err(ApiError::conflict(
                V,
                format!("The coupon code {code:?} is already in use."),
            ));
        }
        let count = |key: &str| -> Result<i64, ApiError> {
            match body.get(key) {
                None | Some(Value::Null) => Ok(0),
                Some(v) => v
                    .as_i64()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| invalid(key, format!("{key} must be 0 or more"))),
            }
        };
        promos.last_code_id += 1;
        let c = PromotionCode {
            id: promos.last_code_id,
            promotion_id: id,
            code,
            current_uses: 0,
            max_uses: count("max_uses")?,
            max_uses_per_customer: count("max_uses_per_customer")?,
            created: now,
        };
        let out = render_code(&c);
        promos.codes.insert(c.id, c);
        Ok(out)
    })
}

/// `DELETE /v3/promotions/{id}/codes?id:in=` (≤250, required).
async fn delete_codes(
    State(st): State<Shared>,
    Path(p): Path<Vec<(String, String)>>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let id = path_id(&p, "promotion_id", V)?;
    let ids = ids_to_delete(raw.as_deref(), MAX_CODE_DELETE)?;
    st.write(|tx| {
        let promos = &mut tx.data.promotions;
        if !promos.promotions.contains_key(&id) {
            return Err(not_found());
        }
        let mut removed = 0;
        for cid in ids {
            if promos.codes.get(&cid).is_some_and(|c| c.promotion_id == id) {
                promos.codes.remove(&cid);
                removed += 1;
            }
        }
        for _ in 0..removed {
            tx.deleted(Record::Unannounced);
        }
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn delete_code(State(st): State<Shared>, Path(p): Path<Vec<(String, String)>>) -> ApiResult {
    let id = path_id(&p, "promotion_id", V)?;
    let cid = path_id(&p, "code_id", V)?;
    st.write(|tx| {
        let promos = &mut tx.data.promotions;
        if promos.codes.get(&cid).is_none_or(|c| c.promotion_id != id) {
            return Err(not_found());
        }
        promos.codes.remove(&cid);
        tx.deleted(Record::Unannounced);
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// One promotion per five coupons, alternating automatic and coupon promotions; each
/// coupon promotion gets two codes. Deterministic from the spec alone.
pub fn seed(data: &mut StoreData, spec: &SeedSpec, now: DateTime<Utc>) {
    let count = spec.coupons / 5;
    let history = spec.history_days.max(1) * 86_400;
    let promos = &mut data.promotions;
    for i in 0..count as i64 {
        let id = i + 1;
        let coupon = i % 2 == 1;
        let percent = 5 + (i % 4) * 5;
        let start = now - Duration::seconds((id * 15_485_863) % history);
        promos.promotions.insert(
            id,
            Promotion {
                id,
                name: format!("{percent}% off everything #{id}"),
                display_name: format!("{percent}% off"),
                redemption_type: if coupon { "coupon" } else { "automatic" },
                status: if i % 5 == 4 { "DISABLED" } else { "ENABLED" },
                channels: vec![1],
                customer: json!({"group_ids": [], "minimum_order_count": 0, "excluded_group_ids": []}),
                rules: json!([{
                    "action": {"cart_value": {"discount": {"percentage_amount": percent.to_string()}}},
                    "apply_once": true,
                    "stop": false,
                }]),
                notifications: json!([]),
                current_uses: (id * 7) % 40,
                max_uses: None,
                start_date: start,
                end_date: None,
                stop: false,
                can_be_used_with_other_promotions: true,
                currency_code: "*".to_owned(),
                priority: id,
            },
        );
        promos.last_id = id;
        if coupon {
            for n in 0..2 {
                promos.last_code_id += 1;
                let cid = promos.last_code_id;
                promos.codes.insert(
                    cid,
                    PromotionCode {
                        id: cid,
                        promotion_id: id,
                        code: format!("PROMO{id}X{n}"),
                        current_uses: 0,
                        max_uses: 100,
                        max_uses_per_customer: 1,
                        created: start,
                    },
                );
            }
        }
    }
}
