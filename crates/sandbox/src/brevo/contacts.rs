//! Contacts (docs/brevo-api-notes.md §1): create/upsert, one contact by any identifier,
//! the filtered listing, the deprecated batch update, the asynchronous import and the
//! processes that report on it, plus `GET /account` (§6).

use std::time::Duration;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::error::{ApiResult, BrevoError, json_status, no_content};
use super::server::BrevoShared;
use super::store::{ImportJob, ImportRow, OWNER_EMAIL, Store};
use super::util::{Query, is_email, json_object, normalise_email, normalise_phone, page};

pub fn routes() -> Router<BrevoShared> {
    Router::new()
        .route("/v3/account", get(account))
        .route("/v3/contacts", get(list_contacts).post(create_contact))
        .route("/v3/contacts/batch", post(batch_update))
        .route("/v3/contacts/import", post(import))
        .route(
            "/v3/contacts/{identifier}",
            get(get_contact).put(update_contact).delete(delete_contact),
        )
        .route("/v3/processes", get(list_processes))
        .route("/v3/processes/{id}", get(get_process))
}

/// How long an import waits in the queue and then runs, before scaling
/// (docs/brevo-api-notes.md §1.6).
const IMPORT_QUEUED: Duration = Duration::from_secs(2);
const IMPORT_RUNS: Duration = Duration::from_secs(5);
/// The body forms of an import are capped at 10 MB.
const IMPORT_MAX_BYTES: usize = 10 * 1024 * 1024;

/// `GET /account`: a fixed document (docs/brevo-api-notes.md §6).
async fn account() -> ApiResult {
    Ok(json_status(
        StatusCode::OK,
        json!({
            "email": OWNER_EMAIL,
            "firstName": "Sandbox",
            "lastName": "Owner",
            "companyName": "Brevo Sandbox",
            "address": {"city": "Paris", "street": "1 rue de l'Emulateur", "zipCode": "75001", "country": "France"},
            "plan": [{"type": "free", "creditsType": "sendLimit", "credits": 300, "startDate": "2026-01-01", "endDate": "2026-12-31"}],
            "relay": {"enabled": true, "data": {"userName": "sandbox@smtp-brevo.test", "relay": "smtp-relay.brevo-sandbox.test", "port": 587}},
            "marketingAutomation": {"enabled": true, "key": "sandbox-ma-key"},
            "organization_id": "sandbox-org",
            "user_id": 1,
            "enterprise": false,
            "dateTimePreferences": {"timezone": "Europe/Paris", "timeFormat": "HH:mm", "dateFormat": "dd-mm-yyyy"}
        }),
    ))
}

// ---- parsing helpers ----

/// `listIds`-like fields: a JSON array of numbers, else 400 with Brevo's wording
/// (docs/brevo-api-notes.md §0.3).
pub fn id_array(body: &Map<String, Value>, field: &str) -> Result<Vec<i64>, BrevoError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_i64().ok_or_else(|| {
                    BrevoError::invalid(format!("{field}/{i} should be type number"))
                })
            })
            .collect(),
        Some(_) => Err(BrevoError::invalid(format!("{field} should be type array"))),
    }
}

fn opt_bool(body: &Map<String, Value>, field: &str) -> Result<Option<bool>, BrevoError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(BrevoError::invalid(format!(
            "{field} should be type boolean"
        ))),
    }
}

fn attributes_of(body: &Map<String, Value>) -> Result<Map<String, Value>, BrevoError> {
    match body.get("attributes") {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(_) => Err(BrevoError::invalid("attributes should be type object")),
    }
}

fn email_field(body: &Map<String, Value>) -> Result<Option<String>, BrevoError> {
    match body.get("email") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let e = normalise_email(s);
            if is_email(&e) {
                Ok(Some(e))
            } else {
                Err(BrevoError::invalid(format!(
                    "Invalid email address {s:?}; give a full address like name@example.com"
                )))
            }
        }
        Some(_) => Err(BrevoError::invalid("email should be type string")),
    }
}

fn ext_id_field(body: &Map<String, Value>) -> Result<Option<String>, BrevoError> {
    match body.get("ext_id") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(BrevoError::invalid("ext_id should be a non-empty string")),
    }
}

fn string_array(body: &Map<String, Value>, field: &str) -> Result<Vec<String>, BrevoError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    BrevoError::invalid(format!("{field} should be an array of strings"))
                })
            })
            .collect(),
        Some(_) => Err(BrevoError::invalid(format!("{field} should be type array"))),
    }
}

/// Finds a contact by identifier (docs/brevo-api-notes.md §1.3): with `identifierType`, by
/// that identifier only; without it, an email, then a contact id, then (on GET only) a
/// phone. An ext_id always needs its type.
pub fn resolve(
    store: &Store,
    ident: &str,
    kind: Option<&str>,
    allow_phone: bool,
) -> Result<i64, BrevoError> {
    let phone = |attr: &str| {
        normalise_phone(&Value::from(ident)).and_then(|p| store.find_by_attr(attr, &p))
    };
    let found = match kind {
        Some("email_id") => store.find_by_email(ident),
        Some("contact_id") => ident
            .parse::<i64>()
            .ok()
            .filter(|id| store.contacts.contains_key(id)),
        Some("ext_id") => store.find_by_attr("EXT_ID", ident),
        Some("phone_id") => phone("SMS"),
        Some("whatsapp_id") => phone("WHATSAPP"),
        Some("landline_number_id") => phone("LANDLINE_NUMBER"),
        Some(other) => {
            return Err(BrevoError::invalid(format!(
                "identifierType {other:?} is not one of email_id, contact_id, ext_id, phone_id, whatsapp_id, landline_number_id"
            )));
        }
        None => {
            if ident.contains('@') {
                store.find_by_email(ident)
            } else {
                ident
                    .parse::<i64>()
                    .ok()
                    .filter(|id| store.contacts.contains_key(id))
                    .or_else(|| if allow_phone { phone("SMS") } else { None })
            }
        }
    };
    found.ok_or_else(BrevoError::contact_not_found)
}

fn duplicate_message(verb: &str, clashes: &[&str]) -> String {
    let what = clashes.first().copied().unwrap_or("email");
    format!("Unable to {verb} contact, {what} is already associated with another Contact")
}

// ---- routes ----

/// `POST /contacts` (docs/brevo-api-notes.md §1.2).
async fn create_contact(
    State(st): State<BrevoShared>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let body = json_object(&headers, &body)?;
    let email = email_field(&body)?;
    let ext_id = ext_id_field(&body)?;
    let raw_attrs = attributes_of(&body)?;
    let list_ids = id_array(&body, "listIds")?;
    let email_bl = opt_bool(&body, "emailBlacklisted")?;
    let sms_bl = opt_bool(&body, "smsBlacklisted")?;
    let update_enabled = opt_bool(&body, "updateEnabled")?.unwrap_or(false);
    let smtp = string_array(&body, "smtpBlacklistSender")?;
    let now = st.clock.now();
    let hint = email.clone().or_else(|| ext_id.clone());
    let ctx = st.write_ctx("POST /v3/contacts", hint);
    let mut store = st.store.lock();
    let mut attrs = store.clean_attributes(&raw_attrs, &ctx)?;
    if let Some(x) = &ext_id {
        attrs.insert("EXT_ID".into(), Value::from(x.clone()));
    }
    // An EMAIL attribute stands in for a missing email field; otherwise it is ignored.
    let attr_email = attrs
        .remove("EMAIL")
        .and_then(|v| v.as_str().map(str::to_owned));
    let email = email.or(attr_email);
    let ext = attrs
        .get("EXT_ID")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let sms = attrs.get("SMS").and_then(Value::as_str).map(str::to_owned);
    if email.is_none() && ext.is_none() && sms.is_none() {
        return Err(BrevoError::missing(
            "A contact needs an email, an ext_id or attributes.SMS; give at least one",
        ));
    }
    store.check_lists(&list_ids)?;
    let existing = email
        .as_deref()
        .and_then(|e| store.find_by_email(e))
        .or_else(|| ext.as_deref().and_then(|x| store.find_by_attr("EXT_ID", x)))
        .or_else(|| sms.as_deref().and_then(|s| store.find_by_attr("SMS", s)));
    let target = if update_enabled { existing } else { None };
    let clashes = store.clashes(target, email.as_deref(), &attrs);
    if !clashes.is_empty() {
        return Err(BrevoError::duplicate(
            "duplicate_parameter",
            &duplicate_message("create", &clashes),
            &clashes,
        ));
    }
    let (id, created) = match target {
        Some(id) => (id, false),
        None => (store.new_contact(now), true),
    };
    if let Some(e) = email {
        store.set_email(id, e, now);
    }
    store.write_attributes(id, attrs, now)?;
    store.change_lists(id, &list_ids, &[], now);
    set_flags(&mut store, id, email_bl, sms_bl, now);
    if !smtp.is_empty()
        && let Some(c) = store.contacts.get_mut(&id)
    {
        c.smtp_blacklist_sender = smtp;
    }
    if created {
        Ok(json_status(StatusCode::CREATED, json!({ "id": id })))
    } else {
        Ok(no_content())
    }
}

fn set_flags(
    store: &mut Store,
    id: i64,
    email_bl: Option<bool>,
    sms_bl: Option<bool>,
    now: Duration,
) {
    if let Some(c) = store.contacts.get_mut(&id) {
        let mut changed = false;
        if let Some(b) = email_bl {
            changed |= c.email_blacklisted != b;
            c.email_blacklisted = b;
        }
        if let Some(b) = sms_bl {
            changed |= c.sms_blacklisted != b;
            c.sms_blacklisted = b;
        }
        if changed {
            c.modified = now;
        }
    }
}

/// `GET /contacts/{identifier}`.
async fn get_contact(
    State(st): State<BrevoShared>,
    Path(ident): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let q = Query::parse(q.as_deref());
    let store = st.store.lock();
    let id = resolve(&store, &ident, q.get("identifierType"), true)?;
    let c = store
        .contacts
        .get(&id)
        .ok_or_else(BrevoError::contact_not_found)?;
    let mut v = c.to_json(&st.clock);
    if let Some(o) = v.as_object_mut() {
        o.insert("statistics".into(), json!({}));
    }
    Ok(json_status(StatusCode::OK, v))
}

/// `PUT /contacts/{identifier}` (docs/brevo-api-notes.md §1.3).
async fn update_contact(
    State(st): State<BrevoShared>,
    Path(ident): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let q = Query::parse(q.as_deref());
    let body = json_object(&headers, &body)?;
    let raw_attrs = attributes_of(&body)?;
    let ext_id = ext_id_field(&body)?;
    let list_ids = id_array(&body, "listIds")?;
    let unlink = id_array(&body, "unlinkListIds")?;
    let email_bl = opt_bool(&body, "emailBlacklisted")?;
    let sms_bl = opt_bool(&body, "smsBlacklisted")?;
    let now = st.clock.now();
    let mut store = st.store.lock();
    let id = resolve(&store, &ident, q.get("identifierType"), false)?;
    let ctx = st.write_ctx("PUT /v3/contacts/{identifier}", Some(id.to_string()));
    let mut attrs = store.clean_attributes(&raw_attrs, &ctx)?;
    if let Some(x) = ext_id {
        attrs.insert("EXT_ID".into(), Value::from(x));
    }
    let new_email = attrs
        .remove("EMAIL")
        .and_then(|v| v.as_str().map(str::to_owned));
    let clashes = store.clashes(Some(id), new_email.as_deref(), &attrs);
    if !clashes.is_empty() {
        // docs/brevo-api-notes.md §0.3: PUT clashes answer invalid_parameter since 2026.
        return Err(BrevoError::duplicate(
            "invalid_parameter",
            &duplicate_message("update", &clashes),
            &clashes,
        ));
    }
    store.check_lists(&list_ids)?;
    store.check_lists(&unlink)?;
    if let Some(e) = new_email {
        store.set_email(id, e, now);
    }
    store.write_attributes(id, attrs, now)?;
    store.change_lists(id, &list_ids, &unlink, now);
    set_flags(&mut store, id, email_bl, sms_bl, now);
    Ok(no_content())
}

/// `DELETE /contacts/{identifier}`.
async fn delete_contact(
    State(st): State<BrevoShared>,
    Path(ident): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let q = Query::parse(q.as_deref());
    let mut store = st.store.lock();
    let id = resolve(&store, &ident, q.get("identifierType"), false)?;
    if store.contacts.get(&id).and_then(|c| c.email.as_deref()) == Some(OWNER_EMAIL) {
        return Err(BrevoError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "The account owner's own contact cannot be deleted",
        ));
    }
    store.remove_contact(id);
    Ok(no_content())
}

/// An `equals(ATTR, value)` filter (docs/brevo-api-notes.md §1.4).
fn parse_filter(f: &str) -> Result<(String, Value), BrevoError> {
    let bad = || {
        BrevoError::invalid(format!(
            "filter {f:?} is not equals(ATTRIBUTE,\"value\"); only equality filters exist"
        ))
    };
    let inner = f
        .trim()
        .strip_prefix("equals(")
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(bad)?;
    let (name, value) = inner.split_once(',').ok_or_else(bad)?;
    let value = value.trim();
    let v = if let Some(s) = value.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Value::from(s)
    } else if value == "true" || value == "false" {
        Value::Bool(value == "true")
    } else if let Ok(n) = value.parse::<f64>() {
        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
    } else {
        Value::from(value)
    };
    Ok((name.trim().to_owned(), v))
}

fn loosely_equal(stored: Option<&Value>, wanted: &Value) -> bool {
    match (stored, wanted) {
        (None, _) => false,
        (Some(Value::Number(a)), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Some(Value::Array(items)), w) => items.contains(w),
        (Some(a), b) => a == b,
    }
}

/// `GET /contacts` (docs/brevo-api-notes.md §1.4).
async fn list_contacts(State(st): State<BrevoShared>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref());
    let limit = q.limit(50, 1000)?;
    let offset = q.offset()?;
    let asc = q.ascending()?;
    let modified_since = q.since("modifiedSince")?;
    let created_since = q.since("createdSince")?;
    let list_ids: Vec<i64> = q
        .all("listIds")
        .iter()
        .map(|s| {
            s.parse()
                .map_err(|_| BrevoError::invalid(format!("listIds value {s:?} is not a number")))
        })
        .collect::<Result<_, _>>()?;
    let segment = q.get("segmentId").filter(|s| !s.is_empty());
    if segment.is_some() && !list_ids.is_empty() {
        return Err(BrevoError::invalid(
            "Give either segmentId or listIds, not both",
        ));
    }
    let filter = q
        .get("filter")
        .filter(|s| !s.is_empty())
        .map(parse_filter)
        .transpose()?;
    let store = st.store.lock();
    // A category attribute matches on its option's value or label
    // (docs/brevo-api-notes.md §1.4); labels are turned into the stored value.
    let filter = filter.map(|(name, v)| {
        let by_label = store
            .attribute(&name)
            .and_then(|a| a.enumeration.as_ref())
            .and_then(|opts| {
                opts.iter()
                    .find(|o| o.get("label").is_some_and(|l| *l == v))
                    .and_then(|o| o.get("value").cloned())
            });
        (name, by_label.unwrap_or(v))
    });
    let clock = &st.clock;
    let matching: Vec<&super::store::Contact> = store
        .contacts
        .values()
        .filter(|_| segment.is_none())
        .filter(|c| list_ids.iter().all(|l| c.list_ids.contains(l)) || list_ids.is_empty())
        .filter(|c| modified_since.is_none_or(|t| clock.wall(c.modified) >= t))
        .filter(|c| created_since.is_none_or(|t| clock.wall(c.created) >= t))
        .filter(|c| match &filter {
            None => true,
            Some((name, v)) if name == "EMAIL" => {
                c.email.as_deref().map(Value::from).as_ref() == Some(v)
            }
            Some((name, v)) => loosely_equal(c.attributes.get(name), v),
        })
        .collect();
    let count = matching.len();
    let contacts: Vec<Value> = page(&matching, asc, offset, limit)
        .into_iter()
        .map(|c| c.to_json(clock))
        .collect();
    Ok(json_status(
        StatusCode::OK,
        json!({ "contacts": contacts, "count": count }),
    ))
}

/// `POST /contacts/batch`: deprecated, all-or-nothing (docs/brevo-api-notes.md §1.5).
async fn batch_update(State(st): State<BrevoShared>, headers: HeaderMap, body: Bytes) -> ApiResult {
    if st.switches().contacts_batch_gone {
        // docs/brevo-api-notes.md §1.5: what Brevo sends after retirement is UNCERTAIN.
        return Err(BrevoError::new(
            StatusCode::GONE,
            "method_not_allowed",
            "POST /v3/contacts/batch was retired on 2026-10-30; use POST /v3/contacts/import or POST /v3/contacts with updateEnabled",
        ));
    }
    tracing::warn!(
        "POST /v3/contacts/batch is deprecated and stops on 2026-10-30; use POST /v3/contacts/import"
    );
    let body = json_object(&headers, &body)?;
    let Some(Value::Array(items)) = body.get("contacts") else {
        return Err(BrevoError::missing("contacts should be a non-empty array"));
    };
    if items.is_empty() {
        return Err(BrevoError::missing("contacts should be a non-empty array"));
    }
    let now = st.clock.now();
    let mut store = st.store.lock();
    store.contacts_batch_calls += 1;
    let mut targets = Vec::new();
    let mut missing = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(obj) = item.as_object() else {
            return Err(BrevoError::invalid(format!(
                "contacts/{i} should be type object"
            )));
        };
        let given: Vec<&str> = ["email", "id", "sms"]
            .into_iter()
            .filter(|k| obj.get(*k).is_some_and(|v| !v.is_null()))
            .collect();
        if given.len() != 1 {
            return Err(BrevoError::invalid(format!(
                "contacts/{i} must have exactly one of email, id or sms"
            )));
        }
        let found = match given[0] {
            "email" => obj
                .get("email")
                .and_then(Value::as_str)
                .and_then(|e| store.find_by_email(e)),
            "id" => obj
                .get("id")
                .and_then(Value::as_i64)
                .filter(|id| store.contacts.contains_key(id)),
            _ => obj
                .get("sms")
                .and_then(normalise_phone)
                .and_then(|p| store.find_by_attr("SMS", &p)),
        };
        match found {
            Some(id) => targets.push((id, obj.clone())),
            None => missing.push(i.to_string()),
        }
    }
    if !missing.is_empty() {
        return Err(BrevoError::not_found(format!(
            "No contact found for indexes {}",
            missing.join(",")
        )));
    }
    // Validate everything before the first write: one bad entry fails the whole batch.
    let mut plan = Vec::new();
    for (id, obj) in targets {
        let ctx = st.write_ctx("POST /v3/contacts/batch", Some(id.to_string()));
        let mut attrs = store.clean_attributes(&attributes_of(&obj)?, &ctx)?;
        if let Some(x) = ext_id_field(&obj)? {
            attrs.insert("EXT_ID".into(), Value::from(x));
        }
        let email = attrs
            .remove("EMAIL")
            .and_then(|v| v.as_str().map(str::to_owned));
        let clashes = store.clashes(Some(id), email.as_deref(), &attrs);
        if !clashes.is_empty() {
            return Err(BrevoError::duplicate(
                "invalid_parameter",
                &duplicate_message("update", &clashes),
                &clashes,
            ));
        }
        let add = id_array(&obj, "listIds")?;
        let remove = id_array(&obj, "unlinkListIds")?;
        store.check_lists(&add)?;
        store.check_lists(&remove)?;
        let flags = (
            opt_bool(&obj, "emailBlacklisted")?,
            opt_bool(&obj, "smsBlacklisted")?,
        );
        plan.push((id, attrs, email, add, remove, flags));
    }
    for (id, attrs, email, add, remove, (ebl, sbl)) in plan {
        if let Some(e) = email {
            store.set_email(id, e, now);
        }
        store.write_attributes(id, attrs, now)?;
        store.change_lists(id, &add, &remove, now);
        set_flags(&mut store, id, ebl, sbl, now);
    }
    Ok(no_content())
}

/// Rows of a `fileBody`: CSV with `;` separators and a header of attribute names.
fn csv_rows(text: &str) -> Result<Vec<ImportRow>, BrevoError> {
    let mut lines = text
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty());
    let header: Vec<String> = lines
        .next()
        .ok_or_else(|| {
            BrevoError::invalid(
                "fileBody has no header row; the first line names the attributes, separated by ;",
            )
        })?
        .split(';')
        .map(|h| h.trim().to_owned())
        .collect();
    let mut rows = Vec::new();
    for line in lines {
        let mut row = ImportRow {
            email: None,
            attributes: Map::new(),
        };
        for (name, cell) in header.iter().zip(line.split(';')) {
            let cell = cell.trim().to_owned();
            if name.eq_ignore_ascii_case("EMAIL") {
                row.email = Some(cell);
            } else {
                row.attributes.insert(name.clone(), Value::from(cell));
            }
        }
        rows.push(row);
    }
    Ok(rows)
}

/// Rows of a `jsonBody`: `[{email, attributes}]`.
fn json_rows(items: &[Value]) -> Result<Vec<ImportRow>, BrevoError> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let o = item.as_object().ok_or_else(|| {
                BrevoError::invalid(format!("jsonBody/{i} should be type object"))
            })?;
            Ok(ImportRow {
                email: o.get("email").and_then(Value::as_str).map(str::to_owned),
                attributes: attributes_of(o)?,
            })
        })
        .collect()
}

/// Fetches an import file from a loopback URL, capped at 10 MB.
async fn download(st: &BrevoShared, url: &str) -> Result<String, String> {
    if !super::server::is_loopback(url) {
        return Err(format!(
            "The emulator downloads fileUrl only from loopback addresses; {url} is not one. Send fileBody or jsonBody"
        ));
    }
    let resp = st
        .http
        .get(url)
        .timeout(std::time::Duration::from_secs(30))
        .send()
        .await
        .map_err(|e| format!("fileUrl could not be downloaded: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("fileUrl answered {}", resp.status()));
    }
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| format!("fileUrl could not be read: {e}"))?;
    if bytes.len() > IMPORT_MAX_BYTES {
        return Err("The file at fileUrl is larger than the emulator's 10 MB cap".to_owned());
    }
    String::from_utf8(bytes.to_vec())
        .map_err(|_| "The file at fileUrl is not UTF-8 text".to_owned())
}

/// `POST /contacts/import` (docs/brevo-api-notes.md §1.6): 202 and a process that runs on
/// the emulator clock.
async fn import(State(st): State<BrevoShared>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let body = json_object(&headers, &body)?;
    let sources: Vec<&str> = ["fileUrl", "fileBody", "jsonBody"]
        .into_iter()
        .filter(|k| body.get(*k).is_some_and(|v| !v.is_null()))
        .collect();
    if sources.len() != 1 {
        return Err(BrevoError::invalid(
            "Give exactly one of fileUrl, fileBody or jsonBody",
        ));
    }
    let mut rows = Vec::new();
    let mut error = None;
    match sources[0] {
        "fileBody" => {
            let text = body
                .get("fileBody")
                .and_then(Value::as_str)
                .ok_or_else(|| BrevoError::invalid("fileBody should be type string"))?;
            if text.len() > IMPORT_MAX_BYTES {
                return Err(BrevoError::invalid(
                    "fileBody is larger than 10 MB; split the import or use fileUrl",
                ));
            }
            rows = csv_rows(text)?;
        }
        "jsonBody" => {
            let Some(Value::Array(items)) = body.get("jsonBody") else {
                return Err(BrevoError::invalid("jsonBody should be type array"));
            };
            if serde_json::to_vec(items).map_or(0, |v| v.len()) > IMPORT_MAX_BYTES {
                return Err(BrevoError::invalid(
                    "jsonBody is larger than 10 MB; split the import or use fileUrl",
                ));
            }
            rows = json_rows(items)?;
        }
        _ => {
            // docs/brevo-api-notes.md §1.6: the emulator downloads a fileUrl only from
            // loopback (a test's own file server); any other URL fails the process.
            let url = body
                .get("fileUrl")
                .and_then(Value::as_str)
                .ok_or_else(|| BrevoError::invalid("fileUrl should be type string"))?;
            match download(&st, url).await {
                Ok(text) if url.to_ascii_lowercase().ends_with(".json") => {
                    match serde_json::from_str::<Value>(&text) {
                        Ok(Value::Array(items)) => rows = json_rows(&items)?,
                        _ => {
                            error = Some(
                                "The file at fileUrl is not a JSON array of {email, attributes}"
                                    .to_owned(),
                            )
                        }
                    }
                }
                Ok(text) => rows = csv_rows(&text)?,
                Err(e) => error = Some(e),
            }
        }
    }
    let list_ids = id_array(&body, "listIds")?;
    let new_list = match body.get("newList") {
        None | Some(Value::Null) => None,
        Some(Value::Object(o)) => {
            let name = o
                .get("listName")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| BrevoError::missing("newList.listName is missing"))?;
            let folder = o.get("folderId").and_then(Value::as_i64).ok_or_else(|| {
                BrevoError::missing("newList.folderId is mandatory with a list name")
            })?;
            Some((name.to_owned(), folder))
        }
        Some(_) => return Err(BrevoError::invalid("newList should be type object")),
    };
    if list_ids.is_empty() && new_list.is_none() {
        return Err(BrevoError::missing(
            "Give listIds or newList: an import adds its contacts to lists",
        ));
    }
    let notify_url = body
        .get("notifyUrl")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let job = ImportJob {
        rows,
        list_ids: Vec::new(),
        email_blacklist: opt_bool(&body, "emailBlacklist")?.unwrap_or(false),
        sms_blacklist: opt_bool(&body, "smsBlacklist")?.unwrap_or(false),
        update_existing: opt_bool(&body, "updateExistingContacts")?.unwrap_or(true),
        empty_attributes: opt_bool(&body, "emptyContactsAttributes")?.unwrap_or(false),
    };
    let now = st.clock.now();
    let (queued, runs) = (st.scaled(IMPORT_QUEUED), st.scaled(IMPORT_RUNS));
    let mut store = st.store.lock();
    store.check_lists(&list_ids)?;
    let mut lists = list_ids;
    if let Some((name, folder)) = new_list {
        if !store.folders.contains_key(&folder) {
            return Err(BrevoError::invalid(format!(
                "Folder id {folder} does not exist; create the folder first"
            )));
        }
        lists.push(store.add_list(name, folder, now));
    }
    let pid = store.add_process("IMPORTUSER", now, queued, runs);
    if let Some(p) = store.processes.get_mut(&pid) {
        p.job = Some(ImportJob {
            list_ids: lists,
            ..job
        });
        p.error = error;
        p.notify_url = notify_url;
    }
    Ok(json_status(
        StatusCode::ACCEPTED,
        json!({ "processId": pid }),
    ))
}

/// `GET /processes/{id}` (docs/brevo-api-notes.md §1.7).
async fn get_process(State(st): State<BrevoShared>, Path(id): Path<String>) -> ApiResult {
    let invalid = || {
        BrevoError::new(
            StatusCode::NOT_FOUND,
            "invalid_parameter",
            "processId is invalid",
        )
    };
    let id: i64 = id.parse().map_err(|_| invalid())?;
    let store = st.store.lock();
    let p = store.processes.get(&id).ok_or_else(invalid)?;
    Ok(json_status(StatusCode::OK, p.to_json(&st.clock)))
}

/// `GET /processes` (limit ≤50).
async fn list_processes(State(st): State<BrevoShared>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref());
    let limit = q.limit(10, 50)?;
    let offset = q.offset()?;
    let asc = q.ascending()?;
    let store = st.store.lock();
    let all: Vec<Value> = store
        .processes
        .values()
        .map(|p| p.to_json(&st.clock))
        .collect();
    Ok(json_status(
        StatusCode::OK,
        json!({ "processes": page(&all, asc, offset, limit), "count": all.len() }),
    ))
}
