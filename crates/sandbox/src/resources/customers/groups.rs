//! Customer groups, V2 only (docs/api-notes.md §2.5): `/v2/customer_groups` list, count, create,
//! and get/update/delete by id, in V2 shapes: bare arrays and objects, 204 for an empty page,
//! `[{status, message}]` errors.
//!
//! Dates: the spec example (`2023-07-17 06:30:41`) is neither V2 nor V3 style and docs/api-notes.md
//! §13.11 leaves the real format open; we emit RFC 2822 like every other V2 date, and the
//! date filters accept every form `dates::parse_filter` knows.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::check::DateRange;
use super::{CategoryAccess, CustomerGroup, CustomersData, MAX_LIMIT};
use crate::body::JsonBody;
use crate::dates;
use crate::error::{ApiError, ApiResult, ApiVersion};
use crate::mutation::Record;
use crate::paging::{self, v2_object};
use crate::query::{Query, like};
use crate::state::Shared;

const V2: ApiVersion = ApiVersion::V2;

fn render(g: &CustomerGroup) -> Value {
    let mut access = json!({ "type": g.category_access.kind });
    if g.category_access.kind == "specific" {
        access["categories"] = json!(g.category_access.categories);
    }
    json!({
        "id": g.id,
        "name": g.name,
        "is_default": g.is_default,
        "category_access": access,
        "discount_rules": g.discount_rules,
        "is_group_for_guests": g.is_group_for_guests,
        "date_created": dates::rfc2822(g.date_created),
        "date_modified": dates::rfc2822(g.date_modified),
    })
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::bad_request(V2, msg)
}

/// The group `id` names, or the V2 404.
fn find<'a>(cs: &'a CustomersData, id: &str) -> Result<&'a CustomerGroup, ApiError> {
    id.parse::<i64>()
        .ok()
        .and_then(|n| cs.groups.get(&n))
        .ok_or_else(|| ApiError::not_found(V2))
}

/// `GET /v2/customer_groups`.
pub(super) async fn list(State(st): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V2);
    let (page, limit) = q.page_limit(MAX_LIMIT)?;
    let name = q.get("name").map(str::to_lowercase);
    let name_like = q.get("name:like");
    let is_default = q.bool("is_default")?;
    let for_guests = q.bool("is_group_for_guests")?;
    // V2 customer groups use V3-style date filter names (docs/api-notes.md §0.5).
    let created = DateRange::parse(&q, "date_created")?;
    let modified = DateRange::parse(&q, "date_modified")?;
    let data = st.data.read();
    let matches: Vec<&CustomerGroup> = data
        .customers
        .groups
        .values()
        .filter(|g| name.as_ref().is_none_or(|n| g.name.to_lowercase() == *n))
        .filter(|g| name_like.is_none_or(|p| like(&g.name, p)))
        .filter(|g| is_default.is_none_or(|d| g.is_default == d))
        .filter(|g| for_guests.is_none_or(|d| g.is_group_for_guests == d))
        .filter(|g| created.contains(g.date_created) && modified.contains(g.date_modified))
        .collect();
    Ok(paging::v2_list(&matches, page, limit, |g| render(g)))
}

/// `GET /v2/customer_groups/count`.
pub(super) async fn count(State(st): State<Shared>) -> ApiResult {
    let n = st.data.read().customers.groups.len();
    Ok(v2_object(StatusCode::OK, json!({ "count": n })))
}

/// `GET /v2/customer_groups/{id}`.
pub(super) async fn get_one(
    State(st): State<Shared>,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult {
    let data = st.data.read();
    Ok(v2_object(
        StatusCode::OK,
        render(find(&data.customers, &id)?),
    ))
}

/// The writable fields of a group body, checked; `id` is the group being updated (0 for
/// a create).
struct GroupFields {
    name: Option<String>,
    is_default: Option<bool>,
    is_group_for_guests: Option<bool>,
    category_access: Option<CategoryAccess>,
    discount_rules: Option<Vec<Value>>,
}

fn read_fields(
    body: &Value,
    cs: &CustomersData,
    id: i64,
    creating: bool,
) -> Result<GroupFields, ApiError> {
    let Value::Object(obj) = body else {
        return Err(bad("The request body must be a JSON object."));
    };
    let bool_field = |key: &str| -> Result<Option<bool>, ApiError> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(bad(format!("The field '{key}' must be true or false."))),
        }
    };
    let name = match obj.get("name") {
        None | Some(Value::Null) if creating => {
            return Err(bad("The required field 'name' was not supplied."));
        }
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= 255 => {
            Some(s.clone())
        }
        Some(_) => {
            return Err(bad(
                "The field 'name' must be a string of 1 to 255 characters.",
            ));
        }
    };
    if let Some(n) = &name {
        let lower = n.to_lowercase();
        if cs
            .groups
            .values()
            .any(|g| g.id != id && g.name.to_lowercase() == lower)
        {
            return Err(ApiError::conflict(
                V2,
                format!("A customer group named '{n}' already exists."),
            ));
        }
    }
    let is_default = bool_field("is_default")?;
    let is_group_for_guests = bool_field("is_group_for_guests")?;
    if is_group_for_guests == Some(true)
        && cs
            .groups
            .values()
            .any(|g| g.id != id && g.is_group_for_guests)
    {
        return Err(ApiError::conflict(
            V2,
            "Another customer group is already the group for guests; only one may be.",
        ));
    }
    let category_access = match obj.get("category_access") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => {
            let kind = m.get("type").and_then(Value::as_str).unwrap_or("all");
            if !matches!(kind, "all" | "specific" | "none") {
                return Err(bad(
                    "The field 'category_access.type' must be all, specific or none.",
                ));
            }
            let categories = match m.get("categories") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(Value::as_i64)
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| bad("The field 'category_access.categories' must be a list of category ids."))?,
                Some(_) => return Err(bad("The field 'category_access.categories' must be a list of category ids.")),
            };
            Some(CategoryAccess {
                kind: kind.to_owned(),
                categories,
            })
        }
        Some(_) => return Err(bad("The field 'category_access' must be an object.")),
    };
    let discount_rules = match obj.get("discount_rules") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) if items.iter().all(Value::is_object) => Some(items.clone()),
        Some(_) => return Err(bad("The field 'discount_rules' must be a list of objects.")),
    };
    Ok(GroupFields {
        name,
        is_default,
        is_group_for_guests,
        category_access,
        discount_rules,
    })
}

/// Applies checked fields. Only one group can be the default, so setting it clears the
/// flag elsewhere.
fn apply(cs: &mut CustomersData, id: i64, f: GroupFields, now: chrono::DateTime<chrono::Utc>) {
    if f.is_default == Some(true) {
        for g in cs
            .groups
            .values_mut()
            .filter(|g| g.id != id && g.is_default)
        {
            g.is_default = false;
            g.date_modified = now;
        }
    }
    let Some(g) = cs.groups.get_mut(&id) else {
        return;
    };
    if let Some(v) = f.name {
        g.name = v;
    }
    if let Some(v) = f.is_default {
        g.is_default = v;
    }
    if let Some(v) = f.is_group_for_guests {
        g.is_group_for_guests = v;
    }
    if let Some(v) = f.category_access {
        g.category_access = v;
    }
    if let Some(v) = f.discount_rules {
        g.discount_rules = v;
    }
    g.date_modified = now;
}

/// `POST /v2/customer_groups`. BigCommerce's spec does not list this create's status code
/// (docs/api-notes.md §2.5); 201 is the general rule for POST (docs/api-notes.md §0.2) and clients
/// must accept 200 and 201 alike.
pub(super) async fn create(State(st): State<Shared>, JsonBody(body): JsonBody) -> ApiResult {
    let now = dates::now();
    st.write(|tx| {
        let data = &mut *tx.data;
        let cs = &mut data.customers;
        let f = read_fields(&body, cs, 0, true)?;
        let id = cs.insert_group(CustomerGroup {
            id: 0,
            name: String::new(),
            is_default: false,
            is_group_for_guests: false,
            category_access: CategoryAccess {
                kind: "all".into(),
                categories: Vec::new(),
            },
            discount_rules: Vec::new(),
            date_created: now,
            date_modified: now,
        });
        apply(cs, id, f, now);
        let g = find(cs, &id.to_string())?;
        Ok(v2_object(StatusCode::CREATED, render(g)))
    })
}

/// `PUT /v2/customer_groups/{id}`: partial; `discount_rules` replaced wholesale.
pub(super) async fn update(
    State(st): State<Shared>,
    Path((_, id)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let now = dates::now();
    st.write(|tx| {
        let data = &mut *tx.data;
        let cs = &mut data.customers;
        let gid = find(cs, &id)?.id;
        let f = read_fields(&body, cs, gid, false)?;
        apply(cs, gid, f, now);
        Ok(v2_object(StatusCode::OK, render(find(cs, &id)?)))
    })
}

/// `DELETE /v2/customer_groups/{id}`: 204; the group's customers become group-less.
pub(super) async fn delete(
    State(st): State<Shared>,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult {
    st.write(|tx| {
        let gid = find(&tx.data.customers, &id)?.id;
        // Unassigning a group's customers is a write to each of them.
        let members: Vec<i64> = tx
            .data
            .customers
            .customers
            .values()
            .filter(|c| c.customer_group_id == gid)
            .map(|c| c.id)
            .collect();
        for cid in members {
            tx.updated(Record::Customer(cid));
        }
        let now = tx.now;
        tx.data.customers.remove_group(gid, now);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}
