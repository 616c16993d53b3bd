//! Category trees (docs/api-notes.md §4.1): `GET/PUT/DELETE /v3/catalog/trees` (upsert batches
//! of 50 at most; `channels` required on create and refused on update; a channel belongs to at
//! most one tree; DELETE needs `id:in`) and the nested `GET /v3/catalog/trees/{id}/categories`.
//! Tree 1 is channel 1's, seeded in every store; the legacy categories API shows it.

use std::collections::{HashMap, HashSet};

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::categories::remove_tree_categories;
use super::filters::{IntFilter, path_id};
use super::input::Input;
use super::model::{Category, Tree};
use super::products::invalid;
use super::{CatalogData, next};
use crate::body::{JsonBody, batch};
use crate::error::{ApiError, ApiResult, ApiVersion};
use crate::mutation::Record;
use crate::paging::{v3_batch, v3_offset};
use crate::query::Query;
use crate::state::Shared;

const V3: ApiVersion = ApiVersion::V3;
const MAX_LIMIT: u32 = 250;
/// Trees per `PUT /v3/catalog/trees` (docs/api-notes.md §4.1).
const MAX_BATCH: usize = 50;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/v3/catalog/trees", get(list).put(upsert).delete(delete))
        .route("/v3/catalog/trees/{tree_id}/categories", get(nested))
}

async fn list(State(st): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V3);
    let (page, limit) = q.page_limit(MAX_LIMIT)?;
    let id = IntFilter::parse(&q, "id")?;
    let channel = IntFilter::parse(&q, "channel_id")?;
    let data = st.data.read();
    let items: Vec<&Tree> = data
        .catalog
        .trees
        .values()
        .filter(|t| id.matches(t.id))
        .filter(|t| !channel.is_set() || t.channels.iter().any(|c| channel.matches(*c)))
        .collect();
    Ok(v3_offset(&items, page, limit, &q, |t| t.render()))
}

/// Upsert (docs/api-notes.md §4.1): an item with `id` renames that tree and must not carry
/// `channels`; one without creates a tree and needs `name` and `channels`.
async fn upsert(State(st): State<Shared>, JsonBody(body): JsonBody) -> ApiResult {
    let items = batch(V3, body, MAX_BATCH)?;
    st.write(|tx| {
        let data = &mut *tx.data;
        let cat = &mut data.catalog;
        let ids = cat.transaction(|cat| upsert_trees(cat, &items))?;
        let out = ids
            .iter()
            .filter_map(|id| cat.trees.get(id))
            .map(Tree::render);
        Ok(v3_batch(StatusCode::OK, out.collect()))
    })
}

fn upsert_trees(cat: &mut CatalogData, items: &[Value]) -> Result<Vec<i64>, ApiError> {
    let mut errors = Map::new();
    let mut trees: Vec<Tree> = Vec::with_capacity(items.len());
    // Channel → tree, as it will be after this request.
    let mut channel_owner: HashMap<i64, i64> = cat
        .trees
        .values()
        .flat_map(|t| t.channels.iter().map(move |c| (*c, t.id)))
        .collect();
    let mut seen = HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let mut input = Input::new(item, &format!("{i}."));
        match item.get("id").and_then(Value::as_i64) {
            Some(id) => {
                let Some(existing) = cat.trees.get(&id) else {
                    input.fail("id", format!("Tree {id} does not exist"));
                    input.drain_into(&mut errors);
                    continue;
                };
                if !seen.insert(id) {
                    input.fail("id", "The same tree appears twice");
                }
                if input.has("channels") {
                    input.fail(
                        "channels",
                        "channels can only be set when a tree is created",
                    );
                }
                let mut tree = existing.clone();
                input.text("name", 1, 255, &mut tree.name);
                trees.push(tree);
            }
            None => {
                input.require(&["name", "channels"]);
                let mut tree = Tree {
                    id: 0,
                    name: String::new(),
                    channels: Vec::new(),
                };
                input.text("name", 1, 255, &mut tree.name);
                input.ints("channels", &mut tree.channels);
                if input.has("channels") && tree.channels.len() != 1 && input.ok() {
                    input.fail("channels", "A tree belongs to exactly one channel");
                }
                if input.ok() {
                    tree.id = next(&mut cat.ids.tree);
                    for c in &tree.channels {
                        if let Some(owner) = channel_owner.insert(*c, tree.id) {
                            input.fail("channels", format!("Channel {c} already has tree {owner}"));
                        }
                    }
                }
                trees.push(tree);
            }
        }
        input.drain_into(&mut errors);
    }
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    let ids = trees.iter().map(|t| t.id).collect();
    for t in trees {
        cat.trees.insert(t.id, t);
    }
    Ok(ids)
}

/// `DELETE /v3/catalog/trees?id:in=` (docs/api-notes.md §4.1): the filter is required; a deleted
/// tree takes its categories along.
async fn delete(State(st): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V3);
    let Some(ids) = q.int_list("id:in")?.filter(|ids| !ids.is_empty()) else {
        return Err(ApiError::unprocessable(
            V3,
            "The filter id:in is required to delete trees; nothing was deleted.",
        )
        .with_error("id:in", "id:in is required"));
    };
    st.write(|tx| {
        let mut doomed = Vec::new();
        for id in ids {
            if tx.data.catalog.trees.remove(&id).is_some() {
                doomed.extend(remove_tree_categories(&mut tx.data.catalog, id));
            }
        }
        for id in doomed {
            tx.deleted(Record::Category(id));
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

/// The tree as nested nodes `{id, parent_id, depth, path, name, is_visible, url,
/// children}`, cut at `depth` levels when given.
async fn nested(
    State(st): State<Shared>,
    Path((_, tree_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let tree_id = path_id(&tree_id)?;
    let q = Query::parse(raw.as_deref(), V3);
    let max_depth = match q.int("depth")? {
        Some(d) if d < 1 => {
            return Err(ApiError::bad_request(
                V3,
                "The parameter 'depth' must be 1 or more.",
            ));
        }
        Some(d) => d as usize,
        None => usize::MAX,
    };
    let roots = q.int_list("category_id:in")?;
    let data = st.data.read();
    let cat = &data.catalog;
    if !cat.trees.contains_key(&tree_id) {
        return Err(ApiError::new(
            V3,
            StatusCode::NOT_FOUND,
            format!("Tree {tree_id} was not found."),
        )
        .with_errors(Map::new()));
    }
    let mut children: HashMap<i64, Vec<&Category>> = HashMap::new();
    for c in cat.categories.values().filter(|c| c.tree_id == tree_id) {
        children.entry(c.parent_id).or_default().push(c);
    }
    for list in children.values_mut() {
        list.sort_by_key(|c| (c.sort_order, c.id));
    }
    let top: Vec<&Category> = match &roots {
        Some(ids) => ids
            .iter()
            .filter_map(|id| cat.categories.get(id))
            .filter(|c| c.tree_id == tree_id)
            .collect(),
        None => children.get(&0).cloned().unwrap_or_default(),
    };
    let data: Vec<Value> = top
        .iter()
        .map(|c| {
            let depth = cat.category_depth(c.id);
            let path = ancestors(cat, c);
            node(
                c,
                &children,
                depth,
                path,
                max_depth.saturating_add(depth.saturating_sub(1)),
            )
        })
        .collect();
    Ok((
        StatusCode::OK,
        axum::Json(json!({ "data": data, "meta": {} })),
    )
        .into_response())
}

fn ancestors(cat: &CatalogData, c: &Category) -> Vec<i64> {
    let mut path = Vec::new();
    let mut cur = c.parent_id;
    while let Some(p) = cat.categories.get(&cur) {
        path.push(p.id);
        cur = p.parent_id;
        if path.len() > 16 {
            break;
        }
    }
    path.reverse();
    path
}

fn node(
    c: &Category,
    children: &HashMap<i64, Vec<&Category>>,
    depth: usize,
    path: Vec<i64>,
    last: usize,
) -> Value {
    let kids: Vec<Value> = if depth < last {
        let mut child_path = path.clone();
        child_path.push(c.id);
        children
            .get(&c.id)
            .map(|list| {
                list.iter()
                    .map(|k| node(k, children, depth + 1, child_path.clone(), last))
                    .collect()
            })
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    json!({
        "id": c.id,
        "parent_id": c.parent_id,
        "depth": depth,
        "path": path,
        "name": c.name,
        "is_visible": c.is_visible,
        "url": c.url,
        "children": kids,
    })
}
