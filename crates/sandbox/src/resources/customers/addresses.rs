//! `/v3/customers/addresses` (docs/api-notes.md §2.1, §2.3): list with filters, batch create, batch
//! update, delete by `id:in`.
//!
//! Addresses are identified by their full tuple: creating an exact duplicate answers 200
//! and leaves it out of `data`; an update that would duplicate another address changes
//! nothing and is likewise left out. Address writes do **not** move the customer's
//! `date_modified`, matching the real `store/customer/updated` webhook, which ignores
//! address changes (docs/api-notes.md §9.3); sync address books by their own endpoint.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::Map;

use super::check::{Check, objects};
use super::write::read_address_fields;
use super::{Address, MAX_LIMIT, render_address};
use crate::body::{JsonBody, batch};
use crate::error::{ApiError, ApiResult, ApiVersion};
use crate::mutation::Record;
use crate::paging::{self, v3_batch};
use crate::query::Query;
use crate::state::Shared;

const V3: ApiVersion = ApiVersion::V3;

/// Items per address write. BigCommerce documents no limit (docs/api-notes.md §2.1) for addresses;
/// we use the customers' 10 so a client batching addresses like customers is never surprised by a
/// live 413.
const MAX_BATCH: usize = 10;

/// `GET /v3/customers/addresses`: filters `customer_id:in`, `id:in`, `company:in`,
/// `name:in` (first + last), `include=formfields`; id order.
pub(super) async fn list(State(st): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V3);
    let (page, limit) = q.page_limit(MAX_LIMIT)?;
    let customer_ids = q.int_list("customer_id:in")?;
    let ids = q.int_list("id:in")?;
    let companies: Option<Vec<String>> = q
        .list("company:in")
        .map(|l| l.iter().map(|s| s.to_lowercase()).collect());
    let names: Option<Vec<String>> = q
        .list("name:in")
        .map(|l| l.iter().map(|s| s.to_lowercase()).collect());
    let form_fields = q.has_include("formfields");

    let data = st.data.read();
    let cs = &data.customers;
    let keep = |a: &&Address| {
        ids.as_ref().is_none_or(|l| l.contains(&a.id))
            && companies
                .as_ref()
                .is_none_or(|l| l.contains(&a.company.to_lowercase()))
            && names.as_ref().is_none_or(|l| {
                l.contains(&format!("{} {}", a.first_name, a.last_name).to_lowercase())
            })
    };
    let mut matches: Vec<&Address> = match &customer_ids {
        // Walk only the named customers' address lists instead of the whole table.
        Some(cids) => cids
            .iter()
            .filter_map(|cid| cs.customers.get(cid))
            .flat_map(|c| c.address_ids.iter().filter_map(|id| cs.addresses.get(id)))
            .filter(keep)
            .collect(),
        None => cs.addresses.values().filter(keep).collect(),
    };
    if customer_ids.is_some() {
        matches.sort_unstable_by_key(|a| a.id);
        matches.dedup_by_key(|a| a.id);
    }
    Ok(paging::v3_offset(&matches, page, limit, &q, |a| {
        render_address(a, form_fields)
    }))
}

/// `POST /v3/customers/addresses`: all or nothing; duplicates silently dropped.
pub(super) async fn create(State(st): State<Shared>, JsonBody(body): JsonBody) -> ApiResult {
    let items = batch(V3, body, MAX_BATCH)?;
    st.write(|tx| {
        let cs = &mut tx.data.customers;
        let mut errors = Map::new();
        let objs = objects(&items, &mut errors);
        let mut drafts = Vec::with_capacity(items.len());
        for (i, obj) in objs.into_iter().enumerate() {
            let Some(obj) = obj else { continue };
            let mut ck = Check::new(obj, format!("{i}."), &mut errors);
            let customer_id = ck.int("customer_id", true);
            let mut a = read_address_fields(&mut ck, true);
            if let Some(cid) = customer_id {
                if !cs.exists(cid) {
                    ck.fail("customer_id", format!("The customer {cid} does not exist."));
                }
                a.customer_id = cid;
            }
            drafts.push(a);
        }
        if !errors.is_empty() {
            return Err(
                ApiError::unprocessable(V3, "Create customer addresses failed.")
                    .with_errors(errors),
            );
        }
        let created: Vec<i64> = drafts
            .into_iter()
            .filter_map(|a| cs.insert_address(a))
            .collect();
        let out: Vec<_> = created
            .iter()
            .filter_map(|id| cs.addresses.get(id))
            .map(|a| render_address(a, false))
            .collect();
        let records: Vec<Record> = created
            .iter()
            .filter_map(|id| cs.addresses.get(id))
            .map(|a| Record::CustomerAddress {
                id: a.id,
                customer_id: a.customer_id,
            })
            .collect();
        for r in records {
            tx.created(r);
        }
        Ok(v3_batch(StatusCode::OK, out))
    })
}

/// `PUT /v3/customers/addresses`: partial updates by `id`; `customer_id` cannot move an
/// address to another customer and is ignored.
pub(super) async fn update(State(st): State<Shared>, JsonBody(body): JsonBody) -> ApiResult {
    let items = batch(V3, body, MAX_BATCH)?;
    st.write(|tx| {
        let cs = &mut tx.data.customers;
        let mut errors = Map::new();
        let objs = objects(&items, &mut errors);
        let mut updated = Vec::with_capacity(items.len());
        for (i, obj) in objs.into_iter().enumerate() {
            let Some(obj) = obj else { continue };
            let mut ck = Check::new(obj, format!("{i}."), &mut errors);
            let Some(id) = ck.int("id", true) else {
                continue;
            };
            let Some(current) = cs.addresses.get(&id) else {
                ck.fail("id", format!("The address {id} does not exist."));
                continue;
            };
            updated.push(apply_patch(&mut ck, current.clone()));
        }
        if !errors.is_empty() {
            return Err(
                ApiError::unprocessable(V3, "Update customer addresses failed.")
                    .with_errors(errors),
            );
        }
        let mut out = Vec::with_capacity(updated.len());
        let mut changed = Vec::with_capacity(updated.len());
        for a in updated {
            let Some(customer) = cs.customers.get(&a.customer_id) else {
                continue;
            };
            let duplicate = customer
                .address_ids
                .iter()
                .filter(|id| **id != a.id)
                .filter_map(|id| cs.addresses.get(id))
                .any(|other| other.same_identity(&a));
            if duplicate {
                continue;
            }
            out.push(render_address(&a, false));
            if cs.addresses.get(&a.id) != Some(&a) {
                changed.push(Record::CustomerAddress {
                    id: a.id,
                    customer_id: a.customer_id,
                });
            }
            cs.addresses.insert(a.id, a);
        }
        for r in changed {
            tx.updated(r);
        }
        Ok(v3_batch(StatusCode::OK, out))
    })
}

/// Where an updatable string field lives in an [`Address`].
type StringSlot = fn(&mut Address) -> &mut String;

/// Applies the fields present in an update body to a copy of the address.
pub(super) fn apply_patch(ck: &mut Check<'_>, mut a: Address) -> Address {
    let fields: [(&str, usize, usize, StringSlot); 10] = [
        ("first_name", 1, 255, |a| &mut a.first_name),
        ("last_name", 1, 255, |a| &mut a.last_name),
        ("company", 0, 255, |a| &mut a.company),
        ("address1", 1, 255, |a| &mut a.address1),
        ("address2", 0, 255, |a| &mut a.address2),
        ("city", 1, 100, |a| &mut a.city),
        ("state_or_province", 0, 100, |a| &mut a.state_or_province),
        ("postal_code", 0, 30, |a| &mut a.postal_code),
        ("phone", 0, 50, |a| &mut a.phone),
        ("country_code", 2, 2, |a| &mut a.country_code),
    ];
    for (name, min, max, slot) in fields {
        if let Some(v) = ck.string(name, false, min, max) {
            *slot(&mut a) = v;
        }
    }
    if !a.country_code.chars().all(|c| c.is_ascii_uppercase()) {
        ck.fail(
            "country_code",
            "country_code must be a two-letter ISO 3166-1 code such as US.",
        );
    }
    if let Some(t) = ck.one_of("address_type", false, &["residential", "commercial"]) {
        a.address_type = t;
    }
    a
}

/// `DELETE /v3/customers/addresses?id:in=...`. `id:in` is a required parameter here
/// (docs/api-notes.md §2.1); unlike customers, where a missing filter is a documented no-op 204, a
/// missing filter is answered 422 so it can never be mistaken for success.
pub(super) async fn delete(State(st): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V3);
    let Some(ids) = q.int_list("id:in")? else {
        return Err(ApiError::unprocessable(V3, "The filter id:in is required.")
            .with_error("id:in", "Name the addresses to delete with id:in=1,2,3."));
    };
    st.write(|tx| {
        for id in ids {
            let Some(customer_id) = tx.data.customers.addresses.get(&id).map(|a| a.customer_id)
            else {
                continue;
            };
            tx.deleted(Record::CustomerAddress { id, customer_id });
            tx.data.customers.remove_address(id);
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}
