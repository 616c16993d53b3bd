//! Customer attributes and their values (docs/api-notes.md §2.1, §2.3): `/v3/customers/attributes`
//! defines typed attributes (at most 50 per store); `/v3/customers/attribute-values` sets
//! per-customer values as strings, checked against the attribute's type, with an upsert
//! PUT limited to 10 distinct customers per call (413 above, docs/api-notes.md §11.5).
//!
//! Writing a value does not move the customer's `date_modified`: the real
//! `store/customer/updated` fires for attribute changes only when they are made in the
//! control panel (docs/api-notes.md §9.3), so a sync must read attribute values on their own.

use std::collections::{BTreeSet, HashSet};

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};

use super::check::{Check, DateRange, objects};
use super::{Attribute, AttributeType, AttributeValue, MAX_LIMIT};
use crate::body::{JsonBody, batch};
use crate::dates;
use crate::error::{ApiError, ApiResult, ApiVersion};
use crate::paging::{self, v3_batch};
use crate::query::{Query, like};
use crate::state::Shared;

const V3: ApiVersion = ApiVersion::V3;

/// At most this many attributes per store (docs/api-notes.md §2.3).
pub(crate) const MAX_ATTRIBUTES: usize = 50;

/// Distinct customers per attribute-value upsert (docs/api-notes.md §2.1, §11.5).
const MAX_VALUE_CUSTOMERS: usize = 10;

/// Items per attribute create/update call. BigCommerce documents no limit
/// (docs/api-notes.md §2.1); 10 like the other customer batches.
const MAX_BATCH: usize = 10;

fn render_attribute(a: &Attribute) -> Value {
    json!({
        "id": a.id,
        "name": a.name,
        "type": a.kind.name(),
        "date_created": dates::iso(a.date_created),
        "date_modified": dates::iso(a.date_modified),
    })
}

fn render_value(v: &AttributeValue) -> Value {
    json!({
        "id": v.id,
        "customer_id": v.customer_id,
        "attribute_id": v.attribute_id,
        "value": v.value,
        "date_created": dates::iso(v.date_created),
        "date_modified": dates::iso(v.date_modified),
    })
}

/// A missing `id:in` on these deletes is a 422: the spec makes the filter required, and
/// unlike `DELETE /v3/customers` no no-op answer is documented.
fn require_ids(q: &Query) -> Result<Vec<i64>, ApiError> {
    q.int_list("id:in")?.ok_or_else(|| {
        ApiError::unprocessable(V3, "The filter id:in is required.")
            .with_error("id:in", "Name the records to delete with id:in=1,2,3.")
    })
}

/// `GET /v3/customers/attributes`: filters `id:in`, `name`, `name:like`, `type`,
/// `date_created[:min|:max]`, `date_modified[:min|:max]`.
pub(super) async fn list(State(st): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V3);
    let (page, limit) = q.page_limit(MAX_LIMIT)?;
    let ids = q.int_list("id:in")?;
    let name = q.get("name").map(str::to_lowercase);
    let name_like = q.get("name:like");
    let kind = q.get("type");
    let created = DateRange::parse(&q, "date_created")?;
    let modified = DateRange::parse(&q, "date_modified")?;
    let data = st.data.read();
    let matches: Vec<&Attribute> = data
        .customers
        .attributes
        .values()
        .filter(|a| ids.as_ref().is_none_or(|l| l.contains(&a.id)))
        .filter(|a| name.as_ref().is_none_or(|n| a.name.to_lowercase() == *n))
        .filter(|a| name_like.is_none_or(|p| like(&a.name, p)))
        .filter(|a| kind.is_none_or(|k| a.kind.name() == k))
        .filter(|a| created.contains(a.date_created) && modified.contains(a.date_modified))
        .collect();
    Ok(paging::v3_offset(&matches, page, limit, &q, |a| {
        render_attribute(a)
    }))
}

/// `POST /v3/customers/attributes`: `[{name, type}]`; names are unique
/// (case-insensitively) and a store holds at most 50.
pub(super) async fn create(State(st): State<Shared>, JsonBody(body): JsonBody) -> ApiResult {
    let items = batch(V3, body, MAX_BATCH)?;
    let now = dates::now();
    st.write(|tx| {
        let data = &mut *tx.data;
        let cs = &mut data.customers;
        let mut errors = Map::new();
        let objs = objects(&items, &mut errors);
        let mut taken: HashSet<String> = cs
            .attributes
            .values()
            .map(|a| a.name.to_lowercase())
            .collect();
        let mut drafts = Vec::new();
        for (i, obj) in objs.into_iter().enumerate() {
            let Some(obj) = obj else { continue };
            let mut ck = Check::new(obj, format!("{i}."), &mut errors);
            let name = ck.string("name", true, 1, 255);
            let kind = ck
                .one_of("type", true, &["string", "number", "date"])
                .and_then(|t| AttributeType::parse(&t));
            if let Some(n) = &name
                && !taken.insert(n.to_lowercase())
            {
                ck.fail("name", format!("An attribute named {n:?} already exists."));
            }
            if cs.attributes.len() + drafts.len() + 1 > MAX_ATTRIBUTES {
                ck.fail(
                    "name",
                    format!("A store can have at most {MAX_ATTRIBUTES} customer attributes."),
                );
            }
            if let (Some(name), Some(kind)) = (name, kind) {
                drafts.push(Attribute {
                    id: 0,
                    name,
                    kind,
                    date_created: now,
                    date_modified: now,
                });
            }
        }
        if !errors.is_empty() {
            return Err(
                ApiError::unprocessable(V3, "Create customer attributes failed.")
                    .with_errors(errors),
            );
        }
        let ids: Vec<i64> = drafts.into_iter().map(|a| cs.insert_attribute(a)).collect();
        let out = ids
            .iter()
            .filter_map(|id| cs.attributes.get(id))
            .map(render_attribute)
            .collect();
        Ok(v3_batch(StatusCode::OK, out))
    })
}

/// `PUT /v3/customers/attributes`: `[{id, name}]`. The type of an attribute is fixed
/// once values may exist, so a `type` in the body is ignored.
pub(super) async fn update(State(st): State<Shared>, JsonBody(body): JsonBody) -> ApiResult {
    let items = batch(V3, body, MAX_BATCH)?;
    let now = dates::now();
    st.write(|tx| {
        let data = &mut *tx.data;
        let cs = &mut data.customers;
        let mut errors = Map::new();
        let objs = objects(&items, &mut errors);
        let mut changes = Vec::new();
        for (i, obj) in objs.into_iter().enumerate() {
            let Some(obj) = obj else { continue };
            let mut ck = Check::new(obj, format!("{i}."), &mut errors);
            let Some(id) = ck.int("id", true) else {
                continue;
            };
            let name = ck.string("name", false, 1, 255);
            if !cs.attributes.contains_key(&id) {
                ck.fail("id", format!("The attribute {id} does not exist."));
                continue;
            }
            if let Some(n) = &name {
                let lower = n.to_lowercase();
                let clash = cs
                    .attributes
                    .values()
                    .any(|a| a.id != id && a.name.to_lowercase() == lower)
                    || changes.iter().any(|(other, on): &(i64, Option<String>)| {
                        *other != id && on.as_ref().is_some_and(|o| o.to_lowercase() == lower)
                    });
                if clash {
                    ck.fail("name", format!("An attribute named {n:?} already exists."));
                }
            }
            changes.push((id, name));
        }
        if !errors.is_empty() {
            return Err(
                ApiError::unprocessable(V3, "Update customer attributes failed.")
                    .with_errors(errors),
            );
        }
        let mut out = Vec::new();
        for (id, name) in changes {
            if let Some(a) = cs.attributes.get_mut(&id) {
                if let Some(n) = name {
                    a.name = n;
                }
                a.date_modified = now;
                out.push(render_attribute(a));
            }
        }
        Ok(v3_batch(StatusCode::OK, out))
    })
}

/// `DELETE /v3/customers/attributes?id:in=...`: also deletes the attributes' values.
pub(super) async fn delete(State(st): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V3);
    let ids = require_ids(&q)?;
    st.write(|tx| {
        let data = &mut *tx.data;
        for id in ids {
            data.customers.remove_attribute(id);
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

/// `GET /v3/customers/attribute-values`: filters `customer_id:in`, `attribute_id:in`;
/// ordered by (customer, attribute).
pub(super) async fn list_values(State(st): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V3);
    let (page, limit) = q.page_limit(MAX_LIMIT)?;
    let customer_ids = q.int_list("customer_id:in")?;
    let attribute_ids = q.int_list("attribute_id:in")?;
    let data = st.data.read();
    let values = &data.customers.attribute_values;
    let by_attr = |v: &&AttributeValue| {
        attribute_ids
            .as_ref()
            .is_none_or(|l| l.contains(&v.attribute_id))
    };
    let matches: Vec<&AttributeValue> = match &customer_ids {
        // One range scan per named customer rather than a walk over every value.
        Some(cids) => {
            let cids: BTreeSet<i64> = cids.iter().copied().collect();
            cids.iter()
                .flat_map(|c| {
                    values
                        .range((*c, i64::MIN)..=(*c, i64::MAX))
                        .map(|(_, v)| v)
                })
                .filter(by_attr)
                .collect()
        }
        None => values.values().filter(by_attr).collect(),
    };
    Ok(paging::v3_offset(&matches, page, limit, &q, |v| {
        render_value(v)
    }))
}

/// `PUT /v3/customers/attribute-values`: upsert `[{attribute_id, customer_id, value}]`.
pub(super) async fn upsert_values(State(st): State<Shared>, JsonBody(body): JsonBody) -> ApiResult {
    let Value::Array(items) = body else {
        return Err(ApiError::unprocessable(
            V3,
            "The request body must be a JSON array.",
        ));
    };
    if items.is_empty() {
        return Err(ApiError::unprocessable(
            V3,
            "The request body must be a non-empty array.",
        ));
    }
    let customers: HashSet<i64> = items
        .iter()
        .filter_map(|i| i.get("customer_id").and_then(Value::as_i64))
        .collect();
    if customers.len() > MAX_VALUE_CUSTOMERS {
        return Err(ApiError::new(
            V3,
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "The request payload is too large. At most {MAX_VALUE_CUSTOMERS} distinct customers are allowed per call."
            ),
        )
        .with_errors(Map::new()));
    }
    let now = dates::now();
    st.write(|tx| {
        let data = &mut *tx.data;
        let cs = &mut data.customers;
        let mut errors = Map::new();
        let objs = objects(&items, &mut errors);
        let mut writes = Vec::new();
        for (i, obj) in objs.into_iter().enumerate() {
            let Some(obj) = obj else { continue };
            let mut ck = Check::new(obj, format!("{i}."), &mut errors);
            let aid = ck.int("attribute_id", true);
            let cid = ck.int("customer_id", true);
            let value = ck.string("value", true, 0, 255);
            if let Some(c) = cid.filter(|c| !cs.exists(*c)) {
                ck.fail("customer_id", format!("The customer {c} does not exist."));
            }
            let attr = aid.and_then(|a| cs.attributes.get(&a));
            if let (Some(a), None) = (aid, attr) {
                ck.fail("attribute_id", format!("The attribute {a} does not exist."));
            }
            if let (Some(attr), Some(v)) = (attr, &value)
                && !attr.kind.accepts(v)
            {
                ck.fail(
                    "value",
                    format!(
                        "The value {v:?} is not a valid {} for attribute {}.",
                        attr.kind.name(),
                        attr.id
                    ),
                );
            }
            if let (Some(a), Some(c), Some(v)) = (aid, cid, value) {
                writes.push((c, a, v));
            }
        }
        if !errors.is_empty() {
            return Err(
                ApiError::unprocessable(V3, "Upsert customer attribute values failed.")
                    .with_errors(errors),
            );
        }
        let keys: Vec<(i64, i64)> = writes
            .into_iter()
            .map(|(c, a, v)| cs.upsert_attribute_value(c, a, v, now))
            .collect();
        let out = keys
            .iter()
            .filter_map(|k| cs.attribute_values.get(k))
            .map(render_value)
            .collect();
        Ok(v3_batch(StatusCode::OK, out))
    })
}

/// `DELETE /v3/customers/attribute-values?id:in=...`.
pub(super) async fn delete_values(State(st): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V3);
    let ids: HashSet<i64> = require_ids(&q)?.into_iter().collect();
    st.write(|tx| {
        let data = &mut *tx.data;
        data.customers
            .attribute_values
            .retain(|_, v| !ids.contains(&v.id));
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}
