//! V3 newsletter subscribers (`/v3/customers/subscribers`, docs/api-notes.md §2.4): list
//! with the documented filters (`email`, `first_name`, `last_name`, `source`, `order_id`,
//! `id:in`, created and modified date ranges), create, get, update and delete by id, and
//! delete by the same filters, where **no filter deletes every subscriber** as the real
//! store does.
//!
//! The list has no documented `sort`: it comes in id order, so a client reads it whole
//! (bcsync's `subscribers` stream is a full-table stream for that reason). An email is
//! unique per channel; a second subscriber with it is 409. Consents are a list of
//! `marketing_newsletter` / `abandoned_cart`. Every write goes through the mutation path
//! and fires `store/subscriber/*` (docs/api-notes.md §9.3).

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};

use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult, ApiVersion};
use crate::mutation::Record;
use crate::paging;
use crate::query::Query;
use crate::resources::customers::check::DateRange;
use crate::resources::orders::path_id;
use crate::seed::SeedSpec;
use crate::state::{Shared, StoreData};

const V: ApiVersion = ApiVersion::V3;
const MAX_LIMIT: u32 = 250;
/// The consents a subscriber may give (docs/api-notes.md §2.4).
const CONSENTS: &[&str] = &["marketing_newsletter", "abandoned_cart"];
const SOURCES: &[&str] = &["storefront", "order", "custom", "checkout"];

#[derive(Debug, Clone)]
pub struct Subscriber {
    pub id: i64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub source: String,
    pub order_id: Option<i64>,
    pub channel_id: i64,
    pub consents: Vec<String>,
    pub date_created: DateTime<Utc>,
    pub date_modified: DateTime<Utc>,
}

/// Every subscriber, by id.
#[derive(Debug, Default)]
pub struct SubscribersData {
    pub(crate) subscribers: BTreeMap<i64, Subscriber>,
    last_id: i64,
}

impl SubscribersData {
    pub fn counts(&self, m: &mut Map<String, Value>) {
        m.insert("subscribers".into(), self.subscribers.len().into());
    }

    fn next_id(&mut self) -> i64 {
        self.last_id += 1;
        self.last_id
    }

    /// Another subscriber than `except` with this email on this channel.
    fn clash(&self, email: &str, channel_id: i64, except: Option<i64>) -> Option<i64> {
        self.subscribers
            .values()
            .find(|s| {
                Some(s.id) != except
                    && s.channel_id == channel_id
                    && s.email.eq_ignore_ascii_case(email)
            })
            .map(|s| s.id)
    }
}

pub fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/v3/customers/subscribers",
            get(list).post(create).delete(delete_many),
        )
        .route(
            "/v3/customers/subscribers/{subscriber_id}",
            get(get_one).put(update).delete(delete_one),
        )
}

pub fn render(s: &Subscriber) -> Value {
    json!({
        "id": s.id,
        "email": s.email,
        "first_name": s.first_name,
        "last_name": s.last_name,
        "source": s.source,
        "order_id": s.order_id,
        "channel_id": s.channel_id,
        "consents": s.consents,
        "date_created": crate::dates::iso(s.date_created),
        "date_modified": crate::dates::iso(s.date_modified),
    })
}

fn not_found() -> ApiError {
    ApiError::not_found(V)
}

/// The list (and delete) filters of docs/api-notes.md §2.4.
struct Filter {
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    source: Option<String>,
    order_id: Option<i64>,
    ids: Option<Vec<i64>>,
    created: DateRange,
    modified: DateRange,
}

impl Filter {
    fn parse(q: &Query) -> Result<Self, ApiError> {
        let text = |k: &str| q.get(k).filter(|s| !s.is_empty()).map(str::to_owned);
        Ok(Self {
            email: text("email"),
            first_name: text("first_name"),
            last_name: text("last_name"),
            source: text("source"),
            order_id: q.int("order_id")?,
            ids: q.int_list("id:in")?,
            created: DateRange::parse(q, "date_created")?,
            modified: DateRange::parse(q, "date_modified")?,
        })
    }

    fn is_empty(&self) -> bool {
        self.email.is_none()
            && self.first_name.is_none()
            && self.last_name.is_none()
            && self.source.is_none()
            && self.order_id.is_none()
            && self.ids.is_none()
            && self.created.is_open()
            && self.modified.is_open()
    }

    fn matches(&self, s: &Subscriber) -> bool {
        self.email
            .as_deref()
            .is_none_or(|e| s.email.eq_ignore_ascii_case(e))
            && self.first_name.as_deref().is_none_or(|n| s.first_name == n)
            && self.last_name.as_deref().is_none_or(|n| s.last_name == n)
            && self.source.as_deref().is_none_or(|x| s.source == x)
            && self.order_id.is_none_or(|o| s.order_id == Some(o))
            && self.ids.as_ref().is_none_or(|ids| ids.contains(&s.id))
            && self.created.contains(s.date_created)
            && self.modified.contains(s.date_modified)
    }
}

/// `GET /v3/customers/subscribers`: id order, offset pages.
async fn list(State(st): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V);
    let (page, limit) = q.page_limit(MAX_LIMIT)?;
    let filter = Filter::parse(&q)?;
    let data = st.data.read();
    let matching: Vec<&Subscriber> = data
        .subscribers
        .subscribers
        .values()
        .filter(|s| filter.matches(s))
        .collect();
    Ok(paging::v3_offset(&matching, page, limit, &q, |s| render(s)))
}

async fn get_one(State(st): State<Shared>, Path(p): Path<Vec<(String, String)>>) -> ApiResult {
    let id = path_id(&p, "subscriber_id", V)?;
    let data = st.data.read();
    let s = data
        .subscribers
        .subscribers
        .get(&id)
        .ok_or_else(not_found)?;
    Ok(paging::v3_single(render(s)))
}

/// The writable fields of a create (onto defaults) or an update (onto the record).
fn apply(body: &Value, s: &mut Subscriber, creating: bool) -> Result<(), ApiError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ApiError::unprocessable(V, "The subscriber must be a JSON object."))?;
    let mut errors = Map::new();
    let text =
        |field: &str, max: usize, out: &mut String, errors: &mut Map<String, Value>| match obj
            .get(field)
        {
            None | Some(Value::Null) => {}
            Some(Value::String(v)) if v.chars().count() <= max => v.trim().clone_into(out),
            Some(_) => {
                errors.insert(
                    field.to_owned(),
                    format!("{field} must be a string of at most {max} characters").into(),
                );
            }
        };
    text("email", 255, &mut s.email, &mut errors);
    text("first_name", 255, &mut s.first_name, &mut errors);
    text("last_name", 255, &mut s.last_name, &mut errors);
    text("source", 255, &mut s.source, &mut errors);
    if creating && s.email.is_empty() {
        errors.insert("email".into(), "email is required".into());
    } else if !s.email.contains('@') || s.email.starts_with('@') || s.email.ends_with('@') {
        errors.insert("email".into(), "email must be an email address".into());
    }
    match obj.get("order_id") {
        None => {}
        Some(Value::Null) => s.order_id = None,
        Some(v) => match v.as_i64() {
            Some(n) if n > 0 => s.order_id = Some(n),
            _ => {
                errors.insert(
                    "order_id".into(),
                    "order_id must be a positive integer".into(),
                );
            }
        },
    }
    match obj.get("channel_id") {
        None | Some(Value::Null) => {}
        Some(v) => match v.as_i64() {
            Some(n) if n > 0 && creating => s.channel_id = n,
            Some(n) if n == s.channel_id => {}
            Some(_) if !creating => {
                errors.insert(
                    "channel_id".into(),
                    "the origin channel of a subscriber cannot change".into(),
                );
            }
            _ => {
                errors.insert(
                    "channel_id".into(),
                    "channel_id must be a positive integer".into(),
                );
            }
        },
    }
    match obj.get("consents") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            let mut consents = Vec::new();
            for c in items {
                match c.as_str().filter(|c| CONSENTS.contains(c)) {
                    Some(c) if !consents.iter().any(|x| x == c) => consents.push(c.to_owned()),
                    Some(_) => {}
                    None => {
                        errors.insert(
                            "consents".into(),
                            format!("consents must be among: {}", CONSENTS.join(", ")).into(),
                        );
                    }
                }
            }
            s.consents = consents;
        }
        Some(_) => {
            errors.insert("consents".into(), "consents must be an array".into());
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::unprocessable(V, "The subscriber is not valid.").with_errors(errors))
    }
}

fn conflict(email: &str, other: i64) -> ApiError {
    ApiError::conflict(
        V,
        format!(
            "A subscriber with the email {email:?} already exists on this channel (id {other})."
        ),
    )
}

/// `POST /v3/customers/subscribers`: one subscriber; origin channel 1 by default.
async fn create(State(st): State<Shared>, JsonBody(body): JsonBody) -> ApiResult {
    let out = st.write(|tx| {
        let now = tx.now;
        let mut s = Subscriber {
            id: 0,
            email: String::new(),
            first_name: String::new(),
            last_name: String::new(),
            source: "custom".to_owned(),
            order_id: None,
            channel_id: 1,
            consents: Vec::new(),
            date_created: now,
            date_modified: now,
        };
        apply(&body, &mut s, true)?;
        let data = &mut tx.data.subscribers;
        if let Some(other) = data.clash(&s.email, s.channel_id, None) {
            return Err(conflict(&s.email, other));
        }
        s.id = data.next_id();
        let rendered = render(&s);
        data.subscribers.insert(s.id, s.clone());
        tx.created(Record::Subscriber(s.id));
        Ok(rendered)
    })?;
    Ok(paging::v3_single(out))
}

/// `PUT /v3/customers/subscribers/{id}`: a partial update.
async fn update(
    State(st): State<Shared>,
    Path(p): Path<Vec<(String, String)>>,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let id = path_id(&p, "subscriber_id", V)?;
    let out = st.write(|tx| {
        let mut s = tx
            .data
            .subscribers
            .subscribers
            .get(&id)
            .cloned()
            .ok_or_else(not_found)?;
        apply(&body, &mut s, false)?;
        if let Some(other) = tx.data.subscribers.clash(&s.email, s.channel_id, Some(id)) {
            return Err(conflict(&s.email, other));
        }
        tx.updated(Record::Subscriber(id));
        s.date_modified = tx.now;
        let rendered = render(&s);
        tx.data.subscribers.subscribers.insert(id, s);
        Ok(rendered)
    })?;
    Ok(paging::v3_single(out))
}

async fn delete_one(State(st): State<Shared>, Path(p): Path<Vec<(String, String)>>) -> ApiResult {
    let id = path_id(&p, "subscriber_id", V)?;
    st.write(|tx| {
        if !tx.data.subscribers.subscribers.contains_key(&id) {
            return Err(not_found());
        }
        tx.deleted(Record::Subscriber(id));
        tx.data.subscribers.subscribers.remove(&id);
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /v3/customers/subscribers?...`: deletes what the filters match; with no filter,
/// every subscriber (docs/api-notes.md §2.4).
async fn delete_many(State(st): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V);
    let filter = Filter::parse(&q)?;
    st.write(|tx| {
        let doomed: Vec<i64> = tx
            .data
            .subscribers
            .subscribers
            .values()
            .filter(|s| filter.is_empty() || filter.matches(s))
            .map(|s| s.id)
            .collect();
        for id in doomed {
            tx.deleted(Record::Subscriber(id));
            tx.data.subscribers.subscribers.remove(&id);
        }
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// One subscriber per five customers, the first of them with that customer's email (a
/// customer who also subscribed), deterministic from the spec alone.
pub fn seed(data: &mut StoreData, spec: &SeedSpec, now: DateTime<Utc>) {
    let count = spec.customers / 5;
    let history = spec.history_days.max(1) * 86_400;
    let emails: Vec<String> = data
        .customers
        .customers
        .values()
        .step_by(10)
        .map(|c| c.email.clone())
        .collect();
    let subs = &mut data.subscribers;
    for i in 0..count {
        let id = subs.next_id();
        let age = (id * 7_919) % history;
        let created = now - Duration::seconds(age);
        let modified = created + Duration::seconds((id * 104_729) % (age + 1));
        let email = emails
            .get(i)
            .cloned()
            .unwrap_or_else(|| format!("subscriber{id}@example.com"));
        let consents = match id % 3 {
            0 => vec!["marketing_newsletter".to_owned()],
            1 => vec![
                "marketing_newsletter".to_owned(),
                "abandoned_cart".to_owned(),
            ],
            _ => Vec::new(),
        };
        subs.subscribers.insert(
            id,
            Subscriber {
                id,
                email,
                first_name: format!("Reader{id}"),
                last_name: "Subscriber".to_owned(),
                source: SOURCES[(id as usize) % SOURCES.len()].to_owned(),
                order_id: None,
                channel_id: 1,
                consents,
                date_created: created,
                date_modified: modified,
            },
        );
    }
}
