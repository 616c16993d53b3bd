//! The test control plane under `/_brevo/` (docs/brevo-api-notes.md §7.20): reset, the
//! request log and per-bucket counts, a dump of the whole account, the clock, seeding,
//! faults, limits and switches. No auth and no rate limit: it is not part of Brevo.
//!
//! | Route | What it does |
//! |---|---|
//! | `POST /_brevo/reset` | empties the account, the log and the rate buckets |
//! | `GET /_brevo/requests` | the request log: `{requests:[{seq,method,path,status,bucket}], counts}` |
//! | `GET /_brevo/counts` | requests per bucket and per status |
//! | `GET /_brevo/state` | contacts, attributes, folders, lists with members, events, categories, products, orders, processes, batches, dropped values, automations counter, notifications |
//! | `POST /_brevo/clock/advance` | `{"seconds": N}`: moves the emulator clock, completing due imports and batches |
//! | `POST /_brevo/seed` | `{attributes, folders, lists, ecommerceActive}` |
//! | `GET/PUT /_brevo/faults` | `{"spec": "seed=7,500=0.1"}` |
//! | `GET/PUT /_brevo/limits` | `{"spec": "tiny"}` |
//! | `GET/PUT /_brevo/switches` | any subset of the switches |

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::clock::format_time;
use super::config::{Bucket, Switches, TierLimits};
use super::error::{ApiResult, BrevoError, json_status};
use super::faults::BrevoFaults;
use super::lists::attribute_from;
use super::server::BrevoShared;
use super::util::json_body;

pub fn routes() -> Router<BrevoShared> {
    Router::new()
        .route("/_brevo/reset", post(reset))
        .route("/_brevo/requests", get(requests))
        .route("/_brevo/counts", get(counts))
        .route("/_brevo/state", get(state))
        .route("/_brevo/clock/advance", post(advance))
        .route("/_brevo/seed", post(seed))
        .route("/_brevo/faults", get(get_faults).put(put_faults))
        .route("/_brevo/limits", get(get_limits).put(put_limits))
        .route("/_brevo/switches", get(get_switches).put(put_switches))
}

fn body_or_empty(headers: &HeaderMap, body: &Bytes) -> Result<Map<String, Value>, BrevoError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match json_body(headers, body)? {
        Value::Object(m) => Ok(m),
        _ => Err(BrevoError::invalid("The body must be a JSON object")),
    }
}

async fn reset(State(st): State<BrevoShared>) -> Response {
    st.reset();
    StatusCode::NO_CONTENT.into_response()
}

fn bucket_counts(st: &super::server::BrevoState) -> Value {
    let log = st.log.lock();
    let mut buckets: BTreeMap<&str, u64> = Bucket::ALL.iter().map(|b| (b.name(), 0)).collect();
    let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
    let mut refused: BTreeMap<&str, u64> = BTreeMap::new();
    for e in log.iter() {
        *buckets.entry(e.bucket.name()).or_default() += 1;
        *statuses.entry(e.status.to_string()).or_default() += 1;
        if e.status == 429 {
            *refused.entry(e.bucket.name()).or_default() += 1;
        }
    }
    json!({
        "total": log.len(),
        "buckets": buckets,
        "statuses": statuses,
        "refused429": refused,
        "faultsInjected": st.fault_counter.injected.load(Ordering::SeqCst),
    })
}

async fn requests(State(st): State<BrevoShared>) -> Response {
    let entries = st.log.lock().clone();
    let counts = bucket_counts(&st);
    (
        StatusCode::OK,
        axum::Json(json!({"requests": entries, "counts": counts})),
    )
        .into_response()
}

async fn counts(State(st): State<BrevoShared>) -> Response {
    (StatusCode::OK, axum::Json(bucket_counts(&st))).into_response()
}

/// The whole account as tests inspect it. Never contains an API key.
async fn state(State(st): State<BrevoShared>) -> Response {
    st.tick();
    let clock = &st.clock;
    let now = clock.now();
    let store = st.store.lock();
    let contacts: Vec<Value> = store.contacts.values().map(|c| c.to_json(clock)).collect();
    let lists: Vec<Value> = store
        .lists
        .values()
        .map(|l| {
            let members: Vec<i64> = store
                .contacts
                .values()
                .filter(|c| c.list_ids.contains(&l.id))
                .map(|c| c.id)
                .collect();
            json!({"id": l.id, "name": l.name, "folderId": l.folder_id, "members": members})
        })
        .collect();
    let catalog = |m: &BTreeMap<String, super::store::CatalogItem>| -> Vec<Value> {
        let mut items: Vec<_> = m.values().collect();
        items.sort_by_key(|i| i.seq);
        items
            .into_iter()
            .map(|i| {
                let mut d = i.doc.clone();
                d.insert(
                    "createdAt".into(),
                    Value::from(format_time(clock.wall(i.created))),
                );
                d.insert(
                    "modifiedAt".into(),
                    Value::from(format_time(clock.wall(i.modified))),
                );
                Value::Object(d)
            })
            .collect()
    };
    let mut orders: Vec<_> = store.orders.values().collect();
    orders.sort_by_key(|o| o.seq);
    let orders: Vec<Value> = orders
        .into_iter()
        .map(|o| json!({"order": o.doc, "historical": o.historical, "via": o.via}))
        .collect();
    let processes: Vec<Value> = store.processes.values().map(|p| p.to_json(clock)).collect();
    let ecommerce_active = store.ecommerce_active_at.is_some_and(|t| now >= t);
    let body = json!({
        "clock": {"now": format_time(clock.wall_now()), "advancedSeconds": clock.advanced().as_secs_f64()},
        "contacts": contacts,
        "attributes": store.attributes,
        "folders": store.folders.values().collect::<Vec<_>>(),
        "lists": lists,
        "events": store.events,
        "categories": catalog(&store.categories),
        "products": catalog(&store.products),
        "orders": orders,
        "orderBatches": store.order_batches.values().collect::<Vec<_>>(),
        "processes": processes,
        "automationsTriggered": store.automations_triggered,
        "droppedAttributeValues": store.dropped,
        "contactsBatchCalls": store.contacts_batch_calls,
        "notifications": store.notifications,
        "ecommerceActive": ecommerce_active,
    });
    (StatusCode::OK, axum::Json(body)).into_response()
}

async fn advance(State(st): State<BrevoShared>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let body = body_or_empty(&headers, &body)?;
    let secs = body
        .get("seconds")
        .and_then(Value::as_f64)
        .filter(|s| *s >= 0.0 && s.is_finite())
        .ok_or_else(|| BrevoError::invalid("Give {\"seconds\": N} with N ≥ 0"))?;
    st.clock.advance(Duration::from_secs_f64(secs));
    st.tick();
    Ok(json_status(
        StatusCode::OK,
        json!({"advancedSeconds": st.clock.advanced().as_secs_f64()}),
    ))
}

/// Seeds attributes (`[{category, name, type?, enumeration?, multiCategoryOptions?, value?}]`),
/// folders (`[{name, lists: [name]}]`), lists (`[{name, folderId}]`) and the e-commerce flag.
async fn seed(State(st): State<BrevoShared>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let body = body_or_empty(&headers, &body)?;
    let now = st.clock.now();
    let mut store = st.store.lock();
    let mut attrs_added = Vec::new();
    if let Some(Value::Array(items)) = body.get("attributes") {
        for item in items {
            let o = item.as_object().cloned().unwrap_or_default();
            let category = o
                .get("category")
                .and_then(Value::as_str)
                .unwrap_or("normal");
            let name = o.get("name").and_then(Value::as_str).unwrap_or("");
            let attr = attribute_from(category, name, &o)?;
            store.attributes.retain(|a| a.name != attr.name);
            attrs_added.push(attr.name.clone());
            store.attributes.push(attr);
        }
    }
    let mut folders = Vec::new();
    if let Some(Value::Array(items)) = body.get("folders") {
        for item in items {
            let name = item
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("Folder")
                .to_owned();
            let fid = store.add_folder(name);
            let mut list_ids = Vec::new();
            if let Some(Value::Array(ls)) = item.get("lists") {
                for l in ls.iter().filter_map(Value::as_str) {
                    list_ids.push(store.add_list(l.to_owned(), fid, now));
                }
            }
            folders.push(json!({"id": fid, "lists": list_ids}));
        }
    }
    let mut lists = Vec::new();
    if let Some(Value::Array(items)) = body.get("lists") {
        for item in items {
            let name = item
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("List")
                .to_owned();
            let folder = match item.get("folderId").and_then(Value::as_i64) {
                Some(f) if store.folders.contains_key(&f) => f,
                Some(f) => {
                    return Err(BrevoError::invalid(format!("Folder ID {f} does not exist")));
                }
                None => store.add_folder("Seeded".into()),
            };
            lists.push(store.add_list(name, folder, now));
        }
    }
    if let Some(active) = body.get("ecommerceActive").and_then(Value::as_bool) {
        store.ecommerce_active_at = active.then_some(now);
    }
    Ok(json_status(
        StatusCode::OK,
        json!({"attributes": attrs_added, "folders": folders, "lists": lists}),
    ))
}

async fn get_faults(State(st): State<BrevoShared>) -> Response {
    let f = st.settings.read().faults.clone();
    (StatusCode::OK, axum::Json(json!({"spec": f.spec, "faults": f, "injected": st.fault_counter.injected.load(Ordering::SeqCst)}))).into_response()
}

fn spec_of(body: &Map<String, Value>) -> Result<String, BrevoError> {
    body.get("spec")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| BrevoError::invalid("Give {\"spec\": \"...\"}"))
}

async fn put_faults(State(st): State<BrevoShared>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let body = body_or_empty(&headers, &body)?;
    let f = BrevoFaults::parse(&spec_of(&body)?).map_err(BrevoError::invalid)?;
    st.settings.write().faults = f;
    st.fault_counter.requests.store(0, Ordering::SeqCst);
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn get_limits(State(st): State<BrevoShared>) -> Response {
    let s = st.settings.read();
    (
        StatusCode::OK,
        axum::Json(json!({"limits": s.limits, "timeScale": s.time_scale})),
    )
        .into_response()
}

async fn put_limits(State(st): State<BrevoShared>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let body = body_or_empty(&headers, &body)?;
    let l = TierLimits::parse(&spec_of(&body)?).map_err(BrevoError::invalid)?;
    st.settings.write().limits = l;
    st.limiter.clear();
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn get_switches(State(st): State<BrevoShared>) -> Response {
    (StatusCode::OK, axum::Json(st.switches())).into_response()
}

/// Merges the given switches into the current ones.
async fn put_switches(State(st): State<BrevoShared>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let body = body_or_empty(&headers, &body)?;
    let mut current =
        serde_json::to_value(st.switches()).map_err(|e| BrevoError::invalid(e.to_string()))?;
    if let Some(o) = current.as_object_mut() {
        for (k, v) in body {
            if !o.contains_key(&k) {
                return Err(BrevoError::invalid(format!("unknown switch {k:?}")));
            }
            o.insert(k, v);
        }
    }
    let s: Switches = serde_json::from_value(current)
        .map_err(|e| BrevoError::invalid(format!("switch values must be booleans ({e})")))?;
    st.settings.write().switches = s;
    Ok(StatusCode::NO_CONTENT.into_response())
}
