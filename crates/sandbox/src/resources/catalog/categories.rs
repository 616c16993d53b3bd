//! Categories, one table behind two APIs (docs/api-notes.md §4.1, §4.2):
//! - legacy `/v3/catalog/categories[/{id}]`, which shows only channel 1's tree: POST needs
//!   `parent_id` and `name`; DELETE needs a filter (422) and refuses categories that
//!   still hold products (422);
//! - `/v3/catalog/trees/categories`, flat and array-bodied: POST answers **201**, PUT
//!   needs `category_id` on each item, DELETE answers **202** and unassigns products.
//!
//! Names are unique among siblings (409), trees are at most 8 levels deep, and neither
//! API has a `date_modified` filter (docs/api-notes.md §4.2, §12.10).

use std::collections::{HashMap, HashSet};

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Map, Value};

use super::filters::{FieldSelection, IntFilter, TextFilter, descending, path_id};
use super::input::{Input, MAX_INT32};
use super::model::{Category, PRODUCT_SORTS};
use super::products::{cmp_ci, conflict, invalid};
use super::{CatalogData, next};
use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult, ApiVersion};
use crate::mutation::Record;
use crate::paging::{v3_batch, v3_offset, v3_single};
use crate::query::Query;
use crate::state::Shared;

const V3: ApiVersion = ApiVersion::V3;
/// docs/api-notes.md §13.3 gives no cap for legacy categories; 250 is the cap of the trees list.
const MAX_LIMIT: u32 = 250;
/// Deepest allowed nesting (docs/api-notes.md §4.1).
const MAX_DEPTH: usize = 8;
const MAX_NAME: usize = 50;
/// Categories per store (docs/api-notes.md §4.1).
const MAX_CATEGORIES: usize = 16_000;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/v3/catalog/categories",
            get(legacy_list).post(legacy_create).delete(legacy_delete),
        )
        .route(
            "/v3/catalog/categories/{id}",
            get(legacy_get).put(legacy_update).delete(legacy_delete_one),
        )
        .route(
            "/v3/catalog/trees/categories",
            get(tree_list)
                .post(tree_create)
                .put(tree_update)
                .delete(tree_delete),
        )
}

fn category_not_found(id: i64) -> ApiError {
    ApiError::new(
        V3,
        StatusCode::NOT_FOUND,
        format!("Category {id} was not found."),
    )
    .with_errors(Map::new())
}

/// Which body shape a write uses: the legacy API calls the URL `custom_url{url}`, the
/// trees API `url{path}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    Legacy,
    Trees,
}

/// Applies the writable category fields present in `input` (not parent or tree).
fn apply_fields(input: &mut Input, c: &mut Category, api: Api) {
    input.text("name", 1, MAX_NAME, &mut c.name);
    input.text("description", 0, 65_535, &mut c.description);
    input.int("views", 0, MAX_INT32, &mut c.views);
    input.int("sort_order", -MAX_INT32 - 1, MAX_INT32, &mut c.sort_order);
    input.text("page_title", 0, 255, &mut c.page_title);
    input.text("search_keywords", 0, 255, &mut c.search_keywords);
    input.texts("meta_keywords", &mut c.meta_keywords);
    input.text("meta_description", 0, 65_535, &mut c.meta_description);
    input.text("layout_file", 0, 500, &mut c.layout_file);
    input.flag("is_visible", &mut c.is_visible);
    input.choice(
        "default_product_sort",
        PRODUCT_SORTS,
        &mut c.default_product_sort,
    );
    input.text("image_url", 0, 255, &mut c.image_url);
    match api {
        Api::Legacy => {
            input.custom_url("custom_url", &mut c.url, &mut c.url_customized);
        }
        Api::Trees => read_tree_url(input, c),
    }
}

/// The trees API's `url: {path, is_customized}`.
fn read_tree_url(input: &mut Input, c: &mut Category) {
    let Some(v) = input.get("url") else { return };
    match v.get("path").and_then(Value::as_str) {
        Some(path) if path.starts_with('/') && path.len() <= 255 && path.is_ascii() => {
            path.clone_into(&mut c.url);
            c.url_customized = v
                .get("is_customized")
                .and_then(Value::as_bool)
                .unwrap_or(true);
        }
        _ => input.fail(
            "url.path",
            "url.path must start with '/', in Latin letters, at most 255 characters",
        ),
    }
}

/// A category write after field validation: the edited or new record, and whether it
/// is new.
struct Draft {
    key: String,
    category: Category,
    is_new: bool,
}

/// Checks a set of drafts against the store as it would be after them
/// (docs/api-notes.md §4.1, §4.2): parents exist in the same tree, no cycles, at most 8 levels
/// (422); names unique among siblings and customized URLs unique in the tree (409).
fn check_drafts(cat: &CatalogData, drafts: &[Draft]) -> Result<(), ApiError> {
    let mut errors = Map::new();
    for d in drafts {
        let c = &d.category;
        if c.parent_id != 0 {
            match cat.categories.get(&c.parent_id) {
                None => {
                    errors.insert(
                        format!("{}parent_id", d.key),
                        format!("Category {} does not exist", c.parent_id).into(),
                    );
                    continue;
                }
                Some(parent) if parent.tree_id != c.tree_id => {
                    errors.insert(
                        format!("{}parent_id", d.key),
                        "The parent category is in another tree".into(),
                    );
                    continue;
                }
                Some(_) => {}
            }
        }
        let (depth, height) = if d.is_new {
            (cat.category_depth(c.parent_id) + 1, 1)
        } else {
            let subtree = cat.with_descendants(&[c.id]);
            if subtree.contains(&c.parent_id) {
                errors.insert(
                    format!("{}parent_id", d.key),
                    "A category cannot move under itself".into(),
                );
                continue;
            }
            let own = cat.category_depth(c.id);
            let height = subtree
                .iter()
                .map(|id| cat.category_depth(*id) + 1 - own)
                .max()
                .unwrap_or(1);
            (cat.category_depth(c.parent_id) + 1, height)
        };
        if depth + height - 1 > MAX_DEPTH {
            errors.insert(
                format!("{}parent_id", d.key),
                "Categories can be at most 8 levels deep".into(),
            );
        }
    }
    if !errors.is_empty() {
        return Err(invalid(errors));
    }

    let edited: HashSet<i64> = drafts.iter().map(|d| d.category.id).collect();
    let mut siblings: HashSet<(i64, i64, String)> = HashSet::new();
    let mut urls: HashSet<(i64, String)> = HashSet::new();
    for c in cat.categories.values().filter(|c| !edited.contains(&c.id)) {
        siblings.insert((c.tree_id, c.parent_id, c.name.to_lowercase()));
        urls.insert((c.tree_id, c.url.clone()));
    }
    let mut conflicts = Map::new();
    for d in drafts {
        let c = &d.category;
        if !siblings.insert((c.tree_id, c.parent_id, c.name.to_lowercase())) {
            conflicts.insert(
                format!("{}name", d.key),
                format!(
                    "The category name {:?} is already used by a sibling category",
                    c.name
                )
                .into(),
            );
        }
        if c.url_customized && !c.url.is_empty() && !urls.insert((c.tree_id, c.url.clone())) {
            conflicts.insert(
                format!("{}url", d.key),
                format!("The URL {:?} is already in use", c.url).into(),
            );
        }
    }
    if !conflicts.is_empty() {
        return Err(conflict(conflicts));
    }
    Ok(())
}

/// Stores checked drafts; new categories get a URL from their path when none was given
/// (numbered when another category of the tree already has it).
fn commit(cat: &mut CatalogData, drafts: Vec<Draft>) -> Vec<i64> {
    let mut ids = Vec::with_capacity(drafts.len());
    for d in drafts {
        let mut c = d.category;
        if c.url.is_empty() {
            let base = cat.category_url(c.parent_id, &c.name);
            let taken = |url: &str| {
                cat.categories
                    .values()
                    .any(|o| o.tree_id == c.tree_id && o.url == url)
            };
            c.url = if taken(&base) {
                format!("{}-{}/", base.trim_end_matches('/'), c.id)
            } else {
                base
            };
        }
        ids.push(c.id);
        cat.categories.insert(c.id, c);
    }
    ids
}

/// Deletes categories (with their descendants) and unassigns them from products; returns
/// the ids deleted.
fn remove(cat: &mut CatalogData, ids: &[i64]) -> Vec<i64> {
    let doomed: HashSet<i64> = cat.with_descendants(ids).into_iter().collect();
    if doomed.is_empty() {
        return Vec::new();
    }
    for id in &doomed {
        cat.categories.remove(id);
    }
    // [UNCERTAIN] whether the API bumps the products' date_modified here; we leave it.
    for p in cat.products.values_mut() {
        if p.categories.iter().any(|c| doomed.contains(c)) {
            p.categories.retain(|c| !doomed.contains(c));
        }
    }
    let mut doomed: Vec<i64> = doomed.into_iter().collect();
    doomed.sort_unstable();
    doomed
}

/// Categories holding products, among `ids` (with descendants).
fn with_products(cat: &CatalogData, ids: &[i64]) -> Vec<i64> {
    let all: HashSet<i64> = cat.with_descendants(ids).into_iter().collect();
    let mut found: HashSet<i64> = HashSet::new();
    for p in cat.products.values() {
        found.extend(p.categories.iter().filter(|c| all.contains(c)));
    }
    let mut found: Vec<i64> = found.into_iter().collect();
    found.sort_unstable();
    found
}

// ---- legacy API -------------------------------------------------------------------

/// Filters of `GET /v3/catalog/categories` (docs/api-notes.md §4.2).
struct LegacyFilter {
    id: IntFilter,
    name: TextFilter,
    parent_id: IntFilter,
    page_title: TextFilter,
    keyword: Option<String>,
    is_visible: Option<bool>,
}

impl LegacyFilter {
    fn parse(q: &Query) -> Result<Self, ApiError> {
        Ok(Self {
            id: IntFilter::parse(q, "id")?,
            name: TextFilter::parse(q, "name"),
            parent_id: IntFilter::parse(q, "parent_id")?,
            page_title: TextFilter::parse(q, "page_title"),
            keyword: q
                .get("keyword")
                .filter(|s| !s.is_empty())
                .map(str::to_lowercase),
            is_visible: q.bool("is_visible")?,
        })
    }

    fn is_set(&self) -> bool {
        self.id.is_set()
            || self.name.is_set()
            || self.parent_id.is_set()
            || self.page_title.is_set()
            || self.keyword.is_some()
            || self.is_visible.is_some()
    }

    fn matches(&self, c: &Category) -> bool {
        self.id.matches(c.id)
            && self.name.matches(&c.name)
            && self.parent_id.matches(c.parent_id)
            && self.page_title.matches(&c.page_title)
            && self.keyword.as_deref().is_none_or(|k| {
                c.name.to_lowercase().contains(k) || c.search_keywords.to_lowercase().contains(k)
            })
            && self.is_visible.is_none_or(|b| b == c.is_visible)
    }

    fn select<'a>(&self, cat: &'a CatalogData, tree_id: Option<i64>) -> Vec<&'a Category> {
        let Some(tree_id) = tree_id else {
            return Vec::new();
        };
        let (lo, hi) = self.id.range();
        if lo > hi {
            return Vec::new();
        }
        cat.categories
            .range(lo..=hi)
            .map(|(_, c)| c)
            .filter(|c| c.tree_id == tree_id && self.matches(c))
            .collect()
    }
}

async fn legacy_list(State(st): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V3);
    let (page, limit) = q.page_limit(MAX_LIMIT)?;
    let filter = LegacyFilter::parse(&q)?;
    let sel = FieldSelection::parse(&q);
    let desc = descending(&q)?;
    let sort = q.get("sort").unwrap_or("id").to_owned();
    let data = st.data.read();
    let cat = &data.catalog;
    let mut items = filter.select(cat, cat.legacy_tree_id());
    let by: fn(&Category, &Category) -> std::cmp::Ordering = match sort.as_str() {
        "" | "id" => |a, b| a.id.cmp(&b.id),
        "name" => |a, b| cmp_ci(&a.name, &b.name),
        "parent_id" => |a, b| a.parent_id.cmp(&b.parent_id),
        "sort_order" => |a, b| a.sort_order.cmp(&b.sort_order),
        other => {
            return Err(ApiError::unprocessable(
                V3,
                format!("The sort {other:?} is not supported."),
            )
            .with_error("sort", "must be one of id, name, parent_id, sort_order"));
        }
    };
    items.sort_by(|a, b| {
        let ord = by(a, b).then(a.id.cmp(&b.id));
        if desc { ord.reverse() } else { ord }
    });
    Ok(v3_offset(&items, page, limit, &q, |c| {
        Value::Object(sel.apply(c.render_legacy(), "id"))
    }))
}

/// The category `id` if it belongs to channel 1's tree (the only one the legacy API sees).
fn legacy_find(cat: &CatalogData, id: i64) -> Result<&Category, ApiError> {
    let tree = cat.legacy_tree_id();
    cat.categories
        .get(&id)
        .filter(|c| Some(c.tree_id) == tree)
        .ok_or_else(|| category_not_found(id))
}

async fn legacy_get(
    State(st): State<Shared>,
    Path((_, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let id = path_id(&id)?;
    let q = Query::parse(raw.as_deref(), V3);
    let sel = FieldSelection::parse(&q);
    let data = st.data.read();
    let c = legacy_find(&data.catalog, id)?;
    Ok(v3_single(Value::Object(sel.apply(c.render_legacy(), "id"))))
}

async fn legacy_create(State(st): State<Shared>, JsonBody(body): JsonBody) -> ApiResult {
    st.write(|tx| {
        let cat = &mut tx.data.catalog;
        let ids = cat.transaction(|cat| {
            let Some(tree_id) = cat.legacy_tree_id() else {
                return Err(
                    invalid(Map::new()).with_error("parent_id", "Channel 1 has no category tree")
                );
            };
            if cat.categories.len() >= MAX_CATEGORIES {
                return Err(invalid(Map::new())
                    .with_error("name", "A store can have at most 16,000 categories"));
            }
            let mut input = Input::new(&body, "");
            input.require(&["name"]);
            let parent_id = input.req_int("parent_id", 0, i64::MAX);
            let mut c = Category::new(0, tree_id, parent_id.unwrap_or(0), String::new());
            apply_fields(&mut input, &mut c, Api::Legacy);
            if !input.ok() {
                return Err(invalid(input.errors));
            }
            c.id = next(&mut cat.ids.category);
            let drafts = vec![Draft {
                key: String::new(),
                category: c,
                is_new: true,
            }];
            check_drafts(cat, &drafts)?;
            Ok(commit(cat, drafts))
        })?;
        let c = ids
            .first()
            .and_then(|id| cat.categories.get(id))
            .ok_or_else(|| category_not_found(0))?;
        let resp = v3_single(Value::Object(c.render_legacy()));
        for id in ids {
            tx.created(Record::Category(id));
        }
        Ok(resp)
    })
}

async fn legacy_update(
    State(st): State<Shared>,
    Path((_, id)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let id = path_id(&id)?;
    st.write(|tx| {
        let cat = &mut tx.data.catalog;
        let mut c = legacy_find(cat, id)?.clone();
        let mut input = Input::new(&body, "");
        input.int("parent_id", 0, i64::MAX, &mut c.parent_id);
        apply_fields(&mut input, &mut c, Api::Legacy);
        if !input.ok() {
            return Err(invalid(input.errors));
        }
        let drafts = vec![Draft {
            key: String::new(),
            category: c,
            is_new: false,
        }];
        check_drafts(cat, &drafts)?;
        commit(cat, drafts);
        let c = legacy_find(cat, id)?;
        let resp = v3_single(Value::Object(c.render_legacy()));
        tx.updated(Record::Category(id));
        Ok(resp)
    })
}

fn refuse_if_in_use(cat: &CatalogData, ids: &[i64]) -> Result<(), ApiError> {
    let used = with_products(cat, ids);
    if used.is_empty() {
        return Ok(());
    }
    let list = used
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    Err(ApiError::unprocessable(
        V3,
        format!("Categories {list} still contain products; move or delete those products first."),
    )
    .with_error("id", format!("categories with products: {list}")))
}

async fn legacy_delete_one(
    State(st): State<Shared>,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult {
    let id = path_id(&id)?;
    st.write(|tx| {
        let cat = &mut tx.data.catalog;
        legacy_find(cat, id)?;
        refuse_if_in_use(cat, &[id])?;
        let doomed = remove(cat, &[id]);
        for id in doomed {
            tx.deleted(Record::Category(id));
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

/// `DELETE /v3/catalog/categories?...` (docs/api-notes.md §4.2): 422 without a filter, 422 when a
/// matched category (or one below it) still holds products.
async fn legacy_delete(State(st): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V3);
    let filter = LegacyFilter::parse(&q)?;
    if !filter.is_set() {
        return Err(ApiError::unprocessable(
            V3,
            "A filter is required to delete categories, e.g. ?id:in=1,2; nothing was deleted.",
        )
        .with_error("id:in", "a filter such as id:in is required"));
    }
    st.write(|tx| {
        let cat = &mut tx.data.catalog;
        let ids: Vec<i64> = filter
            .select(cat, cat.legacy_tree_id())
            .iter()
            .map(|c| c.id)
            .collect();
        refuse_if_in_use(cat, &ids)?;
        let doomed = remove(cat, &ids);
        for id in doomed {
            tx.deleted(Record::Category(id));
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

// ---- trees API --------------------------------------------------------------------

/// Filters of `GET /v3/catalog/trees/categories` (docs/api-notes.md §4.1).
struct TreeFilter {
    category_id: IntFilter,
    category_uuid: TextFilter,
    tree_id: IntFilter,
    parent_id: IntFilter,
    name: TextFilter,
    page_title: TextFilter,
    keyword: Option<String>,
    is_visible: Option<bool>,
}

impl TreeFilter {
    fn parse(q: &Query) -> Result<Self, ApiError> {
        Ok(Self {
            category_id: IntFilter::parse(q, "category_id")?,
            category_uuid: TextFilter::parse(q, "category_uuid"),
            tree_id: IntFilter::parse(q, "tree_id")?,
            parent_id: IntFilter::parse(q, "parent_id")?,
            name: TextFilter::parse(q, "name"),
            page_title: TextFilter::parse(q, "page_title"),
            keyword: q
                .get("keyword")
                .filter(|s| !s.is_empty())
                .map(str::to_lowercase),
            is_visible: q.bool("is_visible")?,
        })
    }

    /// Only the id-like filters select categories to delete.
    fn is_set_for_delete(&self) -> bool {
        self.category_id.is_set()
            || self.category_uuid.is_set()
            || self.tree_id.is_set()
            || self.parent_id.is_set()
    }

    fn matches(&self, c: &Category) -> bool {
        self.category_id.matches(c.id)
            && self.category_uuid.matches(&c.uuid)
            && self.tree_id.matches(c.tree_id)
            && self.parent_id.matches(c.parent_id)
            && self.name.matches(&c.name)
            && self.page_title.matches(&c.page_title)
            && self.keyword.as_deref().is_none_or(|k| {
                c.name.to_lowercase().contains(k) || c.search_keywords.to_lowercase().contains(k)
            })
            && self.is_visible.is_none_or(|b| b == c.is_visible)
    }

    fn select<'a>(&self, cat: &'a CatalogData) -> Vec<&'a Category> {
        let (lo, hi) = self.category_id.range();
        if lo > hi {
            return Vec::new();
        }
        cat.categories
            .range(lo..=hi)
            .map(|(_, c)| c)
            .filter(|c| self.matches(c))
            .collect()
    }
}

async fn tree_list(State(st): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V3);
    let (page, limit) = q.page_limit(MAX_LIMIT)?;
    let filter = TreeFilter::parse(&q)?;
    let sel = FieldSelection::parse(&q);
    let data = st.data.read();
    let items = filter.select(&data.catalog);
    Ok(v3_offset(&items, page, limit, &q, |c| {
        Value::Object(sel.apply(c.render_tree(), "category_id"))
    }))
}

fn array_body(body: Value) -> Result<Vec<Value>, ApiError> {
    match body {
        Value::Array(items) if !items.is_empty() => Ok(items),
        _ => Err(invalid(Map::new()).with_error(
            "body",
            "The request body must be a non-empty array of categories",
        )),
    }
}

/// `POST /v3/catalog/trees/categories`: each item names `tree_id` or `parent_id`.
/// Answers **201** (docs/api-notes.md §0.2, §4.1).
async fn tree_create(State(st): State<Shared>, JsonBody(body): JsonBody) -> ApiResult {
    let items = array_body(body)?;
    st.write(|tx| {
        let cat = &mut tx.data.catalog;
        let ids =
            cat.transaction(|cat| {
                if cat.categories.len() + items.len() > MAX_CATEGORIES {
                    return Err(invalid(Map::new())
                        .with_error("body", "A store can have at most 16,000 categories"));
                }
                let mut errors = Map::new();
                let mut drafts = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let mut input = Input::new(item, &format!("{i}."));
                    input.require(&["name"]);
                    let mut parent_id = 0;
                    let mut tree_id = 0;
                    input.int("parent_id", 0, i64::MAX, &mut parent_id);
                    input.int("tree_id", 1, i64::MAX, &mut tree_id);
                    if parent_id != 0 {
                        match cat.categories.get(&parent_id) {
                            Some(parent) if tree_id == 0 || tree_id == parent.tree_id => {
                                tree_id = parent.tree_id
                            }
                            Some(_) => input
                                .fail("tree_id", "tree_id differs from the parent category's tree"),
                            None => input
                                .fail("parent_id", format!("Category {parent_id} does not exist")),
                        }
                    } else if tree_id == 0 {
                        input.fail("tree_id", "tree_id (or parent_id) is required");
                    } else if !cat.trees.contains_key(&tree_id) {
                        input.fail("tree_id", format!("Tree {tree_id} does not exist"));
                    }
                    let mut c = Category::new(0, tree_id, parent_id, String::new());
                    apply_fields(&mut input, &mut c, Api::Trees);
                    if input.ok() {
                        c.id = next(&mut cat.ids.category);
                        drafts.push(Draft {
                            key: format!("{i}."),
                            category: c,
                            is_new: true,
                        });
                    }
                    input.drain_into(&mut errors);
                }
                if !errors.is_empty() {
                    return Err(invalid(errors));
                }
                check_drafts(cat, &drafts)?;
                Ok(commit(cat, drafts))
            })?;
        let out: Vec<Value> = ids
            .iter()
            .filter_map(|id| cat.categories.get(id))
            .map(|c| Value::Object(c.render_tree()))
            .collect();
        for id in ids {
            tx.created(Record::Category(id));
        }
        Ok(v3_batch(StatusCode::CREATED, out))
    })
}

/// `PUT /v3/catalog/trees/categories`: every item needs `category_id`; a category may
/// move under another parent of its own tree.
async fn tree_update(State(st): State<Shared>, JsonBody(body): JsonBody) -> ApiResult {
    let items = array_body(body)?;
    st.write(|tx| {
        let cat = &mut tx.data.catalog;
        let mut errors = Map::new();
        let mut drafts: Vec<Draft> = Vec::with_capacity(items.len());
        let mut seen: HashMap<i64, usize> = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            let mut input = Input::new(item, &format!("{i}."));
            let Some(id) = input.req_int("category_id", 1, i64::MAX) else {
                input.drain_into(&mut errors);
                continue;
            };
            let Some(existing) = cat.categories.get(&id) else {
                input.fail("category_id", format!("Category {id} does not exist"));
                input.drain_into(&mut errors);
                continue;
            };
            if seen.insert(id, i).is_some() {
                input.fail("category_id", "The same category appears twice");
            }
            let mut c = existing.clone();
            input.int("parent_id", 0, i64::MAX, &mut c.parent_id);
            let mut tree_id = c.tree_id;
            input.int("tree_id", 1, i64::MAX, &mut tree_id);
            if tree_id != c.tree_id {
                input.fail("tree_id", "A category cannot move to another tree");
            }
            apply_fields(&mut input, &mut c, Api::Trees);
            if input.ok() {
                drafts.push(Draft {
                    key: format!("{i}."),
                    category: c,
                    is_new: false,
                });
            }
            input.drain_into(&mut errors);
        }
        if !errors.is_empty() {
            return Err(invalid(errors));
        }
        check_drafts(cat, &drafts)?;
        let ids = commit(cat, drafts);
        let out: Vec<Value> = ids
            .iter()
            .filter_map(|id| cat.categories.get(id))
            .map(|c| Value::Object(c.render_tree()))
            .collect();
        for id in ids {
            tx.updated(Record::Category(id));
        }
        Ok(v3_batch(StatusCode::OK, out))
    })
}

/// `DELETE /v3/catalog/trees/categories?category_id:in=...` answers **202**
/// (docs/api-notes.md §4.1); a filter is required. Products keep existing and lose the deleted
/// categories.
async fn tree_delete(State(st): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V3);
    let filter = TreeFilter::parse(&q)?;
    if !filter.is_set_for_delete() {
        return Err(ApiError::unprocessable(
            V3,
            "A filter (category_id:in, category_uuid:in, tree_id:in or parent_id:in) is required; nothing was deleted.",
        )
        .with_error("category_id:in", "a filter is required"));
    }
    st.write(|tx| {
        let cat = &mut tx.data.catalog;
        let ids: Vec<i64> = filter.select(cat).iter().map(|c| c.id).collect();
        let doomed = remove(cat, &ids);
        for id in doomed {
            tx.deleted(Record::Category(id));
        }
        Ok(StatusCode::ACCEPTED.into_response())
    })
}

/// Removes every category of `tree_id` (a deleted tree takes its categories along);
/// returns the ids deleted.
pub fn remove_tree_categories(cat: &mut CatalogData, tree_id: i64) -> Vec<i64> {
    let ids: Vec<i64> = cat
        .categories
        .values()
        .filter(|c| c.tree_id == tree_id)
        .map(|c| c.id)
        .collect();
    remove(cat, &ids)
}
