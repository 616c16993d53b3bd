//! Brands `/v3/catalog/brands[/{id}]` (docs/api-notes.md §4.3): list with id/name filters and
//! `sort=name`; create needs a unique `name` (409); `DELETE ?name=` needs the name filter;
//! at most 30,000 brands. Brands have no dates and no `date_modified` filter
//! (docs/api-notes.md §12.10). Deleting a brand leaves its products with `brand_id: 0`.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Map, Value};

use super::filters::{FieldSelection, IntFilter, TextFilter, descending, path_id};
use super::input::Input;
use super::model::{Brand, slug};
use super::products::{cmp_ci, conflict, invalid};
use super::{CatalogData, next};
use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult, ApiVersion};
use crate::paging::{v3_offset, v3_single};
use crate::query::Query;
use crate::state::Shared;

const V3: ApiVersion = ApiVersion::V3;
/// docs/api-notes.md §13.3: no stated cap for brands; 250 is the documented cap elsewhere.
const MAX_LIMIT: u32 = 250;
const MAX_BRANDS: usize = 30_000;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/v3/catalog/brands",
            get(list).post(create).delete(delete_by_name),
        )
        .route(
            "/v3/catalog/brands/{id}",
            get(get_one).put(update).delete(delete_one),
        )
}

fn brand_not_found(id: i64) -> ApiError {
    ApiError::new(
        V3,
        StatusCode::NOT_FOUND,
        format!("Brand {id} was not found."),
    )
    .with_errors(Map::new())
}

fn apply_fields(input: &mut Input, b: &mut Brand) {
    input.text("name", 1, 255, &mut b.name);
    input.text("page_title", 0, 255, &mut b.page_title);
    input.texts("meta_keywords", &mut b.meta_keywords);
    input.text("meta_description", 0, 65_535, &mut b.meta_description);
    input.text("image_url", 0, 255, &mut b.image_url);
    input.text("search_keywords", 0, 65_535, &mut b.search_keywords);
    input.custom_url("custom_url", &mut b.url, &mut b.url_customized);
}

/// 409 when another brand has the name (case-insensitive) or the customized URL.
fn check_unique(cat: &CatalogData, b: &Brand) -> Result<(), ApiError> {
    if cat.brand_by_name(&b.name).is_some_and(|id| id != b.id) {
        return Err(conflict(Map::new()).with_error(
            "name",
            format!("The brand name {:?} is a duplicate", b.name),
        ));
    }
    if b.url_customized && cat.brands.values().any(|o| o.id != b.id && o.url == b.url) {
        return Err(conflict(Map::new()).with_error(
            "custom_url",
            format!("The URL {:?} is already in use", b.url),
        ));
    }
    Ok(())
}

async fn list(State(st): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V3);
    let (page, limit) = q.page_limit(MAX_LIMIT)?;
    let id = IntFilter::parse(&q, "id")?;
    let name = TextFilter::parse(&q, "name");
    let page_title = TextFilter::parse(&q, "page_title");
    let desc = descending(&q)?;
    let by_name = match q.get("sort").unwrap_or("") {
        "" | "id" => false,
        "name" => true,
        other => {
            return Err(ApiError::unprocessable(
                V3,
                format!("The sort {other:?} is not supported."),
            )
            .with_error("sort", "must be name"));
        }
    };
    let sel = FieldSelection::parse(&q);
    let data = st.data.read();
    let (lo, hi) = id.range();
    let mut items: Vec<&Brand> = if lo > hi {
        Vec::new()
    } else {
        data.catalog
            .brands
            .range(lo..=hi)
            .map(|(_, b)| b)
            .filter(|b| {
                id.matches(b.id) && name.matches(&b.name) && page_title.matches(&b.page_title)
            })
            .collect()
    };
    if by_name {
        items.sort_by(|a, b| cmp_ci(&a.name, &b.name).then(a.id.cmp(&b.id)));
    }
    if desc {
        items.reverse();
    }
    Ok(v3_offset(&items, page, limit, &q, |b| {
        Value::Object(sel.apply(b.render(), "id"))
    }))
}

async fn get_one(
    State(st): State<Shared>,
    Path((_, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let id = path_id(&id)?;
    let q = Query::parse(raw.as_deref(), V3);
    let sel = FieldSelection::parse(&q);
    let data = st.data.read();
    let b = data
        .catalog
        .brands
        .get(&id)
        .ok_or_else(|| brand_not_found(id))?;
    Ok(v3_single(Value::Object(sel.apply(b.render(), "id"))))
}

async fn create(State(st): State<Shared>, JsonBody(body): JsonBody) -> ApiResult {
    st.write(|tx| {
        let data = &mut *tx.data;
        let cat = &mut data.catalog;
        let mut input = Input::new(&body, "");
        input.require(&["name"]);
        let mut b = Brand::new(0, String::new());
        apply_fields(&mut input, &mut b);
        if !input.ok() {
            return Err(invalid(input.errors));
        }
        if cat.brands.len() >= MAX_BRANDS {
            return Err(
                invalid(Map::new()).with_error("name", "A store can have at most 30,000 brands")
            );
        }
        check_unique(cat, &b)?;
        b.id = next(&mut cat.ids.brand);
        if !b.url_customized {
            b.url = format!("/{}/", slug(&b.name));
        }
        let rendered = b.render();
        cat.insert_brand(b);
        Ok(v3_single(Value::Object(rendered)))
    })
}

async fn update(
    State(st): State<Shared>,
    Path((_, id)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let id = path_id(&id)?;
    st.write(|tx| {
        let data = &mut *tx.data;
        let cat = &mut data.catalog;
        let mut b = cat
            .brands
            .get(&id)
            .cloned()
            .ok_or_else(|| brand_not_found(id))?;
        let mut input = Input::new(&body, "");
        apply_fields(&mut input, &mut b);
        if !input.ok() {
            return Err(invalid(input.errors));
        }
        check_unique(cat, &b)?;
        if let Some(old) = cat.brands.get(&id) {
            let old_key = old.name.to_lowercase();
            cat.brand_names.remove(&old_key);
        }
        let rendered = b.render();
        cat.insert_brand(b);
        Ok(v3_single(Value::Object(rendered)))
    })
}

fn remove_brand(cat: &mut CatalogData, id: i64) -> bool {
    let Some(b) = cat.brands.remove(&id) else {
        return false;
    };
    cat.brand_names.remove(&b.name.to_lowercase());
    for p in cat.products.values_mut() {
        if p.brand_id == id {
            p.brand_id = 0;
        }
    }
    true
}

async fn delete_one(State(st): State<Shared>, Path((_, id)): Path<(String, String)>) -> ApiResult {
    let id = path_id(&id)?;
    st.write(|tx| {
        let data = &mut *tx.data;
        if !remove_brand(&mut data.catalog, id) {
            return Err(brand_not_found(id));
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

/// `DELETE /v3/catalog/brands?name=...` (docs/api-notes.md §4.3): the name filter is required.
async fn delete_by_name(State(st): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let q = Query::parse(raw.as_deref(), V3);
    let Some(name) = q.get("name").filter(|n| !n.is_empty()) else {
        return Err(ApiError::unprocessable(
            V3,
            "The filter name is required to delete brands; nothing was deleted.",
        )
        .with_error("name", "name is required"));
    };
    st.write(|tx| {
        let data = &mut *tx.data;
        let cat = &mut data.catalog;
        if let Some(id) = cat.brand_by_name(name) {
            remove_brand(cat, id);
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}
