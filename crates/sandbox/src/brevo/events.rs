//! The Events API (docs/brevo-api-notes.md §4.1, §4.2): one event, a batch in either
//! request shape, and the listing tests use to check what arrived.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::clock::format_time;
use super::error::{ApiResult, BrevoError, json_status, no_content};
use super::server::{BrevoShared, BrevoState};
use super::store::{StoredEvent, bad};
use super::util::{Query, is_email, json_body, normalise_email, normalise_phone, parse_time};

pub fn routes() -> Router<BrevoShared> {
    Router::new()
        .route("/v3/events", get(list_events).post(create_event))
        .route("/v3/events/batch", post(create_batch))
}

/// `event_properties` may not exceed 50 KB (docs/brevo-api-notes.md §4.1).
const MAX_PROPERTIES_BYTES: usize = 50 * 1024;
const IDENTIFIER_KEYS: [&str; 6] = [
    "contact_id",
    "email_id",
    "ext_id",
    "phone_id",
    "whatsapp_id",
    "landline_number_id",
];

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars().count() <= 255
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn check_keys(v: &Value, path: &str) -> Result<(), String> {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                if !is_name(k) {
                    return Err(format!(
                        "event_properties key {path}{k:?} must be 1 to 255 characters of letters, digits, _ or -"
                    ));
                }
                check_keys(v, &format!("{path}{k}."))?;
            }
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(|i| check_keys(i, path)),
        _ => Ok(()),
    }
}

/// Validates one event; the error is the message of a 400.
fn validate(v: &Value) -> Result<Map<String, Value>, String> {
    let Some(ev) = v.as_object() else {
        return Err("an event must be a JSON object".into());
    };
    match ev.get("event_name") {
        Some(Value::String(n)) if is_name(n) => {}
        Some(_) => {
            return Err("event_name must be 1 to 255 characters of letters, digits, _ or -".into());
        }
        None => return Err("event_name is missing".into()),
    }
    let Some(Value::Object(ids)) = ev.get("identifiers") else {
        return Err("identifiers is missing; give at least one of contact_id, email_id, ext_id, phone_id, whatsapp_id, landline_number_id".into());
    };
    if !IDENTIFIER_KEYS
        .iter()
        .any(|k| ids.get(*k).is_some_and(|v| !v.is_null()))
    {
        return Err("identifiers needs at least one of contact_id, email_id, ext_id, phone_id, whatsapp_id, landline_number_id".into());
    }
    if let Some(c) = ids.get("contact_id")
        && !c.is_null()
        && c.as_i64().is_none()
    {
        return Err("identifiers.contact_id must be an integer".into());
    }
    if let Some(e) = ids.get("email_id")
        && !e.is_null()
        && !e.as_str().is_some_and(|s| is_email(&normalise_email(s)))
    {
        return Err("identifiers.email_id is not a valid email address".into());
    }
    if let Some(d) = ev.get("event_date").filter(|d| !d.is_null()) {
        let valid = d
            .as_str()
            .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok());
        if !valid {
            return Err("event_date must be an ISO 8601 date-time with an offset, e.g. 2026-01-24T17:39:57+01:00".into());
        }
    }
    match ev.get("contact_properties") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            if m.values()
                .any(|v| !(v.is_string() || v.is_number() || v.is_boolean() || v.is_null()))
            {
                return Err(
                    "contact_properties values must be strings, numbers or booleans".into(),
                );
            }
        }
        Some(_) => return Err("contact_properties must be an object".into()),
    }
    match ev.get("event_properties") {
        None | Some(Value::Null) => {}
        Some(p @ Value::Object(_)) => {
            if serde_json::to_vec(p).map_or(0, |b| b.len()) > MAX_PROPERTIES_BYTES {
                return Err(
                    "event_properties is larger than 50 KB; send less data per event".into(),
                );
            }
            check_keys(p, "")?;
        }
        Some(_) => return Err("event_properties must be an object".into()),
    }
    Ok(ev.clone())
}

/// Stores a validated event, resolving (or, by switch, creating) its contact and applying
/// `contact_properties` through the one attribute path.
fn record(st: &BrevoState, ev: Map<String, Value>, via: &str) -> Result<(), BrevoError> {
    let now = st.clock.now();
    let switches = st.switches();
    let ids = ev.get("identifiers").cloned().unwrap_or(Value::Null);
    let str_id = |k: &str| ids.get(k).and_then(Value::as_str).map(str::to_owned);
    let email = str_id("email_id").map(|e| normalise_email(&e));
    let ext = ids.get("ext_id").map(super::store::value_as_id);
    let phone = ids.get("phone_id").and_then(normalise_phone);
    let mut store = st.store.lock();
    // contact_id wins over the other identifiers (docs/brevo-api-notes.md §4.1).
    let mut contact = ids
        .get("contact_id")
        .and_then(Value::as_i64)
        .filter(|id| store.contacts.contains_key(id))
        .or_else(|| email.as_deref().and_then(|e| store.find_by_email(e)))
        .or_else(|| ext.as_deref().and_then(|x| store.find_by_attr("EXT_ID", x)))
        .or_else(|| phone.as_deref().and_then(|p| store.find_by_attr("SMS", p)));
    let route = format!("POST /v3/events ({via})");
    if let Some(Value::Object(props)) = ev.get("contact_properties") {
        let ctx = st.write_ctx(
            &route,
            email.clone().or_else(|| contact.map(|c| c.to_string())),
        );
        let attrs = store.clean_attributes(props, &ctx)?;
        if contact.is_none()
            && switches.events_create_contacts
            && (email.is_some() || ext.is_some() || phone.is_some())
        {
            let mut extra = attrs.clone();
            if let Some(x) = &ext {
                extra.insert("EXT_ID".into(), Value::from(x.clone()));
            }
            if let Some(p) = &phone {
                extra.insert("SMS".into(), Value::from(p.clone()));
            }
            if store.clashes(None, email.as_deref(), &extra).is_empty() {
                let id = store.new_contact(now);
                if let Some(e) = &email {
                    store.set_email(id, e.clone(), now);
                }
                store.write_attributes(id, extra, now)?;
                contact = Some(id);
            }
        } else if let Some(id) = contact
            && store.clashes(Some(id), None, &attrs).is_empty()
        {
            store.write_attributes(id, attrs, now)?;
        }
    } else if contact.is_none()
        && switches.events_create_contacts
        && (email.is_some() || ext.is_some())
    {
        let id = store.new_contact(now);
        if let Some(e) = &email {
            store.set_email(id, e.clone(), now);
        }
        if let Some(x) = &ext {
            let mut a = std::collections::BTreeMap::new();
            a.insert("EXT_ID".to_owned(), Value::from(x.clone()));
            store.write_attributes(id, a, now)?;
        }
        contact = Some(id);
    }
    let id = store.events.len() as i64 + 1;
    let date = ev
        .get("event_date")
        .and_then(Value::as_str)
        .map_or_else(|| format_time(st.clock.wall(now)), str::to_owned);
    store.events.push(StoredEvent {
        id,
        event_name: ev
            .get("event_name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        contact_id: contact,
        identifiers: ids,
        event_date: date,
        contact_properties: ev.get("contact_properties").cloned().unwrap_or(Value::Null),
        event_properties: ev.get("event_properties").cloned().unwrap_or(Value::Null),
        object: ev.get("object").cloned().unwrap_or(Value::Null),
        via: via.to_owned(),
    });
    Ok(())
}

/// `POST /events` → 204.
async fn create_event(State(st): State<BrevoShared>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let v = json_body(&headers, &body)?;
    let ev = validate(&v).map_err(bad)?;
    record(&st, ev, "single")?;
    Ok(no_content())
}

/// `POST /events/batch`: `{"events":[...]}` or a bare array (docs/brevo-api-notes.md §4.2,
/// the shape is UNCERTAIN so both are taken). All valid → 202 `{message, count}`; some
/// invalid → 207 with the failures; none valid → 400.
async fn create_batch(State(st): State<BrevoShared>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let v = json_body(&headers, &body)?;
    let items = match v {
        Value::Array(a) => a,
        Value::Object(mut o) => match o.remove("events") {
            Some(Value::Array(a)) => a,
            _ => return Err(BrevoError::missing("events should be a non-empty array")),
        },
        _ => {
            return Err(BrevoError::invalid(
                "The body must be an array of events or {\"events\": [...]}",
            ));
        }
    };
    if items.is_empty() {
        return Err(BrevoError::missing("events should be a non-empty array"));
    }
    let mut failures = Vec::new();
    let mut accepted = 0usize;
    for (i, item) in items.iter().enumerate() {
        match validate(item) {
            Ok(ev) => match record(&st, ev, "batch") {
                Ok(()) => accepted += 1,
                Err(e) => failures.push(json!({"index": i, "code": e.code, "message": e.message})),
            },
            Err(m) => failures.push(json!({"index": i, "code": "invalid_parameter", "message": m})),
        }
    }
    if accepted == 0 {
        let first = failures
            .first()
            .and_then(|f| f.get("message"))
            .and_then(Value::as_str)
            .unwrap_or("no valid event")
            .to_owned();
        return Err(BrevoError::invalid(format!(
            "No event of the batch is valid; the first: {first}"
        )));
    }
    if failures.is_empty() {
        return Ok(json_status(
            StatusCode::ACCEPTED,
            json!({"message": "Events queued for processing", "count": accepted}),
        ));
    }
    Ok(json_status(
        StatusCode::MULTI_STATUS,
        json!({"message": "Some events were invalid", "count": accepted, "errors": failures}),
    ))
}

/// `GET /events` (docs/brevo-api-notes.md §4.2): limit ≤10000, default 100.
async fn list_events(State(st): State<BrevoShared>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref());
    let (limit, offset, asc) = (q.limit(100, 10_000)?, q.offset()?, q.ascending()?);
    let contact_ids: Vec<i64> = q
        .all("contact_id")
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect();
    let names = q.all("event_name");
    let object_types = q.all("object_type");
    let parse = |name: &str| -> Result<Option<chrono::DateTime<chrono::Utc>>, BrevoError> {
        match q.get(name) {
            None | Some("") => Ok(None),
            Some(v) => parse_time(v).map(Some).ok_or_else(|| {
                BrevoError::invalid(format!("{name} must be YYYY-MM-DD or RFC 3339"))
            }),
        }
    };
    let (start, end) = (parse("startDate")?, parse("endDate")?);
    let store = st.store.lock();
    let matching: Vec<Value> = store
        .events
        .iter()
        .filter(|e| {
            contact_ids.is_empty() || e.contact_id.is_some_and(|c| contact_ids.contains(&c))
        })
        .filter(|e| names.is_empty() || names.contains(&e.event_name))
        .filter(|e| {
            object_types.is_empty()
                || e.object
                    .get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| object_types.iter().any(|o| o == t))
        })
        .filter(|e| {
            let t = parse_time(&e.event_date);
            start.is_none_or(|s| t.is_some_and(|t| t >= s))
                && end.is_none_or(|s| t.is_some_and(|t| t <= s + chrono::Duration::days(1)))
        })
        .map(|e| {
            json!({
                "event_name": e.event_name,
                "contact_id": e.contact_id,
                "identifiers": e.identifiers,
                "event_date": e.event_date,
                "event_properties": e.event_properties,
                "contact_properties": e.contact_properties,
                "object": e.object,
            })
        })
        .collect();
    Ok(json_status(
        StatusCode::OK,
        json!({"events": super::util::page(&matching, asc, offset, limit), "count": matching.len()}),
    ))
}
