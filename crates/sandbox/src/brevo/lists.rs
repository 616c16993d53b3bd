//! Attributes (docs/brevo-api-notes.md §2.2), folders and lists, and list membership
//! (docs/brevo-api-notes.md §3).

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::clock::format_time;
use super::contacts::id_array;
use super::error::{ApiResult, BrevoError, json_status, no_content};
use super::server::BrevoShared;
use super::store::{Attribute, Store};
use super::util::{Query, json_body, json_object, normalise_email, page};

pub fn routes() -> Router<BrevoShared> {
    Router::new()
        .route("/v3/contacts/attributes", get(list_attributes))
        .route(
            "/v3/contacts/attributes/{category}/{name}",
            post(create_attribute)
                .put(update_attribute)
                .delete(delete_attribute),
        )
        .route(
            "/v3/contacts/attributes/multiple-choice/{attr}/{option}",
            delete(delete_option),
        )
        .route(
            "/v3/contacts/folders",
            get(list_folders).post(create_folder),
        )
        .route(
            "/v3/contacts/folders/{id}",
            get(get_folder).put(update_folder).delete(delete_folder),
        )
        .route("/v3/contacts/folders/{id}/lists", get(folder_lists))
        .route("/v3/contacts/lists", get(list_lists).post(create_list))
        .route(
            "/v3/contacts/lists/{id}",
            get(get_list).put(update_list).delete(delete_list),
        )
        .route("/v3/contacts/lists/{id}/contacts", get(list_contacts))
        .route("/v3/contacts/lists/{id}/contacts/add", post(add_to_list))
        .route(
            "/v3/contacts/lists/{id}/contacts/remove",
            post(remove_from_list),
        )
}

const CATEGORIES: [&str; 5] = [
    "normal",
    "transactional",
    "category",
    "calculated",
    "global",
];

// ---- attributes ----

async fn list_attributes(State(st): State<BrevoShared>) -> ApiResult {
    let store = st.store.lock();
    Ok(json_status(
        StatusCode::OK,
        json!({ "attributes": store.attributes }),
    ))
}

/// The body of an attribute write; an empty body is allowed.
fn optional_object(headers: &HeaderMap, body: &Bytes) -> Result<Map<String, Value>, BrevoError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match json_body(headers, body)? {
        Value::Object(m) => Ok(m),
        _ => Err(BrevoError::invalid("The body must be a JSON object")),
    }
}

/// Builds an attribute from a create request, enforcing the category/type rules of
/// docs/brevo-api-notes.md §2.1.
pub fn attribute_from(
    category: &str,
    name: &str,
    body: &Map<String, Value>,
) -> Result<Attribute, BrevoError> {
    if !CATEGORIES.contains(&category) {
        return Err(BrevoError::invalid(format!(
            "attributeCategory {category:?} is not one of normal, transactional, category, calculated, global"
        )));
    }
    if name.is_empty() {
        return Err(BrevoError::missing("The attribute name is missing"));
    }
    let kind = match body.get("type") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(BrevoError::invalid("type should be type string")),
    };
    if let Some(k) = &kind {
        let allowed: &[&str] = match category {
            "normal" => &[
                "text",
                "date",
                "float",
                "boolean",
                "multiple-choice",
                "user",
            ],
            "transactional" => &["text", "date", "float", "boolean", "id"],
            "category" => &["category"],
            _ => &[],
        };
        if !allowed.contains(&k.as_str()) {
            return Err(BrevoError::invalid(format!(
                "type {k:?} is not allowed for the {category} category (allowed: {})",
                if allowed.is_empty() {
                    "none".to_owned()
                } else {
                    allowed.join(", ")
                }
            )));
        }
    }
    let kind = kind.or(match category {
        "normal" | "transactional" => Some("text".to_owned()),
        "category" => Some("category".to_owned()),
        _ => None,
    });
    let enumeration = match body.get("enumeration") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => {
            if category != "category" {
                return Err(BrevoError::invalid(
                    "enumeration is only for attributes of the category category",
                ));
            }
            for (i, it) in items.iter().enumerate() {
                let ok = it.get("value").and_then(Value::as_i64).is_some()
                    && it
                        .get("label")
                        .and_then(Value::as_str)
                        .is_some_and(|l| !l.is_empty() && l.chars().count() <= 200);
                if !ok {
                    return Err(BrevoError::invalid(format!(
                        "enumeration/{i} needs an integer value and a label of 1 to 200 characters"
                    )));
                }
            }
            Some(items.clone())
        }
        Some(_) => return Err(BrevoError::invalid("enumeration should be type array")),
    };
    if category == "category" && enumeration.as_ref().is_none_or(Vec::is_empty) {
        return Err(BrevoError::missing(
            "A category attribute needs an enumeration of {value, label} options",
        ));
    }
    let options = match body.get("multiCategoryOptions") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => {
            if !(category == "normal" && kind.as_deref() == Some("multiple-choice")) {
                return Err(BrevoError::invalid(
                    "multiCategoryOptions is only for normal attributes of type multiple-choice",
                ));
            }
            let opts: Option<Vec<String>> = items
                .iter()
                .map(|v| {
                    v.as_str()
                        .filter(|s| s.chars().count() <= 200)
                        .map(str::to_owned)
                })
                .collect();
            Some(opts.ok_or_else(|| {
                BrevoError::invalid(
                    "multiCategoryOptions should be strings of at most 200 characters",
                )
            })?)
        }
        Some(_) => {
            return Err(BrevoError::invalid(
                "multiCategoryOptions should be type array",
            ));
        }
    };
    if kind.as_deref() == Some("multiple-choice") && options.as_ref().is_none_or(Vec::is_empty) {
        return Err(BrevoError::missing(
            "A multiple-choice attribute needs multiCategoryOptions",
        ));
    }
    let value = body.get("value").and_then(Value::as_str).map(str::to_owned);
    if matches!(category, "calculated" | "global") && value.is_none() {
        return Err(BrevoError::missing(
            "A calculated or global attribute needs its formula in value",
        ));
    }
    if value.is_some() && !matches!(category, "calculated" | "global") {
        return Err(BrevoError::invalid(
            "value (a formula) is only for calculated and global attributes",
        ));
    }
    Ok(Attribute {
        // docs/brevo-api-notes.md §2.3: the normalisation of names is UNCERTAIN; the
        // emulator stores them upper-cased, the form every payload must use.
        name: name.to_uppercase(),
        category: category.to_owned(),
        kind,
        enumeration,
        multi_category_options: options,
        calculated_value: value,
    })
}

async fn create_attribute(
    State(st): State<BrevoShared>,
    Path((category, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let body = optional_object(&headers, &body)?;
    let attr = attribute_from(&category, &name, &body)?;
    let mut store = st.store.lock();
    if store.attribute(&attr.name).is_some() {
        // docs/brevo-api-notes.md §2.3: the code of a duplicate is UNCERTAIN.
        return Err(BrevoError::invalid(format!(
            "Attribute name {} already exists",
            attr.name
        )));
    }
    store.attributes.push(attr);
    Ok(StatusCode::CREATED.into_response())
}

fn find_attribute<'a>(
    store: &'a mut Store,
    category: &str,
    name: &str,
) -> Result<&'a mut Attribute, BrevoError> {
    store
        .attributes
        .iter_mut()
        .find(|a| a.name == name && a.category == category)
        .ok_or_else(|| {
            BrevoError::not_found(format!(
                "Attribute {name} does not exist in category {category}"
            ))
        })
}

async fn update_attribute(
    State(st): State<BrevoShared>,
    Path((category, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    if !["category", "calculated", "global", "normal"].contains(&category.as_str()) {
        return Err(BrevoError::invalid(format!(
            "attributeCategory {category:?} cannot be updated; use category, calculated, global or normal"
        )));
    }
    let body = json_object(&headers, &body)?;
    let mut store = st.store.lock();
    let attr = find_attribute(&mut store, &category, &name)?;
    if let Some(v) = body.get("value").and_then(Value::as_str) {
        attr.calculated_value = Some(v.to_owned());
    }
    if let Some(Value::Array(e)) = body.get("enumeration") {
        attr.enumeration = Some(e.clone());
    }
    if let Some(Value::Array(o)) = body.get("multiCategoryOptions") {
        let mut opts = attr.multi_category_options.clone().unwrap_or_default();
        for v in o.iter().filter_map(Value::as_str) {
            if !opts.iter().any(|x| x == v) {
                opts.push(v.to_owned());
            }
        }
        attr.multi_category_options = Some(opts);
    }
    Ok(no_content())
}

async fn delete_attribute(
    State(st): State<BrevoShared>,
    Path((category, name)): Path<(String, String)>,
) -> ApiResult {
    let mut store = st.store.lock();
    find_attribute(&mut store, &category, &name)?;
    store
        .attributes
        .retain(|a| !(a.name == name && a.category == category));
    store.erase_attribute(&name);
    Ok(no_content())
}

async fn delete_option(
    State(st): State<BrevoShared>,
    Path((attr, option)): Path<(String, String)>,
) -> ApiResult {
    let mut store = st.store.lock();
    let a = find_attribute(&mut store, "normal", &attr)?;
    let opts = a.multi_category_options.get_or_insert_with(Vec::new);
    let before = opts.len();
    opts.retain(|o| *o != option);
    if opts.len() == before {
        return Err(BrevoError::not_found(format!(
            "Option {option:?} does not exist on attribute {attr}"
        )));
    }
    Ok(no_content())
}

// ---- folders ----

fn parse_id(raw: &str, what: &str) -> Result<i64, BrevoError> {
    raw.parse()
        .map_err(|_| BrevoError::invalid(format!("{what} {raw:?} is not a number")))
}

fn folder_json(id: i64, name: &str) -> Value {
    // docs/brevo-api-notes.md §3: Brevo is zeroing these counters; the emulator sends 0.
    json!({"id": id, "name": name, "totalBlacklisted": 0, "totalSubscribers": 0, "uniqueSubscribers": 0})
}

fn list_json(l: &super::store::List) -> Value {
    json!({"id": l.id, "name": l.name, "totalBlacklisted": 0, "totalSubscribers": 0, "uniqueSubscribers": 0, "folderId": l.folder_id})
}

fn name_field(body: &Map<String, Value>, what: &str) -> Result<String, BrevoError> {
    match body.get("name") {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        None | Some(Value::Null) => Err(BrevoError::missing(format!("{what} name is missing"))),
        Some(_) => Err(BrevoError::invalid("name should be a non-empty string")),
    }
}

async fn list_folders(State(st): State<BrevoShared>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref());
    let (limit, offset, asc) = (q.limit(10, 50)?, q.offset()?, q.ascending()?);
    let store = st.store.lock();
    let all: Vec<Value> = store
        .folders
        .values()
        .map(|f| folder_json(f.id, &f.name))
        .collect();
    Ok(json_status(
        StatusCode::OK,
        json!({"folders": page(&all, asc, offset, limit), "count": all.len()}),
    ))
}

async fn create_folder(
    State(st): State<BrevoShared>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let body = json_object(&headers, &body)?;
    let name = name_field(&body, "Folder")?;
    let id = st.store.lock().add_folder(name);
    Ok(json_status(StatusCode::CREATED, json!({ "id": id })))
}

fn folder_missing(id: i64) -> BrevoError {
    BrevoError::not_found(format!("Folder ID {id} does not exist"))
}

async fn get_folder(State(st): State<BrevoShared>, Path(id): Path<String>) -> ApiResult {
    let id = parse_id(&id, "folderId")?;
    let store = st.store.lock();
    let f = store.folders.get(&id).ok_or_else(|| folder_missing(id))?;
    Ok(json_status(StatusCode::OK, folder_json(f.id, &f.name)))
}

async fn update_folder(
    State(st): State<BrevoShared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let id = parse_id(&id, "folderId")?;
    let body = json_object(&headers, &body)?;
    let name = name_field(&body, "Folder")?;
    let mut store = st.store.lock();
    let f = store
        .folders
        .get_mut(&id)
        .ok_or_else(|| folder_missing(id))?;
    f.name = name;
    Ok(no_content())
}

async fn delete_folder(State(st): State<BrevoShared>, Path(id): Path<String>) -> ApiResult {
    let id = parse_id(&id, "folderId")?;
    let now = st.clock.now();
    let mut store = st.store.lock();
    store
        .folders
        .remove(&id)
        .ok_or_else(|| folder_missing(id))?;
    // Deleting a folder deletes its lists (docs/brevo-api-notes.md §3).
    let lists: Vec<i64> = store
        .lists
        .values()
        .filter(|l| l.folder_id == id)
        .map(|l| l.id)
        .collect();
    for l in lists {
        store.delete_list(l, now);
    }
    Ok(no_content())
}

async fn folder_lists(
    State(st): State<BrevoShared>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let id = parse_id(&id, "folderId")?;
    let q = Query::parse(q.as_deref());
    let (limit, offset, asc) = (q.limit(10, 50)?, q.offset()?, q.ascending()?);
    let store = st.store.lock();
    if !store.folders.contains_key(&id) {
        return Err(folder_missing(id));
    }
    let all: Vec<Value> = store
        .lists
        .values()
        .filter(|l| l.folder_id == id)
        .map(list_json)
        .collect();
    Ok(json_status(
        StatusCode::OK,
        json!({"lists": page(&all, asc, offset, limit), "count": all.len()}),
    ))
}

// ---- lists ----

fn list_missing(id: i64) -> BrevoError {
    BrevoError::not_found(format!("List ID {id} does not exist"))
}

async fn list_lists(State(st): State<BrevoShared>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref());
    let (limit, offset, asc) = (q.limit(10, 50)?, q.offset()?, q.ascending()?);
    let store = st.store.lock();
    let all: Vec<Value> = store.lists.values().map(list_json).collect();
    Ok(json_status(
        StatusCode::OK,
        json!({"lists": page(&all, asc, offset, limit), "count": all.len()}),
    ))
}

async fn create_list(State(st): State<BrevoShared>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let body = json_object(&headers, &body)?;
    let name = name_field(&body, "List")?;
    let folder = match body.get("folderId") {
        Some(v) => v
            .as_i64()
            .ok_or_else(|| BrevoError::invalid("folderId should be type number"))?,
        None => {
            return Err(BrevoError::missing(
                "Folder ID is missing; every list sits in a folder",
            ));
        }
    };
    let now = st.clock.now();
    let mut store = st.store.lock();
    if !store.folders.contains_key(&folder) {
        return Err(BrevoError::invalid(format!(
            "Folder ID {folder} does not exist; create the folder first"
        )));
    }
    let id = store.add_list(name, folder, now);
    Ok(json_status(StatusCode::CREATED, json!({ "id": id })))
}

async fn get_list(State(st): State<BrevoShared>, Path(id): Path<String>) -> ApiResult {
    let id = parse_id(&id, "listId")?;
    let store = st.store.lock();
    let l = store.lists.get(&id).ok_or_else(|| list_missing(id))?;
    let mut v = list_json(l);
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "createdAt".into(),
            Value::from(format_time(st.clock.wall(l.created))),
        );
        o.insert("campaignStats".into(), json!([]));
        o.insert("dynamicList".into(), Value::Bool(false));
    }
    Ok(json_status(StatusCode::OK, v))
}

async fn update_list(
    State(st): State<BrevoShared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let id = parse_id(&id, "listId")?;
    let body = json_object(&headers, &body)?;
    let name = body.get("name").and_then(Value::as_str).map(str::to_owned);
    let folder = body.get("folderId").and_then(Value::as_i64);
    if name.is_some() == folder.is_some() {
        return Err(BrevoError::invalid(
            "Give either name or folderId, one per call",
        ));
    }
    let mut store = st.store.lock();
    if let Some(f) = folder
        && !store.folders.contains_key(&f)
    {
        return Err(BrevoError::invalid(format!("Folder ID {f} does not exist")));
    }
    let l = store.lists.get_mut(&id).ok_or_else(|| list_missing(id))?;
    if let Some(n) = name {
        l.name = n;
    }
    if let Some(f) = folder {
        l.folder_id = f;
    }
    Ok(no_content())
}

async fn delete_list(State(st): State<BrevoShared>, Path(id): Path<String>) -> ApiResult {
    let id = parse_id(&id, "listId")?;
    let now = st.clock.now();
    let mut store = st.store.lock();
    if !store.lists.contains_key(&id) {
        return Err(list_missing(id));
    }
    store.delete_list(id, now);
    Ok(no_content())
}

async fn list_contacts(
    State(st): State<BrevoShared>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let id = parse_id(&id, "listId")?;
    let q = Query::parse(q.as_deref());
    let (limit, offset, asc) = (q.limit(50, 500)?, q.offset()?, q.ascending()?);
    let since = q.since("modifiedSince")?;
    let store = st.store.lock();
    if !store.lists.contains_key(&id) {
        return Err(list_missing(id));
    }
    let all: Vec<&super::store::Contact> = store
        .contacts
        .values()
        .filter(|c| c.list_ids.contains(&id))
        .filter(|c| since.is_none_or(|t| st.clock.wall(c.modified) >= t))
        .collect();
    let contacts: Vec<Value> = page(&all, asc, offset, limit)
        .into_iter()
        .map(|c| c.to_json(&st.clock))
        .collect();
    Ok(json_status(
        StatusCode::OK,
        json!({"contacts": contacts, "count": all.len()}),
    ))
}

/// The members named by an add/remove body: exactly one of emails, ids, extIds, with 1 to
/// 150 entries (docs/brevo-api-notes.md §3). Returns `(given value, contact id if any)`.
fn named_members(
    store: &Store,
    body: &Map<String, Value>,
) -> Result<Vec<(Value, Option<i64>)>, BrevoError> {
    let given: Vec<&str> = ["emails", "ids", "extIds"]
        .into_iter()
        .filter(|k| body.get(*k).is_some_and(|v| !v.is_null()))
        .collect();
    if given.len() != 1 {
        return Err(BrevoError::invalid(
            "Give exactly one of emails, ids or extIds",
        ));
    }
    let field = given[0];
    let items = match body.get(field) {
        Some(Value::Array(a)) => a.clone(),
        _ => return Err(BrevoError::invalid(format!("{field} should be type array"))),
    };
    if items.is_empty() || items.len() > 150 {
        return Err(BrevoError::out_of_range(format!(
            "{field} must have between 1 and 150 entries; got {}",
            items.len()
        )));
    }
    if field == "ids" {
        id_array(body, "ids")?;
    }
    Ok(items
        .into_iter()
        .map(|v| {
            let found = match field {
                "emails" => v
                    .as_str()
                    .and_then(|e| store.find_by_email(&normalise_email(e))),
                "ids" => v.as_i64().filter(|id| store.contacts.contains_key(id)),
                _ => store.find_by_attr("EXT_ID", &super::store::value_as_id(&v)),
            };
            (v, found)
        })
        .collect())
}

async fn add_to_list(
    State(st): State<BrevoShared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    change_membership(st, id, headers, body, true).await
}

async fn remove_from_list(
    State(st): State<BrevoShared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    change_membership(st, id, headers, body, false).await
}

async fn change_membership(
    st: BrevoShared,
    id: String,
    headers: HeaderMap,
    body: Bytes,
    add: bool,
) -> ApiResult {
    let list = parse_id(&id, "listId")?;
    let body = json_object(&headers, &body)?;
    let now = st.clock.now();
    let mut store = st.store.lock();
    if !store.lists.contains_key(&list) {
        return Err(list_missing(list));
    }
    if !add && body.get("all").and_then(Value::as_bool) == Some(true) {
        let members: Vec<i64> = store
            .contacts
            .values()
            .filter(|c| c.list_ids.contains(&list))
            .map(|c| c.id)
            .collect();
        for m in &members {
            store.change_lists(*m, &[], &[list], now);
        }
        let pid = store.add_process(
            "LIST_CONTACTS_REMOVE",
            now,
            std::time::Duration::ZERO,
            std::time::Duration::ZERO,
        );
        return Ok(json_status(
            StatusCode::CREATED,
            json!({"contacts": {"total": members.len(), "processId": pid}}),
        ));
    }
    let members = named_members(&store, &body)?;
    let mut success = Vec::new();
    let mut failure = Vec::new();
    for (given, found) in members {
        let changed = match found {
            Some(cid) if add => store.change_lists(cid, &[list], &[], now),
            Some(cid) => store.change_lists(cid, &[], &[list], now),
            None => false,
        };
        if changed {
            success.push(given);
        } else {
            failure.push(given);
        }
    }
    if success.is_empty() {
        // docs/brevo-api-notes.md §3: UNCERTAIN; total failure is a 400, partial a 201.
        return Err(BrevoError::invalid(if add {
            "Contact already in list and/or does not exist"
        } else {
            "Contact already removed from list and/or does not exist"
        }));
    }
    Ok(json_status(
        StatusCode::CREATED,
        json!({"contacts": {"success": success, "failure": failure}}),
    ))
}
