//! Customers V2 (docs/api-notes.md §2.6): `/v2/customers` list, count, get, create,
//! update, delete, and `/v2/customers/{id}/addresses` list, count, get, create, update,
//! delete, in the V2 shapes: bare arrays and objects, 204 for an empty page, RFC 2822
//! dates, store credit as a string, `[{status, message}]` errors.
//!
//! There is no V2 copy of the data: these handlers read the same records as
//! `/v3/customers`, and every write translates its V2 body into the V3 fields and runs the
//! V3 checks and writers inside the one mutation path, so a V2 write is seen by V3 at
//! once, fires the same webhooks and keeps the same rules (email unique per channel,
//! address identity). The collection `DELETE /v2/customers` (delete every customer) is not
//! served: no sandbox user wants it, and a typo would wipe the store.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};

use super::addresses::apply_patch;
use super::check::Check;
use super::write::{create_customers, read_address_fields, update_customers};
use super::{Address, Customer, CustomersData, MAX_LIMIT, country_name};
use crate::body::JsonBody;
use crate::dates;
use crate::error::{ApiError, ApiResult, ApiVersion};
use crate::mutation::Record;
use crate::paging::{self, v2_object};
use crate::query::Query;
use crate::resources::orders::v2_base;
use crate::resources::v2_records::{self, Bounds, record_id, text_filter};
use crate::state::{Shared, StoreData};

const V2: ApiVersion = ApiVersion::V2;

/// The codes whose full names the sandbox knows; a V2 address names its country in full.
const KNOWN_COUNTRIES: [&str; 9] = ["US", "CA", "GB", "AU", "DE", "FR", "NL", "IE", "NZ"];

/// The V2 customer object. `store_credit` is a decimal string, as V2 renders money.
fn render(c: &Customer, base: &str) -> Value {
    let credit: f64 = c.store_credit.iter().sum();
    json!({
        "id": c.id,
        "company": c.company,
        "first_name": c.first_name,
        "last_name": c.last_name,
        "email": c.email,
        "phone": c.phone,
        "form_fields": c
            .form_fields
            .iter()
            .map(|f| json!({ "name": f.name, "value": f.value }))
            .collect::<Vec<_>>(),
        "date_created": dates::rfc2822(c.date_created),
        "date_modified": dates::rfc2822(c.date_modified),
        "store_credit": format!("{credit:.4}"),
        "registration_ip_address": c.registration_ip_address,
        "customer_group_id": c.customer_group_id,
        "notes": c.notes,
        "tax_exempt_category": c.tax_exempt_category,
        "reset_pass_on_login": c.force_password_reset,
        "accepts_marketing": c.accepts_product_review_abandoned_cart_emails,
        "addresses": {
            "url": format!("{base}/customers/{}/addresses", c.id),
            "resource": format!("/customers/{}/addresses", c.id),
        },
    })
}

/// The V2 address object: `street_1`, `state`, `zip` and the country's full name.
fn render_address(a: &Address) -> Value {
    json!({
        "id": a.id,
        "customer_id": a.customer_id,
        "first_name": a.first_name,
        "last_name": a.last_name,
        "company": a.company,
        "street_1": a.address1,
        "street_2": a.address2,
        "city": a.city,
        "state": a.state_or_province,
        "zip": a.postal_code,
        "country": country_name(&a.country_code),
        "country_iso2": a.country_code,
        "phone": a.phone,
        "address_type": a.address_type,
    })
}

fn body_object(body: &Value) -> Result<&Map<String, Value>, ApiError> {
    body.as_object()
        .ok_or_else(|| ApiError::bad_request(V2, "The request body must be a JSON object."))
}

/// A number sent as a JSON number or as a V2 decimal string.
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Translates a V2 customer body into the V3 fields the shared writers read. Unknown
/// fields are dropped, as the API ignores them.
fn to_v3_customer(v2: &Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
    let mut v3 = Map::new();
    for key in [
        "email",
        "first_name",
        "last_name",
        "company",
        "phone",
        "notes",
        "tax_exempt_category",
    ] {
        if let Some(v) = v2.get(key) {
            v3.insert(key.into(), v.clone());
        }
    }
    if let Some(g) = v2.get("customer_group_id") {
        let id = match g {
            Value::String(s) => s.trim().parse::<i64>().map(Value::from).ok(),
            Value::Number(_) | Value::Null => Some(g.clone()),
            _ => None,
        };
        let id = id.ok_or_else(|| {
            ApiError::bad_request(V2, "The field 'customer_group_id' must be an integer.")
        })?;
        v3.insert("customer_group_id".into(), id);
    }
    if let Some(c) = v2.get("store_credit") {
        let amount = number(c).filter(|a| *a >= 0.0).ok_or_else(|| {
            ApiError::bad_request(
                V2,
                "The field 'store_credit' must be a decimal such as \"10.00\".",
            )
        })?;
        v3.insert("store_credit_amounts".into(), json!([{ "amount": amount }]));
    }
    if let Some(b) = v2.get("reset_pass_on_login") {
        v3.insert(
            "authentication".into(),
            json!({ "force_password_reset": b }),
        );
    }
    if let Some(b) = v2.get("accepts_marketing") {
        v3.insert(
            "accepts_product_review_abandoned_cart_emails".into(),
            b.clone(),
        );
    }
    Ok(v3)
}

/// Translates a V2 address body into the V3 address fields (`street_1` → `address1`,
/// `state` → `state_or_province`, `zip` → `postal_code`, country name → `country_code`).
fn to_v3_address(v2: &Map<String, Value>) -> Map<String, Value> {
    let mut v3 = Map::new();
    let renames = [
        ("first_name", "first_name"),
        ("last_name", "last_name"),
        ("company", "company"),
        ("street_1", "address1"),
        ("street_2", "address2"),
        ("city", "city"),
        ("state", "state_or_province"),
        ("zip", "postal_code"),
        ("phone", "phone"),
        ("address_type", "address_type"),
    ];
    for (from, to) in renames {
        if let Some(v) = v2.get(from) {
            v3.insert(to.into(), v.clone());
        }
    }
    let code = match (v2.get("country_iso2"), v2.get("country")) {
        (Some(Value::String(iso)), _) if !iso.is_empty() => Some(iso.to_ascii_uppercase()),
        (_, Some(Value::String(name))) => Some(
            KNOWN_COUNTRIES
                .iter()
                .find(|c| {
                    country_name(c).eq_ignore_ascii_case(name) || c.eq_ignore_ascii_case(name)
                })
                .map_or_else(|| name.clone(), |c| (*c).to_owned()),
        ),
        _ => None,
    };
    if let Some(code) = code {
        v3.insert("country_code".into(), Value::String(code));
    }
    v3
}

fn find<'a>(cs: &'a CustomersData, id: &str) -> Result<&'a Customer, ApiError> {
    cs.customers
        .get(&record_id(id)?)
        .ok_or_else(|| ApiError::not_found(V2))
}

/// The list filters of docs/api-notes.md §2.6, parsed once per request.
struct Filter {
    bounds: Bounds,
    email: Option<String>,
    company: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    customer_group_id: Option<i64>,
}

impl v2_records::Filter for Filter {
    type Record = Customer;

    fn parse(q: &Query) -> Result<Self, ApiError> {
        Ok(Self {
            bounds: Bounds::parse(q)?,
            email: text_filter(q, "email"),
            company: text_filter(q, "company"),
            first_name: text_filter(q, "first_name"),
            last_name: text_filter(q, "last_name"),
            customer_group_id: q.int("customer_group_id")?,
        })
    }

    fn select<'a>(&self, data: &'a StoreData) -> Vec<&'a Customer> {
        self.bounds
            .select(&data.customers.customers, |c| self.matches(c))
    }
}

impl Filter {
    /// Bounds are inclusive; text filters match whole values, ignoring case.
    fn matches(&self, c: &Customer) -> bool {
        let same = |want: &Option<String>, have: &str| {
            want.as_deref().is_none_or(|w| have.to_lowercase() == w)
        };
        self.bounds.dates_match(c.date_created, c.date_modified)
            && self.email.as_deref().is_none_or(|e| c.email_lower == e)
            && same(&self.company, &c.company)
            && same(&self.first_name, &c.first_name)
            && same(&self.last_name, &c.last_name)
            && self
                .customer_group_id
                .is_none_or(|g| c.customer_group_id == g)
    }
}

/// `GET /v2/customers`: id order; 204 with no body for an empty page.
pub(super) async fn list(
    State(st): State<Shared>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult {
    v2_records::list::<Filter>(&st, raw.as_deref(), &headers, render)
}

/// `GET /v2/customers/count`: `{count}` under the list's filters.
pub(super) async fn count(State(st): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    v2_records::count::<Filter>(&st, raw.as_deref())
}

/// `GET /v2/customers/{id}`.
pub(super) async fn get_one(
    State(st): State<Shared>,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult {
    let base = v2_base(&headers, &st.config.store_hash);
    let data = st.data.read();
    let c = find(&data.customers, &id)?;
    Ok(v2_object(StatusCode::OK, render(c, &base)))
}

/// `POST /v2/customers`: one customer; 200 with it (the spec lists 200, docs/api-notes.md §2.6).
pub(super) async fn create(
    State(st): State<Shared>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let item = Value::Object(to_v3_customer(body_object(&body)?)?);
    let ids = st
        .write(|tx| create_customers(tx, std::slice::from_ref(&item)))
        .map_err(ApiError::into_v2)?;
    let base = v2_base(&headers, &st.config.store_hash);
    let data = st.data.read();
    let c = ids
        .first()
        .and_then(|id| data.customers.customers.get(id))
        .ok_or_else(|| ApiError::not_found(V2))?;
    Ok(v2_object(StatusCode::OK, render(c, &base)))
}

/// `PUT /v2/customers/{id}`: a partial update; 200 with the customer.
pub(super) async fn update(
    State(st): State<Shared>,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let id = record_id(&id)?;
    let mut item = to_v3_customer(body_object(&body)?)?;
    item.insert("id".into(), json!(id));
    let item = Value::Object(item);
    st.write(|tx| {
        if !tx.data.customers.exists(id) {
            return Err(ApiError::not_found(V2));
        }
        update_customers(tx, std::slice::from_ref(&item)).map_err(ApiError::into_v2)
    })?;
    let base = v2_base(&headers, &st.config.store_hash);
    let data = st.data.read();
    let c = data
        .customers
        .customers
        .get(&id)
        .ok_or_else(|| ApiError::not_found(V2))?;
    Ok(v2_object(StatusCode::OK, render(c, &base)))
}

/// `DELETE /v2/customers/{id}`: 204; the customer's addresses go with it.
pub(super) async fn delete(
    State(st): State<Shared>,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult {
    let id = record_id(&id)?;
    st.write(|tx| {
        if !tx.data.customers.exists(id) {
            return Err(ApiError::not_found(V2));
        }
        tx.deleted(Record::Customer(id));
        tx.data.customers.remove_customer(id);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

/// The customer's addresses, in id order.
fn addresses_of<'a>(cs: &'a CustomersData, c: &Customer) -> Vec<&'a Address> {
    c.address_ids
        .iter()
        .filter_map(|id| cs.addresses.get(id))
        .collect()
}

/// The address `address_id` of customer `id`, or the V2 404.
fn find_address<'a>(
    cs: &'a CustomersData,
    id: &str,
    address_id: &str,
) -> Result<&'a Address, ApiError> {
    let c = find(cs, id)?;
    address_id
        .parse::<i64>()
        .ok()
        .filter(|aid| c.address_ids.contains(aid))
        .and_then(|aid| cs.addresses.get(&aid))
        .ok_or_else(|| ApiError::not_found(V2))
}

/// `GET /v2/customers/{id}/addresses`.
pub(super) async fn list_addresses(
    State(st): State<Shared>,
    Path((_, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V2);
    let (page, limit) = q.page_limit(MAX_LIMIT)?;
    let data = st.data.read();
    let cs = &data.customers;
    let c = find(cs, &id)?;
    let all = addresses_of(cs, c);
    Ok(paging::v2_list(&all, page, limit, |a| render_address(a)))
}

/// `GET /v2/customers/{id}/addresses/count`.
pub(super) async fn count_addresses(
    State(st): State<Shared>,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult {
    let data = st.data.read();
    let c = find(&data.customers, &id)?;
    Ok(v2_object(
        StatusCode::OK,
        json!({ "count": c.address_ids.len() }),
    ))
}

/// `GET /v2/customers/{id}/addresses/{address_id}`.
pub(super) async fn get_address(
    State(st): State<Shared>,
    Path((_, id, address_id)): Path<(String, String, String)>,
) -> ApiResult {
    let data = st.data.read();
    let a = find_address(&data.customers, &id, &address_id)?;
    Ok(v2_object(StatusCode::OK, render_address(a)))
}

/// `POST /v2/customers/{id}/addresses`: 200, as the spec lists. V2 requires `phone`, `state`, `zip` and
/// `country` besides the V3 required fields (docs/api-notes.md §2.6). An exact duplicate of
/// an existing address is a 409: V3 drops it silently, but a V2 create must answer with
/// one object.
pub(super) async fn create_address(
    State(st): State<Shared>,
    Path((_, id)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let obj = body_object(&body)?;
    let cid = record_id(&id)?;
    let v3 = to_v3_address(obj);
    st.write(|tx| {
        if !tx.data.customers.exists(cid) {
            return Err(ApiError::not_found(V2));
        }
        let mut errors = Map::new();
        let mut ck = Check::new(&v3, "", &mut errors);
        for (v2_name, v3_name) in [
            ("phone", "phone"),
            ("state", "state_or_province"),
            ("zip", "postal_code"),
            ("country", "country_code"),
        ] {
            if v3.get(v3_name).is_none_or(Value::is_null) {
                ck.fail(v2_name, format!("{v2_name} is required."));
            }
        }
        let mut a = read_address_fields(&mut ck, true);
        if !errors.is_empty() {
            return Err(ApiError::unprocessable(V2, "The address is not valid.")
                .with_errors(errors)
                .into_v2());
        }
        a.customer_id = cid;
        let cs = &mut tx.data.customers;
        let Some(aid) = cs.insert_address(a) else {
            return Err(ApiError::conflict(
                V2,
                "The customer already has an address with exactly these fields.",
            ));
        };
        tx.created(Record::CustomerAddress {
            id: aid,
            customer_id: cid,
        });
        let a = tx
            .data
            .customers
            .addresses
            .get(&aid)
            .ok_or_else(|| ApiError::not_found(V2))?;
        Ok(v2_object(StatusCode::OK, render_address(a)))
    })
}

/// `PUT /v2/customers/{id}/addresses/{address_id}`: a partial update; an update that
/// would duplicate another of the customer's addresses is a 409.
pub(super) async fn update_address(
    State(st): State<Shared>,
    Path((_, id, address_id)): Path<(String, String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let v3 = to_v3_address(body_object(&body)?);
    st.write(|tx| {
        let current = find_address(&tx.data.customers, &id, &address_id)?.clone();
        let mut errors = Map::new();
        let mut ck = Check::new(&v3, "", &mut errors);
        let a = apply_patch(&mut ck, current.clone());
        if !errors.is_empty() {
            return Err(ApiError::unprocessable(V2, "The address is not valid.")
                .with_errors(errors)
                .into_v2());
        }
        let cs = &tx.data.customers;
        let duplicate = cs
            .customers
            .get(&a.customer_id)
            .into_iter()
            .flat_map(|c| c.address_ids.iter())
            .filter(|aid| **aid != a.id)
            .filter_map(|aid| cs.addresses.get(aid))
            .any(|other| other.same_identity(&a));
        if duplicate {
            return Err(ApiError::conflict(
                V2,
                "The customer already has an address with exactly these fields.",
            ));
        }
        let out = render_address(&a);
        if a != current {
            tx.updated(Record::CustomerAddress {
                id: a.id,
                customer_id: a.customer_id,
            });
            tx.data.customers.addresses.insert(a.id, a);
        }
        Ok(v2_object(StatusCode::OK, out))
    })
}

/// `DELETE /v2/customers/{id}/addresses/{address_id}`: 204.
pub(super) async fn delete_address(
    State(st): State<Shared>,
    Path((_, id, address_id)): Path<(String, String, String)>,
) -> ApiResult {
    st.write(|tx| {
        let a = find_address(&tx.data.customers, &id, &address_id)?;
        let (aid, cid) = (a.id, a.customer_id);
        tx.deleted(Record::CustomerAddress {
            id: aid,
            customer_id: cid,
        });
        tx.data.customers.remove_address(aid);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}
