//! V3 content pages (`/v3/content/pages`, docs/api-notes.md §14): list with `channel_id`,
//! `id:in`, `name`, `name:like` (name or body) and `include=body`, create one or many,
//! update one or many, get, delete one, and delete by `id:in` (required; unknown ids are a
//! 404 after the known ones are deleted, as the real store does).
//!
//! A page's `body` is left out of lists and reads unless `include=body` asks for it.
//! Names are unique per channel; `raw` pages need a body, `link` pages a link, `feed`
//! pages a feed; `blog` pages cannot be created through the API. No webhook scope covers
//! pages, so writes are [`Record::Unannounced`].

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Map, Value, json};

use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult, ApiVersion};
use crate::mutation::Record;
use crate::paging;
use crate::query::{Query, like};
use crate::resources::catalog::input::Input;
use crate::resources::orders::path_id;
use crate::seed::SeedSpec;
use crate::state::{Shared, StoreData};

const V: ApiVersion = ApiVersion::V3;
const MAX_LIMIT: u32 = 250;
/// Page types (docs/api-notes.md §14); `blog` is read-only.
const TYPES: &[&str] = &["page", "raw", "contact_form", "feed", "link", "blog"];
/// Pages per write: the docs give no limit; this one only bounds a request.
const MAX_BATCH: usize = 50;

#[derive(Debug, Clone, Default)]
pub struct Page {
    pub id: i64,
    pub channel_id: i64,
    pub name: String,
    pub is_visible: bool,
    pub parent_id: i64,
    pub sort_order: i64,
    pub page_type: &'static str,
    pub is_homepage: bool,
    pub is_customers_only: bool,
    pub meta_title: String,
    pub meta_keywords: String,
    pub meta_description: String,
    pub search_keywords: String,
    pub url: String,
    pub body: String,
    pub email: String,
    pub contact_fields: String,
    pub link: String,
    pub feed: String,
}

/// Every page, by id.
#[derive(Debug, Default)]
pub struct PagesData {
    pub(crate) pages: BTreeMap<i64, Page>,
    last_id: i64,
}

impl PagesData {
    pub fn counts(&self, m: &mut Map<String, Value>) {
        m.insert("pages".into(), self.pages.len().into());
    }

    fn next_id(&mut self) -> i64 {
        self.last_id += 1;
        self.last_id
    }
}

pub fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/v3/content/pages",
            get(list).post(create).put(update_many).delete(delete_many),
        )
        .route(
            "/v3/content/pages/{page_id}",
            get(get_one).put(update_one).delete(delete_one),
        )
}

/// The page as the API renders it: type-specific fields only on their type, `body` only
/// when asked for.
pub fn render(p: &Page, with_body: bool) -> Value {
    let mut v = json!({
        "id": p.id,
        "channel_id": p.channel_id,
        "name": p.name,
        "is_visible": p.is_visible,
        "parent_id": p.parent_id,
        "sort_order": p.sort_order,
        "type": p.page_type,
        "is_homepage": p.is_homepage,
        "is_customers_only": p.is_customers_only,
        "meta_title": p.meta_title,
        "meta_keywords": p.meta_keywords,
        "meta_description": p.meta_description,
        "search_keywords": p.search_keywords,
        "url": p.url,
    });
    if let Some(obj) = v.as_object_mut() {
        match p.page_type {
            "contact_form" => {
                obj.insert("email".into(), p.email.clone().into());
                obj.insert("contact_fields".into(), p.contact_fields.clone().into());
            }
            "link" => {
                obj.insert("link".into(), p.link.clone().into());
            }
            "feed" => {
                obj.insert("feed".into(), p.feed.clone().into());
            }
            _ => {}
        }
        if with_body {
            obj.insert("body".into(), p.body.clone().into());
        }
    }
    v
}

fn not_found() -> ApiError {
    ApiError::not_found(V)
}

fn with_body(q: &Query) -> bool {
    q.has_include("body")
}

async fn list(State(st): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V);
    let (page, limit) = q.page_limit(MAX_LIMIT)?;
    let channel = q.int("channel_id")?;
    let ids = q.int_list("id:in")?;
    let name = q.get("name").filter(|s| !s.is_empty());
    let name_like = q.get("name:like").filter(|s| !s.is_empty());
    let body = with_body(&q);
    let data = st.data.read();
    let matching: Vec<&Page> = data
        .pages
        .pages
        .values()
        .filter(|p| {
            channel.is_none_or(|c| p.channel_id == c)
                && ids.as_ref().is_none_or(|ids| ids.contains(&p.id))
                && name.is_none_or(|n| p.name == n)
                && name_like.is_none_or(|n| like(&p.name, n) || like(&p.body, n))
        })
        .collect();
    Ok(paging::v3_offset(&matching, page, limit, &q, |p| {
        render(p, body)
    }))
}

async fn get_one(
    State(st): State<Shared>,
    Path(p): Path<Vec<(String, String)>>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let id = path_id(&p, "page_id", V)?;
    let q = Query::parse(raw.as_deref(), V);
    let data = st.data.read();
    let page = data.pages.pages.get(&id).ok_or_else(not_found)?;
    Ok(paging::v3_single(render(page, with_body(&q))))
}

/// Reads the writable fields of one page onto `p` (defaults on create, the record on
/// update), errors keyed by `prefix`.
fn apply(
    item: &Value,
    prefix: &str,
    p: &mut Page,
    creating: bool,
    errors: &mut Map<String, Value>,
) {
    let mut input = Input::new(item, prefix);
    if creating {
        input.require(&["name", "type"]);
    }
    input.text("name", 1, 100, &mut p.name);
    let before = p.page_type;
    input.choice("type", TYPES, &mut p.page_type);
    if p.page_type == "blog" && before != "blog" {
        input.fail(
            "type",
            "blog pages can only be created in the control panel",
        );
    }
    input.flag("is_visible", &mut p.is_visible);
    input.int("parent_id", 0, i64::from(i32::MAX), &mut p.parent_id);
    input.int(
        "sort_order",
        i64::from(i32::MIN),
        i64::from(i32::MAX),
        &mut p.sort_order,
    );
    input.int("channel_id", 1, i64::from(i32::MAX), &mut p.channel_id);
    input.flag("is_homepage", &mut p.is_homepage);
    input.flag("is_customers_only", &mut p.is_customers_only);
    input.text("meta_title", 0, 255, &mut p.meta_title);
    input.text("meta_keywords", 0, 65_535, &mut p.meta_keywords);
    input.text("meta_description", 0, 65_535, &mut p.meta_description);
    input.text("search_keywords", 0, 65_535, &mut p.search_keywords);
    input.text("url", 0, 255, &mut p.url);
    input.text("body", 0, 16_777_215, &mut p.body);
    input.text("email", 0, 255, &mut p.email);
    input.text("contact_fields", 0, 255, &mut p.contact_fields);
    input.text("link", 0, 2_048, &mut p.link);
    input.text("feed", 0, 2_048, &mut p.feed);
    if input.ok() {
        let missing = match p.page_type {
            "raw" if p.body.is_empty() => Some("body"),
            "link" if p.link.is_empty() => Some("link"),
            "feed" if p.feed.is_empty() => Some("feed"),
            _ => None,
        };
        if let Some(f) = missing {
            input.fail(f, format!("a {} page needs {f}", p.page_type));
        }
        if !p.url.is_empty() && !p.url.starts_with('/') {
            input.fail("url", "url must be a path starting with '/'");
        }
    }
    input.drain_into(errors);
}

/// The body as a list of items, and whether it came as one object.
fn items(body: Value) -> Result<(Vec<Value>, bool), ApiError> {
    match body {
        Value::Array(_) => Ok((crate::body::batch(V, body, MAX_BATCH)?, false)),
        obj @ Value::Object(_) => Ok((vec![obj], true)),
        _ => Err(ApiError::unprocessable(
            V,
            "The body must be a page object or an array of pages.",
        )),
    }
}

/// A page's name clashes with another page of its channel, or with an earlier item.
fn name_taken(data: &PagesData, pages: &[Page], i: usize) -> bool {
    let p = &pages[i];
    let same = |o: &Page| o.channel_id == p.channel_id && o.name.eq_ignore_ascii_case(&p.name);
    data.pages.values().any(|o| o.id != p.id && same(o))
        || pages[..i].iter().any(|o| o.id != p.id && same(o))
}

fn invalid(errors: Map<String, Value>) -> ApiError {
    ApiError::unprocessable(V, "Input is invalid").with_errors(errors)
}

/// The 404 of a write that names a page that does not exist.
fn no_page(id: i64) -> ApiError {
    ApiError::new(
        V,
        StatusCode::NOT_FOUND,
        format!("A Page was not found with an ID of {id}"),
    )
}

/// The error key of `field` in item `i`: bare for a single-object body, `"{i}.{field}"`
/// for an array (an empty `field` gives the item's prefix, `"{i}."`).
fn item_key(single: bool, i: usize, field: &str) -> String {
    if single {
        field.to_owned()
    } else {
        format!("{i}.{field}")
    }
}

/// Applies each item onto its starting page (defaults on create, the record on update)
/// and checks names against the store and the earlier items: the pages to write, or every
/// error at once.
fn apply_all(
    data: &PagesData,
    starts: Vec<(&Value, Page)>,
    single: bool,
    creating: bool,
) -> Result<Vec<Page>, ApiError> {
    let mut errors = Map::new();
    let mut pages = Vec::with_capacity(starts.len());
    for (i, (item, mut p)) in starts.into_iter().enumerate() {
        apply(
            item,
            &item_key(single, i, ""),
            &mut p,
            creating,
            &mut errors,
        );
        pages.push(p);
    }
    for i in 0..pages.len() {
        if name_taken(data, &pages, i) {
            errors.insert(
                item_key(single, i, "name"),
                "a page with this name already exists".into(),
            );
        }
    }
    if errors.is_empty() {
        Ok(pages)
    } else {
        Err(invalid(errors))
    }
}

fn answer(status: StatusCode, pages: Vec<Value>, single: bool) -> axum::response::Response {
    match (single, pages.as_slice()) {
        (true, [one]) => paging::v3_single_status(status, one.clone()),
        _ => paging::v3_batch(status, pages),
    }
}

/// `POST /v3/content/pages`: one page or an array; all or nothing (201).
async fn create(
    State(st): State<Shared>,
    RawQuery(raw): RawQuery,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V);
    let (items, single) = items(body)?;
    let out = st.write(|tx| {
        let starts = items
            .iter()
            .map(|item| {
                let defaults = Page {
                    channel_id: 1,
                    page_type: "page",
                    ..Page::default()
                };
                (item, defaults)
            })
            .collect();
        let pages = apply_all(&tx.data.pages, starts, single, true)?;
        let mut out = Vec::with_capacity(pages.len());
        for mut p in pages {
            p.id = tx.data.pages.next_id();
            if p.url.is_empty() {
                p.url = format!("/{}/", crate::resources::catalog::model::slug(&p.name));
            }
            out.push(render(&p, with_body(&q)));
            tx.data.pages.pages.insert(p.id, p);
            tx.created(Record::Unannounced);
        }
        Ok(out)
    })?;
    Ok(answer(StatusCode::CREATED, out, single))
}

/// Applies updates `(id, body)`; every id must exist, all or nothing.
fn write_updates(
    st: &Shared,
    updates: Vec<(i64, Value)>,
    single: bool,
    body: bool,
) -> Result<Vec<Value>, ApiError> {
    st.write(|tx| {
        let starts = updates
            .iter()
            .map(|(id, item)| {
                let record = tx
                    .data
                    .pages
                    .pages
                    .get(id)
                    .cloned()
                    .ok_or_else(|| no_page(*id))?;
                Ok((item, record))
            })
            .collect::<Result<_, ApiError>>()?;
        let pages = apply_all(&tx.data.pages, starts, single, false)?;
        let mut out = Vec::with_capacity(pages.len());
        for p in pages {
            tx.updated(Record::Unannounced);
            out.push(render(&p, body));
            tx.data.pages.pages.insert(p.id, p);
        }
        Ok(out)
    })
}

/// `PUT /v3/content/pages`: one page or an array, each with its `id`.
async fn update_many(
    State(st): State<Shared>,
    RawQuery(raw): RawQuery,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V);
    let (items, single) = items(body)?;
    let mut updates = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let Some(id) = item.get("id").and_then(Value::as_i64) else {
            return Err(ApiError::unprocessable(V, "Input is invalid")
                .with_error(item_key(single, i, "id"), "missing the required field: id"));
        };
        updates.push((id, item));
    }
    let out = write_updates(&st, updates, single, with_body(&q))?;
    Ok(answer(StatusCode::OK, out, false))
}

/// `PUT /v3/content/pages/{id}`.
async fn update_one(
    State(st): State<Shared>,
    Path(p): Path<Vec<(String, String)>>,
    RawQuery(raw): RawQuery,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let id = path_id(&p, "page_id", V)?;
    let q = Query::parse(raw.as_deref(), V);
    let out = write_updates(&st, vec![(id, body)], true, with_body(&q))?;
    Ok(answer(StatusCode::OK, out, true))
}

async fn delete_one(State(st): State<Shared>, Path(p): Path<Vec<(String, String)>>) -> ApiResult {
    let id = path_id(&p, "page_id", V)?;
    st.write(|tx| {
        if tx.data.pages.pages.remove(&id).is_none() {
            return Err(not_found());
        }
        tx.deleted(Record::Unannounced);
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /v3/content/pages?id:in=`: `id:in` is required (422); the pages that exist are
/// deleted, and an unknown id then answers 404 (docs/api-notes.md §14).
async fn delete_many(State(st): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V);
    let ids = q.required_ids("id:in")?.ok_or_else(|| {
        ApiError::unprocessable(V, "Input is invalid")
            .with_error("id:in", "missing the required field: id")
    })?;
    let missing = st.write(|tx| {
        let mut missing = None;
        for id in &ids {
            if tx.data.pages.pages.remove(id).is_some() {
                tx.deleted(Record::Unannounced);
            } else if missing.is_none() {
                missing = Some(*id);
            }
        }
        Ok(missing)
    })?;
    match missing {
        Some(id) => Err(no_page(id)),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

/// A handful of pages on channel 1 (an about page, a contact form, a raw page, a link),
/// when the store has a catalog at all.
pub fn seed(data: &mut StoreData, spec: &SeedSpec) {
    if spec.products == 0 {
        return;
    }
    let seeds: [(&str, &'static str, &str); 5] = [
        ("About Us", "page", "<p>We sell things people like.</p>"),
        (
            "Shipping & Returns",
            "page",
            "<p>Free returns within 30 days.</p>",
        ),
        ("Contact Us", "contact_form", "<p>Write to us.</p>"),
        (
            "Size Guide",
            "raw",
            "<table><tr><td>S</td><td>M</td></tr></table>",
        ),
        ("Our Blog", "link", ""),
    ];
    let pages = &mut data.pages;
    for (i, (name, page_type, body)) in seeds.into_iter().enumerate() {
        let id = pages.next_id();
        let mut p = Page {
            id,
            channel_id: 1,
            name: name.to_owned(),
            is_visible: true,
            sort_order: i as i64,
            page_type,
            url: format!("/{}/", crate::resources::catalog::model::slug(name)),
            body: body.to_owned(),
            meta_title: name.to_owned(),
            ..Page::default()
        };
        match page_type {
            "contact_form" => {
                p.email = "support@example.com".to_owned();
                p.contact_fields = "fullname,phone,orderno".to_owned();
            }
            "link" => p.link = "https://blog.example.com/".to_owned(),
            _ => {}
        }
        pages.pages.insert(id, p);
    }
}
